//! Reduces what the receivers recorded to the figures of a run.

use crate::publisher::Sent;
use crate::recorder::Received;
use serde::Serialize;

/// Two arrivals of one stream further apart than this (in send time) are
/// two forwarding periods (the floor left and came back), not loss. Loss
/// bursts longer than this are therefore not counted; at these rates that
/// would be dozens of packets in a row, which the latency tail shows anyway.
const SEGMENT_GAP_US: u64 = 500_000;

/// One receiver's log and its role.
pub struct ReceiverLog {
    /// Gets the programme (chair + floor); the relay's chair-grid receiver does not.
    pub programme: bool,
    /// What it recorded.
    pub received: Received,
}

/// A floor grant as the generator issued it.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Grant {
    /// The new holder (publisher id).
    pub holder: u32,
    /// When the grant was sent, µs on the run's clock.
    pub at_us: u64,
}

/// The time from one grant until every programme receiver had the new
/// holder's first keyframe.
#[derive(Debug, Clone, Serialize)]
pub struct GrantOutcome {
    /// The new holder.
    pub holder: u32,
    /// Until the last receiver had the keyframe; `None` if some never did
    /// before the next grant.
    pub all_ms: Option<f64>,
    /// Receivers that had it.
    pub receivers_with_keyframe: usize,
}

/// Cost of a process over the measured window.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ProcessCost {
    /// CPU seconds (user + system) over the window.
    pub cpu_seconds: f64,
    /// CPU µs per packet received by the generator's receivers.
    pub cpu_us_per_forwarded_packet: Option<f64>,
    /// Peak resident memory (VmHWM), MiB.
    pub peak_rss_mib: f64,
}

/// Percentiles of the forwarding latency.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Latency {
    /// Packets measured.
    pub samples: usize,
    /// Median, ms.
    pub p50_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// 99.9th percentile, ms.
    pub p999_ms: f64,
    /// Largest, ms.
    pub max_ms: f64,
}

/// Expected against received, per (receiver, sender, kind) stream.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Loss {
    /// Packets the streams should have delivered within their forwarding periods.
    pub expected: u64,
    /// Distinct packets that arrived.
    pub received: u64,
    /// `expected − received`.
    pub lost: u64,
    /// `lost / expected`.
    pub fraction: f64,
    /// Packets that arrived more than once.
    pub duplicates: u64,
}

/// The figures of one run against one target.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// `whip-whep`, `diemcau` or `udp-relay`.
    pub target: String,
    /// Endpoints (the chair comes on top).
    pub endpoints: u32,
    /// Seconds from the first join to the end of sending.
    pub duration_s: f64,
    /// Programme receivers that got the chair's video.
    pub programme_receivers: usize,
    /// Of how many.
    pub programme_receivers_with_chair: usize,
    /// From the start of connecting until every programme receiver had a
    /// chair video packet; `None` if some never did.
    pub programme_all_ms: Option<f64>,
    /// Median of the receivers' first chair video, ms from the start.
    pub programme_median_ms: Option<f64>,
    /// Each programme receiver's wait from its own connection coming up
    /// to its first chair video packet: the median, ms. Unlike the two
    /// above, the time the generator takes to connect everyone is left out.
    pub programme_after_connect_median_ms: Option<f64>,
    /// The longest of the same, ms.
    pub programme_after_connect_max_ms: Option<f64>,
    /// Each programme receiver's longest wait between two chair video
    /// packets (counting the end of the run for one that stopped getting
    /// them): the median, ms.
    pub programme_gap_median_ms: Option<f64>,
    /// The largest of the same, ms: after a server restart, how long until
    /// the last site had its programme back.
    pub programme_gap_max_ms: Option<f64>,
    /// Peers that joined again after their connection dropped (`--rejoin`).
    pub rejoins: u64,
    /// Floor grants issued.
    pub grants: usize,
    /// Grants after which every receiver got the holder's keyframe in time.
    pub grants_complete: usize,
    /// Median over complete grants of grant → keyframe on every receiver, ms.
    pub floor_keyframe_median_ms: Option<f64>,
    /// Largest of the same, ms.
    pub floor_keyframe_max_ms: Option<f64>,
    /// Each grant.
    pub grant_outcomes: Vec<GrantOutcome>,
    /// Forwarding latency over every stamped packet received.
    pub latency: Latency,
    /// Loss over every stream received.
    pub loss: Loss,
    /// Stamped packets received by all receivers: what the server forwarded.
    pub forwarded_packets: u64,
    /// Received packets that carried no stamp.
    pub foreign_packets: u64,
    /// What the publishers sent.
    pub sent_audio_packets: u64,
    /// What the publishers sent.
    pub sent_video_packets: u64,
    /// Keyframes the publishers sent.
    pub keyframes_sent: u64,
    /// Keyframe requests (PLI/FIR) that reached the publishers.
    pub keyframe_requests: u64,
    /// Publisher ticks dropped because the generator fell behind.
    pub generator_late_ticks: u64,
    /// The server's cost, when its pid was given.
    pub server: Option<ProcessCost>,
    /// The generator's own CPU seconds over the window.
    pub generator_cpu_seconds: Option<f64>,
    /// Datagrams the kernel dropped on the server's UDP sockets (full
    /// receive buffer) over the window, when its pid was given.
    pub server_udp_drops: Option<u64>,
    /// The same for the generator's sockets still open at the end.
    pub generator_udp_drops: Option<u64>,
    /// Peers that failed to join or grants that failed (the first few).
    pub join_errors: Vec<String>,
    /// How many failed in all.
    pub join_error_count: usize,
    /// `/proc/loadavg` at the start and the end: figures taken on a busy
    /// machine say so here.
    pub load_average: [String; 2],
}

