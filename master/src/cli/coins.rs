//! `--balance [ADDR]` and `--send AMOUNT --to ADDR`: the wallet's coins as a master sees them, and
//! a signed transfer from the wallet. Amounts are decimal coins here and units in the API.

use super::add::{self, Wait};
use crate::client::{self, error_text};
use crate::wallet_file;
use anyhow::{Context, anyhow, bail};
use bbchain_core::amount::Amount;
use bbchain_core::hash::Txid;
use bbchain_core::keys::PublicKey;
use bbchain_core::transfer::{self, Coin, DUST, Fee, Short};
use bbchain_core::{ChainParams, OutPoint, address};
use serde_json::{Value, json};
use std::io::Write;
use std::path::Path;

/// The fee rate of `--send` without `--fee`, in units per byte of the transaction (the core's
/// suggestion, twice the nodes' minimum relay fee).
pub use bbchain_core::transfer::DEFAULT_FEE_PER_BYTE;

/// Prints the confirmed, immature and pending coins of `address`, or of the wallet at `wallet`.
pub async fn balance(node: &str, address: Option<&str>, wallet: &Path) -> anyhow::Result<()> {
    let params = network(node).await?;
    let text = match address {
        Some(text) => {
            parse_address(text, &params)?;
            text.to_string()
        }
        None => address::encode(&wallet_file::load_wallet(wallet)?.public_key(), &params),
    };
    let info = address_info(node, &text).await?;
    println!("address:   {text}");
    println!("confirmed: {} coins", units(&info, "balance")?);
    println!("immature:  {} coins", units(&info, "immature")?);
    println!("pending:   {} coins", units(&info, "pending")?);
    Ok(())
}

/// What `--send` was asked for, as typed.
pub struct SendRequest<'a> {
    pub amount: &'a str,
    pub to: &'a str,
    pub fee: Option<&'a str>,
    pub wait: Wait,
}

/// Picks the wallet's coins, signs a transfer of `amount` to `to` with change back to the wallet,
/// sends it to `node`, prints its txid, and waits for its block if asked.
pub async fn send(node: &str, wallet: &Path, request: &SendRequest<'_>) -> anyhow::Result<()> {
    let amount = parse_amount(request.amount, "--send")?;
    anyhow::ensure!(
        amount >= DUST,
        "cannot send {amount} coins: the least the nodes relay is {DUST} coins"
    );
    let fee = match request.fee {
        Some(text) => Fee::Fixed(parse_amount(text, "--fee")?),
        None => Fee::PerByte(DEFAULT_FEE_PER_BYTE),
    };
    let key = wallet_file::load_wallet(wallet)?;
    let params = network(node).await?;
    let to = parse_address(request.to, &params)?;
    let from = address::encode(&key.public_key(), &params);
    let info = address_info(node, &from).await?;
    let coins = spendable_coins(&info)?;
    let selection = transfer::select(&coins, amount, fee, DUST, transfer::tx_size)
        .map_err(|short| not_enough(short, &info))?;
    let mut aux = zeroize::Zeroizing::new([0u8; 32]);
    getrandom::fill(&mut aux[..]).context("the system gave no randomness")?;
    let tx = transfer::signed_transfer(&params, &key, (to, amount), &selection, &aux);
    let txid = tx.txid();
    let body = json!({"tx": hex::encode(tx.to_bytes())});
    let (status, answer) = client::call(node, "POST", "/api/tx", Some(&body)).await?;
    if status != 202 {
        bail!(
            "{node} refused the transaction ({status}): {}",
            error_text(&answer)
        );
    }
    println!("{txid}");
    std::io::stdout().flush()?;
    let path = format!("/api/tx/{txid}");
    if let Some(confirmed) = add::wait_for_block(node, &path, "transaction", request.wait).await? {
        add::print_block(&confirmed);
    }
    Ok(())
}

/// The chain rules of the master at `node` (its `/api/status` `network`), checked against its
/// genesis: signatures commit to the genesis, so a mismatch could never be spent there.
async fn network(node: &str) -> anyhow::Result<ChainParams> {
    let (status, answer) = client::call(node, "GET", "/api/status", None).await?;
    if status != 200 {
        bail!("{node} answered {status}: {}", error_text(&answer));
    }
    let name = answer["network"].as_str().unwrap_or_default();
    let params = ChainParams::by_name(name)
        .with_context(|| format!("{node} runs a network this bbchain does not know ({name:?})"))?;
    let genesis = params.genesis_hash().to_string();
    if answer["genesis"].as_str() != Some(genesis.as_str()) {
        bail!("{node} runs another {name} chain than this bbchain (its genesis differs)");
    }
    Ok(params)
}

