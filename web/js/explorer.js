// The explorer: latest blocks (live from /ws/events), older pages on demand, the block view and the
// charts. Block fields come from the master, but miner names and entries are untrusted text.

import { api } from './api.js';
import { blockLink, el, formatAge, formatCoins, formatNumber, isHash, setText, shortHash } from './dom.js';
import { drawDifficulty, drawHashrate, drawIntervals } from './charts.js';
import { DetailView, addressLink, txLink } from './lookup.js';

const LIVE_BLOCKS = 50;
const PAGE = 25;
const CHART_BLOCKS = 60;

export class Explorer {
  constructor() {
    /** Main-chain summaries shown in the table, newest first, consecutive heights. */
    this.blocks = [];
    /** How many rows to keep: the live page plus the older pages asked for. */
    this.limit = LIVE_BLOCKS;
    this.targetInterval = 0;
    /** Counts block-view loads, so only the answer to the latest one is shown. */
    this.routeSeq = 0;
    this.tbody = document.getElementById('blocks');
    this.moreButton = document.getElementById('blocks-more');
    this.moreButton.addEventListener('click', () => this.loadOlder());
    this.details = new DetailView();
    this.dialog = document.getElementById('block-view');
    this.dialog.addEventListener('close', () => {
      if (location.hash.startsWith('#/block/')) history.pushState(null, '', '#/');
    });
    window.addEventListener('hashchange', () => this.route());
    window.addEventListener('resize', () => this.drawCharts());
    setInterval(() => this.refreshAges(), 1000);
  }

  /** (Re)loads the latest blocks: at start and after every reconnect or reorg. */
  async reload() {
    const { blocks } = await api(`api/blocks?limit=${LIVE_BLOCKS}`);
    this.blocks = blocks;
    this.limit = LIVE_BLOCKS;
    this.render();
  }

  async loadOlder() {
    const oldest = this.blocks.at(-1);
    if (!oldest || oldest.height === 0) return;
    this.moreButton.disabled = true;
    try {
      const { blocks } = await api(`api/blocks?before=${oldest.height}&limit=${PAGE}`);
      this.limit += PAGE;
      this.blocks.push(...blocks.filter((b) => b.height < this.blocks.at(-1).height));
      this.render();
    } finally {
      this.moreButton.disabled = false;
    }
  }

  /** A `block` event: a block joined the main chain. */
  addBlock(summary) {
    const top = this.blocks[0];
    if (top && summary.height !== top.height + 1) {
      // After a reorg the new branch arrives block by block: drop what it replaces.
      this.blocks = this.blocks.filter((b) => b.height < summary.height);
      if (this.blocks[0] && this.blocks[0].height !== summary.height - 1) {
        this.reload().catch(console.error);
        return;
      }
    }
    this.blocks.unshift(summary);
    this.blocks.length = Math.min(this.blocks.length, this.limit);
    this.render();
  }

  setTargetInterval(seconds) {
    this.targetInterval = seconds;
  }

  /** From `/api/status`: the next block's target (hex) and difficulty give the expected hashes of
   * a block at difficulty 1, which turns the summaries' difficulties into work. */
  setWorkScale(targetHex, difficulty) {
    try {
      const work = 2n ** 256n / (BigInt(`0x${targetHex}`) + 1n);
      const scale = Number(work) / difficulty;
      if (Number.isFinite(scale) && scale > 0 && scale !== this.workAtDifficulty1) {
        this.workAtDifficulty1 = scale;
        this.drawCharts();
      }
    } catch {
      // A malformed target: the chart waits for the next status.
    }
  }

  render() {
    this.tbody.replaceChildren(...this.blocks.map((block) => this.row(block)));
    this.moreButton.hidden = !this.blocks.length || this.blocks.at(-1).height === 0;
    this.drawCharts();
  }

  drawCharts() {
    const recent = this.blocks.slice(0, CHART_BLOCKS).reverse();
    drawIntervals(document.getElementById('chart-intervals'), recent, this.targetInterval);
    drawDifficulty(document.getElementById('chart-difficulty'), recent);
    drawHashrate(document.getElementById('chart-hashrate'), recent, this.workAtDifficulty1);
  }

