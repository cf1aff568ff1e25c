//! One job made ready for hashing, and how the mining threads share out its nonces.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use bbchain_core::protocol::{Job, JobError};
use bbchain_core::{Header, Midstate, Target};

/// How many nonces one header has: every `u32`.
pub const NONCE_SPACE: u64 = 1 << 32;

/// A run of nonces one thread hashes before it looks for new work again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Batch {
    /// First nonce of the run.
    pub start: u32,
    /// How many nonces (at least one).
    pub count: u32,
    /// True for the batch that reaches the end of the nonce space.
    pub last: bool,
}

/// Hands out disjoint batches of one job's nonce space to any number of threads.
///
/// Threads claim batches as they go rather than owning a fixed slice, so a slow thread never
/// leaves the job's tail unsearched while the others wait, and exactly one claim is the last.
#[derive(Debug, Default)]
pub struct NonceCursor {
    next: AtomicU64,
}

impl NonceCursor {
    /// The next unclaimed batch of up to `size` nonces, or `None` once every nonce is claimed.
    pub fn claim(&self, size: u32) -> Option<Batch> {
        let size = u64::from(size.max(1));
        let start = self.next.fetch_add(size, Ordering::Relaxed);
        if start >= NONCE_SPACE {
            return None;
        }
        let end = (start + size).min(NONCE_SPACE);
        Some(Batch {
            start: start as u32,
            count: (end - start) as u32,
            last: end == NONCE_SPACE,
        })
    }
}

/// Which connection a piece of work came from: job ids are only meaningful to the master that
/// issued them, so results from an earlier connection must not be submitted to a later one.
pub type SessionId = u64;

/// A job from the master, parsed and prepared for [`bbchain_core::scan`].
#[derive(Debug)]
pub struct Assignment {
    /// The connection the job came from.
    pub session: SessionId,
    /// The master's name for the job, echoed in submits.
    pub job_id: String,
    /// Height of the block being mined.
    pub height: u32,
    /// The header's fixed part.
    pub midstate: Midstate,
    /// What a block hash must not exceed.
    pub target: Target,
    cursor: NonceCursor,
    solved: AtomicBool,
}

impl Assignment {
    /// Prepares a job received on connection `session`.
    pub fn from_job(session: SessionId, job: &Job) -> Result<Assignment, JobError> {
        Ok(Assignment::new(
            session,
            job.job_id.clone(),
            job.height,
            &job.header()?,
            job.target()?,
        ))
    }

    /// An assignment to hash `header` under `target`.
    pub fn new(
        session: SessionId,
        job_id: String,
        height: u32,
        header: &Header,
        target: Target,
    ) -> Assignment {
        Assignment {
            session,
            job_id,
            height,
            midstate: Midstate::new(header),
            target,
            cursor: NonceCursor::default(),
            solved: AtomicBool::new(false),
        }
    }

    /// The next batch of this job's nonces for a thread to hash.
    pub fn claim(&self, size: u32) -> Option<Batch> {
        self.cursor.claim(size)
    }

    /// Records a solution; true only for the first, so each job is submitted at most once.
    pub fn mark_solved(&self) -> bool {
        !self.solved.swap(true, Ordering::AcqRel)
    }

    /// Whether a solution was found: a solved job is not worth more hashing.
    pub fn is_solved(&self) -> bool {
        self.solved.load(Ordering::Acquire)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn batches_cover_the_nonce_space_once_and_flag_the_last() {
        let cursor = NonceCursor::default();
        let size = 1 << 28;
        let mut next = 0u64;
        let mut lasts = 0;
        while let Some(batch) = cursor.claim(size) {
            assert_eq!(u64::from(batch.start), next, "batches are contiguous");
            next += u64::from(batch.count);
            lasts += usize::from(batch.last);
        }
        assert_eq!(next, NONCE_SPACE);
        assert_eq!(lasts, 1);
        assert_eq!(
            cursor.claim(size),
            None,
            "an exhausted cursor stays exhausted"
        );
    }

    #[test]
    fn a_short_final_batch_ends_at_the_top_nonce() {
        let cursor = NonceCursor::default();
        let size = 3_000_000_000;
        assert_eq!(
            cursor.claim(size),
            Some(Batch {
                start: 0,
                count: size,
                last: false
            })
        );
        let tail = cursor.claim(size).unwrap();
        assert_eq!(tail.start, size);
        assert_eq!(u64::from(tail.start) + u64::from(tail.count), NONCE_SPACE);
        assert!(tail.last);
    }

    #[test]
    fn concurrent_threads_claim_disjoint_batches() {
        let cursor = Arc::new(NonceCursor::default());
        let size = 1 << 20;
        let claims: Vec<Vec<Batch>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..4)
                .map(|_| {
                    let cursor = Arc::clone(&cursor);
                    scope.spawn(move || std::iter::from_fn(|| cursor.claim(size)).collect())
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let mut starts: Vec<u32> = claims.iter().flatten().map(|b| b.start).collect();
        starts.sort_unstable();
        let expected: Vec<u32> = (0..4096).map(|i| i * size).collect();
        assert_eq!(starts, expected, "every batch claimed exactly once");
        assert_eq!(claims.iter().flatten().filter(|b| b.last).count(), 1);
    }

    #[test]
    fn a_job_is_solved_once() {
        let work = Assignment::new(1, "j".into(), 1, &sample_header(), Target::MAX);
        assert!(!work.is_solved());
        assert!(work.mark_solved());
        assert!(!work.mark_solved());
        assert!(work.is_solved());
    }

    #[test]
    fn work_parses_a_feed_job() {
        let header = sample_header();
        let job = Job::new("7".into(), true, 5, &header, &Target::MAX);
        let work = Assignment::from_job(3, &job).unwrap();
        assert_eq!(
            (work.session, work.job_id.as_str(), work.height),
            (3, "7", 5)
        );
        assert_eq!(work.midstate.header_with_nonce(9).nonce, 9);
        assert_eq!(work.midstate.header_with_nonce(0), header);

        let broken = Job {
            header: "zz".into(),
            ..job
        };
        assert_eq!(
            Assignment::from_job(3, &broken).unwrap_err(),
            JobError::BadHeader
        );
    }

    pub(crate) fn sample_header() -> Header {
        Header {
            version: 1,
            prev_hash: bbchain_core::BlockHash::from_byte_array([7; 32]),
            merkle_root: bbchain_core::TxMerkleNode::from_byte_array([9; 32]),
            time: 1_763_942_400,
            bits: bbchain_core::CompactTarget(0x207f_ffff),
            nonce: 0,
        }
    }
}
