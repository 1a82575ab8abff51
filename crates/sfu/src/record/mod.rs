//! Recording the programme: what a viewer receives on the `chair`, `floor`
//! and `content` slots, switches included, written to a file per stretch of
//! recording (a new one after a restart, a stop and start, or when a video
//! slot changes codec: a file declares each track's codec once).
//!
//! The recording is a receiver without a connection: five legs whose
//! sources the policy gives exactly as it gives a viewer's, each with its
//! own rewriter, so that a switch of speaker lands on a keyframe and the
//! file's streams run on without a jump. The core only rewrites a header
//! and hands the packet to the recording's [`RecordSink`]; frames are
//! built and written elsewhere (the server writes WebM or Matroska files
//! on a thread of their own).

use super::keyframe::VideoCodec;
use super::rewrite::{Arrival, Rewriter, StreamTag, Verdict};
use super::router::{MediaKind, SlotKind};
use bytes::Bytes;
use diemcau_control::{EndpointCode, SessionId};
use std::io;
use std::path::Path;
use std::time::{Instant, SystemTime};

/// The programme's five recorded slots, in track order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Track {
    ChairAudio,
    ChairVideo,
    FloorAudio,
    FloorVideo,
    Content,
}

impl Track {
    /// The slot and the kind of media it records.
    pub(crate) fn slot(self) -> (SlotKind, MediaKind) {
        match self {
            Track::ChairAudio => (SlotKind::Chair, MediaKind::Audio),
            Track::ChairVideo => (SlotKind::Chair, MediaKind::Video),
            Track::FloorAudio => (SlotKind::Floor, MediaKind::Audio),
            Track::FloorVideo => (SlotKind::Floor, MediaKind::Video),
            Track::Content => (SlotKind::Content, MediaKind::Video),
        }
    }

    /// Every track, in the file's order.
    pub const ALL: [Track; 5] = [
        Track::ChairAudio,
        Track::ChairVideo,
        Track::FloorAudio,
        Track::FloorVideo,
        Track::Content,
    ];
}

/// A video track's codec in a file: what its sender encoded, passed through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VideoFormat {
    #[default]
    Vp8,
    H264,
}

impl VideoFormat {
    /// The format a packet of `codec` is recorded in; none for a codec no
    /// file takes.
    pub(crate) fn of(codec: VideoCodec) -> Option<VideoFormat> {
        match codec {
            VideoCodec::Vp8 => Some(VideoFormat::Vp8),
            VideoCodec::H264 => Some(VideoFormat::H264),
            VideoCodec::Other => None,
        }
    }
}

/// The codec each video track of a file is declared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VideoCodecs {
    pub chair: VideoFormat,
    pub floor: VideoFormat,
    pub content: VideoFormat,
}

impl VideoCodecs {
    /// `track`'s codec; none for an audio track.
    pub fn of(&self, track: Track) -> Option<VideoFormat> {
        match track {
            Track::ChairVideo => Some(self.chair),
            Track::FloorVideo => Some(self.floor),
            Track::Content => Some(self.content),
            Track::ChairAudio | Track::FloorAudio => None,
        }
    }

    /// The same with `track` in `format` (an audio track is left as is).
    pub fn with(mut self, track: Track, format: VideoFormat) -> VideoCodecs {
        match track {
            Track::ChairVideo => self.chair = format,
            Track::FloorVideo => self.floor = format,
            Track::Content => self.content = format,
            Track::ChairAudio | Track::FloorAudio => {}
        }
        self
    }

    /// Whether a track holds H.264 (WebM does not take it: the file is
    /// then Matroska).
    pub fn any_h264(&self) -> bool {
        [self.chair, self.floor, self.content].contains(&VideoFormat::H264)
    }
}

/// One RTP packet of a recorded slot, as a writer needs it.
#[derive(Debug, Clone)]
pub struct Piece {
    pub seq: u16,
    pub timestamp: u32,
    pub marker: bool,
    pub payload: Bytes,
    /// Arrival, nanoseconds since the recording started.
    pub at_ns: u64,
}

/// What a recording's writer reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileStatus {
    pub frames: u64,
    /// Packets the queue had no room for.
    pub dropped: u64,
    /// Why writing stopped, if it failed (the disk is full, say).
    pub failed: Option<String>,
    pub finished: bool,
}

