//! `--new-wallet`, `--restore-wallet` and `--address`: the wallet file and the address it pays.

use crate::wallet_file;
use anyhow::Context;
use bbchain_core::keys::PublicKey;
use bbchain_core::{ChainParams, address, wallet};
use std::io::Read;
use std::path::Path;
use zeroize::Zeroizing;

/// Creates a wallet from fresh OS randomness, prints its mnemonic once and its address.
pub fn create(path: &Path, params: &ChainParams) -> anyhow::Result<()> {
    refuse_existing(path)?;
    let mut entropy = Zeroizing::new([0u8; 32]);
    getrandom::fill(entropy.as_mut()).context("the system gave no randomness")?;
    let mnemonic = Zeroizing::new(wallet::new_mnemonic(&entropy));
    let key = wallet::secret_from_mnemonic(&mnemonic).context("deriving the new wallet's key")?;
    wallet_file::create(path, &mnemonic)?;
    println!("Created the wallet {}", path.display());
    println!(
        "Write these 24 words down, in order, and keep them secret: they are the only way to restore the wallet."
    );
    println!();
    println!("    {}", *mnemonic);
    println!();
    println!("address: {}", address::encode(&key.public_key(), params));
    Ok(())
}

/// Recreates a wallet from its mnemonic (`-` reads it from standard input, out of shell history).
pub fn restore(path: &Path, phrase: &str, params: &ChainParams) -> anyhow::Result<()> {
    let phrase = if phrase == "-" {
        let mut text = Zeroizing::new(String::new());
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read the words from standard input")?;
        text
    } else {
        Zeroizing::new(phrase.to_string())
    };
    let key = wallet::secret_from_mnemonic(&phrase).context("cannot restore the wallet")?;
    refuse_existing(path)?;
    // Stored in canonical form: lowercase words, single spaces.
    let canonical = Zeroizing::new(
        phrase
            .split_whitespace()
            .map(str::to_ascii_lowercase)
            .collect::<Vec<_>>()
            .join(" "),
    );
    wallet_file::create(path, &canonical)?;
    println!("Restored the wallet {}", path.display());
    println!("address: {}", address::encode(&key.public_key(), params));
    Ok(())
}

/// Prints the address of the wallet at `path`, alone on its line.
pub fn print_address(path: &Path, params: &ChainParams) -> anyhow::Result<()> {
    let key = wallet_file::load_wallet(path)?;
    println!("{}", address::encode(&key.public_key(), params));
    Ok(())
}

/// Says so before any work when the wallet would not be written anyway.
fn refuse_existing(path: &Path) -> anyhow::Result<()> {
    if path.exists() {
        return Err(wallet_file::WalletExists(path.to_path_buf()).into());
    }
    Ok(())
}

/// The key the miner's blocks pay: the wallet's at `path`. Without `--wallet` and without a
/// wallet at the default path, one is created there (the original README's
/// `bbchain --start-miner --nodes 127.0.0.1:8000` has no wallet step, and its rewards should not
/// go to nobody); a named `--wallet` that does not exist is an error.
pub fn miner_key(path: &Path, named: bool) -> anyhow::Result<PublicKey> {
    match wallet_file::load_wallet(path) {
        Ok(key) => Ok(key.public_key()),
        Err(err) if named || err.downcast_ref::<wallet_file::NoWallet>().is_none() => Err(err),
        Err(_) => create_for_miner(path),
    }
}

/// Creates the default wallet for the miner. Its words are not printed: a miner's output often goes
/// to a log file, and the wallet file itself holds them.
fn create_for_miner(path: &Path) -> anyhow::Result<PublicKey> {
    let mut entropy = Zeroizing::new([0u8; 32]);
    getrandom::fill(entropy.as_mut()).context("the system gave no randomness")?;
    let mnemonic = Zeroizing::new(wallet::new_mnemonic(&entropy));
    let key = wallet::secret_from_mnemonic(&mnemonic).context("deriving the new wallet's key")?;
    match wallet_file::create(path, &mnemonic) {
        Ok(()) => {}
        // Another miner made it first: pay that one.
        Err(err) if err.downcast_ref::<wallet_file::WalletExists>().is_some() => {
            return Ok(wallet_file::load_wallet(path)?.public_key());
        }
        Err(err) => return Err(err),
    }
    tracing::info!(
        "no wallet yet: created {} for the mining rewards; back that file up, it holds the 24 words that restore the wallet (see its address with `bbchain --address`)",
        path.display()
    );
    Ok(key.public_key())
}
