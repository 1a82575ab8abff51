//! The media port: the UDP sockets behind the one port, and the addresses
//! written into the ICE candidates.
//!
//! ICE checks a datagram's *local* address against the candidates it
//! advertised, so the stack must be told, for every datagram, which
//! advertised address it arrived on. A socket bound to the wildcard cannot
//! say (it would report `0.0.0.0:PORT`, which matches no candidate, and
//! every check would be discarded), and its replies leave from whatever
//! address the routing table picks. So, bound to the wildcard, the port is
//! one socket per usable interface address, all on the same port number,
//! each advertised as a host candidate: a datagram's socket names its
//! candidate, and replies leave from the address the client checked.
//!
//! Behind a 1:1 NAT (`public_ip`) clients reach the public address and the
//! NAT delivers to the private one: there the port is one socket (the
//! configured bind address) whose every datagram is taken as arriving on
//! the one public candidate.
//!
//! The interface list is read once, at start: an address added later is
//! not advertised until the server restarts.
//!
//! Each address also listens on TCP with the same port number, for ICE-TCP
//! ([`tcp`](super::tcp)), unless `ice_tcp` is off.

use super::run::Run;
use super::tcp::{TcpSide, MAX_FRAME};
use crate::config::MediaConfig;
use diemcau_sfu::Transmit;
use rtc::shared::TransportProtocol;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Poll;
use tokio::io::ReadBuf;
use tokio::net::UdpSocket;

/// Socket buffer asked of the kernel, each way. One port carries every
/// client: at a few thousand packets a second the default (~200 KiB)
/// holds a few tens of milliseconds, so any pause of the media task
/// drops datagrams — consent checks with them, and links go down. The
/// kernel caps it at `net.core.rmem_max` / `wmem_max`.
const SOCKET_BUFFER_BYTES: usize = 4 * 1024 * 1024;

/// One bound socket and the candidate address it stands for.
#[derive(Debug)]
struct Bound {
    socket: UdpSocket,
    candidate: SocketAddr,
}

/// Room in a read buffer for the largest datagram, UDP or framed TCP.
pub(super) const READ_BUFFER: usize = MAX_FRAME;

/// A datagram read from the port.
#[derive(Debug, Clone, Copy)]
pub(super) struct Arrival {
    pub(super) len: usize,
    pub(super) from: SocketAddr,
    /// The advertised candidate it arrived on.
    pub(super) to: SocketAddr,
    /// UDP, or TCP (ICE-TCP).
    pub(super) protocol: TransportProtocol,
}

/// The sockets of the media port.
#[derive(Debug)]
pub(super) struct MediaPort {
    bound: Vec<Bound>,
    /// Where the next `try_recv` starts, so no socket starves the others.
    next: usize,
    /// ICE-TCP, when on and its port could be bound.
    tcp: Option<TcpSide>,
    /// Whether the kernel cuts runs of datagrams ([`Run`]) itself: known
    /// at bind, and turned off for good if a send says otherwise.
    segmenting: AtomicBool,
}

