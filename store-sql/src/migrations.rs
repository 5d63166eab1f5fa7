//! The tables' migrations and their runner, written once for both stores.
//!
//! The SQL is kept once per backend in this crate's `migrations/` folder and embedded here
//! ([`SQLITE`], [`POSTGRES`], [`MYSQL`]), so a store's package needs no file of its own.
//! [`run`] applies the missing ones over a store's [`MigrationConnection`] and records each in a
//! table of our own, [`TABLE`]: its version, its name and the SHA-384 checksum of its text. The
//! application's migrators keep their tables to themselves: sqlx's `_sqlx_migrations` and
//! diesel's `__diesel_schema_migrations` are never created or written here, so an application
//! migrating the same database with its own migrations works in any order.
//!
//! maintenance-rs 0.1 recorded its migrations in those shared tables (versions `1`-`3` in
//! `_sqlx_migrations`, `0001`-`0003` in `__diesel_schema_migrations`), which made the
//! application's sqlx migrator refuse to run ("previously applied but is missing"). [`run`]
//! moves such rows into [`TABLE`] and deletes them from the shared table, in one transaction,
//! re-running nothing: a sqlx row is ours when its version and checksum are those of one of our
//! migrations; diesel records no checksum, so a diesel row is ours when its version is one of
//! ours and the table that migration creates exists, and only while no other row of that table
//! uses our four-digit numbering (an application numbering its own diesel migrations `0001`,
//! `0002`, ... keeps all of its rows). Rows that are not ours are never touched.
//!
//! Every migration is idempotent (`CREATE ... IF NOT EXISTS`, inserts that do nothing when the
//! row is there), so one interrupted halfway, or run by a 0.1 server after a 0.2 one, is simply
//! run again. The text of a released migration never changes, not even its whitespace: a
//! database that recorded another checksum for a version is refused ([`MigrateError::Changed`]),
//! and so is one migrated by a newer release ([`MigrateError::Newer`]).

use std::collections::{BTreeMap, BTreeSet};
use std::error::Error as StdError;
use std::fmt::Write as _;

use sha2::{Digest, Sha384};

use crate::listing::Dialect;

/// The table where the stores record the migrations they ran.
pub const TABLE: &str = "maintenance_migrations";

/// sqlx's own migrations table, where maintenance-sqlx 0.1 recorded ours.
pub const SQLX_TABLE: &str = "_sqlx_migrations";

/// diesel's own migrations table, where maintenance-diesel 0.1 recorded ours.
pub const DIESEL_TABLE: &str = "__diesel_schema_migrations";

/// One migration: the file `migrations/<backend>/<name>.sql`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migration {
    /// The file's name without `.sql`: its version, `_`, a description.
    pub name: &'static str,
    /// The SQL, statements separated by `;`.
    pub sql: &'static str,
    /// The table the migration creates: finding it tells that the migration ran.
    pub creates: &'static str,
}

impl Migration {
    /// The version: the name up to its first `_` (`0001`, what diesel recorded).
    pub fn version(&self) -> &'static str {
        self.name
            .split_once('_')
            .map_or(self.name, |(version, _)| version)
    }

    /// The version as a number (`1`, what sqlx recorded, and what [`TABLE`] records).
    pub fn number(&self) -> i64 {
        self.version().parse().unwrap_or(0)
    }

    /// The SHA-384 checksum of the text, in lower-case hexadecimal (sqlx's checksum).
    pub fn checksum(&self) -> String {
        let digest = Sha384::digest(self.sql.as_bytes());
        digest.iter().fold(String::with_capacity(96), |mut hex, b| {
            let _ = write!(hex, "{b:02x}");
            hex
        })
    }
}

macro_rules! migrations {
    ($backend:literal: $($name:literal creates $table:literal),+ $(,)?) => {
        &[$(Migration {
            name: $name,
            sql: include_str!(concat!("../migrations/", $backend, "/", $name, ".sql")),
            creates: $table,
        }),+]
    };
}

