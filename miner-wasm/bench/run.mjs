#!/usr/bin/env node
// Runs bench.html in headless Chromium (Debian's /usr/bin/chromium; nothing is downloaded) and prints
// the results as a Markdown table. `make bench-browser` builds the wasm, installs hash-wasm and runs it.
//
//   node miner-wasm/bench/run.mjs [--seconds 10] [--rounds 3] [--cases simd_1,hash_wasm_1]
//                                 [--native target/release/bbchain] [--alt DIR] [--require-goals]
//                                 [--port 0] [--chromium /usr/bin/chromium]
//
// Cases: simd_1, simd_2, scalar_1, scalar_2 (the page's worker, web/js/miner-worker.js, with the
// web/pkg or web/pkg-scalar build, 1 or 2 workers), hash_wasm_1, and on request alt_1 (--alt DIR: a
// second SIMD build, say main's web/pkg, to compare with) and throttle_50 (only when named).
// Before timing, every worker kind must find the nonces of real Bitcoin headers.
// --native also runs `bbchain --benchmark` with 1 and 2 threads just before the browser.
// Exits non-zero on any error in the page, a wrong nonce, a zero rate, or (with --require-goals) a
// missed goal: the SIMD worker at least 12x hash-wasm, two workers at least 1.9x one.
// Needs `make wasm` and hash-wasm installed with npm under target/browser-bench (git-ignored):
//   npm install --prefix target/browser-bench hash-wasm@4.13.0

import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { extname, join, normalize, resolve } from 'node:path';

const root = resolve(new URL('../..', import.meta.url).pathname);
const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, arg, i, all) => {
    if (!arg.startsWith('--')) return pairs;
    const value = all[i + 1] === undefined || all[i + 1].startsWith('--') ? 'true' : all[i + 1];
    return [...pairs, [arg.slice(2), value]];
  }, []),
);
const known = ['seconds', 'rounds', 'cases', 'native', 'alt', 'require-goals', 'port', 'chromium'];
for (const name of Object.keys(args)) {
  if (!known.includes(name)) {
    console.error(`unknown option --${name} (see the comment at the top of ${process.argv[1]})`);
    process.exit(2);
  }
}
const port = Number(args.port ?? 0);
const seconds = Number(args.seconds ?? 10);
const rounds = Number(args.rounds ?? 3);
const alt = args.alt && resolve(root, args.alt);
const requireGoals = args['require-goals'] === 'true';
/** Case's median per-round ratio to another that must reach at least `min`. */
const GOALS = [
  ['simd_1', 'hash_wasm_1', 12],
  ['simd_2', 'simd_1', 1.9],
];
const hashWasm = join(root, 'target/browser-bench/node_modules/hash-wasm/dist');
const chromium = args.chromium ?? '/usr/bin/chromium';
const native = args.native && resolve(root, args.native);

/** `bbchain --benchmark --threads N`, in hashes per second. */
function nativeRate(threads) {
  const output = execFileSync(native, ['--benchmark', '--threads', String(threads)], { encoding: 'utf8' });
  const match = /hashrate: (\d+(?:\.\d+)?) H\/s/.exec(output);
  if (!match) throw new Error(`unexpected --benchmark output: ${output}`);
  return Number(match[1]);
}

const nativeRates = native ? { 1: nativeRate(1), 2: nativeRate(2) } : null;

// URL prefix → folder.
const mounts = [
  ['/web/', join(root, 'web')],
  ['/bench/', join(root, 'miner-wasm/bench')],
  ['/hash-wasm/', hashWasm],
  ['/vectors/', join(root, 'shared/tests/vectors/headers')],
  ...(alt ? [['/alt/pkg/', alt], ['/alt/js/', join(root, 'web/js')]] : []),
];
const types = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json' };

for (const dir of [...mounts.map(([, dir]) => dir), join(root, 'web/pkg'), join(root, 'web/pkg-scalar')]) {
  try {
    statSync(dir);
  } catch {
    console.error(`missing ${dir}: see the comment at the top of run.mjs (make bench-browser does it all)`);
    process.exit(1);
  }
}

const profile = mkdtempSync(join(tmpdir(), 'bbchain-bench-'));
let browser;

const server = createServer((request, response) => {
  if (request.method === 'POST' && request.url === '/result') {
    let body = '';
    request.on('data', (chunk) => (body += chunk));
    request.on('end', () => {
      response.end('ok');
      report(JSON.parse(body));
    });
    return;
  }
  const path = decodeURIComponent(new URL(request.url, 'http://x').pathname);
  const mount = mounts.find(([prefix]) => path.startsWith(prefix));
  const file = mount && normalize(join(mount[1], path.slice(mount[0].length)));
  if (!file || !file.startsWith(mount[1])) {
    response.writeHead(404).end();
    return;
  }
  try {
    const body = readFileSync(file);
    response.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' }).end(body);
  } catch {
    response.writeHead(404).end();
  }
});

let reported = false;

