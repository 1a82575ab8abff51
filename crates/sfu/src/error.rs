//! The media plane's one error type.

use thiserror::Error;

/// What can go wrong in the media plane. Client mistakes (a malformed SDP,
/// an unknown peer) are told apart from the plane being gone so the HTTP edge
/// can answer 400, 404 or 503.
#[derive(Debug, Error)]
pub enum MediaError {
    /// The UDP socket could not be bound.
    #[error("cannot bind the media socket: {0}")]
    Bind(#[source] std::io::Error),
    /// The SDP or candidate a client sent was refused by the WebRTC stack.
    #[error("rejected by the WebRTC stack: {0}")]
    Negotiation(String),
    /// The SDP or candidate was not even well formed.
    #[error("malformed {what}: {detail}")]
    Malformed {
        /// What was being parsed ("SDP offer", "candidate").
        what: &'static str,
        /// Why it failed.
        detail: String,
    },
    /// No peer with that id (closed, or never existed).
    #[error("no such peer")]
    UnknownPeer,
    /// The request does not fit the peer's state (e.g. an answer when no
    /// offer is outstanding).
    #[error("invalid in this state: {0}")]
    InvalidState(String),
    /// The endpoint already publishes through another peer (WHIP refuses
    /// a second one rather than cut the first off).
    #[error("endpoint {0} already has a live peer")]
    AlreadyPublishing(diemcau_control::EndpointCode),
    /// A limit on connections was reached; the client may try later.
    #[error("{0}")]
    TooMany(String),
    /// An offer larger than any console needs.
    #[error("{0}")]
    TooLarge(String),
    /// The media task has stopped.
    #[error("the media plane is not running")]
    Stopped,
}

impl MediaError {
    pub(crate) fn stack(err: impl std::fmt::Display) -> Self {
        MediaError::Negotiation(err.to_string())
    }
}
