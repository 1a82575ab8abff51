//! From the media plane's [`LinkStats`] (and the client's latest report) to
//! the monitor's [`LinkSample`].
//!
//! The media plane speaks in fractions and per-peer ids; the monitor in
//! percent and per-link ids that survive a reconnection (an endpoint's new
//! peer connection is the same link to a technician).

use super::report::ClientFigures;
use super::sample::{LinkId, LinkSample, LinkState};
use diemcau_control::Millis;
use diemcau_sfu::LinkStats;

/// The link a peer carries: `"<session>/<code>"` for an endpoint (the chair
/// is its central endpoint), the peer id for a viewer.
pub fn link_of(stats: &LinkStats) -> LinkId {
    match &stats.endpoint {
        Some(code) => LinkId::endpoint(&stats.session, code),
        None => LinkId::peer(stats.peer.to_string()),
    }
}

/// The media plane's state text; anything it might add later reads as
/// still negotiating, which judges nothing.
pub fn state_of(text: &str) -> LinkState {
    match text {
        "connected" => LinkState::Connected,
        "disconnected" => LinkState::Disconnected,
        "failed" => LinkState::Failed,
        "closed" => LinkState::Closed,
        "new" => LinkState::New,
        _ => LinkState::Connecting,
    }
}

/// How much a state says the link works, to pick one peer when an endpoint
/// briefly has two (the old one closing while the new one connects).
pub fn preference(state: LinkState) -> u8 {
    match state {
        LinkState::Connected => 5,
        LinkState::Connecting => 4,
        LinkState::New => 3,
        LinkState::Disconnected => 2,
        LinkState::Failed => 1,
        LinkState::Closed => 0,
    }
}

fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

/// One second of one link. Upstream figures exist only for a peer that
/// publishes (an endpoint); a viewer sends nothing to measure.
pub fn sample_of(stats: &LinkStats, client: Option<&ClientFigures>, at: Millis) -> LinkSample {
    let publishes = stats.endpoint.is_some();
    let mut s = LinkSample::new(
        link_of(stats),
        stats.session.clone(),
        stats.endpoint.clone(),
        at,
        state_of(&stats.state),
    );
    s.candidate_type = stats
        .candidate_type
        .clone()
        .or_else(|| client.and_then(|c| c.candidate_type.clone()));
    // The server's RTT comes from RTCP, which a client cannot bend; the
    // client's own is the fallback until the first receiver report.
    s.rtt_ms = stats.rtt_ms.or_else(|| client.and_then(|c| c.rtt_ms));
    if publishes {
        s.loss_up_pct = finite(stats.loss_up * 100.0);
        s.jitter_up_ms = finite(stats.jitter_up_ms);
    }
    s.loss_down_pct = finite(stats.loss_down * 100.0);
    s.jitter_down_ms = finite(stats.jitter_down_ms);
    s.bitrate_in_bps = stats.bitrate_in;
    s.bitrate_out_bps = stats.bitrate_out;
    if let Some(c) = client {
        s.frame_rate = c.frame_rate;
        s.resolution = c.resolution;
        s.jitter_buffer_ms = c.jitter_buffer_ms;
        s.concealed_audio_pct = c.concealed_audio_pct;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use diemcau_control::{EndpointCode, SessionId};

    fn stats(endpoint: Option<&str>) -> LinkStats {
        LinkStats {
            peer: "0123456789abcdef0123456789abcdef".parse().expect("peer id"),
            session: SessionId("s1".into()),
            endpoint: endpoint.map(|c| EndpointCode(c.into())),
            state: "connected".into(),
            candidate_type: None,
            rtt_ms: None,
            loss_up: 0.1,
            loss_down: 0.02,
            jitter_up_ms: 4.0,
            jitter_down_ms: 6.0,
            bitrate_in: 500_000,
            bitrate_out: 2_000_000,
            content_bitrate_in: 0,
            packets_forwarded: 10,
            packets_received: 10,
            keyframe_requests: 0,
        }
    }

    #[test]
    fn an_endpoints_peer_becomes_its_link_in_percent() {
        let client = ClientFigures {
            rtt_ms: Some(30.0),
            candidate_type: Some("srflx".into()),
            frame_rate: Some(25.0),
            ..ClientFigures::default()
        };
        let s = sample_of(&stats(Some("30")), Some(&client), Millis(5));
        assert_eq!(s.link.as_str(), "s1/30");
        assert_eq!(s.state, LinkState::Connected);
        assert!((s.loss_up_pct.unwrap_or_default() - 10.0).abs() < 1e-9);
        assert!((s.loss_down_pct.unwrap_or_default() - 2.0).abs() < 1e-9);
        assert_eq!(s.rtt_ms, Some(30.0), "the client's RTT until RTCP has one");
        assert_eq!(s.candidate_type.as_deref(), Some("srflx"));
        assert_eq!(s.frame_rate, Some(25.0));
        assert_eq!(s.bitrate_in_bps, 500_000);
    }

    #[test]
    fn a_viewer_has_no_upstream_and_is_named_by_its_peer() {
        let mut st = stats(None);
        st.rtt_ms = Some(12.0);
        let s = sample_of(&st, None, Millis(5));
        assert_eq!(s.link.as_str(), "0123456789abcdef0123456789abcdef");
        assert_eq!(s.loss_up_pct, None);
        assert_eq!(s.jitter_up_ms, None);
        assert_eq!(s.rtt_ms, Some(12.0));
    }

    #[test]
    fn states_are_read_and_ranked() {
        for (text, state) in [
            ("new", LinkState::New),
            ("connecting", LinkState::Connecting),
            ("connected", LinkState::Connected),
            ("disconnected", LinkState::Disconnected),
            ("failed", LinkState::Failed),
            ("closed", LinkState::Closed),
            ("checking", LinkState::Connecting),
        ] {
            assert_eq!(state_of(text), state);
        }
        assert!(preference(LinkState::Connected) > preference(LinkState::Closed));
    }
}
