//! Transport tracking: TCP connections and UDP flows, keyed by 5-tuple,
//! expired by capture time, bounded in number.
//!
//! The [`Tracker`] owns the flow table: a slab of flows, a hash index from
//! [`FlowKey`] to slab slot, and a min-heap of deadlines. Every flow has a
//! deadline computed from capture time (TCP: 5 s after it closed or was reset,
//! 5 min after its last packet otherwise; UDP: 1 min after its last packet);
//! heap entries are refreshed lazily when popped, so a packet costs a hash
//! lookup and no heap operation unless it shortens the deadline (a close).
//! When the table holds `max_flows` flows, the one nearest to its deadline
//! (the least recently active) is reported early and counted as evicted.
//!
//! Records are written to a [`RecordSink`] as flows end; at the end of input
//! the remaining flows are written in order of their first packet.

pub mod key;
pub mod seq;
pub mod service;
pub mod tcp;
pub mod udp;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use crate::decode::{Packet, Transport, Vlans};
use crate::event::{Record, RecordSink};
use crate::time::{Nanos, Timestamp};
use key::{Endpoint, FlowKey, Proto};
use service::service_for;
use tcp::{TcpConn, TcpPacket};
use udp::UdpFlow;

/// Limits and timeouts of the flow table.
#[derive(Clone, Copy, Debug)]
pub struct TrackConfig {
    /// Flows held at once; beyond it the least recently active is reported
    /// early.
    pub max_flows: usize,
    /// Idle time after which a TCP connection is considered over.
    pub tcp_idle: Nanos,
    /// Time a closed or reset TCP connection is kept for late packets.
    pub tcp_linger: Nanos,
    /// Idle time after which a UDP flow is considered over.
    pub udp_idle: Nanos,
    /// Whether VLAN tags are part of a flow's identity.
    pub key_by_vlan: bool,
}

