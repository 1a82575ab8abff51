//! The router without a socket (`oneshot`), and the WebSocket logic over
//! channels: error rendering, limits, and the message flow.

use super::ws::{serve, Context};
use super::{app, AppState};
use crate::auth::{Claims, Keys, Role};
use crate::config::{Limits, Registry, RegistryEntry};
use crate::control::Rules;
use crate::control::{EndpointCode, EndpointRole};
use crate::service::Core;
use crate::store::Store;
use axum::body::Body;
use axum::extract::ws::Message;
use axum::http::{header, Request, StatusCode};
use futures::channel::mpsc;
use futures::{SinkExt, StreamExt};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceExt;

const SECRET: &[u8] = b"unit-test-secret";

/// The state, and the stop switch that must outlive it (a dropped switch
/// reads as "stop" to long-lived connections).
async fn state(dir: &std::path::Path) -> (AppState, tokio::sync::watch::Sender<bool>) {
    let registry = test_registry();
    let store = Store::open_in(dir).expect("store");
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let state = AppState {
        core: Core::new(store, Vec::new()),
        keys: Arc::new(Keys::new(SECRET)),
        registry: Arc::new(registry),
        rules: Rules::default(),
        limits: Limits {
            max_body_bytes: 1024,
            max_ws_message_bytes: 1024,
            ..Limits::default()
        },
        shutdown,
        media: crate::media::MediaPlane::start(&crate::config::MediaConfig {
            udp_port: 0,
            bind_ip: [127, 0, 0, 1].into(),
            ..Default::default()
        })
        .await
        .expect("media plane")
        .0,
        ice_servers: Arc::new(crate::auth::IceServers::default()),
        monitoring: crate::service::monitoring::Monitoring::new(Default::default(), None),
        command_rate: Arc::new(super::rate::CommandRate::new(1000, 1000)),
        recordings: Arc::new(std::env::temp_dir().join("diemcau-no-recordings")),
        data_dir: Arc::new(dir.to_path_buf()),
    };
    (state, stop)
}

fn token(role: Role, endpoint: Option<&str>) -> String {
    let claims = Claims::new(
        role,
        endpoint.map(Into::into),
        None,
        Duration::from_secs(600),
        crate::service::clock::now_secs(),
    );
    Keys::new(SECRET).mint(&claims).expect("mint")
}

