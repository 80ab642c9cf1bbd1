//! `replay`: a capture file through the whole pipeline.
//!
//! source (file) → BPF filter → decode → track → records. The source stage
//! (reading, filtering, decoding, capture-health counting) runs on its own
//! thread, tracking on the caller's, rendering on a third (see
//! [`crate::pipeline`]). This module owns the contract on output order:
//! `meta` first, then events and flow records as they happen, then an `error`
//! record if reading stopped on damage (after everything decoded before it),
//! then `summary` last — on every run, an empty or non-capture file included.

use std::fs::File;
use std::io::{self, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};

use crate::config::{Input, ReplayConfig};
use crate::decode::defrag::{DefragLimits, DefragStats};
use crate::decode::owned::{Locator, PacketMeta};
use crate::decode::{Decoded, Decoder, Transport};
use crate::event::{
    ErrorRecord, FlowRecords, Meta, Record, RecordSink, RecordTypes, Summary, SCHEMA_VERSION,
};
use crate::pipeline::{with_render_thread, Batch};
use crate::proto::{payload_note, stream_detector, HttpConfig};
use crate::source::file::{CaptureReader, Damaged, Next};
use crate::source::filter::{BpfFilter, FilterError};
use crate::source::{LinkType, RawPacket};
use crate::time::Timestamp;
use crate::track::stream::prefetch;
use crate::track::{FlowKeyer, Keyed, TrackStats, Tracker};

/// A sink that can ask the pipeline to stop early (its output went away).
pub trait StoppableSink: RecordSink {
    fn stopped(&self) -> bool {
        false
    }
    /// Which records it has any use for, asked once before a run: those it
    /// would ignore are dropped on the tracking thread instead of crossing
    /// to the render thread.
    fn wants(&self) -> Wants {
        Wants::All
    }
}

/// What a sink does with records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wants {
    All,
    /// Only the run's own: `meta`, `error`, `capture_stats`, `summary`.
    RunOnly,
    /// These types, and the run's own.
    Types(RecordTypes),
}

impl Wants {
    /// What an output at this level of detail shows: `-q` only the run's
    /// records (tables and events need the rest).
    pub fn for_detail(detail: crate::config::Detail) -> Wants {
        if detail == crate::config::Detail::Quiet {
            Wants::RunOnly
        } else {
            Wants::All
        }
    }

    #[inline]
    pub fn keeps(self, r: &Record) -> bool {
        match self {
            Wants::All => true,
            Wants::RunOnly => RecordTypes::RUN.contains(r),
            Wants::Types(t) => t.contains(r) || RecordTypes::RUN.contains(r),
        }
    }

    /// The per-flow records kept.
    pub fn flow_records(self) -> FlowRecords {
        match self {
            Wants::All => FlowRecords::ALL,
            Wants::RunOnly => FlowRecords::NONE,
            Wants::Types(t) => FlowRecords::of(t),
        }
    }
}

impl StoppableSink for Vec<Record> {}

/// Sees every decoded packet on the tracking thread, after the tracker, with
/// the connection or flow it went to (`conn_id`, sent by its client) and
/// its record's byte offset in the file (`u64::MAX` unless
/// [`PacketTap::offsets`]). `replay --conn` uses it to cut the selected
/// connections' packets out and to draw their ladder; a plain replay's tap
/// ([`NoTap`]) does nothing and costs nothing.
pub trait PacketTap {
    /// Whether the source thread should note each packet's file offset.
    fn offsets(&self) -> bool {
        false
    }
    fn packet(
        &mut self,
        p: &crate::decode::Packet<'_>,
        conn_id: u64,
        from_client: bool,
        offset: u64,
    );
}

/// The tap of a plain replay.
pub struct NoTap;

