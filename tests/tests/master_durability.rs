//! A master keeps every acknowledged entry and transaction, and a valid chain, through SIGTERM and
//! `kill -9`.

use bbchain_core::amount::Amount;
use bbchain_core::hash::Txid;
use bbchain_core::keys::SecretKey;
use bbchain_core::{ChainParams, OutPoint, Transaction, TxOut, address, testing};
use bbchain_e2e::{Master, http_get, http_post_json, spawn_bbchain, wait_for};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn add(master: &Master, text: &str) -> String {
    let (code, body) = http_post_json(&master.url("/api/data"), &json!({"data": text}));
    assert_eq!(code, 202, "{body}");
    body["id"].as_str().unwrap().to_string()
}

fn known(master: &Master, id: &str) -> Value {
    let (code, body) = http_get(&master.url(&format!("/api/data/{id}")));
    assert_eq!(code, 200, "entry {id} lost: {body}");
    body
}

/// Walks the main chain from the tip to genesis through the API: every block links to the next.
fn assert_chain_links(master: &Master) -> u64 {
    let height = master.height();
    let mut expected_hash = master.status()["tip"].as_str().unwrap().to_string();
    let mut before = height + 1;
    while before > 0 {
        let (code, page) = http_get(&master.url(&format!("/api/blocks?before={before}&limit=100")));
        assert_eq!(code, 200);
        for block in page["blocks"].as_array().unwrap() {
            assert_eq!(block["hash"].as_str().unwrap(), expected_hash);
            expected_hash = block["prev_hash"].as_str().unwrap().to_string();
            before = block["height"].as_u64().unwrap();
        }
    }
    height
}

#[test]
fn acknowledged_data_survives_kill_9() {
    let mut master = Master::start(&[]);
    let ids: Vec<String> = (0..200)
        .map(|i| add(&master, &format!("entry {i}")))
        .collect();
    master.kill();
    master.restart();
    for id in &ids {
        assert_eq!(known(&master, id)["status"], "pending");
    }
    assert_eq!(master.status()["pending"], 200);
}

#[test]
fn kill_9_while_mining_and_adding_keeps_a_valid_chain_and_every_entry() {
    let mut master = Master::start(&[]);
    let mut miner = spawn_bbchain(&["--start-miner", "--nodes", &master.addr(), "--threads", "1"]);
    let mut ids = Vec::new();
    for round in 0..3 {
        for i in 0..50 {
            ids.push(add(&master, &format!("round {round} entry {i}")));
        }
        wait_for(Duration::from_secs(60), "some blocks", || {
            (master.height() > 2 * round as u64).then_some(())
        });
        master.kill();
        master.restart();
        assert_chain_links(&master);
        for id in &ids {
            let status = known(&master, id)["status"].as_str().unwrap().to_string();
            assert!(status == "pending" || status == "confirmed");
        }
    }
    // The miner reconnects and everything gets mined.
    wait_for(Duration::from_secs(90), "every entry confirmed", || {
        ids.iter()
            .all(|id| known(&master, id)["status"] == "confirmed")
            .then_some(())
    });
    miner.kill();
    // The master lists a miner until its feed task ends, which is after that task's last submit
    // was committed: only then is the height final.
    wait_for(
        Duration::from_secs(30),
        "the miner gone from the master",
        || (master.status()["miners"] == 0).then_some(()),
    );
    let before = master.height();
    assert!(master.stop(), "SIGTERM: clean exit");
    master.restart();
    assert_eq!(master.height(), before);
    assert_chain_links(&master);
}

/// POST without panicking: `Some(id)` only when the master acknowledged with 202.
fn try_add(url: &str, text: &str) -> Option<String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(5)))
        .build()
        .into();
    let mut response = agent.post(url).send_json(json!({"data": text})).ok()?;
    if response.status() != 202 {
        return None;
    }
    let body: Value = serde_json::from_str(&response.body_mut().read_to_string().ok()?).ok()?;
    body["id"].as_str().map(str::to_string)
}

