//! The three consoles (`/chair`, `/endpoint`, `/monitor`) and their shared
//! client code, embedded from `web/` at build time so the binary is the
//! whole deployment.

use super::error::AppError;
use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "../../web/"]
struct Web;

/// The top-level folders of `web/` that are served.
pub const FOLDERS: [&str; 4] = ["chair", "endpoint", "monitor", "shared"];

/// Serves `web/{folder}/{path}`, or the folder's `index.html`.
pub fn file(folder: &str, path: &str) -> Response {
    let path = path.trim_start_matches('/');
    let name = if path.is_empty() {
        format!("{folder}/index.html")
    } else {
        format!("{folder}/{path}")
    };
    embedded(name)
}

/// `GET /web/{*path}`: any file of `web/`, which is how the pages load
/// their shared modules and the vendored chart library.
pub async fn any_file(Path(path): Path<String>) -> Response {
    embedded(path.trim_start_matches('/').to_string())
}

fn embedded(name: String) -> Response {
    // Debug builds read `web/` from disk: never let a path climb out of it.
    if name.split(['/', '\\']).any(|part| part == "..") {
        return AppError::not_found("not_found", "no such file").into_response();
    }
    match Web::get(&name) {
        Some(content) => {
            let mime = mime_guess::from_path(&name).first_or_octet_stream();
            (
                [
                    (header::CONTENT_TYPE, mime.as_ref().to_string()),
                    // Consoles change with the server; never serve a stale one.
                    (header::CACHE_CONTROL, "no-cache".to_string()),
                ],
                content.data.into_owned(),
            )
                .into_response()
        }
        None => AppError::not_found("not_found", format!("no file /{name}")).into_response(),
    }
}

/// A handler for one folder's index and files.
pub fn folder(
    folder: &'static str,
) -> (
    impl Fn() -> std::future::Ready<Response> + Clone + Send + 'static,
    impl Fn(Path<String>) -> std::future::Ready<Response> + Clone + Send + 'static,
) {
    (
        move || std::future::ready(file(folder, "")),
        move |Path(path): Path<String>| std::future::ready(file(folder, &path)),
    )
}