/// SQLite's migrations, oldest first.
pub const SQLITE: &[Migration] = migrations!(
    "sqlite": "0001_maintenance_tables" creates "maintenance_sites",
    "0002_site_changes" creates "maintenance_site_changes",
    "0003_site_scopes" creates "maintenance_site_scopes",
    "0004_site_tags" creates "maintenance_site_tags",
);
/// PostgreSQL's migrations, oldest first.
pub const POSTGRES: &[Migration] = migrations!(
    "postgres": "0001_maintenance_tables" creates "maintenance_sites",
    "0002_site_changes" creates "maintenance_site_changes",
    "0003_site_scopes" creates "maintenance_site_scopes",
    "0004_site_tags" creates "maintenance_site_tags",
);
/// MariaDB's and MySQL's migrations, oldest first.
pub const MYSQL: &[Migration] = migrations!(
    "mysql": "0001_maintenance_tables" creates "maintenance_sites",
    "0002_site_changes" creates "maintenance_site_changes",
    "0003_site_scopes" creates "maintenance_site_scopes",
    "0004_site_tags" creates "maintenance_site_tags",
);

/// A dialect's migrations, oldest first.
pub fn for_dialect(dialect: Dialect) -> &'static [Migration] {
    match dialect {
        Dialect::Sqlite => SQLITE,
        Dialect::Postgres => POSTGRES,
        Dialect::MySql => MYSQL,
    }
}

/// A boxed driver error.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// A store's connection, as [`run`] uses it: plain SQL with no parameters (every value in it
/// is one of this module's constants).
pub trait MigrationConnection: Send {
    /// What the driver fails with.
    type Error: StdError + Send + Sync + 'static;

    /// Runs one or several statements (separated by `;`) that return no rows.
    fn execute(&mut self, sql: &str) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// Runs a query whose rows have one text column, named `value`, and returns them.
    fn texts(&mut self, sql: &str)
    -> impl Future<Output = Result<Vec<String>, Self::Error>> + Send;
}

/// What [`run`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Report {
    /// Migrations recorded by 0.1 in a shared table, now recorded in [`TABLE`] (their name and
    /// the table they came from).
    pub adopted: Vec<(&'static str, &'static str)>,
    /// Migrations run now, by name.
    pub applied: Vec<&'static str>,
    /// Why rows that looked like ours in a shared table were left there, if they were.
    pub left: Option<String>,
}

impl Report {
    /// Logs what was done (nothing when nothing was), naming the backend.
    pub fn log(&self, backend: &str) {
        for (name, from) in &self.adopted {
            tracing::info!(
                backend,
                migration = name,
                from,
                "migration recorded by maintenance-rs 0.1 moved to {TABLE}"
            );
        }
        for name in &self.applied {
            tracing::info!(backend, migration = name, "migration applied");
        }
        if let Some(left) = &self.left {
            tracing::warn!(backend, "{left}");
        }
    }
}

/// Why [`run`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MigrateError {
    /// Reading or writing the migrations' bookkeeping failed.
    #[error("could not read or write the migrations table ({TABLE})")]
    Bookkeeping(#[source] BoxError),
    /// A migration's SQL failed.
    #[error("migration {name} failed")]
    Run {
        /// The migration's name.
        name: &'static str,
        /// What the driver said.
        #[source]
        source: BoxError,
    },
    /// The database recorded a migration of this version with another text: its schema may not
    /// be the one this build expects.
    #[error(
        "migration {name} was applied from another text (recorded checksum {recorded}, this build's {embedded})"
    )]
    Changed {
        /// The migration's name.
        name: &'static str,
        /// The checksum the database recorded.
        recorded: String,
        /// The checksum of this build's text.
        embedded: String,
    },
    /// The database was migrated by a newer maintenance-rs: this build does not know all of
    /// its tables.
    #[error(
        "the database was migrated by a newer maintenance-rs (migration {version} is unknown to this build): upgrade this server"
    )]
    Newer {
        /// The first version unknown to this build.
        version: i64,
    },
}

impl MigrateError {
    /// The driver's error behind this one, if any: to tell an unreachable database apart.
    pub fn driver_error(&self) -> Option<&(dyn StdError + Send + Sync + 'static)> {
        match self {
            MigrateError::Bookkeeping(source) | MigrateError::Run { source, .. } => {
                Some(source.as_ref())
            }
            _ => None,
        }
    }
}

