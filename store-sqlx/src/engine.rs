//! The store on every sqlx backend, written once: [`Sql`] runs the reads and opens writes,
//! [`Write`] is one write transaction, both over [`Driver`], which says what differs.
//!
//! The statements are maintenance-sql's ([`Statements`]), spelt for the backend's dialect and
//! bound in the same order everywhere; the steps of each write (validate, lock, change,
//! audit, commit) are maintenance-sql's too ([`maintenance_sql::engine`]). What a backend
//! brings is in its [`Driver`] impl: how it opens its transactions, how it binds a
//! timestamp, and its change feed, if it has one.
//!
//! sqlx states what a backend can bind, decode and run queries on as bounds on its types; the
//! impls here repeat them (the `where` clauses), and a backend that lacks one is refused by the
//! compiler at its store's type.

use std::future::Future;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use maintenance_core::store::ChangeFeed;
use maintenance_core::{Event, SiteQuery, SiteState, StoreError};
use maintenance_sql::bulk::{self, CHUNK};
use maintenance_sql::engine::{ChangeRows, MAX_CHANGED_SITES};
use maintenance_sql::listing::{self, Bind, Dialect};
use maintenance_sql::statements::{
    Param, SITE_COLUMNS, Statements, event_params, insert_site_params, update_site_params,
    upsert_site_params,
};
use sqlx::pool::PoolConnection;
use sqlx::{AssertSqlSafe, Encode, Executor, Pool, Transaction, Type};

use crate::common::{
    NetworkRow, NewEvent, PathRow, RowExt, Rows, SiteKey, SiteRow, db, decode_all, decode_event,
    decode_network, decode_path, decode_site, fetch_decoded,
};

/// What a sqlx database brings to the store: its dialect, its transactions, its timestamps.
pub(crate) trait Driver: sqlx::Database<Arguments: sqlx::IntoArguments<Self>> {
    /// The SQL dialect its statements are written in.
    const DIALECT: Dialect;
    /// How a timestamp is bound.
    type Time: Send + Sync + 'static;

    /// A timestamp as it is bound.
    fn time(t: DateTime<Utc>) -> Self::Time;

    /// Opens a write transaction. Writers then queue on the revision row, which every write
    /// updates first.
    fn begin_write(
        pool: &Pool<Self>,
    ) -> impl Future<Output = Result<Transaction<'static, Self>, sqlx::Error>> + Send;

    /// Opens, on `conn`, the transaction of a read that must see one consistent state
    /// (a whole load, the changes since a revision, a listing page and its count).
    fn begin_read(
        conn: &mut PoolConnection<Self>,
    ) -> impl Future<Output = Result<Transaction<'_, Self>, sqlx::Error>> + Send;

    /// The backend's change feed; `None` (the default) when handles poll.
    fn change_feed(
        pool: &Pool<Self>,
    ) -> impl Future<Output = Result<Option<ChangeFeed>, StoreError>> + Send {
        let _ = pool;
        async { Ok(None) }
    }
}

/// The reads of a store on backend `B`, and how it opens its writes: the
/// [`Engine`](maintenance_sql::engine::Engine) of the public store types.
pub(crate) struct Sql<B: Driver> {
    pub(crate) pool: Pool<B>,
}

impl<B: Driver> Clone for Sql<B> {
    fn clone(&self) -> Self {
        Sql {
            pool: self.pool.clone(),
        }
    }
}

impl<B: Driver> std::fmt::Debug for Sql<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sql").field("pool", &self.pool).finish()
    }
}

impl<B: Driver> Sql<B> {
    pub(crate) fn new(pool: Pool<B>) -> Self {
        Sql { pool }
    }

    fn statements() -> &'static Statements {
        Statements::of(B::DIALECT)
    }
}

/// One write transaction on backend `B`; dropping it without a commit rolls it back.
pub(crate) struct Write<B: Driver> {
    tx: Transaction<'static, B>,
}