impl PacketTap for NoTap {
    #[inline(always)]
    fn packet(&mut self, _: &crate::decode::Packet<'_>, _: u64, _: bool, _: u64) {}
}

/// How a replay ended.
#[derive(Debug)]
pub struct ReplayOutcome {
    pub summary: Summary,
    /// Reading stopped on a damaged, unreadable or missing file.
    pub error: Option<ErrorRecord>,
    /// The sink stopped the run (e.g. a closed pipe).
    pub interrupted: bool,
}

/// Errors that prevent a replay from starting at all.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error(transparent)]
    Filter(#[from] FilterError),
    /// A file could not be opened: nothing was read or written.
    #[error("{file}: {message}")]
    Open { file: String, message: String },
}

/// An I/O error's message without the "(os error N)" that std adds: the
/// one line a user reads names the file and what is wrong with it.
fn plain_io_message(e: &io::Error) -> String {
    let s = e.to_string();
    match s.rfind(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// A file's name and its opened bytes.
type Opened = (String, Box<dyn Read + Send>);

/// Opens every input before anything is written, so a missing or
/// unreadable file is one error line and nothing else.
fn open_inputs(cfg: &ReplayConfig) -> Result<Vec<Opened>, ReplayError> {
    std::iter::once(&cfg.input)
        .chain(&cfg.more_inputs)
        .map(|input| {
            let name = input.display();
            let reader: Box<dyn Read + Send> = match input {
                Input::Stdin => Box::new(io::stdin()),
                Input::Path(p) => match File::open(p) {
                    // A directory opens but cannot be read.
                    Ok(f) if f.metadata().is_ok_and(|m| m.is_dir()) => {
                        return Err(ReplayError::Open {
                            file: name,
                            message: "Is a directory".to_string(),
                        })
                    }
                    Ok(f) => Box::new(f),
                    Err(e) => {
                        return Err(ReplayError::Open {
                            file: name,
                            message: plain_io_message(&e),
                        })
                    }
                },
            };
            Ok((name, reader))
        })
        .collect()
}

/// What the stream decoders' records add to the summary: the WebSocket
/// sessions, their frames, messages and violations (the tracker does not
/// know what its stream decoders write, and a session counts its frames,
/// messages and violations even when their own records were not made).
/// [`Health::finish`] takes them, so no run can leave them out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SessionCounts {
    pub sessions: u64,
    pub frames: u64,
    pub messages: u64,
    pub violations: u64,
}

impl SessionCounts {
    #[inline]
    pub fn add(&mut self, r: &Record) {
        if let Record::WsSession(w) = r {
            self.sessions += 1;
            self.frames += w.client.frames + w.server.frames;
            self.messages += w.client.messages + w.server.messages;
            self.violations += w.violations;
        }
    }
}

/// The sink a run's tracker writes into, replay's and capture's alike: it
/// adds up [`SessionCounts`] on the records' way to the renderer, and drops
/// those the renderer does not want (after counting them).
pub struct Counted<'a, S> {
    pub inner: &'a mut S,
    wants: Wants,
    flows: FlowRecords,
    counts: SessionCounts,
}

impl<'a, S: RecordSink> Counted<'a, S> {
    pub fn new(inner: &'a mut S, wants: Wants) -> Self {
        Counted {
            inner,
            wants,
            flows: wants.flow_records(),
            counts: SessionCounts::default(),
        }
    }

    pub fn counts(&self) -> SessionCounts {
        self.counts
    }
}

impl<S: RecordSink> RecordSink for Counted<'_, S> {
    #[inline]
    fn record(&mut self, r: Record) {
        self.counts.add(&r);
        if self.wants.keeps(&r) {
            self.inner.record(r);
        }
    }

    #[inline]
    fn flow_records(&self) -> FlowRecords {
        self.flows.and(self.inner.flow_records())
    }
}

impl<S: crate::event::FlushSink> crate::event::FlushSink for Counted<'_, S> {
    fn flush(&mut self) {
        self.inner.flush();
    }
}

/// Capture-health counters kept while packets flow.
#[derive(Default)]
pub struct Health {
    pub summary: Summary,
    link_counts: Vec<(LinkType, u64)>,
}

impl Health {
    /// Counts a packet that passed the filter.
    pub fn packet(&mut self, raw: &RawPacket<'_>) {
        let s = &mut self.summary;
        s.packets += 1;
        s.bytes += u64::from(raw.wire_len);
        s.captured_bytes += raw.data.len() as u64;
        if raw.is_truncated() {
            s.truncated += 1;
        }
        match (s.first_ts, s.last_ts) {
            (Some(a), Some(b)) => {
                if raw.ts < a {
                    s.first_ts = Some(raw.ts);
                }
                if raw.ts > b {
                    s.last_ts = Some(raw.ts);
                }
            }
            _ => {
                s.first_ts = Some(raw.ts);
                s.last_ts = Some(raw.ts);
            }
        }
        match self.link_counts.first_mut() {
            Some((l, n)) if *l == raw.link => *n += 1,
            _ => match self.link_counts.iter_mut().find(|(l, _)| *l == raw.link) {
                Some((_, n)) => *n += 1,
                None => self.link_counts.push((raw.link, 1)),
            },
        }
    }

