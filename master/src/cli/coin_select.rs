//! Coin selection for `--send`: which unspent outputs pay an amount and its fee, and whether there
//! is change worth an output.

use bbchain_core::OutPoint;
use bbchain_core::amount::Amount;

/// An unspent output the wallet may spend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Coin {
    pub outpoint: OutPoint,
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
    pub coins: Vec<Coin>,
    pub fee: Amount,
    pub change: Option<Amount>,
}

/// Not enough coins: the least the send needs, and what there is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Short {
    pub needed: Amount,
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
    sorted.sort_by_key(|coin| std::cmp::Reverse(coin.value));
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

#[cfg(test)]
mod tests {
    use super::*;
    use bbchain_core::hash::Txid;

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
}
