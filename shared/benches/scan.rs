//! Nonce-scan throughput of one thread, one entry per path this CPU can run (`scan/avx2`, …):
//! `cargo bench -p bbchain-core --bench scan`.
//!
//! The target is one, which no hash meets, so every batch hashes all of its nonces. A second
//! benchmark runs the bulk SHA-256 compression the `sha2` path is built on, as a ceiling measured
//! in the same run.

use bbchain_core::mining::{Path, scan_with};
use bbchain_core::{ChainParams, Midstate, Target};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

const BATCH: u32 = 1 << 20;

fn bench_scan(c: &mut Criterion) {
    let header = ChainParams::main().genesis_block().header;
    let midstate = Midstate::new(&header);
    let impossible = Target::ONE;
    let mut group = c.benchmark_group("scan");
    group.throughput(Throughput::Elements(u64::from(BATCH)));
    group.sample_size(20);
    for path in Path::available() {
        group.bench_function(path.name(), |b| {
            let mut start = 0u32;
            b.iter(|| {
                let result = scan_with(
                    path,
                    black_box(&midstate),
                    black_box(&impossible),
                    start,
                    BATCH,
                )
                .expect("an available path runs");
                start = start.wrapping_add(BATCH);
                assert_eq!(result.nonce, None);
                result.hashes
            })
        });
    }
    group.finish();
}

/// The same SHA-256 compression function over 16 KiB per call, like `openssl speed -bytes 16384`:
/// the per-nonce cost can be no lower than two of these compressions.
fn bench_bulk_sha256(c: &mut Criterion) {
    let blocks = vec![[0x5au8; 64]; 16384 / 64];
    let mut group = c.benchmark_group("sha256");
    group.throughput(Throughput::Bytes(16384));
    group.bench_function("compress_16k", |b| {
        let mut state = [0u32; 8];
        b.iter(|| {
            sha2::block_api::compress256(&mut state, black_box(&blocks));
            state[0]
        })
    });
    group.finish();
}

criterion_group!(benches, bench_scan, bench_bulk_sha256);
criterion_main!(benches);
