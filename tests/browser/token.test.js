// A console outlives its token: the server closes a socket whose token
// expires, so the page renews the token over the socket before that, keeps
// the new one in its fragment (a reload still works) and for its REST
// calls, and its media stays up past the first token's expiry.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Browser } from './lib/browser.js';
import { Server } from './lib/server.js';
import { until } from './lib/wait.js';

const A = { code: '30', name: 'Hải Dương' };
const TTL_SECS = 12;

const claimsOf = (token) => JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());

describe('token renewal', { timeout: 180_000 }, () => {
  const server = new Server();
  const browser = new Browser();
  let chairToken;
  let session;

  before(async () => {
    await server.start();
    chairToken = await server.token('chair');
    const created = await server.api(chairToken, 'POST', '/api/sessions', { title: 'Gia hạn mã truy cập' });
    session = (created.spec && created.spec.id) || created.id;
    assert.ok(session, `POST /api/sessions answered no id: ${JSON.stringify(created)}`);
    await server.api(chairToken, 'POST', `/api/sessions/${session}/open`);
    await browser.launch();
  });

  after(async () => {
    await browser.close();
    await server.stop();
  });

  test('a site keeps its socket and media past its first token, and reopening its address uses the renewed one', async () => {
    const first = await server.token('endpoint', { endpoint: A.code, ttl: `${TTL_SECS}s` });
    const { exp } = claimsOf(first);
    const site = await browser.open(`${server.url}/endpoint#token=${first}`, { name: `site ${A.code}` });
    await until(site, 'media connected', () => window.diemcau && window.diemcau.media.pcState === 'connected');
    assert.ok(Date.now() < exp * 1000, 'the page connected only after its token expired; nothing to check');

    // Renewed once a quarter of the lifetime is left; the fragment and the
    // page's REST calls follow.
    const renewed = await until(
      site,
      'a renewed token in the fragment',
      (old) => {
        const token = new URLSearchParams(location.hash.slice(1)).get('token');
        const { signaling, feed } = window.diemcau;
        return token !== old && token === signaling.token && token === feed.api.token && token;
      },
      first,
    );
    assert.equal(claimsOf(renewed).exp - claimsOf(renewed).iat, TTL_SECS);
    assert.ok(claimsOf(renewed).exp > exp);

    // Well past the first token's expiry the socket and media are the same.
    const wait = exp * 1000 + 3000 - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const now = await site.evaluate(() => ({
      status: window.diemcau.signaling.status,
      pc: window.diemcau.media.pcState,
    }));
    assert.deepEqual(now, { status: 'open', pc: 'connected' });
    const state = await server.api(chairToken, 'GET', `/api/sessions/${session}`);
    assert.equal(state.attendance[A.code].status, 'connected', JSON.stringify(state.attendance[A.code]));
    assert.equal(state.attendance[A.code].disconnects, 0, JSON.stringify(state.attendance[A.code]));

    // The address bar now carries a renewed token: opened again (as a
    // reload or a bookmark would), it connects. A fresh browser context,
    // since a reload's request can ride an idle keep-alive connection the
    // server no longer answers (its header timeout; not about tokens).
    const url = site.url();
    assert.ok(url.includes('#token=') && !url.includes(first), url);
    await site.context().close();
    const again = await browser.open(url, { name: `site ${A.code} (reopened)` });
    await until(again, 'media connected when reopened', () => window.diemcau && window.diemcau.media.pcState === 'connected');
  });
});