    /// Counts what decoding made of it.
    pub fn decoded(&mut self, raw: &RawPacket<'_>, d: &Decoded<'_>) {
        let s = &mut self.summary;
        match d {
            Decoded::Packet(_) | Decoded::FragmentHeld => {}
            Decoded::OtherIp { .. } => s.other_ip += 1,
            Decoded::NotIp => s.non_ip += 1,
            Decoded::UnsupportedLink => s.unsupported_link += 1,
            // A header cut by the snaplen is truncation (already counted),
            // not damage.
            Decoded::Error(e) if e.is_length() && raw.is_truncated() => {}
            Decoded::Error(_) => s.decode_errors += 1,
        }
    }

    /// Records skipped by the file reader as damaged.
    /// Counts the damaged records a file's reader skipped (added up over
    /// several files; the first offset is the first file's that had one).
    pub fn damaged(&mut self, d: Damaged) {
        self.summary.damaged_records += d.records;
        if self.summary.first_damaged_offset.is_none() {
            self.summary.first_damaged_offset = d.first_offset;
        }
    }

    /// The summary: what was counted here while packets flowed, with what
    /// the defragmenter, the tracker and the stream decoders counted.
    pub fn finish(
        mut self,
        defrag: DefragStats,
        track: TrackStats,
        sessions: SessionCounts,
        complete: bool,
    ) -> Summary {
        let s = &mut self.summary;
        s.tcp_conns = track.tcp_conns;
        s.udp_flows = track.udp_flows;
        s.evicted = track.evicted;
        // Every counter the defragmenter keeps is shown (a new one does not
        // compile until it is placed).
        let DefragStats {
            fragments,
            reassembled,
            incomplete,
            conflicts,
            invalid,
        } = defrag;
        s.ip_fragments = fragments;
        s.fragments_reassembled = reassembled;
        s.fragments_incomplete = incomplete;
        s.fragment_conflicts = conflicts;
        s.fragments_invalid = invalid;
        s.reassembly_gaps = track.reassembly.gaps;
        s.reassembly_dropped_bytes = track.reassembly.dropped_bytes;
        s.reassembly_conflicts = track.reassembly.conflicts;
        s.buffers_given_up = track.buffers.given_up;
        s.buffer_bytes_given_up = track.buffers.given_up_bytes;
        let SessionCounts {
            sessions,
            frames,
            messages,
            violations,
        } = sessions;
        s.ws_sessions = sessions;
        s.ws_frames = frames;
        s.ws_messages = messages;
        s.ws_violations = violations;
        s.link_types = self
            .link_counts
            .iter()
            .map(|(l, n)| (l.label(), *n))
            .collect();
        s.complete = complete;
        self.summary
    }
}

pub fn meta(command: &'static str, file: Option<String>, filter: Option<String>) -> Meta {
    Meta {
        schema: SCHEMA_VERSION,
        tool: "sockscope",
        version: env!("CARGO_PKG_VERSION"),
        command,
        file,
        files: Vec::new(),
        filter,
        conn: Vec::new(),
    }
}

/// Bytes per read chunk handed from the source thread to the tracking thread.
const CHUNK: usize = 512 * 1024;
/// Chunks in flight between the source and tracking threads. Few: the
/// tracking thread is the slower one, so a deep queue only holds more memory
/// (each batch is about 1 MB with its packet metadata, and on a VM every
/// megabyte first touched costs milliseconds).
const BATCH_QUEUE: usize = 4;
/// Packets a chunk usually holds (the metadata vectors start at this size).
const PACKETS_PER_CHUNK: usize = CHUNK / 128;

/// What the source thread reports when it is done.
struct SourceEnd {
    health: Health,
    defrag: DefragStats,
    error: Option<ErrorRecord>,
}

/// Replays the capture named in `cfg`, rendering into `sink` (on a separate
/// thread). Returns how it ended, and the sink.
pub fn replay<S: StoppableSink + Send>(
    cfg: &ReplayConfig,
    sink: S,
) -> Result<(ReplayOutcome, S), ReplayError> {
    replay_tapped(cfg, sink, &mut NoTap)
}

