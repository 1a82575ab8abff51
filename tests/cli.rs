//! The `diemcau` binary's offline subcommands: check-config, token, invite,
//! report. Each test runs the built binary in a fresh directory.

use diemcau::auth::{Keys, Role};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn shipped(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("config")
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
    assert!(warnings[1].contains("listen 127.0.0.1:8080 accepts connections from this machine only"));
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

/// `report` prints a stored session's attendance (text, CSV, JSON) from
/// the data dir alone, and names an unknown session clearly.
#[test]
fn report_prints_a_stored_session() {
    use diemcau::config::Registry;
    use diemcau::control::{Command as Cmd, Millis, Rules, Session, SessionId, SessionSpec};
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let spec = SessionSpec {
        id: SessionId("hop-1".into()),
        title: "Hội nghị thường kỳ".into(),
        endpoints: Registry::embedded().endpoint_infos(),
        rules: Rules::default(),
    };
    let t0 = Millis(1_764_300_000_000);
    let (mut session, created) = Session::create(spec, t0).expect("create");
    let mut log = vec![created];
    for (i, c) in [
        Cmd::Open,
        Cmd::Connect {
            endpoint: "30".into(),
        },
        Cmd::Start,
        Cmd::End,
    ]
    .into_iter()
    .enumerate()
    {
        log.extend(
            session
                .apply(c, t0.plus_secs(60 * i as u64))
                .expect("apply"),
        );
    }
    let mut store = diemcau::store::Store::open_in(&data).expect("store");
    store.append(&session.spec.id, &log).expect("append");
    drop(store);
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
