//! Signaling: creating, renegotiating and removing peer connections.
//! Part of the media task ([`Sfu`]).

use super::{Sfu, SfuEvent};
use crate::engine::{build_peer, Client};
use crate::peer::{video_codec_for, Peer};
use crate::router::SlotKind;
use crate::sdp::with_candidates_everywhere;
use crate::{LinkEvent, MediaError, Owner, PeerId, PeerKind, Signal, SignalPath};
use diemcau_control::SessionId;
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::transport::RTCIceCandidateInit;
use rtc::sansio::Protocol;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

/// How a peer leaves, and so which link event (if any) it raises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Removal {
    /// Closed on request (WHIP DELETE, a client that left): `Closed`.
    Closed,
    /// Its signaling vanished: `Lost`, if its link was up.
    Lost,
    /// Replaced or reaped: nothing (its state was already reported).
    Quiet,
}

impl Sfu {
    pub(super) fn accept_offer(
        &mut self,
        session: SessionId,
        kind: PeerKind,
        offer: &str,
        (path, owner): (SignalPath, Option<Owner>),
        now: Instant,
    ) -> Result<(PeerId, String), MediaError> {
        let previous = match &kind {
            PeerKind::Participant(code) => self
                .sessions
                .get(&session)
                .and_then(|s| s.publishers.get(code))
                .copied(),
            PeerKind::Viewer | PeerKind::Technician => None,
        };
        if let (Some(_), SignalPath::Http, PeerKind::Participant(code)) = (previous, path, &kind) {
            return Err(MediaError::AlreadyPublishing(code.clone()));
        }
        // A site holds one connection however it signals (the newest
        // replaces the older), so only viewers and technicians count
        // against their token.
        let owner = owner.filter(|_| !matches!(kind, PeerKind::Participant(_)));
        self.admit(&session, &kind, owner, previous.is_some())?;
        check_media_lines(offer, self.limits.media_lines)?;
        let video_mime = video_codec_for(offer);
        let (offer, remote_candidates) = parse_offer(offer)?;
        if remote_candidates.len() > self.limits.candidates {
            return Err(too_many_candidates(self.limits.candidates));
        }
        let id = PeerId::random();
        let client = match kind {
            PeerKind::Participant(_) => Client::Publishes,
            PeerKind::Viewer | PeerKind::Technician => Client::OnlyReceives,
        };
        let mut pc = build_peer(
            &self.candidates,
            self.tcp,
            self.consent_timeout,
            client,
            now,
        )?;
        pc.set_remote_description(now, offer)
            .map_err(MediaError::stack)?;
        let mut peer = Peer::new(id, session.clone(), kind.clone(), pc, video_mime, now);
        peer.path = path;
        peer.owner = owner;
        peer.remote_candidates = remote_candidates;
        // The site stays connected through the swap: the successor inherits
        // the reported state, and reports a loss if it never comes up.
        if let Some(old) = previous.and_then(|p| self.peers.get(&p)) {
            if old.up {
                peer.up = true;
                peer.down_since = Some(now);
            }
        }
        peer.add_slot(SlotKind::Chair)?;
        peer.add_slot(SlotKind::Floor)?;
        // On the client's third video line when it offered one (pages do,
        // from the start, so content comes and goes with no renegotiation);
        // a client with fewer lines simply gets no content.
        peer.add_slot(SlotKind::Content)?;
        let answer = peer.pc.create_answer(None).map_err(MediaError::stack)?;
        peer.pc
            .set_local_description(now, answer)
            .map_err(MediaError::stack)?;
        let sdp = local_sdp(&peer.pc)?;
        peer.refresh_legs();
        let ufrag = peer
            .local_ufrag()
            .ok_or_else(|| MediaError::InvalidState("no ICE ufrag in the answer".into()))?;
        self.demux.register_ufrag(&ufrag, id);
        let state = self.sessions.entry(session.clone()).or_default();
        if let PeerKind::Participant(code) = &kind {
            state.publishers.insert(code.clone(), id);
        }
        self.peers.insert(id, peer);
        self.dirty.insert(id);
        if let Some(old) = previous {
            tracing::info!(peer = %old, successor = %id, "peer replaced");
            // Full or gone, the page learns it anyway: its connection
            // stops answering.
            self.emit(SfuEvent::Signal(old, Signal::Replaced));
            self.remove_peer(old, Removal::Quiet, now);
        }
        self.ensure_tiles(&session);
        self.rebuild_routes(&session, now);
        tracing::info!(peer = %id, %session, ?kind, "peer accepted");
        Ok((id, sdp))
    }

