// Settings and followed entries kept across reloads. Where storage is blocked (privacy settings,
// sandboxed frames) touching `localStorage` throws: the page then keeps them in memory instead.

const memory = new Map();

function local() {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}

/** The text stored under `key`, or null. */
export function load(key) {
  try {
    const value = local()?.getItem(key);
    if (value !== null && value !== undefined) return value;
  } catch {
    // Blocked: fall back to memory.
  }
  return memory.get(key) ?? null;
}

/** Stores `value` under `key` (in memory too, should the browser refuse it). */
export function save(key, value) {
  memory.set(key, String(value));
  try {
    local()?.setItem(key, String(value));
  } catch {
    // Blocked or full: the in-memory copy lasts until the page closes.
  }
}

/** Forgets `key`. */
export function forget(key) {
  memory.delete(key);
  try {
    local()?.removeItem(key);
  } catch {
    // Blocked: nothing stored there anyway.
  }
}
