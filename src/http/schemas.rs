//! OpenAPI schemas of the control plane's types. Control stays free of
//! HTTP concerns (no utoipa derives there), so the edge describes its
//! types here, by hand, each as a `…Schema` type named as the control
//! type is, next to the only place that needs them. The
//! shapes follow the serde attributes in `crates/control/`; the tests at the
//! end hold the command and event names to what serde sends.

use std::borrow::Cow;
use utoipa::openapi::schema::{
    AdditionalProperties, ArrayBuilder, ObjectBuilder, Schema, SchemaType, Type,
};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};

fn string_enum(description: &str, values: &[&str]) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values.iter().copied()))
        .description(Some(description))
        .into()
}

fn typed(t: Type, description: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(t)
        .description(Some(description))
        .into()
}

fn nullable(t: Type, description: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([t, Type::Null]))
        .description(Some(description))
        .into()
}

fn array(items: RefOr<Schema>, description: &str) -> RefOr<Schema> {
    ArrayBuilder::new()
        .items(items)
        .description(Some(description))
        .into()
}

fn map(values: RefOr<Schema>, description: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .additional_properties(Some(AdditionalProperties::RefOr(values)))
        .description(Some(description))
        .into()
}

fn object(description: &str, props: Vec<(&str, RefOr<Schema>)>) -> RefOr<Schema> {
    let mut b = ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some(description));
    for (name, schema) in props {
        b = b.property(name, schema);
    }
    b.into()
}

const MILLIS: &str = "ms since the UNIX epoch";

fn mode() -> RefOr<Schema> {
    string_enum("Who may be heard", &["lecture", "chaired", "open"])
}

fn attendance() -> RefOr<Schema> {
    object(
        "One endpoint's attendance; `status_ms` is the live time spent in absent, connected, present, dropped, left",
        vec![
            ("code", typed(Type::String, "Endpoint code")),
            ("name", typed(Type::String, "Display name")),
            ("role", string_enum("Site role", &["central", "provincial"])),
            (
                "status",
                string_enum("Where it stands", &["absent", "connected", "present", "dropped", "left"]),
            ),
            ("first_joined_at", nullable(Type::Integer, MILLIS)),
            ("last_joined_at", nullable(Type::Integer, MILLIS)),
            ("last_lost_at", nullable(Type::Integer, MILLIS)),
            ("disconnects", typed(Type::Integer, "Link drops")),
            ("lateness_ms", nullable(Type::Integer, "Lateness after the meeting went live")),
            ("status_ms", array(typed(Type::Integer, "ms"), "Live time per status")),
            (
                "representative",
                object(
                    "Who presides at the site (null when unknown)",
                    vec![
                        ("name", typed(Type::String, "Full name")),
                        ("title", typed(Type::String, "Title")),
                    ],
                ),
            ),
            ("headcount", nullable(Type::Integer, "People in the room")),
            ("confirmed", typed(Type::Boolean, "Confirmed at the latest roll call")),
            ("grace_expired", typed(Type::Boolean, "The drop grace ran out")),
        ],
    )
}

fn floor_request() -> RefOr<Schema> {
    object(
        "One floor request",
        vec![
            ("id", typed(Type::Integer, "Request id")),
            (
                "endpoint",
                typed(Type::String, "Who asked or was called on"),
            ),
            ("topic", typed(Type::String, "About what")),
            (
                "state",
                string_enum(
                    "BFCP state",
                    &[
                        "pending",
                        "granted",
                        "released",
                        "denied",
                        "cancelled",
                        "revoked",
                    ],
                ),
            ),
            (
                "called_on",
                typed(Type::Boolean, "Granted by the chair unasked"),
            ),
            ("requested_at", typed(Type::Integer, MILLIS)),
            ("granted_at", nullable(Type::Integer, MILLIS)),
            ("ended_at", nullable(Type::Integer, MILLIS)),
            (
                "expires_at",
                nullable(Type::Integer, "When the speaking time runs out"),
            ),
            (
                "warned",
                typed(Type::Boolean, "The speaking-time warning went out"),
            ),
            ("time_up", typed(Type::Boolean, "The speaking time ran out")),
        ],
    )
}

