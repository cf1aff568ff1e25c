//! The Stratum endpoint of a master served by `server::start`, over real loopback sockets: a miner
//! that subscribes, authorizes and mines a block paying its address, and the limits (line size,
//! connections per address, deadlines, error floods), each crossed. Clients bind 127.0.0.2,
//! 127.0.0.3, ... to stand in for different addresses.

mod common;

use bbchain::config::NodeLimits;
use bbchain::node::MinerFeed;
use bbchain_core::hash::sha256d;
use bbchain_core::{BlockHash, ChainParams, CompactTarget, Target, address};
use common::*;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpSocket;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

fn limits(change: impl FnOnce(&mut NodeLimits)) -> NodeLimits {
    let mut limits = NodeLimits::default();
    change(&mut limits);
    limits
}

fn payout_address() -> String {
    let key = bbchain_core::testing::secret_key(3).public_key();
    address::encode(&key, &ChainParams::dev())
}

/// A line-based Stratum client from `127.0.0.<from>`.
struct Client {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    next_id: u64,
}

impl Client {
    async fn connect(from: u8, addr: SocketAddr) -> Client {
        let socket = TcpSocket::new_v4().unwrap();
        socket.bind(([127, 0, 0, from], 0).into()).unwrap();
        let (read, writer) = socket.connect(addr).await.unwrap().into_split();
        Client {
            reader: BufReader::new(read),
            writer,
            next_id: 1,
        }
    }

    async fn send_raw(&mut self, bytes: &[u8]) {
        let _ = self.writer.write_all(bytes).await;
    }

    /// Sends a request; returns its id.
    async fn call(&mut self, method: &str, params: Value) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let line = json!({"id": id, "method": method, "params": params});
        self.send_raw(format!("{line}\n").as_bytes()).await;
        id
    }

    /// The next line as JSON, or `None` once the master closed the connection (fails after 10 s).
    async fn recv(&mut self) -> Option<Value> {
        let mut line = String::new();
        let read = tokio::time::timeout(Duration::from_secs(10), self.reader.read_line(&mut line))
            .await
            .expect("a line or a close within 10 s");
        match read {
            Ok(0) | Err(_) => None,
            Ok(_) => Some(serde_json::from_str(&line).expect("a JSON line")),
        }
    }

    /// Lines until the answer to `id`, which it returns; notifications go to `seen`.
    async fn answer(&mut self, id: u64, seen: &mut Vec<Value>) -> Value {
        loop {
            let line = self.recv().await.expect("an answer before the close");
            if line["id"] == id {
                return line;
            }
            seen.push(line);
        }
    }

    /// Reads until the master closes the connection; returns what came before.
    async fn until_closed(&mut self) -> Vec<Value> {
        let mut lines = Vec::new();
        while let Some(line) = self.recv().await {
            lines.push(line);
        }
        lines
    }

    /// The next `mining.notify` params (skipping other lines).
    async fn next_job(&mut self) -> Vec<Value> {
        loop {
            let line = self.recv().await.expect("a job before the close");
            if line["method"] == "mining.notify" {
                return line["params"].as_array().unwrap().clone();
            }
        }
    }

    /// Subscribes and authorizes as `username`; returns extranonce1 and the first job.
    async fn start(&mut self, username: &str) -> (Vec<u8>, Vec<Value>) {
        let id = self
            .call("mining.subscribe", json!(["test-client/1"]))
            .await;
        let subscribed = self.recv().await.expect("the subscribe answer first");
        assert_eq!(subscribed["id"], id, "{subscribed}");
        let extranonce1 = hex::decode(subscribed["result"][1].as_str().unwrap()).unwrap();
        let id = self.call("mining.authorize", json!([username, "x"])).await;
        let mut seen = Vec::new();
        assert_eq!(self.answer(id, &mut seen).await["result"], true);
        let job = self.next_job().await;
        (extranonce1, job)
    }
}

