//! The speaking log: who had the floor, from when to when and how it
//! ended; who presented; the modes, roll calls and recordings. Computed
//! from a session's event log alone, like the attendance report, so the
//! live server, `diemcau report` and the minutes all say the same.
//!
//! A turn is one floor grant and its end. The end is read from the events
//! the same decision logged beside it (they share one time): a release
//! logged with the site's `endpoint_left` is `left`, one logged with its
//! `drop_grace_expired` is `dropped`, one logged with `ended` is
//! `session_ended`; a revoke logged with a grant to another site is
//! `replaced` (the floor was full), an automatic one is `time_up`.
//!
//! A dropped speaker keeps the floor through the drop grace, but it was
//! not heard after its link went: such a turn ends when the link was lost,
//! not when the grace ran out.
//!
//! Who spoke for a site is its representative as recorded when the turn
//! began, or, if the site had not said yet, the first one it recorded
//! afterwards.
//!
//! WebVTT chapters ([`to_vtt`]) put each turn on a recording's time line:
//! a cue starts at the turn's start minus the file's first instant (from
//! the `.json` the media plane writes beside each `.webm` or `.mkv`), and
//! is clipped to the part of the turn that the file holds.

use crate::control::{
    ContentEnd, EndpointCode, Event, EventKind, Millis, Mode, RecordingEnd, RequestId, RollCallEnd,
    SessionId,
};
use crate::report::rfc3339;
use crate::spreadsheet;
use serde::{Deserialize, Serialize, Serializer};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use utoipa::ToSchema;

/// Vietnam keeps UTC+7 all year (no daylight saving), so Asia/Ho_Chi_Minh
/// is a fixed offset and needs no time-zone database.
const VIETNAM_OFFSET_MS: u64 = 7 * 3600 * 1000;

/// How a turn ended.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    ToSchema,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum TurnEnd {
    /// The site gave the floor back.
    Released,
    /// The chair took it back.
    Revoked,
    /// The floor was full and the chair gave it to another site.
    Replaced,
    /// The speaking time ran out and the floor was revoked by itself.
    TimeUp,
    /// The site's link was lost and did not come back within the grace.
    Dropped,
    /// The site left.
    Left,
    /// The session ended while the site held the floor.
    SessionEnded,
    /// It still holds the floor.
    Ongoing,
}

impl TurnEnd {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// In Vietnamese, for the minutes and the terminal.
    pub fn label(self) -> &'static str {
        match self {
            TurnEnd::Released => "tự kết thúc",
            TurnEnd::Revoked => "chủ trì thu hồi",
            TurnEnd::Replaced => "nhường điểm cầu khác",
            TurnEnd::TimeUp => "hết giờ",
            TurnEnd::Dropped => "mất kết nối",
            TurnEnd::Left => "rời phiên",
            TurnEnd::SessionEnded => "kết thúc phiên",
            TurnEnd::Ongoing => "đang phát biểu",
        }
    }
}

/// How a presentation ended.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    ToSchema,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum PresentationEnd {
    /// The site gave the token back.
    Released,
    /// The chair took it back.
    Chair,
    /// The chair gave it to another site.
    Replaced,
    /// The site lost the floor, and the token goes with it.
    FloorLost,
    /// The site's link was lost.
    Dropped,
    /// The site left.
    Left,
    /// The session ended.
    SessionEnded,
    /// It still presents.
    Ongoing,
}

impl From<ContentEnd> for PresentationEnd {
    /// Why a presenter lost the token. `Withdrawn` ends only a request,
    /// never a presentation, so a log that says it ended one reads it as
    /// given back.
    fn from(end: ContentEnd) -> Self {
        match end {
            ContentEnd::Chair => PresentationEnd::Chair,
            ContentEnd::Replaced => PresentationEnd::Replaced,
            ContentEnd::FloorLost => PresentationEnd::FloorLost,
            ContentEnd::Dropped => PresentationEnd::Dropped,
            ContentEnd::Left => PresentationEnd::Left,
            ContentEnd::SessionEnded => PresentationEnd::SessionEnded,
            ContentEnd::Withdrawn => PresentationEnd::Released,
        }
    }
}

impl PresentationEnd {
    /// In Vietnamese, for the minutes and the terminal.
    pub fn label(self) -> &'static str {
        match self {
            PresentationEnd::Released => "tự kết thúc",
            PresentationEnd::Chair => "chủ trì thu hồi",
            PresentationEnd::Replaced => "chuyển điểm cầu khác",
            PresentationEnd::FloorLost => "hết quyền phát biểu",
            PresentationEnd::Dropped => "mất kết nối",
            PresentationEnd::Left => "rời phiên",
            PresentationEnd::SessionEnded => "kết thúc phiên",
            PresentationEnd::Ongoing => "đang trình chiếu",
        }
    }
}

/// One floor grant and its end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Turn {
    /// The floor request's id.
    #[schema(value_type = u32)]
    pub request: RequestId,
    /// The site's code.
    #[schema(value_type = String)]
    pub code: EndpointCode,
    /// The site's name.
    pub name: String,
    /// Who spoke for the site (see the module's docs).
    pub representative_name: Option<String>,
    /// That person's title.
    pub representative_title: Option<String>,
    /// When the floor was given (RFC 3339, UTC).
    #[serde(serialize_with = "at")]
    #[schema(value_type = String)]
    pub started_at: Millis,
    /// When the turn ended; none while it runs.
    #[serde(serialize_with = "at_opt")]
    #[schema(value_type = Option<String>)]
    pub ended_at: Option<Millis>,
    /// Whole seconds, up to now while it runs.
    pub duration_secs: u64,
    /// True when the chair called on the site without a request.
    pub called_on: bool,
    /// What the site asked to speak about (empty when called on).
    pub topic: String,
    /// `released`, `revoked`, `replaced`, `time_up`, `dropped`, `left`,
    /// `session_ended` or `ongoing`.
    pub end: TurnEnd,
    /// It ran past its speaking limit (auto-revoke off, so it went on).
    pub overran: bool,
}

