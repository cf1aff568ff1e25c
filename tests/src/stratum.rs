//! A Stratum V1 miner for the end-to-end tests, written from the protocol as real miners speak it
//! (cpuminer 2.5.1's `util.c` and `cpu-miner.c`), sharing no code with the master: JSON-RPC lines
//! over TCP, the coinbase as `coinb1 ‖ extranonce1 ‖ extranonce2 ‖ coinb2`, the merkle root folded
//! up the branch with raw bytes, prevhash word-swapped, version/nbits/ntime and the submitted nonce
//! as big-endian hex, and share targets from cpuminer's `0xFFFF0000 / D × 2^192`.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// How long the client waits for an answer or a notification before the test fails.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// `sha256(sha256(data))`.
pub fn sha256d(data: &[u8]) -> [u8; 32] {
    Sha256::digest(Sha256::digest(data)).into()
}

/// Lowercase hex of `bytes`.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Bytes of the hex string `text` (panics on bad hex: the master must send good hex).
pub fn from_hex(text: &str) -> Vec<u8> {
    assert!(text.len().is_multiple_of(2), "odd-length hex: {text:?}");
    (0..text.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(&text[i..i + 2], 16).unwrap_or_else(|_| panic!("bad hex: {text:?}"))
        })
        .collect()
}

/// A 256-bit target as 32 bytes, most significant first, so that `<=` on arrays compares numbers.
pub type Target = [u8; 32];

/// The hash read as a 256-bit little-endian number, in the same most-significant-first form as
/// [`Target`] (what cpuminer's `fulltest` compares).
pub fn hash_value(hash: &[u8; 32]) -> Target {
    let mut value = *hash;
    value.reverse();
    value
}

/// cpuminer's `diff_to_target` for sha256d: `0xFFFF0000 / D × 2^192`, rounded down, all ones when
/// that does not fit. Computed from the f64 exactly as cpuminer does, without its 64-bit overflow
/// for difficulties below ~2^-32.
pub fn share_target(difficulty: f64) -> Target {
    assert!(difficulty > 0.0, "difficulty {difficulty}");
    let value = 4294901760.0_f64 / difficulty * 2f64.powi(192);
    if value >= 2f64.powi(256) {
        return [0xff; 32];
    }
    // value = mantissa × 2^exponent with a 53-bit mantissa: shift the mantissa into place.
    let bits = value.to_bits();
    let exponent = ((bits >> 52) & 0x7ff) as i32 - 1075;
    let mantissa = (bits & ((1 << 52) - 1)) | (1 << 52);
    let mut target = [0u8; 32];
    for (i, byte) in target.iter_mut().enumerate() {
        // Byte i (from the most significant end) covers bits 8*(31-i) .. 8*(31-i)+8.
        let low_bit = 8 * (31 - i as i32);
        let shift = low_bit - exponent;
        *byte = if shift >= 64 || shift <= -64 {
            0
        } else if shift >= 0 {
            (mantissa >> shift) as u8
        } else {
            (mantissa << -shift) as u8
        };
    }
    target
}

/// The target encoded by compact `bits` (Bitcoin's nBits), most significant byte first.
pub fn compact_target(bits: u32) -> Target {
    let exponent = (bits >> 24) as usize;
    let mantissa = bits & 0x007f_ffff;
    let mut target = [0u8; 32];
    for (k, byte) in mantissa.to_be_bytes()[1..].iter().enumerate() {
        // Mantissa byte k sits at the number's byte position exponent-1-k (from the low end).
        if let Some(position) = (exponent as isize - 1 - k as isize)
            .try_into()
            .ok()
            .filter(|p: &usize| *p < 32)
        {
            target[31 - position] = *byte;
        }
    }
    target
}

/// One `mining.notify`, with the difficulty that applies to it (the last `mining.set_difficulty`
/// received before it).
#[derive(Debug, Clone)]
pub struct Job {
    pub job_id: String,
    /// As sent: Stratum's word-swapped form.
    pub prevhash: String,
    pub coinb1: Vec<u8>,
    pub coinb2: Vec<u8>,
    pub merkle_branch: Vec<[u8; 32]>,
    /// Big-endian hex of the number, as sent.
    pub version: String,
    pub nbits: String,
    pub ntime: String,
    pub clean: bool,
    pub difficulty: f64,
}

