//! The bookkeeping of one link's block download, reconnect backoff and the ban list: pure state,
//! no I/O, so each rule has a unit test.

use bbchain_core::peer::MAX_BLOCKS_PER_REQUEST;
use bbchain_core::{Block, Hash256};
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// How many `get_blocks` requests a link keeps open at once: the peer prepares the next batch
/// while we store this one.
pub const MAX_REQUESTS_IN_FLIGHT: usize = 2;

/// One `get_blocks` request still waiting for its answer.
#[derive(Debug, Clone)]
struct Request {
    hashes: Vec<Hash256>,
    /// Its answer must be thrown away: an earlier answer came short, and these hashes are queued
    /// again behind the missing ones so blocks always reach the chain parent first.
    void: bool,
}

/// What a peer did wrong while answering block requests.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DownloadError {
    /// A block nobody asked for, or out of request order.
    #[error("unrequested block {0}")]
    Unrequested(Hash256),
    /// An answer when no request is open.
    #[error("blocks answer with no request open")]
    NoRequest,
    /// The peer announced headers but has none of the blocks asked for.
    #[error("peer sent none of the {0} blocks asked for")]
    Empty(usize),
}

/// Validated headers whose blocks are still to fetch, in chain order, and the open requests.
#[derive(Debug, Default)]
pub struct BlockQueue {
    wanted: VecDeque<Hash256>,
    in_flight: VecDeque<Request>,
}

impl BlockQueue {
    /// Queues blocks to fetch (in chain order, after those already queued).
    pub fn want(&mut self, hashes: impl IntoIterator<Item = Hash256>) {
        self.wanted.extend(hashes);
    }

    /// The next `get_blocks` to send, if a request slot is free and blocks are wanted.
    pub fn next_request(&mut self) -> Option<Vec<Hash256>> {
        if self.in_flight.len() >= MAX_REQUESTS_IN_FLIGHT || self.wanted.is_empty() {
            return None;
        }
        let count = self.wanted.len().min(MAX_BLOCKS_PER_REQUEST);
        let hashes: Vec<Hash256> = self.wanted.drain(..count).collect();
        self.in_flight.push_back(Request {
            hashes: hashes.clone(),
            void: false,
        });
        Some(hashes)
    }

    /// Takes the answer to the oldest open request and returns the blocks to hand to the chain, in
    /// order. An answer may stop short (size cap); the rest is asked for again.
    pub fn receive(&mut self, blocks: Vec<Block>) -> Result<Vec<Block>, DownloadError> {
        let request = self.in_flight.pop_front().ok_or(DownloadError::NoRequest)?;
        if blocks.len() > request.hashes.len() {
            let extra = blocks[request.hashes.len()].hash();
            return Err(DownloadError::Unrequested(extra));
        }
        for (block, wanted) in blocks.iter().zip(&request.hashes) {
            if block.hash() != *wanted {
                return Err(DownloadError::Unrequested(block.hash()));
            }
        }
        if request.void {
            return Ok(Vec::new());
        }
        if blocks.is_empty() && !request.hashes.is_empty() {
            return Err(DownloadError::Empty(request.hashes.len()));
        }
        if blocks.len() < request.hashes.len() {
            // Ask again for the rest, then for every later open request, whose answers are void.
            let mut again: Vec<Hash256> = request.hashes[blocks.len()..].to_vec();
            for later in self.in_flight.iter_mut().filter(|r| !r.void) {
                later.void = true;
                again.extend_from_slice(&later.hashes);
            }
            for hash in again.into_iter().rev() {
                self.wanted.push_front(hash);
            }
        }
        Ok(blocks)
    }

    /// Blocks queued or asked for.
    pub fn remaining(&self) -> usize {
        self.wanted.len()
            + self
                .in_flight
                .iter()
                .filter(|r| !r.void)
                .map(|r| r.hashes.len())
                .sum::<usize>()
    }

    /// True when nothing is queued or open.
    pub fn is_idle(&self) -> bool {
        self.wanted.is_empty() && self.in_flight.is_empty()
    }
}

