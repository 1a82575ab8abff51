//! One run against one target: connect everyone, let the traffic flow
//! while the floor moves round, stop, and reduce what was recorded.
//!
//! Both targets go through the same steps and the same measuring code;
//! only how a publisher or receiver is attached differs ([`Target`]).

use crate::clock::Clock;
use crate::diemcau::Console;
use crate::error::LoadError;
use crate::http::Server;
use crate::pattern::Pattern;
use crate::peer::{Peer, TrackOut};
use crate::procstat::Watched;
use crate::publisher::{KeyframeRequests, MediaOut, Publisher, Sent};
use crate::recorder::Recorder;
use crate::rejoin::SwitchOut;
use crate::report::{summarise, Grant, ReceiverLog, RunInput, RunReport};
use crate::tokens::Tokens;
use crate::udp::{self, RelayFloor};
use crate::whip::{self, Resource};
use futures::StreamExt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Packets still in flight when the publishers stop are given this long.
const DRAIN: Duration = Duration::from_millis(300);
/// How often the programme wait looks at the receivers.
const PROGRAMME_POLL: Duration = Duration::from_millis(20);
/// Join errors kept in the report (the rest are counted).
const ERRORS_KEPT: usize = 5;

/// What every run does, whatever the target.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Endpoints (publishers 1..=N, and one programme receiver each).
    pub endpoints: u32,
    /// Rates of the chair and the endpoints.
    pub pattern: Pattern,
    /// Traffic time once everyone is connected.
    pub duration: Duration,
    /// Time between floor grants; the first comes one interval after the
    /// programme reached every receiver.
    pub floor_every: Duration,
    /// Bound on each peer's join and on the programme wait.
    pub connect_limit: Duration,
    /// Peers joining at once.
    pub parallel: usize,
    /// The server process to watch (CPU, peak RSS).
    pub server_pid: Option<u32>,
    /// Peers join again when their connection drops (`--rejoin`).
    pub rejoin: bool,
    /// The server records the programme during the run (`--record`).
    pub record: bool,
}

/// Where the load goes.
pub enum Target {
    /// Any WHIP/WHEP server; with a console, diemcau's REST calls too.
    Whip {
        /// The server.
        server: Server,
        /// WHIP route, `{session}` replaced.
        whip_route: String,
        /// WHEP route, `{session}` replaced.
        whep_route: String,
        /// Who publishes and views with what.
        tokens: Box<Tokens>,
        /// The chair's REST console (`--diemcau`).
        console: Option<Box<Console>>,
        /// Receive-only audio + video pairs offered by each viewer.
        whep_slots: usize,
    },
    /// The plain UDP baseline.
    Relay {
        /// Where it listens.
        addr: SocketAddr,
        /// Also register the chair's grid receiver (endpoint video to the chair).
        chair_grid: bool,
    },
}

impl Target {
    fn name(&self) -> &'static str {
        match self {
            Target::Whip {
                console: Some(_), ..
            } => "diemcau",
            Target::Whip { .. } => "whip-whep",
            Target::Relay { .. } => "udp-relay",
        }
    }
}

/// What is running and must be stopped or recorded.
#[derive(Default)]
struct Attached {
    senders: Vec<JoinHandle<Sent>>,
    requests: Vec<Arc<KeyframeRequests>>,
    receivers: Vec<(bool, Arc<Recorder>)>,
    peers: Vec<Peer>,
    resources: Vec<Resource>,
    /// With `--rejoin`: the tasks that own their peer and hand it back at the end.
    keepers: Vec<JoinHandle<(Peer, Option<Resource>)>>,
    rejoins: Arc<AtomicU64>,
    errors: Vec<String>,
    error_count: usize,
}

impl Attached {
    fn failed(&mut self, what: String, e: LoadError) {
        self.error_count += 1;
        if self.errors.len() < ERRORS_KEPT {
            self.errors.push(format!("{what}: {e}"));
        }
        eprintln!("loadgen: {what}: {e}");
    }
}

/// Everything a publisher task needs besides its sink.
#[derive(Clone)]
struct Running {
    clock: Clock,
    flag: Arc<AtomicBool>,
    hard_stop: Instant,
    pattern: Pattern,
}

impl Running {
    fn start(
        &self,
        id: u32,
        out: Arc<dyn MediaOut>,
        requests: Arc<KeyframeRequests>,
    ) -> JoinHandle<Sent> {
        let publisher = Publisher {
            id,
            rates: self.pattern.of(id),
            out,
            keyframes: requests,
        };
        tokio::spawn(publisher.run(self.clock, self.flag.clone(), self.hard_stop))
    }
}

