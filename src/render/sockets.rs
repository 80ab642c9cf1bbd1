//! `sockscope ls` output: a comfy-table table (or counts with `-s`) and JSON
//! lines, one object per socket then an `ls_summary`.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::net::IpAddr;

use crate::config::Style;
use crate::render::layout::{self, Column, Fit, Styled};
use crate::render::Tone;

use crate::render::json::escape_into;
use crate::sockets::tree::{ListenerGroup, Tree};
use crate::sockets::watch::{Change, Changes};
use crate::sockets::{Family, Listing, SocketRow, TableSource};

/// Which optional columns to show, and how.
#[derive(Clone, Copy, Debug, Default)]
pub struct LsView {
    pub processes: bool,
    pub info: bool,
    pub mem: bool,
    pub netns: bool,
    pub resolve: bool,
    pub width: Option<u16>,
    /// The header line (`-H` turns it off, as in ss).
    pub header: bool,
    pub style: Style,
}

/// `ADDR:PORT` as ss writes it: IPv6 in brackets, port 0 as `*`; names
/// in place of numbers where `-r` found them.
fn endpoint(
    ip: Option<IpAddr>,
    port: Option<u16>,
    host: Option<&str>,
    service: Option<&str>,
) -> String {
    let port = match (service, port) {
        (Some(s), _) => s.to_string(),
        (None, Some(0) | None) => "*".to_string(),
        (None, Some(p)) => p.to_string(),
    };
    match (host, ip) {
        (Some(h), _) => format!("{h}:{port}"),
        (None, Some(IpAddr::V6(v6))) => format!("[{v6}]:{port}"),
        (None, Some(IpAddr::V4(v4))) => format!("{v4}:{port}"),
        (None, None) => format!("*:{port}"),
    }
}

fn local(r: &SocketRow) -> String {
    if r.family == Family::Unix {
        return format!("{} {}", r.unix_path.as_deref().unwrap_or("*"), r.inode);
    }
    let n = r.names.as_deref();
    endpoint(
        r.local_ip,
        r.local_port,
        n.and_then(|n| n.local_host.as_deref()),
        n.and_then(|n| n.local_service.as_deref()),
    )
}

fn peer(r: &SocketRow) -> String {
    if r.family == Family::Unix {
        return match r.unix_peer {
            Some(p) => format!("* {p}"),
            None => "*".to_string(),
        };
    }
    let n = r.names.as_deref();
    endpoint(
        r.remote_ip,
        r.remote_port,
        n.and_then(|n| n.remote_host.as_deref()),
        n.and_then(|n| n.remote_service.as_deref()),
    )
}

fn owners(r: &SocketRow) -> String {
    r.owners
        .iter()
        .map(|o| format!("{}({}) fd={}", o.process, o.pid, o.fd))
        .collect::<Vec<_>>()
        .join(", ")
}

type Cells = Vec<Styled>;

/// The columns shown, in order. Proto, State and the two endpoints are
/// kept at every width; the others are left out, least useful first, when
/// the terminal is narrow (ss keeps one socket per line, and so does this).
fn columns(v: &LsView) -> Vec<Column> {
    let mut c = vec![
        Column::kept("Proto", Fit::Atom),
        Column::kept("State", Fit::Atom),
        Column::optional("Recv-Q", Fit::Atom, 10).right(),
        Column::optional("Send-Q", Fit::Atom, 11).right(),
        Column::kept("Local", Fit::Atom),
        Column::kept("Peer", Fit::Atom),
    ];
    if v.processes {
        c.push(Column::optional("Process", Fit::Text, 12));
    }
    if v.info {
        c.extend([
            Column::optional("RTT ms", Fit::Atom, 9).right(),
            Column::optional("RTTvar ms", Fit::Atom, 3)
                .right()
                .short("RTTvar"),
            Column::optional("Cwnd", Fit::Atom, 7).right(),
            Column::optional("Ssthresh", Fit::Atom, 2)
                .right()
                .short("Ssthr"),
            Column::optional("Retrans", Fit::Atom, 8)
                .right()
                .short("Rtx"),
            Column::optional("Acked", Fit::Atom, 5).right(),
            Column::optional("Received", Fit::Atom, 4)
                .right()
                .short("Rcvd"),
        ]);
    }
    if v.mem {
        c.extend([
            Column::optional("Rmem", Fit::Atom, 4).right(),
            Column::optional("Rcvbuf", Fit::Atom, 1).right(),
            Column::optional("Wmem", Fit::Atom, 3).right(),
            Column::optional("Sndbuf", Fit::Atom, 0).right(),
            Column::optional("Drops", Fit::Atom, 6).right(),
        ]);
    }
    if v.netns {
        c.push(Column::optional("Netns", Fit::Atom, 13));
    }
    c
}

