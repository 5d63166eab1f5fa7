//! What background jobs follow: which sites are in maintenance now, and a signal each time that
//! changes, whether a write changed it or a window started or ended with no write.
//!
//! The handle looks at each new snapshot and, in its background task, at each window's start
//! and end ([`crate::Maintenance::watch`]).

use std::sync::Mutex;

use chrono::{DateTime, Utc};
use tokio::sync::{Notify, watch};

use crate::model::Mode;
use crate::snapshot::Snapshot;

/// The effective state of every site, as workers see it: the sites in maintenance now, by id,
/// with their mode and scope.
type InForce = Vec<(i64, Mode, Vec<String>)>;

/// The handle's side of the change stream.
pub(crate) struct StateFollower {
    tx: watch::Sender<u64>,
    state: Mutex<Followed>,
    /// Woken when a new snapshot may move the next window boundary.
    pub(crate) wake: Notify,
}

#[derive(Default)]
struct Followed {
    in_force: Option<InForce>,
    next_boundary: Option<DateTime<Utc>>,
}

impl StateFollower {
    pub(crate) fn new() -> Self {
        StateFollower {
            tx: watch::Sender::new(0),
            state: Mutex::new(Followed::default()),
            wake: Notify::new(),
        }
    }

    /// A receiver that wakes at each change.
    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.tx.subscribe()
    }

    /// Looks at `snapshot` at `now`: remembers its next window boundary and, when the sites in
    /// maintenance are not the ones seen last, tells every receiver. Returns how many sites
    /// are in maintenance.
    pub(crate) fn observe(&self, snapshot: &Snapshot, now: DateTime<Utc>) -> usize {
        let mut in_force: InForce = Vec::new();
        let mut next: Option<DateTime<Utc>> = None;
        for site in snapshot.enabled_sites() {
            let state = site.state();
            if state.is_active_at(now) {
                in_force.push((state.id, state.mode, state.scope.clone()));
            }
            for at in [state.starts_at, state.ends_at].into_iter().flatten() {
                if at > now && next.is_none_or(|n| at < n) {
                    next = Some(at);
                }
            }
        }
        in_force.sort_unstable_by_key(|(id, _, _)| *id);
        let count = in_force.len();
        let mut followed = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        followed.next_boundary = next;
        let changed = followed.in_force.as_ref() != Some(&in_force);
        // The first snapshot is a change only if it puts a site in maintenance: a receiver
        // made before it has seen "nothing in maintenance".
        let first_and_quiet = followed.in_force.is_none() && in_force.is_empty();
        followed.in_force = Some(in_force);
        drop(followed);
        if changed && !first_and_quiet {
            self.tx.send_modify(|generation| *generation += 1);
        }
        count
    }

    /// When the next window starts or ends, as of the last snapshot seen.
    pub(crate) fn next_boundary(&self) -> Option<DateTime<Utc>> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .next_boundary
    }
}

impl std::fmt::Debug for StateFollower {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateFollower")
            .field("generation", &*self.tx.borrow())
            .finish_non_exhaustive()
    }
}
