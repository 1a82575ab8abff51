//! The server configuration and the endpoint registries.
//!
//! Minimal version so the server can be wired and tested; the full loader
//! (validation with file and line, the shipped registries) replaces it.

use crate::control::{EndpointCode, EndpointInfo, EndpointRole, Rules};
use serde::Deserialize;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// Which file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file is not valid TOML for its schema.
    #[error("{path}: {source}")]
    Parse {
        /// Which file.
        path: PathBuf,
        /// Why.
        source: toml::de::Error,
    },
    /// The registry has no central endpoint.
    #[error("{0}: no central endpoint")]
    NoCentral(PathBuf),
}

/// Size limits on what clients send.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest accepted HTTP request body.
    pub max_body_bytes: usize,
    /// Largest accepted WebSocket message.
    pub max_ws_message_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 64 * 1024,
            max_ws_message_bytes: 64 * 1024,
        }
    }
}

/// Floor and roll-call defaults for new sessions.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionDefaults {
    /// Drop grace in seconds.
    pub drop_grace_secs: Option<u32>,
}

impl SessionDefaults {
    /// The rules a new session runs under.
    pub fn rules(&self) -> Rules {
        let mut rules = Rules::default();
        if let Some(g) = self.drop_grace_secs {
            rules.drop_grace_secs = g;
        }
        rules
    }
}

/// A STUN or TURN server handed to clients.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IceServer {
    /// `stun:` or `turn:` URLs.
    pub urls: Vec<String>,
}

/// Media plane settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MediaConfig {
    /// The one UDP port.
    pub udp_port: u16,
    /// Address the UDP socket binds.
    pub bind_ip: IpAddr,
    /// Address written into candidates (NAT 1:1).
    pub public_ip: Option<IpAddr>,
    /// STUN/TURN for clients.
    pub ice_servers: Vec<IceServer>,
}

impl Default for MediaConfig {
    fn default() -> Self {
        MediaConfig {
            udp_port: 3478,
            bind_ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            public_ip: None,
            ice_servers: Vec::new(),
        }
    }
}

/// Link health thresholds.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HealthThresholds {}

/// How logs are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// For people.
    #[default]
    Human,
    /// One JSON object a line.
    Json,
}

/// Log settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// Human or JSON.
    pub format: LogFormat,
}

/// The server configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// HTTP listen address.
    pub listen: SocketAddr,
    /// Base URL of the consoles as users reach them.
    pub public_url: String,
    /// Data dir.
    pub data_dir: PathBuf,
    /// Endpoint registry file, relative to the config file.
    pub registry: PathBuf,
    /// Secret file.
    pub secret_file: Option<PathBuf>,
    /// Size limits.
    pub limits: Limits,
    /// Session defaults.
    pub session: SessionDefaults,
    /// Media.
    pub media: MediaConfig,
    /// Health thresholds.
    pub health: HealthThresholds,
    /// Logs.
    pub log: LogConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: "http://127.0.0.1:8080".into(),
            data_dir: PathBuf::from("data"),
            registry: PathBuf::from("endpoints-63.toml"),
            secret_file: None,
            limits: Limits::default(),
            session: SessionDefaults::default(),
            media: MediaConfig::default(),
            health: HealthThresholds::default(),
            log: LogConfig::default(),
        }
    }
}

/// One endpoint of the registry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryEntry {
    /// Stable code.
    pub code: EndpointCode,
    /// Display name.
    pub name: String,
    /// Central or provincial.
    pub role: EndpointRole,
    /// Kind of site.
    #[serde(default)]
    pub kind: Option<String>,
    /// Older units this one was formed from.
    #[serde(default)]
    pub formed_from: Vec<String>,
    /// Current join-link key; tokens must carry it when set.
    #[serde(default)]
    pub link_key: Option<String>,
}

/// The endpoint registry.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Registry {
    /// Every endpoint.
    pub endpoints: Vec<RegistryEntry>,
}

impl Registry {
    /// The entry with this code.
    pub fn get(&self, code: &EndpointCode) -> Option<&RegistryEntry> {
        self.endpoints.iter().find(|e| &e.code == code)
    }
    /// The central endpoint.
    pub fn central(&self) -> Option<&RegistryEntry> {
        self.endpoints
            .iter()
            .find(|e| e.role == EndpointRole::Central)
    }
    /// The endpoints as a new session records them.
    pub fn endpoint_infos(&self) -> Vec<EndpointInfo> {
        self.endpoints
            .iter()
            .map(|e| EndpointInfo {
                code: e.code.clone(),
                name: e.name.clone(),
                role: e.role,
            })
            .collect()
    }
}

fn read_toml<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    toml::from_str(&text).map_err(|source| ConfigError::Parse {
        path: path.to_path_buf(),
        source,
    })
}

/// Loads the config file (or `config/diemcau.toml`) and its registry.
pub fn load_effective(path: Option<&Path>) -> Result<(Config, Registry), ConfigError> {
    let path = path
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("config/diemcau.toml"));
    let config: Config = read_toml(&path)?;
    let base = path.parent().unwrap_or(Path::new("."));
    let registry_path = base.join(&config.registry);
    let registry: Registry = read_toml(&registry_path)?;
    if registry.central().is_none() {
        return Err(ConfigError::NoCentral(registry_path));
    }
    Ok((config, registry))
}
