//! maintenance-sql's migration runner ([`run`](maintenance_sql::migrations::run)) on a
//! diesel-async connection: every store migrates through it, recording in
//! `maintenance_migrations` and never in diesel's `__diesel_schema_migrations`, which stays the
//! application's.

use diesel::QueryableByName;
use diesel::sql_types::Text;
use diesel_async::{RunQueryDsl, SimpleAsyncConnection};
use maintenance_sql::migrations::MigrationConnection;

/// A connection the runner migrates through: one in no transaction on PostgreSQL and
/// MariaDB/MySQL, inside the write transaction on SQLite.
pub(crate) struct Migrating<'a, C>(pub(crate) &'a mut C);

/// A row of the runner's queries: one text column named `value`.
#[derive(QueryableByName)]
struct TextRow {
    #[diesel(sql_type = Text)]
    value: String,
}

#[cfg(feature = "sqlite")]
impl MigrationConnection for Migrating<'_, crate::SqliteConnection> {
    type Error = diesel::result::Error;

    async fn execute(&mut self, sql: &str) -> Result<(), Self::Error> {
        self.0.batch_execute(sql).await
    }

    async fn texts(&mut self, sql: &str) -> Result<Vec<String>, Self::Error> {
        let rows: Vec<TextRow> = diesel::sql_query(sql).load(self.0).await?;
        Ok(rows.into_iter().map(|row| row.value).collect())
    }
}

#[cfg(feature = "postgres")]
impl MigrationConnection for Migrating<'_, crate::PgConnection> {
    type Error = diesel::result::Error;

    async fn execute(&mut self, sql: &str) -> Result<(), Self::Error> {
        self.0.batch_execute(sql).await
    }

    async fn texts(&mut self, sql: &str) -> Result<Vec<String>, Self::Error> {
        let rows: Vec<TextRow> = diesel::sql_query(sql).load(self.0).await?;
        Ok(rows.into_iter().map(|row| row.value).collect())
    }
}

#[cfg(feature = "mysql")]
impl MigrationConnection for Migrating<'_, crate::MySqlConnection> {
    type Error = diesel::result::Error;

    async fn execute(&mut self, sql: &str) -> Result<(), Self::Error> {
        self.0.batch_execute(sql).await
    }

    async fn texts(&mut self, sql: &str) -> Result<Vec<String>, Self::Error> {
        let rows: Vec<TextRow> = diesel::sql_query(sql).load(self.0).await?;
        Ok(rows.into_iter().map(|row| row.value).collect())
    }
}
