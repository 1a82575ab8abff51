//! The file a recording writes: a WebM or Matroska segment on a thread of
//! its own.
//!
//! The media task hands over packets through a bounded queue and never
//! waits: a slow or full disk costs the recording frames, never the media
//! plane its pace. The segment is written live ([`super::mkv`]: every size
//! left open, no index at the end), each frame straight to the file, so
//! that after the server is killed the file plays up to its last frame.
//!
//! An H.264 track's header holds the stream's SPS and PPS, which come with
//! its first keyframe: while a track waits for them the header is not
//! written and frames are held (at most [`PARAMETERS_WAIT_NS`]).

use super::frames::{
    avc_decoder_configuration, nal_type, nal_units, Codec, Frame, FrameBuilder, NAL_PPS, NAL_SPS,
};
use super::mkv::{MkvError, Segment, TrackKind, TrackSpec};
use diemcau_sfu::record::{FileStatus, Piece, Track, VideoCodecs, VideoFormat};
use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// Packets waiting for the writer: about two seconds of a full programme.
const QUEUE: usize = 2048;
/// The least time between two frames of one track, ns (100 a second:
/// above any frame rate a site sends, and audio's 50).
const TRACK_STEP_NS: u64 = 10_000_000;
/// Frames are held this long and written in time order (players read a
/// file best in order), and a video frame is complete only after its last
/// packet.
const HOLD_NS: u64 = 300_000_000;
/// How long an H.264 track may keep the header waiting for its SPS and
/// PPS; past that the header is written without them, and the track's
/// frames are dropped (nothing could decode them).
const PARAMETERS_WAIT_NS: u64 = 3_000_000_000;
/// A frame whose capture clock runs this far ahead of its arrival starts
/// the track's clock again (its sender's clock jumped).
const AHEAD_NS: i64 = 1_000_000_000;
/// A frame arriving this much later than its capture clock says starts
/// the track's clock again (its sender's clock stood still through a long
/// pause). Anything less is a delay: the media task was held up, or the
/// network, and the frame keeps its sender's time (taken as a clock change,
/// the burst after a stall would jump ahead, and the live frames after it
/// back again).
const BEHIND_NS: i64 = 10_000_000_000;
/// The anchor moves on once the RTP clock is this far from it, long before
/// a 32-bit difference could wrap.
const REANCHOR_TICKS: i64 = 1 << 30;

/// One track's time: its RTP clock, anchored to an arrival.
#[derive(Debug, Default, Clone, Copy)]
struct TrackClock {
    anchor: Option<(u32, u64)>,
    /// The last time given, which a new anchor never goes behind.
    last: Option<u64>,
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
            if t >= 0 && (-BEHIND_NS..=AHEAD_NS).contains(&drift) {
                let t = t as u64;
                if ticks.abs() > REANCHOR_TICKS {
                    self.anchor = Some((rtp_ts, t));
                }
                self.last = Some(t);
                return t;
            }
        }
        let t = at_ns.max(self.last.map_or(0, |last| last + TRACK_STEP_NS));
        self.anchor = Some((rtp_ts, t));
        self.last = Some(t);
        t
    }
}

/// A recorded slot as this file holds it.
fn codec_of(track: Track, codecs: &VideoCodecs) -> Codec {
    match codecs.of(track) {
        None => Codec::Opus,
        Some(VideoFormat::Vp8) => Codec::Vp8,
        Some(VideoFormat::H264) => Codec::H264,
    }
}

fn clock_rate(codec: Codec) -> u64 {
    match codec {
        Codec::Opus => 48_000,
        Codec::Vp8 | Codec::H264 => 90_000,
    }
}

