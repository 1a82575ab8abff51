//! A meeting driven the way the server drives one: a real control
//! `Session`, link events turned into `Connect`/`Disconnect`/`Leave`, and
//! every change of state pushed to the media plane as a new policy.

use diemcau::control::{
    Command, EndpointCode, EndpointInfo, EndpointRole, GrantTarget, Millis, Mode, Rules, Session,
    SessionId, SessionSpec,
};
use diemcau::media::{LinkEvent, MediaPlane, PeerId, PeerKind, Signal};
use diemcau_testkit::{ContentLine, TestPeer};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// One joined client: its synthetic peer and its id on the server.
pub struct Joined {
    pub peer: TestPeer,
    pub id: PeerId,
    /// The server's first answer (its ICE credentials, its candidate).
    pub answer: String,
    /// Offers the server sent after that (renegotiations).
    pub server_offers: std::sync::Arc<std::sync::atomic::AtomicU64>,
    signals: JoinHandle<()>,
}

impl Drop for Joined {
    fn drop(&mut self) {
        self.signals.abort();
    }
}

/// A session, its media plane and the link events not yet applied.
pub struct Meeting {
    pub plane: MediaPlane,
    pub id: SessionId,
    pub session: Session,
    events: mpsc::Receiver<LinkEvent>,
    clock: u64,
}

impl Meeting {
    /// A plane on 127.0.0.1 (any port) and a live session with central
    /// endpoint `chair` and the given provincial endpoints.
    pub async fn start(chair: &str, endpoints: &[&str]) -> Meeting {
        Meeting::start_recording_into(chair, endpoints, None).await
    }

    /// [`Meeting::start`], with recordings written under `recordings`.
    pub async fn start_recording_into(
        chair: &str,
        endpoints: &[&str],
        recordings: Option<std::path::PathBuf>,
    ) -> Meeting {
        let cfg = diemcau::config::MediaConfig {
            udp_port: 0,
            bind_ip: [127, 0, 0, 1].into(),
            ..Default::default()
        };
        let (plane, events) = MediaPlane::start_recording_into(&cfg, recordings)
            .await
            .expect("media plane starts");
        let mut infos = vec![EndpointInfo {
            code: chair.into(),
            name: "Trung ương".into(),
            role: EndpointRole::Central,
        }];
        infos.extend(endpoints.iter().map(|c| EndpointInfo {
            code: (*c).into(),
            name: format!("Tỉnh {c}"),
            role: EndpointRole::Provincial,
        }));
        let id = SessionId("test".into());
        let spec = SessionSpec {
            id: id.clone(),
            title: "Họp trực tuyến".into(),
            endpoints: infos,
            rules: Rules::default(),
        };
        let (session, _) = Session::create(spec, Millis(1_000)).expect("session created");
        let mut meeting = Meeting {
            plane,
            id,
            session,
            events,
            clock: 1_000,
        };
        meeting.apply(Command::Open);
        meeting.apply(Command::Start);
        meeting
    }

    /// Applies a command (it must be accepted) and pushes the new policy.
    pub fn apply(&mut self, command: Command) {
        self.clock += 10;
        let name = command.name();
        if let Err(rejection) = self.session.apply(command, Millis(self.clock)) {
            panic!("{name} rejected: {rejection:?}");
        }
        self.plane.set_policy(&self.id, self.session.policy());
    }

    pub fn grant(&mut self, endpoint: &str) {
        self.apply(Command::GrantFloor {
            target: GrantTarget::Endpoint(endpoint.into()),
        });
    }

    pub fn revoke(&mut self) {
        self.apply(Command::RevokeFloor { endpoint: None });
    }

    pub fn mode(&mut self, mode: Mode) {
        self.apply(Command::SetMode { mode });
    }

    /// Joins a participant (`Some(code)`) or a viewer, answering the
    /// server's later offers in the background.
    pub async fn join(&self, code: Option<&str>, name: &str) -> Joined {
        self.join_with(code, name, ContentLine::None).await
    }

    /// [`Meeting::join`], with a content line as a page has one.
    pub async fn join_with(&self, code: Option<&str>, name: &str, content: ContentLine) -> Joined {
        let peer = TestPeer::with_content(name, code.is_some(), content).await;
        let kind = match code {
            Some(c) => PeerKind::Participant(EndpointCode::from(c)),
            None => PeerKind::Viewer,
        };
        let offer = peer.offer().await;
        let (id, answer, mut signals) = self
            .plane
            .accept_offer(&self.id, kind, &offer)
            .await
            .expect("offer accepted");
        peer.apply_answer(answer.clone()).await;
        let plane = self.plane.clone();
        let pc = peer.pc();
        let server_offers = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let offers = server_offers.clone();
        let signals = tokio::spawn(async move {
            while let Some(signal) = signals.recv().await {
                if let Signal::Offer(sdp) = signal {
                    offers.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let offer = webrtc::peer_connection::RTCSessionDescription::offer(sdp)
                        .expect("server offer parses");
                    pc.set_remote_description(offer)
                        .await
                        .expect("server offer applied");
                    let answer = pc.create_answer(None).await.expect("answer created");
                    pc.set_local_description(answer)
                        .await
                        .expect("answer applied");
                    let sdp = pc.local_description().await.expect("local description").sdp;
                    plane
                        .accept_answer(&id, &sdp)
                        .await
                        .expect("answer accepted");
                }
            }
        });
        Joined {
            peer,
            id,
            answer,
            server_offers,
            signals,
        }
    }

    /// Applies link events until `count` endpoints came up.
    pub async fn await_up(&mut self, count: usize, limit: Duration) {
        let mut up = 0;
        let deadline = tokio::time::Instant::now() + limit;
        while up < count {
            let event = tokio::time::timeout_at(deadline, self.events.recv())
                .await
                .unwrap_or_else(|_| panic!("only {up} of {count} links up within {limit:?}"))
                .expect("link events channel open");
            if let Some(command) = to_command(&event) {
                if matches!(event, LinkEvent::Up { .. }) {
                    up += 1;
                }
                self.apply(command);
            }
        }
    }
}

/// The command the server derives from a link event.
pub fn to_command(event: &LinkEvent) -> Option<Command> {
    Some(match event {
        LinkEvent::Up { endpoint, .. } => Command::Connect {
            endpoint: endpoint.clone(),
        },
        LinkEvent::Lost { endpoint, .. } => Command::Disconnect {
            endpoint: endpoint.clone(),
        },
        LinkEvent::Closed { endpoint, .. } => Command::Leave {
            endpoint: endpoint.clone(),
        },
        LinkEvent::RecordingStopped { .. } => return None,
    })
}
