//! WebSocket decoding on real sessions: the captures `record.sh` makes with
//! Debian's python3-websockets client and server (what they send is in
//! `captures/ws_peer.py`), the public captures in captures/public, and
//! tshark as an independent oracle for every frame.

use std::collections::BTreeMap;

use crate::schema::{Records, WsFrame, WsMessage};
use crate::util::{capture, conformance, conformance_dir, replay_json, root, sockscope, tool};

/// What `ws_peer.py session` sends; the server echoes each message.
const LONG_TEXT_LEN: u64 = 70_000; // "sockscope " * 7000
const UNICODE: &str = "κόσμε — unicode across frames ✓";

fn messages_from<'a>(msgs: &[&'a WsMessage], dir: &str) -> Vec<&'a WsMessage> {
    msgs.iter()
        .copied()
        .filter(|m| m.direction == dir)
        .collect()
}

/// The scripted session, in one direction: (opcode, decoded length, frames, text).
fn session_messages(m: &[&WsMessage]) -> Vec<(String, u64, u32, Option<String>)> {
    m.iter()
        .map(|m| (m.opcode_name.clone(), m.len, m.frames, m.text.clone()))
        .collect()
}

/// websockets sends an iterable as one frame per item and ends the message
/// with an empty FIN frame (it cannot know which item is the last): 3 + 1.
fn expected_session() -> Vec<(String, u64, u32, Option<String>)> {
    let fragment_frames = 4;
    let long = "sockscope ".repeat(12);
    vec![
        ("text".into(), 16, 1, Some("hello, sockscope".into())),
        ("binary".into(), 256, 1, None),
        (
            "text".into(),
            28,
            fragment_frames,
            Some("frag-one frag-two frag-three".into()),
        ),
        ("text".into(), UNICODE.len() as u64, 1, Some(UNICODE.into())),
        ("text".into(), LONG_TEXT_LEN, 1, Some(long)),
    ]
}

