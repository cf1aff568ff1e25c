//! A real dev-chain master's Stratum V1 endpoint (`--stratum-port`) against the tests' own Stratum
//! client (`bbchain_e2e::stratum`, written from the protocol): mining real shares and blocks paid
//! to the miner's address, and every bad-client case of issue 14.

use bbchain_core::ChainParams;
use bbchain_core::address;
use bbchain_core::testing::secret_key;
use bbchain_e2e::stratum::{
    Ended, Job, Reply, Share, StratumClient, hash_value, sha256d, share_target, to_hex,
};
use bbchain_e2e::{Master, http_get, tcp_from, wait_for};
use serde_json::{Value, json};
use std::io::Write;
use std::time::Duration;

const PATIENCE: Duration = Duration::from_secs(60);
/// Stratum's error codes.
const JOB_NOT_FOUND: i64 = 21;
const DUPLICATE: i64 = 22;
const LOW_DIFFICULTY: i64 = 23;
const UNAUTHORIZED: i64 = 24;
const NOT_SUBSCRIBED: i64 = 25;
/// The share difficulty the tests' miners suggest: 2^-32, the easiest a master gives, below a fresh
/// dev chain's block difficulty (2^-31), so about half the shares are not blocks, and a debug-build
/// client finds them at once.
const EASY: f64 = 1.0 / 4_294_967_296.0;

/// A dev-chain master with a Stratum endpoint on a port the system picked.
struct StratumMaster {
    master: Master,
    stratum_port: u16,
}

impl StratumMaster {
    fn start(extra: &[&str]) -> StratumMaster {
        let mut args = vec!["--stratum-port", "0"];
        args.extend_from_slice(extra);
        let master = Master::start(&args);
        let stratum_port = master.process.wait_for_line(PATIENCE, stratum_port_in);
        StratumMaster {
            master,
            stratum_port,
        }
    }

    fn client(&self) -> StratumClient {
        StratumClient::connect(self.stratum_port)
    }

    /// A client from `127.0.0.<from>` (another client address for per-IP limits).
    fn client_from(&self, from: u8) -> StratumClient {
        StratumClient::over(tcp_from([127, 0, 0, from], self.stratum_port))
    }

    /// A subscribed and authorized client paying `address`, as `address.worker`, at the easiest
    /// share difficulty.
    fn miner(&self, address: &str, worker: &str) -> (StratumClient, String) {
        self.miner_at(address, worker, Some(EASY))
    }

    /// A subscribed and authorized client paying `address`, as `address.worker`, having suggested
    /// `difficulty` if any.
    fn miner_at(
        &self,
        address: &str,
        worker: &str,
        difficulty: Option<f64>,
    ) -> (StratumClient, String) {
        let mut client = self.client();
        client.subscribe();
        if let Some(difficulty) = difficulty {
            let reply = client.call("mining.suggest_difficulty", json!([difficulty]));
            assert!(reply.is_true(), "{reply:?}");
        }
        let user = format!("{address}.{worker}");
        let reply = client.authorize(&user);
        assert!(reply.is_true(), "authorize {user}: {reply:?}");
        (client, user)
    }
}

/// The port of the master's Stratum startup line (one naming "stratum" and `127.0.0.1:PORT`).
fn stratum_port_in(line: &str) -> Option<u16> {
    if !line.to_lowercase().contains("stratum") {
        return None;
    }
    let (_, rest) = line.split_once("127.0.0.1:")?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok().filter(|port| *port != 0)
}

/// The dev-chain address of test key `n`.
fn payout_address(n: u32) -> String {
    address::encode(&secret_key(n).public_key(), &ChainParams::dev())
}

/// The first share of `job` from extranonce2 `n` that meets (`meets`) or misses the share target.
fn share(client: &StratumClient, job: &Job, n: u64, meets: bool) -> Share {
    job.search(
        &client.extranonce1(),
        &client.extranonce2(n),
        &job.share_target(),
        meets,
        0,
    )
    .expect("a nonce")
}

fn assert_error(reply: &Reply, code: i64, what: &str) {
    assert_eq!(reply.error_code(), Some(code), "{what}: {reply:?}");
    assert!(
        !reply.error_message().is_empty(),
        "{what}: the error says why: {reply:?}"
    );
}

