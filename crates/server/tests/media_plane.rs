//! The media plane in-process: a `MediaPlane` on 127.0.0.1, real WebRTC
//! peers publishing synthetic Opus and VP8, policies from a real control
//! session. Packets are counted by the sender named in their payload.

mod support;

use diemcau::control::Mode;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::Duration;
use support::{content_name, wait_for, ContentLine, Meeting};

const CONNECT: Duration = Duration::from_secs(20);
const FLOW: Duration = Duration::from_secs(10);

/// Chair and eight endpoints: every endpoint gets the chair's audio and
/// video; the chair gets all eight videos as tiles; no endpoint's audio
/// leaves the server while nobody holds the floor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chair_and_eight_endpoints_get_the_programme() {
    let codes = ["30", "31", "32", "33", "34", "35", "36", "37"];
    let mut m = Meeting::start("01", &codes).await;
    let mut chair = m.join(Some("01"), "01").await;
    let mut endpoints = Vec::new();
    for c in codes {
        endpoints.push(m.join(Some(c), c).await);
    }
    m.await_up(9, CONNECT).await;
    chair.peer.start_sending();
    for e in endpoints.iter_mut() {
        e.peer.start_sending();
    }
    for e in &endpoints {
        let rx = e.peer.received.clone();
        wait_for(FLOW, &format!("{} gets the chair", e.peer.name), || {
            let rx = rx.clone();
            async move {
                rx.count(0, "chair", "audio", "01") >= 10
                    && rx.count(0, "chair", "video", "01") >= 5
            }
        })
        .await;
    }
    let rx = chair.peer.received.clone();
    wait_for(FLOW, "the chair sees all eight tiles", || {
        let rx = rx.clone();
        async move {
            codes
                .iter()
                .all(|c| rx.count(0, &format!("tile-{c}"), "video", c) >= 5)
        }
    })
    .await;
    for r in std::iter::once(&chair).chain(endpoints.iter()) {
        let leaked: HashSet<String> = r
            .peer
            .received
            .all()
            .iter()
            .filter(|p| p.kind == "audio" && p.from != "01")
            .map(|p| p.from.clone())
            .collect();
        assert!(
            leaked.is_empty(),
            "{} heard {leaked:?} with nobody on the floor",
            r.peer.name
        );
    }
}

/// Counts what `rx` got from `from` on `stream` since `mark`, until at
/// least `n` packets of `kind` arrived.
async fn wait_count(
    rx: &std::sync::Arc<support::Received>,
    mark: usize,
    stream: &str,
    kind: &str,
    from: &str,
    n: usize,
    what: &str,
) {
    let rx = rx.clone();
    wait_for(FLOW, what, || {
        let rx = rx.clone();
        async move { rx.count(mark, stream, kind, from) >= n }
    })
    .await;
}

