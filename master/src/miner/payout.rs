//! What the mined blocks pay: an address given as text, or the wallet's key, written as an address
//! of the network of the master the miner is talking to (a miner has no `--chain` of its own).

use bbchain_core::keys::PublicKey;
use bbchain_core::{ChainParams, address};

/// Whom the coinbase of a found block pays.
#[derive(Debug, Clone)]
pub enum Payout {
    /// Nobody: the hello names no address (tests and benchmarks).
    Nobody,
    /// `--address ADDR`, checked against each master's network.
    Address(String),
    /// The wallet's key.
    Key(PublicKey),
}

/// Why no address could be named to a master.
#[derive(Debug)]
pub enum PayoutError {
    /// The master did not say its network: try again later, like a lost connection.
    Retry(String),
    /// `--address` is no address of the master's network: mining would earn nothing, so stop.
    Fatal(anyhow::Error),
}

impl Payout {
    /// The address to put in the hello to `node`, as that master's network writes it.
    pub async fn address_for(&self, node: &str) -> Result<Option<String>, PayoutError> {
        if let Payout::Nobody = self {
            return Ok(None);
        }
        let params = network_of(node).await.map_err(PayoutError::Retry)?;
        self.address_on(&params).map(Some)
    }

    /// The address on the network of `params`.
    fn address_on(&self, params: &ChainParams) -> Result<String, PayoutError> {
        match self {
            Payout::Nobody => Err(PayoutError::Fatal(anyhow::anyhow!("no payout address"))),
            Payout::Address(text) => match address::decode(text, params) {
                Ok(_) => Ok(text.clone()),
                Err(err) => Err(PayoutError::Fatal(anyhow::anyhow!(
                    "--address {text}: {err}"
                ))),
            },
            Payout::Key(key) => Ok(address::encode(key, params)),
        }
    }
}

/// The chain rules of the master at `node`, from the `network` of its `/api/status`.
async fn network_of(node: &str) -> Result<ChainParams, String> {
    let (status, answer) = crate::client::call(node, "GET", "/api/status", None)
        .await
        .map_err(|err| format!("{err:#}"))?;
    let name = answer["network"].as_str().unwrap_or_default();
    match ChainParams::by_name(name) {
        Some(params) if status == 200 => Ok(params),
        _ => Err(format!("{node} did not say its network ({status})")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bbchain_core::keys::SecretKey;

    #[test]
    fn a_key_is_written_for_the_network_and_an_address_must_match_it() {
        let key = SecretKey::from_bytes([7; 32]).unwrap().public_key();
        let (main, dev) = (ChainParams::main(), ChainParams::dev());
        let on_dev = Payout::Key(key).address_on(&dev).ok().unwrap();
        assert!(on_dev.starts_with("bbdev1"), "{on_dev}");
        assert_eq!(
            Payout::Address(on_dev.clone()).address_on(&dev).ok(),
            Some(on_dev.clone())
        );
        let Err(PayoutError::Fatal(err)) = Payout::Address(on_dev).address_on(&main) else {
            panic!("a dev address paid on main");
        };
        assert!(err.to_string().contains("dev-network address"), "{err}");
    }
}
