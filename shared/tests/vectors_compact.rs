//! Compact `bits` against Bitcoin Core's SetCompact/GetCompact cases, real mainnet bits, and Core's
//! CheckProofOfWork edge cases.

mod common;

use bbchain_core::target::ExpandedCompact;
use bbchain_core::{BlockHash, CompactError, CompactTarget, Target};
use common::{bits, read_json, target_hex, text, value_hex};
use ruint::aliases::U256;

#[test]
fn bitcoin_core_set_compact_cases() {
    let file = read_json("compact/bitcoin_core_setcompact.json");
    let vectors = file["vectors"].as_array().unwrap();
    assert_eq!(vectors.len(), 10);
    for v in vectors {
        let compact = bits(text(v, "compact"));
        let ExpandedCompact {
            value,
            negative,
            overflow,
        } = compact.expand();
        assert_eq!(negative, v["negative"].as_bool().unwrap(), "{compact}");
        assert_eq!(overflow, v["overflow"].as_bool().unwrap(), "{compact}");
        if let Some(hex) = v["target_hex"].as_str() {
            assert_eq!(value, value_hex(hex), "{compact}");
        }
        if let Some(reencoded) = v["reencoded_compact"].as_str() {
            let flag = v["reencode_with_negative_flag"].as_bool().unwrap();
            assert_eq!(
                CompactTarget::from_value(value, flag),
                bits(reencoded),
                "{compact}"
            );
        }
    }
    for v in file["get_compact_only"].as_array().unwrap() {
        let target = target_hex(text(v, "target_hex"));
        assert_eq!(target.to_compact(), bits(text(v, "expected_compact")));
    }
}

/// Overflow flags the vector file leaves out (its overflow rows carry no value to compare).
#[test]
fn bitcoin_core_overflow_flags() {
    // Core's own case, then the edges of 256 bits: a 2-byte mantissa fits at size 33, 1 byte at 34.
    for (compact, overflow) in [
        (0xff12_3456, true),
        (0x2100_ffff, false),
        (0x2101_0000, true),
        (0x2200_00ff, false),
        (0x2200_0100, true),
        (0x2300_0001, true),
        (0x2300_0000, false),
    ] {
        let expanded = CompactTarget(compact).expand();
        assert_eq!(expanded.overflow, overflow, "{compact:08x}");
        assert!(!expanded.negative);
    }
    assert_eq!(
        Target::from_compact(CompactTarget(0xff12_3456)),
        Err(CompactError::Overflow)
    );
    assert_eq!(
        Target::from_compact(CompactTarget(0x04923456)),
        Err(CompactError::Negative)
    );
    assert_eq!(
        Target::from_compact(CompactTarget(0x01003456)),
        Err(CompactError::Zero)
    );
}

#[test]
fn real_mainnet_bits_expand_and_reencode_exactly() {
    let file = read_json("compact/btc_mainnet_bits_to_target.json");
    let vectors = file["vectors"].as_array().unwrap();
    assert_eq!(vectors.len(), 200);
    for v in vectors {
        let compact = bits(text(v, "bits"));
        let target = Target::from_compact(compact).unwrap();
        assert_eq!(target, target_hex(text(v, "target_hex")), "{compact}");
        assert_eq!(target.to_hex(), text(v, "target_hex"));
        assert_eq!(target.to_compact(), compact);
    }
}

#[test]
fn bitcoin_core_check_proof_of_work_edge_cases() {
    let file = read_json("retarget/bitcoin_core_pow_tests.json");
    let pow_limit = target_hex(text(&file, "pow_limit"));
    assert_eq!(pow_limit.to_compact(), bits(text(&file, "pow_limit_bits")));
    for case in file["check_proof_of_work"].as_array().unwrap() {
        let hash: BlockHash = text(case, "hash").parse().unwrap();
        let valid = match Target::from_compact(bits(text(case, "bits"))) {
            Ok(target) => target <= pow_limit && target.is_met_by(&hash),
            Err(_) => false,
        };
        assert_eq!(valid, case["expected_valid"].as_bool().unwrap(), "{case}");
    }
}

#[test]
fn work_is_the_expected_number_of_hashes() {
    // 2^256 / (2^224 * 0xffff / 0x10000 + 1) is just over 2^32: Bitcoin's difficulty-1 work.
    let work = Target::from_compact(CompactTarget(0x1d00ffff))
        .unwrap()
        .to_work();
    assert_eq!(work.0, ruint::aliases::U256::from(0x1_0001_0001u64));
    assert_eq!(Target::MAX.to_work().0, ruint::aliases::U256::from(1u8));
}

#[test]
fn work_of_extreme_targets_does_not_overflow() {
    assert_eq!(Target::ONE.to_work().0, U256::from(1u8) << 255);
    assert_eq!(Target::new(U256::ZERO), None, "no zero target");
    let total = Target::ONE.to_work() + Target::ONE.to_work();
    assert_eq!(total.0, U256::MAX, "chain work saturates");
}

#[test]
fn bits_in_json_are_exactly_eight_hex_digits() {
    let bits: CompactTarget = serde_json::from_str("\"1d00ffff\"").unwrap();
    assert_eq!(bits, CompactTarget(0x1d00_ffff));
    for bad in [
        "\"+1d00fff\"",
        "\"1d00fff\"",
        "\"1d00ffff0\"",
        "\"-1d00fff\"",
        "\"1d00fffg\"",
    ] {
        assert!(serde_json::from_str::<CompactTarget>(bad).is_err(), "{bad}");
    }
}
