//! One Stratum V1 connection as plain state, without sockets: lines, templates, block results and
//! clock ticks in; [`Action`]s out (lines to send, a block to submit, a miner to list, a close).
//! The socket loop around it is `stratum::server`.
//!
//! Byte orders (docs/protocol.md, "Stratum"): `prevhash` is the header's 32 bytes with each 4-byte
//! word reversed; version, nbits and ntime are big-endian hex of the number; merkle branch entries
//! are the raw bytes; `coinb1 ‖ extranonce1 ‖ extranonce2 ‖ coinb2` is the coinbase's encoding,
//! its 8-byte extra nonce being extranonce1 ‖ extranonce2 ([`Coinbase::EXTRA_NONCE_AT`]); a
//! submit's nonce is the big-endian hex of the header's nonce value.

use super::difficulty::{self, Vardiff};
use crate::config::stratum_limits::{EXTRANONCE2_BYTES, JOB_REFRESH, JOBS_KEPT, START_DIFFICULTY};
use crate::node::{BlockTemplate, SubmitError, SubmitOutcome};
use bbchain_core::hash::sha256d;
use bbchain_core::keys::PublicKey;
use bbchain_core::validation::check_header_time;
use bbchain_core::{Block, BlockHash, ChainParams, Coinbase, TxMerkleNode, address};
use serde_json::{Value, json};
use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Stratum's error codes.
pub mod code {
    /// Anything else (malformed message, unknown method, bad parameters, a refused block).
    pub const OTHER: i64 = 20;
    /// The job is not one of the connection's current jobs.
    pub const JOB_NOT_FOUND: i64 = 21;
    /// This share was submitted before.
    pub const DUPLICATE: i64 = 22;
    /// The hash does not meet the share difficulty.
    pub const LOW_DIFFICULTY: i64 = 23;
    /// No (or another) worker was authorized.
    pub const UNAUTHORIZED: i64 = 24;
    /// `mining.subscribe` first.
    pub const NOT_SUBSCRIBED: i64 = 25;
}

/// What the socket loop does for the session.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Send this line (without its newline).
    Send(String),
    /// List the miner in `/api/nodes` and the miner counts (once authorized).
    Register {
        /// Its worker name (or `stratum`).
        name: String,
        /// Its user agent from `mining.subscribe`.
        agent: String,
    },
    /// The miner's hashrate, estimated from its shares, in hashes per second.
    Hashrate(f64),
    /// Hand this block to the node, then give the result to [`Session::block_result`] with `id`.
    Submit {
        /// The request id to answer.
        id: Value,
        /// The solved block.
        block: Box<Block>,
    },
    /// Close the connection, logging why.
    Close(String),
}

/// The limits a session enforces.
#[derive(Debug, Clone)]
pub struct SessionLimits {
    /// `mining.subscribe` and `mining.authorize` must both be done this long after the connection
    /// opened.
    pub hello_timeout: Duration,
    /// A connection silent this long is closed.
    pub idle_timeout: Duration,
    /// Errors in a row (no accepted share between) that close the connection.
    pub max_errors_in_row: u32,
}

/// One job sent to the miner.
#[derive(Debug)]
struct Job {
    id: String,
    template: Arc<BlockTemplate>,
    /// The coinbase with extra nonce 0 (the miner fills it in).
    coinbase: Coinbase,
    coinb1: Vec<u8>,
    coinb2: Vec<u8>,
    /// Share difficulty of this job.
    difficulty: f64,
    /// Shares already taken: (extranonce2, ntime, nonce).
    shares: HashSet<(u32, u32, u32)>,
}

/// The authorized worker.
#[derive(Debug)]
struct Worker {
    /// The username as sent (`address` or `address.worker`): submits must name it.
    username: String,
    /// The miner name in the coinbase.
    name: String,
    payout: PublicKey,
}

