//! HTTP exchanges, Server-Sent Events and real-time channels on captures of
//! real programs (captures/record.sh's `http` group: an aiohttp server,
//! Python's http.server, http.client, curl, node-eventsource), compared with
//! what those programs logged while they ran (`captures/http-*.log.jsonl`,
//! described in captures/README.md) — not with sockscope's own output.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::schema::{HttpTxn, Records};
use crate::util::{capture, replay_json, root, sockscope};

/// The capture's log, one JSON object a line.
fn log(name: &str) -> Vec<Value> {
    let path = root().join("captures").join(format!("{name}.log.jsonl"));
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| serde_json::from_str(l).expect("log line"))
        .collect()
}

/// What the servers logged of each response, per connection (client port),
/// in the order they answered.
fn server_responses(log: &[Value]) -> BTreeMap<u64, Vec<&Value>> {
    let mut by_conn: BTreeMap<u64, Vec<&Value>> = BTreeMap::new();
    for r in log
        .iter()
        .filter(|r| r["kind"] == "response" && r["by"].as_str().unwrap().contains("server"))
    {
        by_conn
            .entry(r["conn"].as_u64().unwrap())
            .or_default()
            .push(r);
    }
    by_conn
}

fn txns_by_conn(txns: &[&HttpTxn]) -> BTreeMap<u64, Vec<HttpTxn>> {
    let mut by_conn: BTreeMap<u64, Vec<HttpTxn>> = BTreeMap::new();
    for t in txns {
        by_conn
            .entry(u64::from(t.client_port))
            .or_default()
            .push((*t).clone());
    }
    by_conn
}

/// A time inside a `[before, after]` bracket of a write call, with 0.1 ms
/// of slack for the microsecond rounding on both sides.
fn within(t: f64, bracket: &Value, what: &str) {
    let (a, b) = (bracket[0].as_f64().unwrap(), bracket[1].as_f64().unwrap());
    assert!(
        t >= a - 1e-4 && t <= b + 1e-4,
        "{what}: {t:.6} not within the write call [{a:.6}, {b:.6}]"
    );
}

