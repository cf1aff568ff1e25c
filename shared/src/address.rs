//! Addresses: the 32-byte x-only public key in bech32m (BIP-350), behind the network's prefix.
//!
//! A main-network address reads `bb1` and 58 more characters; a dev-network one `bbdev1…`. The
//! data part is the key's 32 bytes in 5-bit groups (52 characters, the last 4 bits zero), with no
//! version character, then bech32m's 6-character checksum, which catches any typo of up to 4
//! characters. Decoding says what is wrong in words a user can act on.

use crate::keys::PublicKey;
use crate::params::ChainParams;
use alloc::string::String;
use bech32::primitives::decode::{CheckedHrpstring, ChecksumError, UncheckedHrpstring};
use bech32::{Bech32m, Hrp};

/// Characters in the data part of an address (without the checksum): 32 bytes in 5-bit groups.
const DATA_CHARS: usize = 52;

/// Why text is not an address of this network.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    /// Missing `1` separator, a character bech32 never uses, or mixed case.
    #[error("not an address: {0}")]
    NotAnAddress(&'static str),
    /// The prefix is not a bbchain network's.
    #[error(
        "not a bbchain address: it starts with \"{found}1\", and addresses here start with \"{expected}1\""
    )]
    UnknownPrefix {
        /// The prefix given, in lowercase.
        found: String,
        /// This network's prefix.
        expected: &'static str,
    },
    /// The checksum does not match: a character is mistyped, missing or swapped.
    #[error("the address has a typo: its checksum does not match")]
    BadChecksum,
    /// A valid bech32 (BIP-173) checksum, but addresses use bech32m.
    #[error("the address has a bech32 checksum, but bbchain addresses use bech32m (BIP-350)")]
    Bech32NotBech32m,
    /// The checksum is right but the address does not hold 32 bytes.
    #[error("an address is {expected} characters long; this one is {found}")]
    WrongLength {
        /// Characters given.
        found: usize,
        /// Characters in an address of this network.
        expected: usize,
    },
    /// The 32 bytes are not a public key.
    #[error("the address does not hold a valid public key")]
    NotAKey,
    /// An address of another bbchain network.
    #[error("a {found}-network address ({found_prefix}1…), but this is the {expected} network")]
    WrongNetwork {
        /// The address's network.
        found: &'static str,
        /// Its prefix.
        found_prefix: &'static str,
        /// This network.
        expected: &'static str,
    },
}

/// The address of `key` on the network of `params`.
pub fn encode(key: &PublicKey, params: &ChainParams) -> String {
    let hrp = Hrp::parse(params.address_prefix).expect("address prefixes are valid bech32 HRPs");
    bech32::encode_lower::<Bech32m>(hrp, key.as_bytes()).expect("an address is under 90 characters")
}

/// The key an address pays, if `text` is a valid address of the network of `params`.
///
/// All-uppercase text is accepted, like BIP-173 allows (it fits QR codes better); mixed case is not.
pub fn decode(text: &str, params: &ChainParams) -> Result<PublicKey, AddressError> {
    let unchecked = UncheckedHrpstring::new(text).map_err(|error| {
        use bech32::primitives::decode::{CharError, UncheckedHrpstringError};
        AddressError::NotAnAddress(match error {
            UncheckedHrpstringError::Char(CharError::MissingSeparator) => "it has no \"1\" after its prefix",
            UncheckedHrpstringError::Char(CharError::MixedCase) => {
                "it mixes upper and lower case"
            }
            UncheckedHrpstringError::Char(CharError::NothingAfterSeparator) => {
                "nothing follows its prefix"
            }
            UncheckedHrpstringError::Char(_) => {
                "it has a character that addresses never use (they have no 1, b, i or o after the prefix)"
            }
            _ => "its prefix is not valid",
        })
    })?;
    let prefix = unchecked.hrp().to_lowercase();
    let network = known_networks()
        .into_iter()
        .find(|network| network.address_prefix == prefix)
        .ok_or_else(|| AddressError::UnknownPrefix {
            found: prefix.clone(),
            expected: params.address_prefix,
        })?;
    match unchecked.validate_checksum::<Bech32m>() {
        Ok(()) => {}
        Err(ChecksumError::InvalidResidue(residue)) if residue.matches_bech32_checksum() => {
            return Err(AddressError::Bech32NotBech32m);
        }
        Err(ChecksumError::InvalidResidue(_)) if text.len() == encode_length(&network) => {
            return Err(AddressError::BadChecksum);
        }
        // A checksum that fails on a string of the wrong length: most likely characters were
        // dropped or added, and saying so helps more than "typo".
        Err(_) => {
            return Err(AddressError::WrongLength {
                found: text.chars().count(),
                expected: encode_length(&network),
            });
        }
    }
    if network.address_prefix != params.address_prefix {
        return Err(AddressError::WrongNetwork {
            found: network.name,
            found_prefix: network.address_prefix,
            expected: params.name,
        });
    }
    let checked: CheckedHrpstring<'_> = unchecked.remove_checksum::<Bech32m>();
    if checked.data_part_ascii_no_checksum().len() != DATA_CHARS {
        return Err(AddressError::WrongLength {
            found: text.len(),
            expected: encode_length(params),
        });
    }
    // 52 characters carry 260 bits; the 4 left over must be zero, so each key has one address.
    checked
        .validate_segwit_padding()
        .map_err(|_| AddressError::NotAKey)?;
    let mut bytes = [0u8; 32];
    for (slot, byte) in bytes.iter_mut().zip(checked.byte_iter()) {
        *slot = byte;
    }
    PublicKey::from_bytes(bytes).map_err(|_| AddressError::NotAKey)
}