#[test]
fn python_websockets_with_permessage_deflate() {
    let (recs, run) = replay_json(&capture("ws-deflate.pcap"), &[]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let ups = recs.ws_upgrades();
    assert_eq!(ups.len(), 2);
    let u = ups[0];
    assert_eq!(
        (u.method.as_str(), u.target.as_str(), u.status),
        ("GET", "/chat", Some(101))
    );
    assert_eq!(u.origin.as_deref(), Some("http://sockscope.test"));
    assert_eq!(u.version.as_deref(), Some("13"));
    assert_eq!(u.requested_protocols.as_deref(), Some("chat.v1, chat.v2"));
    assert_eq!(u.subprotocol, None, "the server supports none of them");
    assert_eq!(u.accept_valid, Some(true));
    assert_eq!(
        u.extensions.as_deref(),
        Some("permessage-deflate; server_max_window_bits=12; client_max_window_bits=12")
    );
    assert!(u.key.as_ref().is_some_and(|k| k.len() == 24));

    let first = ups[0].client_port;
    let msgs: Vec<&WsMessage> = recs
        .ws_messages()
        .into_iter()
        .filter(|m| m.client_port == first)
        .collect();
    for dir in ["client", "server"] {
        let m = messages_from(&msgs, dir);
        assert_eq!(session_messages(&m), expected_session(), "{dir}");
        assert!(m.iter().all(|m| m.compressed && !m.incomplete), "{dir}");
        // 70 kB of repeated text inflates from a few hundred bytes.
        assert!(m[4].wire_len < 1000 && m[4].text_truncated);
    }
    let frames: Vec<&WsFrame> = recs
        .ws_frames()
        .into_iter()
        .filter(|f| f.client_port == first)
        .collect();
    let ping = frames.iter().find(|f| f.opcode_name == "ping").unwrap();
    assert_eq!(
        (ping.direction.as_str(), ping.control_payload.as_deref()),
        ("client", Some("are you there?"))
    );
    let pong = frames.iter().find(|f| f.opcode_name == "pong").unwrap();
    assert_eq!(pong.control_payload.as_deref(), Some("are you there?"));
    // Only first frames of messages carry RSV1; every client frame is masked.
    assert!(frames
        .iter()
        .filter(|f| f.opcode_name == "continuation")
        .all(|f| !f.rsv1));
    assert!(frames
        .iter()
        .filter(|f| f.direction == "client")
        .all(|f| f.masked));
    assert!(frames
        .iter()
        .filter(|f| f.direction == "server")
        .all(|f| !f.masked));

    let sessions = recs.ws_sessions();
    assert_eq!(sessions.len(), 2);
    let s = sessions[0];
    assert!(s.compression);
    assert_eq!(
        (
            s.close_code,
            s.close_reason.as_deref(),
            s.closed_by.as_deref()
        ),
        (Some(1000), Some("done"), Some("client"))
    );
    assert_eq!((s.client_messages, s.server_messages), (5, 5));
    // text, binary, ping, 4 fragments, text, text, close.
    assert_eq!((s.client_frames, s.server_frames), (10, 10));
    assert_eq!(
        s.client_message_bytes,
        16 + 256 + 28 + UNICODE.len() as u64 + LONG_TEXT_LEN
    );
    assert_eq!(s.violations, 0);
    let s = sessions[1];
    assert_eq!(
        (s.target.as_str(), s.close_code, s.close_reason.as_deref()),
        ("/custom", Some(4000), Some("custom reason"))
    );

    let sum = recs.summary();
    assert_eq!(
        (sum.ws_sessions, sum.ws_violations, sum.reassembly_gaps),
        (2, 0, 0)
    );
    assert_eq!(sum.ws_messages, 2 * 5 + 2);
    assert!(recs.ws_violations().is_empty());
}

#[test]
fn python_websockets_uncompressed_over_ipv6() {
    let (recs, _) = replay_json(&capture("ws-plain.pcap"), &[]);
    let u = recs.ws_upgrades()[0];
    assert_eq!(
        (u.client_ip.as_str(), u.server_ip.as_str()),
        ("fd00:99::2", "fd00:99::1")
    );
    assert_eq!(
        (u.extensions.as_deref(), u.accept_valid),
        (None, Some(true))
    );
    let msgs: Vec<&WsMessage> = recs
        .ws_messages()
        .into_iter()
        .filter(|m| m.client_port == u.client_port)
        .collect();
    for dir in ["client", "server"] {
        let m = messages_from(&msgs, dir);
        assert_eq!(session_messages(&m), expected_session(), "{dir}");
        assert!(m.iter().all(|m| !m.compressed && m.wire_len == m.len));
    }
    // 70 000 bytes need the 64-bit length form (16 bits hold 65 535).
    let big: Vec<_> = recs
        .ws_frames()
        .into_iter()
        .filter(|f| f.payload_len == LONG_TEXT_LEN)
        .collect();
    assert_eq!(big.len(), 2);
    assert!(recs.ws_violations().is_empty());
}

#[test]
fn rejected_upgrades_are_not_decoded() {
    let (recs, _) = replay_json(&capture("ws-rejected.pcap"), &[]);
    let ups = recs.ws_upgrades();
    let status: Vec<_> = ups
        .iter()
        .map(|u| {
            (
                u.target.as_str(),
                u.status,
                u.reason.as_deref(),
                u.accept_valid,
            )
        })
        .collect();
    assert_eq!(
        status,
        [
            ("/private", Some(403), Some("Forbidden"), None),
            ("/chat", Some(400), Some("Bad Request"), None)
        ]
    );
    assert_eq!(
        ups[1].version.as_deref(),
        Some("12"),
        "curl asked for version 12"
    );
    assert!(recs.ws_frames().is_empty() && recs.ws_messages().is_empty());
    assert!(
        recs.ws_violations().is_empty(),
        "a body after the answer is not a frame"
    );
    let s = recs.ws_sessions();
    assert_eq!(
        (s.len(), s[0].status, s[1].status),
        (2, Some(403), Some(400))
    );
}

#[test]
fn rule_breaking_client_against_a_real_server() {
    let (recs, _) = replay_json(&capture("ws-violations.pcap"), &[]);
    let rules: Vec<_> = recs
        .ws_violations()
        .iter()
        .map(|v| (v.direction.as_str(), v.rule.as_str()))
        .collect();
    assert_eq!(
        rules,
        [
            ("client", "client-frame-unmasked"),
            ("client", "invalid-utf8-text"),
            ("client", "reserved-opcode"),
            ("client", "invalid-close-code"),
            ("client", "rsv-bits-without-extension"),
            ("client", "control-frame-too-long"),
            ("client", "continuation-without-start"),
            ("client", "new-message-during-fragmented"),
            ("client", "rsv-bits-without-extension"),
            ("client", "frames-after-failed-upgrade"),
        ]
    );
    // How the websockets server reacted: it failed each connection with the
    // close code RFC 6455 §7.4.1 gives (1002 protocol error, 1007 bad data);
    // for the invalid close code it never answered with its own.
    let closes: Vec<_> = recs
        .ws_sessions()
        .iter()
        .map(|s| (s.close_code, s.closed_by.as_deref()))
        .collect();
    assert_eq!(
        closes,
        [
            (Some(1002), Some("server")),
            (Some(1007), Some("server")),
            (Some(1002), Some("server")),
            (Some(1005), Some("client")),
            (Some(1002), Some("server")),
            (Some(1002), Some("server")),
            (Some(1002), Some("server")),
            (Some(1002), Some("server")),
            (Some(1002), Some("server")),
            (None, None),
        ]
    );
    assert_eq!(recs.summary().ws_violations, 10);
}

/// A frame as (direction, opcode, payload length).
type FrameShape = (String, u8, u64);
/// A message as (direction, decoded length, text).
type MessageShape = (String, u64, Option<String>);

/// Every frame and message: what reordering, repeating or splitting must not
/// change.
fn decoded(recs: &Vec<crate::schema::Rec>) -> (Vec<FrameShape>, Vec<MessageShape>) {
    let f = recs
        .ws_frames()
        .iter()
        .map(|f| (f.direction.clone(), f.opcode, f.payload_len))
        .collect();
    let m = recs
        .ws_messages()
        .iter()
        .map(|m| (m.direction.clone(), m.len, m.text.clone()))
        .collect();
    (f, m)
}

#[test]
fn frames_across_many_segments_reordered_and_repeated() {
    let (split, _) = replay_json(&capture("ws-split.pcap"), &[]);
    let c = split.tcp()[0];
    assert_eq!((c.mss, c.server_mss), (Some(120), Some(120)));
    assert!(
        c.client_packets > 500,
        "the 70 kB message spans hundreds of segments"
    );
    let msgs = split.ws_messages();
    for dir in ["client", "server"] {
        assert_eq!(
            session_messages(&messages_from(&msgs, dir)),
            expected_session(),
            "{dir}"
        );
    }
    let (reordered, _) = replay_json(&capture("ws-reorder.pcap"), &[]);
    let t = reordered.tcp()[0];
    assert!(
        t.history.contains('T') && t.history.contains('t'),
        "retransmissions both ways: {}",
        t.history
    );
    assert_eq!(t.missed_bytes, 0);
    assert_eq!(decoded(&reordered), decoded(&split));
    assert_eq!(reordered.summary().reassembly_gaps, 0);
    assert!(reordered.ws_violations().is_empty());
}

#[test]
fn a_lost_segment_is_a_gap_and_decoding_goes_on() {
    let (recs, _) = replay_json(&capture("ws-gap.pcap"), &[]);
    let c = recs.tcp()[0];
    // One 108-byte server segment inside the 70 kB echo was removed.
    assert_eq!(c.missed_bytes, 108);
    assert!(c.history.contains('g'));
    let big: Vec<_> = recs
        .ws_frames()
        .into_iter()
        .filter(|f| f.direction == "server" && f.payload_len == LONG_TEXT_LEN)
        .collect();
    assert!(big[0].incomplete);
    let m = messages_from(&recs.ws_messages(), "server");
    assert_eq!((m[4].len, m[4].incomplete), (LONG_TEXT_LEN - 108, true));
    // The close frames after the gap still decode.
    let s = recs.ws_sessions()[0];
    assert_eq!((s.close_code, s.gap_bytes), (Some(1000), 108));
    assert_eq!(recs.summary().reassembly_gaps, 1);
}

#[test]
fn conformance_captures() {
    // Values read with tshark 4.0 (`tshark -d tcp.port==PORT,http -V`).
    let frames = |name: &str| {
        let (recs, run) = replay_json(&conformance(name), &[]);
        assert_eq!(run.status, 0, "{name}: {}", run.stderr);
        let f: Vec<(String, u8, u64, bool)> = recs
            .ws_frames()
            .iter()
            .map(|f| (f.direction.clone(), f.opcode, f.payload_len, f.fin))
            .collect();
        (recs, f)
    };
    let c = |d: &str, op: u8, len: u64, fin: bool| (d.to_string(), op, len, fin);

    let (recs, f) = frames("zeek-ws-fragmented-http-reply.pcap");
    assert_eq!(
        f,
        [
            c("server", 9, 4, true),
            c("client", 10, 4, true),
            c("client", 2, 35, true),
            c("server", 2, 1, false),
            c("server", 0, 7, false),
            c("server", 0, 9, false),
            c("server", 0, 18, false),
            c("server", 0, 21, true),
            c("client", 8, 2, true),
            c("server", 8, 2, true),
        ]
    );
    let m = messages_from(&recs.ws_messages(), "server");
    assert_eq!((m[0].frames, m[0].len), (5, 56));
    assert_eq!(recs.ws_upgrades()[0].subprotocol.as_deref(), Some("v1"));

    let (recs, f) = frames("zeek-ws-reply-ping-coalesced.pcap");
    assert_eq!(
        f[0],
        c("server", 9, 4, true),
        "the ping in the 101's segment"
    );
    let texts: Vec<_> = recs
        .ws_messages()
        .iter()
        .map(|m| m.text.clone().unwrap())
        .collect();
    assert_eq!(texts, ["Hello Zeek!", "Hello there!"]);

    let (recs, _) = frames("zeek-ws-message-too-big.pcap");
    let close = recs
        .ws_frames()
        .into_iter()
        .find(|f| f.direction == "client" && f.opcode == 8)
        .unwrap();
    assert_eq!(
        (close.close_code, close.close_reason.as_deref()),
        (Some(1009), Some("over size limit (4 > 2 bytes)"))
    );

    let (recs, _) = frames("zeek-ws-wrong-accept.pcap");
    let u = recs.ws_upgrades()[0];
    assert_eq!(
        (u.accept_valid, u.accept.as_deref()),
        (Some(false), Some("N8ntNYkX6Qerw4tK3s/CYzpSZNc=-wrong"))
    );
    assert_eq!(recs.ws_violations()[0].rule, "bad-accept");

    let (recs, f) = frames("zeek-ws-oversized-close.pcapng");
    assert_eq!(f, [c("server", 8, 258, true)]);
    let rules: Vec<_> = recs
        .ws_violations()
        .iter()
        .map(|v| v.rule.clone())
        .collect();
    assert_eq!(rules, ["non-minimal-length", "control-frame-too-long"]);
    assert_eq!(recs.ws_frames()[0].close_code, Some(1000));

    let (recs, f) = frames("zeek-ws-compressed.pcap");
    assert_eq!(
        f,
        [
            c("client", 1, 32, true),
            c("server", 1, 42, true),
            c("server", 8, 2, true),
            c("client", 8, 2, true)
        ]
    );
    let m = recs.ws_messages();
    assert_eq!((m[0].len, m[1].len), (1000, 1350));
    assert!(m[0]
        .text
        .as_ref()
        .unwrap()
        .starts_with("Hello_Zeek_Analyzer_"));
    assert!(recs.ws_frames()[0].rsv1);

    let (recs, f) = frames("zeek-ws-baseline.pcap");
    assert_eq!(
        f[..2],
        [c("client", 1, 1000, true), c("server", 1, 1350, true)]
    );
    assert!(recs.ws_messages().iter().all(|m| !m.compressed));
}

// ----- tshark as the oracle -----

#[derive(Debug, PartialEq)]
struct OracleFrame {
    fin: bool,
    rsv1: bool,
    opcode: u8,
    masked: bool,
    len: u64,
    close_code: Option<u16>,
    close_reason: Option<String>,
}

fn field<'a>(v: &'a serde_json::Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(|x| x.as_str())
}

