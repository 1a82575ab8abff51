//! What one receiver saw: kept raw during the run, reduced only at the end,
//! so the per-packet work on the receive path stays a parse and a push.

use crate::payload::{self, Kind, Stamp};
use std::collections::HashMap;
use std::sync::Mutex;

/// Everything one receiver recorded.
#[derive(Debug, Default)]
pub struct Received {
    /// When the receiver's first connection came up, µs on the run's clock.
    pub connected_us: Option<u64>,
    /// Arrival of the first chair video packet, µs on the run's clock.
    pub first_chair_video_us: Option<u64>,
    /// Arrival of the latest chair video packet.
    pub last_chair_video_us: Option<u64>,
    /// The longest wait between two chair video packets, µs: a receiver
    /// cut off (the server restarted, say) and back shows it here.
    pub longest_chair_gap_us: u64,
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
            if s.sender == 0 {
                if r.first_chair_video_us.is_none() {
                    r.first_chair_video_us = Some(now_us);
                }
                if let Some(last) = r.last_chair_video_us {
                    let gap = now_us.saturating_sub(last);
                    r.longest_chair_gap_us = r.longest_chair_gap_us.max(gap);
                }
                r.last_chair_video_us = Some(now_us);
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

    /// The receiver's connection is up (only the first time counts: a
    /// rejoin's wait shows in the longest gap).
    pub fn on_connected(&self, now_us: u64) {
        if let Ok(mut r) = self.inner.lock() {
            r.connected_us.get_or_insert(now_us);
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::FramePart;

    fn chair_video(counter: u32, sent_us: u64) -> Vec<u8> {
        let stamp = Stamp {
            sender: 0,
            kind: Kind::Video,
            counter,
            sent_us,
        };
        payload::video(&stamp, FramePart::InterframeStart, 200)
    }

    /// The chair's video stopping for 3 s (a server restart) and coming
    /// back shows as that receiver's longest gap; other senders do not count.
    #[test]
    fn the_longest_wait_for_the_chair_is_kept() {
        let r = Recorder::default();
        r.on_payload(&chair_video(0, 0), 1_000);
        r.on_payload(&chair_video(1, 33_000), 34_000);
        let other = Stamp {
            sender: 5,
            kind: Kind::Video,
            counter: 0,
            sent_us: 40_000,
        };
        r.on_payload(
            &payload::video(&other, FramePart::InterframeStart, 200),
            2_000_000,
        );
        r.on_payload(&chair_video(2, 3_034_000), 3_034_500);
        r.on_payload(&chair_video(3, 3_067_000), 3_067_500);
        let got = r.take();
        assert_eq!(got.first_chair_video_us, Some(1_000));
        assert_eq!(got.last_chair_video_us, Some(3_067_500));
        assert_eq!(got.longest_chair_gap_us, 3_000_500);
    }
}
