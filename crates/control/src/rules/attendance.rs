//! Which sites take part, and who represents them.
//!
//! A link going down is not a site leaving: a drop keeps the site's floor
//! and queue place through the grace (see `deadlines`), while leaving
//! gives them up at once. The two read side by side for that reason.

use crate::attendance::AttendanceStatus;
use crate::event::EventKind;
use crate::rejection::{Rejection, RejectionCode as Code};
use crate::session::{Session, MAX_HEADCOUNT, MAX_NAME_CHARS};
use crate::types::EndpointCode;
use crate::types::Phase::{Live, Open, Scheduled};

impl Session {
    pub(crate) fn decide_connect(
        &self,
        endpoint: &EndpointCode,
    ) -> Result<Vec<EventKind>, Rejection> {
        self.require_phase(&[Scheduled, Open, Live], "connect")?;
        if self.endpoint(endpoint)?.is_up() {
            return Err(Rejection::new(
                Code::AlreadyConnected,
                format!("endpoint {endpoint} is already connected"),
            ));
        }
        Ok(vec![EventKind::EndpointConnected {
            endpoint: endpoint.clone(),
        }])
    }

    pub(crate) fn decide_disconnect(
        &self,
        endpoint: &EndpointCode,
    ) -> Result<Vec<EventKind>, Rejection> {
        self.require_phase(&[Scheduled, Open, Live], "disconnect")?;
        if !self.endpoint(endpoint)?.is_up() {
            return Err(Rejection::new(
                Code::NotConnected,
                format!("endpoint {endpoint} is not connected"),
            ));
        }
        // The floor and the queue are kept through a short drop; they
        // are cleared only when the grace runs out (see Tick).
        Ok(vec![EventKind::EndpointDropped {
            endpoint: endpoint.clone(),
        }])
    }

    pub(crate) fn decide_leave(
        &self,
        endpoint: &EndpointCode,
    ) -> Result<Vec<EventKind>, Rejection> {
        self.require_phase(&[Scheduled, Open, Live], "leave")?;
        let a = self.endpoint(endpoint)?;
        if !(a.is_up() || a.status == AttendanceStatus::Dropped) {
            return Err(Rejection::new(
                Code::NotConnected,
                format!("endpoint {endpoint} is not connected"),
            ));
        }
        let mut out = self.clear_floor_of(endpoint);
        out.push(EventKind::EndpointLeft {
            endpoint: endpoint.clone(),
        });
        Ok(out)
    }

    pub(crate) fn decide_set_representative(
        &self,
        endpoint: &EndpointCode,
        name: &str,
        title: &str,
        headcount: Option<u32>,
    ) -> Result<Vec<EventKind>, Rejection> {
        self.require_phase(&[Scheduled, Open, Live], "set the representative")?;
        self.endpoint(endpoint)?;
        let name = name.trim();
        let title = title.trim();
        if name.is_empty()
            || name.chars().count() > MAX_NAME_CHARS
            || title.chars().count() > MAX_NAME_CHARS
        {
            return Err(Rejection::new(
                Code::InvalidValue,
                "name must be 1-200 characters and title at most 200",
            ));
        }
        if headcount.is_some_and(|h| h > MAX_HEADCOUNT) {
            return Err(Rejection::new(
                Code::InvalidValue,
                format!("headcount must be at most {MAX_HEADCOUNT}"),
            ));
        }
        // Saying again what is already recorded records nothing: a
        // page that resends its form costs no event and no fsync.
        let current = self.endpoint(endpoint)?;
        let unchanged = current
            .representative
            .as_ref()
            .is_some_and(|r| r.name == name && r.title == title)
            && current.headcount == headcount;
        if unchanged {
            return Ok(Vec::new());
        }
        Ok(vec![EventKind::RepresentativeSet {
            endpoint: endpoint.clone(),
            name: name.to_string(),
            title: title.to_string(),
            headcount,
        }])
    }
}
