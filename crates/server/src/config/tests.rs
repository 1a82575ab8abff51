use super::*;
use crate::control::{EndpointCode, EndpointRole};
use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};

fn shipped(name: &str) -> PathBuf {
    // The shipped files sit at the repository's root.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../config")
        .join(name)
}

/// Writes `files` into a fresh directory and returns it.
fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).expect("write");
    }
    dir
}

const SMALL_REGISTRY: &str = "\
[[endpoint]]
code = \"00\"
name = \"Trụ sở Chính phủ\"
role = \"central\"

[[endpoint]]
code = \"30\"
name = \"Hải Dương\"
role = \"provincial\"
";

/// Each problem as `line: message`, for compact assertions.
fn lines(problems: &[Problem]) -> Vec<(Option<usize>, String)> {
    problems
        .iter()
        .map(|p| (p.line, p.message.clone()))
        .collect()
}

fn assert_problem(problems: &[Problem], file: &Path, line: Option<usize>, needle: &str) {
    let found = problems
        .iter()
        .any(|p| p.file == file && p.line == line && p.message.contains(needle));
    assert!(
        found,
        "no problem {needle:?} at {}:{line:?} in {:#?}",
        file.display(),
        lines(problems)
    );
}

#[test]
fn the_shipped_file_holds_the_compiled_defaults() {
    assert_eq!(Config::embedded(), Config::default());
    let loaded = Config::load(&shipped("diemcau.toml")).expect("shipped config loads");
    assert_eq!(loaded.registry, shipped("endpoints-63.toml"));
    assert_eq!(
        Config {
            registry: Config::default().registry,
            ..loaded
        },
        Config::default()
    );
    assert!(check(&shipped("diemcau.toml")).is_empty());
    // Equal values would hold with a key left out too; an operator reads
    // the file to learn what can be set, so every session rule is written
    // there (speaking_limit_secs, absent for "unlimited", is serialized by
    // no one and stays a comment).
    let text = std::fs::read_to_string(shipped("diemcau.toml")).expect("read shipped");
    let file: toml::Table = toml::from_str(&text).expect("shipped TOML");
    let written = file
        .get("session")
        .and_then(toml::Value::as_table)
        .expect("[session]");
    let compiled = toml::Table::try_from(SessionDefaults::default()).expect("as TOML");
    for key in compiled.keys() {
        assert!(
            written.contains_key(key),
            "[session] {key} is not in the shipped file"
        );
    }
}

#[test]
fn session_defaults_become_rules() {
    let config: Config = toml::from_str(
        "[session]\nmax_floor_holders = 2\nspeaking_limit_secs = 120\nauto_revoke = true\n\
         content_rule = \"chair_grants\"\ncontent_ends_with_floor = false\n",
    )
    .expect("parses");
    let rules = config.rules();
    assert_eq!(rules.max_floor_holders, 2);
    assert_eq!(rules.speaking_limit_secs, Some(120));
    assert!(rules.auto_revoke);
    assert_eq!(rules.drop_grace_secs, 30);
    assert_eq!(rules.content_rule, crate::control::ContentRule::ChairGrants);
    assert!(!rules.content_ends_with_floor);
    assert_eq!(Config::default().rules(), crate::control::Rules::default());
    let defaults = Config::default().rules();
    assert_eq!(
        defaults.content_rule,
        crate::control::ContentRule::FloorOrChair
    );
    assert!(defaults.content_ends_with_floor);
}

#[test]
fn bad_content_rules_are_named_at_their_line() {
    let config = "\
registry = \"reg.toml\"
[session]
content_rule = \"anyone\"
content_ends_with_floor = \"yes\"
";
    let dir = dir_with(&[("diemcau.toml", config), ("reg.toml", SMALL_REGISTRY)]);
    let file = dir.path().join("diemcau.toml");
    let problems = check(&file);
    assert_problem(&problems, &file, Some(3), "unknown variant `anyone`");
    assert_problem(&problems, &file, Some(3), "floor_or_chair");
    assert_problem(&problems, &file, Some(4), "invalid type");
    assert_eq!(problems.len(), 2, "{:#?}", lines(&problems));
}

