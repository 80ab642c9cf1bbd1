//! `--ladder`: each selected connection drawn as a sequence diagram.

use crate::decode::{Packet, SynOptions, Transport};
use crate::time::Timestamp;

/// One packet of a followed connection, as the ladder draws it.
#[derive(Clone, Copy, Debug)]
pub struct Row {
    pub ts: Timestamp,
    pub conn_id: u64,
    pub from_client: bool,
    /// TCP flags (0 for UDP).
    pub flags: u8,
    pub tcp: bool,
    pub seq: u32,
    pub ack: u32,
    pub window: u16,
    /// Payload bytes on the wire.
    pub len: u32,
    /// SYN and SYN-ACK options.
    pub syn: Option<SynOptions>,
    pub truncated: bool,
}

/// Most packets kept for ladders; beyond it packets are counted only.
pub const MAX_PACKETS: usize = 1_000_000;
/// Most connections drawn.
pub const MAX_CONNS: usize = 1_000;

/// The selected connections' packets, in capture order (bounded).
#[derive(Default)]
pub struct Packets {
    pub rows: Vec<Row>,
    conns: std::collections::HashSet<u64>,
    /// Packets not kept (over [`MAX_PACKETS`], or of connections past
    /// [`MAX_CONNS`]).
    pub dropped: u64,
}

impl Packets {
    pub fn push(&mut self, p: &Packet<'_>, conn_id: u64, from_client: bool) {
        if self.rows.len() >= MAX_PACKETS
            || (!self.conns.contains(&conn_id) && self.conns.len() >= MAX_CONNS)
        {
            self.dropped += 1;
            return;
        }
        self.conns.insert(conn_id);
        let row = match &p.transport {
            Transport::Tcp(t) => Row {
                ts: p.ts,
                conn_id,
                from_client,
                flags: t.flags.0,
                tcp: true,
                seq: t.seq,
                ack: t.ack,
                window: t.window,
                len: t.payload_len,
                syn: t
                    .flags
                    .syn()
                    .then(|| SynOptions::parse(t.options, t.options.len())),
                truncated: p.truncated,
            },
            Transport::Udp(u) => Row {
                ts: p.ts,
                conn_id,
                from_client,
                flags: 0,
                tcp: false,
                seq: 0,
                ack: 0,
                window: 0,
                len: u.payload_len,
                syn: None,
                truncated: p.truncated,
            },
        };
        self.rows.push(row);
    }
}

/// Most records kept for the ladder's annotations.
pub const MAX_RECORDS: usize = 1_000_000;

/// How the ladder is drawn.
#[derive(Clone, Copy, Debug)]
pub struct View {
    pub all_packets: bool,
    pub width: Option<u16>,
    pub style: crate::config::Style,
}

/// The ladders of every connection that has packets, in conn_id order.
pub fn render(packets: &Packets, records: &[crate::event::Record], view: &View) -> String {
    let _ = (packets, records, view);
    String::new()
}
