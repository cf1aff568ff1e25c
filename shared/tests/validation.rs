//! Block validation: each `BlockError` comes from a block with exactly that defect, genesis blocks
//! pass, and ASERT as tuned for bbchain's main chain.

use bbchain_core::chain::BranchAnchor;
use bbchain_core::difficulty::expected_bits;
use bbchain_core::testing::{Branch, block_with, solve_header};
use bbchain_core::validation::{
    check_block, check_block_context, check_entries_new, check_header_context, check_header_time,
};
use bbchain_core::{
    Block, BlockError, BlockHash, ChainContext, ChainParams, CompactError, CompactTarget, Entry,
    Header, Target, TxMerkleNode,
};

/// A coinbase for `height`, as the tests' miner.
fn coinbase(height: u32) -> Entry {
    bbchain_core::testing::coinbase(height, "tester")
}

/// A valid dev-chain block 1 on top of genesis, with `data` after its coinbase.
fn dev_block_1(params: &ChainParams, data: &[&str]) -> Block {
    let branch = Branch::new(params.clone());
    branch.next(branch.tip().time + 1, data, "tester")
}

/// A dev chain: genesis and a valid block 1.
struct Dev {
    params: ChainParams,
    genesis: Block,
    block1: Block,
}

impl Dev {
    fn new() -> Dev {
        let params = ChainParams::dev();
        let genesis = params.genesis_block();
        let block1 = dev_block_1(&params, &["hello", "world"]);
        Dev {
            params,
            genesis,
            block1,
        }
    }

    fn times(&self) -> [u32; 2] {
        [self.block1.header.time, self.genesis.header.time]
    }

    /// The context for a child of block 1.
    fn context<'a>(&self, times: &'a [u32]) -> ChainContext<'a> {
        ChainContext {
            parent_hash: self.block1.hash(),
            parent_height: 1,
            parent_time: self.block1.header.time,
            recent_times: times,
            anchor: Some(BranchAnchor {
                time: self.block1.header.time,
                bits: self.block1.header.bits,
            }),
        }
    }

    /// A mined block 2 with `entries`, after `adjust` changed its header.
    fn block2_with(&self, entries: Vec<Entry>, adjust: impl FnOnce(&mut Header)) -> Block {
        let times = self.times();
        let bits = expected_bits(&self.params, &self.context(&times));
        let time = self.block1.header.time + 1;
        let mut block = block_with(self.block1.hash(), entries, bits, time);
        adjust(&mut block.header);
        solve_header(&mut block.header);
        block
    }

    fn block2(&self, adjust: impl FnOnce(&mut Header)) -> Block {
        self.block2_with(vec![coinbase(2), Entry::data("two")], adjust)
    }

    /// The node's clock when block 2 arrives.
    fn now(&self) -> u32 {
        self.block1.header.time + 1
    }

    fn check_context(&self, block: &Block) -> Result<(), BlockError> {
        let times = self.times();
        check_block_context(block, &self.context(&times), &self.params, self.now())
    }

    /// Context-free checks of a block that must pass the contextual ones.
    fn check_alone(&self, block: &Block) -> Result<(), BlockError> {
        assert_eq!(
            self.check_context(block),
            Ok(()),
            "only the context-free defect"
        );
        check_block(block, &self.params)
    }

    /// Contextual checks of a block that passes the context-free ones.
    fn check_in_context(&self, block: &Block) -> Result<(), BlockError> {
        assert_eq!(
            check_block(block, &self.params),
            Ok(()),
            "only the contextual defect"
        );
        self.check_context(block)
    }
}

#[test]
fn genesis_blocks_pass() {
    for params in [ChainParams::main(), ChainParams::dev()] {
        let genesis = params.genesis_block();
        assert_eq!(check_block(&genesis, &params), Ok(()), "{}", params.name);
        assert_eq!(genesis.header.prev_hash, BlockHash::ZERO);
        assert_eq!(genesis.coinbase().unwrap().height, 0);
        let by_id = ChainParams::by_network_id(params.network_id);
        assert_eq!(by_id.as_ref(), Some(&params), "{}", params.name);
        assert_eq!(ChainParams::by_name(params.name), Some(params));
    }
    assert_eq!(ChainParams::by_network_id(0), None);
    assert_ne!(
        ChainParams::main().genesis_hash(),
        ChainParams::dev().genesis_hash()
    );
    assert_eq!(ChainParams::by_name("test"), None);
}

