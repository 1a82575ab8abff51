// Recording the programme in real browsers against the real server. The
// chair clicks "Ghi hình": the site's page and the technicians' console
// show the red "Đang ghi hình" badge; the chair clicks "Dừng ghi hình" and
// the badges go. The chair's page lists the file (as GET …/recordings
// does, with its size) and downloads it with its token: a WebM file (the
// EBML magic 1A 45 DF A3). A recording the server cannot write (its
// session folder replaced by a plain file) stops by itself, and the chair
// and the monitor say so with the server's reason. Once the meeting has
// ended, the chair's page links the minutes (biên bản), their signature
// and the speaking log, and still the recording; each downloads with the
// page's token (a PDF, the signature of that very PDF, and a CSV that
// lists both recordings, the failed one with its reason).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Browser } from './lib/browser.js';
import { Server } from './lib/server.js';
import { until, videoPlaying } from './lib/wait.js';

const A = { code: '30', name: 'Hải Dương' };
const EBML_MAGIC = '1a45dfa3';

/** In a page: the recording badge, as shown. */
function badgeOf() {
  const el = document.querySelector('#rec-badge');
  if (!el) return null;
  const dot = el.querySelector('.rec-dot');
  return {
    shown: !el.hidden && el.getClientRects().length > 0,
    state: el.dataset.recording,
    text: el.textContent.trim(),
    dot: dot ? getComputedStyle(dot).backgroundColor : null,
  };
}

/** In the chair's page: the recordings it lists. */
function listedFiles() {
  return [...document.querySelectorAll('#recordings li')].map((li) => ({
    name: li.dataset.name,
    bytes: Number(li.dataset.bytes),
    size: li.querySelector('.size').textContent,
    writing: !!li.querySelector('.writing'),
    href: li.querySelector('a').getAttribute('href'),
  }));
}

