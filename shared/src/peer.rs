//! Messages between masters on the peer link (`/ws/peer`): handshake, headers-first sync, gossip of
//! new blocks and data entries, and peer lists. `docs/protocol.md` ("Peer protocol") documents them.
//!
//! Headers and blocks travel as hex of their canonical (Bitcoin-style) encodings: half the size of a
//! JSON object per header, and the receiver hashes exactly the bytes the sender meant.

use crate::block::Block;
use crate::hash::BlockHash;
use crate::header::Header;
use crate::params::MAX_BLOCK_BYTES;
use crate::target::Work;
use alloc::string::String;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

/// The version of this protocol; a peer with another version is refused at the handshake.
pub const PEER_PROTOCOL_VERSION: u32 = 1;
/// Most headers in one `headers` message (as in Bitcoin).
pub const MAX_HEADERS: usize = 2000;
/// Most block hashes in one `get_blocks` request.
pub const MAX_BLOCKS_PER_REQUEST: usize = 2000;
/// Bytes of encoded blocks a `blocks` answer may carry; the requester asks again for the rest.
pub const MAX_BLOCKS_BYTES: usize = 4_000_000;
/// Most hashes in a block locator.
pub const MAX_LOCATOR: usize = 101;
/// Most addresses in one `peers` message.
pub const MAX_PEER_ADDRS: usize = 100;
/// Most data entries in one `data` message.
pub const MAX_DATA_ENTRIES: usize = 1000;
/// Most transactions in one `txs` message.
pub const MAX_GOSSIP_TXS: usize = 100;
/// Largest text frame a master accepts on a peer link: a full `blocks` answer in hex plus room.
pub const MAX_PEER_MESSAGE_BYTES: usize = 2 * MAX_BLOCKS_BYTES + 2 * MAX_BLOCK_BYTES + 64 * 1024;

/// The first message each side sends on a new link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// [`PEER_PROTOCOL_VERSION`].
    pub version: u32,
    /// `ChainParams::network_id`; peers on other networks are refused.
    pub network_id: u32,
    /// The genesis hash; peers with another genesis are refused.
    pub genesis: BlockHash,
    /// The port this master accepts peers on, so the other side can tell its own peers about it.
    #[serde(default)]
    pub listen_port: Option<u16>,
    /// The sender's main-chain tip.
    pub tip: BlockHash,
    /// The tip's height.
    pub height: u32,
    /// The main chain's cumulative work.
    pub chainwork: Work,
    /// Free text such as `bbchain/0.1`.
    #[serde(default)]
    pub agent: String,
    /// A random number per process: a master that reaches itself sees its own nonce and hangs up.
    #[serde(default)]
    pub nonce: u64,
}

/// Everything one master says to another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PeerMessage {
    /// The handshake; nothing else may come before it.
    Hello(Hello),
    /// Asks for up to [`MAX_HEADERS`] main-chain headers after the first locator hash the receiver
    /// knows on its main chain (genesis when none).
    GetHeaders {
        /// Hashes from the sender's tip backwards, dense then exponentially sparse, ending at genesis.
        locator: Vec<BlockHash>,
    },
    /// The answer to `get_headers`: consecutive headers, each the parent of the next.
    Headers {
        /// Headers in chain order; fewer than [`MAX_HEADERS`] means the sender has no more.
        #[serde(with = "hex_headers")]
        headers: Vec<Header>,
    },
    /// Asks for whole blocks by hash.
    GetBlocks {
        /// At most [`MAX_BLOCKS_PER_REQUEST`] hashes.
        hashes: Vec<BlockHash>,
    },
    /// The answer to `get_blocks`: the requested blocks the sender has, in request order, cut at
    /// [`MAX_BLOCKS_BYTES`]; the requester asks again for what is missing.
    Blocks {
        /// The blocks.
        #[serde(with = "hex_blocks")]
        blocks: Vec<Block>,
    },
    /// Gossip: a block that just joined the sender's main chain.
    NewBlock {
        /// The block.
        #[serde(with = "hex_block")]
        block: Block,
        /// Its height.
        height: u32,
        /// The sender's chainwork with this block as tip.
        chainwork: Work,
    },
    /// Gossip: data entries the sender just queued.
    Data {
        /// The texts, at most [`MAX_DATA_ENTRIES`].
        entries: Vec<String>,
    },
    /// Gossip: transactions the sender just took into its mempool.
    Txs {
        /// Each transaction's canonical encoding in hex, at most [`MAX_GOSSIP_TXS`].
        txs: Vec<String>,
    },
    /// Asks for the addresses of the receiver's peers.
    GetPeers,
    /// Masters the sender knows, as `host:port` where they accept peers.
    Peers {
        /// At most [`MAX_PEER_ADDRS`] addresses.
        addrs: Vec<String>,
    },
    /// Why the sender is about to close the link.
    Reject {
        /// In words.
        reason: String,
    },
}

