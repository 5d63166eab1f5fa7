//! The store on every diesel backend, written once: [`Sql`] runs the reads and opens writes,
//! [`Write`] is one write transaction, both over [`Driver`], which says what differs.
//!
//! The statements are maintenance-sql's ([`Statements`]), spelt for the backend's dialect and
//! run with `sql_query`, their parameters bound in the same order everywhere; the steps of
//! each write (validate, lock, change, audit, commit) are maintenance-sql's too
//! ([`maintenance_sql::engine`]). What a backend brings is in its [`Driver`] impl: its
//! connection, how it opens its transactions, its timestamps, and its change feed, if it has
//! one. maintenance-sqlx runs the same statements, so both stores read and write the same
//! rows the same way.
//!
//! diesel states what a backend can bind and read as bounds on its types; the impls here
//! repeat them (the `where` clauses), and a backend that lacks one is refused by the compiler
//! at its store's type.

use std::future::Future;
use std::ops::DerefMut;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql, QueryableByName};
use diesel::query_builder::{BoxedSqlQuery, QueryFragment, SqlQuery};
use diesel::row::NamedRow;
use diesel::serialize::ToSql;
use diesel::sql_types::{
    BigInt, Bool, HasSqlType, Nullable, SingleValue, SqlType, Text, is_nullable,
};
use diesel::{OptionalExtension, QueryResult};
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, PoolableConnection};
use diesel_async::{AsyncConnection, RunQueryDsl, TransactionManager};
use maintenance_core::store::ChangeFeed;
use maintenance_core::{Event, SiteQuery, SiteState, StoreError};
use maintenance_sql::bulk::{self, CHUNK};
use maintenance_sql::engine::{ChangeRows, MAX_CHANGED_SITES, WriteTx};
use maintenance_sql::listing::{self, Bind, Dialect};
use maintenance_sql::statements::{
    Param, SITE_COLUMNS, Statements, event_params, insert_site_params, update_site_params,
    upsert_site_params,
};

use crate::common::{
    NetworkRow, NewEvent, PathRow, Rows, SiteKey, SiteRow, event_from_parts, lenient_time,
};
use crate::error::Error;

/// What a diesel backend brings to the store: its connection, its dialect, its transactions,
/// its timestamps.
pub(crate) trait Driver: Send + Sync + Sized + 'static {
    /// diesel's backend.
    type Db: Backend
        + HasSqlType<BigInt>
        + HasSqlType<Text>
        + HasSqlType<Bool>
        + HasSqlType<Self::TimeSql>;
    /// The connection of the store's pool.
    type Conn: AsyncConnection<Backend = Self::Db> + Send + 'static;
    /// The store's pool.
    type Pool: Clone + Send + Sync + 'static;
    /// A connection taken from the pool, which goes back to it when dropped.
    type Pooled: DerefMut<Target = Self::Conn> + Send + 'static;
    /// The SQL type of a timestamp column.
    type TimeSql: SingleValue + SqlType<IsNull = is_nullable::NotNull> + Send + 'static;
    /// A timestamp as it is read.
    type TimeIn: FromSql<Self::TimeSql, Self::Db> + Send + 'static;
    /// A timestamp as it is bound.
    type TimeOut: ToSql<Self::TimeSql, Self::Db> + Send + 'static;

    /// The backend's name in errors and logs (`PostgreSQL`).
    const NAME: &'static str;
    /// The SQL dialect its statements are written in.
    const DIALECT: Dialect;

    /// A timestamp as read: `Err` with what was found when it is not a time the model holds.
    fn time_in(value: Self::TimeIn) -> Result<DateTime<Utc>, String>;
    /// A timestamp as it is bound.
    fn time_out(t: DateTime<Utc>) -> Self::TimeOut;

    /// A connection of `pool` ([`pooled`] does it for diesel-async's pools).
    fn connection(pool: &Self::Pool) -> impl Future<Output = Result<Self::Pooled, Error>> + Send;

    /// Begins a write transaction on `conn`. Writers then queue on the revision row, which
    /// every write updates first.
    fn begin_write(conn: &mut Self::Conn) -> impl Future<Output = QueryResult<()>> + Send;

    /// Begins, on `conn`, the transaction of a read that must see one consistent state (a
    /// whole load, the changes since a revision, a listing page and its count).
    fn begin_read(conn: &mut Self::Conn) -> impl Future<Output = QueryResult<()>> + Send;

    /// The backend's change feed; `None` (the default) when handles poll.
    fn change_feed(
        pool: &Self::Pool,
    ) -> impl Future<Output = Result<Option<ChangeFeed>, StoreError>> + Send {
        let _ = pool;
        async { Ok(None) }
    }
}

