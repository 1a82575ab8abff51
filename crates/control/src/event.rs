//! Every change of a session's state, as it is logged. The state is a fold
//! over these; the store appends them, the WebSocket streams them, and the
//! attendance report is computed from them alone.

use super::content::ContentEnd;
use super::types::{EndpointCode, Millis, Mode, RequestId, SessionSpec};
use serde::{Deserialize, Serialize};

/// One logged change, with the time it happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Event {
    /// When.
    pub at: Millis,
    /// What.
    #[serde(flatten)]
    pub kind: EventKind,
}

/// How a roll call ended.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum RollCallEnd {
    /// The chair closed it.
    Closed,
    /// Its deadline passed.
    Deadline,
    /// The session ended while it ran.
    SessionEnded,
}

/// What changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EventKind {
    /// The session exists. Always the first event.
    Created {
        /// Id, title, endpoints and rules.
        spec: SessionSpec,
    },
    /// `→ open`.
    Opened,
    /// `→ live`.
    Started,
    /// `→ ended`.
    Ended,
    /// An endpoint's link came up (first time, or back after a drop).
    EndpointConnected {
        /// Which endpoint.
        endpoint: EndpointCode,
    },
    /// An endpoint's link was lost without it leaving.
    EndpointDropped {
        /// Which endpoint.
        endpoint: EndpointCode,
    },
    /// A dropped endpoint did not come back within the grace: its roll-call
    /// presence lapses and it must confirm again.
    DropGraceExpired {
        /// Which endpoint.
        endpoint: EndpointCode,
    },
    /// An endpoint left on purpose.
    EndpointLeft {
        /// Which endpoint.
        endpoint: EndpointCode,
    },
    /// Who presides at the site.
    RepresentativeSet {
        /// Which endpoint.
        endpoint: EndpointCode,
        /// Full name.
        name: String,
        /// Title.
        title: String,
        /// People in the room.
        headcount: Option<u32>,
    },
    /// A roll call began.
    RollCallStarted {
        /// 1 for the first roll call, then 2, …
        round: u32,
        /// When it closes by itself.
        deadline: Millis,
    },
    /// An endpoint answered.
    RollCallConfirmed {
        /// Which round.
        round: u32,
        /// Which endpoint.
        endpoint: EndpointCode,
    },
    /// A roll call ended with its tally.
    RollCallClosed {
        /// Which round.
        round: u32,
        /// Why it ended.
        reason: RollCallEnd,
        /// Endpoints that answered, by code.
        present: Vec<EndpointCode>,
        /// Provincial endpoints that did not.
        missing: Vec<EndpointCode>,
    },
    /// A request joined the queue.
    FloorRequested {
        /// Its id.
        request: RequestId,
        /// Who asked.
        endpoint: EndpointCode,
        /// About what.
        topic: String,
    },
    /// A pending request was withdrawn.
    FloorRequestCancelled {
        /// Which request.
        request: RequestId,
    },
    /// The floor was given. A "call on" creates its request here.
    FloorGranted {
        /// The request (new when the chair called on an endpoint unasked).
        request: RequestId,
        /// The new holder.
        endpoint: EndpointCode,
        /// True when the chair called on the endpoint without a request.
        called_on: bool,
        /// When the speaking time runs out, if limited.
        expires_at: Option<Millis>,
    },
    /// A pending request was turned down.
    FloorDenied {
        /// Which request.
        request: RequestId,
    },
    /// The chair (or the clock) took the floor back.
    FloorRevoked {
        /// Which request.
        request: RequestId,
        /// From whom.
        endpoint: EndpointCode,
        /// True when the speaking time ran out and auto-revoke is on.
        automatic: bool,
    },
    /// The holder gave the floor back (or its link was lost).
    FloorReleased {
        /// Which request.
        request: RequestId,
        /// Who held it.
        endpoint: EndpointCode,
    },
    /// The queue has a new order.
    QueueReordered {
        /// Pending requests, first to last.
        order: Vec<RequestId>,
    },
    /// The holder's time is nearly up.
    SpeakingTimeWarning {
        /// Which request.
        request: RequestId,
        /// Who holds it.
        endpoint: EndpointCode,
    },
    /// The holder's time is up (auto-revoke is off, so the floor stays).
    SpeakingTimeUp {
        /// Which request.
        request: RequestId,
        /// Who holds it.
        endpoint: EndpointCode,
    },
    /// Who may be heard changed.
    ModeChanged {
        /// The new mode.
        mode: Mode,
    },
    /// The speaking-time limit changed (for grants from now on).
    SpeakingLimitSet {
        /// Seconds, or none.
        seconds: Option<u32>,
        /// Whether the floor is revoked at the limit.
        auto_revoke: bool,
    },
    /// The chair muted a site: its audio reaches nobody until unmuted.
    EndpointMuted {
        /// Which endpoint.
        endpoint: EndpointCode,
    },
    /// The chair unmuted a site: the mode decides again whether it is heard.
    EndpointUnmuted {
        /// Which endpoint.
        endpoint: EndpointCode,
    },
    /// A site asked to present; the request waits for the chair.
    ContentRequested {
        /// Who asked.
        endpoint: EndpointCode,
    },
    /// A waiting request to present went away without a grant.
    ContentRequestCancelled {
        /// Who had asked.
        endpoint: EndpointCode,
        /// Why: `withdrawn`, `chair` (turned down), `dropped`, `left` or
        /// `session_ended`.
        reason: ContentEnd,
    },
    /// A site got the content token.
    ContentGranted {
        /// The new presenter.
        endpoint: EndpointCode,
        /// True when the chair granted it, false when the site started by
        /// itself under `floor_or_chair`.
        by_chair: bool,
    },
    /// The presenter lost the token without giving it up.
    ContentRevoked {
        /// Who presented.
        endpoint: EndpointCode,
        /// Why: `chair`, `replaced`, `floor_lost`, `dropped`, `left` or
        /// `session_ended`.
        reason: ContentEnd,
    },
    /// The presenter stopped.
    ContentReleased {
        /// Who presented.
        endpoint: EndpointCode,
    },
    /// The programme is being recorded from now on.
    RecordingStarted {
        /// True when the chair started it, false when the session's rule
        /// (`record`) did as it went live.
        by_chair: bool,
    },
    /// The recording stopped.
    RecordingStopped {
        /// Why: `chair`, `failed` or `session_ended`.
        reason: RecordingEnd,
        /// What went wrong, when it failed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
}

