//! Renderers: records in, text out. `json` writes JSON lines, `human` writes
//! event lines, comfy-table tables and the capture-health block. Renderers do
//! not parse packets or know flow internals; width and row limits are passed
//! in.

pub mod check;
pub mod human;
pub mod json;
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

/// True for the error a closed pipe gives (`| head`): not a failure.
pub fn is_broken_pipe(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::BrokenPipe
}