/// One holding of the content token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Presentation {
    /// The presenting site's code.
    #[schema(value_type = String)]
    pub code: EndpointCode,
    /// Its name.
    pub name: String,
    /// When it got the token.
    #[serde(serialize_with = "at")]
    #[schema(value_type = String)]
    pub started_at: Millis,
    /// When it lost or gave up the token; none while it presents.
    #[serde(serialize_with = "at_opt")]
    #[schema(value_type = Option<String>)]
    pub ended_at: Option<Millis>,
    /// Whole seconds.
    pub duration_secs: u64,
    /// True when the chair granted it.
    pub by_chair: bool,
    /// How it ended; `ongoing` while it presents.
    pub end: PresentationEnd,
}

/// A change of who may be heard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ModeChange {
    /// When.
    #[serde(serialize_with = "at")]
    #[schema(value_type = String)]
    pub at: Millis,
    /// `lecture`, `chaired` or `open`.
    pub mode: Mode,
}

/// One round of roll call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RollCallRound {
    /// 1, 2, …
    pub round: u32,
    /// When it began.
    #[serde(serialize_with = "at")]
    #[schema(value_type = String)]
    pub started_at: Millis,
    /// When it closed; none while it runs.
    #[serde(serialize_with = "at_opt")]
    #[schema(value_type = Option<String>)]
    pub closed_at: Option<Millis>,
    /// Sites that answered.
    pub answered: u32,
    /// Provincial sites asked (known when it closes).
    pub expected: Option<u32>,
    /// `closed`, `deadline` or `session_ended`; none while it runs.
    pub end: Option<RollCallEnd>,
}

/// One stretch of recording, as the log has it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RecordingSpan {
    /// When it started.
    #[serde(serialize_with = "at")]
    #[schema(value_type = String)]
    pub started_at: Millis,
    /// When it stopped; none while it runs.
    #[serde(serialize_with = "at_opt")]
    #[schema(value_type = Option<String>)]
    pub stopped_at: Option<Millis>,
    /// True when the chair started it, false when the session's rule did.
    pub by_chair: bool,
    /// Why it stopped; none while it runs.
    pub end: Option<RecordingEnd>,
    /// What went wrong, when it failed.
    pub detail: Option<String>,
}

/// The whole log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct SpeakingLog {
    /// The session's id.
    #[schema(value_type = String)]
    pub session: SessionId,
    /// What the meeting is about.
    pub title: String,
    /// When it went live.
    #[serde(serialize_with = "at_opt")]
    #[schema(value_type = Option<String>)]
    pub started_at: Option<Millis>,
    /// When it ended.
    #[serde(serialize_with = "at_opt")]
    #[schema(value_type = Option<String>)]
    pub ended_at: Option<Millis>,
    /// The time the log runs to: now for a session still going.
    #[serde(serialize_with = "at")]
    #[schema(value_type = String)]
    pub as_of: Millis,
    /// Every floor grant, in the order given.
    pub turns: Vec<Turn>,
    /// Every presentation, in order.
    pub presentations: Vec<Presentation>,
    /// Every change of mode, in order.
    pub modes: Vec<ModeChange>,
    /// Every roll call, in order.
    pub roll_calls: Vec<RollCallRound>,
    /// Every stretch of recording, in order.
    pub recordings: Vec<RecordingSpan>,
}

fn at<S: Serializer>(t: &Millis, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&rfc3339(*t))
}

fn at_opt<S: Serializer>(t: &Option<Millis>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&rfc3339(*t)),
        None => s.serialize_none(),
    }
}

/// What the walk keeps besides what it writes out.
#[derive(Default)]
struct Walk {
    names: BTreeMap<EndpointCode, String>,
    representatives: BTreeMap<EndpointCode, (String, String)>,
    topics: BTreeMap<RequestId, String>,
    open_turns: BTreeMap<RequestId, usize>,
    /// When each site's link was last lost, while it stays lost.
    lost_at: BTreeMap<EndpointCode, Millis>,
    presenting: Option<usize>,
    recording: Option<usize>,
}

