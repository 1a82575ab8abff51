//! One test per rule of the control plane.

use super::*;

const T0: Millis = Millis(1_700_000_000_000);

fn code(s: &str) -> EndpointCode {
    EndpointCode::from(s)
}

fn spec(rules: Rules) -> SessionSpec {
    let mut endpoints = vec![EndpointInfo {
        code: code("00"),
        name: "Trụ sở Chính phủ".into(),
        role: EndpointRole::Central,
    }];
    for (c, n) in [
        ("01", "Hà Nội"),
        ("30", "Hải Dương"),
        ("31", "Hải Phòng"),
        ("79", "Hồ Chí Minh"),
    ] {
        endpoints.push(EndpointInfo {
            code: code(c),
            name: n.into(),
            role: EndpointRole::Provincial,
        });
    }
    SessionSpec {
        id: SessionId("phien-1".into()),
        title: "Hội nghị trực tuyến".into(),
        endpoints,
        rules,
    }
}

/// A session driven with a clock that advances one second per command.
struct Run {
    s: Session,
    now: Millis,
}

impl Run {
    fn new() -> Run {
        Run::with(Rules::default())
    }
    fn with(rules: Rules) -> Run {
        let (s, _) = Session::create(spec(rules), T0).expect("create");
        Run { s, now: T0 }
    }
    fn at(&mut self, secs: u64) -> &mut Self {
        self.now = T0.plus_secs(secs);
        self
    }
    fn ok(&mut self, c: Command) -> Vec<EventKind> {
        match self.s.apply(c.clone(), self.now) {
            Ok(ev) => ev.into_iter().map(|e| e.kind).collect(),
            Err(r) => panic!("{c:?} rejected: {r}"),
        }
    }
    fn no(&mut self, c: Command) -> RejectionCode {
        let before = self.s.clone();
        let r = self
            .s
            .apply(c.clone(), self.now)
            .expect_err("should be rejected");
        assert_eq!(before, self.s, "a rejection must leave the state unchanged");
        r.code
    }
    fn connect(&mut self, c: &str) {
        self.ok(Command::Connect { endpoint: code(c) });
    }
    fn live(&mut self, codes: &[&str]) {
        self.ok(Command::Open);
        for c in codes {
            self.connect(c);
        }
        self.ok(Command::Start);
    }
    fn request(&mut self, c: &str) -> RequestId {
        let ev = self.ok(Command::RequestFloor {
            endpoint: code(c),
            topic: "Báo cáo tình hình".into(),
        });
        match &ev[0] {
            EventKind::FloorRequested { request, .. } => *request,
            other => panic!("unexpected {other:?}"),
        }
    }
    fn status(&self, c: &str) -> AttendanceStatus {
        self.s.attendance[&code(c)].status
    }
}

#[test]
fn lifecycle_runs_scheduled_open_live_ended() {
    let mut r = Run::new();
    assert_eq!(r.s.phase, Phase::Scheduled);
    r.ok(Command::Open);
    assert_eq!(r.no(Command::Open), RejectionCode::WrongPhase);
    r.at(10).ok(Command::Start);
    assert_eq!(r.s.phase, Phase::Live);
    assert_eq!(r.no(Command::Start), RejectionCode::WrongPhase);
    r.at(20).ok(Command::End);
    assert_eq!(r.s.phase, Phase::Ended);
    assert_eq!(r.no(Command::End), RejectionCode::WrongPhase);
    assert_eq!(
        r.no(Command::Connect {
            endpoint: code("30")
        }),
        RejectionCode::WrongPhase
    );
}

#[test]
fn create_rejects_bad_specs() {
    let mut bad = spec(Rules::default());
    bad.endpoints.retain(|e| e.role != EndpointRole::Central);
    assert!(Session::create(bad, T0).is_err(), "no central endpoint");
    let mut dup = spec(Rules::default());
    dup.endpoints.push(dup.endpoints[1].clone());
    assert!(Session::create(dup, T0).is_err(), "duplicate code");
    let mut id = spec(Rules::default());
    id.id = SessionId("../etc".into());
    assert!(Session::create(id, T0).is_err(), "bad id");
}

#[test]
fn connect_and_drop_count_disconnects_and_keep_presence_within_grace() {
    let mut r = Run::new();
    r.live(&["30"]);
    r.ok(Command::StartRollCall {
        deadline_secs: None,
    });
    r.ok(Command::ConfirmRollCall {
        endpoint: code("30"),
    });
    r.ok(Command::CloseRollCall);
    assert_eq!(r.status("30"), AttendanceStatus::Present);
    r.at(5).ok(Command::Disconnect {
        endpoint: code("30"),
    });
    assert_eq!(r.status("30"), AttendanceStatus::Dropped);
    r.at(20).ok(Command::Connect {
        endpoint: code("30"),
    });
    // Back within the 30 s grace: still present, one disconnect.
    assert_eq!(r.status("30"), AttendanceStatus::Present);
    assert_eq!(r.s.attendance[&code("30")].disconnects, 1);
}

#[test]
fn drop_grace_expiry_lapses_presence_and_clears_the_floor() {
    let mut r = Run::new();
    r.live(&["30", "31"]);
    r.ok(Command::StartRollCall {
        deadline_secs: None,
    });
    r.ok(Command::ConfirmRollCall {
        endpoint: code("30"),
    });
    r.ok(Command::CloseRollCall);
    r.ok(Command::GrantFloor {
        target: GrantTarget::Endpoint(code("30")),
    });
    r.request("31");
    r.at(1).ok(Command::Disconnect {
        endpoint: code("30"),
    });
    assert_eq!(r.s.next_deadline(), Some(T0.plus_secs(31)));
    assert!(r.at(30).ok(Command::Tick).is_empty());
    let ev = r.at(31).ok(Command::Tick);
    assert!(matches!(ev[0], EventKind::FloorReleased { .. }));
    assert!(matches!(ev[1], EventKind::DropGraceExpired { .. }));
    assert!(r.s.floor.holders.is_empty());
    r.at(40).connect("30");
    assert_eq!(
        r.status("30"),
        AttendanceStatus::Connected,
        "presence lapsed"
    );
}

#[test]
fn lateness_counts_from_live_start() {
    let mut r = Run::new();
    r.ok(Command::Open);
    r.connect("30");
    r.at(100).ok(Command::Start);
    r.at(145).connect("31");
    assert_eq!(r.s.attendance[&code("30")].lateness_ms, Some(0));
    assert_eq!(r.s.attendance[&code("31")].lateness_ms, Some(45_000));
    assert_eq!(r.s.attendance[&code("79")].lateness_ms, None);
}

