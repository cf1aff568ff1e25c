//! `bbchain --bench-feed --stratum [--connections N]`: the Stratum fan-out of a fresh dev-chain
//! master started with `--stratum-port` (docs/BENCHMARKS.md).
//!
//! N Stratum connections subscribe and authorize; a `/ws/mine` miner finds a block (the finder of
//! the feed's bench); the figure is the time from its submit until each Stratum connection has
//! received (client side) the `mining.notify` whose prevhash is the new block, with `clean_jobs`,
//! p50/p99/max over several tips, plus the master's CPU per fan-out and its peak memory (VmHWM).
//! This process raises its own open-file limit; the master raises its own.

use super::{
    BenchMaster, RAMP, ROUNDS, cpu_report, cpu_times, hello, ms, next, next_job, peak_mib,
    percentile, send, solve,
};
use anyhow::{Context, bail};
use bbchain_core::protocol::{MasterMessage, MinerMessage};
use serde::de::IgnoredAny;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::Notify;

/// Runs the Stratum fan-out against a fresh master and prints the figures.
pub async fn run(connections: usize) -> anyhow::Result<()> {
    let open_files = crate::conn_limit::raise_open_files_limit();
    if open_files.now < connections as u64 + 64 {
        println!(
            "stratum fan-out: this process may open {} files: raise `ulimit -n` above {connections}",
            open_files.now
        );
    }
    let stratum_port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let master =
        BenchMaster::start_with(&["--stratum-port".into(), stratum_port.to_string()]).await?;
    let result = fan_out(&master.addr, stratum_port, connections, master.pid).await;
    master.stop();
    result
}

/// Where the connections note when the round's `mining.notify` arrived.
struct Notified {
    /// The clock every arrival is counted from.
    base: Instant,
    /// The prevhash (Stratum's form) of the block the round waits for.
    prevhash: RwLock<String>,
    /// Per connection: nanoseconds after `base` at which its notify arrived.
    at: Vec<AtomicU64>,
    /// Connections that have their notify this round; the last one wakes the round.
    count: AtomicUsize,
    all_in: Notify,
}

impl Notified {
    fn new(connections: usize) -> Notified {
        Notified {
            base: Instant::now(),
            prevhash: RwLock::new(String::new()),
            at: (0..connections).map(|_| AtomicU64::new(0)).collect(),
            count: AtomicUsize::new(0),
            all_in: Notify::new(),
        }
    }

    /// Starts a round that waits for clean jobs on `prevhash`.
    fn expect(&self, prevhash: String) {
        self.count.store(0, Ordering::Release);
        *self.prevhash.write().expect("lock") = prevhash;
    }

    /// Connection `index` read `line`: if it is the round's notify, note when.
    fn note(&self, index: usize, line: &str) {
        let Some((prevhash, true)) = notified_prevhash(line) else {
            return;
        };
        if *self.prevhash.read().expect("lock") != prevhash {
            return;
        }
        let nanos = self.base.elapsed().as_nanos() as u64;
        self.at[index].store(nanos, Ordering::Relaxed);
        if self.count.fetch_add(1, Ordering::AcqRel) + 1 == self.at.len() {
            self.all_in.notify_one();
        }
    }

    /// Every connection's delay from `sent`, once all have their notify.
    async fn wait_all(&self, sent: Instant) -> anyhow::Result<Vec<Duration>> {
        tokio::time::timeout(Duration::from_secs(60), self.all_in.notified())
            .await
            .context("Stratum connections did not all get a notify within 60 s")?;
        let sent = sent.saturating_duration_since(self.base);
        Ok(self
            .at
            .iter()
            .map(|at| Duration::from_nanos(at.load(Ordering::Relaxed)).saturating_sub(sent))
            .collect())
    }
}

/// A dev-network address the Stratum connections authorize with (the bench's own fixed key).
fn payout_address() -> String {
    let key = bbchain_core::keys::SecretKey::from_bytes([0x42; 32]).expect("a valid key");
    bbchain_core::address::encode(&key.public_key(), &bbchain_core::ChainParams::dev())
}

/// Opens a Stratum connection, subscribes and authorizes; returns its reader.
async fn open(port: u16, user: &str) -> anyhow::Result<BufReader<TcpStream>> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await?;
    stream.set_nodelay(true)?;
    let hello = format!(
        "{{\"id\":1,\"method\":\"mining.subscribe\",\"params\":[\"bbchain-bench\"]}}\n\
         {{\"id\":2,\"method\":\"mining.authorize\",\"params\":[\"{user}\",\"x\"]}}\n"
    );
    stream.write_all(hello.as_bytes()).await?;
    let mut reader = BufReader::with_capacity(2048, stream);
    // Until the first job: subscribed, authorized and part of the fan-out.
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).await? == 0 {
            bail!("the master closed a Stratum connection while it started");
        }
        if line.contains("\"error\":[") || line.contains("\"error\":{") {
            bail!("refused: {line}");
        }
        if line.contains("mining.notify") {
            return Ok(reader);
        }
    }
}

