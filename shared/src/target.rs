//! Proof-of-work targets: the compact `bits` form, the 256-bit target, and the work it represents.

use crate::hash::BlockHash;
use alloc::string::String;
use core::fmt;
use ruint::aliases::U256;

/// The 32-bit compact ("nBits") encoding of a target, as stored in the header.
///
/// Serialized as 8 hex digits (`"1d00ffff"`), the way explorers print it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct CompactTarget(pub u32);

/// Why a compact value is not a usable target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CompactError {
    /// The sign bit is set on a non-zero mantissa.
    #[error("compact target is negative")]
    Negative,
    /// The value does not fit in 256 bits.
    #[error("compact target overflows 256 bits")]
    Overflow,
    /// The value is zero, which no hash can meet.
    #[error("compact target is zero")]
    Zero,
}

/// What Bitcoin Core's `SetCompact` yields: the value and its two flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpandedCompact {
    /// The 256-bit value (bits shifted past 256 are lost, as in Core).
    pub value: U256,
    /// The sign bit was set on a non-zero mantissa.
    pub negative: bool,
    /// The value does not fit in 256 bits.
    pub overflow: bool,
}

impl CompactTarget {
    /// Expands exactly like Bitcoin Core's `arith_uint256::SetCompact`.
    pub fn expand(self) -> ExpandedCompact {
        let size = self.0 >> 24;
        let mut word = self.0 & 0x007f_ffff;
        let value = if size <= 3 {
            word >>= 8 * (3 - size);
            U256::from(word)
        } else {
            let shift = 8 * (size as usize - 3);
            if shift >= 256 {
                U256::ZERO
            } else {
                U256::from(word) << shift
            }
        };
        ExpandedCompact {
            value,
            negative: word != 0 && self.0 & 0x0080_0000 != 0,
            overflow: word != 0
                && (size > 34 || (word > 0xff && size > 33) || (word > 0xffff && size > 32)),
        }
    }

    /// Encodes exactly like Bitcoin Core's `arith_uint256::GetCompact`.
    pub fn from_value(value: U256, negative: bool) -> CompactTarget {
        let mut size = value.bit_len().div_ceil(8) as u32;
        let mut compact = if size <= 3 {
            (value.as_limbs()[0] << (8 * (3 - size))) as u32
        } else {
            (value >> (8 * (size as usize - 3))).as_limbs()[0] as u32
        };
        // The mantissa's top bit is the sign bit: move it out of the way.
        if compact & 0x0080_0000 != 0 {
            compact >>= 8;
            size += 1;
        }
        compact |= size << 24;
        if negative && compact & 0x007f_ffff != 0 {
            compact |= 0x0080_0000;
        }
        CompactTarget(compact)
    }
}

impl fmt::Display for CompactTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08x}", self.0)
    }
}

impl fmt::Debug for CompactTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CompactTarget({:08x})", self.0)
    }
}

impl serde::Serialize for CompactTarget {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for CompactTarget {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Owned, so that JSON with escapes or from a `serde_json::Value` decodes too.
        let text: String = serde::Deserialize::deserialize(deserializer)?;
        if text.len() != 8 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(serde::de::Error::custom("bits are 8 hex digits"));
        }
        u32::from_str_radix(&text, 16)
            .map(CompactTarget)
            .map_err(serde::de::Error::custom)
    }
}

/// A 256-bit proof-of-work target: a block's hash, read as a little-endian number, must not exceed it.
///
/// Never zero (no hash could meet it): the field is private, so every target comes through
/// [`Target::new`] or [`Target::from_compact`], which refuse it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Target(U256);

impl Target {
    /// The largest representable target.
    pub const MAX: Target = Target(U256::MAX);
    /// The hardest target: only the hashes 0 and 1 meet it.
    pub const ONE: Target = Target(U256::from_limbs([1, 0, 0, 0]));

    /// A target of `value`; `None` for zero, which no hash can meet.
    pub fn new(value: U256) -> Option<Target> {
        (!value.is_zero()).then_some(Target(value))
    }

    /// The 256-bit value.
    pub fn value(&self) -> U256 {
        self.0
    }

