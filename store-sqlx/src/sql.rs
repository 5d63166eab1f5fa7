//! The statements SQLite and PostgreSQL share: both take `$n` parameters, `RETURNING` and
//! `ON CONFLICT`. MariaDB/MySQL has its own, in its module.

use crate::common::site_columns;

pub(crate) const BUMP_REVISION: &str =
    "UPDATE maintenance_revision SET revision = revision + 1 WHERE id = 1 RETURNING revision";
pub(crate) const SELECT_REVISION: &str = "SELECT revision FROM maintenance_revision WHERE id = 1";

pub(crate) const SELECT_SITES: &str = concat!(
    "SELECT ",
    site_columns!(),
    " FROM ",
    crate::common::sites_from!(),
    " ORDER BY id"
);
pub(crate) const SELECT_DEFAULT_SITE: &str = concat!(
    "SELECT ",
    site_columns!(),
    " FROM ",
    crate::common::sites_from!(),
    " WHERE is_default = TRUE ORDER BY id LIMIT 1"
);
pub(crate) const SELECT_SITE_BY_DOMAIN: &str = concat!(
    "SELECT ",
    site_columns!(),
    " FROM ",
    crate::common::sites_from!(),
    " WHERE domain = $1"
);
pub(crate) const SELECT_DEFAULT_DOMAIN: &str =
    "SELECT domain FROM maintenance_sites WHERE is_default = TRUE ORDER BY id LIMIT 1";
pub(crate) const SELECT_DOMAIN: &str = "SELECT domain FROM maintenance_sites WHERE domain = $1";

pub(crate) const RECORD_CHANGE: &str = "INSERT INTO maintenance_site_changes (site_id, version, removed) VALUES ($1, $2, $3) \
     ON CONFLICT (site_id) DO UPDATE SET version = excluded.version, removed = excluded.removed";

pub(crate) const SELECT_PATHS: &str =
    "SELECT id, site_id, pattern, description FROM maintenance_ignored_paths ORDER BY id";
pub(crate) const SELECT_SITE_PATHS: &str = "SELECT id, site_id, pattern, description FROM maintenance_ignored_paths WHERE site_id = $1 ORDER BY id";
pub(crate) const SELECT_NETWORKS: &str =
    "SELECT id, site_id, cidr, description FROM maintenance_allowed_networks ORDER BY id";
pub(crate) const SELECT_SITE_NETWORKS: &str = "SELECT id, site_id, cidr, description FROM maintenance_allowed_networks WHERE site_id = $1 ORDER BY id";

pub(crate) const INSERT_SITE: &str = "INSERT INTO maintenance_sites \
     (domain, name, is_default, enabled, mode, message, starts_at, ends_at, retry_after_secs, \
      bypass_secret_hash, updated_at, updated_by) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id";
pub(crate) const UPDATE_SITE: &str = "UPDATE maintenance_sites SET enabled = $2, mode = $3, message = $4, \
     starts_at = $5, ends_at = $6, retry_after_secs = $7, bypass_secret_hash = $8, updated_at = $9, \
     updated_by = $10 WHERE id = $1";
pub(crate) const TOUCH_SITE: &str =
    "UPDATE maintenance_sites SET updated_at = $2, updated_by = $3 WHERE id = $1";
pub(crate) const DELETE_SITE_PATHS: &str =
    "DELETE FROM maintenance_ignored_paths WHERE site_id = $1";
pub(crate) const DELETE_SITE_NETWORKS: &str =
    "DELETE FROM maintenance_allowed_networks WHERE site_id = $1";
pub(crate) const DELETE_SITE: &str = "DELETE FROM maintenance_sites WHERE id = $1";

pub(crate) const INSERT_PATH: &str =
    "INSERT INTO maintenance_ignored_paths (site_id, pattern, description) VALUES ($1, $2, $3)";
pub(crate) const UPDATE_PATH: &str =
    "UPDATE maintenance_ignored_paths SET description = $2 WHERE id = $1";
pub(crate) const DELETE_PATH: &str = "DELETE FROM maintenance_ignored_paths WHERE id = $1";
pub(crate) const INSERT_NETWORK: &str =
    "INSERT INTO maintenance_allowed_networks (site_id, cidr, description) VALUES ($1, $2, $3)";
