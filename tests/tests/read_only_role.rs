//! A server runs with a database role that may only read: `SELECT` (and `LISTEN`) on
//! PostgreSQL, `SELECT` on MariaDB.
//!
//! Each test makes a fresh database, migrates it with the privileged URL, and creates two roles
//! (users on MariaDB) with names of their own and the grants the stores' READMEs give: a
//! server's, that may only read, and an operator's (`SELECT, INSERT, UPDATE, DELETE`). Then:
//!
//! - the axum test project (`maintenance_examples::axum_app`, with `MAINTENANCE_MIGRATE=off`)
//!   runs on the read-only role's URL over real TCP and serves 200; a store on the operator's
//!   URL (what the CLI opens) turns maintenance on and the server answers 503, off and it
//!   answers 200 again;
//! - every write through a store opened with the role's URL (the sqlx and the diesel store)
//!   fails with the database's "permission denied" / "command denied", and nothing changed;
//! - migrating with the role's URL fails with such an error too, promptly;
//! - the roles are dropped at the end, whatever the outcome.
//!
//! The tests need `MAINTENANCE_TEST_POSTGRES_URL` / `MAINTENANCE_TEST_MYSQL_URL` (a user that
//! may create databases and roles) and print that they were skipped without them.
#![allow(clippy::unwrap_used)]

use std::future::Future;
use std::time::Duration;

use maintenance_core::store::StoreContents;
use maintenance_core::{
    MaintenanceSource, MaintenanceStore, SiteRef, StateChange, StoreError, bypass,
};
use maintenance_examples::{Config, SigningKey, axum_app};
use maintenance_tests::databases::{
    Access, RoleServer, TestRole, fresh_mysql_url, fresh_postgres_url,
};
use maintenance_tests::http::client;
use tokio::time::Instant;