/// A connection of a diesel-async pool, its error named after `backend`.
pub(crate) async fn pooled<C>(pool: &Pool<C>, backend: &'static str) -> Result<Object<C>, Error>
where
    C: PoolableConnection + 'static,
    AsyncDieselConnectionManager<C>: deadpool::managed::Manager<Type = C>,
    <AsyncDieselConnectionManager<C> as deadpool::managed::Manager>::Error:
        std::error::Error + Send + Sync + 'static,
{
    pool.get().await.map_err(|e| Error::Pool {
        backend,
        source: Box::new(e),
    })
}

/// A statement with its parameters, as every query here is built.
type Query<D> = BoxedSqlQuery<'static, <D as Driver>::Db, SqlQuery>;

/// `sql`, ready for its parameters.
fn query<D: Driver>(sql: impl Into<String>) -> Query<D> {
    diesel::sql_query(sql).into_boxed()
}

/// A diesel error as the store reports it.
pub(crate) fn query_error<D: Driver>(source: diesel::result::Error) -> Error {
    Error::Query {
        backend: D::NAME,
        source,
    }
}

/// A diesel error as the core's store traits report it.
fn store_error<D: Driver>(source: diesel::result::Error) -> StoreError {
    query_error::<D>(source).into()
}

/// A site row as the statements select it ([`SITE_COLUMNS`]), timestamps as the backend
/// reads them.
struct SiteRecord<D: Driver> {
    id: i64,
    domain: String,
    name: String,
    is_default: bool,
    enabled: bool,
    mode: String,
    message: Option<String>,
    starts_at: Option<D::TimeIn>,
    ends_at: Option<D::TimeIn>,
    retry_after_secs: Option<i64>,
    bypass_secret_hash: Option<String>,
    updated_at: Option<D::TimeIn>,
    updated_by: Option<String>,
    scope_patterns: Option<String>,
}

impl<D: Driver> QueryableByName<D::Db> for SiteRecord<D>
where
    i64: FromSql<BigInt, D::Db>,
    bool: FromSql<Bool, D::Db>,
    String: FromSql<Text, D::Db>,
{
    fn build<'a>(row: &impl NamedRow<'a, D::Db>) -> deserialize::Result<Self> {
        let time = |column| NamedRow::get::<Nullable<D::TimeSql>, _>(row, column);
        Ok(SiteRecord {
            id: NamedRow::get::<BigInt, _>(row, "id")?,
            domain: NamedRow::get::<Text, _>(row, "domain")?,
            name: NamedRow::get::<Text, _>(row, "name")?,
            is_default: NamedRow::get::<Bool, _>(row, "is_default")?,
            enabled: NamedRow::get::<Bool, _>(row, "enabled")?,
            mode: NamedRow::get::<Text, _>(row, "mode")?,
            message: NamedRow::get::<Nullable<Text>, _>(row, "message")?,
            starts_at: time("starts_at")?,
            ends_at: time("ends_at")?,
            retry_after_secs: NamedRow::get::<Nullable<BigInt>, _>(row, "retry_after_secs")?,
            bypass_secret_hash: NamedRow::get::<Nullable<Text>, _>(row, "bypass_secret_hash")?,
            updated_at: time("updated_at")?,
            updated_by: NamedRow::get::<Nullable<Text>, _>(row, "updated_by")?,
            scope_patterns: NamedRow::get::<Nullable<Text>, _>(row, "scope_patterns")?,
        })
    }
}

impl<D: Driver> SiteRecord<D> {
    /// The row, a timestamp that cannot be read logged and read as unset.
    fn into_row(self) -> SiteRow {
        const TABLE: &str = "maintenance_sites";
        let id = self.id;
        let time = |column: &'static str, v: Option<D::TimeIn>| {
            lenient_time(TABLE, id, column, v.map(D::time_in))
        };
        SiteRow {
            id,
            domain: self.domain,
            name: self.name,
            is_default: self.is_default,
            enabled: self.enabled,
            mode: self.mode,
            message: self.message,
            starts_at: time("starts_at", self.starts_at),
            ends_at: time("ends_at", self.ends_at),
            retry_after_secs: self.retry_after_secs,
            bypass_secret_hash: self.bypass_secret_hash,
            updated_at: time("updated_at", self.updated_at),
            updated_by: self.updated_by,
            scope_patterns: self.scope_patterns,
        }
    }
}

