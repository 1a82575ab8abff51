//! Which connection a datagram on the shared socket belongs to.
//!
//! Every peer connection shares one UDP port, so the socket task has to pick
//! the connection for each datagram itself. ICE gives a handle that needs no
//! state: a STUN request carries `USERNAME = <our ufrag>:<their ufrag>`, and
//! our ufrag is unique per connection. The server runs ICE-lite, so every
//! path starts with such a request from the client.
//!
//! A request only *names* a ufrag: anyone can write one, and its
//! MESSAGE-INTEGRITY is checked by the connection's ICE agent, not here.
//! So a request is handed to the connection but its source address is not
//! remembered; an address is learnt ([`Demux::learn`]) only once the
//! connection sends to it, which its agent does only for a request that
//! verified (it discards the others unanswered) or a pair it validated.
//! DTLS, SRTP and SRTCP from a learnt address follow it. A client that
//! moves (new NAT binding, ICE restart) checks from its new address and is
//! answered, which teaches the new address. A connection keeps its
//! [`ADDRESSES_PER_CONNECTION`] latest addresses, so a flood of forged
//! sources cannot grow the table.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::SocketAddr;

const STUN_MAGIC_COOKIE: [u8; 4] = [0x21, 0x12, 0xA4, 0x42];
const STUN_HEADER_LEN: usize = 20;
const ATTR_USERNAME: u16 = 0x0006;
/// Addresses remembered per connection: a client's host, reflexive and
/// relayed paths, and one more during a move.
pub(crate) const ADDRESSES_PER_CONNECTION: usize = 4;

/// Routes datagrams to connection keys.
#[derive(Debug)]
pub(crate) struct Demux<K> {
    by_ufrag: HashMap<String, K>,
    by_addr: HashMap<SocketAddr, K>,
    /// Each connection's learnt addresses, oldest first.
    learnt: HashMap<K, VecDeque<SocketAddr>>,
}

impl<K: Clone + Eq + Hash> Demux<K> {
    pub(crate) fn new() -> Self {
        Demux {
            by_ufrag: HashMap::new(),
            by_addr: HashMap::new(),
            learnt: HashMap::new(),
        }
    }

    /// Makes STUN requests naming `ufrag` reach `key`. An ICE restart adds the
    /// new ufrag; the old one stays until [`Demux::forget`], so checks that
    /// were in flight during the restart still land.
    pub(crate) fn register_ufrag(&mut self, ufrag: &str, key: K) {
        self.by_ufrag.insert(ufrag.to_string(), key);
    }

    /// Drops every route to `key`.
    pub(crate) fn forget(&mut self, key: &K) {
        self.by_ufrag.retain(|_, k| k != key);
        self.by_addr.retain(|_, k| k != key);
        self.learnt.remove(key);
    }

    /// Routes datagrams from `addr` to `key`: called when `key`'s connection
    /// sends to `addr` (see the module doc). The connection's oldest
    /// address beyond [`ADDRESSES_PER_CONNECTION`] is forgotten.
    pub(crate) fn learn(&mut self, addr: SocketAddr, key: &K) {
        if self.by_addr.get(&addr) == Some(key) {
            return;
        }
        if let Some(previous) = self.by_addr.insert(addr, key.clone()) {
            if let Some(list) = self.learnt.get_mut(&previous) {
                list.retain(|a| *a != addr);
            }
        }
        let list = self.learnt.entry(key.clone()).or_default();
        list.push_back(addr);
        while list.len() > ADDRESSES_PER_CONNECTION {
            if let Some(old) = list.pop_front() {
                self.by_addr.remove(&old);
            }
        }
    }

    /// The connection for a datagram from `from`: the one a STUN message's
    /// USERNAME names, else the one that learnt the address.
    pub(crate) fn route(&self, datagram: &[u8], from: SocketAddr) -> Option<K> {
        if let Some(ufrag) = stun_local_ufrag(datagram) {
            if let Some(key) = self.by_ufrag.get(ufrag) {
                return Some(key.clone());
            }
        }
        self.by_addr.get(&from).cloned()
    }
}