/// `[session]` is read as the control plane's `Rules`: a misspelt key is
/// named, not taken silently as the default.
#[test]
fn a_misspelt_session_key_is_named_at_its_line() {
    let config = "\
registry = \"reg.toml\"
[session]
max_floor_holder = 2
";
    let dir = dir_with(&[("diemcau.toml", config), ("reg.toml", SMALL_REGISTRY)]);
    let file = dir.path().join("diemcau.toml");
    let problems = check(&file);
    assert_problem(
        &problems,
        &file,
        Some(3),
        "unknown field `max_floor_holder`",
    );
    assert_eq!(problems.len(), 1, "{:#?}", lines(&problems));
}

/// A log written before the content rules existed replays: its `created`
/// event's rules take the defaults.
#[test]
fn rules_without_the_content_keys_read_as_the_defaults() {
    let old = serde_json::json!({
        "max_floor_holders": 1, "speaking_limit_secs": null, "warning_lead_secs": 30,
        "auto_revoke": false, "roll_call_secs": 60, "drop_grace_secs": 30
    });
    let rules: crate::control::Rules = serde_json::from_value(old).expect("old rules parse");
    assert_eq!(rules, crate::control::Rules::default());
}

#[test]
fn every_optional_key_is_read_and_paths_resolve_next_to_the_file() {
    let dir = dir_with(&[
        (
            "server.toml",
            "listen = \"[::1]:9000\"\npublic_url = \"https://hop.example.vn/\"\n\
             registry = \"reg.toml\"\nsecret_file = \"keys/secret\"\n\
             [media]\nudp_port = 0\npublic_ip = \"203.0.113.10\"\n\
             [[media.ice_servers]]\nurls = [\"stun:stun.example.vn:3478\"]\n\
             [[media.ice_servers]]\nurls = [\"turn:turn.example.vn:3478\"]\n\
             username = \"u\"\ncredential = \"c\"\n[log]\nformat = \"json\"\n",
        ),
        ("reg.toml", SMALL_REGISTRY),
    ]);
    let path = dir.path().join("server.toml");
    let (config, registry) = load_effective(Some(&path)).expect("loads");
    assert_eq!(config.listen.port(), 9000);
    assert_eq!(config.base_url(), "https://hop.example.vn");
    assert_eq!(config.registry, dir.path().join("reg.toml"));
    assert_eq!(config.secret_file, Some(dir.path().join("keys/secret")));
    assert_eq!(config.media.udp_port, 0);
    assert_eq!(
        config.media.public_ip,
        Some(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 10)))
    );
    assert_eq!(config.media.ice_servers.len(), 2);
    assert_eq!(config.log.format, LogFormat::Json);
    assert_eq!(config.data_dir, PathBuf::from("./data"));
    assert_eq!(registry.endpoints.len(), 2);
    let browsers = serde_json::to_value(&config.media.ice_servers[0]).expect("json");
    assert_eq!(
        browsers,
        serde_json::json!({"urls": ["stun:stun.example.vn:3478"]})
    );
}

fn check_registry(path: &Path) -> Registry {
    let registry = Registry::load(path).expect("registry loads");
    let codes: BTreeSet<_> = registry.endpoints.iter().map(|e| &e.code).collect();
    assert_eq!(codes.len(), registry.endpoints.len(), "codes are unique");
    let sorted: Vec<_> = registry.endpoints.iter().map(|e| &e.code).collect();
    assert!(sorted.windows(2).all(|w| w[0] < w[1]), "sorted by code");
    let centrals = registry
        .endpoints
        .iter()
        .filter(|e| e.role == EndpointRole::Central)
        .count();
    assert_eq!(centrals, 1);
    assert_eq!(registry.central().code.as_str(), "00");
    assert_eq!(registry.central().name, "Trụ sở Chính phủ");
    registry
}

