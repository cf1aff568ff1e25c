// Wires the page together: the chain status bar, the /ws/events feed and the three panels.

import { api, Feed } from './api.js';
import { formatHashrate, formatNumber, setText } from './dom.js';
import { DataPanel } from './data-panel.js';
import { Explorer } from './explorer.js';
import { setupSearch } from './lookup.js';
import { setupMiningPanel } from './mining-panel.js';
import { refresh as refreshWallet, setupWallet } from './wallet.js';

const explorer = new Explorer();
const dataPanel = new DataPanel();
setupMiningPanel();
setupSearch();
setupWallet().catch(console.error);

function showStatus(status) {
  setText('stat-network', status.network);
  setText('stat-height', String(status.height));
  setText('stat-difficulty', formatNumber(status.difficulty));
  // Below height 2 there is no block interval to estimate from (the genesis gap does not count).
  setText('stat-hashrate', status.height < 2 ? '–' : formatHashrate(status.hashrate));
  setText('stat-miners', String(status.miners));
  setText('stat-pending', String(status.pending));
  showStorage(status.storage);
  explorer.setTargetInterval(status.target_interval);
  explorer.setWorkScale(status.target, status.difficulty);
}

/** `storage` is "ok" or "failing: <reason>": while failing, a banner says why and that new data waits. */
function showStorage(storage = 'ok') {
  const failing = storage !== 'ok';
  const stat = document.getElementById('stat-storage');
  stat.textContent = failing ? 'failing' : 'ok';
  stat.dataset.state = failing ? 'failing' : 'ok';
  const alert = document.getElementById('storage-alert');
  alert.textContent = failing
    ? `The master cannot write to its disk (${storage}). New data, transactions and blocks are refused until it recovers by itself; nothing already accepted is lost.`
    : '';
  alert.hidden = !failing;
}

/** Re-reads /api/status, at most one request at a time. */
let statusInFlight = null;
function refreshStatus() {
  statusInFlight ??= api('api/status')
    .then(showStatus, console.error)
    .finally(() => {
      statusInFlight = null;
    });
}

function setConnection(state) {
  const badge = document.getElementById('connection');
  badge.dataset.state = state;
  badge.textContent = { live: 'live', connecting: 'connecting', down: 'reconnecting' }[state];
}

function onEvent(message) {
  switch (message.type) {
    case 'status':
      showStatus(message.status);
      break;
    case 'block':
      explorer.addBlock(message.block);
      refreshStatus();
      refreshWallet().catch(console.error);
      break;
    case 'reorg':
      explorer.reload().catch(console.error);
      refreshStatus();
      refreshWallet().catch(console.error);
      break;
    case 'data':
      dataPanel.update(message);
      refreshStatus();
      break;
    case 'miners':
      setText('stat-miners', String(message.count));
      break;
  }
}

new Feed('ws/events', {
  onOpen: () => {
    setConnection('live');
    // Whatever happened while the feed was down: reload it.
    explorer.reload().catch(console.error);
    dataPanel.refreshPending();
  },
  onMessage: onEvent,
  onDown: () => setConnection('down'),
});

explorer.route();
