// A provincial room on another machine: the pages come over HTTPS from an
// address that is not localhost, so the browser treats them as a secure
// origin only because of the certificate. `diemcau cert --ca` makes an
// internal CA and the server's certificate for the machine's address; the
// shipped config with its [tls] lines filled in serves them; Chromium
// trusts that one certificate (as a room's machine trusts the installed
// CA). The chair and a site join; each sees the other's picture.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { networkInterfaces, tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Browser } from './lib/browser.js';
import { Server, binaryPath, repoRoot, shippedConfig } from './lib/server.js';
import { until, videoPlaying } from './lib/wait.js';

const run = promisify(execFile);

/** This machine's first non-loopback IPv4 address: an origin that is not localhost. */
function hostAddress() {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list || []) {
      if (a.family === 'IPv4' && !a.internal) return a.address;
    }
  }
  throw new Error('no non-loopback IPv4 address on this machine for an HTTPS origin');
}

/** The base64 SHA-256 of a certificate's public key, as Chromium's SPKI allow-list takes it. */
function spkiHash(pem) {
  const spki = new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('base64');
}

describe('HTTPS from an address that is not localhost', { timeout: 180_000 }, () => {
  const server = new Server();
  const browser = new Browser();
  let dir;
  let ip;

  before(async () => {
    ip = hostAddress();
    dir = await mkdtemp(path.join(tmpdir(), 'diemcau-https-'));
    const certs = path.join(dir, 'certs');
    await run(binaryPath(), ['cert', '--ca', '--name', ip, '--name', 'localhost', '--out', certs]);
    // The shipped config, its [tls] lines filled in and its registry named
    // by full path (the copy lives elsewhere); nothing else changed.
    const shipped = await readFile(shippedConfig, 'utf8');
    const config = shipped
      .replace('# cert_file = "server.crt"', `cert_file = ${JSON.stringify(path.join(certs, 'server.crt'))}`)
      .replace('# key_file = "server.key"', `key_file = ${JSON.stringify(path.join(certs, 'server.key'))}`)
      .replace('registry = "endpoints-63.toml"', `registry = ${JSON.stringify(path.join(repoRoot, 'config', 'endpoints-63.toml'))}`);
    assert.notEqual(config, shipped);
    const configPath = path.join(dir, 'diemcau.toml');
    await writeFile(configPath, config);
    const ca = await readFile(path.join(certs, 'ca.crt'), 'utf8');
    const leaf = await readFile(path.join(certs, 'server.crt'), 'utf8');
    await server.start({ config: configPath, listen: `${ip}:0`, ca });
    assert.ok(server.url.startsWith(`https://${ip}:`), server.url);
    await browser.launch({ extraArgs: [`--ignore-certificate-errors-spki-list=${spkiHash(leaf)}`] });
  });

  after(async () => {
    await browser.close();
    await server.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('the chair and a site meet over HTTPS on a secure origin', async () => {
    const { chairToken } = await server.liveSession('Họp qua HTTPS');
    const siteToken = await server.token('endpoint', { endpoint: '30' });

    const chair = await browser.open(`${server.url}/chair#token=${chairToken}`, { name: 'chair' });
    const loaded = Date.now();
    const site = await browser.open(`${server.url}/endpoint#token=${siteToken}`, { name: 'site 30' });
    const origin = await site.evaluate(() => ({ secure: window.isSecureContext, protocol: location.protocol, host: location.hostname }));
    assert.deepEqual(origin, { secure: true, protocol: 'https:', host: ip });
    await until(site, 'socket open', () => document.querySelector('.conn-status').dataset.status === 'open');
    await videoPlaying(site, '#chair-video');
    console.log(`[figure] HTTPS page load → chair's picture playing at the site: ${Date.now() - loaded} ms`);
    await videoPlaying(chair, '.tile[data-code="30"] video');
  });
});
