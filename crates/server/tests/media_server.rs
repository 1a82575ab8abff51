//! The media plane through the real server binary: pages' signaling over
//! `/ws`, WHIP publishers and WHEP viewers, the floor and modes driven
//! over REST, attendance driven by the links. Packets are counted by the
//! sender named in their payload.

mod common;
mod support;

use common::Server;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{join_http, post_sdp, wait_for, Received, WsClient};

const CONNECT: Duration = Duration::from_secs(30);
const FLOW: Duration = Duration::from_secs(15);
/// Long enough for packets already on the wire to land.
const SETTLE: Duration = Duration::from_millis(400);
/// How long a gate is watched for leaks.
const WATCH: Duration = Duration::from_millis(1500);
/// The default `[media]` video ceilings, bit/s.
const GRID_BPS: u64 = 300_000;
const PROGRAMME_BPS: u64 = 2_500_000;

fn ws_base(server: &Server) -> String {
    format!("ws://{}", server.addr)
}

async fn live_session(server: &Server, id: &str) {
    server.create(id, "Hội nghị trực tuyến").await;
    let chair = server.chair();
    server
        .ok(&format!("/api/sessions/{id}/open"), &chair, None)
        .await;
    server
        .ok(&format!("/api/sessions/{id}/start"), &chair, None)
        .await;
}

/// The chair and each of `codes` join session `id` over `/ws`, publishing.
async fn join_chair_and_sites(
    server: &Server,
    base: &str,
    id: &str,
    codes: &[&str],
) -> (WsClient, Vec<WsClient>) {
    let chair = WsClient::join(base, &server.chair(), id, "00", true).await;
    let mut sites = Vec::new();
    for c in codes {
        sites.push(WsClient::join(base, &server.endpoint(c), id, c, true).await);
    }
    (chair, sites)
}

async fn wait_status(server: &Server, id: &str, codes: &[&str], status: &str) {
    let what = format!("{codes:?} {status} in session {id}");
    wait_for(CONNECT, &what, || async move {
        let state = server.state(id).await;
        codes
            .iter()
            .all(|c| state["attendance"][*c]["status"] == status)
    })
    .await;
}

async fn grant(server: &Server, id: &str, code: &str) {
    server
        .ok(
            &format!("/api/sessions/{id}/floor/grant"),
            &server.chair(),
            Some(json!({"endpoint": code})),
        )
        .await;
}

async fn set_muted(server: &Server, id: &str, code: &str, muted: bool) {
    let (status, body) = server
        .put(
            &format!("/api/sessions/{id}/endpoints/{code}/mute"),
            &server.chair(),
            json!({"muted": muted}),
        )
        .await;
    assert!(status.is_success(), "mute {code} {muted}: {status} {body}");
}

async fn set_mode(server: &Server, id: &str, mode: &str) {
    let (status, body) = server
        .put(
            &format!("/api/sessions/{id}/mode"),
            &server.chair(),
            json!({"mode": mode}),
        )
        .await;
    assert!(status.is_success(), "mode {mode}: {status} {body}");
}

/// Waits until `rx` got at least `n` packets of `kind` from `from` on
/// `stream` after `mark`.
async fn wait_got(
    rx: &Arc<Received>,
    mark: usize,
    stream: &str,
    kind: &str,
    from: &str,
    n: usize,
    who: &str,
) {
    let what = format!("{who} gets {n} {kind} packets of {from} on {stream}");
    wait_for(FLOW, &what, || async move {
        rx.count(mark, stream, kind, from) >= n
    })
    .await;
}

/// A WHEP viewer of session `id`.
async fn join_viewer(server: &Server, id: &str) -> support::TestPeer {
    let url = server.url(&format!("/whep/{id}"));
    join_http(&url, &server.viewer(), "viewer", false).await.0
}

/// Waits until each receiver has the chair's picture and voice.
async fn wait_programme(receivers: &[(String, Arc<Received>)]) {
    for (who, rx) in receivers {
        wait_got(rx, 0, "chair", "video", "00", 5, who).await;
        wait_got(rx, 0, "chair", "audio", "00", 10, who).await;
    }
}

/// Every receiver's packet count now, to count from later.
fn marks(receivers: &[(String, Arc<Received>)]) -> Vec<usize> {
    receivers.iter().map(|(_, r)| r.mark()).collect()
}

/// Who heard `kind` from any of `from` since `marks`: (receiver, sender, packets).
fn leaks(
    receivers: &[(String, Arc<Received>)],
    marks: &[usize],
    kind: &str,
    from: &[&str],
) -> Vec<(String, String, usize)> {
    let mut out = Vec::new();
    for ((who, rx), mark) in receivers.iter().zip(marks) {
        for f in from {
            let n = rx.count(*mark, "", kind, f);
            if n > 0 {
                out.push((who.clone(), f.to_string(), n));
            }
        }
    }
    out
}

