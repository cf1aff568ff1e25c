//! The native miner: takes work from a master's WebSocket feed (`/ws/mine`, see `docs/protocol.md`)
//! and hashes it on every core with the core crate's `scan` loop.
//!
//! - [`work`]: a job prepared for hashing, and the disjoint nonce batches threads claim from it;
//! - [`hashers`]: the mining threads and the board they take work from;
//! - [`connect`]: opening the feed of the first reachable master;
//! - [`failover`]: mining over it, failing over, reconnecting with backoff;
//! - [`paths`]: the self-benchmark that picks the fastest scan path for this CPU;
//! - [`payout`]: the address found blocks pay, written for the master's network;
//! - [`session`]: one connection's conversation (hello, jobs, submits, status lines, and pings
//!   to notice a master that went silent).

mod connect;
mod failover;
mod hashers;
mod paths;
mod payout;
mod session;
mod settings;
mod work;

use std::sync::Arc;
use std::time::{Duration, Instant};

pub use payout::Payout;
use settings::format_rate;
#[cfg(test)]
pub(crate) use settings::quick_timings;
pub use settings::{AGENT, MinerTimings};

use anyhow::Context as _;
use bbchain_core::Target;

/// Longest miner name a master accepts, in bytes: `ChainParams::max_miner_name_bytes` of every
/// chain (a test keeps them equal), checked before connecting so a bad name fails at once.
pub const MAX_NAME_BYTES: usize = 64;

/// How the native miner is started.
#[derive(Debug, Clone)]
pub struct MinerConfig {
    /// Masters as `host:port`, tried in order.
    pub nodes: Vec<String>,
    /// Mining threads; 0 means one per core.
    pub threads: usize,
    /// Name put in the coinbase of found blocks; empty means [`default_name`].
    pub name: String,
    /// Whom found blocks pay.
    pub payout: Payout,
    /// How patient the miner is with its masters.
    pub timings: MinerTimings,
}

/// The name used when none is given: the host's name, or `native-miner`.
pub fn default_name() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty() && name.len() <= MAX_NAME_BYTES);
    host.unwrap_or_else(|| "native-miner".to_owned())
}

/// More mining threads than this is a typo, not a machine: refused before any thread starts.
pub const MAX_THREADS: usize = 1024;

/// `threads`, or one per core when it is 0; an error above [`MAX_THREADS`].
pub fn thread_count(threads: usize) -> anyhow::Result<usize> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    anyhow::ensure!(
        threads <= MAX_THREADS,
        "--threads {threads} is too many: at most {MAX_THREADS} (this machine has {})",
        plural(cores, "core")
    );
    Ok(if threads > 0 { threads } else { cores })
}

/// A configuration's settings, checked.
pub struct Checked {
    /// The masters, trimmed, none empty.
    pub nodes: Vec<String>,
    /// The name, [`default_name`] when none was given.
    pub name: String,
    /// Threads to start.
    pub threads: usize,
}

/// Refuses a configuration the miner cannot work with (no nodes, a bad name, too many threads),
/// before anything starts: the command line checks it before making a wallet for the payout.
pub fn check(config: &MinerConfig) -> anyhow::Result<Checked> {
    let nodes: Vec<String> = config
        .nodes
        .iter()
        .map(|node| node.trim().to_owned())
        .filter(|node| !node.is_empty())
        .collect();
    anyhow::ensure!(
        !nodes.is_empty(),
        "the miner needs at least one master: --nodes host:port"
    );
    let name = if config.name.is_empty() {
        default_name()
    } else {
        config.name.clone()
    };
    anyhow::ensure!(
        name.len() <= MAX_NAME_BYTES,
        "the miner name is {} bytes long; at most {MAX_NAME_BYTES} fit in a coinbase",
        name.len()
    );
    let threads = thread_count(config.threads)?;
    Ok(Checked {
        nodes,
        name,
        threads,
    })
}

/// Mines until `shutdown` completes.
///
/// A master that cannot be reached is not an error: the miner logs it and keeps retrying. Only a
/// configuration the miner cannot work with (no nodes, a bad name) ends it early.
pub async fn run(
    config: MinerConfig,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let Checked {
        nodes,
        name,
        threads,
    } = check(&config)?;
    tracing::info!(
        "native miner {name:?}: {} for {}",
        plural(threads, "thread"),
        nodes.join(", ")
    );
    failover::mine(
        &nodes,
        &name,
        &config.payout,
        threads,
        config.timings,
        shutdown,
    )
    .await
}