    /// The target a header's `bits` stand for, refusing negative, overflowing and zero values.
    pub fn from_compact(bits: CompactTarget) -> Result<Target, CompactError> {
        let expanded = bits.expand();
        if expanded.negative {
            Err(CompactError::Negative)
        } else if expanded.overflow {
            Err(CompactError::Overflow)
        } else if expanded.value.is_zero() {
            Err(CompactError::Zero)
        } else {
            Ok(Target(expanded.value))
        }
    }

    /// The compact form (lossy: it keeps the top 23 bits of the mantissa).
    pub fn to_compact(&self) -> CompactTarget {
        CompactTarget::from_value(self.0, false)
    }

    /// The target from 32 big-endian bytes (how the feed and the test vectors write it); `None`
    /// for zero.
    pub fn from_be_bytes(bytes: [u8; 32]) -> Option<Target> {
        Target::new(U256::from_be_bytes(bytes))
    }

    /// The target as 32 big-endian bytes.
    pub fn to_be_bytes(&self) -> [u8; 32] {
        self.0.to_be_bytes()
    }

    /// 64 big-endian hex digits.
    pub fn to_hex(&self) -> String {
        hex::encode(self.to_be_bytes())
    }

    /// Whether `hash`, read as a little-endian 256-bit number, is at most this target.
    pub fn is_met_by(&self, hash: &BlockHash) -> bool {
        U256::from_le_bytes(*hash.as_byte_array()) <= self.0
    }

    /// The expected number of hashes to meet this target: `2^256 / (target + 1)`.
    pub fn to_work(&self) -> Work {
        // 2^256 does not fit, so use Bitcoin's identity: 2^256 / (t+1) == ~t / (t+1) + 1.
        match self.0.checked_add(U256::from(1u8)) {
            Some(divisor) => Work(((!self.0) / divisor) + U256::from(1u8)),
            None => Work(U256::from(1u8)),
        }
    }

    /// How many times harder than `pow_limit` this target is (1.0 at the limit).
    pub fn difficulty(&self, pow_limit: &Target) -> f64 {
        to_f64(pow_limit.0) / to_f64(self.0)
    }
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Target({})", self.to_hex())
    }
}

/// Expected hashes behind a block or a chain; chains are compared by the sum of their blocks' work.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Work(pub U256);

impl Work {
    /// No work at all.
    pub const ZERO: Work = Work(U256::ZERO);

    /// 32 big-endian bytes, so that stored work compares the same as bytes.
    pub fn to_be_bytes(&self) -> [u8; 32] {
        self.0.to_be_bytes()
    }

    /// The inverse of [`Work::to_be_bytes`].
    pub fn from_be_bytes(bytes: [u8; 32]) -> Work {
        Work(U256::from_be_bytes(bytes))
    }

    /// An approximation for rates and charts.
    pub fn to_f64(&self) -> f64 {
        to_f64(self.0)
    }

    /// The sum, saturating at the maximum (a chain cannot hold 2^256 hashes of work).
    pub fn saturating_add(self, other: Work) -> Work {
        Work(self.0.saturating_add(other.0))
    }
}

impl core::ops::Add for Work {
    type Output = Work;
    fn add(self, other: Work) -> Work {
        self.saturating_add(other)
    }
}

impl fmt::Debug for Work {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Work({:#x})", self.0)
    }
}

impl serde::Serialize for Work {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&hex::encode(self.to_be_bytes()))
    }
}

impl<'de> serde::Deserialize<'de> for Work {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Owned, so that JSON with escapes or from a `serde_json::Value` decodes too.
        let text: String = serde::Deserialize::deserialize(deserializer)?;
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text, &mut bytes).map_err(serde::de::Error::custom)?;
        Ok(Work::from_be_bytes(bytes))
    }
}

/// Converts to the nearest-below `f64` without `std` (no `powi` in `core`).
fn to_f64(value: U256) -> f64 {
    let bits = value.bit_len();
    if bits <= 64 {
        return value.as_limbs()[0] as f64;
    }
    let shift = bits - 64;
    let top = (value >> shift).as_limbs()[0] as f64;
    top * f64::from_bits((1023 + shift as u64) << 52)
}
