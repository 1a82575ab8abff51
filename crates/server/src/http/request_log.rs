//! The span every request is logged in. tower-http's default span records
//! the whole URI, and the WebSocket takes its token in the query
//! (`/ws?token=…`, browsers cannot set headers on one): at `debug` that
//! would put a working token in the log. This span records the path and
//! the query with every value redacted but those known to be harmless.

use axum::http::{Request, Uri};
use tracing::Span;

/// Query parameters whose values are kept in the log: ids and formats,
/// never credentials. A parameter not listed here (`token`, and any added
/// later) is logged as `name=REDACTED`.
const SHOWN: &[&str] = &["session", "format"];

/// What replaces a value that is not shown.
const REDACTED: &str = "REDACTED";

/// The span of one request: method, the URI as [`loggable_uri`] writes it,
/// and the HTTP version, at `debug` like tower-http's own.
pub fn request_span<B>(request: &Request<B>) -> Span {
    tracing::debug_span!(
        "request",
        method = %request.method(),
        uri = %loggable_uri(request.uri()),
        version = ?request.version(),
    )
}

/// The path and the query, each value but those in [`SHOWN`] replaced.
pub fn loggable_uri(uri: &Uri) -> String {
    let path = uri.path();
    let Some(query) = uri.query() else {
        return path.to_string();
    };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if SHOWN.contains(&name) => pair.to_string(),
            Some((name, _)) => format!("{name}={REDACTED}"),
            None if pair.is_empty() => String::new(),
            // A bare word may be the token itself (`/ws?eyJ…`).
            None => REDACTED.to_string(),
        })
        .collect();
    format!("{path}?{}", pairs.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logged(uri: &str) -> String {
        loggable_uri(&uri.parse::<Uri>().expect("a URI"))
    }

    #[test]
    fn the_token_never_reaches_the_log() {
        assert_eq!(
            logged("/ws?token=eyJ.SECRET.sig&session=hop-1"),
            "/ws?token=REDACTED&session=hop-1"
        );
        assert_eq!(
            logged("/ws?session=hop-1&token=SECRET"),
            "/ws?session=hop-1&token=REDACTED"
        );
        // Spelled another way, serde still reads it as `token`.
        assert_eq!(logged("/ws?%74oken=SECRET"), "/ws?%74oken=REDACTED");
        assert_eq!(logged("/ws?SECRET"), "/ws?REDACTED");
        assert_eq!(
            logged("/ws?token=A&token=B"),
            "/ws?token=REDACTED&token=REDACTED"
        );
    }

    #[test]
    fn paths_and_harmless_parameters_are_kept() {
        assert_eq!(logged("/api/sessions/hop-1"), "/api/sessions/hop-1");
        assert_eq!(
            logged("/api/sessions/hop-1/attendance?format=csv"),
            "/api/sessions/hop-1/attendance?format=csv"
        );
        assert_eq!(logged("/ws?"), "/ws?");
        assert_eq!(logged("http://h:1/ws?token=S"), "/ws?token=REDACTED");
    }
}