/// How long [`benchmark`] lets the threads warm up, then measures.
const BENCH_WARMUP: Duration = Duration::from_secs(1);
const BENCH_MEASURE: Duration = Duration::from_secs(5);
/// How long [`benchmark`] measures each scan path on one thread before picking one: longer than
/// the miner's start-up trial, for figures worth printing.
const BENCH_PATH_TRIAL: Duration = Duration::from_millis(900);

/// Measures the hashrate offline with `threads` threads (0: one per core). First each scan path
/// this CPU can run, on one thread (`path avx2: 12.01 MH/s`), and the one chosen (`chosen path:
/// sha-ni`), as the miner does at start; then the chosen path on every thread, for people
/// (`9.48 MH/s (9.48 MH/s per thread)`), then a last line for scripts, `hashrate: <n> H/s`.
///
/// It runs the real mining threads on a synthetic header with an impossible target (one), so the
/// figure includes the batch and job-check overhead of actual mining.
pub fn benchmark(threads: usize) -> anyhow::Result<()> {
    let threads = thread_count(threads)?;
    println!(
        "benchmark: {}, {} s warm-up, {} s measured",
        plural(threads, "thread"),
        BENCH_WARMUP.as_secs(),
        BENCH_MEASURE.as_secs()
    );
    let choice = paths::choose(BENCH_PATH_TRIAL);
    for entry in &choice.measured {
        println!(
            "path {}: {} (1 thread)",
            entry.path,
            format_rate(entry.rate)
        );
    }
    println!("chosen path: {}", choice.chosen);
    let (events, _ignored) = tokio::sync::mpsc::unbounded_channel();
    let hashers = hashers::Hashers::spawn(threads, choice.chosen, events)
        .context("starting mining threads")?;
    let impossible = Target::ONE;
    let work = work::Assignment::new(0, "benchmark".into(), 1, &paths::bench_header(), impossible);
    hashers.board().publish(Some(Arc::new(work)));

    std::thread::sleep(BENCH_WARMUP);
    let (start_hashes, started) = (hashers.board().hashes(), Instant::now());
    std::thread::sleep(BENCH_MEASURE);
    let hashes = hashers.board().hashes() - start_hashes;
    let rate = hashes as f64 / started.elapsed().as_secs_f64();
    drop(hashers);
    println!(
        "{} ({} per thread)",
        format_rate(rate),
        format_rate(rate / threads as f64)
    );
    println!("hashrate: {rate:.0} H/s");
    Ok(())
}

/// `1 thread`, `4 threads`.
pub fn plural(n: usize, thing: &str) -> String {
    if n == 1 {
        format!("1 {thing}")
    } else {
        format!("{n} {thing}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_read_well() {
        assert_eq!(plural(1, "thread"), "1 thread");
        assert_eq!(plural(0, "miner"), "0 miners");
        assert_eq!(plural(12, "core"), "12 cores");
    }

    #[test]
    fn zero_threads_means_every_core() {
        assert_eq!(thread_count(3).unwrap(), 3);
        assert!(thread_count(0).unwrap() >= 1);
        assert!(thread_count(MAX_THREADS + 1).is_err());
    }

    #[test]
    fn the_name_limit_is_the_chains() {
        for params in [
            bbchain_core::ChainParams::main(),
            bbchain_core::ChainParams::dev(),
        ] {
            assert_eq!(params.max_miner_name_bytes, MAX_NAME_BYTES);
        }
    }

    #[test]
    fn the_default_name_fits_a_coinbase() {
        let name = default_name();
        assert!(!name.is_empty() && name.len() <= MAX_NAME_BYTES);
    }

    #[tokio::test]
    async fn bad_configurations_are_refused_at_once() {
        let no_nodes = MinerConfig {
            nodes: vec![" ".into()],
            threads: 1,
            name: "x".into(),
            payout: Payout::Nobody,
            timings: MinerTimings::default(),
        };
        let error = run(no_nodes, std::future::pending()).await.unwrap_err();
        assert!(error.to_string().contains("--nodes"), "{error}");

        let long_name = MinerConfig {
            nodes: vec!["127.0.0.1:1".into()],
            threads: 1,
            name: "n".repeat(65),
            payout: Payout::Nobody,
            timings: MinerTimings::default(),
        };
        let error = run(long_name, std::future::pending()).await.unwrap_err();
        assert!(error.to_string().contains("64"), "{error}");
    }
}