/// The OpenAPI schema of [`crate::control::FloorState`] (written here: the control plane
/// knows nothing of HTTP).
pub struct FloorStateSchema;

impl PartialSchema for FloorStateSchema {
    fn schema() -> RefOr<Schema> {
        object(
            "The floor: every request, the queue and the holders",
            vec![
                ("requests", map(floor_request(), "Every request, by id")),
                (
                    "queue",
                    array(typed(Type::Integer, "Request id"), "Pending, first to last"),
                ),
                (
                    "holders",
                    array(typed(Type::Integer, "Request id"), "Granted, oldest first"),
                ),
                (
                    "speaking_limit_secs",
                    nullable(Type::Integer, "Limit for new grants"),
                ),
                (
                    "auto_revoke",
                    typed(Type::Boolean, "Revoke when the limit runs out"),
                ),
            ],
        )
    }
}

impl ToSchema for FloorStateSchema {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("FloorState")
    }
}

/// The OpenAPI schema of [`crate::control::ContentState`] (written here: the control plane
/// knows nothing of HTTP).
pub struct ContentStateSchema;

impl PartialSchema for ContentStateSchema {
    fn schema() -> RefOr<Schema> {
        object(
            "The content token: who presents (its second video fills every site's content slot) and who waits to",
            vec![
                (
                    "presenter",
                    object(
                        "The site holding the token (null when nobody presents)",
                        vec![
                            ("endpoint", typed(Type::String, "Endpoint code")),
                            ("since", typed(Type::Integer, MILLIS)),
                            (
                                "by_chair",
                                typed(
                                    Type::Boolean,
                                    "Granted by the chair (false: started by itself under floor_or_chair)",
                                ),
                            ),
                        ],
                    ),
                ),
                (
                    "pending",
                    array(
                        object(
                            "A request waiting for the chair's grant",
                            vec![
                                ("endpoint", typed(Type::String, "Endpoint code")),
                                ("requested_at", typed(Type::Integer, MILLIS)),
                            ],
                        ),
                        "Requests waiting, oldest first; one per site",
                    ),
                ),
            ],
        )
    }
}

impl ToSchema for ContentStateSchema {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("ContentState")
    }
}

/// The OpenAPI schema of [`crate::control::Session`] (written here: the control plane
/// knows nothing of HTTP).
pub struct SessionSchema;

