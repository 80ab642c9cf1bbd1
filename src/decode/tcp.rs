//! TCP and UDP headers: checked zero-copy views and the small owned values the
//! tracker needs.
//!
//! etherparse slices the link and IP layers; the transport headers are read
//! here because a capture's snaplen often cuts a SYN's options (or even the
//! end of the fixed header's options area), and etherparse's `TcpSlice`
//! rejects such a header as a whole. This view decodes the fixed 20 bytes as
//! soon as they are present and the options as far as they go, which is what
//! "decoded as far as they go" means for a truncated packet.

use super::{DecodeError, DecodeErrorKind, Layer};

/// Byte ranges of the fixed TCP header (RFC 9293 §3.1).
mod field {
    use std::ops::Range;
    pub const SRC_PORT: Range<usize> = 0..2;
    pub const DST_PORT: Range<usize> = 2..4;
    pub const SEQ: Range<usize> = 4..8;
    pub const ACK: Range<usize> = 8..12;
    pub const DATA_OFFSET: usize = 12;
    pub const FLAGS: usize = 13;
    pub const WINDOW: Range<usize> = 14..16;
    pub const FIXED_LEN: usize = 20;

    pub const UDP_SRC_PORT: Range<usize> = 0..2;
    pub const UDP_DST_PORT: Range<usize> = 2..4;
    pub const UDP_LENGTH: Range<usize> = 4..6;
    pub const UDP_LEN: usize = 8;
}

/// TCP control bits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
    pub const URG: u8 = 0x20;

    pub fn fin(self) -> bool {
        self.0 & Self::FIN != 0
    }
    pub fn syn(self) -> bool {
        self.0 & Self::SYN != 0
    }
    pub fn rst(self) -> bool {
        self.0 & Self::RST != 0
    }
    pub fn ack(self) -> bool {
        self.0 & Self::ACK != 0
    }
}

/// A TCP segment as the tracker sees it.
#[derive(Clone, Copy, Debug)]
pub struct TcpSegment<'a> {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    pub window: u16,
    /// The option bytes that were captured (may be cut short).
    pub options: &'a [u8],
    /// The captured payload.
    pub payload: &'a [u8],
    /// Payload length on the wire (from the IP length fields), which exceeds
    /// `payload.len()` when the snaplen cut the packet.
    pub payload_len: u32,
}

impl TcpSegment<'_> {
    /// The captured payload bytes that belong to the segment: never more
    /// than its length on the wire (whatever a frame carries past it).
    pub fn stream_bytes(&self) -> &[u8] {
        &self.payload[..self.payload.len().min(self.payload_len as usize)]
    }
}

/// A UDP datagram as the tracker sees it.
#[derive(Clone, Copy, Debug)]
pub struct UdpDatagram<'a> {
    pub src_port: u16,
    pub dst_port: u16,
    pub payload: &'a [u8],
    /// Payload length on the wire (UDP length field minus the header).
    pub payload_len: u32,
}

fn be16(b: &[u8], r: std::ops::Range<usize>) -> u16 {
    u16::from_be_bytes([b[r.start], b[r.start + 1]])
}

fn be32(b: &[u8], r: std::ops::Range<usize>) -> u32 {
    u32::from_be_bytes([b[r.start], b[r.start + 1], b[r.start + 2], b[r.start + 3]])
}

/// Parses a TCP header from the captured IP payload. `wire_len` is the IP
/// payload length the IP header declares; `offset` is where the TCP header
/// starts in the frame (for error reporting).
pub fn parse_tcp(
    data: &[u8],
    wire_len: usize,
    offset: usize,
) -> Result<TcpSegment<'_>, DecodeError> {
    if data.len() < field::FIXED_LEN {
        return Err(DecodeError {
            layer: Layer::Tcp,
            offset,
            kind: DecodeErrorKind::Truncated {
                needed: field::FIXED_LEN,
                available: data.len(),
            },
        });
    }
    let header_len = usize::from(data[field::DATA_OFFSET] >> 4) * 4;
    if header_len < field::FIXED_LEN {
        return Err(DecodeError {
            layer: Layer::Tcp,
            offset,
            kind: DecodeErrorKind::Malformed("TCP data offset below 5 words"),
        });
    }
    if wire_len < header_len {
        return Err(DecodeError {
            layer: Layer::Tcp,
            offset,
            kind: DecodeErrorKind::Malformed("TCP header longer than the IP payload"),
        });
    }
    let captured_header = header_len.min(data.len());
    let options = &data[field::FIXED_LEN..captured_header];
    let payload = &data[captured_header..];
    Ok(TcpSegment {
        src_port: be16(data, field::SRC_PORT),
        dst_port: be16(data, field::DST_PORT),
        seq: be32(data, field::SEQ),
        ack: be32(data, field::ACK),
        flags: TcpFlags(data[field::FLAGS]),
        window: be16(data, field::WINDOW),
        options,
        payload,
        payload_len: (wire_len - header_len) as u32,
    })
}

