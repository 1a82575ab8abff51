//! The handle the rest of the server holds: [`MediaPlane`], and the types
//! that cross its boundary.
//!
//! Every method sends a command to the one media task and, where there is
//! something to wait for, awaits its reply; the task owns every connection,
//! so no lock is held around WebRTC state.

use super::driver::{self, Command};
use super::{LinkEvent, LinkStats, MediaError, Owner, PeerId, PeerKind, Signal, SignalPath};
use crate::config::MediaConfig;
use crate::control::{EndpointCode, ForwardingPolicy, SessionId};
use serde::Serialize;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};

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
