//! Synthetic WebRTC clients for the media tests and the load generator.
//!
//! A [`TestPeer`] is a real peer connection of the async `webrtc` crate on
//! loopback (host candidates on 127.0.0.1 only, mDNS off). It publishes
//! synthetic Opus and VP8 RTP whose payload names the sender and counts
//! packets, answers keyframe requests with a keyframe, and records every
//! packet it receives by the stream it arrived on (the server's slot:
//! `chair`, `floor`, `tile-<code>`) and the sender named in the payload.
//! [`WsClient`] and [`join_http`] signal one against the real server.

#![allow(dead_code, unused_imports)]

mod meeting;
mod payload;
mod peer;
mod signal;

pub use meeting::{to_command, Joined, Meeting};
pub use payload::{parse_marker, Marker};
pub use peer::{content_name, ContentLine, Received, TestPeer};
pub use signal::{join_http, post_sdp, HttpSignaled, WsClient};

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
