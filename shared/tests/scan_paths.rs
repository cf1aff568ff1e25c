//! Every scan path this CPU can run against the reference (`sha2`, two full compressions per
//! nonce, and one `Header::block_hash` at a time): random headers, targets and ranges, the exact
//! boundary of a target, and the nonces of the first 1000 Bitcoin headers.
//!
//! Paths the CPU lacks are skipped (and say so on stderr): the AVX-512 path is tested only on a CPU
//! with AVX-512F.

mod common;

use bbchain_core::mining::{Path, scan_with};
use bbchain_core::{BlockHash, Header, Midstate, Target, TxMerkleNode};
use common::{bits, display_hash, read_vector};
use proptest::prelude::*;
use ruint::aliases::U256;

/// The paths under test here, announcing the ones skipped.
fn paths() -> Vec<Path> {
    for path in Path::ALL.iter().filter(|path| !path.is_available()) {
        eprintln!("{path}: not on this CPU or build, skipped");
    }
    Path::available().collect()
}

fn scan(
    path: Path,
    midstate: &Midstate,
    target: &Target,
    start: u32,
    count: u32,
) -> (Option<u32>, u64) {
    let found = scan_with(path, midstate, target, start, count)
        .unwrap_or_else(|| panic!("{path} is available but did not run"));
    (found.nonce, found.hashes)
}

/// What a scan must return, one `Header::block_hash` at a time.
fn naive_scan(header: &Header, target: &Target, start: u32, count: u32) -> (Option<u32>, u64) {
    let end = (u64::from(start) + u64::from(count)).min(u64::from(u32::MAX) + 1);
    let mut hashes = 0;
    for nonce in u64::from(start)..end {
        let nonce = nonce as u32;
        hashes += 1;
        if target.is_met_by(&Header { nonce, ..*header }.block_hash()) {
            return (Some(nonce), hashes);
        }
    }
    (None, hashes)
}

fn header() -> impl Strategy<Value = Header> {
    (
        any::<i32>(),
        any::<[u8; 32]>(),
        any::<[u8; 32]>(),
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
    )
        .prop_map(|(version, prev, root, time, bits, nonce)| Header {
            version,
            prev_hash: BlockHash::from_byte_array(prev),
            merkle_root: TxMerkleNode::from_byte_array(root),
            time,
            bits: bbchain_core::CompactTarget(bits),
            nonce,
        })
}

/// A target of `value`, which the tests keep non-zero.
fn target(value: U256) -> Target {
    Target::new(value).expect("a non-zero target")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Ranges of up to 70 nonces cross several 16-lane groups and end anywhere in one; targets from
    /// "any hash" to about one in 256 are met at every position of a group.
    #[test]
    fn every_path_agrees_with_hashing_each_header(
        header in header(),
        start in prop_oneof![any::<u32>(), (u32::MAX - 80)..=u32::MAX],
        count in 0u32..70,
        difficulty in 0usize..9,
    ) {
        let target = target(U256::MAX >> difficulty);
        let midstate = Midstate::new(&header);
        let expected = naive_scan(&header, &target, start, count);
        for path in paths() {
            prop_assert_eq!(scan(path, &midstate, &target, start, count), expected, "{}", path);
        }
    }

    /// Nothing met in a long range: every lane of every group is looked at and rejected.
    #[test]
    fn every_path_counts_a_fruitless_range(header in header(), start in any::<u32>(), count in 0u32..300) {
        let midstate = Midstate::new(&header);
        let expected = naive_scan(&header, &Target::ONE, start, count);
        for path in paths() {
            prop_assert_eq!(scan(path, &midstate, &Target::ONE, start, count), expected, "{}", path);
        }
    }

    /// A target equal to a hash is met and one below it is not, whatever the lane of the nonce; and a
    /// target with the hash's top 32 bits but lower bits changed is decided by the full comparison.
    #[test]
    fn every_path_is_exact_at_the_boundary(
        header in header(),
        nonce in any::<u32>(),
        lane in 0u32..16,
        low_bits in 0usize..224,
    ) {
        let midstate = Midstate::new(&header);
        let value = U256::from_le_bytes(midstate.hash(nonce).to_byte_array());
        let start = nonce.saturating_sub(lane);
        let hashes = u64::from(nonce - start) + 1;
        let mask = (U256::from(1u8) << low_bits) - U256::from(1u8);
        let cleared = target(value & !mask | U256::from(1u8));
        let cleared_met = cleared.is_met_by(&midstate.hash(nonce));
        for path in paths() {
            // Only `nonce` itself is tried: the range ends there and earlier nonces are skipped.
            let exact = scan(path, &midstate, &target(value), nonce, 1);
            prop_assert_eq!(exact, (Some(nonce), 1), "{}", path);
            if !value.is_zero() {
                let below = target(value - U256::from(1u8));
                prop_assert_eq!(scan(path, &midstate, &below, nonce, 1), (None, 1), "{}", path);
            }
            prop_assert_eq!(scan(path, &midstate, &target(value | mask), nonce, 1).0, Some(nonce), "{}", path);
            prop_assert_eq!(scan(path, &midstate, &cleared, nonce, 1).0.is_some(), cleared_met, "{}", path);
            // The same nonce found in lane `lane` of a group, when no earlier one qualifies.
            let found = scan(path, &midstate, &target(value), start, 16);
            let expected = naive_scan(&header, &target(value), start, 16);
            prop_assert_eq!(found, expected, "{}", path);
            prop_assert!(found.1 <= hashes);
        }
    }
}