/// The rows of `sql` (whose parameters are `ids`), decoded as `decode` reads each, the ones
/// that cannot be read logged and skipped.
async fn rows_of<B, T>(
    conn: &mut B::Connection,
    sql: String,
    ids: &[i64],
    table: &'static str,
    decode: impl Fn(&B::Row) -> Result<T, sqlx::Error>,
) -> Result<Vec<T>, sqlx::Error>
where
    B: Driver,
    for<'c> &'c mut B::Connection: Executor<'c, Database = B>,
    B::Row: RowExt,
    for<'a> i64: Encode<'a, B> + Type<B>,
{
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for id in ids {
        query = query.bind(*id);
    }
    let rows = query.fetch_all(&mut *conn).await?;
    Ok(decode_all(table, &rows, decode))
}

/// The site, path and network rows of the sites `ids` (any number, read [`CHUNK`] at a time),
/// each in id order.
async fn rows_of_sites<B>(conn: &mut B::Connection, ids: &[i64]) -> Result<Rows, sqlx::Error>
where
    B: Driver,
    for<'c> &'c mut B::Connection: Executor<'c, Database = B>,
    B::Row: RowExt,
    for<'a> i64: Encode<'a, B> + Type<B>,
{
    let s = Statements::of(B::DIALECT);
    let mut rows = Rows::default();
    for chunk in ids.chunks(CHUNK) {
        let n = chunk.len();
        let sites = s.select_sites_in(n);
        rows.sites
            .extend(rows_of::<B, _>(conn, sites, chunk, "maintenance_sites", decode_site).await?);
        let paths = s.select_paths_in(n);
        rows.paths.extend(
            rows_of::<B, _>(conn, paths, chunk, "maintenance_ignored_paths", decode_path).await?,
        );
        let networks = s.select_networks_in(n);
        let table = "maintenance_allowed_networks";
        rows.networks
            .extend(rows_of::<B, _>(conn, networks, chunk, table, decode_network).await?);
    }
    rows.sites.sort_by_key(|r| r.id);
    rows.paths.sort_by_key(|r| r.id);
    rows.networks.sort_by_key(|r| r.id);
    Ok(rows)
}

/// Binds `bind` to a listing statement.
fn bind_listing<'q, B>(
    query: sqlx::query::Query<'q, B, B::Arguments>,
    bind: &Bind,
) -> sqlx::query::Query<'q, B, B::Arguments>
where
    B: Driver,
    for<'a> &'a str: Encode<'a, B> + Type<B>,
    for<'a> B::Time: Encode<'a, B> + Type<B>,
{
    match bind {
        Bind::Text(text) => query.bind(text.as_str()),
        Bind::Time(t) => query.bind(B::time(*t)),
    }
}

/// `query` with `params` bound, in order, each as this backend takes it.
fn bind_all<'q, 'p, B>(
    query: sqlx::query::Query<'q, B, B::Arguments>,
    params: impl IntoIterator<Item = Param<'p>>,
) -> sqlx::query::Query<'q, B, B::Arguments>
where
    B: Driver,
    for<'a> &'a str: Encode<'a, B> + Type<B>,
    for<'a> Option<&'a str>: Encode<'a, B> + Type<B>,
    for<'a> i64: Encode<'a, B> + Type<B>,
    for<'a> Option<i64>: Encode<'a, B> + Type<B>,
    for<'a> bool: Encode<'a, B> + Type<B>,
    for<'a> B::Time: Encode<'a, B> + Type<B>,
    for<'a> Option<B::Time>: Encode<'a, B> + Type<B>,
{
    params.into_iter().fold(query, |q, param| match param {
        Param::Int(v) => q.bind(v),
        Param::OptInt(v) => q.bind(v),
        Param::Bool(v) => q.bind(v),
        Param::Text(v) => q.bind(v),
        Param::OptText(v) => q.bind(v),
        Param::Time(t) => q.bind(B::time(t)),
        Param::OptTime(t) => q.bind(t.map(B::time)),
    })
}