/// A Stratum connection's state.
pub struct Session {
    params: ChainParams,
    limits: SessionLimits,
    extranonce1: [u8; 4],
    /// `Some(agent)` once subscribed.
    subscribed: Option<String>,
    worker: Option<Worker>,
    template: Arc<BlockTemplate>,
    jobs: VecDeque<Job>,
    jobs_made: u64,
    /// The tip the latest job builds on.
    tip: Option<BlockHash>,
    vardiff: Vardiff,
    sent_difficulty: Option<f64>,
    errors_in_row: u32,
    opened: Instant,
    last_heard: Instant,
    /// When the next `mining.notify` is due without a new template.
    refresh_at: Option<Instant>,
    /// Vardiff changed the difficulty: the next answer sends it with a fresh job.
    retarget_due: bool,
    /// Vardiff estimated the hashrate again: the next answer or tick reports it.
    hashrate_due: bool,
}

/// Up to this many bytes of the user agent are kept.
const MAX_AGENT_BYTES: usize = 64;
/// The coinbase's miner name when the username names no worker.
const DEFAULT_WORKER: &str = "stratum";
/// A coinbase stays at least this long: cpuminer-opt reads the height it shows from byte 32 on.
const MIN_COINBASE_BYTES: usize = 34;

impl Session {
    /// A session for a new connection with this `extranonce1`, the current `template`, at `now`.
    pub fn new(
        params: ChainParams,
        limits: SessionLimits,
        extranonce1: [u8; 4],
        template: Arc<BlockTemplate>,
        now: Instant,
    ) -> Session {
        Session {
            params,
            limits,
            extranonce1,
            subscribed: None,
            worker: None,
            template,
            jobs: VecDeque::new(),
            jobs_made: 0,
            tip: None,
            vardiff: Vardiff::new(START_DIFFICULTY, now),
            sent_difficulty: None,
            errors_in_row: 0,
            opened: now,
            last_heard: now,
            refresh_at: None,
            retarget_due: false,
            hashrate_due: false,
        }
    }

    fn ready(&self) -> bool {
        self.subscribed.is_some() && self.worker.is_some()
    }

    /// When [`Session::tick`] has something to do: a deadline, a job refresh or a retarget.
    pub fn next_wakeup(&self) -> Instant {
        let mut at = self.last_heard + self.limits.idle_timeout;
        if !self.ready() {
            at = at.min(self.opened + self.limits.hello_timeout);
        }
        if let Some(refresh) = self.refresh_at {
            at = at.min(refresh).min(self.vardiff.retarget_at());
        }
        at
    }

    /// Time passed: deadlines, the periodic fresh job and vardiff without shares.
    pub fn tick(&mut self, now: Instant, unix_now: u32) -> Vec<Action> {
        if !self.ready() && now >= self.opened + self.limits.hello_timeout {
            return vec![Action::Close(
                "no mining.subscribe and mining.authorize in time".into(),
            )];
        }
        if now >= self.last_heard + self.limits.idle_timeout {
            return vec![Action::Close("silent for too long".into())];
        }
        let mut actions = Vec::new();
        if !self.ready() {
            return actions;
        }
        let hashrate = self.vardiff.hashrate();
        let retargeted = self.vardiff.tick(now).is_some();
        self.hashrate_due |= self.vardiff.hashrate() != hashrate;
        if let Some(hashrate) = self.vardiff.hashrate().filter(|_| self.hashrate_due) {
            self.hashrate_due = false;
            actions.push(Action::Hashrate(hashrate));
        }
        if retargeted || self.refresh_at.is_some_and(|at| now >= at) {
            self.push_job(&mut actions, now, unix_now);
        }
        actions
    }

    /// A new block template: a new job (clean when the tip moved) once subscribed and authorized.
    pub fn new_template(
        &mut self,
        template: Arc<BlockTemplate>,
        now: Instant,
        unix_now: u32,
    ) -> Vec<Action> {
        self.template = template;
        let mut actions = Vec::new();
        if self.ready() {
            self.push_job(&mut actions, now, unix_now);
        }
        actions
    }

