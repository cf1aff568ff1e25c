//! One connection to a master: say hello, turn jobs into work for the threads, submit what they
//! find, ask for work when a job runs dry, and print a status line every few seconds.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bbchain_core::protocol::{Job, MasterMessage, MinerMessage};
use futures_util::{SinkExt as _, StreamExt as _};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio_tungstenite::tungstenite::Message;

use super::connect::FeedStream;
use super::hashers::{Board, Event};
use super::settings::{AGENT, MinerTimings, format_rate};
use super::work::{Assignment, SessionId};

/// How often the status line is printed.
const STATUS_EVERY: Duration = Duration::from_secs(5);
/// Non-clean jobs stay submittable; remembering this many recent ones is plenty.
const LIVE_JOBS: usize = 16;

/// What to do about a master that has been silent for `quiet`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Liveness {
    Fine,
    Ping,
    GiveUp,
}

impl Liveness {
    fn after(quiet: Duration, timings: &MinerTimings) -> Liveness {
        if quiet >= timings.quiet_limit {
            Liveness::GiveUp
        } else if quiet >= timings.quiet_ping {
            Liveness::Ping
        } else {
            Liveness::Fine
        }
    }
}

/// Counters over the miner's whole run, across reconnections.
#[derive(Debug, Default)]
pub struct Stats {
    /// Solutions submitted.
    pub found: u64,
    /// Submits the master put in its chain.
    pub accepted: u64,
    /// Submits (or messages) the master refused.
    pub rejected: u64,
}

impl Stats {
    /// `found 3, accepted 3, rejected 0`.
    pub fn totals(&self) -> String {
        format!(
            "found {}, accepted {}, rejected {}",
            self.found, self.accepted, self.rejected
        )
    }
}

/// Why a session ended.
#[derive(Debug)]
pub enum SessionEnd {
    /// The miner is stopping.
    Shutdown,
    /// The connection failed.
    Lost { reason: String },
}

/// The state of one connection.
pub struct Session<'a> {
    id: SessionId,
    name: &'a str,
    /// The address its blocks pay.
    address: Option<&'a str>,
    board: &'a Board,
    stats: &'a mut Stats,
    timings: MinerTimings,
    /// Jobs whose solutions are still worth submitting: since the last clean job, newest last.
    live_jobs: VecDeque<String>,
    /// The job the threads are hashing.
    current: Option<Arc<Assignment>>,
    /// Hash count and time at the last status line, for the hashrate.
    meter: (u64, Instant),
}

impl<'a> Session<'a> {
    /// A session numbered `id`, mining as `name` and paying `address`.
    pub fn new(
        id: SessionId,
        (name, address): (&'a str, Option<&'a str>),
        board: &'a Board,
        stats: &'a mut Stats,
        timings: MinerTimings,
    ) -> Self {
        Session {
            id,
            name,
            address,
            board,
            stats,
            timings,
            live_jobs: VecDeque::new(),
            current: None,
            meter: (board.hashes(), Instant::now()),
        }
    }

