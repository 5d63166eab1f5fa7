//! The cases of [`sql_store_conformance_tests!`](crate::sql_store_conformance_tests), one
//! function each: it makes its own fresh database, and returns at once (skipped, printed)
//! when the backend's server is not configured.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use maintenance_core::store::{ChangeFeed, DEFAULT_SITE_DOMAIN, DEFAULT_SITE_NAME};
use maintenance_core::testkit::CountingStore;
use maintenance_core::{
    Decision, ErrorChain, Event, Identity, Maintenance, MaintenanceSource, MaintenanceStore,
    MemoryStore, Mode, SiteRef, SiteState, StateChange, StoreError,
};

use super::{
    Backend, TestDatabase, TestDriver, blocks, connect_migrated, eventually, fresh_store,
    hour_policy, request,
};

fn at(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).single().unwrap_or_default()
}

/// Migrating again changes nothing: same sites, same revision.
pub async fn migrations_are_idempotent<D: TestDriver>() {
    let Some(store) = fresh_store::<D>().await else {
        return;
    };
    let before = store.load().await.expect("load");
    D::migrate(&store).await.expect("migrate again");
    D::migrate(&store).await.expect("migrate a third time");
    assert_eq!(store.load().await.expect("load"), before);
    let sites = before.sites;
    assert_eq!(sites.len(), 1);
    assert!(sites[0].is_default);
    assert_eq!(sites[0].domain, DEFAULT_SITE_DOMAIN);
    assert_eq!(sites[0].name, DEFAULT_SITE_NAME);
}

/// Without its revision row the store refuses to write, naming the fix; `migrate()` puts the
/// row back, and the default site too if it was deleted by hand.
pub async fn migrate_restores_what_was_deleted_by_hand<D: TestDriver>() {
    let Some(store) = fresh_store::<D>().await else {
        return;
    };
    assert_eq!(
        D::exec(
            &store,
            "DELETE FROM maintenance_sites WHERE is_default = TRUE"
        )
        .await,
        1
    );
    assert_eq!(D::exec(&store, "DELETE FROM maintenance_revision").await, 1);
    let err = store
        .add_site("x.example", None, "t")
        .await
        .expect_err("no revision row");
    assert!(matches!(err, StoreError::Backend(_)), "{err:?}");
    let shown = ErrorChain(&err).to_string();
    assert!(shown.contains("run migrate()"), "{shown}");
    let err = store.load().await.expect_err("no revision row");
    let shown = ErrorChain(&err).to_string();
    assert!(shown.contains("maintenance_revision"), "{shown}");
    D::migrate(&store).await.expect("migrate");
    let contents = store.load().await.expect("load");
    assert_eq!(contents.sites.len(), 1);
    assert!(contents.sites[0].is_default);
    assert_eq!(contents.sites[0].name, DEFAULT_SITE_NAME);
    assert!(
        contents.revision > 1,
        "restoring the default site is a change"
    );
    store
        .add_site("x.example", None, "t")
        .await
        .expect("writes work again");
}

/// Two stores migrating one fresh database at the same time both succeed, and the database
/// then holds exactly one default site.
pub async fn concurrent_migrations_leave_one_default_site<D: TestDriver>() {
    let Some(db) = TestDatabase::create::<D>().await else {
        return;
    };
    let a = D::connect(&db.url).await.expect("connect a");
    let b = D::connect(&db.url).await.expect("connect b");
    let (ra, rb) = tokio::join!(D::migrate(&a), D::migrate(&b));
    ra.expect("first migrate");
    rb.expect("second migrate");
    for store in [&a, &b] {
        let sites = store.load().await.expect("load").sites;
        assert_eq!(sites.len(), 1, "{sites:?}");
        assert!(sites[0].is_default);
    }
    // And both stores now work on the same data.
    a.set_state(&SiteRef::Default, &StateChange::turn_on(), "a")
        .await
        .expect("turn on");
    assert!(b.site(&SiteRef::Default).await.expect("site").enabled);
    assert_eq!(
        a.revision().await.expect("revision"),
        b.revision().await.expect("revision")
    );
}

