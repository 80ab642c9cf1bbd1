//! Flow identity: the 5-tuple in a canonical (direction-free) order, plus the
//! VLAN tags when the user asks for connections to be keyed by VLAN.

use std::net::IpAddr;

use crate::decode::Vlans;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Proto {
    Tcp,
    Udp,
}

/// One side of a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Endpoint {
    pub ip: IpAddr,
    pub port: u16,
}

/// A flow's identity, the same for both directions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FlowKey {
    pub proto: Proto,
    /// The lower of the two endpoints.
    pub a: Endpoint,
    pub b: Endpoint,
    /// VLAN tags, only when flows are keyed by VLAN (otherwise empty).
    pub vlan: Vlans,
}

impl FlowKey {
    /// The key of a packet from `src` to `dst`, and whether `src` is the
    /// lower endpoint.
    pub fn new(proto: Proto, src: Endpoint, dst: Endpoint, vlan: Vlans) -> (FlowKey, bool) {
        if src <= dst {
            (
                FlowKey {
                    proto,
                    a: src,
                    b: dst,
                    vlan,
                },
                true,
            )
        } else {
            (
                FlowKey {
                    proto,
                    a: dst,
                    b: src,
                    vlan,
                },
                false,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_directions_share_a_key() {
        let x = Endpoint {
            ip: "10.0.0.1".parse().unwrap(),
            port: 40000,
        };
        let y = Endpoint {
            ip: "10.0.0.2".parse().unwrap(),
            port: 80,
        };
        let (k1, s1) = FlowKey::new(Proto::Tcp, x, y, Vlans::default());
        let (k2, s2) = FlowKey::new(Proto::Tcp, y, x, Vlans::default());
        assert_eq!(k1, k2);
        assert_ne!(s1, s2);
        let (k3, _) = FlowKey::new(Proto::Udp, x, y, Vlans::default());
        assert_ne!(k1, k3);
    }
}
