// Presenting (trình chiếu) in real browsers against the real server. Site A
// holds the floor, so it may present at once: it clicks "Trình chiếu", its
// browser shares a tab of slides (a tab capture chosen by its title, so the
// picture is the slides and not the fake camera's pattern), and site B's
// page and the chair's show the presentation on the content slot. Another
// site's request waits for the chair, who turns it down. The monitor shows
// the presentation's bit rate on A's link. Then the chair takes the floor
// back from A, and with it the presentation: it stops on B. Last, the
// chair's own room presents with the same button. The run leaves
// screenshots of the three pages with a presentation in docs/screenshots/.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { Browser } from './lib/browser.js';
import { Server, repoRoot } from './lib/server.js';
import { inboundGrowing, until, videoPlaying } from './lib/wait.js';

const A = { code: '30', name: 'Hải Dương' };
const B = { code: '48', name: 'Đà Nẵng' };
const SHOTS = process.env.DIEMCAU_SCREENSHOTS || path.join(repoRoot, 'docs', 'screenshots');
// The tab site A's browser shares: picked by this title, with no prompt.
const SLIDES_TITLE = 'Slides - Bao cao tinh hinh mua lu';
const SLIDES = `<!doctype html><html lang="vi"><head><meta charset="utf-8"><title>${SLIDES_TITLE}</title>
<style>
  body { margin: 0; height: 100vh; background: #17386b; color: #fff; font: 28px/1.4 sans-serif; display: flex; flex-direction: column; justify-content: center; padding: 0 8vw; box-sizing: border-box; }
  h1 { font-size: 56px; margin: 0 0 24px; color: #ffd34d; }
  li { margin: 8px 0; }
  #clock { position: fixed; right: 24px; bottom: 16px; font-size: 22px; color: #9fb6dd; }
</style></head><body>
<h1>Báo cáo tình hình mưa lũ</h1>
<ul><li>Lượng mưa 72 giờ qua: 350–600 mm</li><li>Sơ tán 12.400 hộ dân khỏi vùng trũng</li><li>Đề nghị hỗ trợ 500 tấn gạo cứu đói</li></ul>
<div id="clock"></div>
<script>setInterval(() => { document.getElementById('clock').textContent = new Date().toLocaleTimeString('vi-VN'); }, 200);</script>
</body></html>`;

/** In the page: the bytes received on its content line (its third video line), and what the line carries. */
async function contentInbound() {
  const link = window.diemcau.media.link;
  const t = link.contentTransceiver;
  if (!t || t.mid === null) return null;
  let bytes = 0;
  (await t.receiver.getStats()).forEach((r) => {
    if (r.type === 'inbound-rtp' && r.kind === 'video') bytes += r.bytesReceived;
  });
  return { mid: t.mid, direction: t.currentDirection, bytes, ...link.slotOfMid(t.mid) };
}

/** In the page: the mean colour of what the <video> at `selector` shows, if it shows anything. */
function meanColour(selector) {
  const v = document.querySelector(selector);
  if (!v || !v.videoWidth) return null;
  const c = document.createElement('canvas');
  c.width = 64;
  c.height = 36;
  const g = c.getContext('2d');
  g.drawImage(v, 0, 0, c.width, c.height);
  const d = g.getImageData(0, 0, c.width, c.height).data;
  const sum = [0, 0, 0];
  for (let i = 0; i < d.length; i += 4) for (let k = 0; k < 3; k++) sum[k] += d[i + k];
  const n = d.length / 4;
  return { r: sum[0] / n, g: sum[1] / n, b: sum[2] / n };
}

