//! The chain as plain state, with no database inside: every stored block's index record, the main
//! chain, and the data queue. [`ChainState::connect`] and [`ChainState::add_data`] decide what a
//! block or a data entry changes and write it down as a [`ChangeSet`]; the writer makes the change
//! set durable in one commit, and [`ChainState::undo`] puts the memory back if that commit fails.
//!
//! Blocks and confirmed-entry locations are read through [`ChainStore`], so the same code runs over
//! redb in the node and over a `HashMap` in unit tests (reorgs are tested without a database).

mod txs;

use super::ledger::{self, HistoryKey, Undo};
use super::mempool::{Mempool, PoolTx};
use super::outcomes::{AddDataError, NodeEvent, SubmitError, SubmitOutcome};
use super::sig_check::{CachedParallel, SharedSigCache};
use crate::config::NodeLimits;
use crate::store::{EntryLocation, IndexRecord};
use bbchain_core::block::data_id;
use bbchain_core::chain::{BranchAnchor, ChainContext, recent_times};
use bbchain_core::hash::Txid;
use bbchain_core::spend::{BlockSpends, Utxo, UtxoView, connect_block_with};
use bbchain_core::validation::{check_block_context, check_entries_new};
use bbchain_core::{Amount, Block, BlockHash, ChainParams, DataId, OutPoint, Transaction};
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

pub use txs::TxAdded;

/// What the chain state reads but does not keep in memory: whole blocks and where each main-chain
/// data entry is. Reads see every write of the change sets already persisted in this batch.
pub(super) trait ChainStore {
    /// A stored block.
    fn block(&self, hash: &BlockHash) -> anyhow::Result<Block>;
    /// Where a main-chain data entry is.
    fn confirmed(&self, id: &DataId) -> anyhow::Result<Option<EntryLocation>>;
    /// A main-chain unspent output.
    fn utxo(&self, outpoint: &OutPoint) -> anyhow::Result<Option<Utxo>>;
    /// The undo data of a main-chain block.
    fn undo(&self, hash: &BlockHash) -> anyhow::Result<Undo>;
    /// Where a main-chain transaction is.
    fn tx_location(&self, txid: &Txid) -> anyhow::Result<Option<EntryLocation>>;
}

/// One write to make durable, in order.
#[derive(Debug, Clone)]
pub(super) enum Write {
    /// A new block and its index record.
    Block {
        hash: BlockHash,
        block: Arc<Block>,
        record: IndexRecord,
    },
    /// The main chain's block at a height.
    MainSet(u32, BlockHash),
    /// A height leaves the main chain (the hash it held, for undo).
    MainRemove(u32, BlockHash),
    /// A data entry is confirmed at a location.
    Confirm(DataId, EntryLocation),
    /// A data entry is no longer confirmed.
    Unconfirm(DataId),
    /// A data entry joins the queue at a position.
    Queue(u64, DataId, String),
    /// A data entry leaves the queue (its text's length, for undo).
    Unqueue(u64, DataId, usize),
    /// The next queue position (and the one before, for undo).
    NextSeq { old: u64, new: u64 },
    /// The main chain's tip.
    Tip(BlockHash),
    /// An output joins the unspent outputs.
    UtxoAdd(OutPoint, Utxo),
    /// An output leaves the unspent outputs (its data, for undo).
    UtxoRemove(OutPoint, Utxo),
    /// A main-chain block's undo data.
    Undo(BlockHash, Arc<Undo>),
    /// A transaction is confirmed at a location.
    TxConfirm(Txid, EntryLocation),
    /// A transaction is no longer confirmed.
    TxUnconfirm(Txid),
    /// A row of an address's history.
    HistoryAdd(HistoryKey),
    /// A row leaves an address's history.
    HistoryRemove(HistoryKey),
    /// A transaction joins the mempool.
    PoolAdd(Arc<PoolTx>),
    /// A transaction leaves the mempool.
    PoolRemove(Arc<PoolTx>),
    /// A stored mempool row is dropped that was never taken into memory (at start-up).
    PoolForget(u64),
}