/// Brings the database's tables up to date: creates [`TABLE`] if missing, moves 0.1's rows out
/// of the shared migrations tables, and runs each migration not recorded yet, each in a
/// transaction with its record.
///
/// The caller holds the migration lock (the one both stores take) and, on SQLite, a write
/// transaction (`BEGIN IMMEDIATE`), inside which this uses savepoints; on PostgreSQL and
/// MariaDB/MySQL the connection is in no transaction.
pub async fn run<C: MigrationConnection>(
    conn: &mut C,
    dialect: Dialect,
) -> Result<Report, MigrateError> {
    let migrations = for_dialect(dialect);
    let book = |e: C::Error| MigrateError::Bookkeeping(Box::new(e));
    conn.execute(create_table(dialect)).await.map_err(book)?;
    let mut report = Report::default();
    let tables = conn
        .texts(&existing_tables(dialect, migrations))
        .await
        .map_err(book)?;
    let exists = |name: &str| tables.iter().any(|t| t == name);

    let recorded = recorded(conn, dialect).await?;
    let mut adopt = Vec::new();
    if exists(SQLX_TABLE) {
        let rows = conn.texts(sqlx_rows(dialect)).await.map_err(book)?;
        for m in migrations {
            let ours = format!("{}:{}", m.number(), m.checksum());
            if rows.iter().any(|row| row.eq_ignore_ascii_case(&ours)) {
                adopt.push((m, SQLX_TABLE, delete_sqlx_row(dialect, m)));
            }
        }
    }
    if exists(DIESEL_TABLE) {
        let rows = conn.texts(diesel_rows(dialect)).await.map_err(book)?;
        let foreign = rows
            .iter()
            .find(|v| is_four_digits(v) && !migrations.iter().any(|m| m.version() == v.as_str()));
        match foreign {
            Some(version) => {
                report.left = Some(format!(
                    "{DIESEL_TABLE} holds the application's own migration {version} numbered like ours, so rows 0001-{:04} there are left as they are",
                    migrations.len()
                ));
            }
            None => {
                for m in migrations {
                    if rows.iter().any(|v| v == m.version()) && exists(m.creates) {
                        let delete = format!(
                            "DELETE FROM {DIESEL_TABLE} WHERE version = '{}'",
                            m.version()
                        );
                        adopt.push((m, DIESEL_TABLE, delete));
                    }
                }
            }
        }
    }
    if !adopt.is_empty() {
        let mut steps = Vec::new();
        let mut recording: BTreeSet<i64> = recorded.keys().copied().collect();
        for (m, from, delete) in &adopt {
            if recording.insert(m.number()) {
                steps.push(insert_record(m, Some(from)));
            }
            steps.push(delete.clone());
        }
        in_transaction(conn, dialect, &steps).await.map_err(book)?;
        for (m, from, _) in adopt {
            if !report.adopted.iter().any(|(name, _)| *name == m.name) {
                report.adopted.push((m.name, from));
            }
        }
    }

    let recorded = if report.adopted.is_empty() {
        recorded
    } else {
        self::recorded(conn, dialect).await?
    };
    if let Some(version) = recorded
        .keys()
        .find(|v| !migrations.iter().any(|m| m.number() == **v))
    {
        return Err(MigrateError::Newer { version: *version });
    }
    for m in migrations {
        match recorded.get(&m.number()) {
            Some(checksum) if checksum.eq_ignore_ascii_case(&m.checksum()) => {}
            Some(checksum) => {
                return Err(MigrateError::Changed {
                    name: m.name,
                    recorded: checksum.clone(),
                    embedded: m.checksum(),
                });
            }
            None => {
                let steps = [m.sql.to_owned(), insert_record(m, None)];
                in_transaction(conn, dialect, &steps)
                    .await
                    .map_err(|e| MigrateError::Run {
                        name: m.name,
                        source: Box::new(e),
                    })?;
                report.applied.push(m.name);
            }
        }
    }
    Ok(report)
}

