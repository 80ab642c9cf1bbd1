//! One captured frame → the layers sockscope tracks.
//!
//! [`Decoder::decode`] takes a [`RawPacket`] and returns a [`Decoded`]: a TCP
//! segment or UDP datagram with its IP endpoints and VLAN tags (borrowing the
//! packet's bytes), or the reason there is none — not IP, another IP protocol,
//! a fragment held for reassembly, an unsupported link type, or a typed
//! [`DecodeError`] naming the layer and byte offset where decoding stopped.
//!
//! Link layers are dispatched on the link type of the interface the packet
//! came from: Ethernet (802.1Q/802.1ad/QinQ tags), Linux cooked SLL and SLL2,
//! BSD loopback NULL/LOOP, raw IP. etherparse slices Ethernet, VLAN and the IP
//! layer (IPv4 options, IPv6 extension headers); SLL/SLL2/NULL headers are
//! read here because etherparse rejects SLL packet and hardware types libpcap
//! accepts, and has no SLL2 or NULL. IP fragments go through the bounded
//! [`defrag::Defragmenter`]; the rebuilt datagram is decoded like any packet.
//!
//! This module knows nothing of flows or output.

pub mod defrag;
pub mod owned;
pub mod tcp;

use std::fmt;
use std::net::IpAddr;

use etherparse::{
    ip_number, Ethernet2Slice, IpNumber, Ipv6ExtensionSlice, Ipv6ExtensionsSlice, LaxIpSlice,
    SingleVlanSlice,
};

use crate::source::{LinkType, RawPacket};
use crate::time::Timestamp;
use defrag::{DefragLimits, DefragStats, Defragmenter, FragKey, Fragment};
pub use tcp::{SynOptions, TcpFlags, TcpSegment, UdpDatagram};

/// Up to two VLAN IDs (outer first), as 802.1Q / QinQ carry them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Vlans {
    ids: [u16; 2],
    len: u8,
}

impl Vlans {
    pub fn push(&mut self, id: u16) {
        if (self.len as usize) < self.ids.len() {
            self.ids[self.len as usize] = id;
            self.len += 1;
        }
    }

    pub fn as_slice(&self) -> &[u16] {
        &self.ids[..self.len as usize]
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// The protocol layer a decode error happened in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layer {
    Link,
    Vlan,
    Ip,
    IpExtension,
    Tcp,
    Udp,
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Layer::Link => "link",
            Layer::Vlan => "VLAN",
            Layer::Ip => "IP",
            Layer::IpExtension => "IP extension header",
            Layer::Tcp => "TCP",
            Layer::Udp => "UDP",
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeErrorKind {
    /// The header needs more bytes than the frame has.
    Truncated { needed: usize, available: usize },
    /// A field breaks the protocol's rules.
    Malformed(&'static str),
    /// etherparse's verdict on an IP header.
    Ip(etherparse::err::ip::HeaderError),
    /// etherparse's verdict on an IPv6 extension header chain.
    Ipv6Extension(etherparse::err::ipv6_exts::HeaderError),
}

/// Why a frame could not be decoded down to TCP/UDP: the layer, the byte
/// offset in the frame where that layer starts, and the rule broken.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{layer} header at frame offset {offset}: {kind}")]
pub struct DecodeError {
    pub layer: Layer,
    pub offset: usize,
    pub kind: DecodeErrorKind,
}

impl DecodeError {
    /// True when the header ran past the captured bytes (as opposed to
    /// breaking a rule): on a snaplen-cut frame that is truncation, not damage.
    pub fn is_length(&self) -> bool {
        matches!(self.kind, DecodeErrorKind::Truncated { .. })
    }
}

impl fmt::Display for DecodeErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeErrorKind::Truncated { needed, available } => {
                write!(f, "needs {needed} bytes, {available} captured")
            }
            DecodeErrorKind::Malformed(m) => f.write_str(m),
            DecodeErrorKind::Ip(e) => write!(f, "{e}"),
            DecodeErrorKind::Ipv6Extension(e) => write!(f, "{e}"),
        }
    }
}

