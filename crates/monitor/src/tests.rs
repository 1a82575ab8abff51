//! One test per rule of the monitor.

use super::*;
use diemcau_control::{EndpointCode, Millis, SessionId};

const T0: Millis = Millis(1_700_000_000_000);

fn link() -> LinkId {
    LinkId::endpoint(&SessionId("s1".into()), &EndpointCode::from("30"))
}

/// A healthy connected endpoint link at second `s` after T0.
fn ok(s: u64) -> LinkSample {
    let mut sample = LinkSample::new(
        link(),
        SessionId("s1".into()),
        Some(EndpointCode::from("30")),
        T0.plus_secs(s),
        LinkState::Connected,
    );
    sample.rtt_ms = Some(20.0);
    sample.loss_up_pct = Some(0.0);
    sample.loss_down_pct = Some(0.0);
    sample.jitter_up_ms = Some(3.0);
    sample.jitter_down_ms = Some(4.0);
    sample.bitrate_in_bps = 600_000;
    sample.bitrate_out_bps = 3_000_000;
    sample
}

fn with(s: u64, change: impl FnOnce(&mut LinkSample)) -> LinkSample {
    let mut sample = ok(s);
    change(&mut sample);
    sample
}

fn monitor() -> Monitor {
    Monitor::new(Thresholds::default())
}

fn raised(events: &[MonitorEvent]) -> Vec<(AlertReason, Health)> {
    events
        .iter()
        .filter_map(|e| match e {
            MonitorEvent::AlertRaised(a) => Some((a.reason, a.level)),
            _ => None,
        })
        .collect()
}

fn cleared(events: &[MonitorEvent]) -> Vec<AlertReason> {
    events
        .iter()
        .filter_map(|e| match e {
            MonitorEvent::AlertCleared { reason, .. } => Some(*reason),
            _ => None,
        })
        .collect()
}

fn health_of(m: &Monitor) -> Health {
    m.link(&link()).map_or(Health::Good, |v| v.health)
}

/// A healthy link raises nothing and stays good.
#[test]
fn healthy_link_is_quiet() {
    let mut m = monitor();
    for s in 0..10 {
        assert!(m.record(ok(s)).is_empty());
    }
    assert_eq!(health_of(&m), Health::Good);
    assert!(m.active_alerts().is_empty());
}

/// Each figure against each threshold: below warn is good, at warn is warn,
/// at bad is bad (thresholds are inclusive).
#[test]
fn each_threshold_sets_its_reason_and_level() {
    type Set = fn(&mut LinkSample, f64);
    let t = Thresholds::default();
    let cases: [(AlertReason, Set, f64, f64); 5] = [
        (
            AlertReason::HighRtt,
            |s, v| s.rtt_ms = Some(v),
            t.rtt_warn_ms,
            t.rtt_bad_ms,
        ),
        (
            AlertReason::HighLossUp,
            |s, v| s.loss_up_pct = Some(v),
            t.loss_warn_pct,
            t.loss_bad_pct,
        ),
        (
            AlertReason::HighLossDown,
            |s, v| s.loss_down_pct = Some(v),
            t.loss_warn_pct,
            t.loss_bad_pct,
        ),
        (
            AlertReason::HighJitter,
            |s, v| s.jitter_up_ms = Some(v),
            t.jitter_warn_ms,
            t.jitter_bad_ms,
        ),
        (
            AlertReason::HighJitter,
            |s, v| s.jitter_down_ms = Some(v),
            t.jitter_warn_ms,
            t.jitter_bad_ms,
        ),
    ];
    for (reason, set, warn, bad) in cases {
        for (value, want) in [
            (warn * 0.9, None),
            (warn, Some(Health::Warn)),
            ((warn + bad) / 2.0, Some(Health::Warn)),
            (bad, Some(Health::Bad)),
            (bad * 3.0, Some(Health::Bad)),
        ] {
            let mut m = monitor();
            let events = m.record(with(0, |s| set(s, value)));
            let got = raised(&events);
            match want {
                None => assert!(got.is_empty(), "{reason:?} at {value}: {got:?}"),
                Some(level) => {
                    assert_eq!(got, vec![(reason, level)], "{reason:?} at {value}");
                    assert_eq!(health_of(&m), level);
                    assert!(events.contains(&MonitorEvent::HealthChanged {
                        link: link(),
                        from: Health::Good,
                        to: level,
                        at: T0,
                    }));
                }
            }
        }
    }
}

