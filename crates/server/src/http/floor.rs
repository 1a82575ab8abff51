//! The floor: requests, grants, the queue (BFCP semantics in control).

use super::caller::Caller;
use super::command::{run, Outcome};
use super::error::{AppError, ErrorBody};
use super::extract::{Body, OptionalBody, Path};
use super::sessions::read;
use super::AppState;
use crate::control::{Command, EndpointCode, GrantTarget, RequestId, SessionId};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use utoipa::ToSchema;

/// `POST .../floor/requests` (an endpoint, for itself).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestBody {
    /// A short topic (at most 200 characters).
    #[serde(default)]
    pub topic: String,
}

/// `POST .../floor/grant`: exactly one of the two.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantBody {
    /// A pending request.
    pub request_id: Option<u32>,
    /// Any connected endpoint, asked or not ("call on").
    pub endpoint: Option<String>,
}

/// `POST .../floor/deny`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DenyBody {
    /// The pending request.
    pub request_id: u32,
}

/// A body that may name an endpoint. `POST .../floor/revoke` and
/// `.../floor/release`: an endpoint, or all / the caller itself when
/// absent. `.../content/request` and `.../content/release`: the site, the
/// caller's own when absent; `.../content/revoke`: a site whose request
/// waits (turned down) or the presenter, the presenter when absent.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointBody {
    /// Endpoint code.
    pub endpoint: Option<String>,
}

/// `PUT .../floor/queue`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QueueBody {
    /// Every pending request, first to last.
    pub order: Vec<u32>,
}

/// The floor: every request, the queue and the holders.
#[utoipa::path(get, path = "/api/sessions/{id}/floor", tag = "floor",
    params(("id" = String, Path, description = "Session id")),
    responses((status = 200, body = crate::control::FloorState), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<crate::control::FloorState>, AppError> {
    Ok(Json(read(&state, &caller, &SessionId(id))?.floor))
}

fn own(caller: &Caller, what: &str) -> Result<EndpointCode, AppError> {
    caller
        .own_endpoint()
        .cloned()
        .ok_or_else(|| AppError::forbidden(format!("only an endpoint may {what}, for itself")))
}

/// An endpoint asks for the floor.
#[utoipa::path(post, path = "/api/sessions/{id}/floor/requests", tag = "floor",
    params(("id" = String, Path, description = "Session id")), request_body = RequestBody,
    responses((status = 201, body = Outcome), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn request(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    OptionalBody(body): OptionalBody<RequestBody>,
) -> Result<(StatusCode, Json<Outcome>), AppError> {
    let endpoint = own(&caller, "ask for the floor")?;
    let command = Command::RequestFloor {
        endpoint,
        topic: body.topic,
    };
    let outcome = run(&state, &caller, &SessionId(id), command)?;
    Ok((StatusCode::CREATED, Json(outcome)))
}

/// Withdraws a pending request (its endpoint, or the chair).
#[utoipa::path(delete, path = "/api/sessions/{id}/floor/requests/{rid}", tag = "floor",
    params(("id" = String, Path, description = "Session id"),
        ("rid" = u32, Path, description = "Request id")),
    responses((status = 200, body = Outcome), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, rid)): Path<(String, u32)>,
) -> Result<Json<Outcome>, AppError> {
    let command = Command::CancelFloorRequest {
        request: RequestId(rid),
    };
    run(&state, &caller, &SessionId(id), command).map(Json)
}

/// Gives the floor to a request or calls on an endpoint (chair).
#[utoipa::path(post, path = "/api/sessions/{id}/floor/grant", tag = "floor",
    params(("id" = String, Path, description = "Session id")), request_body = GrantBody,
    responses((status = 200, body = Outcome), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn grant(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body<GrantBody>,
) -> Result<Json<Outcome>, AppError> {
    let target = match (body.request_id, body.endpoint) {
        (Some(r), None) => GrantTarget::Request(RequestId(r)),
        (None, Some(e)) => GrantTarget::Endpoint(EndpointCode(e)),
        _ => {
            return Err(AppError::bad_request(
                "invalid_body",
                "give exactly one of request_id and endpoint",
            ))
        }
    };
    run(
        &state,
        &caller,
        &SessionId(id),
        Command::GrantFloor { target },
    )
    .map(Json)
}

/// Turns a pending request down (chair).
#[utoipa::path(post, path = "/api/sessions/{id}/floor/deny", tag = "floor",
    params(("id" = String, Path, description = "Session id")), request_body = DenyBody,
    responses((status = 200, body = Outcome), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn deny(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body<DenyBody>,
) -> Result<Json<Outcome>, AppError> {
    let command = Command::DenyFloor {
        request: RequestId(body.request_id),
    };
    run(&state, &caller, &SessionId(id), command).map(Json)
}

/// Takes the floor back from one holder, or from all (chair).
#[utoipa::path(post, path = "/api/sessions/{id}/floor/revoke", tag = "floor",
    params(("id" = String, Path, description = "Session id")), request_body = EndpointBody,
    responses((status = 200, body = Outcome), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    OptionalBody(body): OptionalBody<EndpointBody>,
) -> Result<Json<Outcome>, AppError> {
    let command = Command::RevokeFloor {
        endpoint: body.endpoint.map(EndpointCode),
    };
    run(&state, &caller, &SessionId(id), command).map(Json)
}

/// Gives the floor back: the holder itself, or the chair naming it.
#[utoipa::path(post, path = "/api/sessions/{id}/floor/release", tag = "floor",
    params(("id" = String, Path, description = "Session id")), request_body = EndpointBody,
    responses((status = 200, body = Outcome), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn release(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    OptionalBody(body): OptionalBody<EndpointBody>,
) -> Result<Json<Outcome>, AppError> {
    let endpoint = match (body.endpoint, caller.own_endpoint()) {
        (Some(e), _) => EndpointCode(e),
        (None, Some(own)) => own.clone(),
        (None, None) => {
            return Err(AppError::bad_request(
                "invalid_body",
                "name the endpoint whose floor is released",
            ))
        }
    };
    run(
        &state,
        &caller,
        &SessionId(id),
        Command::ReleaseFloor { endpoint },
    )
    .map(Json)
}

/// Reorders the queue; must name exactly the pending requests (chair).
#[utoipa::path(put, path = "/api/sessions/{id}/floor/queue", tag = "floor",
    params(("id" = String, Path, description = "Session id")), request_body = QueueBody,
    responses((status = 200, body = Outcome), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn reorder(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body<QueueBody>,
) -> Result<Json<Outcome>, AppError> {
    let command = Command::ReorderQueue {
        order: body.order.into_iter().map(RequestId).collect(),
    };
    run(&state, &caller, &SessionId(id), command).map(Json)
}
