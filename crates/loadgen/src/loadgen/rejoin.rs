//! `--rejoin`: peers that join again whenever their connection drops, as
//! a site's page does when the server restarts, so that a restart under
//! load can be measured (the report's longest programme gap).
//!
//! A publisher keeps its pacing task and its SSRCs across joins; only the
//! connection under it changes, through [`SwitchOut`]. A viewer keeps its
//! recorder, so its log runs on across the gap.

use crate::error::LoadError;
use crate::payload::Kind;
use crate::peer::TrackOut;
use crate::publisher::MediaOut;
use rtc::rtp;
use std::sync::{Arc, RwLock};

/// A publisher's way out that can be moved to a new connection.
pub struct SwitchOut {
    current: RwLock<Arc<TrackOut>>,
    audio: (u32, u8),
    video: (u32, u8),
}

impl SwitchOut {
    /// Starts on `first`; the streams keep its SSRCs and payload types.
    pub fn new(first: Arc<TrackOut>) -> Arc<SwitchOut> {
        Arc::new(SwitchOut {
            audio: first.ids(Kind::Audio),
            video: first.ids(Kind::Video),
            current: RwLock::new(first),
        })
    }

    /// The SSRCs a new connection must send with.
    pub fn ssrcs(&self) -> (u32, u32) {
        (self.audio.0, self.video.0)
    }

    /// Sends through `next` from now on.
    pub fn replace(&self, next: Arc<TrackOut>) {
        if let Ok(mut current) = self.current.write() {
            *current = next;
        }
    }
}

#[async_trait::async_trait]
impl MediaOut for SwitchOut {
    fn ids(&self, kind: Kind) -> (u32, u8) {
        match kind {
            Kind::Audio => self.audio,
            Kind::Video => self.video,
        }
    }

    async fn send(&self, kind: Kind, packet: rtp::Packet) -> Result<(), LoadError> {
        let out = self
            .current
            .read()
            .map(|c| c.clone())
            .map_err(|_| LoadError::WebRtc("publisher's connection lock poisoned".into()))?;
        out.send(kind, packet).await
    }
}
