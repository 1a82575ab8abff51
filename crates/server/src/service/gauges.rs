//! The core's figures for `/metrics`: commands, store latency, floor
//! changes, sessions by phase and endpoints connected and present.
//!
//! The gauges are recomputed from the sessions after every command that
//! changed something, rather than nudged up and down per event: a fold
//! over a few sessions is cheap at human command rates, and a recount can
//! never drift from the state the way a running tally could after a
//! restart or a missed case.

use crate::control::{AttendanceStatus, Event, EventKind, Phase, Session, SessionId};
use crate::store::{Store, StoreError};
use crate::telemetry;
use std::time::Instant;

/// Appends through the store and reports how long it took.
pub(super) fn timed_append(
    store: &mut Store,
    id: &SessionId,
    events: &[Event],
) -> Result<u64, StoreError> {
    let started = Instant::now();
    let result = store.append(id, events);
    telemetry::store_append(started.elapsed());
    result
}

/// Counts the floor changing hands among `events`.
pub(super) fn floor_changes(events: &[Event]) {
    for event in events {
        if matches!(
            event.kind,
            EventKind::FloorGranted { .. }
                | EventKind::FloorReleased { .. }
                | EventKind::FloorRevoked { .. }
        ) {
            telemetry::floor_change();
        }
    }
}

/// Sets the session and endpoint gauges from the current state. Ended
/// sessions count in their phase but not in the endpoint gauges: their
/// endpoints are a record, not links.
pub(super) fn refresh<'a>(sessions: impl Iterator<Item = &'a Session>) {
    let mut phases = [0usize; 4];
    let (mut connected, mut present) = (0, 0);
    for session in sessions {
        let index = match session.phase {
            Phase::Scheduled => 0,
            Phase::Open => 1,
            Phase::Live => 2,
            Phase::Ended => 3,
        };
        phases[index] += 1;
        if session.phase == Phase::Ended {
            continue;
        }
        for attendance in session.attendance.values() {
            connected += usize::from(attendance.is_up());
            present += usize::from(attendance.status == AttendanceStatus::Present);
        }
    }
    for (phase, count) in [Phase::Scheduled, Phase::Open, Phase::Live, Phase::Ended]
        .into_iter()
        .zip(phases)
    {
        telemetry::sessions(phase, count);
    }
    telemetry::endpoints(connected, present);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::{
        Command, EndpointCode, EndpointInfo, EndpointRole, GrantTarget, Millis, Rules, SessionSpec,
    };

    fn session(id: &str) -> Session {
        let endpoints = [
            ("00", EndpointRole::Central),
            ("30", EndpointRole::Provincial),
        ]
        .into_iter()
        .chain([("31", EndpointRole::Provincial)])
        .map(|(code, role)| EndpointInfo {
            code: EndpointCode::from(code),
            name: code.to_string(),
            role,
        })
        .collect();
        let spec = SessionSpec {
            id: SessionId(id.into()),
            title: id.into(),
            endpoints,
            rules: Rules::default(),
        };
        match Session::create(spec, Millis(1_000)) {
            Ok((s, _)) => s,
            Err(e) => panic!("{e:?}"),
        }
    }

    fn run(s: &mut Session, commands: Vec<Command>) -> Vec<Event> {
        let mut events = Vec::new();
        for (i, c) in commands.into_iter().enumerate() {
            match s.apply(c, Millis(2_000 + i as u64)) {
                Ok(e) => events.extend(e),
                Err(e) => panic!("{e:?}"),
            }
        }
        events
    }

    /// The gauges are a recount of the sessions; floor changes count
    /// grants and revocations.
    #[test]
    fn gauges_recount_the_state_and_floor_changes_count_hands() {
        let connect = |c: &str| Command::Connect {
            endpoint: EndpointCode::from(c),
        };
        let mut live = session("live");
        let floor = run(
            &mut live,
            vec![
                Command::Open,
                connect("00"),
                connect("30"),
                Command::Start,
                Command::GrantFloor {
                    target: GrantTarget::Endpoint(EndpointCode::from("30")),
                },
                Command::RevokeFloor { endpoint: None },
            ],
        );
        let mut ended = session("ended");
        run(
            &mut ended,
            vec![Command::Open, connect("31"), Command::Start, Command::End],
        );
        let scheduled = session("scheduled");

        let recorder = telemetry::builder()
            .unwrap_or_else(|e| panic!("{e}"))
            .build_recorder();
        let handle = recorder.handle();
        ::metrics::with_local_recorder(&recorder, || {
            refresh([&live, &ended, &scheduled].into_iter());
            floor_changes(&floor);
        });
        let text = handle.render();
        for line in [
            "diemcau_sessions{phase=\"scheduled\"} 1",
            "diemcau_sessions{phase=\"open\"} 0",
            "diemcau_sessions{phase=\"live\"} 1",
            "diemcau_sessions{phase=\"ended\"} 1",
            "diemcau_endpoints_connected 2",
            "diemcau_endpoints_present 0",
            "diemcau_floor_changes_total 2",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "{line} missing from:\n{text}"
            );
        }
    }
}
