//! The spending rules: each transaction error from a transaction with exactly that defect, the
//! block-level rules (double spends, the coinbase's claim), the subsidy schedule and the 64-byte rule.

use bbchain_core::hash::{TxMerkleNode, Txid};
use bbchain_core::keys::SecretKey;
use bbchain_core::spend::{TxError, Utxo, check_inputs, connect_block};
use bbchain_core::testing::{Branch, secret_key, signed_tx};
use bbchain_core::validation::{
    BlockError, EntrySizeError, MERKLE_NODE_BYTES, check_block, check_entry_size,
};
use bbchain_core::{
    Amount, Block, BlockHash, ChainParams, Coinbase, Entry, MerkleProof, OutPoint, Transaction,
    TxOut,
};
use std::collections::BTreeMap;

fn units(n: u64) -> Amount {
    Amount::from_units(n)
}

fn pay(key: &SecretKey, value: u64) -> TxOut {
    TxOut {
        value: units(value),
        key: key.public_key(),
    }
}

fn outpoint(n: u8) -> OutPoint {
    OutPoint {
        txid: Txid::from_byte_array([n; 32]),
        vout: 0,
    }
}

/// Unspent outputs for the tests: a plain output of 1,000 units and a coinbase output of 5,000
/// created at height 10, both paying key 1.
struct Fixture {
    params: ChainParams,
    genesis: BlockHash,
    alice: SecretKey,
    bob: SecretKey,
    view: BTreeMap<OutPoint, Utxo>,
}

impl Fixture {
    fn new() -> Fixture {
        let params = ChainParams::dev();
        let (alice, bob) = (secret_key(1), secret_key(2));
        let mut view = BTreeMap::new();
        view.insert(outpoint(1), utxo(&alice, 1_000, 1, false));
        view.insert(outpoint(2), utxo(&alice, 5_000, 10, true));
        Fixture {
            genesis: params.genesis_hash(),
            params,
            alice,
            bob,
            view,
        }
    }

    fn spent(&self, n: u8) -> (OutPoint, TxOut) {
        (outpoint(n), self.view[&outpoint(n)].output)
    }

    fn check(&self, tx: &Transaction, height: u32) -> Result<Amount, TxError> {
        check_inputs(tx, &self.view, height, &self.params, &self.genesis).map(|spent| spent.fee)
    }
}

fn utxo(key: &SecretKey, value: u64, height: u32, coinbase: bool) -> Utxo {
    Utxo {
        output: pay(key, value),
        height,
        coinbase,
    }
}

#[test]
fn a_valid_spend_pays_the_difference_as_fee() {
    let f = Fixture::new();
    let tx = signed_tx(&f.params, &f.alice, &[f.spent(1)], vec![pay(&f.bob, 900)]);
    assert_eq!(f.check(&tx, 20), Ok(units(100)));
}

#[test]
fn each_defect_gets_its_own_error() {
    let f = Fixture::new();
    let spend = |spent: &[(OutPoint, TxOut)], outputs: Vec<TxOut>| {
        signed_tx(&f.params, &f.alice, spent, outputs)
    };
    let no_inputs = spend(&[], vec![pay(&f.bob, 1)]);
    assert_eq!(f.check(&no_inputs, 20), Err(TxError::NoInputs));

    let no_outputs = spend(&[f.spent(1)], vec![]);
    assert_eq!(f.check(&no_outputs, 20), Err(TxError::NoOutputs));

    let twice = spend(&[f.spent(1), f.spent(1)], vec![pay(&f.bob, 1)]);
    assert_eq!(f.check(&twice, 20), Err(TxError::DuplicateInput(1)));

    let max = Amount::MAX_MONEY.units();
    let overflow = spend(&[f.spent(1)], vec![pay(&f.bob, max), pay(&f.bob, 1)]);
    assert_eq!(f.check(&overflow, 20), Err(TxError::ValueOverflow));

    let missing_point = (outpoint(9), pay(&f.alice, 1_000));
    let missing = spend(&[missing_point], vec![pay(&f.bob, 1)]);
    let outpoint = outpoint(9);
    assert_eq!(
        f.check(&missing, 20),
        Err(TxError::MissingInput { index: 0, outpoint })
    );

    // The coinbase output of height 10 matures at 10 + 5 on dev.
    let young = spend(&[f.spent(1), f.spent(2)], vec![pay(&f.bob, 1)]);
    assert_eq!(
        f.check(&young, 12),
        Err(TxError::ImmatureCoinbase {
            index: 1,
            blocks_left: 3
        })
    );
    assert_eq!(f.check(&young, 15), Ok(units(5_999)));

    let too_much = spend(&[f.spent(1)], vec![pay(&f.bob, 1_001)]);
    assert_eq!(
        f.check(&too_much, 20),
        Err(TxError::InputsBelowOutputs {
            inputs: units(1_000),
            outputs: units(1_001)
        })
    );

    let wrong_key = signed_tx(&f.params, &f.bob, &[f.spent(1)], vec![pay(&f.bob, 1)]);
    assert_eq!(f.check(&wrong_key, 20), Err(TxError::BadSignature(0)));
}

