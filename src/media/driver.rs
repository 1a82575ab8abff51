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

use super::bitrate::BitrateCaps;
use super::demux::Demux;
use super::peer::Peer;
use super::port::{Arrival, MediaPort};
use super::record::Recording;
use super::router::{Feed, MediaKind};
use super::signaling::candidate_type;
use super::signaling::Removal;
use super::speaker::ActiveSpeaker;
use super::stats::LinkStats;
use super::{LinkEvent, MediaError, Owner, PeerId, PeerKind, Signal, SignalPath};
use crate::config::MediaConfig;
use crate::control::{EndpointCode, ForwardingPolicy, SessionId};
use crate::monitor::metrics;
use rtc::peer_connection::event::{RTCPeerConnectionEvent, RTCTrackEvent};
use rtc::peer_connection::message::RTCMessage;
use rtc::peer_connection::state::RTCPeerConnectionState;
use rtc::sansio::Protocol;
use rtc::shared::time::SystemInstant;
use rtc::shared::{TaggedBytesMut, TransportContext};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// How long a link may stay down (silent, or its connection failed) before
/// it counts as lost: a congested provincial line can miss a beat.
pub(super) const LOST_GRACE: Duration = Duration::from_secs(3);
/// A link from which nothing at all arrived for this long — no consent
/// check, no media, no RTCP — is down. A site sends audio many times a
/// second and a receiver reports about every second, so silence this long
/// is a cut link; consent (30 s) is far too slow to tell the chair.
const SILENT_LINK: Duration = Duration::from_secs(5);
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
    SetLoopback {
        session: SessionId,
        endpoint: EndpointCode,
        on: bool,
    },
    AcceptOffer {
        session: SessionId,
        kind: PeerKind,
        offer: String,
        path: SignalPath,
        owner: Option<Owner>,
        reply: Reply<(PeerId, String, mpsc::Receiver<Signal>)>,
    },
    AcceptAnswer {
        peer: PeerId,
        sdp: String,
        reply: Reply<()>,
    },
    Renegotiate {
        peer: PeerId,
        offer: String,
        reply: Reply<String>,
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
    Watch {
        peer: PeerId,
        sites: BTreeSet<EndpointCode>,
        reply: Reply<()>,
    },
    Close {
        peer: PeerId,
        reply: Reply<()>,
    },
    Drop {
        peer: PeerId,
        reply: Reply<()>,
    },
    Describe {
        peer: PeerId,
        reply: Reply<(SessionId, PeerKind)>,
    },
}

#[derive(Default)]
pub(super) struct Session {
    pub(super) policy: ForwardingPolicy,
    pub(super) speaker: ActiveSpeaker,
    /// The peer publishing each endpoint's media (the latest to join wins).
    pub(super) publishers: HashMap<EndpointCode, PeerId>,
    /// Endpoints under a link test: each gets its own media back on its
    /// floor slot.
    pub(super) loopback: HashSet<EndpointCode>,
    /// The programme being written to a file, while the policy says so.
    pub(super) recording: Option<Recording>,
    /// A recording failed (the disk is full, say): no new file until the
    /// policy stops recording and starts again.
    pub(super) recording_failed: bool,
}

/// Bounds on what clients may make the media plane hold.
#[derive(Debug, Clone, Copy)]
pub(super) struct ConnectionLimits {
    pub(super) total: usize,
    pub(super) per_session: usize,
    pub(super) viewers_per_session: usize,
    pub(super) per_token: usize,
    pub(super) media_lines: usize,
    pub(super) candidates: usize,
    /// A connection not up by then is dropped.
    pub(super) connect_within: Duration,
}

impl ConnectionLimits {
    fn from_config(cfg: &MediaConfig) -> ConnectionLimits {
        let n = |v: u32| usize::try_from(v).unwrap_or(usize::MAX);
        ConnectionLimits {
            total: n(cfg.max_connections),
            per_session: n(cfg.max_connections_per_session),
            viewers_per_session: n(cfg.max_viewers_per_session),
            per_token: n(cfg.max_connections_per_token),
            media_lines: n(cfg.max_media_lines),
            candidates: n(cfg.max_candidates),
            connect_within: Duration::from_secs(cfg.connect_timeout_secs.into()),
        }
    }
}

pub(super) type RouteKey = (SessionId, EndpointCode, Feed);

