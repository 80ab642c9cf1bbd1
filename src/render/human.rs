//! The human view: one line per notable event as it happens in the capture,
//! then a TCP connections table, a UDP flows table and the capture-health
//! block (comfy-table). Times are capture times in UTC, as `tcpdump` prints
//! them with `TZ=UTC`; the arrow points from the sender, the client always on
//! the left.

use std::collections::BinaryHeap;
use std::fmt::Write as _;
use std::io::{self, Write};
use std::net::IpAddr;

use crate::config::{Detail, OutputConfig};
use crate::event::{
    CaptureStats, ConnRef, Direction, ErrorRecord, HttpTxn, Record, RecordSink, RtChannel,
    SseEvent, Summary, SynInfo, TcpConnRecord, TcpEvent, TcpEventKind, UdpEvent, UdpFlowRecord,
    WsFrame, WsMessage, WsSession, WsUpgrade, WsViolation,
};
use crate::render::layout::{self, Column, Fit, Styled};
use crate::render::Tone;
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
    http: FirstRows<HttpTxn>,
    /// Exchanges seen (the HTTP table keeps the first ones).
    http_seen: u64,
    channels: FirstRows<RtChannel>,
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

/// Whole milliseconds, for event lines.
fn millis(d: Nanos) -> String {
    format!("{:.0}", d.as_millis_f64())
}