impl Job {
    fn from_params(params: &Value, difficulty: f64) -> Job {
        let text = |i: usize| {
            params[i]
                .as_str()
                .unwrap_or_else(|| panic!("notify param {i} is not a string: {params}"))
                .to_string()
        };
        let merkle_branch = params[4]
            .as_array()
            .unwrap_or_else(|| panic!("notify param 4 is not an array: {params}"))
            .iter()
            .map(|node| {
                from_hex(node.as_str().expect("a branch entry is hex"))
                    .try_into()
                    .expect("a branch entry is 32 bytes")
            })
            .collect();
        let job = Job {
            job_id: text(0),
            prevhash: text(1),
            coinb1: from_hex(&text(2)),
            coinb2: from_hex(&text(3)),
            merkle_branch,
            version: text(5),
            nbits: text(6),
            ntime: text(7),
            clean: params[8]
                .as_bool()
                .unwrap_or_else(|| panic!("clean_jobs is not a bool: {params}")),
            difficulty,
        };
        // cpuminer refuses anything else (stratum_notify's length checks).
        assert_eq!(job.prevhash.len(), 64, "{params}");
        for field in [&job.version, &job.nbits, &job.ntime] {
            assert_eq!(field.len(), 8, "{params}");
        }
        job
    }

    /// The coinbase as the miner assembles it.
    pub fn coinbase(&self, extranonce1: &[u8], extranonce2: &[u8]) -> Vec<u8> {
        [&self.coinb1[..], extranonce1, extranonce2, &self.coinb2[..]].concat()
    }

    /// The merkle root: the coinbase's sha256d folded up the branch (`sha256d(root ‖ node)`).
    pub fn merkle_root(&self, extranonce1: &[u8], extranonce2: &[u8]) -> [u8; 32] {
        let mut root = sha256d(&self.coinbase(extranonce1, extranonce2));
        for node in &self.merkle_branch {
            root = sha256d(&[&root[..], &node[..]].concat());
        }
        root
    }

    /// The 80-byte header: version, ntime and nbits are big-endian hex of little-endian header
    /// fields; prevhash's 4-byte words are each byte-swapped; the merkle root goes in raw.
    pub fn header(
        &self,
        extranonce1: &[u8],
        extranonce2: &[u8],
        ntime: u32,
        nonce: u32,
    ) -> [u8; 80] {
        let mut header = [0u8; 80];
        header[0..4].copy_from_slice(&be_hex_u32(&self.version).to_le_bytes());
        for (word, chunk) in from_hex(&self.prevhash).chunks(4).enumerate() {
            let mut swapped: [u8; 4] = chunk.try_into().expect("4 bytes");
            swapped.reverse();
            header[4 + 4 * word..8 + 4 * word].copy_from_slice(&swapped);
        }
        header[36..68].copy_from_slice(&self.merkle_root(extranonce1, extranonce2));
        header[68..72].copy_from_slice(&ntime.to_le_bytes());
        header[72..76].copy_from_slice(&be_hex_u32(&self.nbits).to_le_bytes());
        header[76..80].copy_from_slice(&nonce.to_le_bytes());
        header
    }

    /// The job's ntime as a number.
    pub fn ntime(&self) -> u32 {
        be_hex_u32(&self.ntime)
    }

    /// The block target of the job's nbits.
    pub fn block_target(&self) -> Target {
        compact_target(be_hex_u32(&self.nbits))
    }

    /// The share target of the job's difficulty.
    pub fn share_target(&self) -> Target {
        share_target(self.difficulty)
    }

    /// The first nonce from `start` whose header hash meets (`wanted == true`) or misses
    /// (`wanted == false`) `target`, with the job's ntime.
    pub fn search(
        &self,
        extranonce1: &[u8],
        extranonce2: &[u8],
        target: &Target,
        wanted: bool,
        start: u32,
    ) -> Option<Share> {
        let mut header = self.header(extranonce1, extranonce2, self.ntime(), 0);
        let ntime = self.ntime();
        (start..=u32::MAX).find_map(|nonce| {
            header[76..80].copy_from_slice(&nonce.to_le_bytes());
            let hash = sha256d(&header);
            ((hash_value(&hash) <= *target) == wanted).then(|| Share {
                job_id: self.job_id.clone(),
                extranonce2: extranonce2.to_vec(),
                ntime,
                nonce,
                header,
                hash,
            })
        })
    }
}

/// A solved (or deliberately unsolved) header and what `mining.submit` sends for it.
#[derive(Debug, Clone)]
pub struct Share {
    pub job_id: String,
    pub extranonce2: Vec<u8>,
    pub ntime: u32,
    pub nonce: u32,
    pub header: [u8; 80],
    /// sha256d of the header, internal byte order.
    pub hash: [u8; 32],
}

