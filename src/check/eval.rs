//! Evaluating expectations as the records stream past, in bounded memory.
//!
//! Each selection of an expectation (`count(…)`, an aggregate, a quantifier)
//! is an accumulator fed every record of its type as it is made; no record
//! is kept. Counts and sums are running totals; `min`/`max` keep the extreme
//! value; percentiles are exact (nearest rank) over a column of the field's
//! numbers, 8 bytes a value and nothing else of the record. The records an
//! offender table shows are kept as rows of just the columns shown, at most
//! `--show` per selection, plus a count of the rest:
//!
//! - for `count(…)`, the selected records, in the order they were written
//!   (the first ones);
//! - for `all(…): P`, the records P does not hold for; for `none(…): P`,
//!   those it holds for — in the order they were written;
//! - for `min`/`max`/`pN` compared with a bound, the records whose own value
//!   breaks the bound, worst first (largest first against an upper bound
//!   `<`/`<=`, smallest first against a lower bound `>`/`>=`; for `==`/`!=`
//!   largest first for `max` and percentiles from p50 up, smallest first for
//!   `min` and lower percentiles), records with equal values in the order they
//!   were written.
//!
//! Values compare as JSON does: numbers numerically, strings by bytes, and
//! anything against a different type is unequal and unordered (so a null
//! RTT is neither `< 5` nor `>= 5`). A missing field is null.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use super::expr::{Agg, CmpOp, Expr, FieldPath, Lit, Quant, Selection};
use super::schema::{self, FieldDef};
use super::value::{equal, order, Val};
use crate::event::{ConnRef, Record};
use crate::time::Timestamp;

/// A record as the evaluator reads it: typed (`Record`), or parsed JSON
/// (tests, the fuzz target).
pub trait View {
    /// Its type's index in `schema::RECORDS`.
    fn ty(&self) -> usize;
    fn field(&self, f: &'static FieldDef) -> Val<'_>;
    /// The time an offender table shows, and its field.
    fn time(&self) -> Option<(&'static str, Timestamp)>;
    fn conn(&self) -> Option<ConnRef>;

    /// Every field, as an object that outlives the record (one-per-run
    /// records are kept so).
    fn snapshot(&self) -> Val<'static> {
        Val::Obj(
            schema::RECORDS[self.ty()]
                .fields
                .iter()
                .map(|f| {
                    (
                        std::borrow::Cow::Borrowed(f.name),
                        self.field(f).into_owned(),
                    )
                })
                .collect(),
        )
    }
}

impl View for Record {
    #[inline]
    fn ty(&self) -> usize {
        schema::type_index(self)
    }

    #[inline]
    fn field(&self, f: &'static FieldDef) -> Val<'_> {
        (f.get)(self)
    }

    fn time(&self) -> Option<(&'static str, Timestamp)> {
        schema::row_time(self)
    }

    fn conn(&self) -> Option<ConnRef> {
        schema::conn(self)
    }
}

/// A record read from a JSON line.
pub struct JsonRecord<'a> {
    ty: usize,
    v: &'a serde_json::Value,
}

impl<'a> JsonRecord<'a> {
    /// `None` when its `type` is not a record type.
    pub fn new(v: &'a serde_json::Value) -> Option<JsonRecord<'a>> {
        let ty = schema::record_type(v.get("type")?.as_str()?)?;
        (v["type"].as_str() == Some(schema::RECORDS[ty].name)).then_some(JsonRecord { ty, v })
    }
}

impl View for JsonRecord<'_> {
    fn ty(&self) -> usize {
        self.ty
    }

    fn field(&self, f: &'static FieldDef) -> Val<'_> {
        self.v.get(f.name).map_or(Val::Null, Val::from_json)
    }

    fn time(&self) -> Option<(&'static str, Timestamp)> {
        ["ts", "first_ts"].into_iter().find_map(|k| {
            let t = self.v.get(k)?.as_f64()?;
            Some((k, Timestamp((t * 1e9).round() as i64)))
        })
    }

    fn conn(&self) -> Option<ConnRef> {
        let port = |k: &str| self.v.get(k)?.as_u64().and_then(|p| u16::try_from(p).ok());
        let ip = |k: &str| self.v.get(k)?.as_str()?.parse().ok();
        Some(ConnRef {
            conn_id: self.v.get("conn_id")?.as_u64()?,
            client_ip: ip("client_ip")?,
            client_port: port("client_port")?,
            server_ip: ip("server_ip")?,
            server_port: port("server_port")?,
        })
    }
}

/// What an expectation came to.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// None: not applicable to this run (it has no such record, e.g.
    /// `capture_stats` in a replay).
    pub held: Option<bool>,
    /// The measured value(s).
    pub value: Shown,
    /// Why it was skipped or did not hold, in words.
    pub reason: String,
    /// The records that broke it.
    pub offenders: Offenders,
}

/// A measured value, as the report shows it.
#[derive(Debug, Clone)]
pub enum Shown {
    /// Not measured (skipped).
    None,
    Val(Val<'static>),
    /// A description (`3 of 4 tcp_conn hold`).
    Text(String),
    /// The values of the parts of an `and`/`or`.
    Parts(Vec<Shown>),
}

impl Shown {
    pub fn show(&self) -> String {
        match self {
            Shown::None => "n/a".into(),
            Shown::Val(v) => v.show(),
            Shown::Text(t) => t.clone(),
            Shown::Parts(p) => p.iter().map(Shown::show).collect::<Vec<_>>().join("; "),
        }
    }

    /// As JSON: a value of its own type, a description as a string, parts
    /// as a list, nothing as null.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        match self {
            Shown::None => out.extend_from_slice(b"null"),
            Shown::Val(v) => v.write_json(out),
            Shown::Text(t) => crate::render::json::escape_into(out, t),
            Shown::Parts(p) => {
                out.push(b'[');
                for (i, s) in p.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    s.write_json(out);
                }
                out.push(b']');
            }
        }
    }
}

