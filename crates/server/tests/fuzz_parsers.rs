//! Property-based fuzzing of the parsers a client's bytes reach through the
//! crate's public API, and of the WebRTC stack's parsers the server hands
//! those bytes to: RTCP (and the tap that picks what the router and a
//! publisher act on), ICE candidates, SDP, control commands and the page's
//! stats report. Each property asserts no panic and, where there is one,
//! the invariant.
//!
//! Each property runs proptest's case count: 256, or `PROPTEST_CASES`. The
//! parsers private to the crate are fuzzed by the `fuzz` modules at the end
//! of their files (`cargo test --lib fuzz`); the README has the long run.

use bytes::Bytes;
use diemcau::control::Command;
use diemcau::media::rtcp_tap::{asks_keyframe, bitrate_ceiling, RtcpTap};
use diemcau::monitor::ClientStats;
use proptest::collection::vec;
use proptest::prelude::*;
use rtc::interceptor::{Attribute, AttributedPacket, Packet, TaggedPacket};
use rtc::rtcp::payload_feedbacks::full_intra_request::{FirEntry, FullIntraRequest};
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtcp::payload_feedbacks::receiver_estimated_maximum_bitrate::ReceiverEstimatedMaximumBitrate;
use rtc::rtcp::receiver_report::ReceiverReport;
use rtc::rtcp::reception_report::ReceptionReport;
use rtc::rtcp::sender_report::SenderReport;
use rtc::sansio::Protocol;
use rtc::shared::TransportMessage;
use serde_json::{json, Value};
use std::time::Instant;

// ---------------------------------------------------------------- mutation

/// One edit of a valid input: bytes flipped, inserted or deleted, a chunk
/// written twice, the end cut off.
#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Insert(usize, u8),
    Delete(usize, usize),
    Repeat(usize, usize),
    Cut(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        2 => (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        2 => (any::<usize>(), 1usize..8).prop_map(|(i, n)| Mutation::Delete(i, n)),
        1 => (any::<usize>(), 1usize..16).prop_map(|(i, n)| Mutation::Repeat(i, n)),
        1 => any::<usize>().prop_map(Mutation::Cut),
    ]
}

fn mutate(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        let at = |i: usize, len: usize| i % (len + 1);
        match *m {
            Mutation::Flip(i, b) if !bytes.is_empty() => {
                let i = i % bytes.len();
                bytes[i] ^= b.max(1);
            }
            Mutation::Flip(..) => {}
            Mutation::Insert(i, b) => bytes.insert(at(i, bytes.len()), b),
            Mutation::Delete(i, n) => {
                let start = at(i, bytes.len());
                let end = (start + n).min(bytes.len());
                bytes.drain(start..end);
            }
            Mutation::Repeat(i, n) => {
                let start = at(i, bytes.len());
                let end = (start + n).min(bytes.len());
                let chunk = bytes[start..end].to_vec();
                bytes.splice(end..end, chunk);
            }
            Mutation::Cut(i) => bytes.truncate(at(i, bytes.len())),
        }
    }
    bytes
}

/// A valid input, mutated valid inputs, or noise.
fn around(valid: impl Strategy<Value = Vec<u8>> + 'static) -> impl Strategy<Value = Vec<u8>> {
    let valid = valid.boxed();
    prop_oneof![
        2 => valid.clone(),
        5 => (valid, vec(mutation(), 1..5)).prop_map(|(v, ms)| mutate(v, &ms)),
        1 => vec(any::<u8>(), 0..300),
    ]
}

// -------------------------------------------------------------------- RTCP

fn block() -> impl Strategy<Value = ReceptionReport> {
    (any::<[u32; 5]>(), any::<u8>()).prop_map(|(v, fraction_lost)| ReceptionReport {
        ssrc: v[0],
        fraction_lost,
        total_lost: v[1] & 0x00FF_FFFF,
        last_sequence_number: v[2],
        jitter: v[3],
        last_sender_report: v[4],
        delay: v[4].rotate_left(7),
    })
}

