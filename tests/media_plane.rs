//! The media plane in-process: a `MediaPlane` on 127.0.0.1, real WebRTC
//! peers publishing synthetic Opus and VP8, policies from a real control
//! session. Packets are counted by the sender named in their payload.

mod support;

use diemcau::control::Mode;
use std::collections::HashSet;
use std::time::Duration;
use support::{wait_for, Meeting};

const CONNECT: Duration = Duration::from_secs(20);
const FLOW: Duration = Duration::from_secs(10);

/// Chair and eight endpoints: every endpoint gets the chair's audio and
/// video; the chair gets all eight videos as tiles; no endpoint's audio
/// leaves the server while nobody holds the floor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chair_and_eight_endpoints_get_the_programme() {
    let codes = ["30", "31", "32", "33", "34", "35", "36", "37"];
    let mut m = Meeting::start("01", &codes).await;
    let mut chair = m.join(Some("01"), "01").await;
    let mut endpoints = Vec::new();
    for c in codes {
        endpoints.push(m.join(Some(c), c).await);
    }
    m.await_up(9, CONNECT).await;
    chair.peer.start_sending();
    for e in endpoints.iter_mut() {
        e.peer.start_sending();
    }
    for e in &endpoints {
        let rx = e.peer.received.clone();
        wait_for(FLOW, &format!("{} gets the chair", e.peer.name), || {
            let rx = rx.clone();
            async move {
                rx.count(0, "chair", "audio", "01") >= 10 && rx.count(0, "chair", "video", "01") >= 5
            }
        })
        .await;
    }
    let rx = chair.peer.received.clone();
    wait_for(FLOW, "the chair sees all eight tiles", || {
        let rx = rx.clone();
        async move {
            codes
                .iter()
                .all(|c| rx.count(0, &format!("tile-{c}"), "video", c) >= 5)
        }
    })
    .await;
    for r in std::iter::once(&chair).chain(endpoints.iter()) {
        let leaked: HashSet<String> = r
            .peer
            .received
            .all()
            .iter()
            .filter(|p| p.kind == "audio" && p.from != "01")
            .map(|p| p.from.clone())
            .collect();
        assert!(leaked.is_empty(), "{} heard {leaked:?} with nobody on the floor", r.peer.name);
    }
}
