//! Master-to-master links: the `/ws/peer` route, outgoing links with reconnect backoff, the address
//! book ([`book`]), bans by IP ([`bans`]), socket slots per IP ([`slots`]), and the relay of new blocks and data entries to every linked master.
//!
//! Each link runs [`link::run`]: a handshake (network id, genesis, listening port), then
//! headers-first sync ([`sync_state::SyncState`]) and gossip. The links of a master share one
//! download scheduler ([`downloads::Scheduler`]), so each block is downloaded from one peer only.
//! Blocks from peers go through [`Node::submit_blocks`], the same path as a miner's submit, so the
//! chain writer alone decides the main chain (most cumulative work).
//!
//! ```text
//! node events --relay--> every link's outbox --> socket
//! socket --> link --> node.submit_block / node.add_data / answers to the peer's requests
//! ```

mod answers;
mod bans;
mod book;
pub mod downloads;
mod gossip;
mod handshake;
pub mod headers;
mod link;
mod link_end;
mod outbox;
mod registry;
mod slots;
mod socket;
pub mod sync;
pub mod sync_state;

pub use registry::Peers;

use crate::addr::check_node_addr;
use crate::conn_limit::ConnTicket;
use crate::keepalive::KeepAliveTimes;
use crate::node::{Node, NodeEvent};
use axum::Router;
use axum::extract::State;
use axum::extract::connect_info::ConnectInfo;
use axum::extract::ws::WebSocketUpgrade;
use axum::http::Extensions;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bbchain_core::DataId;
use bbchain_core::hash::Txid;
use bbchain_core::peer::{MAX_DATA_ENTRIES, MAX_GOSSIP_TXS, MAX_PEER_MESSAGE_BYTES, PeerMessage};
use book::{Dialed, Source};
use slots::Slot;
use socket::LinkIo;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

/// A link that stayed up this long resets the redial delay.
const LASTING_LINK: Duration = Duration::from_secs(10);
/// How long to wait for a dialed master to answer.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

impl Peers {
    /// Starts peer sync for `node`, which accepts peers on `listen_port`, and dials `seeds`
    /// (`host:port`, as given with `--nodes`), until `stop` is cancelled; its tasks go on `tasks`.
    /// Needs a tokio runtime.
    pub fn start(
        node: Node,
        listen_port: u16,
        seeds: &[String],
        stop: CancellationToken,
        tasks: TaskTracker,
    ) -> Peers {
        let peers = Peers::new(node, listen_port, stop, tasks);
        peers.inner.tasks.spawn(relay(peers.clone()));
        for seed in seeds {
            peers.add_seed(seed);
        }
        peers
    }

    /// The `/ws/peer` route, to merge into the master's router. The server must be run with
    /// `into_make_service_with_connect_info::<SocketAddr>()` so inbound peers are known by their IP.
    pub fn routes(&self) -> Router {
        Router::new()
            .route("/ws/peer", get(accept))
            .route("/api/sync", get(sync_stats))
            .with_state(self.clone())
    }

    /// Remembers a `--nodes` address and dials it for as long as the master runs.
    fn add_seed(&self, addr: &str) {
        let addr = addr.trim();
        if check_node_addr(addr).is_err() {
            return;
        }
        self.inner.state.lock().expect("lock").book.add_seed(addr);
        self.dial_more();
    }

    /// Remembers an address a peer named, and dials it if there is room (see [`book`]).
    fn learn(&self, addr: &str, from: Source) {
        let addr = addr.trim();
        let taken = {
            let mut state = self.inner.state.lock().expect("lock");
            if state.myself.contains(addr) {
                return;
            }
            state.book.learn(addr, from)
        };
        match taken {
            Ok(()) => self.dial_more(),
            Err(why) => tracing::debug!("peer address {addr:?} not taken: {why:?}"),
        }
    }

    /// Starts a dial loop for each address the book wants dialed now.
    fn dial_more(&self) {
        if self.inner.stop.is_cancelled() {
            return;
        }
        let addrs = self.inner.state.lock().expect("lock").book.start_dialing();
        for addr in addrs {
            self.inner.tasks.spawn(dial(self.clone(), addr));
        }
    }

