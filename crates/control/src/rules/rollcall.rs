//! Roll call: the chair asks every provincial site to confirm it is
//! present before a deadline.
//!
//! A round closes in three ways (the chair, the deadline, the session
//! ending), and all of them take the tally through `close_roll_call`, so
//! present and missing are counted the same whichever ends it.

use crate::event::{EventKind, RollCallEnd};
use crate::rejection::{Rejection, RejectionCode as Code};
use crate::rollcall::RollCall;
use crate::session::{Session, ROLL_CALL_RANGE};
use crate::types::Phase::{Live, Open};
use crate::types::{EndpointCode, EndpointRole, Millis};

impl Session {
    pub(crate) fn decide_start_roll_call(
        &self,
        deadline_secs: Option<u32>,
        now: Millis,
    ) -> Result<Vec<EventKind>, Rejection> {
        self.require_phase(&[Open, Live], "start a roll call")?;
        if self.running_roll_call().is_some() {
            return Err(Rejection::new(
                Code::RollCallRunning,
                "a roll call is already running",
            ));
        }
        let secs = deadline_secs.unwrap_or(self.spec.rules.roll_call_secs);
        if !ROLL_CALL_RANGE.contains(&secs) {
            return Err(Rejection::new(
                Code::InvalidValue,
                "roll-call deadline must be 5-3600 seconds",
            ));
        }
        Ok(vec![EventKind::RollCallStarted {
            round: self.roll_calls.len() as u32 + 1,
            deadline: now.plus_secs(u64::from(secs)),
        }])
    }

    pub(crate) fn decide_confirm_roll_call(
        &self,
        endpoint: &EndpointCode,
    ) -> Result<Vec<EventKind>, Rejection> {
        let rc = self
            .running_roll_call()
            .ok_or_else(|| Rejection::new(Code::RollCallNotRunning, "no roll call is running"))?;
        self.provincial_up(endpoint)?;
        if rc.confirmed.contains(endpoint) {
            return Err(Rejection::new(
                Code::AlreadyConfirmed,
                format!("endpoint {endpoint} already answered"),
            ));
        }
        Ok(vec![EventKind::RollCallConfirmed {
            round: rc.round,
            endpoint: endpoint.clone(),
        }])
    }

    pub(crate) fn decide_close_roll_call(&self) -> Result<Vec<EventKind>, Rejection> {
        let rc = self
            .running_roll_call()
            .ok_or_else(|| Rejection::new(Code::RollCallNotRunning, "no roll call is running"))?;
        Ok(vec![self.close_roll_call(rc, RollCallEnd::Closed)])
    }

    pub(crate) fn close_roll_call(&self, rc: &RollCall, reason: RollCallEnd) -> EventKind {
        let missing = self
            .attendance
            .values()
            .filter(|a| a.endpoint.role == EndpointRole::Provincial)
            .map(|a| &a.endpoint.code)
            .filter(|c| !rc.confirmed.contains(*c))
            .cloned()
            .collect();
        EventKind::RollCallClosed {
            round: rc.round,
            reason,
            present: rc.confirmed.iter().cloned().collect(),
            missing,
        }
    }
}
