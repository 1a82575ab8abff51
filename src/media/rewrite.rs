//! Rewriting a forwarded RTP packet for one subscriber leg.
//!
//! A leg (an outgoing track of one subscriber, e.g. its `floor` video) is fed
//! by different publishers over time. The subscriber must see one continuous
//! stream: its own SSRC, the payload type negotiated on *its* leg, sequence
//! numbers without a jump (a jump looks like loss and triggers NACK storms),
//! timestamps that advance by roughly the wall time that passed, and header
//! extensions under the ids negotiated on its leg. The WebRTC sender refuses
//! (silently) any packet that gets one of these wrong.
//!
//! Sequence numbers and timestamps keep their offsets while one source feeds
//! the leg, so loss and reordering upstream stay visible downstream (NACK
//! and the jitter buffer need that); offsets are recomputed only at a switch.

use rtc::rtp::header::{Extension, Header};
use std::time::Instant;

/// Which upstream stream a packet came from: a switch is any change of it,
/// including the same publisher restarting with a new SSRC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct StreamTag {
    pub(crate) publisher: u64,
    pub(crate) ssrc: u32,
}

#[derive(Debug, Clone, Copy)]
struct Current {
    tag: StreamTag,
    seq_offset: u16,
    ts_offset: u32,
    first_in_seq: u16,
}

#[derive(Debug, Clone, Copy)]
struct LastOut {
    seq: u16,
    ts: u32,
    at: Instant,
}

/// How far behind the newest packet a late one may still be forwarded
/// (reordering); anything older is dropped as stale.
const STALE_WINDOW: i16 = 4096;

/// Sequence number and timestamp continuity for one leg.
#[derive(Debug)]
pub(crate) struct Rewriter {
    ssrc: u32,
    clock_rate: u32,
    current: Option<Current>,
    last_out: Option<LastOut>,
}

/// What the router knows about a packet when it reaches a leg.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Arrival {
    /// The leg may switch to this stream only at a keyframe (video).
    pub(crate) wait_for_keyframe: bool,
    /// Newer than every packet its stream delivered before.
    pub(crate) newest: bool,
}

/// What [`Rewriter::forward`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Rewritten; send it.
    Send,
    /// The leg switched to this stream and waits for a keyframe.
    AwaitKeyframe,
    /// Older than the switch point (it would collide with numbers already
    /// used), or a resent old packet where a switch point was wanted.
    Stale,
}

impl Rewriter {
    pub(crate) fn new(ssrc: u32, clock_rate: u32) -> Self {
        Rewriter {
            ssrc,
            clock_rate: clock_rate.max(1),
            current: None,
            last_out: None,
        }
    }

    /// Rewrites SSRC, sequence number and timestamp in place. `keyframe`
    /// is asked only at a switch, and only if `wait_for_keyframe`.
    /// `newest` says the packet is newer than any its stream delivered
    /// before: a retransmission (RTX, or a browser's bandwidth probe, which
    /// resends recent packets) is not.
    pub(crate) fn forward(
        &mut self,
        tag: StreamTag,
        header: &mut Header,
        packet: Arrival,
        keyframe: impl FnOnce() -> bool,
        now: Instant,
    ) -> Verdict {
        let current = match self.current {
            Some(mut c) if c.tag == tag => {
                let ahead = header.sequence_number.wrapping_sub(c.first_in_seq) as i16;
                if ahead < 0 {
                    return Verdict::Stale;
                }
                // The floor follows the stream: left at the switch point, a
                // stream 32768 packets on (11 minutes of audio) would wrap
                // "behind" it and be dropped as stale for as long again.
                if ahead > STALE_WINDOW {
                    let moved = header.sequence_number.wrapping_sub(STALE_WINDOW as u16);
                    c.first_in_seq = moved;
                    self.current = Some(c);
                }
                c
            }
            _ => {
                // The switch point fixes the offset for everything after it:
                // taken at a resent old packet, the live packets that follow
                // would jump ahead by the distance between the two, and the
                // receiver counts every number skipped as lost.
                if !packet.newest {
                    return Verdict::Stale;
                }
                if packet.wait_for_keyframe && !keyframe() {
                    return Verdict::AwaitKeyframe;
                }
                let c = self.switch_point(tag, header, now);
                self.current = Some(c);
                c
            }
        };
        let seq = header.sequence_number.wrapping_add(current.seq_offset);
        let ts = header.timestamp.wrapping_add(current.ts_offset);
        header.sequence_number = seq;
        header.timestamp = ts;
        header.ssrc = self.ssrc;
        let newer = self
            .last_out
            .is_none_or(|last| (seq.wrapping_sub(last.seq) as i16) > 0);
        if newer {
            self.last_out = Some(LastOut { seq, ts, at: now });
        }
        Verdict::Send
    }

