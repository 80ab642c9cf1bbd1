//! Flow identity: the 5-tuple in a canonical (direction-free) order, plus the
//! VLAN tags when the user asks for connections to be keyed by VLAN.
//!
//! The key is compact (40 bytes) and hashed in three writes: it is computed
//! and looked up for every packet.

use std::hash::{Hash, Hasher};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

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

/// A 128-bit address as two words: 8-byte alignment instead of a `u128`'s
/// 16, so the key is 40 bytes, not 48, and a UDP flow's slot is two cache
/// lines instead of three.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Bits([u64; 2]);

impl Bits {
    #[inline]
    fn new(v: u128) -> Bits {
        Bits([(v >> 64) as u64, v as u64])
    }

    #[inline]
    fn get(self) -> u128 {
        (u128::from(self.0[0]) << 64) | u128::from(self.0[1])
    }
}

/// A flow's identity, the same for both directions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowKey {
    /// The lower endpoint's address (IPv4 as an IPv4-mapped IPv6 value).
    a_ip: Bits,
    b_ip: Bits,
    a_port: u16,
    b_port: u16,
    /// Bit 31: IPv4. Bits 0..24: the VLAN IDs when flows are keyed by VLAN.
    tag: u32,
}

impl Hash for FlowKey {
    fn hash<H: Hasher>(&self, h: &mut H) {
        h.write_u128(self.a_ip.get());
        h.write_u128(self.b_ip.get());
        h.write_u64(
            (u64::from(self.a_port) << 48) | (u64::from(self.b_port) << 32) | u64::from(self.tag),
        );
    }
}

