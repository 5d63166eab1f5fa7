//! maintenance-sql's migration runner ([`run`](maintenance_sql::migrations::run)) on a
//! diesel-async connection: every store migrates through it, recording in
//! `maintenance_migrations` and never in diesel's `__diesel_schema_migrations`, which stays the
//! application's.

use diesel::QueryableByName;
use diesel::query_builder::SqlQuery;
use diesel::sql_types::Text;
use diesel_async::methods::LoadQuery;
use diesel_async::{AsyncConnection, RunQueryDsl};
use maintenance_sql::listing::Dialect;
use maintenance_sql::migrations::MigrationConnection;

/// A connection the runner migrates through: one in no transaction on PostgreSQL and
/// MariaDB/MySQL, inside the write transaction on SQLite.
struct Migrating<'a, C>(&'a mut C);

/// A row of the runner's queries: one text column named `value`.
#[derive(QueryableByName)]
pub(crate) struct TextRow {
    #[diesel(sql_type = Text)]
    value: String,
}

impl<C> MigrationConnection for Migrating<'_, C>
where
    C: AsyncConnection + Send + 'static,
    for<'q> SqlQuery: LoadQuery<'q, C, TextRow> + 'q,
{
    type Error = diesel::result::Error;

    async fn execute(&mut self, sql: &str) -> Result<(), Self::Error> {
        self.0.batch_execute(sql).await
    }

    async fn texts(&mut self, sql: &str) -> Result<Vec<String>, Self::Error> {
        let rows: Vec<TextRow> = diesel::sql_query(sql).load(self.0).await?;
        Ok(rows.into_iter().map(|row| row.value).collect())
    }
}

/// Runs maintenance-sql's migrations on `conn` (holding the migration lock, and on SQLite the
/// write transaction), logging what it did.
pub(crate) async fn run<C>(
    conn: &mut C,
    dialect: Dialect,
    backend: &'static str,
) -> Result<(), crate::Error>
where
    C: AsyncConnection + Send + 'static,
    for<'q> SqlQuery: LoadQuery<'q, C, TextRow> + 'q,
{
    let report = maintenance_sql::migrations::run(&mut Migrating(conn), dialect)
        .await
        .map_err(|source| crate::Error::Migrate {
            backend,
            source: Box::new(source),
        })?;
    report.log(backend);
    Ok(())
}
