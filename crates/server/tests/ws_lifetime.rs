//! A `/ws` socket is held to its token and to a message rate, through the
//! real server binary: a socket whose token expires is told
//! `token_expired` and closed (and its media link with it), unless it
//! renewed the token with `refresh`; a socket that sends too fast gets
//! `rate_limited` for the excess, and one that keeps flooding is closed.
//!
//! Token expiry has a one-second grain, so the short-lived tokens here are
//! minted just after a second starts and each step waits until a fixed
//! point of the wall clock; every wait for the server is bounded.

mod common;
mod support;

use common::*;
use diemcau::auth::{Claims, Role};
use futures::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use support::{wait_for, WsClient};
use tokio_tungstenite::tungstenite::Message;

/// The longest wait for a socket to be closed by the server.
const CLOSE_WAIT: Duration = Duration::from_secs(10);

/// The shipped `[limits]` rate, which the test config keeps.
const BURST: usize = 40;
const PER_SEC: usize = 20;

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Waits until just after the next second begins; returns that second.
async fn next_second() -> u64 {
    let second = now_ms() / 1000 + 1;
    at(second, 20).await;
    second
}

/// Sleeps until `second` + `ms` milliseconds of the wall clock.
async fn at(second: u64, ms: u64) {
    let target = second * 1000 + ms;
    let now = now_ms();
    if target > now {
        tokio::time::sleep(Duration::from_millis(target - now)).await;
    }
}

/// A token for `role` that expires `ttl` seconds after `second`.
fn short_token(
    server: &Server,
    role: Role,
    endpoint: Option<&str>,
    second: u64,
    ttl: u64,
) -> String {
    let claims = Claims::new(
        role,
        endpoint.map(Into::into),
        None,
        Duration::from_secs(ttl),
        second,
    );
    server.keys.mint(&claims).expect("mint")
}

/// Every message until the server closes the socket (bounded).
async fn until_closed(ws: &mut Ws) -> Vec<Value> {
    let mut seen = Vec::new();
    let read = async {
        while let Some(m) = ws.next().await {
            seen.push(m);
        }
    };
    let closed = tokio::time::timeout(CLOSE_WAIT, read).await.is_ok();
    assert!(
        closed,
        "the socket was still open after {CLOSE_WAIT:?}; saw {seen:?}"
    );
    seen
}

fn is_error(m: &Value, code: &str) -> bool {
    m["type"] == "error" && m["error"] == code
}

