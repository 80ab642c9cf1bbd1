//! `sockscope check`: expectations over the records a replay makes. Each
//! capture is replayed through the same pipeline as `replay`, and every
//! expectation is evaluated as its records stream past ([`Checker`]): over
//! the values `--format json` writes (so users assert on exactly what they
//! see), read from the typed records (`check::schema`), with only running
//! totals, the columns percentiles need and a bounded number of offending
//! rows kept (`check::eval`).

pub mod baseline;
pub mod eval;
pub mod expr;
pub mod schema;
pub mod value;

use std::path::Path;

use crate::config::ReplayConfig;
use crate::event::{Record, RecordSink, RecordTypes};
use crate::replay::{StoppableSink, Wants};

pub use eval::{Offenders, Outcome, Row, Shown, View};
pub use expr::{Expr, ParseError};
pub use value::Val;

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

    /// Waits for what the expectation reads before a run (a baseline being
    /// read on its own thread); `Err` says why it cannot be checked.
    pub fn ready(&self) -> Result<(), String> {
        match &self.kind {
            Kind::Baseline(b) => b.ready(),
            Kind::Expr(_) => Ok(()),
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

/// What the expectations read from a run.
#[derive(Debug, Clone)]
pub struct Needs {
    /// By index in `schema::RECORDS`.
    pub types: [bool; schema::TYPES],
}

impl Needs {
    pub fn of(exps: &[Expectation]) -> Needs {
        let mut types = [false; schema::TYPES];
        for e in exps {
            match &e.kind {
                Kind::Expr(x) => expr::visit_run(x, &mut |n| match n {
                    Expr::Count(s) | Expr::Aggregate(_, s, _) | Expr::Quantified(_, s, _) => {
                        types[s.ty] = true;
                    }
                    Expr::Single(ty, _) => types[*ty] = true,
                    _ => {}
                }),
                Kind::Baseline(_) => {
                    for ty in baseline::RunSide::new().types() {
                        types[ty] = true;
                    }
                }
            }
        }
        Needs { types }
    }

    fn has(&self, name: &str) -> bool {
        schema::record_type(name).is_some_and(|t| self.types[t])
    }

    /// Whether the per-event WebSocket records must be made.
    pub fn ws_events(&self) -> bool {
        ["ws_upgrade", "ws_frame", "ws_message", "ws_violation"]
            .iter()
            .any(|t| self.has(t))
    }

    /// What the replay has to make and send: the types read (and the
    /// run's own); per-flow records of other types are not even built.
    pub fn wants(&self) -> Wants {
        let types = schema::RECORDS
            .iter()
            .zip(self.types)
            .filter(|(_, needed)| *needed)
            .fold(RecordTypes::default(), |t, (r, _)| t.with(r.name));
        Wants::Types(types)
    }
}

/// How each expectation is being evaluated.
enum State<'e> {
    Expr(eval::ExprState<'e>),
    Baseline(&'e baseline::Baseline, baseline::RunSide),
}

/// A record sink that evaluates expectations as the records stream past.
pub struct Checker<'e> {
    states: Vec<State<'e>>,
    /// By record type: (expectation, selection) to feed.
    routes: Vec<Vec<(usize, usize)>>,
    /// By record type: expectations comparing with a baseline.
    baselines: Vec<Vec<usize>>,
    /// One-per-run records read, the last of each type.
    singles: Vec<Option<Val<'static>>>,
    wants_single: [bool; schema::TYPES],
    needs: Needs,
}

impl<'e> Checker<'e> {
    /// At most `show` offending records kept per selection.
    pub fn new(exps: &'e [Expectation], show: usize) -> Checker<'e> {
        let mut routes = vec![Vec::new(); schema::TYPES];
        let mut baselines = vec![Vec::new(); schema::TYPES];
        let mut wants_single = [false; schema::TYPES];
        let states = exps
            .iter()
            .enumerate()
            .map(|(i, e)| match &e.kind {
                Kind::Expr(x) => {
                    let st = eval::ExprState::new(x, show);
                    for (ty, set) in st.routes() {
                        routes[ty].push((i, set));
                    }
                    for ty in st.singles() {
                        wants_single[ty] = true;
                    }
                    State::Expr(st)
                }
                Kind::Baseline(b) => {
                    let side = baseline::RunSide::new();
                    for ty in side.types() {
                        baselines[ty].push(i);
                    }
                    State::Baseline(b, side)
                }
            })
            .collect();
        Checker {
            states,
            routes,
            baselines,
            singles: vec![None; schema::TYPES],
            wants_single,
            needs: Needs::of(exps),
        }
    }

    /// Feeds one record to every expectation that reads its type.
    #[inline]
    pub fn observe<V: View>(&mut self, rec: &V) {
        let ty = rec.ty();
        if self.wants_single[ty] {
            self.singles[ty] = Some(rec.snapshot());
        }
        for &(e, set) in &self.routes[ty] {
            if let State::Expr(st) = &mut self.states[e] {
                st.observe(set, rec);
            }
        }
        for &e in &self.baselines[ty] {
            if let State::Baseline(_, side) = &mut self.states[e] {
                side.observe(rec);
            }
        }
    }

    /// Every expectation's outcome, in order.
    pub fn finish(self) -> Vec<Outcome> {
        let singles = self.singles;
        self.states
            .into_iter()
            .map(|st| match st {
                State::Expr(st) => st.finish(&singles),
                State::Baseline(b, side) => {
                    let (compared, diffs, lines) = match side.compare(b) {
                        Ok(c) => c,
                        Err(why) => {
                            return Outcome {
                                held: None,
                                value: Shown::None,
                                reason: why,
                                offenders: Offenders::default(),
                            }
                        }
                    };
                    let mut reason = lines.join("\n");
                    if diffs > lines.len() as u64 {
                        reason.push_str(&format!("\nand {} more", diffs - lines.len() as u64));
                    }
                    Outcome {
                        held: Some(diffs == 0),
                        value: Shown::Text(format!(
                            "{compared} compared, {diffs} difference{}",
                            if diffs == 1 { "" } else { "s" }
                        )),
                        reason,
                        offenders: Offenders::default(),
                    }
                }
            })
            .collect()
    }
}

impl RecordSink for Checker<'_> {
    fn record(&mut self, r: Record) {
        self.observe(&r);
    }
}

impl StoppableSink for Checker<'_> {
    fn wants(&self) -> Wants {
        self.needs.wants()
    }
}

impl crate::event::FlushSink for Checker<'_> {}

/// A renderer and, when expectations were given, a checker beside it
/// (live capture renders and checks the same records).
pub struct Tee<'e, S> {
    pub inner: S,
    pub checker: Option<Checker<'e>>,
}

impl<S: RecordSink> RecordSink for Tee<'_, S> {
    fn record(&mut self, r: Record) {
        if let Some(c) = self.checker.as_mut() {
            c.observe(&r);
        }
        self.inner.record(r);
    }
}

impl<S: crate::event::FlushSink> crate::event::FlushSink for Tee<'_, S> {
    fn flush(&mut self) {
        self.inner.flush();
    }
}

/// The result of checking one capture.
#[derive(Debug)]
pub struct FileResult {
    pub file: String,
    /// The capture was damaged (error record: file, offset, message).
    pub error: Option<String>,
    pub outcomes: Vec<Outcome>,
}

/// Replays `cfg`'s capture and evaluates `exps` over it, keeping at most
/// `show` offending records per selection.
pub fn check_file(
    cfg: &ReplayConfig,
    exps: &[Expectation],
    show: usize,
) -> Result<FileResult, crate::replay::ReplayError> {
    let (outcome, checker) = crate::replay::replay(cfg, Checker::new(exps, show))?;
    let error = outcome
        .error
        .map(|e| format!("{}: byte offset {}: {}", e.file, e.offset, e.message));
    Ok(FileResult {
        file: cfg.input.display(),
        error,
        outcomes: checker.finish(),
    })
}
