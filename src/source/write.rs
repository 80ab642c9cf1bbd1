//! Recording what a live capture saw: pcap (nanosecond timestamps) or
//! pcapng (one section, one interface description with the interface's
//! name, link type, snaplen and nanosecond resolution, enhanced packet
//! blocks). Both are written whole-record at a time, so a file cut by
//! Ctrl-C after a flush is valid up to its last packet.

use std::io::{self, Write};

use crate::source::LinkType;
use crate::time::Timestamp;

/// The container to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileFormat {
    Pcap,
    Pcapng,
}

impl FileFormat {
    /// pcapng when the name ends in `.pcapng`, pcap otherwise (as tcpdump
    /// and dumpcap users expect).
    pub fn for_name(name: &str) -> FileFormat {
        if name.to_ascii_lowercase().ends_with(".pcapng") {
            FileFormat::Pcapng
        } else {
            FileFormat::Pcap
        }
    }
}

pub struct PacketWriter<W: Write> {
    out: W,
    format: FileFormat,
    /// Bytes written, for rotation and reports.
    pub written: u64,
    buf: Vec<u8>,
}

fn pad4(n: usize) -> usize {
    (4 - n % 4) % 4
}

impl<W: Write> PacketWriter<W> {
    /// Writes the file header (pcapng: section and interface blocks).
    pub fn new(
        out: W,
        format: FileFormat,
        link: LinkType,
        snaplen: u32,
        interface: &str,
    ) -> io::Result<PacketWriter<W>> {
        let mut w = PacketWriter {
            out,
            format,
            written: 0,
            buf: Vec::with_capacity(1 << 16),
        };
        let mut h = Vec::new();
        match format {
            FileFormat::Pcap => {
                // Nanosecond-resolution magic, version 2.4.
                h.extend_from_slice(&0xa1b2_3c4du32.to_le_bytes());
                h.extend_from_slice(&2u16.to_le_bytes());
                h.extend_from_slice(&4u16.to_le_bytes());
                h.extend_from_slice(&0i32.to_le_bytes());
                h.extend_from_slice(&0u32.to_le_bytes());
                h.extend_from_slice(&snaplen.to_le_bytes());
                h.extend_from_slice(&link.0.to_le_bytes());
            }
            FileFormat::Pcapng => {
                // Section header block, no options, length unknown (-1).
                h.extend_from_slice(&0x0A0D_0D0Au32.to_le_bytes());
                h.extend_from_slice(&28u32.to_le_bytes());
                h.extend_from_slice(&0x1A2B_3C4Du32.to_le_bytes());
                h.extend_from_slice(&1u16.to_le_bytes());
                h.extend_from_slice(&0u16.to_le_bytes());
                h.extend_from_slice(&(-1i64).to_le_bytes());
                h.extend_from_slice(&28u32.to_le_bytes());
                // Interface description block: if_name (2), if_tsresol (9)
                // = 9 (nanoseconds), end of options.
                let mut opts = Vec::new();
                let name = interface.as_bytes();
                opts.extend_from_slice(&2u16.to_le_bytes());
                opts.extend_from_slice(&(name.len() as u16).to_le_bytes());
                opts.extend_from_slice(name);
                opts.resize(opts.len() + pad4(name.len()), 0);
                opts.extend_from_slice(&9u16.to_le_bytes());
                opts.extend_from_slice(&1u16.to_le_bytes());
                opts.extend_from_slice(&[9, 0, 0, 0]);
                opts.extend_from_slice(&[0, 0, 0, 0]);
                let len = (20 + opts.len()) as u32;
                h.extend_from_slice(&1u32.to_le_bytes());
                h.extend_from_slice(&len.to_le_bytes());
                h.extend_from_slice(&(link.0 as u16).to_le_bytes());
                h.extend_from_slice(&0u16.to_le_bytes());
                h.extend_from_slice(&snaplen.to_le_bytes());
                h.extend_from_slice(&opts);
                h.extend_from_slice(&len.to_le_bytes());
            }
        }
        w.out.write_all(&h)?;
        w.written = h.len() as u64;
        Ok(w)
    }

    /// Appends one packet (buffered; see [`PacketWriter::flush`]).
    pub fn packet(&mut self, ts: Timestamp, wire_len: u32, data: &[u8]) -> io::Result<()> {
        let secs = ts.secs().max(0) as u64;
        let nanos = ts.subsec_nanos().max(0) as u64;
        let start = self.buf.len();
        match self.format {
            FileFormat::Pcap => {
                self.buf.extend_from_slice(&(secs as u32).to_le_bytes());
                self.buf.extend_from_slice(&(nanos as u32).to_le_bytes());
                self.buf
                    .extend_from_slice(&(data.len() as u32).to_le_bytes());
                self.buf.extend_from_slice(&wire_len.to_le_bytes());
                self.buf.extend_from_slice(data);
            }
            FileFormat::Pcapng => {
                let t = secs * 1_000_000_000 + nanos;
                let len = (32 + data.len() + pad4(data.len())) as u32;
                self.buf.extend_from_slice(&6u32.to_le_bytes());
                self.buf.extend_from_slice(&len.to_le_bytes());
                self.buf.extend_from_slice(&0u32.to_le_bytes());
                self.buf
                    .extend_from_slice(&((t >> 32) as u32).to_le_bytes());
                self.buf.extend_from_slice(&(t as u32).to_le_bytes());
                self.buf
                    .extend_from_slice(&(data.len() as u32).to_le_bytes());
                self.buf.extend_from_slice(&wire_len.to_le_bytes());
                self.buf.extend_from_slice(data);
                self.buf.resize(self.buf.len() + pad4(data.len()), 0);
                self.buf.extend_from_slice(&len.to_le_bytes());
            }
        }
        self.written += (self.buf.len() - start) as u64;
        if self.buf.len() >= 1 << 16 {
            self.out.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    /// Writes out every whole packet so far.
    pub fn flush(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            self.out.write_all(&self.buf)?;
            self.buf.clear();
        }
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::file::{CaptureReader, Next};

    fn roundtrip(format: FileFormat) {
        let mut w =
            PacketWriter::new(Vec::new(), format, LinkType::ETHERNET, 262_144, "veth0").unwrap();
        let ts = Timestamp::from_parts(1_700_000_000, 123_456_789, 1_000_000_000);
        w.packet(ts, 60, &[0xab; 42]).unwrap();
        w.packet(ts, 3, &[1, 2, 3]).unwrap();
        w.flush().unwrap();
        let bytes = w.out;
        let mut r = CaptureReader::new(&bytes[..]).unwrap();
        let mut seen = Vec::new();
        loop {
            match r.next_step().unwrap() {
                Next::Packet(p, _) => {
                    seen.push((p.ts, p.wire_len, p.data.to_vec(), p.link));
                }
                Next::End => break,
                Next::NeedBuffer => {}
            }
        }
        assert_eq!(seen.len(), 2, "{format:?}");
        assert_eq!(seen[0].0, ts);
        assert_eq!((seen[0].1, seen[0].2.len()), (60, 42));
        assert_eq!(seen[1].2, vec![1, 2, 3]);
        assert_eq!(seen[1].3, LinkType::ETHERNET);
    }

    #[test]
    fn pcap_and_pcapng_read_back() {
        roundtrip(FileFormat::Pcap);
        roundtrip(FileFormat::Pcapng);
        assert_eq!(FileFormat::for_name("x.PCAPNG"), FileFormat::Pcapng);
        assert_eq!(FileFormat::for_name("x.pcap"), FileFormat::Pcap);
    }
}
