//! Node settings: where the data lives, which chain, and every limit a client can run into.

use bbchain_core::ChainParams;
use std::path::PathBuf;

/// The least value of a transaction output, in units, that masters relay by default: the one
/// figure the node's policy and `bbchain --send` (which folds smaller change into the fee) share.
pub const DUST_UNITS: u64 = 1_000;
/// The least fee per byte masters relay by default, shared the same way.
pub const MIN_FEE_PER_BYTE: u64 = 1;
/// What a queued data entry costs beyond its text, in bytes: its id and position, in memory and
/// on disk. Counted in the queue's byte bound and in the rate limits, so that tiny entries are
/// not free.
pub const PENDING_ENTRY_OVERHEAD: usize = 128;

/// Limits that keep one node safe from heavy or hostile clients. Each has a test that crosses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeLimits {
    /// Largest HTTP request body (`413` above it).
    pub max_body_bytes: usize,
    /// Most bytes of data entries waiting for a block, each counted as its text plus
    /// [`PENDING_ENTRY_OVERHEAD`] (`503` when full). Bytes, not entries: 4 KB entries and 1-byte
    /// entries fill the queue alike, and memory holds only each entry's id and size.
    pub max_pending_bytes: usize,
    /// Free data and transactions one source IP (an IPv6 address by its /64) may post over HTTP
    /// (`POST /api/data`, `POST /api/tx`), in bytes per second; each request costs its entry or transaction plus
    /// [`PENDING_ENTRY_OVERHEAD`]. Above it: `429` with `Retry-After`.
    pub ip_rate_bytes_per_sec: u32,
    /// What one source IP may post at once before [`NodeLimits::ip_rate_bytes_per_sec`] applies.
    pub ip_burst_bytes: u32,
    /// Most source IPs the HTTP rate limiter remembers; when full, IPs that are back to a full
    /// burst are forgotten first, and newcomers beyond it share one bucket.
    pub rate_limited_ips: usize,
    /// Data and transactions one peer link may gossip, in bytes per second (same cost as above).
    /// A peer above it is misbehaving and is cut.
    pub link_rate_bytes_per_sec: u32,
    /// What one peer link may gossip at once before [`NodeLimits::link_rate_bytes_per_sec`]
    /// applies. A master offers at most a quarter of it per round, so honest offers never trip it.
    pub link_burst_bytes: u32,
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
            // 32 MiB: 32 blocks of nothing but data, about 5 minutes of blocks at 10 s, or 21
            // minutes at the data share of a block (25%). Enough for bursts of real use; a flood
            // can hold the queue full for minutes, no longer, and the disk and memory it costs stay
            // small.
            max_pending_bytes: 32 << 20,
            // 4 KiB/s with a 64 KiB burst: a person or a script adding entries one at a time never
            // meets it; one address cannot fill the queue (32 MiB) in under two hours.
            ip_rate_bytes_per_sec: 4 << 10,
            ip_burst_bytes: 64 << 10,
            rate_limited_ips: 10_000,
            // An honest master relays at most its whole queue and mempool at once (the burst:
            // 32 MiB + 5 MB, rounded up), then what blocks take out of them, under 100 KB/s (a
            // full block per 10 s): ten times that is the rate. The flood of issue 11 (400 MB in
            // 10 s over one link, 40 MB/s) is cut within a second of the burst.
            link_rate_bytes_per_sec: 1 << 20,
            link_burst_bytes: 40 << 20,
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
