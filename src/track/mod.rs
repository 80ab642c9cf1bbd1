//! Transport tracking: TCP connections and UDP flows, keyed by 5-tuple,
//! expired by capture time, bounded in number.
//!
//! The [`Tracker`] owns two flow tables (TCP and UDP), hash maps from a
//! compact [`FlowKey`] to the flow itself — stored inline, so a packet costs
//! one hash lookup and touches one small connection — and a [`timer::TimerWheel`]
//! of deadlines. Every flow has a deadline computed from capture time (TCP:
//! 60 s after its last packet once it closed or was reset — TIME-WAIT, see
//! [`TrackConfig::tcp_linger`] —, 5 min after its last packet otherwise;
//! UDP: 1 min after its last packet). Wheel entries are refreshed lazily: a
//! packet schedules nothing unless it brings the deadline forward (a close).
//! When the tables hold `max_flows` flows, the flow nearest to its deadline
//! (the least recently active) is reported early and counted as evicted.
//!
//! Records are written to a [`RecordSink`] as flows end; at the end of input
//! the remaining flows are written in order of their first packet.

pub mod budget;
pub mod index;
pub mod key;
pub mod reassembly;
pub mod seq;
pub mod service;
pub mod stream;
pub mod table;
pub mod tcp;
pub mod timer;
pub mod udp;

use std::hash::BuildHasher;
use std::net::IpAddr;

use crate::decode::{Packet, TcpSegment, Transport, Vlans};
use crate::event::{Record, RecordSink};
use crate::time::{Nanos, Timestamp};
use budget::{BufferStats, StreamBudget};
use key::{Endpoint, FlowKey, Proto};
use reassembly::{ReassemblyLimits, ReassemblyStats};
use service::service_for;
use stream::StreamDetector;
use table::{Entry, FlowTable};
use tcp::{first_packet_from_client, StreamEnv, TcpConn, TcpPacket};
use timer::TimerWheel;
use udp::UdpFlow;

/// How many due timers ahead expiry starts loading their flows.
const EXPIRY_AHEAD: usize = 8;

/// Limits and timeouts of the flow tables.
#[derive(Clone, Copy, Debug)]
pub struct TrackConfig {
    /// Flows held at once; beyond it the least recently active is reported
    /// early.
    pub max_flows: usize,
    /// Idle time after which a TCP connection is considered over.
    pub tcp_idle: Nanos,
    /// Time a closed or reset TCP connection is kept for late packets after
    /// its last one: segments inside its old window (a FIN retransmitted
    /// because its ACK was lost) join it and start the time again, as they
    /// restart a TCP stack's TIME-WAIT; anything else on the tuple starts a
    /// new connection. 60 s by default: Linux's TIME-WAIT (RFC 9293's
    /// 2×MSL is 4 min). Zeek's `tcp_close_delay` is 5 s, too short for a
    /// FIN whose retransmission timeout has backed off.
    pub tcp_linger: Nanos,
    /// Idle time after which a UDP flow is considered over.
    pub udp_idle: Nanos,
    /// Whether VLAN tags are part of a flow's identity.
    pub key_by_vlan: bool,
    /// Limits on the streams an application decoder reassembles.
    pub reassembly: ReassemblyLimits,
}

impl Default for TrackConfig {
    fn default() -> Self {
        TrackConfig {
            // About 1.1 KB per TCP connection (a 312-byte slot, a 592-byte
            // cold part, index and timer), 1.6 KB more for one being
            // decoded (its decoder and reassemblers), whose buffers share
            // `reassembly.total_bytes` (measured: 100 000 open connections
            // add 112 MB, 272 MB when all are decoded): at most ~220 MB,
            // ~540 MB if every one is decoded.
            max_flows: 200_000,
            // Zeek's tcp_inactivity_timeout and udp_inactivity_timeout;
            // Linux's TIME-WAIT (TCP_TIMEWAIT_LEN).
            tcp_idle: Nanos::from_secs(300),
            tcp_linger: Nanos::from_secs(60),
            udp_idle: Nanos::from_secs(60),
            key_by_vlan: false,
            reassembly: ReassemblyLimits::default(),
        }
    }
}

/// Counts for the summary.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TrackStats {
    pub tcp_conns: u64,
    pub udp_flows: u64,
    pub evicted: u64,
    /// Most flows held at once.
    pub peak_flows: u64,
    /// Reassembled streams: holes, and bytes given up to limits.
    pub reassembly: ReassemblyStats,
    /// Buffers given up to the budget of all connections' buffers.
    pub buffers: BufferStats,
}

