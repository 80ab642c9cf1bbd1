//! Command-line flags (clap) and their translation into the library's plain
//! config structs. Nothing outside the binary sees clap.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use sockscope::sockets::{LsConfig, NetnsChoice, StateSet};

use sockscope::config::{Detail, Input, OutputConfig, OutputFormat, ReplayConfig};
use sockscope::proto::{HttpOptions, WsConfig};
use sockscope::time::Nanos;
use sockscope::track::TrackConfig;

pub const EXIT_CODES: &str = "\
Exit status:
  0  the input was read to the end (or the output pipe was closed)
  1  an expectation failed (check, or capture with --expect)
  2  usage error, or an input or I/O error: a damaged or unreadable capture
     (after everything decoded before the damage has been reported), a bad
     filter, missing privileges";

#[derive(Parser, Debug)]
#[command(
    name = "sockscope",
    version,
    about = "Packet inspection and socket diagnostics: TCP handshakes, UDP flows and WebSocket sessions from captures and live traffic, and the kernel's sockets",
    long_about = None,
    after_help = EXIT_CODES,
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Decode a .pcap or .pcapng file: every TCP connection (handshake, RTT,
    /// retransmitted SYNs, teardown, Zeek conn_state and history), UDP flow,
    /// and WebSocket session (upgrade, frames, messages, RFC violations)
    Replay(ReplayArgs),
    /// Decode live traffic from a network interface, as replay decodes a
    /// file (needs CAP_NET_RAW)
    Capture(CaptureArgs),
    /// List the kernel's sockets as 5-tuples with state, queues and owner
    /// (netlink sock_diag, like ss; /proc/net when netlink is unavailable)
    Ls(LsArgs),
    /// Check expectations over recorded captures, for CI: exit 0 when all
    /// hold, 1 when one does not, 2 on a usage or input error
    Check(CheckArgs),
    /// Write one self-contained HTML page about captures: health, a
    /// timeline of connections, RTT and outcomes per server, top talkers,
    /// WebSocket messages and violations, and ladders (no network access
    /// when opened)
    Report(ReportArgs),
    /// Print the JSON Schema of every record the JSON lines hold (replay,
    /// capture, ls, check): one definition per record type
    Schema,
    /// Generate man pages or shell completions (`generate man --dir DIR`,
    /// `generate completions bash|zsh|fish|elvish|powershell`)
    Generate {
        #[command(subcommand)]
        what: Generate,
    },
}

#[derive(Subcommand, Debug)]
pub enum Generate {
    /// Man pages (roff): sockscope(1) on standard output, or one
    /// subcommand's page (sockscope-replay(1)…), or with --dir every page
    /// written into DIR
    Man {
        /// A subcommand: its page instead of sockscope(1)
        #[arg(value_name = "SUBCOMMAND")]
        page: Option<String>,
        /// Write every page (sockscope.1, sockscope-replay.1, …) into DIR
        #[arg(long, value_name = "DIR", conflicts_with = "page")]
        dir: Option<PathBuf>,
    },
    /// Shell completions on standard output
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// For people: lines and tables
    Human,
    /// JSON lines, one object per line (`sockscope schema` prints their
    /// JSON Schema)
    Json,
}

/// When to colour the output.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorWhen {
    /// When the output is a terminal and NO_COLOR is not set
    Auto,
    Always,
    Never,
}

/// How text is drawn (shared by every subcommand that prints tables).
#[derive(Args, Debug, Clone, Copy)]
pub struct StyleArgs {
    /// Colour states, violations, failures and drops: auto (a terminal,
    /// unless NO_COLOR is set), always or never
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = ColorWhen::Auto)]
    pub color: ColorWhen,

    /// ASCII only: +-| table borders, -> and <- arrows (the default when
    /// the locale's character set is not UTF-8)
    #[arg(long)]
    pub ascii: bool,
}

impl StyleArgs {
    /// The style for output going to a stream that is (or is not) a
    /// terminal.
    pub fn resolve(&self, terminal: bool) -> sockscope::config::Style {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let dumb = std::env::var_os("TERM").is_some_and(|t| t == "dumb");
        sockscope::config::Style {
            color: match self.color {
                ColorWhen::Always => true,
                ColorWhen::Never => false,
                ColorWhen::Auto => terminal && !no_color && !dumb,
            },
            ascii: self.ascii || !locale_is_utf8(),
        }
    }

    /// The style for standard output.
    pub fn for_stdout(&self) -> sockscope::config::Style {
        self.resolve(std::io::stdout().is_terminal())
    }
}

