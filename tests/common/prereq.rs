//! Tests that need root, a program or a service this machine lacks. On a
//! developer's machine they are skipped, loudly; where `CI` is set they fail,
//! so that a green CI run means that every test ran.
//!
//! Use: `if which("tmux").is_none() { return skip("tmux", "it drives the terminal"); }`
//! (or `skip(..); return None;` in a helper that returns an `Option`).
#![allow(dead_code)]

use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Run,
    Skip,
    Fail,
}

/// Whether `CI` (its value, `None` when unset) asks for every test to run.
/// CI services set it to `true` or `1`; `CI=false` and `CI=0` are how one
/// says no without unsetting it.
pub fn is_ci(ci: Option<&str>) -> bool {
    match ci.map(str::trim) {
        None | Some("") => false,
        Some(v) => v != "0" && !v.eq_ignore_ascii_case("false"),
    }
}

/// What a test does about a prerequisite that is `available` or not.
pub fn verdict(ci: Option<&str>, available: bool) -> Verdict {
    if available {
        Verdict::Run
    } else if is_ci(ci) {
        Verdict::Fail
    } else {
        Verdict::Skip
    }
}

/// The running test cannot go on for want of `needs` (`why` says what it is
/// for and how to get it): panics under CI, else says so and returns, and
/// the caller returns too.
pub fn skip(needs: &str, why: &str) {
    let ci = std::env::var_os("CI").map(|v| v.to_string_lossy().into_owned());
    let test = test_name();
    match verdict(ci.as_deref(), false) {
        Verdict::Fail => panic!("CI requires {needs}: {test} cannot run without it: {why} (CI={:?})", ci.unwrap_or_default()),
        _ => {
            // Not eprintln!: libtest captures that for a passing test, and a
            // skip that nobody sees is a silent one.
            let _ = writeln!(std::io::stderr(), "\n!!!!! SKIPPED {test}: needs {needs}: {why}");
        }
    }
}

/// libtest runs each test on a thread named after it.
fn test_name() -> String {
    match std::thread::current().name() {
        Some(name) if name != "main" => name.to_string(),
        _ => "this test".to_string(),
    }
}

/// Where `program` is on PATH, if it is there and executable.
pub fn which(program: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let runnable = |p: &PathBuf| p.metadata().map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0).unwrap_or(false);
    std::env::split_paths(&std::env::var_os("PATH")?).map(|d| d.join(program)).find(runnable)
}