/// One RTCP packet of a kind a client sends, as bytes.
fn rtcp_one() -> impl Strategy<Value = Vec<u8>> {
    let marshal = |p: Box<dyn rtc::rtcp::Packet>| {
        rtc::rtcp::packet::marshal(&[p])
            .expect("valid RTCP marshals")
            .to_vec()
    };
    prop_oneof![
        (any::<u32>(), vec(block(), 0..4)).prop_map(move |(ssrc, reports)| marshal(Box::new(
            ReceiverReport {
                ssrc,
                reports,
                ..Default::default()
            }
        ))),
        (any::<u32>(), any::<u64>(), vec(block(), 0..4)).prop_map(
            move |(ssrc, ntp_time, reports)| {
                marshal(Box::new(SenderReport {
                    ssrc,
                    ntp_time,
                    reports,
                    ..Default::default()
                }))
            }
        ),
        any::<(u32, u32)>().prop_map(move |(sender_ssrc, media_ssrc)| marshal(Box::new(
            PictureLossIndication {
                sender_ssrc,
                media_ssrc
            }
        ))),
        (any::<u32>(), vec((any::<u32>(), any::<u8>()), 0..3)).prop_map(move |(s, entries)| {
            marshal(Box::new(FullIntraRequest {
                sender_ssrc: s,
                media_ssrc: 0,
                fir: entries
                    .into_iter()
                    .map(|(ssrc, sequence_number)| FirEntry {
                        ssrc,
                        sequence_number,
                    })
                    .collect(),
            }))
        }),
        (any::<u32>(), 0f32..1e12, vec(any::<u32>(), 0..3)).prop_map(move |(s, bitrate, ssrcs)| {
            marshal(Box::new(ReceiverEstimatedMaximumBitrate {
                sender_ssrc: s,
                bitrate,
                ssrcs,
            }))
        }),
        // A NACK, a BYE, an SDES with a CNAME, an APP, and a
        // transport-wide congestion control report (from the stack's tests).
        Just(vec![
            0x81, 205, 0, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0x00, 0x10, 0x00, 0x01
        ]),
        Just(vec![0x81, 203, 0, 1, 0, 0, 0, 1]),
        Just(vec![
            0x81, 202, 0, 3, 0, 0, 0, 1, 1, 3, b'a', b'b', b'c', 0, 0, 0
        ]),
        Just(vec![0x80, 204, 0, 2, 0, 0, 0, 1, b'n', b'a', b'm', b'e']),
        Just(vec![
            0x8f, 0xcd, 0x0, 0x7, 0xfa, 0x17, 0xfa, 0x17, 0x19, 0x3d, 0xd8, 0xbb, 0x1, 0x74, 0x0,
            0x6, 0x45, 0xb1, 0x5a, 0x40, 0x40, 0x2, 0x20, 0x04, 0x1f, 0xfe, 0x1f, 0x9a, 0xd0, 0x0,
            0xd0, 0x0,
        ]),
    ]
}

/// A compound packet: one to four of the above, in any order.
fn rtcp_compound() -> impl Strategy<Value = Vec<u8>> {
    vec(rtcp_one(), 1..5).prop_map(|parts| parts.concat())
}

fn tagged(packets: Vec<Box<dyn rtc::rtcp::Packet>>) -> TaggedPacket {
    TransportMessage {
        now: Instant::now(),
        transport: Default::default(),
        message: AttributedPacket::new(Packet::Rtcp(packets)),
    }
}

/// Whether the tap's packet came out marked for the application.
fn marked(tap: &mut RtcpTap, packets: Vec<Box<dyn rtc::rtcp::Packet>>) -> bool {
    tap.handle_read(tagged(packets))
        .expect("the tap takes any RTCP");
    let out = tap.poll_read().expect("and passes it on");
    assert!(tap.poll_read().is_none());
    out.message.has(&Attribute::DeliverToApplication)
}