    /// One line from the miner.
    pub fn line(&mut self, line: &str, now: Instant, unix_now: u32) -> Vec<Action> {
        self.last_heard = now;
        let mut actions = Vec::new();
        let request: Request = match serde_json::from_str(line) {
            Ok(request) => request,
            Err(err) => {
                let message = format!("malformed JSON-RPC request: {err}");
                self.error(&mut actions, Value::Null, code::OTHER, message);
                return actions;
            }
        };
        let id = request.id;
        let params = match request.params {
            Value::Array(params) => params,
            Value::Null => Vec::new(),
            _ => {
                self.error(&mut actions, id, code::OTHER, "params must be an array");
                return actions;
            }
        };
        match request.method.as_str() {
            "mining.subscribe" => self.subscribe(&mut actions, id, &params, now, unix_now),
            "mining.authorize" => self.authorize(&mut actions, id, &params, now, unix_now),
            "mining.submit" => self.submit(&mut actions, id, &params, now, unix_now),
            "mining.extranonce.subscribe" => actions.push(reply(id, json!(true))),
            "mining.suggest_difficulty" => {
                if let Some(difficulty) = params.first().and_then(Value::as_f64) {
                    self.vardiff.suggest(difficulty, now);
                }
                actions.push(reply(id, json!(true)));
            }
            other => {
                let message = format!("unknown method {}", truncated(other, 64));
                self.error(&mut actions, id, code::OTHER, message);
            }
        }
        actions
    }

    /// What the node made of a block from [`Action::Submit`]: the answer to that submit.
    pub fn block_result(
        &mut self,
        id: Value,
        result: &Result<SubmitOutcome, SubmitError>,
        now: Instant,
        unix_now: u32,
    ) -> Vec<Action> {
        let mut actions = Vec::new();
        match result {
            Ok(outcome) => {
                let name = match outcome {
                    SubmitOutcome::Connected { height, hash } => {
                        tracing::info!("found block {hash} at height {height}");
                        "accepted"
                    }
                    SubmitOutcome::SideBranch { .. } => "side_branch",
                    SubmitOutcome::Duplicate { .. } => "duplicate",
                };
                crate::metrics::submit(name);
                crate::metrics::stratum_share("accepted");
                self.accepted(&mut actions, id, now, unix_now);
            }
            Err(err) => {
                crate::metrics::submit("invalid");
                crate::metrics::stratum_share("invalid");
                self.error(
                    &mut actions,
                    id,
                    code::OTHER,
                    format!("block refused: {err}"),
                );
            }
        }
        actions
    }

    fn subscribe(
        &mut self,
        actions: &mut Vec<Action>,
        id: Value,
        params: &[Value],
        now: Instant,
        unix_now: u32,
    ) {
        let agent = params.first().and_then(Value::as_str).unwrap_or_default();
        let was_ready = self.ready();
        self.subscribed
            .get_or_insert_with(|| truncated(agent, MAX_AGENT_BYTES).to_string());
        let subscription = hex::encode(self.extranonce1);
        actions.push(reply(
            id,
            json!([
                [
                    ["mining.set_difficulty", subscription],
                    ["mining.notify", subscription]
                ],
                subscription,
                EXTRANONCE2_BYTES
            ]),
        ));
        if !was_ready {
            self.start_work(actions, now, unix_now);
        }
    }

    fn authorize(
        &mut self,
        actions: &mut Vec<Action>,
        id: Value,
        params: &[Value],
        now: Instant,
        unix_now: u32,
    ) {
        let Some(username) = params.first().and_then(Value::as_str) else {
            let message = "mining.authorize needs a username: your payout address";
            return self.error(actions, id, code::UNAUTHORIZED, message);
        };
        if let Some(worker) = &self.worker {
            if worker.username == username {
                return actions.push(reply(id, json!(true)));
            }
            let message = format!(
                "already authorized as {}: one worker per connection",
                worker.username
            );
            return self.error(actions, id, code::UNAUTHORIZED, message);
        }
        let (address_text, worker_name) = match username.split_once('.') {
            Some((address, worker)) => (address, worker),
            None => (username, ""),
        };
        let payout = match address::decode(address_text, &self.params) {
            Ok(key) => key,
            Err(err) => {
                let message = format!(
                    "the username must be your payout address (optionally .worker): {}: {err}",
                    truncated(address_text, 100)
                );
                return self.error(actions, id, code::UNAUTHORIZED, message);
            }
        };
        let max_name = self.params.max_miner_name_bytes;
        if worker_name.len() > max_name {
            let message = format!("worker name must be at most {max_name} bytes");
            return self.error(actions, id, code::UNAUTHORIZED, message);
        }
        let name = if worker_name.is_empty() {
            DEFAULT_WORKER
        } else {
            worker_name
        };
        self.worker = Some(Worker {
            username: username.to_string(),
            name: name.to_string(),
            payout,
        });
        actions.push(reply(id, json!(true)));
        actions.push(Action::Register {
            name: name.to_string(),
            agent: self.subscribed.clone().unwrap_or_default(),
        });
        self.start_work(actions, now, unix_now);
    }

