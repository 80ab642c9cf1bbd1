//! `ls --tree`: each listening TCP socket with the connections accepted
//! from it. The kernel does not record which listener a connection came
//! from; an accepted connection is recognised as ss users recognise it by
//! eye — same namespace, same local port, the listener's address or a
//! wildcard listener, and (when owners are known) a common owner.

use std::collections::HashMap;

use super::{SockProto, SockState, SocketRow};

/// One listener (an index into the rows) and its connections.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListenerGroup {
    pub listener: usize,
    pub conns: Vec<usize>,
}

impl ListenerGroup {
    /// Connections per state, in the kernel's state order.
    pub fn state_counts(&self, rows: &[SocketRow]) -> Vec<(SockState, u64)> {
        let mut counts: Vec<(SockState, u64)> = Vec::new();
        for &i in &self.conns {
            let s = rows[i].state;
            match counts.iter_mut().find(|(c, _)| *c == s) {
                Some((_, n)) => *n += 1,
                None => counts.push((s, 1)),
            }
        }
        counts.sort();
        counts
    }
}

/// The rows, grouped.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tree {
    pub groups: Vec<ListenerGroup>,
    /// Rows neither listening nor accepted from a listener listed here.
    pub others: Vec<usize>,
}

fn is_listener(r: &SocketRow) -> bool {
    r.proto == SockProto::Tcp && r.state == SockState::LISTEN
}

/// Whether `conn` could have been accepted from `lst`, and how well it
/// fits (an exact address beats a wildcard).
fn fit(lst: &SocketRow, conn: &SocketRow) -> Option<u8> {
    if lst.netns != conn.netns || lst.family != conn.family || lst.local_port != conn.local_port {
        return None;
    }
    // Owners decide only when both are known: a TIME-WAIT socket has none.
    if !lst.owners.is_empty()
        && !conn.owners.is_empty()
        && !conn
            .owners
            .iter()
            .any(|c| lst.owners.iter().any(|l| l.pid == c.pid))
    {
        return None;
    }
    match (lst.local_ip, conn.local_ip) {
        (Some(l), Some(c)) if l == c => Some(2),
        (Some(l), Some(_)) if l.is_unspecified() => Some(1),
        (None, _) => Some(1),
        _ => None,
    }
}

/// Groups `rows` by listener (listeners in row order; connections keep
/// their order).
pub fn group(rows: &[SocketRow]) -> Tree {
    let mut tree = Tree::default();
    // Listeners by local port: a host rarely has more than a few per port.
    let mut by_port: HashMap<Option<u16>, Vec<usize>> = HashMap::new();
    for (i, r) in rows.iter().enumerate() {
        if is_listener(r) {
            by_port
                .entry(r.local_port)
                .or_default()
                .push(tree.groups.len());
            tree.groups.push(ListenerGroup {
                listener: i,
                conns: Vec::new(),
            });
        }
    }
    for (i, r) in rows.iter().enumerate() {
        if is_listener(r) {
            continue;
        }
        let best = if r.proto == SockProto::Tcp {
            by_port.get(&r.local_port).and_then(|gs| {
                gs.iter()
                    .filter_map(|&g| fit(&rows[tree.groups[g].listener], r).map(|f| (f, g)))
                    // Best fit; among equals the first listener.
                    .max_by_key(|&(f, g)| (f, std::cmp::Reverse(g)))
                    .map(|(_, g)| g)
            })
        } else {
            None
        };
        match best {
            Some(g) => tree.groups[g].conns.push(i),
            None => tree.others.push(i),
        }
    }
    tree
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sockets::{Family, Owner};

    fn tcp(state: SockState, local: &str, lport: u16, remote: &str, rport: u16) -> SocketRow {
        let mut r = SocketRow::new(SockProto::Tcp, Family::Inet, state);
        r.local_ip = Some(local.parse().unwrap());
        r.local_port = Some(lport);
        r.remote_ip = Some(remote.parse().unwrap());
        r.remote_port = Some(rport);
        r
    }

    fn owned(mut r: SocketRow, pid: u32) -> SocketRow {
        r.owners.push(Owner {
            pid,
            process: "p".into(),
            fd: 3,
        });
        r
    }

    const L: SockState = SockState::LISTEN;
    const E: SockState = SockState::ESTABLISHED;
    const TW: SockState = SockState::TIME_WAIT;

    #[test]
    fn accepted_connections_go_to_their_listener() {
        let rows = vec![
            owned(tcp(L, "0.0.0.0", 8080, "0.0.0.0", 0), 10),
            owned(tcp(L, "127.0.0.1", 9090, "0.0.0.0", 0), 20),
            owned(tcp(E, "10.0.0.1", 8080, "10.0.0.2", 5000), 10),
            tcp(TW, "127.0.0.1", 8080, "127.0.0.1", 5001),
            owned(tcp(E, "127.0.0.1", 9090, "127.0.0.1", 5002), 20),
            // An outgoing connection: its local port is no listener's.
            owned(tcp(E, "127.0.0.1", 5003, "127.0.0.1", 9090), 30),
        ];
        let t = group(&rows);
        assert_eq!(
            t.groups,
            vec![
                ListenerGroup {
                    listener: 0,
                    conns: vec![2, 3]
                },
                ListenerGroup {
                    listener: 1,
                    conns: vec![4]
                },
            ]
        );
        assert_eq!(t.others, vec![5]);
        assert_eq!(t.groups[0].state_counts(&rows), vec![(E, 1), (TW, 1)]);
    }

    #[test]
    fn exact_address_and_owner_decide_between_listeners() {
        let rows = vec![
            owned(tcp(L, "0.0.0.0", 80, "0.0.0.0", 0), 1),
            owned(tcp(L, "127.0.0.1", 80, "0.0.0.0", 0), 2),
            // SO_REUSEPORT: two processes on the same address.
            owned(tcp(L, "10.0.0.1", 80, "0.0.0.0", 0), 3),
            owned(tcp(L, "10.0.0.1", 80, "0.0.0.0", 0), 4),
            owned(tcp(E, "127.0.0.1", 80, "127.0.0.1", 1000), 2),
            owned(tcp(E, "10.0.0.1", 80, "10.0.0.9", 1001), 4),
            owned(tcp(E, "10.0.0.2", 80, "10.0.0.9", 1002), 1),
            // Owned by nobody's listener on that address: not grouped.
            owned(tcp(E, "127.0.0.1", 80, "127.0.0.1", 1003), 99),
        ];
        let t = group(&rows);
        let conns: Vec<_> = t.groups.iter().map(|g| g.conns.clone()).collect();
        assert_eq!(conns, vec![vec![6], vec![4], vec![], vec![5]]);
        assert_eq!(t.others, vec![7]);
    }

    #[test]
    fn namespaces_and_families_are_kept_apart() {
        let mut a = tcp(L, "0.0.0.0", 80, "0.0.0.0", 0);
        a.netns = Some("a".into());
        let mut c = tcp(E, "127.0.0.1", 80, "127.0.0.1", 1000);
        c.netns = Some("b".into());
        let mut v6 = SocketRow::new(SockProto::Tcp, Family::Inet6, E);
        v6.local_ip = Some("::1".parse().unwrap());
        v6.local_port = Some(80);
        let t = group(&[a, c, v6]);
        assert!(t.groups[0].conns.is_empty());
        assert_eq!(t.others, vec![1, 2]);
    }
}
