//! Active-speaker detection for open mode, from RFC 6464 audio levels.
//!
//! Levels are averaged over a window (one stats tick) and the floor slot
//! moves only to someone clearly louder than the current speaker, so a
//! cough does not flip every screen in the country.

use diemcau_control::EndpointCode;
use std::collections::{BTreeSet, HashMap};

/// Average loudness (127 − dBov) below which nobody is speaking.
const SPEECH_THRESHOLD: f64 = 127.0 - 55.0;
/// How much louder a challenger must be to take the slot.
const HYSTERESIS: f64 = 6.0;

#[derive(Debug, Default)]
pub(crate) struct ActiveSpeaker {
    window: HashMap<EndpointCode, (u64, u32)>,
    current: Option<EndpointCode>,
}

impl ActiveSpeaker {
    pub(crate) fn current(&self) -> Option<&EndpointCode> {
        self.current.as_ref()
    }

    /// One audio packet's level extension payload (first byte: V bit and
    /// level in −dBov, 0 the loudest).
    pub(crate) fn on_level(&mut self, who: &EndpointCode, ext: &[u8]) {
        let Some(&b) = ext.first() else {
            return;
        };
        let loudness = 127 - u64::from(b & 0x7F);
        let entry = self.window.entry(who.clone()).or_insert((0, 0));
        entry.0 += loudness;
        entry.1 += 1;
    }

    /// Closes the window; returns whether the speaker changed.
    pub(crate) fn decide(&mut self, audible: &BTreeSet<EndpointCode>) -> bool {
        let averages: Vec<(EndpointCode, f64)> = self
            .window
            .drain()
            .filter(|(who, (_, n))| *n > 0 && audible.contains(who))
            .map(|(who, (sum, n))| (who, sum as f64 / f64::from(n)))
            .collect();
        let loudest = averages
            .iter()
            .filter(|(_, avg)| *avg >= SPEECH_THRESHOLD)
            .max_by(|a, b| a.1.total_cmp(&b.1));
        let Some((who, avg)) = loudest else {
            return false;
        };
        if self.current.as_ref() == Some(who) {
            return false;
        }
        let current_avg = self
            .current
            .as_ref()
            .and_then(|c| averages.iter().find(|(w, _)| w == c).map(|(_, a)| *a));
        let still_audible = self.current.as_ref().is_some_and(|c| audible.contains(c));
        if still_audible && current_avg.is_some_and(|c| *avg < c + HYSTERESIS) {
            return false;
        }
        self.current = Some(who.clone());
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clearly_louder_audible_endpoint_takes_the_slot() {
        let (a, b) = (EndpointCode::from("30"), EndpointCode::from("31"));
        let audible: BTreeSet<_> = [a.clone(), b.clone()].into();
        let mut s = ActiveSpeaker::default();
        s.on_level(&a, &[20]);
        s.on_level(&b, &[90]);
        assert!(s.decide(&audible));
        assert_eq!(s.current(), Some(&a));
        // Slightly louder is not enough.
        s.on_level(&a, &[22]);
        s.on_level(&b, &[20]);
        assert!(!s.decide(&audible));
        // Not audible: ignored whatever its level.
        let only_a: BTreeSet<_> = [a.clone()].into();
        s.on_level(&b, &[0]);
        assert!(!s.decide(&only_a));
    }
}