    /// The first job, once both subscribed and authorized.
    fn start_work(&mut self, actions: &mut Vec<Action>, now: Instant, unix_now: u32) {
        if self.ready() {
            self.vardiff = Vardiff::new(self.vardiff.difficulty(), now);
            self.push_job(actions, now, unix_now);
        }
    }

    /// A new job from the current template (`mining.set_difficulty` first when it changed).
    fn push_job(&mut self, actions: &mut Vec<Action>, now: Instant, unix_now: u32) {
        let Some(worker) = &self.worker else { return };
        let template = self.template.clone();
        let clean = self.tip != Some(template.prev_hash);
        if clean {
            self.jobs.clear();
        }
        self.tip = Some(template.prev_hash);
        let coinbase = template.coinbase(&coinbase_name(&worker.name), 0, Some(&worker.payout));
        let (coinb1, coinb2) = coinbase.split_at_extra_nonce();
        let difficulty = self
            .vardiff
            .difficulty()
            .min(difficulty::of_target(&template.target));
        if self.sent_difficulty != Some(difficulty) {
            self.sent_difficulty = Some(difficulty);
            actions.push(notification("mining.set_difficulty", json!([difficulty])));
        }
        self.jobs_made += 1;
        let id = format!("{:x}", self.jobs_made);
        let time = unix_now.max(template.min_time);
        actions.push(Action::Send(notify_line(
            &id, &template, &coinb1, &coinb2, time, clean,
        )));
        if self.jobs.len() == JOBS_KEPT {
            self.jobs.pop_front();
        }
        self.jobs.push_back(Job {
            id,
            template,
            coinbase,
            coinb1,
            coinb2,
            difficulty,
            shares: HashSet::new(),
        });
        self.refresh_at = Some(now + JOB_REFRESH);
    }

