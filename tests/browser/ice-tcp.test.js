// A site whose network blocks UDP: the server runs the shipped config in a
// namespace of its own (another machine for the browser), where nftables
// drops every UDP datagram to the media port. The pages still meet, over
// ICE-TCP (RFC 6544) to the media port's TCP twin, with no TURN relay.
// The origin is plain HTTP on a non-loopback address, which Chromium is
// told to treat as secure (a deployment uses HTTPS: see https.test.js).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Browser } from './lib/browser.js';
import { Namespace } from './lib/netns.js';
import { Server } from './lib/server.js';
import { describePage, selectedPair, videoPlaying } from './lib/wait.js';

describe('ICE-TCP when UDP to the media port is blocked', { timeout: 180_000 }, () => {
  const server = new Server();
  const browser = new Browser();
  let ns;

  before(async () => {
    ns = new Namespace('tcp');
    ns.nft('table inet diemcau_block {\n chain input { type filter hook input priority 0; udp dport 50000 drop; }\n}\n');
    await server.start({ prefix: ns.prefix(), listen: '0.0.0.0:8080', host: ns.inside, mediaPort: null });
    await browser.launch({ extraArgs: [`--unsafely-treat-insecure-origin-as-secure=${server.url}`] });
  });

  after(async () => {
    await browser.close();
    await server.stop();
    if (ns) ns.close();
  });

  // The server runs in a namespace the browser cannot see into: a failure
  // says what the server logged, and what the other page was doing.
  async function withServerLog(srv, other, wait) {
    try {
      return await wait();
    } catch (err) {
      err.message += `\n--- the other page ---\n${await describePage(other)}\n--- server log ---\n${srv.tail()}`;
      throw err;
    }
  }

  test('the chair and a site meet over TCP', async () => {
    const { chairToken } = await server.liveSession('Họp qua ICE-TCP');
    const siteToken = await server.token('endpoint', { endpoint: '30' });

    const chair = await browser.open(`${server.url}/chair#token=${chairToken}`, { name: 'chair' });
    const loaded = Date.now();
    const site = await browser.open(`${server.url}/endpoint#token=${siteToken}`, { name: 'site 30' });
    await withServerLog(server, chair, () => videoPlaying(site, '#chair-video'));
    console.log(`[figure] UDP blocked, ICE-TCP: page load → chair's picture playing at the site: ${Date.now() - loaded} ms`);
    await withServerLog(server, site, () => videoPlaying(chair, '.tile[data-code="30"] video'));
    const { protocol } = await selectedPair(site);
    assert.equal(protocol, 'tcp');
  });
});
