//! How many connections the master holds, in total and per client address, sized from the
//! open-file limit: past a limit a client gets `503`, and the master never runs out of descriptors
//! (`accept error: Too many open files`), so the API keeps answering.
//!
//! [`ConnTable`] counts every accepted TCP connection; a [`ConnTicket`] stands for one of them for
//! as long as it is open (its socket holds it, and each of its requests carries a clone). A
//! connection counts as plain HTTP for its address until it becomes a feed or event WebSocket
//! ([`ConnTicket::become_websocket`]).

use crate::config::NodeLimits;
use futures_util::task::AtomicWaker;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

/// Counts one connection refused by `limit` (the name in [`Refusal::limit`]): logged at DEBUG and
/// counted in `/metrics`.
pub fn refused(limit: &'static str) {
    tracing::debug!(limit, "connection refused");
    crate::metrics::connection_refused(limit);
}

/// The open-file limit before and after [`raise_open_files_limit`].
#[derive(Debug)]
pub struct OpenFiles {
    pub before: u64,
    /// The soft limit in force now.
    pub now: u64,
    /// Why it could not be raised.
    pub error: Option<String>,
}

impl OpenFiles {
    /// Logs what was raised (once the master has started, so a failed start prints one line).
    pub fn log(&self) {
        match &self.error {
            None => tracing::info!("open files: soft limit {} (was {})", self.now, self.before),
            Some(err) => tracing::warn!(
                "open files: cannot raise the soft limit {}: {err}",
                self.before
            ),
        }
    }
}

/// Raises the soft open-file limit of this process to the hard limit.
pub fn raise_open_files_limit() -> OpenFiles {
    let before = open_files_limit();
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(now) => OpenFiles {
            before,
            now,
            error: None,
        },
        Err(err) => OpenFiles {
            before,
            now: before,
            error: Some(err.to_string()),
        },
    }
}

/// The soft open-file limit of this process.
pub fn open_files_limit() -> u64 {
    rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(1024, |(soft, _hard)| soft)
}

/// `limits` with every connection limit lowered to fit `open_files` descriptors: all connections
/// together leave `fd_reserve` free, WebSockets leave `api_reserve` connections free, and that
/// reserve is a quarter of all connections at most.
pub fn sized(mut limits: NodeLimits, open_files: u64) -> NodeLimits {
    let usable = usize::try_from(open_files)
        .unwrap_or(usize::MAX)
        .saturating_sub(limits.fd_reserve);
    limits.max_tcp_connections = limits.max_tcp_connections.min(usable);
    limits.api_reserve = limits.api_reserve.min(limits.max_tcp_connections / 4);
    limits.max_connections = limits
        .max_connections
        .min(limits.max_tcp_connections - limits.api_reserve);
    limits
}

/// Why a connection is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Every connection slot is taken.
    Total,
    /// Only the API's reserve is left, and this address already holds an HTTP connection.
    Reserve,
    /// This address holds its most plain HTTP connections.
    HttpPerIp,
    /// This address holds its most feed and event WebSockets.
    WsPerIp,
}

impl Refusal {
    /// The limit's name, for [`refused`].
    pub fn limit(self) -> &'static str {
        match self {
            Refusal::Total => "max_tcp_connections",
            Refusal::Reserve => "api_reserve",
            Refusal::HttpPerIp => "max_http_per_ip",
            Refusal::WsPerIp => "max_ws_per_ip",
        }
    }

    /// What the client is told, with the limit's figure from `limits`.
    pub fn message(self, limits: &NodeLimits) -> String {
        match self {
            Refusal::Total | Refusal::Reserve => format!(
                "too many connections (limit {}); try again later",
                limits.max_tcp_connections
            ),
            Refusal::HttpPerIp => format!(
                "too many connections from your address (limit {})",
                limits.max_http_per_ip
            ),
            Refusal::WsPerIp => format!(
                "too many WebSockets from your address (limit {})",
                limits.max_ws_per_ip
            ),
        }
    }
}

#[derive(Debug, Default)]
struct PerIp {
    http: usize,
    ws: usize,
}

#[derive(Debug, Default)]
struct Counts {
    open: usize,
    per_ip: HashMap<IpAddr, PerIp>,
}

/// The open connections, in total and per address.
#[derive(Debug)]
pub struct ConnTable {
    limits: NodeLimits,
    counts: Mutex<Counts>,
}

impl ConnTable {
    /// A table enforcing `limits` (as [`sized`] leaves them).
    pub fn new(limits: NodeLimits) -> Arc<ConnTable> {
        Arc::new(ConnTable {
            limits,
            counts: Mutex::new(Counts::default()),
        })
    }

