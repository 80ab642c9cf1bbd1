//! JSON lines: one record per line, `"type"` first. The schema is documented
//! in [`crate::event`] and in the README; `--summary` drops the per-packet
//! event records, `-q` keeps only `meta`, `error` and `summary`.

use std::io::{self, Write};

use crate::config::Detail;
use crate::event::{Record, RecordSink};
use crate::replay::StoppableSink;

pub struct JsonLines<W: Write> {
    out: W,
    detail: Detail,
    error: Option<io::Error>,
}

impl<W: Write> JsonLines<W> {
    pub fn new(out: W, detail: Detail) -> Self {
        JsonLines {
            out,
            detail,
            error: None,
        }
    }

    pub fn finish(mut self) -> io::Result<()> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.out.flush()
    }

    fn wanted(&self, r: &Record) -> bool {
        matches!(
            (self.detail, r),
            (Detail::Full, _)
                | (_, Record::Meta(_) | Record::Error(_) | Record::Summary(_))
                | (Detail::Summary, Record::TcpConn(_) | Record::UdpFlow(_))
        )
    }
}

impl<W: Write> RecordSink for JsonLines<W> {
    fn record(&mut self, r: Record) {
        if self.error.is_some() || !self.wanted(&r) {
            return;
        }
        let res = serde_json::to_writer(&mut self.out, &r)
            .map_err(io::Error::from)
            .and_then(|_| self.out.write_all(b"\n"));
        if let Err(e) = res {
            self.error = Some(e);
        }
    }
}

impl<W: Write> StoppableSink for JsonLines<W> {
    fn stopped(&self) -> bool {
        self.error.is_some()
    }
}
