//! The chain writer: the only code that changes the database.
//!
//! It runs on its own thread, takes every command that is waiting, lets the [`ChainState`] decide
//! what each changes, writes those change sets in one write transaction (group commit), and answers
//! only after the commit. If the commit fails, it answers with errors and undoes the change sets in
//! memory, so memory never runs ahead of disk.
//!
//! A failed commit (a full disk, an I/O error) leaves redb refusing every later transaction until
//! the database is reopened. So the writer then says storage is failing, answers every command at
//! once with a storage error, and reopens the database with a backoff; once a test write goes
//! through, it reads its state again from the last committed transaction and carries on.

use super::chain_state::{ChainState, ChainStore, ChangeSet, DataAdded, TxAdded, Write};
use super::ledger::{self, Undo};
use super::outcomes::{
    AddDataError, AddTxError, ChainSnapshot, NodeEvent, StorageHealth, SubmitError, SubmitOutcome,
};
use super::pool_index::PoolIndex;
use super::template::BlockTemplate;
use crate::backoff::Backoff;
use crate::clock::unix_now;
use crate::config::{NodeConfig, STORAGE_RETRY_FIRST, STORAGE_RETRY_MAX};
use crate::store::{
    ADDR_UTXOS, BLOCKS, BlockInfo, CONFIRMED, EntryLocation, HISTORY, INDEX, MAIN, MEMPOOL, META,
    META_NEXT_SEQ, META_TIP, PENDING, PENDING_IDS, Store, TXS, UNDO, UTXOS,
};
use anyhow::Context;
use bbchain_core::difficulty::expected_bits;
use bbchain_core::hash::Txid;
use bbchain_core::params::MAX_BLOCK_BYTES;
use bbchain_core::spend::Utxo;
use bbchain_core::{Amount, Block, BlockHash, DataId, Entry, OutPoint, Transaction, Work};
use redb::{ReadableTable, Table, WriteTransaction};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;
use tokio::sync::{broadcast, watch};

/// A request to the writer thread.
pub(super) enum Command {
    AddData {
        text: String,
        reply: oneshot::Sender<Result<DataAdded, AddDataError>>,
    },
    SubmitBlock {
        block: Block,
        reply: oneshot::Sender<Result<SubmitOutcome, SubmitError>>,
    },
    AddTx {
        tx: Transaction,
        reply: oneshot::Sender<Result<TxAdded, AddTxError>>,
    },
}

/// Most commands applied in one commit.
const MAX_BATCH: usize = 4096;
/// Blocks the hashrate estimate looks back over.
const HASHRATE_WINDOW: u32 = 10;
/// Room kept in a block for the header, the entry count and the largest coinbase (with one output).
const BLOCK_OVERHEAD: usize = 80 + 9 + 1 + 4 + 8 + 9 + 64 + 1 + 40 + 1;

/// The writer: the chain state and the database it keeps in step with.
pub(super) struct Writer {
    store: Arc<Store>,
    config: NodeConfig,
    events: broadcast::Sender<NodeEvent>,
    state: ChainState,
    /// The mempool readers see, updated after each commit.
    pool: Arc<std::sync::Mutex<PoolIndex>>,
    /// Whether writes go through, for the status API and the feed.
    health: watch::Sender<StorageHealth>,
}

/// What the status API says of a failed write: a full disk is named as such.
fn storage_reason(err: &anyhow::Error) -> String {
    if crate::store::is_disk_full(err) {
        format!("the disk is full ({err:#})")
    } else {
        format!("{err:#}")
    }
}

/// Every table, opened once per batch.
struct Tables<'t> {
    blocks: Table<'t, [u8; 32], &'static [u8]>,
    index: Table<'t, [u8; 32], &'static [u8]>,
    main: Table<'t, u32, [u8; 32]>,
    confirmed: Table<'t, [u8; 32], &'static [u8]>,
    pending: Table<'t, u64, &'static str>,
    pending_ids: Table<'t, [u8; 32], u64>,
    meta: Table<'t, &'static str, &'static [u8]>,
    utxos: Table<'t, [u8; 36], [u8; 45]>,
    addr_utxos: Table<'t, [u8; 68], ()>,
    undo: Table<'t, [u8; 32], &'static [u8]>,
    txs: Table<'t, [u8; 32], &'static [u8]>,
    history: Table<'t, [u8; 68], ()>,
    mempool: Table<'t, u64, &'static [u8]>,
}