/// An ignored-path row.
#[derive(QueryableByName)]
struct PathRecord {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = BigInt)]
    site_id: i64,
    #[diesel(sql_type = Text)]
    pattern: String,
    #[diesel(sql_type = Text)]
    description: String,
}

impl From<PathRecord> for PathRow {
    fn from(r: PathRecord) -> Self {
        PathRow {
            id: r.id,
            site_id: r.site_id,
            pattern: r.pattern,
            description: r.description,
        }
    }
}

/// An allowed-network row.
#[derive(QueryableByName)]
struct NetworkRecord {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = BigInt)]
    site_id: i64,
    #[diesel(sql_type = Text)]
    cidr: String,
    #[diesel(sql_type = Text)]
    description: String,
}

impl From<NetworkRecord> for NetworkRow {
    fn from(r: NetworkRecord) -> Self {
        NetworkRow {
            id: r.id,
            site_id: r.site_id,
            cidr: r.cidr,
            description: r.description,
        }
    }
}

/// An audit event as read back.
struct EventRecord<D: Driver> {
    id: i64,
    site_domain: Option<String>,
    at: D::TimeIn,
    actor: String,
    action: String,
    detail: String,
}

impl<D: Driver> QueryableByName<D::Db> for EventRecord<D>
where
    i64: FromSql<BigInt, D::Db>,
    String: FromSql<Text, D::Db>,
{
    fn build<'a>(row: &impl NamedRow<'a, D::Db>) -> deserialize::Result<Self> {
        Ok(EventRecord {
            id: NamedRow::get::<BigInt, _>(row, "id")?,
            site_domain: NamedRow::get::<Nullable<Text>, _>(row, "site_domain")?,
            at: NamedRow::get::<D::TimeSql, _>(row, "at")?,
            actor: NamedRow::get::<Text, _>(row, "actor")?,
            action: NamedRow::get::<Text, _>(row, "action")?,
            detail: NamedRow::get::<Text, _>(row, "detail")?,
        })
    }
}

/// The revision.
#[derive(QueryableByName)]
struct RevisionRecord {
    #[diesel(sql_type = BigInt)]
    revision: i64,
}

/// A site's domain.
#[derive(QueryableByName)]
struct DomainRecord {
    #[diesel(sql_type = Text)]
    domain: String,
}

/// A site's id.
#[derive(QueryableByName)]
struct IdRecord {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// A count (`COUNT(*) AS total`).
#[derive(QueryableByName)]
pub(crate) struct CountRecord {
    #[diesel(sql_type = BigInt)]
    pub(crate) total: i64,
}

/// A site recorded as changed.
#[derive(QueryableByName)]
struct ChangeRecord {
    #[diesel(sql_type = BigInt)]
    site_id: i64,
    #[diesel(sql_type = Bool)]
    removed: bool,
}

/// The reads of a store on backend `D`, and how it opens its writes: the
/// [`Engine`](maintenance_sql::engine::Engine) of the public store types.
pub(crate) struct Sql<D: Driver> {
    pub(crate) pool: D::Pool,
}

impl<D: Driver> Clone for Sql<D> {
    fn clone(&self) -> Self {
        Sql {
            pool: self.pool.clone(),
        }
    }
}

impl<D: Driver> std::fmt::Debug for Sql<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sql").finish_non_exhaustive()
    }
}

impl<D: Driver> Sql<D> {
    pub(crate) fn new(pool: D::Pool) -> Self {
        Sql { pool }
    }

    fn statements() -> &'static Statements {
        Statements::of(D::DIALECT)
    }

    /// A connection of the pool.
    pub(crate) async fn conn(&self) -> Result<D::Pooled, Error> {
        D::connection(&self.pool).await
    }
}

