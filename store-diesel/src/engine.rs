//! The store on every diesel backend: [`Sql`] opens connections and transactions, and [`On`]
//! runs maintenance-sql's statements on one of them (with `sql_query`), as its [`SqlConn`].
//! Everything a store reads and writes is written once, over [`SqlConn`], in
//! [`maintenance_sql::conn`] (and each write's steps in [`maintenance_sql::engine`]), so this
//! store and maintenance-sqlx send the same SQL. What differs between backends is in each
//! one's [`Driver`] impl: its connection and pool, how it opens its transactions, its
//! timestamps, and its change feed, if it has one.
//!
//! diesel states what a backend can bind and read as bounds on its types; the impls here
//! repeat them (the `where` clauses), and a backend that lacks one is refused by the compiler
//! at its store's type.

use std::future::Future;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

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
use maintenance_core::{Event, StoreError};
use maintenance_sql::conn::{SqlConn, SqlWrite};
use maintenance_sql::engine::{ReadJob, WriteTx};
use maintenance_sql::feed_conn::{FeedSlot, Listening, ReadGuard};
use maintenance_sql::listing::Dialect;
use maintenance_sql::statements::{Param, Statements};

use crate::common::{NetworkRow, PathRow, SiteRow, event_from_parts, lenient_time};
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
    /// The change feed's connection, where the store's reads run while a feed holds one
    /// ([`NoFeed`] for a backend whose handles poll).
    type Feed: Listening + DerefMut<Target = Self::Conn>;

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

    /// The backend's change feed; `None` (the default) when handles poll. A feed that holds a
    /// connection puts it in `feed`, where the store's reads run while it is there.
    fn change_feed(
        pool: &Self::Pool,
        feed: &Arc<FeedSlot<Self::Feed>>,
    ) -> impl Future<Output = Result<Option<ChangeFeed>, StoreError>> + Send {
        let _ = (pool, feed);
        async { Ok(None) }
    }
}

/// The feed connection of a backend without a change feed: there is none to make.
#[cfg(any(feature = "sqlite", feature = "mysql"))]
pub(crate) struct NoFeed<C>(std::convert::Infallible, PhantomData<fn() -> C>);

#[cfg(any(feature = "sqlite", feature = "mysql"))]
impl<C> Deref for NoFeed<C> {
    type Target = C;

    fn deref(&self) -> &C {
        match self.0 {}
    }
}

#[cfg(any(feature = "sqlite", feature = "mysql"))]
impl<C> DerefMut for NoFeed<C> {
    fn deref_mut(&mut self) -> &mut C {
        match self.0 {}
    }
}

#[cfg(any(feature = "sqlite", feature = "mysql"))]
impl<C: 'static> Listening for NoFeed<C> {
    fn next(
        &mut self,
    ) -> maintenance_sql::feed_conn::ConnFuture<'_, maintenance_sql::change_feed::Wake> {
        match self.0 {}
    }

    fn ping(&mut self) -> maintenance_sql::feed_conn::ConnFuture<'_, Result<(), String>> {
        match self.0 {}
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
fn query<D: Driver>(sql: &str) -> Query<D> {
    diesel::sql_query(sql.to_owned()).into_boxed()
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
    site_tags: Option<String>,
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
            site_tags: NamedRow::get::<Nullable<Text>, _>(row, "site_tags")?,
        })
    }
}

