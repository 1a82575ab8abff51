//! Forwarding: which leg each publisher feeds, and the packets and
//! keyframe requests that follow from it. Part of the media task
//! ([`Sfu`]); nothing here blocks or reads a clock.

use super::Sfu;
use crate::engine::AUDIO_LEVEL_URI;
use crate::keyframe::VideoCodec;
use crate::rewrite::{Arrival, Verdict};
use crate::router::{source_for, Feed, MediaKind, SlotKind};
use crate::stats;
use crate::{PeerId, PeerKind};
use diemcau_control::{EndpointCode, SessionId};
use rtc::peer_connection::state::RTCPeerConnectionState;
use rtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtcp::receiver_report::ReceiverReport;
use rtc::rtcp::reception_report::ReceptionReport;
use rtc::rtcp::sender_report::SenderReport;
use std::time::Instant;

impl Sfu {
    /// Gives the chair's connection, and every technician's, a tile
    /// (audio + video leg) per other participant of its session; new tiles
    /// go out in a server offer.
    pub(super) fn ensure_tiles(&mut self, session: &SessionId) {
        let Some(state) = self.sessions.get(session) else {
            return;
        };
        let Some(chair) = state.policy.chair.clone() else {
            return;
        };
        let others: Vec<EndpointCode> = state
            .publishers
            .keys()
            .filter(|c| **c != chair)
            .cloned()
            .collect();
        for peer in self.peers.values_mut() {
            // A WHIP chair cannot take new lines: it gets no tiles.
            let sees_grid = peer.kind == PeerKind::Technician || peer.endpoint() == Some(&chair);
            if peer.session != *session || !sees_grid || peer.path == super::SignalPath::Http {
                continue;
            }
            for code in &others {
                let slot = SlotKind::Tile(code.clone());
                if peer.has_slot(&slot) {
                    continue;
                }
                match peer.add_slot(slot) {
                    Ok(()) => {
                        peer.wants_offer = true;
                        self.dirty.insert(peer.id);
                    }
                    Err(err) => tracing::warn!(peer = %peer.id, %err, "cannot add tile"),
                }
            }
        }
    }

    /// A technician's console shows one site at a time: only the tiles it
    /// names carry media to it, instead of every site's at the grid rate.
    pub(super) fn watch(
        &mut self,
        peer: PeerId,
        sites: std::collections::BTreeSet<EndpointCode>,
        now: Instant,
    ) -> Result<(), super::MediaError> {
        let p = self
            .peers
            .get_mut(&peer)
            .ok_or(super::MediaError::UnknownPeer)?;
        if p.kind != PeerKind::Technician {
            return Err(super::MediaError::InvalidState(
                "only a technician's console chooses its tiles".into(),
            ));
        }
        p.watching = Some(sites);
        let session = p.session.clone();
        self.rebuild_routes(&session, now);
        Ok(())
    }

