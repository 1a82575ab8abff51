//! The SFU core: every peer connection and the forwarding between them,
//! with no socket, no task and no clock of its own.
//!
//! # Contract
//!
//! The same as the control plane's and as quinn-proto's or str0m's: the
//! caller owns the sockets and the timers, and drives the core with the
//! time passed in.
//!
//! - Input: [`Sfu::handle_datagram`] for what arrived on the media port,
//!   [`Sfu::handle_timeout`] when [`Sfu::poll_timeout`] says, and the
//!   commands (`handle_offer`, `set_policy`, `close`…), each answered at
//!   once.
//! - Output: [`Sfu::poll_transmit`] until `None` (datagrams to send) and
//!   [`Sfu::poll_event`] until `None` (link events, signals for the
//!   clients, link statistics).
//!
//! Each input reads no clock: `now` is the caller's. For a shell with
//! several cores a datagram waits in its connection's inbox until the
//! next poll or input, or until the shell reads the inboxes from several
//! threads ([`Sfu::ingress`], [`Config::batch_reads`]), as it may send
//! the outboxes ([`Sfu::egress`]): a connection's own stack work
//! (decrypting, encrypting, its interceptors) is most of the cost, and
//! touches no other connection. Handling an input marks the connections
//! it touched; polling pumps them (their events handled, their decrypted
//! media routed to other connections' legs, their outgoing datagrams
//! queued), so a batch of datagrams costs one pump per connection instead
//! of one per datagram. Forwarding touches the receivers, so pumping
//! repeats (bounded) until nothing is left.
//!
//! Recording is the one output that is not a datagram or an event: the
//! core hands packets to a [`Recorder`]'s sink, which the shell backs with
//! files written on their own thread.

use crate::demux::Demux;
use crate::peer::Peer;
use crate::record::{Recorder, Recording};
use crate::router::{Feed, MediaKind};
use crate::speaker::ActiveSpeaker;
use crate::stats::LinkStats;
use crate::Config;
use crate::{LinkEvent, MediaError, Owner, PeerId, PeerKind, Signal, SignalPath};
use bitrate::BitrateCaps;
use bytes::BytesMut;
use diemcau_control::{EndpointCode, ForwardingPolicy, SessionId};
use rtc::peer_connection::event::{RTCPeerConnectionEvent, RTCTrackEvent};
use rtc::peer_connection::message::{RTCMessage, TaggedRTCMessage};
use rtc::peer_connection::state::RTCPeerConnectionState;
use rtc::sansio::Protocol;
use rtc::shared::time::SystemInstant;
use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};
use rustc_hash::{FxHashMap, FxHashSet};
use signaling::{candidate_type, Removal};
use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

/// How long a link may stay down (silent, or its connection failed) before
/// it counts as lost: a congested provincial line can miss a beat.
const LOST_GRACE: Duration = Duration::from_secs(3);
/// A link from which nothing at all arrived for this long — no consent
/// check, no media, no RTCP — is down. A site sends audio many times a
/// second and a receiver reports about every second, so silence this long
/// is a cut link; consent (30 s) is far too slow to tell the chair.
const SILENT_LINK: Duration = Duration::from_secs(5);
/// A failed connection that nobody closed is dropped after this long.
const FAILED_REAP: Duration = Duration::from_secs(60);
const STATS_PERIOD: Duration = Duration::from_secs(1);
/// Bound on pump rounds per poll; anything left is flushed next time.
const MAX_PUMP_ROUNDS: usize = 8;

/// A datagram that arrived on the media port.
#[derive(Debug, Clone, Copy)]
pub struct Datagram<'a> {
    pub from: SocketAddr,
    /// The advertised candidate it arrived on.
    pub to: SocketAddr,
    /// UDP, or TCP (ICE-TCP).
    pub protocol: TransportProtocol,
    pub data: &'a [u8],
}

/// A datagram to send.
#[derive(Debug)]
pub struct Transmit {
    /// The candidate to send from.
    pub from: SocketAddr,
    pub to: SocketAddr,
    pub protocol: TransportProtocol,
    pub data: BytesMut,
}

/// One connection's datagrams that arrived and wait for its stack,
/// borrowed apart from every other connection's (see [`Sfu::ingress`]).
pub struct Inbox<'a> {
    peer: &'a mut Peer,
}

impl Inbox<'_> {
    /// Datagrams waiting in it.
    pub fn queued(&self) -> usize {
        self.peer.inbox.len()
    }

    /// Hands them to the connection's stack, in the order they arrived.
    pub fn read(&mut self) {
        self.peer.read_inbox();
    }
}

