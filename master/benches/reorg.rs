//! `cargo bench -p bbchain --bench reorg`: how long a master takes to store a competing branch of
//! N + 1 blocks and switch to it from its own N-block chain, through the same `Node::submit_blocks`
//! path a syncing peer uses (batches of 1,000, one commit each), on a dev chain in a temp dir.
//! Linear cost means the 5,000-block figure is about five times the 1,000-block one.

use bbchain::config::NodeConfig;
use bbchain::node::{Node, SubmitOutcome};
use bbchain_core::testing::Branch;
use bbchain_core::{Block, ChainParams};
use std::time::{Duration, Instant};

const BATCH: usize = 1000;
const ROUNDS: usize = 3;

/// `count` blocks on `branch`, one second apart from `start`, named `miner`.
fn grow(branch: &mut Branch, count: u32, start: u32, miner: &str) -> Vec<Block> {
    (0..count)
        .map(|i| branch.extend(start + i, &[], miner))
        .collect()
}

async fn submit(node: &Node, blocks: Vec<Block>) -> Option<SubmitOutcome> {
    let mut last = None;
    for chunk in blocks.chunks(BATCH) {
        for result in node.submit_blocks(chunk.to_vec()).await {
            last = Some(result.expect("a valid block"));
        }
    }
    last
}

/// One round: the time to take a branch of `length + 1` blocks over a chain of `length`.
async fn reorg(length: u32) -> Duration {
    let dir = tempfile::tempdir().expect("temp dir");
    let params = ChainParams::dev();
    let start = bbchain::clock::unix_now() - 2 * length - 100;
    let mut main = Branch::new(params.clone());
    let mut side = main.clone();
    let ours = grow(&mut main, length, start, "ours");
    let theirs = grow(&mut side, length + 1, start, "theirs");
    let config = NodeConfig::new(params, dir.path().join("chain.redb"));
    let (node, task) = Node::start(config).expect("node");
    submit(&node, ours).await;
    let started = Instant::now();
    let outcome = submit(&node, theirs).await;
    let took = started.elapsed();
    assert!(matches!(outcome, Some(SubmitOutcome::Connected { .. })));
    assert_eq!(node.snapshot().tip, side.tip().block_hash());
    drop(node);
    tokio::task::spawn_blocking(move || task.shutdown())
        .await
        .expect("shutdown");
    took
}

#[tokio::main]
async fn main() {
    let mut medians = Vec::new();
    for length in [1000u32, 5000] {
        let mut times = Vec::new();
        for _ in 0..ROUNDS {
            times.push(reorg(length).await);
        }
        times.sort();
        let median = times[ROUNDS / 2];
        println!(
            "reorg of {length} blocks: median {:.3} s over {ROUNDS} rounds ({:.0} blocks/s)",
            median.as_secs_f64(),
            f64::from(2 * length + 1) / median.as_secs_f64()
        );
        medians.push(median.as_secs_f64());
    }
    println!(
        "5000 / 1000 time ratio: {:.2} (linear: 5)",
        medians[1] / medians[0]
    );
}
