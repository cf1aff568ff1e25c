//! Header-first checks: a peer's headers are validated by the core (link, bits, time, proof of work)
//! before any of their blocks is asked for.

use crate::node::Node;
use bbchain_core::chain::{BranchAnchor, MEDIAN_TIME_BLOCKS};
use bbchain_core::difficulty::expected_bits;
use bbchain_core::validation;
use bbchain_core::{BlockError, BlockHash, ChainContext, ChainParams, CompactTarget, Header, Work};
use std::collections::VecDeque;

/// The end of a validated header chain: everything checking its next header needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderTrail {
    /// Hash of the last header.
    pub hash: BlockHash,
    /// Its height.
    pub height: u32,
    /// Times of the last header and its ancestors, newest first (up to 11).
    recent_times: VecDeque<u32>,
    /// Block 1 of this branch; `None` while the trail ends at genesis.
    anchor: Option<BranchAnchor>,
}

/// A header that failed, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("header {index} ({hash}): {error}")]
pub struct BadHeader {
    /// Position in the batch.
    pub index: usize,
    /// Its hash.
    pub hash: BlockHash,
    /// The rule it broke.
    pub error: BlockError,
}

impl HeaderTrail {
    /// A trail ending at a block we already hold: its hash, height, branch anchor, and the times
    /// of it and its ancestors, newest first.
    pub fn new(
        hash: BlockHash,
        height: u32,
        anchor: Option<BranchAnchor>,
        recent_times: impl IntoIterator<Item = u32>,
    ) -> HeaderTrail {
        HeaderTrail {
            hash,
            height,
            recent_times: recent_times.into_iter().take(MEDIAN_TIME_BLOCKS).collect(),
            anchor,
        }
    }

    /// The core's view of the trail's end as the parent of the next header.
    fn context(&mut self) -> ChainContext<'_> {
        let times = self.recent_times.make_contiguous();
        ChainContext {
            parent_hash: self.hash,
            parent_height: self.height,
            parent_time: times.first().copied().unwrap_or(0),
            recent_times: times,
            anchor: self.anchor,
        }
    }

    /// The bits the next header must carry.
    pub fn next_bits(&mut self, params: &ChainParams) -> CompactTarget {
        expected_bits(params, &self.context())
    }

    /// Checks `header` as the next one and, if it passes, moves the trail onto it.
    pub fn push(
        &mut self,
        header: &Header,
        params: &ChainParams,
        now: u32,
    ) -> Result<(), BlockError> {
        validation::check_proof_of_work(header, params)?;
        validation::check_header_context(header, &self.context(), params, now)?;
        self.hash = header.block_hash();
        self.height += 1;
        self.recent_times.push_front(header.time);
        self.recent_times.truncate(MEDIAN_TIME_BLOCKS);
        self.anchor = BranchAnchor::of_block(self.height, header, self.anchor);
        Ok(())
    }

    /// Checks a batch in order; the trail ends on the last header that passed.
    pub fn extend(
        &mut self,
        headers: &[Header],
        params: &ChainParams,
        now: u32,
    ) -> Result<(), BadHeader> {
        for (index, header) in headers.iter().enumerate() {
            self.push(header, params, now).map_err(|error| BadHeader {
                index,
                hash: header.block_hash(),
                error,
            })?;
        }
        Ok(())
    }
}

/// The work one header stands for (none for bits that do not decode; checked headers always do).
pub(crate) fn header_work(header: &Header) -> Work {
    header
        .target()
        .map_or(Work::ZERO, |target| target.to_work())
}

/// The trail ending at a stored block, to check headers that build on it.
pub(crate) fn trail_at(node: &Node, hash: &BlockHash) -> anyhow::Result<Option<HeaderTrail>> {
    Ok(node
        .parent_context(hash)?
        .map(|parent| HeaderTrail::new(*hash, parent.height, parent.anchor, parent.recent_times)))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::dev::generate::mine_child;
    use bbchain_core::{Block, Midstate, scan};

    pub(crate) fn genesis_trail(params: &ChainParams) -> HeaderTrail {
        let genesis = params.genesis_block();
        HeaderTrail::new(genesis.hash(), 0, None, [genesis.header.time])
    }

    /// `count` valid blocks on top of genesis, one target spacing apart.
    pub(crate) fn chain(params: &ChainParams, count: u32) -> Vec<Block> {
        let mut trail = genesis_trail(params);
        let start = params.genesis_time + 1000;
        (0..count)
            .map(|i| {
                let block = mine_child(
                    &mut trail,
                    params,
                    start + i * params.target_spacing,
                    "test",
                );
                trail.push(&block.header, params, u32::MAX).unwrap();
                block
            })
            .collect()
    }

    #[test]
    fn a_valid_chain_passes_and_the_trail_follows_it() {
        let params = ChainParams::dev();
        let blocks = chain(&params, 30);
        let headers: Vec<Header> = blocks.iter().map(|b| b.header).collect();
        let mut trail = genesis_trail(&params);
        trail.extend(&headers, &params, u32::MAX).unwrap();
        assert_eq!(trail.hash, blocks[29].hash());
        assert_eq!(trail.height, 30);
    }

    #[test]
    fn each_broken_rule_is_caught_at_its_index() {
        let params = ChainParams::dev();
        let blocks = chain(&params, 12);
        let headers: Vec<Header> = blocks.iter().map(|b| b.header).collect();
        let now = u32::MAX;

        let check = |mutate: &dyn Fn(&mut Vec<Header>)| {
            let mut headers = headers.clone();
            mutate(&mut headers);
            let mut trail = genesis_trail(&params);
            let err = trail.extend(&headers, &params, now).unwrap_err();
            assert_eq!(err.index, 5);
            assert_eq!(trail.height, 5, "the trail stops before the bad header");
            err.error
        };
        // A header that does not link to the previous one.
        let unlinked = check(&|h| h[5].prev_hash = BlockHash::ZERO);
        assert!(matches!(
            unlinked,
            BlockError::WrongParent { .. } | BlockError::HighHash(_)
        ));
        // Proof of work: change the nonce until the hash misses the (easy) dev target.
        let high = check(&|h| {
            let target = h[5].target().unwrap();
            while target.is_met_by(&h[5].block_hash()) {
                h[5].nonce = h[5].nonce.wrapping_add(1);
            }
        });
        assert!(matches!(high, BlockError::HighHash(_)));
        // Time not after the median of the last 11.
        let old = check(&|h| {
            h[5].time = params.genesis_time;
            regrind(&mut h[5]);
        });
        assert!(matches!(old, BlockError::TimeTooOld { .. }));
        // Bits other than the ASERT schedule's (still under the pow limit).
        let bits = check(&|h| {
            h[5].bits = bbchain_core::CompactTarget(0x1f7f_ffff);
            regrind(&mut h[5]);
        });
        assert!(matches!(bits, BlockError::WrongBits { .. }));
    }

    #[test]
    fn a_header_far_in_the_future_is_refused() {
        let params = ChainParams::dev();
        let blocks = chain(&params, 3);
        let mut trail = genesis_trail(&params);
        let now = blocks[0].header.time - params.max_future_secs - 1;
        let err = trail.push(&blocks[0].header, &params, now).unwrap_err();
        assert!(matches!(err, BlockError::TimeTooNew { .. }));
    }

    fn regrind(header: &mut Header) {
        let target = header.target().unwrap();
        let found = scan(&Midstate::new(header), &target, 0, u32::MAX);
        header.nonce = found.nonce.unwrap();
    }
}
