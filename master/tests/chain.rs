//! Chain state through the node handle: branches, reorgs, requeued data, restarts, bad blocks.

mod common;

use bbchain::config::NodeLimits;
use bbchain::node::{DataStatus, NodeEvent, SubmitError, SubmitOutcome};
use bbchain_core::block::data_id;
use bbchain_core::testing;
use bbchain_core::validation::BlockError;
use bbchain_core::{Block, ChainParams, Coinbase, Entry};
use common::TestNode;

/// A dev branch built by hand: block 1 is stamped 100 s ago, every later block one second after
/// its parent.
#[derive(Clone)]
struct Branch(testing::Branch);

fn now() -> u32 {
    bbchain::clock::unix_now()
}

impl Branch {
    fn genesis() -> Branch {
        Branch(testing::Branch::new(ChainParams::dev()))
    }

    fn next_time(&self) -> u32 {
        match self.0.height() {
            0 => now() - 100,
            _ => self.0.tip().time + 1,
        }
    }

    /// The next block with `data`, mined; `tweak` may spoil it before mining.
    fn next_with(&self, data: &[&str], miner: &str, tweak: impl FnOnce(&mut Block)) -> Block {
        self.0.next_with(self.next_time(), data, miner, tweak)
    }

    fn next(&self, data: &[&str], miner: &str) -> Block {
        self.next_with(data, miner, |_| {})
    }

    fn push(&mut self, block: &Block) {
        self.0.push(block);
    }
}

async fn submit(test: &TestNode, branch: &mut Branch, data: &[&str], miner: &str) -> SubmitOutcome {
    let block = branch.next(data, miner);
    branch.push(&block);
    test.node.submit_block(block).await.unwrap()
}

fn status(test: &TestNode, text: &str) -> Option<DataStatus> {
    test.node.data_status(&data_id(text)).unwrap()
}

fn confirmed_at(test: &TestNode, text: &str) -> Option<u32> {
    match status(test, text) {
        Some(DataStatus::Confirmed { height, .. }) => Some(height),
        _ => None,
    }
}

#[tokio::test]
async fn the_most_work_branch_wins_and_left_data_returns_to_the_queue() {
    let test = TestNode::start(NodeLimits::default()).await;
    for text in ["x", "shared", "y"] {
        test.node.add_data(text.into()).await.unwrap();
    }
    let mut a = Branch::genesis();
    let mut b = Branch::genesis();
    assert!(matches!(
        submit(&test, &mut a, &["x", "shared"], "a").await,
        SubmitOutcome::Connected { height: 1, .. }
    ));
    assert!(matches!(
        submit(&test, &mut a, &[], "a").await,
        SubmitOutcome::Connected { height: 2, .. }
    ));
    assert_eq!(confirmed_at(&test, "x"), Some(1));
    assert_eq!(status(&test, "y"), Some(DataStatus::Pending));

    let mut events = test.node.subscribe();
    assert!(matches!(
        submit(&test, &mut b, &["shared", "y"], "b").await,
        SubmitOutcome::SideBranch { height: 1, .. }
    ));
    // Equal work does not move the tip: the first seen stays.
    assert!(matches!(
        submit(&test, &mut b, &[], "b").await,
        SubmitOutcome::SideBranch { height: 2, .. }
    ));
    assert_eq!(test.node.snapshot().tip, a.0.headers()[2].block_hash());
    let outcome = submit(&test, &mut b, &[], "b").await;
    assert!(matches!(
        outcome,
        SubmitOutcome::Connected { height: 3, .. }
    ));

    let snapshot = test.node.snapshot();
    assert_eq!(
        (snapshot.height, snapshot.tip),
        (3, b.0.headers()[3].block_hash())
    );
    assert_eq!(
        status(&test, "x"),
        Some(DataStatus::Pending),
        "x went back to the queue"
    );
    assert_eq!(confirmed_at(&test, "shared"), Some(1));
    assert_eq!(confirmed_at(&test, "y"), Some(1));
    assert_eq!(snapshot.pending, 1);
    match events.recv().await.unwrap() {
        NodeEvent::Reorg {
            detached,
            height,
            tip,
        } => {
            assert_eq!(
                (detached, height, tip),
                (2, 3, b.0.headers()[3].block_hash())
            )
        }
        other => panic!("expected a reorg first, got {other:?}"),
    }
    let mut connected = Vec::new();
    while let Ok(event) = events.try_recv() {
        if let NodeEvent::BlockConnected { height, .. } = event {
            connected.push(height);
        }
    }
    assert_eq!(connected, [1, 2, 3]);
    // The new main chain is what the API reads.
    for height in 1..=3 {
        assert_eq!(
            test.node.block_at(height).unwrap().unwrap().0,
            b.0.headers()[height as usize].block_hash()
        );
    }
    assert_eq!(
        test.node
            .block_height(&a.0.headers()[1].block_hash())
            .unwrap(),
        Some((1, false))
    );

    // After a restart everything is still there.
    let dir = test.stop().await;
    let test = TestNode::start_in(dir, NodeLimits::default()).await;
    assert_eq!(test.node.snapshot().tip, b.0.headers()[3].block_hash());
    assert_eq!(status(&test, "x"), Some(DataStatus::Pending));
    assert_eq!(confirmed_at(&test, "y"), Some(1));
    assert!(
        test.node
            .block(&a.0.headers()[2].block_hash())
            .unwrap()
            .is_some(),
        "side blocks are kept"
    );

    // Branch a overtakes again: y returns, x is confirmed again.
    submit(&test, &mut a, &[], "a").await;
    assert!(matches!(
        submit(&test, &mut a, &[], "a").await,
        SubmitOutcome::Connected { height: 4, .. }
    ));
    assert_eq!(confirmed_at(&test, "x"), Some(1));
    assert_eq!(confirmed_at(&test, "shared"), Some(1));
    assert_eq!(status(&test, "y"), Some(DataStatus::Pending));
    test.stop().await;
}

