//! The node handle: the one way into the chain state for the API, the work feed and peer sync.
//!
//! Writes (blocks, data) go as commands to a single writer thread ([`writer`]) that groups whatever
//! arrived together into one database commit and answers only after that commit. Reads go straight
//! to redb read transactions or to the snapshot and template the writer publishes after each commit.
//!
//! ```text
//! submit_block / add_data --> writer thread --> redb commit --> replies
//!                                         \--> snapshot (watch), template (watch), events (broadcast)
//! ```

mod chain_state;
mod coins;
#[cfg(test)]
mod disk_tests;
pub mod ledger;
mod mempool;
mod outcomes;
mod pool_index;
mod sig_check;
pub mod template;
mod writer;

pub use chain_state::TxAdded;
pub use coins::{ADDRESS_TXS, AddressInfo, AddressUtxo, TxDetail, TxStatus};
pub use outcomes::{
    AddDataError, AddTxError, ChainSnapshot, DataStatus, NodeEvent, StorageHealth, SubmitError,
    SubmitOutcome, check_data,
};
pub use template::BlockTemplate;
use writer::Command;

use crate::config::{NodeConfig, NodeLimits};
use crate::rate_limit::{IpLimiter, Rate};
use crate::store::{BlockInfo, IndexRecord, OpenError, Store};
use bbchain_core::chain::{BranchAnchor, recent_times};
use bbchain_core::peer::locator_heights;
use bbchain_core::validation::check_block;
use bbchain_core::{Block, BlockHash, ChainParams, DataId, Header, Work};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use tokio::sync::{broadcast, oneshot, watch};

/// A stored block as the parent of blocks or headers still to check (see [`Node::parent_context`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParentContext {
    /// Its height.
    pub height: u32,
    /// Block 1 of its branch; `None` for genesis.
    pub anchor: Option<BranchAnchor>,
    /// Times of it and its ancestors, newest first (up to 11).
    pub recent_times: Vec<u32>,
}

/// A connected miner, for `/api/nodes`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MinerInfo {
    /// Name from its hello.
    pub name: String,
    /// Agent from its hello.
    pub agent: String,
}

/// Which way a miner gets its work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MinerFeed {
    /// The WebSocket feed `/ws/mine`.
    Ws,
    /// The Stratum V1 endpoint (`--stratum-port`).
    Stratum,
}

/// A connected miner as `/api/nodes` lists it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MinerListing {
    /// Name and agent.
    #[serde(flatten)]
    pub info: MinerInfo,
    /// Its feed.
    pub feed: MinerFeed,
    /// Hashes per second, estimated from its shares (Stratum miners only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hashrate: Option<f64>,
}

struct Shared {
    params: ChainParams,
    limits: NodeLimits,
    store: Arc<Store>,
    commands: Mutex<Option<mpsc::Sender<Command>>>,
    events: broadcast::Sender<NodeEvent>,
    snapshot: watch::Receiver<Arc<ChainSnapshot>>,
    template: watch::Receiver<Arc<BlockTemplate>>,
    /// Whether the database takes writes (the writer reopens it after a failure).
    storage: watch::Receiver<StorageHealth>,
    miners: Mutex<BTreeMap<u64, MinerListing>>,
    /// The mempool as of the last commit.
    pool: Arc<Mutex<pool_index::PoolIndex>>,
    /// Signatures known to verify, shared with the writer.
    sig_cache: sig_check::SharedSigCache,
    /// The genesis hash, which every signature commits to.
    genesis: BlockHash,
    /// Masters linked right now (kept up to date by `peer`).
    linked: Mutex<Vec<String>>,
    next_id: AtomicU64,
    /// What each source address may still post over HTTP.
    intake: IpLimiter,
}

/// A cheap, cloneable handle on a running node.
#[derive(Clone)]
pub struct Node {
    shared: Arc<Shared>,
}

/// Owns the writer thread; [`NodeTask::shutdown`] finishes the pending commits and stops it.
pub struct NodeTask {
    node: Node,
    thread: std::thread::JoinHandle<()>,
}

impl NodeTask {
    /// Stops accepting commands, lets the writer commit what it has, and waits for it.
    pub fn shutdown(self) {
        self.node.shared.commands.lock().expect("lock").take();
        let _ = self.thread.join();
    }
}

impl Node {
    /// Opens the database and starts the writer thread.
    pub fn start(config: NodeConfig) -> Result<(Node, NodeTask), OpenError> {
        crate::store::ignore_file_size_signal();
        let store = Store::open(&config.db_path, &config.params)?;
        Node::start_with_store(config, store)
    }

