//! Token buckets: how fast one source IP may post free data and transactions over HTTP, and how
//! fast one peer link may gossip them. Costs are bytes (see `config::PENDING_ENTRY_OVERHEAD`).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A refill rate and the most a bucket holds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Bytes added per second.
    pub per_sec: f64,
    /// The bucket's size: what may be spent at once.
    pub burst: f64,
}

impl Rate {
    /// `per_sec` bytes a second with a burst of `burst` bytes.
    pub fn new(per_sec: u32, burst: u32) -> Rate {
        Rate {
            per_sec: f64::from(per_sec),
            burst: f64::from(burst),
        }
    }
}

/// One token bucket; it starts full.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket for `rate`.
    pub fn full(rate: Rate) -> TokenBucket {
        TokenBucket {
            tokens: rate.burst,
            last: Instant::now(),
        }
    }

    /// Spends `cost` if the bucket holds it, else says how long until it would. A cost above the
    /// burst takes a whole bucket, so a large request is slow, never refused forever.
    pub fn take(&mut self, cost: usize, rate: Rate, now: Instant) -> Result<(), Duration> {
        self.refill(rate, now);
        let cost = (cost as f64).min(rate.burst);
        if self.tokens >= cost {
            self.tokens -= cost;
            return Ok(());
        }
        let missing = cost - self.tokens;
        Err(Duration::from_secs_f64(missing / rate.per_sec.max(1e-9)))
    }

    fn refill(&mut self, rate: Rate, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate.per_sec).min(rate.burst);
        self.last = now;
    }

    /// Whether the bucket is back to a full burst (so forgetting it changes nothing).
    fn is_full(&mut self, rate: Rate, now: Instant) -> bool {
        self.refill(rate, now);
        self.tokens >= rate.burst
    }
}

/// A token bucket per source IP, in a bounded table.
#[derive(Debug)]
pub struct IpLimiter {
    rate: Rate,
    max_ips: usize,
    buckets: Mutex<HashMap<IpAddr, TokenBucket>>,
}

/// The key newcomers share when the table is full of active IPs.
const OVERFLOW: IpAddr = IpAddr::V6(Ipv6Addr::UNSPECIFIED);

impl IpLimiter {
    /// Buckets of `rate`, for at most `max_ips` addresses.
    pub fn new(rate: Rate, max_ips: usize) -> IpLimiter {
        IpLimiter {
            rate,
            max_ips: max_ips.max(1),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Spends `cost` bytes of `ip`'s bucket, or says how long until it holds them.
    pub fn take(&self, ip: IpAddr, cost: usize) -> Result<(), Duration> {
        let ip = crate::addr::client_key(ip);
        let now = Instant::now();
        let rate = self.rate;
        let mut buckets = self.buckets.lock().expect("lock");
        let mut key = ip;
        if !buckets.contains_key(&ip) && buckets.len() >= self.max_ips {
            buckets.retain(|_, bucket| !bucket.is_full(rate, now));
            if buckets.len() >= self.max_ips {
                key = OVERFLOW;
            }
        }
        buckets
            .entry(key)
            .or_insert_with(|| TokenBucket::full(rate))
            .take(cost, rate, now)
    }

    /// How many addresses the table holds.
    pub fn len(&self) -> usize {
        self.buckets.lock().expect("lock").len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([127, 0, 0, last])
    }

    #[test]
    fn a_bucket_spends_its_burst_then_refills_at_its_rate() {
        let rate = Rate::new(100, 1000);
        let start = Instant::now();
        let mut bucket = TokenBucket::full(rate);
        assert_eq!(bucket.take(600, rate, start), Ok(()));
        let wait = bucket.take(600, rate, start).unwrap_err();
        assert_eq!(wait, Duration::from_secs(2), "200 bytes missing at 100/s");
        assert_eq!(
            bucket.take(600, rate, start + Duration::from_secs(2)),
            Ok(())
        );
        // A cost above the burst takes a full bucket.
        let later = start + Duration::from_secs(100);
        assert_eq!(bucket.take(5000, rate, later), Ok(()));
        assert!(bucket.take(1, rate, later).is_err());
    }

    #[test]
    fn each_ip_has_its_own_bucket_and_the_table_stays_bounded() {
        let limiter = IpLimiter::new(Rate::new(1, 100), 2);
        assert_eq!(limiter.take(ip(2), 100), Ok(()));
        assert!(
            limiter.take(ip(2), 100).is_err(),
            "127.0.0.2 spent its burst"
        );
        assert_eq!(limiter.take(ip(3), 60), Ok(()), "127.0.0.3 is not");
        // The table is full of active addresses: newcomers share one bucket, and it stays at
        // three entries however many come.
        assert_eq!(limiter.take(ip(4), 100), Ok(()));
        assert!(limiter.take(ip(5), 1).is_err());
        assert_eq!(limiter.len(), 3);
        assert!(
            limiter.take(ip(3), 60).is_err(),
            "127.0.0.3 kept its own bucket"
        );
    }

    #[test]
    fn an_ipv6_network_shares_one_bucket() {
        let limiter = IpLimiter::new(Rate::new(1, 100), 10);
        let host = |last: u16| IpAddr::from([0x2001, 0xdb8, 0, 1, 0, 0, 0, last]);
        assert_eq!(limiter.take(host(1), 100), Ok(()));
        assert!(limiter.take(host(2), 1).is_err(), "the same /64");
        let elsewhere = IpAddr::from([0x2001, 0xdb8, 0, 2, 0, 0, 0, 1]);
        assert_eq!(limiter.take(elsewhere, 100), Ok(()));
        // An IPv4-mapped address is its IPv4 address.
        assert_eq!(limiter.take(ip(9), 100), Ok(()));
        let mapped = IpAddr::V6(std::net::Ipv4Addr::new(127, 0, 0, 9).to_ipv6_mapped());
        assert!(limiter.take(mapped, 1).is_err());
    }
}