/// One row's cells, in the order of [`columns`].
fn row_cells(r: &SocketRow, v: &LsView) -> Cells {
    let mut row: Cells = vec![
        r.proto.name().into(),
        r.state.name().into(),
        r.recv_q.to_string().into(),
        r.send_q.to_string().into(),
        local(r).into(),
        peer(r).into(),
    ];
    if v.processes {
        row.push(owners(r).into());
    }
    if v.info {
        match &r.tcp_info {
            Some(i) => {
                let opt = |x: Option<u64>| x.map_or("-".to_string(), |x| x.to_string());
                row.extend([
                    format!("{:.3}", f64::from(i.rtt_us) / 1000.0).into(),
                    format!("{:.3}", f64::from(i.rttvar_us) / 1000.0).into(),
                    i.snd_cwnd.to_string().into(),
                    i.snd_ssthresh.to_string().into(),
                    Styled::new(i.total_retrans.to_string())
                        .tone((i.total_retrans > 0).then_some(Tone::Warn)),
                    opt(i.bytes_acked).into(),
                    opt(i.bytes_received).into(),
                ]);
            }
            None => row.extend((0..7).map(|_| Styled::default())),
        }
    }
    if v.mem {
        match &r.mem {
            Some(m) => row.extend([
                m.rmem_alloc.to_string().into(),
                m.rcvbuf.to_string().into(),
                m.wmem_alloc.to_string().into(),
                m.sndbuf.to_string().into(),
                Styled::new(m.drops.to_string()).tone((m.drops > 0).then_some(Tone::Bad)),
            ]),
            None => row.extend((0..5).map(|_| Styled::default())),
        }
    }
    if v.netns {
        row.push(r.netns.clone().unwrap_or_default().into());
    }
    row
}

/// Rows laid out in ss's look, fitted to the width (nothing left out or
/// wrapped when the output is not a terminal). What was left out is
/// returned for the footer.
fn write_cells<W: Write>(
    out: &mut W,
    columns: &[Column],
    cells: &[Cells],
    v: &LsView,
) -> io::Result<Vec<&'static str>> {
    if cells.is_empty() {
        return Ok(Vec::new());
    }
    let drawn = layout::plain(columns, cells, v.width.map(usize::from), v.style, v.header);
    out.write_all(drawn.text.as_bytes())?;
    Ok(drawn.left_out)
}

/// The table of sockets. The footer (how many, where they came from, what
/// could not be attributed: [`footer`]) is the caller's to write, on
/// standard error. Returns the columns left out to fit the width.
pub fn write_table<W: Write>(
    out: &mut W,
    l: &Listing,
    v: &LsView,
) -> io::Result<Vec<&'static str>> {
    let cells: Vec<Cells> = l.rows.iter().map(|r| row_cells(r, v)).collect();
    write_cells(out, &columns(v), &cells, v)
}

