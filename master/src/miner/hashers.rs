//! The mining threads: each hashes batches of the current job with the core's scan on the path the
//! self-benchmark chose, and looks for newer work between batches, so a clean job reaches every
//! thread within one batch.

use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bbchain_core::mining::{Path, scan_with};
use bbchain_core::scan;
use tokio::sync::mpsc::UnboundedSender;

use super::work::{Assignment, SessionId};

/// How long one batch should take: long enough that the per-batch bookkeeping is noise, short
/// enough that a replaced job stops being hashed within milliseconds on any CPU.
const BATCH_TIME: Range<Duration> = Duration::from_millis(2)..Duration::from_millis(8);
/// Bounds of the batch size, in nonces.
const BATCH_MIN: u32 = 1 << 8;
const BATCH_MAX: u32 = 1 << 22;

/// One thread's batch size, doubled or halved until a batch takes about [`BATCH_TIME`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchSize(u32);

impl BatchSize {
    /// A small first batch: the right size is found within a few batches.
    pub fn new() -> BatchSize {
        BatchSize(1 << 12)
    }

    /// Nonces to claim next.
    pub fn get(self) -> u32 {
        self.0
    }

    /// Adjusts to a full batch having taken `elapsed`.
    pub fn adapt(&mut self, elapsed: Duration) {
        if elapsed < BATCH_TIME.start {
            self.0 = (self.0 * 2).min(BATCH_MAX);
        } else if elapsed > BATCH_TIME.end {
            self.0 = (self.0 / 2).max(BATCH_MIN);
        }
    }
}

/// What the threads tell the connection task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// `nonce` solves the job.
    Found {
        /// The connection the job came from.
        session: SessionId,
        /// The job.
        job_id: String,
        /// Height of the block found.
        height: u32,
        /// The solution.
        nonce: u32,
    },
    /// The last nonces of the job are being hashed: time to ask for fresh work.
    Exhausted {
        /// The connection the job came from.
        session: SessionId,
        /// The job.
        job_id: String,
    },
}

/// The current work, guarded for threads that sleep until it changes.
struct Slot {
    generation: u64,
    work: Option<Arc<Assignment>>,
    stopping: bool,
}

/// Where the connection task posts work and the threads pick it up.
pub struct Board {
    /// Bumped on every change of the slot; threads read it between batches without locking.
    generation: AtomicU64,
    slot: Mutex<Slot>,
    changed: Condvar,
    hashes: AtomicU64,
}

impl Board {
    /// An empty board: no work, threads sleep.
    pub fn new() -> Board {
        Board {
            generation: AtomicU64::new(0),
            slot: Mutex::new(Slot {
                generation: 0,
                work: None,
                stopping: false,
            }),
            changed: Condvar::new(),
            hashes: AtomicU64::new(0),
        }
    }

    /// Replaces the current work (`None`: no work, the threads sleep) and wakes every thread.
    pub fn publish(&self, work: Option<Arc<Assignment>>) {
        self.update(|slot| slot.work = work);
    }

    /// The work the threads are hashing now.
    #[cfg(test)]
    pub fn current(&self) -> Option<Arc<Assignment>> {
        self.lock().work.clone()
    }

    /// Every nonce hashed so far, by all threads.
    pub fn hashes(&self) -> u64 {
        self.hashes.load(Ordering::Relaxed)
    }

    fn stop(&self) {
        self.update(|slot| slot.stopping = true);
    }

    fn update(&self, change: impl FnOnce(&mut Slot)) {
        let mut slot = self.lock();
        change(&mut slot);
        slot.generation += 1;
        self.generation.store(slot.generation, Ordering::Release);
        self.changed.notify_all();
    }

    fn lock(&self) -> MutexGuard<'_, Slot> {
        // A thread panicking mid-update leaves a consistent slot behind: every field is set whole.
        self.slot
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn is_current(&self, generation: u64) -> bool {
        self.generation.load(Ordering::Acquire) == generation
    }

