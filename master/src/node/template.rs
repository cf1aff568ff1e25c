//! The block template: one per tip and queue state, shared by every feed connection.

use bbchain_core::keys::PublicKey;
use bbchain_core::{
    Amount, Block, BlockHash, Coinbase, CompactTarget, Entry, Header, Target, TxMerkleNode, TxOut,
    merkle,
};
use std::sync::Arc;

/// Work for the next block, without the coinbase: each feed connection adds its own.
#[derive(Debug, Clone)]
pub struct BlockTemplate {
    /// Height of the block to mine.
    pub height: u32,
    /// The tip it builds on.
    pub prev_hash: BlockHash,
    /// Bits it must carry.
    pub bits: CompactTarget,
    /// The target those bits stand for.
    pub target: Target,
    /// `target` as the 64 hex digits a job carries: written once here, not once per miner.
    pub target_hex: String,
    /// Earliest allowed header time: median time past + 1.
    pub min_time: u32,
    /// What the coinbase may claim: the subsidy plus the fees of `entries`.
    pub reward: Amount,
    /// Transactions (parents first), then data entries (oldest first).
    pub entries: Arc<Vec<Entry>>,
    /// Merkle branch of leaf 0 (the coinbase); it does not depend on the coinbase itself.
    pub branch: Vec<TxMerkleNode>,
    /// When it was made: the feed's fan-out latency (`/metrics`) counts from here.
    pub made: std::time::Instant,
}

impl BlockTemplate {
    /// Builds a template, computing the coinbase branch over `entries`, whose leaf hashes are
    /// `leaves`.
    pub fn new(
        height: u32,
        prev_hash: BlockHash,
        bits: CompactTarget,
        min_time: u32,
        reward: Amount,
        entries: Vec<Entry>,
        leaves: &[TxMerkleNode],
    ) -> BlockTemplate {
        debug_assert_eq!(entries.len(), leaves.len());
        let mut all = Vec::with_capacity(leaves.len() + 1);
        all.push(TxMerkleNode::ZERO);
        all.extend_from_slice(leaves);
        let leaves = all;
        let branch = merkle::MerkleProof::build(&leaves, 0)
            .map(|proof| proof.siblings)
            .unwrap_or_default();
        let target = Target::from_compact(bits).unwrap_or(Target::MAX);
        BlockTemplate {
            height,
            prev_hash,
            bits,
            target_hex: target.to_hex(),
            target,
            min_time,
            reward,
            entries: Arc::new(entries),
            branch,
            made: std::time::Instant::now(),
        }
    }

    /// The coinbase for a miner's job: the whole reward to `payout`, or nothing for a miner that
    /// gave no address.
    pub fn coinbase(&self, miner: &str, extra_nonce: u64, payout: Option<&PublicKey>) -> Coinbase {
        let outputs = payout
            .filter(|_| self.reward > Amount::ZERO)
            .map(|key| TxOut {
                value: self.reward,
                key: *key,
            });
        Coinbase::new(
            self.height,
            extra_nonce,
            miner,
            outputs.into_iter().collect(),
        )
    }

    /// The header for `coinbase` at time `now` (raised to the median-time-past rule), nonce 0:
    /// O(log n) hashes, whatever the number of entries.
    pub fn header(&self, coinbase: &Coinbase, now: u32) -> Header {
        let leaf = Entry::Coinbase(coinbase.clone()).leaf_hash();
        self.header_for_leaf(&leaf, now.max(self.min_time))
    }

    /// The header for a coinbase whose merkle leaf is `leaf` (Stratum's miners hash the coinbase
    /// themselves), at exactly `time`, nonce 0.
    pub fn header_for_leaf(&self, leaf: &TxMerkleNode, time: u32) -> Header {
        Header {
            version: 1,
            prev_hash: self.prev_hash,
            merkle_root: merkle::root_from_branch(leaf, 0, &self.branch),
            time,
            bits: self.bits,
            nonce: 0,
        }
    }

    /// The full block for a solved header.
    pub fn block(&self, coinbase: Coinbase, header: Header) -> Block {
        let mut entries = Vec::with_capacity(self.entries.len() + 1);
        entries.push(Entry::Coinbase(coinbase));
        entries.extend(self.entries.iter().cloned());
        Block { header, entries }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_merkle_root_matches_the_full_block() {
        for count in [0, 1, 2, 3, 7, 8] {
            let entries: Vec<Entry> = (0..count)
                .map(|i| Entry::data(format!("entry {i}")))
                .collect();
            let leaves: Vec<TxMerkleNode> = entries.iter().map(Entry::leaf_hash).collect();
            let bits = CompactTarget(0x207fffff);
            let reward = Amount::COIN;
            let template =
                BlockTemplate::new(5, BlockHash::ZERO, bits, 10, reward, entries, &leaves);
            let key = bbchain_core::testing::secret_key(1).public_key();
            let coinbase = template.coinbase("alice", 42, Some(&key));
            assert_eq!(coinbase.outputs[0].value, reward);
            let header = template.header(&coinbase, 0);
            assert_eq!(header.time, 10, "time is raised to min_time");
            let block = template.block(coinbase, header);
            assert_eq!(
                block.compute_merkle_root(),
                header.merkle_root,
                "{count} entries"
            );
        }
    }
}
