//! The media plane inside the server: every session's forwarding policy
//! flows in, link events flow out as attendance commands.
//!
//! The plane never decides policy, and the control plane never sees a
//! packet: the core's policy sink (called after each commit that changes
//! a policy) and the task that applies link events are the only coupling
//! between them.

use crate::config::MediaConfig;
use crate::control::{Command, RejectionCode, SessionId};
use crate::media::{LinkEvent, MediaError, MediaPlane};
use crate::service::clock;
use crate::service::{Core, CoreError};
use std::sync::Arc;
use tokio::sync::{mpsc, watch};

/// Binds the media socket and starts the tasks that connect the plane to
/// the core. They end when the server stops.
pub async fn start(
    config: &MediaConfig,
    recordings: std::path::PathBuf,
    core: Arc<Core>,
    stop: watch::Receiver<bool>,
) -> Result<MediaPlane, MediaError> {
    let (media, events) = MediaPlane::start_recording_into(config, Some(recordings)).await?;
    let plane = media.clone();
    core.set_policy_sink(Box::new(move |session, policy| {
        plane.set_policy(session, policy.clone())
    }));
    tokio::spawn(apply_link_events(core, events, stop));
    Ok(media)
}

/// Turns link events into `connect`, `disconnect` and `leave`.
async fn apply_link_events(
    core: Arc<Core>,
    mut events: mpsc::Receiver<LinkEvent>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let event = tokio::select! {
            e = events.recv() => match e {
                Some(e) => e,
                None => return,
            },
            _ = stop.changed() => return,
        };
        let Some((session, command)) = to_command(event) else {
            continue;
        };
        let name = command.name();
        match core.execute(&session, command, clock::now(), |_| Ok::<_, CoreError>(())) {
            Ok(done) => {
                tracing::info!(%session, command = name, events = done.events.len(), "link event applied")
            }
            Err(e) if is_expected(&e) => {
                tracing::debug!(%session, command = name, error = %e, "link event changed nothing")
            }
            Err(e) => tracing::warn!(%session, command = name, error = %e, "link event refused"),
        }
    }
}

fn to_command(event: LinkEvent) -> Option<(SessionId, Command)> {
    Some(match event {
        LinkEvent::Up {
            session, endpoint, ..
        } => (session, Command::Connect { endpoint }),
        LinkEvent::Lost {
            session, endpoint, ..
        } => (session, Command::Disconnect { endpoint }),
        LinkEvent::Closed {
            session, endpoint, ..
        } => (session, Command::Leave { endpoint }),
        LinkEvent::RecordingStopped { session, reason } => {
            tracing::error!(%session, %reason, "the recording stopped");
            (session, Command::RecordingFailed { reason })
        }
    })
}

/// Refusals that only mean the state already says it: a site marked
/// connected by hand, a link lost after a leave, a session already ended.
fn is_expected(e: &CoreError) -> bool {
    matches!(
        e.rejection_code(),
        Some(
            RejectionCode::AlreadyConnected
                | RejectionCode::NotConnected
                | RejectionCode::WrongPhase
        )
    ) || matches!(e, CoreError::UnknownSession(_))
}
