//! Headers-first sync with one peer as a state machine: the peer's sync messages and timer ticks
//! go in, [`Action`]s come out. It never awaits, touches a socket or reads the clock, so unit tests
//! drive it with an in-memory chain; the socket loop (`link.rs`) performs the actions.

use super::downloads::{Downloads, LinkId};
use super::headers::{HeaderTrail, header_work};
use super::sync::{BlockQueue, DownloadError};
use bbchain_core::peer::{MAX_HEADERS, MAX_LOCATOR, PeerMessage};
use bbchain_core::validation::Blame;
use bbchain_core::{Block, BlockError, BlockHash, ChainParams, Header, Work};
use std::time::{Duration, Instant};

/// How long the peer has to answer an open request (counted from the request, or from its
/// previous answer while several are open) before the link is dropped.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// How often a long sync logs its progress.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);
/// Most headers held while their chain has no more work than ours; past this the link ends.
const MAX_UNQUEUED: usize = 50 * MAX_HEADERS;

/// What sync needs to know about our chain.
pub trait ChainView {
    /// The chain's rules.
    fn params(&self) -> &ChainParams;
    /// Whether the block is stored (main chain or side branch).
    fn has_block(&self, hash: &BlockHash) -> anyhow::Result<bool>;
    /// Cumulative work of the chain ending at a stored block.
    fn chainwork(&self, hash: &BlockHash) -> anyhow::Result<Option<Work>>;
    /// The header trail ending at a stored block.
    fn trail_at(&self, hash: &BlockHash) -> anyhow::Result<Option<HeaderTrail>>;
    /// Our main chain's tip, its height and its cumulative work.
    fn tip(&self) -> (BlockHash, u32, Work);
    /// Our block locator (see `docs/protocol.md`).
    fn locator(&self) -> anyhow::Result<Vec<BlockHash>>;
}

/// The time, passed in: `at` for deadlines, `unix` for header times.
#[derive(Debug, Clone, Copy)]
pub struct Now {
    pub at: Instant,
    pub unix: u32,
}

/// What the link must do.
#[derive(Debug)]
pub enum Action {
    /// Send a message to the peer.
    Send(PeerMessage),
    /// Hand these blocks to the chain writer (in order, one commit), then report them with
    /// [`SyncState::on_stored`].
    Submit(Vec<Block>),
    /// An info line for the log.
    Log(String),
    /// The peer broke the protocol: end the link and ban it.
    Ban(String),
    /// End the link without blaming the peer.
    Refuse(String),
}

/// A block or header from the peer failed `error`: ban the peer or only drop the link, as the
/// core's [`BlockError::blame`] says.
pub fn refuse_block(error: &BlockError, why: String) -> Action {
    match error.blame() {
        Blame::Sender => Action::Ban(why),
        Blame::Nobody => Action::Refuse(why),
    }
}

/// When the peer must answer our open requests: [`REQUEST_TIMEOUT`] after the first request, or
/// after its previous answer. Only an answer moves it, so a peer that keeps sending other messages
/// cannot stall a sync.
#[derive(Debug, Default)]
struct AnswerDeadline(Option<Instant>);

impl AnswerDeadline {
    /// The deadline while requests are open (`busy`), `None` while none is.
    fn due(&mut self, busy: bool, now: Instant) -> Option<Instant> {
        if !busy {
            self.0 = None;
            return None;
        }
        Some(*self.0.get_or_insert(now + REQUEST_TIMEOUT))
    }

    /// The peer answered a request: the next answer has a full timeout again.
    fn answered(&mut self) {
        self.0 = None;
    }
}

/// Progress of a long block download, for the log.
#[derive(Debug)]
struct Progress {
    started: Instant,
    last_log: Instant,
    blocks: u64,
}