fn ip_bits(ip: IpAddr) -> u128 {
    match ip {
        // ::ffff:a.b.c.d, built directly (the hot case).
        IpAddr::V4(v4) => (0xffff_u128 << 32) | u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

fn vlan_bits(v: &Vlans) -> u32 {
    let s = v.as_slice();
    let outer = u32::from(s.first().copied().unwrap_or(0) & 0x0fff);
    let inner = u32::from(s.get(1).copied().unwrap_or(0) & 0x0fff);
    (outer << 12) | inner
}

impl FlowKey {
    /// The key of a packet from `src` to `dst`, and whether `src` is the
    /// lower endpoint (endpoint `a`).
    #[inline(always)]
    pub fn new(src: Endpoint, dst: Endpoint, vlan: &Vlans) -> (FlowKey, bool) {
        if let (IpAddr::V4(s4), IpAddr::V4(d4)) = (src.ip, dst.ip) {
            // The common case: compare (address, port) packed in one u64.
            let s = (u64::from(u32::from(s4)) << 16) | u64::from(src.port);
            let d = (u64::from(u32::from(d4)) << 16) | u64::from(dst.port);
            let tag = (1 << 31) | if vlan.is_empty() { 0 } else { vlan_bits(vlan) };
            let mapped = |x: u64| (0xffff_u128 << 32) | u128::from(x >> 16);
            let (a, b, src_is_a) = if s <= d { (s, d, true) } else { (d, s, false) };
            return (
                FlowKey {
                    a_ip: Bits::new(mapped(a)),
                    b_ip: Bits::new(mapped(b)),
                    a_port: a as u16,
                    b_port: b as u16,
                    tag,
                },
                src_is_a,
            );
        }
        let (s, d) = (ip_bits(src.ip), ip_bits(dst.ip));
        let tag =
            (u32::from(src.ip.is_ipv4()) << 31) | if vlan.is_empty() { 0 } else { vlan_bits(vlan) };
        if s < d || (s == d && src.port <= dst.port) {
            (
                FlowKey {
                    a_ip: Bits::new(s),
                    b_ip: Bits::new(d),
                    a_port: src.port,
                    b_port: dst.port,
                    tag,
                },
                true,
            )
        } else {
            (
                FlowKey {
                    a_ip: Bits::new(d),
                    b_ip: Bits::new(s),
                    a_port: dst.port,
                    b_port: src.port,
                    tag,
                },
                false,
            )
        }
    }

    fn ip(&self, bits: u128) -> IpAddr {
        if self.tag >> 31 == 1 {
            IpAddr::V4(
                Ipv6Addr::from(bits)
                    .to_ipv4_mapped()
                    .unwrap_or(Ipv4Addr::UNSPECIFIED),
            )
        } else {
            IpAddr::V6(Ipv6Addr::from(bits))
        }
    }

    /// The addresses of endpoints `a` and `b`, in that order if `a_first`,
    /// else reversed. (Selected as integers before any `IpAddr` is built:
    /// building both and then swapping went through memory, a stall the
    /// tracking loop paid on every packet.)
    #[inline]
    pub fn addresses(&self, a_first: bool) -> (IpAddr, IpAddr) {
        let (x, y) = if a_first {
            (self.a_ip.get(), self.b_ip.get())
        } else {
            (self.b_ip.get(), self.a_ip.get())
        };
        if self.tag >> 31 == 1 {
            (
                IpAddr::V4(Ipv4Addr::from(x as u32)),
                IpAddr::V4(Ipv4Addr::from(y as u32)),
            )
        } else {
            (IpAddr::V6(Ipv6Addr::from(x)), IpAddr::V6(Ipv6Addr::from(y)))
        }
    }

    pub fn a(&self) -> Endpoint {
        Endpoint {
            ip: self.ip(self.a_ip.get()),
            port: self.a_port,
        }
    }

    pub fn b(&self) -> Endpoint {
        Endpoint {
            ip: self.ip(self.b_ip.get()),
            port: self.b_port,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(ip: &str, port: u16) -> Endpoint {
        Endpoint {
            ip: ip.parse().unwrap(),
            port,
        }
    }

    #[test]
    fn both_directions_share_a_key() {
        let (x, y) = (ep("10.0.0.1", 40000), ep("10.0.0.2", 80));
        let (k1, s1) = FlowKey::new(x, y, &Vlans::default());
        let (k2, s2) = FlowKey::new(y, x, &Vlans::default());
        assert_eq!(k1, k2);
        assert_ne!(s1, s2);
        assert_eq!((k1.a(), k1.b()), (x, y));
    }

    #[test]
    fn families_and_vlans_are_distinct() {
        let v4 = FlowKey::new(ep("1.2.3.4", 1), ep("5.6.7.8", 2), &Vlans::default()).0;
        let v6 = FlowKey::new(
            ep("::ffff:1.2.3.4", 1),
            ep("::ffff:5.6.7.8", 2),
            &Vlans::default(),
        )
        .0;
        assert_ne!(v4, v6);
        assert_eq!(v6.a(), ep("::ffff:1.2.3.4", 1));
        let mut tagged = Vlans::default();
        tagged.push(10);
        let t = FlowKey::new(ep("1.2.3.4", 1), ep("5.6.7.8", 2), &tagged).0;
        assert_ne!(v4, t);
    }

    #[test]
    fn the_ipv4_shortcut_orders_like_the_general_rule() {
        let cases = [
            ("10.0.0.1", 40000, "10.0.0.2", 80),
            ("10.0.0.2", 80, "10.0.0.1", 40000),
            ("10.0.0.1", 80, "10.0.0.1", 40000),
            ("10.0.0.1", 40000, "10.0.0.1", 80),
            ("255.255.255.255", 1, "0.0.0.0", 65535),
        ];
        for (a, ap, b, bp) in cases {
            let (x, y) = (ep(a, ap), ep(b, bp));
            let (k, src_is_a) = FlowKey::new(x, y, &Vlans::default());
            let expect_a = (ip_bits(x.ip), x.port) <= (ip_bits(y.ip), y.port);
            assert_eq!(src_is_a, expect_a, "{a}:{ap} {b}:{bp}");
            let (lo, hi) = if expect_a { (x, y) } else { (y, x) };
            assert_eq!((k.a(), k.b()), (lo, hi));
        }
    }

    #[test]
    fn ipv6_round_trips() {
        let (x, y) = (ep("2001:db8::1", 443), ep("2001:db8::2", 5555));
        let (k, _) = FlowKey::new(y, x, &Vlans::default());
        assert_eq!((k.a(), k.b()), (x, y));
    }

    #[test]
    fn the_key_is_compact() {
        assert_eq!(std::mem::size_of::<FlowKey>(), 40);
        assert_eq!(std::mem::align_of::<FlowKey>(), 8);
    }

    #[test]
    fn addresses_in_packet_order() {
        for (s, d) in [
            ("10.0.0.9", "10.0.0.2"),
            ("10.0.0.1", "10.0.0.2"),
            ("2001:db8::9", "2001:db8::2"),
            ("::ffff:1.2.3.4", "::ffff:1.2.3.3"),
        ] {
            let (src, dst) = (ep(s, 1000), ep(d, 80));
            let (k, src_is_a) = FlowKey::new(src, dst, &Vlans::default());
            assert_eq!(k.addresses(src_is_a), (src.ip, dst.ip), "{s} {d}");
            assert_eq!(k.addresses(!src_is_a), (dst.ip, src.ip), "{s} {d}");
        }
    }
}
