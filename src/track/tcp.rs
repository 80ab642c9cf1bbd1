//! One TCP connection: Zeek's endpoint state machine, Zeek's `conn_state` and
//! `history`, plus the handshake as sockscope reports it (who is client, SYN
//! and SYN-ACK times and options, retransmissions, RTT split in two, connect
//! time) and byte counts in sequence space.
//!
//! # Fidelity to Zeek
//! The endpoint states (INACTIVE, SYN_SENT, SYN_ACK_SENT, PARTIAL,
//! ESTABLISHED, CLOSED, RESET), their transitions, the history letters and the
//! `conn_state` derivation follow Zeek's `TCPSessionAdapter` and
//! `base/protocols/conn/main.zeek`, so `state` and `history` read the way
//! network engineers already read them. Payload byte counts follow Zeek's
//! `TCP_Endpoint::Size()`: sequence space, so a retransmitted byte counts once,
//! bytes acknowledged but never captured still count, and a packet cut by the
//! snaplen counts its length on the wire.
//!
//! # Where sockscope departs from Zeek, and why
//! - Identity is the 5-tuple *and the ISN*: a SYN with a new ISN starts a new
//!   connection (the caller, [`super::Tracker`], decides with
//!   [`TcpConn::starts_new_connection`]). Repeated SYNs with the same ISN stay
//!   one attempt however far apart they are (Zeek drops an unanswered attempt
//!   after 5 s and reports the next retransmission as a new connection).
//! - A SYN-ACK retransmitted with a different ISN does not inflate the
//!   server's byte count: the handshake ACK tells which SYN-ACK the client
//!   accepted, and the server's sequence space is based on that ISN.
//! - A connection first seen at its SYN-ACK has the SYN-ACK's *receiver* as
//!   client (Zeek guesses from port numbers); a SYN that arrives after its
//!   SYN-ACK (capture reordering) completes the pair instead of leaving the
//!   client stuck in SYN_SENT. A connection picked up mid-stream gets Zeek's
//!   guess from the ports ([`first_packet_from_client`]); either way a
//!   client that did not send the first packet is marked `^` in the history,
//!   as Zeek marks a flipped connection.
//! - A lone RST is recorded (state OTH, history `R`) but never as an attempt.
//! - SH, SHR and RSTRH say a SYN or SYN-ACK was sent; Zeek derives them from
//!   the endpoint states alone, so a FIN or RST on a connection picked up
//!   mid-stream would claim one. Here they need that SYN (SYN-ACK) in the
//!   history, else the state is OTH — what Zeek did for RSTOS0 (its regular
//!   expression on the history).
//! - A closed or reset connection keeps the late segments that fall inside
//!   the sequence spaces it used ([`TcpConn::starts_new_connection`]) for as
//!   long as it is kept, like a TCP stack's TIME-WAIT: Zeek forgets it
//!   5 s after the close and makes a new connection of every late FIN.
//! - Checksums are not verified (offloading makes them wrong in most local
//!   captures), so history never has `c`.

use crate::decode::{SynOptions, TcpFlags, TcpSegment};
use crate::event::{
    Direction, History, Opened, Record, RecordSink, SynInfo, TcpConnRecord, TcpEvent, TcpEventKind,
    Verdict, VlanList,
};
use crate::time::{Nanos, Timestamp};

use super::budget::StreamBudget;
use super::key::Endpoint as Addr;
use super::reassembly::{ReassemblyLimits, ReassemblyStats};
use super::seq::{unwrap_near, SeqNum, UNWRAP_BASE};
use super::service::likely_server_port;
use super::stream::{StreamCtx, StreamDetector, Streams};
use super::Vlans;

/// What the tracker lends a connection for application decoding.
pub struct StreamEnv<'a> {
    pub detector: Option<&'a StreamDetector>,
    pub limits: &'a ReassemblyLimits,
    pub stats: &'a mut ReassemblyStats,
    /// All connections' buffers together.
    pub budget: &'a mut StreamBudget,
}

/// Whether a connection's bytes go to an application decoder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StreamState {
    /// No client payload seen yet.
    Undecided,
    Attached,
    /// Nobody wants them (or no longer).
    Declined,
}

/// Zeek's TOO_LARGE_SEQ_DELTA: jumps beyond 1 MiB in a SYN or RST are not trusted.
const TOO_LARGE_SEQ_DELTA: i32 = 1_048_576;

/// Every `conn_state` (Zeek's, in the order its documentation lists them).
pub const CONN_STATES: &[&str] = &[
    "S0", "S1", "SF", "REJ", "S2", "S3", "RSTO", "RSTR", "RSTOS0", "RSTRH", "SH", "SHR", "OTH",
];
/// SYN and SYN-ACK times remembered per connection (to pair each SYN-ACK with
/// the SYN it answers, and the handshake ACK with its SYN-ACK).
const HANDSHAKE_RING: usize = 4;
/// Holes (sequence ranges skipped by out-of-order data) tracked per direction
/// for gap detection; beyond that the newest hole absorbs the next.
const MAX_HOLES: usize = 4;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum EpState {
    Inactive,
    SynSent,
    SynAckSent,
    Partial,
    Established,
    Closed,
    Reset,
}

/// Zeek's logarithmically recorded history letters (c, g, t, w): recorded at
/// the 1st, 10th, 100th… occurrence.
#[derive(Clone, Copy, Debug)]
struct Scaled {
    count: u32,
    threshold: u32,
}

impl Default for Scaled {
    fn default() -> Self {
        Scaled {
            count: 0,
            threshold: 1,
        }
    }
}

impl Scaled {
    fn hit(&mut self) -> bool {
        self.count = self.count.saturating_add(1);
        if self.count == self.threshold {
            match self.threshold.checked_mul(10) {
                Some(t) => self.threshold = t,
                None => self.count = 0,
            }
            true
        } else {
            false
        }
    }
}

/// Bit positions in the history-seen mask (shifted by 16 for the responder).
mod hist {
    pub const SYN: u32 = 1 << 0;
    pub const ACK: u32 = 1 << 1;
    pub const DATA: u32 = 1 << 2;
    pub const FIN: u32 = 1 << 3;
    pub const RST: u32 = 1 << 4;
    pub const FIN_RST: u32 = 1 << 5;
    pub const MULTI_FLAG: u32 = 1 << 6;
}

#[derive(Clone, Copy, Debug)]
struct Holes {
    ranges: [(u64, u64); MAX_HOLES],
    len: u8,
}

impl Holes {
    fn new() -> Self {
        Holes {
            ranges: [(0, 0); MAX_HOLES],
            len: 0,
        }
    }

    fn add(&mut self, start: u64, end: u64) {
        if start >= end {
            return;
        }
        if (self.len as usize) < MAX_HOLES {
            self.ranges[self.len as usize] = (start, end);
            self.len += 1;
        } else {
            let last = &mut self.ranges[MAX_HOLES - 1];
            last.0 = last.0.min(start);
            last.1 = last.1.max(end);
        }
    }

    /// Data [s, e) arrived: shrink the holes it fills.
    ///
    /// Splitting a hole needs one more slot; when none is free the smaller
    /// piece is forgotten, so bytes reported missed are then a lower bound.
    /// Every hole is visited once and no piece left behind overlaps [s, e),
    /// so this always terminates.
    fn fill(&mut self, s: u64, e: u64) {
        let mut i = 0;
        while i < self.len as usize {
            let (hs, he) = self.ranges[i];
            if e <= hs || s >= he {
                i += 1;
                continue;
            }
            let left = (hs, s.max(hs));
            let right = (e.min(he), he);
            match (left.0 < left.1, right.0 < right.1) {
                (false, false) => self.remove(i),
                (true, false) => {
                    self.ranges[i] = left;
                    i += 1;
                }
                (false, true) => {
                    self.ranges[i] = right;
                    i += 1;
                }
                (true, true) => {
                    if (self.len as usize) < MAX_HOLES {
                        self.ranges[i] = left;
                        self.ranges[self.len as usize] = right;
                        self.len += 1;
                    } else if left.1 - left.0 >= right.1 - right.0 {
                        self.ranges[i] = left;
                    } else {
                        self.ranges[i] = right;
                    }
                    i += 1;
                }
            }
        }
    }

    /// The peer acknowledged everything below `ack`: holes below it are
    /// gaps. Returns the missed bytes.
    fn acked(&mut self, ack: u64) -> u64 {
        let mut missed = 0;
        let mut i = 0;
        while i < self.len as usize {
            let (hs, he) = self.ranges[i];
            if hs < ack {
                missed += he.min(ack) - hs;
                if he > ack {
                    self.ranges[i].0 = ack;
                    i += 1;
                } else {
                    self.remove(i);
                }
            } else {
                i += 1;
            }
        }
        missed
    }

    fn remove(&mut self, i: usize) {
        let n = self.len as usize;
        self.ranges.copy_within(i + 1..n, i);
        self.len -= 1;
    }
}

/// One direction of the connection (Zeek's `TCP_Endpoint`): the fields every
/// packet touches. Sequence numbers are unwrapped to 64 bits.
#[derive(Clone, Debug)]
struct Side {
    start: u64,
    last: u64,
    ack: u64,
    /// Highest acknowledgement for which gaps were already counted.
    gap_checked_to: u64,
    packets: u64,
    truncated: u32,
    fin_cnt: u32,
    /// Relative sequence numbers of the last SYN, FIN and RST (mod 2^32),
    /// for Zeek's "record again if the sequence number differs".
    hist_last_syn: u32,
    hist_last_fin: u32,
    hist_last_rst: u32,
    rxmt: Scaled,
    win0: Scaled,
    gap: Scaled,
    state: EpState,
    prev_state: EpState,
    did_close: bool,
    sent_rst: bool,
    sent_fin: bool,
    /// Holes held in the cold part (0 on nearly every connection).
    holes: u8,
}