/// A decoded TCP segment or UDP datagram.
#[derive(Clone, Copy, Debug)]
pub struct Packet<'a> {
    pub ts: Timestamp,
    pub vlan: Vlans,
    pub src: IpAddr,
    pub dst: IpAddr,
    /// The frame was cut by the snaplen (payload bytes are missing, or more).
    pub truncated: bool,
    /// Rebuilt from IP fragments.
    pub reassembled: bool,
    pub transport: Transport<'a>,
}

#[derive(Clone, Copy, Debug)]
pub enum Transport<'a> {
    Tcp(TcpSegment<'a>),
    Udp(UdpDatagram<'a>),
}

/// The outcome of decoding one frame.
#[derive(Debug)]
pub enum Decoded<'a> {
    Packet(Packet<'a>),
    /// An IP packet of another protocol (ICMP, ESP, GRE, …).
    OtherIp {
        proto: u8,
    },
    /// A frame that carries no IP (ARP, LLDP, 802.3 LLC, netlink, …).
    NotIp,
    /// An IP fragment, held until its datagram is complete.
    FragmentHeld,
    /// A link type sockscope does not decode.
    UnsupportedLink,
    Error(DecodeError),
}

/// The stateful part of decoding: fragment reassembly.
pub struct Decoder {
    defrag: Defragmenter,
    /// The last datagram rebuilt from fragments; `Decoded` borrows it.
    reassembled: Vec<u8>,
}

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const ETHERTYPE_VLAN: u16 = 0x8100;
const ETHERTYPE_QINQ: u16 = 0x88a8;
const ETHERTYPE_QINQ_OLD: u16 = 0x9100;

/// Where the network layer starts, and how it was found.
struct Link<'a> {
    net: &'a [u8],
    offset: usize,
    vlan: Vlans,
}

impl Decoder {
    pub fn new(limits: DefragLimits) -> Self {
        Decoder {
            defrag: Defragmenter::new(limits),
            reassembled: Vec::new(),
        }
    }

    pub fn defrag_stats(&self) -> DefragStats {
        self.defrag.stats()
    }

    /// Lets fragment timeouts run up to `now` (capture time).
    pub fn expire(&mut self, now: Timestamp) {
        self.defrag.expire(now);
    }

    /// End of input: fragments still held are counted as incomplete.
    pub fn finish(&mut self) {
        self.defrag.finish();
    }

    #[inline(always)]
    pub fn decode<'a>(&'a mut self, raw: &RawPacket<'a>) -> Decoded<'a> {
        if let Some(p) = fast_ipv4(raw) {
            return Decoded::Packet(p);
        }
        self.decode_general(raw)
    }

