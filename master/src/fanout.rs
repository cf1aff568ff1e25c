//! Batched fan-out of a new block template to every feed connection.
//!
//! A task per connection woken on each new tip costs the runtime 10,000 wake-ups, polls and
//! re-registrations per tip (docs/BENCHMARKS.md, fan-out). Instead, each feed socket lives in a
//! [`Slot`] shared by its connection task and one of a few writer tasks (one per runtime worker).
//! On a new template a writer walks its slots and, for each, builds the job and writes its frame
//! straight into the socket without waiting: the connection task is not woken at all. Only a socket
//! that cannot take the frame at once (its client reads slowly) pokes its task, which finishes the
//! send under the usual send timeout, so keepalive, send timeouts and close codes stay where they
//! were: in the connection task.

use crate::node::BlockTemplate;
use axum::extract::ws::{Message, WebSocket};
use futures_util::{Sink, Stream};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Slots a writer serves before it yields to the runtime, so a fan-out to thousands of sockets
/// does not hold a worker away from other tasks (the finder's answer, the API) for its whole length.
const SLOTS_PER_TURN: usize = 128;

/// What a connection hands out on a new template.
pub trait JobSource: Send + 'static {
    /// The frame of a new job from `template`, or `None` when this connection's latest job is from
    /// that same template already.
    fn job_for(&mut self, template: &Arc<BlockTemplate>) -> Option<String>;
}

/// A feed socket and its miner, shared by the connection task and a writer.
pub struct Slot<J> {
    state: Mutex<SlotState<J>>,
    /// Set when the connection task is done: the writer forgets the slot.
    closed: AtomicBool,
}

struct SlotState<J> {
    /// Taken out when the connection ends, so the socket closes then, not at the writer's next pass.
    socket: Option<WebSocket>,
    /// The miner, once it said hello.
    miner: Option<J>,
    /// The connection task's waker: the writer writes with it, so a socket that becomes writable
    /// again wakes the task, which finishes the flush.
    task: Option<Waker>,
    /// The writer left work for the task: it wakes up for it.
    poked: bool,
    /// A frame the writer handed to the socket is not all written yet (the client reads slowly):
    /// the task flushes it, and the send timeout counts from here.
    unflushed_since: Option<Instant>,
    /// The socket was still busy when this template came: its job is owed to the miner.
    owed: Option<Arc<BlockTemplate>>,
    /// Writing failed: the socket is gone.
    broken: bool,
    /// The task is answering a submit: a new tip's job waits until the answer is out, so the
    /// finder hears `accepted` before the job on its block.
    holding: bool,
}

impl<J: JobSource> Slot<J> {
    /// A slot for a freshly upgraded socket.
    pub fn new(socket: WebSocket) -> Arc<Slot<J>> {
        Arc::new(Slot {
            state: Mutex::new(SlotState {
                socket: Some(socket),
                miner: None,
                task: None,
                poked: false,
                unflushed_since: None,
                owed: None,
                broken: false,
                holding: false,
            }),
            closed: AtomicBool::new(false),
        })
    }

