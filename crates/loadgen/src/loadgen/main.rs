//! `diemcau-loadgen`: N synthetic endpoints and a chair against a WHIP/WHEP
//! server (diemcau or any other), and the same packet pattern through the
//! plain UDP relay, measured by the same code.
//!
//! # Layout
//!
//! - [`run`]: one run against one target, start to figures.
//! - [`publisher`]: paces one publisher's packets; [`pattern`] says how many.
//! - [`payload`]: VP8/Opus-shaped payloads and the stamp they carry.
//! - [`recorder`]: what one receiver saw; [`report`] reduces it.
//! - [`peer`], [`whip`], [`http`]: the WebRTC side (WHIP, WHEP); keyframe
//!   requests reach the publishers through the server's own `RtcpTap`.
//! - [`rejoin`]: peers that join again when their connection drops.
//! - [`udp`], [`relay_protocol`]: the baseline side (`udp-relay`).
//! - [`diemcau`], [`tokens`]: the optional diemcau REST calls and tokens.
//! - [`procstat`]: the server's CPU and peak memory from /proc.
//! - [`table`]: the output.
//!
//! Everything is bounded: loopback only, a run lasts `--duration` after
//! connecting, and every join, wait and request has a time limit.
#![forbid(unsafe_code)]

mod clock;
mod diemcau;
mod error;
mod pattern;
mod payload;
mod peer;
mod procstat;
mod publisher;
mod recorder;
mod rejoin;
#[allow(dead_code)] // shared with the relay; this side uses half of it
mod relay_protocol;
mod report;
mod run;
mod table;
mod tokens;
mod udp;

// The HTTP and WHIP/WHEP clients are the test kit's, shared with the
// server's tests.
use diemcau_testkit::{http, whip};

use clap::Parser;
use error::LoadError;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Load generator for diemcau and other WHIP/WHEP servers (loopback only).
#[derive(Parser, Debug)]
#[command(name = "diemcau-loadgen", version)]
struct Args {
    /// WHIP/WHEP server, e.g. http://127.0.0.1:8080 (loopback only).
    #[arg(long)]
    server: Option<String>,
    /// Session id in the WHIP/WHEP routes (and created with --diemcau).
    #[arg(long, default_value = "loadgen")]
    session: String,
    /// WHIP route; `{session}` is replaced.
    #[arg(long, default_value = "/whip/{session}")]
    whip_route: String,
    /// WHEP route; `{session}` is replaced.
    #[arg(long, default_value = "/whep/{session}")]
    whep_route: String,
    /// Tokens CSV with a header: `role,code,token` rows (role chair, viewer, or empty for
    /// an endpoint), or an invite CSV with `code` and `link` columns.
    #[arg(long)]
    tokens: Option<PathBuf>,
    /// Also drive diemcau's REST API: make the session live, move the floor.
    #[arg(long)]
    diemcau: bool,
    /// The baseline relay (`udp-relay`) to run the same pattern through.
    #[arg(long)]
    baseline_relay: Option<SocketAddr>,
    /// Register the chair's grid receiver on the relay (endpoint video to
    /// the chair); off by default, since WHEP viewers do not get it either.
    #[arg(long)]
    relay_chair_grid: bool,
    /// Endpoints (the chair comes on top).
    #[arg(long, default_value_t = 8)]
    endpoints: u32,
    /// Traffic time once connected.
    #[arg(long, default_value = "20s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Time between floor grants (0s: the floor does not move).
    #[arg(long, default_value = "3s", value_parser = humantime::parse_duration)]
    floor_every: Duration,
    /// Chair video bitrate, kbit/s.
    #[arg(long, default_value_t = 2500)]
    chair_kbps: u64,
    /// Endpoint video bitrate, kbit/s.
    #[arg(long, default_value_t = 500)]
    endpoint_kbps: u64,
    /// Limit on each peer's join and on the wait for the programme.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    connect_timeout: Duration,
    /// Peers joining at once.
    #[arg(long, default_value_t = 8)]
    parallel: usize,
    /// Receive-only audio + video pairs each WHEP viewer offers (chair and floor slots).
    #[arg(long, default_value_t = 2)]
    whep_slots: usize,
    /// The WHIP/WHEP server's pid, for CPU and peak RSS.
    #[arg(long)]
    server_pid: Option<u32>,
    /// The relay's pid, for CPU and peak RSS.
    #[arg(long)]
    relay_pid: Option<u32>,
    /// Peers whose connection drops join again, as a site's page does
    /// (for a server restart under load; see the longest programme gap).
    #[arg(long)]
    rejoin: bool,
    /// With --diemcau: the server records the programme during the run
    /// (to compare the cost of recording).
    #[arg(long)]
    record: bool,
    /// Print JSON instead of the table.
    #[arg(long)]
    json: bool,
}