fn options(o: &Option<SynInfo>) -> String {
    let Some(o) = o else { return String::new() };
    let mut parts = Vec::new();
    if let Some(m) = o.mss {
        parts.push(format!("mss\u{a0}{m}"));
    }
    if let Some(w) = o.wscale {
        parts.push(format!("wscale\u{a0}{w}"));
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
            http: FirstRows::new(rows),
            http_seen: 0,
            channels: FirstRows::new(rows),
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
        let tone = match e.event {
            TcpEventKind::Refused | TcpEventKind::Reset => Some(Tone::Bad),
            TcpEventKind::SynRetransmit
            | TcpEventKind::SynackRetransmit
            | TcpEventKind::ReassemblyLimit
            | TcpEventKind::OverlapConflict => Some(Tone::Warn),
            _ => None,
        };
        let what = self.cfg.style.paint(&what, tone);
        self.line.clear();
        let _ = write!(
            self.line,
            "{}  TCP  #{}  {} {arrow} {}  {what}",
            TimeOfDay(e.ts),
            e.conn_id,
            endpoint(&e.client_ip, e.client_port),
            endpoint(&e.server_ip, e.server_port),
        );
        self.emit_line();
    }

    /// Writes the event line in `self.line`, fitted to the width: what does
    /// not fit goes on lines indented under the time, never splitting an
    /// address.
    fn emit_line(&mut self) {
        let line = std::mem::take(&mut self.line);
        let mut fitted = match self.width() {
            Some(w) => layout::fit_line(
                &layout::glue_units(&self.cfg.style.glyphs(&line)),
                Some(w),
                EVENT_INDENT,
            ),
            None => self.cfg.style.glyphs(&line).replace('\u{a0}', " "),
        };
        fitted.push('\n');
        self.write(&fitted);
        self.line = line;
    }

    fn udp_event(&mut self, e: &UdpEvent) {
        self.line.clear();
        let service = e.service.map(|s| format!(" ({s})")).unwrap_or_default();
        let _ = write!(
            self.line,
            "{}  UDP  #{}  {} → {}  new flow{service}",
            TimeOfDay(e.ts),
            e.conn_id,
            endpoint(&e.client_ip, e.client_port),
            endpoint(&e.server_ip, e.server_port),
        );
        self.emit_line();
    }

    /// One WebSocket event line: time, the connection, the arrow from the sender.
    fn ws_line(&mut self, ts: crate::time::Timestamp, c: &ConnRef, dir: Direction, what: &str) {
        self.ws_line_toned(ts, c, dir, what, None);
    }

    fn ws_line_toned(
        &mut self,
        ts: crate::time::Timestamp,
        c: &ConnRef,
        dir: Direction,
        what: &str,
        tone: Option<Tone>,
    ) {
        self.conn_line("WS  ", ts, c, dir, what, tone);
    }

    fn ws_upgrade(&mut self, u: &WsUpgrade) {
        let mut what = format!("{} {}", u.method, u.target);
        let tone = match (u.status, u.accept_valid) {
            (Some(101), Some(true)) => None,
            (None, _) => Some(Tone::Warn),
            _ => Some(Tone::Bad),
        };
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
        self.ws_line_toned(u.ts, &u.conn, Direction::Server, &what, tone);
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

    /// An event line of a connection (WebSocket, HTTP, SSE): time, kind,
    /// the connection, the arrow from the sender.
    fn conn_line(
        &mut self,
        kind: &str,
        ts: crate::time::Timestamp,
        c: &ConnRef,
        dir: Direction,
        what: &str,
        tone: Option<Tone>,
    ) {
        let arrow = match dir {
            Direction::Client => "→",
            Direction::Server => "←",
        };
        let what = self.cfg.style.paint(what, tone);
        self.line.clear();
        let _ = write!(
            self.line,
            "{}  {kind} #{}  {} {arrow} {}  {what}",
            TimeOfDay(ts),
            c.conn_id,
            endpoint(&c.client_ip, c.client_port),
            endpoint(&c.server_ip, c.server_port),
        );
        self.emit_line();
    }

    fn http_txn(&mut self, t: &HttpTxn) {
        // The WebSocket upgrade has its own line.
        if t.upgrade && t.status == Some(101) {
            return;
        }
        let mut what = format!("{} {}", t.method, shorten(&t.target, 80));
        let tone = match t.status {
            Some(s) if s >= 500 => Some(Tone::Bad),
            Some(s) if s >= 400 => Some(Tone::Warn),
            None => Some(Tone::Warn),
            _ => None,
        };
        match t.status {
            Some(s) => {
                let _ = write!(what, " → {s}");
            }
            None => what.push_str(" → no answer seen"),
        }
        let mut notes = Vec::new();
        if let Some(w) = t.wait_ms {
            notes.push(format!("wait {} ms", millis(w)));
        }
        let sse = t
            .content_type
            .as_deref()
            .is_some_and(|c| c.to_ascii_lowercase().starts_with("text/event-stream"));
        if sse {
            notes.push(format!("{} events", t.resp_pieces));
        } else if t
            .transfer_encoding
            .as_deref()
            .is_some_and(|e| e.to_ascii_lowercase().contains("chunked"))
        {
            notes.push(format!(
                "{} chunk{}",
                t.resp_pieces,
                if t.resp_pieces == 1 { "" } else { "s" }
            ));
        }
        if t.resp_body_len > 0 {
            notes.push(format!("{} B", t.resp_body_len));
        }
        if t.transfer_ms.is_some_and(|d| d.0 >= 1_000_000_000) {
            notes.push(format!(
                "over {} ms",
                millis(t.transfer_ms.unwrap_or_default())
            ));
        }
        if !t.complete {
            notes.push("incomplete".to_string());
        }
        if !notes.is_empty() {
            let _ = write!(what, " ({})", notes.join(", "));
        }
        self.conn_line("HTTP", t.ts, &t.conn, Direction::Client, &what, tone);
    }

    fn sse_event(&mut self, e: &SseEvent) {
        let mut what = String::new();
        if !e.dispatched {
            match &e.comment {
                Some(c) => {
                    let _ = write!(what, ": {c:?}");
                }
                None => what.push_str("(no data)"),
            }
            if let Some(id) = &e.id {
                let _ = write!(what, " id {id}");
            }
        } else {
            let _ = write!(what, "{}", e.event.as_deref().unwrap_or("message"));
            if let Some(id) = &e.id {
                let _ = write!(what, " id {id}");
            }
            let _ = write!(what, " {} B", e.data_len);
            if let Some(d) = &e.data {
                let cut = shorten(d, 80);
                let more = if e.data_truncated && !cut.ends_with('…') {
                    "…"
                } else {
                    ""
                };
                let _ = write!(what, "  {cut:?}{more}");
            }
        }
        if let Some(r) = e.retry {
            let _ = write!(what, " (retry {r} ms)");
        }
        self.conn_line("SSE ", e.ts, &e.conn, Direction::Server, &what, None);
    }

    fn ws_violation(&mut self, v: &WsViolation) {
        let what = format!("✗ {}: {}", v.rule, v.detail);
        self.ws_line_toned(v.ts, &v.conn, v.direction, &what, Some(Tone::Bad));
    }

    /// The width tables and event lines are fitted to.
    fn width(&self) -> Option<usize> {
        self.cfg.width.map(usize::from)
    }

    /// A table fitted to the width, with the note on what was left out.
    fn table(
        &self,
        title: String,
        columns: &[Column],
        rows: &[Vec<Styled>],
        hidden: u64,
    ) -> String {
        let drawn = layout::boxed(columns, rows, self.width(), self.cfg.style);
        let mut text = format!("\n{title}\n{}\n", drawn.text);
        if hidden > 0 {
            self.note(
                &mut text,
                &format!("… and {hidden} more (raise --max-rows, or use --format json)"),
            );
        }
        if let Some(note) = layout::left_out_note(&drawn.left_out, self.width()) {
            self.note(&mut text, &note);
        }
        text
    }

    /// A line of prose under a table, wrapped to the width.
    fn note(&self, text: &mut String, line: &str) {
        let line = self.cfg.style.glyphs(line);
        match self.width() {
            Some(w) => text.push_str(&layout::wrap(&line, w)),
            None => text.push_str(&line),
        }
        text.push('\n');
    }

    fn tables(&mut self) {
        let mut text = String::new();
        let (tcp_total, tcp_hidden) = (self.tcp.total(), self.tcp.hidden);
        let num = |x: String| Styled::new(x);
        if tcp_total > 0 {
            let rows: Vec<Vec<Styled>> = self
                .tcp
                .sorted()
                .iter()
                .map(|c| {
                    let tone = Tone::of_conn_state(c.state);
                    vec![
                        num(c.conn_id.to_string()),
                        endpoint(&c.client_ip, c.client_port).into(),
                        endpoint(&c.server_ip, c.server_port).into(),
                        Styled::new(c.state).tone(tone),
                        Styled::new(c.verdict.to_string()).tone(tone),
                        c.history.to_string().into(),
                        num(ms(c.rtt_ms)),
                        num(c.syn_retransmits.to_string()),
                        num(format!("{}/{}", c.client_packets, c.server_packets)),
                        num(format!("{}/{}", c.client_bytes, c.server_bytes)),
                        num(format!("{:.3}", c.duration.as_secs_f64())),
                    ]
                })
                .collect();
            text.push_str(&self.table(
                format!("TCP connections ({tcp_total})"),
                &TCP_COLUMNS,
                &rows,
                tcp_hidden,
            ));
        }
        let (udp_total, udp_hidden) = (self.udp.total(), self.udp.hidden);
        if udp_total > 0 {
            let rows: Vec<Vec<Styled>> = self
                .udp
                .sorted()
                .iter()
                .map(|f| {
                    vec![
                        num(f.conn_id.to_string()),
                        endpoint(&f.client_ip, f.client_port).into(),
                        endpoint(&f.server_ip, f.server_port).into(),
                        f.service.unwrap_or("-").into(),
                        Styled::new(f.state).tone(Tone::of_conn_state(f.state)),
                        num(format!("{}/{}", f.client_packets, f.server_packets)),
                        num(format!("{}/{}", f.client_bytes, f.server_bytes)),
                        num(format!("{:.3}", f.duration.as_secs_f64())),
                    ]
                })
                .collect();
            text.push_str(&self.table(
                format!("UDP flows ({udp_total})"),
                &UDP_COLUMNS,
                &rows,
                udp_hidden,
            ));
        }
        let (ws_total, ws_hidden) = (self.ws.total(), self.ws.hidden);
        if ws_total > 0 {
            let rows: Vec<Vec<Styled>> = self
                .ws
                .sorted()
                .iter()
                .map(|w| {
                    let status = match (w.status, w.accept_valid) {
                        (Some(101), Some(true)) => Styled::new("101 ✓"),
                        (Some(101), _) => Styled::new("101 ✗accept").tone(Some(Tone::Bad)),
                        (Some(s), _) => Styled::new(s.to_string()).tone(Some(Tone::Bad)),
                        (None, _) => Styled::new("-").tone(Some(Tone::Warn)),
                    };
                    let close = match (w.close_code, w.closed_by) {
                        (Some(c), Some(by)) => format!("{c} by {}", side(by)),
                        (None, Some(by)) => format!("by {}", side(by)),
                        _ => "-".to_string(),
                    };
                    let pair = |c: u64, s: u64| num(format!("{c}/{s}"));
                    vec![
                        num(w.conn.conn_id.to_string()),
                        endpoint(&w.conn.client_ip, w.conn.client_port).into(),
                        endpoint(&w.conn.server_ip, w.conn.server_port).into(),
                        w.target.as_str().into(),
                        status,
                        w.subprotocol.as_deref().unwrap_or("-").into(),
                        w.extensions.as_deref().unwrap_or("-").into(),
                        pair(w.client.frames, w.server.frames),
                        pair(w.client.messages, w.server.messages),
                        pair(w.client.wire_bytes, w.server.wire_bytes),
                        pair(w.client.message_bytes, w.server.message_bytes),
                        close.into(),
                        num(w.violations.to_string()).tone((w.violations > 0).then_some(Tone::Bad)),
                    ]
                })
                .collect();
            text.push_str(&self.table(
                format!("WebSocket sessions ({ws_total})"),
                &WS_COLUMNS,
                &rows,
                ws_hidden,
            ));
        }
        let (http_total, http_hidden) = (self.http.total(), self.http.hidden);
        if http_total > 0 {
            let rows: Vec<Vec<Styled>> = self
                .http
                .sorted()
                .iter()
                .map(|t| {
                    let status = match t.status {
                        Some(s) => Styled::new(s.to_string()).tone(match s {
                            500.. => Some(Tone::Bad),
                            400.. => Some(Tone::Warn),
                            _ => None,
                        }),
                        None => Styled::new("-").tone(Some(Tone::Warn)),
                    };
                    vec![
                        num(t.conn.conn_id.to_string()),
                        endpoint(&t.conn.client_ip, t.conn.client_port).into(),
                        endpoint(&t.conn.server_ip, t.conn.server_port).into(),
                        t.method.as_str().into(),
                        shorten(&t.target, 60).into(),
                        status,
                        num(ms(t.wait_ms)),
                        num(ms(t.transfer_ms)),
                        num(format!("{}/{}", t.req_body_len, t.resp_body_len)),
                        num(t.resp_pieces.to_string()),
                        num(t.channel_id.to_string()),
                    ]
                })
                .collect();
            text.push_str(&self.table(
                format!("HTTP exchanges ({})", self.http_seen),
                &HTTP_COLUMNS,
                &rows,
                http_hidden,
            ));
        }
        let (ch_total, ch_hidden) = (self.channels.total(), self.channels.hidden);
        if ch_total > 0 {
            let rows: Vec<Vec<Styled>> = self
                .channels
                .sorted()
                .iter()
                .map(|c| {
                    vec![
                        num(c.channel_id.to_string()),
                        c.technique.into(),
                        endpoint(&c.client_ip, 0)
                            .trim_end_matches(":0")
                            .to_string()
                            .into(),
                        endpoint(&c.server_ip, c.server_port).into(),
                        shorten(&c.path, 40).into(),
                        num(c.requests.to_string()),
                        num(c.data_messages.to_string()),
                        num(ms(c.mean_wait_ms)),
                        num(ms(c.max_wait_ms)),
                        num(c.overhead_bytes.map_or("-".into(), |b| b.to_string())),
                        Styled::new(c.verdict.clone()),
                    ]
                })
                .collect();
            text.push_str(&self.table(
                format!("Real-time channels ({ch_total})"),
                &CHANNEL_COLUMNS,
                &rows,
                ch_hidden,
            ));
        }
        if !text.is_empty() {
            self.note(&mut text, LEGEND);
        }
        self.write(&text);
    }

    fn health(&mut self, s: &Summary) {
        let mut rows: Vec<Vec<Styled>> = Vec::new();
        // Lists of counts break after their commas only: "0 incomplete"
        // stays on one line.
        let mut row = |k: &str, v: String, tone: Option<Tone>| {
            let counts = !k.ends_with(" error") && v.contains(", ");
            let v = if counts {
                v.split(", ")
                    .map(|item| item.replace(' ', "\u{a0}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            } else {
                v
            };
            rows.push(vec![k.into(), Styled::new(v).tone(tone)]);
        };
        if let Some(f) = &s.format {
            row("format", f.clone(), None);
        }
        if let Some(c) = &self.capture {
            row(
                "capture",
                format!(
                    "{} ({} socket, {}, snaplen {}), {:.1} s",
                    c.interface, c.socket, c.link_type, c.snaplen, c.duration
                ),
                None,
            );
            row(
                "kernel",
                format!(
                    "{} received, {} dropped by the kernel, {} by the interface; {} read",
                    c.received, c.kernel_drops, c.interface_drops, c.captured
                ),
                (c.kernel_drops + c.interface_drops > 0).then_some(Tone::Bad),
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
            None,
        );
        if let (Some(a), Some(b)) = (s.first_ts, s.last_ts) {
            row(
                "time span",
                format!(
                    "{} → {} ({:.6}\u{a0}s)",
                    unbroken(&DateTime(a).to_string()),
                    unbroken(&DateTime(b).to_string()),
                    b.since(a).as_secs_f64()
                ),
                None,
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
            None,
        );
        let bad = |n: u64| (n > 0).then_some(Tone::Bad);
        let warn = |n: u64| (n > 0).then_some(Tone::Warn);
        row("TCP connections", s.tcp_conns.to_string(), None);
        row("UDP flows", s.udp_flows.to_string(), None);
        row(
            "truncated (snaplen)",
            s.truncated.to_string(),
            warn(s.truncated),
        );
        row(
            "decode errors",
            s.decode_errors.to_string(),
            bad(s.decode_errors),
        );
        row(
            "damaged records",
            match s.first_damaged_offset {
                Some(at) => format!(
                    "{} skipped (impossible original length), the first at byte offset {at}",
                    s.damaged_records
                ),
                None => s.damaged_records.to_string(),
            },
            bad(s.damaged_records),
        );
        row(
            "not decoded",
            format!(
                "{} non-IP, {} other IP protocols, {} unsupported link type",
                s.non_ip, s.other_ip, s.unsupported_link
            ),
            None,
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
            warn(s.fragments_incomplete + s.fragment_conflicts + s.fragments_invalid),
        );
        row(
            "flows evicted (table full)",
            s.evicted.to_string(),
            warn(s.evicted),
        );
        if s.http_txns > 0 || s.rt_channels > 0 {
            row(
                "HTTP",
                format!(
                    "{} exchanges, {} server-sent events, {} real-time channels",
                    s.http_txns, s.sse_events, s.rt_channels
                ),
                None,
            );
        }
        if s.ws_sessions > 0
            || s.http_txns > 0
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
                bad(s.ws_violations),
            );
            row(
                "stream reassembly",
                format!(
                    "{} gaps, {} held bytes given up (limits), {} conflicting overlaps",
                    s.reassembly_gaps, s.reassembly_dropped_bytes, s.reassembly_conflicts
                ),
                warn(s.reassembly_gaps + s.reassembly_dropped_bytes + s.reassembly_conflicts),
            );
            row(
                "stream buffers",
                format!(
                    "{} given up to the memory budget ({} bytes)",
                    s.buffers_given_up, s.buffer_bytes_given_up
                ),
                warn(s.buffers_given_up),
            );
        }
        if let Some(e) = &self.error {
            // A live capture's error counts packets, not bytes of a file.
            let (key, text) = if self.capture.is_some() {
                (
                    "capture error",
                    format!("on {}, after {} packets: {}", e.file, e.offset, e.message),
                )
            } else {
                (
                    "read error",
                    format!(
                        "{}: stopped at byte offset {}: {}",
                        e.file, e.offset, e.message
                    ),
                )
            };
            row(key, text, Some(Tone::Bad));
        }
        let drawn = layout::boxed(&HEALTH_COLUMNS, &rows, self.width(), self.cfg.style);
        let text = format!("\nCapture health\n{}\n", drawn.text);
        self.write(&text);
    }
}

/// Spaces made no-break spaces, so that a date and its time stay on one line.
fn unbroken(s: &str) -> String {
    s.replace(' ', "\u{a0}")
}

/// Continuation lines of an event start under the text after the time.
const EVENT_INDENT: usize = "00:00:00.000000  ".len();

/// Under the tables: what the abbreviations in their headers mean.
const LEGEND: &str = "c/s = client/server (the client's count first); rtx = retransmissions";

const TCP_COLUMNS: [Column; 11] = [
    Column::optional("#", Fit::Atom, 20).right(),
    Column::kept("Client", Fit::Atom),
    Column::kept("Server", Fit::Atom),
    Column::kept("State", Fit::Atom),
    Column::kept("Verdict", Fit::Text),
    Column::optional("History", Fit::Atom, 5),
    Column::optional("RTT ms", Fit::Atom, 6).right(),
    Column::optional("SYN rtx", Fit::Atom, 1)
        .right()
        .short("rtx"),
    Column::optional("Packets c/s", Fit::Atom, 3)
        .right()
        .short("Pkts c/s"),
    Column::optional("Bytes c/s", Fit::Atom, 4).right(),
    Column::optional("Duration s", Fit::Atom, 2)
        .right()
        .short("Dur s"),
];

const UDP_COLUMNS: [Column; 8] = [
    Column::optional("#", Fit::Atom, 20).right(),
    Column::kept("Client", Fit::Atom),
    Column::kept("Server", Fit::Atom),
    Column::optional("Service", Fit::Atom, 3),
    Column::kept("State", Fit::Atom),
    Column::optional("Datagrams c/s", Fit::Atom, 2)
        .right()
        .short("Dgrams c/s"),
    Column::optional("Bytes c/s", Fit::Atom, 4).right(),
    Column::optional("Duration s", Fit::Atom, 1)
        .right()
        .short("Dur s"),
];

const WS_COLUMNS: [Column; 13] = [
    Column::optional("#", Fit::Atom, 20).right(),
    Column::kept("Client", Fit::Atom),
    Column::kept("Server", Fit::Atom),
    Column::optional("Path", Fit::Atom, 8),
    Column::kept("Status", Fit::Atom),
    Column::optional("Subprotocol", Fit::Atom, 3).short("Subproto"),
    Column::optional("Extensions", Fit::Text, 1).short("Ext"),
    Column::optional("Frames c/s", Fit::Atom, 2).right(),
    Column::optional("Messages c/s", Fit::Atom, 7)
        .right()
        .short("Msgs c/s"),
    Column::optional("Wire bytes c/s", Fit::Atom, 4)
        .right()
        .short("Wire B c/s"),
    Column::optional("Message bytes c/s", Fit::Atom, 5)
        .right()
        .short("Msg B c/s"),
    Column::optional("Close", Fit::Text, 6),
    Column::kept("Violations", Fit::Atom).right().short("Viol"),
];

const HTTP_COLUMNS: [Column; 11] = [
    Column::optional("#", Fit::Atom, 20).right(),
    Column::optional("Client", Fit::Atom, 9),
    Column::kept("Server", Fit::Atom),
    Column::kept("Method", Fit::Atom),
    Column::kept("Target", Fit::Cut),
    Column::kept("Status", Fit::Atom),
    Column::optional("Wait ms", Fit::Atom, 10).right(),
    Column::optional("Transfer ms", Fit::Atom, 6)
        .right()
        .short("Xfer ms"),
    Column::optional("Body bytes c/s", Fit::Atom, 5)
        .right()
        .short("Body c/s"),
    Column::optional("Pieces", Fit::Atom, 4).right(),
    Column::optional("Channel", Fit::Atom, 3)
        .right()
        .short("Ch"),
];

const CHANNEL_COLUMNS: [Column; 11] = [
    Column::optional("Channel", Fit::Atom, 9)
        .right()
        .short("Ch"),
    Column::kept("Technique", Fit::Atom),
    Column::optional("Client", Fit::Atom, 8),
    Column::kept("Server", Fit::Atom),
    Column::optional("Path", Fit::Text, 7),
    Column::optional("Requests", Fit::Atom, 6)
        .right()
        .short("Reqs"),
    Column::optional("Messages", Fit::Atom, 6)
        .right()
        .short("Msgs"),
    Column::optional("Mean wait ms", Fit::Atom, 5)
        .right()
        .short("Wait ms"),
    Column::optional("Max wait ms", Fit::Atom, 3)
        .right()
        .short("Max ms"),
    Column::optional("Overhead B/msg", Fit::Atom, 2)
        .right()
        .short("B/msg"),
    Column::kept("Verdict", Fit::Text),
];

const HEALTH_COLUMNS: [Column; 2] = [Column::kept("", Fit::Text), Column::kept("", Fit::Text)];

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
            Record::HttpTxn(t) => {
                if events {
                    self.http_txn(&t);
                }
                if tables {
                    self.http_seen += 1;
                    self.http.push(self.http_seen, t);
                }
            }
            Record::SseEvent(e) if events => self.sse_event(&e),
            Record::SseEvent(_) => {}
            Record::RtChannel(c) if tables => self.channels.push(c.channel_id, c),
            Record::RtChannel(_) => {}
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
