//! The monitor's shell: the once-a-second sampling task, the client
//! reports it merges in, the link tests it feeds, and the publication of
//! what the monitor says.
//!
//! The [`Monitor`] itself is pure; this file owns its lock, the clock and
//! the tasks. Every second the task takes the media plane's view of every
//! peer (through a function, so it does not care how the plane is held),
//! merges the latest client report of each link, records the samples,
//! forgets the links that are gone, finishes the link tests that are due,
//! and publishes the monitor's events to the technicians' sockets and the
//! log. One `std::sync::Mutex` guards it all: it is held for microseconds,
//! never across an `.await`.

use super::clock;
use super::core::Core;
use crate::control::{EndpointCode, Millis, SessionId};
use crate::media::{LinkStats, PeerId};
use crate::monitor::media::{link_of, preference, sample_of, state_of};
use crate::monitor::{
    metrics, Alert, ClientFigures, ClientStats, Health, HistoryPoint, LinkId, LinkState, LinkTest,
    LinkTestResult, LinkTestRun, LinkView, Monitor, MonitorEvent, Thresholds,
};
use metrics_exporter_prometheus::PrometheusHandle;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{broadcast, watch};

/// One sample per link per this period.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(1);

/// Histogram upkeep every this many rounds, so the exporter's buckets do
/// not grow between scrapes.
const UPKEEP_EVERY_ROUNDS: u32 = 5;

/// A client report older than this is not merged: pages send one every
/// 2 s, so three missed in a row means the page is gone or stuck, and its
/// last frame rate would be a lie.
const REPORT_FRESH_MS: u64 = 6_000;

/// Most client reports kept. Only endpoints (one link each) and consoles
/// naming a peer can add one, and stale ones are dropped every round; this
/// caps what a misbehaving console could make us hold.
const MAX_REPORTS: usize = 4096;

/// Monitor events a slow socket may fall behind by before it misses some.
const UPDATE_BUFFER: usize = 1024;

/// One monitor event and the session of its link, for filtering by token.
#[derive(Debug, Clone)]
pub struct MonitorUpdate {
    /// The link's session.
    pub session: SessionId,
    /// What happened.
    pub event: MonitorEvent,
}

/// One link as `GET /api/links` shows it: one flat record, the monitor's
/// judgement (health, alerts) beside the latest figures (server-side RTCP
/// merged with the client's report) and the media plane's own counters.
/// Flat, and with the media plane's names for the shared figures, so a
/// console reads a link the same way whichever part filled it in.
#[derive(Debug, Clone, Serialize)]
pub struct LinkReport {
    /// The link id (`<session>/<code>`, or a viewer's peer id); the key of
    /// `GET /api/links/{id}/history`.
    pub id: LinkId,
    /// The session.
    pub session: SessionId,
    /// The endpoint; `None` for a viewer.
    pub endpoint: Option<EndpointCode>,
    /// The peer connection carrying it now.
    pub peer: Option<PeerId>,
    /// Peer connection state.
    pub state: LinkState,
    /// Since when it is in that state.
    pub state_since: Millis,
    /// When the monitor first saw the link.
    pub first_seen: Millis,
    /// When the figures were taken.
    pub at: Millis,
    /// `good`, `warn` or `bad`.
    pub health: Health,
    /// Active alerts, worst reasons first.
    pub alerts: Vec<Alert>,
    /// The client's candidate type on the selected pair.
    pub candidate_type: Option<String>,
    /// Round-trip time, ms.
    pub rtt_ms: Option<f64>,
    /// Loss from the endpoint to the server, percent.
    pub loss_up_pct: Option<f64>,
    /// Loss from the server to the endpoint, percent.
    pub loss_down_pct: Option<f64>,
    /// The worse of the two, percent.
    pub loss_pct: Option<f64>,
    /// Jitter of what the server receives, ms.
    pub jitter_up_ms: Option<f64>,
    /// Jitter of what the endpoint receives, ms.
    pub jitter_down_ms: Option<f64>,
    /// Bits per second the server receives.
    pub bitrate_in: u64,
    /// Bits per second the server sends.
    pub bitrate_out: u64,
    /// Frames per second the client decodes.
    pub frame_rate: Option<f64>,
    /// Largest video the client receives.
    pub resolution: Option<(u32, u32)>,
    /// The client's jitter buffer delay, ms.
    pub jitter_buffer_ms: Option<f64>,
    /// Audio the client concealed, percent.
    pub concealed_audio_pct: Option<f64>,
    /// RTP packets forwarded to the peer since it joined.
    pub packets_forwarded: Option<u64>,
    /// RTP packets received from the peer since it joined.
    pub packets_received: Option<u64>,
    /// Keyframe requests sent to the peer.
    pub keyframe_requests: Option<u64>,
}

