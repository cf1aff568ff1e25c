//! One link to another master: the handshake, then its requests, our answers, headers-first sync
//! and gossip until either side hangs up.

use super::headers::HeaderTrail;
use super::headers::{header_work, trail_at};
use super::outbox::Outbox;
use super::socket::{Frame, LinkIo};
use super::sync::{BlockQueue, DownloadError};
use super::{LinkInfo, Peers};
use crate::clock::unix_now;
use crate::node::{Node, SubmitError};
use bbchain_core::peer::{
    Hello, MAX_BLOCKS_BYTES, MAX_BLOCKS_PER_REQUEST, MAX_DATA_ENTRIES, MAX_HEADERS, MAX_LOCATOR,
    MAX_PEER_ADDRS, PEER_PROTOCOL_VERSION, PeerMessage,
};
use bbchain_core::validation::{Blame, check_entry_size};
use bbchain_core::{Block, BlockError, Hash256, Header, Work};
use futures_util::{Stream, StreamExt};
use std::collections::HashSet;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// How long the other side has to say hello.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the peer has to answer an open request (counted from the request, or from its
/// previous answer while several are open) before the link is dropped.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// How often a long sync logs its progress.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);
/// Most headers held while their chain has no more work than ours; past this the link ends.
const MAX_UNQUEUED: usize = 50 * MAX_HEADERS;
/// How often a link offers the peer the data still waiting here.
const PENDING_RESEND: Duration = Duration::from_secs(30);
/// How many of the oldest waiting entries one offer carries at most.
const PENDING_SHARE: usize = 10 * MAX_DATA_ENTRIES;

/// Who opened the link.
pub(super) enum Direction {
    /// It dialed us from this socket address.
    Inbound(SocketAddr),
    /// We dialed this `host:port`.
    Outbound(String),
}

/// Why a link ends.
#[derive(Debug)]
enum LinkError {
    /// The other side hung up, or we are done.
    Closed,
    /// A socket or storage error.
    Failed(anyhow::Error),
    /// The peer broke the protocol or sent invalid blocks: it is banned for a while.
    Misbehaved(String),
    /// We refuse the link without blaming the peer (another network, a clock far ahead).
    Refused(String),
    /// The peer is on another chain; `addr` is where it is (its listen address when known), so
    /// the refusal is logged at WARN once per address and at DEBUG on every retry after.
    WrongChain { addr: String, why: String },
}

impl From<anyhow::Error> for LinkError {
    fn from(err: anyhow::Error) -> LinkError {
        LinkError::Failed(err)
    }
}

fn misbehaved(why: impl Into<String>) -> LinkError {
    LinkError::Misbehaved(why.into())
}

/// A peer's block or header failed `error`: ban the peer or only drop the link, as the core's
/// [`BlockError::blame`] says.
fn refused_block(error: &BlockError, why: String) -> LinkError {
    match error.blame() {
        Blame::Sender => LinkError::Misbehaved(why),
        Blame::Nobody => LinkError::Refused(why),
    }
}

/// The JSON text of a message.
pub(super) fn encode(message: &PeerMessage) -> String {
    serde_json::to_string(message).expect("peer messages always serialize")
}