/// One recorded slot.
pub(crate) struct RecordLeg {
    track: Track,
    pub(crate) slot: SlotKind,
    pub(crate) kind: MediaKind,
    pub(crate) source: Option<EndpointCode>,
    rewriter: Rewriter,
}

/// A session's recording in progress.
pub(crate) struct Recording {
    file: Box<dyn RecordSink>,
    /// What the file declares its video tracks as.
    codecs: VideoCodecs,
    started: Instant,
    pub(crate) legs: Vec<RecordLeg>,
}

/// What became of a packet offered to a recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Took {
    /// Taken or not needed; `true`: a leg waits for a keyframe of it.
    Done(bool),
    /// It starts a keyframe in another codec than its track's in the
    /// file: a new file with these codecs must begin, and the packet be
    /// offered again.
    NewSegment(VideoCodecs),
}

/// Where a recording's packets go. The media core only hands packets over;
/// the server gives it files written on their own thread ([`FileRecorder`]),
/// a test gives it memory.
pub trait RecordSink: Send {
    /// Queues one packet of `track`; never blocks.
    fn offer(&self, track: Track, piece: Piece);
    fn status(&self) -> FileStatus;
    fn path(&self) -> &Path;
    /// Ends the recording without waiting for it to be closed.
    fn finish(self: Box<Self>);
    /// Ends the recording and waits until it is closed.
    fn finish_and_wait(self: Box<Self>) -> FileStatus;
}

/// Opens a session's next recording.
pub trait Recorder: Send {
    /// A new recording of `session`, starting at `wall`, its video tracks
    /// declared in `codecs`.
    fn open(
        &self,
        session: &SessionId,
        wall: SystemTime,
        codecs: VideoCodecs,
    ) -> io::Result<Box<dyn RecordSink>>;
}

impl Recording {
    /// A recording into `sink` (its video tracks declared in `codecs`),
    /// its slots silent until routed.
    pub(crate) fn start(sink: Box<dyn RecordSink>, codecs: VideoCodecs, now: Instant) -> Recording {
        let legs = Track::ALL
            .iter()
            .map(|&track| {
                let (slot, kind) = track.slot();
                let clock_rate = if kind == MediaKind::Audio {
                    48_000
                } else {
                    90_000
                };
                RecordLeg {
                    track,
                    slot,
                    kind,
                    source: None,
                    rewriter: Rewriter::new(rand::random(), clock_rate),
                }
            })
            .collect();
        Recording {
            file: sink,
            codecs,
            started: now,
            legs,
        }
    }

    /// Goes on in `sink`, a new file whose video tracks are declared in
    /// `codecs`; the current file is closed on its own thread. Every video
    /// slot starts the new file at a keyframe: a decoder reading it alone
    /// has nothing to predict from.
    pub(crate) fn next_segment(
        &mut self,
        sink: Box<dyn RecordSink>,
        codecs: VideoCodecs,
        now: Instant,
    ) {
        let done = std::mem::replace(&mut self.file, sink);
        tracing::info!(path = %done.path().display(), "recording goes on in a new file");
        done.finish();
        self.codecs = codecs;
        self.started = now;
        for leg in &mut self.legs {
            if leg.kind == MediaKind::Video {
                leg.rewriter.pause();
            }
        }
    }

    /// Sets a leg's source; a new one starts at its next keyframe.
    pub(crate) fn set_source(&mut self, index: usize, source: Option<EndpointCode>) -> bool {
        let Some(leg) = self.legs.get_mut(index) else {
            return false;
        };
        if leg.source == source {
            return false;
        }
        leg.source = source;
        leg.rewriter.pause();
        true
    }