    /// The limits it enforces.
    pub fn limits(&self) -> &NodeLimits {
        &self.limits
    }

    /// Open connections.
    pub fn open(&self) -> usize {
        self.counts.lock().expect("lock").open
    }

    /// Takes a slot for a new connection from `ip`, or says which limit refuses it.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<ConnTicket, Refusal> {
        let ip = crate::addr::client_key(ip);
        let limits = &self.limits;
        let exempt = limits.per_ip_exempt.contains(&ip);
        let mut counts = self.counts.lock().expect("lock");
        if counts.open >= limits.max_tcp_connections {
            return Err(Refusal::Total);
        }
        if !exempt {
            let busy = counts.open
                >= limits
                    .max_tcp_connections
                    .saturating_sub(limits.api_reserve);
            let http = counts.per_ip.get(&ip).map_or(0, |c| c.http);
            if http >= limits.max_http_per_ip {
                return Err(Refusal::HttpPerIp);
            }
            if busy && http > 0 {
                return Err(Refusal::Reserve);
            }
            counts.per_ip.entry(ip).or_default().http += 1;
        }
        counts.open += 1;
        Ok(ConnTicket(Arc::new(Ticket {
            table: self.clone(),
            ip,
            exempt,
            websocket: AtomicBool::new(false),
            gate: ReadGate::default(),
        })))
    }

    fn release(&self, ip: IpAddr, exempt: bool, websocket: bool) {
        let mut counts = self.counts.lock().expect("lock");
        counts.open -= 1;
        if exempt {
            return;
        }
        if let Some(c) = counts.per_ip.get_mut(&ip) {
            if websocket {
                c.ws -= 1;
            } else {
                c.http -= 1;
            }
            if c.http == 0 && c.ws == 0 {
                counts.per_ip.remove(&ip);
            }
        }
    }
}

/// One open connection's slot, released when its last clone goes (the socket holds one; so do its
/// requests).
#[derive(Debug, Clone)]
pub struct ConnTicket(Arc<Ticket>);

#[derive(Debug)]
struct Ticket {
    table: Arc<ConnTable>,
    ip: IpAddr,
    exempt: bool,
    /// Counted as a WebSocket of its address rather than an HTTP connection.
    websocket: AtomicBool,
    gate: ReadGate,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.table
            .release(self.ip, self.exempt, self.websocket.load(Ordering::Relaxed))
    }
}

impl ConnTicket {
    /// The address the connection counts under (see `client_key`).
    pub fn ip(&self) -> IpAddr {
        self.0.ip
    }

    /// Counts this connection as a feed or event WebSocket of its address from now on (no longer
    /// as an HTTP connection), unless the address holds its most WebSockets already.
    pub fn become_websocket(&self) -> Result<(), Refusal> {
        let ticket = &self.0;
        if ticket.exempt || ticket.websocket.load(Ordering::Relaxed) {
            return Ok(());
        }
        let table = &ticket.table;
        let mut counts = table.counts.lock().expect("lock");
        let c = counts.per_ip.entry(ticket.ip).or_default();
        if c.ws >= table.limits.max_ws_per_ip {
            return Err(Refusal::WsPerIp);
        }
        c.ws += 1;
        c.http -= 1;
        ticket.websocket.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// From now on at most `bytes` more are read from this connection's socket until
    /// [`ConnTicket::lift_read_limit`]: the socket is simply not read further meanwhile.
    pub fn limit_reads(&self, bytes: usize) {
        self.0.gate.budget.store(bytes, Ordering::Relaxed);
    }

    /// Ends [`ConnTicket::limit_reads`].
    pub fn lift_read_limit(&self) {
        self.0.gate.budget.store(UNLIMITED, Ordering::Relaxed);
        self.0.gate.waker.wake();
    }

    /// How many bytes the socket may read now (`Pending` while none, woken by the lift).
    pub fn poll_read_budget(&self, cx: &mut Context<'_>) -> Poll<usize> {
        let gate = &self.0.gate;
        match gate.budget.load(Ordering::Relaxed) {
            0 => {
                gate.waker.register(cx.waker());
                // Lifted between the load and the register: go on.
                match gate.budget.load(Ordering::Relaxed) {
                    0 => Poll::Pending,
                    n => Poll::Ready(n),
                }
            }
            n => Poll::Ready(n),
        }
    }

    /// Counts `bytes` read against a limit set by [`ConnTicket::limit_reads`].
    pub fn spend_read_budget(&self, bytes: usize) {
        let budget = &self.0.gate.budget;
        let _ = budget.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
            (left != UNLIMITED).then(|| left.saturating_sub(bytes))
        });
    }
}

const UNLIMITED: usize = usize::MAX;

