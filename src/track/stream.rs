//! Application decoders attach here: a [`StreamHandler`] receives a TCP
//! connection's two byte streams, reassembled, in order, with gaps marked.
//!
//! The tracker knows nothing of what a handler decodes. A [`StreamDetector`]
//! (installed by whoever runs the tracker) is shown the first bytes the
//! client sends on each connection whose handshake was seen, and returns a
//! handler if it wants the connection; only those connections pay for
//! reassembly.

use std::sync::Arc;

use crate::event::RecordSink;
use crate::time::Timestamp;

use super::key::Endpoint;
use super::reassembly::{Piece, Reassembler, ReassemblyLimits, ReassemblyStats};

/// The connection a stream belongs to, for the records a handler writes.
#[derive(Clone, Copy, Debug)]
pub struct StreamCtx {
    pub conn_id: u64,
    pub client: Endpoint,
    pub server: Endpoint,
}

/// Whether a handler still wants the connection's bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interest {
    More,
    /// The handler is done (not its protocol, or nothing more to decode):
    /// the tracker stops reassembling.
    Done,
}

/// An application decoder over a connection's reassembled byte streams.
pub trait StreamHandler: Send {
    /// In-order bytes of one direction; `ts` is the capture time of the
    /// packet that completed them.
    fn data(
        &mut self,
        ctx: &StreamCtx,
        from_client: bool,
        ts: Timestamp,
        data: &[u8],
        sink: &mut dyn RecordSink,
    ) -> Interest;
    /// [`StreamHandler::data`] for bytes that are exactly one packet's
    /// captured payload, with the note the packet's source made of it (see
    /// [`crate::track::Tracker::packet_noted`]; never 0 here). The tracker
    /// passes notes on without reading them.
    fn data_noted(
        &mut self,
        ctx: &StreamCtx,
        from_client: bool,
        ts: Timestamp,
        data: &[u8],
        _note: u64,
        sink: &mut dyn RecordSink,
    ) -> Interest {
        self.data(ctx, from_client, ts, data, sink)
    }
    /// `len` bytes of one direction that will never be seen.
    fn gap(
        &mut self,
        ctx: &StreamCtx,
        from_client: bool,
        ts: Timestamp,
        len: u64,
        sink: &mut dyn RecordSink,
    ) -> Interest;
    /// One direction's stream is over: every byte up to its FIN has been
    /// delivered. [`Interest::Done`] lets the tracker finish the decoder at
    /// once (instead of when the connection leaves the table).
    fn closed(
        &mut self,
        _ctx: &StreamCtx,
        _from_client: bool,
        _ts: Timestamp,
        _sink: &mut dyn RecordSink,
    ) -> Interest {
        Interest::More
    }
    /// The connection is over (closed, idle, evicted, or the input ended).
    fn end(&mut self, ctx: &StreamCtx, ts: Timestamp, sink: &mut dyn RecordSink);
    /// Bytes the handler's buffers hold (counted against the budget of all
    /// connections' buffers, [`super::budget`]). Asked after every packet
    /// of the connection: it must be cheap.
    fn held_bytes(&self) -> usize {
        0
    }
    /// Memory is short and this connection has held buffers longest: drop
    /// every buffer, reporting what that loses. [`Interest::Done`] when
    /// decoding cannot go on without them.
    fn shed(&mut self, _ctx: &StreamCtx, _ts: Timestamp, _sink: &mut dyn RecordSink) -> Interest {
        Interest::More
    }
    /// Hints the CPU at what [`StreamHandler::data`] will read for the next
    /// bytes of one direction (see [`prefetch`]).
    fn prefetch(&self, _from_client: bool) {}
}

/// Decides, from the first bytes a client sends, whether to decode a
/// connection: returns the decoder in its [`Streams`] (see
/// [`Streams::boxed`]).
pub type StreamDetector = Arc<dyn Fn(&[u8]) -> Option<Box<Streams>> + Send + Sync>;

