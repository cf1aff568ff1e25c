//! The fan-out bench's feed clients: plain sockets that do the WebSocket handshake and framing
//! themselves, read by one thread with one epoll set, so the load generator (which shares the
//! machine's cores with the master under test) spends a read and a frame scan per job instead of a
//! task wake-up, a WebSocket library and an allocation per frame. Each frame is still received in
//! full and its JSON read (type, job id, clean, height) as a miner would.

use anyhow::{Context, bail};
use mio::net::TcpStream as MioStream;
use mio::{Events, Interest, Poll, Token};
use std::io::{ErrorKind, Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A feed connection after its hello and first job.
pub struct RawFeed {
    stream: std::net::TcpStream,
    /// Bytes read past the first job.
    unread: Vec<u8>,
}

/// What a server frame holds, as far as the bench cares.
enum Frame<'a> {
    Text(&'a str),
    Ping(&'a [u8]),
    Close,
    Other,
}

/// The first whole frame in `buf` (a server's frames are not masked) and its length in bytes.
fn parse_frame(buf: &[u8]) -> anyhow::Result<Option<(Frame<'_>, usize)>> {
    if buf.len() < 2 {
        return Ok(None);
    }
    if buf[1] & 0x80 != 0 {
        bail!("the server masked a frame");
    }
    let (len, head) = match buf[1] & 0x7f {
        126 if buf.len() >= 4 => (usize::from(u16::from_be_bytes([buf[2], buf[3]])), 4),
        127 if buf.len() >= 10 => {
            let bytes: [u8; 8] = buf[2..10].try_into().expect("8 bytes");
            (usize::try_from(u64::from_be_bytes(bytes))?, 10)
        }
        126 | 127 => return Ok(None),
        len => (usize::from(len), 2),
    };
    let Some(payload) = buf.get(head..head + len) else {
        return Ok(None);
    };
    let frame = match buf[0] & 0x0f {
        0x1 => Frame::Text(std::str::from_utf8(payload).context("a text frame not in UTF-8")?),
        0x8 => Frame::Close,
        0x9 => Frame::Ping(payload),
        _ => Frame::Other,
    };
    Ok(Some((frame, head + len)))
}

/// A client frame (masked, as the protocol requires of clients).
fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [0x5a, 0xc3, 0x17, 0x8e];
    let mut frame = vec![0x80 | opcode];
    match payload.len() {
        len @ 0..=125 => frame.push(0x80 | len as u8),
        len => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&u16::try_from(len).expect("small frames").to_be_bytes());
        }
    }
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().zip(mask.iter().cycle()).map(|(b, m)| b ^ m));
    frame
}

/// Opens `/ws/mine` on `addr`, says hello as `name` and waits for the first job.
pub async fn connect(addr: &str, name: &str) -> anyhow::Result<RawFeed> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let request = format!(
        "GET /ws/mine HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await?;
    let mut buf = Vec::with_capacity(1024);
    let head_end = loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        if stream.read_buf(&mut buf).await? == 0 {
            bail!("the master closed during the handshake");
        }
    };
    if !buf.starts_with(b"HTTP/1.1 101") {
        bail!(
            "no upgrade: {}",
            String::from_utf8_lossy(&buf[..head_end.min(80)])
        );
    }
    buf.drain(..head_end);
    let hello = serde_json::json!({"type": "hello", "name": name, "agent": "bbchain-bench"});
    stream
        .write_all(&client_frame(0x1, hello.to_string().as_bytes()))
        .await?;
    loop {
        while let Some((frame, used)) = parse_frame(&buf)? {
            let is_job = match frame {
                Frame::Text(text) if text.starts_with(r#"{"type":"job""#) => true,
                Frame::Text(text) => bail!("hello refused: {text}"),
                _ => false,
            };
            buf.drain(..used);
            if is_job {
                let stream = stream.into_std()?;
                return Ok(RawFeed {
                    stream,
                    unread: buf,
                });
            }
        }
        if stream.read_buf(&mut buf).await? == 0 {
            bail!("the master closed before the first job");
        }
    }
}

/// Reads every connection on one thread until `stop`, handing each text frame to `on_text` with
/// the connection's index, and answering pings.
pub fn spawn_reader(
    feeds: Vec<RawFeed>,
    stop: Arc<AtomicBool>,
    on_text: impl Fn(usize, &str) + Send + 'static,
) -> anyhow::Result<std::thread::JoinHandle<anyhow::Result<()>>> {
    let mut poll = Poll::new()?;
    let mut conns = Vec::with_capacity(feeds.len());
    for (index, feed) in feeds.into_iter().enumerate() {
        let mut stream = MioStream::from_std(feed.stream);
        poll.registry()
            .register(&mut stream, Token(index), Interest::READABLE)?;
        conns.push((stream, feed.unread, true));
    }
    Ok(std::thread::Builder::new()
        .name("bench-feed-reader".into())
        .spawn(move || {
            let mut events = Events::with_capacity(1024);
            let mut chunk = [0u8; 4096];
            while !stop.load(Ordering::Relaxed) {
                poll.poll(&mut events, Some(Duration::from_millis(50)))?;
                for event in &events {
                    let index = event.token().0;
                    let (stream, buf, open) = &mut conns[index];
                    if !*open {
                        continue;
                    }
                    // Edge-triggered: read until the socket is empty.
                    loop {
                        match stream.read(&mut chunk) {
                            Ok(0) => {
                                *open = false;
                                break;
                            }
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            Err(err) if err.kind() == ErrorKind::WouldBlock => break,
                            Err(err) if err.kind() == ErrorKind::Interrupted => {}
                            Err(_) => {
                                *open = false;
                                break;
                            }
                        }
                    }
                    let mut used = 0;
                    while let Some((frame, len)) = parse_frame(&buf[used..])? {
                        match frame {
                            Frame::Text(text) => on_text(index, text),
                            Frame::Ping(payload) => {
                                // A tiny frame into an empty socket: it goes at once.
                                let _ = stream.write_all(&client_frame(0xA, payload));
                            }
                            Frame::Close => *open = false,
                            Frame::Other => {}
                        }
                        used += len;
                    }
                    buf.drain(..used);
                }
            }
            Ok(())
        })?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_read_whole_and_only_whole() {
        let mut buf = vec![0x81, 5];
        buf.extend_from_slice(b"hello");
        buf.extend_from_slice(&[0x89, 0]);
        assert!(parse_frame(&buf[..6]).expect("fine").is_none());
        let (frame, used) = parse_frame(&buf).expect("fine").expect("a frame");
        assert!(matches!(frame, Frame::Text("hello")));
        assert_eq!(used, 7);
        let (frame, used) = parse_frame(&buf[7..]).expect("fine").expect("a ping");
        assert!(matches!(frame, Frame::Ping(&[])));
        assert_eq!(used, 2);
        let long = [&[0x81, 126, 1, 0][..], &[b'x'; 256]].concat();
        let (frame, used) = parse_frame(&long).expect("fine").expect("a long frame");
        assert!(matches!(frame, Frame::Text(text) if text.len() == 256));
        assert_eq!(used, 260);
    }
}
