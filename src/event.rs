//! The one vocabulary of sockscope's output: every record the pipeline
//! produces, consumed by the renderers (table, JSON lines) and by `check`.
//!
//! # JSON lines (schema 1)
//!
//! With `--format json` each record is one JSON object on its own line, with a
//! `"type"` naming the record. The first line of every run is `meta`, the last
//! is `summary`; an `error` record (reading stopped on a damaged file) comes
//! just before `summary`. Field names are part of the contract: renaming one
//! bumps [`SCHEMA_VERSION`].
//!
//! Records about a connection or flow name it with `client_ip`,
//! `client_port`, `server_ip`, `server_port` (client = the side that sent the
//! first SYN; for a connection picked up at its SYN-ACK, the side the SYN-ACK
//! went to; otherwise the sender of the first packet) and `conn_id` (the
//! connection's number in order of first packet, stable for a given file).
//! A record about one packet's worth of information has `direction`:
//! `client` or `server`, the side that sent it.
//!
//! Times: `ts`, `first_ts`, `last_ts` are capture time in seconds since the
//! epoch (float); durations ending in `_ms` are milliseconds (float); `null`
//! when not measured.
//!
//! | type | when |
//! |---|---|
//! | `meta` | first line: `schema`, `tool`, `version`, `command`, `file`, `filter` |
//! | `tcp_event` | a handshake or teardown milestone (`event` below) |
//! | `udp_event` | `new_flow`: the first datagram of a UDP flow |
//! | `tcp_conn` | a TCP connection, when it ends (closed + 5 s, idle, evicted, or end of capture) |
//! | `udp_flow` | a UDP flow, when it ends (idle, evicted, or end of capture) |
//! | `ws_upgrade` | an HTTP Upgrade to WebSocket and its answer |
//! | `ws_frame` | a WebSocket frame, when its last byte is seen |
//! | `ws_message` | a text or binary message, reassembled and decompressed |
//! | `ws_violation` | a broken RFC 6455 / RFC 7692 rule |
//! | `ws_session` | a WebSocket session's totals, when its connection ends |
//! | `error` | reading stopped on damage: `file`, `offset`, `message` |
//! | `summary` | last line: counts and capture health |
//!
//! `tcp_event.event` is one of `syn`, `syn_retransmit`, `synack`,
//! `synack_retransmit`, `simultaneous_open`, `established` (the handshake ACK;
//! carries `rtt_ms`, `connect_ms`, `syn_to_synack_ms`, `synack_to_ack_ms`),
//! `refused` (RST answering a SYN), `reset` (any other first RST of a side),
//! `fin` (first FIN of a side), `closed` (both sides have sent FIN).

use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::time::{Nanos, Timestamp};

/// Bumped whenever a record type or field changes meaning or name.
pub const SCHEMA_VERSION: u32 = 1;

/// The JSON Schema (draft 2020-12) of every record sockscope writes as a
/// JSON line, one definition per record type; `sockscope schema` prints
/// it, and a test validates every record of every bundled capture against
/// it.
pub const JSON_SCHEMA: &str = include_str!("schema.json");

/// Who sent a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Client,
    Server,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Client => "client",
            Direction::Server => "server",
        }
    }

    pub fn from_is_client(is_client: bool) -> Direction {
        if is_client {
            Direction::Client
        } else {
            Direction::Server
        }
    }
}

/// A connection's Zeek history letters, stored inline (no allocation per
/// connection); serialized as a string.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct History {
    letters: [u8; History::CAP],
    len: u8,
}

impl History {
    pub const CAP: usize = 48;

    pub const fn new() -> Self {
        History {
            letters: [0; History::CAP],
            len: 0,
        }
    }

    /// Appends a letter; a history longer than [`History::CAP`] keeps its
    /// first letters (Zeek's is unbounded, real ones stay far shorter).
    pub fn push(&mut self, c: u8) {
        if (self.len as usize) < Self::CAP && c.is_ascii() {
            self.letters[self.len as usize] = c;
            self.len += 1;
        }
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII is ever pushed.
        std::str::from_utf8(&self.letters[..self.len as usize]).unwrap_or("")
    }
}

