//! The JSON-lines record types an expectation can select, their short
//! aliases, their fields, and the values of the enumerated ones — so a
//! misspelt name or a value a field never takes is an error at parse time,
//! not a count of zero that quietly holds.
//!
//! Each field has a reader that takes the value from the typed record as
//! `--format json` writes it (`check` evaluates records as they stream past,
//! without encoding or keeping them). Tests hold the readers to the JSON the
//! encoder writes for every record of the committed captures, and the field
//! lists to what `replay --format json` writes.

use std::borrow::Cow;

use super::value::Val;
use crate::event::{ConnRef, Record};
use crate::time::Timestamp;

/// A field: its JSON name and its reader.
pub struct FieldDef {
    pub name: &'static str,
    pub get: for<'a> fn(&'a Record) -> Val<'a>,
}

impl std::fmt::Debug for FieldDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.name)
    }
}

/// A record type and its fields, in the order the encoder writes them.
pub struct RecordDef {
    pub name: &'static str,
    pub fields: &'static [FieldDef],
}

/// Reads the fields of one record variant: `fields!(Variant, r; "name" =>
/// expression of r, …)`; any other variant reads as null.
macro_rules! fields {
    ($Variant:ident, $r:ident; $($name:literal => $e:expr),* $(,)?) => {
        &[$(FieldDef {
            name: $name,
            get: {
                fn get(rec: &Record) -> Val<'_> {
                    match rec {
                        Record::$Variant($r) => $e,
                        _ => Val::Null,
                    }
                }
                get
            },
        }),*]
    };
}

fn vlan(ids: &[u16]) -> Val<'static> {
    Val::List(ids.iter().map(|v| Val::Int(i64::from(*v))).collect())
}

fn side(d: Option<crate::event::Direction>) -> Val<'static> {
    Val::opt_str(d.map(|d| d.as_str()))
}

fn syn_info(s: &Option<crate::event::SynInfo>) -> Val<'static> {
    match s {
        None => Val::Null,
        Some(s) => Val::Obj(vec![
            (Cow::Borrowed("mss"), Val::opt_uint(s.mss.map(u64::from))),
            (
                Cow::Borrowed("wscale"),
                Val::opt_uint(s.wscale.map(u64::from)),
            ),
            (Cow::Borrowed("sack_ok"), Val::Bool(s.sack_ok)),
            (Cow::Borrowed("ts_ok"), Val::Bool(s.ts_ok)),
        ]),
    }
}