/// Ends the read transaction `conn` holds: committed when the read succeeded; rolled back
/// otherwise, and the read's error returned (a rollback that fails too, as it does on a lost
/// connection, adds nothing; the pool drops a connection left broken).
async fn end_read<D: Driver, T>(
    conn: &mut D::Conn,
    result: QueryResult<T>,
) -> Result<T, StoreError> {
    type Tm<D> = <<D as Driver>::Conn as AsyncConnection>::TransactionManager;
    match result {
        Ok(value) => {
            Tm::<D>::commit_transaction(conn)
                .await
                .map_err(store_error::<D>)?;
            Ok(value)
        }
        Err(e) => {
            if let Err(rollback) = Tm::<D>::rollback_transaction(conn).await {
                tracing::debug!(error = %rollback, "could not roll back a read transaction");
            }
            Err(store_error::<D>(e))
        }
    }
}

/// The site, path and network rows of the sites `ids` (any number, read [`CHUNK`] at a time),
/// each in id order.
async fn rows_of_sites<D: Driver>(conn: &mut D::Conn, ids: &[i64]) -> QueryResult<Rows>
where
    Query<D>: QueryFragment<D::Db>,
    i64: ToSql<BigInt, D::Db> + FromSql<BigInt, D::Db>,
    bool: FromSql<Bool, D::Db>,
    String: FromSql<Text, D::Db>,
{
    let s = Statements::of(D::DIALECT);
    let with_ids = |sql: String, ids: &[i64]| {
        ids.iter()
            .fold(query::<D>(sql), |q, id| q.bind::<BigInt, _>(*id))
    };
    let mut rows = Rows::default();
    for chunk in ids.chunks(CHUNK) {
        let n = chunk.len();
        let sites: Vec<SiteRecord<D>> = with_ids(s.select_sites_in(n), chunk).load(conn).await?;
        rows.sites
            .extend(sites.into_iter().map(SiteRecord::into_row));
        let paths: Vec<PathRecord> = with_ids(s.select_paths_in(n), chunk).load(conn).await?;
        rows.paths.extend(paths.into_iter().map(PathRow::from));
        let networks: Vec<NetworkRecord> =
            with_ids(s.select_networks_in(n), chunk).load(conn).await?;
        rows.networks
            .extend(networks.into_iter().map(NetworkRow::from));
    }
    rows.sites.sort_by_key(|r| r.id);
    rows.paths.sort_by_key(|r| r.id);
    rows.networks.sort_by_key(|r| r.id);
    Ok(rows)
}

/// The revision, if its row is there.
async fn read_revision<D: Driver>(conn: &mut D::Conn) -> QueryResult<Option<i64>>
where
    Query<D>: QueryFragment<D::Db>,
    i64: FromSql<BigInt, D::Db>,
{
    let sql = Statements::of(D::DIALECT).select_revision.as_str();
    let row: Option<RevisionRecord> = query::<D>(sql).get_result(conn).await.optional()?;
    Ok(row.map(|r| r.revision))
}

/// Every row, with the revision.
async fn read_all_rows<D: Driver>(conn: &mut D::Conn) -> QueryResult<Rows>
where
    Query<D>: QueryFragment<D::Db>,
    i64: FromSql<BigInt, D::Db>,
    bool: FromSql<Bool, D::Db>,
    String: FromSql<Text, D::Db>,
{
    let s = Statements::of(D::DIALECT);
    let revision = read_revision::<D>(conn).await?;
    let sites: Vec<SiteRecord<D>> = query::<D>(s.select_sites.as_str()).load(conn).await?;
    let paths: Vec<PathRecord> = query::<D>(s.select_paths.as_str()).load(conn).await?;
    let networks: Vec<NetworkRecord> = query::<D>(s.select_networks.as_str()).load(conn).await?;
    Ok(Rows {
        revision,
        sites: sites.into_iter().map(SiteRecord::into_row).collect(),
        paths: paths.into_iter().map(PathRow::from).collect(),
        networks: networks.into_iter().map(NetworkRow::from).collect(),
    })
}

