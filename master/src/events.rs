//! The event feed `/ws/events`: the page's live view of the chain (see `docs/protocol.md`).

use crate::keepalive::WsKeepAlive;
use crate::node::NodeEvent;
use crate::state::{AppState, close_after_error, say_goodbye};
use crate::views::{self, BlockSummary};
use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use serde_json::{Value, json};
use tokio::sync::OwnedSemaphorePermit;
use tokio::sync::broadcast::error::RecvError;

/// `GET /ws/events`.
pub async fn events(
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    headers: axum::http::HeaderMap,
    extensions: axum::http::Extensions,
    State(app): State<AppState>,
) -> Response {
    app.upgrade(ws, &headers, &extensions, run)
}

fn status_message(app: &AppState) -> Value {
    json!({"type": "status", "status": views::status(&app.node, &app.node.snapshot())})
}

/// The JSON of one event.
pub fn event_message(app: &AppState, event: &NodeEvent) -> Value {
    match event {
        NodeEvent::BlockConnected { block, height } => json!({
            "type": "block",
            "block": BlockSummary::of(block, *height, app.node.params()),
        }),
        NodeEvent::Reorg {
            detached,
            height,
            tip,
        } => json!({"type": "reorg", "detached": detached, "height": height, "tip": tip}),
        NodeEvent::DataAdded { id } => json!({"type": "data", "id": id, "status": "pending"}),
        NodeEvent::DataConfirmed { id, height, block } => json!({
            "type": "data", "id": id, "status": "confirmed", "height": height, "block": block,
        }),
        NodeEvent::TxAdded { txid } => json!({"type": "tx", "txid": txid, "status": "pending"}),
        NodeEvent::TxConfirmed {
            txid,
            height,
            block,
        } => json!({
            "type": "tx", "txid": txid, "status": "confirmed", "height": height, "block": block,
        }),
        NodeEvent::Miners { count } => json!({"type": "miners", "count": count}),
        // The page shows storage health from the status.
        NodeEvent::Storage => status_message(app),
    }
}

async fn run(mut socket: WebSocket, app: AppState, _permit: OwnedSemaphorePermit) {
    let mut events = app.node.subscribe();
    let mut next = Some(status_message(&app));
    let mut alive = WsKeepAlive::new(app.node.limits());
    loop {
        if let Some(message) = next.take() {
            let text = message.to_string();
            if !alive.send(&mut socket, Message::Text(text.into())).await {
                break;
            }
        }
        next = tokio::select! {
            event = events.recv() => match event {
                Ok(event) => Some(event_message(&app, &event)),
                // Too slow to keep up: start again from the current status.
                Err(RecvError::Lagged(_)) => Some(status_message(&app)),
                Err(RecvError::Closed) => break,
            },
            message = alive.recv(&mut socket) => match message {
                Some(Err(err)) => {
                    close_after_error(&mut socket, &err).await;
                    break;
                }
                Some(Ok(Message::Close(_))) | None => break,
                Some(Ok(_)) => None,
            },
            () = app.shutdown.cancelled() => {
                say_goodbye(&mut socket).await;
                break;
            }
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::NodeConfig;
    use crate::node::Node;
    use bbchain_core::{BlockHash, ChainParams, DataId};
    use std::sync::Arc;

    #[test]
    fn events_have_the_documented_shapes() {
        let dir = tempfile::tempdir().unwrap();
        let params = ChainParams::dev();
        let genesis = Arc::new(params.genesis_block());
        let config = NodeConfig::new(params, dir.path().join("chain.redb"));
        let (node, task) = Node::start(config).unwrap();
        let app = AppState::new(node, tokio_util::sync::CancellationToken::new());
        let id = DataId::from_byte_array([1; 32]);
        let tip = BlockHash::from_byte_array([2; 32]);
        let block = event_message(
            &app,
            &NodeEvent::BlockConnected {
                block: genesis,
                height: 0,
            },
        );
        assert_eq!(block["type"], "block");
        assert_eq!(block["block"]["height"], 0);
        assert_eq!(block["block"]["entries"], 0);
        assert_eq!(
            event_message(
                &app,
                &NodeEvent::Reorg {
                    detached: 3,
                    height: 41,
                    tip
                }
            ),
            json!({"type": "reorg", "detached": 3, "height": 41, "tip": tip})
        );
        assert_eq!(
            event_message(&app, &NodeEvent::DataAdded { id }),
            json!({"type": "data", "id": id, "status": "pending"})
        );
        assert_eq!(
            event_message(
                &app,
                &NodeEvent::DataConfirmed {
                    id,
                    height: 42,
                    block: tip
                }
            ),
            json!({"type": "data", "id": id, "status": "confirmed", "height": 42, "block": tip})
        );
        assert_eq!(
            event_message(&app, &NodeEvent::Miners { count: 3 }),
            json!({"type": "miners", "count": 3})
        );
        drop(app);
        task.shutdown();
    }
}