/// The longest any wait may take before the test fails.
const DEADLINE: Duration = Duration::from_secs(20);
/// A site, a pattern and a network the operator adds, for the role to try to remove.
const SITE: &str = "shop.example.com";
const PATTERN: &str = "^health";
const NETWORK: &str = "10.1.0.0/16";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_server_serves_and_follows_with_a_select_only_role() {
    with_read_only_role(
        RoleServer::Postgres,
        "postgres_server_serves_and_follows_with_a_select_only_role",
        "permission denied",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_server_serves_and_follows_with_a_select_only_user() {
    with_read_only_role(
        RoleServer::MySql,
        "mariadb_server_serves_and_follows_with_a_select_only_user",
        "command denied",
    )
    .await;
}

/// Makes a fresh database on `server` (skipping when it is not configured), migrates it, makes
/// the roles, runs the scenario, and drops the roles even if it failed.
async fn with_read_only_role(server: RoleServer, test: &str, denied: &'static str) {
    let url = match server {
        RoleServer::Postgres => fresh_postgres_url(test).await,
        RoleServer::MySql => fresh_mysql_url(test).await,
    };
    let Some(url) = url else {
        return;
    };
    let admin = maintenance_sqlx::connect(&url).await.expect("admin store");
    admin.migrate().await.expect("migrate");
    let role = TestRole::create(server, Access::ReadOnly, &url).await;
    let operator_role = TestRole::create(server, Access::Operator, &url).await;
    let outcome = tokio::spawn(scenario(
        server,
        admin,
        operator_role.url.clone(),
        role.url.clone(),
        denied,
    ))
    .await;
    role.drop_role().await;
    operator_role.drop_role().await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

async fn scenario(
    server: RoleServer,
    admin: maintenance_sqlx::SqlxStore,
    operator_url: String,
    role_url: String,
    denied: &'static str,
) {
    // The operator's store (what the CLI opens), on a role with the documented operator grants.
    let operator = maintenance_sqlx::connect(&operator_url)
        .await
        .expect("store on the operator's URL");

    // The server: the test project, on the role's URL, migrating nothing.
    let config = Config {
        database_url: role_url.clone(),
        migrate: false,
        poll_interval: Duration::from_millis(50),
        startup_wait: Duration::from_secs(10),
        bypass_signing_key: Some(SigningKey("0123456789abcdef0123456789abcdef".into())),
        ..Config::default()
    };
    let (router, maintenance) = axum_app::build(&config).await.expect("test project");
    let maintenance = maintenance.expect("the maintenance layer is on");
    assert!(
        maintenance.snapshot().is_some(),
        "the role read the state at start-up"
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let served = AbortOnDrop(tokio::spawn(async move {
        let _ = axum_app::serve(listener, router).await;
    }));
    wait_for_status(&base, 200).await;

    // The source a server reads through: on PostgreSQL its change feed (`LISTEN`) works with
    // the role too.
    let reader = maintenance_sqlx::connect(&role_url)
        .await
        .expect("store on the role's URL");
    let mut feed = reader.subscribe().await.expect("subscribe");
    assert_eq!(
        feed.is_some(),
        server == RoleServer::Postgres,
        "PostgreSQL hands out a feed"
    );

    // The operator changes the state; the server follows.
    operator
        .set_state(&SiteRef::Default, &StateChange::turn_on(), "ops")
        .await
        .unwrap();
    wait_for_status(&base, 503).await;
    if let Some(feed) = feed.as_mut() {
        tokio::time::timeout(DEADLINE, feed.recv())
            .await
            .expect("a notice on the role's feed")
            .expect("the feed is open");
    }
    operator
        .set_state(&SiteRef::Default, &StateChange::turn_off(), "ops")
        .await
        .unwrap();
    wait_for_status(&base, 200).await;

    // Something for the role to try to remove.
    operator.add_site(SITE, None, "ops").await.unwrap();
    let site = SiteRef::Domain(SITE.to_owned());
    operator
        .add_ignored_path(&site, PATTERN, "probe", "ops")
        .await
        .unwrap();
    operator
        .add_allowed_network(&site, NETWORK, "office", "ops")
        .await
        .unwrap();
    operator
        .set_bypass_secret_hash(&site, Some(&bypass::hash_secret("s")), "ops")
        .await
        .unwrap();
    let before = admin.load().await.unwrap();
    let events_before = admin.events(None, 10_000).await.unwrap().len();
    assert_eq!(
        events_before, 6,
        "the operator's writes are audited (2 states, site, path, network, hash)"
    );

    // Every write through the role fails, on both stores, saying permission was denied.
    writes_are_denied("sqlx", &reader, denied).await;
    let diesel = maintenance_diesel::connect(&role_url)
        .await
        .expect("diesel store on the role's URL");
    writes_are_denied("diesel", &diesel, denied).await;
    assert_unchanged(&admin, &before, events_before).await;
    assert_eq!(
        reader.load().await.unwrap(),
        before,
        "the role reads it all"
    );

    // Migrations are the operator's: with the role's URL they fail, promptly and clearly.
    migrate_is_denied("sqlx migrate", reader.migrate(), denied).await;
    migrate_is_denied("diesel migrate", diesel.migrate(), denied).await;
    assert_unchanged(&admin, &before, events_before).await;

    // The server still serves what the operator set.
    assert_eq!(status(&base).await, 200);
    drop(served);
}

/// Tries every write of [`MaintenanceStore`] through `store`; each must fail with `denied`.
async fn writes_are_denied(which: &str, store: &dyn MaintenanceStore, denied: &str) {
    let site = SiteRef::Domain(SITE.to_owned());
    let hash = bypass::hash_secret("let-me-in");
    let attempts: Vec<(&str, Result<(), StoreError>)> = vec![
        (
            "add_site",
            store
                .add_site("new.example.com", None, "ro")
                .await
                .map(drop),
        ),
        ("remove_site", store.remove_site(SITE, "ro").await),
        (
            "set_state",
            store
                .set_state(&SiteRef::Default, &StateChange::turn_on(), "ro")
                .await
                .map(drop),
        ),
        (
            "add_ignored_path",
            store.add_ignored_path(&site, "^x", "", "ro").await,
        ),
        (
            "remove_ignored_path",
            store.remove_ignored_path(&site, PATTERN, "ro").await,
        ),
        (
            "add_allowed_network",
            store
                .add_allowed_network(&site, "192.0.2.0/24", "", "ro")
                .await,
        ),
        (
            "remove_allowed_network",
            store.remove_allowed_network(&site, NETWORK, "ro").await,
        ),
        (
            "set_bypass_secret_hash",
            store.set_bypass_secret_hash(&site, Some(&hash), "ro").await,
        ),
        (
            "ensure_site",
            store
                .ensure_site("other.example.com", None, "ro")
                .await
                .map(drop),
        ),
    ];
    for (write, result) in attempts {
        let what = format!("{which} {write}");
        match result {
            Err(e @ StoreError::Backend(_)) => {
                // The store's words and, as its cause, the database's.
                let message = maintenance_core::ErrorChain(&e).to_string();
                assert_denied(&what, &message, denied);
                // The database's own words, naming the table the write stopped at.
                assert!(
                    message.contains("maintenance_revision"),
                    "{what}: {message}"
                );
            }
            other => {
                panic!("{what} through a read-only role: expected a backend error, got {other:?}")
            }
        }
    }
}

/// `migrate` (a store's `migrate()` through the role) fails within [`DEADLINE`], saying it
/// could not migrate and, in its chain, `denied`.
async fn migrate_is_denied<E: std::error::Error + 'static>(
    what: &str,
    migrate: impl Future<Output = Result<(), E>>,
    denied: &str,
) {
    let error = within_deadline(what, migrate)
        .await
        .expect_err("migrating through a read-only role");
    assert_denied(
        what,
        &maintenance_core::ErrorChain(&error).to_string(),
        denied,
    );
    assert!(error.to_string().contains("could not migrate"), "{error}");
}

fn assert_denied(what: &str, message: &str, denied: &str) {
    assert!(
        message.to_lowercase().contains(denied),
        "{what}: the error should say {denied:?}: {message}"
    );
}

async fn assert_unchanged(admin: &dyn MaintenanceStore, before: &StoreContents, events: usize) {
    assert_eq!(&admin.load().await.unwrap(), before, "nothing changed");
    assert_eq!(
        admin.events(None, 10_000).await.unwrap().len(),
        events,
        "no event was logged"
    );
}

async fn within_deadline<T>(what: &str, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(DEADLINE, f)
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish within {DEADLINE:?}"))
}

async fn status(base: &str) -> u16 {
    client()
        .get(format!("{base}/"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET /: {e}"))
        .status()
        .as_u16()
}

/// Asks `GET /` until it answers `want`, at most [`DEADLINE`].
async fn wait_for_status(base: &str, want: u16) {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let got = status(base).await;
        if got == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "GET / never answered {want} within {DEADLINE:?}; last: {got}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
