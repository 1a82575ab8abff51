//! The synthetic media payloads and the stamp every packet carries.
//!
//! Video is VP8-shaped (RFC 7741): a one-byte payload descriptor, and on the
//! first packet of a frame the VP8 frame tag whose lowest bit is 0 on a
//! keyframe. A bridge that waits for a keyframe after a switch, and our own
//! receivers, find keyframes the way they would in real VP8. Audio is
//! Opus-shaped: a TOC byte and filler. Nothing here is decodable media.
//!
//! The stamp sits at the *end* of every payload, so it never collides with
//! the codec headers at the front, and names the sender, the stream kind, a
//! per-stream counter (loss is counted on it, not on RTP sequence numbers,
//! which a bridge rewrites) and the send time on the run's clock (latency).

/// Identifies our payloads among anything else a server might send.
const MAGIC: [u8; 4] = *b"DCLG";

/// Length of the stamp at the end of every payload.
pub const STAMP_LEN: usize = 4 + 4 + 1 + 4 + 8;

/// VP8 descriptor: S bit (start of a partition), partition 0.
const VP8_START: u8 = 0x10;
/// VP8 keyframe start code, after the three-byte frame tag.
const VP8_START_CODE: [u8; 3] = [0x9d, 0x01, 0x2a];
/// Opus TOC byte: config 31 (CELT FB 20 ms), mono, one frame.
const OPUS_TOC: u8 = 0xF8;

/// Audio or video.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// Opus-shaped, 50 packets a second.
    Audio,
    /// VP8-shaped frames.
    Video,
}

impl Kind {
    fn code(self) -> u8 {
        match self {
            Kind::Audio => 0,
            Kind::Video => 1,
        }
    }

    fn from_code(c: u8) -> Option<Kind> {
        match c {
            0 => Some(Kind::Audio),
            1 => Some(Kind::Video),
            _ => None,
        }
    }
}

/// What every packet says about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// 0 for the chair, 1..=N for the endpoints.
    pub sender: u32,
    /// Which of the sender's streams.
    pub kind: Kind,
    /// Counts the stream's packets from 0, without gaps.
    pub counter: u32,
    /// Microseconds on the run's clock when the packet was handed to the stack.
    pub sent_us: u64,
}

impl Stamp {
    fn append_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&self.sender.to_be_bytes());
        out.push(self.kind.code());
        out.extend_from_slice(&self.counter.to_be_bytes());
        out.extend_from_slice(&self.sent_us.to_be_bytes());
    }

    /// The stamp at the end of `payload`, if it carries one.
    pub fn read(payload: &[u8]) -> Option<Stamp> {
        let start = payload.len().checked_sub(STAMP_LEN)?;
        let s = payload.get(start..)?;
        if s.get(0..4)? != MAGIC {
            return None;
        }
        Some(Stamp {
            sender: u32::from_be_bytes(s.get(4..8)?.try_into().ok()?),
            kind: Kind::from_code(*s.get(8)?)?,
            counter: u32::from_be_bytes(s.get(9..13)?.try_into().ok()?),
            sent_us: u64::from_be_bytes(s.get(13..21)?.try_into().ok()?),
        })
    }
}

/// Where a video packet sits in its frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FramePart {
    /// First packet of a keyframe.
    KeyframeStart,
    /// First packet of an interframe.
    InterframeStart,
    /// Any later packet of a frame.
    Continuation,
}

/// A VP8-shaped payload of `size` bytes (at least the headers and stamp).
pub fn video(stamp: &Stamp, part: FramePart, size: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(size.max(16 + STAMP_LEN));
    match part {
        FramePart::KeyframeStart => {
            out.push(VP8_START);
            // Frame tag: keyframe (P = 0), version 0, shown, partition size 0.
            out.extend_from_slice(&[0x10, 0x00, 0x00]);
            out.extend_from_slice(&VP8_START_CODE);
            // 640x360, no scaling.
            out.extend_from_slice(&640u16.to_le_bytes());
            out.extend_from_slice(&360u16.to_le_bytes());
        }
        FramePart::InterframeStart => {
            out.push(VP8_START);
            // Frame tag: interframe (P = 1), shown.
            out.extend_from_slice(&[0x11, 0x00, 0x00]);
        }
        FramePart::Continuation => out.push(0x00),
    }
    fill_and_stamp(out, stamp, size)
}

