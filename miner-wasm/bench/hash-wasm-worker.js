// The baseline: the `hash-wasm` npm package used the usual way, two SHA-256 calls per nonce over
// the 80-byte header. It speaks the same messages as web/js/miner-worker.js (job with `ranges`,
// `round` echoed), so the bench page drives and checks both alike.

import { createSHA256 } from '/hash-wasm/index.esm.js';

const CHUNK = 20_000;
let job = null;
const hasher = await createSHA256();
// Yield between chunks like the miner's worker does: setTimeout would add its 4 ms clamp.
const yieldChannel = new MessageChannel();
yieldChannel.port1.onmessage = () => step();

function hexBytes(hex) {
  return Uint8Array.from(hex.match(/../g), (pair) => parseInt(pair, 16));
}

function meets(hash, targetBigEndian) {
  // The hash read as a little-endian number against the big-endian target.
  for (let i = 0; i < 32; i++) {
    const h = hash[31 - i];
    if (h !== targetBigEndian[i]) return h < targetBigEndian[i];
  }
  return true;
}

function step() {
  if (!job) return;
  const header = job.header;
  const view = new DataView(header.buffer);
  const [next, last] = job.ranges[0];
  const end = Math.min(next + CHUNK - 1, last);
  let found;
  for (let nonce = next; nonce <= end; nonce++) {
    view.setUint32(76, nonce, true);
    hasher.init();
    hasher.update(header);
    const inner = hasher.digest('binary');
    hasher.init();
    hasher.update(inner);
    if (meets(hasher.digest('binary'), job.target)) {
      found = nonce;
      break;
    }
  }
  const count = (found ?? end) - next + 1;
  postMessage({ type: 'hashes', round: job.round, count });
  if (found !== undefined) {
    postMessage({ type: 'found', jobId: job.jobId, round: job.round, nonce: found });
    job = null;
    return;
  }
  if (end >= last) job.ranges.shift();
  else job.ranges[0] = [end + 1, last];
  if (!job.ranges.length) {
    postMessage({ type: 'exhausted', jobId: job.jobId, round: job.round });
    job = null;
    return;
  }
  yieldChannel.port2.postMessage(null);
}

onmessage = ({ data }) => {
  if (data.type === 'job') {
    job = {
      jobId: data.jobId,
      round: data.round,
      header: hexBytes(data.header),
      target: hexBytes(data.target),
      ranges: data.ranges.map(([start, end]) => [start, end]),
    };
    step();
  } else if (data.type === 'pause') {
    job = null;
  }
};
postMessage({ type: 'ready' });
