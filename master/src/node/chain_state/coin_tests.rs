//! Coins in the chain state: spends through the mempool and blocks, double spends, chained
//! unconfirmed spends, eviction, and reorgs that return or drop transactions, over in-memory tables.

use super::harness::*;
use super::*;
use crate::node::outcomes::AddTxError;
use bbchain_core::BlockError;
use bbchain_core::keys::{PublicKey, SecretKey};
use bbchain_core::spend::{TxError, connect_block};
use bbchain_core::testing::{Branch, secret_key, signed_tx};
use bbchain_core::{Coinbase, Entry, Transaction, TxOut};
use proptest::prelude::*;

fn key(n: u32) -> SecretKey {
    secret_key(n)
}

/// Mines the tip's child on `branch` with `txs`, its coinbase paying the subsidy plus `fees` to
/// `payee`, and makes it the tip.
fn mine(branch: &mut Branch, payee: &PublicKey, txs: &[Transaction], fees: u64) -> Block {
    let height = branch.height() + 1;
    let value = Amount::from_units(branch.params().subsidy(height).units() + fees);
    let time = branch.tip().time + 1;
    let block = branch.next_with(time, &[], "m", |block| {
        let output = TxOut { value, key: *payee };
        block.entries[0] = Entry::Coinbase(Coinbase::new(height, 0, "m", vec![output]));
        block.entries.extend(txs.iter().cloned().map(Entry::Tx));
    });
    branch.push(&block);
    block
}

/// The first output of `block`'s coinbase.
fn reward_of(block: &Block) -> (OutPoint, TxOut) {
    let coinbase = block.coinbase().unwrap();
    let outpoint = OutPoint {
        txid: coinbase.txid(),
        vout: 0,
    };
    (outpoint, coinbase.outputs[0])
}

/// Output `vout` of `tx`.
fn output_of(tx: &Transaction, vout: u32) -> (OutPoint, TxOut) {
    let outpoint = OutPoint {
        txid: tx.txid(),
        vout,
    };
    (outpoint, tx.outputs[vout as usize])
}

fn pay(payee: &SecretKey, units: u64) -> TxOut {
    TxOut {
        value: Amount::from_units(units),
        key: payee.public_key(),
    }
}

fn add_tx(
    state: &mut ChainState,
    store: &mut MemoryStore,
    tx: &Transaction,
) -> Result<TxAdded, AddTxError> {
    let mut change = ChangeSet::default();
    let added = state.add_tx(store, tx.clone(), &mut change).unwrap();
    store.persist(&change.writes);
    added
}

/// A chain where key 1 owns one mature block reward: block 1 pays it, blocks 2 to 6 mature it.
fn funded() -> (ChainState, MemoryStore, Branch, (OutPoint, TxOut)) {
    let (mut state, mut store) = start();
    let mut branch = Branch::new(ChainParams::dev());
    let first = mine(&mut branch, &key(1).public_key(), &[], 0);
    connect(&mut state, &mut store, first.clone());
    for _ in 0..ChainParams::dev().coinbase_maturity {
        let block = mine(&mut branch, &key(9).public_key(), &[], 0);
        connect(&mut state, &mut store, block);
    }
    (state, store, branch, reward_of(&first))
}

const COIN: u64 = 100_000_000;
const FEE: u64 = 10_000;

