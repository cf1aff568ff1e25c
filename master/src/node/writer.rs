//! The chain writer: the only code that changes the database.
//!
//! It runs on its own thread, takes every command that is waiting, applies them all in one write
//! transaction (group commit), and answers only after the commit. If a commit fails, it answers
//! with errors and reloads its in-memory state from the database, so memory never runs ahead of disk.

use super::template::BlockTemplate;
use super::{
    AddDataError, ChainSnapshot, Command, DataStatus, NodeEvent, SubmitError, SubmitOutcome,
};
use crate::clock::unix_now;
use crate::config::NodeConfig;
use crate::store::{
    BLOCKS, CONFIRMED, EntryLocation, INDEX, IndexRecord, MAIN, META, META_NEXT_SEQ, META_TIP,
    PENDING, PENDING_IDS, Store,
};
use anyhow::Context;
use bbchain_core::block::data_id;
use bbchain_core::chain::{BranchAnchor, ChainContext, recent_times};
use bbchain_core::difficulty::expected_bits;
use bbchain_core::validation::{check_block_context, check_entries_new};
use bbchain_core::{Block, ChainParams, Entry, Hash256, Work};
use redb::{ReadableTable, Table, WriteTransaction};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, watch};

/// Most commands applied in one commit.
const MAX_BATCH: usize = 4096;
/// Queue position of the first entry ever queued: leaves room below it for entries that come back
/// from reorgs, which go first.
const FIRST_SEQ: u64 = 1 << 32;
/// Blocks the hashrate estimate looks back over.
const HASHRATE_WINDOW: u32 = 10;
/// Room kept in a block for the header, the entry count and the largest coinbase.
const BLOCK_OVERHEAD: usize = 80 + 9 + 1 + 4 + 8 + 9 + 64;

/// The writer's in-memory view, rebuilt from the database at start and after a failed commit.
pub(super) struct Writer {
    store: Arc<Store>,
    params: ChainParams,
    max_pending: usize,
    events: broadcast::Sender<NodeEvent>,
    /// Every stored block.
    index: HashMap<Hash256, IndexRecord>,
    /// Main chain hashes by height.
    main: Vec<Hash256>,
    /// The queue: sequence -> (id, text), oldest first.
    pending: BTreeMap<u64, (Hash256, String)>,
    /// The queue by id.
    pending_ids: HashMap<Hash256, u64>,
    next_seq: u64,
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
        })
    }

    fn block(&self, hash: &Hash256, max_len: usize) -> anyhow::Result<Block> {
        let bytes = self.blocks.get(hash.0)?.context("stored block missing")?;
        Ok(Block::from_bytes(bytes.value(), max_len)?)
    }
}

/// What a batch changed, published after its commit.
#[derive(Default)]
struct Effects {
    events: Vec<NodeEvent>,
    tip_changed: bool,
    queue_changed: bool,
}

/// A command's answer, sent after the commit.
enum Reply {
    Data(
        tokio::sync::oneshot::Sender<Result<DataStatus, AddDataError>>,
        Result<DataStatus, AddDataError>,
    ),
    Block(
        tokio::sync::oneshot::Sender<Result<SubmitOutcome, SubmitError>>,
        Result<SubmitOutcome, SubmitError>,
    ),
}

/// What a command asks the writer to do, apart from where the answer goes.
enum Job {
    AddData(String),
    SubmitBlock(Block),
}

/// Splits a command into its work and its answer slot (answered "shutting down" unless filled in).
fn split(command: Command) -> (Job, Reply) {
    match command {
        Command::AddData { text, reply } => (
            Job::AddData(text),
            Reply::Data(reply, Err(AddDataError::ShuttingDown)),
        ),
        Command::SubmitBlock { block, reply } => (
            Job::SubmitBlock(block),
            Reply::Block(reply, Err(SubmitError::ShuttingDown)),
        ),
    }
}

