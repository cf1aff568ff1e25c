//! Staying connected to a master: try the `--nodes` in order, take the first that answers, and come
//! back with growing pauses when none does or the connection drops.

use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::hashers::Hashers;
use super::session::{Session, SessionEnd, Stats};

/// A connection to a master's work feed.
pub type FeedStream = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long one master gets to accept the connection before the next is tried.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Feed messages are a few hundred bytes; anything far larger is not from a sane master.
const MAX_MESSAGE_BYTES: usize = 64 * 1024;
/// First and longest pause between rounds of connection attempts.
const BACKOFF_MIN: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(8);
/// A session that lasted this long was a working connection: the next trouble starts with a short
/// pause again. Shorter ones (a master that sends a job and drops us) keep the pauses growing.
const STABLE_SESSION: Duration = Duration::from_secs(30);

/// The work feed address of a `host:port` master.
pub fn feed_url(node: &str) -> String {
    format!("ws://{node}/ws/mine")
}

/// Connects to the first of `nodes` that accepts, in order, and says which one it is; on failure
/// it returns why each refused.
pub async fn connect_first(nodes: &[String]) -> Result<(usize, FeedStream), Vec<String>> {
    let mut errors = Vec::with_capacity(nodes.len());
    for (index, node) in nodes.iter().enumerate() {
        match connect(node).await {
            Ok(stream) => return Ok((index, stream)),
            Err(error) => errors.push(format!("{node}: {error}")),
        }
    }
    Err(errors)
}

async fn connect(node: &str) -> Result<FeedStream, String> {
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE_BYTES))
        .max_frame_size(Some(MAX_MESSAGE_BYTES));
    let attempt = tokio_tungstenite::connect_async_with_config(feed_url(node), Some(config), true);
    match tokio::time::timeout(CONNECT_TIMEOUT, attempt).await {
        Ok(Ok((stream, _response))) => Ok(stream),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err(format!("no answer within {} s", CONNECT_TIMEOUT.as_secs())),
    }
}

/// Pauses that double from [`BACKOFF_MIN`] up to [`BACKOFF_MAX`].
#[derive(Debug)]
pub struct Backoff {
    next: Duration,
}

impl Backoff {
    pub fn new() -> Backoff {
        Backoff { next: BACKOFF_MIN }
    }

    /// The pause to take now; the next one is longer.
    pub fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (self.next * 2).min(BACKOFF_MAX);
        delay
    }

    /// A connection worked: the next trouble starts with a short pause again.
    pub fn reset(&mut self) {
        self.next = BACKOFF_MIN;
    }
}

/// Mines for whichever master of `nodes` is reachable until `shutdown` completes.
pub async fn mine(
    nodes: &[String],
    name: &str,
    threads: usize,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let (events_tx, mut events) = tokio::sync::mpsc::unbounded_channel();
    let hashers = Hashers::spawn(threads, events_tx)
        .with_context(|| format!("starting {threads} mining threads"))?;
    let mut stats = Stats::default();
    let mut backoff = Backoff::new();
    let mut session_id = 0;
    tokio::pin!(shutdown);
    loop {
        let attempt = tokio::select! {
            () = &mut shutdown => break,
            attempt = connect_first(nodes) => attempt,
        };
        let pause = match attempt {
            Ok((index, stream)) => {
                session_id += 1;
                let node = &nodes[index];
                tracing::info!("connected to master {node}");
                let session = Session::new(session_id, name, hashers.board(), &mut stats);
                let started = Instant::now();
                let end = session.run(stream, &mut events, &mut shutdown).await;
                // Job ids mean nothing to another master: stop hashing them.
                hashers.board().publish(None);
                match end {
                    SessionEnd::Shutdown => break,
                    SessionEnd::Lost { reason } => {
                        if started.elapsed() >= STABLE_SESSION {
                            backoff.reset();
                        }
                        let delay = backoff.next_delay();
                        tracing::warn!(
                            "lost master {node}: {reason}; reconnecting in {:.1} s",
                            delay.as_secs_f64()
                        );
                        delay
                    }
                }
            }
            Err(errors) => {
                let delay = backoff.next_delay();
                tracing::warn!(
                    "no master reachable ({}); retrying in {:.1} s",
                    errors.join("; "),
                    delay.as_secs_f64()
                );
                delay
            }
        };
        tokio::select! {
            () = &mut shutdown => break,
            () = tokio::time::sleep(pause) => {}
        }
    }
    // Joining waits for each thread's current batch: milliseconds.
    tokio::task::spawn_blocking(move || drop(hashers)).await?;
    tracing::info!("miner stopped: {}", stats.totals());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    /// A listener that accepts WebSocket upgrades and then holds each connection open.
    async fn fake_master() -> (String, tokio::task::JoinHandle<usize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let server = tokio::spawn(async move {
            let (socket, _) = listener.accept().await.unwrap();
            let _stream = tokio_tungstenite::accept_async(socket).await.unwrap();
            1
        });
        (addr, server)
    }

    /// An address nobody listens on.
    async fn dead_address() -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap().to_string()
    }

    #[tokio::test]
    async fn the_first_reachable_master_in_order_wins() {
        let dead = dead_address().await;
        let (first, first_server) = fake_master().await;
        let (second, second_server) = fake_master().await;

        let nodes = vec![dead.clone(), first, second];
        let (index, _stream) = connect_first(&nodes).await.unwrap();
        assert_eq!(
            index, 1,
            "skips the dead master, prefers the earlier live one"
        );
        assert_eq!(first_server.await.unwrap(), 1);
        assert!(!second_server.is_finished());
        second_server.abort();
    }

    #[tokio::test]
    async fn every_refusal_is_explained() {
        let nodes = vec![dead_address().await, dead_address().await];
        let errors = connect_first(&nodes).await.unwrap_err();
        assert_eq!(errors.len(), 2);
        assert!(errors[0].starts_with(&nodes[0]));
        assert!(errors[1].starts_with(&nodes[1]));
    }

    #[test]
    fn backoff_doubles_up_to_a_ceiling_and_resets() {
        let mut backoff = Backoff::new();
        let delays: Vec<Duration> = (0..6).map(|_| backoff.next_delay()).collect();
        assert_eq!(delays[0], BACKOFF_MIN);
        assert_eq!(delays[1], BACKOFF_MIN * 2);
        assert_eq!(*delays.last().unwrap(), BACKOFF_MAX);
        backoff.reset();
        assert_eq!(backoff.next_delay(), BACKOFF_MIN);
    }

    #[test]
    fn the_feed_lives_at_ws_mine() {
        assert_eq!(feed_url("127.0.0.1:8000"), "ws://127.0.0.1:8000/ws/mine");
    }
}

