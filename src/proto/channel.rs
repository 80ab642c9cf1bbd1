//! Real-time channels: what one client does to get updates from one server
//! resource, and which technique it uses (RFC 6202's terms).
//!
//! A channel is one WebSocket session, or the series of HTTP requests one
//! client makes to one server and path (the query ignored): one request (a
//! page, an API call), a streaming response, an event stream and its
//! reconnections, or a series of polls. The HTTP decoders of all
//! connections share one [`Channels`] table: each request is given its
//! channel's id when its head is read (so records written before the
//! channel is classified carry it), and each exchange adds to its channel's
//! totals when it ends. The technique is decided when the run ends, from
//! the whole series.
//!
//! Thresholds (documented in the README and `--help`):
//! - *held*: a wait (last request byte → first response byte) of at least
//!   [`HELD`] — far above any round trip on one network, so the server
//!   chose to wait;
//! - *at once*: a client that asks again less than [`AT_ONCE`] after the
//!   previous answer ended (a long-polling client re-arms immediately; a
//!   polling client sleeps its interval);
//! - *spread*: a streaming body whose pieces span at least [`SPREAD`];
//! - a series of two requests is `unclassified` (one more request is what
//!   tells a poll from a retry); three or more: `long_polling` when the
//!   median wait is at least [`HELD`] or at least [`HELD_SHORT`] with the
//!   client asking again at once; `polling` when the client waits at least
//!   [`AT_ONCE`] before asking again; otherwise `request` (a burst of
//!   requests: a page and its resources).

use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::Mutex;

use hashbrown::HashTable;

use crate::event::{HttpTxn, Record, RecordSink, RtChannel};
use crate::time::{Nanos, Timestamp};

/// A median wait this long is a server holding requests.
pub const HELD: Nanos = Nanos(1_000_000_000);
/// A median wait this long, with a client that asks again at once, is long
/// polling too (servers answer held requests as soon as data arrives).
pub const HELD_SHORT: Nanos = Nanos(200_000_000);
/// A client asking again within this of the last answer asks "at once".
pub const AT_ONCE: Nanos = Nanos(100_000_000);
/// A streaming body spreads its pieces over at least this.
pub const SPREAD: Nanos = Nanos(1_000_000_000);
/// Channels kept at once; beyond it the least recently active one is
/// written early (counted as evicted).
pub const MAX_CHANNELS: usize = 16_384;
/// Connection ids listed per channel.
pub const MAX_CONN_IDS: usize = 64;
/// Body lengths counted per channel (a poll's "nothing new" answer is the
/// length it answers most often).
const MAX_LENGTHS: usize = 32;
/// Waits and gaps kept per channel for the medians (the first ones).
const MAX_SAMPLES: usize = 4096;

/// Every technique a channel can have.
pub const TECHNIQUES: &[&str] = &[
    "websocket",
    "sse",
    "streaming",
    "long_polling",
    "polling",
    "request",
    "unclassified",
];

/// What an exchange's response body was, for its channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyKind {
    /// An event stream that dispatched this many events.
    Events(u64),
    /// A body without a length whose pieces (this many) spread over at
    /// least [`SPREAD`].
    Streamed(u64),
    /// Anything else (no body, or one delivered whole).
    Whole,
}

/// Which series a request belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Key {
    client_ip: IpAddr,
    server_ip: IpAddr,
    server_port: u16,
    path: Box<str>,
    /// A WebSocket session is a channel of its own.
    conn_id: Option<u64>,
}

/// A [`Key`] to look up without allocating.
#[derive(Hash)]
struct KeyRef<'a> {
    client_ip: IpAddr,
    server_ip: IpAddr,
    server_port: u16,
    path: &'a str,
    conn_id: Option<u64>,
}

impl KeyRef<'_> {
    fn is(&self, k: &Key) -> bool {
        self.server_port == k.server_port
            && self.conn_id == k.conn_id
            && self.client_ip == k.client_ip
            && self.server_ip == k.server_ip
            && *self.path == *k.path
    }
}

/// A channel as its requests know it: its id, and the slot of the table
/// that holds it. A slot is reused once its channel was written, so the id
/// says whether the slot still holds the same channel.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChannelRef {
    pub id: u64,
    slot: u32,
}