pub(super) struct Driver {
    pub(super) port: MediaPort,
    /// The host candidates every connection advertises, one per socket.
    pub(super) candidates: Vec<SocketAddr>,
    pub(super) consent_timeout: Duration,
    pub(super) limits: ConnectionLimits,
    pub(super) demux: Demux<PeerId>,
    pub(super) peers: HashMap<PeerId, Peer>,
    pub(super) sessions: HashMap<SessionId, Session>,
    /// Which legs each publisher's track feeds, rebuilt when a policy,
    /// a peer or the active speaker changes.
    pub(super) routes: HashMap<RouteKey, Vec<(PeerId, usize)>>,
    pub(super) dirty: HashSet<PeerId>,
    pub(super) events: mpsc::Sender<LinkEvent>,
    pub(super) links: Arc<Mutex<Vec<LinkStats>>>,
    pub(super) started: Instant,
    pub(super) wall: SystemInstant,
    pub(super) caps: BitrateCaps,
    /// Where recordings go (a folder per session); none: not recorded.
    pub(super) recordings: Option<std::path::PathBuf>,
}

/// Binds the media port and starts the task. Returns the command channel,
/// the advertised candidate addresses and the link events.
pub(crate) async fn spawn(
    cfg: &MediaConfig,
    links: Arc<Mutex<Vec<LinkStats>>>,
    recordings: Option<std::path::PathBuf>,
) -> Result<
    (
        mpsc::UnboundedSender<Command>,
        Vec<SocketAddr>,
        mpsc::Receiver<LinkEvent>,
    ),
    MediaError,
> {
    let port = MediaPort::bind(cfg).await.map_err(MediaError::Bind)?;
    let candidates = port.candidates();
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    let (ev_tx, ev_rx) = mpsc::channel(1024);
    let now = Instant::now();
    let driver = Driver {
        port,
        candidates: candidates.clone(),
        consent_timeout: Duration::from_secs(cfg.consent_timeout_secs.into()),
        limits: ConnectionLimits::from_config(cfg),
        demux: Demux::new(),
        peers: HashMap::new(),
        sessions: HashMap::new(),
        routes: HashMap::new(),
        dirty: HashSet::new(),
        events: ev_tx,
        links,
        started: now,
        wall: SystemInstant::now(now),
        caps: BitrateCaps::from_config(cfg),
        recordings,
    };
    tracing::info!(?candidates, "media plane listening");
    tokio::spawn(driver.run(cmd_rx));
    Ok((cmd_tx, candidates, ev_rx))
}

impl Driver {
    async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        let mut buf = vec![0u8; super::port::READ_BUFFER];
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
                res = self.port.recv(&mut buf) => {
                    if let Ok(first) = res {
                        let now = Instant::now();
                        self.on_datagram(&buf[..first.len], first, now);
                        for _ in 0..MAX_READ_BATCH {
                            match self.port.try_recv(&mut buf) {
                                Some(next) => self.on_datagram(&buf[..next.len], next, now),
                                None => break,
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
        self.finish_recordings();
        tracing::info!("media plane stopped");
    }

    /// A datagram that arrived on the media port (`data` is its bytes).
    fn on_datagram(&mut self, data: &[u8], arrival: Arrival, now: Instant) {
        let Arrival {
            from, to, protocol, ..
        } = arrival;
        let Some(id) = self.demux.route(data, from) else {
            return;
        };
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        let msg = TaggedBytesMut {
            now,
            transport: TransportContext {
                local_addr: to,
                peer_addr: from,
                ecn: None,
                transport_protocol: protocol,
            },
            message: bytes::BytesMut::from(data),
        };
        // Only a verified address is a sign of life: a forged check naming
        // this connection's ufrag reaches the stack, which drops it.
        if peer.sent_to == Some(from) {
            peer.last_heard = Some(now);
        }
        if let Err(err) = peer.pc.handle_read(msg) {
            tracing::trace!(peer = %id, %err, "datagram refused");
        }
        let back = peer.down_since.is_some() && peer.state == RTCPeerConnectionState::Connected;
        self.dirty.insert(id);
        if back {
            self.on_alive(id, now);
        }
    }

    /// A link that is connected and heard from again: up, and reported up
    /// if it had been reported lost.
    fn on_alive(&mut self, id: PeerId, now: Instant) {
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        peer.down_since = None;
        if peer.up {
            return;
        }
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
            // The stack sends only to addresses it verified: route what
            // comes back from them to this connection (see `demux`).
            if peer.sent_to != Some(out.transport.peer_addr) {
                peer.sent_to = Some(out.transport.peer_addr);
                self.demux.learn(out.transport.peer_addr, &id);
            }
            if let Err(err) = self.port.send(
                &out.message,
                out.transport.local_addr,
                out.transport.peer_addr,
                out.transport.transport_protocol,
            ) {
                tracing::trace!(peer = %id, %err, "datagram dropped on send");
            }
        }
        peer.next_timeout = peer.pc.poll_timeout();
    }

    /// Whether `id` is the peer carrying `endpoint` now: a replaced peer's
    /// link events would contradict its successor's.
    pub(super) fn is_publisher(
        &self,
        session: &SessionId,
        endpoint: &EndpointCode,
        id: PeerId,
    ) -> bool {
        self.sessions
            .get(session)
            .and_then(|s| s.publishers.get(endpoint))
            == Some(&id)
    }

    pub(super) fn emit(&self, event: LinkEvent) {
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
                peer.connected_once = true;
                self.on_alive(id, now)
            }
            // A client that closes its connection says so in DTLS; that is
            // a lost link too until its signaling says otherwise.
            RTCPeerConnectionState::Disconnected
            | RTCPeerConnectionState::Failed
            | RTCPeerConnectionState::Closed => {
                peer.down_since.get_or_insert(now);
            }
            _ => {}
        }
    }

