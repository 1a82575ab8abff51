//! A small HTTP/1.1 client for loopback servers.
//!
//! WHIP, WHEP and the REST calls are a handful of requests per peer; a
//! client this size keeps the generator free of an HTTP stack and makes the
//! loopback rule easy to enforce: every address is checked before a socket
//! is opened.

use crate::error::LoadError;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

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

/// Refuses any address that is not loopback: the generator sends hundreds
/// of megabits and must never be pointed at a real network by mistake.
pub fn require_loopback(addr: SocketAddr) -> Result<SocketAddr, LoadError> {
    if addr.ip().is_loopback() {
        Ok(addr)
    } else {
        Err(LoadError::Setup(format!(
            "{addr} is not a loopback address; the load generator only sends to 127.0.0.1 or ::1"
        )))
    }
}

fn host_addr(authority: &str) -> Result<SocketAddr, LoadError> {
    let authority = authority.replace("localhost", "127.0.0.1");
    let addr = if let Ok(a) = authority.parse::<SocketAddr>() {
        a
    } else if let Ok(ip) = authority.trim_matches(['[', ']']).parse::<IpAddr>() {
        SocketAddr::new(ip, 80)
    } else {
        return Err(LoadError::Setup(format!(
            "`{authority}` is not an IP address and port (names other than localhost are refused)"
        )));
    };
    require_loopback(addr)
}

impl Server {
    /// Parses `http://127.0.0.1:8080[/prefix]`.
    pub fn parse(url: &str) -> Result<Server, LoadError> {
        let rest = url.strip_prefix("http://").ok_or_else(|| {
            LoadError::Setup(format!(
                "`{url}`: only http:// URLs (loopback) are supported"
            ))
        })?;
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        Ok(Server {
            addr: host_addr(authority)?,
            prefix: path.trim_end_matches('/').to_string(),
        })
    }

    /// The path of `route` under the URL's prefix.
    pub fn path(&self, route: &str) -> String {
        format!("{}{}", self.prefix, route)
    }

    /// A `Location` header as a path on this server. Absolute URLs must
    /// point at the same loopback server.
    pub fn location_path(&self, location: &str) -> Result<String, LoadError> {
        if location.starts_with('/') {
            return Ok(location.to_string());
        }
        let other = Server::parse(location)?;
        if other.addr != self.addr {
            return Err(LoadError::Http(format!(
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
    ) -> Result<Response, LoadError> {
        tokio::time::timeout(EXCHANGE_LIMIT, self.exchange(method, path, headers, body))
            .await
            .map_err(|_| LoadError::Timeout(format!("{method} {path}")))?
    }

    async fn exchange(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Response, LoadError> {
        let mut stream = TcpStream::connect(self.addr).await?;
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
            self.addr,
            body.len()
        );
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(body).await?;
        let mut raw = Vec::new();
        let mut chunk = [0u8; 16 * 1024];
        loop {
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                break;
            }
            raw.extend_from_slice(chunk.get(..n).unwrap_or_default());
            if raw.len() > MAX_RESPONSE {
                return Err(LoadError::Http(format!(
                    "{method} {path}: answer too large"
                )));
            }
        }
        parse_response(&raw)
    }
}

fn parse_response(raw: &[u8]) -> Result<Response, LoadError> {
    let bad = |why: &str| LoadError::Http(format!("malformed answer: {why}"));
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("no end of headers"))?;
    let head = std::str::from_utf8(raw.get(..end).unwrap_or_default())
        .map_err(|_| bad("headers are not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| bad("no status"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let rest = raw.get(end + 4..).unwrap_or_default();
    let chunked = headers.iter().any(|(n, v)| {
        n.eq_ignore_ascii_case("transfer-encoding") && v.to_ascii_lowercase().contains("chunked")
    });
    let body = if chunked {
        dechunk(rest).ok_or_else(|| bad("broken chunked body"))?
    } else {
        rest.to_vec()
    };
    Ok(Response {
        status,
        headers,
        body,
    })
}

fn dechunk(mut rest: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    // Each round consumes one chunk, so the count of rounds is bounded by the length.
    for _ in 0..=rest.len() {
        let line_end = rest.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(rest.get(..line_end)?).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        if size == 0 {
            return Some(out);
        }
        let data = rest.get(line_end + 2..line_end + 2 + size)?;
        out.extend_from_slice(data);
        rest = rest.get(line_end + 2 + size + 2..)?;
    }
    None
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

    /// Plain and chunked bodies both parse.
    #[test]
    fn answers_parse() {
        let plain = b"HTTP/1.1 201 Created\r\nLocation: /r/1\r\nContent-Length: 3\r\n\r\nv=0";
        let r = parse_response(plain).ok();
        assert_eq!(r.as_ref().map(|r| r.status), Some(201));
        assert_eq!(r.as_ref().and_then(|r| r.header("location")), Some("/r/1"));
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nv=0\r\n2\r\n\r\n\r\n0\r\n\r\n";
        let r = parse_response(chunked).ok();
        assert_eq!(r.map(|r| r.body), Some(b"v=0\r\n".to_vec()));
    }
}
