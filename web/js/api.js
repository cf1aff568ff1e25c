// Talking to the master that served this page: REST calls and self-reconnecting WebSockets.

/** The error a failed API call throws: the body's `error` text and the HTTP status. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** `GET`s (or, with a body, `POST`s JSON to) `path` and returns the parsed answer. */
export async function api(path, body) {
  const init = body === undefined
    ? {}
    : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    // The browser says only "Failed to fetch": the master is stopped, restarting or unreachable.
    throw new ApiError(0, 'Cannot reach the master: it may be stopped or restarting. Try again in a moment.');
  }
  let json = null;
  try {
    json = await response.json();
  } catch {
    // Not JSON: reported below with the status alone.
  }
  if (!response.ok) {
    throw new ApiError(response.status, json?.error ?? `HTTP ${response.status}`);
  }
  return json;
}

/** The `ws://` (or `wss://`) URL of `path` on this page's host. */
export function socketUrl(path) {
  const url = new URL(path, location.href);
  url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.href;
}

const FIRST_DELAY_MS = 500;
const MAX_DELAY_MS = 8000;
/** A connection open this long (or that brought a message) worked: the pauses start short again. */
const STABLE_MS = 5000;

/**
 * A WebSocket of JSON messages that reconnects by itself (after 0.5 s, doubling up to 8 s) until
 * `close()` is called, so the page carries on when the master restarts. A master that accepts and
 * at once drops the socket keeps the pauses growing.
 */
export class Feed {
  constructor(path, { onOpen = () => {}, onMessage = () => {}, onDown = () => {} } = {}) {
    this.url = socketUrl(path);
    this.handlers = { onOpen, onMessage, onDown };
    this.socket = null;
    this.closed = false;
    this.delay = FIRST_DELAY_MS;
    this.timer = null;
    this.connect();
  }

  connect() {
    this.timer = null;
    const socket = new WebSocket(this.url);
    this.socket = socket;
    let openedAt = null;
    let heard = false;
    socket.onopen = () => {
      openedAt = performance.now();
      this.handlers.onOpen();
    };
    socket.onmessage = (event) => {
      heard = true;
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        console.warn('ignoring a non-JSON message', event.data);
        return;
      }
      this.handlers.onMessage(message);
    };
    socket.onclose = () => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (this.closed) return;
      this.handlers.onDown();
      if (heard || (openedAt !== null && performance.now() - openedAt >= STABLE_MS)) this.delay = FIRST_DELAY_MS;
      this.timer = setTimeout(() => this.connect(), this.delay);
      this.delay = Math.min(this.delay * 2, MAX_DELAY_MS);
    };
  }

  /** Whether messages can be sent now. */
  get isOpen() {
    return this.socket?.readyState === WebSocket.OPEN;
  }

  /** Sends `message` as JSON; returns false when the socket is down. */
  send(message) {
    if (!this.isOpen) return false;
    this.socket.send(JSON.stringify(message));
    return true;
  }

  /** Closes for good: no more reconnects. */
  close() {
    this.closed = true;
    clearTimeout(this.timer);
    const socket = this.socket;
    this.socket = null;
    socket?.close();
  }
}