/// `text` as an address of the network of `params`, or one line saying what is wrong with it.
fn parse_address(text: &str, params: &ChainParams) -> anyhow::Result<PublicKey> {
    address::decode(text, params).map_err(|err| anyhow!("bad address {text}: {err}"))
}

/// Decimal coins given to `flag`.
fn parse_amount(text: &str, flag: &str) -> anyhow::Result<Amount> {
    text.parse()
        .map_err(|err| anyhow!("bad amount {text:?} for {flag}: {err}"))
}

/// `GET /api/address/{text}`.
async fn address_info(node: &str, text: &str) -> anyhow::Result<Value> {
    let (status, answer) = client::call(node, "GET", &format!("/api/address/{text}"), None).await?;
    if status != 200 {
        bail!("{node} answered {status}: {}", error_text(&answer));
    }
    Ok(answer)
}

/// An amount in units from an answer's `key`.
fn units(answer: &Value, key: &str) -> anyhow::Result<Amount> {
    answer[key]
        .as_u64()
        .map(Amount::from_units)
        .with_context(|| format!("the master's answer has no {key}"))
}

/// The address's outputs the next block may spend and no pending transaction spends yet.
fn spendable_coins(info: &Value) -> anyhow::Result<Vec<Coin>> {
    let rows = info["utxos"].as_array().map_or(&[][..], Vec::as_slice);
    let mut coins = Vec::with_capacity(rows.len());
    for row in rows {
        if row["mature"] != true || !row["spent_by"].is_null() {
            continue;
        }
        let txid: Txid = row["txid"]
            .as_str()
            .and_then(|text| text.parse().ok())
            .context("the master's answer has an output without a txid")?;
        let vout = row["vout"]
            .as_u64()
            .and_then(|vout| u32::try_from(vout).ok())
            .context("the master's answer has an output without a vout")?;
        coins.push(Coin {
            outpoint: OutPoint { txid, vout },
            value: units(row, "value")?,
        });
    }
    Ok(coins)
}

/// "not enough coins: …", with what is spendable and what is not yet.
fn not_enough(short: Short, info: &Value) -> anyhow::Error {
    let amount = |key: &str| units(info, key).unwrap_or(Amount::ZERO);
    anyhow!(
        "not enough coins: this send needs {} with its fee, and {} is spendable ({} immature, {} pending)",
        short.needed,
        short.spendable,
        amount("immature"),
        amount("pending"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(n: u8) -> bbchain_core::keys::SecretKey {
        bbchain_core::keys::SecretKey::from_bytes([n; 32]).unwrap()
    }

    fn utxo(n: u8, value: u64, mature: bool, spent_by: Value) -> Value {
        json!({
            "txid": Txid::from_byte_array([n; 32]).to_string(), "vout": n, "value": value,
            "height": 1, "coinbase": true, "mature": mature, "spent_by": spent_by,
        })
    }

    #[test]
    fn only_mature_outputs_no_pending_transaction_spends_are_picked() {
        let pending = Txid::from_byte_array([9; 32]).to_string();
        let info = json!({"utxos": [
            utxo(1, 5_000, true, Value::Null),
            utxo(2, 6_000, false, Value::Null),
            utxo(3, 7_000, true, json!(pending)),
        ]});
        let coins = spendable_coins(&info).unwrap();
        assert_eq!(coins.len(), 1);
        assert_eq!(coins[0].outpoint.vout, 1);
        assert_eq!(coins[0].value, Amount::from_units(5_000));
    }

    #[test]
    fn not_enough_names_what_is_spendable_and_what_is_not_yet() {
        let info = json!({"balance": 0, "immature": 5_000_000_000u64, "pending": 100_000_000});
        let short = Short {
            needed: Amount::from_units(100_000_500),
            spendable: Amount::ZERO,
        };
        assert_eq!(
            not_enough(short, &info).to_string(),
            "not enough coins: this send needs 1.000005 with its fee, and 0 is spendable (50 immature, 1 pending)"
        );
    }

    #[test]
    fn bad_amounts_and_addresses_are_one_line() {
        let err = parse_amount("1.5.2", "--send").unwrap_err().to_string();
        assert_eq!(
            err,
            "bad amount \"1.5.2\" for --send: the amount is not a number of coins like 12.5"
        );
        let main = address::encode(&secret(3).public_key(), &ChainParams::main());
        let err = parse_address(&main, &ChainParams::dev())
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(&format!("bad address {main}: a main-network address")),
            "{err}"
        );
    }
}
