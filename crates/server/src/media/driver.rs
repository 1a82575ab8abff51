//! The media task: the tokio shell around the [`Sfu`] core.
//!
//! It owns what the core must not: the media port's sockets, the clock,
//! the timer, the channels to the rest of the server. Each wakeup — a
//! command from a [`MediaPlane`](super::MediaPlane) handle, datagrams, or
//! the deadline the core asked for — reads the clock once, hands the core
//! what happened with that instant, then drains the core's output: the
//! datagrams to send and the events to deliver.
//!
//! Nothing here blocks: sends use `try_send_to` (a full socket buffer drops
//! the datagram, as the network would), signals and link events use
//! `try_send` on bounded channels.

use super::port::{MediaPort, READ_BUFFER};
use super::record::FileRecorder;
use super::run::Run;
use super::{LinkEvent, LinkStats, MediaError, Owner, PeerId, PeerKind, Signal, SignalPath};
use crate::config::MediaConfig;
use crate::control::{EndpointCode, ForwardingPolicy, SessionId};
use crate::telemetry;
use diemcau_sfu::{Candidates, Config, Datagram, Inbox, Outbox, Sfu, SfuEvent};
use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::{mpsc, oneshot};

/// Datagrams read per wakeup before the loop looks at commands and timers
/// and sends what they carry. Measured at 32 endpoints, 4 cost more CPU
/// per packet than 64 (a wakeup each) and gave no lower latency.
const MAX_READ_BATCH: usize = 64;
/// Signals queued towards one `/ws` client: offers and track maps are
/// few, and a client that reads none of them is gone.
const SIGNAL_QUEUE: usize = 64;

type Reply<T> = oneshot::Sender<Result<T, MediaError>>;

/// Requests from [`MediaPlane`](super::MediaPlane) handles.
pub(crate) enum Command {
    SetPolicy {
        session: SessionId,
        policy: ForwardingPolicy,
    },
    SetLoopback {
        session: SessionId,
        endpoint: EndpointCode,
        on: bool,
    },
    AcceptOffer {
        session: SessionId,
        kind: PeerKind,
        offer: String,
        path: SignalPath,
        owner: Option<Owner>,
        reply: Reply<(PeerId, String, mpsc::Receiver<Signal>)>,
    },
    AcceptAnswer {
        peer: PeerId,
        sdp: String,
        reply: Reply<()>,
    },
    Renegotiate {
        peer: PeerId,
        offer: String,
        reply: Reply<String>,
    },
    AddCandidate {
        peer: PeerId,
        json: String,
        reply: Reply<()>,
    },
    RestartIce {
        peer: PeerId,
        reply: Reply<()>,
    },
    Watch {
        peer: PeerId,
        sites: BTreeSet<EndpointCode>,
        reply: Reply<()>,
    },
    Close {
        peer: PeerId,
        reply: Reply<()>,
    },
    Drop {
        peer: PeerId,
        reply: Reply<()>,
    },
    Describe {
        peer: PeerId,
        reply: Reply<(SessionId, PeerKind)>,
    },
}

struct Driver {
    sfu: Sfu,
    port: MediaPort,
    /// Threads that read the inboxes and send the outboxes, this task's
    /// included.
    sharing: Sharing,
    /// Where each `/ws` connection's signals go.
    signals: HashMap<PeerId, mpsc::Sender<Signal>>,
    events: mpsc::Sender<LinkEvent>,
    links: Arc<Mutex<Vec<LinkStats>>>,
}

/// Binds the media port and starts the task. Returns the command channel,
/// the advertised candidate addresses and the link events.
pub(crate) async fn spawn(
    cfg: &MediaConfig,
    links: Arc<Mutex<Vec<LinkStats>>>,
    recordings: Option<std::path::PathBuf>,
) -> Result<
    (
        mpsc::UnboundedSender<Command>,
        Vec<SocketAddr>,
        mpsc::Receiver<LinkEvent>,
    ),
    MediaError,
> {
    let port = MediaPort::bind(cfg).await.map_err(MediaError::Bind)?;
    let candidates = port.candidates();
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    let (ev_tx, ev_rx) = mpsc::channel(1024);
    let recorder = recordings.map(|dir| Box::new(FileRecorder { dir }) as _);
    let sharing = Sharing {
        threads: media_threads(cfg.threads),
        share_from: count(cfg.share_from),
        share_reads_from: count(cfg.share_reads_from),
    };
    let sfu = Sfu::new(
        &core_config(cfg, sharing),
        Candidates {
            addresses: candidates.clone(),
            tcp: port.has_tcp(),
        },
        recorder,
        Instant::now(),
        SystemTime::now(),
    );
    let driver = Driver {
        sfu,
        port,
        sharing,
        signals: HashMap::new(),
        events: ev_tx,
        links,
    };
    tracing::info!(?candidates, "media plane listening");
    tokio::spawn(driver.run(cmd_rx));
    Ok((cmd_tx, candidates, ev_rx))
}