impl MediaPort {
    /// Binds the port as `cfg` says (see the module doc).
    pub(super) async fn bind(cfg: &MediaConfig) -> io::Result<MediaPort> {
        let wildcard = cfg.bind_ip.is_unspecified();
        let mut bound = Vec::new();
        // (bound address, candidate) per socket, for the TCP twin.
        let mut pairs = Vec::new();
        if !wildcard || cfg.public_ip.is_some() {
            let socket = bind_one(SocketAddr::new(cfg.bind_ip, cfg.udp_port))?;
            let local = socket.local_addr()?;
            let ip = cfg.public_ip.unwrap_or(local.ip());
            pairs.push((local, SocketAddr::new(ip, local.port())));
            bound.push(Bound {
                socket,
                candidate: SocketAddr::new(ip, local.port()),
            });
        } else {
            let mut port = cfg.udp_port;
            for ip in interface_addresses(cfg.bind_ip) {
                let socket = bind_one(SocketAddr::new(ip, port))?;
                let local = socket.local_addr()?;
                // Port 0 picks a free port once; every other address takes the same.
                port = local.port();
                pairs.push((local, local));
                bound.push(Bound {
                    socket,
                    candidate: local,
                });
            }
        }
        if bound.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::AddrNotAvailable,
                "no address to bind the media port to",
            ));
        }
        let tcp = if cfg.ice_tcp {
            match TcpSide::listen(&pairs).await {
                Ok(side) => Some(side),
                // Media still flows over UDP; only UDP-blocked sites lose.
                Err(err) => {
                    tracing::warn!(%err, "cannot listen for ICE-TCP; UDP only");
                    None
                }
            }
        } else {
            None
        };
        let segmenting = AtomicBool::new(bound.iter().all(|b| segment::supported(&b.socket)));
        Ok(MediaPort {
            bound,
            next: 0,
            tcp,
            segmenting,
        })
    }

    /// Whether runs of several datagrams may be built: the kernel sends
    /// them with one system call.
    pub(super) fn segmenting(&self) -> bool {
        self.segmenting.load(Ordering::Relaxed)
    }

    /// Whether ICE-TCP candidates may be offered.
    pub(super) fn has_tcp(&self) -> bool {
        self.tcp.is_some()
    }

    /// The advertised candidate addresses, one per socket.
    pub(super) fn candidates(&self) -> Vec<SocketAddr> {
        self.bound.iter().map(|b| b.candidate).collect()
    }

    /// Waits for a datagram on any socket or ICE-TCP connection.
    pub(super) async fn recv(&mut self, buf: &mut [u8]) -> io::Result<Arrival> {
        std::future::poll_fn(|cx| {
            for b in &self.bound {
                let mut read = ReadBuf::new(buf);
                if let Poll::Ready(res) = b.socket.poll_recv_from(cx, &mut read) {
                    return Poll::Ready(res.map(|from| Arrival {
                        len: read.filled().len(),
                        from,
                        to: b.candidate,
                        protocol: TransportProtocol::UDP,
                    }));
                }
            }
            if let Some(tcp) = &mut self.tcp {
                if let Poll::Ready(Some(frame)) = tcp.inbound.poll_recv(cx) {
                    return Poll::Ready(Ok(tcp_arrival(frame, buf)));
                }
            }
            Poll::Pending
        })
        .await
    }

    /// A datagram already waiting on some socket, without blocking.
    pub(super) fn try_recv(&mut self, buf: &mut [u8]) -> Option<Arrival> {
        let n = self.bound.len();
        for i in 0..n {
            let b = &self.bound[(self.next + i) % n];
            if let Ok((len, from)) = b.socket.try_recv_from(buf) {
                self.next = (self.next + i + 1) % n;
                return Some(Arrival {
                    len,
                    from,
                    to: b.candidate,
                    protocol: TransportProtocol::UDP,
                });
            }
        }
        let frame = self.tcp.as_mut()?.inbound.try_recv().ok()?;
        Some(tcp_arrival(frame, buf))
    }

    /// Sends a run and empties it: several datagrams with one system call,
    /// one datagram as [`send`](Self::send) does. Returns how many went out
    /// with one call; none when the run was sent one by one (a kernel that
    /// refuses to cut a run, which ends segmenting for good) or dropped
    /// (a full socket buffer, as the network would drop them).
    pub(super) fn send_run(&self, run: &mut Run) -> usize {
        let sent = match run.datagrams() {
            [] => 0,
            [one] => {
                self.send_logged(one);
                0
            }
            many => match self.send_segmented(many) {
                Ok(()) => many.len(),
                Err(err) if segment::is_full(&err) => {
                    tracing::trace!(to = %many[0].to, %err, "run dropped on send");
                    0
                }
                Err(err) => {
                    if segment::refused(&err) && self.segmenting.swap(false, Ordering::Relaxed) {
                        tracing::warn!(%err, "the kernel does not cut runs of datagrams; sending one by one");
                    }
                    many.iter().for_each(|t| self.send_logged(t));
                    0
                }
            },
        };
        run.clear();
        sent
    }

    fn send_logged(&self, t: &Transmit) {
        if let Err(err) = self.send(&t.data, t.from, t.to, t.protocol) {
            tracing::trace!(to = %t.to, %err, "datagram dropped on send");
        }
    }

    /// The socket of candidate `local`, or the first one when `local` names
    /// none.
    fn socket(&self, local: SocketAddr) -> io::Result<&UdpSocket> {
        self.bound
            .iter()
            .find(|b| b.candidate == local)
            .or_else(|| self.bound.first())
            .map(|b| &b.socket)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "no media socket"))
    }

    /// One `sendmsg` for the whole run (see [`segment::send`]).
    fn send_segmented(&self, run: &[Transmit]) -> io::Result<()> {
        let first = run
            .first()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "an empty run"))?;
        if !self.segmenting() {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "segmenting is off",
            ));
        }
        segment::send(self.socket(first.from)?, run, first.to)
    }

    /// Sends from the socket of candidate `local` (the first socket when
    /// `local` names none), or on the ICE-TCP connection from `to`. A full
    /// buffer drops the datagram, as the network would.
    pub(super) fn send(
        &self,
        data: &[u8],
        local: SocketAddr,
        to: SocketAddr,
        protocol: TransportProtocol,
    ) -> io::Result<()> {
        if protocol == TransportProtocol::TCP {
            let sent = self.tcp.as_ref().is_some_and(|t| t.send(data, to));
            return if sent {
                Ok(())
            } else {
                Err(io::Error::new(
                    io::ErrorKind::NotConnected,
                    "no ICE-TCP connection",
                ))
            };
        }
        self.socket(local)?.try_send_to(data, to).map(|_| ())
    }
}

