//! WHIP ingest (RFC 9725) and WHEP egress: one SDP offer in, one answer
//! out, `DELETE` on the returned `Location` to end.
//!
//! - `POST /whip/{session}` (endpoint or chair token) publishes that
//!   endpoint's media, or the central site's for the chair; it receives
//!   the `chair` and `floor` slots like a browser would.
//! - `POST /whep/{session}` (viewer, chair or technician token) receives
//!   the programme.
//!
//! Neither is ever renegotiated (no tiles for a WHIP chair, no ICE restart)
//! and neither trickles: the answer carries the server's one candidate.
//! A second WHIP publisher for an endpoint that already has a live peer is
//! refused (409 `already_publishing`) instead of cutting the first off.

use super::access::in_scope;
use super::caller::{role_name, Caller};
use super::error::{AppError, ErrorBody};
use super::extract::Path;
use super::AppState;
use crate::auth::Role;
use crate::control::{Phase, SessionId};
use crate::media::{MediaError, PeerId, PeerKind, SignalPath};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

/// Largest SDP offer taken. An offer grows with its m-lines and codecs; a
/// browser's runs to a few KiB, well above the limit on JSON bodies.
pub const MAX_SDP_BYTES: usize = 64 * 1024;

// What the OpenAPI document says of both resources, in one place so WHIP
// and WHEP cannot come to describe the same behaviour differently.
const OFFER: &str = "The SDP offer, complete (candidates gathered; no trickle), up to 64 KiB";
const ANSWER: &str = "The SDP answer; it carries the server's one candidate";
const UNAUTHORIZED: &str = "`missing_token`, `invalid_token`, `token_expired`";
const UNSUPPORTED: &str = "`unsupported_media_type`: send `Content-Type: application/sdp`";
const UNAVAILABLE: &str = "`media_unavailable`: the media plane is not running";
const BAD_OFFER: &str =
    "`malformed_sdp`: not an SDP offer; `unacceptable_sdp`: an offer the WebRTC stack refused";
const TOO_LARGE: &str = "`payload_too_large`: the offer is over 64 KiB; `too_many_media_lines`: more m-lines than `[media] max_media_lines`";
const TOO_MANY: &str =
    "`too_many_connections`: a media connection limit of the server or the session is reached";

/// The status and code a media-plane error is answered with.
pub(crate) fn media_error(e: MediaError) -> AppError {
    match e {
        MediaError::Malformed { .. } => AppError::bad_request("malformed_sdp", e.to_string()),
        MediaError::Negotiation(_) => AppError::bad_request("unacceptable_sdp", e.to_string()),
        MediaError::AlreadyPublishing(_) => {
            AppError::new(StatusCode::CONFLICT, "already_publishing", e.to_string())
        }
        MediaError::UnknownPeer => AppError::not_found("unknown_peer", e.to_string()),
        MediaError::TooMany(_) => AppError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_connections",
            e.to_string(),
        ),
        MediaError::TooLarge(_) => AppError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_many_media_lines",
            e.to_string(),
        ),
        MediaError::InvalidState(_) => {
            AppError::new(StatusCode::CONFLICT, "invalid_state", e.to_string())
        }
        MediaError::Bind(_) | MediaError::Stopped => AppError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "media_unavailable",
            e.to_string(),
        ),
    }
}

