//! Roll call: the chair asks, each linked site confirms it is present
//! before a deadline, and the tally is kept. It can be run again.

use super::event::RollCallEnd;
use super::types::{EndpointCode, Millis};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// One round of roll call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RollCall {
    /// 1, 2, … within the session.
    pub round: u32,
    /// When it began.
    pub started_at: Millis,
    /// When it closes by itself.
    pub deadline: Millis,
    /// Who has answered.
    pub confirmed: BTreeSet<EndpointCode>,
    /// When and why it ended; none while it runs.
    pub closed: Option<(Millis, RollCallEnd)>,
    /// Provincial endpoints that did not answer (filled at close).
    pub missing: Vec<EndpointCode>,
}

impl RollCall {
    /// Whether it is still running.
    pub fn is_running(&self) -> bool {
        self.closed.is_none()
    }
}
