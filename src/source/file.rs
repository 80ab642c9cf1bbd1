//! Capture files: classic pcap (micro/nanosecond, either byte order, the
//! "modified" Kuznetzov variant) and pcapng (several sections, several interfaces
//! with different link types and timestamp resolutions, EPB and SPB; every other
//! block skipped).
//!
//! The reader streams the file through one buffer (1 MiB, grown only for a
//! block larger than that and never past [`MAX_BLOCK_LEN`]) and hands out packets
//! as slices of it: no copy and no allocation per packet. pcap-parser parses the
//! pcap global header and pcapng blocks; record and block *lengths* are checked
//! here first, so that a corrupt length is reported as such (with its file
//! offset) instead of making the reader wait for, or allocate, bytes that will
//! never come.
//!
//! Errors carry the byte offset of the record or block that could not be read.
//! Everything before that offset has been handed out already: the caller reports
//! it, then the error.

use std::io::{self, Read};

use pcap_parser::pcapng::{
    parse_enhancedpacketblock_be, parse_enhancedpacketblock_le, parse_interfacedescriptionblock_be,
    parse_interfacedescriptionblock_le, parse_sectionheaderblock, parse_simplepacketblock_be,
    parse_simplepacketblock_le, EPB_MAGIC, IDB_MAGIC, SHB_MAGIC, SPB_MAGIC,
};
use pcap_parser::traits::PcapNGPacketBlock;
use pcap_parser::{build_ts_resolution, parse_pcap_header};

use super::{LinkType, RawPacket};
use crate::time::Timestamp;

/// Largest pcapng block accepted (libpcap accepts up to 16 MiB; twice that
/// leaves room for any real snaplen plus options).
pub const MAX_BLOCK_LEN: usize = 32 * 1024 * 1024;
/// Largest classic-pcap record accepted when the file's snaplen is smaller:
/// libpcap's own maximum snapshot length (262144).
pub const MAX_PCAP_RECORD: u32 = 262_144;

const INITIAL_BUFFER: usize = 256 * 1024;
const PCAP_HEADER_LEN: usize = 24;
const BOM_MAGIC: u32 = 0x1A2B_3C4D;

/// What kind of file this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileFormat {
    Pcap {
        big_endian: bool,
        nanosecond: bool,
        modified: bool,
    },
    PcapNg,
}

impl FileFormat {
    pub fn name(self) -> &'static str {
        match self {
            FileFormat::Pcap { modified: true, .. } => "pcap-modified",
            FileFormat::Pcap {
                nanosecond: true, ..
            } => "pcap-ns",
            FileFormat::Pcap { .. } => "pcap",
            FileFormat::PcapNg => "pcapng",
        }
    }
}

/// Why reading stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReadErrorKind {
    #[error("empty file (no capture header)")]
    Empty,
    #[error("not a pcap or pcapng file (starts with {0})")]
    NotACapture(String),
    #[error("file ends inside the {0} header")]
    TruncatedHeader(&'static str),
    #[error("unsupported pcap version {0}.{1}")]
    UnsupportedVersion(u16, u16),
    #[error(
        "{what} cut off by the end of the file ({needed} bytes expected, {available} present)"
    )]
    Truncated {
        what: &'static str,
        needed: u64,
        available: u64,
    },
    #[error("absurd {what} length {len} (limit {limit})")]
    AbsurdLength {
        what: &'static str,
        len: u64,
        limit: u64,
    },
    #[error("corrupt pcapng block: {0}")]
    BadBlock(String),
    #[error("read error: {0}")]
    Io(#[from] io::Error),
}

/// A read error at a byte offset of the file.
#[derive(Debug, thiserror::Error)]
#[error("at byte offset {offset}: {kind}")]
pub struct ReadError {
    pub offset: u64,
    pub kind: ReadErrorKind,
}

/// One pcapng interface (or the single implicit interface of a pcap file).
#[derive(Clone, Debug)]
pub struct Interface {
    pub link: LinkType,
    pub snaplen: u32,
    /// Timestamp units per second (10^6 unless `if_tsresol` says otherwise).
    pub units_per_sec: u64,
    /// `if_tsoffset`: seconds added to every timestamp.
    pub offset_secs: i64,
    pub name: Option<String>,
}

#[derive(Debug)]
enum Layout {
    Pcap {
        big_endian: bool,
        modified: bool,
        units_per_sec: u64,
        link: LinkType,
        snaplen: u32,
    },
    PcapNg {
        big_endian: bool,
        interfaces: Vec<Interface>,
        /// Every interface ever described, across sections, for reporting.
        section: u32,
    },
}

/// Where the packet of the current record lies in the buffer.
struct Found {
    ts: Timestamp,
    link: LinkType,
    interface: u32,
    wire_len: u32,
    start: usize,
    len: usize,
    offset: u64,
}