/// Publishes a site's media over WHIP (RFC 9725): the endpoint token's own
/// site, or the central site for a chair token. The publisher also
/// receives the `chair` and `floor` slots for the lines it offers.
#[utoipa::path(post, path = "/whip/{id}", tag = "media",
    params(("id" = String, Path, description = "Session id")),
    request_body(content = String, content_type = "application/sdp", description = OFFER),
    responses(
        (status = 201, description = ANSWER, body = String, content_type = "application/sdp",
            headers(("Location" = String, description = "`/whip/{id}/{peer}`: DELETE it to end the connection"))),
        (status = 400, description = BAD_OFFER, body = ErrorBody),
        (status = 401, description = UNAUTHORIZED, body = ErrorBody),
        (status = 403, description = "A role other than endpoint or chair, or a token bound to another session", body = ErrorBody),
        (status = 404, description = "`unknown_session`", body = ErrorBody),
        (status = 409, description = "`already_publishing`: the site already has a live connection, which is kept; `wrong_phase`: the session has ended", body = ErrorBody),
        (status = 413, description = TOO_LARGE, body = ErrorBody),
        (status = 429, description = TOO_MANY, body = ErrorBody),
        (status = 415, description = UNSUPPORTED, body = ErrorBody),
        (status = 503, description = UNAVAILABLE, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn publish(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, AppError> {
    let kind = match caller.role {
        Role::Endpoint => caller
            .own_endpoint()
            .cloned()
            .map(PeerKind::Participant)
            .ok_or_else(|| AppError::forbidden("an endpoint token must name its endpoint"))?,
        Role::Chair => PeerKind::Participant(state.registry.central().code.clone()),
        other => {
            return Err(AppError::forbidden(format!(
                "a {} token may not publish over WHIP",
                role_name(other)
            )))
        }
    };
    negotiate(&state, &caller, "whip", SessionId(id), kind, &headers, body).await
}

/// Receives the programme over WHEP: offer two audio and two video lines
/// for the `chair` and `floor` slots (with fewer, they are filled in that
/// order). Viewer, chair or technician tokens.
#[utoipa::path(post, path = "/whep/{id}", tag = "media",
    params(("id" = String, Path, description = "Session id")),
    request_body(content = String, content_type = "application/sdp", description = OFFER),
    responses(
        (status = 201, description = ANSWER, body = String, content_type = "application/sdp",
            headers(("Location" = String, description = "`/whep/{id}/{peer}`: DELETE it to end the connection"))),
        (status = 400, description = BAD_OFFER, body = ErrorBody),
        (status = 401, description = UNAUTHORIZED, body = ErrorBody),
        (status = 403, description = "A role other than viewer, chair or technician, or a token bound to another session", body = ErrorBody),
        (status = 404, description = "`unknown_session`", body = ErrorBody),
        (status = 409, description = "`wrong_phase`: the session has ended", body = ErrorBody),
        (status = 413, description = TOO_LARGE, body = ErrorBody),
        (status = 429, description = TOO_MANY, body = ErrorBody),
        (status = 415, description = UNSUPPORTED, body = ErrorBody),
        (status = 503, description = UNAVAILABLE, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn view(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, AppError> {
    caller.require(
        &[Role::Viewer, Role::Chair, Role::Technician],
        "view over WHEP",
    )?;
    // A WHEP connection is never renegotiated, so it cannot take tiles:
    // whatever the token, it gets the programme.
    let kind = PeerKind::Viewer;
    negotiate(&state, &caller, "whep", SessionId(id), kind, &headers, body).await
}

async fn negotiate(
    state: &AppState,
    caller: &Caller,
    base: &str,
    id: SessionId,
    kind: PeerKind,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, AppError> {
    if !is_sdp(headers) {
        return Err(AppError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the offer as Content-Type: application/sdp",
        ));
    }
    in_scope(caller, &id)?;
    let session = state
        .core
        .session(&id)
        .ok_or_else(|| AppError::not_found("unknown_session", format!("no session {id}")))?;
    if session.phase == Phase::Ended {
        return Err(AppError::new(
            StatusCode::CONFLICT,
            "wrong_phase",
            format!("session {id} has ended"),
        ));
    }
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            AppError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "the offer is larger than the server accepts",
            )
        } else {
            AppError::bad_request("unreadable_body", e.body_text())
        }
    })?;
    let offer = std::str::from_utf8(&body)
        .ok()
        .filter(|s| s.trim_start().starts_with("v=0"))
        .ok_or_else(|| {
            AppError::bad_request("malformed_sdp", "the body is not an SDP offer (v=0 …)")
        })?;
    let (peer, answer, _signals) = state
        .media
        .accept_offer_via(&id, kind, offer, SignalPath::Http, Some(caller.owner))
        .await
        .map_err(media_error)?;
    tracing::info!(session = %id, %peer, endpoint = base, "WHIP/WHEP peer created");
    let mut response = (
        StatusCode::CREATED,
        [
            (header::CONTENT_TYPE, "application/sdp".to_string()),
            (header::LOCATION, format!("/{base}/{id}/{peer}")),
        ],
        answer,
    )
        .into_response();
    for link in ice_server_links(&caller.ice_servers(state)) {
        if let Ok(value) = header::HeaderValue::from_str(&link) {
            response.headers_mut().append(header::LINK, value);
        }
    }
    Ok(response)
}

/// The STUN/TURN servers as RFC 9725 (section 4.6) `Link` header values:
/// `<turn:host:3478?transport=tcp>; rel="ice-server"; username="…";
/// credential="…"; credential-type="password"`, one per URL.
fn ice_server_links(servers: &[crate::config::IceServer]) -> Vec<String> {
    let quoted = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
    let mut out = Vec::new();
    for server in servers {
        for url in &server.urls {
            let mut link = format!("<{url}>; rel=\"ice-server\"");
            if let (Some(user), Some(pass)) = (&server.username, &server.credential) {
                link.push_str(&format!(
                    "; username=\"{}\"; credential=\"{}\"; credential-type=\"password\"",
                    quoted(user),
                    quoted(pass)
                ));
            }
            out.push(link);
        }
    }
    out
}

fn is_sdp(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/sdp"))
}

/// `DELETE` and `PATCH` on a WHIP or WHEP connection's resource. The two
/// routes share their handlers; each gets its own pair here so the OpenAPI
/// document describes both.
macro_rules! resource {
    ($end:ident, $no_trickle:ident, $path:literal, $end_doc:literal, $patch_doc:literal) => {
        #[doc = $end_doc]
        #[utoipa::path(delete, path = $path, tag = "media",
            params(("id" = String, Path, description = "Session id"),
                ("peer" = String, Path, description = "Peer id, from the `Location` of the 201")),
            responses((status = 200, description = "Ended"),
                (status = 401, description = UNAUTHORIZED, body = ErrorBody),
                (status = 403, description = "The token may not end that connection, or is bound to another session", body = ErrorBody),
                (status = 404, description = "`unknown_peer`: no such connection in this session", body = ErrorBody),
                (status = 503, description = UNAVAILABLE, body = ErrorBody)),
            security(("bearer" = [])))]
        pub async fn $end(
            state: State<AppState>,
            caller: Caller,
            path: Path<(String, String)>,
        ) -> Result<StatusCode, AppError> {
            end(state, caller, path).await
        }

        #[doc = $patch_doc]
        #[utoipa::path(patch, path = $path, tag = "media",
            params(("id" = String, Path, description = "Session id"),
                ("peer" = String, Path, description = "Peer id")),
            responses((status = 405, description = "`trickle_unsupported`", body = ErrorBody)),
            security(()))]
        pub async fn $no_trickle() -> AppError {
            no_trickle()
        }
    };
}

