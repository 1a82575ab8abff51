//! Link monitoring through the real server: `/metrics`, the links, their
//! history and the alerts, client `stats` reports over /ws, and the
//! pre-session link test.

mod common;
mod lossy;
mod support;

// The monitoring scenarios that need real media live in their own files
// but build into this one test binary: every test binary links the whole
// WebRTC stack, and the machine has two cores.
#[path = "monitoring_cases/link_test.rs"]
mod link_test;
#[path = "monitoring_cases/link_test_loopback.rs"]
mod link_test_loopback;
#[path = "monitoring_cases/upstream_loss.rs"]
mod upstream_loss;
#[path = "monitoring_cases/upstream_loss_in_process.rs"]
mod upstream_loss_in_process;

use common::*;
use diemcau::telemetry;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;

fn is_error(body: &Value, code: &str) -> bool {
    body["error"] == code && body["message"].as_str().is_some_and(|m| !m.is_empty())
}

/// After a few commands `/metrics` has every core metric, with the figures
/// the commands produced, and needs no token.
#[tokio::test]
async fn metrics_count_the_sessions_commands_and_floor() {
    let server = Server::start();
    let id = "do-dem";
    server.create(id, "Phiên đo đếm").await;
    server.connect(id, &[CENTRAL, HAI_DUONG, HAI_PHONG]).await;
    let chair = server.chair();
    server
        .ok(&format!("/api/sessions/{id}/start"), &chair, None)
        .await;
    server
        .ok(
            &format!("/api/sessions/{id}/floor/grant"),
            &chair,
            Some(json!({"endpoint": HAI_DUONG})),
        )
        .await;
    // Refused: Hà Nội is not connected.
    let (status, _) = server
        .post(
            &format!("/api/sessions/{id}/floor/grant"),
            &chair,
            Some(json!({"endpoint": HA_NOI})),
        )
        .await;
    assert!(status.is_client_error());

    let resp = server
        .raw(reqwest::Method::GET, "/metrics")
        .send()
        .await
        .expect("GET /metrics");
    assert_eq!(resp.status(), StatusCode::OK);
    let text = resp.text().await.expect("body");
    for name in [
        telemetry::SESSIONS,
        telemetry::ENDPOINTS_CONNECTED,
        telemetry::ENDPOINTS_PRESENT,
        telemetry::FLOOR_CHANGES,
        telemetry::PACKETS_FORWARDED,
        telemetry::BYTES_FORWARDED,
        telemetry::ALERTS_ACTIVE,
        telemetry::STORE_APPEND,
        telemetry::COMMANDS,
        telemetry::SENDING_SHARED,
    ] {
        assert!(text.contains(name), "{name} missing from:\n{text}");
    }
    assert_eq!(
        metric_value(&text, "diemcau_sessions{phase=\"live\"}"),
        Some(1.0)
    );
    assert_eq!(
        metric_value(&text, "diemcau_endpoints_connected"),
        Some(3.0)
    );
    assert_eq!(
        metric_value(&text, "diemcau_floor_changes_total"),
        Some(1.0)
    );
    assert_eq!(
        metric_value(
            &text,
            "diemcau_commands_total{command=\"grant_floor\",outcome=\"ok\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        metric_value(
            &text,
            "diemcau_commands_total{command=\"grant_floor\",outcome=\"rejected\"}"
        ),
        Some(1.0)
    );
    assert!(metric_value(&text, "diemcau_store_append_seconds_count").is_some_and(|n| n >= 5.0));
    // No media at all: the media task never fell behind.
    for shared in [
        "diemcau_media_sending_shared_total",
        "diemcau_media_reading_shared_total",
    ] {
        assert_eq!(metric_value(&text, shared), Some(0.0), "{shared}");
    }
}

