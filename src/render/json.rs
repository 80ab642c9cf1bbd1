//! JSON lines: one record per line, `"type"` first.
//!
//! This is where the wire format is produced, so it is where it is
//! documented: see [`crate::event`] for the record types and the README for
//! every field. The encoder is written out by hand rather than derived: it is
//! on the hot path (two million records for a ten-million-packet capture) and
//! three times faster than serde's derive, mostly by formatting IPv4
//! addresses and numbers without `fmt`. Field order is the order below and is
//! stable.
//!
//! Numbers: counts are integers; times (`ts`, `first_ts`, `last_ts`) are float
//! seconds since the epoch; `*_ms` fields float milliseconds; `duration` float
//! seconds; the shortest decimal that round-trips is written (ryu), `null` for
//! values not measured.
//!
//! `--summary` drops the per-packet event records, `-q` keeps only `meta`,
//! `error` and `summary`.

use std::io::{self, Write};
use std::net::IpAddr;

use crate::config::Detail;
use crate::event::{
    CaptureStats, ConnRef, ErrorRecord, HttpTxn, Meta, Record, RecordSink, RtChannel, SseEvent,
    Summary, SynInfo, TcpConnRecord, TcpEvent, UdpEvent, UdpFlowRecord, WsFrame, WsMessage,
    WsSession, WsSideTotals, WsUpgrade, WsViolation,
};
use crate::replay::StoppableSink;
use crate::time::{Nanos, Timestamp};

/// `,"name":` as one literal.
macro_rules! k {
    ($name:literal) => {
        concat!(",\"", $name, "\":")
    };
}

/// Writes one JSON object field by field. Keys are passed as complete
/// literals made by `k!` (`,"name":`).
struct Obj<'a> {
    out: &'a mut Vec<u8>,
}

impl<'a> Obj<'a> {
    #[inline(always)]
    fn new(out: &'a mut Vec<u8>, type_name: &str) -> Self {
        out.extend_from_slice(b"{\"type\":\"");
        out.extend_from_slice(type_name.as_bytes());
        out.push(b'"');
        Obj { out }
    }

    #[inline(always)]
    fn key(&mut self, k: &str) {
        self.out.extend_from_slice(k.as_bytes());
    }

    #[inline(always)]
    fn u64(&mut self, k: &str, v: u64) {
        self.key(k);
        self.out
            .extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
    }

    #[inline(always)]
    fn opt_u64(&mut self, k: &str, v: Option<u64>) {
        match v {
            Some(v) => self.u64(k, v),
            None => self.null(k),
        }
    }

    #[inline(always)]
    fn bool(&mut self, k: &str, v: bool) {
        self.key(k);
        self.out
            .extend_from_slice(if v { b"true" } else { b"false" });
    }

    #[inline(always)]
    fn opt_bool(&mut self, k: &str, v: Option<bool>) {
        match v {
            Some(v) => self.bool(k, v),
            None => self.null(k),
        }
    }

    #[inline(always)]
    fn null(&mut self, k: &str) {
        self.key(k);
        self.out.extend_from_slice(b"null");
    }

    #[inline(always)]
    fn ts(&mut self, k: &str, t: Timestamp) {
        self.key(k);
        decimal::<9>(self.out, t.0);
    }

    #[inline(always)]
    fn opt_ts(&mut self, k: &str, t: Option<Timestamp>) {
        match t {
            Some(t) => self.ts(k, t),
            None => self.null(k),
        }
    }

    #[inline(always)]
    fn secs(&mut self, k: &str, d: Nanos) {
        self.key(k);
        decimal::<9>(self.out, d.0);
    }

    #[inline(always)]
    fn ms(&mut self, k: &str, d: Option<Nanos>) {
        match d {
            Some(d) => {
                self.key(k);
                decimal::<6>(self.out, d.0);
            }
            None => self.null(k),
        }
    }

    /// Only when measured (fields of one event kind).
    #[inline(always)]
    fn ms_if(&mut self, k: &str, d: Option<Nanos>) {
        if d.is_some() {
            self.ms(k, d);
        }
    }

    /// A string that needs no escaping (names this program chose).
    #[inline(always)]
    fn word(&mut self, k: &str, v: &str) {
        self.key(k);
        self.out.push(b'"');
        self.out.extend_from_slice(v.as_bytes());
        self.out.push(b'"');
    }

    #[inline(always)]
    fn opt_word(&mut self, k: &str, v: Option<&str>) {
        match v {
            Some(v) => self.word(k, v),
            None => self.null(k),
        }
    }