/// Sequence numbers on one receiver's `floor` video: consecutive
/// (wrapping), on a single SSRC, across every switch of its source.
fn assert_floor_video_continuous(rx: &Received, mark: usize, who: &str) {
    let packets: Vec<_> = rx
        .since(mark)
        .into_iter()
        .filter(|p| p.stream == "floor" && p.kind == "video")
        .collect();
    assert!(packets.len() >= 8, "{who}: too few floor video packets");
    let ssrcs: HashSet<u32> = packets.iter().map(|p| p.ssrc).collect();
    assert_eq!(ssrcs.len(), 1, "{who}: floor video changed SSRC");
    let senders: HashSet<&str> = packets.iter().map(|p| p.from.as_str()).collect();
    assert!(
        senders.len() >= 2,
        "{who}: floor never switched: {senders:?}"
    );
    for pair in packets.windows(2) {
        assert_eq!(
            pair[1].seq,
            pair[0].seq.wrapping_add(1),
            "{who}: floor video jumps from {} ({}) to {} ({})",
            pair[0].seq,
            pair[0].from,
            pair[1].seq,
            pair[1].from
        );
    }
}

/// Chair and eight endpoints over `/ws`, a WHIP publisher and a WHEP
/// viewer: the programme, floor switching without renegotiation, the
/// audio gate in every mode, a muted floor holder seen but not heard, a
/// forged command refused and still gated, attendance from the links.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn programme_floor_and_gating_through_the_server() {
    let codes = ["30", "31", "32", "33", "34", "35", "36", "37"];
    let whip_code = "38";
    let mut registry: Vec<&str> = codes.to_vec();
    registry.push(whip_code);
    let server = Server::start_with_provinces(&registry);
    let id = "s";
    live_session(&server, id).await;

    let base = ws_base(&server);
    let (mut chair, mut eps) = join_chair_and_sites(&server, &base, id, &codes).await;
    let (mut whip, whip_reply) = join_http(
        &server.url(&format!("/whip/{id}")),
        &server.endpoint(whip_code),
        whip_code,
        true,
    )
    .await;
    let viewer = join_viewer(&server, id).await;
    let mut everyone: Vec<&str> = vec!["00"];
    everyone.extend(&registry);
    wait_status(&server, id, &everyone, "connected").await;

    chair.peer.start_sending();
    for e in eps.iter_mut() {
        e.peer.start_sending();
    }
    whip.start_sending();

    let mut receivers: Vec<(String, Arc<Received>)> =
        vec![("00".into(), chair.peer.received.clone())];
    receivers.extend(
        eps.iter()
            .map(|e| (e.peer.name.clone(), e.peer.received.clone())),
    );
    receivers.push((whip_code.into(), whip.received.clone()));
    receivers.push(("viewer".into(), viewer.received.clone()));

    // The programme: the chair to everyone, every site to the chair.
    for (who, rx) in receivers.iter().skip(1) {
        wait_got(rx, 0, "chair", "audio", "00", 10, who).await;
        wait_got(rx, 0, "chair", "video", "00", 5, who).await;
    }
    for c in &registry {
        let stream = format!("tile-{c}");
        wait_got(&chair.peer.received, 0, &stream, "video", c, 5, "00").await;
    }
    let tracks = chair.tracks.lock().map(|t| t.clone()).unwrap_or_default();
    for c in &registry {
        assert!(
            tracks
                .iter()
                .any(|t| t["slot"] == "tile" && t["endpoint"] == *c && t["mid"].is_string()),
            "the chair's tracks do not name tile {c}: {tracks:?}"
        );
    }
    let start = marks(&receivers);
    let heard = leaks(&receivers, &vec![0; receivers.len()], "audio", &registry);
    assert!(
        heard.is_empty(),
        "site audio with nobody on the floor: {heard:?}"
    );

    // Floor to A.
    let (a, b) = ("30", "31");
    let offers_before: Vec<u64> = eps
        .iter()
        .map(|e| e.server_offers.load(std::sync::atomic::Ordering::SeqCst))
        .collect();
    let pli_before = eps[0]
        .peer
        .keyframe_requests
        .load(std::sync::atomic::Ordering::SeqCst);
    grant(&server, id, a).await;
    for ((who, rx), mark) in receivers.iter().zip(&start) {
        if who == a || who == "00" {
            continue;
        }
        wait_got(rx, *mark, "floor", "video", a, 5, who).await;
        wait_got(rx, *mark, "floor", "audio", a, 10, who).await;
    }
    assert!(
        eps[0]
            .peer
            .keyframe_requests
            .load(std::sync::atomic::Ordering::SeqCst)
            > pli_before,
        "no keyframe request reached A"
    );
    // A feeds the programme and may send its full picture; a site that
    // only fills the chair's grid is held to the grid's rate.
    let ceiling = |i: usize| {
        eps[i]
            .peer
            .bitrate_ceiling
            .load(std::sync::atomic::Ordering::SeqCst)
    };
    wait_for(FLOW, "ceilings: programme for A, grid for B", || {
        let (ceil_a, ceil_b) = (ceiling(0), ceiling(1));
        async move { ceil_a == PROGRAMME_BPS && ceil_b == GRID_BPS }
    })
    .await;
    // The chair hears A once, on A's tile; the floor slot carries A's
    // picture but not its voice a second time.
    let chair_rx = &chair.peer.received;
    wait_got(
        chair_rx,
        start[0],
        &format!("tile-{a}"),
        "audio",
        a,
        10,
        "00",
    )
    .await;
    wait_got(chair_rx, start[0], "floor", "video", a, 5, "00").await;
    assert_eq!(
        chair_rx.count(start[0], "floor", "audio", a),
        0,
        "the chair got A's audio twice (tile and floor slot)"
    );
    let endpoint_tracks = eps[2].tracks.lock().map(|t| t.clone()).unwrap_or_default();
    let floor_names_a = || {
        eps[2].tracks.lock().is_ok_and(|t| {
            t.iter()
                .any(|x| x["slot"] == "floor" && x["kind"] == "video" && x["endpoint"] == a)
        })
    };
    wait_for(FLOW, "tracks name A on the floor", || {
        let named = floor_names_a();
        async move { named }
    })
    .await;
    assert!(
        endpoint_tracks
            .iter()
            .any(|t| t["slot"] == "chair" && t["endpoint"] == "00"),
        "an endpoint's tracks do not name the chair: {endpoint_tracks:?}"
    );

    // Floor to B: the same slot, no renegotiation.
    let before_b = marks(&receivers);
    grant(&server, id, b).await;
    for ((who, rx), mark) in receivers.iter().zip(&before_b) {
        if who == b || who == "00" {
            continue;
        }
        wait_got(rx, *mark, "floor", "video", b, 5, who).await;
    }
    let offers_after: Vec<u64> = eps
        .iter()
        .map(|e| e.server_offers.load(std::sync::atomic::Ordering::SeqCst))
        .collect();
    assert_eq!(offers_before, offers_after, "a floor change renegotiated");
    wait_for(FLOW, "ceilings follow the floor to B", || {
        let (ceil_a, ceil_b) = (ceiling(0), ceiling(1));
        async move { ceil_a == GRID_BPS && ceil_b == PROGRAMME_BPS }
    })
    .await;
    // A site that asks for the floor climbs to the programme's rate before
    // its grant (a browser takes seconds to get there); it falls back when
    // its request is withdrawn.
    let asker = &eps[5];
    let (status, asked) = server
        .post(
            &format!("/api/sessions/{id}/floor/requests"),
            &server.endpoint(&asker.peer.name),
            Some(json!({"topic": "Tình hình mưa lũ"})),
        )
        .await;
    assert_eq!(status.as_u16(), 201, "{asked}");
    wait_for(FLOW, "the next speaker's ceiling rises", || {
        let (asking, quiet) = (ceiling(5), ceiling(6));
        async move { asking == PROGRAMME_BPS && quiet == GRID_BPS }
    })
    .await;
    let rid = asked["request_id"].as_u64().unwrap_or_default();
    let (status, body) = server
        .delete(
            &format!("/api/sessions/{id}/floor/requests/{rid}"),
            &server.endpoint(&asker.peer.name),
        )
        .await;
    assert!(status.is_success(), "{status} {body}");
    wait_for(FLOW, "a withdrawn request's ceiling falls back", || {
        let asking = ceiling(5);
        async move { asking == GRID_BPS }
    })
    .await;
    for (i, (who, rx)) in receivers.iter().enumerate() {
        if who != a && who != b && who != "00" {
            assert_floor_video_continuous(rx, start[i], who);
        }
    }

    // A no longer holds the floor: none of its audio leaves the server.
    tokio::time::sleep(SETTLE).await;
    let m = marks(&receivers);
    tokio::time::sleep(WATCH).await;
    let heard = leaks(&receivers, &m, "audio", &[a]);
    assert!(
        heard.is_empty(),
        "A heard after losing the floor: {heard:?}"
    );

    // A forged grant over /ws is refused, and C stays gated.
    let c = "32";
    let forged = eps[2]
        .command(
            "forged",
            json!({"command": "grant_floor", "target": {"endpoint": c}}),
        )
        .await;
    assert_eq!(forged["type"], "error", "{forged}");
    assert_eq!(forged["error"], "forbidden", "{forged}");
    let m = marks(&receivers);
    tokio::time::sleep(WATCH).await;
    let heard = leaks(&receivers, &m, "audio", &[c]);
    assert!(heard.is_empty(), "C heard after a forged grant: {heard:?}");
    let state = server.state(id).await;
    let holder = state["floor"]["holders"][0].to_string();
    assert_eq!(state["floor"]["requests"][holder.as_str()]["endpoint"], b);

    // An ICE restart asked by a page: a server offer, answered, and the
    // programme keeps flowing.
    let d = &eps[3];
    let offers = d.server_offers.load(std::sync::atomic::Ordering::SeqCst);
    d.send(json!({"type": "ice_restart"}));
    wait_for(FLOW, "a server offer after ice_restart", || {
        let now = d.server_offers.load(std::sync::atomic::Ordering::SeqCst);
        async move { now > offers }
    })
    .await;
    let m = d.peer.received.mark();
    wait_got(
        &d.peer.received,
        m,
        "chair",
        "audio",
        "00",
        10,
        "after restart",
    )
    .await;

    // A renegotiation the page starts on its connection: answered on the
    // same connection, and its media keeps flowing both ways.
    let e = &eps[4];
    e.renegotiate().await;
    let m = e.peer.received.mark();
    let cm = chair.peer.received.mark();
    wait_got(
        &e.peer.received,
        m,
        "chair",
        "audio",
        "00",
        10,
        "after renegotiation",
    )
    .await;
    let tile = format!("tile-{}", e.peer.name);
    wait_got(
        &chair.peer.received,
        cm,
        &tile,
        "video",
        &e.peer.name,
        5,
        "00",
    )
    .await;

    // Floor to the WHIP publisher: the pages see it like any other site.
    let before_whip = marks(&receivers);
    grant(&server, id, whip_code).await;
    for ((who, rx), mark) in receivers.iter().zip(&before_whip) {
        if who == whip_code || who == "00" {
            continue;
        }
        wait_got(rx, *mark, "floor", "video", whip_code, 5, who).await;
    }

    // The chair mutes the holder: its picture stays on the floor slot and
    // its tile, its voice reaches nobody; unmuted, it is heard again.
    set_muted(&server, id, whip_code, true).await;
    tokio::time::sleep(SETTLE).await;
    let m = marks(&receivers);
    tokio::time::sleep(WATCH).await;
    let heard = leaks(&receivers, &m, "audio", &[whip_code]);
    assert!(heard.is_empty(), "a muted holder heard: {heard:?}");
    for ((who, rx), mark) in receivers.iter().zip(&m) {
        if who == whip_code || who == "00" {
            continue;
        }
        wait_got(rx, *mark, "floor", "video", whip_code, 5, who).await;
    }
    let whip_tile = format!("tile-{whip_code}");
    wait_got(chair_rx, m[0], &whip_tile, "video", whip_code, 5, "00").await;
    set_muted(&server, id, whip_code, false).await;
    let m = marks(&receivers);
    wait_got(chair_rx, m[0], &whip_tile, "audio", whip_code, 10, "00").await;
    let viewer_at = m.len() - 1;
    wait_got(
        &viewer.received,
        m[viewer_at],
        "floor",
        "audio",
        whip_code,
        10,
        "viewer",
    )
    .await;
    wait_got(
        &eps[0].peer.received,
        m[1],
        "floor",
        "audio",
        whip_code,
        10,
        a,
    )
    .await;

    // Lecture: only the chair is heard.
    set_mode(&server, id, "lecture").await;
    tokio::time::sleep(SETTLE).await;
    let m = marks(&receivers);
    tokio::time::sleep(WATCH).await;
    let heard = leaks(&receivers, &m, "audio", &registry);
    assert!(heard.is_empty(), "site audio in lecture mode: {heard:?}");
    assert!(eps[0].peer.received.count(m[1], "chair", "audio", "00") > 0);

    // Open: every site reaches the chair, except one the chair muted.
    let muted = "33";
    set_muted(&server, id, muted, true).await;
    set_mode(&server, id, "open").await;
    let m = marks(&receivers);
    for code in registry.iter().filter(|c| **c != muted) {
        wait_got(&chair.peer.received, m[0], "tile", "audio", code, 5, "00").await;
    }
    let heard = leaks(&receivers, &m, "audio", &[muted]);
    assert!(
        heard.is_empty(),
        "a muted site heard in open mode: {heard:?}"
    );

    // With nobody holding the floor, the floor slot follows whoever speaks
    // (audio levels), and moves when another site speaks up. The muted
    // site shouts all along and never gets it.
    server
        .ok(
            &format!("/api/sessions/{id}/floor/revoke"),
            &server.chair(),
            Some(json!({})),
        )
        .await;
    let watcher = &eps[0];
    for speaker in [4usize, 5] {
        for (i, e) in eps.iter().enumerate() {
            let dbov = if e.peer.name == muted {
                0
            } else if i == speaker {
                10
            } else {
                127
            };
            e.peer.set_audio_level(dbov);
        }
        let code = eps[speaker].peer.name.clone();
        let mark = watcher.peer.received.mark();
        wait_got(
            &watcher.peer.received,
            mark,
            "floor",
            "video",
            &code,
            5,
            "30",
        )
        .await;
        wait_got(
            &watcher.peer.received,
            mark,
            "floor",
            "audio",
            &code,
            10,
            "30",
        )
        .await;
    }
    for e in &eps {
        e.peer.set_audio_level(127);
    }

    // The links as the monitor reads them.
    let (status, links) = server.get("/api/links", &server.technician()).await;
    assert!(status.is_success(), "{status} {links}");
    let links = links.as_array().cloned().unwrap_or_default();
    assert!(links.len() >= 11, "links: {links:?}");
    assert!(links
        .iter()
        .all(|l| l["state"].is_string() && l["peer"].is_string()));
    let (status, _) = server.get("/api/links", &server.viewer()).await;
    assert_eq!(status.as_u16(), 403);

    // A page that vanishes: dropped. A WHIP DELETE: left.
    eps[7].vanish().await;
    wait_status(&server, id, &["37"], "dropped").await;
    let location = whip_reply.location.clone().expect("a Location");
    let (status, _) = server
        .call(
            reqwest::Method::DELETE,
            &location,
            Some(&server.endpoint(whip_code)),
            None,
        )
        .await;
    assert_eq!(status.as_u16(), 200);
    wait_status(&server, id, &[whip_code], "left").await;
}