/// Writes from many tasks at once each bump the revision once and each leave one event: the
/// store serialises its writers (on SQLite, a file, so that the pool has several connections
/// competing for the write lock).
pub async fn concurrent_writes_are_serialised<D: TestDriver>() {
    let Some(db) = TestDatabase::create::<D>().await else {
        return;
    };
    let store = connect_migrated::<D>(&db.url).await;
    let start = store.revision().await.expect("revision");
    let mut tasks = Vec::new();
    for i in 0..20 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .add_ignored_path(&SiteRef::Default, &format!("^p{i}/"), "", "t")
                .await
                .expect("add a path");
            store
                .set_state(
                    &SiteRef::Default,
                    &StateChange::turn_on().retry_after_secs(i),
                    "t",
                )
                .await
                .expect("set the state");
        }));
    }
    for t in tasks {
        t.await.expect("the writing task");
    }
    assert_eq!(store.revision().await.expect("revision"), start + 40);
    let site = store.site(&SiteRef::Default).await.expect("site");
    assert_eq!(site.ignored_paths.len(), 20);
    assert_eq!(store.events(None, 100).await.expect("events").len(), 40);
}

/// A handle on `source`, as a server starts one (bypass cookies signed).
fn live_handle(source: impl maintenance_core::MaintenanceSource) -> maintenance_core::Maintenance {
    maintenance_core::Maintenance::new(
        source,
        maintenance_core::Policy::builder()
            .bypass_signing_key(b"0123456789abcdef0123456789abcdef".to_vec())
            .build()
            .expect("policy"),
    )
}

/// Partial maintenance set in plain SQL (a row of `maintenance_site_scopes`) is read, by a
/// live handle too; a scope that cannot be read reads as the whole site.
pub async fn a_scope_written_in_plain_sql_is_read<D: TestDriver>() {
    let Some(store) = fresh_store::<D>().await else {
        return;
    };
    store
        .add_site("other.example", None, "t")
        .await
        .expect("add site");
    let other = store
        .site(&SiteRef::Domain("other.example".into()))
        .await
        .expect("site");
    let id = store.site(&SiteRef::Default).await.expect("site").id;
    let handle = live_handle(store.clone());
    handle.refresh().await.expect("first load");
    let sql = format!(
        r#"INSERT INTO maintenance_site_scopes (site_id, scope_patterns) VALUES ({id}, '["^api/", "^checkout"]')"#
    );
    assert_eq!(D::exec(&store, &sql).await, 1, "{sql}");
    // By hand, the revision is bumped too, as for any change written in SQL.
    D::exec(&store, BUMP_REVISION).await;
    let site = store.site(&SiteRef::Default).await.expect("site");
    assert_eq!(site.scope, ["^api/", "^checkout"]);
    handle.refresh().await.expect("refresh");
    let snapshot = handle.snapshot().expect("snapshot");
    let live = snapshot.default_site().expect("default site");
    assert_eq!(live.state().scope, ["^api/", "^checkout"]);
    assert!(
        snapshot
            .site("other.example")
            .expect("other")
            .state()
            .scope
            .is_empty(),
        "the other site has none"
    );

    let bad = format!(
        r#"INSERT INTO maintenance_site_scopes (site_id, scope_patterns) VALUES ({}, '["^ok", "^(broken"]')"#,
        other.id
    );
    assert_eq!(D::exec(&store, &bad).await, 1, "{bad}");
    let other = store
        .site(&SiteRef::Domain("other.example".into()))
        .await
        .expect("site with a bad scope");
    assert!(other.scope.is_empty(), "{:?}", other.scope);
}

