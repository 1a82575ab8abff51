//! The content token: who presents (shares a second video, e.g. slides)
//! to every site. One presenter at a time; requests wait for the chair
//! unless the session's [`ContentRule`] lets the requester start by itself.

use super::types::{EndpointCode, Millis};
use serde::{Deserialize, Serialize};

/// Who may start presenting without the chair's grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ContentRule {
    /// The floor holder, or the chair's own site, takes the token at once
    /// when it asks; any other site's request waits for the chair.
    #[default]
    FloorOrChair,
    /// Every presentation waits for the chair's grant.
    ChairGrants,
}

/// Why a presenter lost the token, or a pending request went away.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum ContentEnd {
    /// The chair took the token back (or turned the request down).
    Chair,
    /// The chair gave the token to another site.
    Replaced,
    /// The presenter lost the floor and the session's
    /// `content_ends_with_floor` rule is on.
    FloorLost,
    /// The site's link was lost.
    Dropped,
    /// The site left.
    Left,
    /// The session ended.
    SessionEnded,
    /// The site withdrew its own request.
    Withdrawn,
}

/// The site holding the token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Presenter {
    /// Which site.
    pub endpoint: EndpointCode,
    /// When it got the token.
    pub since: Millis,
    /// True when the chair granted it; false when the site started by
    /// itself under `floor_or_chair`.
    pub by_chair: bool,
}

/// A request to present, waiting for the chair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ContentRequest {
    /// Who asked.
    pub endpoint: EndpointCode,
    /// When.
    pub requested_at: Millis,
}

/// The token and the requests waiting for it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ContentState {
    /// Who presents, if anyone.
    pub presenter: Option<Presenter>,
    /// Requests waiting for the chair, oldest first; one per site.
    pub pending: Vec<ContentRequest>,
}

impl ContentState {
    /// The presenting site.
    pub fn presenter_code(&self) -> Option<&EndpointCode> {
        self.presenter.as_ref().map(|p| &p.endpoint)
    }

    /// Whether `endpoint` holds the token.
    pub fn is_presenter(&self, endpoint: &EndpointCode) -> bool {
        self.presenter_code() == Some(endpoint)
    }

    /// Whether `endpoint` has a request waiting.
    pub fn is_pending(&self, endpoint: &EndpointCode) -> bool {
        self.pending.iter().any(|r| &r.endpoint == endpoint)
    }

    pub(crate) fn request(&mut self, endpoint: EndpointCode, at: Millis) {
        if !self.is_pending(&endpoint) {
            self.pending.push(ContentRequest {
                endpoint,
                requested_at: at,
            });
        }
    }

    pub(crate) fn withdraw(&mut self, endpoint: &EndpointCode) {
        self.pending.retain(|r| &r.endpoint != endpoint);
    }

    /// A grant answers the new presenter's request, if it had one.
    pub(crate) fn grant(&mut self, endpoint: EndpointCode, by_chair: bool, at: Millis) {
        self.withdraw(&endpoint);
        self.presenter = Some(Presenter {
            endpoint,
            since: at,
            by_chair,
        });
    }

    /// Clears the token only if `endpoint` still holds it, so a replayed
    /// log with a stale revoke cannot take it from a later presenter.
    pub(crate) fn end(&mut self, endpoint: &EndpointCode) {
        if self.is_presenter(endpoint) {
            self.presenter = None;
        }
    }
}