/// The shipped config file (only the ports and data dir changed): media
/// bound to the wildcard, the pages' and WHIP/WHEP peers' checks arrive on
/// the interface addresses it advertises. The programme reaches everyone,
/// the floor moves to a site, and no site is heard before its grant.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shipped_config_carries_the_programme() {
    let server = Server::start_shipped();
    let id = "s";
    live_session(&server, id).await;
    let (mut chair, mut sites) =
        join_chair_and_sites(&server, &ws_base(&server), id, &["30", "31"]).await;
    let (mut whip, _) = join_http(
        &server.url(&format!("/whip/{id}")),
        &server.endpoint("01"),
        "01",
        true,
    )
    .await;
    let viewer = join_viewer(&server, id).await;
    wait_status(&server, id, &["00", "30", "31", "01"], "connected").await;
    chair.peer.start_sending();
    for s in sites.iter_mut() {
        s.peer.start_sending();
    }
    whip.start_sending();
    let receivers: Vec<(String, Arc<Received>)> = vec![
        ("31".into(), sites[1].peer.received.clone()),
        ("01".into(), whip.received.clone()),
        ("viewer".into(), viewer.received.clone()),
    ];
    wait_programme(&receivers).await;
    let before = marks(&receivers);
    tokio::time::sleep(WATCH).await;
    let heard = leaks(&receivers, &before, "audio", &["30", "31", "01"]);
    assert!(heard.is_empty(), "sites heard before any grant: {heard:?}");

    grant(&server, id, "30").await;
    let mark = marks(&receivers);
    for ((who, rx), m) in receivers.iter().zip(&mark) {
        if who != "30" {
            wait_got(rx, *m, "floor", "video", "30", 5, who).await;
            wait_got(rx, *m, "floor", "audio", "30", 10, who).await;
        }
    }
    let heard = leaks(&receivers, &mark, "audio", &["31", "01"]);
    assert!(heard.is_empty(), "sites without the floor heard: {heard:?}");
}

