//! The content token (presentation sharing): asking to present, the
//! chair's grant and revoke, and the presenter stopping. The rules live in
//! control; the roles in [`super::access`].

use super::access::in_scope;
use super::caller::{role_name, Caller};
use super::command::{run, Outcome};
use super::error::{AppError, ErrorBody};
use super::extract::{Body, OptionalBody, Path};
use super::floor::EndpointBody;
use super::sessions::read;
use super::AppState;
use crate::auth::Role;
use crate::control::{Command, EndpointCode, SessionId};
use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use utoipa::ToSchema;

/// `POST .../content/grant`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContentGrantBody {
    /// The new presenter: a connected site, asked or not.
    pub endpoint: String,
}

/// The site a request or release is about: the one named, else the
/// caller's own (an endpoint's site; the chair's room for the chair).
/// Whether the caller may act for it is [`super::access`]'s call.
fn site(
    state: &AppState,
    caller: &Caller,
    id: &SessionId,
    named: Option<String>,
    what: &str,
) -> Result<EndpointCode, AppError> {
    in_scope(caller, id)?;
    if let Some(code) = named {
        return Ok(EndpointCode(code));
    }
    if let Some(own) = caller.own_endpoint() {
        return Ok(own.clone());
    }
    if caller.role != Role::Chair {
        return Err(AppError::forbidden(format!(
            "a {} token may not {what}",
            role_name(caller.role)
        )));
    }
    read(state, caller, id)?
        .central()
        .cloned()
        .ok_or_else(|| AppError::bad_request("invalid_body", "name the endpoint that presents"))
}

/// Asks to present: the site itself, or the chair for its own room. Under
/// `floor_or_chair` the floor holder (while nobody presents) and the
/// chair's room get the token at once; any other request waits for the
/// chair's grant.
#[utoipa::path(post, path = "/api/sessions/{id}/content/request", tag = "content",
    params(("id" = String, Path, description = "Session id")), request_body = EndpointBody,
    responses((status = 200, body = Outcome), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn request(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    OptionalBody(body): OptionalBody<EndpointBody>,
) -> Result<Json<Outcome>, AppError> {
    let id = SessionId(id);
    let endpoint = site(&state, &caller, &id, body.endpoint, "ask to present")?;
    run(&state, &caller, &id, Command::RequestContent { endpoint }).map(Json)
}

/// Gives the token to a connected site, asked or not; the current
/// presenter loses it (chair). With `content_ends_with_floor` only the
/// floor holder or the chair's room may be given it.
#[utoipa::path(post, path = "/api/sessions/{id}/content/grant", tag = "content",
    params(("id" = String, Path, description = "Session id")), request_body = ContentGrantBody,
    responses((status = 200, body = Outcome), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn grant(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body<ContentGrantBody>,
) -> Result<Json<Outcome>, AppError> {
    let command = Command::GrantContent {
        endpoint: EndpointCode(body.endpoint),
    };
    run(&state, &caller, &SessionId(id), command).map(Json)
}

/// Takes the token back from the presenter; naming a site whose request
/// waits turns that request down instead (chair).
#[utoipa::path(post, path = "/api/sessions/{id}/content/revoke", tag = "content",
    params(("id" = String, Path, description = "Session id")), request_body = EndpointBody,
    responses((status = 200, body = Outcome), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    OptionalBody(body): OptionalBody<EndpointBody>,
) -> Result<Json<Outcome>, AppError> {
    let command = Command::RevokeContent {
        endpoint: body.endpoint.map(EndpointCode),
    };
    run(&state, &caller, &SessionId(id), command).map(Json)
}

/// Stops presenting, or withdraws a waiting request: the site itself, or
/// the chair for its own room.
#[utoipa::path(post, path = "/api/sessions/{id}/content/release", tag = "content",
    params(("id" = String, Path, description = "Session id")), request_body = EndpointBody,
    responses((status = 200, body = Outcome), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn release(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    OptionalBody(body): OptionalBody<EndpointBody>,
) -> Result<Json<Outcome>, AppError> {
    let id = SessionId(id);
    let endpoint = site(&state, &caller, &id, body.endpoint, "stop presenting")?;
    run(&state, &caller, &id, Command::ReleaseContent { endpoint }).map(Json)
}