impl Side {
    fn new() -> Self {
        Side {
            start: 0,
            last: 0,
            ack: 0,
            gap_checked_to: 0,
            packets: 0,
            truncated: 0,
            fin_cnt: 0,
            hist_last_syn: 0,
            hist_last_fin: 0,
            hist_last_rst: 0,
            rxmt: Scaled::default(),
            win0: Scaled::default(),
            gap: Scaled::default(),
            state: EpState::Inactive,
            prev_state: EpState::Inactive,
            did_close: false,
            sent_rst: false,
            sent_fin: false,
            holes: 0,
        }
    }

    fn set_state(&mut self, s: EpState) {
        if s != self.state {
            self.prev_state = self.state;
            self.state = s;
        }
    }

    /// This side's sequence space starts at `start`; `last` is the highest
    /// sequence number sent so far. Forgets holes (the caller clears the
    /// cold part when `holes` was non-zero).
    fn init_seq(&mut self, start: SeqNum, last: SeqNum) {
        let base = if self.last == 0 {
            UNWRAP_BASE + u64::from(start.0)
        } else {
            unwrap_near(self.last, start)
        };
        self.start = base;
        self.ack = base;
        self.last = unwrap_near(base, last);
        self.gap_checked_to = 0;
    }

    fn unwrap(&self, v: SeqNum) -> u64 {
        unwrap_near(self.last, v)
    }

    fn rel(&self, v: SeqNum) -> i64 {
        self.unwrap(v) as i64 - self.start as i64
    }

    /// Zeek's `NoDataAcked`.
    fn no_data_acked(&self) -> bool {
        self.ack == self.start || self.ack == self.start + 1
    }

    /// Payload bytes in sequence space (Zeek's `TCP_Endpoint::Size`).
    fn size(&self, peer: &Side) -> u64 {
        if self.prev_state == EpState::SynSent
            && self.state == EpState::Reset
            && peer.state == EpState::Inactive
            && !self.no_data_acked()
        {
            return 0;
        }
        if self.state == EpState::Inactive && self.packets == 0 {
            return 0;
        }
        let top = self.last.max(self.ack);
        let mut size = top.saturating_sub(self.start);
        // The SYN (or the byte before a partial connection's first).
        size = size.saturating_sub(1);
        if self.fin_cnt > 0 && size != 0 {
            size -= 1;
        }
        size
    }

    fn inactive(&self) -> bool {
        matches!(self.state, EpState::Inactive | EpState::Partial)
    }

    /// Whether `v` lies in the sequence space this side used: from its
    /// first sequence number up to [`TOO_LARGE_SEQ_DELTA`] past the highest
    /// it sent (data in flight when the peer reset, or sent but not
    /// captured). A side whose numbers were never seen holds everything.
    /// Past 2 GiB of traffic numbers repeat and every earlier one is held.
    fn holds(&self, v: SeqNum) -> bool {
        if self.last == 0 {
            return true;
        }
        let at = self.unwrap(v);
        at >= self.start && at <= self.last + TOO_LARGE_SEQ_DELTA as u64
    }
}

/// A small ring of recent handshake packets.
#[derive(Clone, Copy, Debug)]
struct Ring<T: Copy> {
    items: [Option<T>; HANDSHAKE_RING],
    next: usize,
}

impl<T: Copy> Ring<T> {
    fn new() -> Self {
        Ring {
            items: [None; HANDSHAKE_RING],
            next: 0,
        }
    }
    fn push(&mut self, v: T) {
        self.items[self.next] = Some(v);
        self.next = (self.next + 1) % HANDSHAKE_RING;
    }
    fn iter(&self) -> impl Iterator<Item = T> + '_ {
        self.items.iter().flatten().copied()
    }
    fn latest(&self) -> Option<T> {
        self.items[(self.next + HANDSHAKE_RING - 1) % HANDSHAKE_RING]
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct Timings {
    rtt: Option<Nanos>,
    connect: Option<Nanos>,
    syn_to_synack: Option<Nanos>,
    synack_to_ack: Option<Nanos>,
}

#[derive(Clone, Debug)]
struct Handshake {
    client_isn: Option<SeqNum>,
    first_syn: Option<Timestamp>,
    syns: Ring<Timestamp>,
    syn_retransmits: u32,
    /// (time, ISN, acknowledgement) of each SYN-ACK.
    synacks: Ring<(Timestamp, SeqNum, SeqNum)>,
    synack_count: u32,
    accepted_server_isn: Option<SeqNum>,
    complete: bool,
    simultaneous: bool,
    /// Simultaneous open: each side acknowledged the other's SYN.
    simul_acked: [bool; 2],
    timings: Timings,
    refused: bool,
    closed_by: Option<Direction>,
}

impl Handshake {
    fn new() -> Self {
        Handshake {
            client_isn: None,
            first_syn: None,
            syns: Ring::new(),
            syn_retransmits: 0,
            synacks: Ring::new(),
            synack_count: 0,
            accepted_server_isn: None,
            complete: false,
            simultaneous: false,
            simul_acked: [false; 2],
            timings: Timings::default(),
            refused: false,
            closed_by: None,
        }
    }
}

/// What a connection needs only now and then: on SYN, FIN and RST packets,
/// on gaps, when a history letter is added, when it is written.
#[derive(Debug)]
struct Cold {
    client: Addr,
    server: Addr,
    vlans: VlanList,
    history: History,
    /// Holes of the client's and the server's byte streams.
    holes: [Holes; 2],
    missed: [u64; 2],
    syn: [Option<SynOptions>; 2],
    hs: Handshake,
}

/// One TCP connection.
#[derive(Debug)]
pub struct TcpConn {
    pub id: u64,
    orig: Side,
    resp: Side,
    pub first_ts: Timestamp,
    pub last_ts: Timestamp,
    hist_seen: u32,
    /// A SYN-ACK was seen and the client's ACK of it is still to come.
    awaiting_ack: bool,
    stream: StreamState,
    /// The application decoder and its reassemblers, for the few
    /// connections one wants (touched on each of their packets: kept out of
    /// the cold part).
    streams: Option<Box<Streams>>,
    cold: Box<Cold>,
}

/// What the tracker needs to know from one packet.
pub struct TcpPacket<'a> {
    pub ts: Timestamp,
    /// Sent by the connection's client.
    pub from_client: bool,
    pub seg: &'a TcpSegment<'a>,
    pub vlan: Vlans,
    pub truncated: bool,
    /// The source's note on the payload, for the stream handler (0: none).
    pub note: u64,
}

/// Which end of a connection the first packet makes the client: a SYN's
/// sender; a SYN-ACK's receiver (the SYN-ACK's sender is the server even when
/// its SYN was not seen); for a connection picked up mid-stream, Zeek's guess
/// (`WantConnection`): the receiver when the sender's port is a likely server
/// port and the receiver's is not, or both are and the sender's is the lower;
/// else the sender.
pub fn first_packet_from_client(seg: &TcpSegment<'_>) -> bool {
    if seg.flags.syn() {
        return !seg.flags.ack();
    }
    let (src, dst) = (seg.src_port, seg.dst_port);
    !(likely_server_port(src) && (!likely_server_port(dst) || src < dst))
}

impl TcpConn {
    /// A connection between `client` and `server`; `flipped` when the client
    /// is not the sender of its first packet (history `^`).
    pub fn new(id: u64, client: Addr, server: Addr, ts: Timestamp, flipped: bool) -> TcpConn {
        let mut history = History::new();
        if flipped {
            history.push(b'^');
        }
        TcpConn {
            id,
            orig: Side::new(),
            resp: Side::new(),
            first_ts: ts,
            last_ts: ts,
            hist_seen: 0,
            awaiting_ack: false,
            stream: StreamState::Undecided,
            streams: None,
            cold: Box::new(Cold {
                client,
                server,
                vlans: VlanList::default(),
                history,
                holes: [Holes::new(), Holes::new()],
                missed: [0; 2],
                syn: [None; 2],
                hs: Handshake::new(),
            }),
        }
    }

    pub fn client(&self) -> Addr {
        self.cold.client
    }

    pub fn server(&self) -> Addr {
        self.cold.server
    }

    fn any_closed(&self) -> bool {
        self.orig.did_close || self.resp.did_close
    }

    /// Whether this packet belongs to a new connection on the same 5-tuple
    /// (identity = 5-tuple + ISN). A SYN without ACK starts one when it has
    /// another ISN, or when the connection had closed. Any other segment
    /// joins an open connection; once the connection is over (closed both
    /// ways or reset) it joins only if it lies in the old window (both
    /// directions' sequence spaces): a retransmitted FIN, RST or ACK whose
    /// acknowledgement was lost. A segment outside it is a connection whose
    /// handshake was not captured; joining it would count its bytes (and
    /// its lifetime) against the closed one.
    pub fn starts_new_connection(&self, pkt: &TcpPacket<'_>) -> bool {
        let f = pkt.seg.flags;
        if !f.syn() || f.ack() || f.rst() {
            return self.is_over() && !self.in_old_window(pkt);
        }
        let hs = &self.cold.hs;
        match hs.client_isn {
            Some(isn) => {
                if pkt.from_client {
                    SeqNum(pkt.seg.seq) != isn
                } else if self.resp.state == EpState::Inactive && hs.synack_count == 0 {
                    false // simultaneous open
                } else {
                    self.any_closed()
                }
            }
            None => self.any_closed() || self.orig.state != EpState::Inactive,
        }
    }

    /// Closed both ways, or reset: what is left to come are late segments.
    fn is_over(&self) -> bool {
        (self.orig.did_close && self.resp.did_close)
            || self.orig.state == EpState::Reset
            || self.resp.state == EpState::Reset
    }