/// Our ufrag from a STUN message's USERNAME attribute (`ours:theirs`), if the
/// datagram is a STUN message that has one. Bounds are checked at every step:
/// the bytes come from anyone on the network.
pub(crate) fn stun_local_ufrag(datagram: &[u8]) -> Option<&str> {
    // STUN messages start with two zero bits (RFC 7983 demultiplexing) and
    // carry the magic cookie; DTLS, RTP and RTCP never match both.
    if datagram.len() < STUN_HEADER_LEN || datagram[0] & 0xC0 != 0 {
        return None;
    }
    if datagram[4..8] != STUN_MAGIC_COOKIE {
        return None;
    }
    let body_len = u16::from_be_bytes([datagram[2], datagram[3]]) as usize;
    let end = STUN_HEADER_LEN.checked_add(body_len)?.min(datagram.len());
    let mut at = STUN_HEADER_LEN;
    while at + 4 <= end {
        let kind = u16::from_be_bytes([datagram[at], datagram[at + 1]]);
        let len = u16::from_be_bytes([datagram[at + 2], datagram[at + 3]]) as usize;
        let value = datagram.get(at + 4..at + 4 + len)?;
        if kind == ATTR_USERNAME {
            let username = std::str::from_utf8(value).ok()?;
            return username.split(':').next();
        }
        // Attributes are padded to a multiple of four bytes.
        at += 4 + len.div_ceil(4) * 4;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding_request(username: &str) -> Vec<u8> {
        let mut attr = Vec::new();
        attr.extend_from_slice(&ATTR_USERNAME.to_be_bytes());
        attr.extend_from_slice(&(username.len() as u16).to_be_bytes());
        attr.extend_from_slice(username.as_bytes());
        while attr.len() % 4 != 0 {
            attr.push(0);
        }
        let mut msg = vec![0x00, 0x01];
        msg.extend_from_slice(&(attr.len() as u16).to_be_bytes());
        msg.extend_from_slice(&STUN_MAGIC_COOKIE);
        msg.extend_from_slice(&[7; 12]);
        msg.extend_from_slice(&attr);
        msg
    }

    #[test]
    fn reads_our_half_of_the_username() {
        let msg = binding_request("srvfrag:clientfrag");
        assert_eq!(stun_local_ufrag(&msg), Some("srvfrag"));
    }

    #[test]
    fn ignores_non_stun_and_truncated_input() {
        assert_eq!(stun_local_ufrag(&[0x80; 40]), None);
        let msg = binding_request("abc:def");
        assert_eq!(stun_local_ufrag(&msg[..msg.len() - 6]), None);
        assert_eq!(stun_local_ufrag(&[]), None);
    }

    proptest::proptest! {
        /// Whatever arrives, the reader answers: from noise, and from a
        /// valid STUN header followed by any attribute bytes.
        #[test]
        fn any_datagram_is_read_without_panic(
            body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600),
            claimed in proptest::prelude::any::<u16>(),
        ) {
            let _ = stun_local_ufrag(&body);
            let mut msg = vec![0x00, 0x01];
            msg.extend_from_slice(&claimed.to_be_bytes());
            msg.extend_from_slice(&STUN_MAGIC_COOKIE);
            msg.extend_from_slice(&[7; 12]);
            msg.extend_from_slice(&body);
            let _ = stun_local_ufrag(&msg);
        }
    }

    #[test]
    fn a_request_reaches_its_connection_but_only_an_answer_teaches_the_address() {
        let mut demux = Demux::new();
        demux.register_ufrag("aaaa", 1u32);
        let from: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        assert_eq!(demux.route(&[0x80, 0, 0, 0], from), None);
        assert_eq!(demux.route(&binding_request("aaaa:zz"), from), Some(1));
        // Unverified: media from that address still goes nowhere.
        assert_eq!(demux.route(&[0x80, 0, 0, 0], from), None);
        demux.learn(from, &1);
        assert_eq!(demux.route(&[0x80, 0, 0, 0], from), Some(1));
        demux.forget(&1);
        assert_eq!(demux.route(&[0x80, 0, 0, 0], from), None);
    }

    #[test]
    fn a_connection_keeps_only_its_latest_addresses() {
        let mut demux = Demux::new();
        let addr = |port: u16| SocketAddr::from(([127, 0, 0, 1], port));
        for port in 1..=1000 {
            demux.learn(addr(port), &7u32);
        }
        assert_eq!(demux.by_addr.len(), ADDRESSES_PER_CONNECTION);
        assert_eq!(demux.route(&[0x80], addr(1000)), Some(7));
        assert_eq!(demux.route(&[0x80], addr(1)), None);
        // An address taken over by another connection leaves the first one's list.
        demux.learn(addr(1000), &8u32);
        assert_eq!(demux.route(&[0x80], addr(1000)), Some(8));
        assert_eq!(demux.learnt[&7].len(), ADDRESSES_PER_CONNECTION - 1);
    }
}
