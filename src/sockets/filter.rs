//! ss's filter expressions, the part that fits a socket list: ports and
//! addresses of either end, combined with and/or/not and parentheses.
//!
//! ```text
//! sockscope ls -t -a '( dport = :443 or sport = :443 )'
//! sockscope ls 'dst 10.0.0.0/8 and not sport < :1024'
//! ```
//!
//! Primitives: `sport`/`dport` with `=`/`==`/`eq`, `!=`/`ne`, `<`/`lt`,
//! `<=`/`le`, `>`/`gt`, `>=`/`ge` (default `=`) and a port (`:443`, `443`,
//! or a service name from /etc/services); `src`/`dst` with an address,
//! `ADDR/PREFIX`, `ADDR:PORT` or `[V6]:PORT`, `*` for any. Juxtaposed terms
//! are and-ed, as in ss. Parentheses and `not`s nest at most [`MAX_DEPTH`]
//! deep (deeper would exhaust the stack); and/or chains are flat lists.

use std::net::IpAddr;

use super::{Family, SocketRow};

#[derive(Clone, Debug, PartialEq)]
pub enum Filter {
    Port {
        local: bool,
        op: Op,
        port: u16,
    },
    Addr {
        local: bool,
        net: Option<(IpAddr, u8)>,
        port: Option<u16>,
    },
    Not(Box<Filter>),
    And(Vec<Filter>),
    Or(Vec<Filter>),
}

/// How deep parentheses and `not`s may nest.
pub const MAX_DEPTH: usize = 100;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// A parse error: the word where it happened (and its column, counted in
/// characters from 1; none at the end) and what was expected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilterError {
    pub at: String,
    pub column: Option<usize>,
    pub message: String,
}

impl std::fmt::Display for FilterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.column {
            Some(c) => write!(
                f,
                "filter expression, at column {c} `{}`: {}",
                self.at, self.message
            ),
            None => write!(f, "filter expression, at the end: {}", self.message),
        }
    }
}

impl std::error::Error for FilterError {}

/// Words, parentheses and runs of operator characters (`>=`, `!=`, `!`),
/// each with the column it starts at.
fn tokens(src: &str) -> Vec<(usize, String)> {
    let is_op = |c: char| matches!(c, '=' | '!' | '<' | '>');
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut start = 0;
    for (i, c) in src.chars().enumerate() {
        let col = i + 1;
        let cur_is_op = cur.chars().next().is_some_and(is_op);
        if c == '(' || c == ')' || c.is_whitespace() {
            if !cur.is_empty() {
                out.push((start, std::mem::take(&mut cur)));
            }
            if !c.is_whitespace() {
                out.push((col, c.to_string()));
            }
        } else if is_op(c) != cur_is_op && !cur.is_empty() {
            out.push((start, std::mem::take(&mut cur)));
            start = col;
            cur.push(c);
        } else {
            if cur.is_empty() {
                start = col;
            }
            cur.push(c);
        }
    }
    if !cur.is_empty() {
        out.push((start, cur));
    }
    out
}

struct Parser {
    toks: Vec<(usize, String)>,
    at: usize,
    /// Parentheses and `not`s open around the current token.
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&str> {
        self.toks.get(self.at).map(|(_, t)| t.as_str())
    }

    fn err(&self, message: impl Into<String>) -> FilterError {
        FilterError {
            at: self.peek().unwrap_or("the end").to_string(),
            column: self.toks.get(self.at).map(|(c, _)| *c),
            message: message.into(),
        }
    }

    /// One level deeper; an error past the limit.
    fn deeper(&mut self) -> Result<(), FilterError> {
        if self.depth >= MAX_DEPTH {
            return Err(self.err(format!("nested more than {MAX_DEPTH} deep")));
        }
        self.depth += 1;
        Ok(())
    }

    fn or(&mut self) -> Result<Filter, FilterError> {
        let mut parts = vec![self.and()?];
        while matches!(self.peek(), Some("or" | "||" | "|")) {
            self.at += 1;
            parts.push(self.and()?);
        }
        Ok(if parts.len() == 1 {
            parts.pop().unwrap_or(Filter::And(Vec::new()))
        } else {
            Filter::Or(parts)
        })
    }

    fn and(&mut self) -> Result<Filter, FilterError> {
        let mut parts = vec![self.not()?];
        loop {
            match self.peek() {
                Some("and" | "&&" | "&") => self.at += 1,
                // ss and-s terms written one after another.
                Some(t) if t != ")" && t != "or" && t != "||" && t != "|" => {}
                _ => break,
            }
            parts.push(self.not()?);
        }
        Ok(if parts.len() == 1 {
            parts.pop().unwrap_or(Filter::And(Vec::new()))
        } else {
            Filter::And(parts)
        })
    }

    fn not(&mut self) -> Result<Filter, FilterError> {
        match self.peek() {
            Some("not" | "!") => {
                self.deeper()?;
                self.at += 1;
                let f = self.not()?;
                self.depth -= 1;
                Ok(Filter::Not(Box::new(f)))
            }
            Some("(") => {
                self.deeper()?;
                self.at += 1;
                let f = self.or()?;
                if self.peek() != Some(")") {
                    return Err(self.err("expected `)`"));
                }
                self.at += 1;
                self.depth -= 1;
                Ok(f)
            }
            _ => self.primitive(),
        }
    }

