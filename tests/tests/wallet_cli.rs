//! The wallet commands against the real binary: `--new-wallet`, `--restore-wallet`, `--address`.
//! Each test has its own data root (`BBCHAIN_DATA_DIR`), so the user's wallet is never touched.

use bbchain_e2e::bbchain_bin;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// BIP-39's test entropy 7f×32; its address is pinned in the core's tests and docs/protocol.md.
const PHRASE_7F: &str = "legal winner thank year wave sausage worth useful legal winner thank year wave sausage worth useful legal winner thank year wave sausage worth title";
const ADDRESS_7F: &str = "bb1evlnuq7athpl2sx27vnt7al5r2psaj99lnw7vyxpxugjcx4kf68qv5zj3h";

/// Runs bbchain with `data_root` as its data root.
fn run(data_root: &Path, args: &[&str]) -> Output {
    Command::new(bbchain_bin())
        .args(args)
        .env("BBCHAIN_DATA_DIR", data_root)
        .stdin(Stdio::null())
        .output()
        .expect("run bbchain")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn assert_success(output: &Output) {
    assert!(output.status.success(), "{}", stderr(output));
}

/// Fails with one line on stderr, no backtrace, non-zero exit.
fn assert_one_line_error(output: &Output, says: &str) {
    let err = stderr(output);
    assert!(!output.status.success(), "should fail: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(err.contains(says), "'{err}' should say '{says}'");
    assert!(!err.contains("panicked"), "{err}");
}

/// The `address: …` line of a create or restore.
fn printed_address(output: &Output) -> String {
    let out = stdout(output);
    out.lines()
        .find_map(|line| line.strip_prefix("address: "))
        .unwrap_or_else(|| panic!("no address line in {out}"))
        .to_string()
}

/// The 24-word line of `--new-wallet`.
fn printed_mnemonic(output: &Output) -> String {
    let out = stdout(output);
    out.lines()
        .map(str::trim)
        .find(|line| line.split(' ').count() == 24)
        .unwrap_or_else(|| panic!("no 24-word line in {out}"))
        .to_string()
}

#[test]
fn new_wallet_is_private_printed_once_and_never_overwritten() {
    let root = tempfile::tempdir().unwrap();
    let created = run(root.path(), &["--new-wallet"]);
    assert_success(&created);
    let out = stdout(&created);
    assert!(out.contains("Write these 24 words down"), "{out}");
    let mnemonic = printed_mnemonic(&created);
    let address = printed_address(&created);
    assert!(
        address.starts_with("bb1") && address.len() == 61,
        "{address}"
    );

    let path = root.path().join("wallet.json");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    let saved = std::fs::read_to_string(&path).unwrap();
    let json: serde_json::Value = serde_json::from_str(&saved).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"version": 1, "mnemonic": mnemonic})
    );

    // --address shows the same address, and only that: the words are printed once.
    let shown = run(root.path(), &["--address"]);
    assert_success(&shown);
    assert_eq!(stdout(&shown), format!("{address}\n"));

    let again = run(root.path(), &["--new-wallet"]);
    assert_one_line_error(&again, "a wallet already exists at");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), saved);
    let restore = run(root.path(), &["--restore-wallet", PHRASE_7F]);
    assert_one_line_error(&restore, "a wallet already exists at");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), saved);
}

#[test]
fn restore_gives_the_same_address_on_each_network() {
    let root = tempfile::tempdir().unwrap();
    let first = root.path().join("first.json");
    let created = run(
        root.path(),
        &["--new-wallet", "--wallet", first.to_str().unwrap()],
    );
    assert_success(&created);
    let mnemonic = printed_mnemonic(&created);

    let second = root.path().join("second.json");
    let restored = run(
        root.path(),
        &[
            "--restore-wallet",
            &mnemonic,
            "--wallet",
            second.to_str().unwrap(),
        ],
    );
    assert_success(&restored);
    assert_eq!(printed_address(&restored), printed_address(&created));
    let mode = std::fs::metadata(&second).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");

    let dev = run(
        root.path(),
        &[
            "--address",
            "--chain",
            "dev",
            "--wallet",
            second.to_str().unwrap(),
        ],
    );
    assert_success(&dev);
    let dev_address = stdout(&dev).trim().to_string();
    assert!(dev_address.starts_with("bbdev1"), "{dev_address}");
    // The same key: the data part is the same, only the prefix and checksum differ.
    let main_address = printed_address(&created);
    assert_eq!(dev_address[6..58], main_address[3..55]);

    // A known phrase gives the documented address, typed in any case.
    let known = run(
        root.path(),
        &["--restore-wallet", &PHRASE_7F.to_uppercase()],
    );
    assert_success(&known);
    assert_eq!(printed_address(&known), ADDRESS_7F);
    let saved = std::fs::read_to_string(root.path().join("wallet.json")).unwrap();
    assert!(saved.contains(PHRASE_7F), "stored in lowercase: {saved}");
}

#[test]
fn bad_phrases_are_refused_in_one_line_and_write_nothing() {
    let root = tempfile::tempdir().unwrap();
    let typo = PHRASE_7F.replacen("winner", "winnre", 1);
    assert_one_line_error(
        &run(root.path(), &["--restore-wallet", &typo]),
        "word 2, \"winnre\", is not in the BIP-39 English word list",
    );
    let swapped = PHRASE_7F.replacen("legal winner", "winner legal", 1);
    assert_one_line_error(
        &run(root.path(), &["--restore-wallet", &swapped]),
        "checksum",
    );
    assert_one_line_error(
        &run(root.path(), &["--restore-wallet", "legal winner thank"]),
        "has 3",
    );
    assert!(!root.path().join("wallet.json").exists());
}

#[test]
fn no_wallet_says_how_to_create_one() {
    let root = tempfile::tempdir().unwrap();
    assert_one_line_error(&run(root.path(), &["--address"]), "bbchain --new-wallet");
    assert_one_line_error(
        &run(root.path(), &["--address", "--chain", "moon"]),
        "unknown chain 'moon'",
    );
}
