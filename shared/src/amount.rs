//! Amounts of coins, counted in base units: 1 coin = 100,000,000 units, like bitcoin's satoshis.
//!
//! Consensus code works with integer units only. People see and type decimal coins ("12.5"):
//! `Display` and `FromStr` convert exactly, with no floating point. serde uses the integer units,
//! which is what the JSON API carries.

use alloc::string::String;
use core::fmt::{self, Write as _};
use core::str::FromStr;

/// A number of base units, never more than [`Amount::MAX_MONEY`] when it comes from the checked
/// operations, `FromStr` or serde.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Amount(u64);

/// Decimal places of a coin: the smallest amount is 0.00000001.
pub const DECIMALS: usize = 8;

impl Amount {
    /// No coins.
    pub const ZERO: Amount = Amount(0);
    /// One coin: 100,000,000 units.
    pub const COIN: Amount = Amount(100_000_000);
    /// The most money there can ever be: 25,228,800 coins. The main chain's subsidy (1 coin a
    /// block, halving every 12,614,400 blocks) sums to just under this, so no valid amount, output
    /// or total is above it.
    pub const MAX_MONEY: Amount = Amount(25_228_800 * 100_000_000);

    /// An amount of base units (unchecked: it may exceed `MAX_MONEY`; see [`Amount::is_valid`]).
    pub const fn from_units(units: u64) -> Amount {
        Amount(units)
    }

    /// The amount in base units.
    pub const fn units(self) -> u64 {
        self.0
    }

    /// Whether the amount is at most `MAX_MONEY` (Bitcoin's `MoneyRange`).
    pub const fn is_valid(self) -> bool {
        self.0 <= Self::MAX_MONEY.0
    }

    /// `self + other`, or `None` if the sum is above `MAX_MONEY` (and so also on u64 overflow).
    pub fn checked_add(self, other: Amount) -> Option<Amount> {
        self.0
            .checked_add(other.0)
            .map(Amount)
            .filter(|sum| sum.is_valid())
    }

    /// `self - other`, or `None` if `other` is larger.
    pub fn checked_sub(self, other: Amount) -> Option<Amount> {
        self.0.checked_sub(other.0).map(Amount)
    }

    /// `self * factor`, or `None` if the product is above `MAX_MONEY`.
    pub fn checked_mul(self, factor: u64) -> Option<Amount> {
        self.0
            .checked_mul(factor)
            .map(Amount)
            .filter(|product| product.is_valid())
    }

    /// The sum of `amounts`, or `None` as soon as a running total is above `MAX_MONEY` (which also
    /// covers u64 overflow): a list of amounts that together exceed all the money there can be is
    /// invalid, whatever its total modulo 2^64.
    pub fn checked_sum<I: IntoIterator<Item = Amount>>(amounts: I) -> Option<Amount> {
        amounts
            .into_iter()
            .try_fold(Amount::ZERO, |total, amount| total.checked_add(amount))
    }
}

/// Why a decimal amount could not be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AmountParseError {
    /// Nothing was given.
    #[error("the amount is empty")]
    Empty,
    /// The text is not a plain decimal number (like `12.5`).
    #[error("the amount is not a number of coins like 12.5")]
    NotANumber,
    /// More than 8 digits after the point.
    #[error("an amount has at most 8 decimals (0.00000001 is the smallest)")]
    TooManyDecimals,
    /// More than all the money there can ever be.
    #[error("the amount is above the 25228800 coins there can ever be")]
    AboveMax,
    /// A minus sign.
    #[error("the amount is negative")]
    Negative,
}

impl FromStr for Amount {
    type Err = AmountParseError;

    /// Parses decimal coins: `3`, `12.5`, `0.00000001`, also `3.` and `.5`. Surrounding
    /// whitespace is ignored; signs other than a refused `-`, exponents and separators are not
    /// numbers.
    fn from_str(text: &str) -> Result<Amount, AmountParseError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(AmountParseError::Empty);
        }
        if let Some(rest) = text.strip_prefix('-') {
            // "-5" is negative; "-x" is not a number at all.
            return Err(match rest.parse::<Amount>() {
                Ok(_) | Err(AmountParseError::TooManyDecimals | AmountParseError::AboveMax) => {
                    AmountParseError::Negative
                }
                Err(_) => AmountParseError::NotANumber,
            });
        }
        let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
        let all_digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
        if (whole.is_empty() && fraction.is_empty()) || !all_digits(whole) || !all_digits(fraction)
        {
            return Err(AmountParseError::NotANumber);
        }
        // Extra zeros past the 8th decimal change nothing; any other digit there is too precise.
        let fraction = fraction.trim_end_matches('0');
        if fraction.len() > DECIMALS {
            return Err(AmountParseError::TooManyDecimals);
        }
        let whole = whole.trim_start_matches('0');
        let mut units: u64 = 0;
        for digit in whole.bytes().chain(fraction.bytes()) {
            units = units
                .checked_mul(10)
                .and_then(|u| u.checked_add(u64::from(digit - b'0')))
                .ok_or(AmountParseError::AboveMax)?;
        }
        for _ in fraction.len()..DECIMALS {
            units = units.checked_mul(10).ok_or(AmountParseError::AboveMax)?;
        }
        let amount = Amount(units);
        if amount.is_valid() {
            Ok(amount)
        } else {
            Err(AmountParseError::AboveMax)
        }
    }
}

