//! A real master under connection floods from several loopback addresses: more idle connections
//! than it has descriptors, and strangers' `/ws/peer` sockets sending huge frames before any hello.

use bbchain_e2e::*;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// A TCP connection to the master on `port` from `127.0.0.<from>`.
fn connect_from(from: u8, port: u16) -> TcpStream {
    tcp_from([127, 0, 0, from], port)
}

/// Reads an answer's head (up to the blank line).
fn read_head(stream: &mut TcpStream) -> String {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

fn start_master(
    configure: impl FnOnce(&mut std::process::Command),
) -> (Process, u16, tempfile::TempDir) {
    let data = tempfile::tempdir().unwrap();
    let args = [
        "--start-master",
        "--chain",
        "dev",
        "--port",
        "0",
        "--data-dir",
        data.path().to_str().unwrap(),
    ];
    let process = spawn_bbchain_with(&args, configure);
    let port = reported_port(&process);
    (process, port, data)
}

#[test]
fn more_connections_than_descriptors_get_503_while_the_api_answers() {
    let (process, port, _data) = start_master(|command| with_open_files(command, 64, 256));
    process.wait_for_line(Duration::from_secs(5), |line| {
        line.contains("open files: soft limit 256 (was 64)")
            .then_some(())
    });
    let max: usize = process.wait_for_line(Duration::from_secs(5), |line| {
        let (_, rest) = line.split_once("connections: at most ")?;
        rest.split_whitespace().next()?.parse().ok()
    });
    assert_eq!(max, 256 - 128, "sized from the open-file limit");
    // 300 idle connections from five addresses: more than the master has descriptors.
    let mut flood: Vec<(TcpStream, Vec<u8>, bool)> = Vec::new();
    for from in 2..=6 {
        for _ in 0..60 {
            let stream = connect_from(from, port);
            stream.set_nonblocking(true).unwrap();
            flood.push((stream, Vec::new(), false));
        }
    }
    let refused_at_least = flood.len() - max;
    wait_for(Duration::from_secs(20), "503 answers", || {
        let mut buf = [0u8; 1024];
        for (stream, got, ended) in flood.iter_mut().filter(|(_, _, ended)| !*ended) {
            match stream.read(&mut buf) {
                Ok(0) => *ended = true,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(err) if err.kind() == ErrorKind::WouldBlock => {}
                Err(_) => *ended = true,
            }
        }
        let refused = flood
            .iter()
            .filter(|(_, got, ended)| *ended && got.starts_with(b"HTTP/1.1 503"))
            .count();
        (refused >= refused_at_least).then_some(())
    });
    for (_, got, ended) in &flood {
        if *ended && !got.is_empty() {
            let text = String::from_utf8_lossy(got);
            let (_, body) = text.split_once("\r\n\r\n").expect("a whole answer");
            let error: serde_json::Value = serde_json::from_str(body).expect("a JSON error");
            assert!(
                error["error"]
                    .as_str()
                    .unwrap()
                    .contains("too many connections")
            );
        }
    }
    // With the flood still open, another address gets the API.
    let mut api = connect_from(9, port);
    api.write_all(b"GET /api/status HTTP/1.1\r\nHost: test\r\n\r\n")
        .unwrap();
    let head = read_head(&mut api);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        !process.log().contains("Too many open files"),
        "{}",
        process.log()
    );
}

/// The master's resident memory, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .expect("VmRSS")
}

#[test]
fn strangers_peer_sockets_cannot_make_the_master_buffer_big_frames() {
    const SOCKETS: u8 = 32;
    const PUSH: usize = 2 * 1024 * 1024;
    let (process, port, _data) = start_master(|_| {});
    let pid = process.pid().unwrap();
    let before = rss_kib(pid);
    let mut sockets = Vec::new();
    for from in 2..2 + SOCKETS {
        let mut stream = connect_from(from, port);
        stream
            .write_all(
                b"GET /ws/peer HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
            )
            .unwrap();
        let head = read_head(&mut stream);
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        // One text frame of 9.9 MB (masked with a zero key), announced before any hello.
        let mut frame = vec![0x81, 0x80 | 127];
        frame.extend_from_slice(&9_900_000u64.to_be_bytes());
        frame.extend_from_slice(&[0, 0, 0, 0]);
        stream.write_all(&frame).unwrap();
        stream.set_nonblocking(true).unwrap();
        sockets.push((stream, 0usize));
    }
    // Push up to 2 MB of it into each socket, as much as goes without waiting.
    let chunk = vec![b'x'; 64 * 1024];
    let mut progress = true;
    while progress {
        progress = false;
        for (stream, pushed) in sockets.iter_mut().filter(|(_, pushed)| *pushed < PUSH) {
            if let Ok(n) = stream.write(&chunk) {
                *pushed += n;
                progress = true;
            }
        }
    }
    let pushed: usize = sockets.iter().map(|(_, pushed)| pushed).sum();
    // A round trip through the master, then its memory.
    let (code, _) = http_get(&format!("http://127.0.0.1:{port}/api/status"));
    assert_eq!(code, 200);
    let grown = rss_kib(pid).saturating_sub(before);
    eprintln!(
        "pushed {} KiB, resident memory grew {grown} KiB",
        pushed / 1024
    );
    assert!(
        grown < 16 * 1024,
        "{grown} KiB more resident memory after {} KiB of frames before hello",
        pushed / 1024
    );
}
