//! The minutes (*biên bản*) of a session as a PDF, and their signature.
//!
//! The PDF holds the title, the date, who chaired, the attendance table
//! (the attendance report's rows: status, lateness, durations, who
//! presided at each site and how many people were there), the speaking
//! log, the presentations, the other proceedings (modes, roll calls,
//! recording) and the totals. Times are of day in Vietnam (UTC+7).
//!
//! The minutes are a function of the event log alone: the same log gives
//! the same bytes, whenever they are made, by the server or by
//! `diemcau report` of the same build. A session that has
//! not ended is written up to its last event (and says so), not up to the
//! moment of the request, so the PDF and its signature fetched one after
//! the other agree. The log's length and SHA-256 are printed in the PDF.
//!
//! The PDF is drawn with **printpdf** (without its HTML engine): a
//! maintained pure-Rust writer that embeds TrueType fonts as CID fonts
//! with a `ToUnicode` map, which Vietnamese needs both to show and to be
//! searched and copied (`pdftotext` gives the names back exactly). genpdf,
//! the other candidate, has not been released since 2021 and is built on
//! a printpdf four major versions old. See [`layout`] for the fonts.

mod layout;
pub mod signature;

use crate::control::{EndpointCode, EndpointRole, Millis, Phase, Session};
use crate::report::{self, clock, AttendanceReport, AttendanceRow};
use crate::speaking_log::{self, local_clock, local_date, mode_label, speaker, SpeakingLog};
use crate::store::{Store, StoreError, StoredLog};
use layout::{Column, Doc, Weight, BODY_W};
use std::path::Path;

pub use signature::{MinutesKey, MinutesSignature, PublicKey, VerifyError, KEY_FILE};

/// Why the minutes could not be made.
#[derive(Debug, thiserror::Error)]
pub enum MinutesError {
    /// The log is empty or does not start with `created`.
    #[error("the event log cannot be replayed: {0}")]
    Replay(String),
    /// printpdf or the font failed.
    #[error("pdf: {0}")]
    Pdf(String),
    /// The store could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The store has no such session.
    #[error("no session {0} in the store")]
    UnknownSession(String),
}

/// The SHA-256 of `bytes`, as lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The SHA-256 of the log's canonical bytes (see
/// [`StoredLog::canonical_bytes`]).
pub fn log_sha256(log: &StoredLog) -> String {
    sha256_hex(&log.canonical_bytes())
}

/// A session's log from the store in `data_dir`, for `diemcau report`.
pub fn log_from_store(data_dir: &Path, session: &str) -> Result<StoredLog, MinutesError> {
    let store = Store::open_read_only_in(data_dir)?;
    let log = store.load_log(&crate::control::SessionId(session.to_string()))?;
    if log.events.is_empty() {
        return Err(MinutesError::UnknownSession(session.to_string()));
    }
    Ok(log)
}

/// The minutes of the session whose log is `log`, as PDF bytes.
pub fn render(log: &StoredLog) -> Result<Vec<u8>, MinutesError> {
    let session = Session::replay(log.events.iter().cloned())
        .map_err(|e| MinutesError::Replay(e.to_string()))?;
    let as_of = session.ended_at.unwrap_or(session.last_event_at);
    let attendance = report::attendance(&session, as_of);
    let speaking = speaking_log::speaking_log(&log.events, as_of);
    let log_hash = log_sha256(log);
    let mut doc = Doc::new()?;
    front_matter(&mut doc, &session, &attendance, as_of);
    attendance_section(&mut doc, &attendance, &session);
    speaking_section(&mut doc, &speaking);
    presentations_section(&mut doc, &speaking);
    proceedings_section(&mut doc, &speaking);
    totals_section(
        &mut doc,
        &attendance,
        &speaking,
        log.events.len(),
        &log_hash,
    );
    let footer = format!(
        "Biên bản phiên {} · nhật ký {} sự kiện · SHA-256 {}…",
        session.id(),
        log.events.len(),
        &log_hash[..16]
    );
    let created =
        printpdf::OffsetDateTime::from_unix_timestamp(i64::try_from(as_of.0 / 1000).unwrap_or(0))
            .map_err(|e| MinutesError::Pdf(e.to_string()))?;
    doc.finish(
        &format!("Biên bản: {}", flat(&session.spec.title)),
        &footer,
        created,
    )
}