/// The networks whose addresses are recognised, to name the network of a misplaced address.
fn known_networks() -> [ChainParams; 2] {
    [ChainParams::main(), ChainParams::dev()]
}

/// The length of every address of a network: prefix, `1`, 52 data and 6 checksum characters.
fn encode_length(params: &ChainParams) -> usize {
    params.address_prefix.len() + 1 + DATA_CHARS + 6
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::SecretKey;
    use alloc::string::ToString;

    fn key() -> PublicKey {
        SecretKey::from_bytes([0x42; 32]).unwrap().public_key()
    }

    /// `text` with the character at `index` replaced by `with`.
    fn replace(text: &str, index: usize, with: char) -> String {
        text.char_indices()
            .map(|(i, c)| if i == index { with } else { c })
            .collect()
    }

    #[test]
    fn round_trips_on_each_network() {
        for params in known_networks() {
            let address = encode(&key(), &params);
            assert!(address.starts_with(&alloc::format!("{}1", params.address_prefix)));
            assert_eq!(address.len(), encode_length(&params));
            assert_eq!(decode(&address, &params), Ok(key()));
            assert_eq!(decode(&address.to_uppercase(), &params), Ok(key()));
        }
        assert_eq!(encode(&key(), &ChainParams::main()).len(), 61);
    }

    #[test]
    fn a_typo_is_a_bad_checksum() {
        let main = ChainParams::main();
        let address = encode(&key(), &main);
        let last = address.chars().last().unwrap();
        let typo = replace(
            &address,
            10,
            if address.as_bytes()[10] == b'q' {
                'p'
            } else {
                'q'
            },
        );
        assert_eq!(decode(&typo, &main), Err(AddressError::BadChecksum));
        let swapped_end = replace(
            &address,
            address.len() - 1,
            if last == 'q' { 'p' } else { 'q' },
        );
        assert_eq!(decode(&swapped_end, &main), Err(AddressError::BadChecksum));
    }

    #[test]
    fn the_other_network_is_named() {
        let dev_address = encode(&key(), &ChainParams::dev());
        let error = decode(&dev_address, &ChainParams::main()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "a dev-network address (bbdev1…), but this is the main network"
        );
        let main_address = encode(&key(), &ChainParams::main());
        assert_eq!(
            decode(&main_address, &ChainParams::dev())
                .unwrap_err()
                .to_string(),
            "a main-network address (bb1…), but this is the dev network"
        );
    }

    #[test]
    fn a_bech32_checksum_is_named() {
        let main = ChainParams::main();
        let hrp = Hrp::parse("bb").unwrap();
        let bech32 = bech32::encode_lower::<bech32::Bech32>(hrp, key().as_bytes()).unwrap();
        assert_eq!(decode(&bech32, &main), Err(AddressError::Bech32NotBech32m));
    }

    #[test]
    fn wrong_lengths_and_non_keys_are_refused() {
        let main = ChainParams::main();
        let hrp = Hrp::parse("bb").unwrap();
        let short = bech32::encode_lower::<Bech32m>(hrp, &[1u8; 20]).unwrap();
        assert_eq!(
            decode(&short, &main),
            Err(AddressError::WrongLength {
                found: 41,
                expected: 61
            })
        );
        let dropped = {
            let address = encode(&key(), &main);
            let mut text = address.clone();
            text.remove(20);
            text
        };
        assert!(matches!(
            decode(&dropped, &main),
            Err(AddressError::WrongLength {
                found: 60,
                expected: 61
            })
        ));
        // x = 5 is not on the curve.
        let mut five = [0u8; 32];
        five[31] = 5;
        let off_curve = bech32::encode_lower::<Bech32m>(hrp, &five).unwrap();
        assert_eq!(decode(&off_curve, &main), Err(AddressError::NotAKey));
    }

    #[test]
    fn non_addresses_and_unknown_prefixes_are_refused() {
        let main = ChainParams::main();
        let address = encode(&key(), &main);
        assert!(matches!(
            decode("", &main),
            Err(AddressError::NotAnAddress(_))
        ));
        assert!(matches!(
            decode("hello", &main),
            Err(AddressError::NotAnAddress(_))
        ));
        let mixed = replace(
            &address,
            5,
            address.as_bytes()[5].to_ascii_uppercase() as char,
        );
        assert_eq!(
            decode(&mixed, &main),
            Err(AddressError::NotAnAddress("it mixes upper and lower case"))
        );
        let with_b = replace(&address, 5, 'b');
        assert!(matches!(
            decode(&with_b, &main),
            Err(AddressError::NotAnAddress(_))
        ));
        let hrp = Hrp::parse("bc").unwrap();
        let bitcoin = bech32::encode_lower::<Bech32m>(hrp, key().as_bytes()).unwrap();
        let error = decode(&bitcoin, &main).unwrap_err();
        assert_eq!(
            error.to_string(),
            "not a bbchain address: it starts with \"bc1\", and addresses here start with \"bb1\""
        );
    }
}
