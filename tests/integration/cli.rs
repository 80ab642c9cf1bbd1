//! The command line itself: help, exit-code documentation, the man page.

use crate::util::{root, sockscope};

#[test]
fn man_page_is_generated_from_the_cli() {
    let run = sockscope(&["generate", "man"]);
    assert_eq!(run.status, 0);
    let committed =
        std::fs::read_to_string(root().join("man/sockscope.1")).expect("man/sockscope.1");
    assert!(
        committed == run.stdout,
        "man/sockscope.1 is out of date: run `cargo run -- generate man > man/sockscope.1`"
    );
    // roff escapes hyphens.
    for word in [
        "replay",
        "capture",
        "ls",
        "check",
        "EXIT STATUS",
        "\\-\\-max\\-flows",
    ] {
        assert!(run.stdout.contains(word), "man page lacks {word}");
    }
}

#[test]
fn help_documents_the_exit_codes() {
    let run = sockscope(&["--help"]);
    assert_eq!(run.status, 0);
    assert!(run.stdout.contains("Exit status:"));
    assert!(run.stdout.contains("2  usage error"));
    let run = sockscope(&["replay", "--help"]);
    assert!(run.stdout.contains("--format"));
    assert!(run.stdout.contains("BPF filter"));
}

#[test]
fn completions_are_generated() {
    let run = sockscope(&["generate", "completions", "bash"]);
    assert_eq!(run.status, 0);
    assert!(run.stdout.contains("sockscope"));
}

#[test]
fn usage_errors_exit_2() {
    let run = sockscope(&["replay"]);
    assert_eq!(run.status, 2);
    let run = sockscope(&["replay", "captures/refused.pcap", "--format", "xml"]);
    assert_eq!(run.status, 2);
}
