//! The bookkeeping of one link's block download: pure state, no I/O, so each rule
//! has a unit test. Which link fetches a block is decided by the shared [`Downloads`].

use super::downloads::{Downloads, Fetch, LinkId};
use bbchain_core::peer::{MAX_BLOCKS_BYTES, MAX_BLOCKS_PER_REQUEST};
use bbchain_core::{Block, BlockHash};
use std::collections::{HashMap, HashSet, VecDeque};

/// How many `get_blocks` requests a link keeps open at once: the peer prepares the next batch
/// while we store this one.
pub const MAX_REQUESTS_IN_FLIGHT: usize = 2;
/// Most received blocks, and bytes of them, a link holds while their parents come through other
/// links; past this it asks only for blocks that come before them.
const MAX_HELD: usize = 4 * MAX_BLOCKS_PER_REQUEST;
const MAX_HELD_BYTES: usize = 4 * MAX_BLOCKS_BYTES;

/// What a peer did wrong while answering block requests.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DownloadError {
    /// A block nobody asked for, or out of request order.
    #[error("unrequested block {0}")]
    Unrequested(BlockHash),
    /// An answer when no request is open.
    #[error("blocks answer with no request open")]
    NoRequest,
    /// The peer announced headers but has none of the blocks asked for.
    #[error("peer sent none of the {0} blocks asked for")]
    Empty(usize),
}

/// One link's share of the download: the blocks its peer's checked headers showed (in chain
/// order, until stored, whoever fetches them), its open requests, and the blocks it received
/// whose parent is not stored yet.
#[derive(Debug)]
pub struct BlockQueue {
    link: LinkId,
    wanted: VecDeque<BlockHash>,
    wanted_set: HashSet<BlockHash>,
    in_flight: VecDeque<Vec<BlockHash>>,
    held: HashMap<BlockHash, Block>,
    held_bytes: usize,
}

impl BlockQueue {
    /// The queue of link `link`.
    pub fn new(link: LinkId) -> BlockQueue {
        BlockQueue {
            link,
            wanted: VecDeque::new(),
            wanted_set: HashSet::new(),
            in_flight: VecDeque::new(),
            held: HashMap::new(),
            held_bytes: 0,
        }
    }

    /// Wants blocks (in chain order, after those already wanted).
    pub fn want(&mut self, hashes: impl IntoIterator<Item = BlockHash>, downloads: &mut Downloads) {
        for hash in hashes {
            if self.wanted_set.insert(hash) {
                self.wanted.push_back(hash);
                downloads.want(hash);
            }
        }
    }

    /// The next `get_blocks` to send: the first wanted blocks no link fetches yet, if a request
    /// slot is free. Stored blocks are dropped on the way.
    pub fn next_request(&mut self, downloads: &mut Downloads) -> Option<Vec<BlockHash>> {
        if self.in_flight.len() >= MAX_REQUESTS_IN_FLIGHT {
            return None;
        }
        let held_full = self.held.len() >= MAX_HELD || self.held_bytes >= MAX_HELD_BYTES;
        let mut taken = Vec::new();
        let mut stop = false;
        let link = self.link;
        let wanted_set = &mut self.wanted_set;
        let (held, held_bytes) = (&mut self.held, &mut self.held_bytes);
        self.wanted.retain(|hash| {
            if stop || taken.len() == MAX_BLOCKS_PER_REQUEST {
                return true;
            }
            match downloads.fetch(hash) {
                Some(Fetch::Free) => {
                    downloads.claim(link, hash);
                    taken.push(*hash);
                    true
                }
                Some(Fetch::Claimed(owner)) => {
                    stop = held_full && owner == link;
                    true
                }
                Some(Fetch::Done) | None => {
                    // Stored some other way (a peer's new block on our tip): a copy held here
                    // waiting for its parent is no longer needed.
                    if let Some(block) = held.remove(hash) {
                        *held_bytes -= block.encoded_len();
                    }
                    downloads.unwant(link, hash);
                    wanted_set.remove(hash);
                    false
                }
            }
        });
        if taken.is_empty() {
            return None;
        }
        self.in_flight.push_back(taken.clone());
        Some(taken)
    }

