//! The `diemcau` binary's offline subcommands: check-config, token, invite,
//! report. Each test runs the built binary in a fresh directory.

use diemcau::auth::{Claims, Keys, Role};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn shipped(name: &str) -> PathBuf {
    // The shipped files sit at the repository's root.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../config")
        .join(name)
}

/// Runs the binary in `dir` with no secret in the environment.
fn run(dir: &Path, args: &[&str]) -> Run {
    run_with(dir, args, None)
}

fn run_with(dir: &Path, args: &[&str], secret: Option<&str>) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_diemcau"));
    command
        .args(args)
        .current_dir(dir)
        .env_remove("DIEMCAU_SECRET");
    if let Some(secret) = secret {
        command.env("DIEMCAU_SECRET", secret);
    }
    let Output {
        status,
        stdout,
        stderr,
    } = command.output().expect("the binary runs");
    Run {
        code: status.code(),
        stdout: String::from_utf8(stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8(stderr).expect("utf-8 stderr"),
    }
}

/// The keys a server with data dir `dir/data` would use.
fn keys_of(dir: &Path) -> Keys {
    let secret = std::fs::read_to_string(dir.join("data/secret")).expect("secret generated");
    Keys::new(secret.trim().as_bytes())
}

/// A failure is one line on stderr, not a panic.
fn assert_clean_failure(run: &Run, code: i32, needle: &str) {
    assert_eq!(run.code, Some(code), "{}", run.stderr);
    assert!(run.stderr.contains(needle), "{}", run.stderr);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
}

/// The shipped config and both registries pass the check.
#[test]
fn check_config_accepts_the_shipped_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let shipped_config = shipped("diemcau.toml");
    let ok = run(
        dir.path(),
        &[
            "check-config",
            "--config",
            shipped_config.to_str().expect("utf-8"),
        ],
    );
    assert_eq!(ok.code, Some(0), "{}", ok.stderr);
    assert_eq!(ok.stdout.trim(), "ok: 64 endpoints");

    let config = dir.path().join("layout-2025.toml");
    let registry = shipped("endpoints-34.toml");
    std::fs::write(&config, format!("registry = {:?}\n", registry)).expect("write");
    let ok = run(
        dir.path(),
        &["check-config", "--config", "layout-2025.toml"],
    );
    assert_eq!(ok.code, Some(0), "{}", ok.stderr);
    assert_eq!(ok.stdout.trim(), "ok: 35 endpoints");

    let defaults = run(dir.path(), &["check-config"]);
    assert_eq!(defaults.code, Some(0), "{}", defaults.stderr);
    assert!(defaults.stdout.starts_with("ok: 64 endpoints"));
}

/// Choices that are valid but cannot work as meant are warned about, and
/// the check still passes.
#[test]
fn check_config_warns_about_choices_that_cannot_work() {
    let dir = tempfile::tempdir().expect("tempdir");
    let registry = shipped("endpoints-63.toml");
    std::fs::write(
        dir.path().join("lan.toml"),
        format!(
            "registry = {registry:?}\npublic_url = \"https://hop.example.vn\"\n\
             [media]\nbind_ip = \"127.0.0.1\"\nudp_port = 0\n"
        ),
    )
    .expect("write");
    let out = run(dir.path(), &["check-config", "--config", "lan.toml"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let warnings: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("warning: "))
        .collect();
    assert_eq!(warnings.len(), 3, "{}", out.stdout);
    assert!(warnings[0].contains("bind_ip 127.0.0.1 is loopback"));
    assert!(
        warnings[1].contains("listen 127.0.0.1:8080 accepts connections from this machine only")
    );
    assert!(warnings[2].contains("udp_port 0"));
    assert!(out.stdout.trim_end().ends_with("ok: 64 endpoints"));
}

/// Every problem is listed with file and line, and the exit code is 1.
#[test]
fn check_config_lists_every_problem() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("bad.toml"),
        "listen = \"nowhere\"\nregistry = \"reg.toml\"\ncolour = 1\n",
    )
    .expect("write");
    std::fs::write(
        dir.path().join("reg.toml"),
        "[[endpoint]]\ncode = \"00\"\nname = \"A\"\nrole = \"central\"\n\
         [[endpoint]]\ncode = \"00\"\nname = \"B\"\nrole = \"provincial\"\n",
    )
    .expect("write");
    let out = run(dir.path(), &["check-config", "--config", "bad.toml"]);
    assert_eq!(out.code, Some(1));
    assert!(out.stdout.is_empty());
    for expected in [
        "bad.toml:1: invalid socket address",
        "bad.toml:3: unknown field `colour`",
        "reg.toml:6: duplicate endpoint code `00`",
        "3 problems",
    ] {
        assert!(
            out.stderr.contains(expected),
            "{expected:?} in {}",
            out.stderr
        );
    }
}

