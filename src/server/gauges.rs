//! The core's figures for `/metrics`: commands, store latency, floor
//! changes, sessions by phase and endpoints connected and present.
//!
//! The gauges are recomputed from the sessions after every command that
//! changed something, rather than nudged up and down per event: a fold
//! over a few sessions is cheap at human command rates, and a recount can
//! never drift from the state the way a running tally could after a
//! restart or a missed case.

use crate::control::{AttendanceStatus, Event, EventKind, Phase, Session, SessionId};
use crate::monitor::metrics;
use crate::store::{Store, StoreError};
use std::time::Instant;

/// Appends through the store and reports how long it took.
pub(super) fn timed_append(
    store: &mut Store,
    id: &SessionId,
    events: &[Event],
) -> Result<u64, StoreError> {
    let started = Instant::now();
    let result = store.append(id, events);
    metrics::store_append(started.elapsed());
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
            metrics::floor_change();
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
        metrics::sessions(phase, count);
    }
    metrics::endpoints(connected, present);
}