/// Whether the locale's character set is UTF-8: the first of LC_ALL,
/// LC_CTYPE and LANG that is set decides; with none set, UTF-8 is assumed
/// (as most terminals are, and a cleared environment should not turn a
/// UTF-8 terminal's tables into ASCII).
fn locale_is_utf8() -> bool {
    ["LC_ALL", "LC_CTYPE", "LANG"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .find(|v| !v.is_empty())
        .is_none_or(|v| {
            let v = v.to_ascii_lowercase();
            v.contains("utf-8") || v.contains("utf8")
        })
}

/// How records are shown (shared by replay and capture).
#[derive(Args, Debug)]
pub struct OutputArgs {
    /// Output format: `human`, one line per event as it happens, then a
    /// table of TCP connections, UDP flows and WebSocket sessions and the
    /// capture-health block; or `json`, JSON lines: meta, the events and
    /// flow records in capture order, then summary (`sockscope schema`
    /// prints their JSON Schema)
    #[arg(
        long,
        short = 'F',
        value_enum,
        default_value_t = FormatArg::Human,
        hide_possible_values = true
    )]
    pub format: FormatArg,

    /// Only the summary tables and the health block (JSON: no per-packet events)
    #[arg(long, conflicts_with = "quiet")]
    pub summary: bool,

    /// Only the capture-health block (JSON: meta, error and summary)
    #[arg(long, short = 'q')]
    pub quiet: bool,

    /// Most rows per table in the human view; the rest are counted
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub max_rows: usize,

    /// Width in columns that tables and event lines are fitted to (default:
    /// the terminal's; none when the output is not a terminal). Addresses,
    /// ports, numbers and states are never split: when a table does not fit,
    /// its headers are abbreviated, then its least useful columns left out
    #[arg(long, value_name = "COLUMNS")]
    pub width: Option<u16>,

    #[command(flatten)]
    pub style: StyleArgs,
}

/// Flow-table limits and timeouts (shared by replay and capture).
#[derive(Args, Debug)]
pub struct TrackArgs {
    /// Most flows held at once (about 1.5 KB each at worst); beyond it the
    /// least recently active flow is reported early and counted as evicted
    #[arg(long, value_name = "N", default_value_t = 200_000)]
    pub max_flows: usize,

    /// Seconds of silence after which a TCP connection is reported
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    pub tcp_timeout: u32,

    /// Seconds a closed or reset TCP connection waits for late packets (a
    /// FIN retransmitted because its ACK was lost); each one inside the
    /// connection's old window restarts the wait, as it restarts TIME-WAIT
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub tcp_linger: u32,

    /// Seconds of silence after which a UDP flow is reported
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub udp_timeout: u32,

    /// Make VLAN tags part of a connection's identity (by default they are
    /// recorded but the two directions may be on different VLANs)
    #[arg(long)]
    pub vlan_key: bool,
}

/// Application decoding over reassembled TCP streams (shared by replay and
/// capture).
#[derive(Args, Debug)]
pub struct DecodeArgs {
    /// Do not decode WebSocket (with --no-http too, TCP streams are not
    /// reassembled at all)
    #[arg(long)]
    pub no_ws: bool,

    /// Do not decode HTTP exchanges, Server-Sent Events and real-time
    /// channels (WebSocket upgrades are still found)
    #[arg(long)]
    pub no_http: bool,

    /// Characters of each WebSocket text message and ping/pong payload kept
    /// in the output
    #[arg(long, value_name = "CHARS", default_value_t = 120)]
    pub ws_preview: usize,

    /// Most bytes one compressed WebSocket message may inflate to; beyond it
    /// the message is reported (decompressed-too-big) and not inflated further
    #[arg(long, value_name = "BYTES", default_value_t = 16 * 1024 * 1024)]
    pub ws_max_inflated: u64,

    /// Out-of-order bytes held per reassembled TCP stream; beyond it the
    /// oldest hole is given up as a gap (reported, counted)
    #[arg(long, value_name = "BYTES", default_value_t = 1024 * 1024)]
    pub reassembly_stream_bytes: usize,

    /// Bytes held by all decoded connections' buffers together (out-of-order
    /// segments, partial HTTP heads, client bytes sent before the answer,
    /// partial control frames); beyond it the connection holding buffers
    /// longest gives them up (reported, counted)
    #[arg(long, value_name = "BYTES", default_value_t = 64 * 1024 * 1024)]
    pub reassembly_total_bytes: usize,
}

#[derive(Args, Debug)]
#[command(after_help = "\
Examples:
  sockscope replay capture.pcap
  sockscope replay capture.pcapng 'tcp port 443'
  sockscope replay -r capture.pcap -c 1000 tcp port 80
  sockscope replay lo.pcapng lo-1.pcapng lo-2.pcapng     (read as one capture)
  sockscope replay --format json capture.pcap | jq 'select(.type == \"tcp_conn\")'
  tcpdump -w - -i eth0 | sockscope replay -
  sockscope replay capture.pcap --conn '#12' --ladder
  sockscope replay capture.pcap --conn 'state == \"REJ\"' -w refused.pcap
  sockscope replay capture.pcap --conn 10.0.0.2:43694-10.0.0.1:80 -F json

