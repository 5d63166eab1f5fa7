//! Backoff after failed logins: per client, and across all clients.
//!
//! After each wrong token (login form or bearer token) the client's next token is held before
//! it is compared: [`BackoffPolicy::first_delay`], doubled with each further failure up to
//! [`BackoffPolicy::max_delay`]. Attempts sent at once are held one after the other, each as
//! if the one before failed, so that sending many in parallel gains nothing. A correct token
//! clears the client; a client without failures for [`BackoffPolicy::forget_after`] is
//! forgotten. Other clients are not affected.
//!
//! A token is never refused without being compared, and a correct one always gets in, after
//! the wait at most: the answer to a held attempt is a login's answer, given later, the same
//! for a right and a wrong token. So an attacker who shares an address with the operators (a
//! proxy that is not configured as trusted) or spends the budget below slows them down, for
//! [`BackoffPolicy::max_delay`] at most, but can never lock them out.
//!
//! The client is its address (behind trusted proxies, the address they forward); IPv6 clients
//! are counted by their /64 network, which one host usually has to itself: counting single
//! addresses would let it take a fresh address for every attempt.
//!
//! Address churn gains nothing either: every wrong token, from any address, also spends a
//! budget shared by all clients ([`BackoffPolicy::global_burst`] wrong tokens, refilled one
//! per [`BackoffPolicy::global_interval`]). Once it is spent, every attempt, from any address,
//! takes the next slot of one queue paced at that interval. Memory is bounded: at most
//! [`BackoffPolicy::max_clients`] clients are tracked; past it the forgotten ones are dropped,
//! then the one whose wait ends first (the shared budget still counts what they did).
//!
//! What remains: an attacker with many open connections gets each held attempt compared after
//! [`BackoffPolicy::max_delay`] at most, one guess per held connection per wait; the token's
//! length (at least 32 characters) is what makes guessing hopeless, the backoff what makes it
//! slow and loud (each failure is logged with the client address).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// The longest wait or memory accepted in a policy; longer ones are cut to it (a longer wait
/// would only lock the operator out, and it keeps `Instant` arithmetic far from overflow).
const MAX_POLICY_DURATION: Duration = Duration::from_secs(7 * 24 * 3600);

/// How failed logins slow down the next attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackoffPolicy {
    /// The wait after a client's first failure; each further failure doubles it.
    pub first_delay: Duration,
    /// The longest wait: no attempt is held longer, whatever the failures before it.
    pub max_delay: Duration,
    /// How long after its last failure (and the end of its wait) a client is forgotten, its
    /// count starting again.
    pub forget_after: Duration,
    /// The most clients tracked at once.
    pub max_clients: usize,
    /// How many wrong tokens, from all clients together, pass before [`Self::global_interval`]
    /// paces every attempt.
    pub global_burst: u32,
    /// Once the burst is spent, one attempt per this interval is compared (from any client),
    /// and the burst refills at this rate.
    pub global_interval: Duration,
}

impl Default for BackoffPolicy {
    /// 1 s after a client's first failure, then 2 s, 4 s, ... up to 60 s; forgotten after 15
    /// minutes; 10 000 clients; 100 wrong tokens from all clients, then one attempt a second.
    fn default() -> Self {
        BackoffPolicy {
            first_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
            forget_after: Duration::from_secs(15 * 60),
            max_clients: 10_000,
            global_burst: 100,
            global_interval: Duration::from_secs(1),
        }
    }
}

impl BackoffPolicy {
    /// The wait after `failures` failures in a row (at least one).
    pub fn delay(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(31);
        self.first_delay
            .saturating_mul(1u32 << doublings)
            .min(self.longest_wait())
    }

    fn longest_wait(&self) -> Duration {
        self.max_delay.min(MAX_POLICY_DURATION)
    }

    fn interval(&self) -> Duration {
        self.global_interval.min(MAX_POLICY_DURATION)
    }

    /// How far ahead of now the shared queue may run before attempts are paced.
    fn burst_span(&self) -> Duration {
        self.interval()
            .saturating_mul(self.global_burst)
            .min(MAX_POLICY_DURATION)
    }
}

/// Where the backoff reads the time: the system's monotonic clock, or a test's.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> Instant + Send + Sync>);

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Clock")
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::system()
    }
}

impl Clock {
    /// [`Instant::now`].
    pub fn system() -> Clock {
        Clock(Arc::new(Instant::now))
    }