function report(results) {
  if (reported) return;
  reported = true;
  if (results.error) {
    console.error(`benchmark failed in the page: ${results.error}`);
    finish(1);
    return;
  }
  const samples = { ...results.samples };
  if (nativeRates) {
    samples.native_1 = [nativeRates[1]];
    samples.native_2 = [nativeRates[2]];
  }
  // Every figure must be a real rate: a zero or missing one is a broken bench, never a result.
  const broken = Object.entries(samples).filter(([, rates]) => !rates.length || !rates.every((rate) => rate > 0));
  if (broken.length) {
    console.error(`benchmark failed: no positive rate for ${broken.map(([name]) => name).join(', ')}`);
    finish(1);
    return;
  }
  const median = (values) => {
    const sorted = [...values].sort((a, b) => a - b);
    const mid = Math.floor(sorted.length / 2);
    return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  };
  // Rounds are paired, so ratios are taken round by round (load on a shared machine shifts both
  // figures of a round alike), and the median of those is given.
  const ratios = (a, b) => samples[a].map((rate, i) => rate / (samples[b][i] ?? samples[b][0]));
  const ratio = (a, b) => median(ratios(a, b));
  const mhs = (name) => (median(samples[name]) / 1e6).toFixed(3);
  const shown = (a, b, what) => {
    const each = ratios(a, b);
    const spread = each.length > 1 ? ` (rounds: ${each.map((r) => r.toFixed(2)).join(', ')})` : '';
    return `${ratio(a, b).toFixed(2)}x ${what}${spread}`;
  };
  // [the figures a row needs, the row]: rows of cases that did not run are left out.
  const rows = [
    [['simd_1'], () => `| wasm miner, SIMD build, 1 worker | ${mhs('simd_1')} | ${samples.hash_wasm_1 ? shown('simd_1', 'hash_wasm_1', 'hash-wasm') : ''} |`],
    [['simd_2', 'simd_1'], () => `| wasm miner, SIMD build, 2 workers | ${mhs('simd_2')} | ${shown('simd_2', 'simd_1', 'one worker')} |`],
    [['scalar_1'], () => `| wasm miner, scalar build, 1 worker | ${mhs('scalar_1')} | ${samples.hash_wasm_1 ? shown('scalar_1', 'hash_wasm_1', 'hash-wasm') : ''}${samples.simd_1 ? `; ${shown('scalar_1', 'simd_1', 'SIMD')}` : ''} |`],
    [['scalar_2', 'scalar_1'], () => `| wasm miner, scalar build, 2 workers | ${mhs('scalar_2')} | ${shown('scalar_2', 'scalar_1', 'one worker')} |`],
    [['throttle_50', 'simd_1'], () => `| wasm miner, SIMD, 1 worker, throttle 50 % | ${mhs('throttle_50')} | ${shown('throttle_50', 'simd_1', 'unthrottled')} |`],
    [['hash_wasm_1'], () => `| hash-wasm (npm), 1 worker, 2 × sha256 per nonce | ${mhs('hash_wasm_1')} | |`],
    [['alt_1', 'simd_1'], () => `| second SIMD build (${args.alt}), 1 worker | ${mhs('alt_1')} | ${shown('simd_1', 'alt_1', 'web/pkg is this fast')} |`],
    [['native_1'], () => `| native \`bbchain --benchmark --threads 1\` | ${mhs('native_1')} | ${samples.simd_1 ? `${(median(samples.native_1) / median(samples.simd_1)).toFixed(2)}x the SIMD worker` : ''} |`],
    [['native_2', 'native_1'], () => `| native \`bbchain --benchmark --threads 2\` | ${mhs('native_2')} | ${shown('native_2', 'native_1', 'one thread')} |`],
  ];
  const goals = GOALS.filter(([a, b]) => samples[a] && samples[b]).map(([a, b, min]) => {
    const value = ratio(a, b);
    return { met: value >= min, line: `- ${a} / ${b} = ${value.toFixed(2)}x, goal ≥ ${min}x: ${value >= min ? 'met' : 'NOT met'}` };
  });
  console.log([
    `${results.userAgent} (${results.cores} logical cores); median of ${results.rounds} interleaved rounds of ${results.seconds} s per case; load average before: ${loadBefore}`,
    '',
    '| case | MH/s | ratio (median of per-round ratios) |',
    '|---|---:|---|',
    ...rows.filter(([needs]) => needs.every((name) => samples[name])).map(([, row]) => row()),
    '',
    ...goals.map(({ line }) => line),
  ].join('\n'));
  const missed = goals.some(({ met }) => !met);
  if (missed && requireGoals) console.error('a goal was missed (--require-goals)');
  finish(missed && requireGoals ? 1 : 0);
}

// Ends without process.exit, which could cut off output still on its way down a pipe.
function finish(code) {
  process.exitCode = code;
  clearTimeout(deadline);
  server.close();
  server.closeAllConnections();
  const removeProfile = () => {
    try {
      rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
    } catch (error) {
      console.error(`could not remove ${profile}: ${error.message}`);
    }
  };
  if (browser && browser.exitCode === null && browser.signalCode === null) {
    browser.removeAllListeners('exit');
    browser.once('exit', removeProfile);
    // /usr/bin/chromium is a wrapper script: end its whole process group.
    process.kill(-browser.pid, 'SIGTERM');
  } else {
    removeProfile();
  }
}

let deadline;
const loadBefore = loadavg().map((load) => load.toFixed(2)).join(' ');
// Every case, its known-nonce check and start-up, with room to spare on a loaded machine.
const caseCount = args.cases ? args.cases.split(',').length : 5 + (alt ? 1 : 0);
const deadlineMs = (caseCount * rounds * (seconds + 4) + 120) * 1000;

server.listen(port, '127.0.0.1', () => {
  const port = server.address().port;
  const only = args.cases ? `&cases=${encodeURIComponent(args.cases)}` : '';
  const url = `http://127.0.0.1:${port}/bench/bench.html?seconds=${seconds}&rounds=${rounds}&alt=${alt ? 1 : 0}${only}`;
  browser = spawn(chromium, [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--no-first-run',
    '--disable-sync',
    `--user-data-dir=${profile}`,
    url,
  ], { stdio: 'ignore', detached: true });
  browser.on('exit', (code) => {
    console.error(`chromium exited (${code}) before reporting`);
    finish(1);
  });
  deadline = setTimeout(() => {
    console.error(`no result after ${deadlineMs / 1000} s`);
    finish(1);
  }, deadlineMs);
});