/// Floor to A: the others get A on their floor slot, a PLI reached A, and
/// A's audio was never forwarded before. Floor to B: the same slot (same
/// SSRC, no renegotiation) carries B, sequence numbers continuous across
/// the switch; A's audio stops.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn floor_switches_source_without_renegotiation() {
    let mut m = Meeting::start("01", &["30", "31", "32"]).await;
    let mut chair = m.join(Some("01"), "01").await;
    let mut a = m.join(Some("30"), "30").await;
    let mut b = m.join(Some("31"), "31").await;
    let mut c = m.join(Some("32"), "32").await;
    m.await_up(4, CONNECT).await;
    for p in [&mut chair, &mut a, &mut b, &mut c] {
        p.peer.start_sending();
    }
    let crx = c.peer.received.clone();
    wait_count(&crx, 0, "chair", "video", "01", 5, "C gets the chair").await;
    assert_eq!(
        crx.count(0, "", "audio", "30"),
        0,
        "A heard before holding the floor"
    );
    let plis_before = a
        .peer
        .keyframe_requests
        .load(std::sync::atomic::Ordering::SeqCst);

    m.grant("30");
    wait_count(&crx, 0, "floor", "video", "30", 10, "C sees A on the floor").await;
    wait_count(
        &crx,
        0,
        "floor",
        "audio",
        "30",
        10,
        "C hears A on the floor",
    )
    .await;
    let brx = b.peer.received.clone();
    wait_count(&brx, 0, "floor", "audio", "30", 10, "B hears A").await;
    let chair_rx = chair.peer.received.clone();
    wait_count(
        &chair_rx,
        0,
        "tile-30",
        "audio",
        "30",
        10,
        "the chair hears A",
    )
    .await;
    let plis = a
        .peer
        .keyframe_requests
        .load(std::sync::atomic::Ordering::SeqCst);
    assert!(plis > plis_before, "no keyframe request reached A");

    m.revoke();
    m.grant("31");
    wait_count(&crx, 0, "floor", "video", "31", 10, "C sees B on the floor").await;
    wait_count(
        &crx,
        0,
        "floor",
        "audio",
        "31",
        10,
        "C hears B on the floor",
    )
    .await;
    // Once B is heard, A must stay silent everywhere.
    let marks: Vec<usize> = [&chair, &b, &c]
        .iter()
        .map(|p| p.peer.received.mark())
        .collect();
    wait_count(
        &crx,
        marks[2],
        "floor",
        "audio",
        "31",
        25,
        "C keeps hearing B",
    )
    .await;
    for (p, mark) in [&chair, &b, &c].iter().zip(&marks) {
        let leaked = p.peer.received.count(*mark, "", "audio", "30");
        assert_eq!(
            leaked, 0,
            "{} still hears A after the floor moved",
            p.peer.name
        );
    }

    let floor_video: Vec<_> = crx
        .all()
        .into_iter()
        .filter(|p| p.stream == "floor" && p.kind == "video")
        .collect();
    let ssrcs: HashSet<u32> = floor_video.iter().map(|p| p.ssrc).collect();
    assert_eq!(ssrcs.len(), 1, "the floor slot changed SSRC: {ssrcs:?}");
    let switch = floor_video
        .windows(2)
        .find(|w| w[0].from == "30" && w[1].from == "31")
        .expect("a switch from A to B on C's floor video");
    assert_eq!(
        switch[1].seq,
        switch[0].seq.wrapping_add(1),
        "sequence numbers jump at the switch"
    );
    for w in floor_video.windows(2) {
        let step = w[1].seq.wrapping_sub(w[0].seq);
        assert!(
            step == 1,
            "gap of {step} on the floor video around {}",
            w[0].seq
        );
    }
}

/// A presentation: A holds the floor and presents; B, the chair and a
/// viewer get A's second video on their `content` slot, with no server
/// offer (the line was there from the start) and a keyframe requested of
/// A's content track. Nothing presented before the token; nothing after A
/// loses the floor (the token goes with it); A never gets its own back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_presentation_reaches_every_receiver_on_the_content_slot() {
    use diemcau::control::Command;
    use std::sync::atomic::Ordering::SeqCst;
    let mut m = Meeting::start("01", &["30", "31"]).await;
    let mut chair = m.join_with(Some("01"), "01", ContentLine::Present).await;
    let mut a = m.join_with(Some("30"), "30", ContentLine::Present).await;
    let mut b = m.join_with(Some("31"), "31", ContentLine::Receive).await;
    let viewer = m.join_with(None, "viewer", ContentLine::Receive).await;
    m.await_up(3, CONNECT).await;
    for p in [&mut chair, &mut a, &mut b] {
        p.peer.start_sending();
    }
    let slides = content_name("30");
    let brx = b.peer.received.clone();
    wait_count(&brx, 0, "chair", "video", "01", 5, "B gets the chair").await;
    // A's screen goes out before anyone gave it the token: held back.
    a.peer.present(true);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        brx.count(0, "", "video", &slides),
        0,
        "content leaked before the token"
    );
    let offers_before: Vec<u64> = [&chair, &b, &viewer]
        .iter()
        .map(|p| p.server_offers.load(SeqCst))
        .collect();

    m.grant("30");
    m.apply(Command::RequestContent {
        endpoint: "30".into(),
    });
    assert_eq!(m.session.policy().content, Some("30".into()));
    for (who, rx) in [
        ("B", &brx),
        ("the chair", &chair.peer.received),
        ("the viewer", &viewer.peer.received),
    ] {
        wait_count(
            rx,
            0,
            "content",
            "video",
            &slides,
            5,
            &format!("{who} sees A's slides"),
        )
        .await;
        assert_eq!(
            rx.count(0, "content", "audio", "30"),
            0,
            "{who}: audio on the content slot"
        );
        assert_eq!(
            rx.count(0, "content", "video", "30"),
            0,
            "{who}: A's camera on the content slot"
        );
    }
    assert!(
        a.peer.content_keyframe_requests.load(SeqCst) > 0,
        "no keyframe asked of A's slides"
    );
    let offers_after: Vec<u64> = [&chair, &b, &viewer]
        .iter()
        .map(|p| p.server_offers.load(SeqCst))
        .collect();
    // The chair's tiles may come in server offers; B's and the viewer's lines never change.
    assert_eq!(
        offers_after[1..],
        offers_before[1..],
        "content needed a renegotiation"
    );

    // The floor goes, and the token with it (`content_ends_with_floor`).
    m.revoke();
    assert_eq!(m.session.policy().content, None);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mark = brx.mark();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        brx.count(mark, "", "video", &slides),
        0,
        "content still reaches B"
    );
    assert!(
        brx.count(mark, "chair", "video", "01") > 0,
        "B lost the chair too"
    );
}