#[cfg(test)]
mod fake_master_tests {
    use super::*;
    use crate::miner::work::tests::sample_header;
    use bbchain_core::Target;
    use bbchain_core::protocol::{Job, MasterMessage, MinerMessage};
    use futures_util::{SinkExt as _, StreamExt as _};
    use tokio::net::TcpListener;
    use tokio_tungstenite::tungstenite::Message;

    type ServerStream = WebSocketStream<TcpStream>;

    async fn receive(stream: &mut ServerStream) -> MinerMessage {
        loop {
            match stream.next().await.unwrap().unwrap() {
                Message::Text(text) => return serde_json::from_str(&text).unwrap(),
                Message::Close(_) => panic!("the miner closed the connection"),
                _ => {}
            }
        }
    }

    async fn send_job(stream: &mut ServerStream, job_id: &str, clean: bool, target: &Target) {
        let job = Job::new(job_id.into(), clean, 1, &sample_header(), target);
        let text = serde_json::to_string(&MasterMessage::Job(job)).unwrap();
        stream.send(Message::text(text)).await.unwrap();
    }

    /// Accepts the miner's next connection and checks its hello.
    async fn accept_miner(listener: &TcpListener) -> ServerStream {
        let (socket, _) = listener.accept().await.unwrap();
        let mut stream = tokio_tungstenite::accept_async(socket).await.unwrap();
        let MinerMessage::Hello { name, agent } = receive(&mut stream).await else {
            panic!("the miner must say hello first");
        };
        assert_eq!(name, "tester");
        assert_eq!(agent.as_deref(), Some(crate::miner::AGENT));
        stream
    }

    /// Expects a submit for `job_id` whose nonce really meets `target`.
    async fn expect_solution(stream: &mut ServerStream, job_id: &str, target: &Target) {
        let MinerMessage::Submit { job_id: got, nonce } = receive(stream).await else {
            panic!("expected a submit");
        };
        assert_eq!(got, job_id);
        let header = bbchain_core::Header {
            nonce,
            ..sample_header()
        };
        assert!(target.is_met_by(&header.block_hash()));
    }

    #[tokio::test]
    async fn mines_switches_jobs_and_comes_back_after_the_master_drops() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let nodes = vec![listener.local_addr().unwrap().to_string()];
        let mut easy = [0xff; 32];
        easy[0] = 0;
        let easy = Target::from_be_bytes(easy).expect("non-zero");
        let impossible = Target::ONE;

