//! HTTP exchanges on public captures from Zeek's test suite
//! (`captures/public/zeek-http-NAME.pcap`), compared with Zeek's own
//! `http.log` for each: the baseline its btest for that trace expects, kept
//! beside the capture as `zeek-http-NAME.http.log` (provenance in
//! captures/public/MANIFEST.tsv). Another program's reading of the same
//! bytes, not sockscope's own output.
//!
//! Two of Zeek's columns mean something else than sockscope's fields (the
//! body length after decoding, the reply's version); each row where that
//! shows is listed in [`DIFFERENCES`] with the reason, every listed
//! difference must occur (a stale entry fails), and tshark confirms the
//! value sockscope gives and the reason given for Zeek's.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::schema::{HttpTxn, Records};
use crate::util::{conformance, conformance_dir, replay_json, tool};

/// The traces, by the name after `zeek-http-`.
const CAPTURES: [&str; 6] = [
    "100-continue",
    "pipelined-requests",
    "x-gzip",
    "version-mismatch",
    "multipart-form-data",
    "concurrent-range-requests",
];

/// Zeek's `response_body_len` is the entity after its Content-Encoding is
/// undone (Zeek inflates gzip, x-gzip and deflate bodies before counting);
/// sockscope's `resp_body_len` is the body bytes on the wire (without chunk
/// framing, as Zeek's). tshark shows both: "Content-encoded entity body
/// (gzip): 946 bytes -> 2675 bytes".
const DECODED: &str =
    "Zeek counts the body after undoing its Content-Encoding; sockscope the bytes on the wire";

/// Zeek's `version` is the reply's (its base/protocols/http/main.zeek sets
/// it in `http_reply`, and leaves it unset when no reply came); sockscope's
/// is the request's. tshark shows both.
const REPLY_VERSION: &str = "Zeek logs the reply's version; sockscope the request's";

/// One row where Zeek's column and sockscope's field legitimately differ.
struct Difference {
    capture: &'static str,
    client_port: u16,
    /// Zeek's `trans_depth`: the exchange's place on its connection, from 1.
    depth: usize,
    column: &'static str,
    zeek: Option<&'static str>,
    sockscope: Option<&'static str>,
    why: &'static str,
}

const DIFFERENCES: [Difference; 5] = [
    Difference {
        capture: "pipelined-requests",
        client_port: 1673,
        depth: 1,
        column: "response_body_len",
        zeek: Some("2675"),
        sockscope: Some("946"),
        why: DECODED,
    },
    Difference {
        capture: "pipelined-requests",
        client_port: 1673,
        depth: 2,
        column: "response_body_len",
        zeek: Some("21421"),
        sockscope: Some("6716"),
        why: DECODED,
    },
    Difference {
        capture: "x-gzip",
        client_port: 54890,
        depth: 1,
        column: "response_body_len",
        zeek: Some("19"),
        sockscope: Some("39"),
        why: DECODED,
    },
    Difference {
        capture: "version-mismatch",
        client_port: 1482,
        depth: 2,
        column: "version",
        zeek: Some("1.0"),
        sockscope: Some("1.1"),
        why: REPLY_VERSION,
    },
    Difference {
        capture: "multipart-form-data",
        client_port: 45376,
        depth: 1,
        column: "version",
        zeek: None,
        sockscope: Some("1.1"),
        why: REPLY_VERSION,
    },
];

/// One row of a Zeek log: column → value (`None` for the unset field).
type Row = BTreeMap<String, Option<String>>;

/// Zeek's escapes (`\xHH`) undone.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && b.get(i + 1) == Some(&b'x') && i + 4 <= b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 2..i + 4], 16) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8(out).expect("UTF-8 log value")
}

