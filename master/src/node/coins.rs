//! The node handle's coin side: taking transactions, and answering for a transaction or an
//! address from the database and the published mempool (never from the writer thread).

use super::chain_state::TxAdded;
use super::outcomes::AddTxError;
use super::writer::Command;
use super::{Node, ledger};
use crate::store::StoreReader;
use bbchain_core::hash::Txid;
use bbchain_core::keys::PublicKey;
use bbchain_core::spend::Utxo;
use bbchain_core::{
    Amount, Block, BlockHash, Entry, MerkleProof, OutPoint, Transaction, TxMerkleNode, TxOut,
};
use std::collections::HashMap;
use tokio::sync::oneshot;

/// Most transactions an address answer lists.
pub const ADDRESS_TXS: usize = 50;
/// Most unspent outputs an address answer lists (the largest; the balances count them all).
pub const ADDRESS_UTXOS: usize = 1000;

/// A transaction (or coinbase) with the outputs its inputs spend, where known.
#[derive(Debug, Clone)]
pub struct TxDetail {
    /// Its id.
    pub txid: Txid,
    /// A coinbase or a transaction entry.
    pub entry: Entry,
    /// For each input, the output it spends (`None` where the node cannot tell).
    pub spent: Vec<Option<TxOut>>,
}

impl TxDetail {
    /// Inputs minus outputs, when every input is known; zero for a coinbase.
    pub fn fee(&self) -> Option<Amount> {
        let Entry::Tx(tx) = &self.entry else {
            return Some(Amount::ZERO);
        };
        let inputs: Option<Vec<Amount>> = self.spent.iter().map(|o| o.map(|o| o.value)).collect();
        let inputs = Amount::checked_sum(inputs?)?;
        inputs.checked_sub(Amount::checked_sum(tx.outputs.iter().map(|o| o.value))?)
    }
}

/// Where a transaction stands.
#[derive(Debug, Clone)]
pub enum TxStatus {
    /// In the mempool.
    Pending(TxDetail),
    /// In the main chain.
    Confirmed {
        /// The transaction.
        detail: TxDetail,
        /// The block's height.
        height: u32,
        /// The block.
        block: BlockHash,
        /// Tip height - height + 1.
        confirmations: u32,
        /// The block's merkle root.
        merkle_root: TxMerkleNode,
        /// Proof from the transaction's leaf to `merkle_root`.
        proof: MerkleProof,
    },
}

/// One confirmed unspent output of an address.
#[derive(Debug, Clone)]
pub struct AddressUtxo {
    /// Where it is.
    pub outpoint: OutPoint,
    /// What it holds.
    pub utxo: Utxo,
    /// Whether the next block may spend it.
    pub mature: bool,
    /// The pending transaction that spends it.
    pub spent_by: Option<Txid>,
}

/// What an address holds.
#[derive(Debug, Clone, Default)]
pub struct AddressInfo {
    /// Confirmed, mature, and not spent by a pending transaction.
    pub balance: Amount,
    /// Block rewards still maturing.
    pub immature: Amount,
    /// Outputs of pending transactions that pay it.
    pub pending: Amount,
    /// Its confirmed unspent outputs, each with whether the next block may spend it (mature) and
    /// the pending transaction that already spends it, if any.
    pub utxos: Vec<AddressUtxo>,
    /// Its pending transactions, then its latest confirmed ones, newest first.
    pub txs: Vec<Txid>,
    /// How many confirmed unspent outputs it has (`utxos` lists at most [`ADDRESS_UTXOS`]).
    pub utxo_count: usize,
}

impl Node {
    /// Takes a transaction into the mempool; answers after it is committed. Its signatures are
    /// checked first on a blocking thread of the caller's (so many callers use every core), and
    /// the single writer finds them in the signature cache.
    pub async fn add_tx(&self, tx: Transaction) -> Result<TxAdded, AddTxError> {
        let node = self.clone();
        let (tx, early) = tokio::task::spawn_blocking(move || {
            let early = node.verify_ahead(&tx);
            (tx, early)
        })
        .await
        .map_err(|err| AddTxError::Storage(err.to_string()))?;
        early?;
        let (reply, answer) = oneshot::channel();
        if !self.send(Command::AddTx { tx, reply }) {
            return Err(AddTxError::ShuttingDown);
        }
        answer.await.unwrap_or(Err(AddTxError::ShuttingDown))
    }

