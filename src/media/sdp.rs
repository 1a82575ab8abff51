//! What the server's SDP must say for every standard client to use it.
//!
//! The stack writes the server's candidates into the first m-section of a
//! BUNDLE group only. RFC 8843 lets a receiver take them from there, but
//! not every client does: aiortc reads a transport's candidates from the
//! *last* m-section bundled on it, and with `max-bundle`, or as a WHEP
//! viewer with four m-sections, found none and never started ICE. So every
//! m-section that is not rejected carries every candidate, and
//! `a=end-of-candidates` (the server gathers nothing later: ICE-lite with
//! host candidates known at start).

/// `sdp` with the session's candidate lines in every live m-section,
/// each followed by `a=end-of-candidates`.
pub(crate) fn with_candidates_everywhere(sdp: &str) -> String {
    let eol = if sdp.contains("\r\n") { "\r\n" } else { "\n" };
    let lines: Vec<&str> = sdp.lines().collect();
    let mut candidates: Vec<&str> = Vec::new();
    for line in &lines {
        if line.starts_with("a=candidate:") && !candidates.contains(line) {
            candidates.push(line);
        }
    }
    if candidates.is_empty() {
        return sdp.to_string();
    }
    let mut out = String::with_capacity(sdp.len() + candidates.len() * 80 * 4);
    let mut section: Vec<&str> = Vec::new();
    let flush = |section: &mut Vec<&str>, out: &mut String| {
        let Some(first) = section.first() else {
            return;
        };
        // The session part and rejected m-sections (port 0) stay as they are.
        let live = first.starts_with("m=") && first.split_whitespace().nth(1) != Some("0");
        for line in section.iter() {
            let ours = *line == "a=end-of-candidates" || line.starts_with("a=candidate:");
            if !(live && ours) {
                out.push_str(line);
                out.push_str(eol);
            }
        }
        if live {
            for c in &candidates {
                out.push_str(c);
                out.push_str(eol);
            }
            out.push_str("a=end-of-candidates");
            out.push_str(eol);
        }
        section.clear();
    };
    for line in lines {
        if line.starts_with("m=") {
            flush(&mut section, &mut out);
        }
        section.push(line);
    }
    flush(&mut section, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANSWER: &str = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n\
a=group:BUNDLE 0 1 2\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\n\
a=candidate:1 1 udp 2130706431 10.0.0.2 50000 typ host\r\n\
a=candidate:2 1 udp 2130706431 192.0.2.2 50000 typ host\r\n\
a=end-of-candidates\r\n\
m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:1\r\n\
m=video 0 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:2\r\n";

    fn section(sdp: &str, mid: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut inside = false;
        for line in sdp.split("\r\n") {
            if line.starts_with("m=") {
                inside = false;
            }
            if line == format!("a=mid:{mid}") {
                inside = true;
            }
            if inside && (line.starts_with("a=candidate") || line == "a=end-of-candidates") {
                out.push(line.to_string());
            }
        }
        out
    }

    #[test]
    fn every_live_m_section_gets_every_candidate_once_and_the_end() {
        let out = with_candidates_everywhere(ANSWER);
        for mid in ["0", "1"] {
            let lines = section(&out, mid);
            assert_eq!(lines.len(), 3, "mid {mid}: {lines:?}");
            assert!(lines[0].contains("10.0.0.2"));
            assert!(lines[1].contains("192.0.2.2"));
            assert_eq!(lines[2], "a=end-of-candidates");
        }
        assert!(
            section(&out, "2").is_empty(),
            "a rejected m-section stays bare"
        );
        assert!(out.starts_with("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\n"));
        assert!(out.ends_with("\r\n") && !out.contains("\n\n"));
        // Applying it twice changes nothing.
        assert_eq!(with_candidates_everywhere(&out), out);
    }

    #[test]
    fn an_sdp_without_candidates_is_left_alone() {
        let bare = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n";
        assert_eq!(with_candidates_everywhere(bare), bare);
        assert_eq!(with_candidates_everywhere(""), "");
    }
}
