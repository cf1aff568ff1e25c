// Small DOM and formatting helpers. Every string passed to `el` becomes a text node: data entries and
// miner names are untrusted, so nothing here ever parses HTML.

/** Builds an element. `attrs` are attributes (or `class`); children are nodes or plain strings. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'class') node.className = value;
    else node.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Sets an element's text, found by id. */
export function setText(id, text) {
  document.getElementById(id).textContent = text;
}

/** `1234567` → `1.23 MH/s`. */
export function formatHashrate(perSecond) {
  const units = ['H/s', 'kH/s', 'MH/s', 'GH/s', 'TH/s', 'PH/s'];
  let value = Math.max(0, perSecond || 0);
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${value.toFixed(unit === 0 ? 0 : 2)} ${units[unit]}`;
}

/** A number with at most three significant decimals, in a compact form for large values. */
export function formatNumber(value) {
  if (!Number.isFinite(value)) return '–';
  if (Math.abs(value) >= 1e6) return value.toExponential(2);
  return value.toLocaleString('en-US', { maximumFractionDigits: 3 });
}

/** Seconds since `unixSeconds`, as `5 s`, `3 min`, `2 h`, `4 d`. */
export function formatAge(unixSeconds, now = Date.now() / 1000) {
  const age = Math.max(0, Math.round(now - unixSeconds));
  if (age < 60) return `${age} s`;
  if (age < 3600) return `${Math.floor(age / 60)} min`;
  if (age < 86400) return `${Math.floor(age / 3600)} h`;
  return `${Math.floor(age / 86400)} d`;
}

/** `00000a1b…9f3c`: a hash short enough for a table cell. */
export function shortHash(hash) {
  return hash.length > 16 ? `${hash.slice(0, 8)}…${hash.slice(-6)}` : hash;
}

/** Whether `text` is a 64-digit hex hash (the only thing put into our own URLs). */
export function isHash(text) {
  return /^[0-9a-f]{64}$/.test(text);
}

/** A link to the block view. */
export function blockLink(hash, label) {
  return el('a', { href: isHash(hash) ? `#/block/${hash}` : '#/' }, label);
}

/** `123450000` units → `1.2345` (coins have 8 decimals; trailing zeros go). */
export function formatCoins(units) {
  const value = Math.max(0, Math.trunc(Number(units) || 0));
  const whole = Math.floor(value / 1e8);
  const fraction = String(value % 1e8).padStart(8, '0').replace(/0+$/, '');
  return fraction ? `${whole}.${fraction}` : String(whole);
}