/// A token printed by the CLI carries what was asked for and verifies with
/// the secret generated into the data dir, which is then reused.
#[test]
fn token_is_signed_with_the_data_dir_secret() {
    let dir = tempfile::tempdir().expect("tempdir");
    let args = [
        "token",
        "--role",
        "endpoint",
        "--endpoint",
        "30",
        "--session",
        "hop-1",
        "--ttl",
        "2h",
    ];
    let out = run(dir.path(), &args);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let keys = keys_of(dir.path());
    let claims = keys.verify(out.stdout.trim()).expect("verifies");
    assert_eq!(claims.role, Role::Endpoint);
    assert_eq!(claims.endpoint.as_ref().map(|c| c.as_str()), Some("30"));
    assert_eq!(claims.session.as_deref(), Some("hop-1"));
    assert_eq!(claims.exp - claims.iat, 7200);

    let again = run(dir.path(), &["token", "--role", "viewer"]);
    assert_eq!(again.code, Some(0), "{}", again.stderr);
    let viewer = keys.verify(again.stdout.trim()).expect("same secret");
    assert_eq!(viewer.role, Role::Viewer);
    assert_eq!(viewer.exp - viewer.iat, 8 * 3600);
}

/// DIEMCAU_SECRET takes precedence over the data dir.
#[test]
fn token_uses_the_secret_from_the_environment() {
    let dir = tempfile::tempdir().expect("tempdir");
    let secret = "a-shared-secret-for-this-test";
    let out = run_with(dir.path(), &["token", "--role", "chair"], Some(secret));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let claims = Keys::new(secret.as_bytes()).verify(out.stdout.trim());
    assert_eq!(claims.expect("verifies").role, Role::Chair);
    assert!(!dir.path().join("data/secret").exists());
}

/// Impossible requests fail with exit 2 and one clear line.
#[test]
fn token_refuses_bad_requests() {
    let dir = tempfile::tempdir().expect("tempdir");
    let unknown = run(
        dir.path(),
        &["token", "--role", "endpoint", "--endpoint", "99"],
    );
    assert_clean_failure(&unknown, 2, "unknown endpoint code `99`");
    let missing = run(dir.path(), &["token", "--role", "endpoint"]);
    assert_clean_failure(&missing, 2, "needs --endpoint");
    let central = run(
        dir.path(),
        &["token", "--role", "endpoint", "--endpoint", "00"],
    );
    assert_clean_failure(&central, 2, "central room");
    let chair = run(
        dir.path(),
        &["token", "--role", "chair", "--endpoint", "30"],
    );
    assert_clean_failure(&chair, 2, "--endpoint goes with --role endpoint");
    let role = run(dir.path(), &["token", "--role", "king"]);
    assert_clean_failure(&role, 2, "unknown role `king`");
    let ttl = run(dir.path(), &["token", "--role", "chair", "--ttl", "soon"]);
    assert_clean_failure(&ttl, 2, "--ttl");
    let config = run(
        dir.path(),
        &["token", "--role", "chair", "--config", "absent.toml"],
    );
    assert_clean_failure(&config, 1, "absent.toml");
}