#[test]
fn the_63_province_registry_loads() {
    let registry = check_registry(&shipped("endpoints-63.toml"));
    assert_eq!(registry.endpoints.len(), 64);
    assert_eq!(registry.provincial().count(), 63);
    let hai_duong = registry.get(&EndpointCode::from("30")).expect("30");
    assert_eq!(hai_duong.name, "Hải Dương");
    assert_eq!(hai_duong.kind.as_deref(), Some("province"));
    assert_eq!(registry, Registry::embedded());
    let infos = registry.endpoint_infos();
    assert_eq!(infos.len(), 64);
    assert_eq!(infos[0].role, EndpointRole::Central);
}

#[test]
fn the_34_unit_registry_loads() {
    let registry = check_registry(&shipped("endpoints-34.toml"));
    assert_eq!(registry.endpoints.len(), 35);
    let hai_phong = registry.get(&EndpointCode::from("31")).expect("31");
    assert_eq!(hai_phong.formed_from, vec!["Hải Phòng", "Hải Dương"]);
    let hcm = registry.get(&EndpointCode::from("79")).expect("79");
    assert_eq!(hcm.formed_from.len(), 3);
    assert!(registry.get(&EndpointCode::from("30")).is_none());
}

#[test]
fn the_64_former_provinces_are_each_in_one_unit() {
    let old = Registry::load(&shipped("endpoints-63.toml")).expect("63");
    let new = Registry::load(&shipped("endpoints-34.toml")).expect("34");
    let formed: Vec<_> = new
        .provincial()
        .flat_map(|e| e.formed_from.iter())
        .collect();
    let formed_set: BTreeSet<_> = formed.iter().map(|s| s.as_str()).collect();
    assert_eq!(formed.len(), formed_set.len());
    let old_names: BTreeSet<_> = old.provincial().map(|e| e.name.as_str()).collect();
    assert_eq!(formed_set, old_names);
}

#[test]
fn link_keys_are_never_serialized() {
    let registry = Registry::from_entries(vec![RegistryEntry {
        code: "00".into(),
        name: "Trung tâm".into(),
        role: EndpointRole::Central,
        kind: None,
        formed_from: Vec::new(),
        link_key: Some("rotate-me".into()),
    }])
    .expect("valid");
    let json = serde_json::to_string(&registry).expect("json");
    assert!(!json.contains("rotate-me"));
    assert!(Registry::from_entries(Vec::new()).is_err());
}

#[test]
fn check_names_every_problem_in_the_config_with_its_line() {
    let config = "\
listen = \"127.0.0.1:80800\"
public_url = \"ftp://x\"
colour = \"blue\"
registry = \"reg.toml\"

[limits]
max_body_bytes = \"big\"

[media]
bind_ip = \"not-an-ip\"

[health]
rtt_warn_ms = 500
rtt_bad_ms = 400
[log]
format = \"xml\"
";
    let dir = dir_with(&[("diemcau.toml", config), ("reg.toml", SMALL_REGISTRY)]);
    let file = dir.path().join("diemcau.toml");
    let problems = check(&file);
    assert_problem(&problems, &file, Some(1), "invalid socket address");
    assert_problem(&problems, &file, Some(2), "public_url");
    assert_problem(&problems, &file, Some(3), "unknown field `colour`");
    assert_problem(&problems, &file, Some(7), "invalid type");
    assert_problem(&problems, &file, Some(10), "invalid IP address");
    assert_problem(&problems, &file, Some(13), "rtt_warn_ms");
    assert_problem(&problems, &file, Some(16), "unknown variant `xml`");
    assert_eq!(problems.len(), 7, "{:#?}", lines(&problems));
    let text = problems[0].to_string();
    assert!(
        text.starts_with(&format!("{}:1: ", file.display())),
        "{text}"
    );
    assert!(matches!(Config::load(&file), Err(ConfigError::Invalid(p)) if p.len() == 7));
}

