//! How fast one caller may run commands: a token bucket per caller.
//!
//! Every command that changes something is an event appended with an
//! fsync, and its view goes to every socket of the session; a client in a
//! loop (150 representative PUTs in 0.2 s were seen) would fill the log and
//! the sockets. A person at a console runs a few commands a minute, so the
//! bucket is generous: `COMMANDS_PER_SEC` sustained, bursts of `BURST`.
//!
//! A caller is its role and site (tokens carry no id of their own, and every
//! token of one site stands for the same room). The table forgets callers
//! that have been quiet long enough to refill, so it stays as small as the
//! set of active callers.

use super::caller::Caller;
use crate::auth::Role;
use crate::control::EndpointCode;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// Callers kept before quiet ones are forgotten.
const FORGET_ABOVE: usize = 1024;

type Key = (Role, Option<EndpointCode>);

/// One bucket per active caller.
#[derive(Debug)]
pub struct CommandRate {
    per_sec: f64,
    burst: f64,
    buckets: Mutex<HashMap<Key, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn refill(&mut self, now: Instant, per_sec: f64, burst: f64) {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * per_sec).min(burst);
        self.at = now;
    }
}

impl CommandRate {
    /// `per_sec` commands a second on average, `burst` at once.
    pub fn new(per_sec: u32, burst: u32) -> CommandRate {
        CommandRate {
            per_sec: f64::from(per_sec.max(1)),
            burst: f64::from(burst.max(1)),
            buckets: Mutex::default(),
        }
    }

    /// The sustained rate, for error messages.
    pub fn per_sec(&self) -> f64 {
        self.per_sec
    }

    /// Takes one command from `caller`'s bucket; false when it is empty.
    pub fn allow(&self, caller: &Caller, now: Instant) -> bool {
        let mut buckets = match self.buckets.lock() {
            Ok(b) => b,
            Err(poisoned) => poisoned.into_inner(),
        };
        let (per_sec, burst) = (self.per_sec, self.burst);
        if buckets.len() > FORGET_ABOVE {
            buckets.retain(|_, b| {
                b.refill(now, per_sec, burst);
                b.tokens < burst
            });
        }
        let bucket = buckets
            .entry((caller.role, caller.endpoint.clone()))
            .or_insert(Bucket {
                tokens: burst,
                at: now,
            });
        bucket.refill(now, per_sec, burst);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn caller(role: Role, code: Option<&str>) -> Caller {
        Caller {
            role,
            endpoint: code.map(EndpointCode::from),
            session: None,
            owner: crate::media::Owner::of_token("t"),
        }
    }

    #[test]
    fn a_burst_then_the_sustained_rate_per_caller() {
        let rate = CommandRate::new(20, 60);
        let t0 = Instant::now();
        let site = caller(Role::Endpoint, Some("30"));
        let allowed = (0..150).filter(|_| rate.allow(&site, t0)).count();
        assert_eq!(allowed, 60);
        // Another site has its own bucket.
        assert!(rate.allow(&caller(Role::Endpoint, Some("31")), t0));
        // A second later, a second's worth more.
        let t1 = t0 + Duration::from_secs(1);
        let later = (0..150).filter(|_| rate.allow(&site, t1)).count();
        assert_eq!(later, 20);
    }

    #[test]
    fn quiet_callers_are_forgotten() {
        let rate = CommandRate::new(20, 60);
        let t0 = Instant::now();
        for n in 0..2000 {
            let c = caller(Role::Endpoint, Some(&n.to_string()));
            rate.allow(&c, t0);
        }
        let later = t0 + Duration::from_secs(10);
        rate.allow(&caller(Role::Chair, None), later);
        let kept = rate.buckets.lock().map(|b| b.len()).unwrap_or(0);
        assert!(kept <= 2, "{kept} buckets kept");
    }
}
