//! The command line itself: help, exit-code documentation, the man page.

use crate::util::{root, sockscope};

#[test]
fn man_pages_are_generated_from_the_cli() {
    let dir = std::env::temp_dir().join(format!("sockscope-man-{}", std::process::id()));
    let run = sockscope(&["generate", "man", "--dir", dir.to_str().unwrap()]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let pages = [
        "sockscope.1",
        "sockscope-replay.1",
        "sockscope-capture.1",
        "sockscope-ls.1",
        "sockscope-check.1",
        "sockscope-report.1",
    ];
    for page in pages {
        let made = std::fs::read_to_string(dir.join(page)).expect(page);
        let committed = std::fs::read_to_string(root().join("man").join(page))
            .unwrap_or_else(|_| panic!("man/{page} is not committed"));
        assert!(
            committed == made,
            "man/{page} is out of date: run `cargo run -- generate man --dir man`"
        );
        assert!(made.contains("EXIT STATUS"), "{page}");
    }
    let _ = std::fs::remove_dir_all(&dir);
    // sockscope(1) names the others; each names its options (roff escapes
    // hyphens).
    let top = sockscope(&["generate", "man"]).stdout;
    for sub in ["replay", "capture", "ls", "check", "report"] {
        assert!(top.contains(&format!("sockscope\\-{sub}(1)")), "{sub}");
    }
    let replay = sockscope(&["generate", "man", "replay"]).stdout;
    assert!(replay.contains("\\-\\-max\\-flows"));
    assert!(replay.contains("\\-\\-ladder") && replay.contains("\\-\\-conn"));
    let ls = sockscope(&["generate", "man", "ls"]).stdout;
    assert!(ls.contains("\\-\\-tree") && !ls.contains("\\-\\-max\\-flows"));
    assert_eq!(sockscope(&["generate", "man", "nope"]).status, 2);
}

#[test]
fn each_format_option_describes_its_own_output() {
    let help = |sub: &str| sockscope(&[sub, "--help"]).stdout;
    assert!(help("replay").contains("capture-health block"));
    assert!(help("capture").contains("capture_stats"));
    assert!(help("check").contains("check_result"));
    assert!(help("ls").contains("ls_summary"));
    assert!(!help("check").contains("capture-health"));
    assert!(!help("ls").contains("capture-health"));
    let top = sockscope(&["--help"]).stdout;
    assert!(
        top.contains("generate") && top.contains("completions"),
        "{top}"
    );
    assert!(top.contains("schema"), "{top}");
}

#[test]
fn help_documents_the_exit_codes() {
    let run = sockscope(&["--help"]);
    assert_eq!(run.status, 0);
    assert!(run.stdout.contains("Exit status:"));
    assert!(run.stdout.contains("2  usage error"));
    let run = sockscope(&["replay", "--help"]);
    assert!(run.stdout.contains("--format"));
    assert!(run.stdout.contains("BPF filter"));
}

#[test]
fn completions_are_generated() {
    let run = sockscope(&["generate", "completions", "bash"]);
    assert_eq!(run.status, 0);
    assert!(run.stdout.contains("sockscope"));
}

/// The JSON Schema travels with the binary, and every record `replay -F
/// json` writes for every bundled capture (and what `ls`, `check` and
/// `capture -D` write) is valid against it.
#[test]
fn every_record_is_valid_against_the_schema() {
    let schema: serde_json::Value =
        serde_json::from_str(&sockscope(&["schema"]).stdout).expect("schema is JSON");
    let defs = schema["$defs"].as_object().expect("$defs");
    for t in [
        "meta",
        "tcp_event",
        "udp_event",
        "tcp_conn",
        "udp_flow",
        "ws_upgrade",
        "ws_frame",
        "ws_message",
        "ws_violation",
        "ws_session",
        "error",
        "capture_stats",
        "summary",
        "socket",
        "ls_summary",
        "check_result",
        "check_summary",
        "interface",
    ] {
        assert!(defs.contains_key(t), "no definition for {t}");
    }
    let validator = jsonschema::validator_for(&schema).expect("a valid JSON Schema");
    let mut checked = std::collections::BTreeMap::<String, u64>::new();
    let mut validate = |what: &str, out: &str| {
        for line in out.lines() {
            let v: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("{what}: {e}: {line}"));
            let errors: Vec<String> = validator.iter_errors(&v).map(|e| e.to_string()).collect();
            assert!(errors.is_empty(), "{what}: {line}\n{errors:#?}");
            *checked
                .entry(v["type"].as_str().unwrap_or("?").to_string())
                .or_default() += 1;
        }
    };
    let mut files = Vec::new();
    for dir in ["captures", "captures/public"] {
        for e in std::fs::read_dir(root().join(dir)).unwrap().flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.ends_with(".pcap") || n.ends_with(".pcapng") {
                files.push(format!("{dir}/{n}"));
            }
        }
    }
    files.sort();
    for f in &files {
        validate(f, &sockscope(&["replay", f, "-F", "json"]).stdout);
    }
    validate(
        "two files",
        &sockscope(&[
            "replay",
            "captures/refused.pcap",
            "captures/udp-dns.pcap",
            "-F",
            "json",
        ])
        .stdout,
    );
    validate(
        "ls",
        &sockscope(&["ls", "-a", "-i", "-m", "-p", "-F", "json"]).stdout,
    );
    validate(
        "ls -r",
        &sockscope(&["ls", "-t", "-a", "-r", "-F", "json"]).stdout,
    );
    // A listener of our own, so that --tree has one to show.
    let _listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    validate(
        "ls --tree",
        &sockscope(&["ls", "--tree", "-F", "json"]).stdout,
    );
    validate(
        "check",
        &sockscope(&[
            "check",
            "captures/refused.pcap",
            "--expect",
            "count(tcp_conn where state == \"REJ\") == 0",
            "--expect",
            "summary.packets > 0",
            "-F",
            "json",
        ])
        .stdout,
    );
    validate(
        "capture -D",
        &sockscope(&["capture", "-D", "-F", "json"]).stdout,
    );
    for t in [
        "meta",
        "tcp_event",
        "udp_event",
        "tcp_conn",
        "udp_flow",
        "ws_upgrade",
        "ws_frame",
        "ws_message",
        "ws_violation",
        "ws_session",
        "error",
        "summary",
        "socket",
        "ls_summary",
        "listener",
        "check_result",
        "check_summary",
        "interface",
    ] {
        assert!(
            checked.get(t).copied().unwrap_or(0) > 0,
            "no {t} record was checked"
        );
    }
}

