//! `cargo bench -p bbchain --bench reorg`: how long a master takes to store a competing branch of
//! N + 1 blocks and switch to it from its own N-block chain, through the same `Node::submit_blocks`
//! path a syncing peer uses (batches of 1,000, one commit each), on a dev chain in a temp dir.
//!
//! Two figures per length: storing the side branch's first N blocks (each batch costs a little more
//! as the database grows), and the switch itself, the one commit that detaches N blocks and
//! attaches N + 1. Linear cost means the switch at 5,000 takes about five times the one at 1,000.

use bbchain::config::NodeConfig;
use bbchain::node::{Node, SubmitOutcome};
use bbchain_core::testing::Branch;
use bbchain_core::{Block, ChainParams};
use std::time::{Duration, Instant};

const BATCH: usize = 1000;
const ROUNDS: usize = 5;

/// `count` blocks on `branch`, one second apart from `start`, named `miner`.
fn grow(branch: &mut Branch, count: u32, start: u32, miner: &str) -> Vec<Block> {
    (0..count)
        .map(|i| branch.extend(start + i, &[], miner))
        .collect()
}

/// Hands `blocks` to the node in batches; returns the last outcome and how long that took.
async fn submit(node: &Node, blocks: &[Block]) -> (Option<SubmitOutcome>, Duration) {
    let started = Instant::now();
    let mut last = None;
    for chunk in blocks.chunks(BATCH) {
        for result in node.submit_blocks(chunk.to_vec()).await {
            last = Some(result.expect("a valid block"));
        }
    }
    (last, started.elapsed())
}

/// One round: (storing our chain, storing the side branch but its last block, the switch its last
/// block causes).
async fn reorg(length: u32) -> (Duration, Duration, Duration) {
    let dir = tempfile::tempdir().expect("temp dir");
    let params = ChainParams::dev();
    let start = bbchain::clock::unix_now() - 2 * length - 100;
    let mut main = Branch::new(params.clone());
    let mut side = main.clone();
    let ours = grow(&mut main, length, start, "ours");
    let theirs = grow(&mut side, length + 1, start, "theirs");
    let config = NodeConfig::new(params, dir.path().join("chain.redb"));
    let (node, task) = Node::start(config).expect("node");
    let (_, main_time) = submit(&node, &ours).await;
    let (stored, store_time) = submit(&node, &theirs[..length as usize]).await;
    assert!(matches!(stored, Some(SubmitOutcome::SideBranch { .. })));
    let (switched, switch_time) = submit(&node, &theirs[length as usize..]).await;
    assert!(matches!(switched, Some(SubmitOutcome::Connected { .. })));
    assert_eq!(node.snapshot().tip, side.tip().block_hash());
    drop(node);
    tokio::task::spawn_blocking(move || task.shutdown())
        .await
        .expect("shutdown");
    (main_time, store_time, switch_time)
}

fn median(mut times: Vec<Duration>) -> f64 {
    times.sort();
    times[times.len() / 2].as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() {
    let mut switches = Vec::new();
    for length in [1000u32, 5000] {
        let (mut ours, mut store, mut switch) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            let (main_time, stored, switched) = reorg(length).await;
            ours.push(main_time);
            store.push(stored);
            switch.push(switched);
        }
        let (ours, store, switch) = (median(ours), median(store), median(switch));
        println!(
            "{length} blocks: our chain stored in {ours:.1} ms, the side branch in {store:.1} ms, \
             the switch (detach {length}, attach {}) {switch:.1} ms; medians of {ROUNDS}",
            length + 1
        );
        switches.push(switch);
    }
    println!(
        "switch time 5000 / 1000: {:.2} (linear: 5)",
        switches[1] / switches[0]
    );
}
