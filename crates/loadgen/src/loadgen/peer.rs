//! The WebRTC peers: a publisher (WHIP, send-only audio + video) and a
//! viewer (WHEP, receive-only slots), each a real `webrtc` crate peer on
//! loopback with mDNS off.

use crate::clock::Clock;
use crate::error::LoadError;
use crate::payload::Kind;
use crate::publisher::{KeyframeRequests, MediaOut};
use crate::recorder::Recorder;
use diemcau_sfu::rtcp_tap::asks_keyframe;
use diemcau_testkit::{codec, local_track, IceTimeouts, OnTrack, PeerOptions};
use rtc::peer_connection::configuration::media_engine::MIME_TYPE_OPUS;
use rtc::rtp;
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use rtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverInit};
use std::sync::Arc;
use std::time::Duration;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};
use webrtc::media_stream::track_remote::TrackRemoteEvent;

/// After the last tick of a run nothing should still be reading; this caps
/// a reader whose connection never closes.
const READER_LIMIT: Duration = Duration::from_secs(4 * 3600);
/// With `--rejoin`, a peer that hears nothing (not even a check's answer)
/// for this long calls its connection disconnected and joins again, as a
/// page notices its server gone within a few seconds; checks go out often
/// enough that a live server always answers in time.
const REJOIN_SILENCE: Duration = Duration::from_secs(2);
const REJOIN_CHECKS: Duration = Duration::from_millis(400);

/// Records the payload of every packet that arrives on any track.
fn recording(recorder: Arc<Recorder>, clock: Clock) -> OnTrack {
    Arc::new(move |track| {
        let recorder = recorder.clone();
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
    })
}

/// A connection and what tells us how it is doing.
pub struct Peer(diemcau_testkit::Peer);

impl Peer {
    async fn build(on_track: Option<OnTrack>, rejoins: bool) -> Result<Peer, LoadError> {
        let options = PeerOptions {
            opus_vp8_only: true,
            audio_level: false,
            rtcp_tap: true,
            ice_timeouts: rejoins.then_some(IceTimeouts {
                disconnected: REJOIN_SILENCE,
                failed: REJOIN_SILENCE * 2,
                keepalive: REJOIN_CHECKS,
            }),
        };
        Ok(Peer(diemcau_testkit::Peer::new(&options, on_track).await?))
    }

    /// A viewer with `slots` receive-only audio + video pairs, recording
    /// whatever arrives.
    pub async fn viewer(
        recorder: Arc<Recorder>,
        clock: Clock,
        slots: usize,
        rejoins: bool,
    ) -> Result<Peer, LoadError> {
        let peer = Peer::build(Some(recording(recorder, clock)), rejoins).await?;
        for _ in 0..slots {
            for kind in [RtpCodecKind::Audio, RtpCodecKind::Video] {
                peer.0.receive(kind).await?;
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
        let audio = LocalTrack::new(RtpCodecKind::Audio, &stream, audio_ssrc);
        let video = LocalTrack::new(RtpCodecKind::Video, &stream, video_ssrc);
        for track in [&audio, &video] {
            peer.0
                .pc()
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
        Ok(self.0.offer(limit).await?)
    }

    /// Applies the server's answer.
    pub async fn accept(&self, answer: String) -> Result<(), LoadError> {
        Ok(self.0.accept(answer).await?)
    }

    /// Waits until connected; fails at once if the connection fails.
    pub async fn connected(&self, limit: Duration) -> Result<(), LoadError> {
        Ok(self.0.connected(limit).await?)
    }

    /// Waits until the connection drops (disconnected, failed or closed).
    pub async fn dropped(&self) {
        self.0.dropped().await;
    }

    /// Closes the connection (bounded: a stuck close is abandoned).
    pub async fn close(&self) {
        self.0.close().await;
    }

    /// The payload type the server accepted for `kind` on our sender.
    async fn sent_payload_type(&self, kind: RtpCodecKind) -> u8 {
        for sender in self.0.pc().get_senders().await {
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

impl LocalTrack {
    fn new(kind: RtpCodecKind, stream: &str, ssrc: u32) -> LocalTrack {
        let track = local_track(kind, codec(kind).rtp_codec, stream, stream, ssrc);
        LocalTrack { track, ssrc }
    }
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