#[test]
fn usage_errors_exit_2() {
    let run = sockscope(&["replay"]);
    assert_eq!(run.status, 2);
    let run = sockscope(&["replay", "captures/refused.pcap", "--format", "xml"]);
    assert_eq!(run.status, 2);
}

/// A missing or unreadable file: one line on standard error, nothing on
/// standard output, exit 2 — in every output format.
#[test]
fn a_missing_file_is_one_line_and_exit_2() {
    for extra in [&[][..], &["-F", "json"], &["--summary"], &["-q"]] {
        let mut args = vec!["replay", "nope.pcap"];
        args.extend_from_slice(extra);
        let run = sockscope(&args);
        assert_eq!(run.status, 2, "{extra:?}");
        assert_eq!(run.stdout, "", "{extra:?}");
        assert_eq!(
            run.stderr, "sockscope: error: nope.pcap: No such file or directory\n",
            "{extra:?}"
        );
    }
    let dir = sockscope(&["replay", "captures"]);
    assert_eq!(
        (dir.status, dir.stdout.as_str(), dir.stderr.as_str()),
        (2, "", "sockscope: error: captures: Is a directory\n")
    );
    // The second of two files.
    let run = sockscope(&["replay", "-r", "captures/refused.pcap", "-r", "nope.pcap"]);
    assert_eq!((run.status, run.stdout.as_str()), (2, ""));
    assert!(run.stderr.contains("nope.pcap: No such file or directory"));
    let run = sockscope(&["check", "nope.pcap", "--expect", "count(tcp) == 0"]);
    assert_eq!(run.status, 2);
    assert_eq!(
        run.stderr,
        "sockscope: error: nope.pcap: No such file or directory\n"
    );
}