    /// Verifies `tx`'s signatures against the outputs it spends as the database and the mempool
    /// know them now, and remembers the good ones. Inputs it cannot resolve are left to the writer,
    /// which checks everything again against the state it commits to; this only saves it work.
    fn verify_ahead(&self, tx: &Transaction) -> Result<(), AddTxError> {
        let Ok(reader) = self.shared.store.read() else {
            return Ok(());
        };
        let mut spent = Vec::with_capacity(tx.inputs.len());
        {
            let pool = self.shared.pool.lock().expect("lock");
            for input in &tx.inputs {
                let from_pool = pool
                    .get(&input.prev.txid)
                    .and_then(|parent| parent.tx.outputs.get(input.prev.vout as usize).copied());
                match from_pool {
                    Some(output) => spent.push(output),
                    None => match reader.utxo(&input.prev) {
                        Ok(Some(utxo)) => spent.push(utxo.output),
                        _ => return Ok(()),
                    },
                }
            }
        }
        let messages = tx.sighashes(&self.shared.genesis, &spent);
        let mut good = Vec::with_capacity(messages.len());
        for (index, ((input, msg), output)) in
            tx.inputs.iter().zip(messages).zip(&spent).enumerate()
        {
            let check = bbchain_core::spend::SigCheck {
                entry: 0,
                input: index as u32,
                key: output.key,
                msg,
                sig: input.signature,
            };
            if !check.verify() {
                let bad = bbchain_core::spend::TxError::BadSignature(index as u32);
                return Err(AddTxError::Invalid(bad));
            }
            good.push(check);
        }
        self.shared.sig_cache.lock().expect("lock").remember(&good);
        Ok(())
    }

    /// A pending transaction (for gossip to peers).
    pub fn pending_tx(&self, txid: &Txid) -> Option<std::sync::Arc<Transaction>> {
        let pooled = self.shared.pool.lock().expect("lock").get(txid);
        pooled.map(|pooled| pooled.tx.clone())
    }

    /// The `limit` oldest pending transactions, parents before children (for a new link).
    pub fn pending_txs(&self, limit: usize) -> anyhow::Result<Vec<Transaction>> {
        self.shared.store.read()?.oldest_mempool(limit)
    }

