//! The SHA-NI path: sha256d with the CPU's SHA extensions (`sha256rnds2`, `sha256msg1`,
//! `sha256msg2`), several nonces interleaved so that one nonce's rounds run while another's wait
//! on the SHA unit's latency.
//!
//! Only the nonce changes between hashes, so everything else is done once: per job in the
//! midstate's [`Job`](crate::mining::job::Job), and its packing into registers once per call (a
//! call is a batch of thousands of nonces) in [`Registers`]:
//! - first hash: rounds 0..2 do not read the nonce at all, and round 3 adds it (as the message word
//!   `W3`) to `a` and `e` only, so each nonce starts from the job's state after round 3 plus
//!   the nonce. The schedule pieces that only read constant words are precomputed too.
//! - second hash: its state starts at the IV, so round 0 is again "constant plus `W0`" and the
//!   rounds run in pairs (1,2), (3,4), ... up to (59,60). Its padding words are constants, and the
//!   first hash's output words become its message words by shuffles, never through bytes.
//! - early exit: the hash read as a little-endian number has its top 32 bits in the final state
//!   word 7, which is `IV[7] + e` after round 60. Rounds 61..63 are never run: a nonce whose top
//!   word is at most the target's is only a candidate, rechecked in full (scalar) against the
//!   exact target.
//!
//! That is 30 + 30 `sha256rnds2` per nonce instead of 32 + 32.
//!
//! Soundness: [`scan_lanes`] is the one place that checks the CPU features ([`is_available`])
//! before calling the `#[target_feature]` kernel; on a CPU without them it returns `None`.

use core::arch::x86_64::{
    __m128i, _mm_add_epi32, _mm_alignr_epi8, _mm_and_si128, _mm_extract_epi32, _mm_insert_epi32,
    _mm_set_epi32, _mm_set1_epi32, _mm_sha256msg1_epu32, _mm_sha256msg2_epu32,
    _mm_sha256rnds2_epu32, _mm_shuffle_epi32, _mm_srli_si128, _mm_unpackhi_epi64,
    _mm_unpacklo_epi64,
};

use crate::mining::kernel::K;
use crate::mining::{IV, Midstate, ScanResult};
use crate::target::Target;

/// Whether this CPU can run the SHA-NI kernel: the only feature check on the way to it.
pub(crate) fn is_available() -> bool {
    #[cfg(feature = "std")]
    {
        std::is_x86_feature_detected!("sha")
            && std::is_x86_feature_detected!("sse4.1")
            && std::is_x86_feature_detected!("ssse3")
    }
    #[cfg(not(feature = "std"))]
    {
        cfg!(all(
            target_feature = "sha",
            target_feature = "sse4.1",
            target_feature = "ssse3"
        ))
    }
}

/// Nonces in flight at once. Where `sha256rnds2`'s latency is the limit, two independent chains
/// keep the SHA unit busy (cpuminer-opt's choice); more lanes spill the sixteen xmm registers. On
/// the AMD EPYC this was measured on, 1 to 4 run at the same rate: its limit is the unit's
/// throughput (`docs/BENCHMARKS.md`).
const LANES: usize = 2;

/// Hashes nonces `start..start + count` (stopping at `u32::MAX`) and returns the first that meets
/// `target`, like the portable scan; `None` (nothing run) on a CPU without SHA-NI.
pub(crate) fn scan(mid: &Midstate, target: &Target, start: u32, count: u32) -> Option<ScanResult> {
    scan_lanes::<LANES>(mid, target, start, count)
}

/// [`scan`] with `N` nonces interleaved (tests and measurements try several).
pub(crate) fn scan_lanes<const N: usize>(
    mid: &Midstate,
    target: &Target,
    start: u32,
    count: u32,
) -> Option<ScanResult> {
    if !is_available() {
        return None;
    }
    // SAFETY: `is_available` has just checked that this CPU has every feature the kernel is
    // compiled for (sha, sse4.1, ssse3; sse2 is part of x86_64).
    Some(unsafe { kernel::<N>(mid, target, start, count) })
}

