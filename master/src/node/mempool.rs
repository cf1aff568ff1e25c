//! The transactions waiting for a block, in memory (the writer persists every change, like the data
//! queue). It knows which pending transaction spends which output, so a double spend is caught on
//! arrival, and which pending transactions build on others, so a chain of unconfirmed spends is
//! kept, mined parents first, and evicted children with their parent.

use bbchain_core::hash::Txid;
use bbchain_core::spend::Utxo;
use bbchain_core::{Amount, OutPoint, Transaction, TxOut};
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

/// A transaction in the pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolTx {
    /// The transaction.
    pub tx: Arc<Transaction>,
    /// Its id.
    pub txid: Txid,
    /// Inputs minus outputs.
    pub fee: Amount,
    /// Encoded size: what it costs in block space.
    pub size: usize,
    /// Arrival order: a parent always has a lower number than its children.
    pub seq: u64,
}

impl PoolTx {
    /// Compares fee rates (fee per byte) exactly.
    pub fn cmp_fee_rate(&self, other: &PoolTx) -> Ordering {
        let mine = u128::from(self.fee.units()) * other.size as u128;
        let theirs = u128::from(other.fee.units()) * self.size as u128;
        mine.cmp(&theirs)
    }
}

/// The pool.
#[derive(Debug, Default)]
pub struct Mempool {
    txs: HashMap<Txid, Arc<PoolTx>>,
    /// Which pending transaction spends each output.
    spenders: HashMap<OutPoint, Txid>,
    /// Arrival order.
    order: BTreeMap<u64, Txid>,
    bytes: usize,
}

impl Mempool {
    /// How many transactions wait.
    pub fn len(&self) -> usize {
        self.txs.len()
    }

    /// Their total size.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// A pending transaction.
    pub fn get(&self, txid: &Txid) -> Option<&Arc<PoolTx>> {
        self.txs.get(txid)
    }

    /// The pending transaction that spends `outpoint`.
    pub fn spender(&self, outpoint: &OutPoint) -> Option<Txid> {
        self.spenders.get(outpoint).copied()
    }

    /// An output of a pending transaction, as an unspent output of the next block.
    pub fn output(&self, outpoint: &OutPoint, next_height: u32) -> Option<Utxo> {
        let pooled = self.txs.get(&outpoint.txid)?;
        let output: TxOut = *pooled.tx.outputs.get(outpoint.vout as usize)?;
        Some(Utxo {
            output,
            height: next_height,
            coinbase: false,
        })
    }

    /// Whether `tx` with its pending ancestors would be more than `max` transactions (Bitcoin's
    /// ancestor limit). The walk stops as soon as it knows, so it costs at most `max` steps.
    pub fn ancestors_exceed(&self, tx: &Transaction, max: u32) -> bool {
        let mut seen = BTreeSet::new();
        let mut todo: Vec<Txid> = tx.inputs.iter().map(|input| input.prev.txid).collect();
        while let Some(txid) = todo.pop() {
            let Some(parent) = self.txs.get(&txid) else {
                continue;
            };
            if !seen.insert(txid) {
                continue;
            }
            if seen.len() as u32 + 1 > max {
                return true;
            }
            todo.extend(parent.tx.inputs.iter().map(|input| input.prev.txid));
        }
        false
    }

    /// Every pending transaction, oldest first (parents before children).
    pub fn in_order(&self) -> impl Iterator<Item = &Arc<PoolTx>> {
        self.order.values().map(|txid| &self.txs[txid])
    }

    /// The highest arrival number.
    pub fn last_seq(&self) -> Option<u64> {
        self.order.keys().next_back().copied()
    }

    /// Adds a checked transaction.
    pub fn insert(&mut self, pooled: Arc<PoolTx>) {
        for input in &pooled.tx.inputs {
            self.spenders.insert(input.prev, pooled.txid);
        }
        self.order.insert(pooled.seq, pooled.txid);
        self.bytes += pooled.size;
        self.txs.insert(pooled.txid, pooled);
    }

    /// Removes one transaction (not its children).
    pub fn remove(&mut self, txid: &Txid) -> Option<Arc<PoolTx>> {
        let pooled = self.txs.remove(txid)?;
        for input in &pooled.tx.inputs {
            if self.spenders.get(&input.prev) == Some(txid) {
                self.spenders.remove(&input.prev);
            }
        }
        self.order.remove(&pooled.seq);
        self.bytes -= pooled.size;
        Some(pooled)
    }