/// The speaking log of the session whose whole log is `events`, as of
/// `now` (only turns still running depend on it).
pub fn speaking_log(events: &[Event], now: Millis) -> SpeakingLog {
    let mut log = SpeakingLog {
        session: SessionId(String::new()),
        title: String::new(),
        started_at: None,
        ended_at: None,
        as_of: now,
        turns: Vec::new(),
        presentations: Vec::new(),
        modes: Vec::new(),
        roll_calls: Vec::new(),
        recordings: Vec::new(),
    };
    let mut w = Walk::default();
    // Time never runs backwards in the log (the fold holds it so too).
    let mut last = Millis(0);
    for (i, event) in events.iter().enumerate() {
        let t = event.at.max(last);
        last = t;
        // The other events of the same decision: logged next, at one time.
        let decision = events[i + 1..]
            .iter()
            .take_while(|e| e.at == event.at)
            .map(|e| &e.kind);
        match &event.kind {
            EventKind::Created { spec } => {
                log.session = spec.id.clone();
                log.title = spec.title.clone();
                for e in &spec.endpoints {
                    w.names.insert(e.code.clone(), e.name.clone());
                }
            }
            EventKind::Started => log.started_at = Some(t),
            EventKind::Ended => log.ended_at = Some(t),
            EventKind::EndpointConnected { endpoint } => {
                w.lost_at.remove(endpoint);
            }
            EventKind::EndpointDropped { endpoint } => {
                w.lost_at.insert(endpoint.clone(), t);
            }
            EventKind::RepresentativeSet {
                endpoint,
                name,
                title,
                ..
            } => {
                w.representatives
                    .insert(endpoint.clone(), (name.clone(), title.clone()));
                // A site that spoke before saying who presides gets this one.
                for turn in log.turns.iter_mut().filter(|turn| &turn.code == endpoint) {
                    if turn.representative_name.is_none() {
                        turn.representative_name = Some(name.clone());
                        turn.representative_title = Some(title.clone());
                    }
                }
            }
            EventKind::FloorRequested { request, topic, .. } => {
                w.topics.insert(*request, topic.clone());
            }
            EventKind::FloorGranted {
                request,
                endpoint,
                called_on,
                ..
            } => {
                let rep = w.representatives.get(endpoint);
                w.open_turns.insert(*request, log.turns.len());
                log.turns.push(Turn {
                    request: *request,
                    code: endpoint.clone(),
                    name: w.name(endpoint),
                    representative_name: rep.map(|r| r.0.clone()),
                    representative_title: rep.map(|r| r.1.clone()),
                    started_at: t,
                    ended_at: None,
                    duration_secs: 0,
                    called_on: *called_on,
                    topic: w.topics.get(request).cloned().unwrap_or_default(),
                    end: TurnEnd::Ongoing,
                    overran: false,
                });
            }
            EventKind::SpeakingTimeUp { request, .. } => {
                if let Some(&k) = w.open_turns.get(request) {
                    log.turns[k].overran = true;
                }
            }
            EventKind::FloorRevoked {
                request,
                endpoint,
                automatic,
            } => {
                let mut decision = decision;
                let end = if *automatic {
                    TurnEnd::TimeUp
                } else if decision.any(
                    |k| matches!(k, EventKind::FloorGranted { endpoint: e, .. } if e != endpoint),
                ) {
                    TurnEnd::Replaced
                } else {
                    TurnEnd::Revoked
                };
                w.close_turn(&mut log, *request, t, end);
            }
            EventKind::FloorReleased { request, endpoint } => {
                let mut end = TurnEnd::Released;
                for k in decision {
                    match k {
                        EventKind::EndpointLeft { endpoint: e } if e == endpoint => {
                            end = TurnEnd::Left;
                        }
                        EventKind::DropGraceExpired { endpoint: e } if e == endpoint => {
                            end = TurnEnd::Dropped;
                        }
                        EventKind::Ended => end = TurnEnd::SessionEnded,
                        _ => {}
                    }
                }
                let when = match end {
                    TurnEnd::Dropped => w.lost_at.get(endpoint).copied().unwrap_or(t),
                    _ => t,
                };
                w.close_turn(&mut log, *request, when, end);
            }
            EventKind::ContentGranted { endpoint, by_chair } => {
                // A grant that replaces a presenter comes after its revoke;
                // this only guards a log that says otherwise.
                w.close_presentation(&mut log, t, PresentationEnd::Replaced);
                w.presenting = Some(log.presentations.len());
                log.presentations.push(Presentation {
                    code: endpoint.clone(),
                    name: w.name(endpoint),
                    started_at: t,
                    ended_at: None,
                    duration_secs: 0,
                    by_chair: *by_chair,
                    end: PresentationEnd::Ongoing,
                });
            }
            EventKind::ContentRevoked { reason, .. } => {
                w.close_presentation(&mut log, t, PresentationEnd::from(*reason));
            }
            EventKind::ContentReleased { .. } => {
                w.close_presentation(&mut log, t, PresentationEnd::Released);
            }
            EventKind::ModeChanged { mode } => log.modes.push(ModeChange { at: t, mode: *mode }),
            EventKind::RollCallStarted { round, .. } => log.roll_calls.push(RollCallRound {
                round: *round,
                started_at: t,
                closed_at: None,
                answered: 0,
                expected: None,
                end: None,
            }),
            EventKind::RollCallConfirmed { round, .. } => {
                if let Some(rc) = log.roll_calls.iter_mut().rfind(|rc| rc.round == *round) {
                    rc.answered += 1;
                }
            }
            EventKind::RollCallClosed {
                round,
                reason,
                present,
                missing,
            } => {
                if let Some(rc) = log.roll_calls.iter_mut().rfind(|rc| rc.round == *round) {
                    rc.closed_at = Some(t);
                    rc.answered = count(present.len());
                    rc.expected = Some(count(present.len() + missing.len()));
                    rc.end = Some(*reason);
                }
            }
            EventKind::RecordingStarted { by_chair } => {
                w.recording = Some(log.recordings.len());
                log.recordings.push(RecordingSpan {
                    started_at: t,
                    stopped_at: None,
                    by_chair: *by_chair,
                    end: None,
                    detail: None,
                });
            }
            EventKind::RecordingStopped { reason, detail } => {
                if let Some(r) = w.recording.take().and_then(|k| log.recordings.get_mut(k)) {
                    r.stopped_at = Some(t);
                    r.end = Some(*reason);
                    r.detail = detail.clone();
                }
            }
            _ => {}
        }
    }
    log.as_of = log.as_of.max(last);
    let as_of = log.as_of;
    for turn in log.turns.iter_mut().filter(|t| t.ended_at.is_none()) {
        turn.duration_secs = as_of.since(turn.started_at) / 1000;
    }
    for p in log
        .presentations
        .iter_mut()
        .filter(|p| p.ended_at.is_none())
    {
        p.duration_secs = as_of.since(p.started_at) / 1000;
    }
    log
}

impl Walk {
    fn name(&self, code: &EndpointCode) -> String {
        self.names
            .get(code)
            .cloned()
            .unwrap_or_else(|| code.to_string())
    }

    fn close_turn(&mut self, log: &mut SpeakingLog, request: RequestId, t: Millis, end: TurnEnd) {
        if let Some(turn) = self
            .open_turns
            .remove(&request)
            .and_then(|k| log.turns.get_mut(k))
        {
            let t = t.max(turn.started_at);
            turn.ended_at = Some(t);
            turn.duration_secs = t.since(turn.started_at) / 1000;
            turn.end = end;
        }
    }

    fn close_presentation(&mut self, log: &mut SpeakingLog, t: Millis, end: PresentationEnd) {
        if let Some(p) = self
            .presenting
            .take()
            .and_then(|k| log.presentations.get_mut(k))
        {
            p.ended_at = Some(t);
            p.duration_secs = t.since(p.started_at) / 1000;
            p.end = end;
        }
    }
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

pub(crate) fn mode_label(mode: Mode) -> &'static str {
    match mode {
        Mode::Lecture => "chỉ chủ trì phát biểu",
        Mode::Chaired => "điều hành (chủ trì và người được phát biểu)",
        Mode::Open => "thảo luận mở",
    }
}

