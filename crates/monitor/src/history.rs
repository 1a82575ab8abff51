//! The last 15 minutes of a link at one point a second, for the plots on
//! the technicians' console.

use super::health::Health;
use super::sample::{LinkSample, LinkState};
use diemcau_control::Millis;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// Points kept per link: 15 minutes at one a second. With 64 endpoints and
/// a few viewers this stays under a few megabytes in all.
pub const HISTORY_POINTS: usize = 900;

/// The span of history kept, in milliseconds: points older than this before
/// the newest one are dropped even when fewer than [`HISTORY_POINTS`] are
/// kept (a link that went quiet for a while).
pub const HISTORY_SPAN_MS: u64 = 15 * 60 * 1000;

/// One second of one link.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryPoint {
    /// When the sample was taken.
    pub at: Millis,
    /// Peer connection state.
    pub state: LinkState,
    /// Health after this sample.
    pub health: Health,
    /// Round-trip time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtt_ms: Option<f64>,
    /// Upstream loss, percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss_up_pct: Option<f64>,
    /// Downstream loss, percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss_down_pct: Option<f64>,
    /// Upstream jitter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitter_up_ms: Option<f64>,
    /// Downstream jitter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitter_down_ms: Option<f64>,
    /// The worse of the two losses, percent: what a one-line plot shows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss_pct: Option<f64>,
    /// Bits per second received by the server (named as the media plane
    /// and the links list name it).
    #[serde(rename = "bitrate_in")]
    pub bitrate_in_bps: u64,
    /// Bits per second sent by the server.
    #[serde(rename = "bitrate_out")]
    pub bitrate_out_bps: u64,
    /// Frames per second at the client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frame_rate: Option<f64>,
    /// The client's jitter buffer delay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitter_buffer_ms: Option<f64>,
    /// Concealed audio at the client, percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concealed_audio_pct: Option<f64>,
}

impl HistoryPoint {
    pub(crate) fn of(sample: &LinkSample, health: Health) -> HistoryPoint {
        HistoryPoint {
            at: sample.at,
            state: sample.state,
            health,
            rtt_ms: sample.rtt_ms,
            loss_up_pct: sample.loss_up_pct,
            loss_down_pct: sample.loss_down_pct,
            loss_pct: worse(sample.loss_up_pct, sample.loss_down_pct),
            jitter_up_ms: sample.jitter_up_ms,
            jitter_down_ms: sample.jitter_down_ms,
            bitrate_in_bps: sample.bitrate_in_bps,
            bitrate_out_bps: sample.bitrate_out_bps,
            frame_rate: sample.frame_rate,
            jitter_buffer_ms: sample.jitter_buffer_ms,
            concealed_audio_pct: sample.concealed_audio_pct,
        }
    }
}

/// The larger of two optional figures.
pub(crate) fn worse(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// A ring of points, oldest first, at most one per wall-clock second.
#[derive(Debug, Clone, Default)]
pub(crate) struct History {
    points: VecDeque<HistoryPoint>,
}

impl History {
    /// Appends a point no older than the last one (the caller drops stale
    /// samples). A second sample within the same second replaces the first,
    /// so a burst of samples cannot push real history out of the ring.
    pub(crate) fn push(&mut self, point: HistoryPoint) {
        let second = point.at.0 / 1000;
        let newest = point.at;
        match self.points.back_mut() {
            Some(last) if last.at.0 / 1000 == second => *last = point,
            _ => self.points.push_back(point),
        }
        while self.points.len() > HISTORY_POINTS {
            self.points.pop_front();
        }
        while self
            .points
            .front()
            .is_some_and(|p| newest.since(p.at) >= HISTORY_SPAN_MS)
        {
            self.points.pop_front();
        }
    }

    pub(crate) fn points(&self) -> Vec<HistoryPoint> {
        self.points.iter().cloned().collect()
    }
}