/// Every record type, in a fixed order ([`type_index`] follows it).
pub static RECORDS: &[RecordDef] = &[
    RecordDef {
        name: "tcp_conn",
        fields: fields!(TcpConn, c;
            "conn_id" => Val::uint(c.conn_id),
            "client_ip" => Val::ip(c.client_ip),
            "client_port" => Val::Int(i64::from(c.client_port)),
            "server_ip" => Val::ip(c.server_ip),
            "server_port" => Val::Int(i64::from(c.server_port)),
            "vlan" => vlan(c.vlan.as_slice()),
            "state" => Val::str(c.state),
            "history" => Val::str(c.history.as_str()),
            "verdict" => Val::Str(Cow::Owned(c.verdict.to_string())),
            "service" => Val::opt_str(c.service),
            "handshake_complete" => Val::Bool(c.handshake_complete),
            "simultaneous_open" => Val::Bool(c.simultaneous_open),
            "syn_retransmits" => Val::Int(i64::from(c.syn_retransmits)),
            "synack_retransmits" => Val::Int(i64::from(c.synack_retransmits)),
            "rtt_ms" => Val::ms(c.rtt_ms),
            "connect_ms" => Val::ms(c.connect_ms),
            "syn_to_synack_ms" => Val::ms(c.syn_to_synack_ms),
            "synack_to_ack_ms" => Val::ms(c.synack_to_ack_ms),
            "mss" => Val::opt_uint(c.mss.map(u64::from)),
            "wscale" => Val::opt_uint(c.wscale.map(u64::from)),
            "sack_ok" => Val::opt_bool(c.sack_ok),
            "ts_ok" => Val::opt_bool(c.ts_ok),
            "server_mss" => Val::opt_uint(c.server_mss.map(u64::from)),
            "server_wscale" => Val::opt_uint(c.server_wscale.map(u64::from)),
            "server_sack_ok" => Val::opt_bool(c.server_sack_ok),
            "server_ts_ok" => Val::opt_bool(c.server_ts_ok),
            "client_packets" => Val::uint(c.client_packets),
            "server_packets" => Val::uint(c.server_packets),
            "client_bytes" => Val::uint(c.client_bytes),
            "server_bytes" => Val::uint(c.server_bytes),
            "missed_bytes" => Val::uint(c.missed_bytes),
            "truncated_packets" => Val::uint(c.truncated_packets),
            "closed_by" => side(c.closed_by),
            "first_ts" => Val::time(c.first_ts),
            "last_ts" => Val::time(c.last_ts),
            "duration" => Val::secs(c.duration),
            "evicted" => Val::Bool(c.evicted),
        ),
    },
    RecordDef {
        name: "udp_flow",
        fields: fields!(UdpFlow, f;
            "conn_id" => Val::uint(f.conn_id),
            "client_ip" => Val::ip(f.client_ip),
            "client_port" => Val::Int(i64::from(f.client_port)),
            "server_ip" => Val::ip(f.server_ip),
            "server_port" => Val::Int(i64::from(f.server_port)),
            "vlan" => vlan(f.vlan.as_slice()),
            "state" => Val::str(f.state),
            "service" => Val::opt_str(f.service),
            "client_packets" => Val::uint(f.client_packets),
            "server_packets" => Val::uint(f.server_packets),
            "client_bytes" => Val::uint(f.client_bytes),
            "server_bytes" => Val::uint(f.server_bytes),
            "first_ts" => Val::time(f.first_ts),
            "last_ts" => Val::time(f.last_ts),
            "duration" => Val::secs(f.duration),
            "evicted" => Val::Bool(f.evicted),
        ),
    },
    RecordDef {
        name: "tcp_event",
        fields: fields!(TcpEvent, e;
            "ts" => Val::time(e.ts),
            "event" => Val::str(e.event.as_str()),
            "conn_id" => Val::uint(e.conn_id),
            "client_ip" => Val::ip(e.client_ip),
            "client_port" => Val::Int(i64::from(e.client_port)),
            "server_ip" => Val::ip(e.server_ip),
            "server_port" => Val::Int(i64::from(e.server_port)),
            "direction" => Val::str(e.direction.as_str()),
            "options" => syn_info(&e.options),
            "rtt_ms" => Val::ms(e.rtt_ms),
            "connect_ms" => Val::ms(e.connect_ms),
            "syn_to_synack_ms" => Val::ms(e.syn_to_synack_ms),
            "synack_to_ack_ms" => Val::ms(e.synack_to_ack_ms),
            "count" => Val::opt_uint(e.count.map(u64::from)),
            "bytes" => Val::opt_uint(e.bytes),
        ),
    },
    RecordDef {
        name: "udp_event",
        fields: fields!(UdpEvent, e;
            "ts" => Val::time(e.ts),
            "event" => Val::str(e.event),
            "conn_id" => Val::uint(e.conn_id),
            "client_ip" => Val::ip(e.client_ip),
            "client_port" => Val::Int(i64::from(e.client_port)),
            "server_ip" => Val::ip(e.server_ip),
            "server_port" => Val::Int(i64::from(e.server_port)),
            "direction" => Val::str(e.direction.as_str()),
            "service" => Val::opt_str(e.service),
        ),
    },
    RecordDef {
        name: "ws_upgrade",
        fields: fields!(WsUpgrade, u;
            "ts" => Val::time(u.ts),
            "request_ts" => Val::time(u.request_ts),
            "conn_id" => Val::uint(u.conn.conn_id),
            "client_ip" => Val::ip(u.conn.client_ip),
            "client_port" => Val::Int(i64::from(u.conn.client_port)),
            "server_ip" => Val::ip(u.conn.server_ip),
            "server_port" => Val::Int(i64::from(u.conn.server_port)),
            "method" => Val::str(&u.method),
            "target" => Val::str(&u.target),
            "host" => Val::opt_str(u.host.as_deref()),
            "origin" => Val::opt_str(u.origin.as_deref()),
            "version" => Val::opt_str(u.version.as_deref()),
            "key" => Val::opt_str(u.key.as_deref()),
            "requested_protocols" => Val::opt_str(u.requested_protocols.as_deref()),
            "requested_extensions" => Val::opt_str(u.requested_extensions.as_deref()),
            "status" => Val::opt_uint(u.status.map(u64::from)),
            "reason" => Val::opt_str(u.reason.as_deref()),
            "accept" => Val::opt_str(u.accept.as_deref()),
            "accept_valid" => Val::opt_bool(u.accept_valid),
            "subprotocol" => Val::opt_str(u.subprotocol.as_deref()),
            "extensions" => Val::opt_str(u.extensions.as_deref()),
        ),
    },
    RecordDef {
        name: "ws_frame",
        fields: fields!(WsFrame, f;
            "ts" => Val::time(f.ts),
            "conn_id" => Val::uint(f.conn.conn_id),
            "client_ip" => Val::ip(f.conn.client_ip),
            "client_port" => Val::Int(i64::from(f.conn.client_port)),
            "server_ip" => Val::ip(f.conn.server_ip),
            "server_port" => Val::Int(i64::from(f.conn.server_port)),
            "direction" => Val::str(f.direction.as_str()),
            "fin" => Val::Bool(f.fin),
            "rsv1" => Val::Bool(f.rsv1),
            "rsv2" => Val::Bool(f.rsv2),
            "rsv3" => Val::Bool(f.rsv3),
            "opcode" => Val::Int(i64::from(f.opcode)),
            "opcode_name" => Val::str(f.opcode_name),
            "masked" => Val::Bool(f.masked),
            "payload_len" => Val::uint(f.payload_len),
            "close_code" => Val::opt_uint(f.close_code.map(u64::from)),
            "close_reason" => Val::opt_str(f.close_reason.as_deref()),
            "control_payload" => Val::opt_str(f.control_payload.as_deref()),
            "incomplete" => Val::Bool(f.incomplete),
        ),
    },
    RecordDef {
        name: "ws_message",
        fields: fields!(WsMessage, m;
            "ts" => Val::time(m.ts),
            "conn_id" => Val::uint(m.conn.conn_id),
            "client_ip" => Val::ip(m.conn.client_ip),
            "client_port" => Val::Int(i64::from(m.conn.client_port)),
            "server_ip" => Val::ip(m.conn.server_ip),
            "server_port" => Val::Int(i64::from(m.conn.server_port)),
            "direction" => Val::str(m.direction.as_str()),
            "opcode_name" => Val::str(m.opcode_name),
            "frames" => Val::Int(i64::from(m.frames)),
            "len" => Val::uint(m.len),
            "wire_len" => Val::uint(m.wire_len),
            "compressed" => Val::Bool(m.compressed),
            "text" => Val::opt_str(m.text.as_deref()),
            "text_truncated" => Val::Bool(m.text_truncated),
            "incomplete" => Val::Bool(m.incomplete),
        ),
    },
    RecordDef {
        name: "ws_violation",
        fields: fields!(WsViolation, v;
            "ts" => Val::time(v.ts),
            "conn_id" => Val::uint(v.conn.conn_id),
            "client_ip" => Val::ip(v.conn.client_ip),
            "client_port" => Val::Int(i64::from(v.conn.client_port)),
            "server_ip" => Val::ip(v.conn.server_ip),
            "server_port" => Val::Int(i64::from(v.conn.server_port)),
            "direction" => Val::str(v.direction.as_str()),
            "rule" => Val::str(v.rule),
            "detail" => Val::str(&v.detail),
        ),
    },
    RecordDef {
        name: "ws_session",
        fields: fields!(WsSession, w;
            "ts" => Val::time(w.ts),
            "conn_id" => Val::uint(w.conn.conn_id),
            "client_ip" => Val::ip(w.conn.client_ip),
            "client_port" => Val::Int(i64::from(w.conn.client_port)),
            "server_ip" => Val::ip(w.conn.server_ip),
            "server_port" => Val::Int(i64::from(w.conn.server_port)),
            "target" => Val::str(&w.target),
            "host" => Val::opt_str(w.host.as_deref()),
            "status" => Val::opt_uint(w.status.map(u64::from)),
            "accept_valid" => Val::opt_bool(w.accept_valid),
            "subprotocol" => Val::opt_str(w.subprotocol.as_deref()),
            "extensions" => Val::opt_str(w.extensions.as_deref()),
            "compression" => Val::Bool(w.compression),
            "client_frames" => Val::uint(w.client.frames),
            "server_frames" => Val::uint(w.server.frames),
            "client_messages" => Val::uint(w.client.messages),
            "server_messages" => Val::uint(w.server.messages),
            "client_wire_bytes" => Val::uint(w.client.wire_bytes),
            "server_wire_bytes" => Val::uint(w.server.wire_bytes),
            "client_message_bytes" => Val::uint(w.client.message_bytes),
            "server_message_bytes" => Val::uint(w.server.message_bytes),
            "close_code" => Val::opt_uint(w.close_code.map(u64::from)),
            "close_reason" => Val::opt_str(w.close_reason.as_deref()),
            "closed_by" => side(w.closed_by),
            "violations" => Val::uint(w.violations),
            "gap_bytes" => Val::uint(w.gap_bytes),
            "first_ts" => Val::time(w.first_ts),
            "last_ts" => Val::time(w.last_ts),
        ),
    },
    RecordDef {
        name: "summary",
        fields: fields!(Summary, s;
            "format" => Val::opt_str(s.format.as_deref()),
            "packets" => Val::uint(s.packets),
            "bytes" => Val::uint(s.bytes),
            "captured_bytes" => Val::uint(s.captured_bytes),
            "filtered_out" => Val::uint(s.filtered_out),
            "truncated" => Val::uint(s.truncated),
            "decode_errors" => Val::uint(s.decode_errors),
            "non_ip" => Val::uint(s.non_ip),
            "other_ip" => Val::uint(s.other_ip),
            "unsupported_link" => Val::uint(s.unsupported_link),
            "damaged_records" => Val::uint(s.damaged_records),
            "first_damaged_offset" => Val::opt_uint(s.first_damaged_offset),
            "tcp_conns" => Val::uint(s.tcp_conns),
            "udp_flows" => Val::uint(s.udp_flows),
            "ip_fragments" => Val::uint(s.ip_fragments),
            "fragments_reassembled" => Val::uint(s.fragments_reassembled),
            "fragments_incomplete" => Val::uint(s.fragments_incomplete),
            "fragment_conflicts" => Val::uint(s.fragment_conflicts),
            "fragments_invalid" => Val::uint(s.fragments_invalid),
            "evicted" => Val::uint(s.evicted),
            "ws_sessions" => Val::uint(s.ws_sessions),
            "ws_frames" => Val::uint(s.ws_frames),
            "ws_messages" => Val::uint(s.ws_messages),
            "ws_violations" => Val::uint(s.ws_violations),
            "http_txns" => Val::uint(s.http_txns),
            "sse_events" => Val::uint(s.sse_events),
            "rt_channels" => Val::uint(s.rt_channels),
            "reassembly_gaps" => Val::uint(s.reassembly_gaps),
            "reassembly_dropped_bytes" => Val::uint(s.reassembly_dropped_bytes),
            "reassembly_conflicts" => Val::uint(s.reassembly_conflicts),
            "buffers_given_up" => Val::uint(s.buffers_given_up),
            "buffer_bytes_given_up" => Val::uint(s.buffer_bytes_given_up),
            "link_types" => Val::Obj(
                s.link_types
                    .iter()
                    .map(|(k, n)| (Cow::Borrowed(k.as_str()), Val::uint(*n)))
                    .collect(),
            ),
            "first_ts" => Val::opt_time(s.first_ts),
            "last_ts" => Val::opt_time(s.last_ts),
            "complete" => Val::Bool(s.complete),
        ),
    },
    // Written by live capture; a replay has none (expectations on it are
    // skipped there, not failed).
    RecordDef {
        name: "capture_stats",
        fields: fields!(CaptureStats, c;
            "interface" => Val::str(&c.interface),
            "socket" => Val::str(c.socket),
            "link_type" => Val::str(&c.link_type),
            "snaplen" => Val::Int(i64::from(c.snaplen)),
            "captured" => Val::uint(c.captured),
            "received" => Val::uint(c.received),
            "kernel_drops" => Val::uint(c.kernel_drops),
            "interface_drops" => Val::uint(c.interface_drops),
            // As the encoder writes it: seconds to the microsecond.
            "duration" => Val::Float((c.duration * 1e6).round() / 1e6),
        ),
    },
    RecordDef {
        name: "meta",
        fields: fields!(Meta, m;
            "schema" => Val::Int(i64::from(m.schema)),
            "tool" => Val::str(m.tool),
            "version" => Val::str(m.version),
            "command" => Val::str(m.command),
            "file" => Val::opt_str(m.file.as_deref()),
            "filter" => Val::opt_str(m.filter.as_deref()),
        ),
    },
    RecordDef {
        name: "error",
        fields: fields!(Error, e;
            "file" => Val::str(&e.file),
            "offset" => Val::uint(e.offset),
            "message" => Val::str(&e.message),
        ),
    },
    RecordDef {
        name: "http_txn",
        fields: fields!(HttpTxn, t;
            "ts" => Val::time(t.ts),
            "conn_id" => Val::uint(t.conn.conn_id),
            "client_ip" => Val::ip(t.conn.client_ip),
            "client_port" => Val::Int(i64::from(t.conn.client_port)),
            "server_ip" => Val::ip(t.conn.server_ip),
            "server_port" => Val::Int(i64::from(t.conn.server_port)),
            "method" => Val::str(&t.method),
            "target" => Val::str(&t.target),
            "host" => Val::opt_str(t.host.as_deref()),
            "version" => Val::str(t.version),
            "status" => Val::opt_uint(t.status.map(u64::from)),
            "reason" => Val::opt_str(t.reason.as_deref()),
            "content_type" => Val::opt_str(t.content_type.as_deref()),
            "transfer_encoding" => Val::opt_str(t.transfer_encoding.as_deref()),
            "req_body_len" => Val::uint(t.req_body_len),
            "resp_body_len" => Val::uint(t.resp_body_len),
            "resp_pieces" => Val::uint(t.resp_pieces),
            "req_head_bytes" => Val::uint(t.req_head_bytes),
            "resp_head_bytes" => Val::uint(t.resp_head_bytes),
            "request_ms" => Val::ms(Some(t.request_ms)),
            "wait_ms" => Val::ms(t.wait_ms),
            "transfer_ms" => Val::ms(t.transfer_ms),
            "last_ts" => Val::time(t.last_ts),
            "continued" => Val::Bool(t.continued),
            "upgrade" => Val::Bool(t.upgrade),
            "complete" => Val::Bool(t.complete),
            "channel_id" => Val::uint(t.channel_id),
        ),
    },
    RecordDef {
        name: "sse_event",
        fields: fields!(SseEvent, e;
            "ts" => Val::time(e.ts),
            "conn_id" => Val::uint(e.conn.conn_id),
            "client_ip" => Val::ip(e.conn.client_ip),
            "client_port" => Val::Int(i64::from(e.conn.client_port)),
            "server_ip" => Val::ip(e.conn.server_ip),
            "server_port" => Val::Int(i64::from(e.conn.server_port)),
            "channel_id" => Val::uint(e.channel_id),
            "event" => Val::opt_str(e.event.as_deref()),
            "id" => Val::opt_str(e.id.as_deref()),
            "data_len" => Val::uint(e.data_len),
            "data" => Val::opt_str(e.data.as_deref()),
            "data_truncated" => Val::Bool(e.data_truncated),
            "comment" => Val::opt_str(e.comment.as_deref()),
            "retry" => Val::opt_uint(e.retry),
            "dispatched" => Val::Bool(e.dispatched),
        ),
    },
    RecordDef {
        name: "rt_channel",
        fields: fields!(RtChannel, c;
            "channel_id" => Val::uint(c.channel_id),
            "technique" => Val::str(c.technique),
            "client_ip" => Val::ip(c.client_ip),
            "server_ip" => Val::ip(c.server_ip),
            "server_port" => Val::Int(i64::from(c.server_port)),
            "host" => Val::opt_str(c.host.as_deref()),
            "path" => Val::str(&c.path),
            "conn_ids" => Val::List(c.conn_ids.iter().map(|id| Val::uint(*id)).collect()),
            "requests" => Val::uint(c.requests),
            "data_messages" => Val::uint(c.data_messages),
            "empty_responses" => Val::uint(c.empty_responses),
            "mean_wait_ms" => Val::ms(c.mean_wait_ms),
            "max_wait_ms" => Val::ms(c.max_wait_ms),
            "mean_interval_ms" => Val::ms(c.mean_interval_ms),
            "first_ts" => Val::time(c.first_ts),
            "last_ts" => Val::time(c.last_ts),
            "overhead_bytes" => Val::opt_uint(c.overhead_bytes),
            "verdict" => Val::str(&c.verdict),
        ),
    },
];

