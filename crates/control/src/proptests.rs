//! Properties that must hold after any sequence of commands, accepted or not.

use super::*;
use proptest::prelude::*;
use std::collections::BTreeSet;

const T0: Millis = Millis(1_700_000_000_000);
const CODES: [&str; 5] = ["00", "01", "30", "31", "79"];

fn spec(max_holders: u32, limit: Option<u32>, auto_revoke: bool) -> SessionSpec {
    spec_with(
        max_holders,
        limit,
        auto_revoke,
        ContentRule::default(),
        true,
    )
}

fn spec_with(
    max_holders: u32,
    limit: Option<u32>,
    auto_revoke: bool,
    content_rule: ContentRule,
    content_ends_with_floor: bool,
) -> SessionSpec {
    SessionSpec {
        id: SessionId("p".into()),
        title: "Phiên thử".into(),
        endpoints: CODES
            .iter()
            .map(|c| EndpointInfo {
                code: EndpointCode::from(*c),
                name: format!("Điểm cầu {c}"),
                role: if *c == "00" {
                    EndpointRole::Central
                } else {
                    EndpointRole::Provincial
                },
            })
            .collect(),
        rules: Rules {
            max_floor_holders: max_holders,
            speaking_limit_secs: limit,
            warning_lead_secs: 5,
            auto_revoke,
            roll_call_secs: 20,
            drop_grace_secs: 15,
            content_rule,
            content_ends_with_floor,
            record: false,
        },
    }
}

fn endpoint() -> impl Strategy<Value = EndpointCode> {
    prop::sample::select(CODES.to_vec()).prop_map(EndpointCode::from)
}

fn request() -> impl Strategy<Value = RequestId> {
    (1u32..8).prop_map(RequestId)
}

fn command() -> impl Strategy<Value = Command> {
    prop_oneof![
        1 => Just(Command::Open),
        2 => Just(Command::Start),
        1 => Just(Command::End),
        6 => endpoint().prop_map(|endpoint| Command::Connect { endpoint }),
        3 => endpoint().prop_map(|endpoint| Command::Disconnect { endpoint }),
        2 => endpoint().prop_map(|endpoint| Command::Leave { endpoint }),
        2 => prop::option::of(5u32..40).prop_map(|deadline_secs| Command::StartRollCall { deadline_secs }),
        4 => endpoint().prop_map(|endpoint| Command::ConfirmRollCall { endpoint }),
        1 => Just(Command::CloseRollCall),
        6 => endpoint().prop_map(|endpoint| Command::RequestFloor { endpoint, topic: "t".into() }),
        2 => request().prop_map(|request| Command::CancelFloorRequest { request }),
        4 => request().prop_map(|r| Command::GrantFloor { target: GrantTarget::Request(r) }),
        3 => endpoint().prop_map(|e| Command::GrantFloor { target: GrantTarget::Endpoint(e) }),
        2 => request().prop_map(|request| Command::DenyFloor { request }),
        2 => prop::option::of(endpoint()).prop_map(|endpoint| Command::RevokeFloor { endpoint }),
        2 => endpoint().prop_map(|endpoint| Command::ReleaseFloor { endpoint }),
        2 => prop::collection::vec(request(), 0..5).prop_map(|order| Command::ReorderQueue { order }),
        2 => prop::sample::select(vec![Mode::Lecture, Mode::Chaired, Mode::Open]).prop_map(|mode| Command::SetMode { mode }),
        1 => (prop::option::of(10u32..60), prop::option::of(any::<bool>()))
            .prop_map(|(seconds, auto_revoke)| Command::SetSpeakingLimit { seconds, auto_revoke }),
        3 => (endpoint(), any::<bool>()).prop_map(|(endpoint, muted)| Command::SetMuted { endpoint, muted }),
        4 => endpoint().prop_map(|endpoint| Command::RequestContent { endpoint }),
        3 => endpoint().prop_map(|endpoint| Command::GrantContent { endpoint }),
        2 => prop::option::of(endpoint()).prop_map(|endpoint| Command::RevokeContent { endpoint }),
        2 => endpoint().prop_map(|endpoint| Command::ReleaseContent { endpoint }),
        2 => Just(Command::StartRecording),
        1 => Just(Command::StopRecording),
        1 => Just(Command::RecordingFailed { reason: "disk full".into() }),
        5 => Just(Command::Tick),
    ]
}

fn content_rule() -> impl Strategy<Value = ContentRule> {
    prop::sample::select(vec![ContentRule::FloorOrChair, ContentRule::ChairGrants])
}

/// The invariants of the content token, checked on any state.
fn check_content(s: &Session) -> Result<(), TestCaseError> {
    let c = &s.content;
    let waiting: BTreeSet<_> = c.pending.iter().map(|r| &r.endpoint).collect();
    prop_assert_eq!(waiting.len(), c.pending.len(), "a site waits twice");
    let up = |code: &EndpointCode| s.attendance.get(code).is_some_and(|a| a.is_up());
    for code in &waiting {
        prop_assert!(up(code), "{code} waits to present without a link");
    }
    let policy = s.policy();
    match c.presenter_code() {
        Some(p) => {
            prop_assert_eq!(s.phase, Phase::Live, "a presenter outside the meeting");
            prop_assert!(up(p), "presenter {p} is not connected");
            prop_assert!(!waiting.contains(p), "presenter {p} also waits");
            if s.spec.rules.content_ends_with_floor {
                prop_assert!(
                    s.floor.held_by(p).is_some() || s.central() == Some(p),
                    "presenter {p} neither holds the floor nor is the chair's site"
                );
            }
            prop_assert_eq!(policy.content.as_ref(), Some(p));
        }
        None => prop_assert_eq!(policy.content, None),
    }
    if s.phase != Phase::Live {
        prop_assert!(c.pending.is_empty(), "requests outside the meeting");
    }
    Ok(())
}

