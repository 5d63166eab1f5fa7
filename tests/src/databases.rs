//! Fresh databases for the suites that need a PostgreSQL or MariaDB/MySQL server.
//!
//! The servers come from `MAINTENANCE_TEST_POSTGRES_URL` and `MAINTENANCE_TEST_MYSQL_URL`
//! (CI sets both); when one is unset, the helpers print that the test was skipped and return
//! `None`, and the test returns. Each test gets a database of its own,
//! `mt_<pid>_<counter>_<random>`, so tests run in parallel, in several processes too.
//!
//! [`TestRole`] makes a database role (PostgreSQL) or user (MariaDB) with a server's grants
//! (read only) or an operator's on a test database, and drops it again.

use std::collections::hash_map::RandomState;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::pin::Pin;

use async_trait::async_trait;
use maintenance_sql::testkit::{Backend, ServerSql, fresh_server_database};
pub use maintenance_sql::testkit::{
    MYSQL_ENV, POSTGRES_ENV, server_url, unique_db_name, with_database,
};
use maintenance_sqlx::sqlx::{self, AssertSqlSafe, Connection};

/// A URL to a new, empty PostgreSQL database, or `None` (skipped) without the variable.
///
/// # Panics
/// If the server cannot be reached or refuses to create the database.
pub async fn fresh_postgres_url(test: &str) -> Option<String> {
    fresh_server_database::<Admin>(Backend::Postgres, test).await
}

/// A URL to a new, empty MariaDB/MySQL database, or `None` (skipped) without the variable.
///
/// # Panics
/// If the server cannot be reached or refuses to create the database.
pub async fn fresh_mysql_url(test: &str) -> Option<String> {
    fresh_server_database::<Admin>(Backend::MySql, test).await
}

/// `url` with its user and password replaced (host, port, database and query kept).
pub fn with_user(url: &str, user: &str, password: &str) -> String {
    let start = url.find("://").map_or(0, |i| i + 3);
    let authority_end = url[start..]
        .find(['/', '?'])
        .map_or(url.len(), |i| start + i);
    let host_start = url[start..authority_end]
        .rfind('@')
        .map_or(start, |i| start + i + 1);
    format!("{}{user}:{password}@{}", &url[..start], &url[host_start..])
}

/// The database a URL names (its path, without the query).
pub fn database_of(url: &str) -> &str {
    let start = url.find("://").map_or(0, |i| i + 3);
    let rest = &url[start..];
    let Some(slash) = rest.find('/') else {
        return "";
    };
    let path = &rest[slash + 1..];
    path.find('?').map_or(path, |i| &path[..i])
}

/// One text column of each row of `sql`, read on a connection of its own to `url` (SQLite,
/// PostgreSQL or MariaDB/MySQL, by the URL's scheme).
///
/// # Panics
/// If the database cannot be reached or refuses the query.
pub async fn texts(url: &str, sql: &str) -> Vec<String> {
    fn or_panic<T>(result: Result<T, sqlx::Error>, what: &str) -> T {
        result.unwrap_or_else(|e| panic!("{what}: {e}"))
    }
    let target = redact(url);
    let statement = AssertSqlSafe(sql.to_owned());
    match maintenance_sqlx::Backend::from_scheme(url) {
        Some(maintenance_sqlx::Backend::Sqlite) => {
            let mut c = or_panic(sqlx::SqliteConnection::connect(url).await, &target);
            or_panic(sqlx::query_scalar(statement).fetch_all(&mut c).await, sql)
        }
        Some(maintenance_sqlx::Backend::Postgres) => {
            let mut c = or_panic(sqlx::PgConnection::connect(url).await, &target);
            or_panic(sqlx::query_scalar(statement).fetch_all(&mut c).await, sql)
        }
        _ => {
            let mut c = or_panic(sqlx::MySqlConnection::connect(url).await, &target);
            or_panic(sqlx::query_scalar(statement).fetch_all(&mut c).await, sql)
        }
    }
}