/// Lecture mode: no endpoint's audio reaches anyone, even the floor
/// holder's. Open mode: every endpoint's audio reaches the chair.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modes_gate_endpoint_audio() {
    let codes = ["30", "31", "32"];
    let mut m = Meeting::start("01", &codes).await;
    let mut chair = m.join(Some("01"), "01").await;
    let mut eps = Vec::new();
    for c in codes {
        eps.push(m.join(Some(c), c).await);
    }
    m.await_up(4, CONNECT).await;
    chair.peer.start_sending();
    for e in eps.iter_mut() {
        e.peer.start_sending();
    }
    m.grant("30");
    m.mode(Mode::Lecture);
    let rx31 = eps[1].peer.received.clone();
    wait_count(
        &rx31,
        0,
        "floor",
        "video",
        "30",
        5,
        "31 sees the holder in lecture mode",
    )
    .await;
    let marks: Vec<usize> = std::iter::once(&chair)
        .chain(eps.iter())
        .map(|p| p.peer.received.mark())
        .collect();
    wait_count(
        &rx31,
        marks[2],
        "chair",
        "audio",
        "01",
        25,
        "31 keeps hearing the chair",
    )
    .await;
    let chair_rx = chair.peer.received.clone();
    wait_count(
        &chair_rx,
        marks[0],
        "tile-31",
        "video",
        "31",
        10,
        "the chair keeps seeing 31",
    )
    .await;
    for (p, mark) in std::iter::once(&chair).chain(eps.iter()).zip(&marks) {
        for c in codes {
            let heard = p.peer.received.count(*mark, "", "audio", c);
            assert_eq!(heard, 0, "{} hears {c} in lecture mode", p.peer.name);
        }
    }

    m.revoke();
    m.mode(Mode::Open);
    let mark = chair.peer.received.mark();
    for c in codes {
        wait_count(
            &chair_rx,
            mark,
            &format!("tile-{c}"),
            "audio",
            c,
            10,
            &format!("the chair hears {c} in open mode"),
        )
        .await;
    }
}

/// Receiver reports from subscribers give every link an RTT, and the
/// stats show forwarding and keyframe requests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receiver_reports_give_link_rtt_and_loss() {
    let mut m = Meeting::start("01", &["30"]).await;
    let mut chair = m.join(Some("01"), "01").await;
    let mut a = m.join(Some("30"), "30").await;
    m.await_up(2, CONNECT).await;
    chair.peer.start_sending();
    a.peer.start_sending();
    let plane = m.plane.clone();
    wait_for(Duration::from_secs(15), "an RTT on both links", || {
        let links = plane.links();
        async move {
            links.len() == 2
                && links.iter().all(|l| {
                    l.rtt_ms.is_some() && l.packets_forwarded > 0 && l.state == "connected"
                })
        }
    })
    .await;
    for link in plane.links() {
        let rtt = link.rtt_ms.unwrap_or(f64::NAN);
        assert!(
            (0.0..1000.0).contains(&rtt),
            "implausible loopback RTT {rtt} ms"
        );
        assert!(
            link.loss_down < 0.5 && link.loss_up < 0.5,
            "loss on loopback: {link:?}"
        );
        assert_eq!(link.candidate_type.as_deref(), Some("host"), "{link:?}");
        assert!(link.bitrate_in > 0 && link.packets_received > 0, "{link:?}");
    }
}

