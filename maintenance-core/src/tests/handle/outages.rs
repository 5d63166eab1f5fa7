//! What the handle logs when the store goes down and comes back: once per outage, not once
//! per poll.

use super::*;

/// The log lines of the running test's thread: level and message.
#[derive(Clone, Default)]
struct Logs {
    lines: Arc<std::sync::Mutex<Vec<(tracing::Level, String)>>>,
}

impl Logs {
    /// Captures what is logged on this thread (a current-thread runtime runs every task of
    /// the test on it) until the guard is dropped.
    fn capture() -> (Logs, tracing::subscriber::DefaultGuard) {
        use tracing_subscriber::layer::SubscriberExt;
        // Whether a log statement is on is cached for every thread, from the subscribers alive
        // when it is first reached or when one is added: a test on another thread, with no
        // subscriber, could turn statements off for this one. A global subscriber that keeps
        // every statement asking at each event prevents that.
        keep_log_statements_asking();
        let logs = Logs::default();
        let guard =
            tracing::subscriber::set_default(tracing_subscriber::registry().with(logs.clone()));
        (logs, guard)
    }

    fn count(&self, level: tracing::Level, containing: &str) -> usize {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter(|(l, m)| *l == level && m.contains(containing))
            .count()
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Logs {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        struct Message(String);
        impl tracing::field::Visit for Message {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                if field.name() == "message" {
                    self.0 = format!("{value:?}");
                }
            }
        }
        let mut message = Message(String::new());
        event.record(&mut message);
        self.lines
            .lock()
            .unwrap()
            .push((*event.metadata().level(), message.0));
    }
}

#[tokio::test(start_paused = true)]
async fn failures_are_logged_once_per_outage_not_once_per_poll() {
    use tracing::Level;
    let (logs, _guard) = Logs::capture();
    let store = Arc::new(FlakyStore {
        feed: true,
        ..FlakyStore::default()
    });
    store.down.store(true, Ordering::SeqCst);
    let m = Maintenance::start(store.clone(), fast_policy().build().unwrap()).await;

    // Down at start-up: polls and subscriptions keep failing, one error says so.
    eventually("ten failed polls", || m.stats().1 >= 10).await;
    assert_eq!(logs.count(Level::ERROR, ""), 1, "one error at start-up");
    assert_eq!(
        logs.count(Level::WARN, ""),
        0,
        "no warning per poll or subscription"
    );
    assert!(logs.count(Level::DEBUG, "still unreachable") >= 5);
    store.down.store(false, Ordering::SeqCst);
    eventually("the first load", || m.snapshot().is_some()).await;
    eventually("the recovery logged", || {
        logs.count(Level::INFO, "reachable again") == 1
    })
    .await;

    // Down again while following the feed: one warning, however many polls fail.
    store.down.store(true, Ordering::SeqCst);
    let failures = m.stats().1;
    // The looks at a failing store are spread out (and grow): five of them, then.
    eventually("five more failed polls", || m.stats().1 >= failures + 5).await;
    assert_eq!(logs.count(Level::WARN, ""), 1, "one warning for the outage");
    assert_eq!(
        logs.count(Level::WARN, "serving the last known state"),
        1,
        "it says the last state keeps serving"
    );
    store.down.store(false, Ordering::SeqCst);
    eventually("the second recovery logged", || {
        logs.count(Level::INFO, "reachable again") == 2
    })
    .await;
    assert_eq!(logs.count(Level::ERROR, ""), 1);
    assert_eq!(logs.count(Level::WARN, ""), 1);
}

#[tokio::test(start_paused = true)]
async fn an_outage_before_the_first_load_warns_with_the_fail_mode() {
    use tracing::Level;
    let (logs, _guard) = Logs::capture();
    let store = Arc::new(FlakyStore::default());
    store.down.store(true, Ordering::SeqCst);
    // No start(): the refresher alone finds the store down.
    let m = Maintenance::new(
        store.clone(),
        fast_policy().fail_mode(FailMode::Closed).build().unwrap(),
    );
    m.spawn_refresher();
    eventually("five failed polls", || m.stats().1 >= 5).await;
    assert_eq!(logs.count(Level::WARN, "the fail mode applies"), 1);
    assert_eq!(logs.count(Level::WARN, ""), 1);
    assert!(matches!(
        m.check(&home(), Identity::Anonymous),
        Decision::Block(Block {
            reason: BlockReason::NoSnapshot,
            ..
        })
    ));
    store.down.store(false, Ordering::SeqCst);
    eventually("the first load", || {
        m.check(&home(), Identity::Anonymous).is_allowed()
    })
    .await;
    eventually("the recovery logged", || {
        logs.count(Level::INFO, "reachable again") == 1
    })
    .await;
}