    pub(super) fn accept_answer(
        &mut self,
        id: PeerId,
        sdp: String,
        now: Instant,
    ) -> Result<(), MediaError> {
        let peer = self.peers.get_mut(&id).ok_or(MediaError::UnknownPeer)?;
        if !peer.offer_outstanding {
            return Err(MediaError::InvalidState("no offer outstanding".into()));
        }
        let answer = RTCSessionDescription::answer(sdp).map_err(|e| MediaError::Malformed {
            what: "SDP answer",
            detail: e.to_string(),
        })?;
        peer.pc
            .set_remote_description(now, answer)
            .map_err(MediaError::stack)?;
        peer.offer_outstanding = false;
        peer.refresh_legs();
        let session = peer.session.clone();
        self.dirty.insert(id);
        self.rebuild_routes(&session, now);
        Ok(())
    }

    pub(super) fn renegotiate(
        &mut self,
        id: PeerId,
        offer: &str,
        now: Instant,
    ) -> Result<String, MediaError> {
        let peer = self.peers.get_mut(&id).ok_or(MediaError::UnknownPeer)?;
        if peer.path == SignalPath::Http {
            return Err(MediaError::InvalidState(
                "a WHIP/WHEP peer cannot be renegotiated".into(),
            ));
        }
        // The server never yields in a glare: the client (the polite side)
        // rolls its offer back and answers ours.
        if peer.offer_outstanding {
            return Err(MediaError::InvalidState(
                "a server offer is outstanding; answer it first".into(),
            ));
        }
        let max_lines = self.limits.media_lines;
        let max_candidates = self.limits.candidates;
        check_media_lines(offer, max_lines)?;
        let (offer, candidates) = parse_offer(offer)?;
        if peer.remote_candidates.len() + candidates.len() > max_candidates {
            return Err(too_many_candidates(max_candidates));
        }
        peer.pc
            .set_remote_description(now, offer)
            .map_err(MediaError::stack)?;
        let answer = peer.pc.create_answer(None).map_err(MediaError::stack)?;
        peer.pc
            .set_local_description(now, answer)
            .map_err(MediaError::stack)?;
        let sdp = local_sdp(&peer.pc)?;
        peer.remote_candidates.extend(candidates);
        peer.refresh_legs();
        let session = peer.session.clone();
        // A restart the client started gives us new credentials too.
        if let Some(ufrag) = peer.local_ufrag() {
            self.demux.register_ufrag(&ufrag, id);
        }
        self.dirty.insert(id);
        self.rebuild_routes(&session, now);
        Ok(sdp)
    }

    pub(super) fn add_candidate(&mut self, id: PeerId, json: &str) -> Result<(), MediaError> {
        let peer = self.peers.get_mut(&id).ok_or(MediaError::UnknownPeer)?;
        let init: RTCIceCandidateInit =
            serde_json::from_str(json).map_err(|e| MediaError::Malformed {
                what: "candidate",
                detail: e.to_string(),
            })?;
        // End-of-candidates carries an empty candidate: nothing to add.
        if init.candidate.is_empty() {
            return Ok(());
        }
        if peer.remote_candidates.len() >= self.limits.candidates {
            return Err(too_many_candidates(self.limits.candidates));
        }
        check_component(&init.candidate)?;
        if let Some(known) = parse_candidate(&init.candidate) {
            peer.remote_candidates.push(known);
        }
        peer.pc
            .add_remote_candidate(init)
            .map_err(MediaError::stack)?;
        self.dirty.insert(id);
        Ok(())
    }

    pub(super) fn remove_known(
        &mut self,
        id: PeerId,
        how: Removal,
        now: Instant,
    ) -> Result<(), MediaError> {
        if !self.peers.contains_key(&id) {
            return Err(MediaError::UnknownPeer);
        }
        self.remove_peer(id, how, now);
        Ok(())
    }