    /// A clock that reads `now`, e.g. a time a test moves forward by hand.
    pub fn from_fn(now: impl Fn() -> Instant + Send + Sync + 'static) -> Clock {
        Clock(Arc::new(now))
    }

    /// The time now.
    pub fn now(&self) -> Instant {
        (self.0)()
    }
}

/// Whom failures are counted for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum ClientKey {
    V4(Ipv4Addr),
    /// The first 64 bits of an IPv6 address.
    V6Net(u64),
    /// No address known (a router served without connection info, or a trusted proxy that
    /// named no client): all such clients share one count.
    Unknown,
}

impl ClientKey {
    fn of(client: Option<IpAddr>) -> ClientKey {
        match client {
            None => ClientKey::Unknown,
            Some(IpAddr::V4(v4)) => ClientKey::V4(v4),
            Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
                Some(v4) => ClientKey::V4(v4),
                None => ClientKey::V6Net((u128::from(v6) >> 64) as u64),
            },
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    last_failure: Instant,
    /// The client's next attempt is compared no earlier than this.
    wait_until: Instant,
}

/// An attempt let in by [`LoginThrottle::admit`]: how long to hold it before its token is
/// compared, and what to count when it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Admission {
    /// Hold the attempt this long, then compare its token.
    pub wait: Duration,
    key: ClientKey,
    /// Whether the attempt took a slot of the shared queue (its failure is counted there
    /// already).
    paced: bool,
}

/// What [`LoginThrottle::failed`] recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Failure {
    /// Failures in a row from this client.
    pub failures: u32,
    /// How long its next attempt will be held.
    pub wait: Duration,
}

#[derive(Debug, Default)]
struct Counts {
    clients: HashMap<ClientKey, Entry>,
    /// The shared budget, as the time at which it is whole again (`None`: it is whole).
    /// Each wrong token moves it one interval later; it is spent when it runs more than the
    /// burst ahead of now.
    budget_full_at: Option<Instant>,
}

/// The failed logins of recent clients, and of all clients together.
#[derive(Debug, Default)]
pub(crate) struct LoginThrottle {
    policy: BackoffPolicy,
    counts: Mutex<Counts>,
}

/// `now + d`, or `now` if that cannot be represented (not with a policy's durations).
fn after(now: Instant, d: Duration) -> Instant {
    now.checked_add(d).unwrap_or(now)
}

