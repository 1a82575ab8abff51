// Runs the real diemcau binary for the browser tests with the shipped
// config file (config/diemcau.toml): only the ports (HTTP on 127.0.0.1
// with a port the OS picks, media on any free port) and the data directory
// are the test's. Media is bound to the wildcard as shipped, so the pages
// connect to the machine's interface addresses that the server advertises.
// Tokens are minted with the same binary and secret.

import { spawn, execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '..', '..', '..');

const STARTUP_TIMEOUT_MS = 60_000;
const TOKEN_TIMEOUT_MS = 20_000;

/** The binary under test: $DIEMCAU_BIN, else the debug build. */
export function binaryPath() {
  const bin = process.env.DIEMCAU_BIN || path.join(repoRoot, 'target', 'debug', 'diemcau');
  return path.resolve(process.cwd(), bin);
}

export const shippedConfig = path.join(repoRoot, 'config', 'diemcau.toml');

export class Server {
  constructor() {
    this.url = null;
    this.dir = null;
    this.proc = null;
    this.secret = `browser-tests-${process.pid}-${Date.now()}-secret-long-enough-for-hs256`;
    this.log = [];
  }

  env() {
    return { ...process.env, DIEMCAU_SECRET: this.secret, RUST_LOG: process.env.RUST_LOG || 'info' };
  }

  /**
   * Starts the server and waits for `diemcau listening on http(s)://ADDR`.
   * `config` (a file written from the shipped one) and `listen` serve the
   * HTTPS test; `ca` is the PEM its REST calls trust.
   */
  async start({ config = shippedConfig, listen = '127.0.0.1:0', ca = null, prefix = [], host = null, mediaPort = '0' } = {}) {
    const bin = binaryPath();
    if (!existsSync(bin)) throw new Error(`no server binary at ${bin}: run cargo build, or set DIEMCAU_BIN`);
    this.dir = await mkdtemp(path.join(tmpdir(), 'diemcau-browser-'));
    this.config = config;
    this.ca = ca;
    const data = path.join(this.dir, 'data');
    const args = ['serve', '--config', config, '--data', data, '--listen', listen];
    if (mediaPort !== null) args.push('--media-port', mediaPort);
    // `prefix` runs the server elsewhere, e.g. `ip netns exec NAME`.
    const [program, ...programArgs] = [...prefix, bin, ...args];
    this.proc = spawn(program, programArgs, {
      env: this.env(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.data = data;
    this.url = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`server did not say it was listening within ${STARTUP_TIMEOUT_MS} ms:\n${this.tail()}`)), STARTUP_TIMEOUT_MS);
      let buffered = '';
      const watch = (chunk) => {
        const text = chunk.toString();
        this.keep(text);
        buffered += text;
        const m = /diemcau listening on (https?:\/\/[^\s]+)/.exec(buffered);
        if (m) {
          clearTimeout(timer);
          resolve(m[1].replace(/\/$/, ''));
        }
      };
      this.proc.stdout.on('data', watch);
      this.proc.stderr.on('data', (c) => this.keep(c.toString()));
      this.proc.on('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`server exited (${code ?? signal}) before listening:\n${this.tail()}`));
      });
    });
    if (host) {
      const listening = new URL(this.url);
      this.url = `${listening.protocol}//${host}:${listening.port}`;
    }
    const u = new URL(this.url);
    const loopback = ['127.0.0.1', '[::1]', 'localhost'].includes(u.hostname);
    if (!loopback && listen.startsWith('127.0.0.1')) {
      throw new Error(`server listens on ${u.hostname}, not loopback`);
    }
    return this.url;
  }

  keep(text) {
    this.log.push(text);
    if (this.log.length > 400) this.log.splice(0, this.log.length - 400);
  }

  tail(n = 60) {
    return this.log.join('').split('\n').slice(-n).join('\n');
  }

  /**
   * `diemcau token --role R [--endpoint CODE] [--session ID]`, with the
   * server's config (the registry checks the code) and secret.
   */
  token(role, { endpoint, session, ttl } = {}) {
    const args = ['token', '--role', role, '--config', this.config, '--data', this.data];
    if (endpoint) args.push('--endpoint', endpoint);
    if (session) args.push('--session', session);
    if (ttl) args.push('--ttl', ttl);
    return new Promise((resolve, reject) => {
      execFile(binaryPath(), args, { env: this.env(), timeout: TOKEN_TIMEOUT_MS }, (err, stdout, stderr) => {
        if (err) {
          reject(new Error(`diemcau token failed: ${err.message}\n${stderr}`));
          return;
        }
        const lines = stdout.trim().split('\n').filter(Boolean);
        // The token is the line that looks like a JWT (three base64url parts).
        const jwt = lines.map((l) => l.trim()).find((l) => /^[\w-]+\.[\w-]+\.[\w-]+$/.test(l));
        if (!jwt) reject(new Error(`no token in the output of diemcau token: ${stdout}`));
        else resolve(jwt);
      });
    });
  }

  /** A REST call with a bearer token; throws on a non-2xx answer. */
  async api(token, method, route, body) {
    if (this.ca) return this.apiTls(token, method, route, body);
    const init = { method, headers: { Authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(15_000) };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const res = await fetch(this.url + route, init);
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${route}: ${res.status} ${text}`);
    const type = res.headers.get('content-type') || '';
    return type.includes('json') && text ? JSON.parse(text) : text;
  }

  /** A session made live by the chair: `{ session, chairToken }`. */
  async liveSession(title) {
    const chairToken = await this.token('chair');
    const created = await this.api(chairToken, 'POST', '/api/sessions', { title });
    const session = (created.spec && created.spec.id) || created.id;
    await this.api(chairToken, 'POST', `/api/sessions/${session}/open`);
    await this.api(chairToken, 'POST', `/api/sessions/${session}/start`);
    return { session, chairToken };
  }

  /** `api` over HTTPS, trusting only `this.ca`. */
  apiTls(token, method, route, body) {
    const payload = body === undefined ? null : JSON.stringify(body);
    const headers = { Authorization: `Bearer ${token}` };
    if (payload !== null) {
      headers['Content-Type'] = 'application/json';
      headers['Content-Length'] = Buffer.byteLength(payload);
    }
    return new Promise((resolve, reject) => {
      const req = https.request(this.url + route, { method, headers, ca: this.ca, timeout: 15_000 }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c) => { text += c; });
        res.on('end', () => {
          if (res.statusCode < 200 || res.statusCode > 299) {
            reject(new Error(`${method} ${route}: ${res.statusCode} ${text}`));
            return;
          }
          const type = res.headers['content-type'] || '';
          resolve(type.includes('json') && text ? JSON.parse(text) : text);
        });
      });
      req.on('timeout', () => req.destroy(new Error(`${method} ${route}: timed out`)));
      req.on('error', reject);
      if (payload !== null) req.write(payload);
      req.end();
    });
  }

  async stop() {
    if (this.proc && this.proc.exitCode === null) {
      const exited = new Promise((resolve) => this.proc.once('exit', resolve));
      this.proc.kill('SIGTERM');
      const timer = setTimeout(() => this.proc.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
  }
}
