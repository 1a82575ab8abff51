//! Signed tokens (JWT, HS256) and the roles they carry.
//!
//! Minimal version so the server can be wired and tested; the full module
//! replaces it.

use crate::control::EndpointCode;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Duration;

/// Why a token could not be made or read.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The token is past its expiry.
    #[error("the token has expired")]
    Expired,
    /// The token is not one of ours.
    #[error("the token is not valid: {0}")]
    Invalid(String),
    /// The secret could not be read or written.
    #[error("secret: {0}")]
    Secret(#[from] std::io::Error),
}

/// What a token lets its holder do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Runs the session and the floor.
    Chair,
    /// One site; acts only as itself.
    Endpoint,
    /// Reads everything, including links.
    Technician,
    /// Reads the session and the floor.
    Viewer,
}

/// The claims of a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Role.
    pub role: Role,
    /// Endpoint code (endpoint tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<EndpointCode>,
    /// The only session the token works for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// Issued at (seconds).
    pub iat: u64,
    /// Expires at (seconds).
    pub exp: u64,
    /// The endpoint's link key when minted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

impl Claims {
    /// Claims valid from `now_secs` for `ttl`.
    pub fn new(
        role: Role,
        endpoint: Option<EndpointCode>,
        session: Option<String>,
        ttl: Duration,
        now_secs: u64,
    ) -> Self {
        Claims {
            role,
            endpoint,
            session,
            iat: now_secs,
            exp: now_secs.saturating_add(ttl.as_secs()),
            key: None,
        }
    }
}

/// Signing and verifying keys from one secret.
#[derive(Clone)]
pub struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl Keys {
    /// Keys from the secret.
    pub fn new(secret: &[u8]) -> Self {
        Keys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
        }
    }
    /// A signed token.
    pub fn mint(&self, claims: &Claims) -> Result<String, AuthError> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .map_err(|e| AuthError::Invalid(e.to_string()))
    }
    /// The claims of a token signed with our secret and not expired.
    pub fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.required_spec_claims = ["exp".to_string()].into_iter().collect();
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .map(|d| d.claims)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => AuthError::Expired,
                _ => AuthError::Invalid(e.to_string()),
            })
    }
}

/// `DIEMCAU_SECRET`, else the secret file, else `data_dir/secret` (created).
pub fn load_or_create_secret(
    secret_file: Option<&Path>,
    data_dir: &Path,
) -> Result<Vec<u8>, AuthError> {
    if let Ok(s) = std::env::var("DIEMCAU_SECRET") {
        if !s.is_empty() {
            return Ok(s.into_bytes());
        }
    }
    if let Some(f) = secret_file {
        return Ok(std::fs::read(f)?);
    }
    let path = data_dir.join("secret");
    if let Ok(s) = std::fs::read(&path) {
        return Ok(s);
    }
    std::fs::create_dir_all(data_dir)?;
    let secret: [u8; 32] = rand::random();
    let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
    std::fs::write(&path, &hex)?;
    Ok(hex.into_bytes())
}
