//! The live handle: following the change feed or polling, the fail mode until the first
//! load, the last state through an outage, no store calls per check, the end of the
//! refresher, and the sources it takes.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;

use super::*;
use crate::store::{ChangeFeed, StoreContents};

mod incremental;
mod outages;
mod overrides;
mod workers;

#[derive(Default)]
struct FlakyStore {
    inner: MemoryStore,
    down: AtomicBool,
    /// Hands out the memory store's change feed (when up) instead of none.
    feed: bool,
}

impl FlakyStore {
    fn check(&self) -> Result<(), StoreError> {
        if self.down.load(Ordering::SeqCst) {
            Err(StoreError::backend(std::io::Error::new(
                std::io::ErrorKind::ConnectionRefused,
                "database down",
            )))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl MaintenanceSource for FlakyStore {
    async fn load(&self) -> Result<StoreContents, StoreError> {
        self.check()?;
        self.inner.load().await
    }
    async fn revision(&self) -> Result<i64, StoreError> {
        self.check()?;
        self.inner.revision().await
    }
    async fn subscribe(&self) -> Result<Option<ChangeFeed>, StoreError> {
        if !self.feed {
            return Ok(None);
        }
        self.check()?;
        self.inner.subscribe().await
    }
}

/// Turns the default site off while the store is down, then brings the store back.
async fn turn_off_and_recover(store: &FlakyStore) {
    store
        .inner
        .set_state(&SiteRef::Default, &StateChange::turn_off(), "t")
        .await
        .unwrap();
    store.down.store(false, Ordering::SeqCst);
}

fn fast_policy() -> PolicyBuilder {
    // With a signing key, so that the only warnings are the ones the tests look for.
    Policy::builder()
        .poll_interval(Duration::from_millis(20))
        .feed_poll_interval(Duration::from_millis(50))
        .bypass_signing_key(b"0123456789abcdef0123456789abcdef".to_vec())
}

/// Waits up to five seconds of Tokio time for `cond`. The tests run with the clock paused: it
/// jumps to the next timer (a sleep here, the refresher's interval) whenever every task is
/// idle, so the wait takes no real time and the refresher keeps its order of events.
async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..500 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for: {what}");
}

/// A policy that polls only once an hour: only a change feed brings changes in time.
fn hourly_polls() -> Policy {
    Policy::builder()
        .poll_interval(Duration::from_secs(3600))
        .feed_poll_interval(Duration::from_secs(3600))
        .build()
        .unwrap()
}

/// Puts the default site of `store` into maintenance.
async fn turn_on(store: &(impl MaintenanceStore + ?Sized)) {
    store
        .set_state(&SiteRef::Default, &StateChange::turn_on(), "t")
        .await
        .unwrap();
}

/// Waits, as [`eventually`], until `m` blocks the home page: `what` brings the change.
async fn eventually_blocked(m: &Maintenance, what: &str) {
    eventually(what, || !m.check(&home(), Identity::Anonymous).is_allowed()).await;
}

/// Sets, once for the process, a global subscriber that records nothing but never lets a log
/// statement be cached as off ([`testkit::AskEachTime`]). Whether a statement is on is cached
/// for every thread by the first one to reach it, and a thread with no subscriber at all
/// caches "off": a test on another thread that captures that statement (the missing signing
/// key warning, in `policy`) would then see nothing. The tests here that start a handle
/// without a signing key reach that warning; they call this first.
fn keep_log_statements_asking() {
    static GLOBAL: std::sync::Once = std::sync::Once::new();
    GLOBAL.call_once(|| {
        let _ = tracing::subscriber::set_global_default(testkit::AskEachTime);
    });
}

fn home() -> http::Request<()> {
    http::Request::builder().uri("/").body(()).unwrap()
}

#[tokio::test(start_paused = true)]
async fn handle_follows_the_change_feed() {
    keep_log_statements_asking();
    let store = Arc::new(MemoryStore::new());
    let policy = hourly_polls();
    let m = Maintenance::start(store.clone(), policy).await;
    assert!(m.check(&home(), Identity::Anonymous).is_allowed());
    turn_on(&store).await;
    eventually_blocked(&m, "the feed to bring the change").await;
}

#[tokio::test(start_paused = true)]
async fn handle_polls_without_a_feed_and_keeps_last_state_when_store_fails() {
    let store = Arc::new(FlakyStore::default());
    let m = Maintenance::start(store.clone(), fast_policy().build().unwrap()).await;
    assert_eq!(m.revision(), Some(1));
    turn_on(&store.inner).await;
    eventually_blocked(&m, "polling to bring the change").await;

    store.down.store(true, Ordering::SeqCst);
    let failures = m.stats().1;
    eventually("a failed refresh", || m.stats().1 > failures).await;
    assert!(m.refresh().await.is_err());
    assert!(
        !m.check(&home(), Identity::Anonymous).is_allowed(),
        "last known state keeps serving"
    );

    turn_off_and_recover(&store).await;
    eventually("recovery", || {
        m.check(&home(), Identity::Anonymous).is_allowed()
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn fail_mode_applies_until_the_first_load() {
    let store = Arc::new(FlakyStore::default());
    turn_on(&store.inner).await;
    store.down.store(true, Ordering::SeqCst);
    let closed = Maintenance::start(
        store.clone(),
        fast_policy().fail_mode(FailMode::Closed).build().unwrap(),
    )
    .await;
    let open = Maintenance::start(store.clone(), fast_policy().build().unwrap()).await;
    assert!(closed.snapshot().is_none());
    assert!(matches!(
        closed.check(&home(), Identity::Anonymous),
        Decision::Block(Block {
            reason: BlockReason::NoSnapshot,
            ..
        })
    ));
    assert!(matches!(
        open.check(&home(), Identity::Anonymous),
        Decision::Allow(AllowReason::NoSnapshot)
    ));
    store.down.store(false, Ordering::SeqCst);
    eventually("first load", || {
        open.snapshot().is_some() && closed.snapshot().is_some()
    })
    .await;
    let d = open.check(&home(), Identity::Anonymous);
    assert!(
        matches!(
            d,
            Decision::Block(Block {
                reason: BlockReason::Maintenance,
                ..
            })
        ),
        "{d:?}"
    );
}

// Waits for nothing (no sleep, no refresh to come): real time is as fast.
#[tokio::test]
async fn checks_make_no_store_calls() {
    keep_log_statements_asking();
    let store = testkit::CountingStore::new(MemoryStore::new());
    turn_on(store.inner()).await;
    let policy = hourly_polls();
    let m = Maintenance::start(store.clone(), policy).await;
    let before = store.calls();
    let req = home();
    for _ in 0..10_000 {
        assert!(!m.check(&req, Identity::Anonymous).is_allowed());
    }
    assert_eq!(store.calls(), before);
}

#[tokio::test(start_paused = true)]
async fn dropping_the_handle_stops_the_refresher() {
    let store = testkit::CountingStore::new(MemoryStore::new());
    let m = Maintenance::start(store.clone(), fast_policy().build().unwrap()).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    drop(m);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let after_drop = store.calls();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        store.calls(),
        after_drop,
        "no calls after the handle is gone"
    );
}

/// A source that can only read: all a handle needs.
struct ReadOnlySource(Arc<MemoryStore>);

#[async_trait]
impl MaintenanceSource for ReadOnlySource {
    async fn load(&self) -> Result<StoreContents, StoreError> {
        self.0.load().await
    }
    async fn revision(&self) -> Result<i64, StoreError> {
        self.0.revision().await
    }
}

#[tokio::test(start_paused = true)]
async fn a_handle_follows_a_source_that_cannot_write() {
    let store = Arc::new(MemoryStore::new());
    let m = Maintenance::start(
        ReadOnlySource(store.clone()),
        fast_policy().build().unwrap(),
    )
    .await;
    assert!(m.check(&home(), Identity::Anonymous).is_allowed());
    turn_on(&store).await;
    eventually_blocked(&m, "polling to bring the change").await;
    assert_eq!(m.source().revision().await.unwrap(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_handle_takes_a_store_by_value_or_shared() {
    keep_log_statements_asking();
    let by_value = Maintenance::start(MemoryStore::new(), Policy::default()).await;
    assert_eq!(by_value.revision(), Some(1));
    let shared: Arc<dyn MaintenanceStore> = Arc::new(MemoryStore::new());
    let handle = Maintenance::start(shared.clone(), fast_policy().build().unwrap()).await;
    turn_on(&shared).await;
    eventually_blocked(&handle, "the feed to bring the change").await;
}

/// The body of the blocked answer `handle` gives a `GET /` (JSON when `json`).
fn answer_body(handle: &Maintenance, json: bool, now: DateTime<Utc>) -> bytes::Bytes {
    let mut req = http::Request::builder().uri("/");
    if json {
        req = req.header("accept", "application/json");
    }
    let req = req.body(()).unwrap();
    match handle.check_at(&req, Identity::Anonymous, now) {
        Decision::Block(block) => handle.blocked_answer(&block, &req).body().clone(),
        other => panic!("expected a block, got {other:?}"),
    }
}

#[tokio::test]
async fn blocked_answers_are_rendered_once_per_site_state() {
    let store = Arc::new(MemoryStore::new());
    let on = StateChange::turn_on()
        .message("Back soon")
        .retry_after_secs(120);
    store.set_state(&SiteRef::Default, &on, "t").await.unwrap();
    let handle = Maintenance::new(store.clone(), Policy::default());
    handle.refresh().await.unwrap();

    let html = answer_body(&handle, false, t(NOW));
    let json = answer_body(&handle, true, t(NOW));
    assert!(std::str::from_utf8(&html).unwrap().contains("Back soon"));
    let value: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(value["message"], "Back soon");
    assert_eq!(value["retry_after"], 120);
    // The same bytes for every later request, in each format.
    for _ in 0..3 {
        assert_eq!(
            answer_body(&handle, false, t(NOW + 5)).as_ptr(),
            html.as_ptr()
        );
        assert_eq!(
            answer_body(&handle, true, t(NOW + 5)).as_ptr(),
            json.as_ptr()
        );
    }
    // The answers are the ones rendering from scratch gives.
    let req = http::Request::builder().uri("/").body(()).unwrap();
    let Decision::Block(block) = handle.check_at(&req, Identity::Anonymous, t(NOW)) else {
        panic!("expected a block");
    };
    assert_eq!(
        html,
        blocked_response(&block, handle.policy(), &req).into_body()
    );

    // A new state is a new site with answers of its own.
    let on = StateChange::turn_on().message("Later");
    store.set_state(&SiteRef::Default, &on, "t").await.unwrap();
    handle.refresh().await.unwrap();
    let later = answer_body(&handle, false, t(NOW));
    assert!(std::str::from_utf8(&later).unwrap().contains("Later"));
}

#[tokio::test]
async fn a_countdown_to_the_window_end_renders_once_per_second() {
    let store = Arc::new(MemoryStore::new());
    let on = StateChange::turn_on().window(None, Some(t(NOW + 100)));
    store.set_state(&SiteRef::Default, &on, "t").await.unwrap();
    let handle = Maintenance::new(store, Policy::default());
    handle.refresh().await.unwrap();

    let first = answer_body(&handle, true, t(NOW));
    let value: serde_json::Value = serde_json::from_slice(&first).unwrap();
    assert_eq!(value["retry_after"], 100);
    let same_second = answer_body(&handle, true, t(NOW) + chrono::Duration::milliseconds(400));
    assert_eq!(same_second.as_ptr(), first.as_ptr());
    let next = answer_body(&handle, true, t(NOW + 1));
    let value: serde_json::Value = serde_json::from_slice(&next).unwrap();
    assert_eq!(value["retry_after"], 99);
}

#[tokio::test]
async fn another_handles_policy_never_gets_these_answers() {
    let store = Arc::new(MemoryStore::new());
    store
        .set_state(&SiteRef::Default, &StateChange::turn_on(), "t")
        .await
        .unwrap();
    let plain = Maintenance::new(store.clone(), Policy::default());
    plain.refresh().await.unwrap();
    let custom = Maintenance::new(
        store,
        Policy::builder()
            .html_template("<p>{{message}}</p>")
            .build()
            .unwrap(),
    );
    let req = http::Request::builder().uri("/").body(()).unwrap();
    let Decision::Block(block) = plain.check_at(&req, Identity::Anonymous, t(NOW)) else {
        panic!("expected a block");
    };
    // A block from one handle's snapshot, answered by the other: its own template.
    let theirs = plain.blocked_answer(&block, &req);
    let ours = custom.blocked_answer(&block, &req);
    assert!(theirs.body().starts_with(b"<!DOCTYPE html>"));
    assert_eq!(
        ours.body().as_ref(),
        b"<p>Sorry, the service is temporarily down for maintenance</p>"
    );
}
