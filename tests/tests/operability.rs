//! Operating a master: `/metrics`, limits set by flag, `--print --json`, `--log-format json`, and
//! `--print` into a closed pipe. Real processes on loopback.

use bbchain_e2e::{Master, bbchain_bin, http_get, http_post_raw, run_bbchain, wait_for};
use serde_json::Value;
use std::process::{Command, Stdio};
use std::time::Duration;

const PATIENCE: Duration = Duration::from_secs(60);

/// `GET /metrics` as text.
fn scrape(master: &Master) -> String {
    let (code, body) = http_get(&master.url("/metrics"));
    assert_eq!(code, 200, "GET /metrics: {body}");
    body.as_str().expect("Prometheus text").to_string()
}

/// The value of the series `name` whose labels include every one of `labels` (`key="value"`).
fn value(metrics: &str, name: &str, labels: &[&str]) -> Option<f64> {
    metrics.lines().find_map(|line| {
        let (series, number) = line.rsplit_once(' ')?;
        let (series_name, series_labels) = match series.split_once('{') {
            Some((n, rest)) => (n, rest.trim_end_matches('}')),
            None => (series, ""),
        };
        let mine = series_labels.split(',').collect::<Vec<_>>();
        (series_name == name && labels.iter().all(|l| mine.contains(l)))
            .then(|| number.parse().ok())
            .flatten()
    })
}

fn post_data(master: &Master, text: &str) -> (u16, Value) {
    let body = serde_json::json!({ "data": text }).to_string();
    http_post_raw(
        &master.url("/api/data"),
        "application/json",
        body.as_bytes(),
    )
}

