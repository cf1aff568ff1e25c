//! The HTTP server: routes, shared state, and the master's start and graceful stop.

use crate::api::{self, AppError};
use crate::config::NodeConfig;
use crate::node::Node;
use crate::{events, feed, web};
use axum::Router;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{WebSocket, WebSocketUpgrade};
use axum::extract::{DefaultBodyLimit, FromRef};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The node.
    pub node: Node,
    /// One permit per open WebSocket (`NodeLimits::max_connections`).
    pub connections: Arc<Semaphore>,
    /// Turns `true` when the server is stopping: long-lived sockets close.
    pub shutdown: watch::Receiver<bool>,
}

impl FromRef<AppState> for Node {
    fn from_ref(state: &AppState) -> Node {
        state.node.clone()
    }
}

impl AppState {
    /// State for `node`, with a sender that stops the sockets.
    pub fn new(node: Node) -> (AppState, watch::Sender<bool>) {
        let (stop, shutdown) = watch::channel(false);
        let connections = Arc::new(Semaphore::new(node.limits().max_connections));
        (
            AppState {
                node,
                connections,
                shutdown,
            },
            stop,
        )
    }

    /// Accepts a feed or event WebSocket within the node's connection and message limits, then
    /// hands it to `run` together with its connection permit.
    pub fn upgrade<F, Fut>(
        self,
        ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
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
        match self.connection_permit() {
            Ok(permit) => ws
                .max_message_size(self.node.limits().max_ws_message_bytes)
                .read_buffer_size(crate::config::WS_BUFFER_BYTES)
                .write_buffer_size(crate::config::WS_BUFFER_BYTES)
                .on_upgrade(move |socket| run(socket, self, permit)),
            Err(err) => err.into_response(),
        }
    }

    /// A WebSocket slot, or `503` when all are taken.
    pub fn connection_permit(&self) -> Result<OwnedSemaphorePermit, AppError> {
        self.connections.clone().try_acquire_owned().map_err(|_| {
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

/// Every route of a master.
pub fn app(state: AppState) -> Router {
    let body_limit = state.node.limits().max_body_bytes;
    let api = Router::new()
        .route("/data", axum::routing::post(api::post_data))
        .route("/data/{id}", get(api::get_data))
        .route("/status", get(api::get_status))
        .route("/blocks", get(api::get_blocks))
        .route("/blocks/{id}", get(api::get_block))
        .route("/nodes", get(api::get_nodes))
        .fallback(any(api::not_found))
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(body_limit));
    Router::new()
        .nest("/api", api)
        .route("/ws/mine", get(feed::mine))
        .route("/ws/events", get(events::events))
        .fallback(web::static_file)
        .with_state(state)
}

async fn method_not_allowed() -> AppError {
    AppError::new(StatusCode::METHOD_NOT_ALLOWED, "method not allowed here")
}

/// Runs a master on `addr` until SIGINT or SIGTERM, then stops cleanly.
pub async fn run_master(config: NodeConfig, addr: SocketAddr) -> anyhow::Result<()> {
    let shutdown = shutdown_signal();
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|err| anyhow::anyhow!("cannot listen on {addr}: {err}"))?;
    let seeds = config.peers.clone();
    let (node, task) = Node::start(config)?;
    let peers = crate::peer::Peers::start(node.clone(), addr.port(), &seeds);
    let snapshot = node.snapshot();
    tracing::info!(
        "master on http://{} ({} chain, height {}, tip {})",
        listener.local_addr()?,
        node.params().name,
        snapshot.height,
        snapshot.tip
    );
    let (state, stop) = AppState::new(node);
    let sockets = (
        state.connections.clone(),
        state.node.limits().max_connections,
    );
    let router = app(state).merge(peers.routes());
    let links = peers.clone();
    let served = axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown.await;
        tracing::info!("stopping");
        let _ = stop.send(true);
        links.stop();
    })
    .await;
    // WebSockets outlive the HTTP server: give them a moment to send their close frames.
    let (connections, all) = sockets;
    let closed = connections.acquire_many_owned(u32::try_from(all).unwrap_or(u32::MAX));
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), closed).await;
    tokio::task::spawn_blocking(move || task.shutdown()).await?;
    served?;
    Ok(())
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM. The handlers are installed when this is called, not when
/// the future is first polled, so a signal that arrives while the server is still starting is not lost
/// (nor does it kill the process uncleanly).
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut interrupt = signal(SignalKind::interrupt()).ok();
        let mut terminate = signal(SignalKind::terminate()).ok();
        async move {
            tokio::select! {
                () = recv(&mut interrupt) => {},
                () = recv(&mut terminate) => {},
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(unix)]
async fn recv(signal: &mut Option<tokio::signal::unix::Signal>) {
    match signal {
        Some(signal) => {
            signal.recv().await;
        }
        None => std::future::pending().await,
    }
}
