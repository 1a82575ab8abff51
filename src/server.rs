//! Wires the parts together for `diemcau serve`.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

/// What `diemcau serve` was asked for on its command line; each `Some`
/// overrides the config file.
#[derive(Debug, Clone, Default)]
pub struct ServeOptions {
    /// Config file; `config/diemcau.toml` when it exists, else the embedded defaults.
    pub config: Option<PathBuf>,
    /// Data dir (SQLite file, generated secret).
    pub data: Option<PathBuf>,
    /// HTTP listen address.
    pub listen: Option<SocketAddr>,
    /// Media UDP port.
    pub media_port: Option<u16>,
    /// Public IP written into ICE candidates.
    pub public_ip: Option<IpAddr>,
}

/// Runs the server until it is stopped.
pub async fn run(_opts: ServeOptions) -> anyhow::Result<()> {
    anyhow::bail!("not yet")
}