async fn send(state: &AppState, req: Request<Body>) -> (StatusCode, Value) {
    let resp = app(state.clone()).oneshot(req).await.expect("infallible");
    let status = resp.status();
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn post(path: &str, token: Option<&str>, content_type: Option<&str>, body: &str) -> Request<Body> {
    let mut req = Request::post(path);
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    if let Some(ct) = content_type {
        req = req.header(header::CONTENT_TYPE, ct);
    }
    req.body(Body::from(body.to_string())).expect("request")
}

#[tokio::test]
async fn errors_render_as_code_and_message_with_their_status() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (st, _stop) = state(dir.path()).await;
    let chair = token(Role::Chair, None);
    let json_ct = Some("application/json");
    let cases = [
        (
            post("/api/sessions", None, json_ct, "{}"),
            StatusCode::UNAUTHORIZED,
            "missing_token",
        ),
        (
            post("/api/sessions", Some("x.y.z"), json_ct, "{}"),
            StatusCode::UNAUTHORIZED,
            "invalid_token",
        ),
        (
            post(
                "/api/sessions",
                Some(&token(Role::Viewer, None)),
                json_ct,
                r#"{"title":"t"}"#,
            ),
            StatusCode::FORBIDDEN,
            "forbidden",
        ),
        (
            post("/api/sessions", Some(&chair), json_ct, "{"),
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
        (
            post(
                "/api/sessions",
                Some(&chair),
                json_ct,
                r#"{"title":"t","x":1}"#,
            ),
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
        (
            post("/api/sessions", Some(&chair), None, r#"{"title":"t"}"#),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            post(
                "/api/sessions",
                Some(&chair),
                json_ct,
                &format!(r#"{{"title":"{}"}}"#, "t".repeat(2048)),
            ),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
        (
            post("/api/sessions", Some(&chair), json_ct, r#"{"title":""}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_value",
        ),
        (
            post("/api/sessions/nope/start", Some(&chair), None, ""),
            StatusCode::NOT_FOUND,
            "unknown_session",
        ),
        (
            post("/nowhere", None, None, ""),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
    ];
    for (req, status, code) in cases {
        let (got, body) = send(&st, req).await;
        assert_eq!(got, status, "{body}");
        assert_eq!(body["error"], code, "{body}");
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let (status, _) = send(
        &st,
        post(
            "/api/sessions",
            Some(&chair),
            json_ct,
            r#"{"id":"a","title":"t"}"#,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = send(&st, post("/api/sessions/a/end", Some(&chair), None, "")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = send(&st, post("/api/sessions/a/end", Some(&chair), None, "")).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::CONFLICT, Some("wrong_phase"))
    );
}

#[tokio::test]
async fn the_socket_logic_runs_over_channels() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (st, _stop) = state(dir.path()).await;
    let chair = super::caller::Caller::from_token(&st, &token(Role::Chair, None)).expect("caller");
    let spec = crate::control::SessionSpec {
        id: crate::control::SessionId("k".into()),
        title: "Kênh".into(),
        endpoints: st.registry.endpoint_infos(),
        rules: Rules::default(),
    };
    st.core
        .create(spec, None, crate::control::Millis(1))
        .expect("create");

    let (to_server, from_client) = mpsc::channel::<Result<Message, ()>>(8);
    let (to_client, mut from_server) = mpsc::channel::<Message>(8);
    let ctx = Context {
        state: st.clone(),
        caller: chair,
        session: Some(crate::control::SessionId("k".into())),
    };
    let task = tokio::spawn(serve(ctx, to_client, from_client));
    let mut to_server = to_server;
    assert_eq!(next(&mut from_server).await["type"], "welcome");
    assert_eq!(next(&mut from_server).await["type"], "snapshot");
    let cmd = json!({"type": "command", "id": "1", "command": {"command": "open"}});
    to_server
        .send(Ok(Message::Text(cmd.to_string().into())))
        .await
        .expect("send");
    let mut seen = Vec::new();
    for _ in 0..2 {
        seen.push(next(&mut from_server).await);
    }
    assert!(
        seen.iter().any(|m| m["type"] == "ok" && m["id"] == "1"),
        "{seen:?}"
    );
    assert!(
        seen.iter().any(|m| m["type"] == "event" && m["seq"] == 2),
        "{seen:?}"
    );
    to_server
        .send(Ok(Message::Text("{".into())))
        .await
        .expect("send");
    assert_eq!(next(&mut from_server).await["error"], "malformed_json");
    drop(to_server);
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("both halves stop when the client goes")
        .expect("no panic");
}

async fn next(rx: &mut mpsc::Receiver<Message>) -> Value {
    let m = tokio::time::timeout(Duration::from_secs(5), rx.next())
        .await
        .expect("in time")
        .expect("open");
    match m {
        Message::Text(t) => serde_json::from_str(t.as_str()).expect("json"),
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn endpoint_tokens_must_carry_the_current_link_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut st, _stop) = state(dir.path()).await;
    let mut registry = test_registry();
    registry.endpoints[1].link_key = Some("k2".into());
    st.registry = Arc::new(registry);
    let mint = |key: Option<&str>| {
        let mut claims = Claims::new(
            Role::Endpoint,
            Some("30".into()),
            None,
            Duration::from_secs(600),
            crate::service::clock::now_secs(),
        );
        claims.key = key.map(str::to_string);
        Keys::new(SECRET).mint(&claims).expect("mint")
    };
    let get = |t: String| {
        Request::get("/api/endpoints")
            .header(header::AUTHORIZATION, format!("Bearer {t}"))
            .body(Body::empty())
            .expect("request")
    };
    for (key, status) in [
        (None, StatusCode::UNAUTHORIZED),
        (Some("k1"), StatusCode::UNAUTHORIZED),
        (Some("k2"), StatusCode::OK),
    ] {
        let (got, body) = send(&st, get(mint(key))).await;
        assert_eq!(got, status, "{key:?}: {body}");
    }
    let (_, body) = send(&st, get(mint(Some("k2")))).await;
    assert!(
        !body.to_string().contains("k2"),
        "link keys never leave the server"
    );
}

/// The OpenAPI document and the router agree: the served document is the
/// one built with the router (each route is mounted from its own
/// `#[utoipa::path]`, so the document names no route that is not mounted
/// and the reverse), and each path takes exactly the methods the document
/// gives it.
#[tokio::test]
async fn the_openapi_document_describes_exactly_the_mounted_routes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (st, _stop) = state(dir.path()).await;
    let doc = serde_json::to_value(super::openapi::document()).expect("document as JSON");
    let served = Request::builder()
        .uri("/api/openapi.json")
        .body(Body::empty())
        .expect("request");
    let (status, served) = send(&st, served).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(served, doc, "the served document is the router's");
    let documented: BTreeMap<String, BTreeSet<String>> = doc["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .map(|(path, item)| {
            let methods = item.as_object().expect("path item").keys().cloned();
            (path.clone(), methods.collect())
        })
        .collect();
    assert!(documented.len() > 40, "every route: {documented:?}");
    for (path, methods) in &documented {
        // Any value fits a path parameter; the router matches before any
        // handler looks at it.
        let uri = path.replace(['{', '}'], "");
        for method in ["get", "post", "put", "delete", "patch"] {
            let req = Request::builder()
                .method(method.to_uppercase().as_str())
                .uri(&uri)
                .body(Body::empty())
                .expect("request");
            let (status, body) = send(&st, req).await;
            let taken = body["error"] != "method_not_allowed";
            assert_eq!(
                taken,
                methods.contains(method),
                "{method} {path}: {status} {body}"
            );
        }
    }
}

/// The chair's room and one province.
fn test_registry() -> Registry {
    let entry = |code: &str, name: &str, role| RegistryEntry {
        code: EndpointCode::from(code),
        name: name.to_string(),
        role,
        kind: None,
        formed_from: Vec::new(),
        link_key: None,
    };
    Registry::from_entries(vec![
        entry("00", "Trung ương", EndpointRole::Central),
        entry("30", "Hải Dương", EndpointRole::Provincial),
    ])
    .expect("registry")
}
