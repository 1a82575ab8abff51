//! Prometheus metrics: every name in one place, and one small function per
//! thing the other layers report.
//!
//! The layers call these functions wherever the thing happens; with no
//! recorder installed (unit tests, `diemcau token`) they cost a branch and
//! record nothing. `diemcau serve` installs the recorder once with
//! [`install_recorder`], serves [`PrometheusHandle::render`] on `/metrics`,
//! and calls [`PrometheusHandle::run_upkeep`] every few seconds so
//! histograms do not grow without bound.
//!
//! # Metrics
//!
//! | name | type | labels | what |
//! |---|---|---|---|
//! | `diemcau_sessions` | gauge | `phase` (`scheduled`, `open`, `live`, `ended`) | sessions in each phase |
//! | `diemcau_endpoints_connected` | gauge | | endpoints whose link is up, over all sessions |
//! | `diemcau_endpoints_present` | gauge | | endpoints confirmed present at roll call, over all sessions |
//! | `diemcau_floor_changes_total` | counter | | grants, releases and revocations of the floor |
//! | `diemcau_packets_forwarded_total` | counter | `kind` (`audio`, `video`) | RTP packets the router sent |
//! | `diemcau_bytes_forwarded_total` | counter | `kind` (`audio`, `video`) | RTP payload bytes the router sent |
//! | `diemcau_link_rtt_ms` | histogram | | round-trip time of every link sample, ms |
//! | `diemcau_link_loss_pct` | histogram | `direction` (`up`, `down`) | packet loss of every link sample, percent |
//! | `diemcau_alerts_active` | gauge | | link alerts currently active |
//! | `diemcau_store_append_seconds` | histogram | | time to append one batch of events to the store |
//! | `diemcau_commands_total` | counter | `command`, `outcome` (`ok`, `rejected`) | control commands applied |

use crate::control::Phase;
use crate::monitor::LinkSample;
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};
use std::time::Duration;
use strum::VariantArray as _;

/// Sessions by phase.
pub const SESSIONS: &str = "diemcau_sessions";
/// Endpoints connected.
pub const ENDPOINTS_CONNECTED: &str = "diemcau_endpoints_connected";
/// Endpoints present.
pub const ENDPOINTS_PRESENT: &str = "diemcau_endpoints_present";
/// Floor changes.
pub const FLOOR_CHANGES: &str = "diemcau_floor_changes_total";
/// Packets forwarded, by kind.
pub const PACKETS_FORWARDED: &str = "diemcau_packets_forwarded_total";
/// Bytes forwarded, by kind.
pub const BYTES_FORWARDED: &str = "diemcau_bytes_forwarded_total";
/// Link RTT histogram.
pub const LINK_RTT: &str = "diemcau_link_rtt_ms";
/// Link loss histogram, by direction.
pub const LINK_LOSS: &str = "diemcau_link_loss_pct";
/// Active alerts.
pub const ALERTS_ACTIVE: &str = "diemcau_alerts_active";
/// Store append latency histogram.
pub const STORE_APPEND: &str = "diemcau_store_append_seconds";
/// Commands, by command and outcome.
pub const COMMANDS: &str = "diemcau_commands_total";
/// Sending rounds shared between threads.
pub const SENDING_SHARED: &str = "diemcau_media_sending_shared_total";
/// Rounds of reading shared between threads.
pub const READING_SHARED: &str = "diemcau_media_reading_shared_total";
/// Datagrams sent in runs, several to one address with one system call.
pub const DATAGRAMS_IN_RUNS: &str = "diemcau_media_datagrams_in_runs_total";

/// Every metric name, for tests and docs.
pub const ALL: [&str; 14] = [
    SESSIONS,
    ENDPOINTS_CONNECTED,
    ENDPOINTS_PRESENT,
    FLOOR_CHANGES,
    PACKETS_FORWARDED,
    BYTES_FORWARDED,
    LINK_RTT,
    LINK_LOSS,
    ALERTS_ACTIVE,
    STORE_APPEND,
    COMMANDS,
    SENDING_SHARED,
    READING_SHARED,
    DATAGRAMS_IN_RUNS,
];

/// RTT buckets, ms: fine where a terrestrial link lives (under 100 ms),
/// then the thresholds' neighbourhood, then satellite territory.
const RTT_BUCKETS_MS: [f64; 12] = [
    5.0, 10.0, 20.0, 40.0, 60.0, 100.0, 150.0, 200.0, 300.0, 400.0, 600.0, 1000.0,
];

