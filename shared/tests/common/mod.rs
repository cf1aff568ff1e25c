//! Helpers shared by the integration tests: reading the vector files (blocks are built with
//! `bbchain_core::testing`).
#![allow(dead_code)]

use bbchain_core::Target;
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

/// A hash of any of the hash types in display hex (byte-reversed), as block explorers print it.
pub fn display_hash<H: std::str::FromStr<Err = bbchain_core::hash::HashParseError>>(
    hex: &str,
) -> H {
    hex.parse().expect("64 hex digits")
}

/// 8 hex digits of nBits.
pub fn bits(hex: &str) -> bbchain_core::CompactTarget {
    bbchain_core::CompactTarget(u32::from_str_radix(hex.trim_start_matches("0x"), 16).unwrap())
}

/// A 256-bit big-endian hex number.
pub fn value_hex(hex: &str) -> ruint::aliases::U256 {
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(hex, &mut bytes).expect("64 hex digits");
    ruint::aliases::U256::from_be_bytes(bytes)
}

/// A 256-bit big-endian hex target (never zero).
pub fn target_hex(hex: &str) -> Target {
    Target::new(value_hex(hex)).expect("a non-zero target")
}
