//! Bitcoin's 2016-block retarget, written here as a test-only helper: it exercises `Target` and
//! compact arithmetic on 207 real mainnet boundaries and Bitcoin Core's pow tests. bbchain itself
//! uses ASERT; this rule is not part of its consensus.

mod common;

use bbchain_core::{CompactTarget, Target};
use common::{bits, int, read_json, target_hex, text};
use ruint::aliases::U256;

const TARGET_TIMESPAN: u64 = 14 * 24 * 60 * 60;

/// Bitcoin Core's `CalculateNextWorkRequired`.
fn next_bits(
    last_bits: CompactTarget,
    first_time: i64,
    last_time: i64,
    pow_limit: Target,
) -> CompactTarget {
    let timespan = (last_time - first_time)
        .clamp(TARGET_TIMESPAN as i64 / 4, TARGET_TIMESPAN as i64 * 4) as u64;
    let old = Target::from_compact(last_bits).unwrap();
    let new = old.value() * U256::from(timespan) / U256::from(TARGET_TIMESPAN);
    Target::new(new.min(pow_limit.value()))
        .unwrap()
        .to_compact()
}

/// Bitcoin Core's `PermittedDifficultyTransition` at a retarget height.
fn permitted(old_bits: CompactTarget, new_bits: CompactTarget, pow_limit: Target) -> bool {
    let observed = Target::from_compact(new_bits).unwrap();
    let old = Target::from_compact(old_bits).unwrap().value();
    let bound = |timespan: u64| {
        let target =
            (old * U256::from(timespan) / U256::from(TARGET_TIMESPAN)).min(pow_limit.value());
        // Core compares against the bound as it would be written in a header.
        Target::from_compact(Target::new(target).unwrap().to_compact()).unwrap()
    };
    bound(TARGET_TIMESPAN / 4) <= observed && observed <= bound(TARGET_TIMESPAN * 4)
}

#[test]
fn real_mainnet_retarget_boundaries() {
    let file = read_json("retarget/btc_retarget_real_boundaries.json");
    let pow_limit = target_hex(text(&file, "pow_limit"));
    let vectors = file["vectors"].as_array().unwrap();
    assert_eq!(vectors.len(), 207);
    let mut changed = 0;
    for v in vectors {
        let last_bits = bits(text(v, "last_bits"));
        let expected = bits(text(v, "expected_bits"));
        let got = next_bits(
            last_bits,
            int(v, "first_block_time"),
            int(v, "last_block_time"),
            pow_limit,
        );
        assert_eq!(got, expected, "retarget at height {}", int(v, "height"));
        assert!(permitted(last_bits, expected, pow_limit));
        changed += usize::from(last_bits != expected);
    }
    assert_eq!(changed, 199);
}

#[test]
fn bitcoin_core_pow_tests() {
    let file = read_json("retarget/bitcoin_core_pow_tests.json");
    let pow_limit = target_hex(text(&file, "pow_limit"));
    for case in file["retarget_cases"].as_array().unwrap() {
        let last_bits = bits(text(case, "last_bits"));
        let expected = bits(text(case, "expected_bits"));
        let got = next_bits(
            last_bits,
            int(case, "first_block_time"),
            int(case, "last_block_time"),
            pow_limit,
        );
        assert_eq!(got, expected, "{}", text(case, "name"));
        assert!(permitted(last_bits, expected, pow_limit));
        if let Some(beyond) = case["not_permitted_bits"].as_str() {
            assert!(!permitted(last_bits, bits(beyond), pow_limit), "{beyond}");
        }
    }
}
