//! Signaling: creating, renegotiating and removing peer connections.
//! Part of the media task ([`Driver`]).

use super::driver::Driver;
use super::engine::build_peer;
use super::peer::{video_codec_for, Peer};
use super::router::SlotKind;
use super::sdp::with_candidates_everywhere;
use super::{LinkEvent, MediaError, PeerId, PeerKind, Signal, SignalPath};
use crate::control::SessionId;
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::transport::RTCIceCandidateInit;
use rtc::sansio::Protocol;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;
use tokio::sync::mpsc;

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

impl Driver {
    pub(super) fn accept_offer(
        &mut self,
        session: SessionId,
        kind: PeerKind,
        offer: &str,
        path: SignalPath,
        now: Instant,
    ) -> Result<(PeerId, String, mpsc::Receiver<Signal>), MediaError> {
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
        self.admit(&session, &kind, previous.is_some())?;
        self.check_offer_size(offer)?;
        let video_mime = video_codec_for(offer);
        let (offer, remote_candidates) = parse_offer(offer)?;
        if remote_candidates.len() > self.limits.candidates {
            return Err(too_many_candidates(self.limits.candidates));
        }
        let id = PeerId::random();
        let mut pc = build_peer(&self.candidates, self.consent_timeout, now)?;
        pc.set_remote_description(now, offer)
            .map_err(MediaError::stack)?;
        let (signal_tx, signal_rx) = mpsc::channel(16);
        let mut peer = Peer::new(id, session.clone(), kind.clone(), pc, signal_tx, video_mime);
        peer.path = path;
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
            if let Some(p) = self.peers.get(&old) {
                // Full or gone, the page learns it anyway: its connection
                // stops answering.
                let _ = p.signals.try_send(Signal::Replaced);
            }
            self.remove_peer(old, Removal::Quiet, now);
        }
        self.ensure_tiles(&session);
        self.rebuild_routes(&session, now);
        tracing::info!(peer = %id, %session, ?kind, "peer accepted");
        Ok((id, sdp, signal_rx))
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
        while let Some(out) = peer.pc.poll_write() {
            let _ = self.port.send(
                &out.message,
                out.transport.local_addr,
                out.transport.peer_addr,
            );
        }
        self.demux.forget(&id);
        self.dirty.remove(&id);
        if let Some(state) = self.sessions.get_mut(&peer.session) {
            state.publishers.retain(|_, p| *p != id);
        }
        let session = peer.session.clone();
        match (how, reported) {
            (Removal::Closed, Some(endpoint)) => self.emit(LinkEvent::Closed {
                session,
                endpoint,
                peer: id,
            }),
            (Removal::Lost, Some(endpoint)) if peer.up => self.emit(LinkEvent::Lost {
                session,
                endpoint,
                peer: id,
            }),
            _ => {}
        }
        self.rebuild_routes(&peer.session, now);
        tracing::info!(peer = %id, "peer removed");
    }
}

impl Driver {
    /// Whether a new connection of `kind` fits the limits. A site's second
    /// connection replaces its first, so it needs no room of its own.
    fn admit(
        &self,
        session: &SessionId,
        kind: &PeerKind,
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
        Ok(())
    }

    fn check_offer_size(&self, sdp: &str) -> Result<(), MediaError> {
        check_media_lines(sdp, self.limits.media_lines)
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