#[test]
fn a_spend_waits_in_the_mempool_then_a_block_confirms_it() {
    let (mut state, mut store, mut branch, reward) = funded();
    let supply = state.supply();
    let tx = signed_tx(
        state.params(),
        &key(1),
        &[reward],
        vec![pay(&key(2), COIN - FEE)],
    );
    assert_eq!(add_tx(&mut state, &mut store, &tx), Ok(TxAdded::Pending));
    assert_eq!(add_tx(&mut state, &mut store, &tx), Ok(TxAdded::Pending));
    assert_eq!(state.mempool().len(), 1);
    assert_eq!(store.mempool.len(), 1, "the mempool is persisted");

    let block = mine(
        &mut branch,
        &key(9).public_key(),
        std::slice::from_ref(&tx),
        FEE,
    );
    connect(&mut state, &mut store, block.clone());
    assert_eq!(state.mempool().len(), 0);
    assert!(store.mempool.is_empty());
    assert!(!store.utxos.contains_key(&reward.0), "the reward is spent");
    assert_eq!(
        store.utxos[&output_of(&tx, 0).0].output.value.units(),
        COIN - FEE
    );
    assert!(store.txs.contains_key(&tx.txid()));
    assert_eq!(add_tx(&mut state, &mut store, &tx), Ok(TxAdded::Confirmed));
    // The block added its subsidy; the fee moved from the spender to the miner.
    let subsidy = state.params().subsidy(block_height(&state)).units();
    assert_eq!(state.supply().units(), supply.units() + subsidy);
    assert_eq!(state.supply().units(), store_supply(&store));
}

fn block_height(state: &ChainState) -> u32 {
    state.tip().height
}

fn store_supply(store: &MemoryStore) -> u64 {
    store.utxos.values().map(|u| u.output.value.units()).sum()
}

#[test]
fn the_mempool_refuses_each_bad_transaction_with_its_reason() {
    let (mut state, mut store, _, reward) = funded();
    let params = state.params().clone();
    let first = signed_tx(&params, &key(1), &[reward], vec![pay(&key(2), COIN - FEE)]);
    add_tx(&mut state, &mut store, &first).unwrap();

    let double = signed_tx(&params, &key(1), &[reward], vec![pay(&key(3), COIN - FEE)]);
    assert_eq!(
        add_tx(&mut state, &mut store, &double),
        Err(AddTxError::DoubleSpend {
            index: 0,
            outpoint: reward.0,
            spender: first.txid(),
        })
    );

    let change_back = output_of(&first, 0);
    let dust = signed_tx(&params, &key(2), &[change_back], vec![pay(&key(3), 999)]);
    assert!(matches!(
        add_tx(&mut state, &mut store, &dust),
        Err(AddTxError::Dust { index: 0, .. })
    ));
    let stingy = signed_tx(
        &params,
        &key(2),
        &[change_back],
        vec![pay(&key(3), COIN - FEE)],
    );
    assert!(matches!(
        add_tx(&mut state, &mut store, &stingy),
        Err(AddTxError::FeeTooLow { .. })
    ));
    let forged = signed_tx(
        &params,
        &key(3),
        &[change_back],
        vec![pay(&key(3), COIN / 2)],
    );
    assert_eq!(
        add_tx(&mut state, &mut store, &forged),
        Err(AddTxError::Invalid(TxError::BadSignature(0)))
    );
    let young_reward = {
        let mut branch = Branch::new(params.clone());
        let block = mine(&mut branch, &key(4).public_key(), &[], 0);
        reward_of(&block)
    };
    let missing = signed_tx(
        &params,
        &key(4),
        &[young_reward],
        vec![pay(&key(3), COIN / 2)],
    );
    assert!(matches!(
        add_tx(&mut state, &mut store, &missing),
        Err(AddTxError::Invalid(TxError::MissingInput { .. }))
    ));
    assert_eq!(state.mempool().len(), 1, "only the first spend is pending");
}

#[test]
fn an_immature_reward_cannot_be_spent_yet() {
    let (mut state, mut store) = start();
    let mut branch = Branch::new(ChainParams::dev());
    let first = mine(&mut branch, &key(1).public_key(), &[], 0);
    connect(&mut state, &mut store, first.clone());
    let tx = signed_tx(
        state.params(),
        &key(1),
        &[reward_of(&first)],
        vec![pay(&key(2), COIN / 2)],
    );
    // The next block is height 2: four more blocks to go on dev (maturity 5).
    assert_eq!(
        add_tx(&mut state, &mut store, &tx),
        Err(AddTxError::Invalid(TxError::ImmatureCoinbase {
            index: 0,
            blocks_left: 4
        }))
    );
}

