//! Recordings as files: the [`Recorder`] the media task gives the core.
//! Each recording is a segment written on a thread of its own ([`file`],
//! through [`mkv`]) from whole frames ([`frames`]), with a JSON sidecar
//! that holds its wall-clock start: WebM (`.webm`) while it holds VP8 and
//! Opus only, Matroska (`.mkv`) when a video track is H.264.

mod file;
mod frames;
mod mkv;

use crate::control::SessionId;
use diemcau_sfu::record::{FileStatus, Piece, RecordSink, Recorder, Track, VideoCodecs};
use file::RecordingFile;
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// The file name of a recording started at `wall`: the session, then the
/// UTC time to the millisecond (a new segment may begin within a second
/// of the last), so that a directory listing is in the order of the
/// meeting; `ext` without its dot.
pub(crate) fn file_name(session: &SessionId, wall: SystemTime, ext: &str) -> String {
    let stamp: String = humantime::format_rfc3339_millis(wall)
        .to_string()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '.')
        .collect();
    format!("{session}-{stamp}.{ext}")
}

/// Recordings as WebM or Matroska files, a folder per session under `dir`.
pub(crate) struct FileRecorder {
    pub(crate) dir: PathBuf,
}

impl Recorder for FileRecorder {
    fn open(
        &self,
        session: &SessionId,
        wall: SystemTime,
        codecs: VideoCodecs,
    ) -> io::Result<Box<dyn RecordSink>> {
        let folder = self.dir.join(&session.0);
        std::fs::create_dir_all(&folder)?;
        // WebM takes VP8 and Opus; H.264 needs Matroska.
        let ext = if codecs.any_h264() { "mkv" } else { "webm" };
        let name = file_name(session, wall, ext);
        let mut path: PathBuf = folder.join(&name);
        // Two starts within a millisecond: the second gets a suffix.
        let mut n = 1;
        while path.exists() {
            n += 1;
            path = folder.join(name.replace(&format!(".{ext}"), &format!("-{n}.{ext}")));
        }
        let file = RecordingFile::create(&path, codecs)?;
        // The file's first instant on the wall clock, to the millisecond:
        // what the speaking log's chapters are aligned to (the name holds
        // it to the second only).
        let started_at = wall
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        let sidecar = serde_json::json!({ "session": session.0, "started_at": started_at });
        std::fs::write(path.with_extension("json"), sidecar.to_string())?;
        tracing::info!(%session, path = %path.display(), "recording started");
        Ok(Box::new(file))
    }
}

impl RecordSink for RecordingFile {
    fn offer(&self, track: Track, piece: Piece) {
        RecordingFile::offer(self, track, piece)
    }
    fn status(&self) -> FileStatus {
        RecordingFile::status(self)
    }
    fn path(&self) -> &Path {
        &self.path
    }
    fn finish(self: Box<Self>) {
        RecordingFile::finish(*self)
    }
    fn finish_and_wait(self: Box<Self>) -> FileStatus {
        RecordingFile::finish_and_wait(*self)
    }
}