    /// Whether a segment falls inside the sequence spaces this connection
    /// used, as a TCP stack in TIME-WAIT or LAST-ACK judges what it still
    /// answers: its sequence number in the sender's space and, when it
    /// carries an ACK, its acknowledgement in the peer's ([`Side::holds`]).
    fn in_old_window(&self, pkt: &TcpPacket<'_>) -> bool {
        let seg = pkt.seg;
        let (ep, peer) = if pkt.from_client {
            (&self.orig, &self.resp)
        } else {
            (&self.resp, &self.orig)
        };
        ep.holds(SeqNum(seg.seq)) && (!seg.flags.ack() || peer.holds(SeqNum(seg.ack)))
    }

    /// When the flow table may forget this connection: `linger` after its
    /// last packet once it is over (closed both ways or reset; every late
    /// segment it takes lies in its old window, so each one restarts the
    /// linger as a retransmitted FIN restarts TIME-WAIT), after `idle` of
    /// silence otherwise.
    pub fn deadline(&self, linger: Nanos, idle: Nanos) -> Timestamp {
        self.last_ts + if self.is_over() { linger } else { idle }
    }

    fn add_history(&mut self, c: u8) {
        self.cold.history.push(c);
    }

    /// Zeek's `CheckHistory`: records the letter the first time; true when
    /// it had been seen before.
    fn check_history(&mut self, is_orig: bool, mask: u32, letter: u8) -> bool {
        let (mask, letter) = if is_orig {
            (mask, letter)
        } else {
            (mask << 16, letter.to_ascii_lowercase())
        };
        if self.hist_seen & mask == 0 {
            self.hist_seen |= mask;
            self.add_history(letter);
            false
        } else {
            true
        }
    }

    fn letter(is_orig: bool, c: u8) -> u8 {
        if is_orig {
            c
        } else {
            c.to_ascii_lowercase()
        }
    }

    fn sides(&mut self, is_orig: bool) -> (&mut Side, &mut Side) {
        if is_orig {
            (&mut self.orig, &mut self.resp)
        } else {
            (&mut self.resp, &mut self.orig)
        }
    }

    /// The sending side, the other side, and the cold part, borrowed apart.
    fn parts(&mut self, is_orig: bool) -> (&mut Side, &mut Side, &mut Cold) {
        if is_orig {
            (&mut self.orig, &mut self.resp, &mut self.cold)
        } else {
            (&mut self.resp, &mut self.orig, &mut self.cold)
        }
    }

    fn side_index(is_orig: bool) -> usize {
        usize::from(!is_orig)
    }

    /// Feeds one packet; emits handshake and teardown events (and, through
    /// an attached decoder, application records) to `sink`.
    pub fn process<S: RecordSink>(
        &mut self,
        pkt: &TcpPacket<'_>,
        env: &mut StreamEnv<'_>,
        sink: &mut S,
    ) {
        let seg = pkt.seg;
        let f = seg.flags;
        let is_orig = pkt.from_client;
        let len = seg.payload_len;
        let seq = SeqNum(seg.seq);
        let ack = SeqNum(seg.ack);
        self.last_ts = self.last_ts.max(pkt.ts);
        for &id in pkt.vlan.as_slice() {
            self.cold.vlans.add(id);
        }

        // Sequence space this segment occupies (RST payload is not stream data).
        let mut seg_len = len;
        if f.syn() {
            seg_len = seg_len.wrapping_add(1);
        }
        if f.fin() {
            seg_len = seg_len.wrapping_add(1);
        }
        if f.rst() {
            seg_len = seg_len.wrapping_sub(len);
        }
        let seq_end = seq + seg_len;

        let control = f.0 & (TcpFlags::SYN | TcpFlags::FIN | TcpFlags::RST) != 0;
        {
            let (ep, _) = self.sides(is_orig);
            ep.packets += 1;
            if pkt.truncated {
                ep.truncated += 1;
            }
            // init_endpoint only acts on an inactive side or a SYN.
            if (ep.state == EpState::Inactive || f.syn())
                && init_endpoint(ep, f.syn(), seq, seq_end)
                && ep.holes > 0
            {
                ep.holes = 0;
                self.cold.holes[Self::side_index(is_orig)] = Holes::new();
            }
        }

        // History letters (Zeek's update_history). The relative sequence
        // number only matters to SYN, FIN and RST letters.
        let rel_seq = if control {
            let (ep, _) = self.sides(is_orig);
            ep.rel(seq) as u32
        } else {
            0
        };
        let bits = u8::from(f.syn()) + u8::from(f.fin()) + u8::from(f.rst());
        if bits > 1 {
            if f.fin() && f.rst() {
                self.check_history(is_orig, hist::FIN_RST, b'I');
            } else {
                self.check_history(is_orig, hist::MULTI_FLAG, b'Q');
            }
        } else if bits == 1 {
            if f.syn() {
                let code = if f.ack() { b'H' } else { b'S' };
                let seen = self.check_history(is_orig, hist::SYN, code);
                let (ep, _) = self.sides(is_orig);
                let again = seen && rel_seq != ep.hist_last_syn;
                ep.hist_last_syn = rel_seq;
                if again {
                    self.add_history(Self::letter(is_orig, code));
                }
            }
            if f.fin() {
                let seen = self.check_history(is_orig, hist::FIN, b'F');
                let at = rel_seq.wrapping_add(len);
                let (ep, _) = self.sides(is_orig);
                let again = seen && at != ep.hist_last_fin;
                ep.hist_last_fin = at;
                if again {
                    self.add_history(Self::letter(is_orig, b'F'));
                }
            }
            if f.rst() {
                let seen = self.check_history(is_orig, hist::RST, b'R');
                let (ep, _) = self.sides(is_orig);
                let again = seen && rel_seq != ep.hist_last_rst;
                ep.hist_last_rst = rel_seq;
                if again {
                    self.add_history(Self::letter(is_orig, b'R'));
                }
            }
        } else if len > 0 {
            self.check_history(is_orig, hist::DATA, b'D');
        } else if f.ack() {
            self.check_history(is_orig, hist::ACK, b'A');
        }

        // Zero windows (Zeek's update_window): boring with or after a RST,
        // or after the peer's FIN.
        if seg.window == 0 && !f.rst() {
            let (ep, peer) = self.sides(is_orig);
            if peer.state != EpState::Closed && ep.state != EpState::Reset && ep.win0.hit() {
                self.add_history(Self::letter(is_orig, b'W'));
            }
        }

        if f.syn() {
            // The client's SYN options, the server's SYN-ACK options (the
            // latest of each, should they be retransmitted with others).
            self.cold.syn[Self::side_index(is_orig)] =
                Some(SynOptions::parse(seg.options, seg.options.len()));
        }
        if f.fin() {
            let (ep, _) = self.sides(is_orig);
            ep.fin_cnt += 1;
        }

        // Acknowledgements (Zeek: init_peer / update_ack_seq), and gaps:
        // bytes the peer sent that this side acknowledges but the capture
        // never saw. Not counted on FIN/RST packets (Zeek: those
        // end-of-connection gaps are unreliable).
        if f.ack() {
            let peer_idx = Self::side_index(!is_orig);
            let (_, peer, cold) = self.parts(is_orig);
            if peer.state == EpState::Inactive {
                let prev = ack + u32::MAX; // ack - 1
                peer.init_seq(prev, prev);
                if peer.holes > 0 {
                    peer.holes = 0;
                    cold.holes[peer_idx] = Holes::new();
                }
            } else {
                let acked = peer.unwrap(ack);
                let rel_ack = acked as i64 - peer.start as i64;
                if rel_ack >= 0 && !f.rst() {
                    let delta = ack.delta(SeqNum(peer.ack as u32));
                    if !(ack.0 == 0 && delta > TOO_LARGE_SEQ_DELTA) && delta > 0 {
                        peer.ack = unwrap_near(peer.ack, ack);
                    }
                }
                if !f.fin() && !f.rst() && rel_ack > 0 && peer.packets > 0 {
                    let floor = peer.last.max(peer.gap_checked_to);
                    let mut gap = 0;
                    if acked > floor {
                        gap = acked - floor;
                        peer.gap_checked_to = acked;
                    }
                    if peer.holes > 0 {
                        let holes = &mut cold.holes[peer_idx];
                        gap += holes.acked(acked);
                        peer.holes = holes.len;
                    }
                    if gap > 0 {
                        let hit = peer.gap.hit();
                        cold.missed[peer_idx] += gap;
                        if hit {
                            self.add_history(Self::letter(!is_orig, b'G'));
                        }
                    }
                }
            }
        }

        // Highest sequence sent (Zeek: update_last_seq), holes, retransmissions.
        {
            let idx = Self::side_index(is_orig);
            let (ep, _, cold) = self.parts(is_orig);
            let delta_last = seq_end.delta(SeqNum(ep.last as u32));
            if len > 0 && !f.rst() {
                // Data starts after the SYN's sequence byte, if any.
                let data_start = ep.unwrap(seq) + u64::from(f.syn());
                if data_start > ep.last || ep.holes > 0 {
                    let holes = &mut cold.holes[idx];
                    if data_start > ep.last {
                        holes.add(ep.last, data_start);
                    }
                    holes.fill(data_start, data_start + u64::from(len));
                    ep.holes = holes.len;
                }
            }
            let mut rexmit = false;
            if (f.syn() || f.rst())
                && !(-TOO_LARGE_SEQ_DELTA..=TOO_LARGE_SEQ_DELTA).contains(&delta_last)
            {
                // Not trusted.
            } else if f.fin() && ep.last == ep.start + 1 {
                ep.last = unwrap_near(ep.last, seq_end);
            } else if ep.state == EpState::Reset {
                // Nothing after a RST is trusted.
            } else if delta_last > 0 {
                ep.last = unwrap_near(ep.last, seq_end);
            } else if len > 0 {
                rexmit = ep.rxmt.hit();
            }
            if rexmit {
                self.add_history(Self::letter(is_orig, b'T'));
            }
        }

        let prev_orig = self.orig.state;
        let prev_resp = self.resp.state;
        // Without SYN, FIN or RST, only an inactive side changes state.
        let sender_inactive = if is_orig { prev_orig } else { prev_resp } == EpState::Inactive;
        if (control || sender_inactive) && self.update_state_machine(is_orig, seq, len, f) {
            let (ep, _) = self.sides(is_orig);
            ep.did_close = true;
        }

        if control || (self.awaiting_ack && is_orig && f.ack()) {
            self.handshake(pkt, prev_orig, prev_resp, sink);
        }

        if self.stream != StreamState::Declined && !f.rst() {
            self.stream_packet(pkt, env, sink);
        }
    }

