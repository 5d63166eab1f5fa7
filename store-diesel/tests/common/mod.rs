//! Helpers shared by the backend test files: fresh databases, raw SQL, and test bodies that run
//! the same way on every backend.
//!
//! PostgreSQL and MariaDB tests read their server from `MAINTENANCE_TEST_POSTGRES_URL` and
//! `MAINTENANCE_TEST_MYSQL_URL`; unset, they print that they were skipped and pass. Each test
//! gets a database of its own, `mt_<pid>_<counter>_<random>`, so tests run in parallel.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::hash_map::RandomState;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use maintenance_core::http::Request;
use maintenance_core::testkit::CountingStore;
use maintenance_core::{
    Decision, Event, Identity, Maintenance, MaintenanceStore, MemoryStore, Mode, Policy, SiteRef,
    SiteState, StateChange, StoreError,
};
use maintenance_diesel::diesel_async::RunQueryDsl;

pub const POSTGRES_ENV: &str = "MAINTENANCE_TEST_POSTGRES_URL";
pub const MYSQL_ENV: &str = "MAINTENANCE_TEST_MYSQL_URL";

/// A database name no other test (in this process or another) uses.
pub fn unique_db_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(n);
    let random = hasher.finish() as u32;
    format!("mt_{}_{n}_{random:08x}", std::process::id())
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

/// The server URL from `var`, or `None` after printing that `test` was skipped.
pub fn server_url(var: &str, test: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            eprintln!("skipped {test}: {var} is not set");
            None
        }
    }
}

/// The running test's name (libtest names each test's thread after it).
pub fn current_test() -> String {
    std::thread::current().name().unwrap_or("a test").to_owned()
}

/// Polls `cond` every 20 ms for up to `secs` seconds.
pub async fn eventually(secs: u64, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while tokio::time::Instant::now() < deadline {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cond()
}

/// A policy whose handle would not look at the store for an hour on its own.
pub fn hour_policy() -> Policy {
    Policy::builder()
        .poll_interval(Duration::from_secs(3600))
        .feed_poll_interval(Duration::from_secs(3600))
        .build()
        .unwrap()
}

pub fn request() -> Request<()> {
    Request::builder().uri("/").body(()).unwrap()
}

pub fn blocks(handle: &Maintenance) -> bool {
    matches!(
        handle.check(&request(), Identity::Anonymous),
        Decision::Block(_)
    )
}

fn at(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).single().unwrap()
}

/// Runs a statement as written, bypassing the store (as an operator with a SQL shell would).
#[async_trait]
pub trait RawSql {
    async fn exec(&self, sql: &str) -> usize;
}

macro_rules! raw_sql {
    ($ty:ty) => {
        #[async_trait]
        impl RawSql for $ty {
            async fn exec(&self, sql: &str) -> usize {
                let mut conn = self.pool().get().await.unwrap();
                maintenance_diesel::diesel::sql_query(sql.to_owned())
                    .execute(&mut *conn)
                    .await
                    .unwrap_or_else(|e| panic!("{sql}: {e}"))
            }
        }
    };
}

#[cfg(feature = "sqlite")]
raw_sql!(maintenance_diesel::SqliteStore);
#[cfg(feature = "postgres")]
raw_sql!(maintenance_diesel::PgStore);
#[cfg(feature = "mysql")]
raw_sql!(maintenance_diesel::MySqlStore);

/// A fresh, migrated in-memory SQLite store.
#[cfg(feature = "sqlite")]
pub async fn fresh_sqlite_store() -> Option<maintenance_diesel::SqliteStore> {
    let store = maintenance_diesel::SqliteStore::connect("sqlite::memory:")
        .await
        .unwrap();
    store.migrate().await.unwrap();
    Some(store)
}

