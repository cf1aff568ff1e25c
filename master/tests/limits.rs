//! Connection limits and timeouts of a master served by `server::start`, over real loopback sockets
//! bound to 127.0.0.2, 127.0.0.3, ... to stand in for different clients.

mod common;

use bbchain::config::NodeLimits;
use common::*;
use futures_util::StreamExt;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::Message;

/// Limits with timeouts long enough not to interfere, and `change` applied.
fn limits(change: impl FnOnce(&mut NodeLimits)) -> NodeLimits {
    let mut limits = NodeLimits {
        idle_timeout: Duration::from_secs(60),
        header_read_timeout: Duration::from_secs(60),
        ..NodeLimits::default()
    };
    change(&mut limits);
    limits
}

/// A TCP connection to `addr` from `127.0.0.<from>`.
async fn connect_from(from: u8, addr: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(([127, 0, 0, from], 0).into()).unwrap();
    socket.connect(addr).await.unwrap()
}

/// Reads until the other end closes (or resets) the connection; fails after 10 s.
async fn read_bytes_to_close(stream: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the connection is closed within 10 s");
    got
}

/// [`read_bytes_to_close`], as text.
async fn read_to_close(stream: &mut TcpStream) -> String {
    String::from_utf8_lossy(&read_bytes_to_close(stream).await).into_owned()
}

/// Sends `GET path` on a keep-alive connection and reads the answer's status line and body.
async fn get(stream: &mut TcpStream, path: &str) -> (u16, String) {
    let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    read_answer(stream).await
}

/// Reads one HTTP answer with a `content-length`.
async fn read_answer(stream: &mut TcpStream) -> (u16, String) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let answer = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let n = stream.read(&mut buf).await.unwrap();
            assert!(
                n > 0,
                "closed before an answer: {}",
                String::from_utf8_lossy(&got)
            );
            got.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&got).into_owned();
            let Some((head, body)) = text.split_once("\r\n\r\n") else {
                continue;
            };
            let length: usize = head
                .lines()
                .find_map(|line| {
                    let (name, value) = line.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse().unwrap())
                })
                .expect("a content-length");
            if body.len() >= length {
                let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
                return (status, body[..length].to_string());
            }
        }
    })
    .await;
    answer.expect("an answer within 10 s")
}

/// The answer a refused connection gets at once: its status and JSON error.
async fn refusal(stream: &mut TcpStream) -> (u16, serde_json::Value) {
    let text = read_to_close(stream).await;
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP answer");
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, serde_json::from_str(body).expect("a JSON error"))
}

/// A connection from `127.0.0.<from>` that the master has taken (it answered one request).
async fn held_from(from: u8, addr: SocketAddr) -> TcpStream {
    let mut stream = connect_from(from, addr).await;
    assert_eq!(get(&mut stream, "/api/status").await.0, 200);
    stream
}

#[tokio::test]
async fn one_address_is_capped_while_another_gets_in() {
    let test = TestNode::start(limits(|l| l.max_http_per_ip = 4)).await;
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(held_from(2, test.addr).await);
    }
    let mut fifth = connect_from(2, test.addr).await;
    let (status, error) = refusal(&mut fifth).await;
    assert_eq!(status, 503);
    assert!(
        error["error"]
            .as_str()
            .unwrap()
            .contains("too many connections from your address (limit 4)"),
        "{error}"
    );
    let mut other = held_from(3, test.addr).await;
    assert_eq!(get(&mut other, "/api/status").await.0, 200);
    // The held connections still work, and a closed one frees its slot.
    assert_eq!(get(&mut held[0], "/api/status").await.0, 200);
    drop(held.pop());
    let mut tries = 0;
    loop {
        let mut stream = connect_from(2, test.addr).await;
        let request = "GET /api/status HTTP/1.1\r\nHost: test\r\n\r\n";
        stream.write_all(request.as_bytes()).await.unwrap();
        let head = read_head(&mut stream).await;
        if head.starts_with("HTTP/1.1 200") {
            break;
        }
        tries += 1;
        assert!(tries < 100, "the slot never freed: {head}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    test.stop().await;
}

/// The first bytes of an answer (its status line at least).
async fn read_head(stream: &mut TcpStream) -> String {
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf))
        .await
        .expect("an answer within 10 s")
        .unwrap_or(0);
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[tokio::test]
async fn the_total_limit_answers_503_and_the_reserve_keeps_one_slot_per_address() {
    let test = TestNode::start(limits(|l| {
        l.max_tcp_connections = 8;
        l.api_reserve = 2;
    }))
    .await;
    let mut held = Vec::new();
    for _ in 0..6 {
        held.push(held_from(2, test.addr).await);
    }
    // Only the reserve is left: an address that holds a connection gets no more of it...
    let (status, _) = refusal(&mut connect_from(2, test.addr).await).await;
    assert_eq!(status, 503);
    // ... while new addresses still get one each.
    held.push(held_from(3, test.addr).await);
    held.push(held_from(4, test.addr).await);
    for from in [5, 1] {
        let (status, error) = refusal(&mut connect_from(from, test.addr).await).await;
        assert_eq!(status, 503, "from 127.0.0.{from}");
        assert!(
            error["error"].as_str().unwrap().contains("limit 8"),
            "{error}"
        );
    }
    for stream in &mut held {
        assert_eq!(get(stream, "/api/status").await.0, 200, "held ones work");
    }
    test.stop().await;
}

