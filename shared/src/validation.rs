//! Block validation: the context-free checks any node can run on a block alone, and the contextual
//! ones that need the block's parent and branch.

use crate::amount::Amount;
use crate::block::{Block, Entry, data_id};
use crate::chain::ChainContext;
use crate::difficulty::expected_bits;
use crate::encode::DecodeError;
use crate::hash::{BlockHash, DataId, TxMerkleNode};
use crate::header::Header;
use crate::params::ChainParams;
use crate::spend::{TxError, check_tx};
use crate::target::{CompactError, CompactTarget, Target};
use alloc::vec::Vec;

/// What is wrong with a block.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlockError {
    /// The bytes are not a block.
    #[error("malformed block: {0}")]
    Decode(#[from] DecodeError),
    /// `bits` is not a valid target.
    #[error("bad bits: {0}")]
    BadBits(CompactError),
    /// `bits` is easier than the chain allows.
    #[error("bits {0} are above the pow limit")]
    BitsAbovePowLimit(CompactTarget),
    /// The hash does not meet the target.
    #[error("hash {0} does not meet its target")]
    HighHash(BlockHash),
    /// The block is larger than allowed.
    #[error("block is {len} bytes, more than the {max} allowed")]
    TooLarge {
        /// Encoded size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The first entry is not a coinbase.
    #[error("first entry is not a coinbase")]
    NoCoinbase,
    /// A coinbase appears after the first entry.
    #[error("entry {0} is a second coinbase")]
    ExtraCoinbase(usize),
    /// The miner name is too long.
    #[error("miner name is {len} bytes, more than the {max} allowed")]
    MinerNameTooLong {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A data entry is empty or too long.
    #[error("entry {index} is {len} bytes; data entries are 1 to {max} bytes")]
    BadEntrySize {
        /// Position in the block.
        index: usize,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Two entries are identical (this also rules out Bitcoin's duplicate-leaf merkle mutation).
    #[error("entry {0} appears twice")]
    DuplicateEntry(usize),
    /// A data entry is already in the block's branch: each entry is in a chain at most once.
    #[error("entry {0} is already in the chain")]
    DataAlreadyInChain(usize),
    /// An entry encodes to 64 bytes, the size of an inner merkle node: a proof could pass one for
    /// the other (BIP-54 refuses 64-byte transactions for the same reason).
    #[error("entry {0} encodes to 64 bytes, which a merkle proof could confuse with an inner node")]
    SixtyFourByteEntry(usize),
    /// A transaction breaks a rule.
    #[error("transaction {index}: {error}")]
    Tx {
        /// Its position in the block.
        index: usize,
        /// What is wrong.
        error: TxError,
    },
    /// The coinbase's outputs add up to more coins than can exist.
    #[error("the coinbase's outputs add up to more than the maximum amount of money")]
    CoinbaseOverflow,
    /// The coinbase claims more than the subsidy plus the fees.
    #[error("the coinbase claims {claimed} units, more than the {max} allowed", claimed = claimed.units(), max = max.units())]
    CoinbaseTooLarge {
        /// What its outputs pay.
        claimed: Amount,
        /// Subsidy plus fees.
        max: Amount,
    },
    /// The merkle root does not commit to the entries.
    #[error("merkle root does not match the entries")]
    BadMerkleRoot,
    /// The parent is not the one the context describes.
    #[error("block does not build on {expected}")]
    WrongParent {
        /// The parent the context is for.
        expected: BlockHash,
    },
    /// `bits` differ from what the difficulty rule requires.
    #[error("bits {got} should be {expected}")]
    WrongBits {
        /// Required bits.
        expected: CompactTarget,
        /// Bits in the header.
        got: CompactTarget,
    },
    /// The time is not after the median of the last 11 blocks.
    #[error("time {time} is not after the median time past {median}")]
    TimeTooOld {
        /// Header time.
        time: u32,
        /// The median of the parent and its ancestors.
        median: u32,
    },
    /// The time is too far ahead of the validating node's clock.
    #[error("time {time} is more than allowed ahead of now ({max})")]
    TimeTooNew {
        /// Header time.
        time: u32,
        /// The latest allowed time.
        max: u32,
    },
    /// The coinbase height is not the parent's plus one.
    #[error("coinbase height {got} should be {expected}")]
    WrongHeight {
        /// Required height.
        expected: u32,
        /// Height in the coinbase.
        got: u32,
    },
}

/// Who is at fault for a block that failed a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blame {
    /// The block can never be valid: whoever sent it sent garbage (a peer earns a ban).
    Sender,
    /// The block may be valid for a node with another clock: refuse it, blame nobody.
    Nobody,
}

impl BlockError {
    /// Whether the block's sender is at fault. Only a time ahead of our clock can be our side's
    /// problem (or just early); every other failure is in the block itself.
    pub fn blame(&self) -> Blame {
        match self {
            BlockError::TimeTooNew { .. } => Blame::Nobody,
            _ => Blame::Sender,
        }
    }
}

/// Why a data entry's text cannot go into a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EntrySizeError {
    /// No text at all.
    #[error("data is empty")]
    Empty,
    /// Exactly the length whose entry encodes to 64 bytes (see [`BlockError::SixtyFourByteEntry`]).
    #[error(
        "data of exactly {len} bytes cannot be stored (its entry would be 64 bytes, the size of a merkle node); add or remove a character"
    )]
    SixtyFourBytes {
        /// Its length.
        len: usize,
    },
    /// More bytes than a data entry may hold.
    #[error("data is {len} bytes, more than the {max} allowed")]
    TooLarge {
        /// Its length.
        len: usize,
        /// The limit ([`ChainParams::max_entry_bytes`]).
        max: usize,
    },
}