/// [`replay`], showing every decoded packet to `tap` on the tracking thread.
pub fn replay_tapped<S: StoppableSink + Send, T: PacketTap>(
    cfg: &ReplayConfig,
    sink: S,
    tap: &mut T,
) -> Result<(ReplayOutcome, S), ReplayError> {
    let offsets = tap.offsets();
    let filter = cfg.filter.as_deref().map(BpfFilter::new).transpose()?;
    let mut inputs = open_inputs(cfg)?;
    let name = cfg.input.display();
    let wants = sink.wants();
    let (outcome, sink) = with_render_thread(sink, |out| {
        let mut meta = meta("replay", Some(name.clone()), cfg.filter.clone());
        if inputs.len() > 1 {
            meta.files = inputs.iter().map(|(n, _)| n.clone()).collect();
        }
        out.record(Record::Meta(meta));
        // Each file's header, in order; the first that is not a capture
        // ends the run (after `meta`, as any damage does).
        let mut readers = Vec::with_capacity(inputs.len());
        for (file, input) in inputs.drain(..) {
            match CaptureReader::new(input) {
                Ok(r) => readers.push((file, r)),
                Err(e) => {
                    let end = SourceEnd {
                        health: Health::default(),
                        defrag: DefragStats::default(),
                        error: Some(ErrorRecord {
                            file,
                            offset: e.offset,
                            message: e.kind.to_string(),
                        }),
                    };
                    return finish_run(
                        out,
                        end,
                        TrackStats::default(),
                        SessionCounts::default(),
                        false,
                    );
                }
            }
        }

        let keyer = FlowKeyer::new(cfg.track.key_by_vlan);
        let note = cfg.ws.as_ref().and_then(payload_note);
        let mut tracker = Tracker::with_keyer(cfg.track, keyer.clone());
        let http = cfg.http.map(HttpConfig::from);
        if let Some(d) = stream_detector(cfg.ws, http.clone()) {
            tracker.set_detector(d);
        }
        let mut counted = Counted::new(out, wants);
        let stop = AtomicBool::new(false);
        let (batch_tx, batch_rx) = sync_channel::<Batch>(BATCH_QUEUE);
        let (free_tx, free_rx) = sync_channel::<Batch>(BATCH_QUEUE + 2);
        let (end, interrupted) = std::thread::scope(|scope| {
            let source = scope.spawn(|| {
                let mut state = SourceState::new(cfg.defrag, keyer, note, cfg.max_packets);
                state.offsets = offsets;
                if readers.len() == 1 {
                    let (file, reader) = readers.pop().expect("one reader");
                    source_stage(reader, filter, state, &file, batch_tx, free_rx, &stop)
                } else {
                    merged_source_stage(
                        readers,
                        cfg.filter.as_deref(),
                        state,
                        batch_tx,
                        free_rx,
                        &stop,
                    )
                }
            });
            let mut interrupted = false;
            for mut batch in batch_rx.iter() {
                // Where the flows of the packets ahead were found.
                let mut hints = [None; HINTS];
                for (i, (m, k)) in batch.packets.iter().zip(&batch.keys).enumerate() {
                    // The metadata was written on the source thread's core:
                    // each line read here is a transfer between cores.
                    let far = i + 4 * PREFETCH_AHEAD;
                    if let (Some(k), Some(m)) = (batch.keys.get(far), batch.packets.get(far)) {
                        prefetch(k as *const Keyed as *const u8);
                        prefetch(m as *const PacketMeta as *const u8);
                        prefetch((m as *const PacketMeta as *const u8).wrapping_add(64));
                    }
                    let mid = i + 2 * PREFETCH_AHEAD;
                    if let Some(ahead) = batch.keys.get(mid) {
                        tracker.prefetch_index(ahead);
                    }
                    if let Some(p) = batch
                        .packets
                        .get(mid)
                        .and_then(|m| m.tcp_payload_ptr(&batch.chunk))
                    {
                        prefetch(p);
                        prefetch(p.wrapping_add(64));
                    }
                    if let Some(ahead) = batch.keys.get(i + PREFETCH_AHEAD) {
                        hints[(i + PREFETCH_AHEAD) % HINTS] = tracker.prefetch(ahead);
                    }
                    if let Some(ahead) = batch.keys.get(i + STATE_AHEAD) {
                        tracker.prefetch_state(ahead, hints[(i + STATE_AHEAD) % HINTS]);
                    }
                    let hint = std::mem::take(&mut hints[i % HINTS]);
                    let note = batch.notes.get(i).copied().unwrap_or(0);
                    let (src, dst) = k.addresses();
                    let p = m.packet(&batch.chunk, &batch.extra, src, dst);
                    tracker.packet_noted(&p, k, hint, note, &mut counted);
                    let (conn_id, from_client) = tracker.last_flow();
                    let offset = batch.offsets.get(i).copied().unwrap_or(u64::MAX);
                    tap.packet(&p, conn_id, from_client, offset);
                }
                if counted.inner.stopped() {
                    interrupted = true;
                    stop.store(true, Ordering::Relaxed);
                    break;
                }
                batch.clear();
                let _ = free_tx.try_send(batch);
            }
            drop(batch_rx);
            (source.join().expect("source thread panicked"), interrupted)
        });
        tracker.finish(&mut counted);
        if let Some(h) = &http {
            h.channels.finish(&mut counted);
        }
        let complete = end.error.is_none() && !interrupted;
        let sessions = counted.counts();
        let mut end = end;
        if let Some(h) = &http {
            h.counts_into(&mut end.health.summary);
        }
        let mut outcome = finish_run(out, end, tracker.stats(), sessions, complete);
        outcome.interrupted = interrupted;
        outcome
    });
    Ok((outcome, sink))
}