/// A WebSocket to `path` from `127.0.0.<from>`, or the HTTP status that refused it.
async fn ws_from(from: u8, addr: SocketAddr, path: &str) -> Result<Ws, u16> {
    let stream = connect_from(from, addr).await;
    let url = format!("ws://{addr}{path}");
    match tokio_tungstenite::client_async(url, tokio_tungstenite::MaybeTlsStream::Plain(stream))
        .await
    {
        Ok((ws, _)) => Ok(ws),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            Err(response.status().as_u16())
        }
        Err(err) => panic!("WebSocket to {path}: {err}"),
    }
}

#[tokio::test]
async fn websockets_are_capped_per_address() {
    let test = TestNode::start(limits(|l| {
        l.max_ws_per_ip = 2;
        l.max_http_per_ip = 2;
    }))
    .await;
    let _feed = ws_from(2, test.addr, "/ws/mine").await.unwrap();
    let _events = ws_from(2, test.addr, "/ws/events").await.unwrap();
    assert_eq!(ws_from(2, test.addr, "/ws/events").await.err(), Some(503));
    // Its WebSockets do not count as its HTTP connections: the API still answers it.
    let mut api = held_from(2, test.addr).await;
    assert_eq!(get(&mut api, "/api/status").await.0, 200);
    // Another address is not affected.
    assert!(ws_from(3, test.addr, "/ws/events").await.is_ok());
    test.stop().await;
}

#[tokio::test]
async fn slowloris_clients_are_closed_at_the_header_timeout() {
    let test = TestNode::start(limits(|l| {
        l.header_read_timeout = Duration::from_millis(300);
    }))
    .await;
    let mut slow = Vec::new();
    for from in 2..7 {
        let mut stream = connect_from(from, test.addr).await;
        stream
            .write_all(b"GET /api/status HTTP/1.1\r\nHost: te")
            .await
            .unwrap();
        slow.push(stream);
    }
    // One more trickles a byte every 100 ms: still closed at the header timeout.
    let mut trickle = connect_from(7, test.addr).await;
    let trickling = tokio::spawn(async move {
        trickle.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
        for _ in 0..100 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if trickle.write_all(b"X").await.is_err() {
                return true;
            }
        }
        false
    });
    for stream in &mut slow {
        read_to_close(stream).await;
    }
    assert!(trickling.await.unwrap(), "the trickling client was cut off");
    let mut fine = held_from(8, test.addr).await;
    assert_eq!(get(&mut fine, "/api/status").await.0, 200);
    test.stop().await;
}

#[tokio::test]
async fn a_body_that_does_not_arrive_in_time_gets_408() {
    let test = TestNode::start(limits(|l| {
        l.request_timeout = Duration::from_millis(300);
    }))
    .await;
    let mut stream = connect_from(2, test.addr).await;
    stream
        .write_all(
            b"POST /api/data HTTP/1.1\r\nHost: test\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"data\":",
        )
        .await
        .unwrap();
    let (status, body) = read_answer(&mut stream).await;
    assert_eq!(status, 408, "{body}");
    let error: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(error["error"].as_str().unwrap().contains("too long"));
    test.stop().await;
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let test = TestNode::start(limits(|l| {
        l.idle_timeout = Duration::from_millis(300);
    }))
    .await;
    let mut idle = held_from(2, test.addr).await;
    assert_eq!(read_to_close(&mut idle).await, "", "closed without a word");
    test.stop().await;
}

/// A WebSocket client that never answers: the upgrade by hand on a raw socket, then nothing.
async fn mute_websocket(from: u8, addr: SocketAddr, path: &str) -> TcpStream {
    let mut stream = connect_from(from, addr).await;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let head = read_head(&mut stream).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    stream
}

/// A client's text frame (masked with a zero key, so the payload reads as it is).
fn text_frame(text: &str) -> Vec<u8> {
    assert!(text.len() < 126);
    let mut frame = vec![0x81, 0x80 | text.len() as u8, 0, 0, 0, 0];
    frame.extend_from_slice(text.as_bytes());
    frame
}

