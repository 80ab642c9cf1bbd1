//! TCP stream reassembly for one direction of a connection, bounded.
//!
//! Bytes are delivered in sequence order, each once. In-order data is passed
//! straight from the packet (no copy); out-of-order segments are held until
//! the hole before them fills. Retransmitted and overlapping bytes are
//! delivered once — the first copy wins — and an overlap whose bytes differ
//! from the copy already held, or a retransmission that differs from the
//! recently delivered segments it covers, is counted as a conflict. Bytes
//! that never arrive become a gap: when the peer acknowledges past them,
//! when a limit forces the stream forward, or when the stream ends with
//! holes; the consumer is told how many bytes are missing.
//!
//! Limits (per stream: buffered bytes and number of held segments; across
//! all streams: buffered bytes) are enforced by skipping forward: the held
//! data before the limit is given up as a gap and counted as dropped.
//! Sequence numbers are the 64-bit unwrapped values of [`super::seq`].

use std::collections::BTreeMap;

/// How much one stream and all streams together may hold.
#[derive(Clone, Copy, Debug)]
pub struct ReassemblyLimits {
    /// Bytes held out of order per stream.
    pub stream_bytes: usize,
    /// Out-of-order segments held per stream.
    pub stream_segments: usize,
    /// Bytes held out of order across all streams.
    pub total_bytes: usize,
}

impl Default for ReassemblyLimits {
    fn default() -> Self {
        ReassemblyLimits {
            stream_bytes: 1024 * 1024,
            stream_segments: 256,
            total_bytes: 64 * 1024 * 1024,
        }
    }
}

/// What a stream gives its consumer.
#[derive(Debug, PartialEq, Eq)]
pub enum Piece<'a> {
    Data(&'a [u8]),
    /// `n` bytes that were never captured (or given up).
    Gap(u64),
}

/// Counters shared by all streams of a tracker.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReassemblyStats {
    pub buffered: usize,
    pub gaps: u64,
    pub gap_bytes: u64,
    /// Held bytes given up because a limit was reached.
    pub dropped_bytes: u64,
    /// Overlaps whose bytes differ from the first copy.
    pub conflicts: u64,
    /// Times a limit forced a stream forward.
    pub overflows: u64,
}

/// Delivered segments remembered to check retransmissions against.
const SEEN: usize = 8;

/// The last [`SEEN`] delivered segments as (start, length, 32 bits of a
/// hash of their bytes: 16 bytes an entry, so the whole ring is two cache
/// lines). A retransmission that repeats one of them, or covers several, is
/// compared by hashing the same range of its own bytes. Keeping the bytes
/// instead would cost a copy and a cold cache line on every packet of every
/// decoded stream; a retransmission that covers only part of a remembered
/// segment is not compared.
#[derive(Debug, Default)]
struct Seen {
    segs: [(u64, u32, u32); SEEN],
    next: usize,
}

fn hash_bytes(b: &[u8]) -> u32 {
    use std::hash::BuildHasher;
    foldhash::fast::FixedState::with_seed(0x736f636b).hash_one(b) as u32
}

impl Seen {
    fn clear(&mut self) {
        self.segs = [(0, 0, 0); SEEN];
    }

    fn push(&mut self, start: u64, bytes: &[u8]) {
        let Ok(len) = u32::try_from(bytes.len()) else {
            return;
        };
        self.segs[self.next] = (start, len, hash_bytes(bytes));
        self.next = (self.next + 1) % SEEN;
    }

    /// Whether `data` (starting at `seq`) differs from a remembered segment
    /// it covers.
    fn conflicts(&self, seq: u64, data: &[u8]) -> bool {
        if data.is_empty() {
            return false;
        }
        let end = seq + data.len() as u64;
        self.segs.iter().any(|&(start, len, hash)| {
            len > 0
                && start >= seq
                && start + u64::from(len) <= end
                && hash_bytes(&data[(start - seq) as usize..(start - seq) as usize + len as usize])
                    != hash
        })
    }
}

