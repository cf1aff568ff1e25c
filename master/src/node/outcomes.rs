//! What the node reports and refuses: chain events, the published snapshot, a data entry's
//! status, a submitted block's outcome, and the errors of both commands. Kept apart from the node
//! handle so the writer and the chain state use them without depending on `node` itself.

use bbchain_core::hash::Txid;
use bbchain_core::spend::TxError;
use bbchain_core::validation::{BlockError, EntrySizeError, check_entry_size};
use bbchain_core::{
    Amount, Block, BlockHash, ChainParams, CompactTarget, DataId, MerkleProof, OutPoint, Target,
    TxMerkleNode, Work,
};
use std::sync::Arc;

/// What happened to the chain or the queue, in commit order.
#[derive(Debug, Clone)]
pub enum NodeEvent {
    /// A block joined the main chain (after a reorg, one event per attached block, lowest first).
    BlockConnected {
        /// The block.
        block: Arc<Block>,
        /// Its height.
        height: u32,
    },
    /// The main chain switched branches; sent before the attached blocks' events.
    Reorg {
        /// How many blocks left the main chain.
        detached: u32,
        /// The new tip's height.
        height: u32,
        /// The new tip.
        tip: BlockHash,
    },
    /// A data entry was queued (new, or back from a detached block).
    DataAdded {
        /// Its id.
        id: DataId,
    },
    /// A data entry was mined into the main chain.
    DataConfirmed {
        /// Its id.
        id: DataId,
        /// The block's height.
        height: u32,
        /// The block.
        block: BlockHash,
    },
    /// A transaction joined the mempool (new, or back from a detached block).
    TxAdded {
        /// Its id.
        txid: Txid,
    },
    /// A transaction was mined into the main chain.
    TxConfirmed {
        /// Its id.
        txid: Txid,
        /// The block's height.
        height: u32,
        /// The block.
        block: BlockHash,
    },
    /// The number of connected miners changed.
    Miners {
        /// Connected miners.
        count: usize,
    },
    /// Storage started failing, or is back (see [`Node::storage`](super::Node::storage)).
    Storage,
}

/// Whether the database takes writes: `/api/status` `storage`, `/api/health`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum StorageHealth {
    /// Writes are committed.
    #[default]
    Ok,
    /// The last write failed (the reason); writes are refused with `503` until the writer has
    /// reopened the database and a test write went through.
    Failing(String),
}

impl StorageHealth {
    /// Whether writes are taken.
    pub fn is_ok(&self) -> bool {
        *self == StorageHealth::Ok
    }
}

impl std::fmt::Display for StorageHealth {
    /// `ok`, or `failing: <reason>`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StorageHealth::Ok => f.write_str("ok"),
            StorageHealth::Failing(why) => write!(f, "failing: {why}"),
        }
    }
}

/// The main chain as of the last commit.
#[derive(Debug, Clone)]
pub struct ChainSnapshot {
    /// Tip hash.
    pub tip: BlockHash,
    /// Tip height.
    pub height: u32,
    /// Tip header time.
    pub tip_time: u32,
    /// Cumulative work of the main chain.
    pub chainwork: Work,
    /// Bits the next block must carry.
    pub next_bits: CompactTarget,
    /// The target those bits stand for.
    pub next_target: Target,
    /// Hashes per second over the last blocks.
    pub hashrate: f64,
    /// Data entries waiting.
    pub pending: usize,
    /// The queue's size as `NodeLimits::max_pending_bytes` counts it (texts plus a fixed cost each).
    pub pending_bytes: usize,
    /// The sum of all unspent outputs.
    pub supply: Amount,
    /// The next block's subsidy.
    pub subsidy: Amount,
    /// Transactions waiting.
    pub mempool_txs: usize,
    /// Their total size in bytes.
    pub mempool_bytes: usize,
}

/// Where a data entry stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataStatus {
    /// Waiting for a block.
    Pending,
    /// In the main chain.
    Confirmed {
        /// The block's height.
        height: u32,
        /// The block.
        block: BlockHash,
        /// Tip height - height + 1.
        confirmations: u32,
        /// The block's merkle root.
        merkle_root: TxMerkleNode,
        /// Proof from the entry's leaf to `merkle_root`.
        proof: MerkleProof,
    },
}

/// What became of a submitted block that passed every check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubmitOutcome {
    /// Stored and now the main chain's tip (possibly after a reorg).
    Connected {
        /// Its height.
        height: u32,
        /// Its hash.
        hash: BlockHash,
    },
    /// Stored on a side branch with no more work than the main chain.
    SideBranch {
        /// Its height.
        height: u32,
        /// Its hash.
        hash: BlockHash,
    },
    /// Already stored.
    Duplicate {
        /// Its hash.
        hash: BlockHash,
    },
}