    fn submit(
        &mut self,
        actions: &mut Vec<Action>,
        id: Value,
        params: &[Value],
        now: Instant,
        unix_now: u32,
    ) {
        if self.subscribed.is_none() {
            crate::metrics::stratum_share("not_subscribed");
            let message = "not subscribed: send mining.subscribe first";
            return self.error(actions, id, code::NOT_SUBSCRIBED, message);
        }
        let Some(worker) = &self.worker else {
            crate::metrics::stratum_share("unauthorized");
            let message = "unauthorized worker: send mining.authorize first";
            return self.error(actions, id, code::UNAUTHORIZED, message);
        };
        if params.first().and_then(Value::as_str) != Some(worker.username.as_str()) {
            crate::metrics::stratum_share("unauthorized");
            let message = format!(
                "unauthorized worker: this connection mines for {}",
                worker.username
            );
            return self.error(actions, id, code::UNAUTHORIZED, message);
        }
        let share = match SubmitParams::parse(params) {
            Ok(share) => share,
            Err(message) => {
                crate::metrics::stratum_share("invalid");
                return self.error(actions, id, code::OTHER, message);
            }
        };
        let Some(job) = self.jobs.iter_mut().find(|job| job.id == share.job_id) else {
            crate::metrics::stratum_share("stale");
            // An id this connection was sent is honest (stale); any other is made up, and counts.
            let issued = u64::from_str_radix(&share.job_id, 16)
                .is_ok_and(|n| (1..=self.jobs_made).contains(&n));
            if issued {
                return self.reply_stale(actions, id);
            }
            let message = "job not found: this connection was never sent that job";
            return self.error(actions, id, code::JOB_NOT_FOUND, message);
        };
        let median = job.template.min_time.saturating_sub(1);
        if let Err(err) = check_header_time(share.ntime, median, &self.params, unix_now) {
            crate::metrics::stratum_share("invalid");
            return self.error(
                actions,
                id,
                code::OTHER,
                format!("ntime out of range: {err}"),
            );
        }
        let key = (
            u32::from_be_bytes(share.extranonce2),
            share.ntime,
            share.nonce,
        );
        if job.shares.contains(&key) {
            crate::metrics::stratum_share("duplicate");
            return self.error(actions, id, code::DUPLICATE, "duplicate share");
        }
        let mut encoding = Vec::with_capacity(job.coinb1.len() + 8 + job.coinb2.len());
        encoding.extend_from_slice(&job.coinb1);
        encoding.extend_from_slice(&self.extranonce1);
        encoding.extend_from_slice(&share.extranonce2);
        encoding.extend_from_slice(&job.coinb2);
        let leaf = TxMerkleNode::from_byte_array(sha256d(&encoding));
        let header = bbchain_core::Header {
            nonce: share.nonce,
            ..job.template.header_for_leaf(&leaf, share.ntime)
        };
        let hash = header.block_hash();
        let is_block = job.template.target.is_met_by(&hash);
        if !is_block && !difficulty::is_share(&hash, job.difficulty) {
            crate::metrics::stratum_share("low_difficulty");
            let message = format!(
                "low difficulty share: {hash} is above difficulty {}",
                job.difficulty
            );
            return self.error(actions, id, code::LOW_DIFFICULTY, message);
        }
        job.shares.insert(key);
        let difficulty = job.difficulty;
        let hashrate = self.vardiff.hashrate();
        self.retarget_due |= self.vardiff.share(difficulty, now).is_some();
        self.hashrate_due |= self.vardiff.hashrate() != hashrate;
        if !is_block {
            crate::metrics::stratum_share("accepted");
            return self.accepted(actions, id, now, unix_now);
        }
        let mut extra = [0u8; 8];
        extra[..4].copy_from_slice(&self.extranonce1);
        extra[4..].copy_from_slice(&share.extranonce2);
        let coinbase = Coinbase {
            extra_nonce: u64::from_le_bytes(extra),
            ..job.coinbase.clone()
        };
        let block = job.template.block(coinbase, header);
        actions.push(Action::Submit {
            id,
            block: Box::new(block),
        });
    }

    /// Answers `true` to a share; a retarget it caused sends the new difficulty with a fresh job.
    fn accepted(&mut self, actions: &mut Vec<Action>, id: Value, now: Instant, unix_now: u32) {
        self.errors_in_row = 0;
        actions.push(reply(id, json!(true)));
        if let Some(hashrate) = self.vardiff.hashrate().filter(|_| self.hashrate_due) {
            self.hashrate_due = false;
            actions.push(Action::Hashrate(hashrate));
        }
        if std::mem::take(&mut self.retarget_due) {
            self.push_job(actions, now, unix_now);
        }
    }

    /// Answers a share for a job this connection was sent but no longer keeps (21). It does not
    /// count as an error: an honest miner sends them until it sees the new tip (on the dev chain,
    /// where every hash has even odds of being a block, hundreds per block), and they cost a lookup.
    fn reply_stale(&mut self, actions: &mut Vec<Action>, id: Value) {
        let message = "job not found: stale job";
        actions.push(Action::Send(
            json!({"id": id, "result": null, "error": [code::JOB_NOT_FOUND, message, null]})
                .to_string(),
        ));
    }

    /// Answers with an error; too many in a row close the connection.
    fn error(
        &mut self,
        actions: &mut Vec<Action>,
        id: Value,
        code: i64,
        message: impl Into<String>,
    ) {
        let message = message.into();
        tracing::debug!(code, "stratum error: {message}");
        actions.push(Action::Send(
            json!({"id": id, "result": null, "error": [code, message, null]}).to_string(),
        ));
        self.errors_in_row += 1;
        if self.errors_in_row >= self.limits.max_errors_in_row {
            actions.push(Action::Close(format!(
                "{} errors in a row without an accepted share",
                self.errors_in_row
            )));
        }
    }
}

