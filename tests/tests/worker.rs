//! The example worker on a real SQLite database: it works while its site is up, pauses when
//! an operator turns maintenance on or a window starts, and resumes when it ends.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::Utc;
use maintenance_core::{MaintenanceStore, SiteRef, StateChange};
use maintenance_examples::worker::{Worker, WorkerEvent};
use maintenance_examples::{Config, open_store};
use tokio::sync::mpsc;

struct Running {
    store: Arc<dyn MaintenanceStore>,
    events: mpsc::UnboundedReceiver<WorkerEvent>,
    done: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Running {
    async fn start(host: &str) -> Running {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("maintenance.db").display());
        let config = Config {
            database_url: url.clone(),
            poll_interval: Duration::from_millis(25),
            ..Config::default()
        };
        let maintenance = config.start_maintenance().await.expect("maintenance");
        let store = open_store(&url).await.expect("store");
        let (tx, events) = mpsc::unbounded_channel();
        let done = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&done);
        let worker = Worker::new(maintenance, host, Duration::from_millis(20));
        let task = tokio::spawn(worker.run(
            move || {
                let counter = Arc::clone(&counter);
                async move {
                    counter.fetch_add(1, Ordering::SeqCst);
                }
            },
            move |event| {
                let _ = tx.send(event);
            },
        ));
        Running {
            store,
            events,
            done,
            task,
            _dir: dir,
        }
    }

    /// Waits (at most 10 s) for `want`, skipping rounds of work.
    async fn expect(&mut self, want: WorkerEvent) {
        let wait = async {
            loop {
                match self.events.recv().await {
                    Some(event) if event == want => return,
                    Some(WorkerEvent::Worked(_)) => continue,
                    other => panic!("expected {want:?}, got {other:?}"),
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(10), wait)
            .await
            .unwrap_or_else(|_| panic!("no {want:?} within 10 s"));
    }

    /// Waits for `n` more rounds of work.
    async fn works(&mut self, n: u64) {
        for _ in 0..n {
            let next = tokio::time::timeout(Duration::from_secs(10), self.events.recv())
                .await
                .expect("the worker works");
            assert!(matches!(next, Some(WorkerEvent::Worked(_))), "{next:?}");
        }
    }

    /// While paused, no work is done: the count stays put over several of its intervals.
    async fn stays_paused(&mut self) {
        let before = self.done.load(Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(
            self.done.load(Ordering::SeqCst),
            before,
            "worked while paused"
        );
        assert!(self.events.try_recv().is_err(), "no event while paused");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pauses_while_the_operator_has_its_site_down() {
    let mut w = Running::start("localhost").await;
    w.works(3).await;
    w.store
        .set_state(&SiteRef::Default, &StateChange::turn_on(), "ops")
        .await
        .expect("on");
    w.expect(WorkerEvent::Paused).await;
    w.stays_paused().await;
    w.store
        .set_state(&SiteRef::Default, &StateChange::turn_off(), "ops")
        .await
        .expect("off");
    w.expect(WorkerEvent::Resumed).await;
    w.works(3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_sites_maintenance_does_not_pause_it() {
    let mut w = Running::start("localhost").await;
    w.store
        .add_site("shop.example", None, "ops")
        .await
        .expect("site");
    let shop = SiteRef::Domain("shop.example".into());
    w.store
        .set_state(&shop, &StateChange::turn_on(), "ops")
        .await
        .expect("on");
    // The change reaches the worker (it wakes), and it goes on working.
    w.works(10).await;
    assert!(w.done.load(Ordering::SeqCst) >= 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_pauses_and_resumes_it_with_no_write() {
    let mut w = Running::start("localhost").await;
    let now = Utc::now();
    let window = StateChange::turn_on().window(
        Some(now + chrono::Duration::milliseconds(600)),
        Some(now + chrono::Duration::milliseconds(1400)),
    );
    w.store
        .set_state(&SiteRef::Default, &window, "ops")
        .await
        .expect("window");
    w.expect(WorkerEvent::Paused).await;
    assert!(Utc::now() >= now + chrono::Duration::milliseconds(600));
    w.expect(WorkerEvent::Resumed).await;
    assert!(Utc::now() >= now + chrono::Duration::milliseconds(1400));
    w.works(2).await;
}