impl Default for History {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for History {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

impl std::fmt::Display for History {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Distinct VLAN IDs seen on a flow (up to four, outer first), inline;
/// serialized as a list.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VlanList {
    ids: [u16; 4],
    len: u8,
}

impl VlanList {
    pub fn add(&mut self, id: u16) {
        if !self.as_slice().contains(&id) && (self.len as usize) < self.ids.len() {
            self.ids[self.len as usize] = id;
            self.len += 1;
        }
    }

    pub fn as_slice(&self) -> &[u16] {
        &self.ids[..self.len as usize]
    }
}

/// How a connection was opened, for the verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Opened {
    /// The handshake completed after `syns` SYNs.
    Established {
        syns: u32,
    },
    SimultaneousOpen,
    /// No SYN seen (picked up mid-stream or at the SYN-ACK).
    NoHandshake,
    /// A SYN was seen but not the rest of the handshake.
    Incomplete,
}

/// The outcome of a TCP connection in plain words (rendered from the
/// `conn_state` and the handshake); serialized as its text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// S0: `syns` SYNs (or none seen) and no answer.
    NoAnswer {
        syns: Option<u32>,
    },
    /// REJ answering a SYN.
    Refused {
        syns: u32,
    },
    /// REJ otherwise.
    Rejected,
    StillOpen(Opened),
    ClosedBy(Opened, Option<Direction>),
    ClientClosedOnly(Opened),
    ServerClosedOnly(Opened),
    ResetBy(Opened, Direction),
    SynThenRst,
    SynAckThenRst,
    SynThenFin,
    SynAckThenFin,
    StrayRst,
    MidStream,
    Other(Opened),
}

impl std::fmt::Display for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Opened::Established { syns } if *syns > 1 => write!(f, "established after {syns} SYNs"),
            Opened::Established { .. } => f.write_str("established"),
            Opened::SimultaneousOpen => f.write_str("simultaneous open"),
            Opened::NoHandshake => f.write_str("no handshake seen"),
            Opened::Incomplete => f.write_str("handshake incomplete"),
        }
    }
}

fn side_name(d: Option<Direction>) -> &'static str {
    match d {
        Some(Direction::Client) => "client",
        Some(Direction::Server) => "server",
        None => "?",
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Verdict::NoAnswer { syns: Some(1) } => f.write_str("no answer after 1 SYN"),
            Verdict::NoAnswer { syns: Some(n) } => write!(f, "no answer after {n} SYNs"),
            Verdict::NoAnswer { syns: None } => f.write_str("no answer"),
            Verdict::Refused { syns } if *syns > 1 => write!(f, "refused (RST) after {syns} SYNs"),
            Verdict::Refused { .. } => f.write_str("refused (RST)"),
            Verdict::Rejected => f.write_str("rejected (RST)"),
            Verdict::StillOpen(o) => write!(f, "{o}, still open"),
            Verdict::ClosedBy(o, d) => write!(f, "{o}, closed by {}", side_name(*d)),
            Verdict::ClientClosedOnly(o) => write!(f, "{o}, client closed, server did not"),
            Verdict::ServerClosedOnly(o) => write!(f, "{o}, server closed, client did not"),
            Verdict::ResetBy(o, d) => write!(f, "{o}, reset by {}", side_name(Some(*d))),
            Verdict::SynThenRst => f.write_str("client sent SYN then RST, no answer"),
            Verdict::SynAckThenRst => f.write_str("server sent SYN-ACK then RST, no SYN seen"),
            Verdict::SynThenFin => f.write_str("client sent SYN then FIN, no answer"),
            Verdict::SynAckThenFin => f.write_str("server sent SYN-ACK then FIN, no SYN seen"),
            Verdict::StrayRst => f.write_str("stray RST, no connection seen"),
            Verdict::MidStream => f.write_str("picked up mid-stream (no handshake seen)"),
            Verdict::Other(o) => write!(f, "{o}"),
        }
    }
}

