//! The document against serde: every schema accepts what serde writes for
//! its type (and no property serde does not write), the types that are
//! read back take it again unchanged, and the command and event names are
//! the ones serde knows.

use super::{command_names, document, SERVER_COMMANDS};
use crate::control::{
    Command, ContentEnd, EndpointCode, EndpointInfo, EndpointRole, Event, EventKind, GrantTarget,
    Millis, Mode, RecordingEnd, RequestId, RollCallEnd, Rules, Session, SessionId, SessionSpec,
};
use crate::http::caller::Caller;
use crate::speaking_log::{PresentationEnd, TurnEnd};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use strum::VariantArray;
use utoipa::ToSchema;

/// Every tag serde knows for an internally tagged enum, read from its
/// refusal of an unknown one ("… expected one of `a`, `b`"), so a new
/// variant is caught here even when nobody writes an example of it.
fn serde_tags<T: DeserializeOwned + std::fmt::Debug>(tag: &str) -> BTreeSet<String> {
    let refusal = serde_json::from_value::<T>(json!({ tag: "no such tag" }))
        .expect_err("an unknown tag is refused")
        .to_string();
    let listed = refusal
        .split_once("expected one of ")
        .map(|(_, rest)| rest)
        .unwrap_or_default();
    let tags: BTreeSet<String> = listed
        .split(", ")
        .map(|t| t.trim_matches(|c: char| c == '`' || c.is_whitespace()))
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect();
    assert!(!tags.is_empty(), "no tag list in {refusal:?}");
    tags
}

/// The values the document allows for the `tag` property anywhere under
/// schema `name` (through `$ref`, `allOf` and `oneOf`).
fn documented_tags(doc: &Value, name: &str, tag: &str) -> BTreeSet<String> {
    fn walk(doc: &Value, schema: &Value, tag: &str, found: &mut BTreeSet<String>) {
        if let Some(reference) = schema["$ref"].as_str() {
            let name = reference.trim_start_matches("#/components/schemas/");
            walk(doc, &doc["components"]["schemas"][name], tag, found);
        }
        for key in ["allOf", "oneOf", "anyOf"] {
            for part in schema[key].as_array().into_iter().flatten() {
                walk(doc, part, tag, found);
            }
        }
        let values = schema["properties"][tag]["enum"].as_array();
        found.extend(
            values
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_string),
        );
    }
    let mut found = BTreeSet::new();
    walk(doc, &doc["components"]["schemas"][name], tag, &mut found);
    found
}

/// The document's command names are the ones clients can send: every
/// command serde knows but those the server applies to itself.
#[test]
fn the_command_schema_names_every_command_clients_send() {
    let doc = serde_json::to_value(document()).expect("JSON");
    let mut expected = serde_tags::<Command>("command");
    for server_only in SERVER_COMMANDS {
        assert!(expected.remove(*server_only), "serde knows {server_only}");
    }
    assert_eq!(documented_tags(&doc, "Command", "command"), expected);
}

/// The document's event names are every event the log holds.
#[test]
fn the_event_schema_names_every_event() {
    let doc = serde_json::to_value(document()).expect("JSON");
    assert_eq!(
        documented_tags(&doc, "Event", "event"),
        serde_tags::<EventKind>("event")
    );
}

/// `command_names` reads the tag the way the document writes it, so the
/// server-only commands are really taken out.
#[test]
fn the_server_only_commands_are_left_out() {
    let document = document();
    let schemas = &document.components.as_ref().expect("components").schemas;
    let Some(utoipa::openapi::RefOr::T(utoipa::openapi::schema::Schema::OneOf(command))) =
        schemas.get("Command")
    else {
        panic!("Command is a oneOf");
    };
    let names: Vec<&str> = command.items.iter().flat_map(command_names).collect();
    assert!(names.contains(&"grant_floor"), "{names:?}");
    assert!(
        !names.iter().any(|n| SERVER_COMMANDS.contains(n)),
        "{names:?}"
    );
}

