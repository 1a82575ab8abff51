//! Recording the programme: what a viewer receives on the `chair`, `floor`
//! and `content` slots, switches included, written to a WebM file per
//! stretch of recording (a new one after a restart or a stop and start).
//!
//! The recording is a receiver without a connection: five legs whose
//! sources the policy gives exactly as it gives a viewer's, each with its
//! own rewriter, so that a switch of speaker lands on a keyframe and the
//! file's streams run on without a jump. The core only rewrites a header
//! and hands the packet to the recording's [`RecordSink`]; frames are
//! built and written elsewhere (the server writes WebM files on a thread
//! of their own).

mod tap;

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
    /// Every track, in the file's order.
    pub const ALL: [Track; 5] = [
        Track::ChairAudio,
        Track::ChairVideo,
        Track::FloorAudio,
        Track::FloorVideo,
        Track::Content,
    ];
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
    /// Audio frames dropped because no picture came to write them with.
    pub audio_without_video: u64,
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
    started: Instant,
    pub(crate) legs: Vec<RecordLeg>,
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
    /// A new recording of `session`, starting at `wall`.
    fn open(&self, session: &SessionId, wall: SystemTime) -> io::Result<Box<dyn RecordSink>>;
}

impl Recording {
    /// A recording into `sink`, its slots silent until routed.
    pub(crate) fn start(sink: Box<dyn RecordSink>, now: Instant) -> Recording {
        let legs = Track::ALL
            .iter()
            .map(|&track| {
                let (slot, kind) = match track {
                    Track::ChairAudio => (SlotKind::Chair, MediaKind::Audio),
                    Track::ChairVideo => (SlotKind::Chair, MediaKind::Video),
                    Track::FloorAudio => (SlotKind::Floor, MediaKind::Audio),
                    Track::FloorVideo => (SlotKind::Floor, MediaKind::Video),
                    Track::Content => (SlotKind::Content, MediaKind::Video),
                };
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
            started: now,
            legs,
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

    /// Records one packet of `from` on every leg it feeds. Returns whether
    /// a leg waits for a keyframe of it.
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
    ) -> bool {
        let at_ns = u64::try_from(now.saturating_duration_since(self.started).as_nanos())
            .unwrap_or(u64::MAX);
        let mut want_keyframe = false;
        for leg in &mut self.legs {
            if leg.source.as_ref() != Some(from) || leg.slot.feed(leg.kind) != feed {
                continue;
            }
            // WebM holds VP8 and Opus; another video codec is not recorded.
            if leg.kind == MediaKind::Video && codec != VideoCodec::Vp8 {
                continue;
            }
            let mut header = packet.header.clone();
            let payload = &packet.payload;
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
        want_keyframe
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
