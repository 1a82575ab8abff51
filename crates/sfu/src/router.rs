//! Which publisher feeds which outgoing leg: the policy, applied.
//!
//! Pure functions of the policy, so the gate can be tested without a
//! network. The media plane never widens what the policy allows: a leg with
//! no allowed source stays silent, whatever the client does.

use super::PeerKind;
use diemcau_control::{EndpointCode, ForwardingPolicy};

/// Audio or video.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum MediaKind {
    Audio,
    Video,
}

/// What a publisher sends on one of its tracks. Routes are keyed by it:
/// a presenter's slides and its camera are both video, but go to
/// different slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Feed {
    /// Its microphone.
    Audio,
    /// Its camera: the first video it sends.
    Camera,
    /// What it presents (a screen or a window): its second video.
    Content,
}

/// The role of an outgoing leg.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum SlotKind {
    /// Carries the chair (the central endpoint).
    Chair,
    /// Carries the floor holder, or the active speaker in open mode.
    Floor,
    /// Carries what the presenter shows (video only).
    Content,
    /// The tile of one endpoint, on the chair's and technicians' connections.
    Tile(EndpointCode),
}

impl SlotKind {
    /// The feed a leg of this slot and `kind` takes from its source.
    pub(crate) fn feed(&self, kind: MediaKind) -> Feed {
        match (self, kind) {
            (SlotKind::Content, _) => Feed::Content,
            (_, MediaKind::Audio) => Feed::Audio,
            (_, MediaKind::Video) => Feed::Camera,
        }
    }

    /// The media kinds the slot carries: a presentation has no voice of
    /// its own (the presenter is heard on the floor slot).
    pub(crate) fn kinds(&self) -> &'static [MediaKind] {
        match self {
            SlotKind::Content => &[MediaKind::Video],
            _ => &[MediaKind::Audio, MediaKind::Video],
        }
    }
}

/// The publisher whose `kind` media `receiver` gets on `slot`, if any.
/// `active_speaker` is the loudest audible endpoint, used only when the
/// policy says the floor follows it.
pub(crate) fn source_for(
    policy: &ForwardingPolicy,
    active_speaker: Option<&EndpointCode>,
    receiver: &PeerKind,
    slot: &SlotKind,
    kind: MediaKind,
) -> Option<EndpointCode> {
    if *slot == SlotKind::Content {
        return content_for(policy, receiver, kind);
    }
    let follows_speaker =
        *slot == SlotKind::Floor && policy.floor.is_none() && policy.floor_follows_active_speaker;
    let candidate = match slot {
        SlotKind::Content => None,
        SlotKind::Chair => policy.chair.clone(),
        SlotKind::Floor if follows_speaker => active_speaker.cloned(),
        SlotKind::Floor => policy.floor.clone(),
        SlotKind::Tile(code) => Some(code.clone()),
    }?;
    // In open mode the policy lets everyone be heard; the floor slot shows
    // the speaker's picture too, but only of someone the policy lets be heard.
    let speaker_video = follows_speaker && policy.audible.contains(&candidate);
    let allowed = match receiver {
        PeerKind::Participant(me) => {
            if *me == candidate {
                return None;
            }
            match kind {
                MediaKind::Audio => policy.may_hear(me, &candidate),
                MediaKind::Video => policy.may_see(me, &candidate) || speaker_video,
            }
        }
        // A technician's tiles show what the chair's grid shows. They are
        // drawn from the sets the chair's reception is made of (connected
        // sites, `audible`) rather than from the chair's entry, which exists
        // only while the chair is connected: technicians check the links in
        // the open phase, before the chair has joined.
        PeerKind::Technician if matches!(slot, SlotKind::Tile(_)) => match kind {
            MediaKind::Audio => {
                policy.audible.contains(&candidate) && policy.chair.as_ref() != Some(&candidate)
            }
            MediaKind::Video => policy.receivers.contains_key(&candidate),
        },
        PeerKind::Viewer | PeerKind::Technician => {
            if matches!(slot, SlotKind::Tile(_)) {
                return None;
            }
            let programme = policy.programme();
            match kind {
                MediaKind::Audio => {
                    programme.audio.contains(&candidate)
                        || (follows_speaker && policy.audible.contains(&candidate))
                }
                MediaKind::Video => programme.video.contains(&candidate) || speaker_video,
            }
        }
    };
    allowed.then_some(candidate)
}

/// The presenter, for every receiver of the session but the presenter
/// itself: sites connected to the session, the chair, viewers and
/// technicians alike.
fn content_for(
    policy: &ForwardingPolicy,
    receiver: &PeerKind,
    kind: MediaKind,
) -> Option<EndpointCode> {
    let presenter = policy.content.clone()?;
    let allowed = kind == MediaKind::Video
        && match receiver {
            PeerKind::Participant(me) => *me != presenter && policy.receivers.contains_key(me),
            PeerKind::Viewer | PeerKind::Technician => true,
        };
    allowed.then_some(presenter)
}