    fn primitive(&mut self) -> Result<Filter, FilterError> {
        let word = self
            .peek()
            .ok_or_else(|| self.err("expected sport, dport, src or dst"))?
            .to_string();
        match word.as_str() {
            "sport" | "dport" => {
                self.at += 1;
                let op = match self.peek() {
                    Some("=" | "==" | "eq") => Op::Eq,
                    Some("!=" | "ne" | "neq") => Op::Ne,
                    Some("<" | "lt") => Op::Lt,
                    Some("<=" | "le") => Op::Le,
                    Some(">" | "gt") => Op::Gt,
                    Some(">=" | "ge") => Op::Ge,
                    _ => {
                        let port = self.port()?;
                        return Ok(Filter::Port {
                            local: word == "sport",
                            op: Op::Eq,
                            port,
                        });
                    }
                };
                self.at += 1;
                let port = self.port()?;
                Ok(Filter::Port {
                    local: word == "sport",
                    op,
                    port,
                })
            }
            "src" | "dst" => {
                self.at += 1;
                if matches!(self.peek(), Some("=" | "==" | "eq")) {
                    self.at += 1;
                }
                let (net, port) = self.address()?;
                Ok(Filter::Addr {
                    local: word == "src",
                    net,
                    port,
                })
            }
            _ => Err(self.err("expected sport, dport, src, dst, not or `(`")),
        }
    }

    fn port(&mut self) -> Result<u16, FilterError> {
        let Some(t) = self.peek() else {
            return Err(self.err("expected a port (`:443`, `443` or a service name)"));
        };
        let p = parse_port(t.trim_start_matches(':'))
            .ok_or_else(|| self.err("not a port number or a service in /etc/services"))?;
        self.at += 1;
        Ok(p)
    }

    #[allow(clippy::type_complexity)]
    fn address(&mut self) -> Result<(Option<(IpAddr, u8)>, Option<u16>), FilterError> {
        let Some(t) = self.peek().map(str::to_string) else {
            return Err(self.err("expected an address (10.0.0.1, 10.0.0.0/8, [::1]:22, *:80)"));
        };
        let bad = || self.err("expected an address (10.0.0.1, 10.0.0.0/8, [::1]:22, *:80)");
        // Split off a port: `[v6]:p`, `v4:p`, `*:p`.
        let (host, port) = if let Some(rest) = t.strip_prefix('[') {
            let (h, after) = rest.split_once(']').ok_or_else(bad)?;
            let port = match after.strip_prefix(':') {
                Some(p) => Some(parse_port(p).ok_or_else(bad)?),
                None if after.is_empty() => None,
                None => return Err(bad()),
            };
            (h.to_string(), port)
        } else if t.matches(':').count() == 1 {
            let (h, p) = t.split_once(':').unwrap_or_default();
            (h.to_string(), Some(parse_port(p).ok_or_else(bad)?))
        } else {
            (t.clone(), None)
        };
        let net = if host == "*" || host.is_empty() {
            None
        } else {
            let (ip, len) = match host.split_once('/') {
                Some((ip, len)) => (ip, Some(len.parse::<u8>().map_err(|_| bad())?)),
                None => (host.as_str(), None),
            };
            let ip: IpAddr = ip.parse().map_err(|_| bad())?;
            let max = if ip.is_ipv4() { 32 } else { 128 };
            let len = len.unwrap_or(max);
            if len > max {
                return Err(bad());
            }
            Some((ip, len))
        };
        self.at += 1;
        Ok((net, port))
    }
}

/// A port number, or a service name from /etc/services.
fn parse_port(s: &str) -> Option<u16> {
    if let Ok(n) = s.parse() {
        return Some(n);
    }
    if s.is_empty() || !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return None;
    }
    let services = std::fs::read_to_string("/etc/services").ok()?;
    services.lines().find_map(|l| {
        let l = l.split('#').next()?;
        let mut f = l.split_whitespace();
        let name = f.next()?;
        let port = f.next()?.split('/').next()?.parse().ok()?;
        (name == s || f.any(|alias| alias == s)).then_some(port)
    })
}

/// Parses an ss filter expression.
pub fn parse(src: &str) -> Result<Filter, FilterError> {
    let mut p = Parser {
        toks: tokens(src),
        at: 0,
        depth: 0,
    };
    if p.toks.is_empty() {
        return Err(p.err("empty filter"));
    }
    let f = p.or()?;
    if p.at < p.toks.len() {
        return Err(p.err("expected and, or, or the end"));
    }
    Ok(f)
}

fn in_net(ip: IpAddr, net: IpAddr, len: u8) -> bool {
    // An IPv4 peer of a dual-stack socket shows as ::ffff:a.b.c.d.
    let ip = match (ip, net) {
        (IpAddr::V6(v6), IpAddr::V4(_)) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => return false,
        },
        _ => ip,
    };
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
            u32::from(a) & mask == u32::from(b) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
            u128::from(a) & mask == u128::from(b) & mask
        }
        _ => false,
    }
}

