//! `bbchain --chain dev --port P --data-dir D --generate N`: a hidden dev and benchmark command that
//! mines N valid blocks onto the stopped master's chain, straight through the normal chain writer.
//!
//! Block times are one target spacing apart and end now, so ASERT keeps `bits` where they are (at
//! the pow limit on a fresh `dev` chain, where a block takes a couple of hashes) and every block
//! passes the same validation as any other. It builds long chains fast for sync tests and the sync
//! benchmark; it is useless on `main`, where every block costs real work.

use super::headers::HeaderTrail;
use super::link::unix_now;
use super::trail_at;
use crate::config::NodeConfig;
use crate::node::{Node, SubmitOutcome};
use anyhow::{Context, bail};
use bbchain_core::block::Coinbase;
use bbchain_core::{Block, ChainParams, Entry, Hash256, Header, Midstate, scan};
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
    let height = trail.height + 1;
    let entries = vec![Entry::Coinbase(Coinbase {
        height,
        extra_nonce: 0,
        miner: miner.into(),
    })];
    let mut block = Block {
        header: Header {
            version: 1,
            prev_hash: trail.hash,
            merkle_root: Hash256::ZERO,
            time,
            bits: trail.next_bits(params),
            nonce: 0,
        },
        entries,
    };
    block.header.merkle_root = block.compute_merkle_root();
    let target = block.header.target().unwrap_or(params.pow_limit_target());
    loop {
        if let Some(nonce) = scan(&Midstate::new(&block.header), &target, 0, u32::MAX).nonce {
            block.header.nonce = nonce;
            return block;
        }
        // Every nonce failed: change the coinbase and scan again.
        if let Some(Entry::Coinbase(coinbase)) = block.entries.first_mut() {
            coinbase.extra_nonce += 1;
        }
        block.header.merkle_root = block.compute_merkle_root();
    }
}