/// One scalar SHA-256 round whose message word is left out: returns the state after the round
/// minus `W`, which the caller adds to words `a` (0) and `e` (4) only.
const fn round_without_w(s: [u32; 8], k: u32) -> [u32; 8] {
    let [a, b, c, d, e, f, g, h] = s;
    let t1 = h
        .wrapping_add(e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25))
        .wrapping_add((e & f) ^ (!e & g))
        .wrapping_add(k);
    let t2 = (a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22))
        .wrapping_add((a & b) ^ (a & c) ^ (b & c));
    [t1.wrapping_add(t2), a, b, c, d.wrapping_add(t1), e, f, g]
}

/// The second hash's round 0 on the IV, without `W0`: a constant.
const IV_ROUND0: [u32; 8] = round_without_w(IV, K[0]);

/// A state in the two registers `sha256rnds2` works on: `[F, E, B, A]` and `[H, G, D, C]`
/// (lane 0 first).
#[target_feature(enable = "sse2")]
fn pack(s: [u32; 8]) -> (__m128i, __m128i) {
    let w = s.map(|x| x as i32);
    (
        _mm_set_epi32(w[0], w[1], w[4], w[5]),
        _mm_set_epi32(w[2], w[3], w[6], w[7]),
    )
}

/// Four words as a vector, lane 0 first.
#[target_feature(enable = "sse2")]
fn words(w: [u32; 4]) -> __m128i {
    _mm_set_epi32(w[3] as i32, w[2] as i32, w[1] as i32, w[0] as i32)
}

/// The round constants `K[4 * group..4 * group + 4]`.
#[target_feature(enable = "sse2")]
fn k4(group: usize) -> __m128i {
    words([
        K[4 * group],
        K[4 * group + 1],
        K[4 * group + 2],
        K[4 * group + 3],
    ])
}

/// Everything about a job that does not depend on the nonce, in the kernel's registers.
struct Registers {
    /// First hash: the midstate, added back at the end.
    mid_abef: __m128i,
    mid_cdgh: __m128i,
    /// First hash: the state after round 3 without the nonce; the nonce goes into lanes 1 and 3
    /// (`E` and `A`) of the first register.
    abef3: __m128i,
    cdgh3: __m128i,
    /// First hash: message words 0..3 with the nonce (word 3) left zero.
    m0: __m128i,
    /// First hash: message words 4..15 (padding and length), and with the round constants added.
    m1: __m128i,
    m3: __m128i,
    wk1: __m128i,
    wk2: __m128i,
    wk3: __m128i,
    /// First hash's schedule pieces that read only constant words: `W[9..13]`, and `msg1` of
    /// words 4..11 and 8..15.
    w9: __m128i,
    msg1_12: __m128i,
    msg1_23: __m128i,
    /// Second hash: the state after round 0 without `W0`, which goes into lanes 1 and 3.
    iv_abef1: __m128i,
    iv_cdgh1: __m128i,
    /// Second hash: message words 8..15 (padding and length), plain and with constants added.
    x2: __m128i,
    x3: __m128i,
    xk2: __m128i,
    xk3: __m128i,
}

impl Registers {
    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    fn new(mid: &Midstate) -> Registers {
        let tail: [u32; 16] = core::array::from_fn(|i| {
            u32::from_be_bytes(
                mid.tail_block[4 * i..4 * i + 4]
                    .try_into()
                    .expect("4 bytes"),
            )
        });
        // The job keeps its state in rotating slots: after four rounds, `a` is in slot 4 and `e`
        // in slot 0.
        let r = mid.job.round3;
        let (abef3, cdgh3) = pack([r[4], r[5], r[6], r[7], r[0], r[1], r[2], r[3]]);
        let (mid_abef, mid_cdgh) = pack(mid.job.midstate);
        let m1 = words([tail[4], tail[5], tail[6], tail[7]]);
        let m2 = words([tail[8], tail[9], tail[10], tail[11]]);
        let m3 = words([tail[12], tail[13], tail[14], tail[15]]);
        let x2 = words([0x8000_0000, 0, 0, 0]);
        let x3 = words([0, 0, 0, 256]);
        let (iv_abef1, iv_cdgh1) = pack(IV_ROUND0);
        Registers {
            mid_abef,
            mid_cdgh,
            abef3,
            cdgh3,
            m0: words([tail[0], tail[1], tail[2], 0]),
            m1,
            m3,
            wk1: _mm_add_epi32(m1, k4(1)),
            wk2: _mm_add_epi32(m2, k4(2)),
            wk3: _mm_add_epi32(m3, k4(3)),
            w9: _mm_alignr_epi8::<4>(m3, m2),
            msg1_12: _mm_sha256msg1_epu32(m1, m2),
            msg1_23: _mm_sha256msg1_epu32(m2, m3),
            iv_abef1,
            iv_cdgh1,
            x2,
            x3,
            xk2: _mm_add_epi32(x2, k4(2)),
            xk3: _mm_add_epi32(x3, k4(3)),
        }
    }
}