/// One link's sync with its peer.
#[derive(Debug)]
pub struct SyncState {
    /// The peer's address, for the log.
    name: String,
    /// The end of the peer's headers we have checked.
    trail: Option<HeaderTrail>,
    /// Cumulative work of the chain ending at `trail`.
    trail_work: Work,
    /// Checked headers whose chain does not have more work than ours yet: their blocks are
    /// fetched once a later batch of the same chain passes our tip's work.
    unqueued: Vec<BlockHash>,
    /// A `get_headers` is waiting for its answer.
    headers_open: bool,
    /// Blocks to fetch, asked for, or held.
    queue: BlockQueue,
    progress: Option<Progress>,
    /// The most chainwork the peer has claimed and not yet shown us headers for.
    peer_work: Work,
    /// When the open `get_headers` must be answered; only a `headers` answer moves it.
    headers_due: AnswerDeadline,
    /// When the open `get_blocks` must be answered; only a `blocks` answer moves it, so a peer
    /// that keeps answering headers cannot sit on the blocks it was handed to fetch.
    blocks_due: AnswerDeadline,
}

impl SyncState {
    /// Sync with the peer `name` (link `link` in the scheduler), which said hello with `peer_work`.
    pub fn new(link: LinkId, name: String, peer_work: Work) -> SyncState {
        SyncState {
            name,
            trail: None,
            trail_work: Work::ZERO,
            unqueued: Vec::new(),
            headers_open: false,
            queue: BlockQueue::new(link),
            progress: None,
            peer_work,
            headers_due: AnswerDeadline::default(),
            blocks_due: AnswerDeadline::default(),
        }
    }

    /// Right after the handshake: asks for headers if the peer claims more work than ours.
    pub fn start(
        &mut self,
        view: &impl ChainView,
        downloads: &mut Downloads,
        now: Now,
    ) -> anyhow::Result<Vec<Action>> {
        let mut out = Vec::new();
        self.pump(view, downloads, now, &mut out)?;
        Ok(out)
    }

    /// When the link must end if the peer has not answered by then (`None`: nothing is open).
    pub fn deadline(&mut self, now: Instant) -> Option<Instant> {
        let headers = self.headers_due.due(self.headers_open, now);
        let blocks = self.blocks_due.due(self.queue.awaiting_answer(), now);
        headers.into_iter().chain(blocks).min()
    }

    /// A timer tick: ends the link once the answer deadline has passed.
    pub fn on_tick(&mut self, now: Instant) -> Vec<Action> {
        match self.deadline(now) {
            Some(due) if due <= now => vec![Action::Refuse("request timed out".into())],
            _ => Vec::new(),
        }
    }

    /// The peer's `headers` answer: checks them (link, bits, time, proof of work) and wants the
    /// blocks we lack once their chain has more work than ours.
    pub fn on_headers(
        &mut self,
        headers: Vec<Header>,
        view: &impl ChainView,
        downloads: &mut Downloads,
        now: Now,
    ) -> anyhow::Result<Vec<Action>> {
        if !self.headers_open {
            return Ok(vec![Action::Ban("headers nobody asked for".into())]);
        }
        self.headers_open = false;
        self.headers_due.answered();
        let mut out = Vec::new();
        let Some(first) = headers.first() else {
            // The peer has nothing after what we know: whatever it claimed, we are level.
            self.peer_work = Work::ZERO;
            self.pump(view, downloads, now, &mut out)?;
            return Ok(out);
        };
        let (mut trail, mut work) = match self.trail.take() {
            Some(trail) if trail.hash == first.prev_hash => (trail, self.trail_work),
            _ => {
                self.unqueued.clear();
                match (
                    view.trail_at(&first.prev_hash)?,
                    view.chainwork(&first.prev_hash)?,
                ) {
                    (Some(trail), Some(work)) => (trail, work),
                    _ => {
                        let why = "headers do not connect to any block we have";
                        return Ok(vec![Action::Ban(why.into())]);
                    }
                }
            }
        };
        if let Err(bad) = trail.extend(&headers, view.params(), now.unix) {
            return Ok(vec![refuse_block(&bad.error, format!("invalid {bad}"))]);
        }
        for header in &headers {
            work = work + header_work(header);
        }
        self.trail = Some(trail);
        self.trail_work = work;
        // Blocks we hold form a prefix: no block is stored without its parent.
        let mut known = 0;
        while known < headers.len() && view.has_block(&headers[known].block_hash())? {
            known += 1;
        }
        self.unqueued
            .extend(headers[known..].iter().map(Header::block_hash));
        // Like Bitcoin: fetch blocks only for a header chain with more work than ours, so a peer
        // cannot make us store side branches that could never become the main chain.
        if work > view.tip().2 {
            self.queue.want(self.unqueued.drain(..), downloads);
        } else if headers.len() < MAX_HEADERS {
            // The peer's chain ends here without beating ours, whatever work it claimed. Forget
            // it: should it grow, the next headers start again from a block we hold.
            self.unqueued.clear();
            self.trail = None;
            self.peer_work = Work::ZERO;
        } else if self.unqueued.len() > MAX_UNQUEUED {
            let why = "a long header chain with no more work than ours";
            return Ok(vec![Action::Refuse(why.into())]);
        }
        if headers.len() == MAX_HEADERS {
            self.request_headers(view, &mut out)?;
        }
        self.pump(view, downloads, now, &mut out)?;
        Ok(out)
    }

