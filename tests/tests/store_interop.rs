//! maintenance-sqlx and maintenance-diesel share one schema: each migrates a database the other
//! already migrated without changing anything, and data written through one is read identically
//! through the other (sites, modes, messages, windows, retry-after, patterns, v4 and v6
//! networks, bypass hash, the audit log, the revision).
//!
//! SQLite always runs (a temporary file); PostgreSQL and MariaDB/MySQL run when
//! `MAINTENANCE_TEST_POSTGRES_URL` / `MAINTENANCE_TEST_MYSQL_URL` are set, each test in a fresh
//! database, and print that they were skipped otherwise.
#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use maintenance_core::{MaintenanceSource, MaintenanceStore, Mode, SiteRef, StateChange, bypass};
use maintenance_tests::databases::{fresh_mysql_url, fresh_postgres_url, texts};

/// Which store runs `migrate()` first.
#[derive(Debug, Clone, Copy)]
enum First {
    Sqlx,
    Diesel,
}

fn at(secs: i64, nanos: u32) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, nanos).unwrap()
}

/// Both stores see the same sites, revision and audit log.
async fn assert_same(sqlx: &dyn MaintenanceStore, diesel: &dyn MaintenanceStore, when: &str) {
    let (a, b) = (sqlx.load().await.unwrap(), diesel.load().await.unwrap());
    assert_eq!(a, b, "{when}: load()");
    assert_eq!(
        sqlx.events(None, 1000).await.unwrap(),
        diesel.events(None, 1000).await.unwrap(),
        "{when}: events()"
    );
    let shop = SiteRef::Domain("shop.example.com".to_owned());
    if a.sites.iter().any(|s| s.domain == "shop.example.com") {
        assert_eq!(
            sqlx.events(Some(&shop), 1000).await.unwrap(),
            diesel.events(Some(&shop), 1000).await.unwrap(),
            "{when}: events() of one site"
        );
    }
    let revision = sqlx.revision().await.unwrap();
    assert_eq!(
        revision,
        diesel.revision().await.unwrap(),
        "{when}: revision"
    );
    assert_eq!(revision, a.revision, "{when}: revision of load()");
}

