//! The WebRTC peers: a publisher (WHIP, send-only audio + video) and a
//! viewer (WHEP, receive-only slots), each a real `webrtc` crate peer on
//! loopback with mDNS off.

use crate::clock::Clock;
use crate::error::LoadError;
use crate::payload::Kind;
use crate::publisher::{KeyframeRequests, MediaOut};
use crate::recorder::Recorder;
use diemcau_sfu::rtcp_tap::{asks_keyframe, RtcpTap, TAP_SLOT};
use rtc::interceptor::Slot;
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::media_engine::{MIME_TYPE_OPUS, MIME_TYPE_VP8};
use rtc::rtp;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters, RTCRtpEncodingParameters,
    RtpCodecKind,
};
use rtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverInit};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Notify};
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{
    register_default_interceptors, MediaEngine, PeerConnection, PeerConnectionBuilder,
    PeerConnectionEventHandler, RTCConfigurationBuilder, RTCIceGatheringState,
    RTCPeerConnectionState, RTCSessionDescription, Registry, SettingEngineBuilder,
};

/// Payload types we offer; a server answers with the offerer's numbers.
const VP8_PT: u8 = 96;
const OPUS_PT: u8 = 111;
/// After the last tick of a run nothing should still be reading; this caps
/// a reader whose connection never closes.
const READER_LIMIT: Duration = Duration::from_secs(4 * 3600);
/// With `--rejoin`, a peer that hears nothing (not even a check's answer)
/// for this long calls its connection disconnected and joins again, as a
/// page notices its server gone within a few seconds; checks go out often
/// enough that a live server always answers in time.
const REJOIN_SILENCE: Duration = Duration::from_secs(2);
const REJOIN_CHECKS: Duration = Duration::from_millis(400);

struct Handler {
    gathered: Arc<Notify>,
    state: watch::Sender<RTCPeerConnectionState>,
    sink: Option<(Arc<Recorder>, Clock)>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            self.gathered.notify_one();
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        let _ = self.state.send(state);
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        let Some((recorder, clock)) = self.sink.clone() else {
            return;
        };
        tokio::spawn(async move {
            let read = async {
                while let Some(event) = track.poll().await {
                    if let TrackRemoteEvent::OnRtpPacket(packet) = event {
                        recorder.on_payload(&packet.payload, clock.now_us());
                    }
                }
            };
            let _ = tokio::time::timeout(READER_LIMIT, read).await;
        });
    }
}

fn codec(kind: RtpCodecKind) -> RTCRtpCodecParameters {
    let (mime, clock_rate, channels, pt) = match kind {
        RtpCodecKind::Audio => (MIME_TYPE_OPUS, 48_000, 2, OPUS_PT),
        _ => (MIME_TYPE_VP8, 90_000, 0, VP8_PT),
    };
    RTCRtpCodecParameters {
        rtp_codec: RTCRtpCodec {
            mime_type: mime.to_string(),
            clock_rate,
            channels,
            sdp_fmtp_line: if channels == 2 {
                "minptime=10;useinbandfec=1".to_string()
            } else {
                String::new()
            },
            rtcp_feedback: vec![],
        },
        payload_type: pt,
    }
}

/// A connection and what tells us how it is doing.
pub struct Peer {
    pc: Arc<dyn PeerConnection>,
    gathered: Arc<Notify>,
    state: watch::Receiver<RTCPeerConnectionState>,
}

