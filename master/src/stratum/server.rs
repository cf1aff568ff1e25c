//! The Stratum listener: an accept loop under the same connection limits as the WebSocket feed
//! (one [`ConnTable`] slot counted as a WebSocket of its address, and one of the master's
//! WebSocket permits), and one task per connection that runs a [`Session`] between its socket, the
//! shared block template, the node's submit path and the clock.

use super::session::{Action, Session, SessionLimits};
use crate::clock::unix_now;
use crate::conn_limit::{ConnTable, ConnTicket, Refusal, refused};
use crate::node::{MinerFeed, MinerGuard, MinerInfo};
use crate::state::AppState;
use futures_util::StreamExt;
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::OwnedSemaphorePermit;
use tokio_util::codec::{FramedRead, LinesCodec, LinesCodecError};

/// extranonce1 of the next connection: unique within the process (until 2^32 connections); the
/// start differs between runs.
static EXTRANONCE1: AtomicU32 = AtomicU32::new(0);

fn next_extranonce1() -> [u8; 4] {
    let _ = EXTRANONCE1.compare_exchange(
        0,
        unix_now().rotate_left(16),
        Ordering::Relaxed,
        Ordering::Relaxed,
    );
    EXTRANONCE1.fetch_add(1, Ordering::Relaxed).to_be_bytes()
}

/// Serves Stratum on `listener` until the master stops (`app.shutdown`); connections count in
/// `table` like the HTTP server's.
pub async fn serve(listener: TcpListener, app: AppState, table: Arc<ConnTable>) {
    let shutdown = app.shutdown.clone();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = shutdown.cancelled() => return,
        };
        let (stream, remote) = match accepted {
            Ok(accepted) => accepted,
            Err(err) => {
                tracing::debug!("stratum accept error: {err}");
                tokio::time::sleep(crate::config::ACCEPT_ERROR_PAUSE).await;
                continue;
            }
        };
        let admitted = table
            .admit(remote.ip())
            .and_then(|ticket| ticket.become_websocket().map(|()| ticket));
        let ticket = match admitted {
            Ok(ticket) => ticket,
            Err(refusal) => {
                refused(refusal.limit());
                refuse(&stream, &refusal.message(table.limits()));
                continue;
            }
        };
        let Ok(permit) = app.connections.clone().try_acquire_owned() else {
            refused("max_connections");
            refuse(&stream, &Refusal::Total.message(table.limits()));
            continue;
        };
        let span = tracing::info_span!("stratum", remote = %remote, miner = tracing::field::Empty);
        let task = run(stream, app.clone(), ticket, permit);
        app.tasks.spawn(tracing::Instrument::instrument(task, span));
    }
}

/// Tells a refused client why, in one JSON-RPC error line, and closes the socket.
fn refuse(stream: &TcpStream, message: &str) {
    let line = serde_json::json!({"id": null, "result": null, "error": [20, message, null]});
    let _ = stream.try_write(format!("{line}\n").as_bytes());
}

/// Counts an open connection in `/metrics` for as long as it lives.
struct Counted;

impl Counted {
    fn new() -> Counted {
        crate::metrics::stratum_connections(1.0);
        Counted
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        crate::metrics::stratum_connections(-1.0);
    }
}

/// One connection, until the miner leaves, breaks a rule, stops reading, or the master stops.
async fn run(stream: TcpStream, app: AppState, _ticket: ConnTicket, _permit: OwnedSemaphorePermit) {
    let _counted = Counted::new();
    // Lines are small and each is wanted now: Nagle's algorithm would hold a new job back until
    // the miner acknowledges the previous line (up to its delayed-ACK timer, 40 ms on Linux).
    let _ = stream.set_nodelay(true);
    let node = app.node.clone();
    let limits = node.limits().clone();
    let mut templates = node.watch_template();
    let (read, mut write) = stream.into_split();
    let mut lines = FramedRead::new(
        read,
        LinesCodec::new_with_max_length(limits.max_stratum_line_bytes),
    );
    let session_limits = SessionLimits {
        hello_timeout: limits.hello_timeout,
        idle_timeout: limits.stratum_idle_timeout,
        max_errors_in_row: limits.stratum_max_errors_in_row,
    };
    let template = templates.borrow_and_update().clone();
    let mut session = Session::new(
        node.params().clone(),
        session_limits,
        next_extranonce1(),
        template,
        Instant::now(),
    );
    let mut miner: Option<MinerGuard> = None;
    let stopping = app.shutdown.cancelled();
    tokio::pin!(stopping);
    loop {
        let wake = session.next_wakeup();
        let mut new_template = None;
        let actions = tokio::select! {
            biased;
            changed = templates.changed() => {
                if changed.is_err() {
                    break;
                }
                let template = templates.borrow_and_update().clone();
                new_template = Some(template.made);
                session.new_template(template, Instant::now(), unix_now())
            }
            line = lines.next() => match line {
                Some(Ok(line)) => session.line(&line, Instant::now(), unix_now()),
                Some(Err(LinesCodecError::MaxLineLengthExceeded)) => {
                    let why = format!("line over {} bytes", limits.max_stratum_line_bytes);
                    let line = serde_json::json!({"id": null, "result": null, "error": [20, why, null]});
                    let _ = send(&mut write, format!("{line}\n"), &limits).await;
                    tracing::debug!("closed: {why}");
                    break;
                }
                Some(Err(LinesCodecError::Io(err))) => {
                    tracing::debug!("closed: {err}");
                    break;
                }
                None => break,
            },
            () = tokio::time::sleep_until(wake.into()) => session.tick(Instant::now(), unix_now()),
            () = &mut stopping => break,
        };
        let mut queue: VecDeque<Action> = actions.into();
        let mut out = String::new();
        let mut close = None;
        while let Some(action) = queue.pop_front() {
            match action {
                Action::Send(line) => {
                    out.push_str(&line);
                    out.push('\n');
                }
                Action::Register { name, agent } => {
                    tracing::Span::current().record("miner", name.as_str());
                    tracing::debug!("stratum miner authorized");
                    let info = MinerInfo { name, agent };
                    miner = Some(node.register_miner_of(info, MinerFeed::Stratum));
                }
                Action::Hashrate(hashrate) => {
                    if let Some(miner) = &miner {
                        miner.set_hashrate(hashrate);
                    }
                }
                Action::Submit { id, block } => {
                    let result = node.submit_block(*block).await;
                    let more = session.block_result(id, &result, Instant::now(), unix_now());
                    queue.extend(more);
                }
                Action::Close(why) => {
                    close = Some(why);
                    break;
                }
            }
        }
        if !out.is_empty() {
            if !send(&mut write, out, &limits).await {
                break;
            }
            if let Some(made) = new_template {
                crate::metrics::job_sent(Some(made.elapsed()));
            }
        }
        if let Some(why) = close {
            tracing::debug!("closed: {why}");
            break;
        }
    }
    let _ = write.shutdown().await;
}

/// Writes `text`, giving a client that does not read `ws_send_timeout`; false when it failed.
async fn send(
    write: &mut tokio::net::tcp::OwnedWriteHalf,
    text: String,
    limits: &crate::config::NodeLimits,
) -> bool {
    let written = tokio::time::timeout(limits.ws_send_timeout, write.write_all(text.as_bytes()));
    matches!(written.await, Ok(Ok(())))
}
