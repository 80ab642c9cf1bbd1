//! One hermetic way to run the real `sockscope` binary: a cleared
//! environment, the crate root as working directory (so relative capture
//! paths, and the file names in the output, are the same everywhere), and a
//! fixed table width.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::schema::Rec;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Public captures from other projects' test suites (`captures/public`,
/// provenance in its MANIFEST.tsv).
pub fn conformance(name: &str) -> String {
    format!("captures/public/{name}")
}

pub fn conformance_dir() -> PathBuf {
    root().join("captures/public")
}

pub fn capture(name: &str) -> String {
    format!("captures/{name}")
}

pub struct Run {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn sockscope(args: &[&str]) -> Run {
    sockscope_with_stdin(args, None)
}

pub fn sockscope_with_stdin(args: &[&str], stdin: Option<&Path>) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sockscope"));
    cmd.args(args)
        .current_dir(root())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("TZ", "UTC")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    match stdin {
        Some(p) => {
            cmd.stdin(std::fs::File::open(root().join(p)).expect("stdin file"));
        }
        None => {
            cmd.stdin(Stdio::null());
        }
    }
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().expect("run sockscope");
    Run {
        status: status.code().unwrap_or(-1),
        stdout: String::from_utf8(stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(stderr).expect("stderr is UTF-8"),
    }
}

/// `sockscope replay FILE --format json [extra…]`, every line parsed with the
/// test-side schema (unknown fields are errors).
pub fn replay_json(file: &str, extra: &[&str]) -> (Vec<Rec>, Run) {
    let mut args = vec!["replay", file, "--format", "json"];
    args.extend_from_slice(extra);
    let run = sockscope(&args);
    let recs = run
        .stdout
        .lines()
        .map(|l| {
            serde_json::from_str::<Rec>(l).unwrap_or_else(|e| panic!("{file}: bad record {l}: {e}"))
        })
        .collect();
    (recs, run)
}

/// Runs an external tool if it is installed; `None` otherwise.
pub fn tool(program: &str, args: &[&str]) -> Option<Output> {
    Command::new(program)
        .args(args)
        .current_dir(root())
        .output()
        .ok()
}

/// Whether the tests run as root (effective uid 0, from /proc/self/status).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

/// The system python: root's PATH may lead to one an unprivileged user
/// cannot run (pyenv shims), and python3-websockets is installed for it.
pub fn python() -> &'static str {
    ["/usr/bin/python3", "/usr/local/bin/python3"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .unwrap_or("python3")
}

/// A copy of the binary any user can run (the build directory may not be
/// readable by `nobody`), removed on drop.
pub struct PublicBinary {
    dir: PathBuf,
    pub path: PathBuf,
}

impl PublicBinary {
    pub fn new(tag: &str) -> PublicBinary {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("sockscope-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("sockscope");
        std::fs::copy(env!("CARGO_BIN_EXE_sockscope"), &path).unwrap();
        for p in [&dir, &path] {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        PublicBinary { dir, path }
    }
}

impl Drop for PublicBinary {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
