// The "Mine in this tab" card: settings saved across reloads, start/stop, live figures.

import { BrowserMiner } from './miner.js';
import { TabLock } from './tab-lock.js';
import { blockLink, el, formatCoins, formatHashrate, setText } from './dom.js';
import { load, save } from './storage.js';
import { currentAddress, onAddressChange, walletStatus } from './wallet.js';

const NAME_KEY = 'bbchain.minerName';
const WORKERS_KEY = 'bbchain.workers';
const THROTTLE_KEY = 'bbchain.throttle';
const MAX_NAME_BYTES = 64;
const MAX_FOUND_SHOWN = 100;

const STATE_TEXT = {
  idle: 'Idle.',
  connecting: 'Connecting to the master…',
  mining: 'Mining',
  reconnecting: 'Connection lost',
  error: 'Stopped',
  busy: 'Another tab of this browser is already mining. Stop it there first.',
};

export function setupMiningPanel() {
  const nameInput = document.getElementById('miner-name');
  const workersInput = document.getElementById('worker-count');
  const throttleInput = document.getElementById('throttle');
  const startButton = document.getElementById('mine-start');
  const stopButton = document.getElementById('mine-stop');
  const cores = navigator.hardwareConcurrency || 2;

  nameInput.value = load(NAME_KEY) || `browser-${Math.random().toString(16).slice(2, 8)}`;
  workersInput.max = String(Math.max(cores * 2, 4));
  workersInput.value = load(WORKERS_KEY) || String(cores);
  throttleInput.value = load(THROTTLE_KEY) || '100';

  const miner = new BrowserMiner(render);
  const lock = new TabLock(() => {
    miner.stop();
    miner.setState('idle', 'another tab took over mining');
  });
  let shownFound = 0;

  function workerCount() {
    const count = Math.round(Number(workersInput.value));
    return Number.isFinite(count) ? Math.min(Number(workersInput.max), Math.max(1, count)) : cores;
  }

  function throttle() {
    return Number(throttleInput.value) / 100;
  }

  function render() {
    const running = miner.running;
    // Stopped by the user, by an error or by another tab: let other tabs mine.
    if (!running) lock.release();
    startButton.disabled = running;
    stopButton.disabled = !running;
    nameInput.disabled = running;
    const base = STATE_TEXT[miner.state] ?? miner.state;
    setText('mine-status', miner.detail ? `${base}: ${miner.detail}` : base);
    document.getElementById('mine-status').dataset.state = miner.state;
    setText('hashrate', formatHashrate(miner.stats.hashrate));
    // Which wasm build the workers run: `simd`, or `scalar` in browsers without WebAssembly SIMD.
    document.getElementById('hashrate').title = miner.build ? `WebAssembly ${miner.build} build` : '';
    document.getElementById('hashrate').dataset.wasm = miner.build ?? '';
    setText('shares-accepted', String(miner.stats.accepted));
    setText('shares-rejected', String(miner.stats.rejected));
    setText('throttle-value', `${throttleInput.value}%`);
    const list = document.getElementById('found-blocks');
    // Every accepted block is one found block; show those not shown yet.
    const fresh = Math.min(miner.stats.accepted - shownFound, miner.stats.found.length);
    for (const block of miner.stats.found.slice(miner.stats.found.length - fresh)) {
      list.prepend(el('li', {}, blockLink(block.hash, `#${block.height}`), ' ', el('code', {}, block.hash.slice(0, 20), '…')));
    }
    shownFound = miner.stats.accepted;
    while (list.children.length > MAX_FOUND_SHOWN) list.lastChild.remove();
    document.getElementById('found-empty').hidden = shownFound > 0;
  }

  /** Says in plain words where this tab's blocks pay, or offers to make a wallet first. */
  function showPayout() {
    const line = document.getElementById('mine-payout');
    const status = walletStatus();
    if (!currentAddress()) {
      line.replaceChildren('Blocks you find pay nobody yet: ', el('a', { href: '#wallet' }, 'create a wallet first'), '.');
    } else if (status) {
      const coins = formatCoins(status.subsidy);
      const unit = coins === '1' ? 'coin' : 'coins';
      line.replaceChildren(`Blocks you find pay ${coins} ${unit} to your wallet; rewards mature after ${status.coinbase_maturity} blocks.`);
    }
  }
  onAddressChange(showPayout);
  showPayout();

  startButton.addEventListener('click', async () => {
    const name = nameInput.value.trim();
    const bytes = new TextEncoder().encode(name).length;
    if (bytes < 1 || bytes > MAX_NAME_BYTES) {
      miner.setState('error', `the miner name must be 1 to ${MAX_NAME_BYTES} bytes`);
      return;
    }
    save(NAME_KEY, name);
    startButton.disabled = true;
    if (!(await lock.acquire())) {
      miner.setState('busy', '');
      return;
    }
    miner.setThrottle(throttle());
    miner.start(name, workerCount(), currentAddress());
  });

  stopButton.addEventListener('click', () => {
    miner.stop();
    lock.release();
  });

  workersInput.addEventListener('change', () => {
    workersInput.value = String(workerCount());
    save(WORKERS_KEY, workersInput.value);
    miner.setWorkerCount(workerCount());
  });

  throttleInput.addEventListener('input', () => {
    save(THROTTLE_KEY, throttleInput.value);
    miner.setThrottle(throttle());
    render();
  });

  render();
}
