//! What happens because time passed rather than because someone asked:
//! roll-call deadlines, speaking-time warnings and limits, drop grace.
//!
//! `next_deadline` and `due` sit together because they must agree: the
//! shell sleeps until the one says, then ticks for the other to act.

use crate::attendance::AttendanceStatus;
use crate::event::{EventKind, RollCallEnd};
use crate::session::Session;
use crate::types::{Millis, Phase};

impl Session {
    /// The earliest time a [`Command::Tick`](crate::Command::Tick) has something to do.
    pub fn next_deadline(&self) -> Option<Millis> {
        let mut next: Option<Millis> = None;
        let mut consider = |t: Millis| next = Some(next.map_or(t, |n| n.min(t)));
        if self.phase == Phase::Ended {
            return None;
        }
        if let Some(rc) = self.running_roll_call() {
            consider(rc.deadline);
        }
        let lead = u64::from(self.spec.rules.warning_lead_secs) * 1000;
        for r in self.floor.holder_requests() {
            if let Some(exp) = r.expires_at {
                if !r.warned && lead > 0 {
                    consider(Millis(exp.0.saturating_sub(lead)));
                }
                if !r.time_up {
                    consider(exp);
                }
            }
        }
        let grace = u64::from(self.spec.rules.drop_grace_secs) * 1000;
        for a in self.attendance.values() {
            if a.status == AttendanceStatus::Dropped && !a.grace_expired {
                if let Some(lost) = a.last_lost_at {
                    consider(lost.plus_ms(grace));
                }
            }
        }
        next
    }

    /// Everything whose time has come.
    pub(crate) fn due(&self, now: Millis) -> Vec<EventKind> {
        let mut out = Vec::new();
        if self.phase == Phase::Ended {
            return out;
        }
        if let Some(rc) = self.running_roll_call() {
            if rc.deadline <= now {
                out.push(self.close_roll_call(rc, RollCallEnd::Deadline));
            }
        }
        let lead = u64::from(self.spec.rules.warning_lead_secs) * 1000;
        for r in self.floor.holder_requests() {
            let Some(exp) = r.expires_at else { continue };
            let endpoint = r.endpoint.clone();
            if exp <= now {
                if self.floor.auto_revoke {
                    out.push(EventKind::FloorRevoked {
                        request: r.id,
                        endpoint,
                        automatic: true,
                    });
                } else if !r.time_up {
                    out.push(EventKind::SpeakingTimeUp {
                        request: r.id,
                        endpoint,
                    });
                }
            } else if !r.warned && lead > 0 && exp.0.saturating_sub(lead) <= now.0 {
                out.push(EventKind::SpeakingTimeWarning {
                    request: r.id,
                    endpoint,
                });
            }
        }
        let grace = u64::from(self.spec.rules.drop_grace_secs) * 1000;
        for a in self.attendance.values() {
            let lapsed = a.status == AttendanceStatus::Dropped
                && !a.grace_expired
                && a.last_lost_at.is_some_and(|t| t.plus_ms(grace) <= now);
            if lapsed {
                out.extend(self.clear_floor_of(&a.endpoint.code));
                out.push(EventKind::DropGraceExpired {
                    endpoint: a.endpoint.code.clone(),
                });
            }
        }
        out
    }
}