impl LoginThrottle {
    /// No failures yet.
    pub(crate) fn new(policy: BackoffPolicy) -> LoginThrottle {
        LoginThrottle {
            policy,
            counts: Mutex::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn forgotten(&self, e: &Entry, now: Instant) -> bool {
        let forget = self.policy.forget_after.min(MAX_POLICY_DURATION);
        now >= e.wait_until && now >= after(e.last_failure, forget)
    }

    /// The latest the shared budget may be whole again: the burst and the longest wait
    /// ahead, so that it refills within a bounded time after an attack stops, however many
    /// attempts it sent.
    fn budget_cap(&self, now: Instant) -> Instant {
        after(
            now,
            self.policy
                .burst_span()
                .saturating_add(self.policy.longest_wait()),
        )
    }

    /// Lets an attempt from `client` in at `now`: how long to hold it before its token is
    /// compared (zero for a client without failures while the shared budget lasts).
    ///
    /// The wait is reserved: a client with failures that is let in is made to wait again
    /// after it, as if this attempt failed, until [`LoginThrottle::failed`] or
    /// [`LoginThrottle::succeeded`] says how it went; so of many attempts sent at once, each is
    /// held one wait longer than the one before. No wait is longer than
    /// [`BackoffPolicy::max_delay`].
    pub(crate) fn admit(&self, client: Option<IpAddr>, now: Instant) -> Admission {
        let key = ClientKey::of(client);
        let mut counts = self.lock();
        let mut wait = Duration::ZERO;
        if let Some(entry) = counts.clients.get(&key).copied() {
            if self.forgotten(&entry, now) {
                counts.clients.remove(&key);
            } else {
                let slot = entry.wait_until.max(now);
                wait = slot.saturating_duration_since(now);
                // Never reserved beyond the longest wait, so that a flood of attempts does not
                // hold the client's later ones for longer.
                let next = after(slot, self.policy.delay(entry.failures.saturating_add(1)))
                    .min(after(now, self.policy.longest_wait()));
                if let Some(e) = counts.clients.get_mut(&key) {
                    e.wait_until = next;
                }
            }
        }
        let mut paced = false;
        if let Some(full_at) = counts.budget_full_at {
            let ahead = full_at.saturating_duration_since(now);
            if ahead > self.policy.burst_span() {
                // Spent: this attempt takes the next slot of the shared queue.
                wait = wait.max(ahead - self.policy.burst_span());
                counts.budget_full_at =
                    Some(after(full_at, self.policy.interval()).min(self.budget_cap(now)));
                paced = true;
            }
        }
        Admission {
            wait: wait.min(self.policy.longest_wait()),
            key,
            paced,
        }
    }

    /// Records a wrong token at `now` for an attempt [`LoginThrottle::admit`] let in.
    pub(crate) fn failed(&self, attempt: &Admission, now: Instant) -> Failure {
        let key = attempt.key;
        let mut counts = self.lock();
        if !attempt.paced {
            let from = counts.budget_full_at.map_or(now, |t| t.max(now));
            counts.budget_full_at =
                Some(after(from, self.policy.interval()).min(self.budget_cap(now)));
        }
        let max_clients = self.policy.max_clients.max(1);
        if !counts.clients.contains_key(&key) && counts.clients.len() >= max_clients {
            counts.clients.retain(|_, e| !self.forgotten(e, now));
            if counts.clients.len() >= max_clients
                && let Some(first_free) = counts
                    .clients
                    .iter()
                    .min_by_key(|(_, e)| e.wait_until)
                    .map(|(k, _)| *k)
            {
                counts.clients.remove(&first_free);
            }
        }
        let entry = counts.clients.entry(key).or_insert(Entry {
            failures: 0,
            last_failure: now,
            wait_until: now,
        });
        if self.forgotten(entry, now) {
            entry.failures = 0;
        }
        entry.failures = entry.failures.saturating_add(1);
        entry.last_failure = now;
        let wait = self.policy.delay(entry.failures);
        entry.wait_until = entry.wait_until.max(after(now, wait));
        Failure {
            failures: entry.failures,
            wait,
        }
    }

    /// Records a correct token for an attempt [`LoginThrottle::admit`] let in: its client's
    /// failures are cleared.
    pub(crate) fn succeeded(&self, attempt: &Admission) {
        self.lock().clients.remove(&attempt.key);
    }

    /// How many clients are tracked.
    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.lock().clients.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Option<IpAddr> = Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)));
    const B: Option<IpAddr> = Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)));

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    fn v4(n: u32) -> Option<IpAddr> {
        Some(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 | n)))
    }

    /// An attempt from `client` at `now` that fails: its wait before being compared.
    fn wrong(t: &LoginThrottle, client: Option<IpAddr>, now: Instant) -> Duration {
        let attempt = t.admit(client, now);
        t.failed(&attempt, now + attempt.wait);
        attempt.wait
    }

    #[test]
    fn delays_double_up_to_the_maximum() {
        let p = BackoffPolicy::default();
        let waits: Vec<u64> = (1..=8).map(|n| p.delay(n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(p.delay(u32::MAX), secs(60));
        let huge = BackoffPolicy {
            first_delay: Duration::MAX,
            max_delay: Duration::MAX,
            ..p
        };
        assert_eq!(huge.delay(3), MAX_POLICY_DURATION);
    }

    #[test]
    fn each_failure_holds_the_next_attempt_longer() {
        let t = LoginThrottle::new(BackoffPolicy::default());
        let t0 = Instant::now();
        let first = t.admit(A, t0);
        assert_eq!(first.wait, Duration::ZERO);
        assert_eq!(
            t.failed(&first, t0),
            Failure {
                failures: 1,
                wait: secs(1)
            }
        );
        // An immediate second attempt is held until the wait is over.
        let held = t.admit(A, t0 + Duration::from_millis(400));
        assert_eq!(held.wait, Duration::from_millis(600));
        // Others are not affected.
        assert_eq!(t.admit(B, t0).wait, Duration::ZERO);
        assert_eq!(t.failed(&held, t0 + secs(1)).wait, secs(2));
        assert_eq!(t.admit(A, t0 + secs(2)).wait, secs(1));
    }

    #[test]
    fn simultaneous_attempts_are_held_one_after_the_other() {
        let t = LoginThrottle::new(BackoffPolicy::default());
        let t0 = Instant::now();
        wrong(&t, A, t0);
        // Three at once: the first is compared after 1 s, each next one a second failure's
        // wait (2 s) after the one before.
        let waits: Vec<_> = (0..3).map(|_| t.admit(A, t0).wait).collect();
        assert_eq!(waits, [secs(1), secs(3), secs(5)]);
        // However many, none is held longer than the maximum.
        let last = (0..100).map(|_| t.admit(A, t0).wait).last();
        assert_eq!(last, Some(secs(60)));
    }

    #[test]
    fn a_correct_token_is_only_ever_held_never_refused() {
        let t = LoginThrottle::new(BackoffPolicy::default());
        let t0 = Instant::now();
        for n in 0..20 {
            wrong(&t, A, t0 + secs(n));
        }
        // Whatever the failures before it, an attempt is let in, held at most the maximum.
        let attempt = t.admit(A, t0 + secs(20));
        assert!(attempt.wait <= secs(60), "{attempt:?}");
        t.succeeded(&attempt);
        assert_eq!(t.admit(A, t0 + secs(80)).wait, Duration::ZERO);
        assert_eq!(t.tracked(), 0);
    }

    #[test]
    fn success_clears_and_time_forgets() {
        let t = LoginThrottle::new(BackoffPolicy::default());
        let t0 = Instant::now();
        for n in 0..5 {
            wrong(&t, A, t0 + secs(n * 100));
        }
        let ok = t.admit(A, t0 + secs(500));
        t.succeeded(&ok);
        let next = t.admit(A, t0 + secs(500));
        assert_eq!(next.wait, Duration::ZERO);
        assert_eq!(t.failed(&next, t0 + secs(500)).failures, 1);
        // After the forget time, the count starts again.
        for n in 0..5 {
            wrong(&t, A, t0 + secs(600 + n * 100));
        }
        let much_later = t0 + secs(2000 + 15 * 60);
        let attempt = t.admit(A, much_later);
        assert_eq!(attempt.wait, Duration::ZERO);
        assert_eq!(t.tracked(), 0);
        assert_eq!(t.failed(&attempt, much_later).failures, 1);
    }

    #[test]
    fn memory_is_bounded() {
        let t = LoginThrottle::new(BackoffPolicy {
            max_clients: 3,
            ..BackoffPolicy::default()
        });
        let t0 = Instant::now();
        for n in 0..10 {
            wrong(&t, v4(n), t0);
        }
        assert_eq!(t.tracked(), 3);
        // The most recent are kept.
        assert!(t.admit(v4(9), t0).wait > Duration::ZERO);
    }

    #[test]
    fn address_churn_spends_a_budget_shared_by_every_address() {
        let policy = BackoffPolicy {
            max_clients: 1000,
            ..BackoffPolicy::default()
        };
        let t = LoginThrottle::new(policy);
        let t0 = Instant::now();
        // 100 wrong tokens from 100 fresh addresses pass unheld; from then on, every attempt
        // from any address, a fresh one too, takes the next slot of one queue paced at 1 s:
        // more than the table holds gains nothing.
        for n in 0..100 {
            assert_eq!(wrong(&t, v4(n), t0), Duration::ZERO, "attempt {n}");
        }
        t.failed(&t.admit(v4(100), t0), t0);
        let waits: Vec<_> = (0..3).map(|n| t.admit(v4(200 + n), t0).wait).collect();
        assert_eq!(waits, [secs(1), secs(2), secs(3)]);
        // A flood of addresses: each held, none longer than the maximum.
        for n in 0..3000 {
            let attempt = t.admit(v4(1000 + n), t0);
            assert!(attempt.wait <= policy.max_delay);
            t.failed(&attempt, t0);
        }
        assert!(t.tracked() <= policy.max_clients);
        assert_eq!(t.admit(v4(99_999), t0).wait, secs(60));
        // The operator's correct token, from a fresh address, is held, not refused; and once
        // the attack stops, the budget refills within the burst and the longest wait.
        let operator = t.admit(B, t0);
        assert_eq!(operator.wait, secs(60));
        t.succeeded(&operator);
        assert_eq!(t.admit(B, t0 + secs(100 + 60)).wait, Duration::ZERO);
    }

    #[test]
    fn ipv6_clients_are_counted_by_network() {
        let t = LoginThrottle::new(BackoffPolicy::default());
        let t0 = Instant::now();
        let one: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let same_net: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let other_net: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        wrong(&t, Some(one), t0);
        assert!(t.admit(Some(same_net), t0).wait > Duration::ZERO);
        assert_eq!(t.admit(Some(other_net), t0).wait, Duration::ZERO);
        wrong(&t, Some(mapped), t0);
        assert!(t.admit(A, t0).wait > Duration::ZERO);
    }
}
