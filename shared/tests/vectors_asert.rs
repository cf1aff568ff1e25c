//! The official aserti3-2d test runs and two real Bitcoin Cash blocks, through `asert::next_target`
//! with the specification's parameters.

mod common;

use bbchain_core::Header;
use bbchain_core::asert::{Anchor, AsertParams, next_target};
use common::{bits, int, read_json, read_vector, text};

fn spec_params() -> AsertParams {
    AsertParams {
        target_spacing: 600,
        halflife: 172_800,
        pow_limit: bbchain_core::Target::from_compact(bits("1d00ffff")).unwrap(),
    }
}

/// The value after `name:` in a run file's `##` header.
fn header_field(run: &str, name: &str) -> i64 {
    let line = run
        .lines()
        .find_map(|line| {
            line.strip_prefix("##")?
                .trim()
                .strip_prefix(name)?
                .strip_prefix(':')
        })
        .unwrap_or_else(|| panic!("no {name}"));
    let value = line.trim();
    match value.strip_prefix("0x") {
        Some(hex) => i64::from_str_radix(hex, 16).unwrap(),
        None => value.parse().unwrap(),
    }
}

fn check_run(name: &str) {
    let run = read_vector(&format!("asert/{name}"));
    let anchor = Anchor {
        height: header_field(&run, "anchor height"),
        parent_time: header_field(&run, "anchor parent time"),
        target: bbchain_core::Target::from_compact(bbchain_core::CompactTarget(header_field(
            &run,
            "anchor nBits",
        ) as u32))
        .unwrap(),
    };
    let params = spec_params();
    let mut rows = 0;
    for line in run
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let f: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(f.len(), 4, "{name}: {line}");
        let height: i64 = f[1].parse().unwrap();
        let time: i64 = f[2].parse().unwrap();
        let got = next_target(&anchor, &params, height, time).to_compact();
        assert_eq!(got, bits(f[3]), "{name} iteration {}", f[0]);
        rows += 1;
    }
    assert_eq!(
        rows,
        header_field(&run, "iterations"),
        "{name}: every row was checked"
    );
}

#[test]
fn run01_steady_blocks_at_the_pow_limit() {
    check_run("run01");
}

#[test]
fn run03_steady_blocks_at_the_minimum_target() {
    check_run("run03");
}

#[test]
fn run05_halving_by_halflife_height_jumps() {
    check_run("run05");
}

#[test]
fn run07_random_solvetimes_rising_hashrate() {
    check_run("run07");
}

#[test]
fn run09_heights_across_i32_max() {
    check_run("run09");
}

#[test]
fn run11_random_solvetimes_including_negative() {
    check_run("run11");
}

#[test]
fn real_bitcoin_cash_blocks() {
    let file = read_json("asert/bch_mainnet_asert_real_blocks.json");
    let anchor_json = &file["anchor"];
    let anchor_header =
        Header::from_bytes(&hex::decode(text(anchor_json, "anchor_header_hex")).unwrap()).unwrap();
    assert_eq!(
        anchor_header.block_hash().to_string(),
        text(anchor_json, "hash")
    );
    assert_eq!(anchor_header.bits, bits(text(anchor_json, "bits")));
    let anchor = Anchor {
        height: int(anchor_json, "height"),
        parent_time: int(anchor_json, "parent_time"),
        target: anchor_header.target().unwrap(),
    };
    let checks = file["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 2);
    for check in checks {
        let eval =
            Header::from_bytes(&hex::decode(text(check, "eval_header_hex")).unwrap()).unwrap();
        let next =
            Header::from_bytes(&hex::decode(text(check, "next_header_hex")).unwrap()).unwrap();
        assert_eq!(
            eval.block_hash().to_string(),
            text(check, "eval_block_hash")
        );
        assert_eq!(
            next.block_hash().to_string(),
            text(check, "next_block_hash")
        );
        assert_eq!(next.prev_hash, eval.block_hash());
        assert_eq!(i64::from(eval.time), int(check, "eval_time"));
        let got = next_target(
            &anchor,
            &spec_params(),
            int(check, "eval_height"),
            int(check, "eval_time"),
        );
        assert_eq!(got.to_compact(), bits(text(check, "expected_bits")));
        assert_eq!(
            got.to_compact(),
            next.bits,
            "the real child carries these bits"
        );
        assert!(next.target().unwrap().is_met_by(&next.block_hash()));
    }
}
