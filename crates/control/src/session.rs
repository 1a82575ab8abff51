//! A chaired session: the state, the rules that decide which events a
//! command produces, and the fold that applies them.
//!
//! `apply` is split in two on purpose. `decide` only reads the state and
//! returns events or a rejection; `fold` only writes the state and never
//! fails. Replay after a restart runs `fold` alone, so whatever `decide`
//! accepted once is rebuilt exactly, even if the rules change later.

use super::attendance::{Attendance, Representative};
use super::command::{Command, GrantTarget};
use super::content::{ContentEnd, ContentRule, ContentState};
use super::event::{Event, EventKind, RecordingEnd, RollCallEnd};
use super::floor::{FloorState, RequestState};
use super::policy::{ForwardingPolicy, Reception};
use super::rejection::{Rejection, RejectionCode as Code};
use super::rollcall::RollCall;
use super::types::{
    EndpointCode, EndpointRole, Millis, Mode, Phase, RequestId, SessionId, SessionSpec,
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// How many sites at the head of the floor queue may send at the
/// programme's rate before their grant: the next one, and the one after
/// in case the chair skips.
const NEXT_SPEAKERS: usize = 2;

/// Longest floor-request topic, in characters.
pub const MAX_TOPIC_CHARS: usize = 200;
/// Longest representative name or title, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// Largest headcount a site may report.
pub const MAX_HEADCOUNT: u32 = 100_000;
/// Speaking-time limits accepted, in seconds.
pub const SPEAKING_LIMIT_RANGE: std::ops::RangeInclusive<u32> = 10..=7200;
/// Roll-call deadlines accepted, in seconds.
pub const ROLL_CALL_RANGE: std::ops::RangeInclusive<u32> = 5..=3600;

/// One chaired session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Id, title, endpoints and rules as created.
    pub spec: SessionSpec,
    /// Where the lifecycle stands.
    pub phase: Phase,
    /// Who may be heard.
    pub mode: Mode,
    /// When it was created.
    pub created_at: Millis,
    /// When it opened for the technical check.
    pub opened_at: Option<Millis>,
    /// When the meeting went live.
    pub started_at: Option<Millis>,
    /// When it ended.
    pub ended_at: Option<Millis>,
    /// Attendance by endpoint code.
    pub attendance: BTreeMap<EndpointCode, Attendance>,
    /// The floor.
    pub floor: FloorState,
    /// Every roll call, oldest first.
    pub roll_calls: Vec<RollCall>,
    /// Sites the chair muted. Kept through drops and reconnections: the
    /// chair muted the site, not one link of it.
    #[serde(default)]
    pub muted: BTreeSet<EndpointCode>,
    /// The content token: who presents, and who waits to.
    #[serde(default)]
    pub content: ContentState,
    /// The programme is being recorded (written only while live).
    #[serde(default)]
    pub recording: bool,
    /// How many events made this state.
    pub events: u64,
    /// Time of the last event: time never runs backwards in the log.
    pub last_event_at: Millis,
}

/// Why a log could not be replayed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReplayError {
    /// The log is empty.
    #[error("the event log is empty")]
    Empty,
    /// The first event is not `created`.
    #[error("the event log does not start with `created`")]
    NotCreated,
}

