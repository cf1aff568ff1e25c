//! Helpers shared by the integration tests: reading the vector files and building dev-chain blocks.
#![allow(dead_code)]

use bbchain_core::merkle::merkle_root;
use bbchain_core::{Block, ChainParams, Coinbase, Entry, Hash256, Header, Midstate, Target, scan};
use serde_json::Value;
use std::path::PathBuf;

/// Path of a file under `tests/vectors/`.
pub fn vector_path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors")
        .join(relative)
}

/// The text of a vector file.
pub fn read_vector(relative: &str) -> String {
    let path = vector_path(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// A JSON vector file.
pub fn read_json(relative: &str) -> Value {
    serde_json::from_str(&read_vector(relative)).expect("vector file is JSON")
}

/// A string field of a JSON object.
pub fn text<'a>(value: &'a Value, field: &str) -> &'a str {
    value[field]
        .as_str()
        .unwrap_or_else(|| panic!("field {field} is not a string in {value}"))
}

/// An integer field, written either as a number or as a decimal string.
pub fn int(value: &Value, field: &str) -> i64 {
    match &value[field] {
        Value::Number(n) => n.as_i64().expect("integer"),
        Value::String(s) => s.parse().expect("decimal integer"),
        other => panic!("field {field} is not an integer: {other}"),
    }
}

/// A hash in display hex (byte-reversed), as block explorers print it.
pub fn display_hash(hex: &str) -> Hash256 {
    hex.parse().expect("64 hex digits")
}

/// 8 hex digits of nBits.
pub fn bits(hex: &str) -> bbchain_core::CompactTarget {
    bbchain_core::CompactTarget(u32::from_str_radix(hex.trim_start_matches("0x"), 16).unwrap())
}

/// A 256-bit big-endian hex target.
pub fn target_hex(hex: &str) -> Target {
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(hex, &mut bytes).expect("64 hex digits");
    Target::from_be_bytes(bytes)
}

/// A coinbase entry for `height`.
pub fn coinbase(height: u32) -> Entry {
    Entry::Coinbase(Coinbase {
        height,
        extra_nonce: 7,
        miner: "tester".into(),
    })
}

/// A header committing to `entries` on top of `parent`, not yet mined.
pub fn header_for(parent: &Header, entries: &[Entry], bits: bbchain_core::CompactTarget) -> Header {
    let leaves: Vec<Hash256> = entries.iter().map(Entry::leaf_hash).collect();
    Header {
        version: 1,
        prev_hash: parent.block_hash(),
        merkle_root: merkle_root(&leaves),
        time: parent.time + 1,
        bits,
        nonce: 0,
    }
}

/// Sets the first nonce that meets the header's own target.
pub fn mine(header: &mut Header) {
    let target = header.target().expect("valid bits");
    let found = scan(&Midstate::new(header), &target, 0, u32::MAX);
    header.nonce = found.nonce.expect("a nonce under an easy target");
}

/// A valid dev-chain block 1 on top of genesis, with `entries` after its coinbase.
pub fn dev_block_1(params: &ChainParams, data: &[&str]) -> Block {
    let genesis = params.genesis_block();
    let mut entries = vec![coinbase(1)];
    entries.extend(data.iter().map(|text| Entry::data(*text)));
    let mut header = header_for(&genesis.header, &entries, params.pow_limit);
    mine(&mut header);
    Block { header, entries }
}
