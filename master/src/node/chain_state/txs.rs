//! The chain state's transactions: taking one into the mempool, and keeping the mempool consistent
//! as blocks connect and reorgs move the tip.

use super::*;
use crate::node::outcomes::AddTxError;
use crate::node::sig_check::CachedParallel;
use bbchain_core::Transaction;
use bbchain_core::spend::{SigVerifier, TxError, check_inputs_unsigned};
use std::collections::BTreeSet;

/// How a transaction was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxAdded {
    /// In the mempool: added now, or already there.
    Pending,
    /// Already in the main chain.
    Confirmed,
}

/// The unspent outputs a new pending transaction may spend: the main chain's, and the outputs of
/// pending transactions, less what pending transactions already spend.
struct PoolView<'a, S> {
    chain: ChainView<'a, S>,
    pool: &'a Mempool,
    next_height: u32,
}

impl<S: ChainStore> UtxoView for PoolView<'_, S> {
    fn utxo(&self, outpoint: &OutPoint) -> Option<Utxo> {
        if self.pool.spender(outpoint).is_some() {
            return None;
        }
        self.pool
            .output(outpoint, self.next_height)
            .or_else(|| self.chain.utxo(outpoint))
    }
}

/// Whether arrivals are announced as events: not for transactions that were already pending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Announce {
    Yes,
    No,
}

impl ChainState {
    /// The sum of all unspent outputs.
    pub(in crate::node) fn supply(&self) -> Amount {
        Amount::from_units(self.supply)
    }

    /// The transactions waiting for a block.
    pub(in crate::node) fn mempool(&self) -> &Mempool {
        &self.mempool
    }

    /// Takes a new transaction into the mempool, or says why not.
    pub(in crate::node) fn add_tx(
        &mut self,
        store: &impl ChainStore,
        tx: Transaction,
        change: &mut ChangeSet,
    ) -> anyhow::Result<Result<TxAdded, AddTxError>> {
        self.utxo_overlay.clear();
        let txid = tx.txid();
        if self.mempool.get(&txid).is_some() {
            return Ok(Ok(TxAdded::Pending));
        }
        if store.tx_location(&txid)?.is_some() {
            return Ok(Ok(TxAdded::Confirmed));
        }
        let seq = self.mempool.last_seq().map_or(FIRST_SEQ, |seq| seq + 1);
        Ok(self
            .accept(store, tx, seq, Announce::Yes, change)?
            .map(|()| TxAdded::Pending))
    }

    /// Checks `tx` against the main chain and the mempool, and adds it at position `seq`, evicting
    /// lower fee rates if the mempool is full.
    fn accept(
        &mut self,
        store: &impl ChainStore,
        tx: Transaction,
        seq: u64,
        announce: Announce,
        change: &mut ChangeSet,
    ) -> anyhow::Result<Result<(), AddTxError>> {
        let size = tx.encoded_len();
        let limits = &self.limits;
        if size > limits.max_tx_bytes {
            let max = limits.max_tx_bytes;
            return Ok(Err(AddTxError::TooLarge { len: size, max }));
        }
        let txid = tx.txid();
        for (index, input) in tx.inputs.iter().enumerate() {
            if let Some(spender) = self.mempool.spender(&input.prev) {
                let index = index as u32;
                let outpoint = input.prev;
                return Ok(Err(AddTxError::DoubleSpend {
                    index,
                    outpoint,
                    spender,
                }));
            }
        }
        let next_height = self.tip().height + 1;
        let view = PoolView {
            chain: self.chain_view(store),
            pool: &self.mempool,
            next_height,
        };
        let mut checks = Vec::with_capacity(tx.inputs.len());
        let (params, genesis) = (&self.params, &self.genesis);
        let checked =
            check_inputs_unsigned(&tx, &view, next_height, params, genesis, 0, &mut checks);
        view.chain.finish()?;
        let spent = match checked {
            Ok(spent) => spent,
            Err(err) => return Ok(Err(err.into())),
        };
        // The cheap policy checks first: signatures are the expensive part.
        let min = Amount::from_units(limits.dust_units);
        if let Some((index, output)) = (tx.outputs.iter().enumerate()).find(|(_, o)| o.value < min)
        {
            let (index, value) = (index as u32, output.value);
            return Ok(Err(AddTxError::Dust { index, value, min }));
        }
        let min_fee = Amount::from_units(limits.min_fee_per_byte.saturating_mul(size as u64));
        if spent.fee < min_fee {
            let fee = spent.fee;
            return Ok(Err(AddTxError::FeeTooLow {
                fee,
                size,
                min: min_fee,
            }));
        }
        let max = self.limits.max_pending_chain;
        if self.mempool.ancestors_exceed(&tx, max) {
            return Ok(Err(AddTxError::ChainTooLong { max }));
        }
        let mut verifier = CachedParallel {
            cache: &self.sig_cache,
        };
        if let Err(bad) = verifier.verify_all(&checks) {
            return Ok(Err(TxError::BadSignature(checks[bad].input).into()));
        }
        let parents: BTreeSet<Txid> = tx.inputs.iter().map(|input| input.prev.txid).collect();
        let pooled = Arc::new(PoolTx {
            tx: Arc::new(tx),
            txid,
            fee: spent.fee,
            size,
            seq,
        });
        let room = self.limits.max_mempool_bytes.saturating_sub(size);
        match self.mempool.victims_for(&pooled, room, &parents) {
            Some(victims) => {
                for victim in victims {
                    tracing::info!("mempool full: evicted {} for {txid}", victim.txid);
                    self.apply(Write::PoolRemove(victim), change);
                }
            }
            None => return Ok(Err(AddTxError::MempoolFull)),
        }
        self.apply(Write::PoolAdd(pooled), change);
        self.sig_cache.lock().expect("lock").remember(&checks);
        if announce == Announce::Yes {
            change.events.push(NodeEvent::TxAdded { txid });
        }
        change.pool_changed = true;
        Ok(Ok(()))
    }

