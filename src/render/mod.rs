//! Renderers: records in, text out. `json` writes JSON lines, `human` writes
//! event lines, comfy-table tables and the capture-health block. Renderers do
//! not parse packets or know flow internals; width and row limits are passed
//! in.

pub mod check;
pub mod human;
pub mod json;
pub mod layout;
pub mod sockets;

use std::io::{self, Write};

use crate::config::{OutputConfig, OutputFormat};
use crate::event::{Record, RecordSink};
use crate::replay::StoppableSink;

/// A renderer chosen at run time.
pub enum Renderer<W: Write> {
    Json(json::JsonLines<W>),
    Human(Box<human::HumanView<W>>),
}

impl<W: Write> Renderer<W> {
    pub fn new(out: W, cfg: &OutputConfig) -> Self {
        match cfg.format {
            OutputFormat::Json => Renderer::Json(json::JsonLines::new(out, cfg.detail)),
            OutputFormat::Human => {
                Renderer::Human(Box::new(human::HumanView::new(out, cfg.clone())))
            }
        }
    }

    /// Flushes and hands back the writer (to append a report after the
    /// records).
    pub fn finish_into(self) -> io::Result<W> {
        match self {
            Renderer::Json(j) => j.finish_into(),
            Renderer::Human(h) => h.finish_into(),
        }
    }

    /// Flushes; returns the first write error, if any.
    pub fn finish(self) -> io::Result<()> {
        match self {
            Renderer::Json(j) => j.finish(),
            Renderer::Human(h) => h.finish(),
        }
    }
}

impl<W: Write> RecordSink for Renderer<W> {
    fn record(&mut self, r: Record) {
        match self {
            Renderer::Json(j) => j.record(r),
            Renderer::Human(h) => h.record(r),
        }
    }
}

impl<W: Write> StoppableSink for Renderer<W> {
    fn stopped(&self) -> bool {
        match self {
            Renderer::Json(j) => j.stopped(),
            Renderer::Human(h) => h.stopped(),
        }
    }
    fn wants(&self) -> crate::replay::Wants {
        match self {
            Renderer::Json(j) => j.wants(),
            Renderer::Human(h) => h.wants(),
        }
    }
}

impl<W: Write> crate::event::FlushSink for Renderer<W> {
    fn flush(&mut self) {
        match self {
            Renderer::Json(j) => j.flush_now(),
            Renderer::Human(h) => h.flush_now(),
        }
    }
}

/// What a piece of text says, for colouring it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tone {
    /// Refused, reset, unanswered, violated, failed, dropped: red.
    Bad,
    /// Incomplete or doubtful: yellow.
    Warn,
    /// Held, valid: green.
    Good,
}

impl Tone {
    fn sgr(self) -> &'static str {
        match self {
            Tone::Bad => "\x1b[31m",
            Tone::Warn => "\x1b[33m",
            Tone::Good => "\x1b[32m",
        }
    }

    /// comfy-table's colour for it.
    pub fn color(self) -> comfy_table::Color {
        match self {
            Tone::Bad => comfy_table::Color::Red,
            Tone::Warn => comfy_table::Color::Yellow,
            Tone::Good => comfy_table::Color::Green,
        }
    }

    /// The tone of a Zeek `conn_state`: no connection made or one torn
    /// down by a reset is bad; half-open or mid-stream is doubtful.
    pub fn of_conn_state(state: &str) -> Option<Tone> {
        match state {
            "REJ" | "S0" | "RSTO" | "RSTR" | "RSTOS0" | "RSTRH" | "SH" | "SHR" => Some(Tone::Bad),
            "S1" | "S2" | "S3" | "OTH" => Some(Tone::Warn),
            _ => None,
        }
    }
}

impl crate::config::Style {
    /// `s` in `tone`'s colour, when colours are on.
    pub fn paint(&self, s: &str, tone: Option<Tone>) -> String {
        match tone {
            Some(t) if self.color => format!("{}{s}\x1b[0m", t.sgr()),
            _ => s.to_string(),
        }
    }

    /// Text for a terminal that may not show UTF-8: arrows, marks and
    /// ellipses spelt in ASCII when `ascii` is set.
    pub fn glyphs<'a>(&self, s: &'a str) -> std::borrow::Cow<'a, str> {
        if !self.ascii || s.is_ascii() {
            return s.into();
        }
        let mut out = String::with_capacity(s.len());
        for c in s.chars() {
            match c {
                '→' => out.push_str("->"),
                '←' => out.push_str("<-"),
                '✓' => out.push_str("ok"),
                '✗' => out.push('x'),
                '…' => out.push_str("..."),
                '—' => out.push_str("--"),
                c => out.push(c),
            }
        }
        out.into()
    }
}

/// True for the error a closed pipe gives (`| head`): not a failure.
pub fn is_broken_pipe(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::BrokenPipe
}