proptest! {
    /// Compound RTCP from valid, mutated and random bytes through the
    /// stack's parser, then everything the server does with a packet:
    /// the tap's choice (router: keyframe requests and reports; publisher:
    /// keyframe requests and bit-rate ceilings), the REMB figure, and the
    /// stack writing it out again. No panic; the tap marks exactly what
    /// its owner acts on and passes every packet through; a REMB figure is
    /// finite and not negative.
    #[test]
    fn rtcp_from_any_bytes(bytes in around(rtcp_compound())) {
        let mut buf = &bytes[..];
        let Ok(packets) = rtc::rtcp::packet::unmarshal(&mut buf) else {
            return Ok(());
        };
        let mut keyframe = false;
        let mut report = false;
        let mut ceiling = false;
        for p in &packets {
            keyframe |= asks_keyframe(p.as_ref());
            let any = p.as_any();
            report |= any.is::<ReceiverReport>() || any.is::<SenderReport>();
            if let Some(bps) = bitrate_ceiling(p.as_ref()) {
                prop_assert!(bps.is_finite() && bps >= 0.0, "REMB {}", bps);
                ceiling = true;
            }
            let _ = p.header();
            let _ = p.destination_ssrc();
            if let Ok(written) = p.marshal() {
                prop_assert_eq!(written.len(), p.marshal_size());
            }
        }
        let again = |ps: &[Box<dyn rtc::rtcp::Packet>]| ps.iter().map(|p| p.cloned()).collect::<Vec<_>>();
        prop_assert_eq!(marked(&mut RtcpTap::router(), again(&packets)), keyframe || report);
        prop_assert_eq!(marked(&mut RtcpTap::publisher(), again(&packets)), keyframe || ceiling);
        let mut tap = RtcpTap::router();
        tap.handle_write(tagged(packets)).expect("writes pass");
        prop_assert!(tap.poll_write().is_some() && tap.poll_write().is_none());
    }
}

// ----------------------------------------------------------- ICE candidates

/// A candidate attribute as browsers and other clients write it.
fn candidate_text() -> impl Strategy<Value = String> {
    let address = prop_oneof![
        any::<std::net::Ipv4Addr>().prop_map(|a| a.to_string()),
        any::<std::net::Ipv6Addr>().prop_map(|a| a.to_string()),
        "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\\.local",
    ];
    let typ = prop::sample::select(vec!["host", "srflx", "prflx", "relay"]);
    let related = prop::option::of((any::<std::net::Ipv4Addr>(), any::<u16>()));
    let extras = prop::sample::subsequence(
        vec![
            "tcptype active",
            "tcptype passive",
            "generation 0",
            "ufrag abcd",
            "network-id 1",
            "network-cost 10",
        ],
        0..4,
    );
    (
        prop::sample::select(vec!["", "candidate:"]),
        "[0-9a-zA-Z+/]{1,12}",
        1u16..3,
        prop::sample::select(vec!["udp", "UDP", "tcp"]),
        any::<u32>(),
        address,
        any::<u16>(),
        typ,
        related,
        extras,
    )
        .prop_map(
            |(
                prefix,
                foundation,
                component,
                proto,
                priority,
                address,
                port,
                typ,
                related,
                extras,
            )| {
                let mut s = format!(
                    "{prefix}{foundation} {component} {proto} {priority} {address} {port} typ {typ}"
                );
                if let Some((ip, port)) = related {
                    s.push_str(&format!(" raddr {ip} rport {port}"));
                }
                for e in extras {
                    s.push(' ');
                    s.push_str(e);
                }
                s
            },
        )
}

proptest! {
    /// Trickled candidates (the `candidate` string of a client's
    /// `RTCIceCandidateInit`) through the stack's candidate parser, as
    /// `add_remote_candidate` calls it, and the stack writing a candidate
    /// it took: no panic. (Written out, a candidate does not always read
    /// back: an `srflx` one without `raddr` comes out as `raddr  rport 0`,
    /// which the parser refuses. The server never sends a client's
    /// candidates anywhere, so that is not asserted here.)
    #[test]
    fn ice_candidates_from_any_text(
        text in prop_oneof![
            3 => candidate_text(),
            5 => (candidate_text(), vec(mutation(), 1..4))
                .prop_map(|(c, ms)| String::from_utf8_lossy(&mutate(c.into_bytes(), &ms)).into_owned()),
            1 => any::<String>(),
        ],
    ) {
        let value = text.strip_prefix("candidate:").unwrap_or(&text);
        if value.is_empty() {
            return Ok(());
        }
        if let Ok(candidate) = rtc::ice::candidate::unmarshal_candidate(value) {
            let written = candidate.marshal();
            let _ = rtc::ice::candidate::unmarshal_candidate(&written);
        }
    }
}

// --------------------------------------------------------------------- SDP

