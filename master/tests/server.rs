//! `server::run`, the master users run: a listener on port 0, one cancellation token that stops
//! feeds, events and peer links, and a database that is closed when it returns.

mod common;

use bbchain::config::NodeLimits;
use bbchain::node::Node;
use bbchain::server;
use common::*;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

#[tokio::test]
async fn run_serves_on_port_0_until_cancelled_then_closes_sockets_and_database() {
    let dir = tempfile::tempdir().unwrap();
    let listener = server::bind(([127, 0, 0, 1], 0).into()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    assert_ne!(addr.port(), 0, "port 0 gives a real port");
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(server::run(
        listener,
        config(dir.path(), NodeLimits::default()),
        shutdown.clone(),
    ));

    let connect = |path: &str| tokio_tungstenite::connect_async(format!("ws://{addr}{path}"));
    let (mut feed, _) = connect("/ws/mine").await.unwrap();
    let job = hello(&mut feed, "erin").await;
    assert_eq!(job["height"], 1);
    let (mut events, _) = connect("/ws/events").await.unwrap();
    assert_eq!(recv(&mut events).await["type"], "status");

    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .expect("run returns once the token is cancelled")
        .unwrap()
        .unwrap();
    // Both say goodbye ("going away", 1001) rather than vanish.
    assert_eq!(expect_close_frame(&mut feed).await, 1001);
    assert_eq!(expect_close_frame(&mut events).await, 1001);
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "nothing listens any more"
    );
    // The database was closed: it opens again, with the chain it had.
    let (node, task) = Node::start(config(dir.path(), NodeLimits::default())).unwrap();
    assert_eq!(node.snapshot().height, 0);
    drop(node);
    tokio::task::spawn_blocking(move || task.shutdown())
        .await
        .unwrap();
}

#[tokio::test]
async fn masters_link_by_their_real_ports_and_stopping_one_closes_the_link() {
    let first = TestNode::start(NodeLimits::default()).await;
    let second = TestNode::start_with_peers(&[first.addr]).await;
    // The first knows the second by the port it really listens on (its hello's `listen_port`).
    let (first_addr, second_addr) = (first.addr.to_string(), second.addr.to_string());
    until("the masters to link both ways", || {
        first.node.linked_masters() == [second_addr.clone()]
            && second.node.linked_masters() == [first_addr.clone()]
    })
    .await;

    // Stopping the second ends its dial loop and link (stop returns once its database is closed),
    // and the first sees the link go.
    let node = first.node.clone();
    tokio::time::timeout(Duration::from_secs(10), second.stop())
        .await
        .expect("a master with a live link stops promptly");
    until("the first to drop the link", || {
        node.linked_masters().is_empty()
    })
    .await;
    drop(node);
    first.stop().await;
}
