//! The wallet file: `{"version":1,"mnemonic":"word word …"}`, readable by its owner only (0600).
//!
//! It keeps the mnemonic, not the key, so the file and the words the user wrote down are the same
//! backup; the key is derived on every load (`bbchain_core::wallet`).

use anyhow::Context;
use bbchain_core::keys::SecretKey;
use bbchain_core::wallet;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// The format version this code writes and reads.
const VERSION: u32 = 1;

/// The wallet's file name in the data root.
const FILE_NAME: &str = "wallet.json";

/// No wallet file where one was looked for; the message says how to make one. Callers (the miner's
/// payout, `--send`) can downcast to it.
#[derive(Debug, thiserror::Error)]
#[error(
    "no wallet at {}: create one with `bbchain --new-wallet`, or restore one with `bbchain --restore-wallet \"word word …\"`",
    .0.display()
)]
pub struct NoWallet(pub PathBuf);

/// A wallet file already exists where one would be written.
#[derive(Debug, thiserror::Error)]
#[error(
    "a wallet already exists at {}; not overwriting it (move it away, or give another --wallet FILE)",
    .0.display()
)]
pub struct WalletExists(pub PathBuf);

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WalletJson {
    version: u32,
    mnemonic: String,
}

/// `--wallet FILE`, else `<data root>/wallet.json`.
pub fn wallet_path(data_root: &Path, wallet: Option<&Path>) -> PathBuf {
    wallet.map_or_else(|| data_root.join(FILE_NAME), Path::to_path_buf)
}

/// Writes a new wallet file holding `mnemonic` (which must be valid), created with mode 0600 so
/// it is never readable by others, not even for a moment. Refuses to replace any existing file.
pub fn create(path: &Path, mnemonic: &str) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the folder {}", dir.display()))?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|err| match err.kind() {
            std::io::ErrorKind::AlreadyExists => WalletExists(path.to_path_buf()).into(),
            _ => anyhow::Error::new(err).context(format!("cannot create {}", path.display())),
        })?;
    let json = Zeroizing::new(
        serde_json::to_string(&WalletJson {
            version: VERSION,
            mnemonic: mnemonic.to_string(),
        })
        .expect("a wallet serializes"),
    );
    let written = file
        .write_all(json.as_bytes())
        .and_then(|()| file.write_all(b"\n"))
        .and_then(|()| file.sync_all());
    if let Err(err) = written {
        // A half-written wallet would block the next try and restore nothing.
        let _ = std::fs::remove_file(path);
        return Err(anyhow::Error::new(err).context(format!("cannot write {}", path.display())));
    }
    Ok(())
}

/// The mnemonic in the wallet file at `path`, checked.
pub fn load_mnemonic(path: &Path) -> anyhow::Result<Zeroizing<String>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => Zeroizing::new(text),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            return Err(NoWallet(path.to_path_buf()).into());
        }
        Err(err) => {
            return Err(anyhow::Error::new(err).context(format!("cannot read {}", path.display())));
        }
    };
    let parsed: WalletJson = serde_json::from_str(&text)
        .map_err(|_| anyhow::anyhow!("{} is not a bbchain wallet file", path.display()))?;
    let mnemonic = Zeroizing::new(parsed.mnemonic);
    anyhow::ensure!(
        parsed.version == VERSION,
        "the wallet {} has version {}; this bbchain reads version {VERSION}",
        path.display(),
        parsed.version
    );
    wallet::secret_from_mnemonic(&mnemonic)
        .with_context(|| format!("the wallet {} holds a bad mnemonic", path.display()))?;
    Ok(mnemonic)
}

/// The wallet's secret key, from the wallet file at `path`.
pub fn load_wallet(path: &Path) -> anyhow::Result<SecretKey> {
    let mnemonic = load_mnemonic(path)?;
    Ok(wallet::secret_from_mnemonic(&mnemonic)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    const PHRASE: &str = "legal winner thank year wave sausage worth useful legal winner thank year wave sausage worth useful legal winner thank year wave sausage worth title";

    #[test]
    fn a_created_wallet_loads_back_and_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/wallet.json");
        create(&path, PHRASE).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let key = load_wallet(&path).unwrap();
        let expected = wallet::secret_from_mnemonic(PHRASE).unwrap();
        assert_eq!(key.public_key(), expected.public_key());
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(json, serde_json::json!({"version": 1, "mnemonic": PHRASE}));
    }

    #[test]
    fn an_existing_file_is_never_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wallet.json");
        std::fs::write(&path, "precious").unwrap();
        let err = create(&path, PHRASE).unwrap_err();
        assert!(err.downcast_ref::<WalletExists>().is_some(), "{err:#}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "precious");
    }

    #[test]
    fn load_errors_say_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("none.json");
        let err = load_wallet(&missing).unwrap_err();
        assert!(err.downcast_ref::<NoWallet>().is_some());
        assert!(
            format!("{err:#}").contains("bbchain --new-wallet"),
            "{err:#}"
        );

        let garbage = dir.path().join("garbage.json");
        std::fs::write(&garbage, "{not json").unwrap();
        let err = format!("{:#}", load_wallet(&garbage).unwrap_err());
        assert!(err.ends_with("is not a bbchain wallet file"), "{err}");

        let future = dir.path().join("future.json");
        std::fs::write(&future, format!(r#"{{"version":2,"mnemonic":"{PHRASE}"}}"#)).unwrap();
        let err = format!("{:#}", load_wallet(&future).unwrap_err());
        assert!(err.contains("has version 2"), "{err}");

        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, r#"{"version":1,"mnemonic":"legal winner"}"#).unwrap();
        let err = format!("{:#}", load_wallet(&bad).unwrap_err());
        assert!(
            err.contains("holds a bad mnemonic") && err.contains("24 words"),
            "{err}"
        );
    }
}