/// The row, a timestamp that cannot be read logged and read as unset.
impl<D: Driver> From<SiteRecord<D>> for SiteRow {
    fn from(r: SiteRecord<D>) -> Self {
        const TABLE: &str = "maintenance_sites";
        let id = r.id;
        let time = |column: &'static str, v: Option<D::TimeIn>| {
            lenient_time(TABLE, id, column, v.map(D::time_in))
        };
        SiteRow {
            id,
            domain: r.domain,
            name: r.name,
            is_default: r.is_default,
            enabled: r.enabled,
            mode: r.mode,
            message: r.message,
            starts_at: time("starts_at", r.starts_at),
            ends_at: time("ends_at", r.ends_at),
            retry_after_secs: r.retry_after_secs,
            bypass_secret_hash: r.bypass_secret_hash,
            updated_at: time("updated_at", r.updated_at),
            updated_by: r.updated_by,
            scope_patterns: r.scope_patterns,
            tags: r.site_tags,
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

/// A site recorded as changed.
#[derive(QueryableByName)]
struct ChangeRecord {
    #[diesel(sql_type = BigInt)]
    site_id: i64,
    #[diesel(sql_type = Bool)]
    removed: bool,
}

/// The `(site_id, removed)` pair [`SqlConn::changes`] answers.
impl From<ChangeRecord> for (i64, bool) {
    fn from(r: ChangeRecord) -> Self {
        (r.site_id, r.removed)
    }
}

/// One integer a statement reads (its column `value`).
#[derive(QueryableByName)]
struct IntValue {
    #[diesel(sql_type = BigInt)]
    value: i64,
}

/// One text a statement reads (its column `value`).
#[derive(QueryableByName)]
struct TextValue {
    #[diesel(sql_type = Text)]
    value: String,
}

/// The reads of a store on backend `D`, and how it opens its writes: the
/// [`Engine`](maintenance_sql::engine::Engine) of the public store types. (Each store shows its
/// pool's status in its own `Debug`.)
pub(crate) struct Sql<D: Driver> {
    pub(crate) pool: D::Pool,
    /// The change feed's connection, where reads run while a feed holds one.
    feed: Arc<FeedSlot<D::Feed>>,
}

impl<D: Driver> Clone for Sql<D> {
    fn clone(&self) -> Self {
        Sql {
            pool: self.pool.clone(),
            feed: Arc::clone(&self.feed),
        }
    }
}

impl<D: Driver> Sql<D> {
    pub(crate) fn new(pool: D::Pool) -> Self {
        Sql {
            pool,
            feed: Arc::default(),
        }
    }

    /// A connection of the pool.
    pub(crate) async fn conn(&self) -> Result<D::Pooled, Error> {
        D::connection(&self.pool).await
    }

    /// A connection to read on: the change feed's while a feed holds one, else the pool's.
    async fn read_conn(&self) -> Result<ReadConn<'_, D>, Error> {
        Ok(match self.feed.for_read().await {
            Some(feed) => ReadConn::Feed(feed),
            None => ReadConn::Pool(self.conn().await?),
        })
    }
}

/// Where a read runs: the change feed's connection, or one of the pool's.
enum ReadConn<'a, D: Driver> {
    Feed(ReadGuard<'a, D::Feed>),
    Pool(D::Pooled),
}

impl<D: Driver> Deref for ReadConn<'_, D> {
    type Target = D::Conn;

    fn deref(&self) -> &D::Conn {
        match self {
            ReadConn::Feed(feed) => feed,
            ReadConn::Pool(conn) => conn,
        }
    }
}

impl<D: Driver> DerefMut for ReadConn<'_, D> {
    fn deref_mut(&mut self) -> &mut D::Conn {
        match self {
            ReadConn::Feed(feed) => &mut *feed,
            ReadConn::Pool(conn) => &mut *conn,
        }
    }
}

/// maintenance-sql's statements run on `C`, a connection of backend `D` (borrowed, or the
/// pooled connection a write transaction holds).
pub(crate) struct On<D, C> {
    conn: C,
    backend: PhantomData<fn() -> D>,
}

impl<D, C> On<D, C> {
    pub(crate) fn new(conn: C) -> Self {
        On {
            conn,
            backend: PhantomData,
        }
    }
}

