//! The coin endpoints through the router: a spend from a mined reward, its status pending then
//! confirmed with a proof, the address view, and every kind of bad input.

mod common;

use axum::http::StatusCode;
use bbchain::config::NodeLimits;
use bbchain_core::keys::SecretKey;
use bbchain_core::testing::{self, secret_key, signed_tx};
use bbchain_core::{
    Amount, Block, ChainParams, Coinbase, Entry, MerkleProof, OutPoint, Transaction, TxOut, address,
};
use common::*;
use serde_json::{Value, json};

async fn post_tx(test: &TestNode, tx: &Transaction) -> (StatusCode, Value) {
    let body = json!({"tx": hex::encode(tx.to_bytes())}).to_string();
    call(test, "POST", "/api/tx", body.into()).await
}

async fn post_body(test: &TestNode, body: Value) -> (StatusCode, Value) {
    call(test, "POST", "/api/tx", body.to_string().into()).await
}

const COIN: u64 = 100_000_000;
const FEE: u64 = 10_000;

fn dev() -> ChainParams {
    ChainParams::dev()
}

fn pay(key: &SecretKey, units: u64) -> TxOut {
    TxOut {
        value: Amount::from_units(units),
        key: key.public_key(),
    }
}

fn addr(key: &SecretKey) -> String {
    address::encode(&key.public_key(), &dev())
}

/// Mines the next block of `branch` with `txs`, its coinbase paying the subsidy plus `fees` to
/// `payee`, and stores it on the node.
async fn mine(
    test: &TestNode,
    branch: &mut testing::Branch,
    payee: &SecretKey,
    txs: &[Transaction],
    fees: u64,
) -> Block {
    let height = branch.height() + 1;
    let time = if height == 1 {
        bbchain::clock::unix_now() - 100
    } else {
        branch.tip().time + 1
    };
    let value = dev().subsidy(height).units() + fees;
    let block = branch.next_with(time, &[], "m", |block| {
        let outputs = vec![pay(payee, value)];
        block.entries[0] = Entry::Coinbase(Coinbase::new(height, 0, "m", outputs));
        block.entries.extend(txs.iter().cloned().map(Entry::Tx));
    });
    branch.push(&block);
    test.node.submit_block(block.clone()).await.unwrap();
    block
}

