// One mining worker: its own wasm instance hashes its nonce ranges of the current job in chunks of
// about CHUNK_MS, yielding between chunks so a new job, a pause or a throttle change acts at once.
//
// Main thread → worker: {type:'job', jobId, round, header, target, ranges} (ranges: [[start, end], ...],
//                       inclusive, hashed in order), {type:'pause'},
//                       {type:'throttle', value} (0.1..1, the share of time spent hashing).
// Worker → main thread: {type:'ready', build}, {type:'hashes', round, count},
//                       {type:'found', jobId, round, nonce, hash}, {type:'exhausted', jobId, round},
//                       {type:'error', message}. `round` echoes the job message's, so the main thread
//                       can tell reports about an earlier dispatch.

// Two builds of the same crate: with WebAssembly SIMD (faster; Chrome 91, Firefox 89, Safari 16.4
// and later) in pkg/, without it in pkg-scalar/. This probe is a tiny module using one SIMD opcode.
const SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11,
]);
const BUILD =
  new URL(self.location.href).searchParams.get('wasm') ?? (WebAssembly.validate(SIMD_PROBE) ? 'simd' : 'scalar');
const GLUE = BUILD === 'scalar' ? '../pkg-scalar/bbchain_miner_wasm.js' : '../pkg/bbchain_miner_wasm.js';

let JobScanner = null;

const CHUNK_MS = 50;
const MIN_CHUNK = 1_000;
const MAX_CHUNK = 50_000_000;

let job = null;
let throttle = 1;
let chunk = 20_000;
let queued = false; // a yield message is on its way
let timer = null; // a throttle pause is running

// A MessageChannel round trip yields to the event loop without setTimeout's 4 ms clamp.
const yieldChannel = new MessageChannel();
yieldChannel.port1.onmessage = () => {
  queued = false;
  step();
};

function schedule(delayMs = 0) {
  if (queued || timer !== null) return;
  if (delayMs > 0) {
    timer = setTimeout(() => {
      timer = null;
      step();
    }, delayMs);
  } else {
    queued = true;
    yieldChannel.port2.postMessage(null);
  }
}

/** Switches to `next` (or to nothing) at once, cutting short any throttle pause. */
function setJob(next) {
  job?.scanner.free();
  job = next;
  clearTimeout(timer);
  timer = null;
  if (job) schedule();
}

function step() {
  if (!job) return;
  const current = job;
  const [next, end] = current.ranges[0];
  const count = Math.min(chunk, end - next + 1);
  const began = performance.now();
  const nonce = current.scanner.scan(next, count);
  const elapsed = performance.now() - began;
  const hashed = nonce === undefined ? count : nonce - next + 1;
  postMessage({ type: 'hashes', round: current.round, count: hashed });

  // Aim each chunk at CHUNK_MS; only full chunks say how fast this machine is.
  if (nonce === undefined) {
    const ideal = (count * CHUNK_MS) / Math.max(elapsed, 0.5);
    chunk = Math.round(Math.min(MAX_CHUNK, Math.max(MIN_CHUNK, (chunk + ideal) / 2)));
  }

  if (nonce !== undefined) {
    // A block: wait for the main thread to say what next (usually a new job after the submit).
    const hash = current.scanner.hashHex(nonce);
    postMessage({ type: 'found', jobId: current.jobId, round: current.round, nonce, hash });
    setJob(null);
    return;
  }
  if (next + count > end) current.ranges.shift();
  else current.ranges[0] = [next + count, end];
  if (!current.ranges.length) {
    postMessage({ type: 'exhausted', jobId: current.jobId, round: current.round });
    setJob(null);
    return;
  }
  schedule(throttle < 1 ? (elapsed * (1 - throttle)) / throttle : 0);
}

const ready = import(GLUE)
  .then(async (glue) => {
    await glue.default();
    JobScanner = glue.JobScanner;
  })
  .then(
    () => postMessage({ type: 'ready', build: BUILD }),
    (error) => postMessage({ type: 'error', message: `the ${BUILD} WebAssembly miner failed to load (${error})` }),
  );

onmessage = async ({ data }) => {
  await ready;
  switch (data.type) {
    case 'job':
      try {
        setJob({
          jobId: data.jobId,
          round: data.round,
          scanner: new JobScanner(data.header, data.target),
          ranges: data.ranges.map(([start, end]) => [start, end]),
        });
      } catch (error) {
        setJob(null);
        postMessage({ type: 'error', message: `bad job ${data.jobId}: ${error}` });
      }
      break;
    case 'pause':
      setJob(null);
      break;
    case 'throttle':
      throttle = Math.min(1, Math.max(0.05, Number(data.value) || 1));
      break;
  }
};
