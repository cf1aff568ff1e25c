//! Block building for tests and developer tools (feature `test-util`): blocks mined under a chain's
//! rules, so that every test suite builds them the same way instead of keeping its own copy.

use crate::block::{Block, Coinbase, Entry};
use crate::chain::{BranchAnchor, ChainContext, MEDIAN_TIME_BLOCKS};
use crate::difficulty::expected_bits;
use crate::hash::BlockHash;
use crate::header::Header;
use crate::keys::{SecretKey, tagged_hash};
use crate::mining::{Midstate, scan};
use crate::params::ChainParams;
use crate::peer::{Hello, PEER_PROTOCOL_VERSION};
use crate::target::CompactTarget;
use crate::target::Work;
use crate::tx::{OutPoint, Transaction, TxIn, TxOut};
use alloc::vec::Vec;

/// A fixed secret key for tests: each `n` gives another one.
pub fn secret_key(n: u32) -> SecretKey {
    let bytes = tagged_hash("bbchain/test-key", &[&n.to_le_bytes()]);
    SecretKey::from_bytes(bytes).expect("a tagged hash is a valid scalar but with odds of 2^-128")
}

/// A transaction spending `spent` (each outpoint with the output it names, all paying `key`'s
/// public key) into `outputs`, signed for the chain of `params`.
pub fn signed_tx(
    params: &ChainParams,
    key: &SecretKey,
    spent: &[(OutPoint, TxOut)],
    outputs: Vec<TxOut>,
) -> Transaction {
    let mut tx = Transaction {
        inputs: spent
            .iter()
            .map(|(prev, _)| TxIn {
                prev: *prev,
                signature: crate::keys::Signature::from_bytes([0; 64]),
            })
            .collect(),
        outputs,
    };
    let outputs: Vec<TxOut> = spent.iter().map(|(_, output)| *output).collect();
    let keys: Vec<&SecretKey> = spent.iter().map(|_| key).collect();
    tx.sign(&params.genesis_hash(), &outputs, &keys, &[7; 32]);
    tx
}

/// A peer `hello` at the genesis block of `params` (what a fake master in a test says), claiming
/// `listen_port`, `chainwork` and `nonce`.
pub fn genesis_hello(
    params: &ChainParams,
    listen_port: u16,
    chainwork: Work,
    nonce: u64,
    agent: &str,
) -> Hello {
    Hello {
        version: PEER_PROTOCOL_VERSION,
        network_id: params.network_id,
        genesis: params.genesis_hash(),
        listen_port: Some(listen_port),
        tip: params.genesis_hash(),
        height: 0,
        chainwork,
        agent: agent.into(),
        nonce,
    }
}

/// A coinbase entry for `height` naming `miner`.
pub fn coinbase(height: u32, miner: &str) -> Entry {
    Entry::Coinbase(Coinbase::new(height, 0, miner, Vec::new()))
}

/// An unmined block on the block `prev_hash` with `entries` (which should start with a coinbase),
/// its merkle root set.
pub fn block_with(
    prev_hash: BlockHash,
    entries: Vec<Entry>,
    bits: CompactTarget,
    time: u32,
) -> Block {
    let mut block = Block {
        header: Header {
            version: 1,
            prev_hash,
            merkle_root: Default::default(),
            time,
            bits,
            nonce: 0,
        },
        entries,
    };
    block.header.merkle_root = block.compute_merkle_root();
    block
}

/// Sets the first nonce that meets the header's own bits, leaving every other field as it is.
///
/// # Panics
/// When the bits are not a valid target, or no nonce meets them (never at a dev chain's bits).
pub fn solve_header(header: &mut Header) {
    let target = header.target().expect("valid bits");
    let found = scan(&Midstate::new(header), &target, 0, u32::MAX).nonce;
    header.nonce = found.expect("a nonce under an easy target");
}

