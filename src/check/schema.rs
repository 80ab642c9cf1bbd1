//! The JSON-lines record types an expectation can select, their short
//! aliases, and their fields — so a misspelt name is an error at parse
//! time, not a count of zero that quietly holds. An integration test keeps
//! this list equal to what `replay --format json` writes.

/// (type, fields). Nested objects are reached with dots (`options.mss`).
pub const RECORDS: &[(&str, &[&str])] = &[
    (
        "tcp_conn",
        &[
            "conn_id",
            "client_ip",
            "client_port",
            "server_ip",
            "server_port",
            "vlan",
            "state",
            "history",
            "verdict",
            "service",
            "handshake_complete",
            "simultaneous_open",
            "syn_retransmits",
            "synack_retransmits",
            "rtt_ms",
            "connect_ms",
            "syn_to_synack_ms",
            "synack_to_ack_ms",
            "mss",
            "wscale",
            "sack_ok",
            "ts_ok",
            "server_mss",
            "server_wscale",
            "server_sack_ok",
            "server_ts_ok",
            "client_packets",
            "server_packets",
            "client_bytes",
            "server_bytes",
            "missed_bytes",
            "truncated_packets",
            "closed_by",
            "first_ts",
            "last_ts",
            "duration",
            "evicted",
        ],
    ),
    (
        "udp_flow",
        &[
            "conn_id",
            "client_ip",
            "client_port",
            "server_ip",
            "server_port",
            "vlan",
            "state",
            "service",
            "client_packets",
            "server_packets",
            "client_bytes",
            "server_bytes",
            "first_ts",
            "last_ts",
            "duration",
            "evicted",
        ],
    ),
    (
        "tcp_event",
        &[
            "ts",
            "event",
            "conn_id",
            "client_ip",
            "client_port",
            "server_ip",
            "server_port",
            "direction",
            "options",
            "syn_to_synack_ms",
            "rtt_ms",
            "connect_ms",
            "synack_to_ack_ms",
            "count",
        ],
    ),
    (
        "udp_event",
        &[
            "ts",
            "event",
            "conn_id",
            "client_ip",
            "client_port",
            "server_ip",
            "server_port",
            "direction",
            "service",
        ],
    ),
    (
        "ws_upgrade",
        &[
            "ts",
            "request_ts",
            "conn_id",
            "client_ip",
            "client_port",
            "server_ip",
            "server_port",
            "method",
            "target",
            "host",
            "origin",
            "version",
            "key",
            "requested_protocols",
            "requested_extensions",
            "status",
            "reason",
            "accept",
            "accept_valid",
            "subprotocol",
            "extensions",
        ],
    ),
    (
        "ws_frame",
        &[
            "ts",
            "conn_id",
            "client_ip",
            "client_port",
            "server_ip",
            "server_port",
            "direction",
            "fin",
            "rsv1",
            "rsv2",
            "rsv3",
            "opcode",
            "opcode_name",
            "masked",
            "payload_len",
            "close_code",
            "close_reason",
            "control_payload",
            "incomplete",
        ],
    ),
    (
        "ws_message",
        &[
            "ts",
            "conn_id",
            "client_ip",
            "client_port",
            "server_ip",
            "server_port",
            "direction",
            "opcode_name",
            "frames",
            "len",
            "wire_len",
            "compressed",
            "text",
            "text_truncated",
            "incomplete",
        ],
    ),
    (
        "ws_violation",
        &[
            "ts",
            "conn_id",
            "client_ip",
            "client_port",
            "server_ip",
            "server_port",
            "direction",
            "rule",
            "detail",
        ],
    ),
    (
        "ws_session",
        &[
            "ts",
            "conn_id",
            "client_ip",
            "client_port",
            "server_ip",
            "server_port",
            "target",
            "host",
            "status",
            "accept_valid",
            "subprotocol",
            "extensions",
            "compression",
            "client_frames",
            "server_frames",
            "client_messages",
            "server_messages",
            "client_wire_bytes",
            "server_wire_bytes",
            "client_message_bytes",
            "server_message_bytes",
            "close_code",
            "close_reason",
            "closed_by",
            "violations",
            "gap_bytes",
            "first_ts",
            "last_ts",
        ],
    ),
    (
        "summary",
        &[
            "format",
            "packets",
            "bytes",
            "captured_bytes",
            "filtered_out",
            "truncated",
            "decode_errors",
            "non_ip",
            "other_ip",
            "unsupported_link",
            "damaged_records",
            "first_damaged_offset",
            "tcp_conns",
            "udp_flows",
            "ip_fragments",
            "fragments_reassembled",
            "fragments_incomplete",
            "fragment_conflicts",
            "fragments_invalid",
            "evicted",
            "ws_sessions",
            "ws_frames",
            "ws_messages",
            "ws_violations",
            "reassembly_gaps",
            "reassembly_dropped_bytes",
            "reassembly_conflicts",
            "buffers_given_up",
            "buffer_bytes_given_up",
            "link_types",
            "first_ts",
            "last_ts",
            "complete",
        ],
    ),
    // Written by live capture; a replay has none (expectations on it are
    // skipped there, not failed).
    (
        "capture_stats",
        &[
            "interface",
            "socket",
            "link_type",
            "snaplen",
            "captured",
            "received",
            "kernel_drops",
            "interface_drops",
            "duration",
        ],
    ),
    (
        "meta",
        &["schema", "tool", "version", "command", "file", "filter"],
    ),
    ("error", &["file", "offset", "message"]),
];

/// Short names users may type.
pub const ALIASES: &[(&str, &str)] = &[
    ("tcp", "tcp_conn"),
    ("udp", "udp_flow"),
    ("ws", "ws_session"),
    ("upgrade", "ws_upgrade"),
    ("frame", "ws_frame"),
    ("message", "ws_message"),
    ("violation", "ws_violation"),
];

/// Record types with one record per run: `summary.truncated` names a
/// value, not a set.
pub const SINGLETONS: &[&str] = &["summary", "capture_stats", "meta"];

/// The canonical name of a record type or alias.
pub fn record_type(name: &str) -> Option<&'static str> {
    RECORDS
        .iter()
        .map(|(t, _)| *t)
        .find(|t| *t == name)
        .or_else(|| ALIASES.iter().find(|(a, _)| *a == name).map(|(_, t)| *t))
}

/// Whether `path`'s first part is a field of `ty` (nested parts are not
/// checked: `link_types.ETHERNET` names a key the capture decides).
pub fn has_field(ty: &str, path: &[String]) -> bool {
    let Some(first) = path.first() else {
        return false;
    };
    fields(ty).iter().any(|f| f == first) || first == "type"
}

pub fn fields(ty: &str) -> &'static [&'static str] {
    RECORDS
        .iter()
        .find(|(t, _)| *t == ty)
        .map(|(_, f)| *f)
        .unwrap_or(&[])
}

/// Every type name and alias, for "expected one of" messages.
pub fn type_names() -> String {
    let mut v: Vec<&str> = RECORDS.iter().map(|(t, _)| *t).collect();
    v.extend(ALIASES.iter().map(|(a, _)| *a));
    v.join(", ")
}