    /// Starts the writer thread on an open database (tests give one that fails on demand).
    pub fn start_with_store(
        config: NodeConfig,
        store: Store,
    ) -> Result<(Node, NodeTask), OpenError> {
        let store = Arc::new(store);
        let (commands, receiver) = mpsc::channel();
        let (events, _) = broadcast::channel(4096);
        let pool = Arc::new(Mutex::new(pool_index::PoolIndex::default()));
        let writer = writer::Writer::load(store.clone(), &config, events.clone(), pool.clone())?;
        let (snapshot_tx, snapshot) = watch::channel(Arc::new(writer.snapshot()));
        let (template_tx, template) = watch::channel(Arc::new(writer.template()));
        let node = Node {
            shared: Arc::new(Shared {
                params: config.params.clone(),
                limits: config.limits.clone(),
                store,
                commands: Mutex::new(Some(commands)),
                events,
                snapshot,
                template,
                storage: writer.watch_storage(),
                miners: Mutex::new(BTreeMap::new()),
                pool,
                sig_cache: writer.sig_cache(),
                genesis: config.params.genesis_hash(),
                linked: Mutex::new(Vec::new()),
                next_id: AtomicU64::new(1),
                intake: IpLimiter::new(
                    Rate::new(
                        config.limits.ip_rate_bytes_per_sec,
                        config.limits.ip_burst_bytes,
                    ),
                    config.limits.rate_limited_ips,
                ),
            }),
        };
        let delay = config.refresh_delay;
        let thread = std::thread::Builder::new()
            .name("chain-writer".into())
            .spawn(move || writer.run(receiver, snapshot_tx, template_tx, delay))
            .map_err(anyhow::Error::from)?;
        let task = NodeTask {
            node: node.clone(),
            thread,
        };
        Ok((node, task))
    }

    fn send(&self, command: Command) -> bool {
        match &*self.shared.commands.lock().expect("lock") {
            Some(sender) => sender.send(command).is_ok(),
            None => false,
        }
    }

    /// Validates and stores a block: the one path for miner submits and synced blocks.
    pub async fn submit_block(&self, block: Block) -> Result<SubmitOutcome, SubmitError> {
        self.submit_blocks(vec![block])
            .await
            .pop()
            .unwrap_or(Err(SubmitError::ShuttingDown))
    }

    /// Validates and stores blocks in order (a batch from peer sync): every block is queued before
    /// the first answer is awaited, so the writer applies them in order and in one commit. The
    /// context-free checks run here, on the caller's task; the single writer only does the checks
    /// that need the chain.
    pub async fn submit_blocks(
        &self,
        blocks: Vec<Block>,
    ) -> Vec<Result<SubmitOutcome, SubmitError>> {
        let answers: Vec<_> = blocks
            .into_iter()
            .map(|block| {
                check_block(&block, &self.shared.params)?;
                let (reply, answer) = oneshot::channel();
                if self.send(Command::SubmitBlock { block, reply }) {
                    Ok(answer)
                } else {
                    Err(SubmitError::ShuttingDown)
                }
            })
            .collect();
        let mut out = Vec::with_capacity(answers.len());
        for answer in answers {
            let result = match answer {
                Ok(answer) => answer.await.unwrap_or(Err(SubmitError::ShuttingDown)),
                Err(err) => Err(err),
            };
            crate::metrics::block_result(&result);
            out.push(result);
        }
        out
    }

    /// The texts of the oldest queued data entries, at most `limit` of them and `max_bytes` of
    /// text (to share with peers).
    pub fn pending_texts(&self, limit: usize, max_bytes: usize) -> anyhow::Result<Vec<String>> {
        let (mut count, mut bytes) = (0, 0);
        self.shared.store.read()?.oldest_pending_while(|text| {
            count += 1;
            bytes += text.len();
            count <= limit && bytes <= max_bytes
        })
    }

    /// Spends `cost` bytes of what the source address `ip` may post (free data and transactions,
    /// `NodeLimits::ip_rate_bytes_per_sec`), or says how long until it may.
    pub fn take_intake(
        &self,
        ip: std::net::IpAddr,
        cost: usize,
    ) -> Result<(), std::time::Duration> {
        self.shared.intake.take(ip, cost)
    }

    /// The text of a queued data entry (for gossip to peers).
    pub fn pending_text(&self, id: &DataId) -> anyhow::Result<Option<String>> {
        self.shared.store.read()?.pending_text(id)
    }

