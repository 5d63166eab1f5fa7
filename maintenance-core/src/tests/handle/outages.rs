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
    eventually("ten more failed polls", || m.stats().1 >= failures + 10).await;
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
