//! Regression: replay's full JSON output on every capture, and the human view
//! on a few, compared with the expected output kept beside the captures
//! (`captures/expected/`). A deliberate change is re-blessed with
//! `SOCKSCOPE_BLESS=1 cargo test --test integration golden`; review the diff.

use std::path::Path;

use crate::util::{root, sockscope};

fn check(args: &[&str], expected: &str) {
    let run = sockscope(args);
    assert!(
        run.status == 0 || run.status == 2,
        "{args:?}: {}",
        run.stderr
    );
    let path = root().join(expected);
    if std::env::var_os("SOCKSCOPE_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &run.stdout).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("missing {expected}; bless with SOCKSCOPE_BLESS=1"));
    if want != run.stdout {
        let first = want
            .lines()
            .zip(run.stdout.lines())
            .position(|(a, b)| a != b);
        panic!(
            "{expected} differs from `sockscope {}` (first differing line {:?}); re-bless if intended",
            args.join(" "),
            first.map(|i| i + 1)
        );
    }
}

fn captures_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".pcap") || n.ends_with(".pcapng"))
        .collect();
    v.sort();
    v
}

#[test]
fn json_output_of_every_recorded_capture() {
    for name in captures_in(&root().join("captures")) {
        let file = format!("captures/{name}");
        check(
            &["replay", &file, "--format", "json"],
            &format!("captures/expected/{name}.jsonl"),
        );
    }
}

#[test]
fn json_output_of_every_conformance_capture() {
    for name in captures_in(&crate::util::conformance_dir()) {
        let file = crate::util::conformance(&name);
        check(
            &["replay", &file, "--format", "json"],
            &format!("captures/expected/public/{name}.jsonl"),
        );
    }
}

#[test]
fn human_view() {
    for name in [
        "http-curl.pcap",
        "synack-retransmit.pcap",
        "udp-dns.pcap",
        "ip-fragments.pcap",
        "ws-deflate.pcap",
        "ws-violations.pcap",
    ] {
        let file = format!("captures/{name}");
        check(
            &["replay", &file, "--width", "200"],
            &format!("captures/expected/{name}.txt"),
        );
    }
    check(
        &[
            "replay",
            "captures/public/derived-cut-mid-record.pcap",
            "--summary",
            "--width",
            "200",
        ],
        "captures/expected/public/derived-cut-mid-record.pcap.summary.txt",
    );
}

/// `--ladder` at 80 columns: the handshake with retransmitted SYNs and
/// SYN-ACKs, refusals (IPv6 too), a WebSocket session with its upgrade,
/// messages and elided runs, a gap, reordered and retransmitted data,
/// retransmitted FINs, a mid-stream pickup, UDP, violations.
#[test]
fn ladder_view() {
    for (name, extra) in [
        ("synack-retransmit.pcap", &[][..]),
        ("syn-retransmit.pcap", &[]),
        ("refused.pcap", &["--ascii"]),
        ("ws-plain.pcap", &["--conn", "#0"]),
        ("ws-gap.pcap", &[]),
        ("http-polling.pcap", &["--conn", "1", "--all-packets"]),
        ("tcp-fin-retransmit.pcap", &[]),
        ("tcp-midstream.pcap", &[]),
        ("udp-dns.pcap", &[]),
        (
            "ws-violations.pcap",
            &["--conn", "ws_session where violations > 0"],
        ),
        ("http-curl-nano.pcap", &[]),
    ] {
        let file = format!("captures/{name}");
        let mut args = vec!["replay", &file, "--ladder", "--width", "80"];
        args.extend_from_slice(extra);
        check(&args, &format!("captures/expected/{name}.ladder.txt"));
    }
}
