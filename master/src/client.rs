//! A tiny HTTP/1.1 client for the command line's calls to a master (`--add`, `--print`).
//! One request per connection, JSON in and out; enough for our own server, no more.

use anyhow::{Context, anyhow, bail};
use serde_json::Value;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long a call may take before the master counts as unreachable.
const TIMEOUT: Duration = Duration::from_secs(30);
/// Largest answer we read.
const MAX_RESPONSE: u64 = 64 * 1024 * 1024;

/// Sends `method path` with an optional JSON body to `addr` (`host:port`); returns the status and
/// the JSON answer.
pub async fn call(
    addr: &str,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> anyhow::Result<(u16, Value)> {
    tokio::time::timeout(TIMEOUT, call_inner(addr, method, path, body))
        .await
        .map_err(|_| anyhow!("master at {addr} did not answer within {TIMEOUT:?}"))?
}

async fn call_inner(
    addr: &str,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> anyhow::Result<(u16, Value)> {
    let mut stream = TcpStream::connect(addr)
        .await
        .map_err(|err| anyhow!("cannot reach master at {addr}: {err}"))?;
    let body = body.map(Value::to_string).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    stream
        .take(MAX_RESPONSE)
        .read_to_end(&mut response)
        .await
        .with_context(|| format!("reading the answer of {addr}"))?;
    parse_response(&response).with_context(|| format!("bad answer from {addr}"))
}

fn parse_response(response: &[u8]) -> anyhow::Result<(u16, Value)> {
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("no end of headers")?;
    let head = std::str::from_utf8(&response[..split]).context("headers are not text")?;
    let mut body = response[split + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .context("no status line")?;
    let chunked = lines.any(|line| {
        let line = line.to_ascii_lowercase();
        line.starts_with("transfer-encoding:") && line.contains("chunked")
    });
    if chunked {
        body = dechunk(&body)?;
    }
    let value = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&body).context("the answer is not JSON")?
    };
    Ok((status, value))
}

fn dechunk(mut body: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let end = body
            .windows(2)
            .position(|w| w == b"\r\n")
            .context("bad chunk")?;
        let size_text = std::str::from_utf8(&body[..end])?;
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)?;
        body = &body[end + 2..];
        if size == 0 {
            return Ok(out);
        }
        if body.len() < size + 2 {
            bail!("chunk is cut short");
        }
        out.extend_from_slice(&body[..size]);
        body = &body[size + 2..];
    }
}

/// The `error` field of an error answer, or the whole answer.
pub fn error_text(value: &Value) -> String {
    value
        .get("error")
        .and_then(Value::as_str)
        .map_or_else(|| value.to_string(), str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_and_chunked_answers() {
        let plain = b"HTTP/1.1 202 Accepted\r\ncontent-length: 13\r\n\r\n{\"id\":\"abc\"}\n";
        assert_eq!(
            parse_response(plain).unwrap(),
            (202, serde_json::json!({"id": "abc"}))
        );
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\n\r\n";
        assert_eq!(
            parse_response(chunked).unwrap(),
            (200, serde_json::json!({"a": 1}))
        );
        assert!(parse_response(b"garbage").is_err());
    }
}