    /// Talks to the master over `stream` until the connection ends or `shutdown` completes.
    pub async fn run(
        mut self,
        mut stream: FeedStream,
        events: &mut UnboundedReceiver<Event>,
        shutdown: &mut (impl Future<Output = ()> + Unpin),
    ) -> SessionEnd {
        let hello = MinerMessage::Hello {
            name: self.name.to_owned(),
            agent: Some(AGENT.to_owned()),
            address: self.address.map(str::to_owned),
        };
        let send_timeout = self.timings.send_timeout;
        if let Some(end) = deliver(&mut stream, frame(&hello), shutdown, send_timeout).await {
            return end;
        }
        let every = |period| tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        let (mut status, mut liveness) = (every(STATUS_EVERY), every(self.timings.liveness_every));
        let mut last_heard = Instant::now();
        loop {
            let reply = tokio::select! {
                () = &mut *shutdown => {
                    // A polite goodbye, but a stuck master must not hold up Ctrl-C.
                    let _ = tokio::time::timeout(Duration::from_secs(1), stream.close(None)).await;
                    return SessionEnd::Shutdown;
                }
                incoming = stream.next() => {
                    last_heard = Instant::now();
                    match incoming {
                        Some(Ok(Message::Text(text))) => self.on_master_message(&text).map(|m| frame(&m)),
                        Some(Ok(Message::Close(Some(frame)))) if !frame.reason.is_empty() => {
                            return lost(frame.reason.to_string());
                        }
                        Some(Ok(Message::Close(_))) | None => {
                            return lost("the master closed the connection".into());
                        }
                        // Pings are answered by the WebSocket layer; pongs only prove life.
                        Some(Ok(_)) => None,
                        Some(Err(error)) => return lost(error.to_string()),
                    }
                }
                Some(event) = events.recv() => self.on_event(event).map(|m| frame(&m)),
                _ = status.tick() => {
                    self.print_status();
                    None
                }
                _ = liveness.tick() => match Liveness::after(last_heard.elapsed(), &self.timings) {
                    Liveness::Fine => None,
                    Liveness::Ping => Some(Message::Ping(Default::default())),
                    Liveness::GiveUp => {
                        let quiet = last_heard.elapsed().as_secs();
                        return lost(format!("no answer for {quiet} s"));
                    }
                },
            };
            if let Some(reply) = reply
                && let Some(end) = deliver(&mut stream, reply, shutdown, send_timeout).await
            {
                return end;
            }
        }
    }

    /// Handles one message from the master; returns the answer, if any.
    fn on_master_message(&mut self, text: &str) -> Option<MinerMessage> {
        let message = match serde_json::from_str::<MasterMessage>(text) {
            Ok(message) => message,
            Err(error) => {
                tracing::warn!("ignoring an unreadable message from the master: {error}");
                return None;
            }
        };
        match message {
            MasterMessage::Job(job) => {
                self.on_job(&job);
                None
            }
            MasterMessage::Accepted {
                job_id,
                hash,
                height,
            } => {
                self.stats.accepted += 1;
                tracing::info!("block {height} accepted: {hash} (job {job_id})");
                None
            }
            MasterMessage::Rejected { job_id, reason } => {
                self.stats.rejected += 1;
                match &job_id {
                    Some(job) => tracing::warn!("master rejected the block of job {job}: {reason}"),
                    None => tracing::warn!("master rejected a message: {reason}"),
                }
                // The threads stopped hashing the job once solved; if it is still the newest,
                // nothing else is coming to hash unless we ask.
                let current = self.current.as_ref().map(|work| work.job_id.as_str());
                (job_id.is_some() && job_id.as_deref() == current).then_some(MinerMessage::GetWork)
            }
        }
    }

    fn on_job(&mut self, job: &Job) {
        let work = match Assignment::from_job(self.id, job) {
            Ok(work) => Arc::new(work),
            Err(error) => {
                tracing::warn!("ignoring job {} from the master: {error}", job.job_id);
                return;
            }
        };
        if job.clean {
            self.live_jobs.clear();
        }
        if self.live_jobs.len() == LIVE_JOBS {
            self.live_jobs.pop_front();
        }
        self.live_jobs.push_back(job.job_id.clone());
        let first = self.current.is_none();
        tracing::debug!(
            "job {} for block {} (clean: {})",
            job.job_id,
            job.height,
            job.clean
        );
        self.current = Some(Arc::clone(&work));
        self.board.publish(Some(work));
        if first {
            tracing::info!("mining block {}", job.height);
        }
    }

