//! The human view: one line per notable event as it happens in the capture,
//! then a TCP connections table, a UDP flows table and the capture-health
//! block (comfy-table). Times are capture times in UTC, as `tcpdump` prints
//! them with `TZ=UTC`; the arrow points from the sender, the client always on
//! the left.

use std::collections::BinaryHeap;
use std::fmt::Write as _;
use std::io::{self, Write};
use std::net::IpAddr;

use comfy_table::{presets, Cell, CellAlignment, ContentArrangement, Table};

use crate::config::{Detail, OutputConfig};
use crate::event::{
    CaptureStats, ConnRef, Direction, ErrorRecord, Record, RecordSink, Summary, SynInfo,
    TcpConnRecord, TcpEvent, TcpEventKind, UdpEvent, UdpFlowRecord, WsFrame, WsMessage, WsSession,
    WsUpgrade, WsViolation,
};
use crate::replay::StoppableSink;
use crate::time::{DateTime, Nanos, TimeOfDay};

/// Keeps the `cap` rows with the lowest connection numbers (the first
/// flows of the capture), counting the others.
struct FirstRows<T> {
    heap: BinaryHeap<ByConnId<T>>,
    cap: usize,
    hidden: u64,
}

struct ByConnId<T>(u64, Box<T>);

impl<T> PartialEq for ByConnId<T> {
    fn eq(&self, o: &Self) -> bool {
        self.0 == o.0
    }
}
impl<T> Eq for ByConnId<T> {}
impl<T> PartialOrd for ByConnId<T> {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl<T> Ord for ByConnId<T> {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.0.cmp(&o.0)
    }
}

impl<T> FirstRows<T> {
    fn new(cap: usize) -> Self {
        FirstRows {
            heap: BinaryHeap::new(),
            cap,
            hidden: 0,
        }
    }

    fn push(&mut self, id: u64, row: Box<T>) {
        if self.cap == 0 {
            self.hidden += 1;
            return;
        }
        self.heap.push(ByConnId(id, row));
        if self.heap.len() > self.cap {
            self.heap.pop();
            self.hidden += 1;
        }
    }

    fn total(&self) -> u64 {
        self.heap.len() as u64 + self.hidden
    }

    fn sorted(&mut self) -> Vec<Box<T>> {
        std::mem::take(&mut self.heap)
            .into_sorted_vec()
            .into_iter()
            .map(|b| b.1)
            .collect()
    }
}

pub struct HumanView<W: Write> {
    out: W,
    cfg: OutputConfig,
    tcp: FirstRows<TcpConnRecord>,
    udp: FirstRows<UdpFlowRecord>,
    ws: FirstRows<WsSession>,
    error: Option<ErrorRecord>,
    capture: Option<Box<CaptureStats>>,
    io_error: Option<io::Error>,
    line: String,
}

pub fn endpoint(ip: &IpAddr, port: u16) -> String {
    match ip {
        IpAddr::V4(v4) => format!("{v4}:{port}"),
        IpAddr::V6(v6) => format!("[{v6}]:{port}"),
    }
}

fn ms(d: Option<Nanos>) -> String {
    match d {
        Some(d) => format!("{:.3}", d.as_millis_f64()),
        None => "-".to_string(),
    }
}

fn options(o: &Option<SynInfo>) -> String {
    let Some(o) = o else { return String::new() };
    let mut parts = Vec::new();
    if let Some(m) = o.mss {
        parts.push(format!("mss {m}"));
    }
    if let Some(w) = o.wscale {
        parts.push(format!("wscale {w}"));
    }
    if o.sack_ok {
        parts.push("sack".to_string());
    }
    if o.ts_ok {
        parts.push("ts".to_string());
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("  [{}]", parts.join(", "))
    }
}

