//! BIP-340 signature checks per second on one core: `cargo bench -p bbchain-core --bench sign`.
//!
//! `keys::verify` (what block validation calls: it lifts the 32-byte key and parses the signature
//! on every call) runs next to `k256`'s own `verify_raw` with the key and signature parsed ahead,
//! in the same run, so the difference is the cost of bbchain's layer. The block path,
//! `spend::check_inputs` of 2-input transactions against a `BTreeMap` view (lookups, amounts, the
//! sighashes, then one `keys::verify` per input), runs in the same group, counted per input.
//! Signing is measured too.

use bbchain_core::keys::{self, PublicKey, SecretKey, Signature};
use bbchain_core::spend::{self, Utxo};
use bbchain_core::testing::{secret_key, signed_tx};
use bbchain_core::tx::{OutPoint, Transaction, TxOut};
use bbchain_core::{Amount, ChainParams, Txid};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use k256::schnorr;
use std::collections::BTreeMap;
use std::hint::black_box;

/// Distinct keys and messages, so nothing is cached between checks.
const BATCH: usize = 64;

struct Case {
    key: PublicKey,
    msg: [u8; 32],
    sig: Signature,
    k256_key: schnorr::VerifyingKey,
    k256_sig: schnorr::Signature,
}

fn cases() -> Vec<Case> {
    (0..BATCH)
        .map(|i| {
            let mut secret = [0x42u8; 32];
            secret[0] = i as u8 + 1;
            let secret = SecretKey::from_bytes(secret).unwrap();
            let msg = keys::tagged_hash("bench", &[&[i as u8]]);
            let sig = secret.sign(&msg, &[i as u8; 32]);
            let key = secret.public_key();
            Case {
                key,
                msg,
                sig,
                k256_key: schnorr::VerifyingKey::from_bytes(key.as_bytes()).unwrap(),
                k256_sig: schnorr::Signature::try_from(&sig.as_bytes()[..]).unwrap(),
            }
        })
        .collect()
}

/// `BATCH / 2` transactions of two inputs each (distinct keys), and the outputs they spend.
fn spends(params: &ChainParams) -> (Vec<Transaction>, BTreeMap<OutPoint, Utxo>) {
    let mut view = BTreeMap::new();
    let txs = (0..BATCH as u32 / 2)
        .map(|i| {
            let key = secret_key(i);
            let output = TxOut {
                value: Amount::from_units(50_000),
                key: key.public_key(),
            };
            let spent: Vec<(OutPoint, TxOut)> = (0..2)
                .map(|vout| {
                    let txid =
                        Txid::from_byte_array(keys::tagged_hash("bench", &[&i.to_le_bytes()]));
                    (OutPoint { txid, vout }, output)
                })
                .collect();
            for (outpoint, output) in &spent {
                let (height, coinbase) = (1, false);
                view.insert(
                    *outpoint,
                    Utxo {
                        output: *output,
                        height,
                        coinbase,
                    },
                );
            }
            let pay = TxOut {
                value: Amount::from_units(49_000),
                key: key.public_key(),
            };
            signed_tx(params, &key, &spent, vec![pay, pay])
        })
        .collect();
    (txs, view)
}

fn bench_verify(c: &mut Criterion) {
    let cases = cases();
    let params = ChainParams::dev();
    let genesis = params.genesis_hash();
    let (txs, view) = spends(&params);
    let mut group = c.benchmark_group("verify");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function("keys_verify", |b| {
        b.iter(|| {
            for case in &cases {
                assert!(keys::verify(
                    black_box(&case.key),
                    black_box(&case.msg),
                    black_box(&case.sig)
                ));
            }
        })
    });
    group.bench_function("k256_verify_raw_preparsed", |b| {
        b.iter(|| {
            for case in &cases {
                assert!(
                    black_box(&case.k256_key)
                        .verify_raw(black_box(&case.msg), black_box(&case.k256_sig))
                        .is_ok()
                );
            }
        })
    });
    group.bench_function("check_inputs_2in_per_input", |b| {
        b.iter(|| {
            for tx in &txs {
                let spent = spend::check_inputs(black_box(tx), &view, 10, &params, &genesis);
                assert!(spent.is_ok());
            }
        })
    });
    group.finish();
}

fn bench_sign(c: &mut Criterion) {
    let secret = SecretKey::from_bytes([0x42; 32]).unwrap();
    let mut group = c.benchmark_group("sign");
    group.throughput(Throughput::Elements(1));
    group.bench_function("keys_sign", |b| {
        let mut msg = [0u8; 32];
        b.iter(|| {
            msg[0] = msg[0].wrapping_add(1);
            secret.sign(black_box(&msg), &[7; 32])
        })
    });
    group.finish();
}

criterion_group!(benches, bench_verify, bench_sign);
criterion_main!(benches);