/// A chair token good for 3 s: its socket commands at 1 s, is told
/// `token_expired` and closed when the token runs out, and a command sent
/// at that moment is refused, so the mode stays as it was set at 1 s.
#[tokio::test]
async fn a_socket_is_closed_when_its_token_expires() {
    let server = Server::start();
    let id = "het-han";
    server.create(id, "Hết hạn").await;
    let s = next_second().await;
    let mut ws = server
        .ws(&short_token(&server, Role::Chair, None, s, 3), Some(id))
        .await;
    ws.until("snapshot").await;

    at(s + 1, 20).await;
    let done = ws
        .command("mode", json!({"command": "set_mode", "mode": "open"}))
        .await;
    assert_eq!(done["type"], "ok", "a valid token commands: {done}");

    // Sent the instant the token expires: it races the server's timer, and
    // whichever wins, it must not run.
    at(s + 3, 0).await;
    let late = json!({"type": "command", "id": "late", "command": {"command": "set_mode", "mode": "lecture"}});
    let _ = ws.stream.send(Message::Text(late.to_string().into())).await;
    let seen = until_closed(&mut ws).await;
    assert!(
        seen.iter().any(|m| is_error(m, "token_expired")),
        "no token_expired before the close: {seen:?}"
    );
    if let Some(answer) = seen.iter().find(|m| m["id"] == "late") {
        assert!(is_error(answer, "token_expired"), "{answer}");
    }

    let state = server.state(id).await;
    assert_eq!(state["mode"], "open", "a command after expiry ran: {state}");
    // REST agrees the token is spent.
    let (status, _) = server
        .get(
            &format!("/api/sessions/{id}"),
            &short_token(&server, Role::Chair, None, s, 3),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

/// `refresh` while the token is valid returns a new one with the same
/// claims and lifetime; the socket then lives on the new expiry (here
/// renewed twice, as a page does whenever a quarter of the lifetime is
/// left), and the new token works for REST too. A malformed `refresh` is
/// answered with an error.
#[tokio::test]
async fn a_refreshed_socket_outlives_its_first_token() {
    let server = Server::start();
    let id = "gia-han";
    server.create(id, "Gia hạn").await;
    let s = next_second().await;
    let mut ws = server
        .ws(&short_token(&server, Role::Chair, None, s, 3), Some(id))
        .await;
    ws.until("snapshot").await;

    // Bad shapes: no id, a numeric id, an unknown field.
    ws.send(json!({"type": "refresh"})).await;
    assert!(is_error(&ws.until("error").await, "invalid_message"));
    ws.send(json!({"type": "refresh", "id": 7})).await;
    assert!(is_error(&ws.until("error").await, "invalid_message"));
    ws.send(json!({"type": "refresh", "id": "x", "token": "mine"}))
        .await;
    let refused = ws.until("error").await;
    assert!(is_error(&refused, "invalid_message"), "{refused}");
    assert_eq!(refused["id"], "x");

    let mut token = String::new();
    for (n, second) in [(1, s + 1), (2, s + 3)] {
        at(second, 20).await;
        let rid = format!("r{n}");
        ws.send(json!({"type": "refresh", "id": rid})).await;
        let renewed = ws.until("token").await;
        assert_eq!(renewed["id"], rid.as_str(), "{renewed}");
        token = renewed["token"].as_str().expect("a token").to_string();
        let claims = server.keys.verify(&token).expect("the server's own token");
        assert_eq!(
            (claims.role, claims.endpoint, claims.session),
            (Role::Chair, None, None)
        );
        assert_eq!(claims.exp - claims.iat, 3, "the original lifetime");
        assert_eq!(renewed["expires_at"], claims.exp);
        assert_eq!(claims.exp, second + 3);
    }

    // Past the first token's expiry and the first renewal's: still open.
    at(s + 4, 500).await;
    ws.send(json!({"type": "ping", "id": "alive"})).await;
    assert_eq!(ws.until("pong").await["id"], "alive");
    at(s + 5, 20).await;
    let done = ws
        .command("m", json!({"command": "set_mode", "mode": "open"}))
        .await;
    assert_eq!(done["type"], "ok", "{done}");
    let (status, body) = server.get(&format!("/api/sessions/{id}"), &token).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the renewed token works on REST: {body}"
    );
    assert_eq!(body["mode"], "open");

    // Without another renewal the socket ends with the renewed token.
    let seen = until_closed(&mut ws).await;
    assert!(
        seen.iter().any(|m| is_error(m, "token_expired")),
        "{seen:?}"
    );
}

/// The media link a socket set up ends with the socket: a site whose
/// token expires goes from `connected` to `dropped`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_media_link_ends_with_an_expired_socket() {
    const TTL: u64 = 12;
    let server = Server::start_with_provinces(&["30"]);
    let id = "s";
    server.create(id, "Hội nghị").await;
    let chair = server.chair();
    server
        .ok(&format!("/api/sessions/{id}/open"), &chair, None)
        .await;
    server
        .ok(&format!("/api/sessions/{id}/start"), &chair, None)
        .await;

    let s = next_second().await;
    let token = short_token(&server, Role::Endpoint, Some("30"), s, TTL);
    let base = format!("ws://{}", server.addr);
    let site = WsClient::join(&base, &token, id, "30", true).await;
    let status = |v: &Value| v["attendance"]["30"]["status"].as_str().map(str::to_string);
    let server = &server;
    wait_for(
        Duration::from_secs(TTL - 2),
        "site 30 connected",
        || async move { status(&server.state(id).await).as_deref() == Some("connected") },
    )
    .await;
    assert!(
        now_ms() < (s + TTL) * 1000,
        "connected only after the token expired"
    );

    wait_for(
        Duration::from_secs(TTL + 15),
        "site 30 dropped",
        || async move { status(&server.state(id).await).as_deref() == Some("dropped") },
    )
    .await;
    assert!(
        site.of_type("error")
            .iter()
            .any(|m| is_error(m, "token_expired")),
        "{:?}",
        site.of_type("error")
    );
}

