//! `replay --conn`: selecting connections restricts every output to them;
//! `-w` cuts their packets out byte for byte (held to what `tcpdump -r`
//! selects with the same 4-tuple); `--ladder` draws them.

use std::process::Command;

use serde_json::Value;

use crate::util::{root, sockscope, sockscope_with_stdin};

/// Every JSON line of a replay, parsed loosely.
fn lines(args: &[&str]) -> Vec<Value> {
    let run = sockscope(args);
    assert_eq!(run.status, 0, "{args:?}: {}", run.stderr);
    run.stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn conn_id(v: &Value) -> Option<u64> {
    v.get("conn_id").and_then(Value::as_u64)
}

/// The records about connections, without `meta`/`summary`.
fn about(recs: &[Value], keep: impl Fn(u64) -> bool) -> Vec<Value> {
    recs.iter()
        .filter(|r| conn_id(r).is_some_and(&keep))
        .cloned()
        .collect()
}

/// A selected run's records about connections are exactly the full run's
/// records about the selected ones, in the same order; `meta` names the
/// selectors; `summary` is the capture's, unchanged.
fn selects(file: &str, selector: &str, expected_ids: &[u64]) {
    let full = lines(&["replay", file, "-F", "json"]);
    let some = lines(&["replay", file, "-F", "json", "--conn", selector]);
    let want = about(&full, |id| expected_ids.contains(&id));
    assert!(!want.is_empty(), "{file} {selector}: nothing to select");
    assert_eq!(about(&some, |_| true), want, "{file} --conn {selector}");
    assert_eq!(some[0]["type"], "meta");
    assert_eq!(
        some[0]["conn"][0],
        selector
            .trim_start_matches('#')
            .parse::<u64>()
            .map_or(selector.to_string(), |n| format!("#{n}"))
    );
    assert_eq!(some.last(), full.last(), "the summary is the capture's");
}

#[test]
fn conn_by_id_tuple_and_condition() {
    selects("captures/http-polling.pcap", "#3", &[3]);
    selects("captures/http-polling.pcap", "3", &[3]);
    // Either order of the 4-tuple; IPv6 in brackets.
    selects(
        "captures/refused.pcap",
        "[fd00:99::1]:9-[fd00:99::2]:58404",
        &[1],
    );
    selects("captures/refused.pcap", "10.99.0.2:34998-10.99.0.1:9", &[0]);
    // A condition on final records selects their earlier events too.
    let full = lines(&["replay", "captures/ws-violations.pcap", "-F", "json"]);
    let failing: Vec<u64> = full
        .iter()
        .filter(|r| r["type"] == "ws_session" && r["close_code"] == 1002)
        .filter_map(conn_id)
        .collect();
    assert!(failing.len() >= 2, "{failing:?}");
    selects(
        "captures/ws-violations.pcap",
        "ws_session where close_code == 1002",
        &failing,
    );
    selects("captures/refused.pcap", "state == \"REJ\"", &[0, 1]);
    selects("captures/synack-retransmit.pcap", "rtt_ms > 0.1", &[0]);
    // UDP flows are connections too.
    selects("captures/udp-dns.pcap", "#1", &[1]);
}

#[test]
fn selectors_combine_and_mistakes_are_usage_errors() {
    let some = lines(&[
        "replay",
        "captures/http-polling.pcap",
        "-F",
        "json",
        "--conn",
        "#1",
        "--conn",
        "#4",
    ]);
    let ids: std::collections::BTreeSet<u64> = some.iter().filter_map(conn_id).collect();
    assert_eq!(ids.into_iter().collect::<Vec<_>>(), [1, 4]);
    let bad = sockscope(&["replay", "captures/refused.pcap", "--conn", "rtt_mss > 1"]);
    assert_eq!(bad.status, 2);
    assert!(bad.stderr.contains("rtt_ms"), "{}", bad.stderr);
    // A condition needs a second read: not of standard input.
    let stdin = sockscope_with_stdin(
        &["replay", "-", "--conn", "state == \"REJ\""],
        Some(std::path::Path::new("captures/refused.pcap")),
    );
    assert_eq!(stdin.status, 2);
    assert!(stdin.stderr.contains("twice"), "{}", stdin.stderr);
    // An id works on standard input.
    let stdin = sockscope_with_stdin(
        &["replay", "-", "--conn", "#1", "-F", "json"],
        Some(std::path::Path::new("captures/refused.pcap")),
    );
    assert_eq!(stdin.status, 0, "{}", stdin.stderr);
    assert!(stdin.stdout.contains("\"conn_id\":1"));
    assert!(!stdin.stdout.contains("\"conn_id\":0"));
}

#[test]
fn event_lines_and_the_note_show_conn_ids() {
    let run = sockscope(&["replay", "captures/refused.pcap", "--conn", "#1"]);
    assert_eq!(run.status, 0);
    let events: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.contains("  TCP  "))
        .collect();
    assert_eq!(events.len(), 2, "{}", run.stdout);
    assert!(
        events.iter().all(|l| l.contains("  TCP  #1  ")),
        "{events:?}"
    );
    assert!(
        run.stdout.contains(
            "selected by --conn: 1 of 2 TCP connections, 0 of 0 UDP flows, 0 WebSocket sessions (#1)"
        ),
        "{}",
        run.stdout
    );
}

