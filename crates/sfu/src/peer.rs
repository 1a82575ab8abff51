//! One client's peer connection and what the router keeps about it: the
//! tracks it publishes (inbound) and the legs it receives (outgoing).
//!
//! Slot legs get fixed stream ids so a client can tell them apart from the
//! SDP (`a=msid`): `chair` and `floor` (each with an `-audio` and a `-video`
//! track), and on the chair's connection `tile-<code>` per endpoint.

use super::engine::FORWARDED_EXTENSIONS;
use super::keyframe::PliThrottle;
use super::rewrite::{Rewriter, StreamTag, Translation};
use super::router::{Feed, MediaKind, SlotKind};
use super::stats::{Downstream, Inbound};
use super::{MediaError, Owner, PeerId, PeerKind, SfuEvent, Signal, SignalPath, TrackInfo};
use diemcau_control::{EndpointCode, SessionId};
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::media_engine::{
    MIME_TYPE_H264, MIME_TYPE_OPUS, MIME_TYPE_VP8,
};
use rtc::peer_connection::configuration::RTCOfferOptions;
use rtc::peer_connection::event::RTCTrackEventInit;
use rtc::peer_connection::state::{RTCPeerConnectionState, RTCSignalingState};
use rtc::peer_connection::RTCPeerConnection;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
};
use rtc::rtp_transceiver::{RTCRtpReceiverId, RTCRtpSenderId};
use rtc::sansio::Protocol;
use rtc::shared::TaggedBytesMut;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

/// What a publisher's track negotiated: payload types and extension ids.
#[derive(Debug, Default)]
pub(crate) struct SourceCodecs {
    /// (payload type, lower-case MIME type, clock rate)
    pub(crate) payload_types: Vec<(u8, String, u32)>,
    /// (id, URI) of the extensions worth forwarding.
    pub(crate) extensions: Vec<(u8, String)>,
}

impl SourceCodecs {
    pub(crate) fn mime(&self, pt: u8) -> Option<&str> {
        self.payload_types
            .iter()
            .find(|(p, _, _)| *p == pt)
            .map(|(_, m, _)| m.as_str())
    }
    pub(crate) fn clock_rate(&self, pt: u8) -> Option<u32> {
        self.payload_types
            .iter()
            .find(|(p, _, _)| *p == pt)
            .map(|(_, _, c)| *c)
    }
    pub(crate) fn extension_id(&self, uri: &str) -> Option<u8> {
        self.extensions
            .iter()
            .find(|(_, u)| u == uri)
            .map(|(id, _)| *id)
    }
}

/// A track a client publishes to us.
#[derive(Debug)]
pub(crate) struct InTrack {
    pub(crate) track_id: String,
    pub(crate) receiver_id: RTCRtpReceiverId,
    pub(crate) kind: MediaKind,
    /// Voice, camera or presented content: where routes take it.
    pub(crate) feed: Feed,
    pub(crate) ssrc: u32,
    pub(crate) codecs: Arc<SourceCodecs>,
    pub(crate) stats: Inbound,
    pub(crate) clock_rate: u32,
    pub(crate) pli: PliThrottle,
}

/// A track we send to a client, fed by whichever publisher the policy says.
#[derive(Debug)]
pub(crate) struct Leg {
    pub(crate) sender_id: RTCRtpSenderId,
    pub(crate) slot: SlotKind,
    pub(crate) kind: MediaKind,
    pub(crate) ssrc: u32,
    pub(crate) clock_rate: u32,
    /// (lower-case MIME, payload type) negotiated on this leg.
    pub(crate) payload_types: Vec<(String, u8)>,
    /// (URI, id) negotiated on this leg.
    pub(crate) extensions: Vec<(String, u8)>,
    pub(crate) source: Option<EndpointCode>,
    pub(crate) translation: Option<(StreamTag, Translation)>,
    pub(crate) rewriter: Rewriter,
    pub(crate) downstream: Downstream,
    pub(crate) packets: u64,
    pub(crate) bytes: u64,
    /// `packets` and `bytes` as last added to `/metrics`.
    pub(crate) reported: (u64, u64),
}

