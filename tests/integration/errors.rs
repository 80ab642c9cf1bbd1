//! Damaged, empty and foreign files; exit codes; the order of the records.

use std::io::Write;

use crate::schema::{Rec, Records};
use crate::util::{capture, conformance, replay_json, root, sockscope};

/// meta first, summary last, error (if any) just before summary.
fn assert_order(recs: &[Rec], with_error: bool) {
    assert!(matches!(recs.first(), Some(Rec::Meta(_))), "meta first");
    assert!(matches!(recs.last(), Some(Rec::Summary(_))), "summary last");
    let n = recs.len();
    if with_error {
        assert!(
            matches!(recs[n - 2], Rec::Error(_)),
            "error just before summary"
        );
    }
    let errors = recs.iter().filter(|r| matches!(r, Rec::Error(_))).count();
    assert_eq!(errors, usize::from(with_error));
}

#[test]
fn file_cut_mid_record_reports_everything_before_then_the_offset() {
    let name = conformance("derived-cut-mid-record.pcap");
    let (recs, run) = replay_json(&name, &[]);
    assert_eq!(run.status, 2);
    assert_order(&recs, true);
    let e = recs.error().unwrap();
    // 24-byte header + 28 records: tshark reads 28 packets, then "cut short".
    assert_eq!(e.offset, 4729);
    assert!(
        e.message.contains("cut off by the end of the file"),
        "{}",
        e.message
    );
    assert_eq!(e.file, name);
    let s = recs.summary();
    assert_eq!(s.packets, 28);
    assert!(!s.complete);
    // The connection seen before the damage is reported.
    let c = recs.tcp()[0];
    assert_eq!(c.syn_retransmits, 6);
    assert!(c.handshake_complete);
    // SYN 7.522359, SYN-ACK 9.454341, ACK 9.454407 (tshark).
    assert!((c.rtt_ms.unwrap() - 1932.048).abs() < 1e-6);
    assert!((c.connect_ms.unwrap() - 9454.407).abs() < 1e-6);
    // One line on stderr naming the file and the offset.
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{}", run.stderr);
    assert!(
        lines[0].contains("derived-cut-mid-record.pcap") && lines[0].contains("4729"),
        "{}",
        lines[0]
    );
}

#[test]
fn not_a_capture() {
    let (recs, run) = replay_json(&conformance("rusticata-err-eof.pcap"), &[]);
    assert_eq!(run.status, 2);
    assert_order(&recs, true);
    let e = recs.error().unwrap();
    assert_eq!(e.offset, 0);
    assert!(
        e.message.starts_with("not a pcap or pcapng file"),
        "{}",
        e.message
    );
    assert_eq!(recs.summary().format, None);
}

#[test]
fn empty_capture_is_fine_and_empty_file_is_not() {
    let (recs, run) = replay_json(&conformance("zeek-empty.pcap"), &[]);
    assert_eq!(run.status, 0);
    assert_order(&recs, false);
    assert_eq!(recs.summary().packets, 0);
    assert!(recs.summary().complete);

    let dir = tempdir();
    let empty = dir.join("empty.pcap");
    std::fs::write(&empty, b"").unwrap();
    let (recs, run) = replay_json(empty.to_str().unwrap(), &[]);
    assert_eq!(run.status, 2);
    assert_order(&recs, true);
    assert!(recs.error().unwrap().message.contains("empty file"));
}

#[test]
fn missing_file() {
    // Not a damaged capture: nothing was read, so nothing is written but
    // the one error line (cli::a_missing_file_is_one_line_and_exit_2 checks
    // every format).
    let (recs, run) = replay_json("captures/no-such-file.pcap", &[]);
    assert_eq!(run.status, 2);
    assert!(recs.is_empty());
    assert_eq!(
        run.stderr,
        "sockscope: error: captures/no-such-file.pcap: No such file or directory\n"
    );
}