impl Reply {
    fn send(self) {
        match self {
            Reply::Data(tx, result) => drop(tx.send(result)),
            Reply::Block(tx, result) => drop(tx.send(result)),
        }
    }

    /// The same answer slot, now carrying a storage failure.
    fn failed(self, why: &str) -> Reply {
        match self {
            Reply::Data(tx, _) => Reply::Data(tx, Err(AddDataError::Storage(why.into()))),
            Reply::Block(tx, _) => Reply::Block(tx, Err(SubmitError::Storage(why.into()))),
        }
    }
}

impl Writer {
    /// Loads the index, main chain and queue from the database.
    pub(super) fn load(
        store: Arc<Store>,
        config: &NodeConfig,
        events: broadcast::Sender<NodeEvent>,
    ) -> anyhow::Result<Writer> {
        let mut writer = Writer {
            store,
            params: config.params.clone(),
            max_pending: config.limits.max_pending,
            events,
            index: HashMap::new(),
            main: Vec::new(),
            pending: BTreeMap::new(),
            pending_ids: HashMap::new(),
            next_seq: 0,
        };
        writer.reload()?;
        Ok(writer)
    }

    fn reload(&mut self) -> anyhow::Result<()> {
        let reader = self.store.read()?;
        self.index = reader
            .all_records()?
            .into_iter()
            .map(|record| (record.hash(), record))
            .collect();
        let tip = reader.tip()?;
        let mut main = Vec::new();
        let mut cursor = Some(tip);
        while let Some(hash) = cursor {
            let record = self
                .index
                .get(&hash)
                .context("main chain block not indexed")?;
            main.push(hash);
            cursor = (record.height > 0).then_some(record.header.prev_hash);
        }
        main.reverse();
        self.main = main;
        self.pending.clear();
        self.pending_ids.clear();
        for (seq, text) in reader.all_pending()? {
            let id = data_id(&text);
            self.pending_ids.insert(id, seq);
            self.pending.insert(seq, (id, text));
        }
        self.next_seq = match reader.meta(META_NEXT_SEQ)? {
            Some(bytes) => u64::from_le_bytes(bytes.as_slice().try_into().context("bad seq")?),
            // New entries count up from here; entries back from a reorg count down below the queue.
            None => FIRST_SEQ,
        }
        .max(self.pending.keys().next_back().map_or(0, |s| s + 1));
        Ok(())
    }

    fn tip(&self) -> &IndexRecord {
        &self.index[self.main.last().expect("genesis is always there")]
    }

    /// The contextual-check input for a child of `parent`.
    fn context_times(&self, parent: &IndexRecord) -> Vec<u32> {
        let Ok(times) = recent_times(parent.height, &parent.header, |hash| {
            Ok::<_, std::convert::Infallible>(self.index.get(hash).map(|r| (r.height, r.header)))
        });
        times
    }

