//! A peer that breaks the rules is dropped and kept away, and the master carries on. The bad peer is
//! this test, speaking the peer protocol over a WebSocket with the core's message types.

use bbchain_core::peer::PeerMessage;
use bbchain_core::testing::{self, genesis_hello};
use bbchain_core::{Block, ChainParams, Entry, Header, Target, TxMerkleNode, Work};
use bbchain_e2e::{DeadPort, Master, http_get, tcp_from, wait_for};
use serde_json::Value;
use std::net::TcpStream;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

/// A fake master on the other end of a `/ws/peer` link.
struct FakePeer {
    socket: WebSocket<MaybeTlsStream<TcpStream>>,
    /// The port it claims to accept peers on: one no one else gets while it lives.
    listen: DeadPort,
}

/// Opens `/ws/peer` on `master` from the loopback address `source`; the HTTP refusal if any.
fn open_from(
    master: &Master,
    source: [u8; 4],
) -> Result<WebSocket<MaybeTlsStream<TcpStream>>, (u16, Value)> {
    let stream = MaybeTlsStream::Plain(tcp_from(source, master.port));
    match tungstenite::client(master.ws_url("/ws/peer"), stream) {
        Ok((socket, _)) => Ok(socket),
        Err(tungstenite::HandshakeError::Failure(tungstenite::Error::Http(response))) => {
            let body = serde_json::from_slice(response.body().as_deref().unwrap_or_default())
                .expect("json error body");
            Err((response.status().as_u16(), body))
        }
        Err(err) => panic!("no answer to the upgrade: {err}"),
    }
}

impl FakePeer {
    fn connect(master: &Master) -> FakePeer {
        FakePeer::connect_from(master, [127, 0, 0, 1])
    }

    /// Links from the loopback address `source`, standing in for a peer on another IP.
    fn connect_from(master: &Master, source: [u8; 4]) -> FakePeer {
        let socket = open_from(master, source).expect("upgraded");
        if let MaybeTlsStream::Plain(stream) = socket.get_ref() {
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .expect("timeout");
        }
        FakePeer {
            socket,
            listen: DeadPort::new(),
        }
    }

    fn send_text(&mut self, text: &str) {
        self.socket
            .send(Message::text(text.to_string()))
            .expect("send");
    }

    fn send(&mut self, message: &PeerMessage) {
        self.send_text(&serde_json::to_string(message).expect("json"));
    }

    /// The next message, or `None` once the master has closed the link.
    fn recv(&mut self) -> Option<Value> {
        loop {
            match self.socket.read() {
                Ok(Message::Text(text)) => return Some(serde_json::from_str(&text).expect("json")),
                Ok(Message::Close(_)) => return None,
                Ok(_) => {}
                Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                    return None;
                }
                Err(tungstenite::Error::Io(err))
                    if err.kind() != std::io::ErrorKind::WouldBlock
                        && err.kind() != std::io::ErrorKind::TimedOut =>
                {
                    return None;
                }
                Err(err) => panic!("no message from the master: {err}"),
            }
        }
    }

    /// Reads until a message of type `kind` and returns it.
    fn expect(&mut self, kind: &str) -> Value {
        loop {
            let message = self
                .recv()
                .unwrap_or_else(|| panic!("closed before a {kind}"));
            if message["type"] == kind {
                return message;
            }
        }
    }

    /// Reads until the master closes the link; panics if it does not.
    fn expect_closed(&mut self) {
        for _ in 0..100 {
            if self.recv().is_none() {
                return;
            }
        }
        panic!("the master kept the link open");
    }
}

fn hello(listen_port: u16, chainwork: Work, params: &ChainParams) -> PeerMessage {
    PeerMessage::Hello(genesis_hello(
        params,
        listen_port,
        chainwork,
        42,
        "fake-peer",
    ))
}

fn now() -> u32 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs() as u32
}

/// A child of the dev genesis, its nonce not yet searched.
fn child_of_genesis(params: &ChainParams) -> Block {
    let entries = vec![testing::coinbase(1, "fake")];
    testing::block_with(params.genesis_hash(), entries, params.pow_limit, now())
}

/// Changes the nonce until the hash misses the target.
fn spoil_pow(header: &mut Header) {
    let target: Target = header.target().expect("bits");
    while target.is_met_by(&header.block_hash()) {
        header.nonce = header.nonce.wrapping_add(1);
    }
}

fn assert_alive(master: &Master) {
    let (code, body) = http_get(&master.url("/api/status"));
    assert_eq!(code, 200, "{body}");
}