/// tcpdump's habits: -r FILE, -c N, -n/-nn; several files read as one
/// capture in timestamp order.
#[test]
fn replay_takes_tcpdump_flags_and_several_files() {
    let json = |args: &[&str]| -> Vec<serde_json::Value> {
        let run = sockscope(args);
        assert_eq!(run.status, 0, "{args:?}: {}", run.stderr);
        run.stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let summary = |recs: &[serde_json::Value]| recs.last().unwrap().clone();
    let all = json(&["replay", "captures/http-curl.pcap", "-F", "json"]);
    let total = summary(&all)["packets"].as_u64().unwrap();
    let r = json(&[
        "replay",
        "-nn",
        "-r",
        "captures/http-curl.pcap",
        "-F",
        "json",
    ]);
    assert_eq!(summary(&r)["packets"].as_u64(), Some(total));
    // -c counts the packets the filter lets through, as tcpdump's.
    let c = json(&[
        "replay",
        "-n",
        "-r",
        "captures/http-curl.pcap",
        "-c",
        "7",
        "-F",
        "json",
        "tcp",
        "port",
        "8000",
    ]);
    assert_eq!(summary(&c)["packets"], 7);
    assert_eq!(summary(&c)["filter"], serde_json::Value::Null);
    assert_eq!(c[0]["filter"], "tcp port 8000");
    // Positional: files while they exist, then the filter.
    let two = json(&[
        "replay",
        "captures/refused.pcap",
        "captures/udp-dns.pcap",
        "udp",
        "-F",
        "json",
    ]);
    assert_eq!(two[0]["files"][1], "captures/udp-dns.pcap");
    assert_eq!(two[0]["filter"], "udp");
    assert_eq!(summary(&two)["udp_flows"], 3);
    assert_eq!(summary(&two)["tcp_conns"], 0);

    // One capture split by direction into two files whose packets
    // interleave in time: read together, in timestamp order, they are the
    // original capture again.
    let Some(tcpdump) = crate::util::tool("tcpdump", &["--version"]) else {
        eprintln!("skipped: tcpdump is not installed");
        return;
    };
    assert!(tcpdump.status.success());
    let dir = std::env::temp_dir().join(format!("sockscope-split-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let a = dir.join("to-server.pcap");
    let b = dir.join("to-client.pcap");
    for (out, filter) in [
        (&a, "dst port 8000 or dst port 8006"),
        (&b, "src port 8000 or src port 8006"),
    ] {
        let ok = std::process::Command::new("tcpdump")
            .args(["-r", "captures/http-curl.pcap", "-w"])
            .arg(out)
            .arg(filter)
            .current_dir(root())
            .output()
            .unwrap();
        assert!(ok.status.success());
    }
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    let whole = json(&["replay", "captures/http-curl.pcap", "-F", "json", "tcp"]);
    let merged = json(&["replay", b, a, "-F", "json"]);
    let conns = |recs: &[serde_json::Value]| -> Vec<serde_json::Value> {
        recs.iter()
            .filter(|r| r["type"] == "tcp_conn")
            .cloned()
            .collect()
    };
    assert_eq!(conns(&merged), conns(&whole));
    assert!(conns(&merged).iter().all(|c| c["state"] == "SF"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// ss's habits in `ls`: combined short flags, -n, -H, the state filter
/// syntax; the footer on standard error.
#[test]
fn ls_takes_ss_flags() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let sport = format!("( sport = :{port} )");
    for flags in ["-tan", "-tulpn", "-tlnp", "-ltn"] {
        let run = sockscope(&["ls", flags, &sport]);
        assert_eq!(run.status, 0, "{flags}: {}", run.stderr);
        assert!(run.stdout.starts_with(" Proto"), "{flags}: {}", run.stdout);
        assert!(
            run.stdout.contains(&format!("127.0.0.1:{port}")),
            "{flags}: {}",
            run.stdout
        );
        assert!(
            run.stderr.contains("1 socket (from"),
            "{flags}: {}",
            run.stderr
        );
    }
    // -H: rows only.
    let run = sockscope(&["ls", "-tlnH", &sport]);
    assert_eq!(run.stdout.lines().count(), 1, "{}", run.stdout);
    assert!(run.stdout.contains("LISTEN"));
    // ss's state filter before the expression.
    let run = sockscope(&["ls", "-t", "state", "listening", &sport]);
    assert_eq!(run.stdout.lines().count(), 2, "{}", run.stdout);
    let run = sockscope(&["ls", "-t", "-a", "exclude", "listening", &sport]);
    assert_eq!(run.stdout, "", "{}", run.stdout);
    let run = sockscope(&["ls", "-t", "state", "connected", &sport]);
    assert_eq!(run.stdout, "", "{}", run.stdout);
    let run = sockscope(&["ls", "-t", "state", "nonsense"]);
    assert_eq!(run.status, 2);
    assert!(
        run.stderr.contains("unknown state `nonsense`"),
        "{}",
        run.stderr
    );
    // --watch: the source is said once, however many listings.
    let run = sockscope(&["ls", "-t", "-a", "--watch", "0.05", "--count", "3", &sport]);
    assert_eq!(run.status, 0);
    assert_eq!(run.stderr.matches("(from").count(), 1, "{}", run.stderr);
    assert_eq!(
        run.stdout.matches("changed state").count(),
        3,
        "{}",
        run.stdout
    );
}

/// tcpdump's habits in `capture`: -D, -n/-nn/-ni; -e is not --expect.
#[test]
fn capture_takes_tcpdump_flags() {
    let run = sockscope(&["capture", "-D"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(run.stdout.contains("lo"), "{}", run.stdout);
    for args in [
        &["capture", "-e", "count(tcp) == 0", "-i", "lo"][..],
        &["check", "captures/refused.pcap", "-e", "count(tcp) == 0"],
    ] {
        let run = sockscope(args);
        assert_eq!(run.status, 2, "{args:?}");
        assert!(run.stderr.contains("'-e'"), "{args:?}: {}", run.stderr);
    }
    if !crate::util::is_root() {
        eprintln!("skipped: capturing on lo needs root; CI runs it as root");
        return;
    }
    for flags in [&["-ni", "lo"][..], &["-nn", "-i", "lo"]] {
        let mut args = vec!["capture"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["--duration", "0.3s", "-q", "-F", "json", "tcp port 9"]);
        let run = sockscope(&args);
        assert_eq!(run.status, 0, "{flags:?}: {}", run.stderr);
        assert!(run.stdout.contains("\"type\":\"summary\""));
    }
}