fn flat(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `15:00:10–15:06:40`.
fn span(from: Millis, to: Option<Millis>) -> String {
    format!(
        "{}–{}",
        local_clock(from),
        to.map(local_clock).unwrap_or_else(|| "…".into())
    )
}

fn front_matter(doc: &mut Doc, session: &Session, attendance: &AttendanceReport, as_of: Millis) {
    doc.centred("BIÊN BẢN HỘI NGHỊ TRỰC TUYẾN", 15.0, Weight::Bold);
    doc.gap(2.0);
    doc.centred(&flat(&session.spec.title), 12.0, Weight::Bold);
    doc.gap(10.0);
    let day = session.started_at.unwrap_or(session.created_at);
    let mut lines = vec![
        format!("Mã phiên: {}", session.id()),
        format!("Ngày họp: {}", local_date(day)),
    ];
    match session.started_at {
        Some(start) => lines.push(format!(
            "Thời gian: {} (giờ Việt Nam, UTC+7); thời lượng {}",
            span(start, session.ended_at),
            clock(attendance.live_secs)
        )),
        None => lines.push("Thời gian: phiên chưa bắt đầu".into()),
    }
    let central = attendance
        .rows
        .iter()
        .find(|r| r.role == EndpointRole::Central);
    if let Some(c) = central {
        let who = representative(c);
        lines.push(if who.is_empty() {
            format!("Chủ trì: {}", flat(&c.name))
        } else {
            format!("Chủ trì: {} — {}", who, flat(&c.name))
        });
    }
    if session.phase == Phase::Ended {
        lines.push(format!(
            "Trạng thái: {}",
            report::phase_label(session.phase)
        ));
    } else {
        lines.push(format!(
            "Trạng thái: {} — biên bản tạm, đến sự kiện cuối lúc {} ngày {}",
            report::phase_label(session.phase),
            local_clock(as_of),
            local_date(as_of)
        ));
    }
    for line in lines {
        doc.paragraph(&line, 9.5, Weight::Regular, 0.0);
    }
}

/// `Nguyễn Minh Hùng, Phó Chủ tịch UBND tỉnh`, or whichever half is known.
fn representative(r: &AttendanceRow) -> String {
    let name = flat(r.representative_name.as_deref().unwrap_or_default());
    let title = flat(r.representative_title.as_deref().unwrap_or_default());
    match (name.is_empty(), title.is_empty()) {
        (false, false) => format!("{name}, {title}"),
        (false, true) => name,
        (true, false) => title,
        (true, true) => String::new(),
    }
}

fn attendance_section(doc: &mut Doc, report: &AttendanceReport, session: &Session) {
    doc.heading("I. Điểm danh các điểm cầu");
    let s = &report.summary;
    doc.paragraph(
        &format!(
            "{}/{} điểm cầu có mặt; {} đã kết nối chưa điểm danh; {} mất kết nối; {} đã rời; {} vắng.",
            s.present, s.provincial_total, s.connected, s.dropped, s.left, s.absent
        ),
        9.0,
        Weight::Regular,
        0.0,
    );
    doc.gap(4.0);
    let col = |title, width, right| Column {
        title,
        width,
        right,
    };
    let rep_w = BODY_W - (22.0 + 86.0 + 60.0 + 40.0 + 36.0 + 40.0 + 36.0 + 22.0 + 34.0);
    let columns = [
        col("Mã", 22.0, false),
        col("Điểm cầu", 86.0, false),
        col("Trạng thái", 60.0, false),
        col("Vào lúc", 40.0, false),
        col("Trễ", 36.0, true),
        col("Kết nối", 40.0, true),
        col("Mất KN", 36.0, true),
        col("Rớt", 22.0, true),
        col("Chủ trì tại điểm cầu", rep_w, false),
        col("Số người", 34.0, true),
    ];
    let rows: Vec<Vec<String>> = report
        .rows
        .iter()
        .map(|r| {
            let late = match r.lateness_secs {
                Some(0) => "đúng giờ".to_string(),
                Some(s) => clock(s),
                None => "-".into(),
            };
            let joined = session
                .attendance
                .get(&EndpointCode(r.code.clone()))
                .and_then(|a| a.first_joined_at)
                .map(local_clock)
                .unwrap_or_else(|| "-".into());
            vec![
                r.code.clone(),
                flat(&r.name),
                report::status_label(r.status).to_string(),
                joined,
                late,
                clock(r.connected_secs),
                clock(r.dropped_secs),
                r.disconnects.to_string(),
                representative(r),
                r.headcount.map(|h| h.to_string()).unwrap_or_default(),
            ]
        })
        .collect();
    doc.table(&columns, &rows, 7.0);
}

fn speaking_section(doc: &mut Doc, log: &SpeakingLog) {
    doc.heading("II. Phát biểu");
    if log.turns.is_empty() {
        doc.paragraph("Không có lượt phát biểu.", 9.0, Weight::Regular, 0.0);
        return;
    }
    let col = |title, width, right| Column {
        title,
        width,
        right,
    };
    let topic_w = BODY_W - (18.0 + 74.0 + 40.0 + 78.0 + 120.0 + 44.0 + 62.0);
    let columns = [
        col("#", 18.0, true),
        col("Thời gian", 74.0, false),
        col("Thời lượng", 40.0, true),
        col("Điểm cầu", 78.0, false),
        col("Người phát biểu", 120.0, false),
        col("Hình thức", 44.0, false),
        col("Nội dung", topic_w, false),
        col("Kết thúc", 62.0, false),
    ];
    let rows: Vec<Vec<String>> = log
        .turns
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let mut end = t.end.label().to_string();
            if t.overran {
                end.push_str(", quá giờ");
            }
            vec![
                (i + 1).to_string(),
                span(t.started_at, t.ended_at),
                clock(t.duration_secs),
                flat(&t.name),
                speaker(t),
                if t.called_on {
                    "được mời"
                } else {
                    "đăng ký"
                }
                .to_string(),
                flat(&t.topic),
                end,
            ]
        })
        .collect();
    doc.table(&columns, &rows, 7.0);
}