    /// Records one packet of `from` on every leg it feeds.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn take(
        &mut self,
        from: &EndpointCode,
        feed: super::router::Feed,
        tag: StreamTag,
        packet: &rtc::rtp::Packet,
        codec: VideoCodec,
        newest: bool,
        now: Instant,
    ) -> Took {
        let at_ns = u64::try_from(now.saturating_duration_since(self.started).as_nanos())
            .unwrap_or(u64::MAX);
        let fed =
            |leg: &RecordLeg| leg.source.as_ref() == Some(from) && leg.slot.feed(leg.kind) == feed;
        // VP8 and H.264 are recorded; another video codec is not.
        let format = VideoFormat::of(codec);
        if let (Some(format), true) = (format, newest) {
            // Slots this packet feeds in another codec than the file
            // declares for them: a new file, declaring it for all of them,
            // begins at its keyframe.
            let wanted = self
                .legs
                .iter()
                .filter(|leg| leg.kind == MediaKind::Video && fed(leg))
                .fold(self.codecs, |codecs, leg| codecs.with(leg.track, format));
            if wanted != self.codecs && codec.is_keyframe_start(&packet.payload) {
                return Took::NewSegment(wanted);
            }
        }
        let mut want_keyframe = false;
        for leg in &mut self.legs {
            if !fed(leg) {
                continue;
            }
            let payload = &packet.payload;
            if leg.kind == MediaKind::Video {
                let Some(format) = format else {
                    continue;
                };
                if self.codecs.of(leg.track) != Some(format) {
                    // Until its keyframe comes the slot waits for it.
                    leg.rewriter.pause();
                    want_keyframe = true;
                    continue;
                }
            }
            let mut header = packet.header.clone();
            let verdict = leg.rewriter.forward(
                tag,
                &mut header,
                Arrival {
                    wait_for_keyframe: leg.kind == MediaKind::Video,
                    newest,
                },
                || codec.is_keyframe_start(payload),
                now,
            );
            match verdict {
                Verdict::Send => self.file.offer(
                    leg.track,
                    Piece {
                        seq: header.sequence_number,
                        timestamp: header.timestamp,
                        marker: header.marker,
                        payload: payload.clone(),
                        at_ns,
                    },
                ),
                Verdict::AwaitKeyframe => want_keyframe = true,
                Verdict::Stale => {}
            }
        }
        Took::Done(want_keyframe)
    }

    pub(crate) fn status(&self) -> FileStatus {
        self.file.status()
    }

    pub(crate) fn path(&self) -> &Path {
        self.file.path()
    }

    /// Ends it; the file is closed on its own thread.
    pub(crate) fn finish(self) {
        tracing::info!(path = %self.file.path().display(), "recording stopped");
        self.file.finish();
    }

    /// Ends it and waits until the file is closed.
    pub(crate) fn finish_and_wait(self) -> FileStatus {
        self.file.finish_and_wait()
    }
}

/// Recordings in memory, for the core's tests.
#[cfg(test)]
pub(crate) mod tape {
    use super::{FileStatus, Piece, RecordSink, Recorder, Track, VideoCodecs};
    use diemcau_control::SessionId;
    use std::io;
    use std::path::{Path, PathBuf};
    use std::sync::{Arc, Mutex};
    use std::time::SystemTime;

    /// Recordings kept in memory: every packet handed over, by track.
    #[derive(Clone, Default)]
    pub(crate) struct Tape(pub(crate) Arc<Mutex<Vec<(Track, Piece)>>>);

    struct TapeSink(Tape, PathBuf);

    impl RecordSink for TapeSink {
        fn offer(&self, track: Track, piece: Piece) {
            if let Ok(mut t) = self.0 .0.lock() {
                t.push((track, piece));
            }
        }
        fn status(&self) -> FileStatus {
            FileStatus::default()
        }
        fn path(&self) -> &Path {
            &self.1
        }
        fn finish(self: Box<Self>) {}
        fn finish_and_wait(self: Box<Self>) -> FileStatus {
            FileStatus::default()
        }
    }

    impl Recorder for Tape {
        fn open(
            &self,
            session: &SessionId,
            _: SystemTime,
            _: VideoCodecs,
        ) -> io::Result<Box<dyn RecordSink>> {
            Ok(Box::new(TapeSink(self.clone(), PathBuf::from(&session.0))))
        }
    }

    impl Tape {
        /// A file that records onto this tape.
        pub(crate) fn sink(&self) -> Box<dyn RecordSink> {
            Box::new(TapeSink(self.clone(), PathBuf::from("tape")))
        }