#[test]
fn absurd_record_length() {
    let mut bytes = std::fs::read(root().join("captures/udp-socat.pcap")).unwrap();
    // The second record's caplen becomes 2 GB.
    let first_caplen = u32::from_le_bytes(bytes[32..36].try_into().unwrap()) as usize;
    let second = 24 + 16 + first_caplen;
    bytes[second + 8..second + 12].copy_from_slice(&0x7fff_ffffu32.to_le_bytes());
    let dir = tempdir();
    let path = dir.join("absurd.pcap");
    std::fs::write(&path, &bytes).unwrap();
    let (recs, run) = replay_json(path.to_str().unwrap(), &[]);
    assert_eq!(run.status, 2);
    let e = recs.error().unwrap();
    assert_eq!(e.offset, second as u64);
    assert!(e.message.contains("absurd record length"), "{}", e.message);
    assert_eq!(recs.summary().packets, 1);
}

#[test]
fn unknown_link_types_are_counted_not_fatal() {
    // refused.pcap relabelled as LINKTYPE_USER0 (147).
    let mut bytes = std::fs::read(root().join("captures/refused.pcap")).unwrap();
    bytes[20..24].copy_from_slice(&147u32.to_le_bytes());
    let dir = tempdir();
    let path = dir.join("user0.pcap");
    std::fs::write(&path, &bytes).unwrap();
    let (recs, run) = replay_json(path.to_str().unwrap(), &[]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let s = recs.summary();
    assert_eq!((s.packets, s.unsupported_link), (4, 4));
    assert_eq!(s.link_types.get("LINKTYPE_147"), Some(&4));
    assert!(recs.tcp().is_empty());
}

#[test]
fn truncated_at_every_length_never_panics() {
    // Every prefix of a small pcapng and pcap: a clean error or a clean end.
    for name in ["captures/http-dumpcap.pcapng", "captures/refused.pcap"] {
        let full = std::fs::read(root().join(name)).unwrap();
        let dir = tempdir();
        for cut in (0..full.len()).step_by(7) {
            let path = dir.join("cut");
            std::fs::write(&path, &full[..cut]).unwrap();
            let (recs, run) = replay_json(path.to_str().unwrap(), &[]);
            assert!(
                run.status == 0 || run.status == 2,
                "{name} cut at {cut}: {}",
                run.stderr
            );
            assert!(
                matches!(recs.last(), Some(Rec::Summary(_))),
                "{name} cut at {cut}"
            );
            if let Some(e) = recs.error() {
                assert!(
                    e.offset as usize <= cut,
                    "{name} cut at {cut}: offset {}",
                    e.offset
                );
            }
        }
    }
}

#[test]
fn human_view_prints_the_error_after_the_tables() {
    let run = sockscope(&[
        "replay",
        &conformance("derived-cut-mid-record.pcap"),
        "--width",
        "160",
    ]);
    assert_eq!(run.status, 2);
    let table = run.stdout.find("TCP connections").unwrap();
    let err = run.stdout.find("stopped at byte offset 4729").unwrap();
    assert!(table < err);
}

#[test]
fn stdin_is_a_file_too() {
    let run = crate::util::sockscope_with_stdin(
        &["replay", "-", "--format", "json", "-q"],
        Some(std::path::Path::new(&capture("refused.pcap"))),
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
    let last = run.stdout.lines().last().unwrap();
    assert!(last.contains("\"tcp_conns\":2"), "{last}");
}

#[test]
fn a_closed_pipe_is_not_an_error() {
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_sockscope"))
        .args([
            "replay",
            "captures/mixed-ether-sll2.pcapng",
            "--format",
            "json",
        ])
        .current_dir(root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read one line, then close the pipe (what `| head -1` does).
    let mut out = child.stdout.take().unwrap();
    let mut first = [0u8; 16];
    std::io::Read::read_exact(&mut out, &mut first).unwrap();
    drop(out);
    let status = child.wait().unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(err.is_empty(), "{err}");
}

#[test]
fn bad_filter_is_a_usage_error() {
    let run = sockscope(&["replay", &capture("refused.pcap"), "tcp port banana"]);
    assert_eq!(run.status, 2);
    assert!(run.stderr.contains("invalid filter"), "{}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1);
}

fn tempdir() -> std::path::PathBuf {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir = std::env::temp_dir().join(format!("sockscope-test-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let _ = std::fs::File::create(dir.join(".keep")).and_then(|mut f| f.write_all(b""));
    dir
}
