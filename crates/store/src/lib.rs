//! The append-only event log in SQLite, and its replay at start.
//!
//! Every session's events go into one table, `events`, keyed by
//! `(session_id, seq)` with `seq` counting from 1 in each session. The
//! event's JSON is the record; `at` and `kind` are copied into their own
//! columns only so an operator can query the log with the `sqlite3` shell.
//! Rows are never updated or deleted (triggers refuse it), so the log is the
//! audit trail and the attendance report can always be recomputed from it.
//!
//! There is one writer: the server holds the only `Store` it appends with
//! (`append` takes `&mut self`). Readers such as `diemcau report` open the
//! file read-only next to it; WAL mode lets them read while the server
//! writes.

mod link_tests;

use diemcau_control::{Event, EventKind, Session, SessionId};
use rusqlite::{params, Connection, OpenFlags, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The file name of the store inside the data dir.
pub const FILE_NAME: &str = "diemcau.sqlite3";

/// The schema this build writes, kept in SQLite's `user_version` so a later
/// build can tell which migrations an existing file needs.
pub const SCHEMA_VERSION: i64 = 2;

/// How long a connection waits for a lock held by another before giving up.
/// Only a checkpoint or a second process would hold one, briefly.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

const SCHEMA_V1: &str = "
CREATE TABLE events (
    session_id TEXT    NOT NULL,
    seq        INTEGER NOT NULL CHECK (seq >= 1),
    at         INTEGER NOT NULL,
    kind       TEXT    NOT NULL,
    payload    TEXT    NOT NULL,
    PRIMARY KEY (session_id, seq)
);
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
";

/// What can go wrong with the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The data dir could not be created.
    #[error("cannot create {path}: {source}")]
    Io {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A read-only open found no store.
    #[error("no store at {0}")]
    NotFound(PathBuf),
    /// SQLite failed.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// An event could not be encoded.
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
    /// A stored row cannot be read back as the event it should be.
    #[error("session {session}, event {seq}: {reason}")]
    Corrupt {
        /// The session whose log is damaged.
        session: SessionId,
        /// The first damaged sequence number.
        seq: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// The events offered would make a log that cannot be replayed.
    #[error("session {session}: refusing to append: {reason}")]
    BadAppend {
        /// The session.
        session: SessionId,
        /// Why.
        reason: String,
    },
    /// The file was written by a newer build.
    #[error("store schema version {found} is newer than this build understands ({supported})")]
    SchemaTooNew {
        /// The file's version.
        found: i64,
        /// This build's version.
        supported: i64,
    },
    /// SQLite refused to switch the file to WAL mode.
    #[error("store is in journal mode {0:?}, expected wal")]
    NotWal(String),
}

/// One session's log as stored: the events, and beside each its JSON as
/// the row holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredLog {
    /// The events, in seq order.
    pub events: Vec<Event>,
    /// Each event's stored JSON, in the same order.
    pub payloads: Vec<String>,
}

impl StoredLog {
    /// Keeps the first `n` events only: the log as it stood then.
    pub fn truncate(&mut self, n: usize) {
        self.events.truncate(n);
        self.payloads.truncate(n);
    }

    /// The log's canonical bytes: each event's JSON as stored, in seq
    /// order, each followed by one `\n`. The stored text rather than a
    /// fresh serialisation, so that a later build that serialises an event
    /// differently still hashes an old log to the same value.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let len = self.payloads.iter().map(|p| p.len() + 1).sum();
        let mut out = Vec::with_capacity(len);
        for payload in &self.payloads {
            out.extend_from_slice(payload.as_bytes());
            out.push(b'\n');
        }
        out
    }
}

/// The event log.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
}