/// The case: 10% upstream loss turns the link bad and raises the
/// alert at the very first sample showing it; once the loss stops the alert
/// clears after three good samples, not before.
#[test]
fn upstream_loss_raises_at_once_and_clears_after_three_good_seconds() {
    let mut m = monitor();
    assert!(m.record(ok(0)).is_empty());

    let events = m.record(with(1, |s| s.loss_up_pct = Some(10.0)));
    assert_eq!(
        raised(&events),
        vec![(AlertReason::HighLossUp, Health::Bad)]
    );
    assert_eq!(health_of(&m), Health::Bad);
    let alert = &m.active_alerts()[0];
    assert_eq!((alert.at, alert.since), (T0.plus_secs(1), T0.plus_secs(1)));
    assert!(
        alert.message.contains("upstream loss 10.0%"),
        "{}",
        alert.message
    );

    for s in 2..6 {
        assert!(m.record(with(s, |x| x.loss_up_pct = Some(10.0))).is_empty());
    }
    assert!(m.record(ok(6)).is_empty());
    assert!(m.record(ok(7)).is_empty());
    assert_eq!(health_of(&m), Health::Bad);
    let events = m.record(ok(8));
    assert_eq!(cleared(&events), vec![AlertReason::HighLossUp]);
    assert!(events.contains(&MonitorEvent::HealthChanged {
        link: link(),
        from: Health::Bad,
        to: Health::Good,
        at: T0.plus_secs(8),
    }));
    assert!(m.active_alerts().is_empty());
}

/// A link hovering at a threshold raises one alert and keeps it, rather
/// than raising and clearing every second.
#[test]
fn flapping_link_raises_once() {
    let mut m = monitor();
    let mut all = Vec::new();
    for s in 0..30 {
        let loss = if s % 2 == 0 { 2.5 } else { 1.5 };
        all.extend(m.record(with(s, |x| x.loss_down_pct = Some(loss))));
    }
    assert_eq!(
        raised(&all),
        vec![(AlertReason::HighLossDown, Health::Warn)]
    );
    assert!(cleared(&all).is_empty());
    // Two good samples between bad ones is still not enough to clear.
    let mut m = monitor();
    let mut all = Vec::new();
    for s in 0..30 {
        let loss = if s % 3 == 0 { 9.0 } else { 0.0 };
        all.extend(m.record(with(s, |x| x.loss_down_pct = Some(loss))));
    }
    assert_eq!(raised(&all).len(), 1);
    assert!(cleared(&all).is_empty());
}

/// Getting worse is news at once; getting better lowers the level only
/// after the hysteresis, to the worst level seen meanwhile.
#[test]
fn escalation_is_immediate_and_deescalation_waits() {
    let mut m = monitor();
    let e = m.record(with(0, |x| x.rtt_ms = Some(200.0)));
    assert_eq!(raised(&e), vec![(AlertReason::HighRtt, Health::Warn)]);
    let e = m.record(with(1, |x| x.rtt_ms = Some(500.0)));
    assert_eq!(raised(&e), vec![(AlertReason::HighRtt, Health::Bad)]);
    let alert = &m.active_alerts()[0];
    assert_eq!((alert.since, alert.at), (T0, T0.plus_secs(1)));
    assert!(m.record(with(2, |x| x.rtt_ms = Some(200.0))).is_empty());
    assert!(m.record(with(3, |x| x.rtt_ms = Some(20.0))).is_empty());
    let e = m.record(with(4, |x| x.rtt_ms = Some(20.0)));
    assert_eq!(raised(&e), vec![(AlertReason::HighRtt, Health::Warn)]);
    assert_eq!(health_of(&m), Health::Warn);
    assert!(m.record(ok(5)).is_empty());
    assert!(m.record(ok(6)).is_empty());
    assert_eq!(cleared(&m.record(ok(7))), vec![AlertReason::HighRtt]);
}

/// The hysteresis is configurable; one sample means no hysteresis at all.
#[test]
fn hysteresis_follows_the_thresholds() {
    let mut m = Monitor::new(Thresholds {
        clear_after_samples: 1,
        ..Thresholds::default()
    });
    m.record(with(0, |x| x.loss_up_pct = Some(10.0)));
    assert_eq!(cleared(&m.record(ok(1))), vec![AlertReason::HighLossUp]);
}

