//! Wallet keys from a BIP-39 mnemonic: the 24 words a user writes down are the whole backup.
//!
//! Derivation (see `docs/protocol.md`, "Keys, addresses and wallets"):
//! `seed = BIP-39 seed(phrase, passphrase "")` (PBKDF2-HMAC-SHA512, 2048 rounds), then
//! `secret = tagged_hash("bbchain/wallet-key", seed)` read as a big-endian scalar. There is one key
//! per wallet; no BIP-32 tree, since bbchain addresses are plain keys.

use crate::keys::{SecretKey, tagged_hash};
use alloc::string::{String, ToString};
use bip39::{Language, Mnemonic};
use zeroize::Zeroizing;

/// The tag of the tagged hash that turns a BIP-39 seed into the wallet's secret key.
pub const WALLET_KEY_TAG: &str = "bbchain/wallet-key";

/// Why a phrase does not give a wallet key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WalletError {
    /// A word that is not in the BIP-39 English list.
    #[error("word {position}, \"{word}\", is not in the BIP-39 English word list")]
    UnknownWord {
        /// 1-based position in the phrase.
        position: usize,
        /// The word as typed.
        word: String,
    },
    /// The words are all known but their checksum fails: one is wrong or they are out of order.
    #[error("the words do not check out (BIP-39 checksum): a word is wrong or out of order")]
    BadChecksum,
    /// Not 12, 15, 18, 21 or 24 words.
    #[error("a wallet phrase has 24 words (12, 15, 18 or 21 also work); this one has {0}")]
    WrongWordCount(usize),
    /// The derived number is not a valid secret key (probability about 2^-128).
    #[error("this phrase derives an invalid key; create another wallet")]
    InvalidKey,
}

/// The 24-word English mnemonic of 32 bytes of entropy (which must come from a secure source).
pub fn new_mnemonic(entropy: &[u8; 32]) -> String {
    Mnemonic::from_entropy_in(Language::English, entropy)
        .expect("32 bytes is a valid BIP-39 entropy length")
        .to_string()
}

/// The wallet's secret key for a mnemonic. Words are separated by any whitespace, and case does
/// not matter.
pub fn secret_from_mnemonic(phrase: &str) -> Result<SecretKey, WalletError> {
    let lowercase = Zeroizing::new(phrase.to_ascii_lowercase());
    let mnemonic = Mnemonic::parse_in_normalized(Language::English, &lowercase).map_err(
        |error| match error {
            bip39::Error::UnknownWord(index) => WalletError::UnknownWord {
                position: index + 1,
                word: phrase
                    .split_whitespace()
                    .nth(index)
                    .unwrap_or_default()
                    .into(),
            },
            bip39::Error::BadWordCount(count) => WalletError::WrongWordCount(count),
            _ => WalletError::BadChecksum,
        },
    )?;
    // English words are ASCII, so the phrase is already in NFKD and the empty passphrase too.
    let seed = Zeroizing::new(mnemonic.to_seed_normalized(""));
    let secret = Zeroizing::new(tagged_hash(WALLET_KEY_TAG, &[&seed[..]]));
    SecretKey::from_bytes(*secret).map_err(|_| WalletError::InvalidKey)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::address;
    use crate::params::ChainParams;
    use alloc::vec::Vec;

    /// BIP-39's own test vector (Trezor's list): 32 bytes of 0x7f, passphrase "TREZOR".
    const PHRASE_7F: &str = "legal winner thank year wave sausage worth useful legal winner thank year wave sausage worth useful legal winner thank year wave sausage worth title";

    #[test]
    fn mnemonic_is_bip39() {
        assert_eq!(new_mnemonic(&[0x7f; 32]), PHRASE_7F);
        let zero = new_mnemonic(&[0; 32]);
        assert_eq!(zero.split(' ').count(), 24);
        assert!(zero.ends_with("abandon abandon art"));
        // The seed is BIP-39's: the Trezor vector with passphrase "TREZOR".
        let mnemonic = Mnemonic::parse_in_normalized(Language::English, PHRASE_7F).unwrap();
        assert_eq!(
            hex::encode(mnemonic.to_seed_normalized("TREZOR")),
            "bc09fca1804f7e69da93c2f2028eb238c227f2e9dda30cd63699232578480a4021b146ad717fbb7e451ce9eb835f43620bf5c514db0f8add49f5d121449d3e87"
        );
    }

    #[test]
    fn derivation_is_the_documented_one() {
        let key = secret_from_mnemonic(PHRASE_7F).unwrap();
        let mnemonic = Mnemonic::parse_in_normalized(Language::English, PHRASE_7F).unwrap();
        let seed = mnemonic.to_seed_normalized("");
        let expected = SecretKey::from_bytes(tagged_hash(WALLET_KEY_TAG, &[&seed])).unwrap();
        assert_eq!(key.public_key(), expected.public_key());
        // Pinned, so that a change of derivation cannot go unnoticed (docs/protocol.md has it).
        assert_eq!(
            address::encode(&key.public_key(), &ChainParams::main()),
            PINNED_ADDRESS_7F
        );
    }

    /// Worked out independently, with Python's hashlib and textbook curve arithmetic.
    const PINNED_ADDRESS_7F: &str = "bb1evlnuq7athpl2sx27vnt7al5r2psaj99lnw7vyxpxugjcx4kf68qv5zj3h";

    #[test]
    fn case_and_spacing_do_not_matter() {
        let messy = alloc::format!("  {}\n", PHRASE_7F.to_uppercase().replace(' ', "  \t"));
        assert_eq!(
            secret_from_mnemonic(&messy).unwrap().public_key(),
            secret_from_mnemonic(PHRASE_7F).unwrap().public_key()
        );
    }

    #[test]
    fn each_problem_is_named() {
        let mut words: Vec<&str> = PHRASE_7F.split(' ').collect();
        words[4] = "wavy";
        assert_eq!(
            secret_from_mnemonic(&words.join(" ")).err(),
            Some(WalletError::UnknownWord {
                position: 5,
                word: "wavy".into()
            })
        );
        words[4] = "wave";
        words.swap(0, 1);
        assert_eq!(
            secret_from_mnemonic(&words.join(" ")).err(),
            Some(WalletError::BadChecksum)
        );
        assert_eq!(
            secret_from_mnemonic(&words[..23].join(" ")).err(),
            Some(WalletError::WrongWordCount(23))
        );
        assert_eq!(
            secret_from_mnemonic("").err(),
            Some(WalletError::WrongWordCount(0))
        );
    }

    #[test]
    fn twelve_words_work_too() {
        let twelve = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";
        assert!(secret_from_mnemonic(twelve).is_ok());
    }
}
