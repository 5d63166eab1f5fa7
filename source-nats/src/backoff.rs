//! The NATS client's reconnection pauses, jittered as every retry loop is
//! ([`maintenance_core::backoff`]).

use std::time::Duration;

pub(crate) use maintenance_core::backoff::{Backoff, jittered};

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
    fn reconnects_start_at_once_and_stay_under_five_seconds() {
        assert_eq!(reconnect_delay(0), Duration::ZERO);
        assert_eq!(reconnect_delay(1), Duration::ZERO);
        assert!(reconnect_delay(2) < Duration::from_millis(50));
        assert!(reconnect_delay(200) < Duration::from_secs(5));
        assert!(reconnect_delay(200) >= Duration::from_millis(2500));
    }
}
