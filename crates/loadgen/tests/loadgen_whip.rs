//! The load generator's WebRTC half against a minimal WHIP/WHEP server
//! written for this test: it forwards the chair's audio and video to every
//! WHEP viewer and asks the chair for a keyframe every second. No floor,
//! no gating; it only proves that the generator publishes over WHIP,
//! views over WHEP, answers keyframe requests and measures what arrives.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, post};
use axum::Router;
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::media_engine::{MIME_TYPE_OPUS, MIME_TYPE_VP8};
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters, RTCRtpEncodingParameters,
    RtpCodecKind,
};
use std::io::Write;
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, Notify};
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{
    register_default_interceptors, MediaEngine, PeerConnection, PeerConnectionBuilder,
    PeerConnectionEventHandler, RTCConfigurationBuilder, RTCIceGatheringState,
    RTCSessionDescription, Registry, SettingEngineBuilder,
};

const CHAIR_TOKEN: &str = "chair-token";

#[derive(Clone)]
struct Shared {
    chair_media: broadcast::Sender<(RtpCodecKind, rtp::Packet)>,
    peers: Arc<tokio::sync::Mutex<Vec<Arc<dyn PeerConnection>>>>,
    next: Arc<AtomicU32>,
}

struct Handler {
    gathered: Arc<Notify>,
    forward_to: Option<broadcast::Sender<(RtpCodecKind, rtp::Packet)>>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            self.gathered.notify_one();
        }
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        let Some(tx) = self.forward_to.clone() else {
            return;
        };
        tokio::spawn(async move {
            let kind = track.kind().await;
            let ssrc = track.ssrcs().await.first().copied().unwrap_or(0);
            let mut next_pli = Instant::now() + Duration::from_millis(500);
            while let Ok(Some(event)) =
                tokio::time::timeout(Duration::from_secs(30), track.poll()).await
            {
                if let TrackRemoteEvent::OnRtpPacket(p) = event {
                    let _ = tx.send((kind, p));
                }
                if kind == RtpCodecKind::Video && Instant::now() > next_pli {
                    next_pli = Instant::now() + Duration::from_secs(1);
                    let pli = PictureLossIndication {
                        sender_ssrc: 0,
                        media_ssrc: ssrc,
                    };
                    let _ = track.write_rtcp(vec![Box::new(pli)]).await;
                }
            }
        });
    }
}

fn codec(kind: RtpCodecKind) -> RTCRtpCodecParameters {
    let (mime, clock_rate, channels, payload_type) = match kind {
        RtpCodecKind::Audio => (MIME_TYPE_OPUS, 48_000, 2, 111),
        _ => (MIME_TYPE_VP8, 90_000, 0, 96),
    };
    RTCRtpCodecParameters {
        rtp_codec: RTCRtpCodec {
            mime_type: mime.to_string(),
            clock_rate,
            channels,
            sdp_fmtp_line: String::new(),
            rtcp_feedback: vec![],
        },
        payload_type,
    }
}

async fn server_peer(
    forward_to: Option<broadcast::Sender<(RtpCodecKind, rtp::Packet)>>,
) -> (Arc<dyn PeerConnection>, Arc<Notify>) {
    let mut media = MediaEngine::default();
    media
        .register_codec(codec(RtpCodecKind::Video), RtpCodecKind::Video)
        .expect("VP8");
    media
        .register_codec(codec(RtpCodecKind::Audio), RtpCodecKind::Audio)
        .expect("Opus");
    let registry =
        register_default_interceptors(Registry::new(), &mut media).expect("interceptors");
    let gathered = Arc::new(Notify::new());
    let pc = PeerConnectionBuilder::new()
        .with_configuration(RTCConfigurationBuilder::new().build())
        .with_media_engine(media)
        .with_setting_engine(
            SettingEngineBuilder::new()
                .with_multicast_dns_mode(rtc::ice::mdns::MulticastDnsMode::Disabled)
                .build(),
        )
        .with_interceptor_registry(registry)
        .with_handler(Arc::new(Handler {
            gathered: gathered.clone(),
            forward_to,
        }))
        .with_udp_addrs(vec!["127.0.0.1:0".to_string()])
        .build()
        .await
        .expect("server peer");
    (Arc::new(pc), gathered)
}

async fn answer(pc: &Arc<dyn PeerConnection>, gathered: &Notify, offer: String) -> String {
    pc.set_remote_description(RTCSessionDescription::offer(offer).expect("offer parses"))
        .await
        .expect("offer applies");
    let answer = pc.create_answer(None).await.expect("answer");
    pc.set_local_description(answer)
        .await
        .expect("answer applies");
    tokio::time::timeout(Duration::from_secs(5), gathered.notified())
        .await
        .expect("gathered");
    pc.local_description().await.expect("local description").sdp
}

