//! Who may do what: the role rules, checked on the server for every
//! command whether it came over REST or the WebSocket.
//!
//! - The chair runs the session, the floor and the content token: every
//!   command except those a site must make for itself (asking for the
//!   floor, answering roll call). It may also cancel any request, release
//!   the floor for its holder, mute and unmute any site, set any site's
//!   representative, and use the manual link override below. It asks to
//!   present and stops presenting for its own room only; other sites'
//!   presentations it grants and revokes.
//! - An endpoint acts only as itself: ask for the floor, cancel its own
//!   request, release its own floor, ask to present and stop presenting,
//!   answer roll call, say who presides at its site, leave.
//! - A technician only reads, with one exception: the manual link override
//!   (`connect`, `disconnect`, `leave` of any endpoint), which marks a site
//!   connected when its media runs outside this server. Once the media
//!   plane drives links itself this is only for repairs.
//! - A viewer only reads (the session, the floor; not attendance details).
//! - Nobody sends `tick` (the server's deadline timer does) or
//!   `recording_failed` (the media plane reports it). Recording is the
//!   chair's alone to start and stop.
//!
//! What a role reads of a session is cut in one place, [`super::view`]:
//! attendance details (who presides at a site, its headcount) go to the
//! chair and technicians, and to an endpoint for its own site only.
//!
//! A token bound to a session works for that session only, and
//! [`in_scope`] is the first check of every route that names a session:
//! before the id is looked up, so such a token gets the same 403 for
//! another session whether it exists or not, and cannot learn which do.

use super::caller::{role_name, Caller};
use super::error::AppError;
use crate::auth::Role;
use crate::control::{Command, EndpointCode, Session, SessionId};

/// Whether `caller` may name session `id` at all; see the module's docs.
pub fn in_scope(caller: &Caller, id: &SessionId) -> Result<(), AppError> {
    caller.check_session(id)
}

/// Whether `caller` may run `command` on `session`.
pub fn authorize(caller: &Caller, command: &Command, session: &Session) -> Result<(), AppError> {
    in_scope(caller, session.id())?;
    let refuse = || {
        Err(AppError::forbidden(format!(
            "a {} token may not {}",
            role_name(caller.role),
            command.name().replace('_', " ")
        )))
    };
    let as_itself = |code: &EndpointCode| {
        if caller.own_endpoint() == Some(code) {
            Ok(())
        } else {
            Err(AppError::forbidden(format!(
                "an endpoint acts only as itself, not as {code}"
            )))
        }
    };
    match (caller.role, command) {
        (_, Command::Tick | Command::RecordingFailed { .. }) => refuse(),
        (Role::Chair | Role::Technician, Command::Connect { .. })
        | (Role::Chair | Role::Technician, Command::Disconnect { .. })
        | (Role::Chair | Role::Technician, Command::Leave { .. }) => Ok(()),
        (Role::Chair, Command::RequestFloor { .. } | Command::ConfirmRollCall { .. }) => refuse(),
        (
            Role::Chair,
            Command::RequestContent { endpoint } | Command::ReleaseContent { endpoint },
        ) => {
            if session.central() == Some(endpoint) {
                Ok(())
            } else {
                Err(AppError::forbidden(format!(
                    "the chair presents from its own room only; for {endpoint} use \
                     grant_content or revoke_content"
                )))
            }
        }
        (Role::Chair, _) => Ok(()),
        (Role::Endpoint, Command::RequestFloor { endpoint, .. })
        | (Role::Endpoint, Command::ReleaseFloor { endpoint })
        | (Role::Endpoint, Command::ConfirmRollCall { endpoint })
        | (Role::Endpoint, Command::SetRepresentative { endpoint, .. })
        | (Role::Endpoint, Command::RequestContent { endpoint })
        | (Role::Endpoint, Command::ReleaseContent { endpoint })
        | (Role::Endpoint, Command::Leave { endpoint }) => as_itself(endpoint),
        (Role::Endpoint, Command::CancelFloorRequest { request }) => {
            match session.floor.request(*request) {
                // Unknown ids fall through to the control plane's 404.
                None => Ok(()),
                Some(r) => as_itself(&r.endpoint),
            }
        }
        _ => refuse(),
    }
}

/// Whether `caller` may read `session` at all.
pub fn may_read(caller: &Caller, session: &Session) -> Result<(), AppError> {
    in_scope(caller, session.id())
}

/// Whether `caller` may read the attendance report (names, times,
/// headcounts): the chair and technicians.
pub fn may_read_attendance(caller: &Caller, session: &Session) -> Result<(), AppError> {
    may_read(caller, session)?;
    caller.require(
        &[Role::Chair, Role::Technician],
        "read the attendance report",
    )
}
