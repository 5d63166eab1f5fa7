//! Pauses between tries that grow and are spread at random, so that a fleet that lost NATS
//! together does not come back in the same millisecond.

use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

/// Doubling pauses from `min` to `max`, each scaled by a random factor in [0.5, 1.0).
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    min: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    pub(crate) fn new(min: Duration, max: Duration) -> Self {
        Backoff {
            min,
            max,
            next: min,
        }
    }

    /// The pause before the next try.
    pub(crate) fn pause(&mut self) -> Duration {
        let pause = jittered(self.next);
        self.next = (self.next * 2).min(self.max);
        pause
    }

    /// After a success: the next failure starts again from the shortest pause.
    pub(crate) fn reset(&mut self) {
        self.next = self.min;
    }
}

/// `base` scaled by a random factor in [0.5, 1.0).
pub(crate) fn jittered(base: Duration) -> Duration {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(0);
    let unit = (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64;
    base.mul_f64(0.5 + unit / 2.0)
}

/// The pause before NATS reconnection attempt `attempts` (the client's own loop): none for
/// the first, then doubling from 50 ms up to 5 s, jittered.
pub(crate) fn reconnect_delay(attempts: usize) -> Duration {
    if attempts <= 1 {
        return Duration::ZERO;
    }
    let exp = u32::try_from(attempts - 2).unwrap_or(u32::MAX).min(16);
    let base = Duration::from_millis(50u64 << exp).min(Duration::from_secs(5));
    jittered(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_double_up_to_the_cap_and_vary() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(400));
        let pauses: Vec<Duration> = (0..4).map(|_| b.pause()).collect();
        for (pause, base) in pauses.iter().zip([100u64, 200, 400, 400]) {
            assert!(*pause >= Duration::from_millis(base / 2), "{pauses:?}");
            assert!(*pause < Duration::from_millis(base), "{pauses:?}");
        }
        b.reset();
        assert!(b.pause() < Duration::from_millis(100));
        let spread: std::collections::HashSet<Duration> =
            (0..50).map(|_| jittered(Duration::from_secs(1))).collect();
        assert!(spread.len() > 10, "jitter does not vary: {spread:?}");
    }

    #[test]
    fn reconnects_start_at_once_and_stay_under_five_seconds() {
        assert_eq!(reconnect_delay(0), Duration::ZERO);
        assert_eq!(reconnect_delay(1), Duration::ZERO);
        assert!(reconnect_delay(2) < Duration::from_millis(50));
        assert!(reconnect_delay(200) < Duration::from_secs(5));
        assert!(reconnect_delay(200) >= Duration::from_millis(2500));
    }
}