/// The records behind a failure: at most `--show` of them, as rows of the
/// columns shown, and how many there were in all.
#[derive(Debug, Clone, Default)]
pub struct Offenders {
    pub columns: Vec<&'static str>,
    pub rows: Vec<Row>,
    pub total: u64,
}

impl Offenders {
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }
}

/// One offending record: its type, time, connection, and the columns.
#[derive(Debug, Clone)]
pub struct Row {
    pub ty: &'static str,
    pub time: Option<(&'static str, Timestamp)>,
    pub conn: Option<ConnRef>,
    pub cols: Vec<Val<'static>>,
}

impl Outcome {
    fn of(held: bool, value: Shown) -> Outcome {
        Outcome {
            held: Some(held),
            value,
            reason: String::new(),
            offenders: Offenders::default(),
        }
    }
}

// ---------------------------------------------------------------- records

/// A field path's value in a record.
fn path_value<'r, V: View>(rec: &'r V, p: &FieldPath) -> Val<'r> {
    let v = rec.field(p.def);
    if p.rest.is_empty() {
        v
    } else {
        v.at(&p.rest).clone()
    }
}

/// A value in the context of one record.
fn rec_value<'r, V: View>(e: &'r Expr, rec: &'r V) -> Val<'r> {
    match e {
        Expr::Lit(Lit::Null) => Val::Null,
        Expr::Lit(Lit::Bool(b)) => Val::Bool(*b),
        Expr::Lit(Lit::Num(n)) => Val::Float(*n),
        Expr::Str(s) => Val::str(s),
        Expr::List(items) => Val::List(items.iter().map(|i| rec_value(i, rec)).collect()),
        Expr::Field(p) => path_value(rec, p),
        Expr::Not(_)
        | Expr::And(_)
        | Expr::Or(_)
        | Expr::Cmp(..)
        | Expr::In(..)
        | Expr::Match(..) => Val::Bool(holds(e, rec)),
        // Selections and one-per-run values are not allowed inside a
        // condition on records (the parser says so).
        Expr::Single(..) | Expr::Count(_) | Expr::Aggregate(..) | Expr::Quantified(..) => Val::Null,
    }
}

/// Whether a condition holds for one record.
fn holds<V: View>(e: &Expr, rec: &V) -> bool {
    match e {
        Expr::And(parts) => parts.iter().all(|p| holds(p, rec)),
        Expr::Or(parts) => parts.iter().any(|p| holds(p, rec)),
        Expr::Not(a) => !holds(a, rec),
        Expr::Cmp(op, a, b) => compare(*op, &rec_value(a, rec), &rec_value(b, rec)),
        Expr::In(a, items) => {
            let v = rec_value(a, rec);
            items
                .iter()
                .any(|i| compare(CmpOp::Eq, &v, &rec_value(i, rec)))
        }
        Expr::Match(a, re) => matches!(rec_value(a, rec), Val::Str(s) if re.is_match(&s)),
        other => matches!(rec_value(other, rec), Val::Bool(true)),
    }
}

fn compare(op: CmpOp, a: &Val<'_>, b: &Val<'_>) -> bool {
    match op {
        CmpOp::Eq => equal(a, b),
        CmpOp::Ne => !equal(a, b),
        // Ordering nulls means nothing: never true.
        _ if a.is_null() || b.is_null() => false,
        CmpOp::Lt => order(a, b) == Some(Ordering::Less),
        CmpOp::Le => matches!(order(a, b), Some(Ordering::Less | Ordering::Equal)),
        CmpOp::Gt => order(a, b) == Some(Ordering::Greater),
        CmpOp::Ge => matches!(order(a, b), Some(Ordering::Greater | Ordering::Equal)),
    }
}

fn truthy(v: &Val<'_>) -> bool {
    matches!(v, Val::Bool(true))
}

// ---------------------------------------------------------- accumulators

/// What an offender table of a selection shows, and how many rows.
#[derive(Debug)]
struct Columns {
    columns: Vec<&'static FieldDef>,
    /// Rows kept (`--show`).
    limit: usize,
}

impl Columns {
    fn row<V: View>(&self, rec: &V) -> Row {
        Row {
            ty: schema::RECORDS[rec.ty()].name,
            time: rec.time(),
            conn: rec.conn(),
            cols: self
                .columns
                .iter()
                .map(|f| rec.field(f).into_owned())
                .collect(),
        }
    }

    fn names(&self) -> Vec<&'static str> {
        self.columns.iter().map(|f| f.name).collect()
    }
}

/// The first `limit` rows of a kind, in the order the records came.
#[derive(Debug, Default)]
struct FirstRows {
    rows: Vec<Row>,
    total: u64,
}

impl FirstRows {
    fn push<V: View>(&mut self, shown: &Columns, rec: &V) {
        self.total += 1;
        if self.rows.len() < shown.limit {
            self.rows.push(shown.row(rec));
        }
    }
}

/// A row in the bounded worst-first heap: the heap's top is the least bad,
/// the one to give up when a worse record comes.
#[derive(Debug)]
struct Ranked {
    /// The value, negated when smaller is worse: larger is always worse.
    badness: f64,
    seq: u64,
    value: Val<'static>,
    row: Row,
}

impl PartialEq for Ranked {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Ranked {}

impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Ranked {
    /// Greater = less bad: smaller badness, or the same and later.
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .badness
            .total_cmp(&self.badness)
            .then(self.seq.cmp(&other.seq))
    }
}

/// Which records break an aggregate's bound, worst first.
#[derive(Debug)]
struct Worst {
    op: CmpOp,
    larger_first: bool,
    /// The bound, when it is known before the run (a literal): then only
    /// offenders enter the heap, and they are counted as they come.
    bound: Option<Val<'static>>,
    heap: BinaryHeap<Ranked>,
    counted: u64,
    seq: u64,
}

