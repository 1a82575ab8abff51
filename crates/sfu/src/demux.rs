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

/// Property-based fuzzing of the datagram router: every datagram and every
/// source address comes from the network. The case count is proptest's
/// (256, or `PROPTEST_CASES`; see the README for the long run).
#[cfg(test)]
mod fuzz {
    use super::*;
    use proptest::collection::vec;
    use proptest::prelude::*;

    /// One STUN attribute as written: its type, the length it claims, and
    /// the bytes that follow (which may disagree with the claim).
    #[derive(Debug, Clone)]
    struct Attr {
        kind: u16,
        claimed: Option<u16>,
        value: Vec<u8>,
    }

    fn attr() -> impl Strategy<Value = Attr> {
        let kind = prop_oneof![
            3 => Just(ATTR_USERNAME),
            1 => Just(0x0008u16), // MESSAGE-INTEGRITY
            1 => Just(0x8028u16), // FINGERPRINT
            2 => any::<u16>(),
        ];
        let value = prop_oneof![
            2 => "[a-zA-Z0-9+/:]{0,40}".prop_map(String::into_bytes),
            1 => vec(any::<u8>(), 0..64),
        ];
        let claimed = prop_oneof![4 => Just(None), 1 => any::<u16>().prop_map(Some)];
        (kind, claimed, value).prop_map(|(kind, claimed, value)| Attr {
            kind,
            claimed,
            value,
        })
    }

    fn encode(attrs: &[Attr]) -> Vec<u8> {
        let mut out = Vec::new();
        for a in attrs {
            let len = a.claimed.unwrap_or(a.value.len() as u16);
            out.extend_from_slice(&a.kind.to_be_bytes());
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(&a.value);
            while out.len() % 4 != 0 {
                out.push(0);
            }
        }
        out
    }

    fn message(kind: u16, claimed_body: Option<u16>, body: &[u8]) -> Vec<u8> {
        let mut msg = kind.to_be_bytes().to_vec();
        let len = claimed_body.unwrap_or(body.len() as u16);
        msg.extend_from_slice(&len.to_be_bytes());
        msg.extend_from_slice(&STUN_MAGIC_COOKIE);
        msg.extend_from_slice(&[0x5A; 12]);
        msg.extend_from_slice(body);
        msg
    }

    /// What a correct reader returns for a well-formed message: the first
    /// USERNAME's value up to its first `:`, if it is UTF-8.
    fn expected_ufrag(attrs: &[Attr]) -> Option<String> {
        let username = attrs.iter().find(|a| a.kind == ATTR_USERNAME)?;
        let text = std::str::from_utf8(&username.value).ok()?;
        text.split(':').next().map(str::to_string)
    }

    /// Whether `part` lies inside `whole` (the reader borrows, never copies).
    fn inside(part: &str, whole: &[u8]) -> bool {
        let (start, end) = (
            whole.as_ptr() as usize,
            whole.as_ptr() as usize + whole.len(),
        );
        let p = part.as_ptr() as usize;
        p >= start && p + part.len() <= end
    }

    fn check_answer(datagram: &[u8]) -> Result<(), TestCaseError> {
        if let Some(ufrag) = stun_local_ufrag(datagram) {
            prop_assert!(datagram.len() >= STUN_HEADER_LEN);
            prop_assert_eq!(datagram[0] & 0xC0, 0);
            prop_assert_eq!(&datagram[4..8], &STUN_MAGIC_COOKIE[..]);
            prop_assert!(!ufrag.contains(':'));
            prop_assert!(inside(ufrag, datagram));
        }
        Ok(())
    }

