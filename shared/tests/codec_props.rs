//! Property tests: every encoding round-trips, and truncated or garbage bytes give an error, never
//! a panic.

use bbchain_core::hash::Txid;
use bbchain_core::keys::Signature;
use bbchain_core::target::ExpandedCompact;
use bbchain_core::{
    Amount, Block, BlockHash, Coinbase, CompactTarget, Entry, Header, OutPoint, Target,
    Transaction, TxIn, TxMerkleNode, TxOut,
};
use proptest::prelude::*;
use ruint::aliases::{U256, U512};

const MAX_BLOCK: usize = 1_000_000;

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
            bits: CompactTarget(bits),
            nonce,
        })
}

fn output() -> impl Strategy<Value = TxOut> {
    // Keys must be valid points: a few real ones are enough for the codec.
    (any::<u64>(), 0u32..8).prop_map(|(value, n)| TxOut {
        value: Amount::from_units(value),
        key: bbchain_core::testing::secret_key(n).public_key(),
    })
}

fn input() -> impl Strategy<Value = TxIn> {
    (
        any::<[u8; 32]>(),
        any::<u32>(),
        any::<[u8; 32]>(),
        any::<[u8; 32]>(),
    )
        .prop_map(|(txid, vout, r, s)| {
            let mut signature = [0u8; 64];
            signature[..32].copy_from_slice(&r);
            signature[32..].copy_from_slice(&s);
            TxIn {
                prev: OutPoint {
                    txid: Txid::from_byte_array(txid),
                    vout,
                },
                signature: Signature::from_bytes(signature),
            }
        })
}

fn tx() -> impl Strategy<Value = Transaction> {
    (
        prop::collection::vec(input(), 0..4),
        prop::collection::vec(output(), 0..4),
    )
        .prop_map(|(inputs, outputs)| Transaction { inputs, outputs })
}

fn entry() -> impl Strategy<Value = Entry> {
    prop_oneof![
        (
            any::<u32>(),
            any::<u64>(),
            ".{0,20}",
            prop::collection::vec(output(), 0..3)
        )
            .prop_map(|(height, extra_nonce, miner, outputs)| {
                Entry::Coinbase(Coinbase {
                    height,
                    extra_nonce,
                    miner,
                    outputs,
                })
            }),
        tx().prop_map(Entry::Tx),
        ".{0,80}".prop_map(Entry::data),
        // Long enough for a 3-byte CompactSize length.
        "[a-z]{250,300}".prop_map(Entry::data),
    ]
}

fn block() -> impl Strategy<Value = Block> {
    (header(), prop::collection::vec(entry(), 0..12))
        .prop_map(|(header, entries)| Block { header, entries })
}

fn u256() -> impl Strategy<Value = U256> {
    // Mostly values of every bit length, not just huge ones.
    (any::<[u8; 32]>(), 0usize..=256).prop_map(|(bytes, bits)| {
        let value = U256::from_be_bytes(bytes);
        if bits == 256 {
            value
        } else {
            value & ((U256::from(1u8) << bits) - U256::from(1u8))
        }
    })
}