impl Leg {
    /// The translation from `tag`'s codecs to this leg, rebuilt at a switch.
    pub(crate) fn translation_for(&mut self, tag: StreamTag, src: &SourceCodecs) -> &Translation {
        let stale = self.translation.as_ref().is_none_or(|(t, _)| *t != tag);
        if stale {
            let payload_types = src
                .payload_types
                .iter()
                .filter_map(|(pt, mime, _)| {
                    self.payload_types
                        .iter()
                        .find(|(m, _)| m == mime)
                        .map(|(_, out)| (*pt, *out))
                })
                .collect();
            let extensions = src
                .extensions
                .iter()
                .filter_map(|(id, uri)| {
                    self.extensions
                        .iter()
                        .find(|(u, _)| u == uri)
                        .map(|(_, out)| (*id, *out))
                })
                .collect();
            self.translation = Some((
                tag,
                Translation {
                    payload_types,
                    extensions,
                },
            ));
        }
        match &self.translation {
            Some((_, t)) => t,
            None => unreachable!("set just above"),
        }
    }
}

/// A client's connection.
pub(crate) struct Peer {
    pub(crate) id: PeerId,
    pub(crate) session: SessionId,
    pub(crate) kind: PeerKind,
    pub(crate) pc: RTCPeerConnection,
    /// Signals for the client not yet handed to the shell.
    pub(crate) signals: Vec<Signal>,
    pub(crate) state: RTCPeerConnectionState,
    /// Mirrored from the stack's events (it has no getter).
    pub(crate) signaling: RTCSignalingState,
    /// A `LinkEvent::Up` was sent and no `Lost` since.
    pub(crate) up: bool,
    pub(crate) down_since: Option<Instant>,
    pub(crate) inbound: Vec<InTrack>,
    pub(crate) legs: Vec<Leg>,
    /// Legs or an ICE restart wait for a server-initiated offer.
    pub(crate) wants_offer: bool,
    pub(crate) offer_outstanding: bool,
    pub(crate) next_timeout: Option<Instant>,
    /// Datagrams that arrived for it, not yet read by its stack: reading
    /// them (SRTP, then the interceptors) is the connection's own work,
    /// done when its inbox is read, on whichever thread reads it.
    pub(crate) inbox: Vec<TaggedBytesMut>,
    /// Packets forwarded to its legs, not yet handed to its stack: writing
    /// them (interceptors, then SRTP) is the receiver's own work, done when
    /// its outbox is sent, on whichever thread sends it.
    pub(crate) outgoing: Vec<rtc::rtp::Packet>,
    pub(crate) keyframe_requests: u64,
    /// Candidates the client signalled: (address, type).
    pub(crate) remote_candidates: Vec<(SocketAddr, String)>,
    /// Where the stack last sent to: the client's verified address (taught
    /// to the demux when it changes; its candidate type is the link's).
    pub(crate) sent_to: Option<SocketAddr>,
    /// When it was created, and whether it ever reached `connected`.
    pub(crate) created: Instant,
    pub(crate) connected_once: bool,
    /// When its last datagram (of any kind) arrived.
    pub(crate) last_heard: Option<Instant>,
    pub(crate) last_bytes: (u64, u64),
    /// Bytes of its content track as last counted, for its bit rate.
    pub(crate) last_content_bytes: u64,
    pub(crate) bitrate: (u64, u64),
    pub(crate) loss_up: f64,
    /// The video codec of every outgoing video leg (see [`video_codec_for`]).
    pub(crate) video_mime: &'static str,
    pub(crate) path: SignalPath,
    /// The token that opened it, for the per-token limit (`None`: not counted).
    pub(crate) owner: Option<Owner>,
    /// The mapping last sent in a `tracks` signal.
    pub(crate) announced: Vec<TrackInfo>,
    /// The video bit rate last asked of this publisher (bit/s).
    pub(crate) bitrate_cap: Option<u64>,
    /// A technician's console: the sites whose tiles it shows, the only
    /// tiles that carry media to it. `None`: every tile.
    pub(crate) watching: Option<std::collections::BTreeSet<EndpointCode>>,
}