/// The shipped config with every round of sending and of reading shared
/// between two threads (`share_from = 1`, `share_reads_from = 1`, where
/// the shipped 256 and 32 wait until the media task is behind): the
/// programme and each floor holder reach every receiver whole and in
/// order, and no site is heard before its grant.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sending_shared_between_threads_keeps_every_leg_whole() {
    let server =
        Server::start_shipped_with_media("threads = 2\nshare_from = 1\nshare_reads_from = 1");
    let id = "s";
    live_session(&server, id).await;
    let (mut chair, mut sites) =
        join_chair_and_sites(&server, &ws_base(&server), id, &["30", "31", "33"]).await;
    let viewer = join_viewer(&server, id).await;
    wait_status(&server, id, &["00", "30", "31", "33"], "connected").await;
    chair.peer.start_sending();
    for s in sites.iter_mut() {
        s.peer.start_sending();
    }
    let receivers: Vec<(String, Arc<Received>)> = vec![
        ("33".into(), sites[2].peer.received.clone()),
        ("viewer".into(), viewer.received.clone()),
    ];
    wait_programme(&receivers).await;
    let start = marks(&receivers);
    tokio::time::sleep(WATCH).await;
    let heard = leaks(&receivers, &start, "audio", &["30", "31", "33"]);
    assert!(heard.is_empty(), "sites heard before any grant: {heard:?}");

    for holder in ["30", "31"] {
        grant(&server, id, holder).await;
        let mark = marks(&receivers);
        for ((who, rx), m) in receivers.iter().zip(&mark) {
            wait_got(rx, *m, "floor", "video", holder, 20, who).await;
            wait_got(rx, *m, "floor", "audio", holder, 10, who).await;
        }
    }
    tokio::time::sleep(SETTLE).await;
    for ((who, rx), m) in receivers.iter().zip(&start) {
        assert_floor_video_continuous(rx, *m, who);
    }
    for metric in [
        "diemcau_media_sending_shared_total",
        "diemcau_media_reading_shared_total",
    ] {
        let shared = server.metric(metric).await;
        assert!(
            shared.is_some_and(|n| n > 0.0),
            "no round was shared between threads: {metric} {shared:?}"
        );
    }
}

