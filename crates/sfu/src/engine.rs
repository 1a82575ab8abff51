//! How one server-side peer connection is configured.
//!
//! Every choice here is a fact about the deployment, not a default of the
//! stack: ICE-lite (the server has one well-known address and never needs
//! to probe; it also means every path starts with a STUN request the socket
//! task can route by ufrag), the stack's own ICE credentials read back
//! from the SDP (the ufrag is the routing key), no mDNS (no multicast on
//! the operator's network), the DTLS server role when answering (so the server picks the
//! cheaper AES-GCM SRTP profile when the client offers it), consent that
//! lasts as RFC 7675 says, a host candidate per socket of the media
//! port, and on a connection whose client only receives (a viewer, a
//! technician) only the interceptors that serve what the server sends.

use super::rtcp_tap::{RtcpTap, TAP_SLOT};
use super::MediaError;
use rtc::ice::tcp_type::TcpType;
use rtc::interceptor::{NackResponderBuilder, Registry, SenderReportBuilder, Slot};
use rtc::peer_connection::configuration::interceptor_registry::{
    configure_simulcast_extension_headers, register_default_interceptors,
};
use rtc::peer_connection::configuration::media_engine::MediaEngine;
use rtc::peer_connection::configuration::setting_engine::SettingEngineBuilder;
use rtc::peer_connection::configuration::RTCConfigurationBuilder;
use rtc::peer_connection::transport::{
    CandidateConfig, CandidateHostConfig, RTCDtlsRole, RTCIceCandidate, RTCIceCandidateInit,
};
use rtc::peer_connection::{RTCPeerConnection, RTCPeerConnectionBuilder};
use rtc::rtp_transceiver::rtp_sender::{
    RTCPFeedback, RTCRtpHeaderExtensionCapability, RtpCodecKind, TYPE_RTCP_FB_NACK,
};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// From consent lapsed (ICE `disconnected`) to the connection failed.
const CONSENT_TO_FAILED: Duration = Duration::from_secs(1);

/// RFC 6464 audio level: the active-speaker detector reads it, and it is
/// worth forwarding (a receiver's own level meters use it).
pub(crate) const AUDIO_LEVEL_URI: &str = "urn:ietf:params:rtp-hdrext:ssrc-audio-level";
/// Rotation of the camera image; meaningless if dropped.
pub(crate) const VIDEO_ORIENTATION_URI: &str = "urn:3gpp:video-orientation";

/// Extensions carried from a publisher to its subscribers. Everything else
/// (MID, RID, transport-wide sequence numbers, send times) describes one
/// hop and is either written by the outgoing stack or must not travel.
pub(crate) const FORWARDED_EXTENSIONS: [&str; 2] = [AUDIO_LEVEL_URI, VIDEO_ORIENTATION_URI];

