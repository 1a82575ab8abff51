// Bounded waits on what a page shows. Each polls the page and gives up
// after its timeout with the page's recent console lines, so a failure says
// what the page was doing. None asserts how fast anything happened.

export const WAIT_MS = Number(process.env.BROWSER_WAIT_MS || 45_000);

async function explain(page, what, err) {
  throw new Error(`${what}: ${err.message}\n${await describePage(page)}`);
}

/** A page's recent console lines and its connection, as text for a failure. */
export async function describePage(page) {
  const lines = (page.consoleLines || []).slice(-25).join('\n');
  let link = '';
  try {
    link = await page.evaluate(linkSummary);
  } catch (e) {
    link = `(cannot read: ${e.message})`;
  }
  return `--- page console ---\n${lines}\n--- page connection ---\n${link}`;
}

/**
 * The page connection's states and candidate pairs, as lines: when a wait
 * fails on a machine we cannot watch, this says whether ICE, DTLS or the
 * media was missing.
 */
async function linkSummary() {
  const d = window.diemcau || {};
  const sig = d.signaling;
  const head = `signaling ${sig ? sig.status : 'none'}, attempt ${sig ? sig.attempt : '-'}; state ${d.feed && d.feed.state ? d.feed.state.phase : 'none'}`;
  const link = d.media && d.media.link;
  if (!link || !link.pc) return `${head}\nno peer connection`;
  const pc = link.pc;
  const out = [head, `connection ${pc.connectionState}, ice ${pc.iceConnectionState}, gathering ${pc.iceGatheringState}, signaling ${pc.signalingState}`];
  const stats = await pc.getStats();
  const candidate = (id) => {
    const c = stats.get(id);
    return c ? `${c.candidateType}/${c.protocol} ${c.address}:${c.port}` : id;
  };
  stats.forEach((s) => {
    if (s.type === 'candidate-pair') {
      out.push(`pair ${candidate(s.localCandidateId)} -> ${candidate(s.remoteCandidateId)}: ${s.state}, requests ${s.requestsSent}, responses ${s.responsesReceived}, bytes in ${s.bytesReceived}`);
    } else if (s.type === 'inbound-rtp') {
      out.push(`inbound ${s.kind} mid ${s.mid}: packets ${s.packetsReceived}, frames ${s.framesDecoded ?? '-'}`);
    } else if (s.type === 'transport') {
      out.push(`transport: dtls ${s.dtlsState}, ice ${s.iceState}`);
    }
  });
  return out.join('\n');
}

const POLL_MS = 500;

/**
 * Waits until `fn(arg)` is truthy in the page; returns its value. Polls with
 * `page.evaluate`, which awaits an async `fn` (Playwright's waitForFunction
 * takes the promise itself for a truthy answer, so a check that reads
 * statistics would pass at once). An error in the page (a navigation under
 * way) is retried until the deadline and then reported.
 */
export async function until(page, what, fn, arg, timeout = WAIT_MS) {
  const deadline = Date.now() + timeout;
  let last;
  let lastError = null;
  for (;;) {
    try {
      last = await page.evaluate(fn, arg);
      lastError = null;
      if (last) return last;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const why = lastError ? lastError.message : `still ${JSON.stringify(last)} after ${timeout} ms`;
      return explain(page, what, new Error(why));
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** A <video> shows pictures (`videoWidth > 0`) and its `currentTime` moves on between two polls. */
export function videoPlaying(page, selector, timeout) {
  return until(
    page,
    `video ${selector} playing`,
    (sel) => {
      const v = document.querySelector(sel);
      if (!v || v.videoWidth === 0) return false;
      const prev = Number(v.dataset.testPrevTime ?? -1);
      v.dataset.testPrevTime = String(v.currentTime);
      return prev >= 0 && v.currentTime > prev ? { width: v.videoWidth, height: v.videoHeight } : false;
    },
    selector,
    timeout,
  );
}

/**
 * The bytes of the inbound stream that feeds the <video> or <audio> at
 * `selector` keep growing between two polls (read from the page's peer
 * connection statistics).
 */
export function inboundGrowing(page, selector, timeout) {
  return until(
    page,
    `inbound bytes for ${selector} growing`,
    async (sel) => {
      const el = document.querySelector(sel);
      const kind = el && el.tagName === 'AUDIO' ? 'audio' : 'video';
      const track = el && el.srcObject && el.srcObject.getTracks().find((t) => t.kind === kind);
      const link = window.diemcau && window.diemcau.media && window.diemcau.media.link;
      if (!track || !link || !link.pc) return false;
      const report = await link.pc.getStats(track);
      let bytes = null;
      report.forEach((s) => {
        if (s.type === 'inbound-rtp' && s.kind === kind) bytes = s.bytesReceived;
      });
      if (bytes === null) return false;
      const prev = Number(el.dataset.testPrevBytes ?? -1);
      el.dataset.testPrevBytes = String(bytes);
      return prev >= 0 && bytes > prev ? bytes : false;
    },
    selector,
    timeout,
  );
}

/**
 * The page connection's selected candidate pair, once there is one: the
 * local candidate's type and protocol, and the connection's transport
 * policy.
 */
export function selectedPair(page, timeout) {
  return until(
    page,
    'a selected candidate pair',
    async () => {
      const link = window.diemcau && window.diemcau.media && window.diemcau.media.link;
      if (!link || !link.pc) return false;
      const stats = await link.pc.getStats();
      let pair = null;
      stats.forEach((s) => {
        if (s.type === 'transport' && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId);
      });
      const local = pair && stats.get(pair.localCandidateId);
      if (!local) return false;
      return { type: local.candidateType, protocol: local.protocol, policy: link.pc.getConfiguration().iceTransportPolicy };
    },
    undefined,
    timeout,
  );
}