/// Number of record types.
pub const TYPES: usize = 16;

/// The index of a record's type in [`RECORDS`].
pub fn type_index(r: &Record) -> usize {
    match r {
        Record::TcpConn(_) => 0,
        Record::UdpFlow(_) => 1,
        Record::TcpEvent(_) => 2,
        Record::UdpEvent(_) => 3,
        Record::WsUpgrade(_) => 4,
        Record::WsFrame(_) => 5,
        Record::WsMessage(_) => 6,
        Record::WsViolation(_) => 7,
        Record::WsSession(_) => 8,
        Record::Summary(_) => 9,
        Record::CaptureStats(_) => 10,
        Record::Meta(_) => 11,
        Record::Error(_) => 12,
        Record::HttpTxn(_) => 13,
        Record::SseEvent(_) => 14,
        Record::RtChannel(_) => 15,
    }
}

/// `type`, which every record has.
pub static TYPE_FIELD: FieldDef = FieldDef {
    name: "type",
    get: |r| Val::str(r.type_name()),
};

/// The time an offender table shows for a record, and the field it comes
/// from: `ts` where the record has one, else `first_ts`.
pub fn row_time(r: &Record) -> Option<(&'static str, Timestamp)> {
    Some(match r {
        Record::TcpEvent(e) => ("ts", e.ts),
        Record::UdpEvent(e) => ("ts", e.ts),
        Record::TcpConn(c) => ("first_ts", c.first_ts),
        Record::UdpFlow(f) => ("first_ts", f.first_ts),
        Record::WsUpgrade(u) => ("ts", u.ts),
        Record::WsFrame(f) => ("ts", f.ts),
        Record::WsMessage(m) => ("ts", m.ts),
        Record::WsViolation(v) => ("ts", v.ts),
        Record::WsSession(w) => ("ts", w.ts),
        Record::HttpTxn(t) => ("ts", t.ts),
        Record::SseEvent(e) => ("ts", e.ts),
        Record::RtChannel(c) => ("first_ts", c.first_ts),
        Record::Summary(s) => ("first_ts", s.first_ts?),
        Record::Meta(_) | Record::Error(_) | Record::CaptureStats(_) => return None,
    })
}

