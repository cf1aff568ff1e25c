// The page's wallet. Keys are derived and used only in WebAssembly (the core's wallet and transfer
// code, as in the CLI); this file holds the mnemonic only to pass it in, keeps it in localStorage
// encrypted (PBKDF2-SHA-256, 600,000 rounds → AES-GCM), and never sends it anywhere. The address is
// public: it is kept in the clear so a locked wallet still shows its balance and the miner pays it.

import { api } from './api.js';
import { el, formatCoins, isHash, setText } from './dom.js';
import { loadCore } from './lookup.js';
import { load, save } from './storage.js';

const SECRET_KEY = 'bbchain.wallet';
const ITERATIONS = 600000;
const HISTORY_SHOWN = 10;

let status = null;
let address = null;
/** The mnemonic while unlocked (or while the backup step shows it), else null. */
let mnemonic = null;
let pending = null;
/** The suggested fee rate, units per byte (the core's). */
let feePerByte = 2;
const listeners = [];

/** The wallet's address on this master's network, or null without a wallet. */
export function currentAddress() {
  return address;
}

/** Calls `listener` whenever the wallet's address appears or goes. */
export function onAddressChange(listener) {
  listeners.push(listener);
}

function addressKey() {
  return `bbchain.wallet.address.${status.network}`;
}

function bytesToBase64(bytes) {
  return btoa(String.fromCharCode(...new Uint8Array(bytes)));
}

function base64ToBytes(text) {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

/** The AES key for `password`; `iterations` as stored with the secret, so a later, higher default
 * never locks out a wallet made before it. */
async function aesKey(password, salt, iterations = ITERATIONS) {
  const base = await crypto.subtle.importKey('raw', new TextEncoder().encode(password), 'PBKDF2', false, ['deriveKey']);
  return crypto.subtle.deriveKey(
    { name: 'PBKDF2', hash: 'SHA-256', salt, iterations },
    base,
    { name: 'AES-GCM', length: 256 },
    false,
    ['encrypt', 'decrypt'],
  );
}

async function encryptSecret(words, password) {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const key = await aesKey(password, salt);
  const sealed = await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, key, new TextEncoder().encode(words));
  return JSON.stringify({ v: 1, kdf: 'PBKDF2-SHA256', iterations: ITERATIONS, salt: bytesToBase64(salt), iv: bytesToBase64(iv), data: bytesToBase64(sealed) });
}

async function decryptSecret(stored, password) {
  const box = JSON.parse(stored);
  const key = await aesKey(password, base64ToBytes(box.salt), box.iterations ?? ITERATIONS);
  try {
    const plain = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: base64ToBytes(box.iv) }, key, base64ToBytes(box.data));
    return new TextDecoder().decode(plain);
  } catch {
    throw new Error('Wrong password.');
  }
}

function showError(text) {
  setText('wallet-error', text);
}

function setAddress(next) {
  address = next;
  setText('wallet-address', next ?? '');
  for (const listener of listeners) listener(address);
}

/** Which part of the card shows: setup, backup or the open wallet; locked or not. */
function render() {
  const stored = load(SECRET_KEY) !== null;
  document.getElementById('wallet-setup').hidden = stored || pending !== null;
  document.getElementById('wallet-backup').hidden = pending === null;
  document.getElementById('wallet-open').hidden = !stored;
  document.getElementById('wallet-unlock-row').hidden = mnemonic !== null;
  document.getElementById('wallet-send').hidden = mnemonic === null;
}

/** Draws `text`'s QR code (modules from the wasm core) as SVG squares. */
async function drawQr(text) {
  const glue = await loadCore();
  const modules = glue.qrModules(text);
  const width = Math.round(Math.sqrt(modules.length));
  const svg = document.getElementById('wallet-qr');
  const ns = 'http://www.w3.org/2000/svg';
  svg.replaceChildren();
  svg.setAttribute('viewBox', `-4 -4 ${width + 8} ${width + 8}`);
  for (let y = 0; y < width; y += 1) {
    for (let x = 0; x < width; x += 1) {
      if (!modules[y * width + x]) continue;
      const rect = document.createElementNS(ns, 'rect');
      rect.setAttribute('x', String(x));
      rect.setAttribute('y', String(y));
      rect.setAttribute('width', '1');
      rect.setAttribute('height', '1');
      svg.append(rect);
    }
  }
}

/** Stores `words` encrypted under the password field's password and opens the wallet. */
async function keep(words) {
  const password = document.getElementById('wallet-password').value;
  const glue = await loadCore();
  const next = glue.walletAddress(words, status.network);
  save(SECRET_KEY, await encryptSecret(words, password));
  save(addressKey(), next);
  document.getElementById('wallet-password').value = '';
  mnemonic = words;
  setAddress(next);
  await drawQr(next);
  render();
  await refresh();
}

function checkPassword() {
  const password = document.getElementById('wallet-password').value;
  if (password.length < 8) throw new Error('Pick a password of at least 8 characters.');
}

async function create() {
  checkPassword();
  const glue = await loadCore();
  pending = glue.newMnemonic(crypto.getRandomValues(new Uint8Array(32)));
  setText('wallet-mnemonic', pending);
  render();
}

async function confirmBackup() {
  const words = pending;
  pending = null;
  setText('wallet-mnemonic', '');
  await keep(words);
}

async function restore() {
  checkPassword();
  const field = document.getElementById('wallet-restore-words');
  const words = field.value.trim().toLowerCase().split(/\s+/).join(' ');
  await keep(words);
  field.value = '';
}

