//! Bad input gets a clear 4xx `{error, message}` (or a WebSocket `error`),
//! never a panic or a hang, and the state is unchanged.

mod common;

use common::*;
use futures::SinkExt;
use reqwest::header::CONTENT_TYPE;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

/// A live session with Hải Dương and Hải Phòng connected.
async fn live(server: &Server, id: &str) {
    server.create(id, "Phiên thử dữ liệu xấu").await;
    server.connect(id, &[CENTRAL, HAI_DUONG, HAI_PHONG]).await;
    server
        .ok(&format!("/api/sessions/{id}/start"), &server.chair(), None)
        .await;
}

fn is_error(body: &Value, code: &str) -> bool {
    body["error"] == code && body["message"].as_str().is_some_and(|m| !m.is_empty())
}

/// Malformed, mistyped, unknown, oversized or unlabelled bodies.
#[tokio::test]
async fn bad_bodies_are_refused_and_change_nothing() {
    let server = Server::start();
    let id = "than-xau";
    live(&server, id).await;
    let chair = server.chair();
    let before = server.state(id).await;
    let mode = format!("/api/sessions/{id}/mode");
    let grant = format!("/api/sessions/{id}/floor/grant");
    let mute = format!("/api/sessions/{id}/endpoints/{HAI_DUONG}/mute");
    let content_grant = format!("/api/sessions/{id}/content/grant");
    let content_revoke = format!("/api/sessions/{id}/content/revoke");
    let content_request = format!("/api/sessions/{id}/content/request");

    let raw = |method: Method, path: &str, body: String, content_type: Option<&str>| {
        let mut req = server.raw(method, path).bearer_auth(&chair).body(body);
        if let Some(ct) = content_type {
            req = req.header(CONTENT_TYPE, ct);
        }
        req
    };
    let json_ct = Some("application/json");
    let oversized = format!("{{\"mode\": \"{}\"}}", "x".repeat(LIMIT * 2));
    let oversized_mute = format!("{{\"muted\": true, \"x\": \"{}\"}}", "x".repeat(LIMIT * 2));
    let oversized_grant = format!("{{\"endpoint\": \"{}\"}}", "3".repeat(LIMIT * 2));
    let cases: Vec<(reqwest::RequestBuilder, StatusCode, &str)> = vec![
        (
            raw(Method::PUT, &mode, "{\"mode\": ".into(), json_ct),
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
        (
            raw(Method::PUT, &mode, "not json".into(), json_ct),
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
        (
            raw(
                Method::PUT,
                &mode,
                r#"{"mode": "lecture", "extra": 1}"#.into(),
                json_ct,
            ),
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
        (
            raw(Method::PUT, &mode, r#"{"mode": 3}"#.into(), json_ct),
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
        (
            raw(Method::PUT, &mode, r#"{"mode": "anarchy"}"#.into(), json_ct),
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
        (
            raw(Method::PUT, &mode, r#"{}"#.into(), json_ct),
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
        (
            raw(Method::PUT, &mode, r#"["lecture"]"#.into(), json_ct),
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
        (
            raw(Method::PUT, &mode, r#"{"mode": "lecture"}"#.into(), None),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            raw(
                Method::PUT,
                &mode,
                r#"{"mode": "lecture"}"#.into(),
                Some("text/plain"),
            ),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            raw(Method::PUT, &mode, oversized, json_ct),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
        (
            raw(Method::PUT, &mute, "yes please".into(), json_ct),
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
        (
            raw(Method::PUT, &mute, r#"{"muted": "yes"}"#.into(), json_ct),
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
        (
            raw(Method::PUT, &mute, r#"{"muted": 1}"#.into(), json_ct),
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
        (
            raw(Method::PUT, &mute, r#"{"muted": null}"#.into(), json_ct),
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
        (
            raw(Method::PUT, &mute, r#"{}"#.into(), json_ct),
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
        (
            raw(
                Method::PUT,
                &mute,
                r#"{"muted": true, "endpoint": "31"}"#.into(),
                json_ct,
            ),
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
        (
            raw(Method::PUT, &mute, r#"[true]"#.into(), json_ct),
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
        (
            raw(Method::PUT, &mute, r#"{"muted": true}"#.into(), None),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            raw(Method::PUT, &mute, oversized_mute, json_ct),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
        (
            raw(
                Method::POST,
                &grant,
                r#"{"request_id": 1, "endpoint": "30"}"#.into(),
                json_ct,
            ),
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
        (
            raw(
                Method::POST,
                &grant,
                r#"{"request_id": -1}"#.into(),
                json_ct,
            ),
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
        (
            raw(
                Method::POST,
                &grant,
                r#"{"request_id": "1"}"#.into(),
                json_ct,
            ),
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
        (
            raw(
                Method::POST,
                &content_grant,
                "{\"endpoint\"".into(),
                json_ct,
            ),
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
        (
            raw(
                Method::POST,
                &content_grant,
                r#"{"endpoint": 30}"#.into(),
                json_ct,
            ),
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
        (
            raw(
                Method::POST,
                &content_grant,
                r#"{"endpoint": null}"#.into(),
                json_ct,
            ),
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
        (
            raw(Method::POST, &content_grant, r#"{}"#.into(), json_ct),
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
        (
            raw(Method::POST, &content_grant, r#"["30"]"#.into(), json_ct),
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
        (
            raw(
                Method::POST,
                &content_grant,
                r#"{"endpoint": "30", "request_id": 1}"#.into(),
                json_ct,
            ),
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
        (
            raw(
                Method::POST,
                &content_grant,
                r#"{"endpoint": "30"}"#.into(),
                None,
            ),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            raw(Method::POST, &content_grant, oversized_grant, json_ct),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
        (
            raw(
                Method::POST,
                &content_revoke,
                r#"{"endpoint": ["30"]}"#.into(),
                json_ct,
            ),
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
        (
            raw(Method::POST, &content_revoke, "revoke!".into(), json_ct),
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
        (
            raw(
                Method::POST,
                &content_request,
                r#"{"endpoint": "00"}"#.into(),
                Some("text/plain"),
            ),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            raw(
                Method::POST,
                &content_request,
                r#"{"endpoint": {"code": "00"}}"#.into(),
                json_ct,
            ),
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
        (
            raw(
                Method::POST,
                &format!("/api/sessions/{id}/rollcall"),
                r#"{"deadline": 30}"#.into(),
                json_ct,
            ),
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
        (
            raw(
                Method::POST,
                "/api/sessions",
                r#"{"title": "x", "endpoints": []}"#.into(),
                json_ct,
            ),
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
    ];
    for (n, (req, status, code)) in cases.into_iter().enumerate() {
        let resp = req.send().await.expect("request");
        let got = resp.status();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        assert_eq!(got, status, "case {n}: {body}");
        assert!(
            is_error(&body, code),
            "case {n}: expected {code}, got {body}"
        );
        assert_eq!(server.state(id).await, before, "case {n} changed the state");
    }
    let (_, list) = server.get("/api/sessions", &chair).await;
    assert_eq!(list.as_array().map(Vec::len), Some(1));
}

/// Unknown ids, values out of range and commands in the wrong state.
#[tokio::test]
async fn unknown_ids_bad_values_and_wrong_states() {
    let server = Server::start();
    let id = "sai-trang-thai";
    live(&server, id).await;
    let chair = server.chair();
    let hd = server.endpoint(HAI_DUONG);
    let s = format!("/api/sessions/{id}");
    let before = server.state(id).await;

    type Case = (
        Method,
        String,
        String,
        Option<Value>,
        StatusCode,
        &'static str,
    );
    let cases: Vec<Case> = vec![
        (
            Method::GET,
            "/api/sessions/khong-co".into(),
            chair.clone(),
            None,
            StatusCode::NOT_FOUND,
            "unknown_session",
        ),
        (
            Method::POST,
            "/api/sessions/khong-co/start".into(),
            chair.clone(),
            None,
            StatusCode::NOT_FOUND,
            "unknown_session",
        ),
        (
            Method::GET,
            "/api/sessions/khong-co/attendance".into(),
            chair.clone(),
            None,
            StatusCode::NOT_FOUND,
            "unknown_session",
        ),
        (
            Method::POST,
            format!("{s}/floor/grant"),
            chair.clone(),
            Some(json!({"endpoint": "99"})),
            StatusCode::NOT_FOUND,
            "unknown_endpoint",
        ),
        (
            Method::POST,
            format!("{s}/floor/grant"),
            chair.clone(),
            Some(json!({"request_id": 42})),
            StatusCode::NOT_FOUND,
            "unknown_request",
        ),
        (
            Method::POST,
            format!("{s}/floor/deny"),
            chair.clone(),
            Some(json!({"request_id": 42})),
            StatusCode::NOT_FOUND,
            "unknown_request",
        ),
        (
            Method::DELETE,
            format!("{s}/floor/requests/42"),
            hd.clone(),
            None,
            StatusCode::NOT_FOUND,
            "unknown_request",
        ),
        (
            Method::DELETE,
            format!("{s}/floor/requests/abc"),
            hd.clone(),
            None,
            StatusCode::BAD_REQUEST,
            "bad_path",
        ),
        (
            Method::PUT,
            format!("{s}/endpoints/99/representative"),
            chair.clone(),
            Some(json!({"name": "A"})),
            StatusCode::NOT_FOUND,
            "unknown_endpoint",
        ),
        (
            Method::PUT,
            format!("{s}/endpoints/99/mute"),
            chair.clone(),
            Some(json!({"muted": true})),
            StatusCode::NOT_FOUND,
            "unknown_endpoint",
        ),
        (
            Method::PUT,
            format!("{s}/endpoints/%E2%80%AE%00/mute"),
            chair.clone(),
            Some(json!({"muted": true})),
            StatusCode::NOT_FOUND,
            "unknown_endpoint",
        ),
        (
            Method::PUT,
            "/api/sessions/khong-co/endpoints/30/mute".into(),
            chair.clone(),
            Some(json!({"muted": true})),
            StatusCode::NOT_FOUND,
            "unknown_session",
        ),
        (
            Method::PUT,
            format!("{s}/endpoints/{CENTRAL}/mute"),
            chair.clone(),
            Some(json!({"muted": true})),
            StatusCode::CONFLICT,
            "central_endpoint",
        ),
        (
            Method::POST,
            format!("{s}/endpoints/30/mute"),
            chair.clone(),
            Some(json!({"muted": true})),
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        (
            Method::POST,
            format!("{s}/endpoints/99/connect"),
            chair.clone(),
            None,
            StatusCode::NOT_FOUND,
            "unknown_endpoint",
        ),
        (
            Method::POST,
            format!("{s}/start"),
            chair.clone(),
            None,
            StatusCode::CONFLICT,
            "wrong_phase",
        ),
        (
            Method::POST,
            format!("{s}/open"),
            chair.clone(),
            None,
            StatusCode::CONFLICT,
            "wrong_phase",
        ),
        (
            Method::POST,
            format!("{s}/rollcall/close"),
            chair.clone(),
            None,
            StatusCode::CONFLICT,
            "roll_call_not_running",
        ),
        (
            Method::POST,
            format!("{s}/rollcall/confirm"),
            hd.clone(),
            None,
            StatusCode::CONFLICT,
            "roll_call_not_running",
        ),
        (
            Method::POST,
            format!("{s}/floor/revoke"),
            chair.clone(),
            None,
            StatusCode::CONFLICT,
            "floor_empty",
        ),
        (
            Method::POST,
            format!("{s}/floor/release"),
            hd.clone(),
            None,
            StatusCode::CONFLICT,
            "not_holder",
        ),
        (
            Method::POST,
            format!("{s}/floor/release"),
            chair.clone(),
            None,
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
        (
            Method::PUT,
            format!("{s}/floor/queue"),
            chair.clone(),
            Some(json!({"order": [7]})),
            StatusCode::CONFLICT,
            "bad_queue_order",
        ),
        (
            Method::POST,
            format!("{s}/content/grant"),
            chair.clone(),
            Some(json!({"endpoint": "99"})),
            StatusCode::NOT_FOUND,
            "unknown_endpoint",
        ),
        (
            Method::POST,
            format!("{s}/content/grant"),
            chair.clone(),
            Some(json!({"endpoint": "\u{202e}\u{0}"})),
            StatusCode::NOT_FOUND,
            "unknown_endpoint",
        ),
        (
            Method::POST,
            format!("{s}/content/revoke"),
            chair.clone(),
            Some(json!({"endpoint": "99"})),
            StatusCode::NOT_FOUND,
            "unknown_endpoint",
        ),
        (
            Method::POST,
            "/api/sessions/khong-co/content/request".into(),
            chair.clone(),
            None,
            StatusCode::NOT_FOUND,
            "unknown_session",
        ),
        (
            Method::POST,
            "/api/sessions/khong-co/content/grant".into(),
            chair.clone(),
            Some(json!({"endpoint": "30"})),
            StatusCode::NOT_FOUND,
            "unknown_session",
        ),
        (
            Method::POST,
            format!("{s}/content/grant"),
            chair.clone(),
            Some(json!({"endpoint": HO_CHI_MINH})),
            StatusCode::CONFLICT,
            "not_connected",
        ),
        (
            Method::POST,
            format!("{s}/content/grant"),
            chair.clone(),
            Some(json!({"endpoint": HAI_PHONG})),
            StatusCode::CONFLICT,
            "not_holder",
        ),
        (
            Method::POST,
            format!("{s}/content/revoke"),
            chair.clone(),
            None,
            StatusCode::CONFLICT,
            "no_presenter",
        ),
        (
            Method::POST,
            format!("{s}/content/revoke"),
            chair.clone(),
            Some(json!({"endpoint": HAI_DUONG})),
            StatusCode::CONFLICT,
            "not_presenter",
        ),
        (
            Method::POST,
            format!("{s}/content/release"),
            hd.clone(),
            None,
            StatusCode::CONFLICT,
            "not_presenter",
        ),
        (
            Method::POST,
            format!("{s}/content/release"),
            chair.clone(),
            None,
            StatusCode::CONFLICT,
            "not_presenter",
        ),
        (
            Method::GET,
            format!("{s}/content/grant"),
            chair.clone(),
            None,
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        (
            Method::POST,
            format!("{s}/endpoints/30/connect"),
            chair.clone(),
            None,
            StatusCode::CONFLICT,
            "already_connected",
        ),
        (
            Method::PUT,
            format!("{s}/speaking-limit"),
            chair.clone(),
            Some(json!({"seconds": 1})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_value",
        ),
        (
            Method::POST,
            format!("{s}/rollcall"),
            chair.clone(),
            Some(json!({"deadline_secs": 99999})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_value",
        ),
        (
            Method::POST,
            format!("{s}/floor/requests"),
            hd.clone(),
            Some(json!({"topic": "x".repeat(300)})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_value",
        ),
        (
            Method::PUT,
            format!("{s}/endpoints/30/representative"),
            hd.clone(),
            Some(json!({"name": " "})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_value",
        ),
        (
            Method::POST,
            "/api/sessions".into(),
            chair.clone(),
            Some(json!({"id": id, "title": "again"})),
            StatusCode::CONFLICT,
            "session_exists",
        ),
        (
            Method::POST,
            "/api/sessions".into(),
            chair.clone(),
            Some(json!({"id": "có dấu", "title": "x"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_value",
        ),
        (
            Method::POST,
            "/api/sessions".into(),
            chair.clone(),
            Some(json!({"title": ""})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_value",
        ),
        (
            Method::GET,
            format!("{s}/attendance?format=xml"),
            chair.clone(),
            None,
            StatusCode::BAD_REQUEST,
            "bad_query",
        ),
        (
            Method::GET,
            format!("{s}/attendance?fmt=csv"),
            chair.clone(),
            None,
            StatusCode::BAD_REQUEST,
            "bad_query",
        ),
        (
            Method::GET,
            "/api/sessions/khong-co/speaking-log".into(),
            chair.clone(),
            None,
            StatusCode::NOT_FOUND,
            "unknown_session",
        ),
        (
            Method::GET,
            "/api/sessions/khong-co/minutes.pdf".into(),
            chair.clone(),
            None,
            StatusCode::NOT_FOUND,
            "unknown_session",
        ),
        (
            Method::GET,
            "/api/sessions/khong-co/minutes.pdf.sig".into(),
            chair.clone(),
            None,
            StatusCode::NOT_FOUND,
            "unknown_session",
        ),
        (
            Method::GET,
            format!("{s}/speaking-log?format=xml"),
            chair.clone(),
            None,
            StatusCode::BAD_REQUEST,
            "bad_query",
        ),
        (
            Method::GET,
            format!("{s}/speaking-log?format=VTT"),
            chair.clone(),
            None,
            StatusCode::BAD_REQUEST,
            "bad_query",
        ),
        (
            Method::GET,
            format!("{s}/speaking-log?fmt=csv"),
            chair.clone(),
            None,
            StatusCode::BAD_REQUEST,
            "bad_query",
        ),
        (
            Method::GET,
            format!("{s}/speaking-log?format=csv&recording=a.webm"),
            chair.clone(),
            None,
            StatusCode::BAD_REQUEST,
            "bad_query",
        ),
        (
            Method::GET,
            format!("{s}/speaking-log?format=vtt&recording=a.webm&recording=b.webm"),
            chair.clone(),
            None,
            StatusCode::BAD_REQUEST,
            "bad_query",
        ),
        (
            Method::GET,
            format!("{s}/speaking-log?format=vtt&recording=..%2F..%2Fdiemcau.sqlite3"),
            chair.clone(),
            None,
            StatusCode::NOT_FOUND,
            "unknown_recording",
        ),
        (
            Method::GET,
            format!("{s}/speaking-log?format=vtt&recording=%00%FF.webm"),
            chair.clone(),
            None,
            StatusCode::NOT_FOUND,
            "unknown_recording",
        ),
        (
            Method::GET,
            format!("{s}/speaking-log?format=vtt&recording="),
            chair.clone(),
            None,
            StatusCode::NOT_FOUND,
            "unknown_recording",
        ),
        (
            Method::GET,
            format!("{s}/speaking-log?format=vtt&recording={id}-20990101T000000Z.webm"),
            chair.clone(),
            None,
            StatusCode::NOT_FOUND,
            "unknown_recording",
        ),
        (
            Method::GET,
            format!("{s}/speaking-log?format=vtt"),
            chair.clone(),
            None,
            StatusCode::NOT_FOUND,
            "no_recording",
        ),
        (
            Method::GET,
            format!("{s}/recordings/..%2F..%2Fdiemcau.sqlite3"),
            chair.clone(),
            None,
            StatusCode::NOT_FOUND,
            "unknown_recording",
        ),
        (
            Method::GET,
            format!("{s}/recordings/{id}-20990101T000000Z.webm"),
            chair.clone(),
            None,
            StatusCode::NOT_FOUND,
            "unknown_recording",
        ),
        (
            Method::GET,
            format!("{s}/recordings/{id}-20990101T000000Z.json"),
            chair.clone(),
            None,
            StatusCode::NOT_FOUND,
            "unknown_recording",
        ),
        (
            Method::GET,
            format!("{s}/recordings/%00%FF.webm"),
            chair.clone(),
            None,
            StatusCode::BAD_REQUEST,
            "bad_path",
        ),
        (
            Method::POST,
            format!("{s}/recording/start"),
            server.endpoint(HAI_DUONG),
            None,
            StatusCode::FORBIDDEN,
            "forbidden",
        ),
        (
            Method::GET,
            format!("{s}/minutes.pdf?events=0"),
            chair.clone(),
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_value",
        ),
        (
            Method::GET,
            format!("{s}/minutes.pdf?events=100000"),
            chair.clone(),
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_value",
        ),
        (
            Method::GET,
            format!("{s}/minutes.pdf.sig?events=0"),
            chair.clone(),
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_value",
        ),
        (
            Method::GET,
            format!("{s}/minutes.pdf?events=-1"),
            chair.clone(),
            None,
            StatusCode::BAD_REQUEST,
            "bad_query",
        ),
        (
            Method::GET,
            format!("{s}/minutes.pdf?events=3.5"),
            chair.clone(),
            None,
            StatusCode::BAD_REQUEST,
            "bad_query",
        ),
        (
            Method::GET,
            format!("{s}/minutes.pdf.sig?events=99999999999999999999999"),
            chair.clone(),
            None,
            StatusCode::BAD_REQUEST,
            "bad_query",
        ),
        (
            Method::GET,
            format!("{s}/minutes.pdf?format=docx"),
            chair.clone(),
            None,
            StatusCode::BAD_REQUEST,
            "bad_query",
        ),
        (
            Method::GET,
            format!("{s}/minutes.docx"),
            chair.clone(),
            None,
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            Method::POST,
            "/api/minutes/public-key".into(),
            chair.clone(),
            None,
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        (
            Method::GET,
            "/api/nothing-here".into(),
            chair.clone(),
            None,
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            Method::DELETE,
            format!("{s}/mode"),
            chair.clone(),
            None,
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        (
            Method::GET,
            s.clone(),
            server.endpoint("99"),
            None,
            StatusCode::UNAUTHORIZED,
            "invalid_token",
        ),
        (
            Method::GET,
            s.clone(),
            "not-a-token".into(),
            None,
            StatusCode::UNAUTHORIZED,
            "invalid_token",
        ),
        (
            Method::GET,
            s.clone(),
            server.expired(),
            None,
            StatusCode::UNAUTHORIZED,
            "token_expired",
        ),
        (
            Method::GET,
            s.clone(),
            server
                .misshapen(serde_json::json!({"role": "endpoint", "iat": 0, "exp": u64::MAX / 2})),
            None,
            StatusCode::UNAUTHORIZED,
            "invalid_token",
        ),
    ];
    for (method, path, token, body, status, code) in cases {
        let (got, err) = server.call(method.clone(), &path, Some(&token), body).await;
        assert_eq!(got, status, "{method} {path}: {err}");
        assert!(
            is_error(&err, code),
            "{method} {path}: expected {code}, got {err}"
        );
        assert_eq!(
            server.state(id).await,
            before,
            "{method} {path} changed the state"
        );
    }
    let (got, err) = server.call(Method::GET, &s, None, None).await;
    assert_eq!(got, StatusCode::UNAUTHORIZED);
    assert!(is_error(&err, "missing_token"), "{err}");
    let (_, list) = server.get("/api/sessions", &chair).await;
    assert_eq!(list.as_array().map(Vec::len), Some(1));
}

/// On the socket: malformed JSON, unknown types and fields, wrong types,
/// oversized messages and refused commands each get an `error`, and the
/// socket stays usable; only a message past the transport's cap closes it.
#[tokio::test]
async fn bad_websocket_messages_get_errors_and_the_socket_stays_usable() {
    let server = Server::start();
    let id = "ws-xau";
    live(&server, id).await;
    let before = server.state(id).await;
    let mut ws = server.ws(&server.chair(), Some(id)).await;
    ws.until("snapshot").await;

    let cases: Vec<(String, &str, Option<&str>)> = vec![
        ("{".into(), "malformed_json", None),
        ("[1, 2".into(), "malformed_json", None),
        (r#"{"type": "dance"}"#.into(), "invalid_message", None),
        (r#"{"kind": "ping"}"#.into(), "invalid_message", None),
        (r#"{"type": "ping", "extra": true}"#.into(), "invalid_message", None),
        (r#"{"type": "command", "id": "x1"}"#.into(), "invalid_message", Some("x1")),
        (r#"{"type": "command", "id": "x2", "command": {"command": "levitate"}}"#.into(), "invalid_message", Some("x2")),
        (r#"{"type": "command", "id": "x3", "command": {"command": "set_mode", "mode": 7}}"#.into(), "invalid_message", Some("x3")),
        (r#"{"type": "command", "id": "x4", "command": {"command": "open", "now": 1}}"#.into(), "invalid_message", Some("x4")),
        (r#"{"type": "command", "id": "x5", "command": {"command": "start"}}"#.into(), "wrong_phase", Some("x5")),
        (r#"{"type": "command", "id": "x6", "command": {"command": "deny_floor", "request": 9}}"#.into(), "unknown_request", Some("x6")),
        (r#"{"type": "command", "id": "x7", "command": {"command": "set_speaking_limit", "seconds": 2}}"#.into(), "invalid_value", Some("x7")),
        (r#"{"type": "command", "id": "x8", "command": {"command": "set_muted", "endpoint": "30", "muted": "yes"}}"#.into(), "invalid_message", Some("x8")),
        (r#"{"type": "command", "id": "x9", "command": {"command": "set_muted", "muted": true}}"#.into(), "invalid_message", Some("x9")),
        (r#"{"type": "command", "id": "x10", "command": {"command": "set_muted", "endpoint": 30, "muted": true}}"#.into(), "invalid_message", Some("x10")),
        (r#"{"type": "command", "id": "x11", "command": {"command": "set_muted", "endpoint": "99", "muted": true}}"#.into(), "unknown_endpoint", Some("x11")),
        (r#"{"type": "command", "id": "x12", "command": {"command": "set_muted", "endpoint": "00", "muted": true}}"#.into(), "central_endpoint", Some("x12")),
        (format!(r#"{{"type": "ping", "id": "{}"}}"#, "p".repeat(LIMIT + 10)), "payload_too_large", None),
    ];
    for (text, code, id_back) in cases {
        ws.send_text(text.clone()).await;
        let reply = ws.until("error").await;
        assert_eq!(reply["error"], code, "{text:.80}: {reply}");
        assert_eq!(reply["id"].as_str(), id_back, "{text:.80}: {reply}");
        ws.send(json!({"type": "ping", "id": "still-there"})).await;
        let pong = ws.until("pong").await;
        assert_eq!(pong["id"], "still-there");
    }
    ws.stream
        .send(Message::Binary(vec![1, 2, 3].into()))
        .await
        .expect("send binary");
    assert_eq!(ws.until("error").await["error"], "unsupported");
    assert_eq!(server.state(id).await, before);

    // Past the transport's cap: that is abuse, and the socket is closed.
    let huge = format!(r#"{{"type": "ping", "id": "{}"}}"#, "h".repeat(LIMIT * 64));
    let _ = ws.stream.send(Message::Text(huge.into())).await;
    let mut closed = false;
    for _ in 0..10 {
        match ws.next().await {
            None => {
                closed = true;
                break;
            }
            Some(_) => continue,
        }
    }
    assert!(closed, "the socket stayed open after an abusive message");

    // The server itself is fine.
    assert_eq!(server.state(id).await, before);
    let mut again = server.ws(&server.chair(), Some(id)).await;
    again.until("snapshot").await;
}

/// The content commands on the socket: missing, mistyped and unknown
/// fields, unknown sites and commands the state refuses, each answered
/// with its code and its id, the state unchanged. (A socket of its own:
/// the test above uses most of one socket's message burst.)
#[tokio::test]
async fn bad_content_commands_on_the_websocket() {
    let server = Server::start();
    let id = "ws-trinh-chieu";
    live(&server, id).await;
    let before = server.state(id).await;
    let mut ws = server.ws(&server.chair(), Some(id)).await;
    ws.until("snapshot").await;
    let cases: Vec<(String, &str, Option<&str>)> = vec![
        (r#"{"type": "command", "id": "x13", "command": {"command": "grant_content"}}"#.into(), "invalid_message", Some("x13")),
        (r#"{"type": "command", "id": "x14", "command": {"command": "grant_content", "endpoint": 30}}"#.into(), "invalid_message", Some("x14")),
        (r#"{"type": "command", "id": "x15", "command": {"command": "revoke_content", "now": 1}}"#.into(), "invalid_message", Some("x15")),
        (r#"{"type": "command", "id": "x16", "command": {"command": "revoke_content", "endpoint": "99"}}"#.into(), "unknown_endpoint", Some("x16")),
        (r#"{"type": "command", "id": "x17", "command": {"command": "grant_content", "endpoint": "99"}}"#.into(), "unknown_endpoint", Some("x17")),
        (r#"{"type": "command", "id": "x18", "command": {"command": "revoke_content"}}"#.into(), "no_presenter", Some("x18")),
        (r#"{"type": "command", "id": "x19", "command": {"command": "release_content", "endpoint": "00"}}"#.into(), "not_presenter", Some("x19")),
        (r#"{"type": "command", "id": "x20", "command": {"command": "request_content", "endpoint": ["00"]}}"#.into(), "invalid_message", Some("x20")),
    ];
    for (text, code, id_back) in cases {
        ws.send_text(text.clone()).await;
        let reply = ws.until("error").await;
        assert_eq!(reply["error"], code, "{text}: {reply}");
        assert_eq!(reply["id"].as_str(), id_back, "{text}: {reply}");
    }
    assert_eq!(server.state(id).await, before);
}

/// The handshake refuses a missing token, an unknown session and a plain
/// HTTP request with a JSON error.
#[tokio::test]
async fn bad_websocket_handshakes() {
    let server = Server::start();
    live(&server, "co-that").await;
    let chair = server.chair();
    for (query, status) in [
        (String::new(), StatusCode::UNAUTHORIZED),
        (
            format!("?token={chair}&session=khong-co"),
            StatusCode::NOT_FOUND,
        ),
        (format!("?token={chair}&extra=1"), StatusCode::BAD_REQUEST),
    ] {
        let url = format!("ws://{}/ws{query}", server.addr);
        match tokio_tungstenite::connect_async(url).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
                assert_eq!(resp.status().as_u16(), status.as_u16(), "{query}");
            }
            other => panic!(
                "{query}: expected a refused handshake, got {:?}",
                other.map(|_| ())
            ),
        }
    }
    let (status, body) = server
        .call(Method::GET, &format!("/ws?token={chair}"), None, None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(is_error(&body, "not_websocket"), "{body}");
}
