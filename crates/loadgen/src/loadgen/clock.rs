//! The run's one clock.
//!
//! Senders and receivers live in the same process on loopback, so a send
//! time written into a payload and the receive time read on arrival come
//! from the same monotonic clock: their difference is the forwarding
//! latency, with no clock sync to get wrong.

use std::time::Instant;

/// Microseconds since the start of the run.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    epoch: Instant,
}

impl Clock {
    /// A clock whose zero is now.
    pub fn start() -> Clock {
        Clock {
            epoch: Instant::now(),
        }
    }

    /// Now, in microseconds since the start.
    pub fn now_us(&self) -> u64 {
        self.us_at(Instant::now())
    }

    /// `t` in microseconds since the start (0 if earlier).
    pub fn us_at(&self, t: Instant) -> u64 {
        u64::try_from(t.saturating_duration_since(self.epoch).as_micros()).unwrap_or(u64::MAX)
    }
}
