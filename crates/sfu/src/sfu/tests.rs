//! The forwarding rules, each checked on the core alone: real WebRTC
//! clients in memory ([`harness`](super::harness)), fabricated RTP, a
//! fake clock, no socket.

use super::harness::{code, Net, Received, VP8_KEYFRAME};
use crate::keyframe::PLI_INTERVAL;
use crate::record::tape::Tape;
use crate::record::Track;
use crate::router::{MediaKind, SlotKind};
use crate::{LinkEvent, Signal};
use diemcau_control::{ForwardingPolicy, Reception};
use std::collections::BTreeSet;
use std::time::Duration;

/// The chair `00`, `floor` holding the floor, `audible` heard, every site
/// of `sites` receiving the chair and the floor.
fn policy(floor: Option<&str>, audible: &[&str], sites: &[&str]) -> ForwardingPolicy {
    let audible: BTreeSet<_> = audible.iter().map(|s| code(s)).collect();
    let video: BTreeSet<_> = std::iter::once("00").chain(floor).map(code).collect();
    let receivers = sites
        .iter()
        .map(|s| {
            let me = code(s);
            let reception = Reception {
                audio: audible.iter().filter(|a| **a != me).cloned().collect(),
                video: video.iter().filter(|v| **v != me).cloned().collect(),
            };
            (me, reception)
        })
        .collect();
    ForwardingPolicy {
        chair: Some(code("00")),
        floor: floor.map(code),
        audible,
        receivers,
        ..ForwardingPolicy::default()
    }
}

fn is_keyframe(r: &Received) -> bool {
    r.payload.as_ref() == VP8_KEYFRAME
}

/// Every sequence number one more than the last, and timestamps that never
/// go back: what a receiver's jitter buffer needs across switches.
fn assert_continuous(packets: &[Received]) {
    for pair in packets.windows(2) {
        assert_eq!(
            pair[1].seq,
            pair[0].seq.wrapping_add(1),
            "a gap or a repeat in the leg's sequence numbers"
        );
        let step = pair[1].timestamp.wrapping_sub(pair[0].timestamp);
        assert!(step < u32::MAX / 2, "the leg's timestamp went back");
    }
}

#[test]
fn the_floor_switches_at_a_keyframe_and_its_leg_runs_on_without_a_gap() {
    floor_switch_on(Net::new());
}

/// The same switches with every connection's datagrams read, encrypted
/// and sent from one of three threads, as a shell with several cores
/// handles them.
#[test]
fn the_floor_switches_the_same_when_connections_are_handled_on_several_threads() {
    let mut net = Net::new();
    net.use_threads(3);
    floor_switch_on(net);
}

fn floor_switch_on(mut net: Net) {
    let sites = ["00", "A", "B", "C"];
    net.join_all(&sites);
    net.set_policy(policy(Some("A"), &["00", "A"], &sites));
    net.talk(&["A", "B"], 5, true);
    let floor = net.on_leg("C", &SlotKind::Floor, MediaKind::Video);
    assert_eq!(floor.len(), 5, "A's video on C's floor slot");
    assert!(is_keyframe(&floor[0]), "the leg starts at a keyframe");

    // To B: the leg waits for B's keyframe, which the switch asks for.
    net.clear();
    let asked = net.keyframe_requests("B");
    net.set_policy(policy(Some("B"), &["00", "B"], &sites));
    assert_eq!(
        net.keyframe_requests("B"),
        asked + 1,
        "the new floor holder is asked for a keyframe"
    );
    net.talk(&["A", "B"], 3, false);
    assert!(
        net.on_leg("C", &SlotKind::Floor, MediaKind::Video)
            .is_empty(),
        "nothing of B before its keyframe, nothing of A after the switch"
    );
    net.talk(&["A", "B"], 4, true);
    let after = net.on_leg("C", &SlotKind::Floor, MediaKind::Video);
    assert_eq!(after.len(), 4);
    assert!(is_keyframe(&after[0]));

    // And back to A.
    net.set_policy(policy(Some("A"), &["00", "A"], &sites));
    net.talk(&["A", "B"], 4, true);
    let all: Vec<Received> = net.on_leg("C", &SlotKind::Floor, MediaKind::Video);
    assert_eq!(all.len(), 8);
    let mut whole = floor;
    whole.extend(all);
    assert_continuous(&whole);
}