Tables: c/s = client/server (the client's count first); rtx = retransmitted
SYNs. At a narrow width, headers are abbreviated and the least useful columns
left out (named under the table); --width brings them back.

Real-time channels (what one client does to get updates from one server path):
  websocket     an accepted upgrade (101)
  sse           a text/event-stream answer
  streaming     an answer without a length whose pieces span 1 s or more
  long_polling  3+ requests, median wait >= 1 s, or >= 200 ms with the client
                asking again within 100 ms of each answer (the server holds them)
  polling       3+ requests answered sooner, the client waiting >= 100 ms
                before asking again (its interval)
  request       anything else (one request, or a burst: a page and its parts)
  unclassified  2 requests: too few to tell a poll from a retry
A wait of a second is far above any round trip in one network, so the server
chose to wait; a long-polling client asks again at once, a polling one sleeps.")]
pub struct ReplayArgs {
    /// Capture files (.pcap or .pcapng; - reads standard input), then a BPF
    /// filter in tcpdump syntax applied exactly as tcpdump -r would (several
    /// words are joined with spaces). Names after the first are files as long
    /// as they name existing files; several files are read as one capture,
    /// in timestamp order
    #[arg(value_name = "FILE [FILE…] [FILTER]", num_args = 0..)]
    pub args: Vec<String>,

    /// The capture file, as tcpdump -r (repeatable; then every word after
    /// the options is the filter)
    #[arg(short = 'r', long = "read", value_name = "FILE")]
    pub read: Vec<PathBuf>,

    /// Stop after N packets (those the filter lets through), as tcpdump -c
    #[arg(short = 'c', long = "count", value_name = "N")]
    pub count: Option<u64>,

    /// Numeric addresses and ports (always so: accepted for tcpdump's -n
    /// and -nn)
    #[arg(short = 'n', action = clap::ArgAction::Count)]
    pub numeric: u8,

    /// Follow only these connections (repeatable): a conn_id (12 or #12, as
    /// event lines and tables show it), a 4-tuple A:P-B:P in either order
    /// ([addr]:port for IPv6), or a condition on a connection's final
    /// record in check's language (`state == "REJ"`, `rtt_ms > 100`,
    /// `ws_session where close_code != 1000`). Every output — events,
    /// tables, JSON, -w, --ladder — is restricted to them and their
    /// WebSocket records. A condition makes the replay read FILE twice
    #[arg(long = "conn", value_name = "SELECTOR")]
    pub conn: Vec<String>,

    /// With --conn: write the selected connections' packets to FILE, copied
    /// byte for byte from the capture (its link layer, timestamps and
    /// format: pcap stays pcap at its time resolution, pcapng keeps its
    /// interfaces)
    #[arg(short = 'w', long = "write", value_name = "FILE", requires = "conn")]
    pub write: Option<PathBuf>,

    /// Draw each selected connection as a ladder (sequence diagram): client
    /// left, server right, one arrow per packet with relative time, flags,
    /// relative seq/ack, window, length and what sockscope knows about it;
    /// runs of plain data packets are summed up in one line
    #[arg(long)]
    pub ladder: bool,

    /// With --ladder: draw every packet, without summing up runs of data
    #[arg(long, requires = "ladder")]
    pub all_packets: bool,

    #[command(flatten)]
    pub output: OutputArgs,

    #[command(flatten)]
    pub track: TrackArgs,

    #[command(flatten)]
    pub decode: DecodeArgs,
}

#[derive(Args, Debug)]
#[command(after_help = "\
Examples:
  sudo sockscope capture -i eth0 'tcp port 443'
  sudo sockscope capture -i any --format json -c 1000 | jq 'select(.type == \"tcp_conn\")'
  sudo sockscope capture -i lo --duration 30s -w lo.pcapng --expect 'count(tcp_conn where state == \"REJ\") == 0'
  sockscope capture -D
  sudo sockscope capture -ni lo -q -w lo.pcapng -C 100

Tables: c/s = client/server (the client's count first); rtx = retransmitted
SYNs. At a narrow width, headers are abbreviated and the least useful columns
left out (named under the table); --width brings them back.

The status line (packets captured and dropped, every second) is drawn on
standard error only where it cannot mix into data: when standard output is
the same terminal (it is redrawn below the events), when the decoded view
goes to standard error (-w -), or with -q (nothing is written to standard
output until the end). --status and --no-status decide instead.

Limits: -s is 1 to 262144 bytes (0, as in tcpdump: whole packets). -B is 1 to
1024 MiB: the ring is kernel memory that cannot be swapped, set up when the
capture starts (about a second per GiB), and 1 GiB already holds almost a
second of a saturated 10 Gb/s link; a bigger ring would only postpone the
drops of a decoder slower than the traffic.

Privileges: opening the socket needs CAP_NET_RAW (promiscuous mode also
CAP_NET_ADMIN): run as root, or once `sudo setcap cap_net_raw,cap_net_admin=eip
$(which sockscope)`. Once the socket (and the -w file) is open, sockscope
drops every capability and, when root, becomes --user (nobody) before it reads
a packet. It also empties the capability bounding set (root can; a binary
given only cap_net_raw and cap_net_admin cannot) and sets no_new_privs, so
nothing it could execute gains a privilege.")]
#[command(mut_arg("format", |a| a.help(
    "Output format: `human`, one line per event as it happens, then the tables \
     and the capture-health block (kernel drops included) when the capture stops; \
     or `json`, JSON lines: meta, events and flow records as they happen, then \
     capture_stats and summary (`sockscope schema` prints their JSON Schema)"
)))]
pub struct CaptureArgs {
    /// The interface to capture on, or `any` (every interface, cooked)
    #[arg(
        short = 'i',
        long,
        value_name = "IFACE",
        required_unless_present = "list_interfaces"
    )]
    pub interface: Option<String>,

    /// A BPF filter in tcpdump syntax, run in the kernel (several words are
    /// joined with spaces, as tcpdump does)
    #[arg(value_name = "FILTER", num_args = 0..)]
    pub filter: Vec<String>,

    /// List the interfaces with their addresses, flags and link type (as
    /// tcpdump -D)
    #[arg(short = 'D', long)]
    pub list_interfaces: bool,

    /// Numeric addresses and ports (always so: accepted for tcpdump's -n
    /// and -nn, as in `-ni eth0`)
    #[arg(short = 'n', action = clap::ArgAction::Count)]
    pub numeric: u8,

    /// Open a datagram (SOCK_DGRAM, cooked) socket: packets without their
    /// link-layer header (always so for `any`)
    #[arg(long)]
    pub cooked: bool,

    /// Bytes kept of each packet, 1 to 262144; 0, as in tcpdump, or no -s:
    /// whole packets (262144)
    #[arg(
        long,
        short = 's',
        value_name = "BYTES",
        default_value_t = sockscope::live::MAX_SNAPLEN,
        value_parser = parse_snaplen
    )]
    pub snaplen: u32,

    /// Do not put the interface into promiscuous mode
    #[arg(long, short = 'p')]
    pub no_promisc: bool,

    /// Kernel ring buffer size in MiB, 1 to 1024 (tcpdump's default is 2
    /// MiB; see Limits below)
    #[arg(
        long,
        short = 'B',
        value_name = "MIB",
        default_value_t = 32,
        value_parser = parse_ring_mib
    )]
    pub buffer_size: u32,

    /// Stop after N packets
    #[arg(short = 'c', long, value_name = "N")]
    pub count: Option<u64>,

    /// Stop after this long: 30s, 2m, 1h, 500ms (a plain number is seconds)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub duration: Option<std::time::Duration>,

    /// Also record the packets: pcap, or pcapng when FILE ends in .pcapng;
    /// `-` writes pcap to standard output (the decoded view then goes to
    /// standard error)
    #[arg(short = 'w', long, value_name = "FILE")]
    pub write: Option<PathBuf>,

    /// With -w FILE: start a new file (FILE-1, FILE-2… before the
    /// extension) once this many millions of bytes are written, as tcpdump -C
    #[arg(short = 'C', long = "file-size", value_name = "MB", requires = "write")]
    pub file_size: Option<f64>,

    /// With -w FILE: start a new file every SECS seconds, as tcpdump -G
    #[arg(
        short = 'G',
        long = "rotate-seconds",
        value_name = "SECS",
        requires = "write"
    )]
    pub rotate_seconds: Option<u64>,

    /// The user to become, when run as root, once the socket is open
    #[arg(long, short = 'Z', value_name = "USER", default_value = "nobody")]
    pub user: String,

    /// Keep root and capabilities for the whole capture
    #[arg(long)]
    pub no_drop_privileges: bool,

    /// Show only these connections (repeatable): a conn_id (12 or #12) or a
    /// 4-tuple A:P-B:P in either order ([addr]:port for IPv6). Conditions on
    /// final records need the whole capture first: record with -w, then
    /// `replay FILE --conn COND`. -w still records every packet
    #[arg(long = "conn", value_name = "SELECTOR")]
    pub conn: Vec<String>,

    /// Draw the status line on standard error even where it could mix with
    /// the output
    #[arg(long, conflicts_with = "no_status")]
    pub status: bool,

    /// Never draw the status line
    #[arg(long)]
    pub no_status: bool,

    /// Expectations checked when the capture stops (as `sockscope check`;
    /// exit 1 when one fails)
    #[command(flatten)]
    pub checks: ExpectArgs,

    #[command(flatten)]
    pub output: OutputArgs,

    #[command(flatten)]
    pub track: TrackArgs,

    #[command(flatten)]
    pub decode: DecodeArgs,
}

