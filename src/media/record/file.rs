//! The file a recording writes: a WebM segment on a thread of its own.
//!
//! The media task hands over packets through a bounded queue and never
//! waits: a slow or full disk costs the recording frames, never the media
//! plane its pace. The segment is written in live mode (libwebm through
//! the `webm` crate: every size left open, no index at the end), straight
//! to the file without a buffer of ours, so that after the server is
//! killed the file plays up to its last complete cluster.

use super::frames::{Codec, FrameBuilder, Piece};
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

/// The programme's five recorded slots, in track order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Track {
    ChairAudio,
    ChairVideo,
    FloorAudio,
    FloorVideo,
    Content,
}

impl Track {
    pub(crate) const ALL: [Track; 5] = [
        Track::ChairAudio,
        Track::ChairVideo,
        Track::FloorAudio,
        Track::FloorVideo,
        Track::Content,
    ];

    fn codec(self) -> Codec {
        match self {
            Track::ChairAudio | Track::FloorAudio => Codec::Opus,
            _ => Codec::Vp8,
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    /// The Matroska track number (1-based).
    fn number(self) -> u64 {
        self as u64 + 1
    }
}

/// One packet for the writer. The recording ends when the media task
/// drops its sender: the writer writes what is queued, then closes.
type Message = (Track, Piece);

/// What the writer reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct FileStatus {
    pub(crate) frames: u64,
    /// Packets the queue had no room for.
    pub(crate) dropped: u64,
    /// Audio frames dropped because no picture came to write them with.
    pub(crate) audio_without_video: u64,
    /// Why writing stopped, if it failed (the disk is full, say).
    pub(crate) failed: Option<String>,
    pub(crate) finished: bool,
}

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
    let mut last_ns = 0u64;
    let mut frames = 0u64;
    let mut written_any = false;
    let mut audio_held = 0u64;
    while let Ok((track, piece)) = rx.recv() {
        let Some(frame) = builders[track.index()].push(&piece) else {
            continue;
        };
        if track.codec() == Codec::Opus {
            audio_held += 1;
            if audio_held > AUDIO_WITHOUT_VIDEO {
                if let Ok(mut s) = status.lock() {
                    s.audio_without_video += 1;
                }
                continue;
            }
        } else {
            audio_held = 0;
        }
        // Timestamps must not go back across tracks; arrival order is the
        // media task's, so they only do by the time a frame took to build.
        last_ns = last_ns.max(frame.at_ns);
        if let Err(e) = segment.add_frame(track.number(), &frame.data, last_ns, frame.keyframe) {
            fail(why(&format!("writing a frame failed ({e})")));
            drain(&rx);
            return;
        }
        written_any = true;
        frames += 1;
        if frames.is_multiple_of(50) {
            if let Ok(mut s) = status.lock() {
                s.frames = frames;
            }
        }
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
