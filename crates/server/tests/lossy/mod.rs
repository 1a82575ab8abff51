//! A UDP proxy between a test peer and the server that drops a share of
//! the peer's outgoing RTP, as a lossy access link would, or holds what
//! the server sends the peer for a while, as a long path would.
//!
//! The kernel here has no netem, so loss is made in user space. Only RTP is
//! dropped (RFC 7983: first byte 128–191, and not an RTCP packet type), by
//! sequence number, so a retransmission of a dropped packet (same SSRC and
//! sequence number) is dropped too and the loss the server sees is the
//! loss that was asked for. STUN, DTLS and RTCP always pass, so the
//! connection stays up.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::support::{post_sdp, TestPeer};

/// How long a site behind the proxy has to connect.
const CONNECT: Duration = Duration::from_secs(30);

/// Datagrams each direction forwards at most: a bound on the loop, far
/// above what a test sends (a publisher sends about 75 a second).
const MAX_DATAGRAMS: u64 = 2_000_000;

/// A running proxy; stops when dropped.
pub struct LossyProxy {
    /// Where the peer must send (written into the server's answer).
    pub addr: SocketAddr,
    drop_every: Arc<AtomicU32>,
    /// How long the server's datagrams are held, in ms.
    delay_down_ms: Arc<AtomicU64>,
    /// RTP packets dropped so far.
    pub dropped: Arc<AtomicU64>,
    tasks: Vec<JoinHandle<()>>,
}

fn is_rtp(datagram: &[u8]) -> bool {
    match datagram {
        [first, second, ..] => (128..=191).contains(first) && !(192..=223).contains(second),
        _ => false,
    }
}

fn sequence(datagram: &[u8]) -> Option<u16> {
    Some(u16::from_be_bytes([*datagram.get(2)?, *datagram.get(3)?]))
}

/// The server's candidate address in its SDP (its first `host` candidate).
pub fn server_candidate(sdp: &str) -> SocketAddr {
    sdp.lines()
        .filter_map(|l| l.trim().strip_prefix("a=candidate:"))
        .find_map(|c| {
            let f: Vec<&str> = c.split_whitespace().collect();
            let (ip, port) = (f.get(4)?, f.get(5)?);
            format!("{ip}:{port}").parse().ok()
        })
        .unwrap_or_else(|| panic!("no candidate in the server's SDP:\n{sdp}"))
}

impl LossyProxy {
    /// A proxy in front of `server` (a 127.0.0.1 address).
    pub async fn start(server: SocketAddr) -> LossyProxy {
        let front = Arc::new(UdpSocket::bind("127.0.0.1:0").await.expect("bind front"));
        let back = Arc::new(UdpSocket::bind("127.0.0.1:0").await.expect("bind back"));
        let addr = front.local_addr().expect("front address");
        let drop_every = Arc::new(AtomicU32::new(0));
        let delay_down_ms = Arc::new(AtomicU64::new(0));
        let dropped = Arc::new(AtomicU64::new(0));
        let client: Arc<Mutex<Option<SocketAddr>>> = Arc::new(Mutex::new(None));

        let up = {
            let (front, back, client) = (front.clone(), back.clone(), client.clone());
            let (drop_every, dropped) = (drop_every.clone(), dropped.clone());
            tokio::spawn(async move {
                let mut buf = vec![0u8; 2048];
                for _ in 0..MAX_DATAGRAMS {
                    let Ok((n, from)) = front.recv_from(&mut buf).await else {
                        return;
                    };
                    if let Ok(mut c) = client.lock() {
                        *c = Some(from);
                    }
                    let datagram = &buf[..n];
                    let every = drop_every.load(Ordering::SeqCst);
                    if every > 0 && is_rtp(datagram) {
                        if let Some(seq) = sequence(datagram) {
                            if u32::from(seq) % every == 0 {
                                dropped.fetch_add(1, Ordering::SeqCst);
                                continue;
                            }
                        }
                    }
                    let _ = back.send_to(datagram, server).await;
                }
            })
        };
        // The server's datagrams, each with the instant it may go on; one
        // queue keeps their order whatever the delay.
        let (held, mut due) = mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
        let down = {
            let delay = delay_down_ms.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 2048];
                for _ in 0..MAX_DATAGRAMS {
                    let Ok((n, _)) = back.recv_from(&mut buf).await else {
                        return;
                    };
                    let hold = Duration::from_millis(delay.load(Ordering::SeqCst));
                    if held
                        .send((Instant::now() + hold, buf[..n].to_vec()))
                        .is_err()
                    {
                        return;
                    }
                }
            })
        };
        let release = {
            let front = front.clone();
            tokio::spawn(async move {
                while let Some((at, datagram)) = due.recv().await {
                    tokio::time::sleep_until(at).await;
                    let to = client.lock().ok().and_then(|c| *c);
                    if let Some(to) = to {
                        let _ = front.send_to(&datagram, to).await;
                    }
                }
            })
        };
        LossyProxy {
            addr,
            drop_every,
            delay_down_ms,
            dropped,
            tasks: vec![up, down, release],
        }
    }

    /// Drops one RTP packet in `every` from now on (10 = 10%); 0 stops.
    pub fn drop_one_in(&self, every: u32) {
        self.drop_every.store(every, Ordering::SeqCst);
    }

    /// Holds each datagram the server sends the peer for `by` from now on
    /// (zero stops): the path's round trip grows by that much.
    pub fn delay_down(&self, by: Duration) {
        let ms = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        self.delay_down_ms.store(ms, Ordering::SeqCst);
    }

    /// The server's SDP with the proxy as its only candidate (UDP): a
    /// server on the wildcard offers every interface address, and a path
    /// straight to one of them would skip the proxy.
    pub fn rewrite(&self, sdp: &str, server: SocketAddr) -> String {
        let from = format!(" {} {} typ", server.ip(), server.port());
        let to = format!(" {} {} typ", self.addr.ip(), self.addr.port());
        assert!(
            sdp.contains(&from),
            "the server's candidate {from} is in:\n{sdp}"
        );
        sdp.split_inclusive('\n')
            .filter(|l| {
                !l.starts_with("a=candidate:") || (l.contains(&from) && l.contains(" udp "))
            })
            .map(|l| l.replace(&from, &to))
            .collect()
    }
}

/// Site `name` publishing over WHIP at `whip` with `token`, its only path
/// to the server a new proxy; the connection is up when this returns.
pub async fn publish_through_proxy(whip: &str, token: &str, name: &str) -> (TestPeer, LossyProxy) {
    let site = TestPeer::new(name, true).await;
    let offer = site.offer().await;
    let reply = post_sdp(whip, Some(token), &offer).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let media = server_candidate(&reply.body);
    let proxy = LossyProxy::start(media).await;
    site.apply_answer(proxy.rewrite(&reply.body, media)).await;
    site.connected(CONNECT).await;
    (site, proxy)
}

impl Drop for LossyProxy {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}