#[test]
fn valid_blocks_pass_every_check() {
    let dev = Dev::new();
    let genesis_times = [dev.genesis.header.time];
    let genesis_context = ChainContext {
        parent_hash: dev.genesis.hash(),
        parent_height: 0,
        parent_time: dev.genesis.header.time,
        recent_times: &genesis_times,
        anchor: None,
    };
    assert_eq!(check_block(&dev.block1, &dev.params), Ok(()));
    assert_eq!(
        check_block_context(&dev.block1, &genesis_context, &dev.params, dev.now()),
        Ok(())
    );
    let block2 = dev.block2(|_| {});
    assert_eq!(check_block(&block2, &dev.params), Ok(()));
    assert_eq!(dev.check_context(&block2), Ok(()));
    assert_eq!(
        Block::from_bytes(&block2.to_bytes(), dev.params.max_block_bytes),
        Ok(block2)
    );
}

#[test]
fn malformed_bytes() {
    let dev = Dev::new();
    let bytes = dev.block2(|_| {}).to_bytes();
    let err: BlockError = Block::from_bytes(&bytes[..bytes.len() - 1], dev.params.max_block_bytes)
        .unwrap_err()
        .into();
    assert!(matches!(err, BlockError::Decode(_)), "{err}");
}

#[test]
fn bad_bits() {
    let dev = Dev::new();
    let mut block = dev.block2(|_| {});
    block.header.bits = CompactTarget(0x2080_ffff);
    assert_eq!(
        check_block(&block, &dev.params),
        Err(BlockError::BadBits(CompactError::Negative))
    );
    block.header.bits = CompactTarget(0x2300_ffff);
    assert_eq!(
        check_block(&block, &dev.params),
        Err(BlockError::BadBits(CompactError::Overflow))
    );
    block.header.bits = CompactTarget(0);
    assert_eq!(
        check_block(&block, &dev.params),
        Err(BlockError::BadBits(CompactError::Zero))
    );
}

#[test]
fn bits_above_the_pow_limit() {
    let dev = Dev::new();
    let block = dev.block2(|h| h.bits = CompactTarget(0x2100_ffff));
    assert_eq!(
        check_block(&block, &dev.params),
        Err(BlockError::BitsAbovePowLimit(CompactTarget(0x2100_ffff)))
    );
}

#[test]
fn high_hash() {
    let dev = Dev::new();
    let mut block = dev.block2(|_| {});
    let target = block.header.target().unwrap();
    while target.is_met_by(&block.hash()) {
        block.header.nonce += 1;
    }
    assert_eq!(
        dev.check_alone(&block),
        Err(BlockError::HighHash(block.hash()))
    );
}

#[test]
fn too_large() {
    let dev = Dev::new();
    let max = dev.params.max_entry_bytes;
    // Distinct entries of the largest allowed size, just past the block limit.
    let count = dev.params.max_block_bytes / max + 1;
    let mut entries = vec![coinbase(2)];
    entries.extend((0..count).map(|i| Entry::data(format!("{i:0max$}"))));
    let block = dev.block2_with(entries, |_| {});
    let len = block.encoded_len();
    assert!(len > dev.params.max_block_bytes);
    assert_eq!(
        dev.check_alone(&block),
        Err(BlockError::TooLarge {
            len,
            max: dev.params.max_block_bytes
        })
    );
    assert!(Block::from_bytes(&block.to_bytes(), dev.params.max_block_bytes).is_err());
}

#[test]
fn no_coinbase() {
    let dev = Dev::new();
    let block = dev.block2_with(vec![Entry::data("two")], |_| {});
    assert_eq!(
        check_block(&block, &dev.params),
        Err(BlockError::NoCoinbase)
    );
    let empty = dev.block2_with(vec![], |_| {});
    assert_eq!(
        check_block(&empty, &dev.params),
        Err(BlockError::NoCoinbase)
    );
}

