//! The address book: which masters we know, which to dial, how long to wait before dialing one
//! again, and when to give up on it. Pure state, no I/O: the dial loops ask it and report back.
//!
//! A `--nodes` address is kept and dialed for as long as the master runs. An address learned from
//! a peer must be a plain routable `IP:port` (loopback only from a peer on loopback itself), is
//! dialed with a doubling pause, and is forgotten after [`FORGET_AFTER_FAILURES`] failed dials in a
//! row (three times as many once it has linked), and not taken again while it is among the last
//! [`MAX_KNOWN`] forgotten. The table is bounded; when it is full, an address
//! learned from a peer that proved work (it sent blocks we stored) takes the place of one that
//! never linked and came from a peer that did not.

use crate::backoff::Backoff;
use crate::config::peer_limits::{
    FORGET_AFTER_FAILURES, MAX_KNOWN, MAX_OUTBOUND, REDIAL_FIRST, REDIAL_MAX,
};
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// Why a learned address is not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Unfit {
    /// Not an `IP:port` (names come only from `--nodes`), or port 0.
    NotIpPort,
    /// Nobody can be reached there: unspecified, multicast, broadcast, reserved, link-local or
    /// documentation addresses, or loopback named by a peer that is not on loopback.
    Unroutable,
    /// The table is full of addresses at least as good.
    Full,
    /// Forgotten lately after failing every dial: peers naming it again do not bring it back.
    Forgotten,
}

/// Where an address came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Source {
    /// The peer that named it proved work (or is a `--nodes` master).
    pub(super) proven: bool,
    /// The peer that named it is on loopback (so loopback addresses are its neighbours).
    pub(super) loopback: bool,
}

/// How a dial went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Dialed {
    /// No socket, or no handshake.
    Failed,
    /// Linked; `lasted` when the link stayed up long enough to count as working.
    Linked { lasted: bool },
}

#[derive(Debug, Clone)]
struct Entry {
    seed: bool,
    proven: bool,
    linked_ever: bool,
    failures: u32,
    dialing: bool,
    backoff: Backoff,
}

impl Entry {
    fn new(seed: bool, proven: bool) -> Entry {
        Entry {
            seed,
            proven,
            linked_ever: false,
            failures: 0,
            dialing: false,
            backoff: Backoff::new(REDIAL_FIRST, REDIAL_MAX),
        }
    }

    /// May make room for a better address.
    fn expendable(&self) -> bool {
        !self.seed && !self.proven && !self.linked_ever && !self.dialing
    }
}

/// Known masters by `host:port`.
#[derive(Debug, Default)]
pub(super) struct AddrBook {
    entries: BTreeMap<String, Entry>,
    /// The last [`MAX_KNOWN`] addresses forgotten for failing, oldest first.
    forgotten: VecDeque<String>,
    forgotten_set: HashSet<String>,
}

impl AddrBook {
    /// A `--nodes` address: kept, dialed, never forgotten, whatever its form.
    pub(super) fn add_seed(&mut self, addr: &str) {
        let entry = self
            .entries
            .entry(addr.to_string())
            .or_insert_with(|| Entry::new(true, true));
        entry.seed = true;
        entry.proven = true;
    }

    /// An address a peer named.
    pub(super) fn learn(&mut self, addr: &str, from: Source) -> Result<(), Unfit> {
        dialable(addr, from.loopback)?;
        if self.forgotten_set.contains(addr) {
            return Err(Unfit::Forgotten);
        }
        if let Some(entry) = self.entries.get_mut(addr) {
            entry.proven |= from.proven;
            return Ok(());
        }
        if self.entries.len() >= MAX_KNOWN {
            let victim = from
                .proven
                .then(|| {
                    self.entries
                        .iter()
                        .find(|(_, e)| e.expendable())
                        .map(|(a, _)| a.clone())
                })
                .flatten()
                .ok_or(Unfit::Full)?;
            self.entries.remove(&victim);
        }
        self.entries
            .insert(addr.to_string(), Entry::new(false, from.proven));
        Ok(())
    }

    /// The link to `addr` proved work: addresses it names are preferred.
    pub(super) fn proved_work(&mut self, addr: &str) {
        if let Some(entry) = self.entries.get_mut(addr) {
            entry.proven = true;
        }
    }

    /// Addresses to start dialing now: every `--nodes` address, then learned ones, those from
    /// peers that proved work first, while fewer than [`MAX_OUTBOUND`] learned ones are dialed.
    pub(super) fn start_dialing(&mut self) -> Vec<String> {
        let mut learned_dialing = self
            .entries
            .values()
            .filter(|e| e.dialing && !e.seed)
            .count();
        let mut waiting: Vec<(&String, &Entry)> =
            self.entries.iter().filter(|(_, e)| !e.dialing).collect();
        waiting.sort_by_key(|(_, e)| (!e.seed, !e.proven, !e.linked_ever, e.failures));
        let mut out = Vec::new();
        for (addr, entry) in waiting {
            if !entry.seed {
                if learned_dialing >= MAX_OUTBOUND {
                    break;
                }
                learned_dialing += 1;
            }
            out.push(addr.clone());
        }
        for addr in &out {
            if let Some(entry) = self.entries.get_mut(addr) {
                entry.dialing = true;
            }
        }
        out
    }

