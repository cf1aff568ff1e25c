//! The fan-out writers' hand-over to a connection task, over a real loopback socket whose client
//! never reads: the writer never waits on it, and the task gives up at the send timeout.

mod common;

use axum::extract::ws::WebSocketUpgrade;
use bbchain::config::NodeLimits;
use bbchain::fanout::{JobSource, Offered, SendError, Slot};
use bbchain::node::BlockTemplate;
use common::*;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;

/// A miner whose every job is a 256 KiB frame: a couple of dozen fill any loopback socket's buffers
/// (a real job is some 300 bytes, and it takes thousands).
struct BigJobs;

impl JobSource for BigJobs {
    fn job_for(&mut self, _: &Arc<BlockTemplate>) -> Option<String> {
        Some("x".repeat(256 * 1024))
    }
}

#[tokio::test]
async fn a_writer_hands_a_socket_that_does_not_read_to_its_task_which_drops_it_at_the_send_timeout()
{
    let test = TestNode::start(NodeLimits::default()).await;
    let template = test.node.watch_template().borrow().clone();
    // A WebSocket server whose socket goes into a slot, as the feed's does.
    let (slots, mut slot) = tokio::sync::mpsc::unbounded_channel();
    let app = axum::Router::new().route(
        "/ws",
        axum::routing::get(move |ws: WebSocketUpgrade| {
            let slots = slots.clone();
            async move {
                ws.on_upgrade(move |socket| async move {
                    let slot = Slot::<BigJobs>::new(socket);
                    slot.with_miner(|miner| *miner = Some(BigJobs));
                    let _ = slots.send(slot);
                })
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    // A client that upgrades, then never reads.
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.bind(([127, 0, 0, 2], 0).into()).unwrap();
    let mut deaf = socket.connect(addr).await.unwrap();
    let request = "GET /ws HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
    deaf.write_all(request.as_bytes()).await.unwrap();
    let mut head = [0u8; 12];
    deaf.read_exact(&mut head).await.unwrap();
    assert_eq!(&head, b"HTTP/1.1 101");
    let slot = slot.recv().await.unwrap();

    // The writer's offers go through at once until the buffers are full; from then on it leaves
    // the work to the task instead of waiting.
    let mut written = 0;
    loop {
        match slot.offer(&template) {
            Offered::Sent => written += 1,
            Offered::SentPoked => break,
            Offered::Poked | Offered::Skipped => panic!("the first full socket is a partial write"),
        }
        assert!(written < 1_000, "256 MiB went into a socket nobody reads");
    }
    assert!(
        matches!(slot.offer(&template), Offered::Poked),
        "a socket with a frame still to flush gets no other frame from the writer"
    );
    // The connection task, poked, finishes the flush within the send timeout, and cannot.
    let started = std::time::Instant::now();
    let finished = tokio::time::timeout(Duration::from_secs(10), async {
        slot.poked().await;
        slot.finish(Duration::from_millis(200)).await
    })
    .await
    .expect("the task is poked and gives up within 10 s");
    assert!(matches!(finished, Err(SendError::TimedOut)), "{finished:?}");
    assert!(started.elapsed() >= Duration::from_millis(150));
    test.stop().await;
}
