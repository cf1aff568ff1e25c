//! Opening a master's work feed: try the `--nodes` in order and take the first that answers.

use std::time::Duration;

use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// A connection to a master's work feed.
pub type FeedStream = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long one master gets to accept the connection before the next is tried.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Feed messages are a few hundred bytes; anything far larger is not from a sane master.
const MAX_MESSAGE_BYTES: usize = 64 * 1024;
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
    fn the_feed_lives_at_ws_mine() {
        assert_eq!(feed_url("127.0.0.1:8000"), "ws://127.0.0.1:8000/ws/mine");
    }
}
