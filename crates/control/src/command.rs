//! What can be asked of a session. Role checks happen before a command gets
//! here (in `http`); the session only checks that the command is legal in
//! its current state.

use super::types::{EndpointCode, Mode, RequestId};
use serde::{Deserialize, Serialize};

/// Whom a floor grant goes to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum GrantTarget {
    /// A pending request, by id.
    Request(RequestId),
    /// Any connected endpoint, asked or not ("call on" a province).
    Endpoint(EndpointCode),
}

/// A request to change the session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "command", rename_all = "snake_case", deny_unknown_fields)]
pub enum Command {
    /// `scheduled → open`: the technical check window.
    Open,
    /// `open → live` (or straight from `scheduled`): the meeting starts.
    Start,
    /// `→ ended`: freezes the record.
    End,
    /// An endpoint's link came up.
    Connect {
        /// Which endpoint.
        endpoint: EndpointCode,
    },
    /// An endpoint's link went away without it leaving.
    Disconnect {
        /// Which endpoint.
        endpoint: EndpointCode,
    },
    /// An endpoint left on purpose.
    Leave {
        /// Which endpoint.
        endpoint: EndpointCode,
    },
    /// Who presides at the site, and how many are in the room.
    SetRepresentative {
        /// Which endpoint.
        endpoint: EndpointCode,
        /// Full name.
        name: String,
        /// Title, e.g. "Phó Chủ tịch UBND tỉnh".
        #[serde(default)]
        title: String,
        /// People in the room.
        #[serde(default)]
        headcount: Option<u32>,
    },
    /// The chair starts a roll call.
    StartRollCall {
        /// Seconds to answer; the session's rule when absent.
        #[serde(default)]
        deadline_secs: Option<u32>,
    },
    /// An endpoint answers the roll call.
    ConfirmRollCall {
        /// Which endpoint.
        endpoint: EndpointCode,
    },
    /// The chair closes the roll call before its deadline.
    CloseRollCall,
    /// An endpoint asks for the floor.
    RequestFloor {
        /// Which endpoint.
        endpoint: EndpointCode,
        /// A short topic.
        #[serde(default)]
        topic: String,
    },
    /// A pending request is withdrawn.
    CancelFloorRequest {
        /// Which request.
        request: RequestId,
    },
    /// The chair gives the floor.
    GrantFloor {
        /// To a request or directly to an endpoint.
        target: GrantTarget,
    },
    /// The chair turns a pending request down.
    DenyFloor {
        /// Which request.
        request: RequestId,
    },
    /// The chair takes the floor back (from one holder, or from all).
    RevokeFloor {
        /// Which holder; all holders when absent.
        #[serde(default)]
        endpoint: Option<EndpointCode>,
    },
    /// The holder gives the floor back.
    ReleaseFloor {
        /// Which holder.
        endpoint: EndpointCode,
    },
    /// The chair reorders the queue. Must name exactly the pending requests.
    ReorderQueue {
        /// The new order.
        order: Vec<RequestId>,
    },
    /// The chair changes who may be heard.
    SetMode {
        /// The new mode.
        mode: Mode,
    },
    /// The chair changes the speaking-time limit for grants from now on.
    SetSpeakingLimit {
        /// Seconds, or none for unlimited.
        seconds: Option<u32>,
        /// Revoke when the time runs out; unchanged when absent.
        #[serde(default)]
        auto_revoke: Option<bool>,
    },
    /// The chair mutes or unmutes a site. A muted site's audio is not
    /// forwarded to anyone, whatever the mode and even while it holds the
    /// floor; its video is unaffected. Setting what is already set changes
    /// nothing (no event), like choosing the current mode.
    SetMuted {
        /// Which endpoint (never the chair's own site).
        endpoint: EndpointCode,
        /// True to mute, false to unmute.
        muted: bool,
    },
    /// A site asks to present. Under `floor_or_chair` the floor holder
    /// takes the token at once if nobody presents, and the chair's own
    /// site takes it at once in any case; otherwise the request waits for
    /// the chair's grant.
    RequestContent {
        /// Which endpoint.
        endpoint: EndpointCode,
    },
    /// The chair gives the token, to a waiting request or directly; the
    /// current presenter, if any, loses it.
    GrantContent {
        /// The new presenter.
        endpoint: EndpointCode,
    },
    /// The chair takes the token back, or turns a waiting request down.
    RevokeContent {
        /// The presenter, or a site whose request waits; the presenter
        /// when absent.
        #[serde(default)]
        endpoint: Option<EndpointCode>,
    },
    /// The presenter stops (or a site withdraws its waiting request).
    ReleaseContent {
        /// Which endpoint.
        endpoint: EndpointCode,
    },
    /// The chair starts recording the programme. Starting what runs
    /// changes nothing (no event).
    StartRecording,
    /// The chair stops recording. Stopping what is stopped changes nothing.
    StopRecording,
    /// The server's own report that the recording stopped by itself (its
    /// file could not be written). No client may send it.
    RecordingFailed {
        /// What went wrong, for the log and the consoles.
        reason: String,
    },
    /// Time passed: fire any deadline that is due.
    Tick,
}

impl Command {
    /// A short name for logs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Open => "open",
            Command::Start => "start",
            Command::End => "end",
            Command::Connect { .. } => "connect",
            Command::Disconnect { .. } => "disconnect",
            Command::Leave { .. } => "leave",
            Command::SetRepresentative { .. } => "set_representative",
            Command::StartRollCall { .. } => "start_roll_call",
            Command::ConfirmRollCall { .. } => "confirm_roll_call",
            Command::CloseRollCall => "close_roll_call",
            Command::RequestFloor { .. } => "request_floor",
            Command::CancelFloorRequest { .. } => "cancel_floor_request",
            Command::GrantFloor { .. } => "grant_floor",
            Command::DenyFloor { .. } => "deny_floor",
            Command::RevokeFloor { .. } => "revoke_floor",
            Command::ReleaseFloor { .. } => "release_floor",
            Command::ReorderQueue { .. } => "reorder_queue",
            Command::SetMode { .. } => "set_mode",
            Command::SetSpeakingLimit { .. } => "set_speaking_limit",
            Command::SetMuted { .. } => "set_muted",
            Command::RequestContent { .. } => "request_content",
            Command::GrantContent { .. } => "grant_content",
            Command::RevokeContent { .. } => "revoke_content",
            Command::ReleaseContent { .. } => "release_content",
            Command::StartRecording => "start_recording",
            Command::StopRecording => "stop_recording",
            Command::RecordingFailed { .. } => "recording_failed",
            Command::Tick => "tick",
        }
    }
}