impl Worst {
    fn offer<V: View>(&mut self, shown: &Columns, v: &Val<'_>, f: f64, rec: &V) {
        self.seq += 1;
        if let Some(b) = &self.bound {
            if compare(self.op, v, b) {
                return;
            }
            self.counted += 1;
        }
        if shown.limit == 0 {
            return;
        }
        let badness = if self.larger_first { f } else { -f };
        if self.heap.len() >= shown.limit {
            let least = self.heap.peek().map_or(f64::NEG_INFINITY, |t| t.badness);
            // Equal badness: the earlier record stays.
            if badness.total_cmp(&least) != Ordering::Greater {
                return;
            }
            self.heap.pop();
        }
        self.heap.push(Ranked {
            badness,
            seq: self.seq,
            value: v.clone().into_owned(),
            row: shown.row(rec),
        });
    }
}

/// The numbers of an aggregated field.
#[derive(Debug, Default)]
struct Numbers {
    n: u64,
    float_sum: f64,
    /// The exact sum while every value is an integer, or a decimal of one
    /// scale: (sum, scale).
    exact_sum: Option<(i128, u8)>,
    mixed: bool,
    min: Option<(f64, Val<'static>)>,
    max: Option<(f64, Val<'static>)>,
    column: Option<Column>,
}

/// Every value of a field (for percentiles, and to count offenders of a
/// bound known only at the end): 8 bytes a value.
#[derive(Debug)]
enum Column {
    /// Integers (scale 0) or exact decimals of one scale.
    Exact(Vec<i64>, u8),
    Float(Vec<f64>),
}

impl Column {
    fn push(&mut self, v: &Val<'_>, f: f64) {
        let exact = match *v {
            Val::Int(i) => Some((i, 0)),
            Val::Dec(d, s) => Some((d, s)),
            _ => None,
        };
        match (&mut *self, exact) {
            (Column::Exact(col, scale), Some((x, s))) if col.is_empty() || *scale == s => {
                *scale = s;
                col.push(x);
            }
            (Column::Exact(col, scale), _) => {
                let p = 10f64.powi(i32::from(*scale));
                let mut floats: Vec<f64> = col.iter().map(|x| *x as f64 / p).collect();
                floats.push(f);
                *self = Column::Float(floats);
            }
            (Column::Float(col), _) => col.push(f),
        }
    }

    fn len(&self) -> usize {
        match self {
            Column::Exact(c, _) => c.len(),
            Column::Float(c) => c.len(),
        }
    }

    /// The value of nearest rank `rank` (1-based).
    fn nth(&mut self, rank: usize) -> Val<'static> {
        let k = rank - 1;
        match self {
            Column::Exact(c, s) => {
                let (_, v, _) = c.select_nth_unstable(k);
                if *s == 0 {
                    Val::Int(*v)
                } else {
                    Val::Dec(*v, *s)
                }
            }
            Column::Float(c) => {
                let (_, v, _) = c.select_nth_unstable_by(k, f64::total_cmp);
                Val::Float(*v)
            }
        }
    }

    fn values(&self) -> Box<dyn Iterator<Item = Val<'static>> + '_> {
        match self {
            Column::Exact(c, 0) => Box::new(c.iter().map(|x| Val::Int(*x))),
            Column::Exact(c, s) => Box::new(c.iter().map(|x| Val::Dec(*x, *s))),
            Column::Float(c) => Box::new(c.iter().map(|x| Val::Float(*x))),
        }
    }
}

impl Numbers {
    fn push(&mut self, v: &Val<'_>, f: f64) {
        self.n += 1;
        self.float_sum += f;
        let exact = match *v {
            Val::Int(i) => Some((i128::from(i), 0)),
            Val::Dec(d, s) => Some((i128::from(d), s)),
            _ => None,
        };
        match (exact, &mut self.exact_sum) {
            (Some((x, s)), Some((sum, scale))) if *scale == s => *sum += x,
            (Some(e), None) if !self.mixed => self.exact_sum = Some(e),
            _ => {
                self.mixed = true;
                self.exact_sum = None;
            }
        }
        if self.min.as_ref().is_none_or(|(m, _)| f < *m) {
            self.min = Some((f, v.clone().into_owned()));
        }
        if self.max.as_ref().is_none_or(|(m, _)| f > *m) {
            self.max = Some((f, v.clone().into_owned()));
        }
        if let Some(c) = &mut self.column {
            c.push(v, f);
        }
    }

    fn result(&mut self, agg: Agg) -> Val<'static> {
        if self.n == 0 {
            return if agg == Agg::Sum {
                Val::Int(0)
            } else {
                Val::Null
            };
        }
        match agg {
            Agg::Sum => self.sum(),
            Agg::Avg => Val::Float(self.sum().as_f64().unwrap_or(self.float_sum) / self.n as f64),
            Agg::Min => self.min.as_ref().map_or(Val::Null, |(_, v)| v.clone()),
            Agg::Max => self.max.as_ref().map_or(Val::Null, |(_, v)| v.clone()),
            Agg::Pct(p) => {
                // Nearest rank: the smallest value with at least p% of the
                // values at or below it.
                let Some(col) = &mut self.column else {
                    return Val::Null;
                };
                let len = col.len();
                let rank = ((p / 100.0) * len as f64).ceil().max(1.0) as usize;
                col.nth(rank.min(len))
            }
        }
    }

    fn sum(&self) -> Val<'static> {
        match self.exact_sum {
            Some((s, 0)) => i64::try_from(s).map_or(Val::Float(s as f64), Val::Int),
            Some((s, scale)) => {
                i64::try_from(s).map_or(Val::Float(self.float_sum), |s| Val::Dec(s, scale))
            }
            None => Val::Float(self.float_sum),
        }
    }
}

/// What a selection accumulates.
#[derive(Debug)]
enum SetKind<'e> {
    Count(FirstRows),
    Quant {
        q: Quant,
        pred: &'e Expr,
        matching: u64,
        rows: FirstRows,
    },
    Agg(Box<AggState<'e>>),
}

