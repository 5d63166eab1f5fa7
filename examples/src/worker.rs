//! A background job that obeys maintenance: it does its work at a steady pace, pauses while
//! its site is in maintenance (turned on by an operator, or a window that started), and
//! resumes when it ends. It reads the live handle only: no query of its own.

use std::future::Future;
use std::time::Duration;

use maintenance_core::Maintenance;

/// What the worker did, told to the caller (the binary logs it; the tests count it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerEvent {
    /// One round of work was done; the number counts them from 1.
    Worked(u64),
    /// The site went into maintenance: no more work until it ends.
    Paused,
    /// Maintenance ended: work goes on.
    Resumed,
}

/// A job for one site.
#[derive(Debug, Clone)]
pub struct Worker {
    maintenance: Maintenance,
    host: String,
    every: Duration,
}

impl Worker {
    /// A worker for the site serving `host` (its domain, else the default site), working once
    /// every `every`.
    pub fn new(maintenance: Maintenance, host: impl Into<String>, every: Duration) -> Self {
        Worker {
            maintenance,
            host: host.into(),
            every,
        }
    }

    /// Runs until the handle goes away: `work` once every interval while the site is not in
    /// maintenance, and nothing while it is. A round of work that has begun is finished before
    /// the worker pauses. Each thing it does is told to `events`.
    pub async fn run<F, Fut>(self, mut work: F, mut events: impl FnMut(WorkerEvent))
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = ()>,
    {
        let mut changes = self.maintenance.watch();
        let mut rounds = 0;
        loop {
            if self.maintenance.is_in_maintenance(&self.host) {
                events(WorkerEvent::Paused);
                // Woken by each change of any site; ours may still be in maintenance.
                while self.maintenance.is_in_maintenance(&self.host) {
                    if changes.changed().await.is_err() {
                        return;
                    }
                }
                events(WorkerEvent::Resumed);
            }
            work().await;
            rounds += 1;
            events(WorkerEvent::Worked(rounds));
            tokio::select! {
                () = tokio::time::sleep(self.every) => {}
                // A change ends the wait: the worker pauses at once rather than after it.
                changed = changes.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
            }
        }
    }
}