/// The CSV invitation has a BOM, a header, the chair, a technician and one
/// working link per provincial endpoint.
#[test]
fn invite_csv_links_every_endpoint() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = run(
        dir.path(),
        &["invite", "--session", "hop-1", "--format", "csv"],
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let body = out
        .stdout
        .strip_prefix('\u{feff}')
        .expect("starts with a BOM");
    let lines: Vec<&str> = body.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines[0], "role,code,name,link");
    assert_eq!(lines.len(), 1 + 2 + 63);
    let keys = keys_of(dir.path());
    for line in &lines[1..] {
        let fields: Vec<&str> = line.split(',').collect();
        let [role, code, _name, link] = fields[..] else {
            panic!("four fields in {line}");
        };
        let (page, token) = link
            .strip_prefix("http://127.0.0.1:8080/")
            .and_then(|rest| rest.split_once("#token="))
            .expect("a join link");
        let claims = keys.verify(token).expect("verifies");
        assert_eq!(claims.role.as_str(), role);
        assert_eq!(claims.session.as_deref(), Some("hop-1"));
        assert_eq!(claims.exp - claims.iat, 24 * 3600);
        let expected_page = match claims.role {
            Role::Chair => "chair",
            Role::Technician => "monitor",
            _ => "endpoint",
        };
        assert_eq!(page, expected_page);
        if claims.role == Role::Endpoint {
            assert_eq!(claims.endpoint.as_ref().map(|c| c.as_str()), Some(code));
        }
    }
    assert!(lines
        .iter()
        .any(|l| l.starts_with("endpoint,30,Hải Dương,")));
}

/// The text invitation is a readable table with the diacritics intact.
#[test]
fn invite_text_is_a_table() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = run(dir.path(), &["invite", "--session", "hop-1"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 2 + 63);
    assert!(lines[0].starts_with("chair") && lines[0].contains("/chair#token="));
    assert!(lines[1].starts_with("technician") && lines[1].contains("/monitor#token="));
    let hai_duong = lines.iter().find(|l| l.contains("Hải Dương")).expect("row");
    assert!(hai_duong.contains("/endpoint#token="));
    let columns: Vec<usize> = lines
        .iter()
        .filter_map(|l| l.find("http://").map(|i| l[..i].chars().count()))
        .collect();
    assert!(columns.windows(2).all(|w| w[0] == w[1]), "links line up");
}

/// Registry names reach the mail-merge CSV as text: a leading formula
/// character gets an apostrophe, and a name with `;` is quoted (with the
/// part after it guarded) for spreadsheets that split on `;`.
#[test]
fn invite_csv_keeps_registry_names_text() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("reg.toml"),
        "[[endpoint]]\ncode = \"00\"\nname = \"Trung ương\"\nrole = \"central\"\n\
         [[endpoint]]\ncode = \"01\"\nname = \"Lê A;=1+1\"\nrole = \"provincial\"\n\
         [[endpoint]]\ncode = \"02\"\nname = \"=HYPERLINK(\\\"http://x\\\")\"\nrole = \"provincial\"\n\
         [[endpoint]]\ncode = \"30\"\nname = \"Hải Dương\"\nrole = \"provincial\"\n",
    )
    .expect("write");
    std::fs::write(dir.path().join("c.toml"), "registry = \"reg.toml\"\n").expect("write");
    let out = run(
        dir.path(),
        &[
            "invite",
            "--session",
            "hop-1",
            "--format",
            "csv",
            "--config",
            "c.toml",
        ],
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.split("\r\n").collect();
    assert_eq!(lines[0], "\u{feff}role,code,name,link");
    let row = |code: &str| {
        lines
            .iter()
            .find(|l| l.starts_with(&format!("endpoint,{code},")))
            .copied()
            .unwrap_or_else(|| panic!("no row for {code} in {}", out.stdout))
    };
    assert!(
        row("01").starts_with("endpoint,01,\"Lê A;'=1+1\",http://"),
        "{}",
        row("01")
    );
    assert!(
        row("02").starts_with("endpoint,02,\"'=HYPERLINK(\"\"http://x\"\")\",http://"),
        "{}",
        row("02")
    );
    assert!(
        row("30").starts_with("endpoint,30,Hải Dương,http://"),
        "{}",
        row("30")
    );
}