    /// How a dial of `addr` went; the pause before the next, `None` when it is forgotten.
    fn dialed(&self, addr: &str, how: Dialed) -> Option<Duration> {
        self.inner
            .state
            .lock()
            .expect("lock")
            .book
            .dialed(addr, how)
    }

    /// `addr` resolved to `ip`: a `--nodes` master's IP is protected from long bans.
    fn resolved(&self, addr: &str, ip: std::net::IpAddr) {
        let mut state = self.inner.state.lock().expect("lock");
        if state.book.is_seed(addr) {
            state.protected.insert(ip);
        }
    }
}

/// `GET /api/sync`: how many blocks peer sync downloaded, and how many came twice.
async fn sync_stats(State(peers): State<Peers>) -> axum::Json<downloads::DownloadStats> {
    axum::Json(peers.inner.scheduler.stats())
}

/// `GET /ws/peer`: a master dialing us. Refused with `403` while its IP is banned, and with `503`
/// when too many peer sockets are open, in all or from its IP.
async fn accept(
    State(peers): State<Peers>,
    extensions: Extensions,
    headers: axum::http::HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    // Masters send no `Origin`; a web page always does, and has no business linking as a peer.
    if headers.contains_key(axum::http::header::ORIGIN) {
        let error = "a web page cannot link as a peer";
        return (
            StatusCode::FORBIDDEN,
            axum::Json(serde_json::json!({ "error": error })),
        )
            .into_response();
    }
    let remote = extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0)
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
    // Refused by the IP the socket really comes from, whatever port it will claim.
    if let Some(until) = peers.banned_until(remote.ip()) {
        let left = until.saturating_duration_since(Instant::now()).as_secs() + 1;
        let error = format!("banned for misbehaving ({left} s left)");
        return (
            StatusCode::FORBIDDEN,
            axum::Json(serde_json::json!({ "error": error })),
        )
            .into_response();
    }
    let permit = match Slot::take(&peers.inner.inbound_sockets, remote.ip()) {
        Ok(slot) => slot,
        Err(full) => {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(serde_json::json!({ "error": full.to_string() })),
            )
                .into_response();
        }
    };
    // Counts as one of the master's tasks until the link ends.
    let tracked = peers.inner.tasks.token();
    // A stranger's socket is read no further than a hello until that hello has been checked.
    let limits = peers.node().limits();
    let connection = extensions.get::<ConnTicket>().cloned();
    if let Some(connection) = &connection {
        connection.limit_reads(limits.max_peer_hello_bytes);
    }
    let times = KeepAliveTimes::of(limits);
    ws.max_message_size(MAX_PEER_MESSAGE_BYTES)
        .max_frame_size(MAX_PEER_MESSAGE_BYTES)
        .on_upgrade(move |socket| async move {
            let mut io = LinkIo::new(socket, times);
            io.before_hello = connection;
            let span = tracing::info_span!("peer", addr = %remote, direction = "in");
            link::run(peers, io, link::Direction::Inbound(remote))
                .instrument(span)
                .await;
            drop((permit, tracked));
        })
}

/// Keeps a link to `addr` up: dials, runs the link, waits (with backoff), dials again, until the
/// address book forgets `addr`; then another address may be dialed in its place.
async fn dial(peers: Peers, addr: String) {
    tokio::select! {
        () = dial_loop(peers.clone(), addr.clone()) => {}
        () = peers.stopped() => {}
    }
    peers
        .inner
        .state
        .lock()
        .expect("lock")
        .book
        .dial_ended(&addr);
    peers.dial_more();
}