/// The examples of one schema, keyed by the name the type gives itself.
type Examples = (String, Vec<Value>);

/// Values of a type the server sends and reads back (the control plane's
/// state, commands and events): each must come back from its JSON equal,
/// and write the same JSON again.
fn round_trip<T>(values: &[T]) -> Examples
where
    T: Serialize + DeserializeOwned + ToSchema + PartialEq + std::fmt::Debug,
{
    let written = values
        .iter()
        .map(|value| {
            let json = serde_json::to_value(value).expect("serializes");
            let back: T = serde_json::from_value(json.clone())
                .unwrap_or_else(|e| panic!("{} reads back {json}: {e}", T::name()));
            assert_eq!(&back, value, "{} round trip", T::name());
            assert_eq!(serde_json::to_value(&back).expect("serializes"), json);
            json
        })
        .collect();
    (T::name().into_owned(), written)
}

/// Values of a type the server only sends (views, reports, errors).
fn sent<T: Serialize + ToSchema>(values: &[T]) -> Examples {
    let written = values
        .iter()
        .map(|value| serde_json::to_value(value).expect("serializes"))
        .collect();
    (T::name().into_owned(), written)
}

/// Bodies the server only reads (requests): each must be taken.
fn taken<T: DeserializeOwned + ToSchema>(bodies: &[Value]) -> Examples {
    for body in bodies {
        if let Err(e) = serde_json::from_value::<T>(body.clone()) {
            panic!("{} takes {body}: {e}", T::name());
        }
    }
    (T::name().into_owned(), bodies.to_vec())
}

/// A meeting that has used most of the control plane: roll call, the
/// floor (one holder, one request waiting), the content token (one
/// presenter, one request waiting), a mute, a drop, a representative and
/// the recording. Returns the session and its whole log.
fn meeting() -> (Session, Vec<Event>) {
    let site = |code: &str, name: &str, role| EndpointInfo {
        code: code.into(),
        name: name.into(),
        role,
    };
    let spec = SessionSpec {
        id: SessionId("hop-1".into()),
        title: "Họp trực tuyến".into(),
        endpoints: vec![
            site("00", "Trung ương", EndpointRole::Central),
            site("30", "Hải Dương", EndpointRole::Provincial),
            site("31", "Hải Phòng", EndpointRole::Provincial),
            site("32", "Hưng Yên", EndpointRole::Provincial),
            site("33", "Thái Bình", EndpointRole::Provincial),
        ],
        rules: Rules {
            speaking_limit_secs: Some(300),
            ..Rules::default()
        },
    };
    let (mut session, created) = Session::create(spec, Millis(1_000)).expect("created");
    let mut log = vec![created];
    let code = |c: &str| EndpointCode::from(c);
    let commands = [
        Command::Open,
        Command::Connect {
            endpoint: code("00"),
        },
        Command::Start,
        Command::Connect {
            endpoint: code("30"),
        },
        Command::Connect {
            endpoint: code("31"),
        },
        Command::Connect {
            endpoint: code("32"),
        },
        Command::SetRepresentative {
            endpoint: code("30"),
            name: "Nguyễn Văn A".into(),
            title: "Phó Chủ tịch UBND tỉnh".into(),
            headcount: Some(12),
        },
        Command::StartRollCall {
            deadline_secs: None,
        },
        Command::ConfirmRollCall {
            endpoint: code("30"),
        },
        Command::CloseRollCall,
        Command::StartRollCall {
            deadline_secs: Some(60),
        },
        Command::ConfirmRollCall {
            endpoint: code("31"),
        },
        Command::RequestFloor {
            endpoint: code("30"),
            topic: "Báo cáo tình hình".into(),
        },
        Command::RequestFloor {
            endpoint: code("31"),
            topic: String::new(),
        },
        Command::GrantFloor {
            target: GrantTarget::Request(RequestId(1)),
        },
        Command::RequestContent {
            endpoint: code("30"),
        },
        Command::RequestContent {
            endpoint: code("31"),
        },
        Command::SetMuted {
            endpoint: code("32"),
            muted: true,
        },
        Command::Disconnect {
            endpoint: code("32"),
        },
        Command::SetMode { mode: Mode::Open },
        Command::StartRecording,
    ];
    for (i, command) in commands.into_iter().enumerate() {
        let now = Millis(2_000 + 1_000 * i as u64);
        let name = command.name();
        let events = session
            .apply(command, now)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        log.extend(events);
    }
    (session, log)
}