#[tokio::test]
async fn bad_blocks_are_refused_and_change_nothing() {
    let test = TestNode::start(NodeLimits::default()).await;
    let mut main = Branch::genesis();
    submit(&test, &mut main, &[], "m").await;
    let tip = test.node.snapshot().tip;

    let wrong_bits = main.next_with(&[], "m", |b| {
        b.header.bits = bbchain_core::CompactTarget(0x207ffffe)
    });
    assert!(matches!(
        test.node.submit_block(wrong_bits).await,
        Err(SubmitError::Invalid(BlockError::WrongBits { .. }))
    ));
    let wrong_height = main.next_with(&[], "m", |b| {
        b.entries[0] = Entry::Coinbase(Coinbase::new(7, 0, "m", Vec::new()))
    });
    assert!(matches!(
        test.node.submit_block(wrong_height).await,
        Err(SubmitError::Invalid(BlockError::WrongHeight {
            expected: 2,
            got: 7
        }))
    ));
    let too_old = main.next_with(&[], "m", |b| b.header.time = main.0.headers()[1].time);
    assert!(matches!(
        test.node.submit_block(too_old).await,
        Err(SubmitError::Invalid(BlockError::TimeTooOld { .. }))
    ));
    let mut bad_root = main.next(&["data"], "m");
    bad_root.entries.push(Entry::data("smuggled"));
    assert!(matches!(
        test.node.submit_block(bad_root).await,
        Err(SubmitError::Invalid(_))
    ));
    let mut orphan_branch = main.clone();
    let skipped = orphan_branch.next(&[], "m");
    orphan_branch.push(&skipped);
    let orphan = orphan_branch.next(&[], "m");
    assert!(matches!(
        test.node.submit_block(orphan).await,
        Err(SubmitError::UnknownParent(_))
    ));
    assert_eq!(test.node.snapshot().tip, tip);

    let good = main.next(&[], "m");
    assert!(matches!(
        test.node.submit_block(good.clone()).await,
        Ok(SubmitOutcome::Connected { .. })
    ));
    assert!(matches!(
        test.node.submit_block(good).await,
        Ok(SubmitOutcome::Duplicate { .. })
    ));
    test.stop().await;
}