/// A second page (or machine) of the same site takes the site over; the
/// first page is told and its connection closed, rather than left to
/// notice a dead connection, reconnect and take the site back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_page_of_a_site_takes_over_and_the_first_is_told() {
    let server = Server::start_with_provinces(&["30"]);
    let id = "s";
    live_session(&server, id).await;
    let base = ws_base(&server);
    let mut chair = WsClient::join(&base, &server.chair(), id, "00", true).await;
    let first = WsClient::join(&base, &server.endpoint("30"), id, "30", true).await;
    wait_status(&server, id, &["00", "30"], "connected").await;
    chair.peer.start_sending();
    wait_got(
        &first.peer.received,
        0,
        "chair",
        "video",
        "00",
        5,
        "first page",
    )
    .await;

    let second = WsClient::join(&base, &server.endpoint("30"), id, "30", true).await;
    wait_for(FLOW, "the first page is told it was replaced", || {
        let told = first.of_type("replaced").len();
        async move { told == 1 }
    })
    .await;
    wait_got(
        &second.peer.received,
        0,
        "chair",
        "video",
        "00",
        5,
        "second page",
    )
    .await;
    assert!(
        second.of_type("replaced").is_empty(),
        "the page that took over was told it was replaced"
    );
    // The site never left: the swap keeps it connected.
    let state = server.state(id).await;
    assert_eq!(state["attendance"]["30"]["status"], "connected", "{state}");
    assert_eq!(state["attendance"]["30"]["disconnects"], 0, "{state}");
}