/// The first line of every run.
#[derive(Clone, Debug)]
pub struct Meta {
    pub schema: u32,
    pub tool: &'static str,
    pub version: &'static str,
    pub command: &'static str,
    pub file: Option<String>,
    /// Every file, when several were read as one capture (`file` is the
    /// first); empty otherwise, and then not written.
    pub files: Vec<String>,
    pub filter: Option<String>,
    /// The `--conn` selectors, when some were given (then every record
    /// about a connection is about a selected one); empty otherwise, and
    /// then not written.
    pub conn: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TcpEventKind {
    Syn,
    SynRetransmit,
    Synack,
    SynackRetransmit,
    SimultaneousOpen,
    Established,
    Refused,
    Reset,
    Fin,
    Closed,
    /// A reassembly limit made a decoded stream give up held bytes.
    ReassemblyLimit,
    /// All decoded connections' buffers reached the memory budget and this
    /// one, the oldest holder, gave its buffers up (`bytes`).
    BufferLimit,
    /// A retransmitted or overlapping segment of a decoded stream carried
    /// bytes different from the first copy (which was kept).
    OverlapConflict,
}

impl TcpEventKind {
    /// Every kind's name, in declaration order (`as_str` reads it).
    pub const NAMES: &'static [&'static str] = &[
        "syn",
        "syn_retransmit",
        "synack",
        "synack_retransmit",
        "simultaneous_open",
        "established",
        "refused",
        "reset",
        "fin",
        "closed",
        "reassembly_limit",
        "buffer_limit",
        "overlap_conflict",
    ];

    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }
}

/// The options a SYN or SYN-ACK carried.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SynInfo {
    pub mss: Option<u16>,
    pub wscale: Option<u8>,
    pub sack_ok: bool,
    pub ts_ok: bool,
}

/// A handshake or teardown milestone.
#[derive(Clone, Debug)]
pub struct TcpEvent {
    pub ts: Timestamp,
    pub event: TcpEventKind,
    pub conn_id: u64,
    pub client_ip: IpAddr,
    pub client_port: u16,
    pub server_ip: IpAddr,
    pub server_port: u16,
    pub direction: Direction,
    /// SYN / SYN-ACK options (syn, syn_retransmit, synack, synack_retransmit).
    pub options: Option<SynInfo>,
    /// For `established`: the handshake timings.
    pub rtt_ms: Option<Nanos>,
    pub connect_ms: Option<Nanos>,
    pub syn_to_synack_ms: Option<Nanos>,
    pub synack_to_ack_ms: Option<Nanos>,
    /// For `syn_retransmit` / `synack_retransmit`: which retransmission (1, 2, …).
    pub count: Option<u32>,
    /// For `reassembly_limit` and `buffer_limit`: the bytes given up.
    pub bytes: Option<u64>,
}

/// The first datagram of a UDP flow.
#[derive(Clone, Debug)]
pub struct UdpEvent {
    pub ts: Timestamp,
    pub event: &'static str,
    pub conn_id: u64,
    pub client_ip: IpAddr,
    pub client_port: u16,
    pub server_ip: IpAddr,
    pub server_port: u16,
    pub direction: Direction,
    pub service: Option<&'static str>,
}

