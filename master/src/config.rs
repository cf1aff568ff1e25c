//! Node settings: where the data lives, which chain, and every limit a client can run into.

use bbchain_core::ChainParams;
use std::path::PathBuf;

/// The dust limit and minimum fee rate masters relay by default, shared with the CLI's and the page's
/// wallets: they live in the core (`bbchain_core::transfer`).
pub use bbchain_core::transfer::{DUST_UNITS, MIN_FEE_PER_BYTE};
/// What a queued data entry costs beyond its text, in bytes: its id and position, in memory and
/// on disk. Counted in the queue's byte bound and in the rate limits, so that tiny entries are
/// not free.
pub const PENDING_ENTRY_OVERHEAD: usize = 128;

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
    /// Most bytes of data entries waiting for a block, each counted as its text plus
    /// [`PENDING_ENTRY_OVERHEAD`] (`503` when full). Bytes, not entries: 4 KB entries and 1-byte
    /// entries fill the queue alike, and memory holds only each entry's id and size.
    #[arg(long, value_name = "BYTES", default_value_t = NodeLimits::default().max_pending_bytes)]
    pub max_pending_bytes: usize,
    /// Free data and transactions one source IP (an IPv6 address by its /64) may post over HTTP
    /// (`POST /api/data`, `POST /api/tx`), in bytes per second; each request costs its entry or transaction plus
    /// [`PENDING_ENTRY_OVERHEAD`]. Above it: `429` with `Retry-After`.
    #[arg(long, value_name = "BYTES", default_value_t = NodeLimits::default().ip_rate_bytes_per_sec)]
    pub ip_rate_bytes_per_sec: u32,
    /// What one source IP may post at once before [`NodeLimits::ip_rate_bytes_per_sec`] applies.
    #[arg(long, value_name = "BYTES", default_value_t = NodeLimits::default().ip_burst_bytes)]
    pub ip_burst_bytes: u32,
    /// Most source IPs the HTTP rate limiter remembers; when full, IPs that are back to a full
    /// burst are forgotten first, and newcomers beyond it share one bucket.
    #[arg(long, value_name = "IPS", default_value_t = NodeLimits::default().rate_limited_ips)]
    pub rate_limited_ips: usize,
    /// Data and transactions one peer link may gossip, in bytes per second (same cost as above).
    /// A peer above it is misbehaving and is cut.
    #[arg(long, value_name = "BYTES", default_value_t = NodeLimits::default().link_rate_bytes_per_sec)]
    pub link_rate_bytes_per_sec: u32,
    /// What one peer link may gossip at once before [`NodeLimits::link_rate_bytes_per_sec`]
    /// applies. A master offers at most a quarter of it per round, so honest offers never trip it.
    #[arg(long, value_name = "BYTES", default_value_t = NodeLimits::default().link_burst_bytes)]
    pub link_burst_bytes: u32,
    /// Largest WebSocket message a client may send (the socket is closed above it).
    #[arg(long, value_name = "BYTES", default_value_t = NodeLimits::default().max_ws_message_bytes)]
    pub max_ws_message_bytes: usize,
    /// Most open WebSocket connections, feed and events together (`503` above it). At start it is
    /// lowered to fit the open-file limit ([`crate::conn_limit::sized`]): at most
    /// `max_tcp_connections - api_reserve`.
    #[arg(long, value_name = "N", default_value_t = NodeLimits::default().max_connections)]
    pub max_connections: usize,
    /// How long a `/ws/mine` or `/ws/peer` socket may stay open without saying hello (then close
    /// code 1008 on the feed, a `reject` on a peer link), and a Stratum connection without
    /// `mining.subscribe` and `mining.authorize` (then it is closed).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, default_value = "10s")]
    pub hello_timeout: std::time::Duration,
    /// Most TCP connections open at once, of every kind (`503` and close above it). At start it is
    /// lowered to the open-file limit less `fd_reserve`.
    #[arg(long, value_name = "N", default_value_t = NodeLimits::default().max_tcp_connections)]
    pub max_tcp_connections: usize,
    /// Descriptors never given to client connections: the database, the log, outbound peer links,
    /// the runtime and the `503` answers themselves.
    #[arg(long, value_name = "N", default_value_t = NodeLimits::default().fd_reserve)]
    pub fd_reserve: usize,
    /// Connections kept for the API and the page: WebSockets never take them, and while they are
    /// all that is left, an address gets one only if it holds no other HTTP connection. At start
    /// it is lowered to a quarter of `max_tcp_connections` at most.
    #[arg(long, value_name = "N", default_value_t = NodeLimits::default().api_reserve)]
    pub api_reserve: usize,
    /// Most plain HTTP connections (keep-alive and `/ws/peer` included) one client address holds.
    #[arg(long, value_name = "N", default_value_t = NodeLimits::default().max_http_per_ip)]
    pub max_http_per_ip: usize,
    /// Most feed and event WebSockets one client address holds.
    #[arg(long, value_name = "N", default_value_t = NodeLimits::default().max_ws_per_ip)]
    pub max_ws_per_ip: usize,
    /// Addresses no per-address limit applies to: this machine itself (its operator, or a reverse
    /// proxy in front of the master, through which every client would share one address).
    #[arg(long, value_name = "IP,...", value_delimiter = ',', default_values_t = NodeLimits::default().per_ip_exempt)]
    pub per_ip_exempt: Vec<std::net::IpAddr>,
    /// Names, besides IP addresses and localhost, that a page may reach this master by (its
    /// writes and WebSockets are refused otherwise, against DNS rebinding: see `host_check`);
    /// `*` allows any name.
    #[arg(long, value_name = "NAME,...", value_delimiter = ',')]
    pub allow_host: Vec<String>,
    /// How long a client has to send a request's headers, from the connection's start or the
    /// end of the previous answer (then the connection is closed).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, default_value = "10s")]
    pub header_read_timeout: std::time::Duration,
    /// How long a request may take from its headers to its answer, its body included (`408`).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, default_value = "30s")]
    pub request_timeout: std::time::Duration,
    /// How long a keep-alive connection with no request in progress may stay silent.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, default_value = "5s")]
    pub idle_timeout: std::time::Duration,
    /// How often a WebSocket (feed, events, peer link) is pinged.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, default_value = "20s")]
    pub ws_ping_interval: std::time::Duration,
    /// How long a WebSocket may stay silent (no message, no pong) before it is dropped.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, default_value = "60s")]
    pub ws_idle_timeout: std::time::Duration,
    /// How long one message to a feed or event socket may take to go out; a client that does not
    /// read is dropped after it.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, default_value = "10s")]
    pub ws_send_timeout: std::time::Duration,
    /// Most bytes read from a `/ws/peer` socket before its hello has been checked: until then the
    /// socket is not read further, so a stranger cannot make the master buffer a large frame.
    #[arg(long, value_name = "BYTES", default_value_t = NodeLimits::default().max_peer_hello_bytes)]
    pub max_peer_hello_bytes: usize,
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
    /// Longest line (one JSON-RPC message) a Stratum client may send, in bytes; a longer one
    /// closes the connection.
    #[arg(long, value_name = "BYTES", default_value_t = NodeLimits::default().max_stratum_line_bytes)]
    pub max_stratum_line_bytes: usize,
    /// Most Stratum messages in a row that get an error (malformed JSON, unknown method, a refused
    /// share; not a stale one) before the connection is closed as abusive; an accepted share
    /// starts the count again.
    #[arg(long, value_name = "N", default_value_t = NodeLimits::default().stratum_max_errors_in_row)]
    pub stratum_max_errors_in_row: u32,
    /// How long a Stratum connection may stay silent (no message at all) before it is closed.
    /// Vardiff asks for a share every few seconds, so only a dead or stuck miner meets it.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, default_value = "10m")]
    pub stratum_idle_timeout: std::time::Duration,
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
            max_tcp_connections: 25_000,
            fd_reserve: 128,
            api_reserve: 256,
            max_http_per_ip: 64,
            max_ws_per_ip: 1_000,
            per_ip_exempt: vec![
                std::net::Ipv4Addr::LOCALHOST.into(),
                std::net::Ipv6Addr::LOCALHOST.into(),
            ],
            allow_host: Vec::new(),
            header_read_timeout: std::time::Duration::from_secs(10),
            request_timeout: std::time::Duration::from_secs(30),
            idle_timeout: std::time::Duration::from_secs(5),
            ws_ping_interval: std::time::Duration::from_secs(20),
            ws_idle_timeout: std::time::Duration::from_secs(60),
            ws_send_timeout: std::time::Duration::from_secs(10),
            max_peer_hello_bytes: 16 * 1024,
            max_tx_bytes: 100_000,
            max_mempool_bytes: 5_000_000,
            min_fee_per_byte: MIN_FEE_PER_BYTE,
            max_pending_chain: 25,
            dust_units: DUST_UNITS,
            data_share_percent: 25,
            // A `mining.submit` is about 150 bytes, an authorize with a long worker name some 200.
            max_stratum_line_bytes: 4096,
            // Stale shares after a new tip come a few at a time; a hundred errors without one
            // good share is a broken or hostile client.
            stratum_max_errors_in_row: 100,
            stratum_idle_timeout: std::time::Duration::from_secs(600),
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
    /// Where to listen for Stratum V1 miners (`--stratum-port`); none: no Stratum.
    pub stratum_addr: Option<std::net::SocketAddr>,
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
            stratum_addr: None,
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

