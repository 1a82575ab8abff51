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
//!
//! H.264 (RFC 6184, non-interleaved mode: single NAL units, STAP-A, FU-A)
//! is unpacked here rather than by `rtc`'s `H264Packet`, which indexes past
//! the end of a STAP-A whose last length field is cut short: the payload
//! is the sender's, and a malformed one must cost a frame, not the writer.
//! A frame comes out as Matroska's `V_MPEG4/ISO/AVC` wants it: each NAL
//! unit after its length in four bytes, no Annex B start codes.

use diemcau_sfu::record::Piece;
use rtc::rtp::codec::vp8::Vp8Packet;
use rtc::rtp::packetizer::Depacketizer;

/// The codecs a recording takes as they come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Codec {
    Opus,
    Vp8,
    H264,
}

/// A frame larger than this is a sender's fault (a 4K keyframe is a few
/// hundred kilobytes): it is dropped rather than held without end.
const MAX_FRAME: usize = 8 << 20;

/// H.264 NAL unit types (ITU-T H.264, table 7-1; RFC 6184, 5.4).
pub(crate) const NAL_IDR: u8 = 5;
pub(crate) const NAL_SPS: u8 = 7;
pub(crate) const NAL_PPS: u8 = 8;
const NAL_STAP_A: u8 = 24;
const NAL_FU_A: u8 = 28;

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
    /// An H.264 NAL unit arriving in FU-A fragments, its header rebuilt.
    fragment: Option<Vec<u8>>,
}

impl FrameBuilder {
    pub(crate) fn new(codec: Codec) -> FrameBuilder {
        FrameBuilder {
            codec,
            next_seq: None,
            current: None,
            want_keyframe: true,
            fragment: None,
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
            Codec::H264 => self.push_h264(piece, in_order),
        }
    }

    /// Drops the frame being built; the next written must be a keyframe.
    fn lose(&mut self) -> Option<Frame> {
        self.current = None;
        self.fragment = None;
        self.want_keyframe = true;
        None
    }