impl Share {
    /// `mining.submit`'s params: worker, job id, extranonce2 hex, then ntime and nonce as
    /// big-endian hex of their little-endian header values.
    pub fn params(&self, worker: &str) -> Value {
        json!([
            worker,
            self.job_id,
            to_hex(&self.extranonce2),
            format!("{:08x}", self.ntime),
            format!("{:08x}", self.nonce),
        ])
    }

    /// The block hash as explorers and the API show it (byte-reversed).
    pub fn block_hash(&self) -> String {
        let mut hash = self.hash;
        hash.reverse();
        to_hex(&hash)
    }
}

fn be_hex_u32(text: &str) -> u32 {
    u32::from_str_radix(text, 16).unwrap_or_else(|_| panic!("not 8 hex digits: {text:?}"))
}

/// What `mining.subscribe` answered.
#[derive(Debug, Clone)]
pub struct Subscription {
    pub extranonce1: Vec<u8>,
    pub extranonce2_size: usize,
}

/// A JSON-RPC answer: `result` and `error` (`null` when absent).
#[derive(Debug, Clone)]
pub struct Reply {
    pub result: Value,
    pub error: Value,
}

impl Reply {
    /// The Stratum error code (`[code, message, data]` or `{"code": …}`), if any.
    pub fn error_code(&self) -> Option<i64> {
        match &self.error {
            Value::Null => None,
            Value::Array(parts) => parts.first().and_then(Value::as_i64),
            Value::Object(fields) => fields.get("code").and_then(Value::as_i64),
            _ => Some(-1),
        }
    }

    /// The error's message, or `""`.
    pub fn error_message(&self) -> String {
        match &self.error {
            Value::Array(parts) => parts
                .get(1)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            Value::Object(fields) => fields
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            _ => String::new(),
        }
    }

    /// Whether the answer is `true` with no error (an accepted share or authorization).
    pub fn is_true(&self) -> bool {
        self.error.is_null() && self.result == Value::Bool(true)
    }
}

/// One Stratum connection, driven one line at a time by the test.
pub struct StratumClient {
    writer: TcpStream,
    reader: BufReader<TcpStream>,
    next_id: u64,
    /// Notifications read while waiting for an answer, in arrival order, each with the
    /// difficulty in effect when it arrived.
    notifications: VecDeque<(Value, f64)>,
    /// The difficulty of the last `mining.set_difficulty` read (cpuminer's `next_diff`).
    difficulty: f64,
    pub subscription: Option<Subscription>,
}

/// How a connection ended, for the abuse tests.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    /// The master closed it (end of stream or reset).
    Closed,
    /// It was still open after the wait.
    Open,
}

impl StratumClient {
    /// Connects to `127.0.0.1:port`.
    pub fn connect(port: u16) -> StratumClient {
        StratumClient::over(
            TcpStream::connect(("127.0.0.1", port)).expect("connect to the Stratum port"),
        )
    }

    /// Wraps a connected stream (e.g. one from [`crate::tcp_from`]).
    pub fn over(stream: TcpStream) -> StratumClient {
        stream.set_nodelay(true).expect("nodelay");
        stream
            .set_read_timeout(Some(PATIENCE))
            .expect("read timeout");
        StratumClient {
            writer: stream.try_clone().expect("clone the stream"),
            reader: BufReader::new(stream),
            next_id: 1,
            notifications: VecDeque::new(),
            difficulty: 1.0,
            subscription: None,
        }
    }

    /// The connection's socket (e.g. to clone it for a writer thread).
    pub fn stream(&self) -> &TcpStream {
        &self.writer
    }

    /// Sends `line` and a newline as they are (for malformed input).
    pub fn send_raw(&mut self, line: &[u8]) -> std::io::Result<()> {
        self.writer.write_all(line)?;
        self.writer.write_all(b"\n")
    }

