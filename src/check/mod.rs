//! `sockscope check`: expectations over the records a replay makes. Each
//! capture is replayed through the same pipeline as `replay`; its records are
//! turned into the JSON values `--format json` writes (so users assert on
//! exactly what they see) and kept only for the record types and fields the
//! expectations read; then every expectation is evaluated per capture.

pub mod baseline;
pub mod eval;
pub mod expr;
pub mod schema;

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;

use crate::config::ReplayConfig;
use crate::event::{Record, RecordSink};
use crate::replay::StoppableSink;

pub use eval::{Outcome, Records};
pub use expr::{Expr, ParseError};

/// One expectation: its name (the rules file's, or the expression), its
/// text, and its parsed form.
#[derive(Debug)]
pub struct Expectation {
    pub name: String,
    pub source: String,
    pub kind: Kind,
}

/// What is expected.
#[derive(Debug)]
pub enum Kind {
    Expr(Expr),
    /// The same outcomes as a stored replay output.
    Baseline(baseline::Baseline),
}

/// Differences listed in a baseline's outcome before "and N more".
const BASELINE_SHOWN: usize = 20;

impl Expectation {
    pub fn parse(name: Option<String>, source: &str) -> Result<Expectation, ParseError> {
        let expr = expr::parse(source)?;
        Ok(Expectation {
            name: name.unwrap_or_else(|| source.to_string()),
            source: source.to_string(),
            kind: Kind::Expr(expr),
        })
    }

    /// `--baseline FILE.jsonl`.
    pub fn baseline(path: &Path) -> Result<Expectation, String> {
        let b = baseline::load(path)?;
        Ok(Expectation {
            name: format!("same outcomes as {}", b.path),
            source: format!("--baseline {}", b.path),
            kind: Kind::Baseline(b),
        })
    }

    pub fn evaluate(&self, records: &Records) -> Outcome {
        match &self.kind {
            Kind::Expr(e) => eval::evaluate(e, records),
            Kind::Baseline(b) => {
                let (compared, diffs) = baseline::compare(b, records);
                let mut reason = diffs
                    .iter()
                    .take(BASELINE_SHOWN)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("\n");
                if diffs.len() > BASELINE_SHOWN {
                    reason.push_str(&format!("\nand {} more", diffs.len() - BASELINE_SHOWN));
                }
                Outcome {
                    held: Some(diffs.is_empty()),
                    value: format!(
                        "{compared} compared, {} difference{}",
                        diffs.len(),
                        if diffs.len() == 1 { "" } else { "s" }
                    ),
                    reason,
                    offenders: Vec::new(),
                }
            }
        }
    }
}

/// A rules file:
///
/// ```toml
/// [[expect]]
/// name = "handshakes complete"
/// expr = 'all(tcp_conn where server_port == 8080): state == "SF"'
/// ```
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    expect: Vec<Rule>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Rule {
    name: Option<String>,
    expr: String,
}

/// Reads a rules file; `Err` says which rule is wrong and why.
pub fn read_rules(path: &Path) -> Result<Vec<Expectation>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read rules file {}: {e}", path.display()))?;
    let rules: RulesFile =
        toml::from_str(&text).map_err(|e| format!("rules file {}: {e}", path.display()))?;
    if rules.expect.is_empty() {
        return Err(format!(
            "rules file {}: no [[expect]] entries",
            path.display()
        ));
    }
    rules
        .expect
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            let name = r.name.clone().unwrap_or_else(|| format!("rule {}", i + 1));
            Expectation::parse(r.name, &r.expr).map_err(|e| {
                format!(
                    "rules file {}: [[expect]] {} ({name}): {}",
                    path.display(),
                    i + 1,
                    e.explain(&r.expr)
                )
            })
        })
        .collect()
}

/// Fields every kept record retains, for the report's tables.
const SHOWN: &[&str] = &[
    "ts",
    "first_ts",
    "conn_id",
    "client_ip",
    "client_port",
    "server_ip",
    "server_port",
    "state",
    "direction",
    "rule",
    "detail",
    "opcode_name",
    "close_code",
    "status",
    "file",
    "offset",
    "message",
];

/// What the expectations need from a run.
#[derive(Debug, Clone, Default)]
pub struct Needs {
    pub types: Vec<&'static str>,
    pub fields: Vec<String>,
}

