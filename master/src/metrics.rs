//! `GET /metrics`: what a master is doing, in Prometheus text format.
//!
//! Modules record through the small functions here (one line at the place where a thing happens,
//! e.g. [`connection_refused`]`("max_connections")`), which go to the `metrics` facade; the
//! process-wide Prometheus recorder behind it is installed once ([`install`]) and rendered by the
//! `/metrics` route. Figures the node already keeps (height, chainwork, miners, queue and mempool
//! sizes) are set from the node when scraped, not tracked twice. Every label takes values from a
//! short fixed set (a route template, never a raw path; a reason name, never an error text), so a
//! client cannot grow the output. Nothing here is secret: a public master may expose `/metrics`.

use crate::node::{Node, SubmitError, SubmitOutcome};
use crate::state::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// The fan-out histogram's name, and its buckets in seconds (the protocol promises 0.1 s).
const FANOUT_SECONDS: &str = "bbchain_fanout_latency_seconds";
const FANOUT_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5,
];
/// How often histogram samples are folded into their buckets when nobody scrapes (so they do not
/// pile up in memory).
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
/// Scrapes set the node gauges and render under this lock, so one scrape shows one node's figures
/// (several masters in one process, as in tests, share the recorder).
static SCRAPE: Mutex<()> = Mutex::new(());

/// Installs the process-wide recorder the first time (the first master of the process); later
/// calls return the same handle. If another recorder was installed first, figures go there and
/// `/metrics` shows only the scrape-time gauges.
pub fn install() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(FANOUT_SECONDS.into()), FANOUT_BUCKETS)
            .expect("the fan-out buckets are not empty")
            .build_recorder();
        let handle = recorder.handle();
        let _ = metrics::set_global_recorder(recorder);
        describe();
        let upkeep = handle.clone();
        let _ = std::thread::Builder::new()
            .name("metrics-upkeep".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(UPKEEP_EVERY);
                    upkeep.run_upkeep();
                }
            });
        handle
    })
}

/// `# HELP` lines, and the labelled series that exist before anything happened (so a dashboard
/// sees 0, not a missing series).
fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_gauge!("bbchain_height", "Height of the main chain's tip.");
    describe_gauge!(
        "bbchain_chainwork",
        "Cumulative work of the main chain (expected hashes)."
    );
    describe_gauge!(
        "bbchain_peers",
        "Linked masters, by direction (in: they dialed us)."
    );
    describe_gauge!(
        "bbchain_miners",
        "Connected miners, by feed (ws: /ws/mine; stratum: --stratum-port)."
    );
    describe_gauge!(
        "bbchain_data_queue_entries",
        "Data entries waiting for a block."
    );
    describe_gauge!(
        "bbchain_data_queue_bytes",
        "Bytes of data entries waiting for a block."
    );
    describe_gauge!("bbchain_mempool_txs", "Transactions in the mempool.");
    describe_gauge!(
        "bbchain_mempool_bytes",
        "Bytes of transactions in the mempool."
    );
    describe_counter!(
        "bbchain_blocks_accepted_total",
        "Blocks stored, by branch (main or side)."
    );
    describe_counter!(
        "bbchain_blocks_rejected_total",
        "Blocks refused, by reason."
    );
    describe_counter!(
        "bbchain_jobs_sent_total",
        "Jobs sent to miners on the feed."
    );
    describe_histogram!(
        FANOUT_SECONDS,
        metrics::Unit::Seconds,
        "From a new block template to a feed connection having sent its job."
    );
    describe_counter!(
        "bbchain_submits_total",
        "Solutions miners submitted, by result."
    );
    describe_counter!(
        "bbchain_http_requests_total",
        "HTTP requests, by route template and status."
    );
    describe_counter!(
        "bbchain_connections_refused_total",
        "Connections refused, by the limit they hit."
    );
    describe_counter!("bbchain_bans_total", "Peers banned, by reason.");
    describe_gauge!(
        STRATUM_CONNECTIONS,
        "Open Stratum connections (authorized or not)."
    );
    describe_counter!(
        STRATUM_SHARES,
        "Stratum shares, by result (accepted, or why refused)."
    );
    gauge!(STRATUM_CONNECTIONS).set(0.0);
    counter!(STRATUM_SHARES, "result" => "accepted").absolute(0);
    gauge!("bbchain_miners", "feed" => "stratum").set(0.0);
    counter!("bbchain_jobs_sent_total").absolute(0);
    peers(0, 0);
}

/// `GET /metrics`.
pub async fn scrape(State(app): State<AppState>) -> Response {
    let handle = install();
    let text = {
        let _one_scrape = SCRAPE
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        set_node_gauges(&app.node);
        handle.render()
    };
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        text,
    )
        .into_response()
}

/// The gauges the node keeps figures for.
fn set_node_gauges(node: &Node) {
    let snapshot = node.snapshot();
    gauge!("bbchain_height").set(f64::from(snapshot.height));
    gauge!("bbchain_chainwork").set(snapshot.chainwork.to_f64());
    use crate::node::MinerFeed;
    gauge!("bbchain_miners", "feed" => "ws").set(node.miner_count_of(MinerFeed::Ws) as f64);
    gauge!("bbchain_miners", "feed" => "stratum")
        .set(node.miner_count_of(MinerFeed::Stratum) as f64);
    gauge!("bbchain_data_queue_entries").set(snapshot.pending as f64);
    gauge!("bbchain_data_queue_bytes").set(snapshot.pending_bytes as f64);
    gauge!("bbchain_mempool_txs").set(snapshot.mempool_txs as f64);
    gauge!("bbchain_mempool_bytes").set(snapshot.mempool_bytes as f64);
}

