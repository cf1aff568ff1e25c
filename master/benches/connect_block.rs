//! `cargo bench -p bbchain --bench connect_block`: how long a master takes to connect a full block
//! (just under 1,000,000 bytes) of 2-input, 2-output transactions through `Node::submit_block`, the
//! path of a miner's submit and of sync: context-free checks, every input looked up in the UTXO
//! table and its signature checked, the UTXO and address tables, undo data, one redb commit.
//!
//! Not timed: a dev chain whose first coinbases pay thousands of small outputs to one key, matured,
//! stored once and copied into a fresh temp dir for every round, and the block itself (signed).
//! Timed in the same run, round by round, so ratios hold on a shared machine:
//! - `submit`: the whole node path, on a node started on the copy (the start is not timed);
//! - `connect_block`: `spend::connect_block` alone against a `BTreeMap` of the same outputs (the
//!   consensus checks, without the database);
//! - `verify`: `keys::verify` once per input of the block, with messages computed ahead.

use bbchain::config::NodeConfig;
use bbchain::node::{Node, SubmitOutcome};
use bbchain_core::keys::{self, PublicKey, Signature};
use bbchain_core::spend::{self, Utxo};
use bbchain_core::testing::{Branch, secret_key, signed_tx};
use bbchain_core::tx::{OutPoint, Transaction, TxOut};
use bbchain_core::{Amount, Block, ChainParams, Coinbase, Entry};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

const ROUNDS: usize = 7;
/// The block stays under this many bytes (the limit is 1,000,000).
const BLOCK_BUDGET: usize = 999_900;
/// Outputs per funding coinbase (40 bytes each: a 160 kB coinbase).
const OUTPUTS_PER_COINBASE: usize = 4_000;
/// What each transaction leaves to the miner.
const FEE: u64 = 300;

/// The tip's child on `branch`, its coinbase paying `outputs`, with `txs` after it.
fn mine(branch: &mut Branch, outputs: Vec<TxOut>, txs: Vec<Transaction>) -> Block {
    let height = branch.height() + 1;
    let time = branch.tip().time + 1;
    let block = branch.next_with(time, &[], "bench", |block| {
        block.entries[0] = Entry::Coinbase(Coinbase::new(height, 0, "bench", outputs));
        block.entries.extend(txs.into_iter().map(Entry::Tx));
    });
    branch.push(&block);
    block
}

/// What the rounds share: the stored chain, the block, and what the comparisons need.
struct Setup {
    base_db: tempfile::TempDir,
    block: Block,
    view: BTreeMap<OutPoint, Utxo>,
    checks: Vec<(PublicKey, [u8; 32], Signature)>,
    params: ChainParams,
}

fn setup() -> Setup {
    let params = ChainParams::dev();
    let key = secret_key(1);
    let start = bbchain::clock::unix_now() - 1000;
    let mut branch = Branch::new(params.clone());
    // The first block's time sets where the branch starts.
    let first = branch.next(start, &[], "bench");
    branch.push(&first);
    let mut blocks = vec![first];

    // Funding: enough coinbase outputs for every input of a full block.
    let probe = signed_tx(
        &params,
        &key,
        &[
            (probe_outpoint(0), pay(&key, 1)),
            (probe_outpoint(1), pay(&key, 1)),
        ],
        vec![pay(&key, 1), pay(&key, 1)],
    );
    let tx_bytes = Entry::Tx(probe).encoded_len();
    let tx_count = BLOCK_BUDGET / tx_bytes;
    let inputs = tx_count * 2;
    let value = params.subsidy(2).units() / OUTPUTS_PER_COINBASE as u64;
    let mut funds = Vec::new();
    let mut view = BTreeMap::new();
    while funds.len() < inputs {
        let height = branch.height() + 1;
        let outputs = vec![pay(&key, value); OUTPUTS_PER_COINBASE];
        let block = mine(&mut branch, outputs, Vec::new());
        let coinbase = block.coinbase().expect("coinbase");
        let txid = coinbase.txid();
        for (vout, output) in coinbase.outputs.iter().enumerate() {
            let outpoint = OutPoint {
                txid,
                vout: vout as u32,
            };
            funds.push((outpoint, *output));
            let coinbase = true;
            view.insert(
                outpoint,
                Utxo {
                    output: *output,
                    height,
                    coinbase,
                },
            );
        }
        blocks.push(block);
    }
    for _ in 0..params.coinbase_maturity {
        blocks.push(mine(&mut branch, Vec::new(), Vec::new()));
    }

    // The block: 2-in/2-out spends of the funding outputs, filled to just under the budget.
    let each = value - FEE / 2;
    let mut txs = Vec::with_capacity(tx_count);
    let mut checks = Vec::with_capacity(inputs);
    for pair in funds.chunks(2).take(tx_count) {
        let tx = signed_tx(&params, &key, pair, vec![pay(&key, each), pay(&key, each)]);
        let spent: Vec<TxOut> = pair.iter().map(|(_, output)| *output).collect();
        let messages = tx.sighashes(&params.genesis_hash(), &spent);
        for (input, message) in tx.inputs.iter().zip(messages) {
            checks.push((key.public_key(), message, input.signature));
        }
        txs.push(tx);
    }
    let block = mine(&mut branch, Vec::new(), txs);
    let size = block.encoded_len();
    assert!(size < 1_000_000, "the block is {size} bytes");
    println!(
        "block: {size} bytes, {tx_count} transactions of {tx_bytes} bytes, {inputs} inputs; \
         funded by {} coinbase outputs",
        funds.len()
    );

    let base_db = tempfile::tempdir().expect("temp dir");
    let config = NodeConfig::new(params.clone(), base_db.path().join("chain.redb"));
    let (node, task) = Node::start(config).expect("node");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        for result in node.submit_blocks(blocks).await {
            assert!(matches!(result, Ok(SubmitOutcome::Connected { .. })));
        }
    });
    drop(node);
    task.shutdown();
    Setup {
        base_db,
        block,
        view,
        checks,
        params,
    }
}