#[test]
fn leave_releases_the_floor_and_cancels_requests() {
    let mut r = Run::new();
    r.live(&["30", "31"]);
    r.ok(Command::GrantFloor {
        target: GrantTarget::Endpoint(code("30")),
    });
    let rid = r.request("31");
    r.ok(Command::Leave {
        endpoint: code("30"),
    });
    r.ok(Command::Leave {
        endpoint: code("31"),
    });
    assert!(r.s.floor.holders.is_empty());
    assert_eq!(r.s.floor.requests[&rid].state, RequestState::Cancelled);
    assert_eq!(r.status("30"), AttendanceStatus::Left);
    assert_eq!(
        r.no(Command::Leave {
            endpoint: code("30")
        }),
        RejectionCode::NotConnected
    );
}

#[test]
fn attendance_durations_add_up_to_the_live_length() {
    let mut r = Run::new();
    r.live(&["30"]);
    r.at(10).connect("31");
    r.at(20).ok(Command::Disconnect {
        endpoint: code("30"),
    });
    r.at(25).connect("30");
    r.at(60).ok(Command::Leave {
        endpoint: code("31"),
    });
    r.at(90).ok(Command::End);
    let live = r.s.live_ms(r.now);
    assert_eq!(live, 90_000);
    for a in r.s.attendance.values() {
        assert_eq!(a.status_ms.iter().sum::<u64>(), live, "{}", a.endpoint.code);
    }
    let a30 = &r.s.attendance[&code("30")];
    assert_eq!(a30.connected_ms(), 85_000);
    assert_eq!(a30.ms_in(AttendanceStatus::Dropped), 5_000);
}

#[test]
fn representative_and_headcount_are_recorded_and_checked() {
    let mut r = Run::new();
    r.ok(Command::SetRepresentative {
        endpoint: code("30"),
        name: "Nguyễn Minh Hùng".into(),
        title: "Phó Chủ tịch UBND tỉnh".into(),
        headcount: Some(25),
    });
    let a = &r.s.attendance[&code("30")];
    assert_eq!(
        a.representative.as_ref().map(|p| p.name.as_str()),
        Some("Nguyễn Minh Hùng")
    );
    assert_eq!(a.headcount, Some(25));
    let bad = Command::SetRepresentative {
        endpoint: code("30"),
        name: " ".into(),
        title: String::new(),
        headcount: None,
    };
    assert_eq!(r.no(bad), RejectionCode::InvalidValue);
    let unknown = Command::SetRepresentative {
        endpoint: code("99"),
        name: "X".into(),
        title: String::new(),
        headcount: None,
    };
    assert_eq!(r.no(unknown), RejectionCode::UnknownEndpoint);
}

/// Commands that would record what is already recorded append nothing:
/// a resent form costs no event (and no fsync in the store).
#[test]
fn commands_that_change_nothing_record_nothing() {
    let mut r = Run::new();
    let same = || Command::SetRepresentative {
        endpoint: code("30"),
        name: "Lê A;=1+1".into(),
        title: "Phó Chủ tịch".into(),
        headcount: Some(12),
    };
    assert_eq!(r.s.apply(same(), Millis(1)).map(|e| e.len()), Ok(1));
    for _ in 0..150 {
        assert_eq!(r.s.apply(same(), Millis(2)), Ok(Vec::new()));
    }
    let limit = || Command::SetSpeakingLimit {
        seconds: Some(300),
        auto_revoke: Some(true),
    };
    assert_eq!(r.s.apply(limit(), Millis(3)).map(|e| e.len()), Ok(1));
    assert_eq!(r.s.apply(limit(), Millis(4)), Ok(Vec::new()));
    // A real change still counts.
    let mut changed = same();
    if let Command::SetRepresentative { headcount, .. } = &mut changed {
        *headcount = Some(13);
    }
    assert_eq!(r.s.apply(changed, Millis(5)).map(|e| e.len()), Ok(1));
}

#[test]
fn roll_call_tallies_and_can_be_rerun() {
    let mut r = Run::new();
    r.live(&["30", "31"]);
    assert_eq!(
        r.no(Command::ConfirmRollCall {
            endpoint: code("30")
        }),
        RejectionCode::RollCallNotRunning
    );
    r.ok(Command::StartRollCall {
        deadline_secs: Some(60),
    });
    assert_eq!(
        r.no(Command::StartRollCall {
            deadline_secs: None
        }),
        RejectionCode::RollCallRunning
    );
    r.ok(Command::ConfirmRollCall {
        endpoint: code("30"),
    });
    assert_eq!(
        r.no(Command::ConfirmRollCall {
            endpoint: code("30")
        }),
        RejectionCode::AlreadyConfirmed
    );
    assert_eq!(
        r.no(Command::ConfirmRollCall {
            endpoint: code("79")
        }),
        RejectionCode::NotConnected
    );
    assert_eq!(
        r.no(Command::ConfirmRollCall {
            endpoint: code("00")
        }),
        RejectionCode::CentralEndpoint
    );
    let ev = r.ok(Command::CloseRollCall);
    let EventKind::RollCallClosed {
        present, missing, ..
    } = &ev[0]
    else {
        panic!()
    };
    assert_eq!(present, &vec![code("30")]);
    assert_eq!(missing, &vec![code("01"), code("31"), code("79")]);
    // Rerun: 30 does not answer this time and is no longer present.
    r.ok(Command::StartRollCall {
        deadline_secs: None,
    });
    r.ok(Command::ConfirmRollCall {
        endpoint: code("31"),
    });
    r.ok(Command::CloseRollCall);
    assert_eq!(r.status("30"), AttendanceStatus::Connected);
    assert_eq!(r.status("31"), AttendanceStatus::Present);
    assert_eq!(r.s.roll_calls.len(), 2);
}

#[test]
fn roll_call_closes_at_its_deadline() {
    let mut r = Run::new();
    r.live(&["30"]);
    r.ok(Command::StartRollCall {
        deadline_secs: Some(10),
    });
    assert_eq!(r.s.next_deadline(), Some(T0.plus_secs(10)));
    assert!(r.at(9).ok(Command::Tick).is_empty());
    let ev = r.at(10).ok(Command::Tick);
    assert!(matches!(
        ev[0],
        EventKind::RollCallClosed {
            reason: RollCallEnd::Deadline,
            ..
        }
    ));
    assert_eq!(
        r.no(Command::StartRollCall {
            deadline_secs: Some(1)
        }),
        RejectionCode::InvalidValue
    );
}

