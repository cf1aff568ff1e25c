//! The browser miner's only Rust: a thin wasm-bindgen wrapper around [`bbchain_core::scan`], so the
//! page hashes with exactly the loop the native miner runs. Everything else (the work feed, workers,
//! nonce ranges, throttling) lives in `web/js/`.
//!
//! `make wasm` builds it with `-C target-feature=+simd128`, which switches `sha2` to its WebAssembly
//! SIMD backend (measured faster in Chromium; see docs/BENCHMARKS.md).

use bbchain_core::protocol::Job;
use bbchain_core::{Midstate, Target, scan};
use wasm_bindgen::prelude::*;

/// One job prepared for scanning: the header's midstate and the target to meet.
#[wasm_bindgen]
pub struct JobScanner {
    midstate: Midstate,
    target: Target,
}

#[wasm_bindgen]
impl JobScanner {
    /// Prepares a job from the feed's `header` (160 hex digits, wire order) and `target` (64 hex
    /// digits, big-endian). Throws on malformed hex.
    #[wasm_bindgen(constructor)]
    pub fn new(header: &str, target: &str) -> Result<JobScanner, JsError> {
        let job = Job {
            job_id: String::new(),
            clean: false,
            height: 0,
            header: header.into(),
            target: target.into(),
        };
        Ok(JobScanner {
            midstate: Midstate::new(&job.header()?),
            target: job.target()?,
        })
    }

    /// Hashes nonces `start..start + count` (never past `u32::MAX`) and returns the first nonce that
    /// meets the target, or `undefined`. Workers call this in chunks so they can stop between them.
    pub fn scan(&self, start: u32, count: u32) -> Option<u32> {
        scan(&self.midstate, &self.target, start, count).nonce
    }

    /// The block hash for `nonce` in display order, to show what was found.
    #[wasm_bindgen(js_name = hashHex)]
    pub fn hash_hex(&self, nonce: u32) -> String {
        self.midstate.hash(nonce).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bbchain_core::{ChainParams, Header};

    /// The dev genesis header as the feed would send it, with its target.
    fn dev_job() -> (Header, Job) {
        let params = ChainParams::dev();
        let header = params.genesis_block().header;
        let job = Job::new(String::new(), true, 0, &header, &params.pow_limit_target());
        (header, job)
    }

    #[test]
    fn finds_the_same_nonce_as_the_core_scan() {
        let (header, job) = dev_job();
        let target = job.target().unwrap();
        let scanner = JobScanner::new(&job.header, &job.target).unwrap();
        let expected = scan(&Midstate::new(&header), &target, 1000, 5000).nonce;
        assert!(expected.is_some(), "half of all hashes meet the dev target");
        assert_eq!(scanner.scan(1000, 5000), expected);
        let nonce = expected.unwrap();
        let found = Header { nonce, ..header };
        assert_eq!(scanner.hash_hex(nonce), found.block_hash().to_string());
        assert!(target.is_met_by(&found.block_hash()));
    }

    /// The hardest target there is: only a hash of 0 or 1 meets it.
    fn hardest() -> String {
        format!("{}1", "0".repeat(63))
    }

    #[test]
    fn an_unreachable_target_finds_nothing() {
        let (_, job) = dev_job();
        let scanner = JobScanner::new(&job.header, &hardest()).unwrap();
        assert_eq!(scanner.scan(0, 10_000), None);
    }

    #[test]
    fn the_top_of_the_nonce_space_is_scanned_without_wrapping() {
        let (_, job) = dev_job();
        let scanner = JobScanner::new(&job.header, &hardest()).unwrap();
        assert_eq!(scanner.scan(u32::MAX - 10, 1000), None);
    }
}
