//! What the core is told at start: limits, timers and bit rates. The
//! server fills it from its `[media]` section.

use std::time::Duration;

/// The core's settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Consent (RFC 7675): how long a connection lives without a check.
    pub consent_timeout: Duration,
    /// A connection not up by then is dropped.
    pub connect_timeout: Duration,
    /// Connections at once, in all.
    pub max_connections: usize,
    /// Connections at once in one session.
    pub max_connections_per_session: usize,
    /// Viewer connections at once in one session.
    pub max_viewers_per_session: usize,
    /// Viewer and technician connections one token holds at once.
    pub max_connections_per_token: usize,
    /// m-lines in one offer.
    pub max_media_lines: usize,
    /// Candidates one connection may signal.
    pub max_candidates: usize,
    /// Video bit rate asked of a site shown only in the grid, kbit/s.
    pub grid_bitrate_kbps: u32,
    /// Video bit rate asked of a site in the programme, kbit/s.
    pub programme_bitrate_kbps: u32,
    /// Added for a presenter's content, kbit/s.
    pub content_bitrate_kbps: u32,
    /// Datagrams wait in their connection's inbox until the shell has
    /// them read ([`Sfu::ingress`](crate::Sfu::ingress)) instead of being
    /// read as they arrive: for a shell that reads on several threads. A
    /// shell with one has nothing to gain from the wait.
    pub batch_reads: bool,
}

impl Default for Config {
    /// The server's shipped defaults.
    fn default() -> Config {
        Config {
            consent_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(30),
            max_connections: 500,
            max_connections_per_session: 200,
            max_viewers_per_session: 32,
            max_connections_per_token: 8,
            max_media_lines: 160,
            max_candidates: 64,
            grid_bitrate_kbps: 300,
            programme_bitrate_kbps: 2500,
            content_bitrate_kbps: 1500,
            batch_reads: false,
        }
    }
}
