//! The WebSocket's messages, tagged by `type`.
//!
//! Both enums are open for more variants: the media plane adds its
//! signaling (`offer`, `answer`, `candidate`, `stats`) as new variants here
//! and a branch in the dispatcher, without touching the rest.

use crate::config::IceServer;
use crate::control::{Command, EndpointCode, Event, SessionId};
use crate::http::view::SessionView;
use crate::media::TrackInfo;
use serde::{Deserialize, Serialize};

/// What a client sends.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientMessage {
    /// A control command, answered `ok` or `error` with the same `id`.
    Command {
        /// The client's id for the answer.
        id: String,
        /// The same command as control's (and REST's), same role checks.
        command: Command,
    },
    /// Renews the socket's token while it is still valid: answered `token`
    /// (the same claims, good for as long as the original was, at most
    /// 12 h, from now), and the socket is held to the new expiry. A socket
    /// whose token runs out without this is sent `token_expired` and closed.
    Refresh {
        /// The client's id for the answer.
        id: String,
    },
    /// Keep-alive; answered `pong`.
    Ping {
        /// Echoed back when given.
        #[serde(default)]
        id: Option<String>,
    },
    /// The client's SDP offer: starts (or restarts) its media; answered
    /// `answer`, then `tracks`.
    Offer {
        /// The SDP.
        sdp: String,
    },
    /// The client's answer to a server `offer`.
    Answer {
        /// The SDP.
        sdp: String,
    },
    /// A trickled client candidate (`RTCIceCandidateInit`).
    Candidate {
        /// The candidate object as the browser gives it.
        candidate: serde_json::Value,
    },
    /// Asks for an ICE restart: a server `offer` with new credentials follows.
    IceRestart {},
    /// A technician's console names the sites whose tiles it shows; only
    /// those carry media to it from now on (until it says, every tile, as
    /// the chair gets). Not answered unless refused.
    Watch {
        /// Site codes from the registry; empty for none.
        endpoints: Vec<EndpointCode>,
    },
    /// The page's `getStats` summary, every 2 s, about this socket's peer
    /// connection; kept for the monitor, not answered unless refused.
    Stats {
        /// The summary, checked field by field.
        stats: crate::monitor::ClientStats,
    },
}

/// What the server sends.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// First message: who the server thinks the client is.
    Welcome {
        /// The token's role.
        role: crate::auth::Role,
        /// The endpoint, for endpoint (and chair) tokens.
        endpoint: Option<EndpointCode>,
        /// The session this socket follows; none when there is none yet.
        session: Option<SessionId>,
        /// STUN/TURN servers for the page's `RTCPeerConnection`.
        ice_servers: Vec<IceServer>,
        /// The thresholds links are graded by (`[health]`), so a site's own
        /// quality indicator agrees with the technicians' console.
        health: Box<crate::monitor::Thresholds>,
        /// The bit rate and frame rate a page gives its presentation.
        presentation: crate::media::Presentation,
    },
    /// The session's state as the role may see it; events with a higher
    /// `seq` follow. Sent again if the client fell behind.
    Snapshot {
        /// The state's sequence number (events so far).
        seq: u64,
        /// The state.
        session: SessionView,
    },
    /// One change of state.
    Event {
        /// Its sequence number within the session.
        seq: u64,
        /// The event.
        event: Event,
    },
    /// A command succeeded.
    Ok {
        /// The client's id.
        id: String,
        /// The session's sequence number after it.
        seq: u64,
    },
    /// Answer to `refresh`: the new token, for the page to use from now on
    /// (reconnects and REST calls too).
    Token {
        /// The client's id.
        id: String,
        /// The new token.
        token: String,
        /// When it expires, seconds since the UNIX epoch.
        expires_at: u64,
    },
    /// A message was refused or failed.
    Error {
        /// The client's id, when the message had one.
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        /// A stable code (the same codes as REST errors).
        error: String,
        /// A sentence for people.
        message: String,
    },
    /// The server's answer to the client's `offer`.
    Answer {
        /// The SDP (complete: it carries the server's candidate).
        sdp: String,
    },
    /// A server-initiated offer (new tiles, ICE restart); answer it.
    Offer {
        /// The SDP.
        sdp: String,
    },
    /// A server candidate (`RTCIceCandidateInit`).
    Candidate {
        /// The candidate object.
        candidate: serde_json::Value,
    },
    /// Which m-line carries which slot and endpoint; sent whenever that
    /// changes.
    Tracks {
        /// One entry per outgoing line.
        tracks: Vec<TrackInfo>,
    },
    /// Another connection of the same site took over (a second page or
    /// device); this page's connection is closed. It reconnects only when
    /// its user asks, by sending a new offer.
    Replaced,
    /// A link monitoring event (alerts, health, link tests); chair and
    /// technician sockets only.
    Monitor {
        /// The event.
        event: crate::monitor::MonitorEvent,
    },
    /// Answer to `ping`.
    Pong {
        /// The ping's id.
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<String>,
    },
}