/// tshark's frames per (client port, direction), in order, and the text it
/// decoded for the last frame of each message (None where it found none).
type Oracle = BTreeMap<(u16, String), Vec<(OracleFrame, Option<String>)>>;

fn tshark_frames(file: &str, server_port: u16) -> Option<Oracle> {
    let port = format!("tcp.port=={server_port},http");
    let out = tool(
        "tshark",
        // Out-of-order reassembly is off by default in tshark 4.0.
        &[
            "-r",
            file,
            "-d",
            &port,
            "-o",
            "tcp.reassemble_out_of_order:TRUE",
            "-T",
            "json",
            "--no-duplicate-keys",
            "-J",
            "tcp websocket",
            "-Y",
            "websocket",
        ],
    )?;
    assert!(out.status.success(), "tshark failed on {file}");
    let packets: serde_json::Value = serde_json::from_slice(&out.stdout).expect("tshark JSON");
    let mut by_side = Oracle::new();
    for p in packets.as_array().unwrap() {
        let layers = &p["_source"]["layers"];
        let src: u16 = field(&layers["tcp"], "tcp.srcport")
            .unwrap()
            .parse()
            .unwrap();
        let dst: u16 = field(&layers["tcp"], "tcp.dstport")
            .unwrap()
            .parse()
            .unwrap();
        let (client_port, dir) = if dst == server_port {
            (src, "client")
        } else {
            (dst, "server")
        };
        let ws = match &layers["websocket"] {
            serde_json::Value::Array(a) => a.clone(),
            one => vec![one.clone()],
        };
        for w in ws {
            let num = |k: &str| field(&w, k).map(|s| s.parse::<u64>().unwrap());
            let len7 = num("websocket.payload_length").unwrap();
            let len = match len7 {
                126 => num("websocket.payload_length_ext_16").unwrap(),
                127 => num("websocket.payload_length_ext_64").unwrap(),
                n => n,
            };
            let payload = &w["websocket.payload"];
            let close = &payload["websocket.payload.close"];
            let rsv = u8::from_str_radix(
                field(&w, "websocket.rsv").unwrap().trim_start_matches("0x"),
                16,
            )
            .unwrap();
            let frame = OracleFrame {
                fin: field(&w, "websocket.fin") == Some("1"),
                rsv1: rsv & 4 != 0,
                opcode: num("websocket.opcode").unwrap() as u8,
                masked: field(&w, "websocket.mask") == Some("1"),
                len,
                close_code: field(close, "websocket.payload.close.status_code")
                    .map(|s| s.parse().unwrap()),
                close_reason: field(close, "websocket.payload.close.reason").map(str::to_string),
            };
            let text = field(payload, "websocket.payload.text").map(str::to_string);
            by_side
                .entry((client_port, dir.to_string()))
                .or_default()
                .push((frame, text));
        }
    }
    Some(by_side)
}