/// A packet's flow identity, computed once (possibly on another thread than
/// the tracker's): the key, which endpoint of the key sent the packet, and
/// the key's hash.
#[derive(Clone, Copy, Debug)]
pub struct Keyed {
    pub proto: Proto,
    pub key: FlowKey,
    pub src_is_a: bool,
    pub hash: u64,
}

impl Keyed {
    /// The packet's source and destination addresses.
    #[inline]
    pub fn addresses(&self) -> (IpAddr, IpAddr) {
        self.key.addresses(self.src_is_a)
    }
}

/// Computes [`Keyed`] values; cheap to clone, and clones hash alike, so a
/// source thread can key packets for the tracker.
#[derive(Clone)]
pub struct FlowKeyer {
    hasher: foldhash::fast::RandomState,
    key_by_vlan: bool,
}

impl FlowKeyer {
    pub fn new(key_by_vlan: bool) -> Self {
        FlowKeyer {
            hasher: foldhash::fast::RandomState::default(),
            key_by_vlan,
        }
    }

    #[inline(always)]
    pub fn key(&self, p: &Packet<'_>) -> Keyed {
        let (proto, sp, dp) = match &p.transport {
            Transport::Tcp(t) => (Proto::Tcp, t.src_port, t.dst_port),
            Transport::Udp(u) => (Proto::Udp, u.src_port, u.dst_port),
        };
        let vlan = if self.key_by_vlan {
            p.vlan
        } else {
            Vlans::default()
        };
        let (key, src_is_a) = FlowKey::new(
            Endpoint {
                ip: p.src,
                port: sp,
            },
            Endpoint {
                ip: p.dst,
                port: dp,
            },
            &vlan,
        );
        Keyed {
            proto,
            key,
            src_is_a,
            hash: self.hasher.hash_one(key),
        }
    }
}

/// A flow's timer: the slot it points to, valid while the slot holds the
/// same generation.
#[derive(Clone, Copy)]
struct Timer {
    slot: u32,
    gen: u32,
    proto: Proto,
}

pub struct Tracker {
    cfg: TrackConfig,
    keyer: FlowKeyer,
    tcp: FlowTable<TcpConn>,
    udp: FlowTable<UdpFlow>,
    wheel: TimerWheel<Timer>,
    detector: Option<StreamDetector>,
    rstats: ReassemblyStats,
    /// Every decoded connection's buffers, within `reassembly.total_bytes`.
    budget: StreamBudget,
    next_id: u64,
    next_gen: u32,
    now: Timestamp,
    /// Start of the second after `now`'s: expiry runs when a packet reaches it.
    next_second: i64,
    stats: TrackStats,
}

impl Tracker {
    pub fn new(cfg: TrackConfig) -> Tracker {
        Self::with_keyer(cfg, FlowKeyer::new(cfg.key_by_vlan))
    }

    /// A tracker for packets keyed by `keyer` (or a clone of it).
    pub fn with_keyer(cfg: TrackConfig, keyer: FlowKeyer) -> Tracker {
        let horizon = cfg.tcp_idle.max(cfg.udp_idle).max(cfg.tcp_linger).0 / 1_000_000_000;
        Tracker {
            cfg,
            keyer,
            tcp: FlowTable::default(),
            udp: FlowTable::default(),
            wheel: TimerWheel::new(horizon + 1),
            detector: None,
            rstats: ReassemblyStats::default(),
            budget: StreamBudget::new(cfg.reassembly.total_bytes),
            next_id: 0,
            next_gen: 0,
            now: Timestamp(i64::MIN),
            next_second: i64::MIN,
            stats: TrackStats::default(),
        }
    }

    pub fn stats(&self) -> TrackStats {
        TrackStats {
            reassembly: self.rstats,
            buffers: self.budget.stats(),
            ..self.stats
        }
    }

    /// Installs the application-decoder detector shown each connection's
    /// first client bytes.
    pub fn set_detector(&mut self, detector: StreamDetector) {
        self.detector = Some(detector);
    }

    /// Bytes all decoded connections' buffers hold: as the budget counts
    /// them, and as counted now connection by connection (for tests and
    /// fuzzing: the two must agree, and stay within the budget).
    pub fn buffers(&self) -> (usize, usize) {
        let held = self.tcp.iter().map(|(_, e)| e.flow.buffers().0).sum();
        (self.budget.used(), held)
    }

