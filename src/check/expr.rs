//! The expectation language: a lexer and a recursive-descent parser to an
//! [`Expr`] tree. Errors carry the byte position of the problem and what was
//! expected there (with the nearest name when one was misspelt).
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
//!
//! Parentheses, `not` and lists nest at most [`MAX_DEPTH`] deep, so that
//! neither the parser nor evaluation can exhaust the stack; `and` and `or`
//! chains are flat lists, of any length.

use std::fmt;

use super::schema::{self, FieldDef};

/// How deep parentheses, `not`s and lists may nest.
pub const MAX_DEPTH: usize = 100;

/// Characters of an expression shown around an error's position (a long
/// one is cut to them).
const SHOWN_AROUND: usize = 30;

/// A parse error: where, and what was expected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub pos: usize,
    pub message: String,
}

impl ParseError {
    /// The message with the expression (the part around the position, when
    /// it is long) and a caret under the position.
    pub fn explain(&self, src: &str) -> String {
        let pos = self.pos.min(src.len());
        let col = src.get(..pos).map_or(pos, |s| s.chars().count());
        let chars: Vec<char> = src.chars().collect();
        let (shown, caret) = if chars.len() <= 4 * SHOWN_AROUND {
            (src.to_string(), col)
        } else {
            let start = col.saturating_sub(SHOWN_AROUND);
            let end = (col + SHOWN_AROUND).min(chars.len());
            let mut s = String::new();
            let mut caret = col - start;
            if start > 0 {
                s.push('…');
                caret += 1;
            }
            s.extend(&chars[start..end]);
            if end < chars.len() {
                s.push('…');
            }
            (s, caret)
        };
        format!(
            "in `{shown}` at column {}: {}\n    {shown}\n    {}^",
            col + 1,
            self.message,
            " ".repeat(caret)
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

    /// The operator with its operands swapped (`a < b` is `b > a`).
    pub fn flipped(self) -> CmpOp {
        match self {
            CmpOp::Lt => CmpOp::Gt,
            CmpOp::Le => CmpOp::Ge,
            CmpOp::Gt => CmpOp::Lt,
            CmpOp::Ge => CmpOp::Le,
            other => other,
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

/// A field and, for a nested object, the keys inside it
/// (`options.mss`, `link_types.ETHERNET`).
#[derive(Clone, Debug)]
pub struct FieldPath {
    pub def: &'static FieldDef,
    pub rest: Vec<String>,
}

/// A selection of records: a type (its index in `schema::RECORDS`), an
/// optional condition, and its number among the expectation's selections.
#[derive(Clone, Debug)]
pub struct Selection {
    pub ty: usize,
    pub filter: Option<Box<Expr>>,
    pub id: usize,
}

impl Selection {
    pub fn type_name(&self) -> &'static str {
        schema::RECORDS[self.ty].name
    }
}

#[derive(Clone, Debug)]
pub enum Expr {
    Lit(Lit),
    Str(String),
    List(Vec<Expr>),
    /// A field of the record being looked at.
    Field(FieldPath),
    /// A field of the run's one record of this type.
    Single(usize, FieldPath),
    Count(Selection),
    Aggregate(Agg, Selection, FieldPath),
    Quantified(Quant, Selection, Box<Expr>),
    Not(Box<Expr>),
    And(Vec<Expr>),
    Or(Vec<Expr>),
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
            if !n.is_finite() {
                return Err(ParseError {
                    pos: start,
                    message: format!(
                        "`{text}` is out of range (numbers are doubles, at most about 1.8e308)"
                    ),
                });
            }
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
        ctx: None,
        depth: 0,
        sets: 0,
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

/// ` (did you mean `x`?)` when there is a nearest candidate.
fn did_you_mean<'c>(word: &str, candidates: impl IntoIterator<Item = &'c str>) -> String {
    schema::nearest(word, candidates)
        .map(|c| format!(" (did you mean `{c}`?)"))
        .unwrap_or_default()
}

const FUNCTIONS: &[&str] = &[
    "count", "all", "any", "none", "sum", "min", "max", "avg", "median",
];

struct Parser {
    toks: Vec<(usize, Tok)>,
    at: usize,
    /// Inside a selection's condition or a quantifier's predicate: the
    /// type whose fields bare names are.
    ctx: Option<usize>,
    /// Parentheses, `not`s and lists open around the current token.
    depth: usize,
    /// Selections numbered so far.
    sets: usize,
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

    fn is_op(&self, op: &str) -> bool {
        matches!(self.peek(), Tok::Op(o) if *o == op)
    }

    fn is_word(&self, w: &str) -> bool {
        matches!(self.peek(), Tok::Ident(s) if s == w)
    }

    fn eat_op(&mut self, op: &str) -> bool {
        if self.is_op(op) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn eat_word(&mut self, w: &str) -> bool {
        if self.is_word(w) {
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

    /// One level deeper, at the current token; an error past the limit.
    fn deeper(&mut self) -> Result<(), ParseError> {
        if self.depth >= MAX_DEPTH {
            return Err(ParseError {
                pos: self.pos(),
                message: format!("nested more than {MAX_DEPTH} deep"),
            });
        }
        self.depth += 1;
        Ok(())
    }

    fn next_set(&mut self) -> usize {
        self.sets += 1;
        self.sets - 1
    }

    fn or(&mut self) -> Result<Expr, ParseError> {
        let first = self.and()?;
        if !(self.is_word("or") || self.is_op("or")) {
            return Ok(first);
        }
        let mut parts = vec![first];
        while self.eat_word("or") || self.eat_op("or") {
            parts.push(self.and()?);
        }
        Ok(Expr::Or(parts))
    }

    fn and(&mut self) -> Result<Expr, ParseError> {
        let first = self.not()?;
        if !(self.is_word("and") || self.is_op("and")) {
            return Ok(first);
        }
        let mut parts = vec![first];
        while self.eat_word("and") || self.eat_op("and") {
            parts.push(self.not()?);
        }
        Ok(Expr::And(parts))
    }

    fn not(&mut self) -> Result<Expr, ParseError> {
        if self.is_word("not") || self.is_op("not") {
            self.deeper()?;
            self.bump();
            let inner = self.not()?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(inner)));
        }
        self.cmp()
    }

    fn cmp(&mut self) -> Result<Expr, ParseError> {
        let lpos = self.pos();
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
                if !self.is_op("[") {
                    return Err(ParseError {
                        pos: self.pos(),
                        message: "expected a list `[…]` after `in`".into(),
                    });
                }
                let items = self.list()?;
                for (pos, item) in &items {
                    self.check_value(&l, item, *pos)?;
                }
                return Ok(Expr::In(
                    Box::new(l),
                    items.into_iter().map(|(_, e)| e).collect(),
                ));
            }
            _ => return Ok(l),
        };
        self.bump();
        let rpos = self.pos();
        let r = self.term()?;
        if matches!(op, CmpOp::Eq | CmpOp::Ne) {
            self.check_value(&l, &r, rpos)?;
            self.check_value(&r, &l, lpos)?;
        }
        Ok(Expr::Cmp(op, Box::new(l), Box::new(r)))
    }

    /// A string compared with an enumerated field must be one of its values.
    fn check_value(&self, field: &Expr, lit: &Expr, pos: usize) -> Result<(), ParseError> {
        let Expr::Str(s) = lit else {
            return Ok(());
        };
        let (ty, path) = match field {
            Expr::Field(p) => match self.ctx {
                Some(ty) => (ty, p),
                None => return Ok(()),
            },
            Expr::Single(ty, p) => (*ty, p),
            _ => return Ok(()),
        };
        if !path.rest.is_empty() {
            return Ok(());
        }
        let Some(values) = schema::enum_values(ty, path.def.name) else {
            return Ok(());
        };
        if values.contains(s) {
            return Ok(());
        }
        let list: Vec<&str> = values.iter().collect();
        let hint = schema::nearest(s, list.iter().copied())
            .map(|c| format!("; did you mean \"{c}\"?"))
            .unwrap_or_default();
        Err(ParseError {
            pos,
            message: format!(
                "{}.{} is never {s:?}: it is one of {}{hint}",
                schema::RECORDS[ty].name,
                path.def.name,
                list.join(", ")
            ),
        })
    }

    /// `[` items `]`, each with its position.
    fn list(&mut self) -> Result<Vec<(usize, Expr)>, ParseError> {
        self.deeper()?;
        self.expect_op("[")?;
        let mut items = Vec::new();
        if !self.eat_op("]") {
            loop {
                let pos = self.pos();
                items.push((pos, self.term()?));
                if self.eat_op("]") {
                    break;
                }
                self.expect_op(",")?;
            }
        }
        self.depth -= 1;
        Ok(items)
    }

    fn selection(&mut self) -> Result<Selection, ParseError> {
        let ty = self.record_type()?;
        let filter = self.where_clause(ty)?;
        Ok(Selection {
            ty,
            filter,
            id: self.next_set(),
        })
    }

    fn record_type(&mut self) -> Result<usize, ParseError> {
        let pos = self.pos();
        match self.peek().clone() {
            Tok::Ident(name) => match schema::record_type(&name) {
                Some(t) => {
                    self.bump();
                    Ok(t)
                }
                None => Err(unknown_type(pos, &name)),
            },
            _ => Err(self.expected("a record type (tcp_conn, udp_flow, ws_message…)")),
        }
    }

    fn where_clause(&mut self, ty: usize) -> Result<Option<Box<Expr>>, ParseError> {
        if !self.eat_word("where") {
            return Ok(None);
        }
        Ok(Some(Box::new(self.record_predicate(ty)?)))
    }

    fn record_predicate(&mut self, ty: usize) -> Result<Expr, ParseError> {
        let outer = self.ctx;
        self.ctx = Some(ty);
        let e = self.or();
        self.ctx = outer;
        e
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
                self.deeper()?;
                self.bump();
                let e = self.or()?;
                self.expect_op(")")?;
                self.depth -= 1;
                Ok(e)
            }
            Tok::Op("[") => Ok(Expr::List(
                self.list()?.into_iter().map(|(_, e)| e).collect(),
            )),
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
                        let sel = self.selection()?;
                        self.expect_op(")")?;
                        if !self.eat_op(":") {
                            return Err(self.expected(&format!(
                                "`:` and a condition on each record after {w}(…)"
                            )));
                        }
                        let pred = self.record_predicate(sel.ty)?;
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
                        let sel = self.selection()?;
                        self.expect_op(")")?;
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
                            return Err(unknown_type(arg_pos, ty_name));
                        };
                        let Some(field) = parts.next() else {
                            return Err(ParseError {
                                pos: arg_pos,
                                message: format!(
                                    "{name}() needs a field: {ty_name}.FIELD, e.g. tcp_conn.rtt_ms"
                                ),
                            });
                        };
                        let path = field_path(ty, field, arg_pos)?;
                        let filter = self.where_clause(ty)?;
                        self.expect_op(")")?;
                        let sel = Selection {
                            ty,
                            filter,
                            id: self.next_set(),
                        };
                        Ok(Expr::Aggregate(agg, sel, path))
                    }
                    (name, true) => Err(ParseError {
                        pos,
                        message: format!(
                            "unknown function `{name}`{}; expected count, all, any, none, sum, \
                             min, max, avg, median or pNN (p50, p95, p99…)",
                            did_you_mean(name, FUNCTIONS.iter().copied())
                        ),
                    }),
                    (path, false) => self.path(pos, path),
                }
            }
            _ => Err(self.expected("a value, a field, count(…), all/any/none(…) or `(`")),
        }
    }

    fn no_sets_here(&self, pos: usize, name: &str) -> Result<(), ParseError> {
        if self.ctx.is_some() {
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
        if text.split('.').any(str::is_empty) {
            return Err(ParseError {
                pos,
                message: format!("`{text}` is not a field name"),
            });
        }
        if let Some(ty) = self.ctx {
            return field_path(ty, text, pos).map(Expr::Field);
        }
        // Outside a selection: TYPE.FIELD of a one-per-run record.
        let (first, rest) = text.split_once('.').unwrap_or((text, ""));
        match schema::record_type(first) {
            Some(t) if schema::is_singleton(t) && !rest.is_empty() => {
                Ok(Expr::Single(t, field_path(t, rest, pos)?))
            }
            Some(t) => {
                let t = schema::RECORDS[t].name;
                Err(ParseError {
                    pos,
                    message: format!(
                        "a run has many `{t}` records: use count({t} …), all/any/none({t}): …, \
                         or an aggregate such as max({t}.FIELD)"
                    ),
                })
            }
            None => {
                let singles = schema::SINGLETONS.iter().copied();
                let hint = if rest.is_empty() {
                    quote_hint(text, singles.filter_map(schema::record_type))
                } else {
                    String::new()
                };
                Err(ParseError {
                    pos,
                    message: format!(
                        "unknown name `{text}`{}{hint}; outside count/all/any/none(…) only \
                         summary.FIELD, capture_stats.FIELD and meta.FIELD name values",
                        if hint.is_empty() {
                            did_you_mean(first, schema::type_names())
                        } else {
                            String::new()
                        }
                    ),
                })
            }
        }
    }
}

