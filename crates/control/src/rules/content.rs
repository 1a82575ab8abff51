//! The content token: one presenter at a time shares a second video
//! (slides, say) with every site.
//!
//! Whether a site may keep the token, or its request for it, depends on
//! the floor (`content_ends_with_floor`) and on its link, which other
//! commands change. So besides the four content commands this holds the
//! check that runs after every decision and ends whatever those changes
//! left standing without ground.

use crate::content::{ContentEnd, ContentRule};
use crate::event::{Event, EventKind};
use crate::rejection::{Rejection, RejectionCode as Code};
use crate::session::Session;
use crate::types::{EndpointCode, Millis, Phase};

impl Session {
    /// The checks every new presenter passes: a live session, a site of
    /// it that is connected and not presenting already.
    fn content_site(&self, code: &EndpointCode, what: &str) -> Result<(), Rejection> {
        self.require_phase(&[Phase::Live], what)?;
        if !self.endpoint(code)?.is_up() {
            return Err(Rejection::new(
                Code::NotConnected,
                format!("endpoint {code} is not connected"),
            ));
        }
        if self.content.is_presenter(code) {
            return Err(Rejection::new(
                Code::AlreadyPresenting,
                format!("endpoint {code} is already presenting"),
            ));
        }
        Ok(())
    }

    /// Whether `code` may hold the token under `content_ends_with_floor`:
    /// granting it to a site the rule would take it from at once would
    /// be a grant in name only.
    fn may_present(&self, code: &EndpointCode) -> Result<(), Rejection> {
        let central = self.central() == Some(code);
        if self.spec.rules.content_ends_with_floor && !central && self.floor.held_by(code).is_none()
        {
            return Err(Rejection::new(
                Code::NotHolder,
                format!(
                    "endpoint {code} does not hold the floor, and in this session a \
                     presentation ends with the floor: give it the floor first"
                ),
            ));
        }
        Ok(())
    }

    pub(crate) fn decide_request_content(
        &self,
        code: &EndpointCode,
    ) -> Result<Vec<EventKind>, Rejection> {
        self.content_site(code, "ask to present")?;
        let central = self.central() == Some(code);
        let holds_floor = self.floor.held_by(code).is_some();
        // The chair's own room asking is the chair deciding, so it may
        // replace a presenter; a floor holder only takes a free token, as
        // replacing another site is the chair's call.
        let starts_now = self.spec.rules.content_rule == ContentRule::FloorOrChair
            && (central || (holds_floor && self.content.presenter.is_none()));
        if starts_now {
            let mut out = Vec::new();
            if let Some(current) = self.content.presenter_code() {
                out.push(EventKind::ContentRevoked {
                    endpoint: current.clone(),
                    reason: ContentEnd::Replaced,
                });
            }
            out.push(EventKind::ContentGranted {
                endpoint: code.clone(),
                by_chair: false,
            });
            return Ok(out);
        }
        if self.content.is_pending(code) {
            return Err(Rejection::new(
                Code::AlreadyRequested,
                format!("endpoint {code} has already asked to present"),
            ));
        }
        Ok(vec![EventKind::ContentRequested {
            endpoint: code.clone(),
        }])
    }

    pub(crate) fn decide_grant_content(
        &self,
        code: &EndpointCode,
    ) -> Result<Vec<EventKind>, Rejection> {
        self.content_site(code, "grant the content token")?;
        self.may_present(code)?;
        let mut out = Vec::new();
        if let Some(current) = self.content.presenter_code() {
            out.push(EventKind::ContentRevoked {
                endpoint: current.clone(),
                reason: ContentEnd::Replaced,
            });
        }
        out.push(EventKind::ContentGranted {
            endpoint: code.clone(),
            by_chair: true,
        });
        Ok(out)
    }