/// Builds a server-side peer connection with a host candidate at each of
/// `candidates` (the media port's sockets), and a passive ICE-TCP one
/// beside each when `ice_tcp`. Its ICE credentials are the stack's own random ones,
/// read back from the local description for routing: fixed ones would
/// survive an ICE restart, and a client then never restarts its side.
pub(crate) fn build_peer(
    candidates: &[SocketAddr],
    ice_tcp: bool,
    consent_timeout: Duration,
    client: Client,
    now: Instant,
) -> Result<RTCPeerConnection, MediaError> {
    let mut media_engine = MediaEngine::default();
    media_engine
        .register_default_codecs()
        .map_err(MediaError::stack)?;
    media_engine
        .register_header_extension(
            RTCRtpHeaderExtensionCapability {
                uri: AUDIO_LEVEL_URI.to_string(),
            },
            RtpCodecKind::Audio,
            None,
        )
        .map_err(MediaError::stack)?;
    media_engine
        .register_header_extension(
            RTCRtpHeaderExtensionCapability {
                uri: VIDEO_ORIENTATION_URI.to_string(),
            },
            RtpCodecKind::Video,
            None,
        )
        .map_err(MediaError::stack)?;
    let registry = match client {
        Client::Publishes => register_default_interceptors(Registry::new(), &mut media_engine)
            .map_err(MediaError::stack)?,
        Client::OnlyReceives => receiving_only_interceptors(&mut media_engine)?,
    }
    .with(Slot::from(TAP_SLOT), RtcpTap::router());

    let settings = SettingEngineBuilder::new()
        .with_lite(true)
        .with_multicast_dns_mode(rtc::ice::mdns::MulticastDnsMode::Disabled)
        .with_answering_dtls_role(RTCDtlsRole::Server)
        // The stack counts only STUN as a sign of life, and by default calls
        // a pair disconnected after 5 s without one; clients that follow
        // RFC 7675 check every 4-6 s, so their links would flap. Consent
        // lasts `consent_timeout` (30 s by the RFC); once it lapses the
        // connection fails and nothing more is sent to it. A link that goes
        // silent sooner is noticed by the media task, which counts media too.
        .with_ice_timeouts(Some(consent_timeout), Some(CONSENT_TO_FAILED), None)
        .build();

    let mut pc = RTCPeerConnectionBuilder::new()
        .with_configuration(RTCConfigurationBuilder::new().build())
        .with_media_engine(media_engine)
        .with_setting_engine(settings)
        .with_interceptor_registry(registry)
        .build(now)
        .map_err(MediaError::stack)?;

    // UDP first: a client tries TCP only where UDP fails (its priority is
    // lower by the candidate type preferences of RFC 6544).
    let tcp = candidates.iter().filter(|_| ice_tcp).map(|a| (*a, true));
    for (addr, is_tcp) in candidates.iter().map(|a| (*a, false)).chain(tcp) {
        pc.add_local_candidate(host_candidate(addr, is_tcp)?)
            .map_err(MediaError::stack)?;
    }
    Ok(pc)
}

/// What the client of a connection sends the server besides RTCP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Client {
    /// A site's page or WHIP publisher: media both ways.
    Publishes,
    /// A viewer or a technician's console: media only from the server.
    OnlyReceives,
}

/// The stack's interceptors for a connection that carries media from the
/// server only: answering NACKs and sending sender reports. Those that
/// watch incoming media (NACKs and receiver reports for it, transport-wide
/// feedback) would have nothing to watch, yet each of the stack's
/// interceptors handles every packet sent, a few per cent of a forwarded
/// packet's cost apiece.
fn receiving_only_interceptors(media_engine: &mut MediaEngine) -> Result<Registry, MediaError> {
    for parameter in ["", "pli"] {
        media_engine.register_feedback(
            RTCPFeedback {
                typ: TYPE_RTCP_FB_NACK.to_owned(),
                parameter: parameter.to_owned(),
            },
            RtpCodecKind::Video,
        );
    }
    configure_simulcast_extension_headers(media_engine).map_err(MediaError::stack)?;
    Ok(Registry::new()
        .with(Slot::NackResponder, NackResponderBuilder::new().build())
        .with(Slot::SenderReport, SenderReportBuilder::new().build()))
}

/// A host candidate at `addr`: UDP, or passive ICE-TCP when `tcp`.
pub(crate) fn host_candidate(
    addr: SocketAddr,
    tcp: bool,
) -> Result<RTCIceCandidateInit, MediaError> {
    let candidate = CandidateHostConfig {
        base_config: CandidateConfig {
            network: if tcp { "tcp" } else { "udp" }.to_owned(),
            address: addr.ip().to_string(),
            port: addr.port(),
            component: 1,
            ..Default::default()
        },
        tcp_type: if tcp {
            TcpType::Passive
        } else {
            TcpType::Unspecified
        },
    }
    .new_candidate_host()
    .map_err(MediaError::stack)?;
    RTCIceCandidate::from(&candidate)
        .to_json()
        .map_err(MediaError::stack)
}