    /// Recomputes every leg's source in `session`; a leg whose source
    /// changed waits for a keyframe, which is requested from the new source.
    pub(super) fn rebuild_routes(&mut self, session: &SessionId, now: Instant) {
        let Some(state) = self.sessions.get(session) else {
            return;
        };
        let peers = &self.peers;
        self.routes
            .retain(|(p, _), _| peers.get(p).is_some_and(|p| p.session != *session));
        let mut keyframes_wanted = Vec::new();
        for peer in self.peers.values_mut() {
            if peer.session != *session {
                continue;
            }
            let watching = peer.watching.clone();
            let watched = |code: &EndpointCode| watching.as_ref().is_none_or(|w| w.contains(code));
            // The chair hears a site on its tile; the same voice again on
            // the floor slot would play twice, a fraction of a frame apart.
            let tiles: Vec<EndpointCode> = peer
                .legs
                .iter()
                .filter_map(|l| match &l.slot {
                    SlotKind::Tile(code) if l.kind == MediaKind::Audio && watched(code) => {
                        Some(code.clone())
                    }
                    _ => None,
                })
                .collect();
            for (index, leg) in peer.legs.iter_mut().enumerate() {
                let source = match (&peer.kind, &leg.slot) {
                    // A link test: the endpoint's own media comes back to
                    // it alone, so its return path carries what it sends.
                    (PeerKind::Participant(me), SlotKind::Floor) if state.loopback.contains(me) => {
                        Some(me.clone())
                    }
                    _ => source_for(
                        &state.policy,
                        state.speaker.current(),
                        &peer.kind,
                        &leg.slot,
                        leg.kind,
                    ),
                };
                let source = source.filter(|src| match &leg.slot {
                    SlotKind::Floor => !(leg.kind == MediaKind::Audio && tiles.contains(src)),
                    SlotKind::Tile(_) => watched(src),
                    SlotKind::Chair | SlotKind::Content => true,
                });
                let feed = leg.slot.feed(leg.kind);
                if source != leg.source {
                    leg.source = source.clone();
                    leg.rewriter.pause();
                    if let (Some(src), MediaKind::Video) = (&source, leg.kind) {
                        keyframes_wanted.push((src.clone(), feed));
                    }
                }
                if let Some(publisher) = source.and_then(|src| state.publishers.get(&src)) {
                    self.routes
                        .entry((*publisher, feed))
                        .or_default()
                        .push((peer.id, index));
                }
            }
            peer.announce_tracks();
            self.events.extend(peer.signal_events());
        }
        keyframes_wanted.extend(self.route_recording(session));
        let Some(state) = self.sessions.get(session) else {
            return;
        };
        let publishers: Vec<(PeerId, Feed)> = keyframes_wanted
            .iter()
            .filter_map(|(e, feed)| state.publishers.get(e).map(|p| (*p, *feed)))
            .collect();
        for (publisher, feed) in publishers {
            self.request_keyframe(publisher, feed, now);
        }
        // A site called to the floor may send its full picture at once.
        self.send_bitrate_caps(true, now);
    }

    /// Sends a PLI for the publisher's video of `feed` (its camera or its
    /// content: a slide's keyframe is large, and nobody needs one for the
    /// camera), at most once per interval.
    pub(super) fn request_keyframe(&mut self, publisher: PeerId, feed: Feed, now: Instant) {
        let Some(peer) = self.peers.get_mut(&publisher) else {
            return;
        };
        let mut sent = 0;
        for track in peer.inbound.iter_mut() {
            if track.kind != MediaKind::Video || track.feed != feed || !track.pli.allow(now) {
                continue;
            }
            let Some(mut receiver) = peer.pc.rtp_receiver(track.receiver_id) else {
                continue;
            };
            let pli = PictureLossIndication {
                sender_ssrc: 0,
                media_ssrc: track.ssrc,
            };
            match receiver.write_rtcp(now, vec![Box::new(pli)]) {
                Ok(()) => sent += 1,
                Err(err) => tracing::debug!(peer = %publisher, %err, "PLI not sent"),
            }
        }
        if sent > 0 {
            peer.keyframe_requests += sent;
            self.dirty.insert(publisher);
        }
    }

