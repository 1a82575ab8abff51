//! Who is calling: the verified claims of a token, checked against the
//! registry. HTTP takes `Authorization: Bearer`, the WebSocket `?token=`;
//! both end here.

use super::error::AppError;
use super::AppState;
use crate::auth::{AuthError, Claims, Role};
use crate::control::{EndpointCode, SessionId};
use crate::media::Owner;
use axum::extract::FromRequestParts;
use axum::http::{header, request::Parts};

/// A caller with a valid token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// What the token lets it do.
    pub role: Role,
    /// The endpoint it is (endpoint tokens; the chair's may name the central site).
    pub endpoint: Option<EndpointCode>,
    /// The only session the token works for, if bound to one.
    pub session: Option<SessionId>,
    /// The token itself, as the media plane counts its connections.
    pub owner: Owner,
}

impl Caller {
    /// Verifies a token: signature, expiry, and for endpoint tokens that the
    /// endpoint is in the registry and the token carries its current link
    /// key (a re-keyed endpoint's old links stop working).
    pub fn from_token(state: &AppState, token: &str) -> Result<Caller, AppError> {
        Caller::from_token_with_claims(state, token).map(|(caller, _)| caller)
    }

    /// [`Caller::from_token`], with the token's verified claims: a
    /// WebSocket outlives the moment its token was checked, so it keeps
    /// them to be closed when they expire and to renew them (`refresh`).
    pub fn from_token_with_claims(
        state: &AppState,
        token: &str,
    ) -> Result<(Caller, Claims), AppError> {
        let claims = state.keys.verify(token).map_err(|e| match e {
            AuthError::Expired => AppError::unauthorized("token_expired", "the token has expired"),
            _ => AppError::unauthorized("invalid_token", "the token is not valid for this server"),
        })?;
        if claims.role == Role::Endpoint {
            let code = claims.endpoint.as_ref().ok_or_else(|| {
                AppError::unauthorized("invalid_token", "an endpoint token must name its endpoint")
            })?;
            let entry = state.registry.get(code).ok_or_else(|| {
                AppError::unauthorized(
                    "invalid_token",
                    format!("endpoint {code} is not in the registry"),
                )
            })?;
            if entry.link_key.is_some() && entry.link_key != claims.key {
                return Err(AppError::unauthorized(
                    "invalid_token",
                    format!("the join link of endpoint {code} has been replaced"),
                ));
            }
        }
        let caller = Caller {
            role: claims.role,
            endpoint: claims.endpoint.clone(),
            session: claims.session.clone().map(SessionId),
            owner: Owner::of_token(token),
        };
        Ok((caller, claims))
    }

    /// Refuses a token bound to another session.
    pub fn check_session(&self, id: &SessionId) -> Result<(), AppError> {
        match &self.session {
            Some(own) if own != id => Err(AppError::forbidden(format!(
                "this token is for session {own}, not {id}"
            ))),
            _ => Ok(()),
        }
    }

    /// Refuses every role but those listed.
    pub fn require(&self, roles: &[Role], what: &str) -> Result<(), AppError> {
        if roles.contains(&self.role) {
            Ok(())
        } else {
            Err(AppError::forbidden(format!(
                "a {} token may not {what}",
                role_name(self.role)
            )))
        }
    }

    /// The endpoint an endpoint token acts as.
    pub fn own_endpoint(&self) -> Option<&EndpointCode> {
        match self.role {
            Role::Endpoint => self.endpoint.as_ref(),
            _ => None,
        }
    }
}

/// The role as it is written on the wire.
impl Caller {
    /// How a TURN relay's log names this client: its role, and its site.
    pub fn label(&self) -> String {
        match &self.endpoint {
            Some(code) => format!("{}-{code}", role_name(self.role)),
            None => role_name(self.role).to_string(),
        }
    }

    /// The STUN/TURN servers to hand this client now.
    pub fn ice_servers(&self, state: &AppState) -> Vec<crate::config::IceServer> {
        state
            .ice_servers
            .for_client(&self.label(), crate::service::clock::now_secs())
    }
}

pub fn role_name(role: Role) -> &'static str {
    match role {
        Role::Chair => "chair",
        Role::Endpoint => "endpoint",
        Role::Technician => "technician",
        Role::Viewer => "viewer",
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let value = parts.headers.get(header::AUTHORIZATION).ok_or_else(|| {
            AppError::unauthorized("missing_token", "send Authorization: Bearer <token>")
        })?;
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                AppError::unauthorized("missing_token", "send Authorization: Bearer <token>")
            })?;
        Caller::from_token(state, token)
    }
}