async function unlock() {
  const field = document.getElementById('wallet-unlock-password');
  mnemonic = await decryptSecret(load(SECRET_KEY), field.value);
  field.value = '';
  if (!address) {
    // Stored on another network: its address here comes from the words.
    const next = (await loadCore()).walletAddress(mnemonic, status.network);
    save(addressKey(), next);
    setAddress(next);
    await drawQr(next);
  }
  render();
  await refresh();
}

function lock() {
  mnemonic = null;
  document.getElementById('send-confirm-box').hidden = true;
  render();
}

/** Blocks an immature reward at `height` still waits before the next block may spend it. */
function blocksLeft(height) {
  return Math.max(0, height + status.coinbase_maturity - (status.height + 1));
}

/** Re-reads the wallet's balance, maturing rewards and history from the master. */
export async function refresh() {
  if (!address || !status) return;
  status = await api('api/status');
  const info = await api(`api/address/${address}`);
  setText('wallet-balance', formatCoins(info.balance));
  setText('wallet-immature', formatCoins(info.immature));
  setText('wallet-pending', formatCoins(info.pending));
  const maturing = info.utxos.filter((utxo) => !utxo.mature);
  document.getElementById('wallet-maturing').replaceChildren(
    ...maturing.map((utxo) => {
      const left = blocksLeft(utxo.height);
      return el('li', {}, `${formatCoins(utxo.value)} coins from block ${utxo.height}: spendable in ${left} block${left === 1 ? '' : 's'}`);
    }),
  );
  const txids = info.txs.filter(isHash).slice(0, HISTORY_SHOWN);
  const rows = await Promise.all(txids.map((txid) => api(`api/tx/${txid}`).catch(() => null)));
  const history = document.getElementById('wallet-history');
  history.replaceChildren(
    ...txids.map((txid, i) => {
      const tx = rows[i];
      const state = !tx ? 'unknown' : tx.status === 'confirmed' ? `confirmed (${tx.confirmations} confirmations)` : 'pending';
      return el('li', {}, el('a', { href: `#/tx/${txid}` }, `${txid.slice(0, 16)}…`), ` ${state}`);
    }),
  );
  document.getElementById('wallet-history-empty').hidden = txids.length > 0;
}

/** Checks the address as it is typed, with the core's words. */
async function checkRecipient() {
  const text = document.getElementById('send-to').value.trim();
  const line = document.getElementById('send-to-check');
  if (!text) {
    line.textContent = '';
    line.dataset.state = '';
    return;
  }
  const glue = await loadCore();
  const problem = glue.addressProblem(text, status.network);
  line.textContent = problem ? `Not an address here: ${problem}` : 'A valid address.';
  line.dataset.state = problem ? 'bad' : 'ok';
}

let signed = null;

/** Signs the transfer in wasm and shows it for confirmation. */
async function review() {
  signed = null;
  setText('send-result', '');
  const to = document.getElementById('send-to').value.trim();
  const amount = document.getElementById('send-amount').value.trim();
  const info = await api(`api/address/${address}`);
  const glue = await loadCore();
  const aux = crypto.getRandomValues(new Uint8Array(32));
  const transfer = glue.signTransfer(mnemonic, status.network, JSON.stringify(info.utxos), to, amount, feePerByte, aux);
  signed = { hex: transfer.hex, txid: transfer.txid };
  setText('send-summary', `Send ${amount} coins to ${to}, paying a fee of ${transfer.fee} coins?`);
  transfer.free();
  document.getElementById('send-confirm-box').hidden = false;
}

async function send() {
  const transfer = signed;
  signed = null;
  document.getElementById('send-confirm-box').hidden = true;
  if (!transfer) return;
  await api('api/tx', { tx: transfer.hex });
  const result = document.getElementById('send-result');
  result.replaceChildren('Sent: ', el('a', { href: `#/tx/${transfer.txid}`, id: 'send-txid' }, transfer.txid));
  document.getElementById('send-amount').value = '';
  await refresh();
}

/** Runs `action`, showing its error (from wasm, WebCrypto or the master) as one line. */
function guarded(action) {
  return () => {
    showError('');
    action().catch((err) => showError(err?.message ?? String(err)));
  };
}

/** Sets the wallet card up once the master's status (network, maturity) is known. */
export async function setupWallet() {
  status = await api('api/status');
  feePerByte = (await loadCore()).suggestedFeePerByte();
  setText('send-fee', `Suggested fee: ${feePerByte} units per byte of the transaction; the exact fee shows before you confirm.`);
  const click = (id, action) => document.getElementById(id).addEventListener('click', guarded(action));
  click('wallet-create', create);
  click('wallet-confirm', confirmBackup);
  click('wallet-restore', restore);
  click('wallet-unlock', unlock);
  click('wallet-lock', async () => lock());
  click('wallet-copy', () => navigator.clipboard.writeText(address));
  click('send-submit', review);
  click('send-confirm', send);
  click('send-cancel', async () => {
    signed = null;
    document.getElementById('send-confirm-box').hidden = true;
  });
  document.getElementById('send-to').addEventListener('input', guarded(checkRecipient));
  if (load(SECRET_KEY) !== null) {
    const stored = load(addressKey());
    if (stored) {
      setAddress(stored);
      await drawQr(stored);
    }
  }
  render();
  await refresh();
}

/** The master's status, for the mining card's words. */
export function walletStatus() {
  return status;
}