/// An Opus-shaped payload of `size` bytes (at least the TOC and stamp).
pub fn audio(stamp: &Stamp, size: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(size.max(1 + STAMP_LEN));
    out.push(OPUS_TOC);
    fill_and_stamp(out, stamp, size)
}

fn fill_and_stamp(mut out: Vec<u8>, stamp: &Stamp, size: usize) -> Vec<u8> {
    let filler = size.saturating_sub(out.len() + STAMP_LEN);
    // A fixed, non-zero filler: compressible payloads would flatter nobody
    // here (SRTP does not compress), but zeroes look like padding in dumps.
    out.resize(out.len() + filler, 0x5a);
    stamp.append_to(&mut out);
    out
}

/// Whether a VP8 payload starts a keyframe (RFC 7741 §4.2 and §4.3), read
/// as any receiver would: descriptor with its optional fields, then the
/// frame tag's P bit. Bounds-checked: the payload comes off the network.
pub fn starts_keyframe(payload: &[u8]) -> bool {
    let Some(&first) = payload.first() else {
        return false;
    };
    if first & 0x10 == 0 || first & 0x07 != 0 {
        return false;
    }
    let mut at = 1;
    if first & 0x80 != 0 {
        let Some(&ext) = payload.get(at) else {
            return false;
        };
        at += 1;
        if ext & 0x80 != 0 {
            let Some(&pid) = payload.get(at) else {
                return false;
            };
            at += if pid & 0x80 != 0 { 2 } else { 1 };
        }
        if ext & 0x40 != 0 {
            at += 1;
        }
        if ext & 0x30 != 0 {
            at += 1;
        }
    }
    payload.get(at).is_some_and(|tag| tag & 0x01 == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(kind: Kind) -> Stamp {
        Stamp {
            sender: 17,
            kind,
            counter: 123_456,
            sent_us: 9_876_543_210,
        }
    }

    /// A stamp written at the end of any payload reads back unchanged.
    #[test]
    fn stamps_round_trip() {
        for part in [
            FramePart::KeyframeStart,
            FramePart::InterframeStart,
            FramePart::Continuation,
        ] {
            let p = video(&stamp(Kind::Video), part, 1100);
            assert_eq!(p.len(), 1100);
            assert_eq!(Stamp::read(&p), Some(stamp(Kind::Video)));
        }
        let a = audio(&stamp(Kind::Audio), 80);
        assert_eq!(a.len(), 80);
        assert_eq!(Stamp::read(&a), Some(stamp(Kind::Audio)));
    }

    /// Only the first packet of a keyframe reads as a keyframe start.
    #[test]
    fn keyframes_are_found_as_a_receiver_would() {
        let s = stamp(Kind::Video);
        assert!(starts_keyframe(&video(&s, FramePart::KeyframeStart, 200)));
        assert!(!starts_keyframe(&video(
            &s,
            FramePart::InterframeStart,
            200
        )));
        assert!(!starts_keyframe(&video(&s, FramePart::Continuation, 200)));
        // Extended descriptor with a two-byte picture id, then a keyframe tag.
        assert!(starts_keyframe(&[0x90, 0x80, 0x81, 0x02, 0x10]));
        assert!(!starts_keyframe(&[0x90, 0x80, 0x81]));
    }

    /// Foreign or truncated payloads are not mistaken for ours.
    #[test]
    fn foreign_payloads_have_no_stamp() {
        assert_eq!(Stamp::read(&[]), None);
        assert_eq!(Stamp::read(&[0u8; 64]), None);
        let mut p = audio(&stamp(Kind::Audio), 80);
        let last = p.len() - STAMP_LEN + 8;
        p[last] = 9;
        assert_eq!(Stamp::read(&p), None);
    }
}
