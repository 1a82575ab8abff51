//! What can go wrong with a synthetic peer.

use thiserror::Error;

/// A synthetic peer's failure, worded so a load run's report says which
/// step failed.
#[derive(Debug, Error)]
pub enum Error {
    /// A URL or address the client refuses (not loopback, not http).
    #[error("setup: {0}")]
    Setup(String),
    /// The WebRTC stack refused an operation, or the connection failed.
    #[error("webrtc: {0}")]
    WebRtc(String),
    /// A wait ran out of time.
    #[error("timed out: {0}")]
    Timeout(String),
    /// An HTTP exchange (WHIP, WHEP) failed.
    #[error("http: {0}")]
    Http(String),
}

impl From<webrtc::error::Error> for Error {
    fn from(e: webrtc::error::Error) -> Self {
        Error::WebRtc(e.to_string())
    }
}
