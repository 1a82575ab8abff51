//! The programme's recording: the chair starts and stops it (a command,
//! so every site learns it in the event log and shows "Đang ghi hình");
//! the chair and technicians list and download the files. The media plane
//! writes them, a folder per session under the data dir's `recordings/`.

use super::access::in_scope;
use super::caller::Caller;
use super::command::{run, Outcome};
use super::error::{AppError, ErrorBody};
use super::extract::Path;
use super::sessions::read;
use super::AppState;
use crate::auth::Role;
use crate::control::{Command, SessionId};
use crate::speaking_log::is_recording_name;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use tower::ServiceExt as _;
use utoipa::ToSchema;

/// One recording file.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordingFile {
    /// The file name: the session, then the UTC time it started
    /// (`phien-1-20261130T093000.250Z.webm`; `.mkv` when it holds H.264).
    pub name: String,
    /// Its size so far, bytes (it grows while the recording runs).
    pub bytes: u64,
    /// Where to download it.
    pub href: String,
}

/// Starts recording the programme (chair). Starting what runs changes
/// nothing.
#[utoipa::path(post, path = "/api/sessions/{id}/recording/start", tag = "recording",
    params(("id" = String, Path, description = "Session id")),
    responses((status = 200, body = Outcome), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn start(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Outcome>, AppError> {
    run(&state, &caller, &SessionId(id), Command::StartRecording).map(Json)
}

/// Stops recording (chair); the file is closed.
#[utoipa::path(post, path = "/api/sessions/{id}/recording/stop", tag = "recording",
    params(("id" = String, Path, description = "Session id")),
    responses((status = 200, body = Outcome), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn stop(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Outcome>, AppError> {
    run(&state, &caller, &SessionId(id), Command::StopRecording).map(Json)
}

fn may_download(caller: &Caller) -> Result<(), AppError> {
    caller.require(&[Role::Chair, Role::Technician], "read the recordings")
}

/// The session's recordings, oldest first (chair, technician).
#[utoipa::path(get, path = "/api/sessions/{id}/recordings", tag = "recording",
    params(("id" = String, Path, description = "Session id")),
    responses((status = 200, body = [RecordingFile]), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Vec<RecordingFile>>, AppError> {
    let id = SessionId(id);
    read(&state, &caller, &id)?;
    may_download(&caller)?;
    let folder = state.recordings.join(&id.0);
    let mut files = Vec::new();
    // No folder yet: nothing was recorded.
    if let Ok(entries) = std::fs::read_dir(&folder) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !is_recording_name(&name) {
                continue;
            }
            let bytes = entry.metadata().map(|m| m.len()).unwrap_or(0);
            files.push(RecordingFile {
                href: format!("/api/sessions/{id}/recordings/{name}"),
                name,
                bytes,
            });
        }
    }
    files.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Json(files))
}

/// One recording file, as `video/webm` (or `video/x-matroska` for a
/// `.mkv` file, which holds H.264) (chair, technician). Ranges are served,
/// so a player can seek in it.
#[utoipa::path(get, path = "/api/sessions/{id}/recordings/{name}", tag = "recording",
    params(("id" = String, Path, description = "Session id"),
        ("name" = String, Path, description = "A file name from the list")),
    responses((status = 200, description = "The WebM or Matroska file", body = String,
        content_type = "video/webm"),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn download(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, name)): Path<(String, String)>,
    request: Request,
) -> Result<Response, AppError> {
    let id = SessionId(id);
    in_scope(&caller, &id)?;
    read(&state, &caller, &id)?;
    may_download(&caller)?;
    let missing = || AppError::not_found("unknown_recording", "no such recording");
    if !is_recording_name(&name) {
        return Err(missing());
    }
    let path = state.recordings.join(&id.0).join(&name);
    if !path.is_file() {
        return Err(missing());
    }
    let served = tower_http::services::ServeFile::new_with_mime(&path, &mime_of(&name))
        .oneshot(request)
        .await
        .map_err(|_| AppError::internal())?;
    let mut response = served.map(Body::new).into_response();
    if let Ok(value) = format!("attachment; filename=\"{name}\"").parse() {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// WebM while a file holds VP8 and Opus only, Matroska with H.264.
fn mime_of(name: &str) -> mime_guess::Mime {
    let mime = if name.ends_with(".mkv") {
        "video/x-matroska"
    } else {
        "video/webm"
    };
    mime.parse()
        .unwrap_or(mime_guess::mime::APPLICATION_OCTET_STREAM)
}

#[cfg(test)]
mod tests {
    use super::is_recording_name;

    #[test]
    fn only_the_media_planes_names_are_served() {
        assert!(is_recording_name("phien-1-20261130T093000Z.webm"));
        assert!(is_recording_name("phien-1-20261130T093000Z-2.webm"));
        assert!(is_recording_name("phien-1-20261130T093000.250Z.mkv"));
        for bad in [
            "../x.webm",
            "a/b.webm",
            ".hidden.webm",
            "x.webm/../../etc",
            "x.mp4",
            "%2e%2e.webm",
            "a b.webm",
            "",
        ] {
            assert!(!is_recording_name(bad), "{bad}");
        }
    }
}
