//! `--add DATA [--wait | --wait-timeout SECS]`: checks what it can before sending, prints the id,
//! and while waiting says so, with how many miners the master has.

use crate::client::{self, error_text};
use crate::miner::plural;
use crate::node::check_data;
use anyhow::{Context, bail};
use bbchain_core::ChainParams;
use serde_json::json;
use std::io::Write;
use std::time::{Duration, Instant};

/// Exit status when `--wait-timeout` passes before the data is in a block.
pub const EXIT_WAIT_TIMED_OUT: u8 = 3;

/// How often the data's status is asked for while waiting.
const POLL_EVERY: Duration = Duration::from_millis(500);
/// How often the master's miner count is looked at while waiting.
const MINERS_EVERY: Duration = Duration::from_secs(5);

/// Whether to wait for the block.
#[derive(Debug, Clone, Copy)]
pub enum Wait {
    No,
    Forever,
    For(Duration),
}

/// `--wait-timeout` passed; the exit status is [`EXIT_WAIT_TIMED_OUT`].
#[derive(Debug, thiserror::Error)]
#[error("the {0} is not in a block after {1} s; it stays queued at {2}")]
pub struct WaitTimedOut(&'static str, u64, String);

/// The rules of the known chain with the largest entries: the client cannot know the master's
/// chain before asking, and the master checks its own again.
fn loosest_chain() -> ChainParams {
    [ChainParams::main(), ChainParams::dev()]
        .into_iter()
        .max_by_key(|params| params.max_entry_bytes)
        .expect("known chains")
}

/// The master's rule, checked here so a bad entry fails without a round trip.
pub fn check(data: &str) -> anyhow::Result<()> {
    Ok(check_data(data, &loosest_chain())?)
}

/// Sends `data` to `node`, prints its id, and waits for its block if asked.
pub async fn run(node: &str, data: &str, wait: Wait) -> anyhow::Result<()> {
    check(data)?;
    let (status, answer) =
        client::call(node, "POST", "/api/data", Some(&json!({"data": data}))).await?;
    if status != 202 {
        bail!(
            "{node} refused the data ({status}): {}",
            error_text(&answer)
        );
    }
    let id = answer["id"]
        .as_str()
        .context("no id in the answer")?
        .to_string();
    println!("{id}");
    std::io::stdout().flush()?;
    if let Some(confirmed) = wait_for_block(node, &format!("/api/data/{id}"), "data", wait).await? {
        print_block(&confirmed);
    }
    Ok(())
}

/// Prints where a confirmed data entry or transaction is (`GET /api/data/{id}`'s or
/// `GET /api/tx/{txid}`'s answer).
pub fn print_block(confirmed: &serde_json::Value) {
    println!(
        "in block {} at height {}",
        confirmed["block"].as_str().unwrap_or("?"),
        confirmed["height"]
    );
}

/// Polls `path` (an entry's or a transaction's status) until it is confirmed and returns that
/// answer (`None` when not asked to wait). While waiting it says on stderr how many miners the
/// master has; `what` names the thing waited for in the timeout error.
pub async fn wait_for_block(
    node: &str,
    path: &str,
    what: &'static str,
    wait: Wait,
) -> anyhow::Result<Option<serde_json::Value>> {
    let limit = match wait {
        Wait::No => return Ok(None),
        Wait::Forever => None,
        Wait::For(limit) => Some(limit),
    };
    let started = Instant::now();
    let mut miners_said: Option<(u64, u64)> = None;
    let mut miners_due = started;
    loop {
        let (status, answer) = client::call(node, "GET", path, None).await?;
        if status != 200 {
            bail!("{node} answered {status}: {}", error_text(&answer));
        }
        if answer["status"] == "confirmed" {
            return Ok(Some(answer));
        }
        if Instant::now() >= miners_due {
            miners_due += MINERS_EVERY;
            let workers = workers(node).await?;
            if miners_said != Some(workers) {
                miners_said = Some(workers);
                eprintln!("{}", waiting_line(node, workers));
            }
        }
        let mut pause = POLL_EVERY;
        if let Some(limit) = limit {
            let left = limit.saturating_sub(started.elapsed());
            if left.is_zero() {
                return Err(WaitTimedOut(what, limit.as_secs(), node.to_string()).into());
            }
            pause = pause.min(left);
        }
        tokio::time::sleep(pause).await;
    }
}

/// The master's miners and linked masters.
async fn workers(node: &str) -> anyhow::Result<(u64, u64)> {
    let (status, answer) = client::call(node, "GET", "/api/status", None).await?;
    if status != 200 {
        bail!("{node} answered {status}: {}", error_text(&answer));
    }
    let number = |key: &str| answer[key].as_u64().unwrap_or(0);
    Ok((number("miners"), number("peers")))
}

/// What the wait is up against, for stderr.
fn waiting_line(node: &str, (miners, peers): (u64, u64)) -> String {
    let peers = match peers {
        0 => String::new(),
        n => format!(" and {}", plural(n as usize, "linked master")),
    };
    match miners {
        0 => format!(
            "waiting for a block: {node} has no miner{peers} (start one: bbchain --start-miner --nodes {node})"
        ),
        n => format!(
            "waiting for a block: {node} has {}{peers}",
            plural(n as usize, "miner")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_checks_say_what_the_master_says() {
        let max = loosest_chain().max_entry_bytes;
        assert_eq!(max, ChainParams::main().max_entry_bytes);
        assert!(check("Some data").is_ok());
        assert!(check(&"x".repeat(max)).is_ok());
        assert_eq!(check("").unwrap_err().to_string(), "data is empty");
        for blank in [" ", "\t\n", "\u{feff}\u{a0}"] {
            let err = check(blank).unwrap_err();
            assert_eq!(err.to_string(), "data is only whitespace");
        }
        let err = check(&"x".repeat(70_000)).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("data is 70000 bytes, more than the {max} allowed")
        );
    }

    #[test]
    fn the_waiting_line_counts_miners_and_says_what_to_do_without_any() {
        let line = waiting_line("127.0.0.1:8000", (0, 0));
        assert!(line.contains("no miner") && line.contains("--start-miner --nodes 127.0.0.1:8000"));
        assert_eq!(
            waiting_line("h:1", (2, 1)),
            "waiting for a block: h:1 has 2 miners and 1 linked master"
        );
    }
}
