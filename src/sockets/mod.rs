//! `sockscope ls`: the kernel's sockets as rows — from netlink sock_diag
//! ([`diag`]), or `/proc/net` ([`procnet`]) when netlink is unavailable —
//! with their owners ([`owners`]), in one or every network namespace.
//! Knows nothing of packets or captures.

pub mod diag;
pub mod filter;
pub mod owners;
pub mod procnet;
pub mod resolve;
pub mod state;
pub mod tcp_info;
pub mod tree;
pub mod watch;

use std::fs::{self, File};
use std::io;
use std::net::IpAddr;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

pub use owners::Owner;
pub use state::{SockState, StateSet};
pub use tcp_info::TcpInfo;

use diag::{Diag, Extras};
use owners::OwnerMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum UnixKind {
    Stream,
    Dgram,
    Seqpacket,
}

/// A socket's protocol, named as ss names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SockProto {
    Tcp,
    Udp,
    UdpLite,
    Raw,
    Unix(UnixKind),
}

impl SockProto {
    pub fn name(self) -> &'static str {
        match self {
            SockProto::Tcp => "tcp",
            SockProto::Udp => "udp",
            SockProto::UdpLite => "udplite",
            SockProto::Raw => "raw",
            SockProto::Unix(UnixKind::Stream) => "u_str",
            SockProto::Unix(UnixKind::Dgram) => "u_dgr",
            SockProto::Unix(UnixKind::Seqpacket) => "u_seq",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    Inet,
    Inet6,
    Unix,
}

impl Family {
    pub fn name(self) -> &'static str {
        match self {
            Family::Inet => "inet",
            Family::Inet6 => "inet6",
            Family::Unix => "unix",
        }
    }
}

/// `skmeminfo`: socket memory, in bytes (ss -m's `skmem:(r…,rb…,t…,tb…)`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemInfo {
    pub rmem_alloc: u32,
    pub rcvbuf: u32,
    pub wmem_alloc: u32,
    pub sndbuf: u32,
    pub fwd_alloc: u32,
    pub wmem_queued: u32,
    pub optmem: u32,
    pub backlog: u32,
    pub drops: u32,
}

/// One socket.
#[derive(Clone, Debug, PartialEq)]
pub struct SocketRow {
    pub proto: SockProto,
    pub family: Family,
    pub state: SockState,
    /// Inet sockets: the 5-tuple (a raw socket's "port" is its protocol
    /// number, as ss shows it).
    pub local_ip: Option<IpAddr>,
    pub local_port: Option<u16>,
    pub remote_ip: Option<IpAddr>,
    pub remote_port: Option<u16>,
    /// Bound interface index (0: none).
    pub interface: u32,
    /// Unix sockets: the bound path (`@name` for an abstract one) and the
    /// peer's inode.
    pub unix_path: Option<String>,
    pub unix_peer: Option<u64>,
    /// For listening sockets: connections waiting for accept() and the
    /// backlog; otherwise bytes queued.
    pub recv_q: u32,
    pub send_q: u32,
    pub uid: Option<u32>,
    pub inode: u64,
    pub netns: Option<String>,
    /// Holders (with `-p`); empty when none could be seen.
    pub owners: Vec<Owner>,
    pub tcp_info: Option<TcpInfo>,
    pub mem: Option<MemInfo>,
    /// With `-r`: host and service names.
    pub names: Option<Box<resolve::Names>>,
}

impl SocketRow {
    pub fn new(proto: SockProto, family: Family, state: SockState) -> SocketRow {
        SocketRow {
            proto,
            family,
            state,
            local_ip: None,
            local_port: None,
            remote_ip: None,
            remote_port: None,
            interface: 0,
            unix_path: None,
            unix_peer: None,
            recv_q: 0,
            send_q: 0,
            uid: None,
            inode: 0,
            netns: None,
            owners: Vec::new(),
            tcp_info: None,
            mem: None,
            names: None,
        }
    }
}

/// Which network namespaces to list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum NetnsChoice {
    /// The one sockscope runs in.
    #[default]
    Current,
    /// A name under /run/netns (as `ip netns` makes them).
    Named(String),
    /// Every distinct namespace of a process or under /run/netns.
    All,
}

