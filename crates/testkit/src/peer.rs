//! One peer connection of the async `webrtc` crate on loopback, and the
//! steps every synthetic client takes with it: a complete (non-trickle)
//! offer or answer, the remote description, waiting for the connection.

use crate::error::Error;
use diemcau_sfu::rtcp_tap::{RtcpTap, TAP_SLOT};
use rtc::interceptor::Slot;
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::media_engine::{MIME_TYPE_OPUS, MIME_TYPE_VP8};
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters, RTCRtpEncodingParameters,
    RTCRtpHeaderExtensionCapability, RtpCodecKind,
};
use rtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverInit};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_remote::TrackRemote;
use webrtc::peer_connection::{
    register_default_interceptors, MediaEngine, PeerConnection, PeerConnectionBuilder,
    PeerConnectionEventHandler, RTCConfigurationBuilder, RTCIceGatheringState,
    RTCPeerConnectionState, RTCSessionDescription, Registry, SettingEngineBuilder,
};

/// RFC 6464: the level of each audio packet, which the server's active
/// speaker detector reads in open mode.
pub(crate) const AUDIO_LEVEL_URI: &str = "urn:ietf:params:rtp-hdrext:ssrc-audio-level";
/// The payload types of [`codec`]; a server answers with the offerer's
/// numbers.
const OPUS_PT: u8 = 111;
const VP8_PT: u8 = 96;

/// ICE timeouts shorter than the stack's defaults, so a peer notices a
/// silent server within seconds, as a page does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IceTimeouts {
    /// Silence after which the connection is disconnected.
    pub disconnected: Duration,
    /// Silence after which it has failed.
    pub failed: Duration,
    /// How often connectivity checks go out.
    pub keepalive: Duration,
}

/// What a peer offers and watches.
#[derive(Debug, Clone, Default)]
pub struct PeerOptions {
    /// Register only [`codec`]'s Opus and VP8, instead of the stack's
    /// default codecs (what a browser offers).
    pub opus_vp8_only: bool,
    /// Offer the RFC 6464 audio level header extension.
    pub audio_level: bool,
    /// Put the SFU's RTCP tap last among the interceptors, so the local
    /// tracks see the bit-rate ceilings (REMB) and keyframe requests.
    pub rtcp_tap: bool,
    /// Shorter ICE timeouts; the stack's defaults when none.
    pub ice_timeouts: Option<IceTimeouts>,
}

/// What a peer does with each remote track as it arrives (typically: spawn
/// a task that reads it).
pub type OnTrack = Arc<dyn Fn(Arc<dyn TrackRemote>) + Send + Sync>;

struct Handler {
    gathered: watch::Sender<bool>,
    state: watch::Sender<RTCPeerConnectionState>,
    on_track: Option<OnTrack>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            let _ = self.gathered.send(true);
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        let _ = self.state.send(state);
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        if let Some(on_track) = &self.on_track {
            on_track(track);
        }
    }
}

/// The Opus (48 kHz stereo, in-band FEC) or VP8 codec a peer registers
/// with [`PeerOptions::opus_vp8_only`], with its payload type.
pub fn codec(kind: RtpCodecKind) -> RTCRtpCodecParameters {
    let (mime, clock_rate, channels, payload_type) = match kind {
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
        payload_type,
    }
}

/// A local track of `kind` with one encoding of `codec` on `ssrc`, in
/// media stream `stream`; its id and label are `{id}-audio` or
/// `{id}-video`.
pub fn local_track(
    kind: RtpCodecKind,
    codec: RTCRtpCodec,
    stream: &str,
    id: &str,
    ssrc: u32,
) -> Arc<TrackLocalStaticRTP> {
    let label = if kind == RtpCodecKind::Audio {
        "audio"
    } else {
        "video"
    };
    Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
        stream.to_string(),
        format!("{id}-{label}"),
        format!("{id}-{label}"),
        kind,
        vec![RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters {
                ssrc: Some(ssrc),
                ..Default::default()
            },
            codec,
            ..Default::default()
        }],
    )))
}

/// A peer connection and what tells how it is doing.
pub struct Peer {
    pc: Arc<dyn PeerConnection>,
    gathered: watch::Receiver<bool>,
    state: watch::Receiver<RTCPeerConnectionState>,
}