    /// `txid` and every pending transaction that builds on it, parents before children.
    pub fn with_descendants(&self, txid: &Txid) -> Vec<Arc<PoolTx>> {
        let mut found = BTreeMap::new();
        let mut todo = vec![*txid];
        while let Some(txid) = todo.pop() {
            let Some(pooled) = self.txs.get(&txid) else {
                continue;
            };
            if found.insert(pooled.seq, pooled.clone()).is_some() {
                continue;
            }
            for vout in 0..pooled.tx.outputs.len() as u32 {
                if let Some(child) = self.spender(&OutPoint { txid, vout }) {
                    todo.push(child);
                }
            }
        }
        found.into_values().collect()
    }

    /// What to evict so that `newcomer` fits in `room` bytes: the lowest fee rates first, among
    /// transactions no other pending transaction builds on (a parent becomes a candidate once its
    /// children are gone), never one of `keep` (the newcomer's parents). `None` if that would take
    /// a transaction paying at least the newcomer's fee rate, or cannot make room.
    pub fn victims_for(
        &self,
        newcomer: &PoolTx,
        room: usize,
        keep: &BTreeSet<Txid>,
    ) -> Option<Vec<Arc<PoolTx>>> {
        let mut bytes = self.bytes;
        let mut gone: BTreeSet<Txid> = BTreeSet::new();
        let mut victims = Vec::new();
        while bytes > room {
            // One sort per round; a round ends when its candidates run out, and each round can
            // only free parents of the last one's victims, so rounds are few (chains are short).
            let mut leaves: Vec<&Arc<PoolTx>> = self
                .txs
                .values()
                .filter(|p| !keep.contains(&p.txid) && !gone.contains(&p.txid))
                .filter(|p| self.is_leaf(p, &gone))
                .collect();
            if leaves.is_empty() {
                return None;
            }
            leaves.sort_by(|a, b| a.cmp_fee_rate(b).then(b.seq.cmp(&a.seq)));
            for victim in leaves {
                if bytes <= room {
                    break;
                }
                if !victim.cmp_fee_rate(newcomer).is_lt() {
                    return None;
                }
                bytes -= victim.size;
                gone.insert(victim.txid);
                victims.push(victim.clone());
            }
        }
        Some(victims)
    }

    /// Whether no pending transaction outside `gone` spends an output of `pooled`.
    fn is_leaf(&self, pooled: &PoolTx, gone: &BTreeSet<Txid>) -> bool {
        (0..pooled.tx.outputs.len() as u32).all(|vout| {
            let outpoint = OutPoint {
                txid: pooled.txid,
                vout,
            };
            self.spender(&outpoint)
                .is_none_or(|child| gone.contains(&child))
        })
    }

    /// Transactions for a block of at most `budget` bytes: highest fee rate first, a child only
    /// after its parents. Returns them in block order and their total fee.
    pub fn select(&self, mut budget: usize) -> (Vec<Arc<PoolTx>>, Amount) {
        let mut ranked: Vec<&Arc<PoolTx>> = self.txs.values().collect();
        ranked.sort_by(|a, b| b.cmp_fee_rate(a).then(a.seq.cmp(&b.seq)));
        let mut chosen: BTreeSet<Txid> = BTreeSet::new();
        let mut picked = Vec::new();
        let mut fees = Amount::ZERO;
        // A child ranked above its parent waits for the next pass.
        loop {
            let before = picked.len();
            for pooled in &ranked {
                if chosen.contains(&pooled.txid) || pooled.size > budget {
                    continue;
                }
                let parents_in = pooled.tx.inputs.iter().all(|input| {
                    !self.txs.contains_key(&input.prev.txid) || chosen.contains(&input.prev.txid)
                });
                if parents_in {
                    chosen.insert(pooled.txid);
                    budget -= pooled.size;
                    fees = fees.checked_add(pooled.fee).unwrap_or(fees);
                    picked.push((*pooled).clone());
                }
            }
            if picked.len() == before {
                break;
            }
        }
        // Block order: parents before children, which arrival order guarantees.
        picked.sort_by_key(|pooled| pooled.seq);
        (picked, fees)
    }
}