#[test]
fn check_names_every_problem_in_the_registry_with_its_line() {
    let registry = "\
[[endpoint]]
code = \"01\"
name = \"Hà Nội\"
role = \"provincial\"

[[endpoint]]
code = \"01\"
name = \"  \"
role = \"provincial\"

[[endpoint]]
code = \"02\"
name = \"Hà Giang\"
role = \"mayor\"

[[endpoint]]
code = \"04\"
name = \"Cao Bằng\"
role = \"provincial\"
region = \"north\"
";
    let dir = dir_with(&[("diemcau.toml", ""), ("endpoints-63.toml", registry)]);
    let file = dir.path().join("diemcau.toml");
    let reg = dir.path().join("endpoints-63.toml");
    let problems = check(&file);
    assert_problem(
        &problems,
        &reg,
        Some(7),
        "duplicate endpoint code `01` (first at line 2)",
    );
    assert_problem(&problems, &reg, Some(8), "empty name");
    assert_problem(&problems, &reg, Some(14), "unknown variant `mayor`");
    assert_problem(&problems, &reg, Some(20), "unknown field `region`");
    assert_problem(&problems, &reg, None, "no central endpoint");
    assert_eq!(problems.len(), 5, "{:#?}", lines(&problems));
}

#[test]
fn check_reports_two_central_endpoints_at_the_second() {
    let registry = format!("{SMALL_REGISTRY}\n[[endpoint]]\ncode = \"99\"\nname = \"Phòng họp 2\"\nrole = \"central\"\n");
    let dir = dir_with(&[("diemcau.toml", ""), ("endpoints-63.toml", &registry)]);
    let reg = dir.path().join("endpoints-63.toml");
    let problems = check(&dir.path().join("diemcau.toml"));
    assert_problem(&problems, &reg, Some(14), "more than one central endpoint");
    assert_eq!(problems.len(), 1);
}

#[test]
fn check_reports_a_missing_registry_at_the_key_that_names_it() {
    let dir = dir_with(&[("diemcau.toml", "# ours\n\nregistry = \"nowhere.toml\"\n")]);
    let file = dir.path().join("diemcau.toml");
    let problems = check(&file);
    assert_problem(&problems, &file, Some(3), "nowhere.toml cannot be read");
    assert_eq!(problems.len(), 1);
    assert!(matches!(
        load_effective(Some(&file)),
        Err(ConfigError::Read { .. })
    ));
}

#[test]
fn check_reports_syntax_errors_and_unreadable_files() {
    let dir = dir_with(&[("diemcau.toml", "listen = \"127.0.0.1:1\"\n[limits\n")]);
    let file = dir.path().join("diemcau.toml");
    let problems = check(&file);
    assert!(!problems.is_empty());
    assert!(
        problems.iter().all(|p| p.line == Some(2)),
        "{:#?}",
        lines(&problems)
    );
    let missing = dir.path().join("absent.toml");
    let problems = check(&missing);
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].line, None);
}

#[test]
fn a_bad_registry_key_does_not_add_noise_about_its_file() {
    let dir = dir_with(&[("diemcau.toml", "registry = 5\n")]);
    let file = dir.path().join("diemcau.toml");
    let problems = check(&file);
    assert_eq!(problems.len(), 1, "{:#?}", lines(&problems));
    assert_problem(&problems, &file, Some(1), "invalid type");
}

