//! A partition heals: two masters mine apart, each with its own data, then a third links them. Every
//! master ends on the same tip (most work), and every entry accepted on either side is in the final
//! chain exactly once.

use bbchain_e2e::{Master, http_get, http_post_json, wait_for};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

fn add(master: &Master, text: &str) -> String {
    let (code, body) = http_post_json(&master.url("/api/data"), &json!({ "data": text }));
    assert_eq!(code, 202, "{body}");
    body["id"].as_str().expect("id").to_string()
}

fn confirmed(master: &Master, id: &str) -> bool {
    let (code, body) = http_get(&master.url(&format!("/api/data/{id}")));
    code == 200 && body["status"] == "confirmed"
}

fn masters_of(master: &Master) -> Vec<Value> {
    http_get(&master.url("/api/nodes")).1["masters"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// How many times each data text appears in the master's main chain.
fn chain_texts(master: &Master) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    let mut before = master.height() + 1;
    while before > 0 {
        let (code, page) = http_get(&master.url(&format!("/api/blocks?before={before}&limit=100")));
        assert_eq!(code, 200, "{page}");
        let blocks = page["blocks"].as_array().expect("blocks").clone();
        for block in &blocks {
            if block["entries"].as_u64().unwrap_or(0) == 0 {
                continue;
            }
            let hash = block["hash"].as_str().expect("hash");
            let (code, detail) = http_get(&master.url(&format!("/api/blocks/{hash}")));
            assert_eq!(code, 200, "{detail}");
            for entry in detail["data"].as_array().expect("data") {
                let text = entry["text"].as_str().expect("text").to_string();
                *counts.entry(text).or_insert(0) += 1;
            }
        }
        before = match blocks.last() {
            Some(last) => last["height"].as_u64().expect("height"),
            None => 0,
        };
    }
    counts
}

#[test]
fn a_healed_partition_ends_on_one_chain_with_every_entry_once() {
    let a = Master::start(&[]);
    let c = Master::start(&[]);
    let mut miner_a = a.miner("miner-a");
    let mut miner_c = c.miner("miner-c");

    // Apart: each side mines its own data, and one entry is added on both sides.
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push((add(&a, &format!("from A #{i}")), &a));
        ids.push((add(&c, &format!("from C #{i}")), &c));
    }
    ids.push((add(&a, "added on both sides"), &a));
    ids.push((add(&c, "added on both sides"), &c));
    for (id, master) in &ids {
        wait_for(Duration::from_secs(60), "data mined on its side", || {
            confirmed(master, id).then_some(())
        });
    }
    wait_for(Duration::from_secs(60), "20 blocks on each side", || {
        (a.height() >= 20 && c.height() >= 20).then_some(())
    });
    miner_a.kill();
    miner_c.kill();
    assert_ne!(a.status()["tip"], c.status()["tip"], "the sides forked");

    // Heal: B links A and C; A and C learn of each other through B's peer list.
    let b = Master::start(&["--nodes", &format!("{},{}", a.addr(), c.addr())]);
    wait_for(Duration::from_secs(30), "A and C to link directly", || {
        (masters_of(&a).contains(&json!(c.addr())) && masters_of(&c).contains(&json!(a.addr())))
            .then_some(())
    });
    assert_eq!(b.status()["peers"], 2);

    // A few blocks on top settle ties and mine the entries the losing side gave back.
    let mut miner_b = b.miner("miner-b");
    for (id, _) in &ids {
        wait_for(
            Duration::from_secs(90),
            "every entry in the joint chain",
            || [&a, &b, &c].iter().all(|m| confirmed(m, id)).then_some(()),
        );
    }
    miner_b.kill();
    wait_for(Duration::from_secs(30), "one tip on every master", || {
        let tips: Vec<Value> = [&a, &b, &c]
            .iter()
            .map(|m| m.status()["tip"].clone())
            .collect();
        (tips[0] == tips[1] && tips[1] == tips[2]).then_some(())
    });

    let texts = chain_texts(&b);
    let mut expected: Vec<String> = (0..3)
        .flat_map(|i| [format!("from A #{i}"), format!("from C #{i}")])
        .collect();
    expected.push("added on both sides".into());
    for text in &expected {
        assert_eq!(
            texts.get(text),
            Some(&1),
            "{text:?} in the chain: {texts:?}"
        );
    }
    assert_eq!(texts.len(), expected.len(), "{texts:?}");
}
