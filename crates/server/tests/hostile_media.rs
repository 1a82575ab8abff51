//! Hostile media clients against the real binary: offers far larger than
//! any console sends, and more connections than a session may hold. Each
//! is refused with the documented status and JSON error, and the server
//! keeps answering.

mod common;
mod support;

use common::Server;
use serde_json::Value;
use support::post_sdp;

fn error_of(body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_string))
        .unwrap_or_default()
}

async fn live(server: &Server, id: &str) {
    server.create(id, "Phiên thử tải").await;
    server
        .ok(&format!("/api/sessions/{id}/open"), &server.chair(), None)
        .await;
    server
        .ok(&format!("/api/sessions/{id}/start"), &server.chair(), None)
        .await;
}

/// A real offer with its first m-section repeated until it has `lines`
/// m-lines, each with its own mid, all in the BUNDLE group.
fn inflated(offer: &str, lines: usize) -> String {
    let start = offer.find("m=").expect("an m-section");
    let (head, body) = offer.split_at(start);
    let first_end = body[2..].find("m=").map_or(body.len(), |i| i + 2);
    let template = &body[..first_end];
    let mid_line = template
        .lines()
        .find(|l| l.starts_with("a=mid:"))
        .expect("a mid")
        .to_string();
    let mut out: String = head
        .lines()
        .filter(|l| !l.starts_with("a=group:BUNDLE"))
        .map(|l| format!("{l}\r\n"))
        .collect();
    let mids: Vec<String> = (0..lines).map(|i| i.to_string()).collect();
    out.push_str(&format!("a=group:BUNDLE {}\r\n", mids.join(" ")));
    for mid in &mids {
        out.push_str(&template.replace(&mid_line, &format!("a=mid:{mid}")));
    }
    out
}

/// An offer with more m-lines than the limit is refused with 413 before
/// the WebRTC stack sees it (the test config's 4 KiB body limit keeps the
/// numbers small: 7 lines against a limit of 6, where the shipped limit
/// of 160 stands against the 640 that 64 KiB allows); one of console size
/// is taken.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offer_of_more_m_lines_than_any_console_needs_is_refused() {
    let server = Server::start_with_media("max_media_lines = 6\n");
    live(&server, "s").await;
    let whep = server.url("/whep/s");
    let peer = support::TestPeer::new("probe", false).await;
    let offer = peer.offer().await;

    let huge = inflated(&offer, 7);
    assert_eq!(huge.matches("\r\nm=").count(), 7);
    let r = post_sdp(&whep, Some(&server.viewer()), &huge).await;
    assert_eq!(
        (r.status, error_of(&r.body).as_str()),
        (413, "too_many_media_lines"),
        "{}",
        r.body
    );
    let r = post_sdp(&whep, Some(&server.viewer()), &offer).await;
    assert_eq!(r.status, 201, "{}", r.body);
}

/// One viewer token opening connection after connection meets its own
/// limit (429 with the usual JSON error) while another viewer token still
/// gets in, up to the session's viewer limit; the sites' room is
/// untouched and the server keeps answering.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_token_cannot_open_connections_without_end() {
    let server =
        Server::start_with_media("max_connections_per_token = 3\nmax_viewers_per_session = 5\n");
    live(&server, "s").await;
    let whep = server.url("/whep/s");
    let viewer = server.viewer();
    let peer = support::TestPeer::new("probe", false).await;
    let offer = peer.offer().await;
    let mut statuses = Vec::new();
    let mut messages = Vec::new();
    for _ in 0..10 {
        let r = post_sdp(&whep, Some(&viewer), &offer).await;
        if r.status == 429 {
            assert_eq!(error_of(&r.body), "too_many_connections", "{}", r.body);
            messages.push(r.body);
        }
        statuses.push(r.status);
    }
    assert_eq!(statuses[..3], [201, 201, 201]);
    assert!(statuses[3..].iter().all(|s| *s == 429), "{statuses:?}");
    assert!(messages[0].contains("this token"), "{}", messages[0]);

    // Another viewer token (bound to the session, so not the same text)
    // has room of its own, until the session's viewers are full.
    let other = server.token(diemcau::auth::Role::Viewer, None, Some("s"));
    assert_ne!(other, viewer);
    let statuses: Vec<u16> = {
        let mut v = Vec::new();
        for _ in 0..3 {
            v.push(post_sdp(&whep, Some(&other), &offer).await.status);
        }
        v
    };
    assert_eq!(statuses, [201, 201, 429]);

    // A site still gets in.
    let site = support::TestPeer::new("30", true).await;
    let r = post_sdp(
        &server.url("/whip/s"),
        Some(&server.endpoint(common::HAI_DUONG)),
        &site.offer().await,
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let (status, _) = server.get("/healthz", &viewer).await;
    assert!(status.is_success());
}

/// A connection whose client never checks in is dropped after
/// `connect_timeout_secs`, and what it held is free again: with room for
/// one viewer, a second is refused while the first (never connected)
/// holds it, and taken once it is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_that_never_comes_up_is_dropped() {
    let server =
        Server::start_with_media("max_viewers_per_session = 1\nconnect_timeout_secs = 2\n");
    live(&server, "s").await;
    let whep = server.url("/whep/s");
    let viewer = server.viewer();
    // The offer of a peer that is then dropped: nobody will ever check in.
    let offer = support::TestPeer::new("ghost", false).await.offer().await;
    assert_eq!(post_sdp(&whep, Some(&viewer), &offer).await.status, 201);
    assert_eq!(post_sdp(&whep, Some(&viewer), &offer).await.status, 429);
    let start = std::time::Instant::now();
    let mut freed = false;
    while start.elapsed() < std::time::Duration::from_secs(15) {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let r = post_sdp(&whep, Some(&viewer), &offer).await;
        if r.status == 201 {
            freed = true;
            break;
        }
        assert_eq!(r.status, 429, "{}", r.body);
    }
    assert!(
        freed,
        "the connection that never came up still holds its place"
    );
}
