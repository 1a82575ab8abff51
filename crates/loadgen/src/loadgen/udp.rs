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
/// Registrations are retried until the relay answers: a burst of joins
/// can overflow its receive buffer, and a lost one would silently leave a
/// publisher or receiver out of the run.
const HELLO_TRIES: usize = 20;
/// How long one try waits for the answer.
const HELLO_WAIT: Duration = Duration::from_millis(100);

async fn bind_and_register(relay: SocketAddr, hello: Control) -> Result<Arc<UdpSocket>, LoadError> {
    let local: SocketAddr = if relay.is_ipv6() {
        "[::1]:0"
    } else {
        "127.0.0.1:0"
    }
    .parse()
    .map_err(|_| LoadError::Setup("loopback address".into()))?;
    let socket = UdpSocket::bind(local).await?;
    socket.connect(relay).await?;
    let mut buf = [0u8; 2048];
    for _ in 0..HELLO_TRIES {
        socket.send(&hello.encode()).await?;
        // Any answer will do: the echo, or media already flowing to us.
        if let Ok(Ok(_)) = tokio::time::timeout(HELLO_WAIT, socket.recv(&mut buf)).await {
            return Ok(Arc::new(socket));
        }
    }
    Err(LoadError::Timeout(format!(
        "the relay at {relay} did not answer {hello:?}"
    )))
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
        self.socket.send(&bytes).await?;
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
    recorder.on_connected(clock.now_us());
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
}

impl RelayFloor {
    /// A control socket towards `relay`.
    pub async fn new(relay: SocketAddr) -> Result<RelayFloor, LoadError> {
        let local = if relay.is_ipv6() {
            "[::1]:0"
        } else {
            "127.0.0.1:0"
        };
        let socket = UdpSocket::bind(local).await?;
        socket.connect(relay).await?;
        Ok(RelayFloor { socket })
    }

    /// Gives the floor to publisher `holder`, retrying until the relay
    /// echoes it (bounded).
    pub async fn grant(&self, holder: u32) -> Result<(), LoadError> {
        let grant = Control::Floor(holder);
        let mut buf = [0u8; 64];
        for _ in 0..HELLO_TRIES {
            self.socket.send(&grant.encode()).await?;
            if let Ok(Ok(n)) = tokio::time::timeout(HELLO_WAIT, self.socket.recv(&mut buf)).await {
                if buf.get(..n).and_then(Control::decode) == Some(grant) {
                    return Ok(());
                }
            }
        }
        Err(LoadError::Timeout(format!(
            "the relay did not echo {grant:?}"
        )))
    }
}
