//! `sockscope capture`: packets from a live AF_PACKET socket, through
//! libpcap (TPACKET_V3 ring, kernel timestamps at nanosecond precision, the
//! BPF filter attached to the socket in the kernel, PACKET_STATISTICS), into
//! the same decode → track → records steps as replay.
//!
//! Socket kinds: an interface is opened RAW (link-layer frames); `any`, and
//! any interface with `--cooked`, are opened as libpcap's `any` device,
//! which is a SOCK_DGRAM packet socket (link header removed, LINUX_SLL2
//! pseudo-header) — restricted to one interface by the kernel filter
//! `ifindex N`.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::time::{Duration, Instant};

use crate::decode::defrag::DefragLimits;
use crate::decode::{Decoded, Decoder};
use crate::event::{CaptureStats, ErrorRecord, FlushSink, Record, RecordSink};
use crate::pipeline::RawBatch;
use crate::proto::{stream_detector, HttpConfig, HttpOptions, WsConfig};
use crate::replay::{meta, Counted, Health, Wants};
use crate::source::write::{FileFormat, PacketWriter};
use crate::source::{LinkType, RawPacket};
use crate::time::Timestamp;
use crate::track::{FlowKeyer, TrackConfig, Tracker};

/// The largest snaplen, and the default (libpcap's and tcpdump's
/// MAXIMUM_SNAPLEN): whole packets, 64 KiB loopback frames included.
pub const MAX_SNAPLEN: u32 = 262_144;

/// The largest kernel ring `-B` accepts, in MiB. The ring is kernel memory
/// that cannot be swapped, allocated and touched when the socket opens (on
/// the test VM 1 GiB took a second to set up, 2 GiB two); 1 GiB holds
/// almost a second of a saturated 10 Gb/s link, and a decoder slower than
/// the traffic for longer than its ring holds drops however large the ring
/// is. libpcap's own limit is 2 GiB less a byte (an `int` of bytes).
pub const MAX_BUFFER_MIB: u32 = 1024;

/// Where recorded packets go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteTo {
    File(PathBuf),
    Stdout,
}

/// Everything `capture` needs.
#[derive(Clone, Debug)]
pub struct CaptureConfig {
    /// An interface name, or `any`.
    pub interface: String,
    pub filter: Option<String>,
    /// Open a SOCK_DGRAM (cooked) socket even on an interface with a link
    /// header.
    pub cooked: bool,
    pub snaplen: u32,
    pub promisc: bool,
    /// Bytes of kernel ring (libpcap's buffer size).
    pub buffer_bytes: u32,
    /// Stop after this many packets (after the filter).
    pub count: Option<u64>,
    pub duration: Option<Duration>,
    pub write: Option<WriteTo>,
    /// Start a new `-w` file when this many bytes are written (`-C`).
    pub rotate_bytes: Option<u64>,
    /// Start a new `-w` file every so often (`-G`).
    pub rotate_every: Option<Duration>,
    /// Switch to this user once the socket is open (None: keep privileges).
    pub run_as: Option<String>,
    pub track: TrackConfig,
    pub defrag: DefragLimits,
    pub ws: Option<WsConfig>,
    pub http: Option<HttpOptions>,
}

/// Why a capture could not start; each says what to do.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error(
        "capturing on {iface} needs CAP_NET_RAW (and CAP_NET_ADMIN for promiscuous mode): run as root, or grant them once with `sudo setcap cap_net_raw,cap_net_admin=eip $(which sockscope)` ({detail})"
    )]
    Permission { iface: String, detail: String },
    #[error("no interface named `{name}`; there are: {}", available.join(", "))]
    NoSuchInterface {
        name: String,
        available: Vec<String>,
    },
    #[error("bad filter `{filter}`: {detail}")]
    Filter { filter: String, detail: String },
    #[error("opening {iface}: {detail}")]
    Open { iface: String, detail: String },
    #[error("{what}: {err}")]
    Write { what: String, err: io::Error },
    #[error("dropping privileges: {0}")]
    Privileges(String),
    #[error("{0}")]
    Config(String),
}