    /// How a dial of `addr` went: the pause before the next, or `None` when the address is
    /// forgotten (its dial loop ends).
    pub(super) fn dialed(&mut self, addr: &str, how: Dialed) -> Option<Duration> {
        let entry = self.entries.get_mut(addr)?;
        match how {
            Dialed::Linked { lasted } => {
                entry.linked_ever = true;
                entry.failures = 0;
                if lasted {
                    entry.backoff.reset();
                }
            }
            Dialed::Failed => {
                entry.failures += 1;
                let limit = if entry.linked_ever {
                    3 * FORGET_AFTER_FAILURES
                } else {
                    FORGET_AFTER_FAILURES
                };
                if !entry.seed && entry.failures >= limit {
                    self.entries.remove(addr);
                    if self.forgotten.len() >= MAX_KNOWN
                        && let Some(oldest) = self.forgotten.pop_front()
                    {
                        self.forgotten_set.remove(&oldest);
                    }
                    self.forgotten.push_back(addr.to_string());
                    self.forgotten_set.insert(addr.to_string());
                    return None;
                }
            }
        }
        Some(entry.backoff.next_delay())
    }

    /// The dial loop of `addr` ended (the address was forgotten, is ourselves, or the master stops).
    pub(super) fn dial_ended(&mut self, addr: &str) {
        if let Some(entry) = self.entries.get_mut(addr) {
            entry.dialing = false;
        }
    }

    /// Whether `addr` came from `--nodes`.
    pub(super) fn is_seed(&self, addr: &str) -> bool {
        self.entries.get(addr).is_some_and(|e| e.seed)
    }

    /// Whether `addr` proved work or came from a peer that did (or from `--nodes`).
    pub(super) fn is_proven(&self, addr: &str) -> bool {
        self.entries.get(addr).is_some_and(|e| e.proven)
    }

    /// Drops `addr` (it is this master).
    pub(super) fn forget(&mut self, addr: &str) {
        self.entries.remove(addr);
    }

    pub(super) fn contains(&self, addr: &str) -> bool {
        self.entries.contains_key(addr)
    }

    /// Addresses worth passing on: `--nodes` and those that linked at least once (never ones only
    /// heard of, so junk does not spread).
    pub(super) fn shareable(&self) -> impl Iterator<Item = &String> {
        self.entries
            .iter()
            .filter(|(_, e)| e.seed || e.linked_ever)
            .map(|(a, _)| a)
    }
}