/// What a channel of several requests keeps for its medians (made at its
/// second request: most channels have one).
#[derive(Debug, Default)]
struct Samples {
    waits: Vec<i64>,
    /// From one answer's end to the next request.
    reask_gaps: Vec<i64>,
    /// How many answers had each body length (the first [`MAX_LENGTHS`]).
    lengths: Vec<(u64, u64)>,
    conn_ids: Vec<u64>,
}

#[derive(Debug)]
struct Channel {
    id: u64,
    key: Key,
    host: Option<Box<str>>,
    first_conn: u64,
    requests: u64,
    data_messages: u64,
    ws_messages: u64,
    websocket: bool,
    sse: bool,
    streaming: bool,
    /// Sum, count and max of the waits measured.
    wait_sum: i64,
    wait_count: i64,
    wait_max: Option<Nanos>,
    /// The first wait and body length, until there are samples.
    first_wait: Option<i64>,
    first_len: Option<u64>,
    samples: Option<Box<Samples>>,
    last_answer_end: Option<Timestamp>,
    first_request: Option<Timestamp>,
    last_request: Option<Timestamp>,
    /// Answers delivered whole, and those without a body (or 204, 304).
    answers: u64,
    plain_empty: u64,
    head_bytes: u64,
    first_ts: Timestamp,
    last_ts: Timestamp,
}

/// The channel table shared by every connection's HTTP decoder.
#[derive(Debug, Default)]
pub struct Channels {
    inner: Mutex<Table>,
}

/// No slot.
const NIL: u32 = u32::MAX;

/// The channels in at most [`MAX_CHANNELS`] slots, reused. Every request
/// looks its channel up and makes it the most recently active, and most
/// channels of a busy capture have one request: the lookup must not touch
/// a channel it does not find, and the recency list must not touch the
/// channels around the one it moves. So the hash of each slot's key is
/// kept in the index beside its slot number (a miss reads no channel), and
/// the recency list is its own array of slot numbers (8 bytes a channel,
/// in cache), not links inside the channels.
#[derive(Debug)]
struct Table {
    slots: Vec<Channel>,
    /// Previous and next slot in order of activity (least recent first).
    links: Vec<[u32; 2]>,
    /// Each slot's key hash (to remove it from the index).
    hashes: Vec<u64>,
    /// Least and most recently active slot.
    oldest: u32,
    newest: u32,
    /// (key hash, slot) of every channel.
    index: HashTable<(u64, u32)>,
    hasher: foldhash::fast::RandomState,
    next_id: u64,
    evicted: u64,
    /// Exchanges and event-stream events seen, channels written.
    exchanges: u64,
    sse_events: u64,
    written: u64,
}

impl Default for Table {
    fn default() -> Self {
        Table {
            slots: Vec::new(),
            links: Vec::new(),
            hashes: Vec::new(),
            oldest: NIL,
            newest: NIL,
            index: HashTable::new(),
            hasher: foldhash::fast::RandomState::default(),
            next_id: 0,
            evicted: 0,
            exchanges: 0,
            sse_events: 0,
            written: 0,
        }
    }
}

impl Table {
    fn unlink(&mut self, s: u32) {
        let [prev, next] = self.links[s as usize];
        match prev {
            NIL => self.oldest = next,
            p => self.links[p as usize][1] = next,
        }
        match next {
            NIL => self.newest = prev,
            n => self.links[n as usize][0] = prev,
        }
    }

    fn push_newest(&mut self, s: u32) {
        self.links[s as usize] = [self.newest, NIL];
        match self.newest {
            NIL => self.oldest = s,
            n => self.links[n as usize][1] = s,
        }
        self.newest = s;
    }

    fn get_mut(&mut self, r: ChannelRef) -> Option<&mut Channel> {
        self.slots.get_mut(r.slot as usize).filter(|c| c.id == r.id)
    }
}

/// What the HTTP decoders counted, for the summary.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HttpCounts {
    pub exchanges: u64,
    pub sse_events: u64,
    pub channels: u64,
}