/// The invariants of the floor, checked on any state.
fn check_floor(s: &Session) -> Result<(), TestCaseError> {
    let f = &s.floor;
    prop_assert!(
        f.holders.len() <= s.spec.rules.max_floor_holders as usize,
        "too many holders"
    );
    let queued: BTreeSet<_> = f.queue.iter().collect();
    prop_assert_eq!(queued.len(), f.queue.len(), "duplicate in queue");
    let held: BTreeSet<_> = f.holders.iter().collect();
    prop_assert_eq!(held.len(), f.holders.len(), "duplicate holder");
    for (id, r) in &f.requests {
        let in_queue = queued.contains(id);
        let in_holders = held.contains(id);
        match r.state {
            RequestState::Pending => prop_assert!(in_queue && !in_holders, "pending {id}"),
            RequestState::Granted => prop_assert!(in_holders && !in_queue, "granted {id}"),
            _ => prop_assert!(!in_queue && !in_holders, "finished {id} still listed"),
        }
    }
    for id in queued.iter().chain(held.iter()) {
        prop_assert!(f.requests.contains_key(id), "listed request {id} unknown");
    }
    // One pending request and one grant per endpoint at most.
    let queue_eps: BTreeSet<_> = f.queue.iter().map(|id| &f.requests[id].endpoint).collect();
    prop_assert_eq!(queue_eps.len(), f.queue.len(), "an endpoint queued twice");
    let holder_eps: BTreeSet<_> = f
        .holders
        .iter()
        .map(|id| &f.requests[id].endpoint)
        .collect();
    prop_assert_eq!(holder_eps.len(), f.holders.len(), "an endpoint holds twice");
    Ok(())
}

fn check_attendance(s: &Session, now: Millis) -> Result<(), TestCaseError> {
    let live = s.live_ms(now);
    for a in s.attendance_at(now) {
        prop_assert_eq!(
            a.status_ms.iter().sum::<u64>(),
            live,
            "durations of {}",
            a.endpoint.code
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Any sequence keeps the floor and attendance invariants, a rejection
    /// never changes the state, and replaying the log rebuilds the state.
    #[test]
    fn any_command_sequence_keeps_the_invariants(
        max_holders in 1u32..3,
        limit in prop::option::of(10u32..40),
        auto_revoke in any::<bool>(),
        rule in content_rule(),
        ends_with_floor in any::<bool>(),
        record in any::<bool>(),
        steps in prop::collection::vec((command(), 0u64..20_000), 1..120),
    ) {
        let mut spec = spec_with(max_holders, limit, auto_revoke, rule, ends_with_floor);
        spec.rules.record = record;
        let (mut s, created) = Session::create(spec, T0)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut log = vec![created];
        let mut now = T0;
        for (command, dt) in steps {
            now = now.plus_ms(dt);
            let before = s.clone();
            match s.apply(command, now) {
                Ok(events) => log.extend(events),
                Err(_) => prop_assert_eq!(&before, &s, "a rejection changed the state"),
            }
            check_floor(&s)?;
            check_content(&s)?;
            check_attendance(&s, now)?;
            // The media plane records exactly while the meeting is live
            // and recording is on; nothing is recorded before or after.
            prop_assert_eq!(s.policy().recording, s.phase == Phase::Live && s.recording);
            if record && s.phase == Phase::Live && log.iter().filter(|e| matches!(e.kind, crate::EventKind::RecordingStopped { .. })).count() == 0 {
                prop_assert!(s.recording, "a session set to record went live without recording");
            }
            if s.policy().floor.is_some() {
                prop_assert!(!s.floor.holders.is_empty());
            }
        }
        log.extend(s.apply(Command::End, now).unwrap_or_default());
        log.extend(s.apply(Command::Tick, now).unwrap_or_default());
        check_attendance(&s, now)?;
        prop_assert!(!s.recording, "still recording after the end");
        check_content(&s)?;
        prop_assert_eq!(&s.events, &(log.len() as u64));
        let replayed = Session::replay(log).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(replayed, s);
    }

    /// The server-side gate: in every reachable state, an endpoint's audio
    /// reaches a receiver only if the mode allows that endpoint to be heard
    /// and the chair has not muted it.
    #[test]
    fn policy_never_forwards_audio_the_mode_forbids(
        steps in prop::collection::vec((command(), 0u64..5_000), 1..80),
    ) {
        let (mut s, _) = Session::create(spec(1, None, false), T0)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut now = T0;
        for (command, dt) in steps {
            now = now.plus_ms(dt);
            let _ = s.apply(command, now);
            let p = s.policy();
            let central = EndpointCode::from("00");
            prop_assert!(p.audible.is_disjoint(&s.muted), "a muted site is audible");
            for (receiver, r) in &p.receivers {
                prop_assert!(!r.audio.contains(receiver), "hears itself");
                for publisher in &r.audio {
                    let allowed = *publisher == central
                        || match s.mode {
                            Mode::Lecture => false,
                            Mode::Chaired => s.floor.held_by(publisher).is_some(),
                            Mode::Open => s.attendance[publisher].is_up(),
                        };
                    prop_assert!(allowed, "{receiver} hears {publisher} in {:?}", s.mode);
                    prop_assert!(!s.muted.contains(publisher), "{receiver} hears muted {publisher}");
                }
            }
        }
    }
}
