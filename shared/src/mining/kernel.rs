//! One sha256d nonce kernel for every vector width: a backend says how to add, xor, rotate… N
//! words side by side ([`Lanes`]), and [`scan`] hashes N consecutive nonces at once with the
//! per-job precomputation of [`Job`] and an early exit after round 60 of the second hash.
//!
//! Layout of a header's second block (big-endian words): `W0..W2` the end of the merkle root, the
//! time and the bits (fixed per job), `W3` the nonce (byte-swapped, the header stores it
//! little-endian), `W4 = 0x80000000`, `W5..W14 = 0`, `W15 = 640` (80 bytes in bits). The second hash's
//! block is the first hash's eight state words, `0x80000000`, six zeros and `256`.

use super::job::Job;
use super::{IV, Midstate, ScanResult, range_len, target_top};
use crate::target::Target;

/// N 32-bit words side by side, one nonce each: the operations SHA-256 needs. Backends implement
/// the required methods with one instruction each where they can, and may override the defaults
/// (AVX-512 does Ch, Maj and the three-way xor in one `ternarylogic` each).
pub(crate) trait Lanes: Copy {
    /// The lanes' words in memory, lane 0 first.
    type Words: Copy + Default + AsRef<[u32]> + AsMut<[u32]>;

    /// Every lane holds `word`.
    fn splat(word: u32) -> Self;
    /// Lane `i` holds `words[i]`.
    fn load(words: Self::Words) -> Self;
    /// The inverse of [`Lanes::load`].
    fn store(self) -> Self::Words;
    /// Wrapping addition.
    fn add(self, other: Self) -> Self;
    /// Bitwise xor.
    fn xor(self, other: Self) -> Self;
    /// Bitwise and.
    fn and(self, other: Self) -> Self;
    /// Bitwise or.
    fn or(self, other: Self) -> Self;
    /// `!self & other`.
    fn andnot(self, other: Self) -> Self;
    /// Rotate right by `R` (one of SHA-256's rotations: 2 6 7 11 13 17 18 19 22 25).
    fn rotr<const R: u32>(self) -> Self;
    /// Shift right by `S` (3 or 10), shifting in zeros.
    fn shr<const S: u32>(self) -> Self;

    /// `W3` for the nonces `base, base + 1, …` (lane `i` holds `base + i`, wrapping): each nonce
    /// byte-swapped, as the header stores it little-endian. Backends with a byte shuffle override it.
    #[inline(always)]
    fn nonce_words(base: u32) -> Self {
        let mut words = Self::Words::default();
        for (lane, word) in words.as_mut().iter_mut().enumerate() {
            *word = base.wrapping_add(lane as u32).swap_bytes();
        }
        Self::load(words)
    }

    /// `a ^ b ^ c`.
    #[inline(always)]
    fn xor3(a: Self, b: Self, c: Self) -> Self {
        a.xor(b).xor(c)
    }

    /// SHA-256's Ch: bits of `f` where `e` is set, of `g` where it is not.
    #[inline(always)]
    fn ch(e: Self, f: Self, g: Self) -> Self {
        e.and(f).xor(e.andnot(g))
    }

    /// SHA-256's Maj: each bit set in at least two of `a`, `b`, `c`.
    #[inline(always)]
    fn maj(a: Self, b: Self, c: Self) -> Self {
        a.and(b).or(c.and(a.or(b)))
    }
}

/// One lane of plain `u32`: the portable path, and the per-job precomputation runs the same rounds
/// as the kernel.
impl Lanes for u32 {
    type Words = [u32; 1];

    #[inline(always)]
    fn splat(word: u32) -> u32 {
        word
    }

    #[inline(always)]
    fn load(words: [u32; 1]) -> u32 {
        words[0]
    }

    #[inline(always)]
    fn store(self) -> [u32; 1] {
        [self]
    }

    #[inline(always)]
    fn add(self, other: u32) -> u32 {
        self.wrapping_add(other)
    }

    #[inline(always)]
    fn xor(self, other: u32) -> u32 {
        self ^ other
    }

    #[inline(always)]
    fn and(self, other: u32) -> u32 {
        self & other
    }

    #[inline(always)]
    fn or(self, other: u32) -> u32 {
        self | other
    }

    #[inline(always)]
    fn andnot(self, other: u32) -> u32 {
        !self & other
    }

    #[inline(always)]
    fn rotr<const R: u32>(self) -> u32 {
        self.rotate_right(R)
    }

    #[inline(always)]
    fn shr<const S: u32>(self) -> u32 {
        self >> S
    }
}

/// SHA-256's round constants.
pub(crate) const K: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

/// `W4..W15` of a header's second block: padding and the length, the same for every header.
pub(crate) const HEADER_PADDING: [u32; 12] = [0x8000_0000, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 640];
/// `W8..W15` of the second hash's block: padding and the length of a 32-byte message.
const DIGEST_PADDING: [u32; 8] = [0x8000_0000, 0, 0, 0, 0, 0, 0, 256];

