//! `ls --watch`: what changed between two listings. A socket is the same
//! socket from one refresh to the next when its identity is: a connected
//! inet socket by its namespace, protocol and 4-tuple (so ESTAB becoming
//! TIME-WAIT, which loses its inode, is a state change, not a new socket);
//! any other socket by its inode as well.

use std::collections::HashMap;
use std::net::IpAddr;

use super::{Family, SockProto, SockState, SocketRow};

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Identity {
    netns: Option<String>,
    proto: SockProto,
    local: (Option<IpAddr>, Option<u16>),
    remote: (Option<IpAddr>, Option<u16>),
    path: Option<String>,
    inode: u64,
}

fn identity(r: &SocketRow) -> Identity {
    let connected_inet = r.family != Family::Unix && r.remote_port.is_some_and(|p| p != 0);
    Identity {
        netns: r.netns.clone(),
        proto: r.proto,
        local: (r.local_ip, r.local_port),
        remote: (r.remote_ip, r.remote_port),
        path: r.unix_path.clone(),
        inode: if connected_inet { 0 } else { r.inode },
    }
}

/// How a row of the current listing differs from the previous one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    Same,
    Appeared,
    /// Same socket, and the state it had before.
    StateChanged(SockState),
}

/// The difference between two listings.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Changes {
    /// One per row of the current listing.
    pub rows: Vec<Change>,
    /// Sockets of the previous listing that are gone.
    pub vanished: Vec<SocketRow>,
}

impl Changes {
    pub fn appeared(&self) -> usize {
        self.rows.iter().filter(|c| **c == Change::Appeared).count()
    }

    pub fn state_changed(&self) -> usize {
        self.rows
            .iter()
            .filter(|c| matches!(c, Change::StateChanged(_)))
            .count()
    }
}

/// Compares `cur` with `prev`.
pub fn diff(prev: &[SocketRow], cur: &[SocketRow]) -> Changes {
    // Several rows may share an identity (unix sockets without inode in a
    // /proc fallback): match them one to one.
    let mut before: HashMap<Identity, Vec<usize>> = HashMap::with_capacity(prev.len());
    for (i, r) in prev.iter().enumerate().rev() {
        before.entry(identity(r)).or_default().push(i);
    }
    let mut matched = vec![false; prev.len()];
    let rows = cur
        .iter()
        .map(|r| match before.get_mut(&identity(r)).and_then(Vec::pop) {
            Some(i) => {
                matched[i] = true;
                if prev[i].state == r.state {
                    Change::Same
                } else {
                    Change::StateChanged(prev[i].state)
                }
            }
            None => Change::Appeared,
        })
        .collect();
    let vanished = prev
        .iter()
        .zip(&matched)
        .filter(|(_, m)| !**m)
        .map(|(r, _)| r.clone())
        .collect();
    Changes { rows, vanished }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(state: SockState, lport: u16, rport: u16, inode: u64) -> SocketRow {
        let mut r = SocketRow::new(SockProto::Tcp, Family::Inet, state);
        r.local_ip = Some("127.0.0.1".parse().unwrap());
        r.local_port = Some(lport);
        r.remote_ip = Some("127.0.0.1".parse().unwrap());
        r.remote_port = Some(rport);
        r.inode = inode;
        r
    }

    #[test]
    fn appeared_vanished_and_state_changes() {
        let prev = vec![
            tcp(SockState::LISTEN, 80, 0, 100),
            tcp(SockState::ESTABLISHED, 80, 5000, 101),
            tcp(SockState::ESTABLISHED, 80, 5001, 102),
        ];
        let cur = vec![
            tcp(SockState::LISTEN, 80, 0, 100),
            // Closed: TIME-WAIT keeps the 4-tuple but not the inode.
            tcp(SockState::TIME_WAIT, 80, 5000, 0),
            tcp(SockState::ESTABLISHED, 80, 5002, 103),
        ];
        let c = diff(&prev, &cur);
        assert_eq!(
            c.rows,
            vec![
                Change::Same,
                Change::StateChanged(SockState::ESTABLISHED),
                Change::Appeared
            ]
        );
        assert_eq!(c.vanished, vec![prev[2].clone()]);
        assert_eq!((c.appeared(), c.state_changed()), (1, 1));
    }

    #[test]
    fn a_new_listener_on_the_same_port_is_a_new_socket() {
        let prev = vec![tcp(SockState::LISTEN, 80, 0, 100)];
        let cur = vec![tcp(SockState::LISTEN, 80, 0, 200)];
        let c = diff(&prev, &cur);
        assert_eq!(c.rows, vec![Change::Appeared]);
        assert_eq!(c.vanished.len(), 1);
    }

    #[test]
    fn nothing_changed() {
        let rows = vec![tcp(SockState::ESTABLISHED, 1, 2, 3)];
        let c = diff(&rows, &rows);
        assert_eq!(c.rows, vec![Change::Same]);
        assert!(c.vanished.is_empty());
    }
}
