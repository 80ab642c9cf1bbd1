//! `replay` on the captures recorded by `captures/record.sh`. Every number
//! asserted here was checked against tshark (per-direction packets and TCP
//! payload, SYN and SYN-ACK counts, UDP datagrams) or follows from how the
//! capture was made (see captures/README.md).

use crate::schema::{Rec, Records, TcpConn};
use crate::util::{capture, replay_json};

fn approx(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() < 1e-6)
}

fn conns(name: &str) -> (Vec<Rec>, i32) {
    let (recs, run) = replay_json(&capture(name), &[]);
    (recs, run.status)
}

fn assert_curl_page(c: &TcpConn, ipv6: bool) {
    assert_eq!(c.state, "SF");
    assert_eq!(c.history, "ShADadFf");
    assert!(c.handshake_complete);
    assert_eq!(c.closed_by.as_deref(), Some("client"));
    assert_eq!(c.verdict, "established, closed by client");
    assert_eq!(c.syn_retransmits, 0);
    assert!(
        c.rtt_ms.is_some_and(|r| r > 0.0 && r < 5.0),
        "{:?}",
        c.rtt_ms
    );
    assert_eq!(c.rtt_ms, c.connect_ms);
    // tshark: 86 / 89 bytes of GET request, 27208 bytes of response.
    assert_eq!(c.client_bytes, if ipv6 { 89 } else { 86 });
    assert_eq!(c.server_bytes, 27208);
    assert_eq!(c.client_packets, if ipv6 { 25 } else { 24 });
    assert_eq!(c.server_packets, 23);
    assert_eq!(c.missed_bytes, 0);
    // 1500 minus the IP and TCP headers.
    assert_eq!(c.mss, Some(if ipv6 { 1440 } else { 1460 }));
    assert_eq!(c.server_port, if ipv6 { 8006 } else { 8000 });
    assert_eq!(c.service.as_deref(), if ipv6 { None } else { Some("http") });
}

#[test]
fn curl_over_ipv4_and_ipv6() {
    let (recs, status) = conns("http-curl.pcap");
    assert_eq!(status, 0);
    let tcp = recs.tcp();
    assert_eq!(tcp.len(), 2);
    assert_curl_page(tcp[0], false);
    assert_curl_page(tcp[1], true);
    assert_eq!(tcp[0].client_ip, "10.99.0.2");
    assert_eq!(tcp[1].client_ip, "fd00:99::2");
    let s = recs.summary();
    assert_eq!(s.packets, 100);
    assert_eq!(s.tcp_conns, 2);
    assert_eq!(s.format.as_deref(), Some("pcap"));
    assert_eq!(s.link_types.get("ETHERNET"), Some(&100));
    assert!(s.complete);
    // Events: syn, synack, established, fin, fin, closed for each.
    let kinds: Vec<&str> = recs
        .events()
        .iter()
        .filter(|e| e.conn_id == tcp[0].conn_id)
        .map(|e| e.event.as_str())
        .collect();
    assert_eq!(
        kinds,
        ["syn", "synack", "established", "fin", "fin", "closed"]
    );
}

#[test]
fn nanosecond_timestamps_keep_nanoseconds() {
    let (recs, _) = conns("http-curl-nano.pcap");
    assert_eq!(recs.summary().format.as_deref(), Some("pcap-ns"));
    let c = recs.tcp()[0];
    // tshark -r http-curl-nano.pcap: SYN at 0.000000000, handshake ACK at 0.000081602.
    assert!(approx(c.rtt_ms, 0.081602), "{:?}", c.rtt_ms);
    assert_eq!((c.client_bytes, c.server_bytes), (78, 383));
}

#[test]
fn refused_connections_have_no_rtt() {
    let (recs, _) = conns("refused.pcap");
    let tcp = recs.tcp();
    assert_eq!(tcp.len(), 2);
    for c in tcp {
        assert_eq!((c.state.as_str(), c.history.as_str()), ("REJ", "Sr"));
        assert_eq!(c.verdict, "refused (RST)");
        assert_eq!(c.rtt_ms, None);
        assert_eq!(c.connect_ms, None);
        assert!(!c.handshake_complete);
        assert_eq!(c.server_port, 9);
        assert_eq!((c.client_packets, c.server_packets), (1, 1));
        assert_eq!(c.closed_by.as_deref(), Some("server"));
    }
    let refused = recs
        .events()
        .iter()
        .filter(|e| e.event == "refused")
        .count();
    assert_eq!(refused, 2);
}