    /// The fast path alone: `Some` for the frames it accepts. Exposed so that
    /// tests can hold it to the general path.
    pub fn fast_path<'a>(raw: &RawPacket<'a>) -> Option<Packet<'a>> {
        fast_ipv4(raw)
    }

    /// Every frame through etherparse (the fast path's reference).
    pub fn decode_general<'a>(&'a mut self, raw: &RawPacket<'a>) -> Decoded<'a> {
        let link = match link_layer(raw.link, raw.data) {
            Ok(Some(l)) => l,
            Ok(None) => return Decoded::NotIp,
            Err(LinkError::Unsupported) => return Decoded::UnsupportedLink,
            Err(LinkError::Decode(e)) => return Decoded::Error(e),
        };
        let truncated = raw.is_truncated();
        match self.network_layer(raw.ts, truncated, link) {
            Net::Done(d) => d,
            Net::Reassembled { key, vlan } => self.decode_reassembled(raw.ts, key, vlan),
        }
    }

    fn network_layer<'a>(&mut self, ts: Timestamp, truncated: bool, link: Link<'a>) -> Net<'a> {
        let Link { net, offset, vlan } = link;
        let (ip, ext_err) = match LaxIpSlice::from_slice(net) {
            Ok(v) => v,
            Err(etherparse::err::ip::LaxHeaderSliceError::Len(l)) => {
                return Net::Done(Decoded::Error(DecodeError {
                    layer: Layer::Ip,
                    offset,
                    kind: DecodeErrorKind::Truncated {
                        needed: l.required_len,
                        available: l.len,
                    },
                }))
            }
            Err(etherparse::err::ip::LaxHeaderSliceError::Content(c)) => {
                return Net::Done(Decoded::Error(DecodeError {
                    layer: Layer::Ip,
                    offset,
                    kind: DecodeErrorKind::Ip(c),
                }))
            }
        };
        let base = net.as_ptr() as usize;
        let (src, dst, declared_len) = match &ip {
            LaxIpSlice::Ipv4(v4) => {
                let h = v4.header();
                (
                    IpAddr::V4(h.source_addr()),
                    IpAddr::V4(h.destination_addr()),
                    usize::from(h.total_len()),
                )
            }
            LaxIpSlice::Ipv6(v6) => {
                let h = v6.header();
                let plen = usize::from(h.payload_length());
                (
                    IpAddr::V6(h.source_addr()),
                    IpAddr::V6(h.destination_addr()),
                    if plen == 0 { 0 } else { 40 + plen },
                )
            }
        };
        let payload = ip.payload();
        let payload_off = payload.payload.as_ptr() as usize - base;
        // The IP payload's length on the wire: from the IP header, unless the
        // header gives none (0: TSO/GRO frames, IPv6 jumbograms) or less than
        // the headers themselves.
        let wire_len = if declared_len > payload_off && payload.incomplete {
            declared_len - payload_off
        } else {
            payload.payload.len()
        };

        if let Some((e, _)) = ext_err {
            use etherparse::err::ipv6_exts::HeaderSliceError as X;
            let kind = match e {
                X::Len(l) => DecodeErrorKind::Truncated {
                    needed: l.required_len,
                    available: l.len,
                },
                X::Content(c) => DecodeErrorKind::Ipv6Extension(c),
            };
            return Net::Done(Decoded::Error(DecodeError {
                layer: Layer::IpExtension,
                offset: offset + payload_off,
                kind,
            }));
        }

        if payload.fragmented {
            let frag = match &ip {
                LaxIpSlice::Ipv4(v4) => {
                    let h = v4.header();
                    Fragment {
                        key: FragKey {
                            src,
                            dst,
                            id: u32::from(h.identification()),
                            proto: h.protocol().0,
                        },
                        offset: u32::from(h.fragments_offset().byte_offset()),
                        more: h.more_fragments(),
                        data: payload.payload,
                        whole: !payload.incomplete,
                        ts,
                        vlan,
                    }
                }
                LaxIpSlice::Ipv6(v6) => {
                    let Some(fh) = v6.extensions().clone().into_iter().find_map(|e| match e {
                        Ipv6ExtensionSlice::Fragment(f) => Some(f),
                        _ => None,
                    }) else {
                        return Net::Done(Decoded::Error(DecodeError {
                            layer: Layer::IpExtension,
                            offset,
                            kind: DecodeErrorKind::Malformed(
                                "fragmented IPv6 packet without a fragment header",
                            ),
                        }));
                    };
                    // The fragmentable part starts right after the fragment
                    // header (extension headers after it belong to the
                    // datagram and are parsed once it is rebuilt).
                    let start = fh.slice().as_ptr() as usize + fh.slice().len() - base;
                    let end = payload_off + payload.payload.len();
                    Fragment {
                        key: FragKey {
                            src,
                            dst,
                            id: fh.identification(),
                            proto: fh.next_header().0,
                        },
                        offset: u32::from(fh.fragment_offset().byte_offset()),
                        more: fh.more_fragments(),
                        data: net.get(start..end).unwrap_or(&[]),
                        whole: !payload.incomplete,
                        ts,
                        vlan,
                    }
                }
            };
            return match self.defrag.add(frag) {
                None => Net::Done(Decoded::FragmentHeld),
                Some(r) => {
                    self.reassembled = r.data;
                    Net::Reassembled {
                        key: r.key,
                        vlan: r.vlan,
                    }
                }
            };
        }

        let transport_off = offset + payload_off;
        Net::Done(transport(
            ts,
            vlan,
            src,
            dst,
            truncated || payload.incomplete,
            false,
            payload.ip_number,
            payload.payload,
            wire_len,
            transport_off,
        ))
    }

    fn decode_reassembled(&self, ts: Timestamp, key: FragKey, vlan: Vlans) -> Decoded<'_> {
        let mut proto = IpNumber(key.proto);
        let mut data: &[u8] = &self.reassembled;
        if key.src.is_ipv6() && is_ipv6_extension(proto) {
            let (_, next, rest, err) = Ipv6ExtensionsSlice::from_slice_lax(proto, data);
            if let Some((e, _)) = err {
                use etherparse::err::ipv6_exts::HeaderSliceError as X;
                return Decoded::Error(DecodeError {
                    layer: Layer::IpExtension,
                    offset: 0,
                    kind: match e {
                        X::Len(l) => DecodeErrorKind::Truncated {
                            needed: l.required_len,
                            available: l.len,
                        },
                        X::Content(c) => DecodeErrorKind::Ipv6Extension(c),
                    },
                });
            }
            proto = next;
            data = rest;
        }
        transport(
            ts,
            vlan,
            key.src,
            key.dst,
            false,
            true,
            proto,
            data,
            data.len(),
            0,
        )
    }
}

