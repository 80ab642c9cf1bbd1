//! The values an expectation reads: a field of a record exactly as
//! `--format json` writes it, read from the typed record without building
//! any JSON (`check::schema` has the readers, and a test holds every one to
//! the JSON line the encoder writes for the same record).
//!
//! Numbers keep the form they are written in: counts are integers, times and
//! durations exact decimals of their integer nanoseconds (a time is never
//! printed through a float), computed values (averages, sums of floats,
//! typed-in literals) floats. They compare as JSON numbers do — numerically,
//! as the nearest double to the decimal written.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::net::IpAddr;

use crate::time::{Nanos, Timestamp};

/// One value.
#[derive(Clone, Debug, Default)]
pub enum Val<'a> {
    #[default]
    Null,
    Bool(bool),
    /// An integer (counts, ports, codes).
    Int(i64),
    /// `v / 10^scale` exactly: times and durations (scale 9, seconds) and
    /// milliseconds (scale 6), from integer nanoseconds.
    Dec(i64, u8),
    /// A computed or typed-in number.
    Float(f64),
    Str(Cow<'a, str>),
    List(Vec<Val<'a>>),
    Obj(Vec<(Cow<'a, str>, Val<'a>)>),
}

/// A missing value, for references to one.
pub static NULL: Val<'static> = Val::Null;

/// Powers of ten a `Dec` divides by, exact in a double.
const POW10: [f64; 10] = [1.0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9];

impl<'a> Val<'a> {
    pub fn uint(v: u64) -> Val<'a> {
        match i64::try_from(v) {
            Ok(i) => Val::Int(i),
            Err(_) => Val::Float(v as f64),
        }
    }

    pub fn opt_uint(v: Option<u64>) -> Val<'a> {
        v.map_or(Val::Null, Val::uint)
    }

    pub fn opt_bool(v: Option<bool>) -> Val<'a> {
        v.map_or(Val::Null, Val::Bool)
    }

    /// A time, seconds since the epoch.
    pub fn time(t: Timestamp) -> Val<'a> {
        Val::Dec(t.0, 9)
    }

    pub fn opt_time(t: Option<Timestamp>) -> Val<'a> {
        t.map_or(Val::Null, Val::time)
    }

    /// A duration in seconds.
    pub fn secs(d: Nanos) -> Val<'a> {
        Val::Dec(d.0, 9)
    }

    /// A duration in milliseconds (null when not measured).
    pub fn ms(d: Option<Nanos>) -> Val<'a> {
        d.map_or(Val::Null, |d| Val::Dec(d.0, 6))
    }

    pub fn str(s: &'a str) -> Val<'a> {
        Val::Str(Cow::Borrowed(s))
    }

    pub fn opt_str(s: Option<&'a str>) -> Val<'a> {
        s.map_or(Val::Null, Val::str)
    }

    pub fn ip(ip: IpAddr) -> Val<'a> {
        Val::Str(Cow::Owned(ip.to_string()))
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Val::Null)
    }

    /// The number, as the nearest double to what JSON says.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Val::Int(i) => Some(i as f64),
            Val::Dec(v, scale) => Some(dec_f64(v, scale)),
            Val::Float(f) => Some(f),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Val::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The value of `key` in an object (null for anything else).
    pub fn get(&self, key: &str) -> &Val<'a> {
        match self {
            Val::Obj(kv) => kv.iter().find(|(k, _)| k == key).map_or(&NULL, |(_, v)| v),
            _ => &NULL,
        }
    }

    /// Walks `path` into nested objects.
    pub fn at(&self, path: &[String]) -> &Val<'a> {
        path.iter().fold(self, |v, k| v.get(k))
    }

    pub fn into_owned(self) -> Val<'static> {
        match self {
            Val::Null => Val::Null,
            Val::Bool(b) => Val::Bool(b),
            Val::Int(i) => Val::Int(i),
            Val::Dec(v, s) => Val::Dec(v, s),
            Val::Float(f) => Val::Float(f),
            Val::Str(s) => Val::Str(Cow::Owned(s.into_owned())),
            Val::List(v) => Val::List(v.into_iter().map(Val::into_owned).collect()),
            Val::Obj(kv) => Val::Obj(
                kv.into_iter()
                    .map(|(k, v)| (Cow::Owned(k.into_owned()), v.into_owned()))
                    .collect(),
            ),
        }
    }

    /// A JSON value as read (tests, the fuzz target and `--baseline` read
    /// records from JSON).
    pub fn from_json(v: &'a serde_json::Value) -> Val<'a> {
        use serde_json::Value as J;
        match v {
            J::Null => Val::Null,
            J::Bool(b) => Val::Bool(*b),
            J::Number(n) => match (n.as_i64(), n.as_u64()) {
                (Some(i), _) => Val::Int(i),
                (None, Some(u)) => Val::uint(u),
                _ => Val::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            J::String(s) => Val::str(s),
            J::Array(a) => Val::List(a.iter().map(Val::from_json).collect()),
            J::Object(o) => Val::Obj(
                o.iter()
                    .map(|(k, v)| (Cow::Borrowed(k.as_str()), Val::from_json(v)))
                    .collect(),
            ),
        }
    }

    /// The value as JSON, numbers as `--format json` writes them (times as
    /// the exact decimal of their nanoseconds).
    pub fn write_json(&self, out: &mut Vec<u8>) {
        match self {
            Val::Null => out.extend_from_slice(b"null"),
            Val::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
            Val::Int(i) => out.extend_from_slice(itoa::Buffer::new().format(*i).as_bytes()),
            Val::Dec(v, scale) => crate::render::json::exact_decimal(out, *v, u32::from(*scale)),
            Val::Float(f) => write_float(out, *f),
            Val::Str(s) => crate::render::json::escape_into(out, s),
            Val::List(items) => {
                out.push(b'[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    v.write_json(out);
                }
                out.push(b']');
            }
            Val::Obj(kv) => {
                out.push(b'{');
                for (i, (k, v)) in kv.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    crate::render::json::escape_into(out, k);
                    out.push(b':');
                    v.write_json(out);
                }
                out.push(b'}');
            }
        }
    }

    pub fn to_json(&self) -> String {
        let mut out = Vec::new();
        self.write_json(&mut out);
        String::from_utf8(out).unwrap_or_default()
    }

    /// The value in a report line: JSON, strings quoted, integers without
    /// a fraction, exact decimals as written, other numbers to six places.
    pub fn show(&self) -> String {
        match self {
            Val::Float(f) => show_float(*f),
            Val::Dec(v, scale) => show_dec(*v, *scale),
            other => other.to_json(),
        }
    }

    /// The value in a table cell: strings bare, nothing as `-`.
    pub fn cell(&self) -> String {
        match self {
            Val::Null => "-".into(),
            Val::Str(s) => s.to_string(),
            other => other.show(),
        }
    }
}

