//! What one receiver saw: kept raw during the run, reduced only at the end,
//! so the per-packet work on the receive path stays a parse and a push.

use crate::payload::{self, Kind, Stamp};
use std::collections::HashMap;
use std::sync::Mutex;

/// Everything one receiver recorded.
#[derive(Debug, Default)]
pub struct Received {
    /// Arrival of the first chair video packet, µs on the run's clock.
    pub first_chair_video_us: Option<u64>,
    /// Every keyframe start that arrived: (sender, arrival µs).
    pub keyframes: Vec<(u32, u64)>,
    /// Receive time − send time of every stamped packet, µs.
    pub latencies_us: Vec<u32>,
    /// Per (sender, kind): every (counter, send µs) that arrived.
    pub streams: HashMap<(u32, Kind), Vec<(u32, u64)>>,
    /// Stamped packets received.
    pub packets: u64,
    /// Packets without our stamp (a server's padding or probes).
    pub foreign: u64,
}

/// A receiver's log, shared by the tasks that read its tracks.
#[derive(Debug, Default)]
pub struct Recorder {
    inner: Mutex<Received>,
}

impl Recorder {
    /// Records one RTP payload that arrived at `now_us`.
    pub fn on_payload(&self, payload: &[u8], now_us: u64) {
        let stamp = Stamp::read(payload);
        let Ok(mut r) = self.inner.lock() else {
            return;
        };
        let Some(s) = stamp else {
            r.foreign += 1;
            return;
        };
        r.packets += 1;
        let latency = now_us.saturating_sub(s.sent_us);
        r.latencies_us
            .push(u32::try_from(latency).unwrap_or(u32::MAX));
        if s.kind == Kind::Video {
            if s.sender == 0 && r.first_chair_video_us.is_none() {
                r.first_chair_video_us = Some(now_us);
            }
            if payload::starts_keyframe(payload) {
                r.keyframes.push((s.sender, now_us));
            }
        }
        r.streams
            .entry((s.sender, s.kind))
            .or_default()
            .push((s.counter, s.sent_us));
    }

    /// Whether the chair's video has arrived yet.
    pub fn has_chair_video(&self) -> bool {
        self.inner
            .lock()
            .map(|r| r.first_chair_video_us.is_some())
            .unwrap_or(false)
    }

    /// Hands over the log (the run is over).
    pub fn take(&self) -> Received {
        self.inner
            .lock()
            .map(|mut r| std::mem::take(&mut *r))
            .unwrap_or_default()
    }
}
