//! `replay FILE --conn … -w OUT`: the selected connections' packets copied
//! out of FILE record by record, byte for byte — the file header (pcap: the
//! same magic, so the same time resolution, byte order, link type and
//! snaplen) or every non-packet block (pcapng: section headers, interface
//! descriptions, statistics, name resolution), and the packet records or
//! blocks at the offsets the replay noted. Nothing is re-encoded: what a
//! user attaches to a bug report is what was captured.
//!
//! The offsets come from the reader that already read and checked the
//! file; this module still checks every length it reads, since the file
//! may have changed in between.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;

/// What was written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cut {
    pub packets: u64,
    pub bytes: u64,
}

fn bad(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

/// Copies the records at `offsets` (ascending) of the capture `input` into
/// `output`.
pub fn cut(input: &Path, offsets: &[u64], output: &Path) -> io::Result<Cut> {
    let mut r = BufReader::with_capacity(1 << 16, File::open(input)?);
    let len = r.get_ref().metadata()?.len();
    let mut w = BufWriter::with_capacity(1 << 16, File::create(output)?);
    let mut magic = [0u8; 4];
    r.read_exact(&mut magic)?;
    let cut = match u32::from_le_bytes(magic) {
        0x0A0D_0D0A => pcapng(&mut r, len, offsets, &mut w)?,
        _ => pcap(&mut r, magic, len, offsets, &mut w)?,
    };
    w.flush()?;
    Ok(cut)
}

fn pcap<R: Read + Seek, W: Write>(
    r: &mut R,
    magic: [u8; 4],
    len: u64,
    offsets: &[u64],
    w: &mut W,
) -> io::Result<Cut> {
    // Record header length and byte order by magic (the "modified" format
    // has 8 more bytes per record).
    let (big, hdr) = match magic {
        [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1] => (false, 16),
        [0xa1, 0xb2, 0xc3, 0xd4] | [0xa1, 0xb2, 0x3c, 0x4d] => (true, 16),
        [0x34, 0xcd, 0xb2, 0xa1] => (false, 24),
        [0xa1, 0xb2, 0xcd, 0x34] => (true, 24),
        _ => return Err(bad("not a pcap or pcapng file".into())),
    };
    let mut head = [0u8; 24];
    head[..4].copy_from_slice(&magic);
    r.read_exact(&mut head[4..])?;
    w.write_all(&head)?;
    let mut out = Cut::default();
    let mut buf = Vec::new();
    for &at in offsets {
        r.seek(SeekFrom::Start(at))?;
        let mut rec = [0u8; 24];
        r.read_exact(&mut rec[..hdr])?;
        let field = [rec[8], rec[9], rec[10], rec[11]];
        let caplen = u64::from(if big {
            u32::from_be_bytes(field)
        } else {
            u32::from_le_bytes(field)
        });
        if at + hdr as u64 + caplen > len {
            return Err(bad(format!("record at byte offset {at} runs past the end")));
        }
        buf.resize(caplen as usize, 0);
        r.read_exact(&mut buf)?;
        w.write_all(&rec[..hdr])?;
        w.write_all(&buf)?;
        out.packets += 1;
        out.bytes += hdr as u64 + caplen;
    }
    Ok(out)
}

/// pcapng block types that carry a packet.
const PACKET_BLOCKS: [u32; 3] = [2, 3, 6];

fn pcapng<R: Read + Seek, W: Write>(
    r: &mut R,
    len: u64,
    offsets: &[u64],
    w: &mut W,
) -> io::Result<Cut> {
    let last = offsets.last().copied().unwrap_or(0);
    let mut next = offsets.iter().peekable();
    let mut out = Cut::default();
    let mut at = 0u64;
    let mut big = false;
    let mut block = Vec::new();
    while at + 12 <= len {
        r.seek(SeekFrom::Start(at))?;
        let mut head = [0u8; 12];
        r.read_exact(&mut head)?;
        let ty_le = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
        if ty_le == 0x0A0D_0D0A {
            // A section header says its own byte order.
            big = head[8..12] == [0x1a, 0x2b, 0x3c, 0x4d];
        }
        let word = |b: &[u8]| {
            let a = [b[0], b[1], b[2], b[3]];
            if big {
                u32::from_be_bytes(a)
            } else {
                u32::from_le_bytes(a)
            }
        };
        let ty = word(&head[0..4]);
        let total = u64::from(word(&head[4..8]));
        if total < 12 || total % 4 != 0 || at + total > len {
            if at > last {
                // Damage past the last selected packet: everything asked
                // for is written.
                break;
            }
            return Err(bad(format!("damaged pcapng block at byte offset {at}")));
        }
        let packet = PACKET_BLOCKS.contains(&ty);
        let wanted = if packet {
            while next.peek().is_some_and(|o| **o < at) {
                next.next();
            }
            next.peek().is_some_and(|o| **o == at)
        } else {
            true
        };
        if wanted {
            block.resize(total as usize, 0);
            block[..12].copy_from_slice(&head);
            r.read_exact(&mut block[12..])?;
            w.write_all(&block)?;
            if packet {
                out.packets += 1;
                out.bytes += total;
            }
        }
        at += total;
    }
    Ok(out)
}
