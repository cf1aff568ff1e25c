//! The session, message by message: every method, every error code (20 to 25), deadlines, job
//! refreshes and vardiff. The miner here rebuilds the header from `mining.notify` the way cpuminer
//! does (its byte orders, not the session's code), so a share it finds proves the byte orders.

use super::*;
use crate::config::stratum_limits::{RETARGET_SHARES, START_DIFFICULTY};
use bbchain_core::keys::PublicKey;
use bbchain_core::{Amount, CompactTarget, Entry, Target};

/// A block target of difficulty 2^-16 (65,536 hashes): shares at 2^-24 (256 hashes) mostly are not
/// blocks.
const BITS: u32 = 0x1f00ffff;
const SHARE_DIFFICULTY: f64 = 1.0 / 16_777_216.0;
const NOW: u32 = 1_800_000_000;

fn limits() -> SessionLimits {
    SessionLimits {
        hello_timeout: Duration::from_secs(10),
        idle_timeout: Duration::from_secs(600),
        max_errors_in_row: 5,
    }
}

fn payout() -> PublicKey {
    bbchain_core::testing::secret_key(7).public_key()
}

fn username() -> String {
    format!("{}.rig1", address::encode(&payout(), &ChainParams::dev()))
}

fn template(prev: u8, texts: usize) -> Arc<BlockTemplate> {
    let entries: Vec<Entry> = (0..texts)
        .map(|i| Entry::data(format!("text {i}")))
        .collect();
    let leaves: Vec<TxMerkleNode> = entries.iter().map(Entry::leaf_hash).collect();
    Arc::new(BlockTemplate::new(
        7,
        BlockHash::from_byte_array([prev; 32]),
        CompactTarget(BITS),
        NOW - 100,
        Amount::COIN,
        entries,
        &leaves,
    ))
}

/// Parses the lines a session sent.
fn sent(actions: &[Action]) -> Vec<Value> {
    actions
        .iter()
        .filter_map(|action| match action {
            Action::Send(line) => Some(serde_json::from_str(line).expect("JSON")),
            _ => None,
        })
        .collect()
}

/// The error code of the one reply in `actions`.
fn error_code(actions: &[Action]) -> (i64, String) {
    let lines = sent(actions);
    let error = &lines[0]["error"];
    assert!(lines[0]["result"].is_null(), "{lines:?}");
    (
        error[0].as_i64().expect("code"),
        error[1].as_str().expect("message").to_string(),
    )
}

fn request(id: u64, method: &str, params: Value) -> String {
    json!({"id": id, "method": method, "params": params}).to_string()
}

/// A session and the clock it is driven by.
struct Test {
    session: Session,
    start: Instant,
    /// The latest `mining.notify` params and the difficulty in force for it.
    job: Option<(Vec<Value>, f64)>,
    difficulty: Option<f64>,
}

impl Test {
    fn new() -> Test {
        let start = Instant::now();
        let session = Session::new(
            ChainParams::dev(),
            limits(),
            [0xa1, 0xb2, 0xc3, 0xd4],
            template(1, 3),
            start,
        );
        Test {
            session,
            start,
            job: None,
            difficulty: None,
        }
    }

    /// Remembers what the miner would: the difficulty, then the job it applies to.
    fn see(&mut self, actions: &[Action]) {
        for line in sent(actions) {
            match line["method"].as_str() {
                Some("mining.set_difficulty") => self.difficulty = line["params"][0].as_f64(),
                Some("mining.notify") => {
                    let params = line["params"].as_array().unwrap().clone();
                    self.job = Some((params, self.difficulty.expect("difficulty first")));
                }
                _ => {}
            }
        }
    }

    fn line(&mut self, line: &str) -> Vec<Action> {
        let actions = self.session.line(line, self.start, NOW);
        self.see(&actions);
        actions
    }

    fn call(&mut self, id: u64, method: &str, params: Value) -> Vec<Action> {
        self.line(&request(id, method, params))
    }

    /// Subscribed and authorized, with shares at [`SHARE_DIFFICULTY`].
    fn ready() -> Test {
        let mut test = Test::new();
        test.call(1, "mining.suggest_difficulty", json!([SHARE_DIFFICULTY]));
        test.call(2, "mining.subscribe", json!(["cpuminer/2.5.1"]));
        test.call(3, "mining.authorize", json!([username(), "x"]));
        test
    }

