//! The meeting's record through the real binary: a live session where two
//! sites speak in turn while the programme is recorded from real encoders
//! (VP8 from the chair and Hải Dương, H.264 from Hải Phòng, Opus from all,
//! encoded beforehand by `ffmpeg` and sent over WebRTC in real time), then
//! the recordings (checked with `ffprobe` and decoded with `ffmpeg`), the
//! speaking log and its WebVTT chapters, the minutes as PDF (read back with
//! poppler's `pdftotext`), their signature, and `diemcau verify` and
//! `diemcau report` on the server's data dir.

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// Real encoded media sent over WebRTC, as a site's client would.
mod publisher {
    use bytes::Bytes;
    use rtc::media::io::ivf_reader::IVFReader;
    use rtc::media::io::ogg_reader::OggReader;
    use rtc::media::Sample;
    use rtc::media_stream::MediaStreamTrack;
    use rtc::peer_connection::configuration::media_engine::{
        MIME_TYPE_H264, MIME_TYPE_OPUS, MIME_TYPE_VP8,
    };
    use rtc::rtp_transceiver::rtp_sender::{
        RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters, RTCRtpEncodingParameters,
        RtpCodecKind,
    };
    use std::path::Path;
    use std::process::Command;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, Instant};
    use tokio::sync::Notify;
    use tokio::task::JoinHandle;
    use webrtc::media_stream::track_local::static_sample::TrackLocalStaticSample;
    use webrtc::media_stream::track_local::TrackLocal;
    use webrtc::peer_connection::{
        register_default_interceptors, MediaEngine, PeerConnection, PeerConnectionBuilder,
        PeerConnectionEventHandler, RTCConfigurationBuilder, RTCIceGatheringState,
        RTCPeerConnectionState, RTCSessionDescription, Registry, SettingEngineBuilder,
    };

    const OPUS_PT: u8 = 111;
    const VP8_PT: u8 = 96;
    const H264_PT: u8 = 102;
    /// Frames a second of the encoded pictures; a keyframe every
    /// `GOP` frames (0.4 s), so a switch of speaker waits little for one.
    const FPS: u32 = 25;
    const GOP: u32 = 10;
    /// Seconds of media encoded, sent over and over.
    const CLIP_SECS: u32 = 4;
    /// A publisher stops by itself after this long.
    const MAX_SEND: Duration = Duration::from_secs(120);

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Video {
        Vp8,
        H264,
    }

    /// Runs `ffmpeg` with `options` (words without spaces), writing `out`.
    fn ffmpeg(options: &str, out: &Path) {
        let result = Command::new("ffmpeg")
            .args(["-v", "error", "-y"])
            .args(options.split_whitespace())
            .arg(out)
            .output()
            .expect("ffmpeg runs (scripts/test-deps installs it)");
        assert!(
            result.status.success(),
            "ffmpeg {options}: {}",
            String::from_utf8_lossy(&result.stderr)
        );
    }

    /// A test picture in motion, encoded in `video`: one frame a sample.
    fn encode_video(dir: &Path, name: &str, video: Video) -> Vec<Bytes> {
        let source = format!("testsrc2=size=320x240:rate={FPS}");
        match video {
            Video::Vp8 => {
                let path = dir.join(format!("{name}.ivf"));
                ffmpeg(
                    &format!(
                        "-f lavfi -i {source} -t {CLIP_SECS} -c:v libvpx -deadline realtime \
                         -g {GOP} -keyint_min {GOP} -b:v 300k -f ivf"
                    ),
                    &path,
                );
                let file = std::fs::File::open(&path).expect("the IVF file");
                let (mut reader, _) = IVFReader::new(std::io::BufReader::new(file)).expect("IVF");
                let mut frames = Vec::new();
                while let Ok((frame, _)) = reader.parse_next_frame() {
                    frames.push(frame.freeze());
                }
                frames
            }
            Video::H264 => {
                let path = dir.join(format!("{name}.h264"));
                // One slice a frame and the parameter sets before every
                // keyframe, as a WebRTC encoder sends them.
                ffmpeg(
                    &format!(
                        "-f lavfi -i {source} -t {CLIP_SECS} -c:v libx264 -profile:v baseline \
                         -pix_fmt yuv420p -preset veryfast -bf 0 -threads 1 -x264-params \
                         keyint={GOP}:min-keyint={GOP}:scenecut=0:repeat-headers=1:sliced-threads=0 \
                         -bsf:v h264_mp4toannexb -f h264"
                    ),
                    &path,
                );
                access_units(&std::fs::read(&path).expect("the H.264 file"))
            }
        }
    }

    /// Splits an Annex B stream into access units (one slice a frame: a
    /// unit ends with its slice), start codes kept, as a sample takes them.
    fn access_units(stream: &[u8]) -> Vec<Bytes> {
        let mut starts = Vec::new();
        let mut i = 0;
        while i + 3 <= stream.len() {
            if stream[i..i + 3] == [0, 0, 1] {
                starts.push(i);
                i += 3;
            } else {
                i += 1;
            }
        }
        let mut units = Vec::new();
        let mut from = 0;
        for (n, &at) in starts.iter().enumerate() {
            let end = starts.get(n + 1).map_or(stream.len(), |&next| next);
            let nal_type = stream.get(at + 3).map_or(0, |b| b & 0x1F);
            if matches!(nal_type, 1 | 5) {
                units.push(Bytes::copy_from_slice(&stream[from..end]));
                from = end;
            }
        }
        units
    }

    /// A tone in Opus, one 20 ms packet a sample.
    fn encode_audio(dir: &Path, name: &str, hz: u32) -> Vec<Bytes> {
        let path = dir.join(format!("{name}.ogg"));
        // One packet a page: a page is then a sample.
        ffmpeg(
            &format!(
                "-f lavfi -i sine=frequency={hz}:sample_rate=48000 -t {CLIP_SECS} -c:a libopus \
                 -b:a 32k -frame_duration 20 -page_duration 20000 -f ogg"
            ),
            &path,
        );
        let file = std::fs::File::open(&path).expect("the Ogg file");
        let (mut reader, _) = OggReader::new(std::io::BufReader::new(file), true).expect("Ogg");
        let mut packets = Vec::new();
        while let Ok((page, _)) = reader.parse_next_page() {
            if !page.starts_with(b"OpusTags") && !page.is_empty() {
                packets.push(page.freeze());
            }
        }
        packets
    }

    struct Handler {
        gathered: Arc<Notify>,
        connected: Arc<Notify>,
    }

    #[async_trait::async_trait]
    impl PeerConnectionEventHandler for Handler {
        async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
            if state == RTCIceGatheringState::Complete {
                self.gathered.notify_one();
            }
        }

        async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
            if state == RTCPeerConnectionState::Connected {
                self.connected.notify_one();
            }
        }
    }

    fn track(kind: RtpCodecKind, mime: &str, name: &str, ssrc: u32) -> Arc<TrackLocalStaticSample> {
        let (label, clock_rate, channels) = match kind {
            RtpCodecKind::Audio => ("audio", 48_000, 2),
            _ => ("video", 90_000, 0),
        };
        let track = MediaStreamTrack::new(
            format!("{name}-stream"),
            format!("{name}-{label}"),
            format!("{name}-{label}"),
            kind,
            vec![RTCRtpEncodingParameters {
                rtp_coding_parameters: RTCRtpCodingParameters {
                    ssrc: Some(ssrc),
                    ..Default::default()
                },
                codec: RTCRtpCodec {
                    mime_type: mime.to_string(),
                    clock_rate,
                    channels,
                    ..Default::default()
                },
                ..Default::default()
            }],
        );
        Arc::new(TrackLocalStaticSample::new(Instant::now(), track).expect("a sample track"))
    }

    /// A site sending its picture and its tone; it stops when dropped.
    pub struct Publisher {
        pc: Arc<dyn PeerConnection>,
        stop: Arc<AtomicBool>,
        tasks: Vec<JoinHandle<()>>,
    }

    impl Publisher {
        /// Encodes the media, then publishes it over WHIP to `whip` with
        /// `token`; returns once the connection is up.
        pub async fn start(
            dir: &Path,
            name: &str,
            video: Video,
            hz: u32,
            whip: &str,
            token: &str,
        ) -> Publisher {
            let frames = encode_video(dir, name, video);
            let packets = encode_audio(dir, name, hz);
            assert!(
                frames.len() > 50 && packets.len() > 100,
                "{name}: media encoded"
            );
            let mut media = MediaEngine::default();
            // Only the one video codec is offered: a client without VP8
            // gets H.264 legs from the server.
            let (mime, pt, fmtp) = match video {
                Video::Vp8 => (MIME_TYPE_VP8, VP8_PT, ""),
                Video::H264 => (
                    MIME_TYPE_H264,
                    H264_PT,
                    "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
                ),
            };
            for (codec, kind) in [
                (
                    RTCRtpCodec {
                        mime_type: MIME_TYPE_OPUS.to_string(),
                        clock_rate: 48_000,
                        channels: 2,
                        sdp_fmtp_line: "minptime=10;useinbandfec=1".to_string(),
                        rtcp_feedback: vec![],
                    },
                    (RtpCodecKind::Audio, OPUS_PT),
                ),
                (
                    RTCRtpCodec {
                        mime_type: mime.to_string(),
                        clock_rate: 90_000,
                        channels: 0,
                        sdp_fmtp_line: fmtp.to_string(),
                        rtcp_feedback: vec![],
                    },
                    (RtpCodecKind::Video, pt),
                ),
            ] {
                media
                    .register_codec(
                        RTCRtpCodecParameters {
                            rtp_codec: codec,
                            payload_type: kind.1,
                        },
                        kind.0,
                    )
                    .expect("codec registers");
            }
            let registry = register_default_interceptors(Registry::new(), &mut media)
                .expect("default interceptors register");
            let settings = SettingEngineBuilder::new()
                .with_multicast_dns_mode(rtc::ice::mdns::MulticastDnsMode::Disabled)
                .build();
            let gathered = Arc::new(Notify::new());
            let connected = Arc::new(Notify::new());
            let pc = PeerConnectionBuilder::new()
                .with_configuration(RTCConfigurationBuilder::new().build())
                .with_media_engine(media)
                .with_setting_engine(settings)
                .with_interceptor_registry(registry)
                .with_handler(Arc::new(Handler {
                    gathered: gathered.clone(),
                    connected: connected.clone(),
                }))
                .with_udp_addrs(vec!["127.0.0.1:0".to_string()])
                .build()
                .await
                .expect("publisher builds");
            let pc: Arc<dyn PeerConnection> = Arc::new(pc);
            let (a_ssrc, v_ssrc) = (rand::random::<u32>(), rand::random::<u32>());
            let audio = track(RtpCodecKind::Audio, MIME_TYPE_OPUS, name, a_ssrc);
            let picture = track(RtpCodecKind::Video, mime, name, v_ssrc);
            for t in [&audio, &picture] {
                pc.add_track(t.clone() as Arc<dyn TrackLocal>)
                    .await
                    .expect("track added");
            }
            let offer = pc.create_offer(None).await.expect("offer");
            pc.set_local_description(offer)
                .await
                .expect("offer applied");
            tokio::time::timeout(Duration::from_secs(5), gathered.notified())
                .await
                .expect("candidates gathered within 5 s");
            let offer = pc.local_description().await.expect("an offer").sdp;
            let resp = reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("client")
                .post(whip)
                .bearer_auth(token)
                .header("content-type", "application/sdp")
                .body(offer)
                .send()
                .await
                .expect("WHIP request");
            assert_eq!(resp.status(), reqwest::StatusCode::CREATED, "{name}: WHIP");
            let answer = resp.text().await.expect("the answer");
            pc.set_remote_description(RTCSessionDescription::answer(answer).expect("an answer"))
                .await
                .expect("answer applied");
            tokio::time::timeout(Duration::from_secs(10), connected.notified())
                .await
                .unwrap_or_else(|_| panic!("{name} not connected within 10 s"));
            let stop = Arc::new(AtomicBool::new(false));
            let mut tasks = Vec::new();
            for (t, ssrc, pt, samples, every) in [
                (audio, a_ssrc, OPUS_PT, packets, Duration::from_millis(20)),
                (picture, v_ssrc, pt, frames, Duration::from_secs(1) / FPS),
            ] {
                let stop = stop.clone();
                // Keyframe requests (RTCP) are read and let go: the
                // encoded clip has a keyframe every GOP frames.
                let events = t.clone();
                tasks.push(tokio::spawn(async move {
                    while events.poll().await.is_some() {}
                }));
                tasks.push(tokio::spawn(async move {
                    let mut tick = tokio::time::interval(every);
                    let deadline = Instant::now() + MAX_SEND;
                    for data in samples.iter().cycle() {
                        tick.tick().await;
                        if stop.load(Ordering::SeqCst) || Instant::now() > deadline {
                            return;
                        }
                        let sample = Sample {
                            data: data.clone(),
                            duration: every,
                            ..Sample::new(Instant::now())
                        };
                        let _ = t.write_sample(ssrc, pt, &sample, &[]).await;
                    }
                }));
            }
            Publisher { pc, stop, tasks }
        }

        pub async fn close(self) {
            self.stop.store(true, Ordering::SeqCst);
            for task in &self.tasks {
                task.abort();
            }
            let _ = self.pc.close().await;
        }
    }
}

