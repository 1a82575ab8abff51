//! The names an enum goes by off the wire (metrics labels, CSV cells,
//! the terminal) come from `strum`; on the wire from serde. Both derive
//! from the same `snake_case` rule, and this test keeps them from drifting.

use crate::auth::Role;
use crate::control::{
    AttendanceStatus, ContentEnd, Mode, Phase, RecordingEnd, RejectionCode, RollCallEnd,
};
use crate::monitor::{AlertReason, Health, LinkState};
use crate::speaking_log::{PresentationEnd, TurnEnd};
use serde::Serialize;
use strum::VariantArray;

/// Every variant's `strum` name, checked against its serde name.
fn names<T>() -> Vec<&'static str>
where
    T: Copy + Serialize + VariantArray,
    &'static str: From<T>,
{
    T::VARIANTS
        .iter()
        .map(|&v| {
            let name = <&str>::from(v);
            let wire = serde_json::to_value(v).expect("a unit variant serializes");
            assert_eq!(wire.as_str(), Some(name), "{} on the wire", name);
            name
        })
        .collect()
}

#[test]
fn every_enum_is_named_as_on_the_wire() {
    let all = [
        names::<Role>(),
        names::<AttendanceStatus>(),
        names::<RejectionCode>(),
        names::<Phase>(),
        names::<Mode>(),
        names::<ContentEnd>(),
        names::<RollCallEnd>(),
        names::<RecordingEnd>(),
        names::<Health>(),
        names::<AlertReason>(),
        names::<LinkState>(),
        names::<TurnEnd>(),
        names::<PresentationEnd>(),
    ];
    // A spot check that the rule is snake_case, not the variant's own name.
    assert!(all.concat().contains(&"roll_call_not_running"));
    assert!(all.concat().contains(&"time_up"));
}
