//! maintenance-sql's migration runner ([`run`](maintenance_sql::migrations::run)) on a sqlx
//! connection: every store migrates through it, recording in `maintenance_migrations` and
//! never in sqlx's `_sqlx_migrations`, which stays the application's.

use maintenance_sql::conn::{self, SqlConn};
use maintenance_sql::migrations::{self, MigrationConnection};
use sqlx::{AssertSqlSafe, Connection, Database, Executor};

use crate::engine::{Driver, On};
use crate::error::Error;

/// A connection the runner migrates through: one in no transaction on PostgreSQL and
/// MariaDB/MySQL, inside the write transaction on SQLite.
pub(crate) struct Migrating<'a, DB: Database>(pub(crate) &'a mut DB::Connection);

impl<DB> MigrationConnection for Migrating<'_, DB>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'r> String: sqlx::Decode<'r, DB> + sqlx::Type<DB>,
    (String,): for<'r> sqlx::FromRow<'r, DB::Row>,
    DB::Arguments: sqlx::IntoArguments<DB>,
{
    type Error = sqlx::Error;

    async fn execute(&mut self, sql: &str) -> Result<(), sqlx::Error> {
        sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
            .execute(&mut *self.0)
            .await
            .map(drop)
    }

    async fn texts(&mut self, sql: &str) -> Result<Vec<String>, sqlx::Error> {
        sqlx::query_scalar(AssertSqlSafe(sql.to_owned()))
            .fetch_all(&mut *self.0)
            .await
    }
}

/// The migrations, then the revision row and the default site (in a transaction, a savepoint
/// inside SQLite's write transaction), on `conn`, which holds the migration lock.
pub(crate) async fn migrate_locked<B>(
    conn: &mut B::Connection,
    backend: &'static str,
) -> Result<(), Error>
where
    B: Driver,
    for<'c> Migrating<'c, B>: MigrationConnection<Error = sqlx::Error>,
    for<'c> On<B, &'c mut B::Connection>: SqlConn,
{
    let query_error = Error::query(backend);
    let report = migrations::run(&mut Migrating::<B>(&mut *conn), B::DIALECT)
        .await
        .map_err(|source| Error::Migrate { backend, source })?;
    report.log(backend);
    let mut tx = conn.begin().await.map_err(query_error)?;
    conn::ensure_rows(&mut On::<B, _>::new(&mut *tx))
        .await
        .map_err(|e| Error::of_step(backend, e))?;
    tx.commit().await.map_err(query_error)
}
