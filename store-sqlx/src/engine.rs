//! The store on every sqlx backend: [`Sql`] opens connections and transactions, and [`On`]
//! runs maintenance-sql's statements on one of them, as its [`SqlConn`]. Everything a store
//! reads and writes is written once, over [`SqlConn`], in [`maintenance_sql::conn`] (and each
//! write's steps in [`maintenance_sql::engine`]); what differs between backends is in each
//! one's [`Driver`] impl: how it opens its transactions, how it binds a timestamp, and its
//! change feed, if it has one.
//!
//! sqlx states what a backend can bind, decode and run queries on as bounds on its types; the
//! impls here repeat them (the `where` clauses), and a backend that lacks one is refused by the
//! compiler at its store's type.

use std::future::Future;
use std::marker::PhantomData;
use std::ops::DerefMut;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use maintenance_core::store::ChangeFeed;
use maintenance_core::{Event, StoreError};
use maintenance_sql::conn::{SqlConn, SqlWrite};
use maintenance_sql::engine::{ReadJob, WriteTx};
use maintenance_sql::listing::Dialect;
use maintenance_sql::rows::{NetworkRow, PathRow, SiteRow};
use maintenance_sql::statements::{Param, Statements};
use sqlx::pool::PoolConnection;
use sqlx::{AssertSqlSafe, Encode, Executor, Pool, Transaction, Type};

use crate::common::{ReadRow, RowExt, db, read_rows};
use maintenance_sql::change_feed::Wake;
use maintenance_sql::feed_conn::{FeedSlot, Listening, ReadGuard};

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
        conn: &mut Self::Connection,
    ) -> impl Future<Output = Result<Transaction<'_, Self>, sqlx::Error>> + Send;

    /// The backend's change feed; `None` (the default) when handles poll. A feed that holds a
    /// connection puts it in `feed`, where the store's reads run while it is there.
    fn change_feed(
        pool: &Pool<Self>,
        feed: &Arc<FeedSlot<FeedConn<Self>>>,
    ) -> impl Future<Output = Result<Option<ChangeFeed>, StoreError>> + Send {
        let _ = (pool, feed);
        async { Ok(None) }
    }
}

/// The reads of a store on backend `B`, and how it opens its writes: the
/// [`Engine`](maintenance_sql::engine::Engine) of the public store types.
pub(crate) struct Sql<B: Driver> {
    pub(crate) pool: Pool<B>,
    /// The change feed's connection, where reads run while a feed holds one.
    pub(crate) feed: Arc<FeedSlot<FeedConn<B>>>,
}

impl<B: Driver> std::fmt::Debug for Sql<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sql")
            .field("pool", &self.pool)
            .finish_non_exhaustive()
    }
}

impl<B: Driver> Clone for Sql<B> {
    fn clone(&self) -> Self {
        Sql {
            pool: self.pool.clone(),
            feed: Arc::clone(&self.feed),
        }
    }
}

impl<B: Driver> Sql<B> {
    pub(crate) fn new(pool: Pool<B>) -> Self {
        Sql {
            pool,
            feed: Arc::default(),
        }
    }
}

/// maintenance-sql's statements run on `C`, a connection of backend `B` (borrowed, or the
/// write transaction it owns).
pub(crate) struct On<B, C> {
    conn: C,
    backend: PhantomData<fn() -> B>,
}

impl<B, C> On<B, C> {
    pub(crate) fn new(conn: C) -> Self {
        On {
            conn,
            backend: PhantomData,
        }
    }
}

/// A statement of backend `B` with its parameters bound.
type Query<'q, B> = sqlx::query::Query<'q, B, <B as sqlx::Database>::Arguments>;