#[inline(always)]
pub(crate) fn big_sigma0<L: Lanes>(a: L) -> L {
    L::xor3(a.rotr::<2>(), a.rotr::<13>(), a.rotr::<22>())
}

#[inline(always)]
pub(crate) fn big_sigma1<L: Lanes>(e: L) -> L {
    L::xor3(e.rotr::<6>(), e.rotr::<11>(), e.rotr::<25>())
}

#[inline(always)]
pub(crate) fn small_sigma0<L: Lanes>(w: L) -> L {
    L::xor3(w.rotr::<7>(), w.rotr::<18>(), w.shr::<3>())
}

#[inline(always)]
pub(crate) fn small_sigma1<L: Lanes>(w: L) -> L {
    L::xor3(w.rotr::<17>(), w.rotr::<19>(), w.shr::<10>())
}

/// Round `i` of SHA-256 with `kw = K[i] + W[i]`, on a state that is never shifted: round `i`'s
/// `a` is `s[(8 - i % 8) % 8]`, its `b` the next slot, and so on. Only two slots are written (the
/// new `e` where `d` was, the new `a` where `h` was). With `i` a constant the indices fold away.
#[inline(always)]
pub(crate) fn round<L: Lanes>(s: &mut [L; 8], i: usize, kw: L) {
    let at = |role: usize| (role + 8 - i % 8) % 8;
    let (a, b, c, d) = (s[at(0)], s[at(1)], s[at(2)], s[at(3)]);
    let (e, f, g, h) = (s[at(4)], s[at(5)], s[at(6)], s[at(7)]);
    let t1 = h.add(big_sigma1(e)).add(L::ch(e, f, g)).add(kw);
    s[at(3)] = d.add(t1);
    s[at(7)] = t1.add(big_sigma0(a)).add(L::maj(a, b, c));
}

/// The message schedule's recurrence for word `i`, all four terms.
macro_rules! schedule {
    ($w:ident: $($i:literal)*) => {
        $(
            $w[$i] = small_sigma1($w[$i - 2])
                .add($w[$i - 7])
                .add(small_sigma0($w[$i - 15]))
                .add($w[$i - 16]);
        )*
    };
}

/// Rounds with `kw` computed per round (`$kw` is a closure of the round index).
macro_rules! rounds {
    ($s:ident, $kw:expr; $($i:literal)*) => {
        $( round(&mut $s, $i, $kw($i)); )*
    };
}

/// The first hash's second block for the nonces whose `W3` words are `w3`: its eight output words
/// (the midstate added back), which are the second hash's first eight message words.
#[inline(always)]
fn first_hash<L: Lanes>(job: &Job<L>, w3: L) -> [L; 8] {
    let mut w = [L::splat(0); 64];
    w[16] = job.w16;
    w[17] = job.w17;
    w[18] = job.c18.add(small_sigma0(w3));
    w[19] = job.c19.add(w3);
    w[20] = small_sigma1(w[18]).add(L::splat(HEADER_PADDING[0]));
    w[21] = small_sigma1(w[19]);
    w[22] = small_sigma1(w[20]).add(L::splat(HEADER_PADDING[11]));
    w[23] = small_sigma1(w[21]).add(job.w16);
    w[24] = small_sigma1(w[22]).add(job.w17);
    w[25] = small_sigma1(w[23]).add(w[18]);
    w[26] = small_sigma1(w[24]).add(w[19]);
    w[27] = small_sigma1(w[25]).add(w[20]);
    w[28] = small_sigma1(w[26]).add(w[21]);
    w[29] = small_sigma1(w[27]).add(w[22]);
    w[30] = small_sigma1(w[28])
        .add(w[23])
        .add(L::splat(small_sigma0(HEADER_PADDING[11])));
    w[31] = small_sigma1(w[29]).add(w[24]).add(job.c31);
    w[32] = small_sigma1(w[30]).add(w[25]).add(job.c32);
    w[33] = small_sigma1(w[31])
        .add(w[26])
        .add(small_sigma0(w[18]))
        .add(job.w17);
    schedule!(w: 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63);

    // Rounds 0..=2 and round 3 without its W3 are the job's; adding W3 to the two slots round 3
    // writes finishes it.
    let mut s = job.round3;
    s[0] = s[0].add(w3);
    s[4] = s[4].add(w3);
    let padded = |i: usize| L::splat(K[i].wrapping_add(HEADER_PADDING[i - 4]));
    rounds!(s, padded; 4 5 6 7 8 9 10 11 12 13 14 15);
    let scheduled = |i: usize| w[i].add(L::splat(K[i]));
    rounds!(s, scheduled;
        16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39
        40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63);
    core::array::from_fn(|k| s[k].add(job.midstate[k]))
}