    /// Takes out of the mempool what a newly connected block confirmed, and whatever now conflicts
    /// with it (with the transactions that build on those).
    pub(super) fn unpool_confirmed(&mut self, block: &Block, change: &mut ChangeSet) {
        for tx in block.txs() {
            let txid = tx.txid();
            if let Some(pooled) = self.mempool.get(&txid).cloned() {
                self.apply(Write::PoolRemove(pooled), change);
            }
        }
        for tx in block.txs() {
            for input in &tx.inputs {
                let Some(loser) = self.mempool.spender(&input.prev) else {
                    continue;
                };
                for pooled in self.mempool.with_descendants(&loser) {
                    tracing::info!("dropped pending {}: a block spent its input", pooled.txid);
                    self.apply(Write::PoolRemove(pooled), change);
                }
            }
        }
        change.pool_changed = true;
    }

    /// After a reorg: the detached blocks' transactions go back to the mempool first (unless the
    /// new branch has them), then every pending transaction is checked again against the new main
    /// chain. Whatever no longer fits (it spends a vanished coinbase, or conflicts with the new
    /// branch) is dropped with a log line.
    pub(super) fn repool_after_reorg(
        &mut self,
        store: &impl ChainStore,
        detached: &[Block],
        confirmed: &HashSet<Txid>,
        change: &mut ChangeSet,
    ) -> anyhow::Result<()> {
        let pending: Vec<Arc<PoolTx>> = self.mempool.in_order().cloned().collect();
        for pooled in &pending {
            self.apply(Write::PoolRemove(pooled.clone()), change);
        }
        // `detached` runs from the old tip down: oldest block first.
        let returning: Vec<&Transaction> = detached
            .iter()
            .rev()
            .flat_map(Block::txs)
            .filter(|tx| !confirmed.contains(&tx.txid()))
            .collect();
        let front = pending.first().map_or(FIRST_SEQ, |pooled| pooled.seq);
        let first = front.saturating_sub(returning.len() as u64);
        for (seq, tx) in (first..).zip(returning) {
            if let Err(err) = self.accept(store, tx.clone(), seq, Announce::Yes, change)? {
                tracing::info!("dropped {} from a detached block: {err}", tx.txid());
            }
        }
        for pooled in pending {
            if confirmed.contains(&pooled.txid) {
                continue;
            }
            let tx = (*pooled.tx).clone();
            if let Err(err) = self.accept(store, tx, pooled.seq, Announce::No, change)? {
                tracing::info!("dropped pending {} after a reorg: {err}", pooled.txid);
            }
        }
        change.pool_changed = true;
        Ok(())
    }

    /// Loads the stored mempool at start-up, checking each transaction again (oldest first) against
    /// the chain as it is now; what fails is dropped from the store with a log line.
    pub(in crate::node) fn restore_pool(
        &mut self,
        store: &impl ChainStore,
        stored: Vec<(u64, Transaction)>,
        change: &mut ChangeSet,
    ) -> anyhow::Result<()> {
        for (seq, tx) in stored {
            let txid = tx.txid();
            let fits = match store.tx_location(&txid)? {
                Some(_) => Err("already confirmed".to_string()),
                None => self
                    .accept(store, tx.clone(), seq, Announce::No, change)?
                    .map_err(|err| err.to_string()),
            };
            if let Err(why) = fits {
                tracing::info!("dropped stored pending {txid}: {why}");
                // Only the stored row goes: it was never in memory.
                self.apply(Write::PoolForget(seq), change);
            }
        }
        self.utxo_overlay.clear();
        Ok(())
    }
}
