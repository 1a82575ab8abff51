//! The load generator against the baseline relay: the two binaries, on
//! loopback, for two seconds.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Kills the relay however the test ends.
struct Relay(Child);

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_relay() -> (Relay, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_udp-relay"))
        .args(["--listen", "127.0.0.1:0", "--duration", "60s"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("the relay starts");
    let stdout = child.stdout.take().expect("the relay's stdout");
    let relay = Relay(child);
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("the relay says where it listens");
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
    let mut loadgen = Command::new(env!("CARGO_BIN_EXE_diemcau-loadgen"))
        .args([
            "--baseline-relay",
            &addr,
            "--relay-pid",
            &relay.0.id().to_string(),
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
        ])
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
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON output");
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