/// How many packets ahead the tracking loop asks for a flow's state.
const PREFETCH_AHEAD: usize = 6;
/// How many packets ahead it asks for the decoder state of a flow whose
/// entry [`PREFETCH_AHEAD`] started loading.
const STATE_AHEAD: usize = 3;
/// The ring of slot hints (more than [`PREFETCH_AHEAD`], a power of two).
const HINTS: usize = 8;

/// How long the source thread naps when the queue to the tracking thread is
/// full (the tracking thread takes a batch every few hundred microseconds).
const FULL_QUEUE_NAP: std::time::Duration = std::time::Duration::from_micros(100);

/// Sends a batch, napping while the queue is full instead of blocking in
/// `send`. The source thread is the faster one and usually finds the queue
/// full; blocked, it had to be woken by the tracking thread at every batch
/// taken (a futex wake, on a VM an inter-processor interrupt: 1.5 % of the
/// run's samples, all on the busier thread). Napping, it wakes on its own
/// timer. False when the tracking thread has gone.
fn send_polling(tx: &SyncSender<Batch>, mut batch: Batch) -> bool {
    loop {
        match tx.try_send(batch) {
            Ok(()) => return true,
            Err(TrySendError::Full(b)) => {
                batch = b;
                std::thread::sleep(FULL_QUEUE_NAP);
            }
            Err(TrySendError::Disconnected(_)) => return false,
        }
    }
}

/// What the source thread keeps while it reads: the decoder, the
/// capture-health counters, and how to key and note packets.
struct SourceState {
    decoder: Decoder,
    health: Health,
    last_expiry: Timestamp,
    keyer: FlowKeyer,
    note: Option<fn(&[u8]) -> u64>,
    /// `-c N`: stop once this many packets passed the filter.
    max_packets: u64,
    /// Note each decoded packet's file offset (for a packet tap).
    offsets: bool,
}

impl SourceState {
    fn new(
        defrag: DefragLimits,
        keyer: FlowKeyer,
        note: Option<fn(&[u8]) -> u64>,
        max_packets: Option<u64>,
    ) -> Self {
        SourceState {
            decoder: Decoder::new(defrag),
            health: Health::default(),
            last_expiry: Timestamp(i64::MIN),
            keyer,
            note,
            max_packets: max_packets.unwrap_or(u64::MAX),
            offsets: false,
        }
    }