#[tokio::test]
async fn a_websocket_that_does_not_answer_pings_is_dropped() {
    let test = TestNode::start(limits(|l| {
        l.ws_ping_interval = Duration::from_millis(100);
        l.ws_idle_timeout = Duration::from_millis(500);
    }))
    .await;
    let mut mute = mute_websocket(2, test.addr, "/ws/events").await;
    let mut feed = mute_websocket(3, test.addr, "/ws/mine").await;
    feed.write_all(&text_frame(r#"{"type":"hello","name":"mute"}"#))
        .await
        .unwrap();
    // A client that reads (and so answers pings) stays.
    let mut live = test.ws("/ws/events").await;
    let mut reading = tokio::spawn(async move {
        while let Some(Ok(message)) = live.next().await {
            if let Message::Close(_) = message {
                break;
            }
        }
    });
    let sent = read_bytes_to_close(&mut mute).await;
    let ping = [0x89, 0x00];
    assert!(
        sent.windows(2).any(|w| w == ping),
        "pinged before it was dropped"
    );
    read_to_close(&mut feed).await;
    until("the mute miner is gone", || test.node.miners().is_empty()).await;
    let stayed = tokio::time::timeout(Duration::from_secs(1), &mut reading).await;
    assert!(
        stayed.is_err(),
        "the live socket stays open past the idle timeout"
    );
    test.stop().await;
}

#[tokio::test]
async fn a_feed_client_that_never_reads_is_dropped_at_the_send_timeout() {
    let test = TestNode::start(limits(|l| {
        l.ws_send_timeout = Duration::from_millis(200);
    }))
    .await;
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.bind(([127, 0, 0, 2], 0).into()).unwrap();
    let stream = socket.connect(test.addr).await.unwrap();
    let mut stream = {
        let mut stream = stream;
        let request = "GET /ws/mine HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
        stream.write_all(request.as_bytes()).await.unwrap();
        assert!(read_head(&mut stream).await.starts_with("HTTP/1.1 101"));
        stream
    };
    stream
        .write_all(&text_frame(r#"{"type":"hello","name":"deaf"}"#))
        .await
        .unwrap();
    until("the deaf miner is registered", || {
        test.node.miners().len() == 1
    })
    .await;
    // Ask for job after job and read none of them: the master's writes back up, and it gives up.
    let get_work = text_frame(r#"{"type":"get_work"}"#);
    let asked = tokio::time::timeout(Duration::from_secs(20), async {
        for _ in 0..200_000 {
            if stream.write_all(&get_work).await.is_err() {
                return;
            }
            if test.node.miners().is_empty() {
                return;
            }
        }
        panic!("still served after 200,000 unread jobs");
    })
    .await;
    assert!(
        asked.is_ok(),
        "the master stopped taking requests it cannot answer"
    );
    until("the deaf miner is dropped", || {
        test.node.miners().is_empty()
    })
    .await;
    test.stop().await;
}

#[tokio::test]
async fn a_peer_link_that_goes_silent_is_dropped() {
    use bbchain_core::peer::{Hello, PEER_PROTOCOL_VERSION, PeerMessage};
    use bbchain_core::{ChainParams, Work};
    use futures_util::SinkExt;
    let test = TestNode::start(limits(|l| {
        l.ws_ping_interval = Duration::from_millis(100);
        l.ws_idle_timeout = Duration::from_millis(500);
    }))
    .await;
    // The port it claims to accept peers on: bound, never listening.
    let claimed = TcpSocket::new_v4().unwrap();
    claimed.bind(([127, 0, 0, 2], 0).into()).unwrap();
    let port = claimed.local_addr().unwrap().port();
    let stream = connect_from(2, test.addr).await;
    let url = format!("ws://{}/ws/peer", test.addr);
    let (mut ws, _) =
        tokio_tungstenite::client_async(url, tokio_tungstenite::MaybeTlsStream::Plain(stream))
            .await
            .unwrap();
    let params = ChainParams::dev();
    let hello = PeerMessage::Hello(Hello {
        version: PEER_PROTOCOL_VERSION,
        network_id: params.network_id,
        genesis: params.genesis_hash(),
        listen_port: Some(port),
        tip: params.genesis_hash(),
        height: 0,
        chainwork: Work::ZERO,
        agent: "silent-peer".into(),
        nonce: 42,
    });
    let text = serde_json::to_string(&hello).unwrap();
    ws.send(Message::Text(text.into())).await.unwrap();
    let addr = format!("127.0.0.2:{port}");
    until("the peer is linked", || {
        test.node.linked_masters() == [addr.clone()]
    })
    .await;
    // It reads nothing from now on, so it answers no ping.
    until("the silent link is dropped", || {
        test.node.linked_masters().is_empty()
    })
    .await;
    drop(ws);
    test.stop().await;
}