/// An aggregate's numbers and offenders.
#[derive(Debug)]
struct AggState<'e> {
    path: &'e FieldPath,
    numbers: Numbers,
    worst: Option<Worst>,
}

/// One selection's accumulator.
#[derive(Debug)]
struct SetState<'e> {
    sel: &'e Selection,
    selected: u64,
    shown: Columns,
    kind: SetKind<'e>,
}

impl<'e> SetState<'e> {
    #[inline]
    fn observe<V: View>(&mut self, rec: &V) {
        if let Some(f) = &self.sel.filter {
            if !holds(f, rec) {
                return;
            }
        }
        self.selected += 1;
        match &mut self.kind {
            SetKind::Count(rows) => rows.push(&self.shown, rec),
            SetKind::Quant {
                q,
                pred,
                matching,
                rows,
            } => {
                let m = holds(pred, rec);
                if m {
                    *matching += 1;
                }
                match (*q, m) {
                    (Quant::All, false) | (Quant::None, true) => rows.push(&self.shown, rec),
                    _ => {}
                }
            }
            SetKind::Agg(a) => {
                let AggState {
                    path,
                    numbers,
                    worst,
                } = &mut **a;
                let v = path_value(rec, path);
                let Some(f) = v.as_f64() else {
                    return;
                };
                numbers.push(&v, f);
                if let Some(w) = worst {
                    w.offer(&self.shown, &v, f, rec);
                }
            }
        }
    }
}

/// The columns an offender table of `sel` shows: what the record is, then
/// the fields the selection reads (not the time and endpoints, which have
/// columns of their own).
fn columns(sel: &Selection, extra: &[&FieldPath]) -> Vec<&'static FieldDef> {
    let ty = sel.ty;
    let skip = [
        "client_ip",
        "client_port",
        "server_ip",
        "server_port",
        "conn_id",
        "type",
    ];
    let time_field = match schema::RECORDS[ty].name {
        "tcp_conn" | "udp_flow" | "summary" => "first_ts",
        _ => "ts",
    };
    let mut out: Vec<&'static FieldDef> = Vec::new();
    let mut add = |def: &'static FieldDef| {
        if !skip.contains(&def.name)
            && def.name != time_field
            && !out.iter().any(|d| d.name == def.name)
        {
            out.push(def);
        }
    };
    for name in schema::kind_columns(ty) {
        if let Some(def) = schema::field_def(ty, name) {
            add(def);
        }
    }
    if let Some(f) = &sel.filter {
        super::expr::visit_fields(f, &mut |p| add(p.def));
    }
    for p in extra {
        add(p.def);
    }
    // What a record is first (state, direction, rule), long text last.
    const FIRST: &[&str] = &[
        "state",
        "event",
        "direction",
        "rule",
        "status",
        "opcode_name",
    ];
    let rank = |d: &&FieldDef| match FIRST.iter().position(|f| *f == d.name) {
        Some(p) => (0, p),
        None if matches!(d.name, "detail" | "text" | "message") => (2, 0),
        None => (1, 0),
    };
    out.sort_by_key(rank);
    out
}

/// How each extreme's offenders are ranked and bounded, by selection
/// number: the comparison it is part of (aggregate on the left: `op`; on
/// the right: flipped), and the other side. One walk for the expectation.
fn comparisons(e: &Expr) -> std::collections::HashMap<usize, (CmpOp, &Expr)> {
    let mut found = std::collections::HashMap::new();
    let extreme = |x: &Expr| match x {
        Expr::Aggregate(Agg::Min | Agg::Max | Agg::Pct(_), s, _) => Some(s.id),
        _ => None,
    };
    super::expr::visit_run(e, &mut |n| {
        if let Expr::Cmp(op, a, b) = n {
            if let Some(id) = extreme(a) {
                found.entry(id).or_insert((*op, &**b));
            }
            if let Some(id) = extreme(b) {
                found.entry(id).or_insert((op.flipped(), &**a));
            }
        }
    });
    found
}

/// A value known before the run: a literal.
fn constant(e: &Expr) -> Option<Val<'static>> {
    match e {
        Expr::Lit(Lit::Null) => Some(Val::Null),
        Expr::Lit(Lit::Bool(b)) => Some(Val::Bool(*b)),
        Expr::Lit(Lit::Num(n)) => Some(Val::Float(*n)),
        Expr::Str(s) => Some(Val::Str(s.clone().into())),
        _ => None,
    }
}

// ----------------------------------------------------------- expectations

/// The accumulators of one expectation.
#[derive(Debug)]
pub struct ExprState<'e> {
    expr: &'e Expr,
    sets: Vec<SetState<'e>>,
}

