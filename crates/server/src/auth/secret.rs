//! Where the token signing secret comes from, and its first-run generation.

use super::AuthError;
use std::io::Write;
use std::path::Path;

/// The environment variable that holds the signing secret.
pub const SECRET_ENV: &str = "DIEMCAU_SECRET";

/// Shorter secrets are refused: HMAC is only as strong as its key.
const MIN_SECRET_LEN: usize = 16;

/// The signing secret, and whether this call generated it. A generated
/// secret means a first run: `serve` then prints the console links once,
/// and keeps tokens out of its output (and the service log) after that.
pub struct Secret {
    bytes: Vec<u8>,
    generated: bool,
}

impl Secret {
    /// The key material.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Whether this call wrote the secret to the data dir.
    pub fn generated(&self) -> bool {
        self.generated
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secret")
            .field("generated", &self.generated)
            .finish_non_exhaustive()
    }
}

/// The signing secret: `DIEMCAU_SECRET`, else `secret_file`, else
/// `<data_dir>/secret`, generated on first run (32 random bytes as hex, mode
/// 0600). The secret is never logged or put into an error message.
pub fn load_or_create_secret(
    secret_file: Option<&Path>,
    data_dir: &Path,
) -> Result<Secret, AuthError> {
    let from_env = match std::env::var(SECRET_ENV) {
        Ok(value) => Some(value),
        Err(std::env::VarError::NotPresent) => None,
        Err(std::env::VarError::NotUnicode(_)) => {
            return Err(AuthError::BadSecret(format!(
                "{SECRET_ENV} is not valid UTF-8"
            )))
        }
    };
    resolve_secret(from_env.as_deref(), secret_file, data_dir)
}

fn resolve_secret(
    from_env: Option<&str>,
    secret_file: Option<&Path>,
    data_dir: &Path,
) -> Result<Secret, AuthError> {
    let given = |bytes| Secret {
        bytes,
        generated: false,
    };
    if let Some(value) = from_env {
        return usable(value, SECRET_ENV).map(given);
    }
    if let Some(path) = secret_file {
        return read_secret(path).map(given);
    }
    let path = data_dir.join("secret");
    let generated = !path.exists() && create_secret(&path)?;
    Ok(Secret {
        bytes: read_secret(&path)?,
        generated,
    })
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

/// Writes a fresh secret to `path` unless another process got there first;
/// true when this one did.
fn create_secret(path: &Path) -> Result<bool, AuthError> {
    let bytes: [u8; 32] = rand::random();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    create_private_file(path, format!("{hex}\n").as_bytes()).map_err(|source| AuthError::SecretIo {
        path: path.to_path_buf(),
        source,
    })
}

/// Writes `content` to a new file at `path`, readable by its owner only,
/// unless the file exists already; true when this call wrote it. The
/// content goes whole to a private temporary file first, which is then
/// linked into place, so nobody reads a half-written key and of two
/// processes racing, both keep the first one linked. For the secret and
/// the minutes' signing key.
pub(crate) fn create_private_file(path: &Path, content: &[u8]) -> std::io::Result<bool> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let stem = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(
        ".{stem}.{}.{:08x}",
        std::process::id(),
        rand::random::<u32>()
    ));
    let written = write_private(&tmp, content);
    let linked = written.and_then(|()| std::fs::hard_link(&tmp, path));
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e),
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

    #[test]
    fn the_generated_secret_is_created_once_and_kept_private() {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        let first = resolve_secret(None, None, &data).expect("created");
        let second = resolve_secret(None, None, &data).expect("reused");
        assert!(first.generated() && !second.generated());
        let (first, second) = (first.as_bytes(), second.as_bytes());
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
        let from_env = from_env.expect("env");
        assert_eq!(from_env.as_bytes(), b"from-the-env-0123456789");
        assert!(!from_env.generated());
        let from_file = resolve_secret(None, Some(&file), dir.path()).expect("file");
        assert_eq!(from_file.as_bytes(), b"from-the-file-0123456789");
        assert!(!from_file.generated());
        assert!(!dir.path().join("secret").exists(), "nothing generated");
        let short = resolve_secret(Some("tiny-x"), None, dir.path());
        assert!(matches!(short, Err(AuthError::BadSecret(m)) if !m.contains("tiny-x")));
        let missing = resolve_secret(None, Some(&dir.path().join("absent")), dir.path());
        assert!(matches!(missing, Err(AuthError::SecretIo { .. })));
    }
}