    /// Flows currently held.
    pub fn active(&self) -> usize {
        self.tcp.len() + self.udp.len()
    }

    fn fresh_id(&mut self) -> (u64, u32) {
        let id = self.next_id;
        self.next_id += 1;
        self.next_gen = self.next_gen.wrapping_add(1);
        (id, self.next_gen)
    }

    /// The keyer whose keys [`Tracker::packet_keyed`] accepts.
    pub fn keyer(&self) -> &FlowKeyer {
        &self.keyer
    }

    /// The step before [`Tracker::prefetch`]: starts loading the index
    /// bucket its probe for `k` will read (known from the hash alone).
    #[inline(always)]
    pub fn prefetch_index(&self, k: &Keyed) {
        match k.proto {
            Proto::Tcp => self.tcp.prefetch_index(k.hash),
            Proto::Udp => self.udp.prefetch_index(k.hash),
        }
    }

    /// Starts bringing the state of the flow `k` names into the cache, in
    /// two steps the replay loop takes a few packets apart: with hundreds of
    /// thousands of flows, the misses on a flow's index bucket, entry and
    /// decoder, not the work done on them, are what a packet costs, and
    /// they overlap only if no step waits for the one before.
    ///
    /// This first step probes the index without reading any entry (the slot
    /// it returns is a candidate: the first whose hash tag matches) and
    /// starts loading that entry. The slot is the hint for
    /// [`Tracker::prefetch_state`] and [`Tracker::packet_noted`], which
    /// check it against the key once the entry is in the cache.
    #[inline]
    pub fn prefetch(&self, k: &Keyed) -> Option<u32> {
        match k.proto {
            Proto::Tcp => {
                let i = self.tcp.candidate(k.hash)?;
                self.tcp.prefetch(i);
                Some(i)
            }
            Proto::Udp => {
                let i = self.udp.candidate(k.hash)?;
                self.udp.prefetch(i);
                Some(i)
            }
        }
    }

    /// The second step, once the entry has arrived: the decoder side the
    /// packet will touch (TCP connections with a stream decoder).
    #[inline]
    pub fn prefetch_state(&self, k: &Keyed, hint: Option<u32>) {
        if k.proto != Proto::Tcp {
            return;
        }
        if let Some(e) = hint.and_then(|i| self.tcp.get(i)) {
            if e.hash == k.hash && e.key == k.key {
                e.flow.prefetch(e.client_is_a == k.src_is_a);
            }
        }
    }

    /// Tracks one decoded packet.
    pub fn packet<S: RecordSink>(&mut self, pkt: &Packet<'_>, sink: &mut S) {
        let k = self.keyer.key(pkt);
        self.packet_keyed(pkt, &k, sink);
    }

    /// Tracks one decoded packet whose key was computed by this tracker's
    /// keyer (or a clone).
    pub fn packet_keyed<S: RecordSink>(&mut self, pkt: &Packet<'_>, k: &Keyed, sink: &mut S) {
        self.packet_noted(pkt, k, None, 0, sink);
    }

    /// [`Tracker::packet_keyed`], given where [`Tracker::prefetch`] found
    /// the flow (`hint`, checked here: flows may have come and gone since),
    /// and a note on the payload made by the packets' source for the stream
    /// handlers (0: none). The tracker does not read the note: it hands it
    /// to the connection's handler with the payload when the reassembler
    /// releases exactly that payload (see [`stream::StreamHandler::data_noted`]).
    pub fn packet_noted<S: RecordSink>(
        &mut self,
        pkt: &Packet<'_>,
        k: &Keyed,
        hint: Option<u32>,
        note: u64,
        sink: &mut S,
    ) {
        self.advance(pkt.ts, sink);
        match &pkt.transport {
            Transport::Tcp(seg) => self.tcp(pkt, seg, k, hint, note, sink),
            Transport::Udp(d) => {
                if let Some(e) = self
                    .udp
                    .find_hinted(hint, k.hash, &k.key)
                    .and_then(|i| self.udp.get_mut(i))
                {
                    let from_client = e.client_is_a == k.src_is_a;
                    e.flow
                        .datagram(pkt.ts, from_client, d.payload_len, &pkt.vlan);
                    return;
                }
                self.make_room(sink);
                let (id, gen) = self.fresh_id();
                self.stats.udp_flows += 1;
                let src = Endpoint {
                    ip: pkt.src,
                    port: d.src_port,
                };
                let dst = Endpoint {
                    ip: pkt.dst,
                    port: d.dst_port,
                };
                let mut flow = UdpFlow::new(id, pkt.ts);
                flow.announce(src, dst, service_for(Proto::Udp, dst.port), sink);
                flow.datagram(pkt.ts, true, d.payload_len, &pkt.vlan);
                let slot = self.udp.insert(Entry {
                    key: k.key,
                    hash: k.hash,
                    client_is_a: k.src_is_a,
                    flow,
                    gen,
                    queued: 0,
                });
                let timer = Timer {
                    slot,
                    proto: Proto::Udp,
                    gen,
                };
                let queued = self
                    .wheel
                    .schedule(pkt.ts, pkt.ts + self.cfg.udp_idle, timer);
                if let Some(e) = self.udp.get_mut(slot) {
                    e.queued = queued;
                }
                self.note_peak();
            }
        }
    }