    pub(super) fn remove_peer(&mut self, id: PeerId, how: Removal, now: Instant) {
        let Some(mut peer) = self.peers.remove(&id) else {
            return;
        };
        let reported = peer
            .endpoint()
            .filter(|e| self.is_publisher(&peer.session, e, id))
            .cloned();
        let _ = peer.pc.close();
        self.events.extend(peer.signal_events());
        self.events.push_back(SfuEvent::PeerRemoved(id));
        self.demux.forget(&id);
        self.dirty.remove(&id);
        self.egress.remove(&id);
        if let Some(state) = self.sessions.get_mut(&peer.session) {
            state.publishers.retain(|_, p| *p != id);
        }
        let session = peer.session.clone();
        match (how, reported) {
            (Removal::Closed, Some(endpoint)) => self.emit(SfuEvent::Link(LinkEvent::Closed {
                session,
                endpoint,
                peer: id,
            })),
            (Removal::Lost, Some(endpoint)) if peer.up => {
                self.emit(SfuEvent::Link(LinkEvent::Lost {
                    session,
                    endpoint,
                    peer: id,
                }))
            }
            _ => {}
        }
        self.rebuild_routes(&peer.session, now);
        tracing::info!(peer = %id, "peer removed");
        // Media routed to it is dropped; its close alert waits for the
        // shell's next egress.
        peer.outgoing.clear();
        self.closing.push(peer);
    }
}

impl Sfu {
    /// Whether a new connection of `kind` fits the limits. A site's second
    /// connection replaces its first, so it needs no room of its own.
    fn admit(
        &self,
        session: &SessionId,
        kind: &PeerKind,
        owner: Option<Owner>,
        replaces: bool,
    ) -> Result<(), MediaError> {
        if replaces {
            return Ok(());
        }
        let limits = &self.limits;
        if self.peers.len() >= limits.total {
            return Err(MediaError::TooMany(format!(
                "the server holds its limit of {} media connections",
                limits.total
            )));
        }
        let in_session = self.peers.values().filter(|p| p.session == *session);
        let (mut all, mut viewers) = (0, 0);
        for peer in in_session {
            all += 1;
            viewers += usize::from(peer.kind == PeerKind::Viewer);
        }
        if all >= limits.per_session {
            return Err(MediaError::TooMany(format!(
                "session {session} holds its limit of {} media connections",
                limits.per_session
            )));
        }
        if *kind == PeerKind::Viewer && viewers >= limits.viewers_per_session {
            return Err(MediaError::TooMany(format!(
                "session {session} holds its limit of {} viewers",
                limits.viewers_per_session
            )));
        }
        // Across sessions: an unbound token is one holder wherever it goes.
        if let Some(owner) = owner {
            let held = self.peers.values().filter(|p| p.owner == Some(owner));
            if held.count() >= limits.per_token {
                return Err(MediaError::TooMany(format!(
                    "this token holds its limit of {} media connections",
                    limits.per_token
                )));
            }
        }
        Ok(())
    }
}

fn check_media_lines(sdp: &str, max: usize) -> Result<(), MediaError> {
    let lines = sdp.lines().filter(|l| l.starts_with("m=")).count();
    if lines > max {
        return Err(MediaError::TooLarge(format!(
            "the offer has {lines} m-lines; at most {max} are taken"
        )));
    }
    Ok(())
}

fn too_many_candidates(max: usize) -> MediaError {
    MediaError::TooMany(format!("at most {max} ICE candidates per connection"))
}

/// The local description as sent to the client (see [`sdp`](super::sdp)).
fn local_sdp(pc: &rtc::peer_connection::RTCPeerConnection) -> Result<String, MediaError> {
    pc.local_description()
        .map(|d| with_candidates_everywhere(&d.sdp))
        .ok_or_else(|| MediaError::InvalidState("no local description".into()))
}

/// The type of the client candidate `addr` matches (`prflx` when it
/// matches none: the client reached us from an address it never signalled).
pub(super) fn candidate_type(known: &[(SocketAddr, String)], addr: SocketAddr) -> String {
    known
        .iter()
        .find(|(a, _)| *a == addr)
        .map_or_else(|| "prflx".to_string(), |(_, t)| t.clone())
}

