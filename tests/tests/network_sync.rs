//! Masters in a network: the README's two-master setup, and a master joining late catching up a
//! long chain. Real `bbchain` processes on loopback.

use bbchain_e2e::{Master, http_get, http_post_json, linked_masters, run_bbchain, wait_for};
use serde_json::{Value, json};
use std::time::Duration;

fn add(master: &Master, text: &str) -> String {
    let (code, body) = http_post_json(&master.url("/api/data"), &json!({ "data": text }));
    assert_eq!(code, 202, "{body}");
    body["id"].as_str().expect("id").to_string()
}

fn confirmed(master: &Master, id: &str) -> Option<Value> {
    let (code, body) = http_get(&master.url(&format!("/api/data/{id}")));
    (code == 200 && body["status"] == "confirmed").then_some(body)
}

#[test]
fn two_masters_share_one_chain_and_their_data() {
    let first = Master::start(&[]);
    let second = Master::start(&["--nodes", &first.addr()]);

    // Linked both ways: /api/nodes and /api/status show it.
    wait_for(Duration::from_secs(20), "the masters to link", || {
        (linked_masters(&first) == [second.addr()] && linked_masters(&second) == [first.addr()])
            .then_some(())
    });
    assert_eq!(second.status()["peers"], 1);
    assert_eq!(first.status()["peers"], 1);

    // The README flow: a miner on the first, data added on the first, printed from the second.
    let mut mining = first.miner("readme-miner");
    let out = run_bbchain(&["--nodes", &first.addr(), "--add", "Some data"]);
    assert!(out.status.success(), "{out:?}");
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    wait_for(
        Duration::from_secs(60),
        "the data in the second's chain",
        || confirmed(&second, &id),
    );
    let printed = run_bbchain(&["--print", "--nodes", &second.addr()]);
    assert!(printed.status.success(), "{printed:?}");
    let text = String::from_utf8_lossy(&printed.stdout);
    assert!(text.contains("\"Some data\""), "{text}");
    assert!(text.contains("readme-miner"), "{text}");

    // Data added on the second is gossiped and mined by the first's miner.
    let id = add(&second, "added on the second master");
    let on_first = wait_for(Duration::from_secs(60), "the second's data mined", || {
        confirmed(&first, &id)
    });
    wait_for(Duration::from_secs(20), "the block on the second", || {
        confirmed(&second, &id).filter(|b| b["block"] == on_first["block"])
    });

    mining.kill();
    wait_for(Duration::from_secs(20), "one tip on both", || {
        let (a, b) = (first.status(), second.status());
        (a["tip"] == b["tip"]).then_some(())
    });

    // A linked master still stops cleanly on SIGTERM, and its peer notices.
    let mut second = second;
    assert!(second.stop(), "{}", second.process.log());
    wait_for(Duration::from_secs(20), "the link to drop", || {
        (first.status()["peers"] == 0).then_some(())
    });
}

/// A master holding a `count`-block chain made with the hidden `--generate` command.
fn master_with_chain(count: u32) -> Master {
    let mut master = Master::start(&[]);
    assert!(master.stop());
    let port = master.port.to_string();
    let data_dir = master.data_dir().to_str().expect("utf-8").to_string();
    let count = count.to_string();
    let out = run_bbchain(&[
        "--chain",
        "dev",
        "--port",
        &port,
        "--data-dir",
        &data_dir,
        "--generate",
        &count,
    ]);
    assert!(out.status.success(), "{out:?}");
    master.restart();
    master
}

/// `GET /api/sync`: how many blocks a master downloaded from peers, and how many came twice.
fn downloads_of(master: &Master) -> (u64, u64) {
    let (code, body) = http_get(&master.url("/api/sync"));
    assert_eq!(code, 200, "{body}");
    let count = |field: &str| body[field].as_u64().expect(field);
    (
        count("blocks_downloaded"),
        count("blocks_received_duplicate"),
    )
}

#[test]
fn a_late_master_catches_up_a_long_chain() {
    let first = master_with_chain(10_000);
    assert_eq!(first.height(), 10_000);
    let tip = first.status()["tip"].clone();

    let late = Master::start(&["--nodes", &first.addr()]);
    wait_for(
        Duration::from_secs(120),
        "the late master at the tip",
        || (late.status()["tip"] == tip).then_some(()),
    );
    assert_eq!(late.height(), 10_000);
    // Every block is there, not just the tip: compare a block deep in the chain.
    let (code, deep) = http_get(&late.url("/api/blocks/1234"));
    assert_eq!(code, 200, "{deep}");
    assert_eq!(deep, http_get(&first.url("/api/blocks/1234")).1);
    let log = late.process.log();
    assert!(
        log.contains("sync from"),
        "no sync progress in the log:\n{log}"
    );
    assert_eq!(downloads_of(&late), (10_000, 0));
}

#[test]
fn a_late_master_syncing_from_three_peers_downloads_each_block_once() {
    const BLOCKS: u64 = 8_000;
    let first = master_with_chain(BLOCKS as u32);
    let tip = first.status()["tip"].clone();
    let second = Master::start(&["--nodes", &first.addr()]);
    let third = Master::start(&["--nodes", &first.addr()]);
    for master in [&second, &third] {
        wait_for(Duration::from_secs(120), "a peer at the tip", || {
            (master.status()["tip"] == tip).then_some(())
        });
    }

    let nodes = [first.addr(), second.addr(), third.addr()].join(",");
    let late = Master::start(&["--nodes", &nodes]);
    wait_for(
        Duration::from_secs(120),
        "the late master at the tip",
        || (late.status()["tip"] == tip).then_some(()),
    );
    assert_eq!(late.height(), BLOCKS);
    let (code, deep) = http_get(&late.url("/api/blocks/4321"));
    assert_eq!(code, 200, "{deep}");
    assert_eq!(deep, http_get(&first.url("/api/blocks/4321")).1);
    assert_eq!(
        downloads_of(&late),
        (BLOCKS, 0),
        "each block downloaded once:\n{}",
        late.process.log()
    );
}

#[test]
fn a_link_comes_back_after_a_restart_and_brings_waiting_data() {
    let mut first = Master::start(&[]);
    let second = Master::start(&["--nodes", &first.addr()]);
    wait_for(Duration::from_secs(20), "the masters to link", || {
        (second.status()["peers"] == 1).then_some(())
    });

    first.kill();
    wait_for(Duration::from_secs(20), "the link to drop", || {
        (second.status()["peers"] == 0).then_some(())
    });
    // Queued while apart, on a master without miners.
    let id = add(&second, "waiting while the other master was down");

    first.restart();
    wait_for(Duration::from_secs(30), "the second to dial again", || {
        (linked_masters(&second) == [first.addr()]).then_some(())
    });
    let mut mining = first.miner("after-restart");
    let block = wait_for(Duration::from_secs(60), "the waiting data mined", || {
        confirmed(&first, &id)
    });
    wait_for(Duration::from_secs(20), "the second to have it too", || {
        confirmed(&second, &id).filter(|b| b["block"] == block["block"])
    });
    mining.kill();
    wait_for(Duration::from_secs(20), "one tip on both", || {
        (first.status()["tip"] == second.status()["tip"]).then_some(())
    });
}