impl Peer {
    async fn build(sink: Option<(Arc<Recorder>, Clock)>, rejoins: bool) -> Result<Peer, LoadError> {
        let mut media = MediaEngine::default();
        media.register_codec(codec(RtpCodecKind::Video), RtpCodecKind::Video)?;
        media.register_codec(codec(RtpCodecKind::Audio), RtpCodecKind::Audio)?;
        // Default interceptors: NACK generator and responder (the responder
        // answers the server's NACKs from its send buffer), reports, TWCC
        // receiver. The tap goes last so it sees RTCP after all of them.
        let registry = register_default_interceptors(Registry::new(), &mut media)?
            .with(Slot::from(TAP_SLOT), RtcpTap::publisher());
        let mut settings = SettingEngineBuilder::new()
            .with_multicast_dns_mode(rtc::ice::mdns::MulticastDnsMode::Disabled);
        if rejoins {
            settings = settings.with_ice_timeouts(
                Some(REJOIN_SILENCE),
                Some(REJOIN_SILENCE * 2),
                Some(REJOIN_CHECKS),
            );
        }
        let settings = settings.build();
        let gathered = Arc::new(Notify::new());
        let (state_tx, state) = watch::channel(RTCPeerConnectionState::New);
        let handler = Arc::new(Handler {
            gathered: gathered.clone(),
            state: state_tx,
            sink,
        });
        let pc = PeerConnectionBuilder::new()
            .with_configuration(RTCConfigurationBuilder::new().build())
            .with_media_engine(media)
            .with_setting_engine(settings)
            .with_interceptor_registry(registry)
            .with_handler(handler)
            .with_udp_addrs(vec!["127.0.0.1:0".to_string()])
            .build()
            .await?;
        Ok(Peer {
            pc: Arc::new(pc),
            gathered,
            state,
        })
    }

    /// A viewer with `slots` receive-only audio + video pairs, recording
    /// whatever arrives.
    pub async fn viewer(
        recorder: Arc<Recorder>,
        clock: Clock,
        slots: usize,
        rejoins: bool,
    ) -> Result<Peer, LoadError> {
        let peer = Peer::build(Some((recorder, clock)), rejoins).await?;
        for _ in 0..slots {
            for kind in [RtpCodecKind::Audio, RtpCodecKind::Video] {
                peer.pc
                    .add_transceiver_from_kind(
                        kind,
                        Some(RTCRtpTransceiverInit {
                            direction: RTCRtpTransceiverDirection::Recvonly,
                            streams: vec![],
                            send_encodings: vec![],
                        }),
                    )
                    .await?;
            }
        }
        Ok(peer)
    }

    /// A publisher of one audio and one video track, send-only, with the
    /// SSRCs given (a publisher joining again keeps its streams) or new ones.
    pub async fn publisher(
        id: u32,
        ssrcs: Option<(u32, u32)>,
        rejoins: bool,
    ) -> Result<(Peer, PublisherTracks), LoadError> {
        let peer = Peer::build(None, rejoins).await?;
        let stream = format!("loadgen-{id}");
        let (audio_ssrc, video_ssrc) = ssrcs.unwrap_or_else(rand::random);
        let audio = local_track(RtpCodecKind::Audio, &stream, audio_ssrc);
        let video = local_track(RtpCodecKind::Video, &stream, video_ssrc);
        for track in [&audio, &video] {
            peer.pc
                .add_transceiver_from_track(
                    track.track.clone() as Arc<dyn TrackLocal>,
                    Some(RTCRtpTransceiverInit {
                        direction: RTCRtpTransceiverDirection::Sendonly,
                        streams: vec![stream.clone()],
                        send_encodings: vec![],
                    }),
                )
                .await?;
        }
        Ok((peer, PublisherTracks { audio, video }))
    }

    /// Our complete offer, candidates included (WHIP and WHEP do not trickle here).
    pub async fn offer(&self, limit: Duration) -> Result<String, LoadError> {
        let offer = self.pc.create_offer(None).await?;
        self.pc.set_local_description(offer).await?;
        tokio::time::timeout(limit, self.gathered.notified())
            .await
            .map_err(|_| LoadError::Timeout("ICE gathering".into()))?;
        self.pc
            .local_description()
            .await
            .map(|d| d.sdp)
            .ok_or_else(|| LoadError::WebRtc("no local description after gathering".into()))
    }

    /// Applies the server's answer.
    pub async fn accept(&self, answer: String) -> Result<(), LoadError> {
        let answer = RTCSessionDescription::answer(answer)?;
        self.pc.set_remote_description(answer).await?;
        Ok(())
    }

    /// Waits until connected; fails at once if the connection fails.
    pub async fn connected(&self, limit: Duration) -> Result<(), LoadError> {
        let mut state = self.state.clone();
        let wait = state.wait_for(|s| {
            matches!(
                s,
                RTCPeerConnectionState::Connected
                    | RTCPeerConnectionState::Failed
                    | RTCPeerConnectionState::Closed
            )
        });
        let reached = tokio::time::timeout(limit, wait)
            .await
            .map_err(|_| LoadError::Timeout("peer connection".into()))?
            .map(|s| *s)
            .map_err(|_| LoadError::WebRtc("peer connection went away".into()))?;
        if reached == RTCPeerConnectionState::Connected {
            Ok(())
        } else {
            Err(LoadError::WebRtc(format!("peer connection {reached}")))
        }
    }