/// [`TABLE`]'s rows: version to checksum.
async fn recorded<C: MigrationConnection>(
    conn: &mut C,
    dialect: Dialect,
) -> Result<BTreeMap<i64, String>, MigrateError> {
    let sql = match dialect {
        Dialect::MySql => {
            "SELECT CAST(CONCAT(version, ':', checksum) AS CHAR) AS value FROM maintenance_migrations"
        }
        Dialect::Sqlite | Dialect::Postgres => {
            "SELECT CAST(version AS TEXT) || ':' || checksum AS value FROM maintenance_migrations"
        }
    };
    let rows = conn
        .texts(sql)
        .await
        .map_err(|e| MigrateError::Bookkeeping(Box::new(e)))?;
    rows.iter()
        .map(|row| {
            row.split_once(':')
                .and_then(|(v, c)| Some((v.parse().ok()?, c.to_owned())))
                .ok_or_else(|| {
                    MigrateError::Bookkeeping(
                        format!("{TABLE} holds an unreadable row {row:?}").into(),
                    )
                })
        })
        .collect()
}

/// Runs `steps` in one transaction (a savepoint on SQLite, whose caller holds the write
/// transaction), rolled back on the first failure.
async fn in_transaction<C: MigrationConnection>(
    conn: &mut C,
    dialect: Dialect,
    steps: &[String],
) -> Result<(), C::Error> {
    let (begin, commit, rollback) = match dialect {
        Dialect::Sqlite => (
            "SAVEPOINT maintenance_migration",
            "RELEASE maintenance_migration",
            "ROLLBACK TO maintenance_migration; RELEASE maintenance_migration",
        ),
        Dialect::Postgres => ("BEGIN", "COMMIT", "ROLLBACK"),
        Dialect::MySql => ("START TRANSACTION", "COMMIT", "ROLLBACK"),
    };
    conn.execute(begin).await?;
    for step in steps {
        if let Err(e) = conn.execute(step).await {
            if let Err(rollback_error) = conn.execute(rollback).await {
                tracing::warn!(error = %rollback_error, "rolling back a failed migration step failed");
            }
            return Err(e);
        }
    }
    conn.execute(commit).await
}

fn create_table(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Sqlite => {
            "CREATE TABLE IF NOT EXISTS maintenance_migrations (\
             version INTEGER PRIMARY KEY, \
             name TEXT NOT NULL, \
             checksum TEXT NOT NULL, \
             adopted_from TEXT, \
             applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)"
        }
        Dialect::Postgres => {
            "CREATE TABLE IF NOT EXISTS maintenance_migrations (\
             version BIGINT PRIMARY KEY, \
             name TEXT NOT NULL, \
             checksum TEXT NOT NULL, \
             adopted_from TEXT, \
             applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        }
        Dialect::MySql => {
            "CREATE TABLE IF NOT EXISTS maintenance_migrations (\
             version BIGINT NOT NULL PRIMARY KEY, \
             name VARCHAR(255) NOT NULL, \
             checksum VARCHAR(96) NOT NULL, \
             adopted_from VARCHAR(64) NULL, \
             applied_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)\
             ) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin"
        }
    }
}

/// Which of the shared migrations tables and of the tables our migrations create exist.
fn existing_tables(dialect: Dialect, migrations: &[Migration]) -> String {
    let names = [SQLX_TABLE, DIESEL_TABLE]
        .into_iter()
        .chain(migrations.iter().map(|m| m.creates))
        .map(|name| format!("'{name}'"))
        .collect::<Vec<_>>()
        .join(", ");
    match dialect {
        Dialect::Sqlite => format!(
            "SELECT name AS value FROM sqlite_master WHERE type = 'table' AND name IN ({names})"
        ),
        Dialect::Postgres => format!(
            "SELECT CAST(table_name AS TEXT) AS value FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_name IN ({names})"
        ),
        Dialect::MySql => format!(
            "SELECT CAST(table_name AS CHAR) AS value FROM information_schema.tables \
             WHERE table_schema = DATABASE() AND table_name IN ({names})"
        ),
    }
}

/// `_sqlx_migrations`' successful rows as `version:checksum`.
fn sqlx_rows(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Sqlite => {
            "SELECT CAST(version AS TEXT) || ':' || lower(hex(checksum)) AS value \
             FROM _sqlx_migrations WHERE success"
        }
        Dialect::Postgres => {
            "SELECT CAST(version AS TEXT) || ':' || encode(checksum, 'hex') AS value \
             FROM _sqlx_migrations WHERE success"
        }
        Dialect::MySql => {
            "SELECT CAST(CONCAT(version, ':', LOWER(HEX(checksum))) AS CHAR) AS value \
             FROM _sqlx_migrations WHERE success"
        }
    }
}