/// Which kind of server a [`TestRole`] is made on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleServer {
    /// PostgreSQL: a role with `LOGIN`, `CONNECT` on the database, `USAGE` on schema `public`
    /// and privileges on the maintenance tables (`LISTEN` needs no grant).
    Postgres,
    /// MariaDB/MySQL: a user (at `%`, `localhost` and `127.0.0.1`) with privileges on the
    /// database.
    MySql,
}

/// What a [`TestRole`] may do: the grants the stores' READMEs document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// A server's: `SELECT` only.
    ReadOnly,
    /// An operator's (the CLI, the admin page): `SELECT, INSERT, UPDATE, DELETE`.
    Operator,
}

impl Access {
    fn privileges(self) -> &'static str {
        match self {
            Access::ReadOnly => "SELECT",
            Access::Operator => "SELECT, INSERT, UPDATE, DELETE",
        }
    }
}

/// The tables the stores read and write.
pub const MAINTENANCE_TABLES: [&str; 8] = [
    "maintenance_sites",
    "maintenance_ignored_paths",
    "maintenance_allowed_networks",
    "maintenance_events",
    "maintenance_revision",
    "maintenance_site_changes",
    "maintenance_site_scopes",
    "maintenance_site_tags",
];

/// A role with limited privileges on one test database, with a name no other test run uses.
/// Drop it with [`TestRole::drop_role`] at the end of the test.
#[derive(Debug)]
pub struct TestRole {
    /// The role's (or user's) name.
    pub name: String,
    /// The test database's URL with the role's name and password.
    pub url: String,
    admin_url: String,
    server: RoleServer,
}

/// The hosts a MariaDB test user is created at: any, and the two a local connection may come
/// from (so that an anonymous `''@'localhost'` never shadows it).
const MYSQL_ROLE_HOSTS: [&str; 3] = ["%", "localhost", "127.0.0.1"];

impl TestRole {
    /// Creates the role on the database `admin_url` names, connecting with `admin_url` (a
    /// user that may create roles and grant on the database), with the grants of `access`
    /// on the maintenance tables, exactly as the stores' READMEs give them (migrate first:
    /// PostgreSQL grants on the tables that exist).
    ///
    /// # Panics
    /// If the server refuses a statement.
    pub async fn create(server: RoleServer, access: Access, admin_url: &str) -> TestRole {
        TestRole::create_on(server, access, admin_url, &MAINTENANCE_TABLES).await
    }

    /// Like [`TestRole::create`], with the grants on `tables` only (on MariaDB too, table by
    /// table): e.g. a server's role that may read a Django project's maintenance tables and
    /// nothing else.
    ///
    /// # Panics
    /// If the server refuses a statement.
    pub async fn create_on(
        server: RoleServer,
        access: Access,
        admin_url: &str,
        tables: &[&str],
    ) -> TestRole {
        let whole_database = tables == MAINTENANCE_TABLES;
        let name = format!("mt_role{}", &unique_db_name()["mt".len()..]);
        let password = format!("{:016x}", {
            let mut hasher = RandomState::new().build_hasher();
            hasher.write(name.as_bytes());
            hasher.finish()
        });
        let db = database_of(admin_url).to_owned();
        let privileges = access.privileges();
        let statements: Vec<String> = match server {
            RoleServer::Postgres => vec![
                format!("CREATE ROLE {name} LOGIN PASSWORD '{password}'"),
                format!("GRANT CONNECT ON DATABASE {db} TO {name}"),
                format!("GRANT USAGE ON SCHEMA public TO {name}"),
                format!("GRANT {privileges} ON {} TO {name}", tables.join(", ")),
            ],
            RoleServer::MySql => MYSQL_ROLE_HOSTS
                .iter()
                .flat_map(|host| {
                    let create =
                        format!("CREATE USER '{name}'@'{host}' IDENTIFIED BY '{password}'");
                    let grants: Vec<String> = if whole_database {
                        vec![format!(
                            "GRANT {privileges} ON `{db}`.* TO '{name}'@'{host}'"
                        )]
                    } else {
                        tables
                            .iter()
                            .map(|t| {
                                format!("GRANT {privileges} ON `{db}`.`{t}` TO '{name}'@'{host}'")
                            })
                            .collect()
                    };
                    std::iter::once(create).chain(grants)
                })
                .collect(),
        };
        run_as_admin(server, admin_url, &statements).await;
        TestRole {
            url: with_user(admin_url, &name, &password),
            name,
            admin_url: admin_url.to_owned(),
            server,
        }
    }

