// The explorer's search and its detail views: transactions, addresses and data entries, each at a
// permalink (`#/tx/…`, `#/address/…`, `#/data/…`). Everything shown comes from the master and is
// untrusted text: it goes in through `el` (text nodes), never as HTML.

import { api } from './api.js';
import { blockLink, el, formatCoins, isHash, setText } from './dom.js';

/** A data entry's proof is checked by the core crate compiled to wasm (the scalar build: it loads
 * in every browser, and one proof is little work). Loaded on first use. */
let core = null;
export function loadCore() {
  core ??= import('../pkg-scalar/bbchain_miner_wasm.js').then(async (glue) => {
    await glue.default();
    return glue;
  });
  return core;
}

/** What a search box entry is, as far as its shape tells. */
function shapeOf(text) {
  if (/^\d{1,10}$/.test(text)) return 'height';
  if (isHash(text)) return 'hash';
  if (/^[a-z]{1,83}1[02-9ac-hj-np-z]{6,}$/.test(text)) return 'address';
  return 'unknown';
}

/** The permalink for a search, or null with the reason nothing was found. */
export async function resolve(query) {
  const text = query.trim().toLowerCase();
  const found = async (path) => {
    try {
      await api(path);
      return true;
    } catch (error) {
      if (error.status === 404 || error.status === 400) return false;
      throw error;
    }
  };
  switch (shapeOf(text)) {
    case 'height':
      return (await found(`api/blocks/${text}`)) ? `#/block/${text}` : null;
    case 'hash':
      // One 64-digit hash may name a block, a transaction or a data entry: ask in that order.
      if (await found(`api/blocks/${text}`)) return `#/block/${text}`;
      if (await found(`api/tx/${text}`)) return `#/tx/${text}`;
      if (await found(`api/data/${text}`)) return `#/data/${text}`;
      return null;
    case 'address':
      return (await found(`api/address/${text}`)) ? `#/address/${text}` : null;
    default:
      return null;
  }
}

/** Wires the search box: Enter goes to the matching view or says nothing was found. */
export function setupSearch() {
  const form = document.getElementById('search-form');
  const input = document.getElementById('search-input');
  const result = document.getElementById('search-result');
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const query = input.value.trim();
    result.textContent = '';
    if (!query) return;
    try {
      const target = await resolve(query);
      if (target) {
        location.hash = target;
        input.value = '';
      } else {
        result.textContent = `Nothing found for “${query.slice(0, 80)}”: try a height, a block hash, a txid, an address or a data id.`;
      }
    } catch (error) {
      result.textContent = error.message;
    }
  });
}

/** A button that copies `text` to the clipboard. */
function copyButton(text) {
  const button = el('button', { type: 'button', class: 'copy', title: 'Copy' }, 'Copy');
  button.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(text);
      button.textContent = 'Copied';
    } catch {
      button.textContent = 'Copy failed';
    }
    setTimeout(() => {
      button.textContent = 'Copy';
    }, 1500);
  });
  return button;
}

/** A hash or address with its copy button. */
function copyable(text, link) {
  return el('span', { class: 'copyable' }, link ?? el('span', { class: 'mono' }, text), ' ', copyButton(text));
}

export function txLink(txid, label = txid) {
  return el('a', { href: isHash(txid) ? `#/tx/${txid}` : '#/', class: 'mono' }, label);
}

export function addressLink(address) {
  if (!address) return el('span', { class: 'muted' }, 'unknown');
  return el('a', { href: `#/address/${encodeURIComponent(address)}`, class: 'mono' }, address);
}

