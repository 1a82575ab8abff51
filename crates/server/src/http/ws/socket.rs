//! One WebSocket connection, written over a `Sink`/`Stream` pair so tests
//! can drive it with channels.
//!
//! Two tasks: the receiver parses and runs what the client sends and
//! queues the answers; the sender writes the welcome, the snapshot, every
//! event of the session the role may see, and the queued answers. When
//! either ends the other is stopped, so a dead socket never leaves a task
//! behind. The receiver ending on its own (client closed, or abuse) lets
//! the sender flush what is queued first.
//!
//! The receiver also holds the socket to its token's expiry (see
//! [`super::lease`]) and to a message rate (see [`super::throttle`]).

use super::lease::{self, Lease};
use super::message::{ClientMessage, ServerMessage};
use super::signal::MediaLink;
use super::throttle::{Throttle, Verdict};
use crate::control::SessionId;
use crate::http::caller::Caller;
use crate::http::command::run;
use crate::http::monitoring;
use crate::http::view::{event_visible, SessionView};
use crate::http::AppState;
use crate::service::{clock, Published};
use axum::extract::ws::Message;
use futures::{Sink, SinkExt, Stream, StreamExt};
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, mpsc};

/// Answers queued for the sender; a client that stops reading stalls its
/// own receiver, not the server.
const QUEUE: usize = 64;

/// Bad messages in a row before the connection counts as abuse and is
/// closed (close code 1008, policy violation).
const MAX_BAD_IN_A_ROW: u32 = 32;

/// How long the sender may take to flush after the receiver ended.
const FLUSH: Duration = Duration::from_secs(2);

/// The longest the receiver sleeps before looking at the wall clock again
/// while waiting for a token to expire: tokens expire by the wall clock,
/// which may be stepped while the socket waits.
const EXPIRY_RECHECK: Duration = Duration::from_secs(60);

/// What a connection needs.
#[derive(Clone)]
pub struct Context {
    /// Server state.
    pub state: AppState,
    /// Who is connected.
    pub caller: Caller,
    /// The session it follows.
    pub session: Option<SessionId>,
}

/// Serves one connection until either side ends or the server stops,
/// with no token behind it to expire (the socket logic driven over
/// channels in tests). `/ws` uses [`serve_token`].
pub async fn serve<W, R, E>(ctx: Context, sink: W, stream: R)
where
    W: Sink<Message> + Send + Unpin + 'static,
    R: Stream<Item = Result<Message, E>> + Send + Unpin + 'static,
    E: Send + 'static,
{
    connection(ctx, None, sink, stream).await;
}

/// Serves one connection opened with a token whose verified claims are
/// `claims`: as [`serve`], and closed when the token expires unless the
/// client renews it (`refresh`) first.
pub async fn serve_token<W, R, E>(ctx: Context, claims: crate::auth::Claims, sink: W, stream: R)
where
    W: Sink<Message> + Send + Unpin + 'static,
    R: Stream<Item = Result<Message, E>> + Send + Unpin + 'static,
    E: Send + 'static,
{
    connection(ctx, Some(Lease::new(claims)), sink, stream).await;
}

async fn connection<W, R, E>(ctx: Context, lease: Option<Lease>, sink: W, stream: R)
where
    W: Sink<Message> + Send + Unpin + 'static,
    R: Stream<Item = Result<Message, E>> + Send + Unpin + 'static,
    E: Send + 'static,
{
    let (out_tx, out_rx) = mpsc::channel(QUEUE);
    let mut send = tokio::spawn(sender(ctx.clone(), sink, out_rx));
    let mut recv = tokio::spawn(receiver(ctx, stream, out_tx, lease));
    tokio::select! {
        _ = &mut send => recv.abort(),
        _ = &mut recv => {
            if tokio::time::timeout(FLUSH, &mut send).await.is_err() {
                send.abort();
            }
        }
    }
}

enum Next {
    Reply(ServerMessage),
    Closed,
}

async fn sender<W>(ctx: Context, mut sink: W, mut out: mpsc::Receiver<ServerMessage>)
where
    W: Sink<Message> + Send + Unpin + 'static,
{
    let role = ctx.caller.role;
    let welcome = ServerMessage::Welcome {
        role,
        endpoint: ctx.caller.endpoint.clone(),
        session: ctx.session.clone(),
        ice_servers: ctx.caller.ice_servers(&ctx.state),
        health: Box::new(ctx.state.monitoring.thresholds().clone()),
        presentation: ctx.state.media.presentation(),
    };
    if write(&mut sink, &welcome).await.is_err() {
        return;
    }
    let mut events = match subscribe(&ctx, &mut sink).await {
        Some(rx) => rx,
        None => return,
    };
    let mut stop = ctx.state.shutdown.clone();
    let mut updates = monitoring::subscribe(&ctx);
    loop {
        let next = tokio::select! {
            m = monitoring::next_update(&ctx, &mut updates) => Next::Reply(m),
            reply = out.recv() => match reply {
                Some(m) => Next::Reply(m),
                None => Next::Closed,
            },
            event = events.recv() => match event {
                Ok(p) => match visible(&ctx, p) {
                    Some(m) => Next::Reply(m),
                    None => continue,
                },
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "websocket client fell behind; sending a fresh snapshot");
                    match subscribe(&ctx, &mut sink).await {
                        Some(rx) => events = rx,
                        None => return,
                    }
                    continue;
                }
                Err(broadcast::error::RecvError::Closed) => Next::Closed,
            },
            _ = stop.changed() => Next::Closed,
        };
        match next {
            Next::Reply(m) => {
                if write(&mut sink, &m).await.is_err() {
                    return;
                }
            }
            Next::Closed => {
                let _ = sink.send(Message::Close(None)).await;
                return;
            }
        }
    }
}

