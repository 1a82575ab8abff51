//! Signed tokens (JWT, HS256) and the roles they carry.
//!
//! One secret signs every token the server and the CLI mint, so a link
//! printed by `diemcau invite` is accepted by a server that shares its data
//! dir (or its `DIEMCAU_SECRET`). Only HS256 is accepted: a token that names
//! another algorithm, including `none`, is refused before its signature is
//! looked at.
//!
//! Endpoint tokens also carry the endpoint's `link_key` from the registry;
//! the server compares it with the registry's current key
//! ([`Claims::check_registry`]), so changing the key in the registry
//! invalidates the links already sent without changing the secret.

use crate::config::Registry;
use crate::control::EndpointCode;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

mod secret;
mod turn;

pub(crate) use secret::create_private_file;
pub use secret::{load_or_create_secret, Secret, SECRET_ENV};
pub use turn::{mint as mint_turn_credentials, IceServers};

/// What a token holder may do.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Role {
    /// Runs the session and the floor, from the central room.
    Chair,
    /// One provincial site; acts only as itself.
    Endpoint,
    /// Watches every link's health; reads only.
    Technician,
    /// Receives the programme (WHEP, read-only views).
    Viewer,
}

impl Role {
    /// The role as written in tokens and on the command line.
    pub fn as_str(&self) -> &'static str {
        self.into()
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = AuthError;

    fn from_str(s: &str) -> Result<Role, AuthError> {
        match s {
            "chair" => Ok(Role::Chair),
            "endpoint" => Ok(Role::Endpoint),
            "technician" => Ok(Role::Technician),
            "viewer" => Ok(Role::Viewer),
            _ => Err(AuthError::UnknownRole(s.to_string())),
        }
    }
}

/// What a token says about its holder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// What the holder may do.
    pub role: Role,
    /// The site an endpoint token speaks for; only endpoint tokens have one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<EndpointCode>,
    /// The one session the token is good for; any session when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// Issued at, seconds since the UNIX epoch.
    pub iat: u64,
    /// Expires at, seconds since the UNIX epoch.
    pub exp: u64,
    /// The endpoint's `link_key` when the token was minted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

impl Claims {
    /// Claims valid for `ttl` from `now_secs`, with no link key.
    pub fn new(
        role: Role,
        endpoint: Option<EndpointCode>,
        session: Option<String>,
        ttl: Duration,
        now_secs: u64,
    ) -> Claims {
        Claims {
            role,
            endpoint,
            session,
            iat: now_secs,
            exp: now_secs.saturating_add(ttl.as_secs()),
            key: None,
        }
    }

    /// The same claims issued again at `now_secs`, good for as long as the
    /// original was (`exp - iat`) but never longer than `max`. A page holds
    /// its socket open past its token's expiry only by renewing it, so a
    /// renewed token must grant exactly what the old one did (role,
    /// endpoint, session, link key), and the cap keeps a long-lived link
    /// from turning into an endless chain of long-lived tokens.
    pub fn renewed(&self, now_secs: u64, max: Duration) -> Claims {
        let lifetime = self.exp.saturating_sub(self.iat).min(max.as_secs());
        Claims {
            iat: now_secs,
            exp: now_secs.saturating_add(lifetime),
            ..self.clone()
        }
    }

    /// The same claims bound to an endpoint's link key.
    pub fn with_key(self, key: Option<String>) -> Claims {
        Claims { key, ..self }
    }

    /// Whether the token may be used in session `id`.
    pub fn allows_session(&self, id: &str) -> bool {
        self.session.as_deref().is_none_or(|s| s == id)
    }

    /// An endpoint token stays good only while its endpoint is in the
    /// registry with the link key it was minted with.
    pub fn check_registry(&self, registry: &Registry) -> Result<(), AuthError> {
        let Some(code) = &self.endpoint else {
            return Ok(());
        };
        match registry.get(code) {
            Some(entry) if entry.link_key == self.key => Ok(()),
            Some(_) => Err(AuthError::Revoked),
            None => Err(AuthError::Invalid(format!(
                "no endpoint `{code}` in the registry"
            ))),
        }
    }

