//! The client's report: the summary of `getStats()` that every page sends
//! over `/ws` every 2 s (`{"type":"stats","stats":{…}}`), and what the
//! monitor takes from it.
//!
//! Everything here comes from a client, so it is checked before it is kept:
//! numbers must be finite, not negative (except the one counter `getStats`
//! itself lets go negative) and within what a real link can show; lists and
//! strings are bounded. A report that fails is refused whole, so a console
//! never charts half of a bad one.

use serde::Deserialize;

/// Most streams one report may list in each direction: the chair receives
/// a tile per endpoint (64) plus its two slots, with room to spare.
pub const MAX_STREAMS: usize = 256;

/// Longest text field (kinds, slots, mids, endpoint codes, candidate types).
const MAX_TEXT: usize = 64;

/// Highest believable figures; anything above is a broken or hostile client.
const MAX_BITRATE_BPS: f64 = 10e9;
const MAX_MS: f64 = 600_000.0;
const MAX_FPS: f64 = 1000.0;
const MAX_PIXELS: u32 = 16_384;

/// The page's summary, as it sends it.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClientStats {
    /// Round-trip time of the selected candidate pair, ms.
    pub rtt_ms: Option<f64>,
    /// Type of the client's own candidate on the selected pair.
    pub candidate_type: Option<String>,
    /// Bits per second the client receives, all streams.
    pub bitrate_in: Option<f64>,
    /// Bits per second the client sends, all streams.
    pub bitrate_out: Option<f64>,
    /// Fraction (0–1) of packets lost on what the client receives.
    pub loss: Option<f64>,
    /// What the client receives, per stream.
    pub inbound: Vec<InboundStream>,
    /// What the client sends, per stream.
    pub outbound: Vec<OutboundStream>,
}

/// One stream the client receives.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InboundStream {
    /// `audio` or `video`.
    pub kind: String,
    /// The transceiver's mid.
    pub mid: Option<String>,
    /// The server's slot (`chair`, `floor`, `tile`).
    pub slot: Option<String>,
    /// The endpoint a tile shows.
    pub endpoint: Option<String>,
    /// Bytes received so far.
    pub bytes: Option<u64>,
    /// Bits per second.
    pub bitrate: Option<f64>,
    /// Packets lost so far; `getStats` counts duplicates against it, so it
    /// can be negative.
    pub packets_lost: Option<i64>,
    /// Packets received so far.
    pub packets: Option<u64>,
    /// Interarrival jitter, ms.
    pub jitter_ms: Option<f64>,
    /// Average jitter buffer delay, ms.
    pub jitter_buffer_ms: Option<f64>,
    /// Decoded frames per second (video).
    pub frames_per_second: Option<f64>,
    /// Frame width (video).
    pub width: Option<u32>,
    /// Frame height (video).
    pub height: Option<u32>,
    /// Frames decoded so far (video).
    pub frames_decoded: Option<u64>,
    /// Audio samples concealed so far (audio).
    pub concealed_samples: Option<u64>,
    /// Audio samples received so far (audio).
    pub total_samples: Option<u64>,
}

/// One stream the client sends.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutboundStream {
    /// `audio` or `video`.
    pub kind: String,
    /// The transceiver's mid.
    pub mid: Option<String>,
    /// Bytes sent so far.
    pub bytes: Option<u64>,
    /// Bits per second.
    pub bitrate: Option<f64>,
    /// Encoded frames per second (video).
    pub frames_per_second: Option<f64>,
    /// Frame width (video).
    pub width: Option<u32>,
    /// Frame height (video).
    pub height: Option<u32>,
}

/// What the monitor takes from a report for a [`super::LinkSample`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClientFigures {
    /// The client's RTT, used when the server has none from RTCP.
    pub rtt_ms: Option<f64>,
    /// The client's candidate type, used when the server has none.
    pub candidate_type: Option<String>,
    /// Best frame rate among the video it receives.
    pub frame_rate: Option<f64>,
    /// Largest video it receives.
    pub resolution: Option<(u32, u32)>,
    /// Jitter buffer delay of its audio (of its video when it has no audio).
    pub jitter_buffer_ms: Option<f64>,
    /// Share of audio concealed since the previous report, percent.
    pub concealed_audio_pct: Option<f64>,
    /// The audio sample counters, to difference against the next report.
    pub audio_samples: Option<(u64, u64)>,
}

fn check_number(name: &str, value: Option<f64>, max: f64) -> Result<(), String> {
    match value {
        Some(v) if !(0.0..=max).contains(&v) => Err(format!(
            "stats: `{name}` must be between 0 and {max}, not {v}"
        )),
        _ => Ok(()),
    }
}

