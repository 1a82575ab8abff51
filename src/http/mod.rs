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
pub mod error;
pub mod extract;
mod floor;
mod link_test;
mod links;
pub mod monitoring;
pub mod openapi;
mod registry;
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

use crate::auth::Keys;
use crate::config::{IceServer, Limits, Registry};
use crate::control::Rules;
use crate::media::MediaPlane;
use crate::server::monitoring::Monitoring;
use crate::server::Core;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post, put};
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
    /// STUN/TURN servers handed to browsers in `welcome`.
    pub ice_servers: Arc<Vec<IceServer>>,
    /// Link health, alerts, history, link tests and the metrics handle.
    pub monitoring: Arc<Monitoring>,
}

/// The whole router.
pub fn app(state: AppState) -> Router {
    let body_limit = state.limits.max_body_bytes;
    let s = "/api/sessions/{id}";
    let mut router = Router::new()
        .route("/healthz", get(registry::healthz))
        .route("/api/openapi.json", get(openapi::serve))
        .route("/api/endpoints", get(registry::list))
        .route("/metrics", get(monitoring::metrics))
        .route("/api/links", get(monitoring::links))
        .route("/api/links/{id}/history", get(monitoring::history))
        .route("/api/alerts", get(monitoring::alerts))
        .route(&format!("{s}/link-tests"), get(link_test::list))
        .route(
            &format!("{s}/endpoints/{{code}}/link-test"),
            post(link_test::start),
        )
        .route("/api/sessions", get(sessions::list).post(sessions::create))
        .route(s, get(sessions::get))
        .route(&format!("{s}/open"), post(sessions::open))
        .route(&format!("{s}/start"), post(sessions::start))
        .route(&format!("{s}/end"), post(sessions::end))
        .route(&format!("{s}/attendance"), get(sessions::attendance))
        .route(&format!("{s}/rollcall"), post(rollcall::start))
        .route(&format!("{s}/rollcall/confirm"), post(rollcall::confirm))
        .route(&format!("{s}/rollcall/close"), post(rollcall::close))
        .route(&format!("{s}/floor"), get(floor::get))
        .route(&format!("{s}/floor/requests"), post(floor::request))
        .route(
            &format!("{s}/floor/requests/{{rid}}"),
            axum::routing::delete(floor::cancel),
        )
        .route(&format!("{s}/floor/grant"), post(floor::grant))
        .route(&format!("{s}/floor/deny"), post(floor::deny))
        .route(&format!("{s}/floor/revoke"), post(floor::revoke))
        .route(&format!("{s}/floor/release"), post(floor::release))
        .route(&format!("{s}/floor/queue"), put(floor::reorder))
        .route(&format!("{s}/mode"), put(settings::mode))
        .route(
            &format!("{s}/speaking-limit"),
            put(settings::speaking_limit),
        )
        .route(
            &format!("{s}/endpoints/{{code}}/representative"),
            put(settings::representative),
        )
        .route(&format!("{s}/endpoints/{{code}}/mute"), put(settings::mute))
        .route(
            &format!("{s}/endpoints/{{code}}/connect"),
            post(links::connect),
        )
        .route(
            &format!("{s}/endpoints/{{code}}/disconnect"),
            post(links::disconnect),
        )
        .route(&format!("{s}/endpoints/{{code}}/leave"), post(links::leave))
        .route("/ws", get(ws::upgrade))
        .route(
            "/whip/{id}",
            post(whip::publish).layer(DefaultBodyLimit::max(whip::MAX_SDP_BYTES)),
        )
        .route(
            "/whip/{id}/{peer}",
            axum::routing::delete(whip::end).patch(whip::no_trickle),
        )
        .route(
            "/whep/{id}",
            post(whip::view).layer(DefaultBodyLimit::max(whip::MAX_SDP_BYTES)),
        )
        .route(
            "/whep/{id}/{peer}",
            axum::routing::delete(whip::end).patch(whip::no_trickle),
        );
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
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}
