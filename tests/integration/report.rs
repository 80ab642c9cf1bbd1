//! `sockscope report`: the page opened in headless Chromium (the Debian
//! package `chromium`, driven over the DevTools protocol by
//! report_browser.py) makes no network request and logs nothing, and its
//! text shows the counts the JSON records hold.

use std::process::Command;

use serde_json::Value;

use crate::util::{capture, root, sockscope};

/// The JSON summary of a replay of the same files.
fn summary(files: &[&str]) -> Value {
    let mut args = vec!["replay"];
    args.extend_from_slice(files);
    args.extend(["-F", "json"]);
    let run = sockscope(&args);
    let last = run.stdout.lines().last().unwrap();
    serde_json::from_str(last).unwrap()
}

/// Writes the report of `files`, opens it in Chromium; returns the page's
/// text (None when Chromium is missing: the reason is printed).
fn open_report(files: &[&str], extra: &[&str], png: &std::path::Path) -> Option<String> {
    // One directory per call: the tests run at once.
    let dir = png.with_extension("d");
    std::fs::create_dir_all(&dir).unwrap();
    let html = dir.join("report.html");
    let html_s = html.to_str().unwrap();
    let mut args = vec!["report"];
    args.extend_from_slice(files);
    args.extend(["-o", html_s]);
    args.extend_from_slice(extra);
    let run = sockscope(&args);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(!page.contains("<script"), "the page runs no script");
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "the page names no URL"
    );
    let out = Command::new("python3")
        .arg(root().join("tests/integration/report_browser.py"))
        .args([html_s, png.to_str().unwrap()])
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    if let Some(why) = v["skip"].as_str() {
        println!("skipped: {why}");
        return None;
    }
    assert_eq!(v["requests"], Value::Array(vec![]), "network requests");
    assert_eq!(v["console"], Value::Array(vec![]), "console messages");
    let shot = std::fs::metadata(png).unwrap().len();
    assert!(shot > 10_000, "screenshot of {shot} bytes");
    let _ = std::fs::remove_dir_all(&dir);
    Some(v["text"].as_str().unwrap().to_string())
}

#[test]
fn report_opens_in_a_browser_and_shows_the_records_counts() {
    let files = [
        "captures/ws-violations.pcap",
        "captures/refused.pcap",
        "captures/syn-retransmit.pcap",
    ];
    let png = std::env::temp_dir().join(format!("sockscope-report-{}.png", std::process::id()));
    let Some(text) = open_report(&files, &[], &png) else {
        return;
    };
    let _ = std::fs::remove_file(&png);
    let s = summary(&files);
    for want in [
        format!("{} packets ({} bytes on the wire", s["packets"], s["bytes"]),
        format!(
            "{} TCP connections, {} UDP flows",
            s["tcp_conns"], s["udp_flows"]
        ),
        format!(
            "{} sessions, {} messages, {} violations",
            s["ws_sessions"], s["ws_messages"], s["ws_violations"]
        ),
        // Refused and unanswered counted beside the RTTs: conns, refused,
        // unanswered, with RTT.
        "TCP 10.99.0.1:9\t1\t1\t0\t0".to_string(),
        "TCP [fd00:99::1]:9\t1\t1\t0\t0".to_string(),
        "TCP 10.99.0.50:81\t1\t0\t1\t0".to_string(),
        "client-frame-unmasked".to_string(),
        // The ladder of connection 0, with its handshake note.
        "established: handshake RTT".to_string(),
    ] {
        assert!(text.contains(&want), "the page lacks {want:?}:\n{text}");
    }
}

#[test]
fn report_of_selected_connections() {
    let png = std::env::temp_dir().join(format!("sockscope-report-sel-{}.png", std::process::id()));
    let Some(text) = open_report(
        &["captures/ws-violations.pcap"],
        &["--conn", "ws_session where close_code == 1002"],
        &png,
    ) else {
        return;
    };
    let _ = std::fs::remove_file(&png);
    let json = sockscope(&["replay", "captures/ws-violations.pcap", "-F", "json"]);
    let n = json
        .stdout
        .lines()
        .filter(|l| l.contains("\"type\":\"ws_session\"") && l.contains("\"close_code\":1002"))
        .count();
    assert!(n >= 2);
    assert!(
        text.contains(&format!(
            "Selected by --conn: {n} TCP connections, 0 UDP flows"
        )),
        "{text}"
    );
}

/// HTTP exchanges and real-time channels have their section: the counts
/// and each channel's technique and verdict as the JSON records give them.
#[test]
fn report_shows_http_exchanges_and_channels() {
    let files = [capture("http-longpoll.pcap"), capture("http-polling.pcap")];
    let dir = std::env::temp_dir().join(format!("sockscope-report-http-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let html = dir.join("r.html");
    let run = sockscope(&["report", &files[0], &files[1], "-o", html.to_str().unwrap()]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let page = std::fs::read_to_string(&html).unwrap();
    let s = summary(&[&files[0], &files[1]]);
    assert!(page.contains(&format!(
        "{} HTTP exchanges, {} real-time channels.",
        s["http_txns"], s["rt_channels"]
    )));
    for (technique, verdict) in [
        (
            "long_polling",
            "long polling: 6 requests, server held each 1.3 s (max 2.5 s)",
        ),
        ("polling", "polling: 8 requests every 500 ms"),
    ] {
        assert!(
            page.contains(&format!("<td>{technique}</td>")),
            "{technique}"
        );
        assert!(page.contains(verdict), "{verdict}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