fn check_text(name: &str, value: Option<&str>) -> Result<(), String> {
    match value {
        Some(v) if v.len() > MAX_TEXT || v.chars().any(char::is_control) => Err(format!(
            "stats: `{name}` must be printable and at most {MAX_TEXT} bytes"
        )),
        _ => Ok(()),
    }
}

fn check_kind(kind: &str) -> Result<(), String> {
    match kind {
        "audio" | "video" => Ok(()),
        other => Err(format!(
            "stats: a stream's `kind` must be audio or video, not {:?}",
            other.chars().take(MAX_TEXT).collect::<String>()
        )),
    }
}

fn check_size(width: Option<u32>, height: Option<u32>) -> Result<(), String> {
    if [width, height].iter().flatten().any(|v| *v > MAX_PIXELS) {
        return Err(format!(
            "stats: frame width and height must be at most {MAX_PIXELS}"
        ));
    }
    Ok(())
}

impl ClientStats {
    /// Checks every figure; the message names the first bad one.
    pub fn validate(&self) -> Result<(), String> {
        check_number("rtt_ms", self.rtt_ms, MAX_MS)?;
        check_number("bitrate_in", self.bitrate_in, MAX_BITRATE_BPS)?;
        check_number("bitrate_out", self.bitrate_out, MAX_BITRATE_BPS)?;
        check_number("loss", self.loss, 1.0)?;
        check_text("candidate_type", self.candidate_type.as_deref())?;
        if self.inbound.len() > MAX_STREAMS || self.outbound.len() > MAX_STREAMS {
            return Err(format!(
                "stats: at most {MAX_STREAMS} streams in each direction"
            ));
        }
        for s in &self.inbound {
            check_kind(&s.kind)?;
            check_text("mid", s.mid.as_deref())?;
            check_text("slot", s.slot.as_deref())?;
            check_text("endpoint", s.endpoint.as_deref())?;
            check_number("bitrate", s.bitrate, MAX_BITRATE_BPS)?;
            check_number("jitter_ms", s.jitter_ms, MAX_MS)?;
            check_number("jitter_buffer_ms", s.jitter_buffer_ms, MAX_MS)?;
            check_number("frames_per_second", s.frames_per_second, MAX_FPS)?;
            check_size(s.width, s.height)?;
            if let (Some(c), Some(t)) = (s.concealed_samples, s.total_samples) {
                if c > t {
                    return Err(
                        "stats: `concealed_samples` cannot exceed `total_samples`".to_string()
                    );
                }
            }
        }
        for s in &self.outbound {
            check_kind(&s.kind)?;
            check_text("mid", s.mid.as_deref())?;
            check_number("bitrate", s.bitrate, MAX_BITRATE_BPS)?;
            check_number("frames_per_second", s.frames_per_second, MAX_FPS)?;
            check_size(s.width, s.height)?;
        }
        Ok(())
    }