/// Parses a UDP header. The payload length comes from the UDP length field
/// when it is consistent with the IP payload length, else from the IP layer.
pub fn parse_udp(
    data: &[u8],
    wire_len: usize,
    offset: usize,
) -> Result<UdpDatagram<'_>, DecodeError> {
    if data.len() < field::UDP_LEN {
        return Err(DecodeError {
            layer: Layer::Udp,
            offset,
            kind: DecodeErrorKind::Truncated {
                needed: field::UDP_LEN,
                available: data.len(),
            },
        });
    }
    if wire_len < field::UDP_LEN {
        return Err(DecodeError {
            layer: Layer::Udp,
            offset,
            kind: DecodeErrorKind::Malformed("UDP header longer than the IP payload"),
        });
    }
    let udp_len = usize::from(be16(data, field::UDP_LENGTH));
    // A length of 0 is legal for IPv6 jumbograms; an inconsistent one is not
    // trusted beyond what the IP header says.
    let total = if udp_len >= field::UDP_LEN && udp_len <= wire_len {
        udp_len
    } else {
        wire_len
    };
    let payload_end = total.min(data.len());
    Ok(UdpDatagram {
        src_port: be16(data, field::UDP_SRC_PORT),
        dst_port: be16(data, field::UDP_DST_PORT),
        payload: &data[field::UDP_LEN..payload_end.max(field::UDP_LEN)],
        payload_len: (total - field::UDP_LEN) as u32,
    })
}

/// What a SYN or SYN-ACK offered (RFC 9293 MSS, RFC 7323 window scale and
/// timestamps, RFC 2018 SACK-permitted).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SynOptions {
    pub mss: Option<u16>,
    pub wscale: Option<u8>,
    pub sack_ok: bool,
    /// TSval, TSecr.
    pub timestamps: Option<(u32, u32)>,
    /// The options area was cut short (by the snaplen or a bad length byte).
    pub incomplete: bool,
}

