//! The pre-session link test over REST: start one while the session is
//! `open`, read the results with the session's record.

use super::access::in_scope;
use super::caller::Caller;
use super::error::{AppError, ErrorBody};
use super::extract::{Body, Path};
use super::AppState;
use crate::auth::Role;
use crate::control::{EndpointCode, Phase, SessionId};
use crate::monitor::{LinkTestResult, LinkTestRun, LINK_TEST_SECS};
use crate::service::clock;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST .../endpoints/{code}/link-test`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkTestBody {
    /// How long to measure, 3–30 seconds.
    pub seconds: u32,
}

/// A stored result and its id.
#[derive(Debug, Serialize)]
pub struct StoredResult {
    /// Its id in the session's record.
    pub id: i64,
    /// The result.
    #[serde(flatten)]
    pub result: LinkTestResult,
}

/// `GET .../link-tests`.
#[derive(Debug, Serialize)]
pub struct LinkTests {
    /// Tests still measuring.
    pub running: Vec<LinkTestRun>,
    /// Finished tests, oldest first.
    pub done: Vec<StoredResult>,
}

/// Starts measuring an endpoint's link for N seconds (technician, or the
/// endpoint itself), while the session is `open`; meanwhile its own media
/// is looped back to it on its floor slot. The result arrives as a
/// `monitor` event and in `GET .../link-tests`.
#[utoipa::path(post, path = "/api/sessions/{id}/endpoints/{code}/link-test", tag = "links",
    params(("id" = String, Path, description = "Session id"),
        ("code" = String, Path, description = "Endpoint code")),
    request_body = LinkTestBody,
    responses((status = 202, body = Object), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn start(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, code)): Path<(String, String)>,
    Body(body): Body<LinkTestBody>,
) -> Result<(StatusCode, Json<LinkTestRun>), AppError> {
    let (id, code) = (SessionId(id), EndpointCode(code));
    in_scope(&caller, &id)?;
    let session = state
        .core
        .session(&id)
        .ok_or_else(|| AppError::not_found("unknown_session", format!("no session {id}")))?;
    let requested_by = match caller.role {
        Role::Technician => "technician",
        Role::Endpoint if caller.own_endpoint() == Some(&code) => "endpoint",
        Role::Endpoint => {
            return Err(AppError::forbidden(format!(
                "an endpoint tests only its own link, not {code}'s"
            )))
        }
        _ => {
            return Err(AppError::forbidden(
                "only a technician or the endpoint itself may start a link test",
            ))
        }
    };
    if !session.attendance.contains_key(&code) {
        return Err(AppError::not_found(
            "unknown_endpoint",
            format!("endpoint {code} is not in session {id}"),
        ));
    }
    if !LINK_TEST_SECS.contains(&body.seconds) {
        return Err(AppError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_value",
            format!(
                "seconds must be between {} and {}",
                LINK_TEST_SECS.start(),
                LINK_TEST_SECS.end()
            ),
        ));
    }
    if session.phase != Phase::Open {
        return Err(AppError::new(
            StatusCode::CONFLICT,
            "wrong_phase",
            "a link test runs only while the session is open, before it starts",
        ));
    }
    let run = state
        .monitoring
        .start_link_test(&id, &code, requested_by, body.seconds, true, clock::now())
        .map_err(|e| AppError::new(StatusCode::CONFLICT, "test_running", e.to_string()))?;
    // Its own media comes back to it until the test ends (the sampler turns
    // it off): the return path is measured with a known stream on it.
    state.media.set_loopback(&id, &code, true);
    tracing::info!(session = %id, endpoint = %code, seconds = body.seconds, requested_by, "link test started");
    Ok((StatusCode::ACCEPTED, Json(run)))
}

/// The session's link tests: those running and every finished result
/// (chair, technician; an endpoint sees its own).
#[utoipa::path(get, path = "/api/sessions/{id}/link-tests", tag = "links",
    params(("id" = String, Path, description = "Session id")),
    responses((status = 200, body = Object), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<LinkTests>, AppError> {
    let id = SessionId(id);
    in_scope(&caller, &id)?;
    if state.core.session(&id).is_none() {
        return Err(AppError::not_found(
            "unknown_session",
            format!("no session {id}"),
        ));
    }
    let only: Option<EndpointCode> = match caller.role {
        Role::Chair | Role::Technician => None,
        Role::Endpoint => caller.own_endpoint().cloned(),
        Role::Viewer => {
            return Err(AppError::forbidden(
                "a viewer token may not read link tests",
            ))
        }
    };
    let mine = |code: &EndpointCode| only.as_ref().is_none_or(|own| own == code);
    let done = state
        .core
        .with_store(|store| store.link_tests(&id))
        .map_err(|e| {
            tracing::error!(session = %id, error = %e, "reading link tests failed");
            AppError::internal()
        })?
        .into_iter()
        .filter(|(_, r)| mine(&r.endpoint))
        .map(|(id, result)| StoredResult { id, result })
        .collect();
    let running = state
        .monitoring
        .running_link_tests(&id)
        .into_iter()
        .filter(|r| mine(&r.endpoint))
        .collect();
    Ok(Json(LinkTests { running, done }))
}