#[async_trait]
impl<B> maintenance_sql::engine::Engine for Sql<B>
where
    B: Driver,
    for<'c> &'c mut B::Connection: Executor<'c, Database = B>,
    B::Row: RowExt,
    for<'a> &'a str: Encode<'a, B> + Type<B>,
    for<'a> i64: Encode<'a, B> + Type<B>,
    for<'a> B::Time: Encode<'a, B> + Type<B>,
    Write<B>: maintenance_sql::engine::WriteTx,
{
    async fn begin_write(
        &self,
    ) -> Result<Box<dyn maintenance_sql::engine::WriteTx + '_>, StoreError> {
        let tx = db(B::begin_write(&self.pool).await)?;
        Ok(Box::new(Write { tx }))
    }

    async fn read_all(&self) -> Result<Rows, StoreError> {
        let s = Self::statements();
        db(async move {
            let mut conn = self.pool.acquire().await?;
            let mut tx = B::begin_read(&mut conn).await?;
            let revision = match sqlx::query(s.select_revision.as_str())
                .fetch_optional(&mut *tx)
                .await?
            {
                Some(row) => Some(row.int("revision")?),
                None => None,
            };
            let sites = fetch_decoded(
                "maintenance_sites",
                sqlx::query(s.select_sites.as_str()).fetch(&mut *tx),
                decode_site,
            )
            .await?;
            let paths = fetch_decoded(
                "maintenance_ignored_paths",
                sqlx::query(s.select_paths.as_str()).fetch(&mut *tx),
                decode_path,
            )
            .await?;
            let networks = fetch_decoded(
                "maintenance_allowed_networks",
                sqlx::query(s.select_networks.as_str()).fetch(&mut *tx),
                decode_network,
            )
            .await?;
            tx.commit().await?;
            Ok(Rows {
                revision,
                sites,
                paths,
                networks,
            })
        }
        .await)
    }

    /// The ids recorded after `since`, then the rows of those sites by id (indexed lookups,
    /// whatever the table statistics say), in one consistent read. `None` when more sites
    /// changed than reading them one by one is worth ([`MAX_CHANGED_SITES`]): the handle then
    /// reads everything.
    async fn read_changes(&self, since: i64) -> Result<Option<ChangeRows>, StoreError> {
        let s = Self::statements();
        db(async move {
            let mut conn = self.pool.acquire().await?;
            let mut tx = B::begin_read(&mut conn).await?;
            let revision = match sqlx::query(s.select_revision.as_str())
                .fetch_optional(&mut *tx)
                .await?
            {
                Some(row) => Some(row.int("revision")?),
                None => None,
            };
            let recorded = sqlx::query(s.select_changes_since.as_str())
                .bind(since)
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(|row| Ok((row.int("site_id")?, row.flag("removed")?)))
                .collect::<Result<Vec<(i64, bool)>, sqlx::Error>>()?;
            if recorded.len() > MAX_CHANGED_SITES {
                tx.commit().await?;
                return Ok(None);
            }
            let ids: Vec<i64> = recorded.iter().map(|(id, _)| *id).collect();
            let rows = rows_of_sites::<B>(&mut tx, &ids).await?;
            tx.commit().await?;
            Ok(Some(ChangeRows {
                rows: Rows { revision, ..rows },
                recorded,
            }))
        }
        .await)
    }

    async fn read_revision(&self) -> Result<Option<i64>, StoreError> {
        let s = Self::statements();
        db(async move {
            match sqlx::query(s.select_revision.as_str())
                .fetch_optional(&self.pool)
                .await?
            {
                Some(row) => row.int("revision").map(Some),
                None => Ok(None),
            }
        }
        .await)
    }

    async fn read_site_domain(&self, key: &SiteKey) -> Result<Option<String>, StoreError> {
        let s = Self::statements();
        db(async move {
            let row = match key {
                SiteKey::Default => {
                    sqlx::query(s.select_default_domain.as_str())
                        .fetch_optional(&self.pool)
                        .await?
                }
                SiteKey::Domain(d) => {
                    sqlx::query(s.select_domain.as_str())
                        .bind(d.as_str())
                        .fetch_optional(&self.pool)
                        .await?
                }
            };
            row.map(|row| row.text("domain")).transpose()
        }
        .await)
    }

    async fn read_events(
        &self,
        domain: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Event>, StoreError> {
        let s = Self::statements();
        db(async move {
            let rows = match domain {
                Some(d) => {
                    sqlx::query(s.select_site_events.as_str())
                        .bind(d)
                        .bind(limit)
                        .fetch_all(&self.pool)
                        .await?
                }
                None => {
                    sqlx::query(s.select_events.as_str())
                        .bind(limit)
                        .fetch_all(&self.pool)
                        .await?
                }
            };
            Ok(decode_all("maintenance_events", &rows, decode_event))
        }
        .await)
    }

    async fn change_feed(&self) -> Result<Option<ChangeFeed>, StoreError> {
        B::change_feed(&self.pool).await
    }

    fn no_revision_row(&self) -> StoreError {
        crate::common::no_revision_row()
    }

    /// The page's sites in listing order with their rows, and how many match in all, in one
    /// consistent read.
    async fn read_listing(&self, query: &SiteQuery) -> Result<Option<(u64, Rows)>, StoreError> {
        let sql = listing::listing_sql(query, B::DIALECT, B::DIALECT.placeholder());
        db(async move {
            let mut conn = self.pool.acquire().await?;
            let mut tx = B::begin_read(&mut conn).await?;
            let mut count = sqlx::query(AssertSqlSafe(sql.count_sql()));
            let mut page = sqlx::query(AssertSqlSafe(sql.page_sql(SITE_COLUMNS)));
            for bind in &sql.binds {
                count = bind_listing(count, bind);
                page = bind_listing(page, bind);
            }
            let total = count.fetch_one(&mut *tx).await?.int("total")?;
            let rows = page.fetch_all(&mut *tx).await?;
            let sites = decode_all("maintenance_sites", &rows, decode_site);
            let ids: Vec<i64> = sites.iter().map(|s| s.id).collect();
            let of_sites = rows_of_sites::<B>(&mut tx, &ids).await?;
            tx.commit().await?;
            Ok(Some((
                u64::try_from(total).unwrap_or(0),
                Rows {
                    revision: None,
                    // In listing order, as the page statement gave them.
                    sites,
                    paths: of_sites.paths,
                    networks: of_sites.networks,
                },
            )))
        }
        .await)
    }
}