/// What to list (the `ls` options, validated).
#[derive(Clone, Debug)]
pub struct LsConfig {
    pub tcp: bool,
    pub udp: bool,
    pub raw: bool,
    pub unix: bool,
    pub v4: bool,
    pub v6: bool,
    pub states: StateSet,
    pub processes: bool,
    pub info: bool,
    pub mem: bool,
    pub netns: NetnsChoice,
    pub port: Option<u16>,
    pub sport: Option<u16>,
    pub dport: Option<u16>,
    pub pid: Option<u32>,
    pub process: Option<String>,
    /// An ss filter expression (ports, addresses, and/or/not).
    pub filter: Option<filter::Filter>,
    /// Host and service names (`-r`).
    pub resolve: bool,
    /// Read /proc/net even when netlink works (for tests and comparisons).
    pub force_proc: bool,
}

impl Default for LsConfig {
    fn default() -> Self {
        LsConfig {
            tcp: true,
            udp: true,
            raw: true,
            unix: false,
            v4: true,
            v6: true,
            states: StateSet::CONNECTED,
            processes: false,
            info: false,
            mem: false,
            netns: NetnsChoice::Current,
            port: None,
            sport: None,
            dport: None,
            pid: None,
            process: None,
            filter: None,
            resolve: false,
            force_proc: false,
        }
    }
}

/// Where the rows came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TableSource {
    Netlink,
    /// `/proc/net`, and why netlink was not used.
    Proc(String),
    /// Netlink, but some tables from `/proc/net` (which, and why).
    Partial(String),
}

/// The answer to an `ls`.
#[derive(Debug)]
pub struct Listing {
    pub rows: Vec<SocketRow>,
    pub source: TableSource,
    /// With `-p`: processes whose descriptors could not be read, and the
    /// listed sockets left without an owner.
    pub uninspectable_processes: Option<u64>,
    pub unowned_sockets: Option<u64>,
    /// `/proc/net` lines that could not be read.
    pub malformed_lines: u64,
}

/// Errors the user can act on.
#[derive(Debug, thiserror::Error)]
pub enum LsError {
    #[error("no network namespace named `{0}` (see `ip netns list`; /run/netns/{0}: {1})")]
    NoSuchNetns(String, io::Error),
    #[error("entering network namespace `{0}` needs CAP_SYS_ADMIN (run as root): {1}")]
    Setns(String, io::Error),
    #[error("reading the socket tables: {0}")]
    Read(io::Error),
}

/// Lists the sockets `cfg` selects.
pub fn list(cfg: &LsConfig) -> Result<Listing, LsError> {
    let owners_wanted = cfg.processes || cfg.pid.is_some() || cfg.process.is_some();
    std::thread::scope(|s| {
        // Owners are read from /proc while the kernel dumps the sockets.
        let owners = owners_wanted.then(|| s.spawn(OwnerMap::scan));
        let listing = list_sockets(cfg)?;
        Ok(attribute(
            cfg,
            listing,
            owners.map(|h| h.join().unwrap_or_default()),
        ))
    })
}

fn list_sockets(cfg: &LsConfig) -> Result<Listing, LsError> {
    let listing = match &cfg.netns {
        NetnsChoice::Current => {
            let mut l = list_here(cfg)?;
            let label = current_netns();
            for r in &mut l.rows {
                r.netns = label.clone();
            }
            l
        }
        NetnsChoice::Named(name) => {
            let path = Path::new("/run/netns").join(name);
            let file = File::open(&path).map_err(|e| LsError::NoSuchNetns(name.clone(), e))?;
            in_netns(file, name.clone(), cfg)?
        }
        NetnsChoice::All => {
            let mut all: Option<Listing> = None;
            for (label, file) in every_netns() {
                let l = in_netns(file, label, cfg)?;
                match &mut all {
                    None => all = Some(l),
                    Some(a) => {
                        a.rows.extend(l.rows);
                        a.malformed_lines += l.malformed_lines;
                        if l.source != TableSource::Netlink {
                            a.source = l.source;
                        }
                    }
                }
            }
            all.unwrap_or(Listing {
                rows: Vec::new(),
                source: TableSource::Netlink,
                uninspectable_processes: None,
                unowned_sockets: None,
                malformed_lines: 0,
            })
        }
    };
    Ok(listing)
}