/// Runs the plan against the target and returns its figures.
pub async fn run(plan: &Plan, target: Target) -> Result<RunReport, LoadError> {
    let server = plan
        .server_pid
        .map(|pid| Watched::new(&pid.to_string()))
        .transpose()?;
    let me = Watched::new("self")?;
    let load_at_start = crate::procstat::load_average();
    let clock = Clock::start();
    let name = target.name().to_string();
    let server_cpu0 = server.as_ref().map(Watched::cpu_seconds).transpose()?;
    let me_cpu0 = me.cpu_seconds()?;
    let server_drops0 = server.as_ref().and_then(Watched::udp_drops);
    let me_drops0 = me.udp_drops();
    let hard_limit = plan.connect_limit * 3 + plan.duration + Duration::from_secs(30);
    let running = Running {
        clock,
        flag: Arc::new(AtomicBool::new(true)),
        hard_stop: Instant::now() + hard_limit,
        pattern: plan.pattern,
    };

    let mut attached = Attached::default();
    let floor = match &target {
        Target::Whip {
            server,
            whip_route,
            whep_route,
            tokens,
            console,
            whep_slots,
        } => {
            if let Some(c) = console {
                c.make_live().await?;
                if plan.record {
                    c.start_recording().await?;
                }
            }
            let w = Arc::new(WhipJoin {
                server: server.clone(),
                whip_route: whip_route.clone(),
                whep_route: whep_route.clone(),
                tokens: Arc::new((**tokens).clone()),
                slots: *whep_slots,
                limit: plan.connect_limit,
                rejoin: plan.rejoin,
                gate: Arc::new(Semaphore::new(plan.parallel.max(1))),
            });
            w.join_all(plan, &running, &mut attached).await;
            let codes: Vec<String> = (1..=plan.endpoints)
                .map(|id| endpoint_code(tokens, id))
                .collect();
            match console {
                Some(c) => Floor::Console(c, codes),
                None => Floor::None,
            }
        }
        Target::Relay { addr, chair_grid } => {
            join_relay(
                *addr,
                *chair_grid,
                plan,
                &running,
                hard_limit,
                &mut attached,
            )
            .await?;
            Floor::Relay(RelayFloor::new(*addr).await?)
        }
    };

    // The programme: every receiver has the chair's video (bounded wait).
    let programme: Vec<Arc<Recorder>> = attached
        .receivers
        .iter()
        .filter(|(p, _)| *p)
        .map(|(_, r)| r.clone())
        .collect();
    let wait_until = Instant::now() + plan.connect_limit;
    while Instant::now() < wait_until && !programme.iter().all(|r| r.has_chair_video()) {
        tokio::time::sleep(PROGRAMME_POLL).await;
    }

    // Traffic, with the floor moving round the endpoints.
    let end = Instant::now() + plan.duration;
    let mut grants = Vec::new();
    let mut next_grant = Instant::now() + plan.floor_every;
    let mut holder = 0u32;
    let moves = !matches!(floor, Floor::None) && plan.endpoints > 0 && !plan.floor_every.is_zero();
    while moves && next_grant < end {
        tokio::time::sleep_until(next_grant).await;
        holder = holder % plan.endpoints + 1;
        let at_us = clock.now_us();
        match floor.grant(holder).await {
            Ok(()) => grants.push(Grant { holder, at_us }),
            Err(e) => attached.failed(format!("floor grant to {holder}"), e),
        }
        next_grant += plan.floor_every;
    }
    tokio::time::sleep_until(end).await;

    // Stop, measure the cost over the window, let the last packets land.
    running.flag.store(false, Ordering::Relaxed);
    let end_us = clock.now_us();
    let server_cost = match (&server, server_cpu0) {
        (Some(s), Some(cpu0)) => Some((s.cpu_seconds()? - cpu0, s.peak_rss_mib()?)),
        _ => None,
    };
    let me_cpu = me.cpu_seconds()? - me_cpu0;
    let drops = |now: Option<u64>, before: Option<u64>| Some(now?.saturating_sub(before?));
    let server_drops = drops(server.as_ref().and_then(Watched::udp_drops), server_drops0);
    let mut sent = Sent::default();
    for handle in attached.senders.drain(..) {
        if let Ok(Ok(s)) = tokio::time::timeout(Duration::from_secs(5), handle).await {
            sent = sent.plus(s);
        }
    }
    tokio::time::sleep(DRAIN).await;
    // Before hanging up: the generator's sockets close with their peers.
    let me_drops = drops(me.udp_drops(), me_drops0);
    let receivers: Vec<ReceiverLog> = attached
        .receivers
        .iter()
        .map(|(programme, r)| ReceiverLog {
            programme: *programme,
            received: r.take(),
        })
        .collect();
    let keyframe_requests = attached.requests.iter().map(|r| r.count()).sum();
    let rejoins = attached.rejoins.load(Ordering::Relaxed);
    hang_up(&mut attached, plan.parallel).await;

    let mut report = summarise(RunInput {
        target: name,
        endpoints: plan.endpoints,
        start_us: 0,
        end_us,
        receivers,
        grants,
        sent,
        keyframe_requests,
        server: server_cost,
        generator_cpu_seconds: Some(me_cpu),
        load_average: [load_at_start, crate::procstat::load_average()],
    });
    report.server_udp_drops = server_drops;
    report.generator_udp_drops = me_drops;
    report.rejoins = rejoins;
    report.join_errors = attached.errors;
    report.join_error_count = attached.error_count;
    Ok(report)
}

