//! The packet pattern: how much each publisher sends and in what shape.
//!
//! The same pattern drives the bridge and the baseline relay, so the two
//! are compared on identical traffic.

use std::time::Duration;

/// The largest payload we put in one packet: under a 1200-byte RTP packet
/// once SRTP and header extensions are added, as browsers do.
pub const MAX_PAYLOAD: usize = 1100;

/// What one publisher sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rates {
    /// Video bits per second (interframes; keyframes come on top).
    pub video_bps: u64,
    /// Video frames per second.
    pub fps: u32,
    /// Audio packets per second.
    pub audio_pps: u32,
    /// Bytes per audio payload.
    pub audio_bytes: usize,
    /// A keyframe is this many interframes in size, as with real encoders.
    pub keyframe_factor: usize,
}

impl Rates {
    /// Time between two video frames.
    pub fn frame_interval(&self) -> Duration {
        Duration::from_micros(1_000_000 / u64::from(self.fps.max(1)))
    }

    /// Time between two audio packets.
    pub fn audio_interval(&self) -> Duration {
        Duration::from_micros(1_000_000 / u64::from(self.audio_pps.max(1)))
    }

    /// Payload sizes of the packets of one frame.
    pub fn frame_packets(&self, keyframe: bool) -> Vec<usize> {
        let mut bytes = (self.video_bps / 8 / u64::from(self.fps.max(1))) as usize;
        if keyframe {
            bytes = bytes.saturating_mul(self.keyframe_factor.max(1));
        }
        split(bytes.max(1), MAX_PAYLOAD)
    }
}

/// `total` bytes in packets of at most `max`, as even as possible (as VP8
/// packetisers do, so the last packet is not a runt).
fn split(total: usize, max: usize) -> Vec<usize> {
    let n = total.div_ceil(max).max(1);
    let base = total / n;
    let extra = total % n;
    (0..n).map(|i| base + usize::from(i < extra)).collect()
}

/// The rates of the chair and of every endpoint.
#[derive(Debug, Clone, Copy)]
pub struct Pattern {
    /// The chair (publisher 0).
    pub chair: Rates,
    /// Each endpoint (publishers 1..=N).
    pub endpoint: Rates,
}

impl Pattern {
    /// The pattern of the benchmark: chair 2.5 Mbps, endpoints 0.5 Mbps,
    /// 30 frames a second, Opus at 50 packets a second (about 32 kbps).
    pub fn standard(chair_video_bps: u64, endpoint_video_bps: u64) -> Pattern {
        let rates = |video_bps| Rates {
            video_bps,
            fps: 30,
            audio_pps: 50,
            audio_bytes: 80,
            keyframe_factor: 5,
        };
        Pattern {
            chair: rates(chair_video_bps),
            endpoint: rates(endpoint_video_bps),
        }
    }

    /// The rates of publisher `id` (0 is the chair).
    pub fn of(&self, id: u32) -> Rates {
        if id == 0 {
            self.chair
        } else {
            self.endpoint
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A frame's packets add up to its share of the bitrate and none is
    /// larger than the payload limit.
    #[test]
    fn frames_split_evenly_under_the_limit() {
        let p = Pattern::standard(2_500_000, 500_000);
        let chair = p.chair.frame_packets(false);
        assert_eq!(chair.iter().sum::<usize>(), 2_500_000 / 8 / 30);
        assert!(chair.iter().all(|&s| s <= MAX_PAYLOAD));
        let key = p.endpoint.frame_packets(true);
        assert_eq!(key.iter().sum::<usize>(), 500_000 / 8 / 30 * 5);
        let spread = key.iter().max().unwrap_or(&0) - key.iter().min().unwrap_or(&0);
        assert!(spread <= 1);
    }
}
