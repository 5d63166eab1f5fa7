//! Rust test projects beside a real Django site: each framework's test project, started with
//! `MAINTENANCE_STORE=django` on the database of a Django 4.2 project whose tables
//! django-maintenancemode-2's own migrations built, obeys what the Django ORM writes (the
//! admin's checkbox, its inline ignored URLs), on SQLite and PostgreSQL, and with a PostgreSQL
//! role that may only `SELECT` the three Django tables. Each change must arrive; how long it
//! takes is printed, and measured in `bench/django.py` (a deadline here would time the CI
//! machine's load as much as the server).
//!
//! Needs `MAINTENANCE_TEST_DJANGO_PYTHON` (and `MAINTENANCE_TEST_POSTGRES_URL` for
//! PostgreSQL); see `maintenance_tests::django`.

use std::collections::HashMap;
use std::time::Duration;

use maintenance_examples::{Config, StoreKind};
use maintenance_tests::django::DjangoDb;
use maintenance_tests::http::{Served, Server, client, serve};
use reqwest::StatusCode;

/// The test projects' default poll interval.
const POLL: Duration = Duration::from_millis(250);

/// The tests run one at a time, so that another test's Python processes and servers do not
/// share the machine's cores with the server being timed.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A test project configured from the environment a deployment would give it.
async fn serve_django(server: Server, db: &DjangoDb, site_id: &str) -> Served {
    let vars: HashMap<&str, String> = [
        ("DATABASE_URL", db.url.clone()),
        ("MAINTENANCE_STORE", "django".to_owned()),
        ("DJANGO_SITE_ID", site_id.to_owned()),
        ("BIND", "127.0.0.1:0".to_owned()),
    ]
    .into();
    let config = Config::from_vars(|k| vars.get(k).cloned()).expect("config");
    assert_eq!(config.poll_interval, POLL);
    assert!(matches!(config.store, StoreKind::Django { .. }));
    serve(server, &config).await
}

async fn status(client: &reqwest::Client, served: &Served, host: &str, path: &str) -> StatusCode {
    served.status(client, host, path).await
}

/// Runs the ORM step, then waits until `host` `path` answers `want` (printing how long after
/// the ORM's commit: the script reads the clock right after it).
async fn obeyed_after(
    db: &DjangoDb,
    orm: &[&str],
    served: &Served,
    host: &str,
    path: &str,
    want: StatusCode,
) {
    let committed = db.orm_committed_at(orm).await;
    let what = format!("orm.py {orm:?}");
    served
        .answers_after(host, path, want, committed, &what)
        .await;
}

/// The checkbox and the inline ignored URLs, as the Django admin writes them.
async fn obeys_the_django_admin(server: Server, db: impl Future<Output = Option<DjangoDb>>) {
    let _alone = ONE_AT_A_TIME.lock().await;
    let Some(db) = db.await else { return };
    db.orm(&["site", "2", "shop.example.com", "Shop"]).await;
    db.orm(&["populate"]).await;
    let served = serve_django(server, &db, "1").await;
    let client = client();
    let home = "127.0.0.1";
    assert_eq!(status(&client, &served, home, "/").await, StatusCode::OK);

    let on = StatusCode::SERVICE_UNAVAILABLE;
    obeyed_after(&db, &["flag", "1", "on"], &served, home, "/", on).await;
    // Django's SITE_ID site is the default site: every host that names no site follows it,
    // and the shop keeps its own flag.
    assert_eq!(status(&client, &served, "example.com", "/").await, on);
    assert_eq!(
        status(&client, &served, "shop.example.com", "/").await,
        StatusCode::OK
    );
    assert_eq!(status(&client, &served, home, "/ignored-page/").await, on);
    // django-maintenancemode-2's admin pattern, `^admin`, is in the test project's policy.
    assert_eq!(
        status(&client, &served, home, "/admin/login/").await,
        StatusCode::OK
    );

    let ignore = ["ignore", "1", "^ignored-page/$", "stays up"];
    obeyed_after(
        &db,
        &ignore,
        &served,
        home,
        "/ignored-page/",
        StatusCode::OK,
    )
    .await;
    assert_eq!(status(&client, &served, home, "/").await, on);

    let shop = ["flag", "2", "on"];
    obeyed_after(&db, &shop, &served, "shop.example.com", "/", on).await;
    // The pattern is site 1's only.
    assert_eq!(
        status(&client, &served, "shop.example.com", "/ignored-page/").await,
        on
    );

    let unignore = ["unignore", "1", "^ignored-page/$"];
    obeyed_after(&db, &unignore, &served, home, "/ignored-page/", on).await;
    obeyed_after(
        &db,
        &["flag", "1", "off"],
        &served,
        home,
        "/",
        StatusCode::OK,
    )
    .await;
    assert_eq!(status(&client, &served, "shop.example.com", "/").await, on);
}

