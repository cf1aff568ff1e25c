//! The native miner (`bbchain --start-miner`) against real dev-chain masters.

use bbchain_e2e::{DeadPort, Master, Process, http_get, run_bbchain, spawn_miner, wait_for};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::Value;
use std::collections::HashSet;
use std::time::Duration;

const PATIENCE: Duration = Duration::from_secs(90);

/// The main chain's blocks above genesis, newest first (up to 100).
fn mined_blocks(master: &Master) -> Vec<Value> {
    let (code, body) = http_get(&master.url("/api/blocks?limit=100"));
    assert_eq!(code, 200, "{body}");
    let blocks = body["blocks"].as_array().expect("blocks").clone();
    blocks
        .into_iter()
        .filter(|block| block["height"].as_u64() != Some(0))
        .collect()
}

/// Waits until the chain is at least `height` high, showing the miner's log on failure.
fn wait_for_height(master: &Master, miner: &Process, height: u64) {
    wait_for(PATIENCE, &format!("height {height}"), || {
        (master.height() >= height).then_some(())
    });
    assert!(!miner.log().is_empty(), "the miner says what it does");
}

/// Ctrl-C: the miner must exit by itself, successfully.
fn interrupt(miner: &mut Process) {
    let pid = miner.pid().expect("the miner runs");
    kill(Pid::from_raw(pid as i32), Signal::SIGINT).expect("send SIGINT");
    wait_for(
        Duration::from_secs(10),
        "the miner to exit on Ctrl-C",
        || (!miner.is_running()).then_some(()),
    );
}

fn duplicate_rejections(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|line| line.contains("rejected") && line.contains("duplicate"))
        .collect()
}

#[test]
fn a_miner_finds_blocks_the_master_accepts_under_its_name() {
    let master = Master::start(&[]);
    let mut miner = spawn_miner(&master.addr(), "e2e-solo");
    wait_for_height(&master, &miner, 3);

    let blocks = mined_blocks(&master);
    assert!(blocks.len() >= 3);
    for block in &blocks {
        assert_eq!(block["miner"], "e2e-solo", "{block}");
    }
    let (code, block) = http_get(&master.url("/api/blocks/1"));
    assert_eq!(code, 200);
    assert_eq!(block["coinbase"]["miner"], "e2e-solo");

    let log = miner.log();
    assert!(log.contains("accepted"), "a line per found block:\n{log}");
    interrupt(&mut miner);
    assert!(miner.log().contains("miner stopped"), "{}", miner.log());
}

#[test]
fn the_miner_fails_over_past_a_dead_master() {
    let master = Master::start(&[]);
    let dead = DeadPort::new();
    let nodes = format!("{},{}", dead.addr(), master.addr());
    let miner = spawn_miner(&nodes, "e2e-failover");
    wait_for_height(&master, &miner, 2);
    assert_eq!(mined_blocks(&master)[0]["miner"], "e2e-failover");
}

#[test]
fn the_miner_waits_for_a_master_and_resumes_after_a_restart() {
    let mut master = Master::start(&[]);
    master.kill();
    // Started while its master is down: it waits instead of failing.
    let mut miner = spawn_miner(&master.addr(), "e2e-patient");
    std::thread::sleep(Duration::from_secs(2));
    assert!(miner.is_running(), "{}", miner.log());

    master.restart();
    wait_for_height(&master, &miner, 2);

    master.kill();
    std::thread::sleep(Duration::from_secs(1));
    master.restart();
    let before = master.height();
    wait_for_height(&master, &miner, before + 2);
    assert!(miner.is_running());
    assert!(miner.log().contains("lost master"), "{}", miner.log());
}

#[test]
fn two_miners_on_one_master_never_hash_the_same_header() {
    let master = Master::start(&[]);
    let miner_a = spawn_miner(&master.addr(), "e2e-alice");
    let miner_b = spawn_miner(&master.addr(), "e2e-bob");

    // Each finds blocks of its own; the race for every height is real. (A coinbase whose name
    // would make it exactly 64 bytes gets a trailing space: "e2e-alice" does, with an address.)
    wait_for(PATIENCE, "blocks from both miners", || {
        let names: HashSet<String> = mined_blocks(&master)
            .iter()
            .filter_map(|block| {
                block["miner"]
                    .as_str()
                    .map(|name| name.trim_end().to_owned())
            })
            .collect();
        (names.contains("e2e-alice") && names.contains("e2e-bob")).then_some(())
    });
    let (code, nodes) = http_get(&master.url("/api/nodes"));
    assert_eq!(code, 200);
    let connected: HashSet<&str> = nodes["miners"]
        .as_array()
        .expect("miners")
        .iter()
        .filter_map(|miner| miner["name"].as_str())
        .collect();
    assert!(connected.is_superset(&HashSet::from(["e2e-alice", "e2e-bob"])));

    // Every block's coinbase is its own: no two share a miner and extra nonce.
    let mut coinbases = HashSet::new();
    for block in mined_blocks(&master) {
        let height = block["height"].as_u64().expect("height");
        let (code, full) = http_get(&master.url(&format!("/api/blocks/{height}")));
        assert_eq!(code, 200);
        let coinbase = &full["coinbase"];
        let key = (
            coinbase["miner"].to_string(),
            coinbase["extra_nonce"].to_string(),
        );
        assert!(
            coinbases.insert(key),
            "coinbase reused at height {height}: {coinbase}"
        );
    }

    for miner in [&miner_a, &miner_b] {
        let log = miner.log();
        assert!(duplicate_rejections(&log).is_empty(), "{log}");
    }
}

#[test]
fn a_name_too_long_for_a_coinbase_is_refused_in_one_line() {
    let long = "n".repeat(65);
    let output = run_bbchain(&["--start-miner", "--nodes", "127.0.0.1:1", "--name", &long]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let error: Vec<&str> = stderr.lines().filter(|l| l.contains("bbchain:")).collect();
    assert_eq!(error.len(), 1, "{stderr}");
    assert!(error[0].contains("64"), "{stderr}");
}

#[test]
fn the_benchmark_gives_each_path_the_chosen_one_and_ends_with_the_hashrate() {
    let output = run_bbchain(&["--benchmark", "--threads", "1"]);
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    // `path sha2: 20.12 MH/s (1 thread)` for each path this CPU runs; the two that run anywhere
    // are always there.
    let paths: Vec<&str> = stdout
        .lines()
        .filter_map(|line| line.strip_prefix("path "))
        .map(|rest| rest.split(':').next().unwrap())
        .collect();
    assert!(
        paths.contains(&"portable") && paths.contains(&"sha2"),
        "{stdout}"
    );
    let chosen = stdout
        .lines()
        .find_map(|line| line.strip_prefix("chosen path: "))
        .unwrap_or_else(|| panic!("no chosen path: {stdout}"));
    assert!(paths.contains(&chosen), "{stdout}");
    let last = stdout.lines().last().expect("output");
    let rate = last
        .strip_prefix("hashrate: ")
        .and_then(|rest| rest.strip_suffix(" H/s"))
        .and_then(|number| number.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("last line is not `hashrate: <n> H/s`: {stdout}"));
    assert!(rate > 0.0, "{stdout}");
}
