//! The master's accept loop and HTTP connections: every accepted socket takes a slot in the
//! [`ConnTable`] or is told `503` and closed (the loop never stops accepting), and every
//! connection is closed when it sends its headers too slowly (`header_read_timeout`, hyper's
//! timer), takes too long over a request and its body (`request_timeout`, `408`), or stays idle
//! between requests (`idle_timeout`). A connection upgraded to a WebSocket leaves these timeouts
//! to the socket's own keepalive ([`crate::keepalive`]) but keeps its slot until it closes.

use crate::api::AppError;
use crate::config::{ACCEPT_ERROR_PAUSE, MAX_REFUSING, REFUSAL_LINGER};
use crate::conn_limit::{ConnTable, ConnTicket, refused};
use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use axum::response::IntoResponse;
use hyper::body::Incoming;
use hyper::service::Service;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Serves `router` on `listener` within the limits of `table` (which the Stratum listener shares) until `shutdown` is cancelled; each connection
/// runs as a task on `tasks`, which asks it to finish its request and close on shutdown.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    table: Arc<ConnTable>,
    shutdown: CancellationToken,
    tasks: TaskTracker,
) {
    let limits = table.limits();
    let timeouts = Timeouts {
        header_read: limits.header_read_timeout,
        request: limits.request_timeout,
        idle: limits.idle_timeout,
    };
    let refusing = Arc::new(Semaphore::new(MAX_REFUSING));
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = shutdown.cancelled() => return,
        };
        let (stream, remote) = match accepted {
            Ok(accepted) => accepted,
            Err(err) if is_connection_error(&err) => continue,
            Err(err) => {
                // Out of descriptors or memory: wait for some to free up, then go on.
                tracing::warn!("accept error: {err}");
                tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                continue;
            }
        };
        match table.admit(remote.ip()) {
            Ok(ticket) => {
                let connection = Connection {
                    remote,
                    ticket,
                    timeouts,
                    shutdown: shutdown.clone(),
                };
                tasks.spawn(connection.serve(stream, router.clone()));
            }
            Err(refusal) => {
                refused(refusal.limit());
                refuse(stream, &refusal.message(table.limits()), &refusing);
            }
        }
    }
}

