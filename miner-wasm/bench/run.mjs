#!/usr/bin/env node
// Runs bench.html in headless Chromium and prints the results as a Markdown table.
//
//   node miner-wasm/bench/run.mjs [--port 18300] [--seconds 10] [--rounds 3] [--pkg web/pkg] [--alt DIR]
//                                 [--native target/release/bbchain] [--cases wasm_1,alt_1]
//
// --cases runs only the named cases (wasm_1, wasm_2, hash_wasm_1, alt_1, alt_2, and throttle_50,
// which runs only when named).
// --native also runs `bbchain --benchmark` with 1 and 2 threads just before the browser, as the
// native reference and as a check of how far two cores scale on this machine at all.
// --pkg swaps the wasm build under test; --alt DIR also measures a second build (say, simd128) in the
// same browser run, interleaved with the first. Needs `make wasm` and hash-wasm installed with npm
// under target/browser-bench (git-ignored):
//   npm install --prefix target/browser-bench hash-wasm@4.13.0

import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, normalize, resolve } from 'node:path';

const root = resolve(new URL('../..', import.meta.url).pathname);
const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, arg, i, all) => (arg.startsWith('--') ? [...pairs, [arg.slice(2), all[i + 1]]] : pairs), []),
);
const port = Number(args.port ?? 18300);
const seconds = Number(args.seconds ?? 10);
const rounds = Number(args.rounds ?? 3);
const alt = args.alt && resolve(root, args.alt);
const pkg = resolve(root, args.pkg ?? 'web/pkg');
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

// URL prefix → folder. /web/pkg comes before /web so --pkg can swap the wasm build.
const mounts = [
  ['/web/pkg/', pkg],
  ['/web/', join(root, 'web')],
  ['/bench/', join(root, 'miner-wasm/bench')],
  ['/hash-wasm/', hashWasm],
  ...(alt ? [['/alt/pkg/', alt], ['/alt/js/', join(root, 'web/js')]] : []),
];
const types = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json' };

for (const [, dir] of mounts) {
  try {
    statSync(dir);
  } catch {
    console.error(`missing ${dir}: see the comment at the top of run.mjs`);
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

function report(results) {
  if (results.error) {
    console.error(`benchmark failed in the page: ${results.error}`);
    finish(1);
    return;
  }
  const mhs = (rate) => (rate / 1e6).toFixed(3);
  const ratio = (a, b) => `${(a / b).toFixed(2)}x`;
  const r = { ...results, native_1: nativeRates?.[1], native_2: nativeRates?.[2] };
  // [the figures a row needs, the row]: rows of cases that did not run are left out.
  const rows = [
    [['wasm_1'], () => `| bbchain wasm miner, 1 worker | ${mhs(r.wasm_1)} | ${r.hash_wasm_1 ? `${ratio(r.wasm_1, r.hash_wasm_1)} hash-wasm` : ''} |`],
    [['wasm_2', 'wasm_1'], () => `| bbchain wasm miner, 2 workers | ${mhs(r.wasm_2)} | ${ratio(r.wasm_2, r.wasm_1)} one worker |`],
    [['throttle_50', 'wasm_1'], () => `| bbchain wasm miner, 1 worker, throttle 50 % | ${mhs(r.throttle_50)} | ${ratio(r.throttle_50, r.wasm_1)} unthrottled |`],
    [['hash_wasm_1'], () => `| hash-wasm (npm), 1 worker, 2 × sha256 per nonce | ${mhs(r.hash_wasm_1)} | |`],
    [['alt_1', 'alt_ratio'], () => `| second build (${args.alt}), 1 worker | ${mhs(r.alt_1)} | ${r.alt_ratio.toFixed(2)}x the first (median of per-round ratios) |`],
    [['alt_2', 'alt_1'], () => `| second build (${args.alt}), 2 workers | ${mhs(r.alt_2)} | ${ratio(r.alt_2, r.alt_1)} one worker |`],
    [['native_1', 'wasm_1'], () => `| native \`bbchain --benchmark --threads 1\` | ${mhs(r.native_1)} | ${ratio(r.native_1, r.wasm_1)} the wasm worker |`],
    [['native_2', 'native_1'], () => `| native \`bbchain --benchmark --threads 2\` | ${mhs(r.native_2)} | ${ratio(r.native_2, r.native_1)} one thread |`],
  ];
  console.log([
    `${results.userAgent} (${results.cores} logical cores); median of ${results.rounds} interleaved rounds of ${results.seconds} s per case; wasm from ${args.pkg ?? 'web/pkg'}`,
    '',
    '| case | MH/s | ratio |',
    '|---|---:|---|',
    ...rows.filter(([needs]) => needs.every((name) => Number.isFinite(r[name]))).map(([, row]) => row()),
  ].join('\n'));
  finish(0);
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

server.listen(port, '127.0.0.1', () => {
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
    console.error('no result after 5 minutes');
    finish(1);
  }, 300_000);
});