#[derive(Args, Debug)]
#[command(after_help = "\
Examples:
  sockscope report capture.pcap -o report.html
  sockscope report lo.pcapng lo-1.pcapng -o report.html     (read as one capture)
  sockscope report capture.pcap --conn 'server_port == 443' -o tls.html

Every number on the page comes from the records `sockscope replay -F json`
writes for the same input. The page holds its styles and SVG charts inline,
runs no script and fetches nothing. Large captures are summarised: the
longest connections are drawn, the others counted per time bucket.")]
pub struct ReportArgs {
    /// Capture files (.pcap or .pcapng), read as one capture in timestamp
    /// order
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,

    /// The HTML file to write
    #[arg(short = 'o', long, value_name = "FILE.html")]
    pub output: PathBuf,

    /// A BPF filter (tcpdump syntax) applied before decoding
    #[arg(long, value_name = "FILTER")]
    pub filter: Option<String>,

    /// Only these connections (as replay --conn: conn_id, 4-tuple or a
    /// condition on final records; repeatable)
    #[arg(long = "conn", value_name = "SELECTOR")]
    pub conn: Vec<String>,

    /// Connections drawn as ladders (the first ones, or the first selected)
    #[arg(long, value_name = "N", default_value_t = 60)]
    pub ladders: usize,

    /// Connections drawn as bars on the timeline (the longest)
    #[arg(long, value_name = "N", default_value_t = 150)]
    pub timeline_bars: usize,

    #[command(flatten)]
    pub track: TrackArgs,

    #[command(flatten)]
    pub decode: DecodeArgs,
}

impl ReportArgs {
    pub fn replay_config(&self) -> ReplayConfig {
        let mut cfg = ReplayConfig::new(input_of(&self.files[0]));
        cfg.more_inputs = self.files[1..].iter().map(|f| input_of(f)).collect();
        cfg.filter = self.filter.clone().filter(|f| !f.trim().is_empty());
        cfg.track = self.track.to_config();
        (cfg.ws, cfg.http) = self.decode.apply(&mut cfg.track, true);
        cfg
    }
}

/// Expectations, for `check` and for `capture` (checked when it stops).
#[derive(Args, Debug)]
pub struct ExpectArgs {
    /// An expectation (repeatable). Long form only: -e is tcpdump's
    /// "print the link-level header", and fingers know it as that
    #[arg(long = "expect", value_name = "EXPR")]
    pub expect: Vec<String>,