#[tokio::test]
async fn a_spend_is_pending_then_confirmed_with_a_proof_and_balances_follow() {
    let test = TestNode::start(NodeLimits::default()).await;
    let (alice, bob) = (secret_key(1), secret_key(2));
    let mut branch = testing::Branch::new(dev());
    let first = mine(&test, &mut branch, &alice, &[], 0).await;
    for _ in 0..dev().coinbase_maturity {
        mine(&test, &mut branch, &secret_key(9), &[], 0).await;
    }
    let alice_address = format!("/api/address/{}", addr(&alice));
    let (status, view) = get(&test, &alice_address).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (view["balance"].as_u64(), view["immature"].as_u64()),
        (Some(COIN), Some(0))
    );

    let coinbase = first.coinbase().unwrap();
    let reward = (
        OutPoint {
            txid: coinbase.txid(),
            vout: 0,
        },
        coinbase.outputs[0],
    );
    let tx = signed_tx(&dev(), &alice, &[reward], vec![pay(&bob, COIN - FEE)]);
    let txid = tx.txid().to_string();
    let (status, answer) = post_tx(&test, &tx).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert_eq!(answer, json!({"txid": txid, "status": "pending"}));

    let (status, pending) = get(&test, &format!("/api/tx/{txid}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(pending["status"], "pending");
    assert_eq!(pending["fee"], FEE);
    assert_eq!(pending["inputs"][0]["address"], addr(&alice));
    assert_eq!(pending["inputs"][0]["value"], COIN);
    assert_eq!(
        pending["outputs"][0],
        json!({"address": addr(&bob), "value": COIN - FEE})
    );
    let view = get(&test, &alice_address).await.1;
    assert_eq!(view["balance"], 0, "spent by a pending transaction: {view}");
    assert_eq!(view["utxos"][0]["spent_by"], txid);
    let bob_view = get(&test, &format!("/api/address/{}", addr(&bob))).await.1;
    assert_eq!(
        (bob_view["pending"].as_u64(), &bob_view["txs"][0]),
        (Some(COIN - FEE), &json!(txid))
    );
    let status_body = get(&test, "/api/status").await.1;
    assert_eq!(status_body["mempool"]["txs"], 1);
    assert_eq!(status_body["supply"], 6 * COIN);

    let block = mine(
        &test,
        &mut branch,
        &secret_key(9),
        std::slice::from_ref(&tx),
        FEE,
    )
    .await;
    let (_, confirmed) = get(&test, &format!("/api/tx/{txid}")).await;
    assert_eq!(confirmed["status"], "confirmed", "{confirmed}");
    assert_eq!(confirmed["height"], 7);
    assert_eq!(confirmed["confirmations"], 1);
    let proof: MerkleProof = serde_json::from_value(confirmed["proof"].clone()).unwrap();
    let encoding = hex::decode(confirmed["hex"].as_str().unwrap()).unwrap();
    assert!(proof.verify_encoding(&encoding, &block.header.merkle_root));
    let bob_view = get(&test, &format!("/api/address/{}", addr(&bob))).await.1;
    assert_eq!(
        (bob_view["balance"].as_u64(), bob_view["pending"].as_u64()),
        (Some(COIN - FEE), Some(0))
    );

    let (_, detail) = get(&test, "/api/blocks/7").await;
    assert_eq!(detail["txs"][0]["coinbase"], true);
    assert_eq!(detail["reward"], COIN + FEE);
    assert_eq!(
        (detail["txs"][1]["txid"].as_str(), &detail["txs"][1]["fee"]),
        (Some(txid.as_str()), &json!(FEE))
    );
    assert_eq!(detail["txs"][1]["inputs"][0]["value"], COIN);
    assert_eq!(get(&test, "/api/status").await.1["supply"], 7 * COIN);
    test.stop().await;
}

#[tokio::test]
async fn bad_transactions_and_addresses_get_clear_errors() {
    let test = TestNode::start(NodeLimits::default()).await;
    let alice = secret_key(1);
    let mut branch = testing::Branch::new(dev());
    let first = mine(&test, &mut branch, &alice, &[], 0).await;
    for _ in 0..dev().coinbase_maturity {
        mine(&test, &mut branch, &secret_key(9), &[], 0).await;
    }
    let coinbase = first.coinbase().unwrap();
    let reward = (
        OutPoint {
            txid: coinbase.txid(),
            vout: 0,
        },
        coinbase.outputs[0],
    );
    let spend = |to: u32| {
        signed_tx(
            &dev(),
            &alice,
            &[reward],
            vec![pay(&secret_key(to), COIN - FEE)],
        )
    };
    assert_eq!(post_tx(&test, &spend(2)).await.0, StatusCode::ACCEPTED);
    assert_error(
        &post_tx(&test, &spend(3)).await,
        StatusCode::BAD_REQUEST,
        "double spend",
    );
    let not_hex = post_body(&test, json!({"tx": "zz"})).await;
    assert_error(&not_hex, StatusCode::BAD_REQUEST, "not hex");
    let short = post_body(&test, json!({"tx": "0201"})).await;
    assert_error(&short, StatusCode::BAD_REQUEST, "malformed transaction");
    let no_field = post_body(&test, json!({"data": "x"})).await;
    assert_error(&no_field, StatusCode::BAD_REQUEST, "missing field `tx`");

    assert_error(
        &get(&test, "/api/tx/123").await,
        StatusCode::BAD_REQUEST,
        "64 hex digits",
    );
    let unknown = format!("/api/tx/{}", "ab".repeat(32));
    assert_error(
        &get(&test, &unknown).await,
        StatusCode::NOT_FOUND,
        "unknown transaction",
    );
    let mut typo = addr(&alice);
    let last = typo.pop().unwrap();
    typo.push(if last == 'q' { 'p' } else { 'q' });
    assert_error(
        &get(&test, &format!("/api/address/{typo}")).await,
        StatusCode::BAD_REQUEST,
        "bad address",
    );
    let main_address = address::encode(&alice.public_key(), &ChainParams::main());
    let other_network = get(&test, &format!("/api/address/{main_address}")).await;
    assert_error(&other_network, StatusCode::BAD_REQUEST, "main");
    test.stop().await;
}
