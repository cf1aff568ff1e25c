//! Free data is rate-limited per source address: a real master (default limits) and clients whose
//! sockets are bound to 127.0.0.2 and 127.0.0.3, standing in for two machines.

use bbchain_e2e::{Master, tcp_from};
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::time::Duration;

/// An HTTP answer: status, `Retry-After` if any, JSON body.
struct Answer {
    status: u16,
    retry_after: Option<u64>,
    body: Value,
}

/// `POST path` with a JSON body to `master`, from a socket bound to `127.0.0.<source>`.
fn post_from(source: u8, master: &Master, path: &str, body: &Value) -> Answer {
    let port: u16 = master.addr().rsplit(':').next().unwrap().parse().unwrap();
    let mut stream = tcp_from([127, 0, 0, source], port);
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let body = body.to_string();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").expect("an HTTP answer");
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let retry_after = head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("retry-after")
            .then(|| value.trim().parse().unwrap())
    });
    Answer {
        status,
        retry_after,
        body: serde_json::from_str(body).unwrap_or(Value::Null),
    }
}

#[test]
fn one_address_posting_fast_gets_429_while_another_still_gets_202() {
    let master = Master::start(&[]);
    // 4,000-byte entries: the default burst (64 KiB) takes about 15 before 429.
    let entry = |i: usize| json!({"data": format!("{i:04000}")});
    let mut accepted = 0;
    let limited = loop {
        assert!(
            accepted < 100,
            "no 429 after {accepted} entries of 4,000 bytes"
        );
        let answer = post_from(2, &master, "/api/data", &entry(accepted));
        if answer.status != 202 {
            break answer;
        }
        accepted += 1;
    };
    assert_eq!(limited.status, 429, "{}", limited.body);
    assert!(limited.retry_after.is_some_and(|s| s >= 1), "a Retry-After");
    assert!(
        limited.body["error"]
            .as_str()
            .unwrap()
            .contains("127.0.0.2"),
        "{}",
        limited.body
    );
    assert!(accepted >= 10, "a burst first: {accepted}");
    // Another address still gets in, for data and for transactions (this one is malformed: 400).
    let other = post_from(3, &master, "/api/data", &json!({"data": "from 127.0.0.3"}));
    assert_eq!(other.status, 202, "{}", other.body);
    let tx = post_from(3, &master, "/api/tx", &json!({"tx": "00"}));
    assert_eq!(tx.status, 400, "{}", tx.body);
    assert_eq!(master.status()["pending"], accepted as u64 + 1);
}