impl<'t> Tables<'t> {
    fn open(txn: &'t WriteTransaction) -> anyhow::Result<Tables<'t>> {
        Ok(Tables {
            blocks: txn.open_table(BLOCKS)?,
            index: txn.open_table(INDEX)?,
            main: txn.open_table(MAIN)?,
            confirmed: txn.open_table(CONFIRMED)?,
            pending: txn.open_table(PENDING)?,
            pending_ids: txn.open_table(PENDING_IDS)?,
            meta: txn.open_table(META)?,
            utxos: txn.open_table(UTXOS)?,
            addr_utxos: txn.open_table(ADDR_UTXOS)?,
            undo: txn.open_table(UNDO)?,
            txs: txn.open_table(TXS)?,
            history: txn.open_table(HISTORY)?,
            mempool: txn.open_table(MEMPOOL)?,
        })
    }

    /// Makes `writes` part of the transaction, in order.
    fn persist(&mut self, writes: &[Write]) -> anyhow::Result<()> {
        for write in writes {
            match write {
                Write::Block {
                    hash,
                    block,
                    record,
                } => {
                    self.blocks
                        .insert(hash.to_byte_array(), block.to_bytes().as_slice())?;
                    let stored = record.to_stored(&BlockInfo::of(block));
                    self.index.insert(hash.to_byte_array(), stored.as_slice())?;
                }
                Write::MainSet(height, hash) => {
                    self.main.insert(height, hash.to_byte_array())?;
                }
                Write::MainRemove(height, _) => {
                    self.main.remove(height)?;
                }
                Write::Confirm(id, location) => {
                    self.confirmed
                        .insert(id.to_byte_array(), location.to_bytes().as_slice())?;
                }
                Write::Unconfirm(id) => {
                    self.confirmed.remove(id.to_byte_array())?;
                }
                Write::Queue(seq, id, text) => {
                    self.pending.insert(seq, text.as_str())?;
                    self.pending_ids.insert(id.to_byte_array(), seq)?;
                }
                Write::Unqueue(seq, id, _) => {
                    self.pending.remove(seq)?;
                    self.pending_ids.remove(id.to_byte_array())?;
                }
                Write::NextSeq { new, .. } => {
                    self.meta
                        .insert(META_NEXT_SEQ, new.to_le_bytes().as_slice())?;
                }
                Write::Tip(hash) => {
                    self.meta
                        .insert(META_TIP, hash.as_byte_array().as_slice())?;
                }
                Write::UtxoAdd(outpoint, utxo) => {
                    self.utxos.insert(outpoint.to_bytes(), utxo.to_bytes())?;
                    self.addr_utxos.insert(owner_key(outpoint, utxo), ())?;
                }
                Write::UtxoRemove(outpoint, utxo) => {
                    self.utxos.remove(outpoint.to_bytes())?;
                    self.addr_utxos.remove(owner_key(outpoint, utxo))?;
                }
                Write::Undo(hash, undo) => {
                    let bytes = ledger::undo_to_bytes(undo);
                    self.undo.insert(hash.to_byte_array(), bytes.as_slice())?;
                }
                Write::TxConfirm(txid, location) => {
                    self.txs
                        .insert(*txid.as_byte_array(), location.to_bytes().as_slice())?;
                }
                Write::TxUnconfirm(txid) => {
                    self.txs.remove(*txid.as_byte_array())?;
                }
                Write::HistoryAdd(row) => {
                    self.history.insert(row, ())?;
                }
                Write::HistoryRemove(row) => {
                    self.history.remove(row)?;
                }
                Write::PoolAdd(pooled) => {
                    self.mempool
                        .insert(pooled.seq, pooled.tx.to_bytes().as_slice())?;
                }
                Write::PoolRemove(pooled) => {
                    self.mempool.remove(pooled.seq)?;
                }
                Write::PoolForget(seq) => {
                    self.mempool.remove(seq)?;
                }
            }
        }
        Ok(())
    }
}

/// The address index's key of an output: its owner, then the outpoint.
fn owner_key(outpoint: &OutPoint, utxo: &Utxo) -> [u8; 68] {
    let mut key = [0u8; 68];
    key[..32].copy_from_slice(utxo.output.key.as_bytes());
    key[32..].copy_from_slice(&outpoint.to_bytes());
    key
}

/// Reads see this transaction's own writes.
impl ChainStore for Tables<'_> {
    fn utxo(&self, outpoint: &OutPoint) -> anyhow::Result<Option<Utxo>> {
        Ok(self
            .utxos
            .get(outpoint.to_bytes())?
            .map(|v| Utxo::from_bytes(&v.value())))
    }