/// The codec the legs of a client use: VP8 when it offers VP8, else H.264
/// when it offers H.264. A leg has to name one codec: the stack binds its
/// sender reports and NACK history to the leg only through a codec, and
/// the forwarded payload cannot change codec on the way.
pub(crate) fn video_codec_for(offer_sdp: &str) -> &'static str {
    let offers = |name: &str| {
        offer_sdp
            .lines()
            .any(|l| l.starts_with("a=rtpmap:") && l.to_ascii_lowercase().contains(name))
    };
    if !offers("vp8/90000") && offers("h264/90000") {
        MIME_TYPE_H264
    } else {
        MIME_TYPE_VP8
    }
}

fn media_kind(kind: RtpCodecKind) -> Option<MediaKind> {
    match kind {
        RtpCodecKind::Audio => Some(MediaKind::Audio),
        RtpCodecKind::Video => Some(MediaKind::Video),
        _ => None,
    }
}

fn clock_rate(kind: MediaKind) -> u32 {
    match kind {
        MediaKind::Audio => 48_000,
        MediaKind::Video => 90_000,
    }
}

impl Peer {
    pub(crate) fn new(
        id: PeerId,
        session: SessionId,
        kind: PeerKind,
        pc: RTCPeerConnection,
        video_mime: &'static str,
        now: Instant,
    ) -> Peer {
        Peer {
            id,
            session,
            kind,
            pc,
            signals: Vec::new(),
            state: RTCPeerConnectionState::New,
            signaling: RTCSignalingState::Stable,
            up: false,
            down_since: None,
            inbound: Vec::new(),
            legs: Vec::new(),
            wants_offer: false,
            offer_outstanding: false,
            next_timeout: None,
            inbox: Vec::new(),
            outgoing: Vec::new(),
            keyframe_requests: 0,
            remote_candidates: Vec::new(),
            sent_to: None,
            created: now,
            connected_once: false,
            last_heard: None,
            last_bytes: (0, 0),
            last_content_bytes: 0,
            bitrate: (0, 0),
            loss_up: 0.0,
            video_mime,
            path: SignalPath::WebSocket,
            owner: None,
            announced: Vec::new(),
            bitrate_cap: None,
            watching: None,
        }
    }

    /// Hands what arrived to the stack, in the order it arrived.
    pub(crate) fn read_inbox(&mut self) {
        for msg in self.inbox.drain(..) {
            if let Err(err) = self.pc.handle_read(msg) {
                tracing::trace!(peer = %self.id, %err, "datagram refused");
            }
        }
    }

    /// The endpoint this peer carries (none for a viewer).
    pub(crate) fn endpoint(&self) -> Option<&EndpointCode> {
        match &self.kind {
            PeerKind::Participant(code) => Some(code),
            PeerKind::Viewer | PeerKind::Technician => None,
        }
    }

    /// The tag that identifies packets of `ssrc` from this peer.
    pub(crate) fn tag(&self, ssrc: u32) -> StreamTag {
        StreamTag {
            publisher: self.id.0 as u64,
            ssrc,
        }
    }

    pub(crate) fn has_slot(&self, slot: &SlotKind) -> bool {
        self.legs.iter().any(|l| l.slot == *slot)
    }

