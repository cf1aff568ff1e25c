//! Node settings: where the data lives, which chain, and every limit a client can run into.

use bbchain_core::ChainParams;
use std::path::PathBuf;

/// The dust limit and minimum fee rate masters relay by default, shared with the CLI's and the page's
/// wallets: they live in the core (`bbchain_core::transfer`).
pub use bbchain_core::transfer::{DUST_UNITS, MIN_FEE_PER_BYTE};

/// Limits that keep one node safe from heavy or hostile clients. Each has a test that crosses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeLimits {
    /// Largest HTTP request body (`413` above it).
    pub max_body_bytes: usize,
    /// Most data entries waiting for a block (`503` when full).
    pub max_pending: usize,
    /// Largest WebSocket message a client may send (the socket is closed above it).
    pub max_ws_message_bytes: usize,
    /// Most open WebSocket connections, feed and events together (`503` above it).
    pub max_connections: usize,
    /// How long a `/ws/mine` socket may stay open without saying hello (then close code 1008).
    pub hello_timeout: std::time::Duration,
    /// Largest transaction the node takes into its mempool and relays.
    pub max_tx_bytes: usize,
    /// Most bytes of transactions in the mempool; when full, the lowest fee rate is evicted (or a
    /// new transaction paying less is refused with `503`).
    pub max_mempool_bytes: usize,
    /// The least fee a transaction pays per byte of its encoding, in units.
    pub min_fee_per_byte: u64,
    /// Longest chain of pending transactions a new one may extend (itself included): it bounds
    /// the work of choosing a block's transactions, a child only after its parents.
    pub max_pending_chain: u32,
    /// The least value of a transaction output, in units: smaller outputs cost more to spend than
    /// they hold.
    pub dust_units: u64,
    /// The share of a block (percent) kept for free data entries before transactions take it; what
    /// either side leaves unused goes to the other.
    pub data_share_percent: usize,
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