#[test]
fn unanswered_syns_are_one_attempt() {
    let (recs, _) = conns("syn-retransmit.pcap");
    let tcp = recs.tcp();
    assert_eq!(tcp.len(), 1, "four SYNs of one attempt are one connection");
    let c = tcp[0];
    assert_eq!((c.state.as_str(), c.history.as_str()), ("S0", "S"));
    assert_eq!(c.syn_retransmits, 3);
    assert_eq!(c.client_packets, 4);
    assert_eq!(c.rtt_ms, None);
    assert_eq!(c.verdict, "no answer after 4 SYNs");
    // Linux retransmits after 1 s, then 2 s: the attempt spans over 3 s.
    assert!(c.duration > 3.0 && c.duration < 3.5, "{}", c.duration);
    let retx: Vec<u32> = recs
        .events()
        .iter()
        .filter(|e| e.event == "syn_retransmit")
        .map(|e| e.count.unwrap())
        .collect();
    assert_eq!(retx, [1, 2, 3]);
}

#[test]
fn rtt_counts_from_the_syn_the_synack_answers() {
    let (recs, _) = conns("synack-retransmit.pcap");
    let tcp = recs.tcp();
    assert_eq!(tcp.len(), 1);
    let c = tcp[0];
    assert_eq!(c.state, "SF");
    assert!(c.handshake_complete);
    // tshark: 4 SYNs and 5 SYN-ACKs from the same ISNs.
    assert_eq!(c.syn_retransmits, 3);
    assert_eq!(c.synack_retransmits, 4);
    assert_eq!((c.client_bytes, c.server_bytes), (28, 0));
    let (rtt, connect) = (c.rtt_ms.unwrap(), c.connect_ms.unwrap());
    // The RTT is sub-millisecond (last SYN → SYN-ACK → ACK, all on one host)
    // while the user waited through the retransmission timeouts.
    assert!(rtt < 1.0, "rtt {rtt}");
    assert!(connect > 3000.0 && connect < 3200.0, "connect {connect}");
    assert!(approx(
        Some(rtt),
        c.syn_to_synack_ms.unwrap() + c.synack_to_ack_ms.unwrap()
    ));
    assert_eq!(c.verdict, "established after 4 SYNs, closed by client");
}

#[test]
fn udp_flows_with_and_without_answers() {
    let (recs, _) = conns("udp-dns.pcap");
    let udp = recs.udp();
    assert_eq!(udp.len(), 3);
    for f in &udp {
        assert_eq!(f.state, "SF");
        assert_eq!(f.service.as_deref(), Some("dns"));
        assert_eq!((f.client_packets, f.server_packets), (1, 1));
        assert_eq!(f.server_port, 53);
    }
    let (recs, _) = conns("udp-socat.pcap");
    let udp = recs.udp();
    assert_eq!(udp.len(), 2);
    assert_eq!(
        (
            udp[0].state.as_str(),
            udp[0].client_bytes,
            udp[0].server_bytes
        ),
        ("SF", 14, 14)
    );
    assert_eq!(
        (
            udp[1].state.as_str(),
            udp[1].client_bytes,
            udp[1].server_packets
        ),
        ("S0", 14, 0)
    );
    // The ICMP port unreachable that answered the second.
    assert_eq!(recs.summary().other_ip, 1);
}

#[test]
fn ip_fragments_are_reassembled() {
    let (recs, _) = conns("ip-fragments.pcap");
    let s = recs.summary();
    // Two IPv4 datagrams and one IPv6 datagram, three fragments each.
    assert_eq!(
        (
            s.ip_fragments,
            s.fragments_reassembled,
            s.fragments_incomplete
        ),
        (9, 3, 0)
    );
    let udp = recs.udp();
    assert_eq!(udp.len(), 2);
    assert_eq!((udp[0].client_bytes, udp[0].server_bytes), (4000, 4000));
    assert_eq!(
        (
            udp[1].client_ip.as_str(),
            udp[1].client_bytes,
            udp[1].state.as_str()
        ),
        ("fd00:99::2", 4000, "S0")
    );
}

#[test]
fn snaplen_cut_packets_count_their_wire_length() {
    let (recs, _) = conns("snaplen-96.pcap");
    let s = recs.summary();
    assert_eq!(s.truncated, 21, "the 21 data packets longer than 96 bytes");
    assert_eq!(s.decode_errors, 0);
    assert!(s.captured_bytes < s.bytes);
    let c = recs.tcp()[0];
    assert_eq!((c.client_bytes, c.server_bytes), (86, 27208));
    assert_eq!(c.truncated_packets, 21);
    assert_eq!(c.state, "SF");
}

