//! Merkle roots of 24 real Bitcoin blocks, and inclusion proofs checked against Bitcoin Core's
//! `gettxoutproof` output (BIP37 partial merkle trees) for the same transactions.

mod common;

use bbchain_core::merkle::{merkle_root, root_from_branch};
use bbchain_core::{Header, MerkleProof, TxMerkleNode};
use common::{display_hash, int, read_json, text};
use serde_json::Value;

/// Txids in display hex become leaves in internal order (`FromStr` reverses them).
fn leaves(block: &Value) -> Vec<TxMerkleNode> {
    block["txids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|txid| display_hash(txid.as_str().unwrap()))
        .collect()
}

fn block_files() -> Vec<Value> {
    let index = read_json("merkle/index.json");
    index
        .as_array()
        .unwrap()
        .iter()
        .map(|row| read_json(&format!("merkle/blocks/{}", text(row, "file"))))
        .collect()
}

#[test]
fn merkle_roots_of_24_real_blocks() {
    let blocks = block_files();
    assert_eq!(blocks.len(), 24);
    for block in &blocks {
        let leaves = leaves(block);
        assert_eq!(leaves.len() as i64, int(block, "tx_count"));
        let root = merkle_root(&leaves);
        assert_eq!(
            root.to_string(),
            text(block, "merkle_root"),
            "{}",
            text(block, "hash")
        );
        let header = Header::from_bytes(&hex::decode(text(block, "header_hex")).unwrap()).unwrap();
        assert_eq!(header.merkle_root, root);
        assert_eq!(header.block_hash().to_string(), text(block, "hash"));
    }
}

#[test]
fn proofs_for_every_leaf_of_an_odd_block() {
    // Block 170000 has 27 transactions: odd levels all the way up.
    let blocks = block_files();
    let block = blocks.iter().find(|b| int(b, "height") == 170_000).unwrap();
    let leaves = leaves(block);
    let root = merkle_root(&leaves);
    for (index, leaf) in leaves.iter().enumerate() {
        let proof = MerkleProof::build(&leaves, index).unwrap();
        assert!(proof.verify(leaf, &root), "leaf {index}");
        assert!(!proof.verify(&leaves[(index + 1) % leaves.len()], &root));
        let mut tampered = proof.clone();
        let mut flipped = tampered.siblings[0].to_byte_array();
        flipped[0] ^= 1;
        tampered.siblings[0] = TxMerkleNode::from_byte_array(flipped);
        assert!(!tampered.verify(leaf, &root));
    }
    assert!(MerkleProof::build(&leaves, leaves.len()).is_none());

    // The last leaf is doubled on the odd bottom level: the same siblings at index 27 would lead
    // to the same root, but there is no leaf 27, and a proof must say how many leaves there are.
    let last = MerkleProof::build(&leaves, 26).unwrap();
    let past_the_end = MerkleProof {
        index: 27,
        ..last.clone()
    };
    assert_eq!(past_the_end.root(&leaves[26]), root);
    assert!(!past_the_end.verify(&leaves[26], &root));
    let shallow = MerkleProof { leaves: 14, ..last };
    assert!(
        !shallow.verify(&leaves[26], &root),
        "a depth that does not fit the leaf count"
    );
}

/// A BIP37 partial merkle tree, as in Bitcoin Core's `CMerkleBlock` serialization.
struct PartialTree {
    header: Header,
    total: u32,
    hashes: Vec<TxMerkleNode>,
    flags: Vec<bool>,
}

fn read_compact_size(bytes: &[u8], at: &mut usize) -> usize {
    let first = bytes[*at];
    *at += 1;
    let width = match first {
        0xfd => 2,
        0xfe => 4,
        0xff => 8,
        small => return usize::from(small),
    };
    let mut value = [0u8; 8];
    value[..width].copy_from_slice(&bytes[*at..*at + width]);
    *at += width;
    u64::from_le_bytes(value) as usize
}

impl PartialTree {
    fn decode(bytes: &[u8]) -> PartialTree {
        let header = Header::from_bytes(&bytes[..80]).unwrap();
        let total = u32::from_le_bytes(bytes[80..84].try_into().unwrap());
        let mut at = 84;
        let count = read_compact_size(bytes, &mut at);
        let hashes = (0..count)
            .map(|i| {
                TxMerkleNode::from_byte_array(
                    bytes[at + 32 * i..at + 32 * (i + 1)].try_into().unwrap(),
                )
            })
            .collect();
        at += 32 * count;
        let flag_bytes = read_compact_size(bytes, &mut at);
        let flags = bytes[at..at + flag_bytes]
            .iter()
            .flat_map(|byte| (0..8).map(move |bit| byte >> bit & 1 == 1))
            .collect();
        assert_eq!(at + flag_bytes, bytes.len(), "nothing after the flags");
        PartialTree {
            header,
            total,
            hashes,
            flags,
        }
    }

    fn width(&self, height: u32) -> u32 {
        (self.total + (1 << height) - 1) >> height
    }

    /// Walks the tree depth first; returns the root and the matched leaves with their positions.
    fn extract(&self) -> (TxMerkleNode, Vec<(u32, TxMerkleNode)>) {
        let mut height = 0;
        while self.width(height) > 1 {
            height += 1;
        }
        let mut walk = Walk {
            tree: self,
            next_flag: 0,
            next_hash: 0,
            matched: Vec::new(),
        };
        let root = walk.node(height, 0);
        assert_eq!(walk.next_hash, self.hashes.len(), "every hash used");
        assert!(walk.next_flag <= self.flags.len());
        (root, walk.matched)
    }
}

struct Walk<'a> {
    tree: &'a PartialTree,
    next_flag: usize,
    next_hash: usize,
    matched: Vec<(u32, TxMerkleNode)>,
}

