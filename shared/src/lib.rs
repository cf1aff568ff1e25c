//! bbchain's consensus core: everything the master, the native miner and the browser miner must agree on.
//!
//! The formats are Bitcoin's: the 80-byte header hashed with double SHA-256, compact `bits` targets,
//! the merkle tree with the last node doubled on odd levels, and most-cumulative-work chain choice.
//! Difficulty follows ASERT (aserti3-2d). The crate is `no_std` with `alloc`; the `std` feature only
//! adds `std::error::Error` impls through `thiserror`.
#![cfg_attr(not(feature = "std"), no_std)]
#![deny(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

pub mod address;
pub mod amount;
pub mod asert;
pub mod block;
pub mod chain;
pub mod difficulty;
pub mod encode;
pub mod hash;
pub mod header;
pub mod keys;
pub mod merkle;
pub mod mining;
pub mod params;
pub mod peer;
pub mod protocol;
pub mod spend;
pub mod target;
#[cfg(feature = "test-util")]
pub mod testing;
pub mod transfer;
pub mod tx;
pub mod validation;
pub mod wallet;

pub use amount::Amount;
pub use block::{Block, Coinbase, Entry};
pub use chain::ChainContext;
pub use encode::DecodeError;
pub use hash::{BlockHash, DataId, TxMerkleNode, Txid};
pub use header::Header;
pub use merkle::MerkleProof;
pub use mining::{Midstate, ScanResult, scan};
pub use params::ChainParams;
pub use target::{CompactError, CompactTarget, Target, Work};
pub use tx::{OutPoint, Transaction, TxIn, TxOut};
pub use validation::BlockError;
