//! Giving up privileges once the packet socket is open (as tcpdump `-Z`):
//! root switches to an unprivileged user (its groups replaced by that
//! user's group); anyone keeps no capabilities. The open socket and any
//! output file stay usable; nothing new can be opened with privilege, and
//! nothing the process executes can regain any: the capability bounding set
//! is emptied and `no_new_privs` is set (set-user-ID programs and file
//! capabilities then grant nothing on exec).
//!
//! Capabilities and `no_new_privs` belong to a thread, not to the process:
//! this runs before the capture starts its reading thread, which inherits
//! the result.

use std::fs;

/// Whether the process runs as root (then [`drop_to`] switches user).
pub fn is_root() -> bool {
    #[allow(unsafe_code)]
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    euid == 0
}

/// What was given up, for the report; `Err` when it could not be done
/// (then the capture must not go on with privileges it said it would drop).
pub fn drop_to(user: &str) -> Result<String, String> {
    if is_root() {
        let (uid, gid) = lookup(user)?;
        // The bounding set needs CAP_SETPCAP to be changed: while still root.
        clear_bounding_set()?;
        set_ids(uid, gid).map_err(|e| format!("switching to user {user}: {e}"))?;
        // From root to a non-root uid the kernel clears the permitted and
        // effective capabilities; make sure of it.
        clear_caps()?;
        no_new_privs()?;
        Ok(format!(
            "now user {user} (uid {uid}), no capabilities, none to regain"
        ))
    } else {
        // Without CAP_SETPCAP (a binary given only cap_net_raw and
        // cap_net_admin) the bounding set cannot be emptied; no_new_privs
        // still keeps an exec from gaining anything.
        let bounding = caps::has_cap(None, caps::CapSet::Permitted, caps::Capability::CAP_SETPCAP)
            .unwrap_or(false);
        if bounding {
            clear_bounding_set()?;
        }
        clear_caps()?;
        no_new_privs()?;
        Ok(if bounding {
            "capabilities dropped, none to regain".to_string()
        } else {
            "capabilities dropped, no new privileges on exec".to_string()
        })
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
    for set in [
        CapSet::Effective,
        CapSet::Permitted,
        CapSet::Inheritable,
        CapSet::Ambient,
    ] {
        caps::clear(None, set).map_err(|e| format!("dropping capabilities: {e}"))?;
    }
    Ok(())
}

/// Empties the capability bounding set, every capability the kernel has.
/// By number rather than through `caps::clear`, which drops only the
/// capabilities the crate names: a kernel newer than it would keep the rest.
#[allow(unsafe_code)]
fn clear_bounding_set() -> Result<(), String> {
    for cap in 0..64 {
        // SAFETY: prctl with integer arguments; results checked.
        match unsafe { libc::prctl(libc::PR_CAPBSET_READ, cap, 0, 0, 0) } {
            0 => {}
            1 => {
                if unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) } != 0 {
                    return Err(format!(
                        "emptying the capability bounding set (capability {cap}): {}",
                        std::io::Error::last_os_error()
                    ));
                }
            }
            // EINVAL: past the last capability this kernel has.
            _ => break,
        }
    }
    Ok(())
}

/// Sets `no_new_privs`: from now on execve grants nothing (no set-user-ID,
/// no file capabilities), for this thread and every thread it starts.
#[allow(unsafe_code)]
fn no_new_privs() -> Result<(), String> {
    // SAFETY: prctl with integer arguments; the result is checked.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(format!(
            "setting no_new_privs: {}",
            std::io::Error::last_os_error()
        ));
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