/// How a capture ended.
#[derive(Debug)]
pub struct CaptureOutcome {
    pub stats: CaptureStats,
    /// Reading failed mid-capture (the interface went away…).
    pub error: Option<String>,
    /// What dropping privileges did.
    pub privileges: Option<String>,
    /// The `-w` files written (several when rotated).
    pub files: Vec<PathBuf>,
}

/// An open capture, privileges already dropped.
pub struct LiveCapture {
    cap: pcap::Capture<pcap::Active>,
    link: LinkType,
    socket: &'static str,
    recording: Option<Recording>,
    privileges: Option<String>,
}

fn interface_names() -> Vec<String> {
    let mut names: Vec<String> = pcap::Device::list()
        .map(|l| l.into_iter().map(|d| d.name).collect())
        .unwrap_or_default();
    if !names.iter().any(|n| n == "any") {
        names.push("any".into());
    }
    names
}

/// The interface's index, for the `ifindex` filter of a cooked capture.
fn ifindex(iface: &str) -> Option<u32> {
    std::fs::read_to_string(format!("/sys/class/net/{iface}/ifindex"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

fn pcap_error(iface: &str, e: pcap::Error) -> CaptureError {
    let detail = e.to_string();
    let lower = detail.to_ascii_lowercase();
    if lower.contains("permission") || lower.contains("not permitted") {
        CaptureError::Permission {
            iface: iface.to_string(),
            detail,
        }
    } else if lower.contains("no such device") || lower.contains("doesn't exist") {
        CaptureError::NoSuchInterface {
            name: iface.to_string(),
            available: interface_names(),
        }
    } else {
        CaptureError::Open {
            iface: iface.to_string(),
            detail,
        }
    }
}

/// Opens the socket, attaches the filter, opens the output file, then drops
/// privileges — all before any packet is read.
pub fn open(cfg: &CaptureConfig) -> Result<LiveCapture, CaptureError> {
    if !(1..=MAX_SNAPLEN).contains(&cfg.snaplen) {
        return Err(CaptureError::Config(format!(
            "snaplen {} is out of range: 1 to {MAX_SNAPLEN} bytes",
            cfg.snaplen
        )));
    }
    if !(1..=MAX_BUFFER_MIB << 20).contains(&cfg.buffer_bytes) {
        return Err(CaptureError::Config(format!(
            "a kernel ring of {} bytes is out of range: 1 byte to {MAX_BUFFER_MIB} MiB",
            cfg.buffer_bytes
        )));
    }
    let iface = cfg.interface.as_str();
    let cooked = cfg.cooked || iface == "any";
    if iface != "any" && !interface_names().iter().any(|n| n == iface) {
        return Err(CaptureError::NoSuchInterface {
            name: iface.to_string(),
            available: interface_names(),
        });
    }
    let device = if cooked { "any" } else { iface };
    let inactive = pcap::Capture::from_device(device)
        .map_err(|e| pcap_error(iface, e))?
        .promisc(cfg.promisc && !cooked)
        .snaplen(cfg.snaplen as i32)
        // Not immediate mode: TPACKET_V3 then hands over full ring blocks
        // (or, when traffic is light, whatever a block holds after 20 ms).
        // Immediate mode retires a block per packet or millisecond and so
        // uses the ring by block count, not bytes: with it sockscope
        // dropped at 50 000 packets/s where tcpdump -w did not.
        .immediate_mode(false)
        .timeout(20)
        .buffer_size(cfg.buffer_bytes as i32)
        .precision(pcap::Precision::Nano);
    // Non-blocking, waited on with poll(2): in immediate mode libpcap's read
    // timeout does not wake a blocked read, and a capture must notice
    // Ctrl-C, --duration and quiet moments.
    let mut cap = inactive
        .open()
        .map_err(|e| pcap_error(iface, e))?
        .setnonblock()
        .map_err(|e| pcap_error(iface, e))?;
    if cooked {
        // SLL2 carries the interface index (and makes `ifindex` filters
        // possible); older libpcap offers only SLL.
        let sll2 = pcap::Linktype(LinkType::LINUX_SLL2.0 as i32);
        if cap.list_datalinks().is_ok_and(|l| l.contains(&sll2)) {
            let _ = cap.set_datalink(sll2);
        }
    }
    let mut filter = cfg.filter.clone().filter(|f| !f.trim().is_empty());
    if cooked && iface != "any" {
        let n = ifindex(iface).ok_or_else(|| CaptureError::NoSuchInterface {
            name: iface.to_string(),
            available: interface_names(),
        })?;
        filter = Some(match filter {
            Some(f) => format!("ifindex {n} and ({f})"),
            None => format!("ifindex {n}"),
        });
    }
    if let Some(f) = &filter {
        cap.filter(f, true).map_err(|e| CaptureError::Filter {
            filter: f.clone(),
            detail: e.to_string(),
        })?;
    }
    // libpcap reports DLT values; LINKTYPE differs only for RAW.
    let link = match cap.get_datalink().0 {
        12 | 14 => LinkType::RAW,
        n => LinkType(n as u32),
    };
    let recording = match &cfg.write {
        None => None,
        Some(to) => Some(Recording::open(cfg, to, link)?),
    };
    let privileges = match &cfg.run_as {
        Some(user) => Some(crate::privileges::drop_to(user).map_err(CaptureError::Privileges)?),
        None => None,
    };
    Ok(LiveCapture {
        cap,
        link,
        socket: if cooked { "dgram" } else { "raw" },
        recording,
        privileges,
    })
}

impl LiveCapture {
    pub fn link_type(&self) -> LinkType {
        self.link
    }

    /// `raw` or `dgram`.
    pub fn socket_kind(&self) -> &'static str {
        self.socket
    }

    /// What dropping privileges did (None: kept, as asked).
    pub fn privileges(&self) -> Option<&str> {
        self.privileges.as_deref()
    }
}

/// The name of the `n`th file of a rotated recording: `cap.pcapng`,
/// `cap-1.pcapng`, `cap-2.pcapng`… (the extension kept, so pcapng stays
/// pcapng).
pub fn rotated_name(path: &std::path::Path, n: u32) -> PathBuf {
    if n == 0 {
        return path.to_path_buf();
    }
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = match path.extension() {
        Some(ext) => format!("{stem}-{n}.{}", ext.to_string_lossy()),
        None => format!("{stem}-{n}"),
    };
    path.with_file_name(name)
}

fn open_writer(
    to: &WriteTo,
    n: u32,
    link: LinkType,
    snaplen: u32,
    iface: &str,
) -> Result<PacketWriter<Box<dyn Write + Send>>, CaptureError> {
    let (out, format, what): (Box<dyn Write + Send>, _, String) = match to {
        WriteTo::Stdout => (
            Box::new(io::stdout()),
            FileFormat::Pcap,
            "standard output".into(),
        ),
        WriteTo::File(base) => {
            let p = rotated_name(base, n);
            let f = File::create(&p).map_err(|err| CaptureError::Write {
                what: format!("creating {}", p.display()),
                err,
            })?;
            (
                Box::new(BufWriter::with_capacity(1 << 16, f)),
                FileFormat::for_name(&p.to_string_lossy()),
                p.display().to_string(),
            )
        }
    };
    PacketWriter::new(out, format, link, snaplen, iface)
        .map_err(|err| CaptureError::Write { what, err })
}

/// Progress for a status line.
#[derive(Clone, Copy, Debug, Default)]
pub struct Progress {
    pub captured: u64,
    pub kernel_drops: u64,
    pub interface_drops: u64,
}

/// The `-w` output: the file being written, its rotation (`-C`, `-G`), and
/// the files really created so far.
struct Recording {
    writer: PacketWriter<Box<dyn Write + Send>>,
    to: WriteTo,
    link: LinkType,
    snaplen: u32,
    interface: String,
    rotate_bytes: Option<u64>,
    rotate_every: Option<Duration>,
    opened: Instant,
    /// Every file created, in order (empty for standard output).
    files: Vec<PathBuf>,
}

impl Recording {
    /// Creates the first file (or starts writing standard output).
    fn open(cfg: &CaptureConfig, to: &WriteTo, link: LinkType) -> Result<Self, CaptureError> {
        let writer = open_writer(to, 0, link, cfg.snaplen, &cfg.interface)?;
        Ok(Recording {
            writer,
            to: to.clone(),
            link,
            snaplen: cfg.snaplen,
            interface: cfg.interface.clone(),
            rotate_bytes: cfg.rotate_bytes,
            rotate_every: cfg.rotate_every,
            opened: Instant::now(),
            files: match to {
                WriteTo::File(p) => vec![rotated_name(p, 0)],
                WriteTo::Stdout => Vec::new(),
            },
        })
    }

    /// Writes a packet, then starts the next file when this one is full or
    /// old enough (after a whole packet, so each file is valid alone). An
    /// error ends the recording; the files listed are those created.
    fn packet(&mut self, ts: Timestamp, wire_len: u32, data: &[u8]) -> Result<(), String> {
        self.writer
            .packet(ts, wire_len, data)
            .map_err(|e| format!("writing packets to {}: {e}", self.current()))?;
        let full = self.rotate_bytes.is_some_and(|b| self.writer.written >= b);
        let due = self
            .rotate_every
            .is_some_and(|d| self.opened.elapsed() >= d);
        if (full || due) && matches!(self.to, WriteTo::File(_)) {
            self.flush()?;
            let n = self.files.len() as u32;
            let next = open_writer(&self.to, n, self.link, self.snaplen, &self.interface).map_err(
                |e| {
                    format!(
                        "{} cannot start its next file: {}",
                        if full { "-C" } else { "-G" },
                        plain_error(&e)
                    )
                },
            )?;
            self.writer = next;
            if let WriteTo::File(p) = &self.to {
                self.files.push(rotated_name(p, n));
            }
            self.opened = Instant::now();
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), String> {
        self.writer
            .flush()
            .map_err(|e| format!("writing packets to {}: {e}", self.current()))
    }

    /// The file being written, for messages.
    fn current(&self) -> String {
        match self.files.last() {
            Some(p) => p.display().to_string(),
            None => "standard output".into(),
        }
    }
}

/// An error's message without the "(os error N)" std adds.
fn plain_error(e: &CaptureError) -> String {
    let s = e.to_string();
    match s.rfind(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// Bytes of packets per batch from the ring reader to decoding: at least
/// the largest snaplen, so any packet fits an empty batch.
const RING_BATCH_BYTES: usize = 2 * MAX_SNAPLEN as usize;
/// Packets per batch at most (and the metadata vector's starting size).
const RING_BATCH_PACKETS: usize = 8192;
/// How long packets wait in the reader's batch, when decoding is busy,
/// for more to fill it (when decoding is waiting, they go at once).
const RING_HOLD: Duration = Duration::from_millis(20);
/// Batches in flight to decoding: up to 4 MiB of packets waiting beside the
/// kernel's ring. Past that the reader waits, the ring fills, and the
/// kernel drops and counts, as it does for any reader too slow for the
/// traffic.
const RING_QUEUE: usize = 8;

/// What the ring reader hands to decoding.
struct LiveBatch {
    raw: RawBatch,
    /// The ring was empty when this was sent: a quiet moment to write out.
    idle: bool,
    /// The socket's counters (received, dropped, dropped by the interface),
    /// taken about once a second, for the status line.
    kernel: Option<pcap::Stat>,
}

/// How the ring reader ended.
struct ReaderEnd {
    kernel: Option<pcap::Stat>,
    error: Option<String>,
}

/// The ring reader's thread: takes packets out of the kernel's ring as
/// soon as they are there, copies them into batches and hands those to
/// decoding, until `cfg`'s count or duration, `stop`, `halt` (decoding
/// ended), or an error. Copying out returns each ring block to the kernel
/// at once, whatever decoding is doing (when both shared a thread, a 2 MiB
/// ring overflowed while a burst was being decoded).
fn read_ring(
    mut cap: pcap::Capture<pcap::Active>,
    cfg: &CaptureConfig,
    stop: &AtomicBool,
    halt: &AtomicBool,
    queued: &AtomicUsize,
    tx: SyncSender<LiveBatch>,
    free: Receiver<LiveBatch>,
) -> ReaderEnd {
    let fresh = || {
        free.try_recv().unwrap_or_else(|_| LiveBatch {
            raw: RawBatch::new(RING_BATCH_BYTES, RING_BATCH_PACKETS),
            idle: false,
            kernel: None,
        })
    };
    let started = Instant::now();
    let limit = cfg.count.unwrap_or(u64::MAX);
    let mut read = 0u64;
    let mut last_stats = Instant::now();
    let mut batch = fresh();
    // When the batch being filled got its first packet.
    let mut first_at = Instant::now();
    let mut error = None;
    let over = |read: u64| {
        read >= limit
            || stop.load(Ordering::Relaxed)
            || halt.load(Ordering::Relaxed)
            || cfg.duration.is_some_and(|d| started.elapsed() >= d)
    };
    // Hands a batch over (waiting while RING_QUEUE are queued); false when
    // decoding has gone.
    let send = |full: LiveBatch| {
        queued.fetch_add(1, Ordering::Relaxed);
        tx.send(full).is_ok()
    };
    'read: while !over(read) {
        // Packets as long as the ring has them; the clock and the flags
        // are looked at between bursts and every 1024 packets.
        for _ in 0..1024 {
            match cap.next_packet() {
                Ok(pkt) => {
                    let h = *pkt.header;
                    let ts = Timestamp::from_parts(
                        // time_t is i64 on 64-bit Linux, i32 on some 32-bit ABIs.
                        #[allow(clippy::useless_conversion)]
                        i64::from(h.ts.tv_sec),
                        (h.ts.tv_usec as u64).min(999_999_999),
                        1_000_000_000,
                    );
                    if batch.raw.is_empty() {
                        first_at = Instant::now();
                    }
                    if !batch.raw.push(ts, h.len, pkt.data) {
                        let mut next = fresh();
                        // Fits: a batch holds the largest snaplen.
                        next.raw.push(ts, h.len, pkt.data);
                        first_at = Instant::now();
                        if !send(std::mem::replace(&mut batch, next)) {
                            break 'read;
                        }
                    }
                    read += 1;
                    if batch.raw.packets.len() >= RING_BATCH_PACKETS
                        && !send(std::mem::replace(&mut batch, fresh()))
                    {
                        break 'read;
                    }
                    if read >= limit {
                        break 'read;
                    }
                }
                // The ring is empty. Hand over what there is when decoding
                // waits for it, or it has waited RING_HOLD; while decoding
                // is busy, keep filling the batch instead (a queue slot
                // spent on a few packets would shorten the queue). Then
                // sleep until there are packets, the batch is due, or 50 ms
                // pass.
                Err(pcap::Error::TimeoutExpired) => {
                    if last_stats.elapsed() >= Duration::from_secs(1) {
                        batch.kernel = cap.stats().ok();
                        last_stats = Instant::now();
                    }
                    let waited = first_at.elapsed();
                    let due = !batch.raw.is_empty()
                        && (queued.load(Ordering::Relaxed) == 0 || waited >= RING_HOLD);
                    let mut sleep = Duration::from_millis(50);
                    if due || (batch.raw.is_empty() && batch.kernel.is_some()) {
                        batch.idle = true;
                        if !send(std::mem::replace(&mut batch, fresh())) {
                            break 'read;
                        }
                    } else if !batch.raw.is_empty() {
                        sleep = RING_HOLD.saturating_sub(waited);
                    }
                    wait_readable(&cap, (sleep.as_millis() as i32).max(1));
                    break;
                }
                Err(e) => {
                    error = Some(format!("reading from {}: {e}", cfg.interface));
                    break 'read;
                }
            }
        }
    }
    if !batch.raw.is_empty() {
        batch.idle = true;
        let _ = send(batch);
    }
    ReaderEnd {
        kernel: cap.stats().ok(),
        error,
    }
}

/// Reads packets until `cfg`'s count or duration, `stop`, or an error; then
/// ends every flow and writes `capture_stats` and `summary`. The ring is
/// read on a thread of its own ([`read_ring`]); packets are written to the
/// `-w` file, decoded and tracked on this one.
pub fn run<S: FlushSink>(
    live: LiveCapture,
    cfg: &CaptureConfig,
    sink: &mut S,
    stop: &AtomicBool,
    mut status: impl FnMut(Progress),
) -> CaptureOutcome {
    // The same counting sink as replay's, so the summary counts what a
    // replay of the recording counts.
    let sink = &mut Counted::new(sink, Wants::All);
    sink.record(Record::Meta(meta(
        "capture",
        Some(cfg.interface.clone()),
        cfg.filter.clone(),
    )));
    let LiveCapture {
        cap,
        link,
        socket,
        mut recording,
        privileges,
    } = live;
    let keyer = FlowKeyer::new(cfg.track.key_by_vlan);
    let mut tracker = Tracker::with_keyer(cfg.track, keyer.clone());
    let http = cfg.http.map(HttpConfig::from);
    if let Some(d) = stream_detector(cfg.ws, http.clone()) {
        tracker.set_detector(d);
    }
    let mut decoder = Decoder::new(cfg.defrag);
    let mut health = Health::default();
    health.summary.format = Some("live".to_string());
    let started = Instant::now();
    let mut last_flush = Instant::now();
    let mut last_expiry = Timestamp(i64::MIN);
    let mut captured = 0u64;
    let mut error = None;
    let mut dirty = false;
    let halt = AtomicBool::new(false);
    let queued = AtomicUsize::new(0);
    let (tx, rx) = sync_channel::<LiveBatch>(RING_QUEUE);
    let (free_tx, free_rx) = sync_channel::<LiveBatch>(RING_QUEUE + 2);
    let reader_end = std::thread::scope(|scope| {
        let reader = std::thread::Builder::new()
            .name("ring reader".into())
            .spawn_scoped(scope, || {
                read_ring(cap, cfg, stop, &halt, &queued, tx, free_rx)
            })
            .expect("starting the ring reader thread");
        'batches: while let Ok(mut batch) = rx.recv() {
            queued.fetch_sub(1, Ordering::Relaxed);
            for m in &batch.raw.packets {
                let data = batch.raw.data(m);
                captured += 1;
                if let Some(r) = recording.as_mut() {
                    if let Err(e) = r.packet(m.ts, m.wire_len, data) {
                        error = Some(e);
                        break 'batches;
                    }
                }
                let raw = RawPacket {
                    ts: m.ts,
                    link,
                    interface: 0,
                    wire_len: m.wire_len,
                    data,
                    offset: captured,
                };
                health.packet(&raw);
                if raw.ts.0 > last_expiry.0.saturating_add(1_000_000_000) {
                    decoder.expire(raw.ts);
                    last_expiry = raw.ts;
                }
                let decoded = decoder.decode(&raw);
                health.decoded(&raw, &decoded);
                if let Decoded::Packet(p) = decoded {
                    let k = keyer.key(&p);
                    tracker.packet_keyed(&p, &k, sink);
                }
                dirty = true;
            }
            // Busy: write out every 50 ms; quiet: at once.
            if dirty && (batch.idle || last_flush.elapsed() >= Duration::from_millis(50)) {
                sink.flush();
                if let Some(Err(e)) = recording.as_mut().map(Recording::flush) {
                    error = Some(e);
                    break;
                }
                last_flush = Instant::now();
                dirty = false;
            }
            if let Some(s) = batch.kernel.take() {
                status(Progress {
                    captured,
                    kernel_drops: u64::from(s.dropped),
                    interface_drops: u64::from(s.if_dropped),
                });
            }
            batch.raw.clear();
            let _ = free_tx.try_send(batch);
        }
        // Decoding stopped early (an error): the reader stops too.
        halt.store(true, Ordering::Relaxed);
        drop(rx);
        reader.join().expect("ring reader thread panicked")
    });
    let s = reader_end.kernel;
    if error.is_none() {
        error = reader_end.error;
    }
    if let Some(Err(e)) = recording.as_mut().map(Recording::flush) {
        error.get_or_insert(e);
    }
    decoder.finish();
    tracker.finish(sink);
    if let Some(h) = &http {
        h.channels.finish(sink);
    }
    let stats = CaptureStats {
        interface: cfg.interface.clone(),
        socket,
        link_type: link.label(),
        snaplen: cfg.snaplen,
        captured,
        received: s.map_or(0, |s| u64::from(s.received)),
        kernel_drops: s.map_or(0, |s| u64::from(s.dropped)),
        interface_drops: s.map_or(0, |s| u64::from(s.if_dropped)),
        duration: started.elapsed().as_secs_f64(),
    };
    if let Some(e) = &error {
        sink.record(Record::Error(ErrorRecord {
            file: cfg.interface.clone(),
            offset: captured,
            message: e.clone(),
        }));
    }
    sink.record(Record::CaptureStats(Box::new(stats.clone())));
    if let Some(h) = &http {
        h.counts_into(&mut health.summary);
    }
    let summary = health.finish(
        decoder.defrag_stats(),
        tracker.stats(),
        sink.counts(),
        error.is_none(),
    );
    sink.record(Record::Summary(Box::new(summary)));
    sink.flush();
    CaptureOutcome {
        stats,
        error,
        privileges,
        files: recording.map(|r| r.files).unwrap_or_default(),
    }
}

/// Waits until the socket has packets, a signal arrives, or `ms` pass.
#[allow(unsafe_code)]
fn wait_readable(cap: &pcap::Capture<pcap::Active>, ms: i32) {
    use std::os::fd::AsRawFd;
    let mut fds = libc::pollfd {
        fd: cap.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd for the socket this capture owns; the
    // result (ready, timeout or EINTR) needs no handling: the caller reads
    // again either way.
    unsafe { libc::poll(&mut fds, 1, ms) };
}

/// One interface for `--list-interfaces`.
#[derive(Clone, Debug)]
pub struct InterfaceInfo {
    pub name: String,
    pub index: Option<u32>,
    pub link_type: String,
    pub flags: Vec<&'static str>,
    pub addresses: Vec<String>,
}

/// The interfaces libpcap can open, with their addresses, flags and link
/// type (from the kernel's ARPHRD type in /sys/class/net).
pub fn interfaces() -> Vec<InterfaceInfo> {
    let devices = pcap::Device::list().unwrap_or_default();
    devices
        .into_iter()
        .map(|d| {
            let arphrd = std::fs::read_to_string(format!("/sys/class/net/{}/type", d.name))
                .ok()
                .and_then(|t| t.trim().parse::<u32>().ok());
            let link_type = match (d.name.as_str(), arphrd) {
                ("any", _) => "LINUX_SLL2 (cooked, every interface)".to_string(),
                (_, Some(1)) => "ETHERNET".into(),
                (_, Some(772)) => "ETHERNET (loopback)".into(),
                (_, Some(65534)) => "RAW (no link header: cooked)".into(),
                (_, Some(512)) => "PPP".into(),
                (_, Some(n)) => format!("ARPHRD {n}"),
                (_, None) => "-".into(),
            };
            let mut flags = Vec::new();
            if d.flags.is_up() {
                flags.push("up");
            }
            if d.flags.is_running() {
                flags.push("running");
            }
            if d.flags.is_loopback() {
                flags.push("loopback");
            }
            if d.flags.is_wireless() {
                flags.push("wireless");
            }
            let addresses = d
                .addresses
                .iter()
                .map(|a| match a.netmask {
                    Some(m) => format!("{}/{}", a.addr, prefix_len(m)),
                    None => a.addr.to_string(),
                })
                .collect();
            InterfaceInfo {
                index: ifindex(&d.name),
                name: d.name,
                link_type,
                flags,
                addresses,
            }
        })
        .collect()
}

fn prefix_len(mask: std::net::IpAddr) -> u32 {
    match mask {
        std::net::IpAddr::V4(m) => u32::from(m).count_ones(),
        std::net::IpAddr::V6(m) => u128::from(m).count_ones(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotated_names_keep_the_extension() {
        let p = std::path::Path::new("/tmp/lo.pcapng");
        assert_eq!(rotated_name(p, 0), PathBuf::from("/tmp/lo.pcapng"));
        assert_eq!(rotated_name(p, 2), PathBuf::from("/tmp/lo-2.pcapng"));
        assert_eq!(
            rotated_name(std::path::Path::new("cap"), 1),
            PathBuf::from("cap-1")
        );
    }
}
