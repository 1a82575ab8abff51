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
use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The environment variable that holds the signing secret.
pub const SECRET_ENV: &str = "DIEMCAU_SECRET";

/// Shorter secrets are refused: HMAC is only as strong as its key.
const MIN_SECRET_LEN: usize = 16;

/// What a token holder may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
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
        match self {
            Role::Chair => "chair",
            Role::Endpoint => "endpoint",
            Role::Technician => "technician",
            Role::Viewer => "viewer",
        }
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
            _ => Err(AuthError::Invalid(format!(
                "unknown role `{s}`: expected chair, endpoint, technician or viewer"
            ))),
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

/// The signing secret: `DIEMCAU_SECRET`, else `secret_file`, else
/// `<data_dir>/secret`, generated on first run (32 random bytes as hex, mode
/// 0600). The secret is never logged or put into an error message.
pub fn load_or_create_secret(
    secret_file: Option<&Path>,
    data_dir: &Path,
) -> Result<Vec<u8>, AuthError> {
    let from_env = std::env::var(SECRET_ENV).ok();
    resolve_secret(from_env.as_deref(), secret_file, data_dir)
}

fn resolve_secret(
    from_env: Option<&str>,
    secret_file: Option<&Path>,
    data_dir: &Path,
) -> Result<Vec<u8>, AuthError> {
    if let Some(value) = from_env {
        return usable(value, SECRET_ENV);
    }
    if let Some(path) = secret_file {
        return read_secret(path);
    }
    let path = data_dir.join("secret");
    if !path.exists() {
        create_secret(&path)?;
    }
    read_secret(&path)
}

fn usable(text: &str, origin: &str) -> Result<Vec<u8>, AuthError> {
    let text = text.trim();
    if text.len() < MIN_SECRET_LEN {
        return Err(AuthError::BadSecret(format!(
            "the secret from {origin} is shorter than {MIN_SECRET_LEN} characters"
        )));
    }
    Ok(text.as_bytes().to_vec())
}

fn read_secret(path: &Path) -> Result<Vec<u8>, AuthError> {
    let text = std::fs::read_to_string(path).map_err(|source| AuthError::SecretIo {
        path: path.to_path_buf(),
        source,
    })?;
    usable(&text, &path.display().to_string())
}

/// Writes a fresh secret to `path` unless another process got there first.
/// The secret is written whole to a private temporary file, then linked into
/// place: a reader never sees a half-written secret, and of two servers
/// starting at once, both end up with the one that was linked first.
fn create_secret(path: &Path) -> Result<(), AuthError> {
    let io = |source| AuthError::SecretIo {
        path: path.to_path_buf(),
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io)?;
    let bytes: [u8; 32] = rand::random();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let tmp = dir.join(format!(
        ".secret.{}.{:08x}",
        std::process::id(),
        rand::random::<u32>()
    ));
    let written = write_private(&tmp, format!("{hex}\n").as_bytes());
    let linked = written.and_then(|()| std::fs::hard_link(&tmp, path));
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => Err(io(e)),
        _ => Ok(()),
    }
}