#[test]
fn cooked_sll2_from_tcpdump_any() {
    let (recs, _) = conns("any-sll2.pcap");
    assert_eq!(recs.summary().link_types.get("LINUX_SLL2"), Some(&13));
    let c = recs.tcp()[0];
    assert_eq!((c.client_packets, c.server_packets), (7, 6));
    assert_eq!((c.client_bytes, c.server_bytes), (78, 383));
    assert!(c.handshake_complete);
}

#[test]
fn native_pcapng_from_dumpcap() {
    let (recs, _) = conns("http-dumpcap.pcapng");
    assert_eq!(recs.summary().format.as_deref(), Some("pcapng"));
    let c = recs.tcp()[0];
    assert_eq!((c.client_bytes, c.server_bytes), (78, 383));
    assert_eq!(c.state, "SF");
}

#[test]
fn mixed_link_types_in_one_pcapng() {
    // tcpdump refuses this file; every connection of both inputs is here.
    let (recs, status) = conns("mixed-ether-sll2.pcapng");
    assert_eq!(status, 0);
    let s = recs.summary();
    assert_eq!(s.link_types.get("ETHERNET"), Some(&100));
    assert_eq!(s.link_types.get("LINUX_SLL2"), Some(&13));
    let tcp = recs.tcp();
    assert_eq!(tcp.len(), 3);
    assert!(tcp.iter().all(|c| c.state == "SF" && c.handshake_complete));
}

#[test]
fn vlan_tags_are_recorded_not_keyed() {
    let (recs, _) = conns("vlan.pcap");
    assert!(recs.tcp().iter().all(|c| c.vlan == [10]));
    // Each direction on its own VLAN is still one connection.
    let (recs, _) = conns("vlan-split.pcap");
    let tcp = recs.tcp();
    assert_eq!(tcp.len(), 2);
    for c in &tcp {
        assert_eq!(c.vlan, [10, 20]);
        assert_eq!(c.state, "SF");
    }
    assert_curl_page(tcp[0], false);
    // Stacked tags: outer first.
    let (recs, _) = conns("qinq.pcap");
    assert!(recs.tcp().iter().all(|c| c.vlan == [100, 10]));
}

#[test]
fn vlan_key_option_splits_directions_on_different_vlans() {
    let (recs, _) = replay_json(&capture("vlan-split.pcap"), &["--vlan-key"]);
    let tcp = recs.tcp();
    // Each half of each connection is now a flow of its own.
    assert_eq!(tcp.len(), 4);
    assert!(tcp.iter().all(|c| !c.handshake_complete));
    // The server's half starts with its SYN-ACK, whose receiver is the
    // client: the direction was turned round (`^`).
    let halves: Vec<(&str, &str)> = tcp
        .iter()
        .map(|c| (c.state.as_str(), c.history.as_str()))
        .collect();
    assert_eq!(
        halves,
        [
            ("SH", "SADF"),
            ("SHR", "^hadf"),
            ("SH", "SADF"),
            ("SHR", "^hadf")
        ]
    );
    assert!(tcp
        .iter()
        .all(|c| c.client_ip.ends_with(":2") || c.client_ip.ends_with(".2")));
}

#[test]
fn meta_and_udp_events() {
    let (recs, _) = conns("udp-dns.pcap");
    match &recs[0] {
        Rec::Meta(m) => {
            assert_eq!(
                (m.schema, m.tool.as_str(), m.command.as_str()),
                (1, "sockscope", "replay")
            );
            assert_eq!(m.file.as_deref(), Some("captures/udp-dns.pcap"));
            assert_eq!(m.filter, None);
            assert_eq!(m.version, env!("CARGO_PKG_VERSION"));
        }
        other => panic!("first record {other:?}"),
    }
    let new_flows: Vec<_> = recs
        .iter()
        .filter_map(|r| match r {
            Rec::UdpEvent(e) => Some(e),
            _ => None,
        })
        .collect();
    assert_eq!(new_flows.len(), 3);
    assert!(new_flows.iter().all(|e| e.event == "new_flow"
        && e.direction == "client"
        && e.service.as_deref() == Some("dns")));
}

