//! The WebSocket's messages, tagged by `type`.
//!
//! Both enums are open for more variants: the media plane adds its
//! signaling (`offer`, `answer`, `candidate`, `stats`) as new variants here
//! and a branch in the dispatcher, without touching the rest.

use crate::config::IceServer;
use crate::control::{Command, EndpointCode, Event, SessionId};
use crate::http::view::SessionView;
use crate::media::TrackInfo;
use serde::{Deserialize, Serialize};

/// What a client sends.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientMessage {
    /// A control command, answered `ok` or `error` with the same `id`.
    Command {
        /// The client's id for the answer.
        id: String,
        /// The same command as control's (and REST's), same role checks.
        command: Command,
    },
    /// Keep-alive; answered `pong`.
    Ping {
        /// Echoed back when given.
        #[serde(default)]
        id: Option<String>,
    },
    /// The client's SDP offer: starts (or restarts) its media; answered
    /// `answer`, then `tracks`.
    Offer {
        /// The SDP.
        sdp: String,
    },
    /// The client's answer to a server `offer`.
    Answer {
        /// The SDP.
        sdp: String,
    },
    /// A trickled client candidate (`RTCIceCandidateInit`).
    Candidate {
        /// The candidate object as the browser gives it.
        candidate: serde_json::Value,
    },
    /// Asks for an ICE restart: a server `offer` with new credentials follows.
    IceRestart {},
    /// A technician's console names the sites whose tiles it shows; only
    /// those carry media to it from now on (until it says, every tile, as
    /// the chair gets). Not answered unless refused.
    Watch {
        /// Site codes from the registry; empty for none.
        endpoints: Vec<EndpointCode>,
    },
    /// The page's `getStats` summary, every 2 s, about this socket's peer
    /// connection; kept for the monitor, not answered unless refused.
    Stats {
        /// The summary, checked field by field.
        stats: crate::monitor::ClientStats,
    },
}

/// What the server sends.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// First message: who the server thinks the client is.
    Welcome {
        /// The token's role.
        role: crate::auth::Role,
        /// The endpoint, for endpoint (and chair) tokens.
        endpoint: Option<EndpointCode>,
        /// The session this socket follows; none when there is none yet.
        session: Option<SessionId>,
        /// STUN/TURN servers for the page's `RTCPeerConnection`.
        ice_servers: Vec<IceServer>,
        /// The thresholds links are graded by (`[health]`), so a site's own
        /// quality indicator agrees with the technicians' console.
        health: Box<crate::monitor::Thresholds>,
    },
    /// The session's state as the role may see it; events with a higher
    /// `seq` follow. Sent again if the client fell behind.
    Snapshot {
        /// The state's sequence number (events so far).
        seq: u64,
        /// The state.
        session: SessionView,
    },
    /// One change of state.
    Event {
        /// Its sequence number within the session.
        seq: u64,
        /// The event.
        event: Event,
    },
    /// A command succeeded.
    Ok {
        /// The client's id.
        id: String,
        /// The session's sequence number after it.
        seq: u64,
    },
    /// A message was refused or failed.
    Error {
        /// The client's id, when the message had one.
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        /// A stable code (the same codes as REST errors).
        error: String,
        /// A sentence for people.
        message: String,
    },
    /// The server's answer to the client's `offer`.
    Answer {
        /// The SDP (complete: it carries the server's candidate).
        sdp: String,
    },
    /// A server-initiated offer (new tiles, ICE restart); answer it.
    Offer {
        /// The SDP.
        sdp: String,
    },
    /// A server candidate (`RTCIceCandidateInit`).
    Candidate {
        /// The candidate object.
        candidate: serde_json::Value,
    },
    /// Which m-line carries which slot and endpoint; sent whenever that
    /// changes.
    Tracks {
        /// One entry per outgoing line.
        tracks: Vec<TrackInfo>,
    },
    /// Another connection of the same site took over (a second page or
    /// device); this page's connection is closed. It reconnects only when
    /// its user asks, by sending a new offer.
    Replaced,
    /// A link monitoring event (alerts, health, link tests); chair and
    /// technician sockets only.
    Monitor {
        /// The event.
        event: crate::monitor::MonitorEvent,
    },
    /// Answer to `ping`.
    Pong {
        /// The ping's id.
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<String>,
    },
}

impl ServerMessage {
    /// An error reply.
    pub fn error(id: Option<String>, error: &str, message: impl Into<String>) -> Self {
        ServerMessage::Error {
            id,
            error: error.to_string(),
            message: message.into(),
        }
    }
}
