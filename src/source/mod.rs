//! Where packets come from: capture files (pcap, pcapng) and, for live capture,
//! packet sockets.
//!
//! This module owns byte layouts of *containers* — file headers, record headers,
//! pcapng blocks — and the BPF filter. It hands out [`RawPacket`]s: a capture
//! timestamp, the link type of the interface the packet was captured on, the
//! length on the wire, and a borrowed slice of the captured bytes. It knows
//! nothing of any header past the link type.

pub mod file;
pub mod filter;
pub mod write;

use crate::time::Timestamp;

/// A link-layer header type, as numbered in the tcpdump.org LINKTYPE registry
/// (the value stored in pcap and pcapng files). Unknown values are data, not
/// errors: they are counted and reported by name or number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LinkType(pub u32);

impl LinkType {
    pub const NULL: LinkType = LinkType(0);
    pub const ETHERNET: LinkType = LinkType(1);
    pub const RAW: LinkType = LinkType(101);
    pub const LOOP: LinkType = LinkType(108);
    pub const LINUX_SLL: LinkType = LinkType(113);
    pub const IPV4: LinkType = LinkType(228);
    pub const IPV6: LinkType = LinkType(229);
    pub const LINUX_SLL2: LinkType = LinkType(276);

    /// The short name tcpdump and the LINKTYPE registry use (`EN10MB` is called
    /// `ETHERNET` here because that is what users read).
    pub fn name(self) -> Option<&'static str> {
        Some(match self {
            LinkType::NULL => "NULL",
            LinkType::ETHERNET => "ETHERNET",
            LinkType::RAW => "RAW",
            LinkType::LOOP => "LOOP",
            LinkType::LINUX_SLL => "LINUX_SLL",
            LinkType::IPV4 => "IPV4",
            LinkType::IPV6 => "IPV6",
            LinkType::LINUX_SLL2 => "LINUX_SLL2",
            // DLT_RAW as some writers store it (the DLT value, not the LINKTYPE).
            LinkType(12) | LinkType(14) => "RAW",
            _ => return None,
        })
    }

    /// Whether sockscope decodes this link type.
    pub fn is_supported(self) -> bool {
        self.name().is_some()
    }

    /// The libpcap DLT value for this LINKTYPE (they differ only for a few
    /// historical types), used to compile BPF filters against it.
    pub fn to_dlt(self) -> i32 {
        match self {
            // LINKTYPE_RAW is DLT_RAW, which is 12 on Linux (14 on OpenBSD).
            LinkType::RAW => 12,
            LinkType(other) => other as i32,
        }
    }

    /// `ETHERNET` or `LINKTYPE_4242` for display and JSON keys.
    pub fn label(self) -> String {
        match self.name() {
            Some(n) => n.to_string(),
            None => format!("LINKTYPE_{}", self.0),
        }
    }
}

/// One captured packet as the source delivers it.
#[derive(Clone, Copy, Debug)]
pub struct RawPacket<'a> {
    /// Capture time (from the file or the kernel).
    pub ts: Timestamp,
    /// Link type of the interface the packet was captured on.
    pub link: LinkType,
    /// Index of that interface (pcapng interface id; 0 for pcap).
    pub interface: u32,
    /// Length of the packet on the wire. May exceed `data.len()` when the
    /// capture's snaplen cut it.
    pub wire_len: u32,
    /// The captured bytes.
    pub data: &'a [u8],
    /// Byte offset in the file of the record/block that carried the packet.
    pub offset: u64,
}

impl RawPacket<'_> {
    /// True when the snaplen cut the packet short.
    pub fn is_truncated(&self) -> bool {
        (self.data.len() as u64) < u64::from(self.wire_len)
    }
}