    /// Handles a report from the threads; returns the message to send, if any.
    fn on_event(&mut self, event: Event) -> Option<MinerMessage> {
        match event {
            Event::Found {
                session,
                job_id,
                height,
                nonce,
            } => {
                if session != self.id || !self.live_jobs.contains(&job_id) {
                    tracing::debug!("dropping a solution for void job {job_id}");
                    return None;
                }
                self.stats.found += 1;
                tracing::info!("found block {height} (job {job_id}, nonce {nonce}); submitting");
                Some(MinerMessage::Submit { job_id, nonce })
            }
            Event::Exhausted { session, job_id } => {
                let current = self.current.as_ref().map(|work| work.job_id.as_str());
                if session != self.id || current != Some(job_id.as_str()) {
                    return None;
                }
                tracing::info!("searched every nonce of job {job_id}; asking for new work");
                Some(MinerMessage::GetWork)
            }
        }
    }

    fn print_status(&mut self) {
        let (hashes, at) = (self.board.hashes(), Instant::now());
        let (last_hashes, last_at) = std::mem::replace(&mut self.meter, (hashes, at));
        let seconds = at.duration_since(last_at).as_secs_f64().max(1e-3);
        let rate = (hashes - last_hashes) as f64 / seconds;
        let height = self
            .current
            .as_ref()
            .map_or("-".to_owned(), |work| work.height.to_string());
        tracing::info!(
            "status: {}, mining block {height}, {}",
            format_rate(rate),
            self.stats.totals()
        );
    }
}

/// A feed message as a JSON text frame.
fn frame(message: &MinerMessage) -> Message {
    Message::text(serde_json::to_string(message).expect("feed messages serialize"))
}

fn lost(reason: String) -> SessionEnd {
    SessionEnd::Lost { reason }
}