/// The connection a record is about.
pub fn conn(r: &Record) -> Option<ConnRef> {
    let flat = |conn_id, client_ip, client_port, server_ip, server_port| ConnRef {
        conn_id,
        client_ip,
        client_port,
        server_ip,
        server_port,
    };
    Some(match r {
        Record::TcpEvent(e) => flat(
            e.conn_id,
            e.client_ip,
            e.client_port,
            e.server_ip,
            e.server_port,
        ),
        Record::UdpEvent(e) => flat(
            e.conn_id,
            e.client_ip,
            e.client_port,
            e.server_ip,
            e.server_port,
        ),
        Record::TcpConn(c) => flat(
            c.conn_id,
            c.client_ip,
            c.client_port,
            c.server_ip,
            c.server_port,
        ),
        Record::UdpFlow(f) => flat(
            f.conn_id,
            f.client_ip,
            f.client_port,
            f.server_ip,
            f.server_port,
        ),
        Record::WsUpgrade(u) => u.conn,
        Record::WsFrame(f) => f.conn,
        Record::WsMessage(m) => m.conn,
        Record::WsViolation(v) => v.conn,
        Record::WsSession(w) => w.conn,
        Record::HttpTxn(t) => t.conn,
        Record::SseEvent(e) => e.conn,
        _ => return None,
    })
}

