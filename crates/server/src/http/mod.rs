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
use axum::routing::get;
use axum::Router;
use std::sync::Arc;
use tokio::sync::watch;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

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
    let (router, document) = described_routes().split_for_parts();
    let document = Arc::new(document);
    let mut router = router
        // Not in the OpenAPI document: the document itself, Prometheus'
        // text format, the WebSocket (docs/architecture.md) and the consoles.
        .route(
            "/api/openapi.json",
            get(move || openapi::serve(document.clone())),
        )
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

/// Every route the OpenAPI document describes. Each handler is named once:
/// its `#[utoipa::path]` gives the router its path and methods and the
/// document its operation, so neither can gain a route the other lacks.
/// Handlers grouped in one `routes!` share one path.
fn described_routes() -> OpenApiRouter<AppState> {
    let sdp_limit = || DefaultBodyLimit::max(whip::MAX_SDP_BYTES);
    OpenApiRouter::with_openapi(openapi::base())
        .routes(routes!(registry::healthz))
        .routes(routes!(registry::list))
        .routes(routes!(monitoring::links))
        .routes(routes!(monitoring::history))
        .routes(routes!(monitoring::alerts))
        .routes(routes!(link_test::list))
        .routes(routes!(link_test::start))
        .routes(routes!(sessions::list, sessions::create))
        .routes(routes!(sessions::get))
        .routes(routes!(sessions::open))
        .routes(routes!(sessions::start))
        .routes(routes!(sessions::end))
        .routes(routes!(sessions::attendance))
        .routes(routes!(minutes::speaking_log))
        .routes(routes!(minutes::pdf))
        .routes(routes!(minutes::signature))
        .routes(routes!(minutes::public_key))
        .routes(routes!(rollcall::start))
        .routes(routes!(rollcall::confirm))
        .routes(routes!(rollcall::close))
        .routes(routes!(floor::get))
        .routes(routes!(floor::request))
        .routes(routes!(floor::cancel))
        .routes(routes!(floor::grant))
        .routes(routes!(floor::deny))
        .routes(routes!(floor::revoke))
        .routes(routes!(floor::release))
        .routes(routes!(floor::reorder))
        .routes(routes!(content::request))
        .routes(routes!(content::grant))
        .routes(routes!(content::revoke))
        .routes(routes!(content::release))
        .routes(routes!(recording::start))
        .routes(routes!(recording::stop))
        .routes(routes!(recording::list))
        .routes(routes!(recording::download))
        .routes(routes!(settings::mode))
        .routes(routes!(settings::speaking_limit))
        .routes(routes!(settings::representative))
        .routes(routes!(settings::mute))
        .routes(routes!(links::connect))
        .routes(routes!(links::disconnect))
        .routes(routes!(links::leave))
        .routes(routes!(whip::publish).layer(sdp_limit()))
        .routes(routes!(whip::end_publish, whip::publish_no_trickle))
        .routes(routes!(whip::view).layer(sdp_limit()))
        .routes(routes!(whip::end_view, whip::view_no_trickle))
}
