//! The attendance report: who was there, for how long, who dropped and who
//! presided at each site. Computed from a [`Session`] alone, so the same
//! numbers come out of the live server, a replayed log and `diemcau report`.
//!
//! Durations are whole seconds and each row's add up exactly to the live
//! length of the meeting: the seconds are cut from the running total of
//! milliseconds with the largest-remainder method (see `split_secs`), so
//! rounding never makes a second appear or vanish between the columns.

use crate::control::{
    Attendance, AttendanceStatus, EndpointRole, Millis, Phase, Session, SessionId,
};
use crate::spreadsheet;
use crate::store::{Store, StoreError};
use serde::Serialize;
use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use utoipa::ToSchema;

/// One endpoint's line in the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct AttendanceRow {
    /// The endpoint's code.
    pub code: String,
    /// Its display name.
    pub name: String,
    /// `central` or `provincial`.
    pub role: EndpointRole,
    /// `absent`, `connected`, `present`, `dropped` or `left`.
    pub status: AttendanceStatus,
    /// First time its link came up (RFC 3339, UTC).
    pub first_joined_at: Option<String>,
    /// Last time its link came up.
    pub last_joined_at: Option<String>,
    /// Last time its link went away.
    pub last_lost_at: Option<String>,
    /// Seconds late after the meeting went live (0 when on time); none if
    /// it never joined.
    pub lateness_secs: Option<u64>,
    /// Live seconds with the link up.
    pub connected_secs: u64,
    /// Live seconds with the link lost without leaving.
    pub dropped_secs: u64,
    /// Live seconds otherwise away: before joining or after leaving.
    pub absent_secs: u64,
    /// How many times the link dropped.
    pub disconnects: u32,
    /// Confirmed at the latest roll call.
    pub confirmed: bool,
    /// Who presides at the site.
    pub representative_name: Option<String>,
    /// That person's title.
    pub representative_title: Option<String>,
    /// People in the room.
    pub headcount: Option<u32>,
}

/// How the provincial endpoints stand; the chair's site is not counted.
/// The five counts add up to `provincial_total`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct AttendanceSummary {
    /// Provincial endpoints invited.
    pub provincial_total: u32,
    /// Linked and confirmed at roll call.
    pub present: u32,
    /// Linked, not confirmed.
    pub connected: u32,
    /// Link lost without leaving.
    pub dropped: u32,
    /// Left on purpose.
    pub left: u32,
    /// Never joined.
    pub absent: u32,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct AttendanceReport {
    /// The session's id.
    #[schema(value_type = String)]
    pub session: SessionId,
    /// What the meeting is about.
    pub title: String,
    /// `scheduled`, `open`, `live` or `ended`.
    pub phase: Phase,
    /// When it went live (RFC 3339, UTC).
    pub started_at: Option<String>,
    /// When it ended.
    pub ended_at: Option<String>,
    /// Seconds live, up to the end or to when the report was taken.
    pub live_secs: u64,
    /// The counts.
    pub summary: AttendanceSummary,
    /// One row per endpoint: the chair's site first, then by code.
    pub rows: Vec<AttendanceRow>,
}

