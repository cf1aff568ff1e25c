//! Messages of the WebSocket work feed (`/ws/mine`), shared by the master and the native miner.
//! The browser speaks the same JSON; `docs/protocol.md` documents it.

use crate::header::Header;
use crate::target::Target;
use alloc::string::String;
use serde::{Deserialize, Serialize};

/// What a miner sends to a master.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum MinerMessage {
    /// First message: who is mining. The master answers with a job.
    Hello {
        /// Shown in the coinbase and the explorer.
        name: String,
        /// Free text such as `bbchain-native/0.1`.
        #[serde(default)]
        agent: Option<String>,
        /// The bech32m address the coinbase of this miner's blocks pays; without one, its blocks
        /// pay nobody.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        address: Option<String>,
    },
    /// A nonce that makes the job's header meet its target.
    Submit {
        /// The job the nonce is for.
        job_id: String,
        /// The nonce.
        nonce: u32,
    },
    /// The miner has searched its whole nonce range: it wants fresh work.
    GetWork,
}

/// What a master sends to a miner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum MasterMessage {
    /// Work to do.
    Job(Job),
    /// The submitted block was accepted into the chain.
    Accepted {
        /// The job it was for.
        job_id: String,
        /// The new block's hash.
        hash: String,
        /// Its height.
        height: u32,
    },
    /// The message or submitted block was refused; the connection carries on.
    Rejected {
        /// The job the submit named, if any.
        #[serde(default)]
        job_id: Option<String>,
        /// Why, in words.
        reason: String,
    },
}

/// One unit of work: a header to complete with a nonce.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    /// Names the job in submits.
    pub job_id: String,
    /// When true, every older job is void (the tip moved): stop them at once.
    pub clean: bool,
    /// Height of the block being mined.
    pub height: u32,
    /// The 80-byte header in wire byte order, as hex, nonce zero.
    pub header: String,
    /// The target as 64 big-endian hex digits.
    pub target: String,
}

/// Why a job's fields cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JobError {
    /// The header is not 160 hex digits.
    #[error("job header is not 80 bytes of hex")]
    BadHeader,
    /// The target is not 64 hex digits.
    #[error("job target is not 32 bytes of hex")]
    BadTarget,
}

impl Job {
    /// A job for `header` (its nonce is cleared) under `target`.
    pub fn new(job_id: String, clean: bool, height: u32, header: &Header, target: &Target) -> Job {
        let header = Header {
            nonce: 0,
            ..*header
        };
        Job {
            job_id,
            clean,
            height,
            header: hex::encode(header.to_bytes()),
            target: target.to_hex(),
        }
    }

    /// The header to scan.
    pub fn header(&self) -> Result<Header, JobError> {
        let mut bytes = [0u8; Header::SIZE];
        hex::decode_to_slice(&self.header, &mut bytes).map_err(|_| JobError::BadHeader)?;
        Header::from_bytes(&bytes).map_err(|_| JobError::BadHeader)
    }

    /// The target to meet.
    pub fn target(&self) -> Result<Target, JobError> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(&self.target, &mut bytes).map_err(|_| JobError::BadTarget)?;
        Target::from_be_bytes(bytes).ok_or(JobError::BadTarget)
    }
}