    /// A TOML file of named expectations ([[expect]] name, expr)
    #[arg(long, value_name = "FILE")]
    pub rules: Vec<PathBuf>,

    /// Also write a JUnit XML report: one testcase per expectation per file
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
}

/// A capture file argument: `-` is standard input.
fn input_of(path: &std::path::Path) -> Input {
    if path.as_os_str() == "-" {
        Input::Stdin
    } else {
        Input::Path(path.to_path_buf())
    }
}

/// `-s`: 0 means whole packets, as in tcpdump; above the largest snaplen
/// is an error, as in tcpdump.
fn parse_snaplen(s: &str) -> Result<u32, String> {
    use sockscope::live::MAX_SNAPLEN;
    match s.trim().parse::<u64>() {
        Ok(0) => Ok(MAX_SNAPLEN),
        Ok(n) if n <= u64::from(MAX_SNAPLEN) => Ok(n as u32),
        _ => Err(format!(
            "`{s}`: give 1 to {MAX_SNAPLEN} bytes, or 0 for whole packets ({MAX_SNAPLEN})"
        )),
    }
}

/// `-B`: 1 MiB to [`sockscope::live::MAX_BUFFER_MIB`].
fn parse_ring_mib(s: &str) -> Result<u32, String> {
    use sockscope::live::MAX_BUFFER_MIB;
    match s.trim().parse::<u64>() {
        Ok(n) if (1..=u64::from(MAX_BUFFER_MIB)).contains(&n) => Ok(n as u32),
        _ => Err(format!(
            "`{s}`: the kernel ring is 1 to {MAX_BUFFER_MIB} MiB (unswappable kernel memory, \
             set up when the capture starts)"
        )),
    }
}

/// `30s`, `2m`, `1h`, `500ms`, or seconds.
fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, "s"),
    };
    let n: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a duration (30s, 2m, 1h, 500ms)"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("`{unit}`: use ms, s, m or h")),
    };
    if !secs.is_finite() || secs <= 0.0 {
        return Err(format!("`{s}` is not a positive duration"));
    }
    Ok(std::time::Duration::from_secs_f64(secs))
}

impl CaptureArgs {
    pub fn to_config(&self, ws_events: bool) -> sockscope::live::CaptureConfig {
        use sockscope::live::{CaptureConfig, WriteTo};
        let mut track = self.track.to_config();
        let events = ws_events || !(self.output.summary || self.output.quiet);
        let (ws, http) = self.decode.apply(&mut track, events);
        let filter = self.filter.join(" ");
        CaptureConfig {
            interface: self.interface.clone().unwrap_or_default(),
            filter: if filter.trim().is_empty() {
                None
            } else {
                Some(filter)
            },
            cooked: self.cooked,
            snaplen: self.snaplen,
            promisc: !self.no_promisc,
            buffer_bytes: self.buffer_size << 20,
            count: self.count,
            duration: self.duration,
            write: self.write.as_ref().map(|p| {
                if p.as_os_str() == "-" {
                    WriteTo::Stdout
                } else {
                    WriteTo::File(p.clone())
                }
            }),
            rotate_bytes: self
                .file_size
                .filter(|m| *m > 0.0)
                .map(|m| (m * 1_000_000.0) as u64),
            rotate_every: self
                .rotate_seconds
                .filter(|s| *s > 0)
                .map(std::time::Duration::from_secs),
            run_as: if self.no_drop_privileges {
                None
            } else {
                Some(self.user.clone())
            },
            track,
            defrag: Default::default(),
            ws,
            http,
        }
    }
}

#[derive(Args, Debug)]
#[command(after_help = "\
Expressions (the record types and fields are those of `replay --format json`):
  count(tcp_conn where server_port == 8080) >= 3
  count(ws_violation) == 0
  all(tcp_conn where server_port == 443): state == \"SF\"
  none(tcp_conn): state in [\"REJ\", \"S0\"]
  any(ws_message where direction == \"client\"): text ~ \"hello\"
  p99(tcp_conn.rtt_ms) < 5      (also sum, min, max, avg, median, pNN)
  summary.truncated == 0 and summary.decode_errors == 0
  count(http_txn where status >= 500) == 0
  p95(http_txn.wait_ms) < 200
  all(rt_channel): technique != \"polling\"
Aliases: tcp, udp, ws (ws_session), upgrade, frame, message, violation,
http (http_txn), sse (sse_event), channel (rt_channel).

Rules file (--rules):
  [[expect]]
  name = \"handshakes complete\"
  expr = 'all(tcp_conn): state == \"SF\"'

Exit status:
  0  every expectation held (or did not apply: capture_stats in a replay)
  1  at least one expectation did not hold
  2  usage error (a bad expression: its position is shown), or an input or
     I/O error (a damaged capture, unless --allow-truncated)")]
pub struct CheckArgs {
    /// Capture files (.pcap or .pcapng); each is checked on its own
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,

    #[command(flatten)]
    pub checks: ExpectArgs,

    /// Compare the outcome of every connection, flow and WebSocket session
    /// with a stored `replay --format json` output (times, RTTs, client
    /// ports and counts ignored); each difference is listed
    #[arg(long, value_name = "FILE.jsonl")]
    pub baseline: Option<PathBuf>,

    /// Check what was decoded before a damaged or truncated capture's
    /// damage instead of failing with exit 2
    #[arg(long)]
    pub allow_truncated: bool,

    /// A BPF filter (tcpdump syntax) applied before decoding
    #[arg(long, value_name = "FILTER")]
    pub filter: Option<String>,

    /// Output format: `human`, the report (each file, each expectation ✓ or
    /// ✗ with its value and the records that broke it); or `json`, one
    /// check_result line per expectation per file, then check_summary
    #[arg(
        long,
        short = 'F',
        value_enum,
        default_value_t = FormatArg::Human,
        hide_possible_values = true
    )]
    pub format: FormatArg,

    #[command(flatten)]
    pub style: StyleArgs,

    /// Offending records shown per failed expectation
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub show: usize,

    #[command(flatten)]
    pub track: TrackArgs,

    #[command(flatten)]
    pub decode: DecodeArgs,
}

