//! STUB (replaced by the wallet-core branch).
#![allow(missing_docs)]
use core::fmt;
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub struct Amount(u64);
impl Amount {
    pub const ZERO: Amount = Amount(0);
    pub const COIN: Amount = Amount(100_000_000);
    pub const MAX_MONEY: Amount = Amount(25_228_800 * 100_000_000);
    pub const fn from_units(units: u64) -> Amount { Amount(units) }
    pub const fn units(self) -> u64 { self.0 }
    pub fn checked_add(self, other: Amount) -> Option<Amount> { self.0.checked_add(other.0).map(Amount) }
    pub fn checked_sub(self, other: Amount) -> Option<Amount> { self.0.checked_sub(other.0).map(Amount) }
    pub fn checked_sum(iter: impl IntoIterator<Item = Amount>) -> Option<Amount> {
        let mut total = Amount::ZERO;
        for a in iter { total = total.checked_add(a).filter(|t| *t <= Amount::MAX_MONEY)?; }
        Some(total)
    }
}
impl fmt::Display for Amount { fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { write!(f, "{}", self.0) } }
