//! Hostile HTTP clients against the real binary: a half-sent header, a
//! silent connection, a body trickled byte by byte, and more idle
//! connections than the server takes at once. Each is cut off by the
//! `[limits]`, and the server keeps answering its consoles.

mod common;

use common::Server;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// Short limits so the attacks end within a test's patience.
const LIMITS: &str = "max_connections = 8\nheader_timeout_secs = 2\n\
                      request_timeout_secs = 3\nidle_timeout_secs = 4\n";
/// Longest wait for the server to cut a connection off: the limits above
/// plus scheduling slack on a loaded machine. A bound on a wait, not a
/// measurement.
const CUT_OFF_WITHIN: Duration = Duration::from_secs(15);

fn connect(server: &Server) -> TcpStream {
    let stream = TcpStream::connect(server.addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("read timeout");
    stream
}

/// Reads until the server closes the connection (or `CUT_OFF_WITHIN`
/// passes); returns what it sent and whether it closed.
fn read_until_closed(stream: &mut TcpStream) -> (String, bool) {
    let start = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while start.elapsed() < CUT_OFF_WITHIN {
        match stream.read(&mut buf) {
            Ok(0) => return (String::from_utf8_lossy(&got).into_owned(), true),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return (String::from_utf8_lossy(&got).into_owned(), true),
        }
    }
    (String::from_utf8_lossy(&got).into_owned(), false)
}

/// `GET /healthz` on a fresh connection answers 200 within the bound.
fn healthz_answers(server: &Server) -> bool {
    let start = Instant::now();
    while start.elapsed() < CUT_OFF_WITHIN {
        let Ok(mut stream) = TcpStream::connect(server.addr) else {
            continue;
        };
        let _ = stream.set_read_timeout(Some(CUT_OFF_WITHIN));
        let request = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        if stream.write_all(request.as_bytes()).is_err() {
            continue;
        }
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        if answer.starts_with("HTTP/1.1 200") {
            return true;
        }
    }
    false
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

/// A client that sends half a header and stops is cut off.
#[test]
fn a_half_sent_header_is_cut_off() {
    let server = Server::start_with_limits(LIMITS);
    let mut stream = connect(&server);
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .expect("send");
    let (_, closed) = read_until_closed(&mut stream);
    assert!(closed, "a half-sent header kept its connection");
    assert!(healthz_answers(&server));
}

/// A client that connects and says nothing is cut off.
#[test]
fn a_silent_connection_is_cut_off() {
    let server = Server::start_with_limits(LIMITS);
    let mut stream = connect(&server);
    let (_, closed) = read_until_closed(&mut stream);
    assert!(closed, "a silent connection stayed open");
}

/// A body trickled a byte at a time gets a 408 with the usual JSON error.
#[test]
fn a_trickled_body_times_out_with_a_json_error() {
    let server = Server::start_with_limits(LIMITS);
    let token = server.chair();
    let mut stream = connect(&server);
    let head = format!(
        "POST /api/sessions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: 400\r\n\r\n{{"
    );
    stream.write_all(head.as_bytes()).expect("send");
    let start = Instant::now();
    let mut answer = String::new();
    let mut buf = [0u8; 4096];
    while start.elapsed() < CUT_OFF_WITHIN && !answer.contains("\r\n\r\n{") {
        let _ = stream.write_all(b" ");
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => answer.push_str(&String::from_utf8_lossy(&buf[..n])),
            Err(_) => std::thread::sleep(Duration::from_millis(300)),
        }
    }
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"error\":\"request_timeout\""), "{answer}");
}

/// Twenty idle connections against a cap of eight: the server holds no
/// more than its cap (its open descriptors say so), drops the idle ones,
/// and `/healthz` answers.
#[test]
fn more_idle_connections_than_the_cap_do_not_starve_the_server() {
    let server = Server::start_with_limits(LIMITS);
    let pid = server.pid().expect("running");
    assert!(healthz_answers(&server));
    let baseline = open_fds(pid);
    let idle: Vec<TcpStream> = (0..20)
        .filter_map(|_| TcpStream::connect(server.addr).ok())
        .collect();
    assert_eq!(
        idle.len(),
        20,
        "the kernel queues what the server has not accepted"
    );
    std::thread::sleep(Duration::from_millis(500));
    let held = open_fds(pid).saturating_sub(baseline);
    assert!(
        held <= 8,
        "the server holds {held} connections, over its cap of 8"
    );
    assert!(healthz_answers(&server), "/healthz no longer answers");
    drop(idle);
}