fn median(v: &mut [i64]) -> Option<i64> {
    if v.is_empty() {
        return None;
    }
    let mid = (v.len() - 1) / 2;
    Some(*v.select_nth_unstable(mid).1)
}

/// The path of a request target: without its query, origin-form (an
/// absolute-form target loses its scheme and authority).
pub fn path_of(target: &str) -> &str {
    let t = target.split(['?', '#']).next().unwrap_or("");
    if let Some(rest) = t
        .strip_prefix("http://")
        .or_else(|| t.strip_prefix("https://"))
    {
        return rest.find('/').map_or("/", |i| &rest[i..]);
    }
    t
}

impl Channels {
    pub fn new() -> Self {
        Channels::default()
    }

    fn table(&self) -> std::sync::MutexGuard<'_, Table> {
        // A panic elsewhere cannot leave the table half-updated in a way
        // that matters to the counts: carry on with it.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The channel of a request whose head was just read; a channel evicted
    /// to make room is written to `sink`.
    #[allow(clippy::too_many_arguments)]
    pub fn request(
        &self,
        conn_id: u64,
        client_ip: IpAddr,
        server_ip: IpAddr,
        server_port: u16,
        host: Option<&str>,
        target: &str,
        websocket: bool,
        ts: Timestamp,
        sink: &mut dyn RecordSink,
    ) -> ChannelRef {
        let path = path_of(target);
        let probe = KeyRef {
            client_ip,
            server_ip,
            server_port,
            path,
            conn_id: websocket.then_some(conn_id),
        };
        let mut guard = self.table();
        let t = &mut *guard;
        let hash = t.hasher.hash_one(&probe);
        let slots = &t.slots;
        let found = t
            .index
            .find(hash, |&(h, s)| {
                h == hash && probe.is(&slots[s as usize].key)
            })
            .map(|&(_, s)| s);
        let slot = match found {
            Some(s) => {
                // The most recently active channel goes to the back.
                if t.newest != s {
                    t.unlink(s);
                    t.push_newest(s);
                }
                s
            }
            None => {
                t.next_id += 1;
                let records = sink.flow_records().http;
                let key = Key {
                    client_ip,
                    server_ip,
                    server_port,
                    path: Box::from(path),
                    conn_id: probe.conn_id,
                };
                // The host is only ever written in the record.
                let host = host.filter(|_| records);
                let fresh = Channel::new(t.next_id, key, host, conn_id, ts);
                let s = if t.slots.len() >= MAX_CHANNELS {
                    let s = t.oldest;
                    t.unlink(s);
                    let old_hash = t.hashes[s as usize];
                    if let Ok(e) = t.index.find_entry(old_hash, |&(_, x)| x == s) {
                        e.remove();
                    }
                    let old = std::mem::replace(&mut t.slots[s as usize], fresh);
                    t.evicted += 1;
                    t.written += 1;
                    if records {
                        sink.record(Record::RtChannel(Box::new(old.record())));
                    }
                    t.hashes[s as usize] = hash;
                    s
                } else {
                    t.slots.push(fresh);
                    t.links.push([NIL, NIL]);
                    t.hashes.push(hash);
                    (t.slots.len() - 1) as u32
                };
                t.push_newest(s);
                t.index.insert_unique(hash, (hash, s), |&(h, _)| h);
                s
            }
        };
        let ch = &mut t.slots[slot as usize];
        ch.requests += 1;
        if ch.requests == 2 {
            let mut s = Samples::default();
            s.waits.extend(ch.first_wait);
            s.lengths.extend(ch.first_len.map(|l| (l, 1)));
            s.conn_ids.push(ch.first_conn);
            ch.samples = Some(Box::new(s));
        }
        if let Some(s) = ch.samples.as_mut() {
            if let Some(end) = ch.last_answer_end {
                if s.reask_gaps.len() < MAX_SAMPLES {
                    s.reask_gaps.push(ts.since(end).0);
                }
            }
            if s.conn_ids.len() < MAX_CONN_IDS && !s.conn_ids.contains(&conn_id) {
                s.conn_ids.push(conn_id);
            }
        }
        ch.first_request.get_or_insert(ts);
        ch.last_request = Some(ts);
        ch.last_ts = ch.last_ts.max(ts);
        ChannelRef { id: ch.id, slot }
    }

