//! Who misbehaved, by IP address: the address a socket really came from (inbound) or the one we
//! dialed (outbound), never a port the peer claims, so a stranger cannot get a master banned by
//! naming its port, and a banned peer cannot come back by naming another. Pure state, no I/O.

use crate::config::peer_limits::{
    BAN_DURATION, MAX_BAN_ENTRIES, OFFENCE_MEMORY, PROTECTED_BAN_FIRST, PROTECTED_BAN_MAX,
};
use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
struct Record {
    /// Offences so far (forgotten after [`OFFENCE_MEMORY`] without a new one).
    offences: u32,
    /// The last offence.
    last: Instant,
    /// Refused until then.
    until: Instant,
}

/// Misbehaviour scores and bans by IP address.
#[derive(Debug, Default)]
pub struct BanList {
    by_ip: HashMap<IpAddr, Record>,
}

impl BanList {
    /// `ip` misbehaved at `now`; returns how long it is refused. A `protected` address (loopback,
    /// a `--nodes` master) pays a short pause that doubles with each offence, never the full ban.
    pub fn misbehaved(&mut self, ip: IpAddr, protected: bool, now: Instant) -> Duration {
        let ip = crate::addr::client_key(ip);
        self.by_ip
            .retain(|_, r| r.until > now || now.duration_since(r.last) < OFFENCE_MEMORY);
        if self.by_ip.len() >= MAX_BAN_ENTRIES && !self.by_ip.contains_key(&ip) {
            // Full of live entries: the one that ends first makes room.
            if let Some(first) = self
                .by_ip
                .iter()
                .min_by_key(|(_, r)| r.until)
                .map(|(ip, _)| *ip)
            {
                self.by_ip.remove(&first);
            }
        }
        let offences = self.by_ip.get(&ip).map_or(0, |r| r.offences) + 1;
        let length = if protected {
            let doubled = PROTECTED_BAN_FIRST.saturating_mul(1 << (offences - 1).min(16));
            doubled.min(PROTECTED_BAN_MAX)
        } else {
            BAN_DURATION
        };
        self.by_ip.insert(
            ip,
            Record {
                offences,
                last: now,
                until: now + length,
            },
        );
        length
    }

    /// When the refusal of `ip` ends, if it is refused at `now`.
    pub fn banned_until(&self, ip: IpAddr, now: Instant) -> Option<Instant> {
        self.by_ip
            .get(&crate::addr::client_key(ip))
            .map(|r| r.until)
            .filter(|until| *until > now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn a_ban_is_by_ip_whatever_port_is_claimed_and_expires() {
        let mut bans = BanList::default();
        let now = Instant::now();
        assert_eq!(bans.misbehaved(ip("192.0.2.7"), false, now), BAN_DURATION);
        assert!(bans.banned_until(ip("192.0.2.7"), now).is_some());
        assert!(bans.banned_until(ip("192.0.2.8"), now).is_none());
        let later = now + BAN_DURATION + Duration::from_secs(1);
        assert!(bans.banned_until(ip("192.0.2.7"), later).is_none());
    }

    #[test]
    fn protected_addresses_pay_a_short_doubling_pause_never_the_full_ban() {
        let mut bans = BanList::default();
        let mut now = Instant::now();
        let mut pauses = Vec::new();
        for _ in 0..6 {
            let pause = bans.misbehaved(ip("127.0.0.2"), true, now);
            pauses.push(pause.as_secs());
            now += pause;
            assert!(bans.banned_until(ip("127.0.0.2"), now).is_none());
        }
        assert_eq!(pauses, [30, 60, 120, 240, 300, 300]);
        assert!(PROTECTED_BAN_MAX < BAN_DURATION);
        // Offences are forgotten after a quiet while.
        now += OFFENCE_MEMORY;
        assert_eq!(
            bans.misbehaved(ip("127.0.0.2"), true, now),
            PROTECTED_BAN_FIRST
        );
    }

    #[test]
    fn the_list_is_bounded() {
        let mut bans = BanList::default();
        let now = Instant::now();
        for i in 0..MAX_BAN_ENTRIES as u32 + 10 {
            bans.misbehaved(IpAddr::from((0x0a00_0000 + i).to_be_bytes()), false, now);
        }
        assert_eq!(bans.by_ip.len(), MAX_BAN_ENTRIES);
        let newest = IpAddr::from((0x0a00_0000 + MAX_BAN_ENTRIES as u32 + 9).to_be_bytes());
        assert!(bans.banned_until(newest, now).is_some());
    }

    #[test]
    fn an_ipv6_ban_covers_its_slash_64_and_a_mapped_address_its_ipv4() {
        let mut bans = BanList::default();
        let now = Instant::now();
        bans.misbehaved(ip("2001:db8:1:2::5"), false, now);
        assert!(bans.banned_until(ip("2001:db8:1:2::9"), now).is_some());
        assert!(bans.banned_until(ip("2001:db8:1:3::5"), now).is_none());
        bans.misbehaved(ip("10.0.0.7"), false, now);
        assert!(bans.banned_until(ip("::ffff:10.0.0.7"), now).is_some());
    }
}