/// `--watch`: the table with a first column saying what changed since the
/// previous listing (`+` appeared, `~` changed state, `-` vanished: listed
/// last, as they were), then a line counting the changes.
pub fn write_table_changes<W: Write>(
    out: &mut W,
    l: &Listing,
    changes: &Changes,
    v: &LsView,
) -> io::Result<Vec<&'static str>> {
    let mut cols = vec![Column::kept(" ", Fit::Atom)];
    cols.extend(columns(v));
    let mark = |m: &str, mut c: Cells| {
        c.insert(0, m.into());
        c
    };
    let mut cells: Vec<Cells> = l
        .rows
        .iter()
        .zip(&changes.rows)
        .map(|(r, c)| {
            let m = match c {
                Change::Same => " ",
                Change::Appeared => "+",
                Change::StateChanged(_) => "~",
            };
            let mut cells = row_cells(r, v);
            if let Change::StateChanged(before) = c {
                cells[1] = format!("{}→{}", before.name(), r.state.name()).into();
            }
            mark(m, cells)
        })
        .collect();
    cells.extend(changes.vanished.iter().map(|r| mark("-", row_cells(r, v))));
    let left_out = write_cells(out, &cols, &cells, v)?;
    writeln!(
        out,
        "{} socket{}; {} appeared, {} vanished, {} changed state",
        l.rows.len(),
        if l.rows.len() == 1 { "" } else { "s" },
        changes.appeared(),
        changes.vanished.len(),
        changes.state_changed()
    )?;
    Ok(left_out)
}

/// `--tree`: per listening socket a line — address, owner, backlog, its
/// connections by state — then those connections, indented; then the
/// sockets accepted from no listener, as a table. Returns the count line
/// for the footer.
pub fn write_tree<W: Write>(
    out: &mut W,
    l: &Listing,
    tree: &Tree,
    v: &LsView,
) -> io::Result<String> {
    let rows = &l.rows;
    let child_view = LsView {
        width: None,
        header: false,
        ..*v
    };
    for g in &tree.groups {
        writeln!(out, "{}", v.style.glyphs(&listener_line(rows, g, v)))?;
        if g.conns.is_empty() {
            continue;
        }
        let cells: Vec<Cells> = g
            .conns
            .iter()
            .map(|&i| {
                let mut c = row_cells(&rows[i], &child_view);
                // The listener's line already says protocol and address.
                c.remove(4);
                c.remove(0);
                c
            })
            .collect();
        let mut cols = columns(&child_view);
        cols.remove(4);
        cols.remove(0);
        let drawn = layout::plain(&cols, &cells, None, v.style, false);
        for line in drawn.text.lines() {
            writeln!(out, "   {}", line.trim_end())?;
        }
    }
    if !tree.others.is_empty() {
        writeln!(
            out,
            "\n{} other socket{} (not accepted from a listener above):",
            tree.others.len(),
            if tree.others.len() == 1 { "" } else { "s" }
        )?;
        let cells: Vec<Cells> = tree
            .others
            .iter()
            .map(|&i| row_cells(&rows[i], v))
            .collect();
        write_cells(out, &columns(v), &cells, v)?;
    }
    Ok(format!(
        "{} listening socket{}; ",
        tree.groups.len(),
        if tree.groups.len() == 1 { "" } else { "s" },
    ))
}

/// "0.0.0.0:8080 python3(1234): listening, backlog 3/128, 42 established, 5 time-wait"
fn listener_line(rows: &[SocketRow], g: &ListenerGroup, v: &LsView) -> String {
    let r = &rows[g.listener];
    let mut s = local(r);
    let owners: Vec<String> = r
        .owners
        .iter()
        .map(|o| format!("{}({})", o.process, o.pid))
        .collect();
    if !owners.is_empty() {
        s.push(' ');
        s.push_str(&owners.join(", "));
    }
    if let (true, Some(ns)) = (v.netns, &r.netns) {
        s.push_str(&format!(" [netns {ns}]"));
    }
    s.push_str(&format!(": listening, backlog {}/{}", r.recv_q, r.send_q));
    let counts = g.state_counts(rows);
    if counts.is_empty() {
        s.push_str(", no connections");
    }
    for (state, n) in counts {
        s.push_str(&format!(", {n} {}", state.long_name()));
    }
    s
}

