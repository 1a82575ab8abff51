//! The media side of one WebSocket: the client's peer connection,
//! signalled over the socket.
//!
//! A chair token publishes as the registry's central site, an endpoint
//! token as its endpoint; technicians and viewers receive the programme.
//! An `offer` from the same client connection (same DTLS fingerprint)
//! renegotiates it; from a new one, replaces it. The peer lives as long as
//! the socket: when the socket ends (the client went, or the server closed
//! it for an expired token or for flooding) the peer is
//! closed, as a leave if the client said `leave` first, else as a lost link
//! (the site shows `dropped` until it comes back).

use super::message::{ClientMessage, ServerMessage};
use super::socket::Context;
use crate::auth::Role;
use crate::control::{Command, EndpointCode, Phase};
use crate::http::whip::media_error;
use crate::media::{MediaPlane, PeerId, PeerKind, Signal, SignalPath};
use std::collections::BTreeSet;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// One socket's peer connection, if it made one.
pub(super) struct MediaLink {
    media: MediaPlane,
    peer: Option<(PeerId, PeerKind)>,
    /// The DTLS fingerprint of the client's connection: an offer with the
    /// same one renegotiates it, another starts a new connection.
    fingerprint: Option<String>,
    forward: Option<JoinHandle<()>>,
    left: bool,
    /// The tiles a technician's console asked for, applied again to a
    /// connection it restarts.
    watching: Option<BTreeSet<EndpointCode>>,
}

impl MediaLink {
    pub(super) fn new(media: MediaPlane) -> MediaLink {
        MediaLink {
            media,
            peer: None,
            fingerprint: None,
            forward: None,
            left: false,
            watching: None,
        }
    }

    /// Remembers that the client left on purpose (its own `leave`), so
    /// closing the socket then reads as leaving, not as a dropped link.
    pub(super) fn note_command(&mut self, command: &Command) {
        if let (Command::Leave { endpoint }, Some((_, PeerKind::Participant(own)))) =
            (command, &self.peer)
        {
            if endpoint == own {
                self.left = true;
            }
        }
    }

    /// Handles a signaling message. Replies go on `out` in order (the
    /// answer before any server offer); `Some` is an error to send.
    pub(super) async fn handle(
        &mut self,
        ctx: &Context,
        message: ClientMessage,
        out: &mpsc::Sender<ServerMessage>,
    ) -> Option<ServerMessage> {
        let result = match message {
            ClientMessage::Offer { sdp } => {
                let offered = self.offer(ctx, &sdp, out).await;
                // A page whose media never starts is a support call: the
                // operator's log says why the server refused it.
                if let Err(e) = &offered {
                    tracing::info!(session = ?ctx.session, role = ?ctx.caller.role, code = %e.code, message = %e.message, "media offer refused");
                }
                offered
            }
            ClientMessage::Answer { sdp } => match self.peer_id() {
                Ok(peer) => self
                    .media
                    .accept_answer(&peer, &sdp)
                    .await
                    .map_err(media_error),
                Err(e) => Err(e),
            },
            ClientMessage::Candidate { candidate } => match self.peer_id() {
                Ok(peer) => self
                    .media
                    .add_candidate(&peer, &candidate.to_string())
                    .await
                    .map_err(media_error),
                Err(e) => Err(e),
            },
            ClientMessage::IceRestart {} => match self.peer_id() {
                Ok(peer) => self.media.restart_ice(&peer).await.map_err(media_error),
                Err(e) => Err(e),
            },
            ClientMessage::Watch { endpoints } => self.watch(ctx, endpoints).await,
            // Accepted so the page keeps sending; the monitor reads them.
            ClientMessage::Stats { .. } => Ok(()),
            ClientMessage::Command { .. }
            | ClientMessage::Ping { .. }
            | ClientMessage::Refresh { .. } => Ok(()),
        };
        result
            .err()
            .map(|e| ServerMessage::error(None, e.code, e.message))
    }

    async fn watch(
        &mut self,
        ctx: &Context,
        endpoints: Vec<EndpointCode>,
    ) -> Result<(), crate::http::AppError> {
        use crate::http::AppError;
        if ctx.caller.role != Role::Technician {
            return Err(AppError::forbidden(
                "only a technician's console chooses the tiles it receives",
            ));
        }
        if let Some(code) = endpoints
            .iter()
            .find(|c| ctx.state.registry.get(c).is_none())
        {
            return Err(AppError::bad_request(
                "unknown_endpoint",
                format!("no endpoint {code} in the registry"),
            ));
        }
        let sites: BTreeSet<EndpointCode> = endpoints.into_iter().collect();
        self.watching = Some(sites.clone());
        match &self.peer {
            Some((peer, _)) => self.media.watch(peer, sites).await.map_err(media_error),
            // Applied when the connection comes.
            None => Ok(()),
        }
    }

    /// The socket's peer connection and what it carries, once it offered.
    pub(super) fn peer(&self) -> Option<&(PeerId, PeerKind)> {
        self.peer.as_ref()
    }

    fn peer_id(&self) -> Result<PeerId, crate::http::AppError> {
        self.peer
            .as_ref()
            .map(|(id, _)| *id)
            .ok_or_else(|| crate::http::AppError::bad_request("no_peer", "send an offer first"))
    }