fn tcpdump(args: &[&str]) -> Vec<u8> {
    let out = Command::new("tcpdump")
        .args(args)
        .current_dir(root())
        .output()
        .expect("tcpdump (scripts/ensure-deps.sh installs it)");
    assert!(
        out.status.success(),
        "tcpdump {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The packet records of a pcap file as tcpdump writes it (after the
/// 24-byte header).
fn records_via_tcpdump(file: &str, filter: &[&str]) -> Vec<u8> {
    let mut args = vec!["-r", file, "-w", "-"];
    args.extend_from_slice(filter);
    tcpdump(&args)[24..].to_vec()
}

/// Each packet's interface, time, lengths and MD5 of its bytes, as tshark
/// reads them.
fn frames_via_tshark(file: &str, filter: Option<&str>) -> String {
    let mut args = vec![
        "-r",
        file,
        "-o",
        "frame.generate_md5_hash:TRUE",
        "-T",
        "fields",
        "-e",
        "frame.interface_id",
        "-e",
        "frame.time_epoch",
        "-e",
        "frame.len",
        "-e",
        "frame.cap_len",
        "-e",
        "frame.md5_hash",
    ];
    if let Some(f) = filter {
        args.extend(["-Y", f]);
    }
    let out = Command::new("tshark")
        .args(&args)
        .current_dir(root())
        .output()
        .expect("tshark");
    assert!(
        out.status.success(),
        "tshark {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.trim().is_empty(), "tshark {args:?} shows no packet");
    text
}

/// Cuts connection `id` out of `file`; checks the cut against tcpdump with
/// the 4-tuple's filter and the replay of the cut against the original
/// record. Returns the cut file's bytes.
fn cut_and_compare(file: &str, id: u64) -> Vec<u8> {
    let full = lines(&["replay", file, "-F", "json"]);
    let conn = full
        .iter()
        .find(|r| (r["type"] == "tcp_conn" || r["type"] == "udp_flow") && conn_id(r) == Some(id))
        .unwrap_or_else(|| panic!("{file} has no connection {id}"))
        .clone();
    let dir = std::env::temp_dir().join(format!("sockscope-cut-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ext = if file.ends_with(".pcapng") {
        "pcapng"
    } else {
        "pcap"
    };
    let out = dir.join(format!("{id}.{ext}"));
    let out_s = out.to_str().unwrap();
    let run = sockscope(&[
        "replay",
        file,
        "--conn",
        &format!("#{id}"),
        "-w",
        out_s,
        "-q",
    ]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let packets =
        conn["client_packets"].as_u64().unwrap() + conn["server_packets"].as_u64().unwrap();
    assert!(
        run.stderr.contains(&format!("wrote {packets} packets"))
            && run.stderr.contains("of 1 connections to"),
        "{}",
        run.stderr
    );
    // tcpdump's selection by the 4-tuple: the same packets, byte for byte.
    let proto = if conn["type"] == "tcp_conn" {
        "tcp"
    } else {
        "udp"
    };
    let filter = format!(
        "{proto} and host {} and port {} and host {} and port {}",
        conn["client_ip"].as_str().unwrap(),
        conn["client_port"],
        conn["server_ip"].as_str().unwrap(),
        conn["server_port"]
    );
    let filter: Vec<&str> = filter.split(' ').collect();
    if file.ends_with(".pcapng") {
        // libpcap reads no pcapng whose interfaces differ in link type:
        // tshark lists each packet's interface, time, lengths and MD5.
        let ip = |k: &str| {
            let a = conn[k].as_str().unwrap();
            if a.contains(':') {
                format!("ipv6.addr=={a}")
            } else {
                format!("ip.addr=={a}")
            }
        };
        let display = format!(
            "{} && {} && {proto}.port=={} && {proto}.port=={}",
            ip("client_ip"),
            ip("server_ip"),
            conn["client_port"],
            conn["server_port"]
        );
        assert_eq!(
            frames_via_tshark(out_s, None),
            frames_via_tshark(file, Some(&display)),
            "{file} #{id}: the cut differs from tshark's selection"
        );
    } else {
        assert_eq!(
            records_via_tcpdump(out_s, &[]),
            records_via_tcpdump(file, &filter),
            "{file} #{id}: the cut differs from tcpdump's selection"
        );
    }
    // The cut replays to the same connection (numbered 0 now).
    let again = lines(&["replay", out_s, "-F", "json"]);
    let mut recs: Vec<&Value> = again
        .iter()
        .filter(|r| r["type"] == "tcp_conn" || r["type"] == "udp_flow")
        .collect();
    assert_eq!(recs.len(), 1, "{file} #{id}");
    let mut got = recs.pop().unwrap().clone();
    let mut want = conn;
    got["conn_id"] = 0.into();
    want["conn_id"] = 0.into();
    assert_eq!(got, want, "{file} #{id}: the cut replays differently");
    let bytes = std::fs::read(&out).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    bytes
}

#[test]
fn cut_writes_exactly_the_selected_packets() {
    // Microsecond pcap: the header kept as is.
    let cut = cut_and_compare("captures/http-polling.pcap", 2);
    let orig = std::fs::read(root().join("captures/http-polling.pcap")).unwrap();
    assert_eq!(cut[..24], orig[..24]);
    // Nanosecond pcap stays nanosecond.
    let cut = cut_and_compare("captures/http-curl-nano.pcap", 0);
    assert_eq!(cut[..4], [0x4d, 0x3c, 0xb2, 0xa1]);
    // UDP, and a connection in the middle of the file.
    cut_and_compare("captures/udp-dns.pcap", 1);
    cut_and_compare("captures/ws-violations.pcap", 5);
    // pcapng with two interfaces of different link types keeps both.
    for id in 0..3 {
        let cut = cut_and_compare("captures/mixed-ether-sll2.pcapng", id);
        assert_eq!(cut[..4], [0x0a, 0x0d, 0x0d, 0x0a]);
        let idbs = blocks(&cut).iter().filter(|t| **t == 1).count();
        let orig = std::fs::read(root().join("captures/mixed-ether-sll2.pcapng")).unwrap();
        assert_eq!(idbs, blocks(&orig).iter().filter(|t| **t == 1).count());
        assert!(idbs >= 2);
    }
}

/// The block types of a little-endian pcapng file.
fn blocks(b: &[u8]) -> Vec<u32> {
    let mut at = 0;
    let mut out = Vec::new();
    while at + 8 <= b.len() {
        let ty = u32::from_le_bytes(b[at..at + 4].try_into().unwrap());
        let len = u32::from_le_bytes(b[at + 4..at + 8].try_into().unwrap()) as usize;
        out.push(ty);
        at += len.max(12);
    }
    out
}

#[test]
fn cut_needs_a_file_it_can_read_again() {
    let run = sockscope_with_stdin(
        &["replay", "-", "--conn", "#0", "-w", "/dev/null"],
        Some(std::path::Path::new("captures/refused.pcap")),
    );
    assert_eq!(run.status, 2);
    assert!(run.stderr.contains("-w with --conn"), "{}", run.stderr);
    let run = sockscope(&["replay", "captures/refused.pcap", "-w", "/dev/null"]);
    assert_eq!(run.status, 2, "-w needs --conn: {}", run.stderr);
}

/// A JSON number's text as the encoder wrote it (`"key":TEXT`).
fn raw<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let at = line.find(&format!("\"{key}\":"))? + key.len() + 3;
    let rest = &line[at..];
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    Some(&rest[..end])
}

/// Integer nanoseconds of a JSON time (exact, from its text).
fn ns(text: &str) -> i64 {
    let (int, frac) = text.split_once('.').unwrap_or((text, "0"));
    let frac = format!("{frac:0<9}");
    int.parse::<i64>().unwrap() * 1_000_000_000 + frac[..9].parse::<i64>().unwrap()
}

/// The ladder's times and the numbers of its notes are the JSON records':
/// the handshake ACK's arrow is at `established.ts - tcp_conn.first_ts`, and
/// its note gives `rtt_ms`, `syn_to_synack_ms`, `synack_to_ack_ms` as written
/// there; each SYN retransmission's note gives its time after the first SYN.
#[test]
fn ladder_numbers_are_the_json_records() {
    let mut checked = 0;
    for name in [
        "synack-retransmit.pcap",
        "syn-retransmit.pcap",
        "http-curl-nano.pcap",
        "ws-plain.pcap",
        "http-polling.pcap",
    ] {
        let file = format!("captures/{name}");
        let json = sockscope(&["replay", &file, "-F", "json"]);
        let ladder = sockscope(&[
            "replay",
            &file,
            "--ladder",
            "--all-packets",
            "--width",
            "200",
        ]);
        assert_eq!(ladder.status, 0, "{}", ladder.stderr);
        // Each connection's ladder, by its header line.
        let mut blocks: std::collections::HashMap<u64, Vec<&str>> = Default::default();
        let mut cur = None;
        for l in ladder.stdout.lines() {
            if let Some(rest) = l.strip_prefix('#') {
                cur = rest
                    .split_whitespace()
                    .next()
                    .and_then(|n| n.parse::<u64>().ok());
            }
            if let Some(c) = cur {
                blocks.entry(c).or_default().push(l);
            }
        }
        let lines: Vec<&str> = json.stdout.lines().collect();
        for conn in lines.iter().filter(|l| l.contains("\"type\":\"tcp_conn\"")) {
            let id: u64 = raw(conn, "conn_id").unwrap().parse().unwrap();
            let first = ns(raw(conn, "first_ts").unwrap());
            let block = &blocks[&id];
            let digits = if block.iter().any(|l| l.starts_with("0.000000000")) {
                9
            } else {
                6
            };
            let syn = lines.iter().find(|l| {
                l.contains("\"event\":\"syn\"") && raw(l, "conn_id") == Some(&id.to_string())
            });
            for ev in lines.iter().filter(|l| {
                l.contains("\"type\":\"tcp_event\"") && raw(l, "conn_id") == Some(&id.to_string())
            }) {
                let at = ns(raw(ev, "ts").unwrap()) - first;
                let time = format!(
                    "{}.{:0w$}",
                    at / 1_000_000_000,
                    (at % 1_000_000_000) / 10i64.pow(9 - digits),
                    w = digits as usize
                );
                if ev.contains("\"event\":\"established\"") && raw(ev, "rtt_ms") != Some("null") {
                    let note = format!(
                        "handshake RTT {} ms (server {} + client {})",
                        raw(ev, "rtt_ms").unwrap(),
                        raw(ev, "syn_to_synack_ms").unwrap(),
                        raw(ev, "synack_to_ack_ms").unwrap()
                    );
                    let i = block
                        .iter()
                        .position(|l| l.contains(&note))
                        .unwrap_or_else(|| {
                            panic!("{name} #{id}: no {note:?} in\n{}", block.join("\n"))
                        });
                    // The arrow it is under.
                    let arrow = block[..i]
                        .iter()
                        .rev()
                        .find(|l| !l.starts_with(' '))
                        .unwrap();
                    assert!(
                        arrow.starts_with(&format!("{time} ")),
                        "{name} #{id}: {arrow:?} is not at {time}"
                    );
                    checked += 1;
                }
                if ev.contains("\"event\":\"syn_retransmit\"") {
                    let after = ns(raw(ev, "ts").unwrap()) - ns(raw(syn.unwrap(), "ts").unwrap());
                    let text = format!(
                        "SYN retransmission #{} (+{}.{} s)",
                        raw(ev, "count").unwrap(),
                        after / 1_000_000_000,
                        format!("{:09}", after % 1_000_000_000).trim_end_matches('0')
                    );
                    assert!(
                        block.iter().any(|l| l.contains(&text)),
                        "{name} #{id}: no {text:?}"
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(checked >= 12, "only {checked} numbers compared");
}