/// The prevhash (param 1) and clean flag (param 8) of a `mining.notify` line, parsed as a miner
/// parses it; `None` for any other line.
fn notified_prevhash(line: &str) -> Option<(&str, bool)> {
    #[derive(serde::Deserialize)]
    struct Method<'a> {
        #[serde(borrow)]
        method: Option<&'a str>,
    }
    type Params<'a> = (
        IgnoredAny,
        &'a str,
        IgnoredAny,
        IgnoredAny,
        IgnoredAny,
        IgnoredAny,
        IgnoredAny,
        IgnoredAny,
        bool,
    );
    #[derive(serde::Deserialize)]
    struct Notify<'a> {
        #[serde(borrow)]
        params: Params<'a>,
    }
    let head: Method = serde_json::from_str(line).ok()?;
    if head.method != Some("mining.notify") {
        return None;
    }
    let notify: Notify = serde_json::from_str(line).ok()?;
    Some((notify.params.1, notify.params.8))
}

/// Stratum's prevhash of a block hash: the internal bytes with each 4-byte word byte-swapped.
fn stratum_prevhash(hash: &bbchain_core::BlockHash) -> String {
    let bytes: Vec<u8> = hash
        .to_byte_array()
        .chunks(4)
        .flat_map(|word| word.iter().rev().copied())
        .collect();
    hex::encode(bytes)
}

async fn fan_out(addr: &str, port: u16, connections: usize, pid: u32) -> anyhow::Result<()> {
    println!("stratum fan-out: opening {connections} Stratum connections...");
    let user = format!("{}.bench", payout_address());
    let arrivals = Arc::new(Notified::new(connections));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(connections);
    for chunk in 0..connections.div_ceil(RAMP) {
        let opening: Vec<_> = (chunk * RAMP..((chunk + 1) * RAMP).min(connections))
            .map(|_| tokio::spawn(open_owned(port, user.clone())))
            .collect();
        for task in opening {
            let mut reader = task.await??;
            let arrivals = arrivals.clone();
            let index = tasks.len();
            tasks.push(tokio::spawn(async move {
                let mut line = String::new();
                while matches!(reader.read_line(&mut line).await, Ok(n) if n > 0) {
                    arrivals.note(index, &line);
                    line.clear();
                }
            }));
        }
    }
    println!(
        "stratum fan-out: {} connections ready in {:.1} s",
        tasks.len(),
        started.elapsed().as_secs_f64()
    );
    let mut finder = super::connect(addr).await?;
    let mut job = hello(&mut finder, "finder").await?;
    let mut all = Vec::new();
    for round in 0..ROUNDS {
        let nonce = solve(&job)?;
        let height = job.height;
        let mut header = job.header()?;
        header.nonce = nonce;
        arrivals.expect(stratum_prevhash(&header.block_hash()));
        let cpu_before = cpu_times(pid);
        let sent = Instant::now();
        let submit = MinerMessage::Submit {
            job_id: job.job_id.clone(),
            nonce,
        };
        send(&mut finder, &submit).await?;
        loop {
            match next(&mut finder).await? {
                MasterMessage::Accepted { .. } => break,
                MasterMessage::Rejected { reason, .. } => bail!("block refused: {reason}"),
                _ => {}
            }
        }
        let mut times = arrivals.wait_all(sent).await?;
        let cpu = cpu_report(pid, cpu_before);
        times.sort();
        println!(
            "stratum fan-out round {}: every connection had its mining.notify after {} (p50 {}, p99 {}); {cpu}",
            round + 1,
            ms(*times.last().context("no times")?),
            ms(percentile(&times, 0.5)),
            ms(percentile(&times, 0.99))
        );
        all.extend(times);
        job = next_job(&mut finder).await?;
        while job.height != height + 1 {
            job = next_job(&mut finder).await?;
        }
    }
    all.sort();
    println!(
        "stratum fan-out: {connections} connections x {ROUNDS} tips: p50 {}, p99 {}, max {}",
        ms(percentile(&all, 0.5)),
        ms(percentile(&all, 0.99)),
        ms(*all.last().context("no samples")?),
    );
    match peak_mib(pid) {
        Some(mib) => println!("stratum fan-out: master peak memory (VmHWM) {mib:.0} MiB"),
        None => println!("stratum fan-out: master peak memory unknown (no /proc)"),
    }
    for task in tasks {
        task.abort();
    }
    Ok(())
}

async fn open_owned(port: u16, user: String) -> anyhow::Result<BufReader<TcpStream>> {
    open(port, &user).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notify_line_gives_its_prevhash_and_clean_flag() {
        let line = r#"{"id":null,"method":"mining.notify","params":["1f","aa","01","02",[],"20000000","207fffff","6567a0b1",true]}"#;
        assert_eq!(notified_prevhash(line), Some(("aa", true)));
        let other = r#"{"id":null,"method":"mining.set_difficulty","params":[0.5]}"#;
        assert_eq!(notified_prevhash(other), None);
        assert_eq!(
            notified_prevhash(r#"{"id":1,"result":true,"error":null}"#),
            None
        );
    }
}