/// A URL to a new, empty PostgreSQL database, or `None` (skipped) without the env var.
#[cfg(feature = "postgres")]
pub async fn fresh_postgres_url(test: &str) -> Option<String> {
    use maintenance_diesel::diesel_async::{AsyncConnection, AsyncPgConnection};
    let base = server_url(POSTGRES_ENV, test)?;
    let name = unique_db_name();
    let mut conn = AsyncPgConnection::establish(&base)
        .await
        .unwrap_or_else(|e| panic!("{POSTGRES_ENV}: {e}"));
    maintenance_diesel::diesel::sql_query(format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .unwrap();
    Some(with_database(&base, &name))
}

/// A fresh, migrated PostgreSQL store, or `None` (skipped).
#[cfg(feature = "postgres")]
pub async fn fresh_postgres_store() -> Option<maintenance_diesel::PgStore> {
    let url = fresh_postgres_url(&current_test()).await?;
    let store = maintenance_diesel::PgStore::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    Some(store)
}

/// A URL to a new, empty MariaDB/MySQL database, or `None` (skipped) without the env var.
#[cfg(feature = "mysql")]
pub async fn fresh_mysql_url(test: &str) -> Option<String> {
    use maintenance_diesel::diesel_async::{AsyncConnection, AsyncMysqlConnection};
    let base = server_url(MYSQL_ENV, test)?;
    let name = unique_db_name();
    let mut conn = AsyncMysqlConnection::establish(&base)
        .await
        .unwrap_or_else(|e| panic!("{MYSQL_ENV}: {e}"));
    maintenance_diesel::diesel::sql_query(format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .unwrap();
    Some(with_database(&base, &name))
}

/// A fresh, migrated MariaDB/MySQL store, or `None` (skipped).
#[cfg(feature = "mysql")]
pub async fn fresh_mysql_store() -> Option<maintenance_diesel::MySqlStore> {
    let url = fresh_mysql_url(&current_test()).await?;
    let store = maintenance_diesel::MySqlStore::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    Some(store)
}

pub type MigrateFuture<'a> =
    Pin<Box<dyn Future<Output = Result<(), maintenance_diesel::Error>> + Send + 'a>>;

/// Migrating again changes nothing: same sites, same revision.
pub async fn migrating_twice_changes_nothing<S: MaintenanceStore>(
    store: &S,
    migrate: impl Fn() -> MigrateFuture<'static>,
) {
    let before = store.load().await.unwrap();
    migrate().await.unwrap();
    migrate().await.unwrap();
    assert_eq!(store.load().await.unwrap(), before);
    let sites = before.sites;
    assert_eq!(sites.len(), 1);
    assert!(sites[0].is_default);
    assert_eq!(
        sites[0].domain,
        maintenance_core::store::DEFAULT_SITE_DOMAIN
    );
    assert_eq!(sites[0].name, maintenance_core::store::DEFAULT_SITE_NAME);
}

/// Without its revision row the store refuses to write, naming the fix; `migrate()` puts the
/// row back, and the default site too if it was deleted by hand.
pub async fn migrate_restores_what_was_deleted_by_hand<S: MaintenanceStore + RawSql>(
    store: &S,
    migrate: impl Fn() -> MigrateFuture<'static>,
) {
    assert_eq!(
        store
            .exec("DELETE FROM maintenance_sites WHERE is_default = TRUE")
            .await,
        1
    );
    assert_eq!(store.exec("DELETE FROM maintenance_revision").await, 1);
    let err = store
        .add_site("x.example", None, "t")
        .await
        .expect_err("no revision row");
    assert!(matches!(err, StoreError::Backend(_)), "{err:?}");
    assert!(err.to_string().contains("run migrate()"), "{err}");
    let err = store.load().await.expect_err("no revision row");
    assert!(err.to_string().contains("maintenance_revision"), "{err}");
    migrate().await.unwrap();
    let contents = store.load().await.unwrap();
    assert_eq!(contents.sites.len(), 1);
    assert!(contents.sites[0].is_default);
    assert_eq!(
        contents.sites[0].name,
        maintenance_core::store::DEFAULT_SITE_NAME
    );
    assert!(
        contents.revision > 1,
        "restoring the default site is a change"
    );
    store.add_site("x.example", None, "t").await.unwrap();
}

/// Two stores migrating one fresh database at the same time both succeed, and the database
/// then holds exactly one default site.
pub async fn concurrent_migrations_leave_one_default_site<S: MaintenanceStore>(
    a: &S,
    b: &S,
    ma: MigrateFuture<'_>,
    mb: MigrateFuture<'_>,
) {
    let (ra, rb) = tokio::join!(ma, mb);
    ra.expect("first migrate");
    rb.expect("second migrate");
    for store in [a, b] {
        let sites = store.load().await.unwrap().sites;
        assert_eq!(sites.len(), 1, "{sites:?}");
        assert!(sites[0].is_default);
    }
    a.set_state(&SiteRef::Default, &StateChange::turn_on(), "a")
        .await
        .unwrap();
    assert!(b.site(&SiteRef::Default).await.unwrap().enabled);
    assert_eq!(a.revision().await.unwrap(), b.revision().await.unwrap());
}

/// Writes from many tasks at once each bump the revision once and each leave one event: the
/// store serialises its writers.
pub async fn concurrent_writes_are_serialised<S: MaintenanceStore + Clone>(store: S) {
    let start = store.revision().await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..20 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .add_ignored_path(&SiteRef::Default, &format!("^p{i}/"), "", "t")
                .await
                .unwrap();
            store
                .set_state(
                    &SiteRef::Default,
                    &StateChange::turn_on().retry_after_secs(i),
                    "t",
                )
                .await
                .unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(store.revision().await.unwrap(), start + 40);
    let site = store.site(&SiteRef::Default).await.unwrap();
    assert_eq!(site.ignored_paths.len(), 20);
    assert_eq!(store.events(None, 100).await.unwrap().len(), 40);
}

/// Bad rows written by hand are skipped; the rest of the snapshot loads; an unknown mode
/// reads as full maintenance.
pub async fn bad_rows_are_skipped<S: MaintenanceStore + RawSql>(store: &S) {
    let site = SiteRef::Default;
    store
        .add_ignored_path(&site, "^good/", "kept", "t")
        .await
        .unwrap();
    store
        .add_allowed_network(&site, "10.0.0.0/8", "kept", "t")
        .await
        .unwrap();
    let id = store.site(&site).await.unwrap().id;
    for sql in [
        format!(
            "INSERT INTO maintenance_ignored_paths (site_id, pattern, description) VALUES ({id}, '^(unclosed', 'bad')"
        ),
        format!(
            "INSERT INTO maintenance_allowed_networks (site_id, cidr, description) VALUES ({id}, 'not-a-cidr', 'bad')"
        ),
        format!(
            "INSERT INTO maintenance_allowed_networks (site_id, cidr, description) VALUES ({id}, '10.0.0.0/99', 'bad')"
        ),
        "INSERT INTO maintenance_sites (domain, name, is_default, enabled, mode, retry_after_secs, bypass_secret_hash) \
         VALUES ('odd.example', 'Odd', FALSE, TRUE, 'sideways', -5, 'plaintext')"
            .to_owned(),
        "INSERT INTO maintenance_sites (domain, name, is_default, enabled, mode) \
         VALUES ('bad domain!', 'Bad', FALSE, TRUE, 'full')"
            .to_owned(),
    ] {
        assert_eq!(store.exec(&sql).await, 1, "{sql}");
    }
    let contents = store.load().await.expect("load with bad rows");
    let default = contents.sites.iter().find(|s| s.is_default).unwrap();
    let patterns: Vec<&str> = default
        .ignored_paths
        .iter()
        .map(|p| p.pattern.as_str())
        .collect();
    assert_eq!(patterns, ["^good/"]);
    let networks: Vec<String> = default
        .allowed_networks
        .iter()
        .map(|n| n.network.to_string())
        .collect();
    assert_eq!(networks, ["10.0.0.0/8"]);
    let odd = contents
        .sites
        .iter()
        .find(|s| s.domain == "odd.example")
        .expect("site with unknown mode");
    assert_eq!(
        odd.mode,
        Mode::Full,
        "an unknown mode keeps maintenance in full force"
    );
    assert!(odd.enabled);
    assert_eq!(
        odd.retry_after_secs, None,
        "negative retry-after reads as unset"
    );
    assert_eq!(
        odd.bypass_secret_hash, None,
        "a malformed hash reads as unset"
    );
    assert!(
        !contents.sites.iter().any(|s| s.domain.contains(' ')),
        "invalid domain skipped"
    );
    assert_eq!(contents.sites.len(), 2);

    // Writes still work on a site with bad rows, and the bad pattern can be removed by name.
    store
        .set_state(&site, &StateChange::turn_on(), "t")
        .await
        .unwrap();
    store
        .remove_ignored_path(&site, "^(unclosed", "t")
        .await
        .unwrap();
    assert_eq!(store.site(&site).await.unwrap().ignored_paths.len(), 1);
}

/// Once the snapshot is loaded, 100 000 checks make no store call at all, and block while the
/// site is in maintenance.
pub async fn hot_path_makes_no_store_calls<S: MaintenanceStore>(store: S) {
    store
        .set_state(&SiteRef::Default, &StateChange::turn_on(), "t")
        .await
        .unwrap();
    let counting = CountingStore::new(store);
    let handle = Maintenance::start(counting.clone(), hour_policy()).await;
    // The refresher subscribes once, and a feed's first notice means one more load: wait until
    // the handle has been quiet for a while.
    let mut last = counting.calls();
    let mut quiet_since = tokio::time::Instant::now();
    while quiet_since.elapsed() < Duration::from_millis(700) {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = counting.calls();
        if now != last {
            last = now;
            quiet_since = tokio::time::Instant::now();
        }
    }
    let before = counting.calls();
    assert!(counting.loads() >= 1, "the handle loaded a snapshot");
    let req = request();
    let admin = Request::builder().uri("/admin/").body(()).unwrap();
    for i in 0..100_000 {
        if i % 1000 == 999 {
            assert!(
                handle.check(&admin, Identity::Anonymous).is_allowed(),
                "^admin is ignored"
            );
        } else {
            assert!(
                matches!(handle.check(&req, Identity::Anonymous), Decision::Block(_)),
                "site on -> block"
            );
        }
    }
    assert_eq!(counting.calls(), before, "checks made store calls");
}

/// Runs the same operations on the store and on a [`MemoryStore`]: the same results, the same
/// errors, the same audit log (actions and detail strings), the same sites.
pub async fn behaves_like_the_memory_store(store: &dyn MaintenanceStore) {
    let memory = MemoryStore::new();
    let shop = SiteRef::Domain("SHOP.example.com".to_owned());
    let hash = maintenance_core::bypass::hash_secret("open sesame");
    let window = StateChange::turn_on()
        .mode(Mode::ReadOnly)
        .message("Back at \"14:00\" — «soon»")
        .window(Some(at(1_900_000_000)), Some(at(1_900_003_600)))
        .retry_after_secs(120);
    let update = StateChange {
        message: Some(None),
        ..Default::default()
    };

    let mut runs: Vec<Run> = Vec::new();
    for s in [store, &memory as &dyn MaintenanceStore] {
        let results = vec![
            outcome(
                s.set_state(&SiteRef::Default, &window, "alice")
                    .await
                    .map(drop),
            ),
            outcome(
                s.add_ignored_path(&SiteRef::Default, "^ignored-page/$", "seed", "bob")
                    .await,
            ),
            outcome(
                s.add_ignored_path(&SiteRef::Default, "^ignored-page/$", "seed (again)", "bob")
                    .await,
            ),
            outcome(
                s.add_ignored_path(&SiteRef::Default, "^(oops", "", "bob")
                    .await,
            ),
            outcome(
                s.add_allowed_network(&SiteRef::Default, "10.1.2.3/8", "office", "carol")
                    .await,
            ),
            outcome(
                s.add_allowed_network(&SiteRef::Default, "2001:DB8::/32", "vpn", "carol")
                    .await,
            ),
            outcome(
                s.add_site("Shop.Example.com.", Some("Shop"), "dave")
                    .await
                    .map(drop),
            ),
            outcome(s.add_site("shop.example.com", None, "dave").await.map(drop)),
            outcome(s.set_bypass_secret_hash(&shop, Some(&hash), "dave").await),
            outcome(s.add_ignored_path(&shop, "^health", "", "erin").await),
            outcome(s.set_state(&shop, &update, "erin").await.map(drop)),
            outcome(
                s.remove_allowed_network(&SiteRef::Default, "10.1.2.3/8", "carol")
                    .await,
            ),
            outcome(
                s.remove_allowed_network(&SiteRef::Default, "10.0.0.0/8", "carol")
                    .await,
            ),
            outcome(s.set_bypass_secret_hash(&shop, None, "dave").await),
            outcome(s.remove_site("shop.example.com", "dave").await),
            outcome(s.remove_site("default", "dave").await),
            outcome(s.add_site("shop.example.com", None, "dave").await.map(drop)),
            outcome(
                s.set_state(&SiteRef::Default, &StateChange::turn_off(), "alice")
                    .await
                    .map(drop),
            ),
            outcome(
                s.set_state(
                    &SiteRef::Domain("nowhere.example".to_owned()),
                    &StateChange::turn_on(),
                    "x",
                )
                .await
                .map(drop),
            ),
        ];
        let events = |list: Vec<Event>| -> Vec<(Option<String>, String, String, String)> {
            list.into_iter()
                .map(|e| (e.site, e.actor, e.action, e.detail))
                .collect()
        };
        let all = events(s.events(None, 100).await.unwrap());
        let shop_events = events(s.events(Some(&shop), 100).await.unwrap());
        let sites: Vec<SiteState> = s
            .load()
            .await
            .unwrap()
            .sites
            .into_iter()
            .map(|mut site| {
                site.id = 0;
                site.updated_at = None;
                site
            })
            .collect();
        runs.push((results, all, shop_events, sites));
    }
    let (db, mem) = (&runs[0], &runs[1]);
    assert_eq!(db.0, mem.0, "results and errors");
    assert_eq!(db.1, mem.1, "audit log");
    assert_eq!(db.2, mem.2, "audit log of one site");
    assert_eq!(db.3, mem.3, "sites");
    assert!(db.1.len() >= 14, "{:?}", db.1);
}

fn outcome(r: Result<(), StoreError>) -> String {
    format!("{r:?}")
}

type Run = (
    Vec<String>,
    Vec<(Option<String>, String, String, String)>,
    Vec<(Option<String>, String, String, String)>,
    Vec<SiteState>,
);
