//! Slots for `/ws/peer` sockets that dialed us: a total, and a share per IP address, so one address
//! cannot hold every slot and lock real masters out. Links we dial take no slot here.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// Why a socket got no slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum NoSlot {
    /// Every slot is taken.
    Total(usize),
    /// This address holds its share.
    PerIp(usize),
}

impl std::fmt::Display for NoSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NoSlot::Total(limit) => write!(f, "too many peer connections (limit {limit})"),
            NoSlot::PerIp(limit) => write!(
                f,
                "too many peer connections from this address (limit {limit})"
            ),
        }
    }
}

/// The count of open sockets, in all and by IP.
#[derive(Debug)]
pub(super) struct SocketSlots {
    total: usize,
    per_ip: usize,
    open: usize,
    by_ip: HashMap<IpAddr, usize>,
}

impl SocketSlots {
    pub(super) fn new(total: usize, per_ip: usize) -> SocketSlots {
        SocketSlots {
            total,
            per_ip,
            open: 0,
            by_ip: HashMap::new(),
        }
    }

    /// Takes a slot for a socket from `ip`.
    pub(super) fn take(&mut self, ip: IpAddr) -> Result<(), NoSlot> {
        let ip = crate::addr::client_key(ip);
        let held = self.by_ip.get(&ip).copied().unwrap_or(0);
        if held >= self.per_ip {
            return Err(NoSlot::PerIp(self.per_ip));
        }
        if self.open >= self.total {
            return Err(NoSlot::Total(self.total));
        }
        self.open += 1;
        *self.by_ip.entry(ip).or_default() += 1;
        Ok(())
    }

    /// A socket from `ip` closed.
    pub(super) fn give_back(&mut self, ip: IpAddr) {
        let ip = crate::addr::client_key(ip);
        if let Some(held) = self.by_ip.get_mut(&ip) {
            *held -= 1;
            self.open -= 1;
            if *held == 0 {
                self.by_ip.remove(&ip);
            }
        }
    }
}

/// A taken slot, given back on drop.
pub(super) struct Slot {
    slots: Arc<Mutex<SocketSlots>>,
    ip: IpAddr,
}

impl Slot {
    pub(super) fn take(slots: &Arc<Mutex<SocketSlots>>, ip: IpAddr) -> Result<Slot, NoSlot> {
        slots.lock().expect("lock").take(ip)?;
        Ok(Slot {
            slots: slots.clone(),
            ip,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.slots.lock().expect("lock").give_back(self.ip);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([127, 0, 0, last])
    }

    #[test]
    fn one_address_gets_its_share_and_others_still_get_in() {
        let mut slots = SocketSlots::new(5, 2);
        assert_eq!(slots.take(ip(2)), Ok(()));
        assert_eq!(slots.take(ip(2)), Ok(()));
        assert_eq!(slots.take(ip(2)), Err(NoSlot::PerIp(2)));
        assert_eq!(slots.take(ip(1)), Ok(()));
        assert_eq!(slots.take(ip(3)), Ok(()));
        assert_eq!(slots.take(ip(3)), Ok(()));
        assert_eq!(slots.take(ip(4)), Err(NoSlot::Total(5)));
        slots.give_back(ip(2));
        assert_eq!(slots.take(ip(4)), Ok(()));
        assert_eq!(slots.take(ip(2)), Err(NoSlot::Total(5)));
    }

    #[test]
    fn slots_come_back_on_drop() {
        let slots = Arc::new(Mutex::new(SocketSlots::new(4, 1)));
        let first = Slot::take(&slots, ip(2)).unwrap();
        assert!(Slot::take(&slots, ip(2)).is_err());
        drop(first);
        assert!(Slot::take(&slots, ip(2)).is_ok());
        assert_eq!(slots.lock().unwrap().open, 0);
    }
}