impl<B> Write<B>
where
    B: Driver,
    for<'c> &'c mut B::Connection: Executor<'c, Database = B>,
    for<'a> &'a str: Encode<'a, B> + Type<B>,
    for<'a> Option<&'a str>: Encode<'a, B> + Type<B>,
    for<'a> i64: Encode<'a, B> + Type<B>,
    for<'a> Option<i64>: Encode<'a, B> + Type<B>,
    for<'a> bool: Encode<'a, B> + Type<B>,
    for<'a> B::Time: Encode<'a, B> + Type<B>,
    for<'a> Option<B::Time>: Encode<'a, B> + Type<B>,
{
    /// Runs `sql` with `params`.
    async fn run<'p>(
        &mut self,
        sql: impl sqlx::SqlSafeStr,
        params: impl IntoIterator<Item = Param<'p>>,
    ) -> Result<(), StoreError> {
        let query = bind_all(sqlx::query(sql), params);
        db(query.execute(&mut *self.tx).await.map(drop))
    }

    /// Runs `sql`, whose parameters are `ids`.
    async fn run_with_ids(&mut self, sql: String, ids: &[i64]) -> Result<(), StoreError> {
        self.run(AssertSqlSafe(sql), ids.iter().map(|id| Param::Int(*id)))
            .await
    }
}