    fn job_id(&self) -> String {
        self.job.as_ref().unwrap().0[0]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Searches nonces of the latest job for a hash that `wanted` accepts, as cpuminer would
    /// build the header; returns the submit's params.
    fn mine(&self, extranonce2: u32, wanted: impl Fn(&[u8; 32]) -> bool) -> (Value, [u8; 32]) {
        let (job, _) = self.job.as_ref().expect("a job");
        let field = |i: usize| hex::decode(job[i].as_str().unwrap()).unwrap();
        let mut coinbase = field(2);
        coinbase.extend_from_slice(&self.session.extranonce1);
        coinbase.extend_from_slice(&extranonce2.to_be_bytes());
        coinbase.extend_from_slice(&field(3));
        let mut root = sha256d(&coinbase);
        for sibling in job[4].as_array().unwrap() {
            let mut pair = root.to_vec();
            pair.extend_from_slice(&hex::decode(sibling.as_str().unwrap()).unwrap());
            root = sha256d(&pair);
        }
        let mut header = Vec::with_capacity(80);
        let be_number = |i: usize| {
            let mut bytes = field(i);
            bytes.reverse();
            bytes
        };
        header.extend_from_slice(&be_number(5));
        for word in field(1).chunks(4) {
            header.extend(word.iter().rev());
        }
        header.extend_from_slice(&root);
        header.extend_from_slice(&be_number(7));
        header.extend_from_slice(&be_number(6));
        for nonce in 0u32.. {
            let mut full = header.clone();
            full.extend_from_slice(&nonce.to_le_bytes());
            let hash = sha256d(&full);
            if wanted(&hash) {
                let params = json!([
                    username(),
                    job[0],
                    hex::encode(extranonce2.to_be_bytes()),
                    job[7],
                    format!("{nonce:08x}")
                ]);
                return (params, hash);
            }
        }
        unreachable!()
    }

    /// A share of the latest job that is not a block.
    fn share(&self, extranonce2: u32) -> Value {
        let target = Target::from_compact(CompactTarget(BITS)).unwrap();
        let (_, difficulty) = self.job.as_ref().unwrap();
        self.mine(extranonce2, |hash| {
            let hash = BlockHash::from_byte_array(*hash);
            difficulty::is_share(&hash, *difficulty) && !target.is_met_by(&hash)
        })
        .0
    }
}

#[test]
fn subscribe_is_answered_first_with_extranonce1_and_its_size() {
    let mut test = Test::new();
    let actions = test.call(1, "mining.subscribe", json!(["cpuminer/2.5.1", null]));
    assert_eq!(actions.len(), 1, "nothing but the answer before authorize");
    let answer = &sent(&actions)[0];
    assert_eq!(answer["id"], 1);
    assert!(answer["error"].is_null());
    assert_eq!(answer["result"][0][0][0], "mining.set_difficulty");
    assert_eq!(answer["result"][0][1][0], "mining.notify");
    assert_eq!(answer["result"][1], "a1b2c3d4");
    assert_eq!(answer["result"][2], 4);
}

#[test]
fn authorize_lists_the_miner_then_sends_difficulty_then_a_clean_job() {
    let mut test = Test::new();
    test.call(1, "mining.subscribe", json!(["cpuminer/2.5.1"]));
    let actions = test.call(2, "mining.authorize", json!([username(), "x"]));
    assert_eq!(
        sent(&actions)[0],
        json!({"id": 2, "result": true, "error": null})
    );
    assert_eq!(
        actions[1],
        Action::Register {
            name: "rig1".into(),
            agent: "cpuminer/2.5.1".into()
        }
    );
    let lines = sent(&actions);
    assert_eq!(lines[1]["method"], "mining.set_difficulty");
    assert_eq!(lines[1]["params"][0], START_DIFFICULTY.min(1.0 / 65_536.0));
    assert_eq!(lines[2]["method"], "mining.notify");
    assert!(lines[2]["id"].is_null());
    let job = lines[2]["params"].as_array().unwrap();
    assert_eq!(job.len(), 9);
    assert_eq!(job[0], "1", "hex job ids");
    assert_eq!(
        job[1],
        "01".repeat(32),
        "a word-swapped prevhash of equal bytes"
    );
    assert_eq!(
        job[4].as_array().unwrap().len(),
        2,
        "3 texts + coinbase: 2 levels"
    );
    assert_eq!(job[5], "00000001");
    assert_eq!(job[6], "1f00ffff");
    assert_eq!(job[7], format!("{NOW:08x}"));
    assert_eq!(job[8], true);
}

#[test]
fn prevhash_is_word_swapped_and_the_branch_raw() {
    let mut bytes = [0u8; 32];
    for (i, byte) in bytes.iter_mut().enumerate() {
        *byte = i as u8;
    }
    let swapped = stratum_prevhash(&BlockHash::from_byte_array(bytes));
    assert!(swapped.starts_with("0302010007060504"), "{swapped}");
    let mut test = Test::ready();
    let template = test.session.template.clone();
    let job = test.job.as_ref().unwrap().0.clone();
    assert_eq!(job[4][0], hex::encode(template.branch[0].to_byte_array()));
    let actions = test.call(9, "mining.extranonce.subscribe", json!([]));
    assert_eq!(sent(&actions)[0]["result"], true);
}

#[test]
fn authorize_before_subscribe_sends_work_after_the_subscribe_answer() {
    let mut test = Test::new();
    let actions = test.call(1, "mining.authorize", json!([username(), "x"]));
    assert_eq!(sent(&actions).len(), 1, "no work before subscribe");
    let actions = test.call(2, "mining.subscribe", json!([]));
    let lines = sent(&actions);
    assert_eq!(lines[0]["id"], 2);
    assert_eq!(lines[1]["method"], "mining.set_difficulty");
    assert_eq!(lines[2]["method"], "mining.notify");
}

#[test]
fn a_bad_or_foreign_address_is_refused_with_what_is_wrong() {
    let mut test = Test::new();
    test.call(1, "mining.subscribe", json!([]));
    let main = address::encode(&payout(), &ChainParams::main());
    let (code, message) = error_code(&test.call(2, "mining.authorize", json!([main, "x"])));
    assert_eq!(code, code::UNAUTHORIZED);
    assert!(message.contains("main-network address"), "{message}");
    let (code, message) = error_code(&test.call(3, "mining.authorize", json!(["alice", "x"])));
    assert_eq!(code, code::UNAUTHORIZED);
    assert!(message.contains("payout address"), "{message}");
    let long = format!(
        "{}.{}",
        address::encode(&payout(), &ChainParams::dev()),
        "w".repeat(65)
    );
    let (code, message) = error_code(&test.call(4, "mining.authorize", json!([long, "x"])));
    assert_eq!(code, code::UNAUTHORIZED);
    assert!(message.contains("at most 64 bytes"), "{message}");
    let (code, _) = error_code(&test.call(5, "mining.authorize", json!([])));
    assert_eq!(code, code::UNAUTHORIZED);
    assert!(test.session.worker.is_none());
}

#[test]
fn a_share_is_accepted_and_counts_as_work() {
    let mut test = Test::ready();
    let params = test.share(0);
    let actions = test.call(10, "mining.submit", params);
    assert_eq!(
        sent(&actions)[0],
        json!({"id": 10, "result": true, "error": null})
    );
}

#[test]
fn a_share_that_meets_the_block_target_becomes_a_block_paying_the_address() {
    let mut test = Test::ready();
    let target = Target::from_compact(CompactTarget(BITS)).unwrap();
    let (params, hash) = test.mine(5, |hash| {
        target.is_met_by(&BlockHash::from_byte_array(*hash))
    });
    let actions = test.call(11, "mining.submit", params);
    let [Action::Submit { id, block }] = &actions[..] else {
        panic!("{actions:?}")
    };
    assert_eq!(block.hash(), BlockHash::from_byte_array(hash));
    assert_eq!(block.compute_merkle_root(), block.header.merkle_root);
    let coinbase = block.coinbase().unwrap();
    assert_eq!(coinbase.outputs[0].key, payout());
    assert_eq!(coinbase.outputs[0].value, Amount::COIN);
    assert_eq!(coinbase.miner.trim_end(), "rig1");
    assert_eq!(
        coinbase.extra_nonce.to_le_bytes(),
        [0xa1, 0xb2, 0xc3, 0xd4, 0, 0, 0, 5]
    );
    bbchain_core::validation::check_block(block, &ChainParams::dev()).expect("a valid block");
    let outcome = Ok(SubmitOutcome::Connected {
        height: 7,
        hash: block.hash(),
    });
    let answer = test
        .session
        .block_result(id.clone(), &outcome, test.start, NOW);
    assert_eq!(
        sent(&answer)[0],
        json!({"id": 11, "result": true, "error": null})
    );
    let refused = Err(SubmitError::Storage("disk full".into()));
    let answer = test
        .session
        .block_result(json!(12), &refused, test.start, NOW);
    let (code, message) = error_code(&answer);
    assert_eq!(code, code::OTHER);
    assert!(message.contains("disk full"), "{message}");
}

#[test]
fn a_duplicate_share_gets_22() {
    let mut test = Test::ready();
    let params = test.share(1);
    test.call(10, "mining.submit", params.clone());
    let (code, _) = error_code(&test.call(11, "mining.submit", params));
    assert_eq!(code, code::DUPLICATE);
}

#[test]
fn a_low_difficulty_share_gets_23() {
    let mut test = Test::ready();
    let (_, difficulty) = *test.job.as_ref().unwrap();
    let (params, _) = test.mine(2, |hash| {
        !difficulty::is_share(&BlockHash::from_byte_array(*hash), difficulty)
    });
    let (code, message) = error_code(&test.call(10, "mining.submit", params));
    assert_eq!(code, code::LOW_DIFFICULTY);
    assert!(message.contains("low difficulty"), "{message}");
}

#[test]
fn a_job_of_an_old_tip_gets_21_and_a_refresh_keeps_older_jobs() {
    let mut test = Test::ready();
    let first = test.share(3);
    let actions = test.session.new_template(template(1, 4), test.start, NOW);
    test.see(&actions);
    assert_eq!(
        test.job.as_ref().unwrap().0[8],
        false,
        "same tip: not clean"
    );
    assert_eq!(test.job_id(), "2");
    let second = test.share(3);
    let actions = test.call(10, "mining.submit", first.clone());
    assert_eq!(
        sent(&actions)[0]["result"],
        true,
        "the older job still counts"
    );
    let actions = test.session.new_template(template(2, 1), test.start, NOW);
    test.see(&actions);
    assert_eq!(test.job.as_ref().unwrap().0[8], true, "a new tip is clean");
    let (code, message) = error_code(&test.call(11, "mining.submit", second));
    assert_eq!(code, code::JOB_NOT_FOUND, "{message}");
    let mut unknown = test.share(3);
    unknown[1] = json!("ffff");
    let (code, _) = error_code(&test.call(12, "mining.submit", unknown));
    assert_eq!(code, code::JOB_NOT_FOUND);
}

#[test]
fn only_the_last_jobs_kept_take_shares() {
    let mut test = Test::ready();
    let (kept, dropped) = (test.share(30), test.share(31));
    for _ in 1..JOBS_KEPT {
        let actions = test.session.new_template(template(1, 3), test.start, NOW);
        test.see(&actions);
    }
    let answer = test.call(10, "mining.submit", kept);
    assert_eq!(
        sent(&answer)[0]["result"],
        true,
        "job 1 is one of the last {JOBS_KEPT}"
    );
    let actions = test.session.new_template(template(1, 3), test.start, NOW);
    test.see(&actions);
    let (code, _) = error_code(&test.call(11, "mining.submit", dropped));
    assert_eq!(code, code::JOB_NOT_FOUND, "job 1 is forgotten");
}

#[test]
fn submits_before_subscribe_or_authorize_or_for_another_worker_are_refused() {
    let mut test = Test::new();
    let params = json!([
        username(),
        "1",
        "00000000",
        format!("{NOW:08x}"),
        "00000000"
    ]);
    let (code, _) = error_code(&test.call(1, "mining.submit", params.clone()));
    assert_eq!(code, code::NOT_SUBSCRIBED);
    test.call(2, "mining.subscribe", json!([]));
    let (code, _) = error_code(&test.call(3, "mining.submit", params.clone()));
    assert_eq!(code, code::UNAUTHORIZED);
    test.call(4, "mining.authorize", json!([username(), "x"]));
    let mut other = params.clone();
    other[0] = json!("someone.else");
    let (code, _) = error_code(&test.call(5, "mining.submit", other));
    assert_eq!(code, code::UNAUTHORIZED);
    let other_name = format!("{}.rig2", address::encode(&payout(), &ChainParams::dev()));
    let (code, message) = error_code(&test.call(6, "mining.authorize", json!([other_name, "x"])));
    assert_eq!(code, code::UNAUTHORIZED);
    assert!(message.contains("one worker per connection"), "{message}");
    let again = test.call(7, "mining.authorize", json!([username(), "x"]));
    assert_eq!(
        sent(&again)[0]["result"],
        true,
        "the same worker again is fine"
    );
}

#[test]
fn malformed_messages_and_bad_parameters_get_20_and_the_session_carries_on() {
    let mut test = Test::ready();
    let job = test.job_id();
    let ntime = format!("{NOW:08x}");
    let submit = |params: Value| request(4, "mining.submit", params);
    let cases = [
        ("{not json".to_string(), "malformed JSON-RPC"),
        (
            r#"{"id":1,"params":[]}"#.to_string(),
            "missing field `method`",
        ),
        (
            request(2, "mining.nonsense", json!([])),
            "unknown method mining.nonsense",
        ),
        (
            r#"{"id":3,"method":"mining.submit","params":{}}"#.to_string(),
            "params must be an array",
        ),
        (
            submit(json!([username(), job, "0000", ntime, "00000000"])),
            "extranonce2 must be 8 hex digits",
        ),
        (
            submit(json!([username(), job, "00000000", "xyz", "00000000"])),
            "ntime must be 8 hex digits",
        ),
        (
            submit(json!([username(), job, "00000000", ntime])),
            "needs nonce",
        ),
        (
            submit(json!([
                username(),
                job,
                "00000000",
                format!("{:08x}", NOW + 121),
                "00000000"
            ])),
            "ntime out of range",
        ),
        (
            submit(json!([
                username(),
                job,
                "00000000",
                format!("{:08x}", NOW - 101),
                "00000000"
            ])),
            "ntime out of range",
        ),
    ];
    for (i, (line, what)) in cases.iter().enumerate() {
        let (code, message) = error_code(&test.line(line));
        assert_eq!(code, code::OTHER, "{line}");
        assert!(message.contains(what), "{line}: {message}");
        // A good share after each error: more errors than the limit in all, never in a row.
        let share = test.share(1000 + i as u32);
        let answer = test.call(5, "mining.submit", share);
        assert_eq!(sent(&answer)[0]["result"], true, "{line}");
    }
}

#[test]
fn ntime_may_roll_up_to_the_future_limit() {
    let mut test = Test::ready();
    let max = NOW + ChainParams::dev().max_future_secs;
    test.job.as_mut().unwrap().0[7] = json!(format!("{max:08x}"));
    let share = test.share(4);
    assert_eq!(
        sent(&test.call(6, "mining.submit", share))[0]["result"],
        true
    );
}

#[test]
fn a_flood_of_errors_closes_the_connection_and_a_good_share_resets_the_count() {
    let mut test = Test::ready();
    for _ in 0..limits().max_errors_in_row - 1 {
        let actions = test.line("garbage");
        assert!(!actions.iter().any(|a| matches!(a, Action::Close(_))));
    }
    let share = test.share(6);
    test.call(7, "mining.submit", share);
    for _ in 0..limits().max_errors_in_row - 1 {
        test.line("garbage");
    }
    // Stale shares are honest: a miner sends them until it sees the new tip.
    let stale = test.share(7);
    let actions = test.session.new_template(template(2, 1), test.start, NOW);
    test.see(&actions);
    for _ in 0..10 {
        let actions = test.call(8, "mining.submit", stale.clone());
        assert_eq!(error_code(&actions).0, code::JOB_NOT_FOUND);
        assert!(!actions.iter().any(|a| matches!(a, Action::Close(_))));
    }
    let actions = test.line("garbage");
    assert!(
        matches!(actions.last(), Some(Action::Close(why)) if why.contains("5 errors in a row")),
        "{actions:?}"
    );
}

#[test]
fn made_up_job_ids_count_as_errors() {
    let mut test = Test::ready();
    for made_up in ["ffff", "0", "zz", ""] {
        let mut share = test.share(3);
        share[1] = json!(made_up);
        let actions = test.call(4, "mining.submit", share);
        assert_eq!(error_code(&actions).0, code::JOB_NOT_FOUND, "{made_up}");
    }
    let mut share = test.share(3);
    share[1] = json!("fffe");
    let actions = test.call(4, "mining.submit", share);
    assert!(
        matches!(actions.last(), Some(Action::Close(why)) if why.contains("5 errors in a row")),
        "{actions:?}"
    );
}

#[test]
fn a_miner_that_never_authorizes_or_goes_silent_is_closed() {
    let mut test = Test::new();
    test.call(1, "mining.subscribe", json!([]));
    let deadline = test.session.next_wakeup();
    assert_eq!(deadline, test.start + limits().hello_timeout);
    assert!(
        test.session
            .tick(deadline - Duration::from_millis(1), NOW)
            .is_empty()
    );
    assert!(matches!(
        test.session.tick(deadline, NOW)[..],
        [Action::Close(_)]
    ));

    let mut test = Test::ready();
    let silent = test.start + limits().idle_timeout;
    assert!(
        test.session.next_wakeup() < silent,
        "a job refresh comes first"
    );
    let actions = test.session.tick(silent, NOW);
    assert!(matches!(actions[..], [Action::Close(ref why)] if why.contains("silent")));
}

#[test]
fn a_fresh_job_comes_every_refresh_period_without_a_new_tip() {
    let mut test = Test::ready();
    let first = test.job_id();
    let due = test.start + JOB_REFRESH;
    assert!(test.session.next_wakeup() <= due);
    assert!(sent(&test.session.tick(due - Duration::from_millis(1), NOW)).is_empty());
    let actions = test.session.tick(due, NOW + 30);
    test.see(&actions);
    let job = &test.job.as_ref().unwrap().0;
    assert_ne!(test.job_id(), first);
    assert_eq!(job[8], false);
    assert_eq!(job[7], format!("{:08x}", NOW + 30), "a fresh ntime");
}

#[test]
fn vardiff_raises_the_difficulty_for_quick_shares_before_the_next_job() {
    let mut test = Test::ready();
    let before = test.difficulty.unwrap();
    let mut actions = Vec::new();
    for i in 0..RETARGET_SHARES {
        let share = test.share(100 + i);
        actions = test.call(20 + u64::from(i), "mining.submit", share);
    }
    let lines = sent(&actions);
    assert_eq!(lines[0]["result"], true);
    assert_eq!(lines[1]["method"], "mining.set_difficulty");
    assert_eq!(lines[2]["method"], "mining.notify");
    assert!(test.difficulty.unwrap() > before, "{:?}", test.difficulty);
    assert!(
        actions
            .iter()
            .any(|a| matches!(a, Action::Hashrate(h) if *h > 0.0))
    );
}

#[test]
fn the_share_difficulty_never_exceeds_the_blocks() {
    let mut test = Test::new();
    test.call(1, "mining.suggest_difficulty", json!([1000.0]));
    test.call(2, "mining.subscribe", json!([]));
    test.call(3, "mining.authorize", json!([username(), "x"]));
    let block = difficulty::of_target(&Target::from_compact(CompactTarget(BITS)).unwrap());
    assert_eq!(test.difficulty, Some(block));
}

#[test]
fn a_coinbase_without_outputs_is_still_34_bytes() {
    let name = coinbase_name("w");
    let coinbase = Coinbase::new(7, 0, &name, Vec::new());
    assert_eq!(Entry::Coinbase(coinbase).encoded_len(), MIN_COINBASE_BYTES);
    assert_eq!(coinbase_name(&"x".repeat(40)).len(), 40, "long names stay");
}

#[test]
fn the_notify_line_is_what_serde_writes_for_its_params() {
    for texts in [0, 1, 5] {
        let template = template(3, texts);
        let line = notify_line("1f", &template, &[0, 1], &[2, 3, 4], NOW, false);
        let branch: Vec<String> = template
            .branch
            .iter()
            .map(|node| hex::encode(node.to_byte_array()))
            .collect();
        let expected = json!({"id": null, "method": "mining.notify", "params": [
            "1f",
            stratum_prevhash(&template.prev_hash),
            "0001",
            "020304",
            branch,
            "00000001",
            format!("{BITS:08x}"),
            format!("{NOW:08x}"),
            false
        ]});
        assert_eq!(
            serde_json::from_str::<Value>(&line).unwrap(),
            expected,
            "{line}"
        );
    }
}