/// Linked masters now, by direction (the peer table calls this when a link comes or goes).
pub fn peers(inbound: usize, outbound: usize) {
    gauge!("bbchain_peers", "direction" => "in").set(inbound as f64);
    gauge!("bbchain_peers", "direction" => "out").set(outbound as f64);
}

/// The answer to one block from a miner or a peer.
pub fn block_result(result: &Result<SubmitOutcome, SubmitError>) {
    match result {
        Ok(SubmitOutcome::Connected { .. }) => {
            counter!("bbchain_blocks_accepted_total", "branch" => "main").increment(1);
        }
        Ok(SubmitOutcome::SideBranch { .. }) => {
            counter!("bbchain_blocks_accepted_total", "branch" => "side").increment(1);
        }
        Ok(SubmitOutcome::Duplicate { .. }) => block_rejected("duplicate"),
        Err(SubmitError::Invalid(rule)) => {
            let reason = format!("invalid:{}", variant_name(rule));
            counter!("bbchain_blocks_rejected_total", "reason" => reason).increment(1);
        }
        Err(err) => block_rejected(rejection_reason(err)),
    }
}

/// The name of the enum variant `value` is (`HighHash` of `HighHash(…)`): a label from a fixed
/// set, never text a peer chose.
fn variant_name(value: &impl std::fmt::Debug) -> String {
    let text = format!("{value:?}");
    text.chars()
        .take_while(char::is_ascii_alphanumeric)
        .collect()
}

/// A block refused for `reason` (a short fixed name).
pub fn block_rejected(reason: &'static str) {
    counter!("bbchain_blocks_rejected_total", "reason" => reason).increment(1);
}

fn rejection_reason(err: &SubmitError) -> &'static str {
    match err {
        SubmitError::Invalid(_) => "invalid",
        SubmitError::UnknownParent(_) => "unknown_parent",
        SubmitError::InvalidParent(_) | SubmitError::InvalidAncestor { .. } => "invalid_ancestor",
        SubmitError::Storage(_) => "storage",
        SubmitError::ShuttingDown => "shutting_down",
    }
}

/// A job went out on the feed; `template_age` is how long ago its template was made, for a new
/// template (not for a job a miner asked for).
pub fn job_sent(template_age: Option<Duration>) {
    counter!("bbchain_jobs_sent_total").increment(1);
    if let Some(age) = template_age {
        histogram!(FANOUT_SECONDS).record(age.as_secs_f64());
    }
}

/// The fan-out latency histogram, fetched once per fan-out by a writer that records a figure per
/// connection (looking it up per connection would cost a registry lookup each).
pub fn fanout_histogram() -> metrics::Histogram {
    histogram!(FANOUT_SECONDS)
}

/// `count` jobs went out in one fan-out.
pub fn jobs_sent(count: u64) {
    counter!("bbchain_jobs_sent_total").increment(count);
}

/// A miner's submit and what became of it (`accepted`, `stale`, `duplicate`, `invalid`, …).
pub fn submit(result: &'static str) {
    counter!("bbchain_submits_total", "result" => result).increment(1);
}

const STRATUM_CONNECTIONS: &str = "bbchain_stratum_connections";
const STRATUM_SHARES: &str = "bbchain_stratum_shares_total";

/// A Stratum connection opened (`+1`) or closed (`-1`).
pub fn stratum_connections(change: f64) {
    gauge!(STRATUM_CONNECTIONS).increment(change);
}

/// A Stratum share and what became of it (`accepted`, `stale`, `duplicate`, `low_difficulty`,
/// `unauthorized`, `not_subscribed`, `invalid`).
pub fn stratum_share(result: &'static str) {
    counter!(STRATUM_SHARES, "result" => result).increment(1);
}

/// A connection refused because it would cross `limit` (the `NodeLimits` field or constant name).
pub fn connection_refused(limit: &'static str) {
    counter!("bbchain_connections_refused_total", "limit" => limit).increment(1);
}

/// A peer banned for `reason` (a short fixed name).
pub fn ban(reason: &'static str) {
    counter!("bbchain_bans_total", "reason" => reason).increment(1);
}

/// Middleware: counts every HTTP request by its route template (`/api/data/{id}`, not the path)
/// and status. Requests no route matched (the page's files, unknown paths) count as `other`.
pub async fn count_request(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str())
        .filter(|path| !path.contains("__private__"))
        .map_or_else(|| "other".to_string(), str::to_string);
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    counter!("bbchain_http_requests_total", "route" => route, "status" => status).increment(1);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invalid_block_counts_by_the_rule_it_breaks() {
        let error = bbchain_core::validation::BlockError::DuplicateEntry(3);
        assert_eq!(variant_name(&error), "DuplicateEntry");
        let error = bbchain_core::validation::BlockError::NoCoinbase;
        assert_eq!(variant_name(&error), "NoCoinbase");
    }
    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt;

    #[tokio::test]
    async fn requests_count_by_route_template_and_status() {
        let handle = install();
        let app = Router::new()
            .route("/metered/{id}", get(|| async { "ok" }))
            .layer(axum::middleware::from_fn(count_request));
        for path in ["/metered/1", "/metered/2", "/metered-not"] {
            let request = Request::get(path).body(Body::empty()).unwrap();
            app.clone().oneshot(request).await.unwrap();
        }
        let text = handle.render();
        let line = |route: &str, status: &str| {
            format!(r#"bbchain_http_requests_total{{route="{route}",status="{status}"}}"#)
        };
        assert!(
            text.contains(&format!("{} 2\n", line("/metered/{id}", "200"))),
            "{text}"
        );
        assert!(
            !text.contains("/metered/1"),
            "a raw path as a label:\n{text}"
        );
    }
}
