//! Bitcoin's merkle tree: pairs hashed with `sha256d`, the last node doubled on odd levels.

use crate::hash::TxMerkleNode;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

/// The merkle root of `leaves`; all zeros for no leaves.
pub fn merkle_root(leaves: &[TxMerkleNode]) -> TxMerkleNode {
    if leaves.is_empty() {
        return TxMerkleNode::ZERO;
    }
    let mut level = leaves.to_vec();
    while level.len() > 1 {
        level = next_level(&level);
    }
    level[0]
}

fn next_level(level: &[TxMerkleNode]) -> Vec<TxMerkleNode> {
    level
        .chunks(2)
        .map(|pair| TxMerkleNode::combine(&pair[0], pair.get(1).unwrap_or(&pair[0])))
        .collect()
}

/// Proof that a leaf sits at `index` under a merkle root: the sibling at each level, bottom up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MerkleProof {
    /// Position of the leaf among the leaves.
    pub index: u32,
    /// How many leaves the tree has: without it, an index past the last leaf of an odd level could
    /// pass for the doubled last node.
    pub leaves: u32,
    /// Sibling hashes from the leaf's level up to just below the root.
    pub siblings: Vec<TxMerkleNode>,
}

impl MerkleProof {
    /// Builds the proof for `leaves[index]`, or `None` if there is no such leaf.
    pub fn build(leaves: &[TxMerkleNode], index: usize) -> Option<MerkleProof> {
        if index >= leaves.len() {
            return None;
        }
        let mut siblings = Vec::new();
        let mut level = leaves.to_vec();
        let mut position = index;
        while level.len() > 1 {
            let sibling = level.get(position ^ 1).unwrap_or(&level[position]);
            siblings.push(*sibling);
            level = next_level(&level);
            position /= 2;
        }
        Some(MerkleProof {
            index: index as u32,
            leaves: leaves.len() as u32,
            siblings,
        })
    }

    /// The root this proof leads to from `leaf`.
    pub fn root(&self, leaf: &TxMerkleNode) -> TxMerkleNode {
        root_from_branch(leaf, self.index, &self.siblings)
    }

    /// Whether the entry encoded as `encoding` is proven to be under `root`. An encoding of 64 bytes
    /// is refused: it could be the two children of an inner node, passed off as a leaf. Use this,
    /// not [`MerkleProof::verify`], for anything a user hands in.
    pub fn verify_encoding(&self, encoding: &[u8], root: &TxMerkleNode) -> bool {
        encoding.len() != crate::validation::MERKLE_NODE_BYTES
            && self.verify(
                &TxMerkleNode::from_byte_array(crate::hash::sha256d(encoding)),
                root,
            )
    }

    /// Whether `leaf` is proven to be the leaf at `index` of a tree of `leaves` leaves under `root`.
    pub fn verify(&self, leaf: &TxMerkleNode, root: &TxMerkleNode) -> bool {
        self.index < self.leaves
            && self.siblings.len() == tree_depth(self.leaves)
            && self.root(leaf) == *root
    }
}

/// Levels between the leaves and the root of a tree of `leaves` leaves.
fn tree_depth(leaves: u32) -> usize {
    let mut depth = 0;
    let mut width = leaves;
    while width > 1 {
        width = width.div_ceil(2);
        depth += 1;
    }
    depth
}

/// Folds a leaf up its branch: how a miner or feed task turns its own coinbase into a merkle root with
/// O(log n) hashes.
pub fn root_from_branch(leaf: &TxMerkleNode, index: u32, branch: &[TxMerkleNode]) -> TxMerkleNode {
    let mut node = *leaf;
    let mut position = index;
    for sibling in branch {
        node = if position & 1 == 0 {
            TxMerkleNode::combine(&node, sibling)
        } else {
            TxMerkleNode::combine(sibling, &node)
        };
        position >>= 1;
    }
    node
}
