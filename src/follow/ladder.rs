//! `--ladder`: each selected connection drawn as a sequence diagram, the
//! picture every TCP explanation uses: client on the left, server on the
//! right, one arrow per packet in capture order with its time since the
//! connection's first packet (and since the packet before), flags, sequence
//! and acknowledgement numbers relative to each side's first one, window,
//! payload length, the SYN options — and under it what sockscope knows:
//! the events of the records (`tcp_event`: SYN retransmissions, the
//! handshake RTT split at the SYN-ACK, refusal, reset, close), the
//! WebSocket upgrade, frames, messages and violations, and what the packets
//! themselves show (retransmitted data, out-of-order data, a gap where
//! packets are missing, duplicate ACKs, a zero window, who sent a RST).
//! Numbers from the records are written as the JSON encoder writes them
//! (exact decimals of the integer nanoseconds), so the ladder and `-F json`
//! always agree. Runs of plain data packets are summed up in one line
//! unless `--all-packets`.
//!
//! [`steps`] builds the model; [`render`] draws it as text, and the HTML
//! report draws the same steps as SVG.

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

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::event::{Direction, Record, TcpEventKind};
use crate::render::Tone;
use crate::time::Nanos;

/// A note under an arrow.
#[derive(Clone, Debug, PartialEq)]
pub struct Note {
    pub text: String,
    pub tone: Option<Tone>,
}

/// One line of the ladder.
#[derive(Clone, Debug)]
pub enum Step {
    Packet {
        /// Since the connection's first packet, and since the one before.
        at: Nanos,
        delta: Option<Nanos>,
        from_client: bool,
        /// Flags, relative seq/ack, window, length.
        label: String,
        notes: Vec<Note>,
        /// Something went wrong here (RST, retransmission…): colour.
        tone: Option<Tone>,
    },
    /// Plain data packets summed up.
    Elided {
        packets: u64,
        client: u64,
        server: u64,
        bytes: u64,
        span: Nanos,
    },
}

/// One connection's ladder.
#[derive(Clone, Debug)]
pub struct Ladder {
    pub conn_id: u64,
    pub title: String,
    pub client: String,
    pub server: String,
    /// Notes that belong to no packet (events whose packet was not kept).
    pub notes: Vec<Note>,
    pub steps: Vec<Step>,
    /// Time digits after the point: 6, or 9 when a time needs them.
    pub digits: u32,
}

/// Runs of plain packets longer than this are summed up.
const ELIDE_RUN: usize = 8;
/// Packets shown at each end of a summed-up run.
const ELIDE_KEEP: usize = 2;

/// `ns / 10^digits` exactly as the JSON encoder writes it.
pub fn exact(ns: i64, digits: u32) -> String {
    let mut v = Vec::new();
    crate::render::json::exact_decimal(&mut v, ns, digits);
    String::from_utf8(v).unwrap_or_default()
}

/// Milliseconds as `-F json` writes them.
fn ms(d: Option<Nanos>) -> String {
    d.map_or_else(|| "-".into(), |d| exact(d.0, 6))
}

/// A time since the start with a fixed number of digits.
fn fixed(ns: i64, digits: u32) -> String {
    let sign = if ns < 0 { "-" } else { "" };
    let a = ns.unsigned_abs();
    format!(
        "{sign}{}.{:0width$}",
        a / 1_000_000_000,
        (a % 1_000_000_000) / 10u64.pow(9 - digits),
        width = digits as usize
    )
}

fn side(c: bool) -> &'static str {
    if c {
        "client"
    } else {
        "server"
    }
}

fn flag_names(f: u8) -> String {
    use crate::decode::TcpFlags as F;
    let mut v = Vec::new();
    for (bit, name) in [
        (F::SYN, "SYN"),
        (F::FIN, "FIN"),
        (F::RST, "RST"),
        (F::PSH, "PSH"),
        (F::URG, "URG"),
        (F::ACK, "ACK"),
    ] {
        if f & bit != 0 {
            v.push(name);
        }
    }
    if v.is_empty() {
        "none".into()
    } else {
        v.join("-")
    }
}