#[test]
fn chained_pending_spends_are_kept_and_mined_parents_first() {
    let (mut state, mut store, mut branch, reward) = funded();
    let params = state.params().clone();
    let parent = signed_tx(&params, &key(1), &[reward], vec![pay(&key(2), COIN - FEE)]);
    let child = signed_tx(
        &params,
        &key(2),
        &[output_of(&parent, 0)],
        vec![pay(&key(3), COIN - 3 * FEE)],
    );
    add_tx(&mut state, &mut store, &parent).unwrap();
    add_tx(&mut state, &mut store, &child).unwrap();
    // The child pays a higher fee rate, yet its parent comes first.
    let (picked, fees) = state.mempool().select(1_000_000);
    let order: Vec<Txid> = picked.iter().map(|p| p.txid).collect();
    assert_eq!(order, vec![parent.txid(), child.txid()]);
    assert_eq!(fees.units(), 3 * FEE);

    let block = mine(
        &mut branch,
        &key(9).public_key(),
        &[parent, child.clone()],
        3 * FEE,
    );
    connect(&mut state, &mut store, block);
    assert_eq!(state.mempool().len(), 0);
    assert!(store.utxos.contains_key(&output_of(&child, 0).0));
}

#[test]
fn a_block_that_spends_a_spent_output_is_refused_and_changes_nothing() {
    let (mut state, mut store, mut branch, reward) = funded();
    let params = state.params().clone();
    let tx = signed_tx(&params, &key(1), &[reward], vec![pay(&key(2), COIN - FEE)]);
    connect(
        &mut state,
        &mut store,
        mine(&mut branch, &key(9).public_key(), &[tx], FEE),
    );
    let utxos = store.utxos.clone();
    let again = signed_tx(&params, &key(1), &[reward], vec![pay(&key(3), COIN - FEE)]);
    let tip = state.tip().hash();
    let bad = mine(&mut branch, &key(9).public_key(), &[again], FEE);
    let (outcome, change) = try_connect(&mut state, &mut store, bad.clone());
    // The same block again is refused from memory, with the same reason.
    let (again_outcome, _) = try_connect(&mut state, &mut store, bad);
    assert_eq!(format!("{again_outcome:?}"), format!("{outcome:?}"));
    assert!(matches!(
        outcome,
        Err(SubmitError::Invalid(BlockError::Tx {
            error: TxError::MissingInput { .. },
            ..
        }))
    ));
    assert!(change.writes.is_empty(), "{:?}", change.writes);
    assert_eq!(state.tip().hash(), tip);
    assert_eq!(store.utxos, utxos);
}

#[test]
fn a_full_mempool_evicts_the_lowest_fee_rate() {
    let limits = NodeLimits {
        max_mempool_bytes: 400,
        ..NodeLimits::default()
    };
    let (mut state, mut store) = start_with(limits);
    let mut branch = Branch::new(ChainParams::dev());
    let mut rewards = Vec::new();
    for n in 1..=3 {
        let block = mine(&mut branch, &key(n).public_key(), &[], 0);
        connect(&mut state, &mut store, block.clone());
        rewards.push((n, reward_of(&block)));
    }
    for _ in 0..5 {
        let block = mine(&mut branch, &key(9).public_key(), &[], 0);
        connect(&mut state, &mut store, block);
    }
    let params = state.params().clone();
    let spend = |(n, reward): (u32, (OutPoint, TxOut)), fee: u64| {
        signed_tx(&params, &key(n), &[reward], vec![pay(&key(8), COIN - fee)])
    };
    // Each transaction is 183 bytes: two fit in 400.
    let cheap = spend(rewards[0], 1_000);
    let dear = spend(rewards[1], 50_000);
    add_tx(&mut state, &mut store, &cheap).unwrap();
    add_tx(&mut state, &mut store, &dear).unwrap();
    let cheaper = spend(rewards[2], 500);
    assert_eq!(
        add_tx(&mut state, &mut store, &cheaper),
        Err(AddTxError::MempoolFull)
    );
    let dearer = spend(rewards[2], 9_000);
    add_tx(&mut state, &mut store, &dearer).unwrap();
    assert!(state.mempool().get(&cheap.txid()).is_none(), "evicted");
    assert!(state.mempool().get(&dear.txid()).is_some());
    assert_eq!(store.mempool.len(), 2);
}

