//! The page's wallet, in Rust: keys are derived and used only here, by the same core code as the
//! CLI (`bbchain_core::wallet` and `bbchain_core::transfer`). JavaScript holds the mnemonic only
//! to pass it in (and encrypted at rest); it never sees a secret key.

use bbchain_core::amount::Amount;
use bbchain_core::transfer::{self, Coin, DUST, Fee};
use bbchain_core::{ChainParams, OutPoint, Txid, address, wallet};
use wasm_bindgen::prelude::*;

/// The chain rules called `network` ("main", "dev", …), or an error naming it.
fn params(network: &str) -> Result<ChainParams, JsError> {
    ChainParams::by_name(network)
        .ok_or_else(|| JsError::new(&format!("unknown network {network:?}")))
}

/// A new 24-word BIP-39 mnemonic from 32 bytes of entropy (`crypto.getRandomValues`).
#[wasm_bindgen(js_name = newMnemonic)]
pub fn new_mnemonic(entropy: &[u8]) -> Result<String, JsError> {
    let entropy: &[u8; 32] = entropy
        .try_into()
        .map_err(|_| JsError::new("the entropy must be 32 bytes"))?;
    Ok(wallet::new_mnemonic(entropy))
}

/// The address of the wallet with this mnemonic on `network`. Throws with the core's words when
/// the phrase is wrong (an unknown word, a bad checksum, a wrong word count).
#[wasm_bindgen(js_name = walletAddress)]
pub fn wallet_address(mnemonic: &str, network: &str) -> Result<String, JsError> {
    let params = params(network)?;
    let key =
        wallet::secret_from_mnemonic(mnemonic).map_err(|err| JsError::new(&err.to_string()))?;
    Ok(address::encode(&key.public_key(), &params))
}

/// What is wrong with `text` as an address on `network` (checksum, another network, …), or
/// `undefined` when it is a good one.
#[wasm_bindgen(js_name = addressProblem)]
pub fn address_problem(text: &str, network: &str) -> Result<Option<String>, JsError> {
    let params = params(network)?;
    Ok(address::decode(text.trim(), &params)
        .err()
        .map(|err| err.to_string()))
}

/// The fee rate wallets suggest, in units per byte (the core's, as `bbchain --send` uses).
#[wasm_bindgen(js_name = suggestedFeePerByte)]
pub fn suggested_fee_per_byte() -> u32 {
    transfer::DEFAULT_FEE_PER_BYTE as u32
}

/// A signed transfer, ready for `POST /api/tx`.
#[wasm_bindgen]
pub struct SignedTransfer {
    hex: String,
    txid: String,
    fee: String,
}

#[wasm_bindgen]
impl SignedTransfer {
    /// The encoded transaction, in hex.
    #[wasm_bindgen(getter)]
    pub fn hex(&self) -> String {
        self.hex.clone()
    }
    /// Its txid, in display order.
    #[wasm_bindgen(getter)]
    pub fn txid(&self) -> String {
        self.txid.clone()
    }
    /// The fee it pays, in decimal coins.
    #[wasm_bindgen(getter)]
    pub fn fee(&self) -> String {
        self.fee.clone()
    }
}

/// The outputs of `utxos` (the `utxos` array of `GET /api/address/{addr}`, as JSON) that the next
/// block may spend and no pending transaction spends yet: the CLI's rule.
fn spendable(utxos: &str) -> Result<Vec<Coin>, JsError> {
    let rows: Vec<serde_json::Value> =
        serde_json::from_str(utxos).map_err(|err| JsError::new(&format!("utxos: {err}")))?;
    let bad = || JsError::new("utxos: an output without txid, vout or value");
    let mut coins = Vec::new();
    for row in rows {
        if row["mature"] != true || !row["spent_by"].is_null() {
            continue;
        }
        let txid: Txid = row["txid"]
            .as_str()
            .and_then(|t| t.parse().ok())
            .ok_or_else(bad)?;
        let vout = row["vout"]
            .as_u64()
            .and_then(|v| u32::try_from(v).ok())
            .ok_or_else(bad)?;
        let value = row["value"]
            .as_u64()
            .map(Amount::from_units)
            .ok_or_else(bad)?;
        coins.push(Coin {
            outpoint: OutPoint { txid, vout },
            value,
        });
    }
    Ok(coins)
}

