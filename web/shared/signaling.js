// The WebSocket to /ws: events in, commands and media signaling out.
//
// The socket is the page's lifeline, so it reconnects by itself with an
// exponential backoff (with jitter, so 63 sites coming back after a server
// restart do not all knock at the same instant) and reports its state for
// the status badge. Commands are answered `ok`/`error` by the id we give
// them; a command whose socket dies before the answer is rejected, never
// left pending.
//
// The server closes the socket when its token expires, so the socket renews
// the token (`refresh`) while a quarter of its lifetime is left, and uses
// the new one from then on (reconnects too); listeners of `token` keep it
// for REST and for a reload.

import { refreshDelay } from './token.js';

const BACKOFF_FIRST_MS = 1000;
const BACKOFF_MAX_MS = 15000;
const COMMAND_TIMEOUT_MS = 10000;
const PING_EVERY_MS = 20000;
// No message at all for this long (pings included) means a dead path that
// the browser has not noticed yet: drop it and reconnect.
const SILENCE_LIMIT_MS = 50000;
// A refused or unanswered renewal is tried again this much later.
const REFRESH_RETRY_MS = 10000;
// setTimeout fires at once past 2^31-1 ms (24.8 days); a long-lived token
// waits in steps.
const TIMER_MAX_MS = 2 ** 31 - 1;

/** Connection states shown to people: see i18n `status.*`. */
export const Status = Object.freeze({
  CONNECTING: 'connecting',
  OPEN: 'open',
  RECONNECTING: 'reconnecting',
  STOPPED: 'stopped',
});

export class CommandError extends Error {
  constructor(code, message) {
    super(message || code);
    this.code = code;
  }
}

export class Signaling extends EventTarget {
  /**
   * @param {string} token  the page's token (goes into `?token=`)
   * @param {object} opts   `session`: follow this session id
   */
  constructor(token, opts = {}) {
    super();
    this.token = token;
    this.session = opts.session || null;
    this.status = Status.STOPPED;
    this.ws = null;
    this.attempt = 0;
    this.nextId = 1;
    this.pending = new Map();
    this.handlers = new Map();
    this.timers = { retry: null, ping: null, silence: null, refresh: null };
    this.stopped = true;
  }

  /** Handles every message of `type`; returns a function that removes the handler. */
  on(type, fn) {
    if (!this.handlers.has(type)) this.handlers.set(type, new Set());
    this.handlers.get(type).add(fn);
    return () => this.handlers.get(type).delete(fn);
  }

  url() {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const q = new URLSearchParams({ token: this.token });
    if (this.session) q.set('session', this.session);
    return `${proto}//${location.host}/ws?${q}`;
  }

  start() {
    this.stopped = false;
    this.open();
  }

  stop() {
    this.stopped = true;
    this.clearTimers();
    if (this.ws) this.ws.close(1000);
    this.setStatus(Status.STOPPED);
  }