/// The code of endpoint `id` for floor grants: from the tokens file, else `e<id>`.
fn endpoint_code(tokens: &Tokens, id: u32) -> String {
    usize::try_from(id)
        .ok()
        .and_then(|i| tokens.endpoints.get(i.checked_sub(1)?))
        .map(|(code, _)| code.clone())
        .unwrap_or_else(|| format!("e{id}"))
}

/// Who moves the floor.
enum Floor<'a> {
    /// A plain WHIP/WHEP server has no floor: only the chair slot is measured.
    None,
    Console(&'a Console, Vec<String>),
    Relay(RelayFloor),
}

impl Floor<'_> {
    async fn grant(&self, holder: u32) -> Result<(), LoadError> {
        match self {
            Floor::None => Ok(()),
            Floor::Console(c, codes) => {
                let code = usize::try_from(holder)
                    .ok()
                    .and_then(|h| codes.get(h.checked_sub(1)?))
                    .ok_or_else(|| LoadError::Setup(format!("no endpoint {holder}")))?;
                c.grant(code).await
            }
            Floor::Relay(r) => r.grant(holder).await,
        }
    }
}

async fn join_relay(
    addr: SocketAddr,
    chair_grid: bool,
    plan: &Plan,
    running: &Running,
    limit: Duration,
    attached: &mut Attached,
) -> Result<(), LoadError> {
    // All at once, as WebRTC peers join `parallel` at a time: registering
    // one by one would put the generator's own pace into the programme time.
    let publishers = futures::future::join_all((0..=plan.endpoints).map(|id| async move {
        let requests = Arc::new(KeyframeRequests::default());
        let out = udp::UdpOut::register(addr, id, requests.clone(), running.flag.clone(), limit);
        (id, out.await, requests)
    }));
    let first = if chair_grid { 0 } else { 1 };
    let receivers = futures::future::join_all((first..=plan.endpoints).map(|id| async move {
        let recorder = Arc::new(Recorder::default());
        let flag = running.flag.clone();
        let joined = udp::subscribe(addr, id, recorder.clone(), running.clock, flag, limit);
        (id, joined.await, recorder)
    }));
    let (publishers, receivers) = futures::join!(publishers, receivers);
    for (id, out, requests) in publishers {
        attached
            .senders
            .push(running.start(id, out?, requests.clone()));
        attached.requests.push(requests);
    }
    for (id, joined, recorder) in receivers {
        joined?;
        attached.receivers.push((id != 0, recorder));
    }
    Ok(())
}

/// How the WHIP/WHEP target attaches peers (shared with the tasks that
/// make them join again under `--rejoin`).
struct WhipJoin {
    server: Server,
    whip_route: String,
    whep_route: String,
    tokens: Arc<Tokens>,
    slots: usize,
    limit: Duration,
    rejoin: bool,
    /// Joins in flight at once, first joins and rejoins alike.
    gate: Arc<Semaphore>,
}

/// A peer that joined.
enum Joined {
    Publisher(
        u32,
        Peer,
        Option<Resource>,
        Arc<TrackOut>,
        Arc<KeyframeRequests>,
    ),
    Viewer(u32, Peer, Option<Resource>, Arc<Recorder>),
}