/// `report` prints a stored session's attendance (text, CSV, JSON) from
/// the data dir alone, and names an unknown session clearly.
#[test]
fn report_prints_a_stored_session() {
    use diemcau::control::Command as Cmd;
    let dir = tempfile::tempdir().expect("tempdir");
    let data = store_session(
        dir.path(),
        vec![
            Cmd::Open,
            Cmd::Connect {
                endpoint: "30".into(),
            },
            Cmd::Start,
            Cmd::End,
        ],
    );
    let data_arg = data.to_str().expect("utf-8 path");

    let text = run(
        dir.path(),
        &["report", "--session", "hop-1", "--data", data_arg],
    );
    assert_eq!(text.code, Some(0), "{}", text.stderr);
    assert!(text.stdout.contains("Hải Dương"), "{}", text.stdout);

    let csv = run(
        dir.path(),
        &[
            "report",
            "--session",
            "hop-1",
            "--data",
            data_arg,
            "--format",
            "csv",
        ],
    );
    assert_eq!(csv.code, Some(0), "{}", csv.stderr);
    assert!(csv.stdout.starts_with('\u{feff}'), "CSV starts with a BOM");
    assert_eq!(
        csv.stdout.lines().count(),
        1 + 64,
        "a header and one row per endpoint"
    );

    let json = run(
        dir.path(),
        &[
            "report",
            "--session",
            "hop-1",
            "--data",
            data_arg,
            "--format",
            "json",
        ],
    );
    let value: serde_json::Value = serde_json::from_str(&json.stdout).expect("json report");
    assert_eq!(value["rows"].as_array().map(Vec::len), Some(64));

    let unknown = run(
        dir.path(),
        &["report", "--session", "khong-co", "--data", data_arg],
    );
    assert_clean_failure(&unknown, 1, "no session khong-co");
}

/// Session `hop-1` of the embedded registry in `dir/data`, made of
/// `commands`, one a minute. Returns the data dir.
fn store_session(dir: &Path, commands: Vec<diemcau::control::Command>) -> PathBuf {
    use diemcau::config::Registry;
    use diemcau::control::{Millis, Rules, Session, SessionId, SessionSpec};
    let data = dir.join("data");
    let spec = SessionSpec {
        id: SessionId("hop-1".into()),
        title: "Hội nghị thường kỳ".into(),
        endpoints: Registry::embedded().endpoint_infos(),
        rules: Rules::default(),
    };
    let t0 = Millis(1_764_300_000_000);
    let (mut session, created) = Session::create(spec, t0).expect("create");
    let mut log = vec![created];
    for (i, c) in commands.into_iter().enumerate() {
        log.extend(
            session
                .apply(c, t0.plus_secs(60 * i as u64))
                .expect("apply"),
        );
    }
    let mut store = diemcau::store::Store::open_in(&data).expect("store");
    store.append(&session.spec.id, &log).expect("append");
    data
}

/// A stored meeting in `dir/data`: Hải Dương speaks, called on, then the
/// session ends. Returns the data dir.
fn stored_meeting(dir: &Path) -> PathBuf {
    use diemcau::control::{Command as Cmd, GrantTarget};
    store_session(
        dir,
        vec![
            Cmd::Connect {
                endpoint: "30".into(),
            },
            Cmd::SetRepresentative {
                endpoint: "30".into(),
                name: "Nguyễn Minh Hùng".into(),
                title: "Phó Chủ tịch UBND tỉnh".into(),
                headcount: Some(20),
            },
            Cmd::Start,
            Cmd::GrantFloor {
                target: GrantTarget::Endpoint("30".into()),
            },
            Cmd::End,
        ],
    )
}