/// Runs a link until it ends; returns whether the handshake went through.
pub(super) async fn run(peers: Peers, io: LinkIo, direction: Direction) -> bool {
    let LinkIo {
        mut incoming,
        outgoing,
    } = io;
    let (outbox, writer) = Outbox::spawn(outgoing);
    let mut name = match &direction {
        Direction::Inbound(remote) => remote.to_string(),
        Direction::Outbound(addr) => addr.clone(),
    };
    // Bans go by the address a peer accepts links on; one that never said is only dropped.
    let mut ban_key = match &direction {
        Direction::Inbound(_) => None,
        Direction::Outbound(addr) => Some(addr.clone()),
    };
    let mut linked = false;
    let result = async {
        let (hello, addr) = handshake(&peers, &mut incoming, &outbox, &direction).await?;
        if !addr.is_empty() {
            name = addr.clone();
            ban_key = Some(addr.clone());
        }
        let closed = Arc::new(Notify::new());
        let _guard = peers
            .register(LinkInfo {
                addr: addr.clone(),
                nonce: hello.nonce,
                outbound: matches!(direction, Direction::Outbound(_)),
                outbox: outbox.clone(),
                closed: closed.clone(),
            })
            .map_err(|why| LinkError::Refused(why.into()))?;
        linked = true;
        tracing::info!(
            "linked to master {name} (height {}, tip {})",
            hello.height,
            hello.tip
        );
        let mut link = Link {
            node: peers.node().clone(),
            peers: peers.clone(),
            name: name.clone(),
            outbox: outbox.clone(),
            trail: None,
            trail_work: Work::ZERO,
            unqueued: Vec::new(),
            headers_open: false,
            resend_pending_at: Instant::now() + PENDING_RESEND,
            queue: BlockQueue::default(),
            progress: None,
            peer_work: hello.chainwork,
            answer_due: AnswerDeadline::default(),
        };
        link.send(&PeerMessage::GetPeers)?;
        link.send_pending_data()?;
        link.pump().await?;
        link.serve(&mut incoming, &closed).await
    }
    .await;
    match result {
        Ok(()) | Err(LinkError::Closed) => {}
        Err(LinkError::Failed(err)) => tracing::info!("link to {name} failed: {err:#}"),
        Err(LinkError::Refused(why)) => {
            tracing::info!("link to {name} refused: {why}");
            outbox.try_queue(encode(&PeerMessage::Reject { reason: why }));
        }
        Err(LinkError::WrongChain { addr, why }) => {
            if peers.first_wrong_chain(&addr) {
                tracing::warn!("link to {addr} refused: {why} (retries are logged at DEBUG)");
            } else {
                tracing::debug!("link to {addr} refused: {why}");
            }
            outbox.try_queue(encode(&PeerMessage::Reject { reason: why }));
        }
        Err(LinkError::Misbehaved(why)) => {
            tracing::warn!("peer {name} misbehaved: {why}");
            if let Some(key) = &ban_key {
                peers.ban(key);
            }
            outbox.try_queue(encode(&PeerMessage::Reject { reason: why }));
        }
    }
    if linked {
        tracing::info!("link to master {name} closed");
    }
    drop(outbox);
    // Let the last messages (a reject) go out, but do not keep the socket for a peer not reading.
    let mut writer = writer;
    if tokio::time::timeout(Duration::from_secs(2), &mut writer)
        .await
        .is_err()
    {
        writer.abort();
    }
    linked
}