#[test]
fn extra_coinbase() {
    let dev = Dev::new();
    let mut second = coinbase(2);
    if let Entry::Coinbase(c) = &mut second {
        c.extra_nonce += 1;
    }
    let block = dev.block2_with(vec![coinbase(2), Entry::data("two"), second], |_| {});
    assert_eq!(dev.check_alone(&block), Err(BlockError::ExtraCoinbase(2)));
}

#[test]
fn miner_name_too_long() {
    let dev = Dev::new();
    let max = dev.params.max_miner_name_bytes;
    let mut named = coinbase(2);
    if let Entry::Coinbase(c) = &mut named {
        c.miner = "m".repeat(max);
    }
    let at_limit = dev.block2_with(vec![named.clone()], |_| {});
    assert_eq!(check_block(&at_limit, &dev.params), Ok(()));
    if let Entry::Coinbase(c) = &mut named {
        c.miner.push('m');
    }
    let block = dev.block2_with(vec![named], |_| {});
    assert_eq!(
        dev.check_alone(&block),
        Err(BlockError::MinerNameTooLong { len: max + 1, max })
    );
}

#[test]
fn bad_entry_size() {
    let dev = Dev::new();
    let max = dev.params.max_entry_bytes;
    let empty = dev.block2_with(vec![coinbase(2), Entry::data("")], |_| {});
    assert_eq!(
        dev.check_alone(&empty),
        Err(BlockError::BadEntrySize {
            index: 1,
            len: 0,
            max
        })
    );
    let at_limit = dev.block2_with(vec![coinbase(2), Entry::data("x".repeat(max))], |_| {});
    assert_eq!(check_block(&at_limit, &dev.params), Ok(()));
    let long = dev.block2_with(
        vec![
            coinbase(2),
            Entry::data("a"),
            Entry::data("x".repeat(max + 1)),
        ],
        |_| {},
    );
    assert_eq!(
        dev.check_alone(&long),
        Err(BlockError::BadEntrySize {
            index: 2,
            len: max + 1,
            max
        })
    );
}

#[test]
fn duplicate_entry() {
    let dev = Dev::new();
    let block = dev.block2_with(
        vec![
            coinbase(2),
            Entry::data("same"),
            Entry::data("other"),
            Entry::data("same"),
        ],
        |_| {},
    );
    assert_eq!(dev.check_alone(&block), Err(BlockError::DuplicateEntry(3)));
}

#[test]
fn data_already_in_the_branch() {
    let dev = Dev::new();
    let block = dev.block2_with(
        vec![coinbase(2), Entry::data("new"), Entry::data("old")],
        |_| {},
    );
    let old = bbchain_core::block::data_id("old");
    assert_eq!(
        check_entries_new(&block, |id| *id == old),
        Err(BlockError::DataAlreadyInChain(2))
    );
    assert_eq!(check_entries_new(&block, |_| false), Ok(()));
}

#[test]
fn bad_merkle_root() {
    let dev = Dev::new();
    let mut block = dev.block2(|_| {});
    // Swap the data for other data, keep the header, and mine it again: only the root is wrong.
    block.entries[1] = Entry::data("not what was committed");
    assert_eq!(dev.check_alone(&block), Err(BlockError::BadMerkleRoot));
    let mut reordered = dev.block2_with(
        vec![coinbase(2), Entry::data("a"), Entry::data("b")],
        |_| {},
    );
    reordered.entries.swap(1, 2);
    assert_eq!(dev.check_alone(&reordered), Err(BlockError::BadMerkleRoot));
}

#[test]
fn wrong_parent() {
    let dev = Dev::new();
    let block = dev.block2(|h| h.prev_hash = dev.genesis.hash());
    assert_eq!(
        dev.check_in_context(&block),
        Err(BlockError::WrongParent {
            expected: dev.block1.hash()
        })
    );
}

#[test]
fn wrong_bits() {
    let dev = Dev::new();
    let harder = CompactTarget(0x1f7f_ffff);
    let block = dev.block2(|h| h.bits = harder);
    assert_eq!(
        dev.check_in_context(&block),
        Err(BlockError::WrongBits {
            expected: dev.params.pow_limit,
            got: harder
        })
    );
}

