//! How a link ends, and the one way a peer message becomes text: shared by the socket loop and
//! the modules that answer, gossip and shake hands for it.

use bbchain_core::peer::PeerMessage;

/// Why a link ends.
#[derive(Debug)]
pub(super) enum LinkError {
    /// The other side hung up, or we are done.
    Closed,
    /// A socket or storage error.
    Failed(anyhow::Error),
    /// The peer broke the protocol or sent invalid blocks: it is banned for a while.
    Misbehaved(String),
    /// We refuse the link without blaming the peer (another network, a clock far ahead).
    Refused(String),
    /// The peer is on another chain; `addr` is where it is (its listen address when known), so
    /// the refusal is logged at WARN once per address and at DEBUG on every retry after.
    WrongChain { addr: String, why: String },
}

impl From<anyhow::Error> for LinkError {
    fn from(err: anyhow::Error) -> LinkError {
        LinkError::Failed(err)
    }
}

pub(super) fn misbehaved(why: impl Into<String>) -> LinkError {
    LinkError::Misbehaved(why.into())
}

/// The JSON text of a message.
pub(super) fn encode(message: &PeerMessage) -> String {
    serde_json::to_string(message).expect("peer messages always serialize")
}
