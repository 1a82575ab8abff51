//! Server configuration. This file holds only the media section for now; the
//! full configuration (listen address, registries, secrets) replaces it.

use serde::{Deserialize, Serialize};
use std::net::{IpAddr, Ipv4Addr};

/// A STUN or TURN server handed to browser clients when they join; the
/// server itself never uses it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceServer {
    /// `stun:` / `turn:` URLs.
    pub urls: Vec<String>,
    /// TURN username, if any.
    #[serde(default)]
    pub username: Option<String>,
    /// TURN credential, if any.
    #[serde(default)]
    pub credential: Option<String>,
}

/// The media plane's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaConfig {
    /// The one UDP port every peer connection shares (0 = any free port).
    pub udp_port: u16,
    /// Address the UDP socket binds to.
    pub bind_ip: IpAddr,
    /// Address written into ICE candidates when the server sits behind a
    /// 1:1 NAT; the bound address otherwise.
    #[serde(default)]
    pub public_ip: Option<IpAddr>,
    /// STUN/TURN servers for browser clients.
    #[serde(default)]
    pub ice_servers: Vec<IceServer>,
}

impl Default for MediaConfig {
    fn default() -> Self {
        MediaConfig {
            udp_port: 50000,
            bind_ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            public_ip: None,
            ice_servers: Vec::new(),
        }
    }
}