impl LinkReport {
    fn of(view: LinkView, media: Option<&LinkStats>) -> LinkReport {
        let s = view.latest;
        LinkReport {
            id: view.link,
            session: view.session,
            endpoint: view.endpoint,
            peer: media.map(|m| m.peer),
            state: s.state,
            state_since: view.state_since,
            first_seen: view.first_seen,
            at: s.at,
            health: view.health,
            alerts: view.alerts,
            candidate_type: s.candidate_type,
            rtt_ms: s.rtt_ms,
            loss_pct: worse(s.loss_up_pct, s.loss_down_pct),
            loss_up_pct: s.loss_up_pct,
            loss_down_pct: s.loss_down_pct,
            jitter_up_ms: s.jitter_up_ms,
            jitter_down_ms: s.jitter_down_ms,
            bitrate_in: s.bitrate_in_bps,
            bitrate_out: s.bitrate_out_bps,
            frame_rate: s.frame_rate,
            resolution: s.resolution,
            jitter_buffer_ms: s.jitter_buffer_ms,
            concealed_audio_pct: s.concealed_audio_pct,
            packets_forwarded: media.map(|m| m.packets_forwarded),
            packets_received: media.map(|m| m.packets_received),
            keyframe_requests: media.map(|m| m.keyframe_requests),
        }
    }
}

fn worse(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// Why a link test cannot start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkTestRefused {
    /// One is already running for this endpoint.
    #[error("a link test of endpoint {0} is already running")]
    AlreadyRunning(EndpointCode),
}

struct Report {
    received: Millis,
    figures: ClientFigures,
}

struct State {
    monitor: Monitor,
    reports: HashMap<LinkId, Report>,
    media: BTreeMap<LinkId, LinkStats>,
    tests: Vec<LinkTest>,
}

/// The shared monitoring state: in `AppState` for the API and the sockets,
/// and driven by [`run`].
pub struct Monitoring {
    state: Mutex<State>,
    updates: broadcast::Sender<MonitorUpdate>,
    metrics: Option<PrometheusHandle>,
}

/// What one round of sampling produced.
#[derive(Debug, Default)]
pub struct Round {
    /// The monitor's events, in order (already published and logged).
    pub updates: Vec<MonitorUpdate>,
    /// Link tests that finished in this round, to be stored.
    pub finished: Vec<LinkTestResult>,
}