#[test]
fn floor_request_rules() {
    let mut r = Run::new();
    r.ok(Command::Open);
    r.connect("30");
    let req = Command::RequestFloor {
        endpoint: code("30"),
        topic: String::new(),
    };
    assert_eq!(r.no(req.clone()), RejectionCode::WrongPhase);
    r.ok(Command::Start);
    assert_eq!(
        r.no(Command::RequestFloor {
            endpoint: code("31"),
            topic: String::new()
        }),
        RejectionCode::NotConnected
    );
    assert_eq!(
        r.no(Command::RequestFloor {
            endpoint: code("00"),
            topic: String::new()
        }),
        RejectionCode::CentralEndpoint
    );
    assert_eq!(
        r.no(Command::RequestFloor {
            endpoint: code("30"),
            topic: "x".repeat(201)
        }),
        RejectionCode::InvalidValue
    );
    r.ok(req.clone());
    assert_eq!(r.no(req), RejectionCode::AlreadyRequested);
}

#[test]
fn grant_deny_cancel_release_revoke() {
    let mut r = Run::new();
    r.live(&["30", "31", "79"]);
    let a = r.request("30");
    let b = r.request("31");
    let c = r.request("79");
    r.ok(Command::GrantFloor {
        target: GrantTarget::Request(a),
    });
    assert_eq!(r.s.floor.latest_holder(), Some(&code("30")));
    assert_eq!(
        r.no(Command::GrantFloor {
            target: GrantTarget::Request(a)
        }),
        RejectionCode::RequestNotPending
    );
    assert_eq!(
        r.no(Command::DenyFloor {
            request: RequestId(99)
        }),
        RejectionCode::UnknownRequest
    );
    r.ok(Command::DenyFloor { request: b });
    r.ok(Command::CancelFloorRequest { request: c });
    assert_eq!(
        r.no(Command::ReleaseFloor {
            endpoint: code("31")
        }),
        RejectionCode::NotHolder
    );
    r.ok(Command::ReleaseFloor {
        endpoint: code("30"),
    });
    assert_eq!(
        r.no(Command::RevokeFloor { endpoint: None }),
        RejectionCode::FloorEmpty
    );
    r.ok(Command::GrantFloor {
        target: GrantTarget::Endpoint(code("31")),
    });
    r.ok(Command::RevokeFloor { endpoint: None });
    let states: Vec<_> = r.s.floor.requests.values().map(|q| q.state).collect();
    use RequestState::*;
    assert_eq!(states, vec![Released, Denied, Cancelled, Revoked]);
}

#[test]
fn calling_on_an_endpoint_replaces_the_holder_when_the_floor_is_full() {
    let mut r = Run::new();
    r.live(&["30", "31"]);
    r.ok(Command::GrantFloor {
        target: GrantTarget::Endpoint(code("30")),
    });
    let ev = r.ok(Command::GrantFloor {
        target: GrantTarget::Endpoint(code("31")),
    });
    assert!(matches!(&ev[0], EventKind::FloorRevoked { endpoint, .. } if endpoint == &code("30")));
    assert!(
        matches!(&ev[1], EventKind::FloorGranted { endpoint, called_on: true, .. } if endpoint == &code("31"))
    );
    assert_eq!(r.s.floor.holders.len(), 1);
    assert_eq!(
        r.no(Command::GrantFloor {
            target: GrantTarget::Endpoint(code("31"))
        }),
        RejectionCode::AlreadyHolding
    );
}

#[test]
fn two_holders_when_configured() {
    let mut r = Run::with(Rules {
        max_floor_holders: 2,
        ..Rules::default()
    });
    r.live(&["30", "31", "79"]);
    r.ok(Command::GrantFloor {
        target: GrantTarget::Endpoint(code("30")),
    });
    r.ok(Command::GrantFloor {
        target: GrantTarget::Endpoint(code("31")),
    });
    assert_eq!(r.s.floor.holders.len(), 2);
    r.ok(Command::GrantFloor {
        target: GrantTarget::Endpoint(code("79")),
    });
    assert_eq!(r.s.floor.holders.len(), 2, "the oldest holder made room");
    assert!(r.s.floor.held_by(&code("30")).is_none());
}

#[test]
fn granting_an_endpoint_with_a_pending_request_uses_that_request() {
    let mut r = Run::new();
    r.live(&["30"]);
    let a = r.request("30");
    r.ok(Command::GrantFloor {
        target: GrantTarget::Endpoint(code("30")),
    });
    assert_eq!(r.s.floor.requests[&a].state, RequestState::Granted);
    assert_eq!(r.s.floor.requests.len(), 1);
}

#[test]
fn queue_reorder_must_be_a_permutation() {
    let mut r = Run::new();
    r.live(&["30", "31", "79"]);
    let a = r.request("30");
    let b = r.request("31");
    let c = r.request("79");
    r.ok(Command::ReorderQueue {
        order: vec![c, a, b],
    });
    assert_eq!(r.s.floor.queue, vec![c, a, b]);
    assert_eq!(r.s.floor.queue_position(b), Some(3));
    assert_eq!(
        r.no(Command::ReorderQueue { order: vec![a, b] }),
        RejectionCode::BadQueueOrder
    );
    assert_eq!(
        r.no(Command::ReorderQueue {
            order: vec![a, a, b]
        }),
        RejectionCode::BadQueueOrder
    );
}

#[test]
fn speaking_limit_warns_then_times_up_or_revokes() {
    let mut r = Run::with(Rules {
        speaking_limit_secs: Some(60),
        warning_lead_secs: 10,
        ..Rules::default()
    });
    r.live(&["30"]);
    r.ok(Command::GrantFloor {
        target: GrantTarget::Endpoint(code("30")),
    });
    assert_eq!(r.s.next_deadline(), Some(T0.plus_secs(50)));
    assert!(matches!(
        r.at(50).ok(Command::Tick)[0],
        EventKind::SpeakingTimeWarning { .. }
    ));
    assert!(r.at(55).ok(Command::Tick).is_empty());
    assert!(matches!(
        r.at(60).ok(Command::Tick)[0],
        EventKind::SpeakingTimeUp { .. }
    ));
    assert!(
        r.at(61).ok(Command::Tick).is_empty(),
        "time up is said once"
    );
    assert_eq!(
        r.s.floor.holders.len(),
        1,
        "no auto-revoke: the floor stays"
    );
    r.at(62).ok(Command::SetSpeakingLimit {
        seconds: Some(120),
        auto_revoke: Some(true),
    });
    // The new limit binds the holder, counted from the grant.
    let ev = r.at(120).ok(Command::Tick);
    assert!(
        matches!(
            ev[0],
            EventKind::FloorRevoked {
                automatic: true,
                ..
            }
        ),
        "{ev:?}"
    );
    assert!(r.s.floor.holders.is_empty());
    assert_eq!(
        r.no(Command::SetSpeakingLimit {
            seconds: Some(1),
            auto_revoke: None
        }),
        RejectionCode::InvalidValue
    );
}