    fn undo(&self, hash: &BlockHash) -> anyhow::Result<Undo> {
        match self.undo.get(hash.to_byte_array())? {
            Some(bytes) => ledger::undo_from_bytes(bytes.value()),
            // A main-chain block that spent nothing has no row.
            None => Ok(Undo::new()),
        }
    }

    fn tx_location(&self, txid: &Txid) -> anyhow::Result<Option<EntryLocation>> {
        match self.txs.get(*txid.as_byte_array())? {
            Some(bytes) => Ok(Some(EntryLocation::from_bytes(bytes.value())?)),
            None => Ok(None),
        }
    }

    fn block(&self, hash: &BlockHash) -> anyhow::Result<Block> {
        let bytes = self
            .blocks
            .get(hash.to_byte_array())?
            .context("stored block missing")?;
        Ok(Block::from_bytes(bytes.value(), MAX_BLOCK_BYTES)?)
    }

    fn confirmed(&self, id: &DataId) -> anyhow::Result<Option<EntryLocation>> {
        match self.confirmed.get(id.to_byte_array())? {
            Some(bytes) => Ok(Some(EntryLocation::from_bytes(bytes.value())?)),
            None => Ok(None),
        }
    }
}

/// A command's answer, sent after the commit.
enum Reply {
    Data(
        tokio::sync::oneshot::Sender<Result<DataAdded, AddDataError>>,
        Result<DataAdded, AddDataError>,
    ),
    Block(
        tokio::sync::oneshot::Sender<Result<SubmitOutcome, SubmitError>>,
        Result<SubmitOutcome, SubmitError>,
    ),
    Tx(
        tokio::sync::oneshot::Sender<Result<TxAdded, AddTxError>>,
        Result<TxAdded, AddTxError>,
    ),
}

/// What a command asks the writer to do, apart from where the answer goes.
enum Request {
    AddData(String),
    SubmitBlock(Block),
    AddTx(Transaction),
}

/// Splits a command into its work and its answer slot (answered "shutting down" unless filled in).
fn split(command: Command) -> (Request, Reply) {
    match command {
        Command::AddData { text, reply } => (
            Request::AddData(text),
            Reply::Data(reply, Err(AddDataError::ShuttingDown)),
        ),
        Command::SubmitBlock { block, reply } => (
            Request::SubmitBlock(block),
            Reply::Block(reply, Err(SubmitError::ShuttingDown)),
        ),
        Command::AddTx { tx, reply } => (
            Request::AddTx(tx),
            Reply::Tx(reply, Err(AddTxError::ShuttingDown)),
        ),
    }
}

impl Reply {
    fn send(self) {
        match self {
            Reply::Data(tx, result) => drop(tx.send(result)),
            Reply::Block(tx, result) => drop(tx.send(result)),
            Reply::Tx(tx, result) => drop(tx.send(result)),
        }
    }

    /// The same answer slot, now carrying a storage failure.
    fn failed(self, why: &str) -> Reply {
        match self {
            Reply::Data(tx, _) => Reply::Data(tx, Err(AddDataError::Storage(why.into()))),
            Reply::Block(tx, _) => Reply::Block(tx, Err(SubmitError::Storage(why.into()))),
            Reply::Tx(tx, _) => Reply::Tx(tx, Err(AddTxError::Storage(why.into()))),
        }
    }
}

impl Writer {
    /// Loads the index, main chain and queue from the database.
    pub(super) fn load(
        store: Arc<Store>,
        config: &NodeConfig,
        events: broadcast::Sender<NodeEvent>,
        pool: Arc<std::sync::Mutex<PoolIndex>>,
    ) -> anyhow::Result<Writer> {
        let state = Writer::load_state(&store, config, &pool)?;
        let (health, _) = watch::channel(StorageHealth::Ok);
        Ok(Writer {
            store,
            config: config.clone(),
            events,
            state,
            pool,
            health,
        })
    }

