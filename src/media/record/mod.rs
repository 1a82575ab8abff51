//! Recordings as files: the [`Recorder`] the media task gives the core.
//! Each recording is a WebM segment written on a thread of its own
//! ([`file`]) from whole frames ([`frames`]), with a JSON sidecar that
//! holds its wall-clock start.

mod file;
mod frames;

use crate::control::SessionId;
use diemcau_sfu::record::{FileStatus, Piece, RecordSink, Recorder, Track};
use file::RecordingFile;
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// The file name of a recording started at `wall`: the session, then the
/// UTC time, so that a directory listing is in the order of the meeting.
pub(crate) fn file_name(session: &SessionId, wall: SystemTime) -> String {
    let stamp: String = humantime::format_rfc3339_seconds(wall)
        .to_string()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    format!("{session}-{stamp}.webm")
}

/// Recordings as WebM files, a folder per session under `dir`.
pub(crate) struct FileRecorder {
    pub(crate) dir: PathBuf,
}

impl Recorder for FileRecorder {
    fn open(&self, session: &SessionId, wall: SystemTime) -> io::Result<Box<dyn RecordSink>> {
        let folder = self.dir.join(&session.0);
        std::fs::create_dir_all(&folder)?;
        let mut path: PathBuf = folder.join(file_name(session, wall));
        // Two starts within a second (stop, start): the second gets a suffix.
        let mut n = 1;
        while path.exists() {
            n += 1;
            path = folder.join(file_name(session, wall).replace(".webm", &format!("-{n}.webm")));
        }
        let file = RecordingFile::create(&path)?;
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