impl Filter {
    /// Whether `r` passes. Unix sockets have no ports or addresses: the
    /// primitives are false for them.
    pub fn matches(&self, r: &SocketRow) -> bool {
        let inet = r.family != Family::Unix;
        match self {
            Filter::Port { local, op, port } => {
                let Some(p) = (if *local { r.local_port } else { r.remote_port }) else {
                    return false;
                };
                inet && match op {
                    Op::Eq => p == *port,
                    Op::Ne => p != *port,
                    Op::Lt => p < *port,
                    Op::Le => p <= *port,
                    Op::Gt => p > *port,
                    Op::Ge => p >= *port,
                }
            }
            Filter::Addr { local, net, port } => {
                let (ip, p) = if *local {
                    (r.local_ip, r.local_port)
                } else {
                    (r.remote_ip, r.remote_port)
                };
                inet && port.is_none_or(|want| p == Some(want))
                    && net.is_none_or(|(n, len)| ip.is_some_and(|ip| in_net(ip, n, len)))
            }
            Filter::Not(f) => !f.matches(r),
            Filter::And(parts) => parts.iter().all(|f| f.matches(r)),
            Filter::Or(parts) => parts.iter().any(|f| f.matches(r)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sockets::{SockProto, SockState};

    fn row(local: &str, lport: u16, remote: &str, rport: u16) -> SocketRow {
        let mut r = SocketRow::new(SockProto::Tcp, Family::Inet, SockState::ESTABLISHED);
        r.local_ip = Some(local.parse().unwrap());
        r.local_port = Some(lport);
        r.remote_ip = Some(remote.parse().unwrap());
        r.remote_port = Some(rport);
        r
    }

    fn m(f: &str, r: &SocketRow) -> bool {
        parse(f).unwrap_or_else(|e| panic!("{f}: {e}")).matches(r)
    }

    #[test]
    fn ports_addresses_and_logic() {
        let web = row("10.0.0.1", 443, "192.168.1.9", 51000);
        let out = row("10.0.0.1", 40000, "8.8.8.8", 53);
        for (f, a, b) in [
            ("sport = :443", true, false),
            ("( dport = :443 or sport = :443 )", true, false),
            ("dport = :domain", false, true),
            ("sport >= :1024", false, true),
            ("sport>=:1024", false, true),
            ("dport lt 1024", false, true),
            ("not sport = :443", false, true),
            ("!(sport == 443)", false, true),
            ("dst 192.168.0.0/16", true, false),
            ("dst 8.8.8.8:53", false, true),
            ("src *:443", true, false),
            ("src 10.0.0.1 dport = :53", false, true),
            ("src 10.0.0.1 and (dport = :53 || sport = :443)", true, true),
        ] {
            assert_eq!((m(f, &web), m(f, &out)), (a, b), "{f}");
        }
        let v6 = row("::ffff:10.0.0.1", 22, "::1", 5000);
        assert!(
            m("src 10.0.0.0/8", &v6),
            "v4-mapped addresses match v4 networks"
        );
        assert!(m("dst [::1]:5000", &v6));
    }

    #[test]
    fn errors_name_the_word() {
        let e = parse("dport = :nosuchservice").unwrap_err();
        assert_eq!(e.at, ":nosuchservice");
        let e = parse("( sport = :22").unwrap_err();
        assert!(e.message.contains("`)`"), "{e}");
        let e = parse("port 22").unwrap_err();
        assert_eq!(e.at, "port");
        let e = parse("dst 10.0.0.0/40").unwrap_err();
        assert_eq!(e.at, "10.0.0.0/40");
        assert_eq!(
            e.to_string(),
            "filter expression, at column 5 `10.0.0.0/40`: expected an address (10.0.0.1, 10.0.0.0/8, [::1]:22, *:80)"
        );
        assert!(parse("").is_err());
        assert_eq!(
            parse("sport = :22 or").unwrap_err().to_string(),
            "filter expression, at the end: expected sport, dport, src or dst"
        );
    }

    /// Nesting past the limit is an error at the token that goes too deep;
    /// long chains are not nesting.
    #[test]
    fn nesting_is_bounded_and_chains_are_flat() {
        let deep = format!("{}sport = :22{}", "( ".repeat(101), " )".repeat(101));
        let e = parse(&deep).unwrap_err();
        assert_eq!((e.column, e.at.as_str()), (Some(201), "("));
        assert!(e.message.contains("nested more than 100 deep"), "{e}");
        let ok = format!("{}sport = :22{}", "( ".repeat(100), " )".repeat(100));
        assert!(parse(&ok).is_ok());
        let nots = format!("{}sport = :22", "not ".repeat(101));
        assert_eq!(parse(&nots).unwrap_err().column, Some(401));
        let chain = vec!["sport = :22"; 50_000].join(" or ");
        let f = parse(&chain).unwrap();
        assert!(matches!(&f, Filter::Or(v) if v.len() == 50_000));
        let web = row("10.0.0.1", 22, "192.168.1.9", 51000);
        assert!(f.matches(&web));
    }
}
