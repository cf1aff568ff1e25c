//! The work feed `/ws/mine`: jobs out, solutions in (see `docs/protocol.md`).
//!
//! A connection task answers its miner (hello, `get_work`, submits), pings it and closes it; the
//! jobs of each new tip are written by the fan-out writers (`fanout`), which share the socket and
//! the miner with the task, so a new tip wakes a few writers rather than every connection's task.
//! A job fills in the connection's own coinbase (miner name + a process-wide unique extra nonce)
//! and folds it up the template's merkle branch (O(log n) hashes per miner), and its frame is
//! written straight into a string ([`job_frame`]) rather than through serde.

use crate::clock::unix_now;
use crate::fanout::{JobSource, Slot};
use crate::keepalive::WsKeepAlive;
use crate::node::{BlockTemplate, MinerGuard, MinerInfo, Node, SubmitError, SubmitOutcome};
use crate::state::{AppState, close_after_error, close_with, say_goodbye};
use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use bbchain_core::keys::PublicKey;
use bbchain_core::protocol::{MasterMessage, MinerMessage};
use bbchain_core::validation::check_proof_of_work;
use bbchain_core::{BlockHash, Coinbase, Header, address};
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::OwnedSemaphorePermit;

/// Jobs a connection remembers on the current tip: older ones are answered with "unknown or stale
/// job". With one refresh per `NodeConfig::refresh_delay` (1 s) this covers more than a block time.
const JOBS_KEPT: usize = 16;

/// Extra nonces are unique within the process; the start differs between runs.
static EXTRA_NONCE: AtomicU64 = AtomicU64::new(0);

fn next_extra_nonce() -> u64 {
    let _ = EXTRA_NONCE.compare_exchange(
        0,
        u64::from(unix_now()) << 24,
        Ordering::Relaxed,
        Ordering::Relaxed,
    );
    EXTRA_NONCE.fetch_add(1, Ordering::Relaxed)
}

/// `GET /ws/mine`. The connection's log lines carry its remote address, and its miner's name
/// after the hello.
pub async fn mine(
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    headers: axum::http::HeaderMap,
    extensions: axum::http::Extensions,
    State(app): State<AppState>,
) -> Response {
    let remote = extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|info| info.0.to_string())
        .unwrap_or_default();
    let span = tracing::info_span!("feed", remote = %remote, miner = tracing::field::Empty);
    app.upgrade(ws, &headers, &extensions, move |socket, app, permit| {
        tracing::Instrument::instrument(run(socket, app, permit), span)
    })
}

/// One job handed to this miner.
struct IssuedJob {
    id: String,
    template: Arc<BlockTemplate>,
    coinbase: Coinbase,
    header: Header,
}

/// A miner after its hello.
pub struct FeedMiner {
    name: String,
    /// Where its blocks' rewards go (none: it mines for nothing).
    payout: Option<PublicKey>,
    jobs: VecDeque<IssuedJob>,
    /// The tip the latest job builds on: a job on another tip is `clean`.
    tip: Option<BlockHash>,
    _guard: MinerGuard,
}

impl FeedMiner {
    /// A new job from `template`, forgetting older jobs when the tip moved.
    fn new_job(&mut self, template: Arc<BlockTemplate>) -> String {
        let clean = self.tip != Some(template.prev_hash);
        if clean {
            self.jobs.clear();
        }
        self.tip = Some(template.prev_hash);
        let extra_nonce = next_extra_nonce();
        let coinbase = template.coinbase(&self.name, extra_nonce, self.payout.as_ref());
        let header = template.header(&coinbase, unix_now());
        let id = format!("{extra_nonce:x}");
        let frame = job_frame(&id, clean, template.height, &header, &template.target_hex);
        if self.jobs.len() == JOBS_KEPT {
            self.jobs.pop_front();
        }
        self.jobs.push_back(IssuedJob {
            id,
            template,
            coinbase,
            header,
        });
        frame
    }
}
impl JobSource for FeedMiner {
    fn job_for(&mut self, template: &Arc<BlockTemplate>) -> Option<String> {
        let latest = self.jobs.back().map(|job| &job.template);
        if latest.is_some_and(|latest| Arc::ptr_eq(latest, template)) {
            return None;
        }
        Some(self.new_job(template.clone()))
    }
}

/// How every `job` frame starts (so the loop can tell a job from other replies for `/metrics`).
const JOB_FRAME_START: &str = r#"{"type":"job","#;

/// The `job` frame for `header`, exactly as `serde_json` writes `MasterMessage::Job` (a test
/// holds them equal), built in one string: every connection sends one of these per new tip.
fn job_frame(id: &str, clean: bool, height: u32, header: &Header, target_hex: &str) -> String {
    use std::fmt::Write;
    let header = Header {
        nonce: 0,
        ..*header
    };
    let mut header_hex = [0u8; 2 * Header::SIZE];
    hex::encode_to_slice(header.to_bytes(), &mut header_hex).expect("twice the header size");
    let header_hex = std::str::from_utf8(&header_hex).expect("hex is ASCII");
    let mut text = String::with_capacity(128 + id.len() + header_hex.len() + target_hex.len());
    let _ = write!(
        text,
        r#"{JOB_FRAME_START}"job_id":"{id}","clean":{clean},"height":{height},"header":"{header_hex}","target":"{target_hex}"}}"#
    );
    text
}