#[test]
fn end_closes_roll_call_floor_and_queue() {
    let mut r = Run::new();
    r.live(&["30", "31"]);
    r.ok(Command::StartRollCall {
        deadline_secs: None,
    });
    r.ok(Command::GrantFloor {
        target: GrantTarget::Endpoint(code("30")),
    });
    let q = r.request("31");
    r.ok(Command::End);
    assert!(r.s.running_roll_call().is_none());
    assert!(r.s.floor.holders.is_empty());
    assert_eq!(r.s.floor.requests[&q].state, RequestState::Cancelled);
    assert_eq!(r.s.next_deadline(), None);
    assert!(r.s.policy().receivers.is_empty());
}

#[test]
fn policy_chaired_mode_hears_chair_and_holder() {
    let mut r = Run::new();
    r.live(&["00", "30", "31", "79"]);
    let p = r.s.policy();
    assert_eq!(p.chair, Some(code("00")));
    assert!(p.may_hear(&code("30"), &code("00")));
    assert!(p.may_see(&code("30"), &code("00")));
    assert!(
        !p.may_hear(&code("00"), &code("30")),
        "nobody holds the floor yet"
    );
    assert!(
        p.may_see(&code("00"), &code("30")),
        "the chair sees every endpoint"
    );
    r.ok(Command::GrantFloor {
        target: GrantTarget::Endpoint(code("30")),
    });
    let p = r.s.policy();
    assert_eq!(p.floor, Some(code("30")));
    assert!(p.may_hear(&code("31"), &code("30")));
    assert!(p.may_see(&code("31"), &code("30")));
    assert!(p.may_hear(&code("00"), &code("30")));
    assert!(!p.may_hear(&code("30"), &code("30")), "nobody hears itself");
    assert!(!p.may_hear(&code("31"), &code("79")));
    assert!(
        !p.receivers.contains_key(&code("01")),
        "not connected, receives nothing"
    );
}

#[test]
fn policy_names_the_head_of_the_queue_as_next_speakers() {
    let mut r = Run::new();
    r.live(&["00", "30", "31", "79"]);
    assert!(r.s.policy().next_speakers.is_empty());
    let first = r.request("31");
    let second = r.request("30");
    r.request("79");
    assert_eq!(r.s.policy().next_speakers, vec![code("31"), code("30")]);
    r.ok(Command::ReorderQueue {
        order: vec![second, first, r.s.floor.queue[2]],
    });
    assert_eq!(r.s.policy().next_speakers, vec![code("30"), code("31")]);
    // A site whose link is down cannot be warmed up: the next one is.
    r.ok(Command::Disconnect {
        endpoint: code("30"),
    });
    assert_eq!(r.s.policy().next_speakers, vec![code("31"), code("79")]);
    r.ok(Command::GrantFloor {
        target: GrantTarget::Request(first),
    });
    let p = r.s.policy();
    assert_eq!(p.floor, Some(code("31")));
    assert_eq!(
        p.next_speakers,
        vec![code("79")],
        "the holder leaves the list"
    );
    assert!(
        !p.audible.contains(&code("79")),
        "a next speaker is not heard before its grant"
    );
}

#[test]
fn policy_lecture_mode_hears_only_the_chair() {
    let mut r = Run::new();
    r.live(&["00", "30", "31"]);
    r.ok(Command::GrantFloor {
        target: GrantTarget::Endpoint(code("30")),
    });
    r.ok(Command::SetMode {
        mode: Mode::Lecture,
    });
    let p = r.s.policy();
    assert_eq!(p.audible.iter().collect::<Vec<_>>(), vec![&code("00")]);
    assert!(!p.may_hear(&code("31"), &code("30")));
    assert!(!p.may_hear(&code("00"), &code("30")));
}

#[test]
fn policy_open_mode_hears_everyone_connected() {
    let mut r = Run::new();
    r.live(&["00", "30", "31"]);
    r.ok(Command::SetMode { mode: Mode::Open });
    let p = r.s.policy();
    assert!(p.floor_follows_active_speaker);
    assert!(p.may_hear(&code("00"), &code("30")));
    assert!(p.may_hear(&code("00"), &code("31")));
    assert!(p.may_hear(&code("31"), &code("30")));
    assert!(!p.may_hear(&code("00"), &code("79")), "not connected");
}

#[test]
fn time_never_runs_backwards_in_the_log() {
    let mut r = Run::new();
    r.at(100).ok(Command::Open);
    let ev = r.s.apply(Command::Start, T0.plus_secs(50)).expect("start");
    assert_eq!(ev[0].at, T0.plus_secs(100));
}

#[test]
fn events_round_trip_through_json_and_replay() {
    let (mut s, created) = Session::create(spec(Rules::default()), T0).expect("create");
    let mut log = vec![created];
    for (i, c) in [
        Command::Open,
        Command::Connect {
            endpoint: code("30"),
        },
        Command::Start,
        Command::RequestFloor {
            endpoint: code("30"),
            topic: "Ngân sách".into(),
        },
        Command::GrantFloor {
            target: GrantTarget::Request(RequestId(1)),
        },
        Command::SetMode { mode: Mode::Open },
    ]
    .into_iter()
    .enumerate()
    {
        log.extend(s.apply(c, T0.plus_secs(i as u64)).expect("apply"));
    }
    let json: Vec<String> = log
        .iter()
        .map(|e| serde_json::to_string(e).expect("json"))
        .collect();
    let back: Vec<Event> = json
        .iter()
        .map(|j| serde_json::from_str(j).expect("parse"))
        .collect();
    assert_eq!(Session::replay(back).expect("replay"), s);
    assert!(
        json[4].contains("\"event\":\"floor_requested\""),
        "{}",
        json[4]
    );
}

