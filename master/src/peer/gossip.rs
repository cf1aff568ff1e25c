//! Data gossip on a link: offering the peer the entries waiting here, and queuing the ones it
//! offers. (New blocks are relayed by [`super::relay`] and received by the sync state.)

use super::link_end::{LinkError, encode, misbehaved};
use super::outbox::Outbox;
use crate::config::{NodeLimits, PENDING_ENTRY_OVERHEAD};
use crate::node::{AddTxError, Node};
use crate::rate_limit::{Rate, TokenBucket};
use bbchain_core::Transaction;
use bbchain_core::peer::{MAX_DATA_ENTRIES, MAX_GOSSIP_TXS, PeerMessage};
use bbchain_core::spend::TxError;
use bbchain_core::validation::check_entry_size;

/// How many of the oldest waiting entries one offer carries at most (and a quarter of
/// [`NodeLimits::link_burst_bytes`], so that an offer never trips the peer's gossip rate).
const PENDING_SHARE: usize = 10 * MAX_DATA_ENTRIES;
/// How many of the oldest pending transactions one offer carries at most.
const PENDING_TXS_SHARE: usize = 10 * MAX_GOSSIP_TXS;

/// Tells the peer about the oldest data waiting here, so its miners can take it too: once after
/// the handshake, then every 30 s for what is still waiting (entries added while the link was
/// down, or more than one round fits). Like gossip, what does not fit in the outbox is left for
/// the next round.
pub(super) fn offer_pending_data(node: &Node, outbox: &Outbox) -> Result<(), LinkError> {
    let mut room = node.limits().link_burst_bytes as usize / 4;
    let txs = node.pending_txs(PENDING_TXS_SHARE)?;
    for chunk in txs.chunks(MAX_GOSSIP_TXS) {
        let txs: Vec<String> = chunk.iter().map(|tx| hex::encode(tx.to_bytes())).collect();
        let cost: usize = txs
            .iter()
            .map(|tx| tx.len() / 2 + PENDING_ENTRY_OVERHEAD)
            .sum();
        if cost > room || !outbox.try_queue_gossip(encode(&PeerMessage::Txs { txs })) {
            break;
        }
        room -= cost;
    }
    let texts = node.pending_texts(PENDING_SHARE, room)?;
    for chunk in texts.chunks(MAX_DATA_ENTRIES) {
        let message = PeerMessage::Data {
            entries: chunk.to_vec(),
        };
        if !outbox.try_queue_gossip(encode(&message)) {
            break;
        }
    }
    Ok(())
}

/// How much data and how many transactions one link may still gossip: a peer beyond
/// [`NodeLimits::link_rate_bytes_per_sec`] floods, and misbehaves.
pub(super) struct GossipBudget {
    rate: Rate,
    bucket: TokenBucket,
}

impl GossipBudget {
    /// A full budget for a new link.
    pub(super) fn new(limits: &NodeLimits) -> GossipBudget {
        let rate = Rate::new(limits.link_rate_bytes_per_sec, limits.link_burst_bytes);
        GossipBudget {
            rate,
            bucket: TokenBucket::full(rate),
        }
    }

    /// Spends `cost` bytes of gossip, or ends the link as misbehaving.
    fn spend(&mut self, cost: usize, what: &str) -> Result<(), LinkError> {
        let now = std::time::Instant::now();
        self.bucket.take(cost, self.rate, now).map_err(|_| {
            let rate = self.rate.per_sec;
            misbehaved(format!("{what} flood: beyond {rate} bytes/s of gossip"))
        })
    }
}

/// Data entries the peer `name` queued: queue them here too (the relay passes new ones on).
pub(super) async fn take_data(
    node: &Node,
    name: &str,
    budget: &mut GossipBudget,
    entries: Vec<String>,
) -> Result<(), LinkError> {
    if entries.len() > MAX_DATA_ENTRIES {
        return Err(misbehaved("too many data entries"));
    }
    let cost = entries
        .iter()
        .map(|t| t.len() + PENDING_ENTRY_OVERHEAD)
        .sum();
    budget.spend(cost, "data")?;
    let params = node.params();
    if let Some(err) = entries
        .iter()
        .find_map(|t| check_entry_size(t, params).err())
    {
        return Err(misbehaved(format!("data entry refused: {err}")));
    }
    let results =
        futures_util::future::join_all(entries.into_iter().map(|t| node.offer_data(t))).await;
    for result in results {
        if let Err(err) = result {
            tracing::debug!("data from {name} not queued: {err}");
        }
    }
    Ok(())
}

/// Transactions the peer `name` took into its mempool: take them here too (the relay passes new
/// ones on). Bytes that are no transaction, or a bad signature, are the peer's fault; a transaction
/// this node refuses for its state or policy (a double spend that lost a race, a fee below this
/// node's minimum) is not.
pub(super) async fn take_txs(
    node: &Node,
    name: &str,
    budget: &mut GossipBudget,
    txs: Vec<String>,
) -> Result<(), LinkError> {
    if txs.len() > MAX_GOSSIP_TXS {
        return Err(misbehaved("too many transactions"));
    }
    let cost = txs
        .iter()
        .map(|t| t.len() / 2 + PENDING_ENTRY_OVERHEAD)
        .sum();
    budget.spend(cost, "transaction")?;
    let mut decoded = Vec::with_capacity(txs.len());
    for text in txs {
        let tx = hex::decode(&text)
            .ok()
            .and_then(|bytes| Transaction::from_bytes(&bytes).ok())
            .ok_or_else(|| misbehaved("malformed transaction"))?;
        decoded.push(tx);
    }
    // In order: a child after its parent.
    for tx in decoded {
        let txid = tx.txid();
        match node.add_tx(tx).await {
            // A signature either verifies for the output it names or never does: the sender
            // relayed a transaction it should have checked.
            Err(err @ AddTxError::Invalid(TxError::BadSignature(_))) => {
                return Err(misbehaved(format!("transaction {txid}: {err}")));
            }
            Err(err) => tracing::debug!("transaction {txid} from {name} not taken: {err}"),
            Ok(_) => {}
        }
    }
    Ok(())
}