proptest! {
    #[test]
    fn header_round_trips(header in header()) {
        let bytes = header.to_bytes();
        prop_assert_eq!(Header::from_bytes(&bytes), Ok(header));
    }

    #[test]
    fn any_80_bytes_are_a_header_that_reencodes_identically(bytes in any::<[u8; 80]>()) {
        let header = Header::from_bytes(&bytes).unwrap();
        prop_assert_eq!(header.to_bytes(), bytes);
    }

    #[test]
    fn entry_round_trips(entry in entry()) {
        let bytes = entry.to_bytes();
        prop_assert_eq!(bytes.len(), entry.encoded_len());
        prop_assert_eq!(Entry::from_bytes(&bytes), Ok(entry));
    }

    #[test]
    fn block_round_trips(block in block()) {
        let bytes = block.to_bytes();
        prop_assert_eq!(bytes.len(), block.encoded_len());
        prop_assert_eq!(Block::from_bytes(&bytes, MAX_BLOCK), Ok(block));
    }

    #[test]
    fn truncated_encodings_are_errors(block in block(), cut in any::<prop::sample::Index>()) {
        let bytes = block.to_bytes();
        let short = &bytes[..cut.index(bytes.len())];
        prop_assert!(Block::from_bytes(short, MAX_BLOCK).is_err());
        prop_assert!(Header::from_bytes(&bytes[..cut.index(Header::SIZE)]).is_err());
        if let Some(entry) = block.entries.first() {
            let bytes = entry.to_bytes();
            prop_assert!(Entry::from_bytes(&bytes[..cut.index(bytes.len())]).is_err());
        }
    }

    #[test]
    fn trailing_bytes_are_errors(block in block(), extra in prop::collection::vec(any::<u8>(), 1..8)) {
        let mut bytes = block.to_bytes();
        bytes.extend_from_slice(&extra);
        prop_assert!(Block::from_bytes(&bytes, MAX_BLOCK).is_err());
        let mut header = block.header.to_bytes().to_vec();
        header.extend_from_slice(&extra);
        prop_assert!(Header::from_bytes(&header).is_err());
        if let Some(entry) = block.entries.first() {
            let mut bytes = entry.to_bytes();
            bytes.extend_from_slice(&extra);
            prop_assert!(Entry::from_bytes(&bytes).is_err());
        }
    }

    #[test]
    fn garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        // Whatever decodes must re-encode to the same bytes: one encoding per value.
        if let Ok(header) = Header::from_bytes(&bytes) {
            prop_assert_eq!(header.to_bytes().to_vec(), bytes.clone());
        }
        if let Ok(entry) = Entry::from_bytes(&bytes) {
            prop_assert_eq!(entry.to_bytes(), bytes.clone());
        }
        if let Ok(block) = Block::from_bytes(&bytes, MAX_BLOCK) {
            prop_assert_eq!(block.to_bytes(), bytes.clone());
        }
        prop_assert!(Block::from_bytes(&bytes, 10).is_err() || bytes.len() <= 10);
    }

    #[test]
    fn garbage_after_a_valid_header_never_panics(
        header in header(),
        tail in prop::collection::vec(any::<u8>(), 0..200),
    ) {
        let mut bytes = header.to_bytes().to_vec();
        bytes.extend_from_slice(&tail);
        if let Ok(block) = Block::from_bytes(&bytes, MAX_BLOCK) {
            prop_assert_eq!(block.to_bytes(), bytes);
        }
    }

    #[test]
    fn compact_round_trips_exactly_for_representable_targets(
        mantissa in 1u32..0x0080_0000,
        size in 1u32..=32,
    ) {
        // `mantissa` placed at byte `size`: exact whenever no set bit is shifted out below byte 0.
        let compact = CompactTarget(size << 24 | mantissa);
        let ExpandedCompact { value, negative, overflow } = compact.expand();
        prop_assert!(!negative && !overflow);
        if !value.is_zero() {
            let target = Target::from_compact(compact).unwrap();
            let back = target.to_compact();
            prop_assert_eq!(Target::from_compact(back), Ok(target));
            // Canonical forms (no leading zero byte in the mantissa) come back bit for bit.
            if mantissa >= 0x8000 && (size >= 3 || mantissa & ((1 << (8 * (3 - size))) - 1) == 0) {
                prop_assert_eq!(back, compact);
            }
        }
    }

    #[test]
    fn to_compact_keeps_the_top_bits_and_is_stable(value in u256()) {
        let compact = CompactTarget::from_value(value, false);
        let expanded = compact.expand();
        prop_assert!(!expanded.negative && !expanded.overflow);
        // Rounds down to the top 23 or 24 bits, so never by more than a part in 2^15.
        prop_assert!(expanded.value <= value);
        prop_assert!(value - expanded.value <= value >> 15);
        prop_assert_eq!(CompactTarget::from_value(expanded.value, false), compact);
    }

    /// The feed's shortcut: a coinbase's merkle branch stays valid when only its extra nonce
    /// changes, so each miner connection computes its root with O(log n) hashes.
    #[test]
    fn coinbase_branch_gives_the_root_for_any_extra_nonce(
        texts in prop::collection::vec(".{1,20}", 0..24),
        extra_nonce in any::<u64>(),
    ) {
        let mut block = Block {
            header: Header::from_bytes(&[0; 80]).unwrap(),
            entries: vec![Entry::Coinbase(Coinbase::new(9, 0, "m", Vec::new()))],
        };
        block.entries.extend(texts.into_iter().map(Entry::data));
        let branch = block.proof(0).unwrap().siblings;
        if let Entry::Coinbase(coinbase) = &mut block.entries[0] {
            coinbase.extra_nonce = extra_nonce;
        }
        let leaf = block.entries[0].leaf_hash();
        prop_assert_eq!(
            bbchain_core::merkle::root_from_branch(&leaf, 0, &branch),
            block.compute_merkle_root()
        );
        for index in 0..block.entries.len() {
            let proof = block.proof(index).unwrap();
            prop_assert!(proof.verify(&block.entries[index].leaf_hash(), &block.compute_merkle_root()));
        }
    }

    /// Stratum's view of the coinbase: its encoding is `prefix ‖ extra nonce (8 bytes LE) ‖ rest`,
    /// with prefix and rest the same for every extra nonce, so a pool's coinb1/coinb2 split works.
    #[test]
    fn the_coinbase_splits_around_its_extra_nonce(
        entry in entry(),
        extra_nonce in any::<u64>(),
    ) {
        if let Entry::Coinbase(coinbase) = entry {
            let bytes = Entry::Coinbase(coinbase.clone()).to_bytes();
            let other = Entry::Coinbase(Coinbase { extra_nonce, ..coinbase.clone() }).to_bytes();
            prop_assert_eq!(&bytes[5..13], &coinbase.extra_nonce.to_le_bytes()[..]);
            prop_assert_eq!(&other[5..13], &extra_nonce.to_le_bytes()[..]);
            prop_assert_eq!(&bytes[..5], &other[..5]);
            prop_assert_eq!(&bytes[13..], &other[13..]);
        }
    }

    /// What a Stratum miner hashes: `sha256d(coinb1 ‖ extranonce1 ‖ extranonce2 ‖ coinb2)`, with the
    /// 8 bytes of extra nonce read little-endian, is exactly the coinbase's merkle leaf.
    #[test]
    fn a_split_coinbase_hashes_to_its_leaf(
        entry in entry(),
        extranonce1 in any::<[u8; 4]>(),
        extranonce2 in any::<[u8; 4]>(),
    ) {
        if let Entry::Coinbase(coinbase) = entry {
            let (coinb1, coinb2) = coinbase.split_at_extra_nonce();
            prop_assert_eq!(coinb1.len(), Coinbase::EXTRA_NONCE_AT.start);
            let mut stratum = coinb1.clone();
            stratum.extend_from_slice(&extranonce1);
            stratum.extend_from_slice(&extranonce2);
            stratum.extend_from_slice(&coinb2);
            let mut extra = [0u8; 8];
            extra[..4].copy_from_slice(&extranonce1);
            extra[4..].copy_from_slice(&extranonce2);
            let filled = Coinbase { extra_nonce: u64::from_le_bytes(extra), ..coinbase };
            let leaf = TxMerkleNode::from_byte_array(bbchain_core::hash::sha256d(&stratum));
            prop_assert_eq!(leaf, Entry::Coinbase(filled.clone()).leaf_hash());
            prop_assert_eq!(leaf.to_byte_array(), filled.txid().to_byte_array());
        }
    }

    #[test]
    fn work_is_two_to_the_256_over_target_plus_one(target in u256()) {
        let exact = (U512::from(1u8) << 256) / (U512::from(target) + U512::from(1u8));
        if let Some(target) = Target::new(target) {
            let work = target.to_work().0;
            prop_assert_eq!(U512::from(work), exact);
        }
    }

    #[test]
    fn overflow_flag_means_more_than_256_bits(compact in any::<u32>()) {
        let expanded = CompactTarget(compact).expand();
        let size = compact >> 24;
        // Core shifts small sizes' mantissa first, and judges the sign on what is left.
        let word = match size {
            0..=3 => (compact & 0x007f_ffff) >> (8 * (3 - size)),
            _ => compact & 0x007f_ffff,
        };
        let word_bits = 32 - word.leading_zeros();
        let fits = size <= 3 || word == 0 || word_bits + 8 * (size - 3) <= 256;
        prop_assert_eq!(expanded.overflow, !fits, "{:08x}", compact);
        if fits {
            let wide = U512::from(word) << (8 * size.saturating_sub(3) as usize);
            prop_assert_eq!(U512::from(expanded.value), wide);
        }
        prop_assert_eq!(expanded.negative, word != 0 && compact & 0x0080_0000 != 0);
    }
}

/// JSON read through `serde_json::Value` (owned strings) must decode too.
#[test]
fn json_decodes_from_owned_values() {
    let work = Target::MAX.to_work();
    let value = serde_json::to_value(work).unwrap();
    assert_eq!(
        serde_json::from_value::<bbchain_core::Work>(value).unwrap(),
        work
    );
    let hash = BlockHash::from_byte_array([7; 32]);
    let value = serde_json::to_value(hash).unwrap();
    assert_eq!(serde_json::from_value::<BlockHash>(value).unwrap(), hash);
}
