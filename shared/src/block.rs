//! Blocks: a header and its entries. The first entry is the coinbase; the rest are transactions and
//! user data.

use crate::encode::{DecodeError, Reader, compact_size_len, write_compact_size};
use crate::hash::{BlockHash, DataId, TxMerkleNode, Txid, sha256d};
use crate::header::Header;
use crate::merkle::{MerkleProof, merkle_root};
use crate::tx::{KIND_TX, Transaction, TxOut, outputs_len, read_outputs, write_outputs};
use alloc::string::String;
use alloc::vec::Vec;

/// Kind byte of a coinbase entry in the canonical encoding.
const KIND_COINBASE: u8 = 0;
/// Kind byte of a data entry in the canonical encoding.
const KIND_DATA: u8 = 1;

/// The coinbase: which height the block is for, who mined it, and where the reward goes. The extra
/// nonce gives every miner connection its own merkle root, so no two miners ever hash the same header.
///
/// Its encoding puts the extra nonce between the fixed prefix (kind, height) and the rest (name,
/// outputs), so Stratum can split it there. Its txid is its merkle leaf: it has no signatures.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Coinbase {
    /// Height of the block.
    pub height: u32,
    /// Chosen by the master per miner job.
    pub extra_nonce: u64,
    /// The miner's name, shown in explorers.
    pub miner: String,
    /// The reward: at most the subsidy plus the block's fees. None for a miner without an address.
    pub outputs: Vec<TxOut>,
}

impl Coinbase {
    /// A coinbase for `height` paying `outputs`. A name that would make the entry exactly 64 bytes
    /// (which blocks refuse, see [`crate::validation::MERKLE_NODE_BYTES`]) gets a trailing space.
    pub fn new(height: u32, extra_nonce: u64, miner: &str, outputs: Vec<TxOut>) -> Coinbase {
        let mut coinbase = Coinbase {
            height,
            extra_nonce,
            miner: miner.into(),
            outputs,
        };
        if Entry::Coinbase(coinbase.clone()).encoded_len() == crate::validation::MERKLE_NODE_BYTES {
            coinbase.miner.push(' ');
        }
        coinbase
    }

    /// Where the extra nonce sits in the canonical encoding: 8 bytes, little-endian, after the kind
    /// byte and the height. The bytes before and after do not depend on it, so Stratum sends them as
    /// `coinb1` and `coinb2` and the miner fills in the 8 bytes (extranonce1 ‖ extranonce2).
    pub const EXTRA_NONCE_AT: core::ops::Range<usize> = 5..13;

    /// The canonical encoding split around the extra nonce: `(prefix, rest)`, such that
    /// `sha256d(prefix ‖ extra_nonce.to_le_bytes() ‖ rest)` is the merkle leaf of this coinbase
    /// with that extra nonce.
    pub fn split_at_extra_nonce(&self) -> (Vec<u8>, Vec<u8>) {
        let mut prefix = Vec::with_capacity(Self::EXTRA_NONCE_AT.start);
        prefix.push(KIND_COINBASE);
        prefix.extend_from_slice(&self.height.to_le_bytes());
        let mut rest = Vec::with_capacity(self.miner.len() + 9 + outputs_len(&self.outputs));
        write_compact_size(&mut rest, self.miner.len() as u64);
        rest.extend_from_slice(self.miner.as_bytes());
        write_outputs(&mut rest, &self.outputs);
        (prefix, rest)
    }

    /// The id its outputs are spent by: `sha256d` of its encoding.
    pub fn txid(&self) -> Txid {
        Txid::from_byte_array(sha256d(&Entry::Coinbase(self.clone()).to_bytes()))
    }
}

/// One leaf of a block's merkle tree.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Entry {
    /// The block's first entry.
    Coinbase(Coinbase),
    /// A transfer of coins.
    Tx(Transaction),
    /// User data: UTF-8 text.
    Data {
        /// The text.
        text: String,
    },
}

impl Entry {
    /// A data entry.
    pub fn data(text: impl Into<String>) -> Entry {
        Entry::Data { text: text.into() }
    }

