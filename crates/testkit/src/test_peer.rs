//! The scripted test client: synthetic Opus and VP8 whose payloads name
//! the sender, keyframes on request, and a record of every packet received.

use crate::payload::{audio_payload, parse_marker, video_payload};
use crate::peer::{local_track, OnTrack, Peer, PeerOptions, AUDIO_LEVEL_URI};
use diemcau_sfu::rtcp_tap::{asks_keyframe, bitrate_ceiling};
use rtc::peer_connection::configuration::media_engine::{MIME_TYPE_OPUS, MIME_TYPE_VP8};
use rtc::rtp;
use rtc::rtp_transceiver::rtp_sender::{RTCRtpCodec, RtpCodecKind};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinHandle;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};
use webrtc::media_stream::track_remote::TrackRemoteEvent;
use webrtc::peer_connection::PeerConnection;

const OPUS_PT: u8 = 111;
/// −127 dBov: silence.
const SILENT: u8 = 127;
const VP8_PT: u8 = 96;
/// The synthetic publisher stops by itself after this many audio packets
/// (20 minutes), so a forgotten peer cannot run forever.
const MAX_SEND_TICKS: u32 = 60_000;
/// How long gathering may take on loopback.
const GATHER_LIMIT: Duration = Duration::from_secs(5);

/// One received RTP packet.
#[derive(Debug, Clone)]
pub struct Rx {
    /// The stream id of the server's leg (`chair`, `floor`, `tile-30`).
    pub stream: String,
    /// `audio` or `video`.
    pub kind: &'static str,
    /// The sender named in the payload.
    pub from: String,
    /// The sender's counter.
    pub counter: u32,
    /// RTP sequence number as received.
    pub seq: u16,
    /// RTP SSRC as received.
    pub ssrc: u32,
}

/// Everything a peer received, in arrival order.
#[derive(Debug, Default)]
pub struct Received {
    packets: Mutex<Vec<Rx>>,
}

impl Received {
    fn push(&self, rx: Rx) {
        if let Ok(mut p) = self.packets.lock() {
            p.push(rx);
        }
    }

    /// A copy of all packets received so far.
    pub fn all(&self) -> Vec<Rx> {
        self.packets.lock().map(|p| p.clone()).unwrap_or_default()
    }

    /// How many packets so far (a mark for [`Received::since`]).
    pub fn mark(&self) -> usize {
        self.packets.lock().map(|p| p.len()).unwrap_or(0)
    }

    /// Packets received after `mark`.
    pub fn since(&self, mark: usize) -> Vec<Rx> {
        self.packets
            .lock()
            .map(|p| p.get(mark..).map(<[Rx]>::to_vec).unwrap_or_default())
            .unwrap_or_default()
    }

    /// Packets of `kind` from `from` on a stream starting with `stream`
    /// (empty: any stream), after `mark`.
    pub fn count(&self, mark: usize, stream: &str, kind: &str, from: &str) -> usize {
        self.since(mark)
            .iter()
            .filter(|r| r.kind == kind && r.from == from && r.stream.starts_with(stream))
            .count()
    }
}

/// Records each packet of a remote track; receiving its own media is a
/// forwarding bug (a panic) unless a loop-back is expected.
fn recorder(name: &str, received: Arc<Received>, own_allowed: Arc<AtomicBool>) -> OnTrack {
    let name = name.to_string();
    Arc::new(move |track| {
        let (received, name, own_allowed) = (received.clone(), name.clone(), own_allowed.clone());
        tokio::spawn(async move {
            let stream = track.stream_id().await;
            let kind = match track.kind().await {
                RtpCodecKind::Audio => "audio",
                _ => "video",
            };
            while let Some(event) = track.poll().await {
                if let TrackRemoteEvent::OnRtpPacket(packet) = event {
                    let Some(marker) = parse_marker(&packet.payload) else {
                        continue;
                    };
                    let own = marker.from == name || marker.from == content_name(&name);
                    if own && !own_allowed.load(Ordering::SeqCst) {
                        panic!("{name} received its own {kind} on {stream}");
                    }
                    received.push(Rx {
                        stream: stream.clone(),
                        kind,
                        from: marker.from,
                        counter: marker.counter,
                        seq: packet.header.sequence_number,
                        ssrc: packet.header.ssrc,
                    });
                }
            }
        });
    })
}

/// The name a peer writes into the payloads of what it presents.
pub fn content_name(name: &str) -> String {
    format!("{name}~slides")
}

/// The third video line, for the `content` slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentLine {
    /// None: the peer never gets content (as an older client).
    None,
    /// Receive-only: it sees what others present.
    Receive,
    /// Send and receive: it presents on it (a page's content line).
    Present,
}

