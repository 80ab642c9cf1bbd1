//! `sockscope report FILE… -o report.html`: one self-contained HTML page
//! (inline styles and SVG, no script, nothing fetched when opened) that a
//! developer attaches to a ticket or a CI run publishes: capture health, a
//! timeline of connections, handshake RTT and connect-time distributions
//! and outcomes per server endpoint (refused and unanswered counted beside),
//! top talkers, WebSocket sessions, messages over time and violations, and
//! each connection's ladder drawn as SVG (anchors `#conn-ID`).
//!
//! Every number comes from the records `-F json` writes, gathered here as
//! they stream past in bounded memory: the timeline keeps the longest
//! connections and counts the rest per time bucket, per-server tables keep
//! their connections' RTTs (8 bytes each, up to a cap, exact percentiles),
//! the maps of servers and hosts are capped with the rest summed as
//! "other". A ten-million-packet capture makes a page of a few hundred
//! kilobytes: never a DOM node per packet or per connection.

mod html;

use std::collections::{BinaryHeap, HashMap};
use std::net::IpAddr;

use crate::event::{
    CaptureStats, Direction, ErrorRecord, Record, RecordSink, Summary, WsSideTotals,
};
use crate::replay::{StoppableSink, Wants};
use crate::time::{Nanos, Timestamp};

pub use html::write_html;

/// What a report shows, at most.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Connections drawn as bars on the timeline (the longest).
    pub timeline_bars: usize,
    /// Server endpoints shown (those with most connections).
    pub servers: usize,
    /// Hosts in the top talkers.
    pub talkers: usize,
    /// Connections with a ladder.
    pub ladders: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeline_bars: 150,
            servers: 12,
            talkers: 15,
            ladders: 60,
        }
    }
}

/// Servers and hosts tracked at once; beyond, summed as "other".
const MAX_SERVERS: usize = 100_000;
const MAX_HOSTS: usize = 200_000;
/// RTT and connect values kept for percentiles (16 bytes a connection).
const MAX_VALUES: usize = 4_000_000;
/// WebSocket sessions listed, sessions drawn over time, messages kept each.
const WS_ROWS: usize = 200;
const WS_SERIES: usize = 8;
const WS_SERIES_MESSAGES: usize = 50_000;
/// Violations listed.
const VIOLATION_ROWS: usize = 300;
/// Records kept for the ladders.
const LADDER_RECORDS: usize = 200_000;

/// Outcome classes (bar colours): established and closed, refused,
/// unanswered, reset, half-open or other.
pub const CLASSES: [&str; 5] = ["closed normally", "refused", "unanswered", "reset", "other"];

pub fn class_of(state: &str) -> usize {
    match state {
        "SF" | "S1" => 0,
        "REJ" => 1,
        "S0" => 2,
        "RSTO" | "RSTR" | "RSTOS0" | "RSTRH" => 3,
        _ => 4,
    }
}

/// A bar of the timeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bar {
    pub duration: i64,
    pub conn_id: u64,
    pub first: Timestamp,
    pub last: Timestamp,
    pub proto: &'static str,
    pub state: &'static str,
    pub text: String,
}

impl Ord for Bar {
    // Longest first kept: the heap's top is the shortest kept.
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        o.duration
            .cmp(&self.duration)
            .then(self.conn_id.cmp(&o.conn_id))
    }
}
impl PartialOrd for Bar {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}

/// One server endpoint's connections.
#[derive(Default, Debug)]
pub struct Server {
    pub conns: u64,
    pub states: std::collections::BTreeMap<&'static str, u64>,
    pub rtt: Vec<Nanos>,
    pub connect: Vec<Nanos>,
    /// Values not kept (over [`MAX_VALUES`]).
    pub values_dropped: u64,
}

/// A WebSocket session's row.
#[derive(Clone, Debug)]
pub struct WsRow {
    pub conn_id: u64,
    pub client: String,
    pub server: String,
    pub target: String,
    pub status: Option<u16>,
    pub client_totals: WsSideTotals,
    pub server_totals: WsSideTotals,
    pub close: String,
    pub violations: u64,
}

/// A message of a drawn session: when, who, how big.
#[derive(Clone, Copy, Debug)]
pub struct Msg {
    pub ts: Timestamp,
    pub from_client: bool,
    pub len: u64,
}

