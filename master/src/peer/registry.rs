//! Who a master knows, dials, is linked to and refuses: the peer table behind [`Peers`], the one
//! handle every link, dial loop and the relay share. Starting peers and the socket tasks live in
//! the parent module; this one does no I/O.

use super::bans::BanList;
use super::book::AddrBook;
use super::downloads::Scheduler;
use super::outbox::Outbox;
use super::slots::SocketSlots;
use crate::config::peer_limits::{
    CROSSED_DIAL_WINDOW, LINK_SILENCE, MAX_INBOUND_LINKS, MAX_INBOUND_SOCKETS,
    MAX_INBOUND_SOCKETS_PER_IP, MAX_KNOWN,
};
use crate::node::Node;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// A linked master, for `/api/nodes`.
#[derive(Debug, Clone)]
pub(super) struct LinkInfo {
    /// Where it accepts peers (`host:port`).
    pub(super) addr: String,
    /// The IP its socket came from (inbound) or that we dialed (outbound).
    pub(super) ip: IpAddr,
    /// Its per-process nonce from the hello.
    pub(super) nonce: u64,
    /// Whether we dialed it.
    pub(super) outbound: bool,
    /// When it linked.
    pub(super) linked_at: Instant,
    /// When the peer last sent a message on it.
    pub(super) heard: Arc<Mutex<Instant>>,
    /// Its outbox.
    pub(super) outbox: Outbox,
    /// Told when the link must end (a crossed dial to the same master replaced it).
    pub(super) closed: Arc<Notify>,
}

/// Whether a new link to a master we are linked to already (same `nonce`, same IP: a crossed dial)
/// replaces the live one. Anyone can replay a master's nonce, so that claim alone never displaces
/// a link: a link from another IP is a different peer (both stay). From the same IP, the new link
/// replaces one that is dead (silent for [`LINK_SILENCE`]), or, in the moments after the first
/// link, settles two masters dialing each other at once the same way on both sides (the link
/// dialed by the smaller nonce stays). `ours` is our own nonce.
pub(super) fn replaces(old: &LinkInfo, new: &LinkInfo, ours: u64, now: Instant) -> bool {
    let dialer = |l: &LinkInfo| if l.outbound { ours } else { l.nonce };
    let heard = *old.heard.lock().expect("lock");
    let dead = now.saturating_duration_since(heard) >= LINK_SILENCE;
    let crossed = now.saturating_duration_since(old.linked_at) < CROSSED_DIAL_WINDOW
        && dialer(new) < dialer(old);
    old.ip == new.ip && old.nonce == new.nonce && (dead || crossed)
}

/// Who we know, dial, are linked to, and refuse.
#[derive(Default)]
pub(super) struct PeerTable {
    /// Masters we know of, and which we dial.
    pub(super) book: AddrBook,
    /// Addresses that turned out to be this master.
    pub(super) myself: HashSet<String>,
    /// Addresses already warned about being on another chain.
    pub(super) wrong_chain: HashSet<String>,
    /// Live links by id.
    pub(super) links: BTreeMap<u64, LinkInfo>,
    pub(super) bans: BanList,
    /// IPs of the `--nodes` masters: like loopback, never banned for long.
    pub(super) protected: HashSet<IpAddr>,
    pub(super) next_id: u64,
}

impl PeerTable {
    /// Whether a new link may join: `Ok(Some(id))` when it replaces link `id`, `Ok(None)` when it
    /// comes in beside the others. `ours` is our nonce.
    pub(super) fn admit(&self, info: &LinkInfo, ours: u64) -> Result<Option<u64>, &'static str> {
        let existing = self
            .links
            .iter()
            .find(|(_, l)| l.nonce == info.nonce && l.ip == info.ip);
        match existing {
            Some((id, old)) if replaces(old, info, ours, info.linked_at) => Ok(Some(*id)),
            Some(_) => Err("already linked to this master"),
            None => {
                let inbound = self.links.values().filter(|l| !l.outbound).count();
                if !info.outbound && inbound >= MAX_INBOUND_LINKS {
                    return Err("too many peers");
                }
                Ok(None)
            }
        }
    }
}

pub(super) struct Inner {
    pub(super) node: Node,
    pub(super) listen_port: u16,
    pub(super) nonce: u64,
    pub(super) state: Mutex<PeerTable>,
    /// Which link fetches which block.
    pub(super) scheduler: Scheduler,
    /// One slot per open `/ws/peer` socket that dialed us, taken before the upgrade.
    pub(super) inbound_sockets: Arc<Mutex<SocketSlots>>,
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
                inbound_sockets: Arc::new(Mutex::new(SocketSlots::new(
                    MAX_INBOUND_SOCKETS,
                    MAX_INBOUND_SOCKETS_PER_IP,
                ))),
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

    /// When the refusal of `ip` ends, if it is refused now.
    pub(super) fn banned_until(&self, ip: IpAddr) -> Option<Instant> {
        let state = self.inner.state.lock().expect("lock");
        state.bans.banned_until(ip, Instant::now())
    }

    /// The peer at `ip` (known as `name`) misbehaved: it is refused for a while, briefly when it
    /// is on loopback or a `--nodes` master.
    pub(super) fn misbehaved(&self, ip: IpAddr, name: &str) {
        let mut state = self.inner.state.lock().expect("lock");
        let protected = ip.to_canonical().is_loopback() || state.protected.contains(&ip);
        let length = state.bans.misbehaved(ip, protected, Instant::now());
        crate::metrics::ban("misbehaved");
        tracing::warn!("peer {name} ({ip}) is refused for {} s", length.as_secs());
    }