/// The real Bitcoin headers 0..999: each path finds each block's nonce in a window around it, under
/// the header's own target, as the first nonce of the window that meets it.
#[test]
fn every_path_finds_the_nonces_of_the_first_1000_bitcoin_headers() {
    let text = read_vector("headers/btc_mainnet_headers_0_999.csv");
    let headers: Vec<Header> = text
        .lines()
        .skip(1)
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            Header {
                version: f[2].parse().unwrap(),
                prev_hash: display_hash(f[3]),
                merkle_root: display_hash(f[4]),
                time: f[5].parse().unwrap(),
                bits: bits(f[6]),
                nonce: f[7].parse().unwrap(),
            }
        })
        .collect();
    assert_eq!(headers.len(), 1000);
    let paths = paths();
    for (height, header) in headers.iter().enumerate() {
        let target = header.target().unwrap();
        let midstate = Midstate::new(header);
        // The window starts 21 nonces early (so the nonce sits at a different lane for each
        // width) and runs 11 past it.
        let start = header.nonce.saturating_sub(21);
        let count = header.nonce - start + 12;
        for &path in &paths {
            let (nonce, hashes) = scan(path, &midstate, &target, start, count);
            assert_eq!(nonce, Some(header.nonce), "{path} at height {height}");
            assert_eq!(
                hashes,
                u64::from(header.nonce - start) + 1,
                "{path} at height {height}"
            );
        }
    }
}

#[test]
fn a_path_the_cpu_lacks_runs_nothing_and_the_preferred_one_runs() {
    let midstate = Midstate::new(&Header {
        version: 1,
        prev_hash: BlockHash::ZERO,
        merkle_root: TxMerkleNode::from_byte_array([7; 32]),
        time: 1,
        bits: bbchain_core::CompactTarget(0x1d00_ffff),
        nonce: 0,
    });
    for path in Path::ALL {
        let ran = scan_with(path, &midstate, &Target::MAX, 5, 3);
        if path.is_available() {
            assert_eq!(ran.map(|found| found.nonce), Some(Some(5)), "{path}");
        } else {
            assert_eq!(ran, None, "{path}");
        }
    }
    assert!(Path::preferred().is_available());
    assert!(Path::Portable.is_available() && Path::Sha2.is_available());
    let mut names: Vec<&str> = Path::ALL.iter().map(|path| path.name()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), Path::ALL.len(), "names are distinct");
}
