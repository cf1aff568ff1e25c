//! WebSocket keepalive, the same on every socket (feed, events, peer links): the master pings the
//! other side every `ws_ping_interval`, and drops a socket that stays silent (no message, no pong)
//! for `ws_idle_timeout`; a message that cannot go out within `ws_send_timeout` drops the socket
//! too, so a client that never reads costs neither a task stuck forever nor a growing buffer.
//!
//! [`WsKeepAlive`] drives an axum socket from a handler's loop; [`Pinged`] wraps any WebSocket
//! stream and sink (a peer link's, of either library).

use crate::config::NodeLimits;
use axum::extract::ws::Message;
#[cfg(doc)]
use axum::extract::ws::WebSocket;
use futures_util::{Sink, Stream};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::Instant;

/// The keepalive figures of [`NodeLimits`].
#[derive(Debug, Clone, Copy)]
pub struct KeepAliveTimes {
    pub ping_every: Duration,
    pub idle: Duration,
    pub send: Duration,
}

impl KeepAliveTimes {
    pub fn of(limits: &NodeLimits) -> KeepAliveTimes {
        KeepAliveTimes {
            ping_every: limits.ws_ping_interval,
            idle: limits.ws_idle_timeout,
            send: limits.ws_send_timeout,
        }
    }
}

/// What is due on a socket now.
#[derive(Debug, PartialEq, Eq)]
enum Due {
    Ping,
    /// Silent for the idle timeout: drop it.
    Silent,
    Nothing,
}

/// When the other side was last heard, and when to ping it next.
#[derive(Debug)]
struct Liveness {
    times: KeepAliveTimes,
    last_heard: Instant,
    next_ping: Instant,
}

impl Liveness {
    fn new(times: KeepAliveTimes) -> Liveness {
        let now = Instant::now();
        Liveness {
            times,
            last_heard: now,
            next_ping: now + times.ping_every,
        }
    }

    fn heard(&mut self) {
        self.last_heard = Instant::now();
    }

    fn due(&mut self, now: Instant) -> Due {
        if now >= self.last_heard + self.times.idle {
            Due::Silent
        } else if now >= self.next_ping {
            self.next_ping = now + self.times.ping_every;
            Due::Ping
        } else {
            Due::Nothing
        }
    }

    fn wake_at(&self) -> Instant {
        self.next_ping.min(self.last_heard + self.times.idle)
    }
}

/// An axum WebSocket, or a handle that reads and writes one.
pub trait AxumSocket:
    Stream<Item = Result<Message, axum::Error>> + Sink<Message, Error = axum::Error> + Unpin
{
}

impl<S> AxumSocket for S where
    S: Stream<Item = Result<Message, axum::Error>> + Sink<Message, Error = axum::Error> + Unpin
{
}

/// Keepalive for a feed or event socket: call [`WsKeepAlive::recv`] instead of `socket.recv()`
/// and [`WsKeepAlive::send`] instead of `socket.send()`.
#[derive(Debug)]
pub struct WsKeepAlive {
    live: Liveness,
    /// One timer for the socket's life, moved only when the wake-up time changes: the feed cancels
    /// `recv` on every new tip, and a fresh timer each time would cost every connection a timer
    /// registration per job.
    timer: std::pin::Pin<Box<tokio::time::Sleep>>,
}

impl WsKeepAlive {
    pub fn new(limits: &NodeLimits) -> WsKeepAlive {
        let live = Liveness::new(KeepAliveTimes::of(limits));
        let timer = Box::pin(tokio::time::sleep_until(live.wake_at()));
        WsKeepAlive { live, timer }
    }

    /// The client's next message, pinging it meanwhile; `None` when the socket closed, or when the
    /// client stayed silent past the idle timeout. Cancel-safe, like `socket.recv()`. `socket` is an
    /// axum [`WebSocket`] or a handle on one (the feed shares its sockets with the fan-out writers).
    pub async fn recv<S: AxumSocket>(
        &mut self,
        socket: &mut S,
    ) -> Option<Result<Message, axum::Error>> {
        use futures_util::StreamExt;
        loop {
            let wake = self.live.wake_at();
            if self.timer.deadline() != wake {
                self.timer.as_mut().reset(wake);
            }
            tokio::select! {
                message = socket.next() => {
                    self.live.heard();
                    return message;
                }
                () = &mut self.timer => match self.live.due(Instant::now()) {
                    Due::Silent => {
                        tracing::debug!("dropping a WebSocket silent for {:?}", self.live.times.idle);
                        return None;
                    }
                    Due::Ping => {
                        if !self.send(socket, Message::Ping(Default::default())).await {
                            return None;
                        }
                    }
                    Due::Nothing => {}
                },
            }
        }
    }

    /// Sends `message`; false when the socket failed or the client did not take it within the send
    /// timeout (the caller drops the socket).
    pub async fn send<S: AxumSocket>(&self, socket: &mut S, message: Message) -> bool {
        use futures_util::SinkExt;
        match tokio::time::timeout(self.live.times.send, socket.send(message)).await {
            Ok(Ok(())) => true,
            Ok(Err(_)) => false,
            Err(_) => {
                tracing::debug!("dropping a WebSocket that does not read what it is sent");
                false
            }
        }
    }
}

/// A WebSocket message type that can be a ping.
pub trait PingMessage {
    fn ping() -> Self;
}