/// Peers that misbehaved, by the address they accept peers on, and until when they are refused.
#[derive(Debug, Default)]
pub struct BanList {
    until: HashMap<String, Instant>,
}

impl BanList {
    /// How long a misbehaving peer is kept away.
    pub const DURATION: Duration = Duration::from_secs(10 * 60);

    /// Refuses `addr` until `now + DURATION`.
    pub fn ban(&mut self, addr: &str, now: Instant) {
        self.until.retain(|_, until| *until > now);
        self.until.insert(addr.to_string(), now + Self::DURATION);
    }

    /// When the ban on `addr` ends, if it is banned at `now`.
    pub fn banned_until(&self, addr: &str, now: Instant) -> Option<Instant> {
        self.until.get(addr).copied().filter(|until| *until > now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::peer::headers::tests::chain;
    use bbchain_core::ChainParams;

    fn hashes(blocks: &[Block]) -> Vec<Hash256> {
        blocks.iter().map(Block::hash).collect()
    }

    #[test]
    fn requests_are_batched_and_limited_in_flight() {
        let blocks = chain(&ChainParams::dev(), 3);
        let mut queue = BlockQueue::default();
        let max = MAX_BLOCKS_PER_REQUEST;
        let many: Vec<Hash256> = (0..(2 * max + 200) as u32)
            .map(|i| Hash256::sha256d(&i.to_le_bytes()))
            .collect();
        queue.want(many.clone());
        assert_eq!(queue.next_request().unwrap(), many[..max]);
        assert_eq!(queue.next_request().unwrap(), many[max..2 * max]);
        assert_eq!(queue.next_request(), None, "two requests at most");
        assert_eq!(queue.remaining(), 2 * max + 200);
        assert!(!queue.is_idle());
        // An answer that is not what was asked is the peer's fault.
        assert_eq!(
            queue.receive(blocks.clone()),
            Err(DownloadError::Unrequested(blocks[0].hash()))
        );
    }

    #[test]
    fn a_short_answer_requeues_the_rest_in_chain_order() {
        let blocks = chain(&ChainParams::dev(), 6);
        let all = hashes(&blocks);
        let mut queue = BlockQueue::default();
        queue.want(all[..3].to_vec());
        assert_eq!(queue.next_request().unwrap(), all[..3]);
        queue.want(all[3..].to_vec());
        assert_eq!(queue.next_request().unwrap(), all[3..]);

        // The first answer stops after one block: 2 and 3 are asked again, then 4 to 6 again.
        let got = queue.receive(blocks[..1].to_vec()).unwrap();
        assert_eq!(hashes(&got), all[..1]);
        assert_eq!(queue.remaining(), 5);
        // The answer to the voided second request is dropped, even though it is fine.
        assert_eq!(queue.receive(blocks[3..].to_vec()).unwrap(), vec![]);
        assert_eq!(queue.next_request().unwrap(), all[1..]);
        assert_eq!(queue.receive(blocks[1..].to_vec()).unwrap(), blocks[1..]);
        assert!(queue.is_idle());
    }

    #[test]
    fn an_empty_or_unasked_answer_is_an_error() {
        let blocks = chain(&ChainParams::dev(), 2);
        let mut queue = BlockQueue::default();
        assert_eq!(queue.receive(vec![]), Err(DownloadError::NoRequest));
        queue.want(hashes(&blocks));
        queue.next_request().unwrap();
        assert_eq!(queue.receive(vec![]), Err(DownloadError::Empty(2)));
        queue.want(hashes(&blocks[..1]));
        queue.next_request().unwrap();
        assert_eq!(
            queue.receive(blocks.clone()),
            Err(DownloadError::Unrequested(blocks[1].hash()))
        );
    }

    #[test]
    fn bans_expire() {
        let mut bans = BanList::default();
        let now = Instant::now();
        bans.ban("127.0.0.1:9", now);
        assert!(bans.banned_until("127.0.0.1:9", now).is_some());
        assert!(bans.banned_until("127.0.0.1:10", now).is_none());
        let later = now + BanList::DURATION + Duration::from_secs(1);
        assert!(bans.banned_until("127.0.0.1:9", later).is_none());
    }
}
