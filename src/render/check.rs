//! `sockscope check` reports: a human report (✓/✗ per expectation, the
//! measured value, the records that broke it), one JSON result per
//! expectation, and JUnit XML for CI test reporters.

use std::fmt::Write as _;
use std::io::{self, Write};

use comfy_table::{presets, ContentArrangement, Table};
use serde_json::{json, Value};

use crate::check::{eval::show, Expectation, FileResult, Outcome};
use crate::time::{TimeOfDay, Timestamp};

/// How an expectation ended on one file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Passed,
    Failed,
    Skipped,
    /// The capture could not be read to its end (and that is not allowed).
    Error,
}

impl Status {
    pub fn of(o: &Outcome, file_error: bool) -> Status {
        if file_error {
            return Status::Error;
        }
        match o.held {
            Some(true) => Status::Passed,
            Some(false) => Status::Failed,
            None => Status::Skipped,
        }
    }

    fn word(self) -> &'static str {
        match self {
            Status::Passed => "pass",
            Status::Failed => "fail",
            Status::Skipped => "skipped",
            Status::Error => "error",
        }
    }

    fn mark(self) -> &'static str {
        match self {
            Status::Passed => "✓",
            Status::Failed => "✗",
            Status::Skipped => "-",
            Status::Error => "!",
        }
    }
}

/// Totals over every file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    pub errors: usize,
}

impl Totals {
    pub fn of(results: &[FileResult], fatal_errors: bool) -> Totals {
        let mut t = Totals::default();
        for r in results {
            for o in &r.outcomes {
                match Status::of(o, fatal_errors && r.error.is_some()) {
                    Status::Passed => t.passed += 1,
                    Status::Failed => t.failed += 1,
                    Status::Skipped => t.skipped += 1,
                    Status::Error => t.errors += 1,
                }
            }
        }
        t
    }
}

fn endpoint(r: &Value, side: &str) -> Option<String> {
    let ip = r.get(format!("{side}_ip"))?.as_str()?;
    let port = r.get(format!("{side}_port")).map(show).unwrap_or_default();
    Some(if ip.contains(':') {
        format!("[{ip}]:{port}")
    } else {
        format!("{ip}:{port}")
    })
}

fn time_of(r: &Value) -> Option<String> {
    let t = r.get("ts").or_else(|| r.get("first_ts"))?.as_f64()?;
    let secs = t.floor();
    let nanos = ((t - secs) * 1e9).round() as u64;
    Some(
        TimeOfDay(Timestamp::from_parts(
            secs as i64,
            nanos.min(999_999_999),
            1_000_000_000,
        ))
        .to_string(),
    )
}

/// The offending records as a table: time, endpoints, then their other
/// kept fields.
fn offender_table(res: &FileResult, o: &Outcome, show_n: usize) -> String {
    let mut t = Table::new();
    t.load_style(presets::NOTHING);
    t.force_no_tty();
    t.set_content_arrangement(ContentArrangement::Disabled);
    let recs: Vec<&Value> = o
        .offenders
        .iter()
        .take(show_n)
        .filter_map(|(ty, i)| res.records.of(ty).get(*i))
        .collect();
    let skip = [
        "ts",
        "first_ts",
        "client_ip",
        "client_port",
        "server_ip",
        "server_port",
        "conn_id",
    ];
    let mut extra: Vec<String> = Vec::new();
    for r in &recs {
        if let Some(obj) = r.as_object() {
            for k in obj.keys() {
                if !skip.contains(&k.as_str()) && !extra.contains(k) {
                    extra.push(k.clone());
                }
            }
        }
    }
    // What a record is first (state, direction, rule), long text last.
    const FIRST: &[&str] = &["state", "direction", "rule", "status", "opcode_name"];
    let rank = |k: &String| match FIRST.iter().position(|f| f == k) {
        Some(p) => (0, p),
        None if matches!(k.as_str(), "detail" | "text" | "message") => (2, 0),
        None => (1, 0),
    };
    extra.sort_by_key(rank);
    let mut header = vec![
        "time".to_string(),
        "client".to_string(),
        "server".to_string(),
    ];
    header.extend(extra.iter().cloned());
    t.set_header(header);
    for r in &recs {
        let mut row = vec![
            time_of(r).unwrap_or_default(),
            endpoint(r, "client").unwrap_or_default(),
            endpoint(r, "server").unwrap_or_default(),
        ];
        for k in &extra {
            row.push(match r.get(k) {
                Some(Value::String(s)) => s.clone(),
                Some(v) => show(v),
                None => String::new(),
            });
        }
        t.add_row(row);
    }
    let mut s = t.to_string();
    if o.offenders.len() > recs.len() {
        let _ = write!(s, "\nand {} more", o.offenders.len() - recs.len());
    }
    s
}

fn named(e: &Expectation) -> bool {
    e.name != e.source
}