/// Streaming reader over a pcap or pcapng byte stream.
pub struct CaptureReader<R> {
    input: R,
    buf: Vec<u8>,
    /// Start of unconsumed bytes in `buf`.
    pos: usize,
    /// End of valid bytes in `buf`.
    end: usize,
    /// File offset of `buf[0]`.
    base: u64,
    eof: bool,
    layout: Layout,
    format: FileFormat,
    /// Timestamp of the previous packet: pcapng Simple Packet Blocks carry none.
    last_ts: Timestamp,
    /// Interfaces seen, in order of description (all sections).
    all_interfaces: Vec<Interface>,
    skipped_blocks: u64,
    /// Records skipped as damaged (see [`Damaged`]).
    damaged: Damaged,
    /// Never move handed-out bytes: ask for a new buffer instead.
    chunked: bool,
}

/// Packet records whose framing holds but whose original length cannot be
/// true: below the captured length, or above the largest snapshot length
/// (max(snaplen, 256 KiB)). Such a record is damage, not data: it is skipped,
/// counted, and the offset of the first one kept for the report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Damaged {
    pub records: u64,
    /// File offset of the first one.
    pub first_offset: Option<u64>,
}

impl Damaged {
    /// Whether `orig` (a record's original length) is impossible for
    /// `captured` bytes under `limit`; counts the record at `offset` if so.
    fn check(&mut self, captured: usize, orig: u32, limit: u32, offset: u64) -> bool {
        let bad = (orig as usize) < captured || orig > limit;
        if bad {
            self.records += 1;
            self.first_offset.get_or_insert(offset);
        }
        bad
    }
}

impl<R: Read> CaptureReader<R> {
    /// Reads and checks the file header (pcap global header, or the first pcapng
    /// Section Header Block).
    pub fn new(input: R) -> Result<Self, ReadError> {
        let mut r = CaptureReader {
            input,
            buf: vec![0; INITIAL_BUFFER],
            pos: 0,
            end: 0,
            base: 0,
            eof: false,
            layout: Layout::PcapNg {
                big_endian: false,
                interfaces: Vec::new(),
                section: 0,
            },
            format: FileFormat::PcapNg,
            last_ts: Timestamp::ZERO,
            all_interfaces: Vec::new(),
            skipped_blocks: 0,
            damaged: Damaged::default(),
            chunked: false,
        };
        r.fill_to(4).map_err(|e| r.err_here(e.into()))?;
        // (Not chunked yet: fill_to cannot ask for a swap here.)
        let have = r.end - r.pos;
        if have == 0 {
            return Err(r.err_here(ReadErrorKind::Empty));
        }
        if have < 4 {
            return Err(r.err_here(ReadErrorKind::NotACapture(hex_prefix(&r.buf[r.pos..r.end]))));
        }
        let magic = le32(&r.buf[r.pos..]);
        if magic == SHB_MAGIC {
            r.format = FileFormat::PcapNg;
            // The first section's byte order, known before its block is read.
            r.fill_to(12).map_err(|e| r.err_here(e.into()))?;
            if r.end - r.pos >= 12 {
                let big = le32(&r.buf[r.pos + 8..]) == BOM_MAGIC.swap_bytes();
                r.layout = Layout::PcapNg {
                    big_endian: big,
                    interfaces: Vec::new(),
                    section: 0,
                };
            }
            // The first block is read by the normal block loop; make sure it
            // is a well-formed SHB now so that a damaged start is reported as
            // "not a capture" only when it really is not one.
            return Ok(r);
        }
        match magic {
            0xa1b2_c3d4 | 0xa1b2_3c4d | 0xa1b2_cd34 | 0xd4c3_b2a1 | 0x4d3c_b2a1 => {}
            _ => {
                return Err(r.err_here(ReadErrorKind::NotACapture(hex_prefix(
                    &r.buf[r.pos..r.pos + 4],
                ))))
            }
        }
        r.fill_to(PCAP_HEADER_LEN)
            .map_err(|e| r.err_here(e.into()))?;
        if r.end - r.pos < PCAP_HEADER_LEN {
            return Err(r.err_here(ReadErrorKind::TruncatedHeader("pcap")));
        }
        let (_, hdr) = parse_pcap_header(&r.buf[r.pos..r.end]).map_err(|_| {
            r.err_here(ReadErrorKind::NotACapture(hex_prefix(
                &r.buf[r.pos..r.pos + 4],
            )))
        })?;
        if hdr.version_major != 2 {
            return Err(r.err_here(ReadErrorKind::UnsupportedVersion(
                hdr.version_major,
                hdr.version_minor,
            )));
        }
        let big_endian = hdr.is_bigendian();
        let modified = hdr.is_modified_format();
        let nanosecond = hdr.is_nanosecond_precision();
        // Some writers set the upper bits of the link-type field (FCS length
        // flags, LINKTYPE_MATCHING_MASK); the link type is the low 16 bits.
        let link = LinkType((hdr.network.0 as u32) & 0x0000_ffff);
        r.layout = Layout::Pcap {
            big_endian,
            modified,
            units_per_sec: if nanosecond { 1_000_000_000 } else { 1_000_000 },
            link,
            snaplen: hdr.snaplen,
        };
        r.format = FileFormat::Pcap {
            big_endian,
            nanosecond,
            modified,
        };
        r.all_interfaces.push(Interface {
            link,
            snaplen: hdr.snaplen,
            units_per_sec: if nanosecond { 1_000_000_000 } else { 1_000_000 },
            offset_secs: 0,
            name: None,
        });
        r.pos += PCAP_HEADER_LEN;
        Ok(r)
    }