/// Errors of one connection that came and went before it was accepted.
fn is_connection_error(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// The whole answer to a refused connection.
fn refusal_answer(message: &str) -> String {
    let body = serde_json::json!({ "error": message }).to_string();
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// Tells a refused socket `503` and closes it. The answer fits a new socket's send buffer, so it
/// is written at once; the socket is then kept a moment (at most [`MAX_REFUSING`] of them) so the
/// client reads the answer rather than a reset.
fn refuse(stream: TcpStream, message: &str, refusing: &Arc<Semaphore>) {
    let _ = stream.try_write(refusal_answer(message).as_bytes());
    let Ok(permit) = refusing.clone().try_acquire_owned() else {
        return;
    };
    tokio::spawn(async move {
        let _permit = permit;
        let mut stream = stream;
        let _ = tokio::time::timeout(REFUSAL_LINGER, async {
            let _ = stream.shutdown().await;
            let mut sink = [0u8; 1024];
            while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
        })
        .await;
    });
}

#[derive(Debug, Clone, Copy)]
struct Timeouts {
    header_read: Duration,
    request: Duration,
    idle: Duration,
}

/// One accepted connection.
struct Connection {
    remote: SocketAddr,
    ticket: ConnTicket,
    timeouts: Timeouts,
    shutdown: CancellationToken,
}

impl Connection {
    /// Serves HTTP/1 requests (and an upgrade) on `stream` until the client leaves, a timeout
    /// closes it, or the master stops.
    async fn serve(self, stream: TcpStream, router: Router) {
        let activity = Arc::new(Activity::default());
        let in_flight = Arc::new(AtomicUsize::new(0));
        let io = TokioIo::new(ConnStream {
            stream,
            ticket: self.ticket.clone(),
            activity: activity.clone(),
        });
        let service = {
            let in_flight = in_flight.clone();
            let router = TowerToHyperService::new(router);
            let (remote, ticket, timeout) = (self.remote, self.ticket, self.timeouts.request);
            hyper::service::service_fn(move |mut request: Request<Incoming>| {
                request.extensions_mut().insert(ConnectInfo(remote));
                request.extensions_mut().insert(ticket.clone());
                let answer = router.call(request);
                let busy = InFlight::enter(&in_flight);
                async move {
                    let _busy = busy;
                    match tokio::time::timeout(timeout, answer).await {
                        Ok(answer) => answer,
                        Err(_) => Ok(AppError::new(
                            StatusCode::REQUEST_TIMEOUT,
                            "the request took too long to arrive or to answer",
                        )
                        .into_response()),
                    }
                }
            })
        };
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(self.timeouts.header_read);
        let connection = builder.serve_connection(io, service).with_upgrades();
        tokio::pin!(connection);
        let idle = self.timeouts.idle;
        let mut check_idle_at = Instant::now() + idle;
        let mut stopping = false;
        loop {
            tokio::select! {
                _ = connection.as_mut() => return,
                () = self.shutdown.cancelled(), if !stopping => {
                    stopping = true;
                    connection.as_mut().graceful_shutdown();
                }
                () = tokio::time::sleep_until(check_idle_at.into()) => {
                    let now = Instant::now();
                    if in_flight.load(Ordering::Relaxed) > 0 {
                        check_idle_at = now + idle;
                        continue;
                    }
                    let idle_since = activity.last();
                    if now >= idle_since + idle {
                        return;
                    }
                    check_idle_at = idle_since + idle;
                }
            }
        }
    }
}

/// Counts a request in progress while it lives.
struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    fn enter(count: &Arc<AtomicUsize>) -> InFlight {
        count.fetch_add(1, Ordering::Relaxed);
        InFlight(count.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// When a connection last read or wrote a byte.
#[derive(Debug)]
struct Activity {
    /// Milliseconds since [`epoch`].
    last: AtomicU64,
}

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

impl Default for Activity {
    fn default() -> Self {
        let activity = Activity {
            last: AtomicU64::new(0),
        };
        activity.touch();
        activity
    }
}

impl Activity {
    fn touch(&self) {
        let millis = u64::try_from(epoch().elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last.store(millis, Ordering::Relaxed);
    }

    fn last(&self) -> Instant {
        epoch() + Duration::from_millis(self.last.load(Ordering::Relaxed))
    }
}

/// An accepted socket: it holds the connection's slot, notes its activity, and reads no more
/// than the ticket's read limit allows ([`ConnTicket::limit_reads`]).
struct ConnStream {
    stream: TcpStream,
    ticket: ConnTicket,
    activity: Arc<Activity>,
}

impl AsyncRead for ConnStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let budget = ready!(this.ticket.poll_read_budget(cx));
        let read = if budget >= buf.remaining() {
            let before = buf.filled().len();
            ready!(Pin::new(&mut this.stream).poll_read(cx, buf))?;
            buf.filled().len() - before
        } else {
            let mut limited = ReadBuf::new(buf.initialize_unfilled_to(budget));
            ready!(Pin::new(&mut this.stream).poll_read(cx, &mut limited))?;
            let read = limited.filled().len();
            buf.advance(read);
            read
        };
        if read > 0 {
            this.ticket.spend_read_budget(read);
            this.activity.touch();
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for ConnStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = ready!(Pin::new(&mut this.stream).poll_write(cx, buf))?;
        if written > 0 {
            this.activity.touch();
        }
        Poll::Ready(Ok(written))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = ready!(Pin::new(&mut this.stream).poll_write_vectored(cx, bufs))?;
        if written > 0 {
            this.activity.touch();
        }
        Poll::Ready(Ok(written))
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refusal_is_a_complete_json_answer() {
        let answer = refusal_answer("too many connections (limit 3)");
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 503 "));
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(json["error"], "too many connections (limit 3)");
    }
}
