//! Developer tools built into the binary behind hidden flags: not part of a node, and nothing in the
//! node depends on them. `bench_feed` load-tests a master (`--bench-feed`); `bench_intake`
//! measures mempool intake over HTTP (`--bench-intake`); `generate` mines a long
//! dev chain fast for sync tests and benchmarks (`--generate`). Both are recorded in
//! `docs/BENCHMARKS.md`.

pub mod bench_feed;
pub mod bench_intake;
pub mod generate;
pub mod raw_feed;
