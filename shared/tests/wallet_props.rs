//! Property tests for amounts, keys, addresses and mnemonics: round trips hold, and arbitrary
//! input gives an error, never a panic.

use bbchain_core::address::{self, AddressError};
use bbchain_core::keys::{self, SecretKey};
use bbchain_core::wallet;
use bbchain_core::{Amount, ChainParams};
use proptest::prelude::*;

fn valid_amount() -> impl Strategy<Value = Amount> {
    prop_oneof![
        (0..=Amount::MAX_MONEY.units()).prop_map(Amount::from_units),
        (0..=1_000u64).prop_map(Amount::from_units),
        (0..=25_228_800u64).prop_map(|coins| Amount::from_units(coins * 100_000_000)),
    ]
}

fn secret_key() -> impl Strategy<Value = SecretKey> {
    any::<[u8; 32]>().prop_filter_map("a valid scalar", |bytes| SecretKey::from_bytes(bytes).ok())
}

proptest! {
    #[test]
    fn amount_display_parses_back(amount in valid_amount()) {
        let text = amount.to_string();
        prop_assert_eq!(text.parse::<Amount>(), Ok(amount));
        // Trimmed: no trailing zeros after a point, and no lone point.
        prop_assert!(!text.ends_with('.'));
        prop_assert!(!(text.contains('.') && text.ends_with('0')));
    }

    #[test]
    fn amount_parse_never_panics(text in "\\PC{0,30}") {
        if let Ok(amount) = text.parse::<Amount>() {
            prop_assert!(amount <= Amount::MAX_MONEY);
        }
    }

    #[test]
    fn amount_parse_of_decimals(whole in 0u64..25_228_800, fraction in 0u64..100_000_000) {
        let text = format!("{whole}.{fraction:08}");
        let amount = text.parse::<Amount>().unwrap();
        prop_assert_eq!(amount.units(), whole * 100_000_000 + fraction);
    }

    #[test]
    fn checked_sum_matches_wide_arithmetic(units in proptest::collection::vec(any::<u64>(), 0..5)) {
        let wide: u128 = units.iter().map(|&u| u128::from(u)).sum();
        let sum = Amount::checked_sum(units.iter().copied().map(Amount::from_units));
        if wide <= u128::from(Amount::MAX_MONEY.units()) {
            prop_assert_eq!(sum.map(|a| u128::from(a.units())), Some(wide));
        } else {
            prop_assert_eq!(sum, None);
        }
    }

    #[test]
    fn address_round_trips_for_random_keys(secret in secret_key()) {
        let key = secret.public_key();
        for params in [ChainParams::main(), ChainParams::dev()] {
            let text = address::encode(&key, &params);
            prop_assert_eq!(address::decode(&text, &params), Ok(key));
            prop_assert_eq!(address::decode(&text.to_uppercase(), &params), Ok(key));
        }
    }

    #[test]
    fn address_decode_never_panics(text in "\\PC{0,100}") {
        let _ = address::decode(&text, &ChainParams::main());
    }

    #[test]
    fn address_decode_never_panics_near_addresses(
        secret in secret_key(),
        position in 0usize..61,
        replacement in "[qpzry9x8gf2tvdw0s3jn54khce6mua7lQPZRY9X8GF2TVDW0S3JN54KHCE6MUA7Lbio1 ]",
    ) {
        let address = address::encode(&secret.public_key(), &ChainParams::main());
        let mut chars: Vec<char> = address.chars().collect();
        chars[position] = replacement.chars().next().unwrap();
        let typo: String = chars.into_iter().collect();
        match address::decode(&typo, &ChainParams::main()) {
            Ok(key) => prop_assert!(typo == address || key == secret.public_key()),
            Err(AddressError::WrongNetwork { .. }) => prop_assert!(false, "{typo}"),
            Err(_) => {}
        }
    }
}

proptest! {
    // Signing and PBKDF2 (2048 rounds of SHA-512) are slow in debug builds: fewer cases.
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn signatures_verify_for_their_key_only(
        secret in secret_key(),
        other in secret_key(),
        msg in any::<[u8; 32]>(),
        aux in any::<[u8; 32]>(),
    ) {
        let signature = secret.sign(&msg, &aux);
        prop_assert!(keys::verify(&secret.public_key(), &msg, &signature));
        if other.public_key() != secret.public_key() {
            prop_assert!(!keys::verify(&other.public_key(), &msg, &signature));
        }
    }

    #[test]
    fn every_mnemonic_restores(entropy in any::<[u8; 32]>()) {
        let phrase = wallet::new_mnemonic(&entropy);
        prop_assert_eq!(phrase.split(' ').count(), 24);
        prop_assert!(wallet::secret_from_mnemonic(&phrase).is_ok());
    }

    #[test]
    fn mnemonic_parse_never_panics(text in "\\PC{0,200}") {
        let _ = wallet::secret_from_mnemonic(&text);
    }
}