    /// Sends a request and returns its id.
    pub fn request(&mut self, method: &str, params: Value) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let line = json!({"id": id, "method": method, "params": params}).to_string();
        self.send_raw(line.as_bytes())
            .unwrap_or_else(|err| panic!("send {method}: {err}"));
        id
    }

    /// Reads one JSON line; `None` when the master closed the connection.
    pub fn read_message(&mut self) -> Option<Value> {
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) => None,
            Ok(_) => Some(serde_json::from_str(&line).unwrap_or_else(|err| {
                panic!("the master sent a line that is not JSON ({err}): {line:?}")
            })),
            Err(err) if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                panic!("nothing from the master within {PATIENCE:?}")
            }
            Err(_) => None,
        }
    }

    /// Reads until the answer to `id` (or, with `id` `None`, an answer with a null id), queueing the
    /// notifications in between.
    pub fn reply_to(&mut self, id: Option<u64>) -> Reply {
        loop {
            let message = self.read_message().unwrap_or_else(|| {
                panic!("the master closed the connection before answering {id:?}")
            });
            if message.get("method").is_some_and(|m| !m.is_null()) {
                self.queue(message);
                continue;
            }
            let matches = match id {
                Some(id) => message["id"].as_u64() == Some(id),
                None => message["id"].is_null(),
            };
            assert!(
                matches,
                "an answer to another request (waiting for {id:?}): {message}"
            );
            return Reply {
                result: message.get("result").cloned().unwrap_or(Value::Null),
                error: message.get("error").cloned().unwrap_or(Value::Null),
            };
        }
    }

    /// Sends a request and reads its answer.
    pub fn call(&mut self, method: &str, params: Value) -> Reply {
        let id = self.request(method, params);
        self.reply_to(Some(id))
    }

    /// Queues a notification; a `mining.set_difficulty` applies to the notifications after it.
    fn queue(&mut self, message: Value) {
        if message["method"] == "mining.set_difficulty" {
            self.difficulty = message["params"][0]
                .as_f64()
                .unwrap_or_else(|| panic!("set_difficulty without a number: {message}"));
            assert!(self.difficulty > 0.0, "{message}");
        }
        self.notifications.push_back((message, self.difficulty));
    }

    /// Reads one more message into the queue (panics if the connection closes).
    fn read_notification(&mut self, waiting_for: &str) {
        let message = self
            .read_message()
            .unwrap_or_else(|| panic!("the master closed the connection before a {waiting_for}"));
        self.queue(message);
    }

    /// The next notification named `method` (and the difficulty in effect when it came),
    /// dropping the ones before it.
    pub fn next_notification(&mut self, method: &str) -> (Value, f64) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(position) = self
                .notifications
                .iter()
                .position(|(n, _)| n["method"] == method)
            {
                let found = self.notifications.remove(position).expect("queued");
                self.notifications.drain(..position);
                return found;
            }
            assert!(Instant::now() < deadline, "no {method} within {PATIENCE:?}");
            self.read_notification(method);
        }
    }

    /// The next job, with the difficulty announced before it.
    pub fn next_job(&mut self) -> Job {
        let (notify, difficulty) = self.next_notification("mining.notify");
        Job::from_params(&notify["params"], difficulty)
    }

    /// `mining.subscribe` (as cpuminer sends it); checks the answer's shape and keeps
    /// extranonce1 and extranonce2_size.
    pub fn subscribe(&mut self) -> Subscription {
        let reply = self.call("mining.subscribe", json!(["bbchain-e2e/1.0"]));
        assert!(
            reply.error.is_null(),
            "subscribe refused: {:?}",
            reply.error
        );
        let result = &reply.result;
        let extranonce1 = from_hex(
            result[1]
                .as_str()
                .unwrap_or_else(|| panic!("no extranonce1 in {result}")),
        );
        let extranonce2_size = result[2]
            .as_u64()
            .unwrap_or_else(|| panic!("no extranonce2_size in {result}"))
            as usize;
        let subscription = Subscription {
            extranonce1,
            extranonce2_size,
        };
        self.subscription = Some(subscription.clone());
        subscription
    }

    /// `mining.authorize` with `user` (address[.worker]) and password `x`.
    pub fn authorize(&mut self, user: &str) -> Reply {
        self.call("mining.authorize", json!([user, "x"]))
    }

    /// `mining.submit` of `share` as `worker`.
    pub fn submit(&mut self, worker: &str, share: &Share) -> Reply {
        self.call("mining.submit", share.params(worker))
    }

    /// extranonce1 from the subscription (panics before subscribe).
    pub fn extranonce1(&self) -> Vec<u8> {
        self.subscription
            .as_ref()
            .expect("subscribed")
            .extranonce1
            .clone()
    }

    /// An extranonce2 of the subscribed size holding `n` (little-endian, as cpuminer counts).
    pub fn extranonce2(&self, n: u64) -> Vec<u8> {
        let size = self
            .subscription
            .as_ref()
            .expect("subscribed")
            .extranonce2_size;
        let mut bytes = n.to_le_bytes().to_vec();
        bytes.resize(size, 0);
        bytes
    }

    /// Waits until the master closes the connection (reading and dropping whatever it sends), or
    /// `wait` passes.
    pub fn wait_closed(&mut self, wait: Duration) -> Ended {
        let deadline = Instant::now() + wait;
        let mut line = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ended::Open;
            }
            self.reader
                .get_ref()
                .set_read_timeout(Some(left))
                .expect("timeout");
            line.clear();
            match self.reader.read_until(b'\n', &mut line) {
                Ok(0) => return Ended::Closed,
                Ok(_) => {}
                Err(err) if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return Ended::Open;
                }
                Err(_) => return Ended::Closed,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn display_to_internal(display: &str) -> Vec<u8> {
        let mut bytes = from_hex(display);
        bytes.reverse();
        bytes
    }

    /// Bitcoin's block 1, as a Stratum server would send it (its coinbase split anywhere around an
    /// 8-byte extranonce), must hash to the block's known hash.
    #[test]
    fn bitcoin_block_1_from_stratum_fields_hashes_to_its_known_hash() {
        let coinbase = from_hex(
            "01000000010000000000000000000000000000000000000000000000000000000000000000ffffffff0704ffff001d0104ffffffff0100f2052a0100000043410496b538e853519c726a2c91e61ec11600ae1390813a627c66fb8be7947be63c52da7589379515d4e0a604f8141781e62294721166bf621e73a82cbf2342c858eeac00000000",
        );
        let genesis =
            display_to_internal("000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f");
        let prevhash: Vec<u8> = genesis
            .chunks(4)
            .flat_map(|w| w.iter().rev().copied())
            .collect();
        let job = Job {
            job_id: "1".into(),
            prevhash: to_hex(&prevhash),
            coinb1: coinbase[..42].to_vec(),
            coinb2: coinbase[50..].to_vec(),
            merkle_branch: vec![],
            version: "00000001".into(),
            nbits: "1d00ffff".into(),
            ntime: "4966bc61".into(),
            clean: true,
            difficulty: 1.0,
        };
        let header = job.header(
            &coinbase[42..46],
            &coinbase[46..50],
            job.ntime(),
            0x9962e301,
        );
        assert_eq!(
            to_hex(&hash_value(&sha256d(&header))),
            "00000000839a8e6886ab5951d76f411475428afc90947ee320161bbf18eb6048"
        );
        let share = Share {
            job_id: job.job_id.clone(),
            extranonce2: coinbase[46..50].to_vec(),
            ntime: job.ntime(),
            nonce: 0x9962e301,
            header,
            hash: sha256d(&header),
        };
        // ntime and nonce go back as big-endian hex of their header values.
        assert_eq!(share.params("w")[3], "4966bc61");
        assert_eq!(share.params("w")[4], "9962e301");
        assert!(hash_value(&share.hash) <= job.share_target());
        assert!(hash_value(&share.hash) <= job.block_target());
    }

    /// The Stratum docs' example: a notify's prevhash and the block hash explorers show.
    #[test]
    fn prevhash_words_are_swapped_into_the_header() {
        let job = Job {
            job_id: "bf".into(),
            prevhash: "4d16b6f85af6e2198f44ae2a6de67f78487ae5611b77c6c0440b921e00000000".into(),
            coinb1: vec![1; 10],
            coinb2: vec![2; 30],
            merkle_branch: vec![[3; 32]],
            version: "20000000".into(),
            nbits: "207fffff".into(),
            ntime: "504e86b9".into(),
            clean: false,
            difficulty: 1.0,
        };
        let header = job.header(&[0; 4], &[0; 4], job.ntime(), 7);
        let prev =
            display_to_internal("00000000440b921e1b77c6c0487ae5616de67f788f44ae2a5af6e2194d16b6f8");
        assert_eq!(&header[4..36], &prev[..]);
        assert_eq!(&header[0..4], &[0, 0, 0, 0x20]);
        assert_eq!(&header[72..76], &[0xff, 0xff, 0x7f, 0x20]);
        let leaf = sha256d(&job.coinbase(&[0; 4], &[0; 4]));
        assert_eq!(
            &header[36..68],
            &sha256d(&[&leaf[..], &[3; 32][..]].concat())[..]
        );
    }

    #[test]
    fn difficulty_one_is_bitcoins_0x1d00ffff_and_fractions_are_easier() {
        assert_eq!(share_target(1.0), compact_target(0x1d00ffff));
        assert_eq!(to_hex(&share_target(1.0)[..8]), "00000000ffff0000");
        // 1/256: 256 times easier.
        assert_eq!(to_hex(&share_target(1.0 / 256.0)[..8]), "000000ffff000000");
        assert_eq!(share_target(2.0)[4..6], [0x7f, 0xff]);
        assert_eq!(share_target(1e-30), [0xff; 32]);
        assert_eq!(to_hex(&compact_target(0x207fffff)[..4]), "7fffff00");
    }
}
