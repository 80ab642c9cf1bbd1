//! Following connections: `--conn SELECTOR` picks connections (not
//! packets), and every output — events, tables, JSON, the `-w` cut, the
//! ladder — is restricted to them.
//!
//! A selector is a `conn_id` (`12` or `#12`), a 4-tuple `A:P-B:P` (either
//! order; IPv6 as `[addr]:port`), or a condition in `check`'s language on a
//! connection's final record (`tcp_conn`, `udp_flow` or `ws_session`:
//! `state == "REJ"`, `rtt_ms > 100`; `ws_session where close_code == 1002`
//! names the type). Ids and 4-tuples are decided packet by packet and record
//! by record, so they work in one pass and live. A condition can only be
//! decided once its connection has ended, after its events were written:
//! a file replay therefore reads the capture twice — the first pass builds
//! only the final records, evaluates the conditions and keeps the set of
//! `conn_id`s that hold (8 bytes each); the second pass is the real run with
//! that set (`conn_id`s are numbered in order of first packet, so the same
//! file, filter and `-c` number them the same both times). Standard input
//! cannot be read twice, and a live capture cannot look ahead: a condition
//! there is a usage error that says so.
//!
//! This module knows records ([`crate::event`]) and the tap the replay
//! offers ([`crate::replay::PacketTap`]); it decides, it does not render.

pub mod cut;
pub mod ladder;

use std::collections::HashSet;
use std::net::IpAddr;

use crate::check::eval::record_holds;
use crate::check::expr::{parse_predicate, Expr};
use crate::check::schema;
use crate::event::{ConnRef, Record, RecordSink, RecordTypes};
use crate::replay::{StoppableSink, Wants};

/// One endpoint of a 4-tuple.
pub type Endpoint = (IpAddr, u16);

/// One `--conn` value, parsed.
#[derive(Clone, Debug)]
pub enum Selector {
    Id(u64),
    Tuple(Endpoint, Endpoint),
    /// A condition, parsed for each record type it applies to (those whose
    /// fields it names, with values those fields take).
    Cond {
        source: String,
        per_type: Vec<(usize, Expr)>,
    },
}

/// The record types a condition may be about.
const CONN_TYPES: [&str; 3] = ["tcp_conn", "udp_flow", "ws_session"];

fn parse_endpoint(s: &str) -> Option<Endpoint> {
    if let Some(rest) = s.strip_prefix('[') {
        let (addr, port) = rest.split_once("]:")?;
        let ip: std::net::Ipv6Addr = addr.parse().ok()?;
        return Some((IpAddr::V6(ip), port.parse().ok()?));
    }
    let (addr, port) = s.rsplit_once(':')?;
    let ip: std::net::Ipv4Addr = addr.parse().ok()?;
    Some((IpAddr::V4(ip), port.parse().ok()?))
}