/// A client's SDP offer, and the address and type of each candidate in it
/// (kept to tell a link's candidate type later).
fn parse_offer(
    sdp: &str,
) -> Result<(RTCSessionDescription, Vec<(SocketAddr, String)>), MediaError> {
    for line in sdp.lines().filter(|l| l.starts_with("a=candidate:")) {
        check_component(line)?;
    }
    let candidates = sdp
        .lines()
        .filter(|l| l.starts_with("a=candidate:"))
        .filter_map(parse_candidate)
        .collect();
    let offer =
        RTCSessionDescription::offer(sdp.to_string()).map_err(|e| MediaError::Malformed {
            what: "SDP offer",
            detail: e.to_string(),
        })?;
    Ok((offer, candidates))
}

/// Refuses a candidate whose component id is not 1-256: the stack derives
/// a priority of `256 - component` for one that names priority 0, which
/// overflows beyond (found by fuzzing; a debug build panics there). Only 1
/// (RTP) and 2 (RTCP) exist.
fn check_component(line: &str) -> Result<(), MediaError> {
    let line = line.trim().trim_start_matches("a=");
    let component = line.split_whitespace().nth(1);
    match component.map(str::parse::<u16>) {
        Some(Ok(1..=256)) | None => Ok(()),
        _ => Err(MediaError::Malformed {
            what: "candidate",
            detail: format!("component {} is not 1 or 2", component.unwrap_or_default()),
        }),
    }
}