fn mute(c: &str, muted: bool) -> Command {
    Command::SetMuted {
        endpoint: code(c),
        muted,
    }
}

#[test]
fn a_muted_floor_holder_is_seen_but_not_heard() {
    let mut r = Run::new();
    r.live(&["00", "30", "31"]);
    r.ok(Command::GrantFloor {
        target: GrantTarget::Endpoint(code("30")),
    });
    let ev = r.ok(mute("30", true));
    assert_eq!(
        ev,
        vec![EventKind::EndpointMuted {
            endpoint: code("30")
        }]
    );
    let p = r.s.policy();
    assert_eq!(p.floor, Some(code("30")), "muting does not take the floor");
    assert!(!p.audible.contains(&code("30")));
    assert!(!p.may_hear(&code("31"), &code("30")));
    assert!(!p.may_hear(&code("00"), &code("30")));
    assert!(!p.programme().audio.contains(&code("30")));
    assert!(p.may_see(&code("31"), &code("30")), "its video still flows");
    assert!(p.may_see(&code("00"), &code("30")));
    assert!(
        p.may_hear(&code("31"), &code("00")),
        "the chair is still heard"
    );

    r.ok(mute("30", false));
    let p = r.s.policy();
    assert!(p.may_hear(&code("31"), &code("30")), "unmuting restores it");
    assert!(p.may_hear(&code("00"), &code("30")));
}

#[test]
fn a_muted_site_is_not_heard_in_open_mode() {
    let mut r = Run::new();
    r.live(&["00", "30", "31"]);
    r.ok(Command::SetMode { mode: Mode::Open });
    r.ok(mute("31", true));
    let p = r.s.policy();
    assert!(!p.audible.contains(&code("31")));
    assert!(!p.may_hear(&code("00"), &code("31")));
    assert!(!p.may_hear(&code("30"), &code("31")));
    assert!(p.may_hear(&code("00"), &code("30")), "only 31 is muted");
    assert!(
        p.may_see(&code("00"), &code("31")),
        "its tile keeps its video"
    );
}

#[test]
fn mute_rules() {
    let mut r = Run::new();
    // Before the link is up: a site known to be noisy can be silenced ahead.
    r.ok(mute("79", true));
    assert!(r.s.muted.contains(&code("79")));
    r.live(&["00", "30", "79"]);
    assert!(r.s.muted.contains(&code("79")), "kept when it connects");
    assert_eq!(r.no(mute("00", true)), RejectionCode::CentralEndpoint);
    assert_eq!(r.no(mute("99", true)), RejectionCode::UnknownEndpoint);
    // Asking for what is already so is not an error and logs nothing.
    let before = r.s.events;
    assert!(r.ok(mute("79", true)).is_empty());
    assert!(r.ok(mute("30", false)).is_empty());
    assert_eq!(r.s.events, before);
    // A drop and a reconnection do not lift the mute.
    r.ok(Command::Disconnect {
        endpoint: code("79"),
    });
    r.connect("79");
    assert!(!r.s.policy().audible.contains(&code("79")));
    r.ok(Command::SetMode { mode: Mode::Open });
    assert!(!r.s.policy().audible.contains(&code("79")));
    r.ok(Command::End);
    assert_eq!(r.no(mute("79", false)), RejectionCode::WrongPhase);
    assert_eq!(r.no(mute("30", true)), RejectionCode::WrongPhase);
}

#[test]
fn mutes_survive_replay() {
    let (mut s, created) = Session::create(spec(Rules::default()), T0).expect("create");
    let mut log = vec![created];
    for (i, c) in [
        Command::Open,
        Command::Connect {
            endpoint: code("30"),
        },
        Command::Connect {
            endpoint: code("31"),
        },
        Command::Start,
        mute("30", true),
        mute("31", true),
        mute("30", false),
    ]
    .into_iter()
    .enumerate()
    {
        log.extend(s.apply(c, T0.plus_secs(i as u64)).expect("apply"));
    }
    let json: Vec<String> = log
        .iter()
        .map(|e| serde_json::to_string(e).expect("json"))
        .collect();
    assert!(
        json.iter()
            .any(|j| j.contains("\"event\":\"endpoint_muted\"") && j.contains("\"31\"")),
        "{json:?}"
    );
    let back: Vec<Event> = json
        .iter()
        .map(|j| serde_json::from_str(j).expect("parse"))
        .collect();
    let replayed = Session::replay(back).expect("replay");
    assert_eq!(replayed, s);
    assert_eq!(replayed.muted, [code("31")].into());
    assert_eq!(replayed.policy(), s.policy());
}

