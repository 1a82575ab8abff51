//! Running a command for a caller: the one path every REST write and every
//! WebSocket command takes (role check against the current state, then the
//! core), so both transports enforce exactly the same rules.

use super::access::{authorize, in_scope};
use super::caller::Caller;
use super::error::AppError;
use super::AppState;
use crate::control::{Command, Event, EventKind, SessionId};
use crate::service::clock;
use serde::Serialize;
use utoipa::ToSchema;

/// What a successful command did.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Outcome {
    /// The session's sequence number after the command.
    pub seq: u64,
    /// The events it produced, in order (empty when nothing changed).
    pub events: Vec<Event>,
    /// The floor request created or granted, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<u32>,
}

/// Checks the caller's role and runs the command.
pub fn run(
    state: &AppState,
    caller: &Caller,
    id: &SessionId,
    command: Command,
) -> Result<Outcome, AppError> {
    in_scope(caller, id)?;
    if !state.command_rate.allow(caller, std::time::Instant::now()) {
        return Err(AppError::new(
            axum::http::StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!(
                "more than {} commands a second; wait and try again",
                state.command_rate.per_sec()
            ),
        ));
    }
    let name = command.name();
    let done = state
        .core
        .execute(id, command.clone(), clock::now(), |session| {
            authorize(caller, &command, session)
        })?;
    tracing::info!(session = %id, command = name, events = done.events.len(), "command");
    let request_id = done.events.iter().find_map(|e| match &e.kind {
        EventKind::FloorRequested { request, .. } | EventKind::FloorGranted { request, .. } => {
            Some(request.0)
        }
        _ => None,
    });
    Ok(Outcome {
        seq: done.seq,
        events: done.events,
        request_id,
    })
}