/// Disconnected, failed and closed links are down: bad, with a `link_down`
/// alert. A link reconnecting is not yet up, so the alert stays until the
/// link has been connected for the hysteresis.
#[test]
fn down_link_is_bad_until_it_has_been_back_a_while() {
    for state in [
        LinkState::Disconnected,
        LinkState::Failed,
        LinkState::Closed,
    ] {
        let mut m = monitor();
        m.record(ok(0));
        let e = m.record(with(1, |x| x.state = state));
        assert_eq!(raised(&e), vec![(AlertReason::LinkDown, Health::Bad)]);
        assert_eq!(
            m.active_alerts()[0].message,
            format!("link {}", state.as_str())
        );
        for s in 2..10 {
            assert!(m
                .record(with(s, |x| x.state = LinkState::Connecting))
                .is_empty());
        }
        assert_eq!(health_of(&m), Health::Bad);
        assert!(m.record(ok(10)).is_empty());
        assert!(m.record(ok(11)).is_empty());
        assert_eq!(cleared(&m.record(ok(12))), vec![AlertReason::LinkDown]);
        assert_eq!(health_of(&m), Health::Good);
    }
}

/// While a link is down its figures are stale: an alert raised before the
/// drop neither clears nor is joined by new ones until the link is back.
#[test]
fn figures_are_not_judged_while_down() {
    let mut m = monitor();
    m.record(with(0, |x| x.loss_up_pct = Some(10.0)));
    for s in 1..10 {
        let e = m.record(with(s, |x| {
            x.state = LinkState::Disconnected;
            x.loss_up_pct = Some(0.0);
            x.rtt_ms = Some(5000.0);
        }));
        assert!(cleared(&e).is_empty());
        assert!(raised(&e).iter().all(|(r, _)| *r == AlertReason::LinkDown));
    }
    let reasons: Vec<_> = m.active_alerts().iter().map(|a| a.reason).collect();
    assert_eq!(
        reasons,
        vec![AlertReason::LinkDown, AlertReason::HighLossUp]
    );
}

/// New and connecting links are judged on nothing: no alert for a link
/// that has not come up yet.
#[test]
fn links_coming_up_raise_nothing() {
    let mut m = monitor();
    for (s, state) in [(0, LinkState::New), (1, LinkState::Connecting)] {
        let e = m.record(with(s, |x| {
            x.state = state;
            x.rtt_ms = Some(5000.0);
            x.bitrate_in_bps = 0;
        }));
        assert!(e.is_empty());
    }
}

/// A missing figure counts as good, so an alert clears when its figure
/// stops being reported.
#[test]
fn missing_figures_count_as_good() {
    let mut m = monitor();
    m.record(with(0, |x| x.jitter_up_ms = Some(100.0)));
    let mut all = Vec::new();
    for s in 1..4 {
        all.extend(m.record(with(s, |x| {
            x.jitter_up_ms = None;
            x.jitter_down_ms = None;
        })));
    }
    assert_eq!(cleared(&all), vec![AlertReason::HighJitter]);
}

/// Client-controlled nonsense (NaN, infinities, negative loss) is dropped or
/// clamped instead of raising alerts or reaching the JSON.
#[test]
fn odd_figures_are_sanitized() {
    let mut m = monitor();
    let e = m.record(with(0, |x| {
        x.rtt_ms = Some(f64::NAN);
        x.loss_up_pct = Some(-3.0);
        x.loss_down_pct = Some(f64::INFINITY);
        x.jitter_up_ms = Some(-1.0);
        x.concealed_audio_pct = Some(250.0);
    }));
    assert!(e.is_empty());
    let latest = &m.links()[0].latest;
    assert_eq!(latest.rtt_ms, None);
    assert_eq!(latest.loss_up_pct, Some(0.0));
    assert_eq!(latest.loss_down_pct, None);
    assert_eq!(latest.jitter_up_ms, Some(0.0));
    assert_eq!(latest.concealed_audio_pct, Some(100.0));
    assert!(serde_json::to_string(&m.links()).is_ok());
}

/// An endpoint that sends nothing for `no_media_secs` while connected gets
/// a `no_media` warning; it clears once media flows again.
#[test]
fn endpoint_sending_nothing_raises_no_media() {
    let mut m = monitor();
    let mut all = Vec::new();
    for s in 0..5 {
        all.extend(m.record(with(s, |x| x.bitrate_in_bps = 0)));
    }
    assert!(all.is_empty(), "{all:?}");
    let e = m.record(with(5, |x| x.bitrate_in_bps = 0));
    assert_eq!(raised(&e), vec![(AlertReason::NoMedia, Health::Warn)]);
    assert!(m.active_alerts()[0].message.contains("received from"));
    m.record(ok(6));
    m.record(ok(7));
    assert_eq!(cleared(&m.record(ok(8))), vec![AlertReason::NoMedia]);
}

