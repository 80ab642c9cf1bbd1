//! `replay`: a capture file through the whole pipeline.
//!
//! source (file) → BPF filter → decode → track → records. The driver owns the
//! capture-health counters and the contract on output order: `meta` first,
//! then events and flow records as they happen, then an `error` record if
//! reading stopped on damage (after everything decoded before it), then
//! `summary` last — on every run, an empty or non-capture file included.

use std::fs::File;
use std::io::{self, Read};

use crate::config::ReplayConfig;
use crate::decode::{Decoded, Decoder};
use crate::event::{ErrorRecord, Meta, Record, RecordSink, Summary, SCHEMA_VERSION};
use crate::source::file::CaptureReader;
use crate::source::filter::{BpfFilter, FilterError};
use crate::source::{LinkType, RawPacket};
use crate::time::Timestamp;
use crate::track::Tracker;

/// A sink that can ask the pipeline to stop early (its output went away).
pub trait StoppableSink: RecordSink {
    fn stopped(&self) -> bool {
        false
    }
}

impl StoppableSink for Vec<Record> {}

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
        s.first_ts = Some(s.first_ts.map_or(raw.ts, |t| t.min(raw.ts)));
        s.last_ts = Some(s.last_ts.map_or(raw.ts, |t| t.max(raw.ts)));
        match self.link_counts.iter_mut().find(|(l, _)| *l == raw.link) {
            Some((_, n)) => *n += 1,
            None => self.link_counts.push((raw.link, 1)),
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

    pub fn finish(mut self, decoder: &Decoder, tracker: &Tracker, complete: bool) -> Summary {
        let d = decoder.defrag_stats();
        let t = tracker.stats();
        let s = &mut self.summary;
        s.tcp_conns = t.tcp_conns;
        s.udp_flows = t.udp_flows;
        s.evicted = t.evicted;
        s.ip_fragments = d.fragments;
        s.fragments_reassembled = d.reassembled;
        s.fragments_incomplete = d.incomplete;
        s.fragment_conflicts = d.conflicts;
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
        filter,
    }
}

/// Replays the capture named in `cfg` into `sink`.
pub fn replay<S: StoppableSink>(
    cfg: &ReplayConfig,
    sink: &mut S,
) -> Result<ReplayOutcome, ReplayError> {
    let mut filter = cfg.filter.as_deref().map(BpfFilter::new).transpose()?;
    let name = cfg.input.display();
    sink.record(Record::Meta(meta(
        "replay",
        Some(name.clone()),
        cfg.filter.clone(),
    )));

    let input: Box<dyn Read> = match &cfg.input {
        crate::config::Input::Stdin => Box::new(io::stdin().lock()),
        crate::config::Input::Path(p) => match File::open(p) {
            Ok(f) => Box::new(f),
            Err(e) => {
                let error = ErrorRecord {
                    file: name,
                    offset: 0,
                    message: format!("cannot open: {e}"),
                };
                return Ok(finish_run(
                    sink,
                    Health::default(),
                    &Decoder::new(cfg.defrag),
                    &Tracker::new(cfg.track),
                    Some(error),
                    false,
                ));
            }
        },
    };

    let mut decoder = Decoder::new(cfg.defrag);
    let mut tracker = Tracker::new(cfg.track);
    let mut health = Health::default();
    let mut error = None;
    let mut interrupted = false;

    match CaptureReader::new(input) {
        Err(e) => {
            error = Some(ErrorRecord {
                file: name.clone(),
                offset: e.offset,
                message: e.kind.to_string(),
            })
        }
        Ok(mut reader) => {
            health.summary.format = Some(reader.format().name().to_string());
            if let (Some(f), Some(iface)) = (filter.as_mut(), reader.interfaces().first()) {
                f.prepare(iface.link)?;
            }
            let mut last_expiry = Timestamp(i64::MIN);
            loop {
                let raw = match reader.next_packet() {
                    Ok(Some(raw)) => raw,
                    Ok(None) => break,
                    Err(e) => {
                        error = Some(ErrorRecord {
                            file: name.clone(),
                            offset: e.offset,
                            message: e.kind.to_string(),
                        });
                        break;
                    }
                };
                if let Some(f) = filter.as_mut() {
                    if !f.matches(&raw)? {
                        health.summary.filtered_out += 1;
                        continue;
                    }
                }
                health.packet(&raw);
                // Fragment timeouts run on capture time, once a second of it.
                if raw.ts.0 > last_expiry.0.saturating_add(1_000_000_000) {
                    decoder.expire(raw.ts);
                    last_expiry = raw.ts;
                }
                let decoded = decoder.decode(&raw);
                health.decoded(&raw, &decoded);
                if let Decoded::Packet(p) = decoded {
                    tracker.packet(&p, sink);
                }
                if sink.stopped() {
                    interrupted = true;
                    break;
                }
            }
        }
    }

    let complete = error.is_none() && !interrupted;
    tracker.finish(sink);
    decoder.finish();
    let mut outcome = finish_run(sink, health, &decoder, &tracker, error, complete);
    outcome.interrupted = interrupted;
    Ok(outcome)
}

fn finish_run<S: RecordSink>(
    sink: &mut S,
    health: Health,
    decoder: &Decoder,
    tracker: &Tracker,
    error: Option<ErrorRecord>,
    complete: bool,
) -> ReplayOutcome {
    let summary = health.finish(decoder, tracker, complete);
    if let Some(e) = &error {
        sink.record(Record::Error(e.clone()));
    }
    sink.record(Record::Summary(Box::new(summary.clone())));
    ReplayOutcome {
        summary,
        error,
        interrupted: false,
    }
}
