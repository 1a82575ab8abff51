use super::*;
use crate::control::{Command, EndpointInfo, Event, GrantTarget, Rules, SessionId, SessionSpec};

const T0: Millis = Millis(1_740_816_000_000);

fn at(secs: u64) -> Millis {
    T0.plus_secs(secs)
}

fn code(c: &str) -> EndpointCode {
    EndpointCode::from(c)
}

/// A meeting of the chair's room and `provinces` sites, run through the
/// control plane, stored as the store stores it.
fn meeting(provinces: usize, end: bool) -> StoredLog {
    let mut endpoints = vec![EndpointInfo {
        code: code("00"),
        name: "Trụ sở Chính phủ".into(),
        role: EndpointRole::Central,
    }];
    for i in 0..provinces {
        endpoints.push(EndpointInfo {
            code: code(&format!("{:02}", i + 1)),
            name: format!("Tỉnh Thừa Thiên Huế số {}", i + 1),
            role: EndpointRole::Provincial,
        });
    }
    let spec = SessionSpec {
        id: SessionId("hop-1".into()),
        title: "Hội nghị sơ kết công tác phòng, chống thiên tai".into(),
        endpoints,
        rules: Rules::default(),
    };
    let (mut s, created) = Session::create(spec, T0).expect("spec");
    let mut events: Vec<Event> = vec![created];
    let mut run = |s: &mut Session, c: Command, now: Millis| {
        events.extend(s.apply(c, now).expect("accepted"));
    };
    run(
        &mut s,
        Command::Connect {
            endpoint: code("00"),
        },
        at(1),
    );
    run(
        &mut s,
        Command::SetRepresentative {
            endpoint: code("00"),
            name: "Phạm Minh Chính".into(),
            title: "Thủ tướng Chính phủ".into(),
            headcount: Some(40),
        },
        at(2),
    );
    run(&mut s, Command::Start, at(10));
    for i in 0..provinces {
        let c = code(&format!("{:02}", i + 1));
        run(
            &mut s,
            Command::Connect {
                endpoint: c.clone(),
            },
            at(20),
        );
        run(
            &mut s,
            Command::SetRepresentative {
                endpoint: c.clone(),
                name: format!("Nguyễn Thị Ánh Tuyết {i}"),
                title: "Phó Chủ tịch Ủy ban nhân dân tỉnh".into(),
                headcount: Some(12),
            },
            at(21),
        );
        run(
            &mut s,
            Command::GrantFloor {
                target: GrantTarget::Endpoint(c),
            },
            at(30 + 60 * i as u64),
        );
    }
    if end {
        run(&mut s, Command::End, at(40 + 60 * provinces as u64));
    }
    let payloads = events
        .iter()
        .map(|e| serde_json::to_string(e).expect("json"))
        .collect();
    StoredLog { events, payloads }
}

#[test]
fn the_same_log_gives_the_same_bytes() {
    let log = meeting(3, true);
    let first = render(&log).expect("pdf");
    let second = render(&log).expect("pdf");
    assert!(first.starts_with(b"%PDF-"));
    assert!(first.ends_with(b"%%EOF") || first.ends_with(b"%%EOF\n"));
    assert_eq!(first, second, "rendering twice gives one PDF");
    // The fonts are subset: far below the 1.4 MB of the two faces.
    assert!(first.len() < 200_000, "{} bytes", first.len());
}

#[test]
fn a_longer_log_gives_other_minutes() {
    let ended = render(&meeting(2, true)).expect("pdf");
    let live = render(&meeting(2, false)).expect("pdf");
    assert_ne!(ended, live);
}

#[test]
fn a_long_meeting_breaks_across_pages() {
    let log = meeting(63, true);
    let pdf = render(&log).expect("pdf");
    let text = String::from_utf8_lossy(&pdf);
    let pages = text.matches("/Type/Page").count() - text.matches("/Type/Pages").count();
    assert!(pages >= 3, "expected several pages, got {pages}");
}

#[test]
fn a_log_that_is_not_a_session_is_an_error() {
    let empty = StoredLog {
        events: Vec::new(),
        payloads: Vec::new(),
    };
    assert!(matches!(render(&empty), Err(MinutesError::Replay(_))));
}

#[test]
fn the_text_comes_out_with_its_diacritics() {
    // pdftotext is installed by scripts/test-deps (poppler-utils).
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bien-ban.pdf");
    std::fs::write(&path, render(&meeting(2, true)).expect("pdf")).expect("write");
    let out = std::process::Command::new("pdftotext")
        .arg("-layout")
        .arg(&path)
        .arg("-")
        .output()
        .expect("pdftotext runs (apt-get install poppler-utils)");
    let text = String::from_utf8(out.stdout).expect("utf-8");
    for needle in [
        "BIÊN BẢN HỘI NGHỊ TRỰC TUYẾN",
        "Hội nghị sơ kết công tác phòng, chống thiên tai",
        "Phạm Minh Chính, Thủ tướng Chính phủ",
        "Nguyễn Thị Ánh Tuyết 0",
        "Ngày họp: 01/03/2025",
        "15:00:30–15:01:30",
        "Phát biểu: 2 lượt (0 đăng ký, 2 được mời) của 2 điểm cầu",
    ] {
        assert!(text.contains(needle), "{needle:?} not in:\n{text}");
    }
}