/// A Zeek ASCII log: `#separator` (escaped), then `#fields`,
/// `#unset_field` and `#empty_field` in that separator; every line not
/// starting with `#` is a row.
fn zeek_log(name: &str) -> Vec<Row> {
    let path = conformance_dir().join(format!("zeek-http-{name}.http.log"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let mut sep = "\t".to_string();
    let (mut fields, mut unset, mut empty) = (Vec::new(), "-".to_string(), "(empty)".to_string());
    let mut rows = Vec::new();
    for line in text.lines() {
        if let Some(s) = line.strip_prefix("#separator ") {
            sep = unescape(s);
        } else if let Some(rest) = line.strip_prefix('#') {
            let mut parts = rest.split(sep.as_str());
            match parts.next() {
                Some("fields") => fields = parts.map(str::to_string).collect(),
                Some("unset_field") => unset = parts.next().unwrap().to_string(),
                Some("empty_field") => empty = parts.next().unwrap().to_string(),
                _ => {}
            }
        } else {
            let values: Vec<&str> = line.split(sep.as_str()).collect();
            assert_eq!(values.len(), fields.len(), "{name}: {line}");
            rows.push(
                fields
                    .iter()
                    .zip(values)
                    .map(|(f, v)| {
                        let v = if v == unset {
                            None
                        } else if v == empty {
                            Some(String::new())
                        } else {
                            Some(unescape(v))
                        };
                        (f.clone(), v)
                    })
                    .collect(),
            );
        }
    }
    rows
}

/// A connection as both sides name it: client address and port, server
/// address and port.
type Conn = (String, u16, String, u16);

/// Zeek's rows per connection, in `trans_depth` order (the log is in the
/// order exchanges ended).
fn zeek_by_conn(rows: &[Row]) -> BTreeMap<Conn, Vec<Row>> {
    let s = |r: &Row, k: &str| r[k].clone().unwrap_or_else(|| panic!("no {k}"));
    let mut by: BTreeMap<Conn, Vec<Row>> = BTreeMap::new();
    for r in rows {
        let conn = (
            s(r, "id.orig_h"),
            s(r, "id.orig_p").parse().unwrap(),
            s(r, "id.resp_h"),
            s(r, "id.resp_p").parse().unwrap(),
        );
        by.entry(conn).or_default().push(r.clone());
    }
    for v in by.values_mut() {
        v.sort_by_key(|r| s(r, "trans_depth").parse::<u64>().unwrap());
        for (i, r) in v.iter().enumerate() {
            assert_eq!(s(r, "trans_depth"), (i + 1).to_string(), "depths 1, 2, …");
        }
    }
    by
}

/// sockscope's exchanges per connection, in request order.
fn ours_by_conn(txns: &[&HttpTxn]) -> BTreeMap<Conn, Vec<HttpTxn>> {
    let mut by: BTreeMap<Conn, Vec<HttpTxn>> = BTreeMap::new();
    for t in txns {
        let conn = (
            t.client_ip.clone(),
            t.client_port,
            t.server_ip.clone(),
            t.server_port,
        );
        by.entry(conn).or_default().push((*t).clone());
    }
    for v in by.values_mut() {
        v.sort_by(|a, b| a.ts.total_cmp(&b.ts));
    }
    by
}

/// sockscope's record in the terms of Zeek's columns.
fn as_zeek_columns(t: &HttpTxn) -> Vec<(&'static str, Option<String>)> {
    vec![
        ("method", Some(t.method.clone())),
        ("host", t.host.clone()),
        ("uri", Some(t.target.clone())),
        (
            "version",
            Some(
                t.version
                    .strip_prefix("HTTP/")
                    .unwrap_or(&t.version)
                    .to_string(),
            ),
        ),
        ("status_code", t.status.map(|s| s.to_string())),
        ("status_msg", t.reason.clone()),
        // Zeek keeps the last interim (1xx) answer's code here.
        ("info_code", t.continued.then(|| "100".to_string())),
        ("request_body_len", Some(t.req_body_len.to_string())),
        ("response_body_len", Some(t.resp_body_len.to_string())),
    ]
}

/// Every exchange Zeek logged is one sockscope reports on the same
/// connection at the same depth, and no other: method, host, uri (target),
/// version, status code and message, the interim 100 (`continued`), both
/// body lengths — equal, or different exactly as [`DIFFERENCES`] says. An
/// exchange Zeek saw answered is `complete` (every answer in these traces
/// ends inside the capture), the unanswered one is not, and none upgraded.
#[test]
fn http_txns_match_zeeks_http_log() {
    let mut used = vec![false; DIFFERENCES.len()];
    let mut problems = Vec::new();
    let (mut exchanges, mut compared) = (0, 0);
    for name in CAPTURES {
        let zeek = zeek_by_conn(&zeek_log(name));
        let file = conformance(&format!("zeek-http-{name}.pcap"));
        let (recs, run) = replay_json(&file, &[]);
        assert_eq!(run.status, 0, "{name}: {}", run.stderr);
        let ours = ours_by_conn(&recs.http_txns());
        assert_eq!(
            zeek.keys().collect::<Vec<_>>(),
            ours.keys().collect::<Vec<_>>(),
            "{name}: connections with HTTP exchanges"
        );
        for (conn, rows) in &zeek {
            let txns = &ours[conn];
            assert_eq!(txns.len(), rows.len(), "{name} {conn:?}: {txns:#?}");
            for (i, (row, t)) in rows.iter().zip(txns).enumerate() {
                let depth = i + 1;
                exchanges += 1;
                let what = format!("{name} client port {} depth {depth}", conn.1);
                for (column, got) in as_zeek_columns(t) {
                    compared += 1;
                    let want = &row[column];
                    if *want == got {
                        continue;
                    }
                    let listed = DIFFERENCES.iter().position(|d| {
                        d.capture == name
                            && d.client_port == conn.1
                            && d.depth == depth
                            && d.column == column
                    });
                    match listed {
                        Some(k)
                            if DIFFERENCES[k].zeek == want.as_deref()
                                && DIFFERENCES[k].sockscope == got.as_deref() =>
                        {
                            used[k] = true;
                        }
                        _ => problems.push(format!(
                            "{what}: {column}: Zeek {want:?}, sockscope {got:?}"
                        )),
                    }
                }
                let answered = row["status_code"].is_some();
                if t.complete != answered {
                    problems.push(format!("{what}: complete {}", t.complete));
                }
                if t.upgrade != (row["status_code"].as_deref() == Some("101")) {
                    problems.push(format!("{what}: upgrade {}", t.upgrade));
                }
            }
        }
    }
    for (d, used) in DIFFERENCES.iter().zip(&used) {
        if !*used {
            problems.push(format!(
                "listed difference not seen: {} client port {} depth {} {} ({})",
                d.capture, d.client_port, d.depth, d.column, d.why
            ));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
    assert_eq!(
        (exchanges, compared),
        (13, 13 * 9),
        "exchanges and values compared"
    );
}

// ----- tshark: the wire values behind the listed differences -----

/// What tshark reads of one HTTP message.
#[derive(Debug, Default)]
struct TsharkMsg {
    version: Option<String>,
    code: Option<u16>,
    content_length: Option<u64>,
    /// "Content-encoded entity body (CODING): WIRE bytes -> DECODED bytes".
    decoded: Option<(String, u64, u64)>,
}

/// The first value of `key` anywhere inside `v` (tshark nests the request
/// and status lines' fields under the line's text).
fn find<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    match v {
        Value::Object(m) => m
            .get(key)
            .and_then(|x| x.as_str())
            .or_else(|| m.values().find_map(|x| find(x, key))),
        Value::Array(a) => a.iter().find_map(|x| find(x, key)),
        _ => None,
    }
}

/// Parses "Content-encoded entity body (gzip): 946 bytes -> 2675 bytes".
fn decoded_entity(http: &Value) -> Option<(String, u64, u64)> {
    let key = http
        .as_object()?
        .keys()
        .find(|k| k.starts_with("Content-encoded entity body ("))?;
    let rest = key.strip_prefix("Content-encoded entity body (")?;
    let (coding, rest) = rest.split_once("): ")?;
    let (wire, rest) = rest.split_once(" bytes -> ")?;
    let decoded = rest.strip_suffix(" bytes")?;
    Some((
        coding.to_string(),
        wire.parse().ok()?,
        decoded.parse().ok()?,
    ))
}

/// tshark's HTTP messages per client port, requests and final answers
/// (not 1xx but 101) apart, each in order.
type TsharkConns = BTreeMap<u16, (Vec<TsharkMsg>, Vec<TsharkMsg>)>;

fn tshark_http(file: &str) -> Option<TsharkConns> {
    let out = tool(
        "tshark",
        &[
            "-r",
            file,
            // A lost server segment retransmitted later (concurrent-range-requests):
            // tshark 4.0 reassembles out-of-order data only when asked.
            "-o",
            "tcp.reassemble_out_of_order:TRUE",
            "-Y",
            "http.request or http.response",
            "-T",
            "json",
            "--no-duplicate-keys",
            "-J",
            "tcp http",
        ],
    )?;
    assert!(out.status.success(), "tshark failed on {file}");
    let packets: Value = serde_json::from_slice(&out.stdout).expect("tshark JSON");
    let mut conns = TsharkConns::new();
    for p in packets.as_array().unwrap() {
        let layers = &p["_source"]["layers"];
        let port = |k: &str| -> u16 { find(&layers["tcp"], k).unwrap().parse().unwrap() };
        let msgs = match &layers["http"] {
            Value::Array(a) => a.clone(),
            one => vec![one.clone()],
        };
        for h in msgs {
            let request = h.get("http.request").is_some();
            let msg = TsharkMsg {
                version: find(
                    &h,
                    if request {
                        "http.request.version"
                    } else {
                        "http.response.version"
                    },
                )
                .map(str::to_string),
                code: find(&h, "http.response.code").map(|c| c.parse().unwrap()),
                content_length: find(&h, "http.content_length").map(|c| c.parse().unwrap()),
                decoded: decoded_entity(&h),
            };
            let e = conns.entry(port(if request {
                "tcp.srcport"
            } else {
                "tcp.dstport"
            }));
            if request {
                e.or_default().0.push(msg);
            } else if msg.code.is_some_and(|c| c >= 200 || c == 101) {
                e.or_default().1.push(msg);
            }
        }
    }
    Some(conns)
}

/// tshark, exchange by exchange: sockscope's `version` is the request's
/// version, Zeek's the reply's (unset where no reply came); where the answer
/// has a Content-Length, sockscope's `resp_body_len` is it; where tshark
/// undoes a Content-Encoding, the wire size is sockscope's and the decoded
/// size Zeek's. So every listed difference is a difference of meaning, and
/// sockscope's side of it is what is on the wire.
#[test]
fn the_differences_with_zeek_are_what_tshark_sees() {
    if tool("tshark", &["--version"]).is_none() {
        eprintln!("skipped: tshark is not installed (CI installs it)");
        return;
    }
    let mut checked_decoded = 0;
    for name in CAPTURES {
        let file = conformance(&format!("zeek-http-{name}.pcap"));
        let tshark = tshark_http(&file).expect("tshark runs");
        let zeek = zeek_by_conn(&zeek_log(name));
        let (recs, _) = replay_json(&file, &[]);
        let ours = ours_by_conn(&recs.http_txns());
        assert_eq!(
            tshark.keys().collect::<Vec<_>>(),
            zeek.keys().map(|c| &c.1).collect::<Vec<_>>(),
            "{name}: client ports"
        );
        for (conn, rows) in &zeek {
            let (requests, answers) = &tshark[&conn.1];
            let txns = &ours[conn];
            let what = format!("{name} client port {}", conn.1);
            assert_eq!(requests.len(), rows.len(), "{what}: requests");
            let answered = rows.iter().filter(|r| r["status_code"].is_some()).count();
            assert_eq!(answers.len(), answered, "{what}: final answers");
            for (i, row) in rows.iter().enumerate() {
                let what = format!("{what} depth {}", i + 1);
                let t = &txns[i];
                assert_eq!(
                    requests[i].version.as_deref(),
                    Some(t.version.as_str()),
                    "{what}: sockscope's version is the request's"
                );
                let Some(answer) = answers.get(i) else {
                    assert_eq!(row["version"], None, "{what}: no reply, no version in Zeek");
                    continue;
                };
                assert_eq!(
                    answer.version.as_deref(),
                    row["version"]
                        .as_ref()
                        .map(|v| format!("HTTP/{v}"))
                        .as_deref(),
                    "{what}: Zeek's version is the reply's"
                );
                if let Some(len) = answer.content_length {
                    assert_eq!(t.resp_body_len, len, "{what}: Content-Length");
                }
                let zeek_len: u64 = row["response_body_len"].as_ref().unwrap().parse().unwrap();
                match &answer.decoded {
                    Some((coding, wire, decoded)) => {
                        assert_eq!(
                            (t.resp_body_len, zeek_len),
                            (*wire, *decoded),
                            "{what}: {coding} body: sockscope wire bytes, Zeek decoded"
                        );
                        checked_decoded += 1;
                    }
                    None => assert_eq!(t.resp_body_len, zeek_len, "{what}: body"),
                }
            }
        }
    }
    let listed = DIFFERENCES.iter().filter(|d| d.why == DECODED).count();
    assert_eq!(checked_decoded, listed, "encoded bodies");
}