/// Asserts that no outgoing stream `rx` got on `stream` lost a packet,
/// counted as a receiver counts it: every sequence number from the first
/// to the highest seen is expected. Duplicates and late packets (a resent
/// one) do not count against it.
fn assert_no_loss(rx: &support::Received, stream: &str, who: &str) {
    let mut streams: HashMap<(u32, &str), (i64, BTreeSet<i64>)> = HashMap::new();
    for p in rx.all().into_iter().filter(|p| p.stream == stream) {
        let (newest, seen) = streams
            .entry((p.ssrc, p.kind))
            .or_insert_with(|| (i64::from(p.seq), BTreeSet::new()));
        let ext = *newest + i64::from(p.seq.wrapping_sub(*newest as u16) as i16);
        *newest = (*newest).max(ext);
        seen.insert(ext);
    }
    for ((ssrc, kind), (_, seen)) in streams {
        let (Some(first), Some(last)) = (seen.first(), seen.last()) else {
            continue;
        };
        let missing: Vec<i64> = (*first..=*last).filter(|s| !seen.contains(s)).collect();
        assert!(
            missing.is_empty(),
            "{who}: {stream} {kind} (SSRC {ssrc}) never got {} sequence numbers, from {:?}",
            missing.len(),
            missing
                .iter()
                .take(5)
                .map(|s| *s as u16)
                .collect::<Vec<_>>()
        );
    }
}

/// The floor goes A → B → A, then a link test loops C's own media back to
/// it and ends: every switch keeps C's floor slot gap-free, so C's
/// receiver counts no loss on a perfect link. The publishers resend an
/// old keyframe before each new one, as a browser's bandwidth probes
/// resend recent packets: a leg waiting for a keyframe must not switch at
/// the old one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn floor_switches_and_loopback_leave_no_sequence_gaps() {
    let mut m = Meeting::start("01", &["30", "31", "32"]).await;
    let mut chair = m.join(Some("01"), "01").await;
    let mut a = m.join(Some("30"), "30").await;
    let mut b = m.join(Some("31"), "31").await;
    let mut c = m.join(Some("32"), "32").await;
    m.await_up(4, CONNECT).await;
    for p in [&mut chair, &mut a, &mut b, &mut c] {
        p.peer.resend_keyframes(true);
        p.peer.start_sending();
    }
    c.peer.allow_own_media(true);
    let crx = c.peer.received.clone();
    for (i, holder) in ["30", "31", "30"].into_iter().enumerate() {
        if i > 0 {
            m.revoke();
        }
        m.grant(holder);
        let mark = crx.mark();
        wait_count(
            &crx,
            mark,
            "floor",
            "video",
            holder,
            10,
            "C sees the holder",
        )
        .await;
        wait_count(
            &crx,
            mark,
            "floor",
            "audio",
            holder,
            25,
            "C hears the holder",
        )
        .await;
    }
    let code = diemcau::control::EndpointCode::from("32");
    m.plane.set_loopback(&m.id, &code, true);
    let mark = crx.mark();
    wait_count(&crx, mark, "floor", "video", "32", 10, "C sees itself").await;
    wait_count(&crx, mark, "floor", "audio", "32", 25, "C hears itself").await;
    m.plane.set_loopback(&m.id, &code, false);
    let mark = crx.mark();
    wait_count(&crx, mark, "floor", "video", "30", 10, "C sees A again").await;
    wait_count(&crx, mark, "floor", "audio", "30", 25, "C hears A again").await;
    assert_no_loss(&crx, "floor", "C");
    assert_no_loss(&b.peer.received, "floor", "B");
}

/// A STUN binding request naming `ufrag` as ours, with no integrity: what
/// anyone who learnt a connection's ufrag could send.
/// The server's ICE ufrag in its answer.
fn server_ufrag(answer: &str) -> String {
    answer
        .lines()
        .find_map(|l| l.strip_prefix("a=ice-ufrag:"))
        .expect("the answer has an ICE ufrag")
        .trim()
        .to_string()
}

fn unauthenticated_binding(ufrag: &str) -> Vec<u8> {
    let username = format!("{ufrag}:intruder");
    let mut attr = vec![0x00, 0x06];
    attr.extend_from_slice(&(username.len() as u16).to_be_bytes());
    attr.extend_from_slice(username.as_bytes());
    while attr.len() % 4 != 0 {
        attr.push(0);
    }
    let mut msg = vec![0x00, 0x01];
    msg.extend_from_slice(&(attr.len() as u16).to_be_bytes());
    msg.extend_from_slice(&[0x21, 0x12, 0xA4, 0x42]);
    msg.extend_from_slice(&[9; 12]);
    msg.extend_from_slice(&attr);
    msg
}