/// Upper bounds that keep a mistyped command from becoming a stress test
/// of the machine itself.
const MAX_ENDPOINTS: u32 = 500;
const MAX_DURATION: Duration = Duration::from_secs(3600);

fn plan(args: &Args, server_pid: Option<u32>) -> run::Plan {
    run::Plan {
        endpoints: args.endpoints,
        pattern: pattern::Pattern::standard(args.chair_kbps * 1000, args.endpoint_kbps * 1000),
        duration: args.duration,
        floor_every: args.floor_every,
        connect_limit: args.connect_timeout,
        parallel: args.parallel,
        server_pid,
        rejoin: args.rejoin,
        record: args.record,
    }
}

fn whip_target(args: &Args, url: &str) -> Result<run::Target, LoadError> {
    let server = http::Server::parse(url)?;
    let tokens = match &args.tokens {
        Some(path) => tokens::Tokens::load(path)?,
        None => tokens::Tokens::default(),
    };
    let console = if args.diemcau {
        let chair = tokens.chair.as_deref().ok_or_else(|| {
            LoadError::Setup("--diemcau needs a chair token in --tokens (role chair)".into())
        })?;
        let have = tokens.endpoints.len();
        if have < args.endpoints as usize {
            return Err(LoadError::Setup(format!(
                "--diemcau with {} endpoints needs as many endpoint tokens; the file has {have}",
                args.endpoints
            )));
        }
        Some(Box::new(diemcau::Console::new(
            server.clone(),
            &args.session,
            chair,
        )))
    } else {
        None
    };
    Ok(run::Target::Whip {
        server,
        whip_route: args.whip_route.replace("{session}", &args.session),
        whep_route: args.whep_route.replace("{session}", &args.session),
        tokens: Box::new(tokens),
        console,
        whep_slots: args.whep_slots.max(1),
    })
}

async fn main_inner(args: Args) -> Result<table::Output, LoadError> {
    if args.server.is_none() && args.baseline_relay.is_none() {
        return Err(LoadError::Setup(
            "nothing to load: give --server URL, --baseline-relay ADDR, or both".into(),
        ));
    }
    if args.endpoints == 0 || args.endpoints > MAX_ENDPOINTS {
        return Err(LoadError::Setup(format!(
            "--endpoints must be 1..={MAX_ENDPOINTS}"
        )));
    }
    if args.record && !args.diemcau {
        return Err(LoadError::Setup(
            "--record needs --diemcau (it is diemcau's REST call)".into(),
        ));
    }
    if args.duration > MAX_DURATION {
        return Err(LoadError::Setup("--duration is limited to 1h".into()));
    }
    // Check every address before any traffic starts.
    let target = args
        .server
        .as_deref()
        .map(|u| whip_target(&args, u))
        .transpose()?;
    let relay = args
        .baseline_relay
        .map(http::require_loopback)
        .transpose()?;

    let mut runs = Vec::new();
    if let Some(t) = target {
        runs.push(run::run(&plan(&args, args.server_pid), t).await?);
    }
    if let Some(addr) = relay {
        let t = run::Target::Relay {
            addr,
            chair_grid: args.relay_chair_grid,
        };
        runs.push(run::run(&plan(&args, args.relay_pid), t).await?);
    }
    Ok(table::Output::new(runs))
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let json = args.json;
    match main_inner(args).await {
        Ok(out) if json => match serde_json::to_string_pretty(&out) {
            Ok(text) => println!("{text}"),
            Err(e) => {
                eprintln!("diemcau-loadgen: {e}");
                std::process::exit(1);
            }
        },
        Ok(out) => print!("{}", out.table()),
        Err(e) => {
            eprintln!("diemcau-loadgen: {e}");
            std::process::exit(1);
        }
    }
}