    /// The leg stopped carrying its source (gated, or the slot emptied).
    /// When the same source comes back its packets must follow the last
    /// one sent, not jump by everything skipped meanwhile: a receiver
    /// counts such a jump as lost packets, and its reports then show loss
    /// that never happened.
    pub(crate) fn pause(&mut self) {
        self.current = None;
    }

    /// Offsets that make the first packet of the new stream follow the last
    /// one sent: next sequence number, and a timestamp advanced by the wall
    /// time since (at least one tick, so no two frames share a timestamp).
    fn switch_point(&self, tag: StreamTag, header: &Header, now: Instant) -> Current {
        let (seq_out, ts_out) = match self.last_out {
            Some(last) => {
                let elapsed = now.saturating_duration_since(last.at);
                let ticks = (elapsed.as_micros() * u128::from(self.clock_rate) / 1_000_000)
                    .clamp(1, u128::from(u32::MAX / 2)) as u32;
                (last.seq.wrapping_add(1), last.ts.wrapping_add(ticks))
            }
            None => (header.sequence_number, header.timestamp),
        };
        Current {
            tag,
            seq_offset: seq_out.wrapping_sub(header.sequence_number),
            ts_offset: ts_out.wrapping_sub(header.timestamp),
            first_in_seq: header.sequence_number,
        }
    }
}

/// Payload type and extension-id translation from one publisher's leg to
/// one subscriber's leg, computed once per switch from both negotiations.
#[derive(Debug, Clone, Default)]
pub(crate) struct Translation {
    /// (publisher pt, subscriber pt)
    pub(crate) payload_types: Vec<(u8, u8)>,
    /// (publisher id, subscriber id)
    pub(crate) extensions: Vec<(u8, u8)>,
}

