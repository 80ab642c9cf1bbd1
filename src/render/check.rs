//! `sockscope check` reports: a human report (✓/✗ per expectation, the
//! measured value, the records that broke it), one JSON result per
//! expectation, and JUnit XML for CI test reporters.

use std::fmt::Write as _;
use std::io::{self, Write};

use comfy_table::{presets, ContentArrangement, Table};

use crate::check::{Expectation, FileResult, Outcome, Row};
use crate::event::ConnRef;
use crate::render::json::{escape_into, exact_decimal};
use crate::time::TimeOfDay;

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

fn endpoint(ip: std::net::IpAddr, port: u16) -> String {
    if ip.is_ipv6() {
        format!("[{ip}]:{port}")
    } else {
        format!("{ip}:{port}")
    }
}

/// The offending records as a table: time (to the microsecond, from the
/// integer nanoseconds, as replay prints it), endpoints, then the columns
/// the expectation chose; nothing shows as `-`.
fn offender_table(o: &Outcome) -> String {
    let mut t = Table::new();
    t.load_style(presets::NOTHING);
    t.force_no_tty();
    t.set_content_arrangement(ContentArrangement::Disabled);
    let mut header = vec![
        "time".to_string(),
        "client".to_string(),
        "server".to_string(),
    ];
    header.extend(o.offenders.columns.iter().map(|c| c.to_string()));
    t.set_header(header);
    for r in &o.offenders.rows {
        let mut row = vec![
            r.time
                .map_or("-".into(), |(_, ts)| TimeOfDay(ts).to_string()),
            r.conn
                .map_or("-".into(), |c| endpoint(c.client_ip, c.client_port)),
            r.conn
                .map_or("-".into(), |c| endpoint(c.server_ip, c.server_port)),
        ];
        row.extend(r.cols.iter().map(|v| v.cell()));
        t.add_row(row);
    }
    let mut s = t.to_string();
    let shown = o.offenders.rows.len() as u64;
    if o.offenders.total > shown {
        let _ = write!(s, "\nand {} more", o.offenders.total - shown);
    }
    s
}

fn named(e: &Expectation) -> bool {
    e.name != e.source
}

/// The human report: ✓ in green, ✗ and ! in red when `style` has colour,
/// every mark and arrow in ASCII when it asks for that.
pub fn write_report<W: Write>(
    out: &mut W,
    exps: &[Expectation],
    results: &[FileResult],
    fatal_errors: bool,
    style: crate::config::Style,
) -> io::Result<()> {
    let mut text = Vec::new();
    report_text(&mut text, exps, results, fatal_errors, style)?;
    let text = String::from_utf8_lossy(&text);
    out.write_all(style.glyphs(&text).as_bytes())
}

fn report_text<W: Write>(
    out: &mut W,
    exps: &[Expectation],
    results: &[FileResult],
    fatal_errors: bool,
    style: crate::config::Style,
) -> io::Result<()> {
    use crate::render::Tone;
    let mark = |st: Status| {
        let tone = match st {
            Status::Passed => Some(Tone::Good),
            Status::Failed | Status::Error => Some(Tone::Bad),
            Status::Skipped => None,
        };
        style.paint(st.mark(), tone)
    };
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
                writeln!(out, "  {} {}", mark(st), e.name)?;
                continue;
            }
            writeln!(out, "  {} {}  → {}", mark(st), e.name, o.value.show())?;
            match st {
                Status::Failed => {
                    if named(e) {
                        writeln!(out, "      {}", e.source)?;
                    }
                    for line in o.reason.lines() {
                        writeln!(out, "      {line}")?;
                    }
                    if !o.offenders.is_empty() {
                        for line in offender_table(o).lines() {
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

/// A string field of a JSON object being written: `,"key":"value"`.
fn str_field(out: &mut Vec<u8>, key: &str, v: &str) {
    out.extend_from_slice(format!(",\"{key}\":").as_bytes());
    escape_into(out, v);
}

/// An offending record as JSON: its type, time (the exact decimal replay
/// writes), connection, and the columns shown.
fn row_json(out: &mut Vec<u8>, columns: &[&str], r: &Row) {
    out.extend_from_slice(b"{\"type\":");
    escape_into(out, r.ty);
    if let Some((field, ts)) = r.time {
        out.extend_from_slice(format!(",\"{field}\":").as_bytes());
        exact_decimal(out, ts.0, 9);
    }
    if let Some(ConnRef {
        conn_id,
        client_ip,
        client_port,
        server_ip,
        server_port,
    }) = r.conn
    {
        let _ = write!(
            out,
            ",\"conn_id\":{conn_id},\"client_ip\":\"{client_ip}\",\"client_port\":{client_port},\
             \"server_ip\":\"{server_ip}\",\"server_port\":{server_port}"
        );
    }
    for (name, v) in columns.iter().zip(&r.cols) {
        out.extend_from_slice(format!(",\"{name}\":").as_bytes());
        v.write_json(out);
    }
    out.push(b'}');
}

/// One `check_result` per expectation per file, then `check_summary`.
/// `value` is the measured value with its JSON type (a number, boolean,
/// string or null; a list for the parts of `and`/`or`; a description for
/// quantifiers and baselines); `records` are the offending records shown.
pub fn write_json<W: Write>(
    out: &mut W,
    exps: &[Expectation],
    results: &[FileResult],
    fatal_errors: bool,
) -> io::Result<()> {
    let mut line = Vec::with_capacity(1024);
    for res in results {
        let fatal = fatal_errors && res.error.is_some();
        for (e, o) in exps.iter().zip(&res.outcomes) {
            let st = Status::of(o, fatal);
            line.clear();
            line.extend_from_slice(b"{\"type\":\"check_result\"");
            str_field(&mut line, "file", &res.file);
            str_field(&mut line, "name", &e.name);
            str_field(&mut line, "expect", &e.source);
            str_field(&mut line, "status", st.word());
            line.extend_from_slice(b",\"value\":");
            if st == Status::Error {
                line.extend_from_slice(b"null");
            } else {
                o.value.write_json(&mut line);
            }
            let reason = if st == Status::Error {
                res.error.clone().unwrap_or_default()
            } else {
                o.reason.clone()
            };
            str_field(&mut line, "reason", &reason);
            let _ = write!(line, ",\"offenders\":{},\"records\":[", o.offenders.total);
            for (i, r) in o.offenders.rows.iter().enumerate() {
                if i > 0 {
                    line.push(b',');
                }
                row_json(&mut line, &o.offenders.columns, r);
            }
            line.extend_from_slice(b"],\"capture_error\":");
            match &res.error {
                Some(err) => escape_into(&mut line, err),
                None => line.extend_from_slice(b"null"),
            }
            line.extend_from_slice(b"}\n");
            out.write_all(&line)?;
        }
    }
    let t = Totals::of(results, fatal_errors);
    writeln!(
        out,
        "{{\"type\":\"check_summary\",\"files\":{},\"expectations\":{},\"passed\":{},\"failed\":{},\"skipped\":{},\"errors\":{}}}",
        results.len(),
        exps.len(),
        t.passed,
        t.failed,
        t.skipped,
        t.errors
    )
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
                    let mut body = format!("{}\nvalue: {}\n{}", e.source, o.value.show(), o.reason);
                    if !o.offenders.is_empty() {
                        body.push('\n');
                        body.push_str(&offender_table(o));
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
