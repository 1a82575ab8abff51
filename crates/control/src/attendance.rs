//! The attendance record of one endpoint: a fold over its link events,
//! roll-call answers and the session's phase changes.

use super::types::{EndpointInfo, Millis};
use serde::{Deserialize, Serialize};
use strum::VariantArray;

/// Where an endpoint stands.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum AttendanceStatus {
    /// Never connected.
    Absent,
    /// Link up, presence not confirmed at roll call.
    Connected,
    /// Link up and confirmed at roll call.
    Present,
    /// Link lost without leaving.
    Dropped,
    /// Left on purpose.
    Left,
}

impl AttendanceStatus {
    /// The wire name.
    pub fn as_str(&self) -> &'static str {
        self.into()
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Who presides at a site.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Representative {
    /// Full name.
    pub name: String,
    /// Title.
    pub title: String,
}

/// One endpoint's attendance.
///
/// Time is accounted per status only while the session is live, so the five
/// durations of every endpoint add up to the length of the meeting: the
/// report never has to guess what happened in a gap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Attendance {
    /// The endpoint.
    #[serde(flatten)]
    pub endpoint: EndpointInfo,
    /// Where it stands now.
    pub status: AttendanceStatus,
    /// First time its link came up.
    pub first_joined_at: Option<Millis>,
    /// Last time its link came up.
    pub last_joined_at: Option<Millis>,
    /// Last time its link went away (drop or leave).
    pub last_lost_at: Option<Millis>,
    /// How many times its link dropped.
    pub disconnects: u32,
    /// How late it joined after the meeting went live (0 when on time);
    /// none while it has not joined.
    pub lateness_ms: Option<u64>,
    /// Milliseconds spent live in each status, indexed like
    /// `AttendanceStatus::VARIANTS` (declaration order, the display order).
    pub status_ms: [u64; AttendanceStatus::VARIANTS.len()],
    /// Who presides at the site.
    pub representative: Option<Representative>,
    /// People in the room.
    pub headcount: Option<u32>,
    /// Confirmed at the latest roll call (kept through a short drop).
    pub confirmed: bool,
    /// The drop grace ran out; set until the link comes back.
    pub grace_expired: bool,
    /// Start of the interval not yet added to `status_ms`.
    pub(crate) since: Millis,
}

impl Attendance {
    pub(crate) fn new(endpoint: EndpointInfo, at: Millis) -> Self {
        Attendance {
            endpoint,
            status: AttendanceStatus::Absent,
            first_joined_at: None,
            last_joined_at: None,
            last_lost_at: None,
            disconnects: 0,
            lateness_ms: None,
            status_ms: [0; 5],
            representative: None,
            headcount: None,
            confirmed: false,
            grace_expired: false,
            since: at,
        }
    }

    /// Whether its link is up.
    pub fn is_up(&self) -> bool {
        matches!(
            self.status,
            AttendanceStatus::Connected | AttendanceStatus::Present
        )
    }

    /// Milliseconds connected while live (connected or present).
    pub fn connected_ms(&self) -> u64 {
        self.status_ms[AttendanceStatus::Connected.index()]
            + self.status_ms[AttendanceStatus::Present.index()]
    }

    /// Milliseconds spent live in `status`.
    pub fn ms_in(&self, status: AttendanceStatus) -> u64 {
        self.status_ms[status.index()]
    }

    /// Closes the open interval at `at`, counting it if the session is live.
    pub(crate) fn account(&mut self, at: Millis, live: bool) {
        if live {
            self.status_ms[self.status.index()] += at.since(self.since);
        }
        self.since = self.since.max(at);
    }

    pub(crate) fn connected(&mut self, at: Millis, live_since: Option<Millis>) {
        if self.first_joined_at.is_none() {
            self.first_joined_at = Some(at);
        }
        if self.lateness_ms.is_none() {
            self.lateness_ms = live_since.map(|start| at.since(start));
        }
        self.last_joined_at = Some(at);
        self.grace_expired = false;
        self.refresh_up();
    }

    pub(crate) fn dropped(&mut self, at: Millis) {
        self.disconnects += 1;
        self.last_lost_at = Some(at);
        self.status = AttendanceStatus::Dropped;
    }

    pub(crate) fn left(&mut self, at: Millis) {
        self.last_lost_at = Some(at);
        self.confirmed = false;
        self.status = AttendanceStatus::Left;
    }

    pub(crate) fn grace_expired(&mut self) {
        self.confirmed = false;
        self.grace_expired = true;
    }

    pub(crate) fn set_confirmed(&mut self, confirmed: bool) {
        self.confirmed = confirmed;
        if self.is_up() {
            self.refresh_up();
        }
    }

    /// The meeting went live: an endpoint already linked is on time.
    pub(crate) fn went_live(&mut self, at: Millis) {
        if self.is_up() && self.lateness_ms.is_none() {
            self.lateness_ms = Some(0);
        }
        self.since = at;
    }

    fn refresh_up(&mut self) {
        self.status = if self.confirmed {
            AttendanceStatus::Present
        } else {
            AttendanceStatus::Connected
        };
    }
}