    fn ctx(&self) -> StreamCtx {
        StreamCtx {
            conn_id: self.id,
            client: self.cold.client,
            server: self.cold.server,
        }
    }

    /// Application decoding: the first client payload decides; after that,
    /// payload and acknowledgements feed the reassemblers.
    fn stream_packet<S: RecordSink>(
        &mut self,
        pkt: &TcpPacket<'_>,
        env: &mut StreamEnv<'_>,
        sink: &mut S,
    ) {
        let seg = pkt.seg;
        let is_orig = pkt.from_client;
        let len = seg.payload_len;
        if self.stream == StreamState::Undecided {
            if !is_orig || len == 0 {
                return;
            }
            self.stream = StreamState::Declined;
            let Some(detector) = env.detector else { return };
            // Only a stream seen from its first byte can be decoded.
            let data_start = self.orig.unwrap(SeqNum(seg.seq)) + u64::from(seg.flags.syn());
            if self.cold.hs.client_isn.is_none()
                || data_start != self.orig.start + 1
                || seg.payload.is_empty()
            {
                return;
            }
            let Some(mut streams) = detector(seg.payload) else {
                return;
            };
            let server_start = if self.cold.hs.synack_count > 0 {
                self.resp.start + 1
            } else {
                0
            };
            streams.begin(self.ctx(), data_start, server_start);
            self.streams = Some(streams);
            self.stream = StreamState::Attached;
        }
        let ts = pkt.ts;
        let dropped_before = env.stats.dropped_bytes;
        let conflicts_before = env.stats.conflicts;
        let (ep, peer) = if is_orig {
            (&self.orig, &self.resp)
        } else {
            (&self.resp, &self.orig)
        };
        let Some(streams) = self.streams.as_mut() else {
            return;
        };
        if seg.flags.syn() && !is_orig {
            streams.set_server_start(ep.start + 1);
        }
        let sink_dyn: &mut dyn RecordSink = sink;
        if len > 0 {
            let data_start = ep.unwrap(SeqNum(seg.seq)) + u64::from(seg.flags.syn());
            let captured = seg.stream_bytes();
            streams.segment(
                is_orig,
                ts,
                data_start,
                captured,
                u64::from(len),
                pkt.note,
                env.limits,
                env.stats,
                sink_dyn,
            );
        }
        if seg.flags.fin() {
            let at = ep.unwrap(SeqNum(seg.seq)) + u64::from(seg.flags.syn()) + u64::from(len);
            streams.fin(is_orig, at);
        }
        if seg.flags.ack() && !seg.flags.syn() {
            let ack = peer.unwrap(SeqNum(seg.ack));
            streams.acked(!is_orig, ts, ack, env.limits, env.stats, sink_dyn);
        }
        streams.check_closed(ts, env.stats, sink_dyn);
        // A decoder with nothing more to decode says what it has and goes
        // (most connections it is shown are plain HTTP).
        if streams.is_done() {
            self.finish_streams(env, sink);
        }
        let dir = Direction::from_is_client(is_orig);
        let dropped = env.stats.dropped_bytes - dropped_before;
        if dropped > 0 {
            self.emit(sink, ts, TcpEventKind::ReassemblyLimit, dir, |e| {
                e.bytes = Some(dropped)
            });
        }
        if env.stats.conflicts > conflicts_before {
            self.emit(sink, ts, TcpEventKind::OverlapConflict, dir, |_| {});
        }
    }

    /// Starts loading what the next packet will touch (see
    /// [`crate::track::Tracker::prefetch`]).
    #[inline]
    pub fn prefetch(&self, from_client: bool) {
        if let Some(s) = &self.streams {
            s.prefetch(from_client);
        }
    }

    /// The connection is over: its decoder (if any) flushes and finishes.
    pub fn finish_streams<S: RecordSink>(&mut self, env: &mut StreamEnv<'_>, sink: &mut S) {
        let ts = self.last_ts;
        if let Some(mut streams) = self.streams.take() {
            streams.end(ts, env.limits, env.stats, sink);
            if streams.charged > 0 {
                env.budget.release(self.id);
            }
        }
        self.stream = StreamState::Declined;
    }

    /// Bytes its decoder's buffers hold now, and what the budget has on
    /// record for them.
    pub fn buffers(&self) -> (usize, usize) {
        self.streams
            .as_ref()
            .map_or((0, 0), |s| (s.held(), s.charged))
    }

    /// Tells the budget what this connection's buffers hold now (it sits in
    /// flow-table slot `slot`).
    #[inline]
    pub fn charge_buffers(&mut self, slot: u32, budget: &mut StreamBudget) {
        if let Some(s) = self.streams.as_mut() {
            let held = s.held();
            if held != s.charged {
                budget.charge(self.id, slot, held);
                s.charged = held;
            }
        }
    }

    /// Memory is short and this connection has held buffers longest: it
    /// gives them up (its decoder goes on if it can), and says so in a
    /// `buffer_limit` event.
    pub fn give_up_buffers<S: RecordSink>(&mut self, env: &mut StreamEnv<'_>, sink: &mut S) {
        let ts = self.last_ts;
        let Some(streams) = self.streams.as_mut() else {
            return;
        };
        let bytes = streams.charged;
        streams.shed(ts, env.limits, env.stats, sink);
        env.budget.gave_up(bytes);
        let done = streams.is_done();
        self.emit(
            sink,
            ts,
            TcpEventKind::BufferLimit,
            Direction::Client,
            |e| e.bytes = Some(bytes as u64),
        );
        if done {
            self.finish_streams(env, sink);
        }
    }

    /// Zeek's `UpdateStateMachine`: returns whether this packet closes the
    /// sending side.
    fn update_state_machine(
        &mut self,
        is_orig: bool,
        seq: SeqNum,
        len: u32,
        f: crate::decode::TcpFlags,
    ) -> bool {
        let orig_state = self.orig.state;
        let latest_synack_ack =
            if self.orig.state == EpState::Inactive && is_orig && f.syn() && !f.ack() {
                self.cold.hs.synacks.latest().map(|(_, _, a)| a)
            } else {
                None
            };
        let (ep, peer) = self.sides(is_orig);
        let mut do_close = false;
        match ep.state {
            EpState::Inactive => {
                if f.syn() {
                    if is_orig {
                        if f.ack() {
                            ep.set_state(EpState::SynAckSent);
                        } else if peer.state == EpState::Established
                            && latest_synack_ack == Some(seq + 1)
                        {
                            // The SYN-ACK answering this SYN was captured
                            // first: the handshake is as good as done.
                            ep.set_state(EpState::Established);
                        } else {
                            ep.set_state(EpState::SynSent);
                        }
                    } else {
                        if peer.state == EpState::SynSent {
                            peer.set_state(EpState::Established);
                        }
                        ep.set_state(EpState::Established);
                    }
                }
                if f.fin() {
                    ep.set_state(EpState::Closed);
                    do_close = true;
                }
                if f.rst() {
                    ep.set_state(EpState::Reset);
                    do_close = true;
                }
                if ep.state == EpState::Inactive {
                    if !is_orig && len == 0 && orig_state == EpState::SynSent {
                        // An ACK of the SYN before the SYN-ACK: not a
                        // partial connection.
                    } else if f.ack() && peer.state == EpState::Established {
                        ep.set_state(EpState::Established);
                    } else {
                        ep.set_state(EpState::Partial);
                    }
                }
            }
            EpState::SynSent | EpState::SynAckSent => {
                if f.fin() {
                    ep.set_state(EpState::Closed);
                    do_close = true;
                }
                if f.rst() {
                    ep.set_state(EpState::Reset);
                    do_close = true;
                }
            }
            EpState::Established | EpState::Partial => {
                if f.syn()
                    && ep.state == EpState::Partial
                    && peer.state == EpState::Inactive
                    && !f.ack()
                {
                    ep.set_state(EpState::SynSent);
                }
                if f.fin() && !f.rst() {
                    ep.set_state(EpState::Closed);
                    if peer.state == EpState::Reset && peer.prev_state == EpState::Closed {
                        // FIN followed by RST from the peer was a normal close.
                        peer.set_state(EpState::Closed);
                    }
                    do_close = true;
                }
                if f.rst() {
                    ep.set_state(EpState::Reset);
                    do_close = true;
                }
            }
            EpState::Closed => {
                if f.rst() && peer.state != EpState::Closed {
                    ep.set_state(EpState::Reset);
                    if !ep.did_close {
                        do_close = true;
                    }
                }
            }
            EpState::Reset => {}
        }
        do_close
    }