    /// Endpoint tokens name their endpoint; no other token does, so a
    /// chair's token cannot be mistaken for a site's.
    fn check_shape(&self) -> Result<(), AuthError> {
        match (self.role, &self.endpoint) {
            (Role::Endpoint, None) => Err(AuthError::Invalid(
                "an endpoint token needs an endpoint code".into(),
            )),
            (Role::Endpoint, Some(_)) => Ok(()),
            (role, Some(_)) => Err(AuthError::Invalid(format!(
                "a {role} token cannot carry an endpoint code"
            ))),
            (_, None) => Ok(()),
        }
    }
}

/// Why a token or secret was refused.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Not a JWT at all.
    #[error("malformed token")]
    Malformed,
    /// Signed with another key, or altered.
    #[error("bad token signature")]
    BadSignature,
    /// Signed (or not) with an algorithm other than HS256.
    #[error("token algorithm not accepted")]
    WrongAlgorithm,
    /// Past its expiry.
    #[error("token expired")]
    Expired,
    /// The endpoint's link key changed since the token was minted.
    #[error("token revoked: the endpoint's link key has changed")]
    Revoked,
    /// A role name that is not one of the four.
    #[error("unknown role `{0}`: expected chair, endpoint, technician or viewer")]
    UnknownRole(String),
    /// Well-formed but not acceptable (see the message).
    #[error("invalid token: {0}")]
    Invalid(String),
    /// Signing failed.
    #[error("cannot sign token: {0}")]
    Signing(String),
    /// The secret file could not be read or written.
    #[error("secret file {}: {source}", path.display())]
    SecretIo {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The secret is unusable (the message says why, never what it is).
    #[error("unusable secret: {0}")]
    BadSecret(String),
}

/// The signing and verifying keys made from one secret.
pub struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Keys(..)")
    }
}

impl Keys {
    /// Keys for `secret`.
    pub fn new(secret: &[u8]) -> Keys {
        let mut validation = Validation::new(Algorithm::HS256);
        // Expiry is checked by `verify_at` against a time the caller passes,
        // so tests and the server agree on what "now" is.
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.leeway = 0;
        Keys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        }
    }

    /// Signs `claims`.
    pub fn mint(&self, claims: &Claims) -> Result<String, AuthError> {
        claims.check_shape()?;
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .map_err(|e| AuthError::Signing(e.to_string()))
    }

    /// Checks signature, algorithm and expiry against the clock.
    pub fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        self.verify_at(token, now_secs())
    }

    /// Checks signature, algorithm and expiry at `now_secs`.
    pub fn verify_at(&self, token: &str, now_secs: u64) -> Result<Claims, AuthError> {
        use jsonwebtoken::errors::ErrorKind;
        // A header that is JSON but not a header this library knows names an
        // algorithm it does not have, such as `none`.
        jsonwebtoken::decode_header(token).map_err(|e| match e.kind() {
            ErrorKind::Json(e) if e.is_data() => AuthError::WrongAlgorithm,
            _ => AuthError::Malformed,
        })?;
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|e| match e.kind() {
                ErrorKind::InvalidSignature => AuthError::BadSignature,
                ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
                    AuthError::WrongAlgorithm
                }
                ErrorKind::MissingRequiredClaim(claim) => {
                    AuthError::Invalid(format!("missing claim `{claim}`"))
                }
                // The signature is checked before the claims are read, so
                // these are claims we signed that this version cannot read.
                ErrorKind::Json(e) if e.is_data() => AuthError::Invalid(e.to_string()),
                _ => AuthError::Malformed,
            })?;
        let claims = data.claims;
        if now_secs >= claims.exp {
            return Err(AuthError::Expired);
        }
        claims.check_shape()?;
        Ok(claims)
    }
}

/// Seconds since the UNIX epoch.
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests;