async fn run(socket: WebSocket, app: AppState, _permit: OwnedSemaphorePermit) {
    let node = app.node.clone();
    let mut templates = node.watch_template();
    // Shared with a fan-out writer once the miner says hello: the writer writes each new
    // template's job into the socket itself, and this task reads, pings, answers and finishes what
    // the writer could not write at once (see `fanout`).
    let slot = Slot::<FeedMiner>::new(socket);
    let mut socket = slot.socket();
    let mut joined = false;
    // A socket that never says hello holds a connection slot for nothing: it gets this long.
    let hello_by = tokio::time::sleep(node.limits().hello_timeout);
    tokio::pin!(hello_by);
    let mut alive = WsKeepAlive::new(node.limits());
    let send_timeout = node.limits().ws_send_timeout;
    // Made once: a fresh `cancelled()` per turn of the loop would lock the token's waiter list
    // twice per job, on every connection at once.
    let stopping = app.shutdown.cancelled();
    tokio::pin!(stopping);
    loop {
        let reply = tokio::select! {
            biased;
            () = slot.poked() => {
                if let Err(err) = slot.finish(send_timeout).await {
                    tracing::debug!("dropping the feed socket: {err}");
                    break;
                }
                continue;
            }
            () = &mut hello_by, if !joined => {
                close_with(&mut socket, 1008, "no hello in time").await;
                break;
            }
            message = alive.recv(&mut socket) => match message {
                Some(Ok(Message::Text(text))) => handle(&node, &slot, text.as_str()).await,
                Some(Ok(Message::Binary(_))) => Reply::Text(rejected(None, "binary messages are not supported; send JSON text")),
                Some(Err(err)) => {
                    close_after_error(&mut socket, &err).await;
                    break;
                }
                Some(Ok(Message::Close(_))) | None => break,
                Some(Ok(_)) => continue,
            },
            () = &mut stopping => {
                say_goodbye(&mut socket).await;
                break;
            }
        };
        let sent = match reply {
            Reply::Text(text) => alive.send(&mut socket, Message::Text(text.into())).await,
            Reply::Job => {
                let mut is_job = false;
                let build = |miner: &mut FeedMiner| {
                    let frame = job_unless_storage_fails(&node, miner, &mut templates);
                    is_job = frame.starts_with(JOB_FRAME_START);
                    frame
                };
                match slot.send_built(send_timeout, build).await {
                    Ok(()) => {
                        if is_job {
                            crate::metrics::job_sent(None);
                        }
                        true
                    }
                    Err(err) => {
                        tracing::debug!("dropping the feed socket: {err}");
                        false
                    }
                }
            }
        };
        slot.hold_jobs(false);
        if !sent {
            break;
        }
        if !joined && slot.with_miner(|miner| miner.is_some()) {
            joined = true;
            app.feed_fanout
                .join(slot.clone(), &templates, &app.shutdown, &app.tasks);
            // A template published after the hello's job and before the join reached this miner
            // through neither path: offered now (a no-op when the job is out already).
            let latest = templates.borrow().clone();
            slot.offer(&latest);
        }
    }
    // The socket closes now, and the miner leaves the count, whatever the writer still holds.
    slot.close();
}

/// What to answer a miner's message with.
enum Reply {
    Text(String),
    /// A new job, built the moment the socket takes it ([`Slot::send_built`]).
    Job,
}

/// A message as the text frame that carries it.
fn frame(message: &MasterMessage) -> String {
    serde_json::to_string(message).expect("messages serialize")
}

fn rejected(job_id: Option<String>, reason: impl Into<String>) -> String {
    frame(&MasterMessage::Rejected {
        job_id,
        reason: reason.into(),
    })
}

/// Answers one message from the miner.
async fn handle(node: &Node, slot: &Slot<FeedMiner>, text: &str) -> Reply {
    let message: MinerMessage = match serde_json::from_str(text) {
        Ok(message) => message,
        Err(err) => return Reply::Text(rejected(None, format!("malformed message: {err}"))),
    };
    match message {
        MinerMessage::Submit { job_id, nonce } => {
            // The job's parts are copied out: the slot is not held across the block's check.
            let job = slot.with_miner(|miner| {
                miner.as_ref().map(|miner| {
                    miner
                        .jobs
                        .iter()
                        .find(|job| job.id == job_id)
                        .map(|job| (job.template.clone(), job.coinbase.clone(), job.header))
                })
            });
            let Some(job) = job else {
                return Reply::Text(rejected(None, "say hello first"));
            };
            let Some(job) = job else {
                crate::metrics::submit("stale");
                return Reply::Text(rejected(Some(job_id), "unknown or stale job"));
            };
            // The finder hears `accepted` before the job on its block (`run` lets go after the
            // answer is out).
            slot.hold_jobs(true);
            let (result, answer) = submit(node, job, job_id, nonce).await;
            crate::metrics::submit(result);
            Reply::Text(answer)
        }
        message => slot.with_miner(|session| hello_or_get_work(node, session, message)),
    }
}