/// The columns an offender table always shows for a type, after the time
/// and the endpoints: what the record is.
pub fn kind_columns(ty: usize) -> &'static [&'static str] {
    match RECORDS[ty].name {
        "tcp_conn" | "udp_flow" => &["state"],
        "tcp_event" | "udp_event" => &["event", "direction"],
        "ws_upgrade" => &["status"],
        "ws_frame" => &["direction", "opcode_name", "close_code"],
        "ws_message" => &["direction", "opcode_name"],
        "ws_violation" => &["direction", "rule", "detail"],
        "ws_session" => &["status", "close_code"],
        "http_txn" => &["method", "target", "status"],
        "sse_event" => &["event", "id"],
        "rt_channel" => &["technique", "path"],
        "error" => &["file", "offset", "message"],
        _ => &[],
    }
}

/// The values an enumerated field takes.
#[derive(Clone, Copy, Debug)]
pub enum Values {
    Names(&'static [&'static str]),
    /// The first of each pair (ids with their descriptions).
    Ids(&'static [(&'static str, &'static str)]),
}

impl Values {
    pub fn iter(self) -> impl Iterator<Item = &'static str> {
        let (names, ids): (&[&str], &[(&str, &str)]) = match self {
            Values::Names(n) => (n, &[]),
            Values::Ids(i) => (&[], i),
        };
        names.iter().copied().chain(ids.iter().map(|(id, _)| *id))
    }

    pub fn contains(self, s: &str) -> bool {
        self.iter().any(|v| v == s)
    }
}