impl<'e> ExprState<'e> {
    /// Accumulators for every selection of `expr`; at most `show` offender
    /// rows each.
    pub fn new(expr: &'e Expr, show: usize) -> ExprState<'e> {
        let mut sets = Vec::new();
        let bounds = comparisons(expr);
        super::expr::visit_run(expr, &mut |n| {
            let (sel, extra, kind): (&Selection, Vec<&FieldPath>, SetKind<'e>) = match n {
                Expr::Count(sel) => (sel, vec![], SetKind::Count(FirstRows::default())),
                Expr::Quantified(q, sel, pred) => {
                    let mut read = Vec::new();
                    super::expr::visit_fields(pred, &mut |p| read.push(p));
                    (
                        sel,
                        read,
                        SetKind::Quant {
                            q: *q,
                            pred,
                            matching: 0,
                            rows: FirstRows::default(),
                        },
                    )
                }
                Expr::Aggregate(agg, sel, path) => {
                    let worst = bounds.get(&sel.id).map(|&(op, bound)| {
                        let larger_first = match (op, agg) {
                            (CmpOp::Lt | CmpOp::Le, _) => true,
                            (CmpOp::Gt | CmpOp::Ge, _) => false,
                            (_, Agg::Min) => false,
                            (_, Agg::Pct(p)) => *p >= 50.0,
                            _ => true,
                        };
                        Worst {
                            op,
                            larger_first,
                            bound: constant(bound),
                            heap: BinaryHeap::new(),
                            counted: 0,
                            seq: 0,
                        }
                    });
                    // The column: for percentiles, and to count the
                    // offenders of a bound known only at the end.
                    let column = matches!(agg, Agg::Pct(_))
                        || worst.as_ref().is_some_and(|w| w.bound.is_none());
                    let numbers = Numbers {
                        column: column.then(|| Column::Exact(Vec::new(), 0)),
                        ..Numbers::default()
                    };
                    (
                        sel,
                        vec![path],
                        SetKind::Agg(Box::new(AggState {
                            path,
                            numbers,
                            worst,
                        })),
                    )
                }
                _ => return,
            };
            sets.push(SetState {
                sel,
                selected: 0,
                shown: Columns {
                    columns: columns(sel, &extra),
                    limit: show,
                },
                kind,
            });
        });
        sets.sort_by_key(|s| s.sel.id);
        debug_assert!(sets.iter().enumerate().all(|(i, s)| s.sel.id == i));
        ExprState { expr, sets }
    }

    /// (type, selection) for every selection, to route records.
    pub fn routes(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.sets.iter().enumerate().map(|(i, s)| (s.sel.ty, i))
    }

    /// The one-per-run record types it reads.
    pub fn singles(&self) -> Vec<usize> {
        let mut out = Vec::new();
        super::expr::visit_run(self.expr, &mut |n| {
            if let Expr::Single(ty, _) = n {
                out.push(*ty);
            }
        });
        out
    }

    #[inline]
    pub fn observe<V: View>(&mut self, set: usize, rec: &V) {
        self.sets[set].observe(rec);
    }

    /// The outcome, once every record has been seen.
    pub fn finish(mut self, singles: &[Option<Val<'static>>]) -> Outcome {
        let expr = self.expr;
        let mut run = Run {
            sets: &mut self.sets,
            singles,
        };
        run.evaluate(expr)
    }
}

/// The end of a run: the accumulators and the one-per-run records.
struct Run<'a, 'e> {
    sets: &'a mut [SetState<'e>],
    singles: &'a [Option<Val<'static>>],
}

fn missing(ty: usize) -> String {
    let ty = schema::RECORDS[ty].name;
    if ty == "capture_stats" {
        "no capture_stats record: it is written by live capture, not replay".into()
    } else {
        format!("no {ty} record in this run")
    }
}

fn skipped(why: String) -> Outcome {
    Outcome {
        held: None,
        value: Shown::None,
        reason: why,
        offenders: Offenders::default(),
    }
}

