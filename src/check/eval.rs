//! Evaluating an expectation over one run's records (JSON values, exactly
//! as `--format json` writes them).
//!
//! Values compare as JSON does: numbers numerically, strings by bytes, and
//! anything against a different type is unequal and unordered (so a null
//! RTT is neither `< 5` nor `>= 5`). A missing field is null.

use std::cmp::Ordering;
use std::collections::HashMap;

use serde_json::Value;

use super::expr::{Agg, CmpOp, Expr, Lit, Quant, Selection};

/// One run's records, by type.
#[derive(Debug, Default)]
pub struct Records {
    pub by_type: HashMap<&'static str, Vec<Value>>,
}

impl Records {
    pub fn of(&self, ty: &str) -> &[Value] {
        self.by_type.get(ty).map_or(&[], Vec::as_slice)
    }
}

/// What an expectation came to.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// None: not applicable to this run (it has no such record, e.g.
    /// `capture_stats` in a replay).
    pub held: Option<bool>,
    /// The measured value(s), as the report shows them.
    pub value: String,
    /// Why it was skipped or did not hold, in words.
    pub reason: String,
    /// The records that broke it, worst first (type, index), and how many.
    pub offenders: Vec<(&'static str, usize)>,
}

impl Outcome {
    fn of(held: bool, value: String) -> Outcome {
        Outcome {
            held: Some(held),
            value,
            reason: String::new(),
            offenders: Vec::new(),
        }
    }
}

fn field<'a>(rec: &'a Value, path: &[String]) -> &'a Value {
    let mut v = rec;
    for p in path {
        v = v.get(p.as_str()).unwrap_or(&Value::Null);
    }
    v
}

fn num(n: f64) -> Value {
    serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number)
}

/// A value in the report: JSON, integers without a fraction.
pub fn show(v: &Value) -> String {
    match v {
        Value::Number(n) => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
            Some(f) => format!("{}", (f * 1e6).round() / 1e6),
            None => n.to_string(),
        },
        other => other.to_string(),
    }
}

fn order(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        (Value::Null, Value::Null) => Some(Ordering::Equal),
        _ => None,
    }
}

fn compare(op: CmpOp, a: &Value, b: &Value) -> bool {
    let o = order(a, b);
    match op {
        CmpOp::Eq => o == Some(Ordering::Equal) || (a == b),
        CmpOp::Ne => !(o == Some(Ordering::Equal) || a == b),
        // Ordering nulls means nothing: never true.
        _ if a.is_null() || b.is_null() => false,
        CmpOp::Lt => o == Some(Ordering::Less),
        CmpOp::Le => matches!(o, Some(Ordering::Less | Ordering::Equal)),
        CmpOp::Gt => o == Some(Ordering::Greater),
        CmpOp::Ge => matches!(o, Some(Ordering::Greater | Ordering::Equal)),
    }
}

fn truthy(v: &Value) -> bool {
    matches!(v, Value::Bool(true))
}

