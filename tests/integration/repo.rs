//! The repository stands on its own: a clone from a forge has nothing beside
//! it, so no tracked file may point outside it, and the public captures the
//! tests read are the ones their manifest describes.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::util::{conformance_dir, root};

/// Every file of the project: `git ls-files` when this is a git checkout,
/// else every file under the root but build output and git's own.
fn project_files() -> Vec<PathBuf> {
    let root = root();
    if let Ok(out) = std::process::Command::new("git")
        .args(["ls-files", "-z"])
        .current_dir(&root)
        .output()
    {
        if out.status.success() && !out.stdout.is_empty() {
            return out
                .stdout
                .split(|&b| b == 0)
                .filter(|p| !p.is_empty())
                .map(|p| root.join(String::from_utf8_lossy(p).as_ref()))
                .collect();
        }
    }
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            let name = e.file_name();
            if name == ".git" || name == "target" {
                continue;
            }
            if p.is_dir() {
                walk(&p, out);
            } else {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(&root, &mut out);
    out
}

#[test]
fn no_file_reads_outside_the_repository() {
    // Built, not written, so that this file does not name the path itself.
    let outside = format!("..{}shared", '/');
    let files = project_files();
    assert!(files.len() > 100, "only {} files found", files.len());
    let offenders: Vec<String> = files
        .iter()
        .filter(|p| {
            std::fs::read(p)
                .map(|b| b.windows(outside.len()).any(|w| w == outside.as_bytes()))
                .unwrap_or(false)
        })
        .map(|p| p.strip_prefix(root()).unwrap_or(p).display().to_string())
        .collect();
    assert!(
        offenders.is_empty(),
        "files naming {outside} (a clone has nothing beside it): {offenders:?}"
    );
}

#[test]
fn public_captures_match_their_manifest() {
    let dir = conformance_dir();
    let manifest = std::fs::read_to_string(dir.join("MANIFEST.tsv")).expect("MANIFEST.tsv");
    let mut lines = manifest.lines();
    let header: Vec<&str> = lines.next().expect("header").split('\t').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .unwrap_or_else(|| panic!("MANIFEST.tsv has no column {name}"))
    };
    let (file, repo, commit, path, sha, bytes, licence) = (
        col("file"),
        col("repo"),
        col("commit"),
        col("path"),
        col("sha256"),
        col("bytes"),
        col("licence"),
    );
    let mut listed = Vec::new();
    for line in lines {
        let f: Vec<&str> = line.split('\t').collect();
        assert_eq!(f.len(), header.len(), "{line}");
        let name = f[file];
        for c in [repo, commit, path, licence] {
            assert!(!f[c].is_empty(), "{name}: empty {}", header[c]);
        }
        let data = std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(data.len().to_string(), f[bytes], "{name}: size");
        let digest: String = Sha256::digest(&data)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(digest, f[sha], "{name}: sha256");
        listed.push(name.to_string());
    }
    // And every capture in the directory is listed, and every oracle log
    // (Zeek's http.log baselines kept beside their captures).
    for e in std::fs::read_dir(&dir).unwrap().flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        if n.ends_with(".pcap") || n.ends_with(".pcapng") || n.ends_with(".log") {
            assert!(listed.contains(&n), "{n} is not in MANIFEST.tsv");
        }
    }
    assert_eq!(listed.len(), 37);
}
