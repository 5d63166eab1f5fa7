//! Pauses between tries that grow and are spread at random: every loop that retries a source
//! (the handle's polls during an outage, a change feed's reconnections, start-up migrations, a
//! NATS watch) waits this way, so that servers that lost their database together do not all
//! come back in the same instant.
//!
//! ```
//! use std::time::Duration;
//! use maintenance_core::backoff::Backoff;
//!
//! let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
//! let first = backoff.pause(); // 50 ms to 100 ms
//! let second = backoff.pause(); // 100 ms to 200 ms
//! assert!(first < Duration::from_millis(100) && second >= Duration::from_millis(100));
//! backoff.reset(); // after a success
//! ```

use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

/// Doubling pauses from `min` to `max`, each scaled by a random factor in [0.5, 1.0).
#[derive(Debug, Clone)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    /// Pauses from `min` (the first) up to `max`.
    pub fn new(min: Duration, max: Duration) -> Self {
        Backoff {
            min,
            max: max.max(min),
            next: min,
        }
    }

    /// The pause before the next try; the one after it is twice as long, up to the maximum.
    pub fn pause(&mut self) -> Duration {
        let pause = jittered(self.next);
        self.next = (self.next * 2).min(self.max);
        pause
    }

    /// After a success: the next failure starts again from the shortest pause.
    pub fn reset(&mut self) {
        self.next = self.min;
    }
}

/// `base` scaled by a random factor in [0.5, 1.0).
pub fn jittered(base: Duration) -> Duration {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(0);
    let unit = (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64;
    base.mul_f64(0.5 + unit / 2.0)
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
        let base = Duration::from_secs(1);
        let pauses: Vec<Duration> = (0..200).map(|_| jittered(base)).collect();
        assert!(
            pauses.iter().all(|p| *p >= base / 2 && *p < base),
            "{pauses:?}"
        );
        let spread: std::collections::HashSet<&Duration> = pauses.iter().collect();
        assert!(spread.len() > 10, "jitter does not vary: {spread:?}");
    }
}