/// Tags written in plain SQL are read (by a live handle and by a selection too); one the core
/// would refuse is left out, and the site's other tags stay.
pub async fn tags_written_in_plain_sql_are_read<D: TestDriver>() {
    let Some(store) = fresh_store::<D>().await else {
        return;
    };
    let site = store
        .add_site("tagged.example", None, "t")
        .await
        .expect("add site");
    let handle = live_handle(store.clone());
    handle.refresh().await.expect("first load");
    let sql = format!(
        "INSERT INTO maintenance_site_tags (site_id, tag) VALUES ({0}, 'eu'), ({0}, 'Bad Tag'), ({0}, 'blue')",
        site.id
    );
    assert_eq!(D::exec(&store, &sql).await, 3, "{sql}");
    D::exec(&store, BUMP_REVISION).await;
    let read = store
        .site(&SiteRef::Domain("tagged.example".into()))
        .await
        .expect("site");
    assert_eq!(read.tags, ["blue", "eu"]);
    handle.refresh().await.expect("refresh");
    let snapshot = handle.snapshot().expect("snapshot");
    let live = snapshot.site("tagged.example").expect("site");
    assert_eq!(live.state().tags, ["blue", "eu"]);
    let selection = maintenance_core::SiteSelection::of(Vec::new(), ["blue"]).expect("selection");
    let changed = store
        .set_state_many(&selection, &maintenance_core::StateChange::turn_on(), "t")
        .await
        .expect("on --tag blue");
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0].tags, ["blue", "eu"]);
}

/// Bad rows written by hand are skipped; the rest of the snapshot loads; an unknown mode
/// reads as full maintenance, a negative retry-after and a malformed hash as unset.
pub async fn bad_rows_are_skipped<D: TestDriver>() {
    let Some(store) = fresh_store::<D>().await else {
        return;
    };
    let site = SiteRef::Default;
    store
        .add_ignored_path(&site, "^good/", "kept", "t")
        .await
        .expect("add a path");
    store
        .add_allowed_network(&site, "10.0.0.0/8", "kept", "t")
        .await
        .expect("add a network");
    let id = store.site(&site).await.expect("site").id;
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
        assert_eq!(D::exec(&store, &sql).await, 1, "{sql}");
    }
    let contents = store.load().await.expect("load with bad rows");
    let default = contents
        .sites
        .iter()
        .find(|s| s.is_default)
        .expect("the default site");
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
        .expect("turn on");
    store
        .remove_ignored_path(&site, "^(unclosed", "t")
        .await
        .expect("remove the bad pattern");
    assert_eq!(
        store.site(&site).await.expect("site").ignored_paths.len(),
        1
    );
}

