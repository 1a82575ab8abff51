//! Recording the programme.
//!
//! Starting or stopping what is already so records nothing, so a retried
//! command, or the chair starting what the session started by itself,
//! costs no event.

use crate::event::{EventKind, RecordingEnd};
use crate::rejection::Rejection;
use crate::session::Session;
use crate::types::Phase::{Live, Open};

impl Session {
    pub(crate) fn decide_start_recording(&self) -> Result<Vec<EventKind>, Rejection> {
        self.require_phase(&[Open, Live], "start recording")?;
        Ok(if self.recording {
            Vec::new()
        } else {
            vec![EventKind::RecordingStarted { by_chair: true }]
        })
    }

    /// `failure` is the server's own report that the recording stopped by
    /// itself; the log keeps its reason so a gap in the recording explains
    /// itself.
    pub(crate) fn decide_stop_recording(
        &self,
        failure: Option<&str>,
    ) -> Result<Vec<EventKind>, Rejection> {
        self.require_phase(&[Open, Live], "stop recording")?;
        let (reason, detail) = match failure {
            Some(reason) => (
                RecordingEnd::Failed,
                Some(reason.chars().take(500).collect()),
            ),
            None => (RecordingEnd::Chair, None),
        };
        Ok(if self.recording {
            vec![EventKind::RecordingStopped { reason, detail }]
        } else {
            Vec::new()
        })
    }
}