#[tokio::test]
async fn locator_and_headers_after_let_a_peer_catch_up() {
    let test = TestNode::start(NodeLimits::default()).await;
    let mut main = Branch::genesis();
    for _ in 0..30 {
        submit(&test, &mut main, &[], "m").await;
    }
    let locator = test.node.locator().unwrap();
    // Bitcoin's locator: heights 30..=21 one by one, then 19, 15, 7, then genesis.
    let heights = [30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 19, 15, 7, 0];
    let expected: Vec<_> = heights
        .iter()
        .map(|&h| main.0.headers()[h].block_hash())
        .collect();
    assert_eq!(locator, expected);
    // A peer that has blocks up to 10 gets 11.. from us.
    let theirs = vec![
        main.0.headers()[10].block_hash(),
        main.0.headers()[0].block_hash(),
    ];
    let headers = test.node.headers_after(&theirs, 5).unwrap();
    assert_eq!(headers, main.0.headers()[11..16].to_vec());
    let unknown = vec![bbchain_core::BlockHash::from_byte_array([3; 32])];
    assert_eq!(
        test.node.headers_after(&unknown, 2).unwrap(),
        main.0.headers()[1..3].to_vec()
    );
    test.stop().await;
}

#[tokio::test]
async fn a_data_entry_is_in_a_chain_at_most_once() {
    let test = TestNode::start(NodeLimits::default()).await;
    let mut main = Branch::genesis();
    submit(&test, &mut main, &["once"], "a").await;
    submit(&test, &mut main, &["other"], "a").await;

    // On the main chain: repeating an entry of block 1 is refused.
    let repeat = main.next(&["once"], "a");
    let err = test.node.submit_block(repeat).await.unwrap_err();
    assert!(
        matches!(err, SubmitError::Invalid(BlockError::DataAlreadyInChain(1))),
        "{err}"
    );

    // A side branch forking after block 1 holds "once" already: it may not repeat it either...
    let mut side = main.clone();
    side.0.truncate(1);
    let fork = side.next(&["side"], "b");
    side.push(&fork);
    assert!(matches!(
        test.node.submit_block(fork).await.unwrap(),
        SubmitOutcome::SideBranch { .. }
    ));
    let err = test
        .node
        .submit_block(side.next(&["once"], "b"))
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        SubmitError::Invalid(BlockError::DataAlreadyInChain(1))
    ));
    // ...nor repeat its own entry, while "other" (main chain above the fork) is fair game for it.
    let err = test
        .node
        .submit_block(side.next(&["side"], "b"))
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        SubmitError::Invalid(BlockError::DataAlreadyInChain(1))
    ));
    let ok = side.next(&["other"], "b");
    assert!(test.node.submit_block(ok).await.is_ok());
    assert_eq!(confirmed_at(&test, "once"), Some(1));
}

#[tokio::test]
async fn data_back_from_a_reorg_goes_first_into_the_next_block() {
    let test = TestNode::start(NodeLimits::default()).await;
    let mut a = Branch::genesis();
    let mut b = Branch::genesis();
    submit(&test, &mut a, &["mined, then orphaned"], "a").await;
    test.node.add_data("queued later".into()).await.unwrap();
    submit(&test, &mut b, &[], "b").await;
    assert!(matches!(
        submit(&test, &mut b, &[], "b").await,
        SubmitOutcome::Connected { height: 2, .. }
    ));
    let template = test.node.watch_template().borrow().clone();
    let order: Vec<&str> = template.entries.iter().filter_map(Entry::as_data).collect();
    assert_eq!(order, ["mined, then orphaned", "queued later"]);

    // The order survives a restart.
    let test = TestNode::start_in(test.stop().await, NodeLimits::default()).await;
    let template = test.node.watch_template().borrow().clone();
    let order: Vec<&str> = template.entries.iter().filter_map(Entry::as_data).collect();
    assert_eq!(order, ["mined, then orphaned", "queued later"]);
}

#[tokio::test]
async fn the_hashrate_leaves_out_the_gap_after_genesis() {
    // The dev genesis block is dated long before block 1: counting that gap would make any real
    // hashrate look like nothing for the first ten blocks.
    let test = TestNode::start(NodeLimits::default()).await;
    let mut branch = Branch::genesis();
    submit(&test, &mut branch, &[], "m").await;
    assert_eq!(
        test.node.snapshot().hashrate,
        0.0,
        "one interval is no rate"
    );
    submit(&test, &mut branch, &[], "m").await;
    let snapshot = test.node.snapshot();
    let block_two = test.node.block(&snapshot.tip).unwrap().unwrap();
    let one_block_of_work = bbchain_core::Target::from_compact(block_two.header.bits)
        .unwrap()
        .to_work()
        .to_f64();
    // Block 2 came one second after block 1: the rate is block 2's work in one second.
    assert_eq!(snapshot.hashrate, one_block_of_work);
    test.stop().await;
}