    fn on_command(&mut self, cmd: Command, now: Instant) {
        match cmd {
            Command::SetPolicy { session, policy } => {
                self.sessions.entry(session.clone()).or_default().policy = policy;
                self.follow_recording(&session, now);
                self.ensure_tiles(&session);
                self.rebuild_routes(&session, now);
            }
            Command::SetLoopback {
                session,
                endpoint,
                on,
            } => {
                let state = self.sessions.entry(session.clone()).or_default();
                let changed = if on {
                    state.loopback.insert(endpoint)
                } else {
                    state.loopback.remove(&endpoint)
                };
                if changed {
                    self.rebuild_routes(&session, now);
                }
            }
            Command::AcceptOffer {
                session,
                kind,
                offer,
                path,
                owner,
                reply,
            } => {
                let opener = (path, owner);
                let _ = reply.send(self.accept_offer(session, kind, &offer, opener, now));
            }
            Command::Renegotiate { peer, offer, reply } => {
                let _ = reply.send(self.renegotiate(peer, &offer, now));
            }
            Command::AcceptAnswer { peer, sdp, reply } => {
                let _ = reply.send(self.accept_answer(peer, sdp, now));
            }
            Command::AddCandidate { peer, json, reply } => {
                let _ = reply.send(self.add_candidate(peer, &json));
            }
            Command::RestartIce { peer, reply } => {
                let result = match self.peers.get_mut(&peer) {
                    Some(p) if p.path == SignalPath::Http => Err(MediaError::InvalidState(
                        "a WHIP/WHEP peer cannot be renegotiated".into(),
                    )),
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
            Command::Watch { peer, sites, reply } => {
                let _ = reply.send(self.watch(peer, sites, now));
            }
            Command::Close { peer, reply } => {
                let _ = reply.send(self.remove_known(peer, Removal::Closed, now));
            }
            Command::Drop { peer, reply } => {
                let _ = reply.send(self.remove_known(peer, Removal::Lost, now));
            }
            Command::Describe { peer, reply } => {
                let found = self
                    .peers
                    .get(&peer)
                    .map(|p| (p.session.clone(), p.kind.clone()))
                    .ok_or(MediaError::UnknownPeer);
                let _ = reply.send(found);
            }
        }
    }

    /// Once a second: active speakers, lost links, link stats, recordings.
    fn tick(&mut self, now: Instant) {
        self.check_recordings();
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
            let silent = peer
                .last_heard
                .is_some_and(|t| now.saturating_duration_since(t) >= SILENT_LINK);
            if silent && peer.down_since.is_none() {
                peer.down_since = peer.last_heard.map(|t| t + SILENT_LINK);
            }
            let Some(since) = peer.down_since else {
                continue;
            };
            let down_for = now.saturating_duration_since(since);
            if peer.up && down_for >= LOST_GRACE {
                peer.up = false;
                if let Some(endpoint) = peer.endpoint().cloned() {
                    lost.push((peer.id, peer.session.clone(), endpoint));
                }
            }
            let dead = matches!(
                peer.state,
                RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed
            );
            if dead && down_for >= FAILED_REAP {
                reap.push(peer.id);
            }
        }
        for peer in self.peers.values() {
            // An offer costs memory (about half a MiB); one whose client
            // never checks in would hold it for nothing.
            let never_up = self.limits.connect_within;
            if !peer.connected_once && now.saturating_duration_since(peer.created) >= never_up {
                tracing::info!(peer = %peer.id, "never came up; dropped");
                reap.push(peer.id);
            }
        }
        for (id, session, endpoint) in lost {
            if self.is_publisher(&session, &endpoint, id) {
                self.emit(LinkEvent::Lost {
                    session,
                    endpoint,
                    peer: id,
                });
            }
        }
        for id in reap {
            // Reaped twice (failed and never up) is removed once.
            if self.peers.contains_key(&id) {
                self.remove_peer(id, Removal::Quiet, now);
            }
        }
        // Repeated every second: a browser takes the latest estimate as its
        // ceiling, and one lost report must not leave a stale one.
        self.send_bitrate_caps(false, now);
        self.publish_stats(now);
    }

    fn publish_stats(&mut self, now: Instant) {
        let period = STATS_PERIOD.as_secs_f64();
        let mut out = Vec::with_capacity(self.peers.len());
        // Counted here once a second rather than per packet: a metrics
        // update per forwarded packet would cost a lookup on the hot path.
        let mut forwarded = [(0u64, 0u64); 2];
        for peer in self.peers.values_mut() {
            for leg in &mut peer.legs {
                let i = usize::from(leg.kind == MediaKind::Video);
                forwarded[i].0 += leg.packets.saturating_sub(leg.reported.0);
                forwarded[i].1 += leg.bytes.saturating_sub(leg.reported.1);
                leg.reported = (leg.packets, leg.bytes);
            }
            let bytes_in: u64 = peer.inbound.iter().map(|t| t.stats.bytes).sum();
            let bytes_out: u64 = peer.legs.iter().map(|l| l.bytes).sum();
            let (prev_in, prev_out) = peer.last_bytes;
            peer.bitrate = (
                ((bytes_in.saturating_sub(prev_in)) as f64 * 8.0 / period) as u64,
                ((bytes_out.saturating_sub(prev_out)) as f64 * 8.0 / period) as u64,
            );
            peer.last_bytes = (bytes_in, bytes_out);
            let content_in: u64 = peer
                .inbound
                .iter()
                .filter(|t| t.feed == Feed::Content)
                .map(|t| t.stats.bytes)
                .sum();
            let content_bitrate =
                (content_in.saturating_sub(peer.last_content_bytes) as f64 * 8.0 / period) as u64;
            peer.last_content_bytes = content_in;
            let losses: Vec<f64> = peer
                .inbound
                .iter_mut()
                .map(|t| t.stats.take_loss())
                .collect();
            peer.loss_up = losses.iter().copied().fold(0.0, f64::max);
            let candidate_type = peer
                .sent_to
                .map(|a| candidate_type(&peer.remote_candidates, a));
            let reported: Vec<_> = peer
                .legs
                .iter()
                .map(|l| l.downstream)
                .filter(|d| d.is_fresh(now))
                .collect();
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
                content_bitrate_in: content_bitrate,
                packets_forwarded: peer.legs.iter().map(|l| l.packets).sum(),
                packets_received: peer.inbound.iter().map(|t| t.stats.received()).sum(),
                keyframe_requests: peer.keyframe_requests,
            });
        }
        metrics::forwarded(metrics::MediaKind::Audio, forwarded[0].0, forwarded[0].1);
        metrics::forwarded(metrics::MediaKind::Video, forwarded[1].0, forwarded[1].1);
        out.sort_by(|a, b| (&a.session, &a.endpoint).cmp(&(&b.session, &b.endpoint)));
        match self.links.lock() {
            Ok(mut links) => *links = out,
            Err(poisoned) => *poisoned.into_inner() = out,
        }
    }
}