#[test]
fn audio_leaves_the_server_only_for_whom_the_policy_lets_hear_it() {
    let sites = ["00", "A", "B"];
    let mut net = Net::with_sites(&sites);
    // A holds the floor but may not be heard (a lecture, say): its picture
    // goes out, its voice does not.
    net.set_policy(policy(Some("A"), &["00"], &sites));
    net.talk(&["00", "A"], 5, true);
    assert_eq!(net.on_leg("B", &SlotKind::Floor, MediaKind::Video).len(), 5);
    assert!(net
        .on_leg("B", &SlotKind::Floor, MediaKind::Audio)
        .is_empty());
    assert_eq!(net.on_leg("B", &SlotKind::Chair, MediaKind::Audio).len(), 5);

    // Heard now.
    net.clear();
    net.set_policy(policy(Some("A"), &["00", "A"], &sites));
    net.talk(&["00", "A"], 5, false);
    let audio = net.on_leg("B", &SlotKind::Floor, MediaKind::Audio);
    assert_eq!(audio.len(), 5);
    // Nobody hears themselves.
    assert!(net
        .on_leg("A", &SlotKind::Floor, MediaKind::Audio)
        .is_empty());
}

#[test]
fn keyframe_requests_reach_the_source_at_most_once_per_interval() {
    let sites = ["00", "A", "B"];
    let mut net = Net::with_sites(&sites);
    net.set_policy(policy(Some("A"), &["00", "A"], &sites));
    net.talk(&["A"], 3, true);
    net.advance(PLI_INTERVAL);
    let leg = net.leg_ssrc("B", &SlotKind::Floor, MediaKind::Video);
    let asked = net.keyframe_requests("A");
    for _ in 0..5 {
        let now = net.now;
        if let Some(b) = net.clients.get_mut("B") {
            b.request_keyframe(leg, now);
        }
        net.step();
    }
    assert_eq!(
        net.keyframe_requests("A"),
        asked + 1,
        "five requests within the interval: one PLI to A"
    );
    net.advance(PLI_INTERVAL);
    let now = net.now;
    if let Some(b) = net.clients.get_mut("B") {
        b.request_keyframe(leg, now);
    }
    net.step();
    assert_eq!(
        net.keyframe_requests("A"),
        asked + 2,
        "another after the interval"
    );
}

#[test]
fn a_link_test_sends_a_site_its_own_media_on_its_floor_slot_alone() {
    let sites = ["00", "A", "B"];
    let mut net = Net::with_sites(&sites);
    net.set_policy(policy(None, &["00"], &sites));
    let session = net.session.clone();
    let now = net.now;
    net.sfu.set_loopback(now, session.clone(), code("A"), true);
    net.talk(&["A"], 4, true);
    assert_eq!(net.on_leg("A", &SlotKind::Floor, MediaKind::Video).len(), 4);
    assert_eq!(net.on_leg("A", &SlotKind::Floor, MediaKind::Audio).len(), 4);
    assert!(net
        .on_leg("B", &SlotKind::Floor, MediaKind::Video)
        .is_empty());

    net.clear();
    let now = net.now;
    net.sfu.set_loopback(now, session, code("A"), false);
    net.talk(&["A"], 4, true);
    assert!(net
        .on_leg("A", &SlotKind::Floor, MediaKind::Video)
        .is_empty());
}

#[test]
fn a_viewer_receives_the_programme_only() {
    let sites = ["00", "A", "B"];
    let mut net = Net::with_sites(&sites);
    net.watch("viewer");
    net.set_policy(policy(Some("A"), &["00", "A"], &sites));
    net.talk(&["00", "A", "B"], 4, true);
    let chair = net.on_leg("viewer", &SlotKind::Chair, MediaKind::Video);
    let floor = net.on_leg("viewer", &SlotKind::Floor, MediaKind::Video);
    assert_eq!((chair.len(), floor.len()), (4, 4));
    assert_eq!(
        net.clients["viewer"].received.len(),
        16,
        "chair and floor, audio and video; nothing of B"
    );
}

