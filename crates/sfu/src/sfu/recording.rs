//! The media task's side of recording: a file while the policy says so,
//! its slots routed as a viewer's, its failures reported.

use super::{Sfu, SfuEvent};
use crate::keyframe::VideoCodec;
use crate::record::{Recording, Took, Track, VideoCodecs, VideoFormat};
use crate::rewrite::StreamTag;
use crate::router::{source_for, Feed};
use crate::{LinkEvent, PeerKind};
use diemcau_control::SessionId;
use std::time::Instant;

impl Sfu {
    /// Starts or ends `session`'s recording as its policy now says.
    pub(crate) fn follow_recording(&mut self, session: &SessionId, now: Instant) {
        let wall = self.wall_clock(now);
        let Some(recorder) = self.recorder.as_deref() else {
            return;
        };
        let Some(state) = self.sessions.get_mut(session) else {
            return;
        };
        let wanted = state.policy.recording;
        match (wanted, state.recording.is_some()) {
            (true, false) if !state.recording_failed => {
                let codecs = programme_codecs(state, &self.peers);
                match recorder.open(session, wall, codecs) {
                    Ok(sink) => state.recording = Some(Recording::start(sink, codecs, now)),
                    Err(e) => {
                        state.recording_failed = true;
                        let reason = format!("the recording could not be started: {e}");
                        tracing::error!(%session, %reason);
                        self.emit(SfuEvent::Link(LinkEvent::RecordingStopped {
                            session: session.clone(),
                            reason,
                        }));
                    }
                }
            }
            (false, true) => {
                if let Some(recording) = state.recording.take() {
                    recording.finish();
                }
            }
            (false, false) => state.recording_failed = false,
            _ => {}
        }
        self.count_recordings();
    }

    /// Counts the sessions being recorded, after a recording starts or ends.
    fn count_recordings(&mut self) {
        self.recordings_live = self
            .sessions
            .values()
            .filter(|s| s.recording.is_some())
            .count();
    }

    /// Points the recording's slots at what a viewer would get; returns the
    /// publishers whose feed a switched slot now waits a keyframe from.
    pub(crate) fn route_recording(
        &mut self,
        session: &SessionId,
    ) -> Vec<(diemcau_control::EndpointCode, Feed)> {
        let Some(state) = self.sessions.get_mut(session) else {
            return Vec::new();
        };
        let crate::sfu::Session {
            policy,
            speaker,
            recording,
            ..
        } = state;
        let Some(recording) = recording.as_mut() else {
            return Vec::new();
        };
        let mut wanted = Vec::new();
        for index in 0..recording.legs.len() {
            let (slot, kind) = {
                let leg = &recording.legs[index];
                (leg.slot.clone(), leg.kind)
            };
            let source = source_for(policy, speaker.current(), &PeerKind::Viewer, &slot, kind);
            if recording.set_source(index, source.clone()) {
                if let (Some(src), crate::router::MediaKind::Video) = (source, kind) {
                    wanted.push((src, slot.feed(kind)));
                }
            }
        }
        wanted
    }

    /// Offers one packet of `from`'s `feed` to its session's recording,
    /// beginning a new file when it brings a video slot a new codec.
    /// Returns whether the recording waits for a keyframe of it.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn record(
        &mut self,
        session: &SessionId,
        from: &diemcau_control::EndpointCode,
        feed: Feed,
        tag: StreamTag,
        packet: &rtc::rtp::Packet,
        codec: VideoCodec,
        newest: bool,
        now: Instant,
    ) -> bool {
        let wall = self.wall_clock(now);
        let Some(state) = self.sessions.get_mut(session) else {
            return false;
        };
        let Some(recording) = state.recording.as_mut() else {
            return false;
        };
        let codecs = match recording.take(from, feed, tag, packet, codec, newest, now) {
            Took::Done(want_keyframe) => return want_keyframe,
            Took::NewSegment(codecs) => codecs,
        };
        let Some(recorder) = self.recorder.as_deref() else {
            return false;
        };
        let reason = match recorder.open(session, wall, codecs) {
            Ok(sink) => {
                recording.next_segment(sink, codecs, now);
                return match recording.take(from, feed, tag, packet, codec, newest, now) {
                    Took::Done(want_keyframe) => want_keyframe,
                    // The new file declares this packet's codec: not again.
                    Took::NewSegment(_) => false,
                };
            }
            Err(e) => format!("the recording's next file could not be started: {e}"),
        };
        tracing::error!(%session, %reason);
        if let Some(r) = state.recording.take() {
            r.finish();
        }
        state.recording_failed = true;
        self.emit(SfuEvent::Link(LinkEvent::RecordingStopped {
            session: session.clone(),
            reason,
        }));
        self.count_recordings();
        false
    }

    /// Once a second: a recording whose file failed is stopped and reported.
    pub(crate) fn check_recordings(&mut self) {
        let mut failed = Vec::new();
        for (id, state) in self.sessions.iter_mut() {
            let Some(recording) = &state.recording else {
                continue;
            };
            let status = recording.status();
            if let Some(reason) = status.failed {
                failed.push((id.clone(), reason));
                if let Some(r) = state.recording.take() {
                    r.finish();
                }
                state.recording_failed = true;
            }
        }
        for (session, reason) in failed {
            self.emit(SfuEvent::Link(LinkEvent::RecordingStopped {
                session,
                reason,
            }));
        }
    }

    /// The server stops: every recording's file is closed before it does.
    pub(crate) fn finish_recordings(&mut self) {
        for state in self.sessions.values_mut() {
            if let Some(recording) = state.recording.take() {
                let path = recording.path().to_path_buf();
                let status = recording.finish_and_wait();
                tracing::info!(path = %path.display(), frames = status.frames, "recording closed");
            }
        }
        self.recordings_live = 0;
    }
}

/// The codecs the programme's video slots now carry, as their publishers
/// negotiated them: a file opened with them needs no new segment at once.
fn programme_codecs(
    state: &crate::sfu::Session,
    peers: &rustc_hash::FxHashMap<crate::PeerId, crate::peer::Peer>,
) -> VideoCodecs {
    let mut codecs = VideoCodecs::default();
    for track in Track::ALL {
        let (slot, kind) = track.slot();
        if kind != crate::router::MediaKind::Video {
            continue;
        }
        let source = source_for(
            &state.policy,
            state.speaker.current(),
            &PeerKind::Viewer,
            &slot,
            kind,
        );
        let format = source
            .and_then(|src| state.publishers.get(&src))
            .and_then(|id| peers.get(id))
            .and_then(|peer| VideoFormat::of(VideoCodec::from_mime(peer.video_mime)));
        if let Some(format) = format {
            codecs = codecs.with(track, format);
        }
    }
    codecs
}
