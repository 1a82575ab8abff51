//! How fast the event store appends, the way the server uses it.
//!
//! ```text
//! cargo run --release --example store_bench [-- --events N --rounds R --dir DIR]
//! ```
//!
//! Each round creates a fresh session in one store and appends `N` events
//! twice: (a) one event per transaction, which is what the server does for
//! a command, and (b) in batches of ten. It prints the median events per
//! second over the rounds and the median and p99 latency of one `append`.
//! The store syncs every commit to disk (see `Store::open`), so the numbers
//! are mostly the disk's fsync time: run it with `--dir` on the disk the
//! data dir will live on.

use diemcau::control::{
    EndpointCode, EndpointInfo, EndpointRole, Event, EventKind, Millis, RequestId, Rules,
    SessionId, SessionSpec,
};
use diemcau::store::Store;
use std::path::PathBuf;
use std::time::{Duration, Instant};

const BATCH: usize = 10;

struct Args {
    events: usize,
    rounds: usize,
    dir: Option<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        events: 2000,
        rounds: 5,
        dir: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        let count = |v: &str| match v.parse::<usize>() {
            Ok(n) if (1..=1_000_000).contains(&n) => Ok(n),
            _ => Err(format!("{flag}: expected 1..=1000000, got {v:?}")),
        };
        match flag.as_str() {
            "--events" => args.events = count(&value)?,
            "--rounds" => args.rounds = count(&value)?.min(100),
            "--dir" => args.dir = Some(PathBuf::from(value)),
            _ => return Err(format!("unknown argument {flag}")),
        }
    }
    Ok(args)
}

/// The central site and 63 provinces, as in a national meeting.
fn spec(id: &str) -> SessionSpec {
    let mut endpoints = vec![EndpointInfo {
        code: EndpointCode::from("00"),
        name: "Trụ sở Chính phủ".into(),
        role: EndpointRole::Central,
    }];
    endpoints.extend((1..=63).map(|n| EndpointInfo {
        code: EndpointCode(format!("{n:02}")),
        name: format!("Ủy ban nhân dân tỉnh số {n:02}"),
        role: EndpointRole::Provincial,
    }));
    SessionSpec {
        id: SessionId(id.into()),
        title: "Hội nghị trực tuyến Chính phủ với các địa phương".into(),
        endpoints,
        rules: Rules::default(),
    }
}

/// The `i`th event of a busy meeting: links coming up, roll-call answers,
/// representatives, floor requests and grants, in rotation.
fn event(i: usize, start: Millis) -> Event {
    let endpoint = EndpointCode(format!("{:02}", i % 63 + 1));
    let request = RequestId(u32::try_from(i / 5 + 1).unwrap_or(u32::MAX));
    let kind = match i % 5 {
        0 => EventKind::EndpointConnected { endpoint },
        1 => EventKind::RollCallConfirmed { round: 1, endpoint },
        2 => EventKind::RepresentativeSet {
            endpoint,
            name: "Nguyễn Minh Hùng".into(),
            title: "Phó Chủ tịch Ủy ban nhân dân tỉnh".into(),
            headcount: Some(24),
        },
        3 => EventKind::FloorRequested {
            request,
            endpoint,
            topic: "Tiến độ giải ngân vốn đầu tư công và các dự án trọng điểm".into(),
        },
        _ => EventKind::FloorGranted {
            request,
            endpoint,
            called_on: false,
            expires_at: Some(start.plus_secs(i as u64 + 300)),
        },
    };
    Event {
        at: start.plus_ms(i as u64 * 250),
        kind,
    }
}

struct Run {
    events_per_sec: f64,
    latencies: Vec<Duration>,
}

fn run(store: &mut Store, id: &str, n: usize, batch: usize) -> Result<Run, String> {
    let start = Millis(1_740_816_000_000);
    let session = SessionId(id.into());
    let created = Event {
        at: start,
        kind: EventKind::Created { spec: spec(id) },
    };
    store
        .append(&session, &[created])
        .map_err(|e| e.to_string())?;
    let events: Vec<Event> = (0..n).map(|i| event(i, start)).collect();
    let mut latencies = Vec::with_capacity(n / batch + 1);
    let began = Instant::now();
    for chunk in events.chunks(batch) {
        let t = Instant::now();
        store.append(&session, chunk).map_err(|e| e.to_string())?;
        latencies.push(t.elapsed());
    }
    let elapsed = began.elapsed().as_secs_f64().max(f64::EPSILON);
    Ok(Run {
        events_per_sec: n as f64 / elapsed,
        latencies,
    })
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs.get(xs.len() / 2).copied().unwrap_or(0.0)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len().max(1));
    sorted.get(rank - 1).copied().unwrap_or_default()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn report(label: &str, runs: Vec<Run>) {
    let rates: Vec<f64> = runs.iter().map(|r| r.events_per_sec).collect();
    let (lo, hi) = rates
        .iter()
        .fold((f64::MAX, 0.0f64), |(lo, hi), r| (lo.min(*r), hi.max(*r)));
    let mut lat: Vec<Duration> = runs.into_iter().flat_map(|r| r.latencies).collect();
    lat.sort();
    println!(
        "{label}: median {:.0} events/s (rounds {:.0}..{:.0}); append latency median {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} appends)",
        median(rates),
        lo,
        hi,
        ms(percentile(&lat, 0.5)),
        ms(percentile(&lat, 0.99)),
        ms(lat.last().copied().unwrap_or_default()),
        lat.len(),
    );
}

fn main() -> Result<(), String> {
    let args = parse_args()?;
    let tmp;
    let dir = match &args.dir {
        Some(d) => d.clone(),
        None => {
            tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
            tmp.path().to_path_buf()
        }
    };
    let mut store = Store::open_in(&dir).map_err(|e| e.to_string())?;
    let payload = serde_json::to_string(&event(3, Millis(0))).map_err(|e| e.to_string())?;
    println!(
        "store_bench: {} rounds x {} events, WAL, synchronous=FULL, in {}",
        args.rounds,
        args.events,
        dir.display()
    );
    println!(
        "a floor request's payload is {} bytes: {payload}",
        payload.len()
    );
    let (mut single, mut batched) = (Vec::new(), Vec::new());
    let nonce = std::process::id();
    for round in 0..args.rounds {
        single.push(run(
            &mut store,
            &format!("bench-{nonce}-{round}-a"),
            args.events,
            1,
        )?);
        batched.push(run(
            &mut store,
            &format!("bench-{nonce}-{round}-b"),
            args.events,
            BATCH,
        )?);
    }
    report("(a) 1 event per transaction  ", single);
    report("(b) 10 events per transaction", batched);
    Ok(())
}