impl<W: Write> HumanView<W> {
    pub fn new(out: W, cfg: OutputConfig) -> Self {
        let rows = cfg.max_rows;
        HumanView {
            out,
            cfg,
            tcp: FirstRows::new(rows),
            udp: FirstRows::new(rows),
            ws: FirstRows::new(rows),
            error: None,
            capture: None,
            io_error: None,
            line: String::with_capacity(256),
        }
    }

    pub fn finish(self) -> io::Result<()> {
        self.finish_into().map(|_| ())
    }

    /// Flushes and hands back the writer.
    pub fn finish_into(mut self) -> io::Result<W> {
        if let Some(e) = self.io_error.take() {
            return Err(e);
        }
        self.out.flush()?;
        Ok(self.out)
    }

    /// Writes out what is buffered (live capture, after a quiet moment).
    pub fn flush_now(&mut self) {
        if self.io_error.is_none() {
            if let Err(e) = self.out.flush() {
                self.io_error = Some(e);
            }
        }
    }

    fn write(&mut self, s: &str) {
        if self.io_error.is_none() {
            if let Err(e) = self.out.write_all(s.as_bytes()) {
                self.io_error = Some(e);
            }
        }
    }

    fn tcp_event(&mut self, e: &TcpEvent) {
        let arrow = match e.direction {
            Direction::Client => "→",
            Direction::Server => "←",
        };
        let what = match e.event {
            TcpEventKind::Syn => format!("SYN{}", options(&e.options)),
            TcpEventKind::SynRetransmit => {
                format!("SYN retransmission #{}", e.count.unwrap_or(0))
            }
            TcpEventKind::Synack => {
                let after = match e.syn_to_synack_ms {
                    Some(d) => format!("  ({} ms after the SYN)", ms(Some(d))),
                    None => String::new(),
                };
                format!("SYN-ACK{}{after}", options(&e.options))
            }
            TcpEventKind::SynackRetransmit => {
                format!("SYN-ACK retransmission #{}", e.count.unwrap_or(0))
            }
            TcpEventKind::SimultaneousOpen => "SYN from both sides: simultaneous open".to_string(),
            TcpEventKind::Established => match e.rtt_ms {
                Some(rtt) => {
                    let mut s = format!(
                        "established  rtt {} ms (server {} + client {})",
                        ms(Some(rtt)),
                        ms(e.syn_to_synack_ms),
                        ms(e.synack_to_ack_ms)
                    );
                    if e.connect_ms != Some(rtt) {
                        let _ = write!(s, ", connect {} ms", ms(e.connect_ms));
                    }
                    s
                }
                None => format!(
                    "established  (client answered in {} ms; SYN not seen)",
                    ms(e.synack_to_ack_ms)
                ),
            },
            TcpEventKind::Refused => "refused (RST)".to_string(),
            TcpEventKind::Reset => format!("reset by {}", side(e.direction)),
            TcpEventKind::Fin => format!("FIN from {}", side(e.direction)),
            TcpEventKind::Closed => "closed".to_string(),
            TcpEventKind::ReassemblyLimit => format!(
                "reassembly limit reached: {} held bytes of the {} stream given up",
                e.bytes.unwrap_or(0),
                side(e.direction)
            ),
            TcpEventKind::BufferLimit => format!(
                "memory budget for all connections' buffers reached: this one, the oldest holder, gave up {} bytes",
                e.bytes.unwrap_or(0)
            ),
            TcpEventKind::OverlapConflict => format!(
                "overlapping segment from {} differs from the first copy (first copy kept)",
                side(e.direction)
            ),
        };
        self.line.clear();
        let _ = writeln!(
            self.line,
            "{}  TCP  {} {arrow} {}  {what}",
            TimeOfDay(e.ts),
            endpoint(&e.client_ip, e.client_port),
            endpoint(&e.server_ip, e.server_port),
        );
        let line = std::mem::take(&mut self.line);
        self.write(&line);
        self.line = line;
    }

