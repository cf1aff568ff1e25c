//! The native miner (being written): connects to a master's work feed and runs the core `scan` loop.

/// How the native miner is started.
#[derive(Debug, Clone)]
pub struct MinerConfig {
    /// Masters as `host:port`, tried in order.
    pub nodes: Vec<String>,
    /// Mining threads.
    pub threads: usize,
    /// Name put in the coinbase of found blocks.
    pub name: String,
}

/// Mines until `shutdown` completes.
pub async fn run(
    config: MinerConfig,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let _ = (config, shutdown);
    anyhow::bail!("the native miner is not built yet")
}

/// Measures the hashrate offline with `threads` threads and prints `hashrate: <n> H/s`.
pub fn benchmark(threads: usize) -> anyhow::Result<()> {
    let _ = threads;
    anyhow::bail!("the benchmark is not built yet")
}