    /// Blocks until the slot differs from `generation`; `None` when the threads must stop.
    fn wait_for_change(&self, generation: u64) -> Option<(u64, Option<Arc<Assignment>>)> {
        let mut slot = self.lock();
        while slot.generation == generation && !slot.stopping {
            slot = self
                .changed
                .wait(slot)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
        (!slot.stopping).then(|| (slot.generation, slot.work.clone()))
    }
}

/// A pool of mining threads sharing one [`Board`]; dropping it stops and joins them.
pub struct Hashers {
    board: Arc<Board>,
    threads: Vec<JoinHandle<()>>,
}

impl Hashers {
    /// Starts `count` threads that hash on `path` and report to `events`.
    pub fn spawn(
        count: usize,
        path: Path,
        events: UnboundedSender<Event>,
    ) -> std::io::Result<Hashers> {
        let board = Arc::new(Board::new());
        let mut hashers = Hashers {
            board,
            threads: Vec::with_capacity(count),
        };
        for index in 0..count {
            let board = Arc::clone(&hashers.board);
            let events = events.clone();
            let thread = std::thread::Builder::new()
                .name(format!("miner-{index}"))
                .spawn(move || hash_loop(&board, path, &events))?;
            hashers.threads.push(thread);
        }
        Ok(hashers)
    }