/// A `Dec` as the nearest double: one correctly rounded division when the
/// numerator is exact in a double, else through the decimal text.
fn dec_f64(v: i64, scale: u8) -> f64 {
    let p = POW10[usize::from(scale).min(9)];
    if v.unsigned_abs() < (1u64 << 53) {
        v as f64 / p
    } else {
        let mut out = Vec::with_capacity(32);
        crate::render::json::exact_decimal(&mut out, v, u32::from(scale));
        std::str::from_utf8(&out)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(v as f64 / p)
    }
}

fn show_dec(v: i64, scale: u8) -> String {
    let p = 10i64.pow(u32::from(scale));
    if v % p == 0 {
        return (v / p).to_string();
    }
    let mut out = Vec::with_capacity(32);
    crate::render::json::exact_decimal(&mut out, v, u32::from(scale));
    String::from_utf8(out).unwrap_or_default()
}

fn show_float(f: f64) -> String {
    if !f.is_finite() {
        "null".into()
    } else if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        format!("{}", (f * 1e6).round() / 1e6)
    }
}

fn write_float(out: &mut Vec<u8>, f: f64) {
    if !f.is_finite() {
        out.extend_from_slice(b"null");
    } else if f.fract() == 0.0 && f.abs() < 9.007_199_254_740_992e15 {
        out.extend_from_slice(itoa::Buffer::new().format(f as i64).as_bytes());
    } else {
        out.extend_from_slice(ryu::Buffer::new().format(f).as_bytes());
    }
}

/// How two values order: numbers numerically, strings by bytes, booleans
/// false first, null equal to null; values of different types do not order.
pub fn order(a: &Val<'_>, b: &Val<'_>) -> Option<Ordering> {
    match (a, b) {
        (Val::Str(x), Val::Str(y)) => Some(x.as_bytes().cmp(y.as_bytes())),
        (Val::Bool(x), Val::Bool(y)) => Some(x.cmp(y)),
        (Val::Null, Val::Null) => Some(Ordering::Equal),
        (Val::Int(x), Val::Int(y)) => Some(x.cmp(y)),
        (Val::Dec(x, s), Val::Dec(y, t)) if s == t => Some(x.cmp(y)),
        _ => a.as_f64()?.partial_cmp(&b.as_f64()?),
    }
}

/// JSON equality: numbers by value, lists and objects member by member.
pub fn equal(a: &Val<'_>, b: &Val<'_>) -> bool {
    match (a, b) {
        (Val::List(x), Val::List(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| equal(p, q))
        }
        (Val::Obj(x), Val::Obj(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.iter().any(|(k2, v2)| k == k2 && equal(v, v2)))
        }
        _ => order(a, b) == Some(Ordering::Equal),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_exact_and_compare_as_json_numbers() {
        // A packet at .958669 s: printed from the nanoseconds, not a float.
        let t = Val::time(Timestamp(1_795_326_163_958_669_000));
        assert_eq!(t.show(), "1795326163.958669");
        assert_eq!(t.to_json(), "1795326163.958669");
        assert_eq!(
            t.as_f64(),
            Some("1795326163.958669".parse::<f64>().unwrap())
        );
        assert_eq!(Val::ms(Some(Nanos(150_000))).as_f64(), Some(0.15));
        assert_eq!(Val::ms(Some(Nanos(2_000_000))).show(), "2");
        assert_eq!(Val::ms(Some(Nanos(2_000_000))).to_json(), "2.0");
        // Far from the epoch the numerator is no longer exact in a double.
        let far = Val::Dec(9_007_199_254_740_993_123, 9);
        assert_eq!(
            far.as_f64(),
            Some("9007199254.740993123".parse::<f64>().unwrap())
        );
        assert!(equal(&Val::Int(1), &Val::Float(1.0)));
        assert!(equal(&Val::Dec(1_000_000, 6), &Val::Int(1)));
        assert!(!equal(&Val::str("1"), &Val::Int(1)));
        assert_eq!(order(&Val::Null, &Val::Int(1)), None);
        assert_eq!(Val::Float(0.1 + 0.2).show(), "0.3");
        assert_eq!(Val::Float(2.0).to_json(), "2");
        assert_eq!(Val::Null.cell(), "-");
        assert_eq!(Val::str("SF").cell(), "SF");
        assert_eq!(Val::str("SF").show(), "\"SF\"");
        assert_eq!(Val::uint(u64::MAX).as_f64(), Some(u64::MAX as f64));
    }
}