/// A state file in a directory of its own under the system's temporary directory.
fn state_file_in(test: &str, origin: &str) -> crate::StateFile {
    let dir = std::env::temp_dir().join(format!("maintenance-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    crate::StateFile::new(dir.join("state.json"), origin)
}

/// Waits (real time: the file is written on a blocking thread) until `path` holds `revision`.
fn wait_for_saved(path: &std::path::Path, revision: i64) {
    let needle = format!("\"revision\":{revision},");
    for _ in 0..500 {
        if std::fs::read_to_string(path).is_ok_and(|t| t.contains(&needle)) {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("{} never held revision {revision}", path.display());
}

/// A store with the default site in maintenance, whose state a first handle saved to a state
/// file of `origin`; then the store goes down. Returns the store, the file and the revision
/// saved.
async fn saved_then_down(test: &str, origin: &str) -> (Arc<FlakyStore>, crate::StateFile, i64) {
    let store = Arc::new(FlakyStore::default());
    store
        .inner
        .set_state(&SiteRef::Default, &StateChange::turn_on(), "ops")
        .await
        .unwrap();
    let file = state_file_in(test, origin);
    let first = Maintenance::new(store.clone(), fast_policy().build().unwrap())
        .with_state_file(file.clone());
    first.load_and_follow().await;
    let revision = store.inner.revision().await.unwrap();
    wait_for_saved(file.path(), revision);
    store.down.store(true, Ordering::SeqCst);
    (store, file, revision)
}

#[tokio::test(start_paused = true)]
async fn a_start_up_without_the_store_serves_the_saved_state_then_follows_the_store() {
    use tracing::Level;
    let (logs, _guard) = Logs::capture();
    // The next start-up finds the store down: the saved state serves, and says so once.
    let (store, file, revision) = saved_then_down("saved-state", "memory://shop").await;
    let policy = fast_policy().fail_mode(FailMode::Open).build().unwrap();
    let m = Maintenance::new(store.clone(), policy).with_state_file(file.clone());
    m.load_and_follow().await;
    assert_eq!(m.revision(), Some(revision));
    assert!(!m.check(&home(), Identity::Anonymous).is_allowed());
    eventually("a few failed polls", || m.stats().1 >= 3).await;
    assert_eq!(
        logs.count(Level::WARN, "serving the state saved in the state file"),
        1
    );
    assert_eq!(logs.count(Level::ERROR, ""), 0);

    // The store answers, with a change made meanwhile: followed from the saved revision on.
    turn_off_and_recover(&store).await;
    eventually("the change made meanwhile", || {
        m.check(&home(), Identity::Anonymous).is_allowed()
    })
    .await;
    wait_for_saved(file.path(), revision + 1);
}

#[tokio::test(start_paused = true)]
async fn a_state_file_of_another_origin_or_damaged_is_ignored_for_the_fail_mode() {
    use tracing::Level;
    let (logs, _guard) = Logs::capture();
    let (store, file, _) = saved_then_down("other-origin", "postgres://db/one").await;

    let other = crate::StateFile::new(file.path(), "postgres://db/two");
    let policy = fast_policy().fail_mode(FailMode::Open).build().unwrap();
    let m = Maintenance::new(store.clone(), policy.clone()).with_state_file(other);
    m.load_and_follow().await;
    assert_eq!(m.revision(), None, "nothing loaded: the fail mode answers");
    assert!(m.check(&home(), Identity::Anonymous).is_allowed());
    assert_eq!(logs.count(Level::WARN, "ignoring the state file"), 1);
    assert_eq!(logs.count(Level::ERROR, "the fail mode applies"), 1);

    std::fs::write(file.path(), b"{\"format\":1,\"origin\":").unwrap();
    let m = Maintenance::new(store.clone(), policy).with_state_file(file);
    m.load_and_follow().await;
    assert_eq!(m.revision(), None);
    assert_eq!(logs.count(Level::WARN, "ignoring the state file"), 2);
}

#[tokio::test(start_paused = true)]
async fn a_failing_store_is_looked_at_less_often_and_at_spread_times() {
    let store = Arc::new(FlakyStore::default());
    store.down.store(true, Ordering::SeqCst);
    let m = Maintenance::new(store.clone(), fast_policy().build().unwrap());
    m.spawn_refresher();
    // 20 ms polls: in two seconds of an outage, at most a dozen looks rather than a hundred.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let looks = m.stats().1;
    assert!((4..=14).contains(&looks), "{looks} looks in 2 s");
    // Back: seen within the longest pause (2 s), then polled at the interval again.
    store.down.store(false, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert!(m.snapshot().is_some(), "the store's return is seen");
    let failures = m.stats().1;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(m.stats().1, failures, "no failure once back");
}
