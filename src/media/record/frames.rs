//! Whole frames from one recorded slot's packets.
//!
//! The packets come after the slot's rewriter, so their sequence numbers
//! run on across a change of source and a gap is a real loss. A frame that
//! lost a packet is not written: a decoder would show garbage until the
//! next keyframe, so the slot waits for that keyframe instead.
//!
//! `rtc::media`'s `SampleBuilder` does this for out-of-order input, but it
//! holds two tables of 65,536 entries per stream (megabytes for each of the
//! five slots); the rewriter already delivers packets in order.

use diemcau_sfu::record::Piece;
use rtc::rtp::codec::vp8::Vp8Packet;
use rtc::rtp::packetizer::Depacketizer;

/// The codecs a recording takes as they come (WebM holds VP8 and Opus).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Codec {
    Opus,
    Vp8,
}

/// A frame ready for the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Frame {
    pub(crate) data: Vec<u8>,
    pub(crate) keyframe: bool,
    /// Arrival of its first packet, nanoseconds since the recording started.
    pub(crate) at_ns: u64,
    /// Its RTP timestamp (the slot's, after the rewriter): the sender's
    /// capture clock, evenly spaced where arrival times are not.
    pub(crate) rtp_ts: u32,
}

/// Builds frames of one slot.
#[derive(Debug)]
pub(crate) struct FrameBuilder {
    codec: Codec,
    next_seq: Option<u16>,
    /// The frame being put together: its timestamp, first arrival, parts.
    current: Option<(u32, u64, Vec<u8>)>,
    /// Nothing but a keyframe may follow (the start, or a loss).
    want_keyframe: bool,
}

impl FrameBuilder {
    pub(crate) fn new(codec: Codec) -> FrameBuilder {
        FrameBuilder {
            codec,
            next_seq: None,
            current: None,
            want_keyframe: true,
        }
    }

    /// Takes one packet; returns the frame it completes, if any.
    pub(crate) fn push(&mut self, piece: &Piece) -> Option<Frame> {
        let in_order = self.next_seq.is_none_or(|s| s == piece.seq);
        self.next_seq = Some(piece.seq.wrapping_add(1));
        match self.codec {
            Codec::Opus => (!piece.payload.is_empty()).then(|| Frame {
                data: piece.payload.to_vec(),
                keyframe: true,
                at_ns: piece.at_ns,
                rtp_ts: piece.timestamp,
            }),
            Codec::Vp8 => self.push_vp8(piece, in_order),
        }
    }

    fn push_vp8(&mut self, piece: &Piece, in_order: bool) -> Option<Frame> {
        if !in_order {
            self.current = None;
            self.want_keyframe = true;
        }
        let mut descriptor = Vp8Packet::default();
        let Ok(data) = descriptor.depacketize(&piece.payload) else {
            self.current = None;
            return None;
        };
        let starts_frame = descriptor.s == 1 && descriptor.pid == 0;
        if starts_frame {
            self.current = Some((piece.timestamp, piece.at_ns, Vec::with_capacity(data.len())));
        }
        let (timestamp, _, parts) = self.current.as_mut()?;
        if *timestamp != piece.timestamp {
            // A frame whose start was lost.
            self.current = None;
            self.want_keyframe = true;
            return None;
        }
        parts.extend_from_slice(&data);
        if !piece.marker {
            return None;
        }
        let (rtp_ts, at_ns, data) = self.current.take()?;
        // VP8 frame tag (RFC 6386, 9.1): bit 0 is 0 on a keyframe.
        let keyframe = data.first().is_some_and(|b| b & 1 == 0);
        if self.want_keyframe && !keyframe {
            return None;
        }
        self.want_keyframe = false;
        Some(Frame {
            data,
            keyframe,
            at_ns,
            rtp_ts,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    /// A VP8 packet: descriptor (S bit, partition 0), then `body`.
    fn vp8(seq: u16, timestamp: u32, start: bool, marker: bool, body: &[u8]) -> Piece {
        let mut payload = vec![if start { 0x10 } else { 0x00 }];
        payload.extend_from_slice(body);
        Piece {
            seq,
            timestamp,
            marker,
            payload: Bytes::from(payload),
            at_ns: u64::from(seq) * 1000,
        }
    }

    #[test]
    fn a_frame_in_two_packets_is_joined_and_starts_at_a_keyframe() {
        let mut b = FrameBuilder::new(Codec::Vp8);
        // A delta frame first: not written until a keyframe came.
        assert_eq!(b.push(&vp8(1, 100, true, true, &[0x01, 7, 7, 7])), None);
        assert_eq!(b.push(&vp8(2, 200, true, false, &[0x00, 1, 1, 1])), None);
        let key = b
            .push(&vp8(3, 200, false, true, &[2, 3, 3, 3]))
            .expect("a keyframe");
        assert_eq!(key.data, vec![0x00, 1, 1, 1, 2, 3, 3, 3]);
        assert!(key.keyframe);
        assert_eq!(key.at_ns, 2000);
        let delta = b
            .push(&vp8(4, 300, true, true, &[0x01, 9, 9, 9]))
            .expect("a delta frame");
        assert!(!delta.keyframe);
    }

    #[test]
    fn a_lost_packet_drops_its_frame_until_the_next_keyframe() {
        let mut b = FrameBuilder::new(Codec::Vp8);
        assert!(b.push(&vp8(1, 100, true, true, &[0x00, 0, 0, 0])).is_some());
        assert_eq!(b.push(&vp8(2, 200, true, false, &[0x01, 1, 1, 1])), None);
        // 3 is lost: the rest of the frame and the next delta are dropped.
        assert_eq!(b.push(&vp8(4, 200, false, true, &[2, 2, 2, 2])), None);
        assert_eq!(b.push(&vp8(5, 300, true, true, &[0x01, 5, 5, 5])), None);
        let key = b
            .push(&vp8(6, 400, true, true, &[0x00, 5, 5, 5]))
            .expect("the keyframe");
        assert!(key.keyframe);
    }

    #[test]
    fn opus_packets_are_frames_and_garbage_is_no_frame() {
        let mut a = FrameBuilder::new(Codec::Opus);
        let p = Piece {
            seq: 9,
            timestamp: 960,
            marker: false,
            payload: Bytes::from_static(&[0xfc, 1, 2]),
            at_ns: 5,
        };
        assert_eq!(a.push(&p).map(|f| f.data), Some(vec![0xfc, 1, 2]));
        let mut v = FrameBuilder::new(Codec::Vp8);
        for payload in [&[][..], &[0x80][..], &[0x90, 0x80][..]] {
            let piece = Piece {
                payload: Bytes::copy_from_slice(payload),
                marker: true,
                ..p.clone()
            };
            assert_eq!(v.push(&piece), None);
        }
    }
}
