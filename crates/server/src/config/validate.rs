//! Checks on a server configuration that its types alone cannot express:
//! a value can be a well-formed number and still make no sense.

use super::problem::{span_of, Problem, Source};
use super::settings::Config;
use crate::monitor::Thresholds;
use toml::de::DeTable;

/// Video bit rates an operator may ask for: below 30 kbit/s a camera
/// picture is unrecognisable, above 50 Mbit/s the number is a typo.
const BITRATE_KBPS: std::ops::RangeInclusive<u32> = 30..=50_000;

/// Consent lifetimes that make sense: clients check every 4–6 s (RFC 7675),
/// so under 10 s a link would lapse between two checks; beyond 5 minutes
/// the server would keep sending to a client long gone.
const CONSENT_SECS: std::ops::RangeInclusive<u32> = 10..=300;

/// More sending threads than any server has cores is a typo.
const MAX_MEDIA_THREADS: u32 = 256;

/// Every semantic problem in `config`, placed at the key that holds the value.
pub(crate) fn config_problems(
    config: &Config,
    root: &DeTable<'_>,
    src: &Source<'_>,
) -> Vec<Problem> {
    let mut out = Vec::new();
    let mut report = |path: &[&str], message: String| {
        out.push(src.problem(span_of(root, path), message));
    };

    let url = config.public_url.as_str();
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() && !host.starts_with('/') => {}
        _ => report(
            &["public_url"],
            format!("public_url `{url}` must be an http:// or https:// address with a host"),
        ),
    }
    if config.data_dir.as_os_str().is_empty() {
        report(&["data_dir"], "data_dir must not be empty".to_string());
    }
    if config.registry.as_os_str().is_empty() {
        report(&["registry"], "registry must name a file".to_string());
    }

    let limits = &config.limits;
    if limits.max_body_bytes == 0 {
        report(
            &["limits", "max_body_bytes"],
            "max_body_bytes must be at least 1".into(),
        );
    }
    if limits.max_ws_message_bytes == 0 {
        report(
            &["limits", "max_ws_message_bytes"],
            "max_ws_message_bytes must be at least 1".into(),
        );
    }
    for (key, value) in [
        ("max_connections", limits.max_connections as u64),
        ("header_timeout_secs", limits.header_timeout_secs.into()),
        ("request_timeout_secs", limits.request_timeout_secs.into()),
        ("idle_timeout_secs", limits.idle_timeout_secs.into()),
        ("ws_messages_per_sec", limits.ws_messages_per_sec.into()),
        ("ws_burst", limits.ws_burst.into()),
        ("commands_per_sec", limits.commands_per_sec.into()),
        ("command_burst", limits.command_burst.into()),
    ] {
        if value == 0 {
            report(&["limits", key], format!("{key} must be at least 1"));
        }
    }
    let tls = &config.tls;
    if tls.cert_file.is_some() != tls.key_file.is_some() {
        let missing = if tls.cert_file.is_none() {
            "cert_file"
        } else {
            "key_file"
        };
        report(
            &["tls"],
            format!("[tls] needs both cert_file and key_file; {missing} is missing"),
        );
    }

    let session = &config.session;
    if session.max_floor_holders == 0 {
        report(
            &["session", "max_floor_holders"],
            "max_floor_holders must be at least 1".into(),
        );
    }
    if session.roll_call_secs == 0 {
        report(
            &["session", "roll_call_secs"],
            "roll_call_secs must be at least 1".into(),
        );
    }
    match session.speaking_limit_secs {
        Some(0) => report(
            &["session", "speaking_limit_secs"],
            "speaking_limit_secs must be at least 1; leave it out for no limit".into(),
        ),
        Some(limit) if session.warning_lead_secs >= limit => report(
            &["session", "warning_lead_secs"],
            format!(
                "warning_lead_secs ({}) must be shorter than speaking_limit_secs ({limit})",
                session.warning_lead_secs
            ),
        ),
        _ => {}
    }

    if config.media.public_ip.is_some_and(|ip| ip.is_unspecified()) {
        report(
            &["media", "public_ip"],
            "public_ip must be an address clients can reach, not an unspecified one".into(),
        );
    }
    let media = &config.media;
    for (key, kbps) in [
        ("grid_bitrate_kbps", media.grid_bitrate_kbps),
        ("programme_bitrate_kbps", media.programme_bitrate_kbps),
        ("content_bitrate_kbps", media.content_bitrate_kbps),
    ] {
        if !BITRATE_KBPS.contains(&kbps) {
            report(
                &["media", key],
                format!(
                    "{key} must be between {} and {} kbit/s, not {kbps}",
                    BITRATE_KBPS.start(),
                    BITRATE_KBPS.end()
                ),
            );
        }
    }
    if !(1..=30).contains(&media.content_max_fps) {
        report(
            &["media", "content_max_fps"],
            format!(
                "content_max_fps must be between 1 and 30, not {}",
                media.content_max_fps
            ),
        );
    }
    if !CONSENT_SECS.contains(&media.consent_timeout_secs) {
        report(
            &["media", "consent_timeout_secs"],
            format!(
                "consent_timeout_secs must be between {} and {} seconds, not {}",
                CONSENT_SECS.start(),
                CONSENT_SECS.end(),
                media.consent_timeout_secs
            ),
        );
    }
    for (key, value, least) in [
        ("max_connections", media.max_connections, 1),
        (
            "max_connections_per_session",
            media.max_connections_per_session,
            1,
        ),
        ("max_viewers_per_session", media.max_viewers_per_session, 0),
        (
            "max_connections_per_token",
            media.max_connections_per_token,
            1,
        ),
        ("max_media_lines", media.max_media_lines, 6),
        ("max_candidates", media.max_candidates, 1),
        ("connect_timeout_secs", media.connect_timeout_secs, 1),
        ("share_from", media.share_from, 1),
        ("share_reads_from", media.share_reads_from, 1),
    ] {
        if value < least {
            report(&["media", key], format!("{key} must be at least {least}"));
        }
    }
    if media.threads > MAX_MEDIA_THREADS {
        report(
            &["media", "threads"],
            format!(
                "threads must be at most {MAX_MEDIA_THREADS} (0: one per core), not {}",
                media.threads
            ),
        );
    }
    if media.grid_bitrate_kbps > media.programme_bitrate_kbps {
        report(
            &["media", "grid_bitrate_kbps"],
            format!(
                "grid_bitrate_kbps ({}) must not exceed programme_bitrate_kbps ({})",
                media.grid_bitrate_kbps, media.programme_bitrate_kbps
            ),
        );
    }
    for (i, server) in config.media.ice_servers.iter().enumerate() {
        let index = i.to_string();
        let at = ["media", "ice_servers", index.as_str()];
        if server.urls.is_empty() {
            report(&at, "an ICE server needs at least one URL".into());
        }
        for url in &server.urls {
            let scheme = url.split(':').next().unwrap_or_default();
            if !matches!(scheme, "stun" | "stuns" | "turn" | "turns") {
                report(
                    &["media", "ice_servers", index.as_str(), "urls"],
                    format!(
                        "ICE server URL `{url}` must start with stun:, stuns:, turn: or turns:"
                    ),
                );
            }
            if scheme.starts_with("turn")
                && (server.username.is_none() || server.credential.is_none())
            {
                report(
                    &at,
                    format!("TURN server `{url}` needs a username and a credential"),
                );
            }
        }
    }

    if let Some(turn) = &config.media.turn {
        if turn.urls.is_empty()
            || turn
                .urls
                .iter()
                .any(|u| !(u.starts_with("turn:") || u.starts_with("turns:")))
        {
            report(
                &["media", "turn", "urls"],
                "[media.turn] urls must be one or more turn: or turns: URLs".into(),
            );
        }
        if turn.secret.len() < 16 {
            report(
                &["media", "turn", "secret"],
                "[media.turn] secret must be at least 16 characters".into(),
            );
        }
        if turn.ttl_secs < 60 {
            report(
                &["media", "turn", "ttl_secs"],
                "[media.turn] ttl_secs must be at least 60".into(),
            );
        }
    }

    for (path, message) in health_problems(&config.health) {
        report(&["health", path], message);
    }
    out
}

