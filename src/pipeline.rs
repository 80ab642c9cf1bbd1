//! Threads between the pipeline's stages.
//!
//! A run uses three threads, one per expensive stage, joined by bounded
//! channels (so memory stays bounded and a slow stage slows the others down
//! rather than piling up work):
//!
//! ```text
//!  source thread                 tracking thread (caller)       render thread
//!  read → filter → decode ──Batch──► track ──Vec<Record>──────► renderer
//!        ▲                  │            ▲                  │
//!        └──── empty Batch ─┘            └── empty Vec ─────┘
//! ```
//!
//! A [`Batch`] carries the read chunk itself plus compact per-packet metadata
//! pointing into it ([`PacketMeta`]), so packet bytes are never copied between
//! threads; emptied batches and record vectors travel back for reuse. Output
//! order is the tracking thread's order, so runs stay deterministic.
//!
//! A live capture reads its ring on a thread of its own that only copies
//! packets out into [`RawBatch`]es, so the kernel gets its ring blocks back
//! at once, while decoding, tracking and rendering run on the caller's.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;

use crate::decode::owned::PacketMeta;
use crate::event::{Record, RecordSink};
use crate::replay::StoppableSink;
use crate::time::Timestamp;
use crate::track::Keyed;

/// Packets decoded from one read chunk.
#[derive(Default)]
pub struct Batch {
    /// The chunk the packets' bytes lie in.
    pub chunk: Vec<u8>,
    /// Bytes not in the chunk (datagrams rebuilt from fragments).
    pub extra: Vec<u8>,
    pub packets: Vec<PacketMeta>,
    /// Each packet's flow key, computed on the source thread.
    pub keys: Vec<Keyed>,
    /// Each packet's payload note for the stream decoders (0: none; see
    /// [`crate::track::Tracker::packet_noted`]); empty when no note is made.
    pub notes: Vec<u64>,
    /// Each packet's byte offset in its file, when a packet tap asked for
    /// them (`replay --conn … -w` copies those records); empty otherwise.
    pub offsets: Vec<u64>,
}

impl Batch {
    pub fn clear(&mut self) {
        self.extra.clear();
        self.packets.clear();
        self.keys.clear();
        self.notes.clear();
        self.offsets.clear();
    }
}

/// Packets as they were read, not yet decoded: what a live capture's ring
/// reader hands to decoding. The bytes lie back to back in `chunk`; the
/// batch travels back emptied and is filled again, so reading allocates
/// nothing per packet.
pub struct RawBatch {
    chunk: Vec<u8>,
    used: usize,
    pub packets: Vec<RawMeta>,
}

/// One packet of a [`RawBatch`]: its capture time, length on the wire, and
/// where its captured bytes lie in the chunk.
#[derive(Clone, Copy, Debug)]
pub struct RawMeta {
    pub ts: Timestamp,
    pub wire_len: u32,
    start: u32,
    len: u32,
}

impl RawBatch {
    /// An empty batch of `bytes` bytes (which must hold the largest
    /// packet) and room for `packets` packets' metadata.
    pub fn new(bytes: usize, packets: usize) -> RawBatch {
        RawBatch {
            chunk: vec![0; bytes],
            used: 0,
            packets: Vec::with_capacity(packets),
        }
    }

    /// Copies a packet in; false (nothing done) when its bytes do not fit.
    #[inline]
    pub fn push(&mut self, ts: Timestamp, wire_len: u32, data: &[u8]) -> bool {
        let end = self.used + data.len();
        if end > self.chunk.len() {
            return false;
        }
        self.chunk[self.used..end].copy_from_slice(data);
        self.packets.push(RawMeta {
            ts,
            wire_len,
            start: self.used as u32,
            len: data.len() as u32,
        });
        self.used = end;
        true
    }

    /// A packet's captured bytes.
    #[inline]
    pub fn data(&self, m: &RawMeta) -> &[u8] {
        &self.chunk[m.start as usize..(m.start + m.len) as usize]
    }

    pub fn is_empty(&self) -> bool {
        self.packets.is_empty()
    }

    pub fn clear(&mut self) {
        self.used = 0;
        self.packets.clear();
    }
}