/// Whether the hash meets the job's block target.
fn is_block(job: &Job, share: &Share) -> bool {
    hash_value(&share.hash) <= job.block_target()
}

#[test]
fn a_stratum_miner_mines_shares_and_a_block_paid_to_its_address() {
    let node = StratumMaster::start(&[]);
    let master = &node.master;
    let address = payout_address(1);
    let mut client = node.client();

    // Subscribe: answered before anything else, with an extranonce1 and a size real miners take.
    let subscription = client.subscribe();
    assert!(!subscription.extranonce1.is_empty());
    assert!(
        (2..=16).contains(&subscription.extranonce2_size),
        "cpuminer-opt takes 2 to 16 bytes: {subscription:?}"
    );
    let other = node.client().subscribe();
    assert_ne!(
        other.extranonce1, subscription.extranonce1,
        "unique per connection"
    );
    assert!(
        client
            .call("mining.extranonce.subscribe", json!([]))
            .is_true()
    );
    let reply = client.authorize(&format!("{address}.rig1"));
    assert!(reply.is_true(), "{reply:?}");
    assert!(
        client
            .call("mining.suggest_difficulty", json!([0.001]))
            .error
            .is_null()
    );

    // The first job, with its difficulty announced before it.
    let (_, difficulty) = client.next_notification("mining.set_difficulty");
    assert!(difficulty > 0.0);
    let mut job = client.next_job();
    u64::from_str_radix(&job.job_id, 16).unwrap_or_else(|_| panic!("a hex job id: {job:?}"));
    let en1 = client.extranonce1();
    assert!(
        job.coinbase(&en1, &client.extranonce2(0)).len() >= 34,
        "cpuminer-opt reads the height from byte 32"
    );
    // prevhash un-swapped is the tip, as explorers show it reversed.
    let tip = master.status()["tip"].as_str().expect("tip").to_string();
    let header = job.header(&en1, &client.extranonce2(0), job.ntime(), 0);
    let mut prev = header[4..36].to_vec();
    prev.reverse();
    assert_eq!(to_hex(&prev), tip, "{job:?}");
    assert_eq!(
        u32::from_str_radix(&job.nbits, 16).unwrap(),
        u32::from_str_radix(master.status()["bits"].as_str().unwrap(), 16).unwrap()
    );

    // Mine until the master has taken at least three shares and one of them was a block.
    let mut accepted = 0;
    let mut block: Option<(Job, Share)> = None;
    let mut en2 = 0;
    while accepted < 3 || block.is_none() {
        en2 += 1;
        let share = share(&client, &job, en2, true);
        let reply = client.submit(&format!("{address}.rig1"), &share);
        match reply.error_code() {
            None => {
                assert!(reply.is_true(), "{reply:?}");
                accepted += 1;
                if is_block(&job, &share) {
                    block = Some((job.clone(), share));
                    // The new tip's job, clean.
                    job = client.next_job();
                    assert!(job.clean, "{job:?}");
                }
            }
            // The tip moved (our own block): mine the newest job.
            Some(JOB_NOT_FOUND) => job = client.next_job(),
            Some(_) => panic!("share refused: {reply:?}"),
        }
        assert!(
            en2 < 500,
            "no block after {en2} shares ({accepted} accepted)"
        );
    }

    // The block is on the chain exactly as the client built it, and pays the address.
    let (job, share) = block.expect("a block");
    let (code, stored) = http_get(&master.url(&format!("/api/blocks/{}", share.block_hash())));
    assert_eq!(code, 200, "{stored}");
    assert_eq!(stored["header"], to_hex(&share.header));
    let mut leaf = sha256d(&job.coinbase(&en1, &share.extranonce2));
    leaf.reverse();
    assert_eq!(
        stored["coinbase"]["txid"],
        to_hex(&leaf),
        "sha256d(coinb1 ‖ en1 ‖ en2 ‖ coinb2) is the coinbase"
    );
    let outputs = stored["coinbase"]["outputs"].to_string();
    assert!(
        outputs.contains(&address),
        "the coinbase pays {address}: {outputs}"
    );
    let (code, funds) = http_get(&master.url(&format!("/api/address/{address}")));
    assert_eq!(code, 200, "{funds}");
    let total = funds["balance"].as_u64().unwrap_or(0) + funds["immature"].as_u64().unwrap_or(0);
    assert!(
        total >= 100_000_000,
        "at least one block reward (1 coin): {funds}"
    );

    // The Stratum miner is listed while connected, and gone once it hangs up.
    let miners = |master: &Master| {
        let (code, nodes) = http_get(&master.url("/api/nodes"));
        assert_eq!(code, 200, "{nodes}");
        nodes["miners"].as_array().expect("miners").clone()
    };
    let listed = miners(master);
    assert!(
        listed.iter().any(|miner| miner["feed"] == "stratum"
            && miner["name"] == "rig1"
            && miner["agent"] == "bbchain-e2e/1.0"),
        "the Stratum miner is in /api/nodes under its worker name and agent: {listed:?}"
    );
    assert!(master.status()["miners"].as_u64().unwrap_or(0) >= 1);
    drop(client);
    drop(other);
    wait_for(PATIENCE, "the miner to leave /api/nodes", || {
        miners(master).is_empty().then_some(())
    });
}

