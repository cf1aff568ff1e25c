//! Coins through the command line: wallets, a miner paying one, `--balance`, `--send`, and the
//! supply adding up, across two masters.

use bbchain_core::ChainParams;
use bbchain_core::amount::Amount;
use bbchain_e2e::{Master, http_get, run_bbchain, spawn_bbchain, wait_for};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn assert_success(output: &Output) -> String {
    assert!(output.status.success(), "{}", stderr(output));
    stdout(output)
}

/// Fails with one line on stderr that says `says`, and a non-zero exit.
fn assert_one_line_error(output: &Output, says: &str) {
    let err = stderr(output);
    assert!(
        !output.status.success(),
        "should fail: {}{err}",
        stdout(output)
    );
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(err.contains(says), "'{err}' should say '{says}'");
}

/// A new dev-network wallet at `<dir>/<name>.json`, and its address.
fn new_wallet(dir: &Path, name: &str) -> (PathBuf, String) {
    let path = dir.join(format!("{name}.json"));
    let wallet = path.to_str().unwrap();
    let out = assert_success(&run_bbchain(&[
        "--new-wallet",
        "--wallet",
        wallet,
        "--chain",
        "dev",
    ]));
    let address = out
        .lines()
        .find_map(|line| line.strip_prefix("address: "))
        .unwrap_or_else(|| panic!("no address in {out}"))
        .to_string();
    (path, address)
}

/// What `--balance` prints: confirmed, immature and pending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Balance {
    confirmed: Amount,
    immature: Amount,
    pending: Amount,
}

impl Balance {
    fn total(self) -> u64 {
        self.confirmed.units() + self.immature.units() + self.pending.units()
    }
}

/// `--balance` of `who` (an address, or `--wallet FILE`) as `master` sees it.
fn balance(master: &Master, who: &[&str]) -> Balance {
    let addr = master.addr();
    let mut args = vec!["--balance"];
    args.extend(who);
    args.extend(["--nodes", &addr]);
    let out = assert_success(&run_bbchain(&args));
    let coins = |label: &str| -> Amount {
        let line = out
            .lines()
            .find_map(|line| line.strip_prefix(label))
            .unwrap_or_else(|| panic!("no {label} line in {out}"));
        let number = line.trim().strip_suffix(" coins").expect("in coins");
        number.parse().unwrap_or_else(|err| panic!("{line}: {err}"))
    };
    Balance {
        confirmed: coins("confirmed:"),
        immature: coins("immature:"),
        pending: coins("pending:"),
    }
}

fn wallet_args(path: &Path) -> [&str; 2] {
    ["--wallet", path.to_str().unwrap()]
}

fn units(value: &serde_json::Value) -> u64 {
    value
        .as_u64()
        .unwrap_or_else(|| panic!("{value} is no amount"))
}

/// The sum of the subsidies the blocks of `master`'s main chain took: each block's reward less the
/// fees of its transactions, checked against the chain's subsidy schedule.
fn mined_subsidies(master: &Master) -> u64 {
    let height = master.height();
    let params = ChainParams::dev();
    let mut total = 0;
    for h in 1..=height {
        let (code, block) = http_get(&master.url(&format!("/api/blocks/{h}")));
        assert_eq!(code, 200, "{block}");
        let fees: u64 = block["txs"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|tx| tx["coinbase"] != true)
            .map(|tx| units(&tx["fee"]))
            .sum();
        let subsidy = units(&block["reward"]) - fees;
        assert_eq!(subsidy, params.subsidy(h as u32).units(), "block {h}");
        total += subsidy;
    }
    total
}

