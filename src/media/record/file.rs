//! The file a recording writes: a WebM segment on a thread of its own.
//!
//! The media task hands over packets through a bounded queue and never
//! waits: a slow or full disk costs the recording frames, never the media
//! plane its pace. The segment is written in live mode (libwebm through
//! the `webm` crate: every size left open, no index at the end), straight
//! to the file without a buffer of ours, so that after the server is
//! killed the file plays up to its last complete cluster.

use super::frames::{Codec, FrameBuilder};
use diemcau_sfu::record::{FileStatus, Piece, Track};
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use webm::mux::{AudioCodecId, SegmentBuilder, SegmentMode, VideoCodecId, Writer};

/// Packets waiting for the writer: about two seconds of a full programme.
const QUEUE: usize = 2048;
/// What the tracks are declared as; players take the picture's real size
/// from the VP8 stream itself.
const VIDEO_SIZE: (u32, u32) = (1280, 720);
/// libwebm holds audio back until the next video frame (so that a
/// cluster starts with its keyframe); with no picture at all it would hold
/// everything in memory. Past about ten seconds of audio without one, the
/// audio is dropped (and counted) rather than held.
const AUDIO_WITHOUT_VIDEO: u64 = 1000;
/// The least time between two frames of one track, ns (100 a second:
/// above any frame rate a site sends, and audio's 50).
const TRACK_STEP_NS: u64 = 10_000_000;
/// Frames are held this long and written in time order: libwebm takes
/// timestamps that never go back across tracks, and a video frame is
/// complete only after its last packet.
const HOLD_NS: u64 = 300_000_000;
/// A frame whose capture clock strays this far from its arrival starts
/// the track's clock again (a new sender, a long pause).
const RESYNC_NS: i64 = 1_000_000_000;

/// One track's time: its RTP clock, anchored to an arrival.
#[derive(Debug, Default, Clone, Copy)]
struct TrackClock {
    anchor: Option<(u32, u64)>,
}

impl TrackClock {
    /// The frame's time in the file, ns: arrival spaced the way its sender
    /// spaced the frames (arrival times bunch after a keyframe wait or a
    /// burst on the network, and players take bunched frames for one).
    fn time_of(&mut self, rtp_ts: u32, at_ns: u64, rate: u64) -> u64 {
        if let Some((rtp0, ns0)) = self.anchor {
            let ticks = i64::from(rtp_ts.wrapping_sub(rtp0) as i32);
            let rate = i64::try_from(rate).unwrap_or(90_000).max(1);
            let t = i64::try_from(ns0).unwrap_or(i64::MAX) + ticks * 1_000_000_000 / rate;
            let drift = t - i64::try_from(at_ns).unwrap_or(i64::MAX);
            if t >= 0 && drift.abs() <= RESYNC_NS {
                return t as u64;
            }
        }
        self.anchor = Some((rtp_ts, at_ns));
        at_ns
    }
}

/// What the file makes of each recorded slot.
trait TrackInFile {
    fn codec(self) -> Codec;
    fn index(self) -> usize;
    fn clock_rate(self) -> u64;
    /// The Matroska track number (1-based).
    fn number(self) -> u64;
}