/// First pause before the chain writer reopens the database after a storage error (a full disk);
/// the pauses double up to [`STORAGE_RETRY_MAX`] while it keeps failing.
pub const STORAGE_RETRY_FIRST: std::time::Duration = std::time::Duration::from_millis(250);
/// Longest pause between two attempts to reopen a failed database: how long a node may stay
/// read-only after space came back.
pub const STORAGE_RETRY_MAX: std::time::Duration = std::time::Duration::from_secs(5);

/// Peer links (`/ws/peer`): how many, from where, and how misbehaviour is paid for. Not per node:
/// every master of a network should keep the same rules.
pub mod peer_limits {
    use std::time::Duration;

    /// Most addresses a master remembers (from `--nodes` and peer lists).
    pub const MAX_KNOWN: usize = 256;
    /// Most addresses learned from peers that a master dials at once; `--nodes` addresses are
    /// dialed on top of these, so peer lists never crowd them out.
    pub const MAX_OUTBOUND: usize = 16;
    /// Most linked masters that dialed us. Links we dialed have their own budget
    /// (`MAX_OUTBOUND` plus the `--nodes` list), which inbound traffic cannot take.
    pub const MAX_INBOUND_LINKS: usize = 48;
    /// Most `/ws/peer` sockets that dialed us open at once, linked or still before `hello`.
    pub const MAX_INBOUND_SOCKETS: usize = 128;
    /// Most of those sockets from one IP address, so one address cannot take every slot.
    pub const MAX_INBOUND_SOCKETS_PER_IP: usize = 8;
    /// A learned address that fails this many dials in a row without ever completing a handshake
    /// is forgotten (`--nodes` addresses never are).
    pub const FORGET_AFTER_FAILURES: u32 = 5;
    /// The first pause before dialing an address again, and the longest.
    pub const REDIAL_FIRST: Duration = Duration::from_secs(1);
    pub const REDIAL_MAX: Duration = Duration::from_secs(60);
    /// How long an IP address that misbehaved is refused.
    pub const BAN_DURATION: Duration = Duration::from_secs(10 * 60);
    /// Loopback addresses and the `--nodes` masters are never banned for `BAN_DURATION`: a
    /// misbehaving link is dropped and the address refused for this long, doubling with each
    /// offence up to `PROTECTED_BAN_MAX`.
    pub const PROTECTED_BAN_FIRST: Duration = Duration::from_secs(30);
    pub const PROTECTED_BAN_MAX: Duration = Duration::from_secs(5 * 60);
    /// Offences are forgotten after this long without a new one.
    pub const OFFENCE_MEMORY: Duration = Duration::from_secs(60 * 60);
    /// Most IP addresses the ban list remembers.
    pub const MAX_BAN_ENTRIES: usize = 4096;
    /// Two masters that dial each other at once end up with two links; within this long of the
    /// first, a second link with the same `nonce` from the same IP may replace it (the one dialed
    /// by the smaller nonce wins on both sides). After that a working link is never replaced.
    pub const CROSSED_DIAL_WINDOW: Duration = Duration::from_secs(10);
    /// Every this long a link asks its peer for its peers (`get_peers`), so a working link is
    /// never silent for long.
    pub const LINK_KEEPALIVE: Duration = Duration::from_secs(30);
    /// A link that heard nothing for this long counts as dead: the same master (same nonce, same
    /// IP) linking again replaces it.
    pub const LINK_SILENCE: Duration = Duration::from_secs(90);
}

