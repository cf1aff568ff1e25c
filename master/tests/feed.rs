//! The work feed `/ws/mine` and the event feed `/ws/events`, over real loopback sockets.

mod common;

use bbchain::config::NodeLimits;
use bbchain::node::DataStatus;
use bbchain_core::block::data_id;
use bbchain_core::protocol::Job;
use common::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn a_miner_gets_a_job_mines_it_and_the_data_is_confirmed() {
    let test = TestNode::start(NodeLimits::default()).await;
    let id = data_id("Some data");
    test.node.add_data("Some data".into()).await.unwrap();
    let mut ws = test.ws("/ws/mine").await;
    let mut job = hello(&mut ws, "alice").await;
    assert_eq!(job["clean"], true);
    assert_eq!(job["height"], 1);
    let parsed: Job = parse(&job);
    assert_eq!(parsed.header().unwrap().prev_hash, test.node.snapshot().tip);
    // The data reaches a job within the refresh delay.
    while test.node.data_status(&id).unwrap() == Some(DataStatus::Pending) {
        let answer = mine_job(&mut ws, &job).await;
        assert_eq!(answer["type"], "accepted", "{answer}");
        job = recv_type(&mut ws, "job").await;
        assert_eq!(job["clean"], true, "a new tip voids older jobs");
    }
    let Some(DataStatus::Confirmed {
        height,
        proof,
        merkle_root,
        ..
    }) = test.node.data_status(&id).unwrap()
    else {
        panic!("confirmed")
    };
    assert!(proof.verify(&id.to_merkle_leaf(), &merkle_root));
    let (_, block) = test.node.block_at(height).unwrap().unwrap();
    assert_eq!(block.coinbase().unwrap().miner, "alice");
    assert!(block.data().any(|text| text == "Some data"));
    assert_eq!(test.node.snapshot().pending, 0);
    test.stop().await;
}

#[tokio::test]
async fn bad_feed_messages_are_rejected_and_the_connection_carries_on() {
    let test = TestNode::start(NodeLimits::default()).await;
    let mut ws = test.ws("/ws/mine").await;
    let cases = [
        (
            json!({"type": "submit", "job_id": "1", "nonce": 1}),
            "say hello first",
        ),
        (json!({"type": "get_work"}), "say hello first"),
        (json!({"type": "hello", "name": ""}), "name must be"),
        (
            json!({"type": "hello", "name": "x".repeat(65)}),
            "name must be",
        ),
        (json!({"type": "dance"}), "malformed message"),
        (json!({"nonce": 5}), "malformed message"),
        (
            json!({"type": "submit", "job_id": "1", "nonce": -1}),
            "malformed message",
        ),
    ];
    for (message, reason) in cases {
        send(&mut ws, message.clone()).await;
        let answer = recv(&mut ws).await;
        assert_eq!(answer["type"], "rejected", "{message}");
        assert!(
            answer["reason"].as_str().unwrap().contains(reason),
            "{message}: {answer}"
        );
    }
    ws.send(Message::Text("not json".into())).await.unwrap();
    assert_eq!(recv(&mut ws).await["type"], "rejected");
    ws.send(Message::Binary(vec![1, 2, 3].into()))
        .await
        .unwrap();
    assert!(
        recv(&mut ws).await["reason"]
            .as_str()
            .unwrap()
            .contains("binary")
    );

    let job = hello(&mut ws, "bob").await;
    send(&mut ws, json!({"type": "hello", "name": "bob"})).await;
    assert_eq!(recv(&mut ws).await["reason"], "already said hello");
    send(
        &mut ws,
        json!({"type": "submit", "job_id": "nope", "nonce": 1}),
    )
    .await;
    let answer = recv(&mut ws).await;
    assert_eq!(
        (answer["type"].as_str(), answer["job_id"].as_str()),
        (Some("rejected"), Some("nope"))
    );
    assert_eq!(answer["reason"], "unknown or stale job");
    // Wrong work: a nonce whose hash misses the target.
    let bad = nonce_for(&job, false);
    send(
        &mut ws,
        json!({"type": "submit", "job_id": job["job_id"], "nonce": bad}),
    )
    .await;
    let answer = recv(&mut ws).await;
    assert_eq!(answer["type"], "rejected");
    assert!(
        answer["reason"]
            .as_str()
            .unwrap()
            .contains("does not meet its target"),
        "{answer}"
    );
    // A good one is accepted, the same again is a duplicate, and the job is stale after that.
    let good = solve(&job);
    let submit = json!({"type": "submit", "job_id": job["job_id"], "nonce": good});
    send(&mut ws, submit.clone()).await;
    assert_eq!(recv_type(&mut ws, "accepted").await["height"], 1);
    let next = recv_type(&mut ws, "job").await;
    assert_eq!(next["clean"], true);
    send(&mut ws, submit).await;
    assert_eq!(recv(&mut ws).await["reason"], "unknown or stale job");
    // get_work gives a fresh job on the same tip, not clean.
    send(&mut ws, json!({"type": "get_work"})).await;
    let fresh = recv_type(&mut ws, "job").await;
    assert_eq!(fresh["clean"], false);
    assert_ne!(fresh["header"], next["header"], "a fresh extra nonce");
    assert_eq!(mine_job(&mut ws, &fresh).await["type"], "accepted");
    assert_eq!(test.node.snapshot().height, 2);
    test.stop().await;
}

