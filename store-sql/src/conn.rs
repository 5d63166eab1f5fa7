//! What a driver does on one connection, and everything a SQL store reads and writes, written
//! once over it.
//!
//! A store crate implements [`SqlConn`] for a connection of its driver (run a statement, read
//! the rows of each kind, read one value), and [`SqlWrite`] for its write transaction (how it
//! commits and rolls back). Everything else is here: every [`WriteTx`] is a [`SqlWrite`]
//! (the blanket impl below), and the reads of an [`Engine`](crate::engine::Engine)
//! ([`read_rows`], [`read_change_rows`], [`read_listing_rows`], [`read_revision`],
//! [`read_site_domain`], [`read_events`]) run on any [`SqlConn`], and so does the last step of
//! `migrate()` ([`ensure_rows`]). The statements are
//! [`Statements`] in the connection's dialect, each bound with its parameter list, so every
//! store and backend sends the same SQL.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use maintenance_core::store::{DEFAULT_SITE_DOMAIN, DEFAULT_SITE_NAME};
use maintenance_core::{Event, SiteQuery, SiteState, StoreError};

use crate::bulk::{self, CHUNK};
use crate::engine::{ChangeRows, MAX_CHANGED_SITES, NewEvent, SiteKey, WriteTx};
use crate::listing::{self, Bind};
use crate::rows::{NetworkRow, PathRow, Rows, SiteRow};
use crate::statements::{
    Param, Statements, event_params, insert_site_params, update_site_params, upsert_site_params,
};

