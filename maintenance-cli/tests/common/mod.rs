//! Helpers shared by the integration tests: a fresh database per test on each backend, and the
//! `maintenance` binary run as a process.
#![allow(dead_code)]

use std::process::Stdio;
use std::time::{Duration, Instant};

pub use maintenance_sql::testkit::{Backend, with_database};
use maintenance_sql::testkit::{server_url, unique_db_name};
use maintenance_sqlx::sqlx::{self, AssertSqlSafe, Connection};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_maintenance");

/// A fresh database for one test: a temporary SQLite file, or a new database `mt_<unique>`
/// created through the server URL.
pub struct TestDb {
    pub url: String,
    pub backend: Backend,
    _dir: Option<tempfile::TempDir>,
    /// The server URL and the database name, to drop the database afterwards.
    server: Option<(String, String)>,
}

impl Drop for TestDb {
    /// Drops the test's database (best effort; `.ci/run` also drops every `mt_*` database).
    fn drop(&mut self) {
        let Some((server, name)) = self.server.take() else {
            return;
        };
        let backend = self.backend;
        let cleanup = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            let sql = match backend {
                Backend::Postgres => format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                _ => format!("DROP DATABASE IF EXISTS {name}"),
            };
            let _ = rt.block_on(on_server(backend, &server, sql));
        });
        let _ = cleanup.join();
    }
}

/// A fresh database on `backend`, or `None` (after saying the test was skipped) when the
/// backend's server URL is not set.
pub async fn fresh_db(backend: Backend, test: &str) -> Option<TestDb> {
    let Some(var) = backend.server_env() else {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("maintenance.db").display());
        return Some(TestDb {
            url,
            backend,
            _dir: Some(dir),
            server: None,
        });
    };
    let server = server_url(var, test)?;
    let name = unique_db_name();
    let create = format!("CREATE DATABASE {name}");
    on_server(backend, &server, create)
        .await
        .unwrap_or_else(|e| panic!("{var}: {e}"));
    Some(TestDb {
        url: with_database(&server, &name),
        backend,
        _dir: None,
        server: Some((server, name)),
    })
}

/// Runs `sql` on `server`, the server URL of `backend` (PostgreSQL or MariaDB).
async fn on_server(backend: Backend, server: &str, sql: String) -> Result<(), String> {
    match backend {
        Backend::Postgres => on_connection::<sqlx::PgConnection>(server, sql).await,
        Backend::MySql => on_connection::<sqlx::MySqlConnection>(server, sql).await,
        Backend::Sqlite => Err(format!("{sql}: SQLite has no server")),
    }
}

/// Runs `sql` on a new connection of type `C` to `server`.
async fn on_connection<C>(server: &str, sql: String) -> Result<(), String>
where
    C: Connection,
    for<'c> &'c mut C: sqlx::Executor<'c, Database = C::Database>,
{
    let mut conn = C::connect(server)
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;
    let done = sqlx::raw_sql(AssertSqlSafe(sql.clone()))
        .execute(&mut conn)
        .await
        .map(drop)
        .map_err(|e| format!("{sql}: {e}"));
    conn.close().await.ok();
    done
}

/// What a run of the binary gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from_output(out: std::process::Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

fn command(url: &str, args: &[&str]) -> std::process::Command {
    let mut cmd = std::process::Command::new(BIN);
    cmd.arg("--database-url")
        .arg(url)
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("MAINTENANCE_ADMIN_TOKEN")
        .env_remove("MAINTENANCE_ADMIN_PUBLIC_ORIGIN")
        .env_remove("MAINTENANCE_CONNECT_TIMEOUT")
        .env("USER", "tester")
        .stdin(Stdio::null());
    cmd
}

/// Runs `maintenance --database-url URL ARGS...` with `USER=tester`.
pub fn cli(url: &str, args: &[&str]) -> Run {
    Run::from_output(command(url, args).output().expect("run the binary"))
}

/// The same, with changes to the environment.
pub fn cli_env(url: &str, args: &[&str], set: &[(&str, &str)], remove: &[&str]) -> Run {
    let mut cmd = command(url, args);
    for (k, v) in set {
        cmd.env(k, v);
    }
    for k in remove {
        cmd.env_remove(k);
    }
    Run::from_output(cmd.output().expect("run the binary"))
}

/// Runs the binary without blocking the async runtime (for tests with in-process servers).
pub async fn cli_async(url: &str, args: &[&str]) -> Run {
    let cmd = command(url, args);
    let out = tokio::process::Command::from(cmd)
        .output()
        .await
        .expect("run the binary");
    Run::from_output(out)
}

/// Asserts that a run succeeded, printing everything when it did not.
pub fn ok(run: &Run) -> &Run {
    assert_eq!(run.code, 0, "expected success, got {run:#?}");
    run
}

/// Asserts that a run exited with `code` and that its stderr holds each of `words`.
pub fn fails<'r>(run: &'r Run, code: i32, words: &[&str]) -> &'r Run {
    assert_eq!(run.code, code, "expected exit status {code}, got {run:#?}");
    for word in words {
        assert!(run.stderr.contains(word), "stderr lacks {word:?}: {run:#?}");
    }
    run
}

