//! `replay` on the team's public conformance captures (`captures/public`,
//! provenance in its MANIFEST.tsv). Expected values come from tshark and from
//! reading the packets by hand (Zeek's rules for conn_state and history),
//! never from sockscope's own output.

use crate::schema::{Records, TcpConn};
use crate::util::{conformance, replay_json, sockscope};

fn approx(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() < 1e-6)
}

fn one_tcp(name: &str) -> TcpConn {
    let (recs, run) = replay_json(&conformance(name), &[]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let tcp = recs.tcp();
    assert_eq!(tcp.len(), 1, "{name}");
    tcp[0].clone()
}

#[test]
fn syn_retransmissions_without_answer() {
    // 1 SYN + 3 retransmitted SYNs (same ISN), 127.0.0.1:20 -> :80.
    let c = one_tcp("zeek-tcp-option-sack-syn-retx.pcap");
    assert_eq!((c.state.as_str(), c.history.as_str()), ("S0", "S"));
    assert_eq!(c.syn_retransmits, 3);
    assert_eq!((c.client_packets, c.server_packets), (4, 0));
    assert_eq!(c.rtt_ms, None);
    assert_eq!(c.verdict, "no answer after 4 SYNs");
    // The SACK blocks on these SYNs are parsed over; SACK-permitted is not set.
    assert_eq!(c.sack_ok, Some(false));
}

#[test]
fn syn_then_rst_from_the_originator() {
    let c = one_tcp("zeek-tcp-syn-then-rst.pcap");
    assert_eq!((c.state.as_str(), c.history.as_str()), ("RSTOS0", "SR"));
    assert_eq!(c.rtt_ms, None);
}

#[test]
fn null_loopback_refused_then_complete() {
    let (recs, _) = replay_json(&conformance("zeek-irc-353-null-refused.pcap"), &[]);
    let s = recs.summary();
    assert_eq!(s.link_types.get("NULL"), Some(&12));
    let tcp = recs.tcp();
    assert_eq!(tcp.len(), 2);
    // [::1]:65388 -> :6666 answered by RST/ACK.
    assert_eq!(
        (
            tcp[0].client_ip.as_str(),
            tcp[0].state.as_str(),
            tcp[0].history.as_str()
        ),
        ("::1", "REJ", "Sr")
    );
    assert_eq!(
        tcp[0].rtt_ms, None,
        "a refusal is not an RTT (tshark reports one)"
    );
    // 127.0.0.1:65389: SYN .000127, SYN-ACK .000186, ACK .000194; 5 bytes, FINs.
    let c = tcp[1];
    assert_eq!((c.state.as_str(), c.history.as_str()), ("SF", "ShAaDFf"));
    assert_eq!((c.client_bytes, c.server_bytes), (5, 0));
    assert!(approx(c.rtt_ms, 0.067), "{:?}", c.rtt_ms);
    assert!(approx(c.syn_to_synack_ms, 0.059));
    assert!(approx(c.synack_to_ack_ms, 0.008));
    assert_eq!(
        (c.mss, c.wscale, c.sack_ok, c.ts_ok),
        (Some(16344), Some(5), Some(true), Some(true))
    );
}

#[test]
fn linux_cooked_with_nanosecond_timestamps() {
    let (recs, _) = replay_json(&conformance("tcpdump-tcp-handshake-nano-sll.pcap"), &[]);
    let s = recs.summary();
    assert_eq!(s.format.as_deref(), Some("pcap-ns"));
    assert_eq!(s.link_types.get("LINUX_SLL"), Some(&3));
    let c = recs.tcp()[0];
    assert_eq!(c.state, "S1");
    assert!(c.handshake_complete);
    // tshark: SYN-ACK at 0.127521774, ACK at 0.127609669.
    assert!(approx(c.syn_to_synack_ms, 127.521774));
    assert!(approx(c.rtt_ms, 127.609669));
    assert_eq!(
        (c.mss, c.wscale, c.sack_ok, c.ts_ok),
        (Some(1360), Some(7), Some(true), Some(true))
    );
    assert_eq!(
        (c.server_mss, c.server_wscale, c.server_sack_ok),
        (Some(1440), Some(8), Some(true))
    );
    let synack = recs
        .events()
        .into_iter()
        .find(|e| e.event == "synack")
        .unwrap();
    // tshark's frame.time_epoch 1418145370.052027262 (f64 keeps microseconds).
    assert!((synack.ts - 1_418_145_370.052_027).abs() < 1e-6);
}

#[test]
fn snaplen_96_keeps_counting_bytes_from_sequence_space() {
    let (recs, _) = replay_json(&conformance("zeek-communityid-tcp-snap96.pcap"), &[]);
    let s = recs.summary();
    assert_eq!(s.truncated, 3);
    assert_eq!(s.decode_errors, 0);
    let c = recs.tcp()[0];
    assert_eq!((c.state.as_str(), c.history.as_str()), ("SF", "ShADadfF"));
    // FIN at relative seq 497 / 1732: 496 and 1731 payload bytes.
    assert_eq!((c.client_bytes, c.server_bytes), (496, 1731));
    assert!(approx(c.rtt_ms, 143.803));
    assert_eq!(c.truncated_packets, 3);
}

#[test]
fn snaplen_68_cuts_even_the_syn_options() {
    let (recs, _) = replay_json(&conformance("zeek-tcp-truncated-header.pcap"), &[]);
    let s = recs.summary();
    assert_eq!(s.truncated, 24, "every packet is cut");
    assert_eq!(s.decode_errors, 0);
    let c = recs.tcp()[0];
    assert_eq!((c.state.as_str(), c.history.as_str()), ("SF", "ShAdDafF"));
    assert_eq!((c.client_bytes, c.server_bytes), (128, 477));
    // SYN 0, SYN-ACK 0.000227, the client's ACK 0.198754.
    assert!(approx(c.rtt_ms, 198.754));
    assert_eq!(c.closed_by.as_deref(), Some("server"));
}

#[test]
fn raw_ip_and_null_ipv6_udp() {
    for (name, client, server) in [
        ("tcpdump-raw-ipv4.pcap", "192.168.1.100", "9.9.9.9"),
        ("tcpdump-raw-ipv6.pcap", "2001:db8::1", "2620:fe::9"),
    ] {
        let (recs, _) = replay_json(&conformance(name), &[]);
        assert_eq!(recs.summary().link_types.get("RAW"), Some(&1), "{name}");
        let f = recs.udp()[0];
        assert_eq!(
            (f.client_ip.as_str(), f.server_ip.as_str(), f.server_port),
            (client, server, 53)
        );
        assert_eq!(
            (f.state.as_str(), f.client_bytes, f.service.as_deref()),
            ("S0", 29, Some("dns"))
        );
    }
    let (recs, _) = replay_json(&conformance("tcpdump-quic-null-ipv6.pcap"), &[]);
    let f = recs.udp()[0];
    assert_eq!(
        (f.client_port, f.server_port, f.service.as_deref()),
        (50606, 443, Some("quic"))
    );
    // tshark: 9 datagrams, 2673 payload bytes one way; 9 and 1881 back.
    assert_eq!(
        (
            f.client_packets,
            f.client_bytes,
            f.server_packets,
            f.server_bytes
        ),
        (9, 2673, 9, 1881)
    );
    assert_eq!(f.state, "SF");
}

#[test]
fn ipv4_fragments_with_an_oversized_overlap() {
    let (recs, _) = replay_json(&conformance("zeek-ipv4-fragmented-ntp.pcap"), &[]);
    let s = recs.summary();
    // tshark reassembles one 164-byte datagram in frame 3 (and flags it).
    assert_eq!(
        (
            s.ip_fragments,
            s.fragments_reassembled,
            s.fragment_conflicts
        ),
        (3, 1, 1)
    );
    let f = recs.udp()[0];
    // The rebuilt UDP header says 18 bytes: 10 of payload.
    assert_eq!(
        (f.client_port, f.server_port, f.client_bytes),
        (123, 137, 10)
    );
}

#[test]
fn ipv6_fragments_one_lost_one_rebuilt() {
    let (recs, _) = replay_json(&conformance("zeek-ipv6-fragmented-dns.pcap"), &[]);
    let s = recs.summary();
    // Frame 4 is the last fragment of a datagram whose others were never
    // captured; frames 6-8 rebuild a 3238-byte UDP datagram.
    assert_eq!(
        (
            s.ip_fragments,
            s.fragments_reassembled,
            s.fragments_incomplete
        ),
        (4, 1, 1)
    );
    let udp = recs.udp();
    assert_eq!(udp.len(), 2);
    assert_eq!((udp[0].client_bytes, udp[0].server_bytes), (73, 323));
    assert_eq!(
        (
            udp[1].client_packets,
            udp[1].client_bytes,
            udp[1].server_bytes
        ),
        (2, 148, 3230)
    );
}

#[test]
fn pcapng_with_two_interfaces() {
    let (recs, _) = replay_json(&conformance("zeek-pcapng-multi-interface.pcapng"), &[]);
    let udp = recs.udp();
    assert_eq!(udp.len(), 3);
    let bytes: Vec<(u64, u64)> = udp
        .iter()
        .map(|f| (f.client_bytes, f.server_bytes))
        .collect();
    assert_eq!(bytes, [(54, 172), (28, 124), (28, 140)]);
    assert!(udp
        .iter()
        .all(|f| f.state == "SF" && f.service.as_deref() == Some("dns")));
}

#[test]
fn big_endian_pcapng() {
    let (recs, _) = replay_json(&conformance("rusticata-test001-be.pcapng"), &[]);
    assert_eq!(recs.summary().packets, 4);
    let udp = recs.udp();
    assert_eq!(udp.len(), 2);
    assert_eq!(
        (
            udp[0].client_port,
            udp[0].client_packets,
            udp[0].client_bytes
        ),
        (68, 2, 544)
    );
    assert_eq!(
        (
            udp[1].client_port,
            udp[1].client_packets,
            udp[1].client_bytes
        ),
        (67, 2, 600)
    );
    assert_eq!(udp[0].service.as_deref(), Some("dhcp"));
}

#[test]
fn modified_pcap_format() {
    let (recs, run) = replay_json(&conformance("rusticata-modified-format.pcap"), &[]);
    assert_eq!(run.status, 0);
    let s = recs.summary();
    assert_eq!(s.format.as_deref(), Some("pcap-modified"));
    assert_eq!((s.packets, s.other_ip), (1, 1), "one ICMP packet");
}

#[test]
fn websocket_captures_are_complete_tcp_connections() {
    for name in [
        "zeek-ws-reply-ping-separate.pcap",
        "zeek-ws-reply-ping-coalesced.pcap",
        "zeek-ws-fragmented-http-reply.pcap",
        "zeek-ws-message-too-big.pcap",
        "zeek-ws-wrong-accept.pcap",
        "zeek-ws-compressed.pcap",
        "zeek-ws-baseline.pcap",
        "zeek-ws-oversized-close.pcapng",
    ] {
        let c = one_tcp(name);
        assert_eq!(c.state, "SF", "{name}");
        assert!(c.handshake_complete, "{name}");
        assert!(c.client_bytes > 0 && c.server_bytes > 0, "{name}");
    }
}

#[test]
fn every_conformance_capture_replays_deterministically() {
    let dir = crate::util::conformance_dir();
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("captures/public")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".pcap") || n.ends_with(".pcapng"))
        .collect();
    names.sort();
    assert!(names.len() >= 20);
    for name in names {
        let a = sockscope(&["replay", &conformance(&name), "--format", "json"]);
        let b = sockscope(&["replay", &conformance(&name), "--format", "json"]);
        assert_eq!(a.stdout, b.stdout, "{name}: output differs between runs");
        assert!(a.status == 0 || a.status == 2, "{name}: exit {}", a.status);
        assert!(!a.stderr.contains("panicked"), "{name}: {}", a.stderr);
    }
}