/// Why a peer's handshake is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HelloError {
    /// Another protocol version.
    #[error("peer protocol version {got}, expected {expected}")]
    Version {
        /// Ours.
        expected: u32,
        /// Theirs.
        got: u32,
    },
    /// Another network.
    #[error("peer is on network {got:08x}, expected {expected:08x}")]
    Network {
        /// Ours.
        expected: u32,
        /// Theirs.
        got: u32,
    },
    /// Same network id, another genesis.
    #[error("peer has genesis {got}, expected {expected}")]
    Genesis {
        /// Ours.
        expected: BlockHash,
        /// Theirs.
        got: BlockHash,
    },
    /// The link loops back to the sender.
    #[error("connected to myself")]
    SelfConnection,
}

impl Hello {
    /// Checks a peer's hello against ours.
    pub fn check_peer(&self, theirs: &Hello) -> Result<(), HelloError> {
        if theirs.version != self.version {
            return Err(HelloError::Version {
                expected: self.version,
                got: theirs.version,
            });
        }
        if theirs.network_id != self.network_id {
            return Err(HelloError::Network {
                expected: self.network_id,
                got: theirs.network_id,
            });
        }
        if theirs.genesis != self.genesis {
            return Err(HelloError::Genesis {
                expected: self.genesis,
                got: theirs.genesis,
            });
        }
        if theirs.nonce != 0 && theirs.nonce == self.nonce {
            return Err(HelloError::SelfConnection);
        }
        Ok(())
    }
}

/// Heights of a block locator for a chain whose tip is at `tip_height`: the last ten one by one,
/// then doubling steps back, always ending at genesis (height 0). As in Bitcoin.
pub fn locator_heights(tip_height: u32) -> Vec<u32> {
    let mut heights = Vec::new();
    let mut height = i64::from(tip_height);
    let mut step = 1i64;
    while height > 0 {
        heights.push(height as u32);
        if heights.len() >= 10 {
            step *= 2;
        }
        height -= step;
    }
    heights.push(0);
    heights
}

mod hex_headers {
    use super::*;
    use serde::de::Error;

    pub fn serialize<S: serde::Serializer>(headers: &[Header], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(headers.iter().map(|h| hex::encode(h.to_bytes())))
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Header>, D::Error> {
        let texts: Vec<String> = Deserialize::deserialize(d)?;
        if texts.len() > MAX_HEADERS {
            return Err(D::Error::custom("too many headers"));
        }
        texts
            .into_iter()
            .map(|text| {
                let mut bytes = [0u8; Header::SIZE];
                hex::decode_to_slice(text, &mut bytes)
                    .map_err(|_| D::Error::custom("a header is 160 hex digits"))?;
                Header::from_bytes(&bytes).map_err(D::Error::custom)
            })
            .collect()
    }
}

/// Decodes one block from hex, refusing anything over the largest block any chain allows before
/// decoding it.
fn block_from_hex<E: serde::de::Error>(text: &str) -> Result<Block, E> {
    if text.len() > 2 * MAX_BLOCK_BYTES {
        return Err(E::custom("a block is at most 1,000,000 bytes"));
    }
    let bytes = hex::decode(text).map_err(|_| E::custom("a block is hex"))?;
    Block::from_bytes(&bytes, MAX_BLOCK_BYTES).map_err(E::custom)
}

mod hex_block {
    use super::*;

    pub fn serialize<S: serde::Serializer>(block: &Block, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(block.to_bytes()))
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Block, D::Error> {
        let text: String = Deserialize::deserialize(d)?;
        block_from_hex(&text)
    }
}

mod hex_blocks {
    use super::*;
    use serde::de::Error;

