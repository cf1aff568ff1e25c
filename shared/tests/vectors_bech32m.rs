//! The BIP-350 bech32m vectors, checked through the `bech32` crate API that `address` uses: valid
//! strings carry a bech32m checksum (and not a bech32 one), invalid strings are refused. The
//! vectors use other prefixes and lengths than addresses, so they test the checksum layer.

mod common;

use bbchain_core::ChainParams;
use bbchain_core::address::{self, AddressError};
use bech32::primitives::decode::UncheckedHrpstring;
use bech32::{Bech32, Bech32m};
use common::read_vector;

#[test]
fn valid_strings_have_bech32m_checksums() {
    let text = read_vector("bech32m/valid.txt");
    let valid: Vec<&str> = text.lines().filter(|line| !line.is_empty()).collect();
    assert_eq!(valid.len(), 7);
    for string in valid {
        let unchecked = UncheckedHrpstring::new(string).unwrap_or_else(|e| panic!("{string}: {e}"));
        assert!(unchecked.has_valid_checksum::<Bech32m>(), "{string}");
        assert!(!unchecked.has_valid_checksum::<Bech32>(), "{string}");
        // Not addresses: refused as such, with a reason and no panic.
        assert!(address::decode(string, &ChainParams::main()).is_err());
    }
}

#[test]
fn invalid_strings_are_refused() {
    let text = read_vector("bech32m/invalid.tsv");
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("string_utf8_hex\treason"));
    let mut count = 0;
    for line in lines.filter(|line| !line.is_empty()) {
        let (hex_text, reason) = line.split_once('\t').expect("two columns");
        let string = String::from_utf8(hex::decode(hex_text).unwrap()).unwrap();
        let accepted = UncheckedHrpstring::new(&string)
            .is_ok_and(|unchecked| unchecked.validate_checksum::<Bech32m>().is_ok());
        assert!(!accepted, "{string:?} ({reason}) was accepted");
        let refused = address::decode(&string, &ChainParams::main());
        assert!(
            matches!(
                refused,
                Err(AddressError::NotAnAddress(_) | AddressError::UnknownPrefix { .. })
            ),
            "{string:?}: {refused:?}"
        );
        count += 1;
    }
    assert_eq!(count, 14);
}
