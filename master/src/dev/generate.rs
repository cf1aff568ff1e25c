//! `bbchain --chain dev --port P --data-dir D --generate N`: a hidden dev and benchmark command that
//! mines N valid blocks onto the stopped master's chain, straight through the normal chain writer.
//!
//! Block times are one target spacing apart and end now, so ASERT keeps `bits` where they are (at
//! the pow limit on a fresh `dev` chain, where a block takes a couple of hashes) and every block
//! passes the same validation as any other. It builds long chains fast for sync tests and the sync
//! benchmark; it is useless on `main`, where every block costs real work.

use crate::clock::unix_now;
use crate::config::NodeConfig;
use crate::node::{Node, SubmitOutcome};
use crate::peer::headers::HeaderTrail;
use crate::peer::headers::trail_at;
use anyhow::{Context, bail};
use bbchain_core::{Block, ChainParams, testing};
use std::time::Instant;

/// Blocks handed to the writer per commit.
const BATCH: usize = 1000;

/// Opens the node of `config`, adds `count` blocks to its main chain, and stops it.
pub async fn run(config: NodeConfig, count: u32) -> anyhow::Result<()> {
    let (node, task) = Node::start(config)?;
    let result = generate(&node, count).await;
    tokio::task::spawn_blocking(move || task.shutdown()).await?;
    result
}

async fn generate(node: &Node, count: u32) -> anyhow::Result<()> {
    let params = node.params().clone();
    let snapshot = node.snapshot();
    let mut trail = trail_at(node, &snapshot.tip)?.context("the tip is not stored")?;
    let spacing = params.target_spacing;
    let span = count.saturating_sub(1).saturating_mul(spacing);
    let first = unix_now()
        .saturating_sub(span)
        .max(snapshot.tip_time.saturating_add(spacing));
    let started = Instant::now();
    let mut batch = Vec::with_capacity(BATCH);
    for i in 0..count {
        let block = mine_child(&mut trail, &params, first + i * spacing, "generate");
        trail
            .push(&block.header, &params, u32::MAX)
            .context("a generated block is invalid")?;
        batch.push(block);
        if batch.len() == BATCH || i + 1 == count {
            for result in node.submit_blocks(std::mem::take(&mut batch)).await {
                match result {
                    Ok(SubmitOutcome::Connected { .. }) => {}
                    Ok(other) => bail!("a generated block did not extend the chain: {other:?}"),
                    Err(err) => bail!("a generated block was refused: {err}"),
                }
            }
        }
    }
    let snapshot = node.snapshot();
    println!(
        "generated {count} blocks in {:.1} s: height {}, tip {}",
        started.elapsed().as_secs_f64(),
        snapshot.height,
        snapshot.tip
    );
    Ok(())
}

/// A valid child of the trail's end with this time and miner name, its nonce found by the core's
/// scan (a few hashes at the dev chain's pow limit).
pub fn mine_child(trail: &mut HeaderTrail, params: &ChainParams, time: u32, miner: &str) -> Block {
    let entries = vec![testing::coinbase(trail.height + 1, miner)];
    let mut block = testing::block_with(trail.hash, entries, trail.next_bits(params), time);
    testing::solve(&mut block);
    block
}