    /// The peer's `blocks` answer: holds them, asks for more, and submits what can be stored.
    pub fn on_blocks(
        &mut self,
        blocks: Vec<Block>,
        view: &impl ChainView,
        downloads: &mut Downloads,
        now: Now,
    ) -> anyhow::Result<Vec<Action>> {
        self.blocks_due.answered();
        let kept = match self.queue.receive(blocks, downloads) {
            Ok(kept) => kept,
            Err(err @ DownloadError::Empty(_)) => return Ok(vec![Action::Refuse(err.to_string())]),
            Err(err) => return Ok(vec![Action::Ban(err.to_string())]),
        };
        let mut out = Vec::new();
        if let Some(progress) = &mut self.progress {
            progress.blocks += kept as u64;
            if now.at.duration_since(progress.last_log) >= PROGRESS_EVERY {
                progress.last_log = now.at;
                let height = view.tip().1;
                let target = self.trail.as_ref().map_or(height, |t| t.height);
                let secs = now.at.duration_since(progress.started).as_secs_f64();
                let rate = progress.blocks as f64 / secs.max(0.001);
                out.push(Action::Log(format!(
                    "sync from {}: height {height} of {target} ({rate:.0} blocks/s)",
                    self.name
                )));
            }
        }
        // Ask first, so the peer prepares the next batch while we store this one.
        self.pump(view, downloads, now, &mut out)?;
        self.submit_ready(view, downloads, &mut out)?;
        Ok(out)
    }

    /// A block the peer just mined or accepted: stored directly if it extends our tip, else it
    /// starts a sync (headers first decide whether its chain is worth fetching).
    pub fn on_new_block(
        &mut self,
        block: Block,
        chainwork: Work,
        view: &impl ChainView,
        downloads: &mut Downloads,
        now: Now,
    ) -> anyhow::Result<Vec<Action>> {
        if view.has_block(&block.hash())? {
            return Ok(Vec::new());
        }
        if block.header.prev_hash == view.tip().0 {
            return Ok(vec![Action::Submit(vec![block])]);
        }
        self.peer_work = self.peer_work.max(chainwork);
        let mut out = Vec::new();
        self.pump(view, downloads, now, &mut out)?;
        Ok(out)
    }

    /// The blocks of a [`Action::Submit`] are stored.
    pub fn on_stored(
        &mut self,
        hashes: &[BlockHash],
        view: &impl ChainView,
        downloads: &mut Downloads,
        now: Now,
    ) -> anyhow::Result<Vec<Action>> {
        for hash in hashes {
            downloads.done(hash);
        }
        self.on_progress(view, downloads, now)
    }