/// A synthetic client.
pub struct TestPeer {
    /// The name written into every payload it sends.
    pub name: String,
    peer: Peer,
    /// What it received.
    pub received: Arc<Received>,
    /// Keyframe requests (PLI/FIR) that reached its video track.
    pub keyframe_requests: Arc<AtomicU64>,
    /// The latest video bit-rate ceiling (REMB) the server asked for, in
    /// bit/s; 0 before any.
    pub bitrate_ceiling: Arc<AtomicU64>,
    sending: Arc<AtomicBool>,
    /// The level written into every audio packet, in −dBov.
    audio_level: Arc<AtomicU8>,
    /// The audio level extension's id in its offer (0: not offered).
    audio_level_id: Arc<AtomicU8>,
    own_allowed: Arc<AtomicBool>,
    resend_keyframes: Arc<AtomicBool>,
    tasks: Vec<JoinHandle<()>>,
    tracks: Option<(Arc<TrackLocalStaticRTP>, Arc<TrackLocalStaticRTP>, u32, u32)>,
    /// Its presentation track, and that track's SSRC.
    content: Option<(Arc<TrackLocalStaticRTP>, u32)>,
    /// Keyframe requests that reached its presentation track.
    pub content_keyframe_requests: Arc<AtomicU64>,
    presenting: Arc<AtomicBool>,
    content_started: bool,
}

/// A track named after `name`, with the stack's codec of that mime type.
fn track(kind: RtpCodecKind, mime: &str, name: &str, ssrc: u32) -> Arc<TrackLocalStaticRTP> {
    let (clock_rate, channels) = match kind {
        RtpCodecKind::Audio => (48_000, 2),
        _ => (90_000, 0),
    };
    let codec = RTCRtpCodec {
        mime_type: mime.to_string(),
        clock_rate,
        channels,
        ..Default::default()
    };
    local_track(kind, codec, &format!("{name}-stream"), name, ssrc)
}

/// A one-packet VP8 frame.
fn vp8_frame(ssrc: u32, seq: u16, ts: u32, payload: Vec<u8>) -> rtp::Packet {
    rtp::Packet {
        header: rtp::header::Header {
            version: 2,
            payload_type: VP8_PT,
            sequence_number: seq,
            timestamp: ts,
            ssrc,
            marker: true,
            ..Default::default()
        },
        payload: payload.into(),
    }
}

/// Reads the RTCP that reaches a local video track: each keyframe request
/// (PLI or FIR) is counted in `requests` and raises `want_keyframe`; each
/// bit-rate ceiling (REMB) is kept in `ceiling`, when given.
fn watch_rtcp(
    track: Arc<TrackLocalStaticRTP>,
    requests: Arc<AtomicU64>,
    want_keyframe: Arc<AtomicBool>,
    ceiling: Option<Arc<AtomicU64>>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        while let Some(event) = track.poll().await {
            if let TrackLocalEvent::OnRtcpPacket(packets) = event {
                if let Some(ceiling) = &ceiling {
                    for bps in packets.iter().filter_map(|p| bitrate_ceiling(p.as_ref())) {
                        ceiling.store(bps as u64, Ordering::SeqCst);
                    }
                }
                if packets.iter().any(|p| asks_keyframe(p.as_ref())) {
                    requests.fetch_add(1, Ordering::SeqCst);
                    want_keyframe.store(true, Ordering::SeqCst);
                }
            }
        }
    })
}

impl TestPeer {
    /// A client named `name`. A publisher offers its own audio and video
    /// (sendrecv) plus one more receive-only audio and video, so the
    /// server's two slots fit in the first answer; a viewer offers two of
    /// each, receive-only.
    pub async fn new(name: &str, publish: bool) -> TestPeer {
        TestPeer::with_content(name, publish, ContentLine::None).await
    }

