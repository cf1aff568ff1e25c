// Hashrate of the browser miner's real worker (web/js/miner-worker.js) with 1 and 2 workers, and of
// hash-wasm in one worker, on a job nobody can solve. Results go to the page and are POSTed to
// /result for run.mjs. Query: ?seconds=N (measured time per case, after a 2 s warm-up), ?rounds=R
// (the cases run interleaved R times; the median counts), ?alt=1 (also the worker served under
// /alt/, i.e. the second wasm build run.mjs was given).

const params = new URLSearchParams(location.search);
const SECONDS = Number(params.get('seconds') || 10);
const ROUNDS = Number(params.get('rounds') || 1);
const ALT = params.get('alt') === '1';
const ONLY = params.get('cases')?.split(',');
const WARMUP_MS = 2000;
const NONCES = 2 ** 32;
// An 80-byte header (any bytes do) and the hardest target (1): every nonce is hashed, none is found.
const HEADER = '01000000' + 'ab'.repeat(32) + 'cd'.repeat(32) + '5f5e1000' + 'ffff7f20' + '00000000';
const TARGET = '0'.repeat(63) + '1';

const log = (line) => {
  document.getElementById('log').textContent += `${line}\n`;
};

function startWorker(url) {
  return new Promise((resolve, reject) => {
    const worker = new Worker(url, { type: 'module' });
    worker.onerror = (event) => reject(new Error(`${url}: ${event.message}`));
    worker.onmessage = ({ data }) => {
      if (data.type === 'ready') resolve(worker);
      if (data.type === 'error') reject(new Error(data.message));
    };
  });
}

/** Hashes per second of `count` workers from `url`, each on its own slice of the nonces. */
async function measure(url, count, throttle = 1) {
  const workers = await Promise.all(Array.from({ length: count }, () => startWorker(url)));
  for (const worker of workers) worker.postMessage({ type: 'throttle', value: throttle });
  let total = 0;
  for (const worker of workers) {
    worker.onmessage = ({ data }) => {
      if (data.type === 'hashes') total += data.count;
    };
  }
  workers.forEach((worker, i) =>
    worker.postMessage({
      type: 'job',
      jobId: 'bench',
      header: HEADER,
      target: TARGET,
      start: Math.floor((i * NONCES) / count),
      end: Math.floor(((i + 1) * NONCES) / count) - 1,
    }),
  );
  await new Promise((r) => setTimeout(r, WARMUP_MS));
  const before = total;
  const began = performance.now();
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const rate = (total - before) / ((performance.now() - began) / 1000);
  for (const worker of workers) worker.terminate();
  return rate;
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

async function main() {
  const results = { userAgent: navigator.userAgent, cores: navigator.hardwareConcurrency, seconds: SECONDS, rounds: ROUNDS };
  const cases = [
    ['wasm_1', '/web/js/miner-worker.js', 1],
    ['wasm_2', '/web/js/miner-worker.js', 2],
    ['hash_wasm_1', '/bench/hash-wasm-worker.js', 1],
  ];
  if (ALT) cases.push(['alt_1', '/alt/js/miner-worker.js', 1], ['alt_2', '/alt/js/miner-worker.js', 2]);
  // Only on request (--cases): the throttle slider at 50 % should halve the hashrate.
  if (ONLY?.includes('throttle_50')) cases.push(['throttle_50', '/web/js/miner-worker.js', 1, 0.5]);
  if (ONLY) cases.splice(0, cases.length, ...cases.filter(([name]) => ONLY.includes(name)));
  const samples = Object.fromEntries(cases.map(([name]) => [name, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, url, count, throttle] of cases) {
      const rate = await measure(url, count, throttle);
      samples[name].push(rate);
      log(`round ${round + 1} ${name}: ${(rate / 1e6).toFixed(3)} MH/s`);
    }
  }
  for (const [name] of cases) results[name] = median(samples[name]);
  // Rounds are paired, so the ratio of the two builds is taken round by round: load on a shared
  // machine shifts both figures of a round alike.
  if (samples.alt_1?.length && samples.wasm_1?.length) {
    results.alt_ratio = median(samples.alt_1.map((alt, i) => alt / samples.wasm_1[i]));
  }
  return results;
}

main()
  .catch((error) => ({ error: String(error) }))
  .then((results) => fetch('/result', { method: 'POST', body: JSON.stringify(results) }));