/// `report --format pdf --out` writes the minutes and their signature;
/// `verify` accepts them, and refuses a one-byte change of the PDF, a
/// changed signature, a signature moved to other minutes, and another
/// server's key, each with its reason on one line.
#[test]
fn verify_accepts_signed_minutes_and_names_what_is_wrong() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = stored_meeting(dir.path());
    let data_arg = data.to_str().expect("utf-8 path");
    let made = run(
        dir.path(),
        &[
            "report",
            "--session",
            "hop-1",
            "--data",
            data_arg,
            "--format",
            "pdf",
            "--out",
            "bien-ban.pdf",
        ],
    );
    assert_eq!(made.code, Some(0), "{}", made.stderr);
    assert!(made.stdout.is_empty(), "the PDF went to the file");
    let pdf = std::fs::read(dir.path().join("bien-ban.pdf")).expect("the PDF");
    assert!(pdf.starts_with(b"%PDF-"));
    let sig_text = std::fs::read_to_string(dir.path().join("bien-ban.pdf.sig")).expect("sig");
    let sig: serde_json::Value = serde_json::from_str(&sig_text).expect("JSON signature");
    assert_eq!(sig["session"], "hop-1");
    assert_eq!(sig["log_events"], 7, "{sig}");

    let ok = run(dir.path(), &["verify", "bien-ban.pdf", "--data", data_arg]);
    assert_eq!(ok.code, Some(0), "{}", ok.stderr);
    assert!(
        ok.stdout
            .starts_with("ok: bien-ban.pdf is the minutes of session hop-1, signed "),
        "{}",
        ok.stdout
    );
    assert!(
        ok.stdout.contains("its 7 events match the event log"),
        "{}",
        ok.stdout
    );

    // One byte of the PDF.
    let mut changed = pdf.clone();
    let at = changed.len() / 3;
    changed[at] = changed[at].wrapping_add(1);
    std::fs::write(dir.path().join("changed.pdf"), &changed).expect("write");
    let refused = run(
        dir.path(),
        &[
            "verify",
            "changed.pdf",
            "--signature",
            "bien-ban.pdf.sig",
            "--data",
            data_arg,
        ],
    );
    assert_clean_failure(&refused, 1, "PDF changed: its SHA-256 is ");

    // The signature itself, or what it says, changed.
    let mut bad = sig.clone();
    let signature = bad["signature"].as_str().expect("base64").to_string();
    let flipped = if signature.starts_with('A') { "B" } else { "A" };
    bad["signature"] = format!("{flipped}{}", &signature[1..]).into();
    let mut later = sig.clone();
    later["signed_at"] = "2099-01-01T00:00:00Z".into();
    let mut garbage = sig.clone();
    garbage["signature"] = "không phải chữ ký".into();
    for (name, value) in [
        ("bad.sig", &bad),
        ("later.sig", &later),
        ("garbage.sig", &garbage),
    ] {
        std::fs::write(dir.path().join(name), value.to_string()).expect("write");
        let refused = run(
            dir.path(),
            &[
                "verify",
                "bien-ban.pdf",
                "--signature",
                name,
                "--data",
                data_arg,
            ],
        );
        assert_clean_failure(&refused, 1, "bad signature");
    }

    // Another server's key: named, whether given as a file or a data dir.
    let other = dir.path().join("other");
    let key = diemcau::minutes::MinutesKey::load_or_create(&other).expect("another key");
    std::fs::write(dir.path().join("other.pem"), key.public().to_pem()).expect("write");
    let refused = run(
        dir.path(),
        &["verify", "bien-ban.pdf", "--public-key", "other.pem"],
    );
    assert_clean_failure(&refused, 1, "wrong key: signed with ");
    let refused = run(
        dir.path(),
        &[
            "verify",
            "bien-ban.pdf",
            "--data",
            other.to_str().expect("utf-8"),
        ],
    );
    assert_clean_failure(&refused, 1, "wrong key");
    // The right key as a file verifies without the data dir.
    let own = diemcau::minutes::MinutesKey::load(&data)
        .expect("readable")
        .expect("made by report");
    std::fs::write(dir.path().join("own.pem"), own.public().to_pem()).expect("write");
    let ok = run(
        dir.path(),
        &["verify", "bien-ban.pdf", "--public-key", "own.pem"],
    );
    assert_eq!(ok.code, Some(0), "{}", ok.stderr);

    // Nothing to trust, nothing to read, or not a signature.
    let empty = dir.path().join("empty");
    let refused = run(
        dir.path(),
        &[
            "verify",
            "bien-ban.pdf",
            "--data",
            empty.to_str().expect("utf-8"),
        ],
    );
    assert_clean_failure(&refused, 1, "no minutes key in ");
    assert!(
        !empty.join(diemcau::minutes::KEY_FILE).exists(),
        "verify makes no key"
    );
    let refused = run(dir.path(), &["verify", "missing.pdf", "--data", data_arg]);
    assert_clean_failure(&refused, 1, "missing.pdf");
    std::fs::write(dir.path().join("x.sig"), "not json").expect("write");
    let refused = run(
        dir.path(),
        &[
            "verify",
            "bien-ban.pdf",
            "--signature",
            "x.sig",
            "--data",
            data_arg,
        ],
    );
    assert_clean_failure(&refused, 1, "x.sig is not a minutes signature");
    std::fs::write(dir.path().join("junk.pem"), "hello").expect("write");
    let refused = run(
        dir.path(),
        &["verify", "bien-ban.pdf", "--public-key", "junk.pem"],
    );
    assert_clean_failure(&refused, 1, "not an Ed25519 public key");
    let both = run(
        dir.path(),
        &[
            "verify",
            "bien-ban.pdf",
            "--public-key",
            "own.pem",
            "--data",
            data_arg,
        ],
    );
    assert_eq!(both.code, Some(2), "{}", both.stderr);
}