/// Sends the snapshot and returns a subscription that starts right after
/// it. Without a session, a subscription that never yields this socket's
/// events (every event is filtered out) keeps the loop uniform.
async fn subscribe<W>(ctx: &Context, sink: &mut W) -> Option<broadcast::Receiver<Published>>
where
    W: Sink<Message> + Unpin,
{
    let Some(id) = &ctx.session else {
        return Some(ctx.state.core.subscribe());
    };
    let (session, rx) = ctx.state.core.snapshot_and_subscribe(id)?;
    let snapshot = ServerMessage::Snapshot {
        seq: session.events,
        session: SessionView::of(&session, &ctx.caller),
    };
    write(sink, &snapshot).await.ok()?;
    Some(rx)
}

fn visible(ctx: &Context, p: Published) -> Option<ServerMessage> {
    (Some(&p.session) == ctx.session.as_ref() && event_visible(&ctx.caller, &p.event.kind))
        .then_some(ServerMessage::Event {
            seq: p.seq,
            event: p.event,
        })
}

async fn write<W>(sink: &mut W, message: &ServerMessage) -> Result<(), ()>
where
    W: Sink<Message> + Unpin,
{
    let text = serde_json::to_string(message).map_err(|e| {
        tracing::error!(error = %e, "a server message did not serialize");
    })?;
    sink.send(Message::Text(text.into())).await.map_err(|_| ())
}

async fn receiver<R, E>(
    ctx: Context,
    mut stream: R,
    out: mpsc::Sender<ServerMessage>,
    mut lease: Option<Lease>,
) where
    R: Stream<Item = Result<Message, E>> + Send + Unpin + 'static,
{
    let mut bad_in_a_row = 0u32;
    let mut throttle = Throttle::new(&ctx.state.limits, Instant::now());
    // Dropped when this task ends or is aborted: that closes the peer, so
    // a socket closed for an expired token or for flooding takes its media
    // connection with it.
    let mut link = MediaLink::new(ctx.state.media.clone());
    loop {
        let wait = lease
            .as_ref()
            .map(|l| l.remaining(clock::now().0).min(EXPIRY_RECHECK));
        let message = tokio::select! {
            next = stream.next() => match next {
                Some(Ok(message)) => message,
                _ => return,
            },
            () = sleep_for(wait) => {
                if lease.as_ref().is_some_and(|l| l.expired(clock::now().0)) {
                    tracing::info!("closing a websocket whose token expired");
                    let _ = out.send(expired_reply(None)).await;
                    return;
                }
                continue;
            }
        };
        if let Message::Close(_) = message {
            return;
        }
        // A message that arrived as the token ran out (before the timer
        // above fired) is refused, never run, and the socket closed.
        if lease.as_ref().is_some_and(|l| l.expired(clock::now().0)) {
            let id = match &message {
                Message::Text(text) => id_of(&ctx, text.as_str()),
                _ => None,
            };
            let _ = out.send(expired_reply(id)).await;
            return;
        }
        match throttle.take(Instant::now()) {
            Verdict::Pass => {}
            // Not counted as a bad message: the bucket has its own limit.
            Verdict::Refuse => {
                let id = match &message {
                    Message::Text(text) => id_of(&ctx, text.as_str()),
                    _ => None,
                };
                let limit = ctx.state.limits.ws_messages_per_sec;
                let reply = ServerMessage::error(
                    id,
                    "rate_limited",
                    format!("more than {limit} messages a second; this one was not run"),
                );
                if out.send(reply).await.is_err() {
                    return;
                }
                continue;
            }
            Verdict::Close => {
                tracing::warn!("closing a websocket that kept sending past its rate");
                let _ = out
                    .send(ServerMessage::error(
                        None,
                        "abuse",
                        "far too many messages; closing",
                    ))
                    .await;
                return;
            }
        }
        let reply = match message {
            Message::Text(text) => {
                match handle(&ctx, &mut link, &mut lease, &out, text.as_str()).await {
                    Some(reply) => reply,
                    None => {
                        bad_in_a_row = 0;
                        continue;
                    }
                }
            }
            Message::Binary(_) => {
                ServerMessage::error(None, "unsupported", "send text (JSON) messages")
            }
            Message::Close(_) => return,
            // The transport answers pings itself.
            Message::Ping(_) | Message::Pong(_) => continue,
        };
        let bad = matches!(&reply, ServerMessage::Error { id: None, .. });
        bad_in_a_row = if bad { bad_in_a_row + 1 } else { 0 };
        if out.send(reply).await.is_err() {
            return;
        }
        if bad_in_a_row >= MAX_BAD_IN_A_ROW {
            tracing::warn!("closing a websocket that sent {bad_in_a_row} bad messages in a row");
            let _ = out
                .send(ServerMessage::error(
                    None,
                    "abuse",
                    "too many bad messages; closing",
                ))
                .await;
            return;
        }
    }
}