    /// Adds the audio and video legs of `slot`. Added after the initial
    /// answer, they need a server-initiated offer to reach the client.
    pub(crate) fn add_slot(&mut self, slot: SlotKind) -> Result<(), MediaError> {
        let stream = match &slot {
            SlotKind::Chair => "chair".to_string(),
            SlotKind::Floor => "floor".to_string(),
            SlotKind::Content => "content".to_string(),
            SlotKind::Tile(code) => format!("tile-{code}"),
        };
        for &kind in slot.kinds() {
            let (codec_kind, suffix, codec) = match kind {
                MediaKind::Audio => (
                    RtpCodecKind::Audio,
                    "audio",
                    RTCRtpCodec {
                        mime_type: MIME_TYPE_OPUS.to_string(),
                        clock_rate: 48_000,
                        channels: 2,
                        ..Default::default()
                    },
                ),
                MediaKind::Video => (
                    RtpCodecKind::Video,
                    "video",
                    RTCRtpCodec {
                        mime_type: self.video_mime.to_string(),
                        clock_rate: 90_000,
                        ..Default::default()
                    },
                ),
            };
            let ssrc: u32 = rand::random();
            let track_id = format!("{stream}-{suffix}");
            let track = MediaStreamTrack::new(
                stream.clone(),
                track_id.clone(),
                track_id,
                codec_kind,
                vec![RTCRtpEncodingParameters {
                    rtp_coding_parameters: RTCRtpCodingParameters {
                        ssrc: Some(ssrc),
                        ..Default::default()
                    },
                    active: true,
                    codec,
                    ..Default::default()
                }],
            );
            let sender_id = self.pc.add_track(track).map_err(MediaError::stack)?;
            self.legs.push(Leg {
                sender_id,
                slot: slot.clone(),
                kind,
                ssrc,
                clock_rate: clock_rate(kind),
                payload_types: Vec::new(),
                extensions: Vec::new(),
                source: None,
                translation: None,
                rewriter: Rewriter::new(ssrc, clock_rate(kind)),
                downstream: Downstream::default(),
                packets: 0,
                bytes: 0,
                reported: (0, 0),
            });
        }
        Ok(())
    }

    /// Re-reads what each leg negotiated; called after every negotiation.
    pub(crate) fn refresh_legs(&mut self) {
        for leg in &mut self.legs {
            let Some(mut sender) = self.pc.rtp_sender(leg.sender_id) else {
                continue;
            };
            let params = sender.get_parameters();
            leg.payload_types = params
                .rtp_parameters
                .codecs
                .iter()
                .map(|c| (c.rtp_codec.mime_type.to_ascii_lowercase(), c.payload_type))
                .collect();
            leg.extensions = params
                .rtp_parameters
                .header_extensions
                .iter()
                .filter(|e| FORWARDED_EXTENSIONS.contains(&e.uri.as_str()))
                .filter_map(|e| u8::try_from(e.id).ok().map(|id| (e.uri.clone(), id)))
                .collect();
            // A renegotiation may move payload types: rebuild at next packet.
            leg.translation = None;
        }
    }

    /// Records a track the client started publishing.
    pub(crate) fn on_track_open(&mut self, init: &RTCTrackEventInit) {
        if self.inbound.iter().any(|t| t.track_id == init.track_id) {
            return;
        }
        let transceiver = rtc::rtp_transceiver::RTCRtpTransceiverId::from(init.receiver_id);
        let mid = self
            .pc
            .rtp_transceiver(transceiver)
            .and_then(|t| t.mid().clone());
        let content_mid = self
            .pc
            .remote_description()
            .and_then(|d| super::sdp::content_mid(&d.sdp));
        let Some(mut receiver) = self.pc.rtp_receiver(init.receiver_id) else {
            return;
        };
        let Some(kind) = media_kind(receiver.track().kind()) else {
            return;
        };
        let params = receiver.get_parameters();
        let feed = match kind {
            MediaKind::Audio => Feed::Audio,
            MediaKind::Video if mid.is_some() && mid == content_mid => Feed::Content,
            MediaKind::Video => Feed::Camera,
        };
        let codecs = SourceCodecs {
            payload_types: params
                .rtp_parameters
                .codecs
                .iter()
                .map(|c| {
                    (
                        c.payload_type,
                        c.rtp_codec.mime_type.to_ascii_lowercase(),
                        c.rtp_codec.clock_rate,
                    )
                })
                .collect(),
            extensions: params
                .rtp_parameters
                .header_extensions
                .iter()
                .filter(|e| FORWARDED_EXTENSIONS.contains(&e.uri.as_str()))
                .filter_map(|e| u8::try_from(e.id).ok().map(|id| (id, e.uri.clone())))
                .collect(),
        };
        self.inbound.push(InTrack {
            track_id: init.track_id.clone(),
            receiver_id: init.receiver_id,
            kind,
            feed,
            ssrc: init.ssrc,
            codecs: Arc::new(codecs),
            stats: Inbound::default(),
            clock_rate: clock_rate(kind),
            pli: PliThrottle::default(),
        });
    }

