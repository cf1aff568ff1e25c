//! BIP-340 signature checks per second on one core: `cargo bench -p bbchain-core --bench sign`.
//!
//! `keys::verify` (what block validation calls: it lifts the 32-byte key and parses the signature
//! on every call) runs next to `k256`'s own `verify_raw` with the key and signature parsed ahead,
//! in the same run, so the difference is the cost of bbchain's layer. Signing is measured too.

use bbchain_core::keys::{self, PublicKey, SecretKey, Signature};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use k256::schnorr;
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

fn bench_verify(c: &mut Criterion) {
    let cases = cases();
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
