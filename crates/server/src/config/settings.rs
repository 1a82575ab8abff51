//! The server configuration, `config/diemcau.toml`, as typed values.
//!
//! Every key has a default, and the defaults here are the values written in
//! the shipped file (a test holds them equal), so an operator's file need only
//! name what it changes.

use crate::control::Rules;
use crate::monitor::Thresholds;
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

/// The whole server configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// HTTP listen address.
    pub listen: SocketAddr,
    /// The address endpoints reach the server at; the base of join links.
    pub public_url: String,
    /// Event log and generated secret. Relative to the working directory.
    pub data_dir: PathBuf,
    /// The endpoint registry. [`Config::load`] resolves it against the config
    /// file's directory.
    pub registry: PathBuf,
    /// Where the signing secret is read from, when not from the environment.
    pub secret_file: Option<PathBuf>,
    /// HTTPS: the certificate and key; plain HTTP when absent.
    pub tls: TlsConfig,
    /// Size limits on what clients send.
    pub limits: Limits,
    /// The rules new sessions run under.
    pub session: SessionDefaults,
    /// The media plane.
    pub media: MediaConfig,
    /// Link health thresholds: the monitor's own type, so what the file
    /// says is exactly what judges the links.
    pub health: Thresholds,
    /// Logging.
    pub log: LogConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 8080)),
            public_url: "http://127.0.0.1:8080".to_string(),
            data_dir: PathBuf::from("./data"),
            registry: PathBuf::from("endpoints-63.toml"),
            secret_file: None,
            tls: TlsConfig::default(),
            limits: Limits::default(),
            session: SessionDefaults::default(),
            media: MediaConfig::default(),
            health: Thresholds::default(),
            log: LogConfig::default(),
        }
    }
}

impl Config {
    /// The rules a session created now runs under.
    pub fn rules(&self) -> Rules {
        self.session.clone()
    }

    /// `public_url` without a trailing slash, ready for `/path` to follow.
    pub fn base_url(&self) -> &str {
        self.public_url.trim_end_matches('/')
    }
}

/// The `[tls]` table: HTTPS with a certificate chain and its key, both PEM.
/// Browsers give a page camera and microphone only on a secure origin.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// The server certificate, then any intermediates (PEM).
    pub cert_file: Option<PathBuf>,
    /// Its private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key_file: Option<PathBuf>,
}

impl TlsConfig {
    /// Whether HTTPS is configured.
    pub fn enabled(&self) -> bool {
        self.cert_file.is_some() || self.key_file.is_some()
    }
}

/// Limits on what clients send and how long they may take; larger bodies
/// and messages are refused, slow or idle connections closed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest HTTP request body, in bytes.
    pub max_body_bytes: usize,
    /// Largest WebSocket message, in bytes.
    pub max_ws_message_bytes: usize,
    /// HTTP connections open at once; more wait to be accepted.
    pub max_connections: usize,
    /// Seconds a client has to send a request's headers (and to finish a
    /// TLS handshake).
    pub header_timeout_secs: u32,
    /// Seconds a request may take, body included (not a WebSocket's life).
    pub request_timeout_secs: u32,
    /// Seconds a connection may stay open with nothing sent either way.
    pub idle_timeout_secs: u32,
    /// Messages a WebSocket client may send per second, on average; more
    /// are answered `rate_limited` and not run. A console sends a few.
    pub ws_messages_per_sec: u32,
    /// Messages a WebSocket client may send at once before that rate
    /// applies (a page connecting sends its offer and candidates together).
    pub ws_burst: u32,
    /// Commands (REST or WebSocket) one caller — a role and its site — may
    /// run per second, on average; more are refused with 429.
    pub commands_per_sec: u32,
    /// Commands one caller may run at once before that rate applies.
    pub command_burst: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 65536,
            max_ws_message_bytes: 65536,
            max_connections: 1024,
            header_timeout_secs: 10,
            request_timeout_secs: 30,
            idle_timeout_secs: 120,
            ws_messages_per_sec: 20,
            ws_burst: 40,
            commands_per_sec: 20,
            command_burst: 60,
        }
    }
}

/// The `[session]` table: the [`Rules`] a new session starts with, read
/// as the control plane's own type so the two cannot drift apart.
pub type SessionDefaults = Rules;

