// The session as the page knows it: the snapshot the socket sends on
// connect, refreshed after every event.
//
// The server's state is a fold over its events; folding them again here
// would mean a second copy of the rules that could drift. So an event only
// tells us *that* something changed (and lets a page react at once, e.g. a
// roll-call prompt); the state itself is re-read from
// `GET /api/sessions/{id}`, coalesced so a burst of events costs one read.

import { sessionPath } from './api.js';

const REFRESH_DELAY_MS = 120;
// With no session yet, the socket has nothing to follow: look for one this
// often and reconnect when it exists, so a page opened early joins by itself.
const LOOK_FOR_SESSION_MS = 5000;

export class SessionFeed extends EventTarget {
  constructor(signaling, api) {
    super();
    this.api = api;
    this.signaling = signaling;
    this.lookTimer = null;
    this.welcome = null;
    this.state = null;
    this.seq = 0;
    this.refreshTimer = null;
    this.refreshing = false;
    this.again = false;
    // Server clock minus ours, from event times: countdowns follow the
    // server's deadlines even when this machine's clock is off.
    this.offset = 0;
    signaling.on('welcome', (m) => {
      this.welcome = m;
      clearTimeout(this.lookTimer);
      if (!m.session) {
        this.state = null;
        this.emit('nosession', m);
        this.lookForSession();
      }
      this.emit('welcome', m);
    });
    signaling.on('snapshot', (m) => {
      this.seq = m.seq || 0;
      this.set(m.session);
    });
    signaling.on('event', (m) => {
      if (typeof m.seq === 'number' && m.seq <= this.seq) return;
      if (typeof m.seq === 'number') this.seq = m.seq;
      if (m.event && typeof m.event.at === 'number') this.offset = m.event.at - Date.now();
      this.emit('event', m.event);
      this.refreshSoon();
    });
  }

  /** The session id the socket follows. */
  get id() {
    return (this.state && this.state.spec && this.state.spec.id) || (this.welcome && this.welcome.session) || null;
  }

  lookForSession() {
    clearTimeout(this.lookTimer);
    this.lookTimer = setTimeout(async () => {
      try {
        const list = await this.api.get('/api/sessions');
        const current = (list || []).find((x) => x.phase !== 'ended');
        if (current) {
          this.signaling.reconnect(0);
          return;
        }
      } catch (err) {
        console.warn('could not list sessions', err);
      }
      if (this.welcome && !this.welcome.session) this.lookForSession();
    }, LOOK_FOR_SESSION_MS);
  }

  /** Now, on the server's clock (ms since the epoch). */
  now() {
    return Date.now() + this.offset;
  }

  set(session) {
    this.state = session;
    this.emit('change', session);
  }

  refreshSoon() {
    if (this.refreshTimer) return;
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = null;
      this.refresh();
    }, REFRESH_DELAY_MS);
  }

  async refresh() {
    if (!this.id) return;
    if (this.refreshing) {
      this.again = true;
      return;
    }
    this.refreshing = true;
    try {
      const session = await this.api.get(sessionPath(this.id));
      if (session) this.set(session);
    } catch (err) {
      console.warn('session refresh failed', err);
    } finally {
      this.refreshing = false;
      if (this.again) {
        this.again = false;
        this.refreshSoon();
      }
    }
  }

  emit(name, detail) {
    this.dispatchEvent(new CustomEvent(name, { detail }));
  }
}

// Helpers that read the state the server sends (control::Session as JSON).

/** Endpoints ordered by administrative code, central first. */
export function endpointsOf(state) {
  const list = (state && state.spec && state.spec.endpoints) || [];
  return [...list].sort((a, b) => {
    if (a.role !== b.role) return a.role === 'central' ? -1 : 1;
    return compareCodes(a.code, b.code);
  });
}

/** Codes compare as numbers when both are numbers ("2" before "10"), else as text. */
export function compareCodes(a, b) {
  const na = Number(a);
  const nb = Number(b);
  if (Number.isFinite(na) && Number.isFinite(nb) && na !== nb) return na - nb;
  return String(a).localeCompare(String(b));
}

/** The central endpoint's code. */
export function chairCode(state) {
  const c = endpointsOf(state).find((e) => e.role === 'central');
  return c ? c.code : null;
}

/** Attendance record of one endpoint. */
export function attendanceOf(state, code) {
  return (state && state.attendance && state.attendance[code]) || null;
}

/** Whether the chair muted this site (its audio reaches nobody). */
export function isMuted(state, code) {
  return !!(state && Array.isArray(state.muted) && state.muted.includes(code));
}

/** The floor's requests as an array. */
export function floorRequests(state) {
  const reqs = (state && state.floor && state.floor.requests) || {};
  return Object.values(reqs);
}

/** Pending requests in queue order, with 1-based positions. */
export function queueOf(state) {
  const floor = (state && state.floor) || {};
  const reqs = floor.requests || {};
  return (floor.queue || [])
    .map((id, i) => (reqs[id] ? { ...reqs[id], position: i + 1 } : null))
    .filter(Boolean);
}

/** Granted requests, oldest grant first. */
export function holdersOf(state) {
  const floor = (state && state.floor) || {};
  const reqs = floor.requests || {};
  return (floor.holders || []).map((id) => reqs[id]).filter(Boolean);
}

/** The running roll call, or null. */
export function runningRollCall(state) {
  const calls = (state && state.roll_calls) || [];
  const last = calls[calls.length - 1];
  return last && !last.closed ? last : null;
}

/** The latest roll call, running or not. */
export function lastRollCall(state) {
  const calls = (state && state.roll_calls) || [];
  return calls[calls.length - 1] || null;
}

/** Provincial endpoints, and how many are there by status. */
export function tally(state) {
  const out = { total: 0, present: 0, connected: 0, dropped: 0, absent: 0, left: 0 };
  for (const e of endpointsOf(state)) {
    if (e.role === 'central') continue;
    out.total += 1;
    const a = attendanceOf(state, e.code);
    const status = (a && a.status) || 'absent';
    out[status] = (out[status] || 0) + 1;
  }
  return out;
}
