//! The media task: one UDP socket, every peer connection, one loop.
//!
//! # Run-loop contract
//!
//! The task owns the socket and every `RTCPeerConnection` (the sans-IO core
//! of webrtc-rs). It waits on three things: a command from a
//! [`MediaPlane`](super::MediaPlane) handle, a datagram, or the earliest
//! deadline any connection asked for. Each wakeup reads the clock once and
//! passes that instant in; then every connection touched is *pumped*: its
//! events handled (state changes, new tracks), its decrypted media routed to
//! other connections' legs, its outgoing datagrams sent, its next deadline
//! read. Forwarding touches the receivers, so pumping repeats (bounded)
//! until nothing is left to flush.
//!
//! Nothing here blocks: sends use `try_send_to` (a full socket buffer drops
//! the datagram, as the network would), signals and link events use
//! `try_send` on bounded channels.

use super::demux::Demux;
use super::engine::{build_peer, ice_credentials, AUDIO_LEVEL_URI};
use super::keyframe::VideoCodec;
use super::peer::{video_codec_for, Peer};
use super::rewrite::Verdict;
use super::router::{source_for, MediaKind, SlotKind};
use super::speaker::ActiveSpeaker;
use super::stats::{self, LinkStats};
use super::{LinkEvent, MediaError, PeerId, PeerKind, Signal};
use crate::config::MediaConfig;
use crate::control::{EndpointCode, ForwardingPolicy, SessionId};
use rtc::peer_connection::event::{RTCPeerConnectionEvent, RTCTrackEvent};
use rtc::peer_connection::message::RTCMessage;
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::state::RTCPeerConnectionState;
use rtc::peer_connection::transport::RTCIceCandidateInit;
use rtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtcp::receiver_report::ReceiverReport;
use rtc::rtcp::reception_report::ReceptionReport;
use rtc::rtcp::sender_report::SenderReport;
use rtc::sansio::Protocol;
use rtc::shared::time::SystemInstant;
use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};
use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};

/// How long a link may stay disconnected or failed before it counts as
/// lost: ICE consent can miss a beat on a congested provincial line.
const LOST_GRACE: Duration = Duration::from_secs(3);
/// A failed connection that nobody closed is dropped after this long.
const FAILED_REAP: Duration = Duration::from_secs(60);
const STATS_PERIOD: Duration = Duration::from_secs(1);
/// Bound on pump rounds per wakeup; anything left is flushed next time.
const MAX_PUMP_ROUNDS: usize = 8;
/// Datagrams read per wakeup before the loop looks at commands and timers.
const MAX_READ_BATCH: usize = 64;

type Reply<T> = oneshot::Sender<Result<T, MediaError>>;

/// Requests from [`MediaPlane`](super::MediaPlane) handles.
pub(crate) enum Command {
    SetPolicy {
        session: SessionId,
        policy: ForwardingPolicy,
    },
    AcceptOffer {
        session: SessionId,
        kind: PeerKind,
        offer: String,
        reply: Reply<(PeerId, String, mpsc::Receiver<Signal>)>,
    },
    AcceptAnswer {
        peer: PeerId,
        sdp: String,
        reply: Reply<()>,
    },
    AddCandidate {
        peer: PeerId,
        json: String,
        reply: Reply<()>,
    },
    RestartIce {
        peer: PeerId,
        reply: Reply<()>,
    },
    Close {
        peer: PeerId,
        reply: Reply<()>,
    },
}

#[derive(Default)]
struct Session {
    policy: ForwardingPolicy,
    speaker: ActiveSpeaker,
    /// The peer publishing each endpoint's media (the latest to join wins).
    publishers: HashMap<EndpointCode, PeerId>,
}

type RouteKey = (SessionId, EndpointCode, MediaKind);

struct Driver {
    socket: UdpSocket,
    local_addr: SocketAddr,
    candidate_addr: SocketAddr,
    demux: Demux<PeerId>,
    peers: HashMap<PeerId, Peer>,
    sessions: HashMap<SessionId, Session>,
    /// Which legs each publisher's track feeds, rebuilt when a policy,
    /// a peer or the active speaker changes.
    routes: HashMap<RouteKey, Vec<(PeerId, usize)>>,
    dirty: HashSet<PeerId>,
    events: mpsc::Sender<LinkEvent>,
    links: Arc<Mutex<Vec<LinkStats>>>,
    started: Instant,
    wall: SystemInstant,
}