/// Runs the same operations on the store and on a [`MemoryStore`]: the same results, the same
/// errors, the same audit log (actions and detail strings), the same sites.
pub async fn behaves_like_the_memory_store<D: TestDriver>() {
    let Some(store) = fresh_store::<D>().await else {
        return;
    };
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
    for s in [&store as &dyn MaintenanceStore, &memory] {
        let results = vec![
            outcome(s.set_state(&SiteRef::Default, &window, "alice")).await,
            outcome(s.add_ignored_path(&SiteRef::Default, "^ignored-page/$", "seed", "bob")).await,
            outcome(s.add_ignored_path(
                &SiteRef::Default,
                "^ignored-page/$",
                "seed (again)",
                "bob",
            ))
            .await,
            outcome(s.add_ignored_path(&SiteRef::Default, "^(oops", "", "bob")).await,
            outcome(s.add_allowed_network(&SiteRef::Default, "10.1.2.3/8", "office", "carol"))
                .await,
            outcome(s.add_allowed_network(&SiteRef::Default, "2001:DB8::/32", "vpn", "carol"))
                .await,
            outcome(s.add_site("Shop.Example.com.", Some("Shop"), "dave")).await,
            outcome(s.add_site("shop.example.com", None, "dave")).await,
            outcome(s.set_bypass_secret_hash(&shop, Some(&hash), "dave")).await,
            outcome(s.add_ignored_path(&shop, "^health", "", "erin")).await,
            outcome(s.set_state(&shop, &update, "erin")).await,
            outcome(s.remove_allowed_network(&SiteRef::Default, "10.1.2.3/8", "carol")).await,
            outcome(s.remove_allowed_network(&SiteRef::Default, "10.0.0.0/8", "carol")).await,
            outcome(s.set_bypass_secret_hash(&shop, None, "dave")).await,
            outcome(s.remove_site("shop.example.com", "dave")).await,
            outcome(s.remove_site("default", "dave")).await,
            outcome(s.add_site("shop.example.com", None, "dave")).await,
            outcome(s.set_state(&SiteRef::Default, &StateChange::turn_off(), "alice")).await,
            outcome(s.set_state(
                &SiteRef::Domain("nowhere.example".to_owned()),
                &StateChange::turn_on(),
                "x",
            ))
            .await,
        ];
        let events = |list: Vec<Event>| -> Vec<EventRow> {
            list.into_iter()
                .map(|e| (e.site, e.actor, e.action, e.detail))
                .collect()
        };
        let all = events(s.events(None, 100).await.expect("events"));
        let shop_events = events(s.events(Some(&shop), 100).await.expect("events"));
        let sites: Vec<SiteState> = s
            .load()
            .await
            .expect("load")
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

/// What a store call answered, success (its value dropped) or error, for comparing stores.
async fn outcome<T>(call: impl Future<Output = Result<T, StoreError>>) -> String {
    format!("{:?}", call.await.map(drop))
}

type EventRow = (Option<String>, String, String, String);
type Run = (Vec<String>, Vec<EventRow>, Vec<EventRow>, Vec<SiteState>);

/// Once the snapshot is loaded, 100 000 checks make no store call at all, and block while the
/// site is in maintenance.
pub async fn hot_path_makes_no_store_calls<D: TestDriver>() {
    let Some(store) = fresh_store::<D>().await else {
        return;
    };
    store
        .set_state(&SiteRef::Default, &StateChange::turn_on(), "t")
        .await
        .expect("turn on");
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
    let req = request("/");
    let admin = request("/admin/");
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

/// SQLite and MariaDB have no change feed: handles poll the revision.
pub async fn has_no_change_feed<D: TestDriver>() {
    let Some(store) = fresh_store::<D>().await else {
        return;
    };
    assert!(
        store.subscribe().await.expect("subscribe").is_none(),
        "handles poll the revision"
    );
}

/// SQLite: a file removed while the store is open: reads and writes fail (the pooled
/// connections to the unlinked file are dropped, and no empty file is created in its place)
/// until the file is back; a file put back is read again, and a new file in its place is read
/// instead.
pub async fn a_removed_file_is_noticed_and_not_created_again<D: TestDriver>() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("served.db");
    let moved = dir.path().join("moved.db");
    let at = |p: &std::path::Path| format!("sqlite://{}", p.display());
    let store = D::connect(&at(&path)).await.expect("connect");
    D::migrate(&store).await.expect("migrate");
    let before = store.revision().await.expect("revision");

    std::fs::rename(&path, &moved).expect("move the file away");
    assert!(store.revision().await.is_err(), "read from a removed file");
    assert!(
        store
            .set_state(&SiteRef::Default, &StateChange::turn_on(), "t")
            .await
            .is_err(),
        "a write to a removed file would be lost"
    );
    assert!(!path.exists(), "no empty file in its place");

    // Changed while away, then put back: read again, with the change.
    let elsewhere = D::connect(&at(&moved)).await.expect("connect");
    elsewhere
        .set_state(&SiteRef::Default, &StateChange::turn_on(), "t")
        .await
        .expect("write where the file is");
    D::close(&elsewhere).await;
    std::fs::rename(&moved, &path).expect("put the file back");
    assert_eq!(store.revision().await.expect("revision"), before + 1);
    assert!(store.site(&SiteRef::Default).await.expect("site").enabled);

    // Replaced by another database: that one is read.
    let other = dir.path().join("other.db");
    let fresh = D::connect(&at(&other)).await.expect("connect");
    D::migrate(&fresh).await.expect("migrate");
    D::close(&fresh).await;
    std::fs::rename(&other, &path).expect("replace the file");
    assert!(!store.site(&SiteRef::Default).await.expect("site").enabled);
    assert_eq!(store.revision().await.expect("revision"), 1);
}

/// The crate's `connect()` takes both schemes of the backend (`postgres://` and
/// `postgresql://`, `mysql://` and `mariadb://`) and picks the backend from them.
pub async fn connect_accepts_both_schemes<D: TestDriver>() {
    let Some(db) = TestDatabase::create::<D>().await else {
        return;
    };
    let url = db.url;
    let [a, b] = match D::BACKEND {
        Backend::Postgres => ["postgres://", "postgresql://"],
        _ => ["mysql://", "mariadb://"],
    };
    let other = match url.strip_prefix(a) {
        Some(rest) => format!("{b}{rest}"),
        None => url.replacen(b, a, 1),
    };
    for url in [url.as_str(), other.as_str()] {
        let (backend, store) = D::connect_any(url)
            .await
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        assert_eq!(backend, D::BACKEND, "{url}");
        assert!(
            store
                .site(&SiteRef::Default)
                .await
                .expect("site")
                .is_default
        );
    }
}

/// SQLite stores times as RFC 3339 text in UTC, with milliseconds.
pub async fn timestamps_are_stored_as_rfc3339_text<D: TestDriver>() {
    window_starts_are_stored_as::<D>(
        "SELECT starts_at AS value FROM maintenance_sites WHERE is_default",
        &[(1_900_000_000, "2030-03-17T17:46:40.250+00:00")],
    )
    .await;
}

/// PostgreSQL stores times as `timestamp with time zone`, to the millisecond.
pub async fn timestamps_are_native_utc<D: TestDriver>() {
    window_starts_are_stored_as::<D>(
        "SELECT pg_typeof(starts_at)::text || ' | ' || \
         to_char(starts_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.MS') AS value \
         FROM maintenance_sites WHERE is_default",
        &[(
            1_900_000_000,
            "timestamp with time zone | 2030-03-17 17:46:40.250",
        )],
    )
    .await;
}

/// MariaDB stores times as `DATETIME` in UTC (the session's time zone is `+00:00`), to the
/// millisecond, beyond 2038 too.
pub async fn timestamps_are_utc_datetimes<D: TestDriver>() {
    window_starts_are_stored_as::<D>(
        "SELECT CONCAT(@@session.time_zone, ' | ', \
         (SELECT DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() \
          AND TABLE_NAME = 'maintenance_sites' AND COLUMN_NAME = 'starts_at'), ' | ', \
         DATE_FORMAT(starts_at, '%Y-%m-%d %H:%i:%s.%f')) AS value \
         FROM maintenance_sites WHERE is_default",
        &[
            (
                1_900_000_000,
                "+00:00 | datetime | 2030-03-17 17:46:40.250000",
            ),
            (
                4_102_444_800,
                "+00:00 | datetime | 2100-01-01 00:00:00.250000",
            ),
        ],
    )
    .await;
}

/// For each `(secs, want)`, turns the default site on with a window starting `secs` and 250 ms
/// after the epoch, and checks that `sql` answers `want`: how the database keeps that time.
async fn window_starts_are_stored_as<D: TestDriver>(sql: &str, cases: &[(i64, &str)]) {
    let Some(store) = fresh_store::<D>().await else {
        return;
    };
    for &(secs, want) in cases {
        let start = DateTime::from_timestamp(secs, 250_000_000).expect("a time");
        store
            .set_state(
                &SiteRef::Default,
                &StateChange::turn_on().window(Some(start), None),
                "t",
            )
            .await
            .expect("set the window");
        assert_eq!(D::query_text(&store, sql).await, want, "{secs}");
    }
}

/// Unreadable SQLite times written by hand read as unset; the rest of the site is kept.
pub async fn unreadable_timestamps_read_as_unset<D: TestDriver>() {
    times_written_by_hand_read_as_unset::<D>(
        "UPDATE maintenance_sites SET enabled = TRUE, message = 'kept', \
         starts_at = 'soon', updated_at = 'yesterday'",
        &[
            ("starts_at", |s| s.starts_at),
            ("updated_at", |s| s.updated_at),
        ],
    )
    .await;
}

/// A PostgreSQL time out of the model's range (`infinity`) reads as unset (the site still
/// loads), on every store: no driver's conversion may panic on it.
pub async fn out_of_range_timestamps_read_as_unset<D: TestDriver>() {
    times_written_by_hand_read_as_unset::<D>(
        "UPDATE maintenance_sites SET enabled = TRUE, message = 'kept', ends_at = 'infinity' \
         WHERE is_default",
        &[("ends_at", |s| s.ends_at)],
    )
    .await;
}

/// A MariaDB zero date reads as unset.
pub async fn zero_dates_read_as_unset<D: TestDriver>() {
    times_written_by_hand_read_as_unset::<D>(
        "UPDATE maintenance_sites SET enabled = TRUE, message = 'kept', \
         starts_at = CAST('0000-00-00 00:00:00' AS DATETIME) WHERE is_default",
        &[("starts_at", |s| s.starts_at)],
    )
    .await;
}

/// A time of a site, by its column.
type TimeColumn = (&'static str, fn(&SiteState) -> Option<DateTime<Utc>>);

/// Runs `sql` behind the store's back on the default site's row (the only one): it turns the
/// site on with the message `kept`, and writes into the columns `unset` times the store cannot
/// read. The site still loads, on and with its message, and those times read as unset.
async fn times_written_by_hand_read_as_unset<D: TestDriver>(sql: &str, unset: &[TimeColumn]) {
    let Some(store) = fresh_store::<D>().await else {
        return;
    };
    assert_eq!(D::exec(&store, sql).await, 1, "{sql}");
    let site = store.site(&SiteRef::Default).await.expect("site");
    assert!(site.enabled);
    assert_eq!(site.message.as_deref(), Some("kept"));
    for (column, time) in unset {
        assert_eq!(time(&site), None, "{column}");
    }
}

/// MariaDB compares text without case and trailing spaces by default: the patterns' column
/// does not, so such patterns are distinct, and each is removed by its exact name.
pub async fn patterns_differing_in_case_or_trailing_space_are_distinct<D: TestDriver>() {
    let Some(store) = fresh_store::<D>().await else {
        return;
    };
    let site = SiteRef::Default;
    // The last one is the second again, to the letter: it only gets a new description.
    for (pattern, description) in [
        ("^Admin", "^Admin"),
        ("^admin", "^admin"),
        ("^admin ", "^admin "),
        ("^admin", "again"),
    ] {
        store
            .add_ignored_path(&site, pattern, description, "t")
            .await
            .expect("add a path");
    }
    let listed = async || -> Vec<(String, String)> {
        let site = store.site(&site).await.expect("site");
        let paths = site.ignored_paths.into_iter();
        paths.map(|p| (p.pattern, p.description)).collect()
    };
    let want = [
        ("^Admin", "^Admin"),
        ("^admin", "again"),
        ("^admin ", "^admin "),
    ];
    assert_eq!(
        listed().await,
        want.map(|(p, d)| (p.to_owned(), d.to_owned()))
    );
    store
        .remove_ignored_path(&site, "^admin ", "t")
        .await
        .expect("remove a path");
    let left: Vec<String> = listed().await.into_iter().map(|(p, _)| p).collect();
    assert_eq!(left, ["^Admin", "^admin"]);
}

/// Waits up to `secs` for a notice on `feed`.
async fn notice_within(feed: &mut ChangeFeed, secs: u64) -> bool {
    matches!(
        tokio::time::timeout(Duration::from_secs(secs), feed.recv()).await,
        Ok(Some(()))
    )
}

/// Takes every notice already waiting (such as the one sent on connecting).
async fn drain(feed: &mut ChangeFeed) {
    while tokio::time::timeout(Duration::from_millis(300), feed.recv())
        .await
        .is_ok_and(|m| m.is_some())
    {}
}

/// The other connections of this PostgreSQL database that are change feeds (they name
/// themselves [`crate::change_feed::FEED_APPLICATION_NAME`]).
const LISTENERS: &str = "FROM pg_stat_activity WHERE datname = current_database() \
                         AND pid <> pg_backend_pid() AND application_name = 'maintenance change feed'";

/// How many other connections of this PostgreSQL database are listening.
async fn listeners<D: TestDriver>(store: &D::Store) -> i64 {
    let text = D::query_text(
        store,
        &format!("SELECT count(*)::text AS value {LISTENERS}"),
    )
    .await;
    text.parse()
        .unwrap_or_else(|e| panic!("count of listeners {text:?}: {e}"))
}

/// A write through store A reaches a handle on store B at once, through B's feed: B's handle
/// would not poll for an hour. A plain UPDATE, through no store, wakes it too.
pub async fn notify_reaches_a_handle_on_another_store<D: TestDriver>() {
    let Some(db) = TestDatabase::create::<D>().await else {
        return;
    };
    let a = connect_migrated::<D>(&db.url).await;
    let b = D::connect(&db.url).await.expect("connect b");
    let handle = Maintenance::start(b, hour_policy()).await;
    assert!(!blocks(&handle));
    // Let the refresher subscribe before writing.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while listeners::<D>(&a).await < 1 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the handle's feed listens"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    a.set_state(&SiteRef::Default, &StateChange::turn_on(), "a")
        .await
        .expect("turn on");
    assert!(
        eventually(10, || blocks(&handle)).await,
        "store A's write reached B's handle"
    );

    // The trigger sends the NOTIFY.
    let updated = D::exec(
        &a,
        "UPDATE maintenance_sites SET enabled = FALSE WHERE is_default",
    )
    .await;
    assert_eq!(updated, 1);
    assert!(
        eventually(10, || !blocks(&handle)).await,
        "a raw UPDATE reached B's handle"
    );
}

/// The feed survives its connection being killed: it reconnects, says so with a notice, and
/// goes on delivering notices.
pub async fn feed_reconnects_after_its_connection_drops<D: TestDriver>() {
    let Some(store) = fresh_store::<D>().await else {
        return;
    };
    let mut feed = store
        .subscribe()
        .await
        .expect("subscribe")
        .expect("PostgreSQL has a feed");
    assert!(
        notice_within(&mut feed, 10).await,
        "a notice after connecting"
    );
    drain(&mut feed).await;
    assert_eq!(listeners::<D>(&store).await, 1);

    let killed = D::query_text(
        &store,
        &format!("SELECT count(pg_terminate_backend(pid))::text AS value {LISTENERS}"),
    )
    .await;
    assert_eq!(killed, "1");
    assert!(
        notice_within(&mut feed, 10).await,
        "a notice after reconnecting"
    );
    drain(&mut feed).await;

    D::exec(
        &store,
        "UPDATE maintenance_sites SET enabled = TRUE WHERE is_default",
    )
    .await;
    assert!(notice_within(&mut feed, 10).await, "notices flow again");
}

/// Dropping the receiver ends the task and its connection.
pub async fn feed_ends_when_the_receiver_is_dropped<D: TestDriver>() {
    let Some(store) = fresh_store::<D>().await else {
        return;
    };
    let feed = store
        .subscribe()
        .await
        .expect("subscribe")
        .expect("PostgreSQL has a feed");
    assert_eq!(listeners::<D>(&store).await, 1);
    drop(feed);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while listeners::<D>(&store).await > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        listeners::<D>(&store).await,
        0,
        "the listening connection is gone"
    );
}

/// A change written in plain SQL is picked up incrementally: the handle rebuilds the site it
/// names and keeps every other site (and its compiled patterns) as it was.
///
/// On PostgreSQL the triggers record the change, whatever the statement; on SQLite and
/// MariaDB/MySQL the statements the store's README gives for writing by hand do (bump the
/// revision, change the row, record the site). A change that records no site (the revision
/// bumped alone) makes the handle read everything, and is seen too.
pub async fn a_change_in_plain_sql_is_picked_up_incrementally<D: TestDriver>() {
    let Some(store) = fresh_store::<D>().await else {
        return;
    };
    for domain in ["shop.example", "blog.example"] {
        store.add_site(domain, None, "t").await.expect("add site");
        let site = SiteRef::Domain(domain.into());
        store
            .add_ignored_path(&site, "^static/", "", "t")
            .await
            .expect("add pattern");
        store
            .set_state(&site, &StateChange::turn_on(), "t")
            .await
            .expect("turn on");
    }
    let handle = Maintenance::new(store.clone(), hour_policy());
    handle.refresh().await.expect("first load");
    let blog = |h: &Maintenance| {
        let snapshot = h.snapshot().expect("a snapshot");
        std::sync::Arc::clone(snapshot.site("blog.example").expect("blog is there"))
    };
    let blog_before = blog(&handle);
    let on_blog = maintenance_core::http::Request::builder()
        .uri("/static/app.js")
        .header("host", "blog.example")
        .body(())
        .expect("a request");
    assert!(handle.check(&on_blog, Identity::Anonymous).is_allowed());
    assert!(blog_before.ignored().is_compiled());

    let update = "UPDATE maintenance_sites SET enabled = FALSE WHERE domain = 'shop.example'";
    for sql in change_by_hand::<D>(update, "shop.example") {
        D::exec(&store, &sql).await;
    }
    handle.refresh().await.expect("refresh");
    let snapshot = handle.snapshot().expect("a snapshot");
    assert!(
        !snapshot.site("shop.example").expect("shop").state().enabled,
        "the change is seen"
    );
    assert_eq!(
        handle.full_loads(),
        1,
        "picked up without reading everything"
    );
    let blog_after = blog(&handle);
    assert!(
        std::sync::Arc::ptr_eq(&blog_before, &blog_after),
        "the site that did not change is kept as it was"
    );
    assert!(
        blog_after.ignored().is_compiled(),
        "with its compiled patterns"
    );

    // A revision bumped with no site recorded: everything is read again, and seen.
    let unrecorded: &[&str] = match D::BACKEND {
        Backend::Postgres => &[BUMP_REVISION],
        Backend::Sqlite | Backend::MySql => &[
            "UPDATE maintenance_sites SET enabled = TRUE WHERE domain = 'shop.example'",
            BUMP_REVISION,
        ],
    };
    for sql in unrecorded {
        D::exec(&store, sql).await;
    }
    handle.refresh().await.expect("refresh");
    assert_eq!(handle.full_loads(), 2, "read everything");
    if D::BACKEND != Backend::Postgres {
        let snapshot = handle.snapshot().expect("a snapshot");
        assert!(snapshot.site("shop.example").expect("shop").state().enabled);
    }
}

/// Bumps the revision, as every change written by hand must.
const BUMP_REVISION: &str = "UPDATE maintenance_revision SET revision = revision + 1 WHERE id = 1";

/// The statements that make `update`, a change to the site `domain`, by hand, as the stores'
/// READMEs give them: on SQLite and MariaDB/MySQL, bump the revision, change the row, record the
/// site as changed; on PostgreSQL the change alone, which the triggers record.
fn change_by_hand<D: TestDriver>(update: &str, domain: &str) -> Vec<String> {
    match D::BACKEND {
        Backend::Postgres => vec![update.to_owned()],
        Backend::Sqlite | Backend::MySql => vec![
            BUMP_REVISION.to_owned(),
            update.to_owned(),
            format!(
                "REPLACE INTO maintenance_site_changes (site_id, version, removed) \
                 SELECT id, (SELECT revision FROM maintenance_revision WHERE id = 1), FALSE \
                 FROM maintenance_sites WHERE domain = '{domain}'"
            ),
        ],
    }
}

/// PostgreSQL: a plain SQL delete is recorded by the triggers, and the handle drops the site
/// without reading everything; the notice names the revision and the site.
pub async fn a_site_deleted_in_plain_sql_is_dropped_incrementally<D: TestDriver>() {
    let Some(store) = fresh_store::<D>().await else {
        return;
    };
    let gone = store
        .add_site("gone.example", None, "t")
        .await
        .expect("add");
    let handle = Maintenance::new(store.clone(), hour_policy());
    let serves_gone = |h: &Maintenance| {
        let snapshot = h.snapshot().expect("snapshot");
        snapshot.site("gone.example").is_some()
    };
    handle.refresh().await.expect("first load");
    assert!(serves_gone(&handle));
    let mut feed = store
        .subscribe()
        .await
        .expect("subscribe")
        .expect("PostgreSQL has a feed");
    // The feed's first notice says it is listening.
    let _ = tokio::time::timeout(Duration::from_secs(10), feed.recv()).await;
    D::exec(
        &store,
        "DELETE FROM maintenance_sites WHERE domain = 'gone.example'",
    )
    .await;
    let notified = tokio::time::timeout(Duration::from_secs(10), feed.recv()).await;
    assert!(matches!(notified, Ok(Some(()))), "the delete was announced");
    let payload = D::query_text(
        &store,
        &format!(
            "SELECT CAST(removed AS TEXT) AS value FROM maintenance_site_changes WHERE site_id = {}",
            gone.id
        ),
    )
    .await;
    assert_eq!(payload, "true", "the trigger recorded the removal");
    handle.refresh().await.expect("refresh");
    assert!(!serves_gone(&handle));
    assert_eq!(handle.full_loads(), 1);
}