pub(crate) const UPDATE_NETWORK: &str =
    "UPDATE maintenance_allowed_networks SET description = $2 WHERE id = $1";
pub(crate) const DELETE_NETWORK: &str = "DELETE FROM maintenance_allowed_networks WHERE id = $1";

pub(crate) const INSERT_EVENT: &str = "INSERT INTO maintenance_events \
     (site_id, site_domain, at, actor, action, detail) VALUES ($1, $2, $3, $4, $5, $6)";
pub(crate) const SELECT_EVENTS: &str = "SELECT id, site_domain, at, actor, action, detail FROM maintenance_events ORDER BY id DESC LIMIT $1";
pub(crate) const SELECT_SITE_EVENTS: &str = "SELECT id, site_domain, at, actor, action, detail \
     FROM maintenance_events WHERE site_domain = $1 ORDER BY id DESC LIMIT $2";

/// Restores the revision row and the default site if they are missing (deleted by hand).
pub(crate) const ENSURE_REVISION: &str =
    "INSERT INTO maintenance_revision (id, revision) VALUES (1, 1) ON CONFLICT (id) DO NOTHING";
pub(crate) const ENSURE_DEFAULT_SITE: &str = "INSERT INTO maintenance_sites (domain, name, is_default, enabled, mode) \
     SELECT $1, $2, TRUE, FALSE, 'full' \
     WHERE NOT EXISTS (SELECT 1 FROM maintenance_sites WHERE is_default = TRUE) \
     ON CONFLICT (domain) DO NOTHING";
pub(crate) const BUMP_REVISION_ONLY: &str =
    "UPDATE maintenance_revision SET revision = revision + 1 WHERE id = 1";