/// The ids recorded after `since`, then the rows of those sites by id (indexed lookups,
/// whatever the table statistics say). `None` when more sites changed than reading them one
/// by one is worth ([`MAX_CHANGED_SITES`]): the handle then reads everything.
async fn read_change_rows<D: Driver>(
    conn: &mut D::Conn,
    since: i64,
) -> QueryResult<Option<ChangeRows>>
where
    Query<D>: QueryFragment<D::Db>,
    i64: ToSql<BigInt, D::Db> + FromSql<BigInt, D::Db>,
    bool: FromSql<Bool, D::Db>,
    String: FromSql<Text, D::Db>,
{
    let s = Statements::of(D::DIALECT);
    let revision = read_revision::<D>(conn).await?;
    let recorded: Vec<ChangeRecord> = query::<D>(s.select_changes_since.as_str())
        .bind::<BigInt, _>(since)
        .load(conn)
        .await?;
    if recorded.len() > MAX_CHANGED_SITES {
        return Ok(None);
    }
    let recorded: Vec<(i64, bool)> = recorded
        .into_iter()
        .map(|r| (r.site_id, r.removed))
        .collect();
    let ids: Vec<i64> = recorded.iter().map(|(id, _)| *id).collect();
    let rows = rows_of_sites::<D>(conn, &ids).await?;
    Ok(Some(ChangeRows {
        rows: Rows { revision, ..rows },
        recorded,
    }))
}

/// The statement `sql` with a listing's `WHERE` parameters bound.
fn listing_query<D: Driver>(sql: String, binds: &[Bind]) -> Query<D>
where
    String: ToSql<Text, D::Db>,
{
    binds.iter().fold(query::<D>(sql), |q, bind| match bind {
        Bind::Text(text) => q.bind::<Text, _>(text.clone()),
        Bind::Time(t) => q.bind::<D::TimeSql, _>(D::time_out(*t)),
    })
}

/// The rows of the page `query` selects, in listing order, and how many sites match in all.
async fn read_listing_rows<D: Driver>(
    conn: &mut D::Conn,
    query: &SiteQuery,
) -> QueryResult<(u64, Rows)>
where
    Query<D>: QueryFragment<D::Db>,
    i64: ToSql<BigInt, D::Db> + FromSql<BigInt, D::Db>,
    bool: FromSql<Bool, D::Db>,
    String: ToSql<Text, D::Db> + FromSql<Text, D::Db>,
{
    let sql = listing::listing_sql(query, D::DIALECT, D::DIALECT.placeholder());
    let total: CountRecord = listing_query::<D>(sql.count_sql(), &sql.binds)
        .get_result(conn)
        .await?;
    let sites: Vec<SiteRecord<D>> = listing_query::<D>(sql.page_sql(SITE_COLUMNS), &sql.binds)
        .load(conn)
        .await?;
    let sites: Vec<SiteRow> = sites.into_iter().map(SiteRecord::into_row).collect();
    let ids: Vec<i64> = sites.iter().map(|s| s.id).collect();
    let of_sites = rows_of_sites::<D>(conn, &ids).await?;
    Ok((
        u64::try_from(total.total).unwrap_or(0),
        Rows {
            revision: None,
            // In listing order, as the page statement gave them.
            sites,
            paths: of_sites.paths,
            networks: of_sites.networks,
        },
    ))
}