impl SynOptions {
    /// Walks the option list the way Zeek and the kernel do: EOL ends it, NOP
    /// is one byte, anything else is kind-length-value; a length that runs
    /// past the end or is below 2 ends the walk.
    pub fn parse(options: &[u8], header_options_len: usize) -> SynOptions {
        let mut o = SynOptions {
            incomplete: options.len() < header_options_len,
            ..SynOptions::default()
        };
        let mut i = 0;
        while i < options.len() {
            let kind = options[i];
            match kind {
                0 => break,
                1 => {
                    i += 1;
                    continue;
                }
                _ => {}
            }
            let Some(&len) = options.get(i + 1) else {
                o.incomplete = true;
                break;
            };
            let len = usize::from(len);
            if len < 2 {
                o.incomplete = true;
                break;
            }
            let Some(value) = options.get(i + 2..i + len) else {
                o.incomplete = true;
                break;
            };
            match (kind, value.len()) {
                (2, 2) => o.mss = Some(u16::from_be_bytes([value[0], value[1]])),
                (3, 1) => o.wscale = Some(value[0]),
                (4, 0) => o.sack_ok = true,
                (8, 8) => {
                    o.timestamps = Some((
                        u32::from_be_bytes([value[0], value[1], value[2], value[3]]),
                        u32::from_be_bytes([value[4], value[5], value[6], value[7]]),
                    ))
                }
                _ => {}
            }
            i += len;
        }
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // SYN 46656 -> 80 from tcpdump's tcp-handshake-nano.pcap: MSS 1360,
    // SACK_PERM, TS, NOP, WS 7.
    const SYN: [u8; 40] = [
        0xb6, 0x40, 0x00, 0x50, 0x2f, 0x84, 0x2a, 0xcb, 0x00, 0x00, 0x00, 0x00, 0xa0, 0x02, 0x6a,
        0x40, 0x50, 0xc4, 0x00, 0x00, 0x02, 0x04, 0x05, 0x50, 0x04, 0x02, 0x08, 0x0a, 0x43, 0x6a,
        0x03, 0x62, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x07,
    ];

    #[test]
    fn syn_with_options() {
        let seg = parse_tcp(&SYN, 40, 0).unwrap();
        assert_eq!((seg.src_port, seg.dst_port), (46656, 80));
        assert_eq!(seg.seq, 797_190_859);
        assert!(seg.flags.syn() && !seg.flags.ack());
        assert_eq!(seg.payload_len, 0);
        let o = SynOptions::parse(seg.options, 20);
        assert_eq!(o.mss, Some(1360));
        assert_eq!(o.wscale, Some(7));
        assert!(o.sack_ok);
        assert_eq!(o.timestamps, Some((1_131_021_154, 0)));
        assert!(!o.incomplete);
    }

    #[test]
    fn stream_bytes_stop_at_the_segment_length() {
        let mut seg = parse_tcp(&SYN, 40, 0).unwrap();
        // Bytes a frame carries past the IP length are not the stream's.
        seg.payload = b"abcdef";
        seg.payload_len = 4;
        assert_eq!(seg.stream_bytes(), b"abcd");
        // Cut by the snaplen: what was captured.
        seg.payload_len = 100;
        assert_eq!(seg.stream_bytes(), b"abcdef");
    }

    #[test]
    fn options_cut_by_snaplen_still_give_the_fixed_header() {
        let seg = parse_tcp(&SYN[..26], 40, 0).unwrap();
        assert_eq!(seg.seq, 797_190_859);
        assert_eq!(seg.options.len(), 6);
        let o = SynOptions::parse(seg.options, 20);
        assert_eq!(o.mss, Some(1360));
        assert!(o.incomplete);
        assert_eq!(o.wscale, None);
    }

    #[test]
    fn too_short_or_lying_headers() {
        let e = parse_tcp(&SYN[..19], 40, 34).unwrap_err();
        assert_eq!(e.offset, 34);
        assert!(matches!(
            e.kind,
            DecodeErrorKind::Truncated { needed: 20, .. }
        ));
        let mut bad = SYN;
        bad[12] = 0x40; // data offset 4 words
        assert!(matches!(
            parse_tcp(&bad, 40, 0).unwrap_err().kind,
            DecodeErrorKind::Malformed(_)
        ));
        // IP says 30 bytes but the header claims 40.
        assert!(parse_tcp(&SYN, 30, 0).is_err());
    }

    #[test]
    fn bad_option_lengths_end_the_walk() {
        let o = SynOptions::parse(&[2, 0, 5, 0x50], 4);
        assert!(o.incomplete && o.mss.is_none());
        let o = SynOptions::parse(&[2, 9, 5, 0x50], 4);
        assert!(o.incomplete && o.mss.is_none());
        let o = SynOptions::parse(&[1, 1, 0, 2, 4, 5, 0x50], 7);
        assert!(o.mss.is_none(), "EOL ends the list");
    }

    #[test]
    fn udp_lengths() {
        let d = [0, 53, 0x9c, 0x40, 0, 12, 0, 0, 1, 2, 3, 4, 0xee, 0xee];
        let u = parse_udp(&d, 14, 0).unwrap();
        assert_eq!((u.src_port, u.dst_port, u.payload_len), (53, 40000, 4));
        assert_eq!(u.payload, &[1, 2, 3, 4]);
        // UDP length larger than the IP payload: trust the IP layer.
        let mut d2 = d;
        d2[5] = 200;
        assert_eq!(parse_udp(&d2, 14, 0).unwrap().payload_len, 6);
        assert!(parse_udp(&d[..7], 14, 0).is_err());
    }
}
