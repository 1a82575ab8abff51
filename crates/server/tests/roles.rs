//! The role × command matrix: every command route with every kind of
//! caller, the expected status, and the state unchanged after each refusal.

mod common;

use common::*;
use diemcau::auth::Role;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// Who calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Chair,
    /// Hải Dương's token, on a route about Hải Dương (or its own request).
    Itself,
    /// Hải Phòng's token, on a route about Hải Dương.
    Other,
    Technician,
    Viewer,
    NoToken,
    Expired,
    Forged,
    /// A chair token bound to another session.
    OtherSession,
}

const EVERYONE: [Who; 9] = [
    Who::Chair,
    Who::Itself,
    Who::Other,
    Who::Technician,
    Who::Viewer,
    Who::NoToken,
    Who::Expired,
    Who::Forged,
    Who::OtherSession,
];

fn token(server: &Server, who: Who) -> Option<String> {
    Some(match who {
        Who::Chair => server.chair(),
        Who::Itself => server.endpoint(HAI_DUONG),
        Who::Other => server.endpoint(HAI_PHONG),
        Who::Technician => server.technician(),
        Who::Viewer => server.viewer(),
        Who::NoToken => return None,
        Who::Expired => server.expired(),
        Who::Forged => server.forged(),
        Who::OtherSession => server.token(Role::Chair, None, Some("another")),
    })
}

fn refusal(who: Who) -> StatusCode {
    match who {
        Who::NoToken | Who::Expired | Who::Forged => StatusCode::UNAUTHORIZED,
        _ => StatusCode::FORBIDDEN,
    }
}

/// The state a command needs to be legal.
#[derive(Debug, Clone, Copy)]
enum Setup {
    /// Created, nobody connected.
    Scheduled,
    /// Live; the chair's site, Hải Dương and Hải Phòng connected.
    Live,
    /// Live with a roll call running.
    RollCall,
    /// Live; Hải Dương has request 1 pending.
    Request,
    /// Live; Hải Dương holds the floor.
    Holder,
    /// Live; requests 1 (Hải Dương) and 2 (Hải Phòng) pending.
    Queue,
    /// Live; Hải Dương holds the floor and presents.
    Presenting,
}

async fn prepare(server: &Server, id: &str, setup: Setup) {
    let chair = server.chair();
    server.create(id, "Phiên kiểm tra quyền").await;
    if matches!(setup, Setup::Scheduled) {
        return;
    }
    server.connect(id, &[CENTRAL, HAI_DUONG, HAI_PHONG]).await;
    server
        .ok(&format!("/api/sessions/{id}/start"), &chair, None)
        .await;
    let ask = |code: &'static str| {
        let path = format!("/api/sessions/{id}/floor/requests");
        let token = server.endpoint(code);
        async move { server.ok(&path, &token, None).await }
    };
    match setup {
        Setup::Scheduled | Setup::Live => {}
        Setup::RollCall => {
            server
                .ok(&format!("/api/sessions/{id}/rollcall"), &chair, None)
                .await;
        }
        Setup::Request => {
            ask(HAI_DUONG).await;
        }
        Setup::Holder | Setup::Presenting => {
            ask(HAI_DUONG).await;
            server
                .ok(
                    &format!("/api/sessions/{id}/floor/grant"),
                    &chair,
                    Some(json!({"request_id": 1})),
                )
                .await;
            if matches!(setup, Setup::Presenting) {
                // The floor holder starts by itself under the default rule.
                server
                    .ok(
                        &format!("/api/sessions/{id}/content/request"),
                        &server.endpoint(HAI_DUONG),
                        None,
                    )
                    .await;
            }
        }
        Setup::Queue => {
            ask(HAI_DUONG).await;
            ask(HAI_PHONG).await;
        }
    }
}

struct Case {
    method: Method,
    /// `{id}` is replaced by the session id.
    path: &'static str,
    body: Option<Value>,
    setup: Setup,
    allowed: &'static [Who],
    /// Routes where the endpoint comes from the token: another endpoint
    /// would legitimately act as itself, so `Other` is not a refusal case.
    implied_endpoint: bool,
}