/// SDP from a grammar: the session lines in their order, then m-sections
/// with the attributes offers carry, values sometimes wrong, and now and
/// then a line out of place.
fn sdp_grammar() -> impl Strategy<Value = String> {
    let num = || {
        prop_oneof![
            6 => (0u32..200).prop_map(|n| n.to_string()),
            1 => any::<u64>().prop_map(|n| n.to_string()),
            1 => prop::sample::select(vec!["-1", "", "x", "1.5", "99999999999999999999", "256"])
                .prop_map(str::to_string),
        ]
    };
    let token = || "[a-zA-Z0-9_./+-]{0,12}";
    let attribute = prop_oneof![
        3 => (num(), prop::sample::select(vec![
            "opus/48000/2", "VP8/90000", "H264/90000", "rtx/90000", "red/48000/2", "x", "/", "a/b/c/d", "VP8/x",
        ])).prop_map(|(pt, codec)| format!("a=rtpmap:{pt} {codec}")),
        1 => (num(), token()).prop_map(|(pt, v)| format!("a=fmtp:{pt} apt={v};profile-level-id=42e01f;packetization-mode=1")),
        1 => (num(), prop::sample::select(vec!["nack", "nack pli", "ccm fir", "goog-remb", "transport-cc", ""]))
            .prop_map(|(pt, fb)| format!("a=rtcp-fb:{pt} {fb}")),
        2 => (num(), prop::sample::select(vec![
            "urn:ietf:params:rtp-hdrext:ssrc-audio-level",
            "urn:3gpp:video-orientation",
            "urn:ietf:params:rtp-hdrext:sdes:mid",
            "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id",
            "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
            "",
        ]), prop::sample::select(vec!["", "/sendrecv", "/recvonly", "/x"]))
            .prop_map(|(id, uri, dir)| format!("a=extmap:{id}{dir} {uri}")),
        1 => (num(), token()).prop_map(|(ssrc, v)| format!("a=ssrc:{ssrc} cname:{v}")),
        1 => (num(), num()).prop_map(|(a, b)| format!("a=ssrc-group:FID {a} {b}")),
        1 => token().prop_map(|m| format!("a=mid:{m}")),
        1 => candidate_text().prop_map(|c| {
            format!("a={}", if c.starts_with("candidate:") { c } else { format!("candidate:{c}") })
        }),
        4 => prop::sample::select(vec![
            "a=sendrecv", "a=sendonly", "a=recvonly", "a=inactive", "a=rtcp-mux", "a=rtcp-rsize",
            "a=setup:actpass", "a=setup:active", "a=setup:passive", "a=setup:x", "a=end-of-candidates",
            "a=ice-ufrag:abcd", "a=ice-pwd:abcdefghijklmnopqrstuvwx", "a=ice-options:trickle",
            "a=fingerprint:sha-256 75:74:5A:A6:A4:E5:52:F4:A7:67:4C:01:C7:EE:91:3F:21:3D:A2:E3:53:7B:6F:30:86:F2:30:AA:65:FB:04:24",
            "a=fingerprint:sha-1 00", "a=fingerprint:", "a=rid:h send", "a=rid:l send max-width=320",
            "a=rid:", "a=simulcast:send h;l", "a=simulcast:recv ~h", "a=simulcast:", "a=sctp-port:5000",
            "a=max-message-size:262144", "a=msid:s t", "a=", "a=rtcp:9 IN IP4 0.0.0.0", "a=rtcp:x",
            "a=extmap-allow-mixed", "a=ice-lite", "a=group:BUNDLE 0 1", "a=group:BUNDLE", "b=AS:1000",
            "b=TIAS:x", "i=info", "c=IN IP4 0.0.0.0", "c=IN IP6 ::", "c=IN", "c=IN IP4 224.2.1.1/127/3",
        ]).prop_map(str::to_string),
    ];
    let session = (
        num(),
        prop::sample::select(vec![
            "", "i=info\r\n", "u=http://x\r\n", "e=a@b\r\n", "p=+1\r\n", "c=IN IP4 0.0.0.0\r\n",
            "b=AS:1000\r\n",
        ]),
        (num(), num()),
        prop::sample::select(vec!["", "r=7d 1h 0 25h\r\n", "z=0 0\r\n", "k=clear:x\r\n", "r=x\r\n"]),
        vec(attribute.clone(), 0..5),
    )
        .prop_map(|(version, extra, (start, stop), timing, attrs)| {
            let mut out = format!("v=0\r\no=- {version} 2 IN IP4 127.0.0.1\r\ns=-\r\n{extra}t={start} {stop}\r\n{timing}");
            for a in attrs {
                out.push_str(&a);
                out.push_str("\r\n");
            }
            out
        });
    let media = (
        prop::sample::select(vec!["audio", "video", "application", "text", ""]),
        num(),
        prop::sample::select(vec!["UDP/TLS/RTP/SAVPF", "UDP/DTLS/SCTP", "RTP/AVP", ""]),
        vec(num(), 0..4),
        vec(attribute, 0..12),
    )
        .prop_map(|(kind, port, proto, fmts, attrs)| {
            let mut out = format!("m={kind} {port} {proto} {}\r\n", fmts.join(" "));
            for a in attrs {
                out.push_str(&a);
                out.push_str("\r\n");
            }
            out
        });
    (
        session,
        vec(media, 0..4),
        any::<bool>(),
        prop::option::weighted(0.2, (any::<usize>(), "[ -~]{0,30}")),
    )
        .prop_map(|(session, media, crlf, junk)| {
            let mut text = session + &media.concat();
            if let Some((at, line)) = junk {
                let starts: Vec<usize> = text.match_indices("\r\n").map(|(i, _)| i + 2).collect();
                let at = starts.get(at % starts.len().max(1)).copied().unwrap_or(0);
                text.insert_str(at, &format!("{line}\r\n"));
            }
            if !crlf {
                text = text.replace("\r\n", "\n");
            }
            text
        })
}