    /// The chain state as of the database's last commit; the readers' mempool follows it.
    fn load_state(
        store: &Store,
        config: &NodeConfig,
        pool: &std::sync::Mutex<PoolIndex>,
    ) -> anyhow::Result<ChainState> {
        let reader = store.read()?;
        let next_seq = match reader.meta(META_NEXT_SEQ)? {
            Some(bytes) => Some(u64::from_le_bytes(
                bytes.as_slice().try_into().context("bad seq")?,
            )),
            None => None,
        };
        let mut state = ChainState::new(
            config.params.clone(),
            config.limits.clone(),
            reader.all_records()?,
            reader.tip()?,
            reader.all_pending()?,
            next_seq,
            reader.supply()?,
        )?;
        let stored_pool = reader.mempool()?;
        drop(reader);
        // The stored mempool is checked again against the chain, in one commit.
        let txn = store.begin_write()?;
        let mut change = ChangeSet::default();
        {
            let mut tables = Tables::open(&txn)?;
            state.restore_pool(&tables, stored_pool, &mut change)?;
            tables.persist(&change.writes)?;
        }
        txn.commit()?;
        let mut index = PoolIndex::default();
        index.follow(&change.writes);
        *pool.lock().expect("lock") = index;
        Ok(state)
    }

    /// Follows whether writes go through.
    pub(super) fn watch_storage(&self) -> watch::Receiver<StorageHealth> {
        self.health.subscribe()
    }

    /// The signature cache the writer consults.
    pub(super) fn sig_cache(&self) -> super::sig_check::SharedSigCache {
        self.state.sig_cache()
    }

    /// The published view of the main chain.
    pub(super) fn snapshot(&self) -> ChainSnapshot {
        let params = self.state.params();
        let tip = *self.state.tip();
        let times = self.state.recent_times(&tip);
        let next_bits = expected_bits(params, &ChainState::context(tip.hash(), &tip, &times));
        // The genesis block's time was fixed long before mining began: the gap after it says
        // nothing about hashrate, so the window starts at block 1 (and says 0 below height 2).
        let back = tip
            .height
            .saturating_sub(HASHRATE_WINDOW)
            .max(1)
            .min(tip.height);
        let old = self.state.main_at(back).expect("main chain below the tip");
        let seconds = tip.header.time.saturating_sub(old.header.time).max(1);
        let work = Work(tip.chainwork.0 - old.chainwork.0);
        ChainSnapshot {
            tip: tip.hash(),
            height: tip.height,
            tip_time: tip.header.time,
            chainwork: tip.chainwork,
            next_bits,
            next_target: bbchain_core::Target::from_compact(next_bits)
                .unwrap_or(params.pow_limit_target()),
            hashrate: work.to_f64() / f64::from(seconds),
            pending: self.state.pending_len(),
            pending_bytes: self.state.pending_bytes(),
            supply: self.state.supply(),
            subsidy: params.subsidy(tip.height + 1),
            mempool_txs: self.state.mempool().len(),
            mempool_bytes: self.state.mempool().bytes(),
        }
    }

    /// The next block's template: transactions by fee rate and queued data oldest first, up to the
    /// block size limit. Data keeps [`NodeLimits::data_share_percent`] of the block for itself and
    /// transactions the rest; what either leaves unused, the other may take.
    ///
    /// [`NodeLimits::data_share_percent`]: crate::config::NodeLimits::data_share_percent
    pub(super) fn template(&self) -> BlockTemplate {
        let tip = *self.state.tip();
        let times = self.state.recent_times(&tip);
        let context = ChainState::context(tip.hash(), &tip, &times);
        let params = self.state.params();
        let bits = expected_bits(params, &context);
        let budget = params.max_block_bytes.saturating_sub(BLOCK_OVERHEAD);
        let data_share = budget * self.state.limits().data_share_percent.min(100) / 100;
        let pool = self.state.mempool();
        let (first_pick, _) = pool.select(budget - data_share);
        let mut data_room = budget - first_pick.iter().map(|p| p.size).sum::<usize>();
        // The queue's texts are on disk, read oldest first as far as they fit; the database holds
        // what memory does (the template is built after each commit).
        let texts = self.store.read().and_then(|reader| {
            reader.oldest_pending_while(|text| {
                let len = Entry::data(text).encoded_len();
                let fits = len <= data_room;
                data_room = data_room.saturating_sub(len);
                fits
            })
        });
        let texts = texts.unwrap_or_else(|err| {
            tracing::error!("the queued data could not be read for a block template: {err:#}");
            Vec::new()
        });
        let mut data = Vec::with_capacity(texts.len());
        let mut data_leaves = Vec::with_capacity(texts.len());
        for text in texts {
            // The leaf from the text itself: a template's root can never disagree with its entries.
            let entry = Entry::data(text);
            data_leaves.push(entry.leaf_hash());
            data.push(entry);
        }
        let data_bytes: usize = data.iter().map(Entry::encoded_len).sum();
        let (txs, fees) = pool.select(budget - data_bytes);
        let mut entries = Vec::with_capacity(txs.len() + data.len());
        let mut leaves = Vec::with_capacity(txs.len() + data.len());
        for pooled in txs {
            let entry = Entry::Tx((*pooled.tx).clone());
            leaves.push(entry.leaf_hash());
            entries.push(entry);
        }
        entries.extend(data);
        leaves.extend(data_leaves);
        let reward = params.subsidy(tip.height + 1).checked_add(fees);
        BlockTemplate::new(
            tip.height + 1,
            tip.hash(),
            bits,
            context.median_time_past().saturating_add(1),
            reward.unwrap_or(Amount::ZERO),
            entries,
            &leaves,
        )
    }