/// The common case without etherparse's generality: an untagged or
/// single-tagged Ethernet frame, or a raw IPv4 packet, carrying a whole,
/// unfragmented IPv4 packet with TCP or UDP. Anything else — IPv6, other
/// tags, fragments, truncated or inconsistent headers — returns `None` and
/// takes the general path. On what it accepts, it gives exactly what the
/// general path gives (checked over every capture by a test); it exists
/// because it costs a quarter of the instructions on the replay hot path.
#[inline(always)]
fn fast_ipv4<'a>(raw: &RawPacket<'a>) -> Option<Packet<'a>> {
    let data = raw.data;
    if raw.is_truncated() {
        return None;
    }
    let mut vlan = Vlans::default();
    let ip_off = match raw.link {
        LinkType::ETHERNET => {
            let ethertype = u16::from_be_bytes([*data.get(12)?, *data.get(13)?]);
            match ethertype {
                ETHERTYPE_IPV4 => 14,
                ETHERTYPE_VLAN => {
                    let tci = u16::from_be_bytes([*data.get(14)?, *data.get(15)?]);
                    if u16::from_be_bytes([*data.get(16)?, *data.get(17)?]) != ETHERTYPE_IPV4 {
                        return None;
                    }
                    vlan.push(tci & 0x0fff);
                    18
                }
                _ => return None,
            }
        }
        LinkType::RAW | LinkType::IPV4 => 0,
        _ => return None,
    };
    let ip = data.get(ip_off..)?;
    let hdr = ip.get(..20)?;
    if hdr[0] >> 4 != 4 {
        return None;
    }
    let ihl = usize::from(hdr[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([hdr[2], hdr[3]]));
    // Fragments (MF or an offset) and lengths that do not add up go the
    // general way.
    if ihl < 20
        || total < ihl
        || total > ip.len()
        || u16::from_be_bytes([hdr[6], hdr[7]]) & 0x3fff != 0
    {
        return None;
    }
    let src = IpAddr::V4(std::net::Ipv4Addr::new(hdr[12], hdr[13], hdr[14], hdr[15]));
    let dst = IpAddr::V4(std::net::Ipv4Addr::new(hdr[16], hdr[17], hdr[18], hdr[19]));
    let l4 = &ip[ihl..total];
    let transport = match hdr[9] {
        6 => Transport::Tcp(tcp::parse_tcp(l4, l4.len(), ip_off + ihl).ok()?),
        17 => Transport::Udp(tcp::parse_udp(l4, l4.len(), ip_off + ihl).ok()?),
        _ => return None,
    };
    Some(Packet {
        ts: raw.ts,
        vlan,
        src,
        dst,
        truncated: false,
        reassembled: false,
        transport,
    })
}

enum Net<'a> {
    Done(Decoded<'a>),
    Reassembled { key: FragKey, vlan: Vlans },
}