    fn udp_event(&mut self, e: &UdpEvent) {
        self.line.clear();
        let service = e.service.map(|s| format!(" ({s})")).unwrap_or_default();
        let _ = writeln!(
            self.line,
            "{}  UDP  {} → {}  new flow{service}",
            TimeOfDay(e.ts),
            endpoint(&e.client_ip, e.client_port),
            endpoint(&e.server_ip, e.server_port),
        );
        let line = std::mem::take(&mut self.line);
        self.write(&line);
        self.line = line;
    }

    /// One WebSocket event line: time, the connection, the arrow from the sender.
    fn ws_line(&mut self, ts: crate::time::Timestamp, c: &ConnRef, dir: Direction, what: &str) {
        let arrow = match dir {
            Direction::Client => "→",
            Direction::Server => "←",
        };
        self.line.clear();
        let _ = writeln!(
            self.line,
            "{}  WS   {} {arrow} {}  {what}",
            TimeOfDay(ts),
            endpoint(&c.client_ip, c.client_port),
            endpoint(&c.server_ip, c.server_port),
        );
        let line = std::mem::take(&mut self.line);
        self.write(&line);
        self.line = line;
    }

    fn ws_upgrade(&mut self, u: &WsUpgrade) {
        let mut what = format!("{} {}", u.method, u.target);
        match u.status {
            Some(101) => {
                let mark = match u.accept_valid {
                    Some(true) => "accept ✓",
                    _ => "accept ✗",
                };
                let _ = write!(what, " → 101 {}  {mark}", u.reason.as_deref().unwrap_or(""));
                let mut agreed = Vec::new();
                if let Some(p) = &u.subprotocol {
                    agreed.push(format!("subprotocol {p}"));
                }
                if let Some(e) = &u.extensions {
                    agreed.push(e.clone());
                }
                if !agreed.is_empty() {
                    let _ = write!(what, "  [{}]", agreed.join("; "));
                }
            }
            Some(code) => {
                let _ = write!(
                    what,
                    " → {code} {}  upgrade failed",
                    u.reason.as_deref().unwrap_or("")
                );
            }
            None => what.push_str(" → no answer seen"),
        }
        self.ws_line(u.ts, &u.conn, Direction::Server, &what);
    }

    fn ws_frame(&mut self, f: &WsFrame) {
        // Data frames are shown as the messages they make.
        let what = match f.opcode_name {
            "close" => match (f.close_code, &f.close_reason) {
                (Some(code), Some(r)) if !r.is_empty() => {
                    format!("close {code} {:?}", shorten(r, 123))
                }
                (Some(code), _) => format!("close {code}"),
                (None, _) => "close (no code)".to_string(),
            },
            "ping" | "pong" => match &f.control_payload {
                Some(p) if !p.is_empty() => format!("{} {p:?}", f.opcode_name),
                _ => f.opcode_name.to_string(),
            },
            _ if f.incomplete => format!(
                "{} frame of {} bytes, not all of it captured",
                f.opcode_name, f.payload_len
            ),
            _ => return,
        };
        self.ws_line(f.ts, &f.conn, f.direction, &what);
    }

    fn ws_message(&mut self, m: &WsMessage) {
        let mut what = format!("{} {} B", m.opcode_name, m.len);
        let mut notes = Vec::new();
        if m.compressed {
            notes.push(format!("deflate {} B", m.wire_len));
        }
        if m.frames > 1 {
            notes.push(format!("{} frames", m.frames));
        }
        if m.incomplete {
            notes.push("incomplete".to_string());
        }
        if !notes.is_empty() {
            let _ = write!(what, " ({})", notes.join(", "));
        }
        if let Some(t) = &m.text {
            let more = if m.text_truncated { "…" } else { "" };
            let _ = write!(what, "  {t:?}{more}");
        }
        self.ws_line(m.ts, &m.conn, m.direction, &what);
    }

    fn ws_violation(&mut self, v: &WsViolation) {
        let what = format!("✗ {}: {}", v.rule, v.detail);
        self.ws_line(v.ts, &v.conn, v.direction, &what);
    }