async fn dial_loop(peers: Peers, addr: String) {
    loop {
        {
            let state = peers.inner.state.lock().expect("lock");
            if state.myself.contains(&addr) || !state.book.contains(&addr) {
                break;
            }
        }
        let how = match resolve(&addr).await {
            Err(err) => {
                tracing::debug!("cannot resolve peer {addr}: {err:#}");
                Dialed::Failed
            }
            Ok(target) => {
                peers.resolved(&addr, target.ip());
                if let Some(until) = peers.banned_until(target.ip()) {
                    tokio::time::sleep_until(until.into()).await;
                    continue;
                }
                if peers.is_linked(&addr) {
                    // Linked the other way round (it dialed us): check again later.
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    continue;
                }
                match connect(target, KeepAliveTimes::of(peers.node().limits())).await {
                    Ok(io) => {
                        let started = Instant::now();
                        let direction = link::Direction::Outbound {
                            addr: addr.clone(),
                            remote: target,
                        };
                        // Only a link that lasted resets the delay: a peer that hangs up at once
                        // (it banned us, or we are a duplicate) is not dialed in a tight loop.
                        let span = tracing::info_span!("peer", addr = %addr, direction = "out");
                        if link::run(peers.clone(), io, direction)
                            .instrument(span)
                            .await
                        {
                            Dialed::Linked {
                                lasted: started.elapsed() >= LASTING_LINK,
                            }
                        } else {
                            Dialed::Failed
                        }
                    }
                    Err(err) => {
                        tracing::debug!("cannot reach peer {addr}: {err:#}");
                        Dialed::Failed
                    }
                }
            }
        };
        let Some(pause) = peers.dialed(&addr, how) else {
            tracing::info!("peer address {addr} forgotten: it never answered as a master");
            break;
        };
        tokio::time::sleep(pause).await;
    }
}

/// The socket address `addr` (`host:port`) names: the first its lookup gives.
async fn resolve(addr: &str) -> anyhow::Result<SocketAddr> {
    if let Ok(socket) = addr.parse() {
        return Ok(socket);
    }
    tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::lookup_host(addr))
        .await
        .map_err(|_| anyhow::anyhow!("lookup timed out"))??
        .next()
        .ok_or_else(|| anyhow::anyhow!("no address"))
}

/// Opens a WebSocket to `ws://target/ws/peer`.
async fn connect(target: SocketAddr, times: KeepAliveTimes) -> anyhow::Result<LinkIo> {
    use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_PEER_MESSAGE_BYTES))
        .max_frame_size(Some(MAX_PEER_MESSAGE_BYTES));
    let url = format!("ws://{target}/ws/peer");
    let (socket, _) = tokio::time::timeout(
        CONNECT_TIMEOUT,
        tokio_tungstenite::connect_async_with_config(url, Some(config), true),
    )
    .await
    .map_err(|_| anyhow::anyhow!("timed out"))??;
    Ok(LinkIo::new(socket, times))
}

/// Relays node events to every link: the new tip as it changes, and newly queued data entries.
async fn relay(peers: Peers) {
    let mut events = peers.node().subscribe();
    loop {
        let event = tokio::select! {
            () = peers.stopped() => return,
            event = events.recv() => event,
        };
        let event = match event {
            Ok(event) => event,
            Err(broadcast::error::RecvError::Lagged(_)) => {
                relay_tip(&peers);
                continue;
            }
            Err(broadcast::error::RecvError::Closed) => return,
        };
        match event {
            // While blocks stream in (sync, reorg) only the newest one is worth announcing.
            NodeEvent::BlockConnected { block, .. }
                if peers.node().snapshot().tip == block.hash() =>
            {
                relay_tip(&peers);
            }
            NodeEvent::TxAdded { txid } => {
                let mut txids = vec![txid];
                while txids.len() < MAX_GOSSIP_TXS {
                    match events.try_recv() {
                        Ok(NodeEvent::TxAdded { txid }) => txids.push(txid),
                        Ok(NodeEvent::BlockConnected { block, .. }) => {
                            if peers.node().snapshot().tip == block.hash() {
                                relay_tip(&peers);
                            }
                        }
                        Ok(_) => {}
                        Err(_) => break,
                    }
                }
                relay_txs(&peers, &txids);
            }
            NodeEvent::DataAdded { id } => {
                let mut ids = vec![id];
                while ids.len() < MAX_DATA_ENTRIES {
                    match events.try_recv() {
                        Ok(NodeEvent::DataAdded { id }) => ids.push(id),
                        Ok(NodeEvent::BlockConnected { block, .. }) => {
                            if peers.node().snapshot().tip == block.hash() {
                                relay_tip(&peers);
                            }
                        }
                        Ok(_) => {}
                        Err(_) => break,
                    }
                }
                relay_data(&peers, &ids);
            }
            _ => {}
        }
    }
}

