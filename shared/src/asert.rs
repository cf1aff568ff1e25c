//! ASERT difficulty (aserti3-2d): the target moves exponentially with how far the chain runs ahead of
//! or behind its ideal schedule since a fixed anchor block.
//!
//! This follows the Bitcoin Cash specification's integer arithmetic exactly (truncating division,
//! arithmetic shift, the cubic approximation of 2^x), so the official test runs reproduce row for row.
//! The only change is a 512-bit intermediate: bbchain's easy pow limits leave no headroom in 256 bits.

use crate::target::Target;
use ruint::aliases::{U256, U512};

/// The anchor that every later target is measured from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Anchor {
    /// Height of the anchor block.
    pub height: i64,
    /// Timestamp of the anchor block's parent.
    pub parent_time: i64,
    /// Target of the anchor block.
    pub target: Target,
}

/// The two tuning knobs of ASERT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AsertParams {
    /// Ideal seconds between blocks.
    pub target_spacing: i64,
    /// Seconds of schedule drift that double (or halve) the target.
    pub halflife: i64,
    /// The easiest target allowed.
    pub pow_limit: Target,
}

/// The target of the block that follows the evaluation block (`eval_height`, `eval_time`).
pub fn next_target(
    anchor: &Anchor,
    params: &AsertParams,
    eval_height: i64,
    eval_time: i64,
) -> Target {
    let time_delta = i128::from(eval_time) - i128::from(anchor.parent_time);
    let height_delta = i128::from(eval_height) - i128::from(anchor.height);
    // Truncating division, as the reference implementation does in C++.
    let exponent = (time_delta - i128::from(params.target_spacing) * (height_delta + 1)) * 65536
        / i128::from(params.halflife);
    // Arithmetic shift floors, splitting the exponent into whole doublings and a 16-bit fraction.
    let mut shifts = exponent >> 16;
    let frac = (exponent & 0xffff) as u128;
    let factor = 65536
        + ((195_766_423_245_049 * frac
            + 971_821_376 * frac * frac
            + 5127 * frac * frac * frac
            + (1u128 << 47))
            >> 48);
    let mut next = U512::from(anchor.target.value()) * U512::from(factor);
    shifts -= 16;
    if shifts <= 0 {
        next = if -shifts >= 512 {
            U512::ZERO
        } else {
            next >> (-shifts) as usize
        };
    } else if shifts >= 256 || next.bit_len() + shifts as usize > 256 {
        // Past 2^256 the answer is the pow limit anyway.
        return params.pow_limit;
    } else {
        next <<= shifts as usize;
    }
    if next.is_zero() {
        return Target::ONE;
    }
    match U256::checked_from_limbs_slice(next.as_limbs()) {
        Some(value) if value <= params.pow_limit.value() => {
            Target::new(value).unwrap_or(Target::ONE)
        }
        _ => params.pow_limit,
    }
}