    pub fn format(&self) -> FileFormat {
        self.format
    }

    /// Whether the file (the current pcapng section) is big-endian.
    pub fn big_endian(&self) -> bool {
        match self.layout {
            Layout::Pcap { big_endian, .. } | Layout::PcapNg { big_endian, .. } => big_endian,
        }
    }

    /// Interfaces described so far (one for pcap).
    pub fn interfaces(&self) -> &[Interface] {
        &self.all_interfaces
    }

    /// pcapng blocks skipped because they carry no packet (statistics, name
    /// resolution, custom and unknown blocks).
    pub fn skipped_blocks(&self) -> u64 {
        self.skipped_blocks
    }

    /// Records skipped because their original length cannot be true.
    pub fn damaged(&self) -> Damaged {
        self.damaged
    }

    /// File offset of the next unread byte.
    pub fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// The next packet, `Ok(None)` at a clean end of file (not in chunked
    /// mode).
    pub fn next_packet(&mut self) -> Result<Option<RawPacket<'_>>, ReadError> {
        debug_assert!(!self.chunked, "use next() in chunked mode");
        match self.next_step()? {
            Next::Packet(p, _) => Ok(Some(p)),
            Next::End | Next::NeedBuffer => Ok(None),
        }
    }

    /// Chunked mode: packets handed out stay where they are in the buffer
    /// until the caller swaps the buffer out, so they can be referenced by
    /// offset from another thread. See [`Next::NeedBuffer`].
    pub fn set_chunked(&mut self, on: bool) {
        self.chunked = on;
    }

    /// Replaces the buffer with `fresh` (grown if needed), carrying the
    /// unread bytes over, and returns the old one.
    pub fn swap_buffer(&mut self, mut fresh: Vec<u8>) -> Vec<u8> {
        let tail = self.end - self.pos;
        let want = self.buf.len().max(tail);
        if fresh.len() < want {
            fresh.resize(want, 0);
        }
        fresh[..tail].copy_from_slice(&self.buf[self.pos..self.end]);
        self.base += self.pos as u64;
        self.pos = 0;
        self.end = tail;
        std::mem::replace(&mut self.buf, fresh)
    }

    /// The next packet, or a request for a new buffer (chunked mode only),
    /// or the end of the file.
    pub fn next_step(&mut self) -> Result<Next<'_>, ReadError> {
        let step = match self.layout {
            Layout::Pcap { .. } => self.next_pcap_record()?,
            Layout::PcapNg { .. } => self.next_pcapng_packet()?,
        };
        Ok(match step {
            Step::End => Next::End,
            Step::Swap => Next::NeedBuffer,
            Step::Found(f) => {
                self.last_ts = f.ts;
                Next::Packet(
                    RawPacket {
                        ts: f.ts,
                        link: f.link,
                        interface: f.interface,
                        wire_len: f.wire_len,
                        data: &self.buf[f.start..f.start + f.len],
                        offset: f.offset,
                    },
                    f.start,
                )
            }
        })
    }

    fn next_pcap_record(&mut self) -> Result<Step, ReadError> {
        let Layout::Pcap {
            big_endian,
            modified,
            units_per_sec,
            link,
            snaplen,
        } = self.layout
        else {
            unreachable!("called for pcap layout only")
        };
        let hdr_len = if modified { 24 } else { 16 };
        loop {
            fill!(self, hdr_len);
            let have = self.end - self.pos;
            if have == 0 {
                return Ok(Step::End);
            }
            if have < hdr_len {
                return Err(self.err_here(ReadErrorKind::Truncated {
                    what: "record header",
                    needed: hdr_len as u64,
                    available: have as u64,
                }));
            }
            let h = &self.buf[self.pos..self.pos + hdr_len];
            let rd = |i: usize| {
                let b = [h[i], h[i + 1], h[i + 2], h[i + 3]];
                if big_endian {
                    u32::from_be_bytes(b)
                } else {
                    u32::from_le_bytes(b)
                }
            };
            let (ts_sec, ts_frac, caplen, origlen) = (rd(0), rd(4), rd(8), rd(12));
            let limit = snaplen.max(MAX_PCAP_RECORD).min(MAX_BLOCK_LEN as u32);
            if caplen > limit {
                return Err(self.err_here(ReadErrorKind::AbsurdLength {
                    what: "record",
                    len: u64::from(caplen),
                    limit: u64::from(limit),
                }));
            }
            let total = hdr_len + caplen as usize;
            fill!(self, total);
            let have = self.end - self.pos;
            if have < total {
                return Err(self.err_here(ReadErrorKind::Truncated {
                    what: "packet record",
                    needed: total as u64,
                    available: have as u64,
                }));
            }
            let offset = self.offset();
            let start = self.pos + hdr_len;
            self.pos += total;
            if self.damaged.check(caplen as usize, origlen, limit, offset) {
                continue;
            }
            return Ok(Step::Found(Found {
                // pcap stores seconds as an unsigned 32-bit count.
                ts: Timestamp::from_parts(i64::from(ts_sec), u64::from(ts_frac), units_per_sec),
                link,
                interface: 0,
                wire_len: origlen,
                start,
                len: caplen as usize,
                offset,
            }));
        }
    }

    fn next_pcapng_packet(&mut self) -> Result<Step, ReadError> {
        loop {
            let offset = self.offset();
            fill!(self, 12);
            let have = self.end - self.pos;
            if have == 0 {
                return Ok(Step::End);
            }
            if have < 12 {
                return Err(self.err_here(ReadErrorKind::Truncated {
                    what: "pcapng block header",
                    needed: 12,
                    available: have as u64,
                }));
            }
            let head = &self.buf[self.pos..self.pos + 12];
            let raw_type = le32(head);
            let is_shb = raw_type == SHB_MAGIC;
            let big_endian = if is_shb {
                match le32(&head[8..]) {
                    BOM_MAGIC => false,
                    m if m == BOM_MAGIC.swap_bytes() => true,
                    m => {
                        return Err(self.err_here(ReadErrorKind::BadBlock(format!(
                            "section header with unknown byte-order magic 0x{m:08x}"
                        ))))
                    }
                }
            } else {
                match &self.layout {
                    Layout::PcapNg { big_endian, .. } => *big_endian,
                    Layout::Pcap { .. } => unreachable!(),
                }
            };
            let u32_at = |b: &[u8]| {
                let a = [b[0], b[1], b[2], b[3]];
                if big_endian {
                    u32::from_be_bytes(a)
                } else {
                    u32::from_le_bytes(a)
                }
            };
            let block_type = u32_at(head);
            let total_len = u32_at(&head[4..]) as usize;
            if total_len < 12 || !total_len.is_multiple_of(4) {
                return Err(self.err_here(ReadErrorKind::BadBlock(format!(
                    "block length {total_len} is not a multiple of 4 of at least 12"
                ))));
            }
            if total_len > MAX_BLOCK_LEN {
                return Err(self.err_here(ReadErrorKind::AbsurdLength {
                    what: "pcapng block",
                    len: total_len as u64,
                    limit: MAX_BLOCK_LEN as u64,
                }));
            }
            fill!(self, total_len);
            let have = self.end - self.pos;
            if have < total_len {
                return Err(self.err_here(ReadErrorKind::Truncated {
                    what: "pcapng block",
                    needed: total_len as u64,
                    available: have as u64,
                }));
            }
            let block_start = self.pos;
            let block = &self.buf[block_start..block_start + total_len];
            if u32_at(&block[total_len - 4..]) as usize != total_len {
                return Err(self.err_here(ReadErrorKind::BadBlock(
                    "trailing block length differs from the leading one".into(),
                )));
            }
            let bad = |what: &str| ReadError {
                offset,
                kind: ReadErrorKind::BadBlock(format!("cannot parse {what}")),
            };

            match block_type {
                SHB_MAGIC => {
                    let (_, shb) =
                        parse_sectionheaderblock(block).map_err(|_| bad("section header"))?;
                    if shb.major_version != 1 {
                        return Err(ReadError {
                            offset,
                            kind: ReadErrorKind::BadBlock(format!(
                                "unsupported pcapng version {}.{}",
                                shb.major_version, shb.minor_version
                            )),
                        });
                    }
                    let section = match &self.layout {
                        Layout::PcapNg { section, .. } => section + 1,
                        Layout::Pcap { .. } => unreachable!(),
                    };
                    self.layout = Layout::PcapNg {
                        big_endian,
                        interfaces: Vec::new(),
                        section,
                    };
                }
                IDB_MAGIC => {
                    let parsed = if big_endian {
                        parse_interfacedescriptionblock_be(block)
                    } else {
                        parse_interfacedescriptionblock_le(block)
                    };
                    let (_, idb) = parsed.map_err(|_| bad("interface description"))?;
                    let iface = Interface {
                        link: LinkType((idb.linktype.0 as u32) & 0x0000_ffff),
                        snaplen: idb.snaplen,
                        // An invalid if_tsresol falls back to the default
                        // (microseconds) rather than losing the packets.
                        units_per_sec: build_ts_resolution(idb.if_tsresol).unwrap_or(1_000_000),
                        offset_secs: idb.if_tsoffset,
                        name: idb.if_name().and_then(|r| r.ok()).map(str::to_string),
                    };
                    self.all_interfaces.push(iface.clone());
                    if let Layout::PcapNg { interfaces, .. } = &mut self.layout {
                        interfaces.push(iface);
                    }
                }
                EPB_MAGIC => {
                    let parsed = if big_endian {
                        parse_enhancedpacketblock_be(block)
                    } else {
                        parse_enhancedpacketblock_le(block)
                    };
                    let (_, epb) = parsed.map_err(|_| bad("enhanced packet"))?;
                    let Some(iface) = self.interface(epb.if_id) else {
                        return Err(ReadError {
                            offset,
                            kind: ReadErrorKind::BadBlock(format!(
                                "packet refers to interface {} which was not described",
                                epb.if_id
                            )),
                        });
                    };
                    let ticks = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                    let ts = Timestamp::from_ticks(ticks, iface.units_per_sec)
                        + crate::time::Nanos(iface.offset_secs.saturating_mul(1_000_000_000));
                    let data = epb.packet_data();
                    let start = data.as_ptr() as usize - self.buf.as_ptr() as usize;
                    let len = data.len();
                    let wire_len = epb.origlen;
                    let (link, limit) = (iface.link, iface.snaplen.max(MAX_PCAP_RECORD));
                    if self.damaged.check(len, wire_len, limit, offset) {
                        self.pos += total_len;
                        continue;
                    }
                    let found = Found {
                        ts,
                        link,
                        interface: epb.if_id,
                        wire_len,
                        start,
                        len,
                        offset,
                    };
                    self.pos += total_len;
                    return Ok(Step::Found(found));
                }
                SPB_MAGIC => {
                    let parsed = if big_endian {
                        parse_simplepacketblock_be(block)
                    } else {
                        parse_simplepacketblock_le(block)
                    };
                    let (_, spb) = parsed.map_err(|_| bad("simple packet"))?;
                    let Some(iface) = self.interface(0) else {
                        return Err(ReadError {
                            offset,
                            kind: ReadErrorKind::BadBlock(
                                "simple packet block before any interface description".into(),
                            ),
                        });
                    };
                    let mut data = spb.packet_data();
                    if iface.snaplen > 0 && data.len() > iface.snaplen as usize {
                        data = &data[..iface.snaplen as usize];
                    }
                    let start = data.as_ptr() as usize - self.buf.as_ptr() as usize;
                    let len = data.len();
                    let limit = iface.snaplen.max(MAX_PCAP_RECORD);
                    let (link, wire_len) = (iface.link, spb.origlen);
                    if self.damaged.check(len, wire_len, limit, offset) {
                        self.pos += total_len;
                        continue;
                    }
                    let found = Found {
                        // SPBs carry no timestamp: the previous packet's time
                        // keeps the capture in order.
                        ts: self.last_ts,
                        link,
                        interface: 0,
                        wire_len,
                        start,
                        len,
                        offset,
                    };
                    self.pos += total_len;
                    return Ok(Step::Found(found));
                }
                _ => self.skipped_blocks += 1,
            }
            self.pos += total_len;
        }
    }

    fn interface(&self, id: u32) -> Option<&Interface> {
        match &self.layout {
            Layout::PcapNg { interfaces, .. } => interfaces.get(id as usize),
            Layout::Pcap { .. } => None,
        }
    }

    fn err_here(&self, kind: ReadErrorKind) -> ReadError {
        ReadError {
            offset: self.offset(),
            kind,
        }
    }

    /// Makes `buf[pos..pos + n]` valid if the input has that many bytes left;
    /// stops early at end of input (the caller checks `end - pos`). In
    /// chunked mode the buffer is never compacted once a packet was handed
    /// out of it: `Fill::Swap` asks the caller for a fresh buffer instead.
    fn fill_to(&mut self, n: usize) -> io::Result<Fill> {
        if self.end - self.pos >= n {
            return Ok(Fill::Ready);
        }
        if self.chunked && self.pos > 0 && self.pos + n > self.buf.len() {
            return Ok(Fill::Swap);
        }
        if self.pos + n > self.buf.len() {
            // Move the unconsumed tail to the front; grow only when one block
            // is larger than the whole buffer (bounded by MAX_BLOCK_LEN).
            self.buf.copy_within(self.pos..self.end, 0);
            self.base += self.pos as u64;
            self.end -= self.pos;
            self.pos = 0;
            if n > self.buf.len() {
                self.buf.resize(n.next_power_of_two(), 0);
            }
        }
        while self.end - self.pos < n && !self.eof {
            match self.input.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(k) => self.end += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(Fill::Ready)
    }
}