#[async_trait]
impl<D: Driver> maintenance_sql::engine::Engine for Sql<D>
where
    Query<D>: QueryFragment<D::Db>,
    i64: ToSql<BigInt, D::Db> + FromSql<BigInt, D::Db>,
    bool: ToSql<Bool, D::Db> + FromSql<Bool, D::Db>,
    String: ToSql<Text, D::Db> + FromSql<Text, D::Db>,
{
    async fn begin_write(&self) -> Result<Box<dyn WriteTx + '_>, StoreError> {
        let mut conn = self.conn().await?;
        D::begin_write(&mut conn).await.map_err(store_error::<D>)?;
        Ok(Box::new(Write::<D> { conn }))
    }

    async fn read_all(&self) -> Result<Rows, StoreError> {
        let mut conn = self.conn().await?;
        D::begin_read(&mut conn).await.map_err(store_error::<D>)?;
        let result = read_all_rows::<D>(&mut conn).await;
        end_read::<D, _>(&mut conn, result).await
    }

    async fn read_changes(&self, since: i64) -> Result<Option<ChangeRows>, StoreError> {
        let mut conn = self.conn().await?;
        D::begin_read(&mut conn).await.map_err(store_error::<D>)?;
        let result = read_change_rows::<D>(&mut conn, since).await;
        end_read::<D, _>(&mut conn, result).await
    }

    async fn read_revision(&self) -> Result<Option<i64>, StoreError> {
        let mut conn = self.conn().await?;
        read_revision::<D>(&mut conn)
            .await
            .map_err(store_error::<D>)
    }

    async fn read_site_domain(&self, key: &SiteKey) -> Result<Option<String>, StoreError> {
        let s = Self::statements();
        let mut conn = self.conn().await?;
        let query = match key {
            SiteKey::Default => query::<D>(s.select_default_domain.as_str()),
            SiteKey::Domain(d) => query::<D>(s.select_domain.as_str()).bind::<Text, _>(d.clone()),
        };
        let row: Option<DomainRecord> = query
            .get_result(&mut conn)
            .await
            .optional()
            .map_err(store_error::<D>)?;
        Ok(row.map(|r| r.domain))
    }

    async fn read_events(
        &self,
        domain: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Event>, StoreError> {
        let s = Self::statements();
        let mut conn = self.conn().await?;
        let query = match domain {
            Some(d) => query::<D>(s.select_site_events.as_str())
                .bind::<Text, _>(d.to_owned())
                .bind::<BigInt, _>(limit),
            None => query::<D>(s.select_events.as_str()).bind::<BigInt, _>(limit),
        };
        let rows: Vec<EventRecord<D>> = query.load(&mut conn).await.map_err(store_error::<D>)?;
        Ok(rows
            .into_iter()
            .filter_map(|r| {
                let at = D::time_in(r.at);
                event_from_parts(r.id, r.site_domain, at, r.actor, r.action, r.detail)
            })
            .collect())
    }

    async fn change_feed(&self) -> Result<Option<ChangeFeed>, StoreError> {
        D::change_feed(&self.pool).await
    }

    fn no_revision_row(&self) -> StoreError {
        crate::common::no_revision_row()
    }

    async fn read_listing(&self, query: &SiteQuery) -> Result<Option<(u64, Rows)>, StoreError> {
        let mut conn = self.conn().await?;
        D::begin_read(&mut conn).await.map_err(store_error::<D>)?;
        let result = read_listing_rows::<D>(&mut conn, query).await;
        end_read::<D, _>(&mut conn, result).await.map(Some)
    }
}

/// One write transaction on backend `D`, ended by [`WriteTx::commit`] or
/// [`WriteTx::rollback`].
pub(crate) struct Write<D: Driver> {
    conn: D::Pooled,
}

/// `query` with `params` bound, in order, each as this backend takes it.
fn bind_all<'p, D: Driver>(query: Query<D>, params: impl IntoIterator<Item = Param<'p>>) -> Query<D>
where
    i64: ToSql<BigInt, D::Db>,
    bool: ToSql<Bool, D::Db>,
    String: ToSql<Text, D::Db>,
{
    params.into_iter().fold(query, |q, param| match param {
        Param::Int(v) => q.bind::<BigInt, _>(v),
        Param::OptInt(v) => q.bind::<Nullable<BigInt>, _>(v),
        Param::Bool(v) => q.bind::<Bool, _>(v),
        Param::Text(v) => q.bind::<Text, _>(v.to_owned()),
        Param::OptText(v) => q.bind::<Nullable<Text>, _>(v.map(str::to_owned)),
        Param::Time(t) => q.bind::<D::TimeSql, _>(D::time_out(t)),
        Param::OptTime(t) => q.bind::<Nullable<D::TimeSql>, _>(t.map(D::time_out)),
    })
}

impl<D: Driver> Write<D>
where
    Query<D>: QueryFragment<D::Db>,
    i64: ToSql<BigInt, D::Db>,
    bool: ToSql<Bool, D::Db>,
    String: ToSql<Text, D::Db>,
{
    /// Runs `sql` with `params`.
    async fn run<'p>(
        &mut self,
        sql: impl Into<String>,
        params: impl IntoIterator<Item = Param<'p>>,
    ) -> Result<(), StoreError> {
        bind_all::<D>(query::<D>(sql), params)
            .execute(&mut *self.conn)
            .await
            .map(drop)
            .map_err(store_error::<D>)
    }
}