impl ServerMessage {
    /// An error reply.
    pub fn error(id: Option<String>, error: &str, message: impl Into<String>) -> Self {
        ServerMessage::Error {
            id,
            error: error.to_string(),
            message: message.into(),
        }
    }
}

/// Property-based fuzzing of the client's WebSocket messages: arbitrary
/// bytes and text, and real messages with bytes flipped, inserted and
/// deleted, through `serde` and through what the socket does with a parsed
/// message. The case count is proptest's (256, or `PROPTEST_CASES`; see the
/// README for the long run).
#[cfg(test)]
mod fuzz {
    use super::*;
    use proptest::collection::vec;
    use proptest::prelude::*;

    /// Messages the pages send (and a few they could).
    const SEEDS: &[&str] = &[
        r#"{"type":"ping"}"#,
        r#"{"type":"ping","id":"p-1"}"#,
        r#"{"type":"ice_restart"}"#,
        r#"{"type":"command","id":"c1","command":{"command":"open"}}"#,
        r#"{"type":"command","id":"c2","command":{"command":"grant_floor","target":{"request":3}}}"#,
        r#"{"type":"command","id":"c3","command":{"command":"grant_floor","target":{"endpoint":"30"}}}"#,
        r#"{"type":"command","id":"c4","command":{"command":"set_representative","endpoint":"01","name":"Nguyễn Văn A","title":"Phó Chủ tịch UBND tỉnh","headcount":12}}"#,
        r#"{"type":"command","id":"c5","command":{"command":"reorder_queue","order":[3,1,2]}}"#,
        r#"{"type":"command","id":"c6","command":{"command":"set_speaking_limit","seconds":180,"auto_revoke":true}}"#,
        r#"{"type":"command","id":"c7","command":{"command":"set_mode","mode":"chaired"}}"#,
        r#"{"type":"command","id":"c8","command":{"command":"request_floor","endpoint":"30","topic":"Giải ngân"}}"#,
        r#"{"type":"command","id":"c9","command":{"command":"start_roll_call","deadline_secs":null}}"#,
        r#"{"type":"command","id":"c10","command":{"command":"set_muted","endpoint":"30","muted":true}}"#,
        r#"{"type":"command","id":"c11","command":{"command":"request_content","endpoint":"30"}}"#,
        r#"{"type":"command","id":"c12","command":{"command":"grant_content","endpoint":"31"}}"#,
        r#"{"type":"command","id":"c13","command":{"command":"revoke_content","endpoint":null}}"#,
        r#"{"type":"command","id":"c14","command":{"command":"release_content","endpoint":"30"}}"#,
        r#"{"type":"offer","sdp":"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\n"}"#,
        r#"{"type":"answer","sdp":"v=0\r\n"}"#,
        r#"{"type":"candidate","candidate":{"candidate":"candidate:1 1 udp 2130706431 192.0.2.1 5000 typ host","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"abcd"}}"#,
        r#"{"type":"candidate","candidate":{"candidate":"","sdpMid":null}}"#,
        r#"{"type":"watch","endpoints":["01","30","79"]}"#,
        r#"{"type":"stats","stats":{"rtt_ms":12.5,"candidate_type":"host","bitrate_in":1200000,"loss":0.01,"inbound":[{"kind":"video","mid":"1","slot":"floor","endpoint":"30","bytes":123456,"frames_per_second":29.97,"width":1280,"height":720,"packets_lost":-1}],"outbound":[{"kind":"audio","mid":"0","bitrate":32000}]}}"#,
    ];