    /// The handshake and teardown as sockscope reports them (called for
    /// SYN, FIN and RST packets, and for the client's ACKs while the
    /// handshake ACK is awaited).
    fn handshake<S: RecordSink>(
        &mut self,
        pkt: &TcpPacket<'_>,
        prev_orig: EpState,
        prev_resp: EpState,
        sink: &mut S,
    ) {
        let seg = pkt.seg;
        let f = seg.flags;
        let ts = pkt.ts;
        let is_orig = pkt.from_client;
        let seq = SeqNum(seg.seq);
        let ack = SeqNum(seg.ack);
        let dir = Direction::from_is_client(is_orig);

        if f.syn() && !f.ack() && !f.rst() {
            let hs = &mut self.cold.hs;
            if is_orig {
                match hs.client_isn {
                    None => {
                        hs.client_isn = Some(seq);
                        hs.first_syn = Some(ts);
                        hs.syns.push(ts);
                        let opts = self.cold.syn[0].map(syn_info);
                        self.emit(sink, ts, TcpEventKind::Syn, dir, |e| e.options = opts);
                    }
                    Some(isn) if isn == seq => {
                        hs.syn_retransmits += 1;
                        hs.syns.push(ts);
                        let n = hs.syn_retransmits;
                        let opts = self.cold.syn[0].map(syn_info);
                        self.emit(sink, ts, TcpEventKind::SynRetransmit, dir, |e| {
                            e.options = opts;
                            e.count = Some(n);
                        });
                    }
                    Some(_) => {}
                }
            } else if hs.client_isn.is_some() && hs.synack_count == 0 && !hs.simultaneous {
                hs.simultaneous = true;
                self.emit(sink, ts, TcpEventKind::SimultaneousOpen, dir, |_| {});
            }
        }

        if f.syn() && f.ack() && !f.rst() {
            if !is_orig {
                let hs = &mut self.cold.hs;
                hs.synack_count += 1;
                hs.synacks.push((ts, seq, ack));
                let first = hs.synack_count == 1;
                let n = hs.synack_count - 1;
                let simultaneous = hs.simultaneous;
                let waiting = !hs.complete && !simultaneous && hs.timings.synack_to_ack.is_none();
                self.awaiting_ack = waiting;
                let opts = self.cold.syn[1].map(syn_info);
                if first {
                    let answered = self.last_syn_before(ts);
                    self.emit(sink, ts, TcpEventKind::Synack, dir, |e| {
                        e.options = opts;
                        e.syn_to_synack_ms = answered.map(|s| ts.since(s));
                    });
                } else {
                    self.emit(sink, ts, TcpEventKind::SynackRetransmit, dir, |e| {
                        e.options = opts;
                        e.count = Some(n);
                    });
                }
            }
            let hs = &mut self.cold.hs;
            if hs.simultaneous {
                hs.simul_acked[Self::side_index(is_orig)] = true;
                if hs.simul_acked == [true, true] {
                    hs.complete = true;
                }
            }
        }

        // The handshake ACK: the client acknowledges a SYN-ACK.
        if self.awaiting_ack && is_orig && f.ack() && !f.syn() && !f.rst() {
            let matching = self
                .cold
                .hs
                .synacks
                .iter()
                .filter(|&(t, isn, _)| isn + 1 == ack && t <= ts)
                .max_by_key(|&(t, _, _)| t);
            if let Some((sa_ts, isn, _)) = matching {
                self.awaiting_ack = false;
                if self.cold.hs.accepted_server_isn != Some(isn) {
                    self.cold.hs.accepted_server_isn = Some(isn);
                    if SeqNum(self.resp.start as u32) != isn {
                        // The client accepted an earlier SYN-ACK than the
                        // server's last one: count bytes from that ISN.
                        self.resp.init_seq(isn, isn + 1);
                        self.resp.holes = 0;
                        self.cold.holes[1] = Holes::new();
                    }
                }
                let syn_ts = self.last_syn_before(sa_ts);
                let hs = &mut self.cold.hs;
                let t = &mut hs.timings;
                t.synack_to_ack = Some(ts.since(sa_ts));
                t.syn_to_synack = syn_ts.map(|s| sa_ts.since(s));
                if let Some(first) = hs.first_syn {
                    // All three seen. The RTT needs the SYN before its
                    // SYN-ACK; a capture that reordered them has none.
                    hs.complete = true;
                    if let Some(s) = syn_ts {
                        t.rtt = Some(ts.since(s));
                        t.connect = Some(ts.since(first));
                    }
                }
                let timings = *t;
                self.emit(sink, ts, TcpEventKind::Established, dir, |e| {
                    e.rtt_ms = timings.rtt;
                    e.connect_ms = timings.connect;
                    e.syn_to_synack_ms = timings.syn_to_synack;
                    e.synack_to_ack_ms = timings.synack_to_ack;
                });
            }
        }

        if f.rst() {
            let (ep, _) = self.sides(is_orig);
            let first = !std::mem::replace(&mut ep.sent_rst, true);
            if first {
                let hs = &mut self.cold.hs;
                if hs.closed_by.is_none() {
                    hs.closed_by = Some(dir);
                }
                let refusal = !is_orig
                    && hs.client_isn.is_some()
                    && hs.synack_count == 0
                    && matches!(prev_orig, EpState::SynSent | EpState::SynAckSent)
                    && prev_resp == EpState::Inactive;
                let kind = if refusal {
                    hs.refused = true;
                    TcpEventKind::Refused
                } else {
                    TcpEventKind::Reset
                };
                self.emit(sink, ts, kind, dir, |_| {});
            }
        }

        if f.fin() && !f.rst() {
            let (ep, _) = self.sides(is_orig);
            let first = !std::mem::replace(&mut ep.sent_fin, true);
            if first {
                let hs = &mut self.cold.hs;
                if hs.closed_by.is_none() {
                    hs.closed_by = Some(dir);
                }
                self.emit(sink, ts, TcpEventKind::Fin, dir, |_| {});
                if self.orig.sent_fin && self.resp.sent_fin {
                    self.emit(sink, ts, TcpEventKind::Closed, dir, |_| {});
                }
            }
        }
    }

    fn last_syn_before(&self, t: Timestamp) -> Option<Timestamp> {
        self.cold.hs.syns.iter().filter(|&s| s <= t).max()
    }

    /// Reports a `tcp_event`, if the sink wants such records (building one
    /// reads the cold part and fills ~100 bytes; in quiet runs it would be
    /// thrown away at once).
    fn emit<S: RecordSink>(
        &self,
        sink: &mut S,
        ts: Timestamp,
        kind: TcpEventKind,
        direction: Direction,
        f: impl FnOnce(&mut TcpEvent),
    ) {
        if sink.flow_records().tcp_event {
            sink.record(self.event(ts, kind, direction, f));
        }
    }

    fn event(
        &self,
        ts: Timestamp,
        kind: TcpEventKind,
        direction: Direction,
        f: impl FnOnce(&mut TcpEvent),
    ) -> Record {
        let c = &self.cold;
        let mut e = TcpEvent {
            ts,
            event: kind,
            conn_id: self.id,
            client_ip: c.client.ip,
            client_port: c.client.port,
            server_ip: c.server.ip,
            server_port: c.server.port,
            direction,
            options: None,
            rtt_ms: None,
            connect_ms: None,
            syn_to_synack_ms: None,
            synack_to_ack_ms: None,
            count: None,
            bytes: None,
        };
        f(&mut e);
        Record::TcpEvent(e)
    }

    pub fn history(&self) -> &str {
        self.cold.history.as_str()
    }