    fn table(&self) -> Table {
        let mut t = Table::new();
        t.load_style(presets::UTF8_FULL_CONDENSED);
        t.force_no_tty();
        match self.cfg.width {
            Some(w) => {
                t.set_content_arrangement(ContentArrangement::Dynamic);
                t.set_width(w);
            }
            None => {
                t.set_content_arrangement(ContentArrangement::Disabled);
            }
        }
        t
    }

    fn tables(&mut self) {
        let mut text = String::new();
        let (tcp_total, tcp_hidden) = (self.tcp.total(), self.tcp.hidden);
        if tcp_total > 0 {
            let rows = self.tcp.sorted();
            let mut t = self.table();
            t.set_header(vec![
                "#",
                "Client",
                "Server",
                "State",
                "Verdict",
                "History",
                "RTT ms",
                "SYN rtx",
                "Packets c/s",
                "Bytes c/s",
                "Duration s",
            ]);
            for c in &rows {
                t.add_row(vec![
                    Cell::new(c.conn_id),
                    Cell::new(endpoint(&c.client_ip, c.client_port)),
                    Cell::new(endpoint(&c.server_ip, c.server_port)),
                    Cell::new(c.state),
                    Cell::new(c.verdict),
                    Cell::new(c.history),
                    Cell::new(ms(c.rtt_ms)).set_alignment(CellAlignment::Right),
                    Cell::new(c.syn_retransmits).set_alignment(CellAlignment::Right),
                    Cell::new(format!("{}/{}", c.client_packets, c.server_packets))
                        .set_alignment(CellAlignment::Right),
                    Cell::new(format!("{}/{}", c.client_bytes, c.server_bytes))
                        .set_alignment(CellAlignment::Right),
                    Cell::new(format!("{:.3}", c.duration.as_secs_f64()))
                        .set_alignment(CellAlignment::Right),
                ]);
            }
            let _ = writeln!(text, "\nTCP connections ({tcp_total})");
            let _ = writeln!(text, "{t}");
            if tcp_hidden > 0 {
                let _ = writeln!(
                    text,
                    "… and {tcp_hidden} more (raise --max-rows, or use --format json)"
                );
            }
        }
        let (udp_total, udp_hidden) = (self.udp.total(), self.udp.hidden);
        if udp_total > 0 {
            let rows = self.udp.sorted();
            let mut t = self.table();
            t.set_header(vec![
                "#",
                "Client",
                "Server",
                "Service",
                "State",
                "Datagrams c/s",
                "Bytes c/s",
                "Duration s",
            ]);
            for f in &rows {
                t.add_row(vec![
                    Cell::new(f.conn_id),
                    Cell::new(endpoint(&f.client_ip, f.client_port)),
                    Cell::new(endpoint(&f.server_ip, f.server_port)),
                    Cell::new(f.service.unwrap_or("-")),
                    Cell::new(f.state),
                    Cell::new(format!("{}/{}", f.client_packets, f.server_packets))
                        .set_alignment(CellAlignment::Right),
                    Cell::new(format!("{}/{}", f.client_bytes, f.server_bytes))
                        .set_alignment(CellAlignment::Right),
                    Cell::new(format!("{:.3}", f.duration.as_secs_f64()))
                        .set_alignment(CellAlignment::Right),
                ]);
            }
            let _ = writeln!(text, "\nUDP flows ({udp_total})");
            let _ = writeln!(text, "{t}");
            if udp_hidden > 0 {
                let _ = writeln!(
                    text,
                    "… and {udp_hidden} more (raise --max-rows, or use --format json)"
                );
            }
        }
        let (ws_total, ws_hidden) = (self.ws.total(), self.ws.hidden);
        if ws_total > 0 {
            let rows = self.ws.sorted();
            let mut t = self.table();
            t.set_header(vec![
                "#",
                "Client",
                "Server",
                "Path",
                "Status",
                "Subprotocol",
                "Extensions",
                "Frames c/s",
                "Messages c/s",
                "Wire bytes c/s",
                "Message bytes c/s",
                "Close",
                "Violations",
            ]);
            for w in &rows {
                let status = match (w.status, w.accept_valid) {
                    (Some(101), Some(true)) => "101 ✓".to_string(),
                    (Some(101), _) => "101 ✗accept".to_string(),
                    (Some(s), _) => s.to_string(),
                    (None, _) => "-".to_string(),
                };
                let close = match (w.close_code, w.closed_by) {
                    (Some(c), Some(by)) => format!("{c} by {}", side(by)),
                    (None, Some(by)) => format!("by {}", side(by)),
                    _ => "-".to_string(),
                };
                let num = |c: u64, s: u64| {
                    Cell::new(format!("{c}/{s}")).set_alignment(CellAlignment::Right)
                };
                t.add_row(vec![
                    Cell::new(w.conn.conn_id),
                    Cell::new(endpoint(&w.conn.client_ip, w.conn.client_port)),
                    Cell::new(endpoint(&w.conn.server_ip, w.conn.server_port)),
                    Cell::new(&w.target),
                    Cell::new(status),
                    Cell::new(w.subprotocol.as_deref().unwrap_or("-")),
                    Cell::new(w.extensions.as_deref().unwrap_or("-")),
                    num(w.client.frames, w.server.frames),
                    num(w.client.messages, w.server.messages),
                    num(w.client.wire_bytes, w.server.wire_bytes),
                    num(w.client.message_bytes, w.server.message_bytes),
                    Cell::new(close),
                    Cell::new(w.violations).set_alignment(CellAlignment::Right),
                ]);
            }
            let _ = writeln!(text, "\nWebSocket sessions ({ws_total})");
            let _ = writeln!(text, "{t}");
            if ws_hidden > 0 {
                let _ = writeln!(
                    text,
                    "… and {ws_hidden} more (raise --max-rows, or use --format json)"
                );
            }
        }
        self.write(&text);
    }

