//! The minutes' detached signature: Ed25519 over the PDF's SHA-256 and
//! the SHA-256 of the session's event log.
//!
//! The key is made on first use in the data dir, `minutes-ed25519.key`
//! (the 32-byte seed as hex, readable by its owner only, written like the
//! token secret), and its public half is served unauthenticated at
//! `GET /api/minutes/public-key`. It is a different key from the token
//! secret on purpose: that one is shared by whoever mints tokens, and may
//! come from the environment; this one only says "this server wrote these
//! minutes from this log".
//!
//! What is signed is this UTF-8 text, each line ending in `\n`:
//!
//! ```text
//! diemcau minutes v1
//! session: hop-2026-11-28
//! pdf_sha256: <64 hex digits>
//! log_sha256: <64 hex digits>
//! log_events: 57
//! signed_at: 2026-11-28T10:15:00Z
//! ```
//!
//! so that the signature file cannot be moved to another session, another
//! length of the log or another time, and anyone can rebuild the text from
//! the `.sig` JSON and check it with any Ed25519 tool.

use super::{log_sha256, sha256_hex};
use crate::control::{Millis, SessionId};
use crate::store::StoredLog;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use utoipa::ToSchema;

/// The key file's name in the data dir.
pub const KEY_FILE: &str = "minutes-ed25519.key";

/// The first line of the signed text; a later format gets another.
const MAGIC: &str = "diemcau minutes v1";

/// An Ed25519 public key's DER `SubjectPublicKeyInfo` before the key's 32
/// bytes (RFC 8410), for PEM that OpenSSL reads.
const SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// Why the key could not be had.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The key file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The key file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The key file holds something else.
    #[error("{0}: not a minutes key (expected 64 hex digits)")]
    Malformed(PathBuf),
    /// A public key given to `verify` could not be read.
    #[error("not an Ed25519 public key: {0}")]
    BadPublicKey(String),
}

/// The server's signing key for minutes.
pub struct MinutesKey {
    key: SigningKey,
}

impl std::fmt::Debug for MinutesKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MinutesKey")
            .field("public", &self.public().to_base64())
            .finish_non_exhaustive()
    }
}

impl MinutesKey {
    /// The key in `data_dir`, made there if there is none yet.
    pub fn load_or_create(data_dir: &Path) -> Result<MinutesKey, KeyError> {
        let path = data_dir.join(KEY_FILE);
        if !path.exists() {
            let seed: [u8; 32] = rand::random();
            let hex: String = seed.iter().map(|b| format!("{b:02x}")).collect();
            crate::auth::create_private_file(&path, format!("{hex}\n").as_bytes()).map_err(
                |source| KeyError::Io {
                    path: path.clone(),
                    source,
                },
            )?;
        }
        Self::read(&path)
    }

    /// The key in `data_dir`, if there is one; never makes one (for
    /// `diemcau verify`, which must not vouch for a key it just made).
    pub fn load(data_dir: &Path) -> Result<Option<MinutesKey>, KeyError> {
        let path = data_dir.join(KEY_FILE);
        if !path.exists() {
            return Ok(None);
        }
        Self::read(&path).map(Some)
    }

