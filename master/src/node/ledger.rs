//! What a main-chain block does to the coin tables: the outputs it spends and creates, its undo
//! data, where its transactions are, and each address's history. [`attach`] and [`detach`] are exact
//! inverses, so a reorg costs O(size of the blocks it moves) and leaves the tables as if the detached
//! blocks had never been there.

use super::chain_state::Write;
use crate::store::EntryLocation;
use bbchain_core::hash::Txid;
use bbchain_core::keys::PublicKey;
use bbchain_core::spend::{BlockSpends, Utxo, unspent_outputs};
use bbchain_core::{Block, BlockHash, Entry, OutPoint};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

/// One row of an address's history: the key, the height (big-endian, so rows sort by height), the
/// txid.
pub type HistoryKey = [u8; 68];

/// The history row of `key` for the transaction `txid` in a block at `height`.
pub fn history_key(key: &PublicKey, height: u32, txid: &Txid) -> HistoryKey {
    let mut out = [0u8; 68];
    out[..32].copy_from_slice(key.as_bytes());
    out[32..36].copy_from_slice(&height.to_be_bytes());
    out[36..].copy_from_slice(txid.as_byte_array());
    out
}

/// The undo data of a block: the outputs it spent that existed before it, with their data.
pub type Undo = Vec<(OutPoint, Utxo)>;

/// The writes that attach `block` (at `hash`, `height`, already checked to spend `spends`) to the
/// main chain's coin tables.
pub(super) fn attach(
    block: &Block,
    hash: BlockHash,
    height: u32,
    spends: &BlockSpends,
) -> Vec<Write> {
    let mut writes = Vec::new();
    for (outpoint, utxo) in &spends.spent {
        writes.push(Write::UtxoRemove(*outpoint, *utxo));
    }
    for (outpoint, utxo) in &spends.created {
        writes.push(Write::UtxoAdd(*outpoint, *utxo));
    }
    // A block that spends nothing (most of them, while coins are young) needs no undo row: a
    // missing row reads as empty.
    if !spends.spent.is_empty() {
        writes.push(Write::Undo(hash, Arc::new(spends.spent.clone())));
    }
    for (txid, index) in txids(block) {
        writes.push(Write::TxConfirm(txid, EntryLocation { block: hash, index }));
    }
    for row in history(block, height, &spends.spent) {
        writes.push(Write::HistoryAdd(row));
    }
    writes
}

/// The writes that take `block` (at `height`, whose undo data is `undo`) back off the main
/// chain's coin tables: its outputs go, the outputs it spent come back. Undo data that does not
/// match the block (a lost or damaged row) is an error, never a silent loss of coins.
pub(super) fn detach(block: &Block, height: u32, undo: &Undo) -> anyhow::Result<Vec<Write>> {
    let own: BTreeSet<OutPoint> = created(block, height).into_iter().map(|(o, _)| o).collect();
    let from_before = block
        .txs()
        .flat_map(|tx| tx.inputs.iter())
        .filter(|input| !own.contains(&input.prev))
        .count();
    anyhow::ensure!(
        undo.len() == from_before,
        "the undo data of block at height {height} lists {} outputs, but it spent {from_before}",
        undo.len()
    );
    let mut writes = Vec::new();
    for row in history(block, height, undo) {
        writes.push(Write::HistoryRemove(row));
    }
    let mut spent_here = BTreeSet::new();
    for tx in block.txs() {
        spent_here.extend(tx.inputs.iter().map(|input| input.prev));
    }
    for (txid, _) in txids(block) {
        writes.push(Write::TxUnconfirm(txid));
    }
    for (outpoint, utxo) in created(block, height) {
        // Outputs spent within the block never reached the table.
        if !spent_here.contains(&outpoint) {
            writes.push(Write::UtxoRemove(outpoint, utxo));
        }
    }
    for (outpoint, utxo) in undo {
        writes.push(Write::UtxoAdd(*outpoint, *utxo));
    }
    Ok(writes)
}