fn created(shared: &Shared, sdp: String) -> Response {
    let n = shared.next.fetch_add(1, Ordering::Relaxed);
    (
        StatusCode::CREATED,
        [
            (header::LOCATION, format!("/resource/{n}")),
            (header::CONTENT_TYPE, "application/sdp".to_string()),
        ],
        sdp,
    )
        .into_response()
}

async fn whip(
    State(s): State<Shared>,
    Path(_session): Path<String>,
    headers: HeaderMap,
    offer: String,
) -> Response {
    let is_chair = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        == Some(&format!("Bearer {CHAIR_TOKEN}"));
    // Endpoints are accepted and their media dropped: this server has no floor.
    let (pc, gathered) = server_peer(is_chair.then(|| s.chair_media.clone())).await;
    let sdp = answer(&pc, &gathered, offer).await;
    s.peers.lock().await.push(pc);
    created(&s, sdp)
}

async fn whep(State(s): State<Shared>, Path(_session): Path<String>, offer: String) -> Response {
    let (pc, gathered) = server_peer(None).await;
    pc.set_remote_description(RTCSessionDescription::offer(offer).expect("offer parses"))
        .await
        .expect("offer applies");
    let mut outs = Vec::new();
    for kind in [RtpCodecKind::Audio, RtpCodecKind::Video] {
        let ssrc = rand::random::<u32>();
        let track = Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
            "chair".to_string(),
            format!("chair-{kind}"),
            format!("chair-{kind}"),
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
        pc.add_track(track.clone() as Arc<dyn TrackLocal>)
            .await
            .expect("track");
        outs.push((kind, track, ssrc, codec(kind).payload_type));
    }
    let answer = pc.create_answer(None).await.expect("answer");
    pc.set_local_description(answer)
        .await
        .expect("answer applies");
    tokio::time::timeout(Duration::from_secs(5), gathered.notified())
        .await
        .expect("gathered");
    let sdp = pc.local_description().await.expect("local description").sdp;
    let mut rx = s.chair_media.subscribe();
    tokio::spawn(async move {
        while let Ok(Ok((kind, mut p))) =
            tokio::time::timeout(Duration::from_secs(30), rx.recv()).await
        {
            if let Some((_, track, ssrc, pt)) = outs.iter().find(|o| o.0 == kind) {
                p.header.ssrc = *ssrc;
                p.header.payload_type = *pt;
                p.header.extension = false;
                p.header.extensions.clear();
                let _ = track.write_rtp(p).await;
            }
        }
    });
    s.peers.lock().await.push(pc);
    created(&s, sdp)
}

/// Two endpoints and a chair over WHIP, two viewers over WHEP: both viewers
/// get the chair's video, packets and a latency are reported, and the
/// server's keyframe requests reach the chair.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whip_publishers_and_whep_viewers_are_measured() {
    let (chair_media, _) = broadcast::channel(4096);
    let shared = Shared {
        chair_media,
        peers: Arc::default(),
        next: Arc::default(),
    };
    let app = Router::new()
        .route("/whip/{session}", post(whip))
        .route("/whep/{session}", post(whep))
        .route("/resource/{n}", delete(|| async { StatusCode::OK }))
        .with_state(shared.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let mut tokens = tempfile::NamedTempFile::new().expect("tokens file");
    writeln!(
        tokens,
        "role,code,token\nchair,,{CHAIR_TOKEN}\n,30,e30\n,01,e01"
    )
    .expect("tokens");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_diemcau-loadgen"))
        .args([
            "--server",
            &format!("http://{addr}"),
            "--tokens",
            &tokens.path().display().to_string(),
            "--endpoints",
            "2",
            "--duration",
            "2s",
            "--chair-kbps",
            "500",
            "--endpoint-kbps",
            "200",
            "--server-pid",
            &std::process::id().to_string(),
            "--json",
        ])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the load generator starts");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut out = Vec::new();
    let read = async {
        tokio::io::AsyncReadExt::read_to_end(&mut stdout, &mut out).await?;
        child.wait().await
    };
    let status = tokio::time::timeout(Duration::from_secs(90), read)
        .await
        .expect("the load generator finishes within 90 s")
        .expect("it runs");
    assert!(status.success(), "the load generator failed");
    let json: serde_json::Value = serde_json::from_slice(&out).expect("JSON output");
    let run = &json["runs"][0];
    assert_eq!(run["target"], "whip-whep");
    assert_eq!(run["join_error_count"], 0, "{}", run["join_errors"]);
    assert_eq!(run["programme_receivers_with_chair"], 2);
    assert!(run["forwarded_packets"].as_u64().unwrap_or(0) > 100);
    assert!(run["latency"]["p50_ms"].as_f64().unwrap_or(0.0) > 0.0);
    assert!(run["keyframe_requests"].as_u64().unwrap_or(0) >= 1);
    for pc in shared.peers.lock().await.iter() {
        let _ = pc.close().await;
    }
    server.abort();
}