    fn context<'a>(&self, parent: &IndexRecord, times: &'a [u32]) -> ChainContext<'a> {
        ChainContext {
            parent_hash: parent.hash(),
            parent_height: parent.height,
            parent_time: parent.header.time,
            recent_times: times,
            anchor: parent.anchor,
        }
    }

    /// The published view of the main chain.
    pub(super) fn snapshot(&self) -> ChainSnapshot {
        let tip = *self.tip();
        let times = self.context_times(&tip);
        let next_bits = expected_bits(&self.params, &self.context(&tip, &times));
        let back = tip.height.saturating_sub(HASHRATE_WINDOW);
        let old = &self.index[&self.main[back as usize]];
        let seconds = tip.header.time.saturating_sub(old.header.time).max(1);
        let work = Work(tip.chainwork.0 - old.chainwork.0);
        ChainSnapshot {
            tip: tip.hash(),
            height: tip.height,
            tip_time: tip.header.time,
            chainwork: tip.chainwork,
            next_bits,
            next_target: bbchain_core::Target::from_compact(next_bits)
                .unwrap_or(self.params.pow_limit_target()),
            hashrate: work.to_f64() / f64::from(seconds),
            pending: self.pending.len(),
        }
    }

    /// The next block's template: queued entries oldest first, up to the block size limit.
    pub(super) fn template(&self) -> BlockTemplate {
        let tip = *self.tip();
        let times = self.context_times(&tip);
        let context = self.context(&tip, &times);
        let bits = expected_bits(&self.params, &context);
        let mut budget = self.params.max_block_bytes.saturating_sub(BLOCK_OVERHEAD);
        let mut entries = Vec::new();
        let mut leaves = Vec::new();
        for (id, text) in self.pending.values() {
            let entry = Entry::data(text.as_str());
            let len = entry.encoded_len();
            if len > budget {
                break;
            }
            budget -= len;
            entries.push(entry);
            // A data entry's id is its merkle leaf.
            leaves.push(*id);
        }
        BlockTemplate::new(
            tip.height + 1,
            tip.hash(),
            bits,
            context.median_time_past().saturating_add(1),
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
                let (effects, replies) = self.apply(batch);
                // Publish first, answer after: whoever gets an answer sees its effect everywhere.
                if effects.tip_changed || effects.queue_changed {
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
                } else if effects.queue_changed && refresh_at.is_none() {
                    refresh_at = Some(Instant::now() + refresh_delay);
                }
                replies.into_iter().for_each(Reply::send);
            }
            if refresh_at.is_some_and(|at| at <= Instant::now()) {
                template.send_replace(Arc::new(self.template()));
                refresh_at = None;
            }
        }
    }

    /// One line per commit that moved the tip: the new block, or how many blocks a reorg or a synced
    /// batch brought (a peer sync commits thousands of blocks at once).
    fn log_tip(&self, events: &[NodeEvent]) {
        let tip = self.tip();
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
    /// if the commit failed).
    fn apply(&mut self, batch: Vec<Command>) -> (Effects, Vec<Reply>) {
        let mut effects = Effects::default();
        let mut replies = Vec::with_capacity(batch.len());
        // Every answer slot exists before anything runs, so a storage error still answers them all.
        let mut work = Vec::with_capacity(batch.len());
        for command in batch {
            let (job, reply) = split(command);
            work.push(job);
            replies.push(reply);
        }
        let result = (|| -> anyhow::Result<()> {
            let txn = self.store.db().begin_write()?;
            let mut tables = Tables::open(&txn)?;
            for (job, reply) in work.into_iter().zip(replies.iter_mut()) {
                match (job, reply) {
                    (Job::AddData(text), Reply::Data(_, slot)) => {
                        *slot = self.add_data(&mut tables, text, &mut effects)?;
                    }
                    (Job::SubmitBlock(block), Reply::Block(_, slot)) => {
                        *slot = self.submit_block(&mut tables, block, &mut effects)?;
                    }
                    _ => unreachable!("split pairs each job with its own kind of reply"),
                }
            }
            drop(tables);
            txn.commit()?;
            Ok(())
        })();
        if let Err(err) = result {
            tracing::error!("commit failed: {err:#}");
            let why = format!("{err:#}");
            replies = replies
                .into_iter()
                .map(|reply| reply.failed(&why))
                .collect();
            if let Err(err) = self.reload() {
                tracing::error!("cannot reload chain state: {err:#}");
            }
            effects = Effects {
                tip_changed: true,
                ..Effects::default()
            };
        }
        (effects, replies)
    }

    fn add_data(
        &mut self,
        tables: &mut Tables<'_>,
        text: String,
        effects: &mut Effects,
    ) -> anyhow::Result<Result<DataStatus, AddDataError>> {
        let id = data_id(&text);
        if self.pending_ids.contains_key(&id) {
            return Ok(Ok(DataStatus::Pending));
        }
        let confirmed = tables.confirmed.get(id.0)?;
        if let Some(location) = confirmed.map(|b| EntryLocation::from_bytes(b.value())) {
            return Ok(Ok(self.confirmed_status(tables, location?)?));
        }
        if self.pending.len() >= self.max_pending {
            return Ok(Err(AddDataError::QueueFull(self.max_pending)));
        }
        self.queue(tables, id, text)?;
        effects.queue_changed = true;
        effects.events.push(NodeEvent::DataAdded { id });
        Ok(Ok(DataStatus::Pending))
    }

    fn confirmed_status(
        &self,
        tables: &Tables<'_>,
        location: EntryLocation,
    ) -> anyhow::Result<DataStatus> {
        let record = self.index.get(&location.block).context("unknown block")?;
        let block = tables.block(&location.block, self.params.max_block_bytes)?;
        Ok(DataStatus::Confirmed {
            height: record.height,
            block: location.block,
            confirmations: self.tip().height.saturating_sub(record.height) + 1,
            merkle_root: block.header.merkle_root,
            proof: block
                .proof(location.index as usize)
                .context("entry index out of range")?,
        })
    }

    /// Appends to the queue, in memory and in the transaction.
    fn queue(&mut self, tables: &mut Tables<'_>, id: Hash256, text: String) -> anyhow::Result<()> {
        let seq = self.next_seq;
        self.next_seq += 1;
        tables
            .meta
            .insert(META_NEXT_SEQ, self.next_seq.to_le_bytes().as_slice())?;
        self.insert_pending(tables, seq, id, text)
    }

    /// Puts an entry in the queue at position `seq` (lower goes first into blocks).
    fn insert_pending(
        &mut self,
        tables: &mut Tables<'_>,
        seq: u64,
        id: Hash256,
        text: String,
    ) -> anyhow::Result<()> {
        tables.pending.insert(seq, text.as_str())?;
        tables.pending_ids.insert(id.0, seq)?;
        self.pending_ids.insert(id, seq);
        self.pending.insert(seq, (id, text));
        Ok(())
    }

    fn unqueue(&mut self, tables: &mut Tables<'_>, id: &Hash256) -> anyhow::Result<()> {
        if let Some(seq) = self.pending_ids.remove(id) {
            self.pending.remove(&seq);
            tables.pending.remove(seq)?;
            tables.pending_ids.remove(id.0)?;
        }
        Ok(())
    }

    /// Stores a block that passed the context-free checks (`Node::submit_blocks` ran them) once it
    /// passes the contextual ones, and follows it if its branch now has the most work.
    fn submit_block(
        &mut self,
        tables: &mut Tables<'_>,
        block: Block,
        effects: &mut Effects,
    ) -> anyhow::Result<Result<SubmitOutcome, SubmitError>> {
        let hash = block.hash();
        if self.index.contains_key(&hash) {
            return Ok(Ok(SubmitOutcome::Duplicate { hash }));
        }
        let Some(parent) = self.index.get(&block.header.prev_hash).copied() else {
            return Ok(Err(SubmitError::UnknownParent(block.header.prev_hash)));
        };
        let times = self.context_times(&parent);
        let context = self.context(&parent, &times);
        if let Err(err) = check_block_context(&block, &context, &self.params, unix_now()) {
            return Ok(Err(err.into()));
        }
        let (fork_height, side_ids) = self.branch_point(tables, &parent)?;
        let mut lookup = Ok(());
        let fresh = check_entries_new(&block, |id| {
            side_ids.contains(id)
                || self
                    .confirmed_at_or_below(tables, id, fork_height)
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
        tables.blocks.insert(hash.0, block.to_bytes().as_slice())?;
        tables.index.insert(hash.0, record.to_bytes().as_slice())?;
        self.index.insert(hash, record);
        if record.chainwork > self.tip().chainwork {
            self.switch_to(tables, hash, block, effects)?;
            Ok(Ok(SubmitOutcome::Connected { height, hash }))
        } else {
            Ok(Ok(SubmitOutcome::SideBranch { height, hash }))
        }
    }

    /// Where the branch ending at `parent` meets the main chain (that height), and the data ids of
    /// the branch's blocks above it. A block that extends the tip has an empty set.
    fn branch_point(
        &self,
        tables: &Tables<'_>,
        parent: &IndexRecord,
    ) -> anyhow::Result<(u32, HashSet<Hash256>)> {
        let mut side_ids = HashSet::new();
        let mut record = *parent;
        while self.main.get(record.height as usize) != Some(&record.hash()) {
            let block = tables.block(&record.hash(), self.params.max_block_bytes)?;
            side_ids.extend(block.data().map(data_id));
            record = *self
                .index
                .get(&record.header.prev_hash)
                .context("side branch parent not indexed")?;
        }
        Ok((record.height, side_ids))
    }

    /// Whether data entry `id` is in the main chain at or below `height`.
    fn confirmed_at_or_below(
        &self,
        tables: &Tables<'_>,
        id: &Hash256,
        height: u32,
    ) -> anyhow::Result<bool> {
        let Some(location) = tables.confirmed.get(id.0)? else {
            return Ok(false);
        };
        let location = EntryLocation::from_bytes(location.value())?;
        Ok(self
            .index
            .get(&location.block)
            .is_some_and(|record| record.height <= height))
    }

    /// Makes `new_tip` the main chain's tip: detaches the old branch down to the fork, attaches
    /// the new one, and requeues detached data the new branch lacks, all in one transaction.
    fn switch_to(
        &mut self,
        tables: &mut Tables<'_>,
        new_tip: Hash256,
        new_block: Block,
        effects: &mut Effects,
    ) -> anyhow::Result<()> {
        let first_event = effects.events.len();
        let mut attach = Vec::new();
        let mut cursor = new_tip;
        loop {
            let record = &self.index[&cursor];
            if self.main.get(record.height as usize) == Some(&cursor) {
                break;
            }
            attach.push(cursor);
            cursor = record.header.prev_hash;
        }
        attach.reverse();
        let fork_height = self.index[&cursor].height;
        let detach: Vec<Hash256> = self.main.drain(fork_height as usize + 1..).rev().collect();

        let mut returned = Vec::new();
        for hash in &detach {
            let record = self.index[hash];
            tables.main.remove(record.height)?;
            let block = tables.block(hash, self.params.max_block_bytes)?;
            for text in block.data() {
                tables.confirmed.remove(data_id(text).0)?;
            }
            returned.push(block);
        }
        let mut attached_ids = HashSet::new();
        for hash in &attach {
            let record = self.index[hash];
            let block = if *hash == new_tip {
                new_block.clone()
            } else {
                tables.block(hash, self.params.max_block_bytes)?
            };
            tables.main.insert(record.height, hash.0)?;
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
                tables
                    .confirmed
                    .insert(id.0, location.to_bytes().as_slice())?;
                attached_ids.insert(id);
                confirmations.push(NodeEvent::DataConfirmed {
                    id,
                    height: record.height,
                    block: *hash,
                });
            }
            self.main.push(*hash);
            effects.events.push(NodeEvent::BlockConnected {
                block: Arc::new(block),
                height: record.height,
            });
            effects.events.extend(confirmations);
        }
        for id in &attached_ids {
            self.unqueue(tables, id)?;
        }
        // Detached data goes back to the front of the queue, oldest block first, even past the
        // queue limit: it was accepted before anything still waiting, and nothing accepted is lost.
        let mut requeued = Vec::new();
        for block in returned.iter().rev() {
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
            self.insert_pending(tables, seq, id, text)?;
            effects.events.push(NodeEvent::DataAdded { id });
        }
        tables.meta.insert(META_TIP, new_tip.0.as_slice())?;
        if !detach.is_empty() {
            let tip = self.tip();
            // The reorg event comes before the attached blocks' events.
            effects.events.insert(
                first_event,
                NodeEvent::Reorg {
                    detached: detach.len() as u32,
                    height: tip.height,
                    tip: new_tip,
                },
            );
        }
        effects.tip_changed = true;
        effects.queue_changed = true;
        Ok(())
    }
}