enum Fill {
    Ready,
    Swap,
}

/// One step of a chunked read.
pub enum Next<'a> {
    /// A packet, and where its data starts in the current buffer.
    Packet(RawPacket<'a>, usize),
    /// The buffer is used up: hand it over with [`CaptureReader::swap_buffer`].
    NeedBuffer,
    End,
}

enum Step {
    Found(Found),
    Swap,
    End,
}

/// Propagates `Fill::Swap` out of a record reader.
macro_rules! fill {
    ($self:ident, $n:expr) => {
        match $self.fill_to($n) {
            Ok(Fill::Ready) => {}
            Ok(Fill::Swap) => return Ok(Step::Swap),
            Err(e) => return Err($self.err_here(e.into())),
        }
    };
}
use fill;

fn le32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

fn hex_prefix(b: &[u8]) -> String {
    let mut s = String::from("0x");
    for byte in b.iter().take(4) {
        s.push_str(&format!("{byte:02x}"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pcap_header(magic: u32, link: u32) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&magic.to_le_bytes());
        v.extend_from_slice(&2u16.to_le_bytes());
        v.extend_from_slice(&4u16.to_le_bytes());
        v.extend_from_slice(&0i32.to_le_bytes());
        v.extend_from_slice(&0u32.to_le_bytes());
        v.extend_from_slice(&65535u32.to_le_bytes());
        v.extend_from_slice(&link.to_le_bytes());
        v
    }

    fn record(ts: u32, frac: u32, data: &[u8], orig: u32) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&ts.to_le_bytes());
        v.extend_from_slice(&frac.to_le_bytes());
        v.extend_from_slice(&(data.len() as u32).to_le_bytes());
        v.extend_from_slice(&orig.to_le_bytes());
        v.extend_from_slice(data);
        v
    }

    type Packets = Vec<(Timestamp, Vec<u8>, u32, u64)>;

    fn read_all(bytes: &[u8]) -> (Packets, Option<ReadError>) {
        let mut out = Vec::new();
        let mut r = match CaptureReader::new(bytes) {
            Ok(r) => r,
            Err(e) => return (out, Some(e)),
        };
        loop {
            match r.next_packet() {
                Ok(Some(p)) => out.push((p.ts, p.data.to_vec(), p.wire_len, p.offset)),
                Ok(None) => return (out, None),
                Err(e) => return (out, Some(e)),
            }
        }
    }

    #[test]
    fn pcap_micro_little_endian() {
        let mut f = pcap_header(0xa1b2_c3d4, 1);
        f.extend(record(10, 5, b"abcd", 60));
        f.extend(record(11, 6, b"xy", 2));
        let (pkts, err) = read_all(&f);
        assert!(err.is_none());
        assert_eq!(pkts.len(), 2);
        assert_eq!(pkts[0].0, Timestamp(10_000_005_000));
        assert_eq!(pkts[0].1, b"abcd");
        assert_eq!(pkts[0].2, 60);
        assert_eq!(pkts[0].3, 24);
        assert_eq!(pkts[1].3, 24 + 16 + 4);
    }

    #[test]
    fn pcap_nanosecond_big_endian() {
        let mut f = Vec::new();
        f.extend_from_slice(&0xa1b2_3c4du32.to_be_bytes());
        f.extend_from_slice(&2u16.to_be_bytes());
        f.extend_from_slice(&4u16.to_be_bytes());
        f.extend_from_slice(&[0; 8]);
        f.extend_from_slice(&65535u32.to_be_bytes());
        f.extend_from_slice(&101u32.to_be_bytes());
        for v in [7u32, 123_456_789, 3, 3] {
            f.extend_from_slice(&v.to_be_bytes());
        }
        f.extend_from_slice(b"abc");
        let mut r = CaptureReader::new(&f[..]).unwrap();
        assert_eq!(
            r.format(),
            FileFormat::Pcap {
                big_endian: true,
                nanosecond: true,
                modified: false
            }
        );
        let p = r.next_packet().unwrap().unwrap();
        assert_eq!(p.ts, Timestamp(7_123_456_789));
        assert_eq!(p.link, LinkType::RAW);
        assert_eq!(p.data, b"abc");
        assert!(r.next_packet().unwrap().is_none());
    }

    #[test]
    fn empty_and_garbage() {
        let (_, e) = read_all(b"");
        assert!(matches!(e.unwrap().kind, ReadErrorKind::Empty));
        let (_, e) = read_all(b"\x06\x00\x00\x00hello world");
        let e = e.unwrap();
        assert_eq!(e.offset, 0);
        assert!(matches!(e.kind, ReadErrorKind::NotACapture(_)));
        let (_, e) = read_all(b"\xd4\xc3");
        assert!(matches!(e.unwrap().kind, ReadErrorKind::NotACapture(_)));
        let (_, e) = read_all(&pcap_header(0xa1b2_c3d4, 1)[..20]);
        assert!(matches!(e.unwrap().kind, ReadErrorKind::TruncatedHeader(_)));
    }

    #[test]
    fn cut_record_reports_its_offset_after_the_good_ones() {
        let mut f = pcap_header(0xa1b2_c3d4, 1);
        f.extend(record(1, 0, b"good", 4));
        let second = f.len() as u64;
        f.extend(record(2, 0, b"cut-off-here", 12));
        f.truncate(f.len() - 3);
        let (pkts, e) = read_all(&f);
        assert_eq!(pkts.len(), 1);
        let e = e.unwrap();
        assert_eq!(e.offset, second);
        assert!(matches!(e.kind, ReadErrorKind::Truncated { .. }));
    }

    /// An original length below the captured one, or beyond any snapshot
    /// length, is damage: the record is skipped and counted with its
    /// offset, and reading goes on (before, 0xffffffff was taken as the
    /// packet's size on the wire).
    #[test]
    fn impossible_original_lengths_are_damage_not_data() {
        let mut f = pcap_header(0xa1b2_c3d4, 1);
        f.extend(record(1, 0, b"good", 4));
        let second = f.len() as u64;
        f.extend(record(2, 0, b"huge", 0xffff_ffff));
        f.extend(record(3, 0, b"longer-than-orig", 3));
        f.extend(record(4, 0, b"past-the-snaplen", MAX_PCAP_RECORD + 1));
        f.extend(record(5, 0, b"cut", 1500));
        let mut r = CaptureReader::new(&f[..]).unwrap();
        let mut wire = Vec::new();
        while let Some(p) = r.next_packet().unwrap() {
            wire.push(p.wire_len);
        }
        assert_eq!(wire, [4, 1500]);
        assert_eq!(
            r.damaged(),
            Damaged {
                records: 3,
                first_offset: Some(second)
            }
        );
    }

    #[test]
    fn absurd_length_is_not_waited_for() {
        let mut f = pcap_header(0xa1b2_c3d4, 1);
        let mut rec = record(1, 0, b"", 0);
        rec[8..12].copy_from_slice(&0x7fff_ffffu32.to_le_bytes());
        f.extend(rec);
        let (pkts, e) = read_all(&f);
        assert!(pkts.is_empty());
        let e = e.unwrap();
        assert_eq!(e.offset, 24);
        assert!(matches!(e.kind, ReadErrorKind::AbsurdLength { .. }));
    }

    fn block(kind: u32, body: &[u8]) -> Vec<u8> {
        let mut body = body.to_vec();
        while !body.len().is_multiple_of(4) {
            body.push(0);
        }
        let total = (body.len() + 12) as u32;
        let mut v = Vec::new();
        v.extend_from_slice(&kind.to_le_bytes());
        v.extend_from_slice(&total.to_le_bytes());
        v.extend(body);
        v.extend_from_slice(&total.to_le_bytes());
        v
    }

    fn shb() -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&BOM_MAGIC.to_le_bytes());
        b.extend_from_slice(&1u16.to_le_bytes());
        b.extend_from_slice(&0u16.to_le_bytes());
        b.extend_from_slice(&(-1i64).to_le_bytes());
        block(SHB_MAGIC, &b)
    }

    fn idb(link: u16, tsresol: Option<u8>) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&link.to_le_bytes());
        b.extend_from_slice(&0u16.to_le_bytes());
        b.extend_from_slice(&0u32.to_le_bytes());
        if let Some(r) = tsresol {
            b.extend_from_slice(&9u16.to_le_bytes());
            b.extend_from_slice(&1u16.to_le_bytes());
            b.extend_from_slice(&[r, 0, 0, 0]);
            b.extend_from_slice(&[0, 0, 0, 0]);
        }
        block(IDB_MAGIC, &b)
    }

    fn epb(if_id: u32, ticks: u64, data: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&if_id.to_le_bytes());
        b.extend_from_slice(&((ticks >> 32) as u32).to_le_bytes());
        b.extend_from_slice(&(ticks as u32).to_le_bytes());
        b.extend_from_slice(&(data.len() as u32).to_le_bytes());
        b.extend_from_slice(&(data.len() as u32).to_le_bytes());
        b.extend_from_slice(data);
        block(EPB_MAGIC, &b)
    }

    #[test]
    fn pcapng_interfaces_with_own_link_types_and_resolutions() {
        let mut f = shb();
        f.extend(idb(1, None));
        f.extend(idb(276, Some(9)));
        f.extend(block(0x0000_0bad, b"unknown block body"));
        f.extend(epb(0, 5_000_001, b"eth"));
        f.extend(epb(1, 5_000_000_002, b"sll2"));
        // A second section restarts interface numbering.
        f.extend(shb());
        f.extend(idb(101, None));
        f.extend(epb(0, 7_000_000, b"raw"));
        let mut r = CaptureReader::new(&f[..]).unwrap();
        let a = r.next_packet().unwrap().unwrap();
        assert_eq!(
            (a.link, a.ts, a.data),
            (LinkType::ETHERNET, Timestamp(5_000_001_000), &b"eth"[..])
        );
        let b = r.next_packet().unwrap().unwrap();
        assert_eq!(
            (b.link, b.ts, b.interface),
            (LinkType::LINUX_SLL2, Timestamp(5_000_000_002), 1)
        );
        let c = r.next_packet().unwrap().unwrap();
        assert_eq!((c.link, c.ts), (LinkType::RAW, Timestamp(7_000_000_000)));
        assert!(r.next_packet().unwrap().is_none());
        assert_eq!(r.skipped_blocks(), 1);
        assert_eq!(r.interfaces().len(), 3);
    }

    #[test]
    fn simple_packet_blocks_use_interface_zero_and_the_previous_time() {
        let mut f = shb();
        let mut idb_body = Vec::new();
        idb_body.extend_from_slice(&1u16.to_le_bytes());
        idb_body.extend_from_slice(&0u16.to_le_bytes());
        idb_body.extend_from_slice(&4u32.to_le_bytes()); // snaplen 4
        f.extend(block(IDB_MAGIC, &idb_body));
        f.extend(epb(0, 9_000_000, b"abcd"));
        let mut spb = Vec::new();
        spb.extend_from_slice(&6u32.to_le_bytes()); // original length 6
        spb.extend_from_slice(b"ABCDEF");
        f.extend(block(SPB_MAGIC, &spb));
        let mut r = CaptureReader::new(&f[..]).unwrap();
        let a = r.next_packet().unwrap().unwrap();
        let ts = a.ts;
        let b = r.next_packet().unwrap().unwrap();
        assert_eq!(b.data, b"ABCD", "cut to the interface's snaplen");
        assert_eq!(b.wire_len, 6);
        assert!(b.is_truncated());
        assert_eq!(b.ts, ts);
    }

    #[test]
    fn pcapng_bad_lengths() {
        let mut f = shb();
        f.extend(idb(1, None));
        let at = f.len() as u64;
        let mut bad = epb(0, 1, b"abcd");
        bad[4..8].copy_from_slice(&13u32.to_le_bytes());
        f.extend(bad);
        let (_, e) = read_all(&f);
        let e = e.unwrap();
        assert_eq!(e.offset, at);
        assert!(matches!(e.kind, ReadErrorKind::BadBlock(_)));

        let mut f = shb();
        f.extend(idb(1, None));
        f.extend(epb(7, 1, b"abcd"));
        let (_, e) = read_all(&f);
        assert!(matches!(e.unwrap().kind, ReadErrorKind::BadBlock(_)));
    }

    #[test]
    fn chunked_mode_never_moves_handed_out_bytes() {
        let mut f = pcap_header(0xa1b2_c3d4, 1);
        for i in 0..2000u32 {
            let body = vec![(i % 251) as u8; 300 + (i as usize % 700)];
            f.extend(record(i, 0, &body, body.len() as u32));
        }
        let mut r = CaptureReader::new(&f[..]).unwrap();
        r.set_chunked(true);
        let mut spans: Vec<(usize, usize, u8)> = Vec::new();
        let mut seen = 0;
        let mut check = |buf: &[u8], spans: &mut Vec<(usize, usize, u8)>| {
            for (off, len, v) in spans.drain(..) {
                assert!(buf[off..off + len].iter().all(|&b| b == v));
                seen += 1;
            }
        };
        loop {
            match r.next_step().unwrap() {
                Next::Packet(p, off) => spans.push((off, p.data.len(), p.data[0])),
                Next::NeedBuffer => {
                    let old = r.swap_buffer(vec![0; 64 * 1024]);
                    check(&old, &mut spans);
                }
                Next::End => {
                    let old = r.swap_buffer(Vec::new());
                    check(&old, &mut spans);
                    break;
                }
            }
        }
        assert_eq!(seen, 2000);
    }

    #[test]
    fn reads_across_buffer_boundaries() {
        // Enough records to force several refills and one growth.
        let mut f = pcap_header(0xa1b2_c3d4, 1);
        let big = vec![7u8; 200_000];
        for i in 0..20u32 {
            f.extend(record(i, 0, &big, 200_000));
        }
        let mut r = CaptureReader::new(&f[..]).unwrap();
        let mut n = 0;
        while let Some(p) = r.next_packet().unwrap() {
            assert_eq!(p.data.len(), 200_000);
            n += 1;
        }
        assert_eq!(n, 20);
    }
}
