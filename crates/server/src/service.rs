//! The services the HTTP edge and the server's tasks share: the core of
//! sessions (state, event log, publication, the policy sink), the clock,
//! and link monitoring. They sit below both: `http` uses them, `server`
//! builds them and wires them to the media plane, and neither of those
//! is used from here.

pub mod clock;
mod core;
mod gauges;
pub mod monitoring;

pub use self::core::{Core, CoreError, Executed, PolicySink, Published};