/// Records per message to the render thread.
const RECORDS_PER_MESSAGE: usize = 1024;
/// Messages in flight to the render thread.
const RENDER_QUEUE: usize = 64;

/// The tracking thread's side of the render thread: collects records and
/// sends them in batches.
pub struct ChannelSink {
    buf: Vec<Record>,
    tx: Option<SyncSender<Vec<Record>>>,
    free: Receiver<Vec<Record>>,
    stopped: Arc<AtomicBool>,
}

impl ChannelSink {
    fn flush(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        let next = self
            .free
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(RECORDS_PER_MESSAGE));
        let full = std::mem::replace(&mut self.buf, next);
        if let Some(tx) = &self.tx {
            if tx.send(full).is_err() {
                self.stopped.store(true, Ordering::Relaxed);
            }
        }
    }

    /// Sends what is pending now (for live output, where latency matters).
    pub fn flush_now(&mut self) {
        self.flush();
    }
}

impl RecordSink for ChannelSink {
    fn record(&mut self, r: Record) {
        self.buf.push(r);
        if self.buf.len() >= RECORDS_PER_MESSAGE {
            self.flush();
        }
    }
}

impl StoppableSink for ChannelSink {
    fn stopped(&self) -> bool {
        self.stopped.load(Ordering::Relaxed)
    }
}

impl Drop for ChannelSink {
    fn drop(&mut self) {
        self.flush();
        self.tx = None;
    }
}

/// Runs `f` with a sink whose records are rendered into `sink` on another
/// thread; returns `f`'s result and `sink` once everything is rendered.
pub fn with_render_thread<S, R>(sink: S, f: impl FnOnce(&mut ChannelSink) -> R) -> (R, S)
where
    S: StoppableSink + Send,
{
    let (tx, rx) = sync_channel::<Vec<Record>>(RENDER_QUEUE);
    let (free_tx, free_rx) = sync_channel::<Vec<Record>>(RENDER_QUEUE + 2);
    let stopped = Arc::new(AtomicBool::new(false));
    std::thread::scope(|scope| {
        let stop_flag = Arc::clone(&stopped);
        let renderer = scope.spawn(move || {
            let mut sink = sink;
            for mut records in rx {
                for r in records.drain(..) {
                    sink.record(r);
                }
                if sink.stopped() {
                    stop_flag.store(true, Ordering::Relaxed);
                    // Keep draining (and dropping) so the sender never blocks.
                    continue;
                }
                let _ = free_tx.try_send(records);
            }
            sink
        });
        let mut out = ChannelSink {
            buf: Vec::with_capacity(RECORDS_PER_MESSAGE),
            tx: Some(tx),
            free: free_rx,
            stopped,
        };
        let result = f(&mut out);
        drop(out);
        let sink = renderer.join().expect("render thread panicked");
        (result, sink)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{ErrorRecord, Record};

    #[test]
    fn a_raw_batch_keeps_packets_back_to_back_until_one_does_not_fit() {
        let mut b = RawBatch::new(10, 2);
        assert!(b.push(Timestamp(1), 60, b"abcd"));
        assert!(b.push(Timestamp(2), 6, b"efghij"));
        assert!(!b.push(Timestamp(3), 1, b"k"));
        let got: Vec<(i64, u32, &[u8])> = b
            .packets
            .iter()
            .map(|m| (m.ts.0, m.wire_len, b.data(m)))
            .collect();
        assert_eq!(got, [(1, 60, &b"abcd"[..]), (2, 6, &b"efghij"[..])]);
        b.clear();
        assert!(b.is_empty() && b.push(Timestamp(3), 1, b"k"));
        assert_eq!(b.data(&b.packets[0]), b"k");
    }

    #[test]
    fn records_arrive_in_order() {
        let (n, out) = with_render_thread(Vec::new(), |s| {
            for i in 0..5000u64 {
                s.record(Record::Error(ErrorRecord {
                    file: String::new(),
                    offset: i,
                    message: String::new(),
                }));
            }
            5000
        });
        assert_eq!(out.len(), n);
        for (i, r) in out.iter().enumerate() {
            match r {
                Record::Error(e) => assert_eq!(e.offset, i as u64),
                _ => panic!(),
            }
        }
    }
}
