//! No eclipse without proof of work: a stranger that replays a master's `hello` nonce, claims its
//! port, or opens many sockets from one address cannot cut two real masters apart. Strangers come
//! from other loopback addresses (127.0.0.2, …); the real masters from 127.0.0.1.

use bbchain_core::ChainParams;
use bbchain_core::Work;
use bbchain_core::peer::PeerMessage;
use bbchain_core::testing::genesis_hello;
use bbchain_e2e::{Master, linked_masters, tcp_from, wait_for};
use serde_json::Value;
use std::net::TcpStream;
use std::time::Duration;
use tungstenite::{Message, WebSocket};

/// `MAX_INBOUND_SOCKETS_PER_IP` in `master/src/config.rs`.
const MAX_SOCKETS_PER_IP: usize = 8;

/// A raw `/ws/peer` socket from a loopback address of the test's choosing.
struct Stranger {
    socket: WebSocket<TcpStream>,
}

impl Stranger {
    /// Opens `/ws/peer` on `master` from `source`; the HTTP status and JSON error if refused.
    fn open(master: &Master, source: [u8; 4]) -> Result<Stranger, (u16, Value)> {
        let stream = tcp_from(source, master.port);
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        match tungstenite::client(master.ws_url("/ws/peer"), stream) {
            Ok((socket, _)) => Ok(Stranger { socket }),
            Err(tungstenite::HandshakeError::Failure(tungstenite::Error::Http(response))) => {
                let body = serde_json::from_slice(response.body().as_deref().unwrap_or_default())
                    .expect("json error body");
                Err((response.status().as_u16(), body))
            }
            Err(err) => panic!("no answer to the upgrade: {err}"),
        }
    }

    fn send(&mut self, message: &PeerMessage) {
        let text = serde_json::to_string(message).expect("json");
        self.socket.send(Message::text(text)).expect("send");
    }

    /// Reads until a message of type `kind`; panics if the master closes first.
    fn expect(&mut self, kind: &str) -> Value {
        loop {
            match self.socket.read() {
                Ok(Message::Text(text)) => {
                    let message: Value = serde_json::from_str(&text).expect("json");
                    if message["type"] == kind {
                        return message;
                    }
                }
                Ok(_) => {}
                Err(err) => panic!("no {kind} from the master: {err}"),
            }
        }
    }
}

/// A dev-chain hello claiming `listen_port` and `nonce`.
fn hello(listen_port: u16, nonce: u64) -> PeerMessage {
    let params = ChainParams::dev();
    PeerMessage::Hello(genesis_hello(
        &params,
        listen_port,
        Work::ZERO,
        nonce,
        "stranger",
    ))
}

fn linked(master: &Master, to: &Master) -> bool {
    linked_masters(master).contains(&to.addr())
}

#[test]
fn a_replayed_nonce_does_not_displace_a_working_link() {
    let m2 = Master::start(&[]);
    let m1 = Master::start(&["--nodes", &m2.addr()]);
    wait_for(Duration::from_secs(20), "M1 and M2 to link", || {
        (linked(&m1, &m2) && linked(&m2, &m1)).then_some(())
    });

    // Anyone may connect to M2 and read its nonce from its hello.
    let mut spy = Stranger::open(&m2, [127, 0, 0, 2]).expect("upgraded");
    let nonce = spy.expect("hello")["nonce"].as_u64().expect("nonce");
    drop(spy);

    // The stranger replays it to M1, claiming M2's port, and stays connected.
    let mut stranger = Stranger::open(&m1, [127, 0, 0, 2]).expect("upgraded");
    stranger.send(&hello(m2.port, nonce));
    stranger.expect("hello");
    // Whatever M1 sends next (a request, or a reject) comes after it decided on the claim.
    let _ = stranger.socket.read();
    assert!(linked(&m1, &m2), "M1 dropped M2: {:?}", linked_masters(&m1));

    // M2's new blocks still reach M1, over the link it kept.
    let mut miner = m2.miner("m2-miner");
    let height = wait_for(Duration::from_secs(60), "M2 to mine 3 blocks", || {
        let height = m2.height();
        (height >= 3).then_some(height)
    });
    wait_for(Duration::from_secs(30), "M2's blocks on M1", || {
        (m1.height() >= height).then_some(())
    });
    miner.kill();
    assert!(linked(&m1, &m2), "{:?}", linked_masters(&m1));
    drop(stranger);
}

#[test]
fn bans_go_by_the_connecting_ip_not_the_claimed_port() {
    let m1 = Master::start(&[]);
    let mut m2 = Master::start(&["--nodes", &m1.addr()]);
    wait_for(Duration::from_secs(20), "M2 to link to M1", || {
        linked(&m1, &m2).then_some(())
    });

    // A stranger on 127.0.0.2 claims M2's port and misbehaves.
    let mut stranger = Stranger::open(&m1, [127, 0, 0, 2]).expect("upgraded");
    stranger.send(&hello(m2.port, 42));
    stranger.expect("hello");
    stranger
        .socket
        .send(Message::text("not a peer message"))
        .expect("send");
    let reject = stranger.expect("reject");
    assert!(
        reject["reason"].as_str().unwrap().contains("bad message"),
        "{reject}"
    );

    // Claiming another port does not get it back in: its IP is refused.
    let (code, body) = Stranger::open(&m1, [127, 0, 0, 2])
        .err()
        .expect("the banned IP is refused");
    assert_eq!(code, 403, "{body}");
    assert!(body["error"].as_str().unwrap().contains("banned"), "{body}");
    // Other addresses still get in.
    let mut other = Stranger::open(&m1, [127, 0, 0, 3]).expect("another IP is not banned");
    other.send(&hello(m2.port ^ 1, 43));
    other.expect("hello");
    drop(other);

    // M2, on 127.0.0.1 at the port the stranger claimed, links again after a restart.
    m2.restart();
    wait_for(Duration::from_secs(30), "M2 to link to M1 again", || {
        (linked(&m1, &m2) && linked(&m2, &m1)).then_some(())
    });
}

#[test]
fn one_address_cannot_hold_every_peer_slot() {
    let m1 = Master::start(&[]);
    // 127.0.0.2 opens sockets and never says hello: it gets its share, no more.
    let mut held = Vec::new();
    let mut refused = Vec::new();
    for _ in 0..MAX_SOCKETS_PER_IP + 3 {
        match Stranger::open(&m1, [127, 0, 0, 2]) {
            Ok(socket) => held.push(socket),
            Err(refusal) => refused.push(refusal),
        }
    }
    assert_eq!(held.len(), MAX_SOCKETS_PER_IP);
    assert_eq!(refused.len(), 3);
    for (code, body) in &refused {
        assert_eq!(*code, 503, "{body}");
        assert!(
            body["error"]
                .as_str()
                .unwrap()
                .contains("from this address"),
            "{body}"
        );
    }

    // While it holds them, a real master (from 127.0.0.1) links.
    let m2 = Master::start(&["--nodes", &m1.addr()]);
    wait_for(Duration::from_secs(20), "M2 to link to M1", || {
        (linked(&m1, &m2) && linked(&m2, &m1)).then_some(())
    });
    drop(held);
}
