//! `sockscope ls` against real sockets: a python process opens one socket of
//! each kind inside a network namespace this test creates (only loopback is
//! up in it), and sockscope must find exactly them — states, ports, pids,
//! inodes — and agree with `ss -tuwxanpe` run in the same namespace.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

use crate::util::{root, sockscope};

fn is_root() -> bool {
    // /proc/self/status gives the real, effective, saved and fs uids.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

/// A namespace with a python process holding the sockets; removed on drop.
struct Fixture {
    ns: String,
    child: Child,
    info: Value,
    sock_path: String,
}

impl Fixture {
    fn new(tag: &str) -> Option<Fixture> {
        if !is_root() {
            eprintln!(
                "skipped: `ls` namespace tests need root (ip netns add); CI runs them as root"
            );
            return None;
        }
        let ns = format!("sockscope-ls-{tag}-{}", std::process::id());
        let ok = |args: &[&str]| {
            Command::new("ip")
                .args(args)
                .status()
                .is_ok_and(|s| s.success())
        };
        assert!(ok(&["netns", "add", &ns]), "ip netns add {ns}");
        assert!(ok(&["netns", "exec", &ns, "ip", "link", "set", "lo", "up"]));
        let sock_path = format!("/tmp/{ns}.sock");
        let _ = std::fs::remove_file(&sock_path);
        let script = root().join("tests/integration/ls/sockets.py");
        let mut child = Command::new("ip")
            .args(["netns", "exec", &ns, "python3"])
            .arg(&script)
            .arg(&sock_path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3");
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        let info: Value = serde_json::from_str(&line).expect("sockets.py output");
        Some(Fixture {
            ns,
            child,
            info,
            sock_path,
        })
    }

    fn ino(&self, k: &str) -> u64 {
        self.info[k].as_u64().unwrap()
    }

    fn pid(&self) -> u64 {
        self.info["pid"].as_u64().unwrap()
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).status();
        let _ = std::fs::remove_file(&self.sock_path);
    }
}

fn ls_json(args: &[&str]) -> (Vec<Value>, Value) {
    let run = sockscope(args);
    assert_eq!(run.status, 0, "sockscope {args:?}: {}", run.stderr);
    let mut rows: Vec<Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    let summary = rows.pop().expect("ls_summary");
    assert_eq!(summary["type"], "ls_summary");
    assert_eq!(summary["sockets"].as_u64().unwrap() as usize, rows.len());
    (rows, summary)
}

/// (proto, state, local, peer) as ss prints them, for inet sockets.
type Key = (String, String, String, String);

fn key_of(r: &Value) -> Key {
    let ep = |ip: &Value, port: &Value| {
        let ip = ip.as_str().unwrap_or("*");
        let port = match port.as_u64() {
            Some(0) | None => "*".to_string(),
            Some(p) => p.to_string(),
        };
        if ip.contains(':') {
            format!("[{ip}]:{port}")
        } else {
            format!("{ip}:{port}")
        }
    };
    (
        r["proto"].as_str().unwrap().to_string(),
        r["state"].as_str().unwrap().to_string(),
        ep(&r["local_ip"], &r["local_port"]),
        ep(&r["remote_ip"], &r["remote_port"]),
    )
}

#[test]
fn finds_exactly_the_sockets_of_a_namespace() {
    let Some(f) = Fixture::new("exact") else {
        return;
    };
    let (rows, summary) = ls_json(&[
        "ls", "--netns", &f.ns, "-a", "-p", "-t", "-u", "-w", "-x", "-F", "json",
    ]);
    assert!(summary["uninspectable_processes"].is_u64());
    let by_inode = |ino: u64| {
        rows.iter()
            .find(|r| r["inode"].as_u64() == Some(ino))
            .unwrap_or_else(|| panic!("inode {ino} not listed: {rows:#?}"))
    };
    let pid = f.pid();
    for (k, proto, state, port) in [
        ("listen", "tcp", "LISTEN", 7001),
        (
            "client",
            "tcp",
            "ESTAB",
            f.info["client_port"].as_u64().unwrap(),
        ),
        ("server", "tcp", "ESTAB", 7001),
        ("udp", "udp", "UNCONN", 7002),
        (
            "udp_connected",
            "udp",
            "ESTAB",
            f.info["udp_connected_port"].as_u64().unwrap(),
        ),
        ("udp6", "udp", "UNCONN", 7003),
    ] {
        let r = by_inode(f.ino(k));
        assert_eq!(r["proto"], proto, "{k}");
        assert_eq!(r["state"], state, "{k}");
        assert_eq!(r["local_port"].as_u64(), Some(port), "{k}");
        assert_eq!(r["pid"].as_u64(), Some(pid), "{k}");
        assert_eq!(r["process"], "python3", "{k}");
        assert_eq!(r["netns"], f.ns.as_str(), "{k}");
    }
    assert_eq!(by_inode(f.ino("udp6"))["family"], "inet6");
    assert_eq!(by_inode(f.ino("listen"))["send_q"], 16, "backlog");
    let raw = by_inode(f.ino("raw"));
    assert_eq!(
        (raw["proto"].as_str(), raw["local_port"].as_u64()),
        (Some("raw"), Some(1))
    );
    let unix = by_inode(f.ino("unix"));
    assert_eq!(unix["state"], "LISTEN");
    assert_eq!(unix["path"], f.sock_path.as_str());
    // TIME-WAIT has no inode and no owner, but its ports.
    let tw_port = f.info["tw_port"].as_u64().unwrap();
    assert!(rows.iter().any(|r| r["state"] == "TIME-WAIT"
        && r["local_port"].as_u64() == Some(tw_port)
        && r["pid"].is_null()));
    // Nothing else: the namespace is ours alone.
    assert_eq!(rows.len(), 9, "{rows:#?}");

    // The default selection is ss's: no LISTEN, UNCONN or TIME-WAIT.
    let (conn, _) = ls_json(&["ls", "--netns", &f.ns, "-F", "json"]);
    let states: BTreeSet<_> = conn
        .iter()
        .map(|r| r["state"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(states, BTreeSet::from(["ESTAB".to_string()]));
    // Selection by port, state and pid.
    let (l, _) = ls_json(&["ls", "--netns", &f.ns, "-l", "-t", "-F", "json"]);
    assert_eq!(l.len(), 1);
    let (p, _) = ls_json(&[
        "ls", "--netns", &f.ns, "-a", "--sport", "7001", "-F", "json",
    ]);
    assert_eq!(p.len(), 2, "listener and accepted socket");
    let (tw, _) = ls_json(&["ls", "--netns", &f.ns, "--state", "time-wait", "-F", "json"]);
    assert_eq!(tw.len(), 1);
    let pid_s = pid.to_string();
    let (mine, _) = ls_json(&["ls", "--netns", &f.ns, "-a", "--pid", &pid_s, "-F", "json"]);
    assert_eq!(mine.len(), 7, "all but TIME-WAIT and unix (not asked)");
}

#[test]
fn agrees_with_ss() {
    let Some(f) = Fixture::new("ss") else {
        return;
    };
    let Ok(out) = Command::new("ip")
        .args(["netns", "exec", &f.ns, "ss", "-tuwanpe"])
        .output()
    else {
        eprintln!("skipped: ss not installed");
        return;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let mut ss: BTreeSet<(Key, Option<u64>)> = BTreeSet::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 6 {
            continue;
        }
        let pid = line
            .split("pid=")
            .nth(1)
            .and_then(|s| s.split(',').next())
            .and_then(|s| s.parse().ok());
        ss.insert((
            (
                f[0].to_string(),
                f[1].to_string(),
                f[4].to_string(),
                f[5].to_string(),
            ),
            pid,
        ));
    }
    let (rows, _) = ls_json(&["ls", "--netns", &f.ns, "-a", "-p", "-F", "json"]);
    let ours: BTreeSet<(Key, Option<u64>)> = rows
        .iter()
        .map(|r| (key_of(r), r["pid"].as_u64()))
        .collect();
    assert_eq!(ours, ss, "sockscope (left) and ss -tuwanpe (right) differ");
    assert_eq!(ours.len(), 8);
}

#[test]
fn proc_fallback_matches_netlink() {
    let Some(f) = Fixture::new("proc") else {
        return;
    };
    let strip = |rows: Vec<Value>| -> BTreeSet<(Key, u64)> {
        rows.iter()
            // /proc/net has no backlog for listeners: compare without queues.
            .map(|r| (key_of(r), r["inode"].as_u64().unwrap()))
            .collect()
    };
    let (nl, s1) = ls_json(&["ls", "--netns", &f.ns, "-a", "-F", "json"]);
    let (pr, s2) = ls_json(&["ls", "--netns", &f.ns, "-a", "--proc", "-F", "json"]);
    assert_eq!(s2["source"], "proc");
    assert!(s2["fallback_reason"].is_string());
    assert_ne!(s1["source"], "proc");
    assert_eq!(strip(nl), strip(pr));
}

#[test]
fn unknown_namespace_is_an_error() {
    let run = sockscope(&["ls", "--netns", "sockscope-no-such-namespace"]);
    assert_eq!(run.status, 2);
    assert!(
        run.stderr
            .contains("no network namespace named `sockscope-no-such-namespace`"),
        "{}",
        run.stderr
    );
    assert_eq!(run.stderr.lines().count(), 1);
}

#[test]
fn bad_state_is_a_usage_error() {
    let run = sockscope(&["ls", "--state", "establishd"]);
    assert_eq!(run.status, 2);
    assert!(
        run.stderr.contains("unknown state `establishd`"),
        "{}",
        run.stderr
    );
}