/// Everything sockscope knows about one TCP connection, written when it ends.
#[derive(Clone, Debug)]
pub struct TcpConnRecord {
    pub conn_id: u64,
    pub client_ip: IpAddr,
    pub client_port: u16,
    pub server_ip: IpAddr,
    pub server_port: u16,
    /// VLAN IDs seen on the connection's packets (both directions), empty when untagged.
    pub vlan: VlanList,
    /// Zeek's conn_state.
    pub state: &'static str,
    /// Zeek's history letters (upper case = client).
    pub history: History,
    /// The outcome in plain words.
    pub verdict: Verdict,
    /// Well-known service for the server port (a label only).
    pub service: Option<&'static str>,
    pub handshake_complete: bool,
    pub simultaneous_open: bool,
    pub syn_retransmits: u32,
    pub synack_retransmits: u32,
    pub rtt_ms: Option<Nanos>,
    pub connect_ms: Option<Nanos>,
    pub syn_to_synack_ms: Option<Nanos>,
    pub synack_to_ack_ms: Option<Nanos>,
    /// Options of the client's SYN (null when no SYN was seen).
    pub mss: Option<u16>,
    pub wscale: Option<u8>,
    pub sack_ok: Option<bool>,
    pub ts_ok: Option<bool>,
    /// Options of the server's SYN-ACK (null when none was seen).
    pub server_mss: Option<u16>,
    pub server_wscale: Option<u8>,
    pub server_sack_ok: Option<bool>,
    pub server_ts_ok: Option<bool>,
    pub client_packets: u64,
    pub server_packets: u64,
    /// Payload bytes in sequence space (Zeek's orig_bytes/resp_bytes).
    pub client_bytes: u64,
    pub server_bytes: u64,
    /// Bytes acknowledged but never captured (Zeek's missed_bytes).
    pub missed_bytes: u64,
    /// Packets of this connection cut short by the snaplen.
    pub truncated_packets: u64,
    /// Who sent the first FIN or RST, if anyone did.
    pub closed_by: Option<Direction>,
    pub first_ts: Timestamp,
    pub last_ts: Timestamp,
    pub duration: Nanos,
    /// Reported early because the flow table was full.
    pub evicted: bool,
}

/// Everything sockscope knows about one UDP flow, written when it ends.
#[derive(Clone, Debug)]
pub struct UdpFlowRecord {
    pub conn_id: u64,
    pub client_ip: IpAddr,
    pub client_port: u16,
    pub server_ip: IpAddr,
    pub server_port: u16,
    pub vlan: VlanList,
    /// Zeek's conn_state for UDP: S0 (only the client spoke), SF (both did).
    pub state: &'static str,
    pub service: Option<&'static str>,
    pub client_packets: u64,
    pub server_packets: u64,
    /// UDP payload bytes.
    pub client_bytes: u64,
    pub server_bytes: u64,
    pub first_ts: Timestamp,
    pub last_ts: Timestamp,
    pub duration: Nanos,
    pub evicted: bool,
}

/// The connection a record belongs to, written as the flat fields
/// `conn_id`, `client_ip`, `client_port`, `server_ip`, `server_port`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnRef {
    pub conn_id: u64,
    pub client_ip: IpAddr,
    pub client_port: u16,
    pub server_ip: IpAddr,
    pub server_port: u16,
}

/// An HTTP request asking to upgrade to WebSocket, and its answer.
#[derive(Clone, Debug)]
pub struct WsUpgrade {
    /// Time of the answer (of the request when none was seen).
    pub ts: Timestamp,
    pub request_ts: Timestamp,
    pub conn: ConnRef,
    pub method: String,
    pub target: String,
    pub host: Option<String>,
    pub origin: Option<String>,
    /// Sec-WebSocket-Version.
    pub version: Option<String>,
    /// Sec-WebSocket-Key.
    pub key: Option<String>,
    /// Sec-WebSocket-Protocol / -Extensions as the client offered them.
    pub requested_protocols: Option<String>,
    pub requested_extensions: Option<String>,
    /// The answer's status (101 when switched); null when none was seen.
    pub status: Option<u16>,
    pub reason: Option<String>,
    /// Sec-WebSocket-Accept.
    pub accept: Option<String>,
    /// Whether the accept is base64(SHA-1(key + GUID)); null without a 101.
    pub accept_valid: Option<bool>,
    /// What the server chose.
    pub subprotocol: Option<String>,
    pub extensions: Option<String>,
}

/// One WebSocket frame, written when its last byte has been seen.
#[derive(Clone, Debug)]
pub struct WsFrame {
    pub ts: Timestamp,
    pub conn: ConnRef,
    pub direction: Direction,
    pub fin: bool,
    pub rsv1: bool,
    pub rsv2: bool,
    pub rsv3: bool,
    pub opcode: u8,
    pub opcode_name: &'static str,
    pub masked: bool,
    /// Payload bytes on the wire (as the header states them).
    pub payload_len: u64,
    /// Close frames: the status code and reason (null for an empty close).
    pub close_code: Option<u16>,
    pub close_reason: Option<String>,
    /// Ping and pong frames: the payload (text when it is UTF-8, else hex),
    /// cut to the preview length.
    pub control_payload: Option<String>,
    /// Part of the frame was not captured (a gap, or the capture ended).
    pub incomplete: bool,
}

