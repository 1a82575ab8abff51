//! Roll call: the chair starts and closes it, each endpoint confirms itself.

use super::caller::Caller;
use super::command::{run, Outcome};
use super::error::{AppError, ErrorBody};
use super::extract::{OptionalBody, Path};
use super::AppState;
use crate::control::{Command, SessionId};
use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use utoipa::ToSchema;

/// `POST .../rollcall`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartBody {
    /// Seconds to answer (5-3600); the configured default when absent.
    pub deadline_secs: Option<u32>,
}

/// Starts a roll call (chair).
#[utoipa::path(post, path = "/api/sessions/{id}/rollcall", tag = "rollcall",
    params(("id" = String, Path, description = "Session id")), request_body = StartBody,
    responses((status = 200, body = Outcome), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn start(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    OptionalBody(body): OptionalBody<StartBody>,
) -> Result<Json<Outcome>, AppError> {
    let command = Command::StartRollCall {
        deadline_secs: body.deadline_secs,
    };
    run(&state, &caller, &SessionId(id), command).map(Json)
}

/// Answers the roll call (an endpoint, for itself).
#[utoipa::path(post, path = "/api/sessions/{id}/rollcall/confirm", tag = "rollcall",
    params(("id" = String, Path, description = "Session id")),
    responses((status = 200, body = Outcome), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn confirm(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Outcome>, AppError> {
    let endpoint = caller
        .own_endpoint()
        .cloned()
        .ok_or_else(|| AppError::forbidden("only an endpoint answers roll call, for itself"))?;
    run(
        &state,
        &caller,
        &SessionId(id),
        Command::ConfirmRollCall { endpoint },
    )
    .map(Json)
}

/// Closes the roll call before its deadline (chair).
#[utoipa::path(post, path = "/api/sessions/{id}/rollcall/close", tag = "rollcall",
    params(("id" = String, Path, description = "Session id")),
    responses((status = 200, body = Outcome), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn close(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Outcome>, AppError> {
    run(&state, &caller, &SessionId(id), Command::CloseRollCall).map(Json)
}
