//! The core's nonce scan inside a real wasm runtime (node, through `wasm-bindgen-test-runner`), in the
//! build it runs in: `make test-wasm` runs this file twice, with `+simd128` (the browser's `web/pkg`,
//! where the scan runs the 4-lane `v128` kernel) and without (`web/pkg-scalar`: `sha2`'s software loop).
//! Every path the build has must agree with the `sha2` reference on random headers and targets and
//! find the nonces of real Bitcoin headers. Native `cargo test` compiles this file to nothing.
#![cfg(target_arch = "wasm32")]

use bbchain_core::mining::{Path, scan_with};
use bbchain_core::{BlockHash, CompactTarget, Header, Midstate, Target, TxMerkleNode, scan};
use ruint::aliases::U256;
use wasm_bindgen_test::wasm_bindgen_test;

/// Bitcoin mainnet headers from the repository's vectors: (height, nonce, block hash, header hex)
/// for blocks 0, 2, 10 and 4.
fn bitcoin() -> Vec<(u32, u32, String, String)> {
    const CSV: &str =
        include_str!("../../shared/tests/vectors/headers/btc_mainnet_headers_0_999.csv");
    let rows: Vec<Vec<&str>> = CSV
        .lines()
        .skip(1)
        .map(|line| line.split(',').collect())
        .collect();
    [0usize, 2, 10, 4]
        .into_iter()
        .map(|height| {
            let row = &rows[height];
            (
                height as u32,
                row[7].parse().unwrap(),
                row[1].into(),
                row[8].into(),
            )
        })
        .collect()
}

fn bitcoin_header(hex_header: &str) -> Header {
    Header::from_bytes(&hex::decode(hex_header).unwrap()).unwrap()
}

#[wasm_bindgen_test]
fn the_build_scans_with_its_own_path() {
    // Without SIMD, `sha2`'s software compression: faster in V8 than the portable lanes.
    let expected = if cfg!(target_feature = "simd128") {
        Path::Simd128
    } else {
        Path::Sha2
    };
    assert_eq!(Path::preferred(), expected);
    assert_eq!(
        Path::Simd128.is_available(),
        cfg!(target_feature = "simd128")
    );
    let paths: Vec<Path> = Path::available().collect();
    assert_eq!(
        paths.len(),
        2 + usize::from(cfg!(target_feature = "simd128")),
        "{paths:?}"
    );
    // A path this build cannot run runs nothing.
    let midstate = Midstate::new(&bitcoin_header(&bitcoin()[0].3));
    for path in [Path::ShaNi, Path::Avx2, Path::Avx512] {
        assert_eq!(scan_with(path, &midstate, &Target::MAX, 0, 10), None);
    }
}

/// xorshift64: random-looking inputs without a random-number crate (none needs the browser here).
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn bytes(&mut self) -> [u8; 32] {
        core::array::from_fn(|_| self.next() as u8)
    }

    fn header(&mut self) -> Header {
        Header {
            version: self.next() as i32,
            prev_hash: BlockHash::from_byte_array(self.bytes()),
            merkle_root: TxMerkleNode::from_byte_array(self.bytes()),
            time: self.next() as u32,
            bits: CompactTarget(self.next() as u32),
            nonce: self.next() as u32,
        }
    }
}

fn target(value: U256) -> Target {
    Target::new(value).expect("a non-zero target")
}

/// Each path against the `sha2` reference: random headers, starts (some at the top of the nonce
/// space), counts that leave a partial vector, and targets from "every hash" to "one in 64".
#[wasm_bindgen_test]
fn every_path_agrees_with_the_sha2_reference_on_random_headers() {
    let mut random = Random(0x9e37_79b9_7f4a_7c15);
    for case in 0..300 {
        let header = random.header();
        let midstate = Midstate::new(&header);
        let start = if case % 5 == 0 {
            u32::MAX - (random.next() % 40) as u32
        } else {
            random.next() as u32
        };
        let count = (random.next() % 41) as u32;
        let target = target(U256::MAX >> (random.next() % 7) as usize);
        let expected = scan_with(Path::Sha2, &midstate, &target, start, count).unwrap();
        for path in Path::available() {
            let found = scan_with(path, &midstate, &target, start, count).unwrap();
            assert_eq!(
                found, expected,
                "{path} on case {case}: {header:?} from {start} for {count}"
            );
        }
    }
}

/// A target equal to a hash is met and one below it is not, whatever lane the nonce is in: the
/// early exit on the top 32 bits must leave the decision to the full comparison.
#[wasm_bindgen_test]
fn the_boundary_is_exact_on_every_path() {
    let mut random = Random(0x0123_4567_89ab_cdef);
    for case in 0..100 {
        let midstate = Midstate::new(&random.header());
        let nonce = random.next() as u32;
        let value = U256::from_le_bytes(midstate.hash(nonce).to_byte_array());
        // Starting up to three nonces before puts the nonce in each lane of a four-nonce vector.
        let before = (case % 4) as u32;
        let start = nonce.wrapping_sub(before);
        for path in Path::available() {
            let on_path =
                |target: &Target| scan_with(path, &midstate, target, start, before + 1).unwrap();
            let reference = |target: &Target| {
                scan_with(Path::Sha2, &midstate, target, start, before + 1).unwrap()
            };
            let exact = target(value);
            assert_eq!(on_path(&exact), reference(&exact), "{path} case {case}");
            assert!(on_path(&exact).nonce.is_some(), "{path} case {case}");
            if let Some(below) = value.checked_sub(U256::from(1u8)).filter(|v| !v.is_zero()) {
                let below = target(below);
                assert_eq!(
                    on_path(&below),
                    reference(&below),
                    "{path} case {case}, one below"
                );
            }
        }
    }
}

#[wasm_bindgen_test]
fn the_nonces_of_real_bitcoin_headers_are_found() {
    for (height, nonce, hash, hex_header) in bitcoin() {
        let header = bitcoin_header(&hex_header);
        let target = Target::from_compact(header.bits).unwrap();
        let midstate = Midstate::new(&header);
        // A window that starts off the four-nonce alignment, with the nonce in any lane.
        for before in [5001, 5002, 5003, 5004] {
            let found = scan(&midstate, &target, nonce - before, before + 1000);
            assert_eq!(found.nonce, Some(nonce), "block {height}");
            assert_eq!(found.hashes, u64::from(before) + 1, "block {height}");
            for path in Path::available() {
                let on_path = scan_with(path, &midstate, &target, nonce - before, before + 1000);
                assert_eq!(on_path, Some(found), "{path}, block {height}");
            }
        }
        assert_eq!(midstate.hash(nonce).to_string(), hash, "block {height}");
        // Just past it, nothing in the next thousand nonces.
        assert_eq!(scan(&midstate, &target, nonce + 1, 1000).nonce, None);
    }
}