    /// Counts, decodes and keys one packet that passed the filter, adding it
    /// to `batch` (whose chunk holds its bytes at `raw_offset`). False once
    /// the packet limit is reached.
    #[inline(always)]
    fn take(&mut self, raw: &RawPacket<'_>, raw_offset: usize, batch: &mut Batch) -> bool {
        self.health.packet(raw);
        // Fragment timeouts run on capture time, once a second of it.
        if raw.ts.0 > self.last_expiry.0.saturating_add(1_000_000_000) {
            self.decoder.expire(raw.ts);
            self.last_expiry = raw.ts;
        }
        let decoded = self.decoder.decode(raw);
        self.health.decoded(raw, &decoded);
        if let Decoded::Packet(p) = decoded {
            let at = Locator {
                raw: raw.data,
                raw_offset,
            };
            batch.keys.push(self.keyer.key(&p));
            if let Some(note) = self.note {
                batch.notes.push(match &p.transport {
                    // The bytes the reassembler will be given.
                    Transport::Tcp(seg) if !seg.payload.is_empty() => note(seg.stream_bytes()),
                    _ => 0,
                });
            }
            batch
                .packets
                .push(PacketMeta::new(&p, &at, &mut batch.extra));
            if self.offsets {
                batch.offsets.push(raw.offset);
            }
        }
        self.health.summary.packets < self.max_packets
    }

    fn end(mut self, error: Option<ErrorRecord>) -> SourceEnd {
        self.decoder.finish();
        SourceEnd {
            health: self.health,
            defrag: self.decoder.defrag_stats(),
            error,
        }
    }
}

/// A batch with a fresh (or returned) chunk and room for its packets.
fn fresh_batch(free: Option<&Receiver<Batch>>, notes: bool) -> Batch {
    free.and_then(|f| f.try_recv().ok())
        .unwrap_or_else(|| Batch {
            chunk: vec![0; CHUNK],
            packets: Vec::with_capacity(PACKETS_PER_CHUNK),
            keys: Vec::with_capacity(PACKETS_PER_CHUNK),
            notes: Vec::with_capacity(if notes { PACKETS_PER_CHUNK } else { 0 }),
            ..Batch::default()
        })
}

/// The source thread: read, filter, decode, count; ship batches.
fn source_stage(
    mut reader: CaptureReader<Box<dyn Read + Send>>,
    mut filter: Option<BpfFilter>,
    mut state: SourceState,
    name: &str,
    tx: SyncSender<Batch>,
    free: Receiver<Batch>,
    stop: &AtomicBool,
) -> SourceEnd {
    state.health.summary.format = Some(reader.format().name().to_string());
    if let Some(f) = filter.as_mut() {
        f.set_file_big_endian(reader.big_endian());
    }
    let mut error = None;
    let mut batch = Batch::default();
    reader.set_chunked(true);
    let notes = state.note.is_some();
    let err_at = |offset: u64, message: String| ErrorRecord {
        file: name.to_string(),
        offset,
        message,
    };
    loop {
        match reader.next_step() {
            Err(e) => {
                error = Some(err_at(e.offset, e.kind.to_string()));
                break;
            }
            Ok(Next::End) => break,
            Ok(Next::NeedBuffer) => {
                // Asked once a chunk, not once a packet: the flag sits among
                // the tracking thread's busy locals, and reading it pulls
                // their cache line across cores.
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let mut next = fresh_batch(Some(&free), notes);
                batch.chunk = reader.swap_buffer(std::mem::take(&mut next.chunk));
                let full = std::mem::replace(&mut batch, next);
                if !send_polling(&tx, full) {
                    state.health.damaged(reader.damaged());
                    return state.end(error);
                }
            }
            Ok(Next::Packet(raw, raw_offset)) => {
                if let Some(f) = filter.as_mut() {
                    match f.matches(&raw) {
                        Ok(true) => {}
                        Ok(false) => {
                            state.health.summary.filtered_out += 1;
                            continue;
                        }
                        Err(e) => {
                            error = Some(err_at(raw.offset, e.to_string()));
                            break;
                        }
                    }
                }
                if !state.take(&raw, raw_offset, &mut batch) {
                    break;
                }
            }
        }
    }
    batch.chunk = reader.swap_buffer(Vec::new());
    let _ = tx.send(batch);
    state.health.damaged(reader.damaged());
    state.end(error)
}

/// One file of a merged read: its reader, its own filter (compiled for its
/// byte order and link types) and its next packet, copied out.
struct MergeInput {
    name: String,
    reader: CaptureReader<Box<dyn Read + Send>>,
    filter: Option<BpfFilter>,
    next: Option<HeldPacket>,
}

