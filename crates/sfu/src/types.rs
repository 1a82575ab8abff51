//! The types at the media plane's boundary: who a connection is, what
//! happened to a link, what a `/ws` client must be told.

use diemcau_control::{EndpointCode, SessionId};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Who a peer connection belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PeerKind {
    /// A browser or WHIP publisher of that endpoint; the chair is the
    /// central endpoint's code. Publishes, and receives the `chair` and
    /// `floor` slots (plus every endpoint's tiles when it is the chair).
    Participant(EndpointCode),
    /// A viewer of the programme (WHEP, or a viewer token over `/ws`):
    /// receives the `chair` and `floor` slots only.
    Viewer,
    /// A technician's console over `/ws`: receives what the chair does
    /// (the programme, and a tile per site with the audio the chair may
    /// hear), and never publishes.
    Technician,
}

/// A peer connection's id: unguessable, printed in WHIP/WHEP `Location` URLs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerId(pub(crate) u128);

impl PeerId {
    pub(crate) fn random() -> PeerId {
        PeerId(rand::random())
    }
}

impl fmt::Display for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

/// Who opened a connection, as far as limits go: a digest of the token it
/// came with, so that one token's connections can be counted without the
/// media plane keeping the token itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Owner(u64);

impl Owner {
    /// The owner that presented `token`.
    pub fn of_token(token: &str) -> Owner {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        token.hash(&mut h);
        Owner(h.finish())
    }
}

/// The text is not a peer id.
#[derive(Debug, thiserror::Error)]
#[error("not a peer id")]
pub struct BadPeerId;

impl FromStr for PeerId {
    type Err = BadPeerId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() != 32 {
            return Err(BadPeerId);
        }
        u128::from_str_radix(s, 16)
            .map(PeerId)
            .map_err(|_| BadPeerId)
    }
}

impl Serialize for PeerId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PeerId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// What happened to a participant's link; the server turns these into
/// `Connect`, `Disconnect` and `Leave` commands. Viewers raise none (they
/// are not in the attendance).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkEvent {
    /// ICE and DTLS are up: media can flow.
    Up {
        /// Session.
        session: SessionId,
        /// The endpoint whose link came up.
        endpoint: EndpointCode,
        /// Its peer connection.
        peer: PeerId,
    },
    /// The link stayed disconnected or failed past a short grace.
    Lost {
        /// Session.
        session: SessionId,
        /// The endpoint whose link was lost.
        endpoint: EndpointCode,
        /// Its peer connection.
        peer: PeerId,
    },
    /// The peer was closed by [`MediaPlane::close`] (WHIP DELETE, leave).
    Closed {
        /// Session.
        session: SessionId,
        /// The endpoint whose link was closed.
        endpoint: EndpointCode,
        /// Its peer connection.
        peer: PeerId,
    },
    /// The session's recording stopped by itself: its file could not be
    /// written (the disk is full, say). Media flows on; no new file is
    /// started until recording is turned off and on again.
    RecordingStopped {
        /// Session.
        session: SessionId,
        /// What went wrong.
        reason: String,
    },
}

/// How a peer is signalled, which decides what the plane may ask of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalPath {
    /// A `/ws` client: it answers server offers (tiles, ICE restarts), and
    /// a new offer for an endpoint replaces that endpoint's older peer (a
    /// page that reloaded before its old socket was noticed gone).
    WebSocket,
    /// WHIP or WHEP: one offer, one answer, nothing after. Never
    /// renegotiated, and refused while the endpoint already has a peer.
    Http,
}

/// Which outgoing stream one m-line carries, as sent in `tracks`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrackInfo {
    /// The m-line's mid.
    pub mid: String,
    /// `chair`, `floor` or `tile`.
    pub slot: &'static str,
    /// Whose media it carries now: the tile's endpoint, or the current
    /// source of `chair` / `floor` (none while it is silent).
    pub endpoint: Option<EndpointCode>,
    /// `audio` or `video`.
    pub kind: &'static str,
}

/// A message the server must relay to a `/ws` client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signal {
    /// A server-initiated offer (new tiles for the chair, ICE restart);
    /// the client answers through [`MediaPlane::accept_answer`].
    Offer(String),
    /// A server candidate, JSON of `RTCIceCandidateInit`. The server's one
    /// candidate is already in every SDP it writes, so this is rarely sent.
    Candidate(String),
    /// The m-line → slot mapping changed (new lines, or a slot's source).
    Tracks(Vec<TrackInfo>),
    /// A newer connection of the same site took over (a second page or a
    /// backup machine) and this one is closed. Its page must not reconnect
    /// by itself: two pages doing so would take the site from each other
    /// every time one noticed, and neither would keep the programme.
    Replaced,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_id_round_trips_through_text() {
        let id = PeerId::random();
        assert_eq!(id.to_string().parse::<PeerId>().ok(), Some(id));
        assert!("xyz".parse::<PeerId>().is_err());
    }
}
