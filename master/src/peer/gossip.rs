//! Data gossip on a link: offering the peer the entries waiting here, and queuing the ones it
//! offers. (New blocks are relayed by [`super::relay`] and received by the sync state.)

use super::link_end::{LinkError, encode, misbehaved};
use super::outbox::Outbox;
use crate::node::Node;
use bbchain_core::peer::{MAX_DATA_ENTRIES, PeerMessage};
use bbchain_core::validation::check_entry_size;

/// How many of the oldest waiting entries one offer carries at most.
const PENDING_SHARE: usize = 10 * MAX_DATA_ENTRIES;

/// Tells the peer about the oldest data waiting here, so its miners can take it too: once after
/// the handshake, then every 30 s for what is still waiting (entries added while the link was
/// down, or more than one round fits). Like gossip, what does not fit in the outbox is left for
/// the next round.
pub(super) fn offer_pending_data(node: &Node, outbox: &Outbox) -> Result<(), LinkError> {
    let texts = node.pending_texts(PENDING_SHARE)?;
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

/// Data entries the peer `name` queued: queue them here too (the relay passes new ones on).
pub(super) async fn take_data(
    node: &Node,
    name: &str,
    entries: Vec<String>,
) -> Result<(), LinkError> {
    if entries.len() > MAX_DATA_ENTRIES {
        return Err(misbehaved("too many data entries"));
    }
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
