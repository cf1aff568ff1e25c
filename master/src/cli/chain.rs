//! `--print`: the chain of a master, newest block first, with each block's reward and transaction
//! count, and its data escaped so no text can move the cursor or colour the terminal.
//!
//! `--print --json` writes JSON lines instead: one object per block (the fields of
//! `GET /api/blocks`, plus `data`, the texts of its entries), newest first. Lines, not one
//! document, so a script can stop reading early (`| head -n 10`) or stream a long chain.

use crate::client::{self, error_text};
use anyhow::bail;
use bbchain_core::amount::Amount;

/// Prints the chain of `node`, newest block first: for people (each data entry escaped) or, with
/// `json`, as JSON lines.
pub async fn print(node: &str, json: bool) -> anyhow::Result<()> {
    let mut before: Option<u64> = None;
    let mut out = std::io::stdout().lock();
    use std::io::Write;
    loop {
        let path = match before {
            Some(height) => format!("/api/blocks?before={height}&limit=100"),
            None => "/api/blocks?limit=100".to_string(),
        };
        let (status, answer) = client::call(node, "GET", &path, None).await?;
        if status != 200 {
            bail!("{node} answered {status}: {}", error_text(&answer));
        }
        let blocks = answer["blocks"].as_array().cloned().unwrap_or_default();
        for block in &blocks {
            let hash = block["hash"].as_str().unwrap_or("?");
            let texts = match block["entries"].as_u64().unwrap_or(0) {
                0 => Vec::new(),
                _ => data_texts(node, hash).await?,
            };
            if json {
                let mut line = block.clone();
                line["data"] = serde_json::json!(texts);
                writeln!(out, "{line}")?;
                continue;
            }
            let height = block["height"].as_u64().unwrap_or(0);
            let time = format_time(block["time"].as_u64().unwrap_or(0));
            let miner = block["miner"].as_str().unwrap_or("");
            writeln!(
                out,
                "{height:>7}  {hash}  {time}  {}  miner {}",
                reward_and_txs(block),
                miner.escape_debug()
            )?;
            for text in texts {
                writeln!(out, "         {text:?}")?;
            }
        }
        out.flush()?;
        match blocks.last().and_then(|b| b["height"].as_u64()) {
            // Each page must go lower, so a master that repeats itself cannot keep us here.
            Some(lowest) if before.is_some_and(|b| lowest >= b) => {
                bail!("{node} sent blocks out of order (height {lowest} again)")
            }
            Some(lowest) if lowest > 0 => before = Some(lowest),
            _ => return Ok(()),
        }
    }
}

/// The texts of the data entries of block `hash`.
async fn data_texts(node: &str, hash: &str) -> anyhow::Result<Vec<String>> {
    let (status, detail) = client::call(node, "GET", &format!("/api/blocks/{hash}"), None).await?;
    if status != 200 {
        bail!("{node} answered {status}: {}", error_text(&detail));
    }
    let entries = detail["data"].as_array().cloned().unwrap_or_default();
    Ok(entries
        .iter()
        .map(|entry| entry["text"].as_str().unwrap_or("").to_string())
        .collect())
}

/// `reward 50 coins, 2 txs` from a block summary (its `reward` in units, its `txs` count).
fn reward_and_txs(block: &serde_json::Value) -> String {
    let reward = Amount::from_units(block["reward"].as_u64().unwrap_or(0));
    let txs = block["txs"].as_u64().unwrap_or(0);
    let plural = if txs == 1 { "" } else { "s" };
    format!("reward {reward} coins, {txs} tx{plural}")
}

/// `2026-11-23 22:58:34 UTC` from Unix seconds.
fn format_time(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_times() {
        assert_eq!(format_time(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(format_time(1_763_942_400), "2025-11-24 00:00:00 UTC");
    }

    #[test]
    fn the_reward_is_in_coins_and_transactions_are_counted() {
        let block = serde_json::json!({"reward": 5_000_012_345u64, "txs": 1});
        assert_eq!(reward_and_txs(&block), "reward 50.00012345 coins, 1 tx");
        let block = serde_json::json!({"reward": 0, "txs": 3});
        assert_eq!(reward_and_txs(&block), "reward 0 coins, 3 txs");
    }
}
