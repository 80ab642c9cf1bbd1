//! `sockscope check` on the committed captures and the conformance ones:
//! expectations of every kind that hold and that do not, exit codes, the
//! JSON results, JUnit parsed back, bad expressions, damaged captures, and
//! the README's CI job.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::util::{capture, conformance, root, sockscope};

fn check(files: &[&str], exprs: &[&str], extra: &[&str]) -> crate::util::Run {
    let mut args = vec!["check".to_string()];
    args.extend(files.iter().map(|f| f.to_string()));
    for e in exprs {
        args.push("--expect".into());
        args.push(e.to_string());
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    sockscope(&refs)
}

/// (status, value) per expectation, from the JSON results.
fn results(run: &crate::util::Run) -> Vec<Value> {
    let mut v: Vec<Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    let summary = v.pop().expect("check_summary");
    assert_eq!(summary["type"], "check_summary");
    assert!(v.iter().all(|r| r["type"] == "check_result"));
    v
}

#[test]
fn expectations_that_hold_exit_0() {
    let ws = capture("ws-plain.pcap");
    let run = check(
        &[&ws],
        &[
            "count(tcp_conn where server_port == 8766) == 2",
            "count(ws_violation) == 0",
            r#"count(udp_flow where service == "dns" and state == "S0") == 0"#,
            r#"all(tcp_conn where server_port == 8766): state == "SF""#,
            r#"none(tcp_conn): state in ["REJ", "S0"]"#,
            r#"any(ws_message where direction == "client"): text ~ "hello""#,
            "p99(tcp_conn.rtt_ms) < 5",
            "max(ws_message.len) == 70000",
            "sum(tcp_conn.client_bytes) > 0",
            "summary.truncated == 0 and summary.decode_errors == 0",
            "count(frame where masked == false and direction == \"client\") == 0",
            "all(ws): accept_valid and status == 101",
        ],
        &["-F", "json"],
    );
    assert_eq!(run.status, 0, "{}\n{}", run.stdout, run.stderr);
    let r = results(&run);
    assert_eq!(r.len(), 12);
    assert!(r.iter().all(|x| x["status"] == "pass"), "{r:#?}");
    assert_eq!(r[0]["value"], 2);
    assert_eq!(r[8]["offenders"], 0);
}

#[test]
fn expectations_that_fail_exit_1_and_name_the_records() {
    let refused = capture("refused.pcap");
    let run = check(
        &[&refused],
        &[
            r#"count(tcp_conn where state == "REJ") == 0"#,
            r#"all(tcp): state == "SF""#,
            "count(tcp) == 2",
            "p99(tcp.rtt_ms) < 5",
        ],
        &["-F", "json"],
    );
    assert_eq!(run.status, 1, "{}", run.stderr);
    let r = results(&run);
    let status: Vec<&str> = r.iter().map(|x| x["status"].as_str().unwrap()).collect();
    assert_eq!(status, ["fail", "fail", "pass", "fail"]);
    assert_eq!(r[0]["value"], 2);
    assert_eq!(r[0]["offenders"], 2);
    let ports: Vec<u64> = r[0]["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["server_port"].as_u64().unwrap())
        .collect();
    assert_eq!(
        ports,
        [9, 9],
        "the refused connections, to the discard port"
    );
    assert_eq!(r[1]["value"], "0 of 2 tcp_conn hold");
    // Refused: no RTT at all, and null is not below 5.
    assert!(r[3]["reason"].as_str().unwrap().contains("no values"));

    // The human report: ✗, the value, a table of the records.
    let human = check(
        &[&refused],
        &[r#"count(tcp where state == "REJ") == 0"#],
        &[],
    );
    assert_eq!(human.status, 1);
    assert!(
        human
            .stdout
            .contains("✗ count(tcp where state == \"REJ\") == 0  → 2"),
        "{}",
        human.stdout
    );
    assert!(human.stdout.contains("10.99.0.1:9"), "{}", human.stdout);
    assert!(human.stdout.contains("[fd00:99::1]:9"), "{}", human.stdout);
    assert!(human
        .stdout
        .ends_with("1 expectation × 1 file: 0 held, 1 failed\n"));
}

#[test]
fn violations_and_aggregates_on_conformance_captures() {
    // Zeek's capture of a server answering with a wrong Sec-WebSocket-Accept.
    let wrong = conformance("zeek-ws-wrong-accept.pcap");
    let run = check(
        &[&wrong],
        &[
            "all(ws_upgrade): accept_valid",
            r#"any(violation): rule == "bad-accept""#,
        ],
        &["-F", "json"],
    );
    let r = results(&run);
    assert_eq!(r[0]["status"], "fail", "{r:#?}");
    assert_eq!(r[1]["status"], "pass", "{r:#?}");
    assert_eq!(run.status, 1);
    // permessage-deflate: messages are inflated before they are measured.
    let deflate = conformance("zeek-ws-compressed.pcap");
    let run = check(
        &[&deflate],
        &[
            "count(message where compressed) > 0",
            "sum(message.len) > sum(message.wire_len)",
        ],
        &["-F", "json"],
    );
    assert_eq!(run.status, 0, "{}", run.stdout);
}

#[test]
fn capture_stats_is_skipped_on_a_replay() {
    let run = check(
        &[&capture("ws-plain.pcap")],
        &["capture_stats.kernel_drops == 0"],
        &["-F", "json"],
    );
    assert_eq!(run.status, 0);
    let r = results(&run);
    assert_eq!(r[0]["status"], "skipped");
    assert!(r[0]["reason"].as_str().unwrap().contains("live capture"));
}

#[test]
fn junit_parses_and_counts_what_the_report_says() {
    let dir = std::env::temp_dir().join(format!("sockscope-junit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let junit = dir.join("report.xml");
    let run = check(
        &[&capture("refused.pcap"), &capture("ws-plain.pcap")],
        &[
            "count(tcp) >= 2",
            r#"none(tcp): state == "REJ""#,
            "capture_stats.kernel_drops == 0",
        ],
        &["--junit", junit.to_str().unwrap()],
    );
    assert_eq!(run.status, 1);
    let xml = std::fs::read_to_string(&junit).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let doc = roxmltree::Document::parse(&xml).expect("well-formed JUnit XML");
    let top = doc.root_element();
    assert_eq!(top.tag_name().name(), "testsuites");
    let attr = |n: roxmltree::Node, a: &str| n.attribute(a).unwrap_or_default().to_string();
    assert_eq!(
        (
            attr(top, "tests"),
            attr(top, "failures"),
            attr(top, "skipped"),
            attr(top, "errors")
        ),
        ("6".into(), "1".into(), "2".into(), "0".into())
    );
    let suites: Vec<_> = top
        .children()
        .filter(|n| n.has_tag_name("testsuite"))
        .collect();
    assert_eq!(suites.len(), 2);
    assert_eq!(attr(suites[0], "name"), "captures/refused.pcap");
    let mut by_case: BTreeMap<(String, String), String> = BTreeMap::new();
    for s in &suites {
        for c in s.children().filter(|n| n.has_tag_name("testcase")) {
            let outcome = c
                .children()
                .find(|n| n.is_element())
                .map_or("pass".to_string(), |n| n.tag_name().name().to_string());
            by_case.insert((attr(*s, "name"), attr(c, "name")), outcome);
            if let Some(f) = c.children().find(|n| n.has_tag_name("failure")) {
                assert_eq!(attr(f, "message"), "2 of 2 tcp_conn match, none should");
                assert!(f.text().unwrap_or_default().contains("10.99.0.1:9"));
            }
        }
    }
    let refused = "captures/refused.pcap".to_string();
    assert_eq!(
        by_case[&(refused.clone(), "none(tcp): state == \"REJ\"".into())],
        "failure"
    );
    assert_eq!(by_case[&(refused, "count(tcp) >= 2".into())], "pass");
    assert_eq!(
        by_case[&(
            "captures/ws-plain.pcap".into(),
            "capture_stats.kernel_drops == 0".into()
        )],
        "skipped"
    );
}

#[test]
fn a_malformed_expression_is_a_usage_error_with_its_position() {
    let run = check(&[&capture("ws-plain.pcap")], &["count(tcp) >= "], &[]);
    assert_eq!(run.status, 2);
    assert!(
        run.stderr.contains("at column 15: expected a value"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty());
    let run = check(&[&capture("ws-plain.pcap")], &["all(tcp) state == 1"], &[]);
    assert_eq!(run.status, 2);
    assert!(
        run.stderr.contains("at column 10: expected `:`"),
        "{}",
        run.stderr
    );
    let run = sockscope(&["check", &capture("ws-plain.pcap")]);
    assert_eq!(run.status, 2);
    assert!(run.stderr.contains("nothing to check"), "{}", run.stderr);
}

#[test]
fn a_bad_rules_file_names_the_rule() {
    let dir = std::env::temp_dir().join(format!("sockscope-rules-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rules = dir.join("rules.toml");
    std::fs::write(
        &rules,
        "[[expect]]\nname = \"ok\"\nexpr = \"count(tcp) > 0\"\n\n[[expect]]\nname = \"typo\"\nexpr = \"count(tpc) > 0\"\n",
    )
    .unwrap();
    let run = sockscope(&[
        "check",
        &capture("ws-plain.pcap"),
        "--rules",
        rules.to_str().unwrap(),
    ]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(run.status, 2);
    assert!(run.stderr.contains("[[expect]] 2 (typo)"), "{}", run.stderr);
    assert!(
        run.stderr.contains("unknown record type `tpc`"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_damaged_capture_is_exit_2_unless_allowed() {
    let cut = conformance("derived-cut-mid-record.pcap");
    let run = check(&[&cut], &["count(tcp) >= 1"], &["-F", "json"]);
    assert_eq!(run.status, 2);
    assert!(run.stderr.contains("byte offset 4729"), "{}", run.stderr);
    let r = results(&run);
    assert_eq!(r[0]["status"], "error");
    // Allowed: what came before the damage is checked (one connection).
    let run = check(
        &[&cut],
        &["count(tcp) == 1"],
        &["--allow-truncated", "-F", "json"],
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(
        run.stderr.starts_with("sockscope: warning:"),
        "{}",
        run.stderr
    );
    assert_eq!(results(&run)[0]["status"], "pass");
    let missing = sockscope(&[
        "check",
        "captures/no-such.pcap",
        "--expect",
        "count(tcp) == 0",
    ]);
    assert_eq!(missing.status, 2);
    assert!(
        missing.stderr.contains("No such file or directory"),
        "{}",
        missing.stderr
    );
}

/// The `sockscope check` lines of the README's GitHub Actions and GitLab CI
/// jobs, run as written (with the binary under test), must pass and write
/// valid JUnit.
#[test]
fn readme_ci_job_passes() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let section = readme
        .split("## Use in CI")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("README has a `Use in CI` section");
    let commands: Vec<&str> = section
        .lines()
        .filter_map(|l| l.find("sockscope check ").map(|i| &l[i..]))
        .collect();
    assert_eq!(commands.len(), 2, "one per job: {commands:?}");
    assert!(section.contains("cargo install --locked --path ."));
    for cmd in commands {
        let dir = std::env::temp_dir().join(format!("sockscope-ci-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let words: Vec<String> = cmd
            .split_whitespace()
            .skip(1)
            .map(|w| match w {
                "sockscope-junit.xml" => dir.join(w).to_string_lossy().into_owned(),
                w => w.to_string(),
            })
            .collect();
        let refs: Vec<&str> = words.iter().map(String::as_str).collect();
        let run = sockscope(&refs);
        assert_eq!(run.status, 0, "{cmd}\n{}\n{}", run.stdout, run.stderr);
        let xml = std::fs::read_to_string(dir.join("sockscope-junit.xml")).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        let doc = roxmltree::Document::parse(&xml).unwrap();
        assert_eq!(doc.root_element().attribute("failures"), Some("0"));
        assert_eq!(doc.root_element().attribute("tests"), Some("8"));
    }
}

/// The check language's field list is the JSON schema: every field a replay
/// of the committed captures writes can be named, and every name is written
/// by some capture (or belongs to a record replay never writes); every value
/// of an enumerated field is one the language accepts.
#[test]
fn check_schema_matches_replay_json() {
    use sockscope::check::schema;
    let mut seen: BTreeMap<String, std::collections::BTreeSet<String>> = BTreeMap::new();
    let mut files: Vec<String> = std::fs::read_dir(root().join("captures"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".pcap") || n.ends_with(".pcapng"))
        .map(|n| capture(&n))
        .collect();
    files.extend(
        [
            "zeek-ws-compressed.pcap",
            "zeek-ipv4-fragmented-ntp.pcap",
            "derived-cut-mid-record.pcap",
        ]
        .map(conformance),
    );
    let mut enum_values = 0;
    for f in &files {
        let run = sockscope(&["replay", f, "-F", "json"]);
        for line in run.stdout.lines() {
            let v: Value = serde_json::from_str(line).unwrap();
            let ty = v["type"].as_str().unwrap().to_string();
            let index = schema::record_type(&ty).unwrap();
            for (k, x) in v.as_object().unwrap() {
                seen.entry(ty.clone()).or_default().insert(k.clone());
                if let (Some(values), Some(x)) = (schema::enum_values(index, k), x.as_str()) {
                    assert!(
                        values.contains(x),
                        "{f}: {ty}.{k} is {x:?}, which check rejects"
                    );
                    enum_values += 1;
                }
            }
        }
    }
    assert!(enum_values > 100, "{enum_values}");
    for (ty, keys) in &seen {
        for k in keys {
            assert!(
                k == "type" || schema::fields(ty).contains(&k.as_str()),
                "replay writes {ty}.{k}, which check cannot name: add it to check/schema.rs"
            );
        }
    }
    for r in schema::RECORDS {
        if r.name == "capture_stats" {
            continue;
        }
        for f in r.fields {
            // Written only when a reassembly limit gives bytes up (the
            // schema's unit test reads it from a made record).
            if (r.name, f.name) == ("tcp_event", "bytes") {
                continue;
            }
            assert!(
                seen.get(r.name).is_some_and(|k| k.contains(f.name)),
                "check names {}.{}, which no replay writes",
                r.name,
                f.name
            );
        }
    }
}

/// `--baseline`: a stored replay output with other client ports, times and
/// RTTs matches; a changed close code is listed, and fails.
#[test]
fn baseline_ignores_what_always_changes_and_lists_the_rest() {
    let ws = capture("ws-plain.pcap");
    let stored = sockscope(&["replay", &ws, "-F", "json"]);
    assert_eq!(stored.status, 0);
    let dir = std::env::temp_dir().join(format!("sockscope-baseline-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut closes = 0;
    let shift = |recs: &str, change_close: bool, closes: &mut u32| -> String {
        recs.lines()
            .map(|l| {
                let mut v: Value = serde_json::from_str(l).unwrap();
                if let Some(p) = v.get("client_port").and_then(Value::as_u64) {
                    v["client_port"] = (p + 1000).into();
                }
                for t in ["ts", "first_ts", "last_ts"] {
                    if let Some(x) = v.get(t).and_then(Value::as_f64) {
                        v[t] = (x + 86_400.0).into();
                    }
                }
                if v.get("rtt_ms").is_some_and(Value::is_f64) {
                    v["rtt_ms"] = 42.0.into();
                }
                if change_close
                    && v["type"] == "ws_session"
                    && v["close_code"] == 1000
                    && *closes == 0
                {
                    v["close_code"] = 1001.into();
                    *closes += 1;
                }
                v.to_string()
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let same = dir.join("same.jsonl");
    std::fs::write(&same, shift(&stored.stdout, false, &mut closes)).unwrap();
    let changed = dir.join("changed.jsonl");
    std::fs::write(&changed, shift(&stored.stdout, true, &mut closes)).unwrap();
    assert_eq!(closes, 1, "the capture has a session closed with 1000");

    let run = sockscope(&[
        "check",
        &ws,
        "--baseline",
        same.to_str().unwrap(),
        "-F",
        "json",
    ]);
    assert_eq!(run.status, 0, "{}", run.stdout);
    let r = results(&run);
    assert_eq!(r[0]["status"], "pass");
    assert_eq!(r[0]["value"], "4 compared, 0 differences");

    let run = sockscope(&["check", &ws, "--baseline", changed.to_str().unwrap()]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(run.status, 1, "{}", run.stdout);
    assert!(
        run.stdout.contains("→ 4 compared, 1 difference\n"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(": close_code 1001 → 1000\n"),
        "{}",
        run.stdout
    );
    let bad = sockscope(&["check", &ws, "--baseline", "captures/ws-plain.pcap"]);
    assert_eq!(bad.status, 2);
    assert!(
        bad.stderr.contains("cannot read baseline"),
        "{}",
        bad.stderr
    );
}

/// Expressions nested past the language's limit are parse errors with their
/// column (exit 2), in `-e` and in a rules file; a long `or` chain is not
/// nesting and is checked.
#[test]
fn deep_nesting_is_a_parse_error_with_its_position() {
    let refused = capture("refused.pcap");
    let parens = format!("{}count(tcp) == 2{}", "(".repeat(5000), ")".repeat(5000));
    let nots = format!("{}count(tcp) == 2", "not ".repeat(10_000));
    for (expr, col) in [(&parens, 101), (&nots, 401)] {
        let run = check(&[&refused], &[expr], &[]);
        assert_eq!(run.status, 2, "{}", run.stderr);
        assert!(
            run.stderr
                .contains(&format!("at column {col}: nested more than 100 deep")),
            "{}",
            &run.stderr[..run.stderr.len().min(400)]
        );
        assert!(
            run.stderr.len() < 1000,
            "the expression is cut around the column"
        );
    }
    let dir = std::env::temp_dir().join(format!("sockscope-deep-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rules = dir.join("rules.toml");
    let chain = (1..=10_000)
        .map(|n| format!("count(tcp) == {n}"))
        .collect::<Vec<_>>()
        .join(" or ");
    std::fs::write(
        &rules,
        format!("[[expect]]\nname = \"chain\"\nexpr = \"{chain}\"\n"),
    )
    .unwrap();
    let run = sockscope(&["check", &refused, "--rules", rules.to_str().unwrap()]);
    assert_eq!(
        run.status,
        0,
        "{}",
        &run.stderr[..run.stderr.len().min(400)]
    );
    assert!(run.stdout.contains("✓ chain"), "{}", run.stdout);
    let deep = format!(
        "{}count(tcp) == 2{}",
        "(".repeat(100_000),
        ")".repeat(100_000)
    );
    std::fs::write(
        &rules,
        format!("[[expect]]\nname = \"deep\"\nexpr = \"{deep}\"\n"),
    )
    .unwrap();
    let run = sockscope(&["check", &refused, "--rules", rules.to_str().unwrap()]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(
        run.status,
        2,
        "{}",
        &run.stderr[..run.stderr.len().min(400)]
    );
    assert!(
        run.stderr.contains("[[expect]] 1 (deep)")
            && run
                .stderr
                .contains("at column 101: nested more than 100 deep"),
        "{}",
        &run.stderr[..run.stderr.len().min(400)]
    );
}

/// A value an enumerated field never takes is a parse error that lists the
/// values (and the nearest one), for every enumerated field.
#[test]
fn enumerated_values_are_checked() {
    let refused = capture("refused.pcap");
    for (expr, col, says) in [
        (
            r#"count(tcp where state == "rej") == 0"#,
            26,
            r#"tcp_conn.state is never "rej": it is one of S0, S1, SF, REJ, S2, S3, RSTO, RSTR, RSTOS0, RSTRH, SH, SHR, OTH; did you mean "REJ"?"#,
        ),
        (
            r#"none(tcp): state in ["REJ", "SO"]"#,
            29,
            r#"did you mean "S0"?"#,
        ),
        (
            r#"count(frame where opcode_name == "txt") == 0"#,
            34,
            r#"ws_frame.opcode_name is never "txt": it is one of continuation, text, binary, close, ping, pong, reserved"#,
        ),
        (
            r#"count(message where opcode_name != "close") == 0"#,
            36,
            r#"ws_message.opcode_name is never "close": it is one of text, binary"#,
        ),
        (
            r#"count(udp where service == "dsn") == 0"#,
            28,
            r#"did you mean "dns"?"#,
        ),
        (
            r#"count(violation where rule == "bad-acept") == 0"#,
            31,
            r#"did you mean "bad-accept"?"#,
        ),
        (
            r#"count(tcp_event where event == "syn-ack") == 0"#,
            32,
            r#"did you mean "synack"?"#,
        ),
        (
            r#"all(ws): closed_by == "clinet""#,
            23,
            r#"ws_session.closed_by is never "clinet": it is one of client, server"#,
        ),
        (
            r#"summary.format == "PCAPNG""#,
            19,
            r#"did you mean "pcapng"?"#,
        ),
        (
            r#""tcp" == meta.command"#,
            1,
            r#"meta.command is never "tcp""#,
        ),
    ] {
        let run = check(&[&refused], &[expr], &[]);
        assert_eq!(run.status, 2, "{expr}: {}", run.stdout);
        assert!(
            run.stderr.contains(&format!("at column {col}: ")) && run.stderr.contains(says),
            "{expr}: {}",
            run.stderr
        );
    }
    // Values that exist still parse, and `~` takes any pattern.
    let run = check(
        &[&refused],
        &[r#"count(tcp where state in ["REJ", "RSTO"] and state ~ "^R") == 2"#],
        &[],
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
}

/// Typos get a suggestion, and an unquoted value a hint to quote it.
#[test]
fn typos_get_suggestions() {
    let refused = capture("refused.pcap");
    for (expr, says) in [
        ("count(tcp where rtt < 1) == 0", "did you mean `rtt_ms`?"),
        ("count(tpc) > 0", "did you mean `tcp`?"),
        ("sumary.truncated == 0", "did you mean `summary`?"),
        ("summary.trunc == 0", "did you mean `truncated`?"),
        ("cuont(tcp) > 0", "did you mean `count`?"),
        (
            "count(tcp where state == REJ) == 0",
            r#"`REJ` is a value of state: quote it, state == "REJ""#,
        ),
    ] {
        let run = check(&[&refused], &[expr], &[]);
        assert_eq!(run.status, 2, "{expr}");
        assert!(run.stderr.contains(says), "{expr}: {}", run.stderr);
    }
}

/// Numbers a double cannot hold are errors, not null.
#[test]
fn numbers_out_of_range_are_errors() {
    let refused = capture("refused.pcap");
    for (expr, col) in [("count(tcp) < 1e400", 14), ("count(tcp) > -1e400", 14)] {
        let run = check(&[&refused], &[expr], &[]);
        assert_eq!(run.status, 2, "{expr}: {}", run.stdout);
        assert!(
            run.stderr.contains(&format!("at column {col}: "))
                && run.stderr.contains("out of range"),
            "{expr}: {}",
            run.stderr
        );
    }
}

/// Each offender table shows the time (to the microsecond of the packet,
/// never rounded through a float), the endpoints, the record's kind and the
/// fields its own expectation reads; no value prints as `-`.
#[test]
fn offender_tables_show_their_own_fields_and_exact_times() {
    let refused = capture("refused.pcap");
    let run = check(
        &[&refused],
        &[
            r#"count(tcp where state == "REJ") == 0"#,
            "count(tcp where rtt_ms == null) == 0",
            "max(tcp.client_packets) < 1",
        ],
        &[],
    );
    assert_eq!(run.status, 1, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        r#"captures/refused.pcap
  ✗ count(tcp where state == "REJ") == 0  → 2
      2 == 0 is false
       time             client              server          state
       05:42:43.958669  10.99.0.2:34998     10.99.0.1:9     REJ
       05:42:43.971401  [fd00:99::2]:58404  [fd00:99::1]:9  REJ
  ✗ count(tcp where rtt_ms == null) == 0  → 2
      2 == 0 is false
       time             client              server          state  rtt_ms
       05:42:43.958669  10.99.0.2:34998     10.99.0.1:9     REJ    -
       05:42:43.971401  [fd00:99::2]:58404  [fd00:99::1]:9  REJ    -
  ✗ max(tcp.client_packets) < 1  → 1
      1 < 1 is false
       time             client              server          state  client_packets
       05:42:43.958669  10.99.0.2:34998     10.99.0.1:9     REJ    1
       05:42:43.971401  [fd00:99::2]:58404  [fd00:99::1]:9  REJ    1
3 expectations × 1 file: 0 held, 3 failed
"#
    );
    // The JSON records carry the exact times too.
    let run = check(
        &[&refused],
        &[r#"count(tcp where state == "REJ") == 0"#],
        &["-F", "json"],
    );
    assert!(
        run.stdout.contains(r#""first_ts":1795326163.958669,"#)
            && run.stdout.contains(r#""first_ts":1795326163.971401,"#),
        "{}",
        run.stdout
    );
    // JUnit's tables are the report's.
    let dir = std::env::temp_dir().join(format!("sockscope-junit-t-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let junit = dir.join("r.xml");
    check(
        &[&refused],
        &["count(tcp where rtt_ms == null) == 0"],
        &["--junit", junit.to_str().unwrap()],
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        xml.contains("05:42:43.971401  [fd00:99::2]:58404  [fd00:99::1]:9  REJ    -"),
        "{xml}"
    );
}

/// `-F json` writes each value with its JSON type.
#[test]
fn json_values_have_their_types() {
    let refused = capture("refused.pcap");
    let run = check(
        &[&refused],
        &[
            "count(tcp) == 2",
            "summary.complete",
            r#"meta.command == "replay""#,
            "max(tcp.duration) > 1",
            "min(tcp.rtt_ms) < 1",
            "count(tcp) == 2 and summary.complete",
            r#"all(tcp): state == "REJ""#,
        ],
        &["-F", "json"],
    );
    let r = results(&run);
    assert_eq!(r[0]["value"], 2);
    assert_eq!(r[1]["value"], true);
    assert_eq!(r[2]["value"], "replay");
    assert_eq!(r[3]["value"], 0.000089);
    assert_eq!(r[4]["value"], Value::Null);
    assert_eq!(r[5]["value"], serde_json::json!([2, true]));
    assert_eq!(r[6]["value"], "2 of 2 tcp_conn hold");
    assert!(
        run.stdout.contains(r#""value":0.000089,"#),
        "{}",
        run.stdout
    );
}
