//! The command line's HTTP calls to a master (`--add`, `--print`, `--bench-feed`), over `ureq`:
//! plain HTTP only (no TLS, no proxy, no redirects), JSON in and out, bounded in time and size.

use anyhow::anyhow;
use serde_json::Value;
use std::io::ErrorKind;
use std::sync::OnceLock;
use std::time::Duration;

/// How long a call may take before the master counts as unreachable.
const TIMEOUT: Duration = Duration::from_secs(30);
/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest answer we read.
const MAX_RESPONSE: u64 = 64 * 1024 * 1024;

/// One agent for the process, so calls to the same master reuse connections.
fn agent() -> &'static ureq::Agent {
    static AGENT: OnceLock<ureq::Agent> = OnceLock::new();
    AGENT.get_or_init(|| {
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            // Masters are named host:port; an HTTP_PROXY in the environment must not reroute them.
            .proxy(None)
            .max_redirects(0)
            .timeout_global(Some(TIMEOUT))
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .user_agent(concat!("bbchain/", env!("CARGO_PKG_VERSION")))
            .build()
            .into()
    })
}

/// Sends `method path` with an optional JSON body to `addr` (`host:port`); returns the status and
/// the JSON answer (`null` for an empty one). Errors are one line naming the master.
pub async fn call(
    addr: &str,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> anyhow::Result<(u16, Value)> {
    let (addr, method, path) = (addr.to_owned(), method.to_owned(), path.to_owned());
    let body = body.map(Value::to_string);
    tokio::task::spawn_blocking(move || call_blocking(&addr, &method, &path, body))
        .await
        .map_err(|err| anyhow!("the HTTP call failed: {err}"))?
}

/// [`call`] on the current thread.
pub fn call_blocking(
    addr: &str,
    method: &str,
    path: &str,
    body: Option<String>,
) -> anyhow::Result<(u16, Value)> {
    let url = format!("http://{addr}{path}");
    let result = match (method, body) {
        ("GET", None) => agent().get(&url).call(),
        ("POST", body) => agent()
            .post(&url)
            .header("content-type", "application/json")
            .send(body.unwrap_or_default()),
        (method, _) => return Err(anyhow!("unsupported method {method}")),
    };
    let mut response = result.map_err(|err| describe(addr, &err))?;
    let status = response.status().as_u16();
    let bytes = response
        .body_mut()
        .with_config()
        .limit(MAX_RESPONSE)
        .read_to_vec()
        .map_err(|err| describe(addr, &err))?;
    if bytes.is_empty() {
        return Ok((status, Value::Null));
    }
    let value = serde_json::from_slice(&bytes)
        .map_err(|_| anyhow!("bad answer from {addr} ({status}): not JSON"))?;
    Ok((status, value))
}

/// One line for a failed call: "cannot reach master at 127.0.0.1:8000: connection refused".
fn describe(addr: &str, err: &ureq::Error) -> anyhow::Error {
    match err {
        ureq::Error::Io(io) => {
            let what = match io.kind() {
                ErrorKind::ConnectionRefused => "connection refused".to_owned(),
                ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted => {
                    "the connection was reset".to_owned()
                }
                ErrorKind::UnexpectedEof => "it closed the connection early".to_owned(),
                ErrorKind::TimedOut => format!("no answer within {} s", TIMEOUT.as_secs()),
                _ => io.to_string(),
            };
            anyhow!("cannot reach master at {addr}: {what}")
        }
        ureq::Error::Timeout(ureq::Timeout::Connect) => anyhow!(
            "cannot reach master at {addr}: no connection within {} s",
            CONNECT_TIMEOUT.as_secs()
        ),
        ureq::Error::Timeout(_) => anyhow!(
            "master at {addr} did not answer within {} s",
            TIMEOUT.as_secs()
        ),
        ureq::Error::HostNotFound => anyhow!("cannot reach master at {addr}: unknown host"),
        ureq::Error::ConnectionFailed => {
            anyhow!("cannot reach master at {addr}: connection failed")
        }
        ureq::Error::BadUri(uri) => anyhow!("cannot call master at {addr}: bad URL {uri:?}"),
        ureq::Error::Http(http) => anyhow!("cannot call master at {addr}: {http}"),
        ureq::Error::BodyExceedsLimit(_) => {
            anyhow!("bad answer from {addr}: larger than {MAX_RESPONSE} bytes")
        }
        other => anyhow!("bad answer from {addr}: {other}"),
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
    use std::io::{Read, Write};
    use std::net::TcpListener;

    /// Serves `answer` (raw bytes) to one connection; returns its address.
    fn one_shot_server(answer: &'static [u8]) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        std::thread::spawn(move || {
            let (mut socket, _) = listener.accept().unwrap();
            let mut request = [0u8; 4096];
            let _ = socket.read(&mut request);
            let _ = socket.write_all(answer);
        });
        addr
    }

    #[test]
    fn reads_plain_and_chunked_answers() {
        let addr = one_shot_server(
            b"HTTP/1.1 202 Accepted\r\ncontent-length: 13\r\nconnection: close\r\n\r\n{\"id\":\"abc\"}\n",
        );
        let answer = call_blocking(&addr, "POST", "/api/data", Some("{}".into())).unwrap();
        assert_eq!(answer, (202, serde_json::json!({"id": "abc"})));
        let addr = one_shot_server(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nconnection: close\r\n\r\n4\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\n\r\n",
        );
        let answer = call_blocking(&addr, "GET", "/", None).unwrap();
        assert_eq!(answer, (200, serde_json::json!({"a": 1})));
    }

    #[test]
    fn a_huge_chunk_size_is_an_error_not_a_panic() {
        let addr = one_shot_server(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nconnection: close\r\n\r\nffffffffffffffff\r\nabc",
        );
        let err = call_blocking(&addr, "GET", "/", None).unwrap_err();
        assert!(err.to_string().contains(&addr), "{err}");
    }

    #[test]
    fn garbage_and_non_json_answers_are_one_line_errors() {
        let addr = one_shot_server(b"garbage\r\n\r\n");
        let err = call_blocking(&addr, "GET", "/", None).unwrap_err();
        assert!(err.to_string().starts_with("bad answer from"), "{err}");
        let addr = one_shot_server(
            b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello",
        );
        let err = call_blocking(&addr, "GET", "/", None).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("bad answer from {addr} (200): not JSON")
        );
    }

    #[test]
    fn a_closed_port_says_connection_refused() {
        let addr = {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().to_string()
        };
        let err = call_blocking(&addr, "GET", "/api/status", None).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("cannot reach master at {addr}: connection refused")
        );
    }
}
