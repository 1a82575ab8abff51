//! `GET /api/openapi.json`: the REST surface and WHIP/WHEP. The paths and
//! operations come from the handlers' `#[utoipa::path]` annotations as the
//! router mounts them (`super::described_routes`); the schemas are derived
//! from the types themselves, the control plane's included (its `openapi`
//! feature), so they follow the serde attributes that shape the wire.

use crate::control::Command;
use axum::Json;
use std::sync::Arc;
use utoipa::openapi::schema::Schema;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::RefOr;
use utoipa::{Modify, OpenApi};

/// Commands the server applies to itself and refuses from any client: the
/// timer's `tick` and the media plane's report of a failed recording.
pub const SERVER_COMMANDS: &[&str] = &["tick", "recording_failed"];

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The `Command` schema describes what a client may send on the WebSocket,
/// so the commands only the server applies are taken out of it.
struct ClientCommands;

impl Modify for ClientCommands {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let schemas = openapi.components.as_mut().map(|c| &mut c.schemas);
        let Some(RefOr::T(Schema::OneOf(command))) = schemas.and_then(|s| s.get_mut("Command"))
        else {
            return;
        };
        command
            .items
            .retain(|variant| !command_names(variant).any(|name| SERVER_COMMANDS.contains(&name)));
    }
}

/// The `command` tag values one variant of the `Command` schema allows.
pub fn command_names(variant: &RefOr<Schema>) -> impl Iterator<Item = &str> {
    let tag = match variant {
        RefOr::T(Schema::Object(object)) => object.properties.get("command"),
        _ => None,
    };
    let values = match tag {
        Some(RefOr::T(Schema::Object(tag))) => tag.enum_values.as_deref(),
        _ => None,
    };
    values.unwrap_or_default().iter().filter_map(|v| v.as_str())
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "diemcau",
        description = "Videoconference bridge for chaired national meetings: sessions, attendance, roll call, the floor and presentation sharing.\n\nErrors are `{\"error\": code, \"message\": text}`: 400 bad JSON or values, 401 missing/expired/forged token, 403 role not allowed, 404 unknown session/endpoint/request, 409 wrong state (the control plane's reason code), 413 too large, 415 not JSON, 422 value out of range.\n\nThe WebSocket (`/ws`) carries the same commands (`Command`) and events (`Event`) as the REST calls."
    ),
    modifiers(&BearerAuth, &ClientCommands),
    security(("bearer" = [])),
    // What no route's body names: the WebSocket's commands, and the
    // session as a viewer sees it.
    components(schemas(Command, super::view::PublicSession)),
    tags(
        (name = "sessions", description = "Create and run sessions; the attendance report and the speaking log"),
        (name = "minutes", description = "The minutes (biên bản) as PDF, their Ed25519 signature over the PDF and the event log, and the public key that checks it"),
        (name = "rollcall", description = "Roll call"),
        (name = "floor", description = "Floor requests, grants and the queue"),
        (name = "recording", description = "The programme's recording: started and stopped by the chair, WebM files listed and downloaded by the chair and technicians"),
        (name = "content", description = "Presentation sharing: the content token (one presenter at a time, whose second video fills every site's content slot)"),
        (name = "settings", description = "Mode, speaking limit, muting a site, representatives"),
        (name = "links", description = "Media links and the manual link override"),
        (name = "media", description = "WHIP (RFC 9725) publishing and WHEP viewing: an `application/sdp` offer in, the answer out; DELETE the `Location` to end"),
        (name = "endpoints", description = "The endpoint registry"),
        (name = "health", description = "Liveness"),
    )
)]
struct ApiDoc;

/// What the document says besides the routes: title, security, tags and
/// the schemas no route names. The routes add themselves to it.
pub(super) fn base() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The OpenAPI document, as `/api/openapi.json` serves it.
pub fn document() -> utoipa::openapi::OpenApi {
    super::described_routes().into_openapi()
}

/// `GET /api/openapi.json`: the document built with the router.
pub async fn serve(document: Arc<utoipa::openapi::OpenApi>) -> Json<utoipa::openapi::OpenApi> {
    Json(document.as_ref().clone())
}

#[cfg(test)]
mod tests;