/// Everything one or more commands change: writes for the database, in order, and the events to
/// publish once they are durable.
#[derive(Debug, Default)]
pub(super) struct ChangeSet {
    pub writes: Vec<Write>,
    pub events: Vec<NodeEvent>,
    pub tip_changed: bool,
    pub queue_changed: bool,
    pub pool_changed: bool,
}

/// How a data entry was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum DataAdded {
    /// Queued now, or already waiting.
    Pending,
    /// Already in the main chain: its status is read outside the writer.
    Confirmed,
}

/// The end of the side branch last extended, so that a side branch growing block by block (a peer
/// syncing a competing chain) costs one step per block rather than a walk back to the fork each time.
#[derive(Debug, Clone)]
struct SideBranch {
    /// The branch's last block.
    end: BlockHash,
    /// The main-chain height it leaves from.
    fork_height: u32,
    /// The data ids in its blocks above the fork.
    ids: HashSet<DataId>,
}

/// The chain's in-memory view.
pub(super) struct ChainState {
    params: ChainParams,
    genesis: BlockHash,
    limits: NodeLimits,
    /// Every stored block.
    index: HashMap<BlockHash, IndexRecord>,
    /// Main chain hashes by height.
    main: Vec<BlockHash>,
    /// The queue: position -> (id, text length), lowest first into blocks. The texts stay on disk
    /// (the store's queue tables), so memory does not grow with the queue's bytes.
    pending: BTreeMap<u64, (DataId, usize)>,
    /// The queue by id.
    pending_ids: HashMap<DataId, u64>,
    /// The queue's size as [`NodeLimits::max_pending_bytes`] counts it.
    pending_bytes: usize,
    next_seq: u64,
    side: Option<SideBranch>,
    /// The unspent-output changes of the command being applied, not yet in the store.
    utxo_overlay: HashMap<OutPoint, Option<Utxo>>,
    /// The sum of all unspent outputs, in units.
    supply: u64,
    /// Transactions waiting for a block.
    mempool: Mempool,
    /// Blocks found invalid when the chain tried to connect them, and their descendants, with why:
    /// a block's hash fixes all of its contents, so the same block is never checked twice.
    invalid: HashMap<BlockHash, SubmitError>,
    /// Signatures verified when their transactions entered the mempool (or before, by the API).
    sig_cache: SharedSigCache,
}

/// Where a command's writes and events start in a change set, to roll them back.
#[derive(Debug, Clone, Copy)]
struct Mark {
    writes: usize,
    events: usize,
}

impl Mark {
    fn of(change: &ChangeSet) -> Mark {
        Mark {
            writes: change.writes.len(),
            events: change.events.len(),
        }
    }
}

/// The main chain's unspent outputs as a [`UtxoView`]: the core's checks cannot fail on I/O, so the
/// first storage error is kept and reported by [`ChainView::finish`].
struct ChainView<'a, S> {
    overlay: &'a HashMap<OutPoint, Option<Utxo>>,
    store: &'a S,
    error: RefCell<Option<anyhow::Error>>,
}

impl<S: ChainStore> UtxoView for ChainView<'_, S> {
    fn utxo(&self, outpoint: &OutPoint) -> Option<Utxo> {
        if let Some(known) = self.overlay.get(outpoint) {
            return *known;
        }
        match self.store.utxo(outpoint) {
            Ok(utxo) => utxo,
            Err(err) => {
                self.error.borrow_mut().get_or_insert(err);
                None
            }
        }
    }
}

impl<S> ChainView<'_, S> {
    /// The storage error met while answering, if any.
    fn finish(self) -> anyhow::Result<()> {
        match self.error.into_inner() {
            Some(err) => Err(err),
            None => Ok(()),
        }
    }
}

/// What a queued entry of `len` bytes counts toward [`NodeLimits::max_pending_bytes`].
pub(super) fn queued_bytes(len: usize) -> usize {
    len + crate::config::PENDING_ENTRY_OVERHEAD
}