#[test]
fn headers_without_proof_of_work_get_the_peer_dropped_and_banned() {
    let params = ChainParams::dev();
    let master = Master::start(&[]);
    // Where the fake claims to accept peers: a port no one else gets while the test runs.
    let claimed = DeadPort::new();
    let port = claimed.port();

    // The fake (on 127.0.0.2) claims more work; the master asks for headers and gets one with a
    // bad hash.
    let mut fake = FakePeer::connect_from(&master, [127, 0, 0, 2]);
    fake.send(&hello(port, Work::from_be_bytes([0xff; 32]), &params));
    assert_eq!(
        fake.expect("hello")["genesis"],
        params.genesis_hash().to_string()
    );
    fake.expect("get_headers");
    let mut header = child_of_genesis(&params).header;
    spoil_pow(&mut header);
    fake.send(&PeerMessage::Headers {
        headers: vec![header],
    });
    let reject = fake.expect("reject");
    assert!(
        reject["reason"].as_str().unwrap().contains("does not meet"),
        "{reject}"
    );
    fake.expect_closed();

    // Kept away: its IP is refused before the upgrade.
    let (code, body) = open_from(&master, [127, 0, 0, 2]).expect_err("refused");
    assert_eq!(code, 403, "{body}");
    assert!(body["error"].as_str().unwrap().contains("banned"), "{body}");

    // The master carries on: its API answers and an honest master (on 127.0.0.1) links and syncs
    // with it.
    assert_alive(&master);
    assert_eq!(master.height(), 0);
    let honest = Master::start(&["--nodes", &master.addr()]);
    wait_for(Duration::from_secs(20), "the honest master to link", || {
        (master.status()["peers"] == 1 && honest.status()["peers"] == 1).then_some(())
    });
    let log = master.process.log();
    assert!(log.contains("misbehaved"), "{log}");
}

#[test]
fn an_invalid_new_block_gets_the_peer_dropped_and_the_block_refused() {
    let params = ChainParams::dev();
    let master = Master::start(&[]);
    let mut fake = FakePeer::connect_from(&master, [127, 0, 0, 2]);
    fake.send(&hello(fake.listen.port(), Work::ZERO, &params));
    fake.expect("hello");

    // Proof of work is fine, but the merkle root does not commit to the entries.
    let mut block = child_of_genesis(&params);
    block.header.merkle_root =
        TxMerkleNode::from_byte_array(bbchain_core::hash::sha256d(b"not the entries"));
    testing::solve_header(&mut block.header);
    let hash = block.hash().to_string();
    fake.send(&PeerMessage::NewBlock {
        block,
        height: 1,
        chainwork: Work::ZERO,
    });
    let reject = fake.expect("reject");
    assert!(
        reject["reason"].as_str().unwrap().contains("merkle"),
        "{reject}"
    );
    fake.expect_closed();
    assert_alive(&master);
    assert_eq!(master.height(), 0);
    let (code, _) = http_get(&master.url(&format!("/api/blocks/{hash}")));
    assert_eq!(code, 404, "the bad block was not stored");

    // A valid block from a well-behaved peer (on another IP) is taken, through the same path.
    let mut good = FakePeer::connect(&master);
    good.send(&hello(good.listen.port(), Work::ZERO, &params));
    good.expect("hello");
    let mut block = child_of_genesis(&params);
    testing::solve_header(&mut block.header);
    let hash = block.hash().to_string();
    good.send(&PeerMessage::NewBlock {
        block,
        height: 1,
        chainwork: Work::ZERO,
    });
    wait_for(Duration::from_secs(10), "the valid block stored", || {
        (master.status()["tip"] == hash.as_str()).then_some(())
    });
}

#[test]
fn garbage_and_strangers_are_dropped() {
    let params = ChainParams::dev();
    let master = Master::start(&[]);

    // Not JSON after the handshake. (Each peer on its own IP: the one that misbehaves is banned.)
    let mut fake = FakePeer::connect_from(&master, [127, 0, 0, 2]);
    fake.send(&hello(fake.listen.port(), Work::ZERO, &params));
    fake.expect("hello");
    fake.send_text("this is not a peer message");
    let reject = fake.expect("reject");
    assert!(
        reject["reason"].as_str().unwrap().contains("bad message"),
        "{reject}"
    );
    fake.expect_closed();

    // Another chain: refused at the handshake.
    let mut stranger = FakePeer::connect_from(&master, [127, 0, 0, 3]);
    stranger.send(&hello(
        stranger.listen.port(),
        Work::ZERO,
        &ChainParams::main(),
    ));
    let reject = stranger.expect("reject");
    assert!(
        reject["reason"].as_str().unwrap().contains("network"),
        "{reject}"
    );
    stranger.expect_closed();

    // Something other than a hello first.
    let mut rude = FakePeer::connect_from(&master, [127, 0, 0, 4]);
    rude.send(&PeerMessage::GetPeers);
    rude.expect("reject");
    rude.expect_closed();

    assert_alive(&master);
    assert_eq!(master.status()["peers"], 0);
}

/// `MAX_INBOUND_SOCKETS` and `MAX_INBOUND_SOCKETS_PER_IP` in `master/src/config.rs`.
const MAX_SOCKETS: usize = 128;
const MAX_SOCKETS_PER_IP: usize = 8;