/// Every exchange equals what the server logged it answered: method,
/// target, status, body lengths, chunks or events, and the capture times of
/// the answer's first and last byte fall inside the server's write calls.
fn exchanges_match_the_server_log(name: &str) {
    let log = log(name);
    let (recs, run) = replay_json(&capture(&format!("{name}.pcap")), &[]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let txns = txns_by_conn(&recs.http_txns());
    let logged = server_responses(&log);
    assert_eq!(
        txns.keys().collect::<Vec<_>>(),
        logged.keys().collect::<Vec<_>>(),
        "{name}: connections"
    );
    for (conn, responses) in &logged {
        let got = &txns[conn];
        assert_eq!(got.len(), responses.len(), "{name} conn {conn}: {got:#?}");
        for (t, r) in got.iter().zip(responses) {
            let what = format!("{name} conn {conn} {} {}", t.method, t.target);
            assert_eq!(t.method, r["method"].as_str().unwrap(), "{what}");
            assert_eq!(t.target, r["target"].as_str().unwrap(), "{what}");
            assert_eq!(
                t.status.map(u64::from),
                r["status"].as_u64(),
                "{what}: status"
            );
            assert_eq!(
                t.resp_body_len,
                r["resp_body_len"].as_u64().unwrap(),
                "{what}: response body"
            );
            assert_eq!(
                t.req_body_len,
                r["req_body_len"].as_u64().unwrap(),
                "{what}: request body"
            );
            assert!(t.complete, "{what}: complete");
            let chunked = r["transfer_encoding"]
                .as_str()
                .is_some_and(|e| e.contains("chunked"));
            if let Some(events) = r["events"].as_u64() {
                assert_eq!(t.resp_pieces, events, "{what}: events dispatched");
            } else if chunked {
                assert_eq!(
                    t.resp_pieces,
                    r["pieces"].as_u64().unwrap(),
                    "{what}: chunks"
                );
            }
            if !r["t_headers"].is_null() {
                // The answer's first byte: the request's last byte + the wait.
                let first = t.ts + t.request_ms / 1e3 + t.wait_ms.expect("a wait") / 1e3;
                within(
                    first,
                    &r["t_headers"],
                    &format!("{what}: first response byte"),
                );
            }
            if !r["t_last"].is_null() {
                within(
                    t.last_ts,
                    &r["t_last"],
                    &format!("{what}: last response byte"),
                );
            }
            if let Some(hold) = r["hold_s"].as_f64() {
                // A long poll's wait is the server's hold plus its reaction.
                let wait = t.wait_ms.unwrap();
                assert!(
                    wait >= hold * 1e3 && wait - hold * 1e3 < 5.0,
                    "{what}: wait {wait} ms, held {hold} s"
                );
            }
        }
    }
}

#[test]
fn polling_exchanges_match_the_server_log() {
    exchanges_match_the_server_log("http-polling");
}

#[test]
fn long_polling_exchanges_match_the_server_log() {
    exchanges_match_the_server_log("http-longpoll");
}

#[test]
fn streaming_exchanges_match_the_server_log() {
    exchanges_match_the_server_log("http-chunked-stream");
}

#[test]
fn keep_alive_and_pipelined_exchanges_match_the_server_log() {
    exchanges_match_the_server_log("http-keepalive-pipeline");
}

#[test]
fn event_stream_exchanges_match_the_server_log() {
    exchanges_match_the_server_log("http-sse");
}

/// Interim and body-less answers: HEAD with a Content-Length, 204, 304,
/// 100 Continue before the body, and a 413 sent before the body (which
/// curl then never sends).
#[test]
fn answers_without_a_body_and_interim_ones() {
    let (recs, _) = replay_json(&capture("http-keepalive-pipeline.pcap"), &[]);
    let txns = recs.http_txns();
    let find = |m: &str, t: &str, s: u16| {
        txns.iter()
            .find(|x| x.method == m && x.target == t && x.status == Some(s))
            .unwrap_or_else(|| panic!("{m} {t} {s}: {txns:#?}"))
    };
    let head = find("HEAD", "/resource/a", 200);
    assert_eq!((head.resp_body_len, head.resp_pieces), (0, 0));
    assert_eq!(find("GET", "/nocontent", 204).resp_body_len, 0);
    assert_eq!(find("GET", "/resource/a", 304).resp_body_len, 0);
    let upload = find("POST", "/upload", 201);
    assert!(upload.continued, "100 Continue came first");
    assert_eq!(upload.req_body_len, 4000);
    let refused = find("POST", "/upload-limited", 413);
    assert!(!refused.continued);
    assert_eq!(refused.req_body_len, 0, "the body was never sent");
    // Three requests in one segment, answered in order: each waited for the
    // ones before it (the first is held 300 ms by the server).
    let piped: Vec<&&HttpTxn> = txns.iter().filter(|t| t.conn_id == 1).collect();
    assert_eq!(piped.len(), 3);
    assert!(piped.iter().all(|t| t.ts == piped[0].ts), "one segment");
    assert!(piped.windows(2).all(|w| w[0].wait_ms <= w[1].wait_ms));
    assert!(piped[0].wait_ms.unwrap() >= 300.0);
}

/// Every block of the event stream, in order, as the server wrote it: id,
/// event name, data length, and whether it was dispatched (had data); the
/// events the EventSource client received are the dispatched ones of its
/// connection.
#[test]
fn sse_events_match_the_blocks_the_server_wrote() {
    let log = log("http-sse");
    let (recs, _) = replay_json(&capture("http-sse.pcap"), &[]);
    let blocks: Vec<&Value> = log.iter().filter(|r| r["kind"] == "sse_block").collect();
    let events = recs.sse_events();
    assert_eq!(events.len(), blocks.len());
    for (e, b) in events.iter().zip(&blocks) {
        assert_eq!(
            e.dispatched,
            b["dispatched"].as_bool().unwrap(),
            "{e:?} {b}"
        );
        assert_eq!(e.id.as_deref(), b["id"].as_str(), "{e:?} {b}");
        assert_eq!(e.event.as_deref(), b["event"].as_str(), "{e:?} {b}");
        if e.dispatched {
            assert_eq!(e.data_len, b["data_len"].as_u64().unwrap(), "{e:?} {b}");
        }
        assert_eq!(u64::from(e.client_port), b["conn"].as_u64().unwrap());
    }
    let received: Vec<&Value> = log
        .iter()
        .filter(|r| r["by"] == "eventsource" && r["kind"] == "event")
        .collect();
    // The EventSource's connection is the one curl did not make.
    let curl = log
        .iter()
        .find(|r| r["by"] == "curl" && r["kind"] == "request")
        .and_then(|r| r["conn"].as_u64());
    let port = events
        .iter()
        .map(|e| u64::from(e.client_port))
        .find(|p| Some(*p) != curl);
    let dispatched: Vec<_> = events
        .iter()
        .filter(|e| e.dispatched && Some(u64::from(e.client_port)) == port)
        .collect();
    assert_eq!(dispatched.len(), received.len());
    for (e, r) in dispatched.iter().zip(&received) {
        let logged = r["data"].as_str().unwrap();
        match logged.split_once("...(") {
            // The log shortens long data: its start must match.
            Some((start, _)) => assert!(e.data.as_deref().unwrap().starts_with(start)),
            None => assert_eq!(e.data.as_deref(), Some(logged), "{e:?} {r}"),
        }
    }
    // A 3000-byte event over three TCP segments, and one split over two
    // chunks 0.3 s apart, are each one event.
    assert!(events
        .iter()
        .any(|e| e.data_len == 3000 && e.data_truncated));
}

/// Each channel's technique, and the numbers its verdict gives.
#[test]
fn channels_get_their_technique() {
    /// A capture, and the (path, technique, requests) of its channels.
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str, u64)]);
    let cases: &[Case] = &[
        (
            "http-polling",
            &[("/poll", "polling", 8), ("/status", "polling", 5)],
        ),
        ("http-longpoll", &[("/updates", "long_polling", 6)]),
        ("http-sse", &[("/events", "sse", 4)]),
        (
            "http-chunked-stream",
            &[("/stream", "streaming", 1), ("/ndjson", "streaming", 1)],
        ),
        (
            "ws-plain",
            &[("/chat", "websocket", 1), ("/custom", "websocket", 1)],
        ),
    ];
    for (name, want) in cases {
        let (recs, _) = replay_json(&capture(&format!("{name}.pcap")), &[]);
        let channels = recs.rt_channels();
        for (path, technique, requests) in *want {
            let c = channels
                .iter()
                .find(|c| c.path == *path)
                .unwrap_or_else(|| panic!("{name}: no channel {path}: {channels:#?}"));
            assert_eq!(c.technique, *technique, "{name} {path}: {}", c.verdict);
            assert_eq!(c.requests, *requests, "{name} {path}");
        }
        let summary = recs.summary();
        assert_eq!(summary.rt_channels, channels.len() as u64);
        assert_eq!(summary.http_txns, recs.http_txns().len() as u64);
    }
    let (recs, _) = replay_json(&capture("http-polling.pcap"), &[]);
    let poll = recs
        .rt_channels()
        .into_iter()
        .find(|c| c.path == "/poll")
        .unwrap();
    // The server logged items in the 3rd and 6th answers only.
    assert_eq!((poll.data_messages, poll.empty_responses), (2, 6));
    let (recs, _) = replay_json(&capture("http-sse.pcap"), &[]);
    let sse = recs.rt_channels().into_iter().next().unwrap();
    assert_eq!(sse.data_messages, 8 + 8 + 2);
}