    /// [`TestPeer::new`], with a third video line for the `content` slot
    /// after the others (with [`ContentLine::Present`], sendrecv with a
    /// track of its own, silent until [`TestPeer::present`]).
    pub async fn with_content(name: &str, publish: bool, content: ContentLine) -> TestPeer {
        let received = Arc::new(Received::default());
        let own_allowed = Arc::new(AtomicBool::new(false));
        // What a page offers: the stack's codecs with the audio level, and
        // the tap that shows the server's REMB and keyframe requests.
        let options = PeerOptions {
            audio_level: true,
            rtcp_tap: true,
            ..PeerOptions::default()
        };
        let on_track = recorder(name, received.clone(), own_allowed.clone());
        let peer = Peer::new(&options, Some(on_track))
            .await
            .expect("test peer builds");
        let pc = peer.pc();
        let mut tracks = None;
        if publish {
            let (a_ssrc, v_ssrc) = (rand::random::<u32>(), rand::random::<u32>());
            let audio = track(RtpCodecKind::Audio, MIME_TYPE_OPUS, name, a_ssrc);
            let video = track(RtpCodecKind::Video, MIME_TYPE_VP8, name, v_ssrc);
            pc.add_track(audio.clone() as Arc<dyn TrackLocal>)
                .await
                .expect("audio track added");
            pc.add_track(video.clone() as Arc<dyn TrackLocal>)
                .await
                .expect("video track added");
            tracks = Some((audio, video, a_ssrc, v_ssrc));
        }
        let receive_only = if publish { 1 } else { 2 };
        for _ in 0..receive_only {
            for kind in [RtpCodecKind::Audio, RtpCodecKind::Video] {
                peer.receive(kind).await.expect("transceiver");
            }
        }
        let content = match content {
            ContentLine::None => None,
            ContentLine::Receive => {
                peer.receive(RtpCodecKind::Video)
                    .await
                    .expect("transceiver");
                None
            }
            ContentLine::Present => {
                let ssrc = rand::random::<u32>();
                let track = track(
                    RtpCodecKind::Video,
                    MIME_TYPE_VP8,
                    &content_name(name),
                    ssrc,
                );
                pc.add_track(track.clone() as Arc<dyn TrackLocal>)
                    .await
                    .expect("content track added");
                Some((track, ssrc))
            }
        };
        TestPeer {
            name: name.to_string(),
            peer,
            received,
            keyframe_requests: Arc::new(AtomicU64::new(0)),
            bitrate_ceiling: Arc::new(AtomicU64::new(0)),
            audio_level: Arc::new(AtomicU8::new(SILENT)),
            audio_level_id: Arc::new(AtomicU8::new(0)),
            sending: Arc::new(AtomicBool::new(true)),
            own_allowed,
            resend_keyframes: Arc::new(AtomicBool::new(false)),
            tasks: Vec::new(),
            tracks,
            content,
            content_keyframe_requests: Arc::new(AtomicU64::new(0)),
            presenting: Arc::new(AtomicBool::new(false)),
            content_started: false,
        }
    }