impl Store {
    /// Opens the store at `path` for writing, creating the directories, the
    /// file and the schema as needed.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let conn = Connection::open(path)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        let mode: String =
            conn.pragma_update_and_check(None, "journal_mode", "wal", |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::NotWal(mode));
        }
        // In WAL mode a commit first lands in the -wal file through write(2).
        // Once it returns, the data is in the kernel's page cache, so a
        // process killed with SIGKILL loses nothing it committed under either
        // setting. The settings differ on power loss or a kernel crash:
        // NORMAL syncs the WAL only at checkpoints, so the last transactions
        // before the outage may vanish (the file stays consistent); FULL
        // fsyncs the WAL at every commit, so a commit that returned survives.
        // We choose FULL: an event is appended before anyone is told about
        // it, and the attendance record of a national meeting must not
        // forget a roll-call answer the chair already saw. The price is one
        // fsync per command, and commands come at human pace (see
        // `examples/store_bench.rs` for what that costs).
        conn.pragma_update(None, "synchronous", "FULL")?;
        let mut store = Store { conn };
        store.migrate()?;
        Ok(store)
    }

    /// Opens `data_dir/diemcau.sqlite3` for writing.
    pub fn open_in(data_dir: &Path) -> Result<Store, StoreError> {
        Store::open(&data_dir.join(FILE_NAME))
    }

    /// Opens an existing store for reading only, e.g. to print a report next
    /// to a running server. Never creates or migrates anything.
    pub fn open_read_only(path: &Path) -> Result<Store, StoreError> {
        if !path.is_file() {
            return Err(StoreError::NotFound(path.to_path_buf()));
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY
                | OpenFlags::SQLITE_OPEN_URI
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        let store = Store { conn };
        match store.schema_version()? {
            0 => Err(StoreError::NotFound(path.to_path_buf())),
            v if v > SCHEMA_VERSION => Err(StoreError::SchemaTooNew {
                found: v,
                supported: SCHEMA_VERSION,
            }),
            _ => Ok(store),
        }
    }

    /// Opens `data_dir/diemcau.sqlite3` for reading only.
    pub fn open_read_only_in(data_dir: &Path) -> Result<Store, StoreError> {
        Store::open_read_only(&data_dir.join(FILE_NAME))
    }

    fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?)
    }

    /// Brings the schema to [`SCHEMA_VERSION`]. Each step runs in its own
    /// transaction together with the version bump, so a crash mid-migration
    /// leaves the file at the previous version, never in between.
    fn migrate(&mut self) -> Result<(), StoreError> {
        let found = self.schema_version()?;
        if found > SCHEMA_VERSION {
            return Err(StoreError::SchemaTooNew {
                found,
                supported: SCHEMA_VERSION,
            });
        }
        if found < 1 {
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Exclusive)?;
            tx.execute_batch(SCHEMA_V1)?;
            tx.pragma_update(None, "user_version", 1)?;
            tx.commit()?;
        }
        if found < 2 {
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Exclusive)?;
            tx.execute_batch(link_tests::SCHEMA_V2)?;
            tx.pragma_update(None, "user_version", 2)?;
            tx.commit()?;
        }
        Ok(())
    }

    /// Appends in one transaction; seq continues the session's log. Returns
    /// the last seq written (the current last seq when `events` is empty,
    /// 0 for a session with no log).
    ///
    /// A new session's log must start with `created` for this session, and
    /// `created` may appear nowhere else: otherwise the log could not be
    /// replayed at the next start, so it is refused here instead.
    pub fn append(&mut self, session: &SessionId, events: &[Event]) -> Result<u64, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut seq = last_seq(&tx, session)?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO events (session_id, seq, at, kind, payload) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for event in events {
                seq += 1;
                check_append(session, seq, event)?;
                let at = i64::try_from(event.at.0).map_err(|_| StoreError::BadAppend {
                    session: session.clone(),
                    reason: format!("event {seq}: time {} is out of range", event.at.0),
                })?;
                let payload = serde_json::to_string(event)?;
                insert.execute(params![&session.0, seq, at, event.kind.name(), payload])?;
            }
        }
        tx.commit()?;
        Ok(seq)
    }

    /// Every session in the store, in creation order.
    pub fn session_ids(&self) -> Result<Vec<SessionId>, StoreError> {
        // The rowid grows with every insert, so the smallest rowid of a
        // session is when it was created, whatever the clocks said.
        let mut stmt = self.conn.prepare_cached(
            "SELECT session_id FROM events GROUP BY session_id ORDER BY MIN(rowid)",
        )?;
        let ids = stmt
            .query_map([], |r| r.get::<_, String>(0))?
            .map(|id| id.map(SessionId))
            .collect::<Result<_, _>>()?;
        Ok(ids)
    }

    /// A session's events in seq order; empty when the session is unknown.
    /// Fails with [`StoreError::Corrupt`] at the first row that is not the
    /// event its columns say, or when a seq is missing.
    pub fn load(&self, session: &SessionId) -> Result<Vec<Event>, StoreError> {
        Ok(self.load_log(session)?.events)
    }

    /// A session's log as [`load`](Store::load) reads it, with each event's
    /// JSON exactly as it was stored: the bytes the minutes' signature
    /// covers (see [`StoredLog::canonical_bytes`]).
    pub fn load_log(&self, session: &SessionId) -> Result<StoredLog, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT seq, at, kind, payload FROM events WHERE session_id = ?1 ORDER BY seq",
        )?;
        let mut rows = stmt.query([&session.0])?;
        let mut events = Vec::new();
        let mut payloads = Vec::new();
        let mut expected: u64 = 1;
        while let Some(row) = rows.next()? {
            // Column types are read loosely so a damaged row becomes a
            // `Corrupt` naming it rather than a bare SQLite type error.
            let corrupt = |reason: String| StoreError::Corrupt {
                session: session.clone(),
                seq: expected,
                reason,
            };
            let seq: i64 = row.get(0).map_err(|e| corrupt(format!("bad seq: {e}")))?;
            if seq != expected as i64 {
                return Err(corrupt(format!("missing (next stored seq is {seq})")));
            }
            let at: i64 = row.get(1).map_err(|e| corrupt(format!("bad time: {e}")))?;
            let kind: String = row.get(2).map_err(|e| corrupt(format!("bad kind: {e}")))?;
            let payload: String = row
                .get(3)
                .map_err(|e| corrupt(format!("bad payload: {e}")))?;
            let event: Event = serde_json::from_str(&payload)
                .map_err(|e| corrupt(format!("payload is not an event: {e}")))?;
            if i64::try_from(event.at.0).ok() != Some(at) {
                return Err(corrupt(format!(
                    "payload time {} differs from column time {at}",
                    event.at.0
                )));
            }
            if event.kind.name() != kind {
                return Err(corrupt(format!(
                    "payload is a {} event, column says {kind}",
                    event.kind.name()
                )));
            }
            events.push(event);
            payloads.push(payload);
            expected += 1;
        }
        Ok(StoredLog { events, payloads })
    }

    /// One session rebuilt from its log; none when the store has no such
    /// session.
    pub fn load_session(&self, session: &SessionId) -> Result<Option<Session>, StoreError> {
        let events = self.load(session)?;
        if events.is_empty() {
            return Ok(None);
        }
        // `load` returned at least one event, so the only way replay can
        // fail is a first event that is not `created`.
        Session::replay(events)
            .map(Some)
            .map_err(|e| StoreError::Corrupt {
                session: session.clone(),
                seq: 1,
                reason: e.to_string(),
            })
    }

    /// Every session rebuilt with `Session::replay`, in creation order.
    pub fn load_sessions(&self) -> Result<Vec<Session>, StoreError> {
        let mut sessions = Vec::new();
        for id in self.session_ids()? {
            if let Some(session) = self.load_session(&id)? {
                sessions.push(session);
            }
        }
        Ok(sessions)
    }

    /// The last seq of a session's log, 0 when it has none.
    pub fn last_seq(&self, session: &SessionId) -> Result<u64, StoreError> {
        last_seq(&self.conn, session)
    }
}