/// `f` on each lane.
#[inline(always)]
fn each<const N: usize>(f: impl FnMut(usize) -> __m128i) -> [__m128i; N] {
    core::array::from_fn(f)
}

/// Two rounds on every lane, with `W + K` for them in the low half of `wk`.
#[inline]
#[target_feature(enable = "sha,sse2")]
fn rounds2<const N: usize>(abef: &mut [__m128i; N], cdgh: &mut [__m128i; N], wk: [__m128i; N]) {
    for i in 0..N {
        let next = _mm_sha256rnds2_epu32(cdgh[i], abef[i], wk[i]);
        cdgh[i] = abef[i];
        abef[i] = next;
    }
}

/// Four rounds on every lane, with `W + K` for them in `wk`.
#[inline]
#[target_feature(enable = "sha,sse2")]
fn rounds4<const N: usize>(abef: &mut [__m128i; N], cdgh: &mut [__m128i; N], wk: [__m128i; N]) {
    rounds2(abef, cdgh, wk);
    rounds2(abef, cdgh, each(|i| _mm_shuffle_epi32::<0x0e>(wk[i])));
}

/// Four rounds on every lane one word later than [`rounds4`]: words 1..3 of `wk` and word 0 of
/// `next` (each `W + K`).
#[inline]
#[target_feature(enable = "sha,sse2,ssse3")]
fn shifted_rounds4<const N: usize>(
    abef: &mut [__m128i; N],
    cdgh: &mut [__m128i; N],
    wk: &[__m128i; N],
    next: &[__m128i; N],
) {
    rounds2(abef, cdgh, each(|i| _mm_srli_si128::<4>(wk[i])));
    rounds2(abef, cdgh, each(|i| _mm_alignr_epi8::<12>(next[i], wk[i])));
}

/// The next four schedule words from the previous sixteen (`a` oldest).
#[inline]
#[target_feature(enable = "sha,sse2,ssse3")]
fn next_words(a: __m128i, b: __m128i, c: __m128i, d: __m128i) -> __m128i {
    _mm_sha256msg2_epu32(
        _mm_add_epi32(_mm_sha256msg1_epu32(a, b), _mm_alignr_epi8::<4>(d, c)),
        d,
    )
}

/// Adds the round constants of `group` to each lane's words.
#[inline]
#[target_feature(enable = "sse2")]
fn plus_k<const N: usize>(m: &[__m128i; N], group: usize) -> [__m128i; N] {
    let k = k4(group);
    each(|i| _mm_add_epi32(m[i], k))
}