/// One data message (text or binary), reassembled from its frames and
/// decompressed.
#[derive(Clone, Debug)]
pub struct WsMessage {
    pub ts: Timestamp,
    pub conn: ConnRef,
    pub direction: Direction,
    pub opcode_name: &'static str,
    pub frames: u32,
    /// Bytes after reassembly and decompression.
    pub len: u64,
    /// Payload bytes on the wire (compressed, if it was).
    pub wire_len: u64,
    pub compressed: bool,
    /// Text messages: the text, up to the preview length.
    pub text: Option<String>,
    pub text_truncated: bool,
    /// Part of the message was not captured (a gap, or the capture ended),
    /// or it could not be inflated: `len` counts what was decoded.
    pub incomplete: bool,
}

/// A WebSocket protocol rule broken (RFC 6455, RFC 7692).
#[derive(Clone, Debug)]
pub struct WsViolation {
    pub ts: Timestamp,
    pub conn: ConnRef,
    /// Who broke it.
    pub direction: Direction,
    /// A stable kebab-case id (see the README).
    pub rule: &'static str,
    pub detail: String,
}

/// One direction's totals in a WebSocket session.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WsSideTotals {
    pub frames: u64,
    pub messages: u64,
    /// Frame payload bytes on the wire.
    pub wire_bytes: u64,
    /// Message bytes after decompression.
    pub message_bytes: u64,
}

/// A WebSocket session's totals, written when its connection ends.
#[derive(Clone, Debug)]
pub struct WsSession {
    pub ts: Timestamp,
    pub conn: ConnRef,
    pub target: String,
    pub host: Option<String>,
    pub status: Option<u16>,
    pub accept_valid: Option<bool>,
    pub subprotocol: Option<String>,
    pub extensions: Option<String>,
    /// permessage-deflate was agreed.
    pub compression: bool,
    pub client: WsSideTotals,
    pub server: WsSideTotals,
    /// The code of the first close frame, and who sent it.
    pub close_code: Option<u16>,
    pub close_reason: Option<String>,
    pub closed_by: Option<Direction>,
    pub violations: u64,
    /// Bytes of the two streams that were never captured.
    pub gap_bytes: u64,
    pub first_ts: Timestamp,
    pub last_ts: Timestamp,
}

/// One HTTP/1.x request and its response (an exchange), written when the
/// response ends (or the connection does).
#[derive(Clone, Debug)]
pub struct HttpTxn {
    /// Time of the request's first byte.
    pub ts: Timestamp,
    pub conn: ConnRef,
    pub method: String,
    pub target: String,
    pub host: Option<String>,
    /// `HTTP/1.0` or `HTTP/1.1`, as the request said.
    pub version: &'static str,
    /// The final status (not an interim 1xx other than 101); null when no
    /// answer was seen.
    pub status: Option<u16>,
    pub reason: Option<String>,
    /// The response's Content-Type and Transfer-Encoding.
    pub content_type: Option<String>,
    pub transfer_encoding: Option<String>,
    /// Body bytes (without the chunk framing).
    pub req_body_len: u64,
    pub resp_body_len: u64,
    /// Chunks of a chunked body, events of an event stream, otherwise the
    /// packets that carried body bytes.
    pub resp_pieces: u64,
    /// Header bytes (request line and headers, blank line included) of the
    /// request and of the response (interim answers included).
    pub req_head_bytes: u64,
    pub resp_head_bytes: u64,
    /// First → last request byte.
    pub request_ms: Nanos,
    /// Last request byte → first byte of the final response (negative when
    /// the server answered before the request ended).
    pub wait_ms: Option<Nanos>,
    /// First → last byte of the final response.
    pub transfer_ms: Option<Nanos>,
    /// Time of the response's last byte (of the request's when none).
    pub last_ts: Timestamp,
    /// An interim `100 Continue` came before the final answer.
    pub continued: bool,
    /// The server switched protocols (101).
    pub upgrade: bool,
    /// Request and response were both seen whole.
    pub complete: bool,
    pub channel_id: u64,
}