fn cases() -> Vec<Case> {
    use Who::*;
    let case = |method: Method, path, body, setup, allowed, implied_endpoint| Case {
        method,
        path,
        body,
        setup,
        allowed,
        implied_endpoint,
    };
    vec![
        case(
            Method::POST,
            "/api/sessions/{id}/open",
            None,
            Setup::Scheduled,
            &[Chair],
            false,
        ),
        case(
            Method::POST,
            "/api/sessions/{id}/start",
            None,
            Setup::Scheduled,
            &[Chair],
            false,
        ),
        case(
            Method::POST,
            "/api/sessions/{id}/end",
            None,
            Setup::Live,
            &[Chair],
            false,
        ),
        case(
            Method::POST,
            "/api/sessions/{id}/rollcall",
            None,
            Setup::Live,
            &[Chair],
            false,
        ),
        case(
            Method::POST,
            "/api/sessions/{id}/rollcall/confirm",
            None,
            Setup::RollCall,
            &[Itself],
            true,
        ),
        case(
            Method::POST,
            "/api/sessions/{id}/rollcall/close",
            None,
            Setup::RollCall,
            &[Chair],
            false,
        ),
        case(
            Method::POST,
            "/api/sessions/{id}/floor/requests",
            Some(json!({"topic": "Xin phát biểu"})),
            Setup::Live,
            &[Itself],
            true,
        ),
        case(
            Method::DELETE,
            "/api/sessions/{id}/floor/requests/1",
            None,
            Setup::Request,
            &[Chair, Itself],
            false,
        ),
        case(
            Method::POST,
            "/api/sessions/{id}/floor/grant",
            Some(json!({"request_id": 1})),
            Setup::Request,
            &[Chair],
            false,
        ),
        case(
            Method::POST,
            "/api/sessions/{id}/floor/grant",
            Some(json!({"endpoint": HAI_DUONG})),
            Setup::Live,
            &[Chair],
            false,
        ),
        case(
            Method::POST,
            "/api/sessions/{id}/floor/deny",
            Some(json!({"request_id": 1})),
            Setup::Request,
            &[Chair],
            false,
        ),
        case(
            Method::POST,
            "/api/sessions/{id}/floor/revoke",
            None,
            Setup::Holder,
            &[Chair],
            false,
        ),
        case(
            Method::POST,
            "/api/sessions/{id}/floor/release",
            Some(json!({"endpoint": HAI_DUONG})),
            Setup::Holder,
            &[Chair, Itself],
            false,
        ),
        case(
            Method::PUT,
            "/api/sessions/{id}/floor/queue",
            Some(json!({"order": [2, 1]})),
            Setup::Queue,
            &[Chair],
            false,
        ),
        // Without a body the site is the caller's own: the chair's is its
        // room, which it may present from.
        case(
            Method::POST,
            "/api/sessions/{id}/content/request",
            None,
            Setup::Live,
            &[Chair, Itself],
            true,
        ),
        // Naming a province: only that province; the chair grants instead.
        case(
            Method::POST,
            "/api/sessions/{id}/content/request",
            Some(json!({"endpoint": HAI_DUONG})),
            Setup::Live,
            &[Itself],
            false,
        ),
        case(
            Method::POST,
            "/api/sessions/{id}/content/grant",
            Some(json!({"endpoint": HAI_DUONG})),
            Setup::Holder,
            &[Chair],
            false,
        ),
        case(
            Method::POST,
            "/api/sessions/{id}/content/revoke",
            None,
            Setup::Presenting,
            &[Chair],
            false,
        ),
        case(
            Method::POST,
            "/api/sessions/{id}/content/revoke",
            Some(json!({"endpoint": HAI_DUONG})),
            Setup::Presenting,
            &[Chair],
            false,
        ),
        case(
            Method::POST,
            "/api/sessions/{id}/content/release",
            Some(json!({"endpoint": HAI_DUONG})),
            Setup::Presenting,
            &[Itself],
            false,
        ),
        case(
            Method::PUT,
            "/api/sessions/{id}/mode",
            Some(json!({"mode": "lecture"})),
            Setup::Live,
            &[Chair],
            false,
        ),
        case(
            Method::PUT,
            "/api/sessions/{id}/speaking-limit",
            Some(json!({"seconds": 120})),
            Setup::Live,
            &[Chair],
            false,
        ),
        case(
            Method::PUT,
            "/api/sessions/{id}/endpoints/30/representative",
            Some(json!({"name": "Trần Văn Nam", "title": "Chủ tịch UBND tỉnh", "headcount": 12})),
            Setup::Live,
            &[Chair, Itself],
            false,
        ),
        // The holder's own token may not unmute itself, nor mute it.
        case(
            Method::PUT,
            "/api/sessions/{id}/endpoints/30/mute",
            Some(json!({"muted": true})),
            Setup::Holder,
            &[Chair],
            false,
        ),
        case(
            Method::POST,
            "/api/sessions/{id}/endpoints/30/connect",
            None,
            Setup::Scheduled,
            &[Chair, Technician],
            false,
        ),
        case(
            Method::POST,
            "/api/sessions/{id}/endpoints/30/disconnect",
            None,
            Setup::Live,
            &[Chair, Technician],
            false,
        ),
        case(
            Method::POST,
            "/api/sessions/{id}/endpoints/30/leave",
            None,
            Setup::Live,
            &[Chair, Technician, Itself],
            false,
        ),
    ]
}

