//! A decoded packet that can cross a thread boundary without copying its
//! bytes: the same fields as [`Packet`], with byte ranges recorded as
//! [`Span`]s into the read chunk the packet came from (or into a small side
//! arena for datagrams rebuilt from fragments). The chunk moves to the
//! tracking thread with the batch; the packet is rebuilt there as a borrowed
//! [`Packet`].

use std::net::IpAddr;

use super::{Packet, TcpFlags, TcpSegment, Transport, UdpDatagram, Vlans};
use crate::time::Timestamp;

/// A byte range of a batch: in its chunk, or (top bit of `start` set) in its
/// side arena. Eight bytes: every packet's metadata crosses between cores.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Span {
    start: u32,
    len: u32,
}

const IN_EXTRA: u32 = 1 << 31;

#[derive(Clone, Copy, Debug)]
pub enum OwnedTransport {
    Tcp {
        src_port: u16,
        dst_port: u16,
        seq: u32,
        ack: u32,
        flags: TcpFlags,
        window: u16,
        options: Span,
        payload: Span,
        payload_len: u32,
    },
    Udp {
        src_port: u16,
        dst_port: u16,
        payload: Span,
        payload_len: u32,
    },
}

#[derive(Clone, Copy, Debug)]
///
/// The addresses are not kept: the packet's flow key has them (see
/// [`PacketMeta::packet`]), and this way the metadata fits one cache line.
pub struct PacketMeta {
    pub ts: Timestamp,
    pub vlan: Vlans,
    pub truncated: bool,
    pub reassembled: bool,
    pub transport: OwnedTransport,
}

impl PacketMeta {
    /// Where the TCP payload starts in `chunk` (None: no payload there).
    #[inline]
    pub fn tcp_payload_ptr(&self, chunk: &[u8]) -> Option<*const u8> {
        match &self.transport {
            OwnedTransport::Tcp { payload, .. }
                if payload.len > 0 && payload.start & IN_EXTRA == 0 =>
            {
                Some(chunk.as_ptr().wrapping_add(payload.start as usize))
            }
            _ => None,
        }
    }
}

/// Records where a decoded packet's slices lie.
pub struct Locator<'a> {
    /// The raw packet's bytes, and their offset in the chunk.
    pub raw: &'a [u8],
    pub raw_offset: usize,
}

impl Locator<'_> {
    fn span(&self, s: &[u8], extra: &mut Vec<u8>) -> Span {
        let (lo, hi) = (
            self.raw.as_ptr() as usize,
            self.raw.as_ptr() as usize + self.raw.len(),
        );
        let p = s.as_ptr() as usize;
        if p >= lo && p + s.len() <= hi {
            Span {
                start: (self.raw_offset + (p - lo)) as u32 & !IN_EXTRA,
                len: s.len() as u32,
            }
        } else {
            // Bytes that are not in the chunk (a rebuilt datagram): copy.
            let start = extra.len() as u32 | IN_EXTRA;
            extra.extend_from_slice(s);
            Span {
                start,
                len: s.len() as u32,
            }
        }
    }
}

impl PacketMeta {
    pub fn new(p: &Packet<'_>, at: &Locator<'_>, extra: &mut Vec<u8>) -> PacketMeta {
        let transport = match &p.transport {
            Transport::Tcp(t) => OwnedTransport::Tcp {
                src_port: t.src_port,
                dst_port: t.dst_port,
                seq: t.seq,
                ack: t.ack,
                flags: t.flags,
                window: t.window,
                options: at.span(t.options, extra),
                payload: at.span(t.payload, extra),
                payload_len: t.payload_len,
            },
            Transport::Udp(u) => OwnedTransport::Udp {
                src_port: u.src_port,
                dst_port: u.dst_port,
                payload: at.span(u.payload, extra),
                payload_len: u.payload_len,
            },
        };
        PacketMeta {
            ts: p.ts,
            vlan: p.vlan,
            truncated: p.truncated,
            reassembled: p.reassembled,
            transport,
        }
    }

    /// The packet again, from `src` to `dst` (its flow key's endpoints),
    /// borrowing the batch's chunk and side arena.
    #[inline(always)]
    pub fn packet<'a>(
        &self,
        chunk: &'a [u8],
        extra: &'a [u8],
        src: IpAddr,
        dst: IpAddr,
    ) -> Packet<'a> {
        let get = |s: Span| -> &'a [u8] {
            let (from, start) = if s.start & IN_EXTRA != 0 {
                (extra, s.start & !IN_EXTRA)
            } else {
                (chunk, s.start)
            };
            from.get(start as usize..start as usize + s.len as usize)
                .unwrap_or(&[])
        };
        let transport = match self.transport {
            OwnedTransport::Tcp {
                src_port,
                dst_port,
                seq,
                ack,
                flags,
                window,
                options,
                payload,
                payload_len,
            } => Transport::Tcp(TcpSegment {
                src_port,
                dst_port,
                seq,
                ack,
                flags,
                window,
                options: get(options),
                payload: get(payload),
                payload_len,
            }),
            OwnedTransport::Udp {
                src_port,
                dst_port,
                payload,
                payload_len,
            } => Transport::Udp(UdpDatagram {
                src_port,
                dst_port,
                payload: get(payload),
                payload_len,
            }),
        };
        Packet {
            ts: self.ts,
            vlan: self.vlan,
            src,
            dst,
            truncated: self.truncated,
            reassembled: self.reassembled,
            transport,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_through_a_chunk_and_the_arena() {
        let chunk = b"....HEADERpayload-bytes....".to_vec();
        let raw = &chunk[4..23];
        let rebuilt = b"rebuilt".to_vec();
        let p = Packet {
            ts: Timestamp(5),
            vlan: Vlans::default(),
            src: "10.0.0.1".parse().unwrap(),
            dst: "10.0.0.2".parse().unwrap(),
            truncated: false,
            reassembled: false,
            transport: Transport::Tcp(TcpSegment {
                src_port: 1,
                dst_port: 2,
                seq: 3,
                ack: 4,
                flags: TcpFlags(0x18),
                window: 5,
                options: &raw[0..6],
                payload: &rebuilt,
                payload_len: 7,
            }),
        };
        let mut extra = Vec::new();
        let m = PacketMeta::new(&p, &Locator { raw, raw_offset: 4 }, &mut extra);
        let q = m.packet(&chunk, &extra, p.src, p.dst);
        assert_eq!((q.src, q.dst), (p.src, p.dst));
        assert!(std::mem::size_of::<PacketMeta>() <= 64);
        match q.transport {
            Transport::Tcp(t) => {
                assert_eq!(t.options, b"HEADER");
                assert_eq!(t.payload, b"rebuilt");
                assert_eq!((t.seq, t.ack, t.window), (3, 4, 5));
            }
            _ => panic!(),
        }
    }
}
