//! Properties that must hold after any sequence of samples.

use super::*;
use diemcau_control::{EndpointCode, Millis, SessionId};
use proptest::prelude::*;
use std::collections::BTreeMap;

const T0: Millis = Millis(1_700_000_000_000);

fn state() -> impl Strategy<Value = LinkState> {
    prop_oneof![
        6 => Just(LinkState::Connected),
        1 => Just(LinkState::Connecting),
        1 => Just(LinkState::Disconnected),
        1 => Just(LinkState::Failed),
    ]
}

fn figure(max: f64) -> impl Strategy<Value = Option<f64>> {
    prop_oneof![1 => Just(None), 4 => (0.0..max).prop_map(Some)]
}

/// One step: which of two links, how far time moves (sometimes backwards or
/// within the same second), state, RTT, loss, jitter, bitrate, and whether
/// the link is forgotten instead.
type Step = (
    bool,
    i64,
    LinkState,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    u64,
    bool,
);

fn step() -> impl Strategy<Value = Step> {
    (
        any::<bool>(),
        prop_oneof![8 => Just(1000i64), 1 => -1500i64..0, 1 => 1i64..900, 1 => 1000i64..400_000],
        state(),
        figure(600.0),
        figure(15.0),
        figure(100.0),
        prop_oneof![4 => Just(500_000u64), 1 => Just(0u64)],
        prop::bool::weighted(0.02),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// History stays bounded, ordered and within 15 minutes; health always
    /// equals the worst active alert; alerts come and go in pairs; the
    /// events' alert log replays to the active alerts.
    #[test]
    fn monitor_invariants(steps in prop::collection::vec(step(), 1..400)) {
        let mut m = Monitor::new(Thresholds::default());
        let session = SessionId("s".into());
        let links = [
            LinkId::endpoint(&session, &EndpointCode::from("30")),
            LinkId::peer("viewer"),
        ];
        let mut clocks = [T0, T0];
        let mut log: BTreeMap<(LinkId, AlertReason), Alert> = BTreeMap::new();
        let mut health: BTreeMap<LinkId, Health> = BTreeMap::new();

        for (which, dt, state, rtt, loss, jitter, bitrate, forget) in steps {
            let i = usize::from(which);
            let link = links[i].clone();
            clocks[i] = Millis(clocks[i].0.saturating_add_signed(dt));
            let at = clocks[i];
            let events = if forget {
                m.forget(&link, at)
            } else {
                let endpoint = (i == 0).then(|| EndpointCode::from("30"));
                let mut s = LinkSample::new(link.clone(), session.clone(), endpoint, at, state);
                s.rtt_ms = rtt;
                s.loss_up_pct = loss;
                s.loss_down_pct = loss.map(|l| l / 2.0);
                s.jitter_down_ms = jitter;
                s.bitrate_in_bps = bitrate;
                s.bitrate_out_bps = bitrate;
                m.record(s)
            };
            for e in events {
                prop_assert_eq!(e.link(), &link);
                match e {
                    MonitorEvent::AlertRaised(a) => {
                        prop_assert!(a.level > Health::Good);
                        if let Some(old) = log.insert((link.clone(), a.reason), a.clone()) {
                            prop_assert_ne!(old.level, a.level);
                            prop_assert_eq!(old.since, a.since);
                        }
                    }
                    MonitorEvent::AlertCleared { reason, .. } => {
                        prop_assert!(log.remove(&(link.clone(), reason)).is_some());
                    }
                    MonitorEvent::HealthChanged { from, to, .. } => {
                        prop_assert_eq!(health.get(&link).copied().unwrap_or_default(), from);
                        prop_assert_ne!(from, to);
                        health.insert(link.clone(), to);
                    }
                    MonitorEvent::LinkRemoved { .. } => {
                        health.remove(&link);
                    }
                    MonitorEvent::LinkTestDone(_) => {
                        prop_assert!(false, "the monitor alone runs no link test");
                    }
                }
            }
        }

        let active: BTreeMap<_, _> = m
            .active_alerts()
            .into_iter()
            .map(|a| ((a.link.clone(), a.reason), a.level))
            .collect();
        let logged: BTreeMap<_, _> = log.into_iter().map(|(k, a)| (k, a.level)).collect();
        prop_assert_eq!(active, logged);

        for view in m.links() {
            let worst = view.alerts.iter().map(|a| a.level).max().unwrap_or_default();
            prop_assert_eq!(view.health, worst);
            prop_assert_eq!(health.get(&view.link).copied().unwrap_or_default(), view.health);
            let points = m.history(&view.link).unwrap_or_default();
            prop_assert!(!points.is_empty() && points.len() <= HISTORY_POINTS);
            prop_assert!(points.windows(2).all(|w| w[0].at.0 / 1000 < w[1].at.0 / 1000));
            let newest = points[points.len() - 1].at;
            prop_assert_eq!(newest, view.latest.at);
            prop_assert!(newest.since(points[0].at) < HISTORY_SPAN_MS);
            prop_assert_eq!(points[points.len() - 1].health, view.health);
        }
    }
}
