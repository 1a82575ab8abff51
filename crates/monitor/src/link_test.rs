//! The pre-session link test: an endpoint's link measured for a few
//! seconds while the session is `open`, before anyone depends on it.
//!
//! The test reads the same one-a-second samples as the monitor (RTT, loss
//! both ways, jitter, achieved bitrate), so a test and the live view can
//! never disagree on what a figure means. Its verdict grades the test's
//! averages with the monitor's thresholds: a test is short, so one bad
//! second should show in the maxima, not condemn the link.

use super::health::{Health, Thresholds};
use super::sample::{LinkId, LinkSample, LinkState};
use diemcau_control::{EndpointCode, Millis, SessionId};
use serde::{Deserialize, Serialize};
use std::ops::RangeInclusive;

/// How long a test may run, in seconds.
pub const LINK_TEST_SECS: RangeInclusive<u32> = 3..=30;

/// A test under way.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LinkTestRun {
    /// The session.
    pub session: SessionId,
    /// The endpoint under test.
    pub endpoint: EndpointCode,
    /// Its link.
    pub link: LinkId,
    /// Who asked (`technician` or `endpoint`).
    pub requested_by: String,
    /// When it started.
    pub started_at: Millis,
    /// When it ends.
    pub ends_at: Millis,
    /// Its length.
    pub seconds: u32,
    /// Whether the endpoint's own media is looped back to it meanwhile.
    pub loopback: bool,
}

/// Average and worst of one figure over a test.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Figure {
    /// Mean over the samples that had the figure.
    pub avg: f64,
    /// Lowest.
    pub min: f64,
    /// Highest.
    pub max: f64,
}

/// How the link did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Averages below every warn threshold.
    Good,
    /// An average at or above a warn threshold.
    Warn,
    /// An average at or above a bad threshold, or the link dropped during
    /// the test.
    Bad,
    /// The link was never connected during the test: nothing was measured.
    NoLink,
}

/// A finished test, as it is stored with the session's record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinkTestResult {
    /// The session.
    pub session: SessionId,
    /// The endpoint tested.
    pub endpoint: EndpointCode,
    /// Its link.
    pub link: LinkId,
    /// Who asked (`technician` or `endpoint`).
    pub requested_by: String,
    /// When it started.
    pub started_at: Millis,
    /// When it ended.
    pub ended_at: Millis,
    /// Its length as asked.
    pub seconds: u32,
    /// Samples taken while the link was connected.
    pub samples: u32,
    /// Samples in which the link was down (disconnected, failed, closed).
    pub down_samples: u32,
    /// Round-trip time, ms.
    pub rtt_ms: Option<Figure>,
    /// Loss of what the server received from the endpoint, percent.
    pub loss_up_pct: Option<Figure>,
    /// Loss of what the endpoint received, percent.
    pub loss_down_pct: Option<Figure>,
    /// Worse of the two jitters, ms.
    pub jitter_ms: Option<Figure>,
    /// Achieved bitrate from the endpoint to the server.
    pub bitrate_in_bps: Option<Figure>,
    /// Achieved bitrate from the server to the endpoint.
    pub bitrate_out_bps: Option<Figure>,
    /// Whether the endpoint's own media was looped back to it during the
    /// test, so the downstream figures measure its own stream coming back
    /// (without it, only what the session happened to send it).
    pub loopback: bool,
    /// The overall grade.
    pub verdict: Verdict,
}

#[derive(Debug, Clone, Default)]
struct Acc {
    n: u32,
    sum: f64,
    min: f64,
    max: f64,
}

impl Acc {
    fn add(&mut self, v: Option<f64>) {
        let Some(v) = v.filter(|v| v.is_finite()) else {
            return;
        };
        if self.n == 0 {
            (self.min, self.max) = (v, v);
        }
        self.n += 1;
        self.sum += v;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
    }

    fn figure(&self) -> Option<Figure> {
        (self.n > 0).then(|| Figure {
            avg: self.sum / f64::from(self.n),
            min: self.min,
            max: self.max,
        })
    }
}