/// Year, month, day, hour, minute, second of `t` shifted by `offset_ms`.
/// The civil-from-days algorithm (H. Hinnant's), so that any time in a log
/// formats without a panic, unlike formatting a `SystemTime`.
fn civil(t: Millis, offset_ms: u64) -> (u64, u64, u64, u64, u64, u64) {
    let secs = t.0.saturating_add(offset_ms) / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day, rem / 3600, rem / 60 % 60, rem % 60)
}

/// `HH:MM:SS`, the time of day in Vietnam (UTC+7).
pub fn local_clock(t: Millis) -> String {
    let (_, _, _, h, m, s) = civil(t, VIETNAM_OFFSET_MS);
    format!("{h:02}:{m:02}:{s:02}")
}

/// `DD/MM/YYYY`, the date in Vietnam (UTC+7).
pub fn local_date(t: Millis) -> String {
    let (y, mo, d, ..) = civil(t, VIETNAM_OFFSET_MS);
    format!("{d:02}/{mo:02}/{y}")
}

const CSV_HEADER: [&str; 12] = [
    "kind",
    "started_at",
    "ended_at",
    "duration_secs",
    "code",
    "name",
    "representative_name",
    "representative_title",
    "called_on",
    "topic",
    "end",
    "detail",
];

/// A CSV row of `kind` that began at `started` and ended at `ended`
/// (empty while it runs): its start, end and whole seconds filled in.
fn span_row(kind: &str, started: Millis, ended: Option<Millis>) -> [String; 12] {
    let mut row: [String; 12] = Default::default();
    row[0] = kind.into();
    row[1] = rfc3339(started);
    row[2] = ended.map(rfc3339).unwrap_or_default();
    row[3] = ended
        .map(|e| (e.since(started) / 1000).to_string())
        .unwrap_or_default();
    row
}

/// The log as one CSV table for spreadsheets (see [`crate::spreadsheet`]):
/// a row per turn (`floor`), presentation (`content`), change of mode
/// (`mode`), roll call (`roll_call`) and recording (`recording`), in the
/// order they began.
pub fn to_csv(log: &SpeakingLog) -> Result<String, csv::Error> {
    let opt_at = |t: Option<Millis>| t.map(rfc3339).unwrap_or_default();
    let mut rows: Vec<(Millis, [String; 12])> = Vec::new();
    for t in &log.turns {
        rows.push((
            t.started_at,
            [
                "floor".into(),
                rfc3339(t.started_at),
                opt_at(t.ended_at),
                t.duration_secs.to_string(),
                t.code.to_string(),
                t.name.clone(),
                t.representative_name.clone().unwrap_or_default(),
                t.representative_title.clone().unwrap_or_default(),
                t.called_on.to_string(),
                t.topic.clone(),
                t.end.as_str().into(),
                if t.overran { "overran" } else { "" }.into(),
            ],
        ));
    }
    for p in &log.presentations {
        rows.push((
            p.started_at,
            [
                "content".into(),
                rfc3339(p.started_at),
                opt_at(p.ended_at),
                p.duration_secs.to_string(),
                p.code.to_string(),
                p.name.clone(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                <&str>::from(p.end).into(),
                if p.by_chair {
                    "granted by the chair"
                } else {
                    ""
                }
                .into(),
            ],
        ));
    }
    for m in &log.modes {
        let mut row: [String; 12] = Default::default();
        row[0] = "mode".into();
        row[1] = rfc3339(m.at);
        row[11] = <&str>::from(m.mode).into();
        rows.push((m.at, row));
    }
    for rc in &log.roll_calls {
        let mut row = span_row("roll_call", rc.started_at, rc.closed_at);
        row[10] = rc.end.map_or("ongoing", <&str>::from).into();
        row[11] = match rc.expected {
            Some(e) => format!("round {}: {}/{} answered", rc.round, rc.answered, e),
            None => format!("round {}: {} answered", rc.round, rc.answered),
        };
        rows.push((rc.started_at, row));
    }
    for r in &log.recordings {
        let mut row = span_row("recording", r.started_at, r.stopped_at);
        row[10] = r.end.map_or("ongoing", <&str>::from).into();
        row[11] = r.detail.clone().unwrap_or_else(|| {
            if r.by_chair {
                "started by the chair"
            } else {
                ""
            }
            .into()
        });
        rows.push((r.started_at, row));
    }
    // Stable: rows that began together keep the order of the kinds above.
    rows.sort_by_key(|(t, _)| *t);
    spreadsheet::to_csv(CSV_HEADER, rows.into_iter().map(|(_, row)| row))
}

/// `Nguyễn Minh Hùng, Phó Chủ tịch UBND tỉnh`, or whichever half is known.
pub(crate) fn speaker(turn: &Turn) -> String {
    let flat = |s: &Option<String>| {
        s.as_deref()
            .unwrap_or_default()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    let (name, title) = (
        flat(&turn.representative_name),
        flat(&turn.representative_title),
    );
    match (name.is_empty(), title.is_empty()) {
        (false, false) => format!("{name}, {title}"),
        (false, true) => name,
        (true, false) => title,
        (true, true) => String::new(),
    }
}

/// The log for the terminal, in Vietnamese: one line per turn, then the
/// presentations, roll calls, modes and recordings, times in UTC+7.
pub fn to_text(log: &SpeakingLog) -> String {
    let flat = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let span = |from: Millis, to: Option<Millis>| {
        format!(
            "{}–{}",
            local_clock(from),
            to.map(local_clock).unwrap_or_else(|| "…".into())
        )
    };
    let mut out = String::new();
    let _ = writeln!(out, "{} ({})", flat(&log.title), log.session);
    let _ = writeln!(out, "Giờ Việt Nam (UTC+7)\n\nPhát biểu:");
    if log.turns.is_empty() {
        out.push_str("  (không có)\n");
    }
    for t in &log.turns {
        let who = speaker(t);
        let _ = write!(
            out,
            "  {}  {:>8}  {} ({})",
            span(t.started_at, t.ended_at),
            crate::report::clock(t.duration_secs),
            flat(&t.name),
            t.code
        );
        if !who.is_empty() {
            let _ = write!(out, " — {who}");
        }
        let _ = write!(
            out,
            "; {}; {}",
            if t.called_on {
                "được mời"
            } else {
                "đăng ký"
            },
            t.end.label()
        );
        if t.overran {
            out.push_str(", quá giờ");
        }
        if !t.topic.trim().is_empty() {
            let _ = write!(out, "; nội dung: {}", flat(&t.topic));
        }
        out.push('\n');
    }
    if !log.presentations.is_empty() {
        out.push_str("\nTrình chiếu:\n");
    }
    for p in &log.presentations {
        let _ = writeln!(
            out,
            "  {}  {:>8}  {} ({}); {}",
            span(p.started_at, p.ended_at),
            crate::report::clock(p.duration_secs),
            flat(&p.name),
            p.code,
            p.end.label()
        );
    }
    if !log.roll_calls.is_empty() {
        out.push_str("\nĐiểm danh:\n");
    }
    for rc in &log.roll_calls {
        let tally = match rc.expected {
            Some(e) => format!("{}/{} điểm cầu trả lời", rc.answered, e),
            None => format!("{} điểm cầu trả lời", rc.answered),
        };
        let _ = writeln!(
            out,
            "  lần {}: {}  {}",
            rc.round,
            span(rc.started_at, rc.closed_at),
            tally
        );
    }
    if !log.modes.is_empty() {
        out.push_str("\nChế độ:\n");
    }
    for m in &log.modes {
        let _ = writeln!(out, "  {}  {}", local_clock(m.at), mode_label(m.mode));
    }
    if !log.recordings.is_empty() {
        out.push_str("\nGhi hình:\n");
    }
    for r in &log.recordings {
        let _ = writeln!(out, "  {}", span(r.started_at, r.stopped_at));
    }
    out
}

/// The stretch of the meeting one recording file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingWindow {
    /// The file's name.
    pub name: String,
    /// Its first instant on the wall clock.
    pub started_at: Millis,
    /// Its last, when known: the recording stopped, the session ended or
    /// the next file began. None while it is still being written.
    pub ended_at: Option<Millis>,
}

/// A recording file and when it began, from its sidecar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingStart {
    /// The `.webm` or `.mkv` file's name.
    pub name: String,
    /// `started_at` of its `.json` sidecar.
    pub started_at: Millis,
}

