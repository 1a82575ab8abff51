//! What the monitor tells the shell: alerts and changes of health, for the
//! technicians' event stream and the log.

use super::alerts::{Alert, AlertReason};
use super::health::Health;
use super::link_test::LinkTestResult;
use super::sample::LinkId;
use diemcau_control::Millis;
use serde::{Deserialize, Serialize};

/// One change a technician should see.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum MonitorEvent {
    /// An alert started, or an active one changed level (same link and
    /// reason: replace it).
    AlertRaised(Alert),
    /// An alert ended.
    AlertCleared {
        /// Which link.
        link: LinkId,
        /// Which alert.
        reason: AlertReason,
        /// When.
        at: Millis,
    },
    /// The link's overall health changed.
    HealthChanged {
        /// Which link.
        link: LinkId,
        /// Before.
        from: Health,
        /// After.
        to: Health,
        /// When.
        at: Millis,
    },
    /// A pre-session link test finished; its result is kept with the
    /// session's record.
    LinkTestDone(Box<LinkTestResult>),
    /// The link was forgotten (closed for good): drop it from views.
    LinkRemoved {
        /// Which link.
        link: LinkId,
        /// When.
        at: Millis,
    },
}

impl MonitorEvent {
    /// The link the event is about.
    pub fn link(&self) -> &LinkId {
        match self {
            MonitorEvent::AlertRaised(alert) => &alert.link,
            MonitorEvent::LinkTestDone(result) => &result.link,
            MonitorEvent::AlertCleared { link, .. }
            | MonitorEvent::HealthChanged { link, .. }
            | MonitorEvent::LinkRemoved { link, .. } => link,
        }
    }
}