/// Address and type of an `a=candidate` / `candidate:` line.
pub(super) fn parse_candidate(line: &str) -> Option<(SocketAddr, String)> {
    let line = line.trim().trim_start_matches("a=");
    let fields: Vec<&str> = line.split_whitespace().collect();
    if fields.len() < 8 || fields[6] != "typ" {
        return None;
    }
    let ip: IpAddr = fields[4].parse().ok()?;
    let port: u16 = fields[5].parse().ok()?;
    Some((SocketAddr::new(ip, port), fields[7].to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_candidate_component_outside_1_to_256_is_refused() {
        let line = |c: &str| format!("a=candidate:1 {c} udp 0 192.0.2.7 50123 typ host");
        assert!(check_component(&line("1")).is_ok());
        assert!(check_component(&line("2")).is_ok());
        for bad in ["0", "257", "65535", "99999", "x"] {
            assert!(check_component(&line(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn candidate_lines_give_address_and_type() {
        let line = "a=candidate:1 1 udp 2130706431 192.0.2.7 50123 typ host generation 0";
        let (addr, kind) = parse_candidate(line).unwrap();
        assert_eq!(addr, "192.0.2.7:50123".parse::<SocketAddr>().unwrap());
        assert_eq!(kind, "host");
        let known = vec![(addr, kind)];
        assert_eq!(candidate_type(&known, addr), "host");
        assert_eq!(
            candidate_type(&known, "192.0.2.7:1".parse::<SocketAddr>().unwrap()),
            "prflx"
        );
        assert!(parse_candidate("a=candidate:garbage").is_none());
    }
}

/// Property-based fuzzing of what a client's offer and candidates go
/// through: the readers here, the codec choice, and the stack's own SDP
/// parser and offer/answer on arbitrary and mutated offers. The case count
/// is proptest's (256, or `PROPTEST_CASES`; see the README for the long run).
#[cfg(test)]
mod fuzz {
    use super::*;
    use proptest::collection::vec;
    use proptest::prelude::*;
    use rtc::peer_connection::configuration::media_engine::{MIME_TYPE_H264, MIME_TYPE_VP8};
    use std::time::Duration;

    const FINGERPRINT: &str = "sha-256 75:74:5A:A6:A4:E5:52:F4:A7:67:4C:01:C7:EE:91:3F:\
21:3D:A2:E3:53:7B:6F:30:86:F2:30:AA:65:FB:04:24";

    /// A browser's first offer: audio and video (VP8, H.264, RTX), BUNDLE,
    /// candidates, SSRCs.
    fn browser_offer() -> String {
        format!(
            "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
a=group:BUNDLE 0 1\r\na=extmap-allow-mixed\r\na=msid-semantic: WMS stream\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 110\r\nc=IN IP4 0.0.0.0\r\n\
a=rtcp:9 IN IP4 0.0.0.0\r\n\
a=candidate:1467250027 1 udp 2122260223 192.168.0.196 46243 typ host generation 0 network-id 1\r\n\
a=candidate:435653019 1 udp 1686052607 198.51.100.7 46243 typ srflx raddr 192.168.0.196 rport 46243 generation 0\r\n\
a=candidate:2 1 tcp 1518280447 192.168.0.196 9 typ host tcptype active generation 0\r\n\
a=ice-ufrag:4ZcD\r\na=ice-pwd:2/1muCWoOi3uLifh0NuRHlQm\r\na=ice-options:trickle\r\n\
a=fingerprint:{FINGERPRINT}\r\na=setup:actpass\r\na=mid:0\r\n\
a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n\
a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\r\n\
a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\n\
a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\n\
a=sendrecv\r\na=msid:stream audio0\r\na=rtcp-mux\r\n\
a=rtpmap:111 opus/48000/2\r\na=rtcp-fb:111 transport-cc\r\na=fmtp:111 minptime=10;useinbandfec=1\r\n\
a=rtpmap:63 red/48000/2\r\na=fmtp:63 111/111\r\na=rtpmap:9 G722/8000\r\n\
a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:110 telephone-event/48000\r\n\
a=ssrc:1001 cname:abcd\r\na=ssrc:1001 msid:stream audio0\r\n\
m=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103\r\nc=IN IP4 0.0.0.0\r\n\
a=rtcp:9 IN IP4 0.0.0.0\r\n\
a=ice-ufrag:4ZcD\r\na=ice-pwd:2/1muCWoOi3uLifh0NuRHlQm\r\na=ice-options:trickle\r\n\
a=fingerprint:{FINGERPRINT}\r\na=setup:actpass\r\na=mid:1\r\n\
a=extmap:14 urn:ietf:params:rtp-hdrext:toffset\r\n\
a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\r\n\
a=extmap:13 urn:3gpp:video-orientation\r\n\
a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\n\
a=extmap:10 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id\r\n\
a=extmap:11 urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id\r\n\
a=sendrecv\r\na=msid:stream video0\r\na=rtcp-mux\r\na=rtcp-rsize\r\n\
a=rtpmap:96 VP8/90000\r\na=rtcp-fb:96 goog-remb\r\na=rtcp-fb:96 transport-cc\r\n\
a=rtcp-fb:96 ccm fir\r\na=rtcp-fb:96 nack\r\na=rtcp-fb:96 nack pli\r\n\
a=rtpmap:97 rtx/90000\r\na=fmtp:97 apt=96\r\n\
a=rtpmap:102 H264/90000\r\na=rtcp-fb:102 nack pli\r\n\
a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f\r\n\
a=rtpmap:103 rtx/90000\r\na=fmtp:103 apt=102\r\n\
a=ssrc-group:FID 2001 2002\r\na=ssrc:2001 cname:abcd\r\na=ssrc:2002 cname:abcd\r\n"
        )
    }

    /// A WHIP publisher's offer: H.264 only, send-only, simulcast by rid,
    /// LF line ends, an IPv6 candidate.
    fn whip_offer() -> String {
        format!(
            "v=0\no=- 1 1 IN IP6 ::1\ns=whip\nt=0 0\na=group:BUNDLE a v\na=ice-lite\n\
m=audio 9 UDP/TLS/RTP/SAVPF 111\nc=IN IP6 ::\na=mid:a\na=sendonly\na=rtcp-mux\n\
a=ice-ufrag:abcd\na=ice-pwd:abcdefghijklmnopqrstuvwx\na=fingerprint:{FINGERPRINT}\n\
a=setup:active\na=rtpmap:111 OPUS/48000/2\n\
a=candidate:1 1 UDP 2130706431 2001:db8::7 40000 typ host\na=end-of-candidates\n\
m=video 9 UDP/TLS/RTP/SAVPF 102\nc=IN IP6 ::\na=mid:v\na=sendonly\na=rtcp-mux\n\
a=ice-ufrag:abcd\na=ice-pwd:abcdefghijklmnopqrstuvwx\na=fingerprint:{FINGERPRINT}\n\
a=setup:active\na=rtpmap:102 h264/90000\n\
a=fmtp:102 packetization-mode=1;profile-level-id=42e01f\n\
a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\n\
a=extmap:10 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id\n\
a=rid:h send\na=rid:l send max-width=320\na=simulcast:send h;l\n"
        )
    }

    /// A viewer's offer: receive-only, a rejected line, a data channel.
    fn viewer_offer() -> String {
        format!(
            "v=0\r\no=- 2 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1 3\r\n\
a=ice-ufrag:zzzz\r\na=ice-pwd:0123456789abcdef01234567\r\na=fingerprint:{FINGERPRINT}\r\n\
a=setup:actpass\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=recvonly\r\n\
a=rtcp-mux\r\na=rtpmap:111 opus/48000/2\r\n\
m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:1\r\na=recvonly\r\n\
a=rtcp-mux\r\na=rtpmap:96 VP8/90000\r\n\
m=video 0 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:2\r\na=inactive\r\n\
a=rtpmap:96 VP8/90000\r\n\
m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=mid:3\r\n\
a=sctp-port:5000\r\na=max-message-size:262144\r\n"
        )
    }

    fn seeds() -> Vec<String> {
        vec![browser_offer(), whip_offer(), viewer_offer()]
    }

    /// Values that break naive number and token handling.
    const TOKENS: &[&str] = &[
        "",
        "0",
        "-1",
        "65535",
        "65536",
        "4294967296",
        "18446744073709551616",
        "99999999999999999999999999",
        "1e999",
        "NaN",
        "0x10",
        " ",
        ":",
        "/",
        "=",
        "a=",
        "m=",
        "\r\n",
        "\n",
        "\r",
        "\0",
        "é",
        "💥",
        "\u{202e}",
        "typ",
        "candidate:",
        "::",
        "[",
        "%",
        "a=candidate:1 1 udp 1 ::1 0 typ host",
        "m=video 9 UDP/TLS/RTP/SAVPF 96",
        "a=rtpmap:96 H264/90000",
    ];

    /// One edit of an offer: bytes flipped, inserted or deleted, a token
    /// spliced in or put in place of a number, lines dropped, doubled or
    /// swapped.
    #[derive(Debug, Clone)]
    enum Mutation {
        Flip(usize, u8),
        Insert(usize, u8),
        Delete(usize, usize),
        Splice(usize, &'static str),
        Number(usize, &'static str),
        DropLine(usize),
        DupLine(usize),
        SwapLines(usize, usize),
    }

    fn mutation() -> impl Strategy<Value = Mutation> {
        let token = prop::sample::select(TOKENS);
        prop_oneof![
            3 => (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
            2 => (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
            2 => (any::<usize>(), 1usize..16).prop_map(|(i, n)| Mutation::Delete(i, n)),
            2 => (any::<usize>(), token.clone()).prop_map(|(i, t)| Mutation::Splice(i, t)),
            3 => (any::<usize>(), token).prop_map(|(i, t)| Mutation::Number(i, t)),
            2 => any::<usize>().prop_map(Mutation::DropLine),
            1 => any::<usize>().prop_map(Mutation::DupLine),
            1 => (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
        ]
    }

    fn mutate(text: &str, mutations: &[Mutation]) -> String {
        let mut bytes = text.as_bytes().to_vec();
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
                Mutation::Number(i, t) => {
                    let runs: Vec<(usize, usize)> = digit_runs(&bytes);
                    if !runs.is_empty() {
                        let (s, e) = runs[i % runs.len()];
                        bytes.splice(s..e, t.bytes());
                    }
                }
                Mutation::DropLine(i) | Mutation::DupLine(i) | Mutation::SwapLines(i, _) => {
                    let mut lines: Vec<Vec<u8>> =
                        bytes.split(|b| *b == b'\n').map(<[u8]>::to_vec).collect();
                    let n = lines.len();
                    let i = i % n;
                    match *m {
                        Mutation::DropLine(_) => {
                            lines.remove(i);
                        }
                        Mutation::DupLine(_) => lines.insert(i, lines[i].clone()),
                        Mutation::SwapLines(_, j) => lines.swap(i, j % n),
                        _ => unreachable!(),
                    }
                    bytes = lines.join(&b'\n');
                }
            }
        }
        String::from_utf8_lossy(&bytes).into_owned()
    }

    fn digit_runs(bytes: &[u8]) -> Vec<(usize, usize)> {
        let mut runs = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i].is_ascii_digit() {
                let start = i;
                while i < bytes.len() && bytes[i].is_ascii_digit() {
                    i += 1;
                }
                runs.push((start, i));
            } else {
                i += 1;
            }
        }
        runs
    }

    fn mutated_offer() -> impl Strategy<Value = String> {
        (prop::sample::select(seeds()), vec(mutation(), 1..5))
            .prop_map(|(seed, ms)| mutate(&seed, &ms))
    }

    /// Offers as a client may send them: mutated real ones, or anything.
    fn any_offer() -> impl Strategy<Value = String> {
        prop_oneof![
            6 => mutated_offer(),
            1 => any::<String>(),
            1 => vec(any::<u8>(), 0..400).prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
        ]
    }

    /// A candidate line field by field: mostly well formed, sometimes not.
    fn candidate_line() -> impl Strategy<Value = (String, Option<(SocketAddr, String)>)> {
        let ip = prop_oneof![
            any::<std::net::Ipv4Addr>().prop_map(|a| a.to_string()),
            any::<std::net::Ipv6Addr>().prop_map(|a| a.to_string()),
            prop::sample::select(vec![
                "host.local",
                "::ffff:1.2.3.4",
                "1.2.3",
                "[::1]",
                "01.2.3.4"
            ])
            .prop_map(str::to_string),
        ];
        let port = prop_oneof![
            any::<u16>().prop_map(|p| p.to_string()),
            prop::sample::select(vec!["65536", "-1", "+5", "0x50", "1e3"]).prop_map(str::to_string),
        ];
        let typ = prop_oneof![Just("typ".to_string()), "[a-z]{1,4}"];
        let kind = prop_oneof![
            prop::sample::select(vec!["host", "srflx", "prflx", "relay"]).prop_map(str::to_string),
            "[!-~]{1,8}",
        ];
        let extra = vec("[!-~]{1,8}", 0..4);
        let prefix = prop::sample::select(vec!["a=candidate:", "candidate:", "  a=candidate:", ""]);
        // Any component id: the server refuses those outside 1-256 before
        // the stack, whose priority of `256 - component` would overflow.
        let component = prop_oneof![(0u16..=256).prop_map(|c| c.to_string()), "[0-9]{1,6}"];
        (prefix, "[0-9a-zA-Z+/]{1,10}", component, "(udp|UDP|tcp|x)", "[0-9]{1,10}", ip, port, typ, kind, extra)
            .prop_map(|(prefix, foundation, component, proto, priority, ip, port, typ, kind, extra)| {
                let mut line = format!("{prefix}{foundation} {component} {proto} {priority} {ip} {port} {typ} {kind}");
                for e in &extra {
                    line.push(' ');
                    line.push_str(e);
                }
                line.push_str(" \t");
                // The reader's answer, worked out from the fields (no field
                // is empty, so each stays in its place).
                let expected = match (ip.parse::<IpAddr>(), port.parse::<u16>()) {
                    (Ok(ip), Ok(port)) if typ == "typ" => {
                        Some((SocketAddr::new(ip, port), kind.clone()))
                    }
                    _ => None,
                };
                (line, expected)
            })
    }

    fn check_offer_readers(text: &str) -> Result<(), TestCaseError> {
        let candidate_lines = text
            .lines()
            .filter(|l| l.starts_with("a=candidate:"))
            .count();
        if let Ok((_, candidates)) = parse_offer(text) {
            prop_assert!(candidates.len() <= candidate_lines);
            for (_, kind) in &candidates {
                prop_assert!(!kind.is_empty() && !kind.contains(char::is_whitespace));
            }
        }
        let m_lines = text.lines().filter(|l| l.starts_with("m=")).count();
        for max in [0, 1, 4, m_lines] {
            prop_assert_eq!(check_media_lines(text, max).is_ok(), m_lines <= max);
        }
        let codec = video_codec_for(text);
        prop_assert!(codec == MIME_TYPE_VP8 || codec == MIME_TYPE_H264);
        if codec == MIME_TYPE_H264 {
            prop_assert!(text.to_ascii_lowercase().contains("h264/90000"));
        }
        if !text.contains("a=rtpmap:") {
            prop_assert_eq!(codec, MIME_TYPE_VP8);
        }
        Ok(())
    }

    /// What `accept_offer` and `renegotiate` do with a client's SDP, on a
    /// connection of our own configuration: parse, apply, answer, write
    /// our candidates, then a second offer on the same connection and a
    /// trickled candidate. Errors are fine; a panic is not.
    fn offer_answer(first: &str, second: &str, candidate: &str) {
        let now = Instant::now();
        let mut pc = build_peer(
            &["192.0.2.1:3478".parse().unwrap()],
            false,
            Duration::from_secs(30),
            Client::Publishes,
            now,
        )
        .expect("a server peer");
        let Ok((offer, _)) = parse_offer(first) else {
            return;
        };
        if pc.set_remote_description(now, offer).is_err() {
            return;
        }
        // As `add_candidate` does: the component is checked first.
        if check_component(candidate).is_ok() {
            let _ = pc.add_remote_candidate(RTCIceCandidateInit {
                candidate: candidate.to_string(),
                ..Default::default()
            });
        }
        let Ok(answer) = pc.create_answer(None) else {
            return;
        };
        if pc.set_local_description(now, answer).is_err() {
            return;
        }
        let _ = local_sdp(&pc);
        while pc.poll_write().is_some() {}
        if let Ok((offer, _)) = parse_offer(second) {
            if pc.set_remote_description(now, offer).is_ok() {
                if let Ok(answer) = pc.create_answer(None) {
                    let _ = pc.set_local_description(now, answer);
                    let _ = local_sdp(&pc);
                }
            }
        }
        let _ = pc.close();
    }

    /// The seeds are offers the stack takes whole: the mutations start
    /// from something that goes all the way through.
    #[test]
    fn every_seed_is_answered() {
        for seed in seeds() {
            let now = Instant::now();
            let mut pc = build_peer(
                &["192.0.2.1:3478".parse().unwrap()],
                false,
                Duration::from_secs(30),
                Client::Publishes,
                now,
            )
            .unwrap();
            let (offer, candidates) = parse_offer(&seed).unwrap();
            assert!(
                !candidates.is_empty() || seed.contains("recvonly"),
                "{seed}"
            );
            pc.set_remote_description(now, offer).unwrap();
            let answer = pc.create_answer(None).unwrap();
            pc.set_local_description(now, answer).unwrap();
            assert!(local_sdp(&pc).unwrap().contains("a=end-of-candidates"));
        }
    }

    proptest! {
        /// Any text as a candidate: no panic, and a type that is one
        /// token.
        #[test]
        fn candidate_reader_takes_any_text(text in any::<String>()) {
            if let Some((_, kind)) = parse_candidate(&text) {
                prop_assert!(!kind.is_empty() && !kind.contains(char::is_whitespace));
            }
        }

        /// Candidate lines built field by field: the reader returns the
        /// address and type exactly when the fields say it should.
        #[test]
        fn candidate_reader_reads_the_fields((line, expected) in candidate_line()) {
            prop_assert_eq!(parse_candidate(&line), expected);
        }

        /// Mutated and arbitrary offers through the offer readers (ours and
        /// the stack's SDP parser): no panic, and the m-line limit, the
        /// candidate count and the codec choice agree with the text.
        #[test]
        fn offer_readers_take_any_offer(text in any_offer()) {
            check_offer_readers(&text)?;
        }

        /// Mutated offers all the way through the stack's offer/answer, then
        /// a mutated renegotiation and a trickled candidate.
        #[test]
        fn offer_answer_takes_mutated_offers(
            first in mutated_offer(),
            second in any_offer(),
            (candidate, _) in candidate_line(),
        ) {
            offer_answer(&first, &second, &candidate);
        }
    }
}