    /// Queues a data entry; answers after it is committed. Identical text gives the same id.
    pub async fn add_data(&self, text: String) -> Result<DataStatus, AddDataError> {
        let id = bbchain_core::block::data_id(&text);
        match self.queue_data(text).await? {
            chain_state::DataAdded::Pending => Ok(DataStatus::Pending),
            // Already in a block: its proof is built by a reader on a blocking thread, neither by
            // the writer nor on the async runtime. A reorg in between may have requeued it.
            chain_state::DataAdded::Confirmed => {
                let node = self.clone();
                let status = tokio::task::spawn_blocking(move || node.data_status(&id))
                    .await
                    .map_err(|err| AddDataError::Storage(err.to_string()))?
                    .map_err(|err| AddDataError::Storage(format!("{err:#}")))?;
                Ok(status.unwrap_or(DataStatus::Pending))
            }
        }
    }

    /// Queues a data entry a peer offered, without building the status `add_data` answers with:
    /// a peer re-sending entries already in blocks costs a lookup each, never a block decode.
    pub async fn offer_data(&self, text: String) -> Result<(), AddDataError> {
        self.queue_data(text).await.map(|_| ())
    }

    async fn queue_data(&self, text: String) -> Result<chain_state::DataAdded, AddDataError> {
        check_data(&text, &self.shared.params)?;
        let (reply, answer) = oneshot::channel();
        if !self.send(Command::AddData { text, reply }) {
            return Err(AddDataError::ShuttingDown);
        }
        answer.await.unwrap_or(Err(AddDataError::ShuttingDown))
    }

    /// The chain's rules.
    pub fn params(&self) -> &ChainParams {
        &self.shared.params
    }

    /// Client limits.
    pub fn limits(&self) -> &NodeLimits {
        &self.shared.limits
    }

    /// Masters linked right now, as `host:port` where they accept peers.
    pub fn linked_masters(&self) -> Vec<String> {
        self.shared.linked.lock().expect("lock").clone()
    }

    /// Called by `peer` whenever a link opens or closes.
    pub fn set_linked_masters(&self, masters: Vec<String>) {
        *self.shared.linked.lock().expect("lock") = masters;
    }

    /// The main chain as of the last commit.
    pub fn snapshot(&self) -> Arc<ChainSnapshot> {
        self.shared.snapshot.borrow().clone()
    }

    /// Whether the database takes writes right now: while it does not, every write is answered
    /// with a storage error (`503`) and miners get no new work.
    pub fn storage(&self) -> StorageHealth {
        self.shared.storage.borrow().clone()
    }

    /// Follows the block template miners work on.
    pub fn watch_template(&self) -> watch::Receiver<Arc<BlockTemplate>> {
        self.shared.template.clone()
    }