    /// Zeek's `conn_state`, one of [`CONN_STATES`].
    pub fn conn_state(&self) -> &'static str {
        use EpState::*;
        let (os, rs) = (self.orig.state, self.resp.state);
        let o_inactive = self.orig.inactive();
        let r_inactive = self.resp.inactive();
        // SH, SHR and RSTRH claim a SYN (SYN-ACK); without one in the
        // history the connection was picked up mid-stream.
        let orig_syn = self.hist_seen & hist::SYN != 0;
        let resp_syn = self.hist_seen & (hist::SYN << 16) != 0;
        if rs == Reset {
            if matches!(os, SynSent | SynAckSent)
                || (os == Reset
                    && self.orig.size(&self.resp) == 0
                    && self.resp.size(&self.orig) == 0)
            {
                "REJ"
            } else if o_inactive {
                if resp_syn {
                    "RSTRH"
                } else {
                    "OTH"
                }
            } else {
                "RSTR"
            }
        } else if os == Reset {
            if r_inactive {
                if history_is_rstos0(self.history()) {
                    "RSTOS0"
                } else {
                    "OTH"
                }
            } else {
                "RSTO"
            }
        } else if rs == Closed && os == Closed {
            "SF"
        } else if os == Closed {
            if !r_inactive {
                "S2"
            } else if orig_syn {
                "SH"
            } else {
                "OTH"
            }
        } else if rs == Closed {
            if !o_inactive {
                "S3"
            } else if resp_syn {
                "SHR"
            } else {
                "OTH"
            }
        } else if os == SynSent && rs == Inactive {
            "S0"
        } else if os == Established && rs == Established {
            "S1"
        } else {
            "OTH"
        }
    }

    fn verdict(&self, state: &str) -> Verdict {
        let hs = &self.cold.hs;
        let syns = 1 + hs.syn_retransmits;
        let opened = if hs.simultaneous {
            Opened::SimultaneousOpen
        } else if hs.client_isn.is_none() {
            Opened::NoHandshake
        } else if hs.complete {
            Opened::Established { syns }
        } else {
            Opened::Incomplete
        };
        match state {
            "S0" => Verdict::NoAnswer {
                syns: hs.client_isn.map(|_| syns),
            },
            "REJ" if hs.refused => Verdict::Refused { syns },
            "REJ" => Verdict::Rejected,
            "S1" => Verdict::StillOpen(opened),
            "SF" => Verdict::ClosedBy(opened, hs.closed_by),
            "S2" => Verdict::ClientClosedOnly(opened),
            "S3" => Verdict::ServerClosedOnly(opened),
            "RSTO" => Verdict::ResetBy(opened, Direction::Client),
            "RSTR" => Verdict::ResetBy(opened, Direction::Server),
            "RSTOS0" => Verdict::SynThenRst,
            "RSTRH" => Verdict::SynAckThenRst,
            "SH" => Verdict::SynThenFin,
            "SHR" => Verdict::SynAckThenFin,
            _ => {
                let h = self.history().trim_start_matches('^');
                if !h.is_empty() && h.bytes().all(|c| c == b'R' || c == b'r') {
                    Verdict::StrayRst
                } else if hs.client_isn.is_none() && hs.synack_count == 0 {
                    Verdict::MidStream
                } else {
                    Verdict::Other(opened)
                }
            }
        }
    }

    /// The connection's record, as written when it ends.
    pub fn record(&self, evicted: bool, service: Option<&'static str>) -> TcpConnRecord {
        let state = self.conn_state();
        debug_assert!(CONN_STATES.contains(&state), "unlisted state {state}");
        let cold = &self.cold;
        let [c, s] = cold.syn;
        let t = cold.hs.timings;
        TcpConnRecord {
            conn_id: self.id,
            client_ip: cold.client.ip,
            client_port: cold.client.port,
            server_ip: cold.server.ip,
            server_port: cold.server.port,
            vlan: cold.vlans,
            state,
            history: cold.history,
            verdict: self.verdict(state),
            service,
            handshake_complete: cold.hs.complete,
            simultaneous_open: cold.hs.simultaneous,
            syn_retransmits: cold.hs.syn_retransmits,
            synack_retransmits: cold.hs.synack_count.saturating_sub(1),
            rtt_ms: t.rtt,
            connect_ms: t.connect,
            syn_to_synack_ms: t.syn_to_synack,
            synack_to_ack_ms: t.synack_to_ack,
            mss: c.and_then(|o| o.mss),
            wscale: c.and_then(|o| o.wscale),
            sack_ok: c.map(|o| o.sack_ok),
            ts_ok: c.map(|o| o.timestamps.is_some()),
            server_mss: s.and_then(|o| o.mss),
            server_wscale: s.and_then(|o| o.wscale),
            server_sack_ok: s.map(|o| o.sack_ok),
            server_ts_ok: s.map(|o| o.timestamps.is_some()),
            client_packets: self.orig.packets,
            server_packets: self.resp.packets,
            client_bytes: self.orig.size(&self.resp),
            server_bytes: self.resp.size(&self.orig),
            missed_bytes: cold.missed[0] + cold.missed[1],
            truncated_packets: u64::from(self.orig.truncated) + u64::from(self.resp.truncated),
            closed_by: cold.hs.closed_by,
            first_ts: self.first_ts,
            last_ts: self.last_ts,
            duration: self.last_ts.since(self.first_ts),
            evicted,
        }
    }
}

/// Zeek's `/\^?S[^HAFGIQ]*R.*/` on the history.
fn history_is_rstos0(h: &str) -> bool {
    let h = h.strip_prefix('^').unwrap_or(h);
    let Some(rest) = h.strip_prefix('S') else {
        return false;
    };
    for c in rest.chars() {
        if c == 'R' {
            return true;
        }
        if "HAFGIQ".contains(c) {
            return false;
        }
    }
    false
}

fn syn_info(o: SynOptions) -> SynInfo {
    SynInfo {
        mss: o.mss,
        wscale: o.wscale,
        sack_ok: o.sack_ok,
        ts_ok: o.timestamps.is_some(),
    }
}

