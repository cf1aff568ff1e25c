//! `bbchain --bench-intake [--count N] [--clients C]`: mempool intake over HTTP, recorded in
//! docs/BENCHMARKS.md.
//!
//! It starts a dev-chain master in this process on a free loopback port with a throw-away data dir,
//! gives it mature block rewards (coinbases of many small outputs to one key, then the maturity
//! blocks, submitted to its node), builds N independent signed 2-input, 2-output transactions (not
//! timed), then times C clients, each a thread with its own keep-alive HTTP connection, posting
//! them to `POST /api/tx`. Every answer must be 202; afterwards `/api/status` must count N
//! transactions in the mempool (none lost).

use crate::client;
use crate::config::NodeConfig;
use crate::node::SubmitOutcome;
use crate::server;
use anyhow::bail;
use bbchain_core::testing::{Branch, secret_key, signed_tx};
use bbchain_core::tx::{OutPoint, Transaction, TxOut};
use bbchain_core::{Amount, Block, ChainParams, Coinbase, Entry};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;
use tokio_util::sync::CancellationToken;

/// Outputs per funding coinbase (40 bytes each).
const OUTPUTS_PER_COINBASE: usize = 10_000;
/// What each transaction pays in fees: above 1 unit per byte of its 283.
const FEE: u64 = 1_000;

/// Runs the measurement and prints the figures.
pub async fn run(count: usize, clients: usize) -> anyhow::Result<()> {
    if count == 0 || clients == 0 {
        bail!("--count and --clients must be at least 1");
    }
    let dir = std::env::temp_dir().join(format!("bbchain-intake-{}", std::process::id()));
    let params = ChainParams::dev();
    let mut config = NodeConfig::new(params.clone(), dir.join("chain.redb"));
    // Room for every transaction whatever N: the 5 MB default holds about 17,000.
    config.limits.max_mempool_bytes = config.limits.max_mempool_bytes.max(count * 400);
    // One client address posts everything: the per-IP rate limit would measure itself.
    config.limits.ip_rate_bytes_per_sec = u32::MAX;
    config.limits.ip_burst_bytes = u32::MAX;
    let listener = server::bind("127.0.0.1:0".parse()?).await?;
    let shutdown = CancellationToken::new();
    let master = server::start(listener, config, shutdown.clone()).await?;
    let addr = master.addr.to_string();
    let result = async {
        let started = Instant::now();
        let (blocks, txs) = tokio::task::spawn_blocking(move || build(&params, count)).await?;
        for result in master.node.submit_blocks(blocks).await {
            if !matches!(result, Ok(SubmitOutcome::Connected { .. })) {
                bail!("a funding block was not connected: {result:?}");
            }
        }
        println!(
            "intake: {count} transactions of {} bytes built and their outputs matured in {:.1} s",
            txs[0].encoded_len(),
            started.elapsed().as_secs_f64()
        );
        post_all(&addr, txs, clients).await
    }
    .await;
    shutdown.cancel();
    let stopped = master.stopped().await;
    let _ = std::fs::remove_dir_all(&dir);
    result.and(stopped)
}

/// The funding blocks (one second apart, ending about now) and `count` transactions spending them.
fn build(params: &ChainParams, count: usize) -> (Vec<Block>, Vec<Transaction>) {
    let key = secret_key(1);
    let pay = |units: u64| TxOut {
        value: Amount::from_units(units),
        key: key.public_key(),
    };
    let funding = (2 * count).div_ceil(OUTPUTS_PER_COINBASE);
    let maturity = params.coinbase_maturity as usize;
    let mut branch = Branch::new(params.clone());
    let mut time = crate::clock::unix_now() - (funding + maturity + 10) as u32;
    let mut blocks = Vec::new();
    let mut funds = Vec::new();
    let value = params.subsidy(1).units() / OUTPUTS_PER_COINBASE as u64;
    for index in 0..funding + maturity {
        let height = branch.height() + 1;
        let outputs = if index < funding {
            vec![pay(value); OUTPUTS_PER_COINBASE]
        } else {
            Vec::new()
        };
        time += 1;
        let block = branch.next_with(time, &[], "bench", |block| {
            block.entries[0] = Entry::Coinbase(Coinbase::new(height, 0, "bench", outputs));
        });
        branch.push(&block);
        let coinbase = block.coinbase().expect("a coinbase");
        let txid = coinbase.txid();
        for (vout, output) in coinbase.outputs.iter().enumerate() {
            let vout = vout as u32;
            funds.push((OutPoint { txid, vout }, *output));
        }
        blocks.push(block);
    }
    let each = value - FEE / 2;
    let txs = funds
        .chunks(2)
        .take(count)
        .map(|pair| signed_tx(params, &key, pair, vec![pay(each), pay(each)]))
        .collect();
    (blocks, txs)
}

/// Posts every transaction from `clients` threads, each on its own keep-alive connection, then
/// checks that each was acknowledged and is in the mempool.
async fn post_all(addr: &str, txs: Vec<Transaction>, clients: usize) -> anyhow::Result<()> {
    let count = txs.len();
    let bodies: Arc<Vec<String>> = Arc::new(
        txs.iter()
            .map(|tx| serde_json::json!({"tx": hex::encode(tx.to_bytes())}).to_string())
            .collect(),
    );
    let next = Arc::new(AtomicUsize::new(0));
    let url = format!("http://{addr}/api/tx");
    let started = Instant::now();
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            let (bodies, next, url) = (bodies.clone(), next.clone(), url.clone());
            std::thread::spawn(move || post_some(&url, &bodies, &next))
        })
        .collect();
    let mut acknowledged = 0;
    for thread in threads {
        acknowledged += thread
            .join()
            .map_err(|_| anyhow::anyhow!("a client panicked"))??;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let (_, status) = client::call(addr, "GET", "/api/status", None).await?;
    let pooled = status["mempool"]["txs"].as_u64().unwrap_or(0) as usize;
    println!(
        "intake: {acknowledged} of {count} transactions acknowledged (202) by {clients} HTTP clients \
         in {elapsed:.2} s: {:.0} transactions/s; mempool holds {pooled} ({})",
        acknowledged as f64 / elapsed,
        if pooled == count && acknowledged == count {
            "none lost"
        } else {
            "MISMATCH"
        }
    );
    if pooled != count || acknowledged != count {
        bail!("{count} sent, {acknowledged} acknowledged, {pooled} in the mempool");
    }
    Ok(())
}

/// One client: takes the next body until none is left; returns how many were acknowledged.
fn post_some(url: &str, bodies: &[String], next: &AtomicUsize) -> anyhow::Result<usize> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .build()
        .into();
    let mut acknowledged = 0;
    loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        let Some(body) = bodies.get(i) else {
            return Ok(acknowledged);
        };
        let mut response = agent
            .post(url)
            .header("content-type", "application/json")
            .send(body.as_str())?;
        let status = response.status().as_u16();
        let answer = response.body_mut().read_to_string()?;
        if status != 202 {
            bail!("transaction {i} refused ({status}): {answer}");
        }
        acknowledged += 1;
    }
}