/// One connection's datagrams waiting to be sent, borrowed apart from
/// every other connection's (see [`Sfu::egress`]).
pub struct Outbox<'a> {
    peer: &'a mut Peer,
    /// Addresses the stack sent to for the first time.
    learnt: Vec<SocketAddr>,
    /// Polled until empty.
    drained: bool,
}

impl Outbox<'_> {
    /// Forwarded packets waiting in it: a lower bound of its datagrams,
    /// known before any is written, so a shell can tell a batch worth
    /// sharing between threads from one that is not.
    pub fn queued(&self) -> usize {
        self.peer.outgoing.len()
    }

    /// The connection's next datagram, encrypted now. `now` is the
    /// instant it is sent at, read by the sending thread: the stack stamps
    /// the connection's sender reports with the wall-clock time it pairs
    /// with the instant of a frame's first write, and a packet can wait in
    /// its outbox for milliseconds on a busy server. Stamped at its
    /// arrival instead, every report would run ahead by that wait, and each
    /// receiver's echo would make the link's round trip look that much
    /// shorter.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Transmit> {
        let peer = &mut *self.peer;
        // Straight into the stack's pipeline, not through the leg's
        // sender: the sender would check the SSRC, the payload type and
        // every extension against the leg and copy out its track id, a
        // few per cent of a copy's cost, and the leg's translation has
        // already made each packet what those checks ask for. The stack
        // routes by SSRC; the track id is not read.
        for packet in peer.outgoing.drain(..) {
            let message = TaggedRTCMessage {
                now,
                message: RTCMessage::RtpPacket(String::new(), packet),
            };
            if let Err(err) = peer.pc.handle_write(message) {
                tracing::trace!(peer = %peer.id, %err, "stack refused packet");
            }
        }
        let Some(out) = self.peer.pc.poll_write() else {
            self.drained = true;
            return None;
        };
        let to = out.transport.peer_addr;
        if self.peer.sent_to != Some(to) {
            self.peer.sent_to = Some(to);
            self.learnt.push(to);
        }
        Some(Transmit {
            from: out.transport.local_addr,
            to,
            protocol: out.transport.transport_protocol,
            data: out.message,
        })
    }
}

/// What the core tells its shell, besides datagrams.
#[derive(Debug)]
pub enum SfuEvent {
    /// A link came up, was lost or closed; a recording stopped.
    Link(LinkEvent),
    /// A message for a `/ws` client.
    Signal(PeerId, Signal),
    /// A connection is gone: its signals end here.
    PeerRemoved(PeerId),
    /// Once a second: every link's figures, and what was forwarded since
    /// the last report as (packets, bytes) for audio and for video.
    Stats {
        /// Every connection's figures, by session and endpoint.
        links: Vec<LinkStats>,
        /// (packets, bytes) of audio, then of video.
        forwarded: [(u64, u64); 2],
    },
}

#[derive(Default)]
struct Session {
    policy: ForwardingPolicy,
    speaker: ActiveSpeaker,
    /// The peer publishing each endpoint's media (the latest to join wins).
    publishers: HashMap<EndpointCode, PeerId>,
    /// Endpoints under a link test: each gets its own media back on its
    /// floor slot.
    loopback: HashSet<EndpointCode>,
    /// The programme being written, while the policy says so.
    recording: Option<Recording>,
    /// A recording failed (the disk is full, say): no new one until the
    /// policy stops recording and starts again.
    recording_failed: bool,
}

/// Bounds on what clients may make the media plane hold.
#[derive(Debug, Clone, Copy)]
struct ConnectionLimits {
    total: usize,
    per_session: usize,
    viewers_per_session: usize,
    per_token: usize,
    media_lines: usize,
    candidates: usize,
    /// A connection not up by then is dropped.
    connect_within: Duration,
}

impl ConnectionLimits {
    fn from_config(cfg: &Config) -> ConnectionLimits {
        ConnectionLimits {
            total: cfg.max_connections,
            per_session: cfg.max_connections_per_session,
            viewers_per_session: cfg.max_viewers_per_session,
            per_token: cfg.max_connections_per_token,
            media_lines: cfg.max_media_lines,
            candidates: cfg.max_candidates,
            connect_within: cfg.connect_timeout,
        }
    }
}

/// A publisher's connection and one of its feeds: what a route starts from.
type RouteKey = (PeerId, Feed);

/// Where the core's connections can be reached: the host candidates, and
/// whether each also listens on TCP.
#[derive(Debug, Clone)]
pub struct Candidates {
    pub addresses: Vec<SocketAddr>,
    pub tcp: bool,
}