/// A measurement, not a test: the real time the core's sending takes
/// (encrypting and handing over each datagram) for the chair's audio and
/// 1 000-byte video to 32 viewers, in bursts of 8 packets of each (512
/// datagrams a round, as a loaded media task reads them), from one thread
/// and from two, alternately.
/// `cargo test --release -p diemcau-sfu --lib sending_from -- --ignored --nocapture`
#[test]
#[ignore = "a measurement: run on demand, in a release build"]
fn sending_from_one_thread_and_from_two() {
    for threads in [1, 2, 1, 2, 1, 2] {
        let mut net = Net::new();
        net.join("00");
        for i in 0..32 {
            net.watch(&format!("v{i}"));
        }
        net.set_policy(policy(None, &["00"], &["00"]));
        net.use_threads(threads);
        net.talk(&["00"], 1, true);
        net.sending = (Duration::ZERO, 0);
        for _ in 0..100 {
            net.send_bursts(&["00"], 8, 1_000);
        }
        let (time, datagrams) = net.sending;
        let per = time.as_secs_f64() * 1e6 / datagrams.max(1) as f64;
        println!(
            "[figure] {threads} sending thread(s): {datagrams} datagrams in {:.1} ms, {per:.2} µs each",
            time.as_secs_f64() * 1e3
        );
    }
}

