//! One link as `GET /api/links` shows it.

use super::alerts::Alert;
use super::health::Health;
use super::history::worse;
use super::links::LinkView;
use super::sample::{LinkId, LinkState};
use diemcau_control::{EndpointCode, Millis, SessionId};
use diemcau_sfu::{LinkStats, PeerId};
use serde::Serialize;

/// One link as `GET /api/links` shows it: one flat record, the monitor's
/// judgement (health, alerts) beside the latest figures (server-side RTCP
/// merged with the client's report) and the media plane's own counters.
/// Flat, and with the media plane's names for the shared figures, so a
/// console reads a link the same way whichever part filled it in.
#[derive(Debug, Clone, Serialize)]
pub struct LinkReport {
    /// The link id (`<session>/<code>`, or a viewer's peer id); the key of
    /// `GET /api/links/{id}/history`.
    pub id: LinkId,
    /// The session.
    pub session: SessionId,
    /// The endpoint; `None` for a viewer.
    pub endpoint: Option<EndpointCode>,
    /// The peer connection carrying it now.
    pub peer: Option<PeerId>,
    /// Peer connection state.
    pub state: LinkState,
    /// Since when it is in that state.
    pub state_since: Millis,
    /// When the monitor first saw the link.
    pub first_seen: Millis,
    /// When the figures were taken.
    pub at: Millis,
    /// `good`, `warn` or `bad`.
    pub health: Health,
    /// Active alerts, worst reasons first.
    pub alerts: Vec<Alert>,
    /// The client's candidate type on the selected pair.
    pub candidate_type: Option<String>,
    /// Round-trip time, ms.
    pub rtt_ms: Option<f64>,
    /// Loss from the endpoint to the server, percent.
    pub loss_up_pct: Option<f64>,
    /// Loss from the server to the endpoint, percent.
    pub loss_down_pct: Option<f64>,
    /// The worse of the two, percent.
    pub loss_pct: Option<f64>,
    /// Jitter of what the server receives, ms.
    pub jitter_up_ms: Option<f64>,
    /// Jitter of what the endpoint receives, ms.
    pub jitter_down_ms: Option<f64>,
    /// Bits per second the server receives.
    pub bitrate_in: u64,
    /// Bits per second the server sends.
    pub bitrate_out: u64,
    /// Of `bitrate_in`, the site's presentation (0 while it presents nothing).
    pub content_bitrate_in: Option<u64>,
    /// Frames per second the client decodes.
    pub frame_rate: Option<f64>,
    /// Largest video the client receives.
    pub resolution: Option<(u32, u32)>,
    /// The client's jitter buffer delay, ms.
    pub jitter_buffer_ms: Option<f64>,
    /// Audio the client concealed, percent.
    pub concealed_audio_pct: Option<f64>,
    /// RTP packets forwarded to the peer since it joined.
    pub packets_forwarded: Option<u64>,
    /// RTP packets received from the peer since it joined.
    pub packets_received: Option<u64>,
    /// Keyframe requests sent to the peer.
    pub keyframe_requests: Option<u64>,
}

impl LinkReport {
    /// The monitor's view of a link and the media plane's figures for the
    /// peer carrying it, if it still reports one.
    pub fn of(view: LinkView, media: Option<&LinkStats>) -> LinkReport {
        let s = view.latest;
        LinkReport {
            id: view.link,
            session: view.session,
            endpoint: view.endpoint,
            peer: media.map(|m| m.peer),
            state: s.state,
            state_since: view.state_since,
            first_seen: view.first_seen,
            at: s.at,
            health: view.health,
            alerts: view.alerts,
            candidate_type: s.candidate_type,
            rtt_ms: s.rtt_ms,
            loss_pct: worse(s.loss_up_pct, s.loss_down_pct),
            loss_up_pct: s.loss_up_pct,
            loss_down_pct: s.loss_down_pct,
            jitter_up_ms: s.jitter_up_ms,
            jitter_down_ms: s.jitter_down_ms,
            bitrate_in: s.bitrate_in_bps,
            bitrate_out: s.bitrate_out_bps,
            content_bitrate_in: media.map(|m| m.content_bitrate_in),
            frame_rate: s.frame_rate,
            resolution: s.resolution,
            jitter_buffer_ms: s.jitter_buffer_ms,
            concealed_audio_pct: s.concealed_audio_pct,
            packets_forwarded: media.map(|m| m.packets_forwarded),
            packets_received: media.map(|m| m.packets_received),
            keyframe_requests: media.map(|m| m.keyframe_requests),
        }
    }
}