fn frames_only(o: &Oracle) -> BTreeMap<(u16, String), Vec<&OracleFrame>> {
    o.iter()
        .map(|(k, v)| (k.clone(), v.iter().map(|x| &x.0).collect()))
        .collect()
}

/// Every frame sockscope reports is the frame tshark reports (same order per
/// direction, same FIN, RSV1, opcode, mask, length, close code and reason),
/// and every text tshark could decode is the text sockscope decoded.
#[test]
fn every_frame_matches_tshark() {
    if tool("tshark", &["--version"]).is_none() {
        eprintln!("skipped: tshark is not installed (CI installs it)");
        return;
    }
    let files: Vec<String> = [
        "zeek-ws-baseline.pcap",
        "zeek-ws-compressed.pcap",
        "zeek-ws-fragmented-http-reply.pcap",
        "zeek-ws-message-too-big.pcap",
        "zeek-ws-oversized-close.pcapng",
        "zeek-ws-reply-ping-coalesced.pcap",
        "zeek-ws-reply-ping-separate.pcap",
        "zeek-ws-wrong-accept.pcap",
    ]
    .iter()
    .map(|n| conformance(n))
    .chain(
        [
            "ws-deflate.pcap",
            "ws-plain.pcap",
            "ws-violations.pcap",
            "ws-split.pcap",
            "ws-reorder.pcap",
        ]
        .iter()
        .map(|n| capture(n)),
    )
    .collect();
    let (mut frames_checked, mut texts_checked, mut tshark_garbled) = (0, 0, 0);
    for file in &files {
        let (recs, _) = replay_json(file, &["--ws-preview", "1000000"]);
        let server_port = recs.ws_upgrades()[0].server_port;
        let oracle = tshark_frames(file, server_port).expect("tshark ran");
        let mut ours: Oracle = BTreeMap::new();
        let msgs = recs.ws_messages();
        let mut msg_at = BTreeMap::new();
        for m in &msgs {
            msg_at
                .entry((m.client_port, m.direction.clone()))
                .or_insert_with(Vec::new)
                .push(m.text.clone());
        }
        for f in recs.ws_frames() {
            let frame = OracleFrame {
                fin: f.fin,
                rsv1: f.rsv1,
                opcode: f.opcode,
                masked: f.masked,
                len: f.payload_len,
                close_code: f.close_code,
                close_reason: f.close_reason.clone().filter(|r| !r.is_empty()),
            };
            ours.entry((f.client_port, f.direction.clone()))
                .or_default()
                .push((frame, None));
        }
        assert_eq!(
            frames_only(&ours),
            frames_only(&oracle),
            "{file}: frames differ from tshark's"
        );
        frames_checked += ours.values().map(Vec::len).sum::<usize>();
        // Texts: tshark puts a message's text on its last frame. (Not where
        // broken fragmentation makes messages that tshark does not count.)
        if file.ends_with("ws-violations.pcap") {
            continue;
        }
        for (side, frames) in &oracle {
            let mut texts = msg_at.get(side).cloned().unwrap_or_default().into_iter();
            for (f, text) in frames {
                let ends_data_message = f.fin && matches!(f.opcode, 0..=2);
                if !ends_data_message {
                    continue;
                }
                let ours = texts.next().flatten();
                match text {
                    // tshark 4.0 cannot inflate fragmented compressed
                    // messages, and loses the window after one.
                    Some(t) if t.contains('\u{fffd}') => tshark_garbled += 1,
                    Some(t) => {
                        assert_eq!(ours.as_deref(), Some(t.as_str()), "{file} {side:?}");
                        texts_checked += 1;
                    }
                    None => {}
                }
            }
        }
    }
    eprintln!("{frames_checked} frames and {texts_checked} texts match tshark; {tshark_garbled} texts tshark could not decode");
    assert!(
        frames_checked > 100 && texts_checked > 25,
        "{frames_checked} frames, {texts_checked} texts"
    );
}