/// Problems with the `[health]` thresholds, each with the key to blame.
/// The same rules as [`Thresholds::validate`], which the server relies on,
/// but placed at a line so `check-config` can point at it.
fn health_problems(h: &Thresholds) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    let pairs = [
        ("rtt_warn_ms", h.rtt_warn_ms, "rtt_bad_ms", h.rtt_bad_ms),
        (
            "loss_warn_pct",
            h.loss_warn_pct,
            "loss_bad_pct",
            h.loss_bad_pct,
        ),
        (
            "jitter_warn_ms",
            h.jitter_warn_ms,
            "jitter_bad_ms",
            h.jitter_bad_ms,
        ),
    ];
    for (warn_key, warn, bad_key, bad) in pairs {
        let mut sound = true;
        for (key, value) in [(warn_key, warn), (bad_key, bad)] {
            if !value.is_finite() || value < 0.0 {
                out.push((key, format!("{key} ({value}) must not be negative")));
                sound = false;
            }
        }
        if sound && warn > bad {
            out.push((
                warn_key,
                format!("{warn_key} ({warn}) must not be above {bad_key} ({bad})"),
            ));
        }
    }
    for (key, value) in [
        ("loss_warn_pct", h.loss_warn_pct),
        ("loss_bad_pct", h.loss_bad_pct),
    ] {
        if value > 100.0 {
            out.push((key, format!("{key} ({value}) must be between 0 and 100")));
        }
    }
    if h.clear_after_samples == 0 {
        out.push((
            "clear_after_samples",
            "clear_after_samples must be at least 1".to_string(),
        ));
    }
    if h.no_media_secs == 0 {
        out.push((
            "no_media_secs",
            "no_media_secs must be at least 1".to_string(),
        ));
    }
    out
}

