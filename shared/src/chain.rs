//! Where a block sits: its parent, the parent's recent times and the branch's difficulty anchor.
//! The contextual rules (difficulty, median time past) read this, and every node builds it the same way.

use crate::hash::BlockHash;
use crate::header::Header;
use crate::target::CompactTarget;
use alloc::vec::Vec;

/// How many blocks the median-time-past rule looks at, as in Bitcoin.
pub const MEDIAN_TIME_BLOCKS: usize = 11;

/// Block 1 of a branch: the ASERT anchor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BranchAnchor {
    /// Block 1's time.
    pub time: u32,
    /// Block 1's bits.
    pub bits: CompactTarget,
}

impl BranchAnchor {
    /// The anchor of a block at `height` whose parent's branch has `parent_anchor`: block 1
    /// anchors its own branch, every later block inherits its parent's anchor.
    pub fn of_block(
        height: u32,
        header: &Header,
        parent_anchor: Option<BranchAnchor>,
    ) -> Option<BranchAnchor> {
        if height == 1 {
            Some(BranchAnchor {
                time: header.time,
                bits: header.bits,
            })
        } else {
            parent_anchor
        }
    }
}

/// What the contextual rules need to know about the block's parent and its branch.
#[derive(Debug, Clone, Copy)]
pub struct ChainContext<'a> {
    /// Hash of the parent.
    pub parent_hash: BlockHash,
    /// Height of the parent.
    pub parent_height: u32,
    /// Time of the parent.
    pub parent_time: u32,
    /// Times of the parent and its ancestors, newest first: up to 11 of them.
    pub recent_times: &'a [u32],
    /// Block 1 of this branch; `None` when the parent is genesis.
    pub anchor: Option<BranchAnchor>,
}

impl ChainContext<'_> {
    /// The median time past: a new block's time must be above it.
    pub fn median_time_past(&self) -> u32 {
        let mut times: Vec<u32> = self
            .recent_times
            .iter()
            .take(MEDIAN_TIME_BLOCKS)
            .copied()
            .collect();
        if times.is_empty() {
            return self.parent_time;
        }
        times.sort_unstable();
        times[times.len() / 2]
    }
}

/// The times of a parent and its ancestors, newest first, as many as the median-time-past rule reads
/// ([`MEDIAN_TIME_BLOCKS`], fewer near genesis). `parent_of` looks up a stored block by hash and
/// returns its height and header; the walk stops at genesis or at a block it cannot find.
pub fn recent_times<E>(
    parent_height: u32,
    parent: &Header,
    mut parent_of: impl FnMut(&BlockHash) -> Result<Option<(u32, Header)>, E>,
) -> Result<Vec<u32>, E> {
    let mut times = Vec::with_capacity(MEDIAN_TIME_BLOCKS);
    let (mut height, mut header) = (parent_height, *parent);
    loop {
        times.push(header.time);
        if times.len() == MEDIAN_TIME_BLOCKS || height == 0 {
            return Ok(times);
        }
        match parent_of(&header.prev_hash)? {
            Some((h, next)) => (height, header) = (h, next),
            None => return Ok(times),
        }
    }
}