#[tokio::test]
async fn a_message_over_the_size_limit_closes_only_that_socket() {
    let limits = NodeLimits {
        max_ws_message_bytes: 200,
        ..NodeLimits::default()
    };
    let test = TestNode::start(limits).await;
    let mut ws = test.ws("/ws/mine").await;
    let _ = ws
        .send(Message::Text(
            json!({"type": "hello", "name": "a".repeat(300)})
                .to_string()
                .into(),
        ))
        .await;
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match ws.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return true,
                Some(Ok(_)) => {}
            }
        }
    })
    .await
    .unwrap();
    assert!(closed);
    let mut other = test.ws("/ws/mine").await;
    assert_eq!(hello(&mut other, "ok").await["type"], "job");
    test.stop().await;
}

#[tokio::test]
async fn connections_over_the_limit_get_503() {
    let limits = NodeLimits {
        max_connections: 2,
        ..NodeLimits::default()
    };
    let test = TestNode::start(limits).await;
    let _one = test.ws("/ws/mine").await;
    let _two = test.ws("/ws/events").await;
    let third = tokio_tungstenite::connect_async(format!("ws://{}/ws/mine", test.addr)).await;
    match third {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 503)
        }
        other => panic!("expected 503, got {:?}", other.map(|_| ())),
    }
    drop(_one);
    // The slot frees once the first socket is gone.
    let mut again = None;
    for _ in 0..50 {
        if let Ok((ws, _)) =
            tokio_tungstenite::connect_async(format!("ws://{}/ws/mine", test.addr)).await
        {
            again = Some(ws);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(again.is_some());
    test.stop().await;
}

#[tokio::test]
async fn every_miner_gets_a_clean_job_quickly_after_a_new_tip() {
    let test = TestNode::start(NodeLimits::default()).await;
    let mut miners = Vec::new();
    for i in 0..20 {
        let mut ws = test.ws("/ws/mine").await;
        let job = hello(&mut ws, &format!("m{i}")).await;
        miners.push((ws, job));
    }
    let headers: std::collections::HashSet<_> = miners
        .iter()
        .map(|(_, job)| job["header"].clone())
        .collect();
    assert_eq!(headers.len(), 20, "every miner has its own header");
    let (mut finder, job) = miners.pop().unwrap();
    assert_eq!(mine_job(&mut finder, &job).await["type"], "accepted");
    for (ws, _) in &mut miners {
        let job = recv_type(ws, "job").await;
        assert_eq!(job["clean"], true);
        assert_eq!(job["height"], 2);
    }
    test.stop().await;
}

#[tokio::test]
async fn events_feed_reports_status_data_blocks_and_miners() {
    let test = TestNode::start(NodeLimits::default()).await;
    let mut events = test.ws("/ws/events").await;
    let status = recv(&mut events).await;
    assert_eq!(status["type"], "status");
    assert_eq!(status["status"]["network"], "dev");
    let mut miner = test.ws("/ws/mine").await;
    let _ = hello(&mut miner, "carol").await;
    assert_eq!(recv_type(&mut events, "miners").await["count"], 1);
    test.node.add_data("event data".into()).await.unwrap();
    let id = data_id("event data").to_string();
    let pending = recv_type(&mut events, "data").await;
    assert_eq!(
        (pending["id"].as_str(), pending["status"].as_str()),
        (Some(id.as_str()), Some("pending"))
    );
    // Mine until the data is in; the page sees the block and the confirmation.
    loop {
        let job = recv_type(&mut miner, "job").await;
        let answer = mine_job(&mut miner, &job).await;
        assert_eq!(answer["type"], "accepted");
        let block = recv_type(&mut events, "block").await;
        assert_eq!(block["block"]["miner"], "carol");
        if block["block"]["entries"] == 1 {
            let confirmed = recv_type(&mut events, "data").await;
            assert_eq!(confirmed["status"], "confirmed");
            assert_eq!(confirmed["id"], id.as_str());
            break;
        }
    }
    drop(miner);
    assert_eq!(recv_type(&mut events, "miners").await["count"], 0);
    test.stop().await;
}

#[tokio::test]
async fn data_added_while_mining_reaches_a_refreshed_job() {
    let test = TestNode::start(NodeLimits::default()).await;
    let mut ws = test.ws("/ws/mine").await;
    let first = hello(&mut ws, "erin").await;
    test.node.add_data("late data".into()).await.unwrap();
    // Within the refresh delay the miner gets a job on the same tip that carries the data.
    let refreshed = recv_type(&mut ws, "job").await;
    assert_eq!(refreshed["clean"], false, "same tip: older jobs stay valid");
    assert_eq!(refreshed["height"], first["height"]);
    assert_eq!(mine_job(&mut ws, &refreshed).await["type"], "accepted");
    let (_, block) = test.node.block_at(1).unwrap().unwrap();
    assert_eq!(block.data().collect::<Vec<_>>(), ["late data"]);
    test.stop().await;
}

#[tokio::test]
async fn a_template_stops_at_the_block_size_limit_and_keeps_the_oldest_first() {
    let test = TestNode::start(NodeLimits::default()).await;
    let max_block = test.node.params().max_block_bytes;
    let texts: Vec<String> = (0..300)
        .map(|i| format!("{i:04}{}", "z".repeat(3996)))
        .collect();
    for text in &texts {
        test.node.add_data(text.clone()).await.unwrap();
    }
    let mut templates = test.node.watch_template();
    templates
        .wait_for(|template| !template.entries.is_empty())
        .await
        .unwrap();
    let mut ws = test.ws("/ws/mine").await;
    let job = hello(&mut ws, "frank").await;
    assert_eq!(mine_job(&mut ws, &job).await["type"], "accepted");
    let (_, block) = test.node.block_at(1).unwrap().unwrap();
    let data: Vec<&str> = block.data().collect();
    assert!(block.encoded_len() <= max_block);
    assert!(
        data.len() > 200 && data.len() < 300,
        "{} entries",
        data.len()
    );
    assert_eq!(
        data,
        texts[..data.len()]
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
    );
    assert_eq!(test.node.snapshot().pending, 300 - data.len());
    // The rest go into the next block.
    let job = recv_type(&mut ws, "job").await;
    assert_eq!(mine_job(&mut ws, &job).await["type"], "accepted");
    assert_eq!(test.node.snapshot().pending, 0);
    test.stop().await;
}

/// A page of another site may not open the feeds of a visitor's local master (browsers always send
/// `Origin`); the master's own page, and clients without a page, may.
#[tokio::test]
async fn websockets_from_another_sites_page_are_refused() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let test = TestNode::start(NodeLimits::default()).await;
    let attempt = |path: &str, origin: Option<String>| {
        let mut request = format!("ws://{}{path}", test.addr)
            .into_client_request()
            .unwrap();
        if let Some(origin) = origin {
            request
                .headers_mut()
                .insert("origin", origin.parse().unwrap());
        }
        tokio_tungstenite::connect_async(request)
    };
    for path in ["/ws/mine", "/ws/events", "/ws/peer"] {
        let refused = attempt(path, Some("http://evil.example".into())).await;
        match refused {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                assert_eq!(response.status(), 403, "{path}");
            }
            other => panic!("{path}: expected 403, got {:?}", other.map(|_| ())),
        }
    }
    // DNS rebinding: the page's origin and the Host it sends agree, but name the master by a name.
    for path in ["/ws/mine", "/ws/events"] {
        let mut request = format!("ws://{}{path}", test.addr)
            .into_client_request()
            .unwrap();
        let headers = request.headers_mut();
        headers.insert("host", "evil.example:8000".parse().unwrap());
        headers.insert("origin", "http://evil.example:8000".parse().unwrap());
        match tokio_tungstenite::connect_async(request).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                assert_eq!(response.status(), 403, "{path}");
            }
            other => panic!("{path}: expected 403, got {:?}", other.map(|_| ())),
        }
    }
    let own_page = Some(format!("http://{}", test.addr));
    assert!(attempt("/ws/events", own_page.clone()).await.is_ok());
    assert!(attempt("/ws/mine", own_page).await.is_ok());
    assert!(attempt("/ws/events", None).await.is_ok());
    test.stop().await;
}