#[test]
fn a_retransmission_with_other_bytes_is_reported_and_ignored() {
    let (split, _) = replay_json(&capture("ws-split.pcap"), &[]);
    let (recs, _) = replay_json(&capture("ws-conflict.pcap"), &[]);
    let conflicts: Vec<_> = recs
        .events()
        .into_iter()
        .filter(|e| e.event == "overlap_conflict")
        .collect();
    assert_eq!(conflicts.len(), 1);
    assert_eq!(conflicts[0].direction, "client");
    assert_eq!(recs.summary().reassembly_conflicts, 1);
    assert_eq!(split.summary().reassembly_conflicts, 0);
    // The first copy won: the upgrade and everything after it decode as before.
    assert_eq!(decoded(&recs), decoded(&split));
    assert_eq!(recs.ws_upgrades()[0].key, split.ws_upgrades()[0].key);
}

#[test]
fn the_readme_lists_every_rule() {
    let readme = std::fs::read_to_string(crate::util::root().join("README.md")).unwrap();
    let table: Vec<&str> = readme
        .lines()
        .skip_while(|l| !l.starts_with("| rule | what |"))
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .filter_map(|l| l.split('`').nth(1))
        .collect();
    let ids: Vec<&str> = sockscope::proto::RULES.iter().map(|r| r.0).collect();
    assert_eq!(
        table, ids,
        "the README's rule table and sockscope's rules differ"
    );
}

