//! The queries of every backend, written once with diesel's query builder.
//!
//! diesel types queries per backend, so [`impl_engine!`] expands the same bodies in each
//! backend's module. That module provides, by these names:
//! - `Conn` (the connection type) and `schema` (its tables, from [`crate::schema`]);
//! - `BACKEND` (its name for errors) and `REVISION_ID` (the revision row's key);
//! - `TimeIn` (how a timestamp is read), `time_in(TimeIn) -> Result<DateTime<Utc>, String>`
//!   and `time_out(DateTime<Utc>)` (the value bound to write one);
//! - `begin_write(&mut Conn)` and `begin_read(&mut Conn)`, which open the write transaction
//!   and the consistent read transaction of `load()`.

/// Implements [`crate::common::Engine`] for `$store` (a struct with a `pool` field) and
/// [`crate::common::WriteTx`] for `$write` (a struct with a pooled `conn`). Further items
/// of `Engine` (such as `change_feed`) may follow.
macro_rules! impl_engine {
    ($store:ty, $write:ident $(, $($extra:tt)+)?) => {
        type SiteTuple = (
            i64,
            String,
            String,
            bool,
            bool,
            String,
            Option<String>,
            Option<TimeIn>,
            Option<TimeIn>,
            Option<i64>,
            Option<String>,
            Option<TimeIn>,
            Option<String>,
            Option<String>,
        );

        type EventTuple = (i64, Option<String>, TimeIn, String, String, String);

        fn query_error(source: diesel::result::Error) -> crate::error::Error {
            crate::error::Error::Query {
                backend: BACKEND,
                source,
            }
        }

        fn store_error(source: diesel::result::Error) -> maintenance_core::StoreError {
            query_error(source).into()
        }

        fn site_columns() -> (
            schema::maintenance_sites::id,
            schema::maintenance_sites::domain,
            schema::maintenance_sites::name,
            schema::maintenance_sites::is_default,
            schema::maintenance_sites::enabled,
            schema::maintenance_sites::mode,
            schema::maintenance_sites::message,
            schema::maintenance_sites::starts_at,
            schema::maintenance_sites::ends_at,
            schema::maintenance_sites::retry_after_secs,
            schema::maintenance_sites::bypass_secret_hash,
            schema::maintenance_sites::updated_at,
            schema::maintenance_sites::updated_by,
            diesel::dsl::Nullable<schema::maintenance_site_scopes::scope_patterns>,
        ) {
            use diesel::NullableExpressionMethods;
            use schema::maintenance_sites::dsl as s;
            (
                s::id,
                s::domain,
                s::name,
                s::is_default,
                s::enabled,
                s::mode,
                s::message,
                s::starts_at,
                s::ends_at,
                s::retry_after_secs,
                s::bypass_secret_hash,
                s::updated_at,
                s::updated_by,
                schema::maintenance_site_scopes::scope_patterns.nullable(),
            )
        }

        fn site_row(t: SiteTuple) -> crate::common::SiteRow {
            const TABLE: &str = "maintenance_sites";
            let id = t.0;
            let time = |column: &'static str, v: Option<TimeIn>| {
                crate::common::lenient_time(TABLE, id, column, v.map(time_in))
            };
            crate::common::SiteRow {
                id,
                domain: t.1,
                name: t.2,
                is_default: t.3,
                enabled: t.4,
                mode: t.5,
                message: t.6,
                starts_at: time("starts_at", t.7),
                ends_at: time("ends_at", t.8),
                retry_after_secs: t.9,
                bypass_secret_hash: t.10,
                updated_at: time("updated_at", t.11),
                updated_by: t.12,
                scope_patterns: t.13,
            }
        }

        fn path_row(t: (i64, i64, String, String)) -> crate::common::PathRow {
            crate::common::PathRow {
                id: t.0,
                site_id: t.1,
                pattern: t.2,
                description: t.3,
            }
        }

        fn network_row(t: (i64, i64, String, String)) -> crate::common::NetworkRow {
            crate::common::NetworkRow {
                id: t.0,
                site_id: t.1,
                cidr: t.2,
                description: t.3,
            }
        }

        fn event_row(t: EventTuple) -> Option<maintenance_core::Event> {
            crate::common::event_from_parts(t.0, t.1, time_in(t.2), t.3, t.4, t.5)
        }

        async fn read_rows(conn: &mut Conn) -> diesel::QueryResult<crate::common::Rows> {
            use diesel::prelude::*;
            use diesel_async::RunQueryDsl;
            use schema::maintenance_allowed_networks::dsl as n;
            use schema::maintenance_ignored_paths::dsl as p;
            use schema::maintenance_revision::dsl as r;
            use schema::maintenance_sites::dsl as s;
            let revision = r::maintenance_revision
                .filter(r::id.eq(REVISION_ID))
                .select(r::revision)
                .first::<i64>(conn)
                .await
                .optional()?;
            let sites: Vec<SiteTuple> = s::maintenance_sites
                .left_join(schema::maintenance_site_scopes::table)
                .select(site_columns())
                .order(s::id)
                .load(conn)
                .await?;
            let paths: Vec<(i64, i64, String, String)> = p::maintenance_ignored_paths
                .select((p::id, p::site_id, p::pattern, p::description))
                .order(p::id)
                .load(conn)
                .await?;
            let networks: Vec<(i64, i64, String, String)> = n::maintenance_allowed_networks
                .select((n::id, n::site_id, n::cidr, n::description))
                .order(n::id)
                .load(conn)
                .await?;
            Ok(crate::common::Rows {
                revision,
                sites: sites.into_iter().map(site_row).collect(),
                paths: paths.into_iter().map(path_row).collect(),
                networks: networks.into_iter().map(network_row).collect(),
            })
        }

        async fn read_change_rows(
            conn: &mut Conn,
            since: i64,
        ) -> diesel::QueryResult<Option<maintenance_sql::engine::ChangeRows>> {
            use diesel::prelude::*;
            use diesel_async::RunQueryDsl;
            use schema::maintenance_allowed_networks::dsl as n;
            use schema::maintenance_ignored_paths::dsl as p;
            use schema::maintenance_revision::dsl as r;
            use schema::maintenance_site_changes::dsl as c;
            use schema::maintenance_sites::dsl as s;
            let revision = r::maintenance_revision
                .filter(r::id.eq(REVISION_ID))
                .select(r::revision)
                .first::<i64>(conn)
                .await
                .optional()?;
            let recorded: Vec<(i64, bool)> = c::maintenance_site_changes
                .filter(c::version.gt(since))
                .select((c::site_id, c::removed))
                .load(conn)
                .await?;
            // By id, so that every read is an indexed lookup whatever the table statistics
            // say; past MAX_CHANGED_SITES reading everything costs less.
            if recorded.len() > maintenance_sql::engine::MAX_CHANGED_SITES {
                return Ok(None);
            }
            let ids: Vec<i64> = recorded.iter().map(|(id, _)| *id).collect();
            let sites: Vec<SiteTuple> = s::maintenance_sites
                .left_join(schema::maintenance_site_scopes::table)
                .filter(s::id.eq_any(ids.clone()))
                .select(site_columns())
                .order(s::id)
                .load(conn)
                .await?;
            let paths: Vec<(i64, i64, String, String)> = p::maintenance_ignored_paths
                .filter(p::site_id.eq_any(ids.clone()))
                .select((p::id, p::site_id, p::pattern, p::description))
                .order(p::id)
                .load(conn)
                .await?;
            let networks: Vec<(i64, i64, String, String)> = n::maintenance_allowed_networks
                .filter(n::site_id.eq_any(ids))
                .select((n::id, n::site_id, n::cidr, n::description))
                .order(n::id)
                .load(conn)
                .await?;
            Ok(Some(maintenance_sql::engine::ChangeRows {
                rows: crate::common::Rows {
                    revision,
                    sites: sites.into_iter().map(site_row).collect(),
                    paths: paths.into_iter().map(path_row).collect(),
                    networks: networks.into_iter().map(network_row).collect(),
                },
                recorded,
            }))
        }

        /// Runs `read` in the consistent read transaction of `begin_read`.
        async fn in_read_tx<T>(
            conn: &mut Conn,
            read: impl for<'c> FnOnce(
                &'c mut Conn,
            ) -> std::pin::Pin<
                Box<dyn std::future::Future<Output = diesel::QueryResult<T>> + Send + 'c>,
            >,
        ) -> Result<T, maintenance_core::StoreError> {
            use diesel_async::{AsyncConnection, TransactionManager};
            type Tm = <Conn as AsyncConnection>::TransactionManager;
            begin_read(conn).await.map_err(store_error)?;
            match read(conn).await {
                Ok(value) => {
                    Tm::commit_transaction(conn).await.map_err(store_error)?;
                    Ok(value)
                }
                Err(e) => {
                    // The read's error is returned, and reported once by the caller (the
                    // handle logs an outage once); a rollback that fails too, as it does on a
                    // lost connection, adds nothing. The pool drops a connection left broken.
                    if let Err(rollback) = Tm::rollback_transaction(conn).await {
                        tracing::debug!(error = %rollback, "could not roll back a read transaction");
                    }
                    Err(store_error(e))
                }
            }
        }

        #[derive(diesel::QueryableByName)]
        struct CountRow {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            total: i64,
        }

        #[derive(diesel::QueryableByName)]
        struct IdRow {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            id: i64,
        }

        /// The listing's statement `sql` with its `WHERE` parameters bound.
        fn listing_query(
            sql: String,
            binds: &[maintenance_sql::listing::Bind],
        ) -> diesel::query_builder::BoxedSqlQuery<'static, Db, diesel::query_builder::SqlQuery>
        {
            let mut query = diesel::sql_query(sql).into_boxed::<Db>();
            for bind in binds {
                query = match bind {
                    maintenance_sql::listing::Bind::Text(text) => {
                        query.bind::<diesel::sql_types::Text, _>(text.clone())
                    }
                    maintenance_sql::listing::Bind::Time(t) => query.bind::<TimeSql, _>(time_out(*t)),
                };
            }
            query
        }

        /// The rows of the page `query` selects, and how many sites match in all.
        async fn read_listing_rows(
            conn: &mut Conn,
            query: &maintenance_core::SiteQuery,
        ) -> diesel::QueryResult<(u64, crate::common::Rows)> {
            use diesel::prelude::*;
            use diesel_async::RunQueryDsl;
            use schema::maintenance_allowed_networks::dsl as n;
            use schema::maintenance_ignored_paths::dsl as p;
            use schema::maintenance_sites::dsl as s;
            let sql = maintenance_sql::listing::listing_sql(query, DIALECT, PLACEHOLDER);
            let total: CountRow = listing_query(sql.count_sql(), &sql.binds)
                .get_result(conn)
                .await?;
            let ids: Vec<IdRow> = listing_query(sql.page_sql("id"), &sql.binds)
                .load(conn)
                .await?;
            let ids: Vec<i64> = ids.into_iter().map(|r| r.id).collect();
            let mut sites: Vec<SiteTuple> = s::maintenance_sites
                .left_join(schema::maintenance_site_scopes::table)
                .select(site_columns())
                .filter(s::id.eq_any(ids.clone()))
                .load(conn)
                .await?;
            let position: std::collections::HashMap<i64, usize> =
                ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
            sites.sort_by_key(|t| position.get(&t.0).copied().unwrap_or(usize::MAX));
            let paths: Vec<(i64, i64, String, String)> = p::maintenance_ignored_paths
                .select((p::id, p::site_id, p::pattern, p::description))
                .filter(p::site_id.eq_any(ids.clone()))
                .order(p::id)
                .load(conn)
                .await?;
            let networks: Vec<(i64, i64, String, String)> = n::maintenance_allowed_networks
                .select((n::id, n::site_id, n::cidr, n::description))
                .filter(n::site_id.eq_any(ids))
                .order(n::id)
                .load(conn)
                .await?;
            Ok((
                u64::try_from(total.total).unwrap_or(0),
                crate::common::Rows {
                    revision: None,
                    sites: sites.into_iter().map(site_row).collect(),
                    paths: paths.into_iter().map(path_row).collect(),
                    networks: networks.into_iter().map(network_row).collect(),
                },
            ))
        }

        impl $store {
            async fn conn(
                &self,
            ) -> Result<diesel_async::pooled_connection::deadpool::Object<Conn>, crate::error::Error>
            {
                self.pool
                    .get()
                    .await
                    .map_err(|e| crate::error::Error::Pool {
                        backend: BACKEND,
                        source: Box::new(e),
                    })
            }
        }

        maintenance_sql::sql_store!($store);

        #[async_trait::async_trait]
        impl crate::common::Engine for $store {
            async fn begin_write(
                &self,
            ) -> Result<Box<dyn crate::common::WriteTx + '_>, maintenance_core::StoreError> {
                let mut conn = self.conn().await?;
                begin_write(&mut conn).await.map_err(store_error)?;
                Ok(Box::new($write { conn }))
            }

            async fn read_all(&self) -> Result<crate::common::Rows, maintenance_core::StoreError> {
                let mut conn = self.conn().await?;
                in_read_tx(&mut conn, |c| Box::pin(read_rows(c))).await
            }

            async fn read_changes(
                &self,
                since: i64,
            ) -> Result<Option<maintenance_sql::engine::ChangeRows>, maintenance_core::StoreError>
            {
                let mut conn = self.conn().await?;
                in_read_tx(&mut conn, move |c| Box::pin(read_change_rows(c, since))).await
            }

            async fn read_revision(&self) -> Result<Option<i64>, maintenance_core::StoreError> {
                use diesel::prelude::*;
                use diesel_async::RunQueryDsl;
                use schema::maintenance_revision::dsl as r;
                let mut conn = self.conn().await?;
                r::maintenance_revision
                    .filter(r::id.eq(REVISION_ID))
                    .select(r::revision)
                    .first::<i64>(&mut conn)
                    .await
                    .optional()
                    .map_err(store_error)
            }

            async fn read_site_domain(
                &self,
                key: &crate::common::SiteKey,
            ) -> Result<Option<String>, maintenance_core::StoreError> {
                use diesel::prelude::*;
                use diesel_async::RunQueryDsl;
                use schema::maintenance_sites::dsl as s;
                let mut conn = self.conn().await?;
                let query = s::maintenance_sites.select(s::domain).into_boxed();
                let query = match key {
                    crate::common::SiteKey::Default => {
                        query.filter(s::is_default.eq(true)).order(s::id).limit(1)
                    }
                    crate::common::SiteKey::Domain(d) => query.filter(s::domain.eq(d.clone())),
                };
                query
                    .first::<String>(&mut conn)
                    .await
                    .optional()
                    .map_err(store_error)
            }

            async fn read_events(
                &self,
                domain: Option<&str>,
                limit: i64,
            ) -> Result<Vec<maintenance_core::Event>, maintenance_core::StoreError> {
                use diesel::prelude::*;
                use diesel_async::RunQueryDsl;
                use schema::maintenance_events::dsl as e;
                let mut conn = self.conn().await?;
                let mut query = e::maintenance_events
                    .select((e::id, e::site_domain, e::at, e::actor, e::action, e::detail))
                    .order(e::id.desc())
                    .limit(limit)
                    .into_boxed();
                if let Some(d) = domain {
                    query = query.filter(e::site_domain.eq(d.to_owned()));
                }
                let rows: Vec<EventTuple> = query.load(&mut conn).await.map_err(store_error)?;
                Ok(rows.into_iter().filter_map(event_row).collect())
            }

            fn no_revision_row(&self) -> maintenance_core::StoreError {
                crate::common::no_revision_row()
            }

            async fn read_listing(
                &self,
                query: &maintenance_core::SiteQuery,
            ) -> Result<Option<(u64, crate::common::Rows)>, maintenance_core::StoreError> {
                use diesel_async::{AsyncConnection, TransactionManager};
                type Tm = <Conn as AsyncConnection>::TransactionManager;
                let mut conn = self.conn().await?;
                begin_read(&mut conn).await.map_err(store_error)?;
                match read_listing_rows(&mut conn, query).await {
                    Ok(rows) => {
                        Tm::commit_transaction(&mut *conn)
                            .await
                            .map_err(store_error)?;
                        Ok(Some(rows))
                    }
                    Err(e) => {
                        // As in `in_read_tx`: the read's error says it all.
                        if let Err(rollback) = Tm::rollback_transaction(&mut *conn).await {
                            tracing::debug!(error = %rollback, "could not roll back a read transaction");
                        }
                        Err(store_error(e))
                    }
                }
            }

            $($($extra)+)?
        }

        struct $write {
            conn: diesel_async::pooled_connection::deadpool::Object<Conn>,
        }

        #[async_trait::async_trait]
        impl crate::common::WriteTx for $write {
            async fn bump_revision(&mut self) -> Result<Option<i64>, maintenance_core::StoreError> {
                use diesel::prelude::*;
                use diesel_async::RunQueryDsl;
                use schema::maintenance_revision::dsl as r;
                // The update locks the row until commit: writers queue here.
                let bumped = diesel::update(r::maintenance_revision.filter(r::id.eq(REVISION_ID)))
                    .set(r::revision.eq(r::revision + 1))
                    .execute(&mut *self.conn)
                    .await
                    .map_err(store_error)?;
                if bumped == 0 {
                    return Ok(None);
                }
                r::maintenance_revision
                    .filter(r::id.eq(REVISION_ID))
                    .select(r::revision)
                    .first::<i64>(&mut *self.conn)
                    .await
                    .optional()
                    .map_err(store_error)
            }

            async fn record_change(
                &mut self,
                site_id: i64,
                revision: i64,
                removed: bool,
            ) -> Result<(), maintenance_core::StoreError> {
                use diesel::prelude::*;
                use diesel_async::RunQueryDsl;
                use schema::maintenance_site_changes::dsl as c;
                // Delete and insert, which every backend spells the same (an upsert is not):
                // the transaction holds the writers' lock, so no other store writes this row
                // meanwhile.
                diesel::delete(c::maintenance_site_changes.filter(c::site_id.eq(site_id)))
                    .execute(&mut *self.conn)
                    .await
                    .map_err(store_error)?;
                diesel::insert_into(c::maintenance_site_changes)
                    .values((
                        c::site_id.eq(site_id),
                        c::version.eq(revision),
                        c::removed.eq(removed),
                    ))
                    .execute(&mut *self.conn)
                    .await
                    .map(drop)
                    .map_err(store_error)
            }

            async fn site_row(
                &mut self,
                key: &crate::common::SiteKey,
            ) -> Result<Option<crate::common::SiteRow>, maintenance_core::StoreError> {
                use diesel::prelude::*;
                use diesel_async::RunQueryDsl;
                use schema::maintenance_sites::dsl as s;
                let query = s::maintenance_sites
                    .left_join(schema::maintenance_site_scopes::table)
                    .select(site_columns())
                    .into_boxed();
                let query = match key {
                    crate::common::SiteKey::Default => {
                        query.filter(s::is_default.eq(true)).order(s::id).limit(1)
                    }
                    crate::common::SiteKey::Domain(d) => query.filter(s::domain.eq(d.clone())),
                };
                let row: Option<SiteTuple> = query
                    .first(&mut *self.conn)
                    .await
                    .optional()
                    .map_err(store_error)?;
                Ok(row.map(site_row))
            }

            async fn path_rows(
                &mut self,
                site_id: i64,
            ) -> Result<Vec<crate::common::PathRow>, maintenance_core::StoreError> {
                use diesel::prelude::*;
                use diesel_async::RunQueryDsl;
                use schema::maintenance_ignored_paths::dsl as p;
                let rows: Vec<(i64, i64, String, String)> = p::maintenance_ignored_paths
                    .select((p::id, p::site_id, p::pattern, p::description))
                    .filter(p::site_id.eq(site_id))
                    .order(p::id)
                    .load(&mut *self.conn)
                    .await
                    .map_err(store_error)?;
                Ok(rows.into_iter().map(path_row).collect())
            }

            async fn network_rows(
                &mut self,
                site_id: i64,
            ) -> Result<Vec<crate::common::NetworkRow>, maintenance_core::StoreError> {
                use diesel::prelude::*;
                use diesel_async::RunQueryDsl;
                use schema::maintenance_allowed_networks::dsl as n;
                let rows: Vec<(i64, i64, String, String)> = n::maintenance_allowed_networks
                    .select((n::id, n::site_id, n::cidr, n::description))
                    .filter(n::site_id.eq(site_id))
                    .order(n::id)
                    .load(&mut *self.conn)
                    .await
                    .map_err(store_error)?;
                Ok(rows.into_iter().map(network_row).collect())
            }

            async fn insert_site(
                &mut self,
                site: &maintenance_core::SiteState,
            ) -> Result<i64, maintenance_core::StoreError> {
                use diesel::prelude::*;
                use diesel_async::RunQueryDsl;
                use schema::maintenance_sites::dsl as s;
                diesel::insert_into(s::maintenance_sites)
                    .values((
                        s::domain.eq(&site.domain),
                        s::name.eq(&site.name),
                        s::is_default.eq(site.is_default),
                        s::enabled.eq(site.enabled),
                        s::mode.eq(site.mode.as_str()),
                        s::message.eq(site.message.as_deref()),
                        s::starts_at.eq(site.starts_at.map(time_out)),
                        s::ends_at.eq(site.ends_at.map(time_out)),
                        s::retry_after_secs.eq(site.retry_after_secs.map(i64::from)),
                        s::bypass_secret_hash.eq(site.bypass_secret_hash.as_deref()),
                        s::updated_at.eq(site.updated_at.map(time_out)),
                        s::updated_by.eq(site.updated_by.as_deref()),
                    ))
                    .execute(&mut *self.conn)
                    .await
                    .map_err(store_error)?;
                // The domain is unique; reading it back works the same on every backend.
                s::maintenance_sites
                    .filter(s::domain.eq(&site.domain))
                    .select(s::id)
                    .first::<i64>(&mut *self.conn)
                    .await
                    .map_err(store_error)
            }

            async fn delete_site(&mut self, site_id: i64) -> Result<(), maintenance_core::StoreError> {
                use diesel::prelude::*;
                use diesel_async::RunQueryDsl;
                use schema::maintenance_allowed_networks::dsl as n;
                use schema::maintenance_ignored_paths::dsl as p;
                use schema::maintenance_sites::dsl as s;
                // Children first, so this does not depend on ON DELETE CASCADE (SQLite applies
                // it only with foreign keys on).
                diesel::delete(p::maintenance_ignored_paths.filter(p::site_id.eq(site_id)))
                    .execute(&mut *self.conn)
                    .await
                    .map_err(store_error)?;
                diesel::delete(n::maintenance_allowed_networks.filter(n::site_id.eq(site_id)))
                    .execute(&mut *self.conn)
                    .await
                    .map_err(store_error)?;
                diesel::delete(s::maintenance_sites.filter(s::id.eq(site_id)))
                    .execute(&mut *self.conn)
                    .await
                    .map(drop)
                    .map_err(store_error)
            }

            async fn write_scope(
                &mut self,
                site_id: i64,
                patterns: Option<&str>,
            ) -> Result<(), maintenance_core::StoreError> {
                self.write_scopes(&[site_id], patterns).await
            }

            async fn write_scopes(
                &mut self,
                site_ids: &[i64],
                patterns: Option<&str>,
            ) -> Result<(), maintenance_core::StoreError> {
                use diesel::prelude::*;
                use diesel_async::RunQueryDsl;
                use schema::maintenance_site_scopes::dsl as sc;
                diesel::delete(sc::maintenance_site_scopes.filter(sc::site_id.eq_any(site_ids)))
                    .execute(&mut *self.conn)
                    .await
                    .map_err(store_error)?;
                if let Some(patterns) = patterns
                    && !site_ids.is_empty()
                {
                    use diesel::sql_types::{BigInt, Text};
                    let sql = maintenance_sql::bulk::insert_scopes_sql(site_ids.len(), PLACEHOLDER);
                    let mut query = diesel::sql_query(sql).into_boxed::<Db>();
                    for id in site_ids {
                        query = query.bind::<BigInt, _>(*id).bind::<Text, _>(patterns);
                    }
                    query
                        .execute(&mut *self.conn)
                        .await
                        .map_err(store_error)?;
                }
                Ok(())
            }

            async fn update_site(
                &mut self,
                site: &maintenance_core::SiteState,
            ) -> Result<(), maintenance_core::StoreError> {
                use diesel::prelude::*;
                use diesel_async::RunQueryDsl;
                use schema::maintenance_sites::dsl as s;
                diesel::update(s::maintenance_sites.filter(s::id.eq(site.id)))
                    .set((
                        s::enabled.eq(site.enabled),
                        s::mode.eq(site.mode.as_str()),
                        s::message.eq(site.message.as_deref()),
                        s::starts_at.eq(site.starts_at.map(time_out)),
                        s::ends_at.eq(site.ends_at.map(time_out)),
                        s::retry_after_secs.eq(site.retry_after_secs.map(i64::from)),
                        s::bypass_secret_hash.eq(site.bypass_secret_hash.as_deref()),
                        s::updated_at.eq(site.updated_at.map(time_out)),
                        s::updated_by.eq(site.updated_by.as_deref()),
                    ))
                    .execute(&mut *self.conn)
                    .await
                    .map(drop)
                    .map_err(store_error)
            }

            async fn touch_site(
                &mut self,
                site_id: i64,
                at: chrono::DateTime<chrono::Utc>,
                by: &str,
            ) -> Result<(), maintenance_core::StoreError> {
                use diesel::prelude::*;
                use diesel_async::RunQueryDsl;
                use schema::maintenance_sites::dsl as s;
                diesel::update(s::maintenance_sites.filter(s::id.eq(site_id)))
                    .set((s::updated_at.eq(Some(time_out(at))), s::updated_by.eq(Some(by))))
                    .execute(&mut *self.conn)
                    .await
                    .map(drop)
                    .map_err(store_error)
            }

            async fn insert_path(
                &mut self,
                site_id: i64,
                pattern: &str,
                description: &str,
            ) -> Result<(), maintenance_core::StoreError> {
                use diesel::prelude::*;
                use diesel_async::RunQueryDsl;
                use schema::maintenance_ignored_paths::dsl as p;
                diesel::insert_into(p::maintenance_ignored_paths)
                    .values((
                        p::site_id.eq(site_id),
                        p::pattern.eq(pattern),
                        p::description.eq(description),
                    ))
                    .execute(&mut *self.conn)
                    .await
                    .map(drop)
                    .map_err(store_error)
            }

            async fn update_path(
                &mut self,
                id: i64,
                description: &str,
            ) -> Result<(), maintenance_core::StoreError> {
                use diesel::prelude::*;
                use diesel_async::RunQueryDsl;
                use schema::maintenance_ignored_paths::dsl as p;
                diesel::update(p::maintenance_ignored_paths.filter(p::id.eq(id)))
                    .set(p::description.eq(description))
                    .execute(&mut *self.conn)
                    .await
                    .map(drop)
                    .map_err(store_error)
            }

            async fn delete_path(&mut self, id: i64) -> Result<(), maintenance_core::StoreError> {
                use diesel::prelude::*;
                use diesel_async::RunQueryDsl;
                use schema::maintenance_ignored_paths::dsl as p;
                diesel::delete(p::maintenance_ignored_paths.filter(p::id.eq(id)))
                    .execute(&mut *self.conn)
                    .await
                    .map(drop)
                    .map_err(store_error)
            }

            async fn insert_network(
                &mut self,
                site_id: i64,
                cidr: &str,
                description: &str,
            ) -> Result<(), maintenance_core::StoreError> {
                use diesel::prelude::*;
                use diesel_async::RunQueryDsl;
                use schema::maintenance_allowed_networks::dsl as n;
                diesel::insert_into(n::maintenance_allowed_networks)
                    .values((
                        n::site_id.eq(site_id),
                        n::cidr.eq(cidr),
                        n::description.eq(description),
                    ))
                    .execute(&mut *self.conn)
                    .await
                    .map(drop)
                    .map_err(store_error)
            }

            async fn update_network(
                &mut self,
                id: i64,
                description: &str,
            ) -> Result<(), maintenance_core::StoreError> {
                use diesel::prelude::*;
                use diesel_async::RunQueryDsl;
                use schema::maintenance_allowed_networks::dsl as n;
                diesel::update(n::maintenance_allowed_networks.filter(n::id.eq(id)))
                    .set(n::description.eq(description))
                    .execute(&mut *self.conn)
                    .await
                    .map(drop)
                    .map_err(store_error)
            }

            async fn delete_network(&mut self, id: i64) -> Result<(), maintenance_core::StoreError> {
                use diesel::prelude::*;
                use diesel_async::RunQueryDsl;
                use schema::maintenance_allowed_networks::dsl as n;
                diesel::delete(n::maintenance_allowed_networks.filter(n::id.eq(id)))
                    .execute(&mut *self.conn)
                    .await
                    .map(drop)
                    .map_err(store_error)
            }

            async fn insert_event(
                &mut self,
                event: &crate::common::NewEvent<'_>,
            ) -> Result<(), maintenance_core::StoreError> {
                use diesel::prelude::*;
                use diesel_async::RunQueryDsl;
                use schema::maintenance_events::dsl as e;
                diesel::insert_into(e::maintenance_events)
                    .values((
                        e::site_id.eq(event.site_id),
                        e::site_domain.eq(event.site_domain),
                        e::at.eq(time_out(event.at)),
                        e::actor.eq(event.actor),
                        e::action.eq(event.action),
                        e::detail.eq(event.detail),
                    ))
                    .execute(&mut *self.conn)
                    .await
                    .map(drop)
                    .map_err(store_error)
            }

            async fn commit(mut self: Box<Self>) -> Result<(), maintenance_core::StoreError> {
                use diesel_async::{AsyncConnection, TransactionManager};
                <Conn as AsyncConnection>::TransactionManager::commit_transaction(&mut *self.conn)
                    .await
                    .map_err(store_error)
            }

            async fn rollback(mut self: Box<Self>) -> Result<(), maintenance_core::StoreError> {
                use diesel_async::{AsyncConnection, TransactionManager};
                <Conn as AsyncConnection>::TransactionManager::rollback_transaction(
                    &mut *self.conn,
                )
                .await
                .map_err(store_error)
            }

            async fn all_site_rows(
                &mut self,
            ) -> Result<Vec<crate::common::SiteRow>, maintenance_core::StoreError> {
                use diesel::prelude::*;
                use diesel_async::RunQueryDsl;
                use schema::maintenance_sites::dsl as s;
                let rows: Vec<SiteTuple> = s::maintenance_sites
                .left_join(schema::maintenance_site_scopes::table)
                    .select(site_columns())
                    .order(s::id)
                    .load(&mut *self.conn)
                    .await
                    .map_err(store_error)?;
                Ok(rows.into_iter().map(site_row).collect())
            }

            async fn path_rows_of(
                &mut self,
                site_ids: &[i64],
            ) -> Result<Vec<crate::common::PathRow>, maintenance_core::StoreError> {
                use diesel::prelude::*;
                use diesel_async::RunQueryDsl;
                use schema::maintenance_ignored_paths::dsl as p;
                let rows: Vec<(i64, i64, String, String)> = p::maintenance_ignored_paths
                    .select((p::id, p::site_id, p::pattern, p::description))
                    .filter(p::site_id.eq_any(site_ids.to_vec()))
                    .order(p::id)
                    .load(&mut *self.conn)
                    .await
                    .map_err(store_error)?;
                Ok(rows.into_iter().map(path_row).collect())
            }

            async fn network_rows_of(
                &mut self,
                site_ids: &[i64],
            ) -> Result<Vec<crate::common::NetworkRow>, maintenance_core::StoreError> {
                use diesel::prelude::*;
                use diesel_async::RunQueryDsl;
                use schema::maintenance_allowed_networks::dsl as n;
                let rows: Vec<(i64, i64, String, String)> = n::maintenance_allowed_networks
                    .select((n::id, n::site_id, n::cidr, n::description))
                    .filter(n::site_id.eq_any(site_ids.to_vec()))
                    .order(n::id)
                    .load(&mut *self.conn)
                    .await
                    .map_err(store_error)?;
                Ok(rows.into_iter().map(network_row).collect())
            }

            /// The one place this backend writes sites in bulk: one value per
            /// [`maintenance_sql::bulk::SITE_WRITE_COLUMNS`] entry, in that order.
            async fn update_sites(
                &mut self,
                sites: &[maintenance_core::SiteState],
            ) -> Result<(), maintenance_core::StoreError> {
                use diesel::sql_types::{BigInt, Bool, Nullable, Text};
                use diesel_async::RunQueryDsl;
                if sites.is_empty() {
                    return Ok(());
                }
                let sql = maintenance_sql::bulk::upsert_sites_sql(
                    sites.len(),
                    PLACEHOLDER,
                    ON_DUPLICATE_KEY,
                );
                let mut query = diesel::sql_query(sql).into_boxed::<Db>();
                for site in sites {
                    query = query
                        .bind::<BigInt, _>(site.id)
                        .bind::<Text, _>(site.domain.clone())
                        .bind::<Text, _>(site.name.clone())
                        .bind::<Bool, _>(site.is_default)
                        .bind::<Bool, _>(site.enabled)
                        .bind::<Text, _>(site.mode.as_str())
                        .bind::<Nullable<Text>, _>(site.message.clone())
                        .bind::<Nullable<TimeSql>, _>(site.starts_at.map(time_out))
                        .bind::<Nullable<TimeSql>, _>(site.ends_at.map(time_out))
                        .bind::<Nullable<BigInt>, _>(site.retry_after_secs.map(i64::from))
                        .bind::<Nullable<Text>, _>(site.bypass_secret_hash.clone())
                        .bind::<Nullable<TimeSql>, _>(site.updated_at.map(time_out))
                        .bind::<Nullable<Text>, _>(site.updated_by.clone());
                }
                query
                    .execute(&mut *self.conn)
                    .await
                    .map(drop)
                    .map_err(store_error)
            }

            async fn record_changes(
                &mut self,
                site_ids: &[i64],
                revision: i64,
            ) -> Result<(), maintenance_core::StoreError> {
                use diesel::sql_types::BigInt;
                use diesel_async::RunQueryDsl;
                if site_ids.is_empty() {
                    return Ok(());
                }
                let sql = maintenance_sql::bulk::record_changes_sql(
                    site_ids.len(),
                    PLACEHOLDER,
                    ON_DUPLICATE_KEY,
                );
                let mut query = diesel::sql_query(sql).into_boxed::<Db>();
                for id in site_ids {
                    query = query.bind::<BigInt, _>(*id).bind::<BigInt, _>(revision);
                }
                query
                    .execute(&mut *self.conn)
                    .await
                    .map(drop)
                    .map_err(store_error)
            }

            async fn insert_events(
                &mut self,
                events: &[crate::common::NewEvent<'_>],
            ) -> Result<(), maintenance_core::StoreError> {
                use diesel::sql_types::{BigInt, Nullable, Text};
                use diesel_async::RunQueryDsl;
                if events.is_empty() {
                    return Ok(());
                }
                let sql = maintenance_sql::bulk::insert_events_sql(events.len(), PLACEHOLDER);
                let mut query = diesel::sql_query(sql).into_boxed::<Db>();
                for event in events {
                    query = query
                        .bind::<Nullable<BigInt>, _>(event.site_id)
                        .bind::<Nullable<Text>, _>(event.site_domain.map(str::to_owned))
                        .bind::<TimeSql, _>(time_out(event.at))
                        .bind::<Text, _>(event.actor.to_owned())
                        .bind::<Text, _>(event.action.to_owned())
                        .bind::<Text, _>(event.detail.to_owned());
                }
                query
                    .execute(&mut *self.conn)
                    .await
                    .map(drop)
                    .map_err(store_error)
            }
        }
    };
}
pub(crate) use impl_engine;