    /// Fragments that break naive JSON handling.
    const TOKENS: &[&str] = &[
        "\"",
        "\\",
        "\\u",
        "\\ud800",
        "\\udc00\\ud800",
        "\\u0000",
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        "null",
        "true",
        "-0",
        "1e999",
        "-1e999",
        "18446744073709551616",
        "-9223372036854775809",
        "0.1e-400",
        "NaN",
        "\"type\"",
        "\"command\"",
        "\"id\"",
        "\"sdp\"",
        "\"stats\"",
        "\"type\":\"command\",",
        "{\"command\":\"tick\"}",
        "é",
        "💥",
        "\u{feff}",
        " ",
        "\t\n",
    ];

    #[derive(Debug, Clone)]
    enum Mutation {
        Flip(usize, u8),
        Insert(usize, u8),
        Delete(usize, usize),
        Splice(usize, &'static str),
        Repeat(usize, usize),
    }

    fn mutation() -> impl Strategy<Value = Mutation> {
        prop_oneof![
            3 => (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
            2 => (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
            2 => (any::<usize>(), 1usize..12).prop_map(|(i, n)| Mutation::Delete(i, n)),
            3 => (any::<usize>(), prop::sample::select(TOKENS)).prop_map(|(i, t)| Mutation::Splice(i, t)),
            1 => (any::<usize>(), 1usize..24).prop_map(|(i, n)| Mutation::Repeat(i, n)),
        ]
    }

    fn mutate(seed: &str, mutations: &[Mutation]) -> Vec<u8> {
        let mut bytes = seed.as_bytes().to_vec();
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
                Mutation::Splice(i, t) => {
                    let i = at(i, bytes.len());
                    bytes.splice(i..i, t.bytes());
                }
                Mutation::Repeat(i, n) => {
                    // A chunk written again: duplicate keys, doubled brackets.
                    let start = at(i, bytes.len());
                    let end = (start + n).min(bytes.len());
                    let chunk = bytes[start..end].to_vec();
                    bytes.splice(end..end, chunk);
                }
            }
        }
        bytes
    }

