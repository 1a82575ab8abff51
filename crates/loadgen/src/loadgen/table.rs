//! The figures as a table (one column per target) and as JSON, with the
//! bridge-to-relay ratios when both ran.

use crate::report::RunReport;
use serde::Serialize;

/// How far the bridge is from the plain relay: bridge ÷ relay.
#[derive(Debug, Clone, Serialize)]
pub struct Ratios {
    /// Which run is the numerator.
    pub bridge: String,
    /// Median forwarding latency.
    pub latency_p50: Option<f64>,
    /// 99th percentile forwarding latency.
    pub latency_p99: Option<f64>,
    /// Server CPU per forwarded packet.
    pub cpu_per_packet: Option<f64>,
    /// Server peak RSS.
    pub peak_rss: Option<f64>,
    /// Time until the programme reached everyone.
    pub programme_time: Option<f64>,
    /// Floor grant to keyframe everywhere, median.
    pub floor_keyframe_median: Option<f64>,
}

/// Everything printed for one invocation.
#[derive(Debug, Clone, Serialize)]
pub struct Output {
    /// One report per target, in the order run.
    pub runs: Vec<RunReport>,
    /// Present when a bridge and the relay both ran.
    pub ratios: Option<Ratios>,
}

fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    }
}

impl Output {
    /// Puts the runs together and, if there is a relay run, the ratios of
    /// the first other run to it.
    pub fn new(runs: Vec<RunReport>) -> Output {
        let relay = runs.iter().find(|r| r.target == "udp-relay");
        let bridge = runs.iter().find(|r| r.target != "udp-relay");
        let ratios = match (bridge, relay) {
            (Some(b), Some(r)) => {
                let cpu = |x: &RunReport| {
                    x.server
                        .as_ref()
                        .and_then(|s| s.cpu_us_per_forwarded_packet)
                };
                let rss = |x: &RunReport| x.server.as_ref().map(|s| s.peak_rss_mib);
                Some(Ratios {
                    bridge: b.target.clone(),
                    latency_p50: ratio(Some(b.latency.p50_ms), Some(r.latency.p50_ms)),
                    latency_p99: ratio(Some(b.latency.p99_ms), Some(r.latency.p99_ms)),
                    cpu_per_packet: ratio(cpu(b), cpu(r)),
                    peak_rss: ratio(rss(b), rss(r)),
                    programme_time: ratio(b.programme_all_ms, r.programme_all_ms),
                    floor_keyframe_median: ratio(
                        b.floor_keyframe_median_ms,
                        r.floor_keyframe_median_ms,
                    ),
                })
            }
            _ => None,
        };
        Output { runs, ratios }
    }

    /// The human-readable table.
    pub fn table(&self) -> String {
        let mut rows: Vec<(String, Vec<String>)> = Vec::new();
        let mut row = |name: &str, f: &dyn Fn(&RunReport) -> String| {
            rows.push((name.to_string(), self.runs.iter().map(f).collect()));
        };
        row("target", &|r| r.target.clone());
        row("endpoints", &|r| r.endpoints.to_string());
        row("run time from first join (s)", &|r| {
            format!("{:.1}", r.duration_s)
        });
        row("programme on all receivers (ms)", &|r| {
            opt(r.programme_all_ms)
        });
        row("  receivers with chair video", &|r| {
            format!(
                "{}/{}",
                r.programme_receivers_with_chair, r.programme_receivers
            )
        });
        row("  median receiver (ms)", &|r| opt(r.programme_median_ms));
        row(
            "programme after its connection, worst receiver (ms)",
            &|r| opt(r.programme_after_connect_max_ms),
        );
        row("  median receiver (ms)", &|r| {
            opt(r.programme_after_connect_median_ms)
        });
        row("longest programme gap, worst receiver (ms)", &|r| {
            opt(r.programme_gap_max_ms)
        });
        row(
            "  median receiver (ms)",
            &|r| opt(r.programme_gap_median_ms),
        );
        row("  peers that joined again", &|r| r.rejoins.to_string());
        row("floor grant → keyframe everywhere, median (ms)", &|r| {
            opt(r.floor_keyframe_median_ms)
        });
        row("  max (ms)", &|r| opt(r.floor_keyframe_max_ms));
        row("  grants complete", &|r| {
            format!("{}/{}", r.grants_complete, r.grants)
        });
        row("latency p50 (ms)", &|r| format!("{:.3}", r.latency.p50_ms));
        row("latency p99 (ms)", &|r| format!("{:.3}", r.latency.p99_ms));
        row("latency p99.9 (ms)", &|r| {
            format!("{:.3}", r.latency.p999_ms)
        });
        row("loss", &|r| {
            format!(
                "{:.4}% ({} of {})",
                r.loss.fraction * 100.0,
                r.loss.lost,
                r.loss.expected
            )
        });
        row("packets forwarded (received)", &|r| {
            r.forwarded_packets.to_string()
        });
        row("server CPU (s)", &|r| {
            opt(r.server.as_ref().map(|s| s.cpu_seconds))
        });
        row("server CPU per forwarded packet (µs)", &|r| {
            opt(r
                .server
                .as_ref()
                .and_then(|s| s.cpu_us_per_forwarded_packet))
        });
        row("server peak RSS (MiB)", &|r| {
            opt(r.server.as_ref().map(|s| s.peak_rss_mib))
        });
        row("server UDP receive drops", &|r| {
            r.server_udp_drops
                .map_or("-".to_string(), |d| d.to_string())
        });
        row("generator CPU (s)", &|r| opt(r.generator_cpu_seconds));
        row("generator UDP receive drops", &|r| {
            r.generator_udp_drops
                .map_or("-".to_string(), |d| d.to_string())
        });
        row("keyframe requests / keyframes sent", &|r| {
            format!("{} / {}", r.keyframe_requests, r.keyframes_sent)
        });
        row("generator late ticks", &|r| {
            r.generator_late_ticks.to_string()
        });
        row("join or grant errors", &|r| r.join_error_count.to_string());
        row("load average (start)", &|r| r.load_average[0].clone());
        row("load average (end)", &|r| r.load_average[1].clone());

        let name_w = rows
            .iter()
            .map(|(n, _)| n.chars().count())
            .max()
            .unwrap_or(0);
        let col_w = rows
            .iter()
            .flat_map(|(_, v)| v.iter().map(|c| c.chars().count()))
            .max()
            .unwrap_or(0);
        let mut out = String::new();
        for (name, cells) in &rows {
            out.push_str(&format!("{name:<name_w$}"));
            for c in cells {
                out.push_str(&format!("  {c:>col_w$}"));
            }
            out.push('\n');
        }
        if let Some(r) = &self.ratios {
            out.push_str(&format!("\n{} ÷ udp-relay\n", r.bridge));
            for (name, v) in [
                ("latency p50", r.latency_p50),
                ("latency p99", r.latency_p99),
                ("server CPU per forwarded packet", r.cpu_per_packet),
                ("server peak RSS", r.peak_rss),
                ("programme on all receivers", r.programme_time),
                ("floor grant → keyframe, median", r.floor_keyframe_median),
            ] {
                out.push_str(&format!(
                    "  {name:<32} {}\n",
                    v.map_or("-".to_string(), |v| format!("{v:.1}×"))
                ));
            }
        }
        for r in &self.runs {
            for e in &r.join_errors {
                out.push_str(&format!("{}: {e}\n", r.target));
            }
        }
        out
    }
}

fn opt(v: Option<f64>) -> String {
    v.map_or("-".to_string(), |v| format!("{v:.3}"))
}