    pub(crate) fn decide_revoke_content(
        &self,
        code: Option<&EndpointCode>,
    ) -> Result<Vec<EventKind>, Rejection> {
        self.require_phase(&[Phase::Live], "revoke the content token")?;
        let Some(code) = code else {
            let current = self
                .content
                .presenter_code()
                .ok_or_else(|| Rejection::new(Code::NoPresenter, "nobody is presenting"))?;
            return Ok(vec![EventKind::ContentRevoked {
                endpoint: current.clone(),
                reason: ContentEnd::Chair,
            }]);
        };
        self.endpoint(code)?;
        if self.content.is_presenter(code) {
            Ok(vec![EventKind::ContentRevoked {
                endpoint: code.clone(),
                reason: ContentEnd::Chair,
            }])
        } else if self.content.is_pending(code) {
            Ok(vec![EventKind::ContentRequestCancelled {
                endpoint: code.clone(),
                reason: ContentEnd::Chair,
            }])
        } else {
            Err(Rejection::new(
                Code::NotPresenter,
                format!("endpoint {code} is not presenting and has not asked to"),
            ))
        }
    }

    pub(crate) fn decide_release_content(
        &self,
        code: &EndpointCode,
    ) -> Result<Vec<EventKind>, Rejection> {
        self.require_phase(&[Phase::Live], "stop presenting")?;
        self.endpoint(code)?;
        if self.content.is_presenter(code) {
            Ok(vec![EventKind::ContentReleased {
                endpoint: code.clone(),
            }])
        } else if self.content.is_pending(code) {
            Ok(vec![EventKind::ContentRequestCancelled {
                endpoint: code.clone(),
                reason: ContentEnd::Withdrawn,
            }])
        } else {
            Err(Rejection::new(
                Code::NotPresenter,
                format!("endpoint {code} is not presenting and has not asked to"),
            ))
        }
    }

    /// Appends what `kinds` cost the content token: whatever command took
    /// a presenter's floor or link, the token goes in the same decision,
    /// so no path (revoke, release, grace, auto-revoke, a full floor, a
    /// drop) can leave a presenter the rules no longer allow. The check
    /// runs on the state after `kinds`, which keeps it to one place
    /// instead of one per command.
    pub(crate) fn with_content_lapses(
        &self,
        mut kinds: Vec<EventKind>,
        now: Millis,
    ) -> Vec<EventKind> {
        let idle = self.content.presenter.is_none() && self.content.pending.is_empty();
        if kinds.is_empty() || idle {
            return kinds;
        }
        let mut after = self.clone();
        for kind in &kinds {
            after.fold(&Event {
                at: now,
                kind: kind.clone(),
            });
        }
        kinds.extend(after.content_lapses(|code| after.content_lapse(code)));
        kinds
    }

    /// Why `code` may no longer present or wait to, if it may not.
    fn content_lapse(&self, code: &EndpointCode) -> Option<ContentEnd> {
        use crate::attendance::AttendanceStatus as S;
        if self.phase != Phase::Live {
            return Some(ContentEnd::SessionEnded);
        }
        match self.attendance.get(code).map(|a| a.status) {
            Some(S::Connected | S::Present) => None,
            Some(S::Left) => Some(ContentEnd::Left),
            _ => Some(ContentEnd::Dropped),
        }
    }

    /// The events ending the token and the requests that `lapse` says
    /// must end; the floor rule binds the presenter only.
    pub(crate) fn content_lapses(
        &self,
        lapse: impl Fn(&EndpointCode) -> Option<ContentEnd>,
    ) -> Vec<EventKind> {
        let mut out = Vec::new();
        if let Some(code) = self.content.presenter_code() {
            let reason = lapse(code).or_else(|| {
                self.may_present(code)
                    .is_err()
                    .then_some(ContentEnd::FloorLost)
            });
            if let Some(reason) = reason {
                out.push(EventKind::ContentRevoked {
                    endpoint: code.clone(),
                    reason,
                });
            }
        }
        for r in &self.content.pending {
            if let Some(reason) = lapse(&r.endpoint) {
                out.push(EventKind::ContentRequestCancelled {
                    endpoint: r.endpoint.clone(),
                    reason,
                });
            }
        }
        out
    }
}
