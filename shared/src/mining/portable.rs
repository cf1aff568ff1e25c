//! Two paths that run on any CPU: the `sha2` crate's loop ([`scan`], the reference every other path
//! is tested against), and plain-`u32` lanes for the generic kernel ([`Lanes`]).

use super::{
    Midstate, SECOND_BLOCK, ScanResult, compress, hash_from_state, put_digest, range_len,
    set_nonce, target_top,
};
use crate::target::Target;

/// Nonces hashed side by side. Working on a few independent nonces at once lets the CPU overlap
/// their compressions, and each message block is written a while before it is read, so the reads
/// never wait on a store still in flight. Together that is worth about 1.7x over one nonce at a time.
const SHA2_LANES: usize = 4;

/// The `sha2` loop: two full compressions per nonce, `sha2` picking the CPU's SHA extensions at
/// run time where they exist.
pub(crate) fn scan(midstate: &Midstate, target: &Target, start: u32, count: u32) -> ScanResult {
    let total = range_len(start, count);
    // The hash read as a little-endian number has its top 32 bits in the last four bytes, which are
    // the byte-swapped last state word: most nonces are ruled out by one comparison.
    let target_top = target_top(target);
    let mut firsts = [midstate.tail_block; SHA2_LANES];
    let mut seconds = [SECOND_BLOCK; SHA2_LANES];
    for (lane, block) in firsts.iter_mut().enumerate() {
        set_nonce(block, start.wrapping_add(lane as u32));
    }
    let mut done = 0u64;
    while done < total {
        let lanes = (total - done).min(SHA2_LANES as u64) as usize;
        let base = start.wrapping_add(done as u32);
        for lane in 0..lanes {
            put_digest(&mut seconds[lane], compress(midstate.state, &firsts[lane]));
            // Ready this lane's block for the next round of lanes.
            set_nonce(
                &mut firsts[lane],
                base.wrapping_add((lane + SHA2_LANES) as u32),
            );
        }
        for (lane, block) in seconds.iter().enumerate().take(lanes) {
            let state = compress(super::IV, block);
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

/// Nonces per call of the portable kernel: enough independent work for the CPU to overlap, few
/// enough to stay in registers.
pub(crate) const PORTABLE_LANES: usize = 4;

/// [`PORTABLE_LANES`] plain `u32` words, one nonce each.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Lanes([u32; PORTABLE_LANES]);

impl Lanes {
    #[inline(always)]
    fn map(self, other: Lanes, op: impl Fn(u32, u32) -> u32) -> Lanes {
        Lanes(core::array::from_fn(|lane| op(self.0[lane], other.0[lane])))
    }

    #[inline(always)]
    fn each(self, op: impl Fn(u32) -> u32) -> Lanes {
        Lanes(self.0.map(op))
    }
}

impl super::kernel::Lanes for Lanes {
    type Words = [u32; PORTABLE_LANES];

    #[inline(always)]
    fn splat(word: u32) -> Lanes {
        Lanes([word; PORTABLE_LANES])
    }

    #[inline(always)]
    fn load(words: Self::Words) -> Lanes {
        Lanes(words)
    }

    #[inline(always)]
    fn store(self) -> Self::Words {
        self.0
    }

    #[inline(always)]
    fn add(self, other: Lanes) -> Lanes {
        self.map(other, u32::wrapping_add)
    }

    #[inline(always)]
    fn xor(self, other: Lanes) -> Lanes {
        self.map(other, |a, b| a ^ b)
    }

    #[inline(always)]
    fn and(self, other: Lanes) -> Lanes {
        self.map(other, |a, b| a & b)
    }

    #[inline(always)]
    fn or(self, other: Lanes) -> Lanes {
        self.map(other, |a, b| a | b)
    }

    #[inline(always)]
    fn andnot(self, other: Lanes) -> Lanes {
        self.map(other, |a, b| !a & b)
    }

    #[inline(always)]
    fn rotr<const R: u32>(self) -> Lanes {
        self.each(|word| word.rotate_right(R))
    }

    #[inline(always)]
    fn shr<const S: u32>(self) -> Lanes {
        self.each(|word| word >> S)
    }
}