/// A technician's console over `/ws` receives what the chair does: every
/// site's tile and the programme, but no site's voice the chair may not
/// hear; what the console sends itself reaches nobody. A viewer token over
/// `/ws` keeps the programme alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_technician_receives_what_the_chair_does_and_publishes_nothing() {
    let codes = ["30", "31"];
    let server = Server::start_with_provinces(&codes);
    let id = "s";
    live_session(&server, id).await;
    let base = ws_base(&server);
    let (mut chair, mut eps) = join_chair_and_sites(&server, &base, id, &codes).await;
    // It offers send lines, as a publishing page would: they lead nowhere.
    let mut tech = WsClient::join(&base, &server.technician(), id, "tech", true).await;
    let viewer = WsClient::join(&base, &server.viewer(), id, "viewer", false).await;
    wait_status(&server, id, &["00", "30", "31"], "connected").await;
    chair.peer.start_sending();
    for e in eps.iter_mut() {
        e.peer.start_sending();
    }
    tech.peer.start_sending();

    let rx = &tech.peer.received;
    wait_got(rx, 0, "chair", "audio", "00", 10, "tech").await;
    wait_got(rx, 0, "chair", "video", "00", 5, "tech").await;
    for c in codes {
        wait_got(rx, 0, &format!("tile-{c}"), "video", c, 5, "tech").await;
    }
    let tracks = tech.tracks.lock().map(|t| t.clone()).unwrap_or_default();
    for c in codes {
        assert!(
            tracks
                .iter()
                .any(|t| t["slot"] == "tile" && t["endpoint"] == c),
            "the technician's tracks do not name tile {c}: {tracks:?}"
        );
    }
    // Chaired mode, nobody on the floor: the chair hears no site, nor does
    // the technician.
    let technician = vec![("tech".to_string(), rx.clone())];
    let heard = leaks(&technician, &[0], "audio", &codes);
    assert!(heard.is_empty(), "site audio before any floor: {heard:?}");

    // The floor holder is heard on its tile (not twice, on the floor slot
    // too), the other site still not.
    let mark = rx.mark();
    grant(&server, id, "30").await;
    wait_got(rx, mark, "tile-30", "audio", "30", 10, "tech").await;
    wait_got(rx, mark, "floor", "video", "30", 5, "tech").await;
    assert_eq!(
        rx.count(mark, "floor", "audio", "30"),
        0,
        "floor audio twice"
    );
    let heard = leaks(&technician, &[mark], "audio", &["31"]);
    assert!(heard.is_empty(), "a site without the floor: {heard:?}");

    // Nobody got anything the technician's console sent.
    let mut receivers = vec![("00".to_string(), chair.peer.received.clone())];
    receivers.extend(
        eps.iter()
            .map(|e| (e.peer.name.clone(), e.peer.received.clone())),
    );
    receivers.push(("viewer".into(), viewer.peer.received.clone()));
    let zeros = vec![0; receivers.len()];
    for kind in ["audio", "video"] {
        let got = leaks(&receivers, &zeros, kind, &["tech"]);
        assert!(got.is_empty(), "the technician was forwarded: {got:?}");
    }
    // The viewer over /ws has the programme and no tiles.
    wait_got(
        &viewer.peer.received,
        0,
        "floor",
        "video",
        "30",
        5,
        "viewer",
    )
    .await;
    let tiles = codes
        .iter()
        .map(|c| viewer.peer.received.count(0, "tile", "video", c))
        .sum::<usize>();
    assert_eq!(tiles, 0, "a viewer got tiles");

    // A console showing one site receives that site's tile only; the
    // holder's voice, no longer on its tile, comes on the floor slot.
    tech.send(json!({"type": "watch", "endpoints": ["31"]}));
    tokio::time::sleep(SETTLE).await;
    let mark = rx.mark();
    wait_got(rx, mark, "tile-31", "video", "31", 5, "tech").await;
    wait_got(rx, mark, "floor", "audio", "30", 10, "tech").await;
    tokio::time::sleep(WATCH).await;
    for kind in ["audio", "video"] {
        assert_eq!(
            rx.count(mark, "tile-30", kind, "30"),
            0,
            "an unwatched tile still carries {kind}"
        );
    }
    // Only a technician chooses tiles, and only sites of the registry.
    let refused = |client: &WsClient, code: &'static str| {
        let n = client
            .of_type("error")
            .iter()
            .filter(|e| e["error"] == code)
            .count();
        async move { n > 0 }
    };
    eps[0].send(json!({"type": "watch", "endpoints": ["31"]}));
    wait_for(FLOW, "an endpoint's watch refused", || {
        refused(&eps[0], "forbidden")
    })
    .await;
    tech.send(json!({"type": "watch", "endpoints": ["31", "no-such-site"]}));
    wait_for(FLOW, "an unknown site refused", || {
        refused(&tech, "unknown_endpoint")
    })
    .await;
    tech.send(json!({"type": "watch", "endpoints": "31"}));
    wait_for(FLOW, "a malformed watch refused", || {
        refused(&tech, "invalid_message")
    })
    .await;
    // The refused requests changed nothing: tile 31 still flows.
    let mark = rx.mark();
    wait_got(rx, mark, "tile-31", "video", "31", 5, "tech").await;
}

