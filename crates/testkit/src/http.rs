//! An HTTP client (reqwest) for loopback servers only.
//!
//! WHIP, WHEP and the REST calls are a handful of requests per peer. The
//! loopback rule is enforced here: a server URL and every `Location` are
//! checked before a request is sent, and redirects are not followed. The
//! load generator sends hundreds of megabits where it is pointed, so it
//! must never be pointed at a real network by mistake.

use crate::error::Error;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// One exchange may take this long, connect to last byte.
const EXCHANGE_LIMIT: Duration = Duration::from_secs(15);
/// Answers larger than this are refused (an SDP answer is a few KiB).
const MAX_RESPONSE: usize = 4 << 20;

/// A loopback HTTP server.
#[derive(Debug, Clone)]
pub struct Server {
    addr: SocketAddr,
    /// Path prefix from the URL, without a trailing slash.
    prefix: String,
    client: reqwest::Client,
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Response {
    /// Status code.
    pub status: u16,
    headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl Response {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Refuses any address that is not loopback.
pub fn require_loopback(addr: SocketAddr) -> Result<SocketAddr, Error> {
    if addr.ip().is_loopback() {
        Ok(addr)
    } else {
        Err(Error::Setup(format!(
            "{addr} is not a loopback address; the load generator only sends to 127.0.0.1 or ::1"
        )))
    }
}

fn host_addr(authority: &str) -> Result<SocketAddr, Error> {
    let authority = authority.replace("localhost", "127.0.0.1");
    let addr = if let Ok(a) = authority.parse::<SocketAddr>() {
        a
    } else if let Ok(ip) = authority.trim_matches(['[', ']']).parse::<IpAddr>() {
        SocketAddr::new(ip, 80)
    } else {
        return Err(Error::Setup(format!(
            "`{authority}` is not an IP address and port (names other than localhost are refused)"
        )));
    };
    require_loopback(addr)
}

impl Server {
    /// Parses `http://127.0.0.1:8080[/prefix]`.
    pub fn parse(url: &str) -> Result<Server, Error> {
        let rest = url.strip_prefix("http://").ok_or_else(|| {
            Error::Setup(format!(
                "`{url}`: only http:// URLs (loopback) are supported"
            ))
        })?;
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .map_err(|e| Error::Setup(format!("no HTTP client: {e}")))?;
        Ok(Server {
            addr: host_addr(authority)?,
            prefix: path.trim_end_matches('/').to_string(),
            client,
        })
    }

    /// The path of `route` under the URL's prefix.
    pub fn path(&self, route: &str) -> String {
        format!("{}{}", self.prefix, route)
    }

    /// A `Location` header as a path on this server. Absolute URLs must
    /// point at the same loopback server.
    pub fn location_path(&self, location: &str) -> Result<String, Error> {
        if location.starts_with('/') {
            return Ok(location.to_string());
        }
        let other = Server::parse(location)?;
        if other.addr != self.addr {
            return Err(Error::Http(format!(
                "Location {location} names another server"
            )));
        }
        Ok(if other.prefix.is_empty() {
            "/".to_string()
        } else {
            other.prefix
        })
    }

    /// Sends one request and reads the whole answer.
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Response, Error> {
        tokio::time::timeout(EXCHANGE_LIMIT, self.exchange(method, path, headers, body))
            .await
            .map_err(|_| Error::Timeout(format!("{method} {path}")))?
    }

    async fn exchange(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Response, Error> {
        let method = reqwest::Method::from_bytes(method.as_bytes())
            .map_err(|e| Error::Http(format!("{method}: {e}")))?;
        let url = format!("http://{}{path}", self.addr);
        let mut request = self.client.request(method, url).body(body.to_vec());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let mut answer = request.send().await.map_err(http_error)?;
        let status = answer.status().as_u16();
        let headers = answer
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        // Read piece by piece: a chunked answer says no length up front.
        let mut body = Vec::new();
        while let Some(chunk) = answer.chunk().await.map_err(http_error)? {
            if body.len() + chunk.len() > MAX_RESPONSE {
                return Err(Error::Http(format!("{path}: answer too large")));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Response {
            status,
            headers,
            body,
        })
    }
}

fn http_error(err: reqwest::Error) -> Error {
    Error::Http(err.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only loopback servers are accepted, by address or as localhost.
    #[test]
    fn servers_must_be_loopback() {
        assert!(Server::parse("http://127.0.0.1:8080").is_ok());
        assert!(Server::parse("http://[::1]:8080/x").is_ok());
        assert!(Server::parse("http://localhost:8080").is_ok());
        assert!(Server::parse("http://10.0.0.1:8080").is_err());
        assert!(Server::parse("http://example.org:8080").is_err());
        assert!(Server::parse("https://127.0.0.1:8080").is_err());
    }

    /// Relative and same-server absolute Locations become paths.
    #[test]
    fn locations_resolve_on_the_same_server() {
        let s = Server::parse("http://127.0.0.1:8080").ok();
        let s = s.as_ref();
        assert_eq!(
            s.and_then(|s| s.location_path("/whip/a/r1").ok())
                .as_deref(),
            Some("/whip/a/r1")
        );
        assert_eq!(
            s.and_then(|s| s.location_path("http://127.0.0.1:8080/whip/a/r1").ok())
                .as_deref(),
            Some("/whip/a/r1")
        );
        assert!(s.is_some_and(|s| s.location_path("http://127.0.0.1:9/r").is_err()));
    }
}