/// A message over the size limit closes the socket with the documented code 1009.
#[tokio::test]
async fn a_message_over_the_limit_gets_close_code_1009() {
    let test = TestNode::start(NodeLimits::default()).await;
    for path in ["/ws/mine", "/ws/events"] {
        let mut ws = test.ws(path).await;
        let huge = "x".repeat(NodeLimits::default().max_ws_message_bytes + 1);
        ws.send(Message::text(huge)).await.unwrap();
        assert_eq!(expect_close_frame(&mut ws).await, 1009, "{path}");
    }
    test.stop().await;
}

/// A socket that never says hello is closed (code 1008) once the hello deadline passes; a miner
/// that said hello keeps its connection past it.
#[tokio::test]
async fn a_feed_socket_without_hello_is_closed_at_the_deadline() {
    let limits = NodeLimits {
        hello_timeout: Duration::from_millis(300),
        ..NodeLimits::default()
    };
    let test = TestNode::start(limits).await;
    let mut silent = test.ws("/ws/mine").await;
    let mut miner = test.ws("/ws/mine").await;
    hello(&mut miner, "prompt").await;
    assert_eq!(expect_close_frame(&mut silent).await, 1008);
    // Well past the deadline, the miner that said hello still gets work.
    send(&mut miner, json!({"type": "get_work"})).await;
    assert_eq!(recv_type(&mut miner, "job").await["type"], "job");
    test.stop().await;
}
