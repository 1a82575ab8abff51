//! A network in memory for the core's tests: clients built on the same
//! sans-IO WebRTC stack, datagrams handed across by function calls, and a
//! clock that moves only when a test says so. ICE, DTLS and SRTP run for
//! real; nothing touches a socket, and a minute of meeting takes well under
//! a second.

use super::{Candidates, Datagram, Inbox, Sfu, SfuEvent, Transmit};
use crate::record::tape::Tape;
use crate::record::Recorder;
use crate::router::{MediaKind, SlotKind};
use crate::Config;
use crate::{LinkEvent, PeerId, PeerKind, Signal, SignalPath};
use bytes::Bytes;
use diemcau_control::{EndpointCode, ForwardingPolicy, SessionId};
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::interceptor_registry::register_default_interceptors;
use rtc::peer_connection::configuration::media_engine::{
    MediaEngine, MIME_TYPE_OPUS, MIME_TYPE_VP8,
};
use rtc::peer_connection::configuration::setting_engine::SettingEngineBuilder;
use rtc::peer_connection::configuration::RTCConfigurationBuilder;
use rtc::peer_connection::event::RTCPeerConnectionEvent;
use rtc::peer_connection::message::RTCMessage;
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::state::RTCPeerConnectionState;
use rtc::peer_connection::{RTCPeerConnection, RTCPeerConnectionBuilder};
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
};
use rtc::rtp_transceiver::{RTCRtpSenderId, RTCRtpTransceiverDirection, RTCRtpTransceiverInit};
use rtc::sansio::Protocol;
use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

/// The media port's one address.
pub(super) const SERVER: &str = "127.0.0.1:50000";
/// How far the clock moves per step when nothing else is due.
const STEP: Duration = Duration::from_millis(5);
/// Datagram exchanges per step before time moves on regardless.
const MAX_ROUNDS: usize = 64;

/// VP8 payloads (RFC 7741): a keyframe's first packet, a delta frame's.
pub(super) const VP8_KEYFRAME: [u8; 4] = [0x10, 0x00, 0x9d, 0x01];
pub(super) const VP8_DELTA: [u8; 4] = [0x10, 0x01, 0x00, 0x00];

/// One packet a client received: the leg's SSRC and the header fields the
/// tests look at.
#[derive(Debug, Clone)]
pub(super) struct Received {
    pub(super) ssrc: u32,
    pub(super) seq: u16,
    pub(super) timestamp: u32,
    pub(super) payload: Bytes,
}

/// What a client publishes: one RTP stream per kind, with its own
/// sequence numbers and clock.
struct Outgoing {
    sender: RTCRtpSenderId,
    ssrc: u32,
    payload_type: u8,
    seq: u16,
    timestamp: u32,
}

pub(super) struct Client {
    pub(super) addr: SocketAddr,
    pub(super) peer: PeerId,
    pc: RTCPeerConnection,
    audio: Option<Outgoing>,
    video: Option<Outgoing>,
    pub(super) connected: bool,
    /// Its network is cut: what it sends and what is sent to it is lost.
    cut: bool,
    pub(super) received: Vec<Received>,
    /// Datagrams the server sent it, of any kind.
    pub(super) datagrams: usize,
    pub(super) signals: Vec<Signal>,
}

pub(super) struct Net {
    pub(super) now: Instant,
    pub(super) sfu: Sfu,
    pub(super) clients: HashMap<String, Client>,
    pub(super) links: Vec<LinkEvent>,
    pub(super) session: SessionId,
    next_port: u16,
    /// Threads the core's inboxes are read and its outboxes sent from, as
    /// a shell with several cores does; 1: sent through `poll_transmit`.
    threads: usize,
    /// Real time spent reading the datagrams that reached the core, and
    /// how many: what a shell's reading costs, for the measurement in the
    /// tests.
    pub(super) reading: (Duration, usize),
    /// Real time spent taking the core's datagrams, and how many: what a
    /// shell's sending costs, for the measurement in the tests.
    pub(super) sending: (Duration, usize),
}

pub(super) fn code(s: &str) -> EndpointCode {
    EndpointCode(s.to_string())
}

impl Net {
    pub(super) fn new() -> Net {
        Net::with_recorder(None)
    }