    fn note_peak(&mut self) {
        self.stats.peak_flows = self.stats.peak_flows.max(self.active() as u64);
    }

    fn tcp<S: RecordSink>(
        &mut self,
        pkt: &Packet<'_>,
        seg: &TcpSegment<'_>,
        k: &Keyed,
        hint: Option<u32>,
        note: u64,
        sink: &mut S,
    ) {
        let mut tp = TcpPacket {
            ts: pkt.ts,
            from_client: true,
            seg,
            vlan: pkt.vlan,
            truncated: pkt.truncated,
            note,
        };
        let (linger, idle) = (self.cfg.tcp_linger, self.cfg.tcp_idle);

        // A known connection, unless this SYN starts a new one on the tuple.
        let mut restart = None;
        if let Some(slot) = self.tcp.find_hinted(hint, k.hash, &k.key) {
            let e = self.tcp.get_mut(slot).expect("found");
            tp.from_client = e.client_is_a == k.src_is_a;
            if !e.flow.starts_new_connection(&tp) {
                let mut env = StreamEnv {
                    detector: self.detector.as_ref(),
                    limits: &self.cfg.reassembly,
                    stats: &mut self.rstats,
                    budget: &mut self.budget,
                };
                e.flow.process(&tp, &mut env, sink);
                e.flow.charge_buffers(slot, &mut self.budget);
                let deadline = e.flow.deadline(linger, idle);
                if deadline.0.div_euclid(1_000_000_000) < e.queued {
                    let timer = Timer {
                        slot,
                        proto: Proto::Tcp,
                        gen: e.gen,
                    };
                    e.queued = self.wheel.schedule(self.now, deadline, timer);
                }
                if self.budget.over() {
                    self.enforce_budget(sink);
                }
                return;
            }
            restart = self.tcp.remove(slot);
        }
        match restart {
            Some(mut old) => {
                let mut env = StreamEnv {
                    detector: None,
                    limits: &self.cfg.reassembly,
                    stats: &mut self.rstats,
                    budget: &mut self.budget,
                };
                emit_tcp(&mut old.flow, false, &mut env, sink)
            }
            None => self.make_room(sink),
        }
        let (id, gen) = self.fresh_id();
        self.stats.tcp_conns += 1;
        let src = Endpoint {
            ip: pkt.src,
            port: seg.src_port,
        };
        let dst = Endpoint {
            ip: pkt.dst,
            port: seg.dst_port,
        };
        let src_is_client = first_packet_from_client(seg);
        let (client, server) = if src_is_client {
            (src, dst)
        } else {
            (dst, src)
        };
        tp.from_client = src_is_client;
        let mut conn = TcpConn::new(id, client, server, pkt.ts, !src_is_client);
        let mut env = StreamEnv {
            detector: self.detector.as_ref(),
            limits: &self.cfg.reassembly,
            stats: &mut self.rstats,
            budget: &mut self.budget,
        };
        conn.process(&tp, &mut env, sink);
        let deadline = conn.deadline(linger, idle);
        let slot = self.tcp.insert(Entry {
            key: k.key,
            hash: k.hash,
            client_is_a: src_is_client == k.src_is_a,
            flow: conn,
            gen,
            queued: 0,
        });
        let timer = Timer {
            slot,
            proto: Proto::Tcp,
            gen,
        };
        let queued = self.wheel.schedule(pkt.ts, deadline, timer);
        if let Some(e) = self.tcp.get_mut(slot) {
            e.queued = queued;
            e.flow.charge_buffers(slot, &mut self.budget);
        }
        self.note_peak();
        if self.budget.over() {
            self.enforce_budget(sink);
        }
    }

