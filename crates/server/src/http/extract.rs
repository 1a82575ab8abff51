//! Extractors whose rejections go through [`AppError`], so a bad body, path
//! or query gets the same `{error, message}` shape as everything else.

use super::error::AppError;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{header, request::Parts, StatusCode};
use serde::de::DeserializeOwned;

/// A JSON body. Requires `Content-Type: application/json` and respects the
/// body limit; request types deny unknown fields themselves.
pub struct Body<T>(pub T);

/// A JSON body that may be left out entirely (an empty body is the
/// default value); when present it is checked like [`Body`].
pub struct OptionalBody<T>(pub T);

fn is_json(req: &Request) -> Option<bool> {
    let value = req.headers().get(header::CONTENT_TYPE)?;
    let mime = value
        .to_str()
        .ok()?
        .split(';')
        .next()?
        .trim()
        .to_ascii_lowercase();
    Some(
        mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json")),
    )
}

fn bytes_error(e: BytesRejection) -> AppError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        AppError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "the request body is larger than the server accepts",
        )
    } else {
        AppError::bad_request("unreadable_body", e.body_text())
    }
}

/// Every body is a JSON object. Two passes so the code says which it was: bytes that are not JSON at
/// all (`malformed_json`), or JSON of the wrong shape (`invalid_body`).
/// serde_json alone reports some shape errors (a number where an enum
/// belongs) as syntax errors.
fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| AppError::bad_request("malformed_json", e.to_string()))?;
    // Serde would also read a struct from an array of its fields; every
    // body here is an object, and accepting `["lecture"]` only hides bugs.
    if !value.is_object() {
        return Err(AppError::bad_request(
            "invalid_body",
            "the body must be a JSON object",
        ));
    }
    serde_json::from_value(value).map_err(|e| AppError::bad_request("invalid_body", e.to_string()))
}

fn unsupported() -> AppError {
    AppError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        "send the body as Content-Type: application/json",
    )
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, AppError> {
        if is_json(&req) != Some(true) {
            return Err(unsupported());
        }
        let bytes = Bytes::from_request(req, state).await.map_err(bytes_error)?;
        parse(&bytes).map(Body)
    }
}

impl<T: DeserializeOwned + Default, S: Send + Sync> FromRequest<S> for OptionalBody<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, AppError> {
        let json = is_json(&req);
        let bytes = Bytes::from_request(req, state).await.map_err(bytes_error)?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalBody(T::default()));
        }
        if json != Some(true) {
            return Err(unsupported());
        }
        parse(&bytes).map(OptionalBody)
    }
}

/// Path parameters.
pub struct Path<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Path(p.0))
            .map_err(|e: PathRejection| AppError::bad_request("bad_path", e.body_text()))
    }
}

/// Query parameters; unknown ones are refused by the target type.
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Query(q.0))
            .map_err(|e: QueryRejection| AppError::bad_request("bad_query", e.body_text()))
    }
}
