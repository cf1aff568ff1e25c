//! The node's clock, in the form block headers use.

/// Seconds since the Unix epoch as a header time: 0 before the epoch, `u32::MAX` after 2106 (a
/// clamp, never a wrap-around that would put "now" in 1970).
pub fn unix_now() -> u32 {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    header_time(secs)
}

/// Seconds since the epoch, clamped to a header's `u32` time.
pub fn header_time(secs: u64) -> u32 {
    u32::try_from(secs).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_past_2106_clamp_instead_of_wrapping() {
        assert_eq!(header_time(1_763_942_400), 1_763_942_400);
        assert_eq!(header_time(u64::from(u32::MAX) + 5), u32::MAX);
        assert!(unix_now() > 1_763_942_400);
    }
}
