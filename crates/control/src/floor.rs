//! The floor, with the request states of BFCP (RFC 8855/8856): a request is
//! `pending` in the queue, then `granted`, and ends `released`, `denied`,
//! `cancelled` or `revoked`.

use super::types::{EndpointCode, Millis, RequestId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Where a floor request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RequestState {
    /// Waiting in the queue.
    Pending,
    /// Holds the floor.
    Granted,
    /// The holder gave it back (or its link was lost for good).
    Released,
    /// The chair turned it down.
    Denied,
    /// Withdrawn while pending.
    Cancelled,
    /// The chair (or the clock) took the floor back.
    Revoked,
}

/// One request for the floor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FloorRequest {
    /// Its id.
    pub id: RequestId,
    /// Who asked (or was called on).
    pub endpoint: EndpointCode,
    /// About what.
    pub topic: String,
    /// Where it stands.
    pub state: RequestState,
    /// The chair called on the endpoint without a request.
    pub called_on: bool,
    /// When it was made.
    pub requested_at: Millis,
    /// When the floor was given.
    pub granted_at: Option<Millis>,
    /// When it reached its final state.
    pub ended_at: Option<Millis>,
    /// When the speaking time runs out, if limited.
    pub expires_at: Option<Millis>,
    /// The speaking-time warning went out.
    pub warned: bool,
    /// The speaking time ran out (auto-revoke off).
    pub time_up: bool,
}

/// The floor: every request made in the session, the queue and the holders.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FloorState {
    /// Every request, by id. JSON writes the ids as the object's keys,
    /// strings of digits.
    #[cfg_attr(feature = "openapi", schema(value_type = BTreeMap<String, FloorRequest>))]
    pub requests: BTreeMap<RequestId, FloorRequest>,
    /// Pending requests, first to last.
    pub queue: Vec<RequestId>,
    /// Granted requests, oldest grant first.
    pub holders: Vec<RequestId>,
    /// The speaking-time limit for new grants, in seconds.
    pub speaking_limit_secs: Option<u32>,
    /// Whether the floor is revoked when the limit runs out.
    pub auto_revoke: bool,
    /// The id the next request gets.
    pub(crate) next_id: u32,
}

impl FloorState {
    /// Keeps every live request (pending or granted) and only the last
    /// `keep_ended` ended ones: what a view sends. The event log keeps
    /// every request; a view that grew with each request/cancel cycle would
    /// make every update of a long session heavier.
    pub fn trim_ended(&mut self, keep_ended: usize) {
        let ended: Vec<RequestId> = self
            .requests
            .values()
            .filter(|r| !matches!(r.state, RequestState::Pending | RequestState::Granted))
            .map(|r| r.id)
            .collect();
        let drop = ended.len().saturating_sub(keep_ended);
        for id in &ended[..drop] {
            self.requests.remove(id);
        }
    }

    pub(crate) fn new(speaking_limit_secs: Option<u32>, auto_revoke: bool) -> Self {
        FloorState {
            speaking_limit_secs,
            auto_revoke,
            next_id: 1,
            ..FloorState::default()
        }
    }

    /// The request with this id.
    pub fn request(&self, id: RequestId) -> Option<&FloorRequest> {
        self.requests.get(&id)
    }

    /// The pending request of an endpoint, if any.
    pub fn pending_of(&self, endpoint: &EndpointCode) -> Option<&FloorRequest> {
        self.queue
            .iter()
            .filter_map(|id| self.requests.get(id))
            .find(|r| &r.endpoint == endpoint)
    }

    /// The granted request of an endpoint, if it holds the floor.
    pub fn held_by(&self, endpoint: &EndpointCode) -> Option<&FloorRequest> {
        self.holders
            .iter()
            .filter_map(|id| self.requests.get(id))
            .find(|r| &r.endpoint == endpoint)
    }

    /// Holders, oldest grant first.
    pub fn holder_requests(&self) -> impl Iterator<Item = &FloorRequest> {
        self.holders.iter().filter_map(|id| self.requests.get(id))
    }

    /// The endpoint shown in the floor slot: the latest holder.
    pub fn latest_holder(&self) -> Option<&EndpointCode> {
        self.holders
            .last()
            .and_then(|id| self.requests.get(id))
            .map(|r| &r.endpoint)
    }

    /// 1-based position of a request in the queue.
    pub fn queue_position(&self, id: RequestId) -> Option<usize> {
        self.queue.iter().position(|q| *q == id).map(|p| p + 1)
    }

    pub(crate) fn add_pending(
        &mut self,
        id: RequestId,
        endpoint: EndpointCode,
        topic: String,
        at: Millis,
    ) {
        self.next_id = self.next_id.max(id.0 + 1);
        self.requests.insert(
            id,
            FloorRequest {
                id,
                endpoint,
                topic,
                state: RequestState::Pending,
                called_on: false,
                requested_at: at,
                granted_at: None,
                ended_at: None,
                expires_at: None,
                warned: false,
                time_up: false,
            },
        );
        self.queue.push(id);
    }

    pub(crate) fn grant(
        &mut self,
        id: RequestId,
        endpoint: EndpointCode,
        called_on: bool,
        expires_at: Option<Millis>,
        at: Millis,
    ) {
        if called_on {
            self.add_pending(id, endpoint, String::new(), at);
        }
        self.queue.retain(|q| *q != id);
        if let Some(r) = self.requests.get_mut(&id) {
            r.state = RequestState::Granted;
            r.called_on = called_on;
            r.granted_at = Some(at);
            r.expires_at = expires_at;
            self.holders.push(id);
        }
    }

    /// Moves a request to a final state, out of the queue and the holders.
    pub(crate) fn finish(&mut self, id: RequestId, state: RequestState, at: Millis) {
        self.queue.retain(|q| *q != id);
        self.holders.retain(|q| *q != id);
        if let Some(r) = self.requests.get_mut(&id) {
            r.state = state;
            r.ended_at = Some(at);
        }
    }

    /// A new limit also binds the current holders, counted from their grant.
    pub(crate) fn set_limit(&mut self, seconds: Option<u32>, auto_revoke: bool) {
        self.speaking_limit_secs = seconds;
        self.auto_revoke = auto_revoke;
        for id in &self.holders {
            if let Some(r) = self.requests.get_mut(id) {
                r.expires_at = match (seconds, r.granted_at) {
                    (Some(s), Some(g)) => Some(g.plus_secs(u64::from(s))),
                    _ => None,
                };
                r.warned = false;
                r.time_up = false;
            }
        }
    }
}