    /// Starts or stops sending on its content line: a one-packet VP8 frame
    /// every 200 ms (5 frames a second, as slides), a keyframe first and
    /// after every keyframe request on that line.
    pub fn present(&mut self, on: bool) {
        self.presenting.store(on, Ordering::SeqCst);
        if !on || self.content_started {
            return;
        }
        let Some((track, ssrc)) = self.content.clone() else {
            return;
        };
        self.content_started = true;
        let want_keyframe = Arc::new(AtomicBool::new(true));
        self.tasks.push(watch_rtcp(
            track.clone(),
            self.content_keyframe_requests.clone(),
            want_keyframe.clone(),
            None,
        ));
        let name = content_name(&self.name);
        let presenting = self.presenting.clone();
        self.tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(200));
            let (mut seq, mut ts) = (rand::random::<u16>(), rand::random::<u32>());
            let mut count = 0u32;
            for _ in 0..MAX_SEND_TICKS / 10 {
                tick.tick().await;
                if !presenting.load(Ordering::SeqCst) {
                    // A page that stops presenting puts no track on the line.
                    want_keyframe.store(true, Ordering::SeqCst);
                    continue;
                }
                let keyframe = want_keyframe.swap(false, Ordering::SeqCst);
                let packet = vp8_frame(ssrc, seq, ts, video_payload(&name, count, keyframe));
                let _ = track.write_rtp(packet).await;
                seq = seq.wrapping_add(1);
                ts = ts.wrapping_add(18_000);
                count += 1;
            }
        }));
    }

    /// A complete (non-trickle) offer.
    pub async fn offer(&self) -> String {
        let sdp = self.peer.offer(GATHER_LIMIT).await.expect("offer");
        // The server answers with the offer's ids.
        let id = sdp
            .lines()
            .filter_map(|l| l.strip_prefix("a=extmap:"))
            .find(|l| l.ends_with(AUDIO_LEVEL_URI))
            .and_then(|l| l.split([' ', '/']).next())
            .and_then(|id| id.parse().ok())
            .unwrap_or(0);
        self.audio_level_id.store(id, Ordering::SeqCst);
        sdp
    }

    /// The level its audio packets carry from now on, in −dBov (0 the
    /// loudest, 127 silence): what makes it the active speaker in open mode.
    pub fn set_audio_level(&self, dbov: u8) {
        self.audio_level.store(dbov.min(SILENT), Ordering::SeqCst);
    }

    /// Applies the server's answer.
    pub async fn apply_answer(&self, sdp: String) {
        self.peer.accept(sdp).await.expect("answer applied");
    }

    /// Answers a server-initiated offer.
    pub async fn answer_offer(&self, sdp: String) -> String {
        self.peer
            .answer(sdp, GATHER_LIMIT)
            .await
            .expect("server offer answered")
    }

    /// Waits for the connection to come up.
    pub async fn connected(&self, limit: Duration) {
        if let Err(e) = self.peer.connected(limit).await {
            panic!("{} not connected within {limit:?}: {e}", self.name);
        }
    }

    /// Starts sending: Opus every 20 ms, one-packet VP8 frames every 40 ms,
    /// a keyframe first and after every keyframe request.
    pub fn start_sending(&mut self) {
        let Some((audio, video, a_ssrc, v_ssrc)) = self.tracks.clone() else {
            return;
        };
        let want_keyframe = Arc::new(AtomicBool::new(true));
        self.tasks.push(watch_rtcp(
            video.clone(),
            self.keyframe_requests.clone(),
            want_keyframe.clone(),
            Some(self.bitrate_ceiling.clone()),
        ));
        let name = self.name.clone();
        let level = self.audio_level.clone();
        let level_id = self.audio_level_id.clone();
        let sending = self.sending.clone();
        let resend = self.resend_keyframes.clone();
        self.tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(20));
            let (mut a_seq, mut v_seq) = (rand::random::<u16>(), rand::random::<u16>());
            let (mut a_ts, mut v_ts) = (rand::random::<u32>(), rand::random::<u32>());
            let (mut a_count, mut v_count) = (0u32, 0u32);
            for n in 0..MAX_SEND_TICKS {
                tick.tick().await;
                if !sending.load(Ordering::SeqCst) {
                    continue;
                }
                let mut packet = rtp::Packet {
                    header: rtp::header::Header {
                        version: 2,
                        payload_type: OPUS_PT,
                        sequence_number: a_seq,
                        timestamp: a_ts,
                        ssrc: a_ssrc,
                        ..Default::default()
                    },
                    payload: audio_payload(&name, a_count).into(),
                };
                let id = level_id.load(Ordering::SeqCst);
                if id != 0 {
                    let dbov = level.load(Ordering::SeqCst);
                    let _ = packet
                        .header
                        .set_extension(id, bytes::Bytes::from(vec![dbov]));
                }
                let _ = audio.write_rtp(packet).await;
                a_seq = a_seq.wrapping_add(1);
                a_ts = a_ts.wrapping_add(960);
                a_count += 1;
                if n % 2 == 0 {
                    let keyframe = want_keyframe.swap(false, Ordering::SeqCst);
                    if keyframe && resend.load(Ordering::SeqCst) {
                        // A delta frame, then a keyframe start that was
                        // held back (the number before it), as a resent
                        // packet arrives: both before the live keyframe.
                        for (offset, key) in [(1u16, false), (0, true)] {
                            let late = vp8_frame(
                                v_ssrc,
                                v_seq.wrapping_add(offset),
                                v_ts,
                                video_payload(&name, v_count, key),
                            );
                            let _ = video.write_rtp(late).await;
                            v_count += 1;
                        }
                        v_seq = v_seq.wrapping_add(2);
                        v_ts = v_ts.wrapping_add(3600);
                    }
                    let packet =
                        vp8_frame(v_ssrc, v_seq, v_ts, video_payload(&name, v_count, keyframe));
                    let _ = video.write_rtp(packet).await;
                    v_seq = v_seq.wrapping_add(1);
                    v_ts = v_ts.wrapping_add(3600);
                    v_count += 1;
                }
            }
        }));
    }

    /// Whether receiving its own media is expected (a link test's
    /// loop-back) rather than a forwarding bug, which panics.
    pub fn allow_own_media(&self, on: bool) {
        self.own_allowed.store(on, Ordering::SeqCst);
    }

    /// Whether each keyframe is preceded by an old keyframe start arriving
    /// late (after a newer packet), as a browser's bandwidth probe or a
    /// retransmission resends a recent packet.
    pub fn resend_keyframes(&self, on: bool) {
        self.resend_keyframes.store(on, Ordering::SeqCst);
    }

    /// Pauses or resumes sending (as a muted client would).
    pub fn set_sending(&self, on: bool) {
        self.sending.store(on, Ordering::SeqCst);
    }

    /// Closes the connection.
    pub async fn close(&self) {
        let _ = self.peer.pc().close().await;
    }

    /// The underlying connection, for tests that need more.
    pub fn pc(&self) -> Arc<dyn PeerConnection> {
        self.peer.pc().clone()
    }
}

impl Drop for TestPeer {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}