/// One example of every command, clients' and the server's own.
fn commands() -> Vec<Command> {
    let code = || EndpointCode::from("30");
    vec![
        Command::Open,
        Command::Start,
        Command::End,
        Command::Connect { endpoint: code() },
        Command::Disconnect { endpoint: code() },
        Command::Leave { endpoint: code() },
        Command::SetRepresentative {
            endpoint: code(),
            name: "Nguyễn Văn A".into(),
            title: String::new(),
            headcount: Some(8),
        },
        Command::StartRollCall {
            deadline_secs: Some(30),
        },
        Command::ConfirmRollCall { endpoint: code() },
        Command::CloseRollCall,
        Command::RequestFloor {
            endpoint: code(),
            topic: "Ý kiến".into(),
        },
        Command::CancelFloorRequest {
            request: RequestId(1),
        },
        Command::GrantFloor {
            target: GrantTarget::Request(RequestId(1)),
        },
        Command::GrantFloor {
            target: GrantTarget::Endpoint(code()),
        },
        Command::DenyFloor {
            request: RequestId(1),
        },
        Command::RevokeFloor { endpoint: None },
        Command::RevokeFloor {
            endpoint: Some(code()),
        },
        Command::ReleaseFloor { endpoint: code() },
        Command::ReorderQueue {
            order: vec![RequestId(2), RequestId(1)],
        },
        Command::SetMode {
            mode: Mode::Lecture,
        },
        Command::SetSpeakingLimit {
            seconds: Some(120),
            auto_revoke: Some(true),
        },
        Command::SetMuted {
            endpoint: code(),
            muted: true,
        },
        Command::RequestContent { endpoint: code() },
        Command::GrantContent { endpoint: code() },
        Command::RevokeContent { endpoint: None },
        Command::ReleaseContent { endpoint: code() },
        Command::StartRecording,
        Command::StopRecording,
    ]
}

/// One example of every event the log can hold that [`meeting`] does not
/// write.
fn more_events() -> Vec<Event> {
    let code = || EndpointCode::from("30");
    let kinds = [
        EventKind::Ended,
        EventKind::DropGraceExpired { endpoint: code() },
        EventKind::EndpointLeft { endpoint: code() },
        EventKind::RollCallClosed {
            round: 2,
            reason: RollCallEnd::Deadline,
            present: vec![code()],
            missing: vec![EndpointCode::from("31")],
        },
        EventKind::FloorRequestCancelled {
            request: RequestId(2),
        },
        EventKind::FloorDenied {
            request: RequestId(2),
        },
        EventKind::FloorGranted {
            request: RequestId(3),
            endpoint: code(),
            called_on: true,
            expires_at: None,
        },
        EventKind::FloorRevoked {
            request: RequestId(1),
            endpoint: code(),
            automatic: true,
        },
        EventKind::FloorReleased {
            request: RequestId(1),
            endpoint: code(),
        },
        EventKind::QueueReordered {
            order: vec![RequestId(2)],
        },
        EventKind::SpeakingTimeWarning {
            request: RequestId(1),
            endpoint: code(),
        },
        EventKind::SpeakingTimeUp {
            request: RequestId(1),
            endpoint: code(),
        },
        EventKind::SpeakingLimitSet {
            seconds: None,
            auto_revoke: false,
        },
        EventKind::EndpointUnmuted { endpoint: code() },
        EventKind::ContentRequestCancelled {
            endpoint: code(),
            reason: ContentEnd::Withdrawn,
        },
        EventKind::ContentRevoked {
            endpoint: code(),
            reason: ContentEnd::FloorLost,
        },
        EventKind::ContentReleased { endpoint: code() },
        EventKind::RecordingStopped {
            reason: RecordingEnd::Failed,
            detail: Some("disk full".into()),
        },
        EventKind::RecordingStopped {
            reason: RecordingEnd::Chair,
            detail: None,
        },
    ];
    kinds
        .into_iter()
        .map(|kind| Event {
            at: Millis(90_000),
            kind,
        })
        .collect()
}

