//! What each role sees of a session, in `GET /api/sessions/{id}`, the
//! WebSocket snapshot and its events alike. The chair and technicians see
//! the whole state. An endpoint sees the whole state but who presides at
//! the other sites and their headcounts: that is attendance detail, which
//! only the chair and technicians read (the report is refused to it too);
//! its own site's it typed itself. A viewer (a broadcaster, a recorder)
//! sees the session, who is linked, the floor and who presents, without
//! the attendance details (times, representatives, headcounts).

use super::caller::Caller;
use crate::auth::Role;
use crate::control::{
    AttendanceStatus, ContentState, EndpointCode, EndpointRole, EventKind, FloorState, Millis,
    Mode, Phase, RollCall, Session,
};
use serde::Serialize;
use utoipa::ToSchema;

/// One line of the session list.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SessionSummary {
    /// Id.
    pub id: String,
    /// Title.
    pub title: String,
    /// `scheduled`, `open`, `live` or `ended`.
    pub phase: Phase,
    /// `lecture`, `chaired` or `open`.
    pub mode: Mode,
    /// Creation time, ms since the epoch.
    pub created_at: Millis,
    /// When it went live.
    pub started_at: Option<Millis>,
    /// When it ended.
    pub ended_at: Option<Millis>,
}

impl From<&Session> for SessionSummary {
    fn from(s: &Session) -> Self {
        SessionSummary {
            id: s.id().0.clone(),
            title: s.spec.title.clone(),
            phase: s.phase,
            mode: s.mode,
            created_at: s.created_at,
            started_at: s.started_at,
            ended_at: s.ended_at,
        }
    }
}

/// An endpoint as a viewer sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PublicEndpoint {
    /// Code.
    pub code: EndpointCode,
    /// Display name.
    pub name: String,
    /// `central` or `provincial`.
    pub role: EndpointRole,
    /// Attendance status.
    pub status: AttendanceStatus,
    /// Muted by the chair: its audio reaches nobody.
    pub muted: bool,
}

/// A session as a viewer sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PublicSession {
    /// The summary.
    #[serde(flatten)]
    pub summary: SessionSummary,
    /// How many events made this state.
    pub events: u64,
    /// Endpoints and their status.
    pub endpoints: Vec<PublicEndpoint>,
    /// The floor.
    pub floor: FloorState,
    /// Who presents, and who waits to.
    pub content: ContentState,
    /// Roll calls, oldest first.
    pub roll_calls: Vec<RollCall>,
}

/// A session as a role sees it.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum SessionView {
    /// The whole state.
    Full(Box<Session>),
    /// The viewer's cut.
    Public(Box<PublicSession>),
}

impl SessionView {
    /// The view of `session` for `caller`.
    pub fn of(session: &Session, caller: &Caller) -> SessionView {
        match caller.role {
            Role::Viewer => SessionView::Public(Box::new(PublicSession {
                summary: SessionSummary::from(session),
                events: session.events,
                endpoints: session
                    .attendance
                    .values()
                    .map(|a| PublicEndpoint {
                        code: a.endpoint.code.clone(),
                        name: a.endpoint.name.clone(),
                        role: a.endpoint.role,
                        status: a.status,
                        muted: session.muted.contains(&a.endpoint.code),
                    })
                    .collect(),
                floor: {
                    let mut floor = session.floor.clone();
                    floor.trim_ended(ENDED_REQUESTS_IN_VIEW);
                    floor
                },
                content: session.content.clone(),
                roll_calls: session.roll_calls.clone(),
            })),
            Role::Endpoint => {
                let mut seen = trimmed(session);
                for (code, a) in seen.attendance.iter_mut() {
                    if caller.own_endpoint() != Some(code) {
                        a.representative = None;
                        a.headcount = None;
                    }
                }
                SessionView::Full(Box::new(seen))
            }
            Role::Chair | Role::Technician => SessionView::Full(Box::new(trimmed(session))),
        }
    }
}

/// Ended floor requests a view carries, newest last; the report and the
/// event log keep them all.
pub const ENDED_REQUESTS_IN_VIEW: usize = 50;

fn trimmed(session: &Session) -> Session {
    let mut seen = session.clone();
    seen.floor.trim_ended(ENDED_REQUESTS_IN_VIEW);
    seen
}

/// Whether `caller` is sent this event on the WebSocket: who presides at a
/// site goes to the chair, technicians and that site only, as in
/// [`SessionView::of`].
pub fn event_visible(caller: &Caller, event: &EventKind) -> bool {
    match (caller.role, event) {
        (Role::Chair | Role::Technician, _) => true,
        (Role::Endpoint, EventKind::RepresentativeSet { endpoint, .. }) => {
            caller.own_endpoint() == Some(endpoint)
        }
        (Role::Viewer, EventKind::RepresentativeSet { .. }) => false,
        (Role::Endpoint | Role::Viewer, _) => true,
    }
}
