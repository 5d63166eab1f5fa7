//! maintenance-sql's migration runner ([`run`](maintenance_sql::migrations::run)) on a sqlx
//! connection: every store migrates through it, recording in `maintenance_migrations` and
//! never in sqlx's `_sqlx_migrations`, which stays the application's.

use maintenance_sql::migrations::MigrationConnection;
use sqlx::{AssertSqlSafe, Database, Executor};

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
