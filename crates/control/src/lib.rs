//! The control plane: attendance, the floor, the content token, roll call
//! and modes of one chaired session.
//!
//! This module is pure: no IO, no tokio, no clock reads. The shell (http,
//! store, media) owns all of that and drives a [`Session`] with one contract:
//!
//! 1. Turn whatever happened (a REST call, a WebSocket command, a peer that
//!    connected or dropped, a timer) into a [`Command`].
//! 2. Call [`Session::apply`] with it and the current time. It returns the
//!    events that record the change, already folded into the state, or a
//!    [`Rejection`] and leaves the state untouched.
//! 3. Append the events to the store *before* telling anyone, then publish
//!    them and push the new [`Session::policy`] to the media plane.
//! 4. Call [`Session::apply`] with [`Command::Tick`] at least as often as
//!    [`Session::next_deadline`] asks, so speaking-time limits, roll-call
//!    deadlines and drop grace fire on time.
//!
//! Because every change is an [`Event`] and the state is a fold over them,
//! [`Session::replay`] rebuilds an equal state after a restart, and reports
//! and live updates come from the same source.

mod attendance;
mod command;
mod content;
mod event;
mod floor;
mod policy;
mod rejection;
mod rollcall;
mod rules;
mod session;
mod types;

pub use attendance::{Attendance, AttendanceStatus};
pub use command::{Command, GrantTarget};
pub use content::{ContentEnd, ContentRequest, ContentRule, ContentState, Presenter};
pub use event::{Event, EventKind, RecordingEnd, RollCallEnd};
pub use floor::{FloorRequest, FloorState, RequestState};
pub use policy::{ForwardingPolicy, Reception};
pub use rejection::{Rejection, RejectionCode};
pub use rollcall::RollCall;
pub use session::Session;
pub use types::{
    EndpointCode, EndpointInfo, EndpointRole, Millis, Mode, Phase, RequestId, Rules, SessionId,
    SessionSpec,
};

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