/// Answers `hello` and `get_work`.
fn hello_or_get_work(node: &Node, session: &mut Option<FeedMiner>, message: MinerMessage) -> Reply {
    let max_name = node.params().max_miner_name_bytes;
    match (message, session.as_mut()) {
        (MinerMessage::Hello { .. }, Some(_)) => Reply::Text(rejected(None, "already said hello")),
        (
            MinerMessage::Hello {
                name,
                agent,
                address,
            },
            None,
        ) => {
            if name.is_empty() || name.len() > max_name {
                return Reply::Text(rejected(
                    None,
                    format!("name must be 1 to {max_name} bytes"),
                ));
            }
            let agent = agent.unwrap_or_default();
            if agent.len() > max_name {
                return Reply::Text(rejected(
                    None,
                    format!("agent must be at most {max_name} bytes"),
                ));
            }
            let payout = match address.map(|text| address::decode(&text, node.params())) {
                None => None,
                Some(Ok(key)) => Some(key),
                Some(Err(err)) => {
                    return Reply::Text(rejected(None, format!("bad address: {err}")));
                }
            };
            tracing::Span::current().record("miner", name.as_str());
            tracing::debug!("miner said hello");
            let guard = node.register_miner(MinerInfo {
                name: name.clone(),
                agent,
            });
            *session = Some(FeedMiner {
                name,
                payout,
                jobs: VecDeque::new(),
                tip: None,
                _guard: guard,
            });
            Reply::Job
        }
        (_, None) => Reply::Text(rejected(None, "say hello first")),
        (MinerMessage::GetWork, Some(_)) => Reply::Job,
        (MinerMessage::Submit { .. }, Some(_)) => unreachable!("submits are answered by `handle`"),
    }
}

/// A new job, or, while the database takes no writes, a `rejected` that says to wait: a block
/// found now could not be stored. The next template (published once storage is back) brings the
/// job.
fn job_unless_storage_fails(
    node: &Node,
    miner: &mut FeedMiner,
    templates: &mut tokio::sync::watch::Receiver<Arc<BlockTemplate>>,
) -> String {
    let template = templates.borrow_and_update().clone();
    let storage = node.storage();
    if !storage.is_ok() {
        return rejected(
            None,
            format!("no work while storage is {storage}; wait for the next job"),
        );
    }
    miner.new_job(template)
}

/// Verifies a solution and hands the block to the chain writer; answers with the result's name
/// for `/metrics` and the message for the miner.
async fn submit(
    node: &Node,
    (template, coinbase, header): (Arc<BlockTemplate>, Coinbase, Header),
    job_id: String,
    nonce: u32,
) -> (&'static str, String) {
    let header = Header { nonce, ..header };
    // Proof of work first: a wrong nonce costs two hashes, not a copy of the block's entries.
    if let Err(err) = check_proof_of_work(&header, node.params()) {
        return ("bad_pow", rejected(Some(job_id), err.to_string()));
    }
    let block = template.block(coinbase, header);
    match node.submit_block(block).await {
        Ok(SubmitOutcome::Connected { height, hash }) => {
            tracing::info!("found block {hash} at height {height}");
            let accepted = frame(&MasterMessage::Accepted {
                job_id,
                hash: hash.to_string(),
                height,
            });
            ("accepted", accepted)
        }
        Ok(SubmitOutcome::SideBranch { .. }) => (
            "side_branch",
            rejected(
                Some(job_id),
                "stale job: the block is stored on a side branch",
            ),
        ),
        Ok(SubmitOutcome::Duplicate { .. }) => {
            ("duplicate", rejected(Some(job_id), "duplicate block"))
        }
        Err(SubmitError::Invalid(err)) => ("invalid", rejected(Some(job_id), err.to_string())),
        Err(err) => ("error", rejected(Some(job_id), err.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bbchain_core::protocol::Job;
    use bbchain_core::{CompactTarget, Target, TxMerkleNode};

    #[test]
    fn a_job_frame_is_what_serde_writes_for_the_job() {
        let header = Header {
            version: 1,
            prev_hash: BlockHash::from_byte_array([7; 32]),
            merkle_root: TxMerkleNode::from_byte_array([9; 32]),
            time: 1_800_000_000,
            bits: CompactTarget(0x207fffff),
            nonce: 1234,
        };
        let target = Target::from_compact(header.bits).expect("bits");
        for (id, clean, height) in [("6a2f00001", true, 42), ("0", false, 0)] {
            let job = Job::new(id.into(), clean, height, &header, &target);
            assert_eq!(
                job_frame(id, clean, height, &header, &target.to_hex()),
                frame(&MasterMessage::Job(job)),
            );
        }
    }
}