/// A value in the context of one record (`rec`) or of the run (`None`).
/// `Err` names a one-per-run record the run does not have.
fn value(e: &Expr, rec: Option<&Value>, rs: &Records) -> Result<Value, String> {
    Ok(match e {
        Expr::Lit(Lit::Null) => Value::Null,
        Expr::Lit(Lit::Bool(b)) => Value::Bool(*b),
        Expr::Lit(Lit::Num(n)) => num(*n),
        Expr::Str(s) => Value::String(s.clone()),
        Expr::List(items) => Value::Array(
            items
                .iter()
                .map(|i| value(i, rec, rs))
                .collect::<Result<_, _>>()?,
        ),
        Expr::Field(p) => rec.map_or(Value::Null, |r| field(r, p).clone()),
        Expr::Single(ty, p) => match rs.of(ty).last() {
            Some(r) => field(r, p).clone(),
            None => return Err(missing(ty)),
        },
        Expr::Count(sel) => num(select(sel, rs).len() as f64),
        Expr::Aggregate(agg, sel, p) => {
            let vals = numbers(&select(sel, rs), sel.ty, p, rs);
            aggregate(*agg, vals)
        }
        Expr::Quantified(q, sel, pred) => {
            let (selected, matching) = quantify(sel, pred, rs);
            Value::Bool(match q {
                Quant::All => matching.len() == selected.len(),
                Quant::Any => !matching.is_empty(),
                Quant::None => matching.is_empty(),
            })
        }
        Expr::Not(a) => Value::Bool(!truthy(&value(a, rec, rs)?)),
        Expr::And(a, b) => Value::Bool(truthy(&value(a, rec, rs)?) && truthy(&value(b, rec, rs)?)),
        Expr::Or(a, b) => Value::Bool(truthy(&value(a, rec, rs)?) || truthy(&value(b, rec, rs)?)),
        Expr::Cmp(op, a, b) => Value::Bool(compare(*op, &value(a, rec, rs)?, &value(b, rec, rs)?)),
        Expr::In(a, items) => {
            let v = value(a, rec, rs)?;
            let mut found = false;
            for i in items {
                if compare(CmpOp::Eq, &v, &value(i, rec, rs)?) {
                    found = true;
                    break;
                }
            }
            Value::Bool(found)
        }
        Expr::Match(a, re) => Value::Bool(match value(a, rec, rs)? {
            Value::String(s) => re.is_match(&s),
            _ => false,
        }),
    })
}

fn missing(ty: &str) -> String {
    if ty == "capture_stats" {
        "no capture_stats record: it is written by live capture, not replay".into()
    } else {
        format!("no {ty} record in this run")
    }
}

/// Indices of the records `sel` selects.
fn select(sel: &Selection, rs: &Records) -> Vec<usize> {
    rs.of(sel.ty)
        .iter()
        .enumerate()
        .filter(|(_, r)| {
            sel.filter
                .as_deref()
                .map_or(true, |f| value(f, Some(r), rs).is_ok_and(|v| truthy(&v)))
        })
        .map(|(i, _)| i)
        .collect()
}

/// (selected, of which the predicate holds).
fn quantify(sel: &Selection, pred: &Expr, rs: &Records) -> (Vec<usize>, Vec<usize>) {
    let selected = select(sel, rs);
    let all = rs.of(sel.ty);
    let matching = selected
        .iter()
        .copied()
        .filter(|&i| value(pred, Some(&all[i]), rs).is_ok_and(|v| truthy(&v)))
        .collect();
    (selected, matching)
}

/// The numeric values of `path` in the selected records (others skipped).
fn numbers(idx: &[usize], ty: &str, path: &[String], rs: &Records) -> Vec<f64> {
    let all = rs.of(ty);
    idx.iter()
        .filter_map(|&i| field(&all[i], path).as_f64())
        .collect()
}

fn aggregate(agg: Agg, mut v: Vec<f64>) -> Value {
    if v.is_empty() {
        return if agg == Agg::Sum {
            num(0.0)
        } else {
            Value::Null
        };
    }
    match agg {
        Agg::Sum => num(v.iter().sum()),
        Agg::Min => num(v.iter().copied().fold(f64::INFINITY, f64::min)),
        Agg::Max => num(v.iter().copied().fold(f64::NEG_INFINITY, f64::max)),
        Agg::Avg => num(v.iter().sum::<f64>() / v.len() as f64),
        Agg::Pct(p) => {
            // Nearest rank: the smallest value with at least p% of the
            // values at or below it.
            v.sort_by(f64::total_cmp);
            let rank = ((p / 100.0) * v.len() as f64).ceil().max(1.0) as usize;
            num(v[rank.min(v.len()) - 1])
        }
    }
}

fn describe_sel(sel: &Selection) -> &'static str {
    sel.ty
}

