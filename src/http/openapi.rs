//! `GET /api/openapi.json`: the REST surface and WHIP/WHEP, generated from
//! the handlers' annotations. The routes mounted in `app` and the paths
//! here are compared by a test, so the two cannot drift apart.

use super::{
    command, content, error, floor, link_test, links, minutes, monitoring, recording, registry,
    rollcall, schemas, sessions, settings, view, whip,
};
use crate::{report, speaking_log};
use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

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

#[derive(OpenApi)]
#[openapi(
    info(
        title = "diemcau",
        description = "Videoconference bridge for chaired national meetings: sessions, attendance, roll call, the floor and presentation sharing.\n\nErrors are `{\"error\": code, \"message\": text}`: 400 bad JSON or values, 401 missing/expired/forged token, 403 role not allowed, 404 unknown session/endpoint/request, 409 wrong state (the control plane's reason code), 413 too large, 415 not JSON, 422 value out of range."
    ),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    paths(
        sessions::list, sessions::create, sessions::get,
        sessions::open, sessions::start, sessions::end, sessions::attendance,
        minutes::speaking_log, minutes::pdf, minutes::signature, minutes::public_key,
        rollcall::start, rollcall::confirm, rollcall::close,
        floor::get, floor::request, floor::cancel, floor::grant, floor::deny,
        floor::revoke, floor::release, floor::reorder,
        content::request, content::grant, content::revoke, content::release,
        recording::start, recording::stop, recording::list, recording::download,
        settings::mode, settings::speaking_limit, settings::representative, settings::mute,
        monitoring::links, monitoring::history, monitoring::alerts,
        link_test::start, link_test::list,
        links::connect, links::disconnect, links::leave,
        registry::list, registry::healthz,
        whip::publish, whip::end_publish, whip::publish_no_trickle,
        whip::view, whip::end_view, whip::view_no_trickle,
    ),
    components(schemas(
        error::ErrorBody, command::Outcome,
        sessions::CreateSession, view::SessionSummary, view::PublicSession, view::PublicEndpoint,
        floor::RequestBody, floor::GrantBody, floor::DenyBody, floor::EndpointBody, floor::QueueBody,
        content::ContentGrantBody, recording::RecordingFile,
        rollcall::StartBody, link_test::LinkTestBody,
        settings::ModeBody, settings::SpeakingLimitBody, settings::RepresentativeBody,
        settings::MuteBody,
        registry::EndpointEntry, report::AttendanceReport, report::AttendanceRow,
        speaking_log::SpeakingLog, speaking_log::Turn, speaking_log::Presentation,
        speaking_log::ModeChange, speaking_log::RollCallRound, speaking_log::RecordingSpan,
        crate::minutes::MinutesSignature, crate::minutes::signature::PublicKeyBody,
        schemas::SessionSchema, schemas::FloorStateSchema, schemas::ContentStateSchema,
        schemas::EventSchema, schemas::CommandSchema,
    )),
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

/// The OpenAPI document.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// `GET /api/openapi.json`.
pub async fn serve() -> Json<utoipa::openapi::OpenApi> {
    Json(document())
}