/// Signs a transfer of `amount` (decimal coins, as typed) to `to` from the wallet of `mnemonic` on
/// `network`, spending its spendable `utxos` (JSON, as the API gives them) at `fee_per_byte`, with
/// change back to the wallet and `aux` (32 fresh random bytes) as BIP-340's auxiliary data.
/// Throws with one plain sentence when the address, amount or balance does not do.
#[wasm_bindgen(js_name = signTransfer)]
pub fn sign_transfer(
    mnemonic: &str,
    network: &str,
    utxos: &str,
    to: &str,
    amount: &str,
    fee_per_byte: u32,
    aux: &[u8],
) -> Result<SignedTransfer, JsError> {
    let params = params(network)?;
    let aux: &[u8; 32] = aux
        .try_into()
        .map_err(|_| JsError::new("aux must be 32 bytes"))?;
    let key =
        wallet::secret_from_mnemonic(mnemonic).map_err(|err| JsError::new(&err.to_string()))?;
    let to = address::decode(to.trim(), &params)
        .map_err(|err| JsError::new(&format!("bad address: {err}")))?;
    let amount: Amount = amount
        .trim()
        .parse()
        .map_err(|err| JsError::new(&format!("bad amount: {err}")))?;
    if amount < DUST {
        return Err(JsError::new(&format!(
            "cannot send {amount} coins: the least the nodes relay is {DUST} coins"
        )));
    }
    let coins = spendable(utxos)?;
    let fee = Fee::PerByte(u64::from(fee_per_byte));
    let selection =
        transfer::select(&coins, amount, fee, DUST, transfer::tx_size).map_err(|short| {
            JsError::new(&format!(
                "not enough coins: this send needs {} with its fee, and {} is spendable",
                short.needed, short.spendable
            ))
        })?;
    let tx = transfer::signed_transfer(&params, &key, (to, amount), &selection, aux);
    Ok(SignedTransfer {
        hex: hex::encode(tx.to_bytes()),
        txid: tx.txid().to_string(),
        fee: selection.fee.to_string(),
    })
}

/// The QR code of `text` (an address) as its module matrix: `width * width` bytes, row by row,
/// 1 for a dark module. The page draws it as SVG squares; nothing leaves the browser.
#[wasm_bindgen(js_name = qrModules)]
pub fn qr_modules(text: &str) -> Result<Vec<u8>, JsError> {
    let code = qrcode::QrCode::with_error_correction_level(text.as_bytes(), qrcode::EcLevel::M)
        .map_err(|err| JsError::new(&format!("QR code: {err}")))?;
    Ok(code
        .to_colors()
        .into_iter()
        .map(|color| u8::from(color == qrcode::Color::Dark))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bbchain_core::Transaction;
    use bbchain_core::keys::verify;

    const PHRASE: &str = "legal winner thank year wave sausage worth useful legal winner thank year wave sausage worth useful legal winner thank year wave sausage worth title";

    #[test]
    fn a_new_mnemonic_gives_the_cli_address() {
        let phrase = new_mnemonic(&[0x7f; 32]).unwrap();
        assert_eq!(phrase, PHRASE);
        let key = wallet::secret_from_mnemonic(PHRASE).unwrap();
        assert_eq!(
            wallet_address(&phrase, "dev").unwrap(),
            address::encode(&key.public_key(), &ChainParams::dev())
        );
    }

    #[test]
    fn address_problems_are_the_cores_words() {
        let dev = wallet_address(PHRASE, "dev").unwrap();
        assert_eq!(address_problem(&dev, "dev").unwrap(), None);
        let main = wallet_address(PHRASE, "main").unwrap();
        let problem = address_problem(&main, "dev").unwrap().unwrap();
        assert!(problem.starts_with("a main-network address"), "{problem}");
    }

    #[test]
    fn a_transfer_is_signed_by_the_wallet_key_with_change_back() {
        let key = wallet::secret_from_mnemonic(PHRASE).unwrap();
        let params = ChainParams::dev();
        let to = address::encode(
            &wallet::secret_from_mnemonic(&new_mnemonic(&[1; 32]).unwrap())
                .unwrap()
                .public_key(),
            &params,
        );
        let txid = Txid::from_byte_array([3; 32]).to_string();
        let utxos = format!(
            r#"[{{"txid":"{txid}","vout":0,"value":5000000000,"mature":true,"spent_by":null}},
                {{"txid":"{txid}","vout":1,"value":7000000000,"mature":false,"spent_by":null}}]"#
        );
        let signed = sign_transfer(PHRASE, "dev", &utxos, &to, "1.5", 2, &[9; 32]).unwrap();
        let tx = Transaction::from_bytes(&hex::decode(signed.hex()).unwrap()).unwrap();
        assert_eq!(signed.txid(), tx.txid().to_string());
        assert_eq!(tx.inputs.len(), 1, "the immature coin is not spent");
        assert_eq!(tx.outputs[0].value, Amount::from_units(150_000_000));
        assert_eq!(tx.outputs[1].key, key.public_key());
        let fee = Amount::from_units(2 * transfer::tx_size(1, 2) as u64);
        assert_eq!(signed.fee(), fee.to_string());
        let spent = [bbchain_core::TxOut {
            value: Amount::from_units(5_000_000_000),
            key: key.public_key(),
        }];
        let message = tx.sighash(&params.genesis_hash(), &spent, 0);
        assert!(verify(&key.public_key(), &message, &tx.inputs[0].signature));
    }

    #[test]
    fn a_qr_code_is_a_square_of_modules() {
        let modules = qr_modules(&wallet_address(PHRASE, "dev").unwrap()).unwrap();
        let width = (modules.len() as f64).sqrt() as usize;
        assert_eq!(width * width, modules.len());
        assert!(width >= 21 && modules.contains(&1) && modules.contains(&0));
    }
}