/// A violation's row.
#[derive(Clone, Debug)]
pub struct ViolationRow {
    pub ts: Timestamp,
    pub conn_id: u64,
    pub direction: Direction,
    pub rule: &'static str,
    pub detail: String,
}

/// The records of a run, gathered for the page.
pub struct Collector {
    limits: Limits,
    /// Ladders for connections below this id (no `--conn`), or for every
    /// selected one (bounded by the ladder's caps).
    pub ladder_below: Option<u64>,
    pub files: Vec<String>,
    pub filter: Option<String>,
    pub conn: Vec<String>,
    pub summary: Option<Summary>,
    pub error: Option<ErrorRecord>,
    pub capture: Option<CaptureStats>,
    pub tcp: u64,
    pub udp: u64,
    pub states: std::collections::BTreeMap<&'static str, u64>,
    pub bars: BinaryHeap<Bar>,
    /// Connection starts per second of capture time, by class.
    pub starts: HashMap<i64, [u64; 5]>,
    pub servers: HashMap<(IpAddr, u16, &'static str), Server>,
    pub other_servers: u64,
    /// Payload bytes each host sent and received.
    pub hosts: HashMap<IpAddr, (u64, u64)>,
    pub other_hosts: (u64, u64),
    pub ws_rows: Vec<WsRow>,
    pub ws_sessions: u64,
    pub ws_series: HashMap<u64, Vec<Msg>>,
    /// Message sizes: counts per power of two, per direction.
    pub ws_sizes: [[u64; 40]; 2],
    pub ws_messages: u64,
    pub violations: Vec<ViolationRow>,
    pub violations_total: u64,
    pub ladder_records: Vec<Record>,
    /// HTTP exchanges, and the waits of the first [`HTTP_WAITS`].
    pub http_txns: u64,
    pub http_waits: Vec<Nanos>,
    /// Real-time channels: the first [`CHANNEL_ROWS`], and how many.
    pub channels: Vec<crate::event::RtChannel>,
    pub channels_total: u64,
}

/// HTTP waits kept for the histogram (8 bytes each).
pub const HTTP_WAITS: usize = 1 << 20;
/// Real-time channels listed.
pub const CHANNEL_ROWS: usize = 200;

impl Collector {
    pub fn new(limits: Limits, ladder_below: Option<u64>) -> Self {
        Collector {
            limits,
            ladder_below,
            files: Vec::new(),
            filter: None,
            conn: Vec::new(),
            summary: None,
            error: None,
            capture: None,
            tcp: 0,
            udp: 0,
            states: Default::default(),
            bars: BinaryHeap::new(),
            starts: HashMap::new(),
            servers: HashMap::new(),
            other_servers: 0,
            hosts: HashMap::new(),
            other_hosts: (0, 0),
            ws_rows: Vec::new(),
            ws_sessions: 0,
            ws_series: HashMap::new(),
            ws_sizes: [[0; 40]; 2],
            ws_messages: 0,
            violations: Vec::new(),
            violations_total: 0,
            ladder_records: Vec::new(),
            http_txns: 0,
            http_waits: Vec::new(),
            channels: Vec::new(),
            channels_total: 0,
        }
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    fn bar(&mut self, bar: Bar) {
        let cap = self.limits.timeline_bars;
        if cap == 0 {
            return;
        }
        if self.bars.len() < cap {
            self.bars.push(bar);
        } else if self.bars.peek().is_some_and(|top| bar < *top) {
            self.bars.pop();
            self.bars.push(bar);
        }
    }

    fn host(&mut self, ip: IpAddr, sent: u64, received: u64) {
        let full = self.hosts.len() >= MAX_HOSTS;
        match self.hosts.get_mut(&ip) {
            Some(h) => {
                h.0 += sent;
                h.1 += received;
            }
            None if full => {
                self.other_hosts.0 += sent;
                self.other_hosts.1 += received;
            }
            None => {
                self.hosts.insert(ip, (sent, received));
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn conn(
        &mut self,
        proto: &'static str,
        state: &'static str,
        server: (IpAddr, u16),
        first: Timestamp,
        rtt: Option<Nanos>,
        connect: Option<Nanos>,
    ) {
        *self.states.entry(state).or_default() += 1;
        self.starts
            .entry(first.0.div_euclid(1_000_000_000))
            .or_default()[class_of(state)] += 1;
        let key = (server.0, server.1, proto);
        let full = self.servers.len() >= MAX_SERVERS;
        let s = match self.servers.get_mut(&key) {
            Some(s) => s,
            None if full => {
                self.other_servers += 1;
                return;
            }
            None => self.servers.entry(key).or_default(),
        };
        s.conns += 1;
        *s.states.entry(state).or_default() += 1;
        for (v, into) in [(rtt, &mut s.rtt), (connect, &mut s.connect)] {
            if let Some(v) = v {
                if into.len() < MAX_VALUES {
                    into.push(v);
                } else {
                    s.values_dropped += 1;
                }
            }
        }
    }

    fn keeps_for_ladder(&self, conn_id: u64) -> bool {
        self.ladder_records.len() < LADDER_RECORDS && self.ladder_below.is_none_or(|b| conn_id < b)
    }
}

pub(crate) fn ep(ip: &IpAddr, port: u16) -> String {
    crate::render::human::endpoint(ip, port)
}

impl RecordSink for Collector {
    fn record(&mut self, r: Record) {
        if let Some(c) = crate::check::schema::conn(&r) {
            if self.limits.ladders > 0 && self.keeps_for_ladder(c.conn_id) {
                let wanted = matches!(
                    r,
                    Record::TcpEvent(_)
                        | Record::UdpEvent(_)
                        | Record::TcpConn(_)
                        | Record::UdpFlow(_)
                        | Record::WsUpgrade(_)
                        | Record::WsFrame(_)
                        | Record::WsMessage(_)
                        | Record::WsViolation(_)
                );
                if wanted {
                    self.ladder_records.push(r.clone());
                }
            }
        }
        match r {
            Record::Meta(m) => {
                self.files = if m.files.is_empty() {
                    m.file.into_iter().collect()
                } else {
                    m.files
                };
                self.filter = m.filter;
                self.conn = m.conn;
            }
            Record::TcpConn(c) => {
                self.tcp += 1;
                self.conn(
                    "tcp",
                    c.state,
                    (c.server_ip, c.server_port),
                    c.first_ts,
                    c.rtt_ms,
                    c.connect_ms,
                );
                self.host(c.client_ip, c.client_bytes, c.server_bytes);
                self.host(c.server_ip, c.server_bytes, c.client_bytes);
                self.bar(Bar {
                    duration: c.duration.0,
                    conn_id: c.conn_id,
                    first: c.first_ts,
                    last: c.last_ts,
                    proto: "TCP",
                    state: c.state,
                    text: format!(
                        "#{} TCP {} → {}  {}  {}  history {}  {} s",
                        c.conn_id,
                        ep(&c.client_ip, c.client_port),
                        ep(&c.server_ip, c.server_port),
                        c.state,
                        c.verdict,
                        c.history,
                        crate::follow::ladder::exact(c.duration.0, 9)
                    ),
                });
            }
            Record::UdpFlow(f) => {
                self.udp += 1;
                self.conn(
                    "udp",
                    f.state,
                    (f.server_ip, f.server_port),
                    f.first_ts,
                    None,
                    None,
                );
                self.host(f.client_ip, f.client_bytes, f.server_bytes);
                self.host(f.server_ip, f.server_bytes, f.client_bytes);
                self.bar(Bar {
                    duration: f.duration.0,
                    conn_id: f.conn_id,
                    first: f.first_ts,
                    last: f.last_ts,
                    proto: "UDP",
                    state: f.state,
                    text: format!(
                        "#{} UDP {} → {}  {}  {} s",
                        f.conn_id,
                        ep(&f.client_ip, f.client_port),
                        ep(&f.server_ip, f.server_port),
                        f.state,
                        crate::follow::ladder::exact(f.duration.0, 9)
                    ),
                });
            }
            Record::WsSession(w) => {
                self.ws_sessions += 1;
                if self.ws_rows.len() < WS_ROWS {
                    let close = match (w.close_code, w.closed_by) {
                        (Some(c), Some(by)) => format!("{c} by {}", by.as_str()),
                        (None, Some(by)) => format!("by {}", by.as_str()),
                        _ => "-".into(),
                    };
                    self.ws_rows.push(WsRow {
                        conn_id: w.conn.conn_id,
                        client: ep(&w.conn.client_ip, w.conn.client_port),
                        server: ep(&w.conn.server_ip, w.conn.server_port),
                        target: w.target.clone(),
                        status: w.status,
                        client_totals: w.client,
                        server_totals: w.server,
                        close,
                        violations: w.violations,
                    });
                }
            }
            Record::WsMessage(m) => {
                self.ws_messages += 1;
                let d = usize::from(m.direction == Direction::Server);
                let bucket = (64 - m.len.leading_zeros() as usize).min(39);
                self.ws_sizes[d][bucket] += 1;
                let id = m.conn.conn_id;
                let room = self.ws_series.len() < WS_SERIES * 4;
                let series = match self.ws_series.get_mut(&id) {
                    Some(s) => Some(s),
                    None if room => Some(self.ws_series.entry(id).or_default()),
                    None => None,
                };
                if let Some(s) = series {
                    if s.len() < WS_SERIES_MESSAGES {
                        s.push(Msg {
                            ts: m.ts,
                            from_client: m.direction == Direction::Client,
                            len: m.len,
                        });
                    }
                }
            }
            Record::WsViolation(v) => {
                self.violations_total += 1;
                if self.violations.len() < VIOLATION_ROWS {
                    self.violations.push(ViolationRow {
                        ts: v.ts,
                        conn_id: v.conn.conn_id,
                        direction: v.direction,
                        rule: v.rule,
                        detail: v.detail.clone(),
                    });
                }
            }
            Record::HttpTxn(t) => {
                self.http_txns += 1;
                if let Some(w) = t.wait_ms.filter(|_| self.http_waits.len() < HTTP_WAITS) {
                    self.http_waits.push(w);
                }
            }
            Record::RtChannel(ch) => {
                self.channels_total += 1;
                if self.channels.len() < CHANNEL_ROWS {
                    self.channels.push(*ch);
                }
            }
            Record::Error(e) => self.error = Some(e),
            Record::CaptureStats(c) => self.capture = Some(*c),
            Record::Summary(s) => self.summary = Some(*s),
            _ => {}
        }
    }
}

impl StoppableSink for Collector {
    fn wants(&self) -> Wants {
        Wants::All
    }
}

/// The report's packet tap: ladder rows for the connections that get a
/// ladder (below an id, or every selected one), within the ladder's caps.
pub struct LadderTap {
    pub set: crate::follow::ConnSet,
    pub below: Option<u64>,
    pub packets: crate::follow::ladder::Packets,
    pub max_conns: usize,
    conns: std::collections::HashSet<u64>,
}

impl LadderTap {
    pub fn new(set: crate::follow::ConnSet, below: Option<u64>, max_conns: usize) -> Self {
        LadderTap {
            set,
            below,
            packets: Default::default(),
            max_conns,
            conns: Default::default(),
        }
    }
}

impl crate::replay::PacketTap for LadderTap {
    #[inline]
    fn packet(
        &mut self,
        p: &crate::decode::Packet<'_>,
        conn_id: u64,
        from_client: bool,
        _offset: u64,
    ) {
        if self.below.is_some_and(|b| conn_id >= b) || self.max_conns == 0 {
            return;
        }
        let (sport, dport) = match &p.transport {
            crate::decode::Transport::Tcp(t) => (t.src_port, t.dst_port),
            crate::decode::Transport::Udp(u) => (u.src_port, u.dst_port),
        };
        if !self
            .set
            .selects_packet(conn_id, (p.src, sport), (p.dst, dport))
        {
            return;
        }
        if !self.conns.contains(&conn_id) {
            if self.conns.len() >= self.max_conns {
                return;
            }
            self.conns.insert(conn_id);
        }
        self.packets.push(p, conn_id, from_client);
    }
}

/// Exact nearest-rank percentile of sorted values.
pub fn percentile(sorted: &[Nanos], p: f64) -> Option<Nanos> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    Some(sorted[rank.min(sorted.len()) - 1])
}
