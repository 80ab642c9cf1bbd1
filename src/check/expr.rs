//! The expectation language: a lexer and a recursive-descent parser to an
//! [`Expr`] tree. Errors carry the byte position of the problem and what was
//! expected there.
//!
//! ```text
//! check  := or
//! or     := and ("or" and)*
//! and    := not ("and" not)*
//! not    := "not" not | cmp
//! cmp    := term (("=="|"!="|"<"|"<="|">"|">=") term | "in" list | "~" STRING)?
//! term   := NUMBER | STRING | true | false | null | list | "(" or ")"
//!         | QUANT "(" sel ")" ":" or          QUANT: all any none
//!         | "count" "(" sel ")"
//!         | AGG "(" TYPE "." PATH ("where" or)? ")"
//!                                     AGG: sum min max avg median pN
//!         | PATH                      a field of the record (inside a
//!                                     selection) or TYPE.FIELD of a
//!                                     one-per-run record (summary…)
//! sel    := TYPE ("where" or)?
//! ```

use std::fmt;

use super::schema;

/// A parse error: where, and what was expected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub pos: usize,
    pub message: String,
}

impl ParseError {
    /// The message with the expression and a caret under the position.
    pub fn explain(&self, src: &str) -> String {
        let col = src[..self.pos.min(src.len())].chars().count();
        format!(
            "in `{src}` at column {}: {}\n    {src}\n    {}^",
            col + 1,
            self.message,
            " ".repeat(col)
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    pub fn symbol(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Quant {
    All,
    Any,
    None,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Agg {
    Sum,
    Min,
    Max,
    Avg,
    /// A percentile (nearest rank), 0–100.
    Pct(f64),
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Lit {
    Null,
    Bool(bool),
    Num(f64),
}

/// A selection of records: a type and an optional condition.
#[derive(Clone, Debug)]
pub struct Selection {
    pub ty: &'static str,
    pub filter: Option<Box<Expr>>,
}

#[derive(Clone, Debug)]
pub enum Expr {
    Lit(Lit),
    Str(String),
    List(Vec<Expr>),
    /// A field of the record being looked at.
    Field(Vec<String>),
    /// A field of the run's one record of this type.
    Single(&'static str, Vec<String>),
    Count(Selection),
    Aggregate(Agg, Selection, Vec<String>),
    Quantified(Quant, Selection, Box<Expr>),
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Cmp(CmpOp, Box<Expr>, Box<Expr>),
    In(Box<Expr>, Vec<Expr>),
    Match(Box<Expr>, regex::Regex),
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Num(f64),
    Str(String),
    Ident(String),
    Op(&'static str),
    End,
}

impl fmt::Display for Tok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::Num(n) => write!(f, "number {n}"),
            Tok::Str(s) => write!(f, "string {s:?}"),
            Tok::Ident(s) => write!(f, "`{s}`"),
            Tok::Op(o) => write!(f, "`{o}`"),
            Tok::End => write!(f, "the end"),
        }
    }
}

fn lex(src: &str) -> Result<Vec<(usize, Tok)>, ParseError> {
    let b = src.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        if c.is_ascii_digit()
            || (c == b'-'
                && b.get(i + 1)
                    .is_some_and(|d| d.is_ascii_digit() || *d == b'.'))
            || (c == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit))
        {
            i += 1;
            while i < b.len() && (b[i].is_ascii_digit() || matches!(b[i], b'.' | b'e' | b'E'))
                || (i < b.len() && matches!(b[i], b'+' | b'-') && matches!(b[i - 1], b'e' | b'E'))
            {
                i += 1;
            }
            let text = &src[start..i];
            let n = text.parse::<f64>().map_err(|_| ParseError {
                pos: start,
                message: format!("`{text}` is not a number"),
            })?;
            out.push((start, Tok::Num(n)));
            continue;
        }
        if c == b'"' || c == b'\'' {
            let quote = c;
            i += 1;
            let mut s = String::new();
            loop {
                let Some(&d) = b.get(i) else {
                    return Err(ParseError {
                        pos: start,
                        message: "a string that is never closed".into(),
                    });
                };
                if d == quote {
                    i += 1;
                    break;
                }
                if d == b'\\' {
                    match b.get(i + 1) {
                        Some(&e) if e == quote || e == b'\\' => {
                            s.push(e as char);
                            i += 2;
                            continue;
                        }
                        Some(b'n') => {
                            s.push('\n');
                            i += 2;
                            continue;
                        }
                        Some(b't') => {
                            s.push('\t');
                            i += 2;
                            continue;
                        }
                        _ => {}
                    }
                }
                // Keep UTF-8 sequences whole.
                let ch = src[i..].chars().next().unwrap_or('\u{fffd}');
                s.push(ch);
                i += ch.len_utf8();
            }
            out.push((start, Tok::Str(s)));
            continue;
        }
        if c.is_ascii_alphabetic() || c == b'_' {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || matches!(b[i], b'_' | b'.')) {
                i += 1;
            }
            out.push((start, Tok::Ident(src[start..i].to_string())));
            continue;
        }
        let two = src.get(i..i + 2).unwrap_or("");
        let op: &'static str = match two {
            "==" => "==",
            "!=" => "!=",
            "<=" => "<=",
            ">=" => ">=",
            "&&" => "and",
            "||" => "or",
            _ => match c {
                b'<' => "<",
                b'>' => ">",
                b'=' => "==",
                b'!' => "not",
                b'~' => "~",
                b'(' => "(",
                b')' => ")",
                b'[' => "[",
                b']' => "]",
                b',' => ",",
                b':' => ":",
                _ => {
                    let ch = src[i..].chars().next().unwrap_or('?');
                    return Err(ParseError {
                        pos: i,
                        message: format!("unexpected character `{ch}`"),
                    });
                }
            },
        };
        i += match (op, two) {
            ("==", "==") | ("!=", _) | ("<=", _) | (">=", _) | ("and", _) | ("or", _) => 2,
            _ => 1,
        };
        out.push((start, Tok::Op(op)));
    }
    out.push((src.len(), Tok::End));
    Ok(out)
}

/// Parses an expectation; it must say something true or false.
pub fn parse(src: &str) -> Result<Expr, ParseError> {
    let toks = lex(src)?;
    let mut p = Parser {
        toks,
        at: 0,
        in_record: false,
    };
    let start = p.pos();
    let e = p.or()?;
    if p.peek() != &Tok::End {
        return Err(p.expected("`and`, `or` or the end"));
    }
    if !is_boolean(&e) {
        return Err(ParseError {
            pos: start,
            message: "expected a condition — a comparison such as `count(tcp_conn) > 0`, \
                      or all/any/none(…): …"
                .into(),
        });
    }
    Ok(e)
}

/// Whether `e` can only be true or false (a one-per-run field may be a
/// boolean too: `summary.complete`).
fn is_boolean(e: &Expr) -> bool {
    matches!(
        e,
        Expr::Lit(Lit::Bool(_))
            | Expr::Single(..)
            | Expr::Field(_)
            | Expr::Quantified(..)
            | Expr::Not(_)
            | Expr::And(..)
            | Expr::Or(..)
            | Expr::Cmp(..)
            | Expr::In(..)
            | Expr::Match(..)
    )
}

struct Parser {
    toks: Vec<(usize, Tok)>,
    at: usize,
    /// Inside a selection's condition or a quantifier's predicate: bare
    /// names are the record's fields.
    in_record: bool,
}

impl Parser {
    fn peek(&self) -> &Tok {
        &self.toks[self.at].1
    }

