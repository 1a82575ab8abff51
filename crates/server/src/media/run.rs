//! Runs of datagrams: several in a row to one address, of one size, that
//! the kernel can send with one system call.
//!
//! A forwarded video frame reaches each receiver as several packets, one
//! after another, that packetisers cut to one size (the last may be
//! smaller). Linux sends such a run with one `sendmsg` that names the
//! size in a `UDP_SEGMENT` option (UDP segmentation offload): the system
//! call, the socket and route lookups and the IP output path are paid once
//! for the run instead of once per datagram, and the run is cut into
//! ordinary datagrams before it leaves the machine (by the kernel, or by
//! the network card where it can). A receiver sees no difference.

use diemcau_sfu::Transmit;
use rtc::shared::TransportProtocol;

/// The kernel's limit of datagrams per run (`UDP_MAX_SEGMENTS`).
const MAX_SEGMENTS: usize = 64;
/// The run is one UDP datagram until the kernel cuts it, so its bytes stay
/// under the largest one IPv4 carries (65,507).
const MAX_BYTES: usize = 65_000;

/// Datagrams gathered for one send.
#[derive(Debug, Default)]
pub(super) struct Run {
    datagrams: Vec<Transmit>,
    bytes: usize,
}

impl Run {
    /// Whether `t` may join the run; if not, the run must be sent first.
    /// An empty run takes any datagram; with `segmenting` off (the kernel
    /// cannot cut runs), nothing joins one. Otherwise `t` must go over UDP
    /// between the same two addresses, be no larger than the first (the
    /// segment size) and follow no shorter one (only the last segment may
    /// be short), within the kernel's limits.
    pub(super) fn takes(&self, t: &Transmit, segmenting: bool) -> bool {
        let (Some(first), Some(last)) = (self.datagrams.first(), self.datagrams.last()) else {
            return true;
        };
        let segment = first.data.len();
        segmenting
            && first.protocol == TransportProtocol::UDP
            && t.protocol == TransportProtocol::UDP
            && t.to == first.to
            && t.from == first.from
            && last.data.len() == segment
            && !t.data.is_empty()
            && t.data.len() <= segment
            && self.datagrams.len() < MAX_SEGMENTS
            && self.bytes + t.data.len() <= MAX_BYTES
    }

    /// Adds `t`, which [`takes`](Self::takes) allowed.
    pub(super) fn push(&mut self, t: Transmit) {
        self.bytes += t.data.len();
        self.datagrams.push(t);
    }

    /// The datagrams, in the order taken; the first one's size is the
    /// segment size.
    pub(super) fn datagrams(&self) -> &[Transmit] {
        &self.datagrams
    }

    /// Empties the run after it was sent.
    pub(super) fn clear(&mut self) {
        self.datagrams.clear();
        self.bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;
    use std::net::SocketAddr;

    fn udp(to: &str, len: usize) -> Transmit {
        Transmit {
            from: "127.0.0.1:5000".parse().unwrap(),
            to: to.parse().unwrap(),
            protocol: TransportProtocol::UDP,
            data: BytesMut::zeroed(len),
        }
    }

    /// Pushes each datagram, sending the run first (recording its sizes)
    /// whenever it takes no more, as the media task does.
    fn runs(datagrams: Vec<Transmit>, segmenting: bool) -> Vec<Vec<usize>> {
        let mut run = Run::default();
        let mut sent = Vec::new();
        let mut send = |run: &mut Run| {
            if !run.datagrams().is_empty() {
                sent.push(run.datagrams().iter().map(|t| t.data.len()).collect());
            }
            run.clear();
        };
        for t in datagrams {
            if !run.takes(&t, segmenting) {
                send(&mut run);
                assert!(run.takes(&t, segmenting), "an empty run takes any datagram");
            }
            run.push(t);
        }
        send(&mut run);
        sent
    }

    const A: &str = "127.0.0.1:6000";
    const B: &str = "127.0.0.1:6001";

    #[test]
    fn an_evenly_cut_frame_goes_in_two_runs() {
        // 10,416 bytes cut in ten as a packetiser does: six of 1,042, then
        // four of 1,041. The first 1,041 ends the first run as its short
        // last segment.
        let mut frame: Vec<Transmit> = (0..6).map(|_| udp(A, 1042)).collect();
        frame.extend((0..4).map(|_| udp(A, 1041)));
        assert_eq!(
            runs(frame, true),
            vec![
                vec![1042; 6].into_iter().chain([1041]).collect::<Vec<_>>(),
                vec![1041; 3]
            ]
        );
    }

    #[test]
    fn a_larger_datagram_another_address_or_tcp_starts_a_new_run() {
        let mut tcp = udp(A, 100);
        tcp.protocol = TransportProtocol::TCP;
        let datagrams = vec![
            udp(A, 100),
            udp(A, 100),
            udp(A, 200),
            udp(B, 200),
            tcp,
            udp(A, 100),
        ];
        assert_eq!(
            runs(datagrams, true),
            vec![vec![100, 100], vec![200], vec![200], vec![100], vec![100]]
        );
    }

    #[test]
    fn nothing_follows_a_short_datagram() {
        let datagrams = vec![udp(A, 100), udp(A, 50), udp(A, 50), udp(A, 100)];
        assert_eq!(
            runs(datagrams, true),
            vec![vec![100, 50], vec![50], vec![100]]
        );
    }

    #[test]
    fn runs_keep_to_the_kernel_limits() {
        let many: Vec<Transmit> = (0..70).map(|_| udp(A, 10)).collect();
        let sizes: Vec<usize> = runs(many, true).iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![64, 6]);
        let large: Vec<Transmit> = (0..60).map(|_| udp(A, 1400)).collect();
        for run in runs(large, true) {
            assert!(run.iter().sum::<usize>() <= MAX_BYTES, "{}", run.len());
        }
    }

    #[test]
    fn without_segmenting_each_datagram_goes_alone() {
        let datagrams: Vec<Transmit> = (0..3).map(|_| udp(A, 100)).collect();
        assert_eq!(runs(datagrams, false), vec![vec![100]; 3]);
    }

    #[test]
    fn the_sender_is_part_of_the_run() {
        let mut other = udp(A, 100);
        other.from = "127.0.0.2:5000".parse::<SocketAddr>().unwrap();
        assert_eq!(
            runs(vec![udp(A, 100), other], true),
            vec![vec![100], vec![100]]
        );
    }
}