    /// All decoded connections' buffers hold more than the budget: the
    /// connections that have held buffers longest give them up until they
    /// fit (each at most once per call: one that cannot shed goes to the
    /// back).
    #[cold]
    fn enforce_budget<S: RecordSink>(&mut self, sink: &mut S) {
        let mut tries = self.budget.holders();
        while self.budget.over() && tries > 0 {
            tries -= 1;
            let Some((id, slot)) = self.budget.oldest() else {
                break;
            };
            let Some(e) = self.tcp.get_mut(slot).filter(|e| e.flow.id == id) else {
                // Cannot happen (a connection leaving releases its charge);
                // never loop on it.
                self.budget.release(id);
                continue;
            };
            let mut env = StreamEnv {
                detector: None,
                limits: &self.cfg.reassembly,
                stats: &mut self.rstats,
                budget: &mut self.budget,
            };
            e.flow.give_up_buffers(&mut env, sink);
            e.flow.charge_buffers(slot, &mut self.budget);
            if self.budget.oldest().is_some_and(|(first, _)| first == id) {
                self.budget.to_back(id);
            }
        }
    }

    /// The real deadline of the flow a timer points to, if the timer is live.
    fn live_deadline(&self, t: &Timer, sec: i64) -> Option<Timestamp> {
        match t.proto {
            Proto::Tcp => self
                .tcp
                .get(t.slot)
                .filter(|e| e.gen == t.gen && e.queued == sec)
                .map(|e| e.flow.deadline(self.cfg.tcp_linger, self.cfg.tcp_idle)),
            Proto::Udp => self
                .udp
                .get(t.slot)
                .filter(|e| e.gen == t.gen && e.queued == sec)
                .map(|e| e.flow.deadline(self.cfg.udp_idle)),
        }
    }

    fn prefetch_timer(&self, t: &Timer) {
        match t.proto {
            Proto::Tcp => self.tcp.prefetch(t.slot),
            Proto::Udp => self.udp.prefetch(t.slot),
        }
    }

    /// The second expiry step, once the entry has arrived: the index bucket
    /// its removal will search.
    fn prefetch_timer_index(&self, t: &Timer) {
        match t.proto {
            Proto::Tcp => {
                if let Some(e) = self.tcp.get(t.slot).filter(|e| e.gen == t.gen) {
                    self.tcp.prefetch_index(e.hash);
                }
            }
            Proto::Udp => {
                if let Some(e) = self.udp.get(t.slot).filter(|e| e.gen == t.gen) {
                    self.udp.prefetch_index(e.hash);
                }
            }
        }
    }

    fn reschedule(&mut self, t: Timer, deadline: Timestamp) {
        let sec = self.wheel.schedule(self.now, deadline, t);
        match t.proto {
            Proto::Tcp => {
                if let Some(e) = self.tcp.get_mut(t.slot) {
                    e.queued = sec;
                }
            }
            Proto::Udp => {
                if let Some(e) = self.udp.get_mut(t.slot) {
                    e.queued = sec;
                }
            }
        }
    }

    /// Lets capture time run to `ts`: flows whose deadline passed are written.
    fn advance<S: RecordSink>(&mut self, ts: Timestamp, sink: &mut S) {
        if ts <= self.now {
            return;
        }
        self.now = ts;
        if ts.0 < self.next_second {
            return;
        }
        self.next_second = (ts.0.div_euclid(1_000_000_000) + 1).saturating_mul(1_000_000_000);
        let mut due = Vec::new();
        self.wheel.expire(ts, |_, sec, t| due.push((sec, t)));
        for (_, t) in due.iter().take(EXPIRY_AHEAD) {
            self.prefetch_timer(t);
        }
        for i in 0..due.len() {
            if let Some((_, ahead)) = due.get(i + EXPIRY_AHEAD) {
                self.prefetch_timer(ahead);
            }
            if let Some((_, ahead)) = due.get(i + EXPIRY_AHEAD / 2) {
                self.prefetch_timer_index(ahead);
            }
            let (sec, t) = due[i];
            let Some(deadline) = self.live_deadline(&t, sec) else {
                continue;
            };
            if deadline.0.div_euclid(1_000_000_000) >= ts.0.div_euclid(1_000_000_000) {
                self.reschedule(t, deadline);
            } else {
                self.remove(&t, false, sink);
            }
        }
    }