describe('recording', { timeout: 300_000 }, () => {
  const server = new Server();
  const browser = new Browser();
  let session;
  let tokens;
  let chair;
  let site;
  let monitor;
  let recorded;

  before(async () => {
    await server.start();
    const live = await server.liveSession('Hội nghị trực tuyến tổng kết công tác năm');
    session = live.session;
    tokens = {
      chair: live.chairToken,
      a: await server.token('endpoint', { endpoint: A.code }),
      tech: await server.token('technician'),
    };
    await browser.launch();
  });

  after(async () => {
    await browser.close();
    await server.stop();
  });

  const open = (role, token, name, viewport) => browser.open(`${server.url}/${role}#token=${token}`, { name, viewport });
  const sessionApi = (rest) => `/api/sessions/${encodeURIComponent(session)}${rest}`;
  /** Clicks `selector` on the chair's page; the file the browser saves: `{ name, raw }`. */
  const downloadFrom = async (selector) => {
    const [download] = await Promise.all([chair.waitForEvent('download', { timeout: 30_000 }), chair.click(selector)]);
    return { name: download.suggestedFilename(), raw: await readFile(await download.path()) };
  };
  const badgeShown = (page, what) => until(page, `${what}: badge shown`, () => {
    const el = document.querySelector('#rec-badge');
    return !el.hidden && el.dataset.recording === 'live';
  });
  const badgeGone = (page, what) => until(page, `${what}: badge gone`, () => document.querySelector('#rec-badge').hidden);

  test('the chair, a site and the monitor join; nothing records yet', async () => {
    chair = await open('chair', tokens.chair, 'chair');
    site = await open('endpoint', tokens.a, `site ${A.code}`, { width: 1600, height: 900 });
    monitor = await open('monitor', tokens.tech, 'monitor');
    // The chair's picture reaches the site: the programme has something to record.
    await until(site, 'media connected', () => window.diemcau && window.diemcau.media.pcState === 'connected');
    await videoPlaying(site, '#chair-video');
    await until(chair, 'record button ready', () => {
      const b = document.querySelector('#record');
      return !b.hidden && !b.disabled;
    });
    assert.equal((await chair.textContent('#record')).trim(), 'Ghi hình');
    assert.equal(await chair.$eval('#record', (b) => b.getAttribute('aria-pressed')), 'false');
    await until(monitor, 'monitor following the session', () => !!(window.diemcau.feed.state && window.diemcau.feed.state.phase === 'live'));
    for (const page of [chair, site, monitor]) assert.equal((await page.evaluate(badgeOf)).shown, false, 'no badge before recording');
    await until(chair, 'no recordings listed', () => !document.querySelector('#recordings-empty').hidden);
    const state = await server.api(tokens.chair, 'GET', sessionApi(''));
    assert.equal(state.recording, false);
  });

  test('the chair starts recording: the site and the monitor show "Đang ghi hình"', async () => {
    await chair.click('#record');
    await badgeShown(site, 'site');
    await badgeShown(monitor, 'monitor');
    await badgeShown(chair, 'chair');
    for (const [name, page] of [['site', site], ['monitor', monitor], ['chair', chair]]) {
      const badge = await page.evaluate(badgeOf);
      assert.equal(badge.shown, true, `${name}: the badge is visible`);
      assert.equal(badge.text, 'Đang ghi hình', `${name}: ${JSON.stringify(badge)}`);
      assert.equal(badge.dot, 'rgb(255, 59, 48)', `${name}: a red dot: ${JSON.stringify(badge)}`);
    }
    await until(chair, 'the button offers to stop', () => document.querySelector('#record').textContent.trim() === 'Dừng ghi hình');
    assert.equal(await chair.$eval('#record', (b) => b.getAttribute('aria-pressed')), 'true');
    const state = await server.api(tokens.chair, 'GET', sessionApi(''));
    assert.equal(state.recording, true, 'the server records');
    // The technicians' log says who started it.
    await until(monitor, 'the log line', () => [...document.querySelectorAll('#alert-log li')].some((li) => li.textContent.includes('Chủ trì bắt đầu ghi hình')));
    // The file grows on the chair's list while it is written.
    const growing = await until(chair, 'a file being written, with frames in it', () => {
      const li = document.querySelector('#recordings li');
      return li && li.querySelector('.writing') && Number(li.dataset.bytes) > 20_000 ? Number(li.dataset.bytes) : false;
    });
    assert.ok(growing > 20_000);
  });

  test('the chair stops: the badges go, and the file is listed with its size', async () => {
    await chair.click('#record');
    await badgeGone(site, 'site');
    await badgeGone(monitor, 'monitor');
    await badgeGone(chair, 'chair');
    await until(chair, 'the button offers to record again', () => document.querySelector('#record').textContent.trim() === 'Ghi hình');
    const state = await server.api(tokens.chair, 'GET', sessionApi(''));
    assert.equal(state.recording, false, 'the server stopped recording');
    await until(monitor, 'the log line', () => [...document.querySelectorAll('#alert-log li')].some((li) => li.textContent.includes('Chủ trì dừng ghi hình')));
    // The server closes the file just after the event: wait for the list
    // to settle, then the page must show what the server lists.
    let files = null;
    let shown = null;
    for (let i = 0; i < 30; i++) {
      files = await server.api(tokens.chair, 'GET', sessionApi('/recordings'));
      shown = await chair.evaluate(listedFiles);
      if (files.length === 1 && shown.length === 1 && shown[0].bytes === files[0].bytes && !shown[0].writing) break;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    assert.equal(files.length, 1, `one recording on the server: ${JSON.stringify(files)}`);
    assert.ok(files[0].bytes > 0, `a non-empty file: ${JSON.stringify(files)}`);
    assert.equal(shown.length, 1, `one recording on the page: ${JSON.stringify(shown)}`);
    assert.equal(shown[0].name, files[0].name);
    assert.equal(shown[0].bytes, files[0].bytes, 'the page lists the size the server gives');
    assert.equal(shown[0].href, files[0].href);
    assert.equal(shown[0].writing, false, 'no longer marked as being written');
    assert.match(shown[0].size, /^\d[\d.,]* (KB|MB|GB)$/, `a size for people: ${shown[0].size}`);
    assert.match(files[0].name, /\.webm$/);
    recorded = files[0];
  });

  test('the recording downloads from the chair page with its token, as WebM', async () => {
    const [download] = await Promise.all([chair.waitForEvent('download', { timeout: 30_000 }), chair.click('#recordings li a')]);
    assert.equal(download.suggestedFilename(), recorded.name);
    const raw = await readFile(await download.path());
    assert.ok(raw.length > 0, 'bytes downloaded');
    assert.equal(raw.subarray(0, 4).toString('hex'), EBML_MAGIC, `starts with the EBML magic: ${raw.subarray(0, 8).toString('hex')}`);
    assert.ok(raw.subarray(0, 64).includes('webm'), 'the EBML header names the webm doctype');
    assert.equal(raw.length, recorded.bytes, 'the whole file, as listed');
  });

  test('a recording the server cannot write stops by itself; the chair and the monitor say why', async () => {
    // The media plane writes into data/recordings/SESSION/: a plain file in
    // its place makes the next start fail (the tests run as root, so a
    // read-only folder would not).
    const folder = path.join(server.data, 'recordings', session);
    const aside = `${folder}.aside`;
    await rename(folder, aside);
    await writeFile(folder, 'not a folder');
    try {
      await chair.click('#record');
      await until(chair, 'the failure notice', () => !document.querySelector('#rec-alert').hidden);
      const text = await chair.textContent('#rec-alert-text');
      assert.match(text, /^Ghi hình đã dừng: .*could not be started/, `the notice gives the server's reason: ${text}`);
      const visible = await chair.$eval('#rec-alert', (el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility === 'visible');
      assert.ok(visible, 'the notice is on screen');
      await until(monitor, 'the failure among the alerts', () => {
        const li = document.querySelector('#alerts li[data-kind="recording"]');
        return li && li.dataset.level === 'bad' && li.textContent.includes('Ghi hình đã dừng:') ? li.textContent : false;
      });
      await until(monitor, 'the failure in the log', () => [...document.querySelectorAll('#alert-log li[data-level="bad"]')].some((li) => li.textContent.includes('Ghi hình đã dừng:')));
      // Nothing records: no badge anywhere, and the button offers to record again.
      await badgeGone(site, 'site');
      await badgeGone(monitor, 'monitor');
      await until(chair, 'the button offers to record again', () => document.querySelector('#record').textContent.trim() === 'Ghi hình');
      const state = await server.api(tokens.chair, 'GET', sessionApi(''));
      assert.equal(state.recording, false);
      // In English too.
      await chair.click('.lang-switch');
      assert.match(await chair.textContent('#rec-alert-text'), /^Recording stopped: .*could not be started/);
      assert.equal((await chair.textContent('#record')).trim(), 'Record');
      await chair.click('.lang-switch');
      assert.equal((await chair.textContent('#record')).trim(), 'Ghi hình');
      await chair.click('#rec-alert-close');
      await until(chair, 'the notice dismissed', () => document.querySelector('#rec-alert').hidden);
    } finally {
      await rm(folder, { force: true });
      await rename(aside, folder);
    }
  });

  test('after the meeting ends, the chair page links the minutes, their signature, the speaking log and the recording', async () => {
    await chair.click('#lifecycle');
    await until(chair, 'asked to confirm', () => document.querySelector('#lifecycle').textContent === 'Bấm lần nữa để kết thúc');
    await chair.click('#lifecycle');
    await until(chair, 'the session ended', () => document.querySelector('#phase').dataset.phase === 'ended');
    await until(chair, 'the documents shown', () => !document.querySelector('#records-docs').hidden);
    const docs = await chair.$$eval('#records-docs a', (as) => as.map((a) => ({ kind: a.dataset.kind, href: a.getAttribute('href'), text: a.textContent })));
    const byKind = Object.fromEntries(docs.map((d) => [d.kind, d]));
    assert.equal(byKind.minutes && byKind.minutes.href, sessionApi('/minutes.pdf'), JSON.stringify(docs));
    assert.match(byKind.minutes.text, /^Biên bản/);
    assert.equal(byKind.signature && byKind.signature.href, sessionApi('/minutes.pdf.sig'), JSON.stringify(docs));
    assert.equal(byKind['speaking-log'] && byKind['speaking-log'].href, sessionApi('/speaking-log?format=csv'), JSON.stringify(docs));
    // The panel comes first in the column now.
    assert.equal(await chair.$eval('#records', (el) => getComputedStyle(el).order), '-1');
    // The recording is still there, and nothing can be recorded any more.
    const shown = await chair.evaluate(listedFiles);
    assert.deepEqual(shown.map((f) => f.name), [recorded.name]);
    assert.equal(await chair.$eval('#record', (b) => b.disabled), true);
    for (const page of [chair, site, monitor]) assert.equal((await page.evaluate(badgeOf)).shown, false, 'no badge after the meeting');

    // Each downloads with the page's token.
    const minutes = await downloadFrom('#records-docs a[data-kind="minutes"]');
    assert.equal(minutes.name, `bien-ban-${session}.pdf`);
    assert.equal(minutes.raw.subarray(0, 5).toString('latin1'), '%PDF-', 'a PDF');
    const sig = await downloadFrom('#records-docs a[data-kind="signature"]');
    assert.equal(sig.name, `bien-ban-${session}.pdf.sig`);
    const signed = JSON.parse(sig.raw.toString('utf8'));
    assert.equal(signed.session, session);
    assert.equal(signed.pdf_sha256, createHash('sha256').update(minutes.raw).digest('hex'), 'the signature is of the PDF downloaded');
    const log = await downloadFrom('#records-docs a[data-kind="speaking-log"]');
    const rows = log.raw.toString('utf8').replace(/^\uFEFF/, '').trim().split(/\r?\n/);
    const recordings = rows.filter((r) => r.startsWith('recording,'));
    assert.equal(recordings.length, 2, `the recording and the failed start in the speaking log:\n${rows.join('\n')}`);
    assert.ok(recordings.some((r) => r.includes('could not be started')), `the failure's reason in the log:\n${recordings.join('\n')}`);
  });
});
