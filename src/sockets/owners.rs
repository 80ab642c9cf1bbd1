//! Which processes hold each socket: `/proc/<pid>/fd/*` links of the form
//! `socket:[INODE]`, as ss does. A process whose fd directory cannot be read
//! (another user's, without CAP_SYS_PTRACE) is counted, never guessed at.

use std::collections::HashMap;
use std::fs;
use std::os::unix::ffi::OsStrExt;

/// One holder of a socket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    pub pid: u32,
    pub process: String,
    pub fd: u32,
}

/// Socket inode → its holders, and how complete that is.
#[derive(Debug, Default)]
pub struct OwnerMap {
    pub by_inode: HashMap<u64, Vec<Owner>>,
    /// Processes whose descriptors could not be read.
    pub uninspectable: u64,
}

impl OwnerMap {
    /// Scans every process under `/proc`. The descriptors are listed
    /// first, then their links read on every core: a readlink per
    /// descriptor is nearly all the cost (ss -p reads them one by one).
    pub fn scan() -> OwnerMap {
        let mut map = OwnerMap::default();
        let Ok(procs) = fs::read_dir("/proc") else {
            return map;
        };
        let mut fds: Vec<(u32, u32)> = Vec::new();
        for p in procs.flatten() {
            let Some(pid) = parse_u32(p.file_name().as_bytes()) else {
                continue;
            };
            let dir = format!("/proc/{pid}/fd");
            let Ok(list) = fs::read_dir(&dir) else {
                // Gone since the listing (not counted) or not ours to read.
                if fs::metadata(format!("/proc/{pid}")).is_ok() {
                    map.uninspectable += 1;
                }
                continue;
            };
            fds.extend(
                list.flatten()
                    .filter_map(|fd| parse_u32(fd.file_name().as_bytes()))
                    .map(|fd| (pid, fd)),
            );
        }
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, 8);
        let chunk = fds.len().div_ceil(threads).max(1024);
        let found: Vec<(u64, u32, u32)> = std::thread::scope(|s| {
            let workers: Vec<_> = fds
                .chunks(chunk)
                .map(|part| s.spawn(move || sockets_of(part)))
                .collect();
            workers
                .into_iter()
                .flat_map(|w| w.join().unwrap_or_default())
                .collect()
        });
        let mut names: std::collections::HashMap<u32, String> = std::collections::HashMap::new();
        for (inode, pid, fd) in found {
            let process = names
                .entry(pid)
                .or_insert_with(|| {
                    fs::read_to_string(format!("/proc/{pid}/comm"))
                        .map(|s| s.trim_end().to_string())
                        .unwrap_or_default()
                })
                .clone();
            map.by_inode
                .entry(inode)
                .or_default()
                .push(Owner { pid, process, fd });
        }
        for owners in map.by_inode.values_mut() {
            owners.sort_by_key(|o| (o.pid, o.fd));
        }
        map
    }
}

/// (inode, pid, fd) of the descriptors in `fds` that are sockets.
fn sockets_of(fds: &[(u32, u32)]) -> Vec<(u64, u32, u32)> {
    let mut out = Vec::new();
    let mut path = String::with_capacity(48);
    for &(pid, fd) in fds {
        path.clear();
        path.push_str("/proc/");
        path.push_str(itoa::Buffer::new().format(pid));
        path.push_str("/fd/");
        path.push_str(itoa::Buffer::new().format(fd));
        let Ok(target) = fs::read_link(&path) else {
            continue;
        };
        if let Some(inode) = socket_inode(target.as_os_str().as_bytes()) {
            out.push((inode, pid, fd));
        }
    }
    out
}

fn parse_u32(b: &[u8]) -> Option<u32> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(b).ok()?.parse().ok()
}

/// The inode of a `socket:[12345]` link target.
pub fn socket_inode(target: &[u8]) -> Option<u64> {
    let rest = target.strip_prefix(b"socket:[")?.strip_suffix(b"]")?;
    if rest.is_empty() || !rest.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(rest).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_links() {
        assert_eq!(socket_inode(b"socket:[4242]"), Some(4242));
        assert_eq!(socket_inode(b"socket:[]"), None);
        assert_eq!(socket_inode(b"pipe:[4242]"), None);
        assert_eq!(socket_inode(b"/dev/null"), None);
        assert_eq!(socket_inode(b"socket:[12x]"), None);
    }

    #[test]
    fn finds_a_socket_of_this_process() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        use std::os::fd::AsRawFd;
        let fd = l.as_raw_fd() as u32;
        let link = fs::read_link(format!("/proc/self/fd/{fd}")).unwrap();
        let inode = socket_inode(link.as_os_str().as_bytes()).unwrap();
        let map = OwnerMap::scan();
        let owners = &map.by_inode[&inode];
        assert!(owners
            .iter()
            .any(|o| o.pid == std::process::id() && o.fd == fd));
    }
}
