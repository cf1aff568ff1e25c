//! Signature checks for the writer. A cache remembers signatures already verified, so a transaction
//! checked on its way into the mempool is not checked again when its block connects (Bitcoin's
//! signature cache); the rest of a block's signatures are verified on every core at once.

use bbchain_core::hash::sha256d;
use bbchain_core::spend::{SigCheck, SigVerifier};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

/// The cache shared by the writer and the API's callers, which verify a new transaction's
/// signatures on their own threads before the writer sees it (so intake uses every core).
pub type SharedSigCache = Arc<Mutex<SigCache>>;

/// Most signatures remembered; past it the cache starts over (a miss only costs a verification).
const MAX_CACHED: usize = 200_000;
/// Below this many signatures, threads cost more than they save.
const PARALLEL_FROM: usize = 64;

/// Signatures known to verify, by a hash of key, message and signature.
#[derive(Debug, Default)]
pub struct SigCache {
    seen: HashSet<[u8; 32]>,
}

fn cache_key(check: &SigCheck) -> [u8; 32] {
    let mut bytes = [0u8; 128];
    bytes[..32].copy_from_slice(check.key.as_bytes());
    bytes[32..64].copy_from_slice(&check.msg);
    bytes[64..].copy_from_slice(check.sig.as_bytes());
    sha256d(&bytes)
}

impl SigCache {
    /// Remembers `checks`, which all verified.
    pub fn remember(&mut self, checks: &[SigCheck]) {
        if self.seen.len() + checks.len() > MAX_CACHED {
            self.seen.clear();
        }
        self.seen.extend(checks.iter().map(cache_key));
    }

    fn knows(&self, check: &SigCheck) -> bool {
        self.seen.contains(&cache_key(check))
    }
}

/// Cores to verify on (at most 8), asked once: the answer reads cgroup files, which every block
/// would otherwise pay for.
fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get().min(8)))
}

/// Verifies what the cache does not know, on up to every core.
pub struct CachedParallel<'a> {
    /// Signatures already verified.
    pub cache: &'a Mutex<SigCache>,
}

impl SigVerifier for CachedParallel<'_> {
    fn verify_all(&mut self, checks: &[SigCheck]) -> Result<(), usize> {
        // The lock only for the lookups: other threads add to the cache while this one verifies.
        let todo: Vec<usize> = {
            let cache = self.cache.lock().expect("lock");
            (0..checks.len())
                .filter(|&i| !cache.knows(&checks[i]))
                .collect()
        };
        let first_bad = |indices: &[usize]| indices.iter().copied().find(|&i| !checks[i].verify());
        let bad = if todo.len() < PARALLEL_FROM || cores() == 1 {
            first_bad(&todo)
        } else {
            let cores = cores();
            let chunk = todo.len().div_ceil(cores);
            std::thread::scope(|scope| {
                let workers: Vec<_> = todo
                    .chunks(chunk)
                    .map(|part| scope.spawn(move || first_bad(part)))
                    .collect();
                // A worker that panicked checked nothing: never count its part as verified.
                let found = workers
                    .into_iter()
                    .filter_map(|worker| match worker.join() {
                        Ok(bad) => bad,
                        Err(panic) => std::panic::resume_unwind(panic),
                    });
                found.min()
            })
        };
        match bad {
            Some(bad) => Err(bad),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bbchain_core::keys::Signature;
    use bbchain_core::testing::secret_key;

    fn checks(count: usize, bad: Option<usize>) -> Vec<SigCheck> {
        let key = secret_key(1);
        (0..count)
            .map(|i| {
                let msg = sha256d(&i.to_le_bytes());
                let mut sig = key.sign(&msg, &[0; 32]);
                if Some(i) == bad {
                    sig = Signature::from_bytes([1; 64]);
                }
                SigCheck {
                    entry: i,
                    input: 0,
                    key: key.public_key(),
                    msg,
                    sig,
                }
            })
            .collect()
    }

    #[test]
    fn the_first_bad_signature_is_found_alone_or_in_parallel() {
        let cache = Mutex::new(SigCache::default());
        for count in [3, 200] {
            assert_eq!(
                CachedParallel { cache: &cache }.verify_all(&checks(count, None)),
                Ok(())
            );
            for bad in [0, count / 2, count - 1] {
                let result = CachedParallel { cache: &cache }.verify_all(&checks(count, Some(bad)));
                assert_eq!(result, Err(bad), "{count} checks, bad at {bad}");
            }
        }
    }

    #[test]
    fn a_remembered_signature_is_not_checked_again_but_another_is() {
        let mut cache = SigCache::default();
        let good = checks(4, None);
        cache.remember(&good);
        // The same key, message and signature: known. A changed signature is not.
        assert!(good.iter().all(|check| cache.knows(check)));
        let mut forged = good[0];
        forged.sig = Signature::from_bytes([2; 64]);
        assert!(!cache.knows(&forged));
        let shared = Mutex::new(cache);
        assert_eq!(
            CachedParallel { cache: &shared }.verify_all(&[forged]),
            Err(0)
        );
    }
}
