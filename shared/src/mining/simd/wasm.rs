//! The browser's WebAssembly SIMD backend of the kernel: four consecutive nonces per `v128`, one per
//! `i32x4` lane.
//!
//! Compiled only into builds with `simd128` (`make wasm` builds `web/pkg` with
//! `-C target-feature=+simd128`). WebAssembly has no "unsupported instruction" at run time: an
//! engine without SIMD refuses the whole module when it loads it (the page's worker then loads
//! `web/pkg-scalar`, which has no such code). So the `core::arch::wasm32` intrinsics used here are safe
//! functions and this file needs no `unsafe`.
//!
//! Where WebAssembly has a better instruction than the kernel's default, the backend uses it:
//! `v128.bitselect` is Ch in one instruction and Maj in two, and the nonces are byte-swapped by one
//! `i8x16.shuffle` per four nonces. SIMD has no rotate: a rotation is two shifts and an or.

use core::arch::wasm32::{
    i8x16_shuffle, i32x4_add, i32x4_shl, u32x4, u32x4_extract_lane, u32x4_shr, u32x4_splat, v128,
    v128_and, v128_andnot, v128_bitselect, v128_or, v128_xor,
};

use super::super::kernel::{self, Lanes};
use super::super::{Midstate, ScanResult};
use crate::target::Target;

/// Four 32-bit words in one `v128`, lane 0 first.
#[derive(Clone, Copy)]
pub(crate) struct V128(v128);

impl Lanes for V128 {
    type Words = [u32; 4];

    #[inline(always)]
    fn splat(word: u32) -> V128 {
        V128(u32x4_splat(word))
    }

    #[inline(always)]
    fn load(words: [u32; 4]) -> V128 {
        V128(u32x4(words[0], words[1], words[2], words[3]))
    }

    #[inline(always)]
    fn store(self) -> [u32; 4] {
        [
            u32x4_extract_lane::<0>(self.0),
            u32x4_extract_lane::<1>(self.0),
            u32x4_extract_lane::<2>(self.0),
            u32x4_extract_lane::<3>(self.0),
        ]
    }

    #[inline(always)]
    fn add(self, other: V128) -> V128 {
        V128(i32x4_add(self.0, other.0))
    }

    #[inline(always)]
    fn xor(self, other: V128) -> V128 {
        V128(v128_xor(self.0, other.0))
    }

    #[inline(always)]
    fn and(self, other: V128) -> V128 {
        V128(v128_and(self.0, other.0))
    }

    #[inline(always)]
    fn or(self, other: V128) -> V128 {
        V128(v128_or(self.0, other.0))
    }

    #[inline(always)]
    fn andnot(self, other: V128) -> V128 {
        // `v128.andnot(a, b)` is `a & !b`.
        V128(v128_andnot(other.0, self.0))
    }

    #[inline(always)]
    fn rotr<const R: u32>(self) -> V128 {
        V128(v128_or(u32x4_shr(self.0, R), i32x4_shl(self.0, 32 - R)))
    }

    #[inline(always)]
    fn shr<const S: u32>(self) -> V128 {
        V128(u32x4_shr(self.0, S))
    }

    /// `v128.bitselect(f, g, e)`: `f` where `e` is set, `g` elsewhere.
    #[inline(always)]
    fn ch(e: V128, f: V128, g: V128) -> V128 {
        V128(v128_bitselect(f.0, g.0, e.0))
    }

    /// Where `a` and `b` differ the majority is `c`'s bit, where they agree it is theirs.
    #[inline(always)]
    fn maj(a: V128, b: V128, c: V128) -> V128 {
        V128(v128_bitselect(c.0, b.0, v128_xor(a.0, b.0)))
    }

    /// `base..base + 4`, each byte-swapped by one shuffle (the header stores the nonce little-endian,
    /// SHA-256 reads big-endian words).
    #[inline(always)]
    fn nonce_words(base: u32) -> V128 {
        let nonces = i32x4_add(u32x4_splat(base), u32x4(0, 1, 2, 3));
        V128(i8x16_shuffle::<
            3,
            2,
            1,
            0,
            7,
            6,
            5,
            4,
            11,
            10,
            9,
            8,
            15,
            14,
            13,
            12,
        >(nonces, nonces))
    }
}

/// The kernel on four `v128` lanes.
pub(crate) fn scan(midstate: &Midstate, target: &Target, start: u32, count: u32) -> ScanResult {
    kernel::scan::<V128>(midstate, target, start, count)
}
