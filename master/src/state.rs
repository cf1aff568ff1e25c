//! What every HTTP handler and WebSocket task can reach: the node, the WebSocket slots, the stop
//! token and the task tracker. Its own module, so the routes (`server`) and the socket handlers
//! (`feed`, `events`) both depend on it and not on each other.

use crate::api::AppError;
use crate::conn_limit::{ConnTicket, refused};
use crate::keepalive::AxumSocket;
use crate::node::Node;
use axum::extract::FromRef;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The node.
    pub node: Node,
    /// One permit per open WebSocket (`NodeLimits::max_connections`).
    pub connections: Arc<Semaphore>,
    /// Cancelled when the master stops: long-lived sockets close.
    pub shutdown: CancellationToken,
    /// The WebSocket and peer tasks: a stopping master waits for them to let go of the node.
    pub tasks: TaskTracker,
    /// The writers that hand each new template's jobs to the feed's miners.
    pub feed_fanout: Arc<crate::fanout::FanOut<crate::feed::FeedMiner>>,
}

impl FromRef<AppState> for Node {
    fn from_ref(state: &AppState) -> Node {
        state.node.clone()
    }
}

impl AppState {
    /// State for `node`; cancelling `shutdown` closes the sockets.
    pub fn new(node: Node, shutdown: CancellationToken) -> AppState {
        let connections = Arc::new(Semaphore::new(node.limits().max_connections));
        AppState {
            node,
            connections,
            shutdown,
            tasks: TaskTracker::new(),
            feed_fanout: Arc::default(),
        }
    }

    /// Accepts a feed or event WebSocket within the node's connection and message limits (in
    /// total, and per client address when the request carries its connection's
    /// [`ConnTicket`]), then hands it to `run` together with its connection permit.
    pub fn upgrade<F, Fut>(
        self,
        ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
        headers: &axum::http::HeaderMap,
        extensions: &axum::http::Extensions,
        run: F,
    ) -> Response
    where
        F: FnOnce(WebSocket, AppState, OwnedSemaphorePermit) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let ws = match ws {
            Ok(ws) => ws,
            Err(rejection) => return AppError::from(rejection).into_response(),
        };
        if !same_origin_or_none(headers) {
            let why = "WebSocket from another site's page: only this master's own page may connect";
            return AppError::new(StatusCode::FORBIDDEN, why).into_response();
        }
        let permit = self.connection_permit().and_then(|permit| {
            self.websocket_of_address(extensions)?;
            Ok(permit)
        });
        match permit {
            Ok(permit) => ws
                .max_message_size(self.node.limits().max_ws_message_bytes)
                .read_buffer_size(crate::config::WS_BUFFER_BYTES)
                .write_buffer_size(crate::config::WS_BUFFER_BYTES)
                .on_upgrade(move |socket| {
                    let tasks = self.tasks.clone();
                    tasks.track_future(run(socket, self, permit))
                }),
            Err(err) => err.into_response(),
        }
    }

    /// Counts the connection as a WebSocket of its address, or `503` when the address holds its
    /// most already.
    fn websocket_of_address(&self, extensions: &axum::http::Extensions) -> Result<(), AppError> {
        let Some(ticket) = extensions.get::<ConnTicket>() else {
            return Ok(());
        };
        ticket.become_websocket().map_err(|refusal| {
            refused(refusal.limit());
            AppError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                refusal.message(self.node.limits()),
            )
        })
    }

    /// A WebSocket slot, or `503` when all are taken.
    pub fn connection_permit(&self) -> Result<OwnedSemaphorePermit, AppError> {
        self.connections.clone().try_acquire_owned().map_err(|_| {
            refused("max_connections");
            AppError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "too many connections (limit {})",
                    self.node.limits().max_connections
                ),
            )
        })
    }
}

/// A close frame ("going away") so a miner or a page sees a clean close, not a reset, when the
/// master stops; a client that does not read gets a second at most.
pub async fn say_goodbye<S: AxumSocket>(socket: &mut S) {
    close_with(
        socket,
        axum::extract::ws::close_code::AWAY,
        "the master is stopping",
    )
    .await;
}

/// Sends a close frame with `code` and `reason` (waiting at most a second for a slow reader).
pub async fn close_with<S: AxumSocket>(socket: &mut S, code: u16, reason: &'static str) {
    use axum::extract::ws::CloseFrame;
    use futures_util::SinkExt;
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    let close = socket.send(Message::Close(Some(frame)));
    let _ = tokio::time::timeout(std::time::Duration::from_secs(1), close).await;
}

/// Ends a socket whose read failed. A message over the size limit gets the close code the
/// protocol promises (1009, "message too big") before the socket goes; anything else just ends it.
pub async fn close_after_error<S: AxumSocket>(socket: &mut S, err: &axum::Error) {
    use axum::extract::ws::close_code;
    // axum's WebSocket error wraps tungstenite's, whose capacity error says "Message too long".
    if !err.to_string().contains("Message too long") {
        return;
    }
    close_with(socket, close_code::SIZE, "message too big").await;
}

/// Whether a WebSocket upgrade comes from this master's own page (its `Origin` names the host the
/// request was sent to) or from no page at all (native miners, peers and the CLI send no
/// `Origin`). Browsers always send `Origin` on WebSocket upgrades, and pages cannot forge it: this
/// keeps other sites from mining on, or listening to, a visitor's local master.
pub fn same_origin_or_none(headers: &axum::http::HeaderMap) -> bool {
    let Some(origin) = headers.get(axum::http::header::ORIGIN) else {
        return true;
    };
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok());
    let origin_host = origin
        .to_str()
        .ok()
        .and_then(|o| o.split_once("://"))
        .map(|(_, rest)| rest);
    matches!((origin_host, host), (Some(origin), Some(host)) if origin.eq_ignore_ascii_case(host))
}
