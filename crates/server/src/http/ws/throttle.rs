//! How fast one socket may send: a token bucket per socket.
//!
//! Every message costs a parse, and most a lock on the session or a round
//! trip to the media plane. A page sends a few a second at most (stats
//! every 2 s, a ping every 20 s, a handful of ICE candidates when it
//! connects, a command when someone clicks), so the bucket
//! (`[limits] ws_messages_per_sec`, bursts of `ws_burst`) lets that through
//! with room to spare and refuses the rest without running it. A socket
//! that keeps sending into a refusing bucket is not a page, and is closed.

use crate::config::Limits;
use std::time::{Duration, Instant};

/// Refusals are counted over windows this long...
const FLOOD_WINDOW: Duration = Duration::from_secs(5);
/// ...and more than this many bursts' worth in one window closes the
/// socket: a page that lost its rhythm for a moment stays, a loop does not.
const FLOOD_BURSTS: f64 = 5.0;

/// What to do with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Run it.
    Pass,
    /// Answer `rate_limited` and drop it.
    Refuse,
    /// The socket is flooding: close it.
    Close,
}

/// One socket's bucket.
#[derive(Debug)]
pub(super) struct Throttle {
    rate: f64,
    burst: f64,
    tokens: f64,
    at: Instant,
    refused: f64,
    window: Instant,
}

impl Throttle {
    /// A full bucket.
    pub(super) fn new(limits: &Limits, now: Instant) -> Throttle {
        // The validator refuses zeros; a bucket of at least one message
        // keeps a bad config from shutting every socket anyway.
        let burst = f64::from(limits.ws_burst.max(1));
        Throttle {
            rate: f64::from(limits.ws_messages_per_sec.max(1)),
            burst,
            tokens: burst,
            at: now,
            refused: 0.0,
            window: now,
        }
    }

    /// Takes one message from the bucket.
    pub(super) fn take(&mut self, now: Instant) -> Verdict {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Verdict::Pass;
        }
        if now.saturating_duration_since(self.window) > FLOOD_WINDOW {
            self.window = now;
            self.refused = 0.0;
        }
        self.refused += 1.0;
        if self.refused > FLOOD_BURSTS * self.burst {
            Verdict::Close
        } else {
            Verdict::Refuse
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle(now: Instant) -> Throttle {
        let limits = Limits {
            ws_messages_per_sec: 20,
            ws_burst: 40,
            ..Limits::default()
        };
        Throttle::new(&limits, now)
    }

    #[test]
    fn a_burst_then_the_sustained_rate() {
        let t0 = Instant::now();
        let mut t = throttle(t0);
        let passed = (0..100).filter(|_| t.take(t0) == Verdict::Pass).count();
        assert_eq!(passed, 40);
        let t1 = t0 + Duration::from_millis(500);
        let passed = (0..100).filter(|_| t.take(t1) == Verdict::Pass).count();
        assert_eq!(passed, 10, "half a second refills ten");
    }

    #[test]
    fn a_page_at_its_usual_pace_is_never_refused() {
        let t0 = Instant::now();
        let mut t = throttle(t0);
        // Ten messages a second for a minute.
        for n in 0..600u64 {
            assert_eq!(t.take(t0 + Duration::from_millis(100 * n)), Verdict::Pass);
        }
    }

    #[test]
    fn a_flood_is_closed_and_a_moment_of_excess_is_not() {
        let t0 = Instant::now();
        let mut t = throttle(t0);
        let verdicts: Vec<Verdict> = (0..400).map(|_| t.take(t0)).collect();
        let first_close = verdicts.iter().position(|v| *v == Verdict::Close);
        // 40 pass, then 200 refusals are tolerated.
        assert_eq!(first_close, Some(40 + 200));

        // Refusals spread over windows do not add up to a close.
        let mut t = throttle(t0);
        for s in 0..10u64 {
            let at = t0 + Duration::from_secs(6 * s);
            for _ in 0..100 {
                assert_ne!(t.take(at), Verdict::Close, "window {s}");
            }
        }
    }
}