/// Why `diemcau report` could not print.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The store could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The store has no such session.
    #[error("no session {0} in the store")]
    UnknownSession(SessionId),
    /// The format is not one we print.
    #[error("unknown report format {0:?} (expected text, csv or json)")]
    Format(String),
    /// The JSON could not be written.
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
    /// The CSV could not be written.
    #[error("csv: {0}")]
    Csv(#[from] csv::Error),
    /// The output could not be written.
    #[error("writing the report: {0}")]
    Io(#[from] std::io::Error),
}

/// The attendance report of `session` as of `now` (for a session still
/// live, the open intervals are closed at `now`).
pub fn attendance(session: &Session, now: Millis) -> AttendanceReport {
    let mut records = session.attendance_at(now);
    // Central first, then by code; the sort is stable so codes stay ordered.
    records.sort_by_key(|a| a.endpoint.role != EndpointRole::Central);
    let mut summary = AttendanceSummary::default();
    for a in records
        .iter()
        .filter(|a| a.endpoint.role == EndpointRole::Provincial)
    {
        summary.provincial_total += 1;
        *match a.status {
            AttendanceStatus::Present => &mut summary.present,
            AttendanceStatus::Connected => &mut summary.connected,
            AttendanceStatus::Dropped => &mut summary.dropped,
            AttendanceStatus::Left => &mut summary.left,
            AttendanceStatus::Absent => &mut summary.absent,
        } += 1;
    }
    AttendanceReport {
        session: session.id().clone(),
        title: session.spec.title.clone(),
        phase: session.phase,
        started_at: session.started_at.map(rfc3339),
        ended_at: session.ended_at.map(rfc3339),
        live_secs: session.live_ms(now) / 1000,
        summary,
        rows: records.iter().map(row).collect(),
    }
}

fn row(a: &Attendance) -> AttendanceRow {
    let [connected_secs, dropped_secs, absent_secs] = split_secs([
        a.connected_ms(),
        a.ms_in(AttendanceStatus::Dropped),
        a.ms_in(AttendanceStatus::Absent) + a.ms_in(AttendanceStatus::Left),
    ]);
    AttendanceRow {
        code: a.endpoint.code.0.clone(),
        name: a.endpoint.name.clone(),
        role: a.endpoint.role,
        status: a.status,
        first_joined_at: a.first_joined_at.map(rfc3339),
        last_joined_at: a.last_joined_at.map(rfc3339),
        last_lost_at: a.last_lost_at.map(rfc3339),
        lateness_secs: a.lateness_ms.map(|ms| ms / 1000),
        connected_secs,
        dropped_secs,
        absent_secs,
        disconnects: a.disconnects,
        confirmed: a.confirmed,
        representative_name: a.representative.as_ref().map(|r| r.name.clone()),
        representative_title: a.representative.as_ref().map(|r| r.title.clone()),
        headcount: a.headcount,
    }
}

/// Whole seconds of the spans, adding up to `sum / 1000` exactly: each gets
/// its whole seconds, and the seconds the fractions add up to go to the
/// spans with the largest fractions (the largest-remainder method), so no
/// column is off by more than the rounding of its own value.
fn split_secs<const N: usize>(spans_ms: [u64; N]) -> [u64; N] {
    let total = spans_ms.iter().fold(0u64, |t, ms| t.saturating_add(*ms)) / 1000;
    let mut out = spans_ms.map(|ms| ms / 1000);
    let leftover = total.saturating_sub(out.iter().sum());
    let mut by_fraction: [usize; N] = std::array::from_fn(|i| i);
    by_fraction.sort_by_key(|&i| std::cmp::Reverse(spans_ms[i] % 1000));
    for &i in by_fraction.iter().take(leftover as usize) {
        out[i] += 1;
    }
    out
}

pub(crate) fn rfc3339(t: Millis) -> String {
    let time = UNIX_EPOCH + Duration::from_millis(t.0);
    humantime::format_rfc3339_seconds(time).to_string()
}

const CSV_HEADER: [&str; 16] = [
    "code",
    "name",
    "role",
    "status",
    "first_joined_at",
    "last_joined_at",
    "last_lost_at",
    "lateness_secs",
    "connected_secs",
    "dropped_secs",
    "absent_secs",
    "disconnects",
    "confirmed",
    "representative_name",
    "representative_title",
    "headcount",
];

/// The rows as CSV for spreadsheets (see [`crate::spreadsheet`]): a
/// byte-order mark, a header of the JSON field names, CRLF line ends,
/// quoting, and free text kept from running as a formula.
pub fn to_csv(report: &AttendanceReport) -> Result<String, ReportError> {
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    let num = |v: Option<u64>| v.map(|n| n.to_string()).unwrap_or_default();
    let rows = report.rows.iter().map(|r| {
        [
            r.code.clone(),
            r.name.clone(),
            role_name(r.role).to_string(),
            r.status.as_str().to_string(),
            opt(&r.first_joined_at),
            opt(&r.last_joined_at),
            opt(&r.last_lost_at),
            num(r.lateness_secs),
            r.connected_secs.to_string(),
            r.dropped_secs.to_string(),
            r.absent_secs.to_string(),
            r.disconnects.to_string(),
            r.confirmed.to_string(),
            opt(&r.representative_name),
            opt(&r.representative_title),
            num(r.headcount.map(u64::from)),
        ]
    });
    Ok(spreadsheet::to_csv(CSV_HEADER, rows)?)
}

fn role_name(role: EndpointRole) -> &'static str {
    match role {
        EndpointRole::Central => "central",
        EndpointRole::Provincial => "provincial",
    }
}

