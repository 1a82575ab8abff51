//! Link monitoring: health, alerts and history of every link.
//!
//! Like the control plane, the [`Monitor`] is pure: no IO, no tokio, no
//! clock reads. The shell drives it with one contract:
//!
//! 1. Once a second per link, build a [`LinkSample`] from the media plane's
//!    view (connection state, server-side RTCP, bitrates) and the latest
//!    client report, with the current time, and call [`Monitor::record`].
//! 2. Publish what it returns to the technicians' event stream, in order,
//!    and log it: [`MonitorEvent::AlertRaised`] and
//!    [`MonitorEvent::AlertCleared`] are the alert log.
//! 3. When a link closes for good (the endpoint left, the viewer went away),
//!    call [`Monitor::forget`] and publish what it returns.
//! 4. Serve [`Monitor::links`] and [`Monitor::history`] on the API, and
//!    report the samples and active alerts to the metrics after each round
//!    (the server's `telemetry` module).
//!
//! Client reports ([`ClientStats`]) are checked and summarised here too,
//! and [`media`] turns the media plane's per-peer figures into samples; the
//! pre-session link test ([`LinkTest`]) reads the same samples.
//!
//! Health rises at once and falls slowly: the first sample at or above a
//! threshold raises the alert and the link's health with it; the alert is
//! lowered or cleared only after [`Thresholds::clear_after_samples`]
//! samples in a row below its level, so a link hovering at a threshold
//! raises one alert, not one a second.

mod alerts;
mod error;
mod event;
mod health;
mod history;
mod link_report;
mod link_test;
mod links;
pub mod media;
mod report;
mod sample;

pub use alerts::{Alert, AlertReason};
pub use error::MonitorError;
pub use event::MonitorEvent;
pub use health::{Health, Thresholds};
pub use history::{HistoryPoint, HISTORY_POINTS, HISTORY_SPAN_MS};
pub use link_report::LinkReport;
pub use link_test::{Figure, LinkTest, LinkTestResult, LinkTestRun, Verdict, LINK_TEST_SECS};
pub use links::{LinkView, Monitor};
pub use report::{ClientFigures, ClientStats, InboundStream, OutboundStream, MAX_STREAMS};
pub use sample::{LinkId, LinkSample, LinkState};

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