/// WHIP and WHEP answer what they refuse with the documented statuses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whip_and_whep_refuse_with_the_documented_errors() {
    let server = Server::start();
    let id = "s";
    live_session(&server, id).await;
    let whip = server.url(&format!("/whip/{id}"));
    let whep = server.url(&format!("/whep/{id}"));
    let hd = server.endpoint(common::HAI_DUONG);

    let error_of = |body: &str| -> String {
        serde_json::from_str::<Value>(body)
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_string))
            .unwrap_or_default()
    };
    let peer = support::TestPeer::new("probe", true).await;
    let offer = peer.offer().await;

    let r = post_sdp(&whip, Some(&hd), "hello").await;
    assert_eq!(
        (r.status, error_of(&r.body).as_str()),
        (400, "malformed_sdp"),
        "{}",
        r.body
    );
    let r = post_sdp(&whip, Some(&hd), "v=0\r\nthis is not sdp\r\n").await;
    assert_eq!(r.status, 400, "{}", r.body);
    let r = post_sdp(&whip, Some(&server.forged()), &offer).await;
    assert_eq!(r.status, 401, "{}", r.body);
    let r = post_sdp(&whip, None, &offer).await;
    assert_eq!(r.status, 401, "{}", r.body);
    let r = post_sdp(&whip, Some(&server.viewer()), &offer).await;
    assert_eq!((r.status, error_of(&r.body).as_str()), (403, "forbidden"));
    let r = post_sdp(&whep, Some(&hd), &offer).await;
    assert_eq!(r.status, 403, "{}", r.body);
    let other = server.token(
        diemcau::auth::Role::Endpoint,
        Some(common::HAI_DUONG),
        Some("another"),
    );
    let r = post_sdp(&whip, Some(&other), &offer).await;
    assert_eq!(r.status, 403, "{}", r.body);
    let r = post_sdp(&server.url("/whip/nope"), Some(&hd), &offer).await;
    assert_eq!(
        (r.status, error_of(&r.body).as_str()),
        (404, "unknown_session")
    );
    let resp = server
        .raw(reqwest::Method::POST, &format!("/whip/{id}"))
        .bearer_auth(&hd)
        .header("content-type", "text/plain")
        .body(offer.clone())
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 415);

    // One live publisher per site.
    let (first, reply) = join_http(&whip, &hd, common::HAI_DUONG, true).await;
    first.connected(CONNECT).await;
    wait_status(&server, id, &[common::HAI_DUONG], "connected").await;
    let second = support::TestPeer::new("second", true).await;
    let r = post_sdp(&whip, Some(&hd), &second.offer().await).await;
    assert_eq!(
        (r.status, error_of(&r.body).as_str()),
        (409, "already_publishing"),
        "{}",
        r.body
    );

    // Only its own site (or the chair, or a technician) ends it.
    let location = reply.location.expect("Location");
    assert!(location.starts_with(&format!("/whip/{id}/")), "{location}");
    let hp = server.endpoint(common::HAI_PHONG);
    let (status, _) = server
        .call(reqwest::Method::DELETE, &location, Some(&hp), None)
        .await;
    assert_eq!(status.as_u16(), 403);
    let (status, _) = server
        .call(reqwest::Method::DELETE, &location, Some(&hd), None)
        .await;
    assert_eq!(status.as_u16(), 200);
    wait_status(&server, id, &[common::HAI_DUONG], "left").await;
    let (status, body) = server
        .call(reqwest::Method::DELETE, &location, Some(&hd), None)
        .await;
    assert_eq!(status.as_u16(), 404, "{body}");
}

