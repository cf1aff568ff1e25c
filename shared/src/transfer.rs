//! Coin selection and transfer building, shared by `bbchain --send` and the page's wallet (through
//! the wasm module): which unspent outputs pay an amount and its fee, whether there is change worth
//! an output, and the signed transaction. Also the relay policy figures both must respect.

use crate::amount::Amount;
use crate::hash::Txid;
use crate::keys::{PublicKey, SecretKey, Signature};
use crate::params::ChainParams;
use crate::tx::{OutPoint, Transaction, TxIn, TxOut};
use alloc::vec;
use alloc::vec::Vec;

/// The least value of a transaction output, in units, that masters relay by default: the one
/// figure the node's policy and the wallets (which fold smaller change into the fee) share.
pub const DUST_UNITS: u64 = 1_000;
/// The least fee per byte masters relay by default, shared the same way.
pub const MIN_FEE_PER_BYTE: u64 = 1;
/// The fee rate wallets suggest, in units per byte: twice the relay minimum, so a transfer is
/// relayed and, as blocks take transactions by fee rate, ahead of those paying the minimum.
pub const DEFAULT_FEE_PER_BYTE: u64 = 2 * MIN_FEE_PER_BYTE;
/// [`DUST_UNITS`] as an amount.
pub const DUST: Amount = Amount::from_units(DUST_UNITS);

/// An unspent output the wallet may spend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Coin {
    /// Where it is.
    pub outpoint: OutPoint,
    /// What it holds.
    pub value: Amount,
}

/// How the fee is set.
#[derive(Debug, Clone, Copy)]
pub enum Fee {
    /// `--fee`: exactly this (plus change too small to keep).
    Fixed(Amount),
    /// This many units per byte of the transaction.
    PerByte(u64),
}

/// The coins to spend, the fee, and the change back to the wallet (`None` when it would be dust
/// and goes to the fee instead).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// The coins spent, largest first.
    pub coins: Vec<Coin>,
    /// The fee paid.
    pub fee: Amount,
    /// The change output, if any.
    pub change: Option<Amount>,
}

/// Not enough coins: the least the send needs, and what there is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Short {
    /// The amount plus the least fee.
    pub needed: Amount,
    /// What the coins add up to.
    pub spendable: Amount,
}

/// Picks the largest coins first until they pay `amount` and the fee. `size(inputs, outputs)` is
/// the transaction's encoded size; change under `dust` is left to the fee rather than kept as an
/// output the node would refuse.
pub fn select(
    coins: &[Coin],
    amount: Amount,
    fee: Fee,
    dust: Amount,
    size: impl Fn(usize, usize) -> usize,
) -> Result<Selection, Short> {
    let fee_for = |inputs: usize, outputs: usize| match fee {
        Fee::Fixed(fee) => Some(fee),
        Fee::PerByte(rate) => Amount::from_units(rate)
            .checked_mul(size(inputs, outputs) as u64)
            .filter(|fee| fee.is_valid()),
    };
    let mut sorted = coins.to_vec();
    sorted.sort_by_key(|coin| core::cmp::Reverse(coin.value));
    let mut total = Amount::ZERO;
    for (index, coin) in sorted.iter().enumerate() {
        let inputs = index + 1;
        total = total.checked_add(coin.value).unwrap_or(Amount::MAX_MONEY);
        let picked = || sorted[..inputs].to_vec();
        let with_change = fee_for(inputs, 2).and_then(|fee| {
            let change = total.checked_sub(amount)?.checked_sub(fee)?;
            Some((fee, change))
        });
        if let Some((fee, change)) = with_change.filter(|(_, change)| *change >= dust) {
            return Ok(Selection {
                coins: picked(),
                fee,
                change: Some(change),
            });
        }
        let needed = fee_for(inputs, 1).and_then(|fee| amount.checked_add(fee));
        if needed.is_some_and(|needed| total >= needed) {
            return Ok(Selection {
                coins: picked(),
                fee: total
                    .checked_sub(amount)
                    .expect("the total covers the amount"),
                change: None,
            });
        }
    }
    let needed = fee_for(sorted.len().max(1), 1)
        .and_then(|fee| amount.checked_add(fee))
        .unwrap_or(Amount::MAX_MONEY);
    Err(Short {
        needed,
        spendable: total,
    })
}