#[test]
fn a_reorg_returns_transactions_and_drops_those_it_made_invalid() {
    let (mut state, mut store, mut a, reward) = funded();
    let params = state.params().clone();
    let fork = a.clone();
    // On branch a: a spend of the old reward, and a reward for key 5 that matures on a.
    let spend = signed_tx(&params, &key(1), &[reward], vec![pay(&key(2), COIN - FEE)]);
    let with_spend = mine(
        &mut a,
        &key(5).public_key(),
        std::slice::from_ref(&spend),
        FEE,
    );
    connect(&mut state, &mut store, with_spend.clone());
    for _ in 0..5 {
        connect(
            &mut state,
            &mut store,
            mine(&mut a, &key(9).public_key(), &[], 0),
        );
    }
    // Key 5 spends its reward from branch a; that reward exists only on a.
    let doomed = signed_tx(
        &params,
        &key(5),
        &[reward_of(&with_spend)],
        vec![pay(&key(6), COIN)],
    );
    add_tx(&mut state, &mut store, &doomed).unwrap();

    // Branch b, one block longer, has neither.
    let mut b = fork;
    for _ in 0..7 {
        let block = mine(&mut b, &key(7).public_key(), &[], 0);
        try_connect(&mut state, &mut store, block).0.unwrap();
    }
    assert_eq!(state.tip().hash(), b.tip().block_hash());
    let pending: Vec<Txid> = state.mempool().in_order().map(|p| p.txid).collect();
    assert_eq!(
        pending,
        vec![spend.txid()],
        "returned, and the doomed one dropped"
    );
    assert!(
        store.utxos.contains_key(&reward.0),
        "the old reward is unspent again"
    );
    assert!(!store.txs.contains_key(&spend.txid()));
    assert_eq!(
        store
            .mempool
            .values()
            .map(Transaction::txid)
            .collect::<Vec<_>>(),
        pending
    );
}