proptest! {
    /// Grammar-built SDP through the stack's parser (what `parse_offer`
    /// and `accept_answer` call): no panic, and what it takes it writes
    /// out in a form it reads back.
    #[test]
    fn sdp_from_a_grammar(text in sdp_grammar()) {
        let _ = rtc::peer_connection::sdp::RTCSessionDescription::answer(text.clone());
        let parsed = rtc::sdp::SessionDescription::unmarshal(&mut std::io::Cursor::new(text.as_bytes()));
        if let Ok(sd) = parsed {
            let written = sd.marshal();
            let again = rtc::sdp::SessionDescription::unmarshal(&mut std::io::Cursor::new(written.as_bytes()));
            prop_assert!(again.is_ok(), "{:?}\n→ {:?}", text, written);
        }
    }
}

// ---------------------------------------------------------------- commands

const COMMANDS: &[&str] = &[
    "open",
    "start",
    "end",
    "connect",
    "disconnect",
    "leave",
    "set_representative",
    "start_roll_call",
    "confirm_roll_call",
    "close_roll_call",
    "request_floor",
    "cancel_floor_request",
    "grant_floor",
    "deny_floor",
    "revoke_floor",
    "release_floor",
    "reorder_queue",
    "set_mode",
    "set_speaking_limit",
    "set_muted",
    "request_content",
    "grant_content",
    "revoke_content",
    "release_content",
    "start_recording",
    "stop_recording",
    "recording_failed",
    "tick",
];
const FIELDS: &[&str] = &[
    "endpoint",
    "name",
    "title",
    "headcount",
    "deadline_secs",
    "request",
    "target",
    "topic",
    "order",
    "mode",
    "seconds",
    "auto_revoke",
    "muted",
    "id",
    "now",
];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        prop_oneof![0u64..5, Just(u64::from(u32::MAX) + 1), any::<u64>()].prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        prop_oneof![
            prop::sample::select(vec!["01", "30", "79", "lecture", "chaired", "open", ""])
                .prop_map(str::to_string),
            any::<String>(),
        ]
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(
                prop_oneof![
                    prop::sample::select(vec!["request", "endpoint", "x"]).prop_map(str::to_string),
                    "[a-z]{1,6}"
                ],
                inner,
                0..3
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    /// A command object with a known name and any of the known fields,
    /// each holding anything: a command that parses serializes to an
    /// object with the same name and parses back to itself (the socket's
    /// unknown-field check and the REST handlers rely on both).
    #[test]
    fn commands_from_any_fields(
        name in prop_oneof![prop::sample::select(COMMANDS).prop_map(str::to_string), "[a-z_]{0,12}"],
        fields in prop::collection::btree_map(prop::sample::select(FIELDS), json_value(), 0..4),
    ) {
        let mut object = serde_json::Map::new();
        object.insert("command".into(), json!(name));
        for (k, v) in fields {
            object.insert(k.to_string(), v);
        }
        let text = Value::Object(object).to_string();
        if let Ok(command) = serde_json::from_str::<Command>(&text) {
            prop_assert_eq!(command.name(), name.as_str());
            let written = serde_json::to_value(&command).expect("serializes");
            prop_assert_eq!(written.get("command").and_then(Value::as_str), Some(name.as_str()));
            let back: Command = serde_json::from_value(written).expect("reads back");
            prop_assert_eq!(back, command);
        }
    }
}

