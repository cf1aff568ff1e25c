//! JSON shapes of coins: outputs, transactions, their status, and addresses. Values are integer
//! units; addresses are bech32m for this node's network.

use crate::node::{AddressInfo, TxDetail, TxStatus};
use bbchain_core::hash::Txid;
use bbchain_core::{Block, ChainParams, Coinbase, Entry, OutPoint, TxOut, address};
use serde_json::{Value, json};
use std::collections::HashMap;

/// `{"address","value"}`.
pub fn output(output: &TxOut, params: &ChainParams) -> Value {
    json!({"address": address::encode(&output.key, params), "value": output.value.units()})
}

fn outputs(list: &[TxOut], params: &ChainParams) -> Vec<Value> {
    list.iter().map(|o| output(o, params)).collect()
}

/// A coinbase: `{"txid","height","extra_nonce","miner","outputs"}`.
pub fn coinbase(coinbase: &Coinbase, params: &ChainParams) -> Value {
    json!({
        "txid": coinbase.txid(),
        "height": coinbase.height,
        "extra_nonce": coinbase.extra_nonce,
        "miner": coinbase.miner,
        "outputs": outputs(&coinbase.outputs, params),
    })
}

/// A transaction: `{"txid","inputs":[{"txid","vout","address","value"}],"outputs","fee"}`, a
/// coinbase with no inputs. Unknown spent outputs show `null` address and value (and fee).
pub fn tx(detail: &TxDetail, params: &ChainParams) -> Value {
    let fee = detail.fee().map(|fee| fee.units());
    match &detail.entry {
        Entry::Tx(tx) => {
            let inputs: Vec<Value> = tx
                .inputs
                .iter()
                .zip(&detail.spent)
                .map(|(input, spent)| {
                    let (address, value) = match spent {
                        Some(o) => (
                            json!(address::encode(&o.key, params)),
                            json!(o.value.units()),
                        ),
                        None => (Value::Null, Value::Null),
                    };
                    json!({
                        "txid": input.prev.txid,
                        "vout": input.prev.vout,
                        "address": address,
                        "value": value,
                    })
                })
                .collect();
            json!({
                "txid": detail.txid,
                "inputs": inputs,
                "outputs": outputs(&tx.outputs, params),
                "fee": fee,
            })
        }
        Entry::Coinbase(cb) => json!({
            "txid": detail.txid,
            "coinbase": true,
            "inputs": [],
            "outputs": outputs(&cb.outputs, params),
            "fee": 0,
        }),
        Entry::Data { .. } => Value::Null,
    }
}

/// A block's transactions, coinbase first, with what their inputs spend when `spent` is known.
pub fn block_txs(
    block: &Block,
    spent: Option<&HashMap<OutPoint, TxOut>>,
    params: &ChainParams,
) -> Vec<Value> {
    let details = block.entries.iter().filter_map(|entry| {
        let (txid, inputs) = match entry {
            Entry::Coinbase(cb) => (cb.txid(), Vec::new()),
            Entry::Tx(tx) => (tx.txid(), tx.inputs.iter().map(|i| i.prev).collect()),
            Entry::Data { .. } => return None,
        };
        let spent = inputs
            .iter()
            .map(|outpoint| spent.and_then(|map| map.get(outpoint).copied()))
            .collect();
        Some(TxDetail {
            txid,
            entry: entry.clone(),
            spent,
        })
    });
    details.map(|detail| tx(&detail, params)).collect()
}

/// `GET /api/tx/{txid}` and the answer to `POST /api/tx`.
pub fn tx_status(status: &TxStatus, params: &ChainParams) -> Value {
    let mut value = match status {
        TxStatus::Pending(detail) => {
            let mut value = tx(detail, params);
            value["status"] = json!("pending");
            value
        }
        TxStatus::Confirmed {
            detail,
            height,
            block,
            confirmations,
            merkle_root,
            proof,
        } => {
            let mut value = tx(detail, params);
            value["status"] = json!("confirmed");
            value["height"] = json!(height);
            value["block"] = json!(block);
            value["confirmations"] = json!(confirmations);
            value["merkle_root"] = json!(merkle_root);
            value["proof"] = json!(proof);
            value
        }
    };
    let (TxStatus::Pending(detail) | TxStatus::Confirmed { detail, .. }) = status;
    if let Entry::Tx(tx) = &detail.entry {
        value["hex"] = json!(hex::encode(tx.to_bytes()));
    }
    value
}

/// The answer to `POST /api/tx` for a transaction now pending (or already confirmed).
pub fn tx_accepted(txid: &Txid, confirmed: bool) -> Value {
    let status = if confirmed { "confirmed" } else { "pending" };
    json!({"txid": txid, "status": status})
}

/// `GET /api/address/{addr}`.
pub fn address_info(text: &str, info: &AddressInfo) -> Value {
    let utxos: Vec<Value> = info
        .utxos
        .iter()
        .map(|row| {
            json!({
                "txid": row.outpoint.txid,
                "vout": row.outpoint.vout,
                "value": row.utxo.output.value.units(),
                "height": row.utxo.height,
                "coinbase": row.utxo.coinbase,
                "mature": row.mature,
                "spent_by": row.spent_by,
            })
        })
        .collect();
    json!({
        "address": text,
        "balance": info.balance.units(),
        "immature": info.immature.units(),
        "pending": info.pending.units(),
        "utxos": utxos,
        "utxo_count": info.utxo_count,
        "txs": info.txs,
    })
}
