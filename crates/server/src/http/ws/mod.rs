//! `GET /ws?token=…[&session=ID]`: live events and commands.
//!
//! The socket follows one session: the one named, else the token's, else
//! the newest that has not ended (none if there is none yet; reconnect
//! once a session exists). It sends `welcome`, then a `snapshot` of what
//! the role may see, then every `event`; it takes `command`s (same commands
//! and role checks as REST), answered `ok` or `error` with the client's id.
//!
//! The token is checked at the upgrade and then held to: when it expires
//! the socket is sent `token_expired` and closed, unless the page renewed
//! it with `refresh` first. Each socket may send `[limits]
//! ws_messages_per_sec` messages a second (bursts of `ws_burst`); the rest
//! are answered `rate_limited`, and a socket that keeps flooding is closed.

mod lease;
mod message;
mod signal;
mod socket;
mod throttle;

pub use message::{ClientMessage, ServerMessage};
pub use socket::{serve, serve_token, Context};

use super::access::in_scope;
use super::caller::Caller;
use super::error::AppError;
use super::extract::Query;
use super::AppState;
use crate::control::SessionId;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::State;
use axum::response::Response;
use futures::StreamExt;
use serde::Deserialize;

/// The query of `/ws`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WsQuery {
    /// The token (browsers cannot set headers on a WebSocket).
    pub token: Option<String>,
    /// The session to follow.
    pub session: Option<String>,
}

/// Messages larger than this are cut off by the transport and the socket
/// closed: that is abuse. Messages between the configured limit and this
/// get an `error` answer and the socket stays usable, except SDP, which may
/// use all of it: the chair's answer carries two m-lines per site, about
/// 70 KiB from the test peers with 63 provinces, more from a browser.
fn transport_limit(configured: usize) -> usize {
    configured.saturating_mul(4).max(256 * 1024)
}

/// Authenticates, picks the session, and upgrades.
pub async fn upgrade(
    State(state): State<AppState>,
    Query(query): Query<WsQuery>,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Result<Response, AppError> {
    let token = query
        .token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| AppError::unauthorized("missing_token", "connect with ?token=<token>"))?;
    let (caller, claims) = Caller::from_token_with_claims(&state, &token)?;
    let session = match query
        .session
        .map(SessionId)
        .or_else(|| caller.session.clone())
    {
        Some(id) => {
            in_scope(&caller, &id)?;
            if state.core.session(&id).is_none() {
                return Err(AppError::not_found(
                    "unknown_session",
                    format!("no session {id}"),
                ));
            }
            Some(id)
        }
        None => state.core.current(),
    };
    let ws = ws.map_err(|e| AppError::bad_request("not_websocket", e.to_string()))?;
    let limit = transport_limit(state.limits.max_ws_message_bytes);
    let ctx = Context {
        state,
        caller,
        session,
    };
    Ok(ws
        .max_message_size(limit)
        .max_frame_size(limit)
        .on_upgrade(move |socket| async move {
            let (sink, stream) = socket.split();
            serve_token(ctx, claims, sink, stream).await;
        }))
}
