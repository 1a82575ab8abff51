//! The meeting's record beyond attendance: the speaking log (JSON, CSV,
//! WebVTT chapters of a recording), the minutes as PDF, their signature,
//! and the key that checks it. Read like the attendance report: the chair
//! and technicians, within the token's session scope.

use super::access::may_read_attendance;
use super::caller::Caller;
use super::error::{AppError, ErrorBody};
use super::extract::{Path, Query};
use super::sessions::read;
use super::AppState;
use crate::control::SessionId;
use crate::minutes::signature::PublicKeyBody;
use crate::minutes::{self, MinutesKey, MinutesSignature};
use crate::service::clock;
use crate::speaking_log::{self, is_recording_name, ChapterError, SpeakingLog};
use crate::store::StoredLog;
use axum::extract::State;
use axum::http::{header, HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use utoipa::IntoParams;

/// The header that says how many events of the log the minutes cover.
const LOG_EVENTS: HeaderName = HeaderName::from_static("x-log-events");

/// `?format=` and `?recording=` of the speaking log.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SpeakingLogQuery {
    /// `json` (default), `csv` (UTF-8 with a byte-order mark) or `vtt`
    /// (WebVTT chapters of a recording).
    #[param(value_type = Option<String>)]
    pub format: Option<LogFormat>,
    /// With `format=vtt`: the recording file (a `name` from
    /// `GET …/recordings`) the chapters are aligned to; the session's first
    /// recording when left out.
    pub recording: Option<String>,
}

/// Speaking-log formats.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// JSON.
    #[default]
    Json,
    /// CSV.
    Csv,
    /// WebVTT.
    Vtt,
}

/// `?events=` of the minutes.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct MinutesQuery {
    /// The minutes as of the first N events of the log (1 to its length;
    /// the whole log when left out). A session still live grows between
    /// two requests: the PDF says its N in the `X-Log-Events` header, and
    /// asking the signature for the same N signs that very PDF.
    pub events: Option<u64>,
}

/// A failure of the server's own, logged; the client gets a bare 500.
fn internal(id: &SessionId, what: &str, e: impl std::fmt::Display) -> AppError {
    tracing::error!(session = %id, error = %e, "{what} failed");
    AppError::internal()
}

/// The session's log from the store, once the caller may read it.
fn stored_log(state: &AppState, caller: &Caller, id: &SessionId) -> Result<StoredLog, AppError> {
    let session = read(state, caller, id)?;
    may_read_attendance(caller, &session)?;
    state
        .core
        .with_store(|store| store.load_log(id))
        .map_err(|e| internal(id, "reading the event log", e))
}

fn attachment(content_type: &str, filename: String, body: impl IntoResponse) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        body,
    )
        .into_response()
}

/// The speaking log: every floor grant and its end, every presentation,
/// mode change, roll call and recording (chair, technician). As WebVTT,
/// one chapter per turn on the time line of a recording file.
#[utoipa::path(get, path = "/api/sessions/{id}/speaking-log", tag = "sessions",
    params(("id" = String, Path, description = "Session id"), SpeakingLogQuery),
    responses((status = 200, body = SpeakingLog, content_type = "application/json"),
        (status = 200, description = "CSV with a byte-order mark: a row per turn, presentation, mode change, roll call and recording", body = String,
        content_type = "text/csv"),
        (status = 200, description = "WebVTT chapters of the recording: cue times from the file's start, text `HH:MM:SS Site — title` (time of day in Vietnam, UTC+7)", body = String,
        content_type = "text/vtt"),
        (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, description = "Unknown session, or (vtt) no such recording or none at all", body = ErrorBody)))]
pub async fn speaking_log(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(query): Query<SpeakingLogQuery>,
) -> Result<Response, AppError> {
    let id = SessionId(id);
    let format = query.format.unwrap_or_default();
    if query.recording.is_some() && format != LogFormat::Vtt {
        return Err(AppError::bad_request(
            "bad_query",
            "recording= goes with format=vtt only",
        ));
    }
    let log = stored_log(&state, &caller, &id)?;
    let speaking = speaking_log::speaking_log(&log.events, clock::now());
    Ok(match format {
        LogFormat::Json => Json(speaking).into_response(),
        LogFormat::Csv => {
            let csv = speaking_log::to_csv(&speaking)
                .map_err(|e| internal(&id, "writing the speaking-log CSV", e))?;
            attachment(
                "text/csv; charset=utf-8",
                format!("speaking-log-{id}.csv"),
                csv,
            )
        }
        LogFormat::Vtt => {
            let name = query.recording.as_deref();
            if let Some(name) = name.filter(|n| !is_recording_name(n)) {
                return Err(AppError::not_found(
                    "unknown_recording",
                    format!("no recording {name:?} in this session"),
                ));
            }
            let starts = speaking_log::recording_starts(&state.recordings.join(&id.0), &id);
            let window =
                speaking_log::recording_window(&starts, name, &speaking).map_err(|e| match e {
                    ChapterError::UnknownRecording(_) => {
                        AppError::not_found("unknown_recording", e.to_string())
                    }
                    ChapterError::NoRecording => AppError::not_found("no_recording", e.to_string()),
                })?;
            let stem = window
                .name
                .rsplit_once('.')
                .map_or(window.name.as_str(), |(stem, _)| stem)
                .to_string();
            attachment(
                "text/vtt; charset=utf-8",
                format!("{stem}.vtt"),
                speaking_log::to_vtt(&speaking, &window),
            )
        }
    })
}

