//! The chair's settings (mode, speaking limit, muting a site) and a site's
//! representative.

use super::caller::Caller;
use super::command::{run, Outcome};
use super::error::{AppError, ErrorBody};
use super::extract::{Body, Path};
use super::AppState;
use crate::control::{Command, EndpointCode, Mode, SessionId};
use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use utoipa::ToSchema;

/// `PUT .../mode`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModeBody {
    /// `lecture`, `chaired` or `open`.
    pub mode: Mode,
}

/// `PUT .../speaking-limit`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SpeakingLimitBody {
    /// Seconds (10-7200), or null for unlimited.
    pub seconds: Option<u32>,
    /// Revoke the floor when the time runs out; unchanged when absent.
    pub auto_revoke: Option<bool>,
}

/// `PUT .../endpoints/{code}/representative`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RepresentativeBody {
    /// Full name of who presides at the site.
    pub name: String,
    /// Title, e.g. "Phó Chủ tịch UBND tỉnh".
    #[serde(default)]
    pub title: String,
    /// People in the room.
    pub headcount: Option<u32>,
}

/// `PUT .../endpoints/{code}/mute`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MuteBody {
    /// True to mute the site, false to unmute it.
    pub muted: bool,
}

/// Changes who may be heard (chair).
#[utoipa::path(put, path = "/api/sessions/{id}/mode", tag = "settings",
    params(("id" = String, Path, description = "Session id")), request_body = ModeBody,
    responses((status = 200, body = Outcome), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn mode(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body<ModeBody>,
) -> Result<Json<Outcome>, AppError> {
    run(
        &state,
        &caller,
        &SessionId(id),
        Command::SetMode { mode: body.mode },
    )
    .map(Json)
}

/// Sets the speaking-time limit (chair).
#[utoipa::path(put, path = "/api/sessions/{id}/speaking-limit", tag = "settings",
    params(("id" = String, Path, description = "Session id")), request_body = SpeakingLimitBody,
    responses((status = 200, body = Outcome), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn speaking_limit(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body<SpeakingLimitBody>,
) -> Result<Json<Outcome>, AppError> {
    let command = Command::SetSpeakingLimit {
        seconds: body.seconds,
        auto_revoke: body.auto_revoke,
    };
    run(&state, &caller, &SessionId(id), command).map(Json)
}

/// Says who presides at a site (the endpoint itself, or the chair).
#[utoipa::path(put, path = "/api/sessions/{id}/endpoints/{code}/representative", tag = "settings",
    params(("id" = String, Path, description = "Session id"),
        ("code" = String, Path, description = "Endpoint code")),
    request_body = RepresentativeBody,
    responses((status = 200, body = Outcome), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn representative(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, code)): Path<(String, String)>,
    Body(body): Body<RepresentativeBody>,
) -> Result<Json<Outcome>, AppError> {
    let command = Command::SetRepresentative {
        endpoint: EndpointCode(code),
        name: body.name,
        title: body.title,
        headcount: body.headcount,
    };
    run(&state, &caller, &SessionId(id), command).map(Json)
}

/// Mutes or unmutes a site (chair): a muted site's audio is forwarded to
/// nobody, whatever the mode, even while it holds the floor; its video is
/// unaffected. Setting what is already set succeeds with no event.
#[utoipa::path(put, path = "/api/sessions/{id}/endpoints/{code}/mute", tag = "settings",
    params(("id" = String, Path, description = "Session id"),
        ("code" = String, Path, description = "Endpoint code")),
    request_body = MuteBody,
    responses((status = 200, body = Outcome), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn mute(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, code)): Path<(String, String)>,
    Body(body): Body<MuteBody>,
) -> Result<Json<Outcome>, AppError> {
    let command = Command::SetMuted {
        endpoint: EndpointCode(code),
        muted: body.muted,
    };
    run(&state, &caller, &SessionId(id), command).map(Json)
}