const SIDES: &[&str] = &["client", "server"];

/// Enumerated fields: (record type, or `*` for every type that has the
/// field; field; its values). A string compared with such a field must be
/// one of its values. A new record type's enumerated fields are added here.
pub static ENUMS: &[(&str, &str, Values)] = &[
    (
        "tcp_conn",
        "state",
        Values::Names(crate::track::tcp::CONN_STATES),
    ),
    (
        "udp_flow",
        "state",
        Values::Names(crate::track::udp::FLOW_STATES),
    ),
    ("*", "direction", Values::Names(SIDES)),
    ("*", "closed_by", Values::Names(SIDES)),
    (
        "*",
        "service",
        Values::Names(crate::track::service::SERVICES),
    ),
    (
        "tcp_event",
        "event",
        Values::Names(crate::event::TcpEventKind::NAMES),
    ),
    ("udp_event", "event", Values::Names(&["new_flow"])),
    (
        "ws_frame",
        "opcode_name",
        Values::Names(&[
            "continuation",
            "text",
            "binary",
            "close",
            "ping",
            "pong",
            "reserved",
        ]),
    ),
    (
        "ws_message",
        "opcode_name",
        Values::Names(&["text", "binary"]),
    ),
    ("ws_violation", "rule", Values::Ids(crate::proto::RULES)),
    (
        "summary",
        "format",
        Values::Names(&["pcap", "pcap-ns", "pcap-modified", "pcapng"]),
    ),
    ("capture_stats", "socket", Values::Names(&["raw", "dgram"])),
    ("meta", "command", Values::Names(&["replay", "capture"])),
    (
        "rt_channel",
        "technique",
        Values::Names(crate::proto::channel::TECHNIQUES),
    ),
    (
        "http_txn",
        "version",
        Values::Names(&["HTTP/1.0", "HTTP/1.1"]),
    ),
];

/// The values of `ty.field` if it is enumerated.
pub fn enum_values(ty: usize, field: &str) -> Option<Values> {
    let name = RECORDS[ty].name;
    ENUMS
        .iter()
        .find(|(t, f, _)| (*t == name || *t == "*") && *f == field && field_def(ty, f).is_some())
        .map(|(_, _, v)| *v)
}

/// Short names users may type.
pub const ALIASES: &[(&str, &str)] = &[
    ("tcp", "tcp_conn"),
    ("udp", "udp_flow"),
    ("ws", "ws_session"),
    ("upgrade", "ws_upgrade"),
    ("frame", "ws_frame"),
    ("message", "ws_message"),
    ("violation", "ws_violation"),
    ("http", "http_txn"),
    ("sse", "sse_event"),
    ("channel", "rt_channel"),
];

/// Record types with one record per run: `summary.truncated` names a
/// value, not a set.
pub const SINGLETONS: &[&str] = &["summary", "capture_stats", "meta"];

/// The index of a record type or alias.
pub fn record_type(name: &str) -> Option<usize> {
    let canonical = ALIASES
        .iter()
        .find(|(a, _)| *a == name)
        .map_or(name, |(_, t)| *t);
    RECORDS.iter().position(|r| r.name == canonical)
}

pub fn is_singleton(ty: usize) -> bool {
    SINGLETONS.contains(&RECORDS[ty].name)
}

/// A field of `ty` (or `type`).
pub fn field_def(ty: usize, name: &str) -> Option<&'static FieldDef> {
    if name == "type" {
        return Some(&TYPE_FIELD);
    }
    RECORDS[ty].fields.iter().find(|f| f.name == name)
}

/// The field names of a type, for messages.
pub fn fields(ty: &str) -> Vec<&'static str> {
    RECORDS
        .iter()
        .find(|r| r.name == ty)
        .map(|r| r.fields.iter().map(|f| f.name).collect())
        .unwrap_or_default()
}

/// Every type name and alias, for "expected one of" messages.
pub fn type_names() -> Vec<&'static str> {
    let mut v: Vec<&str> = RECORDS.iter().map(|r| r.name).collect();
    v.extend(ALIASES.iter().map(|(a, _)| *a));
    v
}

