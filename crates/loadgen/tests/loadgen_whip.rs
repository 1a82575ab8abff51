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
use diemcau_testkit::{codec, local_track, OnTrack, Peer, PeerOptions};
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp;
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use std::io::Write;
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::broadcast;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_remote::TrackRemoteEvent;

const CHAIR_TOKEN: &str = "chair-token";
const GATHER_LIMIT: Duration = Duration::from_secs(5);

#[derive(Clone)]
struct Shared {
    chair_media: broadcast::Sender<(RtpCodecKind, rtp::Packet)>,
    peers: Arc<tokio::sync::Mutex<Vec<Peer>>>,
    next: Arc<AtomicU32>,
}

/// Forwards every packet of each track to `tx`, and asks for a video
/// keyframe every second.
fn forward(tx: broadcast::Sender<(RtpCodecKind, rtp::Packet)>) -> OnTrack {
    Arc::new(move |track| {
        let tx = tx.clone();
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
    })
}

/// The server's side of one connection: Opus and VP8 only.
async fn server_peer(on_track: Option<OnTrack>) -> Peer {
    let options = PeerOptions {
        opus_vp8_only: true,
        ..PeerOptions::default()
    };
    Peer::new(&options, on_track).await.expect("server peer")
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
    let pc = server_peer(is_chair.then(|| forward(s.chair_media.clone()))).await;
    let sdp = pc.answer(offer, GATHER_LIMIT).await.expect("answer");
    s.peers.lock().await.push(pc);
    created(&s, sdp)
}

async fn whep(State(s): State<Shared>, Path(_session): Path<String>, offer: String) -> Response {
    let pc = server_peer(None).await;
    pc.take_offer(offer).await.expect("offer applies");
    let mut outs = Vec::new();
    for kind in [RtpCodecKind::Audio, RtpCodecKind::Video] {
        let ssrc = rand::random::<u32>();
        let track = local_track(kind, codec(kind).rtp_codec, "chair", "chair", ssrc);
        pc.pc()
            .add_track(track.clone() as Arc<dyn TrackLocal>)
            .await
            .expect("track");
        outs.push((kind, track, ssrc, codec(kind).payload_type));
    }
    let sdp = pc.complete_answer(GATHER_LIMIT).await.expect("answer");
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
        pc.close().await;
    }
    server.abort();
}