  /** Drops the socket and connects again after `delayMs` (e.g. to pick up a new session). */
  reconnect(delayMs = 0) {
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      ws.close(1000);
      this.closed();
    }
    this.schedule(delayMs);
  }

  open() {
    this.clearTimers();
    this.retryAt = null;
    this.setStatus(this.attempt === 0 ? Status.CONNECTING : Status.RECONNECTING, true);
    let ws;
    try {
      ws = new WebSocket(this.url());
    } catch {
      this.schedule(this.backoff());
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      if (this.ws !== ws) return;
      this.heard();
      this.timers.ping = setInterval(() => this.send({ type: 'ping' }), PING_EVERY_MS);
    };
    ws.onmessage = (e) => {
      if (this.ws !== ws) return;
      this.heard();
      let msg;
      try {
        msg = JSON.parse(e.data);
      } catch {
        return;
      }
      this.dispatch(msg);
    };
    ws.onclose = (e) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.closed(e.code);
      if (!this.stopped) this.schedule(this.backoff());
    };
    // `error` is always followed by `close`, where the retry is scheduled.
    ws.onerror = () => {};
  }

  closed(code) {
    this.clearTimers();
    for (const { reject, timer } of this.pending.values()) {
      clearTimeout(timer);
      reject(new CommandError('disconnected', 'connection lost'));
    }
    this.pending.clear();
    this.emit('close', { code });
  }

  dispatch(msg) {
    if (msg.type === 'welcome') {
      this.attempt = 0;
      this.setStatus(Status.OPEN);
      this.planRefresh();
    }
    const answer = msg.type === 'ok' || msg.type === 'token' || msg.type === 'error';
    if (answer && msg.id && this.pending.has(msg.id)) {
      const { resolve, reject, timer } = this.pending.get(msg.id);
      clearTimeout(timer);
      this.pending.delete(msg.id);
      if (msg.type === 'error') reject(new CommandError(msg.error, msg.message));
      else resolve(msg);
    }
    const set = this.handlers.get(msg.type);
    if (set) {
      for (const fn of [...set]) {
        try {
          fn(msg);
        } catch (err) {
          console.error(`handler for ${msg.type} failed`, err);
        }
      }
    }
  }

  heard() {
    clearTimeout(this.timers.silence);
    this.timers.silence = setTimeout(() => {
      if (this.ws) this.ws.close(4000);
    }, SILENCE_LIMIT_MS);
  }

  backoff() {
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** this.attempt);
    this.attempt += 1;
    return base / 2 + Math.random() * (base / 2);
  }

  schedule(delayMs) {
    clearTimeout(this.timers.retry);
    if (this.stopped) return;
    this.retryAt = Date.now() + delayMs;
    // Re-announced even when already reconnecting: the countdown changed.
    this.setStatus(Status.RECONNECTING, true);
    this.timers.retry = setTimeout(() => this.open(), delayMs);
  }

  clearTimers() {
    clearTimeout(this.timers.retry);
    clearInterval(this.timers.ping);
    clearTimeout(this.timers.silence);
    clearTimeout(this.timers.refresh);
  }

  /** Arms the renewal of the token for when a quarter of its lifetime is left. */
  planRefresh() {
    clearTimeout(this.timers.refresh);
    const delay = refreshDelay(this.token);
    if (delay === null) return;
    this.timers.refresh = setTimeout(
      () => (refreshDelay(this.token) > 0 ? this.planRefresh() : this.refresh()),
      Math.min(delay, TIMER_MAX_MS),
    );
  }

  async refresh() {
    try {
      const { token } = await this.request({ type: 'refresh' });
      this.token = token;
      this.emit('token', { token });
      this.planRefresh();
    } catch {
      // A socket that closed meanwhile plans again on its next `welcome`.
      if (this.ws) this.timers.refresh = setTimeout(() => this.refresh(), REFRESH_RETRY_MS);
    }
  }

  /** Sends a message if the socket is open; returns whether it went out. */
  send(msg) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(msg));
    return true;
  }

  /** Runs a control command; resolves on `ok`, rejects with CommandError. */
  command(command) {
    return this.request({ type: 'command', command });
  }

  /** Sends `msg` with a fresh id; resolves on its answer (`ok`, `token`), rejects with CommandError. */
  request(msg) {
    const id = `c${this.nextId++}`;
    return new Promise((resolve, reject) => {
      if (!this.send({ ...msg, id })) {
        reject(new CommandError('disconnected', 'not connected'));
        return;
      }
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new CommandError('timeout', 'no answer from the server'));
      }, COMMAND_TIMEOUT_MS);
      this.pending.set(id, { resolve, reject, timer });
    });
  }

  setStatus(status, force = false) {
    if (this.status === status && !force) return;
    this.status = status;
    this.emit('status', { status });
  }

  emit(name, detail) {
    this.dispatchEvent(new CustomEvent(name, { detail }));
  }
}
