//! `--new-wallet`, `--restore-wallet` and `--address`: the wallet file and the address it pays.

use crate::wallet_file;
use anyhow::Context;
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