/// `query` with `params` bound, in order, each as backend `D` takes it.
fn bind_all<D: Driver>(query: Query<D>, params: &[Param<'_>]) -> Query<D>
where
    i64: ToSql<BigInt, D::Db>,
    bool: ToSql<Bool, D::Db>,
    String: ToSql<Text, D::Db>,
{
    params.iter().fold(query, |q, param| match *param {
        Param::Int(v) => q.bind::<BigInt, _>(v),
        Param::OptInt(v) => q.bind::<Nullable<BigInt>, _>(v),
        Param::Bool(v) => q.bind::<Bool, _>(v),
        Param::Text(v) => q.bind::<Text, _>(v.to_owned()),
        Param::OptText(v) => q.bind::<Nullable<Text>, _>(v.map(str::to_owned)),
        Param::Time(t) => q.bind::<D::TimeSql, _>(D::time_out(t)),
        Param::OptTime(t) => q.bind::<Nullable<D::TimeSql>, _>(t.map(D::time_out)),
    })
}

impl<D, C> On<D, C>
where
    D: Driver,
    C: DerefMut<Target = D::Conn> + Send,
    Query<D>: QueryFragment<D::Db>,
    i64: ToSql<BigInt, D::Db>,
    bool: ToSql<Bool, D::Db>,
    String: ToSql<Text, D::Db>,
{
    /// The rows `sql` selects, each read as an `R` and turned into a `T`.
    async fn load<R, T>(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Vec<T>, StoreError>
    where
        R: QueryableByName<D::Db> + Into<T> + Send + 'static,
    {
        let rows: Vec<R> = bind_all::<D>(query::<D>(sql), params)
            .load(&mut *self.conn)
            .await
            .map_err(store_error::<D>)?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// The first row `sql` selects, if there is one.
    async fn first<R>(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Option<R>, StoreError>
    where
        R: QueryableByName<D::Db> + Send + 'static,
    {
        bind_all::<D>(query::<D>(sql), params)
            .get_result(&mut *self.conn)
            .await
            .optional()
            .map_err(store_error::<D>)
    }
}

#[async_trait]
impl<D, C> SqlConn for On<D, C>
where
    D: Driver,
    C: DerefMut<Target = D::Conn> + Send,
    Query<D>: QueryFragment<D::Db>,
    i64: ToSql<BigInt, D::Db> + FromSql<BigInt, D::Db>,
    bool: ToSql<Bool, D::Db> + FromSql<Bool, D::Db>,
    String: ToSql<Text, D::Db> + FromSql<Text, D::Db>,
{
    fn statements(&self) -> &'static Statements {
        Statements::of(D::DIALECT)
    }

    async fn execute(&mut self, sql: &str, params: &[Param<'_>]) -> Result<(), StoreError> {
        bind_all::<D>(query::<D>(sql), params)
            .execute(&mut *self.conn)
            .await
            .map(drop)
            .map_err(store_error::<D>)
    }

    async fn sites(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Vec<SiteRow>, StoreError> {
        self.load::<SiteRecord<D>, _>(sql, params).await
    }

    async fn paths(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Vec<PathRow>, StoreError> {
        self.load::<PathRecord, _>(sql, params).await
    }

    async fn networks(
        &mut self,
        sql: &str,
        params: &[Param<'_>],
    ) -> Result<Vec<NetworkRow>, StoreError> {
        self.load::<NetworkRecord, _>(sql, params).await
    }

    async fn events(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Event>, StoreError> {
        let rows: Vec<EventRecord<D>> = self.load::<EventRecord<D>, _>(sql, params).await?;
        Ok(rows
            .into_iter()
            .filter_map(|r| {
                let at = D::time_in(r.at);
                event_from_parts(r.id, r.site_domain, at, r.actor, r.action, r.detail)
            })
            .collect())
    }

    async fn changes(
        &mut self,
        sql: &str,
        params: &[Param<'_>],
    ) -> Result<Vec<(i64, bool)>, StoreError> {
        self.load::<ChangeRecord, _>(sql, params).await
    }

    async fn int(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Option<i64>, StoreError> {
        Ok(self.first::<IntValue>(sql, params).await?.map(|r| r.value))
    }

    async fn text(
        &mut self,
        sql: &str,
        params: &[Param<'_>],
    ) -> Result<Option<String>, StoreError> {
        Ok(self.first::<TextValue>(sql, params).await?.map(|r| r.value))
    }
}

/// The transaction manager of backend `D`'s connection.
type Tm<D> = <<D as Driver>::Conn as AsyncConnection>::TransactionManager;

/// A write transaction, on the pooled connection it holds: ended by a commit or a rollback.
#[async_trait]
impl<D> SqlWrite for On<D, D::Pooled>
where
    D: Driver,
    Self: SqlConn,
{
    async fn commit(mut self: Box<Self>) -> Result<(), StoreError> {
        Tm::<D>::commit_transaction(&mut *self.conn)
            .await
            .map_err(store_error::<D>)
    }

    async fn rollback(mut self: Box<Self>) -> Result<(), StoreError> {
        Tm::<D>::rollback_transaction(&mut *self.conn)
            .await
            .map_err(store_error::<D>)
    }
}

/// Ends the transaction `conn` holds: committed when its work succeeded; rolled back
/// otherwise, and the work's error returned (a rollback that fails too, as it does on a lost
/// connection, adds nothing; the pool drops a connection left broken).
async fn end_transaction<D: Driver, T>(
    conn: &mut D::Conn,
    result: Result<T, StoreError>,
) -> Result<T, StoreError> {
    match result {
        Ok(value) => {
            Tm::<D>::commit_transaction(conn)
                .await
                .map_err(store_error::<D>)?;
            Ok(value)
        }
        Err(e) => {
            if let Err(rollback) = Tm::<D>::rollback_transaction(conn).await {
                tracing::debug!(error = %rollback, "could not roll back a transaction");
            }
            Err(e)
        }
    }
}

#[async_trait]
impl<D: Driver> maintenance_sql::engine::Engine for Sql<D>
where
    for<'c> On<D, &'c mut D::Conn>: SqlConn,
    for<'r> On<D, ReadConn<'r, D>>: SqlConn,
    On<D, D::Pooled>: SqlWrite,
{
    async fn begin_write(&self) -> Result<Box<dyn WriteTx + '_>, StoreError> {
        let mut conn = self.conn().await?;
        D::begin_write(&mut conn).await.map_err(store_error::<D>)?;
        Ok(Box::new(On::<D, _>::new(conn)))
    }

    /// On the change feed's connection if a feed holds one, else on the pool's.
    async fn in_read(&self, read: &mut (dyn ReadJob + '_)) -> Result<(), StoreError> {
        let mut conn = self.read_conn().await?;
        D::begin_read(&mut conn).await.map_err(store_error::<D>)?;
        let result = read.run(&mut On::<D, _>::new(&mut *conn)).await;
        end_transaction::<D, _>(&mut conn, result).await
    }

    async fn connection(&self) -> Result<Box<dyn SqlConn + '_>, StoreError> {
        Ok(Box::new(On::<D, _>::new(self.read_conn().await?)))
    }

    async fn change_feed(&self) -> Result<Option<ChangeFeed>, StoreError> {
        D::change_feed(&self.pool, &self.feed).await
    }

    fn no_revision_row(&self) -> StoreError {
        crate::common::no_revision_row()
    }
}

/// maintenance-sql's last step of `migrate()` ([`maintenance_sql::conn::ensure_rows`]) on `conn`, in a
/// transaction of its own. (SQLite's `migrate()` runs it inside its own write transaction.)
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(crate) async fn ensure_rows<D: Driver>(conn: &mut D::Conn) -> Result<(), Error>
where
    for<'c> On<D, &'c mut D::Conn>: SqlConn,
{
    Tm::<D>::begin_transaction(conn)
        .await
        .map_err(query_error::<D>)?;
    let result = maintenance_sql::conn::ensure_rows(&mut On::<D, _>::new(&mut *conn)).await;
    end_transaction::<D, _>(conn, result)
        .await
        .map_err(|e| Error::of_step(D::NAME, e))
}
