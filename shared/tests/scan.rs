//! The nonce scan: what it returns really meets the target, and it agrees with `Header::block_hash`.

use bbchain_core::{BlockHash, ChainParams, Header, Midstate, Target, TxMerkleNode, scan};
use proptest::prelude::*;
use ruint::aliases::U256;

fn job_header() -> Header {
    let genesis = ChainParams::main().genesis_block().header;
    Header {
        nonce: 0,
        time: genesis.time + 1,
        prev_hash: genesis.block_hash(),
        ..genesis
    }
}

#[test]
fn the_nonce_found_meets_the_target_and_is_the_first() {
    let header = job_header();
    let midstate = Midstate::new(&header);
    // About one hash in 4096 meets this target.
    let target = target(U256::MAX >> 12usize);
    let found = scan(&midstate, &target, 1000, 1_000_000);
    let nonce = found.nonce.expect("a nonce in a million");
    let hash = Header { nonce, ..header }.block_hash();
    assert!(target.is_met_by(&hash));
    assert_eq!(midstate.header_with_nonce(nonce).block_hash(), hash);
    assert_eq!(midstate.hash(nonce), hash);
    assert_eq!(found.hashes, u64::from(nonce - 1000) + 1);
    for earlier in 1000..nonce {
        assert!(
            !target.is_met_by(
                &Header {
                    nonce: earlier,
                    ..header
                }
                .block_hash()
            )
        );
    }
}

#[test]
fn the_main_genesis_nonce_is_found_under_the_pow_limit() {
    let params = ChainParams::main();
    let genesis = params.genesis_block().header;
    let found = scan(
        &Midstate::new(&genesis),
        &params.pow_limit_target(),
        params.genesis_nonce - 10,
        20,
    );
    // No earlier nonce in the window meets it, or the genesis nonce would not be the first.
    assert_eq!(found.nonce, Some(params.genesis_nonce));
}

#[test]
fn nothing_is_found_under_a_tiny_target() {
    let midstate = Midstate::new(&job_header());
    let found = scan(&midstate, &target(U256::from(1u8)), 0, 20_000);
    assert_eq!(found.nonce, None);
    assert_eq!(found.hashes, 20_000);
}

#[test]
fn batches_stop_at_the_end_of_the_nonce_space() {
    let midstate = Midstate::new(&job_header());
    let tiny = target(U256::from(1u8));
    assert_eq!(scan(&midstate, &tiny, u32::MAX - 5, 100).hashes, 6);
    assert_eq!(scan(&midstate, &tiny, 7, 0).hashes, 0);
    assert_eq!(
        scan(&midstate, &Target::MAX, u32::MAX, 1).nonce,
        Some(u32::MAX)
    );
}

#[test]
fn any_nonce_meets_the_largest_target() {
    let midstate = Midstate::new(&job_header());
    let found = scan(&midstate, &Target::MAX, 42, 10);
    assert_eq!(found.nonce, Some(42));
    assert_eq!(found.hashes, 1);
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
            bits: bbchain_core::CompactTarget(bits),
            nonce,
        })
}

/// What `scan` must return, one `Header::block_hash` at a time.
fn naive_scan(header: &Header, target: &Target, start: u32, count: u32) -> (Option<u32>, u64) {
    let end = u64::from(start) + u64::from(count);
    let mut hashes = 0;
    for nonce in u64::from(start)..end.min(u64::from(u32::MAX) + 1) {
        let nonce = nonce as u32;
        hashes += 1;
        if target.is_met_by(&Header { nonce, ..*header }.block_hash()) {
            return (Some(nonce), hashes);
        }
    }
    (None, hashes)
}

proptest! {
    #[test]
    fn scan_agrees_with_hashing_each_header(
        header in header(),
        start in prop_oneof![any::<u32>(), (u32::MAX - 40)..=u32::MAX],
        count in 0u32..40,
        difficulty in 0usize..7,
    ) {
        let target = target(U256::MAX >> difficulty);
        let found = scan(&Midstate::new(&header), &target, start, count);
        prop_assert_eq!((found.nonce, found.hashes), naive_scan(&header, &target, start, count));
    }

    #[test]
    fn midstate_hash_equals_block_hash(header in header(), nonce in any::<u32>()) {
        let midstate = Midstate::new(&header);
        prop_assert_eq!(midstate.hash(nonce), Header { nonce, ..header }.block_hash());
        prop_assert_eq!(midstate.header_with_nonce(nonce), Header { nonce, ..header });
    }

    /// A target equal to the hash is met, one below it is not: the scan's fast top-word comparison
    /// must not change the answer at the boundary.
    #[test]
    fn the_boundary_is_exact(header in header(), nonce in any::<u32>(), low_bits in 0usize..256) {
        let midstate = Midstate::new(&header);
        let value = U256::from_le_bytes(midstate.hash(nonce).to_byte_array());
        prop_assert_eq!(scan(&midstate, &target(value), nonce, 1).nonce, Some(nonce));
        if !value.is_zero() {
            prop_assert_eq!(scan(&midstate, &target(value - U256::from(1u8)), nonce, 1).nonce, None);
        }
        // Same top 32 bits, lower bits cleared or set: only the full comparison decides.
        let mask = (U256::from(1u8) << low_bits.min(224)) - U256::from(1u8);
        let met = scan(&midstate, &target(value | mask), nonce, 1).nonce;
        prop_assert_eq!(met, Some(nonce));
        let cleared = target(value & !mask);
        prop_assert_eq!(
            scan(&midstate, &cleared, nonce, 1).nonce.is_some(),
            cleared.is_met_by(&midstate.hash(nonce))
        );
    }
}

/// A target of `value`, which the tests keep non-zero.
fn target(value: U256) -> Target {
    Target::new(value).expect("a non-zero target")
}