#[test]
fn shares_are_checked_with_the_proper_error_and_the_connection_carries_on() {
    let node = StratumMaster::start(&[]);
    let address = payout_address(2);
    let mut client = node.client();

    // Before subscribe and authorize.
    let early = json!(["w", "1", "00000000", "00000000", "00000000"]);
    assert_error(
        &client.call("mining.submit", early.clone()),
        NOT_SUBSCRIBED,
        "submit before subscribe",
    );
    client.subscribe();
    assert!(
        client
            .call("mining.suggest_difficulty", json!([EASY]))
            .is_true()
    );
    assert_error(
        &client.call("mining.submit", early),
        UNAUTHORIZED,
        "submit before authorize",
    );

    // Addresses that cannot be paid.
    let refused = client.authorize("bbdev1notanaddress.rig");
    assert!(!refused.is_true(), "{refused:?}");
    let main_net = address::encode(&secret_key(2).public_key(), &ChainParams::main());
    let refused = client.authorize(&main_net);
    assert!(!refused.is_true(), "{refused:?}");
    let said = format!("{:?}", refused).to_lowercase();
    assert!(
        said.contains("network") || said.contains("dev"),
        "the refusal names the network: {refused:?}"
    );

    let user = format!("{address}.rig");
    assert!(client.authorize(&user).is_true());
    let job = client.next_job();

    // Unauthorized worker: another address than the one authorized.
    let good = share(&client, &job, 1, true);
    let stranger = format!("{}.rig", payout_address(3));
    assert_error(
        &client.submit(&stranger, &good),
        UNAUTHORIZED,
        "unauthorized worker",
    );
    // A job that never existed.
    let mut unknown = good.clone();
    unknown.job_id = "deadbeef".into();
    assert_error(
        &client.submit(&user, &unknown),
        JOB_NOT_FOUND,
        "unknown job",
    );
    // Malformed parameters: an error, never a close.
    let short = client.call("mining.submit", json!([user, job.job_id]));
    assert!(short.error_code().is_some(), "{short:?}");

    // Low difficulty: a hash above the share target, and above cpuminer-opt's 2^224/D too, which
    // is 1/65536 easier than cpuminer's (a master may take either). At 2^-32 every hash is a
    // share, so this miner keeps the master's own first difficulty (the block's, on dev).
    let (mut plain, plain_user) = node.miner_at(&address, "plain", None);
    let plain_job = plain.next_job();
    let easiest = share_target(plain_job.difficulty * (1.0 - 1.0 / 65536.0));
    assert!(easiest != [0xff; 32], "room for a low share: {plain_job:?}");
    let low = plain_job
        .search(
            &plain.extranonce1(),
            &plain.extranonce2(2),
            &easiest,
            false,
            0,
        )
        .expect("a nonce");
    assert_error(
        &plain.submit(&plain_user, &low),
        LOW_DIFFICULTY,
        "low difficulty share",
    );

    // A share that is not a block: accepted once, then a duplicate.
    assert!(
        job.share_target() > job.block_target(),
        "the suggested difficulty is below the block's: {job:?}"
    );
    let en1 = client.extranonce1();
    let mut start = 0;
    let not_block = loop {
        let found = job
            .search(
                &en1,
                &client.extranonce2(3),
                &job.share_target(),
                true,
                start,
            )
            .expect("a share");
        if !is_block(&job, &found) {
            break found;
        }
        start = found.nonce + 1;
    };
    let reply = client.submit(&user, &not_block);
    assert!(reply.is_true(), "{reply:?}");
    assert_error(
        &client.submit(&user, &not_block),
        DUPLICATE,
        "duplicate share",
    );
    let reply = client.submit(&user, &good);
    let block_found = is_block(&job, &good);
    assert!(reply.is_true(), "{reply:?}");

    // Stale: a job from before a new tip (mine until a block lands, then submit to the old job).
    let mut current = if block_found { client.next_job() } else { job };
    let mut en2 = 10;
    let stale_job = loop {
        en2 += 1;
        let found = share(&client, &current, en2, true);
        let reply = client.submit(&user, &found);
        if reply.error_code() == Some(JOB_NOT_FOUND) {
            current = client.next_job();
            continue;
        }
        assert!(reply.is_true(), "{reply:?}");
        if is_block(&current, &found) {
            let old = current.clone();
            current = client.next_job();
            assert!(current.clean);
            break old;
        }
        assert!(en2 < 500, "no block after {en2} shares");
    };
    let late = share(&client, &stale_job, 999, true);
    assert_error(
        &client.submit(&user, &late),
        JOB_NOT_FOUND,
        "share for a job before the tip moved",
    );

    // After all of that the connection still works.
    let fine = share(&client, &current, 1000, true);
    let reply = client.submit(&user, &fine);
    assert!(
        reply.is_true() || reply.error_code() == Some(JOB_NOT_FOUND),
        "{reply:?}"
    );
}