/// An example for every schema of the document, built by serde from a
/// value of its type (or, for request bodies, taken by serde).
fn examples() -> BTreeMap<String, Vec<Value>> {
    use crate::control::{
        Attendance, AttendanceStatus, ContentRequest, ContentRule, ContentState, EndpointRole,
        FloorRequest, FloorState, Phase, Presenter, RequestState, RollCall,
    };
    use crate::http::{
        command::Outcome, content, error::ErrorBody, floor, link_test, recording, registry,
        rollcall, sessions, settings, view,
    };
    use crate::minutes::{signature::PublicKeyBody, MinutesSignature};
    use crate::{report, speaking_log};

    let (session, log) = meeting();
    let now = Millis(60_000);
    let mut events = log.clone();
    events.extend(more_events());
    let attendance: Vec<Attendance> = session.attendance.values().cloned().collect();
    let representative: Vec<_> = attendance
        .iter()
        .filter_map(|a| a.representative.clone())
        .collect();
    let requests: Vec<FloorRequest> = session.floor.requests.values().cloned().collect();
    let presenters: Vec<Presenter> = session.content.presenter.iter().cloned().collect();
    let rules = [session.spec.rules.clone(), Rules::default()];
    let viewer = Caller {
        role: crate::auth::Role::Viewer,
        endpoint: None,
        session: None,
        owner: crate::media::Owner::of_token("viewer"),
    };
    let public = match view::SessionView::of(&session, &viewer) {
        view::SessionView::Public(public) => *public,
        view::SessionView::Full(_) => panic!("a viewer sees the public view"),
    };
    let speaking = speaking_log::speaking_log(&log, now);
    let report = report::attendance(&session, now);
    let signature = MinutesSignature {
        session: "hop-1".into(),
        pdf_sha256: "ab".repeat(32),
        log_sha256: "cd".repeat(32),
        log_events: log.len() as u64,
        signed_at: "2026-11-30T09:30:00Z".into(),
        algorithm: "Ed25519".into(),
        public_key: "A".repeat(43) + "=",
        signature: "B".repeat(86) + "==",
    };
    let key = PublicKeyBody {
        algorithm: "Ed25519".into(),
        public_key: "A".repeat(43) + "=",
        pem: "-----BEGIN PUBLIC KEY-----\n…\n-----END PUBLIC KEY-----\n".into(),
    };
    let outcome = Outcome {
        seq: 7,
        events: log[log.len() - 3..].to_vec(),
        request_id: Some(1),
    };
    let no_request = Outcome {
        seq: 8,
        events: Vec::new(),
        request_id: None,
    };
    let entries = [
        registry::EndpointEntry {
            code: "30".into(),
            name: "Hải Dương".into(),
            role: EndpointRole::Provincial,
            kind: Some("tỉnh".into()),
            formed_from: vec!["Hải Hưng".into()],
        },
        registry::EndpointEntry {
            code: "00".into(),
            name: "Trung ương".into(),
            role: EndpointRole::Central,
            kind: None,
            formed_from: Vec::new(),
        },
    ];

    [
        round_trip(std::slice::from_ref(&session)),
        round_trip(std::slice::from_ref(&session.spec)),
        round_trip(&session.spec.endpoints),
        round_trip(&rules),
        round_trip(&attendance),
        round_trip(&representative),
        round_trip(AttendanceStatus::VARIANTS),
        round_trip(&[EndpointRole::Central, EndpointRole::Provincial]),
        round_trip(Phase::VARIANTS),
        round_trip(Mode::VARIANTS),
        round_trip(&[session.floor.clone(), FloorState::default()]),
        round_trip(&requests),
        round_trip(&[
            RequestState::Pending,
            RequestState::Granted,
            RequestState::Released,
            RequestState::Denied,
            RequestState::Cancelled,
            RequestState::Revoked,
        ]),
        round_trip(&[session.content.clone(), ContentState::default()]),
        round_trip(&presenters),
        round_trip(&session.content.pending),
        round_trip(&[ContentRequest {
            endpoint: "33".into(),
            requested_at: now,
        }]),
        round_trip(&[ContentRule::FloorOrChair, ContentRule::ChairGrants]),
        round_trip(ContentEnd::VARIANTS),
        round_trip::<RollCall>(&session.roll_calls),
        round_trip(RollCallEnd::VARIANTS),
        round_trip(RecordingEnd::VARIANTS),
        round_trip(TurnEnd::VARIANTS),
        round_trip(&events),
        round_trip(
            &events
                .iter()
                .map(|e| e.kind.clone())
                .collect::<Vec<EventKind>>(),
        ),
        round_trip(&commands()),
        round_trip(&[
            GrantTarget::Request(RequestId(1)),
            GrantTarget::Endpoint("30".into()),
        ]),
        round_trip(&[Millis(0), now]),
        round_trip(&[EndpointCode::from("30")]),
        round_trip(&[SessionId("hop-1".into())]),
        round_trip(&[RequestId(1)]),
        round_trip(&[signature]),
        sent(&[key]),
        sent(&[outcome, no_request]),
        sent(&[ErrorBody {
            error: "wrong_phase".into(),
            message: "the session is not live".into(),
        }]),
        sent(&[view::SessionSummary::from(&session)]),
        sent(&public.endpoints),
        sent(&[public]),
        sent(&entries),
        sent(&[recording::RecordingFile {
            name: "hop-1-20261130T093000.250Z.webm".into(),
            bytes: 1_048_576,
            href: "/api/sessions/hop-1/recordings/hop-1-20261130T093000.250Z.webm".into(),
        }]),
        sent(std::slice::from_ref(&report)),
        sent(&report.rows),
        sent(&[report.summary]),
        sent(std::slice::from_ref(&speaking)),
        sent(&speaking.turns),
        sent(&speaking.presentations),
        sent(PresentationEnd::VARIANTS),
        sent(&speaking.modes),
        sent(&speaking.roll_calls),
        sent(&speaking.recordings),
        taken::<sessions::CreateSession>(&[
            json!({"title": "Họp"}),
            json!({"id": "hop-2", "title": "Họp", "mode": "open"}),
        ]),
        taken::<floor::RequestBody>(&[json!({}), json!({"topic": "Ý kiến"})]),
        taken::<floor::GrantBody>(&[json!({"request_id": 1}), json!({"endpoint": "30"})]),
        taken::<floor::DenyBody>(&[json!({"request_id": 1})]),
        taken::<floor::EndpointBody>(&[json!({}), json!({"endpoint": "30"})]),
        taken::<floor::QueueBody>(&[json!({"order": [2, 1]})]),
        taken::<content::ContentGrantBody>(&[json!({"endpoint": "30"})]),
        taken::<rollcall::StartBody>(&[json!({}), json!({"deadline_secs": 30})]),
        taken::<link_test::LinkTestBody>(&[json!({"seconds": 10})]),
        taken::<settings::ModeBody>(&[json!({"mode": "lecture"})]),
        taken::<settings::SpeakingLimitBody>(&[
            json!({"seconds": null}),
            json!({"seconds": 120, "auto_revoke": true}),
        ]),
        taken::<settings::RepresentativeBody>(&[
            json!({"name": "Nguyễn Văn A"}),
            json!({"name": "Nguyễn Văn A", "title": "Phó Chủ tịch", "headcount": 12}),
        ]),
        taken::<settings::MuteBody>(&[json!({"muted": true})]),
    ]
    .into_iter()
    .fold(BTreeMap::new(), |mut all, (name, values)| {
        assert!(!values.is_empty(), "no example of {name}");
        all.entry(name).or_insert_with(Vec::new).extend(values);
        all
    })
}