    fn health(&mut self, s: &Summary) {
        let mut t = self.table();
        let mut row = |k: &str, v: String| {
            t.add_row(vec![Cell::new(k), Cell::new(v)]);
        };
        if let Some(f) = &s.format {
            row("format", f.clone());
        }
        if let Some(c) = &self.capture {
            row(
                "capture",
                format!(
                    "{} ({} socket, {}, snaplen {}), {:.1} s",
                    c.interface, c.socket, c.link_type, c.snaplen, c.duration
                ),
            );
            row(
                "kernel",
                format!(
                    "{} received, {} dropped by the kernel, {} by the interface; {} read",
                    c.received, c.kernel_drops, c.interface_drops, c.captured
                ),
            );
        }
        let filtered = if s.filtered_out > 0 {
            format!(", {} filtered out", s.filtered_out)
        } else {
            String::new()
        };
        row(
            "packets",
            format!(
                "{} ({} bytes on the wire, {} captured){filtered}",
                s.packets, s.bytes, s.captured_bytes
            ),
        );
        if let (Some(a), Some(b)) = (s.first_ts, s.last_ts) {
            row(
                "time span",
                format!(
                    "{} → {} ({:.6} s)",
                    DateTime(a),
                    DateTime(b),
                    b.since(a).as_secs_f64()
                ),
            );
        }
        let links: Vec<String> = s
            .link_types
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        row(
            "link types",
            if links.is_empty() {
                "-".into()
            } else {
                links.join(", ")
            },
        );
        row("TCP connections", s.tcp_conns.to_string());
        row("UDP flows", s.udp_flows.to_string());
        row("truncated (snaplen)", s.truncated.to_string());
        row("decode errors", s.decode_errors.to_string());
        row(
            "damaged records",
            match s.first_damaged_offset {
                Some(at) => format!(
                    "{} skipped (impossible original length), the first at byte offset {at}",
                    s.damaged_records
                ),
                None => s.damaged_records.to_string(),
            },
        );
        row(
            "not decoded",
            format!(
                "{} non-IP, {} other IP protocols, {} unsupported link type",
                s.non_ip, s.other_ip, s.unsupported_link
            ),
        );
        row(
            "IP fragments",
            format!(
                "{} seen, {} datagrams reassembled, {} incomplete, {} conflicting overlaps, {} invalid (past 65535 bytes)",
                s.ip_fragments,
                s.fragments_reassembled,
                s.fragments_incomplete,
                s.fragment_conflicts,
                s.fragments_invalid
            ),
        );
        row("flows evicted (table full)", s.evicted.to_string());
        if s.ws_sessions > 0
            || s.reassembly_gaps > 0
            || s.reassembly_dropped_bytes > 0
            || s.reassembly_conflicts > 0
            || s.buffers_given_up > 0
        {
            row(
                "WebSocket",
                format!(
                    "{} sessions, {} frames, {} messages, {} violations",
                    s.ws_sessions, s.ws_frames, s.ws_messages, s.ws_violations
                ),
            );
            row(
                "stream reassembly",
                format!(
                    "{} gaps, {} held bytes given up (limits), {} conflicting overlaps",
                    s.reassembly_gaps, s.reassembly_dropped_bytes, s.reassembly_conflicts
                ),
            );
            row(
                "stream buffers",
                format!(
                    "{} given up to the memory budget ({} bytes)",
                    s.buffers_given_up, s.buffer_bytes_given_up
                ),
            );
        }
        if let Some(e) = &self.error {
            row(
                "read error",
                format!(
                    "{}: stopped at byte offset {}: {}",
                    e.file, e.offset, e.message
                ),
            );
        }
        let text = format!("\nCapture health\n{t}\n");
        self.write(&text);
    }
}

