//! Reorgs, the data queue and undo, over an in-memory store.

use super::harness::*;
use super::*;
use bbchain_core::testing::Branch;

#[test]
fn a_heavier_branch_takes_over_and_its_left_data_returns_to_the_front_of_the_queue() {
    let (mut state, mut store) = start();
    add(&mut state, &mut store, "waiting");
    let mut a = Branch::new(ChainParams::dev());
    let mut b = a.clone();
    let a_blocks = grow(&mut a, 2, "a", "on a");
    for block in a_blocks {
        assert!(matches!(
            connect(&mut state, &mut store, block).0,
            SubmitOutcome::Connected { .. }
        ));
    }
    assert_eq!(queue(&state, &store), ["waiting"]);
    let b_blocks = grow(&mut b, 3, "b", "on b");
    let mut outcomes = Vec::new();
    let mut last = ChangeSet::default();
    for block in b_blocks {
        let (outcome, change) = connect(&mut state, &mut store, block);
        outcomes.push(outcome);
        last = change;
    }
    assert!(matches!(
        outcomes[0],
        SubmitOutcome::SideBranch { height: 1, .. }
    ));
    assert!(matches!(
        outcomes[1],
        SubmitOutcome::SideBranch { height: 2, .. }
    ));
    assert!(matches!(
        outcomes[2],
        SubmitOutcome::Connected { height: 3, .. }
    ));
    assert_eq!(state.tip().hash(), b.tip().block_hash());
    assert_eq!(store.tip, Some(b.tip().block_hash()));
    // a's entries come back ahead of what waited, oldest block first; b's are confirmed.
    assert_eq!(queue(&state, &store), ["on a 1", "on a 2", "waiting"]);
    assert_eq!(
        store.pending.values().collect::<Vec<_>>(),
        ["on a 1", "on a 2", "waiting"]
    );
    for height in 1..=3 {
        let id = data_id(&format!("on b {height}"));
        assert_eq!(store.confirmed[&id].block, b.headers()[height].block_hash());
    }
    assert!(!store.confirmed.contains_key(&data_id("on a 1")));
    // The reorg event leads, then each attached block in height order.
    assert!(matches!(
        last.events[0],
        NodeEvent::Reorg {
            detached: 2,
            height: 3,
            ..
        }
    ));
    let heights: Vec<u32> = last
        .events
        .iter()
        .filter_map(|event| match event {
            NodeEvent::BlockConnected { height, .. } => Some(*height),
            _ => None,
        })
        .collect();
    assert_eq!(heights, [1, 2, 3]);
}

#[test]
fn undo_puts_memory_back_as_it_was() {
    let (mut state, mut store) = start();
    let mut a = Branch::new(ChainParams::dev());
    let mut b = a.clone();
    for block in grow(&mut a, 2, "a", "on a") {
        connect(&mut state, &mut store, block);
    }
    add(&mut state, &mut store, "waiting");
    let before = (
        state.tip().hash(),
        state.main.clone(),
        queue(&state, &store).join("|"),
    );
    let mut change = ChangeSet::default();
    let b_blocks = grow(&mut b, 3, "b", "on b");
    for block in b_blocks.clone() {
        // The commit of all three would fail: nothing is persisted.
        state
            .connect(&store, block, NOW, &mut change)
            .unwrap()
            .unwrap();
        store
            .blocks
            .extend(change.writes.iter().filter_map(|w| match w {
                Write::Block { hash, block, .. } => Some((*hash, (**block).clone())),
                _ => None,
            }));
    }
    assert_eq!(state.tip().hash(), b.tip().block_hash());
    state.undo(change);
    let after = (
        state.tip().hash(),
        state.main.clone(),
        queue(&state, &store).join("|"),
    );
    assert_eq!(after, before);
    assert!(state.record(&b.tip().block_hash()).is_none());
    // The same blocks connect again afterwards, as new.
    let mut store = MemoryStore {
        blocks: store
            .blocks
            .into_iter()
            .filter(|(h, _)| state.record(h).is_some())
            .collect(),
        ..store
    };
    for block in b_blocks {
        assert!(!matches!(
            connect(&mut state, &mut store, block).0,
            SubmitOutcome::Duplicate { .. }
        ));
    }
    assert_eq!(state.tip().hash(), b.tip().block_hash());
}

#[test]
fn a_long_side_branch_and_its_reorg_read_each_block_a_bounded_number_of_times() {
    for length in [20u32, 80] {
        let (mut state, mut store) = start();
        let mut main = Branch::new(ChainParams::dev());
        let mut side = main.clone();
        for block in grow(&mut main, length, "main", "main") {
            connect(&mut state, &mut store, block);
        }
        store.block_reads.set(0);
        let side_blocks = grow(&mut side, length + 1, "side", "side");
        let mut outcome = None;
        for block in side_blocks {
            outcome = Some(connect(&mut state, &mut store, block).0);
        }
        assert!(matches!(outcome, Some(SubmitOutcome::Connected { .. })));
        // Each main block is read once when detached, each side block once when attached;
        // growing the side branch reads nothing, however long it is.
        let reads = store.block_reads.get();
        assert!(
            reads <= 2 * length as usize + 2,
            "{reads} block reads for a {length}-block reorg"
        );
    }
}

#[test]
fn the_queue_is_bounded_by_bytes_and_a_block_makes_room_again() {
    let (mut state, mut store) = start_with(NodeLimits {
        max_pending_bytes: 2 * queued_bytes(100),
        ..NodeLimits::default()
    });
    let offer = |state: &mut ChainState, store: &mut MemoryStore, text: &str| {
        let mut change = ChangeSet::default();
        let added = state.add_data(store, text.into(), &mut change).unwrap();
        store.persist(&change.writes);
        added
    };
    add(&mut state, &mut store, &"a".repeat(100));
    add(&mut state, &mut store, &"b".repeat(60));
    assert_eq!(state.pending_bytes(), queued_bytes(100) + queued_bytes(60));
    // 40 bytes of text would fit, but not with an entry's overhead: bytes count, not entries.
    let full = offer(&mut state, &mut store, &"c".repeat(40));
    assert_eq!(full, Err(AddDataError::QueueFull(2 * queued_bytes(100))));
    assert!(
        offer(&mut state, &mut store, "d").is_err(),
        "a tiny entry too"
    );
    assert_eq!(queue(&state, &store).len(), 2);
    // A block that confirms the first entry makes room.
    let mut chain = Branch::new(ChainParams::dev());
    let time = chain.tip().time + 1;
    let block = chain.extend(time, &["a".repeat(100).as_str()], "m");
    connect(&mut state, &mut store, block);
    assert_eq!(state.pending_bytes(), queued_bytes(60));
    assert_eq!(
        offer(&mut state, &mut store, &"c".repeat(40)),
        Ok(DataAdded::Pending)
    );
    // A restart counts the stored queue again, from positions and lengths alone.
    let stored: Vec<_> = store
        .pending
        .iter()
        .map(|(seq, text)| (*seq, data_id(text), text.len()))
        .collect();
    let genesis = ChainParams::dev().genesis_block();
    let record = *state.record(&genesis.hash()).unwrap();
    let limits = state.limits().clone();
    let again = ChainState::new(
        ChainParams::dev(),
        limits,
        [record],
        genesis.hash(),
        stored,
        None,
        0,
    )
    .unwrap();
    assert_eq!(again.pending_bytes(), queued_bytes(60) + queued_bytes(40));
}