fn probe_outpoint(vout: u32) -> OutPoint {
    OutPoint {
        txid: Default::default(),
        vout,
    }
}

fn pay(key: &bbchain_core::keys::SecretKey, units: u64) -> TxOut {
    TxOut {
        value: Amount::from_units(units),
        key: key.public_key(),
    }
}

/// One `submit_block` of the block on a fresh copy of the funded chain. `warm`: its transactions
/// reached the node's mempool first (not timed), as they do when a master's own miner finds the
/// block or a peer's block follows gossip, so their signatures are in the signature cache.
fn submit_round(setup: &Setup, runtime: &tokio::runtime::Runtime, warm: bool) -> Duration {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("chain.redb");
    std::fs::copy(setup.base_db.path().join("chain.redb"), &db).expect("copy");
    let (node, task) = Node::start(NodeConfig::new(setup.params.clone(), db)).expect("node");
    let block = setup.block.clone();
    let elapsed = runtime.block_on(async {
        if warm {
            let adds = block.txs().map(|tx| node.add_tx(tx.clone()));
            for added in futures_util::future::join_all(adds).await {
                added.expect("a pending transaction");
            }
        }
        let started = Instant::now();
        let outcome = node.submit_block(block).await;
        let elapsed = started.elapsed();
        assert!(matches!(outcome, Ok(SubmitOutcome::Connected { .. })));
        elapsed
    });
    drop(node);
    task.shutdown();
    drop_dir(dir.path());
    elapsed
}

fn drop_dir(path: &Path) {
    let _ = std::fs::remove_dir_all(path);
}

fn connect_round(setup: &Setup) -> Duration {
    let height = setup.block.coinbase().expect("coinbase").height;
    let genesis = setup.params.genesis_hash();
    let started = Instant::now();
    let spends = spend::connect_block(&setup.block, &setup.view, height, &setup.params, &genesis);
    let elapsed = started.elapsed();
    assert_eq!(
        spends.expect("a valid block").spent.len(),
        setup.checks.len()
    );
    elapsed
}

fn verify_round(setup: &Setup) -> Duration {
    let started = Instant::now();
    for (key, message, signature) in &setup.checks {
        assert!(keys::verify(key, message, signature));
    }
    started.elapsed()
}

fn median(mut times: Vec<Duration>) -> f64 {
    times.sort();
    times[times.len() / 2].as_secs_f64() * 1000.0
}

fn main() {
    let setup = setup();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let (mut submit, mut warm, mut connect, mut verify) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let times = (
            submit_round(&setup, &runtime, false),
            submit_round(&setup, &runtime, true),
            connect_round(&setup),
            verify_round(&setup),
        );
        println!(
            "round {}: submit_block {:.1} ms (transactions already pending: {:.1} ms), \
             connect_block {:.1} ms, {} x keys::verify {:.1} ms",
            round + 1,
            times.0.as_secs_f64() * 1000.0,
            times.1.as_secs_f64() * 1000.0,
            times.2.as_secs_f64() * 1000.0,
            setup.checks.len(),
            times.3.as_secs_f64() * 1000.0
        );
        submit.push(times.0);
        warm.push(times.1);
        connect.push(times.2);
        verify.push(times.3);
    }
    let (submit, warm) = (median(submit), median(warm));
    let (connect, verify) = (median(connect), median(verify));
    println!(
        "medians of {ROUNDS}: submit_block {submit:.1} ms (transactions already pending: \
         {warm:.1} ms), connect_block {connect:.1} ms, {} x keys::verify {verify:.1} ms \
         (one thread); ratios to keys::verify: submit_block {:.2}, pending {:.2}",
        setup.checks.len(),
        submit / verify,
        warm / verify
    );
}