    /// Another link stored or gave back blocks: submit what now has its parent, fetch what is free.
    pub fn on_progress(
        &mut self,
        view: &impl ChainView,
        downloads: &mut Downloads,
        now: Now,
    ) -> anyhow::Result<Vec<Action>> {
        let mut out = Vec::new();
        self.pump(view, downloads, now, &mut out)?;
        self.submit_ready(view, downloads, &mut out)?;
        Ok(out)
    }

    /// The link ends: its blocks go back to the scheduler for the other links.
    pub fn leave(&mut self, downloads: &mut Downloads) {
        self.queue.leave(downloads);
    }

    fn submit_ready(
        &mut self,
        view: &impl ChainView,
        downloads: &Downloads,
        out: &mut Vec<Action>,
    ) -> anyhow::Result<()> {
        let ready = self.queue.ready(downloads, |hash| view.has_block(hash))?;
        if !ready.is_empty() {
            out.push(Action::Submit(ready));
        }
        Ok(())
    }

    /// Asks for the peer's headers after the ones we have checked (or after our main chain).
    fn request_headers(
        &mut self,
        view: &impl ChainView,
        out: &mut Vec<Action>,
    ) -> anyhow::Result<()> {
        if self.headers_open {
            return Ok(());
        }
        let mut locator = view.locator()?;
        if let Some(trail) = &self.trail {
            locator.insert(0, trail.hash);
            locator.truncate(MAX_LOCATOR);
        }
        self.headers_open = true;
        out.push(Action::Send(PeerMessage::GetHeaders { locator }));
        Ok(())
    }

