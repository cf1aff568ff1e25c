//! `cargo bench -p bbchain --bench stratum_shares`: Stratum share checks per second on one core,
//! through the master's own `stratum::session::Session::line` (docs/BENCHMARKS.md).
//!
//! One session, subscribed and authorized at difficulty 2^-32 on a block target of difficulty 1,
//! gets `mining.submit` lines with distinct nonces: each is parsed, its job looked up, its ntime
//! and duplicate checked, the coinbase assembled and hashed, the header rebuilt and hashed and
//! compared with the share target (accepted; one in 65,536 is a low-difficulty share, checked the
//! same way). The session's clock moves 5 s per share, so vardiff sees its target rate and keeps
//! the difficulty. Timed in the same run, round by round, so ratios hold on a shared machine:
//! - `share`: the full check of a new share;
//! - `duplicate`: the same share again, refused before any hashing (parse, lookup, reply);
//! - `hashes`: the two sha256d of a share alone (a 100-byte coinbase and the header), for scale.

use bbchain::node::template::BlockTemplate;
use bbchain::stratum::session::{Action, Session, SessionLimits};
use bbchain_core::hash::sha256d;
use bbchain_core::testing::secret_key;
use bbchain_core::{Amount, BlockHash, ChainParams, CompactTarget, address};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

const ROUNDS: usize = 5;
const SHARES: u32 = 100_000;
const NOW: u32 = 1_800_000_000;

fn main() {
    println!("stratum share checks, one thread, {SHARES} per round:");
    let mut figures = Vec::new();
    for round in 1..=ROUNDS {
        let share = shares_per_sec(false);
        let duplicate = shares_per_sec(true);
        let hashes = hashes_per_sec();
        println!(
            "round {round}: share {share:.0}/s, duplicate {duplicate:.0}/s, two sha256d alone {hashes:.0}/s; share / hashes {:.2}",
            share / hashes
        );
        figures.push((share, duplicate, hashes));
    }
    let median = |pick: fn(&(f64, f64, f64)) -> f64| {
        let mut values: Vec<f64> = figures.iter().map(pick).collect();
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    println!(
        "median: share {:.0}/s ({:.2} µs), duplicate {:.0}/s, two sha256d {:.0}/s",
        median(|f| f.0),
        1e6 / median(|f| f.0),
        median(|f| f.1),
        median(|f| f.2)
    );
}

/// A session ready for shares, the job id it was sent, and the username.
fn ready_session(start: Instant) -> (Session, String, String) {
    let leaves = [];
    let template = Arc::new(BlockTemplate::new(
        7,
        BlockHash::from_byte_array([1; 32]),
        CompactTarget(0x1d00ffff),
        NOW - 100,
        Amount::COIN,
        Vec::new(),
        &leaves,
    ));
    let limits = SessionLimits {
        hello_timeout: Duration::from_secs(1 << 30),
        idle_timeout: Duration::from_secs(1 << 30),
        max_errors_in_row: u32::MAX,
    };
    let mut session = Session::new(ChainParams::dev(), limits, [1, 2, 3, 4], template, start);
    let user = format!(
        "{}.bench",
        address::encode(&secret_key(1).public_key(), &ChainParams::dev())
    );
    let request = |id: u32, method: &str, params: Value| {
        json!({"id": id, "method": method, "params": params}).to_string()
    };
    let mut actions = session.line(&request(1, "mining.subscribe", json!([])), start, NOW);
    let suggest = request(
        2,
        "mining.suggest_difficulty",
        json!([1.0 / 4_294_967_296.0]),
    );
    actions.extend(session.line(&suggest, start, NOW));
    actions.extend(session.line(
        &request(3, "mining.authorize", json!([user, "x"])),
        start,
        NOW,
    ));
    let job_id = actions
        .iter()
        .find_map(|action| match action {
            Action::Send(line) if line.contains(r#""method":"mining.notify""#) => {
                let notify: Value = serde_json::from_str(line).expect("JSON");
                Some(notify["params"][0].as_str().expect("job id").to_string())
            }
            _ => None,
        })
        .expect("a job");
    (session, job_id, user)
}

/// Full checks (or duplicates) per second through `Session::line`.
fn shares_per_sec(duplicate: bool) -> f64 {
    let start = Instant::now();
    let (mut session, job_id, user) = ready_session(start);
    let line = |nonce: u32| {
        json!({"id": nonce, "method": "mining.submit",
               "params": [user, job_id, "00000000", format!("{NOW:08x}"), format!("{nonce:08x}")]})
        .to_string()
    };
    let lines: Vec<String> = (0..SHARES)
        .map(|i| line(if duplicate { 0 } else { i }))
        .collect();
    if duplicate {
        session.line(&lines[0], start, NOW);
    }
    let (mut accepted, mut refused) = (0u32, 0u32);
    let timer = Instant::now();
    for (i, line) in lines.iter().enumerate() {
        let now = start + Duration::from_secs(5 * (i as u64 + 1));
        for action in session.line(line, now, NOW) {
            if let Action::Send(reply) = action {
                if reply.contains("\"result\":true") {
                    accepted += 1;
                } else if reply.contains("\"error\":[") {
                    refused += 1;
                }
            }
        }
    }
    let rate = f64::from(SHARES) / timer.elapsed().as_secs_f64();
    if duplicate {
        assert_eq!(refused, SHARES, "every duplicate refused");
    } else {
        assert!(
            accepted >= SHARES - 20,
            "shares accepted: {accepted}, refused {refused}"
        );
    }
    rate
}

/// The two sha256d of a share alone: a coinbase of 100 bytes, then an 80-byte header.
fn hashes_per_sec() -> f64 {
    let mut coinbase = [7u8; 100];
    let mut header = [9u8; 80];
    let timer = Instant::now();
    for nonce in 0..SHARES {
        coinbase[10..14].copy_from_slice(&nonce.to_le_bytes());
        let leaf = sha256d(&coinbase);
        header[36..68].copy_from_slice(&leaf);
        header[76..80].copy_from_slice(&nonce.to_le_bytes());
        std::hint::black_box(sha256d(&header));
    }
    f64::from(SHARES) / timer.elapsed().as_secs_f64()
}