#[test]
fn mine_to_a_send_to_b_and_the_supply_adds_up_on_both_masters() {
    let wallets = tempfile::tempdir().unwrap();
    let (wallet_a, address_a) = new_wallet(wallets.path(), "a");
    let (_, address_b) = new_wallet(wallets.path(), "b");
    let first = Master::start(&[]);
    let second = Master::start(&["--nodes", &first.addr()]);
    let mut miner = spawn_bbchain(&[
        "--start-miner",
        "--nodes",
        &first.addr(),
        "--threads",
        "1",
        "--wallet",
        wallet_a.to_str().unwrap(),
    ]);
    miner.wait_for_line(Duration::from_secs(30), |line| {
        line.contains(&format!("found blocks pay {address_a}"))
            .then_some(())
    });

    // Dev rewards mature after 5 blocks.
    let sent = Amount::from_units(25_000_000);
    wait_for(Duration::from_secs(60), "a mature reward for A", || {
        (balance(&first, &wallet_args(&wallet_a)).confirmed > sent).then_some(())
    });
    let output = run_bbchain(&[
        "--send",
        "0.25",
        "--to",
        &address_b,
        "--nodes",
        &first.addr(),
        "--wallet",
        wallet_a.to_str().unwrap(),
        "--wait-timeout",
        "60",
    ]);
    let out = assert_success(&output);
    let mut lines = out.lines();
    let txid = lines.next().unwrap().to_string();
    assert_eq!(txid.len(), 64, "{out}");
    let where_ = lines
        .next()
        .unwrap_or_else(|| panic!("no block line: {out}"));
    let height: u64 = where_.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(where_.starts_with("in block "), "{out}");
    let (code, tx) = http_get(&first.url(&format!("/api/tx/{txid}")));
    assert_eq!((code, &tx["status"]), (200, &"confirmed".into()), "{tx}");
    assert_eq!(tx["height"], height);

    // A fee under the node's minimum is the node's one-line refusal.
    let output = run_bbchain(&[
        "--send",
        "0.01",
        "--to",
        &address_b,
        "--fee",
        "0.00000001",
        "--nodes",
        &first.addr(),
        "--wallet",
        wallet_a.to_str().unwrap(),
    ]);
    assert_one_line_error(&output, "refused the transaction (400): fee too low");

    // The second master learns the block from the first.
    wait_for(
        Duration::from_secs(30),
        "B's coins on the second master",
        || {
            let b = balance(&second, &[&address_b]);
            (b.confirmed == sent).then_some(())
        },
    );
    let printed = stdout(&run_bbchain(&["--print", "--nodes", &second.addr()]));
    let line = printed
        .lines()
        .find(|line| line.split_whitespace().next() == Some(&height.to_string()))
        .unwrap_or_else(|| panic!("no block {height} in\n{printed}"));
    assert!(line.contains("1 tx,") || line.contains(", 1 tx "), "{line}");

    // Stop mining and let both masters settle on one tip before adding up.
    assert!(miner.stop(), "the miner stops cleanly");
    wait_for(Duration::from_secs(30), "the miner gone", || {
        (first.status()["miners"] == 0).then_some(())
    });
    let tip = first.status()["tip"].clone();
    wait_for(Duration::from_secs(30), "the same tip on both", || {
        (second.status()["tip"] == tip).then_some(())
    });
    let subsidies = mined_subsidies(&first);
    for master in [&first, &second] {
        let a = balance(master, &[&address_a]);
        let b = balance(master, &[&address_b]);
        assert_eq!(b.total(), sent.units(), "B has what A sent");
        assert_eq!(a.pending.units() + b.pending.units(), 0);
        let supply = units(&master.status()["supply"]);
        assert_eq!(
            a.total() + b.total(),
            supply,
            "balances add up to the supply"
        );
        assert_eq!(supply, subsidies, "the supply is the sum of the subsidies");
    }
    assert_eq!(
        balance(&first, &wallet_args(&wallet_a)),
        balance(&first, &[&address_a])
    );
}

