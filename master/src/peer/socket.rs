//! A peer link's socket, whichever WebSocket library carried it: axum's for masters that dial us,
//! tokio-tungstenite's for masters we dial. The link sees text frames in and text out, nothing else.

use crate::conn_limit::ConnTicket;
use crate::keepalive::{KeepAliveTimes, PingMessage, Pinged};
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use std::pin::Pin;

/// A WebSocket frame, whichever library carried it.
pub(super) enum Frame {
    Text(String),
    Binary,
    Close,
    Control,
}

/// Both halves of a link's WebSocket.
pub(super) struct LinkIo {
    pub incoming: Pin<Box<dyn Stream<Item = anyhow::Result<Frame>> + Send>>,
    pub outgoing: Pin<Box<dyn Sink<String, Error = anyhow::Error> + Send>>,
    /// An inbound socket's connection, read only up to `NodeLimits::max_peer_hello_bytes` until
    /// the link lifts that limit after a good hello.
    pub before_hello: Option<ConnTicket>,
}

/// What a link needs of a WebSocket library's message type.
pub(super) trait WsMessage: Send + 'static {
    /// The frame this message is.
    fn into_frame(self) -> Frame;
    /// A text message.
    fn text(text: String) -> Self;
}

impl WsMessage for axum::extract::ws::Message {
    fn into_frame(self) -> Frame {
        use axum::extract::ws::Message;
        match self {
            Message::Text(text) => Frame::Text(text.to_string()),
            Message::Binary(_) => Frame::Binary,
            Message::Close(_) => Frame::Close,
            Message::Ping(_) | Message::Pong(_) => Frame::Control,
        }
    }

    fn text(text: String) -> Self {
        axum::extract::ws::Message::Text(text.into())
    }
}

impl WsMessage for tokio_tungstenite::tungstenite::Message {
    fn into_frame(self) -> Frame {
        use tokio_tungstenite::tungstenite::Message;
        match self {
            Message::Text(text) => Frame::Text(text.to_string()),
            Message::Binary(_) => Frame::Binary,
            Message::Close(_) => Frame::Close,
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => Frame::Control,
        }
    }

    fn text(text: String) -> Self {
        tokio_tungstenite::tungstenite::Message::Text(text.into())
    }
}

impl LinkIo {
    /// Splits a WebSocket of either library into the link's two halves, pinged and dropped when
    /// silent as `times` say.
    pub(super) fn new<S, M, E>(socket: S, times: KeepAliveTimes) -> LinkIo
    where
        S: Stream<Item = Result<M, E>> + Sink<M, Error = E> + Send + Unpin + 'static,
        M: WsMessage + PingMessage,
        E: std::error::Error + Send + Sync + 'static,
    {
        let (sink, stream) = Pinged::new(socket, times).split();
        let incoming =
            stream.map(|message| message.map(M::into_frame).map_err(anyhow::Error::from));
        let outgoing = sink
            .sink_map_err(anyhow::Error::from)
            .with(|text: String| async move { Ok::<_, anyhow::Error>(M::text(text)) });
        LinkIo {
            incoming: Box::pin(incoming),
            outgoing: Box::pin(outgoing),
            before_hello: None,
        }
    }
}