/// Why no recording could be aligned to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChapterError {
    /// The named file is not one of the session's recordings (or has no
    /// readable start time beside it).
    #[error("no recording {0} with a start time in this session")]
    UnknownRecording(String),
    /// The session has no recording with a start time.
    #[error("the session has no recording to align the chapters to")]
    NoRecording,
}

/// A name the media plane writes: nothing that could leave the folder.
pub fn is_recording_name(name: &str) -> bool {
    name.len() <= 200
        && (name.ends_with(".webm") || name.ends_with(".mkv"))
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

#[derive(Deserialize)]
struct Sidecar {
    session: String,
    started_at: u64,
}

/// The session's recordings in `folder` whose sidecar says when they
/// began, oldest first. A file without a readable sidecar, or one naming
/// another session, is left out: it cannot be aligned.
pub fn recording_starts(folder: &Path, session: &SessionId) -> Vec<RecordingStart> {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return Vec::new();
    };
    let mut out: Vec<RecordingStart> = entries
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().to_str()?.to_string();
            if !is_recording_name(&name) {
                return None;
            }
            let text = std::fs::read(folder.join(&name).with_extension("json")).ok()?;
            let sidecar: Sidecar = serde_json::from_slice(&text).ok()?;
            (sidecar.session == session.0).then_some(RecordingStart {
                name,
                started_at: Millis(sidecar.started_at),
            })
        })
        .collect();
    // The names carry the UTC start, so by name is by time.
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// The window of recording `name` (the first recording when none is
/// named) among `starts`, ended by what `log` says stopped it.
pub fn recording_window(
    starts: &[RecordingStart],
    name: Option<&str>,
    log: &SpeakingLog,
) -> Result<RecordingWindow, ChapterError> {
    let file = match name {
        Some(name) => starts
            .iter()
            .find(|s| s.name == name)
            .ok_or_else(|| ChapterError::UnknownRecording(name.to_string()))?,
        None => starts.first().ok_or(ChapterError::NoRecording)?,
    };
    let start = file.started_at;
    let next_file = starts.iter().map(|s| s.started_at).filter(|t| *t > start);
    let stopped = log
        .recordings
        .iter()
        .filter_map(|r| r.stopped_at)
        .filter(|t| *t >= start);
    let ended = log.ended_at.filter(|t| *t >= start);
    Ok(RecordingWindow {
        name: file.name.clone(),
        started_at: start,
        ended_at: next_file.chain(stopped).chain(ended).min(),
    })
}