/// The log cut to `?events=`, checked.
fn as_of_events(mut log: StoredLog, events: Option<u64>) -> Result<StoredLog, AppError> {
    if let Some(n) = events {
        let len = log.events.len();
        match usize::try_from(n) {
            Ok(n) if (1..=len).contains(&n) => log.truncate(n),
            _ => {
                return Err(AppError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_value",
                    format!("events must be 1 to {len}, the length of the log"),
                ))
            }
        }
    }
    Ok(log)
}

/// The PDF of `log`, made off the async workers: subsetting the fonts
/// and compressing take a few tens of milliseconds.
async fn render(id: &SessionId, log: StoredLog) -> Result<(Vec<u8>, StoredLog), AppError> {
    tokio::task::spawn_blocking(move || minutes::render(&log).map(|pdf| (pdf, log)))
        .await
        .map_err(|e| internal(id, "rendering the minutes", e))?
        .map_err(|e| internal(id, "rendering the minutes", e))
}

/// The minutes (*biên bản*) as PDF (chair, technician): title, date, who
/// chaired, the attendance table, the speaking log, presentations, other
/// proceedings and totals, from the event log alone. The same log gives
/// the same bytes; a session not yet ended is written up to its last
/// event.
#[utoipa::path(get, path = "/api/sessions/{id}/minutes.pdf", tag = "minutes",
    params(("id" = String, Path, description = "Session id"), MinutesQuery),
    responses((status = 200, description = "The PDF; `X-Log-Events` says how many events it covers", body = String,
        content_type = "application/pdf"),
        (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn pdf(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(query): Query<MinutesQuery>,
) -> Result<Response, AppError> {
    let id = SessionId(id);
    let log = as_of_events(stored_log(&state, &caller, &id)?, query.events)?;
    let (pdf, log) = render(&id, log).await?;
    let mut response = attachment("application/pdf", format!("bien-ban-{id}.pdf"), pdf);
    response
        .headers_mut()
        .insert(LOG_EVENTS, log.events.len().into());
    Ok(response)
}

/// The detached signature of the minutes (chair, technician): Ed25519 by
/// the server's minutes key over the PDF's SHA-256 and the event log's.
/// Save it beside the PDF as `….pdf.sig`; `diemcau verify` checks the pair.
#[utoipa::path(get, path = "/api/sessions/{id}/minutes.pdf.sig", tag = "minutes",
    params(("id" = String, Path, description = "Session id"), MinutesQuery),
    responses((status = 200, body = MinutesSignature),
        (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn signature(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(query): Query<MinutesQuery>,
) -> Result<Response, AppError> {
    let id = SessionId(id);
    let log = as_of_events(stored_log(&state, &caller, &id)?, query.events)?;
    let (pdf, log) = render(&id, log).await?;
    let key = signing_key(&state).await?;
    let signed = key.sign(&id, &pdf, &log, clock::now());
    let mut response = Json(signed).into_response();
    if let Ok(value) = format!("attachment; filename=\"bien-ban-{id}.pdf.sig\"").parse() {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

async fn signing_key(state: &AppState) -> Result<MinutesKey, AppError> {
    let dir = state.data_dir.clone();
    tokio::task::spawn_blocking(move || MinutesKey::load_or_create(&dir))
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r.map_err(|e| e.to_string()))
        .map_err(|e| {
            tracing::error!(error = %e, "the minutes signing key could not be had");
            AppError::internal()
        })
}

/// The public key that checks the minutes' signatures (no token: whoever
/// holds the minutes must be able to check them). Made with the key on
/// first use.
#[utoipa::path(get, path = "/api/minutes/public-key", tag = "minutes",
    responses((status = 200, body = PublicKeyBody)),
    security(()))]
pub async fn public_key(State(state): State<AppState>) -> Result<Json<PublicKeyBody>, AppError> {
    let key = signing_key(&state).await?;
    Ok(Json(PublicKeyBody::from(&key.public())))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::control::Millis;

    fn log(n: u64) -> StoredLog {
        let events: Vec<crate::control::Event> = (0..n)
            .map(|i| crate::control::Event {
                at: Millis(i),
                kind: crate::control::EventKind::Opened,
            })
            .collect();
        let payloads = events.iter().map(|_| String::new()).collect();
        StoredLog { events, payloads }
    }

    #[test]
    fn events_must_be_within_the_log() {
        assert_eq!(as_of_events(log(3), None).map(|l| l.events.len()), Ok(3));
        assert_eq!(as_of_events(log(3), Some(2)).map(|l| l.events.len()), Ok(2));
        assert_eq!(as_of_events(log(3), Some(3)).map(|l| l.events.len()), Ok(3));
        for bad in [0, 4, u64::MAX] {
            let err = as_of_events(log(3), Some(bad))
                .map(|_| ())
                .expect_err("refused");
            assert_eq!(err.status, StatusCode::UNPROCESSABLE_ENTITY);
        }
    }
}