/// One block of a Server-Sent Events stream (a `text/event-stream`
/// response body), ended by a blank line.
#[derive(Clone, Debug)]
pub struct SseEvent {
    /// Time of the block's last byte.
    pub ts: Timestamp,
    pub conn: ConnRef,
    pub channel_id: u64,
    pub event: Option<String>,
    pub id: Option<String>,
    pub data_len: u64,
    pub data: Option<String>,
    pub data_truncated: bool,
    /// A comment line's text (a heart-beat).
    pub comment: Option<String>,
    pub retry: Option<u64>,
    /// Delivered to the application (it carried data).
    pub dispatched: bool,
}

/// What one client does to get updates from one server resource, and the
/// real-time technique it uses; written when the run ends.
#[derive(Clone, Debug)]
pub struct RtChannel {
    pub channel_id: u64,
    /// `websocket`, `sse`, `streaming`, `long_polling`, `polling`,
    /// `request` or `unclassified`.
    pub technique: &'static str,
    pub client_ip: IpAddr,
    pub server_ip: IpAddr,
    pub server_port: u16,
    pub host: Option<String>,
    /// The request path, without the query.
    pub path: String,
    /// The connections it used (the first ones, at most 64).
    pub conn_ids: Vec<u64>,
    pub requests: u64,
    /// Responses, events or WebSocket messages that carried data.
    pub data_messages: u64,
    /// Answers without new data (no body, 204, 304, or the same length as
    /// the answer before).
    pub empty_responses: u64,
    pub mean_wait_ms: Option<Nanos>,
    pub max_wait_ms: Option<Nanos>,
    /// Between one request's start and the next one's.
    pub mean_interval_ms: Option<Nanos>,
    pub first_ts: Timestamp,
    pub last_ts: Timestamp,
    /// Header bytes of both directions per data message.
    pub overhead_bytes: Option<u64>,
    /// One line saying what the channel did.
    pub verdict: String,
}

/// Reading stopped on a damaged file.
#[derive(Clone, Debug)]
pub struct ErrorRecord {
    pub file: String,
    /// Byte offset of the record or block that could not be read (a live
    /// capture: packets captured before it stopped).
    pub offset: u64,
    pub message: String,
}

/// Counts and capture health, the last line of every run.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    /// The file's format: `pcap`, `pcap-ns`, `pcap-modified`, `pcapng`
    /// (null when it is not a capture at all).
    pub format: Option<String>,
    /// Packets analysed (after the BPF filter, if any).
    pub packets: u64,
    /// Their bytes on the wire.
    pub bytes: u64,
    /// Their captured bytes.
    pub captured_bytes: u64,
    /// Packets read from the file but rejected by the filter.
    pub filtered_out: u64,
    /// Packets cut short by the snaplen.
    pub truncated: u64,
    /// Packets whose headers break the rules (not counting snaplen cuts).
    pub decode_errors: u64,
    /// Packets that carry no IP (ARP, LLDP, …).
    pub non_ip: u64,
    /// IP packets of protocols other than TCP and UDP.
    pub other_ip: u64,
    /// Packets on a link type sockscope does not decode.
    pub unsupported_link: u64,
    /// Packet records skipped as damaged: an original length below the
    /// captured length or beyond any snapshot length (max(snaplen, 256 KiB)).
    pub damaged_records: u64,
    /// File offset of the first of them.
    pub first_damaged_offset: Option<u64>,
    pub tcp_conns: u64,
    pub udp_flows: u64,
    /// IP fragment packets seen.
    pub ip_fragments: u64,
    pub fragments_reassembled: u64,
    /// Datagrams whose fragments never all arrived (or were dropped by a limit).
    pub fragments_incomplete: u64,
    /// Fragments that overlapped held bytes with different ones.
    pub fragment_conflicts: u64,
    /// Fragments that no datagram can hold: reaching past 65 535 bytes
    /// ("ping of death").
    pub fragments_invalid: u64,
    /// Flows reported early because the flow table was full.
    pub evicted: u64,
    /// Packets per link type.
    pub link_types: BTreeMap<String, u64>,
    pub ws_sessions: u64,
    pub ws_frames: u64,
    pub ws_messages: u64,
    pub ws_violations: u64,
    /// HTTP exchanges (`http_txn` records).
    pub http_txns: u64,
    /// Server-Sent Events blocks (`sse_event` records).
    pub sse_events: u64,
    /// Real-time channels (`rt_channel` records).
    pub rt_channels: u64,
    /// Holes in reassembled TCP streams (bytes never captured, or given up).
    pub reassembly_gaps: u64,
    /// Out-of-order bytes given up because a reassembly limit was reached.
    pub reassembly_dropped_bytes: u64,
    /// Overlapping segments whose bytes differed from the first copy.
    pub reassembly_conflicts: u64,
    /// Times a decoded connection's buffers (held segments, a partial HTTP
    /// head, early client bytes, a partial control frame) were given up
    /// because all connections' buffers together reached
    /// `--reassembly-total-bytes` (oldest holder first).
    pub buffers_given_up: u64,
    /// The bytes they held.
    pub buffer_bytes_given_up: u64,
    pub first_ts: Option<Timestamp>,
    pub last_ts: Option<Timestamp>,
    /// False when reading stopped on an error.
    pub complete: bool,
}