fn presentations_section(doc: &mut Doc, log: &SpeakingLog) {
    doc.heading("III. Trình chiếu");
    if log.presentations.is_empty() {
        doc.paragraph("Không có lượt trình chiếu.", 9.0, Weight::Regular, 0.0);
        return;
    }
    let col = |title, width, right| Column {
        title,
        width,
        right,
    };
    let columns = [
        col("#", 18.0, true),
        col("Thời gian", 74.0, false),
        col("Thời lượng", 40.0, true),
        col(
            "Điểm cầu trình chiếu",
            BODY_W - (18.0 + 74.0 + 40.0 + 90.0 + 100.0),
            false,
        ),
        col("Cấp quyền", 90.0, false),
        col("Kết thúc", 100.0, false),
    ];
    let rows: Vec<Vec<String>> = log
        .presentations
        .iter()
        .enumerate()
        .map(|(i, p)| {
            vec![
                (i + 1).to_string(),
                span(p.started_at, p.ended_at),
                clock(p.duration_secs),
                flat(&p.name),
                if p.by_chair {
                    "chủ trì cho phép"
                } else {
                    "tự trình chiếu"
                }
                .to_string(),
                p.end.label().to_string(),
            ]
        })
        .collect();
    doc.table(&columns, &rows, 7.0);
}