pub struct Sfu {
    /// The host candidates every connection advertises, one per socket.
    candidates: Vec<SocketAddr>,
    tcp: bool,
    consent_timeout: Duration,
    limits: ConnectionLimits,
    demux: Demux<PeerId>,
    // Keyed by ids the server draws at random, so a fast hasher is safe
    // here; maps keyed by what clients send (addresses, ufrags) keep
    // SipHash.
    peers: FxHashMap<PeerId, Peer>,
    sessions: HashMap<SessionId, Session>,
    /// Which legs each publisher's track feeds, rebuilt when a policy,
    /// a peer or the active speaker changes.
    routes: FxHashMap<RouteKey, Vec<(PeerId, usize)>>,
    dirty: FxHashSet<PeerId>,
    /// Connections with datagrams in their inbox (see [`Sfu::ingress`]).
    ingress: FxHashSet<PeerId>,
    /// Whether datagrams wait in the inboxes (see [`Config::batch_reads`]).
    pub(super) batch_reads: bool,
    /// Connections whose stack may hold datagrams to send, or whose
    /// forwarded packets wait to be written to it, until the shell takes
    /// them (see [`Sfu::egress`]).
    egress: FxHashSet<PeerId>,
    /// Connections removed whose last datagrams (the DTLS close alert)
    /// the shell has yet to take; gone once it has.
    closing: Vec<Peer>,
    /// Sessions being recorded now: while none is, a packet costs no
    /// lookup for the recording.
    recordings_live: usize,
    transmits: VecDeque<Transmit>,
    events: VecDeque<SfuEvent>,
    /// The latest instant an input brought: pumping on a poll uses it.
    now: Instant,
    next_stats: Instant,
    started: Instant,
    /// `started` on the wall clock.
    started_wall: SystemTime,
    wall: SystemInstant,
    caps: BitrateCaps,
    /// Opens recordings; none: this server does not record.
    recorder: Option<Box<dyn Recorder>>,
}

impl Sfu {
    /// A core with no connections. `now` and `wall` are the same instant on
    /// the monotonic and the wall clock.
    pub fn new(
        cfg: &Config,
        candidates: Candidates,
        recorder: Option<Box<dyn Recorder>>,
        now: Instant,
        wall: SystemTime,
    ) -> Sfu {
        Sfu {
            candidates: candidates.addresses,
            tcp: candidates.tcp,
            consent_timeout: cfg.consent_timeout,
            limits: ConnectionLimits::from_config(cfg),
            demux: Demux::new(),
            peers: FxHashMap::default(),
            sessions: HashMap::new(),
            routes: FxHashMap::default(),
            dirty: FxHashSet::default(),
            ingress: FxHashSet::default(),
            batch_reads: cfg.batch_reads,
            egress: FxHashSet::default(),
            closing: Vec::new(),
            recordings_live: 0,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            now,
            next_stats: now + STATS_PERIOD,
            started: now,
            started_wall: wall,
            wall: SystemInstant::now(now),
            caps: BitrateCaps::from_config(cfg),
            recorder,
        }
    }

    /// The wall-clock time at `now`.
    fn wall_clock(&self, now: Instant) -> SystemTime {
        self.started_wall + now.saturating_duration_since(self.started)
    }

    /// Every input but a datagram: the clock moves, and what arrived
    /// before is read first, as it came first.
    fn advance(&mut self, now: Instant) {
        self.now = self.now.max(now);
        self.read_inboxes();
    }

    /// Reads every inbox here, one connection after another.
    fn read_inboxes(&mut self) {
        for id in self.ingress.drain() {
            if let Some(peer) = self.peers.get_mut(&id) {
                peer.read_inbox();
            }
        }
    }

    /// Hands `read` the connections with datagrams waiting, each borrowed
    /// on its own, to be read by their stacks (decrypted, through their
    /// interceptors) on as many threads as the shell likes. What `read`
    /// leaves is read here afterwards. A shell that calls this before
    /// [`Sfu::egress`] spreads both directions' per-connection work;
    /// without it the inboxes are read on the next poll or input.
    pub fn ingress(&mut self, read: impl FnOnce(&mut [Inbox<'_>])) {
        if self.ingress.is_empty() {
            return;
        }
        let waiting = std::mem::take(&mut self.ingress);
        let mut inboxes: Vec<Inbox<'_>> = self
            .peers
            .iter_mut()
            .filter(|(id, _)| waiting.contains(*id))
            .map(|(_, peer)| Inbox { peer })
            .collect();
        read(&mut inboxes);
        for inbox in &mut inboxes {
            inbox.read();
        }
        drop(inboxes);
        self.ingress = waiting;
        self.ingress.clear();
    }

    /// The next datagram to send, once every touched connection is pumped.
    /// A shell that sends from several threads uses [`Sfu::egress`]
    /// instead; the two may be mixed.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        if self.transmits.is_empty() {
            let mut queued = std::mem::take(&mut self.transmits);
            let now = self.now;
            self.egress(|outboxes| {
                for outbox in outboxes {
                    while let Some(t) = outbox.poll_transmit(now) {
                        queued.push_back(t);
                    }
                }
            });
            self.transmits = queued;
        }
        self.transmits.pop_front()
    }

