//! The synthetic payload: a marker naming the sender and a counter, after a
//! VP8 payload descriptor and header for video (so the server's keyframe
//! detection sees a real keyframe flag).

const MAGIC: &[u8; 4] = b"DCAU";

/// What a received packet says about where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marker {
    /// The sending peer's name.
    pub from: String,
    /// Its packet counter.
    pub counter: u32,
}

fn marker(from: &str, counter: u32) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    out.push(from.len() as u8);
    out.extend_from_slice(from.as_bytes());
    out.extend_from_slice(&counter.to_be_bytes());
    out
}

/// An Opus-looking payload (the server never looks inside audio).
pub fn audio_payload(from: &str, counter: u32) -> Vec<u8> {
    let mut out = vec![0xFC];
    out.extend(marker(from, counter));
    out
}

/// A VP8 packet that starts a frame: descriptor with S=1 and PID=0, then the
/// frame tag whose lowest bit is 0 on a keyframe, then the marker.
pub fn video_payload(from: &str, counter: u32, keyframe: bool) -> Vec<u8> {
    let mut out = vec![0x10, if keyframe { 0x00 } else { 0x01 }, 0x00, 0x00];
    out.extend_from_slice(&[0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00]);
    out.extend(marker(from, counter));
    out
}

/// Finds the marker in a payload.
pub fn parse_marker(payload: &[u8]) -> Option<Marker> {
    let at = payload.windows(4).position(|w| w == MAGIC)? + 4;
    let len = *payload.get(at)? as usize;
    let from = std::str::from_utf8(payload.get(at + 1..at + 1 + len)?).ok()?;
    let c = payload.get(at + 1 + len..at + 5 + len)?;
    Some(Marker {
        from: from.to_string(),
        counter: u32::from_be_bytes([c[0], c[1], c[2], c[3]]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The marker is found behind either header, and only where it is.
    #[test]
    fn markers_are_found_behind_audio_and_video_headers() {
        let want = Marker {
            from: "30".into(),
            counter: 7,
        };
        assert_eq!(parse_marker(&audio_payload("30", 7)), Some(want.clone()));
        for keyframe in [true, false] {
            let payload = video_payload("30", 7, keyframe);
            assert_eq!(payload[1] & 1 == 0, keyframe, "the VP8 keyframe bit");
            assert_eq!(parse_marker(&payload), Some(want.clone()));
        }
        assert_eq!(parse_marker(b"no marker here"), None);
        let cut = audio_payload("30", 7);
        assert_eq!(parse_marker(&cut[..cut.len() - 1]), None, "a cut counter");
    }
}
