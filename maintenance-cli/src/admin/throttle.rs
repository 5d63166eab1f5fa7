//! Backoff after failed logins, per client address.
//!
//! After each wrong token (login form or bearer token) the client's address must wait before
//! its next token is even compared: [`BackoffPolicy::first_delay`], doubled with each further
//! failure up to [`BackoffPolicy::max_delay`]. Meanwhile its attempts are answered 429 with
//! `Retry-After`, without looking at the token, so that sending many requests at once gains
//! nothing. A correct token clears the address; an address without failures for
//! [`BackoffPolicy::forget_after`] is forgotten. Other addresses are not affected.
//!
//! IPv6 clients are counted by their /64 network, which one host usually has to itself:
//! counting single addresses would let it take a fresh address for every attempt.
//!
//! Memory is bounded: at most [`BackoffPolicy::max_clients`] addresses are tracked; past it
//! the forgotten ones are dropped, then the one whose wait ends first.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// The longest wait or memory accepted in a policy; longer ones are cut to it (a longer wait
/// would only lock the operator out, and it keeps `Instant` arithmetic far from overflow).
const MAX_POLICY_DURATION: Duration = Duration::from_secs(7 * 24 * 3600);

/// How failed logins slow down the next attempt from the same client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackoffPolicy {
    /// The wait after the first failure; each further failure doubles it.
    pub first_delay: Duration,
    /// The longest wait.
    pub max_delay: Duration,
    /// How long after its last failure (and the end of its wait) a client is forgotten, its
    /// count starting again.
    pub forget_after: Duration,
    /// The most clients tracked at once.
    pub max_clients: usize,
}

impl Default for BackoffPolicy {
    /// 1 s after the first failure, then 2 s, 4 s, ... up to 60 s; forgotten after 15 minutes;
    /// 10 000 clients.
    fn default() -> Self {
        BackoffPolicy {
            first_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
            forget_after: Duration::from_secs(15 * 60),
            max_clients: 10_000,
        }
    }
}

impl BackoffPolicy {
    /// The wait after `failures` failures in a row (at least one).
    pub fn delay(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(31);
        let max = self.max_delay.min(MAX_POLICY_DURATION);
        self.first_delay.saturating_mul(1u32 << doublings).min(max)
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
    /// No address known (a router served without connection info): all such clients share one
    /// count.
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
    /// No token from this client is compared before this time.
    wait_until: Instant,
}

/// What [`LoginThrottle::failed`] recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failure {
    /// Failures in a row from this client.
    pub failures: u32,
    /// How long it must wait before its next attempt.
    pub wait: Duration,
}

/// The failed logins of recent clients.
#[derive(Debug, Default)]
pub struct LoginThrottle {
    policy: BackoffPolicy,
    clients: Mutex<HashMap<ClientKey, Entry>>,
}

/// `now + d`, or `now` if that cannot be represented (not with a policy's durations).
fn after(now: Instant, d: Duration) -> Instant {
    now.checked_add(d).unwrap_or(now)
}

