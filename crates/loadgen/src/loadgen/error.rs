//! The load generator's one error type.

use thiserror::Error;

/// Everything that can stop a run. Each variant says which side failed, so
/// a benchmark that breaks points at the server, the generator or the setup.
#[derive(Debug, Error)]
pub enum LoadError {
    /// The command line or a file asked for something we refuse to do.
    #[error("setup: {0}")]
    Setup(String),
    /// An HTTP exchange (WHIP, WHEP, REST) failed or was answered badly.
    #[error("http: {0}")]
    Http(String),
    /// The WebRTC stack refused an operation.
    #[error("webrtc: {0}")]
    WebRtc(String),
    /// A wait ran out of time.
    #[error("timed out: {0}")]
    Timeout(String),
    /// Local IO (sockets, files, /proc).
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}

impl From<webrtc::error::Error> for LoadError {
    fn from(e: webrtc::error::Error) -> Self {
        LoadError::WebRtc(e.to_string())
    }
}

impl From<diemcau_testkit::Error> for LoadError {
    fn from(e: diemcau_testkit::Error) -> Self {
        match e {
            diemcau_testkit::Error::Setup(e) => LoadError::Setup(e),
            diemcau_testkit::Error::WebRtc(e) => LoadError::WebRtc(e),
            diemcau_testkit::Error::Timeout(what) => LoadError::Timeout(what),
            diemcau_testkit::Error::Http(e) => LoadError::Http(e),
        }
    }
}