impl Default for TrackConfig {
    fn default() -> Self {
        TrackConfig {
            max_flows: 500_000,
            // Zeek's tcp_inactivity_timeout, tcp_close_delay and
            // udp_inactivity_timeout.
            tcp_idle: Nanos::from_secs(300),
            tcp_linger: Nanos::from_secs(5),
            udp_idle: Nanos::from_secs(60),
            key_by_vlan: false,
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
}

enum Flow {
    Free,
    Tcp(Box<TcpConn>),
    Udp(Box<UdpFlow>),
}

struct Slot {
    gen: u32,
    key: Option<FlowKey>,
    /// Deadline of the flow's live heap entry; other entries for the slot
    /// are stale.
    queued: i64,
    flow: Flow,
}

type HeapEntry = Reverse<(i64, u32, u32)>;

pub struct Tracker {
    cfg: TrackConfig,
    index: HashMap<FlowKey, u32, foldhash::fast::RandomState>,
    slots: Vec<Slot>,
    free: Vec<u32>,
    heap: BinaryHeap<HeapEntry>,
    next_id: u64,
    now: Timestamp,
    stats: TrackStats,
}

impl Tracker {
    pub fn new(cfg: TrackConfig) -> Tracker {
        Tracker {
            cfg,
            index: HashMap::default(),
            slots: Vec::new(),
            free: Vec::new(),
            heap: BinaryHeap::new(),
            next_id: 0,
            now: Timestamp(i64::MIN),
            stats: TrackStats::default(),
        }
    }

    pub fn stats(&self) -> TrackStats {
        self.stats
    }

    /// Flows currently held.
    pub fn active(&self) -> usize {
        self.index.len()
    }

    /// Tracks one decoded packet.
    pub fn packet<S: RecordSink>(&mut self, pkt: &Packet<'_>, sink: &mut S) {
        self.advance(pkt.ts, sink);
        match &pkt.transport {
            Transport::Tcp(seg) => self.tcp(pkt, seg, sink),
            Transport::Udp(d) => {
                let src = Endpoint {
                    ip: pkt.src,
                    port: d.src_port,
                };
                let dst = Endpoint {
                    ip: pkt.dst,
                    port: d.dst_port,
                };
                let (slot, created) =
                    self.lookup_or_insert(Proto::Udp, src, dst, pkt.vlan, pkt.ts, sink, |id| {
                        Flow::Udp(Box::new(UdpFlow::new(id, pkt.ts, src, dst)))
                    });
                let Flow::Udp(flow) = &mut self.slots[slot as usize].flow else {
                    unreachable!("UDP key maps to a UDP flow")
                };
                flow.datagram(pkt.ts, &src, d.payload_len, &pkt.vlan);
                if created {
                    flow.announce(service_for(Proto::Udp, flow.server.port), sink);
                }
            }
        }
    }

    fn tcp<S: RecordSink>(
        &mut self,
        pkt: &Packet<'_>,
        seg: &crate::decode::TcpSegment<'_>,
        sink: &mut S,
    ) {
        let src = Endpoint {
            ip: pkt.src,
            port: seg.src_port,
        };
        let dst = Endpoint {
            ip: pkt.dst,
            port: seg.dst_port,
        };
        let tp = TcpPacket {
            ts: pkt.ts,
            src,
            seg,
            vlan: pkt.vlan,
            truncated: pkt.truncated,
        };
        let (slot, _) = self.lookup_or_insert(Proto::Tcp, src, dst, pkt.vlan, pkt.ts, sink, |id| {
            Flow::Tcp(Box::new(TcpConn::new(id, &tp, dst)))
        });
        // A new ISN (or a SYN after close) on a known tuple: the old
        // connection is over; the new one takes its slot.
        let restart = match &self.slots[slot as usize].flow {
            Flow::Tcp(c) => c.starts_new_connection(&tp),
            _ => unreachable!("TCP key maps to a TCP connection"),
        };
        if restart {
            let id = self.next_id;
            self.next_id += 1;
            self.stats.tcp_conns += 1;
            let fresh = Flow::Tcp(Box::new(TcpConn::new(id, &tp, dst)));
            let old = std::mem::replace(&mut self.slots[slot as usize].flow, fresh);
            emit(old, false, sink);
            self.slots[slot as usize].queued = i64::MAX;
        }
        let (linger, idle) = (self.cfg.tcp_linger, self.cfg.tcp_idle);
        let s = &mut self.slots[slot as usize];
        let Flow::Tcp(conn) = &mut s.flow else {
            unreachable!()
        };
        conn.process(&tp, sink);
        let deadline = conn.deadline(linger, idle).0;
        if deadline < s.queued {
            s.queued = deadline;
            self.heap.push(Reverse((deadline, slot, s.gen)));
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn lookup_or_insert<S: RecordSink>(
        &mut self,
        proto: Proto,
        src: Endpoint,
        dst: Endpoint,
        vlan: Vlans,
        ts: Timestamp,
        sink: &mut S,
        make: impl FnOnce(u64) -> Flow,
    ) -> (u32, bool) {
        let vlan_key = if self.cfg.key_by_vlan {
            vlan
        } else {
            Vlans::default()
        };
        let (key, _) = FlowKey::new(proto, src, dst, vlan_key);
        if let Some(&slot) = self.index.get(&key) {
            return (slot, false);
        }
        while self.index.len() >= self.cfg.max_flows.max(1) {
            if !self.evict_one(sink) {
                break;
            }
        }
        let id = self.next_id;
        self.next_id += 1;
        match proto {
            Proto::Tcp => self.stats.tcp_conns += 1,
            Proto::Udp => self.stats.udp_flows += 1,
        }
        let flow = make(id);
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                self.slots.push(Slot {
                    gen: 0,
                    key: None,
                    queued: i64::MAX,
                    flow: Flow::Free,
                });
                (self.slots.len() - 1) as u32
            }
        };
        let deadline = match &flow {
            Flow::Tcp(_) => (ts + self.cfg.tcp_idle).0,
            Flow::Udp(_) => (ts + self.cfg.udp_idle).0,
            Flow::Free => unreachable!(),
        };
        let s = &mut self.slots[slot as usize];
        s.key = Some(key);
        s.flow = flow;
        s.queued = deadline;
        self.heap.push(Reverse((deadline, slot, s.gen)));
        self.index.insert(key, slot);
        self.stats.peak_flows = self.stats.peak_flows.max(self.index.len() as u64);
        (slot, true)
    }

    /// The flow's real deadline now.
    fn deadline_of(&self, slot: u32) -> i64 {
        match &self.slots[slot as usize].flow {
            Flow::Tcp(c) => c.deadline(self.cfg.tcp_linger, self.cfg.tcp_idle).0,
            Flow::Udp(u) => u.deadline(self.cfg.udp_idle).0,
            Flow::Free => i64::MAX,
        }
    }

    /// Lets capture time run to `ts`: flows whose deadline passed are written.
    fn advance<S: RecordSink>(&mut self, ts: Timestamp, sink: &mut S) {
        if ts <= self.now {
            return;
        }
        self.now = ts;
        while let Some(&Reverse((deadline, slot, gen))) = self.heap.peek() {
            if deadline > ts.0 {
                break;
            }
            self.heap.pop();
            if !self.is_live(deadline, slot, gen) {
                continue;
            }
            let real = self.deadline_of(slot);
            if real > ts.0 {
                let s = &mut self.slots[slot as usize];
                s.queued = real;
                self.heap.push(Reverse((real, slot, gen)));
            } else {
                self.remove(slot, false, sink);
            }
        }
    }

    fn is_live(&self, deadline: i64, slot: u32, gen: u32) -> bool {
        let s = &self.slots[slot as usize];
        s.gen == gen && s.queued == deadline && !matches!(s.flow, Flow::Free)
    }

    /// Reports the flow nearest to its deadline early. False when there is
    /// none.
    fn evict_one<S: RecordSink>(&mut self, sink: &mut S) -> bool {
        while let Some(Reverse((deadline, slot, gen))) = self.heap.pop() {
            if !self.is_live(deadline, slot, gen) {
                continue;
            }
            let real = self.deadline_of(slot);
            if real > deadline {
                self.slots[slot as usize].queued = real;
                self.heap.push(Reverse((real, slot, gen)));
                continue;
            }
            self.remove(slot, true, sink);
            self.stats.evicted += 1;
            return true;
        }
        false
    }

    fn remove<S: RecordSink>(&mut self, slot: u32, evicted: bool, sink: &mut S) {
        let s = &mut self.slots[slot as usize];
        let flow = std::mem::replace(&mut s.flow, Flow::Free);
        if let Some(key) = s.key.take() {
            self.index.remove(&key);
        }
        s.gen = s.gen.wrapping_add(1);
        s.queued = i64::MAX;
        self.free.push(slot);
        emit(flow, evicted, sink);
    }

    /// End of input: every flow still held is written, in order of first packet.
    pub fn finish<S: RecordSink>(&mut self, sink: &mut S) {
        let mut live: Vec<(u64, u32)> = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| match &s.flow {
                Flow::Tcp(c) => Some((c.id, i as u32)),
                Flow::Udp(u) => Some((u.id, i as u32)),
                Flow::Free => None,
            })
            .collect();
        live.sort_unstable();
        for (_, slot) in live {
            self.remove(slot, false, sink);
        }
        self.heap.clear();
    }
}

fn emit<S: RecordSink>(flow: Flow, evicted: bool, sink: &mut S) {
    match flow {
        Flow::Tcp(c) => {
            let service = service_for(Proto::Tcp, c.server.port);
            sink.record(Record::TcpConn(Box::new(c.record(evicted, service))));
        }
        Flow::Udp(u) => {
            let service = service_for(Proto::Udp, u.server.port);
            sink.record(Record::UdpFlow(Box::new(u.record(evicted, service))));
        }
        Flow::Free => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{TcpFlags, TcpSegment, UdpDatagram};

    fn udp_packet(ts_s: i64, sport: u16, dport: u16) -> (Timestamp, u16, u16) {
        (Timestamp(ts_s * 1_000_000_000), sport, dport)
    }

    fn feed_udp(t: &mut Tracker, out: &mut Vec<Record>, (ts, sp, dp): (Timestamp, u16, u16)) {
        let d = UdpDatagram {
            src_port: sp,
            dst_port: dp,
            payload: &[],
            payload_len: 10,
        };
        let p = Packet {
            ts,
            vlan: Vlans::default(),
            src: "10.0.0.1".parse().unwrap(),
            dst: "10.0.0.2".parse().unwrap(),
            truncated: false,
            reassembled: false,
            transport: Transport::Udp(d),
        };
        t.packet(&p, out);
    }

    fn flows(out: &[Record]) -> Vec<(u64, bool)> {
        out.iter()
            .filter_map(|r| match r {
                Record::UdpFlow(f) => Some((f.conn_id, f.evicted)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn idle_flows_expire_by_capture_time() {
        let mut t = Tracker::new(TrackConfig::default());
        let mut out = Vec::new();
        feed_udp(&mut t, &mut out, udp_packet(0, 1000, 53));
        feed_udp(&mut t, &mut out, udp_packet(30, 1001, 53));
        feed_udp(&mut t, &mut out, udp_packet(59, 1000, 53)); // keeps flow 0 alive
        feed_udp(&mut t, &mut out, udp_packet(100, 1002, 53));
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
        feed_udp(&mut t, &mut out, udp_packet(0, 1, 53));
        feed_udp(&mut t, &mut out, udp_packet(1, 2, 53));
        feed_udp(&mut t, &mut out, udp_packet(2, 1, 53)); // flow 0 active again
        feed_udp(&mut t, &mut out, udp_packet(3, 3, 53)); // evicts flow 1
        assert_eq!(flows(&out), vec![(1, true)]);
        assert_eq!(t.stats().evicted, 1);
        assert!(t.active() <= 2);
        t.finish(&mut out);
        assert_eq!(flows(&out).len(), 3);
        assert_eq!(t.stats().udp_flows, 3);
    }

    #[test]
    fn closed_connections_leave_after_the_linger_time() {
        let mut t = Tracker::new(TrackConfig::default());
        let mut out = Vec::new();
        let send = |t: &mut Tracker,
                    out: &mut Vec<Record>,
                    ms: i64,
                    from_client: bool,
                    flags: u8,
                    seq: u32,
                    ack: u32| {
            let seg = TcpSegment {
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
            let p = Packet {
                ts: Timestamp(ms * 1_000_000),
                vlan: Vlans::default(),
                src: if from_client { c } else { s },
                dst: if from_client { s } else { c },
                truncated: false,
                reassembled: false,
                transport: Transport::Tcp(seg),
            };
            t.packet(&p, out);
        };
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
        // 6 s later, another flow's packet moves time on.
        send(&mut t, &mut out, 6_000, true, TcpFlags::ACK, 5, 5);
        let conns: Vec<_> = out
            .iter()
            .filter_map(|r| match r {
                Record::TcpConn(c) => Some(c.state),
                _ => None,
            })
            .collect();
        // Expiry runs before the new packet is tracked: the refused
        // connection was written 5 s after its RST, and the late ACK starts
        // a new (mid-stream) flow.
        assert_eq!(conns, vec!["REJ"]);
        assert_eq!(t.active(), 1);
        assert_eq!(t.stats().tcp_conns, 2);
    }
}