/// Choices that are valid but cannot work the way an operator most likely
/// means them: a server that other machines cannot reach, join links that
/// name this machine only. `check-config` prints them; `serve` logs them.
pub fn warnings(config: &Config) -> Vec<String> {
    let mut out = Vec::new();
    let url_host = url_host(&config.public_url);
    let url_is_loopback = url_host.as_deref().is_some_and(is_loopback_host);
    let media = &config.media;
    if media.bind_ip.is_loopback() && !url_is_loopback {
        out.push(format!(
            "media bind_ip {} is loopback: only clients on this machine can send or receive media, \
             yet public_url `{}` is meant for other machines",
            media.bind_ip, config.public_url
        ));
    }
    if media.public_ip.is_some_and(|ip| ip.is_loopback()) {
        out.push("media public_ip is a loopback address: no client elsewhere can reach it".into());
    }
    if config.listen.ip().is_loopback() && url_host.is_some() && !url_is_loopback {
        out.push(format!(
            "listen {} accepts connections from this machine only, yet public_url `{}` names \
             another host: join links will not open unless a proxy on this machine forwards them",
            config.listen, config.public_url
        ));
    }
    if url_is_loopback && !config.listen.ip().is_loopback() {
        out.push(format!(
            "public_url `{}` names this machine: join links sent to the sites will not open \
             elsewhere; set it to the address or name they reach the server at",
            config.public_url
        ));
    }
    if media.udp_port == 0 {
        out.push(
            "media udp_port 0 picks a different port at each start: no firewall rule can be \
             written for it"
                .into(),
        );
    }
    out
}

/// The host of an http(s) URL, without port or brackets.
fn url_host(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let authority = rest.split('/').next()?;
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next()?
    } else {
        authority.split(':').next()?
    };
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

fn is_loopback_host(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}
