//! Fresh databases for the suites that need a PostgreSQL or MariaDB/MySQL server.
//!
//! The servers come from `MAINTENANCE_TEST_POSTGRES_URL` and `MAINTENANCE_TEST_MYSQL_URL`
//! (CI sets both); when one is unset, the helpers print that the test was skipped and return
//! `None`, and the test returns. Each test gets a database of its own,
//! `mt_<pid>_<counter>_<random>`, so tests run in parallel, in several processes too.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use maintenance_sqlx::sqlx::{self, AssertSqlSafe, Connection};

/// The variable naming the PostgreSQL server for tests.
pub const POSTGRES_ENV: &str = "MAINTENANCE_TEST_POSTGRES_URL";
/// The variable naming the MariaDB/MySQL server for tests.
pub const MYSQL_ENV: &str = "MAINTENANCE_TEST_MYSQL_URL";

/// A database name no other test (in this process or another) uses.
pub fn unique_db_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(n);
    format!(
        "mt_{}_{n}_{:08x}",
        std::process::id(),
        hasher.finish() as u32
    )
}

/// `url` with its database (the path) replaced by `name`, query kept.
pub fn with_database(url: &str, name: &str) -> String {
    let start = url.find("://").map_or(0, |i| i + 3);
    let path_start = url[start..]
        .find(['/', '?'])
        .map_or(url.len(), |i| start + i);
    let query = url[path_start..]
        .find('?')
        .map_or("", |i| &url[path_start + i..]);
    format!("{}/{name}{query}", &url[..path_start])
}

/// The server URL in `var`, or `None` after printing that `test` was skipped.
pub fn server_url(var: &str, test: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            eprintln!("skipped {test}: {var} is not set");
            None
        }
    }
}

/// A URL to a new, empty PostgreSQL database, or `None` (skipped) without the variable.
///
/// # Panics
/// If the server cannot be reached or refuses to create the database.
pub async fn fresh_postgres_url(test: &str) -> Option<String> {
    let base = server_url(POSTGRES_ENV, test)?;
    let name = unique_db_name();
    let mut conn = sqlx::PgConnection::connect(&base)
        .await
        .unwrap_or_else(|e| panic!("{POSTGRES_ENV}: {e}"));
    sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
    conn.close().await.ok();
    Some(with_database(&base, &name))
}

/// A URL to a new, empty MariaDB/MySQL database, or `None` (skipped) without the variable.
///
/// # Panics
/// If the server cannot be reached or refuses to create the database.
pub async fn fresh_mysql_url(test: &str) -> Option<String> {
    let base = server_url(MYSQL_ENV, test)?;
    let name = unique_db_name();
    let mut conn = sqlx::MySqlConnection::connect(&base)
        .await
        .unwrap_or_else(|e| panic!("{MYSQL_ENV}: {e}"));
    sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
    conn.close().await.ok();
    Some(with_database(&base, &name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_is_replaced_and_query_kept() {
        assert_eq!(
            with_database("postgres://u:p@h:5432/ci?sslmode=disable", "x"),
            "postgres://u:p@h:5432/x?sslmode=disable"
        );
        assert_eq!(with_database("mysql://root@h", "x"), "mysql://root@h/x");
        assert_ne!(unique_db_name(), unique_db_name());
    }
}