/// A validator of schema `name` that also refuses any property the schema
/// does not declare: a schema that leaves out a field serde writes (as a
/// hand-written one can) fails here.
fn validator(doc: &Value, name: &str) -> jsonschema::Validator {
    let schema = json!({
        "$ref": format!("#/components/schemas/{name}"),
        "unevaluatedProperties": false,
        "components": doc["components"],
    });
    jsonschema::draft202012::new(&schema)
        .unwrap_or_else(|e| panic!("schema {name} is not valid JSON Schema: {e}"))
}

/// Every schema of the document has examples, serde's JSON of each example
/// is valid against its schema, and the types read back take it unchanged.
#[test]
fn every_schema_round_trips_an_example_through_serde() {
    let doc = serde_json::to_value(document()).expect("JSON");
    let documented: BTreeSet<String> = doc["components"]["schemas"]
        .as_object()
        .expect("schemas")
        .keys()
        .cloned()
        .collect();
    let examples = examples();
    let exemplified: BTreeSet<String> = examples.keys().cloned().collect();
    assert_eq!(
        documented.difference(&exemplified).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "schemas without an example"
    );
    assert_eq!(
        exemplified.difference(&documented).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "examples of no schema"
    );
    let mut refused = Vec::new();
    for (name, values) in &examples {
        let validator = validator(&doc, name);
        for value in values {
            let errors: Vec<String> = validator
                .iter_errors(value)
                .map(|e| e.to_string())
                .collect();
            if !errors.is_empty() {
                refused.push(format!("{name} refuses serde's {value}: {errors:?}"));
            }
        }
    }
    assert!(refused.is_empty(), "{}", refused.join("\n"));
}