/// Every txid of the block with its entry index: the coinbase, then the transactions. A coinbase
/// that pays nobody is left out: it holds nothing to spend or show, and indexing it would cost
/// every such block a write.
pub fn txids(block: &Block) -> impl Iterator<Item = (Txid, u32)> + '_ {
    block
        .entries
        .iter()
        .enumerate()
        .filter_map(|(index, entry)| {
            let txid = match entry {
                Entry::Coinbase(coinbase) if !coinbase.outputs.is_empty() => coinbase.txid(),
                Entry::Tx(tx) => tx.txid(),
                Entry::Coinbase(_) | Entry::Data { .. } => return None,
            };
            Some((txid, index as u32))
        })
}

/// Every output the block creates, spent within it or not.
fn created(block: &Block, height: u32) -> Vec<(OutPoint, Utxo)> {
    let mut out = Vec::new();
    for entry in &block.entries {
        let (txid, outputs, coinbase) = match entry {
            Entry::Coinbase(coinbase) => (coinbase.txid(), &coinbase.outputs, true),
            Entry::Tx(tx) => (tx.txid(), &tx.outputs, false),
            Entry::Data { .. } => continue,
        };
        out.extend(unspent_outputs(txid, outputs, height, coinbase));
    }
    out
}

/// The history rows of a block: each transaction under every key it pays or spends from. `spent`
/// holds the outputs from before the block that it spends; outputs it spends from itself are found
/// in the block.
fn history(block: &Block, height: u32, spent: &[(OutPoint, Utxo)]) -> BTreeSet<HistoryKey> {
    let mut owners: HashMap<OutPoint, PublicKey> = spent
        .iter()
        .map(|(outpoint, utxo)| (*outpoint, utxo.output.key))
        .collect();
    owners.extend(
        created(block, height)
            .into_iter()
            .map(|(outpoint, utxo)| (outpoint, utxo.output.key)),
    );
    let mut rows = BTreeSet::new();
    for entry in &block.entries {
        let (txid, outputs, inputs) = match entry {
            Entry::Coinbase(coinbase) => (coinbase.txid(), &coinbase.outputs, &[][..]),
            Entry::Tx(tx) => (tx.txid(), &tx.outputs, &tx.inputs[..]),
            Entry::Data { .. } => continue,
        };
        for output in outputs {
            rows.insert(history_key(&output.key, height, &txid));
        }
        for input in inputs {
            if let Some(key) = owners.get(&input.prev) {
                rows.insert(history_key(key, height, &txid));
            }
        }
    }
    rows
}

/// Encodes undo data: a count (u32 LE), then each outpoint and output.
pub fn undo_to_bytes(undo: &Undo) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + undo.len() * (OutPoint::SIZE + Utxo::SIZE));
    out.extend_from_slice(&(undo.len() as u32).to_le_bytes());
    for (outpoint, utxo) in undo {
        out.extend_from_slice(&outpoint.to_bytes());
        out.extend_from_slice(&utxo.to_bytes());
    }
    out
}

/// Decodes [`undo_to_bytes`].
pub fn undo_from_bytes(bytes: &[u8]) -> anyhow::Result<Undo> {
    const ROW: usize = OutPoint::SIZE + Utxo::SIZE;
    let (count, rows) = bytes
        .split_at_checked(4)
        .ok_or_else(|| anyhow::anyhow!("undo data too short"))?;
    let count = u32::from_le_bytes(count.try_into().expect("4 bytes")) as usize;
    anyhow::ensure!(rows.len() == count * ROW, "undo data has the wrong length");
    Ok(rows
        .chunks_exact(ROW)
        .map(|row| {
            let outpoint = OutPoint::from_bytes(row[..OutPoint::SIZE].try_into().expect("36"));
            let utxo = Utxo::from_bytes(row[OutPoint::SIZE..].try_into().expect("45"));
            (outpoint, utxo)
        })
        .collect())
}
