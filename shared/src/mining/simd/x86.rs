//! The kernel on x86_64 vectors: AVX2 (8 nonces per `__m256i`) and AVX-512F (16 per `__m512i`).
//!
//! Each backend maps one [`Lanes`] operation to one intrinsic (three for an AVX2 rotation: two
//! shifts and an or), so the generic kernel, tested on every CPU through the portable lanes,
//! carries all of the logic. The lane types are private to this module and only built inside the
//! `#[target_feature]` entry points, which are called only after `is_x86_feature_detected!` says
//! yes: that is what makes the `unsafe` intrinsic calls in the trait methods sound.

use core::arch::x86_64::{
    __m256i, __m512i, _mm256_add_epi32, _mm256_and_si256, _mm256_andnot_si256, _mm256_loadu_si256,
    _mm256_or_si256, _mm256_set1_epi32, _mm256_slli_epi32, _mm256_srli_epi32, _mm256_storeu_si256,
    _mm256_xor_si256, _mm512_add_epi32, _mm512_and_si512, _mm512_andnot_si512, _mm512_loadu_si512,
    _mm512_or_si512, _mm512_ror_epi32, _mm512_set1_epi32, _mm512_srli_epi32, _mm512_storeu_si512,
    _mm512_ternarylogic_epi32, _mm512_xor_si512,
};

use crate::mining::kernel::{self, Lanes};
use crate::mining::{Midstate, ScanResult};
use crate::target::Target;

/// Whether the CPU has AVX2 (asked at run time with `std`, the build's target features without).
pub(super) fn has_avx2() -> bool {
    #[cfg(feature = "std")]
    {
        std::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(feature = "std"))]
    {
        cfg!(target_feature = "avx2")
    }
}

/// Whether the CPU has AVX-512F, all the AVX-512 path uses.
pub(super) fn has_avx512() -> bool {
    #[cfg(feature = "std")]
    {
        std::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(feature = "std"))]
    {
        cfg!(target_feature = "avx512f")
    }
}

/// The kernel on AVX2; `None` on a CPU without it.
pub(super) fn scan_avx2(
    midstate: &Midstate,
    target: &Target,
    start: u32,
    count: u32,
) -> Option<ScanResult> {
    if !has_avx2() {
        return None;
    }
    // SAFETY: the CPU has AVX2, checked just above.
    Some(unsafe { scan_avx2_unchecked(midstate, target, start, count) })
}

#[target_feature(enable = "avx2")]
fn scan_avx2_unchecked(midstate: &Midstate, target: &Target, start: u32, count: u32) -> ScanResult {
    kernel::scan::<Avx2>(midstate, target, start, count)
}

/// The kernel on AVX-512F; `None` on a CPU without it.
pub(super) fn scan_avx512(
    midstate: &Midstate,
    target: &Target,
    start: u32,
    count: u32,
) -> Option<ScanResult> {
    if !has_avx512() {
        return None;
    }
    // SAFETY: the CPU has AVX-512F, checked just above.
    Some(unsafe { scan_avx512_unchecked(midstate, target, start, count) })
}

#[target_feature(enable = "avx512f")]
fn scan_avx512_unchecked(
    midstate: &Midstate,
    target: &Target,
    start: u32,
    count: u32,
) -> ScanResult {
    kernel::scan::<Avx512>(midstate, target, start, count)
}

/// Runs `$body` (intrinsic calls) for a lane type that exists only inside its entry point.
macro_rules! intrinsics {
    ($body:expr) => {
        // SAFETY: values of this module's lane types are made only inside the `#[target_feature]`
        // entry points above, which run only after the CPU was found to have the feature; the
        // pointers given to loads and stores point to arrays of exactly one vector's size.
        unsafe { $body }
    };
}

/// Eight nonces, one per 32-bit lane of an AVX2 register.
#[derive(Clone, Copy)]
struct Avx2(__m256i);

