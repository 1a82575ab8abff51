//! The append-only SQLite event log, replayed at start.
//!
//! Minimal version so the server can be wired and tested; the full store
//! replaces it.

use crate::control::{Event, Session, SessionId};
use rusqlite::{params, Connection};
use std::path::Path;

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite.
    #[error("sqlite: {0}")]
    Sql(#[from] rusqlite::Error),
    /// An event could not be encoded or decoded.
    #[error("event json: {0}")]
    Json(#[from] serde_json::Error),
    /// The data dir.
    #[error("data dir: {0}")]
    Io(#[from] std::io::Error),
    /// A log that does not replay.
    #[error("session {0}: {1}")]
    Replay(String, String),
}

/// The event log.
pub struct Store {
    conn: Connection,
}

impl Store {
    /// Opens (or creates) `data_dir/diemcau.sqlite`.
    pub fn open_in(data_dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(data_dir)?;
        let conn = Connection::open(data_dir.join("diemcau.sqlite"))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS events (
                session TEXT NOT NULL, seq INTEGER NOT NULL, at INTEGER NOT NULL,
                payload TEXT NOT NULL, PRIMARY KEY (session, seq))",
        )?;
        Ok(Store { conn })
    }

    /// Appends events; returns the session's last sequence number.
    pub fn append(&mut self, session: &SessionId, events: &[Event]) -> Result<u64, StoreError> {
        let tx = self.conn.transaction()?;
        let mut seq: u64 = tx.query_row(
            "SELECT COALESCE(MAX(seq), 0) FROM events WHERE session = ?1",
            params![session.0],
            |r| r.get::<_, i64>(0),
        )? as u64;
        for e in events {
            seq += 1;
            tx.execute(
                "INSERT INTO events (session, seq, at, payload) VALUES (?1, ?2, ?3, ?4)",
                params![
                    session.0,
                    seq as i64,
                    e.at.0 as i64,
                    serde_json::to_string(e)?
                ],
            )?;
        }
        tx.commit()?;
        Ok(seq)
    }

    /// Every session, replayed.
    pub fn load_sessions(&self) -> Result<Vec<Session>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT session, payload FROM events ORDER BY session, seq")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        let mut by_session: Vec<(String, Vec<Event>)> = Vec::new();
        for row in rows {
            let (id, payload) = row?;
            let event: Event = serde_json::from_str(&payload)?;
            match by_session.last_mut() {
                Some((last, events)) if *last == id => events.push(event),
                _ => by_session.push((id, vec![event])),
            }
        }
        by_session
            .into_iter()
            .map(|(id, events)| {
                Session::replay(events).map_err(|e| StoreError::Replay(id, e.to_string()))
            })
            .collect()
    }
}
