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
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::decode::defrag::DefragLimits;
use crate::decode::{Decoded, Decoder};
use crate::event::{CaptureStats, ErrorRecord, FlushSink, Record, RecordSink};
use crate::proto::{stream_detector, WsConfig};
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
    writer: Option<PacketWriter<Box<dyn Write + Send>>>,
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
    let writer = match &cfg.write {
        None => None,
        Some(to) => Some(open_writer(to, 0, link, cfg.snaplen, iface)?),
    };
    let privileges = match &cfg.run_as {
        Some(user) => Some(crate::privileges::drop_to(user).map_err(CaptureError::Privileges)?),
        None => None,
    };
    Ok(LiveCapture {
        cap,
        link,
        socket: if cooked { "dgram" } else { "raw" },
        writer,
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

/// Reads packets until `cfg`'s count or duration, `stop`, or an error; then
/// ends every flow and writes `capture_stats` and `summary`.
pub fn run<S: FlushSink>(
    mut live: LiveCapture,
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
    let keyer = FlowKeyer::new(cfg.track.key_by_vlan);
    let mut tracker = Tracker::with_keyer(cfg.track, keyer.clone());
    if let Some(ws) = cfg.ws {
        tracker.set_detector(stream_detector(ws));
    }
    let mut decoder = Decoder::new(cfg.defrag);
    let mut health = Health::default();
    health.summary.format = Some("live".to_string());
    let started = Instant::now();
    let mut last_flush = Instant::now();
    let mut last_status = Instant::now();
    let mut last_expiry = Timestamp(i64::MIN);
    let mut captured = 0u64;
    let mut error = None;
    let mut dirty = false;
    let mut files = 0u32;
    let mut file_opened = Instant::now();
    loop {
        if stop.load(Ordering::Relaxed)
            || cfg.count.is_some_and(|n| captured >= n)
            || cfg.duration.is_some_and(|d| started.elapsed() >= d)
        {
            break;
        }
        let mut idle = false;
        match live.cap.next_packet() {
            Ok(pkt) => {
                captured += 1;
                let h = pkt.header;
                let ts = Timestamp::from_parts(
                    // time_t is i64 on 64-bit Linux, i32 on some 32-bit ABIs.
                    #[allow(clippy::useless_conversion)]
                    i64::from(h.ts.tv_sec),
                    (h.ts.tv_usec as u64).min(999_999_999),
                    1_000_000_000,
                );
                if let Some(w) = live.writer.as_mut() {
                    if let Err(e) = w.packet(ts, h.len, pkt.data) {
                        error = Some(format!("writing packets: {e}"));
                        break;
                    }
                }
                // Rotation: after a whole packet, so each file is valid alone.
                if let (Some(w), Some(to)) = (live.writer.as_mut(), &cfg.write) {
                    let full = cfg.rotate_bytes.is_some_and(|b| w.written >= b);
                    let due = cfg.rotate_every.is_some_and(|d| file_opened.elapsed() >= d);
                    if full || due {
                        if let Err(e) = w.flush() {
                            error = Some(format!("writing packets: {e}"));
                            break;
                        }
                        files += 1;
                        match open_writer(to, files, live.link, cfg.snaplen, &cfg.interface) {
                            Ok(next) => *w = next,
                            Err(e) => {
                                error = Some(e.to_string());
                                break;
                            }
                        }
                        file_opened = Instant::now();
                    }
                }
                let raw = RawPacket {
                    ts,
                    link: live.link,
                    interface: 0,
                    wire_len: h.len,
                    data: pkt.data,
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
            // Nothing waiting: write out what is held, then sleep until
            // there is something, or 50 ms pass.
            Err(pcap::Error::TimeoutExpired) => idle = true,
            Err(e) => {
                error = Some(format!("reading from {}: {e}", cfg.interface));
                break;
            }
        }
        // Busy: write out every 50 ms; quiet: at once.
        if dirty && (idle || last_flush.elapsed() >= Duration::from_millis(50)) {
            sink.flush();
            if let Some(Err(e)) = live.writer.as_mut().map(PacketWriter::flush) {
                error = Some(format!("writing packets: {e}"));
                break;
            }
            last_flush = Instant::now();
            dirty = false;
        }
        if idle {
            wait_readable(&live.cap, 50);
        }
        if last_status.elapsed() >= Duration::from_secs(1) {
            let s = live.cap.stats().unwrap_or(pcap::Stat {
                received: 0,
                dropped: 0,
                if_dropped: 0,
            });
            status(Progress {
                captured,
                kernel_drops: u64::from(s.dropped),
                interface_drops: u64::from(s.if_dropped),
            });
            last_status = Instant::now();
        }
    }
    let s = live.cap.stats().ok();
    if let Some(w) = live.writer.as_mut() {
        if let Err(e) = w.flush() {
            error.get_or_insert(format!("writing packets: {e}"));
        }
    }
    decoder.finish();
    tracker.finish(sink);
    let stats = CaptureStats {
        interface: cfg.interface.clone(),
        socket: live.socket,
        link_type: live.link.label(),
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
        privileges: live.privileges,
        files: match &cfg.write {
            Some(WriteTo::File(p)) => (0..=files).map(|n| rotated_name(p, n)).collect(),
            _ => Vec::new(),
        },
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
