//! The meeting's record through the real binary: a live session where two
//! sites speak in turn, then its speaking log, its minutes as PDF (read
//! back with poppler's `pdftotext`), their signature, and `diemcau verify`
//! and `diemcau report` on the server's data dir.

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const ID: &str = "hop-bien-ban";
const HD_NAME: &str = "Nguyễn Thị Ánh Tuyết";
const HD_TITLE: &str = "Phó Chủ tịch UBND tỉnh";
const HP_NAME: &str = "Trần Lưu Quang";
const HP_TITLE: &str = "Bí thư Thành ủy";
const CHAIR_NAME: &str = "Phạm Minh Chính";

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

#[tokio::test]
async fn two_sites_speak_and_the_minutes_say_so_and_are_signed() {
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
    let (status, request) = server
        .post(
            &format!("{s}/floor/requests"),
            &server.endpoint(HAI_DUONG),
            Some(json!({"topic": "Công tác sơ tán dân vùng ven biển"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{request}");

    // Hải Dương, as it asked; then Hải Phòng, called on unasked (the floor
    // holds one, so Hải Dương's turn ends there); then the chair revokes.
    server
        .ok(
            &format!("{s}/floor/grant"),
            &chair,
            Some(json!({"endpoint": HAI_DUONG})),
        )
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    server
        .ok(
            &format!("{s}/floor/grant"),
            &chair,
            Some(json!({"endpoint": HAI_PHONG})),
        )
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    server.ok(&format!("{s}/floor/revoke"), &chair, None).await;
    server.ok(&format!("{s}/end"), &chair, None).await;

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
        assert!((secs - 2.0).abs() <= 1.0, "{turn}");
        assert!((seconds(turn) - 2.0).abs() <= 1.0, "{turn}");
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
    // No recording was made: there is nothing to align chapters to.
    let (status, err) = server
        .get(&format!("{s}/speaking-log?format=vtt"), &chair)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{err}");
    assert_eq!(err["error"], "no_recording");
    // A recording file as the media plane leaves it (its sidecar says when
    // it began: here 1.5 s into Hải Dương's turn): the chapters are cut to
    // it. (The recording itself is the media plane's tests' business.)
    let folder = server.data_dir().join("recordings").join(ID);
    std::fs::create_dir_all(&folder).expect("recordings folder");
    let started = humantime::parse_rfc3339(hd["started_at"].as_str().expect("a time"))
        .expect("RFC 3339")
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_millis()
        + 1500;
    let file = format!("{ID}-20990101T000000Z");
    std::fs::write(folder.join(format!("{file}.webm")), b"").expect("write");
    std::fs::write(
        folder.join(format!("{file}.json")),
        json!({"session": ID, "started_at": started}).to_string(),
    )
    .expect("write");
    let (status, headers, vtt) = bytes(
        &server,
        &format!("{s}/speaking-log?format=vtt&recording={file}.webm"),
        &chair,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&vtt));
    assert!(headers[reqwest::header::CONTENT_TYPE]
        .to_str()
        .unwrap_or_default()
        .starts_with("text/vtt"));
    let vtt = String::from_utf8(vtt).expect("utf-8");
    assert!(vtt.starts_with("WEBVTT\n"), "{vtt}");
    let cues: Vec<&str> = vtt.lines().filter(|l| l.contains(" --> ")).collect();
    assert_eq!(cues.len(), 2, "{vtt}");
    assert!(cues[0].starts_with("00:00:00.000 --> 00:00:0"), "{vtt}");
    assert!(vtt.contains(&format!(" Hải Dương — {HD_TITLE}\n")), "{vtt}");
    assert!(vtt.contains(&format!(" Hải Phòng — {HP_TITLE}\n")), "{vtt}");

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