    /// Sends block requests while slots are free; asks for more headers when the peer claims
    /// more work than ours and nothing is left to do; logs when a sync is done.
    fn pump(
        &mut self,
        view: &impl ChainView,
        downloads: &mut Downloads,
        now: Now,
        out: &mut Vec<Action>,
    ) -> anyhow::Result<()> {
        if !self.headers_open && self.queue.is_idle() && self.peer_work > view.tip().2 {
            self.request_headers(view, out)?;
        }
        while let Some(hashes) = self.queue.next_request(downloads) {
            self.progress.get_or_insert(Progress {
                started: now.at,
                last_log: now.at,
                blocks: 0,
            });
            out.push(Action::Send(PeerMessage::GetBlocks { hashes }));
        }
        if !self.headers_open
            && self.queue.is_idle()
            && let Some(progress) = self.progress.take()
        {
            let secs = now.at.duration_since(progress.started).as_secs_f64();
            let (height, tip) = self
                .trail
                .as_ref()
                .map_or((0, BlockHash::ZERO), |t| (t.height, t.hash));
            out.push(Action::Log(format!(
                "sync from {}: done, {} blocks in {secs:.1} s, up to height {height} ({tip})",
                self.name, progress.blocks,
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dev::generate::mine_child;
    use crate::peer::headers::tests::{chain, genesis_trail};
    use std::collections::HashMap;

    /// An in-memory chain: stored blocks with their trail and work; the tip is the most work.
    struct FakeChain {
        params: ChainParams,
        stored: HashMap<BlockHash, (HeaderTrail, Work)>,
        tip: BlockHash,
    }

    impl FakeChain {
        fn new() -> FakeChain {
            let params = ChainParams::dev();
            let genesis = params.genesis_hash();
            let trail = genesis_trail(&params);
            let work = header_work(&params.genesis_block().header);
            FakeChain {
                stored: HashMap::from([(genesis, (trail, work))]),
                params,
                tip: genesis,
            }
        }

        fn store(&mut self, blocks: &[Block]) {
            for block in blocks {
                let (mut trail, work) = self.stored[&block.header.prev_hash].clone();
                trail.push(&block.header, &self.params, u32::MAX).unwrap();
                let work = work + header_work(&block.header);
                self.stored.insert(block.hash(), (trail, work));
                if work > self.tip().2 {
                    self.tip = block.hash();
                }
            }
        }
    }

    impl ChainView for FakeChain {
        fn params(&self) -> &ChainParams {
            &self.params
        }
        fn has_block(&self, hash: &BlockHash) -> anyhow::Result<bool> {
            Ok(self.stored.contains_key(hash))
        }
        fn chainwork(&self, hash: &BlockHash) -> anyhow::Result<Option<Work>> {
            Ok(self.stored.get(hash).map(|s| s.1))
        }
        fn trail_at(&self, hash: &BlockHash) -> anyhow::Result<Option<HeaderTrail>> {
            Ok(self.stored.get(hash).map(|s| s.0.clone()))
        }
        fn tip(&self) -> (BlockHash, u32, Work) {
            let (trail, work) = &self.stored[&self.tip];
            (self.tip, trail.height, *work)
        }
        fn locator(&self) -> anyhow::Result<Vec<BlockHash>> {
            Ok(vec![self.tip])
        }
    }

    fn at(start: Instant, secs: u64) -> Now {
        Now {
            at: start + Duration::from_secs(secs),
            unix: u32::MAX / 2,
        }
    }

    fn headers_of(blocks: &[Block]) -> Vec<Header> {
        blocks.iter().map(|b| b.header).collect()
    }

    fn hashes_of(blocks: &[Block]) -> Vec<BlockHash> {
        blocks.iter().map(Block::hash).collect()
    }

    /// The messages among `actions`.
    fn sent(actions: &[Action]) -> Vec<&PeerMessage> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Send(message) => Some(message),
                _ => None,
            })
            .collect()
    }

    fn submitted(actions: &[Action]) -> Vec<BlockHash> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Submit(blocks) => Some(hashes_of(blocks)),
                _ => None,
            })
            .flatten()
            .collect()
    }

    fn ends(actions: &[Action]) -> Option<String> {
        actions.iter().find_map(|a| match a {
            Action::Ban(why) => Some(format!("ban: {why}")),
            Action::Refuse(why) => Some(format!("refuse: {why}")),
            _ => None,
        })
    }

    /// A link to a peer that claims `work` more than ours, past its first `get_headers`.
    fn syncing(link: LinkId, ours: &FakeChain, downloads: &mut Downloads, now: Now) -> SyncState {
        let claimed = ours.tip().2 + ours.tip().2;
        let mut sync = SyncState::new(link, format!("peer{link}"), claimed);
        let actions = sync.start(ours, downloads, now).unwrap();
        assert!(
            matches!(sent(&actions)[..], [PeerMessage::GetHeaders { .. }]),
            "{actions:?}"
        );
        sync
    }

    #[test]
    fn headers_that_do_not_connect_ban_the_peer() {
        let ours = FakeChain::new();
        let blocks = chain(&ours.params, 4);
        let mut downloads = Downloads::default();
        let start = at(Instant::now(), 0);
        let mut sync = SyncState::new(1, "peer".into(), Work::ZERO);
        let actions = sync
            .on_headers(headers_of(&blocks), &ours, &mut downloads, start)
            .unwrap();
        assert_eq!(ends(&actions).unwrap(), "ban: headers nobody asked for");

        let mut sync = syncing(1, &ours, &mut downloads, start);
        let actions = sync
            .on_headers(headers_of(&blocks[1..]), &ours, &mut downloads, start)
            .unwrap();
        assert_eq!(
            ends(&actions).unwrap(),
            "ban: headers do not connect to any block we have"
        );
    }

    #[test]
    fn an_unanswered_request_ends_the_link_after_the_deadline() {
        let ours = FakeChain::new();
        let mut downloads = Downloads::default();
        let start = Instant::now();
        let mut sync = syncing(1, &ours, &mut downloads, at(start, 0));
        assert_eq!(sync.deadline(start), Some(start + REQUEST_TIMEOUT));
        assert!(sync.on_tick(start + Duration::from_secs(59)).is_empty());
        let actions = sync.on_tick(start + REQUEST_TIMEOUT);
        assert_eq!(ends(&actions).unwrap(), "refuse: request timed out");
    }

    #[test]
    fn answering_headers_does_not_extend_the_blocks_deadline() {
        let ours = FakeChain::new();
        let blocks = chain(&ours.params, 4);
        let mut downloads = Downloads::default();
        let start = Instant::now();
        let mut sync = syncing(1, &ours, &mut downloads, at(start, 0));
        // A full batch of headers would ask for more headers; two batches here stand for a peer
        // that keeps answering headers while it sits on the blocks it was asked for.
        let actions = sync
            .on_headers(
                headers_of(&blocks[..2]),
                &ours,
                &mut downloads,
                at(start, 1),
            )
            .unwrap();
        assert!(
            sent(&actions)
                .iter()
                .any(|m| matches!(m, PeerMessage::GetBlocks { .. })),
            "{actions:?}"
        );
        // The socket loop reads the deadline after every step, as here.
        let blocks_due = at(start, 1).at + REQUEST_TIMEOUT;
        assert_eq!(sync.deadline(at(start, 1).at), Some(blocks_due));
        sync.headers_open = true;
        sync.on_headers(
            headers_of(&blocks[2..]),
            &ours,
            &mut downloads,
            at(start, 50),
        )
        .unwrap();
        let blocks_due = at(start, 1).at + REQUEST_TIMEOUT;
        assert!(sync.on_tick(blocks_due - Duration::from_secs(1)).is_empty());
        let actions = sync.on_tick(blocks_due);
        assert_eq!(ends(&actions).unwrap(), "refuse: request timed out");
    }

    #[test]
    fn only_answers_move_the_answer_deadline() {
        let start = Instant::now();
        let mut deadline = AnswerDeadline::default();
        assert_eq!(deadline.due(false, start), None);
        let first = start + REQUEST_TIMEOUT;
        assert_eq!(deadline.due(true, start), Some(first));
        // Other messages keep arriving: the deadline stays where it was.
        for secs in [1, 30, 59] {
            let later = start + Duration::from_secs(secs);
            assert_eq!(deadline.due(true, later), Some(first));
        }
        // An answer with requests still open: a full timeout from now.
        let answered_at = start + Duration::from_secs(50);
        deadline.answered();
        assert_eq!(
            deadline.due(true, answered_at),
            Some(answered_at + REQUEST_TIMEOUT)
        );
        // Nothing open: no deadline, and the next request starts a fresh one.
        assert_eq!(deadline.due(false, answered_at), None);
        let next = start + Duration::from_secs(500);
        assert_eq!(deadline.due(true, next), Some(next + REQUEST_TIMEOUT));
    }

    #[test]
    fn a_short_blocks_answer_is_asked_again_and_the_rest_submitted() {
        let mut ours = FakeChain::new();
        let blocks = chain(&ours.params, 5);
        let mut downloads = Downloads::default();
        let now = at(Instant::now(), 0);
        let mut sync = syncing(1, &ours, &mut downloads, now);
        let actions = sync
            .on_headers(headers_of(&blocks), &ours, &mut downloads, now)
            .unwrap();
        let asked = hashes_of(&blocks);
        assert!(
            matches!(sent(&actions)[..], [PeerMessage::GetBlocks { hashes }] if *hashes == asked),
            "{actions:?}"
        );

        // Two of five (the size cap): the other three are asked again, the two are stored.
        let actions = sync
            .on_blocks(blocks[..2].to_vec(), &ours, &mut downloads, now)
            .unwrap();
        let rest = hashes_of(&blocks[2..]);
        assert!(
            matches!(sent(&actions)[..], [PeerMessage::GetBlocks { hashes }] if *hashes == rest),
            "{actions:?}"
        );
        assert_eq!(submitted(&actions), hashes_of(&blocks[..2]));
        ours.store(&blocks[..2]);
        sync.on_stored(&hashes_of(&blocks[..2]), &ours, &mut downloads, now)
            .unwrap();

        let actions = sync
            .on_blocks(blocks[2..].to_vec(), &ours, &mut downloads, now)
            .unwrap();
        assert_eq!(submitted(&actions), rest);
        ours.store(&blocks[2..]);
        let actions = sync.on_stored(&rest, &ours, &mut downloads, now).unwrap();
        assert!(
            matches!(&actions[..], [Action::Log(line)] if line.contains("done, 5 blocks")),
            "{actions:?}"
        );
        assert_eq!(ours.tip().0, blocks[4].hash());
        assert_eq!(downloads.stats.blocks_downloaded, 5);
        assert_eq!(sync.deadline(now.at), None, "nothing is open");
    }

    #[test]
    fn a_side_branch_with_less_work_than_ours_is_not_fetched() {
        let mut ours = FakeChain::new();
        let main = chain(&ours.params, 3);
        ours.store(&main);
        // The peer's branch: two blocks off genesis, less work than our three.
        let mut trail = genesis_trail(&ours.params);
        let side: Vec<Block> = (0..2)
            .map(|i| {
                let time = ours.params.genesis_time + 500 + i;
                let block = mine_child(&mut trail, &ours.params, time, "side");
                trail.push(&block.header, &ours.params, u32::MAX).unwrap();
                block
            })
            .collect();
        let mut downloads = Downloads::default();
        let now = at(Instant::now(), 0);
        let mut sync = SyncState::new(1, "peer".into(), Work::ZERO);
        // Its tip is announced with a claim of more work: headers decide.
        let claimed = ours.tip().2 + ours.tip().2;
        let actions = sync
            .on_new_block(side[1].clone(), claimed, &ours, &mut downloads, now)
            .unwrap();
        assert!(matches!(
            sent(&actions)[..],
            [PeerMessage::GetHeaders { .. }]
        ));
        let actions = sync
            .on_headers(headers_of(&side), &ours, &mut downloads, now)
            .unwrap();
        assert!(actions.is_empty(), "nothing fetched: {actions:?}");
        assert_eq!(downloads.open(), 0);
        assert_eq!(sync.deadline(now.at), None);
    }

    #[test]
    fn a_new_block_on_our_tip_is_submitted_directly() {
        let mut ours = FakeChain::new();
        let blocks = chain(&ours.params, 2);
        ours.store(&blocks[..1]);
        let mut downloads = Downloads::default();
        let now = at(Instant::now(), 0);
        let mut sync = SyncState::new(1, "peer".into(), Work::ZERO);
        let work = ours.tip().2 + header_work(&blocks[1].header);
        let actions = sync
            .on_new_block(blocks[1].clone(), work, &ours, &mut downloads, now)
            .unwrap();
        assert_eq!(submitted(&actions), [blocks[1].hash()]);
        assert_eq!(sent(&actions).len(), 0, "no headers round trip");
        // Already stored: nothing to do.
        let actions = sync
            .on_new_block(blocks[0].clone(), work, &ours, &mut downloads, now)
            .unwrap();
        assert!(actions.is_empty());
    }

    #[test]
    fn two_links_with_the_same_chain_fetch_it_once_and_the_survivor_takes_over() {
        let ours = FakeChain::new();
        let blocks = chain(&ours.params, 4);
        let mut downloads = Downloads::default();
        let now = at(Instant::now(), 0);
        let mut first = syncing(1, &ours, &mut downloads, now);
        let mut second = syncing(2, &ours, &mut downloads, now);
        let actions = first
            .on_headers(headers_of(&blocks), &ours, &mut downloads, now)
            .unwrap();
        assert_eq!(sent(&actions).len(), 1, "{actions:?}");
        let actions = second
            .on_headers(headers_of(&blocks), &ours, &mut downloads, now)
            .unwrap();
        assert!(sent(&actions).is_empty(), "asked of the first link only");

        // The first link dies before answering: the second fetches the blocks.
        first.leave(&mut downloads);
        assert!(downloads.take_changed());
        let actions = second.on_progress(&ours, &mut downloads, now).unwrap();
        let all = hashes_of(&blocks);
        assert!(
            matches!(sent(&actions)[..], [PeerMessage::GetBlocks { hashes }] if *hashes == all),
            "{actions:?}"
        );
    }
}