impl<'e> Run<'_, 'e> {
    fn set(&mut self, sel: &Selection) -> &mut SetState<'e> {
        &mut self.sets[sel.id]
    }

    /// A run-level value; `Err` names a one-per-run record the run lacks.
    fn value(&mut self, e: &Expr) -> Result<Val<'static>, String> {
        Ok(match e {
            Expr::Lit(_) | Expr::Str(_) => constant(e).unwrap_or(Val::Null),
            Expr::List(items) => Val::List(
                items
                    .iter()
                    .map(|i| self.value(i))
                    .collect::<Result<_, _>>()?,
            ),
            Expr::Field(_) => Val::Null,
            Expr::Single(ty, p) => match &self.singles[*ty] {
                Some(rec) => {
                    let v = rec.get(p.def.name);
                    v.at(&p.rest).clone()
                }
                None => return Err(missing(*ty)),
            },
            Expr::Count(sel) => Val::uint(self.set(sel).selected),
            Expr::Aggregate(agg, sel, _) => match &mut self.set(sel).kind {
                SetKind::Agg(a) => a.numbers.result(*agg),
                _ => Val::Null,
            },
            Expr::Quantified(q, sel, _) => {
                let s = self.set(sel);
                let n = s.selected;
                Val::Bool(match &s.kind {
                    SetKind::Quant { matching: m, .. } => match q {
                        Quant::All => *m == n,
                        Quant::Any => *m > 0,
                        Quant::None => *m == 0,
                    },
                    _ => false,
                })
            }
            Expr::Not(a) => Val::Bool(!truthy(&self.value(a)?)),
            Expr::And(parts) => {
                for p in parts {
                    if !truthy(&self.value(p)?) {
                        return Ok(Val::Bool(false));
                    }
                }
                Val::Bool(true)
            }
            Expr::Or(parts) => {
                for p in parts {
                    if truthy(&self.value(p)?) {
                        return Ok(Val::Bool(true));
                    }
                }
                Val::Bool(false)
            }
            Expr::Cmp(op, a, b) => Val::Bool(compare(*op, &self.value(a)?, &self.value(b)?)),
            Expr::In(a, items) => {
                let v = self.value(a)?;
                let mut found = false;
                for i in items {
                    if compare(CmpOp::Eq, &v, &self.value(i)?) {
                        found = true;
                        break;
                    }
                }
                Val::Bool(found)
            }
            Expr::Match(a, re) => {
                Val::Bool(matches!(self.value(a)?, Val::Str(s) if re.is_match(&s)))
            }
        })
    }

    fn evaluate(&mut self, e: &Expr) -> Outcome {
        match e {
            Expr::And(parts) | Expr::Or(parts) => {
                let is_and = matches!(e, Expr::And(_));
                let outs: Vec<Outcome> = parts.iter().map(|p| self.evaluate(p)).collect();
                let held = if is_and {
                    if outs.iter().any(|o| o.held == Some(false)) {
                        Some(false)
                    } else if outs.iter().any(|o| o.held.is_none()) {
                        None
                    } else {
                        Some(true)
                    }
                } else if outs.iter().any(|o| o.held == Some(true)) {
                    Some(true)
                } else if outs.iter().any(|o| o.held.is_none()) {
                    None
                } else {
                    Some(false)
                };
                let mut o = Outcome {
                    held,
                    value: Shown::Parts(outs.iter().map(|o| o.value.clone()).collect()),
                    reason: String::new(),
                    offenders: Offenders::default(),
                };
                // Explain with the first part that did not hold.
                if held != Some(true) {
                    if let Some(bad) = outs.into_iter().find(|x| x.held != Some(true)) {
                        o.reason = bad.reason;
                        o.offenders = bad.offenders;
                    }
                }
                o
            }
            Expr::Not(a) => {
                let inner = self.evaluate(a);
                Outcome {
                    held: inner.held.map(|h| !h),
                    value: inner.value,
                    reason: if inner.held.is_none() {
                        inner.reason
                    } else {
                        String::new()
                    },
                    offenders: Offenders::default(),
                }
            }
            Expr::Quantified(q, sel, _) => {
                let s = self.set(sel);
                let n = s.selected;
                let ty = sel.type_name();
                let names = s.shown.names();
                let (m, rows) = match &mut s.kind {
                    SetKind::Quant { matching, rows, .. } => (*matching, std::mem::take(rows)),
                    _ => (0, FirstRows::default()),
                };
                let offenders = Offenders {
                    columns: names,
                    rows: rows.rows,
                    total: rows.total,
                };
                match q {
                    Quant::All => {
                        let mut o =
                            Outcome::of(m == n, Shown::Text(format!("{m} of {n} {ty} hold")));
                        if m != n {
                            o.reason = format!("{} of {n} {ty} do not hold", n - m);
                            o.offenders = offenders;
                        }
                        o
                    }
                    Quant::Any => {
                        let mut o =
                            Outcome::of(m > 0, Shown::Text(format!("{m} of {n} {ty} match")));
                        if m == 0 {
                            o.reason = if n == 0 {
                                format!("no {ty} selected")
                            } else {
                                format!("none of the {n} {ty} match")
                            };
                        }
                        o
                    }
                    Quant::None => {
                        let mut o =
                            Outcome::of(m == 0, Shown::Text(format!("{m} of {n} {ty} match")));
                        if m > 0 {
                            o.reason = format!("{m} of {n} {ty} match, none should");
                            o.offenders = offenders;
                        }
                        o
                    }
                }
            }
            Expr::Cmp(op, a, b) => {
                let (va, vb) = match (self.value(a), self.value(b)) {
                    (Ok(x), Ok(y)) => (x, y),
                    (Err(why), _) | (_, Err(why)) => return skipped(why),
                };
                let held = compare(*op, &va, &vb);
                let mut o = Outcome::of(held, Shown::Val(va.clone()));
                if !held {
                    o.reason = if va.is_null() || vb.is_null() {
                        format!(
                            "{} {} {}: nothing to compare (no values)",
                            va.show(),
                            op.symbol(),
                            vb.show()
                        )
                    } else {
                        format!("{} {} {} is false", va.show(), op.symbol(), vb.show())
                    };
                    o.offenders = self.offenders(a, &vb);
                    if o.offenders.is_empty() {
                        o.offenders = self.offenders(b, &va);
                    }
                }
                o
            }
            other => match self.value(other) {
                Ok(v) => {
                    let held = truthy(&v);
                    let mut o = Outcome::of(held, Shown::Val(v.clone()));
                    if !held {
                        o.reason = if matches!(v, Val::Bool(_)) {
                            "false".into()
                        } else {
                            format!("{} is not true or false", v.show())
                        };
                    }
                    o
                }
                Err(why) => skipped(why),
            },
        }
    }

    /// The records behind a failed comparison of a count or an extreme:
    /// what was counted, or the records whose own value breaks the bound.
    fn offenders(&mut self, side: &Expr, bound: &Val<'_>) -> Offenders {
        match side {
            Expr::Count(sel) => {
                let s = self.set(sel);
                let columns = s.shown.names();
                match &mut s.kind {
                    SetKind::Count(rows) => {
                        let rows = std::mem::take(rows);
                        Offenders {
                            columns,
                            rows: rows.rows,
                            total: rows.total,
                        }
                    }
                    _ => Offenders::default(),
                }
            }
            Expr::Aggregate(Agg::Min | Agg::Max | Agg::Pct(_), sel, _) => {
                let s = self.set(sel);
                let columns = s.shown.names();
                let SetKind::Agg(a) = &mut s.kind else {
                    return Offenders::default();
                };
                let AggState { numbers, worst, .. } = &mut **a;
                let Some(w) = worst.take() else {
                    return Offenders::default();
                };
                // `w.op` is this comparison's, turned to have the aggregate
                // on the left.
                let breaks = |v: &Val<'_>| !compare(w.op, v, bound);
                let total = match (&w.bound, &numbers.column) {
                    (Some(_), _) => w.counted,
                    (None, Some(col)) => col.values().filter(|v| breaks(v)).count() as u64,
                    (None, None) => 0,
                };
                // Ascending, and greater is less bad: the worst first.
                let rows = w
                    .heap
                    .into_sorted_vec()
                    .into_iter()
                    .filter(|r| breaks(&r.value))
                    .map(|r| r.row)
                    .collect();
                Offenders {
                    columns,
                    rows,
                    total,
                }
            }
            _ => Offenders::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::expr::parse;
    use super::super::schema::TYPES;
    use super::*;
    use serde_json::json;

    fn records() -> Vec<serde_json::Value> {
        vec![
            json!({"type": "tcp_conn", "state": "SF", "server_port": 80, "rtt_ms": 1.0, "client_bytes": 10}),
            json!({"type": "tcp_conn", "state": "SF", "server_port": 80, "rtt_ms": 9.0, "client_bytes": 0}),
            json!({"type": "tcp_conn", "state": "REJ", "server_port": 81, "rtt_ms": null}),
            json!({"type": "tcp_conn", "state": "S0", "server_port": 80, "rtt_ms": 3.0}),
            json!({"type": "ws_message", "direction": "client", "text": "hello there", "len": 11}),
            json!({"type": "summary", "truncated": 0, "complete": true}),
        ]
    }

    /// Streams `recs` through the expectation `s`; offender rows keep
    /// `server_port` as their connection's mark.
    fn run(s: &str, recs: &[serde_json::Value], show: usize) -> Outcome {
        let e = parse(s).unwrap_or_else(|e| panic!("{}", e.explain(s)));
        let mut st = ExprState::new(&e, show);
        let routes: Vec<(usize, usize)> = st.routes().collect();
        let mut singles = vec![None; TYPES];
        for r in recs {
            let v = JsonRecord::new(r).unwrap();
            if schema::is_singleton(v.ty()) {
                singles[v.ty()] = Some(v.snapshot());
            }
            for &(ty, set) in &routes {
                if ty == v.ty() {
                    st.observe(set, &v);
                }
            }
        }
        st.finish(&singles)
    }

    fn check(s: &str) -> Outcome {
        run(s, &records(), 5)
    }

    /// The `state` column of the offender rows.
    fn states(o: &Outcome) -> Vec<String> {
        let i = o
            .offenders
            .columns
            .iter()
            .position(|c| *c == "state")
            .unwrap();
        o.offenders.rows.iter().map(|r| r.cols[i].cell()).collect()
    }

    #[test]
    fn counts_and_quantifiers() {
        assert_eq!(
            check("count(tcp where server_port == 80) >= 3").held,
            Some(true)
        );
        let o = check("count(tcp where state == \"REJ\") == 0");
        assert_eq!(o.held, Some(false));
        assert_eq!(states(&o), ["REJ"]);
        assert_eq!(o.offenders.total, 1);
        assert_eq!(o.value.show(), "1");
        let o = check("all(tcp where server_port == 80): state == \"SF\"");
        assert_eq!(o.held, Some(false));
        assert_eq!(states(&o), ["S0"]);
        assert_eq!(o.value.show(), "2 of 3 tcp_conn hold");
        assert_eq!(check("none(tcp): state in [\"RSTO\"]").held, Some(true));
        let o = check("none(tcp): state in [\"REJ\", \"S0\"]");
        assert_eq!(states(&o), ["REJ", "S0"]);
        assert_eq!(
            check("any(message where direction == \"client\"): text ~ \"^hel+o\"").held,
            Some(true)
        );
        assert_eq!(check("any(ws_violation): true").held, Some(false));
        assert_eq!(
            check("all(ws_violation): false").held,
            Some(true),
            "vacuous"
        );
    }

    #[test]
    fn aggregates() {
        let o = check("max(tcp.rtt_ms) < 5");
        assert_eq!((o.held, o.value.show().as_str()), (Some(false), "9"));
        assert_eq!(states(&o), ["SF"]);
        assert_eq!(o.offenders.columns, ["state", "rtt_ms"]);
        // Nearest rank over [1, 3, 9]: p50 is 3, p99 is 9.
        assert_eq!(check("p50(tcp.rtt_ms) == 3").held, Some(true));
        assert_eq!(check("p99(tcp.rtt_ms) == 9").held, Some(true));
        assert_eq!(
            check("median(tcp.rtt_ms where rtt_ms < 5) == 1").held,
            Some(true)
        );
        assert_eq!(check("avg(tcp.rtt_ms) > 4.33").held, Some(true));
        assert_eq!(check("sum(tcp.client_bytes) == 10").held, Some(true));
        assert_eq!(check("sum(udp.client_bytes) == 0").held, Some(true));
        // No values: min is null, and null is not below anything.
        let o = check("min(udp.duration) < 1");
        assert_eq!(o.held, Some(false));
        assert!(o.reason.contains("no values"), "{}", o.reason);
        // The aggregate on the right: the same offenders.
        let o = check("5 > max(tcp.rtt_ms)");
        assert_eq!((o.held, o.offenders.total), (Some(false), 1));
        // Extremes on both sides, each bounded by the other (known at the
        // end): the left one's records, largest first.
        let o = check("max(tcp.rtt_ms) < min(tcp.rtt_ms)");
        assert_eq!((o.held, o.offenders.total), (Some(false), 3));
        assert_eq!(states(&o), ["SF", "S0", "SF"]);
    }

    #[test]
    fn run_values_logic_and_missing_records() {
        assert_eq!(check("summary.truncated == 0").held, Some(true));
        assert_eq!(check("summary.complete").held, Some(true));
        assert_eq!(check("not summary.complete").held, Some(false));
        let o = check("capture_stats.kernel_drops == 0");
        assert_eq!(o.held, None);
        assert!(o.reason.contains("live capture"));
        assert_eq!(
            check("count(tcp) == 4 and capture_stats.kernel_drops == 0").held,
            None
        );
        assert_eq!(
            check("count(tcp) == 5 and capture_stats.kernel_drops == 0").held,
            Some(false)
        );
        assert_eq!(
            check("count(tcp) == 5 or summary.truncated == 0").held,
            Some(true)
        );
        let o = check("count(tcp) == 5 or count(udp) == 1");
        assert_eq!(o.held, Some(false));
        assert_eq!(o.offenders.total, 4, "the first part's counted records");
        assert_eq!(o.value.show(), "4; 0");
    }

    #[test]
    fn comparisons_follow_json_types() {
        let n = |x: f64| Val::Float(x);
        assert!(compare(CmpOp::Eq, &Val::Int(1), &n(1.0)));
        assert!(!compare(CmpOp::Eq, &Val::str("1"), &Val::Int(1)));
        assert!(compare(CmpOp::Ne, &Val::str("1"), &Val::Int(1)));
        assert!(compare(CmpOp::Eq, &Val::Null, &Val::Null));
        assert!(!compare(CmpOp::Lt, &Val::Null, &n(1.0)));
        assert!(!compare(CmpOp::Ge, &Val::Null, &n(1.0)));
        assert!(compare(CmpOp::Lt, &Val::str("a"), &Val::str("b")));
        assert!(!compare(CmpOp::Lt, &Val::str("a"), &n(1.0)));
    }

    /// A small deterministic generator (xorshift) for the property tests.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    /// Random connections: an RTT (sometimes null, often repeated), a
    /// state, a port; `conn_id` numbers them in order.
    fn random_conns(rng: &mut Rng, n: usize) -> Vec<serde_json::Value> {
        let states = ["SF", "REJ", "S0", "RSTO"];
        (0..n)
            .map(|i| {
                let rtt = match rng.below(5) {
                    0 => serde_json::Value::Null,
                    _ => json!(rng.below(50) as f64 / 4.0),
                };
                json!({"type": "tcp_conn", "conn_id": i, "rtt_ms": rtt,
                       "state": states[rng.below(4) as usize], "server_port": 80 + rng.below(3),
                       "client_ip": "10.0.0.1", "client_port": 1000 + i, "server_ip": "10.0.0.2"})
            })
            .collect()
    }

    fn ids(o: &Outcome) -> Vec<u64> {
        o.offenders
            .rows
            .iter()
            .map(|r| r.conn.unwrap().conn_id)
            .collect()
    }

    /// Property: percentiles, counts and the bounded offender lists equal
    /// what sorting every record gives — nearest rank, the worst `show`
    /// offenders (ties in record order), the first `show` counted, and the
    /// number of all of them.
    #[test]
    fn streaming_equals_sorting_everything() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for round in 0..300 {
            let n = rng.below(40) as usize;
            let show = rng.below(6) as usize;
            let recs = random_conns(&mut rng, n);
            let rtts: Vec<(u64, f64)> = recs
                .iter()
                .filter_map(|r| Some((r["conn_id"].as_u64()?, r["rtt_ms"].as_f64()?)))
                .collect();
            let bound = rng.below(14) as f64;
            let p = [1u64, 25, 50, 90, 95, 99, 100][rng.below(7) as usize];

            // pN compared with an upper bound: offenders largest first.
            let o = run(&format!("p{p}(tcp.rtt_ms) < {bound}"), &recs, show);
            let mut sorted: Vec<f64> = rtts.iter().map(|(_, v)| *v).collect();
            sorted.sort_by(f64::total_cmp);
            let want = if sorted.is_empty() {
                None
            } else {
                let rank = ((p as f64 / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
                Some(sorted[rank - 1])
            };
            assert_eq!(
                o.value.show(),
                want.map_or("null".into(), |v| Val::Float(v).show())
            );
            let held = want.is_some_and(|v| v < bound);
            assert_eq!(o.held, Some(held), "round {round}");
            if !held && want.is_some() {
                let mut bad: Vec<(u64, f64)> =
                    rtts.iter().copied().filter(|(_, v)| *v >= bound).collect();
                bad.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
                assert_eq!(o.offenders.total, bad.len() as u64, "round {round}");
                let first: Vec<u64> = bad.iter().take(show).map(|(i, _)| *i).collect();
                assert_eq!(ids(&o), first, "round {round}");
            }

            // min against a lower bound known only at the end: smallest
            // first, counted from the column.
            let o = run("min(tcp.rtt_ms) >= avg(tcp.rtt_ms)", &recs, show);
            if o.held == Some(false) && !rtts.is_empty() {
                let avg = rtts.iter().map(|(_, v)| v).sum::<f64>() / rtts.len() as f64;
                let mut bad: Vec<(u64, f64)> =
                    rtts.iter().copied().filter(|(_, v)| *v < avg).collect();
                bad.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
                assert_eq!(o.offenders.total, bad.len() as u64, "round {round}");
                let first: Vec<u64> = bad.iter().take(show).map(|(i, _)| *i).collect();
                assert_eq!(ids(&o), first, "round {round}");
            }

            // Counts and quantifiers: the first `show`, in record order.
            let o = run(r#"count(tcp where state == "REJ") == 0"#, &recs, show);
            let rej: Vec<u64> = recs
                .iter()
                .filter(|r| r["state"] == "REJ")
                .map(|r| r["conn_id"].as_u64().unwrap())
                .collect();
            assert_eq!(o.held, Some(rej.is_empty()));
            if !rej.is_empty() {
                assert_eq!(o.offenders.total, rej.len() as u64);
                assert_eq!(ids(&o), rej.iter().take(show).copied().collect::<Vec<_>>());
            }
            let o = run(
                r#"all(tcp where server_port == 80): state == "SF""#,
                &recs,
                show,
            );
            let bad: Vec<u64> = recs
                .iter()
                .filter(|r| r["server_port"] == 80 && r["state"] != "SF")
                .map(|r| r["conn_id"].as_u64().unwrap())
                .collect();
            assert_eq!(o.held, Some(bad.is_empty()));
            assert_eq!(o.offenders.total, bad.len() as u64);
            assert_eq!(ids(&o), bad.iter().take(show).copied().collect::<Vec<_>>());
        }
    }

    /// However many records break an expectation, what is kept is bounded
    /// by `--show`.
    #[test]
    fn offender_rows_are_bounded() {
        let mut rng = Rng(7);
        let recs = random_conns(&mut rng, 20_000);
        for s in [
            "max(tcp.rtt_ms) < 0",
            "min(tcp.rtt_ms) > 100",
            r#"none(tcp): state != "OTH""#,
            "count(tcp) == 0",
        ] {
            let o = run(s, &recs, 3);
            assert_eq!(o.held, Some(false), "{s}");
            assert_eq!(o.offenders.rows.len(), 3, "{s}");
            assert!(o.offenders.total > 10_000, "{s}: {}", o.offenders.total);
        }
    }
}