/// Exchanges hellos; returns the peer's and the address it accepts peers on.
async fn handshake(
    peers: &Peers,
    incoming: &mut Pin<Box<dyn Stream<Item = anyhow::Result<Frame>> + Send>>,
    outbox: &Outbox,
    direction: &Direction,
) -> Result<(Hello, String), LinkError> {
    let node = peers.node();
    let snapshot = node.snapshot();
    let ours = Hello {
        version: PEER_PROTOCOL_VERSION,
        network_id: node.params().network_id,
        genesis: node.params().genesis_hash(),
        listen_port: Some(peers.inner.listen_port),
        tip: snapshot.tip,
        height: snapshot.height,
        chainwork: snapshot.chainwork,
        agent: concat!("bbchain/", env!("CARGO_PKG_VERSION")).into(),
        nonce: peers.inner.nonce,
    };
    if !outbox.try_queue(encode(&PeerMessage::Hello(ours.clone()))) {
        return Err(LinkError::Closed);
    }
    let first = tokio::time::timeout(HANDSHAKE_TIMEOUT, next_text(incoming))
        .await
        .map_err(|_| LinkError::Refused("no hello within 10 s".into()))??;
    let theirs = match serde_json::from_str::<PeerMessage>(&first) {
        Ok(PeerMessage::Hello(hello)) => hello,
        Ok(PeerMessage::Reject { reason }) => {
            return Err(LinkError::Failed(anyhow::anyhow!(
                "refused by peer: {reason}"
            )));
        }
        Ok(_) => return Err(misbehaved("the first message is not a hello")),
        Err(err) => return Err(misbehaved(format!("bad hello: {err}"))),
    };
    let addr = match direction {
        Direction::Outbound(addr) => addr.clone(),
        Direction::Inbound(remote) => match theirs.listen_port {
            Some(port) if port != 0 => SocketAddr::new(remote.ip(), port).to_string(),
            _ => String::new(),
        },
    };
    if let Err(err) = ours.check_peer(&theirs) {
        if let (bbchain_core::peer::HelloError::SelfConnection, Direction::Outbound(addr)) =
            (&err, direction)
        {
            peers.mark_myself(addr);
        }
        if let bbchain_core::peer::HelloError::Network { expected, got } = err {
            let addr = match direction {
                Direction::Inbound(remote) if addr.is_empty() => remote.ip().to_string(),
                _ => addr,
            };
            let why = format!(
                "peer is on the {} network, this master on the {} network",
                chain_name(got),
                chain_name(expected)
            );
            return Err(LinkError::WrongChain { addr, why });
        }
        return Err(LinkError::Refused(err.to_string()));
    }
    if !addr.is_empty() && peers.banned_until(&addr).is_some() {
        return Err(LinkError::Refused("banned for misbehaving".into()));
    }
    Ok((theirs, addr))
}

/// A chain's name ("main", "dev"), or its network id in hex for a chain we do not know.
fn chain_name(network_id: u32) -> String {
    bbchain_core::ChainParams::by_network_id(network_id).map_or_else(
        || format!("unknown ({network_id:08x})"),
        |p| p.name.to_string(),
    )
}

