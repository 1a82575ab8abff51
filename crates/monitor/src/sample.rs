//! What the shell tells the monitor about one link, once a second.
//!
//! A sample merges two sources: the media plane's own view (peer connection
//! state, server-side RTCP: RTT, loss and jitter in both directions, bitrates)
//! and the client's summary of its `getStats` (frame rate, resolution, jitter
//! buffer, concealed audio), which arrives every 2 s and is repeated into the
//! samples in between. Fields the shell does not know are `None`.

use diemcau_control::{EndpointCode, Millis, SessionId};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Names one link: an endpoint's peer connection in a session, or a viewer's
/// (technician, WHEP) peer.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LinkId(pub String);

impl LinkId {
    /// The link of `code` in `session`: `"<session>/<code>"`. Made here so the
    /// media plane, the API and the pages agree on one spelling; in a URL path
    /// the `/` travels percent-encoded (`%2F`).
    pub fn endpoint(session: &SessionId, code: &EndpointCode) -> LinkId {
        LinkId(format!("{session}/{code}"))
    }

    /// The link of a peer that is not an endpoint (a technician's console,
    /// a WHEP viewer), named by its peer id.
    pub fn peer(id: impl Into<String>) -> LinkId {
        LinkId(id.into())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for LinkId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for LinkId {
    fn from(s: &str) -> Self {
        LinkId(s.to_string())
    }
}

/// The peer connection's state, as WebRTC names it.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum LinkState {
    /// Created, not yet negotiating.
    New,
    /// ICE and DTLS under way (first time, or an ICE restart).
    Connecting,
    /// Media can flow.
    Connected,
    /// Lost consent or packets; may still come back by itself.
    Disconnected,
    /// Gave up.
    Failed,
    /// Closed. A link closed on purpose should be forgotten
    /// ([`super::Monitor::forget`]); one still reported closed is a link that
    /// is not carrying media.
    Closed,
}

impl LinkState {
    /// A link in this state carries no media and counts as down.
    pub fn is_down(self) -> bool {
        matches!(
            self,
            LinkState::Disconnected | LinkState::Failed | LinkState::Closed
        )
    }

    /// The state as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// One link's figures for one second.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinkSample {
    /// Which link.
    pub link: LinkId,
    /// The session it belongs to.
    pub session: SessionId,
    /// The endpoint it carries; `None` for a viewer that only receives.
    pub endpoint: Option<EndpointCode>,
    /// When the figures were taken.
    pub at: Millis,
    /// Peer connection state.
    pub state: LinkState,
    /// The selected ICE candidate pair's local type (`host`, `srflx`, `relay`).
    pub candidate_type: Option<String>,
    /// Round-trip time.
    pub rtt_ms: Option<f64>,
    /// Loss of what the server receives from the endpoint, in percent.
    pub loss_up_pct: Option<f64>,
    /// Loss of what the endpoint receives (from its receiver reports), in percent.
    pub loss_down_pct: Option<f64>,
    /// Jitter of what the server receives.
    pub jitter_up_ms: Option<f64>,
    /// Jitter of what the endpoint receives.
    pub jitter_down_ms: Option<f64>,
    /// Bits per second the server receives on this link.
    pub bitrate_in_bps: u64,
    /// Bits per second the server sends on this link.
    pub bitrate_out_bps: u64,
    /// Frames per second the client decodes (client report).
    pub frame_rate: Option<f64>,
    /// Width and height of the video the client receives (client report).
    pub resolution: Option<(u32, u32)>,
    /// The client's jitter buffer delay (client report).
    pub jitter_buffer_ms: Option<f64>,
    /// Share of audio samples the client had to conceal (client report), in percent.
    pub concealed_audio_pct: Option<f64>,
}

impl LinkSample {
    /// A sample with only the identity, time and state filled in; the shell
    /// sets the figures it has.
    pub fn new(
        link: LinkId,
        session: SessionId,
        endpoint: Option<EndpointCode>,
        at: Millis,
        state: LinkState,
    ) -> LinkSample {
        LinkSample {
            link,
            session,
            endpoint,
            at,
            state,
            candidate_type: None,
            rtt_ms: None,
            loss_up_pct: None,
            loss_down_pct: None,
            jitter_up_ms: None,
            jitter_down_ms: None,
            bitrate_in_bps: 0,
            bitrate_out_bps: 0,
            frame_rate: None,
            resolution: None,
            jitter_buffer_ms: None,
            concealed_audio_pct: None,
        }
    }

    /// The bitrate that must not stay at zero: an endpoint publishes, so the
    /// server must receive from it; a viewer only receives, so the server
    /// must send to it.
    pub(crate) fn watched_bitrate(&self) -> u64 {
        if self.endpoint.is_some() {
            self.bitrate_in_bps
        } else {
            self.bitrate_out_bps
        }
    }

    /// Client reports are client-controlled and RTCP loss can come out
    /// negative (duplicates): keep only numbers a chart and a threshold can
    /// use, so one odd report cannot raise an alert or poison the JSON.
    pub(crate) fn sanitized(mut self) -> LinkSample {
        for value in [
            &mut self.rtt_ms,
            &mut self.jitter_up_ms,
            &mut self.jitter_down_ms,
            &mut self.frame_rate,
            &mut self.jitter_buffer_ms,
        ] {
            *value = value.filter(|v| v.is_finite()).map(|v| v.max(0.0));
        }
        for value in [
            &mut self.loss_up_pct,
            &mut self.loss_down_pct,
            &mut self.concealed_audio_pct,
        ] {
            *value = value.filter(|v| v.is_finite()).map(|v| v.clamp(0.0, 100.0));
        }
        self
    }
}