impl Peer {
    /// A peer on 127.0.0.1 with mDNS off, handing each remote track to
    /// `on_track`.
    pub async fn new(options: &PeerOptions, on_track: Option<OnTrack>) -> Result<Peer, Error> {
        let mut media = MediaEngine::default();
        if options.opus_vp8_only {
            media.register_codec(codec(RtpCodecKind::Video), RtpCodecKind::Video)?;
            media.register_codec(codec(RtpCodecKind::Audio), RtpCodecKind::Audio)?;
        } else {
            media.register_default_codecs()?;
        }
        if options.audio_level {
            media.register_header_extension(
                RTCRtpHeaderExtensionCapability {
                    uri: AUDIO_LEVEL_URI.to_string(),
                },
                RtpCodecKind::Audio,
                None,
            )?;
        }
        // Default interceptors: NACK generator and responder (the responder
        // answers the server's NACKs from its send buffer), reports, TWCC
        // receiver. The tap goes last so it sees RTCP after all of them.
        let mut registry = register_default_interceptors(Registry::new(), &mut media)?;
        if options.rtcp_tap {
            registry = registry.with(Slot::from(TAP_SLOT), RtcpTap::publisher());
        }
        let mut settings = SettingEngineBuilder::new()
            .with_multicast_dns_mode(rtc::ice::mdns::MulticastDnsMode::Disabled);
        if let Some(t) = options.ice_timeouts {
            settings =
                settings.with_ice_timeouts(Some(t.disconnected), Some(t.failed), Some(t.keepalive));
        }
        let (gathered_tx, gathered) = watch::channel(false);
        let (state_tx, state) = watch::channel(RTCPeerConnectionState::New);
        let handler = Arc::new(Handler {
            gathered: gathered_tx,
            state: state_tx,
            on_track,
        });
        let pc = PeerConnectionBuilder::new()
            .with_configuration(RTCConfigurationBuilder::new().build())
            .with_media_engine(media)
            .with_setting_engine(settings.build())
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

    /// The connection itself, for what the steps here do not cover.
    pub fn pc(&self) -> &Arc<dyn PeerConnection> {
        &self.pc
    }

    /// Adds a receive-only transceiver of `kind`.
    pub async fn receive(&self, kind: RtpCodecKind) -> Result<(), Error> {
        let init = RTCRtpTransceiverInit {
            direction: RTCRtpTransceiverDirection::Recvonly,
            streams: vec![],
            send_encodings: vec![],
        };
        self.pc.add_transceiver_from_kind(kind, Some(init)).await?;
        Ok(())
    }

    /// A complete offer, candidates included (WHIP and WHEP do not trickle
    /// here), gathered within `limit`.
    pub async fn offer(&self, limit: Duration) -> Result<String, Error> {
        let offer = self.pc.create_offer(None).await?;
        self.pc.set_local_description(offer).await?;
        self.local_description(limit).await
    }

    /// Applies the remote `offer` and returns the complete answer,
    /// gathered within `limit` (at once when gathering already finished,
    /// as on a renegotiation).
    pub async fn answer(&self, offer: String, limit: Duration) -> Result<String, Error> {
        self.take_offer(offer).await?;
        self.complete_answer(limit).await
    }

    /// Applies the remote `offer`: the first half of [`Peer::answer`], for
    /// an answerer that adds its tracks to the offered lines before
    /// answering.
    pub async fn take_offer(&self, offer: String) -> Result<(), Error> {
        let offer = RTCSessionDescription::offer(offer)?;
        self.pc.set_remote_description(offer).await?;
        Ok(())
    }

    /// The complete answer to the offer taken: the second half of
    /// [`Peer::answer`].
    pub async fn complete_answer(&self, limit: Duration) -> Result<String, Error> {
        let answer = self.pc.create_answer(None).await?;
        self.pc.set_local_description(answer).await?;
        self.local_description(limit).await
    }

    /// Applies the remote answer.
    pub async fn accept(&self, answer: String) -> Result<(), Error> {
        let answer = RTCSessionDescription::answer(answer)?;
        self.pc.set_remote_description(answer).await?;
        Ok(())
    }

    async fn local_description(&self, limit: Duration) -> Result<String, Error> {
        let mut gathered = self.gathered.clone();
        tokio::time::timeout(limit, gathered.wait_for(|done| *done))
            .await
            .map_err(|_| Error::Timeout("ICE gathering".into()))?
            .map_err(|_| Error::WebRtc("peer connection went away".into()))?;
        self.pc
            .local_description()
            .await
            .map(|d| d.sdp)
            .ok_or_else(|| Error::WebRtc("no local description after gathering".into()))
    }

    /// Waits until connected; fails at once if the connection fails.
    pub async fn connected(&self, limit: Duration) -> Result<(), Error> {
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
            .map_err(|_| Error::Timeout("peer connection".into()))?
            .map(|s| *s)
            .map_err(|_| Error::WebRtc("peer connection went away".into()))?;
        if reached == RTCPeerConnectionState::Connected {
            Ok(())
        } else {
            Err(Error::WebRtc(format!("peer connection {reached}")))
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
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two peers on loopback: the offer and the answer are complete (they
    /// carry a candidate), the connection comes up on both sides, and with
    /// short ICE timeouts one notices within seconds that the other closed.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_peers_connect_on_loopback() {
        let limit = Duration::from_secs(10);
        let options = PeerOptions {
            opus_vp8_only: true,
            rtcp_tap: true,
            ..PeerOptions::default()
        };
        let offerer = Peer::new(&options, None).await.expect("offerer");
        offerer
            .receive(RtpCodecKind::Audio)
            .await
            .expect("transceiver");
        let short = PeerOptions {
            ice_timeouts: Some(IceTimeouts {
                disconnected: Duration::from_secs(1),
                failed: Duration::from_secs(2),
                keepalive: Duration::from_millis(200),
            }),
            ..PeerOptions::default()
        };
        let answerer = Peer::new(&short, None).await.expect("answerer");
        let offer = offerer.offer(limit).await.expect("offer");
        assert!(offer.contains("a=candidate:"), "{offer}");
        assert!(offer.contains("127.0.0.1"), "{offer}");
        let answer = answerer.answer(offer, limit).await.expect("answer");
        assert!(answer.contains("a=candidate:"), "{answer}");
        offerer.accept(answer).await.expect("answer applied");
        offerer.connected(limit).await.expect("offerer connected");
        answerer.connected(limit).await.expect("answerer connected");
        offerer.close().await;
        tokio::time::timeout(limit, answerer.dropped())
            .await
            .expect("the other side's close is noticed");
        answerer.close().await;
    }
}
