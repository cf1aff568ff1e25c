// The browser miner: one /ws/mine connection, one Web Worker per core, each hashing a disjoint slice
// of the job's nonce space with the core crate's scan loop compiled to WebAssembly.

import { Feed } from './api.js';
import { load, save } from './storage.js';

const AGENT = 'bbchain-web/0.1';
const NONCES = 2 ** 32;
/** How long to wait for the job that follows an accepted block before asking for one. */
const NEXT_JOB_WAIT_MS = 3000;
/** The hashrate shown is the average over this window. */
const RATE_WINDOW_MS = 5000;
const FOUND_KEPT = 100;
/** Where this browser keeps its accepted and rejected counts and the blocks it found. */
const STATS_KEY = 'bbchain.minerStats';

/** The counts and found blocks saved by an earlier visit, or fresh ones. */
function loadStats() {
  try {
    const saved = JSON.parse(load(STATS_KEY) || 'null');
    if (saved && Number.isInteger(saved.accepted) && Number.isInteger(saved.rejected) && Array.isArray(saved.found)) {
      const found = saved.found
        .filter((block) => Number.isInteger(block?.height) && /^[0-9a-f]{64}$/.test(block?.hash))
        .slice(-FOUND_KEPT);
      return { hashrate: 0, accepted: saved.accepted, rejected: saved.rejected, found };
    }
  } catch {
    // Unreadable: start again.
  }
  return { hashrate: 0, accepted: 0, rejected: 0, found: [] };
}

/**
 * Removes up to `count` nonces from the front of `ranges` (a list of inclusive `[start, end]`
 * pairs, in order) and returns them as ranges of their own.
 */
function takeNonces(ranges, count) {
  const taken = [];
  while (count > 0 && ranges.length) {
    const [start, end] = ranges[0];
    const n = Math.min(count, end - start + 1);
    taken.push([start, start + n - 1]);
    if (start + n > end) ranges.shift();
    else ranges[0] = [start + n, end];
    count -= n;
  }
  return taken;
}

/** Splits `ranges` into `count` nearly equal runs of consecutive nonces. */
function splitNonces(ranges, count) {
  const queue = ranges.map(([start, end]) => [start, end]);
  const total = queue.reduce((sum, [start, end]) => sum + (end - start + 1), 0);
  return Array.from({ length: count }, (_, i) =>
    takeNonces(queue, Math.floor(((i + 1) * total) / count) - Math.floor((i * total) / count)),
  );
}

export class BrowserMiner {
  /** `onChange()` runs whenever something shown in the mining panel changed. */
  constructor(onChange) {
    this.onChange = onChange;
    this.feed = null;
    this.workers = [];
    this.workerCount = 1;
    this.throttle = 1;
    this.name = '';
    this.job = null;
    /** Jobs a found block may still be submitted for: the current one and, after refreshes, older ones. */
    this.liveJobs = new Set();
    this.submitted = false;
    /** Each dispatch is a new round; workers echo it, so messages about older rounds are ignored. */
    this.round = 0;
    /** worker → the nonce ranges of this round it has not hashed yet (as far as its reports say). */
    this.remaining = new Map();
    /** Workers of this round that have not run out of nonces yet. */
    this.busy = new Set();
    this.nextJobTimer = null;
    this.rateTimer = null;
    this.totalHashes = 0;
    this.samples = [];
    this.state = 'idle';
    this.detail = '';
    /** `found`: the latest blocks this browser found (at most FOUND_KEPT), oldest first. Kept
     * across reloads with the counts (see `saveStats`). */
    this.stats = loadStats();
  }

  get running() {
    return this.feed !== null;
  }

  /** Connects as `name`, paying `address` (the wallet's, or null for nobody), and starts
   * `workerCount` workers. */
  start(name, workerCount, address = null) {
    if (this.running) return;
    this.name = name;
    this.address = address;
    this.workerCount = workerCount;
    this.feed = new Feed('ws/mine', {
      onOpen: () => {
        const hello = { type: 'hello', name: this.name, agent: AGENT };
        if (this.address) hello.address = this.address;
        this.feed.send(hello);
        this.setState('connecting', 'waiting for work');
      },
      onMessage: (message) => this.onFeedMessage(message),
      onDown: () => {
        this.job = null;
        this.liveJobs.clear();
        this.pauseWorkers();
        this.resetRate();
        this.setState('reconnecting', 'the master is unreachable; retrying');
      },
    });
    this.setState('connecting', '');
    this.resizeWorkers();
    this.samples = [{ time: performance.now(), total: this.totalHashes }];
    this.rateTimer = setInterval(() => this.updateRate(), 1000);
  }

  /** Stops hashing at once and disconnects. */
  stop() {
    if (!this.running) return;
    this.feed.close();
    this.feed = null;
    for (const worker of this.workers) worker.terminate();
    this.workers = [];
    this.job = null;
    this.liveJobs.clear();
    this.submitted = false;
    clearTimeout(this.nextJobTimer);
    clearInterval(this.rateTimer);
    this.stats.hashrate = 0;
    this.setState('idle', '');
  }

  /** Changes the number of workers, live: the nonces of the current job not hashed yet are split again. */
  setWorkerCount(count) {
    this.workerCount = count;
    if (!this.running) return;
    const left = [...this.remaining.values()].flat().sort((a, b) => a[0] - b[0]);
    this.resizeWorkers();
    if (left.length) {
      this.dispatch(left);
    } else if (this.busy.size) {
      // Every nonce is reported hashed; only the `exhausted` messages were still on their way.
      this.busy.clear();
      this.askForWork();
    }
  }

  /** Sets the share of time (0.1–1) workers spend hashing. */
  setThrottle(fraction) {
    this.throttle = fraction;
    for (const worker of this.workers) worker.postMessage({ type: 'throttle', value: fraction });
  }