#[test]
fn a_reorg_onto_an_invalid_block_is_rolled_back_and_its_branch_refused() {
    let (mut state, mut store, a, reward) = funded();
    let params = state.params().clone();
    let mut main = a.clone();
    let spend = signed_tx(&params, &key(1), &[reward], vec![pay(&key(2), COIN - FEE)]);
    connect(
        &mut state,
        &mut store,
        mine(&mut main, &key(9).public_key(), &[spend], FEE),
    );
    let before = (state.tip().hash(), store.utxos.clone(), state.supply());
    // A side branch whose first block claims too much: stored while it has less work, refused
    // when it would take over.
    let mut side = a;
    let greedy = {
        let height = side.height() + 1;
        let time = side.tip().time + 1;
        let block = side.next_with(time, &[], "m", |block| {
            let output = pay(&key(3), 10 * COIN);
            block.entries[0] = Entry::Coinbase(Coinbase::new(height, 0, "m", vec![output]));
        });
        side.push(&block);
        block
    };
    let (outcome, _) = try_connect(&mut state, &mut store, greedy.clone());
    assert!(matches!(outcome, Ok(SubmitOutcome::SideBranch { .. })));
    let heavier = mine(&mut side, &key(3).public_key(), &[], 0);
    let (outcome, _) = try_connect(&mut state, &mut store, heavier.clone());
    match outcome {
        Err(SubmitError::InvalidAncestor { block, reason }) => {
            assert_eq!(block, greedy.hash());
            assert!(matches!(reason, BlockError::CoinbaseTooLarge { .. }));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        (state.tip().hash(), store.utxos.clone(), state.supply()),
        before
    );
    let next = mine(&mut side, &key(3).public_key(), &[], 0);
    let (outcome, _) = try_connect(&mut state, &mut store, next);
    assert!(matches!(outcome, Err(SubmitError::InvalidParent(_))));
}

/// Rebuilds the unspent outputs from scratch: every main-chain block from genesis, through the
/// core's rules.
fn rebuilt_utxos(state: &ChainState, store: &MemoryStore) -> BTreeMap<OutPoint, Utxo> {
    let mut utxos = BTreeMap::new();
    let genesis = state.params().genesis_hash();
    for height in 1..=state.tip().height {
        let hash = state.main_at(height).unwrap().hash();
        let block = &store.blocks[&hash];
        let spends = connect_block(block, &utxos, height, state.params(), &genesis).unwrap();
        for (outpoint, _) in spends.spent {
            utxos.remove(&outpoint);
        }
        utxos.extend(spends.created);
    }
    utxos
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    /// After any sequence of branch switches, the unspent-output table equals one rebuilt from
    /// the main chain, and the supply is its sum.
    #[test]
    fn after_random_reorgs_the_utxo_table_matches_a_rebuild(
        steps in prop::collection::vec((0usize..3, 1u32..4, any::<bool>()), 1..8)
    ) {
        let (mut state, mut store, base, reward) = funded();
        let params = state.params().clone();
        let mut branches = [base.clone(), base.clone(), base];
        // Each branch may spend the shared reward once: reorgs move that spend around.
        let mut spent_on = [false; 3];
        for (which, length, spend) in steps {
            let branch = &mut branches[which];
            for _ in 0..length {
                let mut txs = Vec::new();
                if spend && !spent_on[which] {
                    let to = pay(&key(10 + which as u32), COIN - FEE);
                    txs.push(signed_tx(&params, &key(1), &[reward], vec![to]));
                    spent_on[which] = true;
                }
                let fees = if txs.is_empty() { 0 } else { FEE };
                let block = mine(branch, &key(20 + which as u32).public_key(), &txs, fees);
                let _ = try_connect(&mut state, &mut store, block);
            }
        }
        prop_assert_eq!(&store.utxos, &rebuilt_utxos(&state, &store));
        prop_assert_eq!(state.supply().units(), store_supply(&store));
    }
}

#[test]
fn a_chain_of_pending_spends_is_bounded() {
    let limits = NodeLimits {
        max_pending_chain: 2,
        ..NodeLimits::default()
    };
    let (mut state, mut store) = start_with(limits);
    let mut branch = Branch::new(ChainParams::dev());
    let first = mine(&mut branch, &key(1).public_key(), &[], 0);
    connect(&mut state, &mut store, first.clone());
    for _ in 0..5 {
        connect(
            &mut state,
            &mut store,
            mine(&mut branch, &key(9).public_key(), &[], 0),
        );
    }
    let params = state.params().clone();
    let parent = signed_tx(
        &params,
        &key(1),
        &[reward_of(&first)],
        vec![pay(&key(1), COIN - FEE)],
    );
    let child = signed_tx(
        &params,
        &key(1),
        &[output_of(&parent, 0)],
        vec![pay(&key(1), COIN - 2 * FEE)],
    );
    let grandchild = signed_tx(
        &params,
        &key(1),
        &[output_of(&child, 0)],
        vec![pay(&key(1), COIN - 3 * FEE)],
    );
    add_tx(&mut state, &mut store, &parent).unwrap();
    add_tx(&mut state, &mut store, &child).unwrap();
    assert_eq!(
        add_tx(&mut state, &mut store, &grandchild),
        Err(AddTxError::ChainTooLong { max: 2 })
    );
}