/// Runs the binary without blocking the async runtime and asserts that it succeeded.
pub async fn cli_ok(url: &str, args: &[&str]) -> Run {
    let run = cli_async(url, args).await;
    ok(&run);
    run
}

/// GETs `url` until it answers `status`, for at most 10 s; panics with the last answer.
pub async fn wait_for_status(client: &reqwest::Client, url: &str, status: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut last = String::new();
    while Instant::now() < deadline {
        match client.get(url).send().await {
            Ok(res) if res.status().as_u16() == status => return,
            Ok(res) => last = format!("status {}", res.status()),
            Err(e) => last = format!("error {e}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{url} did not answer {status} within 10 s; last: {last}");
}

/// The axum test project, running.
pub struct Project {
    /// Its base URL, `http://127.0.0.1:<port>`.
    pub base: String,
    /// Its home page, the base URL and `/`.
    pub home: String,
    /// A client to send it requests.
    pub http: reqwest::Client,
}

/// Starts the axum test project on `url`'s database at 127.0.0.1:<free port> and waits until
/// its home page answers 200.
pub async fn start_test_project(url: &str) -> Project {
    let config = maintenance_examples::Config {
        database_url: url.to_owned(),
        bind: "127.0.0.1:0".parse().expect("address"),
        poll_interval: Duration::from_millis(100),
        ..Default::default()
    };
    let (router, _maintenance) = maintenance_examples::axum_app::build(&config)
        .await
        .expect("build the test project");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("local address");
    tokio::spawn(maintenance_examples::axum_app::serve(listener, router));
    let base = format!("http://{addr}");
    let home = format!("{base}/");
    let http = reqwest::Client::new();
    wait_for_status(&http, &home, 200).await;
    Project { base, home, http }
}

/// A client that does not follow redirects, to see the admin page's own answers.
pub fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client")
}

/// The value of the first hidden `csrf` field in a page.
pub fn csrf_of(page: &str) -> String {
    let field = "name=\"csrf\" value=\"";
    let start = page
        .find(field)
        .unwrap_or_else(|| panic!("no csrf field in {page}"))
        + field.len();
    page[start..]
        .split('"')
        .next()
        .expect("split yields a part")
        .to_owned()
}

/// Starts the admin page in-process on `url`'s database, with no public origin; returns its
/// base URL.
pub async fn start_admin(url: &str, auth: maintenance_cli::admin::AdminAuth) -> String {
    start_admin_with(url, |addr| {
        maintenance_cli::admin::AdminConfig::new(auth, addr, Vec::new())
    })
    .await
}

/// Starts the admin page in-process on `url`'s database at 127.0.0.1:<free port>, configured
/// by `config` from the bound address; returns its base URL.
pub async fn start_admin_with(
    url: &str,
    config: impl FnOnce(std::net::SocketAddr) -> maintenance_cli::admin::AdminConfig,
) -> String {
    let store = maintenance_sqlx::connect(url).await.expect("connect");
    store.migrate().await.expect("migrate");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("local address");
    let router = maintenance_cli::admin::router(std::sync::Arc::new(store), config(addr));
    tokio::spawn(maintenance_cli::admin::serve(
        listener,
        router,
        std::future::pending(),
    ));
    format!("http://{addr}")
}

/// A clock for the admin page's login backoff that only moves when told, so that tests never
/// wait for a backoff to end.
#[derive(Clone)]
pub struct TestClock(std::sync::Arc<std::sync::Mutex<Instant>>);

impl TestClock {
    pub fn new() -> TestClock {
        TestClock(std::sync::Arc::new(std::sync::Mutex::new(Instant::now())))
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let mut now = self.0.lock().unwrap();
        *now += by;
    }

    /// The clock to give the admin page.
    pub fn clock(&self) -> maintenance_cli::admin::Clock {
        let now = self.0.clone();
        maintenance_cli::admin::Clock::from_fn(move || *now.lock().unwrap())
    }
}

/// Starts the admin page with `auth`, no public origin, the default backoff and `clock`;
/// returns its base URL.
pub async fn start_admin_clocked(
    url: &str,
    auth: maintenance_cli::admin::AdminAuth,
    clock: &TestClock,
) -> String {
    let clock = clock.clock();
    start_admin_with(url, move |addr| maintenance_cli::admin::AdminConfig {
        clock,
        ..maintenance_cli::admin::AdminConfig::new(auth, addr, Vec::new())
    })
    .await
}

/// Opens the store directly, to check what was written.
pub async fn store(url: &str) -> maintenance_sqlx::SqlxStore {
    maintenance_sqlx::connect(url).await.expect("connect")
}

/// `maintenance --database-url URL ARGS...` running in the background (a server command:
/// `relay`, `watch`), with `set` added to its environment; killed when dropped.
pub struct Background(std::process::Child);

impl Background {
    pub fn start(url: &str, args: &[&str], set: &[(&str, &str)]) -> Background {
        let mut cmd = std::process::Command::new(BIN);
        cmd.arg("--database-url")
            .arg(url)
            .args(args)
            .env_remove("DATABASE_URL")
            .env("MAINTENANCE_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        for (k, v) in set {
            cmd.env(k, v);
        }
        Background(cmd.spawn().expect("start the binary"))
    }

    /// Stops it at once (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        self.kill();
    }
}
