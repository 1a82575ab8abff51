//! A Matroska (or WebM) segment written as it goes, through
//! `webm-iterable`'s EBML writer.
//!
//! Crash safety comes from the layout: the segment and every cluster are
//! written with an unknown size, so nothing before a frame ever has to be
//! rewritten, and each frame (a `SimpleBlock`) goes to the file as soon as
//! it is added, with no buffer of ours in between. A reader meeting the end
//! of a killed file has every block up to the last whole one. No index
//! (`Cues`) is written: it could only come at the end.

use std::io::{self, Write};
use webm_iterable::errors::TagWriterError;
use webm_iterable::matroska_spec::{Master, MatroskaSpec, SimpleBlock};
use webm_iterable::{WebmWriter as TagWriter, WriteOptions};

/// Timestamps in the file count milliseconds.
const TIMESTAMP_SCALE_NS: u64 = 1_000_000;
/// A cluster spans at most this much (a block's time is an i16 of
/// milliseconds from its cluster's); a video keyframe starts a new one
/// sooner, so that a player can start there.
const CLUSTER_MAX_MS: u64 = 5_000;
/// A keyframe starts a new cluster only once the current one is this old:
/// three video tracks' keyframes would otherwise make many small clusters.
const CLUSTER_MIN_MS: u64 = 1_000;
/// What the video tracks are declared as; players take the picture's real
/// size from the stream itself.
const VIDEO_SIZE: (u64, u64) = (1280, 720);

/// Why the segment could not be written.
#[derive(Debug, thiserror::Error)]
pub(crate) enum MkvError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("the EBML writer refused an element: {0}")]
    Ebml(String),
}

impl From<TagWriterError> for MkvError {
    fn from(e: TagWriterError) -> MkvError {
        match e {
            TagWriterError::WriteError { source } => MkvError::Io(source),
            other => MkvError::Ebml(other.to_string()),
        }
    }
}

/// What a track holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TrackKind {
    /// Opus (`A_OPUS`), with its `OpusHead`.
    Opus,
    /// VP8 (`V_VP8`): needs nothing else.
    Vp8,
    /// H.264 (`V_MPEG4/ISO/AVC`), with its `AVCDecoderConfigurationRecord`.
    H264(Vec<u8>),
}

/// One track of the segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TrackSpec {
    /// Its number (1-based), as blocks name it.
    pub(crate) number: u64,
    pub(crate) kind: TrackKind,
}

/// A segment being written to `W`.
pub(crate) struct Segment<W: Write> {
    writer: TagWriter<W>,
    /// The open cluster's time, ms.
    cluster: Option<u64>,
}

impl<W: Write> Segment<W> {
    /// Writes the header and the tracks; `matroska` names the document
    /// type (WebM takes only VP8, VP9, AV1, Opus and Vorbis).
    pub(crate) fn start(
        dest: W,
        matroska: bool,
        tracks: &[TrackSpec],
    ) -> Result<Segment<W>, MkvError> {
        let mut writer = TagWriter::new(dest);
        let doc_type = if matroska { "matroska" } else { "webm" };
        writer.write(&MatroskaSpec::Ebml(Master::Full(vec![
            MatroskaSpec::EbmlVersion(1),
            MatroskaSpec::EbmlReadVersion(1),
            MatroskaSpec::EbmlMaxIdLength(4),
            MatroskaSpec::EbmlMaxSizeLength(8),
            MatroskaSpec::DocType(doc_type.into()),
            MatroskaSpec::DocTypeVersion(4),
            MatroskaSpec::DocTypeReadVersion(2),
        ])))?;
        writer.write_advanced(
            &MatroskaSpec::Segment(Master::Start),
            WriteOptions::is_unknown_sized_element(),
        )?;
        writer.write(&MatroskaSpec::Info(Master::Full(vec![
            MatroskaSpec::TimestampScale(TIMESTAMP_SCALE_NS),
            MatroskaSpec::MuxingApp("diemcau".into()),
            MatroskaSpec::WritingApp("diemcau".into()),
        ])))?;
        let entries = tracks.iter().map(track_entry).collect();
        writer.write(&MatroskaSpec::Tracks(Master::Full(entries)))?;
        Ok(Segment {
            writer,
            cluster: None,
        })
    }