#[test]
fn malformed_json_and_unknown_methods_get_errors_and_the_connection_carries_on() {
    let node = StratumMaster::start(&[]);
    let mut client = node.client();

    client.send_raw(b"{\"id\": 1, \"method\": ").expect("send");
    let reply = client.reply_to(None);
    assert!(
        reply.error_code().is_some(),
        "malformed JSON gets an error: {reply:?}"
    );
    let reply = client.call("mining.dance", json!([]));
    assert!(
        reply.error_code().is_some(),
        "an unknown method gets an error: {reply:?}"
    );
    assert!(
        reply.result.is_null() || reply.result == Value::Bool(false),
        "{reply:?}"
    );

    // Still a working connection.
    client.subscribe();
    assert!(client.authorize(&payout_address(4)).is_true());
    client.next_job();
}

#[test]
fn an_over_long_line_closes_the_connection_and_the_master_carries_on() {
    let node = StratumMaster::start(&[]);
    let mut client = node.client();
    client.subscribe();
    // A megabyte without a newline, written from another thread: the master stops reading it.
    let mut writer = tcp_clone(&client);
    let flood = std::thread::spawn(move || {
        let chunk = vec![b'a'; 64 * 1024];
        for _ in 0..16 {
            if writer.write_all(&chunk).is_err() {
                return;
            }
        }
    });
    assert_eq!(
        client.wait_closed(PATIENCE),
        Ended::Closed,
        "an over-long line closes the connection"
    );
    flood.join().expect("writer");
    let (mut fresh, _) = node.miner(&payout_address(5), "after");
    fresh.next_job();
}

#[test]
fn a_flood_of_invalid_shares_closes_the_connection_and_the_master_carries_on() {
    let node = StratumMaster::start(&[]);
    // At the master's own difficulty (the block's, on dev) half the hashes are low shares.
    let (mut client, user) = node.miner_at(&payout_address(6), "flood", None);
    let job = client.next_job();
    let (en1, en2) = (client.extranonce1(), client.extranonce2(1));
    let easiest = share_target(job.difficulty * (1.0 - 1.0 / 65536.0));
    let mut lines = Vec::new();
    let mut nonce = 0;
    // Distinct low-difficulty shares (23), pipelined and bounded: the master must hang up long
    // before the end (stale shares do not count: see the burst test).
    for id in 0..1_000 {
        let low = job
            .search(&en1, &en2, &easiest, false, nonce)
            .expect("a low share");
        nonce = low.nonce + 1;
        lines.push(
            json!({"id": id, "method": "mining.submit", "params": low.params(&user)}).to_string()
                + "\n",
        );
    }
    let mut writer = tcp_clone(&client);
    let flood = std::thread::spawn(move || {
        for line in lines {
            if writer.write_all(line.as_bytes()).is_err() {
                return;
            }
        }
    });
    assert_eq!(
        client.wait_closed(PATIENCE),
        Ended::Closed,
        "a flood of invalid shares closes the connection"
    );
    flood.join().expect("writer");
    let (mut fresh, _) = node.miner(&payout_address(6), "after");
    fresh.next_job();
}

