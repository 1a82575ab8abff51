//! The `diemcau` command line: run the server, check its configuration, mint
//! tokens and join links, print a session's record (attendance, speaking
//! log, signed minutes) and check minutes against their signature.
//!
//! Every subcommand reads the config the way `serve` does and signs with the
//! same secret, so the links it prints are accepted by a server that shares
//! the data dir (or `DIEMCAU_SECRET`). Failures are one line on stderr and a
//! non-zero exit: 2 for a bad request on the command line, 1 for the rest.

use clap::{Args, Parser, Subcommand, ValueEnum};
use diemcau::auth::{self, AuthError, Claims, Keys, Role};
use diemcau::config::{self, Config, ConfigError, Registry};
use diemcau::control::{EndpointCode, EndpointRole};
use diemcau::server::ServeOptions;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "diemcau",
    version,
    about = "Videoconference bridge for chaired national meetings"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve {
        #[command(flatten)]
        files: Files,
        /// HTTP listen address [default: from the config].
        #[arg(long, value_name = "ADDR")]
        listen: Option<SocketAddr>,
        /// Media UDP port, 0 for any [default: from the config].
        #[arg(long, value_name = "PORT")]
        media_port: Option<u16>,
        /// Public IP written into ICE candidates (1:1 NAT).
        #[arg(long, value_name = "IP")]
        public_ip: Option<IpAddr>,
        /// Print the chair's and a technician's console links with fresh
        /// 8-hour tokens (done by itself only on the first run, since
        /// stdout often ends up in a service log).
        #[arg(long)]
        print_links: bool,
    },
    /// Check the config file and its endpoint registry; list every problem.
    CheckConfig {
        /// Config file [default: config/diemcau.toml, else the built-in defaults].
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Print one signed token.
    Token {
        /// chair, endpoint, technician or viewer.
        #[arg(long, value_name = "ROLE")]
        role: Role,
        /// The endpoint's code (endpoint tokens only).
        #[arg(long, value_name = "CODE")]
        endpoint: Option<String>,
        /// Limit the token to one session.
        #[arg(long, value_name = "ID")]
        session: Option<String>,
        /// How long the token is good for (e.g. 8h, 2days).
        #[arg(long, default_value = "8h", value_parser = parse_ttl)]
        ttl: Duration,
        #[command(flatten)]
        files: Files,
    },
    /// Print every endpoint's join link for a session, plus the chair's and a
    /// technician's.
    Invite {
        /// The session the links are for.
        #[arg(long, value_name = "ID")]
        session: String,
        /// text, or csv (UTF-8 with BOM, for spreadsheets).
        #[arg(long, value_enum, default_value_t = InviteFormat::Text)]
        format: InviteFormat,
        /// How long the links are good for.
        #[arg(long, default_value = "24h", value_parser = parse_ttl)]
        ttl: Duration,
        #[command(flatten)]
        files: Files,
    },
    /// Make a TLS certificate for HTTPS on a private network: self-signed,
    /// or with --ca a small internal CA (install its ca.crt on the rooms'
    /// machines) and a server certificate it signs.
    Cert {
        /// A DNS name or IP address the server is reached at; repeat it
        /// for more.
        #[arg(long = "name", value_name = "NAME")]
        names: Vec<String>,
        /// Also make an internal CA that signs the server certificate.
        #[arg(long)]
        ca: bool,
        /// Years the server certificate is valid for.
        #[arg(long, default_value_t = 2)]
        years: u16,
        /// Directory to write server.crt and server.key (and ca.crt,
        /// ca.key) into; existing files are not overwritten.
        #[arg(long, value_name = "DIR", default_value = ".")]
        out: PathBuf,
    },
    /// Print a session's record from the event log: the attendance report,
    /// the speaking log, or the minutes (biên bản) as a signed PDF.
    Report {
        /// The session.
        #[arg(long, value_name = "ID")]
        session: String,
        /// attendance, speaking-log or minutes [default: minutes for
        /// --format pdf, speaking-log for --format vtt, else attendance].
        #[arg(long, value_enum)]
        kind: Option<ReportKind>,
        /// text, csv or json; vtt (speaking-log: WebVTT chapters of a
        /// recording); pdf (minutes).
        #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
        format: ReportFormat,
        /// With --format vtt: the recording file the chapters are aligned to
        /// [default: the session's first recording].
        #[arg(long, value_name = "NAME")]
        recording: Option<String>,
        /// Write to FILE instead of stdout; with --format pdf also FILE.sig,
        /// the signature (the minutes key in the data dir, made if missing).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        #[command(flatten)]
        files: Files,
    },
    /// Check minutes against their signature: exit 0 when the key is the
    /// trusted one, the signature holds and the PDF is the one signed.
    Verify {
        /// The minutes PDF.
        #[arg(value_name = "MINUTES.pdf")]
        pdf: PathBuf,
        /// The signature [default: MINUTES.pdf.sig].
        #[arg(long, value_name = "FILE")]
        signature: Option<PathBuf>,
        /// The trusted public key (PEM, the JSON of GET
        /// /api/minutes/public-key, or base64) [default: the minutes key in
        /// the data dir, whose event log is then checked too].
        #[arg(long, value_name = "FILE", conflicts_with = "data")]
        public_key: Option<PathBuf>,
        #[command(flatten)]
        files: Files,
    },
}