/// The Matroska track number (1-based).
fn number(track: Track) -> u64 {
    track as u64 + 1
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
    /// Creates `path` (never over an existing file) and starts writing,
    /// the video tracks declared in `codecs`.
    pub(crate) fn create(path: &Path, codecs: VideoCodecs) -> io::Result<RecordingFile> {
        let file = File::options().write(true).create_new(true).open(path)?;
        RecordingFile::into_file(file, path, codecs)
    }

    fn into_file(file: File, path: &Path, codecs: VideoCodecs) -> io::Result<RecordingFile> {
        let status = Arc::new(Mutex::new(FileStatus::default()));
        let (queue, rx) = sync_channel(QUEUE);
        let thread_status = status.clone();
        let thread = std::thread::Builder::new()
            .name("recording".into())
            .spawn(move || {
                let mut writer = Writer::new(file, codecs);
                let outcome = writer.run(&rx, &thread_status);
                if let Err(e) = outcome {
                    let why = format!("writing the recording failed: {e}");
                    tracing::error!(%why, "recording stopped");
                    if let Ok(mut s) = thread_status.lock() {
                        s.failed = Some(why);
                    }
                    // Empties the queue until the recording is finished,
                    // so that the media task never finds it full of what
                    // will not be written.
                    while rx.recv().is_ok() {}
                }
            })?;
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

/// The writer thread's state.
struct Writer {
    codecs: VideoCodecs,
    /// The file until the header is written, then the segment.
    file: Option<File>,
    segment: Option<Segment<File>>,
    builders: Vec<FrameBuilder>,
    clocks: [TrackClock; 5],
    /// Each H.264 track's `AVCDecoderConfigurationRecord`, once seen.
    avc: [Option<Vec<u8>>; 5],
    /// Frames waiting to be written in time order: (time, arrival order).
    held: BTreeMap<(u64, u64), (Track, Frame)>,
    order: u64,
    first_arrival: Option<u64>,
    newest_arrival: u64,
    /// The time last written on each track.
    last_on_track: [Option<u64>; 5],
    frames: u64,
}

impl Writer {
    fn new(file: File, codecs: VideoCodecs) -> Writer {
        Writer {
            codecs,
            file: Some(file),
            segment: None,
            builders: Track::ALL
                .iter()
                .map(|&t| FrameBuilder::new(codec_of(t, &codecs)))
                .collect(),
            clocks: [TrackClock::default(); 5],
            avc: Default::default(),
            held: BTreeMap::new(),
            order: 0,
            first_arrival: None,
            newest_arrival: 0,
            last_on_track: [None; 5],
            frames: 0,
        }
    }

    fn run(&mut self, rx: &Receiver<Message>, status: &Mutex<FileStatus>) -> Result<(), MkvError> {
        if !self.codecs.any_h264() {
            // Nothing to wait for: the file is a valid segment at once.
            self.write_header()?;
        }
        while let Ok((track, piece)) = rx.recv() {
            self.newest_arrival = self.newest_arrival.max(piece.at_ns);
            self.first_arrival.get_or_insert(piece.at_ns);
            let index = track as usize;
            let Some(frame) = self.builders[index].push(&piece) else {
                continue;
            };
            let codec = codec_of(track, &self.codecs);
            if codec == Codec::H264 && !self.h264_usable(track, &frame) {
                continue;
            }
            let time = self.clocks[index].time_of(frame.rtp_ts, frame.at_ns, clock_rate(codec));
            self.order += 1;
            self.held.insert((time, self.order), (track, frame));
            if self.segment.is_none() && self.header_ready() {
                self.write_header()?;
            }
            if self.segment.is_some() {
                let before = self.frames;
                self.write_due(false)?;
                if before / 50 != self.frames / 50 {
                    if let Ok(mut s) = status.lock() {
                        s.frames = self.frames;
                    }
                }
            }
        }
        // The recording ended: what is held goes out in order.
        if self.segment.is_none() {
            self.write_header()?;
        }
        self.write_due(true)?;
        if let Some(segment) = self.segment.take() {
            segment.finish()?;
        }
        if let Ok(mut s) = status.lock() {
            s.frames = self.frames;
            s.finished = true;
        }
        Ok(())
    }

    /// Whether an H.264 frame can go in the file: its track's parameter
    /// sets are known (taken from this frame if it is the first keyframe
    /// with them while the header waits). Later keyframes carry their own
    /// in the stream, which decoders take over the header's.
    fn h264_usable(&mut self, track: Track, frame: &Frame) -> bool {
        let index = track as usize;
        if self.avc[index].is_none() && self.segment.is_none() && frame.keyframe {
            let find = |kind| nal_units(&frame.data).find(|nal| nal_type(nal) == Some(kind));
            if let (Some(sps), Some(pps)) = (find(NAL_SPS), find(NAL_PPS)) {
                self.avc[index] = avc_decoder_configuration(sps, pps);
            }
        }
        self.avc[index].is_some()
    }

    /// The header can be written: every H.264 track has its parameter
    /// sets, or has kept the others waiting long enough.
    fn header_ready(&self) -> bool {
        let waited = self
            .first_arrival
            .is_some_and(|first| self.newest_arrival.saturating_sub(first) >= PARAMETERS_WAIT_NS);
        waited
            || Track::ALL.iter().all(|&t| {
                codec_of(t, &self.codecs) != Codec::H264 || self.avc[t as usize].is_some()
            })
    }

    fn write_header(&mut self) -> Result<(), MkvError> {
        let Some(file) = self.file.take() else {
            return Ok(());
        };
        let tracks: Vec<TrackSpec> = Track::ALL
            .iter()
            .map(|&t| TrackSpec {
                number: number(t),
                kind: match codec_of(t, &self.codecs) {
                    Codec::Opus => TrackKind::Opus,
                    Codec::Vp8 => TrackKind::Vp8,
                    Codec::H264 => {
                        TrackKind::H264(self.avc[t as usize].clone().unwrap_or_default())
                    }
                },
            })
            .collect();
        self.segment = Some(Segment::start(file, self.codecs.any_h264(), &tracks)?);
        // A track that never showed its parameter sets: its frames cannot
        // be decoded, and are left out of this file.
        let avc = &self.avc;
        let codecs = self.codecs;
        self.held
            .retain(|_, (t, _)| codec_of(*t, &codecs) != Codec::H264 || avc[*t as usize].is_some());
        Ok(())
    }

    /// Writes the held frames old enough to be in order (all of them when
    /// the recording has ended).
    fn write_due(&mut self, all: bool) -> Result<(), MkvError> {
        let Some(segment) = self.segment.as_mut() else {
            return Ok(());
        };
        while let Some(entry) = self.held.first_entry() {
            let (time, _) = *entry.key();
            if !all && time.saturating_add(HOLD_NS) > self.newest_arrival {
                break;
            }
            let (track, frame) = entry.remove();
            let index = track as usize;
            // Forward and a little apart within a track. Across tracks a
            // frame keeps its own time even when another track's later
            // frame went first (the media task stalled and its packets came
            // in a burst): pushed later to keep the file in order, it would
            // come too close to the next of its own track, and players take
            // such frames for one.
            let time = time.max(self.last_on_track[index].map_or(0, |t| t + TRACK_STEP_NS));
            self.last_on_track[index] = Some(time);
            let video = self.codecs.of(track).is_some();
            segment.add_frame(number(track), &frame.data, time, frame.keyframe, video)?;
            self.frames += 1;
        }
        Ok(())
    }
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
        let file = RecordingFile::into_file(full, Path::new("/dev/full"), VideoCodecs::default())
            .expect("a writer");
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
        let file = RecordingFile::create(&path, VideoCodecs::default()).expect("created");
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
            RecordingFile::create(&path, VideoCodecs::default()).is_err(),
            "an existing file is never overwritten"
        );
    }

    /// Audio with no picture at all is written as it comes: nothing waits
    /// for a video frame.
    #[test]
    fn audio_without_any_picture_is_written() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = RecordingFile::create(&dir.path().join("b.webm"), VideoCodecs::default())
            .expect("created");
        for seq in 0..1500u16 {
            file.offer(Track::ChairAudio, opus(seq));
        }
        let status = file.finish_and_wait();
        assert!(status.finished && status.failed.is_none(), "{status:?}");
        assert_eq!(status.frames, 1500);
    }

    /// Every block of a file as (track, time in ms), read back with the
    /// same crate's reader.
    fn blocks(path: &Path) -> Vec<(u64, i64)> {
        use webm_iterable::matroska_spec::{MatroskaSpec, SimpleBlock};
        let file = File::open(path).expect("the file");
        let mut cluster = 0i64;
        let mut out = Vec::new();
        for tag in webm_iterable::WebmIterator::new(std::io::BufReader::new(file), &[]) {
            match tag.expect("a well-formed element") {
                MatroskaSpec::Timestamp(t) => cluster = i64::try_from(t).unwrap_or(0),
                block @ MatroskaSpec::SimpleBlock(_) => {
                    let block = SimpleBlock::try_from(&block).expect("a block");
                    out.push((block.track, cluster + i64::from(block.timestamp)));
                }
                _ => {}
            }
        }
        out
    }

    /// The media task stalls for 1.2 s, then hands over what came
    /// meanwhile at once: each track keeps its sender's spacing through
    /// the burst and the live packets after it.
    #[test]
    fn a_burst_after_a_stall_keeps_each_tracks_spacing() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("d.webm");
        let file = RecordingFile::create(&path, VideoCodecs::default()).expect("created");
        let stall = 1_000_000_000..2_200_000_000u64;
        let arrival = |at: u64| {
            if stall.contains(&at) {
                stall.end
            } else {
                at
            }
        };
        // 3 s of audio every 20 ms and pictures every 66.7 ms (15 a second),
        // each picture whole 50 ms after it began (its packets paced out).
        let mut frame = 0u16;
        for n in 0..150u16 {
            let at = u64::from(n) * 20_000_000;
            let picture_due = u64::from(frame) * 1_000_000_000 / 15;
            if picture_due + 50_000_000 <= at {
                file.offer(
                    Track::FloorVideo,
                    Piece {
                        timestamp: u32::from(frame) * 6000,
                        at_ns: arrival(at),
                        ..keyframe(frame)
                    },
                );
                frame += 1;
            }
            file.offer(
                Track::FloorAudio,
                Piece {
                    at_ns: arrival(at),
                    ..opus(n)
                },
            );
        }
        let status = file.finish_and_wait();
        assert!(status.finished && status.failed.is_none(), "{status:?}");
        let video: Vec<i64> = blocks(&path)
            .into_iter()
            .filter(|(track, _)| *track == 4)
            .map(|(_, t)| t)
            .collect();
        assert_eq!(video.len(), usize::from(frame));
        for pair in video.windows(2) {
            let step = pair[1] - pair[0];
            assert!((60..=75).contains(&step), "{video:?}");
        }
        let audio: Vec<i64> = blocks(&path)
            .into_iter()
            .filter(|(track, _)| *track == 3)
            .map(|(_, t)| t)
            .collect();
        assert_eq!(audio.len(), 150);
        assert!(audio.windows(2).all(|p| p[1] - p[0] == 20), "{audio:?}");
    }

    fn h264(seq: u16, marker: bool, payload: &[u8]) -> Piece {
        Piece {
            seq,
            timestamp: u32::from(seq / 4) * 3000,
            marker,
            payload: Bytes::copy_from_slice(payload),
            at_ns: u64::from(seq / 4) * 33_000_000,
        }
    }

    /// An H.264 track waits for the SPS and PPS of its first keyframe:
    /// the file is Matroska, its track `V_MPEG4/ISO/AVC` with the
    /// configuration record built from them.
    #[test]
    fn an_h264_track_is_declared_with_its_parameter_sets() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("c.mkv");
        let codecs = VideoCodecs::default().with(Track::FloorVideo, VideoFormat::H264);
        let file = RecordingFile::create(&path, codecs).expect("created");
        let sps = [0x67, 0x42, 0xC0, 0x1F, 0xDA, 0x01];
        let pps = [0x68, 0xCE, 0x3C, 0x80];
        for frame in 0..20u16 {
            let seq = frame * 4;
            let mut stap = vec![0x78];
            for nal in [&sps[..], &pps[..]] {
                stap.extend_from_slice(&(nal.len() as u16).to_be_bytes());
                stap.extend_from_slice(nal);
            }
            let slice = if frame % 10 == 0 { 0x65 } else { 0x41 };
            file.offer(Track::FloorVideo, h264(seq, false, &stap));
            file.offer(
                Track::FloorVideo,
                h264(seq + 1, false, &[0x7C, 0x80 | (slice & 0x1F), 1]),
            );
            file.offer(
                Track::FloorVideo,
                h264(seq + 2, false, &[0x7C, slice & 0x1F, 2]),
            );
            file.offer(
                Track::FloorVideo,
                h264(seq + 3, true, &[0x7C, 0x40 | (slice & 0x1F), 3]),
            );
        }
        let status = file.finish_and_wait();
        assert!(status.finished && status.failed.is_none(), "{status:?}");
        assert_eq!(status.frames, 20);
        let bytes = std::fs::read(&path).expect("read back");
        let has = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
        assert!(has(b"matroska") && !has(b"webm"));
        assert!(has(b"V_MPEG4/ISO/AVC") && has(b"V_VP8") && has(b"A_OPUS"));
        let mut record = vec![1, 0x42, 0xC0, 0x1F, 0xFF, 0xE1, 0, 6];
        record.extend_from_slice(&sps);
        record.extend_from_slice(&[1, 0, 4]);
        record.extend_from_slice(&pps);
        assert!(has(&record), "the AVCDecoderConfigurationRecord");
        // An IDR slice rebuilt from its fragments, after its length.
        assert!(has(&[0, 0, 0, 4, 0x65, 1, 2, 3]));
    }
}

