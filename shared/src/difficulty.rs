//! The difficulty rule: which `bits` a block must carry, from its parent and its branch's anchor.

use crate::asert::{self, Anchor, AsertParams};
use crate::chain::ChainContext;
use crate::params::ChainParams;
use crate::target::{CompactTarget, Target};

/// The `bits` the child of the context's parent must carry.
///
/// Block 1 is at the pow limit. Every later block follows ASERT anchored at block 1 of its own
/// branch, with block 1's time minus one spacing as the anchor's parent time, so a chain that
/// starts today is measured from today rather than from the genesis date.
pub fn expected_bits(params: &ChainParams, context: &ChainContext<'_>) -> CompactTarget {
    let Some(anchor) = context.anchor else {
        return params.pow_limit;
    };
    let pow_limit = params.pow_limit_target();
    let anchor = Anchor {
        height: 1,
        parent_time: i64::from(anchor.time) - i64::from(params.target_spacing),
        target: Target::from_compact(anchor.bits).unwrap_or(pow_limit),
    };
    let asert_params = AsertParams {
        target_spacing: i64::from(params.target_spacing),
        halflife: i64::from(params.asert_halflife),
        pow_limit,
    };
    asert::next_target(
        &anchor,
        &asert_params,
        i64::from(context.parent_height),
        i64::from(context.parent_time),
    )
    .to_compact()
}