impl CheckArgs {
    /// The replay configuration for one file; `ws_events`: whether the
    /// expectations read per-event WebSocket records.
    pub fn replay_config(&self, file: &std::path::Path, ws_events: bool) -> ReplayConfig {
        let mut cfg = ReplayConfig::new(input_of(file));
        cfg.filter = self.filter.clone().filter(|f| !f.trim().is_empty());
        cfg.track = self.track.to_config();
        (cfg.ws, cfg.http) = self.decode.apply(&mut cfg.track, ws_events);
        cfg
    }
}

/// Table width: the one asked for, else the terminal's (None when standard
/// output is not a terminal: nothing is wrapped then).
pub fn output_width(asked: Option<u16>) -> Option<u16> {
    asked.or_else(|| {
        let out = std::io::stdout();
        if out.is_terminal() {
            terminal_size::terminal_size_of(&out).map(|(w, _)| w.0)
        } else {
            None
        }
    })
}

impl OutputArgs {
    pub fn to_config(&self) -> OutputConfig {
        let width = output_width(self.width);
        OutputConfig {
            format: match self.format {
                FormatArg::Human => OutputFormat::Human,
                FormatArg::Json => OutputFormat::Json,
            },
            detail: if self.quiet {
                Detail::Quiet
            } else if self.summary {
                Detail::Summary
            } else {
                Detail::Full
            },
            width,
            max_rows: self.max_rows,
            style: self.style.for_stdout(),
        }
    }
}

impl TrackArgs {
    pub fn to_config(&self) -> TrackConfig {
        TrackConfig {
            max_flows: self.max_flows.max(1),
            tcp_idle: Nanos::from_secs(i64::from(self.tcp_timeout)),
            tcp_linger: Nanos::from_secs(i64::from(self.tcp_linger)),
            udp_idle: Nanos::from_secs(i64::from(self.udp_timeout)),
            key_by_vlan: self.vlan_key,
            ..TrackConfig::default()
        }
    }
}

impl DecodeArgs {
    /// Fills in the decoding part of a tracker configuration; `events`:
    /// whether per-event records will be shown.
    pub fn apply(
        &self,
        track: &mut TrackConfig,
        events: bool,
    ) -> (Option<WsConfig>, Option<HttpOptions>) {
        track.reassembly.stream_bytes = self.reassembly_stream_bytes;
        track.reassembly.total_bytes = self
            .reassembly_total_bytes
            .max(self.reassembly_stream_bytes);
        let ws = (!self.no_ws).then_some(WsConfig {
            preview: self.ws_preview,
            max_inflated: self.ws_max_inflated,
            events,
        });
        let http = (!self.no_http).then_some(HttpOptions {
            events,
            preview: self.ws_preview,
        });
        (ws, http)
    }
}

impl ReplayArgs {
    /// The files and the filter words: `-r` files, else the leading
    /// positional words that name files (the first always does).
    pub fn files_and_filter(&self) -> Result<(Vec<PathBuf>, &[String]), String> {
        if !self.read.is_empty() {
            return Ok((self.read.clone(), &self.args));
        }
        let Some(first) = self.args.first() else {
            return Err("no capture file: give FILE (or -r FILE; - reads standard input)".into());
        };
        let more = self.args[1..]
            .iter()
            .take_while(|a| std::path::Path::new(a.as_str()).is_file())
            .count();
        let files = std::iter::once(first)
            .chain(&self.args[1..=more])
            .map(PathBuf::from)
            .collect();
        Ok((files, &self.args[1 + more..]))
    }

    pub fn to_config(&self) -> Result<ReplayConfig, String> {
        let (files, filter) = self.files_and_filter()?;
        if files.len() > 1 && files.iter().any(|f| f.as_os_str() == "-") {
            return Err("standard input (-) cannot be read with other files".into());
        }
        let mut cfg = ReplayConfig::new(input_of(&files[0]));
        cfg.more_inputs = files[1..].iter().map(|f| input_of(f)).collect();
        cfg.max_packets = self.count;
        let filter = filter.join(" ");
        cfg.filter = if filter.trim().is_empty() {
            None
        } else {
            Some(filter)
        };
        cfg.track = self.track.to_config();
        // --summary and -q show no per-event records: the decoders need not
        // make them.
        let events = !(self.output.summary || self.output.quiet);
        (cfg.ws, cfg.http) = self.decode.apply(&mut cfg.track, events);
        Ok(cfg)
    }
}

/// The subcommands that have a man page of their own.
pub fn man_subcommands(cmd: &clap::Command) -> Vec<String> {
    cmd.get_subcommands()
        .filter(|s| !s.is_hide_set() && !["generate", "schema", "help"].contains(&s.get_name()))
        .map(|s| s.get_name().to_string())
        .collect()
}

