//! What the kernel computes once per job instead of once per nonce: only the nonce (`W3` of the
//! header's second block) changes, so the second block's first three rounds, most of round 4 and
//! the parts of the message schedule that do not depend on the nonce are done here, in safe scalar
//! code, when the [`Midstate`](super::Midstate) is built.

use super::kernel::{HEADER_PADDING, K, Lanes, round, small_sigma0, small_sigma1};

/// The nonce-independent state and schedule words of a job, as plain words (`W = u32`, stored in
/// the midstate) or splatted across a backend's lanes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Job<W> {
    /// The SHA-256 state after the header's first 64 bytes, added back after the second block.
    pub(crate) midstate: [W; 8],
    /// The state after rounds 0..=2 of the second block and round 3 without its `W3`: adding `W3`
    /// to slots 0 and 4 finishes round 3 (see [`round`]'s slot layout).
    pub(crate) round3: [W; 8],
    /// Schedule words 16 and 17, which come from `W0..W2` and the padding only.
    pub(crate) w16: W,
    pub(crate) w17: W,
    /// The constant parts of `W18 = c18 + σ0(W3)` and `W19 = c19 + W3`.
    pub(crate) c18: W,
    pub(crate) c19: W,
    /// The constant parts of `W31` (`σ0(W16) + W15`) and `W32` (`σ0(W17) + W16`).
    pub(crate) c31: W,
    pub(crate) c32: W,
}

impl Job<u32> {
    /// The job of a header whose first 64 bytes hash to `midstate` and whose second block is
    /// `tail` (the nonce's bytes are ignored).
    pub(crate) fn new(midstate: [u32; 8], tail: &[u8; 64]) -> Job<u32> {
        let word = |i: usize| {
            u32::from_be_bytes([
                tail[4 * i],
                tail[4 * i + 1],
                tail[4 * i + 2],
                tail[4 * i + 3],
            ])
        };
        let (w0, w1, w2) = (word(0), word(1), word(2));
        let mut s = midstate;
        round(&mut s, 0, K[0].wrapping_add(w0));
        round(&mut s, 1, K[1].wrapping_add(w1));
        round(&mut s, 2, K[2].wrapping_add(w2));
        round(&mut s, 3, K[3]);
        // W16 = σ1(W14) + W9 + σ0(W1) + W0 and W17 = σ1(W15) + W10 + σ0(W2) + W1, with W9, W10 and
        // W14 zero.
        let w16 = small_sigma0(w1).add(w0);
        let w17 = small_sigma1(HEADER_PADDING[11])
            .add(small_sigma0(w2))
            .add(w1);
        Job {
            midstate,
            round3: s,
            w16,
            w17,
            // W18 = σ1(W16) + W11 + σ0(W3) + W2, W11 = 0.
            c18: small_sigma1(w16).add(w2),
            // W19 = σ1(W17) + W12 + σ0(W4) + W3, W12 = 0.
            c19: small_sigma1(w17).add(small_sigma0(HEADER_PADDING[0])),
            c31: small_sigma0(w16).add(HEADER_PADDING[11]),
            c32: small_sigma0(w17).add(w16),
        }
    }

    /// Every word splatted across `L`'s lanes, once per scan call.
    #[inline(always)]
    pub(crate) fn splat<L: Lanes>(&self) -> Job<L> {
        Job {
            midstate: self.midstate.map(L::splat),
            round3: self.round3.map(L::splat),
            w16: L::splat(self.w16),
            w17: L::splat(self.w17),
            c18: L::splat(self.c18),
            c19: L::splat(self.c19),
            c31: L::splat(self.c31),
            c32: L::splat(self.c32),
        }
    }
}