    /// A datagram the router may see: noise, a STUN request naming one of
    /// a few ufrags, or one with a mangled header or body.
    fn datagram() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            vec(any::<u8>(), 0..200),
            ("[abc]{1,2}", "[a-z]{0,4}").prop_map(|(ours, theirs)| {
                let attrs = [Attr {
                    kind: ATTR_USERNAME,
                    claimed: None,
                    value: format!("{ours}:{theirs}").into_bytes(),
                }];
                message(0x0001, None, &encode(&attrs))
            }),
            (any::<u16>(), vec(any::<u8>(), 0..64)).prop_map(|(claimed, body)| message(
                0x0001,
                Some(claimed),
                &body
            )),
        ]
    }

    #[derive(Debug, Clone)]
    enum Op {
        Register(String, u8),
        Learn(SocketAddr, u8),
        Forget(u8),
        Route(Vec<u8>, SocketAddr),
    }

    /// A few addresses used over and over (so connections fight over them),
    /// and any address at all.
    fn address() -> impl Strategy<Value = SocketAddr> {
        prop_oneof![
            3 => (0u8..3, 1u16..8).prop_map(|(host, port)| SocketAddr::from(([192, 0, 2, host], port))),
            1 => any::<SocketAddr>(),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        let key = 0u8..5;
        prop_oneof![
            1 => ("[abc]{1,2}", key.clone()).prop_map(|(u, k)| Op::Register(u, k)),
            4 => (address(), key.clone()).prop_map(|(a, k)| Op::Learn(a, k)),
            1 => key.prop_map(Op::Forget),
            3 => (datagram(), address()).prop_map(|(d, a)| Op::Route(d, a)),
        ]
    }

    /// The table's own bookkeeping agrees with itself and with the bound.
    fn check_tables(demux: &Demux<u8>) -> Result<(), TestCaseError> {
        let mut total = 0;
        for (key, list) in &demux.learnt {
            prop_assert!(list.len() <= ADDRESSES_PER_CONNECTION, "{key}: {list:?}");
            for (i, addr) in list.iter().enumerate() {
                prop_assert_eq!(demux.by_addr.get(addr), Some(key));
                prop_assert!(!list.iter().skip(i + 1).any(|a| a == addr));
            }
            total += list.len();
        }
        prop_assert_eq!(demux.by_addr.len(), total);
        Ok(())
    }

    proptest! {
        /// Noise of any length: an answer, and one that points into the
        /// datagram at a ufrag without `:`.
        #[test]
        fn stun_reader_answers_any_bytes(datagram in vec(any::<u8>(), 0..1500)) {
            check_answer(&datagram)?;
        }

        /// STUN-shaped messages with any type, claimed lengths that lie,
        /// attributes that lie about their length, and truncation anywhere.
        /// When nothing lies, the reader finds exactly the first USERNAME.
        #[test]
        fn stun_reader_follows_attributes(
            kind in prop_oneof![Just(0x0001u16), any::<u16>()],
            attrs in vec(attr(), 0..6),
            claimed_body in prop_oneof![4 => Just(None), 1 => any::<u16>().prop_map(Some)],
            cut in prop_oneof![4 => Just(None), 1 => any::<usize>().prop_map(Some)],
        ) {
            let body = encode(&attrs);
            let mut msg = message(kind, claimed_body, &body);
            if let Some(cut) = cut {
                msg.truncate(cut % (msg.len() + 1));
            }
            check_answer(&msg)?;
            let honest = claimed_body.is_none()
                && cut.is_none()
                && attrs.iter().all(|a| a.claimed.is_none())
                && kind & 0xC000 == 0;
            if honest {
                prop_assert_eq!(
                    stun_local_ufrag(&msg).map(str::to_string),
                    expected_ufrag(&attrs)
                );
            }
        }

        /// Any interleaving of registrations, answers, forgets and routed
        /// datagrams: no panic, at most ADDRESSES_PER_CONNECTION addresses
        /// per connection, the tables consistent, and routing as a simple
        /// model of "latest addresses per connection, ufrag first" says.
        #[test]
        fn demux_keeps_its_bounds(ops in vec(op(), 0..64)) {
            let mut demux: Demux<u8> = Demux::new();
            let mut ufrags: HashMap<String, u8> = HashMap::new();
            let mut model: HashMap<u8, VecDeque<SocketAddr>> = HashMap::new();
            for op in ops {
                match op {
                    Op::Register(ufrag, key) => {
                        demux.register_ufrag(&ufrag, key);
                        ufrags.insert(ufrag, key);
                    }
                    Op::Learn(addr, key) => {
                        demux.learn(addr, &key);
                        let owner = model.iter().find(|(_, l)| l.contains(&addr)).map(|(k, _)| *k);
                        if owner != Some(key) {
                            if let Some(owner) = owner {
                                model.get_mut(&owner).unwrap().retain(|a| *a != addr);
                            }
                            let list = model.entry(key).or_default();
                            list.push_back(addr);
                            while list.len() > ADDRESSES_PER_CONNECTION {
                                list.pop_front();
                            }
                        }
                        prop_assert_eq!(demux.route(&[0x80, 0x60], addr), Some(key));
                    }
                    Op::Forget(key) => {
                        demux.forget(&key);
                        ufrags.retain(|_, k| *k != key);
                        model.remove(&key);
                        prop_assert!(!demux.by_ufrag.values().any(|k| *k == key));
                        prop_assert!(!demux.by_addr.values().any(|k| *k == key));
                    }
                    Op::Route(datagram, from) => {
                        let by_ufrag = stun_local_ufrag(&datagram).and_then(|u| ufrags.get(u).copied());
                        let by_addr = model.iter().find(|(_, l)| l.contains(&from)).map(|(k, _)| *k);
                        prop_assert_eq!(demux.route(&datagram, from), by_ufrag.or(by_addr));
                    }
                }
                check_tables(&demux)?;
            }
        }

        /// The same messages read by the stack's own STUN decoder (which
        /// the connection's ICE agent uses): whenever it takes a message
        /// whole, the router names the same ufrag from the same USERNAME.
        #[test]
        fn stun_reader_agrees_with_the_stack(
            attrs in vec(attr(), 0..6),
            claimed_body in prop_oneof![4 => Just(None), 1 => any::<u16>().prop_map(Some)],
            tail in vec(any::<u8>(), 0..8),
        ) {
            let mut msg = message(0x0001, claimed_body, &encode(&attrs));
            msg.extend_from_slice(&tail);
            let mut stack = rtc::stun::message::Message::new();
            if stack.unmarshal_binary(&msg).is_ok() {
                let theirs = stack
                    .get(rtc::stun::attributes::ATTR_USERNAME)
                    .ok()
                    .and_then(|v| String::from_utf8(v).ok())
                    .and_then(|u| u.split(':').next().map(str::to_string));
                prop_assert_eq!(stun_local_ufrag(&msg).map(str::to_string), theirs);
            }
        }
    }
}