    /// An exchange of channel `id` ended, its body of the `body` kind.
    pub fn exchange(&self, channel: ChannelRef, txn: &HttpTxn, body: BodyKind) {
        let mut t = self.table();
        t.exchanges += 1;
        if let BodyKind::Events(n) = body {
            t.sse_events += n;
        }
        let Some(ch) = t.get_mut(channel) else {
            return;
        };
        ch.head_bytes += txn.req_head_bytes + txn.resp_head_bytes;
        ch.last_ts = ch.last_ts.max(txn.last_ts);
        if txn.status.is_some() {
            ch.last_answer_end = Some(txn.last_ts);
        }
        if let Some(w) = txn.wait_ms {
            ch.wait_sum += w.0;
            ch.wait_count += 1;
            ch.wait_max = Some(ch.wait_max.map_or(w, |m| m.max(w)));
            match ch.samples.as_mut() {
                Some(s) if s.waits.len() < MAX_SAMPLES => s.waits.push(w.0),
                Some(_) => {}
                None => ch.first_wait = Some(w.0),
            }
        }
        if txn.upgrade {
            ch.websocket = true;
            return;
        }
        match body {
            BodyKind::Events(n) => {
                ch.sse = true;
                ch.data_messages += n;
                return;
            }
            BodyKind::Streamed(n) => {
                ch.streaming = true;
                ch.data_messages += n;
                return;
            }
            BodyKind::Whole => {}
        }
        let Some(status) = txn.status else { return };
        ch.answers += 1;
        let len = txn.resp_body_len;
        if len == 0 || status == 204 || status == 304 {
            ch.plain_empty += 1;
        } else if let Some(s) = ch.samples.as_mut() {
            if let Some(e) = s.lengths.iter_mut().find(|e| e.0 == len) {
                e.1 += 1;
            } else if s.lengths.len() < MAX_LENGTHS {
                s.lengths.push((len, 1));
            }
        } else {
            ch.first_len = Some(len);
        }
    }

    /// A WebSocket session of channel `id` ended with `messages` data
    /// messages.
    pub fn ws_messages(&self, channel: ChannelRef, messages: u64, last_ts: Timestamp) {
        let mut t = self.table();
        if let Some(ch) = t.get_mut(channel) {
            ch.ws_messages += messages;
            ch.last_ts = ch.last_ts.max(last_ts);
        }
    }

    /// Writes every channel (in the order they began) and empties the table.
    pub fn finish(&self, sink: &mut dyn RecordSink) {
        let mut t = self.table();
        let mut all = std::mem::take(&mut t.slots);
        t.links.clear();
        t.hashes.clear();
        t.index.clear();
        t.oldest = NIL;
        t.newest = NIL;
        t.written += all.len() as u64;
        drop(t);
        if !sink.flow_records().http {
            return;
        }
        all.sort_by_key(|c| c.id);
        for c in all {
            sink.record(Record::RtChannel(Box::new(c.record())));
        }
    }

    /// What was counted so far.
    pub fn counts(&self) -> HttpCounts {
        let t = self.table();
        HttpCounts {
            exchanges: t.exchanges,
            sse_events: t.sse_events,
            channels: t.written,
        }
    }

    /// Channels written early because the table was full.
    pub fn evicted(&self) -> u64 {
        self.table().evicted
    }
}

impl Channel {
    fn new(id: u64, key: Key, host: Option<&str>, conn_id: u64, ts: Timestamp) -> Channel {
        Channel {
            id,
            key,
            host: host.map(Box::from),
            first_conn: conn_id,
            requests: 0,
            data_messages: 0,
            ws_messages: 0,
            websocket: false,
            sse: false,
            streaming: false,
            wait_sum: 0,
            wait_count: 0,
            wait_max: None,
            first_wait: None,
            first_len: None,
            samples: None,
            last_answer_end: None,
            first_request: None,
            last_request: None,
            answers: 0,
            plain_empty: 0,
            head_bytes: 0,
            first_ts: ts,
            last_ts: ts,
        }
    }