/// The human report.
pub fn write_report<W: Write>(
    out: &mut W,
    exps: &[Expectation],
    results: &[FileResult],
    fatal_errors: bool,
    show_n: usize,
) -> io::Result<()> {
    for res in results {
        writeln!(out, "{}", res.file)?;
        let fatal = fatal_errors && res.error.is_some();
        if let Some(err) = &res.error {
            if fatal {
                writeln!(
                    out,
                    "  ! damaged capture, expectations not checked (--allow-truncated checks what came before): {err}"
                )?;
            } else {
                writeln!(out, "  ! damaged capture, checking what came before: {err}")?;
            }
        }
        for (e, o) in exps.iter().zip(&res.outcomes) {
            let st = Status::of(o, fatal);
            if st == Status::Error {
                writeln!(out, "  {} {}", st.mark(), e.name)?;
                continue;
            }
            writeln!(out, "  {} {}  → {}", st.mark(), e.name, o.value)?;
            match st {
                Status::Failed => {
                    if named(e) {
                        writeln!(out, "      {}", e.source)?;
                    }
                    for line in o.reason.lines() {
                        writeln!(out, "      {line}")?;
                    }
                    if !o.offenders.is_empty() {
                        for line in offender_table(res, o, show_n).lines() {
                            writeln!(out, "      {}", line.trim_end())?;
                        }
                    }
                }
                Status::Skipped => writeln!(out, "      skipped: {}", o.reason)?,
                _ => {}
            }
        }
    }
    let t = Totals::of(results, fatal_errors);
    write!(
        out,
        "{} expectation{} × {} file{}: {} held, {} failed",
        exps.len(),
        if exps.len() == 1 { "" } else { "s" },
        results.len(),
        if results.len() == 1 { "" } else { "s" },
        t.passed,
        t.failed
    )?;
    if t.skipped > 0 {
        write!(out, ", {} skipped", t.skipped)?;
    }
    if t.errors > 0 {
        write!(out, ", {} not checked (damaged capture)", t.errors)?;
    }
    writeln!(out)
}

/// One `check_result` per expectation per file, then `check_summary`.
pub fn write_json<W: Write>(
    out: &mut W,
    exps: &[Expectation],
    results: &[FileResult],
    fatal_errors: bool,
    show_n: usize,
) -> io::Result<()> {
    for res in results {
        let fatal = fatal_errors && res.error.is_some();
        for (e, o) in exps.iter().zip(&res.outcomes) {
            let st = Status::of(o, fatal);
            let records: Vec<&Value> = o
                .offenders
                .iter()
                .take(show_n)
                .filter_map(|(ty, i)| res.records.of(ty).get(*i))
                .collect();
            let v = json!({
                "type": "check_result",
                "file": res.file,
                "name": e.name,
                "expect": e.source,
                "status": st.word(),
                "value": if st == Status::Error { "n/a".to_string() } else { o.value.clone() },
                "reason": if st == Status::Error { res.error.clone().unwrap_or_default() } else { o.reason.clone() },
                "offenders": o.offenders.len(),
                "records": records,
                "capture_error": res.error,
            });
            writeln!(out, "{v}")?;
        }
    }
    let t = Totals::of(results, fatal_errors);
    let v = json!({
        "type": "check_summary",
        "files": results.len(),
        "expectations": exps.len(),
        "passed": t.passed,
        "failed": t.failed,
        "skipped": t.skipped,
        "errors": t.errors,
    });
    writeln!(out, "{v}")
}

fn xml_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            // XML 1.0 forbids most control characters, even escaped.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {
                let _ = write!(o, "\\u{{{:x}}}", c as u32);
            }
            c => o.push(c),
        }
    }
    o
}

/// JUnit XML (the schema Jenkins, GitLab and GitHub reporters read): a
/// testsuite per file, a testcase per expectation.
pub fn write_junit<W: Write>(
    out: &mut W,
    exps: &[Expectation],
    results: &[FileResult],
    fatal_errors: bool,
    show_n: usize,
    seconds: &[f64],
) -> io::Result<()> {
    let t = Totals::of(results, fatal_errors);
    let total: f64 = seconds.iter().sum();
    writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(
        out,
        r#"<testsuites name="sockscope check" tests="{}" failures="{}" errors="{}" skipped="{}" time="{total:.3}">"#,
        t.passed + t.failed + t.skipped + t.errors,
        t.failed,
        t.errors,
        t.skipped
    )?;
    for (k, res) in results.iter().enumerate() {
        let fatal = fatal_errors && res.error.is_some();
        let ft = Totals::of(std::slice::from_ref(res), fatal_errors);
        let file = xml_escape(&res.file);
        writeln!(
            out,
            r#"  <testsuite name="{file}" tests="{}" failures="{}" errors="{}" skipped="{}" time="{:.3}">"#,
            res.outcomes.len(),
            ft.failed,
            ft.errors,
            ft.skipped,
            seconds.get(k).copied().unwrap_or(0.0)
        )?;
        for (e, o) in exps.iter().zip(&res.outcomes) {
            write!(
                out,
                r#"    <testcase classname="{file}" name="{}" time="0">"#,
                xml_escape(&e.name)
            )?;
            match Status::of(o, fatal) {
                Status::Passed => {}
                Status::Failed => {
                    let mut body = format!("{}\nvalue: {}\n{}", e.source, o.value, o.reason);
                    if !o.offenders.is_empty() {
                        body.push('\n');
                        body.push_str(&offender_table(res, o, show_n));
                    }
                    write!(
                        out,
                        "\n      <failure type=\"expectation\" message=\"{}\">{}</failure>\n    ",
                        xml_escape(&o.reason),
                        xml_escape(&body)
                    )?;
                }
                Status::Skipped => write!(
                    out,
                    "\n      <skipped message=\"{}\"/>\n    ",
                    xml_escape(&o.reason)
                )?,
                Status::Error => write!(
                    out,
                    "\n      <error type=\"capture\" message=\"{}\"/>\n    ",
                    xml_escape(res.error.as_deref().unwrap_or_default())
                )?,
            }
            writeln!(out, "</testcase>")?;
        }
        writeln!(out, "  </testsuite>")?;
    }
    writeln!(out, "</testsuites>")
}
