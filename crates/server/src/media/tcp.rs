//! ICE-TCP (RFC 6544): the media port's TCP twin, for networks that block
//! UDP.
//!
//! The server offers a passive TCP host candidate beside each UDP one, on
//! the same port number. A client that cannot reach the UDP port connects
//! to it and sends what it would have sent over UDP — STUN, DTLS, SRTP —
//! each datagram framed by a two-byte length (RFC 4571). Every connection
//! gets a task here that cuts the stream into datagrams and hands them to
//! the media task with the candidate they arrived on, exactly as the UDP
//! sockets do; the media task's answers come back framed on the same
//! connection, found by the client's address.
//!
//! A TCP connection costs a task and a descriptor, so they are bounded: at
//! most `MAX_CONNECTIONS` at once, a frame of at most `MAX_FRAME` bytes,
//! and a connection silent for `IDLE` is closed (a live client checks
//! consent every few seconds).

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Semaphore};

/// The largest datagram carried: media packets stay under the path MTU.
pub(super) const MAX_FRAME: usize = 4096;
const MAX_CONNECTIONS: usize = 1024;
const IDLE: Duration = Duration::from_secs(30);
/// Frames queued towards one client before more are dropped, as a full
/// UDP buffer would drop them.
const OUT_QUEUE: usize = 512;

/// A datagram that came in over TCP.
#[derive(Debug)]
pub(super) struct Frame {
    pub(super) data: Vec<u8>,
    pub(super) from: SocketAddr,
    /// The candidate (address and port) the connection was made to.
    pub(super) to: SocketAddr,
}

type Writers = Arc<Mutex<HashMap<SocketAddr, mpsc::Sender<Vec<u8>>>>>;

/// The TCP side of the media port.
#[derive(Debug)]
pub(super) struct TcpSide {
    pub(super) inbound: mpsc::Receiver<Frame>,
    writers: Writers,
}

impl TcpSide {
    /// Listens on each `(bind, candidate)` pair; starts the accept tasks.
    pub(super) async fn listen(pairs: &[(SocketAddr, SocketAddr)]) -> io::Result<TcpSide> {
        let (tx, inbound) = mpsc::channel(4096);
        let writers: Writers = Arc::default();
        let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        for (bind, candidate) in pairs {
            let listener = TcpListener::bind(bind).await?;
            tokio::spawn(accept(
                listener,
                *candidate,
                tx.clone(),
                writers.clone(),
                permits.clone(),
            ));
        }
        Ok(TcpSide { inbound, writers })
    }

    /// Queues `data` to the client at `to`; false when there is no such
    /// connection or its queue is full.
    pub(super) fn send(&self, data: &[u8], to: SocketAddr) -> bool {
        let writers = match self.writers.lock() {
            Ok(w) => w,
            Err(poisoned) => poisoned.into_inner(),
        };
        writers
            .get(&to)
            .is_some_and(|w| w.try_send(data.to_vec()).is_ok())
    }
}

async fn accept(
    listener: TcpListener,
    candidate: SocketAddr,
    frames: mpsc::Sender<Frame>,
    writers: Writers,
    permits: Arc<Semaphore>,
) {
    loop {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        let (stream, from) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(err) => {
                tracing::warn!(%err, "cannot accept an ICE-TCP connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let (frames, writers) = (frames.clone(), writers.clone());
        tokio::spawn(async move {
            connection(stream, from, candidate, frames, writers).await;
            drop(permit);
        });
    }
}

async fn connection(
    stream: TcpStream,
    from: SocketAddr,
    candidate: SocketAddr,
    frames: mpsc::Sender<Frame>,
    writers: Writers,
) {
    let _ = stream.set_nodelay(true);
    let (mut rd, mut wr) = stream.into_split();
    let (out_tx, mut out_rx) = mpsc::channel::<Vec<u8>>(OUT_QUEUE);
    if let Ok(mut w) = writers.lock() {
        w.insert(from, out_tx);
    }
    let reader = async {
        loop {
            let frame = match tokio::time::timeout(IDLE, read_frame(&mut rd)).await {
                Ok(Ok(Some(frame))) => frame,
                Ok(Ok(None)) | Ok(Err(_)) | Err(_) => return,
            };
            let frame = Frame {
                data: frame,
                from,
                to: candidate,
            };
            if frames.send(frame).await.is_err() {
                return;
            }
        }
    };
    let writer = async {
        while let Some(data) = out_rx.recv().await {
            let Ok(len) = u16::try_from(data.len()) else {
                continue;
            };
            let mut framed = Vec::with_capacity(data.len() + 2);
            framed.extend_from_slice(&len.to_be_bytes());
            framed.extend_from_slice(&data);
            if wr.write_all(&framed).await.is_err() {
                return;
            }
        }
    };
    tokio::select! {
        _ = reader => {}
        _ = writer => {}
    }
    if let Ok(mut w) = writers.lock() {
        w.remove(&from);
    }
}

/// One RFC 4571 frame; `None` at a clean end of stream. A zero or
/// oversized length ends the connection: no client sends one.
async fn read_frame<R: AsyncReadExt + Unpin>(rd: &mut R) -> io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 2];
    match rd.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = usize::from(u16::from_be_bytes(len));
    if len == 0 || len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("an ICE-TCP frame of {len} bytes"),
        ));
    }
    let mut data = vec![0u8; len];
    rd.read_exact(&mut data).await?;
    Ok(Some(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn frames_are_cut_by_their_length_and_bad_lengths_end_the_stream() {
        let mut bytes: &[u8] = &[0, 3, b'a', b'b', b'c', 0, 1, b'z'];
        assert_eq!(
            read_frame(&mut bytes).await.ok(),
            Some(Some(b"abc".to_vec()))
        );
        assert_eq!(read_frame(&mut bytes).await.ok(), Some(Some(b"z".to_vec())));
        assert_eq!(read_frame(&mut bytes).await.ok(), Some(None));
        let mut zero: &[u8] = &[0, 0];
        assert!(read_frame(&mut zero).await.is_err());
        let mut huge: &[u8] = &[0xff, 0xff, 1, 2];
        assert!(read_frame(&mut huge).await.is_err());
        let mut cut: &[u8] = &[0, 9, 1, 2];
        assert!(read_frame(&mut cut).await.is_err());
    }

    #[tokio::test]
    async fn a_connection_delivers_frames_and_takes_answers() {
        let bind: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let probe = TcpListener::bind(bind).await.unwrap();
        let addr = probe.local_addr().unwrap();
        drop(probe);
        let mut side = TcpSide::listen(&[(addr, addr)]).await.expect("listen");
        let mut client = TcpStream::connect(addr).await.expect("connect");
        client.write_all(&[0, 4, 1, 2, 3, 4]).await.unwrap();
        let frame = side.inbound.recv().await.expect("a frame");
        assert_eq!(frame.data, vec![1, 2, 3, 4]);
        assert_eq!(frame.to, addr);
        assert_eq!(frame.from, client.local_addr().unwrap());
        assert!(side.send(b"ok", frame.from));
        let mut back = [0u8; 4];
        client.read_exact(&mut back).await.unwrap();
        assert_eq!(back, [0, 2, b'o', b'k']);
    }
}