/// Loss buckets, percent: most samples are 0, the interesting band is 1–10 %.
const LOSS_BUCKETS_PCT: [f64; 10] = [0.0, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0, 10.0, 20.0, 50.0];

/// Store append buckets, seconds: a WAL append is well under a millisecond
/// until the disk is busy; anything near a second stalls the control plane.
const STORE_APPEND_BUCKETS_S: [f64; 12] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];

/// The Prometheus builder with our histogram buckets, so the histograms are
/// exported as real Prometheus histograms (not summaries) that aggregate
/// across scrapes. Tests build a local recorder from it.
pub fn builder() -> Result<PrometheusBuilder, BuildError> {
    PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(LINK_RTT.into()), &RTT_BUCKETS_MS)?
        .set_buckets_for_metric(Matcher::Full(LINK_LOSS.into()), &LOSS_BUCKETS_PCT)?
        .set_buckets_for_metric(Matcher::Full(STORE_APPEND.into()), &STORE_APPEND_BUCKETS_S)
}

/// Installs the process-wide recorder and describes every metric. Call once,
/// at server start; a second call fails (a recorder is process-wide).
pub fn install_recorder() -> Result<PrometheusHandle, BuildError> {
    let handle = builder()?.install_recorder()?;
    describe();
    Ok(handle)
}

/// Gives every metric its help text and sets the gauges and counters whose
/// label values are known to zero, so a scrape shows them from the start
/// rather than only after the first event.
pub fn describe() {
    ::metrics::describe_gauge!(SESSIONS, "Sessions in each phase");
    ::metrics::describe_gauge!(ENDPOINTS_CONNECTED, "Endpoints whose link is up");
    ::metrics::describe_gauge!(ENDPOINTS_PRESENT, "Endpoints confirmed present");
    ::metrics::describe_counter!(FLOOR_CHANGES, "Changes of the floor holder");
    ::metrics::describe_counter!(PACKETS_FORWARDED, "RTP packets forwarded");
    ::metrics::describe_counter!(BYTES_FORWARDED, "RTP bytes forwarded");
    ::metrics::describe_histogram!(LINK_RTT, "Round-trip time of link samples, ms");
    ::metrics::describe_histogram!(LINK_LOSS, "Packet loss of link samples, percent");
    ::metrics::describe_gauge!(ALERTS_ACTIVE, "Link alerts active");
    ::metrics::describe_histogram!(STORE_APPEND, "Event store append latency, seconds");
    ::metrics::describe_counter!(COMMANDS, "Control commands applied");
    ::metrics::describe_counter!(
        SENDING_SHARED,
        "Rounds of forwarded media sent from more than one thread"
    );
    ::metrics::describe_counter!(
        READING_SHARED,
        "Rounds of arrived datagrams read (decrypted) on more than one thread"
    );
    ::metrics::describe_counter!(
        DATAGRAMS_IN_RUNS,
        "Datagrams sent in runs of several to one address with one system call"
    );

    for phase in Phase::VARIANTS {
        sessions(*phase, 0);
    }
    endpoints(0, 0);
    ::metrics::counter!(FLOOR_CHANGES).absolute(0);
    ::metrics::counter!(SENDING_SHARED).absolute(0);
    ::metrics::counter!(READING_SHARED).absolute(0);
    ::metrics::counter!(DATAGRAMS_IN_RUNS).absolute(0);
    for kind in [MediaKind::Audio, MediaKind::Video] {
        forwarded(kind, 0, 0);
    }
    alerts_active(0);
}

/// How many sessions are in `phase`.
pub fn sessions(phase: Phase, count: usize) {
    ::metrics::gauge!(SESSIONS, "phase" => <&str>::from(phase)).set(count as f64);
}

/// How many endpoints are connected and how many present, over all sessions.
pub fn endpoints(connected: usize, present: usize) {
    ::metrics::gauge!(ENDPOINTS_CONNECTED).set(connected as f64);
    ::metrics::gauge!(ENDPOINTS_PRESENT).set(present as f64);
}

/// The floor changed hands (granted, released or revoked).
pub fn floor_change() {
    ::metrics::counter!(FLOOR_CHANGES).increment(1);
}

/// The kind of media forwarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum MediaKind {
    /// Opus.
    Audio,
    /// VP8, H.264.
    Video,
}

/// The router forwarded `packets` packets carrying `bytes` bytes. Meant to
/// be called per batch, not per packet, on the hot path.
pub fn forwarded(kind: MediaKind, packets: u64, bytes: u64) {
    ::metrics::counter!(PACKETS_FORWARDED, "kind" => <&str>::from(kind)).increment(packets);
    ::metrics::counter!(BYTES_FORWARDED, "kind" => <&str>::from(kind)).increment(bytes);
}