/// A viewer only receives, so for it `no_media` watches what the server sends.
#[test]
fn viewer_receiving_nothing_raises_no_media() {
    let mut m = monitor();
    let viewer = |s: u64, out: u64| {
        let mut x = LinkSample::new(
            LinkId::peer("whep-1"),
            SessionId("s1".into()),
            None,
            T0.plus_secs(s),
            LinkState::Connected,
        );
        x.bitrate_out_bps = out;
        x
    };
    let mut all = Vec::new();
    for s in 0..10 {
        all.extend(m.record(viewer(s, 2_000_000)));
    }
    assert!(all.is_empty());
    for s in 10..16 {
        all.extend(m.record(viewer(s, 0)));
    }
    assert_eq!(raised(&all), vec![(AlertReason::NoMedia, Health::Warn)]);
    assert!(m.active_alerts()[0].message.contains("sent to"));
}

/// Silence is counted over connected time only: a reconnection starts the
/// grace again.
#[test]
fn reconnecting_restarts_the_no_media_grace() {
    let mut m = monitor();
    for s in 0..4 {
        m.record(with(s, |x| x.bitrate_in_bps = 0));
    }
    m.record(with(4, |x| x.state = LinkState::Connecting));
    let mut all = Vec::new();
    for s in 5..9 {
        all.extend(m.record(with(s, |x| x.bitrate_in_bps = 0)));
    }
    assert!(raised(&all).is_empty(), "{all:?}");
}

/// History keeps at most 900 points, oldest first, strictly increasing in
/// time, the newest being the last sample.
#[test]
fn history_is_bounded_and_ordered() {
    let mut m = monitor();
    for s in 0..2000 {
        m.record(ok(s));
    }
    let points = m.history(&link()).unwrap_or_default();
    assert_eq!(points.len(), HISTORY_POINTS);
    assert!(points.windows(2).all(|w| w[0].at < w[1].at));
    assert_eq!(points.last().map(|p| p.at), Some(T0.plus_secs(1999)));
    assert_eq!(points.first().map(|p| p.at), Some(T0.plus_secs(1100)));
}

/// History covers 15 minutes even when samples had gaps.
#[test]
fn history_drops_points_older_than_fifteen_minutes() {
    let mut m = monitor();
    for s in 0..10 {
        m.record(ok(s));
    }
    m.record(ok(10 + 15 * 60));
    let points = m.history(&link()).unwrap_or_default();
    assert_eq!(points.len(), 1);
}

/// Samples within one second make one point (the latest), so history stays
/// at one second's resolution whatever the sampling rate.
#[test]
fn history_keeps_one_point_a_second() {
    let mut m = monitor();
    m.record(ok(0));
    m.record(with(1, |x| x.rtt_ms = Some(30.0)));
    let mut late = with(1, |x| x.rtt_ms = Some(40.0));
    late.at = late.at.plus_ms(500);
    m.record(late);
    let points = m.history(&link()).unwrap_or_default();
    assert_eq!(points.len(), 2);
    assert_eq!(points[1].rtt_ms, Some(40.0));
    assert_eq!(points[1].at, T0.plus_ms(1500));
}

/// Each history point carries the health after its sample.
#[test]
fn history_records_health() {
    let mut m = monitor();
    m.record(ok(0));
    m.record(with(1, |x| x.loss_up_pct = Some(10.0)));
    let health: Vec<_> = m
        .history(&link())
        .unwrap_or_default()
        .iter()
        .map(|p| p.health)
        .collect();
    assert_eq!(health, vec![Health::Good, Health::Bad]);
}

/// A sample older than the latest is stale and changes nothing.
#[test]
fn stale_samples_are_ignored() {
    let mut m = monitor();
    m.record(ok(5));
    assert!(m.record(with(4, |x| x.loss_up_pct = Some(50.0))).is_empty());
    assert_eq!(health_of(&m), Health::Good);
    assert_eq!(m.history(&link()).map(|h| h.len()), Some(1));
}

/// The links view shows the latest sample, the health and the alerts of
/// every link, ordered by id, and can be narrowed to a session.
#[test]
fn links_view_shows_latest_health_and_alerts() {
    let mut m = monitor();
    m.record(ok(0));
    m.record(with(1, |x| x.loss_up_pct = Some(3.0)));
    let mut other = LinkSample::new(
        LinkId::endpoint(&SessionId("s2".into()), &EndpointCode::from("01")),
        SessionId("s2".into()),
        Some(EndpointCode::from("01")),
        T0,
        LinkState::Connecting,
    );
    other.candidate_type = Some("relay".into());
    m.record(other);

    let views = m.links();
    let ids: Vec<_> = views.iter().map(|v| v.link.as_str()).collect();
    assert_eq!(ids, vec!["s1/30", "s2/01"]);
    assert_eq!(views[0].health, Health::Warn);
    assert_eq!(views[0].first_seen, T0);
    assert_eq!(views[0].latest.at, T0.plus_secs(1));
    assert_eq!(views[0].alerts.len(), 1);
    assert_eq!(views[1].latest.candidate_type.as_deref(), Some("relay"));
    assert_eq!(m.links_of(&SessionId("s2".into())).len(), 1);
    assert_eq!(m.active_alert_count(), 1);
}

