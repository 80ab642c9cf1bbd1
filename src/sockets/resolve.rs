//! `ls -r`: host and service names for the addresses and ports of inet
//! sockets, through the C library's getnameinfo (so /etc/hosts,
//! /etc/services and DNS as nsswitch.conf says, like ss -r). Each distinct
//! address and port is looked up once.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use super::{Family, SockProto, SocketRow};

/// Names found for one socket's endpoints (None: the number stays).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Names {
    pub local_host: Option<String>,
    pub local_service: Option<String>,
    pub remote_host: Option<String>,
    pub remote_service: Option<String>,
}

#[derive(Default)]
struct Resolver {
    hosts: HashMap<IpAddr, Option<String>>,
    services: HashMap<(u16, bool), Option<String>>,
}

impl Resolver {
    fn host(&mut self, ip: Option<IpAddr>) -> Option<String> {
        let ip = ip.filter(|i| !i.is_unspecified())?;
        self.hosts
            .entry(ip)
            .or_insert_with(|| {
                // NI_NAMEREQD: an address without a name is an error, not
                // its own digits back.
                dns_lookup::getnameinfo(&SocketAddr::new(ip, 0), libc::NI_NAMEREQD)
                    .ok()
                    .map(|(h, _)| h)
            })
            .clone()
    }

    fn service(&mut self, port: Option<u16>, udp: bool) -> Option<String> {
        let port = port.filter(|p| *p != 0)?;
        self.services
            .entry((port, udp))
            .or_insert_with(|| {
                let flags = libc::NI_NUMERICHOST | if udp { libc::NI_DGRAM } else { 0 };
                let addr = SocketAddr::new(IpAddr::from([127, 0, 0, 1]), port);
                dns_lookup::getnameinfo(&addr, flags)
                    .ok()
                    .map(|(_, s)| s)
                    .filter(|s| s.parse::<u16>().is_err())
            })
            .clone()
    }
}

/// Fills in `names` of every inet row (raw sockets: addresses only, their
/// "port" is a protocol number).
pub fn resolve(rows: &mut [SocketRow]) {
    let mut r = Resolver::default();
    for row in rows.iter_mut() {
        if row.family == Family::Unix {
            continue;
        }
        let udp = matches!(row.proto, SockProto::Udp | SockProto::UdpLite);
        let ports = row.proto != SockProto::Raw;
        let names = Names {
            local_host: r.host(row.local_ip),
            remote_host: r.host(row.remote_ip),
            local_service: if ports {
                r.service(row.local_port, udp)
            } else {
                None
            },
            remote_service: if ports {
                r.service(row.remote_port, udp)
            } else {
                None
            },
        };
        row.names = Some(Box::new(names));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sockets::SockState;

    #[test]
    fn loopback_and_well_known_ports_have_names() {
        let mut row = SocketRow::new(SockProto::Tcp, Family::Inet, SockState::ESTABLISHED);
        row.local_ip = Some("127.0.0.1".parse().unwrap());
        row.local_port = Some(22);
        row.remote_ip = Some("0.0.0.0".parse().unwrap());
        row.remote_port = Some(0);
        let mut rows = [row];
        resolve(&mut rows);
        let n = rows[0].names.as_deref().unwrap();
        // /etc/hosts names 127.0.0.1 on every Debian system; /etc/services
        // (netbase) names 22.
        if std::path::Path::new("/etc/services").exists() {
            assert_eq!(n.local_service.as_deref(), Some("ssh"));
        }
        assert!(n.local_host.is_some(), "{n:?}");
        assert_eq!((&n.remote_host, &n.remote_service), (&None, &None));
    }
}
