//! The floor: who may speak, who waits in the queue, and for how long.
//!
//! Requests move through BFCP's states (see `crate::floor`); these are
//! the sites' and the chair's moves on them. The speaking limit lives
//! here too: it times every grant, the ones already running included.

use crate::command::GrantTarget;
use crate::event::EventKind;
use crate::floor::{FloorRequest, RequestState};
use crate::rejection::{Rejection, RejectionCode as Code};
use crate::session::{Session, MAX_TOPIC_CHARS, SPEAKING_LIMIT_RANGE};
use crate::types::Phase::{Live, Open, Scheduled};
use crate::types::{EndpointCode, Millis, RequestId};

impl Session {
    pub(crate) fn decide_request_floor(
        &self,
        endpoint: &EndpointCode,
        topic: &str,
    ) -> Result<Vec<EventKind>, Rejection> {
        self.require_phase(&[Live], "request the floor")?;
        self.provincial_up(endpoint)?;
        if self.floor.held_by(endpoint).is_some() {
            return Err(Rejection::new(
                Code::AlreadyHolding,
                format!("endpoint {endpoint} already holds the floor"),
            ));
        }
        if self.floor.pending_of(endpoint).is_some() {
            return Err(Rejection::new(
                Code::AlreadyRequested,
                format!("endpoint {endpoint} already has a pending request"),
            ));
        }
        let topic = topic.trim();
        if topic.chars().count() > MAX_TOPIC_CHARS {
            return Err(Rejection::new(
                Code::InvalidValue,
                "topic must be at most 200 characters",
            ));
        }
        Ok(vec![EventKind::FloorRequested {
            request: RequestId(self.floor.next_id),
            endpoint: endpoint.clone(),
            topic: topic.to_string(),
        }])
    }

    pub(crate) fn decide_cancel_floor_request(
        &self,
        request: RequestId,
    ) -> Result<Vec<EventKind>, Rejection> {
        self.pending(request)?;
        Ok(vec![EventKind::FloorRequestCancelled { request }])
    }

    /// The chair may grant a request or call on a site that did not ask.
    pub(crate) fn decide_grant_floor(
        &self,
        target: &GrantTarget,
        now: Millis,
    ) -> Result<Vec<EventKind>, Rejection> {
        self.require_phase(&[Live], "grant the floor")?;
        let (request, endpoint, called_on) = match target {
            GrantTarget::Request(id) => {
                let r = self.pending(*id)?;
                (r.id, r.endpoint.clone(), false)
            }
            GrantTarget::Endpoint(code) => match self.floor.pending_of(code) {
                Some(r) => (r.id, code.clone(), false),
                None => (RequestId(self.floor.next_id), code.clone(), true),
            },
        };
        self.provincial_up(&endpoint)?;
        if self.floor.held_by(&endpoint).is_some() {
            return Err(Rejection::new(
                Code::AlreadyHolding,
                format!("endpoint {endpoint} already holds the floor"),
            ));
        }
        // With the floor full, the new grant replaces the oldest
        // holder: the chair giving the floor is the decision.
        let max = self.spec.rules.max_floor_holders as usize;
        let excess = (self.floor.holders.len() + 1).saturating_sub(max);
        let mut out: Vec<EventKind> = self
            .floor
            .holder_requests()
            .take(excess)
            .map(|r| EventKind::FloorRevoked {
                request: r.id,
                endpoint: r.endpoint.clone(),
                automatic: false,
            })
            .collect();
        out.push(EventKind::FloorGranted {
            request,
            endpoint,
            called_on,
            expires_at: self.expires_at(now),
        });
        Ok(out)
    }

    pub(crate) fn decide_deny_floor(
        &self,
        request: RequestId,
    ) -> Result<Vec<EventKind>, Rejection> {
        self.pending(request)?;
        Ok(vec![EventKind::FloorDenied { request }])
    }

