//! Why a command was refused. Refusal is normal control flow, not a fault:
//! the state is unchanged and the caller gets a stable reason code.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A stable, machine-readable reason. Integrators match on these, so they
/// only ever gain variants.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum RejectionCode {
    /// The command is not allowed in the session's current phase.
    WrongPhase,
    /// The endpoint is not part of this session.
    UnknownEndpoint,
    /// The endpoint must be connected for this.
    NotConnected,
    /// The endpoint is already connected.
    AlreadyConnected,
    /// The chair's site cannot do this (ask for the floor, answer roll call).
    CentralEndpoint,
    /// The endpoint already has a pending request.
    AlreadyRequested,
    /// The endpoint already holds the floor.
    AlreadyHolding,
    /// No such floor request.
    UnknownRequest,
    /// The request is no longer pending.
    RequestNotPending,
    /// The endpoint does not hold the floor.
    NotHolder,
    /// Nobody holds the floor.
    FloorEmpty,
    /// No roll call is running.
    RollCallNotRunning,
    /// A roll call is already running.
    RollCallRunning,
    /// The endpoint already answered this roll call.
    AlreadyConfirmed,
    /// The new queue order does not name exactly the pending requests.
    BadQueueOrder,
    /// A value is out of range (too long, zero, too large).
    InvalidValue,
    /// The endpoint already holds the content token.
    AlreadyPresenting,
    /// The endpoint neither presents nor has a request to present waiting.
    NotPresenter,
    /// Nobody holds the content token.
    NoPresenter,
}

impl RejectionCode {
    /// The code as it appears on the wire.
    pub fn as_str(&self) -> &'static str {
        self.into()
    }
}

/// A refused command: a reason code and a sentence for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{code}: {message}")]
pub struct Rejection {
    /// Machine-readable reason.
    pub code: RejectionCode,
    /// Human-readable explanation.
    pub message: String,
}

impl Rejection {
    /// A rejection with a reason and a message.
    pub fn new(code: RejectionCode, message: impl Into<String>) -> Self {
        Rejection {
            code,
            message: message.into(),
        }
    }
}

impl fmt::Display for RejectionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
