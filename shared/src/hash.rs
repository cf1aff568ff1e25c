//! 32-byte double-SHA-256 hashes, one type per thing hashed, in the style of rust-bitcoin.
//!
//! [`BlockHash`], [`TxMerkleNode`], [`DataId`] and [`Txid`] share one representation (32 bytes in
//! internal byte order, shown byte-reversed like explorers do) but are distinct types, so the
//! compiler refuses a block hash where a data id is expected. Conversions between them are named
//! methods, and there are few on purpose.
//!
//! ```compile_fail
//! use bbchain_core::{BlockHash, DataId};
//! fn confirmed(_id: &DataId) {}
//! confirmed(&BlockHash::ZERO); // a block hash is not a data id
//! ```

use alloc::string::String;
use core::fmt;
use core::str::FromStr;
use sha2::{Digest, Sha256};

/// `sha256(sha256(data))`: the raw primitive every hash type here is computed with.
pub fn sha256d(data: &[u8]) -> [u8; 32] {
    Sha256::digest(Sha256::digest(data)).into()
}

/// Why a hash could not be parsed from hex.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HashParseError {
    /// The text is not 64 hex digits.
    #[error("a hash is 64 hex digits")]
    BadHex,
}

/// Defines a 32-byte hash type. `Display`, `FromStr` and serde use the byte-reversed hex that block
/// explorers and `bitcoin-cli` show, so a block hash reads `0000…` with its leading zeros first;
/// `Debug` is the same text.
macro_rules! hash_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name([u8; 32]);

        impl $name {
            /// All zeros.
            pub const ZERO: $name = $name([0; 32]);

            /// The hash with these bytes, in internal (wire) order.
            pub const fn from_byte_array(bytes: [u8; 32]) -> $name {
                $name(bytes)
            }

            /// The bytes in internal (wire) order.
            pub const fn to_byte_array(self) -> [u8; 32] {
                self.0
            }

            /// The bytes in internal (wire) order, borrowed.
            pub const fn as_byte_array(&self) -> &[u8; 32] {
                &self.0
            }

            /// The display form: byte-reversed hex.
            pub fn to_hex(&self) -> String {
                let mut reversed = self.0;
                reversed.reverse();
                hex::encode(reversed)
            }
        }

        impl FromStr for $name {
            type Err = HashParseError;

            /// Parses the display form (byte-reversed hex).
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let mut bytes = [0u8; 32];
                hex::decode_to_slice(s, &mut bytes).map_err(|_| HashParseError::BadHex)?;
                bytes.reverse();
                Ok($name(bytes))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                for byte in self.0.iter().rev() {
                    write!(f, "{byte:02x}")?;
                }
                Ok(())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(self, f)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                // Owned, so that JSON with escapes or from a `serde_json::Value` decodes too.
                let text: String = serde::Deserialize::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

hash_type!(
    /// A block's name: `sha256d` of its 80-byte header. Also `prev_hash`, tips and locators.
    BlockHash
);

hash_type!(
    /// A node of a block's merkle tree: a leaf (`sha256d` of one entry's encoding), an inner node,
    /// a proof sibling or the root a header commits to.
    TxMerkleNode
);

hash_type!(
    /// The id of a data entry: `sha256d` of its encoding (see [`crate::block::data_id`]), so
    /// identical data always has the same id.
    DataId
);

hash_type!(
    /// The id of a transaction: sha256d of its encoding without signatures.
    Txid
);

impl TxMerkleNode {
    /// `sha256d(left || right)`: the inner node above two nodes.
    pub fn combine(left: &TxMerkleNode, right: &TxMerkleNode) -> TxMerkleNode {
        let mut first = Sha256::new();
        first.update(left.0);
        first.update(right.0);
        TxMerkleNode(Sha256::digest(first.finalize()).into())
    }
}

impl DataId {
    /// The merkle leaf of the data entry with this id: a leaf is `sha256d` of the entry's encoding,
    /// and so is a data id, so the two are the same bytes.
    pub const fn to_merkle_leaf(self) -> TxMerkleNode {
        TxMerkleNode(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bytes `00 01 … 1f`, which show as `1f1e…00`.
    fn counting() -> [u8; 32] {
        core::array::from_fn(|i| i as u8)
    }

    const SHOWN: &str = "1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100";

    #[test]
    fn display_debug_and_hex_are_byte_reversed() {
        let hash = BlockHash::from_byte_array(counting());
        assert_eq!(hash.to_string(), SHOWN);
        assert_eq!(format!("{hash:?}"), SHOWN);
        assert_eq!(hash.to_hex(), SHOWN);
        assert_eq!(SHOWN.parse::<DataId>().unwrap().to_byte_array(), counting());
    }

    #[test]
    fn parsing_refuses_anything_but_64_hex_digits() {
        assert_eq!("12".parse::<Txid>(), Err(HashParseError::BadHex));
        assert_eq!(
            SHOWN.replace('f', "g").parse::<Txid>(),
            Err(HashParseError::BadHex)
        );
    }

    #[test]
    fn serde_is_the_display_string() {
        let id = DataId::from_byte_array(counting());
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{SHOWN}\""));
        assert_eq!(serde_json::from_str::<DataId>(&json).unwrap(), id);
        assert!(serde_json::from_str::<DataId>("\"zz\"").is_err());
    }

    #[test]
    fn order_is_by_internal_bytes() {
        let mut low = [0xff; 32];
        low[0] = 0;
        assert!(TxMerkleNode::from_byte_array(low) < TxMerkleNode::from_byte_array([1; 32]));
    }

    #[test]
    fn sha256d_is_bitcoins() {
        // Bitcoin's well-known double SHA-256 of the empty string.
        assert_eq!(
            hex::encode(sha256d(b"")),
            "5df6e0e2761359d30a8275058e299fcc0381534545f55cf43e41983f5d4c9456"
        );
    }

    #[test]
    fn a_data_id_is_its_merkle_leaf() {
        let text = "Some data";
        let entry = crate::block::Entry::data(text);
        assert_eq!(
            crate::block::data_id(text).to_merkle_leaf(),
            entry.leaf_hash()
        );
    }
}