        let master = async move {
            let mut stream = accept_miner(&listener).await;
            send_job(&mut stream, "1", true, &easy).await;
            expect_solution(&mut stream, "1", &easy).await;
            let accepted = MasterMessage::Accepted {
                job_id: "1".into(),
                hash: "00".repeat(32),
                height: 1,
            };
            let text = serde_json::to_string(&accepted).unwrap();
            stream.send(Message::text(text)).await.unwrap();
            drop(stream); // the master goes away

            let mut stream = accept_miner(&listener).await;
            send_job(&mut stream, "1", true, &impossible).await;
            tokio::time::sleep(Duration::from_millis(100)).await;
            send_job(&mut stream, "2", true, &easy).await;
            expect_solution(&mut stream, "2", &easy).await;
        };

        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let miner = tokio::spawn(async move {
            let shutdown = async {
                let _ = stopped.await;
            };
            mine(&nodes, "tester", 2, shutdown).await
        });
        tokio::time::timeout(Duration::from_secs(30), master)
            .await
            .expect("the miner mined, reconnected and switched jobs in time");
        stop.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(10), miner)
            .await
            .expect("the miner stops promptly")
            .unwrap()
            .unwrap();
    }
    #[tokio::test]
    async fn a_master_that_drops_after_each_job_is_retried_with_growing_pauses() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let nodes = vec![listener.local_addr().unwrap().to_string()];
        let impossible = Target::ONE;
        let master = async move {
            let mut accepted_at = Vec::new();
            for _ in 0..3 {
                let mut stream = accept_miner(&listener).await;
                accepted_at.push(Instant::now());
                send_job(&mut stream, "1", true, &impossible).await;
                drop(stream);
            }
            accepted_at
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let miner = tokio::spawn(async move {
            mine(&nodes, "tester", 1, async {
                let _ = stopped.await;
            })
            .await
        });
        let accepted_at = tokio::time::timeout(Duration::from_secs(20), master)
            .await
            .expect("the miner kept coming back");
        let first_gap = accepted_at[1] - accepted_at[0];
        let second_gap = accepted_at[2] - accepted_at[1];
        assert!(first_gap >= BACKOFF_MIN, "reconnected after {first_gap:?}");
        assert!(
            second_gap >= BACKOFF_MIN * 2,
            "reconnected after {second_gap:?}"
        );
        stop.send(()).unwrap();
        miner.await.unwrap().unwrap();
    }
}

#[cfg(test)]
mod silence_tests {
    use super::*;
    use bbchain_core::protocol::MinerMessage;
    use futures_util::StreamExt as _;
    use tokio::net::TcpListener;

    #[tokio::test]
    async fn a_silent_master_is_left_for_the_next_one() {
        let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let live = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let nodes = vec![
            silent.local_addr().unwrap().to_string(),
            live.local_addr().unwrap().to_string(),
        ];
        let masters = async move {
            let (socket, _) = silent.accept().await.unwrap();
            let mut stream = tokio_tungstenite::accept_async(socket).await.unwrap();
            let hello = stream.next().await.unwrap().unwrap();
            assert!(hello.is_text());
            // From here on the first master neither reads nor writes (a vanished host), and its
            // listener takes connections it never answers.
            let (socket, _) = live.accept().await.unwrap();
            let mut stream_live = tokio_tungstenite::accept_async(socket).await.unwrap();
            let text = stream_live
                .next()
                .await
                .unwrap()
                .unwrap()
                .into_text()
                .unwrap();
            let hello: MinerMessage = serde_json::from_str(&text).unwrap();
            assert!(matches!(hello, MinerMessage::Hello { .. }));
            drop(stream);
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let miner = tokio::spawn(async move {
            mine(&nodes, "tester", 1, async {
                let _ = stopped.await;
            })
            .await
        });
        tokio::time::timeout(Duration::from_secs(20), masters)
            .await
            .expect("the miner gave up on the silent master and moved on");
        stop.send(()).unwrap();
        miner.await.unwrap().unwrap();
    }
}

#[cfg(test)]
mod waiting_tests {
    use super::*;
    use tokio::net::TcpListener;

    #[tokio::test]
    async fn a_master_down_at_start_is_waited_for() {
        let addr = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap()
            .local_addr()
            .unwrap();
        let nodes = vec![addr.to_string()];
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let miner = tokio::spawn(async move {
            mine(&nodes, "late", 1, async {
                let _ = stopped.await;
            })
            .await
        });
        tokio::time::sleep(Duration::from_millis(700)).await;
        assert!(!miner.is_finished(), "no master yet is not an error");

        let listener = TcpListener::bind(addr).await.unwrap();
        let accepted = tokio::time::timeout(Duration::from_secs(15), listener.accept()).await;
        assert!(accepted.is_ok(), "the miner connects once the master is up");
        stop.send(()).unwrap();
        miner.await.unwrap().unwrap();
    }
}
