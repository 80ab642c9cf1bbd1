//! Validated options handed to the library. The binary builds these from its
//! command-line flags; nothing here knows about clap.

use std::path::PathBuf;

use crate::decode::defrag::DefragLimits;
use crate::proto::{HttpOptions, WsConfig};
use crate::track::TrackConfig;

/// Where a capture comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    Path(PathBuf),
    /// `-`: standard input.
    Stdin,
}

impl Input {
    pub fn display(&self) -> String {
        match self {
            Input::Path(p) => p.display().to_string(),
            Input::Stdin => "-".to_string(),
        }
    }
}

/// How records are rendered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputFormat {
    /// Event lines, then tables and the health block.
    Human,
    /// JSON lines (schema in `event`).
    Json,
}

/// How much is rendered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detail {
    /// Events as they happen, then the tables and the health block.
    Full,
    /// Only the tables and the health block (JSON: no `tcp_event`/`udp_event`).
    Summary,
    /// Only the health block (JSON: `meta`, `error`, `summary`).
    Quiet,
}

/// How text is drawn on the terminal it goes to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Style {
    /// ANSI colours for states, violations, failures and drops.
    pub color: bool,
    /// ASCII only: `+-|` borders, `->` `<-` arrows, `ok`/`x` marks (for
    /// terminals whose locale is not UTF-8).
    pub ascii: bool,
}

#[derive(Clone, Debug)]
pub struct OutputConfig {
    pub format: OutputFormat,
    pub detail: Detail,
    /// Table width in columns; `None` means do not wrap.
    pub width: Option<u16>,
    /// Most rows per table in the human view (the rest are counted).
    pub max_rows: usize,
    pub style: Style,
}

impl Default for OutputConfig {
    fn default() -> Self {
        OutputConfig {
            format: OutputFormat::Human,
            detail: Detail::Full,
            width: None,
            max_rows: 10_000,
            style: Style::default(),
        }
    }
}

/// Everything `replay` needs.
#[derive(Clone, Debug)]
pub struct ReplayConfig {
    pub input: Input,
    /// Further files, read with `input` as one capture in timestamp order
    /// (e.g. the files `capture -C/-G` rotated).
    pub more_inputs: Vec<Input>,
    /// Stop after this many packets (those the filter let through).
    pub max_packets: Option<u64>,
    /// A BPF filter in tcpdump syntax.
    pub filter: Option<String>,
    pub track: TrackConfig,
    pub defrag: DefragLimits,
    /// WebSocket decoding.
    pub ws: Option<WsConfig>,
    /// HTTP exchanges, event streams and real-time channels (with `ws`
    /// `None` too, TCP streams are not reassembled at all).
    pub http: Option<HttpOptions>,
}

impl ReplayConfig {
    pub fn new(input: Input) -> Self {
        ReplayConfig {
            input,
            more_inputs: Vec::new(),
            max_packets: None,
            filter: None,
            track: TrackConfig::default(),
            defrag: DefragLimits::default(),
            ws: Some(WsConfig::default()),
            http: Some(HttpOptions::default()),
        }
    }
}
