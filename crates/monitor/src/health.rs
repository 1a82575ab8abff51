//! Health levels, the thresholds that set them, and what one sample says
//! about each alert reason.

use super::alerts::AlertReason;
use super::error::MonitorError;
use super::sample::{LinkSample, LinkState};
use serde::{Deserialize, Serialize};

/// How a link is doing. Ordered: `Good < Warn < Bad`, so the worst of
/// several is their maximum.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Health {
    /// Nothing to see.
    #[default]
    Good,
    /// Degraded; the meeting goes on but a technician should look.
    Warn,
    /// Down, or degraded enough that the site cannot follow.
    Bad,
}

impl Health {
    /// The level as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// The `[health]` table of the config. A metric at or above its `warn`
/// value makes the link `warn`, at or above `bad` makes it `bad`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Thresholds {
    /// Round-trip time, milliseconds.
    pub rtt_warn_ms: f64,
    /// Round-trip time, milliseconds.
    pub rtt_bad_ms: f64,
    /// Packet loss in either direction, percent.
    pub loss_warn_pct: f64,
    /// Packet loss in either direction, percent.
    pub loss_bad_pct: f64,
    /// Jitter in either direction, milliseconds.
    pub jitter_warn_ms: f64,
    /// Jitter in either direction, milliseconds.
    pub jitter_bad_ms: f64,
    /// How many samples in a row (one a second) must be better than an
    /// alert's level before it is lowered or cleared. Raising is always
    /// immediate; this only stops a link hovering at a threshold from
    /// raising and clearing every second.
    pub clear_after_samples: u32,
    /// Seconds a connected link may carry no media before `no_media` is raised.
    pub no_media_secs: u32,
}

impl Default for Thresholds {
    /// Defaults for a national meeting over good terrestrial links: what a
    /// viewer notices (choppy audio from ~2% loss, lip-sync and turn-taking
    /// trouble from ~300 ms) rather than what the codecs can survive.
    fn default() -> Self {
        Thresholds {
            rtt_warn_ms: 150.0,
            rtt_bad_ms: 400.0,
            loss_warn_pct: 2.0,
            loss_bad_pct: 8.0,
            jitter_warn_ms: 30.0,
            jitter_bad_ms: 80.0,
            clear_after_samples: 3,
            no_media_secs: 5,
        }
    }
}

impl Thresholds {
    /// Checks that every pair is usable: finite, not negative, `warn ≤ bad`,
    /// and a hysteresis of at least one sample.
    pub fn validate(&self) -> Result<(), MonitorError> {
        let pairs = [
            ("rtt", self.rtt_warn_ms, self.rtt_bad_ms),
            ("loss", self.loss_warn_pct, self.loss_bad_pct),
            ("jitter", self.jitter_warn_ms, self.jitter_bad_ms),
        ];
        for (name, warn, bad) in pairs {
            if !warn.is_finite() || !bad.is_finite() || warn < 0.0 || bad < 0.0 {
                return Err(MonitorError::Thresholds(format!(
                    "{name} thresholds must be finite and not negative"
                )));
            }
            if warn > bad {
                return Err(MonitorError::Thresholds(format!(
                    "{name}: the warn threshold ({warn}) is above the bad one ({bad})"
                )));
            }
        }
        if self.clear_after_samples == 0 {
            return Err(MonitorError::Thresholds(
                "clear_after_samples must be at least 1".into(),
            ));
        }
        if self.no_media_secs == 0 {
            return Err(MonitorError::Thresholds(
                "no_media_secs must be at least 1".into(),
            ));
        }
        Ok(())
    }
}

/// What one sample says about one alert reason. The message is only written
/// when the level is above `Good`, since only then can it reach a page.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Reading {
    pub(crate) reason: AlertReason,
    pub(crate) level: Health,
    pub(crate) message: String,
}

/// The readings of one sample. A reason the sample gives no evidence on is
/// left out, so its alert neither rises nor calms: figures are only judged
/// while the link is connected (a dropped link's last RTCP says nothing new),
/// and a link that is (re)connecting is neither down nor up yet.
///
/// `silent_for_ms` is how long the link has carried no media, which the
/// caller tracks across samples.
pub(crate) fn readings(sample: &LinkSample, t: &Thresholds, silent_for_ms: u64) -> Vec<Reading> {
    let mut out = Vec::with_capacity(6);
    match sample.state {
        LinkState::New | LinkState::Connecting => return out,
        state if state.is_down() => {
            out.push(Reading {
                reason: AlertReason::LinkDown,
                level: Health::Bad,
                message: format!("link {}", state.as_str()),
            });
            return out;
        }
        _ => out.push(good(AlertReason::LinkDown)),
    }

    out.push(grade(
        AlertReason::HighRtt,
        sample.rtt_ms,
        t.rtt_warn_ms,
        t.rtt_bad_ms,
        |v| format!("round-trip time {v:.0} ms"),
    ));
    out.push(grade(
        AlertReason::HighLossUp,
        sample.loss_up_pct,
        t.loss_warn_pct,
        t.loss_bad_pct,
        |v| format!("upstream loss {v:.1}%"),
    ));
    out.push(grade(
        AlertReason::HighLossDown,
        sample.loss_down_pct,
        t.loss_warn_pct,
        t.loss_bad_pct,
        |v| format!("downstream loss {v:.1}%"),
    ));
    // One reason for both directions: a technician chases jitter on the
    // path, whichever way it shows; the message says which.
    let jitter = match (sample.jitter_up_ms, sample.jitter_down_ms) {
        (Some(up), Some(down)) if down > up => Some(("downstream", down)),
        (Some(up), _) => Some(("upstream", up)),
        (None, Some(down)) => Some(("downstream", down)),
        (None, None) => None,
    };
    out.push(grade(
        AlertReason::HighJitter,
        jitter.map(|(_, v)| v),
        t.jitter_warn_ms,
        t.jitter_bad_ms,
        |v| {
            let way = jitter.map(|(w, _)| w).unwrap_or("");
            format!("{way} jitter {v:.0} ms")
        },
    ));

    let no_media_ms = u64::from(t.no_media_secs).saturating_mul(1000);
    out.push(if silent_for_ms >= no_media_ms {
        let way = if sample.endpoint.is_some() {
            "received from"
        } else {
            "sent to"
        };
        Reading {
            reason: AlertReason::NoMedia,
            // The link is up, and the cause is usually at the site (camera
            // or microphone off), so it is worth a look, not an emergency.
            level: Health::Warn,
            message: format!("no media {way} the link for {} s", silent_for_ms / 1000),
        }
    } else {
        good(AlertReason::NoMedia)
    });
    out
}

fn good(reason: AlertReason) -> Reading {
    Reading {
        reason,
        level: Health::Good,
        message: String::new(),
    }
}

/// A missing figure counts as good: alerts speak only of what was measured,
/// and an alert must be able to clear when the figure stops coming.
fn grade(
    reason: AlertReason,
    value: Option<f64>,
    warn: f64,
    bad: f64,
    describe: impl Fn(f64) -> String,
) -> Reading {
    let Some(v) = value else {
        return good(reason);
    };
    let (level, limit) = if v >= bad {
        (Health::Bad, bad)
    } else if v >= warn {
        (Health::Warn, warn)
    } else {
        return good(reason);
    };
    Reading {
        reason,
        level,
        message: format!("{} (≥ {limit} is {})", describe(v), level.as_str()),
    }
}