/// Garbage shaped like each protocol on the port (STUN, DTLS, RTP/RTCP)
/// and plain noise, of every length up to a full datagram.
fn garbage(n: usize) -> Vec<u8> {
    let len = (n * 37) % 1500;
    let mut data: Vec<u8> = (0..len).map(|_| rand::random::<u8>()).collect();
    if let Some(first) = data.first_mut() {
        *first = match n % 5 {
            0 => 0x00,   // STUN
            1 => 0x16,   // DTLS handshake
            2 => 0x80,   // RTP
            3 => 0x81,   // RTCP
            _ => *first, // noise
        };
    }
    if n.is_multiple_of(5) && data.len() >= 8 {
        data[4..8].copy_from_slice(&[0x21, 0x12, 0xA4, 0x42]);
    }
    data
}

/// The media port is open to anyone: datagrams from strangers, and from
/// one that names a connection's ufrag (so its datagrams reach that
/// connection's stack), must neither stop the media task nor the media.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_on_the_media_port_stops_nothing() {
    let mut m = Meeting::start("01", &["30", "31"]).await;
    let mut chair = m.join(Some("01"), "01").await;
    let mut a = m.join(Some("30"), "30").await;
    m.await_up(2, CONNECT).await;
    chair.peer.start_sending();
    a.peer.start_sending();
    let arx = a.peer.received.clone();
    wait_count(&arx, 0, "chair", "video", "01", 5, "A gets the chair").await;

    let port = m.plane.local_addr();
    let ufrag = server_ufrag(&a.answer);
    let stranger = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let intruder = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("bind");
    intruder
        .send_to(&unauthenticated_binding(&ufrag), port)
        .await
        .expect("sent");
    for n in 0..3000usize {
        let socket = if n.is_multiple_of(2) {
            &stranger
        } else {
            &intruder
        };
        let _ = socket.send_to(&garbage(n), port).await;
        if n.is_multiple_of(200) {
            // Let the media task keep up rather than lose the lot to a
            // full socket buffer: the garbage should reach the stack.
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    let mark = arx.mark();
    wait_count(
        &arx,
        mark,
        "chair",
        "audio",
        "01",
        25,
        "A still hears the chair",
    )
    .await;
    wait_count(
        &arx,
        mark,
        "chair",
        "video",
        "01",
        10,
        "A still sees the chair",
    )
    .await;
    // The media task still takes new connections.
    let b = m.join(Some("31"), "31").await;
    m.await_up(1, CONNECT).await;
    wait_count(
        &b.peer.received,
        0,
        "chair",
        "audio",
        "01",
        10,
        "B gets the chair",
    )
    .await;
}

/// Forged connectivity checks naming a live connection's ufrag, from many
/// source addresses, teach the media port nothing: the link keeps its
/// verified address (its candidate type stays `host`, where a learnt
/// forged source would show as `prflx`) and its media keeps flowing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_checks_from_many_sources_teach_the_port_nothing() {
    let mut m = Meeting::start("01", &["30"]).await;
    let mut chair = m.join(Some("01"), "01").await;
    let a = m.join(Some("30"), "30").await;
    m.await_up(2, CONNECT).await;
    chair.peer.start_sending();
    let arx = a.peer.received.clone();
    wait_count(&arx, 0, "chair", "video", "01", 5, "A gets the chair").await;
    let type_of_a = |m: &Meeting| {
        m.plane
            .links()
            .into_iter()
            .find(|l| l.endpoint.as_ref().map(|e| e.as_str()) == Some("30"))
            .and_then(|l| l.candidate_type)
    };
    // The link's figures are refreshed once a second.
    let mut before = None;
    for _ in 0..50 {
        before = type_of_a(&m);
        if before.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(before.as_deref(), Some("host"));

    let port = m.plane.local_addr();
    let ufrag = server_ufrag(&a.answer);
    let forged = unauthenticated_binding(&ufrag);
    for n in 0..400u32 {
        let source = std::net::Ipv4Addr::new(127, 0, (n / 200) as u8 + 1, (n % 200) as u8 + 2);
        let Ok(socket) = tokio::net::UdpSocket::bind((source, 0)).await else {
            continue;
        };
        let _ = socket.send_to(&forged, port).await;
        // And what would follow a learnt address: RTP from the same source.
        let _ = socket.send_to(&garbage(2), port).await;
    }
    // Two stats periods: the link's figures are refreshed once a second.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        type_of_a(&m),
        before,
        "a forged source became the link's address"
    );
    let mark = arx.mark();
    wait_count(
        &arx,
        mark,
        "chair",
        "video",
        "01",
        10,
        "A still sees the chair",
    )
    .await;
}