/// A keeper's wait for a drop or the end of the run looks at the run's
/// flag this often.
const KEEPER_POLL: Duration = Duration::from_millis(200);
/// A failed rejoin (the server not back yet) is tried again after this.
const REJOIN_RETRY: Duration = Duration::from_millis(250);

impl WhipJoin {
    fn publisher_token(&self, id: u32) -> Option<&str> {
        if id == 0 {
            return self.tokens.chair.as_deref();
        }
        usize::try_from(id)
            .ok()
            .and_then(|i| self.tokens.endpoints.get(i.checked_sub(1)?))
            .map(|(_, t)| t.as_str())
    }

    fn viewer_token(&self) -> Option<&str> {
        self.tokens
            .viewer
            .as_deref()
            .or(self.tokens.chair.as_deref())
    }

    /// Publisher `id` over WHIP, with the SSRCs given or new ones.
    async fn publish(
        &self,
        id: u32,
        ssrcs: Option<(u32, u32)>,
        requests: Arc<KeyframeRequests>,
    ) -> Result<(Peer, Option<Resource>, Arc<TrackOut>), LoadError> {
        let (peer, tracks) = Peer::publisher(id, ssrcs, self.rejoin).await?;
        let offer = peer.offer(self.limit).await?;
        let (answer, resource) = whip::post_offer(
            &self.server,
            &self.whip_route,
            self.publisher_token(id),
            &offer,
        )
        .await?;
        peer.accept(answer).await?;
        peer.connected(self.limit).await?;
        let out = tracks.into_out(&peer, requests).await;
        Ok((peer, resource, out))
    }

    /// A viewer over WHEP, recording into `recorder`.
    async fn view(
        &self,
        recorder: Arc<Recorder>,
        clock: Clock,
    ) -> Result<(Peer, Option<Resource>), LoadError> {
        let peer = Peer::viewer(recorder.clone(), clock, self.slots, self.rejoin).await?;
        let offer = peer.offer(self.limit).await?;
        let (answer, resource) =
            whip::post_offer(&self.server, &self.whep_route, self.viewer_token(), &offer).await?;
        peer.accept(answer).await?;
        peer.connected(self.limit).await?;
        recorder.on_connected(clock.now_us());
        Ok((peer, resource))
    }

    async fn publisher(&self, id: u32) -> Result<Joined, LoadError> {
        let _permit = self.gate.acquire().await;
        let requests = Arc::new(KeyframeRequests::default());
        let (peer, resource, out) = self.publish(id, None, requests.clone()).await?;
        Ok(Joined::Publisher(id, peer, resource, out, requests))
    }

    async fn viewer(&self, id: u32, clock: Clock) -> Result<Joined, LoadError> {
        let _permit = self.gate.acquire().await;
        let recorder = Arc::new(Recorder::default());
        let (peer, resource) = self.view(recorder.clone(), clock).await?;
        Ok(Joined::Viewer(id, peer, resource, recorder))
    }

    /// The chair first (so the programme has its source), then endpoints
    /// and viewers, `parallel` at a time. A peer that fails to join is
    /// reported and the run goes on without it.
    async fn join_all(self: &Arc<Self>, plan: &Plan, running: &Running, attached: &mut Attached) {
        let chair = self.publisher(0).await;
        self.keep(chair, "chair publisher".into(), running, attached);
        let jobs = (1..=plan.endpoints)
            .map(|id| (id, true))
            .chain((1..=plan.endpoints).map(|id| (id, false)));
        let mut joins = futures::stream::iter(jobs.map(|(id, publish)| async move {
            let what = if publish {
                format!("publisher {id}")
            } else {
                format!("viewer {id}")
            };
            let r = if publish {
                self.publisher(id).await
            } else {
                self.viewer(id, running.clock).await
            };
            (what, r)
        }))
        .buffer_unordered(plan.parallel.max(1));
        while let Some((what, r)) = joins.next().await {
            self.keep(r, what, running, attached);
        }
    }