/// Checks a learned address: a plain `IP:port` where a master could be. `from_loopback`: the peer
/// that named it is on loopback.
pub(super) fn dialable(addr: &str, from_loopback: bool) -> Result<SocketAddr, Unfit> {
    let socket: SocketAddr = addr.parse().map_err(|_| Unfit::NotIpPort)?;
    if socket.port() == 0 {
        return Err(Unfit::NotIpPort);
    }
    let routable = match socket.ip() {
        IpAddr::V4(ip) => {
            let [a, b, c, _] = ip.octets();
            !(ip.is_unspecified()
                || ip.is_multicast()
                || ip.is_broadcast()
                || ip.is_link_local()
                || ip.is_documentation()
                || a == 0
                || a >= 240
                || (a == 192 && b == 0 && c == 0))
        }
        IpAddr::V6(ip) => {
            let first = ip.segments()[0];
            !(ip.is_unspecified()
                || ip.is_multicast()
                || (first & 0xffc0) == 0xfe80
                || (first == 0x2001 && ip.segments()[1] == 0x0db8))
        }
    };
    if !routable || (socket.ip().is_loopback() && !from_loopback) {
        return Err(Unfit::Unroutable);
    }
    Ok(socket)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FROM_LOOPBACK: Source = Source {
        proven: false,
        loopback: true,
    };
    const FROM_REMOTE: Source = Source {
        proven: false,
        loopback: false,
    };
    const FROM_PROVEN: Source = Source {
        proven: true,
        loopback: false,
    };

    #[test]
    fn junk_is_never_taken_so_never_dialed() {
        let mut book = AddrBook::default();
        for junk in [
            "0.0.0.0:8000",
            "0.1.2.3:8000",
            "224.0.0.1:8000",
            "255.255.255.255:8000",
            "240.1.2.3:8000",
            "169.254.1.1:8000",
            "192.0.2.1:8000",
            "198.51.100.1:8000",
            "203.0.113.9:8000",
            "[::]:8000",
            "[ff02::1]:8000",
            "[fe80::1]:8000",
            "[2001:db8::1]:8000",
        ] {
            assert_eq!(
                book.learn(junk, FROM_LOOPBACK),
                Err(Unfit::Unroutable),
                "{junk}"
            );
        }
        for bad in ["node.example:8000", "10.0.0.1", "10.0.0.1:0", "nonsense"] {
            assert_eq!(
                book.learn(bad, FROM_LOOPBACK),
                Err(Unfit::NotIpPort),
                "{bad}"
            );
        }
        // Loopback is where a loopback peer's neighbours are, never where a remote one points us.
        assert_eq!(
            book.learn("127.0.0.1:22", FROM_REMOTE),
            Err(Unfit::Unroutable)
        );
        assert!(book.start_dialing().is_empty(), "nothing to dial");
        assert_eq!(book.learn("127.0.0.1:8001", FROM_LOOPBACK), Ok(()));
        assert_eq!(book.learn("10.1.2.3:8001", FROM_REMOTE), Ok(()));
        assert_eq!(book.start_dialing().len(), 2);
    }

    #[test]
    fn a_learned_address_that_never_links_is_retried_with_backoff_then_forgotten() {
        let mut book = AddrBook::default();
        book.learn("10.0.0.1:8000", FROM_REMOTE).unwrap();
        assert_eq!(book.start_dialing(), ["10.0.0.1:8000"]);
        let mut pauses = Vec::new();
        while let Some(pause) = book.dialed("10.0.0.1:8000", Dialed::Failed) {
            pauses.push(pause.as_secs());
        }
        assert_eq!(pauses, [1, 2, 4, 8]);
        assert_eq!(pauses.len() as u32 + 1, FORGET_AFTER_FAILURES);
        assert!(!book.contains("10.0.0.1:8000"));
        assert!(book.start_dialing().is_empty());
        // A peer naming it again does not bring it back.
        assert_eq!(
            book.learn("10.0.0.1:8000", FROM_PROVEN),
            Err(Unfit::Forgotten)
        );
        assert!(book.start_dialing().is_empty());
    }

    #[test]
    fn seeds_are_never_forgotten_and_linked_ones_get_longer() {
        let mut book = AddrBook::default();
        book.add_seed("seed.example:8000");
        book.learn("10.0.0.2:8000", FROM_REMOTE).unwrap();
        assert_eq!(book.start_dialing(), ["seed.example:8000", "10.0.0.2:8000"]);
        for _ in 0..10 * FORGET_AFTER_FAILURES {
            assert!(book.dialed("seed.example:8000", Dialed::Failed).is_some());
        }
        assert!(book.contains("seed.example:8000"));

        assert_eq!(
            book.dialed("10.0.0.2:8000", Dialed::Linked { lasted: true }),
            Some(REDIAL_FIRST)
        );
        let mut failures = 0;
        while book.dialed("10.0.0.2:8000", Dialed::Failed).is_some() {
            failures += 1;
        }
        assert_eq!(failures + 1, 3 * FORGET_AFTER_FAILURES);
        // Only addresses that linked, and seeds, are passed on.
        book.learn("10.0.0.3:8000", FROM_REMOTE).unwrap();
        let shared: Vec<&String> = book.shareable().collect();
        assert_eq!(shared, ["seed.example:8000"]);
    }

    #[test]
    fn learned_dials_are_bounded_and_proven_sources_go_first() {
        let mut book = AddrBook::default();
        book.add_seed("127.0.0.1:9000");
        for i in 0..MAX_OUTBOUND + 4 {
            book.learn(&format!("10.0.1.{i}:8000"), FROM_REMOTE)
                .unwrap();
        }
        book.learn("10.0.2.1:8000", FROM_PROVEN).unwrap();
        let first = book.start_dialing();
        assert_eq!(
            first.len(),
            1 + MAX_OUTBOUND,
            "the seed on top of the budget"
        );
        assert_eq!(first[0], "127.0.0.1:9000");
        assert_eq!(first[1], "10.0.2.1:8000", "the proven source first");
        assert!(book.start_dialing().is_empty(), "the budget is spent");
        // A learned address forgotten frees a dial for the next one.
        while book.dialed(&first[2], Dialed::Failed).is_some() {}
        assert_eq!(book.start_dialing().len(), 1);
    }

    #[test]
    fn a_full_table_takes_only_addresses_from_proven_peers() {
        let mut book = AddrBook::default();
        for i in 0..MAX_KNOWN {
            let addr = format!("10.{}.{}.1:8000", i / 256, i % 256);
            book.learn(&addr, FROM_REMOTE).unwrap();
        }
        assert_eq!(book.learn("10.9.9.9:8000", FROM_REMOTE), Err(Unfit::Full));
        assert_eq!(book.learn("10.9.9.9:8000", FROM_PROVEN), Ok(()));
        assert!(book.contains("10.9.9.9:8000"));
        assert_eq!(book.entries.len(), MAX_KNOWN);
    }
}
