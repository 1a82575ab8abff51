// A page told to use the relay only (a join link ending `&relay=1`, for a
// room whose network lets nothing but the TURN relay through): the shipped
// config with its [media.turn] lines filled in, Debian's coturn with
// `use-auth-secret` beside it, and Chromium with `iceTransportPolicy:
// "relay"`. The site gets the programme through coturn, with credentials
// the server minted for it.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Browser } from './lib/browser.js';
import { Server, repoRoot, shippedConfig } from './lib/server.js';
import { selectedPair, videoPlaying } from './lib/wait.js';

const TURN_PORT = 34780 + (process.pid % 200);

describe('a page that may use the TURN relay only', { timeout: 180_000 }, () => {
  const server = new Server();
  const browser = new Browser();
  let dir;
  let turn;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'diemcau-relay-'));
    const secret = randomBytes(24).toString('hex');
    turn = spawn('turnserver', [
      '-n', '--no-cli', '--no-tls', '--no-dtls', '--fingerprint',
      '--listening-ip=127.0.0.1', '--relay-ip=127.0.0.1', `--listening-port=${TURN_PORT}`,
      '--min-port=49300', '--max-port=49400', '--allow-loopback-peers',
      '--use-auth-secret', `--static-auth-secret=${secret}`, '--realm=diemcau.test',
      '--log-file=stdout', '--simple-log',
    ], { stdio: ['ignore', 'ignore', 'ignore'] });
    const shipped = await readFile(shippedConfig, 'utf8');
    const config = shipped
      .replace('# [media.turn]', '[media.turn]')
      .replace(
        '# urls = ["turn:turn.example.vn:3478?transport=udp", "turn:turn.example.vn:3478?transport=tcp"]',
        `urls = ["turn:127.0.0.1:${TURN_PORT}?transport=udp", "turn:127.0.0.1:${TURN_PORT}?transport=tcp"]`,
      )
      .replace('# secret = "change-me-to-a-long-random-string"', `secret = "${secret}"`)
      .replace('# ttl_secs = 43200', 'ttl_secs = 3600')
      .replace('registry = "endpoints-63.toml"', `registry = ${JSON.stringify(path.join(repoRoot, 'config', 'endpoints-63.toml'))}`);
    assert.ok(config.includes(secret) && config.includes('[media.turn]'));
    const configPath = path.join(dir, 'diemcau.toml');
    await writeFile(configPath, config);
    await server.start({ config: configPath });
    await browser.launch();
  });

  after(async () => {
    await browser.close();
    await server.stop();
    if (turn && turn.exitCode === null) turn.kill('SIGTERM');
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('the site gets the programme through coturn', async () => {
    const { chairToken } = await server.liveSession('Họp qua TURN');
    const siteToken = await server.token('endpoint', { endpoint: '30' });

    await browser.open(`${server.url}/chair#token=${chairToken}`, { name: 'chair' });
    const loaded = Date.now();
    const site = await browser.open(`${server.url}/endpoint#token=${siteToken}&relay=1`, { name: 'site 30' });
    await videoPlaying(site, '#chair-video');
    console.log(`[figure] relay only, through coturn: page load → chair's picture playing at the site: ${Date.now() - loaded} ms`);
    const { type, policy } = await selectedPair(site);
    assert.deepEqual({ type, policy }, { type: 'relay', policy: 'relay' });
  });
});