#[test]
fn http_decoding_can_be_turned_off() {
    let (recs, _) = replay_json(&capture("http-polling.pcap"), &["--no-http"]);
    assert!(recs.http_txns().is_empty() && recs.rt_channels().is_empty());
    assert_eq!(recs.summary().http_txns, 0);
    // The WebSocket upgrade is still found without HTTP decoding.
    let (recs, _) = replay_json(&capture("ws-plain.pcap"), &["--no-http"]);
    assert!(!recs.ws_sessions().is_empty());
}

/// The human view: event lines, the two tables, the verdict.
#[test]
fn human_view_shows_exchanges_and_channels() {
    let run = sockscope(&["replay", &capture("http-longpoll.pcap")]);
    assert_eq!(run.status, 0);
    let out = &run.stdout;
    assert!(
        out.contains(
            "HTTP #0  10.99.0.2:48254 → 10.99.0.1:8080  GET /updates?cursor=2 → 200 (wait 2513 ms"
        ),
        "{out}"
    );
    assert!(out.contains("HTTP exchanges (6)"), "{out}");
    assert!(out.contains("Real-time channels (1)"), "{out}");
    assert!(
        out.contains("long polling: 6 requests, server held each 1.3 s (max 2.5 s)"),
        "{out}"
    );
}

/// `check` reads the new records and validates the technique's values.
#[test]
fn check_knows_exchanges_and_channels() {
    let file = capture("http-longpoll.pcap");
    let run = sockscope(&[
        "check",
        &file,
        "--expect",
        "all(rt_channel): technique == \"long_polling\"",
        "--expect",
        "count(http_txn where status >= 500) == 0",
        "--expect",
        "max(http_txn.wait_ms) > 2500",
    ]);
    assert_eq!(run.status, 0, "{}{}", run.stdout, run.stderr);
    let run = sockscope(&["check", &file, "--expect", "p95(http_txn.wait_ms) < 200"]);
    assert_eq!(run.status, 1, "{}", run.stdout);
    let run = sockscope(&[
        "check",
        &file,
        "--expect",
        "all(channel): technique != \"longpolling\"",
    ]);
    assert_eq!(run.status, 2);
    assert!(run.stderr.contains("long_polling"), "{}", run.stderr);
}