/// The media task shared a round of sending with helper threads: it was
/// behind, with `[media] share_from` packets or more waiting.
pub fn sending_shared() {
    ::metrics::counter!(SENDING_SHARED).increment(1);
}

/// The media task shared the reading of a round's datagrams with helper
/// threads: `[media] share_reads_from` or more had arrived.
pub fn reading_shared() {
    ::metrics::counter!(READING_SHARED).increment(1);
}

/// A round of sending put `count` datagrams in runs (several to one
/// address with one system call). Counted once a round: the counter's
/// lookup would cost more than a run saves if paid per datagram.
pub fn datagrams_in_runs(count: usize) {
    if count > 0 {
        ::metrics::counter!(DATAGRAMS_IN_RUNS).increment(u64::try_from(count).unwrap_or(u64::MAX));
    }
}

/// Feeds a link sample's RTT and loss into the histograms; figures the
/// sample lacks are skipped.
pub fn link_sample(sample: &LinkSample) {
    if let Some(rtt) = sample.rtt_ms.filter(|v| v.is_finite()) {
        ::metrics::histogram!(LINK_RTT).record(rtt);
    }
    for (direction, loss) in [("up", sample.loss_up_pct), ("down", sample.loss_down_pct)] {
        if let Some(loss) = loss.filter(|v| v.is_finite()) {
            ::metrics::histogram!(LINK_LOSS, "direction" => direction).record(loss);
        }
    }
}

/// How many link alerts are active ([`super::Monitor::active_alert_count`]).
pub fn alerts_active(count: usize) {
    ::metrics::gauge!(ALERTS_ACTIVE).set(count as f64);
}

/// One append to the event store took `elapsed`.
pub fn store_append(elapsed: Duration) {
    ::metrics::histogram!(STORE_APPEND).record(elapsed.as_secs_f64());
}

/// A control command was applied (`ok`) or rejected. `name` is
/// [`crate::control::Command::name`]: a fixed set, so a client cannot grow
/// the label set.
pub fn command(name: &'static str, ok: bool) {
    let outcome = if ok { "ok" } else { "rejected" };
    ::metrics::counter!(COMMANDS, "command" => name, "outcome" => outcome).increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::{EndpointCode, Millis, SessionId};
    use crate::monitor::{LinkId, LinkState};

    /// A connected endpoint's link losing 10 % upstream.
    fn lossy_sample() -> LinkSample {
        let session = SessionId("s1".into());
        let code = EndpointCode::from("30");
        let mut sample = LinkSample::new(
            LinkId::endpoint(&session, &code),
            session,
            Some(code),
            Millis(1_000),
            LinkState::Connected,
        );
        sample.rtt_ms = Some(20.0);
        sample.loss_up_pct = Some(10.0);
        sample
    }

    /// Every documented metric name shows up in the Prometheus text once the
    /// functions the other layers call have run, with the histograms rendered
    /// as histograms (buckets), not summaries.
    #[test]
    fn metrics_render_every_name() -> Result<(), BuildError> {
        let recorder = builder()?.build_recorder();
        let handle = recorder.handle();
        ::metrics::with_local_recorder(&recorder, || {
            describe();
            sessions(Phase::Live, 1);
            endpoints(63, 60);
            floor_change();
            forwarded(MediaKind::Video, 10, 12_000);
            forwarded(MediaKind::Audio, 50, 5_000);
            link_sample(&lossy_sample());
            alerts_active(1);
            store_append(std::time::Duration::from_micros(300));
            command("grant_floor", true);
            command("grant_floor", false);
            sending_shared();
            reading_shared();
            datagrams_in_runs(7);
        });
        let text = handle.render();
        for name in ALL {
            assert!(text.contains(name), "{name} missing from:\n{text}");
        }
        assert!(text.contains("diemcau_link_rtt_ms_bucket"), "{text}");
        assert!(
            text.contains("diemcau_link_loss_pct_bucket{direction=\"up\""),
            "{text}"
        );
        assert!(
            text.contains("diemcau_store_append_seconds_bucket"),
            "{text}"
        );
        assert!(
            text.contains("diemcau_sessions{phase=\"live\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("diemcau_packets_forwarded_total{kind=\"audio\"} 50"),
            "{text}"
        );
        assert!(
            text.contains("diemcau_commands_total{command=\"grant_floor\",outcome=\"rejected\"} 1"),
            "{text}"
        );
        Ok(())
    }
}