    /// Sends a server-initiated offer if one is wanted and none is pending.
    /// Returns whether the local description changed (new ufrag to route).
    pub(crate) fn maybe_offer(&mut self, now: Instant) -> bool {
        if !self.wants_offer
            || self.offer_outstanding
            || self.signaling != RTCSignalingState::Stable
        {
            return false;
        }
        self.wants_offer = false;
        let offer = match self.pc.create_offer(None::<RTCOfferOptions>) {
            Ok(offer) => offer,
            Err(err) => {
                tracing::warn!(peer = %self.id, %err, "cannot create offer");
                return false;
            }
        };
        let sdp = super::sdp::with_candidates_everywhere(&offer.sdp);
        if let Err(err) = self.pc.set_local_description(now, offer) {
            tracing::warn!(peer = %self.id, %err, "cannot apply own offer");
            return false;
        }
        self.offer_outstanding = true;
        self.signals.push(Signal::Offer(sdp));
        true
    }

    /// Tells the client which m-line carries what, when that changed.
    /// Lines without a mid yet (in an offer not answered) wait.
    pub(crate) fn announce_tracks(&mut self) {
        if self.path == SignalPath::Http {
            return;
        }
        let mut tracks = Vec::with_capacity(self.legs.len());
        for leg in &self.legs {
            let transceiver = rtc::rtp_transceiver::RTCRtpTransceiverId::from(leg.sender_id);
            let Some(mid) = self
                .pc
                .rtp_transceiver(transceiver)
                .and_then(|t| t.mid().clone())
            else {
                continue;
            };
            let (slot, endpoint) = match &leg.slot {
                SlotKind::Chair => ("chair", leg.source.clone()),
                SlotKind::Floor => ("floor", leg.source.clone()),
                SlotKind::Content => ("content", leg.source.clone()),
                SlotKind::Tile(code) => ("tile", Some(code.clone())),
            };
            let kind = match leg.kind {
                MediaKind::Audio => "audio",
                MediaKind::Video => "video",
            };
            tracks.push(TrackInfo {
                mid,
                slot,
                endpoint,
                kind,
            });
        }
        if tracks == self.announced {
            return;
        }
        self.signals.push(Signal::Tracks(tracks.clone()));
        self.announced = tracks;
    }

    /// Its signals not yet handed to the shell, as the shell's events.
    pub(crate) fn signal_events(&mut self) -> impl Iterator<Item = SfuEvent> + '_ {
        let id = self.id;
        self.signals.drain(..).map(move |s| SfuEvent::Signal(id, s))
    }

    /// Our current ICE username fragment, read back from the local SDP
    /// (it changes at each ICE restart).
    pub(crate) fn local_ufrag(&self) -> Option<String> {
        let desc = self.pc.local_description()?;
        desc.sdp
            .lines()
            .find_map(|l| l.trim().strip_prefix("a=ice-ufrag:"))
            .map(|s| s.trim().to_string())
    }
}
