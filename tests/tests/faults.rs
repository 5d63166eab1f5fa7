//! Faults: a server answers from the state it holds in memory, whatever its database does.
//!
//! Each test runs the axum test project (`maintenance_examples::axum_app`, as
//! `testproject-axum` runs it) over real TCP and asks it with `reqwest`:
//!
//! - start-up with the database down (nothing listens on its port), failing open and failing
//!   closed, on PostgreSQL and MariaDB, then recovery once the database answers;
//! - an outage under a bounded request loop: a TCP proxy between the server and its database
//!   cuts every connection and refuses new ones, on PostgreSQL and MariaDB, with the sqlx and
//!   the diesel store. No request fails or changes answer, the outage is logged once (not once
//!   per poll), and a change an operator made meanwhile is served once the proxy forwards again;
//! - a SQLite file locked by another connection, then removed, while serving.
//!
//! PostgreSQL and MariaDB tests need `MAINTENANCE_TEST_POSTGRES_URL` /
//! `MAINTENANCE_TEST_MYSQL_URL` (each test makes a database of its own) and print that they were
//! skipped without them. Nothing here asserts how fast anything is: waits have generous
//! deadlines, for loaded machines.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::Duration;

use maintenance_core::{FailMode, Identity, Maintenance, MaintenanceStore, SiteRef, StateChange};
use maintenance_examples::{Config, Sessions, SigningKey, axum_app};
use maintenance_sqlx::SqlxStore;
use maintenance_sqlx::sqlx::{self, Connection};
use maintenance_tests::databases::{fresh_mysql_url, fresh_postgres_url};
use maintenance_tests::faults::{LogCapture, LogLine, TcpProxy, upstream_of};
use maintenance_tests::http::client;
use tokio::time::Instant;

/// The message of the maintenance page the tests put up.
const MESSAGE: &str = "Back after the upgrade";
const RETRY_AFTER: u32 = 600;
/// The longest any wait may take before the test fails.
const DEADLINE: Duration = Duration::from_secs(20);
const POLL: Duration = Duration::from_millis(50);
/// How many requests a request loop sends at least.
const LOOP_REQUESTS: usize = 300;

#[derive(Debug, Clone, Copy)]
enum Backend {
    Postgres,
    MySql,
}

impl Backend {
    async fn fresh_url(self, test: &str) -> Option<String> {
        match self {
            Backend::Postgres => fresh_postgres_url(test).await,
            Backend::MySql => fresh_mysql_url(test).await,
        }
    }
}

/// Which store the server reads through.
#[derive(Debug, Clone, Copy)]
enum Store {
    Sqlx,
    Diesel,
}

/// A server on a free port of 127.0.0.1, and its live handle.
struct Served {
    base: String,
    maintenance: Maintenance,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Served {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Builds and serves the test project as its binary does.
async fn serve_project(config: &Config) -> Served {
    let (router, maintenance) = axum_app::build(config).await.expect("test project");
    serve(router, maintenance.expect("the maintenance layer is on")).await
}

/// Serves the test project's routes with `kind`'s store (the binary uses sqlx; the diesel
/// store gets the same router and handle).
async fn serve_with(kind: Store, config: &Config) -> Served {
    match kind {
        Store::Sqlx => serve_project(config).await,
        Store::Diesel => {
            let store = maintenance_diesel::connect(&diesel_url(&config.database_url))
                .await
                .expect("diesel store");
            let maintenance = Maintenance::start(store, config.policy().expect("policy")).await;
            let router = axum_app::router(Sessions::default(), Some(maintenance.clone()), true);
            serve(router, maintenance).await
        }
    }
}

/// `url` for the diesel store. Its MariaDB driver (mysql_async) moves a connection to a local
/// server onto the server's Unix socket, which would go around the proxy: keep it on TCP.
fn diesel_url(url: &str) -> String {
    if url.starts_with("mysql") || url.starts_with("mariadb") {
        let separator = if url.contains('?') { '&' } else { '?' };
        format!("{url}{separator}prefer_socket=false")
    } else {
        url.to_owned()
    }
}

async fn serve(router: axum_app::App, maintenance: Maintenance) -> Served {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("listen");
    let addr = listener.local_addr().expect("address");
    let task = tokio::spawn(async move {
        let _ = axum_app::serve(listener, router).await;
    });
    Served {
        base: format!("http://{addr}"),
        maintenance,
        task,
    }
}

fn config(database_url: String) -> Config {
    Config {
        database_url,
        poll_interval: POLL,
        startup_wait: Duration::from_millis(300),
        // As in production: with a key, the only warnings are the outage's.
        bypass_signing_key: Some(SigningKey("0123456789abcdef0123456789abcdef".into())),
        ..Config::default()
    }
}

/// An operator's store on the database, straight (never through the proxy), migrated.
async fn operator(url: &str) -> SqlxStore {
    let store = maintenance_sqlx::connect(url)
        .await
        .expect("operator store");
    store.migrate().await.expect("migrate");
    store
}

async fn put_in_maintenance(store: &dyn MaintenanceStore) {
    store
        .set_state(
            &SiteRef::Default,
            &StateChange::turn_on()
                .message(MESSAGE)
                .retry_after_secs(RETRY_AFTER),
            "ops",
        )
        .await
        .expect("maintenance on");
}

/// A fresh database of `backend` put in maintenance by an operator, and a proxy to it,
/// forwarding if `up`, refusing connections if not. `None` when `backend` is not configured.
async fn in_maintenance_behind_proxy(
    backend: Backend,
    test: &str,
    up: bool,
) -> Option<(String, SqlxStore, TcpProxy)> {
    let url = backend.fresh_url(test).await?;
    let ops = operator(&url).await;
    put_in_maintenance(&ops).await;
    let upstream = upstream_of(&url).await.unwrap();
    let proxy = if up {
        TcpProxy::start(upstream).await
    } else {
        TcpProxy::start_down(upstream).await
    };
    Some((url, ops, proxy.unwrap()))
}

/// What a client got.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Answer {
    status: u16,
    retry_after: Option<String>,
    body: String,
}

impl Answer {
    /// The page of the maintenance the tests put up.
    fn is_maintenance_page(&self) -> bool {
        self.status == 503
            && self.body.contains(MESSAGE)
            && self.retry_after.as_deref() == Some(&RETRY_AFTER.to_string())
    }

