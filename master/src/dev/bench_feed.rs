//! `bbchain --bench-feed [--connections N]`: a load test of a master, recorded in docs/BENCHMARKS.md.
//!
//! It starts a dev-chain master of this same binary on a free port with a throw-away data dir, then
//! measures, over loopback:
//! 1. fan-out: N feed connections (plain sockets read by one thread, `raw_feed`, so the load
//!    generator's share of the shared cores stays small) say hello; a separate miner finds a block;
//!    the time from its submit until each connection has received (client side) the clean job for
//!    the new tip (p50/p99/max over several tips), the time until the finder hears `accepted`, and
//!    the master's peak memory (VmHWM);
//! 2. submit validation: wrong-work submits pipelined on one connection (each fully checked), and
//!    valid blocks mined one after another (check, store, commit, new job);
//! 3. data ingest: concurrent `POST /api/data` of distinct entries, then a check that every
//!    acknowledged entry is queued.
//!
//! Each side needs one file descriptor per connection: raise `ulimit -n` above N. With
//! `BBCHAIN_BENCH_MASTER=<path to another build>` that build is the master under test, so two
//! builds are measured with the same load generator.

pub mod stratum;

use super::raw_feed;
use crate::client;
use anyhow::{Context, bail};
use bbchain_core::protocol::{Job, MasterMessage, MinerMessage};
use bbchain_core::{Midstate, scan};
use futures_util::{SinkExt, StreamExt};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// New tips measured in the fan-out test.
const ROUNDS: usize = 5;
/// Connections opened at once while ramping up.
const RAMP: usize = 250;

/// Runs every measurement against a fresh master and prints the figures.
pub async fn run(connections: usize) -> anyhow::Result<()> {
    let master = BenchMaster::start().await?;
    let addr = master.addr.clone();
    let result = async {
        fan_out(&addr, connections, master.pid).await?;
        submits(&addr).await?;
        ingest(&addr).await?;
        anyhow::Ok(())
    }
    .await;
    master.stop();
    result
}

/// The master under test: a child process of this binary.
struct BenchMaster {
    child: std::process::Child,
    pid: u32,
    addr: String,
    dir: std::path::PathBuf,
}

impl BenchMaster {
    async fn start() -> anyhow::Result<BenchMaster> {
        BenchMaster::start_with(&[]).await
    }