impl Selector {
    /// Parses a `--conn` value; the error is one line (with the position of
    /// a condition's mistake) for the user.
    pub fn parse(src: &str) -> Result<Selector, String> {
        let s = src.trim();
        if let Ok(id) = s.strip_prefix('#').unwrap_or(s).parse::<u64>() {
            return Ok(Selector::Id(id));
        }
        // A 4-tuple: the `-` whose both sides are endpoints (neither an
        // IPv4 address nor a bracketed IPv6 one contains a `-`).
        for (i, _) in s.match_indices('-') {
            if let (Some(a), Some(b)) = (parse_endpoint(&s[..i]), parse_endpoint(&s[i + 1..])) {
                return Ok(Selector::Tuple(a, b));
            }
        }
        // `TYPE where COND` names the record type; otherwise every type the
        // condition makes sense for.
        let (types, cond): (Vec<usize>, &str) = match s.split_once(char::is_whitespace) {
            Some((first, rest)) if rest.trim_start().starts_with("where ") => {
                let Some(ty) = schema::record_type(first)
                    .filter(|t| CONN_TYPES.contains(&schema::RECORDS[*t].name))
                else {
                    return Err(format!(
                        "--conn {src:?}: `{first} where …` must name tcp_conn, udp_flow or ws_session"
                    ));
                };
                (vec![ty], rest.trim_start()["where ".len()..].trim_start())
            }
            _ => (
                CONN_TYPES
                    .iter()
                    .filter_map(|t| schema::record_type(t))
                    .collect(),
                s,
            ),
        };
        let mut per_type = Vec::new();
        let mut first_err = None;
        for ty in types {
            match parse_predicate(cond, ty) {
                Ok(e) => per_type.push((ty, e)),
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        if per_type.is_empty() {
            let e = first_err.expect("at least one type was tried");
            return Err(format!(
                "--conn {src:?} is not a conn_id (12 or #12), a 4-tuple (10.0.0.1:5000-10.0.0.2:80, \
                 [fd00::1]:5000-[fd00::2]:80) or a condition on tcp_conn's fields: {}",
                e.explain(cond)
            ));
        }
        Ok(Selector::Cond {
            source: s.to_string(),
            per_type,
        })
    }

    pub fn is_cond(&self) -> bool {
        matches!(self, Selector::Cond { .. })
    }

    /// How the selector reads (for `meta.conn` and the notes).
    pub fn describe(&self) -> String {
        match self {
            Selector::Id(id) => format!("#{id}"),
            Selector::Tuple(a, b) => format!("{}-{}", ep(a), ep(b)),
            Selector::Cond { source, .. } => source.clone(),
        }
    }
}

fn ep(e: &Endpoint) -> String {
    crate::render::human::endpoint(&e.0, e.1)
}

/// The connections chosen: by id (given, or found by a first pass over
/// conditions) and by 4-tuple. Empty selectors: everything.
#[derive(Clone, Debug, Default)]
pub struct ConnSet {
    all: bool,
    ids: HashSet<u64>,
    tuples: Vec<(Endpoint, Endpoint)>,
}

impl ConnSet {
    /// Every connection.
    pub fn everything() -> ConnSet {
        ConnSet {
            all: true,
            ..ConnSet::default()
        }
    }

    /// The set the ids and 4-tuples among `selectors` name (conditions are
    /// added by [`Decider`]).
    pub fn of(selectors: &[Selector]) -> ConnSet {
        if selectors.is_empty() {
            return ConnSet::everything();
        }
        let mut set = ConnSet::default();
        for s in selectors {
            match s {
                Selector::Id(id) => {
                    set.ids.insert(*id);
                }
                Selector::Tuple(a, b) => set.tuples.push((*a, *b)),
                Selector::Cond { .. } => {}
            }
        }
        set
    }

    pub fn add_ids(&mut self, ids: impl IntoIterator<Item = u64>) {
        self.ids.extend(ids);
    }

    fn tuple_matches(&self, a: Endpoint, b: Endpoint) -> bool {
        self.tuples
            .iter()
            .any(|(x, y)| (*x == a && *y == b) || (*x == b && *y == a))
    }

    /// Whether the connection a record names is selected.
    pub fn selects(&self, c: &ConnRef) -> bool {
        self.all
            || self.ids.contains(&c.conn_id)
            || (!self.tuples.is_empty()
                && self.tuple_matches((c.client_ip, c.client_port), (c.server_ip, c.server_port)))
    }

    /// Whether a packet (of connection `conn_id`, between these endpoints)
    /// belongs to a selected connection.
    #[inline]
    pub fn selects_packet(&self, conn_id: u64, a: Endpoint, b: Endpoint) -> bool {
        self.all
            || self.ids.contains(&conn_id)
            || (!self.tuples.is_empty() && self.tuple_matches(a, b))
    }
}

/// The first pass's sink: keeps the `conn_id`s whose final record meets a
/// condition. Asks for nothing but those records.
pub struct Decider<'s> {
    selectors: &'s [Selector],
    pub ids: HashSet<u64>,
}

impl<'s> Decider<'s> {
    pub fn new(selectors: &'s [Selector]) -> Self {
        Decider {
            selectors,
            ids: HashSet::new(),
        }
    }
}

impl RecordSink for Decider<'_> {
    fn record(&mut self, r: Record) {
        let Some(c) = schema::conn(&r) else { return };
        let ty = schema::type_index(&r);
        let held = self.selectors.iter().any(|s| match s {
            Selector::Cond { per_type, .. } => per_type
                .iter()
                .any(|(t, e)| *t == ty && record_holds(e, &r)),
            _ => false,
        });
        if held {
            self.ids.insert(c.conn_id);
        }
    }
}

impl StoppableSink for Decider<'_> {
    fn wants(&self) -> Wants {
        Wants::Types(
            CONN_TYPES
                .iter()
                .fold(RecordTypes::default(), |t, n| t.with(n)),
        )
    }
}