/// The transfer of `selection`'s coins: `amount` to `to`, the change back to the wallet, every input
/// signed with `aux` as BIP-340's auxiliary data (fresh randomness from the caller: the OS for the
/// CLI, `crypto.getRandomValues` in the page).
pub fn signed_transfer(
    params: &ChainParams,
    key: &SecretKey,
    (to, amount): (PublicKey, Amount),
    selection: &Selection,
    aux: &[u8; 32],
) -> Transaction {
    let mine = key.public_key();
    let mut outputs = vec![TxOut {
        value: amount,
        key: to,
    }];
    if let Some(change) = selection.change {
        outputs.push(TxOut {
            value: change,
            key: mine,
        });
    }
    let mut tx = Transaction {
        inputs: selection
            .coins
            .iter()
            .map(|coin| TxIn {
                prev: coin.outpoint,
                signature: Signature::from_bytes([0; 64]),
            })
            .collect(),
        outputs,
    };
    let spent: Vec<TxOut> = selection
        .coins
        .iter()
        .map(|coin| TxOut {
            value: coin.value,
            key: mine,
        })
        .collect();
    let keys = vec![key; spent.len()];
    tx.sign(&params.genesis_hash(), &spent, &keys, aux);
    tx
}

/// The encoded size of a transfer with `inputs` inputs and `outputs` outputs (sizes do not depend
/// on the values, keys or signatures).
pub fn tx_size(inputs: usize, outputs: usize) -> usize {
    let input = TxIn {
        prev: OutPoint {
            txid: Txid::from_byte_array([0; 32]),
            vout: 0,
        },
        signature: Signature::from_bytes([0; 64]),
    };
    let output = TxOut {
        value: Amount::ZERO,
        key: PublicKey::from_bytes_unchecked([0; 32]),
    };
    Transaction {
        inputs: vec![input; inputs],
        outputs: vec![output; outputs],
    }
    .encoded_len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(n: u8) -> SecretKey {
        SecretKey::from_bytes([n; 32]).unwrap()
    }

    fn coin(n: u8, units: u64) -> Coin {
        Coin {
            outpoint: OutPoint {
                txid: Txid::from_byte_array([n; 32]),
                vout: 0,
            },
            value: Amount::from_units(units),
        }
    }

    const DUST: Amount = Amount::from_units(1_000);

    /// 100 bytes per input and 10 per output: easy sums.
    fn size(inputs: usize, outputs: usize) -> usize {
        100 * inputs + 10 * outputs
    }

    fn units(list: &[Coin]) -> Vec<u64> {
        list.iter().map(|c| c.value.units()).collect()
    }

    #[test]
    fn the_largest_coins_go_first_and_change_comes_back() {
        let coins = [coin(1, 5_000), coin(2, 50_000), coin(3, 20_000)];
        let picked = select(
            &coins,
            Amount::from_units(60_000),
            Fee::PerByte(2),
            DUST,
            size,
        )
        .unwrap();
        // Two inputs, two outputs: 220 bytes, 440 units.
        assert_eq!(units(&picked.coins), [50_000, 20_000]);
        assert_eq!(picked.fee, Amount::from_units(440));
        assert_eq!(
            picked.change,
            Some(Amount::from_units(70_000 - 60_000 - 440))
        );
    }

    #[test]
    fn change_under_the_dust_limit_goes_to_the_fee() {
        let coins = [coin(1, 10_000)];
        // One input: 120 bytes with change (240 units), 110 without (220).
        let picked = select(
            &coins,
            Amount::from_units(9_000),
            Fee::PerByte(2),
            DUST,
            size,
        )
        .unwrap();
        assert_eq!(picked.change, None);
        assert_eq!(picked.fee, Amount::from_units(1_000));
        let picked = select(
            &coins,
            Amount::from_units(8_760),
            Fee::PerByte(2),
            DUST,
            size,
        )
        .unwrap();
        assert_eq!(
            picked.change,
            Some(Amount::from_units(1_000)),
            "exactly the limit is kept"
        );
        // Enough without a change output, not with one.
        let picked = select(
            &coins,
            Amount::from_units(9_780),
            Fee::PerByte(2),
            DUST,
            size,
        )
        .unwrap();
        assert_eq!((picked.fee, picked.change), (Amount::from_units(220), None));
    }

    #[test]
    fn a_fixed_fee_is_paid_as_given() {
        let coins = [coin(1, 10_000), coin(2, 3_000)];
        let fee = Fee::Fixed(Amount::from_units(500));
        let picked = select(&coins, Amount::from_units(11_000), fee, DUST, size).unwrap();
        assert_eq!(units(&picked.coins), [10_000, 3_000]);
        assert_eq!(
            (picked.fee, picked.change),
            (Amount::from_units(500), Some(Amount::from_units(1_500)))
        );
    }

    #[test]
    fn not_enough_says_what_is_needed_and_what_there_is() {
        let coins = [coin(1, 10_000), coin(2, 3_000)];
        let short = select(
            &coins,
            Amount::from_units(13_000),
            Fee::PerByte(1),
            DUST,
            size,
        )
        .unwrap_err();
        assert_eq!(
            short,
            Short {
                needed: Amount::from_units(13_000 + 210),
                spendable: Amount::from_units(13_000)
            }
        );
        let short = select(&[], Amount::COIN, Fee::PerByte(1), DUST, size).unwrap_err();
        assert_eq!(short.spendable, Amount::ZERO);
        let huge = select(&coins, Amount::MAX_MONEY, Fee::PerByte(1), DUST, size).unwrap_err();
        assert_eq!(huge.needed, Amount::MAX_MONEY);
    }

    #[test]
    fn the_transfer_is_signed_the_node_way_and_sized_as_estimated() {
        let params = ChainParams::dev();
        let (key, to) = (secret(1), secret(2).public_key());
        let coins: Vec<Coin> = (1..=2)
            .map(|n| Coin {
                outpoint: OutPoint {
                    txid: Txid::from_byte_array([n; 32]),
                    vout: 0,
                },
                value: Amount::COIN,
            })
            .collect();
        let selection = select(
            &coins,
            Amount::from_units(150_000_000),
            Fee::PerByte(DEFAULT_FEE_PER_BYTE),
            DUST,
            tx_size,
        )
        .unwrap();
        let tx = signed_transfer(
            &params,
            &key,
            (to, Amount::from_units(150_000_000)),
            &selection,
            &[7; 32],
        );
        assert_eq!(tx.encoded_len(), tx_size(2, 2));
        let fee = Amount::from_units(DEFAULT_FEE_PER_BYTE * tx_size(2, 2) as u64);
        assert_eq!(selection.fee, fee);
        assert_eq!(
            tx.outputs[0],
            TxOut {
                value: Amount::from_units(150_000_000),
                key: to
            }
        );
        assert_eq!(tx.outputs[1].key, key.public_key());
        let total_out = tx.outputs[0].value.units() + tx.outputs[1].value.units();
        assert_eq!(total_out + fee.units(), 2 * Amount::COIN.units());
        let spent = vec![
            TxOut {
                value: Amount::COIN,
                key: key.public_key()
            };
            2
        ];
        for (index, input) in tx.inputs.iter().enumerate() {
            let message = tx.sighash(&params.genesis_hash(), &spent, index as u32);
            assert!(crate::keys::verify(
                &key.public_key(),
                &message,
                &input.signature
            ));
        }
    }
}