/// Every command route refuses every caller it must (401 without a valid
/// token, 403 for a role, endpoint or session that may not), leaving the
/// state as it was, and accepts every caller it must.
#[tokio::test]
async fn every_command_route_with_every_caller() {
    let server = Server::start();
    let mut n = 0;
    for case in cases() {
        n += 1;
        let id = format!("m{n}");
        prepare(&server, &id, case.setup).await;
        let path = case.path.replace("{id}", &id);
        let before = server.state(&id).await;
        for who in EVERYONE {
            if case.allowed.contains(&who) || (who == Who::Other && case.implied_endpoint) {
                continue;
            }
            let (status, body) = server
                .call(
                    case.method.clone(),
                    &path,
                    token(&server, who).as_deref(),
                    case.body.clone(),
                )
                .await;
            assert_eq!(
                status,
                refusal(who),
                "{} {path} as {who:?}: {body}",
                case.method
            );
            assert!(
                body["error"].is_string() && body["message"].is_string(),
                "{body}"
            );
            assert_eq!(
                server.state(&id).await,
                before,
                "{path} as {who:?} changed the state"
            );
        }
        // Each allowed caller on its own fresh copy of the setup.
        for (k, who) in case.allowed.iter().enumerate() {
            let id = format!("m{n}-ok{k}");
            prepare(&server, &id, case.setup).await;
            let path = case.path.replace("{id}", &id);
            let (status, body) = server
                .call(
                    case.method.clone(),
                    &path,
                    token(&server, *who).as_deref(),
                    case.body.clone(),
                )
                .await;
            assert!(
                status.is_success(),
                "{} {path} as {who:?}: {status} {body}",
                case.method
            );
            assert_eq!(body["seq"], server.state(&id).await["events"], "{body}");
        }
    }
}

