//! The media plane inside the server: every session's forwarding policy
//! flows in, link events flow out as attendance commands.
//!
//! The plane never decides policy, and the control plane never sees a
//! packet: these two tasks are the only coupling between them.

use super::clock;
use super::core::{Core, CoreError};
use crate::config::MediaConfig;
use crate::control::{Command, RejectionCode, SessionId};
use crate::media::{LinkEvent, MediaError, MediaPlane};
use std::collections::HashSet;
use std::sync::Arc;
use tokio::sync::{broadcast, mpsc, watch};

/// Binds the media socket and starts the tasks that connect the plane to
/// the core. They end when the server stops.
pub async fn start(
    config: &MediaConfig,
    recordings: std::path::PathBuf,
    core: Arc<Core>,
    stop: watch::Receiver<bool>,
) -> Result<MediaPlane, MediaError> {
    let (media, events) = MediaPlane::start_recording_into(config, Some(recordings)).await?;
    tokio::spawn(follow_policies(core.clone(), media.clone(), stop.clone()));
    tokio::spawn(apply_link_events(core, events, stop));
    Ok(media)
}

/// Watches the policy of every session, including those created later
/// (first seen through their `created` event).
async fn follow_policies(core: Arc<Core>, media: MediaPlane, mut stop: watch::Receiver<bool>) {
    let mut published = core.subscribe();
    let mut watched = HashSet::new();
    let tasks_stop = stop.clone();
    let watch_all = |watched: &mut HashSet<SessionId>| {
        for session in core.sessions() {
            watch_session(&core, &media, session.id(), watched, &tasks_stop);
        }
    };
    watch_all(&mut watched);
    loop {
        tokio::select! {
            next = published.recv() => match next {
                Ok(p) => watch_session(&core, &media, &p.session, &mut watched, &tasks_stop),
                Err(broadcast::error::RecvError::Lagged(_)) => watch_all(&mut watched),
                Err(broadcast::error::RecvError::Closed) => return,
            },
            _ = stop.changed() => return,
        }
    }
}

fn watch_session(
    core: &Core,
    media: &MediaPlane,
    id: &SessionId,
    watched: &mut HashSet<SessionId>,
    stop: &watch::Receiver<bool>,
) {
    if watched.contains(id) {
        return;
    }
    let Some(mut policy) = core.policy(id) else {
        return;
    };
    watched.insert(id.clone());
    let (media, id, mut stop) = (media.clone(), id.clone(), stop.clone());
    tokio::spawn(async move {
        loop {
            let current = policy.borrow_and_update().clone();
            media.set_policy(&id, current);
            tokio::select! {
                changed = policy.changed() => if changed.is_err() { return },
                _ = stop.changed() => return,
            }
        }
    });
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