/// A packet taken out of its reader's buffer, waiting for its turn.
struct HeldPacket {
    ts: Timestamp,
    link: crate::source::LinkType,
    interface: u32,
    wire_len: u32,
    offset: u64,
    data: Vec<u8>,
}

impl MergeInput {
    /// Reads the next packet this file's filter lets through into `next`.
    fn advance(&mut self, health: &mut Health) -> Result<(), ErrorRecord> {
        let mut spare = self.next.take().map(|h| h.data).unwrap_or_default();
        loop {
            let raw = match self.reader.next_packet() {
                Ok(Some(raw)) => raw,
                Ok(None) => return Ok(()),
                Err(e) => {
                    return Err(ErrorRecord {
                        file: self.name.clone(),
                        offset: e.offset,
                        message: e.kind.to_string(),
                    })
                }
            };
            if let Some(f) = self.filter.as_mut() {
                match f.matches(&raw) {
                    Ok(true) => {}
                    Ok(false) => {
                        health.summary.filtered_out += 1;
                        continue;
                    }
                    Err(e) => {
                        return Err(ErrorRecord {
                            file: self.name.clone(),
                            offset: raw.offset,
                            message: e.to_string(),
                        })
                    }
                }
            }
            spare.clear();
            spare.extend_from_slice(raw.data);
            self.next = Some(HeldPacket {
                ts: raw.ts,
                link: raw.link,
                interface: raw.interface,
                wire_len: raw.wire_len,
                offset: raw.offset,
                data: spare,
            });
            return Ok(());
        }
    }
}

/// The source thread for several files read as one capture: packets are
/// taken in timestamp order (ties: the earlier file first) and copied into
/// the batch's chunk, where the rest of the pipeline finds them as if one
/// file had held them. The copy is this path's only cost; a single file
/// never takes it.
fn merged_source_stage(
    readers: Vec<(String, CaptureReader<Box<dyn Read + Send>>)>,
    filter: Option<&str>,
    mut state: SourceState,
    tx: SyncSender<Batch>,
    free: Receiver<Batch>,
    stop: &AtomicBool,
) -> SourceEnd {
    let mut formats: Vec<&'static str> = Vec::new();
    for (_, r) in &readers {
        if !formats.contains(&r.format().name()) {
            formats.push(r.format().name());
        }
    }
    state.health.summary.format = Some(formats.join("+"));
    let mut inputs: Vec<MergeInput> = readers
        .into_iter()
        .map(|(name, reader)| {
            // Compiled once already (its syntax checked): cannot fail now.
            let filter = filter
                .and_then(|expr| BpfFilter::new(expr).ok())
                .map(|mut f| {
                    f.set_file_big_endian(reader.big_endian());
                    f
                });
            MergeInput {
                name,
                reader,
                filter,
                next: None,
            }
        })
        .collect();
    let notes = state.note.is_some();
    let mut error = None;
    for input in &mut inputs {
        if let Err(e) = input.advance(&mut state.health) {
            error = Some(e);
            break;
        }
    }
    let mut batch = fresh_batch(None, notes);
    let mut used = 0;
    while error.is_none() {
        let Some(i) = inputs
            .iter()
            .enumerate()
            .filter_map(|(i, m)| m.next.as_ref().map(|h| (h.ts, i)))
            .min()
            .map(|(_, i)| i)
        else {
            break;
        };
        let held = inputs[i].next.as_ref().expect("chosen input has a packet");
        if used + held.data.len() > batch.chunk.len() {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            let mut next = fresh_batch(Some(&free), notes);
            if next.chunk.len() < held.data.len() {
                next.chunk.resize(held.data.len(), 0);
            }
            let full = std::mem::replace(&mut batch, next);
            if !send_polling(&tx, full) {
                return state.end(None);
            }
            used = 0;
        }
        let len = held.data.len();
        // The batch's vectors grow while its chunk is borrowed by `raw`.
        let mut chunk = std::mem::take(&mut batch.chunk);
        chunk[used..used + len].copy_from_slice(&held.data);
        let raw = RawPacket {
            ts: held.ts,
            link: held.link,
            interface: held.interface,
            wire_len: held.wire_len,
            data: &chunk[used..used + len],
            offset: held.offset,
        };
        let more = state.take(&raw, used, &mut batch);
        batch.chunk = chunk;
        used += len;
        if !more {
            break;
        }
        if let Err(e) = inputs[i].advance(&mut state.health) {
            error = Some(e);
        }
    }
    let _ = tx.send(batch);
    for input in &inputs {
        state.health.damaged(input.reader.damaged());
    }
    state.end(error)
}

