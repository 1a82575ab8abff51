//! The video bit rate asked of each publisher.
//!
//! Every site's camera reaches the chair as a tile, and 63 of them at the
//! rate a browser reaches on its own (1.5–2.5 Mbit/s) would need well over
//! 100 Mbit/s into the chair's room. The stack offers no simulcast, so each
//! publisher is asked for a ceiling instead (RTCP REMB, which browsers obey
//! as an upper bound on their own estimate): the grid rate while it only
//! fills the chair's grid, the programme rate while it feeds a `chair` or
//! `floor` slot that every site watches, or stands at the head of the floor
//! queue (a browser climbs to a higher rate only over several seconds, so
//! the likely next speaker starts early). The ceiling follows the floor: a
//! site called on is raised at once, together with the keyframe request.

use super::Sfu;
use crate::router::{MediaKind, SlotKind};
use crate::Config;
use crate::PeerKind;
use diemcau_control::{EndpointCode, SessionId};
use rtc::peer_connection::state::RTCPeerConnectionState;
use rtc::rtcp::payload_feedbacks::receiver_estimated_maximum_bitrate::ReceiverEstimatedMaximumBitrate;
use std::collections::HashSet;
use std::time::Instant;

/// The two ceilings, in bit/s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BitrateCaps {
    pub(crate) grid_bps: u64,
    pub(crate) programme_bps: u64,
    /// Added to a presenter's ceiling for its content. A browser applies
    /// REMB to the connection as a whole, so the content's own limit (and
    /// its frame rate) is set by the page on that sender.
    pub(crate) content_bps: u64,
}

impl BitrateCaps {
    pub(crate) fn from_config(cfg: &Config) -> Self {
        BitrateCaps {
            grid_bps: u64::from(cfg.grid_bitrate_kbps) * 1000,
            programme_bps: u64::from(cfg.programme_bitrate_kbps) * 1000,
            content_bps: u64::from(cfg.content_bitrate_kbps) * 1000,
        }
    }

    /// The ceiling of a publisher, given whether it is in the programme
    /// and whether it presents.
    pub(crate) fn for_publisher(&self, in_programme: bool, presents: bool) -> u64 {
        let camera = if in_programme {
            self.programme_bps
        } else {
            self.grid_bps
        };
        camera + if presents { self.content_bps } else { 0 }
    }
}

impl Sfu {
    /// Sends each connected publisher its ceiling; with `changed_only`,
    /// only to those whose ceiling differs from the last one sent.
    pub(super) fn send_bitrate_caps(&mut self, changed_only: bool, now: Instant) {
        let programme = self.programme_sources();
        let presenters: HashSet<(SessionId, EndpointCode)> = self
            .sessions
            .iter()
            .filter_map(|(id, s)| Some((id.clone(), s.policy.content.clone()?)))
            .collect();
        let caps = self.caps;
        let mut asked = Vec::new();
        for peer in self.peers.values_mut() {
            let PeerKind::Participant(me) = &peer.kind else {
                continue;
            };
            if peer.state != RTCPeerConnectionState::Connected {
                continue;
            }
            let key = (peer.session.clone(), me.clone());
            let cap = caps.for_publisher(programme.contains(&key), presenters.contains(&key));
            if changed_only && peer.bitrate_cap == Some(cap) {
                continue;
            }
            let mut sent = false;
            for track in peer.inbound.iter() {
                if track.kind != MediaKind::Video || track.ssrc == 0 {
                    continue;
                }
                let Some(mut receiver) = peer.pc.rtp_receiver(track.receiver_id) else {
                    continue;
                };
                let remb = ReceiverEstimatedMaximumBitrate {
                    sender_ssrc: 0,
                    // REMB carries a mantissa and an exponent: any u64 of
                    // a sane configuration fits an f32 closely enough.
                    bitrate: cap as f32,
                    ssrcs: vec![track.ssrc],
                };
                match receiver.write_rtcp(now, vec![Box::new(remb)]) {
                    Ok(()) => sent = true,
                    Err(err) => tracing::debug!(peer = %peer.id, %err, "REMB not sent"),
                }
            }
            if sent {
                peer.bitrate_cap = Some(cap);
                asked.push(peer.id);
            }
        }
        self.dirty.extend(asked);
    }

    /// The sites whose video feeds a `chair` or `floor` slot somewhere in
    /// their session: what every site watches, as the router applies it.
    /// Tiles, the chair's or a technician's, leave a site at the grid rate.
    fn programme_sources(&self) -> HashSet<(SessionId, EndpointCode)> {
        let mut out = HashSet::new();
        for (session, state) in &self.sessions {
            let policy = &state.policy;
            // The head of the floor queue climbs before its grant: a
            // browser raises its rate over seconds, not at once.
            for site in policy.chair.iter().chain(&policy.next_speakers) {
                out.insert((session.clone(), site.clone()));
            }
        }
        for peer in self.peers.values() {
            for leg in &peer.legs {
                if leg.kind != MediaKind::Video || matches!(leg.slot, SlotKind::Tile(_)) {
                    continue;
                }
                if let Some(source) = &leg.source {
                    out.insert((peer.session.clone(), source.clone()));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_programme_gets_the_higher_ceiling() {
        let caps = BitrateCaps::from_config(&Config::default());
        assert_eq!(caps.for_publisher(false, false), 300_000);
        assert_eq!(caps.for_publisher(true, false), 2_500_000);
        assert_eq!(caps.for_publisher(true, true), 4_000_000);
    }
}
