//! A link's outgoing side: a bounded queue of messages and the task that drains it into the socket.

use bbchain_core::peer::MAX_BLOCKS_BYTES;
use futures_util::{Sink, SinkExt};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Messages waiting to go out on one link; gossip to a slower peer is dropped past this (it
/// catches up by sync).
pub(super) const OUTBOX: usize = 256;
/// Most bytes waiting in one link's outbox: a peer that asks and never reads cannot grow it further.
/// Room for the two `blocks` answers an honest peer has in flight (each up to [`MAX_BLOCKS_BYTES`]
/// of blocks, twice that in hex) besides a quarter kept for gossip.
const OUTBOX_BYTES: usize = 6 * MAX_BLOCKS_BYTES;
/// How long one message may take to go out; a peer that stops reading is dropped.
const SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// A link's queue of messages to send, bounded in count ([`OUTBOX`]) and bytes ([`OUTBOX_BYTES`]).
/// Nothing waits on it: gossip that finds it a quarter full is dropped; anything else that does
/// not fit ends the link.
#[derive(Debug, Clone)]
pub(super) struct Outbox {
    sender: mpsc::Sender<String>,
    bytes: Arc<AtomicUsize>,
}

impl Outbox {
    /// The outbox and the receiving end its writer drains.
    pub(super) fn new() -> (Outbox, mpsc::Receiver<String>) {
        let (sender, receiver) = mpsc::channel(OUTBOX);
        let outbox = Outbox {
            sender,
            bytes: Arc::new(AtomicUsize::new(0)),
        };
        (outbox, receiver)
    }

    /// Queues `text`; false if the outbox is full or the link is gone.
    pub(super) fn try_queue(&self, text: String) -> bool {
        let len = text.len();
        let before = self.bytes.fetch_add(len, Ordering::Relaxed);
        // One message always fits in an empty outbox, whatever its size.
        if (before > 0 && before + len > OUTBOX_BYTES) || self.sender.try_send(text).is_err() {
            self.bytes.fetch_sub(len, Ordering::Relaxed);
            return false;
        }
        true
    }

    /// Queues gossip (new blocks, data, offers), which may use only a quarter of the outbox: the
    /// rest stays free for requests and answers, which end the link when they do not fit.
    pub(super) fn try_queue_gossip(&self, text: String) -> bool {
        let quarter_full = self.bytes.load(Ordering::Relaxed) + text.len() > OUTBOX_BYTES / 4
            || self.sender.capacity() < OUTBOX - OUTBOX / 4;
        !quarter_full && self.try_queue(text)
    }

    /// Resolves when the writer has stopped (the socket failed or a send timed out).
    pub(super) async fn writer_gone(&self) {
        self.sender.closed().await;
    }
}

impl Outbox {
    /// An outbox whose messages a new task sends on `outgoing`, each within [`SEND_TIMEOUT`]. The
    /// task closes the socket once every clone of the outbox is dropped, and ends early when a
    /// send fails or times out.
    pub(super) fn spawn(
        mut outgoing: Pin<Box<dyn Sink<String, Error = anyhow::Error> + Send>>,
    ) -> (Outbox, JoinHandle<()>) {
        let (outbox, mut queued) = Outbox::new();
        // The writer holds the byte count, not a sender: the queue must end when the link drops it.
        let queued_bytes = outbox.bytes.clone();
        let writer = tokio::spawn(async move {
            while let Some(text) = queued.recv().await {
                queued_bytes.fetch_sub(text.len(), Ordering::Relaxed);
                match tokio::time::timeout(SEND_TIMEOUT, outgoing.send(text)).await {
                    Ok(Ok(())) => {}
                    _ => return,
                }
            }
            let _ = tokio::time::timeout(SEND_TIMEOUT, outgoing.close()).await;
        });
        (outbox, writer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gossip_leaves_room_for_answers() {
        let (outbox, _receiver) = Outbox::new();
        assert!(outbox.try_queue_gossip("a new block".into()));
        assert!(outbox.try_queue("x".repeat(OUTBOX_BYTES / 4)));
        assert!(
            !outbox.try_queue_gossip("more gossip".into()),
            "gossip stops at a quarter"
        );
        assert!(
            outbox.try_queue("y".repeat(OUTBOX_BYTES / 2)),
            "an answer still fits"
        );
    }
}