/// The next text frame; control frames are skipped, binary frames are a protocol error.
async fn next_text(
    incoming: &mut Pin<Box<dyn Stream<Item = anyhow::Result<Frame>> + Send>>,
) -> Result<String, LinkError> {
    loop {
        match incoming.next().await {
            None | Some(Ok(Frame::Close)) => return Err(LinkError::Closed),
            Some(Err(err)) => return Err(LinkError::Failed(err)),
            Some(Ok(Frame::Control)) => {}
            Some(Ok(Frame::Binary)) => return Err(misbehaved("binary frame")),
            Some(Ok(Frame::Text(text))) => return Ok(text),
        }
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
struct Progress {
    started: Instant,
    last_log: Instant,
    blocks: u64,
}

/// A link after its handshake.
struct Link {
    node: Node,
    peers: Peers,
    /// The peer's address, for the log and bans.
    name: String,
    outbox: Outbox,
    /// The end of the peer's headers we have checked.
    trail: Option<HeaderTrail>,
    /// Cumulative work of the chain ending at `trail`.
    trail_work: Work,
    /// Checked headers whose chain does not have more work than ours yet: their blocks are
    /// fetched once a later batch of the same chain passes our tip's work.
    unqueued: Vec<Hash256>,
    /// A `get_headers` is waiting for its answer.
    headers_open: bool,
    /// When to offer the peer the data still waiting here again.
    resend_pending_at: Instant,
    /// Blocks to fetch from this peer.
    queue: BlockQueue,
    progress: Option<Progress>,
    /// The most chainwork the peer has claimed and not yet shown us headers for.
    peer_work: Work,
    /// When the peer must next answer one of our open requests.
    answer_due: AnswerDeadline,
}

impl Link {
    /// Queues a request or an answer; a peer that lets its outbox fill up is not reading, so
    /// the link ends rather than wait (or grow) for it.
    fn send(&self, message: &PeerMessage) -> Result<(), LinkError> {
        if self.outbox.try_queue(encode(message)) {
            Ok(())
        } else {
            Err(LinkError::Refused(
                "the peer does not read what we send".into(),
            ))
        }
    }

    fn busy(&self) -> bool {
        self.headers_open || !self.queue.is_idle()
    }

    async fn serve(
        &mut self,
        incoming: &mut Pin<Box<dyn Stream<Item = anyhow::Result<Frame>> + Send>>,
        closed: &Notify,
    ) -> Result<(), LinkError> {
        loop {
            let now = Instant::now();
            let answer_due = self
                .answer_due
                .due(self.busy(), now)
                .unwrap_or(now + Duration::from_secs(24 * 3600));
            let text = tokio::select! {
                () = tokio::time::sleep_until(self.resend_pending_at.into()) => {
                    self.resend_pending_at = Instant::now() + PENDING_RESEND;
                    self.send_pending_data()?;
                    continue;
                }
                () = closed.notified() => return Err(LinkError::Refused("replaced by a newer link".into())),
                () = self.peers.stopped() => return Err(LinkError::Refused("the master is stopping".into())),
                () = self.outbox.writer_gone() => return Err(LinkError::Refused("the peer does not read what we send".into())),
                () = tokio::time::sleep_until(answer_due.into()) => {
                    return Err(LinkError::Refused("request timed out".into()));
                }
                text = next_text(incoming) => text?,
            };
            let message = serde_json::from_str::<PeerMessage>(&text)
                .map_err(|err| misbehaved(format!("bad message: {err}")))?;
            self.handle(message).await?;
        }
    }

    async fn handle(&mut self, message: PeerMessage) -> Result<(), LinkError> {
        match message {
            PeerMessage::Hello(_) => Err(misbehaved("a second hello")),
            PeerMessage::GetHeaders { locator } => {
                if locator.len() > MAX_LOCATOR {
                    return Err(misbehaved("locator too long"));
                }
                let headers = self.node.headers_after(&locator, MAX_HEADERS)?;
                self.send(&PeerMessage::Headers { headers })
            }
            PeerMessage::Headers { headers } => {
                self.answer_due.answered();
                self.on_headers(headers).await
            }
            PeerMessage::GetBlocks { hashes } => {
                if hashes.len() > MAX_BLOCKS_PER_REQUEST {
                    return Err(misbehaved("too many blocks asked for"));
                }
                let blocks = self.read_blocks(&hashes)?;
                self.send(&PeerMessage::Blocks { blocks })
            }
            PeerMessage::Blocks { blocks } => {
                self.answer_due.answered();
                self.on_blocks(blocks).await
            }
            PeerMessage::NewBlock {
                block, chainwork, ..
            } => self.on_new_block(block, chainwork).await,
            PeerMessage::Data { entries } => self.on_data(entries).await,
            PeerMessage::GetPeers => {
                let addrs = self.peers.shareable(&self.name);
                self.send(&PeerMessage::Peers { addrs })
            }
            PeerMessage::Peers { addrs } => {
                if addrs.len() > MAX_PEER_ADDRS {
                    return Err(misbehaved("too many addresses"));
                }
                for addr in &addrs {
                    self.peers.learn(addr);
                }
                Ok(())
            }
            PeerMessage::Reject { reason } => {
                tracing::info!("peer {} hangs up: {reason}", self.name);
                Err(LinkError::Closed)
            }
        }
    }

    /// Asks for the peer's headers after the ones we have checked (or after our main chain).
    async fn request_headers(&mut self) -> Result<(), LinkError> {
        if self.headers_open {
            return Ok(());
        }
        let mut locator = self.node.locator()?;
        if let Some(trail) = &self.trail {
            locator.insert(0, trail.hash);
            locator.truncate(MAX_LOCATOR);
        }
        self.headers_open = true;
        self.send(&PeerMessage::GetHeaders { locator })
    }

    /// Checks the headers (link, bits, time, proof of work) and queues the blocks we lack.
    async fn on_headers(&mut self, headers: Vec<Header>) -> Result<(), LinkError> {
        if !self.headers_open {
            return Err(misbehaved("headers nobody asked for"));
        }
        self.headers_open = false;
        let Some(first) = headers.first() else {
            // The peer has nothing after what we know: whatever it claimed, we are level.
            self.peer_work = Work::ZERO;
            return self.pump().await;
        };
        let (mut trail, mut work) = match self.trail.take() {
            Some(trail) if trail.hash == first.prev_hash => (trail, self.trail_work),
            _ => {
                self.unqueued.clear();
                let missing = || misbehaved("headers do not connect to any block we have");
                let trail = trail_at(&self.node, &first.prev_hash)?.ok_or_else(missing)?;
                let work = self.node.chainwork(&first.prev_hash)?.ok_or_else(missing)?;
                (trail, work)
            }
        };
        if let Err(bad) = trail.extend(&headers, self.node.params(), unix_now()) {
            return Err(refused_block(&bad.error, format!("invalid {bad}")));
        }
        for header in &headers {
            work = work + header_work(header);
        }
        self.trail = Some(trail);
        self.trail_work = work;
        // Blocks we hold form a prefix: no block is stored without its parent.
        let mut known = 0;
        while known < headers.len()
            && self
                .node
                .block_height(&headers[known].block_hash())?
                .is_some()
        {
            known += 1;
        }
        self.unqueued
            .extend(headers[known..].iter().map(Header::block_hash));
        // Like Bitcoin: fetch blocks only for a header chain with more work than ours, so a peer
        // cannot make us store side branches that could never become the main chain.
        if work > self.node.snapshot().chainwork {
            self.queue.want(self.unqueued.drain(..));
        } else if headers.len() < MAX_HEADERS {
            // The peer's chain ends here without beating ours, whatever work it claimed. Forget
            // it: should it grow, the next headers start again from a block we hold.
            self.unqueued.clear();
            self.trail = None;
            self.peer_work = Work::ZERO;
        } else if self.unqueued.len() > MAX_UNQUEUED {
            return Err(LinkError::Refused(
                "a long header chain with no more work than ours".into(),
            ));
        }
        if headers.len() == MAX_HEADERS {
            self.request_headers().await?;
        }
        self.pump().await
    }

    /// Sends block requests while slots are free; asks for more headers when the peer claims
    /// more work than ours and nothing is open; logs when a sync is done.
    async fn pump(&mut self) -> Result<(), LinkError> {
        if !self.busy() && self.peer_work > self.node.snapshot().chainwork {
            self.request_headers().await?;
        }
        while let Some(hashes) = self.queue.next_request() {
            if self.progress.is_none() {
                let now = Instant::now();
                self.progress = Some(Progress {
                    started: now,
                    last_log: now,
                    blocks: 0,
                });
            }
            self.send(&PeerMessage::GetBlocks { hashes })?;
        }
        if !self.busy()
            && let Some(progress) = self.progress.take()
        {
            let secs = progress.started.elapsed().as_secs_f64();
            let (height, tip) = self
                .trail
                .as_ref()
                .map_or((0, Hash256::ZERO), |t| (t.height, t.hash));
            tracing::info!(
                "sync from {}: done, {} blocks in {secs:.1} s, up to height {height} ({tip})",
                self.name,
                progress.blocks,
            );
        }
        Ok(())
    }

    /// The blocks a peer asked for: a prefix of its list (each block once), cut at the size cap.
    fn read_blocks(&self, hashes: &[Hash256]) -> anyhow::Result<Vec<Block>> {
        let mut blocks = Vec::new();
        let mut bytes = 0;
        let mut seen = HashSet::new();
        for hash in hashes.iter().filter(|h| seen.insert(**h)) {
            let Some(block) = self.node.block(hash)? else {
                break;
            };
            bytes += block.encoded_len();
            if !blocks.is_empty() && bytes > MAX_BLOCKS_BYTES {
                break;
            }
            blocks.push(block);
        }
        Ok(blocks)
    }

    async fn on_blocks(&mut self, blocks: Vec<Block>) -> Result<(), LinkError> {
        let blocks = self.queue.receive(blocks).map_err(|err| match err {
            DownloadError::Empty(_) => LinkError::Refused(err.to_string()),
            _ => misbehaved(err.to_string()),
        })?;
        let count = blocks.len() as u64;
        self.submit(blocks).await?;
        if let Some(progress) = &mut self.progress {
            progress.blocks += count;
            if progress.last_log.elapsed() >= PROGRESS_EVERY {
                progress.last_log = Instant::now();
                let height = self.node.snapshot().height;
                let target = self.trail.as_ref().map_or(height, |t| t.height);
                let rate = progress.blocks as f64 / progress.started.elapsed().as_secs_f64();
                tracing::info!(
                    "sync from {}: height {height} of {target} ({rate:.0} blocks/s)",
                    self.name
                );
            }
        }
        self.pump().await
    }

    /// Hands blocks to the chain writer in one go (one commit); any invalid block bans the peer.
    async fn submit(&self, blocks: Vec<Block>) -> Result<(), LinkError> {
        for result in self.node.submit_blocks(blocks).await {
            match result {
                Ok(_) => {}
                Err(SubmitError::Invalid(err)) => {
                    return Err(refused_block(&err, format!("invalid block: {err}")));
                }
                Err(SubmitError::UnknownParent(parent)) => {
                    return Err(misbehaved(format!("block with unknown parent {parent}")));
                }
                Err(err) => return Err(LinkError::Failed(anyhow::anyhow!(err))),
            }
        }
        Ok(())
    }

    /// A block the peer just mined or accepted: store it if it extends our tip, else sync.
    async fn on_new_block(&mut self, block: Block, chainwork: Work) -> Result<(), LinkError> {
        if self.node.block_height(&block.hash())?.is_some() {
            return Ok(());
        }
        if block.header.prev_hash != self.node.snapshot().tip {
            // Not on our tip: headers first decide whether its chain is worth fetching. Sync now,
            // or right after the sync under way (see `pump`).
            self.peer_work = self.peer_work.max(chainwork);
            return self.pump().await;
        }
        self.submit(vec![block]).await
    }

    /// Tells the peer about the oldest data waiting here, so its miners can take it too: once after
    /// the handshake, then every [`PENDING_RESEND`] for what is still waiting (entries added while
    /// the link was down, or more than one round fits). Like gossip, what does not fit in the
    /// outbox is left for the next round.
    fn send_pending_data(&self) -> Result<(), LinkError> {
        let texts = self.node.pending_texts(PENDING_SHARE)?;
        for chunk in texts.chunks(MAX_DATA_ENTRIES) {
            let message = PeerMessage::Data {
                entries: chunk.to_vec(),
            };
            if !self.outbox.try_queue_gossip(encode(&message)) {
                break;
            }
        }
        Ok(())
    }

    /// Data entries the peer queued: queue them here too (the relay passes new ones on).
    async fn on_data(&mut self, entries: Vec<String>) -> Result<(), LinkError> {
        if entries.len() > MAX_DATA_ENTRIES {
            return Err(misbehaved("too many data entries"));
        }
        let params = self.node.params();
        if let Some(err) = entries
            .iter()
            .find_map(|t| check_entry_size(t, params).err())
        {
            return Err(misbehaved(format!("data entry refused: {err}")));
        }
        let results =
            futures_util::future::join_all(entries.into_iter().map(|t| self.node.offer_data(t)))
                .await;
        for result in results {
            if let Err(err) = result {
                tracing::debug!("data from {} not queued: {err}", self.name);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
