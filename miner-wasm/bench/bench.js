// Hashrate of the browser miner's real worker (web/js/miner-worker.js), SIMD and scalar builds, with
// 1 and 2 workers, against hash-wasm in one worker, on a job nobody can solve. Before any timing,
// every worker kind must find the nonces of real Bitcoin headers (a fast wrong miner is no miner).
// Any error, an unexpected message or a zero rate fails the whole run: results go to the page and
// are POSTed to /result for run.mjs, which exits non-zero on `error`.
//
// Query: ?seconds=N (measured time per case, after a 2 s warm-up), ?rounds=R (the cases run
// interleaved R times; medians count), ?cases=a,b (only these), ?alt=1 (also the SIMD worker of the
// second build run.mjs serves under /alt/).

const params = new URLSearchParams(location.search);
const SECONDS = Number(params.get('seconds') || 10);
const ROUNDS = Number(params.get('rounds') || 1);
const ALT = params.get('alt') === '1';
const ONLY = params.get('cases')?.split(',');
const WARMUP_MS = 2000;
const NONCES = 2 ** 32;
/** How long a worker may take to load and to find a known nonce before the run fails. */
const CHECK_TIMEOUT_MS = 30_000;
// An 80-byte header (any bytes do) and the hardest target (1): every nonce is hashed, none is found.
const HEADER = '01000000' + 'ab'.repeat(32) + 'cd'.repeat(32) + '5f5e1000' + 'ffff7f20' + '00000000';
const TARGET = '0'.repeat(63) + '1';

const WORKERS = {
  simd: '/web/js/miner-worker.js?wasm=simd',
  scalar: '/web/js/miner-worker.js?wasm=scalar',
  hash_wasm: '/bench/hash-wasm-worker.js',
  alt: '/alt/js/miner-worker.js?wasm=simd',
};

const log = (line) => {
  document.getElementById('log').textContent += `${line}\n`;
};

/** A worker from `url` once it said `ready`; its `build` must be `build` when one is asked for. */
function startWorker(url, build) {
  return new Promise((resolve, reject) => {
    const worker = new Worker(url, { type: 'module' });
    const timer = setTimeout(() => reject(new Error(`${url}: not ready within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
    worker.onerror = (event) => reject(new Error(`${url}: ${event.message || 'the worker failed to load'}`));
    worker.onmessage = ({ data }) => {
      if (data.type === 'error') reject(new Error(`${url}: ${data.message}`));
      if (data.type !== 'ready') return;
      clearTimeout(timer);
      if (build && data.build !== build) reject(new Error(`${url}: loaded the ${data.build} build, not ${build}`));
      else resolve(worker);
    };
  });
}

/** The compact `bits` (8 hex digits) as the 64-hex-digit big-endian target the job message takes. */
function targetFromBits(bits) {
  const exponent = parseInt(bits.slice(0, 2), 16);
  return ('00'.repeat(32 - exponent) + bits.slice(2) + '00'.repeat(exponent - 3)).slice(0, 64);
}

/** Real Bitcoin headers from the core's test vectors: genesis, and more with other nonces % 4. */
async function knownHeaders() {
  const response = await fetch('/vectors/btc_mainnet_headers_0_999.csv');
  if (!response.ok) throw new Error(`vectors: HTTP ${response.status}`);
  const rows = (await response.text()).trim().split('\n').slice(1).map((line) => line.split(','));
  const genesis = rows[0];
  const picked = [genesis];
  for (const lane of [0, 1, 2, 3]) {
    if (Number(genesis[7]) % 4 === lane) continue;
    const row = rows.find((row) => Number(row[7]) % 4 === lane);
    if (!row) throw new Error(`vectors: no header with nonce % 4 = ${lane}`);
    picked.push(row);
  }
  return picked.map(([height, hash, , , , , bits, nonce, header]) => ({
    height,
    hash,
    target: targetFromBits(bits),
    nonce: Number(nonce),
    header,
  }));
}

/** `url`'s worker finds each known header's nonce (and, when it reports one, its hash) in a window
 * of several chunks that starts 1..4 nonces off a multiple of four before it, so the nonce falls in
 * each lane of a four-nonce vector in turn. */
async function checkFindsKnownNonces(name, url, build, known) {
  const worker = await startWorker(url, build);
  try {
    for (const [index, { height, hash, target, nonce, header }] of known.entries()) {
      const start = Math.max(0, nonce - 50_001 - index);
      const end = Math.min(NONCES - 1, nonce + 999);
      const found = await new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${name}: block ${height} not found in time`)), CHECK_TIMEOUT_MS);
        worker.onmessage = ({ data }) => {
          if (data.type === 'hashes') return;
          clearTimeout(timer);
          if (data.type === 'found') resolve(data);
          else reject(new Error(`${name}: block ${height}: ${JSON.stringify(data)} instead of its nonce`));
        };
        worker.postMessage({ type: 'job', jobId: `check-${height}`, round: 1, header, target, ranges: [[start, end]] });
      });
      if (found.nonce !== nonce) throw new Error(`${name}: block ${height}: found nonce ${found.nonce}, the chain has ${nonce}`);
      if (found.hash !== undefined && found.hash !== hash) throw new Error(`${name}: block ${height}: hash ${found.hash}, the chain has ${hash}`);
    }
  } finally {
    worker.terminate();
  }
  log(`${name}: found the nonces of Bitcoin blocks ${known.map((k) => k.height).join(', ')}`);
}