/// Owners, the filters the kernel does not apply, and names.
fn attribute(cfg: &LsConfig, mut listing: Listing, owners: Option<OwnerMap>) -> Listing {
    if let Some(map) = owners {
        // Inodes are unique across namespaces: one scan serves them all.
        for r in &mut listing.rows {
            if let Some(o) = map.by_inode.get(&r.inode) {
                r.owners = o.clone();
            }
        }
        listing.uninspectable_processes = Some(map.uninspectable);
    }
    listing.rows.retain(|r| selected(cfg, r));
    if listing.uninspectable_processes.is_some() {
        listing.unowned_sockets =
            Some(listing.rows.iter().filter(|r| r.owners.is_empty()).count() as u64);
    }
    if cfg.resolve {
        resolve::resolve(&mut listing.rows);
    }
    listing
}

/// The filters the kernel does not apply.
fn selected(cfg: &LsConfig, r: &SocketRow) -> bool {
    if cfg.filter.as_ref().is_some_and(|f| !f.matches(r)) {
        return false;
    }
    let (lp, rp) = (r.local_port, r.remote_port);
    let inet = r.family != Family::Unix;
    if let Some(p) = cfg.port {
        if !inet || (lp != Some(p) && rp != Some(p)) {
            return false;
        }
    }
    if cfg.sport.is_some() && (!inet || lp != cfg.sport) {
        return false;
    }
    if cfg.dport.is_some() && (!inet || rp != cfg.dport) {
        return false;
    }
    if let Some(pid) = cfg.pid {
        if !r.owners.iter().any(|o| o.pid == pid) {
            return false;
        }
    }
    if let Some(name) = &cfg.process {
        if !r.owners.iter().any(|o| &o.process == name) {
            return false;
        }
    }
    true
}

/// The label of the namespace this thread is in (`net:[4026531840]`).
fn current_netns() -> Option<String> {
    fs::read_link("/proc/thread-self/ns/net")
        .ok()
        .map(|p| p.to_string_lossy().into_owned())
}

/// Lists in the namespace `file` refers to, from a thread that enters it
/// (setns moves only the calling thread).
fn in_netns(file: File, label: String, cfg: &LsConfig) -> Result<Listing, LsError> {
    std::thread::scope(|s| {
        s.spawn(|| {
            enter_netns(&file).map_err(|e| LsError::Setns(label.clone(), e))?;
            let mut l = list_here(cfg)?;
            for r in &mut l.rows {
                r.netns = Some(label.clone());
            }
            Ok(l)
        })
        .join()
        .unwrap_or_else(|_| Err(LsError::Read(io::Error::other("namespace thread panicked"))))
    })
}

#[allow(unsafe_code)]
fn enter_netns(file: &File) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: setns on a valid open descriptor; it affects only this
    // thread, which exits after listing.
    let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Every distinct network namespace: the named ones under /run/netns
/// (labelled by name) and those of running processes (labelled
/// `net:[INODE]`), each once.
fn every_netns() -> Vec<(String, File)> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    let mut names: Vec<_> = fs::read_dir("/run/netns")
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    names.sort();
    for p in names {
        if let (Ok(f), Some(name)) = (File::open(&p), p.file_name()) {
            if let Ok(m) = f.metadata() {
                if seen.insert((m.dev(), m.ino())) {
                    out.push((name.to_string_lossy().into_owned(), f));
                }
            }
        }
    }
    let mut pids: Vec<u32> = fs::read_dir("/proc")
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    pids.sort_unstable();
    for pid in pids {
        let p = format!("/proc/{pid}/ns/net");
        let Ok(f) = File::open(&p) else { continue };
        let Ok(m) = f.metadata() else { continue };
        if seen.insert((m.dev(), m.ino())) {
            out.push((format!("net:[{}]", m.ino()), f));
        }
    }
    out
}

/// The (family, protocol) dumps `cfg` asks for.
fn inet_tables(cfg: &LsConfig) -> Vec<(Family, SockProto)> {
    let mut t = Vec::new();
    for (on, proto) in [
        (cfg.tcp, SockProto::Tcp),
        (cfg.udp, SockProto::Udp),
        (cfg.raw, SockProto::Raw),
    ] {
        if !on {
            continue;
        }
        if cfg.v4 {
            t.push((Family::Inet, proto));
        }
        if cfg.v6 {
            t.push((Family::Inet6, proto));
        }
    }
    t
}