#[test]
fn peer_sockets_are_limited_before_the_handshake() {
    let master = Master::start(&[]);
    // Sockets that never say hello, each from one of 16 addresses up to its share: each holds a
    // slot until its handshake times out.
    let sources = MAX_SOCKETS / MAX_SOCKETS_PER_IP;
    let mut silent: Vec<FakePeer> = (0..MAX_SOCKETS)
        .map(|i| FakePeer::connect_from(&master, [127, 0, 1, (i % sources) as u8 + 1]))
        .collect();
    let (code, body) = open_from(&master, [127, 0, 2, 1]).expect_err("the 129th refused");
    assert_eq!(code, 503, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("too many"),
        "{body}"
    );
    assert_alive(&master);

    // Closed sockets free their slots.
    for peer in &mut silent {
        let _ = peer.socket.close(None);
    }
    drop(silent);
    let params = ChainParams::dev();
    let socket = wait_for(Duration::from_secs(10), "a free peer slot", || {
        open_from(&master, [127, 0, 2, 1]).ok()
    });
    let mut peer = FakePeer {
        socket,
        listen: DeadPort::new(),
    };
    peer.send(&hello(peer.listen.port(), Work::ZERO, &params));
    peer.expect("hello");
}

#[test]
fn a_peer_that_asks_and_never_reads_is_dropped() {
    let params = ChainParams::dev();
    let master = Master::start(&[]);
    let mut fake = FakePeer::connect(&master);
    fake.send(&hello(fake.listen.port(), Work::ZERO, &params));
    fake.expect("hello");

    // A hash asked for twice is answered once.
    let genesis = params.genesis_hash();
    fake.send(&PeerMessage::GetBlocks {
        hashes: vec![genesis; 2000],
    });
    let answer = fake.expect("blocks");
    assert_eq!(answer["blocks"].as_array().unwrap().len(), 1, "{answer}");
    assert_eq!(master.status()["peers"], 1);

    // Ask again and again without reading: the master ends the link instead of queueing forever.
    if let MaybeTlsStream::Plain(stream) = fake.socket.get_ref() {
        stream
            .set_write_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
    }
    let request = serde_json::to_string(&PeerMessage::GetBlocks {
        hashes: vec![genesis],
    })
    .expect("json");
    let mut sent = 0;
    while sent < 1_000_000 && fake.socket.send(Message::text(request.clone())).is_ok() {
        sent += 1;
    }
    assert!(
        sent < 1_000_000,
        "the master kept reading a peer that never reads"
    );
    wait_for(Duration::from_secs(10), "the link dropped", || {
        (master.status()["peers"] == 0).then_some(())
    });
    assert_alive(&master);
    let log = master.process.log();
    assert!(log.contains("does not read"), "{log}");
}

#[test]
fn side_blocks_without_more_work_are_not_stored() {
    let params = ChainParams::dev();
    let master = Master::start(&[]);
    let mut fake = FakePeer::connect(&master);
    fake.send(&hello(fake.listen.port(), Work::ZERO, &params));
    fake.expect("hello");

    // A block on the master's tip is taken.
    let mut tip = child_of_genesis(&params);
    testing::solve_header(&mut tip.header);
    let tip_hash = tip.hash().to_string();
    fake.send(&PeerMessage::NewBlock {
        block: tip,
        height: 1,
        chainwork: Work::ZERO,
    });
    wait_for(
        Duration::from_secs(10),
        "the block on the tip stored",
        || (master.status()["tip"] == tip_hash.as_str()).then_some(()),
    );

    // A rival at the same height has no more work: announced, it is not stored...
    let mut rival = child_of_genesis(&params);
    if let Entry::Coinbase(coinbase) = &mut rival.entries[0] {
        coinbase.extra_nonce = 8;
    }
    rival.header.merkle_root = rival.compute_merkle_root();
    testing::solve_header(&mut rival.header);
    let rival_hash = rival.hash().to_string();
    fake.send(&PeerMessage::NewBlock {
        block: rival.clone(),
        height: 1,
        chainwork: Work::ZERO,
    });
    // ... and when the peer claims more work, the master checks its headers first and does not
    // fetch a chain that is no heavier than its own.
    fake.send(&PeerMessage::NewBlock {
        block: rival.clone(),
        height: 1,
        chainwork: Work::from_be_bytes([0xff; 32]),
    });
    fake.expect("get_headers");
    fake.send(&PeerMessage::Headers {
        headers: vec![rival.header],
    });
    fake.send(&PeerMessage::GetPeers);
    loop {
        let message = fake.recv().expect("the link stays up");
        assert_ne!(
            message["type"], "get_blocks",
            "fetched a side block: {message}"
        );
        if message["type"] == "peers" {
            break;
        }
    }
    let (code, _) = http_get(&master.url(&format!("/api/blocks/{rival_hash}")));
    assert_eq!(code, 404, "the side block was not stored");
    assert_eq!(master.status()["tip"], tip_hash.as_str());
    assert_eq!(master.status()["peers"], 1);
}