pub(crate) fn status_label(status: AttendanceStatus) -> &'static str {
    match status {
        AttendanceStatus::Absent => "vắng",
        AttendanceStatus::Connected => "đã kết nối",
        AttendanceStatus::Present => "có mặt",
        AttendanceStatus::Dropped => "mất kết nối",
        AttendanceStatus::Left => "đã rời",
    }
}

pub(crate) fn phase_label(phase: Phase) -> &'static str {
    match phase {
        Phase::Scheduled => "đã lên lịch",
        Phase::Open => "đang kiểm tra kỹ thuật",
        Phase::Live => "đang họp",
        Phase::Ended => "đã kết thúc",
    }
}

/// `h:mm:ss`.
pub(crate) fn clock(secs: u64) -> String {
    format!("{}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

/// The report as an aligned table for the terminal, in Vietnamese, ending
/// with the summary line ("61/63 có mặt, …").
pub fn to_text(report: &AttendanceReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{} ({})", report.title, report.session);
    let _ = writeln!(
        out,
        "Trạng thái: {}; bắt đầu: {}; kết thúc: {}; thời lượng: {}",
        phase_label(report.phase),
        report.started_at.as_deref().unwrap_or("-"),
        report.ended_at.as_deref().unwrap_or("-"),
        clock(report.live_secs),
    );
    out.push('\n');
    let header = [
        "Mã",
        "Điểm cầu",
        "Trạng thái",
        "Vào lúc (UTC)",
        "Trễ",
        "Kết nối",
        "Mất KN",
        "Vắng",
        "Rớt",
        "Điểm danh",
        "Chủ trì tại điểm cầu",
    ];
    let rows: Vec<[String; 11]> = report.rows.iter().map(text_cells).collect();
    let mut widths = header.map(width);
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(width(cell));
        }
    }
    push_text_line(&mut out, &header.map(String::from), &widths);
    let rule = widths.map(|w| "-".repeat(w));
    push_text_line(&mut out, &rule, &widths);
    for r in &rows {
        push_text_line(&mut out, r, &widths);
    }
    out.push('\n');
    let s = &report.summary;
    let _ = writeln!(
        out,
        "{}/{} có mặt, {} đã kết nối chưa điểm danh, {} mất kết nối, {} đã rời, {} vắng",
        s.present, s.provincial_total, s.connected, s.dropped, s.left, s.absent
    );
    out
}

fn text_cells(r: &AttendanceRow) -> [String; 11] {
    // A terminal table has one line per row: line breaks in typed-in names
    // become spaces here (CSV and JSON keep them).
    let flat = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let joined = r
        .first_joined_at
        .as_deref()
        .map(|t| t.get(11..19).unwrap_or(t).to_string())
        .unwrap_or_else(|| "-".into());
    let rep = match (&r.representative_name, &r.representative_title) {
        (Some(n), Some(t)) if !t.is_empty() => format!("{}, {}", flat(n), flat(t)),
        (Some(n), _) => flat(n),
        _ => String::new(),
    };
    let rep = match r.headcount {
        Some(h) => format!("{rep} ({h} người)").trim_start().to_string(),
        None => rep,
    };
    [
        flat(&r.code),
        flat(&r.name),
        status_label(r.status).to_string(),
        joined,
        r.lateness_secs.map(clock).unwrap_or_else(|| "-".into()),
        clock(r.connected_secs),
        clock(r.dropped_secs),
        clock(r.absent_secs),
        r.disconnects.to_string(),
        if r.confirmed { "có" } else { "" }.to_string(),
        rep,
    ]
}