    /// Serves commands until every sender is gone.
    pub(super) fn run(
        mut self,
        commands: mpsc::Receiver<Command>,
        snapshot: watch::Sender<Arc<ChainSnapshot>>,
        template: watch::Sender<Arc<BlockTemplate>>,
        refresh_delay: Duration,
    ) {
        let mut refresh_at: Option<Instant> = None;
        loop {
            let first = match refresh_at {
                Some(at) => {
                    match commands.recv_timeout(at.saturating_duration_since(Instant::now())) {
                        Ok(command) => Some(command),
                        Err(mpsc::RecvTimeoutError::Timeout) => None,
                        Err(mpsc::RecvTimeoutError::Disconnected) => return,
                    }
                }
                None => match commands.recv() {
                    Ok(command) => Some(command),
                    Err(_) => return,
                },
            };
            if let Some(first) = first {
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match commands.try_recv() {
                        Ok(command) => batch.push(command),
                        Err(_) => break,
                    }
                }
                let (effects, replies, failure) = self.apply(batch);
                if effects.pool_changed {
                    self.pool.lock().expect("lock").follow(&effects.writes);
                }
                // Publish first, answer after: whoever gets an answer sees its effect everywhere.
                if effects.tip_changed || effects.queue_changed || effects.pool_changed {
                    snapshot.send_replace(Arc::new(self.snapshot()));
                }
                if effects.tip_changed {
                    self.log_tip(&effects.events);
                }
                for event in effects.events {
                    let _ = self.events.send(event);
                }
                if effects.tip_changed {
                    template.send_replace(Arc::new(self.template()));
                    refresh_at = None;
                } else if (effects.queue_changed || effects.pool_changed) && refresh_at.is_none() {
                    refresh_at = Some(Instant::now() + refresh_delay);
                }
                if let Some(failure) = &failure {
                    // Before the answers: whoever is refused sees storage failing.
                    self.set_health(StorageHealth::Failing(storage_reason(failure)));
                }
                replies.into_iter().for_each(Reply::send);
                if let Some(failure) = failure {
                    if !self.recover(&failure, &commands) {
                        return;
                    }
                    // The state was read again: publish it whole (miners get new jobs).
                    self.set_health(StorageHealth::Ok);
                    snapshot.send_replace(Arc::new(self.snapshot()));
                    template.send_replace(Arc::new(self.template()));
                    refresh_at = None;
                    let tip = self.state.tip();
                    tracing::info!(
                        "storage is back: database reopened, tip {} at height {}",
                        tip.hash(),
                        tip.height
                    );
                }
            }
            if refresh_at.is_some_and(|at| at <= Instant::now()) {
                template.send_replace(Arc::new(self.template()));
                refresh_at = None;
            }
        }
    }

    /// Says storage is failing, answers every command at once with `why` (nothing can be stored),
    /// and reopens the database with a backoff until a test write goes through; then reads the
    /// state again from the last commit. Returns false if the node shut down meanwhile.
    fn recover(&mut self, failure: &anyhow::Error, commands: &mpsc::Receiver<Command>) -> bool {
        let mut why = storage_reason(failure);
        tracing::error!("storage failing: {why}; writes are refused until the database reopens");
        self.set_health(StorageHealth::Failing(why.clone()));
        let mut backoff = Backoff::new(STORAGE_RETRY_FIRST, STORAGE_RETRY_MAX);
        loop {
            let retry_at = Instant::now() + backoff.next_delay();
            loop {
                match commands.recv_timeout(retry_at.saturating_duration_since(Instant::now())) {
                    Ok(command) => split(command).1.failed(&why).send(),
                    Err(mpsc::RecvTimeoutError::Timeout) => break,
                    Err(mpsc::RecvTimeoutError::Disconnected) => return false,
                }
            }
            match self.reopen() {
                Ok(()) => return true,
                Err(err) => {
                    let now = storage_reason(&err);
                    if now != why {
                        tracing::warn!("storage still failing: {now}");
                        why = now;
                        self.set_health(StorageHealth::Failing(why.clone()));
                    } else {
                        tracing::debug!("storage still failing: {now}");
                    }
                }
            }
        }
    }

    /// Reopens the database, proves it takes a block's worth of bytes, and reads the state again.
    fn reopen(&mut self) -> anyhow::Result<()> {
        self.store.reopen()?;
        self.store.probe(self.config.params.max_block_bytes)?;
        let mut state = Writer::load_state(&self.store, &self.config, &self.pool)?;
        state.share_sig_cache(self.state.sig_cache());
        self.state = state;
        Ok(())
    }

    /// Publishes a change of storage health (the status API, the feed, `/ws/events`).
    fn set_health(&self, health: StorageHealth) {
        if self.health.send_replace(health.clone()) != health {
            let _ = self.events.send(NodeEvent::Storage);
        }
    }

    /// One line per commit that moved the tip: the new block, or how many blocks a reorg or a synced
    /// batch brought (a peer sync commits thousands of blocks at once).
    fn log_tip(&self, events: &[NodeEvent]) {
        let tip = self.state.tip();
        let connected = events
            .iter()
            .filter(|event| matches!(event, NodeEvent::BlockConnected { .. }))
            .count();
        for event in events {
            if let NodeEvent::Reorg { detached, .. } = event {
                tracing::info!("reorg: {detached} blocks detached");
            }
        }
        match connected {
            0 => {}
            1 => tracing::info!("block {} at height {}", tip.hash(), tip.height),
            n => tracing::info!(
                "{n} blocks connected, tip {} at height {}",
                tip.hash(),
                tip.height
            ),
        }
    }

    /// Applies a batch in one transaction; returns what changed and the answers to send (failures
    /// if the commit failed, and then the error).
    fn apply(&mut self, batch: Vec<Command>) -> (ChangeSet, Vec<Reply>, Option<anyhow::Error>) {
        let mut change = ChangeSet::default();
        let mut replies = Vec::with_capacity(batch.len());
        // Every answer slot exists before anything runs, so a storage error still answers them all.
        let mut work = Vec::with_capacity(batch.len());
        for command in batch {
            let (request, reply) = split(command);
            work.push(request);
            replies.push(reply);
        }
        let state = &mut self.state;
        let result = (|| -> anyhow::Result<()> {
            let txn = self.store.begin_write()?;
            let mut tables = Tables::open(&txn)?;
            for (request, reply) in work.into_iter().zip(replies.iter_mut()) {
                let done = change.writes.len();
                match (request, reply) {
                    (Request::AddData(text), Reply::Data(_, slot)) => {
                        *slot = state.add_data(&tables, text, &mut change)?;
                    }
                    (Request::SubmitBlock(block), Reply::Block(_, slot)) => {
                        *slot = state.connect(&tables, block, unix_now(), &mut change)?;
                    }
                    (Request::AddTx(tx), Reply::Tx(_, slot)) => {
                        *slot = state.add_tx(&tables, tx, &mut change)?;
                    }
                    _ => unreachable!("split pairs each request with its own kind of reply"),
                }
                tables.persist(&change.writes[done..])?;
            }
            drop(tables);
            txn.commit()?;
            Ok(())
        })();
        let failure = result.err();
        if let Some(err) = &failure {
            tracing::error!("commit failed: {err:#}");
            let why = storage_reason(err);
            replies = replies
                .into_iter()
                .map(|reply| reply.failed(&why))
                .collect();
            self.state.undo(change);
            change = ChangeSet::default();
        }
        (change, replies, failure)
    }
}