    /// Without an endpoint, the chair clears the whole floor.
    pub(crate) fn decide_revoke_floor(
        &self,
        endpoint: Option<&EndpointCode>,
    ) -> Result<Vec<EventKind>, Rejection> {
        let holders: Vec<_> = self
            .floor
            .holder_requests()
            .filter(|r| endpoint.is_none_or(|e| &r.endpoint == e))
            .map(|r| EventKind::FloorRevoked {
                request: r.id,
                endpoint: r.endpoint.clone(),
                automatic: false,
            })
            .collect();
        if holders.is_empty() {
            return Err(match endpoint {
                Some(e) => Rejection::new(
                    Code::NotHolder,
                    format!("endpoint {e} does not hold the floor"),
                ),
                None => Rejection::new(Code::FloorEmpty, "nobody holds the floor"),
            });
        }
        Ok(holders)
    }

    pub(crate) fn decide_release_floor(
        &self,
        endpoint: &EndpointCode,
    ) -> Result<Vec<EventKind>, Rejection> {
        let r = self.floor.held_by(endpoint).ok_or_else(|| {
            Rejection::new(
                Code::NotHolder,
                format!("endpoint {endpoint} does not hold the floor"),
            )
        })?;
        Ok(vec![EventKind::FloorReleased {
            request: r.id,
            endpoint: endpoint.clone(),
        }])
    }

    pub(crate) fn decide_reorder_queue(
        &self,
        order: &[RequestId],
    ) -> Result<Vec<EventKind>, Rejection> {
        self.require_phase(&[Live], "reorder the queue")?;
        let mut given = order.to_vec();
        given.sort();
        let mut queued = self.floor.queue.clone();
        queued.sort();
        if given != queued {
            return Err(Rejection::new(
                Code::BadQueueOrder,
                "the new order must name each pending request exactly once",
            ));
        }
        Ok(vec![EventKind::QueueReordered {
            order: order.to_vec(),
        }])
    }

    pub(crate) fn decide_set_speaking_limit(
        &self,
        seconds: Option<u32>,
        auto_revoke: Option<bool>,
    ) -> Result<Vec<EventKind>, Rejection> {
        self.require_phase(&[Scheduled, Open, Live], "set the speaking limit")?;
        if seconds.is_some_and(|s| !SPEAKING_LIMIT_RANGE.contains(&s)) {
            return Err(Rejection::new(
                Code::InvalidValue,
                "speaking limit must be 10-7200 seconds",
            ));
        }
        let auto_revoke = auto_revoke.unwrap_or(self.floor.auto_revoke);
        if seconds == self.floor.speaking_limit_secs && auto_revoke == self.floor.auto_revoke {
            return Ok(Vec::new());
        }
        Ok(vec![EventKind::SpeakingLimitSet {
            seconds,
            auto_revoke,
        }])
    }

    fn pending(&self, id: RequestId) -> Result<&FloorRequest, Rejection> {
        let r = self.floor.request(id).ok_or_else(|| {
            Rejection::new(Code::UnknownRequest, format!("no floor request {id}"))
        })?;
        if r.state != RequestState::Pending {
            return Err(Rejection::new(
                Code::RequestNotPending,
                format!("floor request {id} is no longer pending"),
            ));
        }
        Ok(r)
    }

    fn expires_at(&self, now: Millis) -> Option<Millis> {
        self.floor
            .speaking_limit_secs
            .map(|s| now.plus_secs(u64::from(s)))
    }

    /// Ends everything an endpoint has on the floor: its grant and its request.
    pub(crate) fn clear_floor_of(&self, code: &EndpointCode) -> Vec<EventKind> {
        let mut out = Vec::new();
        if let Some(r) = self.floor.held_by(code) {
            out.push(EventKind::FloorReleased {
                request: r.id,
                endpoint: code.clone(),
            });
        }
        if let Some(r) = self.floor.pending_of(code) {
            out.push(EventKind::FloorRequestCancelled { request: r.id });
        }
        out
    }
}