/// What the kernel and libpcap counted for a live capture, written when it
/// stops (before `summary`).
#[derive(Clone, Debug)]
pub struct CaptureStats {
    pub interface: String,
    /// `raw` (link-layer frames) or `dgram` (cooked: link header removed).
    pub socket: &'static str,
    pub link_type: String,
    pub snaplen: u32,
    /// Packets sockscope read from the socket (after the kernel filter).
    pub captured: u64,
    /// Packets the kernel handed to the socket (libpcap's ps_recv).
    pub received: u64,
    /// Packets dropped because the socket's ring was full (ps_drop).
    pub kernel_drops: u64,
    /// Packets the interface or driver dropped (ps_ifdrop).
    pub interface_drops: u64,
    /// Seconds the capture ran.
    pub duration: f64,
}

/// One output record. Its JSON form is written by
/// [`crate::render::json::encode`].
#[derive(Clone, Debug)]
pub enum Record {
    Meta(Meta),
    TcpEvent(TcpEvent),
    UdpEvent(UdpEvent),
    TcpConn(Box<TcpConnRecord>),
    UdpFlow(Box<UdpFlowRecord>),
    WsUpgrade(Box<WsUpgrade>),
    WsFrame(Box<WsFrame>),
    WsMessage(Box<WsMessage>),
    WsViolation(Box<WsViolation>),
    WsSession(Box<WsSession>),
    HttpTxn(Box<HttpTxn>),
    SseEvent(Box<SseEvent>),
    RtChannel(Box<RtChannel>),
    Error(ErrorRecord),
    CaptureStats(Box<CaptureStats>),
    Summary(Box<Summary>),
}

impl Record {
    /// Every record type's `"type"`, in the order of the variants.
    pub const TYPE_NAMES: [&'static str; 16] = [
        "meta",
        "tcp_event",
        "udp_event",
        "tcp_conn",
        "udp_flow",
        "ws_upgrade",
        "ws_frame",
        "ws_message",
        "ws_violation",
        "ws_session",
        "http_txn",
        "sse_event",
        "rt_channel",
        "error",
        "capture_stats",
        "summary",
    ];

    /// The index of the record's type in [`Record::TYPE_NAMES`].
    #[inline]
    pub fn type_index(&self) -> usize {
        match self {
            Record::Meta(_) => 0,
            Record::TcpEvent(_) => 1,
            Record::UdpEvent(_) => 2,
            Record::TcpConn(_) => 3,
            Record::UdpFlow(_) => 4,
            Record::WsUpgrade(_) => 5,
            Record::WsFrame(_) => 6,
            Record::WsMessage(_) => 7,
            Record::WsViolation(_) => 8,
            Record::WsSession(_) => 9,
            Record::HttpTxn(_) => 10,
            Record::SseEvent(_) => 11,
            Record::RtChannel(_) => 12,
            Record::Error(_) => 13,
            Record::CaptureStats(_) => 14,
            Record::Summary(_) => 15,
        }
    }

