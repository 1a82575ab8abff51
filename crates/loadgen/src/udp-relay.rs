//! `udp-relay`: the floor under the bridge in the benchmark.
//!
//! Plain RTP over UDP, no ICE, DTLS or SRTP, no rewriting: each packet is
//! read once and written to the subscribers the programme pattern names
//! (chair to every endpoint, floor holder to every endpoint, endpoint video
//! and the holder's audio to the chair's grid if one subscribed). One
//! thread, one socket, blocking IO: the cheapest fan-out we know how to
//! write, so the bridge's figures can be read as a ratio to it.
//!
//! The load generator registers publishers and subscribers and moves the floor with the text datagrams of
//! `relay_protocol` (each one echoed); a floor change sends a PLI to the new holder, as a
//! bridge would.

#[allow(dead_code)] // shared with the load generator; this side uses half of it
#[path = "loadgen/relay_protocol.rs"]
mod relay_protocol;

use clap::Parser;
use relay_protocol::{is_rtp_or_rtcp, is_video, pli, Control};
use std::collections::HashMap;
use std::io::Write;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

/// Plain RTP fan-out relay, for benchmarks on loopback.
#[derive(Parser)]
#[command(name = "udp-relay", version)]
struct Args {
    /// Address to listen on (loopback only); port 0 picks one.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Stop after this long.
    #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Socket buffer asked of the kernel each way, bytes (capped by
    /// `net.core.rmem_max`/`wmem_max`); the bridge's media socket asks
    /// for the same 4 MiB, so the two are measured alike.
    #[arg(long, default_value_t = 4 * 1024 * 1024)]
    socket_buffer: usize,
}

/// The socket, with the buffers asked for; a smaller buffer than asked is
/// still a working relay, so a refusal is only reported.
fn bind(addr: SocketAddr, buffer: usize) -> std::io::Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if let Err(e) = socket.set_recv_buffer_size(buffer) {
        eprintln!("udp-relay: cannot set the receive buffer: {e}");
    }
    if let Err(e) = socket.set_send_buffer_size(buffer) {
        eprintln!("udp-relay: cannot set the send buffer: {e}");
    }
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

/// Who is where, and who holds the floor.
#[derive(Default)]
struct Table {
    publishers: HashMap<SocketAddr, u32>,
    publisher_addr: HashMap<u32, SocketAddr>,
    endpoints: Vec<(u32, SocketAddr)>,
    chair_grid: Option<SocketAddr>,
    floor: Option<u32>,
}

/// What the relay did, printed at exit.
#[derive(Default)]
struct Counts {
    received: u64,
    sent: u64,
    dropped: u64,
    send_errors: u64,
}

impl Table {
    fn control(&mut self, from: SocketAddr, c: Control, socket: &UdpSocket) {
        // Every control datagram is echoed: the sender retries until it
        // hears back, since a burst of joins can overflow this socket's
        // receive buffer.
        let _ = socket.send_to(&c.encode(), from);
        match c {
            Control::Publisher(id) => {
                self.publishers.insert(from, id);
                self.publisher_addr.insert(id, from);
            }
            Control::Subscriber(0) => self.chair_grid = Some(from),
            Control::Subscriber(id) => {
                if !self.endpoints.iter().any(|&(i, _)| i == id) {
                    self.endpoints.push((id, from));
                }
            }
            Control::Floor(id) => {
                self.floor = Some(id);
                if let Some(&addr) = self.publisher_addr.get(&id) {
                    let _ = socket.send_to(&pli(0), addr);
                }
            }
        }
    }

    /// Forwards one packet from publisher `id`.
    fn forward(&self, id: u32, packet: &[u8], socket: &UdpSocket, counts: &mut Counts) {
        let programme = id == 0 || self.floor == Some(id);
        let to_grid = id != 0 && (is_video(packet) || self.floor == Some(id));
        if !programme && !to_grid {
            counts.dropped += 1;
            return;
        }
        let endpoints = if programme { &self.endpoints[..] } else { &[] };
        let grid = if to_grid { self.chair_grid } else { None };
        for addr in endpoints.iter().map(|&(_, a)| a).chain(grid) {
            match socket.send_to(packet, addr) {
                Ok(_) => counts.sent += 1,
                Err(_) => counts.send_errors += 1,
            }
        }
    }
}

fn main() -> std::io::Result<()> {
    let args = Args::parse();
    if !args.listen.ip().is_loopback() {
        eprintln!(
            "udp-relay: {} is not a loopback address; it only listens on 127.0.0.1 or ::1",
            args.listen
        );
        std::process::exit(2);
    }
    let socket = bind(args.listen, args.socket_buffer)?;
    // Wakes the loop even when nothing arrives, so the deadline is kept.
    socket.set_read_timeout(Some(Duration::from_millis(200)))?;
    println!("udp-relay listening on {}", socket.local_addr()?);
    std::io::stdout().flush()?;

    let deadline = Instant::now() + args.duration;
    let mut table = Table::default();
    let mut counts = Counts::default();
    let mut buf = [0u8; 2048];
    while Instant::now() < deadline {
        let (n, from) = match socket.recv_from(&mut buf) {
            Ok(r) => r,
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                continue
            }
            Err(e) => return Err(e),
        };
        // Anything from off the machine is ignored: this relay is for loopback benchmarks.
        if !from.ip().is_loopback() {
            continue;
        }
        let Some(datagram) = buf.get(..n) else {
            continue;
        };
        counts.received += 1;
        if !is_rtp_or_rtcp(datagram) {
            if let Some(c) = Control::decode(datagram) {
                table.control(from, c, &socket);
            }
            continue;
        }
        match table.publishers.get(&from) {
            Some(&id) => table.forward(id, datagram, &socket, &mut counts),
            None => counts.dropped += 1,
        }
    }
    println!(
        "udp-relay done: received {} sent {} dropped {} send errors {}",
        counts.received, counts.sent, counts.dropped, counts.send_errors
    );
    Ok(())
}