/// At most `chars` characters of `s`, with an ellipsis when cut.
fn shorten(s: &str, chars: usize) -> String {
    match s.char_indices().nth(chars) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

fn side(d: Direction) -> &'static str {
    match d {
        Direction::Client => "client",
        Direction::Server => "server",
    }
}

impl<W: Write> RecordSink for HumanView<W> {
    fn record(&mut self, r: Record) {
        let events = self.cfg.detail == Detail::Full;
        let tables = self.cfg.detail != Detail::Quiet;
        match r {
            Record::Meta(_) => {}
            Record::TcpEvent(e) if events => self.tcp_event(&e),
            Record::UdpEvent(e) if events => self.udp_event(&e),
            Record::TcpEvent(_) | Record::UdpEvent(_) => {}
            Record::TcpConn(c) if tables => self.tcp.push(c.conn_id, c),
            Record::UdpFlow(f) if tables => self.udp.push(f.conn_id, f),
            Record::TcpConn(_) | Record::UdpFlow(_) => {}
            Record::WsUpgrade(u) if events => self.ws_upgrade(&u),
            Record::WsFrame(f) if events => self.ws_frame(&f),
            Record::WsMessage(m) if events => self.ws_message(&m),
            Record::WsViolation(v) if events => self.ws_violation(&v),
            Record::WsUpgrade(_)
            | Record::WsFrame(_)
            | Record::WsMessage(_)
            | Record::WsViolation(_) => {}
            Record::WsSession(w) if tables => self.ws.push(w.conn.conn_id, w),
            Record::WsSession(_) => {}
            Record::Error(e) => self.error = Some(e),
            Record::CaptureStats(c) => self.capture = Some(c),
            Record::Summary(s) => {
                if tables {
                    self.tables();
                }
                self.health(&s);
            }
        }
    }
}

impl<W: Write> StoppableSink for HumanView<W> {
    fn stopped(&self) -> bool {
        self.io_error.is_some()
    }
    fn wants(&self) -> crate::replay::Wants {
        crate::replay::Wants::for_detail(self.cfg.detail)
    }
}
