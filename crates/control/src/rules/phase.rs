//! Opening, starting and ending the session.
//!
//! Ending touches every other concept: the session closes its own
//! business (roll call, floor, content, recording) in the same decision,
//! so nothing outlives the meeting and the log reads in that order.

use crate::content::ContentEnd;
use crate::event::{EventKind, RecordingEnd, RollCallEnd};
use crate::rejection::Rejection;
use crate::session::Session;
use crate::types::Phase::{Live, Open, Scheduled};

impl Session {
    pub(crate) fn decide_open(&self) -> Result<Vec<EventKind>, Rejection> {
        self.require_phase(&[Scheduled], "open")?;
        Ok(vec![EventKind::Opened])
    }

    /// Recording starts with the meeting when the session was created to
    /// be recorded, so the chair need not remember it.
    pub(crate) fn decide_start(&self) -> Result<Vec<EventKind>, Rejection> {
        self.require_phase(&[Scheduled, Open], "start")?;
        let mut out = vec![EventKind::Started];
        if self.spec.rules.record && !self.recording {
            out.push(EventKind::RecordingStarted { by_chair: false });
        }
        Ok(out)
    }

    pub(crate) fn decide_end(&self) -> Result<Vec<EventKind>, Rejection> {
        self.require_phase(&[Scheduled, Open, Live], "end")?;
        let mut out = Vec::new();
        if let Some(rc) = self.running_roll_call() {
            out.push(self.close_roll_call(rc, RollCallEnd::SessionEnded));
        }
        for r in self.floor.holder_requests() {
            out.push(EventKind::FloorReleased {
                request: r.id,
                endpoint: r.endpoint.clone(),
            });
        }
        for id in &self.floor.queue {
            out.push(EventKind::FloorRequestCancelled { request: *id });
        }
        // Said before `ended`, so the log reads as the meeting
        // closing its business rather than a fix-up afterwards.
        out.extend(self.content_lapses(|_| Some(ContentEnd::SessionEnded)));
        if self.recording {
            out.push(EventKind::RecordingStopped {
                reason: RecordingEnd::SessionEnded,
                detail: None,
            });
        }
        out.push(EventKind::Ended);
        Ok(out)
    }
}
