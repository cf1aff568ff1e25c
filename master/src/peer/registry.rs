//! Who a master knows, dials, is linked to and refuses: the peer table behind [`Peers`], the one
//! handle every link, dial loop and the relay share. Starting peers and the socket tasks live in
//! the parent module; this one does no I/O.

use super::downloads::Scheduler;
use super::outbox::Outbox;
use super::sync::BanList;
use crate::node::Node;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Most addresses a master remembers (learned from peer lists).
pub(super) const MAX_KNOWN: usize = 256;
/// Most masters a master dials.
pub(super) const MAX_OUTBOUND: usize = 16;
/// Most links, inbound and outbound together.
pub(super) const MAX_LINKS: usize = 64;
/// Most `/ws/peer` sockets open at once, counted before the handshake: each may hold a large
/// partial message, so unlinked sockets must not pile up.
pub(super) const MAX_INBOUND_SOCKETS: usize = 2 * MAX_LINKS;
/// A linked master, for `/api/nodes`.
#[derive(Debug, Clone)]
pub(super) struct LinkInfo {
    /// Where it accepts peers (`host:port`).
    pub(super) addr: String,
    /// Its per-process nonce from the hello.
    pub(super) nonce: u64,
    /// Whether we dialed it.
    pub(super) outbound: bool,
    /// Its outbox.
    pub(super) outbox: Outbox,
    /// Told when the link must end (a newer link to the same master replaced it).
    pub(super) closed: Arc<Notify>,
}

/// Who we know, dial, are linked to, and refuse.
#[derive(Default)]
pub(super) struct PeerTable {
    /// Addresses of masters we know of.
    pub(super) known: BTreeSet<String>,
    /// Addresses with a running dial loop.
    pub(super) dialing: HashSet<String>,
    /// Addresses that turned out to be this master.
    pub(super) myself: HashSet<String>,
    /// Addresses already warned about being on another chain.
    pub(super) wrong_chain: HashSet<String>,
    /// Live links by id.
    pub(super) links: BTreeMap<u64, LinkInfo>,
    pub(super) bans: BanList,
    pub(super) next_id: u64,
}

pub(super) struct Inner {
    pub(super) node: Node,
    pub(super) listen_port: u16,
    pub(super) nonce: u64,
    pub(super) state: Mutex<PeerTable>,
    /// Which link fetches which block.
    pub(super) scheduler: Scheduler,
    /// One permit per open `/ws/peer` socket, taken before the upgrade.
    pub(super) inbound_sockets: Arc<Semaphore>,
    /// Cancelled when the master stops: every link, dial loop and the relay end.
    pub(super) stop: CancellationToken,
    /// Those tasks, so the stopping master can wait for them.
    pub(super) tasks: TaskTracker,
}

/// The peer side of a master: cheap to clone.
#[derive(Clone)]
pub struct Peers {
    pub(super) inner: Arc<Inner>,
}

impl Peers {
    /// The handle for `node`'s peers, which accepts links on `listen_port`, until `stop`.
    pub(super) fn new(
        node: Node,
        listen_port: u16,
        stop: CancellationToken,
        tasks: TaskTracker,
    ) -> Peers {
        Peers {
            inner: Arc::new(Inner {
                node,
                listen_port,
                nonce: random_nonce(),
                state: Mutex::new(PeerTable::default()),
                scheduler: Scheduler::default(),
                inbound_sockets: Arc::new(Semaphore::new(MAX_INBOUND_SOCKETS)),
                stop,
                tasks,
            }),
        }
    }

    /// Resolves when the master stops.
    pub(super) async fn stopped(&self) {
        self.inner.stop.cancelled().await;
    }

    pub(super) fn node(&self) -> &Node {
        &self.inner.node
    }

    pub(super) fn is_linked(&self, addr: &str) -> bool {
        let state = self.inner.state.lock().expect("lock");
        state.links.values().any(|l| l.addr == addr)
    }

    pub(super) fn banned_until(&self, addr: &str) -> Option<Instant> {
        let state = self.inner.state.lock().expect("lock");
        state.bans.banned_until(addr, Instant::now())
    }