    /// The figures for the monitor. `previous` is the audio sample
    /// counters of this link's previous report: concealment is a share of
    /// what was played since then, not since the call began (a glitch an
    /// hour ago should not colour every sample after it).
    pub fn figures(&self, previous: Option<(u64, u64)>) -> ClientFigures {
        let video = || self.inbound.iter().filter(|s| s.kind == "video");
        let audio = || self.inbound.iter().filter(|s| s.kind == "audio");
        let frame_rate = video()
            .filter_map(|s| s.frames_per_second)
            .fold(None, |best: Option<f64>, v| {
                Some(best.map_or(v, |b| b.max(v)))
            });
        let resolution = video()
            .filter_map(|s| Some((s.width?, s.height?)))
            .filter(|(w, h)| *w > 0 && *h > 0)
            .max_by_key(|(w, h)| u64::from(*w) * u64::from(*h));
        let max_of = |it: &mut dyn Iterator<Item = f64>| {
            it.fold(None, |best: Option<f64>, v| {
                Some(best.map_or(v, |b| b.max(v)))
            })
        };
        let jitter_buffer_ms = max_of(&mut audio().filter_map(|s| s.jitter_buffer_ms))
            .or_else(|| max_of(&mut video().filter_map(|s| s.jitter_buffer_ms)));
        let counted: Vec<(u64, u64)> = audio()
            .filter_map(|s| Some((s.concealed_samples?, s.total_samples?)))
            .collect();
        let audio_samples = (!counted.is_empty()).then(|| {
            counted.iter().fold((0u64, 0u64), |(c, t), (dc, dt)| {
                (c.saturating_add(*dc), t.saturating_add(*dt))
            })
        });
        let concealed_audio_pct = audio_samples.and_then(|(concealed, total)| {
            // Counters that went down belong to a new connection, and a
            // step with more concealed than played cannot follow from the
            // one before (another track, a client's odd counts): count
            // from zero again, where each report keeps concealed ≤ total.
            let (c0, t0) = previous
                .filter(|(pc, pt)| *pc <= concealed && *pt <= total)
                .filter(|(pc, pt)| concealed - pc <= total - pt)
                .unwrap_or((0, 0));
            let (dc, dt) = (concealed - c0, total - t0);
            (dt > 0).then(|| dc as f64 * 100.0 / dt as f64)
        });
        ClientFigures {
            rtt_ms: self.rtt_ms,
            candidate_type: self.candidate_type.clone(),
            frame_rate,
            resolution,
            jitter_buffer_ms,
            concealed_audio_pct,
            audio_samples,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page_report() -> serde_json::Value {
        serde_json::json!({
            "rtt_ms": 24, "candidate_type": "host", "bitrate_in": 1_200_000,
            "bitrate_out": 800_000, "loss": 0.01,
            "inbound": [
                {"kind": "audio", "mid": "0", "slot": "chair", "endpoint": null, "bytes": 1000,
                 "bitrate": 32000, "packets_lost": -1, "packets": 50, "jitter_ms": 3,
                 "jitter_buffer_ms": 40, "frames_per_second": null, "width": null, "height": null,
                 "frames_decoded": null, "concealed_samples": 480, "total_samples": 48000},
                {"kind": "video", "mid": "1", "slot": "chair", "endpoint": null, "bytes": 9000,
                 "bitrate": 900000, "packets_lost": 2, "packets": 300, "jitter_ms": 5,
                 "jitter_buffer_ms": 80, "frames_per_second": 25, "width": 1280, "height": 720,
                 "frames_decoded": 1000, "concealed_samples": null, "total_samples": null},
                {"kind": "video", "mid": "3", "slot": "tile", "endpoint": "30",
                 "frames_per_second": 30, "width": 320, "height": 180}
            ],
            "outbound": [
                {"kind": "video", "mid": "1", "bytes": 1, "bitrate": 500000,
                 "frames_per_second": 30, "width": 640, "height": 360}
            ]
        })
    }

    fn parse(v: serde_json::Value) -> Result<ClientStats, String> {
        let stats: ClientStats = serde_json::from_value(v).map_err(|e| e.to_string())?;
        stats.validate().map(|()| stats)
    }

    #[test]
    fn the_pages_report_is_accepted_and_summarised() {
        let stats = parse(page_report()).expect("the page's own shape");
        let f = stats.figures(None);
        assert_eq!(f.rtt_ms, Some(24.0));
        assert_eq!(f.frame_rate, Some(30.0));
        assert_eq!(f.resolution, Some((1280, 720)));
        assert_eq!(f.jitter_buffer_ms, Some(40.0));
        assert_eq!(f.concealed_audio_pct, Some(1.0));
        assert_eq!(f.audio_samples, Some((480, 48000)));
    }

    #[test]
    fn concealment_counts_since_the_previous_report() {
        let stats = parse(page_report()).expect("valid");
        let f = stats.figures(Some((480, 24000)));
        assert_eq!(f.concealed_audio_pct, Some(0.0));
        // Counters that went backwards (a new connection) count from zero.
        let f = stats.figures(Some((1000, 96000)));
        assert_eq!(f.concealed_audio_pct, Some(1.0));
        // Two valid reports whose step conceals more than it plays (480
        // more concealed, 100 more played) cannot be a share of that step:
        // counted from zero, never above 100 %.
        let f = stats.figures(Some((0, 47900)));
        assert_eq!(f.concealed_audio_pct, Some(1.0));
    }

    #[test]
    fn an_empty_report_is_valid_and_says_nothing() {
        let stats = parse(serde_json::json!({})).expect("valid");
        assert_eq!(stats.figures(None), ClientFigures::default());
    }

    #[test]
    fn garbage_is_refused() {
        let cases = [
            serde_json::json!({"rtt_ms": -5}),
            serde_json::json!({"rtt_ms": 1e12}),
            serde_json::json!({"loss": 1.5}),
            serde_json::json!({"rtt_ms": "fast"}),
            serde_json::json!({"colour": "blue"}),
            serde_json::json!({"inbound": [{"kind": "smell"}]}),
            serde_json::json!({"inbound": [{"kind": "video", "width": 100000}]}),
            serde_json::json!({"inbound": [{"kind": "audio", "concealed_samples": 5, "total_samples": 1}]}),
            serde_json::json!({"inbound": [{"kind": "video", "frames_per_second": -1}]}),
            serde_json::json!({"candidate_type": "x".repeat(100)}),
            serde_json::json!({"inbound": vec![serde_json::json!({"kind": "audio"}); MAX_STREAMS + 1]}),
            serde_json::json!({"outbound": [{"kind": "video", "bitrate": -1}]}),
        ];
        for case in cases {
            assert!(parse(case.clone()).is_err(), "accepted {case}");
        }
    }
}