/// How many sockets, where they came from, and what could not be
/// attributed: written by the caller on standard error.
pub fn footer(l: &Listing) -> String {
    let mut s = format!(
        "{} socket{} (from {})",
        l.rows.len(),
        if l.rows.len() == 1 { "" } else { "s" },
        match &l.source {
            TableSource::Netlink => "netlink sock_diag".to_string(),
            TableSource::Proc(why) => format!("/proc/net: {why}"),
            TableSource::Partial(why) => format!("netlink sock_diag; {why}"),
        }
    );
    if let (Some(p), Some(u)) = (l.uninspectable_processes, l.unowned_sockets) {
        if p > 0 {
            s.push_str(&format!(
                "; {p} processes could not be inspected (run as root to see every owner); {u} sockets show no owner"
            ));
        }
    }
    if l.malformed_lines > 0 {
        s.push_str(&format!(
            "; {} unreadable /proc/net lines skipped",
            l.malformed_lines
        ));
    }
    s
}

/// `-s`: counts by protocol and state.
pub fn write_summary<W: Write>(out: &mut W, l: &Listing, v: &LsView) -> io::Result<()> {
    let mut counts: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    for r in &l.rows {
        *counts.entry((r.proto.name(), r.state.name())).or_default() += 1;
    }
    let cols = [
        Column::kept("Proto", Fit::Atom),
        Column::kept("State", Fit::Atom),
        Column::kept("Sockets", Fit::Atom).right(),
    ];
    let cells: Vec<Cells> = counts
        .iter()
        .map(|((p, s), n)| vec![(*p).into(), (*s).into(), n.to_string().into()])
        .collect();
    write_cells(out, &cols, &cells, v).map(|_| ())
}

struct Obj<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Obj<'a> {
    fn new(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        Obj { out, first: true }
    }
    fn key(&mut self, k: &str) {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.push(b'"');
        self.out.extend_from_slice(k.as_bytes());
        self.out.extend_from_slice(b"\":");
    }
    fn str(&mut self, k: &str, v: &str) {
        self.key(k);
        escape_into(self.out, v);
    }
    fn opt_str(&mut self, k: &str, v: Option<&str>) {
        match v {
            Some(v) => self.str(k, v),
            None => self.raw(k, "null"),
        }
    }
    fn num(&mut self, k: &str, v: impl Into<u64>) {
        self.key(k);
        self.out
            .extend_from_slice(itoa::Buffer::new().format(v.into()).as_bytes());
    }
    fn opt_num(&mut self, k: &str, v: Option<impl Into<u64>>) {
        match v {
            Some(v) => self.num(k, v),
            None => self.raw(k, "null"),
        }
    }
    fn raw(&mut self, k: &str, v: &str) {
        self.key(k);
        self.out.extend_from_slice(v.as_bytes());
    }
    fn end(self) {
        self.out.push(b'}');
    }
}

/// JSON lines: one `socket` object per socket, then `ls_summary`.
pub fn write_json<W: Write>(out: &mut W, l: &Listing, v: &LsView) -> io::Result<()> {
    let mut buf = Vec::with_capacity(256);
    for r in &l.rows {
        buf.clear();
        socket_json(&mut buf, r, v, "socket", |_| {});
        buf.push(b'\n');
        out.write_all(&buf)?;
    }
    buf.clear();
    summary_json(&mut buf, l, |_| {});
    out.write_all(&buf)
}

/// When and which listing of a `--watch` this is.
#[derive(Clone, Copy, Debug)]
pub struct Snapshot {
    /// Seconds since the epoch.
    pub ts: f64,
    /// 1 for the first listing.
    pub seq: u64,
}

fn snapshot_fields(o: &mut Obj, s: Snapshot) {
    o.key("ts");
    let mut b = ryu::Buffer::new();
    o.out.extend_from_slice(b.format(s.ts).as_bytes());
    o.num("snapshot", s.seq);
}

