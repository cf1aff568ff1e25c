//! What every part of the native miner shares: its agent string, its timings, and how it writes a
//! hashrate. Apart from `miner.rs`, so the parts below it use these without depending on it.

use std::time::Duration;

/// The agent string sent in `hello`.
pub const AGENT: &str = concat!("bbchain-native/", env!("CARGO_PKG_VERSION"));

/// How patient the miner is with its masters. The defaults are the real timings; tests that play a
/// master shorten them here rather than through a test-only switch, so they run the code users run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MinerTimings {
    /// How often the master's liveness is checked.
    pub liveness_every: Duration,
    /// A master silent this long is pinged (a live one answers at once)...
    pub quiet_ping: Duration,
    /// ...and silent this long is given up on, so a vanished host cannot hold the miner forever.
    pub quiet_limit: Duration,
    /// Longest one message may take to leave: a master that stopped reading fills the socket
    /// buffer, and must not hold the miner (or Ctrl-C) forever.
    pub send_timeout: Duration,
    /// First pause between rounds of connection attempts; it doubles after each failed round...
    pub backoff_min: Duration,
    /// ...up to this.
    pub backoff_max: Duration,
}

impl Default for MinerTimings {
    fn default() -> Self {
        MinerTimings {
            liveness_every: Duration::from_secs(5),
            quiet_ping: Duration::from_secs(20),
            quiet_limit: Duration::from_secs(40),
            send_timeout: Duration::from_secs(10),
            backoff_min: Duration::from_millis(500),
            backoff_max: Duration::from_secs(8),
        }
    }
}

/// Timings for tests with a fake master: a silent master is given up on within two seconds.
#[cfg(test)]
pub(crate) fn quick_timings() -> MinerTimings {
    MinerTimings {
        liveness_every: Duration::from_millis(250),
        quiet_ping: Duration::from_secs(1),
        quiet_limit: Duration::from_secs(2),
        send_timeout: Duration::from_secs(1),
        ..MinerTimings::default()
    }
}

/// A hashrate for people: `12.34 MH/s`.
pub(super) fn format_rate(rate: f64) -> String {
    const UNITS: [&str; 5] = ["H/s", "kH/s", "MH/s", "GH/s", "TH/s"];
    let mut rate = rate.max(0.0);
    let mut unit = 0;
    while rate >= 1000.0 && unit + 1 < UNITS.len() {
        rate /= 1000.0;
        unit += 1;
    }
    format!("{rate:.2} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_read_well() {
        assert_eq!(format_rate(0.0), "0.00 H/s");
        assert_eq!(format_rate(999.0), "999.00 H/s");
        assert_eq!(format_rate(12_345_678.0), "12.35 MH/s");
    }
}
