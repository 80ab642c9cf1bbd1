//! BPF filters in tcpdump syntax, applied to packets read from a file.
//!
//! libpcap compiles the expression and runs it over each packet with
//! `pcap_offline_filter`. The program is compiled against an *offline*
//! handle of the packet's link type, opened on a 24-byte pcap header with the
//! file's byte order: libpcap generates different code for a savefile than for
//! a live or "dead" handle (e.g. `ip6` on BSD loopback captures accepts the
//! AF_INET6 values of every BSD, and a byte-swapped file swaps them), and
//! this is what makes a filter match exactly what `tcpdump -r` matches. The pcap crate's `BpfProgram::filter` passes the
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
    /// Byte order of the file being filtered (matters to BSD loopback).
    big_endian: bool,
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
        let f = BpfFilter {
            expr: expr.to_string(),
            big_endian: false,
            programs: HashMap::new(),
        };
        // Syntax errors surface now, whatever the file turns out to be.
        let dead = Capture::dead(Linktype(LinkType::ETHERNET.to_dlt()))
            .map_err(|e| f.error(LinkType::ETHERNET, e.to_string()))?;
        dead.compile(expr, true)
            .map_err(|e| f.error(LinkType::ETHERNET, e.to_string()))?;
        Ok(f)
    }

    /// Tells the filter the byte order of the file it will see (before the
    /// first packet).
    pub fn set_file_big_endian(&mut self, big_endian: bool) {
        if big_endian != self.big_endian {
            self.big_endian = big_endian;
            self.programs.clear();
        }
    }

    fn error(&self, link: LinkType, message: String) -> FilterError {
        FilterError {
            expr: self.expr.clone(),
            link: link.label(),
            message,
        }
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
            let prog = match self.compile_as_savefile(link) {
                Some(p) => p,
                None => {
                    // No temporary file: a dead handle (differs from tcpdump
                    // -r only for a few link types, such as BSD loopback).
                    let dead = Capture::dead(Linktype(link.to_dlt()))
                        .map_err(|e| self.error(link, e.to_string()))?;
                    dead.compile(&self.expr, true)
                        .map_err(|e| self.error(link, e.to_string()))?
                }
            };
            self.programs.insert(link, prog);
        }
        Ok(&self.programs[&link])
    }

    /// Compiles against an offline handle on an empty pcap file of `link`
    /// in the file's byte order. `None` when no such file can be made;
    /// a compile error is still an error.
    fn compile_as_savefile(&self, link: LinkType) -> Option<BpfProgram> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "sockscope-bpf-{}-{}.pcap",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        let mut header = Vec::with_capacity(24);
        let words: [u32; 5] = [0xa1b2_c3d4, 0, 0, 262_144, link.0];
        for (i, w) in words.iter().enumerate() {
            if i == 1 {
                // version 2.4
                let (maj, min) = (2u16, 4u16);
                if self.big_endian {
                    header.extend_from_slice(&maj.to_be_bytes());
                    header.extend_from_slice(&min.to_be_bytes());
                } else {
                    header.extend_from_slice(&maj.to_le_bytes());
                    header.extend_from_slice(&min.to_le_bytes());
                }
                header.extend_from_slice(&[0; 4]); // thiszone
                continue;
            }
            if self.big_endian {
                header.extend_from_slice(&w.to_be_bytes());
            } else {
                header.extend_from_slice(&w.to_le_bytes());
            }
        }
        std::fs::write(&path, &header).ok()?;
        let compiled = Capture::from_file(&path)
            .ok()
            .map(|c| c.compile(&self.expr, true));
        let _ = std::fs::remove_file(&path);
        compiled?.ok()
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