/// The `[media]` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MediaConfig {
    /// The one UDP port for all media; 0 = any free port.
    pub udp_port: u16,
    /// Local address the media socket binds to.
    pub bind_ip: IpAddr,
    /// Address written into ICE candidates behind a 1:1 NAT.
    pub public_ip: Option<IpAddr>,
    /// STUN/TURN servers handed to browsers.
    pub ice_servers: Vec<IceServer>,
    /// A TURN relay that takes credentials minted from a shared secret.
    pub turn: Option<TurnConfig>,
    /// Video bit rate asked of a site that only fills the chair's grid,
    /// kbit/s: 63 tiles at full rate would need ~150 Mbit/s into the chair.
    pub grid_bitrate_kbps: u32,
    /// Video bit rate allowed to the sites in the programme (the chair and
    /// the floor holder), kbit/s.
    pub programme_bitrate_kbps: u32,
    /// Video bit rate of a presentation (a shared screen or window), kbit/s,
    /// on top of the presenter's camera.
    pub content_bitrate_kbps: u32,
    /// Frames a second of a presentation: slides want resolution, not motion.
    pub content_max_fps: u32,
    /// Seconds without an ICE consent check from a client before its
    /// consent expires and nothing more is sent to it (RFC 7675 says 30).
    pub consent_timeout_secs: u32,
    /// Media connections the server holds at once, all sessions together.
    pub max_connections: u32,
    /// Media connections one session holds at once (sites, chair,
    /// technicians, viewers).
    pub max_connections_per_session: u32,
    /// Of those, WHEP and other viewers (programme only).
    pub max_viewers_per_session: u32,
    /// Viewer and technician connections opened with one token at once
    /// (a site's own connection replaces its previous one, so it never
    /// counts twice): a leaked viewer link cannot fill the server.
    pub max_connections_per_token: u32,
    /// m-lines in one offer: a console's own lines plus an audio and a
    /// video tile per site of the registry fit with room to spare.
    pub max_media_lines: u32,
    /// Remote candidates one connection may signal.
    pub max_candidates: u32,
    /// Seconds a new connection has to come up before it is dropped.
    pub connect_timeout_secs: u32,
    /// Also offer passive ICE-TCP candidates, on TCP with the media
    /// port's number, for networks that block UDP.
    pub ice_tcp: bool,
    /// Threads that read what arrives (decrypting it) and encrypt and send
    /// forwarded media, most of what a forwarded packet costs; 0: one per
    /// core the server may use.
    pub threads: u32,
    /// Forwarded packets waiting in one sending round from which the
    /// round is shared between the threads: a thread's start costs about
    /// what sending a hundred packets does, so smaller rounds go from the
    /// media task alone.
    pub share_from: u32,
    /// Datagrams read in one round (at most 65) from which their reading
    /// (decrypting, the connections' interceptors) is shared between the
    /// threads: reading one costs about what sending one does, and a round
    /// of reads is smaller than one of sends.
    pub share_reads_from: u32,
}

impl Default for MediaConfig {
    fn default() -> Self {
        MediaConfig {
            udp_port: 50000,
            bind_ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            public_ip: None,
            ice_servers: Vec::new(),
            turn: None,
            grid_bitrate_kbps: 300,
            programme_bitrate_kbps: 2500,
            content_bitrate_kbps: 1500,
            content_max_fps: 5,
            consent_timeout_secs: 30,
            max_connections: 500,
            max_connections_per_session: 200,
            max_viewers_per_session: 32,
            max_connections_per_token: 8,
            max_media_lines: 160,
            max_candidates: 64,
            connect_timeout_secs: 30,
            ice_tcp: true,
            threads: 0,
            share_from: 256,
            share_reads_from: 32,
        }
    }
}

/// A STUN or TURN server, in the shape browsers' `RTCIceServer` takes, so it
/// is serialized to them as is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IceServer {
    /// `stun:`, `turn:` or `turns:` URLs.
    pub urls: Vec<String>,
    /// TURN user name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// TURN password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

/// The `[media.turn]` table: a TURN relay (coturn with `use-auth-secret`)
/// to which every client is handed its own short-lived credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TurnConfig {
    /// `turn:` or `turns:` URLs, e.g. `turn:turn.example.vn:3478?transport=tcp`.
    pub urls: Vec<String>,
    /// The secret shared with the relay (coturn's `static-auth-secret`).
    pub secret: String,
    /// Seconds the minted credentials stay valid.
    #[serde(default = "default_turn_ttl")]
    pub ttl_secs: u32,
}

fn default_turn_ttl() -> u32 {
    12 * 3600
}

/// The `[log]` table.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// Line format.
    pub format: LogFormat,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Readable lines, for a terminal.
    #[default]
    Human,
    /// One JSON object per line, for log collectors.
    Json,
}
