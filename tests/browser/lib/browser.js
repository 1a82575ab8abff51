// Debian's Chromium driven by playwright-core, with a fake camera and
// microphone and sound allowed without a click. Each role gets its own
// browser context (its own storage), as separate machines would.

import { chromium } from 'playwright-core';

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
   */
  async launch() {
    this.browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS, timeout: 60_000 });
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
  }
}
