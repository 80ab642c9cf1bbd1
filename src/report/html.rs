//! The page: HTML with inline CSS and SVG, every text escaped.

use std::fmt::Write as _;
use std::io::{self, Write};

use super::{class_of, percentile, Collector, CLASSES};
use crate::follow::ladder::{exact, size, Ladder, Step};
use crate::render::Tone;
use crate::time::{DateTime, Nanos};

/// `s` safe inside HTML text and attribute values.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c if c.is_control() && c != '\n' => o.push('\u{fffd}'),
            c => o.push(c),
        }
    }
    o
}

const CLASS_COLORS: [&str; 5] = ["#3a9d5d", "#d0453b", "#e69b2e", "#8e5bb5", "#8a8f98"];

const STATE_COLORS: &[(&str, &str)] = &[
    ("SF", "#3a9d5d"),
    ("S1", "#7cc48f"),
    ("REJ", "#d0453b"),
    ("S0", "#e69b2e"),
    ("RSTO", "#8e5bb5"),
    ("RSTR", "#b08bd0"),
    ("RSTOS0", "#6b3d91"),
    ("RSTRH", "#c9b0e0"),
    ("SH", "#c77d6a"),
    ("SHR", "#e0b0a3"),
    ("S2", "#5aa0c8"),
    ("S3", "#9cc7e0"),
    ("OTH", "#8a8f98"),
];

fn state_color(s: &str) -> &'static str {
    STATE_COLORS
        .iter()
        .find(|(n, _)| *n == s)
        .map_or("#b9bdc4", |(_, c)| c)
}

const STYLE: &str = "body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1000px;color:#1d2228;padding:0 12px}\
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #dde1e6;padding-bottom:4px}\
h3{font-size:15px;margin:18px 0 6px}table{border-collapse:collapse;margin:6px 0}td,th{padding:2px 10px 2px 0;text-align:left;vertical-align:top}\
th{font-weight:600;color:#4a525c}td.n,th.n{text-align:right}.muted{color:#6b737d}.bad{color:#c0392b;font-weight:600}.warn{color:#b7791f}\
.ok{color:#2f855a}code,.mono{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12.5px}svg{display:block;margin:6px 0}\
svg text{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:11px}.legend span{display:inline-block;margin-right:14px}\
.sw{display:inline-block;width:10px;height:10px;margin-right:4px;vertical-align:middle}nav a{margin-right:12px}";

fn legend(out: &mut String, items: &[(&str, &str)]) {
    out.push_str("<div class=\"legend\">");
    for (name, color) in items {
        let _ = write!(
            out,
            "<span><i class=\"sw\" style=\"background:{color}\"></i>{}</span>",
            esc(name)
        );
    }
    out.push_str("</div>");
}

fn ms(d: Option<Nanos>) -> String {
    d.map_or_else(|| "-".into(), |d| exact(d.0, 6))
}

/// Writes the page.
pub fn write_html<W: Write>(out: &mut W, c: &Collector, ladders: &[Ladder]) -> io::Result<()> {
    let mut h = String::with_capacity(256 * 1024);
    let title = if c.files.is_empty() {
        "sockscope report".to_string()
    } else {
        format!("sockscope report: {}", c.files.join(", "))
    };
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\
         <title>{}</title><style>{STYLE}</style></head><body>",
        esc(&title)
    );
    let _ = write!(h, "<h1>{}</h1>", esc(&title));
    let _ = write!(
        h,
        "<p class=\"muted\">sockscope {}{}{} — every number below is from the records <code>sockscope replay -F json</code> writes for the same input.</p>",
        env!("CARGO_PKG_VERSION"),
        c.filter
            .as_ref()
            .map(|f| format!(", filter <code>{}</code>", esc(f)))
            .unwrap_or_default(),
        if c.conn.is_empty() {
            String::new()
        } else {
            format!(", connections <code>--conn {}</code>", esc(&c.conn.join(" --conn ")))
        }
    );
    h.push_str("<nav><a href=\"#health\">health</a><a href=\"#timeline\">timeline</a><a href=\"#servers\">servers</a><a href=\"#talkers\">talkers</a><a href=\"#websocket\">WebSocket</a><a href=\"#http\">HTTP</a><a href=\"#ladders\">ladders</a></nav>");
    health(&mut h, c);
    timeline(&mut h, c, ladders);
    servers(&mut h, c);
    talkers(&mut h, c);
    websocket(&mut h, c, ladders);
    http(&mut h, c);
    ladders_section(&mut h, ladders);
    h.push_str("</body></html>\n");
    out.write_all(h.as_bytes())
}