    /// Any string, escaped per RFC 8259.
    #[inline(always)]
    fn str(&mut self, k: &str, v: &str) {
        self.key(k);
        escape_into(self.out, v);
    }

    #[inline(always)]
    fn opt_str(&mut self, k: &str, v: Option<&str>) {
        match v {
            Some(v) => self.str(k, v),
            None => self.null(k),
        }
    }

    /// A value whose text needs no escaping (this program's own words).
    #[inline(always)]
    fn display(&mut self, k: &str, v: impl std::fmt::Display) {
        self.key(k);
        self.out.push(b'"');
        let _ = write!(self.out, "{v}");
        self.out.push(b'"');
    }

    #[inline(always)]
    fn ip(&mut self, k: &str, ip: IpAddr) {
        self.key(k);
        self.out.push(b'"');
        match ip {
            IpAddr::V4(v4) => ipv4(self.out, v4.octets()),
            IpAddr::V6(v6) => {
                let _ = write!(self.out, "{v6}");
            }
        }
        self.out.push(b'"');
    }

    #[inline(always)]
    fn endpoints(&mut self, c: IpAddr, cp: u16, s: IpAddr, sp: u16) {
        self.ip(k!("client_ip"), c);
        self.u64(k!("client_port"), u64::from(cp));
        self.ip(k!("server_ip"), s);
        self.u64(k!("server_port"), u64::from(sp));
    }

    #[inline(always)]
    fn vlan(&mut self, ids: &[u16]) {
        self.key(k!("vlan"));
        self.out.push(b'[');
        for (i, id) in ids.iter().enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            self.out
                .extend_from_slice(itoa::Buffer::new().format(*id).as_bytes());
        }
        self.out.push(b']');
    }

    #[inline(always)]
    fn end(self) {
        self.out.extend_from_slice(b"}\n");
    }
}

/// `v / 10^DIGITS` as an exact decimal: the integer part, a point, and the
/// fraction without trailing zeros (at least one digit). Capture times are
/// integer nanoseconds; writing them this way is exact, where going through
/// `f64` would round them. Formatted right to left in a stack buffer and
/// appended once.
#[inline]
fn decimal<const DIGITS: u32>(out: &mut Vec<u8>, v: i64) {
    let scale = 10u64.pow(DIGITS);
    let a = v.unsigned_abs();
    let (mut int, mut frac) = (a / scale, a % scale);
    let mut buf = [0u8; 48];
    let mut i = buf.len();
    if frac == 0 {
        i -= 1;
        buf[i] = b'0';
    } else {
        let mut width = DIGITS;
        while frac % 10 == 0 {
            frac /= 10;
            width -= 1;
        }
        for _ in 0..width {
            i -= 1;
            buf[i] = b'0' + (frac % 10) as u8;
            frac /= 10;
        }
    }
    i -= 1;
    buf[i] = b'.';
    loop {
        i -= 1;
        buf[i] = b'0' + (int % 10) as u8;
        int /= 10;
        if int == 0 {
            break;
        }
    }
    if v < 0 {
        i -= 1;
        buf[i] = b'-';
    }
    out.extend_from_slice(&buf[i..]);
}

/// `v / 10^digits` as the exact decimal the encoder writes for times
/// (`digits` 9) and milliseconds (6); other scales are not written.
pub fn exact_decimal(out: &mut Vec<u8>, v: i64, digits: u32) {
    debug_assert!(matches!(digits, 6 | 9), "scale {digits}");
    match digits {
        6 => decimal::<6>(out, v),
        _ => decimal::<9>(out, v),
    }
}

/// Dotted-quad IPv4, formatted in a stack buffer and appended once.
#[inline]
fn ipv4(out: &mut Vec<u8>, o: [u8; 4]) {
    let mut buf = [0u8; 15];
    let mut n = 0;
    for (k, &x) in o.iter().enumerate() {
        if k > 0 {
            buf[n] = b'.';
            n += 1;
        }
        if x >= 100 {
            buf[n] = b'0' + x / 100;
            n += 1;
        }
        if x >= 10 {
            buf[n] = b'0' + (x / 10) % 10;
            n += 1;
        }
        buf[n] = b'0' + x % 10;
        n += 1;
    }
    out.extend_from_slice(&buf[..n]);
}