/// What the filter let through, for the note under the output.
#[derive(Clone, Debug, Default)]
pub struct Selected {
    pub tcp_conns: u64,
    pub udp_flows: u64,
    pub ws_sessions: u64,
    /// The first connections' ids, in the order their final records came.
    pub ids: Vec<u64>,
    /// Every connection of the capture (from `summary`).
    pub capture_tcp: u64,
    pub capture_udp: u64,
}

/// Ids listed in the note, at most.
const IDS_LISTED: usize = 20;

/// The record filter: passes the run's own records (`meta` gains the
/// selectors as `conn`), and of the others those whose connection is
/// selected. With `keep`, it also keeps a copy of the selected records for
/// the ladder (at most `keep` of them; the rest are counted).
pub struct ConnFilter<S> {
    pub inner: S,
    set: ConnSet,
    selectors: Vec<String>,
    pub selected: Selected,
    keep: usize,
    pub kept: Vec<Record>,
    pub kept_dropped: u64,
    /// What the inner sink asked for (it gets nothing else).
    inner_wants: Wants,
    /// The connections selected so far: a real-time channel (which spans
    /// connections) is kept when one of its connections was.
    passed: std::collections::HashSet<u64>,
}

impl<S> ConnFilter<S> {
    /// A filter in front of `inner`, which is given only the records it
    /// wants (`inner_wants`: a renderer's `wants()`, or `Wants::All`).
    pub fn new(
        inner: S,
        inner_wants: Wants,
        set: ConnSet,
        selectors: &[Selector],
        keep: usize,
    ) -> Self {
        ConnFilter {
            inner_wants,
            inner,
            set,
            selectors: selectors.iter().map(Selector::describe).collect(),
            selected: Selected::default(),
            keep,
            kept: Vec::new(),
            kept_dropped: 0,
            passed: std::collections::HashSet::new(),
        }
    }
}

impl<S: RecordSink> RecordSink for ConnFilter<S> {
    fn record(&mut self, mut r: Record) {
        match &mut r {
            Record::Meta(m) => m.conn = self.selectors.clone(),
            Record::Summary(s) => {
                self.selected.capture_tcp = s.tcp_conns;
                self.selected.capture_udp = s.udp_flows;
            }
            _ => {}
        }
        if let Record::RtChannel(ch) = &r {
            if !ch.conn_ids.iter().any(|id| self.passed.contains(id)) {
                return;
            }
        }
        if let Some(c) = schema::conn(&r) {
            if !self.set.selects(&c) {
                return;
            }
            self.passed.insert(c.conn_id);
            let counted = match &r {
                Record::TcpConn(_) => Some(&mut self.selected.tcp_conns),
                Record::UdpFlow(_) => Some(&mut self.selected.udp_flows),
                Record::WsSession(_) => Some(&mut self.selected.ws_sessions),
                _ => None,
            };
            if let Some(n) = counted {
                *n += 1;
                if !matches!(r, Record::WsSession(_)) && self.selected.ids.len() < IDS_LISTED {
                    self.selected.ids.push(c.conn_id);
                }
            }
            if self.keep > 0 {
                if self.kept.len() < self.keep {
                    self.kept.push(r.clone());
                } else {
                    self.kept_dropped += 1;
                }
            }
        }
        if self.inner_wants.keeps(&r) {
            self.inner.record(r);
        }
    }
}

impl<S: StoppableSink> StoppableSink for ConnFilter<S> {
    fn stopped(&self) -> bool {
        self.inner.stopped()
    }
    fn wants(&self) -> Wants {
        // The ladder reads the events even when the view shows none, and
        // the note counts the selected connections even under -q.
        if self.keep > 0 {
            return Wants::All;
        }
        match self.inner_wants {
            Wants::All => Wants::All,
            Wants::RunOnly => Wants::Types(conn_types()),
            Wants::Types(t) => Wants::Types(CONN_TYPES.iter().fold(t, |t, n| t.with(n))),
        }
    }
}

fn conn_types() -> RecordTypes {
    CONN_TYPES
        .iter()
        .fold(RecordTypes::default(), |t, n| t.with(n))
}

impl<S: crate::event::FlushSink> crate::event::FlushSink for ConnFilter<S> {
    fn flush(&mut self) {
        self.inner.flush();
    }
}

