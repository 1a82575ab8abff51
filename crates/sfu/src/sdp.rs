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
    // Stray CRs left at a line's end (text that ends in one, or CR CR LF)
    // are not part of the line: written back before the end of line they
    // would make CRLF of LF-only text, and a second pass would differ.
    let lines: Vec<&str> = sdp.lines().map(|l| l.trim_end_matches('\r')).collect();
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

/// The mid of the m-section that carries what a client presents: the
/// second video section in which the client sends (`sendrecv` or
/// `sendonly`), read from the client's own description. Its first is the
/// camera. A browser adds its content line from the start and puts its
/// screen on it only while it presents; a WHIP client simply offers a
/// second video section.
pub(crate) fn content_mid(client_sdp: &str) -> Option<String> {
    let mut sending_video = 0;
    let mut section: Option<(bool, Option<&str>, bool)> = None; // (video, mid, sends)
    let mut check = |section: Option<(bool, Option<&str>, bool)>| -> Option<String> {
        let (video, mid, sends) = section?;
        if video && sends {
            sending_video += 1;
            if sending_video == 2 {
                return mid.map(str::to_string);
            }
        }
        None
    };
    for line in client_sdp.lines() {
        let line = line.trim_end_matches('\r');
        if let Some(media) = line.strip_prefix("m=") {
            if let Some(found) = check(section.take()) {
                return Some(found);
            }
            let rejected = media.split_whitespace().nth(1) == Some("0");
            section = Some((media.starts_with("video ") && !rejected, None, true));
        } else if let Some((_, mid, sends)) = section.as_mut() {
            if let Some(m) = line.strip_prefix("a=mid:") {
                *mid = Some(m.trim());
            } else if line == "a=recvonly" || line == "a=inactive" {
                *sends = false;
            }
        }
    }
    check(section)
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

/// Property-based fuzzing of the SDP transform. Its input is the stack's
/// own SDP, but it must hold for any text at all. The case count is
/// proptest's (256, or `PROPTEST_CASES`; see the README for the long run).
#[cfg(test)]
mod fuzz {
    use super::*;
    use proptest::collection::vec;
    use proptest::prelude::*;

    /// One line of something SDP-shaped: the lines the transform looks at
    /// (m-lines live and rejected, candidates that repeat, the end marker),
    /// lines it must carry through, and junk.
    fn line() -> impl Strategy<Value = String> {
        prop_oneof![
            2 => prop::sample::select(vec![
                "v=0",
                "o=- 1 1 IN IP4 0.0.0.0",
                "s=-",
                "t=0 0",
                "a=group:BUNDLE 0 1 2",
                "c=IN IP4 0.0.0.0",
                "a=end-of-candidates",
                "a=end-of-candidates ",
                "a=candidate:",
                "a=candidate",
                "m=",
                "m=audio",
                "m=video 0",
                "m=video  0 UDP/TLS/RTP/SAVPF 96",
                "m=application 0 UDP/DTLS/SCTP webrtc-datachannel",
                "m=audio 0x UDP/TLS/RTP/SAVPF 111",
                "",
            ]).prop_map(str::to_string),
            3 => (prop::sample::select(vec!["audio", "video", "application", ""]), 0u16..3)
                .prop_map(|(kind, port)| format!("m={kind} {port} UDP/TLS/RTP/SAVPF 96")),
            4 => (0u8..4, 0u8..3).prop_map(|(n, host)| format!(
                "a=candidate:{n} 1 udp 2130706431 192.0.2.{host} 5000{n} typ host"
            )),
            2 => (0u8..4).prop_map(|n| format!("a=mid:{n}")),
            2 => "[ -~]{0,24}",
            1 => "[^\r\n]{0,12}",
        ]
    }

    /// Lines joined CRLF, LF or mixed, with or without a final end of line.
    fn sdp_text() -> impl Strategy<Value = String> {
        (vec(line(), 0..24), 0u8..3, any::<bool>(), any::<u64>()).prop_map(
            |(lines, style, last_eol, mix)| {
                let mut out = String::new();
                for (i, l) in lines.iter().enumerate() {
                    out.push_str(l);
                    let crlf = match style {
                        0 => true,
                        1 => false,
                        _ => mix >> (i % 64) & 1 == 1,
                    };
                    if i + 1 < lines.len() || last_eol {
                        out.push_str(if crlf { "\r\n" } else { "\n" });
                    }
                }
                out
            },
        )
    }

    /// Text with stray carriage returns and control characters as well.
    fn any_text() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            vec(
                prop_oneof![line(), Just("\r".to_string()), Just("\n".to_string())],
                0..24
            )
            .prop_map(|parts| parts.concat()),
        ]
    }

    fn ours(line: &str) -> bool {
        line.starts_with("a=candidate:") || line == "a=end-of-candidates"
    }

    /// Candidate lines in the order they first appear, once each.
    fn candidates(sdp: &str) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for l in sdp.lines().filter(|l| l.starts_with("a=candidate:")) {
            if !out.contains(&l) {
                out.push(l);
            }
        }
        out
    }

    /// The session part, then each m-section, as lines.
    fn sections(sdp: &str) -> Vec<Vec<&str>> {
        let mut out = vec![Vec::new()];
        for l in sdp.lines() {
            if l.starts_with("m=") {
                out.push(Vec::new());
            }
            out.last_mut().unwrap().push(l);
        }
        out
    }

    fn is_live(section: &[&str]) -> bool {
        section
            .first()
            .is_some_and(|m| m.starts_with("m=") && m.split_whitespace().nth(1) != Some("0"))
    }

    /// The contract, checked line by line against the input.
    fn check_contract(input: &str) -> Result<(), TestCaseError> {
        let out = with_candidates_everywhere(input);
        let wanted = candidates(input);
        if wanted.is_empty() {
            prop_assert_eq!(&out, input);
            return Ok(());
        }
        // Every line the transform does not own stays, in order.
        let kept_in: Vec<&str> = input.lines().filter(|l| !ours(l)).collect();
        let kept_out: Vec<&str> = out.lines().filter(|l| !ours(l)).collect();
        prop_assert_eq!(kept_in, kept_out);
        // Every live m-section ends with every candidate once and the
        // marker; everything else is as it was.
        let (before, after) = (sections(input), sections(&out));
        prop_assert_eq!(before.len(), after.len());
        for (b, a) in before.iter().zip(&after) {
            if is_live(b) {
                let own: Vec<&str> = a.iter().copied().filter(|l| ours(l)).collect();
                let mut expected = wanted.clone();
                expected.push("a=end-of-candidates");
                prop_assert_eq!(&own, &expected);
                prop_assert_eq!(&a[a.len() - own.len()..], &own[..]);
            } else {
                prop_assert_eq!(b, a);
            }
        }
        // One end-of-line style, and a complete last line.
        let eol = if input.contains("\r\n") { "\r\n" } else { "\n" };
        prop_assert!(out.ends_with(eol), "{:?}", out);
        if eol == "\r\n" {
            prop_assert_eq!(out.matches('\n').count(), out.matches("\r\n").count());
        }
        Ok(())
    }

    proptest! {
        /// Any text at all: an answer, no panic.
        #[test]
        fn sdp_transform_takes_any_text(text in any_text()) {
            let once = with_candidates_everywhere(&text);
            let _ = with_candidates_everywhere(&once);
            let _ = content_mid(&text);
        }

        /// A content mid, when found, is a mid the text names.
        #[test]
        fn a_content_mid_is_one_of_the_offer(text in sdp_text()) {
            if let Some(mid) = content_mid(&text) {
                let named = |l: &str| {
                    l.trim_end_matches('\r')
                        .strip_prefix("a=mid:")
                        .is_some_and(|m| m.trim() == mid)
                };
                prop_assert!(text.lines().any(named));
            }
        }

        /// SDP-shaped text: the contract holds, and applying the
        /// transform again changes nothing.
        #[test]
        fn sdp_transform_keeps_its_contract(text in sdp_text()) {
            check_contract(&text)?;
            let once = with_candidates_everywhere(&text);
            prop_assert_eq!(with_candidates_everywhere(&once), once);
        }

        /// The same, on text with stray carriage returns and any
        /// characters.
        #[test]
        fn sdp_transform_is_idempotent_on_any_text(text in any_text()) {
            let once = with_candidates_everywhere(&text);
            prop_assert_eq!(with_candidates_everywhere(&once), once);
        }
    }

    /// The content line is the client's second sending video section,
    /// whatever lines of other kinds or directions come between.
    #[test]
    fn the_second_sending_video_section_is_the_content() {
        let page = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=sendrecv\r\n\
            m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:1\r\na=recvonly\r\n\
            m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:2\r\na=sendrecv\r\n\
            m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:3\r\na=recvonly\r\n\
            m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:4\r\na=sendrecv\r\n";
        assert_eq!(content_mid(page).as_deref(), Some("4"));
        let whip = "v=0\nm=audio 9 UDP/TLS/RTP/SAVPF 111\na=mid:a\na=sendonly\n\
            m=video 9 UDP/TLS/RTP/SAVPF 96\na=mid:cam\na=sendonly\n\
            m=video 9 UDP/TLS/RTP/SAVPF 96\na=mid:slides\na=sendonly\n";
        assert_eq!(content_mid(whip).as_deref(), Some("slides"));
        let camera_only = "v=0\nm=video 9 UDP/TLS/RTP/SAVPF 96\na=mid:0\na=sendonly\n\
            m=video 0 UDP/TLS/RTP/SAVPF 96\na=mid:1\na=sendonly\n\
            m=video 9 UDP/TLS/RTP/SAVPF 96\na=mid:2\na=inactive\n";
        assert_eq!(content_mid(camera_only), None);
        assert_eq!(content_mid("garbage\nm=\na=mid:\n"), None);
    }
}