    fn push_h264(&mut self, piece: &Piece, in_order: bool) -> Option<Frame> {
        if !in_order {
            self.lose();
        }
        match &self.current {
            Some((timestamp, _, _)) if *timestamp == piece.timestamp => {}
            // A frame whose last packet (the marked one) was lost.
            Some(_) => {
                self.lose();
                self.current = Some((piece.timestamp, piece.at_ns, Vec::new()));
            }
            None => self.current = Some((piece.timestamp, piece.at_ns, Vec::new())),
        }
        if self.unpack_h264(&piece.payload).is_err() {
            return self.lose();
        }
        if !piece.marker {
            return None;
        }
        if self.fragment.is_some() {
            // Marked as the end of the frame inside a fragmented NAL unit.
            return self.lose();
        }
        let (rtp_ts, at_ns, data) = self.current.take()?;
        if data.is_empty() {
            return None;
        }
        let keyframe = nal_units(&data).any(|nal| nal_type(nal) == Some(NAL_IDR));
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

    /// Appends the NAL units of one RTP payload to the frame being built.
    fn unpack_h264(&mut self, payload: &[u8]) -> Result<(), Malformed> {
        let (&first, rest) = payload.split_first().ok_or(Malformed)?;
        match first & 0x1F {
            1..=23 => {
                if self.fragment.is_some() {
                    return Err(Malformed);
                }
                self.append_nal(payload)
            }
            NAL_STAP_A => {
                if self.fragment.is_some() {
                    return Err(Malformed);
                }
                let mut rest = rest;
                while !rest.is_empty() {
                    let (size, after) = rest.split_first_chunk::<2>().ok_or(Malformed)?;
                    let size = usize::from(u16::from_be_bytes(*size));
                    if size == 0 || size > after.len() {
                        return Err(Malformed);
                    }
                    let (nal, after) = after.split_at(size);
                    self.append_nal(nal)?;
                    rest = after;
                }
                Ok(())
            }
            NAL_FU_A => {
                let (&fu, data) = rest.split_first().ok_or(Malformed)?;
                let (start, end) = (fu & 0x80 != 0, fu & 0x40 != 0);
                if start {
                    if self.fragment.is_some() {
                        return Err(Malformed);
                    }
                    // The unit's own header: F and NRI from the indicator,
                    // the type from the FU header.
                    self.fragment = Some(vec![(first & 0xE0) | (fu & 0x1F)]);
                }
                let fragment = self.fragment.as_mut().ok_or(Malformed)?;
                if fragment.len() + data.len() > MAX_FRAME {
                    return Err(Malformed);
                }
                fragment.extend_from_slice(data);
                if end {
                    if let Some(nal) = self.fragment.take() {
                        self.append_nal(&nal)?;
                    }
                }
                Ok(())
            }
            // STAP-B, MTAP and FU-B belong to the interleaved mode, which
            // WebRTC does not negotiate; 0, 30 and 31 are not defined.
            _ => Err(Malformed),
        }
    }

    fn append_nal(&mut self, nal: &[u8]) -> Result<(), Malformed> {
        let (_, _, data) = self.current.as_mut().ok_or(Malformed)?;
        let size = u32::try_from(nal.len()).map_err(|_| Malformed)?;
        if nal.is_empty() || data.len() + 4 + nal.len() > MAX_FRAME {
            return Err(Malformed);
        }
        data.extend_from_slice(&size.to_be_bytes());
        data.extend_from_slice(nal);
        Ok(())
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
        if *timestamp != piece.timestamp || parts.len() + data.len() > MAX_FRAME {
            // A frame whose start was lost, or one without end.
            return self.lose();
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

/// An RTP payload that is not what its codec's RFC says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Malformed;

/// The NAL units of a frame in the form [`FrameBuilder`] gives it (each
/// after its length in four bytes). Stops at the first length that runs
/// past the end.
pub(crate) fn nal_units(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = data;
    std::iter::from_fn(move || {
        let (size, after) = rest.split_first_chunk::<4>()?;
        let size = usize::try_from(u32::from_be_bytes(*size)).ok()?;
        if size > after.len() {
            rest = &[];
            return None;
        }
        let (nal, after) = after.split_at(size);
        rest = after;
        Some(nal)
    })
}

/// A NAL unit's type (the low five bits of its first byte).
pub(crate) fn nal_type(nal: &[u8]) -> Option<u8> {
    nal.first().map(|b| b & 0x1F)
}

/// The `AVCDecoderConfigurationRecord` (ISO/IEC 14496-15, 5.2.4.1) that
/// Matroska's `V_MPEG4/ISO/AVC` track carries as its `CodecPrivate`: one
/// SPS and one PPS, NAL unit lengths in four bytes. None when the SPS is
/// too short to hold the profile and level it copies.
pub(crate) fn avc_decoder_configuration(sps: &[u8], pps: &[u8]) -> Option<Vec<u8>> {
    let (&[_, profile, compatibility, level], _) = sps.split_first_chunk::<4>()?;
    let sps_len = u16::try_from(sps.len()).ok()?;
    let pps_len = u16::try_from(pps.len()).ok()?;
    if pps.is_empty() {
        return None;
    }
    let mut record = vec![1, profile, compatibility, level];
    // Six reserved bits set, then the length size less one (4 bytes).
    record.push(0xFC | 3);
    // Three reserved bits set, then one SPS.
    record.push(0xE0 | 1);
    record.extend_from_slice(&sps_len.to_be_bytes());
    record.extend_from_slice(sps);
    record.push(1);
    record.extend_from_slice(&pps_len.to_be_bytes());
    record.extend_from_slice(pps);
    Some(record)
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

    /// An H.264 packet of `payload` (an RTP payload as RFC 6184 has it).
    fn h264(seq: u16, timestamp: u32, marker: bool, payload: &[u8]) -> Piece {
        Piece {
            seq,
            timestamp,
            marker,
            payload: Bytes::copy_from_slice(payload),
            at_ns: u64::from(seq) * 1000,
        }
    }

    const SPS: &[u8] = &[0x67, 0x42, 0xC0, 0x1F, 0xDA, 0x01];
    const PPS: &[u8] = &[0x68, 0xCE, 0x3C, 0x80];

    /// SPS and PPS in a STAP-A, then an IDR slice in three FU-A fragments:
    /// one keyframe, each unit after its length, no start codes.
    fn keyframe_packets(seq: u16, timestamp: u32) -> Vec<Piece> {
        let mut stap = vec![0x78];
        for nal in [SPS, PPS] {
            stap.extend_from_slice(&(nal.len() as u16).to_be_bytes());
            stap.extend_from_slice(nal);
        }
        vec![
            h264(seq, timestamp, false, &stap),
            // FU indicator (NRI 3, type 28), FU header (S, type 5).
            h264(seq + 1, timestamp, false, &[0x7C, 0x85, 1, 2]),
            h264(seq + 2, timestamp, false, &[0x7C, 0x05, 3, 4]),
            h264(seq + 3, timestamp, true, &[0x7C, 0x45, 5]),
        ]
    }

    #[test]
    fn h264_units_are_unpacked_and_length_prefixed() {
        let mut b = FrameBuilder::new(Codec::H264);
        // A delta frame before any keyframe: not written.
        assert_eq!(b.push(&h264(1, 100, true, &[0x41, 9, 9])), None);
        let mut frame = None;
        for p in keyframe_packets(2, 200) {
            assert!(frame.is_none(), "a frame before its marked packet");
            frame = b.push(&p);
        }
        let frame = frame.expect("the keyframe");
        assert!(frame.keyframe);
        let units: Vec<&[u8]> = nal_units(&frame.data).collect();
        assert_eq!(units, vec![SPS, PPS, &[0x65, 1, 2, 3, 4, 5][..]]);
        let delta = b
            .push(&h264(6, 300, true, &[0x41, 7, 7]))
            .expect("a delta frame");
        assert!(!delta.keyframe);
        assert_eq!(delta.data, vec![0, 0, 0, 3, 0x41, 7, 7]);
    }

    #[test]
    fn a_lost_h264_fragment_drops_frames_until_the_next_keyframe() {
        let mut b = FrameBuilder::new(Codec::H264);
        let mut packets = keyframe_packets(1, 100);
        packets.remove(2);
        assert!(packets.iter().all(|p| b.push(p).is_none()));
        // A delta frame after the loss is not written either.
        assert_eq!(b.push(&h264(5, 200, true, &[0x41, 1, 1])), None);
        let frames: Vec<Frame> = keyframe_packets(6, 300)
            .iter()
            .filter_map(|p| b.push(p))
            .collect();
        assert_eq!(frames.len(), 1);
        assert!(frames[0].keyframe);
        // A fragment that never started, a cut STAP-A, an interleaved-mode
        // unit: no frame, no panic.
        for bad in [
            &[0x7C, 0x05, 1][..],
            &[0x78, 0x00][..],
            &[0x78, 0x00, 0x09, 0x65][..],
            &[0x7A, 0, 0][..],
            &[0x7C][..],
            &[][..],
        ] {
            assert_eq!(b.push(&h264(20, 900, true, bad)), None, "{bad:?}");
        }
    }

    #[test]
    fn the_avc_configuration_carries_profile_level_and_parameter_sets() {
        let record = avc_decoder_configuration(SPS, PPS).expect("a record");
        assert_eq!(&record[..6], &[1, 0x42, 0xC0, 0x1F, 0xFF, 0xE1]);
        assert_eq!(&record[6..8], &[0, SPS.len() as u8]);
        assert_eq!(&record[8..8 + SPS.len()], SPS);
        let rest = &record[8 + SPS.len()..];
        assert_eq!(&rest[..3], &[1, 0, PPS.len() as u8]);
        assert_eq!(&rest[3..], PPS);
        assert_eq!(avc_decoder_configuration(&SPS[..3], PPS), None);
        assert_eq!(avc_decoder_configuration(SPS, &[]), None);
    }
}

/// H.264 payloads are the sender's: whatever they hold, the builder does
/// not panic, and what it gives out is whole length-prefixed units,
/// starting at a keyframe. The case count is proptest's (256, or
/// `PROPTEST_CASES`).
#[cfg(test)]
mod fuzz {
    use super::*;
    use bytes::Bytes;
    use proptest::collection::vec;
    use proptest::prelude::*;

    /// Payloads shaped like RFC 6184's, with their fields at random, and
    /// bytes of nothing in particular.
    fn payload() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            vec(any::<u8>(), 0..40),
            (0u8..32, vec(any::<u8>(), 0..30)).prop_map(|(t, rest)| {
                let mut p = vec![0x60 | t];
                p.extend(rest);
                p
            }),
            (
                any::<u8>(),
                vec(vec(any::<u8>(), 0..12), 0..4),
                any::<bool>()
            )
                .prop_map(|(cut, units, cut_short)| {
                    let mut p = vec![0x78];
                    for u in &units {
                        p.extend_from_slice(&(u.len() as u16).to_be_bytes());
                        p.extend_from_slice(u);
                    }
                    if cut_short {
                        p.truncate(usize::from(cut) % (p.len() + 1));
                    }
                    p
                }),
            (any::<u8>(), vec(any::<u8>(), 0..20))
                .prop_map(|(fu, rest)| [vec![0x7C, fu], rest].concat()),
        ]
    }

    proptest! {
        #[test]
        fn h264_garbage_never_panics_and_frames_are_whole(
            packets in vec((payload(), any::<bool>(), 0u8..3, 0u8..3), 0..40)
        ) {
            let mut b = FrameBuilder::new(Codec::H264);
            let (mut seq, mut ts) = (0u16, 0u32);
            let mut first = true;
            for (payload, marker, seq_step, ts_step) in packets {
                seq = seq.wrapping_add(u16::from(seq_step));
                ts = ts.wrapping_add(u32::from(ts_step) * 3000);
                let piece = Piece {
                    seq,
                    timestamp: ts,
                    marker,
                    payload: Bytes::from(payload),
                    at_ns: 0,
                };
                if let Some(frame) = b.push(&piece) {
                    prop_assert!(!frame.data.is_empty());
                    if first {
                        prop_assert!(frame.keyframe);
                        first = false;
                    }
                    // The units cover the frame exactly.
                    let covered: usize = nal_units(&frame.data).map(|n| n.len() + 4).sum();
                    prop_assert_eq!(covered, frame.data.len());
                    prop_assert!(nal_units(&frame.data).all(|n| !n.is_empty()));
                }
            }
        }

        #[test]
        fn nal_units_never_read_past_the_end(data in vec(any::<u8>(), 0..64)) {
            let total: usize = nal_units(&data).map(|n| n.len() + 4).sum();
            prop_assert!(total <= data.len());
        }
    }
}