/// A test in progress: fed the link's samples, finished at its end.
#[derive(Debug, Clone)]
pub struct LinkTest {
    run: LinkTestRun,
    samples: u32,
    down: u32,
    rtt: Acc,
    loss_up: Acc,
    loss_down: Acc,
    jitter: Acc,
    bitrate_in: Acc,
    bitrate_out: Acc,
}

impl LinkTest {
    /// Starts a test of `seconds` (already checked against
    /// [`LINK_TEST_SECS`]) at `now`.
    pub fn new(
        session: SessionId,
        endpoint: EndpointCode,
        requested_by: &str,
        seconds: u32,
        now: Millis,
    ) -> LinkTest {
        LinkTest {
            run: LinkTestRun {
                link: LinkId::endpoint(&session, &endpoint),
                session,
                endpoint,
                requested_by: requested_by.to_string(),
                started_at: now,
                ends_at: now.plus_secs(u64::from(seconds)),
                seconds,
                loopback: false,
            },
            samples: 0,
            down: 0,
            rtt: Acc::default(),
            loss_up: Acc::default(),
            loss_down: Acc::default(),
            jitter: Acc::default(),
            bitrate_in: Acc::default(),
            bitrate_out: Acc::default(),
        }
    }

    /// Marks the test as run with the endpoint's media looped back.
    pub fn with_loopback(mut self, on: bool) -> LinkTest {
        self.run.loopback = on;
        self
    }

    /// The test as the API shows it while it runs.
    pub fn run(&self) -> &LinkTestRun {
        &self.run
    }

    /// Whether its time is up at `now`.
    pub fn is_due(&self, now: Millis) -> bool {
        now >= self.run.ends_at
    }

    /// Takes one sample of the link under test; samples of other links and
    /// from outside the test's window are ignored.
    pub fn observe(&mut self, sample: &LinkSample) {
        if sample.link != self.run.link
            || sample.at < self.run.started_at
            || sample.at > self.run.ends_at
        {
            return;
        }
        match sample.state {
            LinkState::Connected => {}
            state if state.is_down() => {
                self.down += 1;
                return;
            }
            _ => return,
        }
        self.samples += 1;
        self.rtt.add(sample.rtt_ms);
        self.loss_up.add(sample.loss_up_pct);
        self.loss_down.add(sample.loss_down_pct);
        let jitter = match (sample.jitter_up_ms, sample.jitter_down_ms) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        self.jitter.add(jitter);
        self.bitrate_in.add(Some(sample.bitrate_in_bps as f64));
        self.bitrate_out.add(Some(sample.bitrate_out_bps as f64));
    }