#[test]
fn set_muted_reads_from_json() {
    let c: Command =
        serde_json::from_str(r#"{"command":"set_muted","endpoint":"30","muted":true}"#)
            .expect("parse");
    assert_eq!(c, mute("30", true));
    assert!(
        serde_json::from_str::<Command>(r#"{"command":"set_muted","endpoint":"30"}"#).is_err(),
        "muted is required"
    );
}

/// A view keeps every live request and the last ended ones; the state (and
/// so the report) keeps them all.
#[test]
fn a_view_of_the_floor_keeps_only_the_last_ended_requests() {
    let mut r = Run::new();
    r.live(&["30", "31"]);
    for _ in 0..120 {
        r.ok(Command::RequestFloor {
            endpoint: code("30"),
            topic: "x".into(),
        });
        let id = *r.s.floor.queue.last().expect("queued");
        r.ok(Command::CancelFloorRequest { request: id });
    }
    r.ok(Command::RequestFloor {
        endpoint: code("31"),
        topic: "còn chờ".into(),
    });
    assert_eq!(r.s.floor.requests.len(), 121);
    let mut view = r.s.floor.clone();
    view.trim_ended(50);
    assert_eq!(view.requests.len(), 51);
    assert_eq!(view.queue.len(), 1);
    assert!(
        view.requests.contains_key(&view.queue[0]),
        "the live request stays"
    );
    let newest_ended = r.s.floor.requests.keys().rev().nth(1).copied();
    assert!(newest_ended.is_some_and(|id| view.requests.contains_key(&id)));
}

// ------------------------------------------------------------- content token

fn request_content(c: &str) -> Command {
    Command::RequestContent { endpoint: code(c) }
}

fn grant_content(c: &str) -> Command {
    Command::GrantContent { endpoint: code(c) }
}

fn release_content(c: &str) -> Command {
    Command::ReleaseContent { endpoint: code(c) }
}

fn revoked(c: &str, reason: ContentEnd) -> EventKind {
    EventKind::ContentRevoked {
        endpoint: code(c),
        reason,
    }
}

fn granted(c: &str, by_chair: bool) -> EventKind {
    EventKind::ContentGranted {
        endpoint: code(c),
        by_chair,
    }
}

fn content_rules(rule: ContentRule, ends_with_floor: bool) -> Rules {
    Rules {
        content_rule: rule,
        content_ends_with_floor: ends_with_floor,
        ..Rules::default()
    }
}

fn give_floor(r: &mut Run, c: &str) -> Vec<EventKind> {
    r.ok(Command::GrantFloor {
        target: GrantTarget::Endpoint(code(c)),
    })
}

fn presenter(r: &Run) -> Option<&str> {
    r.s.content.presenter_code().map(EndpointCode::as_str)
}

fn pending(r: &Run) -> Vec<&str> {
    r.s.content
        .pending
        .iter()
        .map(|p| p.endpoint.as_str())
        .collect()
}

#[test]
fn floor_or_chair_lets_the_floor_holder_start_and_others_wait() {
    let mut r = Run::new();
    assert_eq!(r.s.spec.rules.content_rule, ContentRule::FloorOrChair);
    r.live(&["00", "30", "31"]);
    give_floor(&mut r, "30");
    assert_eq!(r.ok(request_content("30")), vec![granted("30", false)]);
    assert_eq!(presenter(&r), Some("30"));
    assert_eq!(r.s.policy().content, Some(code("30")));
    let presenting = r.s.content.presenter.clone().expect("a presenter");
    assert_eq!((presenting.since, presenting.by_chair), (r.now, false));
    // Not on the floor: the request waits for the chair.
    assert_eq!(
        r.ok(request_content("31")),
        vec![EventKind::ContentRequested {
            endpoint: code("31")
        }]
    );
    assert_eq!(pending(&r), ["31"]);
    assert_eq!(r.s.policy().content, Some(code("30")));
}

#[test]
fn floor_or_chair_lets_the_chairs_site_start_and_replace_the_presenter() {
    let mut r = Run::new();
    r.live(&["00", "30"]);
    assert_eq!(r.ok(request_content("00")), vec![granted("00", false)]);
    r.ok(release_content("00"));
    give_floor(&mut r, "30");
    r.ok(request_content("30"));
    assert_eq!(
        r.ok(request_content("00")),
        vec![revoked("30", ContentEnd::Replaced), granted("00", false)],
        "the chair's own room asking is the chair deciding"
    );
    assert_eq!(r.s.policy().content, Some(code("00")));
}

#[test]
fn a_floor_holder_does_not_take_the_token_from_another_presenter() {
    let mut r = Run::with(Rules {
        max_floor_holders: 2,
        ..Rules::default()
    });
    r.live(&["00", "30", "31"]);
    give_floor(&mut r, "30");
    give_floor(&mut r, "31");
    r.ok(request_content("30"));
    assert_eq!(
        r.ok(request_content("31")),
        vec![EventKind::ContentRequested {
            endpoint: code("31")
        }],
        "replacing a presenter is the chair's call"
    );
    assert_eq!(presenter(&r), Some("30"));
    assert_eq!(
        r.ok(grant_content("31")),
        vec![revoked("30", ContentEnd::Replaced), granted("31", true)]
    );
    assert!(pending(&r).is_empty(), "the grant answers the request");
}

#[test]
fn chair_grants_makes_every_request_wait() {
    let mut r = Run::with(content_rules(ContentRule::ChairGrants, true));
    r.live(&["00", "30", "31"]);
    give_floor(&mut r, "30");
    for c in ["30", "00"] {
        assert_eq!(
            r.ok(request_content(c)),
            vec![EventKind::ContentRequested { endpoint: code(c) }]
        );
    }
    assert_eq!(presenter(&r), None);
    assert_eq!(r.s.policy().content, None);
    assert_eq!(pending(&r), ["30", "00"], "oldest first");
    assert_eq!(r.no(request_content("30")), RejectionCode::AlreadyRequested);
    assert_eq!(r.ok(grant_content("30")), vec![granted("30", true)]);
    assert_eq!(pending(&r), ["00"]);
    assert_eq!(r.s.policy().content, Some(code("30")));
    // The chair may also grant a site that never asked.
    assert_eq!(
        r.ok(grant_content("00")),
        vec![revoked("30", ContentEnd::Replaced), granted("00", true)]
    );
    assert!(pending(&r).is_empty());
}

#[test]
fn with_content_ending_with_the_floor_every_loss_of_the_floor_takes_the_token() {
    let mut r = Run::new();
    assert!(r.s.spec.rules.content_ends_with_floor);
    r.live(&["00", "30", "31"]);
    let lost = || revoked("30", ContentEnd::FloorLost);

    // Revoked by the chair.
    give_floor(&mut r, "30");
    r.ok(request_content("30"));
    let ev = r.ok(Command::RevokeFloor { endpoint: None });
    assert!(matches!(ev[0], EventKind::FloorRevoked { .. }), "{ev:?}");
    assert_eq!(ev[1..], [lost()]);
    assert_eq!(r.s.policy().content, None);

    // Given back by the holder.
    give_floor(&mut r, "30");
    r.ok(request_content("30"));
    let ev = r.ok(Command::ReleaseFloor {
        endpoint: code("30"),
    });
    assert_eq!(ev[1..], [lost()]);

    // Replaced on a full floor.
    give_floor(&mut r, "30");
    r.ok(request_content("30"));
    let ev = give_floor(&mut r, "31");
    assert!(matches!(ev[1], EventKind::FloorGranted { .. }), "{ev:?}");
    assert_eq!(ev[2..], [lost()]);
    assert_eq!(presenter(&r), None);
}

#[test]
fn the_token_follows_the_speaking_limit_only_when_the_floor_goes() {
    let mut r = Run::with(Rules {
        speaking_limit_secs: Some(60),
        warning_lead_secs: 10,
        ..Rules::default()
    });
    r.live(&["00", "30"]);
    give_floor(&mut r, "30");
    r.ok(request_content("30"));
    // Time up without auto-revoke: the floor stays, so does the token.
    let ev = r.at(60).ok(Command::Tick);
    assert!(
        matches!(ev[..], [EventKind::SpeakingTimeUp { .. }]),
        "{ev:?}"
    );
    assert_eq!(presenter(&r), Some("30"));
    // With auto-revoke the clock takes both in one decision.
    r.ok(Command::SetSpeakingLimit {
        seconds: Some(60),
        auto_revoke: Some(true),
    });
    let ev = r.at(61).ok(Command::Tick);
    assert!(
        matches!(
            ev[0],
            EventKind::FloorRevoked {
                automatic: true,
                ..
            }
        ),
        "{ev:?}"
    );
    assert_eq!(ev[1..], [revoked("30", ContentEnd::FloorLost)]);
}

#[test]
fn with_content_ending_with_the_floor_the_chair_grants_only_holders_and_its_site() {
    let mut r = Run::new();
    r.live(&["00", "30", "31"]);
    r.ok(request_content("31"));
    assert_eq!(r.no(grant_content("31")), RejectionCode::NotHolder);
    give_floor(&mut r, "31");
    assert_eq!(r.ok(grant_content("31")), vec![granted("31", true)]);
    // The chair's site never holds the floor and is not bound by the rule.
    r.ok(grant_content("00"));
    r.ok(Command::RevokeFloor { endpoint: None });
    assert_eq!(presenter(&r), Some("00"));
}

#[test]
fn without_content_ending_with_the_floor_the_token_outlives_the_floor() {
    let mut r = Run::with(content_rules(ContentRule::FloorOrChair, false));
    r.live(&["00", "30", "31"]);
    // A site off the floor may be granted the token.
    assert_eq!(r.ok(grant_content("31")), vec![granted("31", true)]);
    give_floor(&mut r, "30");
    r.ok(request_content("30"));
    assert_eq!(presenter(&r), Some("31"), "30 waits: 31 presents");
    r.ok(grant_content("30"));
    let ev = r.ok(Command::RevokeFloor { endpoint: None });
    assert_eq!(ev.len(), 1, "only the floor goes: {ev:?}");
    assert_eq!(presenter(&r), Some("30"));
    assert_eq!(r.s.policy().content, Some(code("30")));
    // A lost link still ends it.
    let ev = r.ok(Command::Disconnect {
        endpoint: code("30"),
    });
    assert_eq!(ev[1..], [revoked("30", ContentEnd::Dropped)]);
}

#[test]
fn a_presenter_that_drops_or_leaves_loses_the_token_and_requests_go() {
    for ends_with_floor in [true, false] {
        let mut r = Run::with(content_rules(ContentRule::FloorOrChair, ends_with_floor));
        r.live(&["00", "30", "31"]);
        give_floor(&mut r, "30");
        r.ok(request_content("30"));
        r.ok(request_content("31"));
        // A drop ends it at once, not at the end of the grace: the media
        // plane must not fill every screen from a dead link meanwhile.
        let ev = r.ok(Command::Disconnect {
            endpoint: code("30"),
        });
        assert_eq!(
            ev,
            vec![
                EventKind::EndpointDropped {
                    endpoint: code("30")
                },
                revoked("30", ContentEnd::Dropped)
            ]
        );
        assert_eq!(r.s.policy().content, None);
        r.connect("30");
        assert_eq!(presenter(&r), None, "coming back does not bring it back");
        let ev = r.ok(Command::Leave {
            endpoint: code("31"),
        });
        assert_eq!(
            ev.last(),
            Some(&EventKind::ContentRequestCancelled {
                endpoint: code("31"),
                reason: ContentEnd::Left
            })
        );
        assert!(pending(&r).is_empty());

        // Leaving while presenting, holding the floor: one decision.
        r.ok(request_content("30"));
        let ev = r.ok(Command::Leave {
            endpoint: code("30"),
        });
        assert!(matches!(ev[0], EventKind::FloorReleased { .. }), "{ev:?}");
        assert!(matches!(ev[1], EventKind::EndpointLeft { .. }), "{ev:?}");
        assert_eq!(ev[2..], [revoked("30", ContentEnd::Left)]);
        assert_eq!(presenter(&r), None);
    }
}

#[test]
fn a_waiting_request_is_dropped_with_its_link() {
    let mut r = Run::new();
    r.live(&["00", "30"]);
    r.ok(request_content("30"));
    let ev = r.ok(Command::Disconnect {
        endpoint: code("30"),
    });
    assert_eq!(
        ev[1..],
        [EventKind::ContentRequestCancelled {
            endpoint: code("30"),
            reason: ContentEnd::Dropped
        }]
    );
    assert!(pending(&r).is_empty());
}

#[test]
fn content_commands_are_refused_with_reasons() {
    let mut r = Run::new();
    r.ok(Command::Open);
    r.connect("30");
    r.connect("00");
    for c in [
        request_content("30"),
        grant_content("30"),
        Command::RevokeContent { endpoint: None },
        release_content("30"),
    ] {
        assert_eq!(r.no(c), RejectionCode::WrongPhase, "not live yet");
    }
    r.ok(Command::Start);
    assert_eq!(r.no(request_content("99")), RejectionCode::UnknownEndpoint);
    assert_eq!(r.no(grant_content("99")), RejectionCode::UnknownEndpoint);
    assert_eq!(r.no(release_content("99")), RejectionCode::UnknownEndpoint);
    assert_eq!(
        r.no(Command::RevokeContent {
            endpoint: Some(code("99"))
        }),
        RejectionCode::UnknownEndpoint
    );
    assert_eq!(r.no(request_content("31")), RejectionCode::NotConnected);
    assert_eq!(r.no(grant_content("31")), RejectionCode::NotConnected);
    assert_eq!(
        r.no(Command::RevokeContent { endpoint: None }),
        RejectionCode::NoPresenter
    );
    assert_eq!(r.no(release_content("30")), RejectionCode::NotPresenter);
    assert_eq!(
        r.no(Command::RevokeContent {
            endpoint: Some(code("30"))
        }),
        RejectionCode::NotPresenter
    );
    r.ok(request_content("00"));
    assert_eq!(
        r.no(request_content("00")),
        RejectionCode::AlreadyPresenting
    );
    assert_eq!(r.no(grant_content("00")), RejectionCode::AlreadyPresenting);
    assert_eq!(r.no(release_content("30")), RejectionCode::NotPresenter);
}

#[test]
fn the_chair_turns_a_request_down_and_a_site_withdraws_its_own() {
    let mut r = Run::new();
    r.live(&["00", "30", "31"]);
    r.ok(request_content("30"));
    r.ok(request_content("31"));
    assert_eq!(
        r.ok(Command::RevokeContent {
            endpoint: Some(code("30"))
        }),
        vec![EventKind::ContentRequestCancelled {
            endpoint: code("30"),
            reason: ContentEnd::Chair
        }]
    );
    assert_eq!(
        r.ok(release_content("31")),
        vec![EventKind::ContentRequestCancelled {
            endpoint: code("31"),
            reason: ContentEnd::Withdrawn
        }]
    );
    assert!(pending(&r).is_empty());
    r.ok(request_content("00"));
    assert_eq!(
        r.ok(Command::RevokeContent {
            endpoint: Some(code("00"))
        }),
        vec![revoked("00", ContentEnd::Chair)]
    );
    r.ok(request_content("00"));
    assert_eq!(
        r.ok(Command::RevokeContent { endpoint: None }),
        vec![revoked("00", ContentEnd::Chair)]
    );
    r.ok(request_content("00"));
    assert_eq!(
        r.ok(release_content("00")),
        vec![EventKind::ContentReleased {
            endpoint: code("00")
        }]
    );
    assert_eq!(r.s.policy().content, None);
}

#[test]
fn ending_the_session_takes_the_token_and_the_requests_first() {
    let mut r = Run::new();
    r.live(&["00", "30"]);
    r.ok(request_content("00"));
    r.ok(request_content("30"));
    let ev = r.ok(Command::End);
    assert_eq!(
        ev,
        vec![
            revoked("00", ContentEnd::SessionEnded),
            EventKind::ContentRequestCancelled {
                endpoint: code("30"),
                reason: ContentEnd::SessionEnded
            },
            EventKind::Ended
        ]
    );
    assert_eq!(r.s.content, ContentState::default());
    assert_eq!(r.s.policy().content, None);
}

#[test]
fn the_content_token_survives_replay() {
    let rules = content_rules(ContentRule::ChairGrants, false);
    let (mut s, created) = Session::create(spec(rules), T0).expect("create");
    let mut log = vec![created];
    for (i, c) in [
        Command::Open,
        Command::Connect {
            endpoint: code("00"),
        },
        Command::Connect {
            endpoint: code("30"),
        },
        Command::Connect {
            endpoint: code("31"),
        },
        Command::Connect {
            endpoint: code("79"),
        },
        Command::Start,
        request_content("30"),
        request_content("31"),
        request_content("79"),
        grant_content("30"),
        grant_content("31"),
        Command::RevokeContent {
            endpoint: Some(code("79")),
        },
        request_content("30"),
    ]
    .into_iter()
    .enumerate()
    {
        log.extend(s.apply(c, T0.plus_secs(i as u64)).expect("apply"));
    }
    assert_eq!(
        s.content.presenter_code().map(EndpointCode::as_str),
        Some("31")
    );
    let json: Vec<String> = log
        .iter()
        .map(|e| serde_json::to_string(e).expect("json"))
        .collect();
    assert!(
        json.iter()
            .any(|j| j.contains("\"event\":\"content_revoked\"")
                && j.contains("\"reason\":\"replaced\"")),
        "{json:?}"
    );
    let back: Vec<Event> = json
        .iter()
        .map(|j| serde_json::from_str(j).expect("parse"))
        .collect();
    let replayed = Session::replay(back).expect("replay");
    assert_eq!(replayed, s);
    assert_eq!(replayed.content.pending.len(), 1);
    assert_eq!(replayed.content.pending[0].endpoint, code("30"));
    assert_eq!(replayed.policy().content, Some(code("31")));
    assert_eq!(replayed.policy(), s.policy());
}

#[test]
fn content_commands_read_from_json() {
    let parse = |j: &str| serde_json::from_str::<Command>(j);
    assert_eq!(
        parse(r#"{"command":"revoke_content"}"#).expect("parse"),
        Command::RevokeContent { endpoint: None }
    );
    assert_eq!(
        parse(r#"{"command":"request_content","endpoint":"30"}"#).expect("parse"),
        request_content("30")
    );
    assert!(parse(r#"{"command":"grant_content"}"#).is_err());
    assert!(parse(r#"{"command":"release_content","endpoint":30}"#).is_err());
    assert!(parse(r#"{"command":"grant_content","endpoint":"30","x":1}"#).is_err());
}

/// The chair starts and stops recording; the policy asks the media plane
/// to record only while the meeting is live; starting what runs and
/// stopping what is stopped record nothing; the log replays it.
#[test]
fn recording_is_started_and_stopped_by_the_chair() {
    let mut r = Run::new();
    r.ok(Command::Open);
    assert_eq!(
        r.ok(Command::StartRecording),
        vec![EventKind::RecordingStarted { by_chair: true }]
    );
    assert!(r.s.recording);
    assert!(
        !r.s.policy().recording,
        "nothing is recorded before the start"
    );
    assert_eq!(r.ok(Command::StartRecording), vec![]);
    r.ok(Command::Start);
    assert!(r.s.policy().recording);
    assert_eq!(
        r.ok(Command::StopRecording),
        vec![EventKind::RecordingStopped {
            reason: RecordingEnd::Chair,
            detail: None
        }]
    );
    assert!(!r.s.policy().recording);
    assert_eq!(r.ok(Command::StopRecording), vec![]);
}

/// A session whose rule is to record starts recording as it goes live;
/// the end stops it (said before `ended`); a failure stops it with its
/// reason, and the state replays from the log.
#[test]
fn recording_by_rule_until_the_end_or_a_failure() {
    let mut r = Run::with(Rules {
        record: true,
        ..Rules::default()
    });
    assert_eq!(
        r.ok(Command::Start),
        vec![
            EventKind::Started,
            EventKind::RecordingStarted { by_chair: false }
        ]
    );
    assert_eq!(
        r.ok(Command::RecordingFailed {
            reason: "No space left on device".into()
        }),
        vec![EventKind::RecordingStopped {
            reason: RecordingEnd::Failed,
            detail: Some("No space left on device".into())
        }]
    );
    assert!(!r.s.recording);
    r.ok(Command::StartRecording);
    let end = r.ok(Command::End);
    assert_eq!(
        end,
        vec![
            EventKind::RecordingStopped {
                reason: RecordingEnd::SessionEnded,
                detail: None
            },
            EventKind::Ended
        ]
    );
    assert_eq!(r.no(Command::StartRecording), RejectionCode::WrongPhase);
}
