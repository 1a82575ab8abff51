//! One synthetic publisher: paces audio and video packets at its rates and
//! answers keyframe requests with a keyframe, whatever carries its packets.

use crate::clock::Clock;
use crate::error::LoadError;
use crate::pattern::Rates;
use crate::payload::{self, FramePart, Kind, Stamp};
use rtc::rtp;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// A publisher that falls this far behind its schedule drops the ticks it
/// missed instead of bursting to catch up, as a real encoder would; the
/// report counts them, since a starved generator measures itself.
const LATE_LIMIT: Duration = Duration::from_millis(100);

/// Where a publisher's packets go: a WebRTC track or a plain UDP socket.
#[async_trait::async_trait]
pub trait MediaOut: Send + Sync + 'static {
    /// The SSRC and payload type to write on `kind`'s packets.
    fn ids(&self, kind: Kind) -> (u32, u8);
    /// Sends one packet.
    async fn send(&self, kind: Kind, packet: rtp::Packet) -> Result<(), LoadError>;
}

/// Keyframe requests that reached a publisher, whatever carried them.
#[derive(Debug, Default)]
pub struct KeyframeRequests {
    wanted: AtomicBool,
    count: AtomicU64,
}

impl KeyframeRequests {
    /// Records a request; the next frame is a keyframe.
    pub fn request(&self) {
        self.count.fetch_add(1, Ordering::Relaxed);
        self.wanted.store(true, Ordering::Relaxed);
    }

    /// How many requests arrived.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    fn take(&self) -> bool {
        self.wanted.swap(false, Ordering::Relaxed)
    }
}

/// What a publisher did.
#[derive(Debug, Default, Clone, Copy)]
pub struct Sent {
    /// Audio packets handed to the transport.
    pub audio: u64,
    /// Video packets handed to the transport.
    pub video: u64,
    /// Keyframes sent (the first frame and one per request).
    pub keyframes: u64,
    /// Sends the transport refused.
    pub errors: u64,
    /// Ticks dropped because the generator fell behind.
    pub late: u64,
}

/// The state of one RTP stream.
struct Stream {
    kind: Kind,
    ssrc: u32,
    pt: u8,
    seq: u16,
    ts: u32,
    counter: u32,
}

impl Stream {
    fn new(kind: Kind, out: &dyn MediaOut) -> Stream {
        let (ssrc, pt) = out.ids(kind);
        Stream {
            kind,
            ssrc,
            pt,
            seq: rand::random(),
            ts: rand::random(),
            counter: 0,
        }
    }

    fn packet(&mut self, marker: bool, payload: Vec<u8>) -> rtp::Packet {
        let p = rtp::Packet {
            header: rtp::header::Header {
                version: 2,
                marker,
                payload_type: self.pt,
                sequence_number: self.seq,
                timestamp: self.ts,
                ssrc: self.ssrc,
                ..Default::default()
            },
            payload: payload.into(),
        };
        self.seq = self.seq.wrapping_add(1);
        self.counter = self.counter.wrapping_add(1);
        p
    }

    fn stamp(&self, id: u32, clock: &Clock) -> Stamp {
        Stamp {
            sender: id,
            kind: self.kind,
            counter: self.counter,
            sent_us: clock.now_us(),
        }
    }
}

/// One publisher and what it needs to run.
pub struct Publisher {
    /// 0 for the chair, 1..=N for the endpoints.
    pub id: u32,
    /// What it sends.
    pub rates: Rates,
    /// Where it sends.
    pub out: Arc<dyn MediaOut>,
    /// Requests that reached it.
    pub keyframes: Arc<KeyframeRequests>,
}

impl Publisher {
    /// Sends until `running` turns false or `hard_stop` passes, whichever
    /// comes first; the first video frame is a keyframe.
    pub async fn run(self, clock: Clock, running: Arc<AtomicBool>, hard_stop: Instant) -> Sent {
        let mut sent = Sent::default();
        let mut audio = Stream::new(Kind::Audio, self.out.as_ref());
        let mut video = Stream::new(Kind::Video, self.out.as_ref());
        let audio_step = 48_000 / self.rates.audio_pps.max(1);
        let video_step = 90_000 / self.rates.fps.max(1);
        let mut next_audio = Instant::now();
        let mut next_video = Instant::now();
        let mut first_frame = true;
        while running.load(Ordering::Relaxed) {
            let due = next_audio.min(next_video);
            if due >= hard_stop {
                break;
            }
            tokio::time::sleep_until(due).await;
            let now = Instant::now();
            if now >= next_audio {
                let payload = payload::audio(&audio.stamp(self.id, &clock), self.rates.audio_bytes);
                let packet = audio.packet(false, payload);
                audio.ts = audio.ts.wrapping_add(audio_step);
                sent.record(Kind::Audio, self.out.send(Kind::Audio, packet).await);
                next_audio = reschedule(next_audio, self.rates.audio_interval(), now, &mut sent);
            }
            if now >= next_video {
                let keyframe = first_frame || self.keyframes.take();
                first_frame = false;
                if keyframe {
                    sent.keyframes += 1;
                }
                let sizes = self.rates.frame_packets(keyframe);
                let last = sizes.len().saturating_sub(1);
                for (i, size) in sizes.into_iter().enumerate() {
                    let part = match (i, keyframe) {
                        (0, true) => FramePart::KeyframeStart,
                        (0, false) => FramePart::InterframeStart,
                        _ => FramePart::Continuation,
                    };
                    let payload = payload::video(&video.stamp(self.id, &clock), part, size);
                    let packet = video.packet(i == last, payload);
                    sent.record(Kind::Video, self.out.send(Kind::Video, packet).await);
                }
                video.ts = video.ts.wrapping_add(video_step);
                next_video = reschedule(next_video, self.rates.frame_interval(), now, &mut sent);
            }
        }
        sent
    }
}

impl Sent {
    fn record(&mut self, kind: Kind, result: Result<(), LoadError>) {
        match (result, kind) {
            (Ok(()), Kind::Audio) => self.audio += 1,
            (Ok(()), Kind::Video) => self.video += 1,
            (Err(_), _) => self.errors += 1,
        }
    }

    /// The sum of two publishers' counts.
    pub fn plus(self, o: Sent) -> Sent {
        Sent {
            audio: self.audio + o.audio,
            video: self.video + o.video,
            keyframes: self.keyframes + o.keyframes,
            errors: self.errors + o.errors,
            late: self.late + o.late,
        }
    }
}

fn reschedule(due: Instant, step: Duration, now: Instant, sent: &mut Sent) -> Instant {
    let next = due + step;
    if now.saturating_duration_since(next) > LATE_LIMIT {
        sent.late += 1;
        now + step
    } else {
        next
    }
}