/// Solves a dev-chain job as cpuminer builds the header from `mining.notify`; returns the submit
/// params for `username`.
fn solve(job: &[Value], extranonce1: &[u8], username: &str) -> Value {
    let field = |i: usize| hex::decode(job[i].as_str().unwrap()).unwrap();
    let extranonce2 = [0u8, 0, 0, 1];
    let mut coinbase = field(2);
    coinbase.extend_from_slice(extranonce1);
    coinbase.extend_from_slice(&extranonce2);
    coinbase.extend_from_slice(&field(3));
    let mut root = sha256d(&coinbase);
    for sibling in job[4].as_array().unwrap() {
        let mut pair = root.to_vec();
        pair.extend_from_slice(&hex::decode(sibling.as_str().unwrap()).unwrap());
        root = sha256d(&pair);
    }
    let reversed = |i: usize| field(i).into_iter().rev();
    let mut header: Vec<u8> = reversed(5).collect();
    for word in field(1).chunks(4) {
        header.extend(word.iter().rev());
    }
    header.extend_from_slice(&root);
    header.extend(reversed(7));
    header.extend(reversed(6));
    let bits = u32::from_str_radix(job[6].as_str().unwrap(), 16).unwrap();
    let target = Target::from_compact(CompactTarget(bits)).unwrap();
    for nonce in 0u32.. {
        let mut full = header.clone();
        full.extend_from_slice(&nonce.to_le_bytes());
        if target.is_met_by(&BlockHash::from_byte_array(sha256d(&full))) {
            return json!([
                username,
                job[0],
                hex::encode(extranonce2),
                job[7],
                format!("{nonce:08x}")
            ]);
        }
    }
    unreachable!()
}

#[tokio::test]
async fn a_stratum_miner_mines_a_block_that_pays_its_address() {
    let test = TestNode::start_stratum(NodeLimits::default()).await;
    let stratum = test.stratum.expect("a Stratum listener");
    let username = format!("{}.rig", payout_address());
    let mut miner = Client::connect(2, stratum).await;
    let (extranonce1, job) = miner.start(&username).await;
    assert_eq!(job[8], true, "the first job is clean");
    until("the miner is listed", || {
        test.node
            .miners()
            .iter()
            .any(|m| m.feed == MinerFeed::Stratum && m.info.name == "rig")
    })
    .await;

    let id = miner
        .call("mining.submit", solve(&job, &extranonce1, &username))
        .await;
    let mut seen = Vec::new();
    let answer = miner.answer(id, &mut seen).await;
    assert_eq!(answer["result"], true, "{answer}");
    until("block 1 is the tip", || test.node.snapshot().height == 1).await;
    let (_, block) = test.node.block_at(1).unwrap().unwrap();
    let coinbase = block.coinbase().unwrap();
    assert_eq!(
        address::encode(&coinbase.outputs[0].key, &ChainParams::dev()),
        payout_address()
    );
    assert_eq!(&coinbase.extra_nonce.to_le_bytes()[..4], &extranonce1[..]);
    let metrics = bbchain::metrics::install().render();
    for series in [
        "bbchain_stratum_connections ",
        "bbchain_stratum_shares_total{result=\"accepted\"} ",
        "bbchain_miners{feed=\"stratum\"} ",
    ] {
        assert!(metrics.contains(series), "{series} in {metrics}");
    }

    // The new tip reaches the miner as a clean job on top of its block.
    let next = miner.next_job().await;
    assert_eq!(next[8], true);
    let mut prev = hex::decode(next[1].as_str().unwrap()).unwrap();
    for word in prev.chunks_mut(4) {
        word.reverse();
    }
    assert_eq!(prev, block.hash().to_byte_array());

    // The old job is stale now.
    let id = miner
        .call("mining.submit", solve(&job, &extranonce1, &username))
        .await;
    let stale = miner.answer(id, &mut seen).await;
    assert_eq!(stale["error"][0], 21, "{stale}");
    drop(miner);
    until("the miner is unlisted", || test.node.miners().is_empty()).await;
    test.stop().await;
}