  resizeWorkers() {
    while (this.workers.length > this.workerCount) this.workers.pop().terminate();
    while (this.workers.length < this.workerCount) {
      const url = new URL('./miner-worker.js', import.meta.url);
      // `?wasm=scalar` on the page picks the build without SIMD (the worker picks by itself otherwise).
      const build = new URLSearchParams(location.search).get('wasm');
      if (build) url.searchParams.set('wasm', build);
      const worker = new Worker(url, { type: 'module' });
      const index = this.workers.length;
      worker.onmessage = ({ data }) => this.onWorkerMessage(worker, data);
      // A module that cannot load (no web/pkg in this build: `make wasm`) only says "error" here.
      worker.onerror = (event) =>
        this.fail(`worker ${index} failed (${event.message || 'its script or the WebAssembly did not load'})`);
      worker.postMessage({ type: 'throttle', value: this.throttle });
      this.workers.push(worker);
    }
  }

  /** Gives every worker its share of `ranges` (by default all) of the current job's nonces. */
  dispatch(ranges = [[0, NONCES - 1]]) {
    const job = this.job;
    if (!job || this.submitted) return;
    this.round += 1;
    this.remaining.clear();
    this.busy.clear();
    const shares = splitNonces(ranges, this.workers.length);
    this.workers.forEach((worker, i) => {
      if (!shares[i].length) {
        worker.postMessage({ type: 'pause' });
        return;
      }
      this.remaining.set(worker, shares[i]);
      this.busy.add(worker);
      worker.postMessage({
        type: 'job',
        jobId: job.job_id,
        round: this.round,
        header: job.header,
        target: job.target,
        ranges: shares[i],
      });
    });
  }

  pauseWorkers() {
    this.round += 1;
    this.remaining.clear();
    this.busy.clear();
    for (const worker of this.workers) worker.postMessage({ type: 'pause' });
  }

  onFeedMessage(message) {
    switch (message.type) {
      case 'job':
        clearTimeout(this.nextJobTimer);
        this.job = message;
        if (message.clean) this.liveJobs.clear();
        this.liveJobs.add(message.job_id);
        this.submitted = false;
        this.dispatch();
        this.setState('mining', `block ${message.height}`);
        break;
      case 'accepted':
        this.stats.accepted += 1;
        this.stats.found.push({ height: message.height, hash: message.hash });
        if (this.stats.found.length > FOUND_KEPT) this.stats.found.shift();
        this.saveStats();
        this.waitForNextJob();
        this.onChange();
        break;
      case 'rejected':
        if (!message.job_id) {
          // Not about a block: the master refused a message of ours (say, the hello).
          this.detail = `the master refused: ${message.reason}`;
          this.onChange();
          break;
        }
        this.stats.rejected += 1;
        this.saveStats();
        this.detail = `last block rejected: ${message.reason}`;
        if (this.submitted) this.askForWork();
        this.onChange();
        break;
      default:
        console.warn('unknown work feed message', message);
    }
  }

  onWorkerMessage(worker, message) {
    switch (message.type) {
      case 'ready':
        this.build = message.build;
        this.onChange();
        break;
      case 'hashes':
        this.totalHashes += message.count;
        if (message.round === this.round) takeNonces(this.remaining.get(worker) ?? [], message.count);
        break;
      case 'found':
        // The first block found for the current job is submitted; every worker waits for the next.
        // (A block of an older round still counts while its job is live: it is a real block.)
        if (!this.liveJobs.has(message.jobId) || this.submitted) return;
        this.submitted = true;
        this.pauseWorkers();
        this.feed.send({ type: 'submit', job_id: message.jobId, nonce: message.nonce });
        this.waitForNextJob();
        this.setState('mining', `submitted a block (${message.hash.slice(0, 16)}…)`);
        break;
      case 'exhausted':
        // Only this round counts: a worker re-dispatched since sent it about nonces it no longer owns.
        if (message.round !== this.round || !this.busy.delete(worker)) return;
        this.remaining.delete(worker);
        if (this.busy.size === 0) this.askForWork();
        break;
      case 'error':
        this.fail(message.message);
        break;
    }
  }

  /** After a submit the master answers and, once the block is in, sends a new job by itself; ask
   * for one if none has come soon, so the workers never wait for good. */
  waitForNextJob() {
    clearTimeout(this.nextJobTimer);
    this.nextJobTimer = setTimeout(() => this.askForWork(), NEXT_JOB_WAIT_MS);
  }

  askForWork() {
    this.feed?.send({ type: 'get_work' });
  }

  fail(reason) {
    this.stop();
    this.setState('error', reason);
  }

  saveStats() {
    const { accepted, rejected, found } = this.stats;
    save(STATS_KEY, JSON.stringify({ accepted, rejected, found }));
  }

  /** Without a job nothing is hashed: the rate shown is 0 at once, not an old figure fading out. */
  resetRate() {
    this.samples = [{ time: performance.now(), total: this.totalHashes }];
    this.stats.hashrate = 0;
    this.onChange();
  }

  updateRate() {
    if (!this.job) {
      this.resetRate();
      return;
    }
    const now = performance.now();
    this.samples.push({ time: now, total: this.totalHashes });
    while (this.samples.length > 2 && now - this.samples[1].time >= RATE_WINDOW_MS) this.samples.shift();
    const first = this.samples[0];
    const seconds = (now - first.time) / 1000;
    this.stats.hashrate = seconds > 0 ? (this.totalHashes - first.total) / seconds : 0;
    this.onChange();
  }

  setState(state, detail) {
    this.state = state;
    this.detail = detail;
    this.onChange();
  }
}