fn exit_status_section(out: &mut Vec<u8>) {
    out.extend_from_slice(b".SH \"EXIT STATUS\"\n");
    for line in EXIT_CODES.lines().skip(1) {
        let line = line.trim_start();
        if let Some((code, text)) = line.split_once("  ") {
            out.extend_from_slice(format!(".TP\n{code}\n{}\n", text.trim()).as_bytes());
        } else {
            out.extend_from_slice(format!("{line}\n").as_bytes());
        }
    }
}

fn see_also(out: &mut Vec<u8>, pages: &[String]) {
    out.extend_from_slice(b".SH \"SEE ALSO\"\n");
    let refs: Vec<String> = pages.iter().map(|p| format!("{p}(1)")).collect();
    out.extend_from_slice(refs.join(", ").replace('-', "\\-").as_bytes());
    out.extend_from_slice(b"\n");
}

/// sockscope(1): what the tool is, its subcommands (each with a page of its
/// own), the exit status.
pub fn man_page(cmd: clap::Command) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    let man = clap_mangen::Man::new(cmd.clone()).date("");
    man.render_title(&mut out)?;
    man.render_name_section(&mut out)?;
    man.render_synopsis_section(&mut out)?;
    man.render_description_section(&mut out)?;
    man.render_subcommands_section(&mut out)?;
    exit_status_section(&mut out);
    let pages: Vec<String> = man_subcommands(&cmd)
        .iter()
        .map(|n| format!("sockscope-{n}"))
        .chain(["tcpdump".to_string(), "ss".to_string()])
        .collect();
    see_also(&mut out, &pages);
    man.render_version_section(&mut out)?;
    Ok(out)
}

/// sockscope-NAME(1): one subcommand's synopsis, description, options,
/// examples and notes, and the exit status.
pub fn subcommand_man_page(cmd: &clap::Command, name: &str) -> Option<std::io::Result<Vec<u8>>> {
    let sub = cmd.find_subcommand(name)?.clone();
    let version = cmd.get_version().unwrap_or_default().to_string();
    let sub = sub
        .name(format!("sockscope-{name}"))
        .bin_name(format!("sockscope {name}"))
        .version(version);
    let mut out = Vec::new();
    let run = || -> std::io::Result<Vec<u8>> {
        let man = clap_mangen::Man::new(sub.clone()).date("");
        man.render_title(&mut out)?;
        man.render_name_section(&mut out)?;
        man.render_synopsis_section(&mut out)?;
        man.render_description_section(&mut out)?;
        man.render_options_section(&mut out)?;
        if sub.get_after_help().is_some() || sub.get_after_long_help().is_some() {
            man.render_extra_section(&mut out)?;
        }
        exit_status_section(&mut out);
        see_also(&mut out, &["sockscope".to_string()]);
        man.render_version_section(&mut out)?;
        Ok(out)
    };
    Some(run())
}

/// `sockscope ls`.
#[derive(Args, Debug)]
pub struct LsArgs {
    /// An ss filter: first `state STATE` / `exclude STATE` (ss's names and
    /// groups, repeatable), then an expression over ports and addresses, e.g.
    /// state established '( dport = :443 or sport = :443 )', 'dst
    /// 10.0.0.0/8 and not sport < :1024' (sport, dport with = != < <= > >=;
    /// src, dst with ADDR[/LEN][:PORT]; and, or, not, parentheses)
    #[arg(value_name = "FILTER", num_args = 0..)]
    pub filter: Vec<String>,