    /// Drops the role (on PostgreSQL, with the privileges it holds).
    ///
    /// # Panics
    /// If the server refuses a statement.
    pub async fn drop_role(self) {
        let name = &self.name;
        let statements: Vec<String> = match self.server {
            RoleServer::Postgres => vec![
                format!("DROP OWNED BY {name}"),
                format!("DROP ROLE IF EXISTS {name}"),
            ],
            RoleServer::MySql => MYSQL_ROLE_HOSTS
                .iter()
                .map(|host| format!("DROP USER IF EXISTS '{name}'@'{host}'"))
                .collect(),
        };
        run_as_admin(self.server, &self.admin_url, &statements).await;
    }
}

/// Runs the kit's statements (`CREATE DATABASE`) on a connection of its own, as the roles'.
struct Admin;

#[async_trait]
impl ServerSql for Admin {
    async fn execute_at(url: &str, sql: &str) -> Result<(), String> {
        let statements = [sql.to_owned()];
        match maintenance_sqlx::Backend::from_scheme(url) {
            Some(maintenance_sqlx::Backend::Postgres) => {
                execute::<sqlx::PgConnection>(url, &statements).await
            }
            Some(maintenance_sqlx::Backend::MySql) => {
                execute::<sqlx::MySqlConnection>(url, &statements).await
            }
            _ => Err(format!("{}: not a database server", redact(url))),
        }
    }
}

async fn run_as_admin(server: RoleServer, url: &str, statements: &[String]) {
    let done = match server {
        RoleServer::Postgres => execute::<sqlx::PgConnection>(url, statements).await,
        RoleServer::MySql => execute::<sqlx::MySqlConnection>(url, statements).await,
    };
    done.unwrap_or_else(|e| panic!("{e}"));
}

/// Runs `statements` in order on a connection of its own to `url`. The error names the URL
/// (without its password) when it cannot connect, else the statement that failed.
///
/// Boxed, so that its future is proved `Send` here, under the bound on `C`: as a plain
/// `async fn` awaited in `execute_at`, rustc cannot prove the higher-ranked `Executor` bound
/// for the `Send` future `async_trait` asks of it.
fn execute<'a, C: Connection>(
    url: &'a str,
    statements: &'a [String],
) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>
where
    for<'c> &'c mut C: sqlx::Executor<'c>,
{
    Box::pin(async move {
        let mut conn = C::connect(url)
            .await
            .map_err(|e| format!("{}: {e}", redact(url)))?;
        for statement in statements {
            sqlx::raw_sql(AssertSqlSafe(statement.clone()))
                .execute(&mut conn)
                .await
                .map_err(|e| format!("{statement}: {e}"))?;
        }
        conn.close().await.ok();
        Ok(())
    })
}

fn redact(url: &str) -> String {
    maintenance_sqlx::redact_url(url)
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

    #[test]
    fn user_is_replaced_and_database_read() {
        assert_eq!(
            with_user("postgres://postgres@h:5432/ci?sslmode=disable", "ro", "pw"),
            "postgres://ro:pw@h:5432/ci?sslmode=disable"
        );
        assert_eq!(
            with_user("mysql://root:secret@h/db", "ro", "pw"),
            "mysql://ro:pw@h/db"
        );
        assert_eq!(
            with_user("mysql://h:3306/db", "ro", "pw"),
            "mysql://ro:pw@h:3306/db"
        );
        assert_eq!(database_of("postgres://u@h:5432/ci?sslmode=disable"), "ci");
        assert_eq!(database_of("mysql://root@h/mt_1"), "mt_1");
        assert_eq!(database_of("mysql://root@h"), "");
    }
}