impl Selected {
    /// One line saying what `--conn` kept, e.g. `selected by --conn: 1 of 2
    /// TCP connections (#0), 0 of 0 UDP flows, 1 WebSocket session`.
    pub fn note(&self) -> String {
        let plural = |n: u64, one: &str, many: &str| {
            if n == 1 {
                format!("{n} {one}")
            } else {
                format!("{n} {many}")
            }
        };
        let mut ids: Vec<String> = self.ids.iter().map(|i| format!("#{i}")).collect();
        let listed = ids.len() as u64;
        if self.tcp_conns + self.udp_flows > listed {
            ids.push("…".into());
        }
        let ids = if ids.is_empty() {
            String::new()
        } else {
            format!(" ({})", ids.join(" "))
        };
        format!(
            "selected by --conn: {} of {} TCP connections, {} of {} UDP flows, {}{ids}",
            self.tcp_conns,
            self.capture_tcp,
            self.udp_flows,
            self.capture_udp,
            plural(self.ws_sessions, "WebSocket session", "WebSocket sessions"),
        )
    }
}

/// The packet tap of a `--conn` replay: each selected packet's file offset
/// (for `-w`) and its ladder row (for `--ladder`).
pub struct Follow {
    pub set: ConnSet,
    /// File offsets of the selected packets' records, in capture order.
    pub offsets: Option<Vec<u64>>,
    pub ladder: Option<ladder::Packets>,
    /// Selected packets seen.
    pub packets: u64,
}

impl crate::replay::PacketTap for Follow {
    fn offsets(&self) -> bool {
        self.offsets.is_some()
    }

    #[inline]
    fn packet(
        &mut self,
        p: &crate::decode::Packet<'_>,
        conn_id: u64,
        from_client: bool,
        offset: u64,
    ) {
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
        self.packets += 1;
        if let Some(o) = self.offsets.as_mut() {
            // A datagram rebuilt from fragments is cut as its last
            // fragment's frame only (its others carried no ports).
            if o.last() != Some(&offset) {
                o.push(offset);
            }
        }
        if let Some(l) = self.ladder.as_mut() {
            l.push(p, conn_id, from_client);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_parse() {
        assert!(matches!(Selector::parse("12"), Ok(Selector::Id(12))));
        assert!(matches!(Selector::parse("#3"), Ok(Selector::Id(3))));
        let Ok(Selector::Tuple(a, b)) = Selector::parse("10.0.0.1:5000-10.0.0.2:80") else {
            panic!()
        };
        assert_eq!(a, ("10.0.0.1".parse().unwrap(), 5000));
        assert_eq!(b, ("10.0.0.2".parse().unwrap(), 80));
        let Ok(Selector::Tuple(a, _)) = Selector::parse("[fd00:99::2]:58404-[fd00:99::1]:9") else {
            panic!()
        };
        assert_eq!(a.1, 58404);
        // A condition applies to the types whose fields and values it names.
        let Ok(Selector::Cond { per_type, .. }) = Selector::parse(r#"state == "REJ""#) else {
            panic!()
        };
        let names: Vec<&str> = per_type
            .iter()
            .map(|(t, _)| schema::RECORDS[*t].name)
            .collect();
        assert_eq!(names, ["tcp_conn"]);
        let Ok(Selector::Cond { per_type, .. }) = Selector::parse("server_port == 8765") else {
            panic!()
        };
        assert_eq!(per_type.len(), 3);
        let Ok(Selector::Cond { per_type, .. }) =
            Selector::parse("ws_session where close_code == 1000")
        else {
            panic!()
        };
        assert_eq!(per_type.len(), 1);
        let e = Selector::parse("rtt_mss > 1").unwrap_err();
        assert!(e.contains("rtt_ms"), "{e}");
        assert!(Selector::parse("10.0.0.1:5000-10.0.0.2").is_err());
    }

    #[test]
    fn a_tuple_matches_in_either_order() {
        let set = ConnSet::of(&[Selector::parse("10.0.0.1:5000-10.0.0.2:80").unwrap()]);
        let a = ("10.0.0.1".parse().unwrap(), 5000);
        let b = ("10.0.0.2".parse().unwrap(), 80);
        assert!(set.selects_packet(7, a, b));
        assert!(set.selects_packet(7, b, a));
        assert!(!set.selects_packet(7, a, (b.0, 81)));
    }
}
