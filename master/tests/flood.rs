//! Flooding: free data and transactions are rate-limited per source IP over HTTP and per link over
//! gossip. HTTP goes through the router (`app()` + `oneshot`) with the client's address set as
//! axum's `ConnectInfo`; gossip comes from a fake master on a real `/ws/peer` socket.

mod common;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use bbchain::config::{NodeLimits, PENDING_ENTRY_OVERHEAD};
use bbchain::server::app;
use bbchain_core::peer::PeerMessage;
use bbchain_core::testing::genesis_hello;
use bbchain_core::{ChainParams, Work};
use common::*;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use std::net::SocketAddr;
use tower::ServiceExt;

/// `POST uri` with a JSON body from `client`: the status, the `Retry-After` header, the body.
async fn post_from(
    test: &TestNode,
    client: [u8; 4],
    uri: &str,
    body: Value,
) -> (StatusCode, Option<String>, Value) {
    let mut request = Request::builder()
        .method("POST")
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let from = SocketAddr::from((client, 40_000));
    request.extensions_mut().insert(ConnectInfo(from));
    let response = app(test.state()).oneshot(request).await.unwrap();
    let status = response.status();
    let retry_after = response
        .headers()
        .get(header::RETRY_AFTER)
        .map(|v| v.to_str().unwrap().to_string());
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, retry_after, serde_json::from_slice(&bytes).unwrap())
}

const SECOND: [u8; 4] = [127, 0, 0, 2];
const THIRD: [u8; 4] = [127, 0, 0, 3];

#[tokio::test]
async fn each_source_ip_gets_its_own_rate_for_data_and_transactions() {
    // A burst of two 10-byte entries, refilled at one byte a second: no refill during the test.
    let limits = NodeLimits {
        ip_rate_bytes_per_sec: 1,
        ip_burst_bytes: 2 * (10 + PENDING_ENTRY_OVERHEAD as u32),
        ..NodeLimits::default()
    };
    let test = TestNode::start(limits).await;
    let data = |i: u32| json!({"data": format!("entry {i:04}")});
    for i in 0..2 {
        let (status, _, body) = post_from(&test, SECOND, "/api/data", data(i)).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    }
    let (status, retry_after, body) = post_from(&test, SECOND, "/api/data", data(2)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    let seconds: u64 = retry_after.expect("a Retry-After header").parse().unwrap();
    assert!(seconds >= 100, "138 bytes at 1 byte/s: {seconds} s");
    assert!(
        body["error"].as_str().unwrap().contains("too many"),
        "{body}"
    );
    // The same address is limited on transactions too, before its hex is even read.
    let tx = json!({"tx": "00"});
    let (status, _, body) = post_from(&test, SECOND, "/api/tx", tx.clone()).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    // Another address is not.
    let (status, _, body) = post_from(&test, THIRD, "/api/data", data(3)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let (status, _, body) = post_from(&test, THIRD, "/api/tx", tx).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "a malformed tx, past the limit: {body}"
    );
    assert_eq!(get(&test, "/api/status").await.1["pending"], 3);
    test.stop().await;
}

/// Says hello on `/ws/peer` as a master listening on `listen_port`, and reads the master's hello.
async fn link_as_peer(test: &TestNode, listen_port: u16) -> Ws {
    let params = ChainParams::dev();
    let mut ws = test.ws("/ws/peer").await;
    let hello = PeerMessage::Hello(genesis_hello(
        &params,
        listen_port,
        Work::ZERO,
        7,
        "flooding-peer",
    ));
    send(&mut ws, serde_json::to_value(&hello).unwrap()).await;
    recv_type(&mut ws, "hello").await;
    ws
}

#[tokio::test]
async fn a_peer_gossiping_beyond_its_rate_is_cut_as_misbehaving() {
    // A burst of three 100-byte entries, refilled at one byte a second.
    let limits = NodeLimits {
        link_rate_bytes_per_sec: 1,
        link_burst_bytes: 3 * (100 + PENDING_ENTRY_OVERHEAD as u32),
        ..NodeLimits::default()
    };
    let test = TestNode::start(limits).await;
    // The port the fake master claims: bound, never accepting, so no one else is reached.
    let claimed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = claimed.local_addr().unwrap().port();
    let mut ws = link_as_peer(&test, port).await;
    let entry = |i: usize| format!("{i:0100}");
    let data = |range: std::ops::Range<usize>| PeerMessage::Data {
        entries: range.map(entry).collect(),
    };
    send(&mut ws, serde_json::to_value(data(0..2)).unwrap()).await;
    let node = test.node.clone();
    until("two gossiped entries queued", || {
        node.snapshot().pending == 2
    })
    .await;
    // Two more: one over the burst.
    send(&mut ws, serde_json::to_value(data(2..4)).unwrap()).await;
    let reject = recv_type(&mut ws, "reject").await;
    assert!(
        reject["reason"].as_str().unwrap().contains("flood"),
        "{reject}"
    );
    expect_closed(&mut ws).await;
    assert_eq!(test.node.snapshot().pending, 2, "the flood was not queued");
    // What happens to its address next (a lower score, a ban) is the peer registry's call; the
    // master carries on.
    assert_eq!(get(&test, "/api/status").await.0, StatusCode::OK);
    test.stop().await;
}
