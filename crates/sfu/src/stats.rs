//! Link health: what the monitor and `GET /api/links` show per peer.
//!
//! The WebRTC crate leaves its sender statistics empty, so the plane keeps
//! its own: upstream loss and jitter from the sequence numbers and arrival
//! times of what a publisher sends us, downstream loss, jitter and RTT from
//! the receiver reports a subscriber sends back about our legs.

use super::PeerId;
use diemcau_control::{EndpointCode, SessionId};
use rtc::rtcp::reception_report::ReceptionReport;
use serde::Serialize;
use std::time::{Duration, Instant};

/// One peer connection's health, as last measured (refreshed every second).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LinkStats {
    /// The peer.
    pub peer: PeerId,
    /// Its session.
    pub session: SessionId,
    /// The endpoint it carries; `None` for a WHEP viewer.
    pub endpoint: Option<EndpointCode>,
    /// Connection state (`new`, `connecting`, `connected`, `disconnected`,
    /// `failed`, `closed`).
    pub state: String,
    /// Type of the client's candidate on the selected pair (`host`, `srflx`,
    /// `prflx`, `relay`), once known.
    pub candidate_type: Option<String>,
    /// Round-trip time from the latest receiver report, in milliseconds.
    pub rtt_ms: Option<f64>,
    /// Fraction of packets lost from the client to us over the last second.
    pub loss_up: f64,
    /// Fraction lost from us to the client, from its latest receiver report.
    pub loss_down: f64,
    /// Interarrival jitter of what the client sends us, milliseconds.
    pub jitter_up_ms: f64,
    /// Jitter the client reports about what we send it, milliseconds.
    pub jitter_down_ms: f64,
    /// Bits per second received from the client over the last second.
    pub bitrate_in: u64,
    /// Bits per second sent to the client over the last second.
    pub bitrate_out: u64,
    /// Of `bitrate_in`, what the client presents (its content track).
    pub content_bitrate_in: u64,
    /// RTP packets forwarded to this peer since it joined.
    pub packets_forwarded: u64,
    /// RTP packets received from this peer since it joined.
    pub packets_received: u64,
    /// Keyframe requests sent to this peer (as a publisher).
    pub keyframe_requests: u64,
}

/// Upstream accounting for one inbound RTP stream (RFC 3550 A.3 and A.8).
#[derive(Debug, Default, Clone)]
pub(crate) struct Inbound {
    highest: Option<u32>,
    received: u64,
    window_start: Option<(u32, u64)>,
    jitter: f64,
    transit: Option<f64>,
    pub(crate) bytes: u64,
}

impl Inbound {
    pub(crate) fn on_packet(
        &mut self,
        seq: u16,
        rtp_ts: u32,
        clock_rate: u32,
        now: f64,
        size: usize,
    ) {
        self.received += 1;
        self.bytes += size as u64;
        let ext = match self.highest {
            None => u32::from(seq),
            Some(h) => {
                let delta = seq.wrapping_sub(h as u16) as i16;
                (h as i64 + i64::from(delta)).max(0) as u32
            }
        };
        let newest = self.highest.is_none_or(|h| ext > h);
        if newest {
            self.highest = Some(ext);
        }
        if self.window_start.is_none() {
            self.window_start = Some((ext.saturating_sub(1), 0));
        }
        // A packet older than the newest seen is a retransmission (or a
        // reordered one): its timestamp is from the past, so its transit
        // time would read as seconds of jitter. Jitter is a property of
        // the stream as it flows; measure it on packets in order only.
        if !newest {
            return;
        }
        let arrival = now * f64::from(clock_rate.max(1));
        let transit = arrival - f64::from(rtp_ts);
        if let Some(prev) = self.transit {
            let d = (transit - prev).abs();
            // Timestamps that wrap or jump at a publisher restart would read
            // as hours of jitter; a jump that large is not jitter.
            if d < f64::from(clock_rate.max(1)) * 10.0 {
                self.jitter += (d - self.jitter) / 16.0;
            }
        }
        self.transit = Some(transit);
    }

    /// Loss fraction since the last call, and restarts the window.
    /// Whether `seq` is newer than every packet seen so far: false for a
    /// retransmission, a duplicate or a packet overtaken on the way.
    pub(crate) fn is_newest(&self, seq: u16) -> bool {
        self.highest
            .is_none_or(|h| (seq.wrapping_sub(h as u16) as i16) > 0)
    }

    pub(crate) fn take_loss(&mut self) -> f64 {
        let (Some(highest), Some((start, received_before))) = (self.highest, self.window_start)
        else {
            return 0.0;
        };
        let expected = u64::from(highest.saturating_sub(start));
        let received = self.received - received_before;
        self.window_start = Some((highest, self.received));
        if expected == 0 {
            return 0.0;
        }
        (expected.saturating_sub(received)) as f64 / expected as f64
    }

    pub(crate) fn received(&self) -> u64 {
        self.received
    }

    pub(crate) fn jitter_ms(&self, clock_rate: u32) -> f64 {
        self.jitter * 1000.0 / f64::from(clock_rate.max(1))
    }
}

/// What a receiver report block says about one of our legs.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Downstream {
    pub(crate) rtt_ms: Option<f64>,
    pub(crate) loss: f64,
    pub(crate) jitter_ms: f64,
    /// When the report came.
    pub(crate) at: Option<Instant>,
}

