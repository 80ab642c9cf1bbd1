//! `sockscope ls` against real sockets: a python process opens one socket of
//! each kind inside a network namespace this test creates (only loopback is
//! up in it), and sockscope must find exactly them — states, ports, pids,
//! inodes — and agree with `ss -tuwxanpe` run in the same namespace.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

use crate::util::{is_root, python, root, sockscope, PublicBinary};

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

/// A filter nested past the limit is a usage error with its column, not a
/// stack overflow.
#[test]
fn deep_ls_filter_is_a_usage_error() {
    let filter = format!("{}sport = :22{}", "( ".repeat(20_000), " )".repeat(20_000));
    let run = sockscope(&["ls", &filter]);
    assert_eq!(
        run.status,
        2,
        "{}",
        &run.stderr[..run.stderr.len().min(400)]
    );
    assert!(
        run.stderr
            .contains("filter expression, at column 201 `(`: nested more than 100 deep"),
        "{}",
        &run.stderr[..run.stderr.len().min(400)]
    );
}

#[test]
fn tree_groups_accepted_connections_under_their_listener() {
    let Some(f) = Fixture::new("tree") else {
        return;
    };
    let run = sockscope(&["ls", "--netns", &f.ns, "--tree", "-F", "json"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let recs: Vec<Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let listeners: Vec<&Value> = recs.iter().filter(|r| r["type"] == "listener").collect();
    assert_eq!(listeners.len(), 1, "{recs:#?}");
    let l = listeners[0];
    assert_eq!(l["inode"].as_u64(), Some(f.ino("listen")));
    assert_eq!(l["pid"].as_u64(), Some(f.pid()), "--tree implies -p");
    assert_eq!(l["send_q"], 16, "backlog");
    // Accepted: the ESTAB server side and the half-closed one of the
    // TIME-WAIT pair (its client closed first, so it waits in CLOSE-WAIT
    // or is gone, depending on timing: count ESTAB only).
    assert_eq!(l["states"]["ESTAB"], 1, "{l}");
    let under: Vec<&Value> = recs
        .iter()
        .filter(|r| r["listener_inode"].as_u64() == Some(f.ino("listen")))
        .collect();
    assert!(under
        .iter()
        .any(|r| r["inode"].as_u64() == Some(f.ino("server"))));
    assert_eq!(l["connections"].as_u64(), Some(under.len() as u64));
    // The client's end and the TIME-WAIT socket were not accepted here.
    let others: Vec<&Value> = recs
        .iter()
        .filter(|r| r["type"] == "socket" && r["listener_inode"].is_null())
        .collect();
    assert!(others
        .iter()
        .any(|r| r["inode"].as_u64() == Some(f.ino("client"))));
    assert!(others.iter().any(|r| r["state"] == "TIME-WAIT"));
    assert!(
        recs.iter().all(|r| r["proto"] != "udp"),
        "--tree lists TCP unless asked"
    );

    let human = sockscope(&["ls", "--netns", &f.ns, "--tree"]);
    let first = human.stdout.lines().next().unwrap_or_default().to_string();
    let want = format!(
        "127.0.0.1:7001 python3({}) [netns {}]: listening, backlog 0/16",
        f.pid(),
        f.ns
    );
    assert!(first.starts_with(&want), "{first:?}\nwanted {want:?}");
    assert!(first.contains("1 established"), "{first}");
}

#[test]
fn watch_reports_what_appeared_vanished_and_changed() {
    use std::io::Write;
    let Some(mut f) = Fixture::new("watch") else {
        return;
    };
    let mut ls = Command::new(env!("CARGO_BIN_EXE_sockscope"))
        .args(["ls", "--netns", &f.ns, "-t", "-u", "-a", "-F", "json"])
        .args(["--watch", "2", "--count", "2"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(ls.stdout.take().unwrap()).lines();
    let mut snapshot = || -> Vec<Value> {
        let mut recs = Vec::new();
        for l in lines.by_ref() {
            let v: Value = serde_json::from_str(&l.unwrap()).unwrap();
            let end = v["type"] == "ls_summary";
            recs.push(v);
            if end {
                break;
            }
        }
        recs
    };
    let first = snapshot();
    let s1 = first.last().unwrap();
    assert_eq!(s1["snapshot"], 1);
    assert!(s1["ts"].as_f64().unwrap() > 1.7e9);
    assert_eq!(s1["appeared"], 0, "the first listing is the baseline");
    assert!(first[..first.len() - 1]
        .iter()
        .all(|r| r["change"].is_null()));
    // Change the sockets before the second listing (2 s later).
    writeln!(f.child.stdin.as_mut().unwrap(), "change").unwrap();
    let mut answer = String::new();
    BufReader::new(f.child.stdout.as_mut().unwrap())
        .read_line(&mut answer)
        .unwrap();
    let new_port = serde_json::from_str::<Value>(&answer).unwrap()["new_port"]
        .as_u64()
        .unwrap();
    let second = snapshot();
    assert!(ls.wait().unwrap().success(), "--count 2 ends it");
    let s2 = second.last().unwrap();
    assert_eq!(s2["snapshot"], 2);
    assert!(s2["ts"].as_f64() > s1["ts"].as_f64());
    let with =
        |change: &str| -> Vec<&Value> { second.iter().filter(|r| r["change"] == change).collect() };
    let appeared = with("appeared");
    assert_eq!(appeared.len(), 2, "{appeared:#?}");
    assert!(appeared
        .iter()
        .any(|r| r["local_port"].as_u64() == Some(new_port)));
    assert!(appeared
        .iter()
        .any(|r| r["remote_port"].as_u64() == Some(new_port)));
    let vanished = with("vanished");
    assert_eq!(vanished.len(), 1, "{vanished:#?}");
    assert_eq!(vanished[0]["inode"].as_u64(), Some(f.ino("udp_connected")));
    let changed = with("state");
    let client = changed
        .iter()
        .find(|r| r["local_port"] == f.info["client_port"])
        .expect("the client's end changed state");
    assert_eq!(client["prev_state"], "ESTAB");
    assert_eq!(client["state"], "FIN-WAIT-2");
    assert!(changed
        .iter()
        .any(|r| r["remote_port"] == f.info["client_port"] && r["state"] == "CLOSE-WAIT"));
    assert_eq!(s2["appeared"], 2);
    assert_eq!(s2["vanished"], 1);
    assert_eq!(s2["state_changed"].as_u64(), Some(changed.len() as u64));
}

#[test]
fn resolve_names_loopback_and_services() {
    let Some(f) = Fixture::new("resolve") else {
        return;
    };
    let (rows, _) = ls_json(&["ls", "--netns", &f.ns, "-l", "-t", "-r", "-F", "json"]);
    assert_eq!(rows.len(), 1);
    // /etc/hosts names 127.0.0.1 `localhost` on Debian; 7001 has no service.
    assert_eq!(rows[0]["local_host"], "localhost", "{}", rows[0]);
    assert!(rows[0]["local_service"].is_null());
    let table = sockscope(&["ls", "--netns", &f.ns, "-l", "-t", "-r"]);
    assert!(table.stdout.contains("localhost:7001"), "{}", table.stdout);
}

/// A user who is not root sees the namespace's sockets but not which root
/// process holds them — no guess, a count — and does see its own.
#[test]
fn owners_hidden_from_an_unprivileged_user_are_counted_not_guessed() {
    let Some(f) = Fixture::new("nobody") else {
        return;
    };
    if Command::new("setpriv").arg("--version").output().is_err() {
        eprintln!("skipped: setpriv (util-linux) not installed");
        return;
    }
    let bin = PublicBinary::new("nobody");
    let as_nobody = || {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &f.ns, "setpriv"]).args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
        ]);
        c
    };
    // A socket of nobody's own, in the same namespace.
    let python = python();
    let mut own = as_nobody()
        .args([python, "-c"])
        .arg(
            "import socket,sys\ns=socket.socket()\ns.bind(('127.0.0.1',7010))\ns.listen()\n\
             print('ready',flush=True)\nsys.stdin.read()",
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut ready = String::new();
    BufReader::new(own.stdout.as_mut().unwrap())
        .read_line(&mut ready)
        .unwrap();
    assert_eq!(ready.trim(), "ready");
    let out = as_nobody()
        .arg(&bin.path)
        .args(["ls", "-a", "-p", "-t", "-F", "json"])
        .output()
        .unwrap();
    drop(own.stdin.take());
    let _ = own.wait();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let recs: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let (summary, rows) = recs.split_last().unwrap();
    let root_listener = rows
        .iter()
        .find(|r| r["inode"].as_u64() == Some(f.ino("listen")))
        .expect("root's sockets are listed");
    assert!(root_listener["pid"].is_null(), "{root_listener}");
    assert_eq!(root_listener["owners"], serde_json::json!([]));
    let mine = rows
        .iter()
        .find(|r| r["local_port"] == 7010)
        .expect("nobody's listener");
    assert_eq!(mine["pid"].as_u64(), Some(u64::from(own.id())));
    assert_eq!(mine["uid"], 65534);
    assert!(summary["uninspectable_processes"].as_u64().unwrap() > 0);
    let unowned = rows.iter().filter(|r| r["pid"].is_null()).count() as u64;
    assert_eq!(summary["unowned_sockets"].as_u64(), Some(unowned));
    assert!(unowned >= 4, "root's TCP sockets and TIME-WAIT: {summary}");
}

/// ss's filter expressions select the same sockets in sockscope as in ss.
#[test]
fn filter_expressions_select_what_ss_selects() {
    let Some(f) = Fixture::new("filter") else {
        return;
    };
    let client = f.info["client_port"].as_u64().unwrap().to_string();
    for expr in [
        "( dport = :7001 or sport = :7001 )".to_string(),
        "sport = :7001".to_string(),
        "dst 127.0.0.1 and not sport = :7001".to_string(),
        format!("sport = :{client}"),
        "sport > :7001".to_string(),
        "src 127.0.0.0/8:7002".to_string(),
        "src [::1]".to_string(),
    ] {
        let ss = Command::new("ip")
            .args(["netns", "exec", &f.ns, "ss", "-tuwanH"])
            .arg(&expr)
            .output()
            .expect("ss");
        let want: BTreeSet<Key> = String::from_utf8_lossy(&ss.stdout)
            .lines()
            .filter_map(|l| {
                let c: Vec<&str> = l.split_whitespace().collect();
                (c.len() >= 6).then(|| {
                    (
                        c[0].to_string(),
                        c[1].to_string(),
                        c[4].to_string(),
                        c[5].to_string(),
                    )
                })
            })
            .collect();
        let (rows, _) = ls_json(&["ls", "--netns", &f.ns, "-a", "-F", "json", &expr]);
        let got: BTreeSet<Key> = rows.iter().map(key_of).collect();
        assert_eq!(
            got, want,
            "`{expr}`: sockscope (left) and ss (right) differ"
        );
    }
    // Something is selected at all (the comparison cannot pass vacuously).
    let (rows, _) = ls_json(&["ls", "--netns", &f.ns, "-a", "-F", "json", "sport = :7001"]);
    assert_eq!(rows.len(), 2, "listener and accepted socket");
    let bad = sockscope(&["ls", "dport = :no-such-service"]);
    assert_eq!(bad.status, 2);
    assert!(
        bad.stderr
            .contains("at column 9 `:no-such-service`: not a port"),
        "{}",
        bad.stderr
    );
}
