//! The one place the server reads the wall clock.
//!
//! The control plane never reads a clock: every command is applied at a
//! time passed in from here. Keeping the read in one helper makes it easy to
//! see that the log's times all come from the same source, and to reason
//! about a clock that steps backwards (the control plane clamps time to its
//! last event, so the log stays ordered).

use crate::control::Millis;
use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the UNIX epoch. A clock set before 1970 reads as 0
/// rather than failing: the log's own clamp keeps time monotonic.
pub fn now() -> Millis {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    Millis(u64::try_from(ms).unwrap_or(u64::MAX))
}

/// Seconds since the UNIX epoch, for token issue and expiry times.
pub fn now_secs() -> u64 {
    now().0 / 1000
}