#[test]
fn the_signature_commits_to_amounts_outputs_and_network() {
    let f = Fixture::new();
    let (point, output) = f.spent(1);
    // Signed as if the spent output held less: the real amount makes another message.
    let lied = TxOut {
        value: units(999),
        ..output
    };
    let tx = signed_tx(
        &f.params,
        &f.alice,
        &[(point, lied)],
        vec![pay(&f.bob, 900)],
    );
    assert_eq!(f.check(&tx, 20), Err(TxError::BadSignature(0)));

    let mut tx = signed_tx(
        &f.params,
        &f.alice,
        &[(point, output)],
        vec![pay(&f.bob, 900)],
    );
    let txid = tx.txid();
    tx.outputs[0].key = f.alice.public_key();
    assert_eq!(f.check(&tx, 20), Err(TxError::BadSignature(0)));
    assert_ne!(tx.txid(), txid, "the txid covers the outputs");

    let main = ChainParams::main();
    let other_network = signed_tx(&main, &f.alice, &[(point, output)], vec![pay(&f.bob, 9)]);
    assert_eq!(f.check(&other_network, 20), Err(TxError::BadSignature(0)));
}

#[test]
fn re_signing_changes_the_leaf_but_not_the_txid() {
    let f = Fixture::new();
    let mut tx = signed_tx(&f.params, &f.alice, &[f.spent(1)], vec![pay(&f.bob, 900)]);
    let (txid, leaf) = (tx.txid(), tx.leaf_hash());
    let spent = [f.spent(1).1];
    tx.sign(&f.genesis, &spent, &[&f.alice], &[9; 32]);
    assert_eq!(f.check(&tx, 20), Ok(units(100)));
    assert_eq!(tx.txid(), txid);
    assert_ne!(tx.leaf_hash(), leaf, "the leaf commits to the signatures");
}

/// A mined dev block at height 1 with `txs` after a coinbase paying `claim` units to key 3.
fn block_with_txs(txs: Vec<Transaction>, claim: u64) -> Block {
    let branch = Branch::new(ChainParams::dev());
    branch.next_with(branch.tip().time + 1, &[], "m", |block| {
        if let Entry::Coinbase(coinbase) = &mut block.entries[0] {
            coinbase.outputs = vec![pay(&secret_key(3), claim)];
        }
        block.entries.extend(txs.into_iter().map(Entry::Tx));
    })
}

#[test]
fn a_block_spends_chains_and_claims_at_most_subsidy_plus_fees() {
    let f = Fixture::new();
    let parent = signed_tx(&f.params, &f.alice, &[f.spent(1)], vec![pay(&f.alice, 900)]);
    let child_spent = (
        OutPoint {
            txid: parent.txid(),
            vout: 0,
        },
        pay(&f.alice, 900),
    );
    let child = signed_tx(&f.params, &f.alice, &[child_spent], vec![pay(&f.bob, 850)]);
    let subsidy = f.params.subsidy(1).units();
    let fees = 150;

    let block = block_with_txs(vec![parent.clone(), child.clone()], subsidy + fees);
    check_block(&block, &f.params).unwrap();
    let spends = connect_block(&block, &f.view, 1, &f.params, &f.genesis).unwrap();
    assert_eq!(spends.fees, units(fees));
    assert_eq!(spends.spent, vec![(outpoint(1), f.view[&outpoint(1)])]);
    let created: Vec<OutPoint> = spends.created.iter().map(|(point, _)| *point).collect();
    let coinbase = block.coinbase().unwrap().txid();
    let mut expected = vec![
        OutPoint {
            txid: child.txid(),
            vout: 0,
        },
        OutPoint {
            txid: coinbase,
            vout: 0,
        },
    ];
    expected.sort();
    assert_eq!(
        created, expected,
        "the parent's output is spent within the block"
    );

    let greedy = block_with_txs(vec![parent, child], subsidy + fees + 1);
    assert_eq!(
        connect_block(&greedy, &f.view, 1, &f.params, &f.genesis),
        Err(BlockError::CoinbaseTooLarge {
            claimed: units(subsidy + fees + 1),
            max: units(subsidy + fees)
        })
    );
}

#[test]
fn two_transactions_of_a_block_cannot_spend_one_output() {
    let f = Fixture::new();
    let first = signed_tx(&f.params, &f.alice, &[f.spent(1)], vec![pay(&f.bob, 900)]);
    let second = signed_tx(&f.params, &f.alice, &[f.spent(1)], vec![pay(&f.alice, 900)]);
    let block = block_with_txs(vec![first, second], 0);
    assert_eq!(
        connect_block(&block, &f.view, 1, &f.params, &f.genesis),
        Err(BlockError::Tx {
            index: 2,
            error: TxError::DoubleSpend {
                index: 0,
                outpoint: outpoint(1)
            }
        })
    );
}

