//! Signaling a [`TestPeer`] against the real server: over `/ws` as the web
//! pages do (offer, answer, server offers, `tracks`), or over WHIP/WHEP.

use diemcau_testkit::whip::HttpSignaled;
use diemcau_testkit::TestPeer;
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use webrtc::peer_connection::{PeerConnection, RTCSessionDescription};

/// Longest wait for the server's answer to an offer.
const ANSWER_WAIT: Duration = Duration::from_secs(20);

/// A client on `/ws` with its peer connection.
pub struct WsClient {
    pub peer: TestPeer,
    out: mpsc::UnboundedSender<String>,
    /// Every message that is not signaling (welcome, snapshot, events,
    /// ok/error answers), in arrival order.
    pub inbox: Arc<Mutex<Vec<Value>>>,
    /// The latest `tracks` message's list.
    pub tracks: Arc<Mutex<Vec<Value>>>,
    /// Server offers answered (renegotiations).
    pub server_offers: Arc<AtomicU64>,
    /// Server answers applied.
    pub answers: Arc<AtomicU64>,
    tasks: Vec<JoinHandle<()>>,
}

impl WsClient {
    /// Connects to `ws_base` (`ws://addr`) with `token`, follows `session`,
    /// and sends the peer's offer; returns once the answer is applied.
    pub async fn join(
        ws_base: &str,
        token: &str,
        session: &str,
        name: &str,
        publish: bool,
    ) -> WsClient {
        let url = format!("{ws_base}/ws?token={token}&session={session}");
        let (socket, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("websocket connects");
        let (mut sink, mut stream) = socket.split();
        let peer = TestPeer::new(name, publish).await;
        let (out, mut out_rx) = mpsc::unbounded_channel::<String>();
        let writer = tokio::spawn(async move {
            while let Some(text) = out_rx.recv().await {
                if sink.send(Message::Text(text.into())).await.is_err() {
                    return;
                }
            }
            let _ = sink.close().await;
        });
        let inbox = Arc::new(Mutex::new(Vec::new()));
        let tracks = Arc::new(Mutex::new(Vec::new()));
        let server_offers = Arc::new(AtomicU64::new(0));
        let answers = Arc::new(AtomicU64::new(0));
        let (answered_tx, answered_rx) = tokio::sync::oneshot::channel();
        let reader = {
            let (pc, out, inbox, tracks, offers, answers) = (
                peer.pc(),
                out.clone(),
                inbox.clone(),
                tracks.clone(),
                server_offers.clone(),
                answers.clone(),
            );
            let name = name.to_string();
            tokio::spawn(async move {
                let mut answered = Some(answered_tx);
                while let Some(Ok(message)) = stream.next().await {
                    let Message::Text(text) = message else {
                        continue;
                    };
                    let Ok(value) = serde_json::from_str::<Value>(text.as_str()) else {
                        continue;
                    };
                    match value["type"].as_str() {
                        Some("answer") => {
                            let sdp = value["sdp"].as_str().unwrap_or_default().to_string();
                            let ok = apply_answer(&pc, sdp).await;
                            if ok {
                                answers.fetch_add(1, Ordering::SeqCst);
                            }
                            if let Some(tx) = answered.take() {
                                let _ = tx.send(ok);
                            }
                        }
                        Some("offer") => {
                            let sdp = value["sdp"].as_str().unwrap_or_default().to_string();
                            match answer_offer(&pc, sdp).await {
                                Some(answer) => {
                                    offers.fetch_add(1, Ordering::SeqCst);
                                    let _ = out
                                        .send(json!({"type": "answer", "sdp": answer}).to_string());
                                }
                                None => eprintln!("{name}: could not answer a server offer"),
                            }
                        }
                        Some("tracks") => {
                            if let (Ok(mut t), Some(list)) =
                                (tracks.lock(), value["tracks"].as_array())
                            {
                                *t = list.clone();
                            }
                        }
                        _ => {
                            if let Ok(mut i) = inbox.lock() {
                                i.push(value);
                            }
                        }
                    }
                }
            })
        };
        let offer = peer.offer().await;
        out.send(json!({"type": "offer", "sdp": offer}).to_string())
            .expect("writer running");
        let client = WsClient {
            peer,
            out,
            inbox,
            tracks,
            server_offers,
            answers,
            tasks: vec![writer, reader],
        };
        match tokio::time::timeout(ANSWER_WAIT, answered_rx).await {
            Ok(Ok(true)) => client,
            _ => panic!(
                "{name}: no usable answer; inbox: {:?}",
                client.inbox.lock().map(|i| i.clone()).unwrap_or_default()
            ),
        }
    }

    /// Offers again on the same connection, with one more receive-only
    /// video line, and waits (bounded) for the answer to be applied.
    pub async fn renegotiate(&self) {
        let before = self.answers.load(Ordering::SeqCst);
        let pc = self.peer.pc();
        pc.add_transceiver_from_kind(
            rtc::rtp_transceiver::rtp_sender::RtpCodecKind::Video,
            Some(rtc::rtp_transceiver::RTCRtpTransceiverInit {
                direction: rtc::rtp_transceiver::RTCRtpTransceiverDirection::Recvonly,
                streams: vec![],
                send_encodings: vec![],
            }),
        )
        .await
        .expect("transceiver added");
        let offer = pc.create_offer(None).await.expect("offer");
        pc.set_local_description(offer)
            .await
            .expect("offer applied");
        let sdp = pc.local_description().await.expect("local description").sdp;
        self.send(json!({"type": "offer", "sdp": sdp}));
        for _ in 0..200 {
            if self.answers.load(Ordering::SeqCst) > before {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "{}: no answer to a renegotiation within 10 s",
            self.peer.name
        );
    }

    /// Sends a message.
    pub fn send(&self, value: Value) {
        let _ = self.out.send(value.to_string());
    }

    /// Sends a command and waits (bounded) for its `ok` or `error`.
    pub async fn command(&self, id: &str, command: Value) -> Value {
        self.send(json!({"type": "command", "id": id, "command": command}));
        for _ in 0..200 {
            let found = self.inbox.lock().ok().and_then(|i| {
                i.iter()
                    .find(|m| m["id"] == id && (m["type"] == "ok" || m["type"] == "error"))
                    .cloned()
            });
            if let Some(answer) = found {
                return answer;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no answer to command {id} within 10 s");
    }

    /// The messages of `type` received so far.
    pub fn of_type(&self, kind: &str) -> Vec<Value> {
        self.inbox
            .lock()
            .map(|i| i.iter().filter(|m| m["type"] == kind).cloned().collect())
            .unwrap_or_default()
    }

    /// Drops the socket without a word (a page that vanished) and closes
    /// the peer connection.
    pub async fn vanish(&mut self) {
        for task in self.tasks.drain(..) {
            task.abort();
        }
        self.peer.close().await;
    }
}

impl Drop for WsClient {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

async fn apply_answer(pc: &Arc<dyn PeerConnection>, sdp: String) -> bool {
    let Ok(answer) = RTCSessionDescription::answer(sdp) else {
        return false;
    };
    pc.set_remote_description(answer).await.is_ok()
}

async fn answer_offer(pc: &Arc<dyn PeerConnection>, sdp: String) -> Option<String> {
    let offer = RTCSessionDescription::offer(sdp).ok()?;
    pc.set_remote_description(offer).await.ok()?;
    let answer = pc.create_answer(None).await.ok()?;
    pc.set_local_description(answer).await.ok()?;
    Some(pc.local_description().await?.sdp)
}

/// Posts `offer` to `url` (`…/whip/ID` or `…/whep/ID`) as `application/sdp`.
pub async fn post_sdp(url: &str, token: Option<&str>, offer: &str) -> HttpSignaled {
    diemcau_testkit::whip::post_sdp(url, token, offer)
        .await
        .expect("WHIP/WHEP request")
}

/// Publishes (WHIP) or views (WHEP) with a new test peer; panics unless
/// the server answers 201.
pub async fn join_http(
    url: &str,
    token: &str,
    name: &str,
    publish: bool,
) -> (TestPeer, HttpSignaled) {
    let peer = TestPeer::new(name, publish).await;
    let offer = peer.offer().await;
    let reply = post_sdp(url, Some(token), &offer).await;
    assert_eq!(reply.status, 201, "{url}: {}", reply.body);
    peer.apply_answer(reply.body.clone()).await;
    (peer, reply)
}
