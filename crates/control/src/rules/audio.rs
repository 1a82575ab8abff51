//! Who may be heard: the mode for the whole session, and the chair's mute
//! for one site.
//!
//! Both shape only the forwarding policy, never the floor, and saying
//! again what already holds records nothing.

use crate::event::EventKind;
use crate::rejection::{Rejection, RejectionCode as Code};
use crate::session::Session;
use crate::types::Phase::{Live, Open, Scheduled};
use crate::types::{EndpointCode, EndpointRole, Mode};

impl Session {
    pub(crate) fn decide_set_mode(&self, mode: Mode) -> Result<Vec<EventKind>, Rejection> {
        self.require_phase(&[Scheduled, Open, Live], "change the mode")?;
        if mode == self.mode {
            return Ok(Vec::new());
        }
        Ok(vec![EventKind::ModeChanged { mode }])
    }

    pub(crate) fn decide_set_muted(
        &self,
        endpoint: &EndpointCode,
        muted: bool,
    ) -> Result<Vec<EventKind>, Rejection> {
        let what = if muted { "mute" } else { "unmute" };
        self.require_phase(&[Scheduled, Open, Live], &format!("{what} an endpoint"))?;
        // Not connected is fine: the chair may silence a site known
        // to be noisy before its link comes up.
        let a = self.endpoint(endpoint)?;
        if a.endpoint.role == EndpointRole::Central {
            return Err(Rejection::new(
                Code::CentralEndpoint,
                "the chair's site cannot be muted",
            ));
        }
        if self.muted.contains(endpoint) == muted {
            return Ok(Vec::new());
        }
        let endpoint = endpoint.clone();
        Ok(vec![if muted {
            EventKind::EndpointMuted { endpoint }
        } else {
            EventKind::EndpointUnmuted { endpoint }
        }])
    }
}