/// A measurement, not a test: the real time the core's reading takes
/// (decrypting each datagram and passing it through its connection's
/// interceptors) for 32 sites' audio and 1 000-byte video, in bursts of 8
/// packets of each from every site (512 datagrams a round, each site's
/// connection read on its own), from one thread and from two, alternately.
/// `cargo test --release -p diemcau-sfu --lib reading_from -- --ignored --nocapture`
#[test]
#[ignore = "a measurement: run on demand, in a release build"]
fn reading_from_one_thread_and_from_two() {
    let names: Vec<String> = (0..=32).map(|i| format!("{i:02}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    for threads in [1, 2, 1, 2, 1, 2] {
        let mut net = Net::with_sites(&names);
        net.set_policy(policy(None, &["00"], &names));
        net.use_threads(threads);
        net.talk(&names, 1, true);
        net.reading = (Duration::ZERO, 0);
        for _ in 0..50 {
            net.send_bursts(&names[1..], 8, 1_000);
        }
        let (time, datagrams) = net.reading;
        let per = time.as_secs_f64() * 1e6 / datagrams.max(1) as f64;
        println!(
            "[figure] {threads} reading thread(s): {datagrams} datagrams in {:.1} ms, {per:.2} µs each",
            time.as_secs_f64() * 1e3
        );
    }
}

#[test]
fn the_chair_is_offered_a_tile_for_each_site_that_joins() {
    let mut net = Net::new();
    net.join("00");
    net.set_policy(policy(None, &["00"], &["00"]));
    net.join("A");
    net.set_policy(policy(None, &["00"], &["00", "A"]));
    let offers: Vec<&String> = net.clients["00"]
        .signals
        .iter()
        .filter_map(|s| match s {
            Signal::Offer(sdp) => Some(sdp),
            _ => None,
        })
        .collect();
    let offer = offers.last().expect("a server offer to the chair");
    assert!(offer.contains("tile-A"), "the offer names A's tile");
    let tracks = net.clients["00"]
        .signals
        .iter()
        .any(|s| matches!(s, Signal::Tracks(t) if t.iter().any(|t| t.slot == "chair")));
    assert!(tracks, "the chair is told which line carries what");
    assert!(
        !net.clients["A"]
            .signals
            .iter()
            .any(|s| matches!(s, Signal::Offer(_))),
        "a site gets no tiles"
    );
}

#[test]
fn a_silent_link_is_lost_after_its_grace_and_up_again_when_heard() {
    let sites = ["00", "A"];
    let mut net = Net::with_sites(&sites);
    net.set_policy(policy(None, &["00"], &sites));
    net.talk(&["A"], 2, true);
    assert!(net
        .links
        .iter()
        .any(|e| matches!(e, LinkEvent::Up { endpoint, .. } if *endpoint == code("A"))));
    net.cut("A", true);
    net.advance(Duration::from_secs(7));
    let lost = |net: &Net| {
        net.links
            .iter()
            .filter(|e| matches!(e, LinkEvent::Lost { endpoint, .. } if *endpoint == code("A")))
            .count()
    };
    assert_eq!(
        lost(&net),
        0,
        "5 s of silence and 3 s of grace are not over"
    );
    net.advance(Duration::from_secs(2));
    assert_eq!(lost(&net), 1, "lost once its grace is over");
    net.links.clear();
    net.cut("A", false);
    net.talk(&["A"], 10, true);
    assert!(net
        .links
        .iter()
        .any(|e| matches!(e, LinkEvent::Up { endpoint, .. } if *endpoint == code("A"))));
}

#[test]
fn the_recording_takes_the_programme_as_a_viewer_does_and_switches_at_a_keyframe() {
    let tape = Tape::default();
    let sites = ["00", "A", "B"];
    let mut net = Net::recording_onto(&tape);
    net.join_all(&sites);
    let mut recorded = policy(Some("A"), &["00", "A"], &sites);
    recorded.recording = true;
    net.set_policy(recorded.clone());
    net.talk(&["00", "A", "B"], 4, true);
    assert_eq!(tape.on(Track::ChairVideo).len(), 4);
    assert_eq!(tape.on(Track::FloorVideo).len(), 4);
    assert_eq!(tape.on(Track::FloorAudio).len(), 4);

    recorded.floor = Some(code("B"));
    recorded.audible = ["00", "B"].iter().map(|s| code(s)).collect();
    net.set_policy(recorded.clone());
    net.talk(&["00", "A", "B"], 2, false);
    assert_eq!(
        tape.on(Track::FloorVideo).len(),
        4,
        "B's deltas wait for its keyframe"
    );
    net.talk(&["00", "A", "B"], 2, true);
    let floor = tape.on(Track::FloorVideo);
    assert_eq!(floor.len(), 6);
    assert_eq!(floor[4].payload.as_ref(), VP8_KEYFRAME);
    for pair in floor.windows(2) {
        assert_eq!(
            pair[1].seq,
            pair[0].seq.wrapping_add(1),
            "the file's stream runs on"
        );
    }

    recorded.recording = false;
    net.set_policy(recorded);
    let before = tape.on(Track::ChairVideo).len();
    net.talk(&["00"], 3, true);
    assert_eq!(tape.on(Track::ChairVideo).len(), before, "stopped");
}

/// A connection the server closes says so to its client: its last
/// datagram (the DTLS close alert) goes out after it is removed, whichever
/// way the shell sends, and nothing of it is kept afterwards.
#[test]
fn a_closed_connection_sends_its_close_alert() {
    for threads in [1, 3] {
        let mut net = Net::with_sites(&["00", "A"]);
        net.use_threads(threads);
        let peer = net.clients["A"].peer;
        let before = net.clients["A"].datagrams;
        net.sfu.close(net.now, peer).expect("a live connection");
        net.step();
        assert!(
            net.clients["A"].datagrams > before,
            "nothing reached A after its connection closed ({threads} sending thread(s))"
        );
        assert!(net.sfu.closing.is_empty(), "the closed connection is kept");
    }
}

#[test]
fn a_packet_lost_on_the_way_to_a_site_is_sent_again_when_its_stack_asks() {
    let sites = ["00", "A", "B"];
    let mut net = Net::with_sites(&sites);
    net.set_policy(policy(Some("A"), &["00", "A"], &sites));
    net.talk(&["A"], 3, true);
    // B's line drops what A sends for one frame; its own stack sees the
    // gap when the next packet arrives and sends a NACK, which the core
    // answers from the leg's history (the source is never asked again).
    net.cut("B", true);
    net.talk(&["A"], 1, false);
    net.cut("B", false);
    net.talk(&["A"], 3, false);
    net.advance(Duration::from_millis(500));
    let got = net.on_leg("B", &SlotKind::Floor, MediaKind::Video);
    // Counted from the leg's first packet, so a wrap of the 16-bit
    // sequence number reads the same.
    let mut offsets: Vec<u16> = got.iter().map(|r| r.seq.wrapping_sub(got[0].seq)).collect();
    offsets.sort_unstable();
    offsets.dedup();
    assert_eq!(
        offsets,
        (0..7).collect::<Vec<u16>>(),
        "B has every packet of the leg"
    );
}