fn proceedings_section(doc: &mut Doc, log: &SpeakingLog) {
    doc.heading("IV. Diễn biến khác");
    let mut items: Vec<(Millis, String, String)> = Vec::new();
    for m in &log.modes {
        items.push((
            m.at,
            local_clock(m.at),
            format!("Chế độ: {}", mode_label(m.mode)),
        ));
    }
    for rc in &log.roll_calls {
        let tally = match rc.expected {
            Some(e) => format!("{}/{} điểm cầu trả lời", rc.answered, e),
            None => format!("{} điểm cầu trả lời", rc.answered),
        };
        items.push((
            rc.started_at,
            span(rc.started_at, rc.closed_at),
            format!("Điểm danh lần {}: {}", rc.round, tally),
        ));
    }
    for r in &log.recordings {
        let how = match (r.end, r.detail.as_deref()) {
            (Some(crate::control::RecordingEnd::Failed), Some(d)) => {
                format!("Ghi hình (dừng do lỗi: {})", flat(d))
            }
            (Some(crate::control::RecordingEnd::Failed), None) => "Ghi hình (dừng do lỗi)".into(),
            _ => "Ghi hình".into(),
        };
        items.push((r.started_at, span(r.started_at, r.stopped_at), how));
    }
    if items.is_empty() {
        doc.paragraph("Không có.", 9.0, Weight::Regular, 0.0);
        return;
    }
    items.sort_by_key(|(t, ..)| *t);
    let columns = [
        Column {
            title: "Thời gian",
            width: 82.0,
            right: false,
        },
        Column {
            title: "Nội dung",
            width: BODY_W - 82.0,
            right: false,
        },
    ];
    let rows: Vec<Vec<String>> = items.into_iter().map(|(_, t, s)| vec![t, s]).collect();
    doc.table(&columns, &rows, 7.5);
}

fn totals_section(
    doc: &mut Doc,
    attendance: &AttendanceReport,
    log: &SpeakingLog,
    events: usize,
    log_hash: &str,
) {
    doc.heading("V. Tổng hợp");
    let s = &attendance.summary;
    let reported: Vec<u32> = attendance.rows.iter().filter_map(|r| r.headcount).collect();
    let people: u64 = reported.iter().map(|h| u64::from(*h)).sum();
    let speaking_secs: u64 = log.turns.iter().map(|t| t.duration_secs).sum();
    let sites: std::collections::BTreeSet<&str> =
        log.turns.iter().map(|t| t.code.as_str()).collect();
    let called_on = log.turns.iter().filter(|t| t.called_on).count();
    let presenting_secs: u64 = log.presentations.iter().map(|p| p.duration_secs).sum();
    let mut lines = vec![
        format!("Thời lượng họp: {}", clock(attendance.live_secs)),
        format!(
            "Điểm cầu: {}/{} có mặt, {} đã kết nối chưa điểm danh, {} mất kết nối, {} đã rời, {} vắng",
            s.present, s.provincial_total, s.connected, s.dropped, s.left, s.absent
        ),
        format!(
            "Số người dự (theo báo cáo của {} điểm cầu): {}",
            reported.len(),
            people
        ),
        format!(
            "Phát biểu: {} lượt ({} đăng ký, {} được mời) của {} điểm cầu; tổng thời gian {}",
            log.turns.len(),
            log.turns.len() - called_on,
            called_on,
            sites.len(),
            clock(speaking_secs)
        ),
    ];
    if let Some(longest) = log.turns.iter().max_by_key(|t| t.duration_secs) {
        lines.push(format!(
            "Lượt dài nhất: {} ({}), {}",
            flat(&longest.name),
            span(longest.started_at, longest.ended_at),
            clock(longest.duration_secs)
        ));
    }
    lines.push(format!(
        "Trình chiếu: {} lượt, tổng thời gian {}",
        log.presentations.len(),
        clock(presenting_secs)
    ));
    lines.push(format!("Điểm danh: {} lần", log.roll_calls.len()));
    lines.push(format!("Ghi hình: {} đoạn", log.recordings.len()));
    for line in lines {
        doc.paragraph(&line, 9.0, Weight::Regular, 0.0);
    }
    doc.gap(6.0);
    doc.paragraph(
        &format!(
            "Biên bản lập tự động từ nhật ký sự kiện của phiên ({events} sự kiện; SHA-256 của \
             nhật ký: {log_hash}). Chữ ký số (Ed25519) kèm theo: tệp .sig; kiểm tra bằng \
             lệnh diemcau verify."
        ),
        8.0,
        Weight::Regular,
        0.0,
    );
}

#[cfg(test)]
mod tests;