/// Runs sent with one system call: Linux's UDP segmentation offload.
#[cfg(target_os = "linux")]
mod segment {
    use diemcau_sfu::Transmit;
    use nix::errno::Errno;
    use nix::sys::socket::SockaddrStorage;
    use nix::sys::socket::{getsockopt, sendmsg, sockopt, ControlMessage, MsgFlags};
    use std::io;
    use std::net::SocketAddr;
    use std::os::fd::AsRawFd;
    use tokio::net::UdpSocket;

    /// Whether the kernel takes the `UDP_SEGMENT` option on `socket`:
    /// Linux 4.18 and later. An older kernel would ignore the option on a
    /// send and send a run as one large datagram, so this is asked before
    /// any run is built.
    pub(super) fn supported(socket: &UdpSocket) -> bool {
        getsockopt(socket, sockopt::UdpGsoSegment).is_ok()
    }

    /// Sends `run` to `to` with one `sendmsg`, the `UDP_SEGMENT` option
    /// saying where to cut it: the first datagram's size (a [`Run`] keeps
    /// the others to it).
    ///
    /// [`Run`]: super::Run
    pub(super) fn send(socket: &UdpSocket, run: &[Transmit], to: SocketAddr) -> io::Result<()> {
        let size = run.first().map_or(0, |t| t.data.len());
        let size = u16::try_from(size)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "datagram too large"))?;
        let parts: Vec<io::IoSlice<'_>> = run.iter().map(|t| io::IoSlice::new(&t.data)).collect();
        sendmsg(
            socket.as_raw_fd(),
            &parts,
            &[ControlMessage::UdpGsoSegments(&size)],
            MsgFlags::empty(),
            Some(&SockaddrStorage::from(to)),
        )?;
        Ok(())
    }

    /// A full socket buffer: the run is lost, as one datagram would be.
    pub(super) fn is_full(err: &io::Error) -> bool {
        err.kind() == io::ErrorKind::WouldBlock || err.raw_os_error() == Some(Errno::ENOBUFS as i32)
    }

    /// What a kernel or a route says when it cannot cut a run: the device
    /// cannot compute the checksums (`EIO`), or a segment does not fit the
    /// route's MTU (`EINVAL`).
    pub(super) fn refused(err: &io::Error) -> bool {
        err.kind() == io::ErrorKind::Unsupported
            || [Errno::EIO, Errno::EINVAL]
                .iter()
                .any(|e| err.raw_os_error() == Some(*e as i32))
    }
}

/// Elsewhere every datagram is sent alone.
#[cfg(not(target_os = "linux"))]
mod segment {
    use diemcau_sfu::Transmit;
    use std::io;
    use std::net::SocketAddr;
    use tokio::net::UdpSocket;

    pub(super) fn supported(_socket: &UdpSocket) -> bool {
        false
    }

