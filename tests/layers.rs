//! The daemon keeps its layers: scripts/check-layers.py (whose top declares
//! them) finds no import that goes up or sideways and no import cycle in
//! daemon/src. Plus the checker's own self-test, and the rule by which tests
//! that cannot run here skip or fail (tests/common/prereq.rs), tested here
//! only: a test in a shared helper module would run in every test binary.

// A test crate: a failed unwrap is the test failing (clippy.toml allows it in
// #[test] functions; this covers the shared helpers too).
#![allow(clippy::unwrap_used)]

#[path = "common/prereq.rs"]
mod prereq;

use std::process::{Command, Output};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/check-layers.py");

/// The script's output, or `None` where python3 is missing (skipped, or a
/// failure under CI).
fn check_layers(args: &[&str]) -> Option<Output> {
    if prereq::which("python3").is_none() {
        prereq::skip("python3", "the layer check is a Python script (apt-get install python3)");
        return None;
    }
    Some(Command::new("python3").arg(SCRIPT).args(args).output().expect("run python3"))
}

fn assert_success(what: &str, out: &Output) {
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_layer_checker_passes_its_self_test() {
    let Some(out) = check_layers(&["--self-test"]) else { return };
    assert_success("python3 scripts/check-layers.py --self-test", &out);
}

#[test]
fn daemon_src_keeps_its_layers() {
    let Some(out) = check_layers(&[]) else { return };
    assert_success("python3 scripts/check-layers.py", &out);
}

#[test]
fn a_missing_prerequisite_skips_here_and_fails_under_ci() {
    use prereq::{verdict, Verdict::*};
    for ci in [None, Some(""), Some("  "), Some("0"), Some("false"), Some("FALSE"), Some(" False ")] {
        assert_eq!(verdict(ci, false), Skip, "CI={ci:?}");
        assert_eq!(verdict(ci, true), Run, "CI={ci:?}");
    }
    for ci in [Some("true"), Some("1"), Some("yes"), Some("woodpecker")] {
        assert_eq!(verdict(ci, false), Fail, "CI={ci:?}");
        assert_eq!(verdict(ci, true), Run, "CI={ci:?}");
    }
}
