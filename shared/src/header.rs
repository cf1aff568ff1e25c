//! Bitcoin's 80-byte block header.

use crate::encode::{DecodeError, Reader};
use crate::hash::{BlockHash, TxMerkleNode, sha256d};
use crate::target::{CompactError, CompactTarget, Target};
use serde::{Deserialize, Serialize};

/// A block header, byte for byte Bitcoin's: its hash is the block's identity and its proof of work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Header {
    /// Block version.
    pub version: i32,
    /// Hash of the parent block.
    pub prev_hash: BlockHash,
    /// Merkle root of the block's entries.
    pub merkle_root: TxMerkleNode,
    /// Seconds since the Unix epoch.
    pub time: u32,
    /// The target this block must meet, in compact form.
    pub bits: CompactTarget,
    /// Varied by miners to search for a hash under the target.
    pub nonce: u32,
}

impl Header {
    /// Encoded size in bytes.
    pub const SIZE: usize = 80;
    /// Offset of the nonce: the first 76 bytes are fixed while a miner scans nonces.
    pub const NONCE_OFFSET: usize = 76;

    /// The wire encoding: little-endian integers, hashes in internal byte order.
    pub fn to_bytes(&self) -> [u8; Header::SIZE] {
        let mut out = [0u8; Header::SIZE];
        out[0..4].copy_from_slice(&self.version.to_le_bytes());
        out[4..36].copy_from_slice(self.prev_hash.as_byte_array());
        out[36..68].copy_from_slice(self.merkle_root.as_byte_array());
        out[68..72].copy_from_slice(&self.time.to_le_bytes());
        out[72..76].copy_from_slice(&self.bits.0.to_le_bytes());
        out[76..80].copy_from_slice(&self.nonce.to_le_bytes());
        out
    }

    /// Decodes exactly 80 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Header, DecodeError> {
        let mut reader = Reader::new(bytes);
        let header = Header::read(&mut reader)?;
        reader.finish()?;
        Ok(header)
    }

    pub(crate) fn read(reader: &mut Reader<'_>) -> Result<Header, DecodeError> {
        Ok(Header {
            version: reader.u32()? as i32,
            prev_hash: BlockHash::from_byte_array(reader.array()?),
            merkle_root: TxMerkleNode::from_byte_array(reader.array()?),
            time: reader.u32()?,
            bits: CompactTarget(reader.u32()?),
            nonce: reader.u32()?,
        })
    }

    /// The block hash: `sha256d` of the 80 encoded bytes.
    pub fn block_hash(&self) -> BlockHash {
        BlockHash::from_byte_array(sha256d(&self.to_bytes()))
    }

    /// The target named by `bits`.
    pub fn target(&self) -> Result<Target, CompactError> {
        Target::from_compact(self.bits)
    }
}