/// Implements [`crate::common::WriteTx`] for a backend's write transaction (a struct with a
/// `tx: Transaction<'static, DB>` field) with the statements above.
macro_rules! impl_write_tx {
    ($ty:ty) => {
        #[async_trait::async_trait]
        impl crate::common::WriteTx for $ty {
            async fn bump_revision(&mut self) -> Result<Option<i64>, maintenance_core::StoreError> {
                crate::common::db(
                    sqlx::query_scalar(crate::sql::BUMP_REVISION)
                        .fetch_optional(&mut *self.tx)
                        .await,
                )
            }

            async fn record_change(
                &mut self,
                site_id: i64,
                revision: i64,
                removed: bool,
            ) -> Result<(), maintenance_core::StoreError> {
                crate::common::db(
                    sqlx::query(crate::sql::RECORD_CHANGE)
                        .bind(site_id)
                        .bind(revision)
                        .bind(removed)
                        .execute(&mut *self.tx)
                        .await
                        .map(drop),
                )
            }

            async fn site_row(
                &mut self,
                key: &crate::common::SiteKey,
            ) -> Result<Option<crate::common::SiteRow>, maintenance_core::StoreError> {
                crate::common::db(
                    async move {
                        let row = match key {
                            crate::common::SiteKey::Default => {
                                sqlx::query(crate::sql::SELECT_DEFAULT_SITE)
                                    .fetch_optional(&mut *self.tx)
                                    .await?
                            }
                            crate::common::SiteKey::Domain(d) => {
                                sqlx::query(crate::sql::SELECT_SITE_BY_DOMAIN)
                                    .bind(d)
                                    .fetch_optional(&mut *self.tx)
                                    .await?
                            }
                        };
                        row.as_ref().map(crate::common::decode_site).transpose()
                    }
                    .await,
                )
            }

            async fn path_rows(
                &mut self,
                site_id: i64,
            ) -> Result<Vec<crate::common::PathRow>, maintenance_core::StoreError> {
                crate::common::db(
                    async move {
                        let rows = sqlx::query(crate::sql::SELECT_SITE_PATHS)
                            .bind(site_id)
                            .fetch_all(&mut *self.tx)
                            .await?;
                        Ok(crate::common::decode_all(
                            "maintenance_ignored_paths",
                            &rows,
                            crate::common::decode_path,
                        ))
                    }
                    .await,
                )
            }

            async fn network_rows(
                &mut self,
                site_id: i64,
            ) -> Result<Vec<crate::common::NetworkRow>, maintenance_core::StoreError> {
                crate::common::db(
                    async move {
                        let rows = sqlx::query(crate::sql::SELECT_SITE_NETWORKS)
                            .bind(site_id)
                            .fetch_all(&mut *self.tx)
                            .await?;
                        Ok(crate::common::decode_all(
                            "maintenance_allowed_networks",
                            &rows,
                            crate::common::decode_network,
                        ))
                    }
                    .await,
                )
            }

            async fn insert_site(
                &mut self,
                site: &maintenance_core::SiteState,
            ) -> Result<i64, maintenance_core::StoreError> {
                crate::common::db(
                    sqlx::query_scalar(crate::sql::INSERT_SITE)
                        .bind(&site.domain)
                        .bind(&site.name)
                        .bind(site.is_default)
                        .bind(site.enabled)
                        .bind(site.mode.as_str())
                        .bind(&site.message)
                        .bind(site.starts_at)
                        .bind(site.ends_at)
                        .bind(site.retry_after_secs.map(i64::from))
                        .bind(&site.bypass_secret_hash)
                        .bind(site.updated_at)
                        .bind(&site.updated_by)
                        .fetch_one(&mut *self.tx)
                        .await,
                )
            }

            async fn delete_site(
                &mut self,
                site_id: i64,
            ) -> Result<(), maintenance_core::StoreError> {
                crate::common::db(
                    async move {
                        // Children first, so this does not depend on ON DELETE CASCADE (SQLite
                        // applies it only with foreign keys on, which a pool made elsewhere may
                        // have turned off).
                        for statement in [
                            crate::sql::DELETE_SITE_PATHS,
                            crate::sql::DELETE_SITE_NETWORKS,
                            crate::sql::DELETE_SITE,
                        ] {
                            sqlx::query(statement)
                                .bind(site_id)
                                .execute(&mut *self.tx)
                                .await?;
                        }
                        Ok(())
                    }
                    .await,
                )
            }

            async fn update_site(
                &mut self,
                site: &maintenance_core::SiteState,
            ) -> Result<(), maintenance_core::StoreError> {
                crate::common::db(
                    sqlx::query(crate::sql::UPDATE_SITE)
                        .bind(site.id)
                        .bind(site.enabled)
                        .bind(site.mode.as_str())
                        .bind(&site.message)
                        .bind(site.starts_at)
                        .bind(site.ends_at)
                        .bind(site.retry_after_secs.map(i64::from))
                        .bind(&site.bypass_secret_hash)
                        .bind(site.updated_at)
                        .bind(&site.updated_by)
                        .execute(&mut *self.tx)
                        .await
                        .map(drop),
                )
            }

            async fn write_scope(
                &mut self,
                site_id: i64,
                patterns: Option<&str>,
            ) -> Result<(), maintenance_core::StoreError> {
                bulk_write_scopes(&mut self.tx, &[site_id], patterns).await
            }

            async fn write_scopes(
                &mut self,
                site_ids: &[i64],
                patterns: Option<&str>,
            ) -> Result<(), maintenance_core::StoreError> {
                bulk_write_scopes(&mut self.tx, site_ids, patterns).await
            }

            async fn touch_site(
                &mut self,
                site_id: i64,
                at: chrono::DateTime<chrono::Utc>,
                by: &str,
            ) -> Result<(), maintenance_core::StoreError> {
                crate::common::db(
                    sqlx::query(crate::sql::TOUCH_SITE)
                        .bind(site_id)
                        .bind(at)
                        .bind(by)
                        .execute(&mut *self.tx)
                        .await
                        .map(drop),
                )
            }

            async fn insert_path(
                &mut self,
                site_id: i64,
                pattern: &str,
                description: &str,
            ) -> Result<(), maintenance_core::StoreError> {
                crate::common::db(
                    sqlx::query(crate::sql::INSERT_PATH)
                        .bind(site_id)
                        .bind(pattern)
                        .bind(description)
                        .execute(&mut *self.tx)
                        .await
                        .map(drop),
                )
            }

            async fn update_path(
                &mut self,
                id: i64,
                description: &str,
            ) -> Result<(), maintenance_core::StoreError> {
                crate::common::db(
                    sqlx::query(crate::sql::UPDATE_PATH)
                        .bind(id)
                        .bind(description)
                        .execute(&mut *self.tx)
                        .await
                        .map(drop),
                )
            }

            async fn delete_path(&mut self, id: i64) -> Result<(), maintenance_core::StoreError> {
                crate::common::db(
                    sqlx::query(crate::sql::DELETE_PATH)
                        .bind(id)
                        .execute(&mut *self.tx)
                        .await
                        .map(drop),
                )
            }

            async fn insert_network(
                &mut self,
                site_id: i64,
                cidr: &str,
                description: &str,
            ) -> Result<(), maintenance_core::StoreError> {
                crate::common::db(
                    sqlx::query(crate::sql::INSERT_NETWORK)
                        .bind(site_id)
                        .bind(cidr)
                        .bind(description)
                        .execute(&mut *self.tx)
                        .await
                        .map(drop),
                )
            }

            async fn update_network(
                &mut self,
                id: i64,
                description: &str,
            ) -> Result<(), maintenance_core::StoreError> {
                crate::common::db(
                    sqlx::query(crate::sql::UPDATE_NETWORK)
                        .bind(id)
                        .bind(description)
                        .execute(&mut *self.tx)
                        .await
                        .map(drop),
                )
            }

            async fn delete_network(
                &mut self,
                id: i64,
            ) -> Result<(), maintenance_core::StoreError> {
                crate::common::db(
                    sqlx::query(crate::sql::DELETE_NETWORK)
                        .bind(id)
                        .execute(&mut *self.tx)
                        .await
                        .map(drop),
                )
            }

            async fn insert_event(
                &mut self,
                event: &crate::common::NewEvent<'_>,
            ) -> Result<(), maintenance_core::StoreError> {
                crate::common::db(
                    sqlx::query(crate::sql::INSERT_EVENT)
                        .bind(event.site_id)
                        .bind(event.site_domain)
                        .bind(event.at)
                        .bind(event.actor)
                        .bind(event.action)
                        .bind(event.detail)
                        .execute(&mut *self.tx)
                        .await
                        .map(drop),
                )
            }

            async fn commit(self: Box<Self>) -> Result<(), maintenance_core::StoreError> {
                crate::common::db(self.tx.commit().await)
            }

            async fn all_site_rows(
                &mut self,
            ) -> Result<Vec<crate::common::SiteRow>, maintenance_core::StoreError> {
                bulk_all_site_rows(&mut self.tx).await
            }

            async fn path_rows_of(
                &mut self,
                site_ids: &[i64],
            ) -> Result<Vec<crate::common::PathRow>, maintenance_core::StoreError> {
                bulk_path_rows_of(&mut self.tx, site_ids).await
            }

            async fn network_rows_of(
                &mut self,
                site_ids: &[i64],
            ) -> Result<Vec<crate::common::NetworkRow>, maintenance_core::StoreError> {
                bulk_network_rows_of(&mut self.tx, site_ids).await
            }

            async fn update_sites(
                &mut self,
                sites: &[maintenance_core::SiteState],
            ) -> Result<(), maintenance_core::StoreError> {
                bulk_update_sites(&mut self.tx, sites).await
            }

            async fn record_changes(
                &mut self,
                site_ids: &[i64],
                revision: i64,
            ) -> Result<(), maintenance_core::StoreError> {
                bulk_record_changes(&mut self.tx, site_ids, revision).await
            }

            async fn insert_events(
                &mut self,
                events: &[crate::common::NewEvent<'_>],
            ) -> Result<(), maintenance_core::StoreError> {
                bulk_insert_events(&mut self.tx, events).await
            }
        }
    };
}
pub(crate) use impl_write_tx;

/// Implements [`crate::common::Engine`] for a store with a `pool` field whose backend uses the
/// statements above. sqlx types executors per backend, so the shared bodies are written once
/// here: `$begin_write` opens a write transaction (wrapped in `$write { tx }`), `$begin_read`
/// the read transaction of `read_all`; further items (e.g. `change_feed`) follow.
macro_rules! impl_engine {
    (
        $store:ty,
        write = $write:ident,
        db = $db:ty,
        dialect = $dialect:expr,
        placeholder = $ph:expr,
        begin_write = |$wpool:ident| $begin_write:expr,
        begin_read = |$rpool:ident| $begin_read:expr
        $(, $($extra:tt)+)?
    ) => {
        maintenance_sql::sql_store!($store);

        crate::common::bulk_fns!(
            db = $db,
            dialect = $dialect,
            placeholder = $ph,
            on_duplicate_key = false,
            begin_read = |$rpool| $begin_read,
            time = |t| t
        );

        #[async_trait::async_trait]
        impl crate::common::Engine for $store {
        async fn begin_write(
            &self,
        ) -> Result<Box<dyn crate::common::WriteTx + '_>, maintenance_core::StoreError> {
            let $wpool = &self.pool;
            let tx = crate::common::db($begin_write.await)?;
            Ok(Box::new($write { tx }))
        }

        async fn read_all(&self) -> Result<crate::common::Rows, maintenance_core::StoreError> {
            crate::common::db(
                async move {
                    let $rpool = &self.pool;
                    let mut tx = $begin_read.await?;
                    let revision = sqlx::query_scalar(crate::sql::SELECT_REVISION)
                        .fetch_optional(&mut *tx)
                        .await?;
                    let sites = crate::common::fetch_decoded(
                        "maintenance_sites",
                        sqlx::query(crate::sql::SELECT_SITES).fetch(&mut *tx),
                        crate::common::decode_site,
                    )
                    .await?;
                    let paths = crate::common::fetch_decoded(
                        "maintenance_ignored_paths",
                        sqlx::query(crate::sql::SELECT_PATHS).fetch(&mut *tx),
                        crate::common::decode_path,
                    )
                    .await?;
                    let networks = crate::common::fetch_decoded(
                        "maintenance_allowed_networks",
                        sqlx::query(crate::sql::SELECT_NETWORKS).fetch(&mut *tx),
                        crate::common::decode_network,
                    )
                    .await?;
                    tx.commit().await?;
                    Ok(crate::common::Rows {
                        revision,
                        sites,
                        paths,
                        networks,
                    })
                }
                .await,
            )
        }

        async fn read_changes(
            &self,
            since: i64,
        ) -> Result<Option<maintenance_sql::engine::ChangeRows>, maintenance_core::StoreError> {
            let $rpool = &self.pool;
            let mut tx = crate::common::db($begin_read.await)?;
            let changes = bulk_read_changes(&mut tx, since).await?;
            crate::common::db(tx.commit().await)?;
            Ok(changes)
        }

        async fn read_revision(&self) -> Result<Option<i64>, maintenance_core::StoreError> {
            crate::common::db(
                sqlx::query_scalar(crate::sql::SELECT_REVISION)
                    .fetch_optional(&self.pool)
                    .await
            )
        }

        async fn read_site_domain(
            &self,
            key: &crate::common::SiteKey,
        ) -> Result<Option<String>, maintenance_core::StoreError> {
            crate::common::db(
                match key {
                    crate::common::SiteKey::Default => {
                        sqlx::query_scalar(crate::sql::SELECT_DEFAULT_DOMAIN)
                            .fetch_optional(&self.pool)
                            .await
                    }
                    crate::common::SiteKey::Domain(d) => {
                        sqlx::query_scalar(crate::sql::SELECT_DOMAIN)
                            .bind(d)
                            .fetch_optional(&self.pool)
                            .await
                    }
                }
            )
        }

        async fn read_events(
            &self,
            domain: Option<&str>,
            limit: i64,
        ) -> Result<Vec<maintenance_core::Event>, maintenance_core::StoreError> {
            crate::common::db(
                async move {
                    let rows = match domain {
                        Some(d) => {
                            sqlx::query(crate::sql::SELECT_SITE_EVENTS)
                                .bind(d)
                                .bind(limit)
                                .fetch_all(&self.pool)
                                .await?
                        }
                        None => {
                            sqlx::query(crate::sql::SELECT_EVENTS)
                                .bind(limit)
                                .fetch_all(&self.pool)
                                .await?
                        }
                    };
                    Ok(crate::common::decode_all(
                        "maintenance_events",
                        &rows,
                        crate::common::decode_event,
                    ))
                }
                .await,
            )
        }

        fn no_revision_row(&self) -> maintenance_core::StoreError {
            crate::common::no_revision_row()
        }

        async fn read_listing(
            &self,
            query: &maintenance_core::SiteQuery,
        ) -> Result<Option<(u64, crate::common::Rows)>, maintenance_core::StoreError> {
            listing_rows(&self.pool, query).await
        }

        $($($extra)+)?
        }
    };
}

pub(crate) use impl_engine;