impl fmt::Display for Amount {
    /// Decimal coins with trailing zeros trimmed: `12.5`, `0.00000001`, `3`. Width and alignment
    /// flags apply to the whole number.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let coin = Amount::COIN.0;
        let mut text = String::new();
        write!(text, "{}", self.0 / coin)?;
        let fraction = self.0 % coin;
        if fraction != 0 {
            let digits = alloc::format!("{fraction:08}");
            text.push('.');
            text.push_str(digits.trim_end_matches('0'));
        }
        f.pad(&text)
    }
}

impl serde::Serialize for Amount {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Amount {
    /// Integer units; a value above `MAX_MONEY` is refused.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let units = u64::deserialize(deserializer)?;
        let amount = Amount(units);
        if amount.is_valid() {
            Ok(amount)
        } else {
            Err(serde::de::Error::custom(AmountParseError::AboveMax))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    fn parse(text: &str) -> Result<u64, AmountParseError> {
        text.parse::<Amount>().map(Amount::units)
    }

    #[test]
    fn max_money_is_the_main_subsidy_bound() {
        // 1 coin a block for 12,614,400 blocks, then half as much, and so on: just under 2x.
        let mut subsidy = Amount::COIN.units();
        let mut total: u64 = 0;
        while subsidy > 0 {
            total += subsidy * 12_614_400;
            subsidy /= 2;
        }
        // Integer halving loses one unit per set bit of 10^8, at each of 12,614,400 blocks.
        let lost = 12_614_400 * u64::from(Amount::COIN.units().count_ones());
        assert_eq!(total + lost, Amount::MAX_MONEY.units());
        assert_eq!(Amount::MAX_MONEY.units(), 2_522_880_000_000_000);
    }

    #[test]
    fn parses_what_users_type() {
        assert_eq!(parse("3"), Ok(300_000_000));
        assert_eq!(parse("3."), Ok(300_000_000));
        assert_eq!(parse(".5"), Ok(50_000_000));
        assert_eq!(parse("12.5"), Ok(1_250_000_000));
        assert_eq!(parse("0.00000001"), Ok(1));
        assert_eq!(parse("0.000000010"), Ok(1));
        assert_eq!(parse(" 007.10 "), Ok(710_000_000));
        assert_eq!(parse("0"), Ok(0));
        assert_eq!(parse("25228800"), Ok(Amount::MAX_MONEY.units()));
    }

    #[test]
    fn names_what_is_wrong() {
        use AmountParseError::*;
        assert_eq!(parse(""), Err(Empty));
        assert_eq!(parse("   "), Err(Empty));
        assert_eq!(parse("."), Err(NotANumber));
        assert_eq!(parse("1.2.3"), Err(NotANumber));
        assert_eq!(parse("1e3"), Err(NotANumber));
        assert_eq!(parse("+1"), Err(NotANumber));
        assert_eq!(parse("1,000"), Err(NotANumber));
        assert_eq!(parse("abc"), Err(NotANumber));
        assert_eq!(parse("-x"), Err(NotANumber));
        assert_eq!(parse("0.000000001"), Err(TooManyDecimals));
        assert_eq!(parse("25228800.00000001"), Err(AboveMax));
        assert_eq!(parse("99999999999999999999999"), Err(AboveMax));
        assert_eq!(parse("-1"), Err(Negative));
        assert_eq!(parse("-0.5"), Err(Negative));
    }

    #[test]
    fn displays_trimmed_decimal_coins() {
        let show = |units| Amount::from_units(units).to_string();
        assert_eq!(show(1_250_000_000), "12.5");
        assert_eq!(show(1), "0.00000001");
        assert_eq!(show(300_000_000), "3");
        assert_eq!(show(0), "0");
        assert_eq!(show(u64::MAX), "184467440737.09551615");
        assert_eq!(alloc::format!("{:>6}", Amount::COIN), "     1");
    }

    #[test]
    fn arithmetic_stays_in_money_range() {
        let max = Amount::MAX_MONEY;
        let one = Amount::from_units(1);
        assert_eq!(max.checked_add(Amount::ZERO), Some(max));
        assert_eq!(max.checked_add(one), None);
        assert_eq!(Amount::from_units(u64::MAX).checked_add(one), None);
        assert_eq!(Amount::ZERO.checked_sub(one), None);
        assert_eq!(one.checked_sub(one), Some(Amount::ZERO));
        assert_eq!(Amount::COIN.checked_mul(25_228_800), Some(max));
        assert_eq!(Amount::COIN.checked_mul(25_228_801), None);
        assert_eq!(Amount::checked_sum([]), Some(Amount::ZERO));
        assert_eq!(Amount::checked_sum([max, Amount::ZERO]), Some(max));
        assert_eq!(Amount::checked_sum([max, one]), None);
        // Wrapping past u64 would land back in range; the sum is still refused.
        let huge = Amount::from_units(u64::MAX / 2 + 1);
        assert_eq!(Amount::checked_sum([huge, huge, one]), None);
    }

    #[test]
    fn serde_uses_integer_units() {
        assert_eq!(serde_json::to_string(&Amount::COIN).unwrap(), "100000000");
        let back: Amount = serde_json::from_str("1250000000").unwrap();
        assert_eq!(back, Amount::from_units(1_250_000_000));
        assert!(serde_json::from_str::<Amount>("2522880000000001").is_err());
        assert!(serde_json::from_str::<Amount>("-1").is_err());
        assert!(serde_json::from_str::<Amount>("\"12.5\"").is_err());
    }
}