/// `report --kind speaking-log` prints the turns; formats that do not fit
/// the kind are a usage error.
#[test]
fn report_prints_the_speaking_log_and_refuses_formats_that_do_not_fit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = stored_meeting(dir.path());
    let data_arg = data.to_str().expect("utf-8 path");
    let args = |extra: &[&'static str]| {
        let mut a = vec!["report", "--session", "hop-1", "--data", data_arg];
        a.extend_from_slice(extra);
        a
    };
    let text = run(dir.path(), &args(&["--kind", "speaking-log"]));
    assert_eq!(text.code, Some(0), "{}", text.stderr);
    assert!(
        text.stdout
            .contains("Hải Dương (30) — Nguyễn Minh Hùng, Phó Chủ tịch UBND tỉnh"),
        "{}",
        text.stdout
    );
    let csv = run(
        dir.path(),
        &args(&["--kind", "speaking-log", "--format", "csv"]),
    );
    assert_eq!(csv.code, Some(0), "{}", csv.stderr);
    assert!(csv.stdout.starts_with("\u{feff}kind,"), "{}", csv.stdout);
    assert!(csv.stdout.contains("\r\nfloor,"), "{}", csv.stdout);
    let json = run(
        dir.path(),
        &args(&["--kind", "speaking-log", "--format", "json"]),
    );
    let value: serde_json::Value = serde_json::from_str(&json.stdout).expect("json");
    assert_eq!(value["turns"][0]["end"], "session_ended");
    assert_eq!(value["turns"][0]["duration_secs"], 60);

    // No recording in the data dir: nothing to align chapters to.
    let vtt = run(dir.path(), &args(&["--format", "vtt"]));
    assert_clean_failure(&vtt, 1, "no recording");
    for (extra, needle) in [
        (
            &["--kind", "attendance", "--format", "pdf"][..],
            "--kind attendance is printed as text, csv, json",
        ),
        (
            &["--kind", "minutes", "--format", "csv"][..],
            "--kind minutes is printed as pdf",
        ),
        (
            &["--kind", "speaking-log", "--recording", "a.webm"][..],
            "--recording goes with --format vtt",
        ),
    ] {
        let refused = run(dir.path(), &args(extra));
        assert_clean_failure(&refused, 2, needle);
    }
    let unknown = run(
        dir.path(),
        &[
            "report",
            "--session",
            "khong-co",
            "--data",
            data_arg,
            "--format",
            "pdf",
            "--out",
            "x.pdf",
        ],
    );
    assert_clean_failure(&unknown, 1, "no session khong-co");
    assert!(!dir.path().join("x.pdf").exists());
}

/// A `diemcau serve` started by a test in its own directory, with its log
/// (stderr) in `serve.log` there; killed when dropped.
struct Serving {
    child: Child,
    /// What it printed on stdout up to `endpoint links:`.
    banner: Vec<String>,
    addr: String,
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `serve` on `dir/data` (no secret in the environment) with
/// `RUST_LOG=log_level`, and waits for the last line of its banner.
fn serve(dir: &Path, args: &[&str], log_level: &str) -> Serving {
    let registry = shipped("endpoints-63.toml");
    std::fs::write(
        dir.join("serve.toml"),
        format!("registry = {registry:?}\n[media]\nbind_ip = \"127.0.0.1\"\nudp_port = 0\n"),
    )
    .expect("write config");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("serve.log"))
        .expect("open log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_diemcau"))
        .args(["serve", "--config", "serve.toml", "--data", "data"])
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .current_dir(dir)
        .env_remove("DIEMCAU_SECRET")
        .env("RUST_LOG", log_level)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .expect("spawn serve");
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    // Reads to the end so the server never blocks on a full pipe.
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let _ = tx.send(line);
        }
    });
    let mut serving = Serving {
        child,
        banner: Vec::new(),
        addr: String::new(),
    };
    while !serving
        .banner
        .last()
        .is_some_and(|l| l.starts_with("endpoint links:"))
    {
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(line) => serving.banner.push(line),
            Err(_) => {
                let log = std::fs::read_to_string(dir.join("serve.log")).unwrap_or_default();
                panic!(
                    "no `endpoint links:` line; stdout {:?}, log:\n{log}",
                    serving.banner
                );
            }
        }
    }
    serving.addr = serving
        .banner
        .iter()
        .find_map(|l| l.strip_prefix("diemcau listening on http://"))
        .expect("the listening line")
        .trim()
        .to_string();
    serving
}

