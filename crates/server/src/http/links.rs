//! Links: the manual override a technician
//! (or the chair) uses to mark a site connected, dropped or gone when its
//! media runs outside this server. The media plane drives the same
//! commands itself for the sites it carries.

use super::caller::Caller;
use super::command::{run, Outcome};
use super::error::{AppError, ErrorBody};
use super::extract::Path;
use super::AppState;
use crate::control::{Command, EndpointCode, SessionId};
use axum::extract::State;
use axum::Json;

macro_rules! link_override {
    ($name:ident, $path:literal, $variant:ident, $doc:literal) => {
        #[doc = $doc]
        #[utoipa::path(post, path = $path, tag = "links",
                    params(("id" = String, Path, description = "Session id"),
                        ("code" = String, Path, description = "Endpoint code")),
                    responses((status = 200, body = Outcome), (status = 403, body = ErrorBody),
                        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
        pub async fn $name(
            State(state): State<AppState>,
            caller: Caller,
            Path((id, code)): Path<(String, String)>,
        ) -> Result<Json<Outcome>, AppError> {
            let command = Command::$variant {
                endpoint: EndpointCode(code),
            };
            run(&state, &caller, &SessionId(id), command).map(Json)
        }
    };
}

link_override!(
    connect,
    "/api/sessions/{id}/endpoints/{code}/connect",
    Connect,
    "Manual override: marks a site's link up (technician, chair)."
);
link_override!(
    disconnect,
    "/api/sessions/{id}/endpoints/{code}/disconnect",
    Disconnect,
    "Manual override: marks a site's link lost (technician, chair)."
);
link_override!(
    leave,
    "/api/sessions/{id}/endpoints/{code}/leave",
    Leave,
    "A site leaves on purpose (the endpoint itself, technician, chair)."
);