#[test]
fn kill_9_in_the_middle_of_concurrent_adds_loses_nothing_acknowledged() {
    let mut master = Master::start(&[]);
    let url = master.url("/api/data");
    let writers: Vec<_> = (0..4)
        .map(|writer| {
            let url = url.clone();
            std::thread::spawn(move || {
                let mut acknowledged = Vec::new();
                for i in 0.. {
                    match try_add(&url, &format!("writer {writer} entry {i}")) {
                        Some(id) => acknowledged.push(id),
                        None => return acknowledged,
                    }
                }
                acknowledged
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    master.kill();
    let acknowledged: Vec<String> = writers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    assert!(acknowledged.len() > 10, "the writers got going");
    master.restart();
    for id in &acknowledged {
        assert_eq!(known(&master, id)["status"], "pending");
    }
}

/// The mature block rewards of `key` on `master`, as spent outputs.
fn mature_coins(master: &Master, key: &SecretKey) -> Vec<(OutPoint, TxOut)> {
    let text = address::encode(&key.public_key(), &ChainParams::dev());
    let (code, info) = http_get(&master.url(&format!("/api/address/{text}")));
    assert_eq!(code, 200, "{info}");
    info["utxos"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|utxo| utxo["mature"] == true && utxo["spent_by"].is_null())
        .map(|utxo| {
            let txid: Txid = utxo["txid"].as_str().unwrap().parse().unwrap();
            let prev = OutPoint {
                txid,
                vout: utxo["vout"].as_u64().unwrap() as u32,
            };
            let value = Amount::from_units(utxo["value"].as_u64().unwrap());
            let output = TxOut {
                value,
                key: key.public_key(),
            };
            (prev, output)
        })
        .collect()
}

/// POST a transaction without panicking: `Some(txid)` only when the master acknowledged it (202).
fn try_send(url: &str, tx: &Transaction) -> Option<String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(5)))
        .build()
        .into();
    let hex: String = tx.to_bytes().iter().map(|b| format!("{b:02x}")).collect();
    let body = json!({"tx": hex});
    let mut response = agent.post(url).send_json(body).ok()?;
    if response.status() != 202 {
        return None;
    }
    let body: Value = serde_json::from_str(&response.body_mut().read_to_string().ok()?).ok()?;
    body["txid"].as_str().map(str::to_string)
}

#[test]
fn kill_9_with_transactions_in_flight_loses_none_acknowledged() {
    let mut master = Master::start(&[]);
    let params = ChainParams::dev();
    let (key, payee) = (
        SecretKey::from_bytes([7; 32]).unwrap(),
        SecretKey::from_bytes([8; 32]).unwrap().public_key(),
    );
    let paid = address::encode(&key.public_key(), &params);
    let mut miner = spawn_bbchain(&[
        "--start-miner",
        "--nodes",
        &master.addr(),
        "--threads",
        "1",
        "--address",
        &paid,
    ]);
    let coins = wait_for(Duration::from_secs(90), "100 mature rewards", || {
        let coins = mature_coins(&master, &key);
        (coins.len() >= 100).then_some(coins)
    });
    miner.kill();
    // Each transaction spends one reward; the fee covers 1 unit per byte with room to spare.
    let fee = Amount::from_units(1_000);
    let txs: Vec<Transaction> = coins
        .iter()
        .map(|(prev, output)| {
            let pay = TxOut {
                value: output.value.checked_sub(fee).unwrap(),
                key: payee,
            };
            testing::signed_tx(&params, &key, &[(*prev, *output)], vec![pay])
        })
        .collect();
    let url = master.url("/api/tx");
    // A first batch, every one acknowledged before the kill.
    let batch: Vec<String> = txs[..20]
        .iter()
        .map(|tx| try_send(&url, tx).expect("acknowledged"))
        .collect();
    // Then four writers, killed mid-flight.
    let queue = Arc::new(Mutex::new(txs[20..].to_vec()));
    let writers: Vec<_> = (0..4)
        .map(|_| {
            let (url, queue) = (url.clone(), queue.clone());
            std::thread::spawn(move || {
                let mut acknowledged = Vec::new();
                while let Some(tx) = queue.lock().unwrap().pop() {
                    match try_send(&url, &tx) {
                        Some(txid) => acknowledged.push(txid),
                        None => break,
                    }
                }
                acknowledged
            })
        })
        .collect();
    // Kill as soon as the writers are under way (a tight poll: they are quick).
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while queue.lock().unwrap().len() > txs.len() - 30 {
        assert!(
            std::time::Instant::now() < deadline,
            "the writers never started"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    master.kill();
    let in_flight: Vec<String> = writers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    master.restart();
    for txid in batch.iter().chain(&in_flight) {
        let (code, body) = http_get(&master.url(&format!("/api/tx/{txid}")));
        assert_eq!(code, 200, "transaction {txid} lost: {body}");
        let status = body["status"].as_str().unwrap();
        assert!(status == "pending" || status == "confirmed", "{body}");
    }
    let kept = master.status()["mempool"]["txs"].as_u64().unwrap();
    assert!(
        kept as usize >= batch.len() + in_flight.len(),
        "{kept} in the mempool"
    );
}