resource!(
    end_publish,
    publish_no_trickle,
    "/whip/{id}/{peer}",
    "Ends a WHIP connection; its site then has `left`. An endpoint token may end only its own site's connection; chair and technician tokens any.",
    "Trickle and ICE restarts on a WHIP connection: never taken, the answer already holds the server's only candidate."
);
resource!(
    end_view,
    view_no_trickle,
    "/whep/{id}/{peer}",
    "Ends a WHEP connection. A viewer token may end only a viewer; chair and technician tokens any.",
    "Trickle and ICE restarts on a WHEP connection: never taken, the answer already holds the server's only candidate."
);

/// Ends the peer. A publisher's site leaves the session. An endpoint token
/// may end only its own peer, a viewer token only a viewer.
async fn end(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, peer)): Path<(String, String)>,
) -> Result<StatusCode, AppError> {
    let id = SessionId(id);
    in_scope(&caller, &id)?;
    let unknown = || AppError::not_found("unknown_peer", "no such peer in this session");
    let peer: PeerId = peer.parse().map_err(|_| unknown())?;
    let (session, kind) = state.media.peer(&peer).await.map_err(|_| unknown())?;
    if session != id {
        return Err(unknown());
    }
    let allowed = match (caller.role, &kind) {
        (Role::Chair | Role::Technician, _) => true,
        (Role::Endpoint, PeerKind::Participant(code)) => caller.own_endpoint() == Some(code),
        (Role::Viewer, PeerKind::Viewer) => true,
        _ => false,
    };
    if !allowed {
        return Err(AppError::forbidden("this token may not end that peer"));
    }
    state.media.close(&peer).await.map_err(media_error)?;
    Ok(StatusCode::OK)
}

/// Trickle and ICE restarts are not offered (the answer already holds the
/// server's only candidate).
fn no_trickle() -> AppError {
    AppError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "trickle_unsupported",
        "this server does not take trickled candidates or ICE restarts over WHIP/WHEP",
    )
}