/// Binds the socket and starts the task.
pub(crate) async fn spawn(
    cfg: &MediaConfig,
    links: Arc<Mutex<Vec<LinkStats>>>,
) -> Result<
    (
        mpsc::UnboundedSender<Command>,
        SocketAddr,
        mpsc::Receiver<LinkEvent>,
    ),
    MediaError,
> {
    let socket = UdpSocket::bind(SocketAddr::new(cfg.bind_ip, cfg.udp_port))
        .await
        .map_err(MediaError::Bind)?;
    let local_addr = socket.local_addr().map_err(MediaError::Bind)?;
    let candidate_ip = cfg
        .public_ip
        .unwrap_or_else(|| advertised_ip(local_addr.ip()));
    let candidate_addr = SocketAddr::new(candidate_ip, local_addr.port());
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    let (ev_tx, ev_rx) = mpsc::channel(1024);
    let now = Instant::now();
    let driver = Driver {
        socket,
        local_addr,
        candidate_addr,
        demux: Demux::new(),
        peers: HashMap::new(),
        sessions: HashMap::new(),
        routes: HashMap::new(),
        dirty: HashSet::new(),
        events: ev_tx,
        links,
        started: now,
        wall: SystemInstant::now(now),
    };
    tracing::info!(%local_addr, %candidate_addr, "media plane listening");
    tokio::spawn(driver.run(cmd_rx));
    Ok((cmd_tx, local_addr, ev_rx))
}

/// The address written into candidates when no public IP is configured: the
/// bound one, or, when bound to the wildcard, the interface the default route
/// leaves by. Connecting a UDP socket sends nothing; it only asks the
/// routing table.
fn advertised_ip(bound: IpAddr) -> IpAddr {
    if !bound.is_unspecified() {
        return bound;
    }
    let probe = std::net::UdpSocket::bind("0.0.0.0:0")
        .and_then(|s| s.connect("192.0.2.1:9").map(|_| s))
        .and_then(|s| s.local_addr());
    match probe {
        Ok(addr) => addr.ip(),
        Err(_) => IpAddr::from([127, 0, 0, 1]),
    }
}