/// One connection of a driver (or a transaction on one): statements with their parameters,
/// and their rows read into the store's rows. A row that cannot be read is logged with its
/// table and id and skipped, as the driver can tell.
#[async_trait]
pub trait SqlConn: Send {
    /// The statements in this connection's dialect.
    fn statements(&self) -> &'static Statements;
    /// Runs `sql` with `params`, in order.
    async fn execute(&mut self, sql: &str, params: &[Param<'_>]) -> Result<(), StoreError>;
    /// The site rows `sql` selects ([`crate::statements::site_columns`]).
    async fn sites(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Vec<SiteRow>, StoreError>;
    /// The ignored-path rows `sql` selects.
    async fn paths(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Vec<PathRow>, StoreError>;
    /// The allowed-network rows `sql` selects.
    async fn networks(
        &mut self,
        sql: &str,
        params: &[Param<'_>],
    ) -> Result<Vec<NetworkRow>, StoreError>;
    /// The audit events `sql` selects.
    async fn events(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Event>, StoreError>;
    /// The `(site_id, removed)` pairs `sql` selects from `maintenance_site_changes`.
    async fn changes(
        &mut self,
        sql: &str,
        params: &[Param<'_>],
    ) -> Result<Vec<(i64, bool)>, StoreError>;
    /// The integer column `value` of the first row `sql` selects, if there is a row.
    async fn int(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Option<i64>, StoreError>;
    /// The text column `value` of the first row `sql` selects, if there is a row.
    async fn text(&mut self, sql: &str, params: &[Param<'_>])
    -> Result<Option<String>, StoreError>;
}

/// A write transaction of a driver: a [`SqlConn`] that ends by committing or rolling back.
/// Each is a [`WriteTx`] through the blanket impl below.
#[async_trait]
pub trait SqlWrite: SqlConn {
    /// Commits the transaction.
    async fn commit(self: Box<Self>) -> Result<(), StoreError>;
    /// Rolls the transaction back.
    async fn rollback(self: Box<Self>) -> Result<(), StoreError>;
}

/// The parameters of a statement that takes the ids `ids`, one each.
fn ids(ids: &[i64]) -> Vec<Param<'static>> {
    ids.iter().map(|id| Param::Int(*id)).collect()
}

#[async_trait]
impl<T: SqlWrite> WriteTx for T {
    async fn bump_revision(&mut self) -> Result<Option<i64>, StoreError> {
        let s = self.statements();
        // The update locks the row until commit: writers queue here.
        match &s.bump_revision_returning {
            Some(sql) => self.int(sql, &[]).await,
            None => {
                self.execute(&s.bump_revision, &[]).await?;
                self.int(&s.select_revision, &[]).await
            }
        }
    }

    async fn record_change(
        &mut self,
        site_id: i64,
        revision: i64,
        removed: bool,
    ) -> Result<(), StoreError> {
        let params = [
            Param::Int(site_id),
            Param::Int(revision),
            Param::Bool(removed),
        ];
        self.execute(&self.statements().record_change, &params)
            .await
    }

    async fn site_row(&mut self, key: &SiteKey) -> Result<Option<SiteRow>, StoreError> {
        let s = self.statements();
        let rows = match key {
            SiteKey::Default => self.sites(&s.select_default_site, &[]).await?,
            SiteKey::Domain(d) => {
                self.sites(&s.select_site_by_domain, &[Param::Text(d)])
                    .await?
            }
        };
        Ok(rows.into_iter().next())
    }

    async fn path_rows(&mut self, site_id: i64) -> Result<Vec<PathRow>, StoreError> {
        self.paths(&self.statements().select_site_paths, &[Param::Int(site_id)])
            .await
    }

    async fn network_rows(&mut self, site_id: i64) -> Result<Vec<NetworkRow>, StoreError> {
        self.networks(
            &self.statements().select_site_networks,
            &[Param::Int(site_id)],
        )
        .await
    }

    /// Inserts the site, then reads its id back by its domain (unique), the same on every
    /// backend.
    async fn insert_site(&mut self, site: &SiteState) -> Result<i64, StoreError> {
        let s = self.statements();
        self.execute(&s.insert_site, &insert_site_params(site))
            .await?;
        self.int(&s.select_site_id, &[Param::Text(&site.domain)])
            .await?
            .ok_or_else(|| StoreError::UnknownSite(site.domain.clone()))
    }

    async fn delete_site(&mut self, site_id: i64) -> Result<(), StoreError> {
        let s = self.statements();
        // Children first, so this does not depend on ON DELETE CASCADE (SQLite applies it only
        // with foreign keys on, which a pool made elsewhere may have turned off).
        for sql in [
            &s.delete_site_paths,
            &s.delete_site_networks,
            &s.delete_site_tags,
            &s.delete_site,
        ] {
            self.execute(sql, &[Param::Int(site_id)]).await?;
        }
        Ok(())
    }

    async fn update_site(&mut self, site: &SiteState) -> Result<(), StoreError> {
        self.execute(&self.statements().update_site, &update_site_params(site))
            .await
    }

    async fn write_scope(
        &mut self,
        site_id: i64,
        patterns: Option<&str>,
    ) -> Result<(), StoreError> {
        self.write_scopes(&[site_id], patterns).await
    }

    /// The scope rows of `site_ids` are replaced by ones holding `patterns`, or deleted with
    /// `None`.
    async fn write_scopes(
        &mut self,
        site_ids: &[i64],
        patterns: Option<&str>,
    ) -> Result<(), StoreError> {
        if site_ids.is_empty() {
            return Ok(());
        }
        let placeholder = self.statements().dialect.placeholder();
        let sql = bulk::delete_scopes_sql(site_ids.len(), placeholder);
        self.execute(&sql, &ids(site_ids)).await?;
        let Some(patterns) = patterns else {
            return Ok(());
        };
        let sql = bulk::insert_scopes_sql(site_ids.len(), placeholder);
        let params: Vec<Param<'_>> = site_ids
            .iter()
            .flat_map(|id| [Param::Int(*id), Param::Text(patterns)])
            .collect();
        self.execute(&sql, &params).await
    }

    async fn touch_site(
        &mut self,
        site_id: i64,
        at: DateTime<Utc>,
        by: &str,
    ) -> Result<(), StoreError> {
        let params = [Param::Time(at), Param::Text(by), Param::Int(site_id)];
        self.execute(&self.statements().touch_site, &params).await
    }

    async fn insert_path(
        &mut self,
        site_id: i64,
        pattern: &str,
        description: &str,
    ) -> Result<(), StoreError> {
        let params = [
            Param::Int(site_id),
            Param::Text(pattern),
            Param::Text(description),
        ];
        self.execute(&self.statements().insert_path, &params).await
    }

    async fn update_path(&mut self, id: i64, description: &str) -> Result<(), StoreError> {
        let params = [Param::Text(description), Param::Int(id)];
        self.execute(&self.statements().update_path, &params).await
    }

    async fn delete_path(&mut self, id: i64) -> Result<(), StoreError> {
        self.execute(&self.statements().delete_path, &[Param::Int(id)])
            .await
    }

    async fn insert_network(
        &mut self,
        site_id: i64,
        cidr: &str,
        description: &str,
    ) -> Result<(), StoreError> {
        let params = [
            Param::Int(site_id),
            Param::Text(cidr),
            Param::Text(description),
        ];
        self.execute(&self.statements().insert_network, &params)
            .await
    }

    async fn update_network(&mut self, id: i64, description: &str) -> Result<(), StoreError> {
        let params = [Param::Text(description), Param::Int(id)];
        self.execute(&self.statements().update_network, &params)
            .await
    }

    async fn delete_network(&mut self, id: i64) -> Result<(), StoreError> {
        self.execute(&self.statements().delete_network, &[Param::Int(id)])
            .await
    }

    async fn insert_tag(&mut self, site_id: i64, tag: &str) -> Result<(), StoreError> {
        let params = [Param::Int(site_id), Param::Text(tag)];
        self.execute(&self.statements().insert_tag, &params).await
    }

    async fn delete_tag(&mut self, site_id: i64, tag: &str) -> Result<(), StoreError> {
        let params = [Param::Int(site_id), Param::Text(tag)];
        self.execute(&self.statements().delete_tag, &params).await
    }

    async fn tagged_site_rows(&mut self, tags: &[String]) -> Result<Vec<SiteRow>, StoreError> {
        if tags.is_empty() {
            return Ok(Vec::new());
        }
        let sql = self.statements().select_sites_tagged(tags.len());
        let params: Vec<Param<'_>> = tags.iter().map(|t| Param::Text(t)).collect();
        self.sites(&sql, &params).await
    }

    async fn insert_event(&mut self, event: &NewEvent<'_>) -> Result<(), StoreError> {
        self.insert_events(std::slice::from_ref(event)).await
    }

    async fn commit(self: Box<Self>) -> Result<(), StoreError> {
        SqlWrite::commit(self).await
    }

    async fn rollback(self: Box<Self>) -> Result<(), StoreError> {
        SqlWrite::rollback(self).await
    }

    async fn all_site_rows(&mut self) -> Result<Vec<SiteRow>, StoreError> {
        self.sites(&self.statements().select_sites, &[]).await
    }

    async fn path_rows_of(&mut self, site_ids: &[i64]) -> Result<Vec<PathRow>, StoreError> {
        if site_ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = self.statements().select_paths_in(site_ids.len());
        self.paths(&sql, &ids(site_ids)).await
    }

    async fn network_rows_of(&mut self, site_ids: &[i64]) -> Result<Vec<NetworkRow>, StoreError> {
        if site_ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = self.statements().select_networks_in(site_ids.len());
        self.networks(&sql, &ids(site_ids)).await
    }

    /// The one place sites are written in bulk: one value per
    /// [`bulk::SITE_WRITE_COLUMNS`] entry, in that order.
    async fn update_sites(&mut self, sites: &[SiteState]) -> Result<(), StoreError> {
        if sites.is_empty() {
            return Ok(());
        }
        let dialect = self.statements().dialect;
        let sql = bulk::upsert_sites_sql(
            sites.len(),
            dialect.placeholder(),
            dialect.on_duplicate_key(),
        );
        let params: Vec<Param<'_>> = sites.iter().flat_map(upsert_site_params).collect();
        self.execute(&sql, &params).await
    }

    async fn record_changes(&mut self, site_ids: &[i64], revision: i64) -> Result<(), StoreError> {
        if site_ids.is_empty() {
            return Ok(());
        }
        let dialect = self.statements().dialect;
        let sql = bulk::record_changes_sql(
            site_ids.len(),
            dialect.placeholder(),
            dialect.on_duplicate_key(),
        );
        let params: Vec<Param<'_>> = site_ids
            .iter()
            .flat_map(|id| [Param::Int(*id), Param::Int(revision)])
            .collect();
        self.execute(&sql, &params).await
    }

    /// One value per [`bulk::EVENT_COLUMNS`] entry, in that order.
    async fn insert_events(&mut self, events: &[NewEvent<'_>]) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        let placeholder = self.statements().dialect.placeholder();
        let sql = bulk::insert_events_sql(events.len(), placeholder);
        let params: Vec<Param<'_>> = events.iter().flat_map(event_params).collect();
        self.execute(&sql, &params).await
    }
}

/// The revision, if its row is there.
pub async fn read_revision(c: &mut (dyn SqlConn + '_)) -> Result<Option<i64>, StoreError> {
    let sql = &c.statements().select_revision;
    c.int(sql, &[]).await
}

/// The revision and every row (in a transaction the caller opened, for one consistent state).
pub async fn read_rows(c: &mut (dyn SqlConn + '_)) -> Result<Rows, StoreError> {
    let s = c.statements();
    Ok(Rows {
        revision: read_revision(c).await?,
        sites: c.sites(&s.select_sites, &[]).await?,
        paths: c.paths(&s.select_paths, &[]).await?,
        networks: c.networks(&s.select_networks, &[]).await?,
    })
}

/// The site, path and network rows of the sites `ids` (any number, read [`CHUNK`] at a time),
/// each in id order.
pub async fn rows_of_sites(
    c: &mut (dyn SqlConn + '_),
    site_ids: &[i64],
) -> Result<Rows, StoreError> {
    let s = c.statements();
    let mut rows = Rows::default();
    for chunk in site_ids.chunks(CHUNK) {
        let n = chunk.len();
        let params = ids(chunk);
        rows.sites
            .extend(c.sites(&s.select_sites_in(n), &params).await?);
        rows.paths
            .extend(c.paths(&s.select_paths_in(n), &params).await?);
        rows.networks
            .extend(c.networks(&s.select_networks_in(n), &params).await?);
    }
    rows.sites.sort_by_key(|r| r.id);
    rows.paths.sort_by_key(|r| r.id);
    rows.networks.sort_by_key(|r| r.id);
    Ok(rows)
}

/// The revision, the sites recorded as changed after `since`, and the rows of those sites by
/// id (indexed lookups, whatever the table statistics say), in a transaction the caller
/// opened. `None` when more sites changed than reading them one by one is worth
/// ([`MAX_CHANGED_SITES`]): the handle then reads everything.
pub async fn read_change_rows(
    c: &mut (dyn SqlConn + '_),
    since: i64,
) -> Result<Option<ChangeRows>, StoreError> {
    let revision = read_revision(c).await?;
    let sql = &c.statements().select_changes_since;
    let recorded = c.changes(sql, &[Param::Int(since)]).await?;
    if recorded.len() > MAX_CHANGED_SITES {
        return Ok(None);
    }
    let site_ids: Vec<i64> = recorded.iter().map(|(id, _)| *id).collect();
    let rows = rows_of_sites(c, &site_ids).await?;
    Ok(Some(ChangeRows {
        rows: Rows { revision, ..rows },
        recorded,
    }))
}

/// The page `query` selects, its sites in listing order with their rows, and how many sites
/// match in all, in a transaction the caller opened.
pub async fn read_listing_rows(
    c: &mut (dyn SqlConn + '_),
    query: &SiteQuery,
) -> Result<(u64, Rows), StoreError> {
    let s = c.statements();
    let dialect = s.dialect;
    let sql = listing::listing_sql(query, dialect, dialect.placeholder());
    let params: Vec<Param<'_>> = sql
        .binds
        .iter()
        .map(|bind| match bind {
            Bind::Text(text) => Param::Text(text),
            Bind::Time(t) => Param::Time(*t),
        })
        .collect();
    let total = c.int(&sql.count_sql(), &params).await?.unwrap_or(0);
    let sites = c.sites(&sql.page_sql(&s.site_columns), &params).await?;
    let site_ids: Vec<i64> = sites.iter().map(|s| s.id).collect();
    let of_sites = rows_of_sites(c, &site_ids).await?;
    Ok((
        u64::try_from(total).unwrap_or(0),
        Rows {
            revision: None,
            // In listing order, as the page statement gave them.
            sites,
            paths: of_sites.paths,
            networks: of_sites.networks,
        },
    ))
}

/// The domain of a site, if it exists.
pub async fn read_site_domain(
    c: &mut (dyn SqlConn + '_),
    key: &SiteKey,
) -> Result<Option<String>, StoreError> {
    let s = c.statements();
    match key {
        SiteKey::Default => c.text(&s.select_default_domain, &[]).await,
        SiteKey::Domain(d) => c.text(&s.select_domain, &[Param::Text(d)]).await,
    }
}

/// The newest events first, of one domain or of all.
pub async fn read_events(
    c: &mut (dyn SqlConn + '_),
    domain: Option<&str>,
    limit: i64,
) -> Result<Vec<Event>, StoreError> {
    let s = c.statements();
    match domain {
        Some(d) => {
            let params = [Param::Text(d), Param::Int(limit)];
            c.events(&s.select_site_events, &params).await
        }
        None => c.events(&s.select_events, &[Param::Int(limit)]).await,
    }
}

/// The revision row and the default site, when missing (a fresh database, or rows deleted by
/// hand); a default site added bumps the revision, so servers read it. For `migrate()`: run
/// under the migration lock, in a transaction the caller opened, so that checking first cannot
/// race another server.
pub async fn ensure_rows(c: &mut (dyn SqlConn + '_)) -> Result<(), StoreError> {
    let s = c.statements();
    c.execute(&s.ensure_revision, &[]).await?;
    if c.int(&s.count_default_sites, &[]).await?.unwrap_or(0) > 0 {
        return Ok(());
    }
    let params = [
        Param::Text(DEFAULT_SITE_DOMAIN),
        Param::Text(DEFAULT_SITE_NAME),
    ];
    c.execute(&s.insert_default_site, &params).await?;
    // Nothing was added when a site that is not the default holds the domain.
    if c.int(&s.count_default_sites, &[]).await?.unwrap_or(0) > 0 {
        c.execute(&s.bump_revision, &[]).await?;
    }
    Ok(())
}