    /// The record's `"type"` in JSON.
    pub fn type_name(&self) -> &'static str {
        Self::TYPE_NAMES[self.type_index()]
    }
}

/// A set of record types.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecordTypes(u32);

impl RecordTypes {
    /// The run's own records: `meta`, `error`, `capture_stats`, `summary`.
    pub const RUN: RecordTypes = RecordTypes(1 | 1 << 13 | 1 << 14 | 1 << 15);

    /// The set with the type named `name` added (unchanged for a name that
    /// is no record type).
    pub fn with(self, name: &str) -> RecordTypes {
        match Record::TYPE_NAMES.iter().position(|n| *n == name) {
            Some(i) => RecordTypes(self.0 | 1 << i),
            None => self,
        }
    }

    pub fn has(self, name: &str) -> bool {
        Record::TYPE_NAMES
            .iter()
            .position(|n| *n == name)
            .is_some_and(|i| self.0 & 1 << i != 0)
    }

    #[inline]
    pub fn contains(self, r: &Record) -> bool {
        self.0 & 1 << r.type_index() != 0
    }
}

/// Which per-flow records a sink keeps. The tracker builds only those (the
/// summary's counts never depend on them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowRecords {
    pub tcp_event: bool,
    pub udp_event: bool,
    pub tcp_conn: bool,
    pub udp_flow: bool,
    /// `http_txn`, `sse_event`, `rt_channel` (the HTTP decoder still keeps
    /// its counts and channels without them).
    pub http: bool,
}

impl FlowRecords {
    pub const ALL: FlowRecords = FlowRecords {
        tcp_event: true,
        udp_event: true,
        tcp_conn: true,
        udp_flow: true,
        http: true,
    };
    pub const NONE: FlowRecords = FlowRecords {
        tcp_event: false,
        udp_event: false,
        tcp_conn: false,
        udp_flow: false,
        http: false,
    };

    /// Those of a set of record types.
    pub fn of(types: RecordTypes) -> FlowRecords {
        FlowRecords {
            tcp_event: types.has("tcp_event"),
            udp_event: types.has("udp_event"),
            tcp_conn: types.has("tcp_conn"),
            udp_flow: types.has("udp_flow"),
            http: types.has("http_txn") || types.has("sse_event") || types.has("rt_channel"),
        }
    }

    /// Kept by both.
    pub fn and(self, o: FlowRecords) -> FlowRecords {
        FlowRecords {
            tcp_event: self.tcp_event && o.tcp_event,
            udp_event: self.udp_event && o.udp_event,
            tcp_conn: self.tcp_conn && o.tcp_conn,
            udp_flow: self.udp_flow && o.udp_flow,
            http: self.http && o.http,
        }
    }
}

/// Where the pipeline's stages put records. Renderers implement it; stages
/// know only this trait.
pub trait RecordSink {
    fn record(&mut self, r: Record);

    /// Which of the per-flow records (`tcp_event`, `udp_event`,
    /// `tcp_conn`, `udp_flow`) would be kept. The tracker skips building the
    /// others (a quiet run drops them all unread, a check keeps only the
    /// types it reads); the summary's counts never depend on them. A wrapper
    /// that forwards records should forward this too; not doing so (the
    /// default, all) is safe, only slower.
    #[inline]
    fn flow_records(&self) -> FlowRecords {
        FlowRecords::ALL
    }
}

impl RecordSink for Vec<Record> {
    fn record(&mut self, r: Record) {
        self.push(r);
    }
}

/// A sink that can be told to write out what it holds (live capture, after
/// a quiet moment, so `| jq` sees events as they happen).
pub trait FlushSink: RecordSink {
    fn flush(&mut self) {}
}

impl FlushSink for Vec<Record> {}
