//! The attendance report of a session, as JSON and as CSV.
//!
//! Minimal version so the server can be wired and tested; the full report
//! replaces it.

use crate::control::{Millis, Session};
use serde::Serialize;
use utoipa::ToSchema;

/// One endpoint's line in the report.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AttendanceRow {
    /// Endpoint code.
    pub code: String,
    /// Display name.
    pub name: String,
    /// `absent`, `connected`, `present`, `dropped` or `left`.
    pub status: String,
    /// Lateness in ms after the meeting went live.
    pub lateness_ms: Option<u64>,
    /// Time connected while live, in ms.
    pub connected_ms: u64,
    /// Link drops.
    pub disconnects: u32,
    /// Who presides at the site.
    pub representative: Option<String>,
    /// Their title.
    pub title: Option<String>,
    /// People in the room.
    pub headcount: Option<u32>,
}

/// The attendance report.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AttendanceReport {
    /// Session id.
    pub session: String,
    /// Title.
    pub title: String,
    /// Length of the live meeting, in ms.
    pub live_ms: u64,
    /// One row per endpoint.
    pub rows: Vec<AttendanceRow>,
}

/// The report at `now`.
pub fn attendance(session: &Session, now: Millis) -> AttendanceReport {
    let rows = session
        .attendance_at(now)
        .into_iter()
        .map(|a| AttendanceRow {
            connected_ms: a.connected_ms(),
            code: a.endpoint.code.0,
            name: a.endpoint.name,
            status: a.status.as_str().to_string(),
            lateness_ms: a.lateness_ms,
            disconnects: a.disconnects,
            representative: a.representative.as_ref().map(|r| r.name.clone()),
            title: a.representative.map(|r| r.title),
            headcount: a.headcount,
        })
        .collect();
    AttendanceReport {
        session: session.id().0.clone(),
        title: session.spec.title.clone(),
        live_ms: session.live_ms(now),
        rows,
    }
}

fn field(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// CSV with a byte-order mark so spreadsheet programs read UTF-8.
pub fn to_csv(report: &AttendanceReport) -> String {
    let mut out = String::from("\u{feff}code,name,status,lateness_ms,connected_ms,disconnects,representative,title,headcount\r\n");
    for r in &report.rows {
        let opt = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_default();
        out.push_str(
            &[
                field(&r.code),
                field(&r.name),
                r.status.clone(),
                opt(r.lateness_ms),
                r.connected_ms.to_string(),
                r.disconnects.to_string(),
                field(r.representative.as_deref().unwrap_or("")),
                field(r.title.as_deref().unwrap_or("")),
                opt(r.headcount.map(u64::from)),
            ]
            .join(","),
        );
        out.push_str("\r\n");
    }
    out
}
