//! The nonce search both miners run: a SHA-256 midstate over the header's first 64 bytes, then two
//! compressions per nonce, on one of several [`Path`]s.
//!
//! - [`job`]: what is computed once per job instead of once per nonce;
//! - [`kernel`]: one sha256d kernel over any number of lanes (nonces side by side), safe code;
//! - [`portable`]: the `sha2` crate's loop, the reference the others are tested against;
//! - `simd`: the only module allowed `unsafe`: the vector backends, reached only after detection.

mod job;
mod kernel;
mod portable;
#[allow(unsafe_code)]
mod simd;

use crate::hash::BlockHash;
use crate::header::Header;
use crate::target::Target;

use job::Job;

/// One way to run the nonce scan. Which ones a CPU can run is known at run time
/// ([`Path::is_available`]); which one is fastest, only by measuring (the native miner does).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Path {
    /// The generic kernel on one plain `u32` lane: any CPU.
    Portable,
    /// The `sha2` crate's compression, two calls per nonce: SHA extensions where the CPU has them
    /// (x86 SHA-NI, aarch64 SHA2), software otherwise. The reference the other paths are tested against.
    Sha2,
    /// The generic kernel on AVX2: 8 nonces per `__m256i`.
    Avx2,
    /// The generic kernel on AVX-512F: 16 nonces per `__m512i`.
    Avx512,
    /// The x86 SHA extensions driven directly, several nonces interleaved.
    ShaNi,
    /// The browser's WebAssembly SIMD: 4 nonces per `v128`.
    Simd128,
}

impl Path {
    /// Every path.
    pub const ALL: [Path; 6] = [
        Path::Portable,
        Path::Sha2,
        Path::Avx2,
        Path::Avx512,
        Path::ShaNi,
        Path::Simd128,
    ];

    /// A short lowercase name for logs and benchmarks.
    pub fn name(self) -> &'static str {
        match self {
            Path::Portable => "portable",
            Path::Sha2 => "sha2",
            Path::Avx2 => "avx2",
            Path::Avx512 => "avx512",
            Path::ShaNi => "sha-ni",
            Path::Simd128 => "simd128",
        }
    }

    /// Whether this build can run the path on this CPU (with the `std` feature on x86_64 the CPU
    /// is asked at run time; without it, the compile-time target features decide).
    pub fn is_available(self) -> bool {
        match self {
            Path::Portable | Path::Sha2 => true,
            Path::Avx2 => simd::has_avx2(),
            Path::Avx512 => simd::has_avx512(),
            Path::ShaNi => simd::has_shani(),
            Path::Simd128 => simd::HAS_SIMD128,
        }
    }

    /// The paths this CPU can run, in [`Path::ALL`]'s order.
    pub fn available() -> impl Iterator<Item = Path> {
        Path::ALL.into_iter().filter(|path| path.is_available())
    }

    /// What [`scan`] runs. Natively the `sha2` loop, as before there were paths: it uses the CPU's
    /// SHA extensions by itself, and it stays fast in unoptimised builds, where intrinsics are
    /// function calls (the tests build blocks with [`scan`]). The native miner measures every
    /// available path and runs the fastest instead. In the browser: the SIMD path where the build
    /// has it, else `sha2` too (V8 ran its software compression about 2x as fast as the portable
    /// lanes: docs/BENCHMARKS.md, "Browser miner").
    pub fn preferred() -> Path {
        if Path::Simd128.is_available() {
            Path::Simd128
        } else {
            Path::Sha2
        }
    }
}

impl core::fmt::Display for Path {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// SHA-256's initial state.
pub(crate) const IV: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/// The fixed part of a header, hashed once per job instead of once per nonce.
#[derive(Debug, Clone)]
pub struct Midstate {
    /// SHA-256 state after the header's first 64 bytes.
    pub(crate) state: [u32; 8],
    /// The second message block with everything but the nonce filled in.
    pub(crate) tail_block: [u8; 64],
    /// The header's first 76 bytes, to rebuild a found header.
    header: Header,
    /// The nonce-independent work of both hashes, for the kernel.
    job: Job<u32>,
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
            job: Job::new(state, &tail_block),
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
pub(crate) fn second_hash(inner: [u32; 8]) -> BlockHash {
    let mut block = SECOND_BLOCK;
    put_digest(&mut block, inner);
    hash_from_state(compress(IV, &block))
}

/// The second hash's message block: a 32-byte digest, then SHA-256 padding for 32 bytes.
pub(crate) const SECOND_BLOCK: [u8; 64] = {
    let mut block = [0u8; 64];
    block[32] = 0x80;
    // Message length in bits, big-endian: 256.
    block[62] = 0x01;
    block
};

/// Writes a state as the big-endian digest bytes at the start of `block`.
pub(crate) fn put_digest(block: &mut [u8; 64], state: [u32; 8]) {
    for (chunk, word) in block[..32].chunks_exact_mut(4).zip(state) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
}

pub(crate) fn compress(mut state: [u32; 8], block: &[u8; 64]) -> [u32; 8] {
    sha2::block_api::compress256(&mut state, core::slice::from_ref(block));
    state
}

pub(crate) fn hash_from_state(state: [u32; 8]) -> BlockHash {
    let mut out = [0u8; 32];
    for (chunk, word) in out.chunks_exact_mut(4).zip(state) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    BlockHash::from_byte_array(out)
}

/// Hashes nonces `start..start + count` (stopping at `u32::MAX`) and returns the first that meets
/// `target`, on [`Path::preferred`] (see [`scan_with`] to pick the path). Callers work in batches: a batch is cheap to stop between, and
/// one call per hash is not.
pub fn scan(midstate: &Midstate, target: &Target, start: u32, count: u32) -> ScanResult {
    scan_with(Path::preferred(), midstate, target, start, count)
        .unwrap_or_else(|| portable::scan(midstate, target, start, count))
}

/// [`scan`] on one given path; `None` when this CPU or build cannot run it (nothing is run then).
pub fn scan_with(
    path: Path,
    midstate: &Midstate,
    target: &Target,
    start: u32,
    count: u32,
) -> Option<ScanResult> {
    match path {
        // One plain `u32` lane: as fast per nonce as four side by side natively (the compiler
        // finds the same overlap), and a quarter of the code for a wasm engine to compile.
        Path::Portable => Some(kernel::scan::<u32>(midstate, target, start, count)),
        Path::Sha2 => Some(portable::scan(midstate, target, start, count)),
        Path::Avx2 => simd::scan_avx2(midstate, target, start, count),
        Path::Avx512 => simd::scan_avx512(midstate, target, start, count),
        Path::ShaNi => simd::scan_shani(midstate, target, start, count),
        Path::Simd128 => simd::scan_simd128(midstate, target, start, count),
    }
}

/// The top 32 bits of `target`: a hash whose top 32 bits are above them cannot meet it.
fn target_top(target: &Target) -> u32 {
    (target.value() >> 224usize).as_limbs()[0] as u32
}

/// How many nonces `start..start + count` holds once it stops at `u32::MAX`.
fn range_len(start: u32, count: u32) -> u64 {
    if count == 0 {
        0
    } else {
        u64::from(start.saturating_add(count - 1) - start) + 1
    }
}

/// Where the nonce sits in the header's second 64-byte block.
const NONCE_IN_TAIL: usize = Header::NONCE_OFFSET - 64;

pub(crate) fn set_nonce(block: &mut [u8; 64], nonce: u32) {
    block[NONCE_IN_TAIL..NONCE_IN_TAIL + 4].copy_from_slice(&nonce.to_le_bytes());
}