impl PartialSchema for SessionSchema {
    fn schema() -> RefOr<Schema> {
        object(
            "A session's whole state (chair, technician, endpoint tokens)",
            vec![
                (
                    "spec",
                    object(
                        "Id, title, endpoints and rules as created",
                        vec![
                            ("id", typed(Type::String, "Session id")),
                            ("title", typed(Type::String, "Title")),
                            (
                                "endpoints",
                                array(typed(Type::Object, "code, name, role"), "Invited endpoints"),
                            ),
                            (
                                "rules",
                                typed(
                                    Type::Object,
                                    "Floor, roll-call and content rules (content_rule: floor_or_chair or chair_grants; content_ends_with_floor)",
                                ),
                            ),
                        ],
                    ),
                ),
                (
                    "phase",
                    string_enum("Lifecycle", &["scheduled", "open", "live", "ended"]),
                ),
                ("mode", mode()),
                ("created_at", typed(Type::Integer, MILLIS)),
                ("opened_at", nullable(Type::Integer, MILLIS)),
                ("started_at", nullable(Type::Integer, MILLIS)),
                ("ended_at", nullable(Type::Integer, MILLIS)),
                (
                    "attendance",
                    map(attendance(), "Attendance by endpoint code"),
                ),
                ("floor", RefOr::Ref(Ref::from_schema_name("FloorState"))),
                (
                    "content",
                    RefOr::Ref(Ref::from_schema_name("ContentState")),
                ),
                (
                    "roll_calls",
                    array(
                        object(
                            "One roll call; `closed` is [time, reason] once over",
                            vec![
                                ("round", typed(Type::Integer, "1, 2, …")),
                                ("started_at", typed(Type::Integer, MILLIS)),
                                ("deadline", typed(Type::Integer, MILLIS)),
                                (
                                    "confirmed",
                                    array(typed(Type::String, "code"), "Who answered"),
                                ),
                                (
                                    "closed",
                                    nullable(Type::Array, "[time, closed|deadline|session_ended]"),
                                ),
                                ("missing", array(typed(Type::String, "code"), "Who did not")),
                            ],
                        ),
                        "Every roll call, oldest first",
                    ),
                ),
                (
                    "muted",
                    array(
                        typed(Type::String, "Endpoint code"),
                        "Sites the chair muted: their audio reaches nobody",
                    ),
                ),
                (
                    "events",
                    typed(
                        Type::Integer,
                        "How many events made this state (the sequence number)",
                    ),
                ),
                ("last_event_at", typed(Type::Integer, MILLIS)),
            ],
        )
    }
}

impl ToSchema for SessionSchema {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Session")
    }
}

/// Every event name, as on the wire.
const EVENTS: &[&str] = &[
    "created",
    "opened",
    "started",
    "ended",
    "endpoint_connected",
    "endpoint_dropped",
    "drop_grace_expired",
    "endpoint_left",
    "representative_set",
    "roll_call_started",
    "roll_call_confirmed",
    "roll_call_closed",
    "floor_requested",
    "floor_request_cancelled",
    "floor_granted",
    "floor_denied",
    "floor_revoked",
    "floor_released",
    "queue_reordered",
    "speaking_time_warning",
    "speaking_time_up",
    "mode_changed",
    "speaking_limit_set",
    "endpoint_muted",
    "endpoint_unmuted",
    "content_requested",
    "content_request_cancelled",
    "content_granted",
    "content_revoked",
    "content_released",
    "recording_started",
    "recording_stopped",
];

/// The OpenAPI schema of [`crate::control::Event`] (written here: the control plane
/// knows nothing of HTTP).
pub struct EventSchema;

impl PartialSchema for EventSchema {
    fn schema() -> RefOr<Schema> {
        object(
            "One logged change: `at`, the `event` name, and that event's fields (endpoint, request, round, mode, …)",
            vec![
                ("at", typed(Type::Integer, MILLIS)),
                ("event", string_enum("What changed", EVENTS)),
            ],
        )
    }
}

impl ToSchema for EventSchema {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Event")
    }
}

/// Every command name, as on the wire.
const COMMANDS: &[&str] = &[
    "open",
    "start",
    "end",
    "connect",
    "disconnect",
    "leave",
    "set_representative",
    "start_roll_call",
    "confirm_roll_call",
    "close_roll_call",
    "request_floor",
    "cancel_floor_request",
    "grant_floor",
    "deny_floor",
    "revoke_floor",
    "release_floor",
    "reorder_queue",
    "set_mode",
    "set_speaking_limit",
    "set_muted",
    "request_content",
    "grant_content",
    "revoke_content",
    "release_content",
    "start_recording",
    "stop_recording",
];

/// The OpenAPI schema of [`crate::control::Command`] (written here: the control plane
/// knows nothing of HTTP).
pub struct CommandSchema;