    /// Makes room for one more flow: reports the flow nearest to its deadline
    /// early when the tables are full.
    fn make_room<S: RecordSink>(&mut self, sink: &mut S) {
        while self.active() >= self.cfg.max_flows.max(1) {
            let Some((sec, t)) = self.wheel.pop_earliest() else {
                return;
            };
            let Some(deadline) = self.live_deadline(&t, sec) else {
                continue;
            };
            if deadline.0.div_euclid(1_000_000_000) > sec {
                self.reschedule(t, deadline);
                continue;
            }
            self.remove(&t, true, sink);
            self.stats.evicted += 1;
        }
    }

    fn remove<S: RecordSink>(&mut self, t: &Timer, evicted: bool, sink: &mut S) {
        match t.proto {
            Proto::Tcp => {
                let mut env = StreamEnv {
                    detector: None,
                    limits: &self.cfg.reassembly,
                    stats: &mut self.rstats,
                    budget: &mut self.budget,
                };
                self.tcp
                    .remove_with(t.slot, |e| emit_tcp(&mut e.flow, evicted, &mut env, sink));
            }
            Proto::Udp => {
                self.udp.remove_with(t.slot, |e| emit_udp(e, evicted, sink));
            }
        }
    }

    /// End of input: every flow still held is written, in order of first packet.
    pub fn finish<S: RecordSink>(&mut self, sink: &mut S) {
        let timer = |proto, slot, gen| Timer { slot, gen, proto };
        let mut order: Vec<(u64, Timer)> = self
            .tcp
            .iter()
            .map(|(i, e)| (e.flow.id, timer(Proto::Tcp, i, e.gen)))
            .chain(
                self.udp
                    .iter()
                    .map(|(i, e)| (e.flow.id, timer(Proto::Udp, i, e.gen))),
            )
            .collect();
        order.sort_unstable_by_key(|&(id, _)| id);
        for (_, t) in order {
            self.remove(&t, false, sink);
        }
        self.wheel.clear();
    }
}

fn emit_tcp<S: RecordSink>(c: &mut TcpConn, evicted: bool, env: &mut StreamEnv<'_>, sink: &mut S) {
    c.finish_streams(env, sink);
    if !sink.flow_records().tcp_conn {
        return;
    }
    let service = service_for(Proto::Tcp, c.server().port);
    sink.record(Record::TcpConn(Box::new(c.record(evicted, service))));
}

