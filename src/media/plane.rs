//! The handle the rest of the server holds: [`MediaPlane`], and the types
//! that cross its boundary.
//!
//! Every method sends a command to the one media task and, where there is
//! something to wait for, awaits its reply; the task owns every connection,
//! so no lock is held around WebRTC state.

use super::driver::{self, Command};
use super::stats::LinkStats;
use super::MediaError;
use crate::config::MediaConfig;
use crate::control::{EndpointCode, ForwardingPolicy, SessionId};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};

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

/// The SFU. Cheap to clone; the media task stops when the last clone is dropped.
#[derive(Clone)]
pub struct MediaPlane {
    commands: mpsc::UnboundedSender<Command>,
    candidates: Vec<SocketAddr>,
    links: Arc<Mutex<Vec<LinkStats>>>,
    presentation: Presentation,
}

/// What a page applies to the sender of its presentation: a browser
/// takes the server's REMB as a ceiling for the whole connection, so the
/// content's own rate and frame rate are set on that sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Presentation {
    /// `[media] content_bitrate_kbps`.
    pub bitrate_kbps: u32,
    /// `[media] content_max_fps`.
    pub max_fps: u32,
}

impl fmt::Debug for MediaPlane {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MediaPlane")
            .field("candidates", &self.candidates)
            .finish_non_exhaustive()
    }
}

impl MediaPlane {
    /// Binds the UDP socket and starts the media task. Link events arrive on
    /// the returned receiver.
    pub async fn start(
        cfg: &MediaConfig,
    ) -> Result<(MediaPlane, mpsc::Receiver<LinkEvent>), MediaError> {
        MediaPlane::start_recording_into(cfg, None).await
    }

    /// [`MediaPlane::start`], writing recordings into a folder per
    /// session under `recordings` when their policy says to record.
    pub async fn start_recording_into(
        cfg: &MediaConfig,
        recordings: Option<std::path::PathBuf>,
    ) -> Result<(MediaPlane, mpsc::Receiver<LinkEvent>), MediaError> {
        let links = Arc::new(Mutex::new(Vec::new()));
        let (commands, candidates, events) = driver::spawn(cfg, links.clone(), recordings).await?;
        Ok((
            MediaPlane {
                commands,
                candidates,
                links,
                presentation: Presentation {
                    bitrate_kbps: cfg.content_bitrate_kbps,
                    max_fps: cfg.content_max_fps,
                },
            },
            events,
        ))
    }

    /// The addresses written into every connection's host candidates, one
    /// per socket of the media port (all on the same port).
    pub fn candidates(&self) -> &[SocketAddr] {
        &self.candidates
    }

    /// How pages send a presentation.
    pub fn presentation(&self) -> Presentation {
        self.presentation
    }

    /// The first advertised address: where a client on this machine can
    /// reach the media port. The port never starts without one.
    pub fn local_addr(&self) -> SocketAddr {
        self.candidates[0]
    }

    /// Replaces the policy applied to `session`. Slots switch at once (video
    /// at the new source's next keyframe, which is requested).
    pub fn set_policy(&self, session: &SessionId, policy: ForwardingPolicy) {
        // A stopped task has no sessions left to apply it to.
        let _ = self.commands.send(Command::SetPolicy {
            session: session.clone(),
            policy,
        });
    }