// ------------------------------------------------------------ client stats

/// A figure as a page writes it (integer or decimal), sometimes out of
/// range, sometimes of the wrong type.
fn figure(integer: bool) -> impl Strategy<Value = Value> {
    let good = if integer {
        prop_oneof![4 => (0u64..100_000).prop_map(Value::from), 1 => any::<u64>().prop_map(Value::from)].boxed()
    } else {
        prop_oneof![
            4 => (0f64..2000.0).prop_map(Value::from),
            1 => (0u64..100_000).prop_map(Value::from),
            1 => any::<f64>().prop_map(Value::from),
        ]
        .boxed()
    };
    prop_oneof![
        80 => good,
        1 => any::<i64>().prop_map(Value::from),
        1 => Just(Value::Null),
        1 => Just(json!("12")),
        1 => Just(json!(1.5)),
    ]
}

const FIGURES: &[(&str, bool)] = &[
    ("bytes", true),
    ("bitrate", false),
    ("packets_lost", true),
    ("packets", true),
    ("jitter_ms", false),
    ("jitter_buffer_ms", false),
    ("frames_per_second", false),
    ("width", true),
    ("height", true),
    ("frames_decoded", true),
    ("concealed_samples", true),
    ("total_samples", true),
];

const OUT_FIGURES: &[(&str, bool)] = &[
    ("bytes", true),
    ("bitrate", false),
    ("frames_per_second", false),
    ("width", true),
    ("height", true),
];

/// One stream of a report, received (`inbound`) or sent.
fn stream(inbound: bool) -> impl Strategy<Value = Value> {
    let all = if inbound { FIGURES } else { OUT_FIGURES };
    let figures = prop::sample::subsequence(all, 0..=all.len()).prop_flat_map(|keys| {
        let values: Vec<_> = keys.iter().map(|(_, integer)| figure(*integer)).collect();
        (Just(keys), values)
    });
    (
        prop_oneof![4 => Just("audio"), 4 => Just("video"), 1 => Just("data")],
        figures,
        prop::option::of(prop_oneof![4 => "[0-9]{1,2}", 1 => "[ -~]{0,70}", 1 => any::<String>()]),
    )
        .prop_map(move |(kind, (keys, values), mid)| {
            let mut o = serde_json::Map::new();
            o.insert("kind".into(), json!(kind));
            if let Some(mid) = mid {
                o.insert("mid".into(), json!(mid));
            }
            for ((k, _), v) in keys.into_iter().zip(values) {
                o.insert(k.to_string(), v);
            }
            Value::Object(o)
        })
}

fn stats_json() -> impl Strategy<Value = Vec<u8>> {
    (
        (
            figure(false),
            figure(false),
            figure(false),
            prop_oneof![3 => (0f64..1.0).prop_map(Value::from), 1 => figure(false)],
        ),
        prop::option::of(prop_oneof!["[a-z]{0,8}", any::<String>()]),
        vec(stream(true), 0..6),
        vec(stream(false), 0..3),
    )
        .prop_map(|(n, candidate_type, inbound, outbound)| {
            serde_json::to_vec(&json!({
                "rtt_ms": n.0, "bitrate_in": n.1, "bitrate_out": n.2, "loss": n.3,
                "candidate_type": candidate_type, "inbound": inbound, "outbound": outbound,
            }))
            .expect("serializes")
        })
}

proptest! {
    /// The page's stats report from generated, mutated and random JSON:
    /// a report that passes the checks gives figures within the same
    /// bounds (frame rate, resolution, jitter buffer), and a concealment
    /// share that is finite and not negative whatever the previous report
    /// (at most 100 % against none).
    #[test]
    fn client_stats_from_any_json(
        bytes in prop_oneof![3 => stats_json(), 2 => around(stats_json())],
        previous in prop::option::of(any::<(u64, u64)>()),
    ) {
        let Ok(stats) = serde_json::from_slice::<ClientStats>(&bytes) else {
            return Ok(());
        };
        if stats.validate().is_err() {
            return Ok(());
        }
        for previous in [None, previous] {
            let f = stats.figures(previous);
            if let Some(rate) = f.frame_rate {
                prop_assert!((0.0..=1000.0).contains(&rate));
            }
            if let Some((w, h)) = f.resolution {
                prop_assert!(w > 0 && h > 0 && w <= 16_384 && h <= 16_384);
            }
            if let Some(ms) = f.jitter_buffer_ms {
                prop_assert!((0.0..=600_000.0).contains(&ms));
            }
            if let Some(pct) = f.concealed_audio_pct {
                prop_assert!(pct.is_finite() && pct >= 0.0, "{}", pct);
                if previous.is_none() {
                    prop_assert!(pct <= 100.0, "{}", pct);
                }
            }
        }
    }
}