/// Links, history and alerts are for technicians and the chair; an unknown
/// link's history is a 404.
#[tokio::test]
async fn links_history_and_alerts_check_the_role() {
    let server = Server::start();
    server.create("vai-tro", "Phiên vai trò").await;
    for path in ["/api/links", "/api/alerts"] {
        for token in [server.technician(), server.chair()] {
            let (status, body) = server.get(path, &token).await;
            assert_eq!(status, StatusCode::OK, "{path}: {body}");
            assert_eq!(body, json!([]), "no media, no links: {path}");
        }
        for token in [server.viewer(), server.endpoint(HAI_DUONG)] {
            let (status, body) = server.get(path, &token).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {body}");
            assert!(is_error(&body, "forbidden"), "{body}");
        }
        let (status, _) = server.call(reqwest::Method::GET, path, None, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let history = "/api/links/vai-tro%2F30/history";
    let (status, body) = server.get(history, &server.technician()).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(is_error(&body, "unknown_link"), "{body}");
    let (status, _) = server.get(history, &server.viewer()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

/// A valid `stats` report is taken without an answer; garbage, figures out
/// of range and unknown fields get an `error`, and the socket stays open.
#[tokio::test]
async fn bad_stats_reports_get_an_error() {
    let server = Server::start();
    let id = "so-lieu";
    server.create(id, "Phiên số liệu").await;
    let mut ws = server.ws(&server.endpoint(HAI_DUONG), Some(id)).await;
    ws.until("snapshot").await;

    let good = json!({"type": "stats", "stats": {
        "rtt_ms": 20, "candidate_type": "host", "bitrate_in": 1000, "bitrate_out": 1000,
        "loss": 0.0, "inbound": [{"kind": "video", "frames_per_second": 25,
        "width": 640, "height": 360}], "outbound": []}});
    ws.send(good).await;
    ws.send(json!({"type": "ping", "id": "after-good"})).await;
    let next = ws.recv().await;
    assert_eq!(
        next["type"], "pong",
        "a good report is not answered: {next}"
    );

    let bad = [
        (
            json!({"type": "stats", "stats": "garbage"}),
            "invalid_message",
        ),
        (
            json!({"type": "stats", "stats": {"rtt_ms": -3}}),
            "invalid_stats",
        ),
        (
            json!({"type": "stats", "stats": {"loss": 7}}),
            "invalid_stats",
        ),
        (
            json!({"type": "stats", "stats": {"inbound": [{"kind": "smell"}]}}),
            "invalid_stats",
        ),
        (
            json!({"type": "stats", "stats": {"colour": 1}}),
            "invalid_message",
        ),
        (
            json!({"type": "stats", "stats": {}, "size": 1}),
            "invalid_message",
        ),
    ];
    for (message, code) in bad {
        ws.send(message.clone()).await;
        let reply = ws.until("error").await;
        assert_eq!(reply["error"], code, "{message} → {reply}");
    }
    ws.send(json!({"type": "ping", "id": "still-open"})).await;
    assert_eq!(ws.until("pong").await["id"], "still-open");
}

/// The link test: only while open, 3–30 s, a technician or the endpoint
/// itself; its result arrives as a `monitor` event and is kept with the
/// session's record.
#[tokio::test]
async fn the_link_test_api() {
    let server = Server::start();
    let id = "thu-duong-truyen";
    server.create(id, "Phiên thử đường truyền").await;
    let tech = server.technician();
    let path = |code: &str| format!("/api/sessions/{id}/endpoints/{code}/link-test");

    let (status, body) = server
        .post(&path(HAI_DUONG), &tech, Some(json!({"seconds": 5})))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "scheduled: {body}");
    assert!(is_error(&body, "wrong_phase"), "{body}");

    server
        .ok(&format!("/api/sessions/{id}/open"), &server.chair(), None)
        .await;
    let cases = [
        (json!({"seconds": 2}), StatusCode::UNPROCESSABLE_ENTITY),
        (json!({"seconds": 31}), StatusCode::UNPROCESSABLE_ENTITY),
        (json!({"seconds": "năm"}), StatusCode::BAD_REQUEST),
        (json!({"seconds": 5, "loop": true}), StatusCode::BAD_REQUEST),
    ];
    for (body, expected) in cases {
        let (status, reply) = server.post(&path(HAI_DUONG), &tech, Some(body)).await;
        assert_eq!(status, expected, "{reply}");
    }
    for token in [server.viewer(), server.chair(), server.endpoint(HAI_PHONG)] {
        let (status, body) = server
            .post(&path(HAI_DUONG), &token, Some(json!({"seconds": 3})))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    }
    let (status, body) = server
        .post(&path("99"), &tech, Some(json!({"seconds": 3})))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = server
        .post(
            "/api/sessions/nope/endpoints/30/link-test",
            &tech,
            Some(json!({"seconds": 3})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");

    let mut watch = server.ws(&tech, Some(id)).await;
    watch.until("snapshot").await;
    let mut chair_ws = server.ws(&server.chair(), Some(id)).await;
    chair_ws.until("snapshot").await;
    let mut site_ws = server.ws(&server.endpoint(HAI_DUONG), Some(id)).await;
    site_ws.until("snapshot").await;
    let own = server.endpoint(HAI_DUONG);
    let (status, run) = server
        .post(&path(HAI_DUONG), &own, Some(json!({"seconds": 3})))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{run}");
    assert_eq!(run["endpoint"], HAI_DUONG);
    assert_eq!(run["requested_by"], "endpoint");
    let (status, body) = server
        .post(&path(HAI_DUONG), &tech, Some(json!({"seconds": 3})))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "one at a time: {body}");
    assert!(is_error(&body, "test_running"), "{body}");

    let list = format!("/api/sessions/{id}/link-tests");
    let (status, tests) = server.get(&list, &tech).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        tests["running"].as_array().map(Vec::len),
        Some(1),
        "{tests}"
    );

    // No media runs in this test, so the test finds no link.
    let done = watch.until("monitor").await;
    assert_eq!(done["event"]["event"], "link_test_done", "{done}");
    assert_eq!(done["event"]["verdict"], "no_link", "{done}");
    assert_eq!(
        chair_ws.until("monitor").await,
        done,
        "the chair gets it too"
    );
    // An endpoint's socket gets no monitor events: everything before the
    // answer to a ping sent now is something else.
    site_ws.send(json!({"type": "ping", "id": "p"})).await;
    for _ in 0..50 {
        let m = site_ws.recv().await;
        assert_ne!(m["type"], "monitor", "{m}");
        if m["type"] == "pong" {
            break;
        }
    }
    let mut tests = Value::Null;
    for _ in 0..50 {
        tests = server.get(&list, &tech).await.1;
        if tests["done"].as_array().is_some_and(|d| !d.is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(tests["running"], json!([]), "{tests}");
    assert_eq!(tests["done"][0]["endpoint"], HAI_DUONG, "{tests}");
    assert_eq!(tests["done"][0]["loopback"], true);

    // An endpoint sees only its own tests; a viewer none.
    let (_, theirs) = server.get(&list, &server.endpoint(HAI_PHONG)).await;
    assert_eq!(theirs["done"], json!([]), "{theirs}");
    let (status, _) = server.get(&list, &server.viewer()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
