//! The one error type of the HTTP edge, and how it is rendered:
//! `{"error": code, "message": text}` with the status that fits.
//!
//! Statuses, as documented for integrators:
//! - 400 malformed JSON, wrong types, unknown fields, bad query or path;
//! - 401 missing, expired or forged token;
//! - 403 the token's role (or endpoint, or session) may not do this;
//! - 404 unknown session, endpoint, floor request or route;
//! - 409 the command is not legal in the session's current state (the
//!   control plane's reason code is the `error`), or the id is taken;
//! - 413 body too large; 415 body that is not JSON;
//! - 422 a value out of range (`invalid_value`: too long, zero, too large);
//! - 500 the event log could not be written (nothing changed; the detail
//!   goes to the log, not to the client).

use crate::control::RejectionCode;
use crate::service::CoreError;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

/// The body of every error response.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorBody {
    /// A stable, machine-readable code.
    pub error: String,
    /// A sentence for people.
    pub message: String,
}

/// An error of the HTTP edge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable code.
    pub code: &'static str,
    /// Sentence for people.
    pub message: String,
}

impl AppError {
    /// An error with a status, a code and a message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        AppError {
            status,
            code,
            message: message.into(),
        }
    }
    /// 400 with a code.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }
    /// 401: no usable token.
    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, message)
    }
    /// 403: the role may not do this.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }
    /// 404 with a code.
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }
    /// 500: say little, the log has the detail.
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the server could not complete the request; nothing was changed",
        )
    }
    /// The body as it goes on the wire (also used by the WebSocket).
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: self.code.to_string(),
            message: self.message.clone(),
        }
    }
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body())).into_response()
    }
}

/// The status a control-plane refusal maps to.
pub fn rejection_status(code: RejectionCode) -> StatusCode {
    match code {
        RejectionCode::UnknownEndpoint | RejectionCode::UnknownRequest => StatusCode::NOT_FOUND,
        RejectionCode::InvalidValue => StatusCode::UNPROCESSABLE_ENTITY,
        _ => StatusCode::CONFLICT,
    }
}

impl From<CoreError> for AppError {
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::UnknownSession(id) => {
                AppError::not_found("unknown_session", format!("no session {id}"))
            }
            CoreError::SessionExists(id) => AppError::new(
                StatusCode::CONFLICT,
                "session_exists",
                format!("a session {id} already exists"),
            ),
            CoreError::Rejected(r) => {
                AppError::new(rejection_status(r.code), r.code.as_str(), r.message)
            }
            CoreError::Store(e) => {
                tracing::error!(error = %e, "event log append failed");
                AppError::internal()
            }
        }
    }
}
