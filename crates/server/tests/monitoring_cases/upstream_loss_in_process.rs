//! A link whose client drops 10% of its outgoing packets turns `warn` or
//! `bad` and raises an alert within 5 s; when the loss stops, the alert
//! clears.
//!
//! In-process: a real `MediaPlane` on 127.0.0.1, a real WebRTC test peer
//! publishing through a user-space proxy that drops its RTP, and the
//! server's own sampling task feeding a `Monitoring` from the plane's
//! `links()`, exactly as `serve` wires it.

use crate::{lossy, support};
use diemcau::control::EndpointCode;
use diemcau::media::PeerKind;
use diemcau::monitor::{AlertReason, Health, LinkId, MonitorEvent, Thresholds};
use diemcau::service::monitoring::{self, MonitorUpdate, Monitoring};
use diemcau::service::Core;
use diemcau::store::Store;
use lossy::LossyProxy;
use std::time::Duration;
use support::{Meeting, TestPeer};
use tokio::sync::{broadcast, watch};
use tokio::time::Instant;

const CONNECT: Duration = Duration::from_secs(20);
/// What the issue asks: the alert within 5 s of the loss starting.
const RAISE_WITHIN: Duration = Duration::from_secs(5);
/// The hysteresis is 3 good samples; this only bounds the wait.
const CLEAR_WITHIN: Duration = Duration::from_secs(15);
const SETTLE: Duration = Duration::from_secs(15);
/// How long the loss goes on after the alert.
const HOLD: Duration = Duration::from_secs(3);

/// The next update about `link` that `pick` accepts, before `deadline`.
async fn next_matching<T>(
    rx: &mut broadcast::Receiver<MonitorUpdate>,
    link: &LinkId,
    deadline: Instant,
    mut pick: impl FnMut(&MonitorEvent) -> Option<T>,
) -> Option<T> {
    loop {
        let update = match tokio::time::timeout_at(deadline, rx.recv()).await {
            Err(_) => return None,
            Ok(Err(broadcast::error::RecvError::Lagged(_))) => continue,
            Ok(Err(broadcast::error::RecvError::Closed)) => return None,
            Ok(Ok(update)) => update,
        };
        if update.event.link() != link {
            continue;
        }
        eprintln!("monitor: {:?}", update.event);
        if let Some(found) = pick(&update.event) {
            return Some(found);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_percent_upstream_loss_raises_an_alert_that_clears() {
    let mut m = Meeting::start("01", &["30"]).await;
    let server = m.plane.local_addr();
    let proxy = LossyProxy::start(server).await;

    let mut peer = TestPeer::new("30", true).await;
    let offer = peer.offer().await;
    let (_id, answer, _signals) = m
        .plane
        .accept_offer(
            &m.id,
            PeerKind::Participant(EndpointCode::from("30")),
            &offer,
        )
        .await
        .expect("offer accepted");
    peer.apply_answer(proxy.rewrite(&answer, server)).await;
    m.await_up(1, CONNECT).await;
    peer.start_sending();

    let dir = tempfile::tempdir().expect("temp dir");
    let core = Core::new(Store::open_in(dir.path()).expect("store"), Vec::new());
    let watcher = Monitoring::new(Thresholds::default(), None);
    let mut updates = watcher.subscribe();
    let (stop, stopped) = watch::channel(false);
    let plane = m.plane.clone();
    let sampler = tokio::spawn(monitoring::run(
        watcher.clone(),
        core,
        move || plane.links(),
        stopped,
    ));
    let link = LinkId::endpoint(&m.id, &EndpointCode::from("30"));

    // Media flows and the link is judged healthy before the loss starts.
    let deadline = Instant::now() + SETTLE;
    loop {
        let healthy = watcher.links(None).into_iter().any(|l| {
            l.id == link && l.bitrate_in > 0 && l.health == Health::Good && l.alerts.is_empty()
        });
        if healthy {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the link never settled: {:?}",
            watcher.links(None)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    while updates.try_recv().is_ok() {}

    proxy.drop_one_in(10);
    let deadline = Instant::now() + RAISE_WITHIN;
    let raised = next_matching(&mut updates, &link, deadline, |e| match e {
        MonitorEvent::AlertRaised(a) if a.reason == AlertReason::HighLossUp => Some(a.clone()),
        _ => None,
    })
    .await;
    let alert = raised.unwrap_or_else(|| {
        panic!(
            "no upstream loss alert within {RAISE_WITHIN:?}; links: {:?}",
            watcher.links(None)
        )
    });
    assert!(alert.level >= Health::Warn, "{alert:?}");
    let view = watcher.links(None).into_iter().find(|l| l.id == link);
    let health = view.as_ref().map(|l| l.health);
    assert!(health >= Some(Health::Warn), "{view:?}");
    eprintln!(
        "measured upstream loss {:?}% ({} RTP packets dropped)",
        view.and_then(|l| l.loss_up_pct),
        proxy.dropped.load(std::sync::atomic::Ordering::SeqCst)
    );

    // A steady 10% loss stays alerted, at the bad level (≥ 8%).
    let mut worst = alert.level;
    let deadline = Instant::now() + HOLD;
    while let Some(level) = next_matching(&mut updates, &link, deadline, |e| match e {
        MonitorEvent::AlertRaised(a) if a.reason == AlertReason::HighLossUp => Some(a.level),
        MonitorEvent::AlertCleared { reason, .. } if *reason == AlertReason::HighLossUp => {
            panic!("the alert cleared while the loss went on")
        }
        _ => None,
    })
    .await
    {
        worst = worst.max(level);
    }
    eprintln!(
        "after {HOLD:?} more of loss: level {worst:?}, upstream loss {:?}%",
        watcher
            .links(None)
            .into_iter()
            .find(|l| l.id == link)
            .and_then(|l| l.loss_up_pct)
    );

    proxy.drop_one_in(0);
    let deadline = Instant::now() + CLEAR_WITHIN;
    let cleared = next_matching(&mut updates, &link, deadline, |e| match e {
        MonitorEvent::AlertCleared { reason, .. } if *reason == AlertReason::HighLossUp => Some(()),
        _ => None,
    })
    .await;
    assert!(
        cleared.is_some(),
        "the alert did not clear: {:?}",
        watcher.alerts(None)
    );
    let left = watcher.alerts(None);
    assert!(
        left.iter().all(|a| a.reason != AlertReason::HighLossUp),
        "{left:?}"
    );
    // Only the loss is this test's subject: other figures (jitter on a
    // busy machine) are left to their own tests.
    eprintln!("alerts after the loss stopped: {left:?}");

    let _ = stop.send(true);
    let _ = sampler.await;
}
