//! Test harness: the chain state over a store of `HashMap`s, so reorgs and the mempool are tested
//! without a database.

use super::*;
use bbchain_core::Transaction;
use bbchain_core::testing::Branch;
use std::cell::Cell;

/// The database, as maps, with a count of whole-block reads.
#[derive(Default)]
pub(super) struct MemoryStore {
    pub blocks: HashMap<BlockHash, Block>,
    pub confirmed: HashMap<DataId, EntryLocation>,
    pub pending: BTreeMap<u64, String>,
    pub tip: Option<BlockHash>,
    pub block_reads: Cell<usize>,
    pub utxos: BTreeMap<OutPoint, Utxo>,
    pub undo: HashMap<BlockHash, Undo>,
    pub txs: HashMap<Txid, EntryLocation>,
    pub history: std::collections::BTreeSet<HistoryKey>,
    pub mempool: BTreeMap<u64, Transaction>,
}

impl ChainStore for MemoryStore {
    fn block(&self, hash: &BlockHash) -> anyhow::Result<Block> {
        self.block_reads.set(self.block_reads.get() + 1);
        self.blocks.get(hash).cloned().context_missing()
    }

    fn confirmed(&self, id: &DataId) -> anyhow::Result<Option<EntryLocation>> {
        Ok(self.confirmed.get(id).copied())
    }

    fn utxo(&self, outpoint: &OutPoint) -> anyhow::Result<Option<Utxo>> {
        Ok(self.utxos.get(outpoint).copied())
    }

    fn undo(&self, hash: &BlockHash) -> anyhow::Result<Undo> {
        Ok(self.undo.get(hash).cloned().unwrap_or_default())
    }

    fn tx_location(&self, txid: &Txid) -> anyhow::Result<Option<EntryLocation>> {
        Ok(self.txs.get(txid).copied())
    }
}

trait ContextMissing<T> {
    fn context_missing(self) -> anyhow::Result<T>;
}

impl<T> ContextMissing<T> for Option<T> {
    fn context_missing(self) -> anyhow::Result<T> {
        self.ok_or_else(|| anyhow::anyhow!("no such record"))
    }
}

impl MemoryStore {
    pub fn persist(&mut self, writes: &[Write]) {
        for write in writes {
            match write {
                Write::Block { hash, block, .. } => {
                    self.blocks.insert(*hash, (**block).clone());
                }
                Write::Confirm(id, location) => {
                    self.confirmed.insert(*id, *location);
                }
                Write::Unconfirm(id) => {
                    self.confirmed.remove(id);
                }
                Write::Queue(seq, _, text) => {
                    self.pending.insert(*seq, text.clone());
                }
                Write::Unqueue(seq, _, _) => {
                    self.pending.remove(seq);
                }
                Write::Tip(hash) => self.tip = Some(*hash),
                Write::UtxoAdd(outpoint, utxo) => {
                    self.utxos.insert(*outpoint, *utxo);
                }
                Write::UtxoRemove(outpoint, _) => {
                    self.utxos.remove(outpoint);
                }
                Write::Undo(hash, undo) => {
                    self.undo.insert(*hash, (**undo).clone());
                }
                Write::TxConfirm(txid, location) => {
                    self.txs.insert(*txid, *location);
                }
                Write::TxUnconfirm(txid) => {
                    self.txs.remove(txid);
                }
                Write::HistoryAdd(row) => {
                    self.history.insert(*row);
                }
                Write::HistoryRemove(row) => {
                    self.history.remove(row);
                }
                Write::PoolAdd(pooled) => {
                    self.mempool.insert(pooled.seq, (*pooled.tx).clone());
                }
                Write::PoolRemove(pooled) => {
                    self.mempool.remove(&pooled.seq);
                }
                Write::PoolForget(seq) => {
                    self.mempool.remove(seq);
                }
                Write::MainSet(..) | Write::MainRemove(..) | Write::NextSeq { .. } => {}
            }
        }
    }
}

/// A dev chain's state and store holding only genesis, and a clock far ahead of every block.
pub(super) fn start() -> (ChainState, MemoryStore) {
    start_with(NodeLimits {
        max_pending_bytes: 100 * queued_bytes(100),
        ..NodeLimits::default()
    })
}

/// [`start`] with other limits.
pub(super) fn start_with(limits: NodeLimits) -> (ChainState, MemoryStore) {
    let params = ChainParams::dev();
    let genesis = params.genesis_block();
    let record = IndexRecord {
        header: genesis.header,
        height: 0,
        chainwork: genesis.header.target().unwrap().to_work(),
        anchor: None,
    };
    let mut store = MemoryStore::default();
    store.blocks.insert(genesis.hash(), genesis.clone());
    let state = ChainState::new(params, limits, [record], genesis.hash(), [], None, 0).unwrap();
    (state, store)
}

pub(super) const NOW: u32 = u32::MAX;

/// Connects `block` and persists its change set; returns the outcome and the change set.
pub(super) fn connect(
    state: &mut ChainState,
    store: &mut MemoryStore,
    block: Block,
) -> (SubmitOutcome, ChangeSet) {
    let (outcome, change) = try_connect(state, store, block);
    (outcome.unwrap(), change)
}

/// Connects `block`, persisting whatever its change set holds.
pub(super) fn try_connect(
    state: &mut ChainState,
    store: &mut MemoryStore,
    block: Block,
) -> (Result<SubmitOutcome, SubmitError>, ChangeSet) {
    let mut change = ChangeSet::default();
    let outcome = state.connect(store, block, NOW, &mut change).unwrap();
    store.persist(&change.writes);
    (outcome, change)
}

pub(super) fn add(state: &mut ChainState, store: &mut MemoryStore, text: &str) {
    let mut change = ChangeSet::default();
    let added = state.add_data(store, text.into(), &mut change).unwrap();
    assert_eq!(added.unwrap(), DataAdded::Pending);
    store.persist(&change.writes);
}

/// The queue's texts in order: the state keeps their positions, the store their texts.
pub(super) fn queue<'s>(state: &ChainState, store: &'s MemoryStore) -> Vec<&'s str> {
    state
        .pending()
        .map(|(seq, _, _)| store.pending[&seq].as_str())
        .collect()
}

/// `count` blocks on `branch`, one second apart, each with `data` made unique by its height.
pub(super) fn grow(branch: &mut Branch, count: u32, miner: &str, data: &str) -> Vec<Block> {
    (0..count)
        .map(|_| {
            let text = format!("{data} {}", branch.height() + 1);
            let time = branch.tip().time + 1;
            branch.extend(time, &[text.as_str()], miner)
        })
        .collect()
}
