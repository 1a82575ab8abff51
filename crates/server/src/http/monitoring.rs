//! The monitoring surface: `/metrics`, the links and their history, the
//! active alerts, and the two things the WebSocket carries for the
//! monitor (client `stats` reports in, `monitor` events out).
//!
//! Links, history and alerts are for technicians and the chair; a token
//! bound to a session sees that session's links only. `/metrics` takes no
//! token, as Prometheus scrapers expect: it holds counts, never names.

use super::caller::Caller;
use super::error::{AppError, ErrorBody};
use super::extract::Path;
use super::ws::{Context, ServerMessage};
use super::AppState;
use crate::auth::Role;
use crate::control::SessionId;
use crate::media::{PeerId, PeerKind};
use crate::monitor::{Alert, ClientStats, HistoryPoint, LinkId, LinkReport, MonitorEvent};
use crate::service::clock;
use crate::service::monitoring::MonitorUpdate;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use tokio::sync::broadcast;

const READERS: &[Role] = &[Role::Chair, Role::Technician];

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(State(state): State<AppState>) -> Response {
    match state.monitoring.render_metrics() {
        Some(text) => (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        None => AppError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "metrics_unavailable",
            "no metrics recorder is installed in this process",
        )
        .into_response(),
    }
}

/// Every media link: health, active alerts, the latest sample (server-side
/// RTCP merged with the client's report) and the media plane's own figures
/// (chair, technician).
#[utoipa::path(get, path = "/api/links", tag = "links",
    responses((status = 200, body = Vec<Object>), (status = 403, body = ErrorBody)))]
pub async fn links(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<LinkReport>>, AppError> {
    caller.require(READERS, "read the links")?;
    Ok(Json(state.monitoring.links(caller.session.as_ref())))
}

/// `GET /api/links/{id}/history`.
#[derive(Debug, Serialize)]
pub struct HistoryBody {
    /// The link.
    pub link: LinkId,
    /// Its session.
    pub session: SessionId,
    /// One point a second, oldest first, at most 15 minutes.
    pub samples: Vec<HistoryPoint>,
    /// What happened to the link (alerts raised and cleared, changes of
    /// health, link tests), oldest first, as far as the server's log goes.
    pub events: Vec<MonitorEvent>,
}

/// A link's last 15 minutes at one point a second, and its log of alerts
/// and changes of health (chair, technician). An
/// endpoint's link id is `<session>/<code>`, sent percent-encoded
/// (`s1%2F30`).
#[utoipa::path(get, path = "/api/links/{id}/history", tag = "links",
    params(("id" = String, Path, description = "Link id, percent-encoded")),
    responses((status = 200, body = Object), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn history(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<HistoryBody>, AppError> {
    caller.require(READERS, "read link history")?;
    let link = LinkId(id);
    let unknown = || AppError::not_found("unknown_link", format!("no link {link}"));
    let history = state.monitoring.history(&link).ok_or_else(unknown)?;
    // Another session's link does not exist for a token bound to this one.
    if caller
        .session
        .as_ref()
        .is_some_and(|own| own != &history.session)
    {
        return Err(unknown());
    }
    Ok(Json(HistoryBody {
        link,
        session: history.session,
        samples: history.points,
        events: history.events,
    }))
}

/// Active link alerts, worst first within each link (chair, technician).
#[utoipa::path(get, path = "/api/alerts", tag = "links",
    responses((status = 200, body = Vec<Object>), (status = 403, body = ErrorBody)))]
pub async fn alerts(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<Alert>>, AppError> {
    caller.require(READERS, "read the alerts")?;
    Ok(Json(state.monitoring.alerts(caller.session.as_ref())))
}

/// A client's `stats` message, about the socket's own peer connection.
/// Kept for its link's next samples; nothing is answered unless it is
/// refused, so a page reporting every 2 s does not get an acknowledgement
/// every 2 s. A socket that has not offered yet has no link to report on:
/// its report is dropped quietly.
pub fn client_stats(
    ctx: &Context,
    stats: ClientStats,
    peer: Option<&(PeerId, PeerKind)>,
) -> Option<ServerMessage> {
    if let Err(message) = stats.validate() {
        return Some(ServerMessage::error(None, "invalid_stats", message));
    }
    let link = match (peer, &ctx.session) {
        (Some((_, PeerKind::Participant(code))), Some(session)) => LinkId::endpoint(session, code),
        (Some((id, PeerKind::Viewer | PeerKind::Technician)), _) => LinkId::peer(id.to_string()),
        _ => return None,
    };
    if !ctx
        .state
        .monitoring
        .client_report(link, &stats, clock::now())
    {
        tracing::warn!("too many links with client reports; one dropped");
    }
    None
}

/// The monitor's events for this socket: chair and technician sockets get
/// them (restricted to their session when the token is bound to one);
/// others get a subscription that is never polled.
pub fn subscribe(ctx: &Context) -> Option<broadcast::Receiver<MonitorUpdate>> {
    READERS
        .contains(&ctx.caller.role)
        .then(|| ctx.state.monitoring.subscribe())
}

/// The next monitor event this socket may see. Never resolves without a
/// subscription, so it can sit in a `select!` beside the other sources.
pub async fn next_update(
    ctx: &Context,
    updates: &mut Option<broadcast::Receiver<MonitorUpdate>>,
) -> ServerMessage {
    loop {
        let Some(rx) = updates.as_mut() else {
            return std::future::pending().await;
        };
        match rx.recv().await {
            Ok(update) => {
                if ctx
                    .caller
                    .session
                    .as_ref()
                    .is_none_or(|own| own == &update.session)
                {
                    return ServerMessage::Monitor {
                        event: update.event,
                    };
                }
            }
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                // The views are refreshed from GET /api/links; a gap in
                // the live feed is worth a line, not a disconnection.
                tracing::warn!(missed, "a console fell behind on monitor events");
            }
            Err(broadcast::error::RecvError::Closed) => *updates = None,
        }
    }
}
