//! The monitor layer's one error type.

use thiserror::Error;

/// What can go wrong in the monitor layer. Recording samples cannot fail:
/// odd figures are dropped, not refused, so only setting up can.
#[derive(Debug, Error)]
pub enum MonitorError {
    /// The `[health]` thresholds are unusable.
    #[error("health thresholds: {0}")]
    Thresholds(String),
}