impl Translation {
    /// Maps the payload type and extensions; `false` when the codec is not
    /// negotiated on the subscriber's leg (the packet cannot be sent).
    pub(crate) fn apply(&self, header: &mut Header) -> bool {
        let Some(&(_, pt)) = self
            .payload_types
            .iter()
            .find(|(from, _)| *from == header.payload_type)
        else {
            return false;
        };
        header.payload_type = pt;
        if header.extension {
            let kept: Vec<Extension> = header
                .extensions
                .drain(..)
                .filter_map(|ext| {
                    self.extensions
                        .iter()
                        .find(|(from, _)| *from == ext.id)
                        .map(|&(_, id)| Extension {
                            id,
                            payload: ext.payload,
                        })
                })
                .collect();
            header.extension = !kept.is_empty();
            header.extensions = kept;
            // The padding counted when the packet was parsed belongs to the
            // extensions it arrived with. Kept with a shorter list, it makes
            // the header's computed size overshoot what is written, and the
            // stack's SRTP step drops the packet (Chromium's audio, and the
            // last packet of each of its keyframes, lost that way).
            header.extensions_padding = 0;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const LIVE_AUDIO: Arrival = Arrival {
        wait_for_keyframe: false,
        newest: true,
    };
    const LIVE_VIDEO: Arrival = Arrival {
        wait_for_keyframe: true,
        newest: true,
    };
    const RESENT_VIDEO: Arrival = Arrival {
        wait_for_keyframe: true,
        newest: false,
    };

    /// Two publishers' streams.
    const A: StreamTag = StreamTag {
        publisher: 1,
        ssrc: 10,
    };
    const B: StreamTag = StreamTag {
        publisher: 2,
        ssrc: 20,
    };

    fn header(seq: u16, ts: u32) -> Header {
        Header {
            sequence_number: seq,
            timestamp: ts,
            ssrc: 999,
            ..Header::default()
        }
    }

    #[test]
    fn sequence_numbers_continue_across_a_switch() {
        let t0 = Instant::now();
        let mut rw = Rewriter::new(42, 90_000);
        let mut out = Vec::new();
        for i in 0..5u16 {
            let mut h = header(1000 + i, 3000 * u32::from(i));
            assert_eq!(
                rw.forward(A, &mut h, LIVE_AUDIO, || true, t0),
                Verdict::Send
            );
            out.push(h);
        }
        let later = t0 + Duration::from_millis(100);
        let mut h = header(60000, 7);
        assert_eq!(
            rw.forward(B, &mut h, LIVE_VIDEO, || false, later),
            Verdict::AwaitKeyframe
        );
        let mut h = header(60001, 3007);
        assert_eq!(
            rw.forward(B, &mut h, LIVE_VIDEO, || true, later),
            Verdict::Send
        );
        out.push(h);
        let mut h = header(60002, 6007);
        assert_eq!(
            rw.forward(B, &mut h, LIVE_VIDEO, || false, later),
            Verdict::Send
        );
        out.push(h);
        for pair in out.windows(2) {
            assert_eq!(
                pair[1].sequence_number,
                pair[0].sequence_number.wrapping_add(1)
            );
            assert_eq!(pair[1].ssrc, 42);
        }
        // 100 ms at 90 kHz after the last timestamp sent.
        assert_eq!(out[5].timestamp, out[4].timestamp + 9000);
        let mut stale = header(59990, 0);
        assert_eq!(
            rw.forward(B, &mut stale, LIVE_VIDEO, || true, later),
            Verdict::Stale
        );
    }

    /// A browser probes its bandwidth by resending recent packets (over
    /// RTX, which the stack unwraps into the original sequence number): a
    /// resent keyframe start that reaches a leg waiting for a keyframe must
    /// not become its switch point, or the live packets after it jump.
    #[test]
    fn a_resent_keyframe_is_no_switch_point() {
        let t0 = Instant::now();
        let mut rw = Rewriter::new(42, 90_000);
        let mut out = Vec::new();
        for i in 0..3u16 {
            let mut h = header(100 + i, 3000 * u32::from(i));
            assert_eq!(
                rw.forward(A, &mut h, LIVE_AUDIO, || true, t0),
                Verdict::Send
            );
            out.push(h.sequence_number);
        }
        rw.pause();
        // B's keyframe of 300 packets ago, resent as a probe.
        let mut h = header(5_000, 0);
        assert_eq!(
            rw.forward(B, &mut h, RESENT_VIDEO, || true, t0),
            Verdict::Stale
        );
        let mut h = header(5_300, 90_000);
        assert_eq!(
            rw.forward(B, &mut h, LIVE_VIDEO, || false, t0),
            Verdict::AwaitKeyframe
        );
        for i in 0..3u16 {
            let mut h = header(5_301 + i, 93_000);
            assert_eq!(
                rw.forward(B, &mut h, LIVE_VIDEO, || true, t0),
                Verdict::Send
            );
            out.push(h.sequence_number);
        }
        // Once B feeds the leg, its resent packets keep their place.
        let mut h = header(5_302, 93_000);
        assert_eq!(
            rw.forward(B, &mut h, RESENT_VIDEO, || true, t0),
            Verdict::Send
        );
        assert_eq!(h.sequence_number, out[4]);
        for pair in out.windows(2) {
            assert_eq!(pair[1], pair[0].wrapping_add(1), "{out:?}");
        }
    }

    #[test]
    fn the_same_source_after_a_pause_continues_without_a_gap() {
        let t0 = Instant::now();
        let mut rw = Rewriter::new(42, 48_000);
        let mut h = header(100, 960);
        assert_eq!(
            rw.forward(A, &mut h, LIVE_AUDIO, || true, t0),
            Verdict::Send
        );
        let first = h.sequence_number;
        rw.pause();
        // 500 packets were not forwarded while the leg was gated.
        let mut h = header(600, 960 * 501);
        let later = t0 + Duration::from_secs(10);
        assert_eq!(
            rw.forward(A, &mut h, LIVE_AUDIO, || true, later),
            Verdict::Send
        );
        assert_eq!(h.sequence_number, first.wrapping_add(1));
    }

    #[test]
    fn a_long_stream_never_turns_stale() {
        let t0 = Instant::now();
        let mut rw = Rewriter::new(42, 48_000);
        let mut last = None;
        for i in 0..100_000u32 {
            let mut h = header(65_000u16.wrapping_add(i as u16), 960 * i);
            assert_eq!(
                rw.forward(A, &mut h, LIVE_AUDIO, || true, t0),
                Verdict::Send,
                "packet {i}"
            );
            if let Some(prev) = last {
                assert_eq!(h.sequence_number, u16::wrapping_add(prev, 1));
            }
            last = Some(h.sequence_number);
        }
        let mut late = header(65_000u16.wrapping_add(99_990u32 as u16), 0);
        assert_eq!(
            rw.forward(A, &mut late, LIVE_AUDIO, || true, t0),
            Verdict::Send
        );
    }

    /// A browser's packet: audio level (id 1) and transport-wide sequence
    /// number (id 3), padded to a 32-bit word; only the audio level goes on.
    #[test]
    fn a_packet_with_stripped_extensions_still_marshals() {
        use rtc::shared::marshal::{Marshal, MarshalSize, Unmarshal};
        let raw: &[u8] = &[
            0x90, 111, 0x00, 0x01, 0, 0, 0, 1, 0, 0, 0, 9, // V=2, X, PT 111
            0xBE, 0xDE, 0x00, 0x02, // one-byte extensions, 2 words
            0x10, 0x7F, // id 1, 1 byte
            0x31, 0x00, 0x05, // id 3, 2 bytes
            0x00, 0x00, 0x00, // padding
            0xAA, 0xBB, // payload
        ];
        let mut buf = raw;
        let mut packet = rtc::rtp::Packet::unmarshal(&mut buf).expect("valid packet");
        let t = Translation {
            payload_types: vec![(111, 111)],
            extensions: vec![(1, 1)],
        };
        assert!(t.apply(&mut packet.header));
        let out = packet.marshal().expect("marshals");
        assert_eq!(out.len(), packet.marshal_size());
        // 12 + 4 + one word for the audio level + payload.
        assert_eq!(out.len(), 12 + 4 + 4 + 2);
    }

    #[test]
    fn translation_maps_payload_type_and_strips_unknown_extensions() {
        let t = Translation {
            payload_types: vec![(96, 100)],
            extensions: vec![(1, 5)],
        };
        let mut h = header(1, 1);
        h.payload_type = 96;
        h.extension = true;
        h.extension_profile = 0xBEDE;
        h.extensions = vec![
            Extension {
                id: 1,
                payload: bytes::Bytes::from_static(&[1]),
            },
            Extension {
                id: 3,
                payload: bytes::Bytes::from_static(&[2]),
            },
        ];
        assert!(t.apply(&mut h));
        assert_eq!(h.payload_type, 100);
        assert_eq!(h.extensions.len(), 1);
        assert_eq!(h.extensions[0].id, 5);
        let mut h = header(1, 1);
        h.payload_type = 111;
        assert!(!t.apply(&mut h));
    }
}
