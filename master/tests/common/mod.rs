//! Helpers for the master's in-process tests: a master on a temp dir and port 0, the router, a
//! tiny miner.
#![allow(dead_code)]

use bbchain::config::{NodeConfig, NodeLimits};
use bbchain::node::Node;
use bbchain::server::{self, AppState, RunningMaster};
use bbchain_core::protocol::{Job, MasterMessage};
use bbchain_core::{ChainParams, Midstate, scan};
use futures_util::{SinkExt, StreamExt};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A dev-chain master with its own data dir, started by `server::start` (what `server::run`, and
/// so `bbchain --start-master`, runs) on a loopback listener bound to port 0.
pub struct TestNode {
    pub node: Node,
    pub addr: SocketAddr,
    /// The Stratum listener, when the config asked for one (`stratum_addr`).
    pub stratum: Option<SocketAddr>,
    pub dir: tempfile::TempDir,
    shutdown: CancellationToken,
    master: RunningMaster,
}

pub fn config(dir: &std::path::Path, limits: NodeLimits) -> NodeConfig {
    let mut config = NodeConfig::new(ChainParams::dev(), dir.join("chain.redb"));
    config.limits = limits;
    config.refresh_delay = Duration::from_millis(50);
    config
}

impl TestNode {
    pub async fn start(limits: NodeLimits) -> TestNode {
        let dir = tempfile::tempdir().unwrap();
        TestNode::start_in(dir, limits).await
    }

    pub async fn start_in(dir: tempfile::TempDir, limits: NodeLimits) -> TestNode {
        let config = config(dir.path(), limits);
        TestNode::start_with(dir, config).await
    }

    /// A master linked to the masters `peers` (`host:port`), as `--nodes` gives them.
    pub async fn start_with_peers(peers: &[SocketAddr]) -> TestNode {
        let dir = tempfile::tempdir().unwrap();
        let mut config = config(dir.path(), NodeLimits::default());
        config.peers = peers.iter().map(SocketAddr::to_string).collect();
        TestNode::start_with(dir, config).await
    }

    /// A master that also listens for Stratum miners on a free loopback port.
    pub async fn start_stratum(limits: NodeLimits) -> TestNode {
        let dir = tempfile::tempdir().unwrap();
        let mut config = config(dir.path(), limits);
        config.stratum_addr = Some(([127, 0, 0, 1], 0).into());
        TestNode::start_with(dir, config).await
    }

    async fn start_with(dir: tempfile::TempDir, config: NodeConfig) -> TestNode {
        let listener = server::bind(([127, 0, 0, 1], 0).into()).await.unwrap();
        let shutdown = CancellationToken::new();
        let master = server::start(listener, config, shutdown.clone())
            .await
            .unwrap();
        TestNode {
            node: master.node.clone(),
            addr: master.addr,
            stratum: master.stratum_addr,
            dir,
            shutdown,
            master,
        }
    }

    /// Router state over this node, for `app()` + `oneshot` tests of the router alone.
    pub fn state(&self) -> AppState {
        AppState::new(self.node.clone(), CancellationToken::new())
    }

    /// Stops the master as a signal would, waits until it has closed its database, and returns
    /// its data dir.
    pub async fn stop(self) -> tempfile::TempDir {
        let TestNode {
            node,
            dir,
            shutdown,
            master,
            ..
        } = self;
        shutdown.cancel();
        drop(node);
        master.stopped().await.unwrap();
        dir
    }

    pub async fn ws(&self, path: &str) -> Ws {
        let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{}{path}", self.addr))
            .await
            .unwrap();
        ws
    }
}

/// Checks `holds` every 20 ms until it is true; fails with `what` after 10 s.
pub async fn until(what: &str, mut holds: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !holds() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until the other end closes `ws`, skipping messages sent before; fails after 10 s.
pub async fn expect_closed(ws: &mut Ws) {
    let closed = async {
        while let Some(Ok(message)) = ws.next().await {
            if let Message::Close(_) = message {
                return;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), closed)
        .await
        .expect("the socket closes within 10 s");
}

/// Waits for the master's close frame and returns its code (fails on a reset or after 10 s).
pub async fn expect_close_frame(ws: &mut Ws) -> u16 {
    let closed = async {
        while let Some(message) = ws.next().await {
            match message.expect("a close frame, not a reset") {
                Message::Close(frame) => return frame.map_or(0, |f| u16::from(f.code)),
                _ => continue,
            }
        }
        panic!("the socket ended without a close frame");
    };
    tokio::time::timeout(Duration::from_secs(10), closed)
        .await
        .expect("the socket closes within 10 s")
}

pub async fn send(ws: &mut Ws, value: serde_json::Value) {
    ws.send(Message::Text(value.to_string().into()))
        .await
        .unwrap();
}

/// The next text message as JSON (fails after 10 s).
pub async fn recv(ws: &mut Ws) -> serde_json::Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a message within 10 s")
            .expect("the socket is open")
            .expect("no socket error");
        if let Message::Text(text) = message {
            return serde_json::from_str(&text).unwrap();
        }
    }
}

/// The next message of `kind` (`"job"`, `"accepted"`, ...), skipping others.
pub async fn recv_type(ws: &mut Ws, kind: &str) -> serde_json::Value {
    loop {
        let value = recv(ws).await;
        if value["type"] == kind {
            return value;
        }
    }
}

/// A nonce that solves `job` (or, with `solve = false`, one that does not).
pub fn nonce_for(job: &serde_json::Value, solve: bool) -> u32 {
    let job: Job = serde_json::from_value(job.clone()).unwrap();
    let header = job.header().unwrap();
    let target = job.target().unwrap();
    let midstate = Midstate::new(&header);
    for nonce in 0..u32::MAX {
        let met = target.is_met_by(&midstate.hash(nonce));
        if met == solve {
            return nonce;
        }
    }
    panic!("no nonce found")
}

/// Solves with the core scan loop.
pub fn solve(job: &serde_json::Value) -> u32 {
    let job: Job = serde_json::from_value(job.clone()).unwrap();
    let midstate = Midstate::new(&job.header().unwrap());
    scan(&midstate, &job.target().unwrap(), 0, u32::MAX)
        .nonce
        .expect("a dev-chain job is solvable")
}

/// Says hello and returns the first job.
pub async fn hello(ws: &mut Ws, name: &str) -> serde_json::Value {
    send(
        ws,
        serde_json::json!({"type": "hello", "name": name, "agent": "test/1"}),
    )
    .await;
    recv_type(ws, "job").await
}

/// Solves `job`, submits it and returns the answer.
pub async fn mine_job(ws: &mut Ws, job: &serde_json::Value) -> serde_json::Value {
    let nonce = solve(job);
    send(
        ws,
        serde_json::json!({"type": "submit", "job_id": job["job_id"], "nonce": nonce}),
    )
    .await;
    loop {
        let answer = recv(ws).await;
        if answer["type"] == "accepted" || answer["type"] == "rejected" {
            return answer;
        }
    }
}

pub fn parse<T: serde::de::DeserializeOwned>(value: &serde_json::Value) -> T {
    serde_json::from_value(value.clone()).unwrap()
}

pub fn as_master(value: &serde_json::Value) -> MasterMessage {
    parse(value)
}

/// One request through the router (`app()` + `oneshot`), sent as JSON: the status and the JSON body
/// (`Null` if the body is not JSON).
pub async fn call(
    test: &TestNode,
    method: &str,
    uri: &str,
    body: axum::body::Body,
) -> (axum::http::StatusCode, serde_json::Value) {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let request = axum::http::Request::builder()
        .method(method)
        .uri(uri)
        .header(axum::http::header::CONTENT_TYPE, "application/json")
        .body(body)
        .unwrap();
    let response = bbchain::server::app(test.state())
        .oneshot(request)
        .await
        .unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let value = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    (status, value)
}

/// `GET uri` through the router.
pub async fn get(test: &TestNode, uri: &str) -> (axum::http::StatusCode, serde_json::Value) {
    call(test, "GET", uri, axum::body::Body::empty()).await
}

/// Asserts an answer is a JSON error with `status` whose message contains `says`.
pub fn assert_error(
    answer: &(axum::http::StatusCode, serde_json::Value),
    status: axum::http::StatusCode,
    says: &str,
) {
    assert_eq!(answer.0, status, "{:?}", answer.1);
    let error = answer.1["error"].as_str().expect("a JSON error");
    assert!(error.contains(says), "'{error}' should say '{says}'");
}