/// Sends `count` `set_mode` commands (alternating modes) as fast as the
/// socket takes them while reading the answers; returns every message
/// received and whether the server closed the socket.
async fn flood(ws: Ws, count: usize) -> (Vec<Value>, bool) {
    let (mut sink, mut stream) = ws.stream.split();
    let writer = tokio::spawn(async move {
        for n in 0..count {
            let mode = if n % 2 == 0 { "open" } else { "lecture" };
            let m = json!({"type": "command", "id": format!("f{n}"), "command": {"command": "set_mode", "mode": mode}});
            if sink
                .send(Message::Text(m.to_string().into()))
                .await
                .is_err()
            {
                return;
            }
        }
        // Keep the socket open until the reader is done.
        std::future::pending::<()>().await;
    });
    let mut seen = Vec::new();
    let mut closed = false;
    let answers = |seen: &Vec<Value>| {
        seen.iter()
            .filter(|m| m["id"].as_str().is_some_and(|i| i.starts_with('f')))
            .count()
    };
    let read = async {
        loop {
            match stream.next().await {
                Some(Ok(Message::Text(t))) => {
                    seen.push(serde_json::from_str::<Value>(t.as_str()).expect("JSON"));
                    if answers(&seen) == count {
                        return;
                    }
                }
                Some(Ok(_)) => continue,
                _ => {
                    closed = true;
                    return;
                }
            }
        }
    };
    let finished = tokio::time::timeout(Duration::from_secs(30), read).await;
    writer.abort();
    assert!(
        finished.is_ok(),
        "neither every answer nor a close within 30 s"
    );
    (seen, closed)
}

fn tally(seen: &[Value]) -> (usize, usize) {
    let ok = seen.iter().filter(|m| m["type"] == "ok").count();
    let limited = seen.iter().filter(|m| is_error(m, "rate_limited")).count();
    (ok, limited)
}

/// A burst past the bucket: the excess is answered `rate_limited` and not
/// run, every message gets an answer, and the socket stays usable.
#[tokio::test]
async fn messages_past_the_rate_are_refused_and_the_socket_stays() {
    let server = Server::start();
    let id = "nhanh";
    server.create(id, "Nhanh").await;
    let events_before = server.state(id).await["events"].as_u64().expect("events");
    let mut ws = server.ws(&server.chair(), Some(id)).await;
    ws.until("snapshot").await;
    let started = std::time::Instant::now();
    let (seen, closed) = flood(ws, 100).await;
    let secs = started.elapsed().as_secs_f64();
    assert!(!closed, "a moment of excess closed the socket: {seen:?}");
    let (ok, limited) = tally(&seen);
    assert_eq!(
        ok + limited,
        100,
        "every command answered ok or rate_limited: {seen:?}"
    );
    let allowed = BURST + (PER_SEC as f64 * secs).ceil() as usize;
    assert!(ok <= allowed, "{ok} ran in {secs:.2} s (at most {allowed})");
    assert!(limited > 0, "100 commands at once were never limited");
    // Only what ran changed the mode.
    let events = server.state(id).await["events"].as_u64().expect("events");
    assert!(
        events - events_before <= ok as u64,
        "{events} events for {ok} commands"
    );

    // The bucket refills: the same kind of socket works a second later.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut again = server.ws(&server.chair(), Some(id)).await;
    again.until("snapshot").await;
    let done = again
        .command("later", json!({"command": "set_mode", "mode": "chaired"}))
        .await;
    assert_eq!(done["type"], "ok", "{done}");
}

/// A socket that keeps flooding is closed after its refusals pile up, and
/// only what fit the bucket ran; the server answers `/healthz` and new
/// sockets throughout. (The close may reach the client as a reset, which
/// can swallow the last answers, so what ran is counted on the server.)
#[tokio::test]
async fn a_flooding_socket_is_closed_and_the_server_carries_on() {
    let server = Server::start();
    let id = "lu";
    server.create(id, "Lũ").await;
    let events_before = server.state(id).await["events"].as_u64().expect("events");
    let mut ws = server.ws(&server.chair(), Some(id)).await;
    ws.until("snapshot").await;
    let started = std::time::Instant::now();
    let (seen, closed) = flood(ws, 500).await;
    let secs = started.elapsed().as_secs_f64();
    assert!(closed, "500 commands at once did not close the socket");
    let (ok, limited) = tally(&seen);
    assert!(
        limited > 0,
        "no rate_limited answer before the close: {seen:?}"
    );
    let allowed = BURST + (PER_SEC as f64 * secs).ceil() as usize;
    assert!(ok <= allowed, "{ok} ran in {secs:.2} s (at most {allowed})");
    // Each command that ran switched the mode: one event each.
    let events = server.state(id).await["events"].as_u64().expect("events");
    let ran = (events - events_before) as usize;
    assert!(
        ran <= allowed,
        "{ran} mode changes in {secs:.2} s (at most {allowed})"
    );

    let (status, _) = server
        .call(reqwest::Method::GET, "/healthz", None, None)
        .await;
    assert!(status.is_success(), "/healthz: {status}");
    let mut again = server.ws(&server.chair(), Some(id)).await;
    again.until("snapshot").await;
    let done = again
        .command("after", json!({"command": "set_mode", "mode": "chaired"}))
        .await;
    assert_eq!(done["type"], "ok", "{done}");
}