#[test]
fn time_too_old() {
    let dev = Dev::new();
    let times = dev.times();
    let median = dev.context(&times).median_time_past();
    let block = dev.block2(|h| h.time = median);
    assert_eq!(
        dev.check_in_context(&block),
        Err(BlockError::TimeTooOld {
            time: median,
            median
        })
    );
}

#[test]
fn time_too_new() {
    let dev = Dev::new();
    let max = dev.now() + dev.params.max_future_secs;
    let at_limit = dev.block2(|h| h.time = max);
    assert_eq!(dev.check_context(&at_limit), Ok(()));
    let block = dev.block2(|h| h.time = max + 1);
    assert_eq!(
        dev.check_in_context(&block),
        Err(BlockError::TimeTooNew { time: max + 1, max })
    );
}

/// The window a Stratum miner's `ntime` may roll in is the one blocks are held to.
#[test]
fn the_time_rule_alone_is_the_header_rule() {
    let params = ChainParams::dev();
    let (median, now) = (1_000, 2_000);
    let max = now + params.max_future_secs;
    for (time, ok) in [
        (median, false),
        (median + 1, true),
        (max, true),
        (max + 1, false),
    ] {
        assert_eq!(
            check_header_time(time, median, &params, now).is_ok(),
            ok,
            "time {time}"
        );
    }
}

#[test]
fn wrong_height() {
    let dev = Dev::new();
    let block = dev.block2_with(vec![coinbase(5), Entry::data("two")], |_| {});
    assert_eq!(
        dev.check_in_context(&block),
        Err(BlockError::WrongHeight {
            expected: 2,
            got: 5
        })
    );
}

#[test]
fn median_time_past_uses_the_last_11_blocks() {
    let times: Vec<u32> = (0..20).rev().collect();
    let context = ChainContext {
        parent_hash: BlockHash::ZERO,
        parent_height: 19,
        parent_time: 19,
        recent_times: &times,
        anchor: None,
    };
    // The newest 11 are 19..=9: their median is 14.
    assert_eq!(context.median_time_past(), 14);
}

/// Bits of blocks 1..=count on `params` when each comes `spacing` seconds after its parent, each
/// checked against its parent's context.
fn simulate(params: &ChainParams, spacing: u32, count: u32) -> Vec<CompactTarget> {
    let genesis = params.genesis_block().header;
    let mut headers = vec![genesis];
    let mut anchor = None;
    for height in 1..=count {
        let parent = *headers.last().unwrap();
        let times: Vec<u32> = headers.iter().rev().take(11).map(|h| h.time).collect();
        let context = ChainContext {
            parent_hash: parent.block_hash(),
            parent_height: height - 1,
            parent_time: parent.time,
            recent_times: &times,
            anchor,
        };
        let header = Header {
            version: 1,
            prev_hash: parent.block_hash(),
            merkle_root: TxMerkleNode::ZERO,
            time: parent.time + spacing,
            bits: expected_bits(params, &context),
            nonce: 0,
        };
        // Everything but proof of work, which these tests do not mine on the main chain.
        check_header_context(&header, &context, params, header.time).unwrap();
        if height == 1 {
            anchor = Some(BranchAnchor {
                time: header.time,
                bits: header.bits,
            });
        }
        headers.push(header);
    }
    headers[1..].iter().map(|h| h.bits).collect()
}

#[test]
fn main_chain_on_schedule_keeps_the_anchor_bits() {
    let params = ChainParams::main();
    let bits = simulate(&params, params.target_spacing, 500);
    assert!(bits.iter().all(|b| *b == params.pow_limit), "{bits:?}");
}

#[test]
fn main_chain_ten_times_too_fast_raises_difficulty() {
    let params = ChainParams::main();
    let limit = params.pow_limit_target();
    let bits = simulate(&params, params.target_spacing / 10, 200);
    let targets: Vec<Target> = bits
        .iter()
        .map(|b| Target::from_compact(*b).unwrap())
        .collect();
    assert_eq!(targets[0], limit, "block 1 is at the pow limit");
    assert!(targets.windows(2).all(|w| w[1] <= w[0]), "never easier");
    // Block n is 9 s * (n - 1) ahead of block 1's schedule, so block n + 1 is 2^(9 (n - 1) / 120)
    // times harder than the pow limit.
    for n in [40u32, 100, 199] {
        let expected = f64::powf(
            2.0,
            f64::from(9 * (n - 1)) / f64::from(params.asert_halflife),
        );
        let got = targets[n as usize].difficulty(&limit);
        assert!(
            (got / expected - 1.0).abs() < 0.01,
            "block {}: {got} vs {expected}",
            n + 1
        );
    }
}