/// The size rule for a data entry's text, 1 to [`ChainParams::max_entry_bytes`] bytes and never an
/// entry of 64 bytes: the one check used by blocks, the master's queue and peers' gossip alike.
pub fn check_entry_size(text: &str, params: &ChainParams) -> Result<(), EntrySizeError> {
    let max = params.max_entry_bytes;
    match text.len() {
        0 => Err(EntrySizeError::Empty),
        len if len > max => Err(EntrySizeError::TooLarge { len, max }),
        len if Entry::data(text).encoded_len() == MERKLE_NODE_BYTES => {
            Err(EntrySizeError::SixtyFourBytes { len })
        }
        _ => Ok(()),
    }
}

/// The size of an inner merkle node's preimage, which no entry may have.
pub const MERKLE_NODE_BYTES: usize = 64;

/// Checks `bits` against the pow limit and the hash against `bits`; returns the target.
pub fn check_proof_of_work(header: &Header, params: &ChainParams) -> Result<Target, BlockError> {
    let target = header.target().map_err(BlockError::BadBits)?;
    if target > params.pow_limit_target() {
        return Err(BlockError::BitsAbovePowLimit(header.bits));
    }
    let hash = header.block_hash();
    if !target.is_met_by(&hash) {
        return Err(BlockError::HighHash(hash));
    }
    Ok(target)
}

