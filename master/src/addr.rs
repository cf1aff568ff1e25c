//! Masters' addresses, `host:port`: one rule for `--nodes` and for addresses learned from peers.

use std::net::{IpAddr, SocketAddr};

/// Why a text is not a master's address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddrError {
    /// No `:port` part, or no host before it.
    #[error("'{0}' is not host:port")]
    NotHostPort(String),
    /// The port is not a number from 1 to 65535.
    #[error("'{0}': the port must be a number from 1 to 65535")]
    BadPort(String),
    /// The host is neither an IP address nor a DNS name.
    #[error("'{0}': the host must be an IP address or a name of letters, digits, '.' and '-'")]
    BadHost(String),
}

/// Checks a master's address: an IP socket address (`127.0.0.1:8000`, `[::1]:8000`) or a DNS name
/// with a port (`node.example:8000`). Port 0 is refused: nobody listens there.
pub fn check_node_addr(addr: &str) -> Result<(), AddrError> {
    if let Ok(socket) = addr.parse::<SocketAddr>() {
        return match socket.port() {
            0 => Err(AddrError::BadPort(addr.into())),
            _ => Ok(()),
        };
    }
    let Some((host, port)) = addr.rsplit_once(':') else {
        return Err(AddrError::NotHostPort(addr.into()));
    };
    if host.is_empty() {
        return Err(AddrError::NotHostPort(addr.into()));
    }
    if !port.parse::<u16>().is_ok_and(|port| port != 0) {
        return Err(AddrError::BadPort(addr.into()));
    }
    let name_chars = |c: char| c.is_ascii_alphanumeric() || c == '.' || c == '-';
    if host.len() > 253 || !host.chars().all(name_chars) {
        return Err(AddrError::BadHost(addr.into()));
    }
    Ok(())
}

/// The key one client counts under in every per-address limit (connections, rates, peer slots and
/// bans): an IPv4-mapped IPv6 address as its IPv4 address, an IPv6 address by its /64, which one
/// subscriber usually holds whole (else a client could take a fresh address for each slot).
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let network = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(network.into())
        }
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_and_name_addresses_with_a_real_port_pass() {
        for good in [
            "127.0.0.1:8000",
            "[::1]:8000",
            "node.example:8000",
            "localhost:1",
        ] {
            assert_eq!(check_node_addr(good), Ok(()), "{good}");
        }
    }

    #[test]
    fn each_fault_is_named() {
        let not = |a: &str| AddrError::NotHostPort(a.into());
        let port = |a: &str| AddrError::BadPort(a.into());
        let host = |a: &str| AddrError::BadHost(a.into());
        for (bad, err) in [
            ("127.0.0.1", not("127.0.0.1")),
            (":8000", not(":8000")),
            ("host:0", port("host:0")),
            ("127.0.0.1:0", port("127.0.0.1:0")),
            ("host:99999", port("host:99999")),
            ("host:http", port("host:http")),
            ("a b:80", host("a b:80")),
            ("<script>:80", host("<script>:80")),
        ] {
            assert_eq!(check_node_addr(bad), Err(err), "{bad}");
        }
        assert_eq!(
            check_node_addr("host:0").unwrap_err().to_string(),
            "'host:0': the port must be a number from 1 to 65535"
        );
    }
}
