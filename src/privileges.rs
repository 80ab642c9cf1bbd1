//! Giving up privileges once the packet socket is open (as tcpdump `-Z`):
//! root switches to an unprivileged user (its groups replaced by that
//! user's group); anyone keeps no capabilities. The open socket and any
//! output file stay usable; nothing new can be opened with privilege.

use std::fs;

/// What was given up, for the report; `Err` when it could not be done
/// (then the capture must not go on with privileges it said it would drop).
pub fn drop_to(user: &str) -> Result<String, String> {
    #[allow(unsafe_code)]
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    if euid == 0 {
        let (uid, gid) = lookup(user)?;
        set_ids(uid, gid).map_err(|e| format!("switching to user {user}: {e}"))?;
        // From root to a non-root uid the kernel clears the permitted and
        // effective capabilities; make sure of it.
        clear_caps()?;
        Ok(format!("now user {user} (uid {uid}), no capabilities"))
    } else {
        clear_caps()?;
        Ok("capabilities dropped".to_string())
    }
}

/// (uid, gid) of `user` from /etc/passwd.
fn lookup(user: &str) -> Result<(u32, u32), String> {
    let passwd = fs::read_to_string("/etc/passwd").map_err(|e| format!("/etc/passwd: {e}"))?;
    passwd
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() >= 4 && f[0] == user).then(|| Some((f[2].parse().ok()?, f[3].parse().ok()?)))
        })
        .next()
        .flatten()
        .ok_or_else(|| {
            format!("no user `{user}` to switch to (see --user, or --no-drop-privileges)")
        })
}

#[allow(unsafe_code)]
fn set_ids(uid: u32, gid: u32) -> Result<(), std::io::Error> {
    let gids = [gid];
    // SAFETY: plain system calls on integers and a valid one-element array;
    // each result is checked. Order matters: groups and gid while still root.
    unsafe {
        if libc::setgroups(1, gids.as_ptr()) != 0
            || libc::setresgid(gid, gid, gid) != 0
            || libc::setresuid(uid, uid, uid) != 0
        {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

fn clear_caps() -> Result<(), String> {
    use caps::CapSet;
    for set in [CapSet::Effective, CapSet::Permitted, CapSet::Inheritable] {
        caps::clear(None, set).map_err(|e| format!("dropping capabilities: {e}"))?;
    }
    Ok(())
}

/// Whether this process may still capture: any effective capability left.
pub fn has_capabilities() -> bool {
    caps::read(None, caps::CapSet::Effective).is_ok_and(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nobody_exists_and_unknown_users_are_errors() {
        assert_eq!(lookup("root"), Ok((0, 0)));
        assert!(lookup("sockscope-no-such-user")
            .unwrap_err()
            .contains("no user `sockscope-no-such-user`"));
    }
}
