//! The mempool as readers see it: which transactions are pending, which outputs they spend and whom
//! they pay. The writer updates it after each commit (never before: a reader never sees a
//! transaction that is not on disk), so the API answers without asking the writer thread.

use super::chain_state::Write;
use super::mempool::PoolTx;
use bbchain_core::OutPoint;
use bbchain_core::hash::Txid;
use bbchain_core::keys::PublicKey;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

/// Pending transactions by id, by spent output and by payee.
#[derive(Debug, Default)]
pub struct PoolIndex {
    txs: HashMap<Txid, Arc<PoolTx>>,
    spenders: HashMap<OutPoint, Txid>,
    paying: HashMap<PublicKey, BTreeSet<Txid>>,
}

impl PoolIndex {
    /// Follows the mempool writes of a committed change set.
    pub(super) fn follow(&mut self, writes: &[Write]) {
        for write in writes {
            match write {
                Write::PoolAdd(pooled) => self.add(pooled.clone()),
                Write::PoolRemove(pooled) => self.remove(pooled),
                // Never in memory, so never here either.
                Write::PoolForget(_) => {}
                _ => {}
            }
        }
    }

    fn add(&mut self, pooled: Arc<PoolTx>) {
        for input in &pooled.tx.inputs {
            self.spenders.insert(input.prev, pooled.txid);
        }
        for output in &pooled.tx.outputs {
            self.paying
                .entry(output.key)
                .or_default()
                .insert(pooled.txid);
        }
        self.txs.insert(pooled.txid, pooled);
    }

    fn remove(&mut self, pooled: &PoolTx) {
        if self.txs.remove(&pooled.txid).is_none() {
            return;
        }
        for input in &pooled.tx.inputs {
            if self.spenders.get(&input.prev) == Some(&pooled.txid) {
                self.spenders.remove(&input.prev);
            }
        }
        for output in &pooled.tx.outputs {
            if let Some(txids) = self.paying.get_mut(&output.key) {
                txids.remove(&pooled.txid);
                if txids.is_empty() {
                    self.paying.remove(&output.key);
                }
            }
        }
    }

    /// A pending transaction.
    pub fn get(&self, txid: &Txid) -> Option<Arc<PoolTx>> {
        self.txs.get(txid).cloned()
    }

    /// The pending transaction that spends `outpoint`.
    pub fn spender(&self, outpoint: &OutPoint) -> Option<Txid> {
        self.spenders.get(outpoint).copied()
    }

    /// The pending transactions that pay `key`.
    pub fn paying(&self, key: &PublicKey) -> Vec<Arc<PoolTx>> {
        let txids = self.paying.get(key).into_iter().flatten();
        txids
            .filter_map(|txid| self.txs.get(txid).cloned())
            .collect()
    }
}