/// `DJANGO_SITE_ID` picks the default site, as Django's `SITE_ID` does.
async fn the_site_id_names_the_default_site(db: impl Future<Output = Option<DjangoDb>>) {
    let _alone = ONE_AT_A_TIME.lock().await;
    let Some(db) = db.await else { return };
    db.orm(&["site", "2", "shop.example.com", "Shop"]).await;
    db.orm(&["flag", "2", "on"]).await;
    let by_site_1 = serve_django(Server::Axum, &db, "1").await;
    let by_site_2 = serve_django(Server::Axum, &db, "2").await;
    let client = client();
    assert_eq!(
        status(&client, &by_site_1, "127.0.0.1", "/").await,
        StatusCode::OK
    );
    assert_eq!(
        status(&client, &by_site_2, "127.0.0.1", "/").await,
        StatusCode::SERVICE_UNAVAILABLE
    );
}

/// A server's role that may only `SELECT` the three Django tables is enough: the source never
/// writes, migrates or reads anything else.
async fn only_the_django_tables_readable(db: impl Future<Output = Option<DjangoDb>>) {
    use maintenance_sql::django::TABLES;
    use maintenance_tests::databases::{Access, RoleServer, TestRole};
    let _alone = ONE_AT_A_TIME.lock().await;
    let Some(db) = db.await else { return };
    let role = TestRole::create_on(RoleServer::Postgres, Access::ReadOnly, &db.url, &TABLES).await;
    let reader = DjangoDb::with_url(&db, role.url.clone());
    let served = serve_django(Server::Axum, &reader, "1").await;
    let client = client();
    assert_eq!(
        status(&client, &served, "127.0.0.1", "/").await,
        StatusCode::OK
    );
    obeyed_after(
        &db,
        &["flag", "1", "on"],
        &served,
        "127.0.0.1",
        "/",
        StatusCode::SERVICE_UNAVAILABLE,
    )
    .await;
    drop(served);
    role.drop_role().await;
}

maintenance_tests::multi_thread_tests! {
    a_role_that_may_only_read_the_django_tables_is_enough => only_the_django_tables_readable(DjangoDb::postgres("a_role_that_may_only_read_the_django_tables_is_enough"));
    axum_obeys_the_django_admin_on_sqlite => obeys_the_django_admin(Server::Axum, DjangoDb::sqlite("axum_obeys_the_django_admin_on_sqlite"));
    hyper_obeys_the_django_admin_on_sqlite => obeys_the_django_admin(Server::Hyper, DjangoDb::sqlite("hyper_obeys_the_django_admin_on_sqlite"));
    actix_obeys_the_django_admin_on_sqlite => obeys_the_django_admin(Server::Actix, DjangoDb::sqlite("actix_obeys_the_django_admin_on_sqlite"));
    rocket_obeys_the_django_admin_on_sqlite => obeys_the_django_admin(Server::Rocket, DjangoDb::sqlite("rocket_obeys_the_django_admin_on_sqlite"));
    axum_obeys_the_django_admin_on_postgres => obeys_the_django_admin(Server::Axum, DjangoDb::postgres("axum_obeys_the_django_admin_on_postgres"));
    hyper_obeys_the_django_admin_on_postgres => obeys_the_django_admin(Server::Hyper, DjangoDb::postgres("hyper_obeys_the_django_admin_on_postgres"));
    actix_obeys_the_django_admin_on_postgres => obeys_the_django_admin(Server::Actix, DjangoDb::postgres("actix_obeys_the_django_admin_on_postgres"));
    rocket_obeys_the_django_admin_on_postgres => obeys_the_django_admin(Server::Rocket, DjangoDb::postgres("rocket_obeys_the_django_admin_on_postgres"));
    the_site_id_names_the_default_site_on_sqlite => the_site_id_names_the_default_site(DjangoDb::sqlite("the_site_id_names_the_default_site_on_sqlite"));
    the_site_id_names_the_default_site_on_postgres => the_site_id_names_the_default_site(DjangoDb::postgres("the_site_id_names_the_default_site_on_postgres"));
}
