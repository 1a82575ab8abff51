//! The pre-session link test of a real link: a site publishing over WHIP
//! while the session is `open` gets its own media looped back and is
//! measured for 3 s; the result (RTT, loss, achieved bitrate both ways,
//! verdict) is kept with the session's record. Its round trip is the
//! path's: a site behind a long path measures long.

use crate::{common, lossy, support};
use common::{Server, HAI_DUONG};
use lossy::publish_through_proxy;
use serde_json::{json, Value};
use std::time::Duration;
use support::{join_http, wait_for};

const CONNECT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_test_measures_a_publishing_site() {
    let server = Server::start();
    let id = "kiem-tra";
    server.create(id, "Kiểm tra trước phiên").await;
    server
        .ok(&format!("/api/sessions/{id}/open"), &server.chair(), None)
        .await;
    let (mut site, _) = join_http(
        &server.url(&format!("/whip/{id}")),
        &server.endpoint(HAI_DUONG),
        HAI_DUONG,
        true,
    )
    .await;
    site.connected(CONNECT).await;
    site.start_sending();
    site.allow_own_media(true);
    let tech = server.technician();
    wait_for(CONNECT, "the site's link carries media", || async {
        let (_, links) = server.get("/api/links", &tech).await;
        links.as_array().is_some_and(|l| {
            l.iter().any(|l| {
                l["endpoint"] == HAI_DUONG && l["bitrate_in"].as_u64().is_some_and(|b| b > 0)
            })
        })
    })
    .await;

    let result = link_test_result(&server, id, HAI_DUONG, 3).await;
    eprintln!("link test: {result}");
    assert_eq!(result["endpoint"], HAI_DUONG);
    assert_eq!(result["requested_by"], "technician");
    assert_eq!(result["verdict"], "good", "{result}");
    assert!(result["samples"].as_u64() >= Some(2), "{result}");
    assert!(
        result["bitrate_in_bps"]["avg"].as_f64() > Some(0.0),
        "{result}"
    );
    assert_eq!(result["loss_up_pct"]["max"], 0.0, "{result}");
    assert_eq!(result["loopback"], true);
    assert!(
        result["bitrate_out_bps"]["max"].as_f64() > Some(0.0),
        "its own media came back: {result}"
    );
    let marker = site.received.count(0, "floor", "audio", HAI_DUONG);
    assert!(marker > 0, "the site heard itself on the floor slot");

    // The loop-back ended with the test.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mark = site.received.mark();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        site.received.count(mark, "floor", "audio", HAI_DUONG),
        0,
        "the site still hears itself after the test"
    );
}

/// What the path between the server and the site behind the proxy adds to
/// the round trip: the proxy holds what the server sends for this long.
const PATH_DELAY: Duration = Duration::from_millis(80);

/// Runs a `seconds`-long link test of `code` in session `id` and returns
/// its result, once there is one.
async fn link_test_result(server: &Server, id: &str, code: &str, seconds: u64) -> Value {
    let tech = server.technician();
    let (status, run) = server
        .post(
            &format!("/api/sessions/{id}/endpoints/{code}/link-test"),
            &tech,
            Some(json!({ "seconds": seconds })),
        )
        .await;
    assert_eq!(status.as_u16(), 202, "{run}");
    let list = format!("/api/sessions/{id}/link-tests");
    // A result comes at the first sample after the test's end.
    for _ in 0..(seconds * 10 + 100) {
        let (_, tests) = server.get(&list, &tech).await;
        let result = tests["done"][0].clone();
        if !result.is_null() {
            return result;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no link test result for {code}");
}

/// The shipped config; a site publishing over WHIP whose only path to the
/// server is a proxy that holds what the server sends it for 80 ms. While
/// its link test loops its media back, the server's sender reports cross
/// that path and the site's receiver reports echo them: the link test and
/// the link itself give a round trip of about 80 ms, neither nothing (a
/// fast path's trip read as none) nor the loopback's fraction of a
/// millisecond.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_test_measures_the_round_trip_of_the_sites_path() {
    let server = Server::start_shipped();
    let id = "duong-dai";
    server.create(id, "Kiểm tra đường dài").await;
    server
        .ok(&format!("/api/sessions/{id}/open"), &server.chair(), None)
        .await;
    let (mut site, proxy) = publish_through_proxy(
        &server.url(&format!("/whip/{id}")),
        &server.endpoint(HAI_DUONG),
        HAI_DUONG,
    )
    .await;
    proxy.delay_down(PATH_DELAY);
    site.start_sending();
    site.allow_own_media(true);

    let result = link_test_result(&server, id, HAI_DUONG, 5).await;
    eprintln!("link test behind {PATH_DELAY:?}: {result}");
    let floor = PATH_DELAY.as_secs_f64() * 1000.0;
    let rtt = &result["rtt_ms"];
    let (min, max) = (
        rtt["min"].as_f64().unwrap_or(f64::NAN),
        rtt["max"].as_f64().unwrap_or(f64::NAN),
    );
    // Nothing takes the path faster than the proxy holds it; the bound
    // above only says the figure is this path's and not a stale or
    // wrapped one.
    assert!(
        min >= floor * 0.9 && max < floor + 500.0,
        "a round trip of {min}..{max} ms on an {floor} ms path: {result}"
    );
    assert!(
        site.received.count(0, "floor", "audio", HAI_DUONG) > 0,
        "the site heard itself through the proxy"
    );
    let (_, links) = server.get("/api/links", &server.technician()).await;
    let link = links
        .as_array()
        .and_then(|l| l.iter().find(|l| l["endpoint"] == HAI_DUONG).cloned())
        .unwrap_or_default();
    let now = link["rtt_ms"].as_f64().unwrap_or(f64::NAN);
    assert!(
        now >= floor * 0.9 && now < floor + 500.0,
        "the link shows {now} ms: {link}"
    );
}