#[cfg(test)]
mod tests {
    use super::*;
    use diemcau_control::{Mode, Reception};

    fn code(s: &str) -> EndpointCode {
        EndpointCode::from(s)
    }

    /// Chair `01`, endpoints `30`, `31`; `30` holds the floor in chaired mode.
    fn chaired() -> ForwardingPolicy {
        let mut p = ForwardingPolicy {
            mode: Mode::Chaired,
            chair: Some(code("01")),
            floor: Some(code("30")),
            ..Default::default()
        };
        p.audible.extend([code("01"), code("30")]);
        let programme = p.programme();
        for r in ["30", "31"] {
            let mut rec = programme.clone();
            rec.audio.remove(&code(r));
            rec.video.remove(&code(r));
            p.receivers.insert(code(r), rec);
        }
        p.receivers.insert(
            code("01"),
            Reception {
                audio: [code("30")].into(),
                video: [code("30"), code("31")].into(),
            },
        );
        p
    }

    #[test]
    fn endpoints_get_chair_and_floor_holder() {
        let p = chaired();
        let r = PeerKind::Participant(code("31"));
        let chair = source_for(&p, None, &r, &SlotKind::Chair, MediaKind::Audio);
        assert_eq!(chair, Some(code("01")));
        let floor = source_for(&p, None, &r, &SlotKind::Floor, MediaKind::Video);
        assert_eq!(floor, Some(code("30")));
        // The holder does not get itself back.
        let holder = PeerKind::Participant(code("30"));
        assert_eq!(
            source_for(&p, None, &holder, &SlotKind::Floor, MediaKind::Audio),
            None
        );
    }

    #[test]
    fn tiles_carry_video_but_audio_only_where_allowed() {
        let p = chaired();
        let chair = PeerKind::Participant(code("01"));
        let tile31 = SlotKind::Tile(code("31"));
        assert_eq!(
            source_for(&p, None, &chair, &tile31, MediaKind::Video),
            Some(code("31"))
        );
        assert_eq!(
            source_for(&p, None, &chair, &tile31, MediaKind::Audio),
            None
        );
        let tile30 = SlotKind::Tile(code("30"));
        assert_eq!(
            source_for(&p, None, &chair, &tile30, MediaKind::Audio),
            Some(code("30"))
        );
    }

    #[test]
    fn a_receiver_outside_the_policy_gets_nothing() {
        let p = chaired();
        let stranger = PeerKind::Participant(code("99"));
        assert_eq!(
            source_for(&p, None, &stranger, &SlotKind::Chair, MediaKind::Audio),
            None
        );
        assert_eq!(
            source_for(&p, None, &stranger, &SlotKind::Floor, MediaKind::Video),
            None
        );
    }

    #[test]
    fn viewers_get_the_programme() {
        let p = chaired();
        let v = PeerKind::Viewer;
        assert_eq!(
            source_for(&p, None, &v, &SlotKind::Floor, MediaKind::Audio),
            Some(code("30"))
        );
        assert_eq!(
            source_for(&p, None, &v, &SlotKind::Tile(code("31")), MediaKind::Video),
            None
        );
    }

    /// A technician sees every connected site's tile and hears on it only
    /// what the chair may hear; its `chair` and `floor` slots carry the
    /// programme, as a viewer's do.
    #[test]
    fn technicians_get_what_the_chair_gets() {
        let mut p = chaired();
        let t = PeerKind::Technician;
        let tile30 = SlotKind::Tile(code("30"));
        let tile31 = SlotKind::Tile(code("31"));
        for tile in [&tile30, &tile31] {
            let SlotKind::Tile(site) = tile else {
                unreachable!("a tile")
            };
            assert_eq!(
                source_for(&p, None, &t, tile, MediaKind::Video),
                Some(site.clone())
            );
            let chair = PeerKind::Participant(code("01"));
            assert_eq!(
                source_for(&p, None, &t, tile, MediaKind::Audio),
                source_for(&p, None, &chair, tile, MediaKind::Audio),
            );
        }
        assert_eq!(
            source_for(&p, None, &t, &tile30, MediaKind::Audio),
            Some(code("30"))
        );
        assert_eq!(source_for(&p, None, &t, &tile31, MediaKind::Audio), None);
        assert_eq!(
            source_for(&p, None, &t, &SlotKind::Chair, MediaKind::Audio),
            Some(code("01"))
        );
        assert_eq!(
            source_for(&p, None, &t, &SlotKind::Floor, MediaKind::Video),
            Some(code("30"))
        );
        // A site that is not connected has no picture to show.
        let absent = SlotKind::Tile(code("99"));
        assert_eq!(source_for(&p, None, &t, &absent, MediaKind::Video), None);
        // Before the chair joins, the technician still sees the sites.
        p.receivers.remove(&code("01"));
        assert_eq!(
            source_for(&p, None, &t, &tile31, MediaKind::Video),
            Some(code("31"))
        );
        assert_eq!(source_for(&p, None, &t, &tile31, MediaKind::Audio), None);
    }