    pub fn serialize<S: serde::Serializer>(blocks: &[Block], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(blocks.iter().map(|b| hex::encode(b.to_bytes())))
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Block>, D::Error> {
        let texts: Vec<String> = Deserialize::deserialize(d)?;
        if texts.len() > MAX_BLOCKS_PER_REQUEST {
            return Err(D::Error::custom("too many blocks"));
        }
        texts.iter().map(|text| block_from_hex(text)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::ChainParams;
    use alloc::string::ToString;
    use alloc::vec;

    fn hello(params: &ChainParams) -> Hello {
        Hello {
            version: PEER_PROTOCOL_VERSION,
            network_id: params.network_id,
            genesis: params.genesis_hash(),
            listen_port: Some(8000),
            tip: params.genesis_hash(),
            height: 0,
            chainwork: Work::ZERO,
            agent: "test".into(),
            nonce: 7,
        }
    }

    fn roundtrip(message: &PeerMessage) -> PeerMessage {
        let text = serde_json::to_string(message).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    #[test]
    fn messages_roundtrip_through_json() {
        let params = ChainParams::dev();
        let genesis = params.genesis_block();
        let messages = [
            PeerMessage::Hello(hello(&params)),
            PeerMessage::GetHeaders {
                locator: vec![genesis.hash()],
            },
            PeerMessage::Headers {
                headers: vec![genesis.header, genesis.header],
            },
            PeerMessage::GetBlocks {
                hashes: vec![genesis.hash()],
            },
            PeerMessage::Blocks {
                blocks: vec![genesis.clone()],
            },
            PeerMessage::NewBlock {
                block: genesis.clone(),
                height: 0,
                chainwork: Work::ZERO,
            },
            PeerMessage::Data {
                entries: vec!["hello".to_string()],
            },
            PeerMessage::GetPeers,
            PeerMessage::Peers {
                addrs: vec!["127.0.0.1:8000".to_string()],
            },
            PeerMessage::Reject {
                reason: "bye".to_string(),
            },
        ];
        for message in &messages {
            assert_eq!(&roundtrip(message), message);
        }
    }

    #[test]
    fn headers_travel_as_hex() {
        let genesis = ChainParams::dev().genesis_block();
        let text = serde_json::to_string(&PeerMessage::Headers {
            headers: vec![genesis.header],
        })
        .unwrap();
        let expected = hex::encode(genesis.header.to_bytes());
        assert_eq!(
            text,
            alloc::format!(r#"{{"type":"headers","headers":["{expected}"]}}"#)
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for text in [
            r#"{"type":"headers","headers":["zz"]}"#,
            r#"{"type":"headers","headers":["00"]}"#,
            r#"{"type":"blocks","blocks":["0011"]}"#,
            r#"{"type":"new_block","block":"", "height":1,"chainwork":"00"}"#,
            r#"{"type":"get_blocks","hashes":["1234"]}"#,
            r#"{"type":"nope"}"#,
            "[]",
        ] {
            assert!(serde_json::from_str::<PeerMessage>(text).is_err(), "{text}");
        }
    }

    proptest::proptest! {
        /// Whatever a peer sends, decoding returns a message or an error and never panics.
        #[test]
        fn any_text_decodes_or_fails_cleanly(text in ".{0,300}") {
            let _ = serde_json::from_str::<PeerMessage>(&text);
        }

        /// Random bytes as a block or header in a message are refused or decoded, never a panic.
        #[test]
        fn any_hex_payload_decodes_or_fails_cleanly(bytes in proptest::collection::vec(0u8..=255, 0..400)) {
            let hex = hex::encode(&bytes);
            for text in [
                alloc::format!(r#"{{"type":"blocks","blocks":["{hex}"]}}"#),
                alloc::format!(r#"{{"type":"headers","headers":["{hex}"]}}"#),
                alloc::format!(r#"{{"type":"new_block","block":"{hex}","height":1,"chainwork":"{}"}}"#, "00".repeat(32)),
            ] {
                if let Ok(PeerMessage::Blocks { blocks }) = serde_json::from_str::<PeerMessage>(&text) {
                    proptest::prop_assert_eq!(blocks[0].to_bytes(), bytes.clone());
                }
            }
        }
    }

    #[test]
    fn hello_checks_network_genesis_version_and_self() {
        let dev = ChainParams::dev();
        let ours = hello(&dev);
        let mut theirs = Hello {
            nonce: 8,
            ..ours.clone()
        };
        assert_eq!(ours.check_peer(&theirs), Ok(()));
        theirs.nonce = 7;
        assert_eq!(ours.check_peer(&theirs), Err(HelloError::SelfConnection));
        let main = hello(&ChainParams::main());
        assert!(matches!(
            ours.check_peer(&Hello {
                nonce: 8,
                ..main.clone()
            }),
            Err(HelloError::Network { .. })
        ));
        let other_genesis = Hello {
            network_id: dev.network_id,
            nonce: 8,
            ..main
        };
        assert!(matches!(
            ours.check_peer(&other_genesis),
            Err(HelloError::Genesis { .. })
        ));
        let newer = Hello {
            version: 2,
            nonce: 8,
            ..ours.clone()
        };
        assert!(matches!(
            ours.check_peer(&newer),
            Err(HelloError::Version { .. })
        ));
    }

    #[test]
    fn locator_is_dense_then_sparse_and_ends_at_genesis() {
        assert_eq!(locator_heights(0), vec![0]);
        assert_eq!(locator_heights(3), vec![3, 2, 1, 0]);
        let heights = locator_heights(100_000);
        assert_eq!(
            &heights[..10],
            &[
                100_000, 99_999, 99_998, 99_997, 99_996, 99_995, 99_994, 99_993, 99_992, 99_991
            ]
        );
        assert_eq!(heights[10], 99_989);
        assert_eq!(*heights.last().unwrap(), 0);
        assert!(heights.len() <= 30);
        assert!(heights.windows(2).all(|pair| pair[0] > pair[1]));
        assert!(locator_heights(u32::MAX).len() <= MAX_LOCATOR);
    }
}