/// Migrates with one store, then the other; writes through sqlx and reads through diesel, then
/// the other way round.
async fn round_trip(
    sqlx: &maintenance_sqlx::SqlxStore,
    diesel: &maintenance_diesel::DieselStore,
    first: First,
) {
    match first {
        First::Sqlx => sqlx.migrate().await.unwrap(),
        First::Diesel => diesel.migrate().await.unwrap(),
    }
    let before = match first {
        First::Sqlx => sqlx.load().await.unwrap(),
        First::Diesel => diesel.load().await.unwrap(),
    };
    match first {
        First::Sqlx => diesel.migrate().await.unwrap(),
        First::Diesel => sqlx.migrate().await.unwrap(),
    }
    // And once more each, as servers restarting would.
    sqlx.migrate().await.unwrap();
    diesel.migrate().await.unwrap();
    assert_eq!(
        sqlx.load().await.unwrap(),
        before,
        "the second store's migrate() changed nothing"
    );
    assert_same(sqlx, diesel, "after migrating").await;
    let start = before.revision;

    // A full state, written through sqlx.
    let site = SiteRef::Default;
    let shop = SiteRef::Domain("Shop.Example.COM".to_owned());
    sqlx.add_site("shop.example.com", Some("Boutique «Zoë» — 東京"), "ops")
        .await
        .unwrap();
    sqlx.set_state(
        &site,
        &StateChange::turn_on()
            .mode(Mode::ReadOnly)
            .message("Wartung läuft — «bientôt» 🚧 <b>")
            .window(
                Some(at(1_900_000_000, 250_000_000)),
                Some(at(4_102_444_800, 123_456_789)),
            )
            .retry_after_secs(900),
        "alice",
    )
    .await
    .unwrap();
    for (pattern, description) in [
        ("^ignored-page/$", "from django-maintenancemode-2"),
        ("^api/health", "probes — ü"),
    ] {
        sqlx.add_ignored_path(&site, pattern, description, "bob")
            .await
            .unwrap();
    }
    for (network, description) in [
        ("192.168.0.0/16", "office"),
        ("2001:DB8::/32", "vpn"),
        ("203.0.113.7", "home"),
    ] {
        sqlx.add_allowed_network(&site, network, description, "carol")
            .await
            .unwrap();
    }
    sqlx.set_bypass_secret_hash(&site, Some(&bypass::hash_secret("open sesame")), "dave")
        .await
        .unwrap();
    sqlx.set_state(&shop, &StateChange::turn_on().message("Inventur"), "erin")
        .await
        .unwrap();
    sqlx.add_allowed_network(&shop, "fd00::/8", "", "erin")
        .await
        .unwrap();
    sqlx.add_tags(&shop, &["EU".into(), "shop".into()], "erin")
        .await
        .unwrap();
    assert_same(sqlx, diesel, "after writing through sqlx").await;
    assert_eq!(
        diesel.revision().await.unwrap(),
        start + 11,
        "one bump per write"
    );
    assert_eq!(diesel.site(&shop).await.unwrap().tags, ["eu", "shop"]);
    let read = diesel.site(&site).await.unwrap();
    assert_eq!(read.mode, Mode::ReadOnly);
    assert_eq!(
        read.message.as_deref(),
        Some("Wartung läuft — «bientôt» 🚧 <b>")
    );
    assert_eq!(read.ends_at, Some(at(4_102_444_800, 123_456_000)));
    assert_eq!(read.allowed_networks.len(), 3);
    assert_eq!(diesel.events(None, 1000).await.unwrap().len(), 11);

    // Changes written through diesel.
    diesel
        .set_state(
            &site,
            &StateChange::turn_off().message("Zurück — «merci»"),
            "frank",
        )
        .await
        .unwrap();
    for (pattern, description) in [("^api/health", "load balancer"), ("^status$", "")] {
        diesel
            .add_ignored_path(&site, pattern, description, "frank")
            .await
            .unwrap();
    }
    diesel
        .remove_ignored_path(&site, "^ignored-page/$", "frank")
        .await
        .unwrap();
    diesel
        .remove_allowed_network(&site, "2001:db8::/32", "grace")
        .await
        .unwrap();
    diesel
        .add_allowed_network(&site, "10.0.0.0/8", "vpn v4", "grace")
        .await
        .unwrap();
    diesel
        .set_bypass_secret_hash(&site, None, "grace")
        .await
        .unwrap();
    diesel
        .set_state(
            &shop,
            &StateChange {
                retry_after_secs: Some(Some(120)),
                ends_at: Some(Some(at(4_102_448_400, 0))),
                scope: Some(vec!["^checkout/".into(), "^api/orders".into()]),
                ..Default::default()
            },
            "heidi",
        )
        .await
        .unwrap();
    diesel
        .remove_tags(&shop, &["shop".into()], "heidi")
        .await
        .unwrap();
    diesel
        .add_site("second.example", Some("Zweite"), "heidi")
        .await
        .unwrap();
    diesel.remove_site("second.example", "heidi").await.unwrap();
    assert_same(sqlx, diesel, "after writing through diesel").await;
    assert_eq!(sqlx.revision().await.unwrap(), start + 22);
    assert_eq!(sqlx.site(&shop).await.unwrap().tags, ["eu"]);
    let read = sqlx.site(&site).await.unwrap();
    assert!(!read.enabled);
    assert_eq!((read.starts_at, read.ends_at), (None, None));
    assert_eq!(read.message.as_deref(), Some("Zurück — «merci»"));
    assert_eq!(read.bypass_secret_hash, None);
    assert_eq!(
        sqlx.site(&shop).await.unwrap().scope,
        ["^checkout/", "^api/orders"],
        "a scope written through diesel reads through sqlx"
    );
    let events = sqlx.events(None, 1000).await.unwrap();
    assert_eq!(events.len(), 22);
    assert_eq!(events[0].action, "site.remove");
    assert_eq!(events[0].site.as_deref(), Some("second.example"));

    // Interleaved writes keep one revision sequence.
    sqlx.set_state(&site, &StateChange::turn_on(), "x")
        .await
        .unwrap();
    diesel
        .set_state(&site, &StateChange::turn_off(), "y")
        .await
        .unwrap();
    assert_same(sqlx, diesel, "after interleaved writes").await;
    assert_eq!(diesel.revision().await.unwrap(), start + 24);
}

