//! diemcau: a videoconference bridge for chaired national meetings.
//!
//! # Layout
//!
//! - [`control`]: the pure heart. A [`control::Session`] takes a command and the
//!   current time and returns events; attendance, floor, roll call and modes are
//!   a fold over those events, and the [`control::ForwardingPolicy`] is derived
//!   from the state. No IO, no tokio, no clock reads.
//! - [`store`]: the append-only SQLite event log, replayed at start.
//! - [`report`]: the attendance report (JSON, CSV, terminal table) computed
//!   from a session alone.
//! - [`speaking_log`]: who had the floor, presented, when, and how it ended;
//!   as JSON, CSV and WebVTT chapters aligned to a recording.
//! - [`minutes`]: the minutes (*biên bản*) as a PDF, and their Ed25519
//!   signature over the PDF and the event log.
//! - [`spreadsheet`]: the one CSV writer, guarded against formula injection.
//! - [`config`]: the server configuration and the endpoint registries.
//! - [`auth`]: signed tokens (JWT, HS256) and the roles they carry.
//! - [`cert`]: certificates for HTTPS on private networks.
//! - [`media`]: the SFU. Applies the forwarding policy it is given.
//! - [`monitor`]: link health from RTCP and client reports.
//! - [`http`]: the thin edge. Authenticates, turns requests into commands,
//!   streams events.
//! - [`server`]: wires the parts together for `diemcau serve`.
#![forbid(unsafe_code)]

pub mod auth;
pub mod cert;
pub mod config;
pub use diemcau_control as control;
pub mod http;
pub mod media;
pub mod minutes;
pub use diemcau_monitor as monitor;
pub mod report;
pub mod server;
pub mod service;
pub mod speaking_log;
pub mod spreadsheet;
pub use diemcau_store as store;
pub mod telemetry;
#[cfg(test)]
mod wire_names;
