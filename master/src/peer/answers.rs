//! Answers to the peer's requests: `get_headers`, `get_blocks` and `get_peers`.

use super::link_end::{LinkError, misbehaved};
use super::registry::Peers;
use crate::node::Node;
use bbchain_core::peer::{
    MAX_BLOCKS_BYTES, MAX_BLOCKS_PER_REQUEST, MAX_HEADERS, MAX_LOCATOR, PeerMessage,
};
use bbchain_core::{Block, BlockHash};
use std::collections::HashSet;

/// Up to [`MAX_HEADERS`] of our main-chain headers after the peer's locator.
pub(super) fn headers(node: &Node, locator: &[BlockHash]) -> Result<PeerMessage, LinkError> {
    if locator.len() > MAX_LOCATOR {
        return Err(misbehaved("locator too long"));
    }
    let headers = node.headers_after(locator, MAX_HEADERS)?;
    Ok(PeerMessage::Headers { headers })
}

/// The blocks the peer asked for: a prefix of its list (each block once), cut at the size cap.
pub(super) fn blocks(node: &Node, hashes: &[BlockHash]) -> Result<PeerMessage, LinkError> {
    if hashes.len() > MAX_BLOCKS_PER_REQUEST {
        return Err(misbehaved("too many blocks asked for"));
    }
    let mut blocks: Vec<Block> = Vec::new();
    let mut bytes = 0;
    let mut seen = HashSet::new();
    for hash in hashes.iter().filter(|h| seen.insert(**h)) {
        let Some(block) = node.block(hash)? else {
            break;
        };
        bytes += block.encoded_len();
        if !blocks.is_empty() && bytes > MAX_BLOCKS_BYTES {
            break;
        }
        blocks.push(block);
    }
    Ok(PeerMessage::Blocks { blocks })
}

/// The masters we know, for the peer at `name`.
pub(super) fn peers(peers: &Peers, name: &str) -> PeerMessage {
    PeerMessage::Peers {
        addrs: peers.shareable(name),
    }
}
