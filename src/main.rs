//! `diemcau`: the command line.
//!
//! Minimal version with `serve` only; the full CLI replaces it.

use clap::{Parser, Subcommand};
use diemcau::server::{run, ServeOptions};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "diemcau", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the server.
    Serve {
        /// Config file.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Data dir.
        #[arg(long)]
        data: Option<PathBuf>,
        /// HTTP listen address.
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Media UDP port.
        #[arg(long)]
        media_port: Option<u16>,
        /// Public IP for ICE candidates.
        #[arg(long)]
        public_ip: Option<IpAddr>,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Cmd::Serve {
            config,
            data,
            listen,
            media_port,
            public_ip,
        } => {
            run(ServeOptions {
                config,
                data,
                listen,
                media_port,
                public_ip,
            })
            .await
        }
    }
}
