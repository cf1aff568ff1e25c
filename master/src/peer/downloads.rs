//! The download scheduler shared by every link of one master: a block wanted by several links is
//! asked of one link only, and goes back to the others when that link dies or gives up on it.
//! Pure bookkeeping behind the [`Scheduler`]'s mutex; no I/O.

use bbchain_core::BlockHash;
use std::collections::HashMap;
use std::sync::Mutex;
use tokio::sync::watch;

/// A link's id in the scheduler (the id [`super::Peers`] registered it under).
pub type LinkId = u64;

/// Where a wanted block stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fetch {
    /// Nobody is fetching it: any link that wants it may.
    Free,
    /// This link asked for it (or holds it until its parent is stored).
    Claimed(LinkId),
    /// Stored: the links that wanted it drop it.
    Done,
}

#[derive(Debug)]
struct Entry {
    /// How many links want it: the entry goes when the last one lets go.
    wanters: u32,
    fetch: Fetch,
}

/// Counters a user can read at `GET /api/sync`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct DownloadStats {
    /// Blocks received in `blocks` answers and kept.
    pub blocks_downloaded: u64,
    /// Blocks received in `blocks` answers that were already stored or fetched by another link.
    pub blocks_received_duplicate: u64,
}

/// Which blocks the links of one master want, and which link fetches each.
#[derive(Debug, Default)]
pub struct Downloads {
    entries: HashMap<BlockHash, Entry>,
    /// Set when a block became free or stored: other links may have something to do.
    changed: bool,
    /// What the links received.
    pub stats: DownloadStats,
}

impl Downloads {
    /// One more link wants `hash` (each link counts once: it keeps its own set).
    pub fn want(&mut self, hash: BlockHash) {
        self.entries
            .entry(hash)
            .or_insert(Entry {
                wanters: 0,
                fetch: Fetch::Free,
            })
            .wanters += 1;
    }

    /// `link` no longer wants `hash`; its claim on it, if any, is freed.
    pub fn unwant(&mut self, link: LinkId, hash: &BlockHash) {
        let Some(entry) = self.entries.get_mut(hash) else {
            return;
        };
        if entry.fetch == Fetch::Claimed(link) {
            entry.fetch = Fetch::Free;
            self.changed = true;
        }
        entry.wanters = entry.wanters.saturating_sub(1);
        if entry.wanters == 0 {
            self.entries.remove(hash);
        }
    }

    /// Where `hash` stands (`None`: nobody wants it).
    pub fn fetch(&self, hash: &BlockHash) -> Option<Fetch> {
        self.entries.get(hash).map(|e| e.fetch)
    }

    /// Claims a free `hash` for `link`; false if another link fetches it or it is stored.
    pub fn claim(&mut self, link: LinkId, hash: &BlockHash) -> bool {
        match self.entries.get_mut(hash) {
            Some(entry) if entry.fetch == Fetch::Free => {
                entry.fetch = Fetch::Claimed(link);
                true
            }
            _ => false,
        }
    }

    /// `link` gives `hash` back (its peer did not send it): another link may fetch it.
    pub fn release(&mut self, link: LinkId, hash: &BlockHash) {
        if let Some(entry) = self.entries.get_mut(hash)
            && entry.fetch == Fetch::Claimed(link)
        {
            entry.fetch = Fetch::Free;
            self.changed = true;
        }
    }

    /// `hash` is stored.
    pub fn done(&mut self, hash: &BlockHash) {
        if let Some(entry) = self.entries.get_mut(hash) {
            entry.fetch = Fetch::Done;
            self.changed = true;
        }
    }

    /// Whether a block became free or stored since the last call.
    pub fn take_changed(&mut self) -> bool {
        std::mem::take(&mut self.changed)
    }

    /// Blocks some link wants and no link has stored yet.
    #[cfg(test)]
    pub fn open(&self) -> usize {
        self.entries
            .values()
            .filter(|e| e.fetch != Fetch::Done)
            .count()
    }
}

/// [`Downloads`] behind a mutex, and a counter that moves whenever a block became free or stored,
/// so a link waiting on another link's blocks wakes up.
#[derive(Debug)]
pub struct Scheduler {
    downloads: Mutex<Downloads>,
    progress: watch::Sender<u64>,
}

impl Default for Scheduler {
    fn default() -> Scheduler {
        Scheduler {
            downloads: Mutex::new(Downloads::default()),
            progress: watch::Sender::new(0),
        }
    }
}

impl Scheduler {
    /// Runs `f` on the downloads; wakes the other links if it freed or stored a block.
    pub fn with<T>(&self, f: impl FnOnce(&mut Downloads) -> T) -> T {
        let mut downloads = self.downloads.lock().expect("lock");
        let out = f(&mut downloads);
        if downloads.take_changed() {
            self.progress.send_modify(|n| *n += 1);
        }
        out
    }

    /// Follows the progress counter.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.progress.subscribe()
    }

    /// The counters for `GET /api/sync`.
    pub fn stats(&self) -> DownloadStats {
        self.downloads.lock().expect("lock").stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(n: u8) -> BlockHash {
        BlockHash::from_byte_array([n; 32])
    }

    #[test]
    fn a_block_wanted_by_two_links_is_claimed_by_one_and_freed_when_it_leaves() {
        let mut downloads = Downloads::default();
        downloads.want(hash(1));
        downloads.want(hash(1));
        assert!(downloads.claim(1, &hash(1)));
        assert!(!downloads.claim(2, &hash(1)), "one link fetches it");
        assert!(!downloads.take_changed());
        // Link 1 dies: the block is free again for link 2.
        downloads.unwant(1, &hash(1));
        assert!(downloads.take_changed());
        assert!(downloads.claim(2, &hash(1)));
        downloads.done(&hash(1));
        assert_eq!(downloads.fetch(&hash(1)), Some(Fetch::Done));
        assert_eq!(downloads.open(), 0);
        downloads.unwant(2, &hash(1));
        assert_eq!(
            downloads.fetch(&hash(1)),
            None,
            "forgotten once nobody wants it"
        );
    }

    #[test]
    fn a_released_block_can_be_claimed_again() {
        let mut downloads = Downloads::default();
        downloads.want(hash(2));
        assert!(downloads.claim(1, &hash(2)));
        downloads.release(2, &hash(2));
        assert_eq!(
            downloads.fetch(&hash(2)),
            Some(Fetch::Claimed(1)),
            "not link 2's"
        );
        downloads.release(1, &hash(2));
        assert_eq!(downloads.fetch(&hash(2)), Some(Fetch::Free));
        assert!(!downloads.claim(1, &hash(3)), "nobody wants it");
    }
}