/// The second hash of `digest` (the first hash's state words) up to round 60, which is as far as
/// its last state word needs: returns that word, `IV[7] + e` after round 60.
#[inline(always)]
fn second_hash_last_word<L: Lanes>(digest: [L; 8]) -> L {
    let mut w = [L::splat(0); 64];
    w[..8].copy_from_slice(&digest);
    let padding = |i: usize| L::splat(DIGEST_PADDING[i - 8]);
    w[16] = small_sigma0(w[1]).add(w[0]);
    w[17] = small_sigma0(w[2])
        .add(w[1])
        .add(L::splat(small_sigma1(DIGEST_PADDING[7])));
    w[18] = small_sigma1(w[16]).add(small_sigma0(w[3])).add(w[2]);
    w[19] = small_sigma1(w[17]).add(small_sigma0(w[4])).add(w[3]);
    w[20] = small_sigma1(w[18]).add(small_sigma0(w[5])).add(w[4]);
    w[21] = small_sigma1(w[19]).add(small_sigma0(w[6])).add(w[5]);
    w[22] = small_sigma1(w[20])
        .add(small_sigma0(w[7]))
        .add(w[6])
        .add(padding(15));
    w[23] = small_sigma1(w[21])
        .add(w[16])
        .add(w[7])
        .add(L::splat(small_sigma0(DIGEST_PADDING[0])));
    w[24] = small_sigma1(w[22]).add(w[17]).add(padding(8));
    w[25] = small_sigma1(w[23]).add(w[18]);
    w[26] = small_sigma1(w[24]).add(w[19]);
    w[27] = small_sigma1(w[25]).add(w[20]);
    w[28] = small_sigma1(w[26]).add(w[21]);
    w[29] = small_sigma1(w[27]).add(w[22]);
    w[30] = small_sigma1(w[28])
        .add(w[23])
        .add(L::splat(small_sigma0(DIGEST_PADDING[7])));
    w[31] = small_sigma1(w[29])
        .add(w[24])
        .add(small_sigma0(w[16]))
        .add(padding(15));
    schedule!(w: 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60);

    // Round 0 from the IV: everything but W0 is a constant.
    let mut s = SECOND_ROUND0.map(L::splat);
    s[3] = s[3].add(w[0]);
    s[7] = s[7].add(w[0]);
    let scheduled = |i: usize| w[i].add(L::splat(K[i]));
    rounds!(s, scheduled; 1 2 3 4 5 6 7);
    let padded = |i: usize| L::splat(K[i].wrapping_add(DIGEST_PADDING[i - 8]));
    rounds!(s, padded; 8 9 10 11 12 13 14 15);
    rounds!(s, scheduled;
        16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38
        39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60);
    // Round 60 wrote its new e into slot (3 + 8 - 60 % 8) % 8 = 7, which rounds 61..63 only move
    // along to h.
    s[7].add(L::splat(IV[7]))
}

/// The second hash's state after round 0 with `W0 = 0`: adding `W0` to slots 3 and 7 finishes it.
const SECOND_ROUND0: [u32; 8] = {
    let [a, b, c, d, e, f, g, h] = IV;
    let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
    let ch = (e & f) ^ (!e & g);
    let t1 = h.wrapping_add(s1).wrapping_add(ch).wrapping_add(K[0]);
    let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
    let maj = (a & b) | (c & (a | b));
    [
        a,
        b,
        c,
        d.wrapping_add(t1),
        e,
        f,
        g,
        t1.wrapping_add(s0).wrapping_add(maj),
    ]
};

/// Hashes nonces `start..start + count` (stopping at `u32::MAX`) N at a time and returns the first
/// that meets `target`. A lane whose hash's top 32 bits are at most the target's is a candidate,
/// rechecked in full by the scalar [`Midstate::hash`] before it is returned.
///
/// `inline(always)` so that each backend's `#[target_feature]` entry point compiles it with its
/// own instructions.
#[inline(always)]
pub(crate) fn scan<L: Lanes>(
    midstate: &Midstate,
    target: &Target,
    start: u32,
    count: u32,
) -> ScanResult {
    let total = range_len(start, count);
    let top = target_top(target);
    let job = midstate.job.splat::<L>();
    let width = L::Words::default().as_ref().len() as u64;
    let mut done = 0u64;
    while done < total {
        let base = start.wrapping_add(done as u32);
        let last = second_hash_last_word(first_hash(&job, L::nonce_words(base)));
        // Past the end of the range (or past u32::MAX) a lane is hashed but never looked at.
        let live = (total - done).min(width) as usize;
        for (lane, word) in last.store().as_ref().iter().take(live).enumerate() {
            let nonce = base.wrapping_add(lane as u32);
            if word.swap_bytes() <= top && target.is_met_by(&midstate.hash(nonce)) {
                return ScanResult {
                    nonce: Some(nonce),
                    hashes: done + lane as u64 + 1,
                };
            }
        }
        done += live as u64;
    }
    ScanResult {
        nonce: None,
        hashes: total,
    }
}
