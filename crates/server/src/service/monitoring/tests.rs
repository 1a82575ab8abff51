//! The sampling round: alerts from the media plane's figures, forgotten
//! links, client reports and link tests.

use super::*;
use crate::monitor::{AlertReason, Health, LinkState, Verdict};

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
        content_bitrate_in: 0,
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
    let log = m
        .history(&LinkId("s1/30".into()))
        .map(|h| h.events)
        .unwrap_or_default();
    assert!(
        matches!(log.first(), Some(MonitorEvent::AlertRaised(_))),
        "{log:?}"
    );
    assert!(
        log.iter()
            .any(|e| matches!(e, MonitorEvent::AlertCleared { .. })),
        "{log:?}"
    );
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
        .start_link_test(&s1, &code, "technician", 3, true, Millis(1_000))
        .expect("started");
    assert_eq!(run.ends_at, Millis(4_000));
    assert_eq!(
        m.start_link_test(&s1, &code, "endpoint", 3, true, Millis(1_500)),
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