#[test]
fn semantic_checks_cover_sessions_and_ice_servers() {
    let config = "\
[session]
max_floor_holders = 0
speaking_limit_secs = 20
warning_lead_secs = 30

[media]
public_ip = \"0.0.0.0\"
[[media.ice_servers]]
urls = [\"http://stun.example.vn\"]
[[media.ice_servers]]
urls = [\"turn:turn.example.vn\"]
";
    let dir = dir_with(&[
        ("diemcau.toml", config),
        ("endpoints-63.toml", SMALL_REGISTRY),
    ]);
    let file = dir.path().join("diemcau.toml");
    let problems = check(&file);
    assert_problem(&problems, &file, Some(2), "max_floor_holders");
    assert_problem(&problems, &file, Some(4), "warning_lead_secs");
    assert_problem(&problems, &file, Some(7), "public_ip");
    assert_problem(&problems, &file, Some(9), "must start with stun:");
    assert_problem(&problems, &file, Some(10), "needs a username");
    assert_eq!(problems.len(), 5, "{:#?}", lines(&problems));
}

#[test]
fn bitrates_are_checked_in_range_and_in_order() {
    let cases: [(&str, &[(usize, &str)]); 2] = [
        (
            "[media]\ngrid_bitrate_kbps = 3000\nprogramme_bitrate_kbps = 2000\n",
            &[(2, "must not exceed programme_bitrate_kbps")],
        ),
        (
            "[media]\ngrid_bitrate_kbps = 0\nprogramme_bitrate_kbps = 900000\n",
            &[
                (2, "grid_bitrate_kbps must be between 30"),
                (3, "programme_bitrate_kbps must be between 30"),
            ],
        ),
    ];
    for (config, expected) in cases {
        let dir = dir_with(&[
            ("diemcau.toml", config),
            ("endpoints-63.toml", SMALL_REGISTRY),
        ]);
        let file = dir.path().join("diemcau.toml");
        let problems = check(&file);
        for (line, needle) in expected {
            assert_problem(&problems, &file, Some(*line), needle);
        }
        assert_eq!(problems.len(), expected.len(), "{:#?}", lines(&problems));
    }
}

#[test]
fn health_thresholds_are_the_monitors_and_checked_key_by_key() {
    let config = "\
registry = \"reg.toml\"
[health]
rtt_warn_ms = -1
loss_warn_pct = 9.0
loss_bad_pct = 150.0
clear_after_samples = 0
no_media_secs = 0
";
    let dir = dir_with(&[("diemcau.toml", config), ("reg.toml", SMALL_REGISTRY)]);
    let file = dir.path().join("diemcau.toml");
    let problems = check(&file);
    assert_problem(&problems, &file, Some(3), "rtt_warn_ms");
    assert_problem(&problems, &file, Some(5), "loss_bad_pct");
    assert_problem(&problems, &file, Some(6), "clear_after_samples");
    assert_problem(&problems, &file, Some(7), "no_media_secs");
    assert_eq!(problems.len(), 4, "{:#?}", lines(&problems));

    let good = "registry = \"reg.toml\"\n[health]\nloss_bad_pct = 10\nclear_after_samples = 2\n";
    let dir = dir_with(&[("diemcau.toml", good), ("reg.toml", SMALL_REGISTRY)]);
    let config = Config::load(&dir.path().join("diemcau.toml")).expect("valid");
    assert_eq!(config.health.loss_bad_pct, 10.0);
    assert_eq!(config.health.clear_after_samples, 2);
    assert!(config.health.validate().is_ok());
}

#[test]
fn the_field_and_limit_keys_are_checked() {
    let config = "\
registry = \"reg.toml\"
[tls]
cert_file = \"server.crt\"
[limits]
commands_per_sec = 0
header_timeout_secs = 0
[media]
consent_timeout_secs = 5
max_media_lines = 2
threads = 100000
share_from = 0
share_reads_from = 0
[media.turn]
urls = [\"stun:x\"]
secret = \"short\"
ttl_secs = 10
";
    let dir = dir_with(&[("diemcau.toml", config), ("reg.toml", SMALL_REGISTRY)]);
    let file = dir.path().join("diemcau.toml");
    let problems = check(&file);
    for needle in [
        "needs both cert_file and key_file",
        "commands_per_sec must be at least 1",
        "header_timeout_secs must be at least 1",
        "consent_timeout_secs must be between 10 and 300",
        "max_media_lines must be at least 6",
        "threads must be at most 256",
        "share_from must be at least 1",
        "share_reads_from must be at least 1",
        "urls must be one or more turn:",
        "secret must be at least 16",
        "ttl_secs must be at least 60",
    ] {
        assert!(
            problems.iter().any(|p| p.to_string().contains(needle)),
            "no problem says {needle:?}: {:#?}",
            lines(&problems)
        );
    }
    assert_eq!(problems.len(), 11, "{:#?}", lines(&problems));
}
