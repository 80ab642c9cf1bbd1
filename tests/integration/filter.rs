//! BPF filters apply to replay exactly as they do in tcpdump: the packets
//! sockscope analyses under a filter are the packets `tcpdump -r --count`
//! counts under it.

use crate::schema::Records;
use crate::util::{capture, conformance, replay_json, tool};

fn tcpdump_count(file: &str, filter: &str) -> Option<u64> {
    let out = tool("tcpdump", &["-r", file, "--count", filter])?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.split_whitespace().next()?.parse().ok()
}

#[test]
fn filtered_packets_match_tcpdump() {
    if tool("tcpdump", &["--version"]).is_none() {
        eprintln!("skipped: tcpdump is not installed (CI installs it)");
        return;
    }
    let cases = [
        (capture("http-curl.pcap"), "tcp port 8000"),
        (capture("http-curl.pcap"), "ip6"),
        (
            capture("http-curl.pcap"),
            "tcp[tcpflags] & (tcp-syn|tcp-fin) != 0",
        ),
        (capture("http-curl.pcap"), "greater 1000"),
        (capture("udp-dns.pcap"), "udp port 53"),
        (capture("vlan.pcap"), "vlan 10 and tcp"),
        (capture("qinq.pcap"), "vlan 100 and vlan 10"),
        (capture("any-sll2.pcap"), "src host 10.99.0.1"),
        (capture("ip-fragments.pcap"), "ip[6:2] & 0x3fff != 0"),
        (capture("snaplen-96.pcap"), "greater 500"),
        (conformance("zeek-irc-353-null-refused.pcap"), "ip6"),
        (conformance("tcpdump-raw-ipv4.pcap"), "udp"),
        (
            conformance("tcpdump-tcp-handshake-nano-sll.pcap"),
            "tcp[13] == 0x12",
        ),
    ];
    for (file, filter) in cases {
        let expected = tcpdump_count(&file, filter)
            .unwrap_or_else(|| panic!("tcpdump failed on {file} '{filter}'"));
        let (recs, run) = replay_json(&file, &[filter]);
        assert_eq!(run.status, 0, "{file} '{filter}': {}", run.stderr);
        let s = recs.summary();
        assert_eq!(s.packets, expected, "{file} '{filter}'");
        let (all, _) = replay_json(&file, &[]);
        assert_eq!(
            s.packets + s.filtered_out,
            all.summary().packets,
            "{file} '{filter}'"
        );
        assert!(
            expected > 0,
            "{file} '{filter}' matches nothing: a useless case"
        );
    }
}

#[test]
fn filter_words_join_like_tcpdump() {
    // `sockscope replay f.pcap tcp port 8000` = `... 'tcp port 8000'`.
    let (a, _) = replay_json(&capture("http-curl.pcap"), &["tcp", "port", "8000"]);
    let (b, _) = replay_json(&capture("http-curl.pcap"), &["tcp port 8000"]);
    assert_eq!(a.summary().packets, b.summary().packets);
    assert_eq!(a.summary().packets, 47);
}

#[test]
fn options_may_follow_the_filter() {
    let (recs, run) = replay_json(&capture("http-curl.pcap"), &["ip6", "--summary"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(
        recs.events().is_empty(),
        "--summary after the filter was applied"
    );
    assert_eq!(recs.tcp().len(), 1);
}

#[test]
fn filters_on_a_mixed_link_type_pcapng() {
    // tcpdump cannot read this file; the filter is compiled per link type.
    let (recs, run) = replay_json(&capture("mixed-ether-sll2.pcapng"), &["tcp port 8000"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    // 47 from the Ethernet capture + 12 of the 13 SLL2 packets (one is not TCP).
    let eth = tcpdump_count(&capture("http-curl.pcap"), "tcp port 8000");
    let sll2 = tcpdump_count(&capture("any-sll2.pcap"), "tcp port 8000");
    if let (Some(e), Some(s)) = (eth, sll2) {
        assert_eq!(recs.summary().packets, e + s);
    }
    assert_eq!(recs.tcp().len(), 2);
}