/// A JSON-RPC request (Stratum's `params` is an array; `id` may be any JSON value).
#[derive(serde::Deserialize)]
struct Request {
    #[serde(default)]
    id: Value,
    method: String,
    #[serde(default)]
    params: Value,
}

/// The parameters of `mining.submit`: worker, job id, extranonce2, ntime, nonce (a sixth, version
/// bits, is ignored: versions do not roll here).
struct SubmitParams {
    job_id: String,
    extranonce2: [u8; EXTRANONCE2_BYTES],
    ntime: u32,
    nonce: u32,
}

impl SubmitParams {
    fn parse(params: &[Value]) -> Result<SubmitParams, String> {
        let text = |index: usize, what: &str| {
            params
                .get(index)
                .and_then(Value::as_str)
                .ok_or_else(|| format!("mining.submit needs {what} as parameter {}", index + 1))
        };
        let job_id = text(1, "the job id")?;
        let extranonce2 = hex_bytes::<EXTRANONCE2_BYTES>(text(2, "extranonce2")?)
            .ok_or_else(|| format!("extranonce2 must be {} hex digits", 2 * EXTRANONCE2_BYTES))?;
        let ntime =
            hex_bytes::<4>(text(3, "ntime")?).ok_or("ntime must be 8 hex digits (big-endian)")?;
        let nonce =
            hex_bytes::<4>(text(4, "nonce")?).ok_or("nonce must be 8 hex digits (big-endian)")?;
        Ok(SubmitParams {
            job_id: truncated(job_id, 64).to_string(),
            extranonce2,
            ntime: u32::from_be_bytes(ntime),
            nonce: u32::from_be_bytes(nonce),
        })
    }
}

/// Exactly `N` bytes of hex.
fn hex_bytes<const N: usize>(text: &str) -> Option<[u8; N]> {
    let mut bytes = [0u8; N];
    hex::decode_to_slice(text, &mut bytes).ok()?;
    Some(bytes)
}

/// The `mining.notify` line, written straight into one string (every connection sends one per new
/// tip; its fields are hex and numbers, nothing to escape). A test holds it equal to what
/// `serde_json` makes of the same params.
fn notify_line(
    id: &str,
    template: &BlockTemplate,
    coinb1: &[u8],
    coinb2: &[u8],
    time: u32,
    clean: bool,
) -> String {
    use std::fmt::Write;
    let mut line =
        String::with_capacity(200 + 2 * (coinb1.len() + coinb2.len()) + 67 * template.branch.len());
    let _ = write!(
        line,
        r#"{{"id":null,"method":"mining.notify","params":["{id}","{}","{}","{}",["#,
        stratum_prevhash(&template.prev_hash),
        hex::encode(coinb1),
        hex::encode(coinb2),
    );
    for (i, node) in template.branch.iter().enumerate() {
        let comma = if i == 0 { "" } else { "," };
        let _ = write!(line, r#"{comma}"{}""#, hex::encode(node.to_byte_array()));
    }
    let _ = write!(
        line,
        r#"],"{:08x}","{:08x}","{time:08x}",{clean}]}}"#,
        1, template.bits.0
    );
    line
}

fn reply(id: Value, result: Value) -> Action {
    Action::Send(json!({"id": id, "result": result, "error": null}).to_string())
}

fn notification(method: &str, params: Value) -> Action {
    Action::Send(json!({"id": null, "method": method, "params": params}).to_string())
}

/// At most `max` bytes of `text`, cut at a character boundary.
fn truncated(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The miner name a coinbase carries: the worker, padded with spaces so that the coinbase is at
/// least [`MIN_COINBASE_BYTES`] long even without outputs (kind, height, extra nonce, name length
/// and output count take 15 bytes).
fn coinbase_name(worker: &str) -> String {
    let min = MIN_COINBASE_BYTES - 15;
    format!("{worker:<min$}")
}

/// A block hash as Stratum's `prevhash`: its 32 bytes (internal order) with each 4-byte word
/// reversed, in hex.
fn stratum_prevhash(hash: &BlockHash) -> String {
    let mut bytes = hash.to_byte_array();
    for word in bytes.chunks_exact_mut(4) {
        word.reverse();
    }
    hex::encode(bytes)
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