    /// Takes the answer to the oldest open request and holds its blocks until [`Self::ready`]. An
    /// answer may stop short (size cap): the rest goes back to the scheduler, for any link.
    pub fn receive(
        &mut self,
        blocks: Vec<Block>,
        downloads: &mut Downloads,
    ) -> Result<usize, DownloadError> {
        let request = self.in_flight.pop_front().ok_or(DownloadError::NoRequest)?;
        if blocks.len() > request.len() {
            let extra = blocks[request.len()].hash();
            return Err(DownloadError::Unrequested(extra));
        }
        for (block, wanted) in blocks.iter().zip(&request) {
            if block.hash() != *wanted {
                return Err(DownloadError::Unrequested(block.hash()));
            }
        }
        for hash in &request[blocks.len()..] {
            downloads.release(self.link, hash);
        }
        if blocks.is_empty() && !request.is_empty() {
            return Err(DownloadError::Empty(request.len()));
        }
        let mut kept = 0;
        for block in blocks {
            let hash = block.hash();
            if downloads.fetch(&hash) == Some(Fetch::Claimed(self.link)) {
                self.held_bytes += block.encoded_len();
                self.held.insert(hash, block);
                downloads.stats.blocks_downloaded += 1;
                kept += 1;
            } else {
                downloads.stats.blocks_received_duplicate += 1;
            }
        }
        Ok(kept)
    }

    /// The held blocks that can go to the chain now, parents first: those whose parent is stored
    /// (`stored` asks the node) or among the ones returned before them.
    pub fn ready(
        &mut self,
        downloads: &Downloads,
        mut stored: impl FnMut(&BlockHash) -> anyhow::Result<bool>,
    ) -> anyhow::Result<Vec<Block>> {
        let mut ready: Vec<Block> = Vec::new();
        let mut ready_set = HashSet::new();
        let mut left = self.held.len();
        for hash in &self.wanted {
            if left == 0 {
                break;
            }
            let Some(block) = self.held.get(hash) else {
                continue;
            };
            left -= 1;
            let parent = block.header.prev_hash;
            // A parent we still hold, or that a link still fetches, is not stored: no lookup.
            let waiting = self.held.contains_key(&parent)
                || matches!(
                    downloads.fetch(&parent),
                    Some(Fetch::Free | Fetch::Claimed(_))
                );
            if ready_set.contains(&parent) || (!waiting && stored(&parent)?) {
                ready_set.insert(*hash);
                let block = self.held.remove(hash).expect("held");
                self.held_bytes -= block.encoded_len();
                ready.push(block);
            }
        }
        Ok(ready)
    }

    /// True while a `get_blocks` waits for its answer.
    pub fn awaiting_answer(&self) -> bool {
        !self.in_flight.is_empty()
    }

    /// True when nothing is wanted, asked for or held.
    pub fn is_idle(&self) -> bool {
        self.wanted.is_empty() && self.in_flight.is_empty() && self.held.is_empty()
    }

    /// The link ends: every block it wanted or claimed goes back to the scheduler.
    pub fn leave(&mut self, downloads: &mut Downloads) {
        for hash in self.wanted.drain(..) {
            downloads.unwant(self.link, &hash);
        }
        self.wanted_set.clear();
        self.in_flight.clear();
        self.held.clear();
        self.held_bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::peer::headers::tests::chain;
    use bbchain_core::ChainParams;

    fn hashes(blocks: &[Block]) -> Vec<BlockHash> {
        blocks.iter().map(Block::hash).collect()
    }

    /// Whether a block is stored: genesis and `stored`.
    fn store(stored: &HashSet<BlockHash>) -> impl FnMut(&BlockHash) -> anyhow::Result<bool> + '_ {
        let genesis = ChainParams::dev().genesis_hash();
        move |hash| Ok(*hash == genesis || stored.contains(hash))
    }