    /// Appends the canonical encoding.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        match self {
            Entry::Coinbase(coinbase) => {
                out.push(KIND_COINBASE);
                out.extend_from_slice(&coinbase.height.to_le_bytes());
                out.extend_from_slice(&coinbase.extra_nonce.to_le_bytes());
                write_compact_size(out, coinbase.miner.len() as u64);
                out.extend_from_slice(coinbase.miner.as_bytes());
                write_outputs(out, &coinbase.outputs);
            }
            Entry::Tx(tx) => tx.encode_into(out),
            Entry::Data { text } => {
                out.push(KIND_DATA);
                write_compact_size(out, text.len() as u64);
                out.extend_from_slice(text.as_bytes());
            }
        }
    }

    /// The canonical encoding.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode_into(&mut out);
        out
    }

    /// Length of the canonical encoding.
    pub fn encoded_len(&self) -> usize {
        match self {
            Entry::Coinbase(c) => {
                1 + 4
                    + 8
                    + compact_size_len(c.miner.len() as u64)
                    + c.miner.len()
                    + outputs_len(&c.outputs)
            }
            Entry::Tx(tx) => tx.encoded_len(),
            Entry::Data { text } => 1 + compact_size_len(text.len() as u64) + text.len(),
        }
    }

    /// Decodes exactly one entry.
    pub fn from_bytes(bytes: &[u8]) -> Result<Entry, DecodeError> {
        let mut reader = Reader::new(bytes);
        let entry = Entry::read(&mut reader)?;
        reader.finish()?;
        Ok(entry)
    }

    fn read(reader: &mut Reader<'_>) -> Result<Entry, DecodeError> {
        match reader.u8()? {
            KIND_COINBASE => {
                let height = reader.u32()?;
                let extra_nonce = reader.u64()?;
                let miner = utf8(reader.bytes_with_len("miner name", usize::MAX)?)?;
                let outputs = read_outputs(reader)?;
                Ok(Entry::Coinbase(Coinbase {
                    height,
                    extra_nonce,
                    miner,
                    outputs,
                }))
            }
            KIND_TX => Ok(Entry::Tx(Transaction::read_body(reader)?)),
            KIND_DATA => Ok(Entry::data(utf8(
                reader.bytes_with_len("data entry", usize::MAX)?,
            )?)),
            other => Err(DecodeError::UnknownEntryKind(other)),
        }
    }

    /// The merkle leaf: `sha256d` of the canonical encoding. For a data entry this is also its id,
    /// for a coinbase its txid.
    pub fn leaf_hash(&self) -> TxMerkleNode {
        TxMerkleNode::from_byte_array(sha256d(&self.to_bytes()))
    }

    /// The text of a data entry.
    pub fn as_data(&self) -> Option<&str> {
        match self {
            Entry::Data { text } => Some(text),
            _ => None,
        }
    }

    /// The transaction of a transaction entry.
    pub fn as_tx(&self) -> Option<&Transaction> {
        match self {
            Entry::Tx(tx) => Some(tx),
            _ => None,
        }
    }
}

fn utf8(bytes: &[u8]) -> Result<String, DecodeError> {
    core::str::from_utf8(bytes)
        .map(String::from)
        .map_err(|_| DecodeError::InvalidUtf8)
}

/// The id of a data entry with this text: identical data always has the same id.
pub fn data_id(text: &str) -> DataId {
    let mut out = Vec::with_capacity(text.len() + 10);
    out.push(KIND_DATA);
    write_compact_size(&mut out, text.len() as u64);
    out.extend_from_slice(text.as_bytes());
    DataId::from_byte_array(sha256d(&out))
}

/// A header and its entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// The header.
    pub header: Header,
    /// Coinbase first, then data entries.
    pub entries: Vec<Entry>,
}

impl Block {
    /// The block hash.
    pub fn hash(&self) -> BlockHash {
        self.header.block_hash()
    }

    /// The coinbase, if the first entry is one.
    pub fn coinbase(&self) -> Option<&Coinbase> {
        match self.entries.first() {
            Some(Entry::Coinbase(coinbase)) => Some(coinbase),
            _ => None,
        }
    }

    /// The data entries' texts, in block order.
    pub fn data(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().filter_map(Entry::as_data)
    }

    /// The transactions after the coinbase, in block order.
    pub fn txs(&self) -> impl Iterator<Item = &Transaction> {
        self.entries.iter().filter_map(Entry::as_tx)
    }

    /// Merkle leaves of the entries, in order.
    pub fn leaves(&self) -> Vec<TxMerkleNode> {
        self.entries.iter().map(Entry::leaf_hash).collect()
    }

    /// The merkle root the entries commit to.
    pub fn compute_merkle_root(&self) -> TxMerkleNode {
        merkle_root(&self.leaves())
    }

    /// Inclusion proof for the entry at `index`.
    pub fn proof(&self, index: usize) -> Option<MerkleProof> {
        MerkleProof::build(&self.leaves(), index)
    }

    /// Canonical encoding: the header, a CompactSize entry count, then each entry.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        out.extend_from_slice(&self.header.to_bytes());
        write_compact_size(&mut out, self.entries.len() as u64);
        for entry in &self.entries {
            entry.encode_into(&mut out);
        }
        out
    }

    /// Length of the canonical encoding.
    pub fn encoded_len(&self) -> usize {
        Header::SIZE
            + compact_size_len(self.entries.len() as u64)
            + self.entries.iter().map(Entry::encoded_len).sum::<usize>()
    }

    /// Decodes one block, refusing input longer than `max_len` before reading it.
    pub fn from_bytes(bytes: &[u8], max_len: usize) -> Result<Block, DecodeError> {
        if bytes.len() > max_len {
            return Err(DecodeError::TooLarge {
                what: "block",
                len: bytes.len() as u64,
                max: max_len as u64,
            });
        }
        let mut reader = Reader::new(bytes);
        let header = Header::read(&mut reader)?;
        let count = reader.compact_size()?;
        // Every entry takes at least two bytes: never allocate more than the input can hold.
        if count > reader.remaining() as u64 / 2 {
            return Err(DecodeError::UnexpectedEnd);
        }
        // Grow as entries really decode: a claimed count reserves little up front.
        let mut entries = Vec::with_capacity(count.min(1024) as usize);
        for _ in 0..count {
            entries.push(Entry::read(&mut reader)?);
        }
        reader.finish()?;
        Ok(Block { header, entries })
    }
}