fn is_ipv6_extension(p: IpNumber) -> bool {
    matches!(
        p,
        ip_number::IPV6_HOP_BY_HOP
            | ip_number::IPV6_ROUTE
            | ip_number::IPV6_DEST_OPTIONS
            | ip_number::AUTH
    )
}

#[allow(clippy::too_many_arguments)]
fn transport<'a>(
    ts: Timestamp,
    vlan: Vlans,
    src: IpAddr,
    dst: IpAddr,
    truncated: bool,
    reassembled: bool,
    proto: IpNumber,
    data: &'a [u8],
    wire_len: usize,
    offset: usize,
) -> Decoded<'a> {
    let transport = match proto {
        ip_number::TCP => match tcp::parse_tcp(data, wire_len, offset) {
            Ok(seg) => Transport::Tcp(seg),
            Err(e) => return Decoded::Error(e),
        },
        ip_number::UDP => match tcp::parse_udp(data, wire_len, offset) {
            Ok(d) => Transport::Udp(d),
            Err(e) => return Decoded::Error(e),
        },
        other => return Decoded::OtherIp { proto: other.0 },
    };
    Decoded::Packet(Packet {
        ts,
        vlan,
        src,
        dst,
        truncated,
        reassembled,
        transport,
    })
}

enum LinkError {
    Unsupported,
    Decode(DecodeError),
}

fn too_short(layer: Layer, offset: usize, needed: usize, available: usize) -> LinkError {
    LinkError::Decode(DecodeError {
        layer,
        offset,
        kind: DecodeErrorKind::Truncated { needed, available },
    })
}

/// Strips the link layer. `Ok(None)`: the frame carries no IP.
fn link_layer(link: LinkType, data: &[u8]) -> Result<Option<Link<'_>>, LinkError> {
    match link {
        LinkType::ETHERNET => {
            let eth = Ethernet2Slice::from_slice_without_fcs(data)
                .map_err(|e| too_short(Layer::Link, 0, e.required_len, e.len))?;
            ether_payload(
                eth.ether_type().0,
                eth.payload_slice(),
                14,
                Vlans::default(),
            )
        }
        LinkType::LINUX_SLL => {
            // struct sll_header: packet type, ARPHRD type, address length,
            // 8 address bytes, protocol (pcap-linktype(7)).
            const LEN: usize = 16;
            if data.len() < LEN {
                return Err(too_short(Layer::Link, 0, LEN, data.len()));
            }
            let hatype = u16::from_be_bytes([data[2], data[3]]);
            let proto = u16::from_be_bytes([data[14], data[15]]);
            sll_payload(hatype, proto, &data[LEN..], LEN)
        }
        LinkType::LINUX_SLL2 => {
            // struct sll2_header: protocol, reserved, ifindex, ARPHRD type,
            // packet type, address length, 8 address bytes.
            const LEN: usize = 20;
            if data.len() < LEN {
                return Err(too_short(Layer::Link, 0, LEN, data.len()));
            }
            let proto = u16::from_be_bytes([data[0], data[1]]);
            let hatype = u16::from_be_bytes([data[8], data[9]]);
            sll_payload(hatype, proto, &data[LEN..], LEN)
        }
        LinkType::NULL | LinkType::LOOP => {
            if data.len() < 4 {
                return Err(too_short(Layer::Link, 0, 4, data.len()));
            }
            let b = [data[0], data[1], data[2], data[3]];
            // NULL stores the family in the capturing host's byte order,
            // LOOP in network order; tcpdump's rule: a value with high bits
            // set is byte-swapped.
            let mut family = if link == LinkType::LOOP {
                u32::from_be_bytes(b)
            } else {
                u32::from_ne_bytes(b)
            };
            if family & 0xffff_0000 != 0 {
                family = family.swap_bytes();
            }
            match family {
                // AF_INET; AF_INET6 on BSD (24), FreeBSD (28), macOS (30), Linux (10).
                2 | 24 | 28 | 30 | 10 => Ok(Some(Link {
                    net: &data[4..],
                    offset: 4,
                    vlan: Vlans::default(),
                })),
                _ => Ok(None),
            }
        }
        LinkType::RAW | LinkType::IPV4 | LinkType::IPV6 | LinkType(12) | LinkType(14) => {
            Ok(Some(Link {
                net: data,
                offset: 0,
                vlan: Vlans::default(),
            }))
        }
        _ => Err(LinkError::Unsupported),
    }
}