/// Evaluates an expectation over a run.
pub fn evaluate(e: &Expr, rs: &Records) -> Outcome {
    match e {
        Expr::And(a, b) | Expr::Or(a, b) => {
            let (oa, ob) = (evaluate(a, rs), evaluate(b, rs));
            let is_and = matches!(e, Expr::And(..));
            let held = match (oa.held, ob.held, is_and) {
                (Some(false), _, true) | (_, Some(false), true) => Some(false),
                (Some(true), _, false) | (_, Some(true), false) => Some(true),
                (None, _, _) | (_, None, _) => None,
                (Some(x), Some(_), _) => Some(x),
            };
            let mut o = Outcome {
                held,
                value: format!("{}; {}", oa.value, ob.value),
                reason: String::new(),
                offenders: Vec::new(),
            };
            // Explain with the part that decided.
            let first_bad = [&oa, &ob].into_iter().find(|x| x.held != Some(true));
            if let Some(bad) = first_bad {
                if held != Some(true) {
                    o.reason = bad.reason.clone();
                    o.offenders = bad.offenders.clone();
                }
            }
            o
        }
        Expr::Not(a) => {
            let inner = evaluate(a, rs);
            Outcome {
                held: inner.held.map(|h| !h),
                value: inner.value,
                reason: if inner.held.is_none() {
                    inner.reason
                } else {
                    String::new()
                },
                offenders: Vec::new(),
            }
        }
        Expr::Quantified(q, sel, pred) => {
            let (selected, matching) = quantify(sel, pred, rs);
            let (n, m) = (selected.len(), matching.len());
            let ty = describe_sel(sel);
            match q {
                Quant::All => {
                    let mut o = Outcome::of(m == n, format!("{m} of {n} {ty} hold"));
                    if m != n {
                        o.reason = format!("{} of {n} {ty} do not hold", n - m);
                        o.offenders = selected
                            .into_iter()
                            .filter(|i| !matching.contains(i))
                            .map(|i| (sel.ty, i))
                            .collect();
                    }
                    o
                }
                Quant::Any => {
                    let mut o = Outcome::of(m > 0, format!("{m} of {n} {ty} match"));
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
                    let mut o = Outcome::of(m == 0, format!("{m} of {n} {ty} match"));
                    if m > 0 {
                        o.reason = format!("{m} of {n} {ty} match, none should");
                        o.offenders = matching.into_iter().map(|i| (sel.ty, i)).collect();
                    }
                    o
                }
            }
        }
        Expr::Cmp(op, a, b) => {
            let (va, vb) = match (value(a, None, rs), value(b, None, rs)) {
                (Ok(x), Ok(y)) => (x, y),
                (Err(why), _) | (_, Err(why)) => return skipped(why),
            };
            let held = compare(*op, &va, &vb);
            let mut o = Outcome::of(held, show(&va));
            if !held {
                o.reason = if va.is_null() || vb.is_null() {
                    format!(
                        "{} {} {}: nothing to compare (no values)",
                        show(&va),
                        op.symbol(),
                        show(&vb)
                    )
                } else {
                    format!("{} {} {} is false", show(&va), op.symbol(), show(&vb))
                };
                o.offenders = offenders(*op, a, &vb, rs);
            }
            o
        }
        other => match value(other, None, rs) {
            Ok(v) => {
                let held = truthy(&v);
                let mut o = Outcome::of(held, show(&v));
                if !held {
                    o.reason = if v.is_boolean() {
                        "false".into()
                    } else {
                        format!("{} is not true or false", show(&v))
                    };
                }
                o
            }
            Err(why) => skipped(why),
        },
    }
}

fn skipped(why: String) -> Outcome {
    Outcome {
        held: None,
        value: "n/a".into(),
        reason: why,
        offenders: Vec::new(),
    }
}

