// The REST API under /api, with the page's token as a bearer. Errors come
// back as `{"error": code, "message": text}`; they are thrown as ApiError so
// callers can show the message and match on the code.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code || `http_${status}`;
  }
}

/** Requests slower than this are abandoned: a console must not hang on a dead server. */
const TIMEOUT_MS = 15000;

export class Api {
  constructor(token) {
    this.token = token;
  }

  async request(method, path, body) {
    const headers = { Authorization: `Bearer ${this.token}` };
    const init = { method, headers, signal: AbortSignal.timeout(TIMEOUT_MS) };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch (err) {
      throw new ApiError(0, 'network', err && err.message);
    }
    if (!response.ok) {
      let code = null;
      let message = null;
      try {
        const data = await response.json();
        code = data.error;
        message = data.message;
      } catch {
        // Not JSON (a proxy's error page): the status says enough.
      }
      throw new ApiError(response.status, code, message);
    }
    return response;
  }

  async json(method, path, body) {
    const response = await this.request(method, path, body);
    const text = await response.text();
    return text ? JSON.parse(text) : null;
  }

  get(path) {
    return this.json('GET', path);
  }
  post(path, body) {
    return this.json('POST', path, body);
  }
  put(path, body) {
    return this.json('PUT', path, body);
  }
  delete(path) {
    return this.json('DELETE', path);
  }

  /**
   * Fetches a file with the token and hands it to the browser as a download.
   * A plain link cannot carry the Authorization header.
   */
  async download(path, filename) {
    const response = await this.request('GET', path);
    const blob = await response.blob();
    const url = URL.createObjectURL(blob);
    const a = document.createElement('a');
    a.href = url;
    a.download = filename;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }
}

/** `/api/sessions/{id}` + rest, with the id escaped. */
export function sessionPath(id, rest = '') {
  return `/api/sessions/${encodeURIComponent(id)}${rest}`;
}