    fn lock(&self) -> MutexGuard<'_, SlotState<J>> {
        lock(&self.state)
    }

    /// Runs `f` on the miner (none before its hello), with the slot locked.
    pub fn with_miner<R>(&self, f: impl FnOnce(&mut Option<J>) -> R) -> R {
        f(&mut self.lock().miner)
    }

    /// The socket as a stream and sink for the connection task.
    pub fn socket(self: &Arc<Self>) -> SlotSocket<J> {
        SlotSocket(self.clone())
    }

    /// Waits until a writer leaves work for the connection task (then call [`Slot::finish`]).
    pub async fn poked(&self) {
        std::future::poll_fn(|cx| {
            let mut state = self.lock();
            remember(&mut state.task, cx.waker());
            if std::mem::take(&mut state.poked) {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await
    }

    /// Finishes what the writers left: flushes a frame the client has not taken yet, within
    /// `send_timeout` of when it was handed over, and sends the latest owed job. An error: the
    /// socket failed, or stayed full past the send timeout (drop it).
    pub async fn finish(&self, send_timeout: Duration) -> Result<(), SendError> {
        loop {
            let since = {
                let mut state = self.lock();
                if state.broken {
                    return Err(SendError::Broken);
                }
                match state.unflushed_since {
                    Some(since) => since,
                    None => match state.owed.take() {
                        // Offered like a writer would, in the same lock: a newer template's job
                        // cannot slip in between building this one and writing it.
                        Some(template) => {
                            if let Offered::Sent | Offered::SentPoked = state.offer(&template) {
                                crate::metrics::job_sent(Some(template.made.elapsed()));
                            }
                            state.poked = false;
                            continue;
                        }
                        None => return Ok(()),
                    },
                }
            };
            let flushed = std::future::poll_fn(|cx| {
                let mut state = self.lock();
                remember(&mut state.task, cx.waker());
                let Some(socket) = state.socket.as_mut() else {
                    return Poll::Ready(Err(SendError::Broken));
                };
                match Pin::new(socket).poll_flush(cx) {
                    Poll::Ready(Ok(())) => {
                        state.unflushed_since = None;
                        Poll::Ready(Ok(()))
                    }
                    Poll::Ready(Err(_)) => Poll::Ready(Err(SendError::Broken)),
                    Poll::Pending => Poll::Pending,
                }
            });
            match tokio::time::timeout_at(since + send_timeout, flushed).await {
                Ok(result) => result?,
                Err(_) => return Err(SendError::TimedOut),
            }
        }
    }

    /// Sends the frame `build` makes from the miner at the moment the socket takes it, so a
    /// writer cannot slip a newer template's job in between building this one and writing it.
    pub async fn send_built(
        &self,
        send_timeout: Duration,
        mut build: impl FnMut(&mut J) -> String,
    ) -> Result<(), SendError> {
        let mut handed = false;
        let send = std::future::poll_fn(|cx| {
            let mut state = self.lock();
            remember(&mut state.task, cx.waker());
            let SlotState { socket, miner, .. } = &mut *state;
            let (Some(socket), Some(miner)) = (socket.as_mut(), miner.as_mut()) else {
                return Poll::Ready(Err(SendError::Broken));
            };
            let mut socket = Pin::new(socket);
            if !handed {
                match socket.as_mut().poll_ready(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Err(_)) => return Poll::Ready(Err(SendError::Broken)),
                    Poll::Ready(Ok(())) => {}
                }
                let frame = build(miner);
                if socket
                    .as_mut()
                    .start_send(Message::Text(frame.into()))
                    .is_err()
                {
                    return Poll::Ready(Err(SendError::Broken));
                }
                handed = true;
            }
            socket.poll_flush(cx).map_err(|_| SendError::Broken)
        });
        match tokio::time::timeout(send_timeout, send).await {
            Ok(result) => result,
            Err(_) => Err(SendError::TimedOut),
        }
    }

    /// While `on`, writers leave new jobs owed instead of writing them (see `holding`); turning it
    /// off with a job owed pokes the task.
    pub fn hold_jobs(&self, on: bool) {
        let mut state = self.lock();
        state.holding = on;
        if !on && state.owed.is_some() {
            state.poked = true;
            if let Some(task) = &state.task {
                task.wake_by_ref();
            }
        }
    }

    /// The connection is over: the socket and the miner go now, the slot at the writer's next pass.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        let mut state = self.lock();
        state.socket = None;
        state.miner = None;
    }

    /// Offers `template`'s job to this connection without waiting (see [`SlotState::offer`]).
    pub fn offer(&self, template: &Arc<BlockTemplate>) -> Offered {
        self.lock().offer(template)
    }
}

/// Why a send did not go through: either way the socket is dropped.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("the socket failed")]
    Broken,
    #[error("the client did not take a frame within the send timeout")]
    TimedOut,
}

impl<J: JobSource> SlotState<J> {
    /// Writes `template`'s job into the socket if it can take it now; anything left (a partial
    /// write, a busy or failed socket) pokes the connection task.
    fn offer(&mut self, template: &Arc<BlockTemplate>) -> Offered {
        let SlotState {
            socket,
            miner,
            task,
            poked,
            unflushed_since,
            owed,
            broken,
            holding,
        } = self;
        let (Some(socket), Some(miner)) = (socket.as_mut(), miner.as_mut()) else {
            return Offered::Skipped;
        };
        if *broken {
            return Offered::Skipped;
        }
        if *holding {
            *owed = Some(template.clone());
            return Offered::Skipped;
        }
        let mut socket = Pin::new(socket);
        let mut cx = Context::from_waker(task.as_ref().unwrap_or(Waker::noop()));
        let ready = if unflushed_since.is_some() {
            Poll::Pending
        } else {
            socket.as_mut().poll_ready(&mut cx)
        };
        let outcome = match ready {
            Poll::Pending => {
                // Still busy with an earlier frame: the task flushes it, then sends this job.
                unflushed_since.get_or_insert_with(Instant::now);
                *owed = Some(template.clone());
                Offered::Poked
            }
            Poll::Ready(Err(_)) => {
                *broken = true;
                Offered::Poked
            }
            Poll::Ready(Ok(())) => {
                let Some(frame) = miner.job_for(template) else {
                    return Offered::Skipped;
                };
                if socket
                    .as_mut()
                    .start_send(Message::Text(frame.into()))
                    .is_err()
                {
                    *broken = true;
                    Offered::Poked
                } else {
                    match socket.as_mut().poll_flush(&mut cx) {
                        Poll::Ready(Ok(())) => return Offered::Sent,
                        Poll::Ready(Err(_)) => *broken = true,
                        Poll::Pending => {
                            unflushed_since.get_or_insert_with(Instant::now);
                        }
                    }
                    Offered::SentPoked
                }
            }
        };
        *poked = true;
        if let Some(task) = task {
            task.wake_by_ref();
        }
        outcome
    }
}