    pub(super) fn send(_: &UdpSocket, _: &[Transmit], _: SocketAddr) -> io::Result<()> {
        Err(io::ErrorKind::Unsupported.into())
    }

    pub(super) fn is_full(err: &io::Error) -> bool {
        err.kind() == io::ErrorKind::WouldBlock
    }

    pub(super) fn refused(err: &io::Error) -> bool {
        err.kind() == io::ErrorKind::Unsupported
    }
}

/// A TCP frame as an arrival, its bytes in `buf` (frames are at most
/// `MAX_FRAME`, the size of the media task's buffer).
fn tcp_arrival(frame: super::tcp::Frame, buf: &mut [u8]) -> Arrival {
    let len = frame.data.len().min(buf.len());
    buf[..len].copy_from_slice(&frame.data[..len]);
    Arrival {
        len,
        from: frame.from,
        to: frame.to,
        protocol: TransportProtocol::TCP,
    }
}

fn bind_one(addr: SocketAddr) -> io::Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    // A smaller buffer than asked is still a working socket.
    if let Err(err) = socket.set_recv_buffer_size(SOCKET_BUFFER_BYTES) {
        tracing::warn!(%err, "cannot enlarge the media socket's receive buffer");
    }
    if let Err(err) = socket.set_send_buffer_size(SOCKET_BUFFER_BYTES) {
        tracing::warn!(%err, "cannot enlarge the media socket's send buffer");
    }
    socket.set_nonblocking(true)?;
    socket
        .bind(&addr.into())
        .map_err(|e| io::Error::new(e.kind(), format!("{addr}: {e}")))?;
    UdpSocket::from_std(socket.into())
}

/// The addresses a wildcard bind stands for: every address of the same
/// family on an interface that is up, without loopback and link-local
/// addresses (no client on another machine reaches those); loopback alone
/// when there is nothing else, so a machine without a network still works
/// for itself.
fn interface_addresses(wildcard: IpAddr) -> Vec<IpAddr> {
    let all: Vec<IpAddr> = match if_addrs::get_if_addrs() {
        Ok(list) => list.into_iter().map(|i| i.ip()).collect(),
        Err(err) => {
            tracing::warn!(%err, "cannot list the network interfaces");
            Vec::new()
        }
    };
    usable(wildcard, all)
}

fn usable(wildcard: IpAddr, all: Vec<IpAddr>) -> Vec<IpAddr> {
    let same_family = |ip: &IpAddr| ip.is_ipv4() == wildcard.is_ipv4();
    let mut out: Vec<IpAddr> = all
        .iter()
        .copied()
        .filter(same_family)
        .filter(|ip| !ip.is_loopback() && !is_link_local(ip))
        .collect();
    out.sort();
    out.dedup();
    if out.is_empty() {
        out.push(if wildcard.is_ipv4() {
            IpAddr::from([127, 0, 0, 1])
        } else {
            IpAddr::from(std::net::Ipv6Addr::LOCALHOST)
        });
    }
    out
}