/// Bytes a socket may still read ([`ConnTicket::limit_reads`]).
#[derive(Debug)]
struct ReadGate {
    budget: AtomicUsize,
    waker: AtomicWaker,
}

impl Default for ReadGate {
    fn default() -> Self {
        ReadGate {
            budget: AtomicUsize::new(UNLIMITED),
            waker: AtomicWaker::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(max_tcp: usize, reserve: usize, http: usize, ws: usize) -> Arc<ConnTable> {
        ConnTable::new(NodeLimits {
            max_tcp_connections: max_tcp,
            api_reserve: reserve,
            max_http_per_ip: http,
            max_ws_per_ip: ws,
            ..NodeLimits::default()
        })
    }

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([127, 0, 0, last])
    }

    #[test]
    fn limits_are_sized_from_the_open_file_limit() {
        let limits = sized(NodeLimits::default(), 1024);
        assert_eq!(limits.max_tcp_connections, 1024 - 128);
        assert_eq!(limits.api_reserve, 224, "a quarter at most");
        assert_eq!(limits.max_connections, 1024 - 128 - 224);
        let roomy = sized(NodeLimits::default(), 1 << 20);
        assert_eq!(roomy.max_tcp_connections, 25_000);
        assert_eq!(roomy.max_connections, 20_000);
        let starved = sized(NodeLimits::default(), 100);
        assert_eq!(
            (starved.max_tcp_connections, starved.max_connections),
            (0, 0)
        );
    }

    #[test]
    fn one_address_cannot_take_every_slot() {
        let table = table(10, 0, 3, 1);
        let held: Vec<_> = (0..3).map(|_| table.admit(ip(2)).unwrap()).collect();
        assert_eq!(table.admit(ip(2)).unwrap_err(), Refusal::HttpPerIp);
        let other = table.admit(ip(3)).unwrap();
        held[0].become_websocket().unwrap();
        assert_eq!(held[1].become_websocket(), Err(Refusal::WsPerIp));
        let again = table.admit(ip(2)).expect("a WebSocket frees its HTTP slot");
        assert_eq!(table.open(), 5);
        drop((held, other, again));
        assert_eq!(table.open(), 0);
        assert!(table.counts.lock().unwrap().per_ip.is_empty());
    }

    #[test]
    fn the_reserve_goes_one_per_address_and_the_total_to_nobody() {
        let table = table(4, 2, 10, 10);
        let _a = table.admit(ip(2)).unwrap();
        let _b = table.admit(ip(2)).unwrap();
        assert_eq!(table.admit(ip(2)).unwrap_err(), Refusal::Reserve);
        let _c = table.admit(ip(3)).unwrap();
        let _d = table.admit(ip(4)).unwrap();
        assert_eq!(table.admit(ip(5)).unwrap_err(), Refusal::Total);
        assert_eq!(
            table.admit(ip(1)).unwrap_err(),
            Refusal::Total,
            "exempt too"
        );
    }

    #[test]
    fn an_ipv6_host_is_counted_by_its_64_and_mapped_ipv4_as_ipv4() {
        let table = table(10, 0, 2, 2);
        let host = |last: u16| IpAddr::from([0x2001, 0xdb8, 0, 1, 0, 0, 0, last]);
        let _a = table.admit(host(1)).unwrap();
        let _b = table.admit(host(2)).unwrap();
        assert_eq!(table.admit(host(3)).unwrap_err(), Refusal::HttpPerIp);
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        let exempt: Vec<_> = (0..5).map(|_| table.admit(mapped).unwrap()).collect();
        assert_eq!(exempt[0].ip(), ip(1));
    }

    #[test]
    fn this_machine_is_exempt_from_per_address_limits() {
        let table = table(10, 0, 1, 1);
        let held: Vec<_> = (0..5).map(|_| table.admit(ip(1)).unwrap()).collect();
        assert!(held.iter().all(|t| t.become_websocket().is_ok()));
    }

    #[test]
    fn a_read_limit_holds_until_lifted() {
        let table = table(10, 0, 10, 10);
        let ticket = table.admit(ip(2)).unwrap();
        let waker = futures_util::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        assert_eq!(ticket.poll_read_budget(&mut cx), Poll::Ready(UNLIMITED));
        ticket.limit_reads(100);
        ticket.spend_read_budget(60);
        assert_eq!(ticket.poll_read_budget(&mut cx), Poll::Ready(40));
        ticket.spend_read_budget(60);
        assert_eq!(ticket.poll_read_budget(&mut cx), Poll::Pending);
        ticket.lift_read_limit();
        ticket.spend_read_budget(60);
        assert_eq!(ticket.poll_read_budget(&mut cx), Poll::Ready(UNLIMITED));
    }
}