/// The scan itself, `N` nonces at a time. Callable only where the CPU has its features
/// ([`is_available`]).
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
fn kernel<const N: usize>(mid: &Midstate, target: &Target, start: u32, count: u32) -> ScanResult {
    if count == 0 {
        return ScanResult {
            nonce: None,
            hashes: 0,
        };
    }
    let total = u64::from(start.saturating_add(count - 1) - start) + 1;
    let target_top = (target.value() >> 224usize).as_limbs()[0] as u32;
    let job = Registers::new(mid);
    let odd = _mm_set_epi32(-1, 0, -1, 0);
    let mut done = 0u64;
    while done < total {
        let base = start.wrapping_add(done as u32);
        let tops = hash_tops::<N>(&job, odd, base);
        let lanes = (total - done).min(N as u64) as usize;
        for (lane, &top) in tops.iter().enumerate().take(lanes) {
            let nonce = base.wrapping_add(lane as u32);
            if top <= target_top && target.is_met_by(&mid.hash(nonce)) {
                return ScanResult {
                    nonce: Some(nonce),
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

/// The top 32 bits (as a little-endian number) of the block hashes of nonces `base..base + N`.
#[inline]
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
fn hash_tops<const N: usize>(job: &Registers, odd: __m128i, base: u32) -> [u32; N] {
    // First hash, from the state after round 3.
    let nonce: [i32; N] = core::array::from_fn(|i| base.wrapping_add(i as u32).swap_bytes() as i32);
    let mut abef = each(|i| _mm_add_epi32(job.abef3, _mm_and_si128(_mm_set1_epi32(nonce[i]), odd)));
    let mut cdgh = [job.cdgh3; N];
    let m0: [__m128i; N] = each(|i| _mm_insert_epi32::<3>(job.m0, nonce[i]));
    rounds4(&mut abef, &mut cdgh, [job.wk1; N]);
    rounds4(&mut abef, &mut cdgh, [job.wk2; N]);
    rounds4(&mut abef, &mut cdgh, [job.wk3; N]);
    let m4 = each(|i| {
        _mm_sha256msg2_epu32(
            _mm_add_epi32(_mm_sha256msg1_epu32(m0[i], job.m1), job.w9),
            job.m3,
        )
    });
    rounds4(&mut abef, &mut cdgh, plus_k(&m4, 4));
    let m5 = each(|i| {
        _mm_sha256msg2_epu32(
            _mm_add_epi32(job.msg1_12, _mm_alignr_epi8::<4>(m4[i], job.m3)),
            m4[i],
        )
    });
    rounds4(&mut abef, &mut cdgh, plus_k(&m5, 5));
    let m6 = each(|i| {
        _mm_sha256msg2_epu32(
            _mm_add_epi32(job.msg1_23, _mm_alignr_epi8::<4>(m5[i], m4[i])),
            m5[i],
        )
    });
    rounds4(&mut abef, &mut cdgh, plus_k(&m6, 6));
    let mut w = [[job.m3; N], m4, m5, m6];
    for group in 7..16 {
        let next = each(|i| next_words(w[0][i], w[1][i], w[2][i], w[3][i]));
        rounds4(&mut abef, &mut cdgh, plus_k(&next, group));
        w = [w[1], w[2], w[3], next];
    }
    let abef = each::<N>(|i| _mm_add_epi32(abef[i], job.mid_abef));
    let cdgh = each::<N>(|i| _mm_add_epi32(cdgh[i], job.mid_cdgh));

    // Second hash: message words 0..7 are the first hash's state [A..H], straight from registers.
    let x0 = each::<N>(|i| _mm_shuffle_epi32::<0x1b>(_mm_unpackhi_epi64(cdgh[i], abef[i])));
    let x1 = each::<N>(|i| _mm_shuffle_epi32::<0x1b>(_mm_unpacklo_epi64(cdgh[i], abef[i])));
    // Round 0 is the IV's constant round plus W0 (= A) in lanes E and A.
    let mut abef = each(|i| {
        _mm_add_epi32(
            job.iv_abef1,
            _mm_and_si128(_mm_shuffle_epi32::<0xff>(abef[i]), odd),
        )
    });
    let mut cdgh = [job.iv_cdgh1; N];
    // Rounds go in pairs (1,2), (3,4), ...: from each group's W + K, words 1,2 and then word 3
    // with the next group's word 0. Straight-line code: a loop with a different first few groups
    // is not unrolled, and the rounds then wait on branches.
    let xk0 = plus_k(&x0, 0);
    let xk1 = plus_k(&x1, 1);
    shifted_rounds4(&mut abef, &mut cdgh, &xk0, &xk1);
    shifted_rounds4(&mut abef, &mut cdgh, &xk1, &[job.xk2; N]);
    shifted_rounds4(&mut abef, &mut cdgh, &[job.xk2; N], &[job.xk3; N]);
    let mut w = [x0, x1, [job.x2; N], [job.x3; N]];
    let mut xk = [job.xk3; N];
    for group in 4..16 {
        let next = each(|i| next_words(w[0][i], w[1][i], w[2][i], w[3][i]));
        w = [w[1], w[2], w[3], next];
        let next_xk = plus_k(&next, group);
        shifted_rounds4(&mut abef, &mut cdgh, &xk, &next_xk);
        xk = next_xk;
    }
    // After round 60, lane 1 holds e, which is the final state word 7 less IV[7].
    core::array::from_fn(|i| {
        (_mm_extract_epi32::<1>(abef[i]) as u32)
            .wrapping_add(IV[7])
            .swap_bytes()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::{BlockHash, TxMerkleNode};
    use crate::header::Header;
    use crate::target::CompactTarget;
    use proptest::prelude::*;
    use ruint::aliases::U256;

    /// Whether this CPU runs the kernel; the tests skip (and say so) on one without SHA-NI.
    fn kernel_runs() -> bool {
        let available = is_available();
        if !available {
            eprintln!("this CPU has no SHA-NI: skipped");
        }
        available
    }

    /// The SHA-NI scan, on a CPU that has it.
    fn shani(mid: &Midstate, target: &Target, start: u32, count: u32) -> ScanResult {
        scan(mid, target, start, count).expect("SHA-NI is available")
    }

    /// The portable reference.
    fn reference(mid: &Midstate, target: &Target, start: u32, count: u32) -> (Option<u32>, u64) {
        let found = crate::mining::portable::scan(mid, target, start, count);
        (found.nonce, found.hashes)
    }

    /// The SHA-NI scan with 1 to 4 nonces interleaved, which must all agree.
    fn shani_each_width(
        mid: &Midstate,
        target: &Target,
        start: u32,
        count: u32,
    ) -> [(Option<u32>, u64); 4] {
        [
            scan_lanes::<1>(mid, target, start, count).expect("SHA-NI is available"),
            scan_lanes::<2>(mid, target, start, count).expect("SHA-NI is available"),
            scan_lanes::<3>(mid, target, start, count).expect("SHA-NI is available"),
            scan_lanes::<4>(mid, target, start, count).expect("SHA-NI is available"),
        ]
        .map(|found| (found.nonce, found.hashes))
    }

    fn target(value: U256) -> Target {
        Target::new(value).expect("a non-zero target")
    }

    fn header() -> impl Strategy<Value = Header> {
        (
            any::<[u8; 32]>(),
            any::<[u8; 32]>(),
            any::<u32>(),
            any::<u32>(),
            any::<u32>(),
        )
            .prop_map(|(prev, root, time, bits, nonce)| Header {
                version: 0x2000_0000,
                prev_hash: BlockHash::from_byte_array(prev),
                merkle_root: TxMerkleNode::from_byte_array(root),
                time,
                bits: CompactTarget(bits),
                nonce,
            })
    }

    /// Bitcoin mainnet headers 0..999 from the test vectors.
    fn bitcoin_headers() -> Vec<Header> {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/headers/btc_mainnet_headers_0_999.csv"
        );
        let text = std::fs::read_to_string(path).expect("the header vectors");
        text.lines()
            .skip(1)
            .map(|line| {
                let hex_bytes = line.rsplit(',').next().expect("header_hex column");
                Header::from_bytes(&hex::decode(hex_bytes).expect("hex")).expect("a header")
            })
            .collect()
    }

    #[test]
    fn finds_the_nonces_of_the_first_1000_bitcoin_blocks() {
        if !kernel_runs() {
            return;
        }
        let headers = bitcoin_headers();
        assert_eq!(headers.len(), 1000);
        for (height, header) in headers.iter().enumerate() {
            let target = header.target().expect("a valid target");
            let mid = Midstate::new(header);
            // An odd window around the real nonce, so it sits in different lanes.
            let start = header.nonce.saturating_sub(height as u32 % 7);
            let count = 7 + (height as u32 % 3);
            let expected = (Some(header.nonce), u64::from(header.nonce - start) + 1);
            assert_eq!(
                reference(&mid, &target, start, count),
                expected,
                "height {height}"
            );
            for found in shani_each_width(&mid, &target, start, count) {
                assert_eq!(found, expected, "height {height}");
            }
        }
    }

    #[test]
    fn the_genesis_nonce_is_the_first_in_a_wide_window() {
        if !kernel_runs() {
            return;
        }
        let genesis = bitcoin_headers()[0];
        let mid = Midstate::new(&genesis);
        let target = genesis.target().expect("a valid target");
        let found = shani(&mid, &target, genesis.nonce - 10_001, 20_001);
        assert_eq!(found.nonce, Some(genesis.nonce));
        assert_eq!(found.hashes, 10_002);
    }

    #[test]
    fn a_long_run_finds_the_same_first_nonce() {
        if !kernel_runs() {
            return;
        }
        let mid = Midstate::new(&bitcoin_headers()[500]);
        // About one hash in 65536 meets it.
        let target = target(U256::MAX >> 16usize);
        let expected = reference(&mid, &target, 12_345, 300_001);
        assert!(expected.0.is_some());
        assert_eq!(
            shani_each_width(&mid, &target, 12_345, 300_001),
            [expected; 4]
        );
    }

    #[test]
    fn stops_at_the_end_of_the_nonce_space() {
        if !kernel_runs() {
            return;
        }
        let mid = Midstate::new(&bitcoin_headers()[1]);
        let tiny = target(U256::from(1u8));
        assert_eq!(
            shani_each_width(&mid, &tiny, u32::MAX - 4, 100),
            [(None, 5); 4]
        );
        assert_eq!(shani_each_width(&mid, &tiny, 9, 0), [(None, 0); 4]);
        assert_eq!(
            shani_each_width(&mid, &Target::MAX, u32::MAX, 1),
            [(Some(u32::MAX), 1); 4]
        );
        assert_eq!(
            shani_each_width(&mid, &Target::MAX, u32::MAX - 2, 9),
            [(Some(u32::MAX - 2), 1); 4]
        );
    }

    proptest! {
        #[test]
        fn agrees_with_the_portable_scan(
            header in header(),
            start in prop_oneof![any::<u32>(), (u32::MAX - 40)..=u32::MAX],
            count in prop_oneof![0u32..12, 0u32..200],
            difficulty in 0usize..10,
        ) {
            if !kernel_runs() {
                return Ok(());
            }
            let mid = Midstate::new(&header);
            let target = target(U256::MAX >> difficulty);
            let expected = reference(&mid, &target, start, count);
            prop_assert_eq!(shani_each_width(&mid, &target, start, count), [expected; 4]);
        }

        /// A target equal to the hash is met, one below it is not, and lower bits under the same
        /// top word decide only through the exact recheck.
        #[test]
        fn the_boundary_is_exact(header in header(), nonce in any::<u32>(), low_bits in 0usize..256) {
            if !kernel_runs() {
                return Ok(());
            }
            let mid = Midstate::new(&header);
            let value = U256::from_le_bytes(mid.hash(nonce).to_byte_array());
            prop_assert_eq!(shani(&mid, &target(value), nonce, 1).nonce, Some(nonce));
            if !value.is_zero() {
                prop_assert_eq!(shani(&mid, &target(value - U256::from(1u8)), nonce, 1).nonce, None);
            }
            let mask = (U256::from(1u8) << low_bits.min(224)) - U256::from(1u8);
            prop_assert_eq!(shani(&mid, &target(value | mask), nonce, 1).nonce, Some(nonce));
            let cleared = value & !mask;
            if !cleared.is_zero() {
                let cleared = target(cleared);
                prop_assert_eq!(
                    shani(&mid, &cleared, nonce, 1).nonce.is_some(),
                    cleared.is_met_by(&mid.hash(nonce))
                );
            }
        }
    }
}