    /// The 503 of failing closed with no state: the policy's default message, no site's.
    fn is_fail_closed(&self) -> bool {
        self.status == 503 && !self.body.contains(MESSAGE)
    }

    fn is_home(&self) -> bool {
        self.status == 200 && self.body.starts_with("This is the home view.")
    }
}

/// `GET path`; a connection error fails the test.
async fn get(client: &reqwest::Client, base: &str, path: &str) -> Answer {
    let res = client
        .get(format!("{base}{path}"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    let status = res.status().as_u16();
    let retry_after = res
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = res
        .text()
        .await
        .unwrap_or_else(|e| panic!("GET {path}: body: {e}"));
    Answer {
        status,
        retry_after,
        body,
    }
}

/// Waits for the maintenance page on `/`, the home page meanwhile.
async fn wait_for_maintenance_from_home(served: &Served) {
    wait_for(
        served,
        "/",
        "the maintenance page",
        Answer::is_maintenance_page,
        Answer::is_home,
    )
    .await;
}

/// Asks `GET path` until `done` holds, at most [`DEADLINE`]; every answer on the way must
/// satisfy `meanwhile`.
async fn wait_for(
    served: &Served,
    path: &str,
    what: &str,
    done: impl Fn(&Answer) -> bool,
    meanwhile: impl Fn(&Answer) -> bool,
) -> Answer {
    let client = client();
    let deadline = Instant::now() + DEADLINE;
    loop {
        let answer = get(&client, &served.base, path).await;
        if done(&answer) {
            return answer;
        }
        assert!(
            meanwhile(&answer),
            "while waiting for {what}, GET {path} answered {answer:?}"
        );
        assert!(
            Instant::now() < deadline,
            "GET {path} never answered {what} within {DEADLINE:?}; last: {answer:?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Waits until `cond` holds, at most [`DEADLINE`].
async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "{what} did not happen within {DEADLINE:?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Sends requests to `/` and `/admin/login/` (ignored by the policy), at least
/// [`LOOP_REQUESTS`] and until `done` holds (at most [`DEADLINE`]), and asserts each answer is
/// the one in `before`. `during` runs after each pair. Returns how many were sent.
async fn request_loop(
    served: &Served,
    before: &[Answer; 2],
    mut during: impl AsyncFnMut() -> bool,
) -> usize {
    let client = client();
    let deadline = Instant::now() + DEADLINE;
    let mut sent = 0;
    loop {
        for (path, expected) in ["/", "/admin/login/"].into_iter().zip(before) {
            let answer = get(&client, &served.base, path).await;
            assert_eq!(
                &answer, expected,
                "request {sent} (GET {path}) changed answer during the fault"
            );
            sent += 1;
        }
        let done = during().await;
        if sent >= LOOP_REQUESTS && done {
            return sent;
        }
        assert!(
            Instant::now() < deadline,
            "the fault was not seen within {DEADLINE:?} ({sent} requests)"
        );
        if sent >= LOOP_REQUESTS {
            // Enough load: wait for the fault at a gentler pace.
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

/// The warnings and errors among `lines`, asserted to be at least one (the fault was logged)
/// and at most two (once per outage from the handle, plus once from the store's change feed
/// or the start-up, each with its cause), however many polls failed.
fn assert_logged_once(lines: &[LogLine], failed_attempts: usize) {
    let problems: Vec<String> = lines
        .iter()
        .filter(|l| l.is_problem())
        .map(ToString::to_string)
        .collect();
    assert!(
        !problems.is_empty(),
        "the fault was not logged as a warning or an error"
    );
    assert!(
        problems.len() <= 2,
        "{} warnings and errors for one outage ({failed_attempts} failed attempts): {problems:#?}",
        problems.len()
    );
    assert!(
        failed_attempts >= 5,
        "only {failed_attempts} failed attempts: too few to tell once per outage from once per poll"
    );
}

fn home_request() -> maintenance_core::http::Request<()> {
    maintenance_core::http::Request::builder()
        .uri("/")
        .body(())
        .unwrap()
}

// Start-up with the database down.

async fn starts_with_the_database_down(backend: Backend, fail_mode: FailMode, test: &str) {
    let Some((url, _ops, proxy)) = in_maintenance_behind_proxy(backend, test, false).await else {
        return;
    };
    let (logs, _guard) = LogCapture::install();
    let served = serve_project(&Config {
        fail_mode,
        ..config(proxy.url(&url))
    })
    .await;

    // Nothing could be loaded: the fail mode answers, on every request.
    assert!(served.maintenance.snapshot().is_none());
    assert_eq!(
        served
            .maintenance
            .check(&home_request(), Identity::Anonymous)
            .reason_str(),
        "no_snapshot"
    );
    let client = client();
    for _ in 0..20 {
        let answer = get(&client, &served.base, "/").await;
        match fail_mode {
            FailMode::Open => assert!(answer.is_home(), "failing open: {answer:?}"),
            FailMode::Closed => assert!(answer.is_fail_closed(), "failing closed: {answer:?}"),
        }
    }

    // The database answers: its state is served, in both modes.
    proxy.restore();
    wait_for(
        &served,
        "/",
        "the maintenance page",
        Answer::is_maintenance_page,
        |a| match fail_mode {
            FailMode::Open => a.is_home(),
            FailMode::Closed => a.is_fail_closed(),
        },
    )
    .await;
    let problems = logs
        .since(0)
        .into_iter()
        .filter(LogLine::is_problem)
        .count();
    assert!(
        (1..=2).contains(&problems),
        "{problems} warnings and errors: {:#?}",
        logs.since(0)
    );
}

#[tokio::test]
async fn postgres_down_at_start_up_failing_closed_then_recovers() {
    starts_with_the_database_down(
        Backend::Postgres,
        FailMode::Closed,
        "postgres_down_at_start_up_failing_closed_then_recovers",
    )
    .await;
}

#[tokio::test]
async fn postgres_down_at_start_up_failing_open_then_recovers() {
    starts_with_the_database_down(
        Backend::Postgres,
        FailMode::Open,
        "postgres_down_at_start_up_failing_open_then_recovers",
    )
    .await;
}

#[tokio::test]
async fn mariadb_down_at_start_up_failing_closed_then_recovers() {
    starts_with_the_database_down(
        Backend::MySql,
        FailMode::Closed,
        "mariadb_down_at_start_up_failing_closed_then_recovers",
    )
    .await;
}

#[tokio::test]
async fn mariadb_down_at_start_up_failing_open_then_recovers() {
    starts_with_the_database_down(
        Backend::MySql,
        FailMode::Open,
        "mariadb_down_at_start_up_failing_open_then_recovers",
    )
    .await;
}

/// A database that was never migrated and is down at start-up is migrated once it answers,
/// and the server then follows it.
#[tokio::test]
async fn a_new_database_down_at_start_up_is_migrated_when_it_answers() {
    let test = "a_new_database_down_at_start_up_is_migrated_when_it_answers";
    let Some(url) = fresh_postgres_url(test).await else {
        return;
    };
    let proxy = TcpProxy::start_down(upstream_of(&url).await.unwrap())
        .await
        .unwrap();
    let served = serve_project(&Config {
        fail_mode: FailMode::Closed,
        ..config(proxy.url(&url))
    })
    .await;
    assert!(get(&client(), &served.base, "/").await.is_fail_closed());
    proxy.restore();
    wait_for(
        &served,
        "/",
        "the home page",
        Answer::is_home,
        Answer::is_fail_closed,
    )
    .await;
    // Migrated by the server: an operator's store finds the tables and the server follows it.
    let ops = maintenance_sqlx::connect(&url).await.unwrap();
    put_in_maintenance(&ops).await;
    wait_for_maintenance_from_home(&served).await;
}

// An outage while serving.

async fn outage_under_load(backend: Backend, kind: Store, test: &str) {
    let Some((url, ops, proxy)) = in_maintenance_behind_proxy(backend, test, true).await else {
        return;
    };
    let (logs, _guard) = LogCapture::install();
    let served = serve_with(kind, &config(proxy.url(&url))).await;
    let client = client();
    let page = wait_for(
        &served,
        "/",
        "the maintenance page",
        Answer::is_maintenance_page,
        |_| true,
    )
    .await;
    let admin = get(&client, &served.base, "/admin/login/").await;
    assert_eq!(admin.status, 200, "^admin is ignored: {admin:?}");
    let before = [page, admin];
    if let Backend::Postgres = backend {
        // The outage is to cut the change feed too, not to come before it.
        wait_for_listener(&ops).await;
    }
    let mark = logs.mark();
    let failures = served.maintenance.stats().1;

    proxy.refuse();
    proxy.cut();
    let mut changed = false;
    let sent = request_loop(&served, &before, async || {
        let failed = served.maintenance.stats().1 - failures;
        if failed >= 1 && !changed {
            // The server has seen the outage. An operator turns maintenance off meanwhile,
            // on the database itself.
            ops.set_state(&SiteRef::Default, &StateChange::turn_off(), "ops")
                .await
                .unwrap();
            changed = true;
        }
        let feed_retries =
            logs.count_since(mark, "could not reconnect the maintenance change feed");
        changed && failed as usize + feed_retries >= 5
    })
    .await;
    let failed = (served.maintenance.stats().1 - failures) as usize
        + logs.count_since(mark, "could not reconnect the maintenance change feed");
    assert_logged_once(&logs.since(mark), failed);
    assert_eq!(
        handle_warnings(&logs.since(mark)),
        1,
        "the handle warns once per outage"
    );
    eprintln!("{sent} requests answered as before the outage; {failed} failed attempts");

    // The database is back: the change made during the outage is served.
    proxy.restore();
    wait_for(&served, "/", "the home page", Answer::is_home, |a| {
        *a == before[0]
    })
    .await;
    wait_until("the recovery to be logged", || {
        logs.count_since(mark, "reachable again") >= 1
    })
    .await;
}

/// Waits until a session on the operator's PostgreSQL database listens for changes: the
/// server's change feed.
async fn wait_for_listener(ops: &SqlxStore) {
    let SqlxStore::Postgres(pg) = ops else {
        panic!("not a PostgreSQL store");
    };
    let deadline = Instant::now() + DEADLINE;
    loop {
        let listening: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE datname = current_database() AND application_name = 'maintenance change feed'",
        )
        .fetch_one(pg.pool())
        .await
        .unwrap();
        if listening > 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the server never listened for changes"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// How many warnings and errors the live handle itself logged.
fn handle_warnings(lines: &[LogLine]) -> usize {
    lines
        .iter()
        .filter(|l| l.is_problem() && l.target == "maintenance_core::handle")
        .count()
}

#[tokio::test]
async fn postgres_outage_under_load_sqlx() {
    outage_under_load(
        Backend::Postgres,
        Store::Sqlx,
        "postgres_outage_under_load_sqlx",
    )
    .await;
}

#[tokio::test]
async fn postgres_outage_under_load_diesel() {
    outage_under_load(
        Backend::Postgres,
        Store::Diesel,
        "postgres_outage_under_load_diesel",
    )
    .await;
}

#[tokio::test]
async fn mariadb_outage_under_load_sqlx() {
    outage_under_load(
        Backend::MySql,
        Store::Sqlx,
        "mariadb_outage_under_load_sqlx",
    )
    .await;
}

#[tokio::test]
async fn mariadb_outage_under_load_diesel() {
    outage_under_load(
        Backend::MySql,
        Store::Diesel,
        "mariadb_outage_under_load_diesel",
    )
    .await;
}

// SQLite.

fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

/// Serves a fresh SQLite file in maintenance; returns the server, the operator's store and the
/// answers to `/` and `/admin/login/`.
async fn serve_sqlite(path: &Path) -> (Served, SqlxStore, [Answer; 2]) {
    let ops = operator(&sqlite_url(path)).await;
    put_in_maintenance(&ops).await;
    let served = serve_project(&config(sqlite_url(path))).await;
    let page = get(&client(), &served.base, "/").await;
    assert!(page.is_maintenance_page(), "{page:?}");
    let admin = get(&client(), &served.base, "/admin/login/").await;
    assert_eq!(admin.status, 200);
    (served, ops, [page, admin])
}

/// Another connection holds the file's exclusive lock, with a change in its transaction: reads
/// fail (after SQLite's busy timeout) and the server keeps its state; once the lock is
/// released, the change is served.
#[tokio::test]
async fn sqlite_file_locked_while_serving() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("maintenance.db");
    let (logs, _guard) = LogCapture::install();
    let (served, _ops, before) = serve_sqlite(&path).await;
    let mark = logs.mark();
    let failures = served.maintenance.stats().1;

    let mut locker = sqlx::SqliteConnection::connect(&sqlite_url(&path))
        .await
        .unwrap();
    for sql in [
        "BEGIN EXCLUSIVE",
        "UPDATE maintenance_sites SET enabled = FALSE WHERE is_default = TRUE",
        "UPDATE maintenance_revision SET revision = revision + 1 WHERE id = 1",
    ] {
        sqlx::query(sql).execute(&mut locker).await.unwrap();
    }
    request_loop(&served, &before, async || {
        served.maintenance.stats().1 > failures
    })
    .await;
    let failed = (served.maintenance.stats().1 - failures) as usize;
    let problems = logs.since(mark);
    assert_eq!(
        problems.iter().filter(|l| l.is_problem()).count(),
        1,
        "one warning for the lock: {problems:#?}"
    );
    assert!(failed >= 1);

    sqlx::query("COMMIT").execute(&mut locker).await.unwrap();
    wait_for(&served, "/", "the home page", Answer::is_home, |a| {
        *a == before[0]
    })
    .await;
    wait_until("the recovery to be logged", || {
        logs.count_since(mark, "reachable again") == 1
    })
    .await;
}

/// The file is moved away while serving: the server keeps its state and logs the outage once,
/// and creates no empty file in its place. Put back (changed meanwhile), it is read again; a
/// new file in its place, made by an operator's tool, is read instead.
#[tokio::test]
async fn sqlite_file_removed_while_serving() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("maintenance.db");
    let moved = dir.path().join("moved.db");
    let (logs, _guard) = LogCapture::install();
    let (served, ops, before) = serve_sqlite(&path).await;
    let mark = logs.mark();
    let failures = served.maintenance.stats().1;

    std::fs::rename(&path, &moved).unwrap();
    request_loop(&served, &before, async || {
        served.maintenance.stats().1 >= failures + 5
    })
    .await;
    let failed = (served.maintenance.stats().1 - failures) as usize;
    assert_logged_once(&logs.since(mark), failed);
    assert_eq!(handle_warnings(&logs.since(mark)), 1);
    assert!(
        !path.exists(),
        "no empty database in place of the removed file"
    );

    // Changed where it is, then put back.
    let elsewhere = maintenance_sqlx::connect(&sqlite_url(&moved))
        .await
        .unwrap();
    elsewhere
        .set_state(&SiteRef::Default, &StateChange::turn_off(), "ops")
        .await
        .unwrap();
    drop(elsewhere);
    std::fs::rename(&moved, &path).unwrap();
    wait_for(&served, "/", "the home page", Answer::is_home, |a| {
        *a == before[0]
    })
    .await;

    // In maintenance again, then deleted and replaced by a new database.
    put_in_maintenance(&ops).await;
    wait_for_maintenance_from_home(&served).await;
    let mark = logs.mark();
    let failures = served.maintenance.stats().1;
    std::fs::remove_file(&path).unwrap();
    wait_until("a failed poll", || served.maintenance.stats().1 > failures).await;
    assert!(
        get(&client(), &served.base, "/")
            .await
            .is_maintenance_page()
    );
    operator(&sqlite_url(&path)).await;
    wait_for(&served, "/", "the home page", Answer::is_home, |a| {
        a.is_maintenance_page()
    })
    .await;
    assert_eq!(handle_warnings(&logs.since(mark)), 1);
}