/// Finds a nonce that meets the header's own bits. If no nonce does, the coinbase's extra nonce
/// changes, the merkle root follows, and the search goes on (a dev-chain block needs about two
/// hashes; a main-chain block 1 about four million).
///
/// # Panics
/// When the header's bits are not a valid target.
pub fn solve(block: &mut Block) {
    let target = block.header.target().expect("valid bits");
    loop {
        if let Some(nonce) = scan(&Midstate::new(&block.header), &target, 0, u32::MAX).nonce {
            block.header.nonce = nonce;
            return;
        }
        if let Some(Entry::Coinbase(coinbase)) = block.entries.first_mut() {
            coinbase.extra_nonce += 1;
        }
        block.header.merkle_root = block.compute_merkle_root();
    }
}

/// A chain built by hand from genesis: each new block is mined on the last one with the bits the
/// difficulty rule asks for.
#[derive(Debug, Clone)]
pub struct Branch {
    params: ChainParams,
    headers: Vec<Header>,
}

impl Branch {
    /// A branch holding only the genesis block of `params`.
    pub fn new(params: ChainParams) -> Branch {
        let genesis = params.genesis_block().header;
        Branch {
            params,
            headers: alloc::vec![genesis],
        }
    }

    /// The chain's rules.
    pub fn params(&self) -> &ChainParams {
        &self.params
    }

    /// Every header from genesis.
    pub fn headers(&self) -> &[Header] {
        &self.headers
    }

    /// The last header.
    pub fn tip(&self) -> &Header {
        self.headers.last().expect("genesis is always there")
    }

    /// The tip's height.
    pub fn height(&self) -> u32 {
        u32::try_from(self.headers.len() - 1).expect("a test branch fits in u32 heights")
    }

    /// Times of the tip and its ancestors, newest first (the median-time-past input).
    pub fn recent_times(&self) -> Vec<u32> {
        let newest = self.headers.iter().rev().take(MEDIAN_TIME_BLOCKS);
        newest.map(|header| header.time).collect()
    }

    /// The contextual-check input for a child of the tip; `times` is [`Branch::recent_times`].
    pub fn context<'a>(&self, times: &'a [u32]) -> ChainContext<'a> {
        let tip = self.tip();
        ChainContext {
            parent_hash: tip.block_hash(),
            parent_height: self.height(),
            parent_time: tip.time,
            recent_times: times,
            anchor: self.headers.get(1).map(|block1| BranchAnchor {
                time: block1.time,
                bits: block1.bits,
            }),
        }
    }

    /// The bits the tip's child must carry.
    pub fn next_bits(&self) -> CompactTarget {
        expected_bits(&self.params, &self.context(&self.recent_times()))
    }

    /// The tip's child, stamped `time`, with `data` after its coinbase; `tweak` may change (or
    /// spoil) the block before its merkle root is set and it is mined.
    pub fn next_with(
        &self,
        time: u32,
        data: &[&str],
        miner: &str,
        tweak: impl FnOnce(&mut Block),
    ) -> Block {
        let height = self.height() + 1;
        let mut entries = alloc::vec![coinbase(height, miner)];
        entries.extend(data.iter().map(|text| Entry::data(*text)));
        let mut block = block_with(self.tip().block_hash(), entries, self.next_bits(), time);
        tweak(&mut block);
        block.header.merkle_root = block.compute_merkle_root();
        solve(&mut block);
        block
    }

    /// The tip's child, stamped `time`, with `data` after its coinbase.
    pub fn next(&self, time: u32, data: &[&str], miner: &str) -> Block {
        self.next_with(time, data, miner, |_| {})
    }

    /// Makes `block` the new tip (it must be the tip's child).
    pub fn push(&mut self, block: &Block) {
        assert_eq!(
            block.header.prev_hash,
            self.tip().block_hash(),
            "not the tip's child"
        );
        self.headers.push(block.header);
    }

    /// Drops every block above `height`, so the next one forks a side branch there.
    pub fn truncate(&mut self, height: u32) {
        self.headers.truncate(height as usize + 1);
    }

    /// Mines the tip's child and makes it the new tip.
    pub fn extend(&mut self, time: u32, data: &[&str], miner: &str) -> Block {
        let block = self.next(time, data, miner);
        self.push(&block);
        block
    }
}
