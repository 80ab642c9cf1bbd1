//! The JSON-lines schema as the tests see it, written independently of the
//! encoder: every record must deserialize into one of these types, and an
//! unknown field is an error, so any drift between the README's schema, these
//! types and the program fails a test.

// Fields exist to be deserialized (and so checked); not every test reads each.
#![allow(dead_code)]

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Rec {
    Meta(Meta),
    TcpEvent(TcpEvent),
    UdpEvent(UdpEvent),
    TcpConn(TcpConn),
    UdpFlow(UdpFlow),
    WsUpgrade(WsUpgrade),
    WsFrame(WsFrame),
    WsMessage(WsMessage),
    WsViolation(WsViolation),
    WsSession(WsSession),
    HttpTxn(HttpTxn),
    SseEvent(SseEvent),
    RtChannel(RtChannel),
    Error(ErrorRec),
    Summary(Summary),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Meta {
    pub schema: u32,
    pub tool: String,
    pub version: String,
    pub command: String,
    pub file: Option<String>,
    #[serde(default)]
    pub files: Vec<String>,
    pub filter: Option<String>,
    #[serde(default)]
    pub conn: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SynOptions {
    pub mss: Option<u16>,
    pub wscale: Option<u8>,
    pub sack_ok: bool,
    pub ts_ok: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TcpEvent {
    pub ts: f64,
    pub event: String,
    pub conn_id: u64,
    pub client_ip: String,
    pub client_port: u16,
    pub server_ip: String,
    pub server_port: u16,
    pub direction: String,
    #[serde(default)]
    pub options: Option<SynOptions>,
    #[serde(default)]
    pub rtt_ms: Option<f64>,
    #[serde(default)]
    pub connect_ms: Option<f64>,
    #[serde(default)]
    pub syn_to_synack_ms: Option<f64>,
    #[serde(default)]
    pub synack_to_ack_ms: Option<f64>,
    #[serde(default)]
    pub count: Option<u32>,
    #[serde(default)]
    pub bytes: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UdpEvent {
    pub ts: f64,
    pub event: String,
    pub conn_id: u64,
    pub client_ip: String,
    pub client_port: u16,
    pub server_ip: String,
    pub server_port: u16,
    pub direction: String,
    pub service: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TcpConn {
    pub conn_id: u64,
    pub client_ip: String,
    pub client_port: u16,
    pub server_ip: String,
    pub server_port: u16,
    pub vlan: Vec<u16>,
    pub state: String,
    pub history: String,
    pub verdict: String,
    pub service: Option<String>,
    pub handshake_complete: bool,
    pub simultaneous_open: bool,
    pub syn_retransmits: u32,
    pub synack_retransmits: u32,
    pub rtt_ms: Option<f64>,
    pub connect_ms: Option<f64>,
    pub syn_to_synack_ms: Option<f64>,
    pub synack_to_ack_ms: Option<f64>,
    pub mss: Option<u16>,
    pub wscale: Option<u8>,
    pub sack_ok: Option<bool>,
    pub ts_ok: Option<bool>,
    pub server_mss: Option<u16>,
    pub server_wscale: Option<u8>,
    pub server_sack_ok: Option<bool>,
    pub server_ts_ok: Option<bool>,
    pub client_packets: u64,
    pub server_packets: u64,
    pub client_bytes: u64,
    pub server_bytes: u64,
    pub missed_bytes: u64,
    pub truncated_packets: u64,
    pub closed_by: Option<String>,
    pub first_ts: f64,
    pub last_ts: f64,
    pub duration: f64,
    pub evicted: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UdpFlow {
    pub conn_id: u64,
    pub client_ip: String,
    pub client_port: u16,
    pub server_ip: String,
    pub server_port: u16,
    pub vlan: Vec<u16>,
    pub state: String,
    pub service: Option<String>,
    pub client_packets: u64,
    pub server_packets: u64,
    pub client_bytes: u64,
    pub server_bytes: u64,
    pub first_ts: f64,
    pub last_ts: f64,
    pub duration: f64,
    pub evicted: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WsUpgrade {
    pub ts: f64,
    pub request_ts: f64,
    pub conn_id: u64,
    pub client_ip: String,
    pub client_port: u16,
    pub server_ip: String,
    pub server_port: u16,
    pub method: String,
    pub target: String,
    pub host: Option<String>,
    pub origin: Option<String>,
    pub version: Option<String>,
    pub key: Option<String>,
    pub requested_protocols: Option<String>,
    pub requested_extensions: Option<String>,
    pub status: Option<u16>,
    pub reason: Option<String>,
    pub accept: Option<String>,
    pub accept_valid: Option<bool>,
    pub subprotocol: Option<String>,
    pub extensions: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WsFrame {
    pub ts: f64,
    pub conn_id: u64,
    pub client_ip: String,
    pub client_port: u16,
    pub server_ip: String,
    pub server_port: u16,
    pub direction: String,
    pub fin: bool,
    pub rsv1: bool,
    pub rsv2: bool,
    pub rsv3: bool,
    pub opcode: u8,
    pub opcode_name: String,
    pub masked: bool,
    pub payload_len: u64,
    pub close_code: Option<u16>,
    pub close_reason: Option<String>,
    pub control_payload: Option<String>,
    pub incomplete: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WsMessage {
    pub ts: f64,
    pub conn_id: u64,
    pub client_ip: String,
    pub client_port: u16,
    pub server_ip: String,
    pub server_port: u16,
    pub direction: String,
    pub opcode_name: String,
    pub frames: u32,
    pub len: u64,
    pub wire_len: u64,
    pub compressed: bool,
    pub text: Option<String>,
    pub text_truncated: bool,
    pub incomplete: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WsViolation {
    pub ts: f64,
    pub conn_id: u64,
    pub client_ip: String,
    pub client_port: u16,
    pub server_ip: String,
    pub server_port: u16,
    pub direction: String,
    pub rule: String,
    pub detail: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WsSession {
    pub ts: f64,
    pub conn_id: u64,
    pub client_ip: String,
    pub client_port: u16,
    pub server_ip: String,
    pub server_port: u16,
    pub target: String,
    pub host: Option<String>,
    pub status: Option<u16>,
    pub accept_valid: Option<bool>,
    pub subprotocol: Option<String>,
    pub extensions: Option<String>,
    pub compression: bool,
    pub client_frames: u64,
    pub server_frames: u64,
    pub client_messages: u64,
    pub server_messages: u64,
    pub client_wire_bytes: u64,
    pub server_wire_bytes: u64,
    pub client_message_bytes: u64,
    pub server_message_bytes: u64,
    pub close_code: Option<u16>,
    pub close_reason: Option<String>,
    pub closed_by: Option<String>,
    pub violations: u64,
    pub gap_bytes: u64,
    pub first_ts: f64,
    pub last_ts: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorRec {
    pub file: String,
    pub offset: u64,
    pub message: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Summary {
    pub format: Option<String>,
    pub packets: u64,
    pub bytes: u64,
    pub captured_bytes: u64,
    pub filtered_out: u64,
    pub truncated: u64,
    pub decode_errors: u64,
    pub non_ip: u64,
    pub other_ip: u64,
    pub unsupported_link: u64,
    pub damaged_records: u64,
    pub first_damaged_offset: Option<u64>,
    pub tcp_conns: u64,
    pub udp_flows: u64,
    pub ip_fragments: u64,
    pub fragments_reassembled: u64,
    pub fragments_incomplete: u64,
    pub fragment_conflicts: u64,
    pub fragments_invalid: u64,
    pub evicted: u64,
    pub ws_sessions: u64,
    pub ws_frames: u64,
    pub ws_messages: u64,
    pub ws_violations: u64,
    pub http_txns: u64,
    pub sse_events: u64,
    pub rt_channels: u64,
    pub reassembly_gaps: u64,
    pub reassembly_dropped_bytes: u64,
    pub reassembly_conflicts: u64,
    pub buffers_given_up: u64,
    pub buffer_bytes_given_up: u64,
    pub link_types: std::collections::BTreeMap<String, u64>,
    pub first_ts: Option<f64>,
    pub last_ts: Option<f64>,
    pub complete: bool,
}

/// Convenience views over a run's records.
pub trait Records {
    fn tcp(&self) -> Vec<&TcpConn>;
    fn udp(&self) -> Vec<&UdpFlow>;
    fn events(&self) -> Vec<&TcpEvent>;
    fn summary(&self) -> &Summary;
    fn error(&self) -> Option<&ErrorRec>;
    fn ws_upgrades(&self) -> Vec<&WsUpgrade>;
    fn ws_frames(&self) -> Vec<&WsFrame>;
    fn ws_messages(&self) -> Vec<&WsMessage>;
    fn ws_violations(&self) -> Vec<&WsViolation>;
    fn ws_sessions(&self) -> Vec<&WsSession>;
    fn http_txns(&self) -> Vec<&HttpTxn>;
    fn sse_events(&self) -> Vec<&SseEvent>;
    fn rt_channels(&self) -> Vec<&RtChannel>;
}

macro_rules! of_type {
    ($recs:expr, $variant:ident) => {
        $recs
            .iter()
            .filter_map(|r| match r {
                Rec::$variant(x) => Some(x),
                _ => None,
            })
            .collect()
    };
}

impl Records for Vec<Rec> {
    fn tcp(&self) -> Vec<&TcpConn> {
        let mut v: Vec<&TcpConn> = self
            .iter()
            .filter_map(|r| match r {
                Rec::TcpConn(c) => Some(c),
                _ => None,
            })
            .collect();
        v.sort_by_key(|c| c.conn_id);
        v
    }
    fn udp(&self) -> Vec<&UdpFlow> {
        let mut v: Vec<&UdpFlow> = self
            .iter()
            .filter_map(|r| match r {
                Rec::UdpFlow(c) => Some(c),
                _ => None,
            })
            .collect();
        v.sort_by_key(|c| c.conn_id);
        v
    }
    fn events(&self) -> Vec<&TcpEvent> {
        self.iter()
            .filter_map(|r| match r {
                Rec::TcpEvent(e) => Some(e),
                _ => None,
            })
            .collect()
    }
    fn summary(&self) -> &Summary {
        match self.last() {
            Some(Rec::Summary(s)) => s,
            other => panic!("the last record is not a summary: {other:?}"),
        }
    }
    fn error(&self) -> Option<&ErrorRec> {
        self.iter().find_map(|r| match r {
            Rec::Error(e) => Some(e),
            _ => None,
        })
    }
    fn ws_upgrades(&self) -> Vec<&WsUpgrade> {
        of_type!(self, WsUpgrade)
    }
    fn ws_frames(&self) -> Vec<&WsFrame> {
        of_type!(self, WsFrame)
    }
    fn ws_messages(&self) -> Vec<&WsMessage> {
        of_type!(self, WsMessage)
    }
    fn ws_violations(&self) -> Vec<&WsViolation> {
        of_type!(self, WsViolation)
    }
    fn ws_sessions(&self) -> Vec<&WsSession> {
        of_type!(self, WsSession)
    }
    fn http_txns(&self) -> Vec<&HttpTxn> {
        of_type!(self, HttpTxn)
    }
    fn sse_events(&self) -> Vec<&SseEvent> {
        of_type!(self, SseEvent)
    }
    fn rt_channels(&self) -> Vec<&RtChannel> {
        of_type!(self, RtChannel)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpTxn {
    pub ts: f64,
    pub conn_id: u64,
    pub client_ip: String,
    pub client_port: u16,
    pub server_ip: String,
    pub server_port: u16,
    pub method: String,
    pub target: String,
    pub host: Option<String>,
    pub version: String,
    pub status: Option<u16>,
    pub reason: Option<String>,
    pub content_type: Option<String>,
    pub transfer_encoding: Option<String>,
    pub req_body_len: u64,
    pub resp_body_len: u64,
    pub resp_pieces: u64,
    pub req_head_bytes: u64,
    pub resp_head_bytes: u64,
    pub request_ms: f64,
    pub wait_ms: Option<f64>,
    pub transfer_ms: Option<f64>,
    pub last_ts: f64,
    pub continued: bool,
    pub upgrade: bool,
    pub complete: bool,
    pub channel_id: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SseEvent {
    pub ts: f64,
    pub conn_id: u64,
    pub client_ip: String,
    pub client_port: u16,
    pub server_ip: String,
    pub server_port: u16,
    pub channel_id: u64,
    pub event: Option<String>,
    pub id: Option<String>,
    pub data_len: u64,
    pub data: Option<String>,
    pub data_truncated: bool,
    pub comment: Option<String>,
    pub retry: Option<u64>,
    pub dispatched: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RtChannel {
    pub channel_id: u64,
    pub technique: String,
    pub client_ip: String,
    pub server_ip: String,
    pub server_port: u16,
    pub host: Option<String>,
    pub path: String,
    pub conn_ids: Vec<u64>,
    pub requests: u64,
    pub data_messages: u64,
    pub empty_responses: u64,
    pub mean_wait_ms: Option<f64>,
    pub max_wait_ms: Option<f64>,
    pub mean_interval_ms: Option<f64>,
    pub first_ts: f64,
    pub last_ts: f64,
    pub overhead_bytes: Option<u64>,
    pub verdict: String,
}