    /// Starts the master with `extra` arguments too.
    async fn start_with(extra: &[String]) -> anyhow::Result<BenchMaster> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let dir = std::env::temp_dir().join(format!("bbchain-bench-{}", std::process::id()));
        // Another build as the master under test (the same load generator for both builds).
        let (binary, other_build) = match std::env::var_os("BBCHAIN_BENCH_MASTER") {
            Some(path) => (std::path::PathBuf::from(path), true),
            None => (std::env::current_exe()?, false),
        };
        let mut command = std::process::Command::new(binary);
        command.args([
            "--start-master",
            "--chain",
            "dev",
            "--port",
            &port.to_string(),
        ]);
        if !other_build {
            // The ingest step posts 50,000 entries from one address: far above the per-address
            // rate a public master allows (an older build has neither the limit nor the flags).
            let unlimited = u32::MAX.to_string();
            command.args([
                "--ip-rate-bytes-per-sec",
                &unlimited,
                "--ip-burst-bytes",
                &unlimited,
            ]);
        }
        let child = command
            .args(extra)
            .arg("--data-dir")
            .arg(&dir)
            .env("RUST_LOG", "warn")
            .spawn()
            .context("cannot start the master")?;
        let pid = child.id();
        let master = BenchMaster {
            child,
            pid,
            addr: format!("127.0.0.1:{port}"),
            dir,
        };
        for _ in 0..200 {
            if let Ok((200, _)) = client::call(&master.addr, "GET", "/api/status", None).await {
                return Ok(master);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        master.stop();
        bail!("the master did not start")
    }

    /// SIGTERM (a clean stop), then the data dir goes.
    fn stop(mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
/// CPU time of the master and of this client since `before` (from [`cpu_times`]), for one round's line.
fn cpu_report(pid: u32, before: (Option<Duration>, Option<Duration>)) -> String {
    match (before, cpu_times(pid)) {
        ((Some(m0), Some(c0)), (Some(m1), Some(c1))) => {
            format!("CPU master {}, client {}", ms(m1 - m0), ms(c1 - c0))
        }
        _ => "CPU unknown".into(),
    }
}

/// CPU time so far of the master (`pid`) and of this client.
fn cpu_times(pid: u32) -> (Option<Duration>, Option<Duration>) {
    (cpu_time(pid), cpu_time(std::process::id()))
}

/// Time a process has spent on a CPU, all its threads together (`/proc/<pid>/task/*/schedstat`):
/// on a shared machine this says what a fan-out costs, whatever the load.
fn cpu_time(pid: u32) -> Option<Duration> {
    let mut nanos = 0u64;
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let stat = std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok()?;
        nanos += stat.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(Duration::from_nanos(nanos))
}

/// `VmHWM` (peak resident memory) of a process, in MiB.
fn peak_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

async fn connect(addr: &str) -> anyhow::Result<Ws> {
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(4096);
    let url = format!("ws://{addr}/ws/mine");
    let (ws, _) = tokio_tungstenite::connect_async_with_config(url, Some(config), true).await?;
    Ok(ws)
}

async fn send(ws: &mut Ws, message: &MinerMessage) -> anyhow::Result<()> {
    ws.send(Message::Text(serde_json::to_string(message)?.into()))
        .await?;
    Ok(())
}

async fn next(ws: &mut Ws) -> anyhow::Result<MasterMessage> {
    loop {
        match ws.next().await.context("feed closed")?? {
            Message::Text(text) => return Ok(serde_json::from_str(&text)?),
            Message::Close(_) => bail!("feed closed"),
            _ => {}
        }
    }
}

async fn next_job(ws: &mut Ws) -> anyhow::Result<Job> {
    loop {
        if let MasterMessage::Job(job) = next(ws).await? {
            return Ok(job);
        }
    }
}

async fn hello(ws: &mut Ws, name: &str) -> anyhow::Result<Job> {
    let hello = MinerMessage::Hello {
        name: name.into(),
        agent: Some("bbchain-bench".into()),
        address: None,
    };
    send(ws, &hello).await?;
    next_job(ws).await
}

/// The first nonce that solves `job`, by the core scan.
fn solve(job: &Job) -> anyhow::Result<u32> {
    let midstate = Midstate::new(&job.header()?);
    scan(&midstate, &job.target()?, 0, u32::MAX)
        .nonce
        .context("no solution")
}

/// A nonce that does not meet the job's target (the submit must be refused).
fn miss(job: &Job) -> anyhow::Result<u32> {
    let midstate = Midstate::new(&job.header()?);
    let target = job.target()?;
    (0..u32::MAX)
        .find(|&nonce| !target.is_met_by(&midstate.hash(nonce)))
        .context("every nonce solves")
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// Where the feed connections note when their clean job for the round's new tip arrived.
struct Arrivals {
    /// The clock every arrival is counted from.
    base: Instant,
    /// The height whose clean job the round waits for.
    height: AtomicU32,
    /// Per connection: nanoseconds after `base` at which its job arrived.
    at: Vec<AtomicU64>,
    /// Connections that have their job this round; the last one wakes the round.
    count: AtomicUsize,
    all_in: Notify,
}

impl Arrivals {
    fn new(connections: usize) -> Arrivals {
        Arrivals {
            base: Instant::now(),
            height: AtomicU32::new(u32::MAX),
            at: (0..connections).map(|_| AtomicU64::new(0)).collect(),
            count: AtomicUsize::new(0),
            all_in: Notify::new(),
        }
    }

    /// Connection `index` received a frame: if it is the clean job the round waits for, note when.
    fn note(&self, index: usize, frame: &str) {
        // Only what tells the job apart is read, but it is read from the frame as a miner gets it.
        #[derive(serde::Deserialize)]
        struct Head<'a> {
            #[serde(rename = "type", borrow)]
            kind: &'a str,
            #[serde(default, borrow)]
            job_id: &'a str,
            #[serde(default)]
            clean: bool,
            #[serde(default)]
            height: u32,
        }
        let Ok(head) = serde_json::from_str::<Head>(frame) else {
            return;
        };
        let expected = self.height.load(Ordering::Acquire);
        if head.kind == "job" && !head.job_id.is_empty() && head.clean && head.height == expected {
            let nanos = self.base.elapsed().as_nanos() as u64;
            self.at[index].store(nanos, Ordering::Relaxed);
            if self.count.fetch_add(1, Ordering::AcqRel) + 1 == self.at.len() {
                self.all_in.notify_one();
            }
        }
    }

    /// Starts a round that waits for clean jobs at `height`.
    fn expect(&self, height: u32) {
        self.count.store(0, Ordering::Release);
        self.height.store(height, Ordering::Release);
    }

    /// Every connection's delay from `sent`, once all have their job.
    async fn wait_all(&self, sent: Instant) -> anyhow::Result<Vec<Duration>> {
        tokio::time::timeout(Duration::from_secs(30), self.all_in.notified())
            .await
            .context("connections did not all get a job within 30 s")?;
        let sent = sent.saturating_duration_since(self.base);
        Ok(self
            .at
            .iter()
            .map(|at| Duration::from_nanos(at.load(Ordering::Relaxed)).saturating_sub(sent))
            .collect())
    }
}

/// The fan-out: the time from a finder's submit until each of `connections` feed connections has
/// received, on the client side, the clean job for the new tip.
async fn fan_out(addr: &str, connections: usize, pid: u32) -> anyhow::Result<()> {
    println!("fan-out: opening {connections} feed connections...");
    let arrivals = Arc::new(Arrivals::new(connections));
    let started = Instant::now();
    let mut feeds = Vec::with_capacity(connections);
    for chunk in 0..connections.div_ceil(RAMP) {
        let mut opening = Vec::new();
        for i in chunk * RAMP..((chunk + 1) * RAMP).min(connections) {
            let addr = addr.to_string();
            opening.push(tokio::spawn(async move {
                raw_feed::connect(&addr, &format!("bench{i}")).await
            }));
        }
        for task in opening {
            feeds.push(task.await??);
        }
    }
    println!(
        "fan-out: {} connections ready in {:.1} s",
        feeds.len(),
        started.elapsed().as_secs_f64()
    );
    // One thread reads every connection (see `raw_feed`): the client's own CPU is reported per
    // round below, since it shares the cores with the master.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let arrivals = arrivals.clone();
        raw_feed::spawn_reader(feeds, stop.clone(), move |index, text| {
            arrivals.note(index, text)
        })?
    };
    let mut finder = connect(addr).await?;
    let mut job = hello(&mut finder, "finder").await?;
    let mut all = Vec::new();
    let mut answers = Vec::new();
    for round in 0..ROUNDS {
        let nonce = solve(&job)?;
        let height = job.height;
        arrivals.expect(height + 1);
        let cpu_before = cpu_times(pid);
        let sent = Instant::now();
        send(
            &mut finder,
            &MinerMessage::Submit {
                job_id: job.job_id.clone(),
                nonce,
            },
        )
        .await?;
        loop {
            match next(&mut finder).await? {
                MasterMessage::Accepted { .. } => break,
                MasterMessage::Rejected { reason, .. } => bail!("block refused: {reason}"),
                _ => {}
            }
        }
        answers.push(sent.elapsed());
        let mut times = arrivals.wait_all(sent).await?;
        let cpu = cpu_report(pid, cpu_before);
        times.sort();
        println!(
            "fan-out round {}: finder answered after {}; every connection had its new job after {} (p50 {}, p99 {}); {cpu}",
            round + 1,
            ms(answers[round]),
            ms(*times.last().expect("times")),
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
    answers.sort();
    println!(
        "fan-out: {connections} connections x {ROUNDS} tips: p50 {}, p99 {}, max {}; finder's accepted: median {}",
        ms(percentile(&all, 0.5)),
        ms(percentile(&all, 0.99)),
        ms(*all.last().expect("samples")),
        ms(percentile(&answers, 0.5))
    );
    match peak_mib(pid) {
        Some(mib) => println!("fan-out: master peak memory (VmHWM) {mib:.0} MiB"),
        None => println!("fan-out: master peak memory unknown (no /proc)"),
    }
    stop.store(true, Ordering::Relaxed);
    reader
        .join()
        .map_err(|_| anyhow::anyhow!("the reader thread panicked"))??;
    Ok(())
}

async fn submits(addr: &str) -> anyhow::Result<()> {
    // Wrong-work submits, pipelined: each one is checked in full and refused.
    const WRONG: usize = 20_000;
    let mut ws = connect(addr).await?;
    let job = hello(&mut ws, "validator").await?;
    let nonce = miss(&job)?;
    let (mut sink, mut stream) = ws.split();
    let text = serde_json::to_string(&MinerMessage::Submit {
        job_id: job.job_id.clone(),
        nonce,
    })?;
    let start = Instant::now();
    let writer = tokio::spawn(async move {
        for _ in 0..WRONG {
            sink.send(Message::Text(text.clone().into())).await?;
        }
        anyhow::Ok(sink)
    });
    let mut refused = 0;
    while refused < WRONG {
        if let Message::Text(text) = stream.next().await.context("feed closed")?? {
            if let MasterMessage::Rejected { reason, .. } = serde_json::from_str(&text)? {
                if !reason.contains("does not meet its target") {
                    bail!("a wrong-work submit was refused for another reason: {reason}");
                }
                refused += 1;
            }
        }
    }
    let elapsed = start.elapsed();
    drop(writer.await??);
    println!(
        "submits: {WRONG} wrong-work submits refused in {:.2} s: {:.0}/s on one connection",
        elapsed.as_secs_f64(),
        WRONG as f64 / elapsed.as_secs_f64()
    );

    // Valid blocks one after another: check, store, commit (fsync), new job.
    let mut ws = connect(addr).await?;
    let mut job = hello(&mut ws, "sprinter").await?;
    let start = Instant::now();
    let mut blocks = 0u32;
    while start.elapsed() < Duration::from_secs(5) {
        let nonce = solve(&job)?;
        let height = job.height;
        send(
            &mut ws,
            &MinerMessage::Submit {
                job_id: job.job_id.clone(),
                nonce,
            },
        )
        .await?;
        loop {
            match next(&mut ws).await? {
                MasterMessage::Accepted { .. } => blocks += 1,
                MasterMessage::Job(next) if next.height == height + 1 => {
                    job = next;
                    break;
                }
                MasterMessage::Rejected { reason, .. } => bail!("block refused: {reason}"),
                _ => {}
            }
        }
    }
    println!(
        "submits: {blocks} valid blocks accepted in {:.1} s: {:.0} blocks/s (one miner, each waits for its new job)",
        start.elapsed().as_secs_f64(),
        f64::from(blocks) / start.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn ingest(addr: &str) -> anyhow::Result<()> {
    const CLIENTS: usize = 64;
    const ENTRIES: usize = 50_000;
    let (_, before) = client::call(addr, "GET", "/api/status", None).await?;
    let before = before["pending"].as_u64().unwrap_or(0);
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let next = next.clone();
        let addr = addr.to_string();
        tasks.push(tokio::spawn(async move {
            let mut acknowledged = 0u64;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= ENTRIES {
                    return anyhow::Ok(acknowledged);
                }
                let body = serde_json::json!({"data": format!("bench entry {i}")});
                let (status, answer) =
                    client::call(&addr, "POST", "/api/data", Some(&body)).await?;
                if status != 202 {
                    bail!("entry {i} refused ({status}): {answer}");
                }
                acknowledged += 1;
            }
        }));
    }
    let mut acknowledged = 0;
    for task in tasks {
        acknowledged += task.await??;
    }
    let elapsed = start.elapsed();
    let (_, after) = client::call(addr, "GET", "/api/status", None).await?;
    let queued = after["pending"].as_u64().unwrap_or(0) - before;
    println!(
        "ingest: {acknowledged} entries acknowledged by {CLIENTS} HTTP clients in {:.2} s: {:.0} entries/s; {queued} queued afterwards ({})",
        elapsed.as_secs_f64(),
        acknowledged as f64 / elapsed.as_secs_f64(),
        if queued == acknowledged {
            "none lost"
        } else {
            "MISMATCH"
        }
    );
    Ok(())
}