/// How long a leg's last report stands for it. A receiver stops reporting
/// on a stream that stopped (a gated leg, an empty slot); its last figures
/// must not go on describing the link.
pub(crate) const REPORT_FRESH_FOR: Duration = Duration::from_secs(10);

impl Downstream {
    /// Whether this report still describes the leg at `now`.
    pub(crate) fn is_fresh(&self, now: Instant) -> bool {
        self.at
            .is_some_and(|at| now.saturating_duration_since(at) < REPORT_FRESH_FOR)
    }
}

/// The longest trip believed, in 1/65536 s: a minute.
const RTT_CEILING: i32 = 65536 * 60;

/// How far before its own report an echo may seem to come back and still
/// count as a trip too short to measure, in 1/65536 s: 50 ms.
const CLOCK_SLACK: i32 = -(65536 / 20);

/// RTT per RFC 3550 6.4.1: now (middle 32 bits of NTP) − LSR − DLSR, in
/// 1/65536 s. `None` until the client has seen one of our sender reports.
pub(crate) fn downstream(
    block: &ReceptionReport,
    now_ntp: u64,
    clock_rate: u32,
    now: Instant,
) -> Downstream {
    let rtt_ms = if block.last_sender_report == 0 {
        None
    } else {
        let now_mid = (now_ntp >> 16) as u32;
        // Signed: the difference of two points on a wrapping 32-bit clock.
        let rtt = now_mid
            .wrapping_sub(block.last_sender_report)
            .wrapping_sub(block.delay) as i32;
        match rtt {
            0..RTT_CEILING => Some(f64::from(rtt) * 1000.0 / 65536.0),
            // The stack stamps a sender report from the instant it was
            // handed the stream's latest frame, which on a busy server
            // lags the wall clock by the work done before it. On a fast
            // link the echo can then seem to come back before it left: the
            // trip is shorter than the clocks resolve, not unknown.
            CLOCK_SLACK..0 => Some(0.0),
            // Further off: reports out of order, or a receiver that
            // echoes garbage.
            _ => None,
        }
    };
    Downstream {
        rtt_ms,
        loss: f64::from(block.fraction_lost) / 256.0,
        jitter_ms: f64::from(block.jitter) * 1000.0 / f64::from(clock_rate.max(1)),
        at: Some(now),
    }
}

/// Seconds since a fixed start, for jitter arithmetic.
pub(crate) fn secs_since(start: Instant, now: Instant) -> f64 {
    now.saturating_duration_since(start).as_secs_f64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loss_counts_gaps_in_sequence_numbers() {
        let mut s = Inbound::default();
        for seq in [1u16, 2, 3, 5, 6, 8, 9, 10] {
            s.on_packet(
                seq,
                u32::from(seq) * 960,
                48_000,
                f64::from(seq) * 0.02,
                100,
            );
        }
        let loss = s.take_loss();
        assert!((loss - 0.2).abs() < 1e-9, "{loss}");
        assert_eq!(s.take_loss(), 0.0);
    }

    #[test]
    fn retransmissions_do_not_read_as_jitter() {
        let mut s = Inbound::default();
        for seq in 1u16..=50 {
            let at = f64::from(seq) * 0.02;
            s.on_packet(seq, u32::from(seq) * 960, 48_000, at, 100);
            if seq % 10 == 0 {
                // The packet five back, resent 100 ms after it was due.
                let old = seq - 5;
                s.on_packet(old, u32::from(old) * 960, 48_000, at, 100);
            }
        }
        assert!(s.jitter_ms(48_000) < 1.0, "{}", s.jitter_ms(48_000));
    }

    #[test]
    fn rtt_from_lsr_and_dlsr() {
        let lsr: u32 = 0x0001_0000;
        let block = ReceptionReport {
            last_sender_report: lsr,
            delay: 0x8000, // 0.5 s held at the receiver
            fraction_lost: 64,
            ..Default::default()
        };
        // Now is 0.5 s + 20 ms after the report was sent.
        let now_mid = lsr + 0x8000 + (65536 * 20 / 1000);
        let at = Instant::now();
        let d = downstream(&block, u64::from(now_mid) << 16, 90_000, at);
        let rtt = d.rtt_ms.unwrap_or(f64::NAN);
        assert!((rtt - 20.0).abs() < 0.1, "{rtt}");
        assert!((d.loss - 0.25).abs() < 1e-9);
        // The figures stand for the leg until its receiver stops reporting.
        assert!(d.is_fresh(at + Duration::from_secs(2)));
        assert!(!d.is_fresh(at + REPORT_FRESH_FOR));
        assert!(!Downstream::default().is_fresh(at));
    }

    #[test]
    fn an_echo_just_before_its_report_is_a_trip_too_short_to_measure() {
        let lsr: u32 = 0x0010_0000;
        let block = |now_mid: u32| {
            let b = ReceptionReport {
                last_sender_report: lsr,
                delay: 0x100,
                ..Default::default()
            };
            downstream(&b, u64::from(now_mid) << 16, 90_000, Instant::now()).rtt_ms
        };
        // 2 ms early: the report's stamp lagged; the trip is about nothing.
        assert_eq!(block(lsr + 0x100 - 131), Some(0.0));
        // A second early, or ten minutes late: not a trip at all.
        assert_eq!(block(lsr + 0x100 - 65536), None);
        assert_eq!(block(lsr + 0x100 + 65536 * 600), None);
        // A report we never sent (its stamp far ahead of our clock).
        assert_eq!(block(lsr.wrapping_sub(65536 * 3600)), None);
    }
}