/** The detail dialog for transactions, addresses and data entries. */
export class DetailView {
  constructor() {
    this.dialog = document.getElementById('detail-view');
    this.dialog.addEventListener('close', () => {
      if (/^#\/(tx|address|data)\//.test(location.hash)) history.pushState(null, '', '#/');
    });
    this.seq = 0;
  }

  /** Shows the view for `location.hash` if it is one of ours; returns whether it was. */
  route() {
    const match = /^#\/(tx|address|data)\/([^/]+)$/.exec(location.hash);
    if (!match) {
      if (this.dialog.open) this.dialog.close();
      return false;
    }
    const [, kind, raw] = match;
    const key = decodeURIComponent(raw);
    const seq = ++this.seq;
    setText('detail-title', { tx: 'Transaction', address: 'Address', data: 'Data entry' }[kind]);
    this.fields([['', 'Loading…']]);
    this.list('', []);
    if (!this.dialog.open) this.dialog.showModal();
    const show = { tx: () => this.showTx(key, seq), address: () => this.showAddress(key, seq), data: () => this.showData(key, seq) }[kind];
    show().catch((error) => {
      if (seq === this.seq) this.fields([['Error', el('span', { class: 'error' }, error.message)]]);
    });
    return true;
  }

  fields(rows) {
    document.getElementById('detail-fields').replaceChildren(
      ...rows.flatMap(([name, value]) => [el('dt', {}, name), el('dd', {}, value)]),
    );
  }

  list(heading, items) {
    setText('detail-list-title', heading);
    document.getElementById('detail-list-title').hidden = !heading;
    document.getElementById('detail-list').replaceChildren(...items);
  }

  async showTx(txid, seq) {
    const tx = await api(`api/tx/${encodeURIComponent(txid)}`);
    if (seq !== this.seq) return;
    const confirmed = tx.status === 'confirmed';
    this.fields([
      ['Txid', copyable(tx.txid)],
      ['Status', el('span', { class: `badge ${tx.status}`, id: 'detail-status' }, tx.status)],
      ['Block', confirmed ? blockLink(tx.block, `#${tx.height}`) : '–'],
      ['Confirmations', String(tx.confirmations ?? 0)],
      ['Fee', tx.fee === null || tx.fee === undefined ? 'unknown' : `${formatCoins(tx.fee)} coins`],
    ]);
    const inputs = tx.coinbase
      ? [el('li', {}, 'Block reward (coinbase)')]
      : tx.inputs.map((input) =>
          el('li', {}, addressLink(input.address), ' ', input.value === null ? '' : `${formatCoins(input.value)} coins`, ' ← ', txLink(input.txid, `${input.txid.slice(0, 12)}…:${input.vout}`)),
        );
    const outputs = tx.outputs.map((output, vout) =>
      el('li', {}, `#${vout} `, addressLink(output.address), ` ${formatCoins(output.value)} coins`),
    );
    this.list('Inputs → outputs', [
      el('li', { class: 'group' }, el('strong', {}, 'Inputs'), el('ul', {}, ...inputs)),
      el('li', { class: 'group' }, el('strong', {}, 'Outputs'), el('ul', {}, ...outputs)),
    ]);
  }

  async showAddress(address, seq) {
    const info = await api(`api/address/${encodeURIComponent(address)}`);
    if (seq !== this.seq) return;
    this.fields([
      ['Address', copyable(info.address)],
      ['Balance', el('span', { id: 'detail-balance' }, `${formatCoins(info.balance)} coins`)],
      ['Immature', `${formatCoins(info.immature)} coins`],
      ['Pending', `${formatCoins(info.pending)} coins`],
      ['Unspent outputs', String(info.utxo_count)],
    ]);
    const utxos = info.utxos.map((utxo) =>
      el('li', {}, txLink(utxo.txid, `${utxo.txid.slice(0, 16)}…:${utxo.vout}`), ` ${formatCoins(utxo.value)} coins at #${utxo.height}`, utxo.mature ? '' : ' (maturing)'),
    );
    const txs = info.txs.map((txid) => el('li', {}, txLink(txid)));
    this.list('Unspent outputs, then transactions', [
      el('li', { class: 'group' }, el('strong', {}, 'Unspent outputs'), utxos.length ? el('ul', {}, ...utxos) : el('p', { class: 'empty' }, 'None.')),
      el('li', { class: 'group' }, el('strong', {}, 'Transactions'), txs.length ? el('ul', {}, ...txs) : el('p', { class: 'empty' }, 'None.')),
    ]);
  }

  async showData(id, seq) {
    const entry = await api(`api/data/${encodeURIComponent(id)}`);
    if (seq !== this.seq) return;
    const confirmed = entry.status === 'confirmed';
    const proof = el('span', { id: 'proof-result', 'data-state': confirmed ? 'checking' : 'none' }, confirmed ? 'checking…' : 'not in a block yet');
    this.fields([
      ['Id', copyable(entry.id)],
      ['Text', el('div', { class: 'entry-text', id: 'detail-text' }, entry.text ?? '')],
      ['Status', el('span', { class: `badge ${entry.status}`, id: 'detail-status' }, entry.status)],
      ['Block', confirmed ? blockLink(entry.block, `#${entry.height}`) : '–'],
      ['Confirmations', String(entry.confirmations ?? 0)],
      ['Inclusion proof', proof],
    ]);
    this.list('', []);
    if (!confirmed) return;
    const verified = await verifyEntry(entry);
    if (seq !== this.seq) return;
    proof.dataset.state = verified ? 'verified' : 'failed';
    proof.textContent = verified
      ? `verified in your browser: block #${entry.height}'s header meets its proof of work and its merkle root covers this text`
      : 'FAILED: the proof does not lead from this text to the block header';
  }
}

/** Checks a confirmed entry's proof against its block's header, in wasm. */
export async function verifyEntry(entry) {
  const block = await api(`api/blocks/${entry.block}`);
  const { network } = await api('api/status');
  const glue = await loadCore();
  try {
    const { index, leaves, siblings } = entry.proof;
    return glue.verifyDataProof(network, block.header, entry.block, entry.text ?? '', index, leaves, siblings);
  } catch (error) {
    console.warn('malformed proof', error);
    return false;
  }
}

