//! Which scan path this CPU runs fastest. The core lists the paths the CPU can run
//! ([`Path::available`]); which of them is fastest depends on the CPU (SHA-NI on AMD Zen, AVX-512
//! on many Intel cores), so the miner measures each for a moment at start and keeps the fastest.

use std::time::{Duration, Instant};

use bbchain_core::hash::sha256d;
use bbchain_core::mining::{Path, scan_with};
use bbchain_core::{BlockHash, Header, Midstate, Target, TxMerkleNode};

/// How long the miner tries each path at start, in total: tens of milliseconds, noise next to a
/// block time, enough for a few thousand batches' worth of nonces on any path.
pub const START_TRIAL: Duration = Duration::from_millis(45);

/// The trials are split into this many rounds with the paths interleaved, and each path's best
/// round counts, so a burst of other load on the machine does not decide the choice.
const TRIAL_ROUNDS: u32 = 3;

/// Nonces per scan call during a trial: a fraction of a millisecond on the fastest path.
const TRIAL_BATCH: u32 = 1 << 12;

/// One path's measured rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measured {
    /// The path.
    pub path: Path,
    /// Hashes per second on one thread.
    pub rate: f64,
}

/// The result of a self-benchmark.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    /// The fastest path.
    pub chosen: Path,
    /// Every available path's rate, in [`Path::ALL`]'s order.
    pub measured: Vec<Measured>,
}

/// The header the benchmarks hash: fixed, so figures from different runs compare.
pub fn bench_header() -> Header {
    Header {
        version: 1,
        prev_hash: BlockHash::from_byte_array(sha256d(b"bbchain benchmark")),
        merkle_root: TxMerkleNode::from_byte_array(sha256d(b"bbchain benchmark root")),
        time: 1_763_942_400,
        bits: bbchain_core::CompactTarget(0x1d00_ffff),
        nonce: 0,
    }
}

/// Measures every available path on this thread for about `trial` each and picks the fastest.
pub fn choose(trial: Duration) -> Choice {
    let midstate = Midstate::new(&bench_header());
    let paths: Vec<Path> = Path::available().collect();
    let mut measured: Vec<Measured> = paths
        .iter()
        .map(|&path| Measured { path, rate: 0.0 })
        .collect();
    let round = trial / TRIAL_ROUNDS;
    for _ in 0..TRIAL_ROUNDS {
        for entry in &mut measured {
            entry.rate = entry.rate.max(rate(entry.path, &midstate, round));
        }
    }
    Choice {
        chosen: fastest(&measured),
        measured,
    }
}

/// The path with the highest rate; on a tie the earlier one ([`Path::ALL`]'s order).
fn fastest(measured: &[Measured]) -> Path {
    measured
        .iter()
        .fold(None::<Measured>, |best, &entry| match best {
            Some(best) if best.rate >= entry.rate => Some(best),
            _ => Some(entry),
        })
        .map_or_else(Path::preferred, |best| best.path)
}

/// Hashes per second of `path` over at least `duration`, with a target no hash meets.
fn rate(path: Path, midstate: &Midstate, duration: Duration) -> f64 {
    let started = Instant::now();
    let mut hashes = 0u64;
    let mut start = 0u32;
    loop {
        let Some(result) = scan_with(path, midstate, &Target::ONE, start, TRIAL_BATCH) else {
            return 0.0;
        };
        hashes += result.hashes;
        start = start.wrapping_add(TRIAL_BATCH);
        let elapsed = started.elapsed();
        if elapsed >= duration {
            return hashes as f64 / elapsed.as_secs_f64();
        }
    }
}

/// `sha-ni 21.30 MH/s, avx2 12.01 MH/s, …` for the log.
pub fn summary(choice: &Choice) -> String {
    choice
        .measured
        .iter()
        .map(|entry| {
            format!(
                "{} {}",
                entry.path,
                super::settings::format_rate(entry.rate)
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fastest_available_path_is_chosen_and_every_one_is_measured() {
        let choice = choose(Duration::from_millis(15));
        let available: Vec<Path> = Path::available().collect();
        let measured: Vec<Path> = choice.measured.iter().map(|entry| entry.path).collect();
        assert_eq!(measured, available);
        assert!(
            choice.measured.iter().all(|entry| entry.rate > 0.0),
            "{choice:?}"
        );
        let best = choice
            .measured
            .iter()
            .map(|entry| entry.rate)
            .fold(0.0, f64::max);
        let chosen = choice
            .measured
            .iter()
            .find(|entry| entry.path == choice.chosen);
        assert_eq!(chosen.map(|entry| entry.rate), Some(best));
    }

    #[test]
    fn a_tie_goes_to_the_earlier_path_and_nothing_measured_to_the_preferred() {
        let at = |path, rate| Measured { path, rate };
        let measured = [
            at(Path::Avx2, 5.0),
            at(Path::Sha2, 9.0),
            at(Path::Portable, 9.0),
        ];
        assert_eq!(fastest(&measured), Path::Sha2);
        assert_eq!(fastest(&[]), Path::preferred());
    }
}
