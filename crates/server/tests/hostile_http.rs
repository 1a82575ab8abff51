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

/// A site's console in a loop: 150 representative PUTs, on the shipped
/// config's limits (20 a second, bursts of 60). Identical ones
/// record one event; changing ones are cut to the burst the rate allows,
/// the rest refused with 429 and the usual JSON error; the log grows by
/// no more than that.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_loop_is_rate_limited_and_repeats_record_nothing() {
    // The shipped limits (the other tests run with the rate out of reach).
    let server = Server::start_shipped();
    server.create("s", "Phiên thử").await;
    let site = server.endpoint(common::HAI_DUONG);
    let path = format!(
        "/api/sessions/s/endpoints/{}/representative",
        common::HAI_DUONG
    );
    let events = |v: &serde_json::Value| v["events"].as_u64().expect("event count");
    let before = events(&server.state("s").await);

    let same = serde_json::json!({"name": "Lê A;=1+1", "title": "Phó Chủ tịch", "headcount": 12});
    let mut ok = 0;
    for _ in 0..30 {
        let (status, _) = server.put(&path, &site, same.clone()).await;
        ok += usize::from(status.is_success());
    }
    assert_eq!(ok, 30);
    assert_eq!(
        events(&server.state("s").await),
        before + 1,
        "a repeat recorded an event"
    );

    let (mut accepted, mut limited) = (0u64, 0u64);
    for n in 0..150 {
        let body = serde_json::json!({"name": "Lê A", "title": "Phó Chủ tịch", "headcount": n});
        let (status, answer) = server.put(&path, &site, body).await;
        if status.as_u16() == 429 {
            assert_eq!(answer["error"], "rate_limited", "{answer}");
            limited += 1;
        } else {
            assert!(status.is_success(), "{status} {answer}");
            accepted += 1;
        }
    }
    assert!(limited > 0, "150 commands in a loop were never limited");
    let after = events(&server.state("s").await);
    assert_eq!(after, before + 1 + accepted);
    assert!(
        accepted < 150 && after - before <= 100,
        "{accepted} accepted"
    );
    assert!(healthz_answers(&server));
}