#[test]
fn send_mistakes_are_one_line_errors() {
    let wallets = tempfile::tempdir().unwrap();
    let (wallet_c, _) = new_wallet(wallets.path(), "c");
    let (_, address_d) = new_wallet(wallets.path(), "d");
    let master = Master::start(&[]);
    let send = |amount: &str, to: &str| {
        run_bbchain(&[
            "--send",
            amount,
            "--to",
            to,
            "--nodes",
            &master.addr(),
            "--wallet",
            wallet_c.to_str().unwrap(),
        ])
    };
    assert_one_line_error(
        &send("1.5", &address_d),
        "not enough coins: this send needs 1.5",
    );
    assert_one_line_error(
        &send("1.5", &address_d),
        "0 is spendable (0 immature, 0 pending)",
    );
    // The same key on the main network.
    let main_out = assert_success(&run_bbchain(&[
        "--address",
        "--wallet",
        wallets.path().join("d.json").to_str().unwrap(),
    ]));
    let main_address = main_out.trim();
    assert_one_line_error(
        &send("1", main_address),
        "a main-network address (bb1…), but this is the dev network",
    );
    let mut typo = address_d.clone();
    let last = typo.pop().unwrap();
    typo.push(if last == 'q' { 'p' } else { 'q' });
    assert_one_line_error(&send("1", &typo), "has a typo");
    assert_one_line_error(&send("1.123456789", &address_d), "at most 8 decimals");
    assert_one_line_error(
        &run_bbchain(&["--balance", main_address, "--nodes", &master.addr()]),
        "bad address",
    );
    let dead = bbchain_e2e::DeadPort::new();
    assert_one_line_error(
        &run_bbchain(&["--balance", &address_d, "--nodes", &dead.addr()]),
        "cannot reach master",
    );
    let output = run_bbchain(&[
        "--send",
        "1",
        "--to",
        &address_d,
        "--nodes",
        &dead.addr(),
        "--wallet",
        wallet_c.to_str().unwrap(),
    ]);
    assert_one_line_error(&output, "cannot reach master");
}

#[test]
fn a_miner_without_a_wallet_makes_one_and_pays_it() {
    let master = Master::start(&[]);
    let root = tempfile::tempdir().unwrap();
    let root_arg = root.path().to_str().unwrap();
    // The original README's command, with a data root of its own.
    let miner = spawn_bbchain(&[
        "--start-miner",
        "--nodes",
        &master.addr(),
        "--threads",
        "1",
        "--data-dir",
        root_arg,
    ]);
    let paid = miner.wait_for_line(Duration::from_secs(30), |line| {
        line.strip_prefix("found blocks pay ").map(str::to_string)
    });
    let wallet = root.path().join("wallet.json");
    assert!(
        miner.log().contains("no wallet yet: created"),
        "{}",
        miner.log()
    );
    let address = assert_success(&run_bbchain(&[
        "--address",
        "--chain",
        "dev",
        "--wallet",
        wallet.to_str().unwrap(),
    ]));
    assert_eq!(address.trim(), paid);
    wait_for(Duration::from_secs(60), "coins for the new wallet", || {
        (balance(&master, &wallet_args(&wallet)).total() > 0).then_some(())
    });
}

#[test]
fn a_miner_with_a_missing_wallet_or_a_wrong_address_stops_in_one_line() {
    let master = Master::start(&[]);
    let root = tempfile::tempdir().unwrap();
    let missing = root.path().join("none.json");
    let output = run_bbchain(&[
        "--start-miner",
        "--nodes",
        &master.addr(),
        "--wallet",
        missing.to_str().unwrap(),
    ]);
    assert_one_line_error(&output, "create one with `bbchain --new-wallet`");
    assert!(!missing.exists());

    // A typo is one on every network: refused before any master is asked.
    let dead = bbchain_e2e::DeadPort::new();
    let typo = "bb1evlnuq7athpl2sx27vnt7al5r2psaj99lnw7vyxpxugjcx4kf68qv5zj3j";
    let output = run_bbchain(&["--start-miner", "-n", &dead.addr(), "--address", typo]);
    assert_one_line_error(&output, "has a typo");

    let main_address = "bb1evlnuq7athpl2sx27vnt7al5r2psaj99lnw7vyxpxugjcx4kf68qv5zj3h";
    let output = run_bbchain(&[
        "--start-miner",
        "--nodes",
        &master.addr(),
        "--threads",
        "1",
        "--address",
        main_address,
    ]);
    assert!(!output.status.success(), "{}", stderr(&output));
    let err = stderr(&output);
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("bbchain:")).collect();
    assert_eq!(errors.len(), 1, "{err}");
    assert!(errors[0].contains("a main-network address"), "{err}");
}