#[test]
fn metrics_show_the_chain_the_miners_blocks_and_requests() {
    let master = Master::start(&[]);
    let mut miner = master.miner("metered");
    wait_for(PATIENCE, "two blocks", || {
        (master.height() >= 2).then_some(())
    });
    let live = scrape(&master);
    assert_eq!(
        value(&live, "bbchain_miners", &[r#"feed="ws""#]),
        Some(1.0),
        "{live}"
    );
    assert_eq!(
        value(&live, "bbchain_miners", &[r#"feed="stratum""#]),
        Some(0.0)
    );
    miner.stop();
    wait_for(PATIENCE, "the miner gone", || {
        (master.status()["miners"].as_u64() == Some(0)).then_some(())
    });

    let height = master.height();
    let (code, body) = post_data(&master, "counted");
    assert_eq!(code, 202, "{body}");
    let id = body["id"].as_str().expect("id").to_string();
    assert_eq!(http_get(&master.url(&format!("/api/data/{id}"))).0, 200);
    assert_eq!(http_get(&master.url("/api/no-such-thing")).0, 404);

    let metrics = scrape(&master);
    let at = |name: &str, labels: &[&str]| {
        value(&metrics, name, labels)
            .unwrap_or_else(|| panic!("no {name} {labels:?} in\n{metrics}"))
    };
    assert!(metrics.contains("# TYPE bbchain_height gauge"), "{metrics}");
    assert_eq!(at("bbchain_height", &[]), height as f64);
    assert!(at("bbchain_chainwork", &[]) > 0.0);
    assert_eq!(at("bbchain_miners", &[r#"feed="ws""#]), 0.0);
    // Every block came from the one miner and went onto the main chain.
    assert_eq!(
        at("bbchain_blocks_accepted_total", &[r#"branch="main""#]),
        height as f64
    );
    assert_eq!(
        at("bbchain_submits_total", &[r#"result="accepted""#]),
        height as f64
    );
    assert!(at("bbchain_jobs_sent_total", &[]) >= height as f64);
    // A new tip reached the miner's connection as a job at least once after its first.
    assert!(at("bbchain_fanout_latency_seconds_count", &[]) >= 1.0);
    assert!(at("bbchain_fanout_latency_seconds_bucket", &[r#"le="+Inf""#]) >= 1.0);
    assert_eq!(at("bbchain_data_queue_entries", &[]), 1.0);
    // The queue counts each entry's text plus a fixed 128 bytes (`config::PENDING_ENTRY_OVERHEAD`).
    assert_eq!(
        at("bbchain_data_queue_bytes", &[]),
        ("counted".len() + 128) as f64
    );
    // Requests count by route template, not by path, with their status.
    let data_posts = [r#"route="/api/data""#, r#"status="202""#];
    assert_eq!(at("bbchain_http_requests_total", &data_posts), 1.0);
    let data_gets = [r#"route="/api/data/{id}""#, r#"status="200""#];
    assert_eq!(at("bbchain_http_requests_total", &data_gets), 1.0);
    let unknown = [r#"route="other""#, r#"status="404""#];
    assert_eq!(at("bbchain_http_requests_total", &unknown), 1.0);
    assert!(
        !metrics.contains("no-such-thing") && !metrics.contains(&id),
        "a raw path in the labels:\n{metrics}"
    );
}

#[test]
fn a_limit_flag_changes_what_a_client_runs_into() {
    let master = Master::start(&["--max-body-bytes", "100"]);
    let (code, body) = post_data(&master, &"x".repeat(200));
    assert_eq!(code, 413, "{body}");
    let (code, body) = post_data(&master, "small enough");
    assert_eq!(code, 202, "{body}");
    let metrics = scrape(&master);
    let too_large = [r#"route="/api/data""#, r#"status="413""#];
    assert_eq!(
        value(&metrics, "bbchain_http_requests_total", &too_large),
        Some(1.0),
        "{metrics}"
    );
}

#[test]
fn help_shows_every_limit_with_its_default_and_only_a_master_takes_them() {
    let help = String::from_utf8(run_bbchain(&["--help"]).stdout).expect("utf-8");
    assert!(help.contains("Limits (--start-master):"), "{help}");
    for (flag, default) in [
        ("--max-body-bytes <BYTES>", "[default: 65536]"),
        ("--max-connections <N>", "[default: 20000]"),
        ("--hello-timeout <DURATION>", "[default: 10s]"),
        ("--max-mempool-bytes <BYTES>", "[default: 5000000]"),
    ] {
        let at = help
            .find(flag)
            .unwrap_or_else(|| panic!("{flag} in\n{help}"));
        // Its help runs until the next line that starts with a flag.
        let own = help[at..]
            .lines()
            .enumerate()
            .take_while(|(n, line)| *n == 0 || !line.trim_start().starts_with('-'))
            .flat_map(|(_, line)| line.split_whitespace())
            .collect::<Vec<_>>()
            .join(" ");
        assert!(own.contains(default), "{flag} {default} in\n{help}");
    }
    let output = run_bbchain(&["--print", "--max-body-bytes", "5"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--max-body-bytes does not apply to --print; it goes with --start-master"),
        "{stderr}"
    );
    let output = run_bbchain(&["--start-master", "--hello-timeout", "10"]);
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn print_json_is_one_block_per_line_newest_first() {
    let master = Master::start(&[]);
    let (code, body) = post_data(&master, "in json");
    assert_eq!(code, 202, "{body}");
    let mut miner = master.miner("jsonish");
    wait_for(PATIENCE, "the data in a block", || {
        let (_, status) = http_get(&master.url(&format!("/api/data/{}", body["id"].as_str()?)));
        (status["status"] == "confirmed").then_some(())
    });
    miner.stop();
    let output = run_bbchain(&["--print", "--json", "--nodes", &master.addr()]);
    assert!(output.status.success(), "{output:?}");
    let blocks: Vec<Value> = String::from_utf8(output.stdout)
        .expect("utf-8")
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}")))
        .collect();
    let heights: Vec<u64> = blocks
        .iter()
        .map(|b| b["height"].as_u64().unwrap())
        .collect();
    let tip = heights[0];
    assert_eq!(heights, (0..=tip).rev().collect::<Vec<_>>());
    assert!(
        blocks
            .iter()
            .all(|b| b["hash"].as_str().is_some_and(|h| h.len() == 64))
    );
    assert!(
        blocks
            .iter()
            .any(|b| b["data"] == serde_json::json!(["in json"])),
        "{blocks:?}"
    );
    assert!(blocks.iter().any(|b| b["miner"] == "jsonish"));
}

#[test]
fn print_into_a_closed_pipe_ends_quietly() {
    let master = Master::start(&[]);
    let mut child = Command::new(bbchain_bin())
        .args(["--print", "--nodes", &master.addr()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start bbchain");
    // The reader goes away before anything is written, as `| head` does after its lines.
    drop(child.stdout.take());
    let output = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        (output.status.code(), stderr.as_ref()),
        (Some(0), ""),
        "{output:?}"
    );
}

/// The `spans` of a JSON log line whose message contains `says`.
fn spans_of(line: &str, says: &str) -> Option<Vec<Value>> {
    let record: Value = serde_json::from_str(line).ok()?;
    let message = record["fields"]["message"].as_str()?;
    message
        .contains(says)
        .then(|| record["spans"].as_array().cloned().unwrap_or_default())
}

#[test]
fn json_logs_name_the_feed_connection_and_the_peer_link() {
    let first = Master::start(&["--log-format", "json"]);
    let second = Master::start(&["--log-format", "json", "--nodes", &first.addr()]);
    let _miner = first.miner("logged");
    let spans = first
        .process
        .wait_for_line(PATIENCE, |line| spans_of(line, "found block"));
    let feed = spans
        .iter()
        .find(|s| s["name"] == "feed")
        .expect("a feed span");
    assert_eq!(feed["miner"], "logged", "{spans:?}");
    assert!(
        feed["remote"]
            .as_str()
            .is_some_and(|r| r.starts_with("127.0.0.1:"))
    );

    let spans = second
        .process
        .wait_for_line(PATIENCE, |line| spans_of(line, "linked to master"));
    let peer = spans
        .iter()
        .find(|s| s["name"] == "peer")
        .expect("a peer span");
    assert_eq!(
        (peer["addr"].as_str(), peer["direction"].as_str()),
        (Some(first.addr().as_str()), Some("out")),
        "{spans:?}"
    );
    for line in first.process.log().lines().filter(|l| !l.is_empty()) {
        assert!(
            serde_json::from_str::<Value>(line).is_ok(),
            "not JSON: {line}"
        );
    }
}