/// What one offer did.
pub enum Offered {
    /// Written out in full.
    Sent,
    /// Handed to the socket, but the task has to finish the write.
    SentPoked,
    /// The task has to take over (busy or broken socket).
    Poked,
    /// Nothing to send (no miner yet, a closed slot, or the job is out already).
    Skipped,
}

fn remember(slot: &mut Option<Waker>, waker: &Waker) {
    if !slot.as_ref().is_some_and(|known| known.will_wake(waker)) {
        *slot = Some(waker.clone());
    }
}

/// The socket of a [`Slot`] as the connection task reads and writes it (each poll locks the slot
/// for its length only, so a writer can write between two of the task's polls).
pub struct SlotSocket<J>(Arc<Slot<J>>);

impl<J: JobSource> Stream for SlotSocket<J> {
    type Item = Result<Message, axum::Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut state = self.0.lock();
        remember(&mut state.task, cx.waker());
        match state.socket.as_mut() {
            Some(socket) => Pin::new(socket).poll_next(cx),
            None => Poll::Ready(None),
        }
    }
}

impl<J: JobSource> SlotSocket<J> {
    fn with_socket(
        &self,
        cx: &mut Context<'_>,
        f: impl FnOnce(Pin<&mut WebSocket>, &mut Context<'_>) -> Poll<Result<(), axum::Error>>,
    ) -> Poll<Result<(), axum::Error>> {
        let mut state = self.0.lock();
        remember(&mut state.task, cx.waker());
        match state.socket.as_mut() {
            Some(socket) => f(Pin::new(socket), cx),
            None => Poll::Ready(Err(axum::Error::new("the socket is closed"))),
        }
    }
}

impl<J: JobSource> Sink<Message> for SlotSocket<J> {
    type Error = axum::Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.with_socket(cx, |socket, cx| socket.poll_ready(cx))
    }

    fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), Self::Error> {
        match self.0.lock().socket.as_mut() {
            Some(socket) => Pin::new(socket).start_send(item),
            None => Err(axum::Error::new("the socket is closed")),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.with_socket(cx, |socket, cx| socket.poll_flush(cx))
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.with_socket(cx, |socket, cx| socket.poll_close(cx))
    }
}

/// The slots of one writer.
struct Shard<J> {
    /// Slots that joined since the writer's last pass are appended here meanwhile.
    slots: Mutex<Vec<Arc<Slot<J>>>>,
}

/// The writers of a master's feed, started with the first miner.
pub struct FanOut<J> {
    shards: OnceLock<Vec<Arc<Shard<J>>>>,
    next: AtomicUsize,
}

impl<J> Default for FanOut<J> {
    fn default() -> Self {
        FanOut {
            shards: OnceLock::new(),
            next: AtomicUsize::new(0),
        }
    }
}

impl<J: JobSource> FanOut<J> {
    /// From now on `slot` gets each new template's job from a writer. The first call starts the
    /// writers (one per runtime worker) on `templates`, until `stop`.
    pub fn join(
        &self,
        slot: Arc<Slot<J>>,
        templates: &watch::Receiver<Arc<BlockTemplate>>,
        stop: &CancellationToken,
        tasks: &TaskTracker,
    ) {
        let shards = self.shards.get_or_init(|| {
            let writers = tokio::runtime::Handle::current()
                .metrics()
                .num_workers()
                .max(1);
            (0..writers)
                .map(|_| {
                    let shard = Arc::new(Shard {
                        slots: Mutex::new(Vec::new()),
                    });
                    let mut templates = templates.clone();
                    templates.mark_unchanged();
                    tasks.spawn(write_jobs(shard.clone(), templates, stop.clone()));
                    shard
                })
                .collect()
        });
        let shard = &shards[self.next.fetch_add(1, Ordering::Relaxed) % shards.len()];
        lock(&shard.slots).push(slot);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One writer: on each new template, every slot of its shard gets its job.
async fn write_jobs<J: JobSource>(
    shard: Arc<Shard<J>>,
    mut templates: watch::Receiver<Arc<BlockTemplate>>,
    stop: CancellationToken,
) {
    loop {
        tokio::select! {
            changed = templates.changed() => if changed.is_err() { return },
            () = stop.cancelled() => return,
        }
        let template = templates.borrow_and_update().clone();
        let mut slots = std::mem::take(&mut *lock(&shard.slots));
        let mut sent = 0u64;
        let fanout = crate::metrics::fanout_histogram();
        for turn in slots.chunks(SLOTS_PER_TURN) {
            for slot in turn {
                if slot.closed.load(Ordering::Acquire) {
                    continue;
                }
                if let Offered::Sent | Offered::SentPoked = slot.offer(&template) {
                    sent += 1;
                    fanout.record(template.made.elapsed().as_secs_f64());
                }
            }
            tokio::task::yield_now().await;
        }
        crate::metrics::jobs_sent(sent);
        slots.retain(|slot| !slot.closed.load(Ordering::Acquire));
        let mut joined = lock(&shard.slots);
        slots.append(&mut joined);
        *joined = slots;
    }
}