    #[test]
    fn open_mode_floor_follows_an_audible_speaker_only() {
        let mut p = chaired();
        p.mode = Mode::Open;
        p.floor = None;
        p.floor_follows_active_speaker = true;
        p.audible.insert(code("31"));
        p.receivers
            .entry(code("30"))
            .or_default()
            .audio
            .insert(code("31"));
        let r = PeerKind::Participant(code("30"));
        let speaker = code("31");
        let got = source_for(&p, Some(&speaker), &r, &SlotKind::Floor, MediaKind::Video);
        assert_eq!(got, Some(code("31")));
        let mute = code("77");
        assert_eq!(
            source_for(&p, Some(&mute), &r, &SlotKind::Floor, MediaKind::Video),
            None
        );
    }

    /// The policy of a real session, chaired mode, `30` holding the floor
    /// and muted by the chair: every leg that would carry its audio stays
    /// silent, every leg that carries its picture still does.
    #[test]
    fn a_muted_floor_holder_feeds_video_legs_only() {
        use diemcau_control::{
            Command, EndpointInfo, EndpointRole, GrantTarget, Millis, Rules, Session, SessionId,
            SessionSpec,
        };
        let endpoints = [
            ("01", EndpointRole::Central),
            ("30", EndpointRole::Provincial),
            ("31", EndpointRole::Provincial),
        ]
        .into_iter()
        .map(|(c, role)| EndpointInfo {
            code: code(c),
            name: c.into(),
            role,
        })
        .collect();
        let spec = SessionSpec {
            id: SessionId("s".into()),
            title: "t".into(),
            endpoints,
            rules: Rules::default(),
        };
        let now = Millis(1);
        let (mut s, _) = Session::create(spec, now).expect("create");
        let connect = |c: &str| Command::Connect { endpoint: code(c) };
        for c in [
            Command::Open,
            connect("01"),
            connect("30"),
            connect("31"),
            Command::Start,
            Command::GrantFloor {
                target: GrantTarget::Endpoint(code("30")),
            },
            Command::SetMuted {
                endpoint: code("30"),
                muted: true,
            },
        ] {
            s.apply(c, now).expect("apply");
        }
        let p = s.policy();
        let province = PeerKind::Participant(code("31"));
        let chair = PeerKind::Participant(code("01"));
        let floor = SlotKind::Floor;
        let tile = SlotKind::Tile(code("30"));
        for (who, slot) in [
            (&province, &floor),
            (&chair, &tile),
            (&PeerKind::Viewer, &floor),
            (&PeerKind::Technician, &tile),
            (&PeerKind::Technician, &floor),
        ] {
            assert_eq!(source_for(&p, None, who, slot, MediaKind::Audio), None);
            assert_eq!(
                source_for(&p, None, who, slot, MediaKind::Video),
                Some(code("30"))
            );
        }
        // The chair's own audio is untouched.
        assert_eq!(
            source_for(&p, None, &province, &SlotKind::Chair, MediaKind::Audio),
            Some(code("01"))
        );
    }

    /// The presenter's content reaches every other site, the chair,
    /// viewers and technicians, on the content slot only and as video
    /// only; it never comes back to the presenter, and nothing is on the
    /// slot while nobody presents.
    #[test]
    fn content_goes_to_everyone_but_the_presenter() {
        let mut p = chaired();
        let content = SlotKind::Content;
        let province = PeerKind::Participant(code("31"));
        assert_eq!(
            source_for(&p, None, &province, &content, MediaKind::Video),
            None
        );
        p.content = Some(code("30"));
        for who in [
            &province,
            &PeerKind::Participant(code("01")),
            &PeerKind::Viewer,
            &PeerKind::Technician,
        ] {
            assert_eq!(
                source_for(&p, None, who, &content, MediaKind::Video),
                Some(code("30"))
            );
            assert_eq!(source_for(&p, None, who, &content, MediaKind::Audio), None);
        }
        let presenter = PeerKind::Participant(code("30"));
        assert_eq!(
            source_for(&p, None, &presenter, &content, MediaKind::Video),
            None
        );
        let stranger = PeerKind::Participant(code("99"));
        assert_eq!(
            source_for(&p, None, &stranger, &content, MediaKind::Video),
            None
        );
        assert_eq!(content.feed(MediaKind::Video), Feed::Content);
        assert_eq!(SlotKind::Floor.feed(MediaKind::Video), Feed::Camera);
    }
}
