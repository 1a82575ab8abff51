//! The core: owns every session and the store, executes commands one at a
//! time, and publishes what changed.
//!
//! One `std::sync::Mutex` guards the sessions and the store together. At the
//! scale of one national meeting (a few commands a second) a single writer
//! is plenty, and it makes the rule "memory never gets ahead of disk" easy
//! to keep: a command is applied to a *clone* of the session, its events are
//! appended, and only then is the clone swapped in and the events published.
//! If the append fails the clone is dropped and memory still equals disk.
//!
//! The lock is never held across an `.await` (the store is synchronous
//! SQLite, the broadcast and watch sends do not block), so a std mutex is
//! the right tool: it is cheaper than tokio's and cannot be held by a task
//! that is parked.

use super::gauges;
use crate::control::{
    Command, Event, ForwardingPolicy, Millis, Mode, Phase, Rejection, RejectionCode, Session,
    SessionId, SessionSpec,
};
use crate::store::{Store, StoreError};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use tokio::sync::{broadcast, Notify};

/// How many published events a slow subscriber may fall behind before it
/// misses some (it then gets a fresh snapshot instead).
const EVENT_BUFFER: usize = 1024;

/// Why the core refused or failed a command.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// No session with this id.
    #[error("no session {0}")]
    UnknownSession(SessionId),
    /// A session with this id already exists.
    #[error("a session {0} already exists")]
    SessionExists(SessionId),
    /// The control plane refused the command.
    #[error(transparent)]
    Rejected(#[from] Rejection),
    /// The event log could not be written; nothing changed.
    #[error("the event log could not be written: {0}")]
    Store(#[from] StoreError),
}

/// One event as it is published: which session, its place in that
/// session's log (the first event, `created`, is 1), and the event.
#[derive(Debug, Clone)]
pub struct Published {
    /// The session.
    pub session: SessionId,
    /// Sequence number within the session.
    pub seq: u64,
    /// The event.
    pub event: Event,
}

struct Entry {
    session: Session,
    /// The policy last handed to the sink.
    policy: ForwardingPolicy,
}

impl Entry {
    fn new(session: Session) -> Entry {
        let policy = session.policy();
        Entry { session, policy }
    }
}

/// Where every session's forwarding policy goes: called after each commit
/// that changes it, under the core's lock, so policies arrive in the order
/// of their commits. It must not block (the media plane's queues a command).
pub type PolicySink = Box<dyn Fn(&SessionId, &ForwardingPolicy) + Send + Sync>;

struct Inner {
    store: Store,
    sessions: BTreeMap<SessionId, Entry>,
}

/// Sessions, store and publication, shared by the HTTP edge, the deadline
/// timer and (later) the media plane.
pub struct Core {
    inner: Mutex<Inner>,
    events: broadcast::Sender<Published>,
    changed: Notify,
    policies: OnceLock<PolicySink>,
}

/// What a successful command produced.
#[derive(Debug, Clone)]
pub struct Executed {
    /// The events, in order (empty when the command changed nothing).
    pub events: Vec<Event>,
    /// The session's sequence number after the command.
    pub seq: u64,
}

impl Core {
    /// A core over an opened store and the sessions replayed from it.
    pub fn new(store: Store, sessions: Vec<Session>) -> Arc<Core> {
        let sessions = sessions
            .into_iter()
            .map(|s| (s.id().clone(), Entry::new(s)))
            .collect::<BTreeMap<_, _>>();
        gauges::refresh(sessions.values().map(|e| &e.session));
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        Arc::new(Core {
            inner: Mutex::new(Inner { store, sessions }),
            events,
            changed: Notify::new(),
            policies: OnceLock::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while the lock was held cannot have left memory ahead of
        // disk (the swap is the last step), so a poisoned lock is still sound.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Creates a session (and sets its mode, when not the default) as one
    /// append, so a crash cannot leave half of it.
    pub fn create(
        &self,
        spec: SessionSpec,
        mode: Option<Mode>,
        now: Millis,
    ) -> Result<Session, CoreError> {
        let mut inner = self.lock();
        if inner.sessions.contains_key(&spec.id) {
            return Err(CoreError::SessionExists(spec.id));
        }
        let (mut session, created) = Session::create(spec, now)?;
        let mut events = vec![created];
        if let Some(mode) = mode {
            events.extend(session.apply(Command::SetMode { mode }, now)?);
        }
        gauges::timed_append(&mut inner.store, session.id(), &events)?;
        self.publish(session.id(), 0, &events);
        let entry = Entry::new(session.clone());
        self.hand_over(session.id(), &entry.policy);
        inner.sessions.insert(session.id().clone(), entry);
        gauges::refresh(inner.sessions.values().map(|e| &e.session));
        drop(inner);
        self.changed.notify_one();
        Ok(session)
    }

    /// Executes a command on a session. `check` sees the current state
    /// first (the edge's role checks, e.g. "is this request the caller's
    /// own") and can refuse before anything is applied.
    pub fn execute<E: From<CoreError>>(
        &self,
        id: &SessionId,
        command: Command,
        now: Millis,
        check: impl FnOnce(&Session) -> Result<(), E>,
    ) -> Result<Executed, E> {
        let name = command.name();
        let result = self.execute_checked(id, command, now, check);
        crate::telemetry::command(name, result.is_ok());
        result
    }

    fn execute_checked<E: From<CoreError>>(
        &self,
        id: &SessionId,
        command: Command,
        now: Millis,
        check: impl FnOnce(&Session) -> Result<(), E>,
    ) -> Result<Executed, E> {
        let mut inner = self.lock();
        let inner = &mut *inner;
        let entry = inner
            .sessions
            .get_mut(id)
            .ok_or_else(|| CoreError::UnknownSession(id.clone()))?;
        check(&entry.session)?;
        let before = entry.session.events;
        let mut next = entry.session.clone();
        let events = next.apply(command, now).map_err(CoreError::from)?;
        if !events.is_empty() {
            gauges::timed_append(&mut inner.store, id, &events).map_err(CoreError::from)?;
            self.publish(id, before, &events);
            let policy = next.policy();
            if policy != entry.policy {
                self.hand_over(id, &policy);
                entry.policy = policy;
            }
            entry.session = next;
            self.changed.notify_one();
        }
        let seq = entry.session.events;
        if !events.is_empty() {
            gauges::floor_changes(&events);
            gauges::refresh(inner.sessions.values().map(|e| &e.session));
        }
        Ok(Executed { events, seq })
    }

    fn publish(&self, id: &SessionId, before: u64, events: &[Event]) {
        for (i, event) in events.iter().enumerate() {
            // No subscriber is not an error: nobody is watching yet.
            let _ = self.events.send(Published {
                session: id.clone(),
                seq: before + 1 + i as u64,
                event: event.clone(),
            });
        }
    }

    /// A copy of one session's state.
    pub fn session(&self, id: &SessionId) -> Option<Session> {
        self.lock().sessions.get(id).map(|e| e.session.clone())
    }

    /// Copies of every session's state, by id.
    pub fn sessions(&self) -> Vec<Session> {
        self.lock()
            .sessions
            .values()
            .map(|e| e.session.clone())
            .collect()
    }

    /// The newest session that has not ended, by creation time.
    pub fn current(&self) -> Option<SessionId> {
        self.lock()
            .sessions
            .values()
            .filter(|e| e.session.phase != Phase::Ended)
            .max_by_key(|e| (e.session.created_at, e.session.id().clone()))
            .map(|e| e.session.id().clone())
    }

    /// A session's state and a subscription that starts exactly after it:
    /// taken under the lock, so no event falls between the two.
    pub fn snapshot_and_subscribe(
        &self,
        id: &SessionId,
    ) -> Option<(Session, broadcast::Receiver<Published>)> {
        let inner = self.lock();
        let session = inner.sessions.get(id)?.session.clone();
        Some((session, self.events.subscribe()))
    }

    /// Every event of every session, from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Published> {
        self.events.subscribe()
    }

    /// Sets where forwarding policies go (once: the media plane) and hands
    /// it every session's current one.
    pub fn set_policy_sink(&self, sink: PolicySink) {
        let inner = self.lock();
        if self.policies.set(sink).is_err() {
            tracing::warn!("a second policy sink was refused");
            return;
        }
        for (id, entry) in &inner.sessions {
            self.hand_over(id, &entry.policy);
        }
    }

    fn hand_over(&self, id: &SessionId, policy: &ForwardingPolicy) {
        if let Some(sink) = self.policies.get() {
            sink(id, policy);
        }
    }

    /// The earliest deadline of any session.
    pub fn next_deadline(&self) -> Option<Millis> {
        self.lock()
            .sessions
            .values()
            .filter_map(|e| e.session.next_deadline())
            .min()
    }

    /// Ticks every session whose deadline has come. Returns how many
    /// events that produced.
    pub fn tick_due(&self, now: Millis) -> usize {
        let due: Vec<SessionId> = self
            .lock()
            .sessions
            .values()
            .filter(|e| e.session.next_deadline().is_some_and(|d| d <= now))
            .map(|e| e.session.id().clone())
            .collect();
        let mut produced = 0;
        for id in due {
            match self.execute(&id, Command::Tick, now, |_| Ok::<_, CoreError>(())) {
                Ok(done) => produced += done.events.len(),
                Err(e) => tracing::error!(session = %id, error = %e, "deadline tick failed"),
            }
        }
        produced
    }

    /// Runs `f` on the store under the core's lock, for records kept beside
    /// the event log (link test results): one writer, as everywhere else.
    pub fn with_store<T>(&self, f: impl FnOnce(&mut Store) -> T) -> T {
        f(&mut self.lock().store)
    }

    /// Wakes whoever waits for a change of state (the deadline timer).
    pub fn changed(&self) -> &Notify {
        &self.changed
    }
}

impl CoreError {
    /// The control plane's reason, when it was a refusal.
    pub fn rejection_code(&self) -> Option<RejectionCode> {
        match self {
            CoreError::Rejected(r) => Some(r.code),
            _ => None,
        }
    }
}
