//! Keyframe detection and the keyframe-request throttle.
//!
//! After the floor moves, a subscriber can decode the new source only from a
//! keyframe on, so a switched video slot waits for one; anything before it
//! would be garbage on screen. The payload is parsed only as far as the
//! keyframe flag, with bounds checks everywhere (it comes from a client).

use std::time::{Duration, Instant};

/// Keyframe requests to one publisher are sent at most this often: a floor
/// change fans out to every subscriber at once, and a storm of PLIs would
/// make the encoder spend its whole budget on keyframes.
pub(crate) const PLI_INTERVAL: Duration = Duration::from_millis(500);

/// Which codecs the router knows how to look into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VideoCodec {
    Vp8,
    H264,
    /// Anything else: every packet is taken as decodable, so switching never
    /// stalls on a codec we cannot parse.
    Other,
}

impl VideoCodec {
    pub(crate) fn from_mime(mime: &str) -> VideoCodec {
        if mime.eq_ignore_ascii_case("video/vp8") {
            VideoCodec::Vp8
        } else if mime.eq_ignore_ascii_case("video/h264") {
            VideoCodec::H264
        } else {
            VideoCodec::Other
        }
    }

    /// Whether this RTP payload starts a keyframe.
    pub(crate) fn is_keyframe_start(self, payload: &[u8]) -> bool {
        match self {
            VideoCodec::Vp8 => vp8_keyframe_start(payload),
            VideoCodec::H264 => h264_has_keyframe(payload),
            VideoCodec::Other => true,
        }
    }
}

/// RFC 7741: the payload descriptor, then (on the first packet of a frame)
/// the VP8 payload header whose lowest bit is 0 on a keyframe.
fn vp8_keyframe_start(payload: &[u8]) -> bool {
    let Some(&first) = payload.first() else {
        return false;
    };
    let extended = first & 0x80 != 0;
    let start_of_partition = first & 0x10 != 0;
    let partition_id = first & 0x07;
    if !start_of_partition || partition_id != 0 {
        return false;
    }
    let mut at = 1;
    if extended {
        let Some(&x) = payload.get(at) else {
            return false;
        };
        at += 1;
        if x & 0x80 != 0 {
            // PictureID: one byte, or two when its M bit is set.
            let Some(&pid) = payload.get(at) else {
                return false;
            };
            at += if pid & 0x80 != 0 { 2 } else { 1 };
        }
        if x & 0x40 != 0 {
            at += 1; // TL0PICIDX
        }
        if x & 0x30 != 0 {
            at += 1; // TID / KEYIDX
        }
    }
    payload.get(at).is_some_and(|header| header & 0x01 == 0)
}

const NAL_IDR: u8 = 5;
const NAL_SPS: u8 = 7;
const NAL_STAP_A: u8 = 24;
const NAL_FU_A: u8 = 28;

/// RFC 6184: an IDR slice or an SPS, single, aggregated (STAP-A) or as the
/// first fragment of a FU-A.
fn h264_has_keyframe(payload: &[u8]) -> bool {
    let Some(&first) = payload.first() else {
        return false;
    };
    match first & 0x1F {
        NAL_IDR | NAL_SPS => true,
        NAL_STAP_A => {
            let mut at = 1;
            while let Some(size) = payload.get(at..at + 2) {
                let size = u16::from_be_bytes([size[0], size[1]]) as usize;
                let Some(&nal) = payload.get(at + 2) else {
                    return false;
                };
                if matches!(nal & 0x1F, NAL_IDR | NAL_SPS) {
                    return true;
                }
                at += 2 + size;
            }
            false
        }
        NAL_FU_A => payload
            .get(1)
            .is_some_and(|fu| fu & 0x80 != 0 && matches!(fu & 0x1F, NAL_IDR | NAL_SPS)),
        _ => false,
    }
}

/// Remembers when a publisher was last asked for a keyframe.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct PliThrottle {
    last: Option<Instant>,
}

impl PliThrottle {
    /// Whether a request may go out now; records it if so.
    pub(crate) fn allow(&mut self, now: Instant) -> bool {
        match self.last {
            Some(last) if now.saturating_duration_since(last) < PLI_INTERVAL => false,
            _ => {
                self.last = Some(now);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vp8_keyframe_flag_with_and_without_extensions() {
        assert!(vp8_keyframe_start(&[0x10, 0x00, 0, 0]));
        assert!(!vp8_keyframe_start(&[0x10, 0x01, 0, 0]));
        // Continuation packet of a keyframe: not a start.
        assert!(!vp8_keyframe_start(&[0x00, 0x00]));
        // X, I with a two-byte PictureID, then the header.
        assert!(vp8_keyframe_start(&[0x90, 0x80, 0x81, 0x23, 0x00]));
        assert!(!vp8_keyframe_start(&[0x90, 0x80, 0x81]));
    }

    #[test]
    fn h264_idr_in_every_packetization() {
        assert!(h264_has_keyframe(&[0x65, 0]));
        assert!(!h264_has_keyframe(&[0x41, 0]));
        assert!(h264_has_keyframe(&[0x78, 0, 2, 0x67, 0, 0, 2, 0x68, 0]));
        assert!(h264_has_keyframe(&[0x7C, 0x85, 0]));
        assert!(!h264_has_keyframe(&[0x7C, 0x05, 0]));
        assert!(!h264_has_keyframe(&[0x78, 0, 9]));
    }

    #[test]
    fn throttle_lets_one_request_through_per_interval() {
        let t0 = Instant::now();
        let mut throttle = PliThrottle::default();
        assert!(throttle.allow(t0));
        assert!(!throttle.allow(t0 + Duration::from_millis(100)));
        assert!(throttle.allow(t0 + PLI_INTERVAL));
    }
}
