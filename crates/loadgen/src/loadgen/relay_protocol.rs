//! What the load generator and the baseline relay say to each other.
//!
//! The relay carries plain RTP over UDP with no ICE, DTLS or SRTP, so the
//! little signaling it needs travels as short text datagrams on the same
//! port. Their first byte is an ASCII letter, never an RTP/RTCP first byte
//! (version 2 sets the top bits to `10`), so one look tells them apart.
//! This file is shared by both programs; each uses its half.

/// Payload type of video on the relay (no SDP to negotiate it).
pub const VIDEO_PT: u8 = 96;
/// Payload type of audio on the relay.
pub const AUDIO_PT: u8 = 111;

const PREFIX: &str = "DCR ";

/// A control datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// "This socket publishes for id" (0 is the chair).
    Publisher(u32),
    /// "This socket receives for id" (0 is the chair's grid).
    Subscriber(u32),
    /// "The floor goes to id" (the generator plays the chair's console).
    Floor(u32),
}

impl Control {
    /// The datagram.
    pub fn encode(&self) -> Vec<u8> {
        let (verb, id) = match self {
            Control::Publisher(id) => ("PUB", id),
            Control::Subscriber(id) => ("SUB", id),
            Control::Floor(id) => ("FLOOR", id),
        };
        format!("{PREFIX}{verb} {id}").into_bytes()
    }

    /// Reads a datagram; `None` for anything else.
    pub fn decode(datagram: &[u8]) -> Option<Control> {
        let text = std::str::from_utf8(datagram).ok()?.strip_prefix(PREFIX)?;
        let (verb, id) = text.split_once(' ')?;
        let id: u32 = id.trim().parse().ok()?;
        match verb {
            "PUB" => Some(Control::Publisher(id)),
            "SUB" => Some(Control::Subscriber(id)),
            "FLOOR" => Some(Control::Floor(id)),
            _ => None,
        }
    }
}

/// Whether a datagram is RTP or RTCP (version 2).
pub fn is_rtp_or_rtcp(datagram: &[u8]) -> bool {
    datagram.first().is_some_and(|b| b >> 6 == 2)
}

/// Whether an RTP packet (not RTCP) carries video, by payload type.
pub fn is_video(datagram: &[u8]) -> bool {
    datagram.get(1).is_some_and(|b| b & 0x7f == VIDEO_PT)
}

/// An RTCP PLI (RFC 4585 §6.3.1) for `media_ssrc`.
pub fn pli(media_ssrc: u32) -> [u8; 12] {
    let mut p = [0u8; 12];
    p[0] = 0x80 | 1; // V=2, FMT=1 (PLI)
    p[1] = 206; // PSFB
    p[3] = 2; // length: 3 words − 1
    p[8..12].copy_from_slice(&media_ssrc.to_be_bytes());
    p
}

/// Whether a datagram is a PLI.
pub fn is_pli(datagram: &[u8]) -> bool {
    datagram.len() >= 12
        && datagram
            .first()
            .is_some_and(|b| b >> 6 == 2 && b & 0x1f == 1)
        && datagram.get(1) == Some(&206)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Control datagrams round-trip and are never taken for RTP.
    #[test]
    fn control_round_trips_and_is_not_rtp() {
        for c in [
            Control::Publisher(0),
            Control::Subscriber(63),
            Control::Floor(7),
        ] {
            let d = c.encode();
            assert_eq!(Control::decode(&d), Some(c));
            assert!(!is_rtp_or_rtcp(&d));
        }
        assert_eq!(Control::decode(b"DCR JUMP 1"), None);
        assert!(is_pli(&pli(5)) && is_rtp_or_rtcp(&pli(5)));
    }
}