/// Sleeps for `wait`, or forever when there is nothing to wait for.
async fn sleep_for(wait: Option<Duration>) {
    match wait {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}

fn expired_reply(id: Option<String>) -> ServerMessage {
    let e = lease::expired();
    ServerMessage::error(id, e.code, e.message)
}

/// The `id` of a message that will not be run, so the client can still
/// match the refusal to what it sent. Only messages within the configured
/// size are parsed for it: a refusal must stay cheap.
fn id_of(ctx: &Context, text: &str) -> Option<String> {
    if text.len() > ctx.state.limits.max_ws_message_bytes {
        return None;
    }
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    value.get("id")?.as_str().map(str::to_string)
}

/// Parses and runs one text message. The `id` is read first from the raw
/// JSON, so even a message whose command does not parse gets an answer the
/// client can match. Signaling that went well has no reply of its own
/// (`None`); its answers go on `out` directly.
async fn handle(
    ctx: &Context,
    link: &mut MediaLink,
    lease: &mut Option<Lease>,
    out: &mpsc::Sender<ServerMessage>,
    text: &str,
) -> Option<ServerMessage> {
    Some(match parse(ctx, text) {
        Err(reply) => reply,
        Ok(ClientMessage::Ping { id }) => ServerMessage::Pong { id },
        Ok(ClientMessage::Refresh { id }) => match lease {
            Some(lease) => match lease.renew(&ctx.state.keys, clock::now().0) {
                Ok(token) => ServerMessage::Token {
                    id,
                    token,
                    expires_at: lease.expires_at(),
                },
                Err(e) => ServerMessage::error(Some(id), e.code, e.message),
            },
            None => ServerMessage::error(
                Some(id),
                "unsupported",
                "this connection has no token to renew",
            ),
        },
        Ok(ClientMessage::Command { id, command }) => {
            let Some(session) = &ctx.session else {
                return Some(ServerMessage::error(
                    Some(id),
                    "no_session",
                    "there is no session to command",
                ));
            };
            match run(&ctx.state, &ctx.caller, session, command.clone()) {
                Ok(done) => {
                    link.note_command(&command);
                    ServerMessage::Ok { id, seq: done.seq }
                }
                Err(e) => ServerMessage::error(Some(id), e.code, e.message),
            }
        }
        Ok(ClientMessage::Stats { stats }) => {
            return monitoring::client_stats(ctx, stats, link.peer())
        }
        Ok(signaling) => return link.handle(ctx, signaling, out).await,
    })
}

/// The message, or the error to answer it with.
fn parse(ctx: &Context, text: &str) -> Result<ClientMessage, ServerMessage> {
    let limit = ctx.state.limits.max_ws_message_bytes;
    if text.len() > limit && !is_sdp_sized(text) {
        return Err(ServerMessage::error(
            None,
            "payload_too_large",
            format!("messages are limited to {limit} bytes"),
        ));
    }
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| ServerMessage::error(None, "malformed_json", e.to_string()))?;
    let id = value.get("id").and_then(|v| v.as_str()).map(str::to_string);
    let message: ClientMessage = serde_json::from_value(value.clone())
        .map_err(|e| ServerMessage::error(id.clone(), "invalid_message", e.to_string()))?;
    if let ClientMessage::Command { command, .. } = &message {
        if let Some(field) = unknown_field(&value["command"], command) {
            return Err(ServerMessage::error(
                id,
                "invalid_message",
                format!("unknown field `{field}` in command `{}`", command.name()),
            ));
        }
    }
    Ok(message)
}

/// SDP grows with the m-lines (the chair's connection carries a tile per
/// site) and a page's stats with its tracks, so these messages may use the
/// whole transport limit; everything else keeps the configured one.
fn is_sdp_sized(text: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(str::to_string))
        .is_some_and(|t| matches!(t.as_str(), "offer" | "answer" | "stats"))
}

/// A field the client sent that the parsed command does not have. Serde
/// ignores extra fields on the unit variants of an internally tagged enum
/// (`{"command": "open", "now": 1}` parses as `open`) despite
/// `deny_unknown_fields`; serializing the command back names every field
/// it has (absent options as null), so any other key was unknown.
fn unknown_field(sent: &serde_json::Value, parsed: &crate::control::Command) -> Option<String> {
    let known = serde_json::to_value(parsed).ok()?;
    let known = known.as_object()?;
    sent.as_object()?
        .keys()
        .find(|k| !known.contains_key(*k))
        .cloned()
}