    /// Valid messages with some fields' values replaced by anything.
    fn reshaped() -> impl Strategy<Value = Vec<u8>> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<u64>().prop_map(serde_json::Value::from),
            any::<f64>().prop_map(serde_json::Value::from),
            any::<String>().prop_map(serde_json::Value::from),
        ];
        let value = leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
                prop::collection::btree_map("[a-z_]{1,12}", inner, 0..6)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        });
        (
            prop::sample::select(SEEDS),
            vec((any::<usize>(), value), 1..4),
        )
            .prop_map(|(seed, edits)| {
                let mut message: serde_json::Value =
                    serde_json::from_str(seed).expect("seeds parse");
                for (i, v) in edits {
                    // Replace the i-th value found walking the message.
                    let mut n = i % 16;
                    replace_nth(&mut message, &mut n, v);
                }
                serde_json::to_vec(&message).expect("values serialize")
            })
    }

    fn replace_nth(at: &mut serde_json::Value, n: &mut usize, with: serde_json::Value) -> bool {
        if *n == 0 {
            *at = with;
            return true;
        }
        *n -= 1;
        match at {
            serde_json::Value::Object(map) => {
                for (_, v) in map.iter_mut() {
                    if replace_nth(v, n, with.clone()) {
                        return true;
                    }
                }
                false
            }
            serde_json::Value::Array(items) => {
                for v in items.iter_mut() {
                    if replace_nth(v, n, with.clone()) {
                        return true;
                    }
                }
                false
            }
            _ => false,
        }
    }

    fn client_bytes() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            4 => (prop::sample::select(SEEDS), vec(mutation(), 1..6))
                .prop_map(|(seed, ms)| mutate(seed, &ms)),
            2 => reshaped(),
            1 => vec(any::<u8>(), 0..256),
            1 => any::<String>().prop_map(String::into_bytes),
            1 => (1usize..2000, any::<bool>()).prop_map(|(depth, objects)| {
                // Deep nesting where the candidate object goes.
                let (open, close) = if objects { ("{\"a\":", "}") } else { ("[", "]") };
                let mut s = String::from(r#"{"type":"candidate","candidate":"#);
                s.push_str(&open.repeat(depth));
                s.push('1');
                s.push_str(&close.repeat(depth));
                s.push('}');
                s.into_bytes()
            }),
        ]
    }

    /// What the socket does with a message after `serde` (see
    /// `socket::parse` and the dispatch): the reply's id, the
    /// unknown-field check (which serializes the command back), the
    /// stats check, and the candidate as the media plane reads it.
    fn follow_socket(text: &str) -> Result<(), TestCaseError> {
        let Ok(value) = serde_json::from_str::<serde_json::Value>(text) else {
            return Ok(());
        };
        let id = value.get("id").and_then(|v| v.as_str()).map(str::to_string);
        let message = match serde_json::from_value::<ClientMessage>(value.clone()) {
            Ok(message) => message,
            Err(e) => {
                let reply = ServerMessage::error(id, "invalid_message", e.to_string());
                prop_assert!(serde_json::to_string(&reply).is_ok());
                return Ok(());
            }
        };
        match message {
            ClientMessage::Command { command, .. } => {
                let known = serde_json::to_value(&command);
                prop_assert!(known.as_ref().is_ok_and(|k| k.is_object()), "{known:?}");
                let back: Command = serde_json::from_value(known.unwrap()).expect("round trip");
                prop_assert_eq!(&back, &command);
                let _ = value["command"].as_object().map(|o| o.len());
                prop_assert!(!command.name().is_empty());
            }
            ClientMessage::Stats { stats } => {
                if stats.validate().is_ok() {
                    let figures = stats.figures(None);
                    if let Some(pct) = figures.concealed_audio_pct {
                        prop_assert!((0.0..=100.0).contains(&pct), "{pct}");
                    }
                }
            }
            ClientMessage::Candidate { candidate } => {
                let json = candidate.to_string();
                if let Ok(init) = serde_json::from_str::<
                    rtc::peer_connection::transport::RTCIceCandidateInit,
                >(&json)
                {
                    let value = init
                        .candidate
                        .strip_prefix("candidate:")
                        .unwrap_or(&init.candidate);
                    if !value.is_empty() {
                        let _ = rtc::ice::candidate::unmarshal_candidate(value);
                    }
                }
            }
            ClientMessage::Offer { sdp } | ClientMessage::Answer { sdp } => {
                let _ = rtc::peer_connection::sdp::RTCSessionDescription::offer(sdp);
            }
            ClientMessage::Ping { .. }
            | ClientMessage::Refresh { .. }
            | ClientMessage::IceRestart {}
            | ClientMessage::Watch { .. } => {}
        }
        Ok(())
    }

    #[test]
    fn every_seed_parses() {
        for seed in SEEDS {
            let parsed = serde_json::from_str::<ClientMessage>(seed);
            assert!(parsed.is_ok(), "{seed}: {parsed:?}");
        }
    }

    proptest! {
        /// Arbitrary and mutated bytes: `from_slice` answers Ok or Err;
        /// so does the text path, and what the socket does next.
        #[test]
        fn client_messages_parse_without_panic(bytes in client_bytes()) {
            let _ = serde_json::from_slice::<ClientMessage>(&bytes);
            if let Ok(text) = std::str::from_utf8(&bytes) {
                let direct = serde_json::from_str::<ClientMessage>(text);
                follow_socket(text)?;
                // A message that parses straight from the text parses the
                // socket's way (through a `Value`) too.
                if direct.is_ok() {
                    let value: serde_json::Value = serde_json::from_str(text).expect("valid JSON");
                    let via_value = serde_json::from_value::<ClientMessage>(value);
                    prop_assert!(via_value.is_ok(), "{text}: {via_value:?}");
                }
            }
        }
    }
}