    /// A network whose core records onto `tape`.
    pub(super) fn recording_onto(tape: &Tape) -> Net {
        Net::with_recorder(Some(Box::new(tape.clone())))
    }

    fn with_recorder(recorder: Option<Box<dyn Recorder>>) -> Net {
        let now = Instant::now();
        let server: SocketAddr = SERVER.parse().expect("an address");
        let sfu = Sfu::new(
            &Config::default(),
            Candidates {
                addresses: vec![server],
                tcp: false,
            },
            recorder,
            now,
            SystemTime::now(),
        );
        Net {
            now,
            sfu,
            clients: HashMap::new(),
            links: Vec::new(),
            session: SessionId("s1".into()),
            next_port: 40_000,
            threads: 1,
            reading: (Duration::ZERO, 0),
            sending: (Duration::ZERO, 0),
        }
    }

    /// Reads (from the inboxes) and sends the core's datagrams from
    /// `threads` threads from now on.
    pub(super) fn use_threads(&mut self, threads: usize) {
        self.threads = threads.max(1);
        // As the shell does with several threads; with one, so that a
        // measurement times the same work either way.
        self.sfu.batch_reads = true;
    }

    /// Has the core's inboxes read the way a shell with `self.threads`
    /// threads reads them.
    fn read(&mut self) {
        let threads = self.threads;
        let started = Instant::now();
        let mut datagrams = 0;
        self.sfu.ingress(|inboxes| {
            datagrams = inboxes.iter().map(Inbox::queued).sum();
            let share = inboxes.len().div_ceil(threads).max(1);
            std::thread::scope(|scope| {
                let mut chunks = inboxes.chunks_mut(share);
                let mine = chunks.next().unwrap_or_default();
                for chunk in chunks {
                    scope.spawn(move || chunk.iter_mut().for_each(Inbox::read));
                }
                mine.iter_mut().for_each(Inbox::read);
            });
        });
        self.reading.0 += started.elapsed();
        self.reading.1 += datagrams;
    }

    /// What the core has to send, taken the way a shell with
    /// `self.threads` threads takes it.
    fn transmits(&mut self) -> Vec<Transmit> {
        self.read();
        let started = Instant::now();
        let out = self.take_transmits();
        self.sending.0 += started.elapsed();
        self.sending.1 += out.len();
        out
    }

    fn take_transmits(&mut self) -> Vec<Transmit> {
        let mut out = Vec::new();
        if self.threads == 1 {
            while let Some(t) = self.sfu.poll_transmit() {
                out.push(t);
            }
            return out;
        }
        let threads = self.threads;
        let sent = Mutex::new(Vec::new());
        let now = self.now;
        self.sfu.egress(|outboxes| {
            let share = outboxes.len().div_ceil(threads).max(1);
            std::thread::scope(|scope| {
                for chunk in outboxes.chunks_mut(share) {
                    let sent = &sent;
                    scope.spawn(move || {
                        let mut mine = Vec::new();
                        for outbox in chunk {
                            while let Some(t) = outbox.poll_transmit(now) {
                                mine.push(t);
                            }
                        }
                        sent.lock().expect("no sender panicked").extend(mine);
                    });
                }
            });
        });
        out.extend(sent.into_inner().expect("no sender panicked"));
        out
    }

    /// A network with `sites` joined, in order.
    pub(super) fn with_sites(sites: &[&str]) -> Net {
        let mut net = Net::new();
        net.join_all(sites);
        net
    }

    pub(super) fn join_all(&mut self, sites: &[&str]) {
        for s in sites {
            self.join(s);
        }
    }

    /// A site that publishes audio and video and receives the chair, the
    /// floor and the content slots; connected before it returns.
    pub(super) fn join(&mut self, name: &str) -> PeerId {
        self.join_as(name, PeerKind::Participant(code(name)), true)
    }

    /// A WHEP-like viewer: receives only.
    pub(super) fn watch(&mut self, name: &str) -> PeerId {
        self.join_as(name, PeerKind::Viewer, false)
    }