#[async_trait]
impl<D: Driver> WriteTx for Write<D>
where
    Query<D>: QueryFragment<D::Db>,
    i64: ToSql<BigInt, D::Db> + FromSql<BigInt, D::Db>,
    bool: ToSql<Bool, D::Db> + FromSql<Bool, D::Db>,
    String: ToSql<Text, D::Db> + FromSql<Text, D::Db>,
{
    async fn bump_revision(&mut self) -> Result<Option<i64>, StoreError> {
        let s = Sql::<D>::statements();
        // The update locks the row until commit: writers queue here.
        let row: Option<RevisionRecord> = match &s.bump_revision_returning {
            Some(sql) => query::<D>(sql.as_str())
                .get_result(&mut *self.conn)
                .await
                .optional()
                .map_err(store_error::<D>)?,
            None => {
                self.run(s.bump_revision.as_str(), []).await?;
                query::<D>(s.select_revision.as_str())
                    .get_result(&mut *self.conn)
                    .await
                    .optional()
                    .map_err(store_error::<D>)?
            }
        };
        Ok(row.map(|r| r.revision))
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
        self.run(Sql::<D>::statements().record_change.as_str(), params)
            .await
    }

    async fn site_row(&mut self, key: &SiteKey) -> Result<Option<SiteRow>, StoreError> {
        let s = Sql::<D>::statements();
        let query = match key {
            SiteKey::Default => query::<D>(s.select_default_site.as_str()),
            SiteKey::Domain(d) => {
                query::<D>(s.select_site_by_domain.as_str()).bind::<Text, _>(d.clone())
            }
        };
        let row: Option<SiteRecord<D>> = query
            .get_result(&mut *self.conn)
            .await
            .optional()
            .map_err(store_error::<D>)?;
        Ok(row.map(SiteRecord::into_row))
    }

    async fn path_rows(&mut self, site_id: i64) -> Result<Vec<PathRow>, StoreError> {
        let s = Sql::<D>::statements();
        let rows: Vec<PathRecord> = query::<D>(s.select_site_paths.as_str())
            .bind::<BigInt, _>(site_id)
            .load(&mut *self.conn)
            .await
            .map_err(store_error::<D>)?;
        Ok(rows.into_iter().map(PathRow::from).collect())
    }

    async fn network_rows(&mut self, site_id: i64) -> Result<Vec<NetworkRow>, StoreError> {
        let s = Sql::<D>::statements();
        let rows: Vec<NetworkRecord> = query::<D>(s.select_site_networks.as_str())
            .bind::<BigInt, _>(site_id)
            .load(&mut *self.conn)
            .await
            .map_err(store_error::<D>)?;
        Ok(rows.into_iter().map(NetworkRow::from).collect())
    }

    /// Inserts the site, then reads its id back by its domain (unique), the same on every
    /// backend.
    async fn insert_site(&mut self, site: &SiteState) -> Result<i64, StoreError> {
        let s = Sql::<D>::statements();
        self.run(s.insert_site.as_str(), insert_site_params(site))
            .await?;
        let id: IdRecord = query::<D>(s.select_site_id.as_str())
            .bind::<Text, _>(site.domain.clone())
            .get_result(&mut *self.conn)
            .await
            .map_err(store_error::<D>)?;
        Ok(id.id)
    }

    async fn delete_site(&mut self, site_id: i64) -> Result<(), StoreError> {
        let s = Sql::<D>::statements();
        // Children first, so this does not depend on ON DELETE CASCADE (SQLite applies it only
        // with foreign keys on).
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
        let sql = Sql::<D>::statements().update_site.as_str();
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
        let placeholder = D::DIALECT.placeholder();
        let ids = site_ids.iter().map(|id| Param::Int(*id));
        self.run(bulk::delete_scopes_sql(site_ids.len(), placeholder), ids)
            .await?;
        if let Some(patterns) = patterns {
            let sql = bulk::insert_scopes_sql(site_ids.len(), placeholder);
            let params = site_ids
                .iter()
                .flat_map(|id| [Param::Int(*id), Param::Text(patterns)]);
            self.run(sql, params).await?;
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
        self.run(Sql::<D>::statements().touch_site.as_str(), params)
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
        self.run(Sql::<D>::statements().insert_path.as_str(), params)
            .await
    }

    async fn update_path(&mut self, id: i64, description: &str) -> Result<(), StoreError> {
        let params = [Param::Text(description), Param::Int(id)];
        self.run(Sql::<D>::statements().update_path.as_str(), params)
            .await
    }

    async fn delete_path(&mut self, id: i64) -> Result<(), StoreError> {
        self.run(
            Sql::<D>::statements().delete_path.as_str(),
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
        self.run(Sql::<D>::statements().insert_network.as_str(), params)
            .await
    }

    async fn update_network(&mut self, id: i64, description: &str) -> Result<(), StoreError> {
        let params = [Param::Text(description), Param::Int(id)];
        self.run(Sql::<D>::statements().update_network.as_str(), params)
            .await
    }

    async fn delete_network(&mut self, id: i64) -> Result<(), StoreError> {
        self.run(
            Sql::<D>::statements().delete_network.as_str(),
            [Param::Int(id)],
        )
        .await
    }

    async fn insert_event(&mut self, event: &NewEvent<'_>) -> Result<(), StoreError> {
        self.insert_events(std::slice::from_ref(event)).await
    }

    async fn commit(mut self: Box<Self>) -> Result<(), StoreError> {
        <D::Conn as AsyncConnection>::TransactionManager::commit_transaction(&mut *self.conn)
            .await
            .map_err(store_error::<D>)
    }

    async fn rollback(mut self: Box<Self>) -> Result<(), StoreError> {
        <D::Conn as AsyncConnection>::TransactionManager::rollback_transaction(&mut *self.conn)
            .await
            .map_err(store_error::<D>)
    }

    async fn all_site_rows(&mut self) -> Result<Vec<SiteRow>, StoreError> {
        let s = Sql::<D>::statements();
        let rows: Vec<SiteRecord<D>> = query::<D>(s.select_sites.as_str())
            .load(&mut *self.conn)
            .await
            .map_err(store_error::<D>)?;
        Ok(rows.into_iter().map(SiteRecord::into_row).collect())
    }

    async fn path_rows_of(&mut self, site_ids: &[i64]) -> Result<Vec<PathRow>, StoreError> {
        if site_ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = Sql::<D>::statements().select_paths_in(site_ids.len());
        let query = site_ids
            .iter()
            .fold(query::<D>(sql), |q, id| q.bind::<BigInt, _>(*id));
        let rows: Vec<PathRecord> = query
            .load(&mut *self.conn)
            .await
            .map_err(store_error::<D>)?;
        Ok(rows.into_iter().map(PathRow::from).collect())
    }

    async fn network_rows_of(&mut self, site_ids: &[i64]) -> Result<Vec<NetworkRow>, StoreError> {
        if site_ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = Sql::<D>::statements().select_networks_in(site_ids.len());
        let query = site_ids
            .iter()
            .fold(query::<D>(sql), |q, id| q.bind::<BigInt, _>(*id));
        let rows: Vec<NetworkRecord> = query
            .load(&mut *self.conn)
            .await
            .map_err(store_error::<D>)?;
        Ok(rows.into_iter().map(NetworkRow::from).collect())
    }

    /// The one place sites are written in bulk: one value per
    /// [`bulk::SITE_WRITE_COLUMNS`] entry, in that order.
    async fn update_sites(&mut self, sites: &[SiteState]) -> Result<(), StoreError> {
        if sites.is_empty() {
            return Ok(());
        }
        let dialect = D::DIALECT;
        let sql = bulk::upsert_sites_sql(
            sites.len(),
            dialect.placeholder(),
            dialect.on_duplicate_key(),
        );
        self.run(sql, sites.iter().flat_map(upsert_site_params))
            .await
    }

    async fn record_changes(&mut self, site_ids: &[i64], revision: i64) -> Result<(), StoreError> {
        if site_ids.is_empty() {
            return Ok(());
        }
        let dialect = D::DIALECT;
        let sql = bulk::record_changes_sql(
            site_ids.len(),
            dialect.placeholder(),
            dialect.on_duplicate_key(),
        );
        let params = site_ids
            .iter()
            .flat_map(|id| [Param::Int(*id), Param::Int(revision)]);
        self.run(sql, params).await
    }

    /// One value per [`bulk::EVENT_COLUMNS`] entry, in that order.
    async fn insert_events(&mut self, events: &[NewEvent<'_>]) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        let sql = bulk::insert_events_sql(events.len(), D::DIALECT.placeholder());
        self.run(sql, events.iter().flat_map(event_params)).await
    }
}