/// Why a recording stopped.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum RecordingEnd {
    /// The chair stopped it.
    Chair,
    /// Its file could not be written (the disk is full, say).
    Failed,
    /// The session ended.
    SessionEnded,
}

impl EventKind {
    /// A short name for logs and metrics (the wire tag).
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::Created { .. } => "created",
            EventKind::Opened => "opened",
            EventKind::Started => "started",
            EventKind::Ended => "ended",
            EventKind::EndpointConnected { .. } => "endpoint_connected",
            EventKind::EndpointDropped { .. } => "endpoint_dropped",
            EventKind::DropGraceExpired { .. } => "drop_grace_expired",
            EventKind::EndpointLeft { .. } => "endpoint_left",
            EventKind::RepresentativeSet { .. } => "representative_set",
            EventKind::RollCallStarted { .. } => "roll_call_started",
            EventKind::RollCallConfirmed { .. } => "roll_call_confirmed",
            EventKind::RollCallClosed { .. } => "roll_call_closed",
            EventKind::FloorRequested { .. } => "floor_requested",
            EventKind::FloorRequestCancelled { .. } => "floor_request_cancelled",
            EventKind::FloorGranted { .. } => "floor_granted",
            EventKind::FloorDenied { .. } => "floor_denied",
            EventKind::FloorRevoked { .. } => "floor_revoked",
            EventKind::FloorReleased { .. } => "floor_released",
            EventKind::QueueReordered { .. } => "queue_reordered",
            EventKind::SpeakingTimeWarning { .. } => "speaking_time_warning",
            EventKind::SpeakingTimeUp { .. } => "speaking_time_up",
            EventKind::ModeChanged { .. } => "mode_changed",
            EventKind::SpeakingLimitSet { .. } => "speaking_limit_set",
            EventKind::EndpointMuted { .. } => "endpoint_muted",
            EventKind::EndpointUnmuted { .. } => "endpoint_unmuted",
            EventKind::ContentRequested { .. } => "content_requested",
            EventKind::ContentRequestCancelled { .. } => "content_request_cancelled",
            EventKind::ContentGranted { .. } => "content_granted",
            EventKind::ContentRevoked { .. } => "content_revoked",
            EventKind::ContentReleased { .. } => "content_released",
            EventKind::RecordingStarted { .. } => "recording_started",
            EventKind::RecordingStopped { .. } => "recording_stopped",
        }
    }
}