    /// Writes one frame of `track` at `time_ns` from the segment's start.
    /// Times should go forward across tracks; one a little earlier than
    /// the cluster's start is written before it (a block's time is signed).
    pub(crate) fn add_frame(
        &mut self,
        track: u64,
        data: &[u8],
        time_ns: u64,
        keyframe: bool,
        video: bool,
    ) -> Result<(), MkvError> {
        let ms = time_ns / TIMESTAMP_SCALE_NS;
        let new_cluster = match self.cluster {
            None => true,
            Some(start) => {
                let age = ms.saturating_sub(start);
                age >= CLUSTER_MAX_MS || (video && keyframe && age >= CLUSTER_MIN_MS)
            }
        };
        if new_cluster {
            if self.cluster.is_some() {
                // An unknown-sized element ends where the next begins:
                // nothing is written, the writer only forgets it.
                self.writer.write(&MatroskaSpec::Cluster(Master::End))?;
            }
            self.writer.write_advanced(
                &MatroskaSpec::Cluster(Master::Start),
                WriteOptions::is_unknown_sized_element(),
            )?;
            self.writer.write(&MatroskaSpec::Timestamp(ms))?;
            self.cluster = Some(ms);
        }
        let start = self.cluster.unwrap_or(ms);
        // Within CLUSTER_MAX_MS after the cluster's start, or a little
        // before it: fits an i16.
        let relative = i64::try_from(ms).unwrap_or(i64::MAX) - i64::try_from(start).unwrap_or(0);
        let relative =
            i16::try_from(relative.clamp(i16::MIN.into(), i16::MAX.into())).unwrap_or_default();
        let block = SimpleBlock::new_uncheked(data, track, relative, false, None, false, keyframe);
        self.writer.write(&MatroskaSpec::from(block))?;
        Ok(())
    }

    /// Closes the segment (nothing left to write: every size was left
    /// open) and hands back the destination.
    pub(crate) fn finish(self) -> Result<W, MkvError> {
        Ok(self.writer.into_inner()?)
    }
}

fn track_entry(track: &TrackSpec) -> MatroskaSpec {
    let mut children = vec![
        MatroskaSpec::TrackNumber(track.number),
        MatroskaSpec::TrackUID(track.number),
        MatroskaSpec::FlagLacing(0),
    ];
    match &track.kind {
        TrackKind::Opus => children.extend([
            MatroskaSpec::TrackType(2),
            MatroskaSpec::CodecID("A_OPUS".into()),
            MatroskaSpec::CodecPrivate(opus_head()),
            // The WebM guidelines for Opus: no pre-skip was sent (the
            // head says 0), and 80 ms to decode before a seek point.
            MatroskaSpec::CodecDelay(0),
            MatroskaSpec::SeekPreRoll(80_000_000),
            MatroskaSpec::Audio(Master::Full(vec![
                MatroskaSpec::SamplingFrequency(48_000.0),
                MatroskaSpec::Channels(2),
            ])),
        ]),
        TrackKind::Vp8 | TrackKind::H264(_) => {
            children.push(MatroskaSpec::TrackType(1));
            if let TrackKind::H264(config) = &track.kind {
                children.push(MatroskaSpec::CodecID("V_MPEG4/ISO/AVC".into()));
                // Empty: the track never showed its parameter sets, and
                // holds no frame in this file.
                if !config.is_empty() {
                    children.push(MatroskaSpec::CodecPrivate(config.clone()));
                }
            } else {
                children.push(MatroskaSpec::CodecID("V_VP8".into()));
            }
            let (w, h) = VIDEO_SIZE;
            children.push(MatroskaSpec::Video(Master::Full(vec![
                MatroskaSpec::PixelWidth(w),
                MatroskaSpec::PixelHeight(h),
            ])));
        }
    }
    MatroskaSpec::TrackEntry(Master::Full(children))
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
