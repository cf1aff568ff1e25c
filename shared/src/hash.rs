//! 32-byte double-SHA-256 hashes, kept in internal byte order and shown byte-reversed like explorers do.

use alloc::string::String;
use core::fmt;
use core::str::FromStr;
use sha2::{Digest, Sha256};

/// A double-SHA-256 output in internal (wire) byte order.
///
/// `Display`, `FromStr` and serde use the byte-reversed hex that block explorers and
/// `bitcoin-cli` show, so a block hash reads `0000…` with its leading zeros first.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Hash256(pub [u8; 32]);

/// Why a hash could not be parsed from hex.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HashParseError {
    /// The text is not 64 hex digits.
    #[error("a hash is 64 hex digits")]
    BadHex,
}

impl Hash256 {
    /// All zeros: the `prev_hash` of a genesis block.
    pub const ZERO: Hash256 = Hash256([0; 32]);

    /// `sha256(sha256(data))`.
    pub fn sha256d(data: &[u8]) -> Hash256 {
        Hash256(Sha256::digest(Sha256::digest(data)).into())
    }

    /// `sha256d(left || right)`: one inner node of a merkle tree.
    pub fn sha256d_pair(left: &Hash256, right: &Hash256) -> Hash256 {
        let mut first = Sha256::new();
        first.update(left.0);
        first.update(right.0);
        Hash256(Sha256::digest(first.finalize()).into())
    }

    /// The display form: byte-reversed hex.
    pub fn to_hex(&self) -> String {
        let mut reversed = self.0;
        reversed.reverse();
        hex::encode(reversed)
    }
}

impl FromStr for Hash256 {
    type Err = HashParseError;

    /// Parses the display form (byte-reversed hex).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(s, &mut bytes).map_err(|_| HashParseError::BadHex)?;
        bytes.reverse();
        Ok(Hash256(bytes))
    }
}

impl fmt::Display for Hash256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0.iter().rev() {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Hash256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl serde::Serialize for Hash256 {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Hash256 {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Owned, so that JSON with escapes or from a `serde_json::Value` decodes too.
        let text: String = serde::Deserialize::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// STUB until the typed-hashes branch lands.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Txid(Hash256);
#[allow(missing_docs)]
impl Txid {
    pub fn from_byte_array(bytes: [u8; 32]) -> Txid { Txid(Hash256(bytes)) }
    pub fn from_raw_hash(hash: Hash256) -> Txid { Txid(hash) }
    pub fn as_bytes(&self) -> &[u8; 32] { &self.0.0 }
}
impl fmt::Display for Txid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { fmt::Display::fmt(&self.0, f) }
}