    /// The result at `now`, graded by `t`.
    pub fn finish(self, t: &Thresholds, now: Millis) -> LinkTestResult {
        let rtt = self.rtt.figure();
        let loss_up = self.loss_up.figure();
        let loss_down = self.loss_down.figure();
        let jitter = self.jitter.figure();
        let verdict = if self.samples == 0 {
            Verdict::NoLink
        } else {
            let grade = |f: Option<Figure>, warn: f64, bad: f64| match f {
                Some(f) if f.avg >= bad => Health::Bad,
                Some(f) if f.avg >= warn => Health::Warn,
                _ => Health::Good,
            };
            let dropped = if self.down > 0 {
                Health::Bad
            } else {
                Health::Good
            };
            let worst = [
                grade(rtt, t.rtt_warn_ms, t.rtt_bad_ms),
                grade(loss_up, t.loss_warn_pct, t.loss_bad_pct),
                grade(loss_down, t.loss_warn_pct, t.loss_bad_pct),
                grade(jitter, t.jitter_warn_ms, t.jitter_bad_ms),
                dropped,
            ]
            .into_iter()
            .max()
            .unwrap_or(Health::Good);
            match worst {
                Health::Good => Verdict::Good,
                Health::Warn => Verdict::Warn,
                Health::Bad => Verdict::Bad,
            }
        };
        LinkTestResult {
            session: self.run.session,
            endpoint: self.run.endpoint,
            link: self.run.link,
            requested_by: self.run.requested_by,
            started_at: self.run.started_at,
            ended_at: now,
            seconds: self.run.seconds,
            samples: self.samples,
            down_samples: self.down,
            rtt_ms: rtt,
            loss_up_pct: loss_up,
            loss_down_pct: loss_down,
            jitter_ms: jitter,
            bitrate_in_bps: self.bitrate_in.figure(),
            bitrate_out_bps: self.bitrate_out.figure(),
            loopback: self.run.loopback,
            verdict,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test_of(seconds: u32) -> LinkTest {
        LinkTest::new(
            SessionId("s1".into()),
            EndpointCode("30".into()),
            "technician",
            seconds,
            Millis(10_000),
        )
    }

    fn sample(at: u64, state: LinkState, rtt: f64, loss_up: f64) -> LinkSample {
        let mut s = LinkSample::new(
            LinkId("s1/30".into()),
            SessionId("s1".into()),
            Some(EndpointCode("30".into())),
            Millis(at),
            state,
        );
        s.rtt_ms = Some(rtt);
        s.loss_up_pct = Some(loss_up);
        s.loss_down_pct = Some(0.0);
        s.bitrate_in_bps = 500_000;
        s.bitrate_out_bps = 2_000_000;
        s
    }

    #[test]
    fn averages_and_extremes_over_the_window() {
        let mut t = test_of(3);
        assert!(!t.is_due(Millis(12_999)));
        assert!(t.is_due(Millis(13_000)));
        t.observe(&sample(9_000, LinkState::Connected, 999.0, 50.0)); // before
        for (at, rtt) in [(10_000, 20.0), (11_000, 40.0), (12_000, 30.0)] {
            t.observe(&sample(at, LinkState::Connected, rtt, 0.0));
        }
        let r = t.finish(&Thresholds::default(), Millis(13_000));
        assert_eq!(r.samples, 3);
        let rtt = r.rtt_ms.expect("rtt measured");
        assert_eq!((rtt.avg, rtt.min, rtt.max), (30.0, 20.0, 40.0));
        assert_eq!(r.bitrate_in_bps.map(|f| f.avg), Some(500_000.0));
        assert_eq!(r.verdict, Verdict::Good);
        assert!(!r.loopback);
    }

    #[test]
    fn the_verdict_grades_the_averages() {
        let mut t = test_of(3);
        for at in [10_000, 11_000, 12_000] {
            t.observe(&sample(at, LinkState::Connected, 20.0, 10.0));
        }
        let r = t.finish(&Thresholds::default(), Millis(13_000));
        assert_eq!(r.verdict, Verdict::Bad, "10% upstream loss is bad");

        let mut t = test_of(3);
        t.observe(&sample(10_000, LinkState::Connected, 200.0, 0.0));
        let r = t.finish(&Thresholds::default(), Millis(13_000));
        assert_eq!(r.verdict, Verdict::Warn, "200 ms is past the warn RTT");
    }

    #[test]
    fn a_drop_during_the_test_is_bad_and_no_link_is_no_link() {
        let mut t = test_of(3);
        t.observe(&sample(10_000, LinkState::Connected, 20.0, 0.0));
        t.observe(&sample(11_000, LinkState::Disconnected, 20.0, 0.0));
        let r = t.finish(&Thresholds::default(), Millis(13_000));
        assert_eq!((r.verdict, r.down_samples), (Verdict::Bad, 1));

        let t = test_of(3);
        let r = t.finish(&Thresholds::default(), Millis(13_000));
        assert_eq!((r.verdict, r.samples), (Verdict::NoLink, 0));
        assert_eq!(r.rtt_ms, None);
    }

    #[test]
    fn samples_of_other_links_are_ignored() {
        let mut t = test_of(3);
        let mut s = sample(10_000, LinkState::Connected, 20.0, 0.0);
        s.link = LinkId("s1/31".into());
        t.observe(&s);
        assert_eq!(t.finish(&Thresholds::default(), Millis(13_000)).samples, 0);
    }
}