#[test]
fn the_per_ip_connection_limit_applies_to_stratum() {
    const LIMIT: usize = 4;
    let node = StratumMaster::start(&["--max-ws-per-ip", &LIMIT.to_string()]);
    let mut held: Vec<StratumClient> = (0..LIMIT)
        .map(|_| {
            let mut client = node.client_from(2);
            client.subscribe();
            client
        })
        .collect();
    // One more from the same address is refused: closed, at most after an error line.
    let mut over = node.client_from(2);
    let _ = over.send_raw(br#"{"id":1,"method":"mining.subscribe","params":[]}"#);
    assert_eq!(
        over.wait_closed(PATIENCE),
        Ended::Closed,
        "connection {} from 127.0.0.2",
        LIMIT + 1
    );
    // Feed WebSockets and Stratum connections share the budget: with one Stratum connection
    // less, a /ws/mine socket takes its place and the next Stratum connection is refused again.
    held.pop();
    let feed = wait_for(PATIENCE, "a feed socket in the freed slot", || {
        let stream = tcp_from([127, 0, 0, 2], node.master.port);
        tungstenite::client(node.master.ws_url("/ws/mine"), stream).ok()
    });
    let mut over = node.client_from(2);
    let _ = over.send_raw(br#"{"id":1,"method":"mining.subscribe","params":[]}"#);
    assert_eq!(
        over.wait_closed(PATIENCE),
        Ended::Closed,
        "the feed socket counts"
    );
    drop(feed);
    // Another address is not affected, and the held ones still work.
    let mut other = node.client_from(3);
    other.subscribe();
    assert!(held[0].authorize(&payout_address(7)).is_true());
    held[0].next_job();
    // A slot freed is a slot again.
    held.pop();
    wait_for(PATIENCE, "a freed slot", || {
        let mut again = node.client_from(2);
        let _ = again.send_raw(br#"{"id":1,"method":"mining.subscribe","params":[]}"#);
        again
            .read_message()
            .filter(|m| m["error"].is_null())
            .map(|_| ())
    });
}

/// A second handle on the client's socket, for a writer thread.
fn tcp_clone(client: &StratumClient) -> std::net::TcpStream {
    client.stream().try_clone().expect("clone")
}

/// A minerd process, killed on drop; its output goes to a file the test reads.
struct Minerd {
    child: std::process::Child,
    log: tempfile::NamedTempFile,
}

impl Minerd {
    fn log(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }
}

impl Drop for Minerd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// cpuminer 2.5.1 (`scripts/build-cpuminer.sh` builds it) mines over Stratum, unchanged: its
/// shares are accepted, its blocks join the chain and pay its address. CI has no cpuminer, so the
/// test is ignored (and says so) unless asked for:
/// `BBCHAIN_MINERD=path/to/minerd cargo test -p bbchain-e2e --test stratum_mining -- --ignored`.
#[test]
#[ignore = "needs cpuminer's minerd in BBCHAIN_MINERD (scripts/build-cpuminer.sh builds it)"]
fn a_real_cpuminer_mines_blocks_paid_to_its_address() {
    let minerd = std::env::var_os("BBCHAIN_MINERD")
        .expect("BBCHAIN_MINERD names cpuminer's minerd (scripts/build-cpuminer.sh builds it)");
    let node = StratumMaster::start(&[]);
    let master = &node.master;
    let address = payout_address(8);
    let log = tempfile::NamedTempFile::new().expect("log file");
    let child = std::process::Command::new(minerd)
        .args(["-a", "sha256d", "-t", "1", "-o"])
        .arg(format!("stratum+tcp://127.0.0.1:{}", node.stratum_port))
        .args(["-u", &format!("{address}.cpuminer"), "-p", "x"])
        .stdin(std::process::Stdio::null())
        .stdout(log.reopen().expect("log"))
        .stderr(log.reopen().expect("log"))
        .spawn()
        .expect("start minerd");
    let minerd = Minerd { child, log };

    let start = master.height();
    wait_for(Duration::from_secs(120), "blocks from minerd", || {
        (master.height() >= start + 2).then_some(())
    });
    wait_for(PATIENCE, "minerd's accepted shares", || {
        minerd.log().contains("accepted:").then_some(())
    });
    let log = minerd.log();
    assert!(log.contains("(yay!!!)"), "accepted shares:\n{log}");
    // On the dev chain every share is a block, so cpuminer's shares of a job after its first are
    // stale ("booooo"): expected. Being disconnected for them is not (see the burst test below).
    assert!(
        !log.contains("stratum_recv_line failed") && !log.contains("connection interrupted"),
        "the master kept the connection:\n{log}"
    );
    let (code, block) = http_get(&master.url(&format!("/api/blocks/{}", start + 1)));
    assert_eq!(code, 200, "{block}");
    assert!(
        block["coinbase"]["outputs"].to_string().contains(&address),
        "{block}"
    );
    let (code, funds) = http_get(&master.url(&format!("/api/address/{address}")));
    assert_eq!(code, 200, "{funds}");
    let total = funds["balance"].as_u64().unwrap_or(0) + funds["immature"].as_u64().unwrap_or(0);
    assert!(total >= 200_000_000, "two block rewards: {funds}");
}

/// What cpuminer does on the dev chain, where about every other share is a block: it submits every
/// hit of its job without waiting for answers, so after a block the rest are stale (21). Stale
/// shares after a new tip are an honest miner's, not a flood of invalid ones: they must not count
/// toward `--stratum-max-errors-in-row` (100) and close the connection.
#[test]
fn a_burst_of_stale_shares_after_a_block_keeps_the_connection() {
    let node = StratumMaster::start(&[]);
    let (mut client, user) = node.miner(&payout_address(9), "burst");
    let job = client.next_job();
    let en1 = client.extranonce1();
    let en2 = client.extranonce2(1);
    let target = job.share_target();
    let mut shares = Vec::new();
    let mut nonce = 0;
    while shares.len() < 150 {
        let found = job
            .search(&en1, &en2, &target, true, nonce)
            .expect("a share");
        nonce = found.nonce + 1;
        shares.push(found);
    }
    // Pipelined, as cpuminer's submit thread sends them.
    let mut writer = tcp_clone(&client);
    for (id, share) in shares.iter().enumerate() {
        let line =
            json!({"id": 1000 + id, "method": "mining.submit", "params": share.params(&user)});
        writer
            .write_all(format!("{line}\n").as_bytes())
            .expect("send");
    }
    let mut accepted = 0;
    for id in 0..shares.len() as u64 {
        let reply = client.reply_to(Some(1000 + id));
        if reply.is_true() {
            accepted += 1;
        } else {
            assert_eq!(reply.error_code(), Some(JOB_NOT_FOUND), "{reply:?}");
        }
    }
    assert!(accepted >= 1, "the first share was a block");
    assert!(
        client
            .call("mining.extranonce.subscribe", json!([]))
            .is_true(),
        "still connected"
    );
}

#[test]
fn garbage_bytes_close_the_connection_and_the_master_carries_on() {
    let node = StratumMaster::start(&[]);
    let mut client = node.client();
    client.subscribe();
    client
        .send_raw(&[0xff, 0xfe, 0x00, 0x80, 0xc3])
        .expect("send");
    assert_eq!(
        client.wait_closed(PATIENCE),
        Ended::Closed,
        "bytes that are not UTF-8 close the connection"
    );
    let (mut fresh, _) = node.miner(&payout_address(10), "after");
    fresh.next_job();
}

#[test]
fn a_connection_that_never_authorizes_is_closed_after_the_hello_timeout() {
    let node = StratumMaster::start(&["--hello-timeout", "1s"]);
    let mut silent = node.client();
    let mut subscribed_only = node.client();
    subscribed_only.subscribe();
    for client in [&mut silent, &mut subscribed_only] {
        assert_eq!(
            client.wait_closed(PATIENCE),
            Ended::Closed,
            "closed after --hello-timeout"
        );
    }
    // A miner that authorizes in time keeps its connection past the timeout.
    let (mut miner, _) = node.miner(&payout_address(11), "prompt");
    miner.next_job();
    assert_eq!(miner.wait_closed(Duration::from_secs(3)), Ended::Open);
}
