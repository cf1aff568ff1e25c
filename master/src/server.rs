//! The HTTP server: routes, and the master's start and graceful stop (the shared state is
//! [`crate::state::AppState`]).
//!
//! [`run`] serves a bound listener until a [`CancellationToken`] is cancelled (by a signal in
//! `bbchain --start-master`, by the test in in-process tests); that one token closes the feeds,
//! the event sockets and the peer links.

use crate::api::{self, AppError};
use crate::config::NodeConfig;
use crate::node::Node;
pub use crate::state::AppState;
use crate::{coins_api, events, feed, web};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{any, get};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Every route of a master.
pub fn app(state: AppState) -> Router {
    let body_limit = state.node.limits().max_body_bytes;
    let api = Router::new()
        .route("/data", axum::routing::post(api::post_data))
        .route("/data/{id}", get(api::get_data))
        .route("/status", get(api::get_status))
        .route("/health", get(api::get_health))
        .route("/blocks", get(api::get_blocks))
        .route("/blocks/{id}", get(api::get_block))
        .route("/nodes", get(api::get_nodes))
        .route("/tx", axum::routing::post(coins_api::post_tx))
        .route("/tx/{txid}", get(coins_api::get_tx))
        .route("/address/{address}", get(coins_api::get_address))
        .fallback(any(api::not_found))
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(body_limit));
    Router::new()
        .nest("/api", api)
        .route("/ws/mine", get(feed::mine))
        .route("/ws/events", get(events::events))
        .route("/metrics", get(crate::metrics::scrape))
        .fallback(web::static_file)
        .layer(axum::middleware::map_response(web::security_headers))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::host_check::refuse_rebound_names,
        ))
        .with_state(state)
}

async fn method_not_allowed() -> AppError {
    AppError::new(StatusCode::METHOD_NOT_ALLOWED, "method not allowed here")
}

/// Binds the master's listening socket; port 0 picks a free port (see [`TcpListener::local_addr`]).
pub async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .map_err(|err| anyhow::anyhow!("cannot listen on {addr}: {err}"))
}

/// Runs a master on `listener` until `shutdown` is cancelled, then stops cleanly: sockets and peer
/// links close, the chain writer commits what it has, and the database is closed on return.
pub async fn run(
    listener: TcpListener,
    config: NodeConfig,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    start(listener, config, shutdown).await?.stopped().await
}

/// A master that is up (what [`run`] waits on): tests reach its node directly.
pub struct RunningMaster {
    /// The master's node.
    pub node: Node,
    /// Where it listens (the real port, also when it was asked for port 0).
    pub addr: SocketAddr,
    /// Where it listens for Stratum miners, if it does (the real port).
    pub stratum_addr: Option<SocketAddr>,
    served: JoinHandle<anyhow::Result<()>>,
}

impl RunningMaster {
    /// Waits until the master has stopped (its shutdown token was cancelled) and everything it ran
    /// has let go of the database.
    pub async fn stopped(self) -> anyhow::Result<()> {
        drop(self.node);
        self.served.await?
    }
}

/// How long a stopping master waits for its sockets and links to close.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Opens the node of `config`, starts peer sync, and serves on `listener` in a task until
/// `shutdown` is cancelled.
pub async fn start(
    listener: TcpListener,
    mut config: NodeConfig,
    shutdown: CancellationToken,
) -> anyhow::Result<RunningMaster> {
    let addr = listener.local_addr()?;
    let stratum = match config.stratum_addr {
        Some(stratum_addr) => Some(bind(stratum_addr).await?),
        None => None,
    };
    let stratum_addr = stratum.as_ref().map(TcpListener::local_addr).transpose()?;
    let open_files = crate::conn_limit::raise_open_files_limit();
    config.limits = crate::conn_limit::sized(config.limits, open_files.now);
    let seeds = config.peers.clone();
    let (node, task) = Node::start(config)?;
    let state = AppState::new(node.clone(), shutdown.clone());
    let tasks = state.tasks.clone();
    let peers = crate::peer::Peers::start(
        node.clone(),
        addr.port(),
        &seeds,
        shutdown.clone(),
        tasks.clone(),
    );
    let snapshot = node.snapshot();
    open_files.log();
    log_connection_limits(node.limits());
    if let Some(stratum_addr) = stratum_addr {
        tracing::info!("stratum on stratum+tcp://{stratum_addr}");
    }
    tracing::info!(
        "master on http://{addr} ({} chain, height {}, tip {})",
        node.params().name,
        snapshot.height,
        snapshot.tip
    );
    crate::metrics::install();
    // One table for HTTP and Stratum: a Stratum connection counts as a WebSocket of its address.
    let table = crate::conn_limit::ConnTable::new(node.limits().clone());
    if let Some(listener) = stratum {
        let serve = crate::stratum::server::serve(listener, state.clone(), table.clone());
        tasks.spawn(serve);
    }
    let router = app(state)
        .merge(peers.routes())
        .layer(axum::middleware::from_fn(crate::metrics::count_request));
    drop(peers);
    let served = tokio::spawn(async move {
        crate::http_conn::serve(listener, router, table, shutdown, tasks.clone()).await;
        tracing::info!("stopping");
        tasks.close();
        if tokio::time::timeout(STOP_GRACE, tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!("{} sockets did not close in time", tasks.len());
        }
        tokio::task::spawn_blocking(move || task.shutdown()).await?;
        Ok(())
    });
    Ok(RunningMaster {
        node,
        addr,
        stratum_addr,
        served,
    })
}

fn log_connection_limits(limits: &crate::config::NodeLimits) {
    tracing::info!(
        "connections: at most {} ({} kept for the API), {} WebSockets; per address {} HTTP and {} WebSockets",
        limits.max_tcp_connections,
        limits.api_reserve,
        limits.max_connections,
        limits.max_http_per_ip,
        limits.max_ws_per_ip
    );
}

/// A token cancelled on SIGINT (Ctrl-C) or SIGTERM: the one way a master is told to stop.
pub fn cancel_on_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let signal = shutdown_signal();
    let cancel = token.clone();
    tokio::spawn(async move {
        signal.await;
        cancel.cancel();
    });
    token
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