#[async_trait]
impl<B> maintenance_sql::engine::WriteTx for Write<B>
where
    B: Driver,
    for<'c> &'c mut B::Connection: Executor<'c, Database = B>,
    B::Row: RowExt,
    for<'a> &'a str: Encode<'a, B> + Type<B>,
    for<'a> Option<&'a str>: Encode<'a, B> + Type<B>,
    for<'a> i64: Encode<'a, B> + Type<B>,
    for<'a> Option<i64>: Encode<'a, B> + Type<B>,
    for<'a> bool: Encode<'a, B> + Type<B>,
    for<'a> B::Time: Encode<'a, B> + Type<B>,
    for<'a> Option<B::Time>: Encode<'a, B> + Type<B>,
{
    async fn bump_revision(&mut self) -> Result<Option<i64>, StoreError> {
        let s = Sql::<B>::statements();
        db(async move {
            // The update locks the row until commit: writers queue here.
            let row = match &s.bump_revision_returning {
                Some(sql) => {
                    sqlx::query(sql.as_str())
                        .fetch_optional(&mut *self.tx)
                        .await?
                }
                None => {
                    sqlx::query(s.bump_revision.as_str())
                        .execute(&mut *self.tx)
                        .await?;
                    sqlx::query(s.select_revision.as_str())
                        .fetch_optional(&mut *self.tx)
                        .await?
                }
            };
            row.map(|row| row.int("revision")).transpose()
        }
        .await)
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
        self.run(Sql::<B>::statements().record_change.as_str(), params)
            .await
    }

    async fn site_row(&mut self, key: &SiteKey) -> Result<Option<SiteRow>, StoreError> {
        let s = Sql::<B>::statements();
        db(async move {
            let row = match key {
                SiteKey::Default => {
                    sqlx::query(s.select_default_site.as_str())
                        .fetch_optional(&mut *self.tx)
                        .await?
                }
                SiteKey::Domain(d) => {
                    sqlx::query(s.select_site_by_domain.as_str())
                        .bind(d.as_str())
                        .fetch_optional(&mut *self.tx)
                        .await?
                }
            };
            row.as_ref().map(decode_site).transpose()
        }
        .await)
    }

    async fn path_rows(&mut self, site_id: i64) -> Result<Vec<PathRow>, StoreError> {
        let sql = Sql::<B>::statements().select_site_paths.clone();
        db(rows_of::<B, _>(
            &mut self.tx,
            sql,
            &[site_id],
            "maintenance_ignored_paths",
            decode_path,
        )
        .await)
    }

    async fn network_rows(&mut self, site_id: i64) -> Result<Vec<NetworkRow>, StoreError> {
        let sql = Sql::<B>::statements().select_site_networks.clone();
        db(rows_of::<B, _>(
            &mut self.tx,
            sql,
            &[site_id],
            "maintenance_allowed_networks",
            decode_network,
        )
        .await)
    }

    /// Inserts the site, then reads its id back by its domain (unique), the same on every
    /// backend.
    async fn insert_site(&mut self, site: &SiteState) -> Result<i64, StoreError> {
        let s = Sql::<B>::statements();
        db(async move {
            bind_all(
                sqlx::query(s.insert_site.as_str()),
                insert_site_params(site),
            )
            .execute(&mut *self.tx)
            .await?;
            sqlx::query(s.select_site_id.as_str())
                .bind(site.domain.as_str())
                .fetch_one(&mut *self.tx)
                .await?
                .int("id")
        }
        .await)
    }

    async fn delete_site(&mut self, site_id: i64) -> Result<(), StoreError> {
        let s = Sql::<B>::statements();
        // Children first, so this does not depend on ON DELETE CASCADE (SQLite applies it only
        // with foreign keys on, which a pool made elsewhere may have turned off).
        for sql in [
            &s.delete_site_paths,
            &s.delete_site_networks,
            &s.delete_site,
        ] {
            self.run(sql.as_str(), [Param::Int(site_id)]).await?;
        }
        Ok(())
    }

    async fn update_site(&mut self, site: &SiteState) -> Result<(), StoreError> {
        let sql = Sql::<B>::statements().update_site.as_str();
        self.run(sql, update_site_params(site)).await
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
        let placeholder = B::DIALECT.placeholder();
        let sql = bulk::delete_scopes_sql(site_ids.len(), placeholder);
        self.run_with_ids(sql, site_ids).await?;
        if let Some(patterns) = patterns {
            let sql = bulk::insert_scopes_sql(site_ids.len(), placeholder);
            let params = site_ids
                .iter()
                .flat_map(|id| [Param::Int(*id), Param::Text(patterns)]);
            self.run(AssertSqlSafe(sql), params).await?;
        }
        Ok(())
    }

    async fn touch_site(
        &mut self,
        site_id: i64,
        at: DateTime<Utc>,
        by: &str,
    ) -> Result<(), StoreError> {
        let params = [Param::Time(at), Param::Text(by), Param::Int(site_id)];
        self.run(Sql::<B>::statements().touch_site.as_str(), params)
            .await
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
        self.run(Sql::<B>::statements().insert_path.as_str(), params)
            .await
    }

    async fn update_path(&mut self, id: i64, description: &str) -> Result<(), StoreError> {
        let params = [Param::Text(description), Param::Int(id)];
        self.run(Sql::<B>::statements().update_path.as_str(), params)
            .await
    }

    async fn delete_path(&mut self, id: i64) -> Result<(), StoreError> {
        self.run(
            Sql::<B>::statements().delete_path.as_str(),
            [Param::Int(id)],
        )
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
        self.run(Sql::<B>::statements().insert_network.as_str(), params)
            .await
    }

    async fn update_network(&mut self, id: i64, description: &str) -> Result<(), StoreError> {
        let params = [Param::Text(description), Param::Int(id)];
        self.run(Sql::<B>::statements().update_network.as_str(), params)
            .await
    }

    async fn delete_network(&mut self, id: i64) -> Result<(), StoreError> {
        self.run(
            Sql::<B>::statements().delete_network.as_str(),
            [Param::Int(id)],
        )
        .await
    }

    async fn insert_event(&mut self, event: &NewEvent<'_>) -> Result<(), StoreError> {
        self.insert_events(std::slice::from_ref(event)).await
    }

    async fn commit(self: Box<Self>) -> Result<(), StoreError> {
        db(self.tx.commit().await)
    }

    async fn all_site_rows(&mut self) -> Result<Vec<SiteRow>, StoreError> {
        let s = Sql::<B>::statements();
        db(async move {
            let rows = sqlx::query(s.select_sites.as_str())
                .fetch_all(&mut *self.tx)
                .await?;
            Ok(decode_all("maintenance_sites", &rows, decode_site))
        }
        .await)
    }

    async fn path_rows_of(&mut self, site_ids: &[i64]) -> Result<Vec<PathRow>, StoreError> {
        let sql = Sql::<B>::statements().select_paths_in(site_ids.len());
        if site_ids.is_empty() {
            return Ok(Vec::new());
        }
        let table = "maintenance_ignored_paths";
        db(rows_of::<B, _>(&mut self.tx, sql, site_ids, table, decode_path).await)
    }

    async fn network_rows_of(&mut self, site_ids: &[i64]) -> Result<Vec<NetworkRow>, StoreError> {
        let sql = Sql::<B>::statements().select_networks_in(site_ids.len());
        if site_ids.is_empty() {
            return Ok(Vec::new());
        }
        let table = "maintenance_allowed_networks";
        db(rows_of::<B, _>(&mut self.tx, sql, site_ids, table, decode_network).await)
    }

    /// The one place sites are written in bulk: one value per
    /// [`bulk::SITE_WRITE_COLUMNS`] entry, in that order.
    async fn update_sites(&mut self, sites: &[SiteState]) -> Result<(), StoreError> {
        if sites.is_empty() {
            return Ok(());
        }
        let dialect = B::DIALECT;
        let sql = bulk::upsert_sites_sql(
            sites.len(),
            dialect.placeholder(),
            dialect.on_duplicate_key(),
        );
        self.run(
            AssertSqlSafe(sql),
            sites.iter().flat_map(upsert_site_params),
        )
        .await
    }

    async fn record_changes(&mut self, site_ids: &[i64], revision: i64) -> Result<(), StoreError> {
        if site_ids.is_empty() {
            return Ok(());
        }
        let dialect = B::DIALECT;
        let sql = bulk::record_changes_sql(
            site_ids.len(),
            dialect.placeholder(),
            dialect.on_duplicate_key(),
        );
        let params = site_ids
            .iter()
            .flat_map(|id| [Param::Int(*id), Param::Int(revision)]);
        self.run(AssertSqlSafe(sql), params).await
    }

    /// One value per [`bulk::EVENT_COLUMNS`] entry, in that order.
    async fn insert_events(&mut self, events: &[NewEvent<'_>]) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        let sql = bulk::insert_events_sql(events.len(), B::DIALECT.placeholder());
        self.run(AssertSqlSafe(sql), events.iter().flat_map(event_params))
            .await
    }
}