fn row(h: &mut String, k: &str, v: &str, class: Option<&str>) {
    let _ = write!(
        h,
        "<tr><th>{}</th><td{}>{}</td></tr>",
        esc(k),
        class.map(|c| format!(" class=\"{c}\"")).unwrap_or_default(),
        esc(v)
    );
}

fn health(h: &mut String, c: &Collector) {
    h.push_str("<h2 id=\"health\">Capture health</h2><table>");
    let Some(s) = &c.summary else {
        h.push_str("</table><p class=\"bad\">no summary: the run did not finish</p>");
        return;
    };
    let flag = |n: u64, bad: &'static str| (n > 0).then_some(bad);
    row(h, "format", s.format.as_deref().unwrap_or("-"), None);
    row(
        h,
        "packets",
        &format!(
            "{} packets ({} bytes on the wire, {} captured){}",
            s.packets,
            s.bytes,
            s.captured_bytes,
            if s.filtered_out > 0 {
                format!(", {} filtered out", s.filtered_out)
            } else {
                String::new()
            }
        ),
        None,
    );
    if let (Some(a), Some(b)) = (s.first_ts, s.last_ts) {
        row(
            h,
            "time span",
            &format!(
                "{} → {} ({} s)",
                DateTime(a),
                DateTime(b),
                exact(b.since(a).0, 9)
            ),
            None,
        );
    }
    if let Some(cs) = &c.capture {
        row(
            h,
            "drops",
            &format!(
                "{} dropped by the kernel, {} by the interface",
                cs.kernel_drops, cs.interface_drops
            ),
            flag(cs.kernel_drops + cs.interface_drops, "bad"),
        );
    } else {
        row(h, "drops", "not known (a file does not record them)", None);
    }
    row(
        h,
        "connections",
        &format!("{} TCP connections, {} UDP flows", s.tcp_conns, s.udp_flows),
        None,
    );
    row(
        h,
        "truncated (snaplen)",
        &format!("{} truncated", s.truncated),
        flag(s.truncated, "warn"),
    );
    row(
        h,
        "decode errors",
        &format!(
            "{} decode errors, {} damaged records",
            s.decode_errors, s.damaged_records
        ),
        flag(s.decode_errors + s.damaged_records, "bad"),
    );
    row(
        h,
        "gaps",
        &format!(
            "{} reassembly gaps, {} held bytes given up, {} conflicting overlaps",
            s.reassembly_gaps, s.reassembly_dropped_bytes, s.reassembly_conflicts
        ),
        flag(s.reassembly_gaps + s.reassembly_conflicts, "warn"),
    );
    row(
        h,
        "evictions",
        &format!("{} flows evicted", s.evicted),
        flag(s.evicted, "warn"),
    );
    row(
        h,
        "IP fragments",
        &format!(
            "{} seen, {} reassembled, {} incomplete",
            s.ip_fragments, s.fragments_reassembled, s.fragments_incomplete
        ),
        flag(s.fragments_incomplete, "warn"),
    );
    row(
        h,
        "WebSocket",
        &format!(
            "{} sessions, {} messages, {} violations",
            s.ws_sessions, s.ws_messages, s.ws_violations
        ),
        flag(s.ws_violations, "bad"),
    );
    if let Some(e) = &c.error {
        row(
            h,
            "read error",
            &format!("{}: byte offset {}: {}", e.file, e.offset, e.message),
            Some("bad"),
        );
    }
    h.push_str("</table>");
    if !c.conn.is_empty() {
        let _ = write!(
            h,
            "<p>Selected by <code>--conn</code>: {} TCP connections, {} UDP flows (the health rows describe the whole capture).</p>",
            c.tcp, c.udp
        );
    }
}