    /// Events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<NodeEvent> {
        self.shared.events.subscribe()
    }

    /// A stored block, main chain or side branch.
    pub fn block(&self, hash: &BlockHash) -> anyhow::Result<Option<Block>> {
        self.shared.store.read()?.block(hash)
    }

    /// The main-chain block at `height` and its hash.
    pub fn block_at(&self, height: u32) -> anyhow::Result<Option<(BlockHash, Block)>> {
        let reader = self.shared.store.read()?;
        let Some(hash) = reader.main_hash(height)? else {
            return Ok(None);
        };
        Ok(reader.block(&hash)?.map(|block| (hash, block)))
    }

    /// The main-chain block at `height` as summaries show it, without decoding the block.
    pub fn summary_at(&self, height: u32) -> anyhow::Result<Option<(IndexRecord, BlockInfo)>> {
        let reader = self.shared.store.read()?;
        let Some(hash) = reader.main_hash(height)? else {
            return Ok(None);
        };
        reader.record_and_info(&hash)
    }

    /// Height of a stored block and whether it is on the main chain.
    pub fn block_height(&self, hash: &BlockHash) -> anyhow::Result<Option<(u32, bool)>> {
        let reader = self.shared.store.read()?;
        let Some(record) = reader.record(hash)? else {
            return Ok(None);
        };
        let main = reader.main_hash(record.height)? == Some(*hash);
        Ok(Some((record.height, main)))
    }

    /// What checking a child of the stored block `hash` needs, read from the block index: its
    /// height, its branch's anchor, and the times of it and its ancestors, newest first (up to 11).
    pub fn parent_context(&self, hash: &BlockHash) -> anyhow::Result<Option<ParentContext>> {
        let reader = self.shared.store.read()?;
        let Some(parent) = reader.record(hash)? else {
            return Ok(None);
        };
        let recent_times = recent_times(parent.height, &parent.header, |hash| {
            Ok::<_, anyhow::Error>(reader.record(hash)?.map(|r| (r.height, r.header)))
        })?;
        Ok(Some(ParentContext {
            height: parent.height,
            anchor: parent.anchor,
            recent_times,
        }))
    }

    /// The cumulative work of the chain ending at a stored block (main chain or side branch).
    pub fn chainwork(&self, hash: &BlockHash) -> anyhow::Result<Option<Work>> {
        Ok(self
            .shared
            .store
            .read()?
            .record(hash)?
            .map(|record| record.chainwork))
    }

    /// Main-chain hashes from the tip back: the 10 newest, then doubling steps, then genesis
    /// (Bitcoin's block locator), for a peer to find where its chain and ours part.
    pub fn locator(&self) -> anyhow::Result<Vec<BlockHash>> {
        let reader = self.shared.store.read()?;
        let tip = reader.tip()?;
        let top = reader.record(&tip)?.map_or(0, |r| r.height);
        let mut out = Vec::new();
        for height in locator_heights(top) {
            out.extend(reader.main_hash(height)?);
        }
        Ok(out)
    }

    /// Up to `max` main-chain headers after the first locator hash on our main chain (after
    /// genesis if none is).
    pub fn headers_after(&self, locator: &[BlockHash], max: usize) -> anyhow::Result<Vec<Header>> {
        let reader = self.shared.store.read()?;
        let mut start = 0;
        for hash in locator {
            if let Some(record) = reader.record(hash)?
                && reader.main_hash(record.height)? == Some(*hash)
            {
                start = record.height;
                break;
            }
        }
        let mut out = Vec::new();
        let mut height = start + 1;
        while out.len() < max {
            let Some(hash) = reader.main_hash(height)? else {
                break;
            };
            match reader.record(&hash)? {
                Some(record) => out.push(record.header),
                None => break,
            }
            height += 1;
        }
        Ok(out)
    }

    /// Where a data entry stands, or `None` if this node does not know it.
    pub fn data_status(&self, id: &DataId) -> anyhow::Result<Option<DataStatus>> {
        let reader = self.shared.store.read()?;
        if reader.is_pending(id)? {
            return Ok(Some(DataStatus::Pending));
        }
        let Some(location) = reader.confirmed(id)? else {
            return Ok(None);
        };
        let record = reader
            .record(&location.block)?
            .ok_or_else(|| anyhow::anyhow!("confirmed entry in an unknown block"))?;
        let block = reader
            .block(&location.block)?
            .ok_or_else(|| anyhow::anyhow!("confirmed entry in a missing block"))?;
        let tip = reader.tip()?;
        let tip_height = reader.record(&tip)?.map_or(0, |r| r.height);
        let proof = block
            .proof(location.index as usize)
            .ok_or_else(|| anyhow::anyhow!("entry index out of range"))?;
        Ok(Some(DataStatus::Confirmed {
            height: record.height,
            block: location.block,
            confirmations: tip_height.saturating_sub(record.height) + 1,
            merkle_root: block.header.merkle_root,
            proof,
        }))
    }

    /// Registers a miner connection; it is listed until the guard drops.
    pub fn register_miner(&self, info: MinerInfo) -> MinerGuard {
        self.register_miner_of(info, MinerFeed::Ws)
    }

    /// Registers a miner connection of `feed`; it is listed until the guard drops.
    pub fn register_miner_of(&self, info: MinerInfo, feed: MinerFeed) -> MinerGuard {
        let id = self.shared.next_id.fetch_add(1, Ordering::Relaxed);
        let listing = MinerListing {
            info,
            feed,
            hashrate: None,
        };
        let count = {
            let mut miners = self.shared.miners.lock().expect("lock");
            miners.insert(id, listing);
            miners.len()
        };
        let _ = self.shared.events.send(NodeEvent::Miners { count });
        MinerGuard {
            node: self.clone(),
            id,
        }
    }

    /// Connected miners.
    pub fn miners(&self) -> Vec<MinerListing> {
        let miners = self.shared.miners.lock().expect("lock");
        miners.values().cloned().collect()
    }

    /// How many miners of `feed` are connected.
    pub fn miner_count_of(&self, feed: MinerFeed) -> usize {
        let miners = self.shared.miners.lock().expect("lock");
        miners.values().filter(|m| m.feed == feed).count()
    }

    /// How many miners are connected.
    pub fn miner_count(&self) -> usize {
        self.shared.miners.lock().expect("lock").len()
    }
}

/// Keeps a miner listed; dropping it unlists the miner.
pub struct MinerGuard {
    node: Node,
    id: u64,
}

impl MinerGuard {
    /// Sets the miner's listed hashrate (hashes per second).
    pub fn set_hashrate(&self, hashrate: f64) {
        let mut miners = self.node.shared.miners.lock().expect("lock");
        if let Some(listing) = miners.get_mut(&self.id) {
            listing.hashrate = Some(hashrate);
        }
    }
}

impl Drop for MinerGuard {
    fn drop(&mut self) {
        let shared = &self.node.shared;
        let count = {
            let mut miners = shared.miners.lock().expect("lock");
            miners.remove(&self.id);
            miners.len()
        };
        let _ = shared.events.send(NodeEvent::Miners { count });
    }
}
