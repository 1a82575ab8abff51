//! Link test results, kept beside the event log in the same file.
//!
//! A link test is a measurement, not a change of a session's state: nothing
//! in the control plane depends on it, and replaying the log must not need
//! it. So it has its own table, keyed by session like the events and
//! append-only like them, and the session's record is the two together.

use super::{Store, StoreError};
use diemcau_control::SessionId;
use diemcau_monitor::LinkTestResult;
use rusqlite::params;

/// Schema version 2: the `link_tests` table.
pub(super) const SCHEMA_V2: &str = "
CREATE TABLE link_tests (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT    NOT NULL,
    endpoint   TEXT    NOT NULL,
    started_at INTEGER NOT NULL,
    verdict    TEXT    NOT NULL,
    payload    TEXT    NOT NULL
);
CREATE INDEX link_tests_by_session ON link_tests (session_id, id);
CREATE TRIGGER link_tests_no_update BEFORE UPDATE ON link_tests
BEGIN SELECT RAISE(ABORT, 'link test results are append-only'); END;
CREATE TRIGGER link_tests_no_delete BEFORE DELETE ON link_tests
BEGIN SELECT RAISE(ABORT, 'link test results are append-only'); END;
";

impl Store {
    /// Keeps a finished link test with its session's record. Returns its id.
    pub fn append_link_test(&mut self, result: &LinkTestResult) -> Result<i64, StoreError> {
        let payload = serde_json::to_string(result)?;
        let verdict = serde_json::to_value(result.verdict)?;
        let started = i64::try_from(result.started_at.0).unwrap_or(i64::MAX);
        self.conn.execute(
            "INSERT INTO link_tests (session_id, endpoint, started_at, verdict, payload) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                &result.session.0,
                &result.endpoint.0,
                started,
                verdict.as_str().unwrap_or_default(),
                payload
            ],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// A session's link tests, oldest first, with their ids.
    pub fn link_tests(
        &self,
        session: &SessionId,
    ) -> Result<Vec<(i64, LinkTestResult)>, StoreError> {
        let mut select = self.conn.prepare_cached(
            "SELECT id, payload FROM link_tests WHERE session_id = ?1 ORDER BY id",
        )?;
        let rows = select.query_map(params![&session.0], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, payload) = row?;
            let result = serde_json::from_str(&payload).map_err(|e| StoreError::Corrupt {
                session: session.clone(),
                seq: 0,
                reason: format!("link test {id}: {e}"),
            })?;
            out.push((id, result));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use diemcau_control::{EndpointCode, Millis};
    use diemcau_monitor::{LinkTest, Thresholds};

    #[test]
    fn results_round_trip_by_session_and_survive_a_reopen() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut store = Store::open_in(dir.path()).expect("store");
        let s1 = SessionId("s1".into());
        let result = |session: &SessionId, code: &str| {
            LinkTest::new(
                session.clone(),
                EndpointCode(code.into()),
                "technician",
                3,
                Millis(1000),
            )
            .finish(&Thresholds::default(), Millis(4000))
        };
        let a = result(&s1, "30");
        store.append_link_test(&a).expect("append");
        store
            .append_link_test(&result(&SessionId("s2".into()), "31"))
            .expect("append");
        drop(store);
        let store = Store::open_in(dir.path()).expect("reopen");
        let got = store.link_tests(&s1).expect("read");
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].1, a);
        assert!(store.conn.execute("DELETE FROM link_tests", []).is_err());
    }
}
