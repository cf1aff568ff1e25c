//! Stratum's share difficulty: what a difficulty means as a target, and vardiff (one share every
//! few seconds per connection, and the hashrate that follows from the shares).
//!
//! Difficulty 1 is the target of Bitcoin's bits `0x1d00ffff` (`0xffff × 2^208`). bbchain's targets
//! are easier than that, so its difficulties are fractions, which miners accept.

use crate::config::stratum_limits::{
    MAX_RETARGET_FACTOR, MIN_DIFFICULTY, RETARGET_AFTER, RETARGET_DEADBAND, RETARGET_SHARES,
    SHARE_INTERVAL,
};
use bbchain_core::{BlockHash, Target};
use std::time::{Duration, Instant};

/// 2^32: the expected hashes of one share at difficulty 1 (to within 1/65536).
const HASHES_PER_DIFFICULTY_1: f64 = 4_294_967_296.0;

/// The target of difficulty 1, as a float: `0xffff × 2^208`.
fn difficulty_1_target() -> f64 {
    65_535.0 * 2f64.powi(208)
}

/// A 256-bit little-endian number (a hash or a target's bytes) as a float.
fn le_to_f64(bytes: &[u8; 32]) -> f64 {
    bytes
        .iter()
        .rev()
        .fold(0.0, |acc, &byte| acc * 256.0 + f64::from(byte))
}

/// The Stratum difficulty of a block target: how many times harder than difficulty 1 it is.
pub fn of_target(target: &Target) -> f64 {
    let mut le = target.to_be_bytes();
    le.reverse();
    difficulty_1_target() / le_to_f64(&le)
}

/// Whether `hash` is a share at `difficulty`: the hash, read as a little-endian number, is at most
/// `2^224 / difficulty`. That is cpuminer-opt's target; cpuminer's (`0xffff0000 / D × 2^192`) is
/// 1/65536 harder, so every share either miner finds passes. The comparison is in floating point:
/// a share within 2^-52 of the line may go either way, which no miner can aim at.
pub fn is_share(hash: &BlockHash, difficulty: f64) -> bool {
    le_to_f64(hash.as_byte_array()) * difficulty <= 2f64.powi(224)
}

/// One connection's vardiff: it counts the work of accepted shares and, every
/// [`RETARGET_SHARES`] shares or [`RETARGET_AFTER`], moves the difficulty toward one share per
/// [`SHARE_INTERVAL`] (by at most [`MAX_RETARGET_FACTOR`]).
#[derive(Debug, Clone)]
pub struct Vardiff {
    difficulty: f64,
    window_start: Instant,
    shares: u32,
    /// Sum of the difficulties of the window's shares.
    work: f64,
    hashrate: Option<f64>,
}

impl Vardiff {
    /// Starts at `difficulty` (raised to [`MIN_DIFFICULTY`]).
    pub fn new(difficulty: f64, now: Instant) -> Vardiff {
        Vardiff {
            difficulty: difficulty.max(MIN_DIFFICULTY),
            window_start: now,
            shares: 0,
            work: 0.0,
            hashrate: None,
        }
    }

    /// The difficulty vardiff wants now (a job uses it, or the block's if that is easier).
    pub fn difficulty(&self) -> f64 {
        self.difficulty
    }

    /// The hashrate estimated at the last retarget, in hashes per second.
    pub fn hashrate(&self) -> Option<f64> {
        self.hashrate
    }

    /// A miner's `mining.suggest_difficulty`: taken as the difficulty from now on, if it is a
    /// positive number (vardiff moves on from it).
    pub fn suggest(&mut self, difficulty: f64, now: Instant) {
        if difficulty.is_finite() && difficulty > 0.0 {
            *self = Vardiff::new(difficulty, now);
        }
    }

    /// When vardiff looks again without a share.
    pub fn retarget_at(&self) -> Instant {
        self.window_start + RETARGET_AFTER
    }

    /// Counts an accepted share of `difficulty`; returns the new difficulty if it changed.
    pub fn share(&mut self, difficulty: f64, now: Instant) -> Option<f64> {
        self.shares += 1;
        self.work += difficulty;
        if self.shares >= RETARGET_SHARES {
            return self.retarget(now);
        }
        None
    }

    /// Looks again when [`Vardiff::retarget_at`] has passed; returns the new difficulty if it
    /// changed.
    pub fn tick(&mut self, now: Instant) -> Option<f64> {
        (now >= self.retarget_at())
            .then(|| self.retarget(now))
            .flatten()
    }