fn finish_run<S: RecordSink>(
    sink: &mut S,
    end: SourceEnd,
    track: TrackStats,
    sessions: SessionCounts,
    complete: bool,
) -> ReplayOutcome {
    let summary = end.health.finish(end.defrag, track, sessions, complete);
    if let Some(e) = &end.error {
        sink.record(Record::Error(e.clone()));
    }
    sink.record(Record::Summary(Box::new(summary.clone())));
    ReplayOutcome {
        summary,
        error: end.error,
        interrupted: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::WsConfig;

    /// Keeps what it is given, and says it only wants the run's records.
    #[derive(Default)]
    struct RunOnly(Vec<Record>);

    impl RecordSink for RunOnly {
        fn record(&mut self, r: Record) {
            self.0.push(r);
        }
    }

    impl StoppableSink for RunOnly {
        fn wants(&self) -> Wants {
            Wants::RunOnly
        }
    }

    /// Keeps what it is given, and says which types it wants.
    struct Picky(Vec<Record>, RecordTypes);

    impl RecordSink for Picky {
        fn record(&mut self, r: Record) {
            self.0.push(r);
        }
    }

    impl StoppableSink for Picky {
        fn wants(&self) -> Wants {
            Wants::Types(self.1)
        }
    }

    /// A sink that wants some types gets those and the run's own, the same
    /// ones a sink taking everything gets; the others are not built.
    #[test]
    fn a_sink_gets_the_types_it_wants() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/captures/ws-plain.pcap");
        let cfg = ReplayConfig::new(Input::Path(path.into()));
        let (all_out, all) = replay(&cfg, Vec::new()).unwrap();
        for want in [
            &["tcp_conn"][..],
            &["tcp_event", "ws_session"],
            &["udp_flow"],
        ] {
            let types = want.iter().fold(RecordTypes::default(), |t, n| t.with(n));
            let (out, some) = replay(&cfg, Picky(Vec::new(), types)).unwrap();
            let kept = |r: &&Record| types.contains(r) || RecordTypes::RUN.contains(r);
            let expected: Vec<String> = all.iter().filter(kept).map(|r| format!("{r:?}")).collect();
            let got: Vec<String> = some.0.iter().map(|r| format!("{r:?}")).collect();
            assert_eq!(got, expected, "{want:?}");
            assert_eq!(out.summary.tcp_conns, all_out.summary.tcp_conns);
            assert_eq!(out.summary.ws_messages, all_out.summary.ws_messages);
        }
        assert!(all.iter().any(|r| matches!(r, Record::TcpConn(_))));
        assert!(all.iter().any(|r| matches!(r, Record::TcpEvent(_))));
    }

    /// A sink that wants only the run's records gets only those, with a
    /// summary that still counts every connection and WebSocket session.
    #[test]
    fn unwanted_records_stay_behind_but_are_counted() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/captures/ws-plain.pcap");
        for events in [true, false] {
            let mut cfg = ReplayConfig::new(Input::Path(path.into()));
            cfg.ws = Some(WsConfig {
                events,
                ..WsConfig::default()
            });
            let (all, every) = replay(&cfg, Vec::new()).unwrap();
            let (some, run) = replay(&cfg, RunOnly::default()).unwrap();
            assert!(every.len() > 10, "{} records", every.len());
            let kinds: Vec<&str> = run
                .0
                .iter()
                .map(|r| match r {
                    Record::Meta(_) => "meta",
                    Record::Summary(_) => "summary",
                    _ => "other",
                })
                .collect();
            assert_eq!(kinds, ["meta", "summary"]);
            let (a, s) = (all.summary, some.summary);
            assert!(a.ws_sessions > 0 && a.ws_messages > 0 && a.tcp_conns > 0);
            assert_eq!(
                (
                    a.tcp_conns,
                    a.udp_flows,
                    a.ws_sessions,
                    a.ws_frames,
                    a.ws_messages
                ),
                (
                    s.tcp_conns,
                    s.udp_flows,
                    s.ws_sessions,
                    s.ws_frames,
                    s.ws_messages
                )
            );
        }
    }
}
