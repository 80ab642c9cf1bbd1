//! BPF filters in tcpdump syntax, applied to packets read from a file.
//!
//! libpcap compiles the expression (against a "dead" handle of the packet's
//! link type, exactly as tcpdump does for `-r`) and runs it over each packet
//! with `pcap_offline_filter`. The pcap crate's `BpfProgram::filter` passes the
//! captured length as the wire length, which changes the verdict of `len`,
//! `greater` and `less` on snaplen-cut packets; so this module calls
//! `pcap_offline_filter` itself with the true wire length, as tcpdump does.
//!
//! Programs are compiled lazily, once per link type (a pcapng file can mix them).

#![allow(unsafe_code)]

use std::collections::HashMap;

use pcap::{BpfProgram, Capture, Linktype};

use super::{LinkType, RawPacket};

/// A filter expression that failed to compile.
#[derive(Debug, thiserror::Error)]
#[error("invalid filter {expr:?} for link type {link}: {message}")]
pub struct FilterError {
    pub expr: String,
    pub link: String,
    pub message: String,
}

/// A tcpdump-syntax filter, compiled per link type on first use.
pub struct BpfFilter {
    expr: String,
    programs: HashMap<LinkType, BpfProgram>,
}

// Layouts libpcap's `pcap_offline_filter` takes (pcap/pcap.h, pcap/bpf.h).
#[repr(C)]
struct RawBpfProgram {
    bf_len: libc::c_uint,
    bf_insns: *mut libc::c_void,
}

#[repr(C)]
struct RawPktHdr {
    ts: libc::timeval,
    caplen: libc::c_uint,
    len: libc::c_uint,
}

extern "C" {
    fn pcap_offline_filter(
        prog: *const RawBpfProgram,
        hdr: *const RawPktHdr,
        pkt: *const libc::c_uchar,
    ) -> libc::c_int;
}

impl BpfFilter {
    /// Checks the expression's syntax by compiling it for Ethernet (the
    /// program for each real link type is compiled when first needed).
    pub fn new(expr: &str) -> Result<BpfFilter, FilterError> {
        let mut f = BpfFilter {
            expr: expr.to_string(),
            programs: HashMap::new(),
        };
        f.program(LinkType::ETHERNET)?;
        Ok(f)
    }

    pub fn expr(&self) -> &str {
        &self.expr
    }

    /// Compiles the program for `link` now (so errors surface before output).
    pub fn prepare(&mut self, link: LinkType) -> Result<(), FilterError> {
        self.program(link).map(|_| ())
    }

    /// Whether the packet matches. Compiling for a new link type can fail
    /// (e.g. `ether host` on raw IP).
    pub fn matches(&mut self, pkt: &RawPacket<'_>) -> Result<bool, FilterError> {
        let prog = self.program(pkt.link)?;
        let hdr = RawPktHdr {
            ts: libc::timeval {
                tv_sec: 0,
                tv_usec: 0,
            },
            caplen: pkt.data.len() as libc::c_uint,
            len: pkt.wire_len,
        };
        // SAFETY: `BpfProgram` is `#[repr(transparent)]` over libpcap's
        // `struct bpf_program`, whose layout `RawBpfProgram` repeats; the
        // program stays alive (owned by `self.programs`) for the call. libpcap
        // reads at most `caplen` bytes of `pkt`, which is `data.len()`.
        let verdict = unsafe {
            pcap_offline_filter(
                prog as *const BpfProgram as *const RawBpfProgram,
                &hdr,
                pkt.data.as_ptr(),
            )
        };
        Ok(verdict != 0)
    }

    fn program(&mut self, link: LinkType) -> Result<&BpfProgram, FilterError> {
        if !self.programs.contains_key(&link) {
            let err = |message: String| FilterError {
                expr: self.expr.clone(),
                link: link.label(),
                message,
            };
            let dead = Capture::dead(Linktype(link.to_dlt())).map_err(|e| err(e.to_string()))?;
            let prog = dead
                .compile(&self.expr, true)
                .map_err(|e| err(e.to_string()))?;
            self.programs.insert(link, prog);
        }
        Ok(&self.programs[&link])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Timestamp;

    fn raw(data: &[u8], wire_len: u32) -> RawPacket<'_> {
        RawPacket {
            ts: Timestamp::ZERO,
            link: LinkType::RAW,
            interface: 0,
            wire_len,
            data,
            offset: 0,
        }
    }

    // IPv4 UDP 10.0.0.1:53 -> 10.0.0.2:40000, 8 bytes of payload.
    const UDP: [u8; 36] = [
        0x45, 0, 0, 36, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, 0, 53, 0x9c, 0x40, 0,
        16, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8,
    ];

    #[test]
    fn matches_like_tcpdump() {
        let mut f = BpfFilter::new("udp port 53").unwrap();
        assert!(f.matches(&raw(&UDP, 36)).unwrap());
        let mut f = BpfFilter::new("tcp").unwrap();
        assert!(!f.matches(&raw(&UDP, 36)).unwrap());
    }

    #[test]
    fn length_filters_see_the_wire_length() {
        // Captured 36 bytes of a 1000-byte packet: tcpdump's `greater 500`
        // matches it, because BPF's `len` is the wire length.
        let mut f = BpfFilter::new("greater 500").unwrap();
        assert!(f.matches(&raw(&UDP, 1000)).unwrap());
        assert!(!f.matches(&raw(&UDP, 36)).unwrap());
    }

    #[test]
    fn syntax_errors_are_reported() {
        let e = BpfFilter::new("tcp port banana").err().unwrap();
        assert!(e.to_string().contains("banana"), "{e}");
    }
}