impl Walk<'_> {
    fn node(&mut self, height: u32, position: u32) -> TxMerkleNode {
        let parent_of_match = self.tree.flags[self.next_flag];
        self.next_flag += 1;
        if height == 0 || !parent_of_match {
            let hash = self.tree.hashes[self.next_hash];
            self.next_hash += 1;
            if height == 0 && parent_of_match {
                self.matched.push((position, hash));
            }
            return hash;
        }
        let left = self.node(height - 1, position * 2);
        let right = if position * 2 + 1 < self.tree.width(height - 1) {
            self.node(height - 1, position * 2 + 1)
        } else {
            left
        };
        TxMerkleNode::combine(&left, &right)
    }
}

#[test]
fn our_proofs_match_bitcoin_core_txoutproofs() {
    let file = read_json("merkle/btc_txoutproofs.json");
    let vectors = file["vectors"].as_array().unwrap();
    assert_eq!(vectors.len(), 6);
    let blocks = block_files();
    for v in vectors {
        let block = blocks
            .iter()
            .find(|b| text(b, "hash") == text(v, "block_hash"))
            .expect("the proof's block is among the merkle vectors");
        let leaves = leaves(block);
        let root = display_hash(text(v, "merkle_root"));
        assert_eq!(leaves.len() as i64, int(v, "tx_count"));
        let index = v["tx_indexes"][0].as_u64().unwrap() as usize;
        let txid = display_hash(v["txids"][0].as_str().unwrap());
        assert_eq!(leaves[index], txid);

        let ours = MerkleProof::build(&leaves, index).unwrap();
        assert!(ours.verify(&txid, &root), "our proof for tx {index}");
        assert_eq!(root_from_branch(&txid, ours.index, &ours.siblings), root);

        let tree = PartialTree::decode(&hex::decode(text(v, "proof_hex")).unwrap());
        assert_eq!(tree.header.block_hash().to_string(), text(v, "block_hash"));
        assert_eq!(tree.header.merkle_root, root);
        assert_eq!(tree.total as usize, leaves.len());
        let (core_root, matched) = tree.extract();
        assert_eq!(core_root, root, "Core's proof for tx {index}");
        assert_eq!(matched, vec![(index as u32, txid)]);
        // With one match, Core sends our siblings except the doubled last nodes, plus the txid.
        let mut sent: Vec<TxMerkleNode> =
            tree.hashes.iter().copied().filter(|h| *h != txid).collect();
        let mut expected: Vec<TxMerkleNode> = (0..ours.siblings.len() as u32)
            .filter(|&level| (index as u32 >> level) ^ 1 < tree.width(level))
            .map(|level| ours.siblings[level as usize])
            .collect();
        sent.sort();
        expected.sort();
        assert_eq!(sent, expected, "siblings of tx {index}");
    }
}