    /// TCP sockets
    #[arg(short = 't', long)]
    pub tcp: bool,
    /// UDP sockets
    #[arg(short = 'u', long)]
    pub udp: bool,
    /// Raw sockets
    #[arg(short = 'w', long)]
    pub raw: bool,
    /// Unix sockets (stream, datagram, seqpacket)
    #[arg(short = 'x', long)]
    pub unix: bool,
    /// IPv4 only
    #[arg(short = '4', long = "ipv4", conflicts_with = "ipv6")]
    pub ipv4: bool,
    /// IPv6 only
    #[arg(short = '6', long = "ipv6")]
    pub ipv6: bool,
    /// Listening sockets only (and unconnected UDP/raw, as ss -l)
    #[arg(short = 'l', long, conflicts_with_all = ["all", "state"])]
    pub listening: bool,
    /// Sockets in every state (default: connected ones, without
    /// TIME-WAIT and SYN-RECV, as ss)
    #[arg(short = 'a', long, conflicts_with = "state")]
    pub all: bool,
    /// States, comma-separated, with ss's names and groups: established,
    /// syn-sent, syn-recv, fin-wait-1, fin-wait-2, time-wait, closed,
    /// close-wait, last-ack, listening, closing, all, connected,
    /// synchronized, bucket, big
    #[arg(long, value_name = "STATE[,STATE]")]
    pub state: Option<String>,
    /// Either side's port
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,
    /// Local port
    #[arg(long, value_name = "PORT")]
    pub sport: Option<u16>,
    /// Remote port
    #[arg(long, value_name = "PORT")]
    pub dport: Option<u16>,
    /// Owning processes (pid, name, fd) from /proc/PID/fd
    #[arg(short = 'p', long)]
    pub processes: bool,
    /// Only sockets held by this process id (implies -p)
    #[arg(long, value_name = "PID")]
    pub pid: Option<u32>,
    /// Only sockets held by processes of this name (implies -p)
    #[arg(long, value_name = "NAME")]
    pub process: Option<String>,
    /// TCP_INFO of TCP sockets (rtt, rttvar, cwnd, ssthresh, retransmits,
    /// bytes acked and received, delivery rate…)
    #[arg(short = 'i', long)]
    pub info: bool,
    /// Socket memory (skmeminfo) of inet sockets
    #[arg(short = 'm', long)]
    pub memory: bool,
    /// Counts by protocol and state instead of rows
    #[arg(short = 's', long, conflicts_with = "tree")]
    pub summary: bool,
    /// Each listening TCP socket with the connections accepted from it
    /// (same namespace, local port and address or wildcard, same owner) and
    /// their count by state; implies -a -p, and -t when no protocol is given
    #[arg(long)]
    pub tree: bool,
    /// Host and service names instead of numbers (/etc/hosts, DNS,
    /// /etc/services)
    #[arg(short = 'r', long)]
    pub resolve: bool,
    /// List again every SECONDS, marking sockets that appeared (+),
    /// vanished (-) or changed state (~); in JSON, one snapshot after another
    /// with a timestamp
    #[arg(long, value_name = "SECONDS", value_parser = parse_interval)]
    pub watch: Option<f64>,
    /// With --watch: stop after N listings
    #[arg(long, value_name = "N", requires = "watch")]
    pub count: Option<u64>,
    /// List the sockets of the network namespace /run/netns/NAME
    #[arg(long, value_name = "NAME", conflicts_with = "all_netns")]
    pub netns: Option<String>,
    /// List every network namespace (named ones and those of processes)
    #[arg(long)]
    pub all_netns: bool,
    /// Read /proc/net instead of netlink (as when netlink is unavailable)
    #[arg(long, hide = true)]
    pub proc: bool,
    /// Numeric addresses and ports (the default: accepted for ss's -n)
    #[arg(short = 'n', long)]
    pub numeric: bool,
    /// No header line (as ss -H)
    #[arg(short = 'H', long)]
    pub no_header: bool,
    /// Output format: `human`, a table like ss's (the count of sockets and
    /// where they came from on standard error); or `json`, one socket object
    /// per line, then ls_summary
    #[arg(
        long,
        short = 'F',
        value_enum,
        default_value_t = FormatArg::Human,
        hide_possible_values = true
    )]
    pub format: FormatArg,
    /// Table width in columns (default: the terminal's width). Addresses
    /// and ports are never split: when the table does not fit, the least
    /// useful columns are left out (and named on standard error)
    #[arg(long, value_name = "COLUMNS")]
    pub width: Option<u16>,
    #[command(flatten)]
    pub style: StyleArgs,
}

/// `--watch`'s interval: positive seconds, fractions allowed.
fn parse_interval(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if x.is_finite() && x >= 0.01 => Ok(x),
        _ => Err(format!("`{s}` is not a number of seconds (at least 0.01)")),
    }
}

impl LsArgs {
    /// The listing these options ask for; `Err` names a bad option value.
    pub fn to_config(&self) -> Result<LsConfig, String> {
        let any_proto = self.tcp || self.udp || self.raw || self.unix;
        // ss's state filter leads the expression: `state established
        // state fin-wait-1 exclude time-wait '( dport = :443 )'`.
        let mut words: Vec<&str> = self
            .filter
            .iter()
            .flat_map(|w| w.split_whitespace())
            .collect();
        let (mut named, mut excluded) = (0u32, 0u32);
        while let [kw @ ("state" | "exclude"), ..] = words.as_slice() {
            let Some(name) = words.get(1) else {
                return Err(format!("`{kw}` needs a state name after it"));
            };
            let set = StateSet::parse(name).map_err(|e| format!("{kw}: {e}"))?;
            if *kw == "state" {
                named |= set.0;
            } else {
                excluded |= set.0;
            }
            words.drain(..2);
        }
        let mut states = if let Some(list) = &self.state {
            StateSet(
                StateSet::parse(list)
                    .map_err(|e| format!("--state: {e}"))?
                    .0
                    | named,
            )
        } else if named != 0 {
            StateSet(named)
        } else if self.all || (self.tree && !self.listening) {
            StateSet::ALL
        } else if self.listening {
            StateSet::LISTENING
        } else {
            StateSet::CONNECTED
        };
        states.0 &= !excluded;
        if states.0 == 0 {
            return Err("the state filter excludes every state".to_string());
        }
        let filter = words.join(" ");
        let filter = if filter.trim().is_empty() {
            None
        } else {
            Some(sockscope::sockets::filter::parse(&filter).map_err(|e| e.to_string())?)
        };
        let netns = match (&self.netns, self.all_netns) {
            (Some(n), _) => NetnsChoice::Named(n.clone()),
            (None, true) => NetnsChoice::All,
            (None, false) => NetnsChoice::Current,
        };
        Ok(LsConfig {
            tcp: self.tcp || !any_proto,
            udp: self.udp || (!any_proto && !self.tree),
            raw: self.raw || (!any_proto && !self.tree),
            unix: self.unix,
            v4: !self.ipv6,
            v6: !self.ipv4,
            states,
            processes: self.processes || self.tree || self.pid.is_some() || self.process.is_some(),
            info: self.info,
            mem: self.memory,
            netns,
            port: self.port,
            sport: self.sport,
            dport: self.dport,
            pid: self.pid,
            process: self.process.clone(),
            filter,
            resolve: self.resolve,
            force_proc: self.proc,
        })
    }
}
