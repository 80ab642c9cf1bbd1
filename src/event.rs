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

use serde::{Serialize, Serializer};

use crate::time::{Nanos, Timestamp};

/// Bumped whenever a record type or field changes meaning or name.
pub const SCHEMA_VERSION: u32 = 1;

/// Who sent a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Client,
    Server,
}

impl Direction {
    pub fn from_is_client(is_client: bool) -> Direction {
        if is_client {
            Direction::Client
        } else {
            Direction::Server
        }
    }
}

/// Serializes a capture timestamp as float seconds.
pub fn ser_ts<S: Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(t.as_secs_f64())
}

/// Serializes an optional span as float milliseconds (or null).
pub fn ser_ms<S: Serializer>(d: &Option<Nanos>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_f64(d.as_millis_f64()),
        None => s.serialize_none(),
    }
}

fn ser_secs<S: Serializer>(d: &Nanos, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// The first line of every run.
#[derive(Clone, Debug, Serialize)]
pub struct Meta {
    pub schema: u32,
    pub tool: &'static str,
    pub version: &'static str,
    pub command: &'static str,
    pub file: Option<String>,
    pub filter: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
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
}

/// The options a SYN or SYN-ACK carried.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SynInfo {
    pub mss: Option<u16>,
    pub wscale: Option<u8>,
    pub sack_ok: bool,
    pub ts_ok: bool,
}

/// A handshake or teardown milestone.
#[derive(Clone, Debug, Serialize)]
pub struct TcpEvent {
    #[serde(serialize_with = "ser_ts")]
    pub ts: Timestamp,
    pub event: TcpEventKind,
    pub conn_id: u64,
    pub client_ip: IpAddr,
    pub client_port: u16,
    pub server_ip: IpAddr,
    pub server_port: u16,
    pub direction: Direction,
    /// SYN / SYN-ACK options (syn, syn_retransmit, synack, synack_retransmit).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub options: Option<SynInfo>,
    /// For `established`: the handshake timings.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "ser_ms")]
    pub rtt_ms: Option<Nanos>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "ser_ms")]
    pub connect_ms: Option<Nanos>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "ser_ms")]
    pub syn_to_synack_ms: Option<Nanos>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "ser_ms")]
    pub synack_to_ack_ms: Option<Nanos>,
    /// For `syn_retransmit` / `synack_retransmit`: which retransmission (1, 2, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
}

/// The first datagram of a UDP flow.
#[derive(Clone, Debug, Serialize)]
pub struct UdpEvent {
    #[serde(serialize_with = "ser_ts")]
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
#[derive(Clone, Debug, Serialize)]
pub struct TcpConnRecord {
    pub conn_id: u64,
    pub client_ip: IpAddr,
    pub client_port: u16,
    pub server_ip: IpAddr,
    pub server_port: u16,
    /// VLAN IDs seen on the connection's packets (both directions), empty when untagged.
    pub vlan: Vec<u16>,
    /// Zeek's conn_state.
    pub state: &'static str,
    /// Zeek's history letters (upper case = client).
    pub history: String,
    /// The outcome in plain words.
    pub verdict: String,
    /// Well-known service for the server port (a label only).
    pub service: Option<&'static str>,
    pub handshake_complete: bool,
    pub simultaneous_open: bool,
    pub syn_retransmits: u32,
    pub synack_retransmits: u32,
    #[serde(serialize_with = "ser_ms")]
    pub rtt_ms: Option<Nanos>,
    #[serde(serialize_with = "ser_ms")]
    pub connect_ms: Option<Nanos>,
    #[serde(serialize_with = "ser_ms")]
    pub syn_to_synack_ms: Option<Nanos>,
    #[serde(serialize_with = "ser_ms")]
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
    #[serde(serialize_with = "ser_ts")]
    pub first_ts: Timestamp,
    #[serde(serialize_with = "ser_ts")]
    pub last_ts: Timestamp,
    #[serde(serialize_with = "ser_secs")]
    pub duration: Nanos,
    /// Reported early because the flow table was full.
    pub evicted: bool,
}

/// Everything sockscope knows about one UDP flow, written when it ends.
#[derive(Clone, Debug, Serialize)]
pub struct UdpFlowRecord {
    pub conn_id: u64,
    pub client_ip: IpAddr,
    pub client_port: u16,
    pub server_ip: IpAddr,
    pub server_port: u16,
    pub vlan: Vec<u16>,
    /// Zeek's conn_state for UDP: S0 (only the client spoke), SF (both did).
    pub state: &'static str,
    pub service: Option<&'static str>,
    pub client_packets: u64,
    pub server_packets: u64,
    /// UDP payload bytes.
    pub client_bytes: u64,
    pub server_bytes: u64,
    #[serde(serialize_with = "ser_ts")]
    pub first_ts: Timestamp,
    #[serde(serialize_with = "ser_ts")]
    pub last_ts: Timestamp,
    #[serde(serialize_with = "ser_secs")]
    pub duration: Nanos,
    pub evicted: bool,
}

/// Reading stopped on a damaged file.
#[derive(Clone, Debug, Serialize)]
pub struct ErrorRecord {
    pub file: String,
    /// Byte offset of the record or block that could not be read.
    pub offset: u64,
    pub message: String,
}

/// Counts and capture health, the last line of every run.
#[derive(Clone, Debug, Default, Serialize)]
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
    pub tcp_conns: u64,
    pub udp_flows: u64,
    /// IP fragment packets seen.
    pub ip_fragments: u64,
    pub fragments_reassembled: u64,
    /// Datagrams whose fragments never all arrived (or were dropped by a limit).
    pub fragments_incomplete: u64,
    /// Fragments that overlapped held bytes with different ones.
    pub fragment_conflicts: u64,
    /// Flows reported early because the flow table was full.
    pub evicted: u64,
    /// Packets per link type.
    pub link_types: BTreeMap<String, u64>,
    #[serde(serialize_with = "ser_opt_ts")]
    pub first_ts: Option<Timestamp>,
    #[serde(serialize_with = "ser_opt_ts")]
    pub last_ts: Option<Timestamp>,
    /// False when reading stopped on an error.
    pub complete: bool,
}

fn ser_opt_ts<S: Serializer>(t: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_f64(t.as_secs_f64()),
        None => s.serialize_none(),
    }
}

/// One output record.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Record {
    Meta(Meta),
    TcpEvent(TcpEvent),
    UdpEvent(UdpEvent),
    TcpConn(Box<TcpConnRecord>),
    UdpFlow(Box<UdpFlowRecord>),
    Error(ErrorRecord),
    Summary(Box<Summary>),
}

/// Where the pipeline's stages put records. Renderers implement it; stages
/// know only this trait.
pub trait RecordSink {
    fn record(&mut self, r: Record);
}

impl RecordSink for Vec<Record> {
    fn record(&mut self, r: Record) {
        self.push(r);
    }
}