/// Whatever a sender's packets hold, on any track and in any codec, the
/// writer neither panics nor fails: it closes a file. The case count is
/// proptest's (256, or `PROPTEST_CASES`).
#[cfg(test)]
mod fuzz {
    use super::*;
    use bytes::Bytes;
    use proptest::collection::vec;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn garbage_packets_close_a_file(
            h264 in any::<[bool; 3]>(),
            packets in vec((0usize..5, vec(any::<u8>(), 0..24), any::<bool>(), 0u16..3, 0u32..4000), 0..120)
        ) {
            let dir = tempfile::tempdir().expect("temp dir");
            let mut codecs = VideoCodecs::default();
            for (on, track) in h264.into_iter().zip([Track::ChairVideo, Track::FloorVideo, Track::Content]) {
                if on {
                    codecs = codecs.with(track, VideoFormat::H264);
                }
            }
            let file = RecordingFile::create(&dir.path().join("f.mkv"), codecs).expect("created");
            let mut seqs = [0u16; 5];
            let mut stamps = [0u32; 5];
            for (n, (track, payload, marker, seq_step, ts_step)) in packets.into_iter().enumerate() {
                seqs[track] = seqs[track].wrapping_add(seq_step);
                stamps[track] = stamps[track].wrapping_add(ts_step);
                file.offer(Track::ALL[track], Piece {
                    seq: seqs[track],
                    timestamp: stamps[track],
                    marker,
                    payload: Bytes::from(payload),
                    at_ns: n as u64 * 7_000_000,
                });
            }
            let status = file.finish_and_wait();
            prop_assert!(status.finished, "{:?}", status);
            prop_assert!(status.failed.is_none(), "{:?}", status);
        }
    }
}
