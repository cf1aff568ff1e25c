//! JSON shapes of the REST API and the event feed, exactly as `docs/protocol.md` lists them.

pub mod coins;

use crate::node::{ChainSnapshot, DataStatus, Node};
use crate::store::{BlockInfo, IndexRecord};
use bbchain_core::{Block, BlockHash, ChainParams, DataId};
use serde::Serialize;
use serde_json::{Value, json};

/// A block summary: `{"height","hash","prev_hash","time","bits","nonce","miner","entries","difficulty"}`.
#[derive(Debug, Clone, Serialize)]
pub struct BlockSummary {
    /// Height.
    pub height: u32,
    /// Hash.
    pub hash: BlockHash,
    /// Parent hash.
    pub prev_hash: BlockHash,
    /// Header time.
    pub time: u32,
    /// Compact target.
    pub bits: bbchain_core::CompactTarget,
    /// Nonce.
    pub nonce: u32,
    /// Miner name from the coinbase.
    pub miner: String,
    /// Entries after the coinbase: transactions and data.
    pub entries: usize,
    /// Transactions after the coinbase.
    pub txs: usize,
    /// What the coinbase pays.
    pub reward: u64,
    /// How many times harder than the pow limit.
    pub difficulty: f64,
}

impl BlockSummary {
    /// The summary of `block` at `height`.
    pub fn of(block: &Block, height: u32, params: &ChainParams) -> BlockSummary {
        let target = block.header.target().unwrap_or(params.pow_limit_target());
        BlockSummary {
            height,
            hash: block.hash(),
            prev_hash: block.header.prev_hash,
            time: block.header.time,
            bits: block.header.bits,
            nonce: block.header.nonce,
            miner: block
                .coinbase()
                .map(|c| c.miner.clone())
                .unwrap_or_default(),
            entries: block.entries.len().saturating_sub(1),
            txs: block.txs().count(),
            reward: block
                .coinbase()
                .map_or(0, |cb| cb.outputs.iter().map(|o| o.value.units()).sum()),
            difficulty: target.difficulty(&params.pow_limit_target()),
        }
    }
}

impl BlockSummary {
    /// The summary of a block from its index record and stored info (no decoding).
    pub fn from_index(record: &IndexRecord, info: BlockInfo, params: &ChainParams) -> BlockSummary {
        let header = &record.header;
        let target = header.target().unwrap_or(params.pow_limit_target());
        BlockSummary {
            height: record.height,
            hash: record.hash(),
            prev_hash: header.prev_hash,
            time: header.time,
            bits: header.bits,
            nonce: header.nonce,
            miner: info.miner,
            entries: info.entries as usize,
            txs: info.txs as usize,
            reward: info.reward.units(),
            difficulty: target.difficulty(&params.pow_limit_target()),
        }
    }
}

/// `GET /api/blocks/{id}`: the summary plus merkle root, confirmations (0 off the main chain),
/// coinbase, reward, transactions (coinbase first; `spent` tells what their inputs spend) and data.
pub fn block_detail(
    block: &Block,
    height: u32,
    confirmations: u32,
    spent: Option<&std::collections::HashMap<bbchain_core::OutPoint, bbchain_core::TxOut>>,
    params: &ChainParams,
) -> Value {
    let mut value =
        serde_json::to_value(BlockSummary::of(block, height, params)).unwrap_or_default();
    let data: Vec<Value> = block
        .data()
        .map(|text| json!({"id": bbchain_core::block::data_id(text), "text": text}))
        .collect();
    let extra = json!({
        "merkle_root": block.header.merkle_root,
        "header": hex::encode(block.header.to_bytes()),
        "size": block.encoded_len(),
        "confirmations": confirmations,
        "coinbase": block.coinbase().map(|cb| coins::coinbase(cb, params)),
        "reward": block.coinbase().map_or(0, |cb| cb.outputs.iter().map(|o| o.value.units()).sum::<u64>()),
        "txs": coins::block_txs(block, spent, params),
        "data": data,
    });
    if let (Value::Object(map), Value::Object(more)) = (&mut value, extra) {
        map.extend(more);
    }
    value
}

/// `GET /api/status` (also the `status` event).
pub fn status(node: &Node, snapshot: &ChainSnapshot) -> Value {
    let params = node.params();
    json!({
        "network": params.name,
        "height": snapshot.height,
        "tip": snapshot.tip,
        "bits": snapshot.next_bits,
        "target": snapshot.next_target.to_hex(),
        "difficulty": snapshot.next_target.difficulty(&params.pow_limit_target()),
        "target_interval": params.target_spacing,
        "coinbase_maturity": params.coinbase_maturity,
        "hashrate": snapshot.hashrate,
        "chainwork": snapshot.chainwork,
        "miners": node.miner_count(),
        "peers": node.linked_masters().len(),
        "pending": snapshot.pending,
        "supply": snapshot.supply.units(),
        "subsidy": snapshot.subsidy.units(),
        "mempool": {"txs": snapshot.mempool_txs, "bytes": snapshot.mempool_bytes},
        "genesis": params.genesis_hash(),
        "storage": node.storage().to_string(),
    })
}

/// `GET /api/data/{id}` and the answer to `POST /api/data`.
pub fn data_status(id: &DataId, status: &DataStatus) -> Value {
    match status {
        DataStatus::Pending => json!({"id": id, "status": "pending"}),
        DataStatus::Confirmed {
            height,
            block,
            confirmations,
            merkle_root,
            proof,
        } => json!({
            "id": id,
            "status": "confirmed",
            "height": height,
            "block": block,
            "confirmations": confirmations,
            "merkle_root": merkle_root,
            "proof": proof,
        }),
    }
}
