//! The monitor layer's one error type.

use thiserror::Error;

/// What can go wrong in the monitor layer. Recording samples cannot fail:
/// odd figures are dropped, not refused, so only setting up can.
#[derive(Debug, Error)]
pub enum MonitorError {
    /// The `[health]` thresholds are unusable.
    #[error("health thresholds: {0}")]
    Thresholds(String),
    /// The Prometheus recorder could not be built or installed (a second
    /// install in one process, or empty histogram buckets).
    #[error("metrics recorder: {0}")]
    Metrics(#[from] metrics_exporter_prometheus::BuildError),
}
