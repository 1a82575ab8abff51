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

use rtc::rtp::header::{Extension, Header, EXTENSION_PROFILE_ONE_BYTE, EXTENSION_PROFILE_TWO_BYTE};
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
    ///
    /// What a negotiation hands over is trusted only as far as the wire
    /// format goes: a payload type above 127 would be written over the
    /// marker bit, and an extension id the header's profile cannot carry
    /// (above 14 in the one-byte form) would be written as another id. The
    /// first is not sent, the second dropped.
    pub(crate) fn apply(&self, header: &mut Header) -> bool {
        let Some(&(_, pt)) = self
            .payload_types
            .iter()
            .find(|(from, _)| *from == header.payload_type)
        else {
            return false;
        };
        if pt > 127 {
            return false;
        }
        header.payload_type = pt;
        if header.extension {
            let max_id = match header.extension_profile {
                EXTENSION_PROFILE_ONE_BYTE => 14,
                EXTENSION_PROFILE_TWO_BYTE => 255,
                _ => 0,
            };
            let kept: Vec<Extension> = header
                .extensions
                .drain(..)
                .filter_map(|ext| {
                    self.extensions
                        .iter()
                        .find(|(from, _)| *from == ext.id)
                        .filter(|&&(_, id)| (1..=max_id).contains(&id))
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

/// Property-based fuzzing of what a forwarded packet goes through: the
/// rewriter's continuity (the module doc's promises), the translation, and
/// the per-packet readers on the forwarding path (keyframe detection, audio
/// level, upstream stats, receiver report blocks) on packets parsed from
/// arbitrary bytes. The case count is proptest's (256, or `PROPTEST_CASES`;
/// see the README for the long run).
#[cfg(test)]
mod fuzz {
    use super::*;
    use crate::keyframe::VideoCodec;
    use crate::speaker::ActiveSpeaker;
    use crate::stats::{downstream, Inbound};
    use bytes::Bytes;
    use diemcau_control::EndpointCode;
    use proptest::collection::vec;
    use proptest::prelude::*;
    use rtc::rtcp::payload_feedbacks::full_intra_request::{FirEntry, FullIntraRequest};
    use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
    use rtc::rtcp::receiver_report::ReceiverReport;
    use rtc::rtcp::reception_report::ReceptionReport;
    use rtc::rtcp::sender_report::SenderReport;
    use rtc::rtp::header::{EXTENSION_PROFILE_ONE_BYTE, EXTENSION_PROFILE_TWO_BYTE};
    use rtc::shared::marshal::{Marshal, MarshalSize, Unmarshal};
    use std::cell::Cell;
    use std::time::Duration;

    /// Three upstream streams: two publishers, and the first one again
    /// with a new SSRC (a restart).
    const TAGS: [StreamTag; 3] = [
        StreamTag {
            publisher: 1,
            ssrc: 10,
        },
        StreamTag {
            publisher: 2,
            ssrc: 20,
        },
        StreamTag {
            publisher: 1,
            ssrc: 11,
        },
    ];
    const LEG_SSRC: u32 = 0xC0FFEE;

    /// How a stream's next sequence number relates to its previous one.
    #[derive(Debug, Clone, Copy)]
    enum Step {
        Next,
        Near(i16),
        Anywhere(u16),
    }

    #[derive(Debug, Clone)]
    enum Event {
        Packet {
            stream: usize,
            seq: Step,
            ts_step: u32,
            newest: bool,
            wait_for_keyframe: bool,
            keyframe: bool,
            after: Duration,
        },
        Pause,
    }

    fn event() -> impl Strategy<Value = Event> {
        let step = prop_oneof![
            8 => Just(Step::Next),
            3 => (-64i16..64).prop_map(Step::Near),
            1 => any::<i16>().prop_map(Step::Near),
            1 => any::<u16>().prop_map(Step::Anywhere),
        ];
        let after = prop_oneof![
            8 => (0u64..100).prop_map(Duration::from_millis),
            1 => (0u64..100_000_000).prop_map(Duration::from_millis),
        ];
        let packet = (
            prop_oneof![6 => Just(0usize), 3 => Just(1usize), 1 => Just(2usize)],
            step,
            prop_oneof![Just(0u32), Just(960), Just(3000), any::<u32>()],
            prop::bool::weighted(0.9),
            any::<bool>(),
            prop::bool::weighted(0.3),
            after,
        )
            .prop_map(
                |(stream, seq, ts_step, newest, wait_for_keyframe, keyframe, after)| {
                    Event::Packet {
                        stream,
                        seq,
                        ts_step,
                        newest,
                        wait_for_keyframe,
                        keyframe,
                        after,
                    }
                },
            );
        prop_oneof![20 => packet, 1 => Just(Event::Pause)]
    }

    /// What the leg has promised so far, kept from the outside.
    struct Model {
        /// The stream feeding the leg and its offsets; `None` after a pause.
        current: Option<(StreamTag, u16, u32)>,
        /// The newest sequence number received from the current stream.
        newest_in: u16,
        /// The newest packet sent: sequence number, timestamp, when.
        last_out: Option<(u16, u32, Instant)>,
    }

    proptest! {
        /// Any mix of streams, sequence numbers (in order, reordered,
        /// jumping, wrapping), timestamps, retransmissions, keyframes,
        /// pauses and clock rates: every packet is sent with the leg's SSRC
        /// or left untouched; a stream keeps its offsets while it feeds the
        /// leg; a switch continues at the next sequence number with the
        /// timestamp advanced by the wall time (at least one tick); only a
        /// live packet, at a keyframe when one is wanted, is a switch point;
        /// and a packet newer than everything its stream sent is never
        /// dropped as stale while its stream feeds the leg.
        #[test]
        fn rewriter_keeps_its_promises(
            clock_rate in prop_oneof![Just(48_000u32), Just(90_000), any::<u32>()],
            starts in (any::<u16>(), any::<u16>(), any::<u16>(), any::<u32>()),
            events in vec(event(), 1..200),
        ) {
            let mut rw = Rewriter::new(LEG_SSRC, clock_rate);
            let clock = u128::from(clock_rate.max(1));
            let t0 = Instant::now();
            let mut now = t0;
            let mut seqs = [starts.0, starts.1, starts.2];
            let mut ts = [starts.3; 3];
            let mut model = Model { current: None, newest_in: 0, last_out: None };
            for event in events {
                let (stream, step, ts_step, newest, wait, keyframe, after) = match event {
                    Event::Pause => {
                        rw.pause();
                        model.current = None;
                        continue;
                    }
                    Event::Packet { stream, seq, ts_step, newest, wait_for_keyframe, keyframe, after } => {
                        (stream, seq, ts_step, newest, wait_for_keyframe, keyframe, after)
                    }
                };
                now += after;
                seqs[stream] = match step {
                    Step::Next => seqs[stream].wrapping_add(1),
                    Step::Near(d) => seqs[stream].wrapping_add(d as u16),
                    Step::Anywhere(s) => s,
                };
                ts[stream] = ts[stream].wrapping_add(ts_step);
                let tag = TAGS[stream];
                let mut header = Header {
                    sequence_number: seqs[stream],
                    timestamp: ts[stream],
                    ssrc: tag.ssrc,
                    payload_type: 96,
                    ..Header::default()
                };
                let before = header.clone();
                let asked = Cell::new(false);
                let arrival = Arrival { wait_for_keyframe: wait, newest };
                let verdict = rw.forward(tag, &mut header, arrival, || { asked.set(true); keyframe }, now);

                let switch = model.current.is_none_or(|(t, _, _)| t != tag);
                if switch {
                    prop_assert_eq!(asked.get(), newest && wait);
                    let expected = if !newest {
                        Verdict::Stale
                    } else if wait && !keyframe {
                        Verdict::AwaitKeyframe
                    } else {
                        Verdict::Send
                    };
                    prop_assert_eq!(verdict, expected);
                } else {
                    prop_assert!(!asked.get(), "keyframe asked without a switch");
                    let ahead = before.sequence_number.wrapping_sub(model.newest_in) as i16;
                    if ahead > 0 && ahead <= i16::MAX - STALE_WINDOW {
                        prop_assert_eq!(verdict, Verdict::Send, "newer by {} yet stale", ahead);
                    }
                }
                if verdict != Verdict::Send {
                    prop_assert_eq!(&header, &before);
                    continue;
                }
                prop_assert_eq!(header.ssrc, LEG_SSRC);
                let seq_offset = header.sequence_number.wrapping_sub(before.sequence_number);
                let ts_offset = header.timestamp.wrapping_sub(before.timestamp);
                if switch {
                    match model.last_out {
                        Some((seq, last_ts, at)) => {
                            prop_assert_eq!(header.sequence_number, seq.wrapping_add(1));
                            let elapsed = now.saturating_duration_since(at).as_micros();
                            let ticks = (elapsed * clock / 1_000_000).clamp(1, u128::from(u32::MAX / 2)) as u32;
                            prop_assert_eq!(header.timestamp, last_ts.wrapping_add(ticks));
                        }
                        None => prop_assert_eq!(&header, &Header { ssrc: LEG_SSRC, ..before.clone() }),
                    }
                    model.current = Some((tag, seq_offset, ts_offset));
                    model.newest_in = before.sequence_number;
                } else {
                    let (_, s, t) = model.current.unwrap();
                    prop_assert_eq!((seq_offset, ts_offset), (s, t), "offsets moved without a switch");
                    if (before.sequence_number.wrapping_sub(model.newest_in) as i16) > 0 {
                        model.newest_in = before.sequence_number;
                    }
                }
                let newer = model
                    .last_out
                    .is_none_or(|(seq, _, _)| (header.sequence_number.wrapping_sub(seq) as i16) > 0);
                if newer {
                    model.last_out = Some((header.sequence_number, header.timestamp, now));
                }
            }
        }
    }

    fn extension() -> impl Strategy<Value = Extension> {
        (0u8..20, vec(any::<u8>(), 0..20)).prop_map(|(id, payload)| Extension {
            id,
            payload: Bytes::from(payload),
        })
    }

    fn translation() -> impl Strategy<Value = Translation> {
        (
            vec(
                (prop_oneof![0u8..4, 96u8..100, any::<u8>()], any::<u8>()),
                0..5,
            ),
            vec(
                (
                    prop_oneof![0u8..16, any::<u8>()],
                    prop_oneof![1u8..15, any::<u8>()],
                ),
                0..5,
            ),
        )
            .prop_map(|(payload_types, extensions)| Translation {
                payload_types,
                extensions,
            })
    }

    proptest! {
        /// Any header and any mapping: a packet whose payload type is not
        /// mapped is refused untouched; otherwise the first mapping's type
        /// is used, exactly the mapped extensions remain (in order, under
        /// the new ids), the extension bit says whether any did, and the
        /// parse-time padding is gone.
        #[test]
        fn translation_maps_exactly(
            t in translation(),
            payload_type in prop_oneof![0u8..4, 96u8..100, any::<u8>()],
            extension in any::<bool>(),
            profile in prop_oneof![Just(EXTENSION_PROFILE_ONE_BYTE), Just(EXTENSION_PROFILE_TWO_BYTE), any::<u16>()],
            extensions in vec(extension(), 0..6),
            extensions_padding in 0usize..8,
        ) {
            let mut h = Header {
                payload_type,
                extension,
                extension_profile: profile,
                extensions: if extension { extensions } else { Vec::new() },
                extensions_padding: if extension { extensions_padding } else { 0 },
                ..Header::default()
            };
            let before = h.clone();
            let mapped = t.payload_types.iter().find(|(from, _)| *from == payload_type);
            let ok = t.apply(&mut h);
            // A type the wire cannot carry (above 127) is not sent either.
            let mapped = mapped.filter(|&&(_, pt)| pt <= 127);
            prop_assert_eq!(ok, mapped.is_some());
            let Some(&(_, pt)) = mapped else {
                prop_assert_eq!(&h, &before);
                return Ok(());
            };
            prop_assert_eq!(h.payload_type, pt);
            // Ids its profile cannot carry are dropped.
            let max_id = match profile {
                EXTENSION_PROFILE_ONE_BYTE => 14,
                EXTENSION_PROFILE_TWO_BYTE => 255,
                _ => 0,
            };
            if before.extension {
                let expected: Vec<Extension> = before
                    .extensions
                    .iter()
                    .filter_map(|e| {
                        t.extensions.iter().find(|(from, _)| *from == e.id)
                            .filter(|&&(_, id)| (1..=max_id).contains(&id))
                            .map(|&(_, id)| Extension {
                            id,
                            payload: e.payload.clone(),
                        })
                    })
                    .collect();
                prop_assert_eq!(h.extension, !expected.is_empty());
                prop_assert_eq!(&h.extensions, &expected);
                prop_assert_eq!(h.extensions_padding, 0);
            } else {
                prop_assert!(!h.extension && h.extensions.is_empty());
            }
            prop_assert_eq!(
                (h.sequence_number, h.timestamp, h.ssrc, h.extension_profile),
                (before.sequence_number, before.timestamp, before.ssrc, before.extension_profile)
            );
        }
    }

    /// A valid packet with any header fields, extensions under either
    /// RFC 8285 profile, and any payload, as bytes.
    fn valid_packet() -> impl Strategy<Value = Vec<u8>> {
        let one_byte = vec((1u8..15, vec(any::<u8>(), 1..17)), 0..5);
        let two_byte = vec((1u8..=255, vec(any::<u8>(), 0..40)), 0..5);
        let exts = prop_oneof![
            one_byte.prop_map(|e| (EXTENSION_PROFILE_ONE_BYTE, e)),
            two_byte.prop_map(|e| (EXTENSION_PROFILE_TWO_BYTE, e)),
        ];
        (
            (
                any::<bool>(),
                any::<bool>(),
                0u8..128,
                any::<u16>(),
                any::<u32>(),
                any::<u32>(),
            ),
            vec(any::<u32>(), 0..3),
            prop::option::of(exts),
            vec(any::<u8>(), 0..64),
        )
            .prop_map(
                |((padding, marker, payload_type, seq, ts, ssrc), csrc, exts, payload)| {
                    let (extension, profile, extensions) = match exts {
                        Some((profile, list)) if !list.is_empty() => (
                            true,
                            profile,
                            list.into_iter()
                                .map(|(id, p)| Extension {
                                    id,
                                    payload: Bytes::from(p),
                                })
                                .collect(),
                        ),
                        _ => (false, 0, Vec::new()),
                    };
                    let packet = rtc::rtp::Packet {
                        header: Header {
                            version: 2,
                            padding,
                            extension,
                            marker,
                            payload_type,
                            sequence_number: seq,
                            timestamp: ts,
                            ssrc,
                            csrc,
                            extension_profile: profile,
                            extensions,
                            extensions_padding: 0,
                        },
                        payload: Bytes::from(payload),
                    };
                    packet.marshal().expect("a valid packet marshals").to_vec()
                },
            )
    }

    /// Bytes from the network: valid packets, valid packets with bytes
    /// flipped, cut or appended, and noise.
    fn rtp_bytes() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            2 => valid_packet(),
            3 => (valid_packet(), vec((any::<usize>(), any::<u8>()), 1..4), prop::option::of(any::<usize>()), vec(any::<u8>(), 0..8))
                .prop_map(|(mut bytes, flips, cut, tail)| {
                    for (i, b) in flips {
                        if !bytes.is_empty() {
                            let i = i % bytes.len();
                            bytes[i] ^= b;
                        }
                    }
                    if let Some(cut) = cut {
                        bytes.truncate(cut % (bytes.len() + 1));
                    }
                    bytes.extend(tail);
                    bytes
                }),
            1 => vec(any::<u8>(), 0..300),
        ]
    }

    proptest! {
        /// The forwarding path on a packet parsed from any bytes: translate,
        /// rewrite (asking every codec's keyframe reader), read the audio
        /// level, count it upstream, and write it out. No panic; the
        /// keyframe readers answer as their formats say; whatever the
        /// translation, a packet that is sent is written whole and reads
        /// back as rewritten.
        #[test]
        fn forwarding_path_takes_any_packet(
            bytes in rtp_bytes(),
            t in translation(),
            pt_to in prop::option::weighted(0.8, prop_oneof![3 => 0u8..128, 1 => any::<u8>()]),
            ids_to in vec(prop::option::weighted(0.7, prop_oneof![3 => 1u8..15, 1 => any::<u8>()]), 0..6),
            clock_rate in any::<u32>(),
            arrival_secs in 0f64..1e6,
        ) {
            let mut buf = &bytes[..];
            let Ok(packet) = rtc::rtp::Packet::unmarshal(&mut buf) else {
                return Ok(());
            };
            let payload = packet.payload.clone();
            for codec in [VideoCodec::Vp8, VideoCodec::H264, VideoCodec::Other] {
                let key = codec.is_keyframe_start(&payload);
                match codec {
                    VideoCodec::Vp8 if key => {
                        prop_assert!(payload[0] & 0x10 != 0 && payload[0] & 0x07 == 0);
                    }
                    VideoCodec::H264 if key => {
                        prop_assert!(matches!(payload[0] & 0x1F, 5 | 7 | 24 | 28));
                    }
                    VideoCodec::Other => prop_assert!(key),
                    _ => {}
                }
            }
            let mut speaker = ActiveSpeaker::default();
            let who = EndpointCode::from("01");
            for ext in &packet.header.extensions {
                speaker.on_level(&who, &ext.payload);
            }
            let _ = speaker.decide(&[who].into_iter().collect());
            let mut upstream = Inbound::default();
            upstream.on_packet(
                packet.header.sequence_number,
                packet.header.timestamp,
                clock_rate,
                arrival_secs,
                packet.payload.len(),
            );
            prop_assert!(upstream.jitter_ms(clock_rate).is_finite());
            let loss = upstream.take_loss();
            prop_assert!((0.0..=1.0).contains(&loss));

            // Mostly a translation that knows the packet's payload type and
            // some of its extensions, as a negotiated one does.
            let mut t = t;
            if let Some(to) = pt_to {
                t.payload_types.insert(0, (packet.header.payload_type, to));
            }
            for (ext, to) in packet.header.extensions.iter().zip(&ids_to) {
                if let Some(to) = to {
                    t.extensions.insert(0, (ext.id, *to));
                }
            }
            let mut out = packet.clone();
            if !t.apply(&mut out.header) {
                return Ok(());
            }
            let mut rw = Rewriter::new(LEG_SSRC, clock_rate);
            let tag = StreamTag { publisher: 1, ssrc: packet.header.ssrc };
            // The keyframe readers were asked above; waiting for one here
            // would let only keyframes reach the writer.
            let arrival = Arrival { wait_for_keyframe: false, newest: true };
            let verdict = rw.forward(
                tag,
                &mut out.header,
                arrival,
                || VideoCodec::H264.is_keyframe_start(&payload),
                Instant::now(),
            );
            if verdict != Verdict::Send {
                return Ok(());
            }
            let written = out.marshal();
            if let Ok(written) = &written {
                prop_assert_eq!(written.len(), out.marshal_size());
            }
            // Whatever the negotiation said (a payload type above 127, an
            // extension id its profile cannot carry), what is sent is what
            // reads back.
            let written = written.expect("a rewritten packet marshals");
            let mut back = &written[..];
            let back = rtc::rtp::Packet::unmarshal(&mut back).expect("and reads back");
            prop_assert_eq!(&back.payload, &out.payload);
            let (mut expected, mut got) = (out.header.clone(), back.header);
            expected.extensions_padding = 0;
            got.extensions_padding = 0;
            // With every extension dropped, the profile is not written.
            if !expected.extension {
                expected.extension_profile = 0;
            }
            prop_assert_eq!(got, expected);
        }
    }

    /// A compound RTCP packet as a client sends it: a sender or receiver
    /// report with blocks, and keyframe requests.
    fn rtcp_packet() -> impl Strategy<Value = Vec<u8>> {
        let block = (
            any::<u32>(),
            any::<u8>(),
            any::<u32>(),
            any::<u32>(),
            any::<u32>(),
            any::<u32>(),
        )
            .prop_map(
                |(ssrc, fraction_lost, jitter, last_sender_report, delay, total)| ReceptionReport {
                    ssrc,
                    fraction_lost,
                    total_lost: total & 0x00FF_FFFF,
                    last_sequence_number: total,
                    jitter,
                    last_sender_report,
                    delay,
                },
            );
        (
            vec(block, 0..4),
            any::<bool>(),
            any::<u32>(),
            prop::option::of(vec(any::<u32>(), 0..3)),
        )
            .prop_map(|(reports, sender, ssrc, fir)| {
                let mut packets: Vec<Box<dyn rtc::rtcp::Packet>> = Vec::new();
                if sender {
                    packets.push(Box::new(SenderReport {
                        ssrc,
                        ntp_time: 1 << 40,
                        reports,
                        ..Default::default()
                    }));
                } else {
                    packets.push(Box::new(ReceiverReport {
                        ssrc,
                        reports,
                        ..Default::default()
                    }));
                }
                packets.push(Box::new(PictureLossIndication {
                    sender_ssrc: ssrc,
                    media_ssrc: ssrc ^ 1,
                }));
                if let Some(entries) = fir {
                    packets.push(Box::new(FullIntraRequest {
                        sender_ssrc: ssrc,
                        media_ssrc: 0,
                        fir: entries
                            .into_iter()
                            .map(|ssrc| FirEntry {
                                ssrc,
                                sequence_number: 1,
                            })
                            .collect(),
                    }));
                }
                rtc::rtcp::packet::marshal(&packets)
                    .expect("valid RTCP marshals")
                    .to_vec()
            })
    }

    proptest! {
        /// What the router reads from a client's RTCP (keyframe requests,
        /// report blocks turned into RTT, loss and jitter) on compound
        /// packets parsed from valid, mutated and random bytes: no panic,
        /// loss a fraction, jitter finite, RTT absent or under a minute.
        #[test]
        fn report_blocks_read_from_any_rtcp(
            bytes in prop_oneof![
                2 => rtcp_packet(),
                3 => (rtcp_packet(), vec((any::<usize>(), any::<u8>()), 1..4), prop::option::of(any::<usize>()))
                    .prop_map(|(mut b, flips, cut)| {
                        for (i, x) in flips {
                            let i = i % b.len();
                            b[i] ^= x;
                        }
                        if let Some(cut) = cut {
                            b.truncate(cut % (b.len() + 1));
                        }
                        b
                    }),
                1 => vec(any::<u8>(), 0..200),
            ],
            now_ntp in any::<u64>(),
            clock_rate in prop_oneof![Just(48_000u32), Just(90_000), any::<u32>()],
        ) {
            let mut buf = &bytes[..];
            let Ok(packets) = rtc::rtcp::packet::unmarshal(&mut buf) else {
                return Ok(());
            };
            for packet in &packets {
                let any = packet.as_any();
                if let Some(fir) = any.downcast_ref::<FullIntraRequest>() {
                    let _ = fir.fir.first().map(|e| e.ssrc).or(Some(fir.media_ssrc));
                }
                let blocks: &[ReceptionReport] = if let Some(rr) = any.downcast_ref::<ReceiverReport>() {
                    &rr.reports
                } else if let Some(sr) = any.downcast_ref::<SenderReport>() {
                    &sr.reports
                } else {
                    &[]
                };
                for block in blocks {
                    let d = downstream(block, now_ntp, clock_rate, Instant::now());
                    prop_assert!((0.0..1.0).contains(&d.loss));
                    prop_assert!(d.jitter_ms.is_finite() && d.jitter_ms >= 0.0);
                    if let Some(rtt) = d.rtt_ms {
                        prop_assert!((0.0..60_000.0).contains(&rtt), "rtt {}", rtt);
                    }
                }
            }
        }
    }
}