/// A backend that binds every [`Param`]: each sqlx type a parameter becomes can be encoded.
pub(crate) trait Binds: Driver {
    /// `sql` with `params` bound, in order, each as this backend takes it.
    fn query<'q>(sql: &'q str, params: &[Param<'_>]) -> Query<'q, Self>;
}

impl<B> Binds for B
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
    fn query<'q>(sql: &'q str, params: &[Param<'_>]) -> Query<'q, B> {
        let query = sqlx::query(AssertSqlSafe(sql));
        params.iter().fold(query, |q, param| match *param {
            Param::Int(v) => q.bind(v),
            Param::OptInt(v) => q.bind(v),
            Param::Bool(v) => q.bind(v),
            Param::Text(v) => q.bind(v),
            Param::OptText(v) => q.bind(v),
            Param::Time(t) => q.bind(B::time(t)),
            Param::OptTime(t) => q.bind(t.map(B::time)),
        })
    }
}

impl<B, C> On<B, C>
where
    B: Binds,
    C: DerefMut<Target = B::Connection> + Send,
    for<'c> &'c mut B::Connection: Executor<'c, Database = B>,
    B::Row: RowExt,
{
    /// The rows `sql` selects, read as they arrive ([`read_rows`]: a row that cannot be read
    /// is logged and skipped).
    async fn rows<T: ReadRow + Send>(
        &mut self,
        sql: &str,
        params: &[Param<'_>],
    ) -> Result<Vec<T>, StoreError> {
        db(read_rows(B::query(sql, params).fetch(&mut *self.conn)).await)
    }

    /// The column `value` of the first row `sql` selects, if there is a row.
    async fn value<T: Send>(
        &mut self,
        sql: &str,
        params: &[Param<'_>],
        read: fn(&B::Row, &str) -> Result<T, sqlx::Error>,
    ) -> Result<Option<T>, StoreError> {
        let row = db(B::query(sql, params).fetch_optional(&mut *self.conn).await)?;
        db(row.map(|row| read(&row, "value")).transpose())
    }
}

#[async_trait]
impl<B, C> SqlConn for On<B, C>
where
    B: Binds,
    C: DerefMut<Target = B::Connection> + Send,
    for<'c> &'c mut B::Connection: Executor<'c, Database = B>,
    B::Row: RowExt,
{
    fn statements(&self) -> &'static Statements {
        Statements::of(B::DIALECT)
    }

    async fn execute(&mut self, sql: &str, params: &[Param<'_>]) -> Result<(), StoreError> {
        db(B::query(sql, params)
            .execute(&mut *self.conn)
            .await
            .map(drop))
    }

    async fn sites(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Vec<SiteRow>, StoreError> {
        self.rows(sql, params).await
    }

    async fn paths(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Vec<PathRow>, StoreError> {
        self.rows(sql, params).await
    }

    async fn networks(
        &mut self,
        sql: &str,
        params: &[Param<'_>],
    ) -> Result<Vec<NetworkRow>, StoreError> {
        self.rows(sql, params).await
    }

    async fn events(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Event>, StoreError> {
        self.rows(sql, params).await
    }

    async fn changes(
        &mut self,
        sql: &str,
        params: &[Param<'_>],
    ) -> Result<Vec<(i64, bool)>, StoreError> {
        let rows = db(B::query(sql, params).fetch_all(&mut *self.conn).await)?;
        db(rows
            .iter()
            .map(|row| Ok((row.int("site_id")?, row.flag("removed")?)))
            .collect())
    }

    async fn int(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Option<i64>, StoreError> {
        self.value(sql, params, B::Row::int).await
    }

    async fn text(
        &mut self,
        sql: &str,
        params: &[Param<'_>],
    ) -> Result<Option<String>, StoreError> {
        self.value(sql, params, B::Row::text).await
    }
}

/// A write transaction: dropping it without a commit rolls it back. (The futures are built
/// by hand rather than by `async_trait`, whose `Send` check cannot see through the
/// transaction's `'static` lifetime here.)
impl<B> SqlWrite for On<B, Transaction<'static, B>>
where
    B: Driver,
    Self: SqlConn,
{
    fn commit<'a>(self: Box<Self>) -> BoxFuture<'a, Result<(), StoreError>>
    where
        Self: 'a,
    {
        Box::pin(self.conn.commit().map(db))
    }

    fn rollback<'a>(self: Box<Self>) -> BoxFuture<'a, Result<(), StoreError>>
    where
        Self: 'a,
    {
        Box::pin(self.conn.rollback().map(db))
    }
}

impl<B: Driver> Sql<B> {
    /// A connection to read on: the change feed's while a feed holds one, else the pool's.
    async fn read_connection(&self) -> Result<ReadConn<'_, B>, StoreError> {
        Ok(match self.feed.for_read().await {
            Some(feed) => ReadConn::Feed(feed),
            None => ReadConn::Pool(db(self.pool.acquire().await)?),
        })
    }
}

#[async_trait]
impl<B: Driver> maintenance_sql::engine::Engine for Sql<B>
where
    for<'c> On<B, &'c mut B::Connection>: SqlConn,
    On<B, PoolConnection<B>>: SqlConn,
    On<B, Transaction<'static, B>>: SqlWrite,
{
    async fn begin_write(&self) -> Result<Box<dyn WriteTx + '_>, StoreError> {
        let tx = db(B::begin_write(&self.pool).await)?;
        Ok(Box::new(On::<B, _>::new(tx)))
    }

    /// On the change feed's connection if a feed holds one, else on the pool's.
    async fn in_read(&self, read: &mut (dyn ReadJob + '_)) -> Result<(), StoreError> {
        let mut conn = self.read_connection().await?;
        let mut tx = db(B::begin_read(db(conn.get().await)?).await)?;
        read.run(&mut On::<B, _>::new(&mut *tx)).await?;
        db(tx.commit().await)
    }

    async fn connection(&self) -> Result<Box<dyn SqlConn + '_>, StoreError> {
        Ok(match self.read_connection().await? {
            ReadConn::Feed(feed) => Box::new(OnFeed(feed)),
            ReadConn::Pool(conn) => Box::new(On::<B, _>::new(conn)),
        })
    }

    async fn change_feed(&self) -> Result<Option<ChangeFeed>, StoreError> {
        B::change_feed(&self.pool, &self.feed).await
    }

    fn no_revision_row(&self) -> StoreError {
        crate::common::no_revision_row()
    }
}

/// Where a read runs: the change feed's connection, or one of the pool's.
enum ReadConn<'a, B: sqlx::Database> {
    Feed(ReadGuard<'a, FeedConn<B>>),
    Pool(PoolConnection<B>),
}

impl<B: sqlx::Database> ReadConn<'_, B> {
    async fn get(&mut self) -> Result<&mut B::Connection, sqlx::Error> {
        match self {
            ReadConn::Feed(feed) => feed_connection(feed).await,
            ReadConn::Pool(conn) => Ok(&mut **conn),
        }
    }
}

/// Single reads on the change feed's connection, held for as long as the reader holds this.
struct OnFeed<'a, B: sqlx::Database>(ReadGuard<'a, FeedConn<B>>);

impl<B: sqlx::Database> OnFeed<'_, B> {
    async fn on(&mut self) -> Result<On<B, &mut B::Connection>, StoreError> {
        Ok(On::new(db(feed_connection(&mut self.0).await)?))
    }
}

/// The connection a read holds through the feed.
async fn feed_connection<'a, B: sqlx::Database>(
    read: &'a mut ReadGuard<'_, FeedConn<B>>,
) -> Result<&'a mut B::Connection, sqlx::Error> {
    read.connection().await
}

#[async_trait]
impl<B> SqlConn for OnFeed<'_, B>
where
    B: Driver,
    for<'c> On<B, &'c mut B::Connection>: SqlConn,
{
    fn statements(&self) -> &'static Statements {
        Statements::of(B::DIALECT)
    }

    async fn execute(&mut self, sql: &str, params: &[Param<'_>]) -> Result<(), StoreError> {
        self.on().await?.execute(sql, params).await
    }

    async fn sites(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Vec<SiteRow>, StoreError> {
        self.on().await?.sites(sql, params).await
    }

    async fn paths(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Vec<PathRow>, StoreError> {
        self.on().await?.paths(sql, params).await
    }

    async fn networks(
        &mut self,
        sql: &str,
        params: &[Param<'_>],
    ) -> Result<Vec<NetworkRow>, StoreError> {
        self.on().await?.networks(sql, params).await
    }

    async fn events(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Event>, StoreError> {
        self.on().await?.events(sql, params).await
    }

    async fn changes(
        &mut self,
        sql: &str,
        params: &[Param<'_>],
    ) -> Result<Vec<(i64, bool)>, StoreError> {
        self.on().await?.changes(sql, params).await
    }

    async fn int(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Option<i64>, StoreError> {
        self.on().await?.int(sql, params).await
    }

    async fn text(
        &mut self,
        sql: &str,
        params: &[Param<'_>],
    ) -> Result<Option<String>, StoreError> {
        self.on().await?.text(sql, params).await
    }
}

/// The change feed's connection as a store reads on it: PostgreSQL's `PgListener`.
pub(crate) trait FeedConnection<B: sqlx::Database>: Send {
    /// The connection, reconnected first if it was lost.
    fn connection(&mut self) -> BoxFuture<'_, Result<&mut B::Connection, sqlx::Error>>;

    /// Waits for the next notification. Dropping the future loses none.
    fn next(&mut self) -> BoxFuture<'_, Wake>;

    /// Checks that the connection still answers.
    fn ping(&mut self) -> BoxFuture<'_, Result<(), String>>;
}

/// What a feed's slot holds, whatever the backend.
pub(crate) type FeedConn<B> = Box<dyn FeedConnection<B> + 'static>;

impl<B: sqlx::Database> Listening for FeedConn<B> {
    fn next(&mut self) -> BoxFuture<'_, Wake> {
        FeedConnection::next(&mut **self)
    }

    fn ping(&mut self) -> BoxFuture<'_, Result<(), String>> {
        FeedConnection::ping(&mut **self)
    }
}