    /// Waits until the connection drops (disconnected, failed or closed).
    pub async fn dropped(&self) {
        let mut state = self.state.clone();
        let _ = state
            .wait_for(|s| {
                matches!(
                    s,
                    RTCPeerConnectionState::Disconnected
                        | RTCPeerConnectionState::Failed
                        | RTCPeerConnectionState::Closed
                )
            })
            .await;
    }

    /// Closes the connection (bounded: a stuck close is abandoned).
    pub async fn close(&self) {
        let _ = tokio::time::timeout(Duration::from_secs(2), self.pc.close()).await;
    }

    /// The payload type the server accepted for `kind` on our sender.
    async fn sent_payload_type(&self, kind: RtpCodecKind) -> u8 {
        for sender in self.pc.get_senders().await {
            let Ok(params) = sender.get_parameters().await else {
                continue;
            };
            if let Some(c) = params.rtp_parameters.codecs.first() {
                let is_audio = c.rtp_codec.mime_type.eq_ignore_ascii_case(MIME_TYPE_OPUS);
                if is_audio == (kind == RtpCodecKind::Audio) {
                    return c.payload_type;
                }
            }
        }
        codec(kind).payload_type
    }
}

/// One local track and its SSRC.
pub struct LocalTrack {
    track: Arc<TrackLocalStaticRTP>,
    ssrc: u32,
}

fn local_track(kind: RtpCodecKind, stream: &str, ssrc: u32) -> LocalTrack {
    let label = if kind == RtpCodecKind::Audio {
        "audio"
    } else {
        "video"
    };
    let track = Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
        stream.to_string(),
        format!("{stream}-{label}"),
        format!("{stream}-{label}"),
        kind,
        vec![RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters {
                ssrc: Some(ssrc),
                ..Default::default()
            },
            codec: codec(kind).rtp_codec,
            ..Default::default()
        }],
    )));
    LocalTrack { track, ssrc }
}

/// A publisher's two tracks, before negotiation.
pub struct PublisherTracks {
    audio: LocalTrack,
    video: LocalTrack,
}

impl PublisherTracks {
    /// Once negotiated: the sink the publisher writes to, and a task that
    /// turns keyframe requests on the video track into `requests`.
    pub async fn into_out(self, peer: &Peer, requests: Arc<KeyframeRequests>) -> Arc<TrackOut> {
        let audio_pt = peer.sent_payload_type(RtpCodecKind::Audio).await;
        let video_pt = peer.sent_payload_type(RtpCodecKind::Video).await;
        let video = self.video.track.clone();
        tokio::spawn(async move {
            let watch = async {
                while let Some(event) = video.poll().await {
                    let TrackLocalEvent::OnRtcpPacket(packets) = event else {
                        continue;
                    };
                    if packets.iter().any(|p| asks_keyframe(p.as_ref())) {
                        requests.request();
                    }
                }
            };
            let _ = tokio::time::timeout(READER_LIMIT, watch).await;
        });
        Arc::new(TrackOut {
            audio: (self.audio.track, self.audio.ssrc, audio_pt),
            video: (self.video.track, self.video.ssrc, video_pt),
        })
    }
}

/// Packets out through a negotiated peer connection.
pub struct TrackOut {
    audio: (Arc<TrackLocalStaticRTP>, u32, u8),
    video: (Arc<TrackLocalStaticRTP>, u32, u8),
}

#[async_trait::async_trait]
impl MediaOut for TrackOut {
    fn ids(&self, kind: Kind) -> (u32, u8) {
        let (_, ssrc, pt) = match kind {
            Kind::Audio => &self.audio,
            Kind::Video => &self.video,
        };
        (*ssrc, *pt)
    }

    async fn send(&self, kind: Kind, packet: rtp::Packet) -> Result<(), LoadError> {
        let track = match kind {
            Kind::Audio => &self.audio.0,
            Kind::Video => &self.video.0,
        };
        track.write_rtp(packet).await?;
        Ok(())
    }
}
