//! Chain parameters: everything two masters must share to agree on one chain.

use crate::amount::Amount;
use crate::block::{Block, Coinbase, Entry};
use crate::hash::BlockHash;
use crate::header::Header;
use crate::merkle::merkle_root;
use crate::target::{CompactTarget, Target};

/// The rules and limits of one bbchain network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainParams {
    /// Short name, as given to `--chain`.
    pub name: &'static str,
    /// Peers must agree on this before they talk about blocks.
    pub network_id: u32,
    /// Genesis header time.
    pub genesis_time: u32,
    /// Genesis header nonce (a solution under `pow_limit`).
    pub genesis_nonce: u32,
    /// Genesis coinbase miner field.
    pub genesis_message: &'static str,
    /// The easiest target allowed; also the target of the first block after genesis.
    pub pow_limit: CompactTarget,
    /// Ideal seconds between blocks.
    pub target_spacing: u32,
    /// ASERT half-life in seconds: this much schedule drift doubles or halves the target.
    pub asert_halflife: u32,
    /// Largest encoded block.
    pub max_block_bytes: usize,
    /// Largest data entry text, in bytes.
    pub max_entry_bytes: usize,
    /// Largest miner name, in bytes.
    pub max_miner_name_bytes: usize,
    /// How far past the validating node's clock a block's time may be.
    pub max_future_secs: u32,
    /// The subsidy of the first blocks ([`ChainParams::subsidy`]).
    pub initial_subsidy: Amount,
    /// Blocks between two halvings of the subsidy.
    pub halving_interval: u32,
    /// Blocks a coinbase output waits before it can be spent: a reorg shorter than this cannot
    /// erase coins that were already passed on.
    pub coinbase_maturity: u32,
    /// Human-readable part of this network's bech32m addresses (`bb1…`, `bbdev1…`).
    pub address_prefix: &'static str,
}

/// The largest encoded block on every bbchain network; decoders use it before any chain is known.
pub const MAX_BLOCK_BYTES: usize = 1_000_000;

impl ChainParams {
    /// The default chain: 10 s blocks; the first blocks take about 2^22 hashes (a second of one CPU
    /// core). A five-minute half-life lets difficulty follow a native miner joining a browser within
    /// a few minutes, and keeps the future-time allowance cheap: a block stamped the allowed 30 s
    /// ahead makes its child only 2^(30/300), about 7%, easier.
    pub fn main() -> ChainParams {
        ChainParams {
            name: "main",
            network_id: 0xbbc4_a101,
            genesis_time: 1_763_942_400,
            genesis_nonce: 6_326_670,
            genesis_message: "bbchain genesis: a basic blockchain, mined from a browser tab",
            pow_limit: CompactTarget(0x1e03_ffff),
            target_spacing: 10,
            asert_halflife: 300,
            max_block_bytes: MAX_BLOCK_BYTES,
            max_entry_bytes: 4096,
            max_miner_name_bytes: 64,
            max_future_secs: 30,
            // Bitcoin's schedule scaled to 10 s blocks: a halving every four years (4 × 365 days
            // of 8,640 blocks), 1 coin a block at first, so just under 25,228,800 coins in all.
            initial_subsidy: Amount::COIN,
            halving_interval: 12_614_400,
            coinbase_maturity: 100,
            address_prefix: "bb",
        }
    }

    /// The test chain: any second hash meets the pow limit, 1 s blocks and a 10 s half-life. It
    /// favours speed over safety: its block times may run 120 s ahead (a fast miner pushes them past
    /// the clock through the median-time rule), which also lets a future-stamped block ease its child
    /// a lot. Never use it for anything but tests.
    pub fn dev() -> ChainParams {
        ChainParams {
            name: "dev",
            network_id: 0xbbc4_de01,
            genesis_nonce: 0,
            genesis_message: "bbchain dev genesis",
            pow_limit: CompactTarget(0x207f_ffff),
            target_spacing: 1,
            asert_halflife: 10,
            max_future_secs: 120,
            // Like Bitcoin's regtest: halvings and maturity that tests reach in seconds.
            halving_interval: 150,
            coinbase_maturity: 5,
            address_prefix: "bbdev",
            ..ChainParams::main()
        }
    }

    /// The parameters for a `--chain` name.
    pub fn by_name(name: &str) -> Option<ChainParams> {
        match name {
            "main" => Some(ChainParams::main()),
            "dev" => Some(ChainParams::dev()),
            _ => None,
        }
    }

    /// The parameters of a network id (to name the chain of a peer on another network).
    pub fn by_network_id(network_id: u32) -> Option<ChainParams> {
        [ChainParams::main(), ChainParams::dev()]
            .into_iter()
            .find(|params| params.network_id == network_id)
    }

    /// The subsidy of the block at `height`: [`ChainParams::initial_subsidy`] halved (rounding down)
    /// once per [`ChainParams::halving_interval`] blocks, so zero after 64 halvings.
    pub fn subsidy(&self, height: u32) -> Amount {
        let halvings = height / self.halving_interval;
        match self.initial_subsidy.units().checked_shr(halvings) {
            Some(units) => Amount::from_units(units),
            None => Amount::ZERO,
        }
    }

    /// The pow limit as a target.
    pub fn pow_limit_target(&self) -> Target {
        Target::from_compact(self.pow_limit).expect("pow limits are valid targets")
    }

    /// The genesis block.
    pub fn genesis_block(&self) -> Block {
        let entries = alloc::vec![Entry::Coinbase(Coinbase {
            height: 0,
            extra_nonce: 0,
            miner: self.genesis_message.into(),
            outputs: alloc::vec::Vec::new(),
        })];
        let merkle_root = merkle_root(&[entries[0].leaf_hash()]);
        let header = Header {
            version: 1,
            prev_hash: BlockHash::ZERO,
            merkle_root,
            time: self.genesis_time,
            bits: self.pow_limit,
            nonce: self.genesis_nonce,
        };
        Block { header, entries }
    }

    /// The genesis block's hash.
    pub fn genesis_hash(&self) -> BlockHash {
        self.genesis_block().hash()
    }
}