/// The checks above can fail: the schemas refuse a property serde never
/// writes, a wrong tag and a server-only command.
#[test]
fn the_schemas_refuse_what_serde_would_not_write() {
    let doc = serde_json::to_value(document()).expect("JSON");
    for (name, value) in [
        (
            "Event",
            json!({"at": 1, "event": "opened", "endpoint": "30"}),
        ),
        ("Event", json!({"at": 1, "event": "no_such_event"})),
        ("Command", json!({"command": "tick"})),
        (
            "Command",
            json!({"command": "recording_failed", "reason": "disk full"}),
        ),
        ("Command", json!({"command": "set_mode", "mode": "loud"})),
        (
            "FloorState",
            json!({"requests": {}, "queue": [], "holders": []}),
        ),
    ] {
        assert!(
            !validator(&doc, name).is_valid(&value),
            "{name} takes {value}"
        );
    }
}

/// The commands the document leaves out are exactly those no token may
/// send: every other command is allowed to some role.
#[test]
fn the_server_only_commands_are_the_ones_no_role_may_send() {
    use crate::auth::Role;
    let (session, _) = meeting();
    let caller = |role, endpoint: Option<&str>| Caller {
        role,
        endpoint: endpoint.map(EndpointCode::from),
        session: None,
        owner: crate::media::Owner::of_token("any"),
    };
    let callers = [
        caller(Role::Chair, Some("00")),
        caller(Role::Technician, None),
        caller(Role::Endpoint, Some("30")),
        caller(Role::Viewer, None),
    ];
    let mut all = commands();
    all.push(Command::Tick);
    all.push(Command::RecordingFailed {
        reason: "disk full".into(),
    });
    for command in all {
        let allowed = callers
            .iter()
            .any(|c| crate::http::access::authorize(c, &command, &session).is_ok());
        assert_eq!(
            allowed,
            !SERVER_COMMANDS.contains(&command.name()),
            "{}",
            command.name()
        );
    }
}
