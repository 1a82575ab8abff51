//! A whole chaired session through the real server binary, over REST and
//! the WebSocket; and the same session surviving a SIGKILL.

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

fn attendance_of<'a>(state: &'a Value, code: &str) -> &'a Value {
    &state["attendance"][code]
}

/// Open, connect, start, roll call, floor requests / grant / queue /
/// revoke / release, modes, speaking limit, muting, representative, attendance
/// (JSON and CSV), end: every step answered, every event streamed in order.
#[tokio::test]
async fn a_whole_chaired_session() {
    let server = Server::start();
    let chair = server.chair();
    let id = "hop-toan-quoc";

    let created = server.create(id, "Hội nghị trực tuyến toàn quốc").await;
    assert_eq!(created["phase"], "scheduled");
    let (status, list) = server.get("/api/sessions", &chair).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list[0]["id"], id);

    // The chair's console follows the session from the start.
    let mut chair_ws = server.ws(&chair, Some(id)).await;
    let welcome = chair_ws.recv().await;
    assert_eq!(welcome["type"], "welcome");
    assert_eq!(welcome["role"], "chair");
    // The pages grade their own link by the server's thresholds.
    assert_eq!(welcome["health"]["loss_bad_pct"], 8.0, "{welcome}");
    assert_eq!(welcome["health"]["rtt_warn_ms"], 150.0, "{welcome}");
    assert_eq!(welcome["session"], id);
    let snapshot = chair_ws.recv().await;
    assert_eq!(snapshot["type"], "snapshot");
    assert_eq!(snapshot["seq"], 1);

    server
        .ok(&format!("/api/sessions/{id}/open"), &chair, None)
        .await;
    server
        .connect(id, &[CENTRAL, HAI_DUONG, HAI_PHONG, HA_NOI])
        .await;

    // An endpoint's console: no session named, it finds the current one.
    let mut hd_ws = server.ws(&server.endpoint(HAI_DUONG), None).await;
    let welcome = hd_ws.recv().await;
    assert_eq!(welcome["endpoint"], HAI_DUONG);
    assert_eq!(welcome["session"], id);
    let snapshot = hd_ws.until("snapshot").await;
    assert_eq!(
        snapshot["session"]["attendance"][HAI_DUONG]["status"],
        "connected"
    );

    let started = server
        .ok(&format!("/api/sessions/{id}/start"), &chair, None)
        .await;
    assert_eq!(started["events"][0]["event"], "started");

    // Roll call: Hải Dương answers over REST, Hải Phòng over the socket,
    // Hà Nội does not answer, Hồ Chí Minh is absent.
    server
        .ok(
            &format!("/api/sessions/{id}/rollcall"),
            &chair,
            Some(json!({"deadline_secs": 120})),
        )
        .await;
    hd_ws.event("roll_call_started").await;
    server
        .ok(
            &format!("/api/sessions/{id}/rollcall/confirm"),
            &server.endpoint(HAI_DUONG),
            None,
        )
        .await;
    let mut hp_ws = server.ws(&server.endpoint(HAI_PHONG), Some(id)).await;
    hp_ws.until("snapshot").await;
    let ok = hp_ws
        .command(
            "c1",
            json!({"command": "confirm_roll_call", "endpoint": HAI_PHONG}),
        )
        .await;
    assert_eq!(ok["type"], "ok", "{ok}");
    let closed = server
        .ok(&format!("/api/sessions/{id}/rollcall/close"), &chair, None)
        .await;
    let tally = &closed["events"][0];
    assert_eq!(tally["event"], "roll_call_closed");
    assert_eq!(tally["present"], json!([HAI_DUONG, HAI_PHONG]));
    assert_eq!(tally["missing"], json!([HA_NOI, HO_CHI_MINH]));

    // Who presides in Hải Dương, said by the site itself.
    let (status, _) = server
        .put(
            &format!("/api/sessions/{id}/endpoints/{HAI_DUONG}/representative"),
            &server.endpoint(HAI_DUONG),
            json!({"name": "Nguyễn Minh Hùng", "title": "Phó Chủ tịch UBND tỉnh", "headcount": 25}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    // Floor: two requests queue up, the chair reorders and grants.
    let (status, r1) = server
        .post(
            &format!("/api/sessions/{id}/floor/requests"),
            &server.endpoint(HAI_DUONG),
            Some(json!({"topic": "Tiến độ giải ngân vốn đầu tư công"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{r1}");
    let r1 = r1["request_id"].as_u64().expect("request id");
    let asked = hp_ws
        .command(
            "c2",
            json!({"command": "request_floor", "endpoint": HAI_PHONG, "topic": "Cảng biển"}),
        )
        .await;
    assert_eq!(asked["type"], "ok", "{asked}");
    let (_, floor) = server
        .get(&format!("/api/sessions/{id}/floor"), &chair)
        .await;
    let queue: Vec<u64> = serde_json::from_value(floor["queue"].clone()).expect("queue");
    assert_eq!(queue.len(), 2);
    let r2 = queue[1];
    let (status, _) = server
        .put(
            &format!("/api/sessions/{id}/floor/queue"),
            &chair,
            json!({"order": [r2, r1]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    server
        .ok(
            &format!("/api/sessions/{id}/floor/grant"),
            &chair,
            Some(json!({"request_id": r2})),
        )
        .await;
    let granted = hd_ws.event("floor_granted").await;
    assert_eq!(granted["event"]["endpoint"], HAI_PHONG);

    // Hải Phòng hands the floor back; the chair then grants Hải Dương and
    // takes it back; finally calls on Hà Nội unasked, who releases it.
    server
        .ok(
            &format!("/api/sessions/{id}/floor/release"),
            &server.endpoint(HAI_PHONG),
            None,
        )
        .await;
    server
        .ok(
            &format!("/api/sessions/{id}/floor/grant"),
            &chair,
            Some(json!({"request_id": r1})),
        )
        .await;
    server
        .ok(&format!("/api/sessions/{id}/floor/revoke"), &chair, None)
        .await;
    let called = server
        .ok(
            &format!("/api/sessions/{id}/floor/grant"),
            &chair,
            Some(json!({"endpoint": HA_NOI})),
        )
        .await;
    assert_eq!(called["events"][0]["called_on"], true);
    server
        .ok(
            &format!("/api/sessions/{id}/floor/release"),
            &chair,
            Some(json!({"endpoint": HA_NOI})),
        )
        .await;

    // A request withdrawn by its own site.
    let (_, r3) = server
        .post(
            &format!("/api/sessions/{id}/floor/requests"),
            &server.endpoint(HAI_DUONG),
            None,
        )
        .await;
    let r3 = r3["request_id"].as_u64().expect("request id");
    let (status, _) = server
        .delete(
            &format!("/api/sessions/{id}/floor/requests/{r3}"),
            &server.endpoint(HAI_DUONG),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    // Modes and the speaking limit.
    for mode in ["lecture", "open", "chaired"] {
        let (status, body) = server
            .put(
                &format!("/api/sessions/{id}/mode"),
                &chair,
                json!({"mode": mode}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(server.state(id).await["mode"], mode);
    }
    let (status, _) = server
        .put(
            &format!("/api/sessions/{id}/speaking-limit"),
            &chair,
            json!({"seconds": 300, "auto_revoke": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let state = server.state(id).await;
    assert_eq!(state["floor"]["speaking_limit_secs"], 300);
    assert_eq!(state["floor"]["auto_revoke"], true);

    // The chair mutes Hải Dương; the site's own console is told.
    let mute = format!("/api/sessions/{id}/endpoints/{HAI_DUONG}/mute");
    let (status, body) = server.put(&mute, &chair, json!({"muted": true})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["events"][0]["event"], "endpoint_muted");
    let muted = hd_ws.event("endpoint_muted").await;
    assert_eq!(muted["event"]["endpoint"], HAI_DUONG);
    assert_eq!(server.state(id).await["muted"], json!([HAI_DUONG]));
    // Muting it again changes nothing and logs nothing.
    let (status, again) = server.put(&mute, &chair, json!({"muted": true})).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["events"], json!([]));
    assert_eq!(again["seq"], body["seq"]);
    let (_, body) = server.put(&mute, &chair, json!({"muted": false})).await;
    assert_eq!(body["events"][0]["event"], "endpoint_unmuted");
    assert_eq!(server.state(id).await["muted"], json!([]));

    // Attendance as JSON, while live.
    let (status, report) = server
        .get(&format!("/api/sessions/{id}/attendance"), &chair)
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let rows = report["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 5);

    server
        .ok(&format!("/api/sessions/{id}/end"), &chair, None)
        .await;
    let state = server.state(id).await;
    assert_eq!(state["phase"], "ended");
    assert_eq!(attendance_of(&state, HAI_DUONG)["status"], "present");
    assert_eq!(attendance_of(&state, HA_NOI)["status"], "connected");
    assert_eq!(attendance_of(&state, HO_CHI_MINH)["status"], "absent");
    assert_eq!(
        attendance_of(&state, HAI_DUONG)["representative"]["name"],
        "Nguyễn Minh Hùng"
    );

    // The CSV: UTF-8 with a byte-order mark, a file name, the diacritics.
    let resp = server
        .raw(
            Method::GET,
            &format!("/api/sessions/{id}/attendance?format=csv"),
        )
        .bearer_auth(&chair)
        .send()
        .await
        .expect("csv");
    assert_eq!(resp.status(), StatusCode::OK);
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(header("content-type"), "text/csv; charset=utf-8");
    assert!(header("content-disposition").contains(&format!("attendance-{id}.csv")));
    let bytes = resp.bytes().await.expect("csv body");
    assert_eq!(&bytes[..3], b"\xEF\xBB\xBF");
    let text = String::from_utf8(bytes.to_vec()).expect("utf-8");
    assert!(text.contains("Hải Dương"));
    assert!(text.contains("Nguyễn Minh Hùng"));

    // The chair's socket saw every event, in order, with no gap.
    let final_seq = state["events"].as_u64().expect("events");
    let mut expected = 2;
    for _ in 0..500 {
        if expected > final_seq {
            break;
        }
        let m = chair_ws.recv().await;
        if m["type"] == "event" {
            assert_eq!(m["seq"], expected, "{m}");
            expected += 1;
        }
    }
    assert_eq!(expected, final_seq + 1);
}

/// A server killed with SIGKILL mid-session (floor granted, a queue of two,
/// roll call done, a site muted) restarts on the same data dir with
/// attendance, holder, queue, mode and mutes exactly as before.
#[tokio::test]
async fn the_session_survives_a_crash() {
    let mut server = Server::start();
    let chair = server.chair();
    let id = "truoc-va-sau";
    server.create(id, "Họp giao ban").await;
    server
        .ok(&format!("/api/sessions/{id}/open"), &chair, None)
        .await;
    server
        .connect(id, &[CENTRAL, HAI_DUONG, HAI_PHONG, HA_NOI, HO_CHI_MINH])
        .await;
    server
        .ok(&format!("/api/sessions/{id}/start"), &chair, None)
        .await;
    server
        .ok(&format!("/api/sessions/{id}/rollcall"), &chair, None)
        .await;
    for code in [HAI_DUONG, HAI_PHONG, HA_NOI] {
        server
            .ok(
                &format!("/api/sessions/{id}/rollcall/confirm"),
                &server.endpoint(code),
                None,
            )
            .await;
    }
    server
        .ok(&format!("/api/sessions/{id}/rollcall/close"), &chair, None)
        .await;
    let (status, _) = server
        .put(
            &format!("/api/sessions/{id}/mode"),
            &chair,
            json!({"mode": "open"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    for code in [HAI_DUONG, HAI_PHONG, HA_NOI] {
        server
            .ok(
                &format!("/api/sessions/{id}/floor/requests"),
                &server.endpoint(code),
                Some(json!({"topic": format!("Ý kiến của {code}")})),
            )
            .await;
    }
    server
        .ok(
            &format!("/api/sessions/{id}/floor/grant"),
            &chair,
            Some(json!({"endpoint": HAI_PHONG})),
        )
        .await;
    server
        .ok(
            &format!("/api/sessions/{id}/endpoints/{HO_CHI_MINH}/disconnect"),
            &server.technician(),
            None,
        )
        .await;
    // The holder muted, and another site muted then unmuted.
    for (code, muted) in [(HAI_PHONG, true), (HA_NOI, true), (HA_NOI, false)] {
        let (status, body) = server
            .put(
                &format!("/api/sessions/{id}/endpoints/{code}/mute"),
                &chair,
                json!({"muted": muted}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    let before = server.state(id).await;
    assert_eq!(before["floor"]["queue"].as_array().map(Vec::len), Some(2));
    assert_eq!(before["floor"]["holders"].as_array().map(Vec::len), Some(1));
    let (_, report_before) = server
        .get(&format!("/api/sessions/{id}/attendance"), &chair)
        .await;

    server.crash_and_restart();

    let after = server.state(id).await;
    assert_eq!(after, before, "state after restart differs");
    assert_eq!(after["mode"], "open");
    assert_eq!(after["phase"], "live");
    assert_eq!(after["attendance"][HAI_DUONG]["status"], "present");
    assert_eq!(after["attendance"][HO_CHI_MINH]["status"], "dropped");
    assert_eq!(after["muted"], json!([HAI_PHONG]));
    let (_, report_after) = server
        .get(&format!("/api/sessions/{id}/attendance"), &chair)
        .await;
    for (b, a) in report_before["rows"]
        .as_array()
        .into_iter()
        .flatten()
        .zip(report_after["rows"].as_array().into_iter().flatten())
    {
        assert_eq!(a["code"], b["code"]);
        assert_eq!(a["status"], b["status"]);
        assert_eq!(a["disconnects"], b["disconnects"]);
        assert_eq!(a["lateness_ms"], b["lateness_ms"]);
    }

    // And the restarted server carries on from there.
    let (status, body) = server
        .post(
            &format!("/api/sessions/{id}/floor/release"),
            &server.endpoint(HAI_PHONG),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["seq"],
        after["events"].as_u64().map(|n| n + 1).unwrap_or(0)
    );
}

/// The names of `events` in an outcome, in order.
fn event_names(outcome: &Value) -> Vec<String> {
    outcome["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["event"].as_str().map(str::to_string))
        .collect()
}

/// Presentation sharing end to end: a request that waits, the floor
/// holder starting by itself, the chair's socket told, the viewer's cut
/// naming the presenter, a SIGKILL that changes nothing, and the token
/// going with the floor afterwards.
#[tokio::test]
async fn presentation_is_shared_and_survives_a_crash() {
    let mut server = Server::start();
    let chair = server.chair();
    let hd = server.endpoint(HAI_DUONG);
    let id = "trinh-chieu";
    server.create(id, "Hội nghị có trình chiếu").await;
    server.connect(id, &[CENTRAL, HAI_DUONG, HAI_PHONG]).await;
    server
        .ok(&format!("/api/sessions/{id}/start"), &chair, None)
        .await;
    let mut chair_ws = server.ws(&chair, Some(id)).await;
    let snapshot = chair_ws.until("snapshot").await;
    assert_eq!(
        snapshot["session"]["content"],
        json!({"presenter": null, "pending": []})
    );

    let request = format!("/api/sessions/{id}/content/request");
    let asked = server.ok(&request, &hd, None).await;
    assert_eq!(event_names(&asked), ["content_requested"], "{asked}");
    server
        .ok(
            &format!("/api/sessions/{id}/floor/grant"),
            &chair,
            Some(json!({"endpoint": HAI_DUONG})),
        )
        .await;
    // On the floor now: the same request takes the token at once.
    let started = server.ok(&request, &hd, None).await;
    assert_eq!(event_names(&started), ["content_granted"], "{started}");
    assert_eq!(started["events"][0]["by_chair"], false);
    let event = chair_ws.event("content_granted").await;
    assert_eq!(event["event"]["endpoint"], HAI_DUONG, "{event}");
    assert_eq!(event["seq"], started["seq"]);
    server.ok(&request, &server.endpoint(HAI_PHONG), None).await;

    let (_, viewed) = server
        .get(&format!("/api/sessions/{id}"), &server.viewer())
        .await;
    assert_eq!(viewed["content"]["presenter"]["endpoint"], HAI_DUONG);
    assert_eq!(viewed["content"]["pending"][0]["endpoint"], HAI_PHONG);

    let before = server.state(id).await;
    server.crash_and_restart();
    let after = server.state(id).await;
    assert_eq!(after, before, "state after restart differs");
    assert_eq!(after["content"]["presenter"]["endpoint"], HAI_DUONG);

    // The default rule: the presentation ends with the floor.
    let revoked = server
        .ok(&format!("/api/sessions/{id}/floor/revoke"), &chair, None)
        .await;
    assert_eq!(
        event_names(&revoked),
        ["floor_revoked", "content_revoked"],
        "{revoked}"
    );
    assert_eq!(revoked["events"][1]["reason"], "floor_lost");
    let (status, err) = server
        .post(&format!("/api/sessions/{id}/content/release"), &hd, None)
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{err}");
    assert_eq!(err["error"], "not_presenter");
    let state = server.state(id).await;
    assert!(state["content"]["presenter"].is_null(), "{state}");
}

/// The deadline timer closes a roll call nobody closed.
#[tokio::test]
async fn the_roll_call_closes_at_its_deadline() {
    let server = Server::start();
    let chair = server.chair();
    let id = "han-diem-danh";
    server.create(id, "Điểm danh").await;
    server.connect(id, &[HAI_DUONG]).await;
    server
        .ok(&format!("/api/sessions/{id}/start"), &chair, None)
        .await;
    let mut ws = server.ws(&chair, Some(id)).await;
    ws.until("snapshot").await;
    server
        .ok(
            &format!("/api/sessions/{id}/rollcall"),
            &chair,
            Some(json!({"deadline_secs": 5})),
        )
        .await;
    let closed = ws.event("roll_call_closed").await;
    assert_eq!(closed["event"]["reason"], "deadline");
    assert_eq!(
        server.state(id).await["roll_calls"][0]["closed"][1],
        "deadline"
    );
}

/// The OpenAPI document names every route of the REST surface, and
/// describes WHIP and WHEP: SDP bodies, `Location`, and their error codes.
#[tokio::test]
async fn openapi_describes_the_api() {
    let server = Server::start();
    let (status, doc) = server
        .call(Method::GET, "/api/openapi.json", None, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let paths = doc["paths"].as_object().expect("paths");
    for path in [
        "/api/sessions",
        "/api/sessions/{id}",
        "/api/sessions/{id}/open",
        "/api/sessions/{id}/start",
        "/api/sessions/{id}/end",
        "/api/sessions/{id}/attendance",
        "/api/sessions/{id}/rollcall",
        "/api/sessions/{id}/rollcall/confirm",
        "/api/sessions/{id}/rollcall/close",
        "/api/sessions/{id}/floor",
        "/api/sessions/{id}/floor/requests",
        "/api/sessions/{id}/floor/requests/{rid}",
        "/api/sessions/{id}/floor/grant",
        "/api/sessions/{id}/floor/deny",
        "/api/sessions/{id}/floor/revoke",
        "/api/sessions/{id}/floor/release",
        "/api/sessions/{id}/floor/queue",
        "/api/sessions/{id}/content/request",
        "/api/sessions/{id}/content/grant",
        "/api/sessions/{id}/content/revoke",
        "/api/sessions/{id}/content/release",
        "/api/sessions/{id}/mode",
        "/api/sessions/{id}/speaking-limit",
        "/api/sessions/{id}/endpoints/{code}/representative",
        "/api/sessions/{id}/endpoints/{code}/mute",
        "/api/endpoints",
        "/api/links",
        "/whip/{id}",
        "/whip/{id}/{peer}",
        "/whep/{id}",
        "/whep/{id}/{peer}",
    ] {
        assert!(paths.contains_key(path), "openapi lacks {path}");
    }
    for (base, conflicts) in [
        ("/whip", &["already_publishing", "wrong_phase"][..]),
        ("/whep", &["wrong_phase"][..]),
    ] {
        let offer = &paths[&format!("{base}/{{id}}")]["post"];
        assert_eq!(
            offer["requestBody"]["content"]["application/sdp"]["schema"]["type"], "string",
            "{base}: the offer is an application/sdp text body: {offer}"
        );
        assert_eq!(offer["security"], json!([{"bearer": []}]), "{base}");
        let created = &offer["responses"]["201"];
        assert_eq!(
            created["content"]["application/sdp"]["schema"]["type"], "string",
            "{base}: the answer is application/sdp: {created}"
        );
        assert!(
            created["headers"]["Location"].is_object(),
            "{base}: 201 carries Location: {created}"
        );
        let mut codes = vec![
            ("400", "malformed_sdp"),
            ("400", "unacceptable_sdp"),
            ("401", "missing_token"),
            ("403", ""),
            ("404", "unknown_session"),
            ("413", "payload_too_large"),
            ("415", "unsupported_media_type"),
        ];
        codes.extend(conflicts.iter().map(|code| ("409", *code)));
        for (status, code) in codes {
            assert_error(
                &offer["responses"][status],
                code,
                &format!("POST {base} {status}"),
            );
        }
        let resource = &paths[&format!("{base}/{{id}}/{{peer}}")];
        let end = &resource["delete"];
        assert!(end["responses"]["200"].is_object(), "DELETE {base}: {end}");
        assert_eq!(end["security"], json!([{"bearer": []}]), "{base}");
        assert_error(
            &end["responses"]["404"],
            "unknown_peer",
            &format!("DELETE {base}"),
        );
        assert_error(
            &resource["patch"]["responses"]["405"],
            "trickle_unsupported",
            &format!("PATCH {base}"),
        );
    }
    let schemas = doc["components"]["schemas"].as_object().expect("schemas");
    for schema in [
        "Session",
        "FloorState",
        "ContentState",
        "Event",
        "Command",
        "ErrorBody",
        "Outcome",
        "AttendanceReport",
    ] {
        assert!(
            schemas.contains_key(schema),
            "openapi lacks schema {schema}"
        );
    }
    let (status, _) = server.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(status, StatusCode::OK);
    let resp = server
        .raw(Method::GET, "/chair")
        .send()
        .await
        .expect("chair page");
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.text().await.expect("html").contains("<html"));
}

/// An error response in the OpenAPI document: the shared error body, and
/// its description names the `error` code.
fn assert_error(response: &Value, code: &str, what: &str) {
    assert_eq!(
        response["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/ErrorBody",
        "{what}: {response}"
    );
    let description = response["description"].as_str().unwrap_or_default();
    assert!(
        description.contains(code),
        "{what} names {code}: {response}"
    );
}

/// SIGTERM stops the server cleanly, closing open sockets first.
#[tokio::test]
async fn sigterm_stops_the_server_cleanly() {
    let mut server = Server::start();
    server.create("dung", "Dừng máy").await;
    let mut ws = server.ws(&server.chair(), Some("dung")).await;
    ws.until("snapshot").await;
    let stopped = tokio::task::spawn_blocking(move || {
        let ok = server.terminate();
        (ok, server)
    });
    let mut closed = false;
    for _ in 0..10 {
        if ws.next().await.is_none() {
            closed = true;
            break;
        }
    }
    assert!(closed, "the socket was not closed on shutdown");
    let (ok, server) = stopped.await.expect("join");
    assert!(
        ok,
        "the server did not exit cleanly; log:\n{}",
        server.log()
    );
}