    /// Loops `endpoint`'s own media back to it on its floor slot (a link
    /// test), or stops doing so. Nobody else receives anything more: the
    /// policy still decides what every other leg carries.
    pub fn set_loopback(&self, session: &SessionId, endpoint: &EndpointCode, on: bool) {
        let _ = self.commands.send(Command::SetLoopback {
            session: session.clone(),
            endpoint: endpoint.clone(),
            on,
        });
    }

    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, MediaError>>) -> Command,
    ) -> Result<T, MediaError> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(make(tx))
            .map_err(|_| MediaError::Stopped)?;
        rx.await.map_err(|_| MediaError::Stopped)?
    }

    /// Answers a `/ws` client's offer: creates its peer connection in
    /// `session`. Returns the peer id, the SDP answer (complete: it carries
    /// the server's candidate) and the channel of later server-to-client
    /// signals.
    pub async fn accept_offer(
        &self,
        session: &SessionId,
        kind: PeerKind,
        offer_sdp: &str,
    ) -> Result<(PeerId, String, mpsc::Receiver<Signal>), MediaError> {
        self.accept_offer_via(session, kind, offer_sdp, SignalPath::WebSocket, None)
            .await
    }

    /// Like [`MediaPlane::accept_offer`], for a client signalled over `path`
    /// with the token of `owner` (viewers and technicians count against
    /// their token's limit; `None` counts against none).
    pub async fn accept_offer_via(
        &self,
        session: &SessionId,
        kind: PeerKind,
        offer_sdp: &str,
        path: SignalPath,
        owner: Option<Owner>,
    ) -> Result<(PeerId, String, mpsc::Receiver<Signal>), MediaError> {
        let session = session.clone();
        let offer = offer_sdp.to_string();
        self.ask(|reply| Command::AcceptOffer {
            session,
            kind,
            offer,
            path,
            owner,
            reply,
        })
        .await
    }

    /// A new offer from the client on its existing connection (a track
    /// added, or an ICE restart it started itself). Returns the answer.
    pub async fn renegotiate(&self, peer: &PeerId, offer_sdp: &str) -> Result<String, MediaError> {
        let (peer, offer) = (*peer, offer_sdp.to_string());
        self.ask(|reply| Command::Renegotiate { peer, offer, reply })
            .await
    }

    /// The client's answer to a server-initiated [`Signal::Offer`].
    pub async fn accept_answer(&self, peer: &PeerId, sdp: &str) -> Result<(), MediaError> {
        let (peer, sdp) = (*peer, sdp.to_string());
        self.ask(|reply| Command::AcceptAnswer { peer, sdp, reply })
            .await
    }

    /// A trickled client candidate (JSON of `RTCIceCandidateInit`).
    pub async fn add_candidate(
        &self,
        peer: &PeerId,
        candidate_json: &str,
    ) -> Result<(), MediaError> {
        let (peer, json) = (*peer, candidate_json.to_string());
        self.ask(|reply| Command::AddCandidate { peer, json, reply })
            .await
    }

    /// Restarts ICE: a [`Signal::Offer`] with new credentials goes to the client.
    pub async fn restart_ice(&self, peer: &PeerId) -> Result<(), MediaError> {
        let peer = *peer;
        self.ask(|reply| Command::RestartIce { peer, reply }).await
    }

    /// The sites whose tiles a technician's connection carries from now
    /// on (the others stay silent); until it is called, every tile.
    pub async fn watch(
        &self,
        peer: &PeerId,
        sites: std::collections::BTreeSet<EndpointCode>,
    ) -> Result<(), MediaError> {
        let peer = *peer;
        self.ask(|reply| Command::Watch { peer, sites, reply })
            .await
    }

    /// Closes the peer; a participant's link gets a [`LinkEvent::Closed`].
    pub async fn close(&self, peer: &PeerId) -> Result<(), MediaError> {
        let peer = *peer;
        self.ask(|reply| Command::Close { peer, reply }).await
    }

    /// Removes the peer as if its link had been lost (its signaling went
    /// away without saying goodbye): a participant whose link was up gets
    /// a [`LinkEvent::Lost`], not `Closed`.
    pub async fn drop_link(&self, peer: &PeerId) -> Result<(), MediaError> {
        let peer = *peer;
        self.ask(|reply| Command::Drop { peer, reply }).await
    }

    /// The session and kind of a peer, if it is still there.
    pub async fn peer(&self, peer: &PeerId) -> Result<(SessionId, PeerKind), MediaError> {
        let peer = *peer;
        self.ask(|reply| Command::Describe { peer, reply }).await
    }

    /// Every peer's link health, as of the last second.
    pub fn links(&self) -> Vec<LinkStats> {
        match self.links.lock() {
            Ok(links) => links.clone(),
            // A panic while the task held the lock left stale but whole data.
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
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