#[derive(Debug)]
pub struct Reassembler {
    /// Next sequence number to deliver.
    next: u64,
    held: BTreeMap<u64, Vec<u8>>,
    held_bytes: usize,
    /// The last segments delivered, for retransmissions.
    seen: Seen,
    ended: bool,
}

impl Reassembler {
    /// A stream whose first byte has sequence number `start`.
    pub fn new(start: u64) -> Self {
        Reassembler {
            next: start,
            held: BTreeMap::new(),
            held_bytes: 0,
            seen: Seen::default(),
            ended: false,
        }
    }

    pub fn next_seq(&self) -> u64 {
        self.next
    }

    pub fn held_bytes(&self) -> usize {
        self.held_bytes
    }

    /// A segment of `wire_len` bytes at `seq`, of which `data` (a prefix)
    /// was captured.
    pub fn segment(
        &mut self,
        seq: u64,
        data: &[u8],
        wire_len: u64,
        limits: &ReassemblyLimits,
        stats: &mut ReassemblyStats,
        out: &mut dyn FnMut(Piece<'_>),
    ) {
        if self.ended {
            return;
        }
        let end = seq + wire_len;
        if end <= self.next {
            self.check_recent(seq, data, stats);
            return;
        }
        // Bytes cut by the snaplen are missing as surely as lost ones.
        let captured_end = seq + data.len() as u64;
        if seq <= self.next {
            // In order (perhaps overlapping what was delivered).
            let skip = (self.next - seq) as usize;
            if skip < data.len() {
                let fresh = &data[skip..];
                self.check_recent(seq, &data[..skip], stats);
                self.deliver_fresh(fresh, limits, stats, out);
            }
            if end > captured_end.max(self.next) {
                let missing = end - captured_end.max(self.next);
                self.gap(missing, stats, out);
            }
            self.drain(limits, stats, out);
            return;
        }
        // Out of order: hold it (first copy wins), within limits. A tail
        // cut by the snaplen stays a hole, which ends up a gap.
        self.hold(seq, data, limits, stats, out);
    }

    /// The peer acknowledged everything before `ack`: whatever is still
    /// missing before it will not come.
    pub fn acked(
        &mut self,
        ack: u64,
        limits: &ReassemblyLimits,
        stats: &mut ReassemblyStats,
        out: &mut dyn FnMut(Piece<'_>),
    ) {
        if self.ended || ack <= self.next {
            return;
        }
        let first_held = self.held.keys().next().copied();
        let upto = match first_held {
            Some(h) if h < ack => h,
            _ => ack,
        };
        if upto > self.next {
            let missing = upto - self.next;
            self.gap(missing, stats, out);
            self.drain(limits, stats, out);
        }
    }

    /// The stream is over: held data is delivered with its holes as gaps.
    pub fn end(
        &mut self,
        limits: &ReassemblyLimits,
        stats: &mut ReassemblyStats,
        out: &mut dyn FnMut(Piece<'_>),
    ) {
        if self.ended {
            return;
        }
        while let Some((&seq, _)) = self.held.iter().next() {
            if seq > self.next {
                let missing = seq - self.next;
                self.gap(missing, stats, out);
            }
            self.drain(limits, stats, out);
        }
        self.ended = true;
        stats.buffered -= self.held_bytes.min(stats.buffered);
        self.held_bytes = 0;
    }

    /// Gives up every hole before held data (each becomes a gap) and
    /// delivers the held data: the stream holds nothing after it.
    pub fn flush_held(
        &mut self,
        limits: &ReassemblyLimits,
        stats: &mut ReassemblyStats,
        out: &mut dyn FnMut(Piece<'_>),
    ) {
        if self.ended {
            return;
        }
        while self.skip_to_first_held(limits, stats, out) {}
    }

    /// Frees what the stream holds (when the connection is forgotten).
    pub fn release(&mut self, stats: &mut ReassemblyStats) {
        stats.buffered -= self.held_bytes.min(stats.buffered);
        self.held.clear();
        self.held_bytes = 0;
        self.ended = true;
    }

    fn deliver_fresh(
        &mut self,
        fresh: &[u8],
        _limits: &ReassemblyLimits,
        stats: &mut ReassemblyStats,
        out: &mut dyn FnMut(Piece<'_>),
    ) {
        let new_next = self.next + fresh.len() as u64;
        let overlapping: Vec<u64> = if self.held.is_empty() {
            Vec::new()
        } else {
            self.held.range(..new_next).map(|(&k, _)| k).collect()
        };
        if overlapping.is_empty() {
            out(Piece::Data(fresh));
            self.remember(fresh);
            self.next = new_next;
            return;
        }
        // Held segments came first: their bytes win over this copy.
        let mut merged = fresh.to_vec();
        for k in overlapping {
            let seg = self.held.remove(&k).expect("listed");
            self.held_bytes -= seg.len();
            stats.buffered -= seg.len().min(stats.buffered);
            let off = (k - self.next) as usize;
            let common = seg.len().min(merged.len().saturating_sub(off));
            if merged[off..off + common] != seg[..common] {
                stats.conflicts += 1;
                merged[off..off + common].copy_from_slice(&seg[..common]);
            }
            if common < seg.len() {
                // The rest of the held segment stays held, past new_next.
                let rest = seg[common..].to_vec();
                self.held_bytes += rest.len();
                stats.buffered += rest.len();
                self.held.insert(k + common as u64, rest);
            }
        }
        out(Piece::Data(&merged));
        self.remember(&merged);
        self.next = new_next;
    }

    fn drain(
        &mut self,
        limits: &ReassemblyLimits,
        stats: &mut ReassemblyStats,
        out: &mut dyn FnMut(Piece<'_>),
    ) {
        while let Some((&seq, _)) = self.held.iter().next() {
            if seq > self.next {
                break;
            }
            let seg = self.held.remove(&seq).expect("present");
            self.held_bytes -= seg.len();
            stats.buffered -= seg.len().min(stats.buffered);
            let skip = (self.next - seq) as usize;
            if skip < seg.len() {
                self.deliver_fresh(&seg[skip..], limits, stats, out);
            }
        }
    }

    fn hold(
        &mut self,
        seq: u64,
        data: &[u8],
        limits: &ReassemblyLimits,
        stats: &mut ReassemblyStats,
        out: &mut dyn FnMut(Piece<'_>),
    ) {
        // Split `data` into the parts not already held (first copy wins).
        let mut pieces: Vec<(u64, &[u8])> = Vec::new();
        let mut cursor = seq;
        let end = seq + data.len() as u64;
        let held: Vec<(u64, u64)> = self
            .held
            .range(..end)
            .map(|(&k, v)| (k, k + v.len() as u64))
            .filter(|&(_, e)| e > seq)
            .collect();
        for (hs, he) in held {
            if hs > cursor {
                let a = (cursor - seq) as usize;
                let b = (hs - seq) as usize;
                pieces.push((cursor, &data[a..b]));
            }
            // Compare the overlap with what is held.
            let (os, oe) = (hs.max(seq), he.min(end));
            if os < oe {
                let held_seg = &self.held[&hs];
                let a = &held_seg[(os - hs) as usize..(oe - hs) as usize];
                let b = &data[(os - seq) as usize..(oe - seq) as usize];
                if a != b {
                    stats.conflicts += 1;
                }
            }
            cursor = cursor.max(he);
        }
        if cursor < end {
            pieces.push((cursor, &data[(cursor - seq) as usize..]));
        }
        for (s, p) in pieces {
            if p.is_empty() {
                continue;
            }
            // Make room: give up the oldest held data (and the hole before
            // it) until this fits.
            while self.held_bytes + p.len() > limits.stream_bytes
                || self.held.len() >= limits.stream_segments
                || stats.buffered + p.len() > limits.total_bytes
            {
                if !self.skip_to_first_held(limits, stats, out) {
                    break;
                }
                if s <= self.next {
                    break;
                }
            }
            if s <= self.next {
                // Skipping forward reached this piece: it is in order now.
                let skip = (self.next - s) as usize;
                if skip < p.len() {
                    self.deliver_fresh(&p[skip..], limits, stats, out);
                    self.drain(limits, stats, out);
                }
                continue;
            }
            if self.held_bytes + p.len() > limits.stream_bytes
                || stats.buffered + p.len() > limits.total_bytes
            {
                // Still too big: this piece is lost.
                stats.dropped_bytes += p.len() as u64;
                stats.overflows += 1;
                continue;
            }
            self.held_bytes += p.len();
            stats.buffered += p.len();
            self.held.insert(s, p.to_vec());
        }
    }

    /// Gives up the hole before the first held segment (a gap) and delivers
    /// what follows it. False when nothing is held.
    fn skip_to_first_held(
        &mut self,
        limits: &ReassemblyLimits,
        stats: &mut ReassemblyStats,
        out: &mut dyn FnMut(Piece<'_>),
    ) -> bool {
        let Some((&seq, seg)) = self.held.iter().next() else {
            return false;
        };
        stats.overflows += 1;
        stats.dropped_bytes += seg.len() as u64;
        if seq > self.next {
            let missing = seq - self.next;
            self.gap(missing, stats, out);
        }
        self.drain(limits, stats, out);
        true
    }

    fn gap(&mut self, n: u64, stats: &mut ReassemblyStats, out: &mut dyn FnMut(Piece<'_>)) {
        if n == 0 {
            return;
        }
        stats.gaps += 1;
        stats.gap_bytes += n;
        out(Piece::Gap(n));
        self.next += n;
        self.seen.clear();
    }

    /// `fresh` is being delivered from `next` on.
    fn remember(&mut self, fresh: &[u8]) {
        self.seen.push(self.next, fresh);
    }

    /// A retransmission of bytes before `next`: compare with what was
    /// delivered, as far as it is remembered.
    fn check_recent(&self, seq: u64, data: &[u8], stats: &mut ReassemblyStats) {
        if self.seen.conflicts(seq, data) {
            stats.conflicts += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(r: &mut Reassembler, steps: &[(u64, &[u8])]) -> (Vec<u8>, Vec<u64>, ReassemblyStats) {
        let limits = ReassemblyLimits::default();
        let mut stats = ReassemblyStats::default();
        let mut data = Vec::new();
        let mut gaps = Vec::new();
        for &(seq, bytes) in steps {
            let mut sink = |p: Piece<'_>| match p {
                Piece::Data(d) => data.extend_from_slice(d),
                Piece::Gap(n) => gaps.push(n),
            };
            r.segment(
                seq,
                bytes,
                bytes.len() as u64,
                &limits,
                &mut stats,
                &mut sink,
            );
        }
        (data, gaps, stats)
    }

    #[test]
    fn retransmissions_are_compared_by_segment() {
        let mut seen = Seen::default();
        seen.push(100, b"abcd");
        seen.push(104, b"efgh");
        // The same segment again, or one covering both: compared.
        assert!(!seen.conflicts(100, b"abcd"));
        assert!(seen.conflicts(100, b"abcX"));
        assert!(!seen.conflicts(98, b"..abcdefgh.."));
        assert!(seen.conflicts(100, b"abcdefgX"));
        // Part of a segment only: not compared.
        assert!(!seen.conflicts(101, b"XXX"));
        // Old segments are forgotten.
        for k in 0..SEEN as u64 {
            seen.push(200 + k, b"z");
        }
        assert!(!seen.conflicts(100, b"abcX"));
    }

    #[test]
    fn in_order_out_of_order_and_retransmitted() {
        let mut r = Reassembler::new(100);
        let (data, gaps, stats) = run(
            &mut r,
            &[
                (100, b"abc"),
                (106, b"ghi"),
                (103, b"def"),
                (103, b"def"),
                (109, b"j"),
            ],
        );
        assert_eq!(data, b"abcdefghij");
        assert!(gaps.is_empty());
        assert_eq!(stats.conflicts, 0);
        assert_eq!(r.next_seq(), 110);
        assert_eq!(r.held_bytes(), 0);
    }

    #[test]
    fn overlaps_first_copy_wins_and_conflicts_count() {
        let mut r = Reassembler::new(0);
        // "cde" held at 2; a later "XXdeY" at 0 overlaps it with other bytes.
        let (data, _, stats) = run(&mut r, &[(2, b"cde"), (0, b"abXXf")]);
        assert_eq!(data, b"abcde", "the held copy came first and wins");
        assert_eq!(stats.conflicts, 1);
        // A retransmission that disagrees with delivered bytes.
        let mut r = Reassembler::new(0);
        let (data, _, stats) = run(&mut r, &[(0, b"hello"), (0, b"hELlo")]);
        assert_eq!(data, b"hello");
        assert_eq!(stats.conflicts, 1);
        // One that covers two delivered segments, and a partial one (not
        // compared: only whole remembered segments are).
        let mut r = Reassembler::new(0);
        let (_, _, stats) = run(
            &mut r,
            &[(0, b"he"), (2, b"llo"), (0, b"hellO"), (1, b"EL")],
        );
        assert_eq!(stats.conflicts, 1);
    }

    #[test]
    fn acknowledged_holes_become_gaps() {
        let mut r = Reassembler::new(0);
        let limits = ReassemblyLimits::default();
        let mut stats = ReassemblyStats::default();
        let mut got = Vec::new();
        r.segment(0, b"ab", 2, &limits, &mut stats, &mut |p| {
            got.push(format!("{p:?}"))
        });
        r.segment(10, b"kl", 2, &limits, &mut stats, &mut |p| {
            got.push(format!("{p:?}"))
        });
        r.acked(12, &limits, &mut stats, &mut |p| got.push(format!("{p:?}")));
        assert_eq!(got, ["Data([97, 98])", "Gap(8)", "Data([107, 108])"]);
        assert_eq!((stats.gaps, stats.gap_bytes), (1, 8));
    }

    #[test]
    fn snaplen_cut_tails_are_gaps() {
        let mut r = Reassembler::new(0);
        let limits = ReassemblyLimits::default();
        let mut stats = ReassemblyStats::default();
        let mut got = Vec::new();
        r.segment(0, b"abc", 10, &limits, &mut stats, &mut |p| {
            got.push(format!("{p:?}"))
        });
        assert_eq!(got, ["Data([97, 98, 99])", "Gap(7)"]);
        assert_eq!(r.next_seq(), 10);
    }

    #[test]
    fn limits_skip_forward_and_count() {
        let limits = ReassemblyLimits {
            stream_bytes: 8,
            stream_segments: 4,
            total_bytes: 1 << 20,
        };
        let mut r = Reassembler::new(0);
        let mut stats = ReassemblyStats::default();
        let mut data = Vec::new();
        let mut gaps = 0;
        let mut sink = |p: Piece<'_>| match p {
            Piece::Data(d) => data.extend_from_slice(d),
            Piece::Gap(n) => gaps += n,
        };
        // Nothing at 0..10 ever comes; out-of-order data piles up past the cap.
        r.segment(10, b"0123", 4, &limits, &mut stats, &mut sink);
        r.segment(20, b"4567", 4, &limits, &mut stats, &mut sink);
        r.segment(30, b"89ab", 4, &limits, &mut stats, &mut sink);
        assert!(r.held_bytes() <= 8);
        assert!(stats.overflows >= 1);
        assert!(stats.dropped_bytes >= 4);
        r.end(&limits, &mut stats, &mut sink);
        assert_eq!(r.held_bytes(), 0);
        assert_eq!(stats.buffered, 0);
        assert!(gaps > 0);
        assert!(data.ends_with(b"89ab"));
    }

    #[test]
    fn end_delivers_held_data_across_holes() {
        let mut r = Reassembler::new(0);
        let limits = ReassemblyLimits::default();
        let mut stats = ReassemblyStats::default();
        let mut got = Vec::new();
        r.segment(5, b"fg", 2, &limits, &mut stats, &mut |p| {
            got.push(format!("{p:?}"))
        });
        r.end(&limits, &mut stats, &mut |p| got.push(format!("{p:?}")));
        assert_eq!(got, ["Gap(5)", "Data([102, 103])"]);
    }
}
