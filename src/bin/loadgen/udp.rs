//! The baseline path: the same publishers and receivers over plain UDP to
//! the `udp-relay`, so both targets are measured by the same code.

use crate::clock::Clock;
use crate::error::LoadError;
use crate::payload::Kind;
use crate::publisher::{KeyframeRequests, MediaOut};
use crate::recorder::Recorder;
use crate::relay_protocol::{is_pli, Control, AUDIO_PT, VIDEO_PT};
use rtc::rtp;
use rtc::shared::marshal::{Marshal, Unmarshal};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::UdpSocket;

/// How often a reader wakes to look at the stop flag.
const POLL: Duration = Duration::from_millis(200);
/// Registrations are repeated: UDP on loopback rarely loses a datagram,
/// but a lost one would silently leave a receiver out of the run.
const HELLO_REPEATS: usize = 3;

async fn bind_and_register(relay: SocketAddr, hello: Control) -> Result<Arc<UdpSocket>, LoadError> {
    let local: SocketAddr = if relay.is_ipv6() {
        "[::1]:0"
    } else {
        "127.0.0.1:0"
    }
    .parse()
    .map_err(|_| LoadError::Setup("loopback address".into()))?;
    let socket = UdpSocket::bind(local).await?;
    for _ in 0..HELLO_REPEATS {
        socket.send_to(&hello.encode(), relay).await?;
    }
    Ok(Arc::new(socket))
}

/// Reads datagrams until `running` turns false or `limit` passes.
fn spawn_reader<F>(socket: Arc<UdpSocket>, running: Arc<AtomicBool>, limit: Duration, mut on: F)
where
    F: FnMut(&[u8]) + Send + 'static,
{
    tokio::spawn(async move {
        let deadline = tokio::time::Instant::now() + limit;
        let mut buf = vec![0u8; 2048];
        while running.load(Ordering::Relaxed) && tokio::time::Instant::now() < deadline {
            if let Ok(Ok(n)) = tokio::time::timeout(POLL, socket.recv(&mut buf)).await {
                if let Some(d) = buf.get(..n) {
                    on(d);
                }
            }
        }
    });
}

/// A publisher's socket towards the relay.
pub struct UdpOut {
    socket: Arc<UdpSocket>,
    relay: SocketAddr,
    audio_ssrc: u32,
    video_ssrc: u32,
}

impl UdpOut {
    /// Registers publisher `id`; PLIs the relay sends back become keyframe requests.
    pub async fn register(
        relay: SocketAddr,
        id: u32,
        requests: Arc<KeyframeRequests>,
        running: Arc<AtomicBool>,
        limit: Duration,
    ) -> Result<Arc<UdpOut>, LoadError> {
        let socket = bind_and_register(relay, Control::Publisher(id)).await?;
        spawn_reader(socket.clone(), running, limit, move |d| {
            if is_pli(d) {
                requests.request();
            }
        });
        Ok(Arc::new(UdpOut {
            socket,
            relay,
            audio_ssrc: rand::random(),
            video_ssrc: rand::random(),
        }))
    }
}

#[async_trait::async_trait]
impl MediaOut for UdpOut {
    fn ids(&self, kind: Kind) -> (u32, u8) {
        match kind {
            Kind::Audio => (self.audio_ssrc, AUDIO_PT),
            Kind::Video => (self.video_ssrc, VIDEO_PT),
        }
    }

    async fn send(&self, _kind: Kind, packet: rtp::Packet) -> Result<(), LoadError> {
        let bytes = packet
            .marshal()
            .map_err(|e| LoadError::Setup(format!("RTP packet: {e}")))?;
        self.socket.send_to(&bytes, self.relay).await?;
        Ok(())
    }
}

/// Registers receiver `id` (0: the chair's grid) and records what arrives.
pub async fn subscribe(
    relay: SocketAddr,
    id: u32,
    recorder: Arc<Recorder>,
    clock: Clock,
    running: Arc<AtomicBool>,
    limit: Duration,
) -> Result<(), LoadError> {
    let socket = bind_and_register(relay, Control::Subscriber(id)).await?;
    spawn_reader(socket, running, limit, move |d| {
        let mut bytes = d;
        if let Ok(p) = rtp::Packet::unmarshal(&mut bytes) {
            recorder.on_payload(&p.payload, clock.now_us());
        }
    });
    Ok(())
}

/// Moves the floor on the relay.
pub struct RelayFloor {
    socket: UdpSocket,
    relay: SocketAddr,
}

impl RelayFloor {
    /// A control socket towards `relay`.
    pub async fn new(relay: SocketAddr) -> Result<RelayFloor, LoadError> {
        let local = if relay.is_ipv6() {
            "[::1]:0"
        } else {
            "127.0.0.1:0"
        };
        Ok(RelayFloor {
            socket: UdpSocket::bind(local).await?,
            relay,
        })
    }

    /// Gives the floor to publisher `holder`.
    pub async fn grant(&self, holder: u32) -> Result<(), LoadError> {
        self.socket
            .send_to(&Control::Floor(holder).encode(), self.relay)
            .await?;
        Ok(())
    }
}