impl Needs {
    pub fn of(exps: &[Expectation]) -> Needs {
        let mut n = Needs::default();
        for e in exps {
            match &e.kind {
                Kind::Expr(x) => {
                    expr::types_used(x, &mut n.types);
                    expr::names_used(x, &mut n.fields);
                }
                Kind::Baseline(_) => {
                    for (t, fields) in baseline::COMPARED {
                        if !n.types.contains(t) {
                            n.types.push(t);
                        }
                        n.fields.extend(fields.iter().map(|f| f.to_string()));
                    }
                    n.fields
                        .extend(baseline::IDENTITY.iter().map(|f| f.to_string()));
                }
            }
        }
        for t in ["summary", "error", "meta"] {
            if !n.types.contains(&t) {
                n.types.push(t);
            }
        }
        n.fields.extend(SHOWN.iter().map(|s| s.to_string()));
        n
    }

    /// Whether the per-event WebSocket records must be made.
    pub fn ws_events(&self) -> bool {
        self.types.iter().any(|t| {
            matches!(
                *t,
                "ws_upgrade" | "ws_frame" | "ws_message" | "ws_violation"
            )
        })
    }
}

/// A sink keeping, as JSON values, the records and fields a check reads.
pub struct Collector {
    needs: Needs,
    buf: Vec<u8>,
    pub records: Records,
}

impl Collector {
    pub fn new(needs: Needs) -> Collector {
        Collector {
            needs,
            buf: Vec::with_capacity(1024),
            records: Records {
                by_type: HashMap::new(),
            },
        }
    }
}

impl RecordSink for Collector {
    fn record(&mut self, r: Record) {
        let ty = r.type_name();
        let Some(&ty) = self.needs.types.iter().find(|t| **t == ty) else {
            return;
        };
        self.buf.clear();
        crate::render::json::encode(&r, &mut self.buf);
        let Ok(Value::Object(mut obj)) = serde_json::from_slice::<Value>(&self.buf) else {
            return;
        };
        // One-per-run records are small and kept whole.
        if !schema::SINGLETONS.contains(&ty) && ty != "error" {
            obj.retain(|k, _| self.needs.fields.iter().any(|f| f == k));
        }
        self.records
            .by_type
            .entry(ty)
            .or_default()
            .push(Value::Object(obj));
    }
}

impl StoppableSink for Collector {}

impl crate::event::FlushSink for Collector {}

impl Collector {
    /// Whether a record of this type is kept (to clone only those).
    pub fn wants(&self, r: &Record) -> bool {
        self.needs.types.contains(&r.type_name())
    }
}

/// A renderer and, when expectations were given, a collector beside it
/// (live capture renders and checks the same records).
pub struct Tee<S> {
    pub inner: S,
    pub collector: Option<Collector>,
}

impl<S: RecordSink> RecordSink for Tee<S> {
    fn record(&mut self, r: Record) {
        if let Some(c) = self.collector.as_mut() {
            if c.wants(&r) {
                c.record(r.clone());
            }
        }
        self.inner.record(r);
    }
}

impl<S: crate::event::FlushSink> crate::event::FlushSink for Tee<S> {
    fn flush(&mut self) {
        self.inner.flush();
    }
}

/// The result of checking one capture.
#[derive(Debug)]
pub struct FileResult {
    pub file: String,
    pub records: Records,
    /// The capture was damaged (error record: file, offset, message).
    pub error: Option<String>,
    pub outcomes: Vec<Outcome>,
}

/// Replays `cfg`'s capture and evaluates `exps` over it.
pub fn check_file(
    cfg: &ReplayConfig,
    exps: &[Expectation],
    needs: &Needs,
) -> Result<FileResult, crate::replay::ReplayError> {
    let (outcome, collector) = crate::replay::replay(cfg, Collector::new(needs.clone()))?;
    let records = collector.records;
    let error = outcome
        .error
        .map(|e| format!("{}: byte offset {}: {}", e.file, e.offset, e.message));
    let outcomes = exps.iter().map(|e| e.evaluate(&records)).collect();
    Ok(FileResult {
        file: cfg.input.display(),
        records,
        error,
        outcomes,
    })
}