impl Driver {
    async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        let mut buf = vec![0u8; 2048];
        let mut next_stats = Instant::now() + STATS_PERIOD;
        loop {
            self.flush(Instant::now());
            let deadline = self
                .peers
                .values()
                .filter_map(|p| p.next_timeout)
                .min()
                .map_or(next_stats, |t| t.min(next_stats));
            tokio::select! {
                cmd = commands.recv() => match cmd {
                    Some(cmd) => self.on_command(cmd, Instant::now()),
                    None => break,
                },
                res = self.socket.recv_from(&mut buf) => {
                    if let Ok((n, from)) = res {
                        let now = Instant::now();
                        self.on_datagram(&buf[..n], from, now);
                        for _ in 0..MAX_READ_BATCH {
                            match self.socket.try_recv_from(&mut buf) {
                                Ok((n, from)) => self.on_datagram(&buf[..n], from, now),
                                Err(_) => break,
                            }
                        }
                    }
                }
                _ = tokio::time::sleep_until(deadline.into()) => {
                    let now = Instant::now();
                    for peer in self.peers.values_mut() {
                        if peer.next_timeout.is_some_and(|t| t <= now) {
                            if let Err(err) = peer.pc.handle_timeout(now) {
                                tracing::debug!(peer = %peer.id, %err, "timeout handling failed");
                            }
                            self.dirty.insert(peer.id);
                        }
                    }
                    if now >= next_stats {
                        self.tick(now);
                        next_stats = now + STATS_PERIOD;
                    }
                }
            }
        }
        for peer in self.peers.values_mut() {
            let _ = peer.pc.close();
        }
        tracing::info!("media plane stopped");
    }

    fn on_datagram(&mut self, data: &[u8], from: SocketAddr, now: Instant) {
        let Some(id) = self.demux.route(data, from) else {
            return;
        };
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        let msg = TaggedBytesMut {
            now,
            transport: TransportContext {
                local_addr: self.local_addr,
                peer_addr: from,
                ecn: None,
                transport_protocol: TransportProtocol::UDP,
            },
            message: bytes::BytesMut::from(data),
        };
        peer.remote_addr = Some(from);
        if let Err(err) = peer.pc.handle_read(msg) {
            tracing::trace!(peer = %id, %err, "datagram refused");
        }
        self.dirty.insert(id);
    }

    /// Pumps dirty peers until quiet (bounded).
    fn flush(&mut self, now: Instant) {
        for _ in 0..MAX_PUMP_ROUNDS {
            if self.dirty.is_empty() {
                break;
            }
            let batch: Vec<PeerId> = self.dirty.drain().collect();
            for id in batch {
                self.pump(id, now);
            }
        }
    }

    fn pump(&mut self, id: PeerId, now: Instant) {
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        let mut state_changes = Vec::new();
        let mut tracks_opened = false;
        while let Some(event) = peer.pc.poll_event() {
            match event {
                RTCPeerConnectionEvent::OnConnectionStateChangeEvent(state) => {
                    state_changes.push(state)
                }
                RTCPeerConnectionEvent::OnSignalingStateChangeEvent(state) => {
                    peer.signaling = state
                }
                RTCPeerConnectionEvent::OnTrack(RTCTrackEvent::OnOpen(init)) => {
                    peer.on_track_open(&init);
                    tracks_opened = true;
                }
                _ => {}
            }
        }
        let mut media = Vec::new();
        while let Some(msg) = peer.pc.poll_read() {
            media.push(msg);
        }
        if peer.maybe_offer(now) {
            if let Some(ufrag) = peer.local_ufrag() {
                self.demux.register_ufrag(&ufrag, id);
            }
        }
        self.send_datagrams(id);
        for state in state_changes {
            self.on_state(id, state, now);
        }
        if tracks_opened {
            if let Some(session) = self.peers.get(&id).map(|p| p.session.clone()) {
                self.rebuild_routes(&session, now);
            }
        }
        for msg in media {
            match msg.message {
                RTCMessage::RtpPacket(track_id, packet) => {
                    self.forward(id, &track_id, packet, msg.now)
                }
                RTCMessage::RtcpPacket(_, packets) => self.on_rtcp(id, &packets, msg.now),
                _ => {}
            }
        }
        self.send_datagrams(id);
    }

    fn send_datagrams(&mut self, id: PeerId) {
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        while let Some(out) = peer.pc.poll_write() {
            if let Err(err) = self
                .socket
                .try_send_to(&out.message, out.transport.peer_addr)
            {
                tracing::trace!(peer = %id, %err, "datagram dropped on send");
            }
        }
        peer.next_timeout = peer.pc.poll_timeout();
    }

    fn emit(&self, event: LinkEvent) {
        if self.events.try_send(event).is_err() {
            tracing::warn!("link event dropped: receiver full or gone");
        }
    }

    fn on_state(&mut self, id: PeerId, state: RTCPeerConnectionState, now: Instant) {
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        peer.state = state;
        tracing::debug!(peer = %id, %state, "connection state");
        match state {
            RTCPeerConnectionState::Connected => {
                peer.down_since = None;
                if !peer.up {
                    peer.up = true;
                    if let Some(endpoint) = peer.endpoint().cloned() {
                        let session = peer.session.clone();
                        self.emit(LinkEvent::Up {
                            session: session.clone(),
                            endpoint,
                            peer: id,
                        });
                        self.rebuild_routes(&session, now);
                    }
                }
            }
            RTCPeerConnectionState::Disconnected | RTCPeerConnectionState::Failed => {
                peer.down_since.get_or_insert(now);
            }
            _ => {}
        }
    }

    fn on_command(&mut self, cmd: Command, now: Instant) {
        match cmd {
            Command::SetPolicy { session, policy } => {
                self.sessions.entry(session.clone()).or_default().policy = policy;
                self.ensure_tiles(&session);
                self.rebuild_routes(&session, now);
            }
            Command::AcceptOffer {
                session,
                kind,
                offer,
                reply,
            } => {
                let _ = reply.send(self.accept_offer(session, kind, &offer, now));
            }
            Command::AcceptAnswer { peer, sdp, reply } => {
                let _ = reply.send(self.accept_answer(peer, sdp, now));
            }
            Command::AddCandidate { peer, json, reply } => {
                let _ = reply.send(self.add_candidate(peer, &json));
            }
            Command::RestartIce { peer, reply } => {
                let result = match self.peers.get_mut(&peer) {
                    Some(p) => {
                        p.pc.restart_ice();
                        p.wants_offer = true;
                        self.dirty.insert(peer);
                        Ok(())
                    }
                    None => Err(MediaError::UnknownPeer),
                };
                let _ = reply.send(result);
            }
            Command::Close { peer, reply } => {
                let result = if self.peers.contains_key(&peer) {
                    self.remove_peer(peer, true, now);
                    Ok(())
                } else {
                    Err(MediaError::UnknownPeer)
                };
                let _ = reply.send(result);
            }
        }
    }

    fn accept_offer(
        &mut self,
        session: SessionId,
        kind: PeerKind,
        offer: &str,
        now: Instant,
    ) -> Result<(PeerId, String, mpsc::Receiver<Signal>), MediaError> {
        let video_mime = video_codec_for(offer);
        let remote_candidates: Vec<(SocketAddr, String)> = offer
            .lines()
            .filter(|l| l.starts_with("a=candidate:"))
            .filter_map(parse_candidate)
            .collect();
        let offer =
            RTCSessionDescription::offer(offer.to_string()).map_err(|e| MediaError::Malformed {
                what: "SDP offer",
                detail: e.to_string(),
            })?;
        let id = PeerId::random();
        let (ufrag, pwd) = ice_credentials();
        let mut pc = build_peer(&ufrag, &pwd, self.candidate_addr, now)?;
        pc.set_remote_description(now, offer)
            .map_err(MediaError::stack)?;
        let (signal_tx, signal_rx) = mpsc::channel(16);
        let mut peer = Peer::new(id, session.clone(), kind.clone(), pc, signal_tx, video_mime);
        peer.remote_candidates = remote_candidates;
        peer.add_slot(SlotKind::Chair)?;
        peer.add_slot(SlotKind::Floor)?;
        let answer = peer.pc.create_answer(None).map_err(MediaError::stack)?;
        peer.pc
            .set_local_description(now, answer)
            .map_err(MediaError::stack)?;
        let sdp = peer
            .pc
            .local_description()
            .map(|d| d.sdp)
            .ok_or_else(|| MediaError::InvalidState("no local description".into()))?;
        peer.refresh_legs();
        self.demux.register_ufrag(&ufrag, id);
        let state = self.sessions.entry(session.clone()).or_default();
        if let PeerKind::Participant(code) = &kind {
            state.publishers.insert(code.clone(), id);
        }
        self.peers.insert(id, peer);
        self.dirty.insert(id);
        self.ensure_tiles(&session);
        self.rebuild_routes(&session, now);
        tracing::info!(peer = %id, %session, ?kind, "peer accepted");
        Ok((id, sdp, signal_rx))
    }

    fn accept_answer(&mut self, id: PeerId, sdp: String, now: Instant) -> Result<(), MediaError> {
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

    fn add_candidate(&mut self, id: PeerId, json: &str) -> Result<(), MediaError> {
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
        if let Some(known) = parse_candidate(&init.candidate) {
            peer.remote_candidates.push(known);
        }
        peer.pc
            .add_remote_candidate(init)
            .map_err(MediaError::stack)?;
        self.dirty.insert(id);
        Ok(())
    }

    fn remove_peer(&mut self, id: PeerId, closed_by_us: bool, now: Instant) {
        let Some(mut peer) = self.peers.remove(&id) else {
            return;
        };
        let _ = peer.pc.close();
        while let Some(out) = peer.pc.poll_write() {
            let _ = self
                .socket
                .try_send_to(&out.message, out.transport.peer_addr);
        }
        self.demux.forget(&id);
        self.dirty.remove(&id);
        if let Some(state) = self.sessions.get_mut(&peer.session) {
            state.publishers.retain(|_, p| *p != id);
        }
        if closed_by_us {
            if let Some(endpoint) = peer.endpoint().cloned() {
                self.emit(LinkEvent::Closed {
                    session: peer.session.clone(),
                    endpoint,
                    peer: id,
                });
            }
        }
        self.rebuild_routes(&peer.session, now);
        tracing::info!(peer = %id, "peer removed");
    }

    /// Gives the chair's connection a tile (audio + video leg) per other
    /// participant of its session; new tiles go out in a server offer.
    fn ensure_tiles(&mut self, session: &SessionId) {
        let Some(state) = self.sessions.get(session) else {
            return;
        };
        let Some(chair) = state.policy.chair.clone() else {
            return;
        };
        let others: Vec<EndpointCode> = state
            .publishers
            .keys()
            .filter(|c| **c != chair)
            .cloned()
            .collect();
        for peer in self.peers.values_mut() {
            if peer.session != *session || peer.endpoint() != Some(&chair) {
                continue;
            }
            for code in &others {
                let slot = SlotKind::Tile(code.clone());
                if peer.has_slot(&slot) {
                    continue;
                }
                match peer.add_slot(slot) {
                    Ok(()) => {
                        peer.wants_offer = true;
                        self.dirty.insert(peer.id);
                    }
                    Err(err) => tracing::warn!(peer = %peer.id, %err, "cannot add tile"),
                }
            }
        }
    }

    /// Recomputes every leg's source in `session`; a leg whose source
    /// changed waits for a keyframe, which is requested from the new source.
    fn rebuild_routes(&mut self, session: &SessionId, now: Instant) {
        let Some(state) = self.sessions.get(session) else {
            return;
        };
        self.routes.retain(|(s, _, _), _| s != session);
        let mut keyframes_wanted = Vec::new();
        for peer in self.peers.values_mut() {
            if peer.session != *session {
                continue;
            }
            for (index, leg) in peer.legs.iter_mut().enumerate() {
                let source = source_for(
                    &state.policy,
                    state.speaker.current(),
                    &peer.kind,
                    &leg.slot,
                    leg.kind,
                );
                if source != leg.source {
                    leg.source = source.clone();
                    if let (Some(src), MediaKind::Video) = (&source, leg.kind) {
                        keyframes_wanted.push(src.clone());
                    }
                }
                if let Some(src) = source {
                    self.routes
                        .entry((session.clone(), src, leg.kind))
                        .or_default()
                        .push((peer.id, index));
                }
            }
        }
        let publishers: Vec<PeerId> = keyframes_wanted
            .iter()
            .filter_map(|e| state.publishers.get(e).copied())
            .collect();
        for publisher in publishers {
            self.request_keyframe(publisher, now);
        }
    }

    /// Sends a PLI for the publisher's video, at most once per interval.
    fn request_keyframe(&mut self, publisher: PeerId, now: Instant) {
        let Some(peer) = self.peers.get_mut(&publisher) else {
            return;
        };
        let mut sent = 0;
        for track in peer.inbound.iter_mut() {
            if track.kind != MediaKind::Video || !track.pli.allow(now) {
                continue;
            }
            let Some(mut receiver) = peer.pc.rtp_receiver(track.receiver_id) else {
                continue;
            };
            let pli = PictureLossIndication {
                sender_ssrc: 0,
                media_ssrc: track.ssrc,
            };
            match receiver.write_rtcp(now, vec![Box::new(pli)]) {
                Ok(()) => sent += 1,
                Err(err) => tracing::debug!(peer = %publisher, %err, "PLI not sent"),
            }
        }
        if sent > 0 {
            peer.keyframe_requests += sent;
            self.dirty.insert(publisher);
        }
    }

    /// Routes one RTP packet from `from`'s track to every leg it feeds.
    fn forward(&mut self, from: PeerId, track_id: &str, packet: rtc::rtp::Packet, now: Instant) {
        let Some(peer) = self.peers.get_mut(&from) else {
            return;
        };
        let Some(endpoint) = peer.endpoint().cloned() else {
            return;
        };
        let tag = peer.tag(packet.header.ssrc);
        let Some(track) = peer.inbound.iter_mut().find(|t| t.track_id == track_id) else {
            return;
        };
        let clock = track
            .codecs
            .clock_rate(packet.header.payload_type)
            .unwrap_or(track.clock_rate);
        track.clock_rate = clock;
        track.ssrc = packet.header.ssrc;
        let arrival = stats::secs_since(self.started, now);
        track.stats.on_packet(
            packet.header.sequence_number,
            packet.header.timestamp,
            clock,
            arrival,
            packet.payload.len(),
        );
        let kind = track.kind;
        let codecs = track.codecs.clone();
        let session = peer.session.clone();
        if kind == MediaKind::Audio {
            if let Some(id) = codecs.extension_id(AUDIO_LEVEL_URI) {
                if let Some(ext) = packet.header.extensions.iter().find(|e| e.id == id) {
                    if let Some(state) = self.sessions.get_mut(&session) {
                        state.speaker.on_level(&endpoint, &ext.payload);
                    }
                }
            }
        }
        let key = (session, endpoint.clone(), kind);
        let Some(targets) = self.routes.get(&key).cloned() else {
            return;
        };
        let video_codec = codecs
            .mime(packet.header.payload_type)
            .map_or(VideoCodec::Other, VideoCodec::from_mime);
        let mut need_keyframe = false;
        for (to, index) in targets {
            let Some(receiver) = self.peers.get_mut(&to) else {
                continue;
            };
            let Some(leg) = receiver.legs.get_mut(index) else {
                continue;
            };
            if leg.source.as_ref() != Some(&endpoint) {
                continue;
            }
            let mut out = packet.clone();
            if !leg.translation_for(tag, &codecs).apply(&mut out.header) {
                continue;
            }
            let payload = &packet.payload;
            let verdict = leg.rewriter.forward(
                tag,
                &mut out.header,
                kind == MediaKind::Video,
                || video_codec.is_keyframe_start(payload),
                now,
            );
            match verdict {
                Verdict::Send => {
                    let size = out.payload.len() as u64;
                    let sender_id = leg.sender_id;
                    leg.packets += 1;
                    leg.bytes += size;
                    if let Some(mut sender) = receiver.pc.rtp_sender(sender_id) {
                        if let Err(err) = sender.write_rtp(now, out) {
                            tracing::trace!(peer = %to, %err, "leg refused packet");
                        }
                    }
                    self.dirty.insert(to);
                }
                Verdict::AwaitKeyframe => need_keyframe = true,
                Verdict::Stale => {}
            }
        }
        if need_keyframe {
            self.request_keyframe(from, now);
        }
    }

    /// Keyframe requests go to whoever feeds the leg they name; report
    /// blocks about our legs become that link's downstream figures.
    fn on_rtcp(&mut self, from: PeerId, packets: &[Box<dyn rtc::rtcp::Packet>], now: Instant) {
        let mut keyframe_for = Vec::new();
        {
            let Some(peer) = self.peers.get_mut(&from) else {
                return;
            };
            let ntp_now = self.wall.ntp(now);
            let mut blocks: Vec<&ReceptionReport> = Vec::new();
            for packet in packets {
                let any = packet.as_any();
                let media_ssrc = if let Some(pli) = any.downcast_ref::<PictureLossIndication>() {
                    Some(pli.media_ssrc)
                } else if let Some(fir) = any.downcast_ref::<FullIntraRequest>() {
                    fir.fir.first().map(|e| e.ssrc).or(Some(fir.media_ssrc))
                } else {
                    None
                };
                if let Some(ssrc) = media_ssrc {
                    if let Some(src) = peer
                        .legs
                        .iter()
                        .find(|l| l.ssrc == ssrc)
                        .and_then(|l| l.source.clone())
                    {
                        keyframe_for.push(src);
                    }
                }
                if let Some(rr) = any.downcast_ref::<ReceiverReport>() {
                    blocks.extend(rr.reports.iter());
                }
                if let Some(sr) = any.downcast_ref::<SenderReport>() {
                    blocks.extend(sr.reports.iter());
                }
            }
            for block in blocks {
                if let Some(leg) = peer.legs.iter_mut().find(|l| l.ssrc == block.ssrc) {
                    leg.downstream = stats::downstream(block, ntp_now, leg.clock_rate);
                }
            }
        }
        let Some(session) = self.peers.get(&from).map(|p| p.session.clone()) else {
            return;
        };
        for endpoint in keyframe_for {
            let publisher = self
                .sessions
                .get(&session)
                .and_then(|s| s.publishers.get(&endpoint))
                .copied();
            if let Some(publisher) = publisher {
                self.request_keyframe(publisher, now);
            }
        }
    }

    /// Once a second: active speakers, lost links, link stats.
    fn tick(&mut self, now: Instant) {
        let mut changed = Vec::new();
        for (id, state) in self.sessions.iter_mut() {
            if state.policy.floor_follows_active_speaker
                && state.speaker.decide(&state.policy.audible)
            {
                changed.push(id.clone());
            }
        }
        for session in changed {
            self.rebuild_routes(&session, now);
        }

        let mut lost = Vec::new();
        let mut reap = Vec::new();
        for peer in self.peers.values_mut() {
            let Some(since) = peer.down_since else {
                continue;
            };
            let down_for = now.saturating_duration_since(since);
            if peer.up && down_for >= LOST_GRACE {
                peer.up = false;
                if let Some(endpoint) = peer.endpoint().cloned() {
                    lost.push(LinkEvent::Lost {
                        session: peer.session.clone(),
                        endpoint,
                        peer: peer.id,
                    });
                }
            }
            if peer.state == RTCPeerConnectionState::Failed && down_for >= FAILED_REAP {
                reap.push(peer.id);
            }
        }
        for event in lost {
            self.emit(event);
        }
        for id in reap {
            self.remove_peer(id, false, now);
        }
        self.publish_stats();
    }

    fn publish_stats(&mut self) {
        let period = STATS_PERIOD.as_secs_f64();
        let mut out = Vec::with_capacity(self.peers.len());
        for peer in self.peers.values_mut() {
            let bytes_in: u64 = peer.inbound.iter().map(|t| t.stats.bytes).sum();
            let bytes_out: u64 = peer.legs.iter().map(|l| l.bytes).sum();
            let (prev_in, prev_out) = peer.last_bytes;
            peer.bitrate = (
                ((bytes_in.saturating_sub(prev_in)) as f64 * 8.0 / period) as u64,
                ((bytes_out.saturating_sub(prev_out)) as f64 * 8.0 / period) as u64,
            );
            peer.last_bytes = (bytes_in, bytes_out);
            let losses: Vec<f64> = peer
                .inbound
                .iter_mut()
                .map(|t| t.stats.take_loss())
                .collect();
            peer.loss_up = losses.iter().copied().fold(0.0, f64::max);
            let candidate_type = peer
                .remote_addr
                .map(|a| candidate_type(&peer.remote_candidates, a));
            let reported: Vec<_> = peer.legs.iter().map(|l| l.downstream).collect();
            let rtts: Vec<f64> = reported.iter().filter_map(|d| d.rtt_ms).collect();
            out.push(LinkStats {
                peer: peer.id,
                session: peer.session.clone(),
                endpoint: peer.endpoint().cloned(),
                state: peer.state.to_string(),
                candidate_type,
                rtt_ms: (!rtts.is_empty()).then(|| rtts.iter().sum::<f64>() / rtts.len() as f64),
                loss_up: peer.loss_up,
                loss_down: reported.iter().map(|d| d.loss).fold(0.0, f64::max),
                jitter_up_ms: peer
                    .inbound
                    .iter()
                    .map(|t| t.stats.jitter_ms(t.clock_rate))
                    .fold(0.0, f64::max),
                jitter_down_ms: reported.iter().map(|d| d.jitter_ms).fold(0.0, f64::max),
                bitrate_in: peer.bitrate.0,
                bitrate_out: peer.bitrate.1,
                packets_forwarded: peer.legs.iter().map(|l| l.packets).sum(),
                packets_received: peer.inbound.iter().map(|t| t.stats.received()).sum(),
                keyframe_requests: peer.keyframe_requests,
            });
        }
        out.sort_by(|a, b| (&a.session, &a.endpoint).cmp(&(&b.session, &b.endpoint)));
        match self.links.lock() {
            Ok(mut links) => *links = out,
            Err(poisoned) => *poisoned.into_inner() = out,
        }
    }
}

/// The type of the client candidate `addr` matches (`prflx` when it
/// matches none: the client reached us from an address it never signalled).
fn candidate_type(known: &[(SocketAddr, String)], addr: SocketAddr) -> String {
    known
        .iter()
        .find(|(a, _)| *a == addr)
        .map_or_else(|| "prflx".to_string(), |(_, t)| t.clone())
}

/// Address and type of an `a=candidate` / `candidate:` line.
fn parse_candidate(line: &str) -> Option<(SocketAddr, String)> {
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