/// Forgetting a link clears its alerts (with events), then removes it and
/// its history.
#[test]
fn forget_clears_alerts_and_drops_the_link() {
    let mut m = monitor();
    m.record(with(0, |x| {
        x.loss_up_pct = Some(10.0);
        x.rtt_ms = Some(500.0);
    }));
    let at = T0.plus_secs(1);
    let events = m.forget(&link(), at);
    assert_eq!(
        events,
        vec![
            MonitorEvent::AlertCleared {
                link: link(),
                reason: AlertReason::HighLossUp,
                at
            },
            MonitorEvent::AlertCleared {
                link: link(),
                reason: AlertReason::HighRtt,
                at
            },
            MonitorEvent::LinkRemoved { link: link(), at },
        ]
    );
    assert!(m.links().is_empty());
    assert!(m.history(&link()).is_none());
    assert!(m.active_alerts().is_empty());
    assert!(m.forget(&link(), at).is_empty());
    // A link that comes back later starts afresh.
    assert!(m.record(ok(2)).is_empty());
    assert_eq!(m.history(&link()).map(|h| h.len()), Some(1));
}

/// Events are tagged by `event` on the wire, snake_case, like control's.
#[test]
fn events_serialize_tagged() -> Result<(), serde_json::Error> {
    let mut m = monitor();
    let events = m.record(with(0, |x| x.loss_up_pct = Some(10.0)));
    let json = serde_json::to_value(&events)?;
    assert_eq!(json[0]["event"], "alert_raised");
    assert_eq!(json[0]["reason"], "high_loss_up");
    assert_eq!(json[0]["level"], "bad");
    assert_eq!(json[0]["link"], "s1/30");
    assert_eq!(json[1]["event"], "health_changed");
    assert_eq!(json[1]["to"], "bad");
    let back: Vec<MonitorEvent> = serde_json::from_value(json)?;
    assert_eq!(back, events);
    Ok(())
}

/// The `[health]` table: defaults for missing keys, unknown keys refused,
/// and unusable values caught by `validate`.
#[test]
fn thresholds_from_config() -> Result<(), toml::de::Error> {
    let t: Thresholds = toml::from_str("rtt_warn_ms = 100\nloss_bad_pct = 10")?;
    assert_eq!(t.rtt_warn_ms, 100.0);
    assert_eq!(t.loss_bad_pct, 10.0);
    assert_eq!(t.jitter_bad_ms, Thresholds::default().jitter_bad_ms);
    assert!(t.validate().is_ok());
    assert!(toml::from_str::<Thresholds>("rtt_warm_ms = 100").is_err());

    let bad = [
        Thresholds {
            rtt_warn_ms: 500.0,
            ..Thresholds::default()
        },
        Thresholds {
            loss_bad_pct: f64::NAN,
            ..Thresholds::default()
        },
        Thresholds {
            jitter_warn_ms: -1.0,
            ..Thresholds::default()
        },
        Thresholds {
            clear_after_samples: 0,
            ..Thresholds::default()
        },
        Thresholds {
            no_media_secs: 0,
            ..Thresholds::default()
        },
    ];
    for t in bad {
        assert!(
            matches!(t.validate(), Err(MonitorError::Thresholds(_))),
            "{t:?}"
        );
    }
    assert!(Thresholds::default().validate().is_ok());
    Ok(())
}

/// A view says since when the link is in its state, and a history point
/// carries the worse loss for a one-line plot.
#[test]
fn state_since_follows_changes_of_state_only() {
    let mut m = monitor();
    m.record(ok(0));
    m.record(ok(1));
    let since = |m: &Monitor| m.link(&link()).map(|v| v.state_since);
    assert_eq!(since(&m), Some(T0));
    m.record(with(2, |x| x.state = LinkState::Disconnected));
    m.record(with(3, |x| x.state = LinkState::Disconnected));
    assert_eq!(since(&m), Some(T0.plus_secs(2)));
    m.record(with(4, |x| x.loss_down_pct = Some(4.0)));
    assert_eq!(since(&m), Some(T0.plus_secs(4)));
    let last = m
        .history(&link())
        .and_then(|h| h.last().cloned())
        .map(|p| p.loss_pct);
    assert_eq!(last, Some(Some(4.0)));
}