    fn read(path: &Path) -> Result<MinutesKey, KeyError> {
        let text = std::fs::read_to_string(path).map_err(|source| KeyError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let seed = hex32(text.trim()).ok_or_else(|| KeyError::Malformed(path.to_path_buf()))?;
        Ok(MinutesKey {
            key: SigningKey::from_bytes(&seed),
        })
    }

    /// The public half.
    pub fn public(&self) -> PublicKey {
        PublicKey(self.key.verifying_key())
    }

    /// Signs the minutes `pdf` of `session`, made from `log`, at `now`.
    pub fn sign(
        &self,
        session: &SessionId,
        pdf: &[u8],
        log: &StoredLog,
        now: Millis,
    ) -> MinutesSignature {
        let mut signed = MinutesSignature {
            session: session.0.clone(),
            pdf_sha256: sha256_hex(pdf),
            log_sha256: log_sha256(log),
            log_events: u64::try_from(log.events.len()).unwrap_or(u64::MAX),
            signed_at: crate::report::rfc3339(now),
            algorithm: "Ed25519".into(),
            public_key: self.public().to_base64(),
            signature: String::new(),
        };
        let signature = self.key.sign(signed.message().as_bytes());
        signed.signature = BASE64.encode(signature.to_bytes());
        signed
    }
}

fn hex32(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// An Ed25519 public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    /// The 32 bytes, base64 (standard alphabet, padded).
    pub fn to_base64(&self) -> String {
        BASE64.encode(self.0.to_bytes())
    }

    /// As a PEM `PUBLIC KEY` (SubjectPublicKeyInfo), which OpenSSL reads.
    pub fn to_pem(&self) -> String {
        let mut der = SPKI_PREFIX.to_vec();
        der.extend_from_slice(&self.0.to_bytes());
        format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            BASE64.encode(der)
        )
    }

    /// A key as `diemcau verify --public-key` takes it: the PEM above, the
    /// JSON `GET /api/minutes/public-key` serves, or the bare base64.
    pub fn parse(text: &str) -> Result<PublicKey, KeyError> {
        let bad = |why: &str| KeyError::BadPublicKey(why.to_string());
        let text = text.trim();
        let raw = if let Some(body) = text.strip_prefix("-----BEGIN PUBLIC KEY-----") {
            let body = body
                .split("-----END PUBLIC KEY-----")
                .next()
                .unwrap_or_default();
            let b64: String = body.split_whitespace().collect();
            let der = BASE64
                .decode(b64)
                .map_err(|e| bad(&format!("PEM body: {e}")))?;
            der.strip_prefix(SPKI_PREFIX.as_slice())
                .ok_or_else(|| bad("the PEM holds another kind of key"))?
                .to_vec()
        } else if text.starts_with('{') {
            let json: PublicKeyBody =
                serde_json::from_str(text).map_err(|e| bad(&format!("JSON: {e}")))?;
            BASE64
                .decode(json.public_key)
                .map_err(|e| bad(&format!("public_key: {e}")))?
        } else {
            BASE64
                .decode(text)
                .map_err(|e| bad(&format!("base64: {e}")))?
        };
        let bytes: [u8; 32] = raw
            .try_into()
            .map_err(|_| bad("an Ed25519 key is 32 bytes"))?;
        VerifyingKey::from_bytes(&bytes)
            .map(PublicKey)
            .map_err(|_| bad("not a point on the curve"))
    }
}

/// `GET /api/minutes/public-key`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PublicKeyBody {
    /// Always `Ed25519`.
    #[serde(default)]
    pub algorithm: String,
    /// The key's 32 bytes, base64.
    pub public_key: String,
    /// The same key as PEM (SubjectPublicKeyInfo).
    #[serde(default)]
    pub pem: String,
}

impl From<&PublicKey> for PublicKeyBody {
    fn from(key: &PublicKey) -> Self {
        PublicKeyBody {
            algorithm: "Ed25519".into(),
            public_key: key.to_base64(),
            pem: key.to_pem(),
        }
    }
}

/// The `.sig` file: a detached signature of one minutes PDF.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MinutesSignature {
    /// The session.
    pub session: String,
    /// SHA-256 of the PDF, hex.
    pub pdf_sha256: String,
    /// SHA-256 of the log's canonical bytes (each stored event's JSON and
    /// a line feed, in order), hex.
    pub log_sha256: String,
    /// How many events of the log the minutes were made from.
    pub log_events: u64,
    /// When it was signed (RFC 3339, UTC).
    pub signed_at: String,
    /// Always `Ed25519`.
    pub algorithm: String,
    /// The signing key's 32 bytes, base64.
    pub public_key: String,
    /// The 64-byte signature of the signed text, base64.
    pub signature: String,
}