/// Every check that needs nothing but the block itself.
pub fn check_block(block: &Block, params: &ChainParams) -> Result<(), BlockError> {
    let len = block.encoded_len();
    if len > params.max_block_bytes {
        return Err(BlockError::TooLarge {
            len,
            max: params.max_block_bytes,
        });
    }
    check_proof_of_work(&block.header, params)?;
    let coinbase = block.coinbase().ok_or(BlockError::NoCoinbase)?;
    if coinbase.miner.len() > params.max_miner_name_bytes {
        return Err(BlockError::MinerNameTooLong {
            len: coinbase.miner.len(),
            max: params.max_miner_name_bytes,
        });
    }
    Amount::checked_sum(coinbase.outputs.iter().map(|output| output.value))
        .ok_or(BlockError::CoinbaseOverflow)?;
    for (index, entry) in block.entries.iter().enumerate() {
        if entry.encoded_len() == MERKLE_NODE_BYTES {
            return Err(BlockError::SixtyFourByteEntry(index));
        }
        match entry {
            Entry::Coinbase(_) if index > 0 => return Err(BlockError::ExtraCoinbase(index)),
            Entry::Coinbase(_) => {}
            Entry::Tx(tx) => {
                check_tx(tx).map_err(|error| BlockError::Tx { index, error })?;
            }
            Entry::Data { text } => {
                check_entry_size(text, params).map_err(|_| BlockError::BadEntrySize {
                    index,
                    len: text.len(),
                    max: params.max_entry_bytes,
                })?;
            }
        }
    }
    let leaves = block.leaves();
    let mut sorted: Vec<(TxMerkleNode, usize)> = leaves.iter().copied().zip(0..).collect();
    sorted.sort_unstable();
    if let Some(pair) = sorted.windows(2).find(|pair| pair[0].0 == pair[1].0) {
        return Err(BlockError::DuplicateEntry(pair[1].1.max(pair[0].1)));
    }
    if crate::merkle::merkle_root(&leaves) != block.header.merkle_root {
        return Err(BlockError::BadMerkleRoot);
    }
    Ok(())
}

/// The header's checks against its parent: link, difficulty and time. `now` is the node's clock.
pub fn check_header_context(
    header: &Header,
    context: &ChainContext<'_>,
    params: &ChainParams,
    now: u32,
) -> Result<(), BlockError> {
    if header.prev_hash != context.parent_hash {
        return Err(BlockError::WrongParent {
            expected: context.parent_hash,
        });
    }
    let expected = expected_bits(params, context);
    if header.bits != expected {
        return Err(BlockError::WrongBits {
            expected,
            got: header.bits,
        });
    }
    check_header_time(header.time, context.median_time_past(), params, now)
}

/// The time rule alone: a header's `time` is above the median time past of its parent and at most
/// `params.max_future_secs` ahead of `now` (the validating node's clock). Stratum's `ntime` may
/// roll within exactly this window.
pub fn check_header_time(
    time: u32,
    median_time_past: u32,
    params: &ChainParams,
    now: u32,
) -> Result<(), BlockError> {
    if time <= median_time_past {
        return Err(BlockError::TimeTooOld {
            time,
            median: median_time_past,
        });
    }
    let max = now.saturating_add(params.max_future_secs);
    if time > max {
        return Err(BlockError::TimeTooNew { time, max });
    }
    Ok(())
}

/// The contextual checks of a whole block: its header's, and the coinbase height.
pub fn check_block_context(
    block: &Block,
    context: &ChainContext<'_>,
    params: &ChainParams,
    now: u32,
) -> Result<(), BlockError> {
    check_header_context(&block.header, context, params, now)?;
    let got = block.coinbase().ok_or(BlockError::NoCoinbase)?.height;
    let expected = context.parent_height.checked_add(1);
    if expected != Some(got) {
        let expected = expected.unwrap_or(u32::MAX);
        return Err(BlockError::WrongHeight { expected, got });
    }
    Ok(())
}

/// Refuses a block that repeats a data entry its branch already holds, so every entry is in a chain
/// at most once. `in_branch` answers for a data id (see [`crate::block::data_id`]) whether the
/// block's parent or one of its ancestors has it.
pub fn check_entries_new(
    block: &Block,
    mut in_branch: impl FnMut(&DataId) -> bool,
) -> Result<(), BlockError> {
    for (index, entry) in block.entries.iter().enumerate().skip(1) {
        if entry
            .as_data()
            .is_some_and(|text| in_branch(&data_id(text)))
        {
            return Err(BlockError::DataAlreadyInChain(index));
        }
    }
    Ok(())
}