    fn join_as(&mut self, name: &str, kind: PeerKind, publish: bool) -> PeerId {
        let addr = SocketAddr::from(([127, 0, 0, 2], self.next_port));
        self.next_port += 1;
        let mut pc = client_peer(addr, self.now);
        let (audio, video) = if publish {
            let audio = add_sender(&mut pc, RtpCodecKind::Audio, MIME_TYPE_OPUS, 48_000, 2);
            let video = add_sender(&mut pc, RtpCodecKind::Video, MIME_TYPE_VP8, 90_000, 0);
            (Some(audio), Some(video))
        } else {
            (None, None)
        };
        let recv = || RTCRtpTransceiverInit {
            direction: RTCRtpTransceiverDirection::Recvonly,
            streams: vec![],
            send_encodings: vec![],
        };
        let kinds: &[RtpCodecKind] = if publish {
            &[
                RtpCodecKind::Audio,
                RtpCodecKind::Video,
                RtpCodecKind::Video,
            ]
        } else {
            &[
                RtpCodecKind::Audio,
                RtpCodecKind::Video,
                RtpCodecKind::Audio,
                RtpCodecKind::Video,
                RtpCodecKind::Video,
            ]
        };
        for kind in kinds {
            pc.add_transceiver_from_kind(*kind, Some(recv()))
                .expect("a receiving line");
        }
        let offer = pc.create_offer(None).expect("an offer");
        pc.set_local_description(self.now, offer.clone())
            .expect("own offer applied");
        let (peer, answer) = self
            .sfu
            .handle_offer(
                self.now,
                self.session.clone(),
                kind,
                &offer.sdp,
                (SignalPath::WebSocket, None),
            )
            .expect("offer accepted");
        let answer = RTCSessionDescription::answer(answer).expect("an answer");
        pc.set_remote_description(self.now, answer)
            .expect("answer applied");
        let mut client = Client {
            addr,
            peer,
            pc,
            audio: None,
            video: None,
            connected: false,
            cut: false,
            received: Vec::new(),
            datagrams: 0,
            signals: Vec::new(),
        };
        // The negotiated payload types, read back now the answer is in.
        client.audio = audio.map(|o| with_payload_type(&mut client.pc, o));
        client.video = video.map(|o| with_payload_type(&mut client.pc, o));
        self.clients.insert(name.to_string(), client);
        for _ in 0..400 {
            if self.clients[name].connected {
                return peer;
            }
            self.step();
        }
        panic!("{name} did not connect in 2 s of fake time");
    }

    pub(super) fn set_policy(&mut self, policy: ForwardingPolicy) {
        self.sfu.set_policy(self.now, self.session.clone(), policy);
        self.step();
    }

    /// One frame of audio and one of video from `name`: a keyframe or not.
    pub(super) fn send_frame(&mut self, name: &str, keyframe: bool) {
        let payload: &'static [u8] = if keyframe { &VP8_KEYFRAME } else { &VP8_DELTA };
        let now = self.now;
        self.client(name)
            .send_pair(now, Bytes::from_static(payload));
        self.step();
    }

    /// `frames` video packets of `size` bytes from each of `names` (not
    /// keyframes) and as many of audio, all before the core is stepped: a
    /// burst such as a loaded media task reads in one wakeup.
    pub(super) fn send_bursts(&mut self, names: &[&str], frames: usize, size: usize) {
        let mut delta = VP8_DELTA.to_vec();
        delta.resize(size.max(VP8_DELTA.len()), 0);
        let delta = Bytes::from(delta);
        let now = self.now;
        for name in names {
            let client = self.client(name);
            for _ in 0..frames {
                client.send_pair(now, delta.clone());
            }
        }
        self.step();
    }

    fn client(&mut self, name: &str) -> &mut Client {
        match self.clients.get_mut(name) {
            Some(c) => c,
            None => panic!("no client {name}"),
        }
    }

    /// `frames` frames from each of `names` in turn, 20 ms apart; the
    /// first of each is a keyframe when `keyframe_first`.
    pub(super) fn talk(&mut self, names: &[&str], frames: usize, keyframe_first: bool) {
        for i in 0..frames {
            for name in names {
                self.send_frame(name, keyframe_first && i == 0);
            }
            self.advance(Duration::from_millis(20));
        }
    }