/// The candidate nearest to a misspelt `word`: the same but for case, else
/// one within a few edits (a third of the word), else one that starts with
/// the word (`rtt` → `rtt_ms`). Ties go to the earlier candidate.
pub fn nearest<'c>(word: &str, candidates: impl IntoIterator<Item = &'c str>) -> Option<&'c str> {
    let candidates: Vec<&str> = candidates.into_iter().collect();
    if let Some(c) = candidates.iter().find(|c| c.eq_ignore_ascii_case(word)) {
        return Some(c);
    }
    let limit = (word.chars().count() / 3).max(1);
    let best = candidates
        .iter()
        .map(|c| (strsim::osa_distance(word, c), *c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d);
    if let Some((_, c)) = best {
        return Some(c);
    }
    if word.len() >= 2 {
        return candidates.iter().find(|c| c.starts_with(word)).copied();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Input, ReplayConfig};
    use crate::proto::WsConfig;

    /// Every record of every committed capture: each field read from the
    /// typed record equals the field of the JSON line the encoder writes
    /// (numbers to the bit, parsed with a correctly rounding parser), and
    /// the JSON has no field the schema lacks.
    #[test]
    fn readers_read_what_the_encoder_writes() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/captures");
        let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "pcap" || x == "pcapng"))
            .collect();
        files.sort();
        let mut seen = [0usize; TYPES];
        let mut runs: Vec<(String, Vec<Record>)> = files
            .iter()
            .map(|path| {
                let mut cfg = ReplayConfig::new(Input::Path(path.clone()));
                cfg.ws = Some(WsConfig::default());
                let (_, records) = crate::replay::replay(&cfg, Vec::new()).unwrap();
                (path.display().to_string(), records)
            })
            .collect();
        runs.push(("made here".into(), made_records()));
        for (path, records) in &runs {
            for r in records {
                let ty = type_index(r);
                assert_eq!(RECORDS[ty].name, r.type_name());
                seen[ty] += 1;
                let mut line = Vec::new();
                crate::render::json::encode(r, &mut line);
                let json: serde_json::Value = serde_json::from_slice(&line).unwrap();
                let obj = json.as_object().unwrap();
                for key in obj.keys() {
                    assert!(
                        field_def(ty, key).is_some(),
                        "{path}: the encoder writes {}.{key}, which the schema lacks",
                        r.type_name()
                    );
                }
                for f in RECORDS[ty].fields.iter().chain([&TYPE_FIELD]) {
                    let typed = (f.get)(r);
                    let written = obj.get(f.name).unwrap_or(&serde_json::Value::Null);
                    assert!(
                        same(&typed, written),
                        "{path}: {}.{}: read {typed:?}, written {written}",
                        r.type_name(),
                        f.name
                    );
                }
            }
        }
        for (i, n) in seen.iter().enumerate() {
            assert!(*n > 0, "no {} record was read", RECORDS[i].name);
        }
    }

    /// Records no committed capture makes: an event with the bytes a
    /// reassembly limit gave up, a capture's statistics, a read error; and
    /// times far from the epoch.
    fn made_records() -> Vec<Record> {
        use crate::event::{CaptureStats, Direction, ErrorRecord, TcpEvent, TcpEventKind};
        use crate::time::Nanos;
        vec![
            Record::TcpEvent(TcpEvent {
                ts: Timestamp(9_007_199_254_740_993_123),
                event: TcpEventKind::ReassemblyLimit,
                conn_id: 3,
                client_ip: "10.0.0.1".parse().unwrap(),
                client_port: 40000,
                server_ip: "2001:db8::2".parse().unwrap(),
                server_port: 80,
                direction: Direction::Server,
                options: None,
                rtt_ms: Some(Nanos(123_456_789)),
                connect_ms: None,
                syn_to_synack_ms: None,
                synack_to_ack_ms: None,
                count: None,
                bytes: Some(65_536),
            }),
            Record::CaptureStats(Box::new(CaptureStats {
                interface: "eth0".into(),
                socket: "raw",
                link_type: "ETHERNET".into(),
                snaplen: 262_144,
                captured: 10,
                received: 12,
                kernel_drops: 2,
                interface_drops: 0,
                duration: 1.234_567_89,
            })),
            Record::Error(ErrorRecord {
                file: "x.pcap".into(),
                offset: 24,
                message: "truncated \"record\"".into(),
            }),
        ]
    }

    /// Type and value the same, numbers to the bit.
    fn same(v: &Val<'_>, j: &serde_json::Value) -> bool {
        use serde_json::Value as J;
        match (v, j) {
            (Val::Null, J::Null) => true,
            (Val::Bool(a), J::Bool(b)) => a == b,
            (Val::Int(a), J::Number(n)) => n.as_i64() == Some(*a),
            (Val::Dec(..) | Val::Float(_), J::Number(n)) => {
                v.as_f64().map(f64::to_bits) == n.as_f64().map(f64::to_bits)
            }
            (Val::Str(a), J::String(b)) => a == b,
            (Val::List(a), J::Array(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y))
            }
            (Val::Obj(a), J::Object(b)) => {
                a.len() == b.len()
                    && a.iter()
                        .all(|(k, x)| b.get(k.as_ref()).is_some_and(|y| same(x, y)))
            }
            _ => false,
        }
    }

    #[test]
    fn enumerated_fields_exist_and_list_what_is_made() {
        for (ty, field, values) in ENUMS {
            let types: Vec<usize> = (0..TYPES)
                .filter(|&i| *ty == "*" || RECORDS[i].name == *ty)
                .collect();
            assert!(
                types.iter().any(|&i| field_def(i, field).is_some()),
                "{ty}.{field} is not a field"
            );
            assert!(values.iter().count() > 0);
        }
        // Every opcode's name, every TCP event kind and file format.
        let frame = enum_values(record_type("ws_frame").unwrap(), "opcode_name").unwrap();
        for v in 0..=255u8 {
            assert!(frame.contains(crate::proto::ws::Opcode::from_u8(v).name()));
        }
        use crate::source::file::FileFormat;
        let format = enum_values(record_type("summary").unwrap(), "format").unwrap();
        for f in [
            FileFormat::PcapNg,
            FileFormat::Pcap {
                big_endian: false,
                nanosecond: false,
                modified: false,
            },
            FileFormat::Pcap {
                big_endian: true,
                nanosecond: true,
                modified: false,
            },
            FileFormat::Pcap {
                big_endian: false,
                nanosecond: false,
                modified: true,
            },
        ] {
            assert!(format.contains(f.name()), "{}", f.name());
        }
        let dir = enum_values(record_type("ws_violation").unwrap(), "direction").unwrap();
        for d in [
            crate::event::Direction::Client,
            crate::event::Direction::Server,
        ] {
            assert!(dir.contains(d.as_str()));
        }
        assert!(enum_values(record_type("tcp_conn").unwrap(), "history").is_none());
        assert!(enum_values(record_type("ws_upgrade").unwrap(), "closed_by").is_none());
    }

    #[test]
    fn types_and_aliases() {
        let mut names: Vec<&str> = RECORDS.iter().map(|r| r.name).collect();
        names.sort_unstable();
        let mut event = Record::TYPE_NAMES.to_vec();
        event.sort_unstable();
        assert_eq!(names, event, "every record type, once");
        assert_eq!(record_type("tcp"), record_type("tcp_conn"));
        assert_eq!(RECORDS.len(), TYPES);
        assert_eq!(record_type("nope"), None);
        assert!(is_singleton(record_type("summary").unwrap()));
    }

    #[test]
    fn suggestions() {
        let fields = fields("tcp_conn");
        assert_eq!(nearest("rtt", fields.iter().copied()), Some("rtt_ms"));
        assert_eq!(
            nearest("sever_port", fields.iter().copied()),
            Some("server_port")
        );
        assert_eq!(nearest("STATE", fields.iter().copied()), Some("state"));
        assert_eq!(nearest("xyzzy", fields.iter().copied()), None);
        assert_eq!(nearest("tpc", type_names()), Some("tcp"));
        assert_eq!(
            nearest("SO", crate::track::tcp::CONN_STATES.iter().copied()),
            Some("S0")
        );
    }
}