impl PartialSchema for CommandSchema {
    fn schema() -> RefOr<Schema> {
        object(
            "A command as sent on the WebSocket (`{\"type\":\"command\",\"id\":…,\"command\":{…}}`): the `command` name and its fields, e.g. `{\"command\":\"request_floor\",\"endpoint\":\"30\",\"topic\":\"…\"}`, `{\"command\":\"grant_floor\",\"target\":{\"request\":1}}` or `{\"target\":{\"endpoint\":\"30\"}}`, `{\"command\":\"set_mode\",\"mode\":\"open\"}`, `{\"command\":\"set_muted\",\"endpoint\":\"30\",\"muted\":true}`, `{\"command\":\"request_content\",\"endpoint\":\"30\"}`, `{\"command\":\"revoke_content\"}`. The same role rules as REST apply.",
            vec![
                ("command", string_enum("Which command", COMMANDS)),
                ("endpoint", typed(Type::String, "Endpoint code, where the command takes one")),
                ("request", typed(Type::Integer, "Floor request id, where the command takes one")),
                ("muted", typed(Type::Boolean, "set_muted: true to mute the endpoint, false to unmute it")),
            ],
        )
    }
}

impl ToSchema for CommandSchema {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Command")
    }
}

/// The schemas above are written by hand; these tests hold their lists of
/// command and event names to what serde puts on the wire.
#[cfg(test)]
mod tests {
    use super::{COMMANDS, EVENTS};
    use crate::control::{
        Command, ContentEnd, EndpointCode, Event, EventKind, GrantTarget, Millis, Mode, RequestId,
        RollCallEnd, Rules, SessionId, SessionSpec,
    };
    use serde::de::DeserializeOwned;
    use serde::Serialize;
    use serde_json::{json, Value};
    use std::collections::BTreeSet;

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

