//! The thin HTTP edge: authenticates, turns requests into commands, and
//! streams events. Handlers only extract, call the core, and map the
//! result; the role rules live in [`access`], the error shape in [`error`].
//!
//! `app(state)` builds the whole router, so tests can drive it with
//! `oneshot` without a socket.

pub mod access;
pub mod caller;
pub mod command;
mod consoles;
mod content;
pub mod error;
pub mod extract;
mod floor;
mod link_test;
mod links;
mod minutes;
pub mod monitoring;
pub mod openapi;
pub mod rate;
mod recording;
mod registry;
mod request_log;
mod rollcall;
mod schemas;
mod sessions;
mod settings;
pub mod view;
mod whip;
pub mod ws;

#[cfg(test)]
mod tests;

pub use error::AppError;

use crate::auth::IceServers;
use crate::auth::Keys;
use crate::config::{Limits, Registry};
use crate::control::Rules;
use crate::media::MediaPlane;
use crate::service::monitoring::Monitoring;
use crate::service::Core;
use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post, put, MethodRouter};
use axum::Router;
use std::sync::Arc;
use tokio::sync::watch;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// Sessions, store and publication.
    pub core: Arc<Core>,
    /// Token keys.
    pub keys: Arc<Keys>,
    /// The endpoint registry.
    pub registry: Arc<Registry>,
    /// Rules for new sessions.
    pub rules: Rules,
    /// Size limits.
    pub limits: Limits,
    /// Turns true when the server stops; long-lived connections end.
    pub shutdown: watch::Receiver<bool>,
    /// The SFU.
    pub media: MediaPlane,
    /// STUN/TURN servers handed to browsers in `welcome` and to WHIP/WHEP
    /// clients in `Link` headers, TURN credentials minted per client.
    pub ice_servers: Arc<IceServers>,
    /// Link health, alerts, history, link tests and the metrics handle.
    pub monitoring: Arc<Monitoring>,
    /// How fast each caller may run commands.
    pub command_rate: Arc<rate::CommandRate>,
    /// Where the media plane writes recordings (a folder per session).
    pub recordings: Arc<std::path::PathBuf>,
    /// The data dir: the minutes' signing key lives there.
    pub data_dir: Arc<std::path::PathBuf>,
}

/// The whole router.
pub fn app(state: AppState) -> Router {
    let body_limit = state.limits.max_body_bytes;
    let mut router = described_routes()
        .into_iter()
        .fold(Router::new(), |router, (path, route)| {
            router.route(&path, route)
        })
        // Not in the OpenAPI document: the document itself, Prometheus'
        // text format, the WebSocket (docs/architecture.md) and the consoles.
        .route("/api/openapi.json", get(openapi::serve))
        .route("/metrics", get(monitoring::metrics))
        .route("/ws", get(ws::upgrade));
    for folder in consoles::FOLDERS {
        let (index, file) = consoles::folder(folder);
        router = router
            .route(&format!("/{folder}"), get(index.clone()))
            .route(&format!("/{folder}/"), get(index))
            .route(&format!("/{folder}/{{*path}}"), get(file));
    }
    router
        .route("/web/{*path}", get(consoles::any_file))
        .fallback(|| async { AppError::not_found("not_found", "no such route") })
        .method_not_allowed_fallback(|| async {
            AppError::new(
                axum::http::StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this route does not take that method",
            )
        })
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(
            tower_http::trace::TraceLayer::new_for_http().make_span_with(request_log::request_span),
        )
        .with_state(state)
}

/// Every route the OpenAPI document describes, as mounted. A test holds
/// this list and the document together, so neither can gain a route the
/// other lacks.
fn described_routes() -> Vec<(String, MethodRouter<AppState>)> {
    let s = "/api/sessions/{id}";
    let sdp_limit = || DefaultBodyLimit::max(whip::MAX_SDP_BYTES);
    vec![
        ("/healthz".into(), get(registry::healthz)),
        ("/api/endpoints".into(), get(registry::list)),
        ("/api/links".into(), get(monitoring::links)),
        ("/api/links/{id}/history".into(), get(monitoring::history)),
        ("/api/alerts".into(), get(monitoring::alerts)),
        (format!("{s}/link-tests"), get(link_test::list)),
        (
            format!("{s}/endpoints/{{code}}/link-test"),
            post(link_test::start),
        ),
        (
            "/api/sessions".into(),
            get(sessions::list).post(sessions::create),
        ),
        (s.into(), get(sessions::get)),
        (format!("{s}/open"), post(sessions::open)),
        (format!("{s}/start"), post(sessions::start)),
        (format!("{s}/end"), post(sessions::end)),
        (format!("{s}/attendance"), get(sessions::attendance)),
        (format!("{s}/speaking-log"), get(minutes::speaking_log)),
        (format!("{s}/minutes.pdf"), get(minutes::pdf)),
        (format!("{s}/minutes.pdf.sig"), get(minutes::signature)),
        ("/api/minutes/public-key".into(), get(minutes::public_key)),
        (format!("{s}/rollcall"), post(rollcall::start)),
        (format!("{s}/rollcall/confirm"), post(rollcall::confirm)),
        (format!("{s}/rollcall/close"), post(rollcall::close)),
        (format!("{s}/floor"), get(floor::get)),
        (format!("{s}/floor/requests"), post(floor::request)),
        (format!("{s}/floor/requests/{{rid}}"), delete(floor::cancel)),
        (format!("{s}/floor/grant"), post(floor::grant)),
        (format!("{s}/floor/deny"), post(floor::deny)),
        (format!("{s}/floor/revoke"), post(floor::revoke)),
        (format!("{s}/floor/release"), post(floor::release)),
        (format!("{s}/floor/queue"), put(floor::reorder)),
        (format!("{s}/content/request"), post(content::request)),
        (format!("{s}/content/grant"), post(content::grant)),
        (format!("{s}/content/revoke"), post(content::revoke)),
        (format!("{s}/content/release"), post(content::release)),
        (format!("{s}/recording/start"), post(recording::start)),
        (format!("{s}/recording/stop"), post(recording::stop)),
        (format!("{s}/recordings"), get(recording::list)),
        (format!("{s}/recordings/{{name}}"), get(recording::download)),
        (format!("{s}/mode"), put(settings::mode)),
        (format!("{s}/speaking-limit"), put(settings::speaking_limit)),
        (
            format!("{s}/endpoints/{{code}}/representative"),
            put(settings::representative),
        ),
        (format!("{s}/endpoints/{{code}}/mute"), put(settings::mute)),
        (
            format!("{s}/endpoints/{{code}}/connect"),
            post(links::connect),
        ),
        (
            format!("{s}/endpoints/{{code}}/disconnect"),
            post(links::disconnect),
        ),
        (format!("{s}/endpoints/{{code}}/leave"), post(links::leave)),
        ("/whip/{id}".into(), post(whip::publish).layer(sdp_limit())),
        (
            "/whip/{id}/{peer}".into(),
            delete(whip::end_publish).patch(whip::publish_no_trickle),
        ),
        ("/whep/{id}".into(), post(whip::view).layer(sdp_limit())),
        (
            "/whep/{id}/{peer}".into(),
            delete(whip::end_view).patch(whip::view_no_trickle),
        ),
    ]
}