// -------------------------------------------------------------------- STUN

/// A STUN request with a few attributes of the kinds ICE uses.
fn stun_message() -> impl Strategy<Value = Vec<u8>> {
    let kind = prop_oneof![
        Just(0x0006u16), // USERNAME
        Just(0x0008),    // MESSAGE-INTEGRITY
        Just(0x8028),    // FINGERPRINT
        Just(0x0020),    // XOR-MAPPED-ADDRESS
        Just(0x0024),    // PRIORITY
        Just(0x0025),    // USE-CANDIDATE
        Just(0x802A),    // ICE-CONTROLLING
        any::<u16>(),
    ];
    let value = prop_oneof![
        vec(any::<u8>(), 0..24),
        vec(any::<u8>(), 20..=20),
        vec(any::<u8>(), 4..=4)
    ];
    (any::<u16>(), vec((kind, value), 0..5)).prop_map(|(class, attrs)| {
        let mut body = Vec::new();
        for (kind, value) in attrs {
            body.extend_from_slice(&kind.to_be_bytes());
            body.extend_from_slice(&(value.len() as u16).to_be_bytes());
            body.extend_from_slice(&value);
            body.resize(body.len().div_ceil(4) * 4, 0);
        }
        let mut m = (class & 0x3FFF).to_be_bytes().to_vec();
        m.extend_from_slice(&(body.len() as u16).to_be_bytes());
        m.extend_from_slice(&[0x21, 0x12, 0xA4, 0x42]);
        m.extend_from_slice(&[9; 12]);
        m.extend_from_slice(&body);
        m
    })
}

proptest! {
    /// Any datagram through the stack's STUN decoder (the ICE agent reads
    /// every request the router hands it), then what the agent reads from
    /// a message it takes: its attributes, the fingerprint and the
    /// MESSAGE-INTEGRITY check. No panic.
    #[test]
    fn stun_from_any_bytes(bytes in around(stun_message())) {
        let _ = rtc::stun::message::is_stun_message(&bytes);
        let mut m = rtc::stun::message::Message::new();
        if m.unmarshal_binary(&bytes).is_ok() {
            use rtc::stun::attributes::*;
            for t in [ATTR_USERNAME, ATTR_MESSAGE_INTEGRITY, ATTR_FINGERPRINT, ATTR_XORMAPPED_ADDRESS,
                      ATTR_PRIORITY, ATTR_ICE_CONTROLLING, ATTR_USE_CANDIDATE] {
                let _ = m.get(t);
            }
            let _ = rtc::stun::textattrs::TextAttribute::get_from_as(&m, ATTR_USERNAME);
            let mut xor = rtc::stun::xoraddr::XorMappedAddress::default();
            let _ = xor.get_from_as(&m, ATTR_XORMAPPED_ADDRESS);
            let _ = rtc::stun::fingerprint::FINGERPRINT.check(&m);
            if let Ok(provider) = rtc::crypto::default_provider() {
                let _ = rtc::stun::integrity::MessageIntegrity::check(&mut m, b"password", provider.crypto());
            }
        }
    }
}

#[test]
fn the_rtcp_seeds_parse() {
    for raw in [
        vec![
            0x81u8, 205, 0, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0x00, 0x10, 0x00, 0x01,
        ],
        vec![0x81, 203, 0, 1, 0, 0, 0, 1],
        vec![0x81, 202, 0, 3, 0, 0, 0, 1, 1, 3, b'a', b'b', b'c', 0, 0, 0],
        vec![0x80, 204, 0, 2, 0, 0, 0, 1, b'n', b'a', b'm', b'e'],
    ] {
        let mut buf = Bytes::from(raw.clone());
        assert!(rtc::rtcp::packet::unmarshal(&mut buf).is_ok(), "{raw:?}");
    }
}