/// The JSON Schema that travels with the binary (`sockscope schema`) says
/// what this module says: the same record types with the same fields, and
/// for every enumerated field the same values. Its own integration test
/// validates real output against it; this one keeps the two lists of names
/// from drifting apart.
#[cfg(test)]
mod json_schema_tests {
    use super::*;

    fn schema() -> serde_json::Value {
        serde_json::from_str(crate::event::JSON_SCHEMA).expect("the schema is JSON")
    }

    #[test]
    fn every_record_type_has_the_same_fields() {
        let schema = schema();
        for def in RECORDS {
            let props = schema["$defs"][def.name]["properties"]
                .as_object()
                .unwrap_or_else(|| panic!("the JSON Schema has no {}", def.name));
            let mut in_schema: Vec<&str> = props
                .keys()
                .map(String::as_str)
                .filter(|k| *k != "type" && *k != "files" && *k != "conn")
                .collect();
            let mut here: Vec<&str> = def.fields.iter().map(|f| f.name).collect();
            in_schema.sort_unstable();
            here.sort_unstable();
            assert_eq!(in_schema, here, "fields of {}", def.name);
        }
    }

    #[test]
    fn every_enumerated_field_has_the_same_values() {
        let schema = schema();
        for (ty, field, values) in ENUMS {
            let names: Vec<&str> = values.iter().collect();
            let types: Vec<&str> = if *ty == "*" {
                RECORDS
                    .iter()
                    .filter(|d| d.fields.iter().any(|f| f.name == *field))
                    .map(|d| d.name)
                    .collect()
            } else {
                vec![ty]
            };
            for t in types {
                let Some(list) = schema["$defs"][t]["properties"][*field]["enum"].as_array() else {
                    // Free-form in the schema (a service label, say) is
                    // allowed to be looser than the checker.
                    continue;
                };
                let mut in_schema: Vec<&str> = list.iter().filter_map(|v| v.as_str()).collect();
                let mut here: Vec<&str> = names.clone();
                in_schema.sort_unstable();
                here.sort_unstable();
                assert_eq!(in_schema, here, "values of {t}.{field}");
            }
        }
    }
}