  row(block) {
    return el(
      'tr',
      { 'data-height': block.height, 'data-hash': block.hash },
      el('td', {}, blockLink(block.hash, String(block.height))),
      el('td', { class: 'hash' }, blockLink(block.hash, shortHash(block.hash))),
      el('td', { class: 'age', 'data-time': block.time }, formatAge(block.time)),
      el('td', { class: 'miner' }, block.miner ?? ''),
      el('td', { class: 'num' }, String(block.entries)),
    );
  }

  refreshAges() {
    const now = Date.now() / 1000;
    for (const cell of this.tbody.querySelectorAll('td.age')) {
      cell.textContent = formatAge(Number(cell.dataset.time), now);
    }
  }

  /** Opens the view `location.hash` names (a block here, the others in `DetailView`). */
  async route() {
    const seq = ++this.routeSeq;
    const match = /^#\/block\/([0-9a-f]{64}|\d+)$/.exec(location.hash);
    this.details.route();
    if (!match) {
      if (this.dialog.open) this.dialog.close();
      return;
    }
    setText('block-title', 'Block');
    document.getElementById('block-fields').replaceChildren(el('dd', {}, 'Loading…'));
    document.getElementById('block-entries').replaceChildren();
    document.getElementById('block-no-entries').hidden = true;
    document.getElementById('block-txs').replaceChildren();
    if (!this.dialog.open) this.dialog.showModal();
    try {
      const block = await api(`api/blocks/${match[1]}`);
      if (seq === this.routeSeq) this.showBlock(block);
    } catch (error) {
      if (seq !== this.routeSeq) return;
      document.getElementById('block-fields').replaceChildren(el('dd', { class: 'error' }, error.message));
    }
  }

  showBlock(block) {
    setText('block-title', `Block ${block.height}`);
    const field = (name, value, cls) => [el('dt', {}, name), el('dd', { class: cls }, value)];
    const prev = isHash(block.prev_hash) && block.height > 0 ? blockLink(block.prev_hash, block.prev_hash) : block.prev_hash;
    const next = isHash(block.next_hash ?? '') ? blockLink(block.next_hash, block.next_hash) : 'none yet';
    document.getElementById('block-fields').replaceChildren(
      ...field('Hash', block.hash, 'mono'),
      ...field('Previous', prev, 'mono'),
      ...field('Next', next, 'mono'),
      ...field('Merkle root', block.merkle_root, 'mono'),
      ...field('Time', `${new Date(block.time * 1000).toLocaleString()} (${formatAge(block.time)} ago)`),
      ...field('Miner', block.coinbase?.miner ?? block.miner ?? ''),
      ...field('Bits / difficulty', `${block.bits} / ${formatNumber(block.difficulty)}`),
      ...field('Nonce', String(block.nonce)),
      ...field('Confirmations', String(block.confirmations)),
      ...field('Reward', `${formatCoins(block.reward)} coins`),
      ...field('Size', `${formatNumber(block.size)} bytes`),
    );
    const txs = block.txs ?? [];
    document.getElementById('block-txs').replaceChildren(
      ...txs.map((tx) =>
        el(
          'li',
          { 'data-txid': tx.txid },
          txLink(tx.txid, shortHash(tx.txid)),
          tx.coinbase ? ' reward to ' : ' pays ',
          ...tx.outputs.flatMap((output, i) => [i ? ', ' : '', addressLink(output.address), ` ${formatCoins(output.value)}`]),
        ),
      ),
    );
    const entries = block.data ?? [];
    document.getElementById('block-entries').replaceChildren(
      ...entries.map((entry) =>
        el('li', { 'data-id': entry.id }, el('div', { class: 'entry-text' }, entry.text), el('code', { class: 'entry-id' }, entry.id))),
    );
    document.getElementById('block-no-entries').hidden = entries.length > 0;
  }
}
