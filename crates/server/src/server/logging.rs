//! The tracing subscriber: human or JSON lines on stderr, filtered by
//! `RUST_LOG` (default [`DEFAULT_FILTER`]). Stderr, because stdout carries
//! the console URLs with their tokens and scripts read it.

use crate::config::LogFormat;
use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

/// `info`, except the WebRTC stack's per-packet handler, which logs a
/// warning for every replayed or early SRTP packet: under overload that is
/// a million lines a minute, written exactly when the server has no CPU to
/// spare, and the monitor already reports the loss it stands for.
pub const DEFAULT_FILTER: &str = "info,rtc::peer_connection::handler=error";

/// Installs the subscriber once; a second call (tests) is a no-op.
pub fn init(format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Human => builder.try_init(),
    };
}