/// The records behind a failed comparison of a count or an extreme: what
/// was counted, or the records whose own value breaks the bound (worst
/// first).
fn offenders(op: CmpOp, lhs: &Expr, bound: &Value, rs: &Records) -> Vec<(&'static str, usize)> {
    match lhs {
        Expr::Count(sel) => select(sel, rs).into_iter().map(|i| (sel.ty, i)).collect(),
        Expr::Aggregate(Agg::Min | Agg::Max | Agg::Pct(_), sel, p) => {
            let all = rs.of(sel.ty);
            let mut bad: Vec<usize> = select(sel, rs)
                .into_iter()
                .filter(|&i| {
                    let v = field(&all[i], p);
                    !v.is_null() && !compare(op, v, bound)
                })
                .collect();
            let key = |i: &usize| field(&all[*i], p).as_f64().unwrap_or(0.0);
            match op {
                // Bound from above: largest first.
                CmpOp::Lt | CmpOp::Le => bad.sort_by(|x, y| key(y).total_cmp(&key(x))),
                _ => bad.sort_by(|x, y| key(x).total_cmp(&key(y))),
            }
            bad.into_iter().map(|i| (sel.ty, i)).collect()
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::expr::parse;
    use super::*;
    use serde_json::json;

    fn records() -> Records {
        let mut rs = Records::default();
        rs.by_type.insert(
            "tcp_conn",
            vec![
                json!({"state": "SF", "server_port": 80, "rtt_ms": 1.0, "client_bytes": 10}),
                json!({"state": "SF", "server_port": 80, "rtt_ms": 9.0, "client_bytes": 0}),
                json!({"state": "REJ", "server_port": 81, "rtt_ms": null}),
                json!({"state": "S0", "server_port": 80, "rtt_ms": 3.0}),
            ],
        );
        rs.by_type.insert(
            "ws_message",
            vec![json!({"direction": "client", "text": "hello there", "len": 11})],
        );
        rs.by_type
            .insert("summary", vec![json!({"truncated": 0, "complete": true})]);
        rs
    }

    fn check(s: &str) -> Outcome {
        evaluate(&parse(s).unwrap(), &records())
    }

    #[test]
    fn counts_and_quantifiers() {
        assert_eq!(
            check("count(tcp where server_port == 80) >= 3").held,
            Some(true)
        );
        let o = check("count(tcp where state == \"REJ\") == 0");
        assert_eq!(o.held, Some(false));
        assert_eq!(o.offenders, vec![("tcp_conn", 2)]);
        assert_eq!(o.value, "1");
        let o = check("all(tcp where server_port == 80): state == \"SF\"");
        assert_eq!(o.held, Some(false));
        assert_eq!(o.offenders, vec![("tcp_conn", 3)]);
        assert_eq!(o.value, "2 of 3 tcp_conn hold");
        assert_eq!(check("none(tcp): state in [\"RSTO\"]").held, Some(true));
        let o = check("none(tcp): state in [\"REJ\", \"S0\"]");
        assert_eq!(o.offenders, vec![("tcp_conn", 2), ("tcp_conn", 3)]);
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
        assert_eq!((o.held, o.value.as_str()), (Some(false), "9"));
        assert_eq!(o.offenders, vec![("tcp_conn", 1)]);
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
        assert_eq!(o.offenders.len(), 4, "the first part's counted records");
    }

    #[test]
    fn comparisons_follow_json_types() {
        assert!(compare(CmpOp::Eq, &json!(1), &json!(1.0)));
        assert!(!compare(CmpOp::Eq, &json!("1"), &json!(1)));
        assert!(compare(CmpOp::Ne, &json!("1"), &json!(1)));
        assert!(compare(CmpOp::Eq, &Value::Null, &Value::Null));
        assert!(!compare(CmpOp::Lt, &Value::Null, &json!(1)));
        assert!(!compare(CmpOp::Ge, &Value::Null, &json!(1)));
        assert!(compare(CmpOp::Lt, &json!("a"), &json!("b")));
        assert!(!compare(CmpOp::Lt, &json!("a"), &json!(1)));
    }
}