    /// The tags the examples put on the wire, each checked against the
    /// documented list (tags in `undocumented` must be absent from it).
    fn wire_tags<T: Serialize>(
        examples: &[T],
        tag: &str,
        documented: &[&str],
        undocumented: &[&str],
    ) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        for example in examples {
            let value = serde_json::to_value(example).expect("serializes");
            let name = value[tag].as_str().expect("tagged").to_string();
            let in_document = documented.contains(&name.as_str());
            assert_eq!(
                in_document,
                !undocumented.contains(&name.as_str()),
                "the document's `{tag}` list and {name:?} disagree"
            );
            assert!(seen.insert(name.clone()), "two examples of {name:?}");
        }
        let documented: BTreeSet<String> = documented.iter().map(|s| s.to_string()).collect();
        let stale: Vec<_> = documented.difference(&seen).collect();
        assert!(stale.is_empty(), "documented but never sent: {stale:?}");
        seen
    }

    /// The document's command names are the ones clients can send: every
    /// command but `tick`, which only the server's timer applies.
    #[test]
    fn the_command_schema_names_every_command_clients_send() {
        let code = || EndpointCode::from("30");
        let examples = [
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
                headcount: None,
            },
            Command::StartRollCall {
                deadline_secs: None,
            },
            Command::ConfirmRollCall { endpoint: code() },
            Command::CloseRollCall,
            Command::RequestFloor {
                endpoint: code(),
                topic: String::new(),
            },
            Command::CancelFloorRequest {
                request: RequestId(1),
            },
            Command::GrantFloor {
                target: GrantTarget::Request(RequestId(1)),
            },
            Command::DenyFloor {
                request: RequestId(1),
            },
            Command::RevokeFloor { endpoint: None },
            Command::ReleaseFloor { endpoint: code() },
            Command::ReorderQueue { order: Vec::new() },
            Command::SetMode { mode: Mode::Open },
            Command::SetSpeakingLimit {
                seconds: None,
                auto_revoke: None,
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
            Command::RecordingFailed {
                reason: String::new(),
            },
            Command::Tick,
        ];
        let seen = wire_tags(
            &examples,
            "command",
            COMMANDS,
            &["tick", "recording_failed"],
        );
        assert_eq!(
            seen,
            serde_tags::<Command>("command"),
            "an example per command"
        );
    }

    /// The document's event names are every event the log holds.
    #[test]
    fn the_event_schema_names_every_event() {
        let code = || EndpointCode::from("30");
        let spec = SessionSpec {
            id: SessionId("s".into()),
            title: "Họp".into(),
            endpoints: Vec::new(),
            rules: Rules::default(),
        };
        let kinds = [
            EventKind::Created { spec },
            EventKind::Opened,
            EventKind::Started,
            EventKind::Ended,
            EventKind::EndpointConnected { endpoint: code() },
            EventKind::EndpointDropped { endpoint: code() },
            EventKind::DropGraceExpired { endpoint: code() },
            EventKind::EndpointLeft { endpoint: code() },
            EventKind::RepresentativeSet {
                endpoint: code(),
                name: "Nguyễn Văn A".into(),
                title: String::new(),
                headcount: None,
            },
            EventKind::RollCallStarted {
                round: 1,
                deadline: Millis(1),
            },
            EventKind::RollCallConfirmed {
                round: 1,
                endpoint: code(),
            },
            EventKind::RollCallClosed {
                round: 1,
                reason: RollCallEnd::Closed,
                present: Vec::new(),
                missing: Vec::new(),
            },
            EventKind::FloorRequested {
                request: RequestId(1),
                endpoint: code(),
                topic: String::new(),
            },
            EventKind::FloorRequestCancelled {
                request: RequestId(1),
            },
            EventKind::FloorGranted {
                request: RequestId(1),
                endpoint: code(),
                called_on: false,
                expires_at: None,
            },
            EventKind::FloorDenied {
                request: RequestId(1),
            },
            EventKind::FloorRevoked {
                request: RequestId(1),
                endpoint: code(),
                automatic: false,
            },
            EventKind::FloorReleased {
                request: RequestId(1),
                endpoint: code(),
            },
            EventKind::QueueReordered { order: Vec::new() },
            EventKind::SpeakingTimeWarning {
                request: RequestId(1),
                endpoint: code(),
            },
            EventKind::SpeakingTimeUp {
                request: RequestId(1),
                endpoint: code(),
            },
            EventKind::ModeChanged { mode: Mode::Open },
            EventKind::SpeakingLimitSet {
                seconds: None,
                auto_revoke: false,
            },
            EventKind::EndpointMuted { endpoint: code() },
            EventKind::EndpointUnmuted { endpoint: code() },
            EventKind::ContentRequested { endpoint: code() },
            EventKind::ContentRequestCancelled {
                endpoint: code(),
                reason: ContentEnd::Withdrawn,
            },
            EventKind::ContentGranted {
                endpoint: code(),
                by_chair: true,
            },
            EventKind::ContentRevoked {
                endpoint: code(),
                reason: ContentEnd::FloorLost,
            },
            EventKind::ContentReleased { endpoint: code() },
            EventKind::RecordingStarted { by_chair: true },
            EventKind::RecordingStopped {
                reason: crate::control::RecordingEnd::Failed,
                detail: Some("disk full".into()),
            },
        ];
        let examples: Vec<Event> = kinds
            .into_iter()
            .map(|kind| Event {
                at: Millis(1),
                kind,
            })
            .collect();
        let seen = wire_tags(&examples, "event", EVENTS, &[]);
        assert_eq!(
            seen,
            serde_tags::<EventKind>("event"),
            "an example per event"
        );
    }

    /// The served document carries these lists, not some other copy.
    #[test]
    fn the_document_carries_the_lists() {
        let doc = serde_json::to_value(crate::http::openapi::document()).expect("JSON");
        let names = |schema: &str, tag: &str| -> Vec<Value> {
            doc["components"]["schemas"][schema]["properties"][tag]["enum"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        };
        assert_eq!(
            names("Command", "command"),
            json!(COMMANDS).as_array().cloned().unwrap_or_default()
        );
        assert_eq!(
            names("Event", "event"),
            json!(EVENTS).as_array().cloned().unwrap_or_default()
        );
    }
}
