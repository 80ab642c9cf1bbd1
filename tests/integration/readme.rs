//! Every example in the README that runs on the bundled captures is run,
//! and its output compared with what the README shows: a README that no
//! longer tells the truth fails the tests.
//!
//! In a code block, a line `$ COMMAND` (continued by a trailing `\`) is run
//! with `sh -c` in a scratch directory that sees the repository's
//! `captures/` (so `> file.jsonl` writes nowhere in the repository), with
//! `sockscope` on the PATH; the lines after it, up to the next `$ `, are
//! its expected output (stdout and stderr together). A line `…` stands for
//! any number of lines; a line ending in `…` or `…}` matches any line that
//! starts with the text before it. Commands that need root, a live
//! interface, namespaces or files the README does not make (`sudo`,
//! `capture`, `ls`, `cargo`, `scripts/`) are not run; a block preceded by
//! `<!-- not run: REASON -->` is not run either.

use std::path::Path;
use std::process::Command;

use crate::util::root;

struct Example {
    line: usize,
    command: String,
    expected: Vec<String>,
}

fn examples(readme: &str) -> Vec<Example> {
    let mut out = Vec::new();
    let mut in_block = false;
    let mut skip_block = false;
    let mut pending_skip = false;
    let mut current: Option<Example> = None;
    let mut continued = false;
    for (n, line) in readme.lines().enumerate() {
        if line.starts_with("```") {
            if in_block {
                out.extend(current.take());
                in_block = false;
            } else {
                in_block = true;
                skip_block = pending_skip;
                pending_skip = false;
            }
            continue;
        }
        if !in_block {
            if line.trim_start().starts_with("<!-- not run:") {
                pending_skip = true;
            } else if !line.trim().is_empty() {
                pending_skip = false;
            }
            continue;
        }
        if skip_block {
            continue;
        }
        if continued {
            let cur = current.as_mut().expect("a command being continued");
            continued = line.ends_with('\\');
            cur.command.push(' ');
            cur.command.push_str(line.trim_end_matches('\\').trim());
            continue;
        }
        if let Some(cmd) = line.strip_prefix("$ ") {
            out.extend(current.take());
            continued = cmd.ends_with('\\');
            current = Some(Example {
                line: n + 1,
                command: cmd.trim_end_matches('\\').trim().to_string(),
                expected: Vec::new(),
            });
        } else if let Some(cur) = current.as_mut() {
            cur.expected.push(line.to_string());
        }
    }
    out
}

fn runnable(cmd: &str) -> bool {
    let first_words: Vec<&str> = cmd.split_whitespace().take(2).collect();
    let runs_sockscope = matches!(
        first_words.first(),
        Some(&("sockscope" | "echo" | "cat" | "sed"))
    );
    let excluded = ["sudo", "cargo", "scripts/"]
        .iter()
        .any(|w| cmd.contains(w))
        || matches!(first_words.as_slice(), ["sockscope", "capture" | "ls"]);
    runs_sockscope && !excluded
}

/// Expected lines against actual ones, with `…` wildcards.
fn matches(expected: &[String], actual: &[&str]) -> bool {
    let Some((first, rest)) = expected.split_first() else {
        return actual.is_empty();
    };
    let first = first.trim_end();
    if first == "…" {
        return (0..=actual.len()).any(|k| matches(rest, &actual[k..]));
    }
    let Some((a, more)) = actual.split_first() else {
        return false;
    };
    let a = a.trim_end();
    let same = if let Some(prefix) = first.strip_suffix("…}").or(first.strip_suffix('…')) {
        // A cut line: what is shown must be the start of the real one
        // (a preview that ends in … is shown whole, so compare it whole
        // first).
        a == first || a.starts_with(prefix)
    } else {
        a == first
    };
    same && matches(rest, more)
}

#[test]
fn every_readme_example_still_reproduces() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let scratch = std::env::temp_dir().join(format!("sockscope-readme-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    let link = scratch.join("captures");
    if !link.exists() {
        std::os::unix::fs::symlink(root().join("captures"), &link).unwrap();
    }
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_sockscope"))
        .parent()
        .unwrap()
        .to_path_buf();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut last_status = 0;
    let mut ran = 0;
    let mut failures = Vec::new();
    for ex in examples(&readme) {
        if !runnable(&ex.command) {
            continue;
        }
        let (text, status) = if ex.command == "echo $?" {
            (format!("{last_status}\n"), 0)
        } else {
            let out = Command::new("sh")
                .args(["-c", &format!("( {}\n) 2>&1", ex.command)])
                .current_dir(&scratch)
                .env_clear()
                .env("PATH", &path)
                .env("TZ", "UTC")
                .output()
                .unwrap();
            (
                String::from_utf8_lossy(&out.stdout).into_owned(),
                out.status.code().unwrap_or(-1),
            )
        };
        last_status = status;
        ran += 1;
        let actual: Vec<&str> = text.lines().collect();
        // Blocks keep a blank line or two at their end for layout.
        let mut expected = ex.expected.clone();
        while expected.last().is_some_and(|l| l.trim().is_empty()) {
            expected.pop();
        }
        let mut actual = actual;
        while actual.last().is_some_and(|l| l.trim().is_empty()) {
            actual.pop();
        }
        if !matches(&expected, &actual) {
            failures.push(format!(
                "README.md:{}: $ {}\n--- the README shows:\n{}\n--- it prints:\n{}",
                ex.line,
                ex.command,
                expected.join("\n"),
                actual.join("\n")
            ));
        }
    }
    let _ = std::fs::remove_dir_all(&scratch);
    assert!(ran >= 10, "only {ran} README examples were run");
    assert!(
        failures.is_empty(),
        "{} of {ran} README examples differ:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn the_wildcards_match_what_they_should() {
    let e = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert!(matches(&e(&["a", "…", "d"]), &["a", "b", "c", "d"]));
    assert!(matches(&e(&["a", "…"]), &["a"]));
    assert!(!matches(&e(&["a", "…", "e"]), &["a", "b", "c", "d"]));
    assert!(matches(&e(&[r#"{"x":1,…}"#]), &[r#"{"x":1,"y":2}"#]));
    assert!(!matches(&e(&["a"]), &["a", "b"]));
    assert!(runnable("sockscope replay captures/x.pcap | head"));
    assert!(!runnable("sudo sockscope capture -i lo"));
    assert!(!runnable("sockscope ls -t"));
}