#[test]
fn main_chain_slow_blocks_stay_at_the_pow_limit() {
    let params = ChainParams::main();
    let slow = simulate(&params, params.target_spacing * 5, 50);
    assert!(slow.iter().all(|b| *b == params.pow_limit));
}

#[test]
fn block_one_anchors_its_branch_and_later_blocks_inherit_it() {
    let dev = Dev::new();
    let block1 = dev_block_1(&dev.params, &[]);
    let anchor = BranchAnchor::of_block(1, &block1.header, None);
    assert_eq!(
        anchor,
        Some(BranchAnchor {
            time: block1.header.time,
            bits: block1.header.bits
        })
    );
    let block2 = dev.block2(|_| {});
    assert_eq!(BranchAnchor::of_block(2, &block2.header, anchor), anchor);
    assert_eq!(
        BranchAnchor::of_block(0, &dev.params.genesis_block().header, None),
        None
    );
}

#[test]
fn recent_times_are_the_parent_and_ten_ancestors_newest_first_stopping_at_genesis() {
    let mut branch = Branch::new(ChainParams::dev());
    let start = branch.tip().time;
    for i in 1..=14 {
        branch.extend(start + i, &[], "tester");
    }
    let headers = branch.headers();
    let lookup = |hash: &BlockHash| -> Result<Option<(u32, Header)>, ()> {
        let height = headers.iter().position(|h| h.block_hash() == *hash);
        Ok(height.map(|height| (height as u32, headers[height])))
    };
    let times = bbchain_core::chain::recent_times(14, &headers[14], lookup).unwrap();
    assert_eq!(times, (4..=14).rev().map(|i| start + i).collect::<Vec<_>>());
    assert_eq!(
        times,
        branch.recent_times(),
        "the builder agrees with the walk"
    );
    // Near genesis the walk stops there, and a missing block ends it early.
    let near = bbchain_core::chain::recent_times(2, &headers[2], lookup).unwrap();
    assert_eq!(near, [start + 2, start + 1, start]);
    let cut = bbchain_core::chain::recent_times(5, &headers[5], |_| Ok::<_, ()>(None)).unwrap();
    assert_eq!(cut, [start + 5]);
    let failed = bbchain_core::chain::recent_times(5, &headers[5], |_| Err("storage"));
    assert_eq!(failed, Err("storage"));
}

#[test]
fn entry_size_is_one_rule_for_blocks_and_queues() {
    use bbchain_core::validation::{EntrySizeError, check_entry_size};
    let params = ChainParams::dev();
    let max = params.max_entry_bytes;
    assert_eq!(check_entry_size("", &params), Err(EntrySizeError::Empty));
    assert_eq!(check_entry_size("x", &params), Ok(()));
    assert_eq!(check_entry_size(&"x".repeat(max), &params), Ok(()));
    assert_eq!(
        check_entry_size(&"x".repeat(max + 1), &params),
        Err(EntrySizeError::TooLarge { len: max + 1, max })
    );
}

#[test]
fn only_a_time_ahead_of_our_clock_blames_nobody() {
    use bbchain_core::validation::Blame;
    let dev = Dev::new();
    let ahead = dev.block2(|h| h.time = dev.now() + dev.params.max_future_secs + 1);
    let err = dev.check_context(&ahead).unwrap_err();
    assert!(matches!(err, BlockError::TimeTooNew { .. }), "{err}");
    assert_eq!(err.blame(), Blame::Nobody);
    assert_eq!(BlockError::BadMerkleRoot.blame(), Blame::Sender);
    assert_eq!(BlockError::HighHash(BlockHash::ZERO).blame(), Blame::Sender);
}