/// Creating a session is the chair's alone (and not with a token bound to
/// another session).
#[tokio::test]
async fn only_the_chair_creates_sessions() {
    let server = Server::start();
    let body = json!({"id": "moi", "title": "Phiên mới"});
    for who in EVERYONE {
        if who == Who::Chair {
            continue;
        }
        let (status, err) = server
            .call(
                Method::POST,
                "/api/sessions",
                token(&server, who).as_deref(),
                Some(body.clone()),
            )
            .await;
        assert_eq!(status, refusal(who), "create as {who:?}: {err}");
    }
    let (_, list) = server.get("/api/sessions", &server.chair()).await;
    assert_eq!(list, json!([]));
    let (status, _) = server
        .call(
            Method::POST,
            "/api/sessions",
            token(&server, Who::Chair).as_deref(),
            Some(body),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
}

/// Reading: the session and the floor for every valid token, the
/// attendance report for the chair and technicians, the links for the
/// chair and technicians, the viewer's cut without attendance details.
#[tokio::test]
async fn who_reads_what() {
    use Who::*;
    let server = Server::start();
    let id = "doc";
    prepare(&server, id, Setup::Live).await;
    let (status, _) = server
        .put(
            &format!("/api/sessions/{id}/endpoints/30/representative"),
            &server.endpoint(HAI_DUONG),
            json!({"name": "Trần Văn Nam", "title": "Chủ tịch UBND tỉnh"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let reads: [(&str, &[Who]); 11] = [
        (
            "/api/sessions/{id}",
            &[Chair, Itself, Other, Technician, Viewer],
        ),
        (
            "/api/sessions/{id}/floor",
            &[Chair, Itself, Other, Technician, Viewer],
        ),
        ("/api/sessions/{id}/attendance", &[Chair, Technician]),
        ("/api/sessions/{id}/speaking-log", &[Chair, Technician]),
        (
            "/api/sessions/{id}/speaking-log?format=csv",
            &[Chair, Technician],
        ),
        ("/api/sessions/{id}/minutes.pdf", &[Chair, Technician]),
        ("/api/sessions/{id}/minutes.pdf.sig", &[Chair, Technician]),
        // Whoever holds the minutes must be able to check them: no token
        // is asked for (nor looked at).
        ("/api/minutes/public-key", &EVERYONE),
        (
            "/api/sessions",
            &[Chair, Itself, Other, Technician, Viewer, OtherSession],
        ),
        (
            "/api/endpoints",
            &[Chair, Itself, Other, Technician, Viewer, OtherSession],
        ),
        ("/api/links", &[Chair, Technician, OtherSession]),
    ];
    for (path, allowed) in reads {
        let path = path.replace("{id}", id);
        for who in EVERYONE {
            let (status, body) = server
                .call(Method::GET, &path, token(&server, who).as_deref(), None)
                .await;
            let expected = if allowed.contains(&who) {
                StatusCode::OK
            } else {
                refusal(who)
            };
            assert_eq!(status, expected, "GET {path} as {who:?}: {body}");
        }
    }
    let (_, viewed) = server
        .get(&format!("/api/sessions/{id}"), &server.viewer())
        .await;
    assert!(viewed.get("attendance").is_none(), "{viewed}");
    // Who presents is public: a recorder labels the content it receives.
    assert_eq!(
        viewed["content"],
        json!({"presenter": null, "pending": []}),
        "{viewed}"
    );
    assert_eq!(viewed["endpoints"].as_array().map(Vec::len), Some(5));
    // A viewer is told which sites are muted (it is sent the events too).
    let (status, _) = server
        .put(
            &format!("/api/sessions/{id}/endpoints/30/mute"),
            &server.chair(),
            json!({"muted": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, viewed) = server
        .get(&format!("/api/sessions/{id}"), &server.viewer())
        .await;
    let muted: Vec<&Value> = viewed["endpoints"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["muted"] == true)
        .map(|e| &e["code"])
        .collect();
    assert_eq!(muted, [&json!("30")], "{viewed}");
    assert!(!viewed.to_string().contains("Trần Văn Nam"));
    // A session-bound token does not list other sessions.
    let (_, list) = server
        .get(
            "/api/sessions",
            &token(&server, OtherSession).unwrap_or_default(),
        )
        .await;
    assert_eq!(list, json!([]));
}

/// The socket applies the same rules as REST.
#[tokio::test]
async fn the_websocket_applies_the_same_rules() {
    let server = Server::start();
    let id = "ws-quyen";
    prepare(&server, id, Setup::Live).await;
    let before = server.state(id).await;

    let mut other = server.ws(&server.endpoint(HAI_PHONG), Some(id)).await;
    let refused = other
        .command(
            "a",
            json!({"command": "request_floor", "endpoint": HAI_DUONG, "topic": ""}),
        )
        .await;
    assert_eq!(refused["type"], "error");
    assert_eq!(refused["error"], "forbidden");
    let refused = other.command("b", json!({"command": "end"})).await;
    assert_eq!(refused["error"], "forbidden");

    let mut viewer = server.ws(&server.viewer(), Some(id)).await;
    let refused = viewer
        .command("c", json!({"command": "set_mode", "mode": "open"}))
        .await;
    assert_eq!(refused["error"], "forbidden");

    let mut tech = server.ws(&server.technician(), Some(id)).await;
    let refused = tech
        .command("d", json!({"command": "start_roll_call"}))
        .await;
    assert_eq!(refused["error"], "forbidden");

    let mut chair = server.ws(&server.chair(), Some(id)).await;
    let refused = chair.command("e", json!({"command": "tick"})).await;
    assert_eq!(refused["error"], "forbidden");
    let refused = chair
        .command(
            "f",
            json!({"command": "request_floor", "endpoint": HAI_DUONG}),
        )
        .await;
    assert_eq!(refused["error"], "forbidden");
    let mute =
        |code: &str, muted: bool| json!({"command": "set_muted", "endpoint": code, "muted": muted});
    let refused = other.command("g", mute(HAI_PHONG, false)).await;
    assert_eq!(
        refused["error"], "forbidden",
        "a site may not unmute itself"
    );
    let refused = tech.command("h", mute(HAI_DUONG, true)).await;
    assert_eq!(refused["error"], "forbidden");
    // The content token: a site asks and stops for itself only, only the
    // chair grants and revokes, and the chair presents from its own room.
    let content = |command: &str, code: Option<&str>| match code {
        Some(code) => json!({"command": command, "endpoint": code}),
        None => json!({"command": command}),
    };
    for (n, (who, command)) in [
        (Who::Other, content("request_content", Some(HAI_DUONG))),
        (Who::Other, content("release_content", Some(HAI_DUONG))),
        (Who::Other, content("grant_content", Some(HAI_PHONG))),
        (Who::Other, content("revoke_content", None)),
        (Who::Technician, content("request_content", Some(HAI_DUONG))),
        (Who::Technician, content("grant_content", Some(CENTRAL))),
        (Who::Technician, content("revoke_content", None)),
        (Who::Viewer, content("grant_content", Some(CENTRAL))),
        (Who::Viewer, content("release_content", Some(CENTRAL))),
        (Who::Chair, content("request_content", Some(HAI_DUONG))),
        (Who::Chair, content("release_content", Some(HAI_DUONG))),
    ]
    .into_iter()
    .enumerate()
    {
        let socket = match who {
            Who::Other => &mut other,
            Who::Technician => &mut tech,
            Who::Viewer => &mut viewer,
            _ => &mut chair,
        };
        let refused = socket
            .command(&format!("content-{n}"), command.clone())
            .await;
        assert_eq!(
            refused["error"], "forbidden",
            "{who:?} {command}: {refused}"
        );
    }
    assert_eq!(server.state(id).await, before);

    let done = chair.command("i", mute(HAI_DUONG, true)).await;
    assert_eq!(done["type"], "ok", "{done}");
    assert_eq!(server.state(id).await["muted"], json!([HAI_DUONG]));
    let done = chair
        .command("j", content("request_content", Some(CENTRAL)))
        .await;
    assert_eq!(done["type"], "ok", "{done}");
    assert_eq!(
        server.state(id).await["content"]["presenter"]["endpoint"],
        CENTRAL
    );
    let done = other
        .command("k", content("request_content", Some(HAI_PHONG)))
        .await;
    assert_eq!(done["type"], "ok", "{done}");
    let done = chair.command("l", content("revoke_content", None)).await;
    assert_eq!(done["type"], "ok", "{done}");
    let content_now = &server.state(id).await["content"];
    assert!(content_now["presenter"].is_null(), "{content_now}");
    assert_eq!(
        content_now["pending"][0]["endpoint"], HAI_PHONG,
        "{content_now}"
    );

    // A bound token cannot follow another session; bad tokens are refused
    // before the upgrade.
    let other_session = server.token(Role::Chair, None, Some("another"));
    for (token, expected) in [
        (other_session, StatusCode::FORBIDDEN),
        (server.expired(), StatusCode::UNAUTHORIZED),
        (server.forged(), StatusCode::UNAUTHORIZED),
    ] {
        let url = format!("ws://{}/ws?token={token}&session={id}", server.addr);
        match tokio_tungstenite::connect_async(url).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
                assert_eq!(resp.status().as_u16(), expected.as_u16());
            }
            other => panic!("expected a refused handshake, got {:?}", other.map(|_| ())),
        }
    }
}

/// A token bound to one session gets the same 403 for every other session
/// id, on every route that names one, whether that session exists or not:
/// it cannot tell which sessions exist. Its own session still answers.
#[tokio::test]
async fn a_bound_token_cannot_tell_which_other_sessions_exist() {
    let server = Server::start();
    server.create("hop-a", "Phiên của token").await;
    server.create("hop-b", "Phiên khác").await;
    let bound = |role, endpoint| server.token(role, endpoint, Some("hop-a"));
    let tokens = [
        bound(Role::Chair, None),
        bound(Role::Technician, None),
        bound(Role::Viewer, None),
        bound(Role::Endpoint, Some(HAI_DUONG)),
    ];
    let routes: [(Method, &str, Option<Value>); 16] = [
        (Method::GET, "/api/sessions/{id}", None),
        (Method::GET, "/api/sessions/{id}/floor", None),
        (Method::GET, "/api/sessions/{id}/attendance", None),
        (Method::GET, "/api/sessions/{id}/speaking-log", None),
        (
            Method::GET,
            "/api/sessions/{id}/speaking-log?format=vtt&recording=x.webm",
            None,
        ),
        (Method::GET, "/api/sessions/{id}/minutes.pdf", None),
        (Method::GET, "/api/sessions/{id}/minutes.pdf.sig", None),
        (Method::GET, "/api/sessions/{id}/link-tests", None),
        (Method::POST, "/api/sessions/{id}/open", None),
        (Method::POST, "/api/sessions/{id}/floor/requests", None),
        // Without a body the chair's site is looked up in the session:
        // the scope check must come first all the same.
        (Method::POST, "/api/sessions/{id}/content/request", None),
        (Method::POST, "/api/sessions/{id}/content/release", None),
        (
            Method::PUT,
            "/api/sessions/{id}/mode",
            Some(json!({"mode": "open"})),
        ),
        (
            Method::POST,
            "/api/sessions/{id}/endpoints/30/link-test",
            Some(json!({"seconds": 5})),
        ),
        (
            Method::POST,
            "/api/sessions/{id}/endpoints/30/connect",
            None,
        ),
        (Method::DELETE, "/whip/{id}/1", None),
    ];
    for token in &tokens {
        let claims = server.keys.verify(token).expect("a valid token");
        for (method, path, body) in &routes {
            let mut seen = Vec::new();
            for other in ["hop-b", "khong-co"] {
                let path = path.replace("{id}", other);
                let (status, err) = server
                    .call(method.clone(), &path, Some(token), body.clone())
                    .await;
                assert_eq!(
                    status,
                    StatusCode::FORBIDDEN,
                    "{method} {path} as {:?}: {err}",
                    claims.role
                );
                assert_eq!(err["error"], "forbidden", "{err}");
                let message = err["message"].as_str().unwrap_or_default();
                seen.push(message.replace(other, "ID"));
            }
            assert_eq!(seen[0], seen[1], "{method} {path}: the answers differ");
        }
        for base in ["/whip", "/whep"] {
            for other in ["hop-b", "khong-co"] {
                let resp = server
                    .raw(Method::POST, &format!("{base}/{other}"))
                    .bearer_auth(token)
                    .header("content-type", "application/sdp")
                    .body("v=0\r\n")
                    .send()
                    .await
                    .expect("offer sent");
                assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{base}/{other}");
            }
        }
        for other in ["hop-b", "khong-co"] {
            let url = format!("ws://{}/ws?token={token}&session={other}", server.addr);
            match tokio_tungstenite::connect_async(url).await {
                Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
                    assert_eq!(resp.status().as_u16(), 403, "/ws for {other}");
                }
                other => panic!("expected a refused handshake, got {:?}", other.map(|_| ())),
            }
        }
        let (status, own) = server.get("/api/sessions/hop-a", token).await;
        assert_eq!(status, StatusCode::OK, "{own}");
    }
}

/// An endpoint reads the session without the other sites' attendance
/// details (who presides, the headcount), over REST, in the WebSocket
/// snapshot and in its events; its own site's it sees. The chair and
/// technicians see every site's.
#[tokio::test]
async fn an_endpoint_reads_only_its_own_sites_representative() {
    let running = Server::start();
    let server = &running;
    let id = "dai-dien";
    prepare(server, id, Setup::Live).await;
    let set = |code: &'static str, name: &'static str, headcount: u32| {
        let path = format!("/api/sessions/{id}/endpoints/{code}/representative");
        let token = server.endpoint(code);
        let body = json!({"name": name, "title": "Chủ tịch UBND tỉnh", "headcount": headcount});
        async move {
            let (status, err) = server.put(&path, &token, body).await;
            assert_eq!(status, StatusCode::OK, "{err}");
        }
    };
    set(HAI_DUONG, "Trần Văn Nam", 12).await;
    set(HAI_PHONG, "Lê Thị Hoa", 7).await;

    let path = format!("/api/sessions/{id}");
    let (status, seen) = server.get(&path, &server.endpoint(HAI_DUONG)).await;
    assert_eq!(status, StatusCode::OK);
    let own = &seen["attendance"][HAI_DUONG];
    assert_eq!(own["representative"]["name"], "Trần Văn Nam", "{seen}");
    assert_eq!(own["headcount"], 12);
    let other = &seen["attendance"][HAI_PHONG];
    assert!(other["representative"].is_null(), "{other}");
    assert!(other["headcount"].is_null(), "{other}");
    assert_eq!(
        other["status"], "connected",
        "the rest of the state is there"
    );
    assert!(!seen.to_string().contains("Lê Thị Hoa"), "{seen}");
    for token in [server.chair(), server.technician()] {
        let (_, full) = server.get(&path, &token).await;
        assert_eq!(
            full["attendance"][HAI_PHONG]["representative"]["name"],
            "Lê Thị Hoa"
        );
        assert_eq!(full["attendance"][HAI_PHONG]["headcount"], 7);
        assert_eq!(full["attendance"][HAI_DUONG]["headcount"], 12);
    }

    let mut socket = server.ws(&server.endpoint(HAI_DUONG), Some(id)).await;
    let snapshot = socket.until("snapshot").await;
    assert_eq!(
        snapshot["session"]["attendance"][HAI_DUONG]["representative"]["name"],
        "Trần Văn Nam"
    );
    assert!(!snapshot.to_string().contains("Lê Thị Hoa"), "{snapshot}");
    // Hải Phòng's change is not sent; Hải Dương's own, made after it, is.
    set(HAI_PHONG, "Phạm Văn Đức", 9).await;
    set(HAI_DUONG, "Trần Văn Nam", 14).await;
    let event = socket.event("representative_set").await;
    assert_eq!(event["event"]["endpoint"], HAI_DUONG, "{event}");
    assert_eq!(event["event"]["headcount"], 14, "{event}");
}
