//! Helpers for the master's in-process tests: a node on a temp dir, the router, a tiny miner.
#![allow(dead_code)]

use bbchain::config::{NodeConfig, NodeLimits};
use bbchain::node::{Node, NodeTask};
use bbchain::server::{AppState, app};
use bbchain_core::protocol::{Job, MasterMessage};
use bbchain_core::{ChainParams, Midstate, scan};
use futures_util::{SinkExt, StreamExt};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A dev-chain node with its own data dir, served on a loopback port.
pub struct TestNode {
    pub node: Node,
    pub state: AppState,
    pub addr: SocketAddr,
    pub dir: tempfile::TempDir,
    stop: tokio::sync::watch::Sender<bool>,
    task: Option<NodeTask>,
    server: tokio::task::JoinHandle<()>,
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
        let (node, task) = Node::start(config(dir.path(), limits)).unwrap();
        let (state, stop) = AppState::new(node.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let router = app(state.clone());
        let server = tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        TestNode {
            node,
            state,
            addr,
            dir,
            stop,
            task: Some(task),
            server,
        }
    }

    /// Stops the node cleanly and returns its data dir.
    pub async fn stop(mut self) -> tempfile::TempDir {
        let _ = self.stop.send(true);
        self.server.abort();
        let task = self.task.take().unwrap();
        tokio::task::spawn_blocking(move || task.shutdown())
            .await
            .unwrap();
        drop(self.state);
        drop(self.node);
        self.dir
    }

    pub async fn ws(&self, path: &str) -> Ws {
        let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{}{path}", self.addr))
            .await
            .unwrap();
        ws
    }
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