/// Why a block was refused.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SubmitError {
    /// It breaks a consensus rule.
    #[error("{0}")]
    Invalid(#[from] BlockError),
    /// Its parent is not stored.
    #[error("unknown parent block {0}")]
    UnknownParent(BlockHash),
    /// Its parent was found invalid.
    #[error("it builds on block {0}, which is invalid")]
    InvalidParent(BlockHash),
    /// An ancestor on its branch failed when the branch was connected.
    #[error("it builds on block {block}, which is invalid: {reason}")]
    InvalidAncestor {
        /// The invalid ancestor.
        block: BlockHash,
        /// What is wrong with it.
        reason: BlockError,
    },
    /// The database failed (full disk, I/O error); nothing was stored. `503`: try again later.
    #[error("storage failing, nothing was stored: {0}")]
    Storage(String),
    /// The node is stopping.
    #[error("the node is shutting down")]
    ShuttingDown,
}

/// Why a data entry was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddDataError {
    /// Empty, or longer than a data entry may be (the core's rule).
    #[error(transparent)]
    Size(#[from] EntrySizeError),
    /// Only whitespace: a valid entry for the chain, but refused as new data (as the page's form
    /// refuses it).
    #[error("data is only whitespace")]
    Blank,
    /// The queue is at its limit (`NodeLimits::max_pending_bytes`).
    #[error("the data queue is full ({0} bytes); try again later")]
    QueueFull(usize),
    /// The database failed (full disk, I/O error); nothing was stored. `503`: try again later.
    #[error("storage failing, nothing was stored: {0}")]
    Storage(String),
    /// The node is stopping.
    #[error("the node is shutting down")]
    ShuttingDown,
}

/// Why a transaction was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddTxError {
    /// The bytes are not a transaction.
    #[error("malformed transaction: {0}")]
    Malformed(String),
    /// It is larger than the node relays.
    #[error("the transaction is {len} bytes, more than the {max} allowed")]
    TooLarge {
        /// Its size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// It breaks a consensus rule against the main chain.
    #[error(transparent)]
    Invalid(#[from] TxError),
    /// A pending transaction already spends one of its inputs.
    #[error("double spend: input {index} spends {txid}:{vout}, which pending transaction {spender} already spends", txid = outpoint.txid, vout = outpoint.vout)]
    DoubleSpend {
        /// The input.
        index: u32,
        /// What it spends.
        outpoint: OutPoint,
        /// The pending transaction that spends it.
        spender: Txid,
    },
    /// An output is too small to be worth spending.
    #[error("output {index} is dust: {value} units, below the minimum of {min}", value = value.units(), min = min.units())]
    Dust {
        /// The output.
        index: u32,
        /// Its value.
        value: Amount,
        /// The least an output may hold.
        min: Amount,
    },
    /// The fee is below the minimum relay fee for its size.
    #[error("fee too low: {fee} units, but a {size}-byte transaction needs at least {min}", fee = fee.units(), min = min.units())]
    FeeTooLow {
        /// Its fee.
        fee: Amount,
        /// Its size.
        size: usize,
        /// The least fee accepted.
        min: Amount,
    },
    /// It would make a chain of pending transactions longer than the node keeps.
    #[error(
        "too many unconfirmed ancestors: a chain of pending transactions may be {max} long; wait for a block"
    )]
    ChainTooLong {
        /// The limit.
        max: u32,
    },
    /// The mempool is full of transactions paying at least as much per byte.
    #[error("the mempool is full; pay a higher fee rate or try again later")]
    MempoolFull,
    /// The database failed (full disk, I/O error); nothing was stored. `503`: try again later.
    #[error("storage failing, nothing was stored: {0}")]
    Storage(String),
    /// The node is stopping.
    #[error("the node is shutting down")]
    ShuttingDown,
}

/// The rule for new data, shared with the command line's local check (`--add`): the core's size
/// rule, and not only whitespace (trimmed like JavaScript's `trim`, which also drops U+FEFF).
pub fn check_data(text: &str, params: &ChainParams) -> Result<(), AddDataError> {
    check_entry_size(text, params)?;
    // JavaScript's whitespace is Unicode's White_Space less U+0085 (NEL), plus U+FEFF.
    let blank = |c: char| (c.is_whitespace() && c != '\u{85}') || c == '\u{feff}';
    if text.chars().all(blank) {
        return Err(AddDataError::Blank);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_means_what_the_pages_trim_removes() {
        let params = ChainParams::dev();
        for blank in [" \t\n", "\u{a0}\u{2028}", "\u{feff}", "\u{3000}"] {
            assert_eq!(
                check_data(blank, &params),
                Err(AddDataError::Blank),
                "{blank:?}"
            );
        }
        // JavaScript's trim keeps U+0085, so the form sends it and the node takes it.
        for text in ["\u{85}", " x ", "0"] {
            assert_eq!(check_data(text, &params), Ok(()), "{text:?}");
        }
        assert!(matches!(
            check_data("", &params),
            Err(AddDataError::Size(EntrySizeError::Empty))
        ));
    }
}