/// Sends `frame`, unless the miner is stopping or the master takes no data for `timeout`;
/// returns how the session ends if it must.
async fn deliver(
    stream: &mut FeedStream,
    frame: Message,
    shutdown: &mut (impl Future<Output = ()> + Unpin),
    timeout: Duration,
) -> Option<SessionEnd> {
    tokio::select! {
        () = shutdown => Some(SessionEnd::Shutdown),
        sent = tokio::time::timeout(timeout, stream.send(frame)) => match sent {
            Ok(Ok(())) => None,
            Ok(Err(error)) => Some(lost(error.to_string())),
            Err(_) => Some(lost(format!(
                "the master took no data for {:.1} s",
                timeout.as_secs_f64()
            ))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::miner::quick_timings;
    use crate::miner::work::tests::sample_header;
    use bbchain_core::Target;

    fn new_session<'a>(id: SessionId, board: &'a Board, stats: &'a mut Stats) -> Session<'a> {
        Session::new(id, ("me", None), board, stats, MinerTimings::default())
    }

    fn job_message(job_id: &str, clean: bool) -> String {
        let job = Job::new(job_id.into(), clean, 3, &sample_header(), &Target::MAX);
        serde_json::to_string(&MasterMessage::Job(job)).unwrap()
    }

    fn found(session: SessionId, job_id: &str) -> Event {
        Event::Found {
            session,
            job_id: job_id.into(),
            height: 3,
            nonce: 42,
        }
    }

    #[test]
    fn solutions_are_submitted_only_for_live_jobs_of_this_connection() {
        let board = Board::new();
        let mut stats = Stats::default();
        let mut session = new_session(2, &board, &mut stats);
        assert_eq!(session.on_master_message(&job_message("a", true)), None);
        assert_eq!(board.current().unwrap().job_id, "a");
        session.on_master_message(&job_message("b", false));
        assert_eq!(board.current().unwrap().job_id, "b");

        let submit = |job_id: &str| {
            Some(MinerMessage::Submit {
                job_id: job_id.into(),
                nonce: 42,
            })
        };
        assert_eq!(
            session.on_event(found(2, "a")),
            submit("a"),
            "a refresh keeps a alive"
        );
        assert_eq!(
            session.on_event(found(1, "b")),
            None,
            "another connection's job"
        );
        session.on_master_message(&job_message("c", true));
        assert_eq!(
            session.on_event(found(2, "b")),
            None,
            "voided by a clean job"
        );
        assert_eq!(session.on_event(found(2, "c")), submit("c"));
        assert_eq!(stats.found, 2);
    }

    #[test]
    fn a_dry_or_rejected_current_job_asks_for_work() {
        let board = Board::new();
        let mut stats = Stats::default();
        let mut session = new_session(1, &board, &mut stats);
        session.on_master_message(&job_message("a", true));
        session.on_master_message(&job_message("b", true));
        let exhausted = |job_id: &str| Event::Exhausted {
            session: 1,
            job_id: job_id.into(),
        };
        assert_eq!(session.on_event(exhausted("a")), None, "an old job ran dry");
        assert_eq!(
            session.on_event(exhausted("b")),
            Some(MinerMessage::GetWork)
        );

        let rejected = |job_id: &str| {
            serde_json::to_string(&MasterMessage::Rejected {
                job_id: Some(job_id.into()),
                reason: "stale job".into(),
            })
            .unwrap()
        };
        assert_eq!(session.on_master_message(&rejected("a")), None);
        assert_eq!(
            session.on_master_message(&rejected("b")),
            Some(MinerMessage::GetWork)
        );
        assert_eq!(session.on_master_message("{not json"), None);
        assert_eq!(stats.rejected, 2);
    }

    #[test]
    fn a_silent_master_is_pinged_then_given_up() {
        for timings in [MinerTimings::default(), quick_timings()] {
            let after = |quiet| Liveness::after(quiet, &timings);
            assert_eq!(after(Duration::ZERO), Liveness::Fine);
            assert_eq!(after(timings.quiet_ping), Liveness::Ping);
            assert_eq!(after(timings.quiet_limit), Liveness::GiveUp);
            // A ping is sent, and has a whole check period to be answered, before giving up.
            assert!(timings.liveness_every < timings.quiet_limit - timings.quiet_ping);
        }
        assert_eq!(MinerTimings::default().quiet_limit, Duration::from_secs(40));
    }

    #[test]
    fn a_malformed_job_leaves_the_current_work_alone() {
        let board = Board::new();
        let mut stats = Stats::default();
        let mut session = new_session(1, &board, &mut stats);
        session.on_master_message(&job_message("a", true));
        let broken =
            r#"{"type":"job","job_id":"x","clean":true,"height":1,"header":"00","target":"00"}"#;
        assert_eq!(session.on_master_message(broken), None);
        assert_eq!(board.current().unwrap().job_id, "a");
    }

    #[tokio::test]
    async fn a_master_that_stops_reading_cannot_block_sending_or_shutdown() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let nodes = vec![listener.local_addr().unwrap().to_string()];
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        let master = tokio::spawn(async move {
            let (socket, _) = listener.accept().await.unwrap();
            let _stream = tokio_tungstenite::accept_async(socket).await.unwrap();
            // Holds the connection open and never reads from it.
            let _ = released.await;
        });
        let (_, mut stream) = crate::miner::connect::connect_first(&nodes).await.unwrap();
        let big = || Message::binary(vec![0u8; 1 << 20]);

        let began = Instant::now();
        let end = loop {
            let timeout = quick_timings().send_timeout;
            if let Some(end) =
                deliver(&mut stream, big(), &mut std::future::pending(), timeout).await
            {
                break end;
            }
            assert!(
                began.elapsed() < Duration::from_secs(60),
                "the socket never filled"
            );
        };
        let SessionEnd::Lost { reason } = end else {
            panic!("expected a lost master, got {end:?}");
        };
        assert!(reason.contains("took no data"), "{reason}");

        let mut stopped = std::future::ready(());
        let stopping = tokio::time::timeout(
            Duration::from_millis(500),
            deliver(&mut stream, big(), &mut stopped, Duration::from_secs(10)),
        );
        let end = stopping
            .await
            .expect("shutdown is not held up by a full socket");
        assert!(matches!(end, Some(SessionEnd::Shutdown)));
        release.send(()).unwrap();
        master.await.unwrap();
    }
}
