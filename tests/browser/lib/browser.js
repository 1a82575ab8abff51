// Debian's Chromium driven by playwright-core, with a fake camera and
// microphone and sound allowed without a click. Each role gets its own
// browser context (its own storage), as separate machines would.

import { chromium } from 'playwright-core';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream',
  '--autoplay-policy=no-user-gesture-required',
  // Keep WebRTC on loopback: no mDNS names for host candidates.
  '--disable-features=WebRtcHideLocalIpsWithMdns',
];

export class Browser {
  /**
   * Launches one Chromium. Playwright gives it a fresh temporary profile
   * (its own --user-data-dir), removed when the browser closes.
   * `withoutArgs` leaves some of the usual flags out: without
   * `--use-fake-ui-for-media-stream`, screen sharing captures a real tab
   * (chosen by `--auto-select-tab-capture-source-by-title`) instead of the
   * fake camera's pattern; the pages' camera permission comes from their
   * browser context.
   */
  async launch({ extraArgs = [], withoutArgs = [] } = {}) {
    // A steady tone instead of the fake microphone's beeps: whoever is
    // heard is loud at every moment, so a speaking mark is never off by
    // the luck of a pause between beeps.
    this.dir = await mkdtemp(path.join(tmpdir(), 'diemcau-browser-audio-'));
    const tone = path.join(this.dir, 'tone.wav');
    await writeFile(tone, toneWav());
    const args = [...FLAGS.filter((f) => !withoutArgs.includes(f)), `--use-file-for-fake-audio-capture=${tone}`, ...extraArgs];
    this.browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args, timeout: 60_000 });
    return this;
  }

  /** A page opened at `url`, in a browser context of its own (own storage, as a separate machine). */
  async open(url, { viewport = { width: 1920, height: 1080 }, name = 'page' } = {}) {
    const context = await this.browser.newContext({ viewport, acceptDownloads: true, permissions: ['camera', 'microphone'] });
    const page = await context.newPage();
    page.consoleLines = [];
    page.on('console', (m) => {
      page.consoleLines.push(`[${name}] ${m.type()}: ${m.text()}`);
      if (page.consoleLines.length > 200) page.consoleLines.shift();
    });
    page.on('pageerror', (e) => page.consoleLines.push(`[${name}] pageerror: ${e.message}`));
    await page.goto(url, { timeout: 30_000 });
    return page;
  }

  async close() {
    if (this.browser) await this.browser.close().catch(() => {});
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
  }
}

/** Two seconds of a 440 Hz tone at half scale: 16-bit mono PCM, 48 kHz, as a WAV file (Chromium loops it). */
function toneWav() {
  const rate = 48_000;
  const samples = rate * 2;
  const data = Buffer.alloc(samples * 2);
  for (let i = 0; i < samples; i++) {
    data.writeInt16LE(Math.round(16_000 * Math.sin((2 * Math.PI * 440 * i) / rate)), i * 2);
  }
  const header = Buffer.alloc(44);
  header.write('RIFF', 0);
  header.writeUInt32LE(36 + data.length, 4);
  header.write('WAVE', 8);
  header.write('fmt ', 12);
  header.writeUInt32LE(16, 16); // fmt chunk size
  header.writeUInt16LE(1, 20); // PCM
  header.writeUInt16LE(1, 22); // mono
  header.writeUInt32LE(rate, 24);
  header.writeUInt32LE(rate * 2, 28); // bytes per second
  header.writeUInt16LE(2, 32); // bytes per frame
  header.writeUInt16LE(16, 34); // bits per sample
  header.write('data', 36);
  header.writeUInt32LE(data.length, 40);
  return Buffer.concat([header, data]);
}
