//! The browser miner's only Rust: a thin wasm-bindgen wrapper around [`bbchain_core::scan`], so the
//! page hashes with exactly the loop the native miner runs. Everything else (the work feed, workers,
//! nonce ranges, throttling) lives in `web/js/`. [`wallet`] holds the page wallet's key work.
//!
//! `make wasm` builds it twice: with `-C target-feature=+simd128` (`web/pkg`), where the core scans
//! with its 4-lane `v128` kernel (`Path::Simd128`), and without (`web/pkg-scalar`, for browsers
//! without WebAssembly SIMD), where it runs `sha2`'s software loop. See docs/BENCHMARKS.md.

pub mod wallet;

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

/// Whether the data entry `text` is in the block whose 80-byte header is `header_hex` (160 hex
/// digits, wire order), checked by the same core code the master runs: the header hashes to
/// `block_hash`, meets its own bits within `network`'s proof-of-work limit, and the merkle proof
/// (`index`, `leaves`, `siblings` as the API gives them) leads from the entry to the header's merkle
/// root. Throws on malformed input; returns false when any check fails.
#[wasm_bindgen(js_name = verifyDataProof)]
pub fn verify_data_proof(
    network: &str,
    header_hex: &str,
    block_hash: &str,
    text: &str,
    index: u32,
    leaves: u32,
    siblings: Vec<String>,
) -> Result<bool, JsError> {
    let params = bbchain_core::ChainParams::by_name(network)
        .ok_or_else(|| JsError::new(&format!("unknown network {network:?}")))?;
    let bytes = hex::decode(header_hex).map_err(|err| JsError::new(&format!("header: {err}")))?;
    let header = bbchain_core::Header::from_bytes(&bytes)
        .map_err(|err| JsError::new(&format!("header: {err}")))?;
    let claimed: bbchain_core::BlockHash = block_hash
        .parse()
        .map_err(|_| JsError::new("block hash: not 64 hex digits"))?;
    let siblings = siblings
        .iter()
        .map(|s| s.parse())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| JsError::new("proof: a sibling is not 64 hex digits"))?;
    let proof = bbchain_core::MerkleProof {
        index,
        leaves,
        siblings,
    };
    let entry = bbchain_core::Entry::data(text).to_bytes();
    Ok(header.block_hash() == claimed
        && bbchain_core::validation::check_proof_of_work(&header, &params).is_ok()
        && proof.verify_encoding(&entry, &header.merkle_root))
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

    /// A dev block with `data`, mined, and the proof of its entry `index`.
    fn block_with_proof(
        data: &[&str],
        index: usize,
    ) -> (bbchain_core::Block, bbchain_core::MerkleProof) {
        let branch = bbchain_core::testing::Branch::new(ChainParams::dev());
        let block = branch.next_with(1_700_000_000, data, "m", |_| {});
        let leaves: Vec<_> = block.entries.iter().map(|e| e.leaf_hash()).collect();
        let proof = bbchain_core::MerkleProof::build(&leaves, index).unwrap();
        (block, proof)
    }

    fn check(block: &bbchain_core::Block, text: &str, proof: &bbchain_core::MerkleProof) -> bool {
        let siblings = proof.siblings.iter().map(|s| s.to_string()).collect();
        let header = hex::encode(block.header.to_bytes());
        let hash = block.hash().to_string();
        verify_data_proof(
            "dev",
            &header,
            &hash,
            text,
            proof.index,
            proof.leaves,
            siblings,
        )
        .unwrap()
    }

    #[test]
    fn a_data_proof_verifies_and_a_tampered_one_does_not() {
        let (block, proof) = block_with_proof(&["alpha", "beta", "gamma"], 2);
        assert!(check(&block, "beta", &proof));
        assert!(!check(&block, "betA", &proof), "another text");
        let mut moved = proof.clone();
        moved.index = 1;
        assert!(!check(&block, "beta", &moved), "another position");
        let mut forged = proof.clone();
        forged.siblings[0] = bbchain_core::TxMerkleNode::from_byte_array([7; 32]);
        assert!(!check(&block, "beta", &forged), "a forged sibling");
        let mut unmined = block.clone();
        let params = ChainParams::dev();
        while bbchain_core::validation::check_proof_of_work(&unmined.header, &params).is_ok() {
            unmined.header.nonce = unmined.header.nonce.wrapping_add(1);
        }
        let siblings = proof.siblings.iter().map(|s| s.to_string()).collect();
        let header = hex::encode(unmined.header.to_bytes());
        let claimed = unmined.hash().to_string();
        let valid =
            verify_data_proof("dev", &header, &claimed, "beta", 2, proof.leaves, siblings).unwrap();
        assert!(!valid, "a header without proof of work");
    }
}
