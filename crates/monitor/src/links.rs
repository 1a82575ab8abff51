//! The monitor itself: every link's latest sample, health, alerts and
//! history.

use super::alerts::{Alert, AlertReason, Tracker};
use super::event::MonitorEvent;
use super::health::{readings, Health, Thresholds};
use super::history::{History, HistoryPoint};
use super::sample::{LinkId, LinkSample, LinkState};
use diemcau_control::{EndpointCode, Millis, SessionId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One link as `GET /api/links` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinkView {
    /// Which link.
    pub link: LinkId,
    /// Its session.
    pub session: SessionId,
    /// Its endpoint; `None` for a viewer.
    pub endpoint: Option<EndpointCode>,
    /// Overall health: the worst active alert, `Good` when none.
    pub health: Health,
    /// When the monitor first heard of the link.
    pub first_seen: Millis,
    /// Since when the link has been in its current state.
    pub state_since: Millis,
    /// The latest sample.
    pub latest: LinkSample,
    /// Active alerts, worst reasons first (see [`AlertReason::ALL`]).
    pub alerts: Vec<Alert>,
}

/// What the monitor keeps per link.
#[derive(Debug, Clone)]
struct LinkEntry {
    first_seen: Millis,
    state_since: Millis,
    latest: LinkSample,
    health: Health,
    trackers: [Tracker; 6],
    /// Start of the current run of connected samples without media.
    silent_since: Option<Millis>,
    history: History,
}

impl LinkEntry {
    fn new(sample: &LinkSample) -> LinkEntry {
        LinkEntry {
            first_seen: sample.at,
            state_since: sample.at,
            latest: sample.clone(),
            health: Health::Good,
            trackers: Default::default(),
            silent_since: None,
            history: History::default(),
        }
    }

    fn alerts(&self) -> impl Iterator<Item = &Alert> {
        self.trackers.iter().filter_map(Tracker::active)
    }

    fn worst(&self) -> Health {
        self.trackers
            .iter()
            .map(Tracker::level)
            .max()
            .unwrap_or(Health::Good)
    }

    /// How long the link has carried no media, tracked over connected
    /// samples only: time spent reconnecting is not silence to blame on
    /// the site, and a new connection gets the full grace again.
    fn silent_for(&mut self, sample: &LinkSample) -> u64 {
        if sample.state != LinkState::Connected || sample.watched_bitrate() > 0 {
            self.silent_since = None;
            return 0;
        }
        let since = *self.silent_since.get_or_insert(sample.at);
        sample.at.since(since)
    }
}

/// Link health for every link of every session. Pure, like the control
/// plane: the shell feeds it samples with their time and forwards what it
/// returns.
#[derive(Debug, Clone)]
pub struct Monitor {
    thresholds: Thresholds,
    links: BTreeMap<LinkId, LinkEntry>,
}

impl Monitor {
    /// A monitor judging links by `thresholds` (validate them first with
    /// [`Thresholds::validate`]; a hysteresis of 0 samples acts as 1).
    pub fn new(thresholds: Thresholds) -> Monitor {
        Monitor {
            thresholds,
            links: BTreeMap::new(),
        }
    }

    /// The thresholds in use.
    pub fn thresholds(&self) -> &Thresholds {
        &self.thresholds
    }

    /// Takes one sample: updates the link's alerts and health and appends
    /// to its history. Returns alert events first, then the change of
    /// health if any. A sample older than the link's latest is stale (it
    /// was overtaken on its way here) and is ignored.
    pub fn record(&mut self, sample: LinkSample) -> Vec<MonitorEvent> {
        let sample = sample.sanitized();
        let clear_after = self.thresholds.clear_after_samples.max(1);
        let entry = self
            .links
            .entry(sample.link.clone())
            .or_insert_with(|| LinkEntry::new(&sample));
        if sample.at < entry.latest.at {
            return Vec::new();
        }

        let silent_for = entry.silent_for(&sample);
        let mut events = Vec::new();
        for reading in readings(&sample, &self.thresholds, silent_for) {
            let tracker = &mut entry.trackers[reading.reason.index()];
            if let Some(event) = tracker.observe(&sample.link, reading, sample.at, clear_after) {
                events.push(event);
            }
        }

        let health = entry.worst();
        if health != entry.health {
            events.push(MonitorEvent::HealthChanged {
                link: sample.link.clone(),
                from: entry.health,
                to: health,
                at: sample.at,
            });
            entry.health = health;
        }
        entry.history.push(HistoryPoint::of(&sample, health));
        if sample.state != entry.latest.state {
            entry.state_since = sample.at;
        }
        entry.latest = sample;
        events
    }

    /// Every link, ordered by id.
    pub fn links(&self) -> Vec<LinkView> {
        self.links.iter().map(|(id, e)| view(id, e)).collect()
    }

    /// The links of one session, ordered by id.
    pub fn links_of(&self, session: &SessionId) -> Vec<LinkView> {
        self.links
            .iter()
            .filter(|(_, e)| &e.latest.session == session)
            .map(|(id, e)| view(id, e))
            .collect()
    }

    /// One link.
    pub fn link(&self, link: &LinkId) -> Option<LinkView> {
        self.links.get(link).map(|e| view(link, e))
    }

    /// The link's last 15 minutes, oldest first; `None` for an unknown link.
    pub fn history(&self, link: &LinkId) -> Option<Vec<HistoryPoint>> {
        self.links.get(link).map(|e| e.history.points())
    }

    /// Every active alert, by link, then worst reasons first.
    pub fn active_alerts(&self) -> Vec<Alert> {
        self.links
            .values()
            .flat_map(LinkEntry::alerts)
            .cloned()
            .collect()
    }

    /// How many alerts are active (for the `diemcau_alerts_active` gauge).
    pub fn active_alert_count(&self) -> usize {
        self.links.values().map(|e| e.alerts().count()).sum()
    }

    /// The link closed for good: drops its state and history. Its active
    /// alerts are cleared (so consoles that show them hear of it), then it
    /// is announced removed. Nothing for an unknown link.
    pub fn forget(&mut self, link: &LinkId, at: Millis) -> Vec<MonitorEvent> {
        let Some(mut entry) = self.links.remove(link) else {
            return Vec::new();
        };
        let mut events: Vec<MonitorEvent> = AlertReason::ALL
            .iter()
            .filter_map(|r| entry.trackers[r.index()].take())
            .map(|alert| MonitorEvent::AlertCleared {
                link: link.clone(),
                reason: alert.reason,
                at,
            })
            .collect();
        events.push(MonitorEvent::LinkRemoved {
            link: link.clone(),
            at,
        });
        events
    }
}

fn view(id: &LinkId, entry: &LinkEntry) -> LinkView {
    LinkView {
        link: id.clone(),
        session: entry.latest.session.clone(),
        endpoint: entry.latest.endpoint.clone(),
        health: entry.health,
        first_seen: entry.first_seen,
        state_since: entry.state_since,
        latest: entry.latest.clone(),
        alerts: entry.alerts().cloned().collect(),
    }
}