fn timeline(h: &mut String, c: &Collector, ladders: &[Ladder]) {
    h.push_str("<h2 id=\"timeline\">Connections over time</h2>");
    let Some(s) = &c.summary else { return };
    let (Some(t0), Some(t1)) = (s.first_ts, s.last_ts) else {
        h.push_str("<p class=\"muted\">no packets</p>");
        return;
    };
    let span = t1.since(t0).0.max(1) as f64;
    let total = c.tcp + c.udp;
    let mut counts: Vec<(&&str, &u64)> = c.states.iter().collect();
    counts.sort_by(|a, b| b.1.cmp(a.1));
    let _ = write!(
        h,
        "<p>{total} connections: {}.</p>",
        counts
            .iter()
            .map(|(k, v)| format!("{v} {k}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    legend(
        h,
        &CLASSES
            .iter()
            .zip(CLASS_COLORS)
            .map(|(a, b)| (*a, b))
            .collect::<Vec<_>>(),
    );
    // Starts per time bucket, stacked by outcome.
    const BUCKETS: usize = 120;
    let mut buckets = [[0u64; 5]; BUCKETS];
    let first_sec = t0.0.div_euclid(1_000_000_000);
    let last_sec = t1.0.div_euclid(1_000_000_000);
    let secs = (last_sec - first_sec + 1).max(1) as f64;
    for (sec, n) in &c.starts {
        let i = (((sec - first_sec) as f64 / secs) * BUCKETS as f64) as usize;
        let b = &mut buckets[i.min(BUCKETS - 1)];
        for k in 0..5 {
            b[k] += n[k];
        }
    }
    let max = buckets
        .iter()
        .map(|b| b.iter().sum::<u64>())
        .max()
        .unwrap_or(0)
        .max(1);
    let (w, ht) = (960.0, 120.0);
    let bw = w / BUCKETS as f64;
    let _ = write!(
        h,
        "<h3>Connections started, per {} s (all {total})</h3><svg width=\"{w}\" height=\"{}\" viewBox=\"0 0 {w} {}\" role=\"img\">",
        trim(secs / BUCKETS as f64),
        ht + 16.0,
        ht + 16.0
    );
    for (i, b) in buckets.iter().enumerate() {
        let mut y = ht;
        let n: u64 = b.iter().sum();
        for k in 0..5 {
            if b[k] == 0 {
                continue;
            }
            let bh = b[k] as f64 / max as f64 * ht;
            y -= bh;
            let _ = write!(
                h,
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{}\"><title>{} {}, of {n} started in this bucket</title></rect>",
                i as f64 * bw,
                y,
                (bw - 0.5).max(0.5),
                bh.max(0.5),
                CLASS_COLORS[k],
                b[k],
                CLASSES[k]
            );
        }
    }
    let _ = write!(
        h,
        "<text x=\"0\" y=\"{}\">{}</text><text x=\"{w}\" y=\"{}\" text-anchor=\"end\">+{} s</text><text x=\"2\" y=\"10\">{max}</text></svg>",
        ht + 13.0,
        esc(&DateTime(t0).to_string()),
        ht + 13.0,
        exact(t1.since(t0).0, 9)
    );
    // The longest connections as bars.
    let mut bars: Vec<&super::Bar> = c.bars.iter().collect();
    bars.sort_by_key(|b| (b.first, b.conn_id));
    let shown = bars.len() as u64;
    let _ = write!(
        h,
        "<h3>The {shown} longest of {total} connections, first to last packet</h3>"
    );
    if total > shown {
        let _ = write!(
            h,
            "<p class=\"muted\">{} shorter connections are counted in the chart above, not drawn.</p>",
            total - shown
        );
    }
    let row_h = if bars.len() <= 40 { 12.0 } else { 7.0 };
    let height = bars.len() as f64 * row_h + 4.0;
    let _ = write!(
        h,
        "<svg width=\"{w}\" height=\"{height}\" viewBox=\"0 0 {w} {height}\" role=\"img\">"
    );
    let has_ladder = |id: u64| ladders.iter().any(|l| l.conn_id == id);
    for (i, b) in bars.iter().enumerate() {
        let x = b.first.since(t0).0 as f64 / span * w;
        let bw = ((b.last.since(b.first).0 as f64 / span) * w).max(2.0);
        let rect = format!(
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{bw:.1}\" height=\"{:.1}\" fill=\"{}\"><title>{}</title></rect>",
            i as f64 * row_h,
            row_h - 1.5,
            CLASS_COLORS[class_of(b.state)],
            esc(&b.text)
        );
        if has_ladder(b.conn_id) {
            let _ = write!(h, "<a href=\"#conn-{}\">{rect}</a>", b.conn_id);
        } else {
            h.push_str(&rect);
        }
    }
    h.push_str("</svg>");
}

fn trim(x: f64) -> String {
    let s = format!("{x:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Log-scale bins from 1 µs to 100 s.
fn log_bin(ns: i64) -> usize {
    let us = (ns as f64 / 1e3).max(1.0);
    ((us.log10() * 4.0) as usize).min(31)
}

fn bin_label(i: usize) -> String {
    let us = 10f64.powf(i as f64 / 4.0);
    if us < 1e3 {
        format!("{} µs", trim(us))
    } else if us < 1e6 {
        format!("{} ms", trim(us / 1e3))
    } else {
        format!("{} s", trim(us / 1e6))
    }
}

fn histogram(h: &mut String, values: &[Nanos], color: &str, what: &str) {
    let mut bins = [0u64; 32];
    for v in values {
        bins[log_bin(v.0)] += 1;
    }
    let max = *bins.iter().max().unwrap_or(&0);
    let (w, ht) = (320.0, 50.0);
    let bw = w / 32.0;
    let _ = write!(
        h,
        "<svg width=\"{w}\" height=\"{}\" viewBox=\"0 0 {w} {}\" role=\"img\">",
        ht + 14.0,
        ht + 14.0
    );
    for (i, n) in bins.iter().enumerate() {
        if *n == 0 {
            continue;
        }
        let bh = (*n as f64 / max.max(1) as f64 * ht).max(1.0);
        let _ = write!(
            h,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{bh:.1}\" fill=\"{color}\"><title>{n} {what} from {} to {}</title></rect>",
            i as f64 * bw,
            ht - bh,
            bw - 1.0,
            bin_label(i),
            bin_label(i + 1)
        );
    }
    let _ = write!(
        h,
        "<text x=\"0\" y=\"{}\">1 µs</text><text x=\"{:.0}\" y=\"{}\">1 ms</text><text x=\"{:.0}\" y=\"{}\">1 s</text></svg>",
        ht + 12.0,
        12.0 * bw,
        ht + 12.0,
        24.0 * bw,
        ht + 12.0
    );
}

fn top_servers(c: &Collector) -> Vec<(&(std::net::IpAddr, u16, &'static str), &super::Server)> {
    let mut v: Vec<_> = c.servers.iter().collect();
    v.sort_by(|a, b| b.1.conns.cmp(&a.1.conns).then(a.0.cmp(b.0)));
    v.truncate(c.limits().servers);
    v
}

fn servers(h: &mut String, c: &Collector) {
    h.push_str("<h2 id=\"servers\">Server endpoints</h2>");
    let top = top_servers(c);
    if top.is_empty() {
        h.push_str("<p class=\"muted\">no connections</p>");
        return;
    }
    let rest = c.servers.len().saturating_sub(top.len());
    let _ = write!(
        h,
        "<p>{} server endpoints{}; the {} with most connections. RTT: the handshake round trip (SYN-ACK to the handshake ACK, from the SYN it answered); connect: from the first SYN. Refused (REJ) and unanswered (S0) connections have no RTT and are counted beside, not left out.</p>",
        c.servers.len() as u64 + c.other_servers.min(1),
        if c.other_servers > 0 {
            format!(" ({} connections to servers past the first {} counted only in the totals)", c.other_servers, super::MAX_SERVERS)
        } else {
            String::new()
        },
        top.len()
    );
    h.push_str("<h3>Handshake RTT and connect time, ms</h3><table><tr><th>server</th><th class=\"n\">conns</th><th class=\"n\">refused</th><th class=\"n\">unanswered</th><th class=\"n\">with RTT</th><th class=\"n\">RTT p50</th><th class=\"n\">p90</th><th class=\"n\">p99</th><th class=\"n\">max</th><th class=\"n\">connect p50</th><th class=\"n\">max</th><th>RTT distribution</th></tr>");
    for ((ip, port, proto), s) in &top {
        let mut rtt = s.rtt.clone();
        rtt.sort_unstable();
        let mut connect = s.connect.clone();
        connect.sort_unstable();
        let refused = s.states.get("REJ").copied().unwrap_or(0);
        let unanswered = s.states.get("S0").copied().unwrap_or(0);
        let _ = write!(
            h,
            "<tr><td class=\"mono\">{} {}</td><td class=\"n\">{}</td><td class=\"n{}\">{refused}</td><td class=\"n{}\">{unanswered}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>",
            proto.to_uppercase(),
            esc(&crate::render::human::endpoint(ip, *port)),
            s.conns,
            if refused > 0 { " bad" } else { "" },
            if unanswered > 0 { " warn" } else { "" },
            rtt.len(),
            ms(percentile(&rtt, 50.0)),
            ms(percentile(&rtt, 90.0)),
            ms(percentile(&rtt, 99.0)),
            ms(rtt.last().copied()),
            ms(percentile(&connect, 50.0)),
            ms(connect.last().copied()),
        );
        if !rtt.is_empty() {
            histogram(h, &rtt, "#3a7bd5", "handshakes");
        }
        h.push_str("</td></tr>");
    }
    h.push_str("</table>");
    if rest > 0 {
        let _ = write!(
            h,
            "<p class=\"muted\">… and {rest} more server endpoints.</p>"
        );
    }
    // Outcomes, stacked.
    h.push_str("<h3>Outcomes by server</h3>");
    let mut states: Vec<&str> = Vec::new();
    for (_, s) in &top {
        for k in s.states.keys() {
            if !states.contains(k) {
                states.push(k);
            }
        }
    }
    states.sort_by_key(|s| STATE_COLORS.iter().position(|(n, _)| n == s).unwrap_or(99));
    legend(
        h,
        &states
            .iter()
            .map(|s| (*s, state_color(s)))
            .collect::<Vec<_>>(),
    );
    let max = top.iter().map(|(_, s)| s.conns).max().unwrap_or(1).max(1);
    let (w, label, rh) = (960.0, 260.0, 18.0);
    let height = top.len() as f64 * rh + 4.0;
    let _ = write!(
        h,
        "<svg width=\"{w}\" height=\"{height}\" viewBox=\"0 0 {w} {height}\" role=\"img\">"
    );
    for (i, ((ip, port, proto), s)) in top.iter().enumerate() {
        let y = i as f64 * rh;
        let name = format!(
            "{} {}",
            proto.to_uppercase(),
            crate::render::human::endpoint(ip, *port)
        );
        let _ = write!(
            h,
            "<text x=\"0\" y=\"{:.1}\">{}</text>",
            y + 12.0,
            esc(&name)
        );
        let mut x = label;
        for st in &states {
            let Some(n) = s.states.get(st) else { continue };
            let bw = *n as f64 / max as f64 * (w - label - 60.0);
            let _ = write!(
                h,
                "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{}\"><title>{} {n} {st}</title></rect>",
                y + 2.0,
                bw.max(1.0),
                rh - 5.0,
                state_color(st),
                esc(&name)
            );
            x += bw.max(1.0);
        }
        let _ = write!(
            h,
            "<text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            x + 4.0,
            y + 12.0,
            s.conns
        );
    }
    h.push_str("</svg>");
}

fn talkers(h: &mut String, c: &Collector) {
    h.push_str("<h2 id=\"talkers\">Top talkers by bytes</h2>");
    let mut v: Vec<_> = c.hosts.iter().collect();
    v.sort_by(|a, b| (b.1 .0 + b.1 .1).cmp(&(a.1 .0 + a.1 .1)).then(a.0.cmp(b.0)));
    let n = c.limits().talkers;
    let shown = &v[..v.len().min(n)];
    if shown.is_empty() {
        h.push_str("<p class=\"muted\">no hosts</p>");
        return;
    }
    let _ = write!(
        h,
        "<p>Payload bytes (TCP sequence space, UDP payloads) each host sent and received over the connections above; {} hosts{}.</p>",
        c.hosts.len(),
        if c.other_hosts.0 + c.other_hosts.1 > 0 {
            format!(
                ", and {} bytes of hosts past the first {}",
                c.other_hosts.0 + c.other_hosts.1,
                super::MAX_HOSTS
            )
        } else {
            String::new()
        }
    );
    let max = shown
        .iter()
        .map(|(_, b)| b.0 + b.1)
        .max()
        .unwrap_or(1)
        .max(1);
    h.push_str("<table><tr><th>host</th><th class=\"n\">sent</th><th class=\"n\">received</th><th></th></tr>");
    for (ip, (sent, recv)) in shown {
        let ws = *sent as f64 / max as f64 * 400.0;
        let wr = *recv as f64 / max as f64 * 400.0;
        let _ = write!(
            h,
            "<tr><td class=\"mono\">{}</td><td class=\"n\">{sent}</td><td class=\"n\">{recv}</td><td><svg width=\"410\" height=\"12\"><rect x=\"0\" y=\"1\" width=\"{ws:.1}\" height=\"10\" fill=\"#3a7bd5\"><title>sent {}</title></rect><rect x=\"{ws:.1}\" y=\"1\" width=\"{wr:.1}\" height=\"10\" fill=\"#9cc0ee\"><title>received {}</title></rect></svg></td></tr>",
            esc(&ip.to_string()),
            size(*sent),
            size(*recv)
        );
    }
    h.push_str("</table>");
    legend(h, &[("sent", "#3a7bd5"), ("received", "#9cc0ee")]);
}

fn websocket(h: &mut String, c: &Collector, ladders: &[Ladder]) {
    h.push_str("<h2 id=\"websocket\">WebSocket</h2>");
    if c.ws_sessions == 0 {
        h.push_str("<p class=\"muted\">no WebSocket sessions</p>");
        return;
    }
    let _ = write!(
        h,
        "<p>{} sessions, {} messages, {} violations.</p>",
        c.ws_sessions, c.ws_messages, c.violations_total
    );
    h.push_str("<table><tr><th class=\"n\">#</th><th>client</th><th>server</th><th>path</th><th>status</th><th class=\"n\">messages c/s</th><th class=\"n\">message bytes c/s</th><th>close</th><th class=\"n\">violations</th></tr>");
    for r in &c.ws_rows {
        let id = if ladders.iter().any(|l| l.conn_id == r.conn_id) {
            format!("<a href=\"#conn-{0}\">{0}</a>", r.conn_id)
        } else {
            r.conn_id.to_string()
        };
        let _ = write!(
            h,
            "<tr><td class=\"n\">{id}</td><td class=\"mono\">{}</td><td class=\"mono\">{}</td><td class=\"mono\">{}</td><td{}>{}</td><td class=\"n\">{}/{}</td><td class=\"n\">{}/{}</td><td>{}</td><td class=\"n{}\">{}</td></tr>",
            esc(&r.client),
            esc(&r.server),
            esc(&r.target),
            if r.status == Some(101) { "" } else { " class=\"bad\"" },
            r.status.map_or("-".into(), |s| s.to_string()),
            r.client_totals.messages,
            r.server_totals.messages,
            r.client_totals.message_bytes,
            r.server_totals.message_bytes,
            esc(&r.close),
            if r.violations > 0 { " bad" } else { "" },
            r.violations
        );
    }
    h.push_str("</table>");
    if c.ws_sessions > c.ws_rows.len() as u64 {
        let _ = write!(
            h,
            "<p class=\"muted\">… and {} more sessions.</p>",
            c.ws_sessions - c.ws_rows.len() as u64
        );
    }
    // Messages over time, the busiest sessions.
    let mut series: Vec<(&u64, &Vec<super::Msg>)> = c.ws_series.iter().collect();
    series.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(b.0)));
    series.truncate(super::WS_SERIES);
    if !series.is_empty() {
        h.push_str("<h3>Messages over time (client above the line, server below)</h3>");
        legend(h, &[("client", "#3a7bd5"), ("server", "#e69b2e")]);
        for (id, msgs) in series {
            let (Some(a), Some(b)) = (msgs.first(), msgs.last()) else {
                continue;
            };
            const N: usize = 100;
            let span = b.ts.since(a.ts).0.max(1) as f64;
            let mut up = [0u64; N];
            let mut down = [0u64; N];
            for m in msgs {
                let i = ((m.ts.since(a.ts).0 as f64 / span) * N as f64) as usize;
                let i = i.min(N - 1);
                if m.from_client {
                    up[i] += 1;
                } else {
                    down[i] += 1;
                }
            }
            let max = up.iter().chain(&down).max().copied().unwrap_or(1).max(1);
            let (w, half) = (600.0, 24.0);
            let _ = write!(
                h,
                "<div class=\"mono\">#{id}: {} messages over {} s</div><svg width=\"{w}\" height=\"{}\" role=\"img\">",
                msgs.len(),
                exact(b.ts.since(a.ts).0, 9),
                half * 2.0 + 2.0
            );
            for i in 0..N {
                let x = i as f64 * w / N as f64;
                for (n, color, upward) in [(up[i], "#3a7bd5", true), (down[i], "#e69b2e", false)] {
                    if n == 0 {
                        continue;
                    }
                    let bh = (n as f64 / max as f64 * half).max(1.0);
                    let y = if upward { half - bh } else { half + 1.0 };
                    let _ = write!(
                        h,
                        "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{bh:.1}\" fill=\"{color}\"><title>{n} from the {}</title></rect>",
                        w / N as f64 - 1.0,
                        if upward { "client" } else { "server" }
                    );
                }
            }
            let _ = write!(
                h,
                "<line x1=\"0\" x2=\"{w}\" y1=\"{half}\" y2=\"{half}\" stroke=\"#999\" stroke-width=\"0.5\"/></svg>"
            );
        }
    }
    // Sizes.
    h.push_str("<h3>Message sizes (bytes after decompression, powers of two)</h3><table><tr><th>size</th><th class=\"n\">client</th><th class=\"n\">server</th></tr>");
    for i in 0..40 {
        let (a, b) = (c.ws_sizes[0][i], c.ws_sizes[1][i]);
        if a + b == 0 {
            continue;
        }
        let range = if i == 0 {
            "0".to_string()
        } else {
            format!("{}–{}", 1u64 << (i - 1), (1u64 << i) - 1)
        };
        let _ = write!(
            h,
            "<tr><td>{range}</td><td class=\"n\">{a}</td><td class=\"n\">{b}</td></tr>"
        );
    }
    h.push_str("</table>");
    h.push_str("<h3>Violations</h3>");
    if c.violations.is_empty() {
        h.push_str("<p class=\"ok\">none</p>");
        return;
    }
    h.push_str("<table><tr><th>time</th><th class=\"n\">#</th><th>by</th><th>rule</th><th>detail</th></tr>");
    for v in &c.violations {
        let _ = write!(
            h,
            "<tr><td class=\"mono\">{}</td><td class=\"n\">{}</td><td>{}</td><td class=\"bad\">{}</td><td>{}</td></tr>",
            esc(&crate::time::TimeOfDay(v.ts).to_string()),
            v.conn_id,
            v.direction.as_str(),
            esc(v.rule),
            esc(&v.detail)
        );
    }
    h.push_str("</table>");
    if c.violations_total > c.violations.len() as u64 {
        let _ = write!(
            h,
            "<p class=\"muted\">… and {} more.</p>",
            c.violations_total - c.violations.len() as u64
        );
    }
}

/// Steps drawn per ladder, at most.
const SVG_STEPS: usize = 400;

/// HTTP exchanges (how long servers made clients wait) and the real-time
/// channels with their technique.
fn http(h: &mut String, c: &Collector) {
    h.push_str("<h2 id=\"http\">HTTP and real-time channels</h2>");
    if c.http_txns == 0 && c.channels_total == 0 {
        h.push_str("<p class=\"muted\">No HTTP exchanges.</p>");
        return;
    }
    let _ = write!(
        h,
        "<p>{} HTTP exchanges, {} real-time channels.</p><h3>Wait (last request byte → first answer byte)</h3>",
        c.http_txns, c.channels_total
    );
    histogram(h, &c.http_waits, "#3a78d0", "exchanges waited");
    h.push_str("<h3>Real-time channels</h3><table><tr><th>channel</th><th>technique</th><th>client</th><th>server</th><th>path</th><th>requests</th><th>messages</th><th>mean wait ms</th><th>max wait ms</th><th>verdict</th></tr>");
    for ch in &c.channels {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            ch.channel_id,
            esc(ch.technique),
            esc(&ch.client_ip.to_string()),
            esc(&super::ep(&ch.server_ip, ch.server_port)),
            esc(&ch.path),
            ch.requests,
            ch.data_messages,
            ms(ch.mean_wait_ms),
            ms(ch.max_wait_ms),
            esc(&ch.verdict)
        );
    }
    h.push_str("</table>");
    if c.channels_total > c.channels.len() as u64 {
        let _ = write!(
            h,
            "<p class=\"muted\">and {} more channels (the JSON records have them all).</p>",
            c.channels_total - c.channels.len() as u64
        );
    }
}

fn tone_color(t: Option<Tone>) -> &'static str {
    match t {
        Some(Tone::Bad) => "#c0392b",
        Some(Tone::Warn) => "#b7791f",
        Some(Tone::Good) => "#2f855a",
        None => "#1d2228",
    }
}

fn ladders_section(h: &mut String, ladders: &[Ladder]) {
    h.push_str("<h2 id=\"ladders\">Ladders</h2>");
    if ladders.is_empty() {
        h.push_str("<p class=\"muted\">none drawn</p>");
        return;
    }
    let _ = write!(
        h,
        "<p>{} connections, each packet an arrow from its sender (the same ladder as <code>sockscope replay --conn ID --ladder</code>); times in seconds since the connection's first packet.</p><p>",
        ladders.len()
    );
    for l in ladders {
        let _ = write!(h, "<a href=\"#conn-{0}\">#{0}</a> ", l.conn_id);
    }
    h.push_str("</p>");
    for l in ladders {
        ladder_svg(h, l);
    }
}

fn ladder_svg(h: &mut String, l: &Ladder) {
    let _ = write!(
        h,
        "<h3 id=\"conn-{}\">#{} {}</h3><div class=\"mono\">client {} → server {}</div>",
        l.conn_id,
        l.conn_id,
        esc(&l.title),
        esc(&l.client),
        esc(&l.server)
    );
    for n in &l.notes {
        let _ = write!(
            h,
            "<div style=\"color:{}\">{}</div>",
            tone_color(n.tone),
            esc(&n.text)
        );
    }
    let steps = &l.steps[..l.steps.len().min(SVG_STEPS)];
    let (w, left, right) = (960.0, 190.0, 700.0);
    let (row, note) = (20.0, 13.0);
    let height: f64 = steps
        .iter()
        .map(|s| match s {
            Step::Packet { notes, .. } => row + notes.len() as f64 * note,
            Step::Elided { .. } => row,
        })
        .sum::<f64>()
        + 24.0;
    let _ = write!(
        h,
        "<svg width=\"{w}\" height=\"{height:.0}\" viewBox=\"0 0 {w} {height:.0}\" role=\"img\">\
         <defs><marker id=\"ah{0}\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0,0L10,5L0,10z\" fill=\"#333\"/></marker></defs>\
         <text x=\"0\" y=\"12\" fill=\"#6b737d\">time s</text><text x=\"95\" y=\"12\" fill=\"#6b737d\">delta</text>\
         <text x=\"{left}\" y=\"12\" text-anchor=\"middle\">client</text><text x=\"{right}\" y=\"12\" text-anchor=\"middle\">server</text>\
         <line x1=\"{left}\" x2=\"{left}\" y1=\"16\" y2=\"{height:.0}\" stroke=\"#888\"/><line x1=\"{right}\" x2=\"{right}\" y1=\"16\" y2=\"{height:.0}\" stroke=\"#888\"/>",
        l.conn_id
    );
    let mut y = 20.0;
    for s in steps {
        match s {
            Step::Packet {
                at,
                delta,
                from_client,
                label,
                notes,
                tone,
            } => {
                let digits = l.digits;
                let t = exact_fixed(at.0, digits);
                let d = delta.map_or(String::new(), |d| format!("+{}", exact_fixed(d.0, digits)));
                let (x1, x2) = if *from_client {
                    (left, right)
                } else {
                    (right, left)
                };
                let color = match tone {
                    Some(_) => tone_color(*tone),
                    None => "#333",
                };
                let _ = write!(
                    h,
                    "<text x=\"0\" y=\"{:.1}\">{t}</text><text x=\"95\" y=\"{:.1}\" fill=\"#6b737d\">{d}</text>\
                     <line x1=\"{x1}\" x2=\"{x2}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"{color}\" stroke-width=\"1.3\" marker-end=\"url(#ah{})\"/>\
                     <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"{color}\">{}</text>",
                    y + 14.0,
                    y + 14.0,
                    y + 16.0,
                    y + 16.0,
                    l.conn_id,
                    (left + right) / 2.0,
                    y + 12.0,
                    esc(label)
                );
                y += row;
                for n in notes {
                    let _ = write!(
                        h,
                        "<text x=\"{:.1}\" y=\"{:.1}\" fill=\"{}\">{}</text>",
                        left + 8.0,
                        y + 9.0,
                        tone_color(n.tone),
                        esc(&n.text)
                    );
                    y += note;
                }
            }
            Step::Elided { .. } => {
                let _ = write!(
                    h,
                    "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#6b737d\" font-style=\"italic\">{}</text>",
                    (left + right) / 2.0,
                    y + 13.0,
                    esc(&s.elided_text().unwrap_or_default())
                );
                y += row;
            }
        }
    }
    h.push_str("</svg>");
    if l.steps.len() > SVG_STEPS {
        let _ = write!(
            h,
            "<p class=\"muted\">… {} more lines: <code>sockscope replay FILE --conn {} --ladder</code> draws them all.</p>",
            l.steps.len() - SVG_STEPS,
            l.conn_id
        );
    }
}

/// A time with `digits` decimals, as the text ladder writes it.
fn exact_fixed(ns: i64, digits: u32) -> String {
    let a = ns.unsigned_abs();
    format!(
        "{}{}.{:0w$}",
        if ns < 0 { "-" } else { "" },
        a / 1_000_000_000,
        (a % 1_000_000_000) / 10u64.pow(9 - digits),
        w = digits as usize
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn text_from_the_capture_is_escaped() {
        assert_eq!(
            super::esc("<script>alert('x')</script> & \"q\"\u{7}"),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;\u{fffd}"
        );
    }
}
