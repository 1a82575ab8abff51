//! What the media tests share: the synthetic client ([`TestPeer`], from
//! `diemcau-testkit`), and [`WsClient`] and [`join_http`], which signal one
//! against the real server.

#![allow(dead_code, unused_imports)]

mod meeting;
mod signal;

pub use diemcau_testkit::whip::HttpSignaled;
pub use diemcau_testkit::{content_name, parse_marker, ContentLine, Marker, Received, TestPeer};
pub use meeting::{to_command, Joined, Meeting};
pub use signal::{join_http, post_sdp, WsClient};

use std::future::Future;
use std::time::Duration;

/// Waits until `cond` holds, re-checking whenever `changed` fires and at
/// least every 100 ms, for at most `limit`. Panics with `what` on timeout.
pub async fn wait_for<F, Fut>(limit: Duration, what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if cond().await {
            return;
        }
        if tokio::time::Instant::now() >= deadline {
            panic!("timed out after {limit:?} waiting for: {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