/// A connection's decoder and its two reassemblers, in one allocation: every
/// packet of a decoded connection touches all three, and each separate
/// allocation would be one more cold cache line per packet.
pub struct Streams<H: ?Sized = dyn StreamHandler> {
    ctx: StreamCtx,
    client: Reassembler,
    server: Reassembler,
    /// Where each side's FIN sits: an acknowledgement of it is not a gap.
    client_fin: Option<u64>,
    server_fin: Option<u64>,
    /// The handler was told that the direction's stream is over.
    client_closed: bool,
    server_closed: bool,
    done: bool,
    /// What the buffer budget has on record for this connection.
    pub charged: usize,
    handler: H,
}

impl Streams {
    /// Starts loading the reassemblers and the handler into the cache.
    #[inline]
    pub fn prefetch(&self, from_client: bool) {
        prefetch(self as *const Self as *const u8);
        let r = if from_client {
            &self.client
        } else {
            &self.server
        };
        prefetch(r as *const Reassembler as *const u8);
        prefetch_rest(r);
        self.handler.prefetch(from_client);
    }
}

/// A hint to the CPU that `p` will soon be read (no effect elsewhere).
#[inline(always)]
#[allow(unsafe_code)]
pub fn prefetch(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: SSE is part of the x86_64 baseline, and a prefetch is only a
    // hint: it reads nothing and never faults, whatever `p` points at.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p as *const i8)
    };
}

/// Prefetches every cache line of `v` beyond the one it starts in (for a
/// value found by a lookup that read that line already).
#[inline(always)]
pub fn prefetch_rest<T>(v: &T) {
    let p = v as *const T as *const u8;
    let first_line_end = 64 - (p as usize & 63);
    for off in (first_line_end..std::mem::size_of::<T>()).step_by(64) {
        prefetch(p.wrapping_add(off));
    }
}

impl<H: StreamHandler + 'static> Streams<H> {
    /// `handler` with its reassemblers, to be placed by [`Streams::begin`].
    pub fn boxed(handler: H) -> Box<Streams> {
        let nowhere = Endpoint {
            ip: std::net::Ipv4Addr::UNSPECIFIED.into(),
            port: 0,
        };
        Box::new(Streams {
            ctx: StreamCtx {
                conn_id: 0,
                client: nowhere,
                server: nowhere,
            },
            client: Reassembler::new(0),
            server: Reassembler::new(0),
            client_fin: None,
            server_fin: None,
            client_closed: false,
            server_closed: false,
            done: false,
            charged: 0,
            handler,
        })
    }
}

impl std::fmt::Debug for Streams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Streams")
            .field("client", &self.client)
            .field("server", &self.server)
            .finish()
    }
}

impl Streams {
    /// The connection, and where each side's stream starts (0 for the
    /// server: not known yet, its first segment or SYN-ACK will say).
    pub fn begin(&mut self, ctx: StreamCtx, client_start: u64, server_start: u64) {
        self.ctx = ctx;
        self.client = Reassembler::new(client_start);
        self.server = Reassembler::new(server_start);
    }

    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Bytes held by the reassemblers and the handler.
    #[inline]
    pub fn held(&self) -> usize {
        self.client.held_bytes() + self.server.held_bytes() + self.handler.held_bytes()
    }

    /// Gives up every buffer (memory is short): held segments are delivered
    /// across their holes (the holes become gaps), then the handler drops
    /// what it holds.
    pub fn shed(
        &mut self,
        ts: Timestamp,
        limits: &ReassemblyLimits,
        stats: &mut ReassemblyStats,
        sink: &mut dyn RecordSink,
    ) {
        for from_client in [true, false] {
            let r = if from_client {
                &self.client
            } else {
                &self.server
            };
            if !self.done && r.held_bytes() > 0 {
                self.feed(from_client, ts, stats, sink, |r, stats, out| {
                    r.flush_held(limits, stats, out)
                });
            }
        }
        if self.done {
            return;
        }
        if self.handler.shed(&self.ctx, ts, sink) == Interest::Done {
            self.done = true;
            self.client.release(stats);
            self.server.release(stats);
        }
    }