/// The chair and all 63 provinces: how long until every province gets the
/// programme, and what the server spent (CPU seconds, peak RSS) while the
/// floor went round five provinces. Run with
/// `cargo test --release --test media_server -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "scale check: 64 peers; run on demand"]
async fn sixty_three_provinces() {
    let codes: Vec<String> = (1..=63).map(|n| format!("{n:02}")).collect();
    let refs: Vec<&str> = codes.iter().map(String::as_str).collect();
    let server = Server::start_with_provinces(&refs);
    let pid = server.pid().expect("server pid");
    let cpu_at_start = cpu_seconds(pid);
    let id = "s";
    live_session(&server, id).await;
    let base = ws_base(&server);
    let started = Instant::now();
    let mut chair = WsClient::join(&base, &server.chair(), id, "00", true).await;
    chair.peer.start_sending();
    let mut eps = Vec::new();
    for c in &refs {
        let mut e = WsClient::join(&base, &server.endpoint(c), id, c, true).await;
        e.peer.start_sending();
        eps.push(e);
    }
    let joined = started.elapsed();
    let deadline = Instant::now() + Duration::from_secs(120);
    for e in &eps {
        let rx = &e.peer.received;
        let got =
            || rx.count(0, "chair", "audio", "00") >= 5 && rx.count(0, "chair", "video", "00") >= 2;
        while !got() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if !got() {
            let what = format!("{} never got the programme", e.peer.name);
            diagnose(&server, id, &[&e.peer.name, "00"], &what).await;
        }
    }
    let programme = started.elapsed();
    let mut everyone = vec!["00"];
    everyone.extend(&refs);
    wait_status(&server, id, &everyone, "connected").await;

    // Each speaker holds the floor a few seconds: the server's steady
    // load, not just the switch, is in the figures.
    let floor_started = Instant::now();
    for speaker in ["01", "15", "30", "48", "63"] {
        let m: Vec<usize> = eps.iter().map(|e| e.peer.received.mark()).collect();
        let granted = Instant::now();
        grant(&server, id, speaker).await;
        let deadline = Instant::now() + FLOW;
        for (e, mark) in eps.iter().zip(&m) {
            if e.peer.name == speaker {
                continue;
            }
            let rx = &e.peer.received;
            let got = || {
                rx.count(*mark, "floor", "video", speaker) >= 3
                    && rx.count(*mark, "floor", "audio", speaker) >= 3
            };
            while !got() && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            if !got() {
                let what = format!("{} never got {speaker} on the floor", e.peer.name);
                diagnose(&server, id, &[&e.peer.name, speaker], &what).await;
            }
        }
        tokio::time::sleep(HOLD.saturating_sub(granted.elapsed())).await;
    }
    let floor_time = floor_started.elapsed();
    let cpu = cpu_seconds(pid) - cpu_at_start;
    let hwm = peak_rss_kib(pid);
    let wall = started.elapsed().as_secs_f64();
    println!(
        "scale: 64 peers joined in {:.1} s; all 63 got the programme after {:.1} s; \
         floor round 5 provinces in {:.1} s; server CPU {cpu:.1} s over {wall:.1} s \
         ({:.0} % of one core); peak RSS {} MiB",
        joined.as_secs_f64(),
        programme.as_secs_f64(),
        floor_time.as_secs_f64(),
        100.0 * cpu / wall,
        hwm / 1024
    );
}

/// Panics with what the server says of `codes`: attendance, links, and
/// what its log says about links.
async fn diagnose(server: &Server, id: &str, codes: &[&str], what: &str) -> ! {
    let state = server.state(id).await;
    let (_, links) = server.get("/api/links", &server.technician()).await;
    let mut about = Vec::new();
    for code in codes {
        let link: Vec<Value> = links
            .as_array()
            .map(|l| {
                l.iter()
                    .filter(|x| x["endpoint"] == *code)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        about.push(format!(
            "{code}: {} {link:?}",
            state["attendance"][*code]["status"]
        ));
    }
    let log = server.log();
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| {
            l.contains("ERROR")
                || l.contains("diemcau")
                    && (l.contains("WARN") || l.contains("disconnect") || l.contains("leave"))
        })
        .take(40)
        .collect();
    panic!("{what}\n{}\nlog:\n{}", about.join("\n"), lines.join("\n"));
}

/// How long each speaker of the scale check holds the floor.
const HOLD: Duration = Duration::from_secs(4);

/// utime + stime of a process, in seconds (clock ticks of 1/100 s).
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The command name may hold spaces; fields are counted after its ')'.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // After ')': state is field 3, so utime (14) and stime (15) are at 11, 12.
    (ticks(11) + ticks(12)) as f64 / 100.0
}

/// VmHWM of a process, KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}