fn write_private(path: &Path, content: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(content)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RegistryEntry;
    use crate::control::EndpointRole;
    use proptest::prelude::*;

    const NOW: u64 = 1_750_000_000;

    fn keys() -> Keys {
        Keys::new(b"a test secret of decent length")
    }

    fn endpoint_claims(code: &str) -> Claims {
        Claims::new(
            Role::Endpoint,
            Some(EndpointCode::from(code)),
            Some("hop-2025-01".into()),
            Duration::from_secs(3600),
            NOW,
        )
    }

    /// base64url without padding, as JWT segments are written.
    fn b64(bytes: &[u8]) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n = chunk.iter().fold(0u32, |acc, &b| (acc << 8) | u32::from(b))
                << (8 * (3 - chunk.len()));
            for i in 0..=chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            }
        }
        out
    }

    fn payload(claims: &Claims) -> String {
        b64(&serde_json::to_vec(claims).expect("json"))
    }

    #[test]
    fn a_minted_token_verifies_to_the_same_claims() {
        let claims = endpoint_claims("30").with_key(Some("k1".into()));
        let token = keys().mint(&claims).expect("mint");
        assert_eq!(keys().verify_at(&token, NOW + 10).expect("verify"), claims);
        for role in [Role::Chair, Role::Technician, Role::Viewer] {
            let claims = Claims::new(role, None, None, Duration::from_secs(60), NOW);
            let token = keys().mint(&claims).expect("mint");
            assert_eq!(keys().verify_at(&token, NOW).expect("verify").role, role);
        }
    }

    #[test]
    fn a_token_is_refused_from_its_expiry_on() {
        let token = keys().mint(&endpoint_claims("30")).expect("mint");
        assert!(keys().verify_at(&token, NOW + 3599).is_ok());
        assert!(matches!(
            keys().verify_at(&token, NOW + 3600),
            Err(AuthError::Expired)
        ));
        let old = Claims::new(Role::Chair, None, None, Duration::from_secs(60), 1_000);
        let token = keys().mint(&old).expect("mint");
        assert!(matches!(keys().verify(&token), Err(AuthError::Expired)));
    }

    #[test]
    fn another_secret_or_an_altered_payload_breaks_the_signature() {
        let forged = Keys::new(b"someone else's secret!!").mint(&endpoint_claims("30"));
        let forged = forged.expect("mint");
        assert!(matches!(
            keys().verify_at(&forged, NOW),
            Err(AuthError::BadSignature)
        ));

        let token = keys().mint(&endpoint_claims("30")).expect("mint");
        let parts: Vec<&str> = token.split('.').collect();
        let promoted = Claims::new(Role::Chair, None, None, Duration::from_secs(3600), NOW);
        let altered = format!("{}.{}.{}", parts[0], payload(&promoted), parts[2]);
        assert!(matches!(
            keys().verify_at(&altered, NOW),
            Err(AuthError::BadSignature)
        ));
    }

    #[test]
    fn only_hs256_is_accepted() {
        let claims = Claims::new(Role::Chair, None, None, Duration::from_secs(3600), NOW);
        let unsigned = format!(
            "{}.{}.",
            b64(br#"{"alg":"none","typ":"JWT"}"#),
            payload(&claims)
        );
        assert!(matches!(
            keys().verify_at(&unsigned, NOW),
            Err(AuthError::WrongAlgorithm)
        ));
        let hs384 = jsonwebtoken::encode(
            &Header::new(Algorithm::HS384),
            &claims,
            &EncodingKey::from_secret(b"a test secret of decent length"),
        )
        .expect("encode");
        assert!(matches!(
            keys().verify_at(&hs384, NOW),
            Err(AuthError::WrongAlgorithm)
        ));
    }

    #[test]
    fn garbage_is_malformed() {
        let header = b64(br#"{"alg":"HS256","typ":"JWT"}"#);
        for token in [
            "",
            ".",
            "..",
            "a.b.c",
            "Bearer x",
            "🙂.🙂.🙂",
            &format!("{header}.e30.sig"),
            &format!("{header}.!!!.x"),
            &"a".repeat(10_000),
        ] {
            let result = keys().verify_at(token, NOW);
            assert!(
                matches!(result, Err(AuthError::Malformed | AuthError::BadSignature)),
                "{token:.40}: {result:?}"
            );
        }
    }

    proptest! {
        #[test]
        fn no_string_verifies_or_panics(token in ".{0,200}") {
            prop_assert!(keys().verify_at(&token, NOW).is_err());
        }
    }

    #[test]
    fn endpoint_codes_go_on_endpoint_tokens_only() {
        let ttl = Duration::from_secs(60);
        let bare = Claims::new(Role::Endpoint, None, None, ttl, NOW);
        assert!(matches!(keys().mint(&bare), Err(AuthError::Invalid(_))));
        let chair = Claims::new(Role::Chair, Some("00".into()), None, ttl, NOW);
        assert!(matches!(keys().mint(&chair), Err(AuthError::Invalid(_))));
    }

    #[test]
    fn roles_parse_and_print() {
        for role in [Role::Chair, Role::Endpoint, Role::Technician, Role::Viewer] {
            assert_eq!(role.to_string().parse::<Role>().expect("parse"), role);
            let json = serde_json::to_string(&role).expect("json");
            assert_eq!(json, format!("\"{role}\""));
        }
        assert!("admin".parse::<Role>().is_err());
    }

    #[test]
    fn sessions_and_link_keys_scope_a_token() {
        let claims = endpoint_claims("30").with_key(Some("k1".into()));
        assert!(claims.allows_session("hop-2025-01"));
        assert!(!claims.allows_session("other"));
        let entry = |key: &str| RegistryEntry {
            code: "30".into(),
            name: "Hải Dương".into(),
            role: EndpointRole::Provincial,
            kind: None,
            formed_from: Vec::new(),
            link_key: Some(key.into()),
        };
        let central = RegistryEntry {
            code: "00".into(),
            name: "Trụ sở Chính phủ".into(),
            role: EndpointRole::Central,
            kind: None,
            formed_from: Vec::new(),
            link_key: None,
        };
        let current = Registry::from_entries(vec![central.clone(), entry("k1")]).expect("ok");
        assert!(claims.check_registry(&current).is_ok());
        let rotated = Registry::from_entries(vec![central.clone(), entry("k2")]).expect("ok");
        assert!(matches!(
            claims.check_registry(&rotated),
            Err(AuthError::Revoked)
        ));
        let gone = Registry::from_entries(vec![central]).expect("ok");
        assert!(claims.check_registry(&gone).is_err());
    }

    #[test]
    fn the_generated_secret_is_created_once_and_kept_private() {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        let first = resolve_secret(None, None, &data).expect("created");
        let second = resolve_secret(None, None, &data).expect("reused");
        assert_eq!(first, second);
        assert_eq!(first.len(), 64);
        assert!(first.iter().all(u8::is_ascii_hexdigit));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let meta = std::fs::metadata(data.join("secret")).expect("meta");
            assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        }
        let leftovers = std::fs::read_dir(&data).expect("dir").count();
        assert_eq!(leftovers, 1, "no temporary files are left behind");
    }

    #[test]
    fn the_environment_wins_then_the_configured_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("secret.txt");
        std::fs::write(&file, "  from-the-file-0123456789\n").expect("write");
        let from_env = resolve_secret(Some("from-the-env-0123456789"), Some(&file), dir.path());
        assert_eq!(from_env.expect("env"), b"from-the-env-0123456789");
        let from_file = resolve_secret(None, Some(&file), dir.path()).expect("file");
        assert_eq!(from_file, b"from-the-file-0123456789");
        assert!(!dir.path().join("secret").exists(), "nothing generated");
        let short = resolve_secret(Some("tiny-x"), None, dir.path());
        assert!(matches!(short, Err(AuthError::BadSecret(m)) if !m.contains("tiny-x")));
        let missing = resolve_secret(None, Some(&dir.path().join("absent")), dir.path());
        assert!(matches!(missing, Err(AuthError::SecretIo { .. })));
    }
}