/// `--watch` in JSON: every socket of the listing with `change`
/// (`"appeared"`, `"state"` with `prev_state`, or null), then the vanished
/// ones (`"change":"vanished"`, as they last were), then `ls_summary` with
/// the snapshot's `ts`, number and counts of changes.
pub fn write_json_changes<W: Write>(
    out: &mut W,
    l: &Listing,
    changes: &Changes,
    snap: Snapshot,
    v: &LsView,
) -> io::Result<()> {
    let mut buf = Vec::with_capacity(256);
    for (r, c) in l.rows.iter().zip(&changes.rows) {
        buf.clear();
        socket_json(&mut buf, r, v, "socket", |o| {
            snapshot_fields(o, snap);
            match c {
                Change::Same => o.raw("change", "null"),
                Change::Appeared => o.str("change", "appeared"),
                Change::StateChanged(before) => {
                    o.str("change", "state");
                    o.str("prev_state", before.name());
                }
            }
        });
        buf.push(b'\n');
        out.write_all(&buf)?;
    }
    for r in &changes.vanished {
        buf.clear();
        socket_json(&mut buf, r, v, "socket", |o| {
            snapshot_fields(o, snap);
            o.str("change", "vanished");
        });
        buf.push(b'\n');
        out.write_all(&buf)?;
    }
    buf.clear();
    summary_json(&mut buf, l, |o| {
        snapshot_fields(o, snap);
        o.num("appeared", changes.appeared() as u64);
        o.num("vanished", changes.vanished.len() as u64);
        o.num("state_changed", changes.state_changed() as u64);
    });
    out.write_all(&buf)
}

/// `--tree` in JSON: per listening socket a `listener` object (the socket's
/// fields, plus `connections` and their count by `states`) followed by its
/// connections as `socket` objects with `listener_inode`; then the other
/// sockets (`listener_inode` null), then `ls_summary`.
pub fn write_tree_json<W: Write>(
    out: &mut W,
    l: &Listing,
    tree: &Tree,
    snap: Option<Snapshot>,
    v: &LsView,
) -> io::Result<()> {
    let rows = &l.rows;
    let mut buf = Vec::with_capacity(256);
    let mut put = |buf: &mut Vec<u8>| {
        buf.push(b'\n');
        out.write_all(buf)
    };
    for g in &tree.groups {
        let lst = &rows[g.listener];
        buf.clear();
        socket_json(&mut buf, lst, v, "listener", |o| {
            if let Some(s) = snap {
                snapshot_fields(o, s);
            }
            o.num("connections", g.conns.len() as u64);
            o.key("states");
            let mut st = Obj::new(o.out);
            for (state, n) in g.state_counts(rows) {
                st.num(state.name(), n);
            }
            st.end();
        });
        put(&mut buf)?;
        for &i in &g.conns {
            buf.clear();
            socket_json(&mut buf, &rows[i], v, "socket", |o| {
                if let Some(s) = snap {
                    snapshot_fields(o, s);
                }
                o.num("listener_inode", lst.inode);
            });
            put(&mut buf)?;
        }
    }
    for &i in &tree.others {
        buf.clear();
        socket_json(&mut buf, &rows[i], v, "socket", |o| {
            if let Some(s) = snap {
                snapshot_fields(o, s);
            }
            o.raw("listener_inode", "null");
        });
        put(&mut buf)?;
    }
    buf.clear();
    summary_json(&mut buf, l, |o| {
        if let Some(s) = snap {
            snapshot_fields(o, s);
        }
        o.num("listeners", tree.groups.len() as u64);
    });
    out.write_all(&buf)
}

/// `ls_summary`, with `extra` fields before its end, and a newline.
fn summary_json(buf: &mut Vec<u8>, l: &Listing, extra: impl FnOnce(&mut Obj)) {
    let mut o = Obj::new(buf);
    o.str("type", "ls_summary");
    o.num("sockets", l.rows.len() as u64);
    match &l.source {
        TableSource::Netlink => {
            o.str("source", "netlink");
            o.raw("fallback_reason", "null");
        }
        TableSource::Proc(why) => {
            o.str("source", "proc");
            o.str("fallback_reason", why);
        }
        TableSource::Partial(why) => {
            o.str("source", "netlink");
            o.str("fallback_reason", why);
        }
    }
    o.opt_num("uninspectable_processes", l.uninspectable_processes);
    o.opt_num("unowned_sockets", l.unowned_sockets);
    o.num("malformed_lines", l.malformed_lines);
    extra(&mut o);
    o.end();
    buf.push(b'\n');
}