fn emit_udp<S: RecordSink>(e: &Entry<UdpFlow>, evicted: bool, sink: &mut S) {
    if !sink.flow_records().udp_flow {
        return;
    }
    let (client, server) = e.endpoints();
    let service = service_for(Proto::Udp, server.port);
    let record = e.flow.record(client, server, evicted, service);
    sink.record(Record::UdpFlow(Box::new(record)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{TcpFlags, UdpDatagram};

    /// A 10-byte datagram from 10.0.0.1:`sport` to 10.0.0.2:53.
    fn udp_packet(secs: i64, sport: u16) -> Packet<'static> {
        Packet {
            ts: Timestamp(secs * 1_000_000_000),
            vlan: Vlans::default(),
            src: "10.0.0.1".parse().unwrap(),
            dst: "10.0.0.2".parse().unwrap(),
            truncated: false,
            reassembled: false,
            transport: Transport::Udp(UdpDatagram {
                src_port: sport,
                dst_port: 53,
                payload: &[],
                payload_len: 10,
            }),
        }
    }

    /// An empty segment between client 10.0.0.1:40000 and server 10.0.0.2:80.
    fn tcp_packet(ms: i64, from_client: bool, flags: u8, seq: u32, ack: u32) -> Packet<'static> {
        let seg = crate::decode::TcpSegment {
            src_port: if from_client { 40000 } else { 80 },
            dst_port: if from_client { 80 } else { 40000 },
            seq,
            ack,
            flags: TcpFlags(flags),
            window: 100,
            options: &[],
            payload: &[],
            payload_len: 0,
        };
        let (c, s): (std::net::IpAddr, std::net::IpAddr) =
            ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        Packet {
            ts: Timestamp(ms * 1_000_000),
            vlan: Vlans::default(),
            src: if from_client { c } else { s },
            dst: if from_client { s } else { c },
            truncated: false,
            reassembled: false,
            transport: Transport::Tcp(seg),
        }
    }

    fn feed_udp(t: &mut Tracker, out: &mut Vec<Record>, secs: i64, sport: u16) {
        t.packet(&udp_packet(secs, sport), out);
    }

    fn flows(out: &[Record]) -> Vec<(u64, bool)> {
        out.iter()
            .filter_map(|r| match r {
                Record::UdpFlow(f) => Some((f.conn_id, f.evicted)),
                _ => None,
            })
            .collect()
    }

    /// Declines per-flow records, and fails if it is handed one anyway.
    struct NoFlowRecords(Vec<Record>);

    impl RecordSink for NoFlowRecords {
        fn record(&mut self, r: Record) {
            assert!(
                !matches!(
                    r,
                    Record::TcpEvent(_)
                        | Record::UdpEvent(_)
                        | Record::TcpConn(_)
                        | Record::UdpFlow(_)
                ),
                "built a {} nobody wants",
                r.type_name()
            );
            self.0.push(r);
        }

        fn flow_records(&self) -> crate::event::FlowRecords {
            crate::event::FlowRecords::NONE
        }
    }

    /// A sink that declines flow records gets none, and the tracker counts
    /// what it counts for one that takes them.
    #[test]
    fn flow_records_are_not_built_for_a_sink_that_declines_them() {
        let cfg = TrackConfig {
            max_flows: 2,
            ..TrackConfig::default()
        };
        let (mut full, mut quiet) = (Tracker::new(cfg), Tracker::new(cfg));
        let (mut all, mut none) = (Vec::new(), NoFlowRecords(Vec::new()));
        for (secs, port) in [(0, 1), (1, 2), (2, 1), (3, 3), (100, 4)] {
            feed_udp(&mut full, &mut all, secs, port);
            quiet.packet(&udp_packet(secs, port), &mut none);
        }
        for (s, from_client, flags) in [
            (200, true, TcpFlags::SYN),
            (201, false, TcpFlags::SYN | TcpFlags::ACK),
            (202, true, TcpFlags::ACK),
            (203, true, TcpFlags::FIN | TcpFlags::ACK),
            (204, false, TcpFlags::RST),
        ] {
            let p = tcp_packet(s * 1000, from_client, flags, 0, 0);
            full.packet(&p, &mut all);
            quiet.packet(&p, &mut none);
        }
        full.finish(&mut all);
        quiet.finish(&mut none);
        assert!(all.iter().any(|r| matches!(r, Record::TcpEvent(_))));
        assert!(all.iter().any(|r| matches!(r, Record::UdpFlow(_))));
        assert!(none.0.is_empty());
        let s = full.stats();
        assert_eq!((s.tcp_conns, s.udp_flows, s.evicted), (1, 4, 1));
        assert_eq!(quiet.stats(), s);
    }

    #[test]
    fn idle_flows_expire_by_capture_time() {
        let mut t = Tracker::new(TrackConfig::default());
        let mut out = Vec::new();
        feed_udp(&mut t, &mut out, 0, 1000);
        feed_udp(&mut t, &mut out, 30, 1001);
        feed_udp(&mut t, &mut out, 59, 1000); // keeps flow 0 alive
        feed_udp(&mut t, &mut out, 100, 1002);
        assert_eq!(flows(&out), vec![(1, false)]);
        t.finish(&mut out);
        assert_eq!(flows(&out), vec![(1, false), (0, false), (2, false)]);
        assert_eq!(t.active(), 0);
    }

    #[test]
    fn a_full_table_evicts_the_least_recently_active() {
        let mut t = Tracker::new(TrackConfig {
            max_flows: 2,
            ..TrackConfig::default()
        });
        let mut out = Vec::new();
        feed_udp(&mut t, &mut out, 0, 1);
        feed_udp(&mut t, &mut out, 1, 2);
        feed_udp(&mut t, &mut out, 2, 1); // flow 0 active again
        feed_udp(&mut t, &mut out, 3, 3); // evicts flow 1
        assert_eq!(flows(&out), vec![(1, true)]);
        assert_eq!(t.stats().evicted, 1);
        assert!(t.active() <= 2);
        t.finish(&mut out);
        assert_eq!(flows(&out).len(), 3);
        assert_eq!(t.stats().udp_flows, 3);
    }

    fn send(
        t: &mut Tracker,
        out: &mut Vec<Record>,
        ms: i64,
        c: bool,
        flags: u8,
        seq: u32,
        ack: u32,
    ) {
        t.packet(&tcp_packet(ms, c, flags, seq, ack), out);
    }

    fn conn_states(out: &[Record]) -> Vec<&'static str> {
        out.iter()
            .filter_map(|r| match r {
                Record::TcpConn(c) => Some(c.state),
                _ => None,
            })
            .collect()
    }

    /// A handshake and a close, the server's FIN first; the client's FIN
    /// (the last) at 4 ms. Client ISN 1000, server ISN 7000.
    fn closed_by_the_server_first(t: &mut Tracker, out: &mut Vec<Record>) {
        const FIN: u8 = TcpFlags::FIN | TcpFlags::ACK;
        send(t, out, 0, true, TcpFlags::SYN, 1000, 0);
        send(t, out, 1, false, TcpFlags::SYN | TcpFlags::ACK, 7000, 1001);
        send(t, out, 2, true, TcpFlags::ACK, 1001, 7001);
        send(t, out, 3, false, FIN, 7001, 1001);
        send(t, out, 4, true, FIN, 1001, 7002);
    }

    #[test]
    fn late_fins_restart_the_linger_of_a_closed_connection() {
        // The default linger: 60 s.
        let mut t = Tracker::new(TrackConfig::default());
        let mut out = Vec::new();
        closed_by_the_server_first(&mut t, &mut out);
        // The server's ACK is lost; the client retransmits its FIN 24 s
        // and 72 s later: 48 s apart, the last more than 60 s after the
        // close. One connection.
        let fin = TcpFlags::FIN | TcpFlags::ACK;
        send(&mut t, &mut out, 24_000, true, fin, 1001, 7002);
        send(&mut t, &mut out, 72_000, true, fin, 1001, 7002);
        assert!(conn_states(&out).is_empty());
        assert_eq!((t.active(), t.stats().tcp_conns), (1, 1));
        // 62 s after the last (60 s linger, at most 1 s late) the
        // connection was written: the same FIN is now a new connection.
        send(&mut t, &mut out, 134_000, true, fin, 1001, 7002);
        assert_eq!(conn_states(&out), vec!["SF"]);
        assert_eq!((t.active(), t.stats().tcp_conns), (1, 2));
        let Record::TcpConn(c) = out
            .iter()
            .find(|r| matches!(r, Record::TcpConn(_)))
            .unwrap()
        else {
            unreachable!()
        };
        assert_eq!(c.client_packets, 5);
        assert_eq!(c.last_ts, Timestamp(72_000 * 1_000_000));
    }

    #[test]
    fn a_segment_outside_the_old_window_starts_a_new_connection_at_once() {
        let mut t = Tracker::new(TrackConfig::default());
        let mut out = Vec::new();
        closed_by_the_server_first(&mut t, &mut out);
        // 2 s after the close: even Zeek's 5 s linger would still hold it.
        send(
            &mut t,
            &mut out,
            2_000,
            true,
            TcpFlags::ACK,
            90_000_000,
            7002,
        );
        assert_eq!(conn_states(&out), vec!["SF"]);
        assert_eq!((t.active(), t.stats().tcp_conns), (1, 2));
    }

    #[test]
    fn the_linger_is_an_option() {
        // `--tcp-linger 5`, Zeek's tcp_close_delay: a late ACK 7 s after a
        // refusal (5 s, at most 1 s late) starts a new connection.
        let mut t = Tracker::new(TrackConfig {
            tcp_linger: Nanos::from_secs(5),
            ..TrackConfig::default()
        });
        let mut out = Vec::new();
        send(&mut t, &mut out, 0, true, TcpFlags::SYN, 0, 0);
        send(
            &mut t,
            &mut out,
            1,
            false,
            TcpFlags::RST | TcpFlags::ACK,
            0,
            1,
        );
        assert_eq!(t.active(), 1);
        send(&mut t, &mut out, 7_000, true, TcpFlags::ACK, 1, 1);
        // Expiry runs before the new packet is tracked: the refused
        // connection was written, and the late ACK starts a new
        // (mid-stream) flow.
        assert_eq!(conn_states(&out), vec!["REJ"]);
        assert_eq!(t.active(), 1);
        assert_eq!(t.stats().tcp_conns, 2);
        // With the default it would have joined the refused connection.
        let mut t = Tracker::new(TrackConfig::default());
        let mut out = Vec::new();
        send(&mut t, &mut out, 0, true, TcpFlags::SYN, 0, 0);
        send(
            &mut t,
            &mut out,
            1,
            false,
            TcpFlags::RST | TcpFlags::ACK,
            0,
            1,
        );
        send(&mut t, &mut out, 7_000, true, TcpFlags::ACK, 1, 1);
        assert!(conn_states(&out).is_empty());
        assert_eq!(t.stats().tcp_conns, 1);
    }
}
