//! The ForwardingPolicy: the one thing the media plane takes from control.
//! It says, for every receiver, whose audio and whose video it gets. The
//! media plane applies it and never decides policy itself, so a client that
//! unmutes itself is still not forwarded.

use super::types::{EndpointCode, Mode};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// What one receiver gets.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reception {
    /// Publishers whose audio is forwarded to this receiver.
    pub audio: BTreeSet<EndpointCode>,
    /// Publishers whose video is forwarded to this receiver.
    pub video: BTreeSet<EndpointCode>,
}

/// Who is heard and seen by whom, derived from the session's state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForwardingPolicy {
    /// The mode the policy was derived under.
    pub mode: Mode,
    /// The publisher of every receiver's `chair` slot (the central endpoint).
    pub chair: Option<EndpointCode>,
    /// The publisher of every receiver's `floor` slot: the latest holder.
    pub floor: Option<EndpointCode>,
    /// Open mode with nobody holding the floor: the media plane puts the
    /// loudest audible endpoint in the `floor` slot.
    pub floor_follows_active_speaker: bool,
    /// Whose audio may leave the server at all (the server-side gate).
    pub audible: BTreeSet<EndpointCode>,
    /// The sites at the head of the floor queue, first first: the likeliest
    /// next speakers. Nothing of theirs is forwarded for it; the media
    /// plane lets them send at the programme's rate ahead of the grant, as
    /// a browser climbs to a higher rate only over several seconds.
    #[serde(default)]
    pub next_speakers: Vec<EndpointCode>,
    /// The presenter whose second video fills every receiver's `content`
    /// slot; set only while the session is live and the token is held.
    #[serde(default)]
    pub content: Option<EndpointCode>,
    /// The programme is being recorded: the session is live and the chair
    /// (or the configuration) turned recording on.
    #[serde(default)]
    pub recording: bool,
    /// Per connected endpoint, what it receives.
    pub receivers: BTreeMap<EndpointCode, Reception>,
}

impl ForwardingPolicy {
    /// What a viewer outside the session gets (WHEP, technicians): the
    /// programme, that is the chair and the floor holder.
    pub fn programme(&self) -> Reception {
        let mut r = Reception::default();
        for code in self.chair.iter().chain(self.floor.iter()) {
            r.video.insert(code.clone());
            if self.audible.contains(code) {
                r.audio.insert(code.clone());
            }
        }
        r
    }

    /// Whether `receiver` may hear `publisher`.
    pub fn may_hear(&self, receiver: &EndpointCode, publisher: &EndpointCode) -> bool {
        self.receivers
            .get(receiver)
            .is_some_and(|r| r.audio.contains(publisher))
    }

    /// Whether `receiver` may see `publisher`.
    pub fn may_see(&self, receiver: &EndpointCode, publisher: &EndpointCode) -> bool {
        self.receivers
            .get(receiver)
            .is_some_and(|r| r.video.contains(publisher))
    }
}
