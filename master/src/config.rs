//! Node settings: where the data lives, which chain, and every limit a client can run into.

use bbchain_core::ChainParams;
use std::path::PathBuf;

/// The least value of a transaction output, in units, that masters relay by default: the one
/// figure the node's policy and `bbchain --send` (which folds smaller change into the fee) share.
pub const DUST_UNITS: u64 = 1_000;
/// The least fee per byte masters relay by default, shared the same way.
pub const MIN_FEE_PER_BYTE: u64 = 1;

/// Limits that keep one node safe from heavy or hostile clients. Each has a test that crosses it.
///
/// Every limit is also a flag of `bbchain --start-master` (clap flattens this struct into the
/// command line), with its default in `--help`. A new limit is one field here: its doc comment
/// (the flag's help), its value in [`Default`], and
/// `#[arg(long, default_value_t = NodeLimits::default().FIELD)]` (a duration:
/// `#[arg(long, value_parser = humantime::parse_duration, default_value = "10s")]`).
/// `config::tests::the_flag_defaults_are_the_defaults` checks the two agree.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
#[command(next_help_heading = "Limits (--start-master)")]
pub struct NodeLimits {
    /// Largest HTTP request body in bytes (413 above it).
    #[arg(long, value_name = "BYTES", default_value_t = NodeLimits::default().max_body_bytes)]
    pub max_body_bytes: usize,
    /// Most data entries waiting for a block (503 when full).
    #[arg(long, value_name = "N", default_value_t = NodeLimits::default().max_pending)]
    pub max_pending: usize,
    /// Largest WebSocket message a client may send, in bytes (the socket is closed above it).
    #[arg(long, value_name = "BYTES", default_value_t = NodeLimits::default().max_ws_message_bytes)]
    pub max_ws_message_bytes: usize,
    /// Most open WebSocket connections, feed and events together (503 above it).
    #[arg(long, value_name = "N", default_value_t = NodeLimits::default().max_connections)]
    pub max_connections: usize,
    /// How long a /ws/mine socket may stay open without saying hello (then close code 1008).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, default_value = "10s")]
    pub hello_timeout: std::time::Duration,
    /// Largest transaction the node takes into its mempool and relays, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = NodeLimits::default().max_tx_bytes)]
    pub max_tx_bytes: usize,
    /// Most bytes of transactions in the mempool; when full, the lowest fee rate is evicted (or a
    /// new transaction paying less is refused with 503).
    #[arg(long, value_name = "BYTES", default_value_t = NodeLimits::default().max_mempool_bytes)]
    pub max_mempool_bytes: usize,
    /// The least fee a transaction pays per byte of its encoding, in units.
    #[arg(long, value_name = "UNITS", default_value_t = NodeLimits::default().min_fee_per_byte)]
    pub min_fee_per_byte: u64,
    /// Longest chain of pending transactions a new one may extend (itself included): it bounds
    /// the work of choosing a block's transactions, a child only after its parents.
    #[arg(long, value_name = "N", default_value_t = NodeLimits::default().max_pending_chain)]
    pub max_pending_chain: u32,
    /// The least value of a transaction output, in units: smaller outputs cost more to spend than
    /// they hold.
    #[arg(long, value_name = "UNITS", default_value_t = NodeLimits::default().dust_units)]
    pub dust_units: u64,
    /// The share of a block (percent) kept for free data entries before transactions take it; what
    /// either side leaves unused goes to the other.
    #[arg(long, value_name = "PERCENT", value_parser = percent, default_value_t = NodeLimits::default().data_share_percent)]
    pub data_share_percent: usize,
}

/// A whole percentage, 0 to 100.
fn percent(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if n <= 100 => Ok(n),
        _ => Err("it is a percentage: a whole number from 0 to 100".into()),
    }
}

impl Default for NodeLimits {
    fn default() -> Self {
        NodeLimits {
            max_body_bytes: 64 * 1024,
            max_pending: 100_000,
            max_ws_message_bytes: 4096,
            max_connections: 20_000,
            hello_timeout: std::time::Duration::from_secs(10),
            max_tx_bytes: 100_000,
            max_mempool_bytes: 5_000_000,
            min_fee_per_byte: MIN_FEE_PER_BYTE,
            max_pending_chain: 25,
            dust_units: DUST_UNITS,
            data_share_percent: 25,
        }
    }
}

/// Everything a master needs to start.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// The chain's rules.
    pub params: ChainParams,
    /// The database file.
    pub db_path: PathBuf,
    /// Other masters (`host:port`), kept for peer sync.
    pub peers: Vec<String>,
    /// Client limits.
    pub limits: NodeLimits,
    /// How long new data may wait before miners get a refreshed job.
    pub refresh_delay: std::time::Duration,
}

impl NodeConfig {
    /// A config with default limits.
    pub fn new(params: ChainParams, db_path: PathBuf) -> NodeConfig {
        NodeConfig {
            params,
            db_path,
            peers: Vec::new(),
            limits: NodeLimits::default(),
            refresh_delay: std::time::Duration::from_secs(1),
        }
    }
}

/// The data root: `--data-dir`, else `BBCHAIN_DATA_DIR` (clap reads both), else `<data_dir>/bbchain`.
pub fn default_data_root() -> PathBuf {
    dirs::data_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join("bbchain")
}

/// A master's own folder: `<data root>/<port>`, where `port` is the one it listens on. A master
/// started with `--port 0` listens on a port the system picks, so its data goes under that port
/// (and `--port <that port>` later finds it again).
pub fn node_dir(data_root: &std::path::Path, port: u16) -> PathBuf {
    data_root.join(port.to_string())
}

/// The database file inside a node folder.
pub fn db_file(node_dir: &std::path::Path) -> PathBuf {
    node_dir.join("chain.redb")
}

/// Read and write buffer of each WebSocket: feed messages are small, and ten thousand miners must
/// not cost a 128 KiB buffer each (tungstenite's default).
pub const WS_BUFFER_BYTES: usize = 4096;

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct LimitsOnly {
        #[command(flatten)]
        limits: NodeLimits,
    }

    fn parse(flags: &[&str]) -> Result<NodeLimits, clap::Error> {
        LimitsOnly::try_parse_from(std::iter::once("bbchain").chain(flags.iter().copied()))
            .map(|only| only.limits)
    }

    #[test]
    fn the_flag_defaults_are_the_defaults() {
        assert_eq!(parse(&[]).unwrap(), NodeLimits::default());
    }

    #[test]
    fn each_limit_is_set_by_its_flag() {
        let limits = parse(&[
            "--max-body-bytes",
            "100",
            "--hello-timeout",
            "1m 30s",
            "--data-share-percent",
            "40",
        ])
        .unwrap();
        assert_eq!(limits.max_body_bytes, 100);
        assert_eq!(limits.hello_timeout, std::time::Duration::from_secs(90));
        assert_eq!(limits.data_share_percent, 40);
        assert_eq!(limits.max_pending, NodeLimits::default().max_pending);
        for bad in [
            &["--data-share-percent", "101"][..],
            &["--hello-timeout", "10"],
            &["--max-body-bytes", "-1"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}
