//! `check --baseline FILE.jsonl`: the outcome of every connection, flow and
//! WebSocket session compared with a stored `replay --format json` output,
//! ignoring what changes from one recording to the next — times, durations,
//! RTTs, ephemeral client ports, connection numbers, byte and packet counts.
//!
//! Records are matched by type, client address and server endpoint, in
//! the order they started; what differs is listed field by field, and what
//! one side has and the other not is listed whole.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use super::eval::{show, Records};

/// The record types compared, and the fields that make their outcome.
pub const COMPARED: &[(&str, &[&str])] = &[
    (
        "tcp_conn",
        &[
            "state",
            "handshake_complete",
            "closed_by",
            "service",
            "syn_retransmits",
            "synack_retransmits",
        ],
    ),
    ("udp_flow", &["state", "service"]),
    (
        "ws_session",
        &[
            "target",
            "status",
            "accept_valid",
            "subprotocol",
            "extensions",
            "compression",
            "client_messages",
            "server_messages",
            "close_code",
            "close_reason",
            "closed_by",
            "violations",
        ],
    ),
];

/// Fields needed to match records.
pub const IDENTITY: &[&str] = &["client_ip", "server_ip", "server_port", "first_ts", "ts"];

/// A stored run: its records of the compared types.
#[derive(Debug, Default)]
pub struct Baseline {
    pub path: String,
    pub records: Records,
}

/// Reads a `replay --format json` output.
pub fn load(path: &Path) -> Result<Baseline, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read baseline {}: {e}", path.display()))?;
    let mut b = Baseline {
        path: path.display().to_string(),
        records: Records::default(),
    };
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let v: Value = serde_json::from_str(line)
            .map_err(|e| format!("baseline {} line {}: not JSON: {e}", path.display(), i + 1))?;
        let ty = v["type"].as_str().unwrap_or_default();
        if let Some((t, _)) = COMPARED.iter().find(|(t, _)| *t == ty) {
            b.records.by_type.entry(t).or_default().push(v);
        }
    }
    if COMPARED.iter().all(|(t, _)| b.records.of(t).is_empty()) {
        return Err(format!(
            "baseline {}: no tcp_conn, udp_flow or ws_session records (make it with `sockscope replay --format json FILE > {}`)",
            path.display(),
            path.display()
        ));
    }
    Ok(b)
}

fn group_key(r: &Value) -> String {
    format!(
        "{} → {}",
        r["client_ip"].as_str().unwrap_or("?"),
        endpoint(r)
    )
}

fn endpoint(r: &Value) -> String {
    let ip = r["server_ip"].as_str().unwrap_or("?");
    let port = show(&r["server_port"]);
    if ip.contains(':') {
        format!("[{ip}]:{port}")
    } else {
        format!("{ip}:{port}")
    }
}

fn start(r: &Value) -> f64 {
    r["first_ts"]
        .as_f64()
        .or_else(|| r["ts"].as_f64())
        .unwrap_or(0.0)
}

/// The differences between the baseline and a run, one line each.
pub fn compare(base: &Baseline, run: &Records) -> (usize, Vec<String>) {
    let mut diffs = Vec::new();
    let mut compared = 0;
    for (ty, fields) in COMPARED {
        let group = |recs: &[Value]| {
            let mut g: BTreeMap<String, Vec<Value>> = BTreeMap::new();
            for r in recs {
                g.entry(group_key(r)).or_default().push(r.clone());
            }
            for v in g.values_mut() {
                v.sort_by(|a, b| start(a).total_cmp(&start(b)));
            }
            g
        };
        let (was, now) = (group(base.records.of(ty)), group(run.of(ty)));
        let keys: std::collections::BTreeSet<&String> = was.keys().chain(now.keys()).collect();
        for k in keys {
            let empty = Vec::new();
            let (a, b) = (was.get(k).unwrap_or(&empty), now.get(k).unwrap_or(&empty));
            for i in 0..a.len().max(b.len()) {
                let n = i + 1;
                match (a.get(i), b.get(i)) {
                    (Some(x), Some(y)) => {
                        compared += 1;
                        let changed: Vec<String> = fields
                            .iter()
                            .filter(|f| x[**f] != y[**f])
                            .map(|f| format!("{f} {} → {}", show(&x[*f]), show(&y[*f])))
                            .collect();
                        if !changed.is_empty() {
                            diffs.push(format!("{ty} {k} #{n}: {}", changed.join(", ")));
                        }
                    }
                    (Some(x), None) => diffs.push(format!(
                        "{ty} {k} #{n}: in the baseline ({}), not in this capture",
                        summary(x, fields)
                    )),
                    (None, Some(y)) => diffs.push(format!(
                        "{ty} {k} #{n}: new in this capture ({})",
                        summary(y, fields)
                    )),
                    (None, None) => {}
                }
            }
        }
    }
    (compared, diffs)
}

fn summary(r: &Value, fields: &[&str]) -> String {
    fields
        .iter()
        .take(3)
        .map(|f| format!("{f} {}", show(&r[*f])))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn conn(port: u64, client_port: u64, ts: f64, state: &str) -> Value {
        json!({"type": "tcp_conn", "client_ip": "10.0.0.2", "client_port": client_port,
               "server_ip": "10.0.0.1", "server_port": port, "first_ts": ts, "state": state,
               "history": "ShADadFf", "handshake_complete": true, "closed_by": "client",
               "service": null, "syn_retransmits": 0, "synack_retransmits": 0, "rtt_ms": ts})
    }

    fn records(v: Vec<Value>) -> Records {
        let mut r = Records::default();
        r.by_type.insert("tcp_conn", v);
        r
    }

    #[test]
    fn ports_times_and_rtts_are_ignored_outcomes_are_not() {
        let base = Baseline {
            path: "b".into(),
            records: records(vec![conn(80, 40000, 1.0, "SF"), conn(80, 40001, 2.0, "SF")]),
        };
        // Other client ports, other times: the same outcome.
        let same = records(vec![conn(80, 51000, 7.0, "SF"), conn(80, 51001, 8.0, "SF")]);
        assert_eq!(compare(&base, &same), (2, vec![]));
        let worse = records(vec![
            conn(80, 51000, 7.0, "SF"),
            conn(80, 51001, 8.0, "REJ"),
            conn(81, 1, 9.0, "S0"),
        ]);
        let (n, d) = compare(&base, &worse);
        assert_eq!(n, 2);
        assert_eq!(
            d,
            vec![
                "tcp_conn 10.0.0.2 → 10.0.0.1:80 #2: state \"SF\" → \"REJ\"".to_string(),
                "tcp_conn 10.0.0.2 → 10.0.0.1:81 #1: new in this capture (state \"S0\", handshake_complete true, closed_by \"client\")".to_string(),
            ]
        );
        let fewer = records(vec![conn(80, 51000, 7.0, "SF")]);
        let (_, d) = compare(&base, &fewer);
        assert_eq!(d.len(), 1);
        assert!(d[0].contains("#2: in the baseline"), "{d:?}");
    }
}