    fn technique(&mut self) -> &'static str {
        if self.websocket {
            return "websocket";
        }
        if self.sse {
            return "sse";
        }
        if self.streaming {
            return "streaming";
        }
        match self.requests {
            0 | 1 => return "request",
            2 => return "unclassified",
            _ => {}
        }
        let Some(s) = self.samples.as_mut() else {
            return "request";
        };
        let wait = median(&mut s.waits).map(Nanos);
        let reask = median(&mut s.reask_gaps).map(Nanos);
        let at_once = reask.is_some_and(|g| g < AT_ONCE);
        match wait {
            Some(w) if w >= HELD || (w >= HELD_SHORT && at_once) => "long_polling",
            Some(_) if !at_once && reask.is_some() => "polling",
            _ => "request",
        }
    }

    fn record(mut self) -> RtChannel {
        let technique = self.technique();
        // Answers without new data: no body, 204, 304; a poll's answers of
        // the length it gives most often (twice at least) too.
        let mut empty = self.plain_empty;
        if technique == "polling" {
            empty += self
                .samples
                .as_ref()
                .and_then(|s| s.lengths.iter().map(|e| e.1).filter(|&n| n >= 2).max())
                .unwrap_or(0);
        }
        let data_messages = self.data_messages + self.ws_messages + (self.answers - empty);
        let mean_wait = (self.wait_count > 0).then(|| Nanos(self.wait_sum / self.wait_count));
        let mean_interval = match (self.first_request, self.last_request) {
            (Some(a), Some(b)) if self.requests > 1 => {
                Some(Nanos(b.since(a).0 / (self.requests as i64 - 1)))
            }
            _ => None,
        };
        let overhead = (data_messages > 0).then(|| self.head_bytes / data_messages);
        let verdict = verdict(
            technique,
            self.requests,
            data_messages,
            empty,
            mean_wait,
            self.wait_max,
            mean_interval,
        );
        RtChannel {
            channel_id: self.id,
            technique,
            client_ip: self.key.client_ip,
            server_ip: self.key.server_ip,
            server_port: self.key.server_port,
            host: self.host.map(String::from),
            path: self.key.path.to_string(),
            conn_ids: match self.samples {
                Some(s) => s.conn_ids,
                None => vec![self.first_conn],
            },
            requests: self.requests,
            data_messages,
            empty_responses: empty,
            mean_wait_ms: mean_wait,
            max_wait_ms: self.wait_max,
            mean_interval_ms: mean_interval,
            first_ts: self.first_ts,
            last_ts: self.last_ts,
            overhead_bytes: overhead,
            verdict,
        }
    }
}