impl Lanes for Avx2 {
    type Words = [u32; 8];

    #[inline(always)]
    fn splat(word: u32) -> Avx2 {
        Avx2(intrinsics!(_mm256_set1_epi32(word as i32)))
    }

    #[inline(always)]
    fn load(words: [u32; 8]) -> Avx2 {
        Avx2(intrinsics!(_mm256_loadu_si256(words.as_ptr().cast())))
    }

    #[inline(always)]
    fn store(self) -> [u32; 8] {
        let mut words = [0u32; 8];
        intrinsics!(_mm256_storeu_si256(words.as_mut_ptr().cast(), self.0));
        words
    }

    #[inline(always)]
    fn add(self, other: Avx2) -> Avx2 {
        Avx2(intrinsics!(_mm256_add_epi32(self.0, other.0)))
    }

    #[inline(always)]
    fn xor(self, other: Avx2) -> Avx2 {
        Avx2(intrinsics!(_mm256_xor_si256(self.0, other.0)))
    }

    #[inline(always)]
    fn and(self, other: Avx2) -> Avx2 {
        Avx2(intrinsics!(_mm256_and_si256(self.0, other.0)))
    }

    #[inline(always)]
    fn or(self, other: Avx2) -> Avx2 {
        Avx2(intrinsics!(_mm256_or_si256(self.0, other.0)))
    }

    #[inline(always)]
    fn andnot(self, other: Avx2) -> Avx2 {
        // `_mm256_andnot_si256(a, b)` is `!a & b`.
        Avx2(intrinsics!(_mm256_andnot_si256(self.0, other.0)))
    }

    #[inline(always)]
    fn rotr<const R: u32>(self) -> Avx2 {
        // AVX2 has no rotation: two shifts and an or. The shift counts must be constants, and
        // `32 - R` of a const parameter is not one on stable Rust, so each rotation SHA-256 uses
        // gets its own arm (the match folds away).
        let x = self.0;
        macro_rules! rotations {
            ($($r:literal)*) => {
                match R {
                    $($r => intrinsics!(_mm256_or_si256(
                        _mm256_srli_epi32::<$r>(x),
                        _mm256_slli_epi32::<{ 32 - $r }>(x),
                    )),)*
                    _ => unreachable!("SHA-256 does not rotate by {}", R),
                }
            };
        }
        Avx2(rotations!(2 6 7 11 13 17 18 19 22 25))
    }

    #[inline(always)]
    fn shr<const S: u32>(self) -> Avx2 {
        let x = self.0;
        Avx2(match S {
            3 => intrinsics!(_mm256_srli_epi32::<3>(x)),
            10 => intrinsics!(_mm256_srli_epi32::<10>(x)),
            _ => unreachable!("SHA-256 does not shift by {}", S),
        })
    }
}

/// `_mm512_ternarylogic_epi32`'s truth tables: bit `(a << 2) | (b << 1) | c` of the immediate is
/// the result for input bits `a`, `b`, `c`, so a function's table is its value on `a = 0xf0`,
/// `b = 0xcc`, `c = 0xaa` (checked by `ternary_tables_are_the_functions` below).
mod table {
    pub(super) const XOR3: i32 = 0x96;
    pub(super) const CH: i32 = 0xca;
    pub(super) const MAJ: i32 = 0xe8;
}

/// Sixteen nonces, one per 32-bit lane of an AVX-512 register.
#[derive(Clone, Copy)]
struct Avx512(__m512i);

impl Lanes for Avx512 {
    type Words = [u32; 16];

    #[inline(always)]
    fn splat(word: u32) -> Avx512 {
        Avx512(intrinsics!(_mm512_set1_epi32(word as i32)))
    }

    #[inline(always)]
    fn load(words: [u32; 16]) -> Avx512 {
        Avx512(intrinsics!(_mm512_loadu_si512(words.as_ptr().cast())))
    }