/// `HH:MM:SS.mmm` from the start of the file.
fn cue_time(ms: u64) -> String {
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

/// Cue text may not hold a line break (it would end the cue), and `&`,
/// `<` and `>` are markup there.
fn cue_text(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// WebVTT chapters for the recording `window`: one cue per turn the file
/// holds, clipped to it, saying when the turn began (time of day in
/// Vietnam), the site, and who spoke (the title, else the name):
/// `10:03:12 Hải Dương — Phó Chủ tịch UBND tỉnh`.
pub fn to_vtt(log: &SpeakingLog, window: &RecordingWindow) -> String {
    let mut out = String::from("WEBVTT\n\n");
    let _ = writeln!(
        out,
        "NOTE {} {}: chapters by speaker, times from the start of the file\n",
        cue_text(&log.session.0),
        cue_text(&window.name)
    );
    let file_end = window.ended_at.unwrap_or(Millis(u64::MAX));
    let mut cue = 0;
    for turn in &log.turns {
        let from = turn.started_at.max(window.started_at);
        let to = turn.ended_at.unwrap_or(log.as_of).min(file_end);
        if to <= from {
            continue;
        }
        cue += 1;
        let who = match (&turn.representative_title, &turn.representative_name) {
            (Some(title), _) if !title.trim().is_empty() => cue_text(title),
            (_, Some(name)) if !name.trim().is_empty() => cue_text(name),
            _ => String::new(),
        };
        let mut text = format!("{} {}", local_clock(turn.started_at), cue_text(&turn.name));
        if !who.is_empty() {
            let _ = write!(text, " — {who}");
        }
        let _ = writeln!(
            out,
            "{cue}\n{} --> {}\n{text}\n",
            cue_time(from.since(window.started_at)),
            cue_time(to.since(window.started_at)),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::{
        Command, EndpointInfo, EndpointRole, GrantTarget, Rules, Session, SessionSpec,
    };

    /// 2025-03-01 08:00:00 UTC, 15:00 in Vietnam.
    const T0: Millis = Millis(1_740_816_000_000);

    fn at(secs: u64) -> Millis {
        T0.plus_secs(secs)
    }

    fn code(c: &str) -> EndpointCode {
        EndpointCode::from(c)
    }

    fn spec(rules: Rules) -> SessionSpec {
        let ep = |c: &str, name: &str, role| EndpointInfo {
            code: code(c),
            name: name.into(),
            role,
        };
        SessionSpec {
            id: SessionId("hop-1".into()),
            title: "Hội nghị trực tuyến".into(),
            endpoints: vec![
                ep("00", "Trụ sở Chính phủ", EndpointRole::Central),
                ep("30", "Hải Dương", EndpointRole::Provincial),
                ep("31", "Hải Phòng", EndpointRole::Provincial),
                ep("48", "Đà Nẵng", EndpointRole::Provincial),
            ],
            rules,
        }
    }

    /// Runs commands on a session and keeps every event, as the store does.
    struct Meeting {
        session: Session,
        log: Vec<Event>,
    }

    impl Meeting {
        fn new(rules: Rules) -> Meeting {
            let (session, created) = Session::create(spec(rules), T0).expect("spec");
            Meeting {
                session,
                log: vec![created],
            }
        }

        fn run(&mut self, c: Command, now: Millis) {
            let what = format!("{c:?}");
            match self.session.apply(c, now) {
                Ok(events) => self.log.extend(events),
                Err(r) => panic!("{what} rejected: {r}"),
            }
        }

        fn connect(&mut self, c: &str, now: Millis) {
            self.run(Command::Connect { endpoint: code(c) }, now);
        }

        fn call_on(&mut self, c: &str, now: Millis) {
            self.run(
                Command::GrantFloor {
                    target: GrantTarget::Endpoint(code(c)),
                },
                now,
            );
        }

        fn represent(&mut self, c: &str, name: &str, title: &str, now: Millis) {
            self.run(
                Command::SetRepresentative {
                    endpoint: code(c),
                    name: name.into(),
                    title: title.into(),
                    headcount: None,
                },
                now,
            );
        }
    }

    /// Hải Dương asks and speaks until revoked; Hải Phòng is called on
    /// unasked and drops; Đà Nẵng is called on and the session ends.
    fn meeting() -> Meeting {
        let mut m = Meeting::new(Rules::default());
        m.run(Command::Open, at(0));
        for c in ["00", "30", "31", "48"] {
            m.connect(c, at(1));
        }
        m.represent("30", "Nguyễn Minh Hùng", "Phó Chủ tịch UBND tỉnh", at(2));
        m.run(Command::Start, at(10));
        m.run(
            Command::RequestFloor {
                endpoint: code("30"),
                topic: "Tiến độ giải ngân".into(),
            },
            at(20),
        );
        m.run(
            Command::GrantFloor {
                target: GrantTarget::Endpoint(code("30")),
            },
            at(30),
        );
        m.run(Command::RevokeFloor { endpoint: None }, at(150));
        m.call_on("31", at(160));
        m.run(
            Command::Disconnect {
                endpoint: code("31"),
            },
            at(200),
        );
        // The grace runs out 30 s later.
        m.run(Command::Tick, at(231));
        m.represent("31", "Lê Thị Hoa", "Chủ tịch UBND thành phố", at(240));
        m.call_on("48", at(300));
        m.run(Command::End, at(400));
        m
    }

    #[test]
    fn turns_carry_site_speaker_times_and_how_they_ended() {
        let m = meeting();
        let log = speaking_log(&m.log, at(500));
        assert_eq!(log.session.0, "hop-1");
        assert_eq!(log.turns.len(), 3, "{:#?}", log.turns);

        let hd = &log.turns[0];
        assert_eq!((hd.code.as_str(), hd.name.as_str()), ("30", "Hải Dương"));
        assert_eq!(hd.representative_name.as_deref(), Some("Nguyễn Minh Hùng"));
        assert_eq!(
            hd.representative_title.as_deref(),
            Some("Phó Chủ tịch UBND tỉnh")
        );
        assert_eq!((hd.started_at, hd.ended_at), (at(30), Some(at(150))));
        assert_eq!(hd.duration_secs, 120);
        assert!(!hd.called_on);
        assert_eq!(hd.topic, "Tiến độ giải ngân");
        assert_eq!(hd.end, TurnEnd::Revoked);

        // Called on unasked; dropped at 200, released when the grace ran out
        // at 231: the turn ends at the drop. The representative it named
        // later is the one who spoke.
        let hp = &log.turns[1];
        assert!(hp.called_on);
        assert_eq!(hp.topic, "");
        assert_eq!(hp.end, TurnEnd::Dropped);
        assert_eq!((hp.started_at, hp.ended_at), (at(160), Some(at(200))));
        assert_eq!(hp.duration_secs, 40);
        assert_eq!(hp.representative_name.as_deref(), Some("Lê Thị Hoa"));

        let dn = &log.turns[2];
        assert_eq!(dn.end, TurnEnd::SessionEnded);
        assert_eq!(dn.ended_at, Some(at(400)));
        assert_eq!(dn.representative_name, None);
        assert_eq!(log.ended_at, Some(at(400)));
        assert_eq!(log.as_of, at(500));
    }

    #[test]
    fn a_turn_still_running_lasts_until_now() {
        let mut m = Meeting::new(Rules::default());
        m.run(Command::Start, at(0));
        m.connect("30", at(1));
        m.call_on("30", at(10));
        let log = speaking_log(&m.log, at(75));
        assert_eq!(log.turns[0].end, TurnEnd::Ongoing);
        assert_eq!(log.turns[0].ended_at, None);
        assert_eq!(log.turns[0].duration_secs, 65);
        let json = serde_json::to_value(&log).expect("json");
        assert_eq!(json["turns"][0]["ended_at"], serde_json::Value::Null);
        assert_eq!(json["turns"][0]["started_at"], "2025-03-01T08:00:10Z");
        assert_eq!(json["turns"][0]["end"], "ongoing");
    }

    #[test]
    fn leaving_a_full_floor_and_the_clock_each_name_their_end() {
        let mut m = Meeting::new(Rules {
            speaking_limit_secs: Some(60),
            auto_revoke: true,
            ..Rules::default()
        });
        m.run(Command::Start, at(0));
        for c in ["00", "30", "31", "48"] {
            m.connect(c, at(1));
        }
        m.call_on("30", at(10));
        // One holder at most: granting Hải Phòng replaces Hải Dương.
        m.call_on("31", at(20));
        m.run(Command::Tick, at(80));
        m.call_on("48", at(90));
        m.run(
            Command::Leave {
                endpoint: code("48"),
            },
            at(95),
        );
        let log = speaking_log(&m.log, at(100));
        let ends: Vec<TurnEnd> = log.turns.iter().map(|t| t.end).collect();
        assert_eq!(
            ends,
            [TurnEnd::Replaced, TurnEnd::TimeUp, TurnEnd::Left],
            "{:#?}",
            log.turns
        );
        assert_eq!(log.turns[1].ended_at, Some(at(80)));
    }

    #[test]
    fn a_release_is_the_sites_own_and_an_overrun_is_noted() {
        let mut m = Meeting::new(Rules {
            speaking_limit_secs: Some(30),
            ..Rules::default()
        });
        m.run(Command::Start, at(0));
        m.connect("30", at(1));
        m.call_on("30", at(10));
        m.run(Command::Tick, at(41));
        m.run(
            Command::ReleaseFloor {
                endpoint: code("30"),
            },
            at(50),
        );
        let log = speaking_log(&m.log, at(60));
        assert_eq!(log.turns[0].end, TurnEnd::Released);
        assert!(log.turns[0].overran);
        assert_eq!(log.turns[0].duration_secs, 40);
    }

    #[test]
    fn presentations_modes_roll_calls_and_recordings_are_listed() {
        let mut m = Meeting::new(Rules::default());
        m.run(Command::Start, at(0));
        for c in ["00", "30", "31"] {
            m.connect(c, at(1));
        }
        m.run(Command::SetMode { mode: Mode::Open }, at(5));
        m.run(
            Command::StartRollCall {
                deadline_secs: Some(30),
            },
            at(10),
        );
        m.run(
            Command::ConfirmRollCall {
                endpoint: code("30"),
            },
            at(12),
        );
        m.run(Command::Tick, at(40));
        m.run(Command::StartRecording, at(50));
        m.call_on("30", at(60));
        m.run(
            Command::RequestContent {
                endpoint: code("30"),
            },
            at(70),
        );
        m.run(
            Command::ReleaseContent {
                endpoint: code("30"),
            },
            at(100),
        );
        m.run(Command::StopRecording, at(110));
        m.run(Command::End, at(120));
        let log = speaking_log(&m.log, at(200));

        assert_eq!(log.modes.len(), 1);
        assert_eq!(log.modes[0].mode, Mode::Open);
        let rc = &log.roll_calls[0];
        assert_eq!(
            (rc.round, rc.answered, rc.expected, rc.end),
            (1, 1, Some(3), Some(RollCallEnd::Deadline))
        );
        assert_eq!((rc.started_at, rc.closed_at), (at(10), Some(at(40))));
        let p = &log.presentations[0];
        assert_eq!((p.code.as_str(), p.name.as_str()), ("30", "Hải Dương"));
        assert_eq!((p.started_at, p.ended_at), (at(70), Some(at(100))));
        assert_eq!((p.duration_secs, p.end), (30, PresentationEnd::Released));
        let r = &log.recordings[0];
        assert_eq!((r.started_at, r.stopped_at), (at(50), Some(at(110))));
        assert_eq!(r.end, Some(RecordingEnd::Chair));

        let csv = to_csv(&log).expect("csv");
        let body = csv.strip_prefix('\u{feff}').expect("BOM");
        let lines: Vec<&str> = body.split("\r\n").collect();
        assert_eq!(lines[0], CSV_HEADER.join(","));
        let kinds: Vec<&str> = lines[1..]
            .iter()
            .filter(|l| !l.is_empty())
            .map(|l| l.split(',').next().unwrap_or_default())
            .collect();
        assert_eq!(
            kinds,
            ["mode", "roll_call", "recording", "floor", "content"]
        );
        assert!(body.contains("round 1: 1/3 answered"), "{body}");
        assert!(body.contains(",30,Hải Dương,"), "{body}");

        let text = to_text(&log);
        assert!(text.contains("15:01:00–15:02:00"), "{text}");
        assert!(text.contains("Hải Dương (30)"), "{text}");
        assert!(text.contains("lần 1"), "{text}");
    }

    #[test]
    fn csv_keeps_typed_names_text() {
        let mut m = Meeting::new(Rules::default());
        m.run(Command::Start, at(0));
        m.connect("30", at(1));
        m.represent("30", "=cmd|' /C calc'!A0", "Chủ tịch", at(2));
        m.call_on("30", at(3));
        let csv = to_csv(&speaking_log(&m.log, at(10))).expect("csv");
        assert!(csv.contains(",'=cmd|' /C calc'!A0,"), "{csv}");
    }

    fn window(started_at: Millis, ended_at: Option<Millis>) -> RecordingWindow {
        RecordingWindow {
            name: "hop-1-20250301T080100Z.webm".into(),
            started_at,
            ended_at,
        }
    }

    #[test]
    fn chapters_are_aligned_to_the_file_and_clipped_to_it() {
        let m = meeting();
        let log = speaking_log(&m.log, at(500));
        // The file starts 60.5 s into Hải Dương's turn and ends at 350 s.
        let vtt = to_vtt(&log, &window(at(90).plus_ms(500), Some(at(350))));
        assert!(vtt.starts_with("WEBVTT\n\n"), "{vtt}");
        let cues: Vec<&str> = vtt
            .split("\n\n")
            .skip(2)
            .filter(|c| !c.is_empty())
            .collect();
        assert_eq!(
            cues,
            [
                // Crosses the file's start: clipped to it; the label keeps
                // the time the turn really began (15:00:30 in Vietnam).
                "1\n00:00:00.000 --> 00:00:59.500\n15:00:30 Hải Dương — Phó Chủ tịch UBND tỉnh",
                // Called on unasked, dropped at 200 s.
                "2\n00:01:09.500 --> 00:01:49.500\n15:02:40 Hải Phòng — Chủ tịch UBND thành phố",
                // Runs past the file's end: clipped to it. No representative.
                "3\n00:03:29.500 --> 00:04:19.500\n15:05:00 Đà Nẵng",
            ],
            "{vtt}"
        );
    }

    #[test]
    fn turns_outside_the_file_have_no_cue() {
        let m = meeting();
        let log = speaking_log(&m.log, at(500));
        let vtt = to_vtt(&log, &window(at(155), Some(at(158))));
        assert!(!vtt.contains("-->"), "{vtt}");
        let vtt = to_vtt(&log, &window(at(420), None));
        assert!(!vtt.contains("-->"), "{vtt}");
    }

    #[test]
    fn cue_text_cannot_break_the_file() {
        let mut m = Meeting::new(Rules::default());
        m.run(Command::Start, at(0));
        m.connect("30", at(1));
        m.represent("30", "A", "Giám đốc\n\n-->Sở <b>&", at(2));
        m.call_on("30", at(3));
        let log = speaking_log(&m.log, at(10));
        let vtt = to_vtt(&log, &window(at(0), None));
        assert!(
            vtt.contains("15:00:03 Hải Dương — Giám đốc --&gt;Sở &lt;b&gt;&amp;\n"),
            "{vtt}"
        );
        assert_eq!(vtt.matches("-->").count(), 1, "{vtt}");
    }

    #[test]
    fn the_window_is_the_named_file_until_what_stopped_it() {
        let m = meeting();
        let log = speaking_log(&m.log, at(500));
        let starts = [
            RecordingStart {
                name: "a.webm".into(),
                started_at: at(50),
            },
            RecordingStart {
                name: "b.webm".into(),
                started_at: at(200),
            },
        ];
        let first = recording_window(&starts, None, &log).expect("first");
        assert_eq!((first.started_at, first.ended_at), (at(50), Some(at(200))));
        let second = recording_window(&starts, Some("b.webm"), &log).expect("b");
        // The meeting's log ends at 400 s.
        assert_eq!(second.ended_at, Some(at(400)));
        assert_eq!(
            recording_window(&starts, Some("c.webm"), &log),
            Err(ChapterError::UnknownRecording("c.webm".into()))
        );
        assert_eq!(
            recording_window(&[], None, &log),
            Err(ChapterError::NoRecording)
        );
    }

    #[test]
    fn sidecars_are_read_and_strays_left_out() {
        let dir = tempfile::tempdir().expect("tempdir");
        let session = SessionId("hop-1".into());
        let write = |name: &str, text: &str| {
            std::fs::write(dir.path().join(name), text).expect("write");
        };
        write("hop-1-20250301T080200Z.webm", "");
        write(
            "hop-1-20250301T080200Z.json",
            r#"{"session":"hop-1","started_at":1740816120250}"#,
        );
        write("hop-1-20250301T080100Z.webm", "");
        write(
            "hop-1-20250301T080100Z.json",
            r#"{"session":"hop-1","started_at":1740816060000}"#,
        );
        // No sidecar, a broken one, another session's, not a recording.
        write("hop-1-20250301T080300Z.webm", "");
        write("hop-1-20250301T080400Z.webm", "");
        write("hop-1-20250301T080400Z.json", "{\"session\":");
        write("hop-1-20250301T080500Z.webm", "");
        write(
            "hop-1-20250301T080500Z.json",
            r#"{"session":"hop-2","started_at":1}"#,
        );
        write("notes.json", r#"{"session":"hop-1","started_at":1}"#);
        let starts = recording_starts(dir.path(), &session);
        assert_eq!(
            starts,
            [
                RecordingStart {
                    name: "hop-1-20250301T080100Z.webm".into(),
                    started_at: Millis(1_740_816_060_000),
                },
                RecordingStart {
                    name: "hop-1-20250301T080200Z.webm".into(),
                    started_at: Millis(1_740_816_120_250),
                },
            ]
        );
        assert!(recording_starts(&dir.path().join("none"), &session).is_empty());
    }

    #[test]
    fn local_time_is_utc_plus_seven_across_midnight() {
        // 2025-03-01T17:30:05Z is 00:30:05 on 2 March in Vietnam.
        let t = Millis(1_740_850_205_000);
        assert_eq!(local_clock(t), "00:30:05");
        assert_eq!(local_date(t), "02/03/2025");
        assert_eq!(local_date(Millis(0)), "01/01/1970");
        assert_eq!(local_clock(Millis(0)), "07:00:00");
        // 2024 is a leap year.
        assert_eq!(local_date(Millis(1_709_164_800_000)), "29/02/2024");
        // Any time formats, without a panic.
        let _ = (local_date(Millis(u64::MAX)), local_clock(Millis(u64::MAX)));
        assert_eq!(cue_time(3_723_004), "01:02:03.004");
    }
}