        /// The packets recorded on `track`.
        pub(crate) fn on(&self, track: Track) -> Vec<Piece> {
            self.0
                .lock()
                .map(|t| {
                    t.iter()
                        .filter(|(k, _)| *k == track)
                        .map(|(_, p)| p.clone())
                        .collect()
                })
                .unwrap_or_default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::tape::Tape;
    use super::*;
    use crate::router::Feed;

    fn packet(timestamp: u32, seq: u16, payload: &'static [u8]) -> rtc::rtp::Packet {
        rtc::rtp::Packet {
            header: rtc::rtp::header::Header {
                version: 2,
                sequence_number: seq,
                timestamp,
                marker: true,
                ..Default::default()
            },
            payload: Bytes::from_static(payload),
        }
    }

    /// The floor passes from a VP8 publisher to an H.264 one: the H.264
    /// slot waits for a keyframe, which asks for a new file declaring the
    /// floor H.264; in that file every video slot starts at a keyframe.
    #[test]
    fn a_video_slot_changing_codec_begins_a_new_file_at_its_keyframe() {
        let now = Instant::now();
        let first = Tape::default();
        let mut recording = Recording::start(first.sink(), VideoCodecs::default(), now);
        let floor = Track::ALL.iter().position(|t| *t == Track::FloorVideo);
        let floor = floor.expect("a floor track");
        let (vp8, h264) = (EndpointCode("30".into()), EndpointCode("31".into()));
        assert!(recording.set_source(floor, Some(vp8.clone())));
        let tag = |publisher| StreamTag { publisher, ssrc: 7 };
        let vp8_key = packet(1000, 1, &[0x10, 0x00, 0x00, 0x00, 0x9d, 0x01, 0x2a]);
        let took = recording.take(
            &vp8,
            Feed::Camera,
            tag(1),
            &vp8_key,
            VideoCodec::Vp8,
            true,
            now,
        );
        assert_eq!(took, Took::Done(false));
        assert_eq!(first.0.lock().map(|t| t.len()).unwrap_or(0), 1);

        assert!(recording.set_source(floor, Some(h264.clone())));
        // A delta frame of H.264: nothing offered, a keyframe wanted.
        let delta = packet(2000, 1, &[0x41, 0x9a, 0x00]);
        let took = recording.take(
            &h264,
            Feed::Camera,
            tag(2),
            &delta,
            VideoCodec::H264,
            true,
            now,
        );
        assert_eq!(took, Took::Done(true));
        // Its keyframe (an IDR slice): a new file with the floor in H.264.
        let idr = packet(3000, 2, &[0x65, 0x88, 0x80]);
        let took = recording.take(
            &h264,
            Feed::Camera,
            tag(2),
            &idr,
            VideoCodec::H264,
            true,
            now,
        );
        let codecs = VideoCodecs::default().with(Track::FloorVideo, VideoFormat::H264);
        assert_eq!(took, Took::NewSegment(codecs));
        assert!(codecs.any_h264() && !VideoCodecs::default().any_h264());
        let second = Tape::default();
        recording.next_segment(second.sink(), codecs, now);
        let took = recording.take(
            &h264,
            Feed::Camera,
            tag(2),
            &idr,
            VideoCodec::H264,
            true,
            now,
        );
        assert_eq!(took, Took::Done(false));
        let taken = second.0.lock().map(|t| t.clone()).unwrap_or_default();
        assert_eq!(taken.len(), 1);
        assert_eq!(taken[0].0, Track::FloorVideo);
        assert_eq!(
            first.0.lock().map(|t| t.len()).unwrap_or(0),
            1,
            "the old file got no H.264"
        );
        // A codec no file takes is not recorded at all.
        let took = recording.take(
            &h264,
            Feed::Camera,
            tag(2),
            &idr,
            VideoCodec::Other,
            true,
            now,
        );
        assert_eq!(took, Took::Done(false));
    }

    /// One publisher on two video slots (the chair holding the floor)
    /// switching codec: one new file declares both.
    #[test]
    fn every_slot_a_keyframe_feeds_changes_codec_in_one_new_file() {
        let now = Instant::now();
        let mut recording = Recording::start(Tape::default().sink(), VideoCodecs::default(), now);
        let chair = EndpointCode("00".into());
        for track in [Track::ChairVideo, Track::FloorVideo] {
            let index = Track::ALL.iter().position(|t| *t == track);
            assert!(recording.set_source(index.expect("a track"), Some(chair.clone())));
        }
        let tag = StreamTag {
            publisher: 1,
            ssrc: 9,
        };
        let idr = packet(3000, 2, &[0x65, 0x88, 0x80]);
        let took = recording.take(&chair, Feed::Camera, tag, &idr, VideoCodec::H264, true, now);
        let both = VideoCodecs {
            chair: VideoFormat::H264,
            floor: VideoFormat::H264,
            content: VideoFormat::Vp8,
        };
        assert_eq!(took, Took::NewSegment(both));
        // A packet resent late starts nothing.
        let took = recording.take(
            &chair,
            Feed::Camera,
            tag,
            &idr,
            VideoCodec::H264,
            false,
            now,
        );
        assert_eq!(took, Took::Done(true));
    }
}