/// Why a signature does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// Signed with a key other than the one trusted.
    #[error("wrong key: signed with {signed_with}, not with the trusted key {trusted}")]
    WrongKey {
        /// The `.sig` file's key.
        signed_with: String,
        /// The trusted key.
        trusted: String,
    },
    /// The signature does not match its fields: the `.sig` file was
    /// changed, or was not made by this key.
    #[error("bad signature: the .sig file does not hold a valid signature of its fields")]
    BadSignature,
    /// The PDF is not the one signed.
    #[error("PDF changed: its SHA-256 is {found}, the signature is for {signed}")]
    PdfChanged {
        /// The PDF's hash now.
        found: String,
        /// The hash signed.
        signed: String,
    },
    /// The event log differs from the one signed.
    #[error("event log changed: its first {events} events hash to {found}, the signature is for {signed}")]
    LogChanged {
        /// How many events were hashed.
        events: u64,
        /// Their hash now.
        found: String,
        /// The hash signed.
        signed: String,
    },
}

impl MinutesSignature {
    /// The text the signature is over (see the module's docs).
    pub fn message(&self) -> String {
        format!(
            "{MAGIC}\nsession: {}\npdf_sha256: {}\nlog_sha256: {}\nlog_events: {}\nsigned_at: {}\n",
            self.session, self.pdf_sha256, self.log_sha256, self.log_events, self.signed_at
        )
    }

    /// Checks that `trusted` signed these fields and that `pdf` is the PDF
    /// they name. The checks go from the key to the PDF, so the reason
    /// given is the first thing that is wrong.
    pub fn verify(&self, pdf: &[u8], trusted: &PublicKey) -> Result<(), VerifyError> {
        if self.public_key != trusted.to_base64() {
            return Err(VerifyError::WrongKey {
                signed_with: self.public_key.clone(),
                trusted: trusted.to_base64(),
            });
        }
        let bytes: [u8; 64] = BASE64
            .decode(&self.signature)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or(VerifyError::BadSignature)?;
        trusted
            .0
            .verify_strict(self.message().as_bytes(), &Signature::from_bytes(&bytes))
            .map_err(|_| VerifyError::BadSignature)?;
        let found = sha256_hex(pdf);
        if !found.eq_ignore_ascii_case(&self.pdf_sha256) {
            return Err(VerifyError::PdfChanged {
                found,
                signed: self.pdf_sha256.clone(),
            });
        }
        Ok(())
    }

    /// Checks the log the minutes were made from: the first `log_events`
    /// events of `log` must hash to `log_sha256` (a session still live
    /// when its minutes were signed has grown since).
    pub fn verify_log(&self, log: &StoredLog) -> Result<(), VerifyError> {
        let mut prefix = log.clone();
        let n = usize::try_from(self.log_events).unwrap_or(usize::MAX);
        let changed = |found: String| VerifyError::LogChanged {
            events: self.log_events,
            found,
            signed: self.log_sha256.clone(),
        };
        if log.events.len() < n {
            return Err(changed(format!("(only {} events)", log.events.len())));
        }
        prefix.truncate(n);
        let found = log_sha256(&prefix);
        if found.eq_ignore_ascii_case(&self.log_sha256) {
            Ok(())
        } else {
            Err(changed(found))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A log of `n` events, stored as the store stores them.
    fn log_of(n: u64) -> StoredLog {
        use crate::control::{Event, EventKind};
        let events: Vec<Event> = (0..n)
            .map(|i| Event {
                at: Millis(i),
                kind: EventKind::Opened,
            })
            .collect();
        let payloads = events
            .iter()
            .map(|e| serde_json::to_string(e).expect("json"))
            .collect();
        StoredLog { events, payloads }
    }

    #[test]
    fn the_key_is_made_once_private_and_read_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        assert!(MinutesKey::load(&data).expect("no key").is_none());
        let made = MinutesKey::load_or_create(&data).expect("made");
        let again = MinutesKey::load_or_create(&data).expect("read");
        assert_eq!(made.public(), again.public());
        let loaded = MinutesKey::load(&data).expect("read").expect("there");
        assert_eq!(made.public(), loaded.public());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let meta = std::fs::metadata(data.join(KEY_FILE)).expect("meta");
            assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        }
        let text = std::fs::read_to_string(data.join(KEY_FILE)).expect("key");
        assert_eq!(text.trim().len(), 64);
        std::fs::write(data.join(KEY_FILE), "not a key\n").expect("write");
        assert!(matches!(
            MinutesKey::load(&data),
            Err(KeyError::Malformed(_))
        ));
        assert!(
            !format!("{made:?}").contains(text.trim()),
            "the seed is never shown"
        );
    }