    /// The board to post work on.
    pub fn board(&self) -> &Board {
        &self.board
    }
}

impl Drop for Hashers {
    fn drop(&mut self) {
        self.board.stop();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// One thread's life: hash batches of whatever work is current, sleep when there is none.
fn hash_loop(board: &Board, path: Path, events: &UnboundedSender<Event>) {
    let mut generation = 0;
    let mut work = None;
    let mut size = BatchSize::new();
    loop {
        let batch = work
            .as_deref()
            .filter(|work: &&Assignment| !work.is_solved())
            .and_then(|work| work.claim(size.get()).map(|batch| (work, batch)));
        let Some((job, batch)) = batch else {
            match board.wait_for_change(generation) {
                Some((new_generation, new_work)) => (generation, work) = (new_generation, new_work),
                None => return,
            }
            continue;
        };
        if batch.last {
            let _ = events.send(Event::Exhausted {
                session: job.session,
                job_id: job.job_id.clone(),
            });
        }
        let started = Instant::now();
        let result = scan_with(path, &job.midstate, &job.target, batch.start, batch.count)
            // A path is chosen among the available ones; should it not run, the default one does.
            .unwrap_or_else(|| scan(&job.midstate, &job.target, batch.start, batch.count));
        board.hashes.fetch_add(result.hashes, Ordering::Relaxed);
        match result.nonce {
            None if batch.count == size.get() => size.adapt(started.elapsed()),
            Some(nonce) if job.mark_solved() => {
                let _ = events.send(Event::Found {
                    session: job.session,
                    job_id: job.job_id.clone(),
                    height: job.height,
                    nonce,
                });
            }
            // A short final batch, or another thread solved the job first.
            _ => {}
        }
        if !board.is_current(generation) {
            let slot = board.lock();
            if slot.stopping {
                return;
            }
            (generation, work) = (slot.generation, slot.work.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::miner::work::NONCE_SPACE;
    use crate::miner::work::tests::sample_header;
    use bbchain_core::Target;
    use std::time::{Duration, Instant};
    use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};

    fn work(session: SessionId, job_id: &str, target: Target) -> Arc<Assignment> {
        Arc::new(Assignment::new(
            session,
            job_id.into(),
            1,
            &sample_header(),
            target,
        ))
    }

    fn next_event(events: &mut UnboundedReceiver<Event>) -> Event {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(event) = events.try_recv() {
                return event;
            }
            assert!(Instant::now() < deadline, "no event from the threads");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn a_found_nonce_meets_the_target_and_is_reported_once() {
        let (tx, mut rx) = unbounded_channel();
        let hashers = Hashers::spawn(2, Path::preferred(), tx).unwrap();
        // One hash in 256 qualifies: found quickly, but not by every batch.
        let mut bytes = [0xff; 32];
        bytes[0] = 0;
        let target = Target::from_be_bytes(bytes).expect("non-zero");
        hashers.board().publish(Some(work(1, "a", target)));
        let Event::Found {
            session,
            job_id,
            height,
            nonce,
        } = next_event(&mut rx)
        else {
            panic!("expected a found block");
        };
        assert_eq!((session, job_id.as_str(), height), (1, "a", 1));
        let header = hashers
            .board()
            .current()
            .unwrap()
            .midstate
            .header_with_nonce(nonce);
        assert!(target.is_met_by(&header.block_hash()));
        std::thread::sleep(Duration::from_millis(50));
        assert!(rx.try_recv().is_err(), "a solved job is reported once");
    }

    #[test]
    fn a_new_job_reaches_every_thread_within_a_batch() {
        let (tx, mut rx) = unbounded_channel();
        let threads = 2;
        let hashers = Hashers::spawn(threads, Path::preferred(), tx).unwrap();
        let impossible = Target::ONE;
        let old = work(1, "old", impossible);
        hashers.board().publish(Some(Arc::clone(&old)));
        let deadline = Instant::now() + Duration::from_secs(10);
        while hashers.board().hashes() < 1 << 16 {
            assert!(Instant::now() < deadline, "threads do not hash");
            std::thread::sleep(Duration::from_millis(1));
        }

        hashers.board().publish(Some(work(1, "new", Target::MAX)));
        let Event::Found { job_id, .. } = next_event(&mut rx) else {
            panic!("expected a found block");
        };
        assert_eq!(job_id, "new");
        // Once every thread has moved on, nobody claims batches of the old job any more.
        std::thread::sleep(Duration::from_millis(200));
        let claimed = old.claim(1).unwrap().start;
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(old.claim(1).unwrap().start, claimed + 1);
        assert!(rx.try_recv().is_err());
    }

    #[test]
    fn the_thread_that_claims_the_last_batch_reports_exhaustion() {
        let (tx, mut rx) = unbounded_channel();
        let hashers = Hashers::spawn(2, Path::preferred(), tx).unwrap();
        let impossible = Target::ONE;
        let job = work(4, "tail", impossible);
        // Skip to the last 65536 nonces so the test does not hash four billion.
        let skip = NONCE_SPACE - (1 << 16);
        let mut claimed = 0;
        while claimed + u64::from(BATCH_MAX) <= skip {
            job.claim(BATCH_MAX);
            claimed += u64::from(BATCH_MAX);
        }
        job.claim((skip - claimed) as u32);
        hashers.board().publish(Some(job));
        assert_eq!(
            next_event(&mut rx),
            Event::Exhausted {
                session: 4,
                job_id: "tail".into()
            }
        );
        std::thread::sleep(Duration::from_millis(100));
        assert!(rx.try_recv().is_err(), "exhaustion is reported once");
    }

    #[test]
    fn batches_grow_when_fast_and_shrink_when_slow_within_bounds() {
        let mut size = BatchSize::new();
        let first = size.get();
        size.adapt(Duration::from_micros(100));
        assert_eq!(size.get(), first * 2);
        size.adapt(Duration::from_millis(5));
        assert_eq!(size.get(), first * 2, "about right: unchanged");
        size.adapt(Duration::from_millis(50));
        assert_eq!(size.get(), first);
        for _ in 0..40 {
            size.adapt(Duration::ZERO);
        }
        assert_eq!(size.get(), BATCH_MAX);
        for _ in 0..40 {
            size.adapt(Duration::from_secs(1));
        }
        assert_eq!(size.get(), BATCH_MIN);
    }

    #[test]
    fn idle_threads_cost_nothing_and_stop_on_drop() {
        let (tx, _rx) = unbounded_channel();
        let hashers = Hashers::spawn(2, Path::preferred(), tx).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(hashers.board().hashes(), 0);
        hashers.board().publish(None);
        let started = Instant::now();
        drop(hashers);
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