    fn keep(
        self: &Arc<Self>,
        r: Result<Joined, LoadError>,
        what: String,
        running: &Running,
        attached: &mut Attached,
    ) {
        match r {
            Ok(Joined::Publisher(id, peer, resource, out, requests)) => {
                attached.requests.push(requests.clone());
                if self.rejoin {
                    let switch = SwitchOut::new(out);
                    attached
                        .senders
                        .push(running.start(id, switch.clone(), requests.clone()));
                    let again = Rejoin::Publisher(id, switch, requests);
                    attached
                        .keepers
                        .push(self.keeper(peer, resource, again, running, attached));
                } else {
                    attached.senders.push(running.start(id, out, requests));
                    attached.peers.push(peer);
                    attached.resources.extend(resource);
                }
            }
            Ok(Joined::Viewer(id, peer, resource, recorder)) => {
                attached.receivers.push((true, recorder.clone()));
                if self.rejoin {
                    let again = Rejoin::Viewer(id, recorder);
                    attached
                        .keepers
                        .push(self.keeper(peer, resource, again, running, attached));
                } else {
                    attached.peers.push(peer);
                    attached.resources.extend(resource);
                }
            }
            Err(e) => attached.failed(what, e),
        }
    }

    /// A task that owns `peer` until the run ends, and whenever its
    /// connection drops closes it and joins again (retrying until the
    /// server takes it or the run ends). It hands back the last peer.
    fn keeper(
        self: &Arc<Self>,
        mut peer: Peer,
        mut resource: Option<Resource>,
        again: Rejoin,
        running: &Running,
        attached: &Attached,
    ) -> JoinHandle<(Peer, Option<Resource>)> {
        let join = self.clone();
        let (flag, clock) = (running.flag.clone(), running.clock);
        let rejoins = attached.rejoins.clone();
        let on = move || flag.load(Ordering::Relaxed);
        tokio::spawn(async move {
            loop {
                while on() {
                    if tokio::time::timeout(KEEPER_POLL, peer.dropped())
                        .await
                        .is_ok()
                    {
                        break;
                    }
                }
                if !on() {
                    return (peer, resource);
                }
                // Logged with the run's clock, so that a slow return can be
                // told apart from a link that dropped late.
                let dropped_ms = clock.now_us() / 1000;
                let mut tries = 0u32;
                // As a WHIP client ending its session: a server that is
                // still there (a false alarm) lets the site in again at once.
                if let Some(r) = resource.take() {
                    let _ = tokio::time::timeout(join.limit, r.delete()).await;
                }
                peer.close().await;
                while on() {
                    tries += 1;
                    let joined = {
                        let _permit = join.gate.acquire().await;
                        match &again {
                            Rejoin::Publisher(id, switch, requests) => join
                                .publish(*id, Some(switch.ssrcs()), requests.clone())
                                .await
                                .map(|(p, r, out)| {
                                    switch.replace(out);
                                    (p, r)
                                }),
                            Rejoin::Viewer(_, recorder) => join.view(recorder.clone(), clock).await,
                        }
                    };
                    match joined {
                        Ok((p, r)) => {
                            (peer, resource) = (p, r);
                            rejoins.fetch_add(1, Ordering::Relaxed);
                            let now_ms = clock.now_us() / 1000;
                            eprintln!(
                                "loadgen: {} dropped at {dropped_ms} ms, joined again at {now_ms} ms ({tries} tries)",
                                again.name()
                            );
                            break;
                        }
                        Err(e) => {
                            eprintln!("loadgen: {} joining again: {e}", again.name());
                            tokio::time::sleep(REJOIN_RETRY).await;
                        }
                    }
                }
            }
        })
    }
}

/// What a peer needs to join again as itself.
enum Rejoin {
    Publisher(u32, Arc<SwitchOut>, Arc<KeyframeRequests>),
    Viewer(u32, Arc<Recorder>),
}

impl Rejoin {
    fn name(&self) -> String {
        match self {
            Rejoin::Publisher(id, ..) => format!("publisher {id}"),
            Rejoin::Viewer(id, _) => format!("viewer {id}"),
        }
    }
}

/// DELETE every WHIP/WHEP resource, then close every peer, a few at a time.
async fn hang_up(attached: &mut Attached, parallel: usize) {
    // The keepers see the run's end within a poll and hand their peers back.
    for keeper in std::mem::take(&mut attached.keepers) {
        if let Ok(Ok((peer, resource))) = tokio::time::timeout(Duration::from_secs(5), keeper).await
        {
            attached.peers.push(peer);
            attached.resources.extend(resource);
        }
    }
    let resources = std::mem::take(&mut attached.resources);
    futures::stream::iter(resources.into_iter().map(|r| async move {
        let _ = r.delete().await;
    }))
    .buffer_unordered(parallel.max(1))
    .collect::<Vec<()>>()
    .await;
    let peers = std::mem::take(&mut attached.peers);
    futures::stream::iter(peers.iter().map(|p| p.close()))
        .buffer_unordered(parallel.max(1))
        .collect::<Vec<()>>()
        .await;
}