impl Monitoring {
    /// Monitoring with these thresholds. `metrics` is the installed
    /// recorder's handle, rendered on `/metrics`; `None` where no recorder
    /// is installed (unit tests).
    pub fn new(thresholds: Thresholds, metrics: Option<PrometheusHandle>) -> Arc<Monitoring> {
        let (updates, _) = broadcast::channel(UPDATE_BUFFER);
        Arc::new(Monitoring {
            state: Mutex::new(State {
                monitor: Monitor::new(thresholds),
                reports: HashMap::new(),
                media: BTreeMap::new(),
                tests: Vec::new(),
            }),
            updates,
            metrics,
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every update leaves the state whole before the next line runs, so
        // a panic elsewhere while it was held cannot have left it torn.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every monitor event from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<MonitorUpdate> {
        self.updates.subscribe()
    }

    /// The Prometheus text, when a recorder is installed.
    pub fn render_metrics(&self) -> Option<String> {
        self.metrics.as_ref().map(PrometheusHandle::render)
    }

    /// Keeps a client's report (already validated) for the link's next
    /// samples. Returns false when too many links already have one.
    pub fn client_report(&self, link: LinkId, stats: &ClientStats, now: Millis) -> bool {
        let mut state = self.lock();
        let previous = state
            .reports
            .get(&link)
            .and_then(|r| r.figures.audio_samples);
        if !state.reports.contains_key(&link) && state.reports.len() >= MAX_REPORTS {
            return false;
        }
        state.reports.insert(
            link,
            Report {
                received: now,
                figures: stats.figures(previous),
            },
        );
        true
    }

    /// One round: samples every link the media plane reports at `now`,
    /// forgets the links it no longer reports, finishes due link tests,
    /// and publishes and logs the events.
    pub fn sample(&self, stats: Vec<LinkStats>, now: Millis) -> Round {
        let mut round = Round::default();
        {
            let mut state = self.lock();
            let state = &mut *state;
            let current = one_peer_per_link(stats);
            state
                .reports
                .retain(|_, r| now.since(r.received) <= REPORT_FRESH_MS);

            for (link, peer) in &current {
                let figures = state.reports.get(link).map(|r| &r.figures);
                let sample = sample_of(peer, figures, now);
                metrics::link_sample(&sample);
                for test in &mut state.tests {
                    test.observe(&sample);
                }
                for event in state.monitor.record(sample) {
                    round.updates.push(MonitorUpdate {
                        session: peer.session.clone(),
                        event,
                    });
                }
            }

            let gone: Vec<(LinkId, SessionId)> = state
                .monitor
                .links()
                .into_iter()
                .filter(|v| !current.contains_key(&v.link))
                .map(|v| (v.link, v.session))
                .collect();
            for (link, session) in gone {
                for event in state.monitor.forget(&link, now) {
                    round.updates.push(MonitorUpdate {
                        session: session.clone(),
                        event,
                    });
                }
            }
            metrics::alerts_active(state.monitor.active_alert_count());

            let (due, running) = std::mem::take(&mut state.tests)
                .into_iter()
                .partition(|t| t.is_due(now));
            state.tests = running;
            for test in due {
                let result = test.finish(state.monitor.thresholds(), now);
                round.updates.push(MonitorUpdate {
                    session: result.session.clone(),
                    event: MonitorEvent::LinkTestDone(Box::new(result.clone())),
                });
                round.finished.push(result);
            }
            state.media = current;
        }
        for update in &round.updates {
            log(update);
            // No subscriber is not an error: no console is open.
            let _ = self.updates.send(update.clone());
        }
        round
    }

    /// Every link, or those of one session.
    pub fn links(&self, session: Option<&SessionId>) -> Vec<LinkReport> {
        let state = self.lock();
        let views = match session {
            Some(s) => state.monitor.links_of(s),
            None => state.monitor.links(),
        };
        views
            .into_iter()
            .map(|view| {
                let media = state.media.get(&view.link);
                LinkReport::of(view, media)
            })
            .collect()
    }

    /// A link's session and its last 15 minutes; `None` for an unknown link.
    pub fn history(&self, link: &LinkId) -> Option<(SessionId, Vec<HistoryPoint>)> {
        let state = self.lock();
        let session = state.monitor.link(link)?.session;
        Some((session, state.monitor.history(link)?))
    }

    /// Active alerts, of every link or of one session's.
    pub fn alerts(&self, session: Option<&SessionId>) -> Vec<Alert> {
        let state = self.lock();
        match session {
            None => state.monitor.active_alerts(),
            Some(s) => state
                .monitor
                .links_of(s)
                .into_iter()
                .flat_map(|v| v.alerts)
                .collect(),
        }
    }

    /// Starts a link test of `endpoint` in `session` (the caller has
    /// checked the phase, the role and the length).
    pub fn start_link_test(
        &self,
        session: &SessionId,
        endpoint: &EndpointCode,
        requested_by: &str,
        seconds: u32,
        now: Millis,
    ) -> Result<LinkTestRun, LinkTestRefused> {
        let mut state = self.lock();
        let busy = state
            .tests
            .iter()
            .any(|t| &t.run().session == session && &t.run().endpoint == endpoint);
        if busy {
            return Err(LinkTestRefused::AlreadyRunning(endpoint.clone()));
        }
        let test = LinkTest::new(
            session.clone(),
            endpoint.clone(),
            requested_by,
            seconds,
            now,
        );
        let run = test.run().clone();
        state.tests.push(test);
        Ok(run)
    }

    /// The link tests of `session` still running.
    pub fn running_link_tests(&self, session: &SessionId) -> Vec<LinkTestRun> {
        self.lock()
            .tests
            .iter()
            .map(|t| t.run())
            .filter(|r| &r.session == session)
            .cloned()
            .collect()
    }
}

/// One peer per link: an endpoint that reconnects briefly has two peers,
/// the old one failing and the new one coming up; the link is the one that
/// works best.
fn one_peer_per_link(stats: Vec<LinkStats>) -> BTreeMap<LinkId, LinkStats> {
    let mut out: BTreeMap<LinkId, LinkStats> = BTreeMap::new();
    for peer in stats {
        let link = link_of(&peer);
        let better = out.get(&link).is_none_or(|kept| {
            preference(state_of(&peer.state)) >= preference(state_of(&kept.state))
        });
        if better {
            out.insert(link, peer);
        }
    }
    out
}

fn log(update: &MonitorUpdate) {
    let session = &update.session;
    match &update.event {
        MonitorEvent::AlertRaised(a) => tracing::warn!(
            %session, link = %a.link, reason = a.reason.as_str(), level = a.level.as_str(),
            message = %a.message, "link alert"
        ),
        MonitorEvent::AlertCleared { link, reason, .. } => {
            tracing::info!(%session, %link, reason = reason.as_str(), "link alert cleared")
        }
        MonitorEvent::HealthChanged { link, from, to, .. } => tracing::info!(
            %session, %link, from = from.as_str(), to = to.as_str(), "link health"
        ),
        MonitorEvent::LinkTestDone(r) => tracing::info!(
            %session, endpoint = %r.endpoint, verdict = ?r.verdict, samples = r.samples,
            "link test finished"
        ),
        MonitorEvent::LinkRemoved { link, .. } => {
            tracing::debug!(%session, %link, "link gone")
        }
    }
}

/// Samples once a second until `stop` turns true; stores finished link
/// tests with the session's record and keeps the metrics exporter tidy.
pub async fn run<F>(
    monitoring: Arc<Monitoring>,
    core: Arc<Core>,
    links: F,
    mut stop: watch::Receiver<bool>,
) where
    F: Fn() -> Vec<LinkStats> + Send + 'static,
{
    let mut tick = tokio::time::interval(SAMPLE_EVERY);
    // A round that ran late is not made up with a burst: samples are per
    // second of wall time, and the history is keyed by when they were taken.
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut rounds = 0u32;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
        let round = monitoring.sample(links(), clock::now());
        for result in round.finished {
            if let Err(e) = core.with_store(|store| store.append_link_test(&result)) {
                tracing::error!(session = %result.session, endpoint = %result.endpoint,
                    error = %e, "a link test result could not be stored");
            }
        }
        rounds = rounds.wrapping_add(1);
        if rounds.is_multiple_of(UPKEEP_EVERY_ROUNDS) {
            if let Some(handle) = &monitoring.metrics {
                handle.run_upkeep();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::{AlertReason, Verdict};

    fn peer(code: Option<&str>, state: &str, loss_up: f64) -> LinkStats {
        LinkStats {
            peer: "000000000000000000000000000000aa".parse().expect("peer id"),
            session: SessionId("s1".into()),
            endpoint: code.map(|c| EndpointCode(c.into())),
            state: state.into(),
            candidate_type: Some("host".into()),
            rtt_ms: Some(1.0),
            loss_up,
            loss_down: 0.0,
            jitter_up_ms: 1.0,
            jitter_down_ms: 1.0,
            bitrate_in: 500_000,
            bitrate_out: 500_000,
            packets_forwarded: 0,
            packets_received: 0,
            keyframe_requests: 0,
        }
    }

    #[test]
    fn upstream_loss_raises_at_once_and_clears_within_three_seconds() {
        let m = Monitoring::new(Thresholds::default(), None);
        let mut rx = m.subscribe();
        let round = m.sample(vec![peer(Some("30"), "connected", 0.0)], Millis(1_000));
        assert!(round.updates.is_empty());
        let round = m.sample(vec![peer(Some("30"), "connected", 0.10)], Millis(2_000));
        assert!(round.updates.iter().any(|u| matches!(&u.event,
            MonitorEvent::AlertRaised(a) if a.reason == AlertReason::HighLossUp && a.level >= Health::Warn)));
        assert!(matches!(
            rx.try_recv().map(|u| u.event),
            Ok(MonitorEvent::AlertRaised(_))
        ));
        assert_eq!(m.alerts(None).len(), 1);
        let mut cleared_at = None;
        for s in 3..=6u64 {
            let round = m.sample(vec![peer(Some("30"), "connected", 0.0)], Millis(s * 1000));
            if round
                .updates
                .iter()
                .any(|u| matches!(u.event, MonitorEvent::AlertCleared { .. }))
            {
                cleared_at = Some(s);
                break;
            }
        }
        assert!(cleared_at.is_some_and(|s| s <= 5), "{cleared_at:?}");
        assert!(m.alerts(None).is_empty());
    }

    #[test]
    fn a_link_no_longer_reported_is_forgotten() {
        let m = Monitoring::new(Thresholds::default(), None);
        m.sample(vec![peer(Some("30"), "failed", 0.0)], Millis(1_000));
        assert_eq!(m.alerts(None).len(), 1);
        assert_eq!(m.links(None).len(), 1);
        let round = m.sample(Vec::new(), Millis(2_000));
        assert!(round
            .updates
            .iter()
            .any(|u| matches!(u.event, MonitorEvent::LinkRemoved { .. })));
        assert!(m.links(None).is_empty());
        assert!(m.history(&LinkId("s1/30".into())).is_none());
    }

    #[test]
    fn the_working_peer_of_a_reconnecting_endpoint_is_the_link() {
        let mut old = peer(Some("30"), "failed", 0.0);
        old.peer = "000000000000000000000000000000bb".parse().expect("peer id");
        let m = Monitoring::new(Thresholds::default(), None);
        m.sample(
            vec![peer(Some("30"), "connected", 0.0), old.clone()],
            Millis(1_000),
        );
        let links = m.links(None);
        assert_eq!(links.len(), 1);
        assert_eq!(links[0].health, Health::Good);
        assert_eq!(links[0].state, LinkState::Connected);
        assert_eq!(links[0].peer, Some(peer(None, "", 0.0).peer));
        assert_eq!(links[0].id.as_str(), "s1/30");
    }

    #[test]
    fn client_reports_fill_the_samples_while_fresh() {
        let m = Monitoring::new(Thresholds::default(), None);
        let link = LinkId("s1/30".into());
        let stats: ClientStats = serde_json::from_value(serde_json::json!({
            "inbound": [{"kind": "video", "frames_per_second": 25, "width": 640, "height": 360}]
        }))
        .expect("stats");
        assert!(m.client_report(link.clone(), &stats, Millis(1_000)));
        m.sample(vec![peer(Some("30"), "connected", 0.0)], Millis(2_000));
        let latest = |m: &Monitoring| m.links(None)[0].clone();
        assert_eq!(latest(&m).frame_rate, Some(25.0));
        assert_eq!(latest(&m).resolution, Some((640, 360)));
        m.sample(vec![peer(Some("30"), "connected", 0.0)], Millis(8_000));
        assert_eq!(latest(&m).frame_rate, None, "a stale report is dropped");
    }

    #[test]
    fn a_link_test_measures_its_seconds_then_reports_once() {
        let m = Monitoring::new(Thresholds::default(), None);
        let (s1, code) = (SessionId("s1".into()), EndpointCode("30".into()));
        let run = m
            .start_link_test(&s1, &code, "technician", 3, Millis(1_000))
            .expect("started");
        assert_eq!(run.ends_at, Millis(4_000));
        assert_eq!(
            m.start_link_test(&s1, &code, "endpoint", 3, Millis(1_500)),
            Err(LinkTestRefused::AlreadyRunning(code.clone()))
        );
        for s in 1..=3u64 {
            let round = m.sample(vec![peer(Some("30"), "connected", 0.10)], Millis(s * 1000));
            assert!(round.finished.is_empty());
        }
        assert_eq!(m.running_link_tests(&s1).len(), 1);
        let round = m.sample(vec![peer(Some("30"), "connected", 0.10)], Millis(4_000));
        assert_eq!(round.finished.len(), 1);
        let result = &round.finished[0];
        assert_eq!(result.samples, 4);
        assert_eq!(result.verdict, Verdict::Bad);
        assert!(round
            .updates
            .iter()
            .any(|u| matches!(u.event, MonitorEvent::LinkTestDone(_))));
        assert!(m.running_link_tests(&s1).is_empty());
    }
}