    pub(super) fn ban(&self, addr: &str) {
        let mut state = self.inner.state.lock().expect("lock");
        state.bans.ban(addr, Instant::now());
        crate::metrics::ban("misbehaved");
        tracing::warn!(
            "peer {addr} is banned for {} s",
            BanList::DURATION.as_secs()
        );
    }

    /// Whether `addr` is on another chain for the first time (bounded like the known masters).
    pub(super) fn first_wrong_chain(&self, addr: &str) -> bool {
        let mut state = self.inner.state.lock().expect("lock");
        state.wrong_chain.len() < MAX_KNOWN && state.wrong_chain.insert(addr.to_string())
    }

    pub(super) fn mark_myself(&self, addr: &str) {
        let mut state = self.inner.state.lock().expect("lock");
        state.myself.insert(addr.to_string());
        state.known.remove(addr);
    }

    /// Adds a link after its handshake; refuses a second link to the same master. When two masters
    /// dial each other at once, both keep the link dialed by the one with the smaller nonce.
    pub(super) fn register(&self, info: LinkInfo) -> Result<LinkGuard, &'static str> {
        let mut state = self.inner.state.lock().expect("lock");
        let ours = self.inner.nonce;
        let dialer = |outbound: bool, theirs: u64| if outbound { ours } else { theirs };
        let existing = state
            .links
            .iter()
            .find(|(_, l)| l.nonce == info.nonce)
            .map(|(id, l)| (*id, dialer(l.outbound, l.nonce)));
        if existing.is_none() && state.links.len() >= MAX_LINKS {
            crate::metrics::connection_refused("max_links");
            return Err("too many peers");
        }
        if let Some((old_id, old_dialer)) = existing {
            if dialer(info.outbound, info.nonce) >= old_dialer {
                return Err("already linked to this master");
            }
            // The new link wins.
            if let Some(old) = state.links.remove(&old_id) {
                publish_links(&self.inner.node, &state);
                old.closed.notify_one();
            }
        }
        if !info.addr.is_empty() {
            state.known.insert(info.addr.clone());
        }
        let id = state.next_id;
        state.next_id += 1;
        state.links.insert(id, info);
        publish_links(&self.inner.node, &state);
        Ok(LinkGuard {
            peers: self.clone(),
            id,
        })
    }

    /// Addresses to share with a peer: linked masters and other known ones, without `except`.
    pub(super) fn shareable(&self, except: &str) -> Vec<String> {
        let state = self.inner.state.lock().expect("lock");
        let mut out: BTreeSet<String> = state.links.values().map(|l| l.addr.clone()).collect();
        out.extend(state.known.iter().cloned());
        out.into_iter()
            .filter(|a| a != except && !a.is_empty() && !state.myself.contains(a))
            .take(bbchain_core::peer::MAX_PEER_ADDRS)
            .collect()
    }

    /// Queues gossip `text` on every link; a link whose outbox is busy skips it.
    pub(super) fn broadcast(&self, text: &str) {
        let state = self.inner.state.lock().expect("lock");
        for link in state.links.values() {
            link.outbox.try_queue_gossip(text.to_string());
        }
    }
}

/// Unregisters a link when it ends.
pub(super) struct LinkGuard {
    pub(super) peers: Peers,
    pub(super) id: u64,
}

impl Drop for LinkGuard {
    fn drop(&mut self) {
        let mut state = self.peers.inner.state.lock().expect("lock");
        state.links.remove(&self.id);
        publish_links(&self.peers.inner.node, &state);
    }
}

/// Tells the node which masters are linked (for `/api/nodes` and `/api/status`).
fn publish_links(node: &Node, state: &PeerTable) {
    let outbound = state.links.values().filter(|l| l.outbound).count();
    crate::metrics::peers(state.links.len() - outbound, outbound);
    let set: BTreeSet<String> = state
        .links
        .values()
        .map(|l| l.addr.clone())
        .filter(|a| !a.is_empty())
        .collect();
    node.set_linked_masters(set.into_iter().collect());
}

fn random_nonce() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    hasher.write_u32(std::process::id());
    hasher.finish() | 1
}