fn unknown_type(pos: usize, name: &str) -> ParseError {
    ParseError {
        pos,
        message: format!(
            "unknown record type `{name}`{}; expected one of {}",
            did_you_mean(name, schema::type_names()),
            schema::type_names().join(", ")
        ),
    }
}

/// `FIELD` or `FIELD.KEY…` of `ty`; an error says what the type has, the
/// nearest name, or that a bare word is one of a field's values.
fn field_path(ty: usize, text: &str, pos: usize) -> Result<FieldPath, ParseError> {
    let mut parts = text.split('.');
    let first = parts.next().unwrap_or_default();
    match schema::field_def(ty, first) {
        Some(def) => Ok(FieldPath {
            def,
            rest: parts.map(str::to_string).collect(),
        }),
        None => {
            let t = schema::RECORDS[ty].name;
            let fields = schema::fields(t);
            let quote = if text.contains('.') {
                String::new()
            } else {
                quote_hint(text, [ty])
            };
            let near = if quote.is_empty() {
                did_you_mean(first, fields.iter().copied())
            } else {
                String::new()
            };
            let what = if schema::is_singleton(ty) {
                format!("`{t}` has no field `{first}`{near}{quote}; it has")
            } else {
                format!("`{t}` records have no field `{first}`{near}{quote}; they have")
            };
            Err(ParseError {
                pos,
                message: format!("{what} {}", fields.join(", ")),
            })
        }
    }
}

