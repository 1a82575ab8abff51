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
use crate::media::{LinkStats, MediaPlane};
use crate::monitor::media::{link_of, preference, sample_of, state_of};
use crate::monitor::{
    Alert, ClientFigures, ClientStats, HistoryPoint, LinkId, LinkReport, LinkTest, LinkTestResult,
    LinkTestRun, Monitor, MonitorEvent, Thresholds,
};
use crate::telemetry;
use metrics_exporter_prometheus::PrometheusHandle;
use std::collections::{BTreeMap, HashMap, VecDeque};
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

/// Most client reports kept. A report is kept only for a socket's own peer
/// connection, and stale ones are dropped every round; this caps what many
/// consoles at once could make us hold.
const MAX_REPORTS: usize = 4096;

/// Monitor events kept for the links' logs, all links together: at a few
/// events per link per incident, enough for the last incidents of every
/// site of a national meeting.
const LOG_EVENTS: usize = 2000;

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

/// What [`Monitoring::history`] knows of one link.
#[derive(Debug, Clone)]
pub struct LinkHistory {
    /// The link's session.
    pub session: SessionId,
    /// One point a second, oldest first.
    pub points: Vec<HistoryPoint>,
    /// Its alerts, changes of health and link tests, oldest first.
    pub events: Vec<MonitorEvent>,
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
    /// The latest events of every link, oldest first: what a console
    /// opened after the fact shows as the link's log.
    log: VecDeque<MonitorEvent>,
}

/// The shared monitoring state: in `AppState` for the API and the sockets,
/// and driven by [`run`].
pub struct Monitoring {
    state: Mutex<State>,
    updates: broadcast::Sender<MonitorUpdate>,
    metrics: Option<PrometheusHandle>,
    thresholds: Thresholds,
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
                monitor: Monitor::new(thresholds.clone()),
                reports: HashMap::new(),
                media: BTreeMap::new(),
                tests: Vec::new(),
                log: VecDeque::new(),
            }),
            updates,
            metrics,
            thresholds,
        })
    }

    /// The health thresholds links are graded by: the pages grade their
    /// own view of the link by the same numbers.
    pub fn thresholds(&self) -> &Thresholds {
        &self.thresholds
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
                telemetry::link_sample(&sample);
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
            telemetry::alerts_active(state.monitor.active_alert_count());

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
            for update in &round.updates {
                if state.log.len() >= LOG_EVENTS {
                    state.log.pop_front();
                }
                state.log.push_back(update.event.clone());
            }
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

    /// A link's session, its last 15 minutes, and its events still in the
    /// log (oldest first); `None` for an unknown link.
    pub fn history(&self, link: &LinkId) -> Option<LinkHistory> {
        let state = self.lock();
        let session = state.monitor.link(link)?.session;
        let points = state.monitor.history(link)?;
        let events = state
            .log
            .iter()
            .filter(|e| e.link() == link)
            .cloned()
            .collect();
        Some(LinkHistory {
            session,
            points,
            events,
        })
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
        loopback: bool,
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
        )
        .with_loopback(loopback);
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

/// What the sampler reads the links from, and where it ends a link test's
/// loop-back: the media plane in the server, a plain function in tests.
pub trait LinkSource: Send + 'static {
    /// Every peer's figures, as of the last second.
    fn links(&self) -> Vec<LinkStats>;
    /// Loops an endpoint's own media back to it, or stops.
    fn set_loopback(&self, session: &SessionId, endpoint: &EndpointCode, on: bool);
}

impl LinkSource for MediaPlane {
    fn links(&self) -> Vec<LinkStats> {
        MediaPlane::links(self)
    }
    fn set_loopback(&self, session: &SessionId, endpoint: &EndpointCode, on: bool) {
        MediaPlane::set_loopback(self, session, endpoint, on);
    }
}

impl<F: Fn() -> Vec<LinkStats> + Send + 'static> LinkSource for F {
    fn links(&self) -> Vec<LinkStats> {
        self()
    }
    fn set_loopback(&self, _: &SessionId, _: &EndpointCode, _: bool) {}
}

/// Samples once a second until `stop` turns true; ends the loop-back of
/// finished link tests and stores them with the session's record, and
/// keeps the metrics exporter tidy.
pub async fn run(
    monitoring: Arc<Monitoring>,
    core: Arc<Core>,
    source: impl LinkSource,
    mut stop: watch::Receiver<bool>,
) {
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
        let round = monitoring.sample(source.links(), clock::now());
        for result in round.finished {
            if result.loopback {
                source.set_loopback(&result.session, &result.endpoint, false);
            }
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
mod tests;