fn socket_json(
    buf: &mut Vec<u8>,
    r: &SocketRow,
    v: &LsView,
    ty: &str,
    extra: impl FnOnce(&mut Obj),
) {
    let mut o = Obj::new(buf);
    o.str("type", ty);
    o.str("proto", r.proto.name());
    o.str("family", r.family.name());
    o.str("state", r.state.name());
    let ip = |x: Option<IpAddr>| x.map(|i| i.to_string());
    o.opt_str("local_ip", ip(r.local_ip).as_deref());
    o.opt_num("local_port", r.local_port);
    o.opt_str("remote_ip", ip(r.remote_ip).as_deref());
    o.opt_num("remote_port", r.remote_port);
    if r.family == Family::Unix {
        o.opt_str("path", r.unix_path.as_deref());
        o.opt_num("peer_inode", r.unix_peer);
    }
    o.num("recv_q", r.recv_q);
    o.num("send_q", r.send_q);
    o.opt_num("uid", r.uid);
    o.num("inode", r.inode);
    o.opt_str("netns", r.netns.as_deref());
    let first = r.owners.first();
    o.opt_num("pid", first.map(|f| f.pid));
    o.opt_str("process", first.map(|f| f.process.as_str()));
    o.opt_num("fd", first.map(|f| f.fd));
    if v.processes {
        o.key("owners");
        o.out.push(b'[');
        for (i, ow) in r.owners.iter().enumerate() {
            if i > 0 {
                o.out.push(b',');
            }
            let mut w = Obj::new(o.out);
            w.num("pid", ow.pid);
            w.str("process", &ow.process);
            w.num("fd", ow.fd);
            w.end();
        }
        o.out.push(b']');
    }
    if v.info {
        match &r.tcp_info {
            Some(i) => {
                o.key("tcp_info");
                let mut t = Obj::new(o.out);
                t.num("rtt_us", i.rtt_us);
                t.num("rttvar_us", i.rttvar_us);
                t.num("rto_us", i.rto_us);
                t.num("snd_cwnd", i.snd_cwnd);
                t.num("snd_ssthresh", i.snd_ssthresh);
                t.num("snd_mss", i.snd_mss);
                t.num("rcv_mss", i.rcv_mss);
                t.num("pmtu", i.pmtu);
                t.num("snd_wscale", i.snd_wscale);
                t.num("rcv_wscale", i.rcv_wscale);
                t.num("unacked", i.unacked);
                t.num("lost", i.lost);
                t.num("retransmits", i.retransmits);
                t.num("retrans", i.retrans);
                t.num("total_retrans", i.total_retrans);
                t.num("ca_state", i.ca_state);
                t.opt_num("bytes_acked", i.bytes_acked);
                t.opt_num("bytes_received", i.bytes_received);
                t.opt_num("bytes_sent", i.bytes_sent);
                t.opt_num("bytes_retrans", i.bytes_retrans);
                t.opt_num("segs_out", i.segs_out);
                t.opt_num("segs_in", i.segs_in);
                t.opt_num("min_rtt_us", i.min_rtt_us);
                t.opt_num("delivery_rate", i.delivery_rate);
                t.end();
            }
            None => o.raw("tcp_info", "null"),
        }
    }
    if v.mem {
        match &r.mem {
            Some(m) => {
                o.key("mem");
                let mut t = Obj::new(o.out);
                t.num("rmem_alloc", m.rmem_alloc);
                t.num("rcvbuf", m.rcvbuf);
                t.num("wmem_alloc", m.wmem_alloc);
                t.num("sndbuf", m.sndbuf);
                t.num("fwd_alloc", m.fwd_alloc);
                t.num("wmem_queued", m.wmem_queued);
                t.num("optmem", m.optmem);
                t.num("backlog", m.backlog);
                t.num("drops", m.drops);
                t.end();
            }
            None => o.raw("mem", "null"),
        }
    }
    if v.resolve && r.family != Family::Unix {
        let n = r.names.as_deref();
        o.opt_str("local_host", n.and_then(|n| n.local_host.as_deref()));
        o.opt_str("local_service", n.and_then(|n| n.local_service.as_deref()));
        o.opt_str("remote_host", n.and_then(|n| n.remote_host.as_deref()));
        o.opt_str(
            "remote_service",
            n.and_then(|n| n.remote_service.as_deref()),
        );
    }
    extra(&mut o);
    o.end();
}
