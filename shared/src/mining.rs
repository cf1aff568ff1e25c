//! The nonce search both miners run: a SHA-256 midstate over the header's first 64 bytes, then two
//! compressions per nonce. `sha2` picks the CPU's SHA extensions at run time where they exist.

use crate::hash::BlockHash;
use crate::header::Header;
use crate::target::Target;

/// SHA-256's initial state.
const IV: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/// The fixed part of a header, hashed once per job instead of once per nonce.
#[derive(Debug, Clone)]
pub struct Midstate {
    /// SHA-256 state after the header's first 64 bytes.
    state: [u32; 8],
    /// The second message block with everything but the nonce filled in.
    tail_block: [u8; 64],
    /// The header's first 76 bytes, to rebuild a found header.
    header: Header,
}

/// What one call to [`scan`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanResult {
    /// The first nonce in the range whose header meets the target.
    pub nonce: Option<u32>,
    /// How many nonces were hashed.
    pub hashes: u64,
}

impl Midstate {
    /// Prepares `header` for scanning; its own nonce is ignored.
    pub fn new(header: &Header) -> Midstate {
        let bytes = header.to_bytes();
        let mut first = [0u8; 64];
        first.copy_from_slice(&bytes[..64]);
        let state = compress(IV, &first);
        let mut tail_block = [0u8; 64];
        tail_block[..16].copy_from_slice(&bytes[64..80]);
        tail_block[16] = 0x80;
        // Message length in bits, big-endian: 80 bytes.
        tail_block[56..].copy_from_slice(&(80u64 * 8).to_be_bytes());
        Midstate {
            state,
            tail_block,
            header: *header,
        }
    }

    /// The header with `nonce` filled in.
    pub fn header_with_nonce(&self, nonce: u32) -> Header {
        Header {
            nonce,
            ..self.header
        }
    }

    /// The block hash for `nonce`, using the midstate.
    pub fn hash(&self, nonce: u32) -> BlockHash {
        let mut tail = self.tail_block;
        set_nonce(&mut tail, nonce);
        second_hash(compress(self.state, &tail))
    }
}

/// The outer SHA-256 of the 32-byte inner digest, as big-endian state words turned into bytes.
fn second_hash(inner: [u32; 8]) -> BlockHash {
    let mut block = SECOND_BLOCK;
    put_digest(&mut block, inner);
    hash_from_state(compress(IV, &block))
}

/// The second hash's message block: a 32-byte digest, then SHA-256 padding for 32 bytes.
const SECOND_BLOCK: [u8; 64] = {
    let mut block = [0u8; 64];
    block[32] = 0x80;
    // Message length in bits, big-endian: 256.
    block[62] = 0x01;
    block
};

/// Writes a state as the big-endian digest bytes at the start of `block`.
fn put_digest(block: &mut [u8; 64], state: [u32; 8]) {
    for (chunk, word) in block[..32].chunks_exact_mut(4).zip(state) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
}

fn compress(mut state: [u32; 8], block: &[u8; 64]) -> [u32; 8] {
    sha2::block_api::compress256(&mut state, core::slice::from_ref(block));
    state
}

fn hash_from_state(state: [u32; 8]) -> BlockHash {
    let mut out = [0u8; 32];
    for (chunk, word) in out.chunks_exact_mut(4).zip(state) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    BlockHash::from_byte_array(out)
}

/// Nonces hashed side by side. Working on a few independent nonces at once lets the CPU overlap
/// their compressions, and each message block is written a while before it is read, so the reads
/// never wait on a store still in flight. Together that is worth about 1.7x over one nonce at a time.
const LANES: usize = 4;

/// Hashes nonces `start..start + count` (stopping at `u32::MAX`) and returns the first that meets
/// `target`. Callers work in batches: a batch is cheap to stop between, and one call per hash is not.
pub fn scan(midstate: &Midstate, target: &Target, start: u32, count: u32) -> ScanResult {
    if count == 0 {
        return ScanResult {
            nonce: None,
            hashes: 0,
        };
    }
    let total = u64::from(start.saturating_add(count - 1) - start) + 1;
    // The hash read as a little-endian number has its top 32 bits in the last four bytes, which are
    // the byte-swapped last state word: most nonces are ruled out by one comparison.
    let target_top = (target.value() >> 224usize).as_limbs()[0] as u32;
    let mut firsts = [midstate.tail_block; LANES];
    let mut seconds = [SECOND_BLOCK; LANES];
    for (lane, block) in firsts.iter_mut().enumerate() {
        set_nonce(block, start.wrapping_add(lane as u32));
    }
    let mut done = 0u64;
    while done < total {
        let lanes = (total - done).min(LANES as u64) as usize;
        let base = start.wrapping_add(done as u32);
        for lane in 0..lanes {
            put_digest(&mut seconds[lane], compress(midstate.state, &firsts[lane]));
            // Ready this lane's block for the next round of lanes.
            set_nonce(&mut firsts[lane], base.wrapping_add((lane + LANES) as u32));
        }
        for (lane, block) in seconds.iter().enumerate().take(lanes) {
            let state = compress(IV, block);
            let top = state[7].swap_bytes();
            if top < target_top || (top == target_top && target.is_met_by(&hash_from_state(state)))
            {
                return ScanResult {
                    nonce: Some(base.wrapping_add(lane as u32)),
                    hashes: done + lane as u64 + 1,
                };
            }
        }
        done += lanes as u64;
    }
    ScanResult {
        nonce: None,
        hashes: total,
    }
}

/// Where the nonce sits in the header's second 64-byte block.
const NONCE_IN_TAIL: usize = Header::NONCE_OFFSET - 64;

fn set_nonce(block: &mut [u8; 64], nonce: u32) {
    block[NONCE_IN_TAIL..NONCE_IN_TAIL + 4].copy_from_slice(&nonce.to_le_bytes());
}

/// CPU-specific kernels: the only code in the crate allowed `unsafe`.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
#[allow(dead_code)] // Until the path choice (issue 13) calls it.
pub(crate) mod simd {
    pub(crate) mod shani;
}