#[test]
fn sequence_numbers_wrapping_in_both_streams() {
    let (split, _) = replay_json(&capture("ws-split.pcap"), &[]);
    let (wrap, _) = replay_json(&capture("ws-wrap.pcap"), &[]);
    // The same session with both ISNs a few hundred bytes below 2^32: every
    // stream crosses the wrap within its first segments.
    assert_eq!(decoded(&wrap), decoded(&split));
    let (a, b) = (wrap.tcp()[0], split.tcp()[0]);
    assert_eq!(
        (a.client_bytes, a.server_bytes, a.missed_bytes),
        (b.client_bytes, b.server_bytes, 0)
    );
    assert_eq!(wrap.summary().reassembly_gaps, 0);
}

/// Without per-frame records (`--summary`, `-q`) the decoder takes its
/// shortcuts (payload notes made on the source thread, whole messages
/// counted in one step); every session must still count exactly what the
/// full decoding counts, on every recorded and public WebSocket capture.
#[test]
fn quiet_decoding_counts_what_full_decoding_does() {
    let mut files: Vec<String> = Vec::new();
    for dir in [root().join("captures"), conformance_dir()] {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with("ws-") || name.starts_with("zeek-ws-") {
                files.push(e.path().to_string_lossy().into_owned());
            }
        }
    }
    files.sort();
    let lines = |run: &crate::util::Run, kind: &str| -> Vec<String> {
        run.stdout
            .lines()
            .filter(|l| l.contains(&format!("\"type\":\"{kind}\"")))
            .map(str::to_string)
            .collect()
    };
    let (mut sessions, mut messages) = (0, 0);
    for f in &files {
        let full = sockscope(&["replay", f, "--format", "json"]);
        let summary = sockscope(&["replay", f, "--format", "json", "--summary"]);
        let quiet = sockscope(&["replay", f, "--format", "json", "-q"]);
        let want = lines(&full, "ws_session");
        assert_eq!(lines(&summary, "ws_session"), want, "{f}");
        assert_eq!(lines(&quiet, "summary"), lines(&full, "summary"), "{f}");
        sessions += want.len();
        let s: serde_json::Value = serde_json::from_str(&lines(&full, "summary")[0]).unwrap();
        messages += s["ws_messages"].as_u64().unwrap();
    }
    assert!(files.len() >= 17, "{files:?}");
    assert!(
        sessions >= 27 && messages >= 90,
        "{sessions} sessions, {messages} messages"
    );
}