    /// Pumps every touched connection, then hands `send` the connections
    /// that have datagrams to send, each borrowed on its own: encrypting
    /// and sending is most of a forwarded packet's cost, and a shell with
    /// several cores may spread the outboxes over threads. `send` must
    /// drain each outbox (poll it until `None`); one it leaves is handed
    /// over again next time.
    pub fn egress(&mut self, send: impl FnOnce(&mut [Outbox<'_>])) {
        self.flush(self.now);
        if self.egress.is_empty() && self.closing.is_empty() {
            return;
        }
        let pending = std::mem::take(&mut self.egress);
        let outbox = |peer| Outbox {
            peer,
            learnt: Vec::new(),
            drained: false,
        };
        let mut outboxes: Vec<Outbox<'_>> = self
            .peers
            .iter_mut()
            .filter(|(id, _)| pending.contains(*id))
            .map(|(_, peer)| outbox(peer))
            .collect();
        let live = outboxes.len();
        outboxes.extend(self.closing.iter_mut().map(outbox));
        send(&mut outboxes);
        let mut learnt = Vec::new();
        let mut left = Vec::new();
        for outbox in &mut outboxes[..live] {
            let peer = &mut *outbox.peer;
            peer.next_timeout = peer.pc.poll_timeout();
            learnt.extend(outbox.learnt.iter().map(|a| (peer.id, *a)));
            if !outbox.drained {
                left.push(peer.id);
            }
        }
        // A removed connection stays until its outbox is drained.
        let drained: Vec<bool> = outboxes[live..].iter().map(|o| o.drained).collect();
        drop(outboxes);
        let mut drained = drained.into_iter();
        self.closing.retain(|_| !drained.next().unwrap_or(true));
        // The stack sends only to addresses it verified: what comes back
        // from them is routed to this connection (see `demux`).
        for (id, addr) in learnt {
            self.demux.learn(addr, &id);
        }
        self.egress = pending;
        self.egress.clear();
        self.egress.extend(left);
    }

    /// The next event for the shell.
    pub fn poll_event(&mut self) -> Option<SfuEvent> {
        if self.events.is_empty() {
            self.flush(self.now);
        }
        self.events.pop_front()
    }

    /// When [`Sfu::handle_timeout`] is due next; at once while work that
    /// an event poll left (a connection to pump, datagrams to send) waits.
    pub fn poll_timeout(&self) -> Instant {
        if !self.dirty.is_empty() || !self.egress.is_empty() || !self.closing.is_empty() {
            return self.now;
        }
        self.peers
            .values()
            .filter_map(|p| p.next_timeout)
            .min()
            .map_or(self.next_stats, |t| t.min(self.next_stats))
    }

    /// Time passed: connections' timers, and once a second the active
    /// speakers, lost links, statistics and recordings.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.advance(now);
        for peer in self.peers.values_mut() {
            if peer.next_timeout.is_some_and(|t| t <= now) {
                if let Err(err) = peer.pc.handle_timeout(now) {
                    tracing::debug!(peer = %peer.id, %err, "timeout handling failed");
                }
                self.dirty.insert(peer.id);
            }
        }
        if now >= self.next_stats {
            self.tick(now);
            self.next_stats = now + STATS_PERIOD;
        }
    }

    /// The core stops: every connection closed, every recording finished
    /// (waiting for its file to be closed).
    pub fn shut_down(&mut self) {
        for peer in self.peers.values_mut() {
            let _ = peer.pc.close();
        }
        // Their close alerts go out with the shell's last drain.
        self.egress.extend(self.peers.keys().copied());
        self.finish_recordings();
    }

    /// A datagram that arrived on the media port.
    pub fn handle_datagram(&mut self, now: Instant, datagram: Datagram<'_>) {
        // Not `advance`: the datagrams before this one stay in their
        // inboxes, to be read together.
        self.now = self.now.max(now);
        let Datagram {
            from,
            to,
            protocol,
            data,
        } = datagram;
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
        peer.inbox.push(msg);
        if self.batch_reads {
            self.ingress.insert(id);
        } else {
            peer.read_inbox();
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
            self.emit(SfuEvent::Link(LinkEvent::Up {
                session: session.clone(),
                endpoint,
                peer: id,
            }));
            self.rebuild_routes(&session, now);
        }
    }

    /// Pumps dirty peers until quiet (bounded).
    fn flush(&mut self, now: Instant) {
        self.read_inboxes();
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
        self.events.extend(peer.signal_events());
        self.egress.insert(id);
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
    }

    /// Whether `id` is the peer carrying `endpoint` now: a replaced peer's
    /// link events would contradict its successor's.
    fn is_publisher(&self, session: &SessionId, endpoint: &EndpointCode, id: PeerId) -> bool {
        self.sessions
            .get(session)
            .and_then(|s| s.publishers.get(endpoint))
            == Some(&id)
    }

    fn emit(&mut self, event: SfuEvent) {
        self.events.push_back(event);
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

    /// The session's forwarding policy changed (after each commit).
    pub fn set_policy(&mut self, now: Instant, session: SessionId, policy: ForwardingPolicy) {
        self.advance(now);
        self.sessions.entry(session.clone()).or_default().policy = policy;
        self.follow_recording(&session, now);
        self.ensure_tiles(&session);
        self.rebuild_routes(&session, now);
    }

    /// Starts or ends a link test: the endpoint gets its own media back.
    pub fn set_loopback(
        &mut self,
        now: Instant,
        session: SessionId,
        endpoint: EndpointCode,
        on: bool,
    ) {
        self.advance(now);
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

    /// A client's offer: a new connection, and the answer to send back.
    pub fn handle_offer(
        &mut self,
        now: Instant,
        session: SessionId,
        kind: PeerKind,
        offer: &str,
        opener: (SignalPath, Option<Owner>),
    ) -> Result<(PeerId, String), MediaError> {
        self.advance(now);
        self.accept_offer(session, kind, offer, opener, now)
    }

    /// A client's answer to the server's offer.
    pub fn handle_answer(
        &mut self,
        now: Instant,
        peer: PeerId,
        sdp: String,
    ) -> Result<(), MediaError> {
        self.advance(now);
        self.accept_answer(peer, sdp, now)
    }

    /// A client's new offer on its connection; returns the answer.
    pub fn handle_renegotiation(
        &mut self,
        now: Instant,
        peer: PeerId,
        offer: &str,
    ) -> Result<String, MediaError> {
        self.advance(now);
        self.renegotiate(peer, offer, now)
    }

    /// A trickled client candidate, JSON of `RTCIceCandidateInit`.
    pub fn handle_candidate(&mut self, peer: PeerId, json: &str) -> Result<(), MediaError> {
        self.add_candidate(peer, json)
    }

    /// Restarts ICE on a `/ws` connection: a server offer follows.
    pub fn restart_ice(&mut self, peer: PeerId) -> Result<(), MediaError> {
        match self.peers.get_mut(&peer) {
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
        }
    }

    /// A technician's console names the sites whose tiles it shows.
    pub fn set_watching(
        &mut self,
        now: Instant,
        peer: PeerId,
        sites: BTreeSet<EndpointCode>,
    ) -> Result<(), MediaError> {
        self.advance(now);
        self.watch(peer, sites, now)
    }

    /// Closes a connection on request (WHIP DELETE, a client that left).
    pub fn close(&mut self, now: Instant, peer: PeerId) -> Result<(), MediaError> {
        self.advance(now);
        self.remove_known(peer, Removal::Closed, now)
    }

    /// Drops a connection whose signaling vanished: its link is lost.
    pub fn drop_peer(&mut self, now: Instant, peer: PeerId) -> Result<(), MediaError> {
        self.advance(now);
        self.remove_known(peer, Removal::Lost, now)
    }

    /// The session and kind of a connection.
    pub fn describe(&self, peer: PeerId) -> Result<(SessionId, PeerKind), MediaError> {
        self.peers
            .get(&peer)
            .map(|p| (p.session.clone(), p.kind.clone()))
            .ok_or(MediaError::UnknownPeer)
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
                self.emit(SfuEvent::Link(LinkEvent::Lost {
                    session,
                    endpoint,
                    peer: id,
                }));
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
        out.sort_by(|a, b| (&a.session, &a.endpoint).cmp(&(&b.session, &b.endpoint)));
        self.emit(SfuEvent::Stats {
            links: out,
            forwarded,
        });
    }
}

mod bitrate;
mod forwarding;
mod recording;
mod signaling;

#[cfg(test)]
mod harness;
#[cfg(test)]
mod tests;