impl LoginThrottle {
    /// No failures yet.
    pub fn new(policy: BackoffPolicy) -> LoginThrottle {
        LoginThrottle {
            policy,
            clients: Mutex::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<ClientKey, Entry>> {
        self.clients.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn forgotten(&self, e: &Entry, now: Instant) -> bool {
        let forget = self.policy.forget_after.min(MAX_POLICY_DURATION);
        now >= e.wait_until && now >= after(e.last_failure, forget)
    }

    /// Whether `client` may have a token compared at `now`: `Err` with the time left to wait
    /// when it may not.
    ///
    /// A client with failures that is let through is made to wait again, as if this attempt
    /// failed, until [`LoginThrottle::failed`] or [`LoginThrottle::succeeded`] says how it
    /// went: so of many attempts sent at once, one is compared.
    pub fn admit(&self, client: Option<IpAddr>, now: Instant) -> Result<(), Duration> {
        let key = ClientKey::of(client);
        let mut clients = self.lock();
        let Some(entry) = clients.get_mut(&key) else {
            return Ok(());
        };
        if now < entry.wait_until {
            return Err(entry.wait_until.saturating_duration_since(now));
        }
        if self.forgotten(entry, now) {
            clients.remove(&key);
            return Ok(());
        }
        entry.wait_until = after(now, self.policy.delay(entry.failures.saturating_add(1)));
        Ok(())
    }

    /// Records a wrong token from `client` at `now`.
    pub fn failed(&self, client: Option<IpAddr>, now: Instant) -> Failure {
        let key = ClientKey::of(client);
        let mut clients = self.lock();
        if !clients.contains_key(&key) && clients.len() >= self.policy.max_clients.max(1) {
            clients.retain(|_, e| !self.forgotten(e, now));
            if clients.len() >= self.policy.max_clients.max(1)
                && let Some(first_free) = clients
                    .iter()
                    .min_by_key(|(_, e)| e.wait_until)
                    .map(|(k, _)| *k)
            {
                clients.remove(&first_free);
            }
        }
        let entry = clients.entry(key).or_insert(Entry {
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
        entry.wait_until = after(now, wait);
        Failure {
            failures: entry.failures,
            wait,
        }
    }

    /// Records a correct token from `client`: its failures are cleared.
    pub fn succeeded(&self, client: Option<IpAddr>) {
        self.lock().remove(&ClientKey::of(client));
    }

    /// How many clients are tracked.
    pub fn tracked(&self) -> usize {
        self.lock().len()
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
    fn each_failure_makes_the_address_wait_longer() {
        let t = LoginThrottle::new(BackoffPolicy::default());
        let t0 = Instant::now();
        assert_eq!(t.admit(A, t0), Ok(()));
        assert_eq!(
            t.failed(A, t0),
            Failure {
                failures: 1,
                wait: secs(1)
            }
        );
        // An immediate second attempt is not even checked.
        assert_eq!(t.admit(A, t0), Err(secs(1)));
        assert_eq!(
            t.admit(A, t0 + Duration::from_millis(400)),
            Err(Duration::from_millis(600))
        );
        // Others are not affected.
        assert_eq!(t.admit(B, t0), Ok(()));
        assert_eq!(t.admit(A, t0 + secs(1)), Ok(()));
        assert_eq!(t.failed(A, t0 + secs(1)).wait, secs(2));
        assert_eq!(t.admit(A, t0 + secs(2)), Err(secs(1)));
        assert_eq!(t.admit(A, t0 + secs(3)), Ok(()));
        assert_eq!(t.failed(A, t0 + secs(3)).wait, secs(4));
    }

    #[test]
    fn one_of_many_simultaneous_attempts_is_checked() {
        let t = LoginThrottle::new(BackoffPolicy::default());
        let t0 = Instant::now();
        t.failed(A, t0);
        let later = t0 + secs(1);
        assert_eq!(t.admit(A, later), Ok(()));
        // While that attempt is being checked, the next ones wait as if it failed.
        assert_eq!(t.admit(A, later), Err(secs(2)));
        t.failed(A, later);
        assert_eq!(t.admit(A, later), Err(secs(2)));
    }

    #[test]
    fn success_clears_and_time_forgets() {
        let t = LoginThrottle::new(BackoffPolicy::default());
        let t0 = Instant::now();
        for n in 0..5 {
            t.failed(A, t0 + secs(n));
        }
        t.succeeded(A);
        assert_eq!(t.admit(A, t0 + secs(5)), Ok(()));
        assert_eq!(t.failed(A, t0 + secs(5)).failures, 1);
        // After the forget time, the count starts again.
        for n in 0..5 {
            t.failed(A, t0 + secs(6 + n));
        }
        let much_later = t0 + secs(10 + 15 * 60);
        assert_eq!(t.admit(A, much_later), Ok(()));
        assert_eq!(t.tracked(), 0);
        assert_eq!(t.failed(A, much_later).failures, 1);
    }

    #[test]
    fn memory_is_bounded() {
        let t = LoginThrottle::new(BackoffPolicy {
            max_clients: 3,
            ..BackoffPolicy::default()
        });
        let t0 = Instant::now();
        for n in 0..10u8 {
            t.failed(Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, n))), t0);
        }
        assert_eq!(t.tracked(), 3);
        // The most recent are kept.
        assert!(
            t.admit(Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 9))), t0)
                .is_err()
        );
    }

    #[test]
    fn ipv6_clients_are_counted_by_network() {
        let t = LoginThrottle::new(BackoffPolicy::default());
        let t0 = Instant::now();
        let one: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let same_net: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let other_net: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        t.failed(Some(one), t0);
        assert!(t.admit(Some(same_net), t0).is_err());
        assert!(t.admit(Some(other_net), t0).is_ok());
        t.failed(Some(mapped), t0);
        assert!(t.admit(A, t0).is_err());
    }
}
