//! Staying connected to a master: mine over the first of `--nodes` that answers, and come back
//! with growing pauses when none does or the connection drops.

use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::Context as _;

use super::connect::connect_first;
use super::hashers::Hashers;
use super::paths;
use super::payout::{Payout, PayoutError};
use super::session::{Session, SessionEnd, Stats};
use super::settings::MinerTimings;
use crate::backoff::Backoff;

/// A session that lasted this long was a working connection: the next trouble starts with a short
/// pause again. Shorter ones (a master that sends a job and drops us) keep the pauses growing.
const STABLE_SESSION: Duration = Duration::from_secs(30);

/// Mines for whichever master of `nodes` is reachable until `shutdown` completes.
pub async fn mine(
    nodes: &[String],
    name: &str,
    payout: &Payout,
    threads: usize,
    timings: MinerTimings,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let (events_tx, mut events) = tokio::sync::mpsc::unbounded_channel();
    let choice = tokio::task::spawn_blocking(|| paths::choose(paths::START_TRIAL))
        .await
        .context("measuring the scan paths")?;
    tracing::info!(
        "mining on the {} path (measured: {})",
        choice.chosen,
        paths::summary(&choice)
    );
    let hashers = Hashers::spawn(threads, choice.chosen, events_tx)
        .with_context(|| format!("starting {threads} mining threads"))?;
    let mut stats = Stats::default();
    let mut backoff = Backoff::new(timings.backoff_min, timings.backoff_max);
    let mut session_id = 0;
    let mut paying = None;
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
                let address = match payout.address_for(node).await {
                    Ok(address) => address,
                    Err(PayoutError::Fatal(err)) => return Err(err),
                    Err(PayoutError::Retry(reason)) => {
                        let delay = backoff.next_delay();
                        tracing::warn!(
                            "master {node}: {reason}; reconnecting in {:.1} s",
                            delay.as_secs_f64()
                        );
                        tokio::select! {
                            () = &mut shutdown => break,
                            () = tokio::time::sleep(delay) => continue,
                        }
                    }
                };
                if address.is_some() && paying != address {
                    tracing::info!(
                        "found blocks pay {}",
                        address.as_deref().unwrap_or_default()
                    );
                    paying.clone_from(&address);
                }
                let session = Session::new(
                    session_id,
                    (name, address.as_deref()),
                    hashers.board(),
                    &mut stats,
                    timings,
                );
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
mod fake_master_tests {
    use super::*;
    use crate::miner::quick_timings;
    use crate::miner::work::tests::sample_header;
    use bbchain_core::Target;
    use bbchain_core::protocol::{Job, MasterMessage, MinerMessage};
    use futures_util::{SinkExt as _, StreamExt as _};
    use tokio::net::TcpListener;
    use tokio_tungstenite::tungstenite::Message;

    type ServerStream = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

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
        let MinerMessage::Hello { name, agent, .. } = receive(&mut stream).await else {
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
            mine(
                &nodes,
                "tester",
                &Payout::Nobody,
                2,
                quick_timings(),
                shutdown,
            )
            .await
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
            mine(
                &nodes,
                "tester",
                &Payout::Nobody,
                1,
                quick_timings(),
                async {
                    let _ = stopped.await;
                },
            )
            .await
        });
        let accepted_at = tokio::time::timeout(Duration::from_secs(20), master)
            .await
            .expect("the miner kept coming back");
        let first_gap = accepted_at[1] - accepted_at[0];
        let second_gap = accepted_at[2] - accepted_at[1];
        let backoff_min = quick_timings().backoff_min;
        assert!(first_gap >= backoff_min, "reconnected after {first_gap:?}");
        assert!(
            second_gap >= backoff_min * 2,
            "reconnected after {second_gap:?}"
        );
        stop.send(()).unwrap();
        miner.await.unwrap().unwrap();
    }
}

#[cfg(test)]
mod silence_tests {
    use super::*;
    use crate::miner::quick_timings;
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
            mine(
                &nodes,
                "tester",
                &Payout::Nobody,
                1,
                quick_timings(),
                async {
                    let _ = stopped.await;
                },
            )
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
    use crate::miner::quick_timings;
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
            mine(&nodes, "late", &Payout::Nobody, 1, quick_timings(), async {
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