    fn retarget(&mut self, now: Instant) -> Option<f64> {
        let elapsed = now
            .duration_since(self.window_start)
            .max(Duration::from_millis(1))
            .as_secs_f64();
        let wanted = if self.shares == 0 {
            self.hashrate = Some(0.0);
            self.difficulty / MAX_RETARGET_FACTOR
        } else {
            let hashrate = self.work * HASHES_PER_DIFFICULTY_1 / elapsed;
            self.hashrate = Some(hashrate);
            hashrate * SHARE_INTERVAL.as_secs_f64() / HASHES_PER_DIFFICULTY_1
        };
        let old = self.difficulty;
        let new = wanted
            .clamp(old / MAX_RETARGET_FACTOR, old * MAX_RETARGET_FACTOR)
            .max(MIN_DIFFICULTY);
        self.window_start = now;
        self.shares = 0;
        self.work = 0.0;
        if (new / old - 1.0).abs() < RETARGET_DEADBAND {
            return None;
        }
        self.difficulty = new;
        Some(new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bbchain_core::CompactTarget;

    fn target(bits: u32) -> Target {
        Target::from_compact(CompactTarget(bits)).unwrap()
    }

    #[test]
    fn difficulty_1_is_bitcoins_0x1d00ffff() {
        assert_eq!(of_target(&target(0x1d00ffff)), 1.0);
        let harder = of_target(&target(0x1b0404cb));
        assert!((harder - 16_307.420_938_523_983).abs() < 1e-6, "{harder}");
        let dev = of_target(&target(0x207fffff));
        assert!(dev > 4.65e-10 && dev < 2f64.powi(-31), "{dev}");
        let main_limit = of_target(&target(0x1e03ffff));
        assert!((main_limit * 1024.0 - 1.0).abs() < 1e-4, "{main_limit}");
    }

    /// A hash right at a difficulty's target passes, and twice it fails.
    #[test]
    fn a_share_meets_two_to_the_224_over_its_difficulty() {
        let hash_of = |value: f64| {
            // value as little-endian bytes: exact for powers of two.
            let exponent = value.log2() as usize;
            let mut bytes = [0u8; 32];
            bytes[exponent / 8] = 1 << (exponent % 8);
            BlockHash::from_byte_array(bytes)
        };
        assert!(is_share(&hash_of(2f64.powi(224)), 1.0));
        assert!(!is_share(&hash_of(2f64.powi(225)), 1.0));
        assert!(is_share(&hash_of(2f64.powi(255)), 2f64.powi(-31)));
        assert!(!is_share(&hash_of(2f64.powi(255)), 2f64.powi(-30)));
        assert!(is_share(&BlockHash::ZERO, 1e12));
    }

    #[test]
    fn vardiff_moves_toward_one_share_per_interval() {
        let start = Instant::now();
        let mut vardiff = Vardiff::new(1.0, start);
        // Eight shares in 4 s at difficulty 1 is 2^32 × 2 hashes/s: ten shares' worth per interval.
        let mut changed = None;
        for i in 1..=RETARGET_SHARES {
            changed = vardiff.share(1.0, start + Duration::from_millis(500) * i);
        }
        assert_eq!(changed, Some(MAX_RETARGET_FACTOR), "capped at the factor");
        let hashrate = vardiff.hashrate().unwrap();
        assert!((hashrate / (2.0 * HASHES_PER_DIFFICULTY_1) - 1.0).abs() < 1e-9);
        // At the right difficulty it stays put.
        let now = start + Duration::from_secs(4);
        let mut vardiff = Vardiff::new(1.0, now);
        let mut changed = None;
        for i in 1..=RETARGET_SHARES {
            changed = vardiff.share(1.0, now + SHARE_INTERVAL * i);
        }
        assert_eq!(changed, None);
        assert_eq!(vardiff.difficulty(), 1.0);
    }

    #[test]
    fn vardiff_eases_a_silent_miner_down_to_the_floor() {
        let start = Instant::now();
        let mut vardiff = Vardiff::new(1.0, start);
        assert_eq!(vardiff.tick(start + RETARGET_AFTER / 2), None, "not yet");
        let at = vardiff.retarget_at();
        assert_eq!(vardiff.tick(at), Some(1.0 / MAX_RETARGET_FACTOR));
        let mut now = at;
        for _ in 0..40 {
            now = vardiff.retarget_at();
            vardiff.tick(now);
        }
        assert_eq!(vardiff.difficulty(), MIN_DIFFICULTY);
        assert_eq!(vardiff.tick(vardiff.retarget_at()), None, "at the floor");
        vardiff.suggest(0.5, now);
        assert_eq!(vardiff.difficulty(), 0.5);
        vardiff.suggest(-1.0, now);
        assert_eq!(
            vardiff.difficulty(),
            0.5,
            "a nonsense suggestion is ignored"
        );
    }
}