impl TrackInFile for Track {
    fn codec(self) -> Codec {
        match self {
            Track::ChairAudio | Track::FloorAudio => Codec::Opus,
            _ => Codec::Vp8,
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    fn clock_rate(self) -> u64 {
        match self.codec() {
            Codec::Opus => 48_000,
            Codec::Vp8 => 90_000,
        }
    }

    fn number(self) -> u64 {
        self as u64 + 1
    }
}

/// One packet for the writer. The recording ends when the media task
/// drops its sender: the writer writes what is queued, then closes.
type Message = (Track, Piece);

/// A recording file being written.
pub(crate) struct RecordingFile {
    pub(crate) path: PathBuf,
    queue: SyncSender<Message>,
    status: Arc<Mutex<FileStatus>>,
    thread: Option<JoinHandle<()>>,
}

impl RecordingFile {
    /// Creates `path` (never over an existing file) and starts writing.
    pub(crate) fn create(path: &Path) -> io::Result<RecordingFile> {
        let file = File::options().write(true).create_new(true).open(path)?;
        RecordingFile::into_file(file, path)
    }

    fn into_file(file: File, path: &Path) -> io::Result<RecordingFile> {
        let status = Arc::new(Mutex::new(FileStatus::default()));
        let (queue, rx) = sync_channel(QUEUE);
        let thread_status = status.clone();
        let thread = std::thread::Builder::new()
            .name("recording".into())
            .spawn(move || write_segment(file, rx, thread_status))?;
        Ok(RecordingFile {
            path: path.to_path_buf(),
            queue,
            status,
            thread: Some(thread),
        })
    }

    /// Queues one packet; never blocks.
    pub(crate) fn offer(&self, track: Track, piece: Piece) {
        match self.queue.try_send((track, piece)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                if let Ok(mut s) = self.status.lock() {
                    s.dropped += 1;
                }
            }
        }
    }

    pub(crate) fn status(&self) -> FileStatus {
        self.status.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Ends the recording: the writer closes the segment once it has
    /// written what is queued, and the thread ends on its own. Never waits.
    pub(crate) fn finish(self) {}

    /// Ends the recording and waits for the file to be closed.
    pub(crate) fn finish_and_wait(self) -> FileStatus {
        let RecordingFile {
            queue,
            status,
            thread,
            ..
        } = self;
        drop(queue);
        if let Some(t) = thread {
            let _ = t.join();
        }
        let done = status.lock().map(|s| s.clone()).unwrap_or_default();
        done
    }
}

/// The file, remembering why a write failed: libwebm only says that it did.
struct Disk {
    file: File,
    error: Arc<Mutex<Option<io::Error>>>,
}

impl Write for Disk {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.write(buf).inspect_err(|e| {
            if let Ok(mut slot) = self.error.lock() {
                *slot = Some(io::Error::new(e.kind(), e.to_string()));
            }
        })
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// The `OpusHead` a Matroska Opus track carries (RFC 7845, 5.1): stereo,
/// 48 kHz, no pre-skip, mapping family 0.
fn opus_head() -> Vec<u8> {
    let mut head = b"OpusHead".to_vec();
    head.push(1);
    head.push(2);
    head.extend_from_slice(&0u16.to_le_bytes());
    head.extend_from_slice(&48_000u32.to_le_bytes());
    head.extend_from_slice(&0i16.to_le_bytes());
    head.push(0);
    head
}

fn write_segment(file: File, rx: Receiver<Message>, status: Arc<Mutex<FileStatus>>) {
    let fail = |why: String| {
        tracing::error!(%why, "recording stopped");
        if let Ok(mut s) = status.lock() {
            s.failed = Some(why);
        }
    };
    let error = Arc::new(Mutex::new(None));
    let disk = Disk {
        file,
        error: error.clone(),
    };
    let why = |what: &str| {
        let io = error
            .lock()
            .ok()
            .and_then(|e| e.as_ref().map(|e| e.to_string()));
        match io {
            Some(io) => format!("{what}: {io}"),
            None => what.to_string(),
        }
    };
    let Some(mut segment) = build_segment(disk) else {
        fail(why("the recording could not be started"));
        drain(&rx);
        return;
    };
    let mut builders: Vec<FrameBuilder> = Track::ALL
        .iter()
        .map(|t| FrameBuilder::new(t.codec()))
        .collect();
    let mut frames = 0u64;
    let mut written_any = false;
    let mut audio_held = 0u64;
    let mut clocks = [TrackClock::default(); 5];
    // Frames waiting to be written in time order: (time, arrival order).
    let mut held: std::collections::BTreeMap<(u64, u64), (Track, super::frames::Frame)> =
        std::collections::BTreeMap::new();
    let mut order = 0u64;
    let mut newest_arrival = 0u64;
    let mut out = Out::default();
    let mut write = |track: Track, frame: &super::frames::Frame, time: u64, out: &mut Out| {
        // Never back across tracks (libwebm refuses it), and a little
        // apart within one.
        let after_previous = out.last_on_track[track.index()].map_or(0, |t| t + TRACK_STEP_NS);
        out.last_ns = out.last_ns.max(time).max(after_previous);
        out.last_on_track[track.index()] = Some(out.last_ns);
        segment.add_frame(track.number(), &frame.data, out.last_ns, frame.keyframe)
    };
    let mut failure = None;
    while let Ok((track, piece)) = rx.recv() {
        newest_arrival = newest_arrival.max(piece.at_ns);
        if let Some(frame) = builders[track.index()].push(&piece) {
            let keep = if track.codec() == Codec::Opus {
                audio_held += 1;
                audio_held <= AUDIO_WITHOUT_VIDEO
            } else {
                audio_held = 0;
                true
            };
            if keep {
                let time =
                    clocks[track.index()].time_of(frame.rtp_ts, frame.at_ns, track.clock_rate());
                order += 1;
                held.insert((time, order), (track, frame));
            } else if let Ok(mut s) = status.lock() {
                s.audio_without_video += 1;
            }
        }
        while let Some(entry) = held.first_entry() {
            let (time, _) = *entry.key();
            if time.saturating_add(HOLD_NS) > newest_arrival {
                break;
            }
            let (track, frame) = entry.remove();
            if let Err(e) = write(track, &frame, time, &mut out) {
                failure = Some(format!("writing a frame failed ({e})"));
                break;
            }
            written_any = true;
            frames += 1;
            if frames.is_multiple_of(50) {
                if let Ok(mut s) = status.lock() {
                    s.frames = frames;
                }
            }
        }
        if failure.is_some() {
            break;
        }
    }
    // The recording ended: what is held goes out in order.
    while failure.is_none() {
        let Some(((time, _), (track, frame))) = held.pop_first() else {
            break;
        };
        match write(track, &frame, time, &mut out) {
            Ok(()) => {
                written_any = true;
                frames += 1;
            }
            Err(e) => failure = Some(format!("writing a frame failed ({e})")),
        }
    }
    if let Some(what) = failure {
        fail(why(&what));
        drain(&rx);
        return;
    }
    if written_any && segment.finalize(None).is_err() {
        fail(why("closing the recording failed"));
        return;
    }
    if let Ok(mut s) = status.lock() {
        s.frames = frames;
        s.finished = true;
    }
}

/// What has been written: the last time, in all and per track.
#[derive(Default)]
struct Out {
    last_ns: u64,
    last_on_track: [Option<u64>; 5],
}

fn build_segment(disk: Disk) -> Option<webm::mux::Segment<Disk>> {
    let builder = SegmentBuilder::new(Writer::new_non_seek(disk)).ok()?;
    let mut builder = builder
        .set_mode(SegmentMode::Live)
        .ok()?
        .set_writing_app("diemcau")
        .ok()?;
    for track in Track::ALL {
        builder = match track.codec() {
            Codec::Opus => {
                let (b, t) = builder
                    .add_audio_track(48_000, 2, AudioCodecId::Opus, Some(track.number()))
                    .ok()?;
                b.set_codec_private(t, &opus_head()).ok()?
            }
            Codec::Vp8 => {
                let (w, h) = VIDEO_SIZE;
                builder
                    .add_video_track(w, h, VideoCodecId::VP8, Some(track.number()))
                    .ok()?
                    .0
            }
        };
    }
    Some(builder.build())
}

/// Empties the queue after a failure until the recording is finished,
/// so that the media task never finds it full of what will not be written.
fn drain(rx: &Receiver<Message>) {
    while rx.recv().is_ok() {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use std::time::{Duration, Instant};

    fn opus(seq: u16) -> Piece {
        Piece {
            seq,
            timestamp: u32::from(seq) * 960,
            marker: false,
            payload: Bytes::from_static(&[0xfc, 1, 2, 3]),
            at_ns: u64::from(seq) * 20_000_000,
        }
    }

    /// A full disk (`/dev/full` fails every write with ENOSPC): the writer
    /// says why it stopped, and the media task's offers never wait: what
    /// the queue cannot take is counted and dropped.
    #[test]
    fn a_full_disk_stops_the_file_and_never_the_sender() {
        let Ok(full) = File::options().write(true).open("/dev/full") else {
            return; // not Linux
        };
        let file = RecordingFile::into_file(full, Path::new("/dev/full")).expect("a writer");
        // A sender that waited for the disk would hang here.
        for seq in 0..10_000u16 {
            file.offer(Track::ChairAudio, opus(seq));
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while file.status().failed.is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let status = file.finish_and_wait();
        let why = status.failed.expect("the failure is reported");
        assert!(why.contains("No space left"), "{why}");
        assert!(!status.finished);
    }

    /// A VP8 keyframe in one packet: descriptor, then a keyframe's tag.
    fn keyframe(seq: u16) -> Piece {
        Piece {
            seq,
            timestamp: u32::from(seq) * 3000,
            marker: true,
            payload: Bytes::from_static(&[0x10, 0x00, 0x00, 0x00, 0x9d, 0x01, 0x2a]),
            at_ns: u64::from(seq) * 20_000_000,
        }
    }

    /// Frames in, a closed segment out, its EBML header first.
    #[test]
    fn a_finished_file_starts_with_the_ebml_header() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("a.webm");
        let file = RecordingFile::create(&path).expect("created");
        for seq in 0..100u16 {
            file.offer(Track::FloorAudio, opus(seq));
            if seq % 10 == 0 {
                file.offer(Track::FloorVideo, keyframe(seq / 10));
            }
        }
        let status = file.finish_and_wait();
        assert!(status.finished && status.failed.is_none(), "{status:?}");
        assert_eq!(status.frames, 110);
        let bytes = std::fs::read(&path).expect("read back");
        assert_eq!(&bytes[..4], &[0x1A, 0x45, 0xDF, 0xA3]);
        assert!(
            RecordingFile::create(&path).is_err(),
            "an existing file is never overwritten"
        );
    }

    /// Audio with no picture at all is not held without end.
    #[test]
    fn audio_without_any_picture_is_bounded() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = RecordingFile::create(&dir.path().join("b.webm")).expect("created");
        for seq in 0..1500u16 {
            file.offer(Track::ChairAudio, opus(seq));
        }
        let status = file.finish_and_wait();
        assert_eq!(status.audio_without_video, 500, "{status:?}");
    }
}