    #[test]
    fn a_signature_holds_and_each_change_is_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = MinutesKey::load_or_create(dir.path()).expect("key");
        let pdf = b"%PDF-1.7 minutes".to_vec();
        let sig = key.sign(
            &SessionId("hop-1".into()),
            &pdf,
            &log_of(1),
            Millis(1_740_816_000_000),
        );
        assert_eq!(sig.signed_at, "2025-03-01T08:00:00Z");
        assert_eq!(sig.log_events, 1);
        assert_eq!(
            sig.log_sha256,
            sha256_hex(b"{\"at\":0,\"event\":\"opened\"}\n")
        );
        let public = key.public();
        assert_eq!(sig.verify(&pdf, &public), Ok(()));

        let mut changed = pdf.clone();
        changed[3] ^= 1;
        assert!(matches!(
            sig.verify(&changed, &public),
            Err(VerifyError::PdfChanged { .. })
        ));
        let mut moved = sig.clone();
        moved.session = "hop-2".into();
        assert_eq!(moved.verify(&pdf, &public), Err(VerifyError::BadSignature));
        let mut garbled = sig.clone();
        garbled.signature = "!!".into();
        assert_eq!(
            garbled.verify(&pdf, &public),
            Err(VerifyError::BadSignature)
        );
        let other = MinutesKey::load_or_create(&dir.path().join("other")).expect("key");
        assert!(matches!(
            sig.verify(&pdf, &other.public()),
            Err(VerifyError::WrongKey { .. })
        ));
        // Claiming the other key in the file does not help either.
        let mut claimed = sig.clone();
        claimed.public_key = other.public().to_base64();
        assert_eq!(
            claimed.verify(&pdf, &other.public()),
            Err(VerifyError::BadSignature)
        );
    }

    #[test]
    fn the_log_is_checked_up_to_the_events_signed() {
        let key = MinutesKey {
            key: SigningKey::from_bytes(&[7; 32]),
        };
        let sig = key.sign(&SessionId("s".into()), b"pdf", &log_of(2), Millis(0));
        assert_eq!(sig.log_events, 2);
        assert_eq!(sig.verify_log(&log_of(2)), Ok(()));
        // A session still live when signed has grown since: the events
        // signed are still there, unchanged.
        assert_eq!(sig.verify_log(&log_of(3)), Ok(()));
        assert!(matches!(
            sig.verify_log(&log_of(1)),
            Err(VerifyError::LogChanged { .. })
        ));
        let mut tampered = log_of(2);
        tampered.payloads[1] = tampered.payloads[1].replace("opened", "started");
        assert!(matches!(
            sig.verify_log(&tampered),
            Err(VerifyError::LogChanged { .. })
        ));
    }

    #[test]
    fn public_keys_read_as_pem_json_or_base64() {
        let key = MinutesKey {
            key: SigningKey::from_bytes(&[9; 32]),
        };
        let public = key.public();
        let pem = public.to_pem();
        assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA"));
        assert_eq!(PublicKey::parse(&pem).expect("pem"), public);
        let json = serde_json::to_string(&PublicKeyBody::from(&public)).expect("json");
        assert_eq!(PublicKey::parse(&json).expect("json"), public);
        assert_eq!(
            PublicKey::parse(&format!("  {}\n", public.to_base64())).expect("b64"),
            public
        );
        for bad in [
            "",
            "abc",
            "{\"x\":1}",
            "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----",
        ] {
            assert!(PublicKey::parse(bad).is_err(), "{bad:?}");
        }
    }
}
