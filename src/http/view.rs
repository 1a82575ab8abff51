//! What each role sees of a session. The chair, technicians and endpoints
//! see the whole state; a viewer (a broadcaster, a recorder) sees the
//! session, who is linked and the floor, without the attendance details
//! (times, representatives, headcounts).

use crate::auth::Role;
use crate::control::{
    AttendanceStatus, EndpointCode, EndpointRole, EventKind, FloorState, Millis, Mode, Phase,
    RollCall, Session,
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
    #[schema(value_type = String)]
    pub phase: Phase,
    /// `lecture`, `chaired` or `open`.
    #[schema(value_type = String)]
    pub mode: Mode,
    /// Creation time, ms since the epoch.
    #[schema(value_type = u64)]
    pub created_at: Millis,
    /// When it went live.
    #[schema(value_type = Option<u64>)]
    pub started_at: Option<Millis>,
    /// When it ended.
    #[schema(value_type = Option<u64>)]
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
    #[schema(value_type = String)]
    pub code: EndpointCode,
    /// Display name.
    pub name: String,
    /// `central` or `provincial`.
    #[schema(value_type = String)]
    pub role: EndpointRole,
    /// Attendance status.
    #[schema(value_type = String)]
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
    /// Roll calls, oldest first.
    #[schema(value_type = Vec<Object>)]
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
    /// The view of `session` for `role`.
    pub fn of(session: &Session, role: Role) -> SessionView {
        match role {
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
                floor: session.floor.clone(),
                roll_calls: session.roll_calls.clone(),
            })),
            _ => SessionView::Full(Box::new(session.clone())),
        }
    }
}

/// Whether `role` is sent this event on the WebSocket: a viewer is not
/// told who presides at a site.
pub fn event_visible(role: Role, event: &EventKind) -> bool {
    !(role == Role::Viewer && matches!(event, EventKind::RepresentativeSet { .. }))
}
