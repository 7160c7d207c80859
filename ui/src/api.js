// The UI's only way to the server: the public /api/v1, with the bearer
// token the user typed (kept in sessionStorage, so for this browser tab's
// session only).

const TOKEN_KEY = 'opshub.token';

export class APIError extends Error {
  constructor(status, message, field) {
    super(message);
    this.status = status;
    this.field = field;
  }
}

let onUnauthorized = () => {};

// whenUnauthorized registers what to do when the API answers 401 (ask for
// a token).
export function whenUnauthorized(fn) {
  onUnauthorized = fn;
}

export function token() {
  try {
    return sessionStorage.getItem(TOKEN_KEY) || '';
  } catch {
    return '';
  }
}

export function setToken(t) {
  try {
    if (t) sessionStorage.setItem(TOKEN_KEY, t);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    // Storage refused (private mode): the token lasts until reload.
  }
  memoryToken = t;
}

let memoryToken = '';

// bearer is the token requests carry ('' for none).
export function bearer() {
  return token() || memoryToken;
}

function headers(extra) {
  const h = { Accept: 'application/json', ...extra };
  const t = bearer();
  if (t) h.Authorization = 'Bearer ' + t;
  return h;
}

async function failure(resp) {
  let msg = resp.status + ' ' + resp.statusText;
  let field;
  try {
    const body = await resp.json();
    if (body && body.error) {
      msg = body.error;
      field = body.field;
    }
  } catch {
    // Not JSON: keep the status line.
  }
  if (resp.status === 401) onUnauthorized(msg);
  return new APIError(resp.status, msg, field);
}

// query builds "?a=1&b=2" from an object, leaving out empty values.
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== '' && v !== false) q.set(k, String(v));
  }
  const s = q.toString();
  return s ? '?' + s : '';
}

// get fetches /api/v1/<path> and returns its JSON.
export async function get(path, params, signal) {
  const resp = await fetch('/api/v1/' + path + query(params), { headers: headers(), signal });
  if (!resp.ok) throw await failure(resp);
  return resp.json();
}

// post sends a JSON body (or none) and returns the JSON answer.
export async function post(path, body) {
  const resp = await fetch('/api/v1/' + path, {
    method: 'POST',
    headers: headers(body === undefined ? {} : { 'Content-Type': 'application/json' }),
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!resp.ok) throw await failure(resp);
  return resp.json();
}

// tail follows GET /api/v1/logs/tail (Server-Sent Events) until signal
// aborts. EventSource cannot send an Authorization header, so the stream is
// read through fetch. onLines receives the records of each network read
// together, so a fast stream costs one render per read, not per line.
export async function tail(params, onLines, signal) {
  const resp = await fetch('/api/v1/logs/tail' + query(params), {
    headers: headers({ Accept: 'text/event-stream' }),
    signal,
  });
  if (!resp.ok) throw await failure(resp);
  const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value;
    const batch = [];
    let end;
    while ((end = buf.indexOf('\n\n')) >= 0) {
      const event = buf.slice(0, end);
      buf = buf.slice(end + 2);
      let name = 'message';
      let data = '';
      for (const line of event.split('\n')) {
        if (line.startsWith('data: ')) data += line.slice(6);
        else if (line.startsWith('event: ')) name = line.slice(7);
      }
      if (!data) continue;
      const obj = JSON.parse(data);
      if (name === 'error') throw new APIError(500, obj.error || 'the tail ended');
      batch.push(obj);
    }
    if (batch.length) onLines(batch);
  }
}

// refusal asks the API with a plain GET what it says to path, for the
// reason a WebSocket to it was refused (a browser does not show a refused
// upgrade's answer). It returns the API's message, or null when the GET
// passed authorization (the refusal came later).
export async function refusal(path) {
  try {
    const resp = await fetch('/api/v1/' + path, { headers: headers() });
    if (resp.status === 401 || resp.status === 403 || resp.status === 404 || resp.status === 409 || resp.status === 429)
      return (await failure(resp)).message;
  } catch {
    // The server is unreachable: the caller says the connection failed.
  }
  return null;
}
