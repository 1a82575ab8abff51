// The join token travels in the URL fragment (`#token=…`) because browsers
// never send the fragment to the server: it stays out of access logs and
// proxies. From here it only goes into an `Authorization` header or the
// WebSocket's `?token=`.

/** The token from `location.hash`, or null. */
export function tokenFromHash(hash = location.hash) {
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  const token = params.get('token');
  return token && token.trim() ? token.trim() : null;
}

/**
 * The token's claims, decoded without checking the signature (the server
 * checks it). Used only to show who the page is before the socket answers.
 */
export function peekClaims(token) {
  try {
    const part = token.split('.')[1];
    const b64 = part.replace(/-/g, '+').replace(/_/g, '/');
    const padded = b64 + '='.repeat((4 - (b64.length % 4)) % 4);
    const bytes = Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return null;
  }
}

/**
 * Milliseconds from `now` until the token should be renewed: once less than
 * a quarter of its lifetime (`exp - iat`) is left, so a slow answer or a
 * retry still lands before it runs out. 0 when that time has come; null
 * when the token does not say. Only the moment is chosen here: the server
 * decides whether a renewal is granted.
 */
export function refreshDelay(token, now = Date.now()) {
  const c = peekClaims(token);
  if (!c || !Number.isFinite(c.exp) || !Number.isFinite(c.iat)) return null;
  const at = (c.exp - Math.max(0, c.exp - c.iat) / 4) * 1000;
  return Math.max(0, at - now);
}

/**
 * Keeps a renewed token in the fragment, so a reload still works.
 * `replaceState` fires no `hashchange` (which reloads the page).
 */
export function storeToken(token) {
  const params = new URLSearchParams(location.hash.replace(/^#/, ''));
  params.set('token', token);
  history.replaceState(history.state, '', `#${params}`);
}