/// Zeek's `init_endpoint`: (re)initialises a side's sequence space from a
/// SYN, or from its first packet. Returns whether it did.
fn init_endpoint(ep: &mut Side, syn: bool, seq: SeqNum, seq_end: SeqNum) -> bool {
    let reinit = match ep.state {
        EpState::Inactive => true,
        EpState::SynSent | EpState::SynAckSent => syn && SeqNum(ep.start as u32) != seq,
        EpState::Established | EpState::Partial => syn,
        EpState::Reset => syn && ep.prev_state == EpState::Inactive,
        EpState::Closed => false,
    };
    if reinit {
        if syn {
            ep.init_seq(seq, seq_end);
        } else {
            // A partial connection: number bytes as though a SYN came just
            // before the first one seen.
            ep.init_seq(seq + u32::MAX, seq);
        }
    }
    reinit
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::TcpFlags;

    const C: &str = "10.0.0.1";

    #[test]
    fn holes_fill_when_full_terminates_and_keeps_the_larger_piece() {
        // Found by fuzzing: splitting a hole with every slot taken used to
        // merge the pieces back into one and loop forever.
        let mut h = Holes::new();
        for k in 0..MAX_HOLES as u64 {
            h.add(k * 100, k * 100 + 50);
        }
        h.fill(310, 320);
        assert_eq!(h.len as usize, MAX_HOLES);
        assert_eq!(h.ranges[3], (320, 350));
        // A fill spanning several holes empties the middle ones.
        h.fill(20, 230);
        assert_eq!(
            &h.ranges[..h.len as usize],
            &[(0, 20), (230, 250), (320, 350)]
        );
        assert_eq!(h.acked(1000), 20 + 30 + 20);
        assert_eq!(h.len, 0);
    }

    const S: &str = "10.0.0.2";

    struct Sim {
        conn: Option<TcpConn>,
        events: Vec<Record>,
    }

    fn addr(ip: &str, port: u16) -> Addr {
        Addr {
            ip: ip.parse().unwrap(),
            port,
        }
    }

    impl Sim {
        fn new() -> Self {
            Sim {
                conn: None,
                events: Vec::new(),
            }
        }

        /// Sends a packet at `ms` milliseconds.
        fn send(
            &mut self,
            from_client: bool,
            ms: i64,
            flags: u8,
            seq: u32,
            ack: u32,
            len: u32,
        ) -> bool {
            let payload = vec![b'x'; len as usize];
            let seg = TcpSegment {
                src_port: if from_client { 40000 } else { 80 },
                dst_port: if from_client { 80 } else { 40000 },
                seq,
                ack,
                flags: TcpFlags(flags),
                window: 1000,
                options: &[],
                payload: &payload,
                payload_len: len,
            };
            // The connection's orientation comes from its first packet, as
            // the tracker decides it.
            let (src, dst) = if from_client {
                (addr(C, 40000), addr(S, 80))
            } else {
                (addr(S, 80), addr(C, 40000))
            };
            let mut pkt = TcpPacket {
                ts: Timestamp(ms * 1_000_000),
                from_client: true,
                seg: &seg,
                vlan: Vlans::default(),
                truncated: false,
                note: 0,
            };
            let mut new_conn = false;
            let known = match &self.conn {
                Some(c) => {
                    pkt.from_client = src == c.client();
                    !c.starts_new_connection(&pkt)
                }
                None => false,
            };
            if !known {
                new_conn = self.conn.is_some();
                let (client, server) = if first_packet_from_client(&seg) {
                    (src, dst)
                } else {
                    (dst, src)
                };
                pkt.from_client = src == client;
                self.conn = Some(TcpConn::new(0, client, server, pkt.ts, src != client));
            }
            let limits = ReassemblyLimits::default();
            let mut stats = ReassemblyStats::default();
            let mut budget = StreamBudget::new(limits.total_bytes);
            let mut env = StreamEnv {
                detector: None,
                limits: &limits,
                stats: &mut stats,
                budget: &mut budget,
            };
            self.conn
                .as_mut()
                .unwrap()
                .process(&pkt, &mut env, &mut self.events);
            new_conn
        }

        fn rec(&self) -> TcpConnRecord {
            self.conn.as_ref().unwrap().record(false, None)
        }

        fn kinds(&self) -> Vec<TcpEventKind> {
            self.events
                .iter()
                .filter_map(|r| match r {
                    Record::TcpEvent(e) => Some(e.event),
                    _ => None,
                })
                .collect()
        }
    }

    const SYN: u8 = TcpFlags::SYN;
    const SYNACK: u8 = TcpFlags::SYN | TcpFlags::ACK;
    const ACK: u8 = TcpFlags::ACK;
    const PSH: u8 = TcpFlags::ACK | TcpFlags::PSH;
    const FIN: u8 = TcpFlags::FIN | TcpFlags::ACK;
    const RST: u8 = TcpFlags::RST;
    const RSTACK: u8 = TcpFlags::RST | TcpFlags::ACK;

    /// The IPv4 connection of zeek's irc-353 trace, packet for packet.
    #[test]
    fn full_connection_like_zeek() {
        let mut s = Sim::new();
        let (c, v) = (550_882_107u32, 2_710_108_358u32);
        s.send(true, 0, SYN, c, 0, 0);
        s.send(false, 1, SYNACK, v, c + 1, 0);
        s.send(true, 2, ACK, c + 1, v + 1, 0);
        s.send(false, 3, ACK, v + 1, c + 1, 0);
        s.send(true, 4, PSH, c + 1, v + 1, 5);
        s.send(true, 5, FIN, c + 6, v + 1, 0);
        s.send(false, 6, ACK, v + 1, c + 6, 0);
        s.send(false, 7, ACK, v + 1, c + 7, 0);
        s.send(false, 8, FIN, v + 1, c + 7, 0);
        s.send(true, 9, ACK, c + 7, v + 2, 0);
        let r = s.rec();
        assert_eq!(r.history.as_str(), "ShAaDFf");
        assert_eq!(r.state, "SF");
        assert_eq!((r.client_bytes, r.server_bytes), (5, 0));
        assert_eq!((r.client_packets, r.server_packets), (5, 5));
        assert!(r.handshake_complete);
        assert_eq!(r.rtt_ms, Some(Nanos::from_millis(2)));
        assert_eq!(r.syn_to_synack_ms, Some(Nanos::from_millis(1)));
        assert_eq!(r.synack_to_ack_ms, Some(Nanos::from_millis(1)));
        assert_eq!(r.closed_by, Some(Direction::Client));
        assert_eq!(r.verdict.to_string(), "established, closed by client");
        assert_eq!(
            s.kinds(),
            vec![
                TcpEventKind::Syn,
                TcpEventKind::Synack,
                TcpEventKind::Established,
                TcpEventKind::Fin,
                TcpEventKind::Fin,
                TcpEventKind::Closed
            ]
        );
    }

    #[test]
    fn refused_has_no_rtt() {
        let mut s = Sim::new();
        s.send(true, 0, SYN, 100, 0, 0);
        s.send(false, 1, RSTACK, 0, 101, 0);
        let r = s.rec();
        assert_eq!((r.state, r.history.as_str()), ("REJ", "Sr"));
        assert_eq!(r.rtt_ms, None);
        assert!(!r.handshake_complete);
        assert_eq!(r.verdict.to_string(), "refused (RST)");
        assert_eq!(s.kinds(), vec![TcpEventKind::Syn, TcpEventKind::Refused]);
    }

    #[test]
    fn repeated_syns_of_one_attempt_are_one_connection() {
        // Linux backs off 1, 2, 4, 8 s: Zeek would split this after 5 s.
        let mut s = Sim::new();
        for (i, t) in [0, 1000, 3000, 7000, 15000].into_iter().enumerate() {
            let new = s.send(true, t, SYN, 777, 0, 0);
            assert!(!new, "SYN {i} started a new connection");
        }
        let r = s.rec();
        assert_eq!((r.state, r.history.as_str()), ("S0", "S"));
        assert_eq!(r.syn_retransmits, 4);
        assert_eq!(r.verdict.to_string(), "no answer after 5 SYNs");
    }

    #[test]
    fn syn_then_rst_from_the_client() {
        let mut s = Sim::new();
        s.send(true, 0, SYN, 1, 0, 0);
        s.send(true, 1, RST, 1, 0, 0);
        let r = s.rec();
        assert_eq!((r.state, r.history.as_str()), ("RSTOS0", "SR"));
    }

    #[test]
    fn a_lone_rst_is_not_a_connection_attempt() {
        let mut s = Sim::new();
        s.send(true, 0, RSTACK, 5000, 9000, 0);
        let r = s.rec();
        assert_eq!((r.state, r.history.as_str()), ("OTH", "R"));
        assert_eq!(r.syn_retransmits, 0);
        assert!(!r.handshake_complete);
        assert_eq!(r.verdict.to_string(), "stray RST, no connection seen");
        assert_eq!(s.kinds(), vec![TcpEventKind::Reset]);
        // A SYN afterwards is a new connection.
        assert!(s.send(true, 1, SYN, 42, 0, 0));
    }

    #[test]
    fn synack_retransmitted_with_another_isn_does_not_inflate_bytes() {
        let mut s = Sim::new();
        s.send(true, 0, SYN, 1000, 0, 0);
        s.send(false, 1, SYNACK, 50_000, 1001, 0);
        // A second SYN-ACK with a far-away ISN (a broken middlebox or stack).
        s.send(false, 2, SYNACK, 3_000_000_000, 1001, 0);
        // The client accepts the first.
        s.send(true, 3, ACK, 1001, 50_001, 0);
        s.send(false, 4, PSH, 50_001, 1001, 100);
        s.send(true, 5, ACK, 1001, 50_101, 0);
        let r = s.rec();
        assert_eq!(r.synack_retransmits, 1);
        assert_eq!(r.server_bytes, 100);
        assert!(r.handshake_complete);
        // Measured from the SYN-ACK the client answered (the first, at 1 ms).
        assert_eq!(r.synack_to_ack_ms, Some(Nanos::from_millis(2)));
    }

    #[test]
    fn rtt_is_measured_from_the_syn_the_synack_answers() {
        let mut s = Sim::new();
        s.send(true, 0, SYN, 10, 0, 0);
        s.send(true, 1000, SYN, 10, 0, 0);
        s.send(true, 3000, SYN, 10, 0, 0);
        s.send(false, 3005, SYNACK, 99, 11, 0);
        s.send(true, 3006, ACK, 11, 100, 0);
        let r = s.rec();
        assert_eq!(r.syn_retransmits, 2);
        assert_eq!(r.syn_to_synack_ms, Some(Nanos::from_millis(5)));
        assert_eq!(r.synack_to_ack_ms, Some(Nanos::from_millis(1)));
        assert_eq!(r.rtt_ms, Some(Nanos::from_millis(6)));
        assert_eq!(r.connect_ms, Some(Nanos::from_millis(3006)));
        assert_eq!(r.state, "S1");
        assert_eq!(
            r.verdict.to_string(),
            "established after 3 SYNs, still open"
        );
    }

    #[test]
    fn new_isn_is_a_new_connection_and_closed_tuples_are_reused() {
        let mut s = Sim::new();
        s.send(true, 0, SYN, 10, 0, 0);
        assert!(s.send(true, 10, SYN, 5000, 0, 0), "new ISN, new connection");
        s.send(false, 11, SYNACK, 1, 5001, 0);
        s.send(true, 12, ACK, 5001, 2, 0);
        s.send(true, 13, FIN, 5001, 2, 0);
        s.send(false, 14, FIN, 2, 5002, 0);
        s.send(true, 15, ACK, 5002, 3, 0);
        assert_eq!(s.rec().state, "SF");
        assert!(
            !s.send(true, 16, SYN, 5000, 0, 0),
            "late duplicate SYN of the same ISN"
        );
        assert!(s.send(true, 20, SYN, 9000, 0, 0), "reuse after close");
    }

    #[test]
    fn retransmitted_data_counts_once_and_gaps_count_missed_bytes() {
        let mut s = Sim::new();
        s.send(true, 0, SYN, 0, 0, 0);
        s.send(false, 1, SYNACK, 0, 1, 0);
        s.send(true, 2, ACK, 1, 1, 0);
        s.send(true, 3, PSH, 1, 1, 100);
        s.send(true, 4, PSH, 1, 1, 100); // retransmission
                                         // 100..300 never captured; server acks through 400.
        s.send(true, 5, PSH, 301, 1, 100);
        s.send(false, 6, ACK, 1, 401, 0);
        let r = s.rec();
        assert_eq!(r.client_bytes, 400);
        assert_eq!(r.missed_bytes, 200);
        // The gap is in the client's data: upper-case G, as Zeek records it
        // on the endpoint whose bytes are missing.
        assert_eq!(r.history.as_str(), "ShADTaG");
    }

    #[test]
    fn sequence_numbers_wrap() {
        let mut s = Sim::new();
        let isn = u32::MAX - 50;
        s.send(true, 0, SYN, isn, 0, 0);
        s.send(false, 1, SYNACK, 7, isn.wrapping_add(1), 0);
        s.send(true, 2, ACK, isn.wrapping_add(1), 8, 0);
        s.send(true, 3, PSH, isn.wrapping_add(1), 8, 1000);
        s.send(false, 4, ACK, 8, isn.wrapping_add(1001), 0);
        assert_eq!(s.rec().client_bytes, 1000);
        assert_eq!(s.rec().missed_bytes, 0);
    }

    #[test]
    fn simultaneous_open() {
        let mut s = Sim::new();
        s.send(true, 0, SYN, 100, 0, 0);
        assert!(!s.send(false, 1, SYN, 200, 0, 0));
        s.send(true, 2, SYNACK, 100, 201, 0);
        s.send(false, 3, SYNACK, 200, 101, 0);
        let r = s.rec();
        assert!(r.simultaneous_open);
        assert!(r.handshake_complete);
        assert_eq!(r.rtt_ms, None);
        assert_eq!(r.state, "S1");
        assert!(s.kinds().contains(&TcpEventKind::SimultaneousOpen));
    }

    #[test]
    fn synack_first_makes_its_receiver_the_client() {
        let mut s = Sim::new();
        s.send(false, 0, SYNACK, 500, 101, 0);
        s.send(true, 1, SYN, 100, 0, 0); // reordered capture
        s.send(true, 2, ACK, 101, 501, 0);
        let c = s.conn.as_ref().unwrap();
        assert_eq!(c.client().port, 40000);
        let r = s.rec();
        assert_eq!(r.state, "S1");
        assert!(r.handshake_complete);
        assert_eq!(r.rtt_ms, None, "no RTT from a reordered handshake");
    }

    #[test]
    fn midstream_pickup_is_oth_then_sf() {
        let mut s = Sim::new();
        s.send(true, 0, PSH, 1000, 5000, 10);
        s.send(false, 1, ACK, 5000, 1010, 0);
        assert_eq!(s.rec().state, "OTH");
        assert_eq!(s.rec().history.as_str(), "Da");
        assert_eq!(
            s.rec().verdict.to_string(),
            "picked up mid-stream (no handshake seen)"
        );
        s.send(true, 2, FIN, 1010, 5000, 0);
        s.send(false, 3, FIN, 5000, 1011, 0);
        let r = s.rec();
        assert_eq!(r.state, "SF");
        assert_eq!(r.client_bytes, 10);
        assert_eq!(r.verdict.to_string(), "no handshake seen, closed by client");
    }

    /// The handshake and a close where the server sends its FIN first; the
    /// client's FIN (the last) at 5 ms. Client ISN 1000, server ISN 7000.
    fn closed_by_the_server_first(s: &mut Sim) {
        s.send(true, 0, SYN, 1000, 0, 0);
        s.send(false, 1, SYNACK, 7000, 1001, 0);
        s.send(true, 2, ACK, 1001, 7001, 0);
        s.send(false, 3, PSH, 7001, 1001, 8);
        s.send(false, 4, FIN, 7009, 1001, 0);
        s.send(true, 5, ACK, 1001, 7010, 0);
        s.send(true, 5, FIN, 1001, 7010, 0);
        assert_eq!(s.rec().state, "SF");
    }

    #[test]
    fn late_fin_rst_and_ack_inside_the_old_window_join_the_closed_connection() {
        let mut s = Sim::new();
        closed_by_the_server_first(&mut s);
        // The server's last ACK was lost: the client retransmits its FIN.
        assert!(!s.send(true, 24_000, FIN, 1001, 7010, 0));
        assert!(!s.send(true, 72_000, FIN, 1001, 7010, 0));
        // The server's ACK of it, then a RST from each side (the server's
        // TIME-WAIT gone, the client's socket given up).
        assert!(!s.send(false, 72_001, ACK, 7010, 1002, 0));
        assert!(!s.send(false, 72_002, RSTACK, 7010, 1002, 0));
        assert!(!s.send(true, 72_003, RST, 1002, 0, 0));
        let r = s.rec();
        assert_eq!(r.state, "SF");
        // Retransmitted FINs (same sequence number) add no letter.
        assert_eq!(r.history.as_str(), "ShAdfFarR");
        assert_eq!((r.client_packets, r.server_packets), (7, 5));
        assert_eq!((r.client_bytes, r.server_bytes), (0, 8));
        assert_eq!(r.verdict.to_string(), "established, closed by server");
        assert_eq!(r.last_ts, Timestamp(72_003 * 1_000_000));
    }

    #[test]
    fn a_syn_or_a_segment_outside_the_old_window_starts_a_new_connection() {
        // Data far past what the client ever sent.
        let mut s = Sim::new();
        closed_by_the_server_first(&mut s);
        assert!(s.send(true, 10, PSH, 1002 + 2_000_000, 7010, 100));
        let r = s.rec();
        assert_eq!((r.state, r.history.as_str()), ("OTH", "D"));
        assert_eq!(r.client_bytes, 100);
        // Before the client's ISN.
        let mut s = Sim::new();
        closed_by_the_server_first(&mut s);
        assert!(s.send(true, 10, ACK, 900, 7010, 0));
        // In the client's space, but acknowledging what the server never
        // sent.
        let mut s = Sim::new();
        closed_by_the_server_first(&mut s);
        assert!(s.send(true, 10, ACK, 1002, 7010 + 5_000_000, 0));
        // A SYN-ACK with another ISN (answering a SYN not captured).
        let mut s = Sim::new();
        closed_by_the_server_first(&mut s);
        assert!(s.send(false, 10, SYNACK, 123_456_789, 1, 0));
        assert_eq!(s.rec().history.as_str(), "^h");
        // A SYN with a new ISN.
        let mut s = Sim::new();
        closed_by_the_server_first(&mut s);
        assert!(s.send(true, 10, SYN, 1_000_000_000, 0, 0));
        // Up to 1 MiB past the highest sequence number sent is still the
        // old window (data in flight when the peer reset).
        let mut s = Sim::new();
        closed_by_the_server_first(&mut s);
        assert!(!s.send(true, 10, ACK, 1002 + 1_048_576, 7010, 0));
    }

    #[test]
    fn after_a_reset_data_in_flight_still_joins() {
        let mut s = Sim::new();
        s.send(true, 0, SYN, 1000, 0, 0);
        s.send(false, 1, SYNACK, 7000, 1001, 0);
        s.send(true, 2, ACK, 1001, 7001, 0);
        s.send(true, 3, PSH, 1001, 7001, 1000);
        s.send(false, 4, RSTACK, 7001, 2001, 0);
        // The client's next segments were on the way.
        assert!(!s.send(true, 5, PSH, 2001, 7001, 1000));
        assert!(!s.send(true, 5, PSH, 3001, 7001, 1000));
        let r = s.rec();
        assert_eq!(r.state, "RSTR");
        assert_eq!(r.client_packets, 5);
        assert_eq!(r.client_bytes, 3000);
    }

    #[test]
    fn no_window_judgement_while_the_connection_is_open() {
        // Half-closed: everything on the tuple is still this connection.
        let mut s = Sim::new();
        s.send(true, 0, SYN, 1000, 0, 0);
        s.send(false, 1, SYNACK, 7000, 1001, 0);
        s.send(true, 2, ACK, 1001, 7001, 0);
        s.send(true, 3, FIN, 1001, 7001, 0);
        assert!(!s.send(true, 4, PSH, 1002 + 2_000_000, 7001, 10));
        assert_eq!(s.rec().state, "S2");
    }

    #[test]
    fn the_client_of_a_connection_picked_up_mid_stream() {
        fn seg(src_port: u16, dst_port: u16, flags: u8) -> bool {
            let s = TcpSegment {
                src_port,
                dst_port,
                seq: 1,
                ack: 1,
                flags: TcpFlags(flags),
                window: 100,
                options: &[],
                payload: &[],
                payload_len: 0,
            };
            first_packet_from_client(&s)
        }
        // A SYN's sender, a SYN-ACK's receiver, whatever the ports.
        assert!(seg(80, 40000, SYN));
        assert!(!seg(40000, 80, SYNACK));
        // Zeek's guess: the end on a likely server port is the server.
        assert!(!seg(80, 40000, PSH), "sent by the server");
        assert!(seg(40000, 80, PSH));
        assert!(seg(40000, 50000, PSH), "no guess: the sender");
        assert!(seg(50000, 40000, FIN));
        // Both likely: the lower port is the server.
        assert!(!seg(80, 443, ACK));
        assert!(seg(443, 80, ACK));
    }

    #[test]
    fn picked_up_mid_stream_never_claims_a_syn() {
        // The server (port 80) speaks first: flipped, `^`.
        let mut s = Sim::new();
        s.send(false, 0, PSH, 5000, 1000, 10);
        s.send(true, 1, ACK, 1000, 5010, 0);
        let c = s.conn.as_ref().unwrap();
        assert_eq!(c.client().port, 40000);
        let r = s.rec();
        assert_eq!((r.state, r.history.as_str()), ("OTH", "^dA"));
        assert_eq!((r.client_packets, r.server_packets), (1, 1));
        assert_eq!(r.server_bytes, 10);
        // The client half-closes: Zeek's states would say SH ("SYN then
        // FIN"); no SYN was seen.
        s.send(true, 2, FIN, 1000, 5010, 0);
        let r = s.rec();
        assert_eq!((r.state, r.history.as_str()), ("OTH", "^dAF"));
        assert_eq!(
            r.verdict.to_string(),
            "picked up mid-stream (no handshake seen)"
        );
        // A lone FIN from either side, a RST after mid-stream data.
        let mut s = Sim::new();
        s.send(true, 0, FIN, 1000, 5000, 0);
        assert_eq!((s.rec().state, s.rec().history.as_str()), ("OTH", "F"));
        let mut s = Sim::new();
        s.send(false, 0, FIN, 5000, 1000, 0);
        assert_eq!((s.rec().state, s.rec().history.as_str()), ("OTH", "^f"));
        let mut s = Sim::new();
        s.send(true, 0, PSH, 1000, 5000, 10);
        s.send(false, 1, RST, 5000, 0, 0);
        assert_eq!((s.rec().state, s.rec().history.as_str()), ("OTH", "Dr"));
        // A lone RST from the server is still a stray RST.
        let mut s = Sim::new();
        s.send(false, 0, RSTACK, 5000, 1000, 0);
        let r = s.rec();
        assert_eq!((r.state, r.history.as_str()), ("OTH", "^r"));
        assert_eq!(r.verdict.to_string(), "stray RST, no connection seen");
        // With the handshake packet they name, SH, SHR and RSTRH stay.
        let mut s = Sim::new();
        s.send(true, 0, SYN, 1000, 0, 0);
        s.send(true, 1, FIN, 1001, 0, 0);
        assert_eq!(s.rec().state, "SH");
        let mut s = Sim::new();
        s.send(false, 0, SYNACK, 5000, 1001, 0);
        s.send(false, 1, FIN, 5001, 1001, 0);
        assert_eq!((s.rec().state, s.rec().history.as_str()), ("SHR", "^hf"));
        let mut s = Sim::new();
        s.send(false, 0, SYNACK, 5000, 1001, 0);
        s.send(false, 1, RST, 5001, 0, 0);
        assert_eq!(s.rec().state, "RSTRH");
    }

    #[test]
    fn resets_after_establishment() {
        let mut s = Sim::new();
        s.send(true, 0, SYN, 0, 0, 0);
        s.send(false, 1, SYNACK, 0, 1, 0);
        s.send(true, 2, ACK, 1, 1, 0);
        s.send(false, 3, RST, 1, 0, 0);
        let r = s.rec();
        assert_eq!(r.state, "RSTR");
        assert_eq!(r.verdict.to_string(), "established, reset by server");
        assert_eq!(s.kinds().last(), Some(&TcpEventKind::Reset));
    }

    #[test]
    fn rstos0_regex() {
        assert!(history_is_rstos0("SR"));
        assert!(history_is_rstos0("^SdR"));
        // Case-sensitive, as in Zeek: only upper-case (client) letters stop it.
        assert!(history_is_rstos0("ShR"));
        assert!(!history_is_rstos0("SAR"));
        assert!(!history_is_rstos0("R"));
    }

    #[test]
    fn scaled_history() {
        let mut s = Scaled::default();
        let hits: Vec<u32> = (1..=1000u32).filter(|_| s.hit()).collect();
        assert_eq!(hits, vec![1, 10, 100, 1000]);
    }
}
