//! Sessions: create, list, read, and the lifecycle (open, start, end).

use super::access::{in_scope, may_read, may_read_attendance};
use super::caller::Caller;
use super::command::{run, Outcome};
use super::error::{AppError, ErrorBody};
use super::extract::{Body, Path, Query};
use super::view::{SessionSummary, SessionView};
use super::AppState;
use crate::auth::Role;
use crate::control::{Command, Mode, SessionId, SessionSpec};
use crate::report;
use crate::service::clock;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

/// How many times a generated id is redrawn if it is taken.
const ID_ATTEMPTS: usize = 4;

/// `POST /api/sessions`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSession {
    /// 1-64 letters, digits, `-` or `_`; generated when absent.
    pub id: Option<String>,
    /// What the meeting is about.
    pub title: String,
    /// `lecture`, `chaired` (default) or `open`.
    pub mode: Option<Mode>,
}

/// `?format=` of the attendance report.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    /// `json` (default) or `csv` (UTF-8 with a byte-order mark).
    #[param(value_type = Option<String>)]
    pub format: Option<ReportFormat>,
}

/// Report formats.
#[derive(Debug, Default, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportFormat {
    /// JSON.
    #[default]
    Json,
    /// CSV.
    Csv,
}

fn generated_id() -> String {
    format!("s{:012x}", rand::random::<u64>() & 0xffff_ffff_ffff)
}

/// Lists the sessions the token may see.
#[utoipa::path(get, path = "/api/sessions", tag = "sessions",
    responses((status = 200, body = Vec<SessionSummary>), (status = 401, body = ErrorBody)))]
pub async fn list(State(state): State<AppState>, caller: Caller) -> Json<Vec<SessionSummary>> {
    let sessions = state.core.sessions();
    Json(
        sessions
            .iter()
            .filter(|s| may_read(&caller, s).is_ok())
            .map(SessionSummary::from)
            .collect(),
    )
}

/// Creates a session over the whole registry, with the configured rules.
#[utoipa::path(post, path = "/api/sessions", tag = "sessions", request_body = CreateSession,
    responses((status = 201, description = "The new session's state", body = crate::control::Session),
        (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Body(body): Body<CreateSession>,
) -> Result<Response, AppError> {
    caller.require(&[Role::Chair], "create a session")?;
    if caller.session.is_some() {
        return Err(AppError::forbidden(
            "a token bound to one session may not create another",
        ));
    }
    let attempts = if body.id.is_some() { 1 } else { ID_ATTEMPTS };
    let mut last = None;
    for _ in 0..attempts {
        let spec = SessionSpec {
            id: SessionId(body.id.clone().unwrap_or_else(generated_id)),
            title: body.title.clone(),
            endpoints: state.registry.endpoint_infos(),
            rules: state.rules.clone(),
        };
        match state.core.create(spec, body.mode, clock::now()) {
            Ok(session) => {
                tracing::info!(session = %session.id(), "session created");
                let location = format!("/api/sessions/{}", session.id());
                let view = SessionView::of(&session, &caller);
                return Ok((
                    StatusCode::CREATED,
                    [(header::LOCATION, location)],
                    Json(view),
                )
                    .into_response());
            }
            Err(e) => last = Some(AppError::from(e)),
        }
    }
    Err(last.unwrap_or_else(AppError::internal))
}

pub(super) fn read(
    state: &AppState,
    caller: &Caller,
    id: &SessionId,
) -> Result<crate::control::Session, AppError> {
    in_scope(caller, id)?;
    state
        .core
        .session(id)
        .ok_or_else(|| AppError::not_found("unknown_session", format!("no session {id}")))
}

/// The session's state, as the token's role may see it.
#[utoipa::path(get, path = "/api/sessions/{id}", tag = "sessions",
    params(("id" = String, Path, description = "Session id")),
    responses((status = 200, description = "The whole state (chair, technician; an endpoint without the other sites' representatives and headcounts) or, for a viewer, a PublicSession", body = crate::control::Session),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<SessionView>, AppError> {
    let session = read(&state, &caller, &SessionId(id))?;
    Ok(Json(SessionView::of(&session, &caller)))
}

macro_rules! lifecycle {
    ($name:ident, $path:literal, $command:expr, $doc:literal) => {
        #[doc = $doc]
        #[utoipa::path(post, path = $path, tag = "sessions",
                    params(("id" = String, Path, description = "Session id")),
                    responses((status = 200, body = Outcome), (status = 403, body = ErrorBody),
                        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
        pub async fn $name(
            State(state): State<AppState>,
            caller: Caller,
            Path(id): Path<String>,
        ) -> Result<Json<Outcome>, AppError> {
            run(&state, &caller, &SessionId(id), $command).map(Json)
        }
    };
}

lifecycle!(
    open,
    "/api/sessions/{id}/open",
    Command::Open,
    "`scheduled → open`: the technical check window (chair)."
);
lifecycle!(
    start,
    "/api/sessions/{id}/start",
    Command::Start,
    "`→ live`: the meeting starts; lateness counts from here (chair)."
);
lifecycle!(
    end,
    "/api/sessions/{id}/end",
    Command::End,
    "`→ ended`: freezes the record (chair)."
);

/// The attendance report, as JSON or CSV (chair, technician).
#[utoipa::path(get, path = "/api/sessions/{id}/attendance", tag = "sessions",
    params(("id" = String, Path, description = "Session id"), ReportQuery),
    responses((status = 200, body = report::AttendanceReport,
        content_type = "application/json"),
        (status = 200, description = "CSV with a byte-order mark", body = String,
        content_type = "text/csv"),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn attendance(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(query): Query<ReportQuery>,
) -> Result<Response, AppError> {
    let id = SessionId(id);
    let session = read(&state, &caller, &id)?;
    may_read_attendance(&caller, &session)?;
    let report = report::attendance(&session, clock::now());
    Ok(match query.format.unwrap_or_default() {
        ReportFormat::Json => Json(report).into_response(),
        ReportFormat::Csv => {
            let csv = report::to_csv(&report).map_err(|e| {
                tracing::error!(session = %id, error = %e, "writing the attendance CSV failed");
                AppError::internal()
            })?;
            (
                [
                    (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                    (
                        header::CONTENT_DISPOSITION,
                        format!("attachment; filename=\"attendance-{id}.csv\""),
                    ),
                ],
                csv,
            )
                .into_response()
        }
    })
}