    fn pos(&self) -> usize {
        self.toks[self.at].0
    }

    fn bump(&mut self) -> Tok {
        let t = self.toks[self.at].1.clone();
        if self.at + 1 < self.toks.len() {
            self.at += 1;
        }
        t
    }

    fn expected(&self, what: &str) -> ParseError {
        ParseError {
            pos: self.pos(),
            message: format!("expected {what}, found {}", self.peek()),
        }
    }

    fn eat_op(&mut self, op: &str) -> bool {
        if matches!(self.peek(), Tok::Op(o) if *o == op) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn eat_word(&mut self, w: &str) -> bool {
        if matches!(self.peek(), Tok::Ident(s) if s == w) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn expect_op(&mut self, op: &str) -> Result<(), ParseError> {
        if self.eat_op(op) {
            Ok(())
        } else {
            Err(self.expected(&format!("`{op}`")))
        }
    }

    fn or(&mut self) -> Result<Expr, ParseError> {
        let mut l = self.and()?;
        while self.eat_word("or") || self.eat_op("or") {
            let r = self.and()?;
            l = Expr::Or(Box::new(l), Box::new(r));
        }
        Ok(l)
    }

    fn and(&mut self) -> Result<Expr, ParseError> {
        let mut l = self.not()?;
        while self.eat_word("and") || self.eat_op("and") {
            let r = self.not()?;
            l = Expr::And(Box::new(l), Box::new(r));
        }
        Ok(l)
    }

    fn not(&mut self) -> Result<Expr, ParseError> {
        if self.eat_word("not") || self.eat_op("not") {
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        self.cmp()
    }

    fn cmp(&mut self) -> Result<Expr, ParseError> {
        let l = self.term()?;
        let op = match self.peek() {
            Tok::Op("==") => CmpOp::Eq,
            Tok::Op("!=") => CmpOp::Ne,
            Tok::Op("<") => CmpOp::Lt,
            Tok::Op("<=") => CmpOp::Le,
            Tok::Op(">") => CmpOp::Gt,
            Tok::Op(">=") => CmpOp::Ge,
            Tok::Op("~") => {
                self.bump();
                let pos = self.pos();
                let Tok::Str(re) = self.bump() else {
                    self.at -= 1;
                    return Err(self.expected("a regular expression in quotes after `~`"));
                };
                let re = regex::Regex::new(&re).map_err(|e| ParseError {
                    pos,
                    message: format!("bad regular expression: {e}"),
                })?;
                return Ok(Expr::Match(Box::new(l), re));
            }
            Tok::Ident(w) if w == "in" => {
                self.bump();
                let pos = self.pos();
                return match self.term()? {
                    Expr::List(items) => Ok(Expr::In(Box::new(l), items)),
                    _ => Err(ParseError {
                        pos,
                        message: "expected a list `[…]` after `in`".into(),
                    }),
                };
            }
            _ => return Ok(l),
        };
        self.bump();
        let r = self.term()?;
        Ok(Expr::Cmp(op, Box::new(l), Box::new(r)))
    }

    fn selection(&mut self) -> Result<Selection, ParseError> {
        let ty = self.record_type()?;
        let filter = self.where_clause()?;
        Ok(Selection { ty, filter })
    }

    fn record_type(&mut self) -> Result<&'static str, ParseError> {
        let pos = self.pos();
        match self.peek().clone() {
            Tok::Ident(name) => match schema::record_type(&name) {
                Some(t) => {
                    self.bump();
                    Ok(t)
                }
                None => Err(ParseError {
                    pos,
                    message: format!(
                        "unknown record type `{name}`; expected one of {}",
                        schema::type_names()
                    ),
                }),
            },
            _ => Err(self.expected("a record type (tcp_conn, udp_flow, ws_message…)")),
        }
    }

    fn where_clause(&mut self) -> Result<Option<Box<Expr>>, ParseError> {
        if !self.eat_word("where") {
            return Ok(None);
        }
        Ok(Some(Box::new(self.record_predicate()?)))
    }

    fn record_predicate(&mut self) -> Result<Expr, ParseError> {
        let outer = self.in_record;
        self.in_record = true;
        let e = self.or();
        self.in_record = outer;
        e
    }

    /// Checks every field name in `e` against `ty`'s.
    fn check_fields(&self, e: &Expr, ty: &str, pos: usize) -> Result<(), ParseError> {
        let mut bad = None;
        visit_fields(e, &mut |path| {
            if bad.is_none() && !schema::has_field(ty, path) {
                bad = Some(path.join("."));
            }
        });
        match bad {
            None => Ok(()),
            Some(f) => Err(ParseError {
                // Point at the field itself where it is written.
                pos: self
                    .toks
                    .iter()
                    .find(|(p, t)| *p >= pos && matches!(t, Tok::Ident(s) if *s == f))
                    .map_or(pos, |(p, _)| *p),
                message: format!(
                    "`{ty}` records have no field `{f}`; they have {}",
                    schema::fields(ty).join(", ")
                ),
            }),
        }
    }

    fn term(&mut self) -> Result<Expr, ParseError> {
        let pos = self.pos();
        match self.peek().clone() {
            Tok::Num(n) => {
                self.bump();
                Ok(Expr::Lit(Lit::Num(n)))
            }
            Tok::Str(s) => {
                self.bump();
                Ok(Expr::Str(s))
            }
            Tok::Op("(") => {
                self.bump();
                let e = self.or()?;
                self.expect_op(")")?;
                Ok(e)
            }
            Tok::Op("[") => {
                self.bump();
                let mut items = Vec::new();
                if !self.eat_op("]") {
                    loop {
                        items.push(self.term()?);
                        if self.eat_op("]") {
                            break;
                        }
                        self.expect_op(",")?;
                    }
                }
                Ok(Expr::List(items))
            }
            Tok::Ident(w) => {
                self.bump();
                let call = matches!(self.peek(), Tok::Op("("));
                match (w.as_str(), call) {
                    ("true", _) => Ok(Expr::Lit(Lit::Bool(true))),
                    ("false", _) => Ok(Expr::Lit(Lit::Bool(false))),
                    ("null", _) => Ok(Expr::Lit(Lit::Null)),
                    ("all" | "any" | "none", true) => {
                        self.no_sets_here(pos, &w)?;
                        self.bump();
                        let sel_pos = self.pos();
                        let sel = self.selection()?;
                        self.expect_op(")")?;
                        if !self.eat_op(":") {
                            return Err(self.expected(&format!(
                                "`:` and a condition on each record after {w}(…)"
                            )));
                        }
                        let pred_pos = self.pos();
                        let pred = self.record_predicate()?;
                        if let Some(f) = &sel.filter {
                            self.check_fields(f, sel.ty, sel_pos)?;
                        }
                        self.check_fields(&pred, sel.ty, pred_pos)?;
                        let q = match w.as_str() {
                            "all" => Quant::All,
                            "any" => Quant::Any,
                            _ => Quant::None,
                        };
                        Ok(Expr::Quantified(q, sel, Box::new(pred)))
                    }
                    ("count", true) => {
                        self.no_sets_here(pos, &w)?;
                        self.bump();
                        let sel_pos = self.pos();
                        let sel = self.selection()?;
                        self.expect_op(")")?;
                        if let Some(f) = &sel.filter {
                            self.check_fields(f, sel.ty, sel_pos)?;
                        }
                        Ok(Expr::Count(sel))
                    }
                    (name, true) if aggregate(name).is_some() => {
                        self.no_sets_here(pos, name)?;
                        let agg = aggregate(name).unwrap_or(Agg::Sum);
                        self.bump();
                        let arg_pos = self.pos();
                        let Tok::Ident(arg) = self.peek().clone() else {
                            return Err(self.expected("TYPE.FIELD, e.g. tcp_conn.rtt_ms"));
                        };
                        self.bump();
                        let mut parts = arg.splitn(2, '.');
                        let ty_name = parts.next().unwrap_or_default();
                        let Some(ty) = schema::record_type(ty_name) else {
                            return Err(ParseError {
                                pos: arg_pos,
                                message: format!(
                                    "unknown record type `{ty_name}`; expected one of {}",
                                    schema::type_names()
                                ),
                            });
                        };
                        let Some(field) = parts.next() else {
                            return Err(ParseError {
                                pos: arg_pos,
                                message: format!(
                                    "{name}() needs a field: {ty_name}.FIELD, e.g. tcp_conn.rtt_ms"
                                ),
                            });
                        };
                        let path: Vec<String> = field.split('.').map(str::to_string).collect();
                        self.check_fields(&Expr::Field(path.clone()), ty, arg_pos)?;
                        let filter = self.where_clause()?;
                        if let Some(f) = &filter {
                            self.check_fields(f, ty, arg_pos)?;
                        }
                        self.expect_op(")")?;
                        Ok(Expr::Aggregate(agg, Selection { ty, filter }, path))
                    }
                    (name, true) => Err(ParseError {
                        pos,
                        message: format!(
                            "unknown function `{name}`; expected count, all, any, none, sum, \
                             min, max, avg, median or pNN (p50, p95, p99…)"
                        ),
                    }),
                    (path, false) => self.path(pos, path),
                }
            }
            _ => Err(self.expected("a value, a field, count(…), all/any/none(…) or `(`")),
        }
    }

    fn no_sets_here(&self, pos: usize, name: &str) -> Result<(), ParseError> {
        if self.in_record {
            return Err(ParseError {
                pos,
                message: format!(
                    "{name}(…) inside a condition on records; put the quantifier in \
                     parentheses to combine it: `(all(…): …) and {name}(…) …`"
                ),
            });
        }
        Ok(())
    }

    fn path(&self, pos: usize, text: &str) -> Result<Expr, ParseError> {
        let parts: Vec<String> = text.split('.').map(str::to_string).collect();
        if parts.iter().any(String::is_empty) {
            return Err(ParseError {
                pos,
                message: format!("`{text}` is not a field name"),
            });
        }
        if self.in_record {
            return Ok(Expr::Field(parts));
        }
        // Outside a selection: TYPE.FIELD of a one-per-run record.
        let ty = schema::record_type(&parts[0]);
        match ty {
            Some(t) if schema::SINGLETONS.contains(&t) && parts.len() > 1 => {
                let path = parts[1..].to_vec();
                if !schema::has_field(t, &path) {
                    return Err(ParseError {
                        pos,
                        message: format!(
                            "`{t}` has no field `{}`; it has {}",
                            path.join("."),
                            schema::fields(t).join(", ")
                        ),
                    });
                }
                Ok(Expr::Single(t, path))
            }
            Some(t) => Err(ParseError {
                pos,
                message: format!(
                    "a run has many `{t}` records: use count({t} …), all/any/none({t}): …, \
                     or an aggregate such as max({t}.FIELD)"
                ),
            }),
            None => Err(ParseError {
                pos,
                message: format!(
                    "unknown name `{text}`; outside count/all/any/none(…) only \
                     summary.FIELD, capture_stats.FIELD and meta.FIELD name values"
                ),
            }),
        }
    }
}

fn aggregate(name: &str) -> Option<Agg> {
    Some(match name {
        "sum" => Agg::Sum,
        "min" => Agg::Min,
        "max" => Agg::Max,
        "avg" | "mean" => Agg::Avg,
        "median" => Agg::Pct(50.0),
        p if p.starts_with('p') && p.len() > 1 => {
            let digits = &p[1..];
            let mut n: f64 = digits.parse().ok()?;
            // p999 reads as 99.9, as monitoring systems write it.
            if n > 100.0 && digits.len() > 2 {
                n /= 10f64.powi(digits.len() as i32 - 2);
            }
            if !(0.0..=100.0).contains(&n) {
                return None;
            }
            Agg::Pct(n)
        }
        _ => return None,
    })
}

/// Calls `f` with every record-field path in `e` (not inside nested
/// selections, which have their own type).
fn visit_fields(e: &Expr, f: &mut impl FnMut(&[String])) {
    match e {
        Expr::Field(p) => f(p),
        Expr::List(v) => v.iter().for_each(|x| visit_fields(x, f)),
        Expr::Not(a) => visit_fields(a, f),
        Expr::And(a, b) | Expr::Or(a, b) | Expr::Cmp(_, a, b) => {
            visit_fields(a, f);
            visit_fields(b, f);
        }
        Expr::In(a, v) => {
            visit_fields(a, f);
            v.iter().for_each(|x| visit_fields(x, f));
        }
        Expr::Match(a, _) => visit_fields(a, f),
        _ => {}
    }
}

/// The top-level field names an expression reads, of any type (records
/// kept for a check are pruned to these and the ones a report shows).
pub fn names_used(e: &Expr, out: &mut Vec<String>) {
    let mut add = |p: &[String]| {
        if let Some(f) = p.first() {
            if !out.contains(f) {
                out.push(f.clone());
            }
        }
    };
    match e {
        Expr::Field(p) | Expr::Single(_, p) => add(p),
        Expr::Aggregate(_, s, p) => {
            add(p);
            if let Some(f) = &s.filter {
                names_used(f, out);
            }
        }
        Expr::Count(s) => {
            if let Some(f) = &s.filter {
                names_used(f, out);
            }
        }
        Expr::Quantified(_, s, pred) => {
            if let Some(f) = &s.filter {
                names_used(f, out);
            }
            names_used(pred, out);
        }
        Expr::List(v) => v.iter().for_each(|x| names_used(x, out)),
        Expr::Not(a) | Expr::Match(a, _) => names_used(a, out),
        Expr::And(a, b) | Expr::Or(a, b) | Expr::Cmp(_, a, b) => {
            names_used(a, out);
            names_used(b, out);
        }
        Expr::In(a, v) => {
            names_used(a, out);
            v.iter().for_each(|x| names_used(x, out));
        }
        Expr::Lit(_) | Expr::Str(_) => {}
    }
}

/// The record types an expression reads (to keep only those).
pub fn types_used(e: &Expr, out: &mut Vec<&'static str>) {
    let mut add = |t: &'static str| {
        if !out.contains(&t) {
            out.push(t);
        }
    };
    match e {
        Expr::Single(t, _) => add(t),
        Expr::Count(s) | Expr::Aggregate(_, s, _) => add(s.ty),
        Expr::Quantified(_, s, p) => {
            add(s.ty);
            types_used(p, out);
        }
        Expr::Not(a) | Expr::Match(a, _) => types_used(a, out),
        Expr::And(a, b) | Expr::Or(a, b) | Expr::Cmp(_, a, b) => {
            types_used(a, out);
            types_used(b, out);
        }
        Expr::In(a, _) => types_used(a, out),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> Expr {
        parse(s).unwrap_or_else(|e| panic!("{}", e.explain(s)))
    }

    fn err(s: &str) -> (usize, String) {
        let e = parse(s).err().unwrap_or_else(|| panic!("`{s}` parsed"));
        (e.pos, e.message)
    }

    #[test]
    fn the_issue_examples_parse() {
        for s in [
            "count(tcp_conn where server_port == 8080) >= 3",
            "count(ws_violation) == 0",
            r#"count(udp_flow where service == "dns" and state == "S0") == 0"#,
            r#"all(tcp_conn where server_port == 443): state == "SF""#,
            r#"none(tcp_conn): state in ["REJ", "S0"]"#,
            r#"any(ws_message where direction == "client"): text ~ "hello""#,
            "p99(tcp_conn.rtt_ms) < 5",
            "max(ws_message.len) <= 65536",
            "sum(tcp_conn.client_bytes) > 0",
            "summary.truncated == 0",
            "summary.decode_errors == 0",
            "capture_stats.kernel_drops == 0",
            "not (count(tcp) == 0) and summary.complete",
            "p95(tcp.rtt_ms where server_port == 80) <= 1.5e1",
            "count(ws where close_code != null and not (close_code in [1000, 1001])) == 0",
        ] {
            ok(s);
        }
    }

    #[test]
    fn structure() {
        match ok("count(tcp where server_port == 80) >= 3") {
            Expr::Cmp(CmpOp::Ge, l, r) => {
                assert!(matches!(
                    *l,
                    Expr::Count(Selection {
                        ty: "tcp_conn",
                        filter: Some(_)
                    })
                ));
                assert!(matches!(*r, Expr::Lit(Lit::Num(n)) if n == 3.0));
            }
            e => panic!("{e:?}"),
        }
        // `and` binds tighter than `or`.
        match ok("summary.complete or count(tcp) > 0 and count(udp) > 0") {
            Expr::Or(_, r) => assert!(matches!(*r, Expr::And(..))),
            e => panic!("{e:?}"),
        }
        assert!(matches!(aggregate("p999"), Some(Agg::Pct(p)) if (p - 99.9).abs() < 1e-9));
        assert!(matches!(aggregate("p50"), Some(Agg::Pct(p)) if p == 50.0));
        assert!(matches!(aggregate("p100"), Some(Agg::Pct(p)) if p == 100.0));
        assert!(matches!(aggregate("p101"), Some(Agg::Pct(p)) if (p - 10.1).abs() < 1e-9));
        assert_eq!(aggregate("p"), None);
        assert_eq!(aggregate("pfoo"), None);
    }

    #[test]
    fn errors_say_where_and_what() {
        let (pos, m) = err("count(tcp_con) > 0");
        assert_eq!(pos, 6);
        assert!(
            m.starts_with("unknown record type `tcp_con`; expected one of tcp_conn"),
            "{m}"
        );
        let (pos, m) = err("count(tcp where sever_port == 80) > 0");
        assert_eq!(pos, 16);
        assert!(m.contains("no field `sever_port`"), "{m}");
        let (pos, m) = err("count(tcp) >");
        assert_eq!(pos, 12);
        assert!(m.contains("found the end"), "{m}");
        let (_, m) = err("count(tcp)");
        assert!(m.starts_with("expected a condition"), "{m}");
        let (pos, m) = err("all(tcp) state == \"SF\"");
        assert_eq!(pos, 9);
        assert!(m.contains("expected `:`"), "{m}");
        let (_, m) = err("tcp_conn.state == \"SF\"");
        assert!(m.contains("many `tcp_conn` records"), "{m}");
        let (pos, m) = err("summary.truncated == 'x");
        assert_eq!(pos, 21);
        assert!(m.contains("never closed"), "{m}");
        let (_, m) = err("all(tcp): count(udp) > 0");
        assert!(m.contains("inside a condition"), "{m}");
        let (_, m) = err("any(ws_message): text ~ \"(\"");
        assert!(m.contains("bad regular expression"), "{m}");
        let (_, m) = err("frobnicate(tcp) > 1");
        assert!(m.contains("unknown function"), "{m}");
        let (pos, m) = err("count(tcp) > 1 $");
        assert_eq!(pos, 15);
        assert!(m.contains("unexpected character `$`"), "{m}");
        let (_, m) = err("summary.trunc == 0");
        assert!(m.contains("has no field `trunc`"), "{m}");
    }

    #[test]
    fn explain_points_at_the_column() {
        let s = "count(tcp_con) > 0";
        let e = parse(s).unwrap_err();
        let text = e.explain(s);
        assert!(text.contains("at column 7"), "{text}");
        assert!(text.ends_with("\n          ^"), "{text:?}");
    }
}