impl PingMessage for Message {
    fn ping() -> Self {
        Message::Ping(Default::default())
    }
}

impl PingMessage for tokio_tungstenite::tungstenite::Message {
    fn ping() -> Self {
        tokio_tungstenite::tungstenite::Message::Ping(Default::default())
    }
}

/// Why a [`Pinged`] socket failed.
#[derive(Debug, thiserror::Error)]
pub enum KeepAliveError<E> {
    #[error(transparent)]
    Socket(E),
    #[error("silent for {0:?}: no message and no pong")]
    Silent(Duration),
}

/// A WebSocket (stream of messages in, sink of messages out) that pings the other side while its
/// stream is polled, and ends with [`KeepAliveError::Silent`] when nothing comes back in time.
/// Its sends have no timeout of their own: a peer link bounds them in its outbox.
pub struct Pinged<S> {
    inner: S,
    live: Liveness,
    timer: Pin<Box<tokio::time::Sleep>>,
    /// A ping went into the sink and still has to be flushed.
    flushing: bool,
}

impl<S> Pinged<S> {
    pub fn new(inner: S, times: KeepAliveTimes) -> Pinged<S> {
        let live = Liveness::new(times);
        let timer = Box::pin(tokio::time::sleep_until(live.wake_at()));
        Pinged {
            inner,
            live,
            timer,
            flushing: false,
        }
    }
}

impl<S, M, E> Stream for Pinged<S>
where
    S: Stream<Item = Result<M, E>> + Sink<M, Error = E> + Unpin,
    M: PingMessage,
{
    type Item = Result<M, KeepAliveError<E>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if let Poll::Ready(item) = Pin::new(&mut this.inner).poll_next(cx) {
            this.live.heard();
            return Poll::Ready(item.map(|result| result.map_err(KeepAliveError::Socket)));
        }
        if this.flushing && Pin::new(&mut this.inner).poll_flush(cx).is_ready() {
            this.flushing = false;
        }
        while this.timer.as_mut().poll(cx).is_ready() {
            match this.live.due(Instant::now()) {
                Due::Silent => {
                    let idle = this.live.times.idle;
                    return Poll::Ready(Some(Err(KeepAliveError::Silent(idle))));
                }
                Due::Ping => {
                    // A sink busy with a message is skipped: the next ping goes when it is free.
                    let ready = Pin::new(&mut this.inner).poll_ready(cx);
                    if matches!(ready, Poll::Ready(Ok(())))
                        && Pin::new(&mut this.inner).start_send(M::ping()).is_ok()
                    {
                        this.flushing = Pin::new(&mut this.inner).poll_flush(cx).is_pending();
                    }
                }
                Due::Nothing => {}
            }
            let wake = this.live.wake_at();
            this.timer.as_mut().reset(wake);
        }
        Poll::Pending
    }
}

impl<S, M, E> Sink<M> for Pinged<S>
where
    S: Sink<M, Error = E> + Unpin,
{
    type Error = KeepAliveError<E>;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.get_mut().inner)
            .poll_ready(cx)
            .map_err(KeepAliveError::Socket)
    }

    fn start_send(self: Pin<&mut Self>, item: M) -> Result<(), Self::Error> {
        Pin::new(&mut self.get_mut().inner)
            .start_send(item)
            .map_err(KeepAliveError::Socket)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.get_mut().inner)
            .poll_flush(cx)
            .map_err(KeepAliveError::Socket)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.get_mut().inner)
            .poll_close(cx)
            .map_err(KeepAliveError::Socket)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn times(ping_ms: u64, idle_ms: u64) -> KeepAliveTimes {
        KeepAliveTimes {
            ping_every: Duration::from_millis(ping_ms),
            idle: Duration::from_millis(idle_ms),
            send: Duration::from_secs(1),
        }
    }

    #[test]
    fn pings_on_schedule_and_gives_up_on_silence() {
        let mut live = Liveness::new(times(100, 250));
        let start = live.last_heard;
        let at = |ms| start + Duration::from_millis(ms);
        assert_eq!(live.due(at(50)), Due::Nothing);
        assert_eq!(live.wake_at(), at(100));
        assert_eq!(live.due(at(100)), Due::Ping);
        assert_eq!(live.due(at(150)), Due::Nothing);
        assert_eq!(live.wake_at(), at(200));
        assert_eq!(live.due(at(250)), Due::Silent);
    }

    /// A socket that never answers: its stream never yields, its sink takes everything.
    struct Mute {
        sent: usize,
    }

    impl Stream for Mute {
        type Item = Result<Message, std::io::Error>;
        fn poll_next(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
            Poll::Pending
        }
    }

    impl Sink<Message> for Mute {
        type Error = std::io::Error;
        fn poll_ready(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }
        fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), Self::Error> {
            assert!(matches!(item, Message::Ping(_)));
            self.get_mut().sent += 1;
            Ok(())
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }
        fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn a_peer_that_never_answers_is_pinged_then_dropped() {
        use futures_util::StreamExt;
        let mut socket = Pinged::new(Mute { sent: 0 }, times(50, 300));
        let ended = tokio::time::timeout(Duration::from_secs(10), socket.next()).await;
        assert!(matches!(ended, Ok(Some(Err(KeepAliveError::Silent(_))))));
        assert!(socket.inner.sent >= 1, "pinged before it was given up");
    }
}
