//! The link test's loop-back: an endpoint under test gets its own media
//! back on its floor slot, and nobody else gets anything more.

use crate::support;
use diemcau::control::EndpointCode;
use std::time::Duration;
use support::{wait_for, Meeting};

const CONNECT: Duration = Duration::from_secs(20);
const FLOW: Duration = Duration::from_secs(10);
/// Long enough for packets already on the wire to land.
const SETTLE: Duration = Duration::from_millis(500);
const WATCH: Duration = Duration::from_millis(1500);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_under_test_gets_its_own_media_back() {
    let mut m = Meeting::start("01", &["30", "31"]).await;
    let mut tested = m.join(Some("30"), "30").await;
    let other = m.join(Some("31"), "31").await;
    m.await_up(2, CONNECT).await;
    tested.peer.start_sending();
    tested.peer.allow_own_media(true);

    let code = EndpointCode::from("30");
    m.plane.set_loopback(&m.id, &code, true);
    let rx = tested.peer.received.clone();
    wait_for(
        FLOW,
        "30 gets its own audio and video on the floor slot",
        || {
            let rx = rx.clone();
            async move {
                rx.count(0, "floor", "audio", "30") >= 10
                    && rx.count(0, "floor", "video", "30") >= 5
            }
        },
    )
    .await;
    assert_eq!(
        other.peer.received.count(0, "", "audio", "30"),
        0,
        "31 heard the endpoint under test"
    );

    m.plane.set_loopback(&m.id, &code, false);
    tokio::time::sleep(SETTLE).await;
    let mark = rx.mark();
    tokio::time::sleep(WATCH).await;
    assert_eq!(
        rx.count(mark, "floor", "audio", "30"),
        0,
        "the loop-back went on after the test"
    );
}