fn sll_payload(
    hatype: u16,
    proto: u16,
    payload: &[u8],
    offset: usize,
) -> Result<Option<Link<'_>>, LinkError> {
    // ARPHRD_NETLINK (824) and other non-Ethernet hardware types carry
    // protocol numbers that are not EtherTypes; IP is IP on all of them.
    const ARPHRD_NETLINK: u16 = 824;
    if hatype == ARPHRD_NETLINK {
        return Ok(None);
    }
    ether_payload(proto, payload, offset, Vlans::default())
}

/// Follows VLAN tags to the network layer.
fn ether_payload(
    mut ethertype: u16,
    mut payload: &[u8],
    mut offset: usize,
    mut vlan: Vlans,
) -> Result<Option<Link<'_>>, LinkError> {
    loop {
        match ethertype {
            ETHERTYPE_IPV4 | ETHERTYPE_IPV6 => {
                return Ok(Some(Link {
                    net: payload,
                    offset,
                    vlan,
                }))
            }
            ETHERTYPE_VLAN | ETHERTYPE_QINQ | ETHERTYPE_QINQ_OLD => {
                let tag = SingleVlanSlice::from_slice(payload)
                    .map_err(|e| too_short(Layer::Vlan, offset, e.required_len, e.len))?;
                vlan.push(tag.vlan_identifier().value());
                ethertype = tag.ether_type().0;
                payload = tag.payload_slice();
                offset += 4;
            }
            _ => return Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(link: LinkType, data: &[u8]) -> RawPacket<'_> {
        RawPacket {
            ts: Timestamp::ZERO,
            link,
            interface: 0,
            wire_len: data.len() as u32,
            data,
            offset: 0,
        }
    }

    /// IPv4 TCP SYN 10.0.0.1:40000 -> 10.0.0.2:80, no options.
    fn ipv4_syn() -> Vec<u8> {
        let mut p = vec![
            0x45, 0, 0, 40, 0x12, 0x34, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ];
        p.extend_from_slice(&[
            0x9c, 0x40, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0,
        ]);
        p
    }

    fn expect_tcp(d: Decoded<'_>) -> (Packet<'_>, TcpSegment<'_>) {
        match d {
            Decoded::Packet(p) => match p.transport {
                Transport::Tcp(t) => (p, t),
                other => panic!("not tcp: {other:?}"),
            },
            other => panic!("not a packet: {other:?}"),
        }
    }

    #[test]
    fn ethernet_with_qinq() {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x88, 0xa8, 0x00, 0x0a, 0x81, 0x00, 0x00, 0x14, 0x08, 0x00]);
        f.extend(ipv4_syn());
        let mut d = Decoder::new(DefragLimits::default());
        let (p, t) = expect_tcp(d.decode(&raw(LinkType::ETHERNET, &f)));
        assert_eq!(p.vlan.as_slice(), &[10, 20]);
        assert_eq!((t.src_port, t.dst_port), (40000, 80));
        assert!(t.flags.syn());
    }

    #[test]
    fn sll2_null_loop_raw() {
        let mut d = Decoder::new(DefragLimits::default());
        let mut sll2 = vec![
            0x08, 0x00, 0, 0, 0, 0, 0, 1, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0,
        ];
        sll2.extend(ipv4_syn());
        expect_tcp(d.decode(&raw(LinkType::LINUX_SLL2, &sll2)));

        let mut null = 2u32.to_le_bytes().to_vec();
        null.extend(ipv4_syn());
        expect_tcp(d.decode(&raw(LinkType::NULL, &null)));
        let mut null_be = 2u32.to_be_bytes().to_vec();
        null_be.extend(ipv4_syn());
        expect_tcp(d.decode(&raw(LinkType::NULL, &null_be)));

        let mut lo = 2u32.to_be_bytes().to_vec();
        lo.extend(ipv4_syn());
        expect_tcp(d.decode(&raw(LinkType::LOOP, &lo)));

        expect_tcp(d.decode(&raw(LinkType::RAW, &ipv4_syn())));
    }

    #[test]
    fn not_ip_and_unknown_links() {
        let mut d = Decoder::new(DefragLimits::default());
        let mut arp = vec![0u8; 12];
        arp.extend_from_slice(&[0x08, 0x06]);
        arp.extend_from_slice(&[0u8; 28]);
        assert!(matches!(
            d.decode(&raw(LinkType::ETHERNET, &arp)),
            Decoded::NotIp
        ));
        assert!(matches!(
            d.decode(&raw(LinkType(147), &arp)),
            Decoded::UnsupportedLink
        ));
    }

    #[test]
    fn errors_name_layer_and_offset() {
        let mut d = Decoder::new(DefragLimits::default());
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x08, 0x00]);
        f.extend_from_slice(&ipv4_syn()[..30]);
        // The IPv4 header is whole; TCP needs 20 bytes and has 10.
        match d.decode(&raw(LinkType::ETHERNET, &f)) {
            Decoded::Error(e) => {
                assert_eq!(e.layer, Layer::Tcp);
                assert_eq!(e.offset, 34);
                assert!(e.is_length());
            }
            other => panic!("{other:?}"),
        }
        let mut bad = vec![0u8; 12];
        bad.extend_from_slice(&[0x08, 0x00, 0x75]);
        bad.extend_from_slice(&[0u8; 30]);
        match d.decode(&raw(LinkType::ETHERNET, &bad)) {
            Decoded::Error(e) => assert_eq!((e.layer, e.offset), (Layer::Ip, 14)),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            d.decode(&raw(LinkType::ETHERNET, &[0u8; 5])),
            Decoded::Error(_)
        ));
    }

    #[test]
    fn snaplen_cut_payload_keeps_wire_length() {
        let mut p = ipv4_syn();
        p[2..4].copy_from_slice(&1040u16.to_be_bytes()); // 1000 payload bytes on the wire
        p[33] = 0x18; // PSH|ACK
        p.extend_from_slice(&[b'x'; 16]);
        let mut r = raw(LinkType::RAW, &p);
        r.wire_len = 1040;
        let mut d = Decoder::new(DefragLimits::default());
        let (pkt, t) = expect_tcp(d.decode(&r));
        assert!(pkt.truncated);
        assert_eq!(t.payload.len(), 16);
        assert_eq!(t.payload_len, 1000);
    }

    #[test]
    fn ipv4_fragments_are_rebuilt() {
        // UDP 10.0.0.1:53 -> 10.0.0.2:9999 with 16 payload bytes, split 16 + 8.
        let udp = [
            0u8, 53, 0x27, 0x0f, 0, 24, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
        ];
        let frag = |off: u16, more: bool, body: &[u8]| {
            let total = (20 + body.len()) as u16;
            let flags_off = (if more { 0x2000 } else { 0 }) | (off / 8);
            let mut p = vec![0x45, 0];
            p.extend_from_slice(&total.to_be_bytes());
            p.extend_from_slice(&[0xab, 0xcd]);
            p.extend_from_slice(&flags_off.to_be_bytes());
            p.extend_from_slice(&[64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
            p.extend_from_slice(body);
            p
        };
        let a = frag(0, true, &udp[..16]);
        let b = frag(16, false, &udp[16..]);
        let mut d = Decoder::new(DefragLimits::default());
        assert!(matches!(
            d.decode(&raw(LinkType::RAW, &b)),
            Decoded::FragmentHeld
        ));
        match d.decode(&raw(LinkType::RAW, &a)) {
            Decoded::Packet(p) => {
                assert!(p.reassembled);
                match p.transport {
                    Transport::Udp(u) => {
                        assert_eq!((u.src_port, u.dst_port, u.payload_len), (53, 9999, 16));
                        assert_eq!(u.payload[15], 16);
                    }
                    _ => panic!(),
                }
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(d.defrag_stats().reassembled, 1);
    }
}