/// Lists in the namespace of the calling thread.
fn list_here(cfg: &LsConfig) -> Result<Listing, LsError> {
    if !cfg.force_proc {
        match list_netlink(cfg) {
            Ok((rows, partial)) => {
                return Ok(Listing {
                    rows,
                    source: match partial {
                        None => TableSource::Netlink,
                        Some(why) => TableSource::Partial(why),
                    },
                    uninspectable_processes: None,
                    unowned_sockets: None,
                    malformed_lines: 0,
                })
            }
            Err(e) => return list_proc(cfg, format!("netlink sock_diag unavailable: {e}")),
        }
    }
    list_proc(cfg, "asked for /proc/net".to_string())
}

/// Rows from netlink, and the tables that had to come from /proc/net
/// instead (a kernel without the raw_diag module answers ENOENT for raw
/// sockets; ss falls back the same way).
fn list_netlink(cfg: &LsConfig) -> io::Result<(Vec<SocketRow>, Option<String>)> {
    let mut diag = Diag::open()?;
    let mut rows = Vec::new();
    let mut from_proc = None;
    let extras = Extras {
        tcp_info: cfg.info,
        mem: cfg.mem,
    };
    for (family, proto) in inet_tables(cfg) {
        match diag.inet(family, proto, cfg.states, extras, &mut rows) {
            Ok(()) => {}
            // raw_diag is a module that may be absent: read that table from
            // /proc/net as ss does (its unreadable lines are counted only by
            // the full fallback).
            Err(e) if proto == SockProto::Raw && e.raw_os_error() == Some(libc::ENOENT) => {
                proc_inet_table(family, proto, cfg.states, &mut rows).map_err(|e| match e {
                    LsError::Read(e) => e,
                    other => io::Error::other(other.to_string()),
                })?;
                from_proc = Some(
                    "raw sockets from /proc/net: the kernel has no raw_diag (ENOENT)".to_string(),
                );
            }
            Err(e) => return Err(e),
        }
    }
    if cfg.unix {
        diag.unix(cfg.states, &mut rows)?;
    }
    Ok((rows, from_proc))
}

/// Adds the sockets in `states` of one `/proc/net/{tcp,udp,raw}[6]` table
/// (absent: none); returns its unreadable lines.
fn proc_inet_table(
    family: Family,
    proto: SockProto,
    states: StateSet,
    rows: &mut Vec<SocketRow>,
) -> Result<u64, LsError> {
    let name = match proto {
        SockProto::Tcp => "tcp",
        SockProto::Udp => "udp",
        _ => "raw",
    };
    let suffix = if family == Family::Inet6 { "6" } else { "" };
    // thread-self: the namespace of this thread, which may have entered
    // another one.
    let path = format!("/proc/thread-self/net/{name}{suffix}");
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => {
            return Err(LsError::Read(io::Error::new(
                e.kind(),
                format!("{path}: {e}"),
            )))
        }
    };
    let (r, bad) = procnet::parse_inet(&text, proto, family);
    rows.extend(r.into_iter().filter(|r| states.contains(r.state)));
    Ok(bad)
}

fn list_proc(cfg: &LsConfig, reason: String) -> Result<Listing, LsError> {
    let mut rows = Vec::new();
    let mut bad = 0;
    for (family, proto) in inet_tables(cfg) {
        bad += proc_inet_table(family, proto, cfg.states, &mut rows)?;
    }
    if cfg.unix {
        let path = "/proc/thread-self/net/unix";
        let text = fs::read_to_string(path)
            .map_err(|e| LsError::Read(io::Error::new(e.kind(), format!("{path}: {e}"))))?;
        let (r, b) = procnet::parse_unix(&text);
        rows.extend(r.into_iter().filter(|r| cfg.states.contains(r.state)));
        bad += b;
    }
    Ok(Listing {
        rows,
        source: TableSource::Proc(reason),
        uninspectable_processes: None,
        unowned_sockets: None,
        malformed_lines: bad,
    })
}