/// Columns a cell takes in a terminal. Vietnamese text may come decomposed
/// (a base letter plus combining marks), and the marks take no column.
fn width(s: &str) -> usize {
    s.chars()
        .filter(|c| !matches!(c, '\u{300}'..='\u{36f}' | '\u{1dc0}'..='\u{1dff}'))
        .count()
}

fn push_text_line(out: &mut String, cells: &[String; 11], widths: &[usize; 11]) {
    let mut line = String::new();
    for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
        if i > 0 {
            line.push_str("  ");
        }
        let pad = w.saturating_sub(width(cell));
        // Durations and counts read best right-aligned.
        if (4..=8).contains(&i) {
            line.extend(std::iter::repeat_n(' ', pad));
            line.push_str(cell);
        } else {
            line.push_str(cell);
            line.extend(std::iter::repeat_n(' ', pad));
        }
    }
    out.push_str(line.trim_end());
    out.push('\n');
}

/// For `diemcau report`: opens the store in `data_dir` read-only, replays
/// the session and prints it as `text`, `csv` or `json`. A session still
/// live is reported up to the current time.
pub fn print_from_store(
    data_dir: &Path,
    session: &SessionId,
    format: &str,
    out: &mut dyn std::io::Write,
) -> Result<(), ReportError> {
    if !matches!(format, "text" | "csv" | "json") {
        return Err(ReportError::Format(format.to_string()));
    }
    let store = Store::open_read_only_in(data_dir)?;
    let replayed = store
        .load_session(session)?
        .ok_or_else(|| ReportError::UnknownSession(session.clone()))?;
    // The one clock read of the report, here in the shell: it only matters
    // for a session that has not ended.
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(Millis(0), |d| {
            Millis(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        });
    let report = attendance(&replayed, now);
    match format {
        "csv" => out.write_all(to_csv(&report)?.as_bytes())?,
        "json" => {
            serde_json::to_writer_pretty(&mut *out, &report)?;
            out.write_all(b"\n")?;
        }
        _ => out.write_all(to_text(&report).as_bytes())?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::{Command, EndpointCode, EndpointInfo, Rules, SessionSpec};
    use strum::VariantArray;

    const T0: Millis = Millis(1_740_816_000_000);

    /// `secs` after T0, plus some milliseconds so rounding is exercised.
    fn at(secs: u64, ms: u64) -> Millis {
        T0.plus_secs(secs).plus_ms(ms)
    }

    fn code(c: &str) -> EndpointCode {
        EndpointCode::from(c)
    }

    const TRICKY: &str = "Sở \"Tài chính\", Hà Nội";

    fn spec() -> SessionSpec {
        let ep = |c: &str, name: &str, role| EndpointInfo {
            code: code(c),
            name: name.into(),
            role,
        };
        SessionSpec {
            id: SessionId("hop-1".into()),
            title: "Hội nghị sơ kết quý I".into(),
            endpoints: vec![
                ep("30", "Hải Dương", EndpointRole::Provincial),
                ep("01", TRICKY, EndpointRole::Provincial),
                ep("TW", "Trụ sở Chính phủ", EndpointRole::Central),
                ep("31", "Hải Phòng", EndpointRole::Provincial),
                ep("48", "Đà Nẵng", EndpointRole::Provincial),
                ep("79", "TP. Hồ Chí Minh", EndpointRole::Provincial),
            ],
            rules: Rules::default(),
        }
    }

    fn run(s: &mut Session, c: Command, now: Millis) {
        let what = format!("{c:?}");
        if let Err(r) = s.apply(c, now) {
            panic!("{what} rejected: {r}");
        }
    }

    /// One of each status among the provinces: 30 present, 01 connected,
    /// 31 dropped, 79 left, 48 absent.
    fn meeting(end: bool) -> Session {
        let (mut s, _) = Session::create(spec(), T0).expect("spec");
        run(&mut s, Command::Open, at(10, 0));
        for c in ["TW", "30", "31"] {
            run(&mut s, Command::Connect { endpoint: code(c) }, at(20, 250));
        }
        run(
            &mut s,
            Command::SetRepresentative {
                endpoint: code("30"),
                name: "Nguyễn Minh Hùng".into(),
                title: "Phó Chủ tịch UBND tỉnh".into(),
                headcount: Some(24),
            },
            at(30, 0),
        );
        run(&mut s, Command::Start, at(600, 400));
        for c in ["01", "79"] {
            run(&mut s, Command::Connect { endpoint: code(c) }, at(725, 900));
        }
        run(
            &mut s,
            Command::StartRollCall {
                deadline_secs: None,
            },
            at(730, 0),
        );
        run(
            &mut s,
            Command::ConfirmRollCall {
                endpoint: code("30"),
            },
            at(731, 300),
        );
        run(&mut s, Command::CloseRollCall, at(760, 0));
        run(
            &mut s,
            Command::Disconnect {
                endpoint: code("31"),
            },
            at(900, 700),
        );
        run(
            &mut s,
            Command::Connect {
                endpoint: code("31"),
            },
            at(910, 100),
        );
        run(
            &mut s,
            Command::Disconnect {
                endpoint: code("31"),
            },
            at(1000, 999),
        );
        run(
            &mut s,
            Command::Leave {
                endpoint: code("79"),
            },
            at(1500, 1),
        );
        if end {
            run(&mut s, Command::End, at(3600, 650));
        }
        s
    }

    fn row<'a>(r: &'a AttendanceReport, c: &str) -> &'a AttendanceRow {
        r.rows.iter().find(|r| r.code == c).expect("row")
    }

    #[test]
    fn rows_come_central_first_then_by_code() {
        let r = attendance(&meeting(true), at(4000, 0));
        let codes: Vec<&str> = r.rows.iter().map(|r| r.code.as_str()).collect();
        assert_eq!(codes, ["TW", "01", "30", "31", "48", "79"]);
    }

    #[test]
    fn the_summary_counts_the_provinces_by_status() {
        let r = attendance(&meeting(true), at(4000, 0));
        assert_eq!(
            r.summary,
            AttendanceSummary {
                provincial_total: 5,
                present: 1,
                connected: 1,
                dropped: 1,
                left: 1,
                absent: 1,
            }
        );
        assert!(to_text(&r).contains("1/5 có mặt"), "{}", to_text(&r));
    }

    #[test]
    fn each_row_adds_up_to_the_live_length() {
        for (end, now) in [(true, at(9000, 0)), (false, at(2000, 321))] {
            let r = attendance(&meeting(end), now);
            let expected = if end { 3000 } else { 1399 };
            assert_eq!(r.live_secs, expected);
            for row in &r.rows {
                assert_eq!(
                    row.connected_secs + row.dropped_secs + row.absent_secs,
                    r.live_secs,
                    "{row:?}"
                );
            }
        }
    }

    #[test]
    fn rows_carry_times_lateness_and_the_representative() {
        let r = attendance(&meeting(true), at(4000, 0));
        assert_eq!(r.started_at.as_deref(), Some("2025-03-01T08:10:00Z"));
        assert_eq!(r.ended_at.as_deref(), Some("2025-03-01T09:00:00Z"));
        let hd = row(&r, "30");
        assert_eq!(hd.status, AttendanceStatus::Present);
        assert_eq!(hd.first_joined_at.as_deref(), Some("2025-03-01T08:00:20Z"));
        assert_eq!(hd.lateness_secs, Some(0));
        assert_eq!(hd.connected_secs, 3000);
        assert!(hd.confirmed);
        assert_eq!(hd.representative_name.as_deref(), Some("Nguyễn Minh Hùng"));
        assert_eq!(hd.headcount, Some(24));
        let hp = row(&r, "31");
        assert_eq!((hp.disconnects, hp.status), (2, AttendanceStatus::Dropped));
        assert_eq!(hp.dropped_secs, 10 + 2599);
        let hn = row(&r, "01");
        assert_eq!(hn.lateness_secs, Some(125));
        assert_eq!(hn.absent_secs, 125);
        let dn = row(&r, "48");
        assert_eq!(
            (dn.first_joined_at.as_ref(), dn.lateness_secs),
            (None, None)
        );
        assert_eq!(dn.absent_secs, 3000);
    }

    #[test]
    fn csv_has_bom_header_quoting_and_diacritics() {
        let mut s = meeting(false);
        run(
            &mut s,
            Command::SetRepresentative {
                endpoint: code("31"),
                name: "=HYPERLINK(\"x\")".into(),
                title: "Bí thư Thành ủy".into(),
                headcount: None,
            },
            at(2000, 0),
        );
        let csv = to_csv(&attendance(&s, at(2100, 0))).expect("csv");
        let body = csv.strip_prefix('\u{feff}').expect("starts with the BOM");
        let lines: Vec<&str> = body.split("\r\n").collect();
        assert_eq!(
            lines.len(),
            1 + 6 + 1,
            "header, a row per endpoint, a final CRLF"
        );
        assert_eq!(lines[0], CSV_HEADER.join(","));
        assert_eq!(lines[7], "");
        assert!(lines[1].starts_with("TW,Trụ sở Chính phủ,central,connected,"));
        assert!(
            lines[2].starts_with("01,\"Sở \"\"Tài chính\"\", Hà Nội\",provincial,connected,"),
            "{}",
            lines[2]
        );
        assert!(lines[3].contains("Hải Dương") && lines[3].contains("Nguyễn Minh Hùng"));
        assert!(
            lines[4].contains(",\"'=HYPERLINK(\"\"x\"\")\",Bí thư Thành ủy,"),
            "{}",
            lines[4]
        );
        for line in &lines[1..7] {
            assert_eq!(parse_csv_line(line).len(), CSV_HEADER.len(), "{line}");
        }
        assert_eq!(parse_csv_line(lines[2])[1], TRICKY);
    }

    /// A name typed at a site with `;` and a formula after it reaches a
    /// spreadsheet that splits on `;` as text, quoted.
    #[test]
    fn csv_keeps_a_semicolon_formula_in_a_name_text() {
        let mut s = meeting(false);
        run(
            &mut s,
            Command::SetRepresentative {
                endpoint: code("30"),
                name: "Lê A;=1+1".into(),
                title: "-".into(),
                headcount: Some(3),
            },
            at(2000, 0),
        );
        let csv = to_csv(&attendance(&s, at(2100, 0))).expect("csv");
        let line = csv
            .split("\r\n")
            .find(|l| l.starts_with("30,"))
            .expect("Hải Dương's row");
        assert!(line.ends_with(",\"Lê A;'=1+1\",'-,3"), "{line}");
        assert_eq!(parse_csv_line(line)[13], "Lê A;'=1+1");
    }

    /// A small RFC 4180 reader for one line without embedded line breaks.
    fn parse_csv_line(line: &str) -> Vec<String> {
        let mut cells = vec![String::new()];
        let mut quoted = false;
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            let cell = cells.last_mut().expect("one cell");
            match (c, quoted) {
                ('"', true) if chars.peek() == Some(&'"') => {
                    chars.next();
                    cell.push('"');
                }
                ('"', _) => quoted = !quoted,
                (',', false) => cells.push(String::new()),
                (c, _) => cell.push(c),
            }
        }
        cells
    }

    #[test]
    fn the_text_table_is_aligned() {
        let text = to_text(&attendance(&meeting(true), at(4000, 0)));
        let table: Vec<&str> = text.lines().skip(3).take(8).collect();
        assert!(table[0].starts_with("Mã"));
        assert!(table[1].starts_with("--"));
        // The status column starts at the same column on every line.
        let col = |l: &str| {
            let name_end = l.char_indices().nth(2 + 2 + width(TRICKY) + 2);
            name_end.map(|(i, _)| i)
        };
        for line in &table[2..] {
            let start = col(line).expect("long enough");
            let rest = &line[start..];
            assert!(
                ["vắng", "có mặt", "đã", "mất"]
                    .iter()
                    .any(|s| rest.starts_with(s)),
                "{line:?}"
            );
        }
        assert!(text.contains("Nguyễn Minh Hùng, Phó Chủ tịch UBND tỉnh (24 người)"));
        assert!(text.trim_end().ends_with("1 vắng"));
    }

    #[test]
    fn print_from_store_reads_the_log_and_names_an_unknown_session() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (s, created) = Session::create(spec(), T0).expect("spec");
        let mut store = Store::open_in(dir.path()).expect("store");
        store.append(s.id(), &[created]).expect("append");
        let mut live = s;
        let events = live.apply(Command::Start, at(5, 0)).expect("start");
        store.append(live.id(), &events).expect("append");

        let mut json = Vec::new();
        print_from_store(dir.path(), live.id(), "json", &mut json).expect("json");
        let v: serde_json::Value = serde_json::from_slice(&json).expect("valid json");
        assert_eq!(v["session"], "hop-1");
        assert_eq!(v["phase"], "live");
        assert_eq!(v["rows"][0]["role"], "central");
        assert_eq!(v["summary"]["absent"], 5);

        let mut csv = Vec::new();
        print_from_store(dir.path(), live.id(), "csv", &mut csv).expect("csv");
        assert!(csv.starts_with("\u{feff}code,".as_bytes()));
        let mut text = Vec::new();
        print_from_store(dir.path(), live.id(), "text", &mut text).expect("text");
        assert!(String::from_utf8_lossy(&text).contains("0/5 có mặt"));

        let unknown = SessionId("khong-co".into());
        let err = print_from_store(dir.path(), &unknown, "text", &mut Vec::new())
            .expect_err("unknown session");
        assert!(matches!(err, ReportError::UnknownSession(_)));
        assert_eq!(err.to_string(), "no session khong-co in the store");
        assert!(matches!(
            print_from_store(dir.path(), live.id(), "xml", &mut Vec::new()),
            Err(ReportError::Format(_))
        ));
        let empty = tempfile::tempdir().expect("tempdir");
        assert!(matches!(
            print_from_store(empty.path(), live.id(), "text", &mut Vec::new()),
            Err(ReportError::Store(StoreError::NotFound(_)))
        ));
    }

    #[test]
    fn the_schema_names_each_enum_and_its_values() {
        use utoipa::PartialSchema;
        let row = serde_json::to_value(AttendanceRow::schema()).expect("schema");
        let refers = |field: &str| row["properties"][field]["$ref"].clone();
        assert_eq!(refers("status"), "#/components/schemas/AttendanceStatus");
        assert_eq!(refers("role"), "#/components/schemas/EndpointRole");
        let status = serde_json::to_value(AttendanceStatus::schema()).expect("schema");
        let wire = serde_json::to_value(AttendanceStatus::VARIANTS).expect("json");
        assert_eq!(status["enum"], wire);
        let report = serde_json::to_value(AttendanceReport::schema()).expect("schema");
        assert_eq!(report["properties"]["session"]["type"], "string");
        assert!(report["required"]
            .as_array()
            .is_some_and(|r| r.iter().any(|f| f == "rows")));
    }

    #[test]
    fn seconds_are_cut_from_the_running_total() {
        assert_eq!(split_secs([999, 999, 1002]), [1, 1, 1]);
        assert_eq!(split_secs([0, 0, 0]), [0, 0, 0]);
        assert_eq!(split_secs([1500, 1500]), [2, 1]);
        assert_eq!(split_secs([2_874_750, 0, 125_500]), [2875, 0, 125]);
        assert_eq!(split_secs([400, 300, 200]), [0, 0, 0]);
    }
}
