//! The REST API through the router (`app()` + `oneshot`): shapes, and bad input for every endpoint.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use bbchain::config::NodeLimits;
use bbchain::server::app;
use bbchain_core::block::data_id;
use bbchain_core::{BlockHash, DataId};
use common::*;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

async fn post(test: &TestNode, body: impl Into<Body>) -> (StatusCode, Value) {
    call(test, "POST", "/api/data", body.into()).await
}

#[tokio::test]
async fn data_is_accepted_with_a_stable_id_and_reported_pending() {
    let test = TestNode::start(NodeLimits::default()).await;
    let (status, body) = post(&test, json!({"data": "Some data"}).to_string()).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let id = data_id("Some data").to_string();
    assert_eq!(body, json!({"id": id, "status": "pending"}));
    let (status, again) = post(&test, json!({"data": "Some data"}).to_string()).await;
    assert_eq!((status, &again["id"]), (StatusCode::ACCEPTED, &body["id"]));
    let (status, found) = get(&test, &format!("/api/data/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        found,
        json!({"id": id, "status": "pending", "text": "Some data"})
    );
    assert_eq!(get(&test, "/api/status").await.1["pending"], 1);
    test.stop().await;
}

#[tokio::test]
async fn bad_data_gets_a_json_error_with_the_right_status() {
    let limits = NodeLimits {
        max_body_bytes: 10_000,
        // Room for the 4096-byte entry and "two" below, each with its overhead, not "three".
        max_pending_bytes: 4096 + 3 + 2 * bbchain::config::PENDING_ENTRY_OVERHEAD,
        ..NodeLimits::default()
    };
    let test = TestNode::start(limits).await;
    assert_error(
        &post(&test, "{not json").await,
        StatusCode::BAD_REQUEST,
        "expected a JSON object",
    );
    assert_error(
        &post(&test, "").await,
        StatusCode::BAD_REQUEST,
        "expected a JSON object",
    );
    assert_error(
        &post(&test, json!({"text": "x"}).to_string()).await,
        StatusCode::BAD_REQUEST,
        "data",
    );
    assert_error(
        &post(&test, json!({"data": 5}).to_string()).await,
        StatusCode::BAD_REQUEST,
        "string",
    );
    assert_error(
        &post(&test, json!({"data": ""}).to_string()).await,
        StatusCode::BAD_REQUEST,
        "empty",
    );
    let mut not_utf8 = b"{\"data\": \"".to_vec();
    not_utf8.extend_from_slice(&[0xff, 0xfe]);
    not_utf8.extend_from_slice(b"\"}");
    assert_error(
        &post(&test, not_utf8).await,
        StatusCode::BAD_REQUEST,
        "not UTF-8",
    );
    // Over the entry limit (4096 bytes) but under the body limit.
    let long = json!({"data": "x".repeat(4097)}).to_string();
    assert_error(
        &post(&test, long).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "4096",
    );
    let exactly = json!({"data": "y".repeat(4096)}).to_string();
    assert_eq!(post(&test, exactly).await.0, StatusCode::ACCEPTED);
    // Over the body limit.
    let huge = json!({"data": "x".repeat(20_000)}).to_string();
    assert_error(
        &post(&test, huge).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "10000 bytes",
    );
    // The queue is full with two entries: it counts bytes.
    assert_eq!(
        post(&test, json!({"data": "two"}).to_string()).await.0,
        StatusCode::ACCEPTED
    );
    assert_error(
        &post(&test, json!({"data": "three"}).to_string()).await,
        StatusCode::SERVICE_UNAVAILABLE,
        "full",
    );
    // Known data is still answered when the queue is full.
    assert_eq!(
        post(&test, json!({"data": "two"}).to_string()).await.0,
        StatusCode::ACCEPTED
    );
    assert_eq!(get(&test, "/api/status").await.1["pending"], 2);
    test.stop().await;
}

#[tokio::test]
async fn data_lookups_check_the_id() {
    let test = TestNode::start(NodeLimits::default()).await;
    assert_error(
        &get(&test, "/api/data/xyz").await,
        StatusCode::BAD_REQUEST,
        "64 hex",
    );
    assert_error(
        &get(&test, &format!("/api/data/{}", "g".repeat(64))).await,
        StatusCode::BAD_REQUEST,
        "64 hex",
    );
    let unknown = DataId::from_byte_array([7; 32]).to_string();
    assert_error(
        &get(&test, &format!("/api/data/{unknown}")).await,
        StatusCode::NOT_FOUND,
        "unknown",
    );
    test.stop().await;
}

#[tokio::test]
async fn status_blocks_and_nodes_have_the_documented_shapes() {
    let test = TestNode::start(NodeLimits::default()).await;
    let mut ws = test.ws("/ws/mine").await;
    let job = hello(&mut ws, "dave").await;
    assert_eq!(mine_job(&mut ws, &job).await["type"], "accepted");

    let (status, body) = get(&test, "/api/status").await;
    assert_eq!(status, StatusCode::OK);
    for key in [
        "network",
        "height",
        "tip",
        "bits",
        "target",
        "difficulty",
        "target_interval",
        "hashrate",
        "chainwork",
        "miners",
        "peers",
        "pending",
        "genesis",
    ] {
        assert!(body.get(key).is_some(), "status has {key}");
    }
    assert_eq!(
        (body["height"].as_u64(), body["miners"].as_u64()),
        (Some(1), Some(1))
    );

    let (status, page) = get(&test, "/api/blocks").await;
    assert_eq!(status, StatusCode::OK);
    let blocks = page["blocks"].as_array().unwrap();
    assert_eq!(blocks.len(), 2);
    assert_eq!(
        (blocks[0]["height"].as_u64(), blocks[1]["height"].as_u64()),
        (Some(1), Some(0))
    );
    for key in [
        "height",
        "hash",
        "prev_hash",
        "time",
        "bits",
        "nonce",
        "miner",
        "entries",
        "difficulty",
    ] {
        assert!(blocks[0].get(key).is_some(), "summary has {key}");
    }
    assert_eq!(blocks[0]["miner"], "dave");
    assert_eq!(blocks[0]["prev_hash"], blocks[1]["hash"]);
    let (_, older) = get(&test, "/api/blocks?before=1&limit=5").await;
    assert_eq!(older["blocks"].as_array().unwrap().len(), 1);
    assert_eq!(older["blocks"][0]["height"], 0);

    let hash = blocks[0]["hash"].as_str().unwrap();
    let (status, by_hash) = get(&test, &format!("/api/blocks/{hash}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(by_hash["coinbase"]["miner"], "dave");
    assert_eq!(by_hash["coinbase"]["height"], 1);
    assert_eq!(by_hash["confirmations"], 1);
    assert_eq!(by_hash["data"], json!([]));
    assert!(by_hash.get("merkle_root").is_some());
    assert_eq!(
        by_hash["next_hash"],
        Value::Null,
        "the tip has no child yet"
    );
    let header = hex::decode(by_hash["header"].as_str().unwrap()).unwrap();
    let header = bbchain_core::Header::from_bytes(&header).unwrap();
    assert_eq!(
        header.block_hash().to_string(),
        hash,
        "the header is the block's"
    );
    assert!(by_hash["size"].as_u64().unwrap() > 80);
    let (_, by_height) = get(&test, "/api/blocks/1").await;
    assert_eq!(by_height, by_hash);
    let (_, genesis) = get(&test, "/api/blocks/0").await;
    assert_eq!(
        genesis["next_hash"], hash,
        "the genesis block links to block 1"
    );

    let (status, nodes) = get(&test, "/api/nodes").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        nodes,
        json!({"masters": [], "miners": [{"name": "dave", "agent": "test/1", "feed": "ws"}]})
    );
    test.stop().await;
}

#[tokio::test]
async fn bad_block_queries_get_json_errors() {
    let test = TestNode::start(NodeLimits::default()).await;
    assert_error(
        &get(&test, "/api/blocks?limit=0").await,
        StatusCode::BAD_REQUEST,
        "limit",
    );
    assert_error(
        &get(&test, "/api/blocks?limit=101").await,
        StatusCode::BAD_REQUEST,
        "limit",
    );
    assert_error(
        &get(&test, "/api/blocks?before=abc").await,
        StatusCode::BAD_REQUEST,
        "before",
    );
    assert_error(
        &get(&test, "/api/blocks?before=-1").await,
        StatusCode::BAD_REQUEST,
        "before",
    );
    assert_error(
        &get(&test, "/api/blocks?colour=red").await,
        StatusCode::BAD_REQUEST,
        "colour",
    );
    assert_eq!(get(&test, "/api/blocks?limit=100").await.0, StatusCode::OK);
    assert_eq!(
        get(&test, "/api/blocks?before=999999").await.1["blocks"][0]["height"],
        0
    );
    assert_error(
        &get(&test, "/api/blocks/5").await,
        StatusCode::NOT_FOUND,
        "unknown block",
    );
    assert_error(
        &get(&test, "/api/blocks/99999999999").await,
        StatusCode::BAD_REQUEST,
        "height",
    );
    assert_error(
        &get(&test, "/api/blocks/zzz").await,
        StatusCode::BAD_REQUEST,
        "height or",
    );
    let unknown = BlockHash::from_byte_array([9; 32]).to_string();
    assert_error(
        &get(&test, &format!("/api/blocks/{unknown}")).await,
        StatusCode::NOT_FOUND,
        "unknown block",
    );
    assert_error(
        &get(&test, "/api/nope").await,
        StatusCode::NOT_FOUND,
        "no such",
    );
    assert_error(
        &call(&test, "DELETE", "/api/status", Body::empty()).await,
        StatusCode::METHOD_NOT_ALLOWED,
        "method",
    );
    assert_error(
        &call(&test, "GET", "/api/data", Body::empty()).await,
        StatusCode::METHOD_NOT_ALLOWED,
        "method",
    );
    test.stop().await;
}

#[tokio::test]
async fn the_page_is_served_at_the_root() {
    let test = TestNode::start(NodeLimits::default()).await;
    let request = Request::builder().uri("/").body(Body::empty()).unwrap();
    let response = app(test.state()).oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let kind = response.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_string();
    assert!(kind.starts_with("text/html"), "{kind}");
    let policy = response.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_string();
    for directive in ["script-src 'self' 'wasm-unsafe-eval'", "connect-src 'self'"] {
        assert!(policy.contains(directive), "{policy}");
    }
    assert!(!policy.contains("unsafe-inline"), "{policy}");
    assert_eq!(
        response.headers()[header::X_CONTENT_TYPE_OPTIONS],
        "nosniff"
    );
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    assert!(
        String::from_utf8_lossy(&bytes)
            .to_lowercase()
            .contains("<html")
    );
    let request = Request::builder()
        .uri("/no/such/file.js")
        .body(Body::empty())
        .unwrap();
    let response = app(test.state()).oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    test.stop().await;
}

#[tokio::test]
async fn feeds_answer_plain_requests_with_json_errors() {
    let test = TestNode::start(NodeLimits::default()).await;
    for path in ["/ws/mine", "/ws/events"] {
        let (status, body) = get(&test, path).await;
        assert!(status.is_client_error(), "{path}: {status}");
        assert!(
            body["error"].as_str().unwrap().contains("WebSocket"),
            "{path}: {body}"
        );
    }
    test.stop().await;
}

#[tokio::test]
async fn query_strings_and_json_bodies_are_typed_and_refused_with_reasons() {
    let test = TestNode::start(NodeLimits::default()).await;
    // An unknown query field is refused, and the answer lists the known ones.
    let unknown = get(&test, "/api/blocks?limit=5&colour=red").await;
    assert_error(&unknown, StatusCode::BAD_REQUEST, "unknown field `colour`");
    assert_error(&unknown, StatusCode::BAD_REQUEST, "`before` or `limit`");
    // A bad value names its field.
    assert_error(
        &get(&test, "/api/blocks?limit=ten").await,
        StatusCode::BAD_REQUEST,
        "limit: invalid digit",
    );
    assert_error(
        &get(&test, "/api/blocks?before=").await,
        StatusCode::BAD_REQUEST,
        "before: cannot parse integer from empty string",
    );
    assert_error(
        &get(&test, "/api/blocks?before=4294967296").await,
        StatusCode::BAD_REQUEST,
        "before: number too large",
    );
    // Malformed JSON bodies say where they broke.
    assert_error(
        &post(&test, r#"{"data": "x""#).await,
        StatusCode::BAD_REQUEST,
        "EOF while parsing an object at line 1 column 12",
    );
    assert_error(
        &post(&test, r#"{"data": "x"} and more"#).await,
        StatusCode::BAD_REQUEST,
        "trailing characters at line 1 column 15",
    );
    assert_error(
        &post(&test, "\"x\"").await,
        StatusCode::BAD_REQUEST,
        "expected a JSON object: invalid type: string",
    );
    test.stop().await;
}

/// A web page may send a form or plain text to any address without asking (no CORS preflight):
/// only JSON bodies are taken, so no other site can write through a visitor's local master.
#[tokio::test]
async fn only_json_bodies_are_taken_so_other_sites_cannot_post() {
    let test = TestNode::start(NodeLimits::default()).await;
    let body = json!({"data": "from another site"}).to_string();
    for (uri, content_type) in [
        ("/api/data", Some("application/x-www-form-urlencoded")),
        ("/api/data", Some("text/plain")),
        ("/api/data", Some("multipart/form-data; boundary=x")),
        ("/api/data", None),
        ("/api/tx", Some("text/plain")),
    ] {
        let mut request = Request::builder().method("POST").uri(uri);
        if let Some(content_type) = content_type {
            request = request.header(header::CONTENT_TYPE, content_type);
        }
        let request = request.body(Body::from(body.clone())).unwrap();
        let response = app(test.state()).oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let error: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{content_type:?}"
        );
        assert!(
            error["error"]
                .as_str()
                .unwrap()
                .contains("application/json"),
            "{error}"
        );
    }
    assert_eq!(
        get(&test, "/api/status").await.1["pending"],
        0,
        "nothing was queued"
    );
    let request = Request::builder()
        .method("POST")
        .uri("/api/data")
        .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
        .body(Body::from(body))
        .unwrap();
    let response = app(test.state()).oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    test.stop().await;
}

/// DNS rebinding: a page on a name re-pointed at the master sends matching `Origin` and `Host`
/// headers; its writes are refused unless the operator allowed that name, while the page's own
/// reads, IP addresses and localhost keep working.
#[tokio::test]
async fn a_page_reaching_the_master_by_a_rebound_name_cannot_write() {
    let post_from = |test: &TestNode, host: &'static str| {
        let request = Request::builder()
            .method("POST")
            .uri("/api/data")
            .header(header::HOST, host)
            .header(header::ORIGIN, format!("http://{host}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(json!({"data": "via a page"}).to_string()))
            .unwrap();
        app(test.state()).oneshot(request)
    };
    let test = TestNode::start(NodeLimits::default()).await;
    let refused = post_from(&test, "evil.example:8000").await.unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let bytes = refused.into_body().collect().await.unwrap().to_bytes();
    let error: Value = serde_json::from_slice(&bytes).unwrap();
    assert!(
        error["error"]
            .as_str()
            .unwrap()
            .contains("--allow-host evil.example"),
        "{error}"
    );
    assert_eq!(get(&test, "/api/status").await.1["pending"], 0);

    for host in ["127.0.0.1:8000", "localhost:8000", "[::1]:8000"] {
        let response = post_from(&test, host).await.unwrap();
        assert_eq!(response.status(), StatusCode::ACCEPTED, "{host}");
    }
    let page = Request::builder()
        .uri("/")
        .header(header::HOST, "evil.example:8000")
        .body(Body::empty())
        .unwrap();
    let response = app(test.state()).oneshot(page).await.unwrap();
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "plain reads are not checked"
    );
    test.stop().await;

    let allowed = NodeLimits {
        allow_host: vec!["node.example".into()],
        ..NodeLimits::default()
    };
    let test = TestNode::start(allowed).await;
    let response = post_from(&test, "node.example:8000").await.unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    test.stop().await;
}
