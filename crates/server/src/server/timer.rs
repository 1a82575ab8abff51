//! The deadline timer: one task for all sessions.
//!
//! It sleeps until the earliest `Session::next_deadline` of any session,
//! then applies `Command::Tick` to the sessions that are due. Any command
//! that changes state wakes it through the core's `Notify` (a new grant may
//! bring the next deadline closer), and it goes back to sleep with the new
//! earliest deadline. One task and one sleep, however many sessions.

use crate::service::clock;
use crate::service::Core;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Longest sleep without a deadline: a wake-up now and then costs nothing
/// and bounds the damage of a missed notification.
const IDLE: Duration = Duration::from_secs(60);

/// Shortest gap between two rounds of ticks, so a deadline that produces no
/// event (which the control plane should never report) cannot spin a core.
const MIN_GAP: Duration = Duration::from_millis(20);

/// Runs until `stop` turns true.
pub async fn run(core: Arc<Core>, mut stop: watch::Receiver<bool>) {
    loop {
        let now = clock::now();
        let wait = match core.next_deadline() {
            Some(deadline) => Duration::from_millis(deadline.since(now)).max(MIN_GAP),
            None => IDLE,
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = core.changed().notified() => continue,
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
        let produced = core.tick_due(clock::now());
        if produced > 0 {
            tracing::debug!(events = produced, "deadlines fired");
        }
    }
}