    /// A transaction's status: pending, confirmed, or unknown (`None`).
    pub fn tx_status(&self, txid: &Txid) -> anyhow::Result<Option<TxStatus>> {
        let pooled = self.shared.pool.lock().expect("lock").get(txid);
        let reader = self.shared.store.read()?;
        if let Some(pooled) = pooled {
            let tx = (*pooled.tx).clone();
            let spent = self.pending_spent(&reader, &tx)?;
            let detail = TxDetail {
                txid: *txid,
                entry: Entry::Tx(tx),
                spent,
            };
            return Ok(Some(TxStatus::Pending(detail)));
        }
        let Some(location) = reader.tx_location(txid)? else {
            return Ok(None);
        };
        let record = reader
            .record(&location.block)?
            .ok_or_else(|| anyhow::anyhow!("confirmed transaction in an unknown block"))?;
        let block = reader
            .block(&location.block)?
            .ok_or_else(|| anyhow::anyhow!("confirmed transaction in a missing block"))?;
        let spent_map = block_spent(&reader, &location.block, &block)?.unwrap_or_default();
        let index = location.index as usize;
        let entry = block
            .entries
            .get(index)
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("transaction index out of range"))?;
        let spent = match &entry {
            Entry::Tx(tx) => tx
                .inputs
                .iter()
                .map(|input| spent_map.get(&input.prev).copied())
                .collect(),
            _ => Vec::new(),
        };
        let tip_height = reader.record(&reader.tip()?)?.map_or(0, |r| r.height);
        Ok(Some(TxStatus::Confirmed {
            detail: TxDetail {
                txid: *txid,
                entry,
                spent,
            },
            height: record.height,
            block: location.block,
            confirmations: tip_height.saturating_sub(record.height) + 1,
            merkle_root: block.header.merkle_root,
            proof: block
                .proof(index)
                .ok_or_else(|| anyhow::anyhow!("transaction index out of range"))?,
        }))
    }

    /// The outputs a pending transaction's inputs spend: unspent outputs of the chain, or outputs
    /// of other pending transactions.
    fn pending_spent(
        &self,
        reader: &StoreReader,
        tx: &Transaction,
    ) -> anyhow::Result<Vec<Option<TxOut>>> {
        let pool = self.shared.pool.lock().expect("lock");
        let mut spent = Vec::with_capacity(tx.inputs.len());
        for input in &tx.inputs {
            let from_pool = pool.get(&input.prev.txid).and_then(|parent| {
                let vout = input.prev.vout as usize;
                parent.tx.outputs.get(vout).copied()
            });
            let output = match from_pool {
                Some(output) => Some(output),
                None => reader.utxo(&input.prev)?.map(|utxo| utxo.output),
            };
            spent.push(output);
        }
        Ok(spent)
    }

    /// What `key` holds, and its latest transactions.
    pub fn address_info(&self, key: &PublicKey) -> anyhow::Result<AddressInfo> {
        let reader = self.shared.store.read()?;
        let next_height = reader.record(&reader.tip()?)?.map_or(0, |r| r.height) + 1;
        let utxos = reader.utxos_of(key)?;
        let history = reader.history_of(key, ADDRESS_TXS)?;
        let pool = self.shared.pool.lock().expect("lock");
        let mut info = AddressInfo::default();
        let mut pending_txs = Vec::new();
        for (outpoint, utxo) in utxos {
            let value = utxo.output.value;
            let spent_by = pool.spender(&outpoint);
            let mature = utxo.blocks_to_maturity(next_height, &self.shared.params) == 0;
            if let Some(spender) = spent_by {
                pending_txs.push(spender);
            } else if !mature {
                info.immature = info.immature.checked_add(value).unwrap_or(info.immature);
            } else {
                info.balance = info.balance.checked_add(value).unwrap_or(info.balance);
            }
            info.utxos.push(AddressUtxo {
                outpoint,
                utxo,
                mature,
                spent_by,
            });
        }
        for pooled in pool.paying(key) {
            for output in pooled.tx.outputs.iter().filter(|o| o.key == *key) {
                let pending = info.pending.checked_add(output.value);
                info.pending = pending.unwrap_or(info.pending);
            }
            pending_txs.push(pooled.txid);
        }
        drop(pool);
        pending_txs.sort();
        pending_txs.dedup();
        info.txs = pending_txs;
        info.txs.extend(history.into_iter().map(|(_, txid)| txid));
        info.txs.truncate(ADDRESS_TXS);
        info.utxo_count = info.utxos.len();
        info.utxos
            .sort_by_key(|row| std::cmp::Reverse(row.utxo.output.value));
        info.utxos.truncate(ADDRESS_UTXOS);
        Ok(info)
    }

    /// For a main-chain block, every output its transactions spend (from its undo data and from
    /// itself); `None` off the main chain, where the node has not connected it.
    pub fn block_spent(
        &self,
        hash: &BlockHash,
        block: &Block,
    ) -> anyhow::Result<Option<HashMap<OutPoint, TxOut>>> {
        block_spent(&self.shared.store.read()?, hash, block)
    }
}

fn block_spent(
    reader: &StoreReader,
    hash: &BlockHash,
    block: &Block,
) -> anyhow::Result<Option<HashMap<OutPoint, TxOut>>> {
    // Off the main chain the node has not connected the block: it cannot tell.
    let on_main = match reader.record(hash)? {
        Some(record) => reader.main_hash(record.height)? == Some(*hash),
        None => false,
    };
    if !on_main {
        return Ok(None);
    }
    let undo = reader.undo(hash)?.unwrap_or_default();
    let mut spent: HashMap<OutPoint, TxOut> = undo
        .into_iter()
        .map(|(outpoint, utxo)| (outpoint, utxo.output))
        .collect();
    for (txid, index) in ledger::txids(block) {
        let outputs = match &block.entries[index as usize] {
            Entry::Coinbase(coinbase) => &coinbase.outputs,
            Entry::Tx(tx) => &tx.outputs,
            Entry::Data { .. } => continue,
        };
        for (vout, output) in outputs.iter().enumerate() {
            let vout = vout as u32;
            spent.insert(OutPoint { txid, vout }, *output);
        }
    }
    Ok(Some(spent))
}