/// Sequence-space state of one side, for what the packets show.
#[derive(Default)]
struct SideState {
    base: Option<u32>,
    /// Next sequence number after the highest data sent.
    next: Option<u32>,
    /// Holes: data sent past them before they were filled.
    holes: Vec<(u32, u32)>,
    last_ack: Option<(u32, u16)>,
    dups: u32,
    /// Where this side's FIN was.
    fin: Option<u32>,
}

fn lt(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

/// Notes the packet itself gives (retransmission, gap, out-of-order,
/// duplicate ACK, zero window).
fn packet_notes(r: &Row, me: &mut SideState, notes: &mut Vec<Note>) {
    use crate::decode::TcpFlags as F;
    let f = r.flags;
    let syn = f & F::SYN != 0;
    let start = r.seq.wrapping_add(u32::from(syn));
    let end = start.wrapping_add(r.len);
    if r.len > 0 {
        match me.next {
            None => me.next = Some(end),
            Some(next) if start == next => me.next = Some(end),
            Some(next) if lt(next, start) => {
                notes.push(Note {
                    text: format!(
                        "gap: {} bytes before this segment never seen (packets missing)",
                        start.wrapping_sub(next)
                    ),
                    tone: Some(Tone::Warn),
                });
                if me.holes.len() < 64 {
                    me.holes.push((next, start));
                }
                me.next = Some(end);
            }
            Some(next) => {
                let fills = me
                    .holes
                    .iter()
                    .position(|&(a, b)| lt(start, b) && lt(a, end));
                if let Some(i) = fills {
                    let (a, b) = me.holes[i];
                    me.holes.remove(i);
                    if lt(a, start) {
                        me.holes.push((a, start));
                    }
                    if lt(end, b) {
                        me.holes.push((end, b));
                    }
                    notes.push(Note {
                        text: "out-of-order: fills a gap".into(),
                        tone: Some(Tone::Warn),
                    });
                } else {
                    notes.push(Note {
                        text: if lt(next, end) {
                            format!(
                                "retransmission ({} of {} bytes sent before)",
                                next.wrapping_sub(start),
                                r.len
                            )
                        } else {
                            "retransmitted data".into()
                        },
                        tone: Some(Tone::Warn),
                    });
                }
                if lt(next, end) {
                    me.next = Some(end);
                }
            }
        }
    } else if me.next.is_none() {
        me.next = Some(end);
    }
    if f & F::FIN != 0 {
        if me.fin == Some(end) {
            notes.push(Note {
                text: "FIN retransmission".into(),
                tone: Some(Tone::Warn),
            });
        }
        me.fin = Some(end);
    }
    if f & F::ACK != 0 && f & (F::SYN | F::FIN | F::RST) == 0 && r.len == 0 {
        match me.last_ack {
            Some((a, w)) if a == r.ack && w == r.window => {
                me.dups += 1;
                notes.push(Note {
                    text: format!("duplicate ACK #{}", me.dups),
                    tone: Some(Tone::Warn),
                });
            }
            _ => me.dups = 0,
        }
        me.last_ack = Some((r.ack, r.window));
    } else if f & F::ACK != 0 {
        me.last_ack = Some((r.ack, r.window));
        me.dups = 0;
    }
    if r.window == 0 && f & F::RST == 0 && r.tcp {
        notes.push(Note {
            text: "zero window: the receiver's buffer is full".into(),
            tone: Some(Tone::Warn),
        });
    }
}

/// The text of a record's note, or None for a record the arrows show
/// already.
fn record_note(rec: &Record, first_syn: Option<crate::time::Timestamp>) -> Option<Note> {
    let n = |text: String, tone: Option<Tone>| Some(Note { text, tone });
    match rec {
        Record::TcpEvent(e) => match e.event {
            TcpEventKind::Syn | TcpEventKind::Fin => None,
            TcpEventKind::SynRetransmit => {
                let after = first_syn
                    .map(|t| format!(" (+{} s)", exact(e.ts.since(t).0, 9)))
                    .unwrap_or_default();
                n(
                    format!("SYN retransmission #{}{after}", e.count.unwrap_or(0)),
                    Some(Tone::Warn),
                )
            }
            TcpEventKind::Synack => e
                .syn_to_synack_ms
                .and_then(|d| n(format!("{} ms after the SYN", ms(Some(d))), None)),
            TcpEventKind::SynackRetransmit => n(
                format!("SYN-ACK retransmission #{}", e.count.unwrap_or(0)),
                Some(Tone::Warn),
            ),
            TcpEventKind::SimultaneousOpen => n("simultaneous open".into(), None),
            TcpEventKind::Established => match e.rtt_ms {
                Some(rtt) => {
                    let mut s = format!(
                        "established: handshake RTT {} ms (server {} + client {})",
                        ms(Some(rtt)),
                        ms(e.syn_to_synack_ms),
                        ms(e.synack_to_ack_ms)
                    );
                    if e.connect_ms != Some(rtt) {
                        let _ = write!(s, ", connect {} ms", ms(e.connect_ms));
                    }
                    n(s, Some(Tone::Good))
                }
                None => n(
                    format!(
                        "established (client answered in {} ms; SYN not seen)",
                        ms(e.synack_to_ack_ms)
                    ),
                    Some(Tone::Good),
                ),
            },
            TcpEventKind::Refused => n(
                format!("refused: RST from {}", e.direction.as_str()),
                Some(Tone::Bad),
            ),
            TcpEventKind::Reset => n(
                format!("reset by {}", e.direction.as_str()),
                Some(Tone::Bad),
            ),
            TcpEventKind::Closed => n("closed: both sides sent FIN".into(), None),
            TcpEventKind::ReassemblyLimit => n(
                format!(
                    "reassembly limit: {} held bytes given up",
                    e.bytes.unwrap_or(0)
                ),
                Some(Tone::Warn),
            ),
            TcpEventKind::BufferLimit => n(
                format!(
                    "memory budget reached: {} buffered bytes given up",
                    e.bytes.unwrap_or(0)
                ),
                Some(Tone::Warn),
            ),
            TcpEventKind::OverlapConflict => n(
                "overlapping segment differs from the first copy (first kept)".into(),
                Some(Tone::Bad),
            ),
        },
        Record::UdpEvent(e) => n(
            match e.service {
                Some(s) => format!("new UDP flow ({s})"),
                None => "new UDP flow".into(),
            },
            None,
        ),
        Record::WsUpgrade(u) => {
            let answer = match u.status {
                Some(s) => format!("{s} {}", u.reason.as_deref().unwrap_or("")),
                None => "no answer seen".into(),
            };
            let tone = match (u.status, u.accept_valid) {
                (Some(101), Some(true)) => None,
                _ => Some(Tone::Bad),
            };
            n(
                format!("HTTP {} {} → {}", u.method, u.target, answer.trim_end()),
                tone,
            )
        }
        Record::WsFrame(f) => match f.opcode_name {
            "close" => n(
                match (f.close_code, &f.close_reason) {
                    (Some(c), Some(r)) if !r.is_empty() => format!("WS close {c} {r:?}"),
                    (Some(c), _) => format!("WS close {c}"),
                    (None, _) => "WS close (no code)".into(),
                } + if f.masked { " (masked)" } else { "" },
                None,
            ),
            "ping" | "pong" => n(
                match &f.control_payload {
                    Some(p) if !p.is_empty() => format!("WS {} {p:?}", f.opcode_name),
                    _ => format!("WS {}", f.opcode_name),
                } + if f.masked { " (masked)" } else { "" },
                None,
            ),
            _ if f.incomplete => n(
                format!("WS {} frame, not all of it captured", f.opcode_name),
                Some(Tone::Warn),
            ),
            _ => None,
        },
        Record::WsMessage(m) => {
            let mut s = format!("WS {}", m.opcode_name);
            match &m.text {
                Some(t) => {
                    let more = if m.text_truncated { "…" } else { "" };
                    let t: String = t.chars().take(60).collect();
                    let more = if more.is_empty()
                        && t.chars().count() < m.text.as_ref().map_or(0, |x| x.chars().count())
                    {
                        "…"
                    } else {
                        more
                    };
                    let _ = write!(s, " {t:?}{more}");
                }
                None => {
                    let _ = write!(s, " {} B", m.len);
                }
            }
            let mut extra = Vec::new();
            if m.compressed {
                extra.push(format!("deflate {} B", m.wire_len));
            }
            if m.frames > 1 {
                extra.push(format!("{} frames", m.frames));
            }
            if m.incomplete {
                extra.push("incomplete".into());
            }
            if !extra.is_empty() {
                let _ = write!(s, " ({})", extra.join(", "));
            }
            n(s, None)
        }
        Record::WsViolation(v) => n(format!("✗ {}: {}", v.rule, v.detail), Some(Tone::Bad)),
        // An exchange, on its answer's first packet (the upgrade has its own).
        Record::HttpTxn(t) if !(t.upgrade && t.status == Some(101)) => {
            let target: String = t.target.chars().take(40).collect();
            let cut = if target.len() < t.target.len() {
                "…"
            } else {
                ""
            };
            let answer = match (t.status, t.wait_ms) {
                (Some(s), Some(w)) => format!("{s} (wait {:.3} ms)", w.as_millis_f64()),
                (Some(s), None) => s.to_string(),
                (None, _) => "no answer seen".into(),
            };
            let tone = match t.status {
                Some(s) if s >= 500 => Some(Tone::Bad),
                Some(s) if s >= 400 => Some(Tone::Warn),
                None => Some(Tone::Warn),
                _ => None,
            };
            n(format!("HTTP {} {target}{cut} → {answer}", t.method), tone)
        }
        Record::SseEvent(e) if e.dispatched => n(
            format!(
                "SSE {}{} {} B",
                e.event.as_deref().unwrap_or("message"),
                e.id.as_deref()
                    .map(|i| format!(" id {i}"))
                    .unwrap_or_default(),
                e.data_len
            ),
            None,
        ),
        _ => None,
    }
}

/// When a record happened and who sent what it is about.
fn record_at(rec: &Record) -> Option<(crate::time::Timestamp, bool)> {
    let c = |d: Direction| d == Direction::Client;
    Some(match rec {
        Record::TcpEvent(e) => (e.ts, c(e.direction)),
        Record::UdpEvent(e) => (e.ts, c(e.direction)),
        Record::WsUpgrade(u) => (u.ts, u.status.is_none()),
        Record::WsFrame(f) => (f.ts, c(f.direction)),
        Record::WsMessage(m) => (m.ts, c(m.direction)),
        Record::WsViolation(v) => (v.ts, c(v.direction)),
        // The answer's first byte: the request's last byte plus the wait.
        Record::HttpTxn(t) => match t.wait_ms {
            Some(w) => (t.ts + t.request_ms + w, false),
            None => (t.ts, true),
        },
        Record::SseEvent(e) => (e.ts, false),
        _ => return None,
    })
}

/// Whether a WebSocket message's frames were masked (from its frames'
/// records at the same moment).
fn masked_at(records: &[&Record], ts: crate::time::Timestamp, from_client: bool) -> bool {
    records.iter().any(|r| {
        matches!(r, Record::WsFrame(f) if f.ts == ts && (f.direction == Direction::Client) == from_client && f.masked && f.opcode < 8)
    })
}

/// Builds the ladder of every connection with packets, in conn_id order.
pub fn steps(packets: &Packets, records: &[Record], all_packets: bool) -> Vec<Ladder> {
    let mut by_conn: HashMap<u64, Vec<&Row>> = HashMap::new();
    for r in &packets.rows {
        by_conn.entry(r.conn_id).or_default().push(r);
    }
    let mut recs: HashMap<u64, Vec<&Record>> = HashMap::new();
    for r in records {
        if let Some(c) = crate::check::schema::conn(r) {
            recs.entry(c.conn_id).or_default().push(r);
        }
    }
    let mut ids: Vec<u64> = by_conn.keys().copied().collect();
    ids.sort_unstable();
    ids.into_iter()
        .map(|id| {
            let rows = &by_conn[&id];
            let rs = recs.get(&id).map(Vec::as_slice).unwrap_or(&[]);
            ladder(id, rows, rs, all_packets)
        })
        .collect()
}

fn ladder(id: u64, rows: &[&Row], recs: &[&Record], all_packets: bool) -> Ladder {
    let start = rows.first().map_or(crate::time::Timestamp(0), |r| r.ts);
    let conn = recs.iter().find_map(|r| crate::check::schema::conn(r));
    let (client, server, title) = match recs.iter().find_map(|r| match r {
        Record::TcpConn(c) => Some((
            crate::render::human::endpoint(&c.client_ip, c.client_port),
            crate::render::human::endpoint(&c.server_ip, c.server_port),
            format!("TCP  {}  {}  history {}", c.state, c.verdict, c.history),
        )),
        Record::UdpFlow(f) => Some((
            crate::render::human::endpoint(&f.client_ip, f.client_port),
            crate::render::human::endpoint(&f.server_ip, f.server_port),
            format!("UDP  {}", f.state),
        )),
        _ => None,
    }) {
        Some(t) => t,
        None => match conn {
            Some(c) => (
                crate::render::human::endpoint(&c.client_ip, c.client_port),
                crate::render::human::endpoint(&c.server_ip, c.server_port),
                "(its final record was not kept)".into(),
            ),
            None => ("client".into(), "server".into(), String::new()),
        },
    };
    // Notes from the records, placed on the packet they are about.
    let first_syn = recs.iter().find_map(|r| match r {
        Record::TcpEvent(e) if e.event == TcpEventKind::Syn => Some(e.ts),
        _ => None,
    });
    let mut at: HashMap<(i64, bool), Vec<usize>> = HashMap::new();
    for (i, r) in rows.iter().enumerate() {
        at.entry((r.ts.0, r.from_client)).or_default().push(i);
    }
    let mut notes: Vec<Vec<Note>> = vec![Vec::new(); rows.len()];
    let mut loose = Vec::new();
    // A WebSocket upgrade's answer has its own note: its exchange adds none.
    let upgrade_answers: std::collections::HashSet<i64> = recs
        .iter()
        .filter_map(|r| match r {
            Record::WsUpgrade(u) => Some(u.ts.0),
            _ => None,
        })
        .collect();
    for rec in recs {
        let Some(mut note) = record_note(rec, first_syn) else {
            continue;
        };
        let Some((ts, from_client)) = record_at(rec) else {
            continue;
        };
        if matches!(rec, Record::HttpTxn(_)) && upgrade_answers.contains(&ts.0) {
            continue;
        }
        if let Record::WsMessage(m) = rec {
            if masked_at(recs, m.ts, from_client) {
                note.text.push_str(" (masked)");
            }
        }
        // The packet at that moment from that side (one with payload for
        // application data), else the last packet at or before it.
        let wants_data = matches!(
            rec,
            Record::WsFrame(_)
                | Record::WsMessage(_)
                | Record::WsUpgrade(_)
                | Record::WsViolation(_)
                | Record::HttpTxn(_)
                | Record::SseEvent(_)
        );
        let i = at
            .get(&(ts.0, from_client))
            .and_then(|v| {
                v.iter()
                    .rev()
                    .find(|&&i| !wants_data || rows[i].len > 0)
                    .or(v.last())
                    .copied()
            })
            .or_else(|| rows.iter().rposition(|r| r.ts <= ts));
        match i {
            Some(i) => notes[i].push(note),
            None => loose.push(note),
        }
        // The upgrade's request, on the client's packet that ended it.
        if let Record::WsUpgrade(u) = rec {
            let req = Note {
                text: format!("HTTP {} {} (upgrade to WebSocket)", u.method, u.target),
                tone: None,
            };
            match at
                .get(&(u.request_ts.0, true))
                .and_then(|v| v.iter().rev().find(|&&i| rows[i].len > 0).copied())
            {
                Some(i) => notes[i].insert(0, req),
                None => loose.push(req),
            }
        }
    }
    let mut sides = [SideState::default(), SideState::default()];
    let mut steps = Vec::with_capacity(rows.len());
    let mut prev: Option<crate::time::Timestamp> = None;
    let mut digits = 6;
    for (i, r) in rows.iter().enumerate() {
        if r.ts.since(start).0 % 1000 != 0 {
            digits = 9;
        }
        let (me, other) = if r.from_client {
            let [a, b] = &mut sides;
            (a, b)
        } else {
            let [a, b] = &mut sides;
            (b, a)
        };
        if me.base.is_none() {
            me.base = Some(r.seq);
        }
        let mut own = Vec::new();
        let label = if r.tcp {
            packet_notes(r, me, &mut own);
            let mut l = flag_names(r.flags);
            let _ = write!(l, " seq {}", r.seq.wrapping_sub(me.base.unwrap_or(r.seq)));
            if r.flags & crate::decode::TcpFlags::ACK != 0 {
                // Picked up mid-stream: the other side's numbers count
                // from the first one acknowledged.
                let b = *other.base.get_or_insert(r.ack);
                let _ = write!(l, " ack {}", r.ack.wrapping_sub(b));
            }
            let _ = write!(l, " win {}", r.window);
            if r.len > 0 {
                let _ = write!(l, " len {}", r.len);
            }
            l
        } else {
            format!("UDP len {}", r.len)
        };
        if let Some(o) = r.syn {
            let mut parts = Vec::new();
            if let Some(m) = o.mss {
                parts.push(format!("mss {m}"));
            }
            if let Some(w) = o.wscale {
                parts.push(format!("wscale {w}"));
            }
            if o.sack_ok {
                parts.push("sack".into());
            }
            if o.timestamps.is_some() {
                parts.push("ts".into());
            }
            if !parts.is_empty() {
                own.insert(
                    0,
                    Note {
                        text: format!("[{}]", parts.join(", ")),
                        tone: None,
                    },
                );
            }
        }
        let mut all = own;
        all.append(&mut notes[i]);
        let rst = r.flags & crate::decode::TcpFlags::RST != 0;
        if rst && !all.iter().any(|n| n.tone == Some(Tone::Bad)) {
            all.push(Note {
                text: format!("RST from {}", side(r.from_client)),
                tone: Some(Tone::Bad),
            });
        }
        if r.truncated {
            all.push(Note {
                text: "cut short by the snaplen".into(),
                tone: Some(Tone::Warn),
            });
        }
        let tone = if rst {
            Some(Tone::Bad)
        } else if all.iter().any(|n| n.tone == Some(Tone::Warn)) {
            Some(Tone::Warn)
        } else {
            None
        };
        steps.push(Step::Packet {
            at: r.ts.since(start),
            delta: prev.map(|p| r.ts.since(p)),
            from_client: r.from_client,
            label,
            notes: all,
            tone,
        });
        prev = Some(r.ts);
    }
    if !all_packets {
        steps = elide(steps, rows);
    }
    Ladder {
        conn_id: id,
        title,
        client,
        server,
        notes: loose,
        steps,
        digits,
    }
}

/// Whether a step is a plain data or ACK packet (nothing to say about it).
fn plain(s: &Step, r: &Row) -> bool {
    use crate::decode::TcpFlags as F;
    matches!(s, Step::Packet { notes, .. } if notes.is_empty())
        && r.flags & (F::SYN | F::FIN | F::RST) == 0
}

/// Sums up runs of plain packets longer than [`ELIDE_RUN`], keeping
/// [`ELIDE_KEEP`] at each end.
fn elide(steps: Vec<Step>, rows: &[&Row]) -> Vec<Step> {
    let mut out = Vec::with_capacity(steps.len());
    let mut i = 0;
    while i < steps.len() {
        let mut j = i;
        while j < steps.len() && plain(&steps[j], rows[j]) {
            j += 1;
        }
        if j - i > ELIDE_RUN {
            let (a, b) = (i + ELIDE_KEEP, j - ELIDE_KEEP);
            out.extend(steps[i..a].iter().cloned());
            let hidden = &rows[a..b];
            out.push(Step::Elided {
                packets: hidden.len() as u64,
                client: hidden.iter().filter(|r| r.from_client).count() as u64,
                server: hidden.iter().filter(|r| !r.from_client).count() as u64,
                bytes: hidden.iter().map(|r| u64::from(r.len)).sum(),
                span: hidden[hidden.len() - 1].ts.since(hidden[0].ts),
            });
            out.extend(steps[b..j].iter().cloned());
            i = j;
        } else if j > i {
            out.extend(steps[i..j].iter().cloned());
            i = j;
        } else {
            out.push(steps[i].clone());
            i += 1;
        }
    }
    out
}

/// Bytes for people: 1.6 MB, 830 kB, 512 B.
pub fn size(b: u64) -> String {
    match b {
        0..1_000 => format!("{b} B"),
        1_000..1_000_000 => format!("{:.1} kB", b as f64 / 1e3),
        1_000_000..1_000_000_000 => format!("{:.1} MB", b as f64 / 1e6),
        _ => format!("{:.1} GB", b as f64 / 1e9),
    }
}

impl Step {
    /// The summed-up line's text.
    pub fn elided_text(&self) -> Option<String> {
        match self {
            Step::Elided {
                packets,
                client,
                server,
                bytes,
                span,
            } => Some(format!(
                "… {packets} data packets ({client} from the client, {server} from the server), {}, {} s …",
                size(*bytes),
                exact(span.0, 9)
            )),
            Step::Packet { .. } => None,
        }
    }
}

/// The ladders of every connection that has packets, in conn_id order, as
/// text fitted to the width (80 columns when none is given).
pub fn render(packets: &Packets, records: &[Record], view: &View) -> String {
    let ladders = steps(packets, records, view.all_packets);
    let mut out = String::new();
    for l in &ladders {
        draw(&mut out, l, view);
    }
    if packets.dropped > 0 {
        let _ = writeln!(
            out,
            "({} packets not drawn: over the ladder's {} packets or {} connections)\n",
            packets.dropped, MAX_PACKETS, MAX_CONNS
        );
    }
    out
}

fn draw(out: &mut String, l: &Ladder, view: &View) {
    let style = view.style;
    let width = usize::from(view.width.unwrap_or(80)).max(60);
    let (bar, line, right, left) = if style.ascii {
        ("|", "-", ">", "<")
    } else {
        ("│", "─", "►", "◄")
    };
    // Widest time: the last packet's.
    let last = l
        .steps
        .iter()
        .rev()
        .find_map(|s| match s {
            Step::Packet { at, .. } => Some(at.0),
            _ => None,
        })
        .unwrap_or(0);
    let tw = fixed(last, l.digits).len().max(6);
    let dw = tw + 1;
    let pre = tw + 1 + dw + 1;
    let lane = width.saturating_sub(pre + 2).max(30);
    let head = format!("#{}  {}", l.conn_id, l.title);
    let _ = writeln!(
        out,
        "{}",
        style.glyphs(&crate::render::layout::wrap(&head, width))
    );
    // The two ends, over their lanes.
    let c = format!("client {}", l.client);
    let s = format!("server {}", l.server);
    let gap = (lane + 2)
        .saturating_sub(c.chars().count() + s.chars().count())
        .max(1);
    let _ = writeln!(
        out,
        "{:>tw$} {:>dw$} {c}{}{s}",
        "time s",
        "delta",
        " ".repeat(gap)
    );
    for n in &l.notes {
        let _ = writeln!(out, "{}", style.paint(&style.glyphs(&n.text), n.tone));
    }
    let blank = format!("{}{bar}{}{bar}", " ".repeat(pre), " ".repeat(lane));
    let _ = writeln!(out, "{blank}");
    for step in &l.steps {
        match step {
            Step::Packet {
                at,
                delta,
                from_client,
                label,
                notes,
                tone,
            } => {
                let t = fixed(at.0, l.digits);
                let d = delta.map_or(String::new(), |d| format!("+{}", fixed(d.0, l.digits)));
                let label: String = label.chars().take(lane.saturating_sub(6)).collect();
                let fill = lane.saturating_sub(label.chars().count() + 4);
                let arrow = if *from_client {
                    format!("{line} {label} {}{right}", line.repeat(fill))
                } else {
                    format!("{left}{} {label} {line}", line.repeat(fill))
                };
                let _ = writeln!(
                    out,
                    "{t:>tw$} {d:>dw$} {bar}{}{bar}",
                    style.paint(&arrow, *tone)
                );
                for n in notes {
                    let text = style.glyphs(&n.text);
                    let wrapped = crate::render::layout::wrap(&text, lane.saturating_sub(3));
                    for w in wrapped.lines() {
                        let pad = lane.saturating_sub(2 + crate::render::layout::display_width(w));
                        let _ = writeln!(
                            out,
                            "{}{bar}  {}{}{bar}",
                            " ".repeat(pre),
                            style.paint(w, n.tone),
                            " ".repeat(pad)
                        );
                    }
                }
            }
            Step::Elided { .. } => {
                let text = style
                    .glyphs(&step.elided_text().unwrap_or_default())
                    .into_owned();
                let wrapped = crate::render::layout::wrap(&text, lane.saturating_sub(3));
                for w in wrapped.lines() {
                    let pad = lane.saturating_sub(2 + crate::render::layout::display_width(w));
                    let _ = writeln!(out, "{}{bar}  {w}{}{bar}", " ".repeat(pre), " ".repeat(pad));
                }
            }
        }
    }
    let _ = writeln!(out, "{blank}\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::TcpFlags as F;

    fn row(
        ms: i64,
        from_client: bool,
        flags: u8,
        seq: u32,
        ack: u32,
        window: u16,
        len: u32,
    ) -> Row {
        Row {
            ts: Timestamp(ms * 1_000_000),
            conn_id: 7,
            from_client,
            flags,
            tcp: true,
            seq,
            ack,
            window,
            len,
            syn: None,
            truncated: false,
        }
    }

    fn notes(l: &Ladder) -> Vec<String> {
        l.steps
            .iter()
            .map(|s| match s {
                Step::Packet { notes, .. } => notes
                    .iter()
                    .map(|n| n.text.clone())
                    .collect::<Vec<_>>()
                    .join("; "),
                e => e.elided_text().unwrap(),
            })
            .collect()
    }

    /// What the packets themselves show: a gap, the segment that fills it
    /// late (out of order), a retransmission, duplicate ACKs, a zero
    /// window, a RST and who sent it; sequence numbers relative.
    #[test]
    fn packets_tell_what_went_wrong() {
        let a = F::ACK;
        let p = Packets {
            rows: vec![
                row(0, true, a | F::PSH, 1000, 5000, 100, 10),
                row(1, true, a | F::PSH, 1020, 5000, 100, 10), // 10 bytes missing
                row(2, false, a, 5000, 1010, 100, 0),
                row(3, false, a, 5000, 1010, 100, 0), // dup
                row(4, false, a, 5000, 1010, 100, 0), // dup
                row(5, true, a | F::PSH, 1010, 5000, 100, 10), // fills the gap
                row(6, true, a | F::PSH, 1010, 5000, 100, 10), // again
                row(7, false, a, 5000, 1030, 0, 0),
                row(8, false, F::RST, 5000, 0, 0, 0),
            ],
            ..Packets::default()
        };
        let l = &steps(&p, &[], true)[0];
        assert_eq!(
            notes(l),
            [
                "",
                "gap: 10 bytes before this segment never seen (packets missing)",
                "",
                "duplicate ACK #1",
                "duplicate ACK #2",
                "out-of-order: fills a gap",
                "retransmitted data",
                "zero window: the receiver's buffer is full",
                "RST from server",
            ]
        );
        let Step::Packet { label, .. } = &l.steps[1] else {
            panic!()
        };
        assert_eq!(label, "PSH-ACK seq 20 ack 0 win 100 len 10");
    }

    /// Long runs of plain packets are summed up, their ends kept.
    #[test]
    fn runs_of_plain_data_are_summed_up() {
        let rows: Vec<Row> = (0..20u32)
            .map(|i| {
                if i % 2 == 0 {
                    row(i64::from(i), true, F::ACK, 1 + 50 * i, 1, 500, 100)
                } else {
                    row(i64::from(i), false, F::ACK, 1, 1 + 50 * (i + 1), 500, 0)
                }
            })
            .collect();
        let p = Packets {
            rows,
            ..Packets::default()
        };
        let l = &steps(&p, &[], false)[0];
        assert_eq!(l.steps.len(), 2 * ELIDE_KEEP + 1);
        assert_eq!(
            l.steps[ELIDE_KEEP].elided_text().unwrap(),
            "… 16 data packets (8 from the client, 8 from the server), 800 B, 0.015 s …"
        );
        assert_eq!(steps(&p, &[], true)[0].steps.len(), 20);
    }
}