    #[test]
    fn requests_are_batched_and_limited_in_flight() {
        let blocks = chain(&ChainParams::dev(), 3);
        let mut downloads = Downloads::default();
        let mut queue = BlockQueue::new(1);
        let max = MAX_BLOCKS_PER_REQUEST;
        let many: Vec<BlockHash> = (0..(2 * max + 200) as u32)
            .map(|i| BlockHash::from_byte_array(bbchain_core::hash::sha256d(&i.to_le_bytes())))
            .collect();
        queue.want(many.clone(), &mut downloads);
        queue.want(many.clone(), &mut downloads);
        assert_eq!(downloads.open(), many.len(), "each block is wanted once");
        assert_eq!(queue.next_request(&mut downloads).unwrap(), many[..max]);
        assert_eq!(
            queue.next_request(&mut downloads).unwrap(),
            many[max..2 * max]
        );
        assert_eq!(
            queue.next_request(&mut downloads),
            None,
            "two requests at most"
        );
        assert!(!queue.is_idle());
        // An answer that is not what was asked is the peer's fault.
        assert_eq!(
            queue.receive(blocks.clone(), &mut downloads),
            Err(DownloadError::Unrequested(blocks[0].hash()))
        );
    }

    #[test]
    fn two_links_fetch_each_block_once_and_the_later_batch_waits_for_its_parent() {
        let blocks = chain(&ChainParams::dev(), 6);
        let all = hashes(&blocks);
        let mut downloads = Downloads::default();
        let (mut first, mut second) = (BlockQueue::new(1), BlockQueue::new(2));
        first.want(all[..3].to_vec(), &mut downloads);
        assert_eq!(first.next_request(&mut downloads).unwrap(), all[..3]);
        second.want(all.clone(), &mut downloads);
        assert_eq!(
            second.next_request(&mut downloads).unwrap(),
            all[3..],
            "the blocks the first link fetches are not asked twice"
        );

        // The later batch arrives first: it waits for its parent.
        let mut stored = HashSet::new();
        assert_eq!(second.receive(blocks[3..].to_vec(), &mut downloads), Ok(3));
        assert!(second.ready(&downloads, store(&stored)).unwrap().is_empty());
        assert_eq!(first.receive(blocks[..3].to_vec(), &mut downloads), Ok(3));
        let ready = first.ready(&downloads, store(&stored)).unwrap();
        assert_eq!(hashes(&ready), all[..3]);
        for hash in &all[..3] {
            stored.insert(*hash);
            downloads.done(hash);
        }
        let ready = second.ready(&downloads, store(&stored)).unwrap();
        assert_eq!(hashes(&ready), all[3..]);
        assert_eq!(downloads.stats.blocks_downloaded, 6);
        assert_eq!(downloads.stats.blocks_received_duplicate, 0);
    }

    #[test]
    fn a_short_answer_gives_the_rest_back_to_any_link() {
        let blocks = chain(&ChainParams::dev(), 6);
        let all = hashes(&blocks);
        let mut downloads = Downloads::default();
        let (mut first, mut second) = (BlockQueue::new(1), BlockQueue::new(2));
        first.want(all.clone(), &mut downloads);
        second.want(all.clone(), &mut downloads);
        assert_eq!(first.next_request(&mut downloads).unwrap(), all);
        assert_eq!(second.next_request(&mut downloads), None);

        // The answer stops after two blocks (size cap): the other four are free again.
        assert_eq!(first.receive(blocks[..2].to_vec(), &mut downloads), Ok(2));
        assert!(downloads.take_changed());
        assert_eq!(second.next_request(&mut downloads).unwrap(), all[2..]);
        assert_eq!(first.next_request(&mut downloads), None);
        let ready = first.ready(&downloads, store(&HashSet::new())).unwrap();
        assert_eq!(hashes(&ready), all[..2]);
    }