    /// Whether `addr` proved work, or came from a peer that did (or from `--nodes`).
    pub(super) fn is_proven(&self, addr: &str) -> bool {
        self.inner.state.lock().expect("lock").book.is_proven(addr)
    }

    /// The link to `addr` sent a block that became our tip.
    pub(super) fn proved_work(&self, addr: &str) {
        self.inner
            .state
            .lock()
            .expect("lock")
            .book
            .proved_work(addr);
    }

    /// Whether `addr` is on another chain for the first time (bounded like the known masters).
    pub(super) fn first_wrong_chain(&self, addr: &str) -> bool {
        let mut state = self.inner.state.lock().expect("lock");
        state.wrong_chain.len() < MAX_KNOWN && state.wrong_chain.insert(addr.to_string())
    }

    pub(super) fn mark_myself(&self, addr: &str) {
        let mut state = self.inner.state.lock().expect("lock");
        state.myself.insert(addr.to_string());
        state.book.forget(addr);
    }

    /// Adds a link after its handshake. A second link to the same master is refused, unless it
    /// settles a crossed dial ([`replaces`]); links that dialed us have a budget of their own, so
    /// they never take the place of links we dialed.
    pub(super) fn register(&self, info: LinkInfo) -> Result<LinkGuard, &'static str> {
        let mut state = self.inner.state.lock().expect("lock");
        if let Some(old_id) = state.admit(&info, self.inner.nonce)? {
            if let Some(old) = state.links.remove(&old_id) {
                publish_links(&self.inner.node, &state);
                old.closed.notify_one();
            }
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
        out.extend(state.book.shareable().cloned());
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const OURS: u64 = 500;

    fn link(ip: [u8; 4], nonce: u64, outbound: bool, linked_at: Instant) -> LinkInfo {
        LinkInfo {
            addr: format!("{}:8000", IpAddr::from(ip)),
            ip: IpAddr::from(ip),
            nonce,
            outbound,
            linked_at,
            heard: Arc::new(Mutex::new(linked_at)),
            outbox: Outbox::new().0,
            closed: Arc::new(Notify::new()),
        }
    }

    fn table(links: Vec<LinkInfo>) -> PeerTable {
        let mut table = PeerTable::default();
        for (id, info) in links.into_iter().enumerate() {
            table.links.insert(id as u64, info);
        }
        table
    }

    #[test]
    fn a_replayed_nonce_never_displaces_a_working_link() {
        let now = Instant::now();
        // We dialed M2 (nonce 7, smaller than ours) at 127.0.0.1.
        let table = table(vec![link([127, 0, 0, 1], 7, true, now)]);
        // A stranger elsewhere replays M2's nonce: it is another peer, the link to M2 stays.
        let stranger = link([127, 0, 0, 2], 7, false, now);
        assert_eq!(table.admit(&stranger, OURS), Ok(None));
        // From M2's own IP, after the first moments: refused.
        let later = now + CROSSED_DIAL_WINDOW + Duration::from_secs(1);
        let same_host = link([127, 0, 0, 1], 7, false, later);
        assert_eq!(
            table.admit(&same_host, OURS),
            Err("already linked to this master")
        );
    }

    #[test]
    fn a_dead_link_gives_way_to_the_same_master_from_the_same_ip() {
        let now = Instant::now();
        let table = table(vec![link([127, 0, 0, 1], 7, true, now)]);
        let later = now + LINK_SILENCE + Duration::from_secs(1);
        let again = link([127, 0, 0, 1], 7, false, later);
        assert_eq!(
            table.admit(&again, OURS),
            Ok(Some(0)),
            "silent since it linked"
        );
        // Heard from lately: alive, it stays.
        *table.links[&0].heard.lock().unwrap() = later - Duration::from_secs(1);
        assert_eq!(
            table.admit(&again, OURS),
            Err("already linked to this master")
        );
    }

    #[test]
    fn a_crossed_dial_keeps_the_link_dialed_by_the_smaller_nonce_on_both_sides() {
        let now = Instant::now();
        let soon = now + Duration::from_millis(200);
        // Our nonce 500, theirs 7: both keep the link they dialed (their outbound, our inbound).
        let ours_first = table(vec![link([127, 0, 0, 1], 7, true, now)]);
        assert_eq!(
            ours_first.admit(&link([127, 0, 0, 1], 7, false, soon), OURS),
            Ok(Some(0))
        );
        let theirs_first = table(vec![link([127, 0, 0, 1], 7, false, now)]);
        assert_eq!(
            theirs_first.admit(&link([127, 0, 0, 1], 7, true, soon), OURS),
            Err("already linked to this master")
        );
    }

    #[test]
    fn inbound_links_cannot_take_the_outbound_budget() {
        let now = Instant::now();
        let inbound: Vec<LinkInfo> = (0..MAX_INBOUND_LINKS as u64)
            .map(|i| {
                link(
                    [10, 0, (i / 256) as u8, (i % 256) as u8],
                    1000 + i,
                    false,
                    now,
                )
            })
            .collect();
        let table = table(inbound);
        assert_eq!(
            table.admit(&link([10, 9, 9, 9], 9, false, now), OURS),
            Err("too many peers")
        );
        assert_eq!(
            table.admit(&link([10, 9, 9, 9], 9, true, now), OURS),
            Ok(None),
            "a link we dialed still gets in"
        );
    }
}
