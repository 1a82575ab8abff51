//! The load generator against the baseline relay and against the real
//! server: the binaries, on loopback, for two seconds each.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Kills the child (relay or server) however the test ends.
struct Relay(Child);

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The first line a child prints, read on a thread so a silent child
/// cannot hang the test. The thread then drains the rest until the child
/// ends: a child whose stdout is closed fails at its next line.
fn first_line(stdout: std::process::ChildStdout) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        let _ = reader.read_line(&mut line);
        let _ = tx.send(line);
        let _ = std::io::copy(&mut reader, &mut std::io::sink());
    });
    rx.recv_timeout(Duration::from_secs(30))
        .expect("the child says where it listens within 30 s")
}

/// Runs the load generator with `args` (bounded) and returns its JSON.
fn run_loadgen(args: &[&str]) -> serde_json::Value {
    let mut loadgen = Command::new(env!("CARGO_BIN_EXE_diemcau-loadgen"))
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .expect("the load generator starts");
    let deadline = Instant::now() + Duration::from_secs(60);
    while loadgen.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = loadgen.kill();
            panic!("the load generator did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = loadgen.wait_with_output().expect("output");
    assert!(out.status.success(), "the load generator failed");
    serde_json::from_slice(&out.stdout).expect("JSON output")
}

fn start_relay() -> (Relay, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_udp-relay"))
        .args(["--listen", "127.0.0.1:0", "--duration", "60s"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("the relay starts");
    let stdout = child.stdout.take().expect("the relay's stdout");
    let relay = Relay(child);
    let line = first_line(stdout);
    let addr = line
        .trim()
        .rsplit(' ')
        .next()
        .expect("an address on the first line")
        .to_string();
    (relay, addr)
}

/// Two endpoints and a chair through the relay for two seconds: the
/// programme reaches both receivers, packets arrive, a latency and the
/// relay's cost are reported, and the floor moves with keyframes.
#[test]
fn two_endpoints_through_the_relay_report_packets_and_latency() {
    let (relay, addr) = start_relay();
    let relay_pid = relay.0.id().to_string();
    let json = run_loadgen(&[
        "--baseline-relay",
        &addr,
        "--relay-pid",
        &relay_pid,
        "--endpoints",
        "2",
        "--duration",
        "2s",
        "--floor-every",
        "600ms",
        "--chair-kbps",
        "500",
        "--endpoint-kbps",
        "200",
        "--json",
    ]);
    let run = &json["runs"][0];
    assert_eq!(run["target"], "udp-relay");
    assert_eq!(run["programme_receivers_with_chair"], 2);
    assert!(run["forwarded_packets"].as_u64().unwrap_or(0) > 100);
    assert!(run["latency"]["samples"].as_u64().unwrap_or(0) > 100);
    assert!(run["latency"]["p50_ms"].as_f64().unwrap_or(0.0) > 0.0);
    assert!(run["server"]["peak_rss_mib"].as_f64().unwrap_or(0.0) > 0.0);
    assert!(run["grants"].as_u64().unwrap_or(0) >= 1);
    assert!(run["keyframe_requests"].as_u64().unwrap_or(0) >= 1);
}

/// The server's binary, built beside this test by `cargo test --workspace`
/// (it belongs to another package of the workspace, so cargo names no
/// path for it).
fn server_binary() -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("the test's own path");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("the target directory");
    let bin = dir.join(format!("diemcau{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "no server binary at {}: run `cargo build --workspace --bins` first",
        bin.display()
    );
    bin
}

/// The signing secret the server and the CLI share in the next test.
const SECRET: &str = "loadgen-test-secret";

/// Two endpoints and a chair through the real server for two seconds, the
/// way BENCHMARKS.md runs it: tokens from `diemcau invite --format csv`
/// (in the links' fragments), the session made live and the floor moved
/// over REST, media over WHIP and WHEP. The programme reaches both
/// receivers, a latency is measured and a floor grant ends with the new
/// holder's keyframe on every receiver.
#[test]
fn two_endpoints_through_diemcau_report_programme_latency_and_floor_keyframe() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let config = dir.path().join("diemcau.toml");
    let registry = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../config/endpoints-63.toml"
    );
    let text = format!(
        "listen = \"127.0.0.1:0\"\ndata_dir = {data:?}\nregistry = {registry:?}\n\
         [media]\nudp_port = 0\nbind_ip = \"127.0.0.1\"\n"
    );
    std::fs::write(&config, text).expect("config written");
    let diemcau = server_binary();
    let files = [
        "--config",
        config.to_str().expect("UTF-8 path"),
        "--data",
        data.to_str().expect("UTF-8 path"),
    ];

    let invite = Command::new(&diemcau)
        .args(["invite", "--session", "loadgen", "--format", "csv"])
        .args(files)
        .env("DIEMCAU_SECRET", SECRET)
        .output()
        .expect("diemcau invite runs");
    assert!(invite.status.success(), "diemcau invite failed");
    // The invite's chair link is bound to the session, which does not
    // exist yet: a chair token bound to none creates it.
    let chair = Command::new(&diemcau)
        .args(["token", "--role", "chair"])
        .args(files)
        .env("DIEMCAU_SECRET", SECRET)
        .output()
        .expect("diemcau token runs");
    assert!(chair.status.success(), "diemcau token failed");
    let mut csv = invite.stdout;
    csv.extend_from_slice(b"chair,,session owner,#token=");
    csv.extend_from_slice(String::from_utf8_lossy(&chair.stdout).trim().as_bytes());
    csv.extend_from_slice(b"\r\n");
    let tokens = dir.path().join("tokens.csv");
    std::fs::write(&tokens, csv).expect("tokens written");

    let mut child = Command::new(&diemcau)
        .args(["serve", "--listen", "127.0.0.1:0", "--media-port", "0"])
        .args(files)
        .env("DIEMCAU_SECRET", SECRET)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("diemcau serve starts");
    let stdout = child.stdout.take().expect("the server's stdout");
    let server = Relay(child);
    let line = first_line(stdout);
    let url = line
        .trim()
        .strip_prefix("diemcau listening on ")
        .expect("the server announces its address first")
        .to_string();

    let server_pid = server.0.id().to_string();
    let json = run_loadgen(&[
        "--server",
        &url,
        "--diemcau",
        "--session",
        "loadgen",
        "--tokens",
        tokens.to_str().expect("UTF-8 path"),
        "--server-pid",
        &server_pid,
        "--endpoints",
        "2",
        "--duration",
        "2s",
        "--floor-every",
        "700ms",
        "--chair-kbps",
        "500",
        "--endpoint-kbps",
        "200",
        "--json",
    ]);
    let run = &json["runs"][0];
    assert_eq!(run["target"], "diemcau");
    assert_eq!(run["join_error_count"], 0, "{}", run["join_errors"]);
    assert_eq!(run["programme_receivers_with_chair"], 2);
    assert!(run["latency"]["samples"].as_u64().unwrap_or(0) > 100);
    assert!(run["latency"]["p50_ms"].as_f64().unwrap_or(0.0) > 0.0);
    assert!(run["grants_complete"].as_u64().unwrap_or(0) >= 1);
    assert!(run["floor_keyframe_median_ms"].as_f64().is_some());
    assert!(run["server"]["peak_rss_mib"].as_f64().unwrap_or(0.0) > 0.0);
}