/// `; `REJ` is a value of state: quote it, state == "REJ"` when a bare
/// word is (but for case) a value of an enumerated field of these types.
fn quote_hint(word: &str, types: impl IntoIterator<Item = usize>) -> String {
    for ty in types {
        for def in schema::RECORDS[ty].fields {
            let Some(values) = schema::enum_values(ty, def.name) else {
                continue;
            };
            if let Some(v) = values.iter().find(|v| v.eq_ignore_ascii_case(word)) {
                let field = if schema::is_singleton(ty) {
                    format!("{}.{}", schema::RECORDS[ty].name, def.name)
                } else {
                    def.name.to_string()
                };
                return format!("; `{word}` is a value of {field}: quote it, {field} == \"{v}\"");
            }
        }
    }
    String::new()
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

/// Calls `f` with every field path an expression on records reads.
pub fn visit_fields<'e>(e: &'e Expr, f: &mut impl FnMut(&'e FieldPath)) {
    match e {
        Expr::Field(p) => f(p),
        Expr::List(v) | Expr::And(v) | Expr::Or(v) => v.iter().for_each(|x| visit_fields(x, f)),
        Expr::Not(a) | Expr::Match(a, _) => visit_fields(a, f),
        Expr::Cmp(_, a, b) => {
            visit_fields(a, f);
            visit_fields(b, f);
        }
        Expr::In(a, v) => {
            visit_fields(a, f);
            v.iter().for_each(|x| visit_fields(x, f));
        }
        _ => {}
    }
}

/// Calls `f` with every run-level node of an expectation: the selections
/// (count, aggregates, quantifiers) and one-per-run fields, outermost first.
pub fn visit_run<'e>(e: &'e Expr, f: &mut impl FnMut(&'e Expr)) {
    f(e);
    match e {
        Expr::List(v) | Expr::And(v) | Expr::Or(v) => v.iter().for_each(|x| visit_run(x, f)),
        Expr::Not(a) | Expr::Match(a, _) => visit_run(a, f),
        Expr::Cmp(_, a, b) => {
            visit_run(a, f);
            visit_run(b, f);
        }
        Expr::In(a, v) => {
            visit_run(a, f);
            v.iter().for_each(|x| visit_run(x, f));
        }
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
                    &*l,
                    Expr::Count(Selection {
                        ty: 0,
                        filter: Some(_),
                        id: 0,
                    })
                ));
                assert!(matches!(*r, Expr::Lit(Lit::Num(n)) if n == 3.0));
            }
            e => panic!("{e:?}"),
        }
        // `and` binds tighter than `or`; chains are flat.
        match ok("summary.complete or count(tcp) > 0 and count(udp) > 0 and count(ws) > 0") {
            Expr::Or(v) => assert!(matches!(&v[..], [_, Expr::And(a)] if a.len() == 3)),
            e => panic!("{e:?}"),
        }
        // Selections are numbered in the order they are written.
        let mut ids = Vec::new();
        visit_run(
            &ok("count(tcp) > 0 and max(udp.duration) < 1 and all(ws): status == 101"),
            &mut |n| match n {
                Expr::Count(s) | Expr::Aggregate(_, s, _) | Expr::Quantified(_, s, _) => {
                    ids.push(s.id)
                }
                _ => {}
            },
        );
        assert_eq!(ids, [0, 1, 2]);
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
            m.starts_with(
                "unknown record type `tcp_con` (did you mean `tcp_conn`?); expected one of tcp_conn"
            ),
            "{m}"
        );
        let (pos, m) = err("count(tcp where sever_port == 80) > 0");
        assert_eq!(pos, 16);
        assert!(
            m.starts_with(
                "`tcp_conn` records have no field `sever_port` (did you mean `server_port`?); \
                 they have conn_id, client_ip"
            ),
            "{m}"
        );
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
        assert!(
            m.contains("has no field `trunc` (did you mean `truncated`?)"),
            "{m}"
        );
    }

    #[test]
    fn nesting_is_bounded_and_chains_are_not_nesting() {
        let at = |s: &str| {
            let (pos, m) = err(s);
            assert_eq!(m, "nested more than 100 deep", "{s}");
            pos
        };
        let parens = |n: usize| format!("{}count(tcp) > 0{}", "(".repeat(n), ")".repeat(n));
        ok(&parens(MAX_DEPTH));
        assert_eq!(at(&parens(MAX_DEPTH + 1)), MAX_DEPTH);
        assert_eq!(at(&parens(100_000)), MAX_DEPTH);
        ok(&format!("{}count(tcp) > 0", "not ".repeat(MAX_DEPTH)));
        assert_eq!(
            at(&format!("{}count(tcp) > 0", "not ".repeat(10_000))),
            4 * MAX_DEPTH
        );
        assert_eq!(
            at(&format!("{}count(tcp) > 0", "!".repeat(10_000))),
            MAX_DEPTH
        );
        let lists = format!("count(tcp) in {}1{}", "[".repeat(200), "]".repeat(200));
        assert_eq!(at(&lists), 14 + MAX_DEPTH);
        let inside = format!(
            "all(tcp): {}state == \"SF\"{}",
            "(".repeat(200),
            ")".repeat(200)
        );
        assert_eq!(at(&inside), 10 + MAX_DEPTH);
        let chain = vec!["count(tcp) > 0"; 20_000].join(" or ");
        assert!(matches!(ok(&chain), Expr::Or(v) if v.len() == 20_000));
        // A long expression's error shows the part around the column.
        let text = parse(&parens(5000)).unwrap_err().explain(&parens(5000));
        assert!(
            text.starts_with("in `…((((") && text.contains("at column 101: "),
            "{text}"
        );
        assert!(text.len() < 300, "{text}");
    }

    #[test]
    fn numbers_out_of_range() {
        for (s, pos) in [("count(tcp) < 1e400", 13), ("count(tcp) > -1e400", 13)] {
            let (p, m) = err(s);
            assert_eq!(p, pos);
            assert!(m.contains("out of range"), "{m}");
        }
        ok("count(tcp) < 1e300 and count(tcp) > -1.5e308");
    }

    #[test]
    fn enumerated_values_are_checked_with_their_position() {
        let (pos, m) = err(r#"count(tcp where state == "rej") == 0"#);
        assert_eq!(pos, 25);
        assert_eq!(
            m,
            "tcp_conn.state is never \"rej\": it is one of S0, S1, SF, REJ, S2, S3, RSTO, RSTR, \
             RSTOS0, RSTRH, SH, SHR, OTH; did you mean \"REJ\"?"
        );
        let (pos, _) = err(r#"none(tcp): state in ["REJ", "SO"]"#);
        assert_eq!(pos, 28);
        let (pos, m) = err(r#""tcp" != meta.command"#);
        assert_eq!(pos, 0);
        assert!(m.starts_with("meta.command is never \"tcp\""), "{m}");
        let (_, m) = err(r#"count(frame where opcode_name == "txt") == 0"#);
        assert!(m.ends_with("did you mean \"text\"?"), "{m}");
        // Fields that are not enumerated, ordering and patterns take any string.
        ok(r#"count(tcp where history == "anything" and state > "R" and state ~ "^R") >= 0"#);
        ok(r#"all(upgrade): target == "/x""#);
        // A bare word that is a value: quote it.
        let (_, m) = err("count(tcp where state == REJ) == 0");
        assert!(
            m.contains(r#"`REJ` is a value of state: quote it, state == "REJ""#),
            "{m}"
        );
        let (_, m) = err("summary.format == pcapng");
        assert!(
            m.contains(
                r#"`pcapng` is a value of summary.format: quote it, summary.format == "pcapng""#
            ),
            "{m}"
        );
    }

    #[test]
    fn names_get_suggestions() {
        for (s, says) in [
            ("count(tcp where rtt < 1) == 0", "(did you mean `rtt_ms`?)"),
            ("cuont(tcp) > 0", "(did you mean `count`?)"),
            ("sumary.truncated == 0", "(did you mean `summary`?)"),
            ("p99(tcp.rtt) < 1", "(did you mean `rtt_ms`?)"),
        ] {
            let (_, m) = err(s);
            assert!(m.contains(says), "{s}: {m}");
        }
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