/// `ffprobe`'s packets of `file`, as (stream index, pts seconds).
fn probe_packets(file: &std::path::Path) -> Vec<(u64, f64)> {
    let out = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-show_packets", "-of", "json"])
        .arg(file)
        .output()
        .expect("ffprobe runs (scripts/test-deps installs ffmpeg)");
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "ffprobe finds {} broken: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("ffprobe's JSON");
    v["packets"]
        .as_array()
        .map(|ps| {
            ps.iter()
                .filter_map(|p| {
                    let stream = p["stream_index"].as_u64()?;
                    let pts: f64 = p["pts_time"].as_str()?.parse().ok()?;
                    Some((stream, pts))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Recording on while A then B hold the floor: one WebM file whose five
/// tracks (chair audio and video, floor audio and video, content) hold
/// the chair throughout and the floor slot across the switch, written
/// while media flows; stopping closes it. A second start makes a second
/// file. Codec-level decoding is checked with real encoders elsewhere (the
/// test peers' VP8 is only shaped like VP8).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_programme_is_recorded_to_webm() {
    use diemcau::control::Command;
    let dir = tempfile::tempdir().expect("temp dir");
    let mut m =
        Meeting::start_recording_into("01", &["30", "31"], Some(dir.path().to_path_buf())).await;
    let mut chair = m.join(Some("01"), "01").await;
    let mut a = m.join(Some("30"), "30").await;
    let mut b = m.join(Some("31"), "31").await;
    m.await_up(3, CONNECT).await;
    for p in [&mut chair, &mut a, &mut b] {
        p.peer.start_sending();
    }
    m.grant("30");
    m.apply(Command::StartRecording);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    m.revoke();
    m.grant("31");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    m.apply(Command::StopRecording);
    m.apply(Command::StartRecording);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    m.apply(Command::StopRecording);

    let folder = dir.path().join("test");
    let mut files: Vec<std::path::PathBuf> = Vec::new();
    let webm = |p: &std::path::PathBuf| p.extension().is_some_and(|e| e == "webm");
    wait_for(FLOW, "two closed recordings", || {
        let folder = folder.clone();
        async move {
            std::fs::read_dir(&folder)
                .map(|d| d.filter_map(Result::ok).filter(|e| webm(&e.path())).count() >= 2)
                .unwrap_or(false)
        }
    })
    .await;
    // The writer closes a file on its own thread once its queue is empty.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for entry in std::fs::read_dir(&folder).expect("the session's folder") {
        files.push(entry.expect("an entry").path());
    }
    files.retain(webm);
    files.sort();
    assert_eq!(files.len(), 2, "{files:?}");
    // Each file's start on the wall clock, to the millisecond, beside it.
    for f in &files {
        let sidecar = std::fs::read_to_string(f.with_extension("json")).expect("a sidecar");
        let v: serde_json::Value = serde_json::from_str(&sidecar).expect("JSON");
        assert!(
            v["started_at"]
                .as_u64()
                .is_some_and(|t| t > 1_700_000_000_000),
            "{v}"
        );
    }

    let packets = probe_packets(&files[0]);
    let per_stream = |i: u64| packets.iter().filter(|(s, _)| *s == i).count();
    // Chair audio (50/s) and video (25/s) over about 5 s.
    assert!(per_stream(0) > 150, "chair audio: {}", per_stream(0));
    assert!(per_stream(1) > 60, "chair video: {}", per_stream(1));
    // The floor: A, then B after a keyframe; audio throughout both turns.
    assert!(per_stream(2) > 150, "floor audio: {}", per_stream(2));
    assert!(per_stream(3) > 60, "floor video: {}", per_stream(3));
    assert_eq!(per_stream(4), 0, "content with nobody presenting");
    let span = |i: u64| {
        let ts: Vec<f64> = packets
            .iter()
            .filter(|(s, _)| *s == i)
            .map(|p| p.1)
            .collect();
        ts.iter().cloned().fold(f64::MIN, f64::max) - ts.iter().cloned().fold(f64::MAX, f64::min)
    };
    // Each track's times only go forward: no two frames at one time.
    for stream in 0..5 {
        let ts: Vec<f64> = packets
            .iter()
            .filter(|(s, _)| *s == stream)
            .map(|p| p.1)
            .collect();
        assert!(
            ts.windows(2).all(|w| w[1] > w[0]),
            "stream {stream} repeats or reverses a time: {ts:?}"
        );
    }
    assert!(span(0) > 4.0, "the chair's audio spans {} s", span(0));
    assert!(span(3) > 4.0, "the floor's video spans {} s", span(3));
    assert!(
        !probe_packets(&files[1]).is_empty(),
        "the second file is empty"
    );
}