    /// Routes one RTP packet from `from`'s track to every leg it feeds.
    pub(super) fn forward(
        &mut self,
        from: PeerId,
        track_id: &str,
        packet: rtc::rtp::Packet,
        now: Instant,
    ) {
        let Some(peer) = self.peers.get_mut(&from) else {
            return;
        };
        let Some(endpoint) = peer.endpoint().cloned() else {
            return;
        };
        let tag = peer.tag(packet.header.ssrc);
        let Some(track) = peer.inbound.iter_mut().find(|t| t.track_id == track_id) else {
            return;
        };
        let clock = track
            .codecs
            .clock_rate(packet.header.payload_type)
            .unwrap_or(track.clock_rate);
        track.clock_rate = clock;
        // A new SSRC on the track starts a sequence of its own.
        let newest = track.ssrc != packet.header.ssrc
            || track.stats.is_newest(packet.header.sequence_number);
        track.ssrc = packet.header.ssrc;
        let arrival = stats::secs_since(self.started, now);
        track.stats.on_packet(
            packet.header.sequence_number,
            packet.header.timestamp,
            clock,
            arrival,
            packet.payload.len(),
        );
        let kind = track.kind;
        let feed = track.feed;
        let codecs = track.codecs.clone();
        if kind == MediaKind::Audio {
            if let Some(id) = codecs.extension_id(AUDIO_LEVEL_URI) {
                if let Some(ext) = packet.header.extensions.iter().find(|e| e.id == id) {
                    if let Some(state) = self.sessions.get_mut(&peer.session) {
                        state.speaker.on_level(&endpoint, &ext.payload);
                    }
                }
            }
        }
        let video_codec = codecs
            .mime(packet.header.payload_type)
            .map_or(VideoCodec::Other, VideoCodec::from_mime);
        let mut need_keyframe = false;
        if self.recordings_live > 0 {
            let session = peer.session.clone();
            need_keyframe = self.record(
                &session,
                &endpoint,
                feed,
                tag,
                &packet,
                video_codec,
                newest,
                now,
            );
        }
        // The route table is read in place: the legs it names belong to
        // other entries of `peers`, and nothing here changes the table.
        let targets = self
            .routes
            .get(&(from, feed))
            .map_or(&[][..], Vec::as_slice);
        for &(to, index) in targets {
            let Some(receiver) = self.peers.get_mut(&to) else {
                continue;
            };
            // Until DTLS is up the stack cannot encrypt: it would refuse
            // (and log) every packet. The leg starts at a keyframe later.
            if receiver.state != RTCPeerConnectionState::Connected {
                continue;
            }
            let Some(leg) = receiver.legs.get_mut(index) else {
                continue;
            };
            if leg.source.as_ref() != Some(&endpoint) {
                continue;
            }
            let mut out = packet.clone();
            if !leg.translation_for(tag, &codecs).apply(&mut out.header) {
                continue;
            }
            let payload = &packet.payload;
            let verdict = leg.rewriter.forward(
                tag,
                &mut out.header,
                Arrival {
                    wait_for_keyframe: kind == MediaKind::Video,
                    newest,
                },
                || video_codec.is_keyframe_start(payload),
                now,
            );
            match verdict {
                Verdict::Send => {
                    let size = out.payload.len() as u64;
                    leg.packets += 1;
                    leg.bytes += size;
                    receiver.outgoing.push(out);
                    self.egress.insert(to);
                }
                Verdict::AwaitKeyframe => need_keyframe = true,
                Verdict::Stale => {}
            }
        }
        if need_keyframe {
            self.request_keyframe(from, feed, now);
        }
    }

    /// Keyframe requests go to whoever feeds the leg they name; report
    /// blocks about our legs become that link's downstream figures.
    pub(super) fn on_rtcp(
        &mut self,
        from: PeerId,
        packets: &[Box<dyn rtc::rtcp::Packet>],
        now: Instant,
    ) {
        let mut keyframe_for = Vec::new();
        {
            let Some(peer) = self.peers.get_mut(&from) else {
                return;
            };
            let ntp_now = self.wall.ntp(now);
            let mut blocks: Vec<&ReceptionReport> = Vec::new();
            for packet in packets {
                let any = packet.as_any();
                let media_ssrc = if let Some(pli) = any.downcast_ref::<PictureLossIndication>() {
                    Some(pli.media_ssrc)
                } else if let Some(fir) = any.downcast_ref::<FullIntraRequest>() {
                    fir.fir.first().map(|e| e.ssrc).or(Some(fir.media_ssrc))
                } else {
                    None
                };
                if let Some(ssrc) = media_ssrc {
                    if let Some(leg) = peer.legs.iter().find(|l| l.ssrc == ssrc) {
                        if let Some(src) = leg.source.clone() {
                            keyframe_for.push((src, leg.slot.feed(leg.kind)));
                        }
                    }
                }
                if let Some(rr) = any.downcast_ref::<ReceiverReport>() {
                    blocks.extend(rr.reports.iter());
                }
                if let Some(sr) = any.downcast_ref::<SenderReport>() {
                    blocks.extend(sr.reports.iter());
                }
            }
            for block in blocks {
                if let Some(leg) = peer.legs.iter_mut().find(|l| l.ssrc == block.ssrc) {
                    leg.downstream = stats::downstream(block, ntp_now, leg.clock_rate, now);
                }
            }
        }
        let Some(session) = self.peers.get(&from).map(|p| p.session.clone()) else {
            return;
        };
        for (endpoint, feed) in keyframe_for {
            let publisher = self
                .sessions
                .get(&session)
                .and_then(|s| s.publishers.get(&endpoint))
                .copied();
            if let Some(publisher) = publisher {
                self.request_keyframe(publisher, feed, now);
            }
        }
    }
}
