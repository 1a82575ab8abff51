// Who is speaking, from the audio levels of what the chair receives. The
// server only forwards audio the mode allows, so this lights exactly the
// sites the room can hear.

const POLL_MS = 300;
const LOUD = 0.03;
// Keep the indicator on briefly after the level drops, so it does not
// flicker between words.
const HOLD_MS = 800;

/**
 * Polls `link`'s audio receivers; `identify(mid, slot, endpoint)` names the
 * site a line carries now, `onChange(code, speaking)` is told of changes.
 * Returns a function that stops it.
 */
export function watchSpeakers(link, identify, onChange) {
  const lastLoud = new Map();
  const on = new Set();
  // The RTP timestamp each source had at the last poll. A browser keeps a
  // source's last level for ten seconds after its packets stop, so a site
  // just muted or revoked would go on "speaking"; only a source whose
  // timestamp moved since the last poll is heard now.
  const lastRtp = new Map();
  const timer = setInterval(() => {
    const pc = link.pc;
    if (!pc) return;
    const now = performance.now();
    for (const tr of pc.getTransceivers()) {
      const track = tr.receiver && tr.receiver.track;
      if (!track || track.kind !== 'audio' || tr.mid === null) continue;
      const where = link.slotOfMid(tr.mid);
      const code = identify(tr.mid, where.slot, where.endpoint);
      if (!code) continue;
      const fresh = tr.receiver.getSynchronizationSources().filter((s) => {
        const key = `${tr.mid}/${s.source}`;
        const moved = lastRtp.get(key) !== s.rtpTimestamp;
        lastRtp.set(key, s.rtpTimestamp);
        return moved;
      });
      const level = Math.max(0, ...fresh.map((s) => s.audioLevel || 0));
      if (level >= LOUD) lastLoud.set(code, now);
    }
    for (const [code, at] of lastLoud) {
      const loud = now - at < HOLD_MS;
      if (loud && !on.has(code)) {
        on.add(code);
        onChange(code, true);
      } else if (!loud && on.has(code)) {
        on.delete(code);
        onChange(code, false);
      }
    }
  }, POLL_MS);
  return () => clearInterval(timer);
}
