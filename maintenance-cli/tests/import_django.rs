//! `maintenance import-django` against a real Django 4.2 project with django-maintenancemode-2,
//! on SQLite (Django's file and ours apart) and PostgreSQL (Django's tables and ours in one
//! database, as in a mixed deployment): the dry run writes nothing; the import copies sites,
//! flags and ignored URLs, each change audited with the actor and `import-django`; a running
//! test project obeys the import (how soon is printed; `bench/django.py` measures it); a
//! second run changes nothing; a change made later through the Django ORM comes over on the
//! next run.
//!
//! Needs `MAINTENANCE_TEST_DJANGO_PYTHON` (and `MAINTENANCE_TEST_POSTGRES_URL`); see
//! `maintenance_tests::django`.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, SystemTime};

use common::{cli_async, ok};
use maintenance_tests::django::DjangoDb;
use maintenance_tests::http::{Served, Server, client, serve};
use reqwest::StatusCode;

/// The test project's poll interval (its default).
const POLL: Duration = Duration::from_millis(250);

async fn status(served: &Served, host: &str, path: &str) -> StatusCode {
    served.status(&client(), host, path).await
}

/// Waits until `host` `path` answers `want`, printing how long after `since` (when the
/// import's process exited, after its last commit). The latency is measured in
/// `bench/django.py`; here the change must arrive.
async fn obeyed(served: &Served, since: SystemTime, host: &str, path: &str, want: StatusCode) {
    served
        .answers_after(host, path, want, since, "import-django")
        .await;
}

/// The tests run one at a time, so that another test's Python processes do not share the
/// machine's cores with the server being timed.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn events(log: &str) -> Vec<serde_json::Value> {
    serde_json::from_str(log).unwrap()
}

async fn imports_the_django_state(django: Option<DjangoDb>, ours: String) {
    let Some(django) = django else { return };
    let from = django.url.as_str();
    django.orm(&["site", "2", "shop.example.com", "Shop"]).await;
    django.orm(&["flag", "1", "on"]).await;
    django
        .orm(&["ignore", "1", "^ignored-page/$", "stays up"])
        .await;
    django.orm(&["ignore", "2", "^api/", "the API"]).await;

    ok(&cli_async(&ours, &["migrate"]).await);
    let config = maintenance_examples::Config {
        database_url: ours.clone(),
        bind: "127.0.0.1:0".parse().unwrap(),
        ..Default::default()
    };
    assert_eq!(config.poll_interval, POLL);
    let served = serve(Server::Axum, &config).await;
    let home = "127.0.0.1";
    assert_eq!(status(&served, home, "/").await, StatusCode::OK);

    // The dry run says what it would do and writes nothing.
    let dry = cli_async(&ours, &["import-django", "--from", from, "--dry-run"]).await;
    let out = &ok(&dry).stdout;
    for line in [
        "Read 2 Django site(s)",
        "Would make 4 change(s) (dry run, nothing written)",
        "ignore `^ignored-page/$` on the default site: stays up",
        "turn maintenance on for the default site",
        "add site shop.example.com (Shop)",
        "ignore `^api/` on shop.example.com: the API",
    ] {
        assert!(out.contains(line), "no {line:?} in:\n{out}");
    }
    let log = ok(&cli_async(&ours, &["log", "--json"]).await)
        .stdout
        .clone();
    let before = events(&log).len();
    let sites = ok(&cli_async(&ours, &["sites", "list", "--json"]).await)
        .stdout
        .clone();
    assert!(!sites.contains("shop.example.com"), "{sites}");

    let run = cli_async(
        &ours,
        &["--actor", "alice", "import-django", "--from", from],
    )
    .await;
    let imported = SystemTime::now();
    ok(&run);
    assert!(
        run.stdout
            .contains("Made 4 change(s), each in the audit log as `alice (import-django)`"),
        "{}",
        run.stdout
    );
    obeyed(
        &served,
        imported,
        home,
        "/",
        StatusCode::SERVICE_UNAVAILABLE,
    )
    .await;
    assert_eq!(
        status(&served, home, "/ignored-page/").await,
        StatusCode::OK
    );
    assert_eq!(
        status(&served, "shop.example.com", "/").await,
        StatusCode::OK
    );

    let log = ok(&cli_async(&ours, &["log", "--json"]).await)
        .stdout
        .clone();
    let all = events(&log);
    let new = &all[..all.len() - before];
    let mut actions: Vec<&str> = new.iter().map(|e| e["action"].as_str().unwrap()).collect();
    actions.sort_unstable();
    assert_eq!(
        actions,
        ["ignore.add", "ignore.add", "on", "site.add"],
        "{log}"
    );
    for e in new {
        assert_eq!(e["actor"], "alice (import-django)", "{e}");
    }

    // Running it again changes nothing.
    let again = cli_async(&ours, &["import-django", "--from", from]).await;
    assert!(
        ok(&again).stdout.contains("Nothing to change"),
        "{}",
        again.stdout
    );
    let log = ok(&cli_async(&ours, &["log", "--json"]).await)
        .stdout
        .clone();
    assert_eq!(events(&log).len(), all.len(), "the second run wrote: {log}");

    // What the Django admin changes next comes over on the next run; --prune removes the
    // pattern the Django site dropped.
    django.orm(&["flag", "1", "off"]).await;
    django.orm(&["flag", "2", "on"]).await;
    django.orm(&["unignore", "2", "^api/"]).await;
    let run = cli_async(&ours, &["import-django", "--from", from, "--prune"]).await;
    let imported = SystemTime::now();
    let out = &ok(&run).stdout;
    assert!(
        out.contains("stop ignoring `^api/` on shop.example.com"),
        "{out}"
    );
    obeyed(
        &served,
        imported,
        "shop.example.com",
        "/api/items",
        StatusCode::SERVICE_UNAVAILABLE,
    )
    .await;
    obeyed(&served, imported, home, "/", StatusCode::OK).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imports_from_django_on_sqlite() {
    let test = "imports_from_django_on_sqlite";
    let _alone = ONE_AT_A_TIME.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let ours = format!("sqlite://{}", dir.path().join("maintenance.db").display());
    imports_the_django_state(DjangoDb::sqlite(test).await, ours).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imports_from_django_on_postgres_into_the_same_database() {
    let test = "imports_from_django_on_postgres_into_the_same_database";
    let _alone = ONE_AT_A_TIME.lock().await;
    let django = DjangoDb::postgres(test).await;
    let ours = django.as_ref().map(|d| d.url.clone()).unwrap_or_default();
    imports_the_django_state(django, ours).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_without_the_django_tables_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let ours = format!("sqlite://{}", dir.path().join("maintenance.db").display());
    ok(&cli_async(&ours, &["migrate"]).await);
    // Our own database is no Django database.
    let run = cli_async(&ours, &["import-django", "--from", &ours]).await;
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(
        run.stderr.contains("django_site") && run.stderr.contains("manage.py migrate"),
        "{}",
        run.stderr
    );
    let run = cli_async(&ours, &["import-django", "--from", &ours, "--site-id", "0"]).await;
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(run.stderr.contains("`0`"), "{}", run.stderr);
}