fn secs(d: Nanos) -> String {
    let s = d.0 as f64 / 1e9;
    if s >= 1.0 {
        format!("{s:.1} s")
    } else {
        format!("{:.0} ms", s * 1e3)
    }
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn verdict(
    technique: &str,
    requests: u64,
    data: u64,
    empty: u64,
    mean_wait: Option<Nanos>,
    max_wait: Option<Nanos>,
    interval: Option<Nanos>,
) -> String {
    let reqs = plural(requests, "request", "requests");
    match technique {
        "websocket" => format!("WebSocket: {}", plural(data, "message", "messages")),
        "sse" => format!(
            "server-sent events: {} over {reqs}",
            plural(data, "event", "events")
        ),
        "streaming" => format!("streaming: {} over {reqs}", plural(data, "piece", "pieces")),
        "long_polling" => format!(
            "long polling: {reqs}, server held each {} (max {}), {data} carried data",
            mean_wait.map_or("?".into(), secs),
            max_wait.map_or("?".into(), secs)
        ),
        "polling" => format!(
            "polling: {reqs} every {}, answered in {} on average, {empty} without new data",
            interval.map_or("?".into(), secs),
            mean_wait.map_or("?".into(), secs)
        ),
        "unclassified" => format!("{reqs}: too few to tell polling from retries"),
        _ => format!("{reqs}, {data} with data"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_drop_the_query_and_the_authority() {
        assert_eq!(path_of("/poll?since=3"), "/poll");
        assert_eq!(path_of("http://h:80/a/b?x"), "/a/b");
        assert_eq!(path_of("http://h"), "/");
        assert_eq!(path_of("*"), "*");
    }

    fn ch(waits: &[i64], gaps: &[i64]) -> Channel {
        let key = Key {
            client_ip: IpAddr::from([10, 0, 0, 1]),
            server_ip: IpAddr::from([10, 0, 0, 2]),
            server_port: 80,
            path: Box::from("/"),
            conn_id: None,
        };
        let mut c = Channel::new(1, key, None, 0, Timestamp(0));
        c.requests = waits.len() as u64;
        c.samples = Some(Box::new(Samples {
            waits: waits.to_vec(),
            reask_gaps: gaps.to_vec(),
            ..Samples::default()
        }));
        c
    }

    #[test]
    fn techniques_from_waits_and_gaps() {
        const MS: i64 = 1_000_000;
        // Held 0.5-2.5 s, asked again within a few ms: long polling.
        let lp = [600, 1400, 2500, 500, 2000, 900].map(|w| w * MS);
        assert_eq!(ch(&lp, &[MS; 5]).technique(), "long_polling");
        // Answered in ms, asked again after 500 ms: polling.
        assert_eq!(ch(&[2 * MS; 8], &[500 * MS; 7]).technique(), "polling");
        // A burst (a page and its resources): requests.
        assert_eq!(ch(&[2 * MS; 4], &[MS; 3]).technique(), "request");
        assert_eq!(ch(&[2 * MS; 2], &[500 * MS]).technique(), "unclassified");
        assert_eq!(ch(&[2 * MS], &[]).technique(), "request");
    }

    /// The table keeps the least recently active channels out: against a
    /// plain model (a list in order of activity), over a run that fills it
    /// many times, the channels written early, their ids and request
    /// counts, and the ones left at the end are the same.
    #[test]
    fn the_least_recently_active_channel_is_written_first() {
        let t = Channels::new();
        let mut sink: Vec<Record> = Vec::new();
        // path -> (activity stamp, id, requests); stamp -> path.
        let mut model: std::collections::HashMap<u32, (u64, u64, u64)> = Default::default();
        let mut order: std::collections::BTreeMap<u64, u32> = Default::default();
        let mut next_id = 0;
        let mut evicted = Vec::new();
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        for i in 0..120_000u64 {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            // Recent paths come back often, old ones now and then.
            let p = if rng.is_multiple_of(3) {
                (rng >> 8) % 40_000
            } else {
                (i / 2).saturating_sub((rng >> 8) % 5_000)
            } as u32;
            let target = format!("/p{p}?q={i}");
            let r = t.request(
                i,
                IpAddr::from([10, 0, 0, 1]),
                IpAddr::from([10, 0, 0, 2]),
                80,
                Some("h"),
                &target,
                false,
                Timestamp(i as i64),
                &mut sink,
            );
            match model.get_mut(&p) {
                Some(e) => {
                    order.remove(&e.0);
                    e.0 = i;
                    e.2 += 1;
                    assert_eq!(r.id, e.1, "request {i}");
                }
                None => {
                    if model.len() >= MAX_CHANNELS {
                        let (_, old) = order.pop_first().unwrap();
                        let (_, id, n) = model.remove(&old).unwrap();
                        evicted.push((id, n));
                    }
                    next_id += 1;
                    assert_eq!(r.id, next_id, "request {i}");
                    model.insert(p, (i, next_id, 1));
                }
            }
            order.insert(i, p);
        }
        let written: Vec<(u64, u64)> = sink
            .iter()
            .map(|r| match r {
                Record::RtChannel(c) => (c.channel_id, c.requests),
                _ => unreachable!(),
            })
            .collect();
        assert!(evicted.len() > 20_000, "the table filled many times");
        assert_eq!(written, evicted);
        assert_eq!(t.evicted(), evicted.len() as u64);
        let mut rest = Vec::new();
        t.finish(&mut rest);
        let mut left: Vec<(u64, u64)> = model.values().map(|e| (e.1, e.2)).collect();
        left.sort();
        let got: Vec<(u64, u64)> = rest
            .iter()
            .map(|r| match r {
                Record::RtChannel(c) => (c.channel_id, c.requests),
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(got, left);
        assert_eq!(t.counts().channels, (evicted.len() + left.len()) as u64);
    }
}
