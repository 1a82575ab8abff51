//! The endpoint registry as clients may see it (never the link keys), and
//! the liveness probe.

use super::caller::Caller;
use super::error::ErrorBody;
use super::AppState;
use crate::control::EndpointRole;
use axum::extract::State;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

/// An endpoint of the registry.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EndpointEntry {
    /// Stable code.
    pub code: String,
    /// Display name with diacritics.
    pub name: String,
    /// `central` or `provincial`.
    pub role: EndpointRole,
    /// Kind of site (province, city, ministry…).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Older units it was formed from.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub formed_from: Vec<String>,
}

/// The registry (any valid token).
#[utoipa::path(get, path = "/api/endpoints", tag = "endpoints",
    responses((status = 200, body = Vec<EndpointEntry>), (status = 401, body = ErrorBody)))]
pub async fn list(State(state): State<AppState>, _caller: Caller) -> Json<Vec<EndpointEntry>> {
    Json(
        state
            .registry
            .endpoints
            .iter()
            .map(|e| EndpointEntry {
                code: e.code.0.clone(),
                name: e.name.clone(),
                role: e.role,
                kind: e.kind.clone(),
                formed_from: e.formed_from.clone(),
            })
            .collect(),
    )
}

/// Liveness: the server answers.
#[utoipa::path(get, path = "/healthz", tag = "health",
    responses((status = 200, description = "ok", body = String)))]
pub async fn healthz() -> &'static str {
    "ok"
}