    /// A side's FIN occupies sequence number `at`.
    pub fn fin(&mut self, from_client: bool, at: u64) {
        let slot = if from_client {
            &mut self.client_fin
        } else {
            &mut self.server_fin
        };
        slot.get_or_insert(at);
    }

    /// Tells the handler of each direction whose stream reached its FIN
    /// (once); cheap when none did.
    #[inline]
    pub fn check_closed(
        &mut self,
        ts: Timestamp,
        stats: &mut ReassemblyStats,
        sink: &mut dyn RecordSink,
    ) {
        for from_client in [true, false] {
            let (fin, closed, r) = if from_client {
                (self.client_fin, self.client_closed, &self.client)
            } else {
                (self.server_fin, self.server_closed, &self.server)
            };
            let Some(at) = fin else { continue };
            if self.done || closed || r.next_seq() == 0 || r.next_seq() < at {
                continue;
            }
            if from_client {
                self.client_closed = true;
            } else {
                self.server_closed = true;
            }
            if self.handler.closed(&self.ctx, from_client, ts, sink) == Interest::Done {
                self.done = true;
                self.client.release(stats);
                self.server.release(stats);
            }
        }
    }

    /// The server's stream starts here (known once its SYN-ACK is seen).
    pub fn set_server_start(&mut self, start: u64) {
        if self.server.next_seq() == 0 {
            self.server = Reassembler::new(start);
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub fn segment(
        &mut self,
        from_client: bool,
        ts: Timestamp,
        seq: u64,
        data: &[u8],
        wire_len: u64,
        note: u64,
        limits: &ReassemblyLimits,
        stats: &mut ReassemblyStats,
        sink: &mut dyn RecordSink,
    ) {
        if self.done {
            return;
        }
        // No SYN-ACK seen: the server's stream starts with its first segment.
        if !from_client && self.server.next_seq() == 0 {
            self.server = Reassembler::new(seq);
        }
        let note = (note != 0).then_some((note, data));
        self.feed_noted(from_client, ts, stats, sink, note, |r, stats, out| {
            r.segment(seq, data, wire_len, limits, stats, out)
        });
    }

    /// The other side acknowledged `ack` of this direction's stream.
    pub fn acked(
        &mut self,
        from_client: bool,
        ts: Timestamp,
        ack: u64,
        limits: &ReassemblyLimits,
        stats: &mut ReassemblyStats,
        sink: &mut dyn RecordSink,
    ) {
        let fin = if from_client {
            self.client_fin
        } else {
            self.server_fin
        };
        let ack = fin.map_or(ack, |f| ack.min(f));
        let r = if from_client {
            &self.client
        } else {
            &self.server
        };
        if self.done || r.next_seq() == 0 || ack <= r.next_seq() {
            return;
        }
        self.feed(from_client, ts, stats, sink, |r, stats, out| {
            r.acked(ack, limits, stats, out)
        });
    }

    /// The connection is over: both streams are flushed (holes become gaps),
    /// then the handler is told.
    pub fn end(
        &mut self,
        ts: Timestamp,
        limits: &ReassemblyLimits,
        stats: &mut ReassemblyStats,
        sink: &mut dyn RecordSink,
    ) {
        for from_client in [true, false] {
            let r = if from_client {
                &self.client
            } else {
                &self.server
            };
            if !self.done && r.next_seq() != 0 {
                self.feed(from_client, ts, stats, sink, |r, stats, out| {
                    r.end(limits, stats, out)
                });
            }
        }
        self.client.release(stats);
        self.server.release(stats);
        self.handler.end(&self.ctx, ts, sink);
        self.done = true;
    }

    /// Runs `step` on one direction's reassembler, passing what it releases
    /// to the handler until the handler is done; then stops reassembling.
    fn feed(
        &mut self,
        from_client: bool,
        ts: Timestamp,
        stats: &mut ReassemblyStats,
        sink: &mut dyn RecordSink,
        step: impl FnOnce(&mut Reassembler, &mut ReassemblyStats, &mut dyn FnMut(Piece<'_>)),
    ) {
        self.feed_noted(from_client, ts, stats, sink, None, step);
    }

    /// [`Streams::feed`]; `note` is a packet's note with its payload: when
    /// the reassembler releases exactly those bytes, the handler gets the
    /// note with them.
    fn feed_noted(
        &mut self,
        from_client: bool,
        ts: Timestamp,
        stats: &mut ReassemblyStats,
        sink: &mut dyn RecordSink,
        note: Option<(u64, &[u8])>,
        step: impl FnOnce(&mut Reassembler, &mut ReassemblyStats, &mut dyn FnMut(Piece<'_>)),
    ) {
        let Streams {
            ctx,
            handler,
            client,
            server,
            done,
            ..
        } = self;
        let r = if from_client {
            &mut *client
        } else {
            &mut *server
        };
        let mut interest = Interest::More;
        step(r, stats, &mut |p| {
            if interest == Interest::Done {
                return;
            }
            interest = match p {
                Piece::Data(d) => match note {
                    Some((n, payload))
                        if std::ptr::eq(d.as_ptr(), payload.as_ptr())
                            && d.len() == payload.len() =>
                    {
                        handler.data_noted(ctx, from_client, ts, d, n, sink)
                    }
                    _ => handler.data(ctx, from_client, ts, d, sink),
                },
                Piece::Gap(n) => handler.gap(ctx, from_client, ts, n, sink),
            };
        });
        if interest == Interest::Done {
            *done = true;
            client.release(stats);
            server.release(stats);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// What a handler was given, shared with the test.
    #[derive(Default)]
    struct Seen {
        client: Vec<u8>,
        server: Vec<u8>,
        gaps: Vec<(bool, u64)>,
        /// The notes handed over with data.
        notes: Vec<u64>,
        ended: bool,
    }

    struct Recorder {
        seen: Arc<Mutex<Seen>>,
        /// Say Done once this many client bytes arrived.
        done_after: usize,
    }

    impl StreamHandler for Recorder {
        fn data(
            &mut self,
            _: &StreamCtx,
            from_client: bool,
            _: Timestamp,
            data: &[u8],
            _: &mut dyn RecordSink,
        ) -> Interest {
            let mut s = self.seen.lock().unwrap();
            let side = if from_client {
                &mut s.client
            } else {
                &mut s.server
            };
            side.extend_from_slice(data);
            if s.client.len() >= self.done_after {
                Interest::Done
            } else {
                Interest::More
            }
        }
        fn data_noted(
            &mut self,
            ctx: &StreamCtx,
            from_client: bool,
            ts: Timestamp,
            data: &[u8],
            note: u64,
            sink: &mut dyn RecordSink,
        ) -> Interest {
            self.seen.lock().unwrap().notes.push(note);
            self.data(ctx, from_client, ts, data, sink)
        }
        fn gap(
            &mut self,
            _: &StreamCtx,
            from_client: bool,
            _: Timestamp,
            len: u64,
            _: &mut dyn RecordSink,
        ) -> Interest {
            self.seen.lock().unwrap().gaps.push((from_client, len));
            Interest::More
        }
        fn end(&mut self, _: &StreamCtx, _: Timestamp, _: &mut dyn RecordSink) {
            self.seen.lock().unwrap().ended = true;
        }
    }

    struct T {
        s: Box<Streams>,
        seen: Arc<Mutex<Seen>>,
        stats: ReassemblyStats,
        out: Vec<crate::event::Record>,
    }

    fn ctx() -> StreamCtx {
        let e = Endpoint {
            ip: "10.0.0.1".parse().unwrap(),
            port: 1,
        };
        StreamCtx {
            conn_id: 0,
            client: e,
            server: e,
        }
    }

    impl T {
        fn new(server_start: u64, done_after: usize) -> T {
            let seen = Arc::new(Mutex::new(Seen::default()));
            let h = Recorder {
                seen: Arc::clone(&seen),
                done_after,
            };
            T {
                s: {
                    let mut s = Streams::boxed(h);
                    s.begin(ctx(), 1000, server_start);
                    s
                },
                seen,
                stats: ReassemblyStats::default(),
                out: Vec::new(),
            }
        }
        fn seg(&mut self, from_client: bool, seq: u64, data: &[u8]) {
            self.seg_noted(from_client, seq, data, 0);
        }
        fn seg_noted(&mut self, from_client: bool, seq: u64, data: &[u8], note: u64) {
            let l = ReassemblyLimits::default();
            self.s.segment(
                from_client,
                Timestamp(0),
                seq,
                data,
                data.len() as u64,
                note,
                &l,
                &mut self.stats,
                &mut self.out,
            );
        }
        fn ack(&mut self, of_client: bool, ack: u64) {
            let l = ReassemblyLimits::default();
            self.s.acked(
                of_client,
                Timestamp(0),
                ack,
                &l,
                &mut self.stats,
                &mut self.out,
            );
        }
        fn end(&mut self) {
            let l = ReassemblyLimits::default();
            self.s.end(Timestamp(0), &l, &mut self.stats, &mut self.out);
        }
    }

    #[test]
    fn in_order_out_of_order_and_gaps() {
        let mut t = T::new(5000, usize::MAX);
        t.seg(true, 1000, b"GET ");
        t.seg(true, 1008, b"HTTP");
        t.seg(true, 1004, b"/ab ");
        t.seg(false, 5000, b"hi");
        assert_eq!(t.seen.lock().unwrap().client, b"GET /ab HTTP");
        // A hole, then the server acknowledges past it: a 4-byte gap.
        t.seg(true, 1016, b"more");
        t.ack(true, 1020);
        assert_eq!(t.seen.lock().unwrap().gaps, [(true, 4)]);
        assert_eq!(t.seen.lock().unwrap().client, b"GET /ab HTTPmore");
        // Acknowledging the FIN is not a gap.
        t.s.fin(false, 5002);
        t.ack(false, 5003);
        assert_eq!(t.seen.lock().unwrap().gaps.len(), 1);
        // Held data is flushed at the end, its hole a gap.
        t.seg(true, 1030, b"late");
        t.end();
        let seen = t.seen.lock().unwrap();
        assert_eq!(seen.gaps, [(true, 4), (true, 10)]);
        assert!(seen.client.ends_with(b"late") && seen.ended);
        assert_eq!(t.stats.buffered, 0);
    }

    #[test]
    fn without_a_synack_the_first_server_segment_starts_its_stream() {
        let mut t = T::new(0, usize::MAX);
        t.seg(false, 777_000, b"HTTP/1.1 101");
        assert_eq!(t.seen.lock().unwrap().server, b"HTTP/1.1 101");
        assert_eq!(t.stats.dropped_bytes, 0);
    }

    /// A note goes with its packet's payload only when that payload is
    /// released as it came: not when part of it was seen before, nor when
    /// it was held, nor with held data it releases.
    #[test]
    fn notes_go_only_with_their_whole_payload() {
        let mut t = T::new(5000, usize::MAX);
        t.seg_noted(true, 1000, b"GET ", 1);
        t.seg_noted(true, 1008, b"HTTP", 2);
        t.seg_noted(true, 1004, b"/ab ", 3);
        t.seg_noted(true, 1010, b"TP/1", 4);
        t.seg_noted(false, 5000, b"hi", 0);
        t.seg_noted(false, 5002, b"!", 5);
        let seen = t.seen.lock().unwrap();
        assert_eq!(seen.client, b"GET /ab HTTP/1");
        assert_eq!(seen.server, b"hi!");
        assert_eq!(seen.notes, [1, 3, 5]);
    }

    #[test]
    fn a_handler_that_is_done_stops_reassembly() {
        let mut t = T::new(5000, 4);
        t.seg(true, 1010, b"held");
        assert!(t.stats.buffered > 0);
        t.seg(true, 1000, b"GET ");
        assert!(t.s.is_done());
        assert_eq!(t.stats.buffered, 0, "held bytes are released");
        t.seg(true, 1004, b"ignored");
        assert_eq!(t.seen.lock().unwrap().client, b"GET ");
    }
}