/// What a run hands to [`summarise`].
pub struct RunInput {
    /// Target name.
    pub target: String,
    /// Endpoints.
    pub endpoints: u32,
    /// Start of connecting, µs.
    pub start_us: u64,
    /// End of sending, µs.
    pub end_us: u64,
    /// Receivers.
    pub receivers: Vec<ReceiverLog>,
    /// Grants in order.
    pub grants: Vec<Grant>,
    /// Sum of the publishers' counts.
    pub sent: Sent,
    /// Keyframe requests received by publishers.
    pub keyframe_requests: u64,
    /// Server CPU seconds and peak RSS, if watched.
    pub server: Option<(f64, f64)>,
    /// Generator CPU seconds.
    pub generator_cpu_seconds: Option<f64>,
    /// `/proc/loadavg` at the start and the end.
    pub load_average: [String; 2],
}

/// The figures of a run.
pub fn summarise(input: RunInput) -> RunReport {
    let programme: Vec<&Received> = input
        .receivers
        .iter()
        .filter(|r| r.programme)
        .map(|r| &r.received)
        .collect();
    let firsts: Vec<f64> = programme
        .iter()
        .filter_map(|r| r.first_chair_video_us)
        .map(|t| ms(t.saturating_sub(input.start_us)))
        .collect();
    let all_have = !programme.is_empty() && firsts.len() == programme.len();
    let after_connect: Vec<f64> = programme
        .iter()
        .filter_map(|r| Some(ms(r.first_chair_video_us?.saturating_sub(r.connected_us?))))
        .collect();
    let gaps: Vec<f64> = programme
        .iter()
        .filter_map(|r| {
            let tail = input.end_us.saturating_sub(r.last_chair_video_us?);
            Some(ms(r.longest_chair_gap_us.max(tail)))
        })
        .collect();
    let outcomes = floor_outcomes(&programme, &input.grants, input.end_us);
    let complete: Vec<f64> = outcomes.iter().filter_map(|o| o.all_ms).collect();
    let forwarded: u64 = input.receivers.iter().map(|r| r.received.packets).sum();
    let server = input.server.map(|(cpu, rss)| ProcessCost {
        cpu_seconds: cpu,
        cpu_us_per_forwarded_packet: (forwarded > 0).then(|| cpu * 1e6 / forwarded as f64),
        peak_rss_mib: rss,
    });
    RunReport {
        target: input.target,
        endpoints: input.endpoints,
        duration_s: ms(input.end_us.saturating_sub(input.start_us)) / 1000.0,
        programme_receivers: programme.len(),
        programme_receivers_with_chair: firsts.len(),
        programme_all_ms: all_have.then(|| firsts.iter().copied().fold(0.0, f64::max)),
        programme_median_ms: median(&firsts),
        programme_after_connect_median_ms: median(&after_connect),
        programme_after_connect_max_ms: after_connect.iter().copied().reduce(f64::max),
        programme_gap_median_ms: median(&gaps),
        programme_gap_max_ms: gaps.iter().copied().reduce(f64::max),
        rejoins: 0,
        grants: input.grants.len(),
        grants_complete: complete.len(),
        floor_keyframe_median_ms: median(&complete),
        floor_keyframe_max_ms: complete.iter().copied().reduce(f64::max),
        grant_outcomes: outcomes,
        latency: latency(&input.receivers),
        loss: loss(&input.receivers),
        forwarded_packets: forwarded,
        foreign_packets: input.receivers.iter().map(|r| r.received.foreign).sum(),
        sent_audio_packets: input.sent.audio,
        sent_video_packets: input.sent.video,
        keyframes_sent: input.sent.keyframes,
        keyframe_requests: input.keyframe_requests,
        generator_late_ticks: input.sent.late,
        server,
        generator_cpu_seconds: input.generator_cpu_seconds,
        server_udp_drops: None,
        generator_udp_drops: None,
        join_errors: Vec::new(),
        join_error_count: 0,
        load_average: input.load_average,
    }
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

fn median(values: &[f64]) -> Option<f64> {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied()
}

fn floor_outcomes(programme: &[&Received], grants: &[Grant], end_us: u64) -> Vec<GrantOutcome> {
    grants
        .iter()
        .enumerate()
        .map(|(i, g)| {
            let until = grants.get(i + 1).map_or(end_us, |next| next.at_us);
            let delays: Vec<u64> = programme
                .iter()
                .filter_map(|r| {
                    r.keyframes
                        .iter()
                        .find(|&&(s, at)| s == g.holder && at >= g.at_us && at < until)
                        .map(|&(_, at)| at - g.at_us)
                })
                .collect();
            let all = !programme.is_empty() && delays.len() == programme.len();
            GrantOutcome {
                holder: g.holder,
                all_ms: all.then(|| delays.iter().copied().max().map_or(0.0, ms)),
                receivers_with_keyframe: delays.len(),
            }
        })
        .collect()
}

fn latency(receivers: &[ReceiverLog]) -> Latency {
    let mut all: Vec<u32> = receivers
        .iter()
        .flat_map(|r| r.received.latencies_us.iter().copied())
        .collect();
    if all.is_empty() {
        return Latency::default();
    }
    all.sort_unstable();
    let at = |q: f64| {
        let rank = ((q * all.len() as f64).ceil() as usize).clamp(1, all.len());
        all.get(rank - 1).map_or(0.0, |&us| f64::from(us) / 1000.0)
    };
    Latency {
        samples: all.len(),
        p50_ms: at(0.50),
        p99_ms: at(0.99),
        p999_ms: at(0.999),
        max_ms: at(1.0),
    }
}

fn loss(receivers: &[ReceiverLog]) -> Loss {
    let mut l = Loss::default();
    for r in receivers {
        for arrivals in r.received.streams.values() {
            let s = stream_loss(arrivals);
            l.expected += s.expected;
            l.received += s.received;
            l.duplicates += s.duplicates;
        }
    }
    l.lost = l.expected.saturating_sub(l.received);
    l.fraction = if l.expected > 0 {
        l.lost as f64 / l.expected as f64
    } else {
        0.0
    };
    l
}

fn stream_loss(arrivals: &[(u32, u64)]) -> Loss {
    let mut v = arrivals.to_vec();
    v.sort_unstable();
    let total = v.len() as u64;
    v.dedup_by_key(|a| a.0);
    let mut missing = 0u64;
    for pair in v.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        let gap = u64::from(b.0 - a.0 - 1);
        if gap > 0 && b.1.saturating_sub(a.1) <= SEGMENT_GAP_US {
            missing += gap;
        }
    }
    let received = v.len() as u64;
    Loss {
        expected: received + missing,
        received,
        lost: missing,
        fraction: 0.0,
        duplicates: total - received,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn received(first: Option<u64>, keyframes: Vec<(u32, u64)>) -> Received {
        Received {
            first_chair_video_us: first,
            keyframes,
            ..Default::default()
        }
    }

    /// A gap inside a forwarding period is loss; a gap across the floor
    /// leaving and coming back is not.
    #[test]
    fn loss_counts_gaps_within_a_period_only() {
        let arrivals = [
            (0, 0),
            (1, 20_000),
            (3, 60_000),
            (3, 60_000),
            (200, 4_000_000),
            (201, 4_020_000),
        ];
        let l = stream_loss(&arrivals);
        assert_eq!((l.expected, l.received, l.lost, l.duplicates), (6, 5, 1, 1));
    }

    /// A grant counts once every programme receiver has the holder's
    /// keyframe, and its time is the slowest receiver's.
    #[test]
    fn grants_wait_for_the_slowest_receiver() {
        let a = received(Some(100), vec![(3, 1_500), (4, 5_100)]);
        let b = received(Some(300), vec![(3, 1_900)]);
        let grants = [
            Grant {
                holder: 3,
                at_us: 1_000,
            },
            Grant {
                holder: 4,
                at_us: 5_000,
            },
        ];
        let out = floor_outcomes(&[&a, &b], &grants, 9_000);
        assert_eq!(out[0].all_ms, Some(0.9));
        assert_eq!(out[1].all_ms, None);
        assert_eq!(out[1].receivers_with_keyframe, 1);
    }

    /// Percentiles come from the sorted samples, nearest rank.
    #[test]
    fn latency_percentiles_by_nearest_rank() {
        let r = Received {
            latencies_us: (1..=1000).collect(),
            ..Default::default()
        };
        let l = latency(&[ReceiverLog {
            programme: true,
            received: r,
        }]);
        assert_eq!((l.p50_ms, l.p99_ms, l.p999_ms), (0.5, 0.99, 0.999));
    }
}