fn relay_tip(peers: &Peers) {
    let snapshot = peers.node().snapshot();
    let block = match peers.node().block(&snapshot.tip) {
        Ok(Some(block)) => block,
        Ok(None) => return,
        Err(err) => {
            tracing::error!("cannot read the tip to relay it: {err:#}");
            return;
        }
    };
    let message = PeerMessage::NewBlock {
        block,
        height: snapshot.height,
        chainwork: snapshot.chainwork,
    };
    peers.broadcast(&link_end::encode(&message));
}

fn relay_txs(peers: &Peers, txids: &[Txid]) {
    let txs: Vec<String> = txids
        .iter()
        .filter_map(|txid| peers.node().pending_tx(txid))
        .map(|tx| hex::encode(tx.to_bytes()))
        .collect();
    if !txs.is_empty() {
        peers.broadcast(&link_end::encode(&PeerMessage::Txs { txs }));
    }
}

fn relay_data(peers: &Peers, ids: &[DataId]) {
    let mut entries = Vec::with_capacity(ids.len());
    for id in ids {
        match peers.node().pending_text(id) {
            Ok(Some(text)) => entries.push(text),
            Ok(None) => {}
            Err(err) => tracing::error!("cannot read data entry {id}: {err:#}"),
        }
    }
    if !entries.is_empty() {
        peers.broadcast(&link_end::encode(&PeerMessage::Data { entries }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::NodeConfig;
    use crate::peer::headers::{header_work, trail_at};
    use bbchain_core::Work;
    use bbchain_core::{BlockHash, ChainParams};

    /// Mines `count` blocks on the stored block `parent`, handing each to the node.
    async fn mine_on(node: &Node, parent: BlockHash, count: u32, miner: &str) -> Vec<BlockHash> {
        let params = node.params().clone();
        let mut trail = trail_at(node, &parent).unwrap().unwrap();
        let mut hashes = Vec::new();
        for i in 0..count {
            let time = crate::clock::unix_now() - 1000 + trail.height * 10 + i;
            let block = crate::dev::generate::mine_child(&mut trail, &params, time, miner);
            trail.push(&block.header, &params, u32::MAX).unwrap();
            hashes.push(block.hash());
            node.submit_block(block).await.unwrap();
        }
        hashes
    }

    fn work_of(node: &Node, hashes: &[BlockHash]) -> Work {
        hashes.iter().fold(Work::ZERO, |sum, hash| {
            sum + header_work(&node.block(hash).unwrap().unwrap().header)
        })
    }

    #[tokio::test]
    async fn chainwork_of_main_and_side_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let params = ChainParams::dev();
        let genesis = params.genesis_hash();
        let (node, task) =
            Node::start(NodeConfig::new(params, dir.path().join("chain.redb"))).unwrap();
        let main = mine_on(&node, genesis, 3, "main").await;
        let side = mine_on(&node, main[0], 1, "side").await;
        let snapshot = node.snapshot();
        assert_eq!(snapshot.tip, main[2], "the longer branch is the main chain");

        let at = |hash: &BlockHash| node.chainwork(hash).unwrap().unwrap();
        assert_eq!(at(&main[2]), snapshot.chainwork);
        assert_eq!(at(&genesis) + work_of(&node, &main), snapshot.chainwork);
        assert_eq!(at(&side[0]), at(&main[0]) + work_of(&node, &side));
        assert!(at(&side[0]) < snapshot.chainwork);
        assert_eq!(
            node.chainwork(&BlockHash::from_byte_array([7; 32]))
                .unwrap(),
            None
        );
        drop(node);
        tokio::task::spawn_blocking(move || task.shutdown())
            .await
            .unwrap();
    }
}