/// How many threads read and send: `threads`, or with 0 one per core
/// this process may use.
fn media_threads(threads: u32) -> usize {
    match threads {
        0 => std::thread::available_parallelism().map_or(1, usize::from),
        n => usize::try_from(n).unwrap_or(1),
    }
}

/// When a round's per-connection work is shared between threads.
#[derive(Debug, Clone, Copy)]
struct Sharing {
    /// This task and helpers, in all.
    threads: usize,
    /// Packets waiting to be sent from which a round of sending is shared:
    /// 256 by default, about a millisecond of encrypting and sending
    /// against a thread start of a tenth of that, so helpers start only
    /// when the media task falls behind.
    share_from: usize,
    /// Datagrams read from which their reading is shared: 32 by default,
    /// half of a full read batch; reading one costs about what sending one
    /// does.
    share_reads_from: usize,
}

/// Reads the inboxes (decrypting, the connections' interceptors): from
/// this thread alone, or for `share_reads_from` datagrams or more from
/// helpers too.
fn read_all(inboxes: &mut [Inbox<'_>], sharing: Sharing) {
    let queued: usize = inboxes.iter().map(Inbox::queued).sum();
    let threads = sharing.threads.min(inboxes.len());
    if threads <= 1 || queued < sharing.share_reads_from {
        inboxes.iter_mut().for_each(Inbox::read);
        return;
    }
    telemetry::reading_shared();
    on_threads(inboxes, threads, |share| {
        share.iter_mut().for_each(Inbox::read);
        0
    });
}

/// Sends the outboxes: from this thread alone, or for a round of
/// `share_from` packets or more from helpers too.
fn send_all(port: &MediaPort, outboxes: &mut [Outbox<'_>], sharing: Sharing) {
    let queued: usize = outboxes.iter().map(Outbox::queued).sum();
    let threads = sharing.threads.min(outboxes.len());
    let in_runs = if threads <= 1 || queued < sharing.share_from {
        send_share(port, outboxes)
    } else {
        telemetry::sending_shared();
        on_threads(outboxes, threads, |share| send_share(port, share))
    };
    telemetry::datagrams_in_runs(in_runs);
}

/// Splits `items` into `threads` equal shares (`threads` at most their
/// number) and has `work` do each, one on this thread and the others on
/// scoped helpers; returns the sum of what `work` returned. Helpers live
/// only while there is work: a pool's idle workers would spin between
/// packets, which costs more CPU than starting a thread per round.
fn on_threads<T: Send>(
    items: &mut [T],
    threads: usize,
    work: impl Fn(&mut [T]) -> usize + Sync,
) -> usize {
    let share = items.len().div_ceil(threads.max(1)).max(1);
    let mut shares = items.chunks_mut(share);
    let mine = shares.next().unwrap_or_default();
    let work = &work;
    std::thread::scope(|scope| {
        let helpers: Vec<_> = shares
            .filter_map(|other| {
                let helper = std::thread::Builder::new()
                    .name("media-share".into())
                    .spawn_scoped(scope, move || work(other));
                // No thread to be had (a process limit, say): that share
                // is left, and the core handles it at once or hands it
                // over again.
                helper
                    .inspect_err(|err| {
                        tracing::warn!(%err, "no helper thread; its connections wait a round")
                    })
                    .ok()
            })
            .collect();
        let mut total = work(mine);
        for helper in helpers {
            total += helper.join().unwrap_or(0);
        }
        total
    })
}

/// Sends one thread's share of the outboxes, each connection's datagrams
/// in runs where they can be (see [`Run`]). Returns how many went out in
/// runs of several.
fn send_share(port: &MediaPort, outboxes: &mut [Outbox<'_>]) -> usize {
    let segmenting = port.segmenting();
    let mut run = Run::default();
    let mut in_runs = 0;
    for outbox in outboxes {
        let now = Instant::now();
        while let Some(t) = outbox.poll_transmit(now) {
            if !run.takes(&t, segmenting) {
                in_runs += port.send_run(&mut run);
            }
            run.push(t);
        }
        in_runs += port.send_run(&mut run);
    }
    in_runs
}

/// A count from the config file: a `u32` there, a `usize` here (any
/// count the file can hold fits a 32- or 64-bit `usize`; were it not to,
/// the largest is as good as no limit).
fn count(v: u32) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

/// The core's share of the `[media]` section; datagrams wait for their
/// reading where `sharing` may read them on several threads.
fn core_config(cfg: &MediaConfig, sharing: Sharing) -> Config {
    Config {
        consent_timeout: Duration::from_secs(cfg.consent_timeout_secs.into()),
        connect_timeout: Duration::from_secs(cfg.connect_timeout_secs.into()),
        max_connections: count(cfg.max_connections),
        max_connections_per_session: count(cfg.max_connections_per_session),
        max_viewers_per_session: count(cfg.max_viewers_per_session),
        max_connections_per_token: count(cfg.max_connections_per_token),
        max_media_lines: count(cfg.max_media_lines),
        max_candidates: count(cfg.max_candidates),
        grid_bitrate_kbps: cfg.grid_bitrate_kbps,
        programme_bitrate_kbps: cfg.programme_bitrate_kbps,
        content_bitrate_kbps: cfg.content_bitrate_kbps,
        batch_reads: sharing.threads > 1,
    }
}

impl Driver {
    async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        let mut buf = vec![0u8; READ_BUFFER];
        loop {
            self.drain();
            let deadline = self.sfu.poll_timeout();
            tokio::select! {
                cmd = commands.recv() => match cmd {
                    Some(cmd) => self.on_command(cmd, Instant::now()),
                    None => break,
                },
                res = self.port.recv(&mut buf) => {
                    if let Ok(first) = res {
                        let mut arrival = Some(first);
                        let mut read = 0;
                        while let Some(a) = arrival {
                            // Each datagram's own instant: the stack stamps
                            // sender reports and we time receiver reports
                            // and jitter from it, and a batch takes
                            // milliseconds on a busy server.
                            self.sfu.handle_datagram(Instant::now(), Datagram {
                                from: a.from,
                                to: a.to,
                                protocol: a.protocol,
                                data: &buf[..a.len],
                            });
                            read += 1;
                            arrival = if read <= MAX_READ_BATCH {
                                self.port.try_recv(&mut buf)
                            } else {
                                None
                            };
                        }
                    }
                }
                _ = tokio::time::sleep_until(deadline.into()) => {
                    self.sfu.handle_timeout(Instant::now());
                }
            }
        }
        self.sfu.shut_down();
        self.drain();
        tracing::info!("media plane stopped");
    }

    /// Has the datagrams that arrived read, sends what the core queued and
    /// delivers its events.
    fn drain(&mut self) {
        let port = &self.port;
        let sharing = self.sharing;
        self.sfu.ingress(|inboxes| read_all(inboxes, sharing));
        self.sfu
            .egress(|outboxes| send_all(port, outboxes, sharing));
        while let Some(event) = self.sfu.poll_event() {
            match event {
                SfuEvent::Link(event) => {
                    if self.events.try_send(event).is_err() {
                        tracing::warn!("link event dropped: receiver full or gone");
                    }
                }
                SfuEvent::Signal(peer, signal) => {
                    if let Some(tx) = self.signals.get(&peer) {
                        if tx.try_send(signal).is_err() {
                            tracing::warn!(%peer, "signal dropped: the client reads none");
                        }
                    }
                }
                SfuEvent::PeerRemoved(peer) => {
                    self.signals.remove(&peer);
                }
                SfuEvent::Stats { links, forwarded } => {
                    let [audio, video] = forwarded;
                    telemetry::forwarded(telemetry::MediaKind::Audio, audio.0, audio.1);
                    telemetry::forwarded(telemetry::MediaKind::Video, video.0, video.1);
                    match self.links.lock() {
                        Ok(mut l) => *l = links,
                        Err(poisoned) => *poisoned.into_inner() = links,
                    }
                }
            }
        }
    }

    fn on_command(&mut self, cmd: Command, now: Instant) {
        let sfu = &mut self.sfu;
        match cmd {
            Command::SetPolicy { session, policy } => sfu.set_policy(now, session, policy),
            Command::SetLoopback {
                session,
                endpoint,
                on,
            } => sfu.set_loopback(now, session, endpoint, on),
            Command::AcceptOffer {
                session,
                kind,
                offer,
                path,
                owner,
                reply,
            } => {
                let accepted = sfu
                    .handle_offer(now, session, kind, &offer, (path, owner))
                    .map(|(peer, answer)| {
                        // Registered before the core's events are drained:
                        // the first `tracks` goes out on it.
                        let (tx, rx) = mpsc::channel(SIGNAL_QUEUE);
                        self.signals.insert(peer, tx);
                        (peer, answer, rx)
                    });
                let _ = reply.send(accepted);
            }
            Command::Renegotiate { peer, offer, reply } => {
                let _ = reply.send(sfu.handle_renegotiation(now, peer, &offer));
            }
            Command::AcceptAnswer { peer, sdp, reply } => {
                let _ = reply.send(sfu.handle_answer(now, peer, sdp));
            }
            Command::AddCandidate { peer, json, reply } => {
                let _ = reply.send(sfu.handle_candidate(peer, &json));
            }
            Command::RestartIce { peer, reply } => {
                let _ = reply.send(sfu.restart_ice(peer));
            }
            Command::Watch { peer, sites, reply } => {
                let _ = reply.send(sfu.set_watching(now, peer, sites));
            }
            Command::Close { peer, reply } => {
                let _ = reply.send(sfu.close(now, peer));
            }
            Command::Drop { peer, reply } => {
                let _ = reply.send(sfu.drop_peer(now, peer));
            }
            Command::Describe { peer, reply } => {
                let _ = reply.send(sfu.describe(peer));
            }
        }
    }
}
