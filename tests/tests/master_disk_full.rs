//! A full disk: the master says so, refuses writes with `503`, hands out no work, and recovers by
//! itself once space is back, with every acknowledged entry kept.
//!
//! The disk fills without root or a mount: the test lowers the running master's file-size limit
//! (`RLIMIT_FSIZE`, through `prlimit(2)`: `Master::fill_disk`) to 0, so every write to its database
//! fails with `EFBIG` (the master ignores `SIGXFSZ`), as a full disk fails with `ENOSPC`. Raising
//! the limit again is space coming back.

use bbchain_core::hash::Txid;
use bbchain_core::{Amount, ChainParams, OutPoint, TxOut, testing};
use bbchain_e2e::{Master, http_get, http_post_json, wait_for};
use serde_json::{Value, json};
use std::net::TcpStream;
use std::time::Duration;
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

fn post_data(master: &Master, text: &str) -> (u16, Value) {
    http_post_json(&master.url("/api/data"), &json!({"data": text}))
}

/// A well-formed, signed transaction (its input is made up: only the writer would find that out).
fn some_tx_hex() -> String {
    let key = testing::secret_key(1);
    let output = TxOut {
        value: Amount::from_units(50_000),
        key: key.public_key(),
    };
    let spent = OutPoint {
        txid: Txid::from_byte_array([9; 32]),
        vout: 0,
    };
    let tx = testing::signed_tx(&ChainParams::dev(), &key, &[(spent, output)], vec![output]);
    tx.to_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

fn entry_status(master: &Master, id: &str) -> String {
    let (code, body) = http_get(&master.url(&format!("/api/data/{id}")));
    assert_eq!(code, 200, "entry {id}: {body}");
    body["status"].as_str().unwrap().to_string()
}

/// A `/ws/mine` connection, as a miner opens it.
struct FeedClient(WebSocket<MaybeTlsStream<TcpStream>>);

impl FeedClient {
    fn hello(master: &Master) -> FeedClient {
        let (mut socket, _) = tungstenite::connect(master.ws_url("/ws/mine")).expect("connect");
        if let MaybeTlsStream::Plain(stream) = socket.get_ref() {
            stream
                .set_read_timeout(Some(Duration::from_secs(30)))
                .expect("timeout");
        }
        let hello = json!({"type": "hello", "name": "disk-test"}).to_string();
        socket.send(Message::text(hello)).expect("send hello");
        FeedClient(socket)
    }

    /// The next message (panics after 30 s of silence).
    fn next(&mut self) -> Value {
        loop {
            match self.0.read().expect("a message from the feed") {
                Message::Text(text) => return serde_json::from_str(&text).expect("json"),
                _ => continue,
            }
        }
    }
}

#[test]
fn a_full_disk_is_reported_refused_with_503_and_recovered_from_without_losing_entries() {
    let master = Master::start(&[]);
    let _miner = master.miner("disk-miner");
    let mut acked: Vec<String> = (0..10)
        .map(|i| {
            let (code, body) = post_data(&master, &format!("before the disk filled {i}"));
            assert_eq!(code, 202, "{body}");
            body["id"].as_str().unwrap().to_string()
        })
        .collect();
    wait_for(Duration::from_secs(60), "the first entries mined", || {
        acked
            .iter()
            .all(|id| entry_status(&master, id) == "confirmed")
            .then_some(())
    });
    assert_eq!(master.status()["storage"], "ok");

    // The disk is full: the database file may not grow any more.
    master.fill_disk();
    let filler = "x".repeat(3000);
    let mut refused = None;
    for i in 0..2000 {
        let (code, body) = post_data(&master, &format!("while the disk fills {i} {filler}"));
        match code {
            202 => acked.push(body["id"].as_str().unwrap().to_string()),
            _ => {
                refused = Some((code, body));
                break;
            }
        }
    }
    let (code, body) = refused.expect("a write refused once the file may not grow");
    assert_eq!(code, 503, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(error.contains("disk is full"), "{error}");

    // Said everywhere: status, health, and no work for a new miner.
    let status = master.status();
    let storage = status["storage"].as_str().unwrap();
    assert!(storage.starts_with("failing: the disk is full"), "{status}");
    let (code, health) = http_get(&master.url("/api/health"));
    assert_eq!(code, 503, "{health}");
    assert_eq!(health["storage"], storage);
    let mut feed = FeedClient::hello(&master);
    let answer = feed.next();
    assert_eq!(answer["type"], "rejected", "{answer}");
    assert!(
        answer["reason"].as_str().unwrap().contains("storage"),
        "{answer}"
    );
    let (code, body) = post_data(&master, "refused while full");
    assert_eq!(code, 503, "{body}");
    let (code, body) = http_post_json(&master.url("/api/tx"), &json!({"tx": some_tx_hex()}));
    assert_eq!(code, 503, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("disk is full"),
        "{body}"
    );

    // Space comes back: the master recovers by itself.
    master.free_disk();
    wait_for(Duration::from_secs(30), "storage ok again", || {
        let (code, _) = http_get(&master.url("/api/health"));
        (code == 200).then_some(())
    });
    assert_eq!(master.status()["storage"], "ok");
    let job = feed.next();
    assert_eq!(job["type"], "job", "the waiting miner gets work: {job}");
    let (code, body) = post_data(&master, "after the disk came back");
    assert_eq!(code, 202, "{body}");
    acked.push(body["id"].as_str().unwrap().to_string());
    wait_for(
        Duration::from_secs(90),
        "every acknowledged entry mined",
        || {
            acked
                .iter()
                .all(|id| entry_status(&master, id) == "confirmed")
                .then_some(())
        },
    );
}
