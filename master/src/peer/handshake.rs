//! The first exchange on a link: both sides say hello; the link is refused for another network, a
//! master that dialed itself, or a banned IP.

use super::link_end::{LinkError, encode, misbehaved};
use super::outbox::Outbox;
use super::registry::Peers;
use super::socket::Frame;
use bbchain_core::peer::{Hello, HelloError, PEER_PROTOCOL_VERSION, PeerMessage};
use futures_util::{Stream, StreamExt};
use std::net::SocketAddr;
use std::pin::Pin;

/// A link's incoming frames.
pub(super) type Incoming = Pin<Box<dyn Stream<Item = anyhow::Result<Frame>> + Send>>;

/// Who opened the link.
pub(super) enum Direction {
    /// It dialed us from this socket address.
    Inbound(SocketAddr),
    /// We dialed `addr` (`host:port`), which resolved to `remote`.
    Outbound { addr: String, remote: SocketAddr },
}

impl Direction {
    /// The IP of the other end: where its socket came from, or what we dialed. Bans go by it.
    pub(super) fn ip(&self) -> std::net::IpAddr {
        match self {
            Direction::Inbound(remote) | Direction::Outbound { remote, .. } => remote.ip(),
        }
    }
}

/// Exchanges hellos; returns the peer's and the address it accepts peers on.
pub(super) async fn handshake(
    peers: &Peers,
    incoming: &mut Incoming,
    outbox: &Outbox,
    direction: &Direction,
) -> Result<(Hello, String), LinkError> {
    let node = peers.node();
    let snapshot = node.snapshot();
    let ours = Hello {
        version: PEER_PROTOCOL_VERSION,
        network_id: node.params().network_id,
        genesis: node.params().genesis_hash(),
        listen_port: Some(peers.inner.listen_port),
        tip: snapshot.tip,
        height: snapshot.height,
        chainwork: snapshot.chainwork,
        agent: concat!("bbchain/", env!("CARGO_PKG_VERSION")).into(),
        nonce: peers.inner.nonce,
    };
    if !outbox.try_queue(encode(&PeerMessage::Hello(ours.clone()))) {
        return Err(LinkError::Closed);
    }
    let hello_timeout = node.limits().hello_timeout;
    let first = tokio::time::timeout(hello_timeout, next_text(incoming))
        .await
        .map_err(|_| LinkError::Refused(format!("no hello within {hello_timeout:?}")))??;
    let theirs = match serde_json::from_str::<PeerMessage>(&first) {
        Ok(PeerMessage::Hello(hello)) => hello,
        Ok(PeerMessage::Reject { reason }) => {
            return Err(LinkError::Failed(anyhow::anyhow!(
                "refused by peer: {reason}"
            )));
        }
        Ok(_) => return Err(misbehaved("the first message is not a hello")),
        Err(err) => return Err(misbehaved(format!("bad hello: {err}"))),
    };
    let addr = match direction {
        Direction::Outbound { addr, .. } => addr.clone(),
        Direction::Inbound(remote) => match theirs.listen_port {
            Some(port) if port != 0 => SocketAddr::new(remote.ip(), port).to_string(),
            _ => String::new(),
        },
    };
    if let Err(err) = ours.check_peer(&theirs) {
        if let (HelloError::SelfConnection, Direction::Outbound { addr, .. }) = (&err, direction) {
            peers.mark_myself(addr);
        }
        if let HelloError::Network { expected, got } = err {
            let addr = match direction {
                Direction::Inbound(remote) if addr.is_empty() => remote.ip().to_string(),
                _ => addr,
            };
            let why = format!(
                "peer is on the {} network, this master on the {} network",
                chain_name(got),
                chain_name(expected)
            );
            return Err(LinkError::WrongChain { addr, why });
        }
        return Err(LinkError::Refused(err.to_string()));
    }
    if peers.banned_until(direction.ip()).is_some() {
        return Err(LinkError::Refused("banned for misbehaving".into()));
    }
    Ok((theirs, addr))
}

/// A chain's name ("main", "dev"), or its network id in hex for a chain we do not know.
fn chain_name(network_id: u32) -> String {
    bbchain_core::ChainParams::by_network_id(network_id).map_or_else(
        || format!("unknown ({network_id:08x})"),
        |p| p.name.to_string(),
    )
}

/// The next text frame; control frames are skipped, binary frames are a protocol error.
pub(super) async fn next_text(incoming: &mut Incoming) -> Result<String, LinkError> {
    loop {
        match incoming.next().await {
            None | Some(Ok(Frame::Close)) => return Err(LinkError::Closed),
            Some(Err(err)) => return Err(LinkError::Failed(err)),
            Some(Ok(Frame::Control)) => {}
            Some(Ok(Frame::Binary)) => return Err(misbehaved("binary frame")),
            Some(Ok(Frame::Text(text))) => return Ok(text),
        }
    }
}
