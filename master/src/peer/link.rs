//! One link to another master, as a socket loop: after the handshake it reads a frame, answers a
//! request or hands a sync message to the link's [`SyncState`], and performs what that returns.

use super::book::Source;
use super::downloads::Downloads;
pub(super) use super::handshake::Direction;
use super::handshake::{Incoming, handshake, next_text};
use super::headers::{HeaderTrail, trail_at};
use super::link_end::{LinkError, encode, misbehaved};
use super::outbox::Outbox;
use super::registry::{LinkInfo, Peers};
use super::socket::LinkIo;
use super::sync_state::{Action, ChainView, Now, SyncState, refuse_block};
use super::{answers, gossip};
use crate::clock::unix_now;
use crate::config::peer_limits::LINK_KEEPALIVE;
use crate::node::{Node, SubmitError, SubmitOutcome};
use bbchain_core::peer::{MAX_PEER_ADDRS, PeerMessage};
use bbchain_core::{Block, BlockHash, ChainParams, Work};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, watch};

/// How often a link offers the peer the data still waiting here.
const PENDING_RESEND: Duration = Duration::from_secs(30);

/// How a link ends on a [`Action::Ban`] or [`Action::Refuse`].
fn ended(action: Action) -> LinkError {
    match action {
        Action::Ban(why) => LinkError::Misbehaved(why),
        Action::Refuse(why) => LinkError::Refused(why),
        other => LinkError::Failed(anyhow::anyhow!("not an end: {other:?}")),
    }
}

