//! The fallback when netlink sock_diag is unavailable: the text tables in
//! `/proc/net/{tcp,tcp6,udp,udp6,raw,raw6,unix}` (what netstat reads).
//! Malformed lines are skipped and counted, never guessed at.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{Family, SockProto, SockState, SocketRow, UnixKind};

/// Parses one `/proc/net/{tcp,udp,raw}[6]` table; returns the rows and the
/// number of lines that could not be read.
pub fn parse_inet(text: &str, proto: SockProto, family: Family) -> (Vec<SocketRow>, u64) {
    let mut rows = Vec::new();
    let mut bad = 0;
    for line in text.lines().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        match inet_line(line, proto, family) {
            Some(r) => rows.push(r),
            None => bad += 1,
        }
    }
    (rows, bad)
}

fn inet_line(line: &str, proto: SockProto, family: Family) -> Option<SocketRow> {
    let mut f = line.split_whitespace();
    let _sl = f.next()?;
    let (lip, lport) = endpoint(f.next()?, family)?;
    let (rip, rport) = endpoint(f.next()?, family)?;
    let st = u8::from_str_radix(f.next()?, 16).ok()?;
    let (tx, rx) = f.next()?.split_once(':')?;
    let _timer = f.next()?;
    let _retr = f.next()?;
    let uid: u32 = f.next()?.parse().ok()?;
    let _timeout = f.next()?;
    let inode: u64 = f.next()?.parse().ok()?;
    let mut row = SocketRow::new(proto, family, SockState(st));
    row.local_ip = Some(lip);
    row.local_port = Some(lport);
    row.remote_ip = Some(rip);
    row.remote_port = Some(rport);
    row.send_q = u32::from_str_radix(tx, 16).ok()?;
    row.recv_q = u32::from_str_radix(rx, 16).ok()?;
    row.uid = Some(uid);
    row.inode = inode;
    Some(row)
}

/// `0100007F:0277`: the address as the kernel's `%08X` of each 32-bit word
/// in memory order (so the bytes of each word are native-endian), the port
/// in host order.
fn endpoint(s: &str, family: Family) -> Option<(IpAddr, u16)> {
    let (addr, port) = s.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let ip = match (family, addr.len()) {
        (Family::Inet, 8) => {
            let w = u32::from_str_radix(addr, 16).ok()?;
            IpAddr::V4(Ipv4Addr::from(w.to_ne_bytes()))
        }
        (Family::Inet6, 32) => {
            let mut b = [0u8; 16];
            for i in 0..4 {
                let w = u32::from_str_radix(addr.get(i * 8..i * 8 + 8)?, 16).ok()?;
                b[i * 4..i * 4 + 4].copy_from_slice(&w.to_ne_bytes());
            }
            IpAddr::V6(Ipv6Addr::from(b))
        }
        _ => return None,
    };
    Some((ip, port))
}

/// Parses `/proc/net/unix`.
pub fn parse_unix(text: &str) -> (Vec<SocketRow>, u64) {
    let mut rows = Vec::new();
    let mut bad = 0;
    for line in text.lines().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        match unix_line(line) {
            Some(r) => rows.push(r),
            None => bad += 1,
        }
    }
    (rows, bad)
}

fn unix_line(line: &str) -> Option<SocketRow> {
    let mut f = line.split_whitespace();
    let _num = f.next()?;
    let _refs = f.next()?;
    let _proto = f.next()?;
    let flags = u32::from_str_radix(f.next()?, 16).ok()?;
    let kind = match u16::from_str_radix(f.next()?, 16).ok()? {
        1 => UnixKind::Stream,
        2 => UnixKind::Dgram,
        5 => UnixKind::Seqpacket,
        _ => return None,
    };
    let st = u8::from_str_radix(f.next()?, 16).ok()?;
    let inode: u64 = f.next()?.parse().ok()?;
    let path = f.next().map(str::to_string);
    const ACCEPTCON: u32 = 1 << 16;
    let state = if flags & ACCEPTCON != 0 {
        SockState::LISTEN
    } else if st == 3 {
        SockState::ESTABLISHED
    } else {
        SockState::CLOSE
    };
    let mut row = SocketRow::new(SockProto::Unix(kind), Family::Unix, state);
    row.inode = inode;
    row.unix_path = path;
    Some(row)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000003 00:00000000 00000000     0        0 31337 1 0000000000000000 100 0 0 10 0
   1: 0100007F:1F90 0100007F:A2C4 01 00000010:00000000 00:00000000 00000000  1000        0 31338 1 0000000000000000 20 4 30 10 -1
   2: garbage
";

    #[test]
    fn tcp_table() {
        let (rows, bad) = parse_inet(TCP, SockProto::Tcp, Family::Inet);
        assert_eq!(bad, 1);
        assert_eq!(rows.len(), 2);
        let l = &rows[0];
        assert_eq!(l.state, SockState::LISTEN);
        assert_eq!(l.local_ip, Some("127.0.0.1".parse().unwrap()));
        assert_eq!(l.local_port, Some(8080));
        assert_eq!(l.recv_q, 3);
        assert_eq!(l.inode, 31337);
        let e = &rows[1];
        assert_eq!(e.state, SockState::ESTABLISHED);
        assert_eq!(e.remote_port, Some(0xa2c4));
        assert_eq!(e.send_q, 16);
        assert_eq!(e.uid, Some(1000));
    }

    #[test]
    fn tcp6_addresses() {
        let t = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 555 1 0000000000000000 100 0 0 10 0
   1: 0000000000000000FFFF00000100007F:0016 0000000000000000FFFF00000100007F:C000 01 00000000:00000000 00:00000000 00000000     0        0 556 1 0000000000000000 100 0 0 10 0
";
        let (rows, bad) = parse_inet(t, SockProto::Tcp, Family::Inet6);
        assert_eq!(bad, 0);
        assert_eq!(rows[0].local_ip, Some("::1".parse().unwrap()));
        assert_eq!(rows[0].local_port, Some(22));
        assert_eq!(rows[1].local_ip, Some("::ffff:127.0.0.1".parse().unwrap()));
    }

    #[test]
    fn unix_table() {
        let t = "Num       RefCount Protocol Flags    Type St Inode Path
0000000000000000: 00000002 00000000 00010000 0001 01 2001 /run/app.sock
0000000000000000: 00000003 00000000 00000000 0001 03 2002
0000000000000000: 00000002 00000000 00000000 0002 01 2003 @abstract
0000000000000000: 00000002 00000000 00000000 0009 01 2004
";
        let (rows, bad) = parse_unix(t);
        assert_eq!(bad, 1);
        assert_eq!(rows[0].state, SockState::LISTEN);
        assert_eq!(rows[0].unix_path.as_deref(), Some("/run/app.sock"));
        assert_eq!(rows[1].state, SockState::ESTABLISHED);
        assert_eq!(rows[2].proto, SockProto::Unix(UnixKind::Dgram));
        assert_eq!(rows[2].unix_path.as_deref(), Some("@abstract"));
    }
}