/// Queue position of the first entry ever queued: leaves room below it for entries that come back
/// from reorgs, which go first.
pub(super) const FIRST_SEQ: u64 = 1 << 32;

impl ChainState {
    /// The state of a chain whose blocks are `records` (genesis among them), whose tip is `tip`, and
    /// whose queue holds `pending` (position, id, text length). `next_seq` is the stored next
    /// position, if any.
    pub(super) fn new(
        params: ChainParams,
        limits: NodeLimits,
        records: impl IntoIterator<Item = IndexRecord>,
        tip: BlockHash,
        pending: impl IntoIterator<Item = (u64, DataId, usize)>,
        next_seq: Option<u64>,
        supply: u64,
    ) -> anyhow::Result<ChainState> {
        let index: HashMap<BlockHash, IndexRecord> =
            records.into_iter().map(|r| (r.hash(), r)).collect();
        let mut main = Vec::new();
        let mut cursor = Some(tip);
        while let Some(hash) = cursor {
            let record = index
                .get(&hash)
                .ok_or_else(|| anyhow::anyhow!("main chain block {hash} not indexed"))?;
            main.push(hash);
            cursor = (record.height > 0).then_some(record.header.prev_hash);
        }
        main.reverse();
        let mut state = ChainState {
            genesis: params.genesis_hash(),
            params,
            limits,
            utxo_overlay: HashMap::new(),
            supply,
            mempool: Mempool::default(),
            invalid: HashMap::new(),
            sig_cache: SharedSigCache::default(),
            index,
            main,
            pending: BTreeMap::new(),
            pending_ids: HashMap::new(),
            pending_bytes: 0,
            next_seq: 0,
            side: None,
        };
        for (seq, id, len) in pending {
            state.enqueue(seq, id, len);
        }
        // New entries count up from FIRST_SEQ; entries back from a reorg count down below the queue.
        state.next_seq = next_seq
            .unwrap_or(FIRST_SEQ)
            .max(state.pending.keys().next_back().map_or(0, |s| s + 1));
        Ok(state)
    }

    /// The chain's rules.
    pub(super) fn params(&self) -> &ChainParams {
        &self.params
    }

    /// The signature cache, for whoever verifies signatures ahead of the writer.
    pub(super) fn sig_cache(&self) -> SharedSigCache {
        self.sig_cache.clone()
    }

    /// Uses `cache` (a state read again after a storage error keeps the one callers fill).
    pub(super) fn share_sig_cache(&mut self, cache: SharedSigCache) {
        self.sig_cache = cache;
    }

    /// The node's limits and mempool policy.
    pub(super) fn limits(&self) -> &NodeLimits {
        &self.limits
    }

    /// The main chain's tip.
    pub(super) fn tip(&self) -> &IndexRecord {
        &self.index[self.main.last().expect("genesis is always there")]
    }

    /// A stored block's index record.
    #[cfg(test)]
    pub(super) fn record(&self, hash: &BlockHash) -> Option<&IndexRecord> {
        self.index.get(hash)
    }

    /// The main chain's block at `height`.
    pub(super) fn main_at(&self, height: u32) -> Option<&IndexRecord> {
        self.main.get(height as usize).map(|hash| &self.index[hash])
    }