#[test]
fn fin_retransmitted_after_the_close_stays_in_its_connection() {
    // The server closed first; its ACKs of the client's FIN were dropped, so
    // the client's kernel retransmitted the FIN 24.8, 49.4 and 98.5 s after
    // the close: the last more than the 60 s linger after it, each within
    // 60 s of the one before (a late FIN restarts the linger).
    let (recs, status) = conns("tcp-fin-retransmit.pcap");
    assert_eq!(status, 0);
    let tcp = recs.tcp();
    assert_eq!(
        tcp.len(),
        1,
        "the late FINs belong to the closed connection"
    );
    let c = tcp[0];
    assert_eq!((c.state.as_str(), c.history.as_str()), ("SF", "ShAdfF"));
    assert_eq!(c.verdict, "established, closed by server");
    assert_eq!(c.closed_by.as_deref(), Some("server"));
    assert!(c.handshake_complete);
    // tshark: one TCP stream; the client sent 7 packets (4 FINs), no
    // payload; the server 3, 8 bytes ("goodbye\n").
    assert_eq!((c.client_packets, c.server_packets), (7, 3));
    assert_eq!((c.client_bytes, c.server_bytes), (0, 8));
    assert!(c.duration > 98.0 && c.duration < 99.0, "{}", c.duration);
    let s = recs.summary();
    assert_eq!((s.tcp_conns, s.packets), (1, 10));
    // Events: the close is reported once, not again per retransmission.
    let kinds: Vec<&str> = recs.events().iter().map(|e| e.event.as_str()).collect();
    assert_eq!(
        kinds,
        ["syn", "synack", "established", "fin", "fin", "closed"]
    );
}

#[test]
fn a_late_fin_after_the_linger_is_a_connection_picked_up_mid_stream() {
    // With a linger shorter than the first retransmission timeout, the
    // closed connection is gone when its FIN comes again: the FINs make a
    // second connection, which must not claim a SYN (Zeek: SH, "F").
    let (recs, _) = replay_json(&capture("tcp-fin-retransmit.pcap"), &["--tcp-linger", "20"]);
    let tcp = recs.tcp();
    assert_eq!(tcp.len(), 2);
    assert_eq!((tcp[0].state.as_str(), tcp[0].client_packets), ("SF", 4));
    let late = tcp[1];
    assert_eq!((late.state.as_str(), late.history.as_str()), ("OTH", "F"));
    assert_eq!(late.verdict, "picked up mid-stream (no handshake seen)");
    assert_eq!((late.client_packets, late.server_packets), (3, 0));
    assert_eq!(late.client_port, tcp[0].client_port);
}

#[test]
fn connections_picked_up_mid_stream() {
    // Two open connections to :8080, recorded after their handshakes.
    let (recs, status) = conns("tcp-midstream.pcap");
    assert_eq!(status, 0);
    let tcp = recs.tcp();
    assert_eq!(tcp.len(), 2);
    for c in &tcp {
        assert_eq!(c.state, "OTH", "{c:?}");
        assert!(!c.history.contains(['S', 's', 'H', 'h']), "{c:?}");
        assert_eq!(c.verdict, "picked up mid-stream (no handshake seen)");
        assert_eq!(
            (c.client_ip.as_str(), c.server_ip.as_str()),
            ("10.99.0.2", "10.99.0.1")
        );
        assert_eq!(c.server_port, 8080);
        assert!(!c.handshake_complete);
        assert_eq!((c.rtt_ms, c.syn_retransmits, c.mss), (None, 0, None));
    }
    // The server speaks first: its port (8080, a likely server port) makes
    // it the server, and the history says the direction was flipped. The
    // client then half-closes while the server goes on (Zeek: SH).
    // tshark: client 9 packets (one FIN), no payload; server 8, 58 bytes.
    let a = tcp[0];
    assert_eq!(a.history, "^dAF");
    assert_eq!((a.client_packets, a.server_packets), (9, 8));
    assert_eq!((a.client_bytes, a.server_bytes), (0, 58));
    assert_eq!(a.closed_by.as_deref(), Some("client"));
    // The client speaks first: not flipped. tshark: 8 and 5 packets, 28
    // bytes each way.
    let b = tcp[1];
    assert_eq!(b.history, "DadA");
    assert_eq!((b.client_packets, b.server_packets), (8, 5));
    assert_eq!((b.client_bytes, b.server_bytes), (28, 28));
    // No handshake events for either.
    assert!(recs
        .events()
        .iter()
        .all(|e| !matches!(e.event.as_str(), "syn" | "synack" | "established")));
}
