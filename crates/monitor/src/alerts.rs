//! Alerts, and the hysteresis that raises them at once and lowers them only
//! after the link has been better for a few samples in a row.

use super::event::MonitorEvent;
use super::health::{Health, Reading};
use super::sample::LinkId;
use diemcau_control::Millis;
use serde::{Deserialize, Serialize};

/// Why an alert was raised. Integrators match on these, so they only ever
/// gain variants.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum AlertReason {
    /// Round-trip time at or above a threshold.
    HighRtt,
    /// Loss of what the server receives from the link.
    HighLossUp,
    /// Loss of what the link receives from the server.
    HighLossDown,
    /// Jitter, either direction.
    HighJitter,
    /// Disconnected, failed or closed.
    LinkDown,
    /// Connected but carrying no media.
    NoMedia,
}

impl AlertReason {
    /// Every reason, in a fixed order (the order of alerts in views).
    pub const ALL: [AlertReason; 6] = [
        AlertReason::LinkDown,
        AlertReason::HighLossUp,
        AlertReason::HighLossDown,
        AlertReason::HighRtt,
        AlertReason::HighJitter,
        AlertReason::NoMedia,
    ];

    /// The reason as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// The reason's place in [`AlertReason::ALL`].
    pub(crate) fn index(self) -> usize {
        match self {
            AlertReason::LinkDown => 0,
            AlertReason::HighLossUp => 1,
            AlertReason::HighLossDown => 2,
            AlertReason::HighRtt => 3,
            AlertReason::HighJitter => 4,
            AlertReason::NoMedia => 5,
        }
    }
}

/// An active alert. A link has at most one per reason, so consumers key
/// alerts by `(link, reason)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Which link.
    pub link: LinkId,
    /// When it was raised, or last changed level.
    pub at: Millis,
    /// When it was first raised; unchanged by later changes of level.
    pub since: Millis,
    /// Why.
    pub reason: AlertReason,
    /// `Warn` or `Bad`.
    pub level: Health,
    /// For people: the figure and the threshold it crossed, in the latest
    /// sample that showed it.
    pub message: String,
}

/// One reason's alert on one link, and how long the link has been better
/// than it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tracker {
    active: Option<Alert>,
    /// Samples in a row below the active alert's level.
    calm: u32,
    /// The worst reading during that run, which the alert falls back to.
    calm_worst: Option<Reading>,
}

impl Tracker {
    pub(crate) fn active(&self) -> Option<&Alert> {
        self.active.as_ref()
    }

    pub(crate) fn level(&self) -> Health {
        self.active.as_ref().map_or(Health::Good, |a| a.level)
    }

    pub(crate) fn take(&mut self) -> Option<Alert> {
        self.calm = 0;
        self.calm_worst = None;
        self.active.take()
    }

    /// Feeds one reading. Returns `AlertRaised` when the alert starts or
    /// changes level, `AlertCleared` when it ends.
    pub(crate) fn observe(
        &mut self,
        link: &LinkId,
        reading: Reading,
        at: Millis,
        clear_after: u32,
    ) -> Option<MonitorEvent> {
        let Some(alert) = self.active.as_mut() else {
            if reading.level == Health::Good {
                return None;
            }
            let alert = Alert {
                link: link.clone(),
                at,
                since: at,
                reason: reading.reason,
                level: reading.level,
                message: reading.message,
            };
            self.active = Some(alert.clone());
            return Some(MonitorEvent::AlertRaised(alert));
        };

        if reading.level >= alert.level {
            let worse = reading.level > alert.level;
            alert.level = reading.level;
            // Keep the figure current for the links view; only a change of
            // level is news worth an event.
            alert.message = reading.message;
            self.calm = 0;
            self.calm_worst = None;
            if worse {
                alert.at = at;
                return Some(MonitorEvent::AlertRaised(alert.clone()));
            }
            return None;
        }

        self.calm += 1;
        if self
            .calm_worst
            .as_ref()
            .is_none_or(|w| reading.level >= w.level)
        {
            self.calm_worst = Some(reading);
        }
        if self.calm < clear_after {
            return None;
        }
        self.calm = 0;
        match self.calm_worst.take() {
            Some(worst) if worst.level > Health::Good => {
                alert.level = worst.level;
                alert.message = worst.message;
                alert.at = at;
                Some(MonitorEvent::AlertRaised(alert.clone()))
            }
            _ => {
                let reason = alert.reason;
                self.active = None;
                Some(MonitorEvent::AlertCleared {
                    link: link.clone(),
                    reason,
                    at,
                })
            }
        }
    }
}