const ID: &str = "hop-bien-ban";
const HD_NAME: &str = "Nguyễn Thị Ánh Tuyết";
const HD_TITLE: &str = "Phó Chủ tịch UBND tỉnh";
const HP_NAME: &str = "Trần Lưu Quang";
const HP_TITLE: &str = "Bí thư Thành ủy";
const CHAIR_NAME: &str = "Phạm Minh Chính";
/// How long each site holds the floor, seconds.
const TURN: f64 = 3.0;

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn diemcau(args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_diemcau"))
        .args(args)
        .env_remove("DIEMCAU_SECRET")
        .output()
        .expect("the binary runs");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The PDF's text as poppler reads it, with every run of white space made
/// one space (a table cell's lines are broken where they fit).
fn pdf_text(path: &Path) -> String {
    let out = Command::new("pdftotext")
        .arg(path)
        .arg("-")
        .output()
        .expect("pdftotext runs (scripts/test-deps installs poppler-utils)");
    assert!(
        out.status.success(),
        "pdftotext failed on {}",
        path.display()
    );
    String::from_utf8(out.stdout)
        .expect("pdftotext writes UTF-8")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

async fn bytes(
    server: &Server,
    path: &str,
    token: &str,
) -> (StatusCode, reqwest::header::HeaderMap, Vec<u8>) {
    let resp = server
        .raw(Method::GET, path)
        .bearer_auth(token)
        .send()
        .await
        .expect("request");
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp.bytes().await.expect("body").to_vec();
    (status, headers, body)
}

/// The turn's length from its times, in seconds.
fn seconds(turn: &Value) -> f64 {
    let at = |field: &str| {
        let text = turn[field].as_str().expect("a time");
        humantime::parse_rfc3339(text).expect("RFC 3339")
    };
    at("ended_at")
        .duration_since(at("started_at"))
        .expect("ends after it starts")
        .as_secs_f64()
}

/// What `ffprobe` says of a file: each stream's codec, and the times of
/// stream `index`'s packets. Fails on anything it writes to stderr.
fn probe(path: &Path, index: usize) -> (Vec<String>, Vec<f64>) {
    let run = |args: &[&str]| {
        let out = Command::new("ffprobe")
            .args(["-v", "error"])
            .args(args)
            .arg(path)
            .output()
            .expect("ffprobe runs (scripts/test-deps installs ffmpeg)");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && stderr.trim().is_empty(),
            "ffprobe on {}: {stderr}",
            path.display()
        );
        String::from_utf8(out.stdout).expect("utf-8")
    };
    let codecs = run(&["-show_entries", "stream=codec_name", "-of", "csv=p=0"])
        .lines()
        .map(str::to_string)
        .collect();
    let times = run(&[
        "-select_streams",
        &index.to_string(),
        "-show_entries",
        "packet=pts_time",
        "-of",
        "csv=p=0",
    ])
    .lines()
    .filter_map(|l| l.trim().trim_end_matches(',').parse().ok())
    .collect();
    (codecs, times)
}

/// `ffmpeg -v error` decodes every stream of the file and says nothing.
fn decodes(path: &Path) {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-map", "0", "-f", "null", "-"])
        .output()
        .expect("ffmpeg runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.trim().is_empty(),
        "ffmpeg on {}: {stderr}",
        path.display()
    );
}

/// A WebVTT time (`00:00:03.250`) in seconds.
fn vtt_seconds(text: &str) -> f64 {
    text.split(':')
        .try_fold(0.0, |acc, part| part.parse::<f64>().map(|v| acc * 60.0 + v))
        .unwrap_or_else(|_| panic!("a WebVTT time: {text}"))
}

/// The cues of a WebVTT text: (start, end, text).
fn cues(vtt: &str) -> Vec<(f64, f64, String)> {
    let lines: Vec<&str> = vtt.lines().collect();
    lines
        .iter()
        .enumerate()
        .filter_map(|(i, line)| {
            let (from, to) = line.split_once(" --> ")?;
            let text = lines.get(i + 1).map_or("", |t| *t).to_string();
            Some((vtt_seconds(from), vtt_seconds(to), text))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_sites_speak_and_the_minutes_say_so_and_are_signed() {
    use publisher::{Publisher, Video};
    let server = Server::start();
    let chair = server.chair();
    let s = format!("/api/sessions/{ID}");
    server
        .create(ID, "Hội nghị trực tuyến về phòng, chống lụt bão")
        .await;
    server.connect(ID, &[CENTRAL, HAI_DUONG, HAI_PHONG]).await;
    for (code, token, name, title, headcount) in [
        (HAI_DUONG, server.endpoint(HAI_DUONG), HD_NAME, HD_TITLE, 24),
        (HAI_PHONG, chair.clone(), HP_NAME, HP_TITLE, 31),
        (
            CENTRAL,
            chair.clone(),
            CHAIR_NAME,
            "Thủ tướng Chính phủ",
            40,
        ),
    ] {
        let (status, body) = server
            .put(
                &format!("{s}/endpoints/{code}/representative"),
                &token,
                json!({"name": name, "title": title, "headcount": headcount}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    server.ok(&format!("{s}/start"), &chair, None).await;
    // Each site's client sends real encoded media: the chair and Hải
    // Dương VP8, Hải Phòng H.264 (it offers no VP8), all Opus.
    let media = tempfile::tempdir().expect("tempdir");
    let whip = server.url(&format!("/whip/{ID}"));
    let mut sites = Vec::new();
    for (name, video, hz, token) in [
        ("chair", Video::Vp8, 300, chair.clone()),
        ("hai-duong", Video::Vp8, 500, server.endpoint(HAI_DUONG)),
        ("hai-phong", Video::H264, 1100, server.endpoint(HAI_PHONG)),
    ] {
        sites.push(Publisher::start(media.path(), name, video, hz, &whip, &token).await);
    }
    let (status, request) = server
        .post(
            &format!("{s}/floor/requests"),
            &server.endpoint(HAI_DUONG),
            Some(json!({"topic": "Công tác sơ tán dân vùng ven biển"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{request}");

    // Recording on; Hải Dương, as it asked; then Hải Phòng, called on
    // unasked (the floor holds one, so Hải Dương's turn ends there); then
    // the chair revokes, and the session ends (which stops the recording).
    server
        .ok(&format!("{s}/recording/start"), &chair, None)
        .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    server
        .ok(
            &format!("{s}/floor/grant"),
            &chair,
            Some(json!({"endpoint": HAI_DUONG})),
        )
        .await;
    tokio::time::sleep(Duration::from_secs_f64(TURN)).await;
    server
        .ok(
            &format!("{s}/floor/grant"),
            &chair,
            Some(json!({"endpoint": HAI_PHONG})),
        )
        .await;
    tokio::time::sleep(Duration::from_secs_f64(TURN)).await;
    server.ok(&format!("{s}/floor/revoke"), &chair, None).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    server.ok(&format!("{s}/end"), &chair, None).await;
    for site in sites {
        site.close().await;
    }

    // The speaking log.
    let (status, log) = server.get(&format!("{s}/speaking-log"), &chair).await;
    assert_eq!(status, StatusCode::OK, "{log}");
    let turns = log["turns"].as_array().expect("turns");
    assert_eq!(turns.len(), 2, "{log}");
    let (hd, hp) = (&turns[0], &turns[1]);
    assert_eq!(
        (hd["code"].as_str(), hd["name"].as_str()),
        (Some(HAI_DUONG), Some("Hải Dương"))
    );
    assert_eq!(hd["representative_name"], HD_NAME);
    assert_eq!(hd["representative_title"], HD_TITLE);
    assert_eq!(hd["called_on"], false);
    assert_eq!(hd["topic"], "Công tác sơ tán dân vùng ven biển");
    assert_eq!(hd["end"], "replaced");
    assert_eq!(
        (hp["code"].as_str(), hp["name"].as_str()),
        (Some(HAI_PHONG), Some("Hải Phòng"))
    );
    assert_eq!(hp["called_on"], true);
    assert_eq!(hp["end"], "revoked");
    assert_eq!(hp["representative_name"], HP_NAME);
    for turn in [hd, hp] {
        // RFC 3339 in the log is to the second; the whole seconds as well.
        let secs = turn["duration_secs"].as_f64().expect("duration");
        assert!((secs - TURN).abs() <= 1.0, "{turn}");
        assert!((seconds(turn) - TURN).abs() <= 1.0, "{turn}");
    }
    assert_eq!(
        hd["ended_at"], hp["started_at"],
        "one turn follows the other"
    );

    let (status, headers, csv) =
        bytes(&server, &format!("{s}/speaking-log?format=csv"), &chair).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers[reqwest::header::CONTENT_TYPE]
        .to_str()
        .unwrap_or_default()
        .starts_with("text/csv"));
    let csv = String::from_utf8(csv).expect("utf-8 CSV");
    assert!(csv.starts_with("\u{feff}kind,started_at,"), "{csv}");
    assert_eq!(csv.matches("\r\nfloor,").count(), 2, "{csv}");
    assert!(
        csv.contains(&format!(",{HD_NAME},{HD_TITLE},false,")),
        "{csv}"
    );
    // The recordings: the floor's change of codec (Hải Phòng sends H.264)
    // closed the WebM file and began a Matroska one.
    let mut files: Vec<Value> = Vec::new();
    for _ in 0..40 {
        let (status, listed) = server.get(&format!("{s}/recordings"), &chair).await;
        assert_eq!(status, StatusCode::OK, "{listed}");
        files = listed.as_array().cloned().unwrap_or_default();
        if files.len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let names: Vec<&str> = files.iter().filter_map(|f| f["name"].as_str()).collect();
    assert_eq!(names.len(), 2, "{files:?}");
    assert!(
        names[0].ends_with(".webm") && names[1].ends_with(".mkv"),
        "{names:?}"
    );
    // The writer closes a file on its own thread just after.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let media_dir = tempfile::tempdir().expect("tempdir");
    let expected = [
        ["opus", "vp8", "opus", "vp8", "vp8"],
        ["opus", "vp8", "opus", "h264", "vp8"],
    ];
    for ((name, turn), codecs) in names.iter().zip([hd, hp]).zip(expected) {
        let (status, headers, body) = bytes(
            &server,
            &format!("{s}/recordings/{name}"),
            &server.technician(),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{name}");
        let mime = if name.ends_with(".mkv") {
            "video/x-matroska"
        } else {
            "video/webm"
        };
        assert_eq!(headers[reqwest::header::CONTENT_TYPE], mime);
        let path = media_dir.path().join(name);
        std::fs::write(&path, &body).expect("write the recording");
        // The floor's video is the file's fourth track.
        let (found, floor) = probe(&path, 3);
        assert_eq!(found, codecs, "{name}");
        decodes(&path);
        println!(
            "[figure] {name}: {} bytes, floor video {:.2}..{:.2} s",
            body.len(),
            floor.first().copied().unwrap_or_default(),
            floor.last().copied().unwrap_or_default()
        );

        // Its chapters: the one turn it holds, cut to the file.
        let (status, _, vtt) = bytes(
            &server,
            &format!("{s}/speaking-log?format=vtt&recording={name}"),
            &chair,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&vtt));
        let vtt = String::from_utf8(vtt).expect("utf-8");
        assert!(vtt.starts_with("WEBVTT\n"), "{vtt}");
        let title = turn["representative_title"].as_str().unwrap_or_default();
        let site = turn["name"].as_str().unwrap_or_default();
        let (mine, others): (Vec<_>, Vec<_>) = cues(&vtt)
            .into_iter()
            .partition(|(_, _, text)| text.ends_with(&format!(" {site} — {title}")));
        assert_eq!(mine.len(), 1, "{vtt}");
        // The next turn begins in this file too, for the moment until its
        // keyframe began the next file.
        assert!(others.iter().all(|(from, to, _)| to - from < 1.0), "{vtt}");
        let (from, to, _) = &mine[0];
        // The chapter is the turn the log holds, to its second...
        let logged = turn["duration_secs"].as_f64().expect("duration");
        assert!((to - from - logged).abs() <= 1.0, "{vtt} vs {turn}");
        // ...and the floor's picture in the file is that turn's, within 1 s.
        let (first, last) = (floor[0], floor[floor.len() - 1]);
        assert!((first - from).abs() <= 1.0, "{name}: {first} vs {vtt}");
        assert!((last - to).abs() <= 1.0, "{name}: {last} vs {vtt}");
        assert!(
            ((last - first) - seconds(turn)).abs() <= 1.0,
            "{name}: floor video for {} s, the log says {turn}",
            last - first
        );
    }

    // The minutes.
    let dir = tempfile::tempdir().expect("tempdir");
    let (status, headers, pdf) = bytes(&server, &format!("{s}/minutes.pdf"), &chair).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&pdf));
    assert_eq!(headers[reqwest::header::CONTENT_TYPE], "application/pdf");
    assert!(pdf.starts_with(b"%PDF-"));
    let events: u64 = headers["x-log-events"]
        .to_str()
        .ok()
        .and_then(|v| v.parse().ok())
        .expect("X-Log-Events");
    let pdf_path = dir.path().join("bien-ban.pdf");
    std::fs::write(&pdf_path, &pdf).expect("write the PDF");
    let text = pdf_text(&pdf_path);
    for needle in [
        "BIÊN BẢN HỘI NGHỊ TRỰC TUYẾN",
        "Hội nghị trực tuyến về phòng, chống lụt bão",
        "Hải Dương",
        "Hải Phòng",
        "Thành phố Hồ Chí Minh",
        HD_NAME,
        HD_TITLE,
        HP_NAME,
        HP_TITLE,
        &format!("Chủ trì: {CHAIR_NAME}, Thủ tướng Chính phủ — Trung ương (Phòng họp Chính phủ)"),
        "Công tác sơ tán dân vùng ven biển",
        "Phát biểu: 2 lượt (1 đăng ký, 1 được mời) của 2 điểm cầu",
        "Số người dự (theo báo cáo của 3 điểm cầu): 95",
        &format!("Biên bản phiên {ID} · nhật ký {events} sự kiện"),
    ] {
        assert!(
            text.contains(needle),
            "{needle:?} is not in the minutes:\n{text}"
        );
    }
    // The minutes are a function of the log: asked again, the same bytes.
    let (_, _, again) = bytes(&server, &format!("{s}/minutes.pdf"), &chair).await;
    assert_eq!(again, pdf);

    // The signature, and the public key, which needs no token.
    let (status, sig) = server.get(&format!("{s}/minutes.pdf.sig"), &chair).await;
    assert_eq!(status, StatusCode::OK, "{sig}");
    assert_eq!(sig["session"], ID);
    assert_eq!(sig["log_events"], events);
    assert_eq!(sig["algorithm"], "Ed25519");
    for field in ["pdf_sha256", "log_sha256"] {
        assert_eq!(sig[field].as_str().map(str::len), Some(64), "{sig}");
    }
    let sig_path = dir.path().join("bien-ban.pdf.sig");
    std::fs::write(&sig_path, sig.to_string()).expect("write the signature");
    let (status, key) = server
        .call(Method::GET, "/api/minutes/public-key", None, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{key}");
    assert_eq!(key["public_key"], sig["public_key"]);
    let key_path = dir.path().join("minutes-key.json");
    std::fs::write(&key_path, key.to_string()).expect("write the key");

    let data = server.data_dir();
    let data = data.to_str().expect("utf-8 path");
    let pdf_arg = pdf_path.to_str().expect("utf-8 path");
    let ok = diemcau(&["verify", pdf_arg, "--data", data]);
    assert_eq!(ok.code, Some(0), "{}{}", ok.stdout, ok.stderr);
    assert!(ok.stdout.starts_with("ok: "), "{}", ok.stdout);
    assert!(
        ok.stdout
            .contains(&format!("its {events} events match the event log")),
        "{}",
        ok.stdout
    );
    let ok = diemcau(&[
        "verify",
        pdf_arg,
        "--public-key",
        key_path.to_str().expect("utf-8"),
    ]);
    assert_eq!(ok.code, Some(0), "{}{}", ok.stdout, ok.stderr);

    // One byte of the PDF changed: refused, and said why.
    let mut changed = pdf.clone();
    let middle = changed.len() / 2;
    changed[middle] ^= 0x20;
    let changed_path = dir.path().join("changed.pdf");
    std::fs::write(&changed_path, &changed).expect("write");
    let refused = diemcau(&[
        "verify",
        changed_path.to_str().expect("utf-8"),
        "--signature",
        sig_path.to_str().expect("utf-8"),
        "--data",
        data,
    ]);
    assert_eq!(
        refused.code,
        Some(1),
        "{}{}",
        refused.stdout,
        refused.stderr
    );
    assert!(refused.stderr.contains("PDF changed"), "{}", refused.stderr);
    assert!(refused.stdout.is_empty() && !refused.stderr.contains("panicked"));

    // `diemcau report` on the same data dir writes the very same PDF, and
    // a signature that verifies.
    let out = dir.path().join("from-cli.pdf");
    let report = diemcau(&[
        "report",
        "--session",
        ID,
        "--data",
        data,
        "--format",
        "pdf",
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    assert_eq!(report.code, Some(0), "{}", report.stderr);
    assert_eq!(std::fs::read(&out).expect("the PDF"), pdf);
    let ok = diemcau(&["verify", out.to_str().expect("utf-8"), "--data", data]);
    assert_eq!(ok.code, Some(0), "{}{}", ok.stdout, ok.stderr);
    let json = diemcau(&[
        "report",
        "--session",
        ID,
        "--data",
        data,
        "--kind",
        "speaking-log",
        "--format",
        "json",
    ]);
    assert_eq!(json.code, Some(0), "{}", json.stderr);
    let from_cli: Value = serde_json::from_str(&json.stdout).expect("JSON");
    assert_eq!(from_cli["turns"], log["turns"]);
}