#[test]
fn a_context_free_defect_fails_the_block_check() {
    let f = Fixture::new();
    let empty = Transaction {
        inputs: vec![],
        outputs: vec![pay(&f.bob, 1)],
    };
    let block = block_with_txs(vec![empty], 0);
    assert_eq!(
        check_block(&block, &f.params),
        Err(BlockError::Tx {
            index: 1,
            error: TxError::NoInputs
        })
    );
}

#[test]
fn the_subsidy_halves_at_its_boundaries() {
    let dev = ChainParams::dev();
    assert_eq!(dev.subsidy(0), Amount::COIN);
    assert_eq!(dev.subsidy(149), Amount::COIN);
    assert_eq!(dev.subsidy(150), units(50_000_000));
    assert_eq!(dev.subsidy(299), units(50_000_000));
    assert_eq!(dev.subsidy(300), units(25_000_000));
    assert_eq!(
        dev.subsidy(150 * 26),
        units(1),
        "10^8 >> 26 rounds down to 1"
    );
    assert_eq!(dev.subsidy(150 * 27), Amount::ZERO);
    assert_eq!(dev.subsidy(u32::MAX), Amount::ZERO);

    let main = ChainParams::main();
    assert_eq!(main.subsidy(12_614_399), Amount::COIN);
    assert_eq!(main.subsidy(12_614_400), units(50_000_000));
    // Every subsidy ever paid on main fits under MAX_MONEY.
    let total: u64 = (0..64)
        .map(|halving| u64::from(main.halving_interval) * (Amount::COIN.units() >> halving))
        .sum();
    assert!(total <= Amount::MAX_MONEY.units(), "{total}");
    assert!(Amount::MAX_MONEY.units() - total < Amount::COIN.units() * 30);
}

#[test]
fn no_entry_may_encode_to_64_bytes() {
    let params = ChainParams::dev();
    let text = "x".repeat(62);
    assert_eq!(Entry::data(text.as_str()).encoded_len(), MERKLE_NODE_BYTES);
    assert_eq!(
        check_entry_size(&text, &params),
        Err(EntrySizeError::SixtyFourBytes { len: 62 })
    );
    assert!(check_entry_size(&"x".repeat(61), &params).is_ok());
    assert!(check_entry_size(&"x".repeat(63), &params).is_ok());

    // A coinbase whose name would make it 64 bytes gets a space; a hand-built one is refused.
    let name = "n".repeat(9);
    let outputs = vec![pay(&secret_key(1), 1)];
    let padded = Coinbase::new(1, 0, &name, outputs.clone());
    assert_eq!(padded.miner, format!("{name} "));
    let exact = Coinbase {
        height: 1,
        extra_nonce: 0,
        miner: name,
        outputs,
    };
    assert_eq!(
        Entry::Coinbase(exact.clone()).encoded_len(),
        MERKLE_NODE_BYTES
    );
    let branch = Branch::new(params.clone());
    let block = branch.next_with(branch.tip().time + 1, &[], "m", |block| {
        block.entries[0] = Entry::Coinbase(exact);
    });
    assert_eq!(
        check_block(&block, &params),
        Err(BlockError::SixtyFourByteEntry(0))
    );
}

/// The forgery the 64-byte rule stops: the two children of an inner node, 64 bytes, handed in as
/// if they were a leaf, with the rest of that node's branch as the proof.
#[test]
fn a_forged_proof_from_an_inner_node_is_refused() {
    let texts: Vec<String> = (0..4).map(|i| format!("entry {i}")).collect();
    let leaves: Vec<TxMerkleNode> = texts
        .iter()
        .map(|t| Entry::data(t.as_str()).leaf_hash())
        .collect();
    let root = bbchain_core::merkle::merkle_root(&leaves);
    let mut forged_leaf = Vec::new();
    forged_leaf.extend_from_slice(leaves[0].as_byte_array());
    forged_leaf.extend_from_slice(leaves[1].as_byte_array());
    let real = MerkleProof::build(&leaves, 0).unwrap();
    let forged = MerkleProof {
        index: 0,
        leaves: 2,
        siblings: real.siblings[1..].to_vec(),
    };
    // Checked by hash alone, the forgery passes: that is the hole.
    let as_leaf = TxMerkleNode::from_byte_array(bbchain_core::hash::sha256d(&forged_leaf));
    assert!(forged.verify(&as_leaf, &root));
    assert!(!forged.verify_encoding(&forged_leaf, &root));
    // Real entries still verify by their encoding.
    let entry = Entry::data(texts[2].as_str()).to_bytes();
    assert!(
        MerkleProof::build(&leaves, 2)
            .unwrap()
            .verify_encoding(&entry, &root)
    );
}