fn last_seq(conn: &Connection, session: &SessionId) -> Result<u64, StoreError> {
    Ok(conn
        .prepare_cached("SELECT COALESCE(MAX(seq), 0) FROM events WHERE session_id = ?1")?
        .query_row([&session.0], |r| r.get(0))?)
}

/// Refuses an event that would make the log unreplayable.
fn check_append(session: &SessionId, seq: u64, event: &Event) -> Result<(), StoreError> {
    let bad = |reason: String| StoreError::BadAppend {
        session: session.clone(),
        reason,
    };
    match (&event.kind, seq) {
        (EventKind::Created { spec }, 1) if spec.id == *session => Ok(()),
        (EventKind::Created { spec }, 1) => {
            Err(bad(format!("its created event is for session {}", spec.id)))
        }
        (EventKind::Created { .. }, _) => Err(bad("the session already exists".into())),
        (kind, 1) => Err(bad(format!(
            "a new log must start with created, not {}",
            kind.name()
        ))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use diemcau_control::{
        Command, EndpointCode, EndpointInfo, EndpointRole, GrantTarget, Millis, Mode, RequestId,
        Rules, SessionSpec,
    };

    const T0: Millis = Millis(1_740_816_000_000);

    fn at(secs: u64) -> Millis {
        T0.plus_secs(secs)
    }

    fn code(c: &str) -> EndpointCode {
        EndpointCode::from(c)
    }

    fn spec(id: &str) -> SessionSpec {
        let ep = |c: &str, name: &str, role| EndpointInfo {
            code: code(c),
            name: name.into(),
            role,
        };
        SessionSpec {
            id: SessionId(id.into()),
            title: "Hội nghị trực tuyến Chính phủ với địa phương".into(),
            endpoints: vec![
                ep("00", "Trụ sở Chính phủ", EndpointRole::Central),
                ep("01", "Hà Nội", EndpointRole::Provincial),
                ep("30", "Hải Dương", EndpointRole::Provincial),
                ep("31", "Hải Phòng", EndpointRole::Provincial),
                ep("48", "Đà Nẵng", EndpointRole::Provincial),
                ep("79", "TP. Hồ Chí Minh", EndpointRole::Provincial),
            ],
            rules: Rules {
                speaking_limit_secs: Some(120),
                ..Rules::default()
            },
        }
    }

    /// A session driven like the server drives it: every accepted command's
    /// events appended in one transaction, in order.
    struct Driver {
        session: Session,
        store: Store,
    }

    impl Driver {
        fn create(store: Store, id: &str, now: Millis) -> Driver {
            let (session, created) = Session::create(spec(id), now).expect("valid spec");
            let mut d = Driver { session, store };
            d.store
                .append(&SessionId(id.into()), &[created])
                .expect("append created");
            d
        }

        fn run(&mut self, command: Command, now: Millis) {
            let what = format!("{command:?}");
            let events = self
                .session
                .apply(command, now)
                .unwrap_or_else(|r| panic!("{what} rejected: {r}"));
            let id = self.session.id().clone();
            self.store.append(&id, &events).expect("append");
        }
    }

    fn connect(c: &str) -> Command {
        Command::Connect { endpoint: code(c) }
    }

    /// The meeting of the brief: check window, late joiner, roll call with a
    /// missing province, a queue, a drop within the grace and one beyond it,
    /// a called-on province, mode changes, a leave, the end.
    fn realistic(d: &mut Driver) {
        d.run(Command::Open, at(60));
        for (i, c) in ["00", "01", "30", "31", "79"].iter().enumerate() {
            d.run(connect(c), at(100 + i as u64));
        }
        d.run(
            Command::SetRepresentative {
                endpoint: code("30"),
                name: "Nguyễn Minh Hùng".into(),
                title: "Phó Chủ tịch UBND tỉnh".into(),
                headcount: Some(24),
            },
            at(200),
        );
        d.run(Command::Start, at(600));
        d.run(connect("48"), at(725));
        d.run(
            Command::StartRollCall {
                deadline_secs: Some(60),
            },
            at(730),
        );
        for c in ["01", "30", "79"] {
            d.run(Command::ConfirmRollCall { endpoint: code(c) }, at(740));
        }
        d.run(Command::Tick, at(791));
        d.run(
            Command::RequestFloor {
                endpoint: code("30"),
                topic: "Tiến độ giải ngân vốn đầu tư công".into(),
            },
            at(800),
        );
        d.run(
            Command::RequestFloor {
                endpoint: code("79"),
                topic: "Hạ tầng giao thông".into(),
            },
            at(805),
        );
        d.run(
            Command::RequestFloor {
                endpoint: code("01"),
                topic: String::new(),
            },
            at(806),
        );
        d.run(
            Command::ReorderQueue {
                order: vec![RequestId(3), RequestId(1), RequestId(2)],
            },
            at(810),
        );
        d.run(
            Command::GrantFloor {
                target: GrantTarget::Request(RequestId(1)),
            },
            at(820),
        );
        d.run(Command::Tick, at(911));
        d.run(
            Command::Disconnect {
                endpoint: code("31"),
            },
            at(920),
        );
        d.run(connect("31"), at(930));
        d.run(
            Command::Disconnect {
                endpoint: code("48"),
            },
            at(935),
        );
        d.run(Command::Tick, at(966));
        d.run(
            Command::ReleaseFloor {
                endpoint: code("30"),
            },
            at(980),
        );
        d.run(
            Command::DenyFloor {
                request: RequestId(3),
            },
            at(985),
        );
        d.run(
            Command::GrantFloor {
                target: GrantTarget::Request(RequestId(2)),
            },
            at(990),
        );
        d.run(Command::RevokeFloor { endpoint: None }, at(1100));
        d.run(
            Command::GrantFloor {
                target: GrantTarget::Endpoint(code("31")),
            },
            at(1110),
        );
        d.run(Command::SetMode { mode: Mode::Open }, at(1200));
        d.run(
            Command::StartRollCall {
                deadline_secs: None,
            },
            at(1210),
        );
        d.run(
            Command::ConfirmRollCall {
                endpoint: code("31"),
            },
            at(1215),
        );
        d.run(Command::CloseRollCall, at(1230));
        d.run(
            Command::SetMode {
                mode: Mode::Lecture,
            },
            at(1300),
        );
        d.run(
            Command::Leave {
                endpoint: code("79"),
            },
            at(1400),
        );
        d.run(Command::End, at(1800));
    }

    #[test]
    fn append_then_load_round_trips() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = Store::open_in(dir.path()).expect("open");
        let id = SessionId("hop-1".into());
        let (mut session, created) = Session::create(spec("hop-1"), T0).expect("spec");
        let mut events = vec![created];
        events.extend(session.apply(Command::Open, at(1)).expect("open"));
        events.extend(session.apply(connect("30"), at(2)).expect("connect"));
        assert_eq!(store.append(&id, &events).expect("append"), 3);
        assert_eq!(store.load(&id).expect("load"), events);
        assert_eq!(store.last_seq(&id).expect("last"), 3);
        assert!(dir.path().join(FILE_NAME).is_file());
        let sync: i64 = store
            .conn
            .pragma_query_value(None, "synchronous", |r| r.get(0))
            .expect("pragma");
        assert_eq!(sync, 2, "synchronous=FULL");
        let mode: String = store
            .conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .expect("pragma");
        assert_eq!(mode, "wal");
    }

    /// The minutes' signature covers the log as stored: each row's JSON
    /// and a line feed, in seq order; a prefix of the log is a prefix of
    /// those bytes.
    #[test]
    fn the_log_reads_back_as_stored_for_its_hash() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = Store::open_in(dir.path()).expect("open");
        let id = SessionId("hop-1".into());
        let (mut session, created) = Session::create(spec("hop-1"), T0).expect("spec");
        let mut events = vec![created];
        events.extend(session.apply(Command::Open, at(1)).expect("open"));
        events.extend(session.apply(connect("30"), at(2)).expect("connect"));
        store.append(&id, &events).expect("append");
        let mut log = store.load_log(&id).expect("load");
        assert_eq!(log.events, events);
        let stored: Vec<String> = store
            .conn
            .prepare("SELECT payload FROM events WHERE session_id = 'hop-1' ORDER BY seq")
            .expect("prepare")
            .query_map([], |r| r.get(0))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        assert_eq!(log.payloads, stored);
        let bytes = log.canonical_bytes();
        assert_eq!(bytes, format!("{}\n", stored.join("\n")).into_bytes());
        log.truncate(1);
        assert_eq!(log.events.len(), 1);
        assert_eq!(
            log.canonical_bytes(),
            format!("{}\n", stored[0]).into_bytes()
        );
        assert!(store
            .load_log(&SessionId("khong-co".into()))
            .expect("empty")
            .payloads
            .is_empty());
    }

    #[test]
    fn seq_continues_across_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let id = SessionId("hop-1".into());
        let (mut session, created) = Session::create(spec("hop-1"), T0).expect("spec");
        {
            let mut store = Store::open_in(dir.path()).expect("open");
            assert_eq!(store.append(&id, &[created]).expect("append"), 1);
        }
        let mut store = Store::open_in(dir.path()).expect("reopen");
        let opened = session.apply(Command::Open, at(1)).expect("open");
        let started = session.apply(Command::Start, at(2)).expect("start");
        assert_eq!(store.append(&id, &opened).expect("append"), 2);
        assert_eq!(store.append(&id, &started).expect("append"), 3);
        assert_eq!(store.append(&id, &[]).expect("empty append"), 3);
        let loaded = store.load_session(&id).expect("load").expect("present");
        assert_eq!(loaded, session);
    }

    #[test]
    fn sessions_are_kept_apart_in_creation_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = Store::open_in(dir.path()).expect("open");
        // Created later by the clock but first in the log: the log wins.
        let (mut b, created_b) = Session::create(spec("zz-b"), at(100)).expect("spec");
        let (mut a, created_a) = Session::create(spec("aa-a"), at(50)).expect("spec");
        let (ib, ia) = (b.id().clone(), a.id().clone());
        store.append(&ib, &[created_b]).expect("append");
        store.append(&ia, &[created_a]).expect("append");
        let ev = b.apply(Command::Open, at(101)).expect("open");
        assert_eq!(store.append(&ib, &ev).expect("append"), 2);
        let ev = a.apply(Command::Start, at(102)).expect("start");
        assert_eq!(store.append(&ia, &ev).expect("append"), 2);
        let ev = a.apply(connect("01"), at(103)).expect("connect");
        assert_eq!(store.append(&ia, &ev).expect("append"), 3);

        assert_eq!(
            store.session_ids().expect("ids"),
            vec![ib.clone(), ia.clone()]
        );
        assert_eq!(store.load(&ia).expect("load").len(), 3);
        assert_eq!(store.load(&ib).expect("load").len(), 2);
        assert_eq!(store.load_sessions().expect("sessions"), vec![b, a]);
        let unknown = SessionId("nope".into());
        assert!(store.load(&unknown).expect("load").is_empty());
        assert_eq!(store.load_session(&unknown).expect("load"), None);
    }

    #[test]
    fn a_corrupt_payload_names_the_session_and_seq() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(FILE_NAME);
        let mut store = Store::open(&path).expect("open");
        let id = SessionId("hop-1".into());
        let (mut session, created) = Session::create(spec("hop-1"), T0).expect("spec");
        store.append(&id, &[created]).expect("append");
        let ev = session.apply(Command::Open, at(1)).expect("open");
        store.append(&id, &ev).expect("append");
        // Damage written behind the store's back, as a bad disk or a careless
        // hand with the sqlite3 shell would.
        let raw = Connection::open(&path).expect("raw");
        raw.execute(
            "INSERT INTO events VALUES ('hop-1', 3, ?1, 'started', '{\"at\": 5, \"event\": \"sta')",
            [at(2).0 as i64],
        )
        .expect("insert");
        let err = store.load(&id).expect_err("corrupt");
        match &err {
            StoreError::Corrupt { session, seq, .. } => {
                assert_eq!((session, *seq), (&id, 3));
            }
            other => panic!("expected Corrupt, got {other:?}"),
        }
        let msg = err.to_string();
        assert!(msg.contains("hop-1") && msg.contains("event 3"), "{msg}");
        assert!(matches!(
            store.load_sessions(),
            Err(StoreError::Corrupt { seq: 3, .. })
        ));
    }

    #[test]
    fn rows_that_disagree_or_skip_are_corrupt() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(FILE_NAME);
        let mut store = Store::open(&path).expect("open");
        let (_, created) = Session::create(spec("hop-1"), T0).expect("spec");
        store
            .append(&SessionId("hop-1".into()), &[created])
            .expect("append");
        let raw = Connection::open(&path).expect("raw");
        let opened = serde_json::to_string(&Event {
            at: at(1),
            kind: EventKind::Opened,
        })
        .expect("json");
        raw.execute(
            "INSERT INTO events VALUES ('hop-1', 2, ?1, 'started', ?2)",
            params![at(1).0 as i64, opened],
        )
        .expect("insert");
        raw.execute(
            "INSERT INTO events VALUES ('hop-2', 2, ?1, 'opened', ?2)",
            params![at(1).0 as i64, opened],
        )
        .expect("insert");
        assert!(matches!(
            store.load(&SessionId("hop-1".into())),
            Err(StoreError::Corrupt { seq: 2, ref reason, .. }) if reason.contains("column says started")
        ));
        assert!(matches!(
            store.load(&SessionId("hop-2".into())),
            Err(StoreError::Corrupt { seq: 1, ref reason, .. }) if reason.contains("missing")
        ));
    }

    #[test]
    fn the_log_is_append_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(FILE_NAME);
        let mut store = Store::open(&path).expect("open");
        let (_, created) = Session::create(spec("hop-1"), T0).expect("spec");
        store
            .append(&SessionId("hop-1".into()), &[created])
            .expect("append");
        let raw = Connection::open(&path).expect("raw");
        assert!(raw.execute("DELETE FROM events", []).is_err());
        assert!(raw.execute("UPDATE events SET at = 0", []).is_err());
    }

    #[test]
    fn appends_that_would_break_replay_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = Store::open_in(dir.path()).expect("open");
        let id = SessionId("hop-1".into());
        let (_, created) = Session::create(spec("hop-1"), T0).expect("spec");
        let opened = Event {
            at: at(1),
            kind: EventKind::Opened,
        };
        let bad = |r: Result<u64, StoreError>| matches!(r, Err(StoreError::BadAppend { .. }));
        assert!(bad(store.append(&id, std::slice::from_ref(&opened))));
        assert!(bad(store.append(
            &SessionId("other".into()),
            std::slice::from_ref(&created)
        )));
        assert_eq!(
            store
                .append(&id, std::slice::from_ref(&created))
                .expect("ok"),
            1
        );
        // The refused batch is rolled back as a whole.
        assert!(bad(store.append(&id, &[opened.clone(), created])));
        assert_eq!(store.load(&id).expect("load").len(), 1);
    }

    #[test]
    fn replaying_a_stored_meeting_rebuilds_the_live_session() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open_in(dir.path()).expect("open");
        let mut d = Driver::create(store, "hop-thuong-ky", T0);
        realistic(&mut d);
        let live = d.session.clone();
        assert_eq!(live.phase, diemcau_control::Phase::Ended);
        assert!(live.floor.requests.len() >= 4, "the meeting used the floor");
        drop(d);

        let store = Store::open_in(dir.path()).expect("reopen");
        let replayed = store.load_sessions().expect("load");
        assert_eq!(replayed, vec![live.clone()]);
        assert_eq!(
            store.last_seq(live.id()).expect("last"),
            live.events,
            "one row per event"
        );
        // A reader after a clean shutdown, when SQLite has folded the WAL
        // back and removed it.
        drop(store);
        let reader = Store::open_read_only_in(dir.path()).expect("read-only");
        assert_eq!(reader.load_sessions().expect("load"), vec![live]);
    }

    #[test]
    fn a_reader_opens_beside_the_writer_and_cannot_write() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut writer = Store::open_in(dir.path()).expect("open");
        let (_, created) = Session::create(spec("hop-1"), T0).expect("spec");
        let id = SessionId("hop-1".into());
        writer
            .append(&id, std::slice::from_ref(&created))
            .expect("append");
        let mut reader = Store::open_read_only_in(dir.path()).expect("read-only");
        assert_eq!(reader.load(&id).expect("load"), vec![created]);
        let opened = Event {
            at: at(1),
            kind: EventKind::Opened,
        };
        assert!(matches!(
            reader.append(&id, &[opened]),
            Err(StoreError::Sqlite(_))
        ));
        assert_eq!(writer.last_seq(&id).expect("last"), 1);
        let missing = tempfile::tempdir().expect("tempdir");
        assert!(matches!(
            Store::open_read_only_in(missing.path()),
            Err(StoreError::NotFound(_))
        ));
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(FILE_NAME);
        drop(Store::open(&path).expect("open"));
        Connection::open(&path)
            .and_then(|c| c.pragma_update(None, "user_version", SCHEMA_VERSION + 1))
            .expect("bump");
        assert!(matches!(
            Store::open(&path),
            Err(StoreError::SchemaTooNew { .. })
        ));
        assert!(matches!(
            Store::open_read_only(&path),
            Err(StoreError::SchemaTooNew { .. })
        ));
    }
}
