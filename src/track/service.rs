//! Well-known services by port: a label for the tables — sockscope decodes
//! by content, not by port number. The one decision the ports make is Zeek's:
//! which end of a connection picked up mid-stream is the server
//! ([`likely_server_port`], Zeek's `likely_server_ports`).

use super::key::Proto;

/// Every name [`service_for`] gives.
pub const SERVICES: &[&str] = &[
    "dns",
    "dhcp",
    "tftp",
    "ntp",
    "netbios-ns",
    "netbios-dgm",
    "snmp",
    "quic",
    "ipsec",
    "syslog",
    "dhcpv6",
    "openvpn",
    "ssdp",
    "stun",
    "sip",
    "mdns",
    "llmnr",
    "wireguard",
    "ftp",
    "ssh",
    "telnet",
    "smtp",
    "http",
    "pop3",
    "imap",
    "bgp",
    "ldap",
    "https",
    "smb",
    "imaps",
    "pop3s",
    "mssql",
    "mysql",
    "rdp",
    "postgresql",
    "amqp",
    "redis",
    "irc",
    "kafka",
    "memcached",
    "mongodb",
];

/// The service name IANA (or common use) gives the port, if any.
pub fn service_for(proto: Proto, port: u16) -> Option<&'static str> {
    Some(match (proto, port) {
        (Proto::Udp, 53) | (Proto::Tcp, 53) => "dns",
        (Proto::Udp, 67) | (Proto::Udp, 68) => "dhcp",
        (Proto::Udp, 69) => "tftp",
        (Proto::Udp, 123) => "ntp",
        (Proto::Udp, 137) => "netbios-ns",
        (Proto::Udp, 138) => "netbios-dgm",
        (Proto::Udp, 161) | (Proto::Udp, 162) => "snmp",
        (Proto::Udp, 443) => "quic",
        (Proto::Udp, 500) | (Proto::Udp, 4500) => "ipsec",
        (Proto::Udp, 514) => "syslog",
        (Proto::Udp, 546) | (Proto::Udp, 547) => "dhcpv6",
        (Proto::Udp, 1194) | (Proto::Tcp, 1194) => "openvpn",
        (Proto::Udp, 1900) => "ssdp",
        (Proto::Udp, 3478) | (Proto::Tcp, 3478) => "stun",
        (Proto::Udp, 5060) | (Proto::Tcp, 5060) => "sip",
        (Proto::Udp, 5353) => "mdns",
        (Proto::Udp, 5355) => "llmnr",
        (Proto::Udp, 51820) => "wireguard",
        (Proto::Tcp, 21) => "ftp",
        (Proto::Tcp, 22) => "ssh",
        (Proto::Tcp, 23) => "telnet",
        (Proto::Tcp, 25) | (Proto::Tcp, 587) => "smtp",
        (Proto::Tcp, 80) | (Proto::Tcp, 8000) | (Proto::Tcp, 8080) => "http",
        (Proto::Tcp, 110) => "pop3",
        (Proto::Tcp, 143) => "imap",
        (Proto::Tcp, 179) => "bgp",
        (Proto::Tcp, 389) => "ldap",
        (Proto::Tcp, 443) | (Proto::Tcp, 8443) => "https",
        (Proto::Tcp, 445) => "smb",
        (Proto::Tcp, 993) => "imaps",
        (Proto::Tcp, 995) => "pop3s",
        (Proto::Tcp, 1433) => "mssql",
        (Proto::Tcp, 3306) => "mysql",
        (Proto::Tcp, 3389) => "rdp",
        (Proto::Tcp, 5432) => "postgresql",
        (Proto::Tcp, 5672) => "amqp",
        (Proto::Tcp, 6379) => "redis",
        (Proto::Tcp, 6666) | (Proto::Tcp, 6667) => "irc",
        (Proto::Tcp, 9092) => "kafka",
        (Proto::Tcp, 11211) | (Proto::Udp, 11211) => "memcached",
        (Proto::Tcp, 27017) => "mongodb",
        _ => return None,
    })
}

/// Whether a TCP port is one a server usually listens on (it has a service
/// label): the guess of who is the server when no handshake was seen.
pub fn likely_server_port(port: u16) -> bool {
    service_for(Proto::Tcp, port).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_lists_every_name_given() {
        let mut given = std::collections::BTreeSet::new();
        for proto in [Proto::Tcp, Proto::Udp] {
            for port in 0..=u16::MAX {
                if let Some(s) = service_for(proto, port) {
                    assert!(SERVICES.contains(&s), "{s} is not in SERVICES");
                    given.insert(s);
                }
            }
        }
        assert_eq!(
            given.len(),
            SERVICES.len(),
            "SERVICES names a service never given"
        );
    }

    #[test]
    fn labels() {
        assert_eq!(service_for(Proto::Udp, 53), Some("dns"));
        assert_eq!(service_for(Proto::Udp, 443), Some("quic"));
        assert_eq!(service_for(Proto::Tcp, 443), Some("https"));
        assert_eq!(service_for(Proto::Udp, 40000), None);
        assert!(likely_server_port(443) && likely_server_port(8080));
        assert!(!likely_server_port(40000) && !likely_server_port(8010));
    }
}