    #[inline(always)]
    fn store(self) -> [u32; 16] {
        let mut words = [0u32; 16];
        intrinsics!(_mm512_storeu_si512(words.as_mut_ptr().cast(), self.0));
        words
    }

    #[inline(always)]
    fn add(self, other: Avx512) -> Avx512 {
        Avx512(intrinsics!(_mm512_add_epi32(self.0, other.0)))
    }

    #[inline(always)]
    fn xor(self, other: Avx512) -> Avx512 {
        Avx512(intrinsics!(_mm512_xor_si512(self.0, other.0)))
    }

    #[inline(always)]
    fn and(self, other: Avx512) -> Avx512 {
        Avx512(intrinsics!(_mm512_and_si512(self.0, other.0)))
    }

    #[inline(always)]
    fn or(self, other: Avx512) -> Avx512 {
        Avx512(intrinsics!(_mm512_or_si512(self.0, other.0)))
    }

    #[inline(always)]
    fn andnot(self, other: Avx512) -> Avx512 {
        // `_mm512_andnot_si512(a, b)` is `!a & b`.
        Avx512(intrinsics!(_mm512_andnot_si512(self.0, other.0)))
    }

    #[inline(always)]
    fn rotr<const R: u32>(self) -> Avx512 {
        // `vprord` takes its count as an `i32` const parameter; `R as i32` of a const parameter is
        // not a constant on stable Rust, hence one arm per SHA-256 rotation (the match folds away).
        let x = self.0;
        macro_rules! rotations {
            ($($r:literal)*) => {
                match R {
                    $($r => intrinsics!(_mm512_ror_epi32::<$r>(x)),)*
                    _ => unreachable!("SHA-256 does not rotate by {}", R),
                }
            };
        }
        Avx512(rotations!(2 6 7 11 13 17 18 19 22 25))
    }

    #[inline(always)]
    fn shr<const S: u32>(self) -> Avx512 {
        // `_mm512_srli_epi32`'s count is a `u32` const parameter, like `S`.
        Avx512(intrinsics!(_mm512_srli_epi32::<S>(self.0)))
    }

    #[inline(always)]
    fn xor3(a: Avx512, b: Avx512, c: Avx512) -> Avx512 {
        Avx512(intrinsics!(_mm512_ternarylogic_epi32::<{ table::XOR3 }>(
            a.0, b.0, c.0
        )))
    }

    #[inline(always)]
    fn ch(e: Avx512, f: Avx512, g: Avx512) -> Avx512 {
        Avx512(intrinsics!(_mm512_ternarylogic_epi32::<{ table::CH }>(
            e.0, f.0, g.0
        )))
    }

    #[inline(always)]
    fn maj(a: Avx512, b: Avx512, c: Avx512) -> Avx512 {
        Avx512(intrinsics!(_mm512_ternarylogic_epi32::<{ table::MAJ }>(
            a.0, b.0, c.0
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::table;
    use crate::mining::kernel::Lanes;

    /// What `vpternlogd` computes, bit by bit, as Intel documents it.
    fn ternary(imm: i32, a: u32, b: u32, c: u32) -> u32 {
        (0..32).fold(0, |out, bit| {
            let index = ((a >> bit) & 1) << 2 | ((b >> bit) & 1) << 1 | ((c >> bit) & 1);
            out | ((imm as u32 >> index) & 1) << bit
        })
    }

    #[test]
    fn ternary_tables_are_the_functions() {
        let words = [
            0,
            u32::MAX,
            0xdead_beef,
            0x0123_4567,
            0x8000_0001,
            0x5555_aaaa,
        ];
        for a in words {
            for b in words {
                for c in words {
                    assert_eq!(ternary(table::XOR3, a, b, c), u32::xor3(a, b, c));
                    assert_eq!(ternary(table::CH, a, b, c), u32::ch(a, b, c));
                    assert_eq!(ternary(table::MAJ, a, b, c), u32::maj(a, b, c));
                }
            }
        }
    }
}
