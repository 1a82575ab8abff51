//! A chaired session: the state, the dispatch of each command to the rule
//! that decides which events it produces (the rules live in `rules`, one
//! file per concept), and the fold that applies them.
//!
//! `apply` is split in two on purpose. `decide` only reads the state and
//! returns events or a rejection; `fold` only writes the state and never
//! fails. Replay after a restart runs `fold` alone, so whatever `decide`
//! accepted once is rebuilt exactly, even if the rules change later.

use super::attendance::{Attendance, Representative};
use super::command::Command;
use super::content::ContentState;
use super::event::{Event, EventKind};
use super::floor::{FloorState, RequestState};
use super::policy::{ForwardingPolicy, Reception};
use super::rejection::{Rejection, RejectionCode as Code};
use super::rollcall::RollCall;
use super::types::{EndpointCode, EndpointRole, Millis, Mode, Phase, SessionId, SessionSpec};
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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

    pub(crate) fn endpoint(&self, code: &EndpointCode) -> Result<&Attendance, Rejection> {
        self.attendance.get(code).ok_or_else(|| {
            Rejection::new(
                Code::UnknownEndpoint,
                format!("endpoint {code} is not part of this session"),
            )
        })
    }

    pub(crate) fn provincial_up(&self, code: &EndpointCode) -> Result<&Attendance, Rejection> {
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

    pub(crate) fn require_phase(&self, allowed: &[Phase], what: &str) -> Result<(), Rejection> {
        if allowed.contains(&self.phase) {
            Ok(())
        } else {
            Err(Rejection::new(
                Code::WrongPhase,
                format!("cannot {what} while the session is {:?}", self.phase).to_lowercase(),
            ))
        }
    }

    /// Which rule a command answers to. The rules themselves live with
    /// their concept under `rules`, each reading in one place.
    fn decide(&self, command: &Command, now: Millis) -> Result<Vec<EventKind>, Rejection> {
        match command {
            Command::Open => self.decide_open(),
            Command::Start => self.decide_start(),
            Command::End => self.decide_end(),
            Command::Connect { endpoint } => self.decide_connect(endpoint),
            Command::Disconnect { endpoint } => self.decide_disconnect(endpoint),
            Command::Leave { endpoint } => self.decide_leave(endpoint),
            Command::SetRepresentative {
                endpoint,
                name,
                title,
                headcount,
            } => self.decide_set_representative(endpoint, name, title, *headcount),
            Command::StartRollCall { deadline_secs } => {
                self.decide_start_roll_call(*deadline_secs, now)
            }
            Command::ConfirmRollCall { endpoint } => self.decide_confirm_roll_call(endpoint),
            Command::CloseRollCall => self.decide_close_roll_call(),
            Command::RequestFloor { endpoint, topic } => self.decide_request_floor(endpoint, topic),
            Command::CancelFloorRequest { request } => self.decide_cancel_floor_request(*request),
            Command::GrantFloor { target } => self.decide_grant_floor(target, now),
            Command::DenyFloor { request } => self.decide_deny_floor(*request),
            Command::RevokeFloor { endpoint } => self.decide_revoke_floor(endpoint.as_ref()),
            Command::ReleaseFloor { endpoint } => self.decide_release_floor(endpoint),
            Command::ReorderQueue { order } => self.decide_reorder_queue(order),
            Command::SetMode { mode } => self.decide_set_mode(*mode),
            Command::SetSpeakingLimit {
                seconds,
                auto_revoke,
            } => self.decide_set_speaking_limit(*seconds, *auto_revoke),
            Command::SetMuted { endpoint, muted } => self.decide_set_muted(endpoint, *muted),
            Command::RequestContent { endpoint } => self.decide_request_content(endpoint),
            Command::GrantContent { endpoint } => self.decide_grant_content(endpoint),
            Command::RevokeContent { endpoint } => self.decide_revoke_content(endpoint.as_ref()),
            Command::ReleaseContent { endpoint } => self.decide_release_content(endpoint),
            Command::StartRecording => self.decide_start_recording(),
            Command::StopRecording => self.decide_stop_recording(None),
            Command::RecordingFailed { reason } => self.decide_stop_recording(Some(reason)),
            Command::Tick => Ok(self.due(now)),
        }
    }

    /// Applies one event. Never fails: `decide` already checked it, and a
    /// replayed log must rebuild whatever was accepted when it was written.
    pub(crate) fn fold(&mut self, event: &Event) {
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