/// The round trip between a sqlx and a diesel store on `url`.
async fn both_stores(url: &str, first: First) {
    let sqlx = maintenance_sqlx::connect(url).await.unwrap();
    let diesel = maintenance_diesel::connect(url).await.unwrap();
    round_trip(&sqlx, &diesel, first).await;
}

async fn sqlite(first: First) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("interop.db").display());
    both_stores(&url, first).await;
}

async fn postgres(test: &str, first: First) {
    if let Some(url) = fresh_postgres_url(test).await {
        both_stores(&url, first).await;
    }
}

async fn mysql(test: &str, first: First) {
    if let Some(url) = fresh_mysql_url(test).await {
        both_stores(&url, first).await;
    }
}

maintenance_tests::multi_thread_tests! {
    sqlite_sqlx_first => sqlite(First::Sqlx);
    sqlite_diesel_first => sqlite(First::Diesel);
    postgres_sqlx_first => postgres("postgres_sqlx_first", First::Sqlx);
    postgres_diesel_first => postgres("postgres_diesel_first", First::Diesel);
    mysql_sqlx_first => mysql("mysql_sqlx_first", First::Sqlx);
    mysql_diesel_first => mysql("mysql_diesel_first", First::Diesel);
}

/// A sqlx store and a diesel store migrating one fresh database at the same moment both
/// succeed and leave one schema with one default site (they share the migration lock).
async fn concurrent_first_migrations(url: &str) {
    for _ in 0..3 {
        let sqlx = maintenance_sqlx::connect(url).await.unwrap();
        let diesel = maintenance_diesel::connect(url).await.unwrap();
        let (a, b) = tokio::join!(sqlx.migrate(), diesel.migrate());
        a.unwrap();
        b.unwrap();
        let sites = sqlx.load().await.unwrap().sites;
        assert_eq!(sites.len(), 1, "{sites:?}");
        assert!(sites[0].is_default);
        assert_eq!(diesel.load().await.unwrap(), sqlx.load().await.unwrap());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_sqlx_and_diesel_migrate_at_once() {
    let Some(url) = fresh_postgres_url("postgres_sqlx_and_diesel_migrate_at_once").await else {
        return;
    };
    concurrent_first_migrations(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_sqlx_and_diesel_migrate_at_once() {
    let Some(url) = fresh_mysql_url("mysql_sqlx_and_diesel_migrate_at_once").await else {
        return;
    };
    concurrent_first_migrations(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_sqlx_and_diesel_migrate_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("race.db").display());
    concurrent_first_migrations(&url).await;
}

/// Every table, column, index, constraint (and on PostgreSQL trigger) of the maintenance
/// schema, as text, one per line: what a store's migrations created, minus their bookkeeping.
const SQLITE_SCHEMA: &str = "SELECT type || ' ' || name || ': ' || COALESCE(sql, '') FROM sqlite_master \
     WHERE name LIKE 'maintenance%' ORDER BY type, name";
const POSTGRES_SCHEMA: &str = "SELECT line FROM ( \
     SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type || ' ' || \
            is_nullable || ' ' || COALESCE(column_default, '') || ' ' || \
            COALESCE(character_maximum_length::text, '') || ' ' || is_identity AS line \
       FROM information_schema.columns WHERE table_schema = current_schema() \
        AND table_name LIKE 'maintenance%' \
     UNION ALL SELECT 'index ' || indexdef FROM pg_indexes \
      WHERE schemaname = current_schema() AND tablename LIKE 'maintenance%' \
     UNION ALL SELECT 'constraint ' || conrelid::regclass::text || ' ' || pg_get_constraintdef(oid) \
       FROM pg_constraint WHERE conrelid::regclass::text LIKE 'maintenance%' \
     UNION ALL SELECT 'trigger ' || pg_get_triggerdef(oid) FROM pg_trigger \
      WHERE NOT tgisinternal AND tgrelid::regclass::text LIKE 'maintenance%' \
     UNION ALL SELECT 'function ' || pg_get_functiondef('maintenance_notify_change'::regproc) \
     ) AS schema ORDER BY line";
const MYSQL_SCHEMA: &str = "SELECT CAST(line AS CHAR) FROM ( \
     SELECT CONCAT('column ', TABLE_NAME, '.', COLUMN_NAME, ' ', COLUMN_TYPE, ' ', IS_NULLABLE, ' ', \
            COALESCE(COLUMN_DEFAULT, ''), ' ', COALESCE(COLLATION_NAME, ''), ' ', EXTRA) AS line \
       FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() \
        AND TABLE_NAME LIKE 'maintenance%' \
     UNION ALL SELECT CONCAT('index ', TABLE_NAME, '.', INDEX_NAME, ' ', NON_UNIQUE, ' ', \
            SEQ_IN_INDEX, ' ', COLUMN_NAME) FROM information_schema.STATISTICS \
      WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE 'maintenance%' \
     UNION ALL SELECT CONCAT('fk ', CONSTRAINT_NAME, ' ', DELETE_RULE, ' ', REFERENCED_TABLE_NAME) \
       FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = DATABASE() \
     UNION ALL SELECT CONCAT('table ', TABLE_NAME, ' ', ENGINE, ' ', TABLE_COLLATION) \
       FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() \
        AND TABLE_NAME LIKE 'maintenance%' \
     ) AS s ORDER BY line";

/// What each store alone creates on a fresh database, and its first rows.
async fn schemas<F, Fut>(fresh_url: F, query: &'static str) -> Option<[(Vec<String>, String); 2]>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Option<String>>,
{
    let mut out = Vec::new();
    for with_sqlx in [true, false] {
        let url = fresh_url().await?;
        let contents = if with_sqlx {
            let store = maintenance_sqlx::connect(&url).await.unwrap();
            store.migrate().await.unwrap();
            store.load().await.unwrap()
        } else {
            let store = maintenance_diesel::connect(&url).await.unwrap();
            store.migrate().await.unwrap();
            store.load().await.unwrap()
        };
        out.push((texts(&url, query).await, format!("{contents:?}")));
    }
    out.try_into().ok()
}

/// `at_least`: how many lines the backend's schema has, so an empty query result cannot pass.
fn assert_same_schema(got: [(Vec<String>, String); 2], at_least: usize) {
    let [(sqlx_schema, sqlx_rows), (diesel_schema, diesel_rows)] = got;
    assert!(sqlx_schema.len() >= at_least, "{sqlx_schema:#?}");
    assert_eq!(sqlx_schema, diesel_schema, "the same schema");
    assert_eq!(sqlx_rows, diesel_rows, "the same first rows");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_schema_is_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let counter = AtomicU64::new(0);
    let got = schemas(
        || {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            let url = format!("sqlite://{}", dir.path().join(format!("{n}.db")).display());
            async move {
                // sqlx's SQLite store creates missing files; so does diesel's.
                Some(url)
            }
        },
        SQLITE_SCHEMA,
    )
    .await
    .unwrap();
    assert_same_schema(got, 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_schema_is_the_same() {
    if let Some(got) = schemas(
        || fresh_postgres_url("postgres_schema_is_the_same"),
        POSTGRES_SCHEMA,
    )
    .await
    {
        assert_same_schema(got, 20);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_schema_is_the_same() {
    if let Some(got) = schemas(|| fresh_mysql_url("mysql_schema_is_the_same"), MYSQL_SCHEMA).await {
        assert_same_schema(got, 20);
    }
}
