//! What background jobs and dashboards see: `is_in_maintenance`, the change stream (writes
//! and windows), and the metrics.

use metrics_util::debugging::{DebugValue, DebuggingRecorder};

use super::*;

/// Waits for the next change on `rx`, at most five seconds of real time.
async fn next_change(rx: &mut tokio::sync::watch::Receiver<u64>, what: &str) {
    tokio::time::timeout(Duration::from_secs(5), rx.changed())
        .await
        .unwrap_or_else(|_| panic!("no change within 5 s: {what}"))
        .expect("the handle is alive");
}

#[tokio::test]
async fn is_in_maintenance_follows_hosts_windows_and_the_fail_mode() {
    let store = Arc::new(MemoryStore::new());
    store.add_site("shop.example", None, "t").await.unwrap();
    let on = StateChange::turn_on();
    let shop = SiteRef::Domain("shop.example".into());
    store.set_state(&shop, &on, "t").await.unwrap();
    let handle = Maintenance::new(store.clone(), fast_policy().build().unwrap());

    // Nothing loaded yet: the fail mode answers.
    assert!(!handle.is_in_maintenance("shop.example"));
    let closed = Maintenance::new(
        store.clone(),
        fast_policy().fail_mode(FailMode::Closed).build().unwrap(),
    );
    assert!(closed.is_in_maintenance("shop.example"));

    handle.refresh().await.unwrap();
    assert!(handle.is_in_maintenance("shop.example"));
    assert!(handle.is_in_maintenance("SHOP.example:8080"));
    // Any other host is the default site's, which is not in maintenance.
    assert!(!handle.is_in_maintenance("other.example"));

    let later = Utc::now() + chrono::Duration::hours(1);
    let window = StateChange::turn_on().window(Some(later), None);
    store.set_state(&shop, &window, "t").await.unwrap();
    handle.refresh().await.unwrap();
    assert!(!handle.is_in_maintenance("shop.example"), "not started yet");
}

#[tokio::test]
async fn the_change_stream_wakes_on_writes_and_on_windows() {
    let store = Arc::new(MemoryStore::new());
    let handle = Maintenance::start(store.clone(), fast_policy().build().unwrap()).await;
    let mut rx = handle.watch();
    assert!(!rx.has_changed().unwrap(), "nothing changed yet");

    store
        .set_state(&SiteRef::Default, &StateChange::turn_on(), "t")
        .await
        .unwrap();
    next_change(&mut rx, "turned on").await;
    assert!(handle.is_in_maintenance("localhost"));

    // A new message changes nothing a worker follows.
    store
        .set_state(
            &SiteRef::Default,
            &StateChange::turn_on().message("later"),
            "t",
        )
        .await
        .unwrap();
    handle.refresh().await.unwrap();
    assert!(
        !rx.has_changed().unwrap(),
        "a message is not a change of state"
    );

    store
        .set_state(&SiteRef::Default, &StateChange::turn_off(), "t")
        .await
        .unwrap();
    next_change(&mut rx, "turned off").await;
    assert!(!handle.is_in_maintenance("localhost"));

    // A window starts and ends with no write: both wake the stream.
    let now = Utc::now();
    let window = StateChange::turn_on().window(
        Some(now + chrono::Duration::milliseconds(300)),
        Some(now + chrono::Duration::milliseconds(700)),
    );
    store
        .set_state(&SiteRef::Default, &window, "t")
        .await
        .unwrap();
    handle.refresh().await.unwrap();
    assert!(!handle.is_in_maintenance("localhost"));
    next_change(&mut rx, "the window starts").await;
    assert!(handle.is_in_maintenance("localhost"));
    next_change(&mut rx, "the window ends").await;
    assert!(!handle.is_in_maintenance("localhost"));
    let generation = *rx.borrow_and_update();
    assert_eq!(generation, 4, "on, off, window start, window end");
}

type Seen = Vec<(
    metrics_util::CompositeKey,
    Option<metrics::Unit>,
    Option<metrics::SharedString>,
    DebugValue,
)>;

fn counter(seen: &Seen, name: &str, labels: &[(&str, &str)]) -> u64 {
    seen.iter()
        .find_map(|(key, _, _, value)| {
            let key = key.key();
            let same = key.name() == name
                && labels.iter().all(|(k, v)| {
                    key.labels()
                        .any(|label| label.key() == *k && label.value() == *v)
                });
            match value {
                DebugValue::Counter(n) if same => Some(*n),
                _ => None,
            }
        })
        .unwrap_or(0)
}

fn gauge(seen: &Seen, name: &str) -> Option<f64> {
    seen.iter().find_map(|(key, _, _, value)| match value {
        DebugValue::Gauge(g) if key.key().name() == name => Some(g.into_inner()),
        _ => None,
    })
}

#[test]
fn decisions_gauges_and_store_errors_are_counted() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    metrics::with_local_recorder(&recorder, || {
        runtime.block_on(async {
            let store = Arc::new(FlakyStore::default());
            let handle = Maintenance::new(store.clone(), fast_policy().build().unwrap());
            handle.refresh().await.unwrap();
            let req = http::Request::builder().uri("/").body(()).unwrap();
            handle.check(&req, Identity::Anonymous);
            store
                .inner
                .set_state(&SiteRef::Default, &StateChange::turn_on(), "t")
                .await
                .unwrap();
            handle.refresh().await.unwrap();
            for _ in 0..3 {
                handle.check(&req, Identity::Anonymous);
            }
            handle.check(&req, Identity::Superuser);
            let admin = http::Request::builder().uri("/admin/").body(()).unwrap();
            handle.check(&admin, Identity::Anonymous);
            let secret = "s3cret-s3cret-s3cret";
            store
                .inner
                .set_bypass_secret_hash(
                    &SiteRef::Default,
                    Some(&crate::bypass::hash_secret(secret)),
                    "t",
                )
                .await
                .unwrap();
            handle.refresh().await.unwrap();
            let with_header = http::Request::builder()
                .uri("/")
                .header("x-maintenance-bypass", secret)
                .body(())
                .unwrap();
            handle.check(&with_header, Identity::Anonymous);
            store.down.store(true, Ordering::SeqCst);
            assert!(handle.refresh().await.is_err());
            assert!(handle.refresh().await.is_err());

            let seen: Seen = snapshotter.snapshot().into_vec();
            let requests = telemetry::REQUESTS_TOTAL;
            let allowed = [("outcome", "allowed")];
            assert_eq!(
                counter(
                    &seen,
                    requests,
                    &[allowed[0], ("reason", "not_in_maintenance")]
                ),
                1
            );
            assert_eq!(
                counter(
                    &seen,
                    requests,
                    &[("outcome", "blocked"), ("reason", "maintenance")]
                ),
                3
            );
            assert_eq!(
                counter(&seen, requests, &[allowed[0], ("reason", "superuser")]),
                1
            );
            assert_eq!(
                counter(&seen, requests, &[allowed[0], ("reason", "ignored_path")]),
                1
            );
            assert_eq!(
                counter(
                    &seen,
                    requests,
                    &[("outcome", "bypass"), ("reason", "bypass_header")]
                ),
                1
            );
            assert_eq!(counter(&seen, telemetry::STORE_ERRORS_TOTAL, &[]), 2);
            assert_eq!(gauge(&seen, telemetry::SITES_IN_MAINTENANCE), Some(1.0));
            let revision = store.inner.revision().await.unwrap();
            assert_eq!(
                gauge(&seen, telemetry::SNAPSHOT_REVISION),
                Some(revision as f64)
            );
        });
    });
}