/// The token in the banner's line for `page` (`/chair#token=…`), if any.
fn console_token(banner: &[String], page: &str) -> Option<String> {
    banner.iter().find_map(|l| {
        l.split_once(&format!("/{page}#token="))
            .map(|(_, token)| token.trim().to_string())
    })
}

/// Console links with tokens are printed on the first run (the secret was
/// just generated: someone is setting up and needs a way in) and with
/// `--print-links`; any other start prints how to get them instead, so
/// the 8-hour chair token does not land in the service log at every start.
#[test]
fn serve_prints_console_tokens_only_on_first_run_or_when_asked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first = serve(dir.path(), &[], "info");
    let keys = keys_of(dir.path());
    let chair = console_token(&first.banner, "chair").expect("a chair link on the first run");
    assert_eq!(keys.verify(&chair).expect("verifies").role, Role::Chair);
    let monitor = console_token(&first.banner, "monitor").expect("a monitor link");
    assert_eq!(
        keys.verify(&monitor).expect("verifies").role,
        Role::Technician
    );
    drop(first);

    let again = serve(dir.path(), &[], "info");
    let banner = again.banner.join("\n");
    assert!(!banner.contains("#token="), "{banner}");
    assert!(banner.contains("diemcau token --role chair"), "{banner}");
    assert!(banner.contains("serve --print-links"), "{banner}");
    assert!(again.banner[0].starts_with("diemcau listening on http://127.0.0.1:"));
    assert!(
        again.banner[1].starts_with("media (UDP):     127.0.0.1:"),
        "{banner}"
    );
    drop(again);

    let asked = serve(dir.path(), &["--print-links"], "info");
    let chair = console_token(&asked.banner, "chair").expect("a chair link when asked");
    assert_eq!(keys.verify(&chair).expect("verifies").role, Role::Chair);
    assert!(console_token(&asked.banner, "monitor").is_some());
    assert!(asked
        .banner
        .last()
        .is_some_and(|l| l.starts_with("endpoint links:")));
}

/// One HTTP/1.1 GET; the whole response as text.
fn http_get(addr: &str, target: &str, bearer: Option<&str>) -> String {
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .expect("timeout");
    let auth = bearer
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "GET {target} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n"
    )
    .expect("send");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).expect("response");
    String::from_utf8_lossy(&response).into_owned()
}

/// With every log target at `trace`, requests carrying tokens (the
/// WebSocket's `?token=`, refused or accepted, and a bearer header) are
/// logged without them: the request span shows `token=REDACTED`.
#[test]
fn no_token_reaches_the_log_at_any_level() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = serve(dir.path(), &[], "trace");
    let printed = console_token(&server.banner, "chair").expect("first run prints links");
    let chair = keys_of(dir.path())
        .mint(&Claims::new(
            Role::Chair,
            None,
            None,
            Duration::from_secs(3600),
            diemcau::auth::now_secs(),
        ))
        .expect("mint");
    let refused = http_get(&server.addr, "/ws?token=SECRETVALUE&session=hop-1", None);
    assert!(refused.starts_with("HTTP/1.1 401"), "{refused}");
    let not_upgraded = http_get(&server.addr, &format!("/ws?token={chair}"), None);
    assert!(not_upgraded.starts_with("HTTP/1.1 400"), "{not_upgraded}");
    let listed = http_get(&server.addr, "/api/sessions", Some(&printed));
    assert!(listed.starts_with("HTTP/1.1 200"), "{listed}");
    drop(server);
    let log = std::fs::read_to_string(dir.path().join("serve.log")).expect("the log");
    assert!(
        log.contains("token=REDACTED"),
        "the requests were logged:\n{log}"
    );
    for secret in ["SECRETVALUE", chair.as_str(), printed.as_str()] {
        assert!(!log.contains(secret), "{secret} in the log");
    }
    let secret = std::fs::read_to_string(dir.path().join("data/secret")).expect("secret");
    assert!(
        !log.contains(secret.trim()),
        "the signing secret in the log"
    );
}