    /// The queue, lowest position first: position, id and text length (the texts are on disk).
    #[cfg(test)]
    pub(super) fn pending(&self) -> impl Iterator<Item = (u64, DataId, usize)> + '_ {
        self.pending
            .iter()
            .map(|(seq, (id, len))| (*seq, *id, *len))
    }

    /// The queue's size as [`NodeLimits::max_pending_bytes`] counts it.
    pub(super) fn pending_bytes(&self) -> usize {
        self.pending_bytes
    }

    fn enqueue(&mut self, seq: u64, id: DataId, len: usize) {
        self.pending_ids.insert(id, seq);
        if let Some((_, old)) = self.pending.insert(seq, (id, len)) {
            self.pending_bytes -= queued_bytes(old);
        }
        self.pending_bytes += queued_bytes(len);
    }

    fn dequeue(&mut self, seq: u64, id: &DataId) {
        self.pending_ids.remove(id);
        if let Some((_, len)) = self.pending.remove(&seq) {
            self.pending_bytes -= queued_bytes(len);
        }
    }

    /// How many entries wait.
    pub(super) fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// Times of `parent` and its ancestors, newest first (the median-time-past input).
    pub(super) fn recent_times(&self, parent: &IndexRecord) -> Vec<u32> {
        let Ok(times) = recent_times(parent.height, &parent.header, |hash| {
            Ok::<_, std::convert::Infallible>(self.index.get(hash).map(|r| (r.height, r.header)))
        });
        times
    }

    /// The contextual-check input for a child of `parent`, whose hash is `parent_hash` (known to
    /// every caller, so not hashed again).
    pub(super) fn context<'a>(
        parent_hash: BlockHash,
        parent: &IndexRecord,
        times: &'a [u32],
    ) -> ChainContext<'a> {
        ChainContext {
            parent_hash,
            parent_height: parent.height,
            parent_time: parent.header.time,
            recent_times: times,
            anchor: parent.anchor,
        }
    }

    /// Queues a data entry, unless it waits already or is in the main chain.
    pub(super) fn add_data(
        &mut self,
        store: &impl ChainStore,
        text: String,
        change: &mut ChangeSet,
    ) -> anyhow::Result<Result<DataAdded, AddDataError>> {
        let id = data_id(&text);
        if self.pending_ids.contains_key(&id) {
            return Ok(Ok(DataAdded::Pending));
        }
        if store.confirmed(&id)?.is_some() {
            return Ok(Ok(DataAdded::Confirmed));
        }
        let max = self.limits.max_pending_bytes;
        if self.pending_bytes + queued_bytes(text.len()) > max {
            return Ok(Err(AddDataError::QueueFull(max)));
        }
        let seq = self.next_seq;
        self.apply(
            Write::NextSeq {
                old: seq,
                new: seq + 1,
            },
            change,
        );
        self.apply(Write::Queue(seq, id, text), change);
        change.queue_changed = true;
        change.events.push(NodeEvent::DataAdded { id });
        Ok(Ok(DataAdded::Pending))
    }

    /// Stores a block that passed the context-free checks once it passes the contextual ones
    /// (checked against `now`), and follows it if its branch now has the most work.
    pub(super) fn connect(
        &mut self,
        store: &impl ChainStore,
        block: Block,
        now: u32,
        change: &mut ChangeSet,
    ) -> anyhow::Result<Result<SubmitOutcome, SubmitError>> {
        self.utxo_overlay.clear();
        let hash = block.hash();
        if self.index.contains_key(&hash) {
            return Ok(Ok(SubmitOutcome::Duplicate { hash }));
        }
        if let Some(err) = self.invalid.get(&hash) {
            return Ok(Err(err.clone()));
        }
        if self.invalid.contains_key(&block.header.prev_hash) {
            let err = SubmitError::InvalidParent(block.header.prev_hash);
            self.invalid.insert(hash, err.clone());
            return Ok(Err(err));
        }
        let Some(parent) = self.index.get(&block.header.prev_hash).copied() else {
            return Ok(Err(SubmitError::UnknownParent(block.header.prev_hash)));
        };
        let times = self.recent_times(&parent);
        let context = Self::context(block.header.prev_hash, &parent, &times);
        if let Err(err) = check_block_context(&block, &context, &self.params, now) {
            return Ok(Err(err.into()));
        }
        let branch = self.side_branch_of(store, block.header.prev_hash, &parent)?;
        let mut lookup = Ok(());
        let fresh = check_entries_new(&block, |id| {
            branch.ids.contains(id)
                || self
                    .confirmed_at_or_below(store, id, branch.fork_height)
                    .unwrap_or_else(|err| {
                        lookup = Err(err);
                        true
                    })
        });
        lookup?;
        if let Err(err) = fresh {
            return Ok(Err(err.into()));
        }
        let height = parent.height + 1;
        let work = block
            .header
            .target()
            .map_err(anyhow::Error::from)?
            .to_work();
        let record = IndexRecord {
            header: block.header,
            height,
            chainwork: parent.chainwork + work,
            anchor: BranchAnchor::of_block(height, &block.header, parent.anchor),
        };
        let block = Arc::new(block);
        let mark = Mark::of(change);
        let write = Write::Block {
            hash,
            block: block.clone(),
            record,
        };
        self.apply(write, change);
        if record.chainwork > self.tip().chainwork {
            self.side = None;
            if let Err(err) = self.switch_to(store, hash, block, change)? {
                self.rollback(change, mark);
                return Ok(Err(err));
            }
            Ok(Ok(SubmitOutcome::Connected { height, hash }))
        } else {
            let mut ids = branch.ids;
            ids.extend(block.data().map(data_id));
            self.side = Some(SideBranch {
                end: hash,
                fork_height: branch.fork_height,
                ids,
            });
            Ok(Ok(SubmitOutcome::SideBranch { height, hash }))
        }
    }

    /// Where the branch ending at `parent` leaves the main chain, and the data ids of its blocks
    /// above that height (none when `parent` is on the main chain). Continues the last side branch
    /// when `parent` is its end.
    fn side_branch_of(
        &mut self,
        store: &impl ChainStore,
        parent_hash: BlockHash,
        parent: &IndexRecord,
    ) -> anyhow::Result<SideBranch> {
        if let Some(side) = self.side.take().filter(|side| side.end == parent_hash) {
            return Ok(side);
        }
        let mut ids = HashSet::new();
        let (mut hash, mut record) = (parent_hash, *parent);
        while self.main.get(record.height as usize) != Some(&hash) {
            ids.extend(store.block(&hash)?.data().map(data_id));
            hash = record.header.prev_hash;
            record = *self
                .index
                .get(&hash)
                .ok_or_else(|| anyhow::anyhow!("side branch parent not indexed"))?;
        }
        Ok(SideBranch {
            end: parent_hash,
            fork_height: record.height,
            ids,
        })
    }

    /// Whether data entry `id` is in the main chain at or below `height`.
    fn confirmed_at_or_below(
        &self,
        store: &impl ChainStore,
        id: &DataId,
        height: u32,
    ) -> anyhow::Result<bool> {
        Ok(store.confirmed(id)?.is_some_and(|location| {
            self.index
                .get(&location.block)
                .is_some_and(|record| record.height <= height)
        }))
    }

    /// Makes `new_tip` the main chain's tip: detaches the old branch down to the fork, attaches the
    /// new one, and requeues detached data the new branch lacks.
    /// Makes `new_tip` (stored, with more work) the main chain's tip: detaches the blocks above
    /// the fork, then connects the new branch's blocks one by one, checking their transactions
    /// against the unspent outputs as they are at each block. If one fails, it and the blocks above
    /// it are marked invalid and the caller rolls the whole switch back.
    fn switch_to(
        &mut self,
        store: &impl ChainStore,
        new_tip: BlockHash,
        new_block: Arc<Block>,
        change: &mut ChangeSet,
    ) -> anyhow::Result<Result<(), SubmitError>> {
        let first_event = change.events.len();
        let mut attach = Vec::new();
        let mut cursor = new_tip;
        while self.main.get(self.index[&cursor].height as usize) != Some(&cursor) {
            attach.push(cursor);
            cursor = self.index[&cursor].header.prev_hash;
        }
        attach.reverse();
        let fork_height = self.index[&cursor].height;

        let mut detached = Vec::new();
        while self.main.len() > fork_height as usize + 1 {
            let hash = *self.main.last().expect("above the fork");
            let height = self.index[&hash].height;
            let block = store.block(&hash)?;
            for text in block.data() {
                self.apply(Write::Unconfirm(data_id(text)), change);
            }
            let undo = store.undo(&hash)?;
            for write in ledger::detach(&block, height, &undo)? {
                self.apply(write, change);
            }
            self.apply(Write::MainRemove(height, hash), change);
            detached.push(block);
        }
        let mut attached_ids = HashSet::new();
        let mut attached_txids = HashSet::new();
        for hash in &attach {
            let height = self.index[hash].height;
            let block = if *hash == new_tip {
                new_block.clone()
            } else {
                Arc::new(store.block(hash)?)
            };
            let spends = match self.check_spends(store, &block, height)? {
                Ok(spends) => spends,
                Err(err) => {
                    tracing::warn!("block {hash} at height {height} is invalid: {err}");
                    let at = attach.iter().position(|h| h == hash).unwrap_or(0);
                    self.invalid
                        .insert(*hash, SubmitError::Invalid(err.clone()));
                    for above in &attach[at + 1..] {
                        let reason = err.clone();
                        let err = SubmitError::InvalidAncestor {
                            block: *hash,
                            reason,
                        };
                        self.invalid.insert(*above, err);
                    }
                    return Ok(Err(self.invalid[&new_tip].clone()));
                }
            };
            self.apply(Write::MainSet(height, *hash), change);
            for write in ledger::attach(&block, *hash, height, &spends) {
                self.apply(write, change);
            }
            attached_txids.extend(ledger::txids(&block).map(|(txid, _)| txid));
            self.unpool_confirmed(&block, change);
            let mut confirmations = Vec::new();
            for (index, entry) in block.entries.iter().enumerate().skip(1) {
                let Some(text) = entry.as_data() else {
                    continue;
                };
                let id = data_id(text);
                let location = EntryLocation {
                    block: *hash,
                    index: index as u32,
                };
                self.apply(Write::Confirm(id, location), change);
                attached_ids.insert(id);
                confirmations.push(NodeEvent::DataConfirmed {
                    id,
                    height,
                    block: *hash,
                });
            }
            for txid in block.txs().map(Transaction::txid) {
                confirmations.push(NodeEvent::TxConfirmed {
                    txid,
                    height,
                    block: *hash,
                });
            }
            change
                .events
                .push(NodeEvent::BlockConnected { block, height });
            change.events.extend(confirmations);
        }
        for id in &attached_ids {
            if let Some(&seq) = self.pending_ids.get(id) {
                let len = self.pending[&seq].1;
                self.apply(Write::Unqueue(seq, *id, len), change);
            }
        }
        // Detached data goes back to the front of the queue, oldest block first, even past the
        // queue limit: it was accepted before anything still waiting, and nothing accepted is lost.
        let mut requeued = Vec::new();
        for block in detached.iter().rev() {
            for text in block.data() {
                let id = data_id(text);
                if !attached_ids.contains(&id) && !self.pending_ids.contains_key(&id) {
                    requeued.push((id, text.to_string()));
                }
            }
        }
        let front = self.pending.keys().next().copied().unwrap_or(self.next_seq);
        let first = front.saturating_sub(requeued.len() as u64);
        for (seq, (id, text)) in (first..).zip(requeued) {
            self.apply(Write::Queue(seq, id, text), change);
            change.events.push(NodeEvent::DataAdded { id });
        }
        if !detached.is_empty() {
            self.repool_after_reorg(store, &detached, &attached_txids, change)?;
        }
        self.apply(Write::Tip(new_tip), change);
        if !detached.is_empty() {
            // The reorg event comes before the attached blocks' events.
            change.events.insert(
                first_event,
                NodeEvent::Reorg {
                    detached: detached.len() as u32,
                    height: self.tip().height,
                    tip: new_tip,
                },
            );
        }
        change.tip_changed = true;
        change.queue_changed = true;
        change.pool_changed = true;
        Ok(Ok(()))
    }

    /// What `block` (at `height`, a child of the main chain's tip as it is now) spends and
    /// creates, or why it cannot.
    fn check_spends(
        &self,
        store: &impl ChainStore,
        block: &Block,
        height: u32,
    ) -> anyhow::Result<Result<BlockSpends, bbchain_core::BlockError>> {
        let view = self.chain_view(store);
        let mut verifier = CachedParallel {
            cache: &self.sig_cache,
        };
        let (params, genesis) = (&self.params, &self.genesis);
        let result = connect_block_with(block, &view, height, params, genesis, &mut verifier);
        view.finish()?;
        Ok(result)
    }

    /// The main chain's unspent outputs: the store, with this command's changes on top.
    fn chain_view<'a, S: ChainStore>(&'a self, store: &'a S) -> ChainView<'a, S> {
        ChainView {
            overlay: &self.utxo_overlay,
            store,
            error: RefCell::new(None),
        }
    }

    /// Takes back, in memory, every write `change` got since `mark` (a command that failed part
    /// way, such as a reorg onto an invalid block), and the events it queued.
    fn rollback(&mut self, change: &mut ChangeSet, mark: Mark) {
        for write in change.writes.drain(mark.writes..).rev().collect::<Vec<_>>() {
            self.undo_write(write);
        }
        change.events.truncate(mark.events);
        self.side = None;
    }

    /// Records `write` and makes its effect on memory: the one place memory changes, so memory and
    /// the writes never disagree.
    fn apply(&mut self, write: Write, change: &mut ChangeSet) {
        match &write {
            Write::Block { hash, record, .. } => {
                self.index.insert(*hash, *record);
            }
            Write::MainSet(height, hash) => {
                debug_assert_eq!(self.main.len(), *height as usize);
                self.main.push(*hash);
            }
            Write::MainRemove(height, _) => {
                debug_assert_eq!(self.main.len(), *height as usize + 1);
                self.main.pop();
            }
            Write::Queue(seq, id, text) => self.enqueue(*seq, *id, text.len()),
            Write::Unqueue(seq, id, _) => self.dequeue(*seq, id),
            Write::NextSeq { new, .. } => self.next_seq = *new,
            Write::UtxoAdd(outpoint, utxo) => {
                self.utxo_overlay.insert(*outpoint, Some(*utxo));
                self.supply += utxo.output.value.units();
            }
            Write::UtxoRemove(outpoint, utxo) => {
                self.utxo_overlay.insert(*outpoint, None);
                self.supply -= utxo.output.value.units();
            }
            Write::PoolAdd(pooled) => self.mempool.insert(pooled.clone()),
            Write::PoolRemove(pooled) => {
                self.mempool.remove(&pooled.txid);
            }
            // The rest only changes the database.
            _ => {}
        }
        change.writes.push(write);
    }

    /// Takes back, in memory, every write of `change` (its commit failed): memory is again what the
    /// database holds.
    pub(super) fn undo(&mut self, change: ChangeSet) {
        for write in change.writes.into_iter().rev() {
            self.undo_write(write);
        }
        self.side = None;
        self.utxo_overlay.clear();
    }

    fn undo_write(&mut self, write: Write) {
        {
            match write {
                Write::Block { hash, .. } => {
                    self.index.remove(&hash);
                }
                Write::MainSet(..) => {
                    self.main.pop();
                }
                Write::MainRemove(_, hash) => self.main.push(hash),
                Write::Queue(seq, id, _) => self.dequeue(seq, &id),
                Write::Unqueue(seq, id, len) => self.enqueue(seq, id, len),
                Write::NextSeq { old, .. } => self.next_seq = old,
                // The overlay holds one command's changes: without them the store answers, as it
                // did before the command.
                Write::UtxoAdd(outpoint, utxo) => {
                    self.utxo_overlay.remove(&outpoint);
                    self.supply -= utxo.output.value.units();
                }
                Write::UtxoRemove(outpoint, utxo) => {
                    self.utxo_overlay.remove(&outpoint);
                    self.supply += utxo.output.value.units();
                }
                Write::PoolAdd(pooled) => {
                    self.mempool.remove(&pooled.txid);
                }
                Write::PoolRemove(pooled) => self.mempool.insert(pooled),
                // The rest only changes the database.
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod coin_tests;
#[cfg(test)]
mod harness;
#[cfg(test)]
mod tests;