    /// Moves the clock by `by`, in steps.
    pub(super) fn advance(&mut self, by: Duration) {
        let until = self.now + by;
        while self.now < until {
            self.step();
        }
    }

    /// Exchanges datagrams until quiet (bounded), fires what is due, and
    /// moves the clock one step.
    pub(super) fn step(&mut self) {
        for _ in 0..MAX_ROUNDS {
            let mut moved = false;
            for c in self.clients.values_mut() {
                while let Some(out) = c.pc.poll_write() {
                    moved = true;
                    if c.cut {
                        continue;
                    }
                    self.sfu.handle_datagram(
                        self.now,
                        Datagram {
                            from: c.addr,
                            to: out.transport.peer_addr,
                            protocol: TransportProtocol::UDP,
                            data: &out.message,
                        },
                    );
                }
            }
            for t in self.transmits() {
                moved = true;
                let Some(c) = self.clients.values_mut().find(|c| c.addr == t.to && !c.cut) else {
                    continue;
                };
                let msg = TaggedBytesMut {
                    now: self.now,
                    transport: TransportContext {
                        local_addr: c.addr,
                        peer_addr: t.from,
                        ecn: None,
                        transport_protocol: TransportProtocol::UDP,
                    },
                    message: t.data,
                };
                c.datagrams += 1;
                let _ = c.pc.handle_read(msg);
            }
            while let Some(event) = self.sfu.poll_event() {
                match event {
                    SfuEvent::Link(e) => self.links.push(e),
                    SfuEvent::Signal(peer, s) => {
                        if let Some(c) = self.clients.values_mut().find(|c| c.peer == peer) {
                            c.signals.push(s);
                        }
                    }
                    SfuEvent::PeerRemoved(_) | SfuEvent::Stats { .. } => {}
                }
            }
            for c in self.clients.values_mut() {
                c.drain();
            }
            if !moved {
                break;
            }
        }
        self.now += STEP;
        if self.sfu.poll_timeout() <= self.now {
            self.sfu.handle_timeout(self.now);
        }
        for c in self.clients.values_mut() {
            if c.pc.poll_timeout().is_some_and(|t| t <= self.now) {
                let _ = c.pc.handle_timeout(self.now);
            }
        }
    }

    /// The SSRC of the leg of `name`'s connection that carries `slot`'s `kind`.
    pub(super) fn leg_ssrc(&self, name: &str, slot: &SlotKind, kind: MediaKind) -> u32 {
        let peer = self.clients[name].peer;
        self.sfu.peers[&peer]
            .legs
            .iter()
            .find(|l| l.slot == *slot && l.kind == kind)
            .map(|l| l.ssrc)
            .unwrap_or_else(|| panic!("{name} has no {slot:?} {kind:?} leg"))
    }

    /// What `name` received on the leg of `slot`'s `kind`.
    pub(super) fn on_leg(&self, name: &str, slot: &SlotKind, kind: MediaKind) -> Vec<Received> {
        let ssrc = self.leg_ssrc(name, slot, kind);
        self.clients[name]
            .received
            .iter()
            .filter(|r| r.ssrc == ssrc)
            .cloned()
            .collect()
    }

    /// Cuts `name`'s network, or mends it.
    pub(super) fn cut(&mut self, name: &str, cut: bool) {
        if let Some(c) = self.clients.get_mut(name) {
            c.cut = cut;
        }
    }

    /// Forgets what every client received so far.
    pub(super) fn clear(&mut self) {
        for c in self.clients.values_mut() {
            c.received.clear();
        }
    }

    /// Keyframe requests the core sent to `name` so far.
    pub(super) fn keyframe_requests(&self, name: &str) -> u64 {
        self.sfu.peers[&self.clients[name].peer].keyframe_requests
    }
}

impl Client {
    /// One audio packet and one video packet carrying `video`.
    fn send_pair(&mut self, now: Instant, video: Bytes) {
        if let Some(a) = self.audio.as_mut() {
            send(
                &mut self.pc,
                a,
                now,
                Bytes::from_static(&[0xfc, 0xff, 0xfe]),
                960,
            );
        }
        if let Some(v) = self.video.as_mut() {
            send(&mut self.pc, v, now, video, 3_000);
        }
    }