/// A JSON string literal, escaped as RFC 8259 requires.
pub fn escape_into(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let mut start = 0;
    let bytes = s.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        let esc: Option<&[u8]> = match b {
            b'"' => Some(b"\\\""),
            b'\\' => Some(b"\\\\"),
            b'\n' => Some(b"\\n"),
            b'\r' => Some(b"\\r"),
            b'\t' => Some(b"\\t"),
            0..=0x1f | 0x7f => None,
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        match esc {
            Some(e) => out.extend_from_slice(e),
            None => {
                let _ = write!(out, "\\u{:04x}", b);
            }
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

fn syn_info(o: &mut Obj<'_>, k: &str, s: &SynInfo) {
    o.key(k);
    let mut inner = Vec::with_capacity(64);
    inner.extend_from_slice(b"{\"mss\":");
    match s.mss {
        Some(m) => inner.extend_from_slice(itoa::Buffer::new().format(m).as_bytes()),
        None => inner.extend_from_slice(b"null"),
    }
    inner.extend_from_slice(b",\"wscale\":");
    match s.wscale {
        Some(w) => inner.extend_from_slice(itoa::Buffer::new().format(w).as_bytes()),
        None => inner.extend_from_slice(b"null"),
    }
    inner.extend_from_slice(if s.sack_ok {
        b",\"sack_ok\":true"
    } else {
        b",\"sack_ok\":false"
    });
    inner.extend_from_slice(if s.ts_ok {
        b",\"ts_ok\":true}"
    } else {
        b",\"ts_ok\":false}"
    });
    o.out.extend_from_slice(&inner);
}

fn meta(out: &mut Vec<u8>, m: &Meta) {
    let mut o = Obj::new(out, "meta");
    o.u64(k!("schema"), u64::from(m.schema));
    o.word(k!("tool"), m.tool);
    o.word(k!("version"), m.version);
    o.word(k!("command"), m.command);
    o.opt_str(k!("file"), m.file.as_deref());
    if !m.files.is_empty() {
        o.key(k!("files"));
        o.out.push(b'[');
        for (i, f) in m.files.iter().enumerate() {
            if i > 0 {
                o.out.push(b',');
            }
            escape_into(o.out, f);
        }
        o.out.push(b']');
    }
    o.opt_str(k!("filter"), m.filter.as_deref());
    if !m.conn.is_empty() {
        o.key(k!("conn"));
        o.out.push(b'[');
        for (i, c) in m.conn.iter().enumerate() {
            if i > 0 {
                o.out.push(b',');
            }
            escape_into(o.out, c);
        }
        o.out.push(b']');
    }
    o.end();
}

fn tcp_event(out: &mut Vec<u8>, e: &TcpEvent) {
    let mut o = Obj::new(out, "tcp_event");
    o.ts(k!("ts"), e.ts);
    o.word(k!("event"), e.event.as_str());
    o.u64(k!("conn_id"), e.conn_id);
    o.endpoints(e.client_ip, e.client_port, e.server_ip, e.server_port);
    o.word(k!("direction"), e.direction.as_str());
    if let Some(opts) = &e.options {
        syn_info(&mut o, k!("options"), opts);
    }
    o.ms_if(k!("rtt_ms"), e.rtt_ms);
    o.ms_if(k!("connect_ms"), e.connect_ms);
    o.ms_if(k!("syn_to_synack_ms"), e.syn_to_synack_ms);
    o.ms_if(k!("synack_to_ack_ms"), e.synack_to_ack_ms);
    if let Some(n) = e.count {
        o.u64(k!("count"), u64::from(n));
    }
    if let Some(n) = e.bytes {
        o.u64(k!("bytes"), n);
    }
    o.end();
}

fn udp_event(out: &mut Vec<u8>, e: &UdpEvent) {
    let mut o = Obj::new(out, "udp_event");
    o.ts(k!("ts"), e.ts);
    o.word(k!("event"), e.event);
    o.u64(k!("conn_id"), e.conn_id);
    o.endpoints(e.client_ip, e.client_port, e.server_ip, e.server_port);
    o.word(k!("direction"), e.direction.as_str());
    o.opt_word(k!("service"), e.service);
    o.end();
}

fn tcp_conn(out: &mut Vec<u8>, c: &TcpConnRecord) {
    let mut o = Obj::new(out, "tcp_conn");
    o.u64(k!("conn_id"), c.conn_id);
    o.endpoints(c.client_ip, c.client_port, c.server_ip, c.server_port);
    o.vlan(c.vlan.as_slice());
    o.word(k!("state"), c.state);
    o.word(k!("history"), c.history.as_str());
    o.display(k!("verdict"), c.verdict);
    o.opt_word(k!("service"), c.service);
    o.bool(k!("handshake_complete"), c.handshake_complete);
    o.bool(k!("simultaneous_open"), c.simultaneous_open);
    o.u64(k!("syn_retransmits"), u64::from(c.syn_retransmits));
    o.u64(k!("synack_retransmits"), u64::from(c.synack_retransmits));
    o.ms(k!("rtt_ms"), c.rtt_ms);
    o.ms(k!("connect_ms"), c.connect_ms);
    o.ms(k!("syn_to_synack_ms"), c.syn_to_synack_ms);
    o.ms(k!("synack_to_ack_ms"), c.synack_to_ack_ms);
    o.opt_u64(k!("mss"), c.mss.map(u64::from));
    o.opt_u64(k!("wscale"), c.wscale.map(u64::from));
    o.opt_bool(k!("sack_ok"), c.sack_ok);
    o.opt_bool(k!("ts_ok"), c.ts_ok);
    o.opt_u64(k!("server_mss"), c.server_mss.map(u64::from));
    o.opt_u64(k!("server_wscale"), c.server_wscale.map(u64::from));
    o.opt_bool(k!("server_sack_ok"), c.server_sack_ok);
    o.opt_bool(k!("server_ts_ok"), c.server_ts_ok);
    o.u64(k!("client_packets"), c.client_packets);
    o.u64(k!("server_packets"), c.server_packets);
    o.u64(k!("client_bytes"), c.client_bytes);
    o.u64(k!("server_bytes"), c.server_bytes);
    o.u64(k!("missed_bytes"), c.missed_bytes);
    o.u64(k!("truncated_packets"), c.truncated_packets);
    o.opt_word(k!("closed_by"), c.closed_by.map(|d| d.as_str()));
    o.ts(k!("first_ts"), c.first_ts);
    o.ts(k!("last_ts"), c.last_ts);
    o.secs(k!("duration"), c.duration);
    o.bool(k!("evicted"), c.evicted);
    o.end();
}

fn udp_flow(out: &mut Vec<u8>, f: &UdpFlowRecord) {
    let mut o = Obj::new(out, "udp_flow");
    o.u64(k!("conn_id"), f.conn_id);
    o.endpoints(f.client_ip, f.client_port, f.server_ip, f.server_port);
    o.vlan(f.vlan.as_slice());
    o.word(k!("state"), f.state);
    o.opt_word(k!("service"), f.service);
    o.u64(k!("client_packets"), f.client_packets);
    o.u64(k!("server_packets"), f.server_packets);
    o.u64(k!("client_bytes"), f.client_bytes);
    o.u64(k!("server_bytes"), f.server_bytes);
    o.ts(k!("first_ts"), f.first_ts);
    o.ts(k!("last_ts"), f.last_ts);
    o.secs(k!("duration"), f.duration);
    o.bool(k!("evicted"), f.evicted);
    o.end();
}

impl Obj<'_> {
    fn conn(&mut self, c: &ConnRef) {
        self.u64(k!("conn_id"), c.conn_id);
        self.endpoints(c.client_ip, c.client_port, c.server_ip, c.server_port);
    }
}

fn ws_upgrade(out: &mut Vec<u8>, u: &WsUpgrade) {
    let mut o = Obj::new(out, "ws_upgrade");
    o.ts(k!("ts"), u.ts);
    o.ts(k!("request_ts"), u.request_ts);
    o.conn(&u.conn);
    o.str(k!("method"), &u.method);
    o.str(k!("target"), &u.target);
    o.opt_str(k!("host"), u.host.as_deref());
    o.opt_str(k!("origin"), u.origin.as_deref());
    o.opt_str(k!("version"), u.version.as_deref());
    o.opt_str(k!("key"), u.key.as_deref());
    o.opt_str(k!("requested_protocols"), u.requested_protocols.as_deref());
    o.opt_str(
        k!("requested_extensions"),
        u.requested_extensions.as_deref(),
    );
    o.opt_u64(k!("status"), u.status.map(u64::from));
    o.opt_str(k!("reason"), u.reason.as_deref());
    o.opt_str(k!("accept"), u.accept.as_deref());
    o.opt_bool(k!("accept_valid"), u.accept_valid);
    o.opt_str(k!("subprotocol"), u.subprotocol.as_deref());
    o.opt_str(k!("extensions"), u.extensions.as_deref());
    o.end();
}

fn ws_frame(out: &mut Vec<u8>, f: &WsFrame) {
    let mut o = Obj::new(out, "ws_frame");
    o.ts(k!("ts"), f.ts);
    o.conn(&f.conn);
    o.word(k!("direction"), f.direction.as_str());
    o.bool(k!("fin"), f.fin);
    o.bool(k!("rsv1"), f.rsv1);
    o.bool(k!("rsv2"), f.rsv2);
    o.bool(k!("rsv3"), f.rsv3);
    o.u64(k!("opcode"), u64::from(f.opcode));
    o.word(k!("opcode_name"), f.opcode_name);
    o.bool(k!("masked"), f.masked);
    o.u64(k!("payload_len"), f.payload_len);
    o.opt_u64(k!("close_code"), f.close_code.map(u64::from));
    o.opt_str(k!("close_reason"), f.close_reason.as_deref());
    o.opt_str(k!("control_payload"), f.control_payload.as_deref());
    o.bool(k!("incomplete"), f.incomplete);
    o.end();
}

fn ws_message(out: &mut Vec<u8>, m: &WsMessage) {
    let mut o = Obj::new(out, "ws_message");
    o.ts(k!("ts"), m.ts);
    o.conn(&m.conn);
    o.word(k!("direction"), m.direction.as_str());
    o.word(k!("opcode_name"), m.opcode_name);
    o.u64(k!("frames"), u64::from(m.frames));
    o.u64(k!("len"), m.len);
    o.u64(k!("wire_len"), m.wire_len);
    o.bool(k!("compressed"), m.compressed);
    o.opt_str(k!("text"), m.text.as_deref());
    o.bool(k!("text_truncated"), m.text_truncated);
    o.bool(k!("incomplete"), m.incomplete);
    o.end();
}

fn ws_violation(out: &mut Vec<u8>, v: &WsViolation) {
    let mut o = Obj::new(out, "ws_violation");
    o.ts(k!("ts"), v.ts);
    o.conn(&v.conn);
    o.word(k!("direction"), v.direction.as_str());
    o.word(k!("rule"), v.rule);
    o.str(k!("detail"), &v.detail);
    o.end();
}

fn ws_session(out: &mut Vec<u8>, w: &WsSession) {
    let mut o = Obj::new(out, "ws_session");
    o.ts(k!("ts"), w.ts);
    o.conn(&w.conn);
    o.str(k!("target"), &w.target);
    o.opt_str(k!("host"), w.host.as_deref());
    o.opt_u64(k!("status"), w.status.map(u64::from));
    o.opt_bool(k!("accept_valid"), w.accept_valid);
    o.opt_str(k!("subprotocol"), w.subprotocol.as_deref());
    o.opt_str(k!("extensions"), w.extensions.as_deref());
    o.bool(k!("compression"), w.compression);
    let (c, sv): (&WsSideTotals, &WsSideTotals) = (&w.client, &w.server);
    o.u64(k!("client_frames"), c.frames);
    o.u64(k!("server_frames"), sv.frames);
    o.u64(k!("client_messages"), c.messages);
    o.u64(k!("server_messages"), sv.messages);
    o.u64(k!("client_wire_bytes"), c.wire_bytes);
    o.u64(k!("server_wire_bytes"), sv.wire_bytes);
    o.u64(k!("client_message_bytes"), c.message_bytes);
    o.u64(k!("server_message_bytes"), sv.message_bytes);
    o.opt_u64(k!("close_code"), w.close_code.map(u64::from));
    o.opt_str(k!("close_reason"), w.close_reason.as_deref());
    o.opt_word(k!("closed_by"), w.closed_by.map(|d| d.as_str()));
    o.u64(k!("violations"), w.violations);
    o.u64(k!("gap_bytes"), w.gap_bytes);
    o.ts(k!("first_ts"), w.first_ts);
    o.ts(k!("last_ts"), w.last_ts);
    o.end();
}

fn http_txn(out: &mut Vec<u8>, t: &HttpTxn) {
    let mut o = Obj::new(out, "http_txn");
    o.ts(k!("ts"), t.ts);
    o.conn(&t.conn);
    o.str(k!("method"), &t.method);
    o.str(k!("target"), &t.target);
    o.opt_str(k!("host"), t.host.as_deref());
    o.word(k!("version"), t.version);
    o.opt_u64(k!("status"), t.status.map(u64::from));
    o.opt_str(k!("reason"), t.reason.as_deref());
    o.opt_str(k!("content_type"), t.content_type.as_deref());
    o.opt_str(k!("transfer_encoding"), t.transfer_encoding.as_deref());
    o.u64(k!("req_body_len"), t.req_body_len);
    o.u64(k!("resp_body_len"), t.resp_body_len);
    o.u64(k!("resp_pieces"), t.resp_pieces);
    o.u64(k!("req_head_bytes"), t.req_head_bytes);
    o.u64(k!("resp_head_bytes"), t.resp_head_bytes);
    o.ms(k!("request_ms"), Some(t.request_ms));
    o.ms(k!("wait_ms"), t.wait_ms);
    o.ms(k!("transfer_ms"), t.transfer_ms);
    o.ts(k!("last_ts"), t.last_ts);
    o.bool(k!("continued"), t.continued);
    o.bool(k!("upgrade"), t.upgrade);
    o.bool(k!("complete"), t.complete);
    o.u64(k!("channel_id"), t.channel_id);
    o.end();
}

fn sse_event(out: &mut Vec<u8>, e: &SseEvent) {
    let mut o = Obj::new(out, "sse_event");
    o.ts(k!("ts"), e.ts);
    o.conn(&e.conn);
    o.u64(k!("channel_id"), e.channel_id);
    o.opt_str(k!("event"), e.event.as_deref());
    o.opt_str(k!("id"), e.id.as_deref());
    o.u64(k!("data_len"), e.data_len);
    o.opt_str(k!("data"), e.data.as_deref());
    o.bool(k!("data_truncated"), e.data_truncated);
    o.opt_str(k!("comment"), e.comment.as_deref());
    o.opt_u64(k!("retry"), e.retry);
    o.bool(k!("dispatched"), e.dispatched);
    o.end();
}

fn rt_channel(out: &mut Vec<u8>, c: &RtChannel) {
    let mut o = Obj::new(out, "rt_channel");
    o.u64(k!("channel_id"), c.channel_id);
    o.word(k!("technique"), c.technique);
    o.ip(k!("client_ip"), c.client_ip);
    o.ip(k!("server_ip"), c.server_ip);
    o.u64(k!("server_port"), u64::from(c.server_port));
    o.opt_str(k!("host"), c.host.as_deref());
    o.str(k!("path"), &c.path);
    o.key(k!("conn_ids"));
    o.out.push(b'[');
    for (i, id) in c.conn_ids.iter().enumerate() {
        if i > 0 {
            o.out.push(b',');
        }
        o.out
            .extend_from_slice(itoa::Buffer::new().format(*id).as_bytes());
    }
    o.out.push(b']');
    o.u64(k!("requests"), c.requests);
    o.u64(k!("data_messages"), c.data_messages);
    o.u64(k!("empty_responses"), c.empty_responses);
    o.ms(k!("mean_wait_ms"), c.mean_wait_ms);
    o.ms(k!("max_wait_ms"), c.max_wait_ms);
    o.ms(k!("mean_interval_ms"), c.mean_interval_ms);
    o.ts(k!("first_ts"), c.first_ts);
    o.ts(k!("last_ts"), c.last_ts);
    o.opt_u64(k!("overhead_bytes"), c.overhead_bytes);
    o.str(k!("verdict"), &c.verdict);
    o.end();
}

fn error(out: &mut Vec<u8>, e: &ErrorRecord) {
    let mut o = Obj::new(out, "error");
    o.str(k!("file"), &e.file);
    o.u64(k!("offset"), e.offset);
    o.str(k!("message"), &e.message);
    o.end();
}

fn capture_stats(out: &mut Vec<u8>, c: &CaptureStats) {
    let mut o = Obj::new(out, "capture_stats");
    o.str(k!("interface"), &c.interface);
    o.word(k!("socket"), c.socket);
    o.str(k!("link_type"), &c.link_type);
    o.u64(k!("snaplen"), u64::from(c.snaplen));
    o.u64(k!("captured"), c.captured);
    o.u64(k!("received"), c.received);
    o.u64(k!("kernel_drops"), c.kernel_drops);
    o.u64(k!("interface_drops"), c.interface_drops);
    o.key(k!("duration"));
    o.out.extend_from_slice(
        ryu::Buffer::new()
            .format((c.duration * 1e6).round() / 1e6)
            .as_bytes(),
    );
    o.end();
}

fn summary(out: &mut Vec<u8>, s: &Summary) {
    let mut o = Obj::new(out, "summary");
    o.opt_word(k!("format"), s.format.as_deref());
    o.u64(k!("packets"), s.packets);
    o.u64(k!("bytes"), s.bytes);
    o.u64(k!("captured_bytes"), s.captured_bytes);
    o.u64(k!("filtered_out"), s.filtered_out);
    o.u64(k!("truncated"), s.truncated);
    o.u64(k!("decode_errors"), s.decode_errors);
    o.u64(k!("non_ip"), s.non_ip);
    o.u64(k!("other_ip"), s.other_ip);
    o.u64(k!("unsupported_link"), s.unsupported_link);
    o.u64(k!("damaged_records"), s.damaged_records);
    o.opt_u64(k!("first_damaged_offset"), s.first_damaged_offset);
    o.u64(k!("tcp_conns"), s.tcp_conns);
    o.u64(k!("udp_flows"), s.udp_flows);
    o.u64(k!("ip_fragments"), s.ip_fragments);
    o.u64(k!("fragments_reassembled"), s.fragments_reassembled);
    o.u64(k!("fragments_incomplete"), s.fragments_incomplete);
    o.u64(k!("fragment_conflicts"), s.fragment_conflicts);
    o.u64(k!("fragments_invalid"), s.fragments_invalid);
    o.u64(k!("evicted"), s.evicted);
    o.u64(k!("ws_sessions"), s.ws_sessions);
    o.u64(k!("ws_frames"), s.ws_frames);
    o.u64(k!("ws_messages"), s.ws_messages);
    o.u64(k!("ws_violations"), s.ws_violations);
    o.u64(k!("http_txns"), s.http_txns);
    o.u64(k!("sse_events"), s.sse_events);
    o.u64(k!("rt_channels"), s.rt_channels);
    o.u64(k!("reassembly_gaps"), s.reassembly_gaps);
    o.u64(k!("reassembly_dropped_bytes"), s.reassembly_dropped_bytes);
    o.u64(k!("reassembly_conflicts"), s.reassembly_conflicts);
    o.u64(k!("buffers_given_up"), s.buffers_given_up);
    o.u64(k!("buffer_bytes_given_up"), s.buffer_bytes_given_up);
    o.key(k!("link_types"));
    o.out.push(b'{');
    for (i, (name, n)) in s.link_types.iter().enumerate() {
        if i > 0 {
            o.out.push(b',');
        }
        escape_into(o.out, name);
        o.out.push(b':');
        o.out
            .extend_from_slice(itoa::Buffer::new().format(*n).as_bytes());
    }
    o.out.push(b'}');
    o.opt_ts(k!("first_ts"), s.first_ts);
    o.opt_ts(k!("last_ts"), s.last_ts);
    o.bool(k!("complete"), s.complete);
    o.end();
}

/// Appends the record's JSON line (with its newline) to `out`.
pub fn encode(r: &Record, out: &mut Vec<u8>) {
    out.reserve(1024);
    match r {
        Record::Meta(m) => meta(out, m),
        Record::TcpEvent(e) => tcp_event(out, e),
        Record::UdpEvent(e) => udp_event(out, e),
        Record::TcpConn(c) => tcp_conn(out, c),
        Record::UdpFlow(f) => udp_flow(out, f),
        Record::WsUpgrade(u) => ws_upgrade(out, u),
        Record::WsFrame(f) => ws_frame(out, f),
        Record::WsMessage(m) => ws_message(out, m),
        Record::WsViolation(v) => ws_violation(out, v),
        Record::WsSession(w) => ws_session(out, w),
        Record::HttpTxn(t) => http_txn(out, t),
        Record::SseEvent(e) => sse_event(out, e),
        Record::RtChannel(c) => rt_channel(out, c),
        Record::Error(e) => error(out, e),
        Record::CaptureStats(c) => capture_stats(out, c),
        Record::Summary(s) => summary(out, s),
    }
}

/// The record as a `serde_json::Value` (what `check` evaluates against:
/// exactly the JSON users see).
pub fn to_value(r: &Record) -> serde_json::Value {
    let mut buf = Vec::with_capacity(512);
    encode(r, &mut buf);
    serde_json::from_slice(&buf).unwrap_or(serde_json::Value::Null)
}

pub struct JsonLines<W: Write> {
    out: W,
    detail: Detail,
    buf: Vec<u8>,
    error: Option<io::Error>,
}

impl<W: Write> JsonLines<W> {
    pub fn new(out: W, detail: Detail) -> Self {
        JsonLines {
            out,
            detail,
            buf: Vec::with_capacity(64 * 1024),
            error: None,
        }
    }

    pub fn finish(self) -> io::Result<()> {
        self.finish_into().map(|_| ())
    }

    /// Flushes and hands back the writer.
    pub fn finish_into(mut self) -> io::Result<W> {
        self.flush_buf();
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.out.flush()?;
        Ok(self.out)
    }

    fn flush_buf(&mut self) {
        if self.error.is_none() && !self.buf.is_empty() {
            if let Err(e) = self.out.write_all(&self.buf) {
                self.error = Some(e);
            }
        }
        self.buf.clear();
    }

    /// Writes what is buffered now (line-at-a-time output for live capture).
    pub fn flush_now(&mut self) {
        self.flush_buf();
        if self.error.is_none() {
            if let Err(e) = self.out.flush() {
                self.error = Some(e);
            }
        }
    }

    fn wanted(&self, r: &Record) -> bool {
        matches!(
            (self.detail, r),
            (Detail::Full, _)
                | (
                    _,
                    Record::Meta(_)
                        | Record::Error(_)
                        | Record::CaptureStats(_)
                        | Record::Summary(_)
                )
                | (
                    Detail::Summary,
                    Record::TcpConn(_) | Record::UdpFlow(_) | Record::WsSession(_)
                )
        )
    }
}

impl<W: Write> RecordSink for JsonLines<W> {
    fn record(&mut self, r: Record) {
        if self.error.is_some() || !self.wanted(&r) {
            return;
        }
        encode(&r, &mut self.buf);
        if self.buf.len() >= 60 * 1024 {
            self.flush_buf();
        }
    }
}

impl<W: Write> StoppableSink for JsonLines<W> {
    fn stopped(&self) -> bool {
        self.error.is_some()
    }
    fn wants(&self) -> crate::replay::Wants {
        crate::replay::Wants::for_detail(self.detail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Direction, TcpEventKind};

    #[test]
    fn exact_decimals() {
        let d = |v: i64, digits: u32| {
            let mut out = Vec::new();
            match digits {
                9 => decimal::<9>(&mut out, v),
                _ => decimal::<6>(&mut out, v),
            }
            String::from_utf8(out).unwrap()
        };
        assert_eq!(d(1_735_689_600_123_456_000, 9), "1735689600.123456");
        assert_eq!(d(1_735_689_600_000_000_000, 9), "1735689600.0");
        assert_eq!(d(10_127_521_774, 9), "10.127521774");
        assert_eq!(d(150_000, 6), "0.15");
        assert_eq!(d(1_931_982_000, 6), "1931.982");
        assert_eq!(d(5, 6), "0.000005");
        assert_eq!(d(-1_500_000, 6), "-1.5");
        assert_eq!(d(-5, 9), "-0.000000005");
    }

    #[test]
    fn dotted_quads() {
        for ip in ["0.0.0.0", "255.255.255.255", "10.78.3.17", "1.20.100.9"] {
            let mut out = Vec::new();
            ipv4(&mut out, ip.parse::<std::net::Ipv4Addr>().unwrap().octets());
            assert_eq!(String::from_utf8(out).unwrap(), ip);
        }
    }

    #[test]
    fn escapes_like_rfc_8259() {
        let mut out = Vec::new();
        escape_into(&mut out, "a\"b\\c\nd\u{1}é");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\"a\\\"b\\\\c\\nd\\u0001é\""
        );
    }

    #[test]
    fn events_are_valid_json_with_the_schema_fields() {
        let e = TcpEvent {
            ts: Timestamp(1_735_689_600_123_456_000),
            event: TcpEventKind::Established,
            conn_id: 7,
            client_ip: "10.0.0.1".parse().unwrap(),
            client_port: 40000,
            server_ip: "2001:db8::2".parse().unwrap(),
            server_port: 80,
            direction: Direction::Client,
            options: Some(SynInfo {
                mss: Some(1460),
                wscale: None,
                sack_ok: true,
                ts_ok: false,
            }),
            rtt_ms: Some(Nanos(150_000)),
            connect_ms: None,
            syn_to_synack_ms: None,
            synack_to_ack_ms: None,
            count: None,
            bytes: None,
        };
        let v = to_value(&Record::TcpEvent(e));
        assert_eq!(v["type"], "tcp_event");
        assert_eq!(v["ts"], 1_735_689_600.123456);
        assert_eq!(v["event"], "established");
        assert_eq!(v["client_ip"], "10.0.0.1");
        assert_eq!(v["server_ip"], "2001:db8::2");
        assert_eq!(v["rtt_ms"], 0.15);
        assert_eq!(v["options"]["mss"], 1460);
        assert_eq!(v["options"]["wscale"], serde_json::Value::Null);
        assert!(v.get("connect_ms").is_none());
    }
}