#[tokio::test]
async fn a_line_over_the_limit_closes_the_connection() {
    let test = TestNode::start_stratum(limits(|l| l.max_stratum_line_bytes = 200)).await;
    let stratum = test.stratum.unwrap();
    let mut client = Client::connect(2, stratum).await;
    let id = client
        .call("mining.subscribe", json!(["a".repeat(100)]))
        .await;
    assert_eq!(client.recv().await.unwrap()["id"], id, "under the limit");
    client
        .call("mining.subscribe", json!(["a".repeat(300)]))
        .await;
    let last = client.until_closed().await;
    assert_eq!(last.len(), 1, "{last:?}");
    assert!(
        last[0]["error"][1]
            .as_str()
            .unwrap()
            .contains("over 200 bytes")
    );
    test.stop().await;
}

#[tokio::test]
async fn garbage_that_is_not_text_closes_the_connection() {
    let test = TestNode::start_stratum(NodeLimits::default()).await;
    let mut client = Client::connect(2, test.stratum.unwrap()).await;
    client.send_raw(b"{\"id\":1,\xff\xfe}\n").await;
    assert!(client.until_closed().await.is_empty());
    test.stop().await;
}

#[tokio::test]
async fn malformed_lines_get_errors_until_too_many_in_a_row() {
    let test = TestNode::start_stratum(limits(|l| l.stratum_max_errors_in_row = 3)).await;
    let mut client = Client::connect(2, test.stratum.unwrap()).await;
    client.send_raw(b"not json\n").await;
    let error = client
        .recv()
        .await
        .expect("an error, and the connection carries on");
    assert_eq!(error["error"][0], 20);
    client.call("mining.nonsense", json!([])).await;
    assert_eq!(client.recv().await.unwrap()["error"][0], 20);
    let id = client.call("mining.subscribe", json!([])).await;
    assert_eq!(client.recv().await.unwrap()["id"], id, "still served");
    client.send_raw(b"{}\n").await;
    let last = client.until_closed().await;
    assert_eq!(last.len(), 1, "the third error in a row, then the close");
    test.stop().await;
}

#[tokio::test]
async fn stratum_connections_count_as_websockets_of_their_address() {
    let test = TestNode::start_stratum(limits(|l| l.max_ws_per_ip = 2)).await;
    let stratum = test.stratum.unwrap();
    let mut first = Client::connect(2, stratum).await;
    first.call("mining.subscribe", json!([])).await;
    assert!(first.recv().await.is_some());
    let _feed = {
        let stream = TcpSocket::new_v4().unwrap();
        stream.bind(([127, 0, 0, 2], 0).into()).unwrap();
        let stream = stream.connect(test.addr).await.unwrap();
        let url = format!("ws://{}/ws/mine", test.addr);
        tokio_tungstenite::client_async(url, stream).await.unwrap()
    };
    let mut third = Client::connect(2, stratum).await;
    let refused = third.until_closed().await;
    assert_eq!(refused.len(), 1);
    let message = refused[0]["error"][1].as_str().unwrap();
    assert!(
        message.contains("too many WebSockets from your address"),
        "{message}"
    );
    let mut other = Client::connect(3, stratum).await;
    other.call("mining.subscribe", json!([])).await;
    assert!(
        other.recv().await.unwrap()["error"].is_null(),
        "another address gets in"
    );
    test.stop().await;
}

#[tokio::test]
async fn a_client_that_does_not_authorize_in_time_is_closed() {
    let test =
        TestNode::start_stratum(limits(|l| l.hello_timeout = Duration::from_millis(300))).await;
    let mut client = Client::connect(2, test.stratum.unwrap()).await;
    client.call("mining.subscribe", json!([])).await;
    let lines = client.until_closed().await;
    assert_eq!(lines.len(), 1, "only the subscribe answer: {lines:?}");
    test.stop().await;
}

#[tokio::test]
async fn a_silent_miner_is_closed_at_the_idle_timeout() {
    let test = TestNode::start_stratum(limits(|l| {
        l.stratum_idle_timeout = Duration::from_millis(500);
    }))
    .await;
    let mut miner = Client::connect(2, test.stratum.unwrap()).await;
    miner.start(&payout_address()).await;
    until("the miner is listed", || !test.node.miners().is_empty()).await;
    miner.until_closed().await;
    until("the miner is unlisted", || test.node.miners().is_empty()).await;
    test.stop().await;
}