/// Where the config and the data live.
#[derive(Args)]
struct Files {
    /// Config file [default: config/diemcau.toml, else the built-in defaults].
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Data dir (event log, generated secret) [default: from the config].
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum InviteFormat {
    Text,
    Csv,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ReportFormat {
    Text,
    Csv,
    Json,
    Vtt,
    Pdf,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ReportKind {
    Attendance,
    SpeakingLog,
    Minutes,
}

fn parse_ttl(text: &str) -> Result<Duration, String> {
    let ttl = humantime::parse_duration(text).map_err(|e| e.to_string())?;
    if ttl.as_secs() == 0 {
        return Err("must be at least one second".to_string());
    }
    Ok(ttl)
}

/// Why a subcommand failed.
#[derive(Debug, thiserror::Error)]
enum CliError {
    /// The command line asks for something that cannot be (exit 2).
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Report(#[from] diemcau::report::ReportError),
    #[error(transparent)]
    Minutes(#[from] diemcau::minutes::MinutesError),
    #[error(transparent)]
    Key(#[from] diemcau::minutes::signature::KeyError),
    /// The minutes do not check out (exit 1).
    #[error("{0}")]
    Verify(String),
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("writing CSV: {0}")]
    Csv(#[from] csv::Error),
    #[error("{0:#}")]
    Server(anyhow::Error),
    #[error(transparent)]
    Cert(#[from] diemcau::cert::CertError),
    #[error("{path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl CliError {
    fn exit_code(&self) -> ExitCode {
        match self {
            CliError::Usage(_) => ExitCode::from(2),
            _ => ExitCode::FAILURE,
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve {
            files,
            listen,
            media_port,
            public_ip,
            print_links,
        } => {
            let options = ServeOptions {
                config: files.config,
                data: files.data,
                listen,
                media_port,
                public_ip,
                print_links,
            };
            diemcau::server::run(options)
                .await
                .map_err(CliError::Server)
        }
        Command::CheckConfig { config } => return check_config(config.as_deref()),
        Command::Token {
            role,
            endpoint,
            session,
            ttl,
            files,
        } => token(role, endpoint, session, ttl, &files),
        Command::Invite {
            session,
            format,
            ttl,
            files,
        } => invite(&session, format, ttl, &files),
        Command::Report {
            session,
            kind,
            format,
            recording,
            out,
            files,
        } => report(
            &session,
            kind,
            format,
            recording.as_deref(),
            out.as_deref(),
            &files,
        ),
        Command::Verify {
            pdf,
            signature,
            public_key,
            files,
        } => verify(&pdf, signature, public_key.as_deref(), &files),
        Command::Cert {
            names,
            ca,
            years,
            out,
        } => cert(&names, ca, years, &out),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            e.exit_code()
        }
    }
}

/// Prints every problem (exit 1), or `ok: N endpoints` (exit 0).
fn check_config(path: Option<&Path>) -> ExitCode {
    let default = Path::new(config::DEFAULT_PATH);
    let path = match path {
        Some(path) => path,
        None if default.exists() => default,
        None => {
            let registry = Registry::embedded();
            println!(
                "ok: {} endpoints (no {}; the built-in defaults are used)",
                registry.endpoints.len(),
                default.display()
            );
            return ExitCode::SUCCESS;
        }
    };
    let problems = config::check(path);
    if problems.is_empty() {
        return match config::load_effective(Some(path)) {
            Ok((config, registry)) => {
                for warning in config::warnings(&config) {
                    println!("warning: {warning}");
                }
                println!("ok: {} endpoints", registry.endpoints.len());
                ExitCode::SUCCESS
            }
            // Only if the files changed between the check and this load.
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        };
    }
    for problem in &problems {
        eprintln!("{problem}");
    }
    let count = problems.len();
    eprintln!("{count} problem{}", if count == 1 { "" } else { "s" });
    ExitCode::FAILURE
}

/// Writes a certificate and its key (see `diemcau::cert`); never over an
/// existing file, and the keys readable by their owner only.
fn cert(names: &[String], ca: bool, years: u16, out: &Path) -> Result<(), CliError> {
    let made = diemcau::cert::make(names, ca, years)?;
    let write_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| CliError::Write { path, source }
    };
    std::fs::create_dir_all(out).map_err(write_err(out))?;
    for (name, _, _) in &made.files {
        let path = out.join(name);
        if path.exists() {
            return Err(CliError::Usage(format!(
                "{} exists; remove it or choose another --out",
                path.display()
            )));
        }
    }
    for (name, pem, private) in &made.files {
        let path = out.join(name);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        if *private {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&path).map_err(write_err(&path))?;
        std::io::Write::write_all(&mut file, pem.as_bytes()).map_err(write_err(&path))?;
        println!("wrote {}", path.display());
    }
    println!(
        "[tls] cert_file = {:?}, key_file = {:?}",
        out.join("server.crt"),
        out.join("server.key")
    );
    Ok(())
}

/// The config, registry and signing keys, loaded the way `serve` loads them.
fn load(files: &Files) -> Result<(Config, Registry, Keys), CliError> {
    let (config, registry) = config::load_effective(files.config.as_deref())?;
    let data_dir = files.data.as_ref().unwrap_or(&config.data_dir);
    let secret = auth::load_or_create_secret(config.secret_file.as_deref(), data_dir)?;
    let keys = Keys::new(secret.as_bytes());
    Ok((config, registry, keys))
}

fn token(
    role: Role,
    endpoint: Option<String>,
    session: Option<String>,
    ttl: Duration,
    files: &Files,
) -> Result<(), CliError> {
    let (_, registry, keys) = load(files)?;
    let (endpoint, key) = match (role, endpoint) {
        (Role::Endpoint, None) => {
            return Err(CliError::Usage(
                "--role endpoint needs --endpoint CODE".into(),
            ))
        }
        (Role::Endpoint, Some(code)) => {
            let entry = registry_endpoint(&registry, &code)?;
            (Some(entry.code.clone()), entry.link_key.clone())
        }
        (role, Some(_)) => {
            return Err(CliError::Usage(format!(
                "--endpoint goes with --role endpoint, not --role {role}"
            )))
        }
        (_, None) => (None, None),
    };
    let claims = Claims::new(role, endpoint, session, ttl, auth::now_secs()).with_key(key);
    println!("{}", keys.mint(&claims)?);
    Ok(())
}

/// The provincial endpoint with this code, or why there is none.
fn registry_endpoint<'r>(
    registry: &'r Registry,
    code: &str,
) -> Result<&'r diemcau::config::RegistryEntry, CliError> {
    match registry.get(&EndpointCode::from(code)) {
        Some(entry) if entry.role == EndpointRole::Provincial => Ok(entry),
        Some(entry) => Err(CliError::Usage(format!(
            "endpoint `{code}` ({}) is the central room; use --role chair",
            entry.name
        ))),
        None => {
            Err(CliError::Usage(format!(
            "unknown endpoint code `{code}`: not in the registry ({} endpoints, codes {} to {})",
            registry.endpoints.len(),
            registry.endpoints.first().map(|e| e.code.as_str()).unwrap_or("-"),
            registry.endpoints.last().map(|e| e.code.as_str()).unwrap_or("-"),
        )))
        }
    }
}

/// A value's name on the command line.
fn name<T: ValueEnum>(value: &T) -> String {
    value
        .to_possible_value()
        .map(|p| p.get_name().to_string())
        .unwrap_or_default()
}

/// Prints a session's record from the store, so it can be taken after the
/// meeting without a running server.
fn report(
    session: &str,
    kind: Option<ReportKind>,
    format: ReportFormat,
    recording: Option<&str>,
    out: Option<&Path>,
    files: &Files,
) -> Result<(), CliError> {
    let kind = kind.unwrap_or(match format {
        ReportFormat::Pdf => ReportKind::Minutes,
        ReportFormat::Vtt => ReportKind::SpeakingLog,
        _ => ReportKind::Attendance,
    });
    let allowed: &[ReportFormat] = match kind {
        ReportKind::Attendance => &[ReportFormat::Text, ReportFormat::Csv, ReportFormat::Json],
        ReportKind::SpeakingLog => &[
            ReportFormat::Text,
            ReportFormat::Csv,
            ReportFormat::Json,
            ReportFormat::Vtt,
        ],
        ReportKind::Minutes => &[ReportFormat::Pdf],
    };
    if !allowed.contains(&format) {
        let names: Vec<String> = allowed.iter().map(name).collect();
        return Err(CliError::Usage(format!(
            "--kind {} is printed as {}, not --format {}",
            name(&kind),
            names.join(", "),
            name(&format)
        )));
    }
    if recording.is_some() && format != ReportFormat::Vtt {
        return Err(CliError::Usage("--recording goes with --format vtt".into()));
    }
    let (config, _) = config::load_effective(files.config.as_deref())?;
    let data_dir = files.data.as_ref().unwrap_or(&config.data_dir);
    let id = diemcau::control::SessionId(session.to_string());
    let mut bytes = Vec::new();
    match kind {
        ReportKind::Attendance => {
            diemcau::report::print_from_store(data_dir, &id, &name(&format), &mut bytes)?;
        }
        ReportKind::SpeakingLog => {
            let log = diemcau::minutes::log_from_store(data_dir, session)?;
            let speaking = diemcau::speaking_log::speaking_log(&log.events, now_millis());
            bytes = match format {
                ReportFormat::Csv => diemcau::speaking_log::to_csv(&speaking)?.into_bytes(),
                ReportFormat::Json => {
                    let mut json = serde_json::to_vec_pretty(&speaking)
                        .map_err(|e| CliError::Usage(e.to_string()))?;
                    json.push(b'\n');
                    json
                }
                ReportFormat::Vtt => {
                    let folder = data_dir.join("recordings").join(session);
                    let starts = diemcau::speaking_log::recording_starts(&folder, &id);
                    let window =
                        diemcau::speaking_log::recording_window(&starts, recording, &speaking)
                            .map_err(|e| {
                                CliError::Verify(format!("{e} (in {})", folder.display()))
                            })?;
                    diemcau::speaking_log::to_vtt(&speaking, &window).into_bytes()
                }
                _ => diemcau::speaking_log::to_text(&speaking).into_bytes(),
            };
        }
        ReportKind::Minutes => {
            let log = diemcau::minutes::log_from_store(data_dir, session)?;
            bytes = diemcau::minutes::render(&log)?;
            if let Some(out) = out {
                let key = diemcau::minutes::MinutesKey::load_or_create(data_dir)?;
                let signed = key.sign(&id, &bytes, &log, now_millis());
                let sig_path = sig_path_of(out);
                let mut json = serde_json::to_vec_pretty(&signed)
                    .map_err(|e| CliError::Usage(e.to_string()))?;
                json.push(b'\n');
                write_file(out, &bytes)?;
                write_file(&sig_path, &json)?;
                eprintln!(
                    "wrote {} and its signature {}",
                    out.display(),
                    sig_path.display()
                );
                return Ok(());
            }
        }
    }
    match out {
        Some(path) => write_file(path, &bytes),
        None => {
            use std::io::Write as _;
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(&bytes)
                .and_then(|()| stdout.flush())
                .map_err(|source| CliError::Write {
                    path: PathBuf::from("stdout"),
                    source,
                })
        }
    }
}

fn now_millis() -> diemcau::control::Millis {
    diemcau::control::Millis(auth::now_secs().saturating_mul(1000))
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    std::fs::write(path, bytes).map_err(|source| CliError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// `MINUTES.pdf` → `MINUTES.pdf.sig`.
fn sig_path_of(pdf: &Path) -> PathBuf {
    let mut name = pdf.as_os_str().to_owned();
    name.push(".sig");
    PathBuf::from(name)
}

/// Checks minutes against their signature and the trusted key; with the
/// data dir's key, also against the data dir's event log when it holds the
/// session. One line either way.
fn verify(
    pdf_path: &Path,
    signature: Option<PathBuf>,
    public_key: Option<&Path>,
    files: &Files,
) -> Result<(), CliError> {
    use diemcau::minutes::{MinutesKey, MinutesSignature, PublicKey};
    let read = |path: &Path| {
        std::fs::read(path).map_err(|source| CliError::Read {
            path: path.to_path_buf(),
            source,
        })
    };
    let sig_path = signature.unwrap_or_else(|| sig_path_of(pdf_path));
    let pdf = read(pdf_path)?;
    let signed: MinutesSignature = serde_json::from_slice(&read(&sig_path)?).map_err(|e| {
        CliError::Verify(format!(
            "{} is not a minutes signature: {e}",
            sig_path.display()
        ))
    })?;
    let (trusted, data_dir) = match public_key {
        Some(path) => {
            let text = String::from_utf8_lossy(&read(path)?).into_owned();
            let key = PublicKey::parse(&text)
                .map_err(|e| CliError::Verify(format!("{}: {e}", path.display())))?;
            (key, None)
        }
        None => {
            let (config, _) = config::load_effective(files.config.as_deref())?;
            let data_dir = files.data.clone().unwrap_or(config.data_dir);
            let key = MinutesKey::load(&data_dir)?.ok_or_else(|| {
                CliError::Verify(format!(
                    "no minutes key in {} ({}): give the data dir of the server that signed \
                     (--data DIR) or its public key (--public-key FILE)",
                    data_dir.display(),
                    diemcau::minutes::KEY_FILE
                ))
            })?;
            (key.public(), Some(data_dir))
        }
    };
    signed
        .verify(&pdf, &trusted)
        .map_err(|e| CliError::Verify(format!("{}: {e}", pdf_path.display())))?;
    let log_note = match &data_dir {
        None => String::new(),
        Some(dir) => match diemcau::minutes::log_from_store(dir, &signed.session) {
            Ok(log) => {
                signed
                    .verify_log(&log)
                    .map_err(|e| CliError::Verify(format!("{}: {e}", pdf_path.display())))?;
                format!(
                    "; its {} events match the event log in {}",
                    signed.log_events,
                    dir.display()
                )
            }
            Err(_) => format!(
                "; the event log ({} events) is not in {}",
                signed.log_events,
                dir.display()
            ),
        },
    };
    println!(
        "ok: {} is the minutes of session {}, signed {} by Ed25519 key {}{}",
        pdf_path.display(),
        signed.session,
        signed.signed_at,
        signed.public_key,
        log_note
    );
    Ok(())
}

/// One line of an invitation.
struct Invitation {
    role: Role,
    code: String,
    name: String,
    link: String,
}

fn invite(
    session: &str,
    format: InviteFormat,
    ttl: Duration,
    files: &Files,
) -> Result<(), CliError> {
    if session.trim().is_empty() {
        return Err(CliError::Usage("--session must not be empty".into()));
    }
    let (config, registry, keys) = load(files)?;
    let now = auth::now_secs();
    let base = config.base_url();
    let session = Some(session.to_string());
    let link = |role: Role, endpoint: Option<EndpointCode>, key: Option<String>, page: &str| {
        let claims = Claims::new(role, endpoint, session.clone(), ttl, now).with_key(key);
        keys.mint(&claims)
            .map(|token| format!("{base}/{page}#token={token}"))
    };
    let central = registry.central();
    let mut rows = vec![
        Invitation {
            role: Role::Chair,
            code: central.code.to_string(),
            name: central.name.clone(),
            link: link(Role::Chair, None, None, "chair")?,
        },
        Invitation {
            role: Role::Technician,
            code: String::new(),
            name: "Kỹ thuật".to_string(),
            link: link(Role::Technician, None, None, "monitor")?,
        },
    ];
    for entry in registry.provincial() {
        rows.push(Invitation {
            role: Role::Endpoint,
            code: entry.code.to_string(),
            name: entry.name.clone(),
            link: link(
                Role::Endpoint,
                Some(entry.code.clone()),
                entry.link_key.clone(),
                "endpoint",
            )?,
        });
    }
    let out = match format {
        InviteFormat::Text => as_text(&rows),
        InviteFormat::Csv => as_csv(&rows)?,
    };
    print!("{out}");
    Ok(())
}

/// Columns padded by characters, not bytes, so names with diacritics line up.
fn as_text(rows: &[Invitation]) -> String {
    let width =
        |f: fn(&Invitation) -> &str| rows.iter().map(|r| f(r).chars().count()).max().unwrap_or(0);
    let code_w = width(|r| &r.code);
    let name_w = width(|r| &r.name);
    let mut out = String::new();
    for r in rows {
        out.push_str(&format!(
            "{:<10}  {:<code_w$}  {:<name_w$}  {}\n",
            r.role.as_str(),
            r.code,
            r.name,
            r.link
        ));
    }
    out
}

/// For mail merge: the project's one spreadsheet CSV writer (BOM,
/// quoting, formula guard), so a registry name cannot run as a formula.
fn as_csv(rows: &[Invitation]) -> Result<String, CliError> {
    let rows = rows.iter().map(|r| {
        [
            r.role.as_str().to_string(),
            r.code.clone(),
            r.name.clone(),
            r.link.clone(),
        ]
    });
    Ok(diemcau::spreadsheet::to_csv(
        ["role", "code", "name", "link"],
        rows,
    )?)
}