    fn drain(&mut self) {
        while let Some(event) = self.pc.poll_event() {
            if let RTCPeerConnectionEvent::OnConnectionStateChangeEvent(state) = event {
                self.connected = state == RTCPeerConnectionState::Connected;
            }
        }
        while let Some(msg) = self.pc.poll_read() {
            if let RTCMessage::RtpPacket(_, p) = msg.message {
                self.received.push(Received {
                    ssrc: p.header.ssrc,
                    seq: p.header.sequence_number,
                    timestamp: p.header.timestamp,
                    payload: p.payload,
                });
            }
        }
    }

    /// Sends a PLI naming the leg `ssrc` it receives, as a decoder that
    /// lost its picture would.
    pub(super) fn request_keyframe(&mut self, ssrc: u32, now: Instant) {
        let receivers: Vec<_> = self.pc.get_receivers().collect();
        for id in receivers {
            let Some(mut r) = self.pc.rtp_receiver(id) else {
                continue;
            };
            if r.track().ssrcs().any(|s| s == ssrc) {
                let pli = PictureLossIndication {
                    sender_ssrc: 0,
                    media_ssrc: ssrc,
                };
                let _ = r.write_rtcp(now, vec![Box::new(pli)]);
            }
        }
    }
}

fn client_peer(addr: SocketAddr, now: Instant) -> RTCPeerConnection {
    let mut media_engine = MediaEngine::default();
    media_engine
        .register_default_codecs()
        .expect("default codecs");
    let registry =
        register_default_interceptors(rtc::interceptor::Registry::new(), &mut media_engine)
            .expect("default interceptors");
    let settings = SettingEngineBuilder::new()
        .with_multicast_dns_mode(rtc::ice::mdns::MulticastDnsMode::Disabled)
        .build();
    let mut pc = RTCPeerConnectionBuilder::new()
        .with_configuration(RTCConfigurationBuilder::new().build())
        .with_media_engine(media_engine)
        .with_setting_engine(settings)
        .with_interceptor_registry(registry)
        .build(now)
        .expect("a client");
    let candidate = crate::engine::host_candidate(addr, false).expect("a host candidate");
    pc.add_local_candidate(candidate).expect("candidate added");
    pc
}

fn add_sender(
    pc: &mut RTCPeerConnection,
    kind: RtpCodecKind,
    mime: &str,
    clock_rate: u32,
    channels: u16,
) -> Outgoing {
    let ssrc: u32 = rand::random();
    let id = format!("{}-{ssrc}", mime.replace('/', "-"));
    let track = MediaStreamTrack::new(
        "client".into(),
        id.clone(),
        id,
        kind,
        vec![RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters {
                ssrc: Some(ssrc),
                ..Default::default()
            },
            active: true,
            codec: RTCRtpCodec {
                mime_type: mime.to_string(),
                clock_rate,
                channels,
                ..Default::default()
            },
            ..Default::default()
        }],
    );
    let sender = pc.add_track(track).expect("a sending line");
    Outgoing {
        sender,
        ssrc,
        payload_type: 0,
        seq: rand::random(),
        timestamp: rand::random(),
    }
}

fn with_payload_type(pc: &mut RTCPeerConnection, mut out: Outgoing) -> Outgoing {
    if let Some(mut sender) = pc.rtp_sender(out.sender) {
        let params = sender.get_parameters();
        if let Some(codec) = params.rtp_parameters.codecs.first() {
            out.payload_type = codec.payload_type;
        }
    }
    out
}

fn send(pc: &mut RTCPeerConnection, out: &mut Outgoing, now: Instant, payload: Bytes, ticks: u32) {
    out.seq = out.seq.wrapping_add(1);
    out.timestamp = out.timestamp.wrapping_add(ticks);
    let packet = rtc::rtp::Packet {
        header: rtc::rtp::header::Header {
            version: 2,
            marker: true,
            payload_type: out.payload_type,
            sequence_number: out.seq,
            timestamp: out.timestamp,
            ssrc: out.ssrc,
            ..Default::default()
        },
        payload,
    };
    if let Some(mut sender) = pc.rtp_sender(out.sender) {
        let _ = sender.write_rtp(now, packet);
    }
}