/** Hashes per second of `count` workers from `url`, each on its own slice of the nonces. */
async function measure(name, url, build, count, throttle = 1) {
  const workers = await Promise.all(Array.from({ length: count }, () => startWorker(url, build)));
  let total = 0;
  let failure = null;
  try {
    for (const worker of workers) {
      worker.postMessage({ type: 'throttle', value: throttle });
      worker.onerror = (event) => (failure ??= `${name}: ${event.message || 'worker error'}`);
      worker.onmessage = ({ data }) => {
        if (data.type === 'hashes' && data.round === 1) total += data.count;
        // Nothing meets the target and no worker can run out of nonces within the run.
        else failure ??= `${name}: unexpected ${JSON.stringify(data)}`;
      };
    }
    workers.forEach((worker, i) =>
      worker.postMessage({
        type: 'job',
        jobId: 'bench',
        round: 1,
        header: HEADER,
        target: TARGET,
        ranges: [[Math.floor((i * NONCES) / count), Math.floor(((i + 1) * NONCES) / count) - 1]],
      }),
    );
    await new Promise((r) => setTimeout(r, WARMUP_MS));
    const before = total;
    const began = performance.now();
    await new Promise((r) => setTimeout(r, SECONDS * 1000));
    const rate = (total - before) / ((performance.now() - began) / 1000);
    if (failure) throw new Error(failure);
    if (!(rate > 0)) throw new Error(`${name}: measured ${rate} hashes/s`);
    return rate;
  } finally {
    for (const worker of workers) worker.terminate();
  }
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

async function main() {
  const results = { userAgent: navigator.userAgent, cores: navigator.hardwareConcurrency, seconds: SECONDS, rounds: ROUNDS };
  // [name, worker kind, workers, throttle]
  let cases = [
    ['simd_1', 'simd', 1],
    ['simd_2', 'simd', 2],
    ['scalar_1', 'scalar', 1],
    ['scalar_2', 'scalar', 2],
    ['hash_wasm_1', 'hash_wasm', 1],
  ];
  if (ALT) cases.push(['alt_1', 'alt', 1]);
  // Only on request (--cases): the throttle slider at 50 % should halve the hashrate.
  if (ONLY?.includes('throttle_50')) cases.push(['throttle_50', 'simd', 1, 0.5]);
  if (ONLY) {
    const unknown = ONLY.filter((name) => !cases.some(([known]) => known === name));
    if (unknown.length) throw new Error(`unknown cases ${unknown.join(', ')}`);
    cases = cases.filter(([name]) => ONLY.includes(name));
  }
  const build = (kind) => (kind === 'simd' || kind === 'scalar' ? kind : kind === 'alt' ? 'simd' : undefined);

  const known = await knownHeaders();
  for (const kind of new Set(cases.map(([, kind]) => kind))) {
    await checkFindsKnownNonces(kind, WORKERS[kind], build(kind), known);
  }

  const samples = Object.fromEntries(cases.map(([name]) => [name, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, kind, count, throttle] of cases) {
      const rate = await measure(name, WORKERS[kind], build(kind), count, throttle);
      samples[name].push(rate);
      log(`round ${round + 1} ${name}: ${(rate / 1e6).toFixed(3)} MH/s`);
    }
  }
  results.samples = samples;
  for (const [name] of cases) results[name] = median(samples[name]);
  return results;
}

main()
  .catch((error) => ({ error: String(error) }))
  .then((results) => fetch('/result', { method: 'POST', body: JSON.stringify(results) }));
