// Bounded waits on what a page shows. Each polls the page and gives up
// after its timeout with the page's recent console lines, so a failure says
// what the page was doing. None asserts how fast anything happened.

export const WAIT_MS = Number(process.env.BROWSER_WAIT_MS || 45_000);

async function explain(page, what, err) {
  const lines = (page.consoleLines || []).slice(-25).join('\n');
  throw new Error(`${what}: ${err.message}\n--- page console ---\n${lines}`);
}

/** Waits until `fn(arg)` is truthy in the page; returns its value. */
export async function until(page, what, fn, arg, timeout = WAIT_MS) {
  try {
    const handle = await page.waitForFunction(fn, arg, { polling: 500, timeout });
    return await handle.jsonValue();
  } catch (err) {
    return explain(page, what, err);
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
 * The bytes of the inbound video stream that feeds `selector` keep growing
 * between two polls (read from the page's peer connection statistics).
 */
export function inboundGrowing(page, selector, timeout) {
  return until(
    page,
    `inbound bytes for ${selector} growing`,
    async (sel) => {
      const v = document.querySelector(sel);
      const track = v && v.srcObject && v.srcObject.getVideoTracks()[0];
      const link = window.diemcau && window.diemcau.media && window.diemcau.media.link;
      if (!track || !link || !link.pc) return false;
      const report = await link.pc.getStats(track);
      let bytes = null;
      report.forEach((s) => {
        if (s.type === 'inbound-rtp' && s.kind === 'video') bytes = s.bytesReceived;
      });
      if (bytes === null) return false;
      const prev = Number(v.dataset.testPrevBytes ?? -1);
      v.dataset.testPrevBytes = String(bytes);
      return prev >= 0 && bytes > prev ? bytes : false;
    },
    selector,
    timeout,
  );
}