    #[test]
    fn a_held_block_stored_another_way_is_let_go() {
        let blocks = chain(&ChainParams::dev(), 2);
        let all = hashes(&blocks);
        let mut downloads = Downloads::default();
        let (mut first, mut second) = (BlockQueue::new(1), BlockQueue::new(2));
        first.want(all[..1].to_vec(), &mut downloads);
        assert_eq!(first.next_request(&mut downloads).unwrap(), all[..1]);
        second.want(all.clone(), &mut downloads);
        assert_eq!(second.next_request(&mut downloads).unwrap(), all[1..]);
        // The second block comes: it waits for its parent, which the first link fetches.
        assert_eq!(second.receive(blocks[1..].to_vec(), &mut downloads), Ok(1));
        assert!(
            second
                .ready(&downloads, store(&HashSet::new()))
                .unwrap()
                .is_empty()
        );
        // Both are then stored through another path (a peer's new blocks on our tip).
        for hash in &all {
            downloads.done(hash);
        }
        assert_eq!(second.next_request(&mut downloads), None);
        assert!(
            second.is_idle(),
            "nothing held any more: the link can sync again"
        );
    }

    #[test]
    fn a_link_that_leaves_frees_what_it_asked_for() {
        let blocks = chain(&ChainParams::dev(), 2);
        let all = hashes(&blocks);
        let mut downloads = Downloads::default();
        let (mut first, mut second) = (BlockQueue::new(1), BlockQueue::new(2));
        first.want(all.clone(), &mut downloads);
        second.want(all.clone(), &mut downloads);
        assert!(first.next_request(&mut downloads).is_some());
        assert_eq!(second.next_request(&mut downloads), None);
        first.leave(&mut downloads);
        assert_eq!(second.next_request(&mut downloads).unwrap(), all);
        // Its late answer, had it come, would not count as a download.
        assert_eq!(downloads.open(), 2);
    }

    #[test]
    fn a_link_holding_its_fill_asks_only_for_what_comes_before() {
        let blocks = chain(&ChainParams::dev(), MAX_HELD as u32 + 2);
        let all = hashes(&blocks);
        let mut downloads = Downloads::default();
        let (mut first, mut second) = (BlockQueue::new(1), BlockQueue::new(2));
        second.want(all[..1].to_vec(), &mut downloads);
        assert_eq!(second.next_request(&mut downloads).unwrap(), all[..1]);
        // The first link fetches everything after block 0 up to its fill; none can be stored.
        first.want(all[..MAX_HELD + 1].to_vec(), &mut downloads);
        let mut start = 1;
        while let Some(asked) = first.next_request(&mut downloads) {
            let end = start + asked.len();
            assert_eq!(asked, all[start..end]);
            first
                .receive(blocks[start..end].to_vec(), &mut downloads)
                .unwrap();
            start = end;
        }
        assert_eq!(start, MAX_HELD + 1);
        assert!(
            first
                .ready(&downloads, store(&HashSet::new()))
                .unwrap()
                .is_empty()
        );
        // Block 0's link dies, and the peer shows one more block: only block 0 is asked for.
        first.want(all[MAX_HELD + 1..].to_vec(), &mut downloads);
        second.leave(&mut downloads);
        assert_eq!(first.next_request(&mut downloads).unwrap(), all[..1]);
    }

    #[test]
    fn an_empty_or_unasked_answer_is_an_error() {
        let blocks = chain(&ChainParams::dev(), 2);
        let mut downloads = Downloads::default();
        let mut queue = BlockQueue::new(1);
        assert_eq!(
            queue.receive(vec![], &mut downloads),
            Err(DownloadError::NoRequest)
        );
        queue.want(hashes(&blocks), &mut downloads);
        queue.next_request(&mut downloads).unwrap();
        assert_eq!(
            queue.receive(vec![], &mut downloads),
            Err(DownloadError::Empty(2))
        );
        // The blocks went back: they are asked for again.
        assert_eq!(queue.next_request(&mut downloads).unwrap(), hashes(&blocks));
        assert_eq!(
            queue.receive(vec![blocks[1].clone()], &mut downloads),
            Err(DownloadError::Unrequested(blocks[1].hash()))
        );
    }
}