describe('presenting', { timeout: 300_000 }, () => {
  const server = new Server();
  const browser = new Browser();
  // Site A's browser shares a real tab, so it runs without the fake
  // capture UI (which would share the fake camera's pattern instead).
  const presenterBrowser = new Browser();
  let session;
  let tokens;
  let chair;
  let siteA;
  let siteB;
  let slides;
  let monitor;

  before(async () => {
    await server.start();
    const live = await server.liveSession('Hội nghị trực tuyến về phòng chống thiên tai');
    session = live.session;
    tokens = {
      chair: live.chairToken,
      a: await server.token('endpoint', { endpoint: A.code }),
      b: await server.token('endpoint', { endpoint: B.code }),
      tech: await server.token('technician'),
    };
    await browser.launch();
    await presenterBrowser.launch({
      withoutArgs: ['--use-fake-ui-for-media-stream'],
      extraArgs: [`--auto-select-tab-capture-source-by-title=${SLIDES_TITLE}`],
    });
    await mkdir(SHOTS, { recursive: true });
  });

  after(async () => {
    await presenterBrowser.close();
    await browser.close();
    await server.stop();
  });

  const open = (b, role, token, name, viewport) => b.open(`${server.url}/${role}#token=${token}`, { name, viewport });

  test('the chair and two sites join, and A holds the floor', async () => {
    chair = await open(browser, 'chair', tokens.chair, 'chair');
    siteA = await open(presenterBrowser, 'endpoint', tokens.a, `site ${A.code}`, { width: 1600, height: 900 });
    siteB = await open(browser, 'endpoint', tokens.b, `site ${B.code}`, { width: 1600, height: 900 });
    // The slides A will share, in a tab of its own browser.
    slides = await siteA.context().newPage();
    await slides.setViewportSize({ width: 1280, height: 720 });
    await slides.setContent(SLIDES);
    for (const site of [siteA, siteB]) {
      await until(site, 'media connected', () => window.diemcau && window.diemcau.media.pcState === 'connected');
      await videoPlaying(site, '#chair-video');
    }
    for (const s of [A, B]) {
      await until(chair, `tile ${s.code} connected`, (code) => {
        const tile = document.querySelector(`.tile[data-code="${code}"]`);
        return tile && ['connected', 'present'].includes(tile.dataset.status);
      }, s.code);
    }
    // Nobody presents yet: the button is there and enabled, nothing is shown.
    await until(siteA, 'present button enabled', () => {
      const b = document.querySelector('#present-toggle');
      return b && !b.disabled && b.dataset.action === 'start';
    });
    assert.equal(await siteA.textContent('#present-toggle'), 'Trình chiếu');
    assert.equal(await siteB.$eval('#slot-content', (el) => el.hidden), true, 'no presentation shown before anyone presents');
    // Every page offers a third video line for the content slot; the server fills it.
    let slot = null;
    for (let i = 0; i < 60 && !(slot && slot.slot === 'content'); i++) {
      if (i) await new Promise((resolve) => setTimeout(resolve, 500));
      slot = await siteB.evaluate(contentInbound);
    }
    assert.equal(slot && slot.slot, 'content', `B's third video line carries the content slot: ${JSON.stringify(slot)}`);
    assert.equal(slot.direction, 'sendrecv', `B's content line sends and receives: ${JSON.stringify(slot)}`);
    await server.api(tokens.chair, 'POST', `/api/sessions/${session}/floor/grant`, { endpoint: A.code });
    await until(siteA, 'floor granted to A', () => document.querySelector('#floor-state').dataset.state === 'granted');
  });

  test('A presents at once; B and the chair show the slides', async () => {
    // On B, the moment the presentation first shows a frame (polled
    // finely in the page, the test's own polling being coarse).
    await siteB.evaluate(() => {
      window.contentShownAt = null;
      const v = document.querySelector('#content-video');
      const look = () => {
        if (!document.querySelector('#slot-content').hidden && v.videoWidth > 0) window.contentShownAt = Date.now();
        else setTimeout(look, 10);
      };
      look();
    });
    // When the click reaches A's page (Playwright's own checks before it
    // clicks take a while on a busy machine, and are not the page's doing).
    await siteA.evaluate(() => {
      document.querySelector('#present-toggle').addEventListener('click', () => (window.presentClickedAt = Date.now()), { capture: true, once: true });
    });
    await siteA.click('#present-toggle');
    const clicked = await siteA.evaluate(() => window.presentClickedAt);
    await until(siteA, 'A presenting', () => document.querySelector('#present-state').dataset.state === 'presenting');
    assert.equal(await siteA.textContent('#present-toggle'), 'Dừng trình chiếu');
    // What A sends: the tab it shares, as detail, within the server's limits.
    const sent = await siteA.evaluate(() => {
      const sender = window.diemcau.media.link.contentTransceiver.sender;
      const track = sender.track;
      const enc = sender.getParameters().encodings[0] || {};
      return { label: track && track.label, hint: track && track.contentHint, maxBitrate: enc.maxBitrate, maxFramerate: enc.maxFramerate };
    });
    assert.match(String(sent.label), /web-contents-media-stream/, `A shares a tab: ${JSON.stringify(sent)}`);
    assert.equal(sent.hint, 'detail');
    assert.equal(sent.maxBitrate, 1_500_000, "the shipped config's content_bitrate_kbps");
    assert.equal(sent.maxFramerate, 5, "the shipped config's content_max_fps");
    // The camera stays on its own line.
    const camera = await siteA.evaluate(() => {
      const link = window.diemcau.media.link;
      const cam = link.pc.getTransceivers().find((t) => t !== link.contentTransceiver && t.sender.track && t.sender.track.kind === 'video');
      return cam ? cam.sender.track.label : null;
    });
    assert.ok(camera && !/web-contents/.test(camera), `A's camera line keeps the camera: ${camera}`);

    await until(siteB, 'presentation shown on B', () => !document.querySelector('#slot-content').hidden);
    const shown = await until(siteB, 'first frame of the presentation on B', () => window.contentShownAt);
    const state = await server.api(tokens.chair, 'GET', `/api/sessions/${session}`);
    assert.equal(state.content && state.content.presenter && state.content.presenter.endpoint, A.code, `A presents: ${JSON.stringify(state.content)}`);
    const grantedAt = state.content.presenter.since;
    console.log(
      `[figure] presenting: click on A → slides visible on B: ${shown - clicked} ms (grant → visible: ${shown - grantedAt} ms)`,
    );

    const size = await videoPlaying(siteB, '#content-video');
    assert.ok(size.width > 0, `the presentation has a picture: ${JSON.stringify(size)}`);
    await inboundGrowing(siteB, '#content-video');
    const first = await siteB.evaluate(contentInbound);
    assert.equal(first.slot, 'content');
    assert.equal(first.endpoint, A.code, `the tracks message names the presenter: ${JSON.stringify(first)}`);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const then = await siteB.evaluate(contentInbound);
    assert.ok(then.bytes > first.bytes, `bytes on B's content line grow: ${first.bytes} → ${then.bytes}`);
    // The slides, not a camera: the picture is mostly the slides' dark blue
    // (the fake camera's is green).
    let colour = null;
    for (let i = 0; i < 20; i++) {
      colour = await siteB.evaluate(meanColour, '#content-video');
      if (colour && colour.b > colour.g + 20 && colour.b > colour.r + 20) break;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    assert.ok(colour && colour.b > colour.g + 20 && colour.b > colour.r + 20, `the slides' blue on B: ${JSON.stringify(colour)}`);
    assert.equal(await siteB.$eval('#programme', (el) => el.classList.contains('has-content')), true, 'the presentation large, the speakers beside it');
    const caption = await siteB.textContent('#content-caption');
    assert.ok(caption.includes(A.name), `the presentation is captioned ${A.name}: ${caption}`);
    // The speaker, small beside it, still plays.
    await videoPlaying(siteB, '#floor-video');

    // The chair: the slides on the stage, and who presents.
    await until(chair, 'presentation on the chair stage', () => document.querySelector('#stage').classList.contains('has-content'));
    await videoPlaying(chair, '#content-video');
    const presenter = await chair.textContent('#presenter-name');
    assert.ok(presenter.includes(A.name), `the chair sees who presents: ${presenter}`);
    assert.equal(await chair.$eval('#content-revoke', (el) => el.hidden), false, 'the chair can take it back');
    // The presenter does not get its own presentation back.
    assert.equal(await siteA.$eval('#slot-content', (el) => el.hidden), true);
    await videoPlaying(siteA, '#present-preview');
  });

  test("another site's request waits for the chair, who declines it", async () => {
    await siteB.click('#present-toggle');
    await until(siteB, 'B waits', () => document.querySelector('#present-state').dataset.state === 'pending');
    const waiting = await siteB.textContent('#present-state');
    assert.equal(waiting, 'Đang chờ chủ trì cho phép trình chiếu');
    const row = `#content-requests li[data-endpoint="${B.code}"]`;
    await chair.waitForSelector(row, { timeout: 30_000 });
    // B has not the floor, and in the shipped config a presentation ends with the floor.
    assert.equal(await chair.$eval(`${row} .grant`, (b) => b.disabled), true, 'only a floor holder can be allowed');
    await chair.click(`${row} .deny`);
    await until(siteB, 'B no longer waits', () => document.querySelector('#present-state').dataset.state === 'none');
    await chair.waitForSelector(row, { state: 'detached', timeout: 30_000 });
    // A still presents.
    await until(siteB, 'still shown on B', () => !document.querySelector('#slot-content').hidden);
  });

  test("the monitor shows the presentation's bit rate on A's link", async () => {
    monitor = await open(browser, 'monitor', tokens.tech, 'monitor');
    const bps = await until(monitor, "content rate on A's row", (code) => {
      const el = document.querySelector(`#links tbody tr[data-code="${code}"] .content-rate`);
      return el && Number(el.dataset.bps) > 0 ? Number(el.dataset.bps) : false;
    }, A.code);
    const text = await monitor.textContent(`#links tbody tr[data-code="${A.code}"] .content-rate`);
    assert.match(text, /^trình chiếu .*b\/s$/, `the rate is labelled: ${text}`);
    const total = await monitor.$eval(`#links tbody tr[data-code="${A.code}"] .bitrate-in`, (el) => Number(el.dataset.bps));
    assert.ok(bps <= total, `the presentation (${bps}) is part of A's incoming rate (${total})`);
    assert.equal(await monitor.$(`#links tbody tr[data-code="${B.code}"] .content-rate`), null, 'B presents nothing');
  });

  test('screenshots of the three pages with a presentation', async () => {
    await videoPlaying(siteB, '#content-video');
    await siteB.screenshot({ path: path.join(SHOTS, 'endpoint-content.png') });
    await videoPlaying(chair, '#content-video');
    await chair.screenshot({ path: path.join(SHOTS, 'chair-content.png') });
    await monitor.click(`#links tbody tr[data-code="${A.code}"]`);
    await monitor.waitForSelector('#chart .uplot', { timeout: 30_000 });
    await until(monitor, 'a few samples of the selected link', (code) => {
      const row = document.querySelector(`#links tbody tr[data-code="${code}"]`);
      const s = row && window.diemcau.history.get(row.dataset.id);
      return s && s.t.length >= 3;
    }, A.code);
    await monitor.screenshot({ path: path.join(SHOTS, 'monitor-content.png') });
  });

  test('the chair takes the floor back from A, and the presentation stops on B', async () => {
    await chair.click('#revoke');
    await until(siteA, 'A stopped presenting', () => {
      const link = window.diemcau.media.link;
      return document.querySelector('#present-state').dataset.state === 'none' && !link.contentTransceiver.sender.track;
    });
    assert.equal(await siteA.textContent('#present-toggle'), 'Trình chiếu');
    await until(siteB, 'presentation hidden on B', () => document.querySelector('#slot-content').hidden && !document.querySelector('#programme').classList.contains('has-content'));
    await until(chair, 'presentation gone from the chair stage', () => !document.querySelector('#stage').classList.contains('has-content'));
    const state = await server.api(tokens.chair, 'GET', `/api/sessions/${session}`);
    assert.equal(state.content.presenter, null, `nobody presents: ${JSON.stringify(state.content)}`);
    // No more bytes on B's content line (once what was on its way is in).
    let still = (await siteB.evaluate(contentInbound)).bytes;
    for (let i = 0; i < 20; i++) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const now = (await siteB.evaluate(contentInbound)).bytes;
      if (now === still) break;
      still = now;
    }
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const later = await siteB.evaluate(contentInbound);
    assert.equal(later.bytes, still, 'nothing more arrives on the content line');
  });

  test("the chair's own room presents with the same button, and stops", async () => {
    // The chair's browser shares with the fake capture UI: the fake screen.
    await chair.click('#present-toggle');
    await until(chair, 'the chair presenting', () => document.querySelector('#present-state').dataset.state === 'presenting');
    await until(siteB, "the chair's presentation shown on B", () => !document.querySelector('#slot-content').hidden);
    await videoPlaying(siteB, '#content-video');
    const caption = await siteB.textContent('#content-caption');
    assert.ok(caption.includes('Trụ sở Chính phủ'), `captioned with the central site: ${caption}`);
    // The chair does not get its own presentation back on its stage.
    assert.equal(await chair.$eval('#stage', (el) => el.classList.contains('has-content')), false);
    await chair.click('#present-toggle');
    await until(chair, 'the chair stopped', () => document.querySelector('#present-state').dataset.state === 'none' && !window.diemcau.media.link.contentTransceiver.sender.track);
    await until(siteB, 'presentation hidden on B again', () => document.querySelector('#slot-content').hidden);
    // Stopped from the browser's own "stop sharing" instead: the capture
    // ends, and the page gives the token back by itself.
    await chair.click('#present-toggle');
    await until(chair, 'the chair presenting again', () => document.querySelector('#present-state').dataset.state === 'presenting');
    await until(siteB, 'shown on B again', () => !document.querySelector('#slot-content').hidden);
    await chair.evaluate(() => window.diemcau.present.track.dispatchEvent(new Event('ended')));
    await until(chair, 'the chair stopped with the capture', () => document.querySelector('#present-state').dataset.state === 'none');
    await until(siteB, 'hidden on B once the capture ended', () => document.querySelector('#slot-content').hidden);
    const state = await server.api(tokens.chair, 'GET', `/api/sessions/${session}`);
    assert.equal(state.content.presenter, null, `the token was given back: ${JSON.stringify(state.content)}`);
  });
});