fn is_link_local(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => v6.segments()[0] & 0xffc0 == 0xfe80,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ips(list: &[&str]) -> Vec<IpAddr> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn a_wildcard_stands_for_the_routable_addresses_of_its_family() {
        let all = ips(&[
            "127.0.0.1",
            "10.0.0.2",
            "169.254.1.1",
            "192.0.2.2",
            "::1",
            "fe80::1",
            "fd00::2",
            "10.0.0.2",
        ]);
        assert_eq!(
            usable("0.0.0.0".parse().unwrap(), all.clone()),
            ips(&["10.0.0.2", "192.0.2.2"])
        );
        assert_eq!(usable("::".parse().unwrap(), all), ips(&["fd00::2"]));
    }

    #[test]
    fn a_machine_with_only_loopback_advertises_loopback() {
        assert_eq!(
            usable("0.0.0.0".parse().unwrap(), ips(&["127.0.0.1", "::1"])),
            ips(&["127.0.0.1"])
        );
    }

    #[tokio::test]
    async fn every_socket_of_a_wildcard_port_shares_one_port_and_names_its_candidate() {
        let cfg = MediaConfig {
            udp_port: 0,
            bind_ip: "0.0.0.0".parse().unwrap(),
            ..MediaConfig::default()
        };
        let mut port = MediaPort::bind(&cfg).await.expect("bind");
        let candidates = port.candidates();
        assert!(!candidates.is_empty());
        assert!(candidates.iter().all(|c| c.port() == candidates[0].port()));
        assert!(candidates.iter().all(|c| !c.ip().is_unspecified()));
        // A datagram sent to a candidate is reported as arriving on it.
        let target = candidates[0];
        let client = std::net::UdpSocket::bind(SocketAddr::new(target.ip(), 0)).unwrap();
        client.send_to(b"hello", target).unwrap();
        let mut buf = [0u8; 64];
        let got = port.recv(&mut buf).await.expect("recv");
        assert_eq!(&buf[..got.len], b"hello");
        assert_eq!(got.to, target);
        assert_eq!(got.from, client.local_addr().unwrap());
    }

    #[tokio::test]
    async fn behind_a_nat_every_datagram_arrives_on_the_public_candidate() {
        let cfg = MediaConfig {
            udp_port: 0,
            bind_ip: "0.0.0.0".parse().unwrap(),
            public_ip: Some("203.0.113.10".parse().unwrap()),
            ..MediaConfig::default()
        };
        let mut port = MediaPort::bind(&cfg).await.expect("bind");
        let candidates = port.candidates();
        assert_eq!(candidates.len(), 1);
        assert_eq!(
            candidates[0].ip(),
            "203.0.113.10".parse::<IpAddr>().unwrap()
        );
        let local = SocketAddr::new("127.0.0.1".parse().unwrap(), candidates[0].port());
        let client = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        client.send_to(b"x", local).unwrap();
        let mut buf = [0u8; 16];
        let got = port.recv(&mut buf).await.expect("recv");
        assert_eq!(got.to, candidates[0]);
    }

    /// A run of five full datagrams and a short one, as a forwarded frame
    /// makes: sent with one call where the kernel cuts runs, and received
    /// as the six datagrams they were, each whole and in order; over IPv4
    /// and, where the machine has it, IPv6.
    #[tokio::test]
    async fn a_run_arrives_as_the_datagrams_it_was_made_of() {
        run_arrives_whole("127.0.0.1").await;
        if std::net::UdpSocket::bind("[::1]:0").is_ok() {
            run_arrives_whole("::1").await;
        }
    }

    async fn run_arrives_whole(ip: &str) {
        let ip: IpAddr = ip.parse().unwrap();
        let cfg = MediaConfig {
            udp_port: 0,
            bind_ip: ip,
            ice_tcp: false,
            ..MediaConfig::default()
        };
        let port = MediaPort::bind(&cfg).await.expect("bind");
        let from = port.candidates()[0];
        let receiver = std::net::UdpSocket::bind(SocketAddr::new(ip, 0)).unwrap();
        receiver
            .set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        let to = receiver.local_addr().unwrap();
        let sizes = [1100, 1100, 1100, 1100, 1100, 700];
        let mut run = Run::default();
        for (i, &len) in sizes.iter().enumerate() {
            let t = Transmit {
                from,
                to,
                protocol: TransportProtocol::UDP,
                data: bytes::BytesMut::from(&vec![i as u8; len][..]),
            };
            if !run.takes(&t, port.segmenting()) {
                port.send_run(&mut run);
            }
            run.push(t);
        }
        let in_one_call = port.send_run(&mut run);
        if cfg!(target_os = "linux") {
            assert!(port.segmenting(), "this kernel cuts no runs ({ip})");
            assert_eq!(in_one_call, sizes.len(), "{ip}");
        }
        assert!(run.datagrams().is_empty(), "a sent run is emptied");
        let mut buf = [0u8; 2048];
        for (i, &len) in sizes.iter().enumerate() {
            let (n, src) = receiver.recv_from(&mut buf).expect("datagram");
            assert_eq!(src, from, "{ip}");
            assert_eq!(n, len, "datagram {i} ({ip})");
            assert!(
                buf[..n].iter().all(|&b| b == i as u8),
                "datagram {i} mixed ({ip})"
            );
        }
    }
}