/// Runs a link until it ends; returns whether the handshake went through.
pub(super) async fn run(peers: Peers, io: LinkIo, direction: Direction) -> bool {
    let LinkIo {
        mut incoming,
        outgoing,
        before_hello,
    } = io;
    let (outbox, writer) = Outbox::spawn(outgoing);
    let mut name = match &direction {
        Direction::Inbound(remote) => remote.to_string(),
        Direction::Outbound { addr, .. } => addr.clone(),
    };
    let mut linked = false;
    let result = async {
        let (hello, addr) = handshake(&peers, &mut incoming, &outbox, &direction).await?;
        if let Some(connection) = &before_hello {
            connection.lift_read_limit();
        }
        if !addr.is_empty() {
            name = addr.clone();
        }
        let closed = Arc::new(Notify::new());
        let heard = Arc::new(Mutex::new(Instant::now()));
        let guard = peers
            .register(LinkInfo {
                addr: addr.clone(),
                ip: direction.ip(),
                nonce: hello.nonce,
                outbound: matches!(direction, Direction::Outbound { .. }),
                linked_at: Instant::now(),
                heard: heard.clone(),
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
            progress: peers.inner.scheduler.subscribe(),
            sync: SyncState::new(guard.id, name.clone(), hello.chainwork),
            peers: peers.clone(),
            name: name.clone(),
            from_loopback: direction.ip().to_canonical().is_loopback(),
            proved_work: false,
            outbox: outbox.clone(),
            resend_pending_at: Instant::now() + PENDING_RESEND,
            gossip: gossip::GossipBudget::new(peers.node().limits()),
            keepalive_at: Instant::now() + LINK_KEEPALIVE,
            heard,
        };
        link.send(&PeerMessage::GetPeers)?;
        gossip::offer_pending_data(&link.node, &link.outbox)?;
        link.step(|sync, node, downloads, now| sync.start(node, downloads, now))
            .await?;
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
            peers.misbehaved(direction.ip(), &name);
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

impl ChainView for Node {
    fn params(&self) -> &ChainParams {
        Node::params(self)
    }

    fn has_block(&self, hash: &BlockHash) -> anyhow::Result<bool> {
        Ok(self.block_height(hash)?.is_some())
    }

    fn chainwork(&self, hash: &BlockHash) -> anyhow::Result<Option<Work>> {
        Node::chainwork(self, hash)
    }

    fn trail_at(&self, hash: &BlockHash) -> anyhow::Result<Option<HeaderTrail>> {
        trail_at(self, hash)
    }

    fn tip(&self) -> (BlockHash, u32, Work) {
        let snapshot = self.snapshot();
        (snapshot.tip, snapshot.height, snapshot.chainwork)
    }

    fn locator(&self) -> anyhow::Result<Vec<BlockHash>> {
        Node::locator(self)
    }
}

fn now() -> Now {
    Now {
        at: Instant::now(),
        unix: unix_now(),
    }
}

/// A link after its handshake.
struct Link {
    node: Node,
    peers: Peers,
    /// The peer's address, for the log and the address book.
    name: String,
    /// Whether the peer is on loopback (it may name loopback addresses).
    from_loopback: bool,
    /// Whether the peer sent a block that became our tip: addresses it names are preferred.
    proved_work: bool,
    outbox: Outbox,
    sync: SyncState,
    /// Moves when another link stored or gave back blocks.
    progress: watch::Receiver<u64>,
    /// When to offer the peer the data still waiting here again.
    resend_pending_at: Instant,
    /// The data and transactions the peer may still gossip.
    gossip: gossip::GossipBudget,
    /// When to ask for peers again, so the link is not silent while it works.
    keepalive_at: Instant,
    /// When the peer last sent a message (a link silent too long counts as dead).
    heard: Arc<Mutex<Instant>>,
}

impl Drop for Link {
    /// The blocks this link wanted or fetched go back to the other links.
    fn drop(&mut self) {
        let sync = &mut self.sync;
        self.peers
            .inner
            .scheduler
            .with(|downloads| sync.leave(downloads));
    }
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

    /// Runs one step of the sync state machine with the shared downloads, and performs what it
    /// returns.
    async fn step(
        &mut self,
        f: impl FnOnce(&mut SyncState, &Node, &mut Downloads, Now) -> anyhow::Result<Vec<Action>>,
    ) -> Result<(), LinkError> {
        let (sync, node) = (&mut self.sync, &self.node);
        let actions = self
            .peers
            .inner
            .scheduler
            .with(|downloads| f(sync, node, downloads, now()))?;
        self.perform(actions).await
    }

    async fn perform(&mut self, actions: Vec<Action>) -> Result<(), LinkError> {
        let mut actions = VecDeque::from(actions);
        while let Some(action) = actions.pop_front() {
            match action {
                Action::Send(message) => self.send(&message)?,
                Action::Log(line) => tracing::info!("{line}"),
                end @ (Action::Ban(_) | Action::Refuse(_)) => return Err(ended(end)),
                Action::Submit(blocks) => {
                    let hashes: Vec<BlockHash> = blocks.iter().map(Block::hash).collect();
                    self.submit(blocks).await?;
                    let (sync, node) = (&mut self.sync, &self.node);
                    let more = self
                        .peers
                        .inner
                        .scheduler
                        .with(|downloads| sync.on_stored(&hashes, node, downloads, now()))?;
                    actions.extend(more);
                }
            }
        }
        Ok(())
    }

    async fn serve(&mut self, incoming: &mut Incoming, closed: &Notify) -> Result<(), LinkError> {
        loop {
            let at = Instant::now();
            let answer_due = self
                .sync
                .deadline(at)
                .unwrap_or(at + Duration::from_secs(24 * 3600));
            let text = tokio::select! {
                () = tokio::time::sleep_until(self.resend_pending_at.into()) => {
                    self.resend_pending_at = Instant::now() + PENDING_RESEND;
                    gossip::offer_pending_data(&self.node, &self.outbox)?;
                    continue;
                }
                () = tokio::time::sleep_until(self.keepalive_at.into()) => {
                    self.keepalive_at = Instant::now() + LINK_KEEPALIVE;
                    self.send(&PeerMessage::GetPeers)?;
                    continue;
                }
                () = closed.notified() => return Err(LinkError::Refused("replaced by a newer link".into())),
                () = self.peers.stopped() => return Err(LinkError::Refused("the master is stopping".into())),
                () = self.outbox.writer_gone() => return Err(LinkError::Refused("the peer does not read what we send".into())),
                () = tokio::time::sleep_until(answer_due.into()) => {
                    let actions = self.sync.on_tick(Instant::now());
                    self.perform(actions).await?;
                    continue;
                }
                Ok(()) = self.progress.changed() => {
                    self.step(|sync, node, downloads, now| sync.on_progress(node, downloads, now)).await?;
                    continue;
                }
                text = next_text(incoming) => text?,
            };
            *self.heard.lock().expect("lock") = Instant::now();
            let message = serde_json::from_str::<PeerMessage>(&text)
                .map_err(|err| misbehaved(format!("bad message: {err}")))?;
            self.handle(message).await?;
        }
    }

    async fn handle(&mut self, message: PeerMessage) -> Result<(), LinkError> {
        match message {
            PeerMessage::Hello(_) => Err(misbehaved("a second hello")),
            PeerMessage::GetHeaders { locator } => {
                self.send(&answers::headers(&self.node, &locator)?)
            }
            PeerMessage::GetBlocks { hashes } => self.send(&answers::blocks(&self.node, &hashes)?),
            PeerMessage::GetPeers => self.send(&answers::peers(&self.peers, &self.name)),
            PeerMessage::Headers { headers } => {
                self.step(|sync, node, downloads, now| {
                    sync.on_headers(headers, node, downloads, now)
                })
                .await
            }
            PeerMessage::Blocks { blocks } => {
                self.step(|sync, node, downloads, now| sync.on_blocks(blocks, node, downloads, now))
                    .await
            }
            PeerMessage::NewBlock {
                block, chainwork, ..
            } => {
                self.step(|sync, node, downloads, now| {
                    sync.on_new_block(block, chainwork, node, downloads, now)
                })
                .await
            }
            PeerMessage::Data { entries } => {
                gossip::take_data(&self.node, &self.name, &mut self.gossip, entries).await
            }
            PeerMessage::Txs { txs } => {
                gossip::take_txs(&self.node, &self.name, &mut self.gossip, txs).await
            }
            PeerMessage::Peers { addrs } => {
                if addrs.len() > MAX_PEER_ADDRS {
                    return Err(misbehaved("too many addresses"));
                }
                let from = Source {
                    proven: self.proved_work || self.peers.is_proven(&self.name),
                    loopback: self.from_loopback,
                };
                for addr in &addrs {
                    self.peers.learn(addr, from);
                }
                Ok(())
            }
            PeerMessage::Reject { reason } => {
                tracing::info!("peer {} hangs up: {reason}", self.name);
                Err(LinkError::Closed)
            }
        }
    }

    /// Hands blocks to the chain writer in one go (one commit); any invalid block bans the peer.
    async fn submit(&mut self, blocks: Vec<Block>) -> Result<(), LinkError> {
        for result in self.node.submit_blocks(blocks).await {
            match result {
                Ok(SubmitOutcome::Connected { .. }) if !self.proved_work => {
                    self.proved_work = true;
                    self.peers.proved_work(&self.name);
                }
                Ok(_) => {}
                Err(SubmitError::Invalid(err)) => {
                    return Err(ended(refuse_block(&err, format!("invalid block: {err}"))));
                }
                Err(SubmitError::UnknownParent(parent)) => {
                    return Err(misbehaved(format!("block with unknown parent {parent}")));
                }
                Err(
                    err @ (SubmitError::InvalidParent(_) | SubmitError::InvalidAncestor { .. }),
                ) => {
                    return Err(misbehaved(format!("block on an invalid branch: {err}")));
                }
                Err(err) => return Err(LinkError::Failed(anyhow::anyhow!(err))),
            }
        }
        Ok(())
    }
}