    async fn offer(
        &mut self,
        ctx: &Context,
        sdp: &str,
        out: &mpsc::Sender<ServerMessage>,
    ) -> Result<(), crate::http::AppError> {
        use crate::http::AppError;
        let Some(id) = &ctx.session else {
            return Err(AppError::bad_request(
                "no_session",
                "there is no session to join",
            ));
        };
        let ended = ctx
            .state
            .core
            .session(id)
            .is_none_or(|s| s.phase == Phase::Ended);
        if ended {
            return Err(AppError::bad_request(
                "wrong_phase",
                format!("session {id} has ended"),
            ));
        }
        let kind = match ctx.caller.role {
            Role::Chair => PeerKind::Participant(ctx.state.registry.central().code.clone()),
            Role::Endpoint => match ctx.caller.own_endpoint() {
                Some(code) => PeerKind::Participant(code.clone()),
                None => {
                    return Err(AppError::forbidden(
                        "an endpoint token must name its endpoint",
                    ))
                }
            },
            // Over /ws a technician's console can take the server's offers,
            // so it gets the chair's tiles; a viewer keeps the programme.
            Role::Technician => PeerKind::Technician,
            Role::Viewer => PeerKind::Viewer,
        };
        let fingerprint = fingerprint_of(sdp);
        if let (Some((peer, _)), Some(new)) = (&self.peer, &fingerprint) {
            if self.fingerprint.as_ref() == Some(new) {
                let answer = self
                    .media
                    .renegotiate(peer, sdp)
                    .await
                    .map_err(media_error)?;
                let _ = out.send(ServerMessage::Answer { sdp: answer }).await;
                return Ok(());
            }
        }
        // A page restarting its connection on the same socket: the old
        // peer goes quietly (a participant's is replaced inside the plane).
        // Its signals stop being relayed first, so the page is not told
        // that its own new connection replaced it.
        if let Some(task) = self.forward.take() {
            task.abort();
        }
        let (peer, answer, signals) = self
            .media
            .accept_offer_via(
                id,
                kind.clone(),
                sdp,
                SignalPath::WebSocket,
                Some(ctx.caller.owner),
            )
            .await
            .map_err(media_error)?;
        if let Some((old, PeerKind::Viewer | PeerKind::Technician)) =
            self.peer.replace((peer, kind))
        {
            let _ = self.media.close(&old).await;
        }
        self.fingerprint = fingerprint;
        self.left = false;
        if let Some(sites) = self.watching.clone() {
            // A technician's restarted connection keeps its choice of tiles.
            if let Err(err) = self.media.watch(&peer, sites).await {
                tracing::debug!(%peer, %err, "tiles not chosen");
            }
        }
        if out
            .send(ServerMessage::Answer { sdp: answer })
            .await
            .is_err()
        {
            return Ok(());
        }
        self.forward = Some(tokio::spawn(forward(signals, out.clone())));
        Ok(())
    }
}

/// The first `a=fingerprint` of an SDP: it names the client's DTLS
/// certificate, which lives as long as its `RTCPeerConnection`.
fn fingerprint_of(sdp: &str) -> Option<String> {
    sdp.lines()
        .find_map(|l| l.trim().strip_prefix("a=fingerprint:"))
        .map(|f| f.trim().to_ascii_lowercase())
}

/// Relays the plane's later signals to the socket until either side ends.
async fn forward(mut signals: mpsc::Receiver<Signal>, out: mpsc::Sender<ServerMessage>) {
    while let Some(signal) = signals.recv().await {
        let message = match signal {
            Signal::Offer(sdp) => ServerMessage::Offer { sdp },
            Signal::Candidate(json) => ServerMessage::Candidate {
                candidate: serde_json::from_str(&json).unwrap_or(serde_json::Value::String(json)),
            },
            Signal::Tracks(tracks) => ServerMessage::Tracks { tracks },
            Signal::Replaced => ServerMessage::Replaced,
        };
        if out.send(message).await.is_err() {
            return;
        }
    }
}

impl Drop for MediaLink {
    fn drop(&mut self) {
        if let Some(task) = self.forward.take() {
            task.abort();
        }
        let Some((peer, _)) = self.peer.take() else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (media, left) = (self.media.clone(), self.left);
        runtime.spawn(async move {
            // Already gone (replaced by a newer page, or closed) is fine.
            let _ = if left {
                media.close(&peer).await
            } else {
                media.drop_link(&peer).await
            };
        });
    }
}

#[cfg(test)]
mod tests {
    use super::ClientMessage;

    #[test]
    fn the_pages_signaling_messages_parse() {
        let parse = |s: &str| serde_json::from_str::<ClientMessage>(s);
        assert!(matches!(
            parse(r#"{"type":"ice_restart"}"#),
            Ok(ClientMessage::IceRestart {})
        ));
        assert!(matches!(
            parse(r#"{"type":"stats","stats":{"rtt_ms":12,"inbound":[]}}"#),
            Ok(ClientMessage::Stats { .. })
        ));
        let candidate = r#"{"type":"candidate","candidate":{"candidate":"candidate:1 1 udp 1 192.0.2.1 5000 typ host","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"abcd"}}"#;
        assert!(matches!(
            parse(candidate),
            Ok(ClientMessage::Candidate { .. })
        ));
        assert!(matches!(
            parse(r#"{"type":"offer","sdp":"v=0"}"#),
            Ok(ClientMessage::Offer { .. })
        ));
        assert!(parse(r#"{"type":"offer"}"#).is_err());
    }
}