/// The Stratum endpoint (`--stratum-port`): job freshness and share difficulty. Not per node: they
/// follow from what real miners expect (docs/protocol.md, "Stratum").
pub mod stratum_limits {
    use std::time::Duration;

    /// Bytes of extranonce2 a miner rolls (cpuminer takes 1 to 100, cpuminer-opt 2 to 16). With the
    /// 4 bytes of extranonce1 they make the coinbase's 8-byte extra nonce.
    pub const EXTRANONCE2_BYTES: usize = 4;
    /// A connection gets a fresh `mining.notify` at least this often, even without a new tip:
    /// cpuminer stops hashing after 120 s without a new job id.
    pub const JOB_REFRESH: Duration = Duration::from_secs(30);
    /// Jobs a connection remembers on the current tip; a share for an older one is stale (21).
    pub const JOBS_KEPT: usize = 16;
    /// Vardiff aims at one share per this long from each connection.
    pub const SHARE_INTERVAL: Duration = Duration::from_secs(5);
    /// Vardiff looks again after this many shares, or after [`RETARGET_AFTER`], whichever is first.
    pub const RETARGET_SHARES: u32 = 8;
    pub const RETARGET_AFTER: Duration = Duration::from_secs(30);
    /// Most a difficulty moves in one retarget, up or down (a factor).
    pub const MAX_RETARGET_FACTOR: f64 = 4.0;
    /// A retarget that would move the difficulty by less than this fraction leaves it alone.
    pub const RETARGET_DEADBAND: f64 = 0.2;
    /// The first share difficulty of a connection: about 4 million hashes (2^22), a second or so
    /// of one CPU core. `mining.suggest_difficulty` replaces it.
    pub const START_DIFFICULTY: f64 = 1.0 / 1024.0;
    /// The easiest share difficulty vardiff goes to: 2^-32. cpuminer turns a difficulty into a
    /// 64-bit figure `0xffff0000 / D`, which overflows below about 2^-32. (A share is never harder
    /// than a block: on the dev chain, about 2^-31, every share is a block.)
    pub const MIN_DIFFICULTY: f64 = 1.0 / 4_294_967_296.0;
}

/// Sockets at most being told `503` at once (each kept up to [`REFUSAL_LINGER`] so the client reads
/// the answer before the close); past it a refused socket is closed straight after the answer.
pub const MAX_REFUSING: usize = 32;
/// How long a refused socket is kept to let the client read its `503`.
pub const REFUSAL_LINGER: std::time::Duration = std::time::Duration::from_secs(1);
/// The pause after a failed `accept` (out of descriptors, say) before the next one.
pub const ACCEPT_ERROR_PAUSE: std::time::Duration = std::time::Duration::from_millis(100);

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
            "--allow-host",
            "node.example,other.example",
        ])
        .unwrap();
        assert_eq!(limits.allow_host, ["node.example", "other.example"]);
        assert_eq!(limits.max_body_bytes, 100);
        assert_eq!(limits.hello_timeout, std::time::Duration::from_secs(90));
        assert_eq!(limits.data_share_percent, 40);
        assert_eq!(
            limits.max_pending_bytes,
            NodeLimits::default().max_pending_bytes
        );
        for bad in [
            &["--data-share-percent", "101"][..],
            &["--hello-timeout", "10"],
            &["--max-body-bytes", "-1"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}
