//! The pre-session link test of a real link: a site publishing over WHIP
//! while the session is `open` gets its own media looped back and is
//! measured for 3 s; the result (RTT, loss, achieved bitrate both ways,
//! verdict) is kept with the session's record.

use crate::{common, support};
use common::{Server, HAI_DUONG};
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

    let (status, run) = server
        .post(
            &format!("/api/sessions/{id}/endpoints/{HAI_DUONG}/link-test"),
            &tech,
            Some(json!({"seconds": 3})),
        )
        .await;
    assert_eq!(status.as_u16(), 202, "{run}");
    let list = format!("/api/sessions/{id}/link-tests");
    let mut result = Value::Null;
    // The test takes 3 s; a result comes at the next sample after that.
    for _ in 0..150 {
        let (_, tests) = server.get(&list, &tech).await;
        result = tests["done"][0].clone();
        if !result.is_null() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
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