impl Session {
    /// Creates a session. Exactly one central endpoint, unique codes and a
    /// title are required.
    pub fn create(spec: SessionSpec, now: Millis) -> Result<(Session, Event), Rejection> {
        let invalid = |m: &str| Rejection::new(Code::InvalidValue, m);
        if spec.id.0.is_empty()
            || spec.id.0.len() > 64
            || !spec
                .id
                .0
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(invalid(
                "session id must be 1-64 letters, digits, '-' or '_'",
            ));
        }
        if spec.title.trim().is_empty() || spec.title.chars().count() > MAX_NAME_CHARS {
            return Err(invalid("title must be 1-200 characters"));
        }
        let centrals = spec
            .endpoints
            .iter()
            .filter(|e| e.role == EndpointRole::Central)
            .count();
        if centrals != 1 {
            return Err(invalid("a session needs exactly one central endpoint"));
        }
        let codes: BTreeSet<_> = spec.endpoints.iter().map(|e| &e.code).collect();
        if codes.len() != spec.endpoints.len() {
            return Err(invalid("endpoint codes must be unique"));
        }
        if spec.rules.max_floor_holders == 0 {
            return Err(invalid("max_floor_holders must be at least 1"));
        }
        let event = Event {
            at: now,
            kind: EventKind::Created { spec },
        };
        let session = Session::replay([event.clone()]).map_err(|e| invalid(&e.to_string()))?;
        Ok((session, event))
    }

    /// Rebuilds a session from its log.
    pub fn replay(events: impl IntoIterator<Item = Event>) -> Result<Session, ReplayError> {
        let mut events = events.into_iter();
        let first = events.next().ok_or(ReplayError::Empty)?;
        let EventKind::Created { spec } = &first.kind else {
            return Err(ReplayError::NotCreated);
        };
        let mut session = Session::empty(spec.clone(), first.at);
        for event in events {
            session.fold(&event);
        }
        Ok(session)
    }

    fn empty(spec: SessionSpec, at: Millis) -> Session {
        let attendance = spec
            .endpoints
            .iter()
            .map(|e| (e.code.clone(), Attendance::new(e.clone(), at)))
            .collect();
        let floor = FloorState::new(spec.rules.speaking_limit_secs, spec.rules.auto_revoke);
        Session {
            spec,
            phase: Phase::Scheduled,
            mode: Mode::default(),
            created_at: at,
            opened_at: None,
            started_at: None,
            ended_at: None,
            attendance,
            floor,
            roll_calls: Vec::new(),
            muted: BTreeSet::new(),
            content: ContentState::default(),
            recording: false,
            events: 1,
            last_event_at: at,
        }
    }

    /// The session's id.
    pub fn id(&self) -> &SessionId {
        &self.spec.id
    }

    /// The central endpoint's code.
    pub fn central(&self) -> Option<&EndpointCode> {
        self.spec
            .endpoints
            .iter()
            .find(|e| e.role == EndpointRole::Central)
            .map(|e| &e.code)
    }

    /// The roll call that is running, if any.
    pub fn running_roll_call(&self) -> Option<&RollCall> {
        self.roll_calls.last().filter(|r| r.is_running())
    }

    /// Attendance with the open intervals closed at `now`, for reports
    /// taken while the meeting runs.
    pub fn attendance_at(&self, now: Millis) -> Vec<Attendance> {
        let now = now.max(self.last_event_at);
        let live = self.phase == Phase::Live;
        self.attendance
            .values()
            .map(|a| {
                let mut a = a.clone();
                a.account(now, live);
                a
            })
            .collect()
    }

    /// Length of the live meeting up to `now` (or to its end).
    pub fn live_ms(&self, now: Millis) -> u64 {
        match (self.started_at, self.ended_at) {
            (Some(s), Some(e)) => e.since(s),
            (Some(s), None) => now.max(self.last_event_at).since(s),
            _ => 0,
        }
    }

    /// Applies a command at `now`: the events it produced, already folded
    /// into the state, or a rejection with the state unchanged.
    pub fn apply(&mut self, command: Command, now: Millis) -> Result<Vec<Event>, Rejection> {
        // Time never runs backwards in the log, whatever the caller's clock did.
        let now = now.max(self.last_event_at);
        let kinds = self.decide(&command, now)?;
        let kinds = self.with_content_lapses(kinds, now);
        let events: Vec<Event> = kinds
            .into_iter()
            .map(|kind| Event { at: now, kind })
            .collect();
        for event in &events {
            self.fold(event);
        }
        Ok(events)
    }

    /// The earliest time a [`Command::Tick`] has something to do.
    pub fn next_deadline(&self) -> Option<Millis> {
        let mut next: Option<Millis> = None;
        let mut consider = |t: Millis| next = Some(next.map_or(t, |n| n.min(t)));
        if self.phase == Phase::Ended {
            return None;
        }
        if let Some(rc) = self.running_roll_call() {
            consider(rc.deadline);
        }
        let lead = u64::from(self.spec.rules.warning_lead_secs) * 1000;
        for r in self.floor.holder_requests() {
            if let Some(exp) = r.expires_at {
                if !r.warned && lead > 0 {
                    consider(Millis(exp.0.saturating_sub(lead)));
                }
                if !r.time_up {
                    consider(exp);
                }
            }
        }
        let grace = u64::from(self.spec.rules.drop_grace_secs) * 1000;
        for a in self.attendance.values() {
            if a.status == super::AttendanceStatus::Dropped && !a.grace_expired {
                if let Some(lost) = a.last_lost_at {
                    consider(lost.plus_ms(grace));
                }
            }
        }
        next
    }

    fn endpoint(&self, code: &EndpointCode) -> Result<&Attendance, Rejection> {
        self.attendance.get(code).ok_or_else(|| {
            Rejection::new(
                Code::UnknownEndpoint,
                format!("endpoint {code} is not part of this session"),
            )
        })
    }

    fn provincial_up(&self, code: &EndpointCode) -> Result<&Attendance, Rejection> {
        let a = self.endpoint(code)?;
        if a.endpoint.role == EndpointRole::Central {
            return Err(Rejection::new(
                Code::CentralEndpoint,
                "the chair's site does not do this",
            ));
        }
        if !a.is_up() {
            return Err(Rejection::new(
                Code::NotConnected,
                format!("endpoint {code} is not connected"),
            ));
        }
        Ok(a)
    }

    fn require_phase(&self, allowed: &[Phase], what: &str) -> Result<(), Rejection> {
        if allowed.contains(&self.phase) {
            Ok(())
        } else {
            Err(Rejection::new(
                Code::WrongPhase,
                format!("cannot {what} while the session is {:?}", self.phase).to_lowercase(),
            ))
        }
    }

    fn pending(&self, id: RequestId) -> Result<&super::FloorRequest, Rejection> {
        let r = self.floor.request(id).ok_or_else(|| {
            Rejection::new(Code::UnknownRequest, format!("no floor request {id}"))
        })?;
        if r.state != RequestState::Pending {
            return Err(Rejection::new(
                Code::RequestNotPending,
                format!("floor request {id} is no longer pending"),
            ));
        }
        Ok(r)
    }

    fn expires_at(&self, now: Millis) -> Option<Millis> {
        self.floor
            .speaking_limit_secs
            .map(|s| now.plus_secs(u64::from(s)))
    }

    /// Ends everything an endpoint has on the floor: its grant and its request.
    fn clear_floor_of(&self, code: &EndpointCode) -> Vec<EventKind> {
        let mut out = Vec::new();
        if let Some(r) = self.floor.held_by(code) {
            out.push(EventKind::FloorReleased {
                request: r.id,
                endpoint: code.clone(),
            });
        }
        if let Some(r) = self.floor.pending_of(code) {
            out.push(EventKind::FloorRequestCancelled { request: r.id });
        }
        out
    }

    fn decide(&self, command: &Command, now: Millis) -> Result<Vec<EventKind>, Rejection> {
        use Phase::*;
        match command {
            Command::Open => {
                self.require_phase(&[Scheduled], "open")?;
                Ok(vec![EventKind::Opened])
            }
            Command::Start => {
                self.require_phase(&[Scheduled, Open], "start")?;
                let mut out = vec![EventKind::Started];
                if self.spec.rules.record && !self.recording {
                    out.push(EventKind::RecordingStarted { by_chair: false });
                }
                Ok(out)
            }
            Command::End => {
                self.require_phase(&[Scheduled, Open, Live], "end")?;
                let mut out = Vec::new();
                if let Some(rc) = self.running_roll_call() {
                    out.push(self.close_roll_call(rc, RollCallEnd::SessionEnded));
                }
                for r in self.floor.holder_requests() {
                    out.push(EventKind::FloorReleased {
                        request: r.id,
                        endpoint: r.endpoint.clone(),
                    });
                }
                for id in &self.floor.queue {
                    out.push(EventKind::FloorRequestCancelled { request: *id });
                }
                // Said before `ended`, so the log reads as the meeting
                // closing its business rather than a fix-up afterwards.
                out.extend(self.content_lapses(|_| Some(ContentEnd::SessionEnded)));
                if self.recording {
                    out.push(EventKind::RecordingStopped {
                        reason: RecordingEnd::SessionEnded,
                        detail: None,
                    });
                }
                out.push(EventKind::Ended);
                Ok(out)
            }
            Command::Connect { endpoint } => {
                self.require_phase(&[Scheduled, Open, Live], "connect")?;
                if self.endpoint(endpoint)?.is_up() {
                    return Err(Rejection::new(
                        Code::AlreadyConnected,
                        format!("endpoint {endpoint} is already connected"),
                    ));
                }
                Ok(vec![EventKind::EndpointConnected {
                    endpoint: endpoint.clone(),
                }])
            }
            Command::Disconnect { endpoint } => {
                self.require_phase(&[Scheduled, Open, Live], "disconnect")?;
                if !self.endpoint(endpoint)?.is_up() {
                    return Err(Rejection::new(
                        Code::NotConnected,
                        format!("endpoint {endpoint} is not connected"),
                    ));
                }
                // The floor and the queue are kept through a short drop; they
                // are cleared only when the grace runs out (see Tick).
                Ok(vec![EventKind::EndpointDropped {
                    endpoint: endpoint.clone(),
                }])
            }
            Command::Leave { endpoint } => {
                self.require_phase(&[Scheduled, Open, Live], "leave")?;
                let a = self.endpoint(endpoint)?;
                if !(a.is_up() || a.status == super::AttendanceStatus::Dropped) {
                    return Err(Rejection::new(
                        Code::NotConnected,
                        format!("endpoint {endpoint} is not connected"),
                    ));
                }
                let mut out = self.clear_floor_of(endpoint);
                out.push(EventKind::EndpointLeft {
                    endpoint: endpoint.clone(),
                });
                Ok(out)
            }
            Command::SetRepresentative {
                endpoint,
                name,
                title,
                headcount,
            } => {
                self.require_phase(&[Scheduled, Open, Live], "set the representative")?;
                self.endpoint(endpoint)?;
                let name = name.trim();
                let title = title.trim();
                if name.is_empty()
                    || name.chars().count() > MAX_NAME_CHARS
                    || title.chars().count() > MAX_NAME_CHARS
                {
                    return Err(Rejection::new(
                        Code::InvalidValue,
                        "name must be 1-200 characters and title at most 200",
                    ));
                }
                if headcount.is_some_and(|h| h > MAX_HEADCOUNT) {
                    return Err(Rejection::new(
                        Code::InvalidValue,
                        format!("headcount must be at most {MAX_HEADCOUNT}"),
                    ));
                }
                // Saying again what is already recorded records nothing: a
                // page that resends its form costs no event and no fsync.
                let current = self.endpoint(endpoint)?;
                let unchanged = current
                    .representative
                    .as_ref()
                    .is_some_and(|r| r.name == name && r.title == title)
                    && current.headcount == *headcount;
                if unchanged {
                    return Ok(Vec::new());
                }
                Ok(vec![EventKind::RepresentativeSet {
                    endpoint: endpoint.clone(),
                    name: name.to_string(),
                    title: title.to_string(),
                    headcount: *headcount,
                }])
            }
            Command::StartRollCall { deadline_secs } => {
                self.require_phase(&[Open, Live], "start a roll call")?;
                if self.running_roll_call().is_some() {
                    return Err(Rejection::new(
                        Code::RollCallRunning,
                        "a roll call is already running",
                    ));
                }
                let secs = deadline_secs.unwrap_or(self.spec.rules.roll_call_secs);
                if !ROLL_CALL_RANGE.contains(&secs) {
                    return Err(Rejection::new(
                        Code::InvalidValue,
                        "roll-call deadline must be 5-3600 seconds",
                    ));
                }
                Ok(vec![EventKind::RollCallStarted {
                    round: self.roll_calls.len() as u32 + 1,
                    deadline: now.plus_secs(u64::from(secs)),
                }])
            }
            Command::ConfirmRollCall { endpoint } => {
                let rc = self.running_roll_call().ok_or_else(|| {
                    Rejection::new(Code::RollCallNotRunning, "no roll call is running")
                })?;
                self.provincial_up(endpoint)?;
                if rc.confirmed.contains(endpoint) {
                    return Err(Rejection::new(
                        Code::AlreadyConfirmed,
                        format!("endpoint {endpoint} already answered"),
                    ));
                }
                Ok(vec![EventKind::RollCallConfirmed {
                    round: rc.round,
                    endpoint: endpoint.clone(),
                }])
            }
            Command::CloseRollCall => {
                let rc = self.running_roll_call().ok_or_else(|| {
                    Rejection::new(Code::RollCallNotRunning, "no roll call is running")
                })?;
                Ok(vec![self.close_roll_call(rc, RollCallEnd::Closed)])
            }
            Command::RequestFloor { endpoint, topic } => {
                self.require_phase(&[Live], "request the floor")?;
                self.provincial_up(endpoint)?;
                if self.floor.held_by(endpoint).is_some() {
                    return Err(Rejection::new(
                        Code::AlreadyHolding,
                        format!("endpoint {endpoint} already holds the floor"),
                    ));
                }
                if self.floor.pending_of(endpoint).is_some() {
                    return Err(Rejection::new(
                        Code::AlreadyRequested,
                        format!("endpoint {endpoint} already has a pending request"),
                    ));
                }
                let topic = topic.trim();
                if topic.chars().count() > MAX_TOPIC_CHARS {
                    return Err(Rejection::new(
                        Code::InvalidValue,
                        "topic must be at most 200 characters",
                    ));
                }
                Ok(vec![EventKind::FloorRequested {
                    request: RequestId(self.floor.next_id),
                    endpoint: endpoint.clone(),
                    topic: topic.to_string(),
                }])
            }
            Command::CancelFloorRequest { request } => {
                self.pending(*request)?;
                Ok(vec![EventKind::FloorRequestCancelled { request: *request }])
            }
            Command::GrantFloor { target } => {
                self.require_phase(&[Live], "grant the floor")?;
                let (request, endpoint, called_on) = match target {
                    GrantTarget::Request(id) => {
                        let r = self.pending(*id)?;
                        (r.id, r.endpoint.clone(), false)
                    }
                    GrantTarget::Endpoint(code) => match self.floor.pending_of(code) {
                        Some(r) => (r.id, code.clone(), false),
                        None => (RequestId(self.floor.next_id), code.clone(), true),
                    },
                };
                self.provincial_up(&endpoint)?;
                if self.floor.held_by(&endpoint).is_some() {
                    return Err(Rejection::new(
                        Code::AlreadyHolding,
                        format!("endpoint {endpoint} already holds the floor"),
                    ));
                }
                // With the floor full, the new grant replaces the oldest
                // holder: the chair giving the floor is the decision.
                let max = self.spec.rules.max_floor_holders as usize;
                let excess = (self.floor.holders.len() + 1).saturating_sub(max);
                let mut out: Vec<EventKind> = self
                    .floor
                    .holder_requests()
                    .take(excess)
                    .map(|r| EventKind::FloorRevoked {
                        request: r.id,
                        endpoint: r.endpoint.clone(),
                        automatic: false,
                    })
                    .collect();
                out.push(EventKind::FloorGranted {
                    request,
                    endpoint,
                    called_on,
                    expires_at: self.expires_at(now),
                });
                Ok(out)
            }
            Command::DenyFloor { request } => {
                self.pending(*request)?;
                Ok(vec![EventKind::FloorDenied { request: *request }])
            }
            Command::RevokeFloor { endpoint } => {
                let holders: Vec<_> = self
                    .floor
                    .holder_requests()
                    .filter(|r| endpoint.as_ref().is_none_or(|e| &r.endpoint == e))
                    .map(|r| EventKind::FloorRevoked {
                        request: r.id,
                        endpoint: r.endpoint.clone(),
                        automatic: false,
                    })
                    .collect();
                if holders.is_empty() {
                    return Err(match endpoint {
                        Some(e) => Rejection::new(
                            Code::NotHolder,
                            format!("endpoint {e} does not hold the floor"),
                        ),
                        None => Rejection::new(Code::FloorEmpty, "nobody holds the floor"),
                    });
                }
                Ok(holders)
            }
            Command::ReleaseFloor { endpoint } => {
                let r = self.floor.held_by(endpoint).ok_or_else(|| {
                    Rejection::new(
                        Code::NotHolder,
                        format!("endpoint {endpoint} does not hold the floor"),
                    )
                })?;
                Ok(vec![EventKind::FloorReleased {
                    request: r.id,
                    endpoint: endpoint.clone(),
                }])
            }
            Command::ReorderQueue { order } => {
                self.require_phase(&[Live], "reorder the queue")?;
                let mut given = order.clone();
                given.sort();
                let mut queued = self.floor.queue.clone();
                queued.sort();
                if given != queued {
                    return Err(Rejection::new(
                        Code::BadQueueOrder,
                        "the new order must name each pending request exactly once",
                    ));
                }
                Ok(vec![EventKind::QueueReordered {
                    order: order.clone(),
                }])
            }
            Command::SetMode { mode } => {
                self.require_phase(&[Scheduled, Open, Live], "change the mode")?;
                if *mode == self.mode {
                    return Ok(Vec::new());
                }
                Ok(vec![EventKind::ModeChanged { mode: *mode }])
            }
            Command::SetSpeakingLimit {
                seconds,
                auto_revoke,
            } => {
                self.require_phase(&[Scheduled, Open, Live], "set the speaking limit")?;
                if seconds.is_some_and(|s| !SPEAKING_LIMIT_RANGE.contains(&s)) {
                    return Err(Rejection::new(
                        Code::InvalidValue,
                        "speaking limit must be 10-7200 seconds",
                    ));
                }
                let auto_revoke = auto_revoke.unwrap_or(self.floor.auto_revoke);
                if *seconds == self.floor.speaking_limit_secs
                    && auto_revoke == self.floor.auto_revoke
                {
                    return Ok(Vec::new());
                }
                Ok(vec![EventKind::SpeakingLimitSet {
                    seconds: *seconds,
                    auto_revoke,
                }])
            }
            Command::SetMuted { endpoint, muted } => {
                let what = if *muted { "mute" } else { "unmute" };
                self.require_phase(&[Scheduled, Open, Live], &format!("{what} an endpoint"))?;
                // Not connected is fine: the chair may silence a site known
                // to be noisy before its link comes up.
                let a = self.endpoint(endpoint)?;
                if a.endpoint.role == EndpointRole::Central {
                    return Err(Rejection::new(
                        Code::CentralEndpoint,
                        "the chair's site cannot be muted",
                    ));
                }
                if self.muted.contains(endpoint) == *muted {
                    return Ok(Vec::new());
                }
                let endpoint = endpoint.clone();
                Ok(vec![if *muted {
                    EventKind::EndpointMuted { endpoint }
                } else {
                    EventKind::EndpointUnmuted { endpoint }
                }])
            }
            Command::RequestContent { endpoint } => self.request_content(endpoint),
            Command::GrantContent { endpoint } => self.grant_content(endpoint),
            Command::RevokeContent { endpoint } => self.revoke_content(endpoint.as_ref()),
            Command::ReleaseContent { endpoint } => self.release_content(endpoint),
            Command::StartRecording => {
                self.require_phase(&[Open, Live], "start recording")?;
                Ok(if self.recording {
                    Vec::new()
                } else {
                    vec![EventKind::RecordingStarted { by_chair: true }]
                })
            }
            Command::StopRecording | Command::RecordingFailed { .. } => {
                self.require_phase(&[Open, Live], "stop recording")?;
                let (reason, detail) = match command {
                    Command::RecordingFailed { reason } => (
                        RecordingEnd::Failed,
                        Some(reason.chars().take(500).collect()),
                    ),
                    _ => (RecordingEnd::Chair, None),
                };
                Ok(if self.recording {
                    vec![EventKind::RecordingStopped { reason, detail }]
                } else {
                    Vec::new()
                })
            }
            Command::Tick => Ok(self.due(now)),
        }
    }

    /// The checks every new presenter passes: a live session, a site of
    /// it that is connected and not presenting already.
    fn content_site(&self, code: &EndpointCode, what: &str) -> Result<(), Rejection> {
        self.require_phase(&[Phase::Live], what)?;
        if !self.endpoint(code)?.is_up() {
            return Err(Rejection::new(
                Code::NotConnected,
                format!("endpoint {code} is not connected"),
            ));
        }
        if self.content.is_presenter(code) {
            return Err(Rejection::new(
                Code::AlreadyPresenting,
                format!("endpoint {code} is already presenting"),
            ));
        }
        Ok(())
    }

    /// Whether `code` may hold the token under `content_ends_with_floor`:
    /// granting it to a site the rule would take it from at once would
    /// be a grant in name only.
    fn may_present(&self, code: &EndpointCode) -> Result<(), Rejection> {
        let central = self.central() == Some(code);
        if self.spec.rules.content_ends_with_floor && !central && self.floor.held_by(code).is_none()
        {
            return Err(Rejection::new(
                Code::NotHolder,
                format!(
                    "endpoint {code} does not hold the floor, and in this session a \
                     presentation ends with the floor: give it the floor first"
                ),
            ));
        }
        Ok(())
    }

    fn request_content(&self, code: &EndpointCode) -> Result<Vec<EventKind>, Rejection> {
        self.content_site(code, "ask to present")?;
        let central = self.central() == Some(code);
        let holds_floor = self.floor.held_by(code).is_some();
        // The chair's own room asking is the chair deciding, so it may
        // replace a presenter; a floor holder only takes a free token, as
        // replacing another site is the chair's call.
        let starts_now = self.spec.rules.content_rule == ContentRule::FloorOrChair
            && (central || (holds_floor && self.content.presenter.is_none()));
        if starts_now {
            let mut out = Vec::new();
            if let Some(current) = self.content.presenter_code() {
                out.push(EventKind::ContentRevoked {
                    endpoint: current.clone(),
                    reason: ContentEnd::Replaced,
                });
            }
            out.push(EventKind::ContentGranted {
                endpoint: code.clone(),
                by_chair: false,
            });
            return Ok(out);
        }
        if self.content.is_pending(code) {
            return Err(Rejection::new(
                Code::AlreadyRequested,
                format!("endpoint {code} has already asked to present"),
            ));
        }
        Ok(vec![EventKind::ContentRequested {
            endpoint: code.clone(),
        }])
    }

    fn grant_content(&self, code: &EndpointCode) -> Result<Vec<EventKind>, Rejection> {
        self.content_site(code, "grant the content token")?;
        self.may_present(code)?;
        let mut out = Vec::new();
        if let Some(current) = self.content.presenter_code() {
            out.push(EventKind::ContentRevoked {
                endpoint: current.clone(),
                reason: ContentEnd::Replaced,
            });
        }
        out.push(EventKind::ContentGranted {
            endpoint: code.clone(),
            by_chair: true,
        });
        Ok(out)
    }

    fn revoke_content(&self, code: Option<&EndpointCode>) -> Result<Vec<EventKind>, Rejection> {
        self.require_phase(&[Phase::Live], "revoke the content token")?;
        let Some(code) = code else {
            let current = self
                .content
                .presenter_code()
                .ok_or_else(|| Rejection::new(Code::NoPresenter, "nobody is presenting"))?;
            return Ok(vec![EventKind::ContentRevoked {
                endpoint: current.clone(),
                reason: ContentEnd::Chair,
            }]);
        };
        self.endpoint(code)?;
        if self.content.is_presenter(code) {
            Ok(vec![EventKind::ContentRevoked {
                endpoint: code.clone(),
                reason: ContentEnd::Chair,
            }])
        } else if self.content.is_pending(code) {
            Ok(vec![EventKind::ContentRequestCancelled {
                endpoint: code.clone(),
                reason: ContentEnd::Chair,
            }])
        } else {
            Err(Rejection::new(
                Code::NotPresenter,
                format!("endpoint {code} is not presenting and has not asked to"),
            ))
        }
    }

    fn release_content(&self, code: &EndpointCode) -> Result<Vec<EventKind>, Rejection> {
        self.require_phase(&[Phase::Live], "stop presenting")?;
        self.endpoint(code)?;
        if self.content.is_presenter(code) {
            Ok(vec![EventKind::ContentReleased {
                endpoint: code.clone(),
            }])
        } else if self.content.is_pending(code) {
            Ok(vec![EventKind::ContentRequestCancelled {
                endpoint: code.clone(),
                reason: ContentEnd::Withdrawn,
            }])
        } else {
            Err(Rejection::new(
                Code::NotPresenter,
                format!("endpoint {code} is not presenting and has not asked to"),
            ))
        }
    }

    /// Appends what `kinds` cost the content token: whatever command took
    /// a presenter's floor or link, the token goes in the same decision,
    /// so no path (revoke, release, grace, auto-revoke, a full floor, a
    /// drop) can leave a presenter the rules no longer allow. The check
    /// runs on the state after `kinds`, which keeps it to one place
    /// instead of one per command.
    fn with_content_lapses(&self, mut kinds: Vec<EventKind>, now: Millis) -> Vec<EventKind> {
        let idle = self.content.presenter.is_none() && self.content.pending.is_empty();
        if kinds.is_empty() || idle {
            return kinds;
        }
        let mut after = self.clone();
        for kind in &kinds {
            after.fold(&Event {
                at: now,
                kind: kind.clone(),
            });
        }
        kinds.extend(after.content_lapses(|code| after.content_lapse(code)));
        kinds
    }

    /// Why `code` may no longer present or wait to, if it may not.
    fn content_lapse(&self, code: &EndpointCode) -> Option<ContentEnd> {
        use super::AttendanceStatus as S;
        if self.phase != Phase::Live {
            return Some(ContentEnd::SessionEnded);
        }
        match self.attendance.get(code).map(|a| a.status) {
            Some(S::Connected | S::Present) => None,
            Some(S::Left) => Some(ContentEnd::Left),
            _ => Some(ContentEnd::Dropped),
        }
    }

    /// The events ending the token and the requests that `lapse` says
    /// must end; the floor rule binds the presenter only.
    fn content_lapses(
        &self,
        lapse: impl Fn(&EndpointCode) -> Option<ContentEnd>,
    ) -> Vec<EventKind> {
        let mut out = Vec::new();
        if let Some(code) = self.content.presenter_code() {
            let reason = lapse(code).or_else(|| {
                self.may_present(code)
                    .is_err()
                    .then_some(ContentEnd::FloorLost)
            });
            if let Some(reason) = reason {
                out.push(EventKind::ContentRevoked {
                    endpoint: code.clone(),
                    reason,
                });
            }
        }
        for r in &self.content.pending {
            if let Some(reason) = lapse(&r.endpoint) {
                out.push(EventKind::ContentRequestCancelled {
                    endpoint: r.endpoint.clone(),
                    reason,
                });
            }
        }
        out
    }

    fn close_roll_call(&self, rc: &RollCall, reason: RollCallEnd) -> EventKind {
        let missing = self
            .attendance
            .values()
            .filter(|a| a.endpoint.role == EndpointRole::Provincial)
            .map(|a| &a.endpoint.code)
            .filter(|c| !rc.confirmed.contains(*c))
            .cloned()
            .collect();
        EventKind::RollCallClosed {
            round: rc.round,
            reason,
            present: rc.confirmed.iter().cloned().collect(),
            missing,
        }
    }

    /// Everything whose time has come.
    fn due(&self, now: Millis) -> Vec<EventKind> {
        let mut out = Vec::new();
        if self.phase == Phase::Ended {
            return out;
        }
        if let Some(rc) = self.running_roll_call() {
            if rc.deadline <= now {
                out.push(self.close_roll_call(rc, RollCallEnd::Deadline));
            }
        }
        let lead = u64::from(self.spec.rules.warning_lead_secs) * 1000;
        for r in self.floor.holder_requests() {
            let Some(exp) = r.expires_at else { continue };
            let endpoint = r.endpoint.clone();
            if exp <= now {
                if self.floor.auto_revoke {
                    out.push(EventKind::FloorRevoked {
                        request: r.id,
                        endpoint,
                        automatic: true,
                    });
                } else if !r.time_up {
                    out.push(EventKind::SpeakingTimeUp {
                        request: r.id,
                        endpoint,
                    });
                }
            } else if !r.warned && lead > 0 && exp.0.saturating_sub(lead) <= now.0 {
                out.push(EventKind::SpeakingTimeWarning {
                    request: r.id,
                    endpoint,
                });
            }
        }
        let grace = u64::from(self.spec.rules.drop_grace_secs) * 1000;
        for a in self.attendance.values() {
            let lapsed = a.status == super::AttendanceStatus::Dropped
                && !a.grace_expired
                && a.last_lost_at.is_some_and(|t| t.plus_ms(grace) <= now);
            if lapsed {
                out.extend(self.clear_floor_of(&a.endpoint.code));
                out.push(EventKind::DropGraceExpired {
                    endpoint: a.endpoint.code.clone(),
                });
            }
        }
        out
    }

    /// Applies one event. Never fails: `decide` already checked it, and a
    /// replayed log must rebuild whatever was accepted when it was written.
    fn fold(&mut self, event: &Event) {
        let at = event.at.max(self.last_event_at);
        let live = self.phase == Phase::Live;
        for a in self.attendance.values_mut() {
            a.account(at, live);
        }
        self.events += 1;
        self.last_event_at = at;
        match &event.kind {
            EventKind::Created { .. } => {}
            EventKind::Opened => {
                self.phase = Phase::Open;
                self.opened_at = Some(at);
            }
            EventKind::Started => {
                self.phase = Phase::Live;
                self.started_at = Some(at);
                for a in self.attendance.values_mut() {
                    a.went_live(at);
                }
            }
            EventKind::Ended => {
                self.phase = Phase::Ended;
                self.ended_at = Some(at);
            }
            EventKind::EndpointConnected { endpoint } => {
                let live_since = self.started_at;
                if let Some(a) = self.attendance.get_mut(endpoint) {
                    a.connected(at, live_since);
                }
            }
            EventKind::EndpointDropped { endpoint } => {
                if let Some(a) = self.attendance.get_mut(endpoint) {
                    a.dropped(at);
                }
            }
            EventKind::DropGraceExpired { endpoint } => {
                if let Some(a) = self.attendance.get_mut(endpoint) {
                    a.grace_expired();
                }
            }
            EventKind::EndpointLeft { endpoint } => {
                if let Some(a) = self.attendance.get_mut(endpoint) {
                    a.left(at);
                }
            }
            EventKind::RepresentativeSet {
                endpoint,
                name,
                title,
                headcount,
            } => {
                if let Some(a) = self.attendance.get_mut(endpoint) {
                    a.representative = Some(Representative {
                        name: name.clone(),
                        title: title.clone(),
                    });
                    a.headcount = *headcount;
                }
            }
            EventKind::RollCallStarted { round, deadline } => {
                self.roll_calls.push(RollCall {
                    round: *round,
                    started_at: at,
                    deadline: *deadline,
                    confirmed: BTreeSet::new(),
                    closed: None,
                    missing: Vec::new(),
                });
            }
            EventKind::RollCallConfirmed { round, endpoint } => {
                if let Some(rc) = self.roll_calls.iter_mut().find(|r| r.round == *round) {
                    rc.confirmed.insert(endpoint.clone());
                }
                if let Some(a) = self.attendance.get_mut(endpoint) {
                    a.set_confirmed(true);
                }
            }
            EventKind::RollCallClosed {
                round,
                reason,
                present,
                missing,
            } => {
                if let Some(rc) = self.roll_calls.iter_mut().find(|r| r.round == *round) {
                    rc.closed = Some((at, *reason));
                    rc.confirmed = present.iter().cloned().collect();
                    rc.missing = missing.clone();
                }
                // A rerun replaces the previous tally: whoever did not answer
                // this round is no longer counted present.
                for code in missing {
                    if let Some(a) = self.attendance.get_mut(code) {
                        a.set_confirmed(false);
                    }
                }
            }
            EventKind::FloorRequested {
                request,
                endpoint,
                topic,
            } => self
                .floor
                .add_pending(*request, endpoint.clone(), topic.clone(), at),
            EventKind::FloorRequestCancelled { request } => {
                self.floor.finish(*request, RequestState::Cancelled, at)
            }
            EventKind::FloorGranted {
                request,
                endpoint,
                called_on,
                expires_at,
            } => self
                .floor
                .grant(*request, endpoint.clone(), *called_on, *expires_at, at),
            EventKind::FloorDenied { request } => {
                self.floor.finish(*request, RequestState::Denied, at)
            }
            EventKind::FloorRevoked { request, .. } => {
                self.floor.finish(*request, RequestState::Revoked, at)
            }
            EventKind::FloorReleased { request, .. } => {
                self.floor.finish(*request, RequestState::Released, at)
            }
            EventKind::QueueReordered { order } => self.floor.queue = order.clone(),
            EventKind::SpeakingTimeWarning { request, .. } => {
                if let Some(r) = self.floor.requests.get_mut(request) {
                    r.warned = true;
                }
            }
            EventKind::SpeakingTimeUp { request, .. } => {
                if let Some(r) = self.floor.requests.get_mut(request) {
                    r.warned = true;
                    r.time_up = true;
                }
            }
            EventKind::ModeChanged { mode } => self.mode = *mode,
            EventKind::SpeakingLimitSet {
                seconds,
                auto_revoke,
            } => self.floor.set_limit(*seconds, *auto_revoke),
            EventKind::EndpointMuted { endpoint } => {
                self.muted.insert(endpoint.clone());
            }
            EventKind::EndpointUnmuted { endpoint } => {
                self.muted.remove(endpoint);
            }
            EventKind::ContentRequested { endpoint } => {
                self.content.request(endpoint.clone(), at);
            }
            EventKind::ContentRequestCancelled { endpoint, .. } => {
                self.content.withdraw(endpoint);
            }
            EventKind::ContentGranted { endpoint, by_chair } => {
                self.content.grant(endpoint.clone(), *by_chair, at);
            }
            EventKind::ContentRevoked { endpoint, .. }
            | EventKind::ContentReleased { endpoint } => self.content.end(endpoint),
            EventKind::RecordingStarted { .. } => self.recording = true,
            EventKind::RecordingStopped { .. } => self.recording = false,
        }
    }

    /// Who is heard and seen by whom, for the media plane.
    pub fn policy(&self) -> ForwardingPolicy {
        let chair = self.central().cloned();
        let mut policy = ForwardingPolicy {
            mode: self.mode,
            chair: chair.clone(),
            floor: self.floor.latest_holder().cloned(),
            floor_follows_active_speaker: self.mode == Mode::Open && self.floor.holders.is_empty(),
            ..ForwardingPolicy::default()
        };
        if self.phase == Phase::Ended {
            policy.floor = None;
            policy.floor_follows_active_speaker = false;
            return policy;
        }
        if self.phase == Phase::Live {
            policy.content = self.content.presenter_code().cloned();
            policy.recording = self.recording;
        }
        let up: Vec<&EndpointCode> = self
            .attendance
            .values()
            .filter(|a| a.is_up())
            .map(|a| &a.endpoint.code)
            .collect();
        policy.audible.extend(chair.iter().cloned());
        match self.mode {
            Mode::Lecture => {}
            Mode::Chaired => policy
                .audible
                .extend(self.floor.holder_requests().map(|r| r.endpoint.clone())),
            Mode::Open => policy.audible.extend(up.iter().map(|c| (*c).clone())),
        }
        // Muting overrides the mode: every receiver's audio below is drawn
        // from `audible`, so a site left out here is heard by nobody.
        policy.audible.retain(|c| !self.muted.contains(c));
        policy.next_speakers = self
            .floor
            .queue
            .iter()
            .filter_map(|id| self.floor.request(*id))
            .map(|r| r.endpoint.clone())
            .filter(|c| up.contains(&c))
            .take(NEXT_SPEAKERS)
            .collect();
        let programme = policy.programme();
        for code in up {
            let reception = if Some(code) == chair.as_ref() {
                Reception {
                    video: self
                        .attendance
                        .values()
                        .filter(|a| a.is_up() && a.endpoint.role == EndpointRole::Provincial)
                        .map(|a| a.endpoint.code.clone())
                        .collect(),
                    audio: policy
                        .audible
                        .iter()
                        .filter(|c| *c != code)
                        .cloned()
                        .collect(),
                }
            } else {
                let mut r = programme.clone();
                if self.mode == Mode::Open {
                    // Everyone may be heard: the floor slot carries whoever speaks.
                    r.audio.extend(policy.audible.iter().cloned());
                }
                r.audio.remove(code);
                r.video.remove(code);
                r
            };
            policy.receivers.insert(code.clone(), reception);
        }
        policy
    }
}