/// `__diesel_schema_migrations`' versions.
fn diesel_rows(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::MySql => "SELECT CAST(version AS CHAR) AS value FROM __diesel_schema_migrations",
        Dialect::Sqlite | Dialect::Postgres => {
            "SELECT CAST(version AS TEXT) AS value FROM __diesel_schema_migrations"
        }
    }
}

fn delete_sqlx_row(dialect: Dialect, m: &Migration) -> String {
    let checksum = m.checksum();
    let bytes = match dialect {
        Dialect::Postgres => format!("decode('{checksum}', 'hex')"),
        Dialect::Sqlite | Dialect::MySql => format!("X'{checksum}'"),
    };
    format!(
        "DELETE FROM {SQLX_TABLE} WHERE version = {} AND checksum = {bytes}",
        m.number()
    )
}

fn insert_record(m: &Migration, adopted_from: Option<&str>) -> String {
    let from = adopted_from.map_or_else(|| "NULL".to_owned(), |table| format!("'{table}'"));
    format!(
        "INSERT INTO {TABLE} (version, name, checksum, adopted_from) VALUES ({}, '{}', '{}', {from})",
        m.number(),
        m.name,
        m.checksum()
    )
}

fn is_four_digits(version: &str) -> bool {
    version.len() == 4 && version.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn backends() -> [(&'static str, &'static [Migration]); 3] {
        [("sqlite", SQLITE), ("postgres", POSTGRES), ("mysql", MYSQL)]
    }

    /// 0.1 recorded these checksums in `_sqlx_migrations`: recognising its rows depends on the
    /// released texts never changing.
    #[test]
    fn released_migrations_keep_their_checksums() {
        let released = [
            (
                "sqlite",
                "871bc0d02e4a9596034108d13063484de15e90c1ece642bf8a6a708c73e58cb5479ce99b6a344cb1b621c97c2aa2f74d",
            ),
            (
                "postgres",
                "fed6c93d62e6334fce5aac43f7a2967aee635a6fcf70f3662fa36ec9855a25d963c1d087a8493034f4d01aa18ef450c1",
            ),
            (
                "mysql",
                "6438998df404d7db4231c7e787b5195863da46a7ce226a138ed5e4411c84bad98550c9e53916e252f938ee9c4b9aed3c",
            ),
        ];
        for ((backend, migrations), (name, checksum)) in backends().into_iter().zip(released) {
            assert_eq!(backend, name);
            assert_eq!(
                migrations[0].checksum(),
                checksum,
                "{backend}/{}.sql changed",
                migrations[0].name
            );
        }
    }

    #[test]
    fn versions_are_the_names_leading_part() {
        for (_, migrations) in backends() {
            let versions: Vec<_> = migrations.iter().map(Migration::version).collect();
            assert_eq!(versions, ["0001", "0002", "0003", "0004"]);
            let numbers: Vec<_> = migrations.iter().map(Migration::number).collect();
            assert_eq!(numbers, [1, 2, 3, 4]);
        }
        let bare = Migration {
            name: "0002",
            sql: "",
            creates: "",
        };
        assert_eq!(bare.version(), "0002");
    }

    /// Every file of the folder is in the list, in order, and names the table it creates.
    #[test]
    fn the_lists_name_every_file_of_the_folder() {
        for (backend, migrations) in backends() {
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("migrations")
                .join(backend);
            let mut files: Vec<String> = std::fs::read_dir(&dir)
                .unwrap()
                .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            files.sort();
            let listed: Vec<String> = migrations
                .iter()
                .map(|m| format!("{}.sql", m.name))
                .collect();
            assert_eq!(files, listed, "{}", dir.display());
            for m in migrations {
                let create = format!("CREATE TABLE IF NOT EXISTS {} (", m.creates);
                assert!(
                    m.sql.contains(&create),
                    "{backend}/{} creates {}",
                    m.name,
                    m.creates
                );
            }
        }
    }

    #[test]
    fn only_four_digit_versions_look_like_ours() {
        assert!(is_four_digits("0004"));
        assert!(!is_four_digits("20240101000000"));
        assert!(!is_four_digits("00a1"));
        assert!(!is_four_digits("001"));
    }
}
